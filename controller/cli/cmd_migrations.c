/*  cmd_migrations.c — `streamfleet migrations [NAME] [--node ID] [--kind K]
    [--since D | --start T --end T] [--after CURSOR]`: a page of the
    placement history every controller shares, newest first: transfers
    started, migrations with their durations, failovers, stuck transfers,
    returns and conflicts (docs/migrations.md). -o json prints the
    controller's reply as it is, with a count of each kind over the selection
    and the cursor of the next page.
*/
#include "sf_cli.h"
#include "sf_fleet.h"
#include "sf_mpjson.h"
#include <czmq.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: streamfleet migrations [NAME] [--node ID] [--kind KIND[,KIND...]]\n"
        "                              [--since DURATION] [--start TIME] [--end TIME]\n"
        "                              [--limit N] [--after CURSOR] [-o table|wide|json]\n"
        "\n"
        "Lists stream placement events newest first, from the history every\n"
        "controller shares: transfer_started (the stream runs on two nodes),\n"
        "migrated (the old node stopped it; with the transfer's duration), failover\n"
        "(its node went down and another took it over), transfer_stuck (not complete\n"
        "within the controller's --transfer-timeout), returned (back on a node it had\n"
        "left), conflict (live on two nodes, not a transfer). NAME is a stream name\n"
        "or uid; --node keeps the events from or to that node; --kind one kind or\n"
        "several. DURATION is a number with s, m, h or d (plain numbers are\n"
        "seconds): the last DURATION. TIME is unix seconds, ISO-8601 UTC\n"
        "(2026-11-24T03:10:00Z) or relative to now (-10m, -2h): events at or after\n"
        "--start and before --end. A page ends with the cursor of the next one:\n"
        "pass it to --after (pages stay put while new events arrive).\n");
}

//  "90", "90s", "10m", "1h", "2d" -> seconds; -1 if not a duration
static int64_t
s_parse_duration (const char *text)
{
    char *end;
    long long v = strtoll (text, &end, 10);
    if (end == text || v < 0)
        return -1;
    if (*end == 0 || !strcmp (end, "s")) return v;
    if (!strcmp (end, "m")) return v * 60;
    if (!strcmp (end, "h")) return v * 3600;
    if (!strcmp (end, "d")) return v * 86400;
    return -1;
}

//  The selection and page the command line asks for
typedef struct {
    char name [SF_NAME_MAX + 1];
    const char *node, *kind, *after;
    int64_t since, start, end, now;
    long limit;
    bool start_given;
} s_opts_t;

//  Parses argv into o: 0, or an exit code (SF_EXIT_USAGE; -1 after --help)
static int
s_parse (int argc, char **argv, s_opts_t *o)
{
    static const struct option opts [] = {
        { "since", required_argument, 0, 's' }, { "limit", required_argument, 0, 'l' },
        { "node", required_argument, 0, 'n' }, { "kind", required_argument, 0, 'k' },
        { "start", required_argument, 0, 'S' }, { "end", required_argument, 0, 'E' },
        { "after", required_argument, 0, 'a' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    memset (o, 0, sizeof (*o));
    o->node = o->kind = o->after = "";
    o->now = (int64_t) time (NULL);
    o->limit = 1000;
    char *name = o->name;
    const char *node = "", *kind = "", *after = "";
    int64_t since = 0, start = 0, end = 0, now = o->now;
    long limit = 1000;
    optind = 1;
    int c;
    while ((c = getopt_long (argc, argv, "s:l:n:k:S:E:a:h", opts, NULL)) != -1) {
        switch (c) {
            case 's':
                since = s_parse_duration (optarg);
                if (since < 0) {
                    fprintf (stderr, "streamfleet: --since takes a duration like 90s, 10m, 1h or 2d, "
                             "not '%s'\n", optarg);
                    return SF_EXIT_USAGE;
                }
                break;
            case 'S':
            case 'E':
                if (sf_parse_time (optarg, now, c == 'S' ? &start : &end)) {
                    fprintf (stderr, "streamfleet: --%s takes unix seconds, ISO-8601 UTC "
                             "(2026-11-24T03:10:00Z) or a time before now (-10m), not '%s'\n",
                             c == 'S' ? "start" : "end", optarg);
                    return SF_EXIT_USAGE;
                }
                break;
            case 'l': {
                char *tail;
                limit = strtol (optarg, &tail, 10);
                if (*tail || limit < 0) {
                    fprintf (stderr, "streamfleet: --limit needs a whole number\n");
                    return SF_EXIT_USAGE;
                }
                break;
            }
            case 'n': node = optarg; break;
            case 'k': kind = optarg; break;
            case 'a': after = optarg; break;
            case 'h': s_usage (stdout); return -1;
            default: s_usage (stderr); return SF_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        if (strlen (argv [optind]) > SF_NAME_MAX) {
            fprintf (stderr, "streamfleet: a stream name has at most %d bytes\n", SF_NAME_MAX);
            return SF_EXIT_USAGE;
        }
        snprintf (name, SF_NAME_MAX + 1, "%s", argv [optind++]);
    }
    if (optind < argc) {
        fprintf (stderr, "streamfleet: unexpected argument '%s'\n", argv [optind]);
        return SF_EXIT_USAGE;
    }
    o->node = node;
    o->kind = kind;
    o->after = after;
    o->since = since;
    o->start = start;
    o->end = end;
    o->limit = limit;
    o->start_given = start || since;
    return 0;
}

//  The `migrations` request for o's selection, a page of limit after cursor
static void
s_request (const s_opts_t *o, const char *after, uint64_t limit, msgpack_sbuffer *req)
{
    msgpack_sbuffer_init (req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, req, msgpack_sbuffer_write);
    //  Only what was asked for: an empty text is no filter
    sf_msg_begin (&pk, "migrations", 3 + !!o->node [0] + !!o->kind [0] + !!after [0] + !!o->start + !!o->end);
    sf_pack_kstr (&pk, "stream", o->name);
    sf_pack_ku64 (&pk, "since_s", (uint64_t) o->since);
    sf_pack_ku64 (&pk, "limit", limit);
    if (o->node [0])
        sf_pack_kstr (&pk, "node", o->node);
    if (o->kind [0])
        sf_pack_kstr (&pk, "kind", o->kind);
    if (after [0])
        sf_pack_kstr (&pk, "after", after);
    if (o->start)
        sf_pack_ku64 (&pk, "start", (uint64_t) o->start);
    if (o->end)
        sf_pack_ku64 (&pk, "end", (uint64_t) o->end);
}

int
sf_cmd_migrations (sf_cli_t *cli, int argc, char **argv)
{
    s_opts_t o;
    int prc = s_parse (argc, argv, &o);
    if (prc)
        return prc < 0 ? 0 : prc;
    const char *name = o.name, *node = o.node, *after = o.after;
    msgpack_sbuffer req;
    s_request (&o, after, (uint64_t) o.limit, &req);
    sf_msg_t reply;
    bool finished;
    uint64_t total = 0;
    int rc = sf_cli_ask (cli, &req, &reply, &finished);
    if (!rc)
        sf_map_u64 (reply.body, "total", &total, NULL);
    if (finished)
        goto done;
    sf_map_u64 (reply.body, "total", &total, NULL);
    const msgpack_object *evs = sf_map_get (reply.body, "events");
    uint32_t n = evs && evs->type == MSGPACK_OBJECT_ARRAY ? evs->via.array.size : 0;
    bool wide = cli->output == SF_OUT_WIDE;
    printf ("%-27s %-16s %-24s %-29s %9s%s\n", "TIME", "KIND", "STREAM", "FROM -> TO",
            "DURATION", wide ? "  REASON" : "");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *e = &evs->via.array.ptr [i];
        char kind [32] = "", stream [SF_NAME_MAX + 1] = "", from [SF_NODE_MAX + 1] = "";
        char to [SF_NODE_MAX + 1] = "", reason [128] = "", when [48], dur [32], move [160];
        int64_t at_ms = 0, dur_ms = 0;
        sf_map_str (e, "kind", kind, sizeof (kind) - 1, NULL);
        sf_map_str (e, "stream", stream, SF_NAME_MAX, NULL);
        sf_map_str (e, "from", from, SF_NODE_MAX, NULL);
        sf_map_str (e, "to", to, SF_NODE_MAX, NULL);
        sf_map_str (e, "reason", reason, sizeof (reason) - 1, NULL);
        sf_map_i64 (e, "at_ms", &at_ms, NULL);
        sf_map_i64 (e, "duration_ms", &dur_ms, NULL);
        sf_fmt_time_ms (at_ms, when, sizeof (when));
        snprintf (move, sizeof (move), "%s -> %s", from, to);
        bool timed = !strcmp (kind, "migrated") || !strcmp (kind, "returned")
                  || !strcmp (kind, "transfer_stuck");
        if (timed && dur_ms < 60000)
            snprintf (dur, sizeof (dur), "%.1fs", dur_ms / 1000.0);
        else if (timed)
            sf_fmt_duration (dur_ms / 1000, dur, sizeof (dur));
        else
            snprintf (dur, sizeof (dur), "-");
        printf ("%-27s %-16s %-24s %-29s %9s%s%s\n", when, kind, stream, move, dur,
                wide ? "  " : "", wide ? reason : "");
    }
    char next [SF_FLEET_CURSOR_MAX] = "";
    sf_map_str (reply.body, "next_after", next, sizeof (next) - 1, NULL);
    printf ("%u of %llu event%s%s", n, (unsigned long long) total, total == 1 ? "" : "s",
            after [0] ? " after the cursor" : "");
    if (next [0])
        printf ("; the next page: --after %s", next);
    printf ("\n");
done:
    //  A stream or node that does not exist is not one without moves
    if (!rc && name [0] && !total) {
        int known = sf_cli_known (cli, "stream", name);
        rc = known == 1 ? 0 : known == 0 ? SF_EXIT_ANSWER : known;
    }
    if (!rc && node [0] && !total) {
        int known = sf_cli_known (cli, "node", node);
        rc = known == 1 ? 0 : known == 0 ? SF_EXIT_ANSWER : known;
    }
    sf_msg_release (&reply);
    return rc;
}

//  ---------------------------------------------------------------------------
//  watch migrations -o json (docs/cli.md "watch"): polls the selection's
//  history_gen and total from a fixed start and, when either moved, walks
//  every page through the keyset cursor, and prints each event
//  it has not printed before, oldest first, as the item `migrations -o json`
//  lists (the same converter over the same reply), one a line; an event
//  whose item changes later (a transfer_stuck's reason when its transfer
//  ends) is printed again as it is then. The start is
//  the one asked for (--start, --since: that backlog is printed first), else
//  S_WATCH_MARGIN_S before now, whose events are taken as seen: an event
//  stamped a little before it is derived (a start's whole second, a stop an
//  agent reported late) is still new to the watch. An event older than the
//  start that arrives later (a peer's, after a partition) is not printed.

#define S_WATCH_MARGIN_S 600
#define S_WATCH_POLL_MS 500
#define S_WATCH_PAGE 1000

//  An event's identity as text (at_ms, kind, uid, from, to)
static void
s_identity (const msgpack_object *e, char *out, size_t size)
{
    char kind [32] = "", uid [SF_NAME_MAX + 1] = "", from [SF_NODE_MAX + 1] = "", to [SF_NODE_MAX + 1] = "";
    int64_t at_ms = 0;
    sf_map_str (e, "kind", kind, sizeof (kind) - 1, NULL);
    sf_map_str (e, "uid", uid, SF_NAME_MAX, NULL);
    sf_map_str (e, "from", from, SF_NODE_MAX, NULL);
    sf_map_str (e, "to", to, SF_NODE_MAX, NULL);
    sf_map_i64 (e, "at_ms", &at_ms, NULL);
    snprintf (out, size, "%lld %s %s %s %s", (long long) at_ms, kind, uid, from, to);
}

static void
s_line_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  The selection's history_gen and its counts per kind folded into *total
//  (a page of none): 0 or an exit code
static int
s_watch_probe (sf_cli_t *cli, const s_opts_t *o, uint64_t *gen, uint64_t *total)
{
    msgpack_sbuffer req;
    s_request (o, "", 0, &req);
    sf_msg_t reply;
    sf_msg_init (&reply);
    int rc = sf_cli_request (cli, &req, &reply);
    msgpack_sbuffer_destroy (&req);
    if (!rc)
        rc = sf_cli_check_error (&reply);
    *gen = *total = 0;
    if (!rc) {
        sf_map_u64 (reply.body, "history_gen", gen, NULL);
        //  The counts per kind, as one number (an event leaving the window
        //  as another turns stuck leaves the total as it was, not these)
        const msgpack_object *counts = sf_map_get (reply.body, "counts");
        for (uint32_t i = 0; counts && counts->type == MSGPACK_OBJECT_MAP && i < counts->via.map.size; i++)
            if (counts->via.map.ptr [i].val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                *total = *total * 1000003u + counts->via.map.ptr [i].val.via.u64 + 1;
    }
    sf_msg_release (&reply);
    return rc;
}

//  One pass over every page of the selection: the lines of events not in
//  seen, or other than seen has them (seen takes them), newest first, into
//  lines. 0 or an exit code.
static int
s_watch_pass (sf_cli_t *cli, const s_opts_t *o, zhashx_t *seen, zlistx_t *lines)
{
    char after [SF_FLEET_CURSOR_MAX] = "";
    while (true) {
        msgpack_sbuffer req;
        s_request (o, after, S_WATCH_PAGE, &req);
        sf_msg_t reply;
        sf_msg_init (&reply);
        int rc = sf_cli_request (cli, &req, &reply);
        msgpack_sbuffer_destroy (&req);
        if (!rc)
            rc = sf_cli_check_error (&reply);
        if (rc) {
            sf_msg_release (&reply);
            return rc;
        }
        const msgpack_object *evs = sf_map_get (reply.body, "events");
        uint32_t n = evs && evs->type == MSGPACK_OBJECT_ARRAY ? evs->via.array.size : 0;
        for (uint32_t i = 0; i < n; i++) {
            const msgpack_object *e = &evs->via.array.ptr [i];
            char id [SF_FLEET_CURSOR_MAX + 64];
            s_identity (e, id, sizeof (id));
            char *line = sf_mpjson_dumps (e, false, NULL);
            if (!line)
                continue;
            //  New, or changed since printed (a transfer_stuck's reason
            //  when its transfer ends): printed
            const char *was = zhashx_lookup (seen, id);
            if (was && !strcmp (was, line)) {
                free (line);
                continue;
            }
            zhashx_update (seen, id, strdup (line));
            zlistx_add_end (lines, line);
        }
        after [0] = 0;
        sf_map_str (reply.body, "next_after", after, sizeof (after) - 1, NULL);
        sf_msg_release (&reply);
        if (!n || !after [0])
            return 0;
    }
}

int
sf_cmd_migrations_watch (sf_cli_t *cli, int argc, char **argv, volatile int *stop)
{
    s_opts_t o;
    int prc = s_parse (argc, argv, &o);
    if (prc)
        return prc < 0 ? 0 : prc;
    if (o.after [0]) {
        fprintf (stderr, "streamfleet: watch migrations starts at --start or --since, not --after\n");
        return SF_EXIT_USAGE;
    }
    //  A fixed start: the controller's since_s would move with its clock
    bool backlog = o.start_given;
    if (o.since) {
        int64_t since_start = o.now - o.since;
        if (since_start > o.start)
            o.start = since_start;
        o.since = 0;
    }
    if (!o.start)
        o.start = o.now - S_WATCH_MARGIN_S;
    zhashx_t *seen = zhashx_new ();
    zhashx_set_destructor (seen, s_line_free);
    zlistx_t *lines = zlistx_new ();
    zlistx_set_destructor (lines, s_line_free);
    bool first = true;
    uint64_t last_gen = 0, last_total = 0;
    while (!*stop) {
        //  The pages only when the history (or the selection's counts: the
        //  window, a transfer turning stuck) moved
        uint64_t gen, total;
        int rc = s_watch_probe (cli, &o, &gen, &total);
        if (!rc && !first && gen && gen == last_gen && total == last_total) {
            zclock_sleep (S_WATCH_POLL_MS);
            continue;
        }
        if (!rc)
            rc = s_watch_pass (cli, &o, seen, lines);
        if (!rc) {
            last_gen = gen;
            last_total = total;
        }
        if (rc) {
            zlistx_purge (lines);
            if (*stop)
                break;
            //  A controller that went away may come back: keep watching
            fprintf (stderr, "streamfleet: watch: trying again in 1 s\n");
            zclock_sleep (1000);
            continue;
        }
        //  Oldest first; what was there at a start not asked for is seen
        if (!first || backlog)
            for (char *line = zlistx_last (lines); line; line = zlistx_prev (lines))
                printf ("%s\n", line);
        fflush (stdout);
        zlistx_purge (lines);
        first = false;
        if (!*stop)
            zclock_sleep (S_WATCH_POLL_MS);
    }
    zlistx_destroy (&lines);
    zhashx_destroy (&seen);
    return 0;
}

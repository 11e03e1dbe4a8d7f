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

int
sf_cmd_migrations (sf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts [] = {
        { "since", required_argument, 0, 's' }, { "limit", required_argument, 0, 'l' },
        { "node", required_argument, 0, 'n' }, { "kind", required_argument, 0, 'k' },
        { "start", required_argument, 0, 'S' }, { "end", required_argument, 0, 'E' },
        { "after", required_argument, 0, 'a' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    char name [SF_NAME_MAX + 1] = "";
    const char *node = "", *kind = "", *after = "";
    int64_t since = 0, start = 0, end = 0, now = (int64_t) time (NULL);
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
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return SF_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        if (strlen (argv [optind]) > SF_NAME_MAX) {
            fprintf (stderr, "streamfleet: a stream name has at most %d bytes\n", SF_NAME_MAX);
            return SF_EXIT_USAGE;
        }
        snprintf (name, sizeof (name), "%s", argv [optind++]);
    }
    if (optind < argc) {
        fprintf (stderr, "streamfleet: unexpected argument '%s'\n", argv [optind]);
        return SF_EXIT_USAGE;
    }
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    //  Only what was asked for: an empty text is no filter
    sf_msg_begin (&pk, "migrations", 3 + !!node [0] + !!kind [0] + !!after [0] + !!start + !!end);
    sf_pack_kstr (&pk, "stream", name);
    sf_pack_ku64 (&pk, "since_s", (uint64_t) since);
    sf_pack_ku64 (&pk, "limit", (uint64_t) limit);
    if (node [0])
        sf_pack_kstr (&pk, "node", node);
    if (kind [0])
        sf_pack_kstr (&pk, "kind", kind);
    if (after [0])
        sf_pack_kstr (&pk, "after", after);
    if (start)
        sf_pack_ku64 (&pk, "start", (uint64_t) start);
    if (end)
        sf_pack_ku64 (&pk, "end", (uint64_t) end);
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

/*  cmd_alerts.c — `streamfleet alerts`: the controller's alert rules, what
    fires now, and the recent transitions (of one stream with --stream).
    The `alerts` request's reply, the same message GET /api/v1/alerts
    renders (-o json prints it as it is). `alerts dead-letters` lists the
    deliveries given up after every retry (the `dead_letters` request, GET
    /api/v1/alerts/dead-letters) and `alerts replay` sends them again (the
    `replay` request, POST /api/v1/alerts/replay).
*/
#include "sf_cli.h"
#include <stdlib.h>
#include <string.h>

static void
s_usage (void)
{
    printf ("usage: streamfleet alerts [rules|firing|recent] [--stream NAME] [--node ID] [-o table|json]\n"
            "       streamfleet alerts dead-letters [--webhook NAME] [-o table|json]\n"
            "       streamfleet alerts replay KEY|--all\n\n"
            "Shows the controller's alert rules (from its `alert` options), the alerts firing\n"
            "now (a firing alert whose condition cleared shows as resolving until its resolve\n"
            "hold passes) and the recent transitions, newest first. Without a section, all\n"
            "three. --stream and --node keep the recent transitions of one stream or node.\n"
            "A node alert (node-down, disk, or a stream rule grouped for a down node) shows\n"
            "its affected stream count. Rules: docs/operations.md, Alerts.\n\n"
            "dead-letters lists the deliveries a webhook never answered 2xx for after\n"
            "--webhook-retries attempts, oldest first; replay KEY (an idempotency key or an\n"
            "alert key) or --all queues them again, their attempts counted from 0, and the\n"
            "controller asked delivers them, whichever owns the alert. In a cluster, a\n"
            "delivery the alert's owner gave up on is a dead letter on every controller\n"
            "(docs/http-api.md, Dead letters in a cluster). Exit 1 when replay names no\n"
            "dead letter (not_found).\n");
}

//  One request of type with its fields (a string, or true; neither: left
//  out), and what prints its reply's body (not called with -o json, where
//  sf_cli_ask prints the reply itself)
typedef struct {
    const char *key;
    const char *str;
    bool yes;
} s_field_t;

typedef void (s_print_fn) (const sf_cli_t *cli, const msgpack_object *body, const void *arg);

static int
s_ask (sf_cli_t *cli, const char *type, const s_field_t *fields, size_t nfields, s_print_fn *print,
       const void *arg)
{
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    size_t n = 0;
    for (size_t i = 0; i < nfields; i++)
        n += fields [i].str || fields [i].yes;
    sf_msg_begin (&pk, type, n);
    for (size_t i = 0; i < nfields; i++)
        if (fields [i].str)
            sf_pack_kstr (&pk, fields [i].key, fields [i].str);
        else if (fields [i].yes)
            sf_pack_kbool (&pk, fields [i].key, true);
    sf_msg_t reply;
    bool finished = true;
    int rc = sf_cli_ask (cli, &req, &reply, &finished);
    if (!finished)
        print (cli, reply.body, arg);
    sf_msg_release (&reply);
    return rc;
}

static void
s_print_dead_letters (const sf_cli_t *cli, const msgpack_object *body, const void *arg)
{
    const msgpack_object *list = sf_map_get (body, "letters");
    uint32_t n = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
    printf ("%-12s %-32s %8s %-25s %s\n", "WEBHOOK", "IDEMPOTENCY KEY", "ATTEMPTS", "QUEUED", "ALERT");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *d = &list->via.array.ptr [i];
        char hook [80] = "", idem [40] = "", key [400] = "", t [48];
        uint64_t attempts = 0;
        int64_t queued = 0;
        sf_map_str (d, "webhook", hook, sizeof (hook) - 1, NULL);
        sf_map_str (d, "idempotency_key", idem, sizeof (idem) - 1, NULL);
        sf_map_str (d, "key", key, sizeof (key) - 1, NULL);
        sf_map_u64 (d, "attempts", &attempts, NULL);
        sf_map_i64 (d, "queued_ms", &queued, NULL);
        printf ("%-12s %-32s %8llu %-25s %s\n", hook, idem, (unsigned long long) attempts,
                sf_fmt_time_ms (queued, t, sizeof (t)), key);
    }
    if (n == 0)
        printf ("(none)\n");
}

static void
s_print_replayed (const sf_cli_t *cli, const msgpack_object *body, const void *arg)
{
    uint64_t n = 0;
    sf_map_u64 (body, "replayed", &n, NULL);
    printf ("%llu dead letter%s queued again\n", (unsigned long long) n, n == 1 ? "" : "s");
}

static void
s_rules (const msgpack_object *rules)
{
    uint32_t n = rules && rules->type == MSGPACK_OBJECT_ARRAY ? rules->via.array.size : 0;
    printf ("%-20s %-15s %8s %8s %7s  %s\n", "RULE", "CONDITION", "FOR", "RESOLVE", "FIRING", "SELECTOR");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *r = &rules->via.array.ptr [i];
        char name [80] = "", cond [32] = "", filter [80] = "", match [140] = "", node [80] = "",
             f [32], rs [32];
        int64_t for_ms = 0, resolve_ms = 0;
        uint64_t firing = 0;
        sf_map_str (r, "name", name, sizeof (name) - 1, NULL);
        sf_map_str (r, "condition", cond, sizeof (cond) - 1, NULL);
        sf_map_str (r, "filter", filter, sizeof (filter) - 1, NULL);
        sf_map_str (r, "name_match", match, sizeof (match) - 1, NULL);
        sf_map_str (r, "node", node, sizeof (node) - 1, NULL);
        sf_map_i64 (r, "for_ms", &for_ms, NULL);
        sf_map_i64 (r, "resolve_ms", &resolve_ms, NULL);
        sf_map_u64 (r, "firing", &firing, NULL);
        char sel [320];
        snprintf (sel, sizeof (sel), "%s%s%s%s%s%s%s%s", filter [0] ? "filter=" : "", filter,
                  filter [0] && match [0] ? " " : "", match [0] ? "name=" : "", match,
                  (filter [0] || match [0]) && node [0] ? " " : "", node [0] ? "node=" : "", node);
        printf ("%-20s %-15s %8s %8s %7llu  %s\n", name, cond, sf_fmt_duration (for_ms / 1000, f, sizeof (f)),
                sf_fmt_duration (resolve_ms / 1000, rs, sizeof (rs)), (unsigned long long) firing,
                sel [0] ? sel : "(every stream or node)");
    }
}

static void
s_alerts (const sf_cli_t *cli, const msgpack_object *list, bool recent)
{
    uint32_t n = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
    printf ("%-10s %-20s %-24s %-20s %-25s %s\n", "STATE", "RULE", "STREAM", "NODE",
            recent ? "AT" : "SINCE", "REASON");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *a = &list->via.array.ptr [i];
        char state [16] = "", rule [80] = "", stream [140] = "", node [80] = "", reason [200] = "", t [48];
        int64_t at = 0;
        uint64_t streams = 0;
        sf_map_str (a, "state", state, sizeof (state) - 1, NULL);
        sf_map_str (a, "rule", rule, sizeof (rule) - 1, NULL);
        sf_map_str (a, "stream", stream, sizeof (stream) - 1, NULL);
        sf_map_str (a, "node", node, sizeof (node) - 1, NULL);
        sf_map_str (a, "reason", reason, sizeof (reason) - 1, NULL);
        sf_map_i64 (a, recent ? "at_ms" : "since_ms", &at, NULL);
        sf_map_u64 (a, "streams", &streams, NULL);
        if (!stream [0])
            snprintf (stream, sizeof (stream), "(node: %llu streams)", (unsigned long long) streams);
        char padded [16];
        snprintf (padded, sizeof (padded), "%-10s", state);
        printf ("%s%s%s %-20s %-24s %-20s %-25s %s\n", sf_color (cli, !strcmp (state, "resolved") ? "active" : "error"),
                padded, sf_color_reset (cli), rule, stream, node, sf_fmt_time_ms (at, t, sizeof (t)), reason);
    }
    if (n == 0)
        printf ("(none)\n");
}

//  The alerts reply: every section, or the one named (arg)
static void
s_print_alerts (const sf_cli_t *cli, const msgpack_object *body, const void *arg)
{
    const char *section = arg;
    bool all = !section;
    if (all || !strcmp (section, "rules"))
        s_rules (sf_map_get (body, "rules"));
    if (all)
        printf ("\n");
    if (all || !strcmp (section, "firing"))
        s_alerts (cli, sf_map_get (body, "firing"), false);
    if (all)
        printf ("\nRecent:\n");
    if (all || !strcmp (section, "recent"))
        s_alerts (cli, sf_map_get (body, "recent"), true);
}

int
sf_cmd_alerts (sf_cli_t *cli, int argc, char **argv)
{
    const char *section = NULL, *stream = NULL, *node = NULL;
    if (argc >= 2 && (!strcmp (argv [1], "dead-letters") || !strcmp (argv [1], "replay"))) {
        bool replay = !strcmp (argv [1], "replay");
        const char *webhook = NULL, *key = NULL;
        bool all = false;
        for (int i = 2; i < argc; i++) {
            if (!strcmp (argv [i], "--help") || !strcmp (argv [i], "-h")) {
                s_usage ();
                return 0;
            }
            if (!replay && !strcmp (argv [i], "--webhook") && i + 1 < argc)
                webhook = argv [++i];
            else if (replay && !strcmp (argv [i], "--all") && !key)
                all = true;
            else if (replay && !key && !all && argv [i][0] != '-')
                key = argv [i];
            else {
                fprintf (stderr, "streamfleet: unexpected argument '%s' (see streamfleet alerts --help)\n", argv [i]);
                return SF_EXIT_USAGE;
            }
        }
        if (replay && !key && !all) {
            fprintf (stderr, "streamfleet: alerts replay needs a KEY (an idempotency key or alert key, from "
                     "streamfleet alerts dead-letters) or --all\n");
            return SF_EXIT_USAGE;
        }
        if (replay) {
            s_field_t fields [] = { { "key", key, false }, { "all", NULL, !key } };
            return s_ask (cli, "replay", fields, 2, s_print_replayed, NULL);
        }
        s_field_t fields [] = { { "webhook", webhook, false } };
        return s_ask (cli, "dead_letters", fields, 1, s_print_dead_letters, NULL);
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv [i], "--help") || !strcmp (argv [i], "-h")) {
            s_usage ();
            return 0;
        }
        if (!strcmp (argv [i], "--stream") && i + 1 < argc)
            stream = argv [++i];
        else if (!strcmp (argv [i], "--node") && i + 1 < argc)
            node = argv [++i];
        else if (!section && (!strcmp (argv [i], "rules") || !strcmp (argv [i], "firing")
                              || !strcmp (argv [i], "recent")))
            section = argv [i];
        else {
            fprintf (stderr, "streamfleet: unexpected argument '%s' (see streamfleet alerts --help)\n", argv [i]);
            return SF_EXIT_USAGE;
        }
    }
    s_field_t fields [] = { { "stream", stream, false }, { "node", node, false } };
    return s_ask (cli, "alerts", fields, 2, s_print_alerts, section);
}

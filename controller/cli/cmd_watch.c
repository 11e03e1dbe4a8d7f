/*  cmd_watch.c — `streamfleet watch [streams|nodes|migrations] [OPTIONS]`: a
    live view fed by the controller's change feed (the `changes` request,
    docs/protocol.md; controller/feed.c).

    The CLI holds a cursor into the feed and asks what changed after it,
    every half second while nothing does (the query endpoint serves every
    client from one thread and never holds an ask).
    On a terminal every change redraws the view in place (the same table the
    view's own command prints, with the same options); elsewhere each redraw
    is appended after a blank line. With -o json it prints one JSON object a
    line per change instead (docs/cli.md "watch"), and {"gap": true} when the
    feed moved on further than it keeps (a new controller, say), after which
    a consumer should list afresh. `watch migrations -o json` prints events
    instead, as `migrations -o json` lists them (sf_cmd_migrations_watch).
*/
#include "sf_cli.h"
#include "sf_alloc.h"
#include "sf_mpjson.h"
#include <czmq.h>
#include <jansson.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define S_WAIT_MS 2000          //  how long a controller may hold an ask (HTTP does; the
                                //  ZeroMQ endpoint answers at once)
#define S_POLL_MS 500           //  then how long to wait before asking again
#define S_MIN_REDRAW_MS 250     //  a burst of changes redraws at most this often

static volatile int s_stop = 0;

static void
s_on_signal (int sig)
{
    s_stop = 1;
}

//  One `changes` ask after cursor; on success the reply stays in *reply
static int
s_ask_changes (sf_cli_t *cli, const char *cursor, sf_msg_t *reply)
{
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "changes", 3);
    sf_pack_kstr (&pk, "after", cursor);
    sf_pack_ku64 (&pk, "max", 1000);
    sf_pack_ku64 (&pk, "wait_ms", S_WAIT_MS);
    //  The controller may hold the ask for S_WAIT_MS: allow for it
    int timeout = cli->timeout_ms;
    cli->timeout_ms += S_WAIT_MS;
    sf_msg_init (reply);
    int rc = sf_cli_request (cli, &req, reply);
    cli->timeout_ms = timeout;
    msgpack_sbuffer_destroy (&req);
    if (!rc && (rc = sf_cli_check_error (reply)))
        sf_msg_release (reply);
    return rc;
}

//  Whether a change belongs to the view (JSON lines)
static bool
s_in_view (const char *view, const msgpack_object *change)
{
    char op [16] = "";
    sf_map_str (change, "op", op, sizeof (op) - 1, NULL);
    if (!strcmp (view, "nodes"))
        return !strcmp (op, "node");
    return strcmp (op, "node") != 0;
}

int
sf_cmd_watch (sf_cli_t *cli, int argc, char **argv)
{
    if (argc > 1 && !strcmp (argv [1], "--help")) {
        printf ("usage: streamfleet watch [streams|nodes|migrations] [OPTIONS OF THAT VIEW]\n\n"
                "A live view: redraws the view whenever the controller commits a change\n"
                "(on a terminal in place; otherwise each redraw after a blank line). The\n"
                "view's options are those of its own command: watch streams --filter\n"
                "primary,active --node edge-1, watch migrations cam1, ... With -o json it\n"
                "prints one JSON object a line per change ({\"op\": \"put\"|\"delete\"|\"node\",\n"
                "\"node\", \"name\", ...}) and {\"gap\": true} when it fell behind the feed;\n"
                "watch migrations -o json prints each new event instead, one a line, as\n"
                "migrations -o json lists it (from --start or --since, else from now).\n"
                "Ctrl-C stops it (exit 0). See docs/cli.md.\n");
        return 0;
    }
    const char *view = "streams";
    int first = 1;
    if (argc > 1 && argv [1][0] != '-') {
        view = argv [1];
        first = 2;
    }
    sf_cmd_fn *draw = !strcmp (view, "streams") ? sf_cmd_streams
                    : !strcmp (view, "nodes") ? sf_cmd_nodes
                    : !strcmp (view, "migrations") ? sf_cmd_migrations : NULL;
    if (!draw) {
        fprintf (stderr, "streamfleet: watch shows streams, nodes or migrations, not '%s'\n", view);
        return SF_EXIT_USAGE;
    }
    //  The view's own command line: its name, then the options given
    char **vargv = sf_xcalloc ((size_t) argc + 1, sizeof (char *));
    int vargc = 0;
    vargv [vargc++] = (char *) view;
    for (int i = first; i < argc; i++)
        vargv [vargc++] = argv [i];
    bool json = cli->output == SF_OUT_JSON;
    bool tty = isatty (STDOUT_FILENO);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    //  Events, not changes: the migrations' own items (cmd_migrations.c)
    if (json && !strcmp (view, "migrations")) {
        int rc = sf_cmd_migrations_watch (cli, vargc, vargv, &s_stop);
        free (vargv);
        return rc;
    }
    char cursor [64] = "";
    bool drawn = false;
    int rc = 0;
    int64_t last_draw = 0;
    while (!s_stop) {
        sf_msg_t reply;
        rc = s_ask_changes (cli, cursor, &reply);
        if (rc) {
            if (s_stop)
                break;
            //  A controller that went away may come back: keep watching
            fprintf (stderr, "streamfleet: watch: trying again in 1 s\n");
            zclock_sleep (1000);
            continue;
        }
        bool gap = false;
        sf_map_bool (reply.body, "gap", &gap, NULL);
        const msgpack_object *changes = sf_map_get (reply.body, "changes");
        uint32_t n = changes && changes->type == MSGPACK_OBJECT_ARRAY ? changes->via.array.size : 0;
        bool started = cursor [0] != 0;
        sf_map_str (reply.body, "cursor", cursor, sizeof (cursor) - 1, NULL);
        if (json) {
            if (gap && started)
                printf ("{\"gap\": true}\n");
            for (uint32_t i = 0; i < n; i++)
                if (s_in_view (view, &changes->via.array.ptr [i])) {
                    json_t *j = sf_mpjson (&changes->via.array.ptr [i]);
                    char *line = j ? json_dumps (j, JSON_COMPACT) : NULL;
                    json_decref (j);
                    if (line) {
                        printf ("%s\n", line);
                        free (line);
                    }
                }
            fflush (stdout);
        }
        else
        if (!drawn || n || gap) {
            int64_t now = zclock_mono ();
            if (now - last_draw < S_MIN_REDRAW_MS)
                zclock_sleep ((int) (S_MIN_REDRAW_MS - (now - last_draw)));
            if (tty)
                fputs ("\033[H\033[2J", stdout);
            else
            if (drawn)
                putchar ('\n');
            char stamp [32];
            time_t t = time (NULL);
            strftime (stamp, sizeof (stamp), "%Y-%m-%d %H:%M:%S UTC", gmtime (&t));
            printf ("Every change: streamfleet watch %s   %s\n\n", view, stamp);
            int drc = draw (cli, vargc, vargv);
            fflush (stdout);
            if (drc == SF_EXIT_USAGE) {
                rc = drc;
                sf_msg_release (&reply);
                break;
            }
            drawn = true;
            last_draw = zclock_mono ();
        }
        sf_msg_release (&reply);
        if (!n && !s_stop)
            zclock_sleep (S_POLL_MS);
    }
    free (vargv);
    return rc == SF_EXIT_USAGE ? rc : 0;
}

/*  streamfleet — the control CLI. A table of subcommands, one file each
    (controller/cli/cmd_*.c); global options may stand anywhere.
*/
#include "sf_cli.h"
#include "sf_alloc.h"
#include "sf_config.h"
#include <czmq.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef struct {
    const char *name;
    sf_cmd_fn *fn;
    const char *help;
} s_cmd_t;

static const s_cmd_t s_cmds [] = {
    { "streams", sf_cmd_streams, "list streams fleet-wide (filter, sort) or show one: streams show NAME" },
    { "migrations", sf_cmd_migrations, "stream placement events: transfers, migrations, failovers (newest first)" },
    { "dvr", sf_cmd_dvr, "a stream's archive timeline over every node; --at TIME names the node" },
    { "nodes", sf_cmd_nodes, "list media servers with liveness, heartbeat age, limits and usage" },
    { "watch", sf_cmd_watch, "a live view of streams, nodes or migrations, redrawn on every change" },
    { "alerts", sf_cmd_alerts, "alert rules, what fires now and recent transitions (rules|firing|recent)" },
    { "cluster", sf_cmd_cluster, "list controllers: liveness, replication lag, state digest" },
    { "keygen", sf_cmd_keygen, "make a certificate for an agent, a CLI user, a peer or a controller" },
    { "complete", sf_cmd_complete, "stream or node names for shell completion: complete streams|nodes [PREFIX]" },
    { NULL, NULL, NULL }
};

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: streamfleet [GLOBAL OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
    for (const s_cmd_t *c = s_cmds; c->name; c++)
        fprintf (out, "  %-10s %s\n", c->name, c->help);
    fprintf (out,
        "\nGlobal options (anywhere on the line):\n"
        "  --controller ENDPOINT   a controller's query endpoint, repeatable; tried in order\n"
        "                          [STREAMFLEET_CONTROLLERS, comma-separated, or tcp://127.0.0.1:7601]\n"
        "  --cert PATH             your certificate [STREAMFLEET_CERT or ~/.streamfleet/cli]\n"
        "  --server-cert PATH      the controllers' public certificate\n"
        "                          [STREAMFLEET_SERVER_CERT or ~/.streamfleet/controller]\n"
        "  --timeout-ms N          per-controller answer timeout [3000]\n"
        "  -o, --output FORMAT     table, wide or json [table]\n"
        "  --no-color              never colour (colour is used only on a terminal)\n"
        "  --local                 times in the local zone (default: UTC); every time names its zone\n"
        "  --version               print the version and the protocol version\n"
        "\n'streamfleet COMMAND --help' describes a command. Exit codes: 0 success,\n"
        "1 the controller answered with an error, 2 usage, 3 no controller answered,\n"
        "4 certificate problem. See docs/cli.md.\n");
}

int
main (int argc, char **argv)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    sf_cli_t cli;
    memset (&cli, 0, sizeof (cli));
    cli.timeout_ms = 3000;
    const char *home = getenv ("HOME");
    const char *env;
    if ((env = getenv ("STREAMFLEET_CONTROLLERS")))
        snprintf (cli.controllers, sizeof (cli.controllers), "%s", env);
    if ((env = getenv ("STREAMFLEET_CERT")))
        snprintf (cli.cert, sizeof (cli.cert), "%s", env);
    else
        snprintf (cli.cert, sizeof (cli.cert), "%s/.streamfleet/cli", home ? home : "");
    if ((env = getenv ("STREAMFLEET_SERVER_CERT")))
        snprintf (cli.server_cert, sizeof (cli.server_cert), "%s", env);
    else
        snprintf (cli.server_cert, sizeof (cli.server_cert), "%s/.streamfleet/controller", home ? home : "");
    bool no_color = getenv ("NO_COLOR") != NULL;
    bool controllers_given = false;
    //  Take global options out of argv, wherever they stand
    char **rest = sf_xcalloc ((size_t) argc + 1, sizeof (char *));
    int nrest = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        const char *val = NULL;
        #define TAKE(opt) ((!strcmp (a, opt) && i + 1 < argc && (val = argv [++i])) \
                          || (!strncmp (a, opt "=", strlen (opt) + 1) && (val = a + strlen (opt) + 1)))
        if (TAKE ("--controller")) {
            if (!controllers_given)
                cli.controllers [0] = 0;
            controllers_given = true;
            size_t len = strlen (cli.controllers);
            snprintf (cli.controllers + len, sizeof (cli.controllers) - len, "%s%s", len ? "," : "", val);
        }
        else if (TAKE ("--cert"))
            snprintf (cli.cert, sizeof (cli.cert), "%s", val);
        else if (TAKE ("--server-cert"))
            snprintf (cli.server_cert, sizeof (cli.server_cert), "%s", val);
        else if (TAKE ("--timeout-ms")) {
            cli.timeout_ms = atoi (val);
            if (cli.timeout_ms <= 0) {
                fprintf (stderr, "streamfleet: --timeout-ms needs a positive number\n");
                return SF_EXIT_USAGE;
            }
        }
        else if (TAKE ("-o") || TAKE ("--output")) {
            if (!strcmp (val, "table")) cli.output = SF_OUT_TABLE;
            else if (!strcmp (val, "wide")) cli.output = SF_OUT_WIDE;
            else if (!strcmp (val, "json")) cli.output = SF_OUT_JSON;
            else {
                fprintf (stderr, "streamfleet: -o takes table, wide or json, not '%s'\n", val);
                return SF_EXIT_USAGE;
            }
        }
        else if (!strcmp (a, "--no-color"))
            no_color = true;
        else if (!strcmp (a, "--local"))
            sf_fmt_set_local (true);
        else
            rest [nrest++] = argv [i];
        #undef TAKE
    }
    if (!cli.controllers [0])
        snprintf (cli.controllers, sizeof (cli.controllers), "tcp://127.0.0.1:7601");
    cli.color = !no_color && isatty (STDOUT_FILENO);
    //  Tables fit the terminal; piped, they keep their full width
    if (isatty (STDOUT_FILENO)) {
        struct winsize ws;
        if (ioctl (STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
            cli.width = ws.ws_col;
        else
        if ((env = getenv ("COLUMNS")) && atoi (env) > 0)
            cli.width = atoi (env);
        else
            cli.width = 80;
    }
    if (nrest > 0 && !strcmp (rest [0], "--version")) {
        sf_version_print ("streamfleet", stdout);
        free (rest);
        return 0;
    }
    if (nrest == 0 || !strcmp (rest [0], "--help") || !strcmp (rest [0], "-h") || !strcmp (rest [0], "help")) {
        s_usage (nrest ? stdout : stderr);
        free (rest);
        return nrest ? 0 : SF_EXIT_USAGE;
    }
    int rc = SF_EXIT_USAGE;
    const s_cmd_t *cmd = NULL;
    for (const s_cmd_t *c = s_cmds; c->name; c++)
        if (!strcmp (c->name, rest [0]))
            cmd = c;
    if (cmd)
        rc = cmd->fn (&cli, nrest, rest);
    else {
        fprintf (stderr, "streamfleet: unknown command '%s'\n\n", rest [0]);
        s_usage (stderr);
    }
    free (rest);
    return rc;
}

/*  sf_gendoc — writes the daemons' man pages and their commented default
    config files straight from the option tables they parse with
    (sf_controller_options, sf_agent_options), as tools/gen-options.sh does
    for docs/operations.md, so the installed documentation never disagrees
    with the code. Built and run by `make man` / `make install`.

        sf_gendoc man controller|agent        section 8 page of the daemon
        sf_gendoc conf-man controller|agent   section 5 page of its config file
        sf_gendoc conf controller|agent       commented default config file
*/
#include "sf_agent.h"
#include "sf_config.h"
#include "sf_controller.h"
#include "sf_source.h"
#include "sf_version.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *which;
    const char *prog;
    const char *conf;               //  default config file
    const sf_option_t *table;
    const char *summary;
    const char *description;
    const char *files;
    const char *exit_status;
} s_daemon_t;

static const s_daemon_t s_daemons [] = {
    { "controller", "streamfleet-controller", "/etc/streamfleet/controller.conf", NULL,
      "store and serve a media server fleet's stream state",
      "streamfleet-controller stores the fleet's stream placements in LMDB, takes\n"
      "changes from streamfleet-agent over CurveZMQ, shares the state with peer\n"
      "controllers by gossip, and answers the streamfleet(1) CLI, the HTTP API,\n"
      "the web page and Prometheus scrapes. GET /healthz and /readyz on the HTTP\n"
      "listener serve load balancers and service managers.",
      "/etc/streamfleet/controller.conf\tthe configuration file (streamfleet-controller.conf(5))\n"
      "/etc/streamfleet/controller, controller_secret\tthe controller's certificate\n"
      "/etc/streamfleet/allowed/\tpublic certificates admitted (agents, CLI users, peers)\n"
      "/var/lib/streamfleet/\tthe LMDB environment\n",
      "0 stopped cleanly; 1 any other start-up failure; 2 bad options or configuration;\n"
      "3 cannot open the certificates or the storage." },
    { "agent", "streamfleet-agent", "/etc/streamfleet/agent.conf", NULL,
      "publish a media server's streams to streamfleet controllers",
      "streamfleet-agent runs on every media server. It reads the server's streams\n"
      "through a source adapter (nginx-rtmp, an Aipix-style REST API, pushed JSON,\n"
      "or a simulator), adds DVR, RTSP and usage details, and publishes every change\n"
      "to a streamfleet-controller(8) over CurveZMQ, failing over along its list of\n"
      "controllers. It keeps unacknowledged changes in a bounded buffer and never\n"
      "blocks on a slow controller.",
      "/etc/streamfleet/agent.conf\tthe configuration file (streamfleet-agent.conf(5))\n"
      "/etc/streamfleet/agent, agent_secret\tthe agent's certificate, naming its node\n"
      "/etc/streamfleet/controller.pub\tthe controllers' public certificate\n"
      "/var/lib/streamfleet-agent/\tthe agent's state (its generation)\n",
      "0 stopped cleanly; 1 any other failure; 2 bad options or configuration;\n"
      "3 cannot load the certificate, the state directory or the source." },
};

//  Writes text for roff: a backslash doubled as \e, a line that would start
//  with a control character guarded by \&, and '-' as \- (options stay
//  searchable and copy as ASCII hyphens).
static void
s_roff (const char *text)
{
    bool bol = true;
    for (const char *p = text; *p; p++) {
        if (bol && (*p == '.' || *p == '\''))
            fputs ("\\&", stdout);
        if (*p == '\\')
            fputs ("\\e", stdout);
        else
        if (*p == '-')
            fputs ("\\-", stdout);
        else
            putchar (*p);
        bol = *p == '\n';
    }
}

static void
s_type (const sf_option_t *o, char *buf, size_t size)
{
    switch (o->type) {
        case SF_OPT_INT: snprintf (buf, size, "integer %lld..%lld", (long long) o->min, (long long) o->max); break;
        case SF_OPT_BOOL: snprintf (buf, size, "boolean"); break;
        case SF_OPT_LIST: snprintf (buf, size, "list, comma-separated"); break;
        case SF_OPT_LINES: snprintf (buf, size, "repeatable, one entry per line"); break;
        default: snprintf (buf, size, "text"); break;
    }
}

static void
s_options_of (const sf_option_t *table, bool as_file)
{
    for (const sf_option_t *o = table; o->name; o++) {
        if (as_file && strcmp (o->name, "config") == 0)
            continue;
        char type [64];
        s_type (o, type, sizeof (type));
        printf (".TP\n.B ");
        if (!as_file)
            fputs ("\\-\\-", stdout);
        s_roff (o->name);
        printf (as_file ? " = \\fI%s\\fR\n" : " \\fI%s\\fR\n", o->type == SF_OPT_BOOL ? "true|false" : "VALUE");
        s_roff (o->help);
        printf (" (%s; default: ", type);
        s_roff (o->def && *o->def ? o->def : "none");
        printf (")\n");
    }
}

//  The daemon's options; for the agent, each source adapter's own table
//  after the core's (node-agent/sources.c registry)
static void
s_options (const s_daemon_t *d, bool as_file)
{
    s_options_of (d->table, as_file);
    if (strcmp (d->which, "agent"))
        return;
    for (size_t i = 0; sf_source_at (i); i++) {
        const sf_source_ops_t *ops = sf_source_at (i);
        if (!ops->options || !ops->options->name)
            continue;
        char title [256];
        snprintf (title, sizeof (title), "source = %s: %s", ops->name, ops->summary);
        printf (".SS ");
        s_roff (title);
        printf ("\n");
        s_options_of (ops->options, as_file);
    }
}

static void
s_header (const s_daemon_t *d, const char *name, int section)
{
    printf (".\\\" Generated by tools/sf_gendoc from the option table; do not edit.\n");
    printf (".TH %s %d \"\" \"streamfleet %s\" \"streamfleet\"\n", name, section, SF_VERSION);
}

static void
s_files (const s_daemon_t *d)
{
    printf (".SH FILES\n");
    const char *p = d->files;
    while (*p) {
        const char *tab = strchr (p, '\t');
        const char *nl = strchr (p, '\n');
        printf (".TP\n.I %.*s\n%.*s\n", (int) (tab - p), p, (int) (nl - tab - 1), tab + 1);
        p = nl + 1;
    }
}

static void
s_man (const s_daemon_t *d)
{
    s_header (d, d->prog, 8);
    printf (".SH NAME\n%s \\- %s\n", d->prog, d->summary);
    printf (".SH SYNOPSIS\n.B %s\n[\\fB\\-\\-config\\fR \\fIFILE\\fR] [\\fIOPTIONS\\fR]\n.br\n"
            ".B %s \\-\\-help\n|\n.B \\-\\-version\n", d->prog, d->prog);
    printf (".SH DESCRIPTION\n");
    s_roff (d->description);
    printf ("\n.PP\nEvery option may also be set as a \\fIkey = value\\fR line in the file named by\n"
            "\\fB\\-\\-config\\fR (see \\fB%s.conf\\fR(5)); the command line wins over the file.\n", d->prog);
    printf (".SH OPTIONS\n");
    s_options (d, false);
    printf (".TP\n.B \\-\\-help\nPrint the options and exit.\n");
    printf (".TP\n.B \\-\\-version\nPrint the version and the wire protocol version, and exit.\n");
    printf (".SH EXIT STATUS\n");
    s_roff (d->exit_status);
    printf ("\n");
    s_files (d);
    printf (".SH SEE ALSO\n.BR streamfleet (1),\n.BR %s.conf (5),\n.BR %s (8)\n",
            d->prog, strcmp (d->which, "agent") ? "streamfleet-agent" : "streamfleet-controller");
    printf (".PP\nThe documentation in /usr/share/doc/streamfleet (operations, protocol, HTTP API).\n");
}

static void
s_conf_man (const s_daemon_t *d)
{
    char name [64];
    snprintf (name, sizeof (name), "%s.conf", d->prog);
    s_header (d, name, 5);
    printf (".SH NAME\n%s \\- configuration of %s\n", name, d->prog);
    printf (".SH SYNOPSIS\n.I %s\n", d->conf);
    printf (".SH DESCRIPTION\n"
            "One option a line as \\fIkey = value\\fR; blank lines and lines starting with\n"
            "\\fB#\\fR are ignored. A list option is a comma-separated value and replaces its\n"
            "default. An error names the file and the line. Options given on the command\n"
            "line of \\fB%s\\fR(8) win over the file.\n", d->prog);
    printf (".SH OPTIONS\n");
    s_options (d, true);
    printf (".SH SEE ALSO\n.BR %s (8)\n", d->prog);
}

static void
s_conf_table (const sf_option_t *table)
{
    for (const sf_option_t *o = table; o->name; o++) {
        if (strcmp (o->name, "config") == 0)
            continue;               //  a file does not name another
        char type [64];
        s_type (o, type, sizeof (type));
        printf ("\n# %s (%s)\n", o->help, type);
        printf ("#%s = %s\n", o->name, o->def ? o->def : "");
    }
}

//  A commented default config: every option as a comment with its default,
//  so an operator uncomments what they change.
static void
s_conf (const s_daemon_t *d)
{
    printf ("# %s — configuration of %s (streamfleet %s)\n", d->conf, d->prog, SF_VERSION);
    printf ("# One option a line, 'key = value'. Every option is listed with its default,\n"
            "# commented out: uncomment and change what you need. The command line wins\n"
            "# over this file. See %s.conf(5).\n", d->prog);
    s_conf_table (d->table);
    if (strcmp (d->which, "agent"))
        return;
    for (size_t i = 0; sf_source_at (i); i++) {
        const sf_source_ops_t *ops = sf_source_at (i);
        if (!ops->options || !ops->options->name)
            continue;
        printf ("\n# ---- source = %s: %s\n", ops->name, ops->summary);
        s_conf_table (ops->options);
    }
}

int
main (int argc, char **argv)
{
    if (argc != 3) {
        fprintf (stderr, "usage: sf_gendoc man|conf-man|conf controller|agent\n");
        return 2;
    }
    s_daemon_t d;
    if (strcmp (argv [2], "controller") == 0) {
        d = s_daemons [0];
        d.table = sf_controller_options;
    }
    else
    if (strcmp (argv [2], "agent") == 0) {
        d = s_daemons [1];
        d.table = sf_agent_core_options;
    }
    else {
        fprintf (stderr, "sf_gendoc: controller or agent, not '%s'\n", argv [2]);
        return 2;
    }
    if (strcmp (argv [1], "man") == 0)
        s_man (&d);
    else
    if (strcmp (argv [1], "conf-man") == 0)
        s_conf_man (&d);
    else
    if (strcmp (argv [1], "conf") == 0)
        s_conf (&d);
    else {
        fprintf (stderr, "sf_gendoc: man, conf-man or conf, not '%s'\n", argv [1]);
        return 2;
    }
    return 0;
}

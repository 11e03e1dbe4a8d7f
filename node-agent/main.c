/*  streamfleet-agent — start-up glue; the agent is node-agent/agent.c. */
#include "sf_agent.h"
#include "sf_log.h"
#include <czmq.h>
#include <stdio.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: streamfleet-agent --node ID [OPTIONS]\n"
        "\n"
        "Runs on a media server: reads its streams through a source adapter and\n"
        "publishes every change to a streamfleet controller over CurveZMQ.\n"
        "Sources: %s (see docs/adapters.md).\n"
        "\n"
        "Options (also 'key = value' lines in --config FILE):\n", sf_source_names ());
    sf_config_usage (sf_agent_options, out);
    fprintf (out,
        "  --help                       this text\n"
        "\n"
        "Exit codes: 0 stopped cleanly, 2 bad options, 3 cannot load the certificate,\n"
        "the state directory or the source, 1 any other failure.\n");
}

int
main (int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp (argv [i], "--help") == 0 || strcmp (argv [i], "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
    zsys_init ();
    zsys_set_logstream (NULL);
    sf_log_set_ident ("agent");
    sf_agent_config_t cfg;
    sf_config_defaults (sf_agent_options, &cfg);
    char err [512];
    int at = sf_config_parse_args (sf_agent_options, &cfg, argc, argv, 1, err, sizeof (err));
    if (at < 0) {
        fprintf (stderr, "streamfleet-agent: %s\n", err);
        return 2;
    }
    if (at < argc) {
        fprintf (stderr, "streamfleet-agent: unexpected argument '%s' (see --help)\n", argv [at]);
        return 2;
    }
    return sf_agent_run (&cfg);
}

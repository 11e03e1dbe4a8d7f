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
    sf_config_usage (sf_agent_core_options, out);
    for (size_t i = 0; sf_source_at (i); i++) {
        const sf_source_ops_t *ops = sf_source_at (i);
        if (!ops->options || !ops->options->name)
            continue;
        fprintf (out, "\nSource %s (%s):\n", ops->name, ops->summary);
        sf_config_usage (ops->options, out);
    }
    fprintf (out, "\n");
    fprintf (out,
        "  --help                       this text\n"
        "  --version                    the version and the protocol version\n"
        "\n"
        "Exit codes: 0 stopped cleanly, 2 bad options, 3 cannot load the certificate,\n"
        "the state directory or the source, 1 any other failure.\n");
}

int
main (int argc, char **argv)
{
    static sf_agent_config_t cfg;
    int rc;
    if (!sf_config_main (sf_agent_options (), &cfg, argc, argv, "streamfleet-agent", s_usage, &rc))
        return rc;
    if (sf_log_set_format (cfg.log_format) < 0) {
        fprintf (stderr, "streamfleet-agent: --log-format: %s is not text or json\n", cfg.log_format);
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    sf_log_set_ident ("agent");
    return sf_agent_run (&cfg);
}

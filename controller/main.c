/*  streamfleet-controller — start-up glue; the daemon is controller/controller.c. */
#include "sf_controller.h"
#include "sf_log.h"
#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: streamfleet-controller [OPTIONS]\n"
        "\n"
        "Stores the fleet's stream state in LMDB, takes changes from streamfleet-agent\n"
        "over CurveZMQ, shares state with peer controllers, and answers the streamfleet\n"
        "CLI, the HTTP API and the web page.\n"
        "\n"
        "Options (also 'key = value' lines in --config FILE):\n");
    sf_config_usage (sf_controller_options, out);
    fprintf (out,
        "  --help                       this text\n"
        "  --version                    the version and the protocol version\n"
        "\n"
        "Exit codes: 0 stopped cleanly, 2 bad options, 3 cannot open certificates or\n"
        "storage, 1 any other start-up failure. See docs/operations.md.\n");
}

int
main (int argc, char **argv)
{
    sf_controller_config_t cfg;
    int rc;
    if (!sf_config_main (sf_controller_options, &cfg, argc, argv, "streamfleet-controller", s_usage, &rc))
        return rc;
    if (sf_log_set_format (cfg.log_format) < 0) {
        fprintf (stderr, "streamfleet-controller: --log-format: %s is not text or json\n", cfg.log_format);
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    sf_log_set_ident ("controller");
    if (!cfg.id [0])
        gethostname (cfg.id, sizeof (cfg.id) - 1);
    return sf_controller_run (&cfg);
}

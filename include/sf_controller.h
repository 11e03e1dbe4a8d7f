/*  sf_controller.h — the controller daemon: its option table and entry point
    (the settings it fills: sf_controller_config.h).

    Threads (controller/controller.c says what each shares): the ingest
    thread owns the agents' ROUTER socket, runs gossip and is the only LMDB
    writer; the query thread owns the CLI's ROUTER socket; libmicrohttpd's
    threads run the HTTP listener; the controller's own ZAP handler
    (sf_zap_actor, sf_security.h, an actor) answers ZAP. The option table in
    controller/controller.c drives parsing, --help and docs/operations.md.
*/
#ifndef SF_CONTROLLER_H
#define SF_CONTROLLER_H

#include "sf_config.h"
#include "sf_controller_config.h"

extern const sf_option_t sf_controller_options [];

//  Runs until SIGINT/SIGTERM. Returns a process exit code.
int sf_controller_run (sf_controller_config_t *cfg);
#endif

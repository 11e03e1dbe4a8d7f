/*  sf_controller.h — the controller daemon: its option table and entry point
    (the settings it fills: sf_controller_config.h).

    Threads: the ingest thread owns the agents' ROUTER socket and the only
    LMDB writer; the query thread owns the CLI's ROUTER socket; libmicrohttpd
    runs the HTTP listener; czmq's zauth actor answers ZAP. The option table
    in controller/controller.c drives parsing, --help and docs/operations.md.
*/
#ifndef SF_CONTROLLER_H
#define SF_CONTROLLER_H

#include "sf_config.h"
#include "sf_controller_config.h"

extern const sf_option_t sf_controller_options [];

//  Runs until SIGINT/SIGTERM. Returns a process exit code.
int sf_controller_run (sf_controller_config_t *cfg);
#endif

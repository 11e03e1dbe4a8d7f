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
#include "sf_alerts.h"
#include "sf_writer.h"

extern const sf_option_t sf_controller_options [];

//  Runs until SIGINT/SIGTERM. Returns a process exit code.
int sf_controller_run (sf_controller_config_t *cfg);

//  The ingest loop's writes that are no origin's change (controller/controller.c
//  says which), each in a transaction of its own committed here; the alert
//  tick and the alert episodes only when alerts_tick_ms (sf_now_ms's clock)
//  is not 0. now_ms: sf_mono_ms's clock. Returns the commits it tried.
//  Ingest thread only.
int sf_controller_write_unowned (sf_writer_t *w, sf_store_t *store, sf_alerts_t *alerts,
                                 int64_t alerts_tick_ms, int64_t now_ms);
#endif

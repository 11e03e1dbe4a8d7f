/*  sf_controller.h — the controller daemon: configuration and entry point.

    Threads: the ingest thread owns the agents' ROUTER socket and the only
    LMDB writer; the query thread owns the CLI's ROUTER socket; libmicrohttpd
    runs the HTTP listener; czmq's zauth actor answers ZAP. The option table
    in controller/controller.c drives parsing, --help and docs/operations.md.
*/
#ifndef SF_CONTROLLER_H
#define SF_CONTROLLER_H

#include "sf_config.h"
#include <stdint.h>

typedef struct {
    char config [256];
    char id [64];
    char data_dir [512];
    char cert [512];
    char certs_dir [512];
    char agents [256];
    char query [256];
    char peers [256];
    char seeds [2048];
    char advertise [256];
    char http [128];
    char http_token [256];
    char http_token_file [512];
    char log_level [16];
    char log_format [16];
    int64_t suspect_ms;
    int64_t down_ms;
    int64_t transfer_timeout_s;
    int64_t history_days;
    int64_t history_per_stream;
    int64_t map_size_mb;
    int64_t batch_records;
    int64_t batch_ms;
    int64_t gossip_ms;
    int64_t peer_probe_ms;
    int64_t peer_suspect_ms;
    int64_t sync_ms;
    int64_t max_streams_per_node;
    int64_t tombstone_grace_s;
    char alert [16384];         //  alert rules, one per line (sf_alerts.h)
    char web_url [256];
    char webhook [8192];        //  webhook receivers, one per line (sf_webhook.h)
    int64_t webhook_retries;
    int64_t webhook_backoff_ms;
    int64_t webhook_backoff_max_ms;
    int64_t webhook_timeout_ms;
    int64_t webhook_standby_ms;
} sf_controller_config_t;

extern const sf_option_t sf_controller_options [];

//  Runs until SIGINT/SIGTERM. Returns a process exit code.
int sf_controller_run (sf_controller_config_t *cfg);
#endif

/*  sf_controller_config.h — the controller's settings, as the option table
    in controller/controller.c (sf_controller_options, sf_controller.h) fills
    them from argv and the config file.

    A header of its own, with nothing in it but the struct, so that the
    modules the controller starts (gossip) can read their settings without
    importing sf_controller.h, the module that imports them.
*/
#ifndef SF_CONTROLLER_CONFIG_H
#define SF_CONTROLLER_CONFIG_H

#include <stdbool.h>
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
    bool gossip_patches;        //  --gossip-patches (docs/protocol.md §6.3a)
    int64_t gossip_relay_ms;    //  --gossip-relay-ms (docs/protocol.md §6.3, rule 2b)
    int64_t peer_probe_ms;
    int64_t peer_suspect_ms;
    int64_t sync_ms;
    bool store_ordered;         //  --store-ordered (sf_store_set_ordered)
    int64_t max_streams_per_node;
    int64_t tombstone_grace_s;
    char alert [16384];         //  alert rules, one per line (sf_alerts.h)
    char web_url [256];
    char webhook [8192];        //  webhook receivers, one per line (sf_webhook.h)
    int64_t webhook_retries;
    int64_t webhook_backoff_ms;
    int64_t webhook_backoff_max_ms;
    int64_t webhook_timeout_ms;
    int64_t webhook_standby_ms;     //  deprecated, ignored (a warning at start)
    int64_t webhook_standby_max_ms;
    int64_t webhook_dead_letters_max;
} sf_controller_config_t;
#endif

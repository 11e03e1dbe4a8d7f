/*  sf_agent.h — the node agent: configuration and the change pipeline.

    The agent turns successive full states from its source into changes
    stamped (generation, seq), keeps them in a bounded buffer until a
    controller acknowledges them, and speaks the agent protocol
    (docs/protocol.md) to one controller at a time, failing over along its
    list. The configuration table in node-agent/agent_config.c is the single
    source of the options, the --help text and docs/operations.md.
*/
#ifndef SF_AGENT_H
#define SF_AGENT_H

#include "sf_config.h"
#include "sf_record.h"
#include "sf_source.h"

typedef struct sf_agent_config_t {
    char config [256];
    char node [SF_NODE_MAX + 1];
    char controllers [2048];        //  comma-separated endpoints
    char cert [512];                //  the agent's secret certificate
    char server_cert [512];         //  the controllers' public certificate
    char state_dir [512];           //  where the generation is persisted
    char source [32];
    char log_level [16];
    int64_t poll_interval_ms;
    int64_t heartbeat_ms;
    int64_t controller_timeout_ms;  //  silence before failing over
    int64_t buffer_max;             //  unacknowledged changes kept
    int64_t batch_max;              //  changes per batch message
    //  node info
    char addr_internal [SF_ADDR_MAX + 1];
    char addr_external [SF_ADDR_MAX + 1];
    char group [SF_SHORT_MAX + 1];
    int64_t max_primary_streams;
    int64_t max_in_kbps;
    char rtsp_template [SF_ADDR_MAX + 1];
    char hls_template [SF_ADDR_MAX + 1];
    char rtsp_dvr_template [SF_ADDR_MAX + 1];
    char hls_dvr_template [SF_ADDR_MAX + 1];
    char disks [1024];              //  comma-separated mounts for usage
    //  simulate
    int64_t sim_streams;
    int64_t sim_seed;
    int64_t sim_churn_pct;          //  streams changing state per tick, percent
    int64_t sim_update_pct;         //  running streams whose bitrate moves per tick
    char sim_prefix [64];
    //  push
    char push_listen [128];         //  host:port of the local JSON-lines endpoint
    //  nginx-rtmp
    char stat_url [SF_URL_MAX];
    char rtmp_app [128];            //  application filter, empty = all
    //  aipix-style REST
    char api_url [SF_URL_MAX];
    char api_token [256];
    char api_token_mode [16];       //  query | header
    int64_t http_timeout_ms;
    //  DVR directory scanner
    char records_path [SF_ADDR_MAX + 1];
    char record_pattern [128];
    //  RTSP probe
    bool rtsp_probe;
    int64_t rtsp_timeout_ms;
    //  per-stream overrides file
    char overrides [512];
} sf_agent_config_t;

extern const sf_option_t sf_agent_options [];

//  Runs the agent until interrupted (SIGINT/SIGTERM). Returns an exit code.
int sf_agent_run (sf_agent_config_t *cfg);
#endif

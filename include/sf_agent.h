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

//  Room for all registered sources' configs (checked when the table is built)
#define SF_SOURCE_CONFIG_MAX (32 * 1024)

typedef struct sf_agent_config_t {
    char config [256];
    char node [SF_NODE_MAX + 1];
    char controllers [2048];        //  comma-separated endpoints
    char cert [512];                //  the agent's secret certificate
    char server_cert [512];         //  the controllers' public certificate
    char state_dir [512];           //  where the generation is persisted
    char source [32];
    char log_level [16];
    char log_format [16];
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
    char rtmp_template [SF_ADDR_MAX + 1];
    char rtsp_dvr_template [SF_ADDR_MAX + 1];
    char hls_dvr_template [SF_ADDR_MAX + 1];
    char disks [1024];              //  comma-separated mounts for usage
    char net_interface [64];        //  in/out kbps from it; "": sum of streams
    int64_t http_timeout_ms;        //  one poll of an HTTP source, all its requests
    //  DVR directory scanner
    char records_path [SF_ADDR_MAX + 1];
    char record_pattern [128];
    //  RTSP probe
    bool rtsp_probe;
    int64_t rtsp_timeout_ms;
    //  per-stream overrides file
    char overrides [512];
    //  Every registered source's own config, laid out one after the other
    //  by sf_agent_options (); sf_agent_source_config () finds one
    _Alignas (16) unsigned char sources [SF_SOURCE_CONFIG_MAX];
} sf_agent_config_t;

//  The agent core's own options (node, controllers, enrichment, links)
extern const sf_option_t sf_agent_core_options [];
//  Every option: the core's, then each registered source's, with offsets
//  into sf_agent_config_t. Built once, on first use.
const sf_option_t *sf_agent_options (void);
//  A source's config inside cfg (ops->config_size bytes), NULL if it has none
void *sf_agent_source_config (sf_agent_config_t *cfg, const sf_source_ops_t *ops);
const void *sf_agent_source_config_const (const sf_agent_config_t *cfg, const sf_source_ops_t *ops);

//  Runs the agent until interrupted (SIGINT/SIGTERM). Returns an exit code.
int sf_agent_run (sf_agent_config_t *cfg);
#endif

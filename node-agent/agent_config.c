/*  agent_config.c — the agent's options: one table for parsing, --help and
    docs/operations.md.

    The core's table is below. Each source adapter declares its own table
    over its own config struct (sf_source.h); sf_agent_options () lays the
    registered adapters' configs out one after another in cfg->sources and
    joins every table into one, with offsets from the start of
    sf_agent_config_t, so one parser reads the command line and the file for
    all of them, and --help and docs/operations.md list them all.
*/
#include "sf_agent.h"
#include "sf_alloc.h"
#include <assert.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define O(field) offsetof (sf_agent_config_t, field), sizeof (((sf_agent_config_t *) 0)->field)
const sf_option_t sf_agent_core_options [] = {
    { "config", SF_OPT_STR, O (config), NULL, 0, 0, "read options from this file (key = value lines)" },
    { "node", SF_OPT_STR, O (node), "", 0, 0, "this node's id (must match the certificate's node)" },
    { "controllers", SF_OPT_LIST, O (controllers), "tcp://127.0.0.1:7600", 0, 0,
      "controllers' agent endpoints, tried in order (repeatable, or comma-separated)" },
    { "cert", SF_OPT_STR, O (cert), "/etc/streamfleet/agent", 0, 0,
      "this agent's certificate (secret half at PATH_secret)" },
    { "server-cert", SF_OPT_STR, O (server_cert), "/etc/streamfleet/controller.pub", 0, 0,
      "the controllers' public certificate" },
    { "state-dir", SF_OPT_STR, O (state_dir), "/var/lib/streamfleet-agent", 0, 0,
      "where the agent keeps its generation" },
    { "source", SF_OPT_STR, O (source), "simulate", 0, 0, "source adapter (see docs/adapters.md)" },
    { "log-level", SF_OPT_STR, O (log_level), "info", 0, 0, "debug, info, warn or error" },
    { "log-format", SF_OPT_STR, O (log_format), "text", 0, 0, "text (one line per message) or json (one JSON object per line: ts, ident, level, msg)" },
    { "poll-interval-ms", SF_OPT_INT, O (poll_interval_ms), "1000", 10, 3600000, "how often the source is read" },
    { "heartbeat-ms", SF_OPT_INT, O (heartbeat_ms), "1000", 50, 60000, "heartbeat interval" },
    { "controller-timeout-ms", SF_OPT_INT, O (controller_timeout_ms), "3000", 100, 600000,
      "silence from a controller before failing over to the next (up to 30 s while its connection is alive)" },
    { "buffer-max", SF_OPT_INT, O (buffer_max), "200000", 100, 100000000,
      "unacknowledged changes kept; past it the oldest go and a snapshot follows" },
    { "batch-max", SF_OPT_INT, O (batch_max), "1000", 1, 100000, "changes per batch message" },
    { "addr-internal", SF_OPT_STR, O (addr_internal), "", 0, 0, "node's internal address" },
    { "addr-external", SF_OPT_STR, O (addr_external), "", 0, 0, "node's external address (used in links)" },
    { "group", SF_OPT_STR, O (group), "all", 0, 0, "node group: public, private or all" },
    { "max-primary-streams", SF_OPT_INT, O (max_primary_streams), "0", 0, 10000000, "limit (0: none)" },
    { "max-in-kbps", SF_OPT_INT, O (max_in_kbps), "0", 0, 100000000, "incoming bandwidth limit (0: none)" },
    { "rtsp-template", SF_OPT_STR, O (rtsp_template), "", 0, 0, "live RTSP link, e.g. rtsp://{host}:554/{name}" },
    { "hls-template", SF_OPT_STR, O (hls_template), "", 0, 0,
      "live HLS link, e.g. http://{host}/{name}/index.m3u8" },
    { "rtmp-template", SF_OPT_STR, O (rtmp_template), "", 0, 0,
      "live RTMP link, e.g. rtmp://{host}:1935/live/{name} (nginx-rtmp gives one of its own)" },
    { "rtsp-dvr-template", SF_OPT_STR, O (rtsp_dvr_template), "", 0, 0,
      "DVR RTSP link; {from} {to} {duration} too" },
    { "hls-dvr-template", SF_OPT_STR, O (hls_dvr_template), "", 0, 0, "DVR HLS link" },
    { "disks", SF_OPT_LIST, O (disks), "/", 0, 0, "mount points reported in usage" },
    { "net-interface", SF_OPT_STR, O (net_interface), "", 0, 0,
      "node in/out kbps from this interface's counters (e.g. eth0); empty: the sum of the streams' bitrates" },
    { "http-timeout-ms", SF_OPT_INT, O (http_timeout_ms), "2000", 50, 600000,
      "deadline of one poll of a media server's HTTP API, all its requests together" },
    { "records-path", SF_OPT_STR, O (records_path), "", 0, 0, "DVR records directory to scan" },
    { "record-pattern", SF_OPT_STR, O (record_pattern), "", 0, 0,
      "DVR chunk file name pattern (see docs/adapters.md); empty: the source's own layout "
      "(nginx-rtmp: {name}-{seq}.ts, its defaults), else {name}/{ms}.ts" },
    { "rtsp-probe", SF_OPT_BOOL, O (rtsp_probe), "false", 0, 0, "fetch SDP of rtsp:// sources by DESCRIBE" },
    { "rtsp-timeout-ms", SF_OPT_INT, O (rtsp_timeout_ms), "2000", 50, 60000, "RTSP DESCRIBE timeout" },
    { "overrides", SF_OPT_STR, O (overrides), "", 0, 0, "per-stream overrides file" },
    { NULL }
};

//  Where each registered source's config starts in cfg->sources
static size_t s_source_offset [64];
static sf_option_t *s_all;

static void
s_build (void)
{
    size_t n = 0;
    for (const sf_option_t *o = sf_agent_core_options; o->name; o++)
        n++;
    for (size_t i = 0; sf_source_at (i); i++)
        for (const sf_option_t *o = sf_source_at (i)->options; o && o->name; o++)
            n++;
    s_all = sf_xcalloc (n + 1, sizeof (sf_option_t));
    size_t at = 0;
    for (const sf_option_t *o = sf_agent_core_options; o->name; o++)
        s_all [at++] = *o;
    size_t used = 0;
    for (size_t i = 0; sf_source_at (i); i++) {
        const sf_source_ops_t *ops = sf_source_at (i);
        assert (i < sizeof s_source_offset / sizeof s_source_offset [0]);
        s_source_offset [i] = used;
        for (const sf_option_t *o = ops->options; o && o->name; o++) {
            assert (o->offset + (o->size ? o->size : 8) <= ops->config_size);
            //  Two adapters claiming one option name is a programmer's error
            for (size_t j = 0; j < at; j++)
                assert (strcmp (s_all [j].name, o->name));
            s_all [at] = *o;
            s_all [at].offset = offsetof (sf_agent_config_t, sources) + used + o->offset;
            at++;
        }
        used += (ops->config_size + 15) & ~(size_t) 15;
        assert (used <= SF_SOURCE_CONFIG_MAX);
    }
}

const sf_option_t *
sf_agent_options (void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once (&once, s_build);
    return s_all;
}

const void *
sf_agent_source_config_const (const sf_agent_config_t *cfg, const sf_source_ops_t *ops)
{
    sf_agent_options ();
    for (size_t i = 0; sf_source_at (i); i++)
        if (sf_source_at (i) == ops)
            return ops->config_size ? cfg->sources + s_source_offset [i] : NULL;
    return NULL;
}

void *
sf_agent_source_config (sf_agent_config_t *cfg, const sf_source_ops_t *ops)
{
    return (void *) sf_agent_source_config_const (cfg, ops);
}

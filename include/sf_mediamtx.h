/*  sf_mediamtx.h — source adapter for MediaMTX (Control API v3).

    The adapter (source "mediamtx") reads, every poll and within one
    deadline (--http-timeout-ms):
      GET {api}/v3/paths/list?page=P&itemsPerPage=N   every page, to the last
      GET {api}/v3/rtspsessions/get/{id}              once per new RTSP publisher
      GET {api}/v3/config/paths/get/{conf}            the pulled source's URL, once
      GET {api}/v3/recordings/list?page=P&...         with --mediamtx-playback-url
      GET {playback}/list?path=NAME                   DVR ranges, every 10 s a path
      GET {metrics}/metrics                           with --mediamtx-metrics-url: a
                                                      cross-check of state, readers and
                                                      bytes, and bytes where the API has none
    with HTTP basic auth (--mediamtx-user/--mediamtx-password, MediaMTX's
    internal users) or a bearer token (--mediamtx-token, its JWT auth).
    Field names, versions and units in docs/adapters.md. The mapping of one
    path is public so tests pin it down for every version shape.
*/
#ifndef SF_MEDIAMTX_H
#define SF_MEDIAMTX_H

#include "sf_source.h"
#include <jansson.h>

typedef struct {
    char url [SF_ADDR_MAX + 1];
    char playback_url [SF_ADDR_MAX + 1];
    char user [128];
    char password [256];
    char token [1024];
    char metrics_url [SF_ADDR_MAX + 1];
    int64_t page_items;
} sf_mediamtx_config_t;

//  What one path item says beyond the record
typedef struct {
    uint64_t inbound_bytes;         //  inboundBytes (>= v1.17) or bytesReceived
    bool has_bytes;                 //  the item had either
    char source_type [32];          //  "rtspSession", "rtmpConn", ... or ""
    char source_id [SF_SHORT_MAX + 1];
    char conf_name [SF_NAME_MAX + 1];
} sf_mediamtx_path_t;

//  Maps one item of /v3/paths/list (any version from v1.2) into stream:
//  name, status (online/available from v1.16, ready before), clients
//  (readers), started_at (onlineTime or readyTime), audio mark and media
//  (tracks2 from v1.17, tracks before). 0, or -1 when the item has no name.
int sf_mediamtx_path (json_t *item, sf_stream_t *stream, sf_mediamtx_path_t *extra);
//  Replaces dvr's ranges with a playback server /list reply
//  ([{start: RFC 3339, duration: s}]). 0, or -1 with err.
int sf_mediamtx_ranges (json_t *reply, sf_dvr_t *dvr, char *err, size_t errlen);

//  One path as MediaMTX's Prometheus metrics (metrics: yes, /metrics) see it
typedef struct {
    char name [SF_NAME_MAX + 1];
    bool has_state, online;         //  paths{name,state}: state "ready" (or "online")
    bool has_bytes;
    uint64_t inbound_bytes;         //  paths_inbound_bytes, or paths_bytes_received before
    bool has_readers;
    uint32_t readers;               //  paths_readers, summed over readerType
} sf_mediamtx_metric_t;

//  Parses a /metrics reply (text exposition format) into one entry per
//  path, sorted by name (*out is the caller's to free). Lines it does not
//  know are skipped; a malformed line is an error. 0, or -1 with err.
int sf_mediamtx_metrics (const char *text, size_t len, sf_mediamtx_metric_t **out, size_t *count,
                         char *err, size_t errlen);

extern const sf_source_ops_t sf_source_mediamtx;
#endif

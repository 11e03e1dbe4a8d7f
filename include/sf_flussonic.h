/*  sf_flussonic.h — source adapter for Flussonic Media Server (Streamer
    API v3).

    The adapter (source "flussonic") reads, every poll and within one
    deadline:
      GET {api}/streamer/api/v3/streams?limit=N&select=...&cursor=C
    following each reply's "next" cursor to the last page, with HTTP basic
    auth (--flussonic-user/--flussonic-password, the edit_auth pair) or a
    bearer token (--flussonic-token). Everything comes from the list: stats
    (status, alive, bitrate, online_clients, lifetime, retry_count,
    started_at, media_info), dvr_info ranges and the inputs' stats. Units
    are mixed (utc_ms, utc seconds, ms): docs/adapters.md lists them.
*/
#ifndef SF_FLUSSONIC_H
#define SF_FLUSSONIC_H

#include "sf_source.h"
#include <jansson.h>

typedef struct {
    char url [SF_ADDR_MAX + 1];
    char user [128];
    char password [256];
    char token [1024];
    int64_t page_items;
} sf_flussonic_config_t;

//  What one stream item says beyond the record
typedef struct {
    char source_id [SF_SHORT_MAX + 1];      //  new when the input changes
    int active_input;                       //  index of the input in use, -1 if none
    int ninputs;
} sf_flussonic_stream_t;

//  Maps one item of /streamer/api/v3/streams (23.09 and later: status,
//  online_clients; before: running, client_count) into stream: status,
//  bitrate, clients, started_at (utc_ms, or now_s - lifetime ms),
//  reconnect attempts (retry_count), audio mark and media (media_info),
//  DVR depth and ranges (dvr_info: utc s), source url (the active input).
//  0, or -1 when the item has no name (or one too long).
int sf_flussonic_stream (json_t *item, int64_t now_s, sf_stream_t *stream,
                         sf_flussonic_stream_t *extra);

extern const sf_source_ops_t sf_source_flussonic;
#endif

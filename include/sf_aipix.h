/*  sf_aipix.h — source adapter for Aipix-style media server REST APIs.

    The adapter (`sf_source_aipix`, source name "aipix") reads
      GET  {api}/api/streams/               the stream list, every poll
      GET  {api}/api/streams/{uid}/         config, dvr, source: when a
                                            stream is new or restarted, and
                                            every 30 s
      GET  {api}/api/streams/{uid}/ranges/  DVR ranges, every 10 s
      POST {api}/api/server/                drives, cpu, mem, every 5 s
    with the token as ?token= (--api-token-mode query) or an
    "Authorization: Bearer" header (header). Field names and units in
    docs/adapters.md. The parsers are public so tests pin them down.
*/
#ifndef SF_AIPIX_H
#define SF_AIPIX_H

#include "sf_source.h"

//  The adapter's own options (--api-url, --api-token, --api-token-mode)
typedef struct {
    char api_url [SF_URL_MAX];
    char api_token [256];
    char api_token_mode [16];       //  query | header
} sf_aipix_config_t;

//  Appends the list's streams to set: name, uid, type, status, dvr and
//  audio functions, bitrate (bit/s in, kbit/s out), clients, reconnects,
//  started_at. Items without a usable name are skipped. 0 or -1 with err.
int sf_aipix_parse_list (const char *json, size_t len, sf_streamset_t *set,
                         char *err, size_t errlen);
//  Fills a stream's detail: config text, config_path, dvr settings, source
//  url, sdp and ping, playback uuid, media. 0 or -1 with err.
int sf_aipix_parse_detail (const char *json, size_t len, sf_stream_t *stream,
                           char *err, size_t errlen);
//  Replaces dvr's ranges with the reply's. 0 or -1 with err.
int sf_aipix_parse_ranges (const char *json, size_t len, sf_dvr_t *dvr, char *err, size_t errlen);
//  Fills node usage from the server reply (drives, cpu, mem). 0 or -1.
//  Replaces the value of "token=" in a text of buffer size `size` by "***",
//  whatever the token's length (log lines never carry the API token)
void sf_aipix_redact (char *text, size_t size);
int sf_aipix_parse_server (const char *json, size_t len, sf_node_t *node, char *err, size_t errlen);

extern const sf_source_ops_t sf_source_aipix;
#endif

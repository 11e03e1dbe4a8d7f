/*  sf_srs.h — source adapter for SRS (HTTP API v1).

    The adapter (source "srs") reads, every poll and within one deadline:
      GET {api}/api/v1/streams/?start=S&count=N   every page (count always
                                                  sent: SRS clamps it)
      GET {api}/api/v1/vhosts/                    when a new vhost id shows
      GET {api}/api/v1/clients/{cid}              once per new publisher
    with HTTP basic auth (--srs-user/--srs-password: http_api.auth, SRS 5
    and later). A stream's name is app/name on the default vhost and
    vhost/app/name on any other. Field names, versions and units in
    docs/adapters.md.
*/
#ifndef SF_SRS_H
#define SF_SRS_H

#include "sf_source.h"
#include <jansson.h>

typedef struct {
    char url [SF_ADDR_MAX + 1];
    char user [128];
    char password [256];
    int64_t page_items;
} sf_srs_config_t;

//  What one stream item says beyond the record
typedef struct {
    char id [SF_SHORT_MAX + 1];             //  "vid-..." (an integer in SRS 3)
    char vhost [SF_SHORT_MAX + 1];          //  the vhost's id
    char app [SF_NAME_MAX + 1];
    char stream [SF_NAME_MAX + 1];
    char publisher [SF_SHORT_MAX + 1];      //  publish.cid, "" without a publisher
} sf_srs_stream_t;

//  Maps one item of /api/v1/streams/ (SRS 3 to 6) into stream: status
//  (publish.active), clients less the publisher, bitrate (kbps.recv_30s),
//  audio mark and media (video, audio). The record's name is left to the
//  caller (it needs the vhost's name). 0, or -1 when the item has no name.
int sf_srs_stream (json_t *item, sf_stream_t *stream, sf_srs_stream_t *extra);

extern const sf_source_ops_t sf_source_srs;
#endif

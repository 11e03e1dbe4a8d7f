/*  sf_rtsp_probe.h — the SDP of rtsp:// sources, by RTSP DESCRIBE (libcurl).

    Media servers that pull from cameras often do not expose the camera's
    session description; asking the camera ourselves fills the Source
    section. Results are cached per stream: a source is asked again only when
    its stream reconnected (started_at or the reconnect total changed) or its
    URL changed, and a failed probe is retried after a back-off, so a dead
    camera costs one bounded DESCRIBE per back-off period, not one per poll.
*/
#ifndef SF_RTSP_PROBE_H
#define SF_RTSP_PROBE_H

#include "sf_source.h"

typedef struct sf_rtsp_probe_t sf_rtsp_probe_t;

//  timeout_ms bounds each DESCRIBE and the time one apply call may spend
//  probing; retry_ms is the back-off after a failure.
sf_rtsp_probe_t *sf_rtsp_probe_new (int64_t timeout_ms, int64_t retry_ms);
void sf_rtsp_probe_destroy (sf_rtsp_probe_t **self_p);
//  One DESCRIBE. 0 with *sdp (malloc'd) and *ping_ms (TCP connect time), or
//  -1 with err naming the URL and what failed.
int sf_rtsp_describe (const char *url, int64_t timeout_ms, char **sdp, int32_t *ping_ms,
                      char *err, size_t errlen);
//  For each stream whose source_url is rtsp:// or rtsps:// and whose source
//  gave no SDP: fills source_sdp (and ping_ms when unknown) from the cache,
//  probing when due. Returns the number of DESCRIBE requests made.
int sf_rtsp_probe_apply (sf_rtsp_probe_t *self, sf_streamset_t *set, int64_t now_ms);
#endif

/*  sf_links.h — playback links of a placement (docs/protocol.md §4.1.3).

    Templates hold {host} {name} {uid} {from} {to} {duration}; {host} is the
    node's external address (else its internal one, else the node id). The
    stream's own template wins over the node's, the node's over the defaults.
    A module of its own so that the read model, the migration tracker and the
    reply builder share it without importing each other.
*/
#ifndef SF_LINKS_H
#define SF_LINKS_H

#include "sf_record.h"

//  Builds a link from a template. Returns the length written, or -1 if it
//  did not fit (out is then undefined).
int sf_link_build (char *out, size_t size, const char *tmpl, const char *host,
                   const sf_stream_t *s, int64_t from, int64_t to);
//  The live links of a placement on its node (n may be NULL); a link that
//  does not fit in size is left empty.
void sf_links_live (const sf_stream_t *s, const sf_node_t *n, char *rtsp, char *hls, size_t size);
//  The live RTMP link of a placement on its node: from the stream's or the
//  node's RTMP template; empty when neither has one (no default: only a
//  server that speaks RTMP, such as nginx-rtmp, says how to reach it)
void sf_links_rtmp (const sf_stream_t *s, const sf_node_t *n, char *rtmp, size_t size);
//  The playback links of the DVR range [from, to] of a placement on its node
void sf_links_range (const sf_stream_t *s, const sf_node_t *n, int64_t from, int64_t to,
                     char *rtsp, char *hls, size_t size);
#endif

/*  links.c — a placement's playback links (include/sf_links.h).

    A link is a template over the node's external address and the stream's
    identity; the stream's own override wins over the node's, and the node's
    over the defaults. The read model (query.c), the migration tracker's DVR
    timeline (fleet.c) and the reply builder (api.c) all build links here, so
    a template means the same thing everywhere and none of them has to import
    another to get one.
*/
#include "sf_links.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>

//  The address without its port: "host:port" and "[v6]:port" lose it; a
//  bare IPv6 address (more than one ':') is kept whole
static void
s_strip_port (const char *addr, char *out, size_t size)
{
    snprintf (out, size, "%s", addr);
    char *colon = strrchr (out, ':');
    if (!colon || !isdigit ((unsigned char) colon [1]))
        return;
    if (out [0] == '[' ? colon [-1] == ']' : strchr (out, ':') == colon)
        *colon = 0;
}

int
sf_link_build (char *out, size_t size, const char *tmpl, const char *host,
               const sf_stream_t *s, int64_t from, int64_t to)
{
    size_t at = 0;
    for (const char *p = tmpl; *p; ) {
        char buf [SF_ADDR_MAX + 32];
        const char *sub = NULL;
        size_t skip = 0;
        if (*p == '{') {
            //  A template that gives its own port after {host} gets the
            //  address without one (--addr-external may carry a port)
            if (!strncmp (p, "{host}", 6) && p [6] == ':' && isdigit ((unsigned char) p [7]))
                s_strip_port (host, buf, sizeof buf), sub = buf, skip = 6;
            else if (!strncmp (p, "{host}", 6)) sub = host, skip = 6;
            else if (!strncmp (p, "{name}", 6)) sub = s->name, skip = 6;
            else if (!strncmp (p, "{uid}", 5)) sub = s->uid [0] ? s->uid : s->name, skip = 5;
            else if (!strncmp (p, "{from}", 6))
                snprintf (buf, sizeof (buf), "%lld", (long long) from), sub = buf, skip = 6;
            else if (!strncmp (p, "{to}", 4))
                snprintf (buf, sizeof (buf), "%lld", (long long) to), sub = buf, skip = 4;
            else if (!strncmp (p, "{duration}", 10))
                snprintf (buf, sizeof (buf), "%lld", (long long) (to - from)), sub = buf, skip = 10;
        }
        if (sub) {
            size_t len = strlen (sub);
            if (at + len >= size)
                return -1;
            memcpy (out + at, sub, len);
            at += len;
            p += skip;
        }
        else {
            if (at + 1 >= size)
                return -1;
            out [at++] = *p++;
        }
    }
    out [at] = 0;
    return (int) at;
}

//  A template "-" means the server has no such link (an agent says so for
//  nginx-rtmp's RTSP): the link is empty
static int
s_build (char *out, size_t size, const char *tmpl, const char *host, const sf_stream_t *s,
         int64_t from, int64_t to)
{
    if (!strcmp (tmpl, "-")) {
        out [0] = 0;
        return 0;
    }
    return sf_link_build (out, size, tmpl, host, s, from, to);
}

#define S_RTSP_LIVE "rtsp://{host}:554/{name}"
#define S_HLS_LIVE  "http://{host}/{name}/index.m3u8"
#define S_RTSP_DVR  "rtsp://{host}:554/{name}?from={from}&to={to}"
#define S_HLS_DVR   "http://{host}/{name}/archive-{from}-{duration}.m3u8"

static const char *
s_host (const sf_node_t *n, const sf_stream_t *s)
{
    if (n && n->addr_external [0]) return n->addr_external;
    if (n && n->addr_internal [0]) return n->addr_internal;
    return s->node;
}

static const char *
s_pick (const char *a, const char *b, const char *def)
{
    return a && *a ? a : b && *b ? b : def;
}

void
sf_links_live (const sf_stream_t *s, const sf_node_t *n, char *rtsp, char *hls, size_t size)
{
    const char *host = s_host (n, s);
    if (s_build (rtsp, size, s_pick (s->rtsp_template, n ? n->rtsp_template : NULL, S_RTSP_LIVE),
                       host, s, 0, 0) < 0)
        rtsp [0] = 0;
    if (s_build (hls, size, s_pick (s->hls_template, n ? n->hls_template : NULL, S_HLS_LIVE),
                       host, s, 0, 0) < 0)
        hls [0] = 0;
}

void
sf_links_rtmp (const sf_stream_t *s, const sf_node_t *n, char *rtmp, size_t size)
{
    rtmp [0] = 0;
    const char *tmpl = s_pick (s->rtmp_template, n ? n->rtmp_template : NULL, "");
    if (*tmpl && s_build (rtmp, size, tmpl, s_host (n, s), s, 0, 0) < 0)
        rtmp [0] = 0;
}

void
sf_links_range (const sf_stream_t *s, const sf_node_t *n, int64_t from, int64_t to,
                char *rtsp, char *hls, size_t size)
{
    const char *host = s_host (n, s);
    if (s_build (rtsp, size, s_pick (NULL, n ? n->rtsp_dvr_template : NULL, S_RTSP_DVR),
                       host, s, from, to) < 0)
        rtsp [0] = 0;
    if (s_build (hls, size, s_pick (NULL, n ? n->hls_dvr_template : NULL, S_HLS_DVR),
                       host, s, from, to) < 0)
        hls [0] = 0;
}

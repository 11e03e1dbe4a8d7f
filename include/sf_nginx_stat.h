/*  sf_nginx_stat.h — the nginx-rtmp stat page, parsed (source "nginx-rtmp").

    nginx-rtmp's `rtmp_stat all` page lists, per application, each live
    stream: name, time (ms since it started), bw_in (bit/s, averaged by
    nginx over about 10 s, so 0 at first), bytes_in, nclients (publisher
    included), the clients themselves, meta video and audio, and the
    publishing and active flags. The stat page is per worker process: run
    nginx with `worker_processes 1;` or each poll sees a different subset.
    The adapter itself is `sf_source_nginx` (sf_source_find ("nginx-rtmp")).
*/
#ifndef SF_NGINX_STAT_H
#define SF_NGINX_STAT_H

#include "sf_source.h"

//  The adapter's own options
typedef struct {
    char stat_url [SF_URL_MAX];
    char rtmp_app [128];            //  application filter, empty = all
    int64_t rtmp_port;              //  nginx's RTMP listen port, for the RTMP link
} sf_nginx_config_t;

typedef struct {
    char app [SF_NAME_MAX + 1];
    char name [SF_NAME_MAX + 1];
    int64_t time_ms;
    uint64_t bw_in;                 //  bit/s
    uint64_t bytes_in;
    uint32_t nclients;              //  publisher included
    bool publishing;
    bool active;
    bool has_audio;
    char publisher [SF_ADDR_MAX + 1];   //  address of the publishing client
    sf_media_t media;
} sf_nginx_stream_t;

typedef struct {
    char version [SF_SHORT_MAX + 1];    //  "nginx/1.22.1 nginx-rtmp/1.1.4"
    int64_t uptime_s;
    sf_nginx_stream_t *streams;
    size_t count;
    size_t cap;                         //  streams allocated, reused by the next parse
} sf_nginx_stat_t;

//  Parses a stat page into stat, which is zeroed ({ 0 }) or holds a previous
//  parse (its array is reused). Keeps only application app_filter's streams
//  when it is not empty. 0, or -1 with err (not XML, not an nginx-rtmp stat
//  page; stat is then cleared). Free with sf_nginx_stat_clear.
int sf_nginx_stat_parse (const char *xml, size_t len, const char *app_filter,
                         sf_nginx_stat_t *stat, char *err, size_t errlen);
void sf_nginx_stat_clear (sf_nginx_stat_t *stat);

//  The same parse, handing each wanted stream to fn as the parser reaches
//  its end instead of storing it: the adapter maps streams straight into the
//  poll's set, so no copy of the page's 2,000 streams (1.4 MiB) is kept.
//  stat gets the version and uptime, and count the streams handed over;
//  its array is not touched. 0, or -1 with err (as above, and more than
//  SF_STREAMS_PER_NODE_MAX streams); the streams handed over before an
//  error stay handed over.
typedef void (sf_nginx_stream_fn) (const sf_nginx_stream_t *stream, void *arg);
int sf_nginx_stat_parse_each (const char *xml, size_t len, const char *app_filter,
                              sf_nginx_stream_fn *fn, void *arg,
                              sf_nginx_stat_t *stat, char *err, size_t errlen);

extern const sf_source_ops_t sf_source_nginx;
#endif

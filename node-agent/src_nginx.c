/*  src_nginx.c — source adapter for nginx with the RTMP module.

    Each poll GETs the stat page (--stat-url, within --http-timeout-ms),
    parses it with expat as it arrives, and turns each stream into a record
    as the parser reaches its end (the page is never held whole: at 2,000
    streams it is 1 MB):
      bitrate   bw_in / 1000; while nginx's bw_in is still 0 (it averages
                over ~10 s), the bytes_in delta since the previous poll;
      clients   nclients less the publisher;
      uptime    started_at_ms = now - time (ms; the stat page's <time> is
                the stream's age in ms), started_at its second (rounded),
                both held steady across polls so that rounding and the
                fetch's latency do not turn into a change every second;
      status    publishing and active -> active, publishing -> starting,
                neither -> suspend;
      audio     the stream's meta has an audio codec.
    A stream that stops publishing disappears from the stat page; this
    adapter keeps reporting it, as suspend, for as long as it runs, and so
    does every stream with an archive in the records directory: a camera
    that went quiet is an operator's question, not a vanished record.
    Then the source runner's enrichment adds DVR ranges (and, as suspend,
    every stream with an archive but no publisher), overrides, SDPs and
    node usage.
*/
#include "sf_nginx_stat.h"
#include "sf_alloc.h"
#include "sf_agent.h"
#include "sf_fetch.h"
#include "sf_log.h"
#include <curl/curl.h>
#include <expat.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STAT_MAX   (64 * 1024 * 1024)
#define S_DEPTH_MAX  32
#define S_TEXT_MAX   1024

//  --------------------------------------------------------------------------
//  Stat page parser

typedef struct {
    sf_nginx_stat_t *stat;
    const char *app_filter;
    int depth;
    bool root_seen;
    int app_depth, live_depth, stream_depth, client_depth, video_depth, audio_depth;
    char app [SF_NAME_MAX + 1];
    bool app_wanted;
    sf_nginx_stream_t cur;
    bool client_publishing;
    char client_addr [SF_ADDR_MAX + 1];
    char nginx_version [32], rtmp_version [32];
    char text [S_TEXT_MAX + 1];
    size_t text_len;
    bool too_many;              //  more than SF_STREAMS_PER_NODE_MAX streams
    sf_nginx_stream_fn *each;   //  streams go to each (not stored) when set
    void *each_arg;
    XML_Parser xml;
    bool xml_failed;            //  the text so far is not valid XML
} s_parser_t;

static void XMLCALL
s_start (void *arg, const XML_Char *el, const XML_Char **attrs)
{
    s_parser_t *p = arg;
    p->depth++;
    p->text_len = 0;
    p->text [0] = 0;
    if (p->depth == 1) {
        p->root_seen = !strcmp (el, "rtmp");
        return;
    }
    if (!strcmp (el, "application") && !p->app_depth) {
        p->app_depth = p->depth;
        p->app [0] = 0;
        p->app_wanted = false;
    }
    else
    if (!strcmp (el, "live") && p->app_depth && p->depth == p->app_depth + 1)
        p->live_depth = p->depth;
    else
    if (!strcmp (el, "stream") && p->live_depth && p->depth == p->live_depth + 1) {
        p->stream_depth = p->depth;
        memset (&p->cur, 0, sizeof (p->cur));
        SF_STRSET (p->cur.app, p->app);
    }
    else
    if (p->stream_depth && p->depth == p->stream_depth + 1 && !strcmp (el, "client")) {
        p->client_depth = p->depth;
        p->client_publishing = false;
        p->client_addr [0] = 0;
    }
    else
    if (p->client_depth && p->depth == p->client_depth + 1 && !strcmp (el, "publishing"))
        p->client_publishing = true;
    else
    if (p->stream_depth && p->depth == p->stream_depth + 2 && !strcmp (el, "video"))
        p->video_depth = p->depth;
    else
    if (p->stream_depth && p->depth == p->stream_depth + 2 && !strcmp (el, "audio"))
        p->audio_depth = p->depth;
    else
    if (p->stream_depth && p->depth == p->stream_depth + 1 && !strcmp (el, "publishing"))
        p->cur.publishing = true;
    else
    if (p->stream_depth && p->depth == p->stream_depth + 1 && !strcmp (el, "active"))
        p->cur.active = true;
}

static void XMLCALL
s_text (void *arg, const XML_Char *s, int len)
{
    s_parser_t *p = arg;
    size_t n = (size_t) len;
    if (p->text_len + n > S_TEXT_MAX)
        n = S_TEXT_MAX - p->text_len;
    memcpy (p->text + p->text_len, s, n);
    p->text_len += n;
    p->text [p->text_len] = 0;
}

static uint64_t
s_u64 (const char *s)
{
    return strtoull (s, NULL, 10);
}

static void
s_end_stream (s_parser_t *p)
{
    if (!p->app_wanted || !*p->cur.name)
        return;
    sf_nginx_stat_t *stat = p->stat;
    if (p->each) {
        if (stat->count == SF_STREAMS_PER_NODE_MAX) {
            p->too_many = true;
            return;
        }
        stat->count++;
        p->each (&p->cur, p->each_arg);
        return;
    }
    if (stat->count == stat->cap) {
        size_t cap = stat->cap ? stat->cap * 2 : 16;
        if (cap > SF_STREAMS_PER_NODE_MAX) {
            p->too_many = true;
            return;
        }
        stat->streams = sf_xreallocarray (stat->streams, cap, sizeof (sf_nginx_stream_t));
        stat->cap = cap;
    }
    stat->streams [stat->count++] = p->cur;
}

static void XMLCALL
s_end (void *arg, const XML_Char *el)
{
    s_parser_t *p = arg;
    const char *t = p->text;
    int d = p->depth;
    if (d == 2 && !strcmp (el, "nginx_version"))
        SF_STRSET (p->nginx_version, t);
    else
    if (d == 2 && !strcmp (el, "nginx_rtmp_version"))
        SF_STRSET (p->rtmp_version, t);
    else
    if (d == 2 && !strcmp (el, "uptime"))
        p->stat->uptime_s = (int64_t) s_u64 (t);
    else
    if (p->app_depth && d == p->app_depth + 1 && !strcmp (el, "name")) {
        SF_STRSET (p->app, t);
        p->app_wanted = !p->app_filter || !*p->app_filter || !strcmp (p->app_filter, t);
    }
    else
    if (p->client_depth && d == p->client_depth + 1 && !strcmp (el, "address"))
        SF_STRSET (p->client_addr, t);
    else
    if (p->client_depth == d) {
        if (p->client_publishing)
            SF_STRSET (p->cur.publisher, p->client_addr);
        p->client_depth = 0;
    }
    else
    if (p->video_depth && d == p->video_depth + 1) {
        if (!strcmp (el, "width"))
            p->cur.media.width = (uint32_t) s_u64 (t);
        else if (!strcmp (el, "height"))
            p->cur.media.height = (uint32_t) s_u64 (t);
        else if (!strcmp (el, "frame_rate"))
            p->cur.media.fps = strtod (t, NULL);
        else if (!strcmp (el, "codec"))
            SF_STRSET (p->cur.media.vcodec, t);
    }
    else
    if (p->audio_depth && d == p->audio_depth + 1) {
        if (!strcmp (el, "codec") && *t) {
            SF_STRSET (p->cur.media.acodec, t);
            p->cur.has_audio = true;
        }
    }
    else
    if (p->video_depth == d)
        p->video_depth = 0;
    else
    if (p->audio_depth == d)
        p->audio_depth = 0;
    else
    if (p->stream_depth && d == p->stream_depth + 1) {
        if (!strcmp (el, "name"))
            SF_STRSET (p->cur.name, t);
        else if (!strcmp (el, "time"))
            p->cur.time_ms = (int64_t) s_u64 (t);
        else if (!strcmp (el, "bw_in"))
            p->cur.bw_in = s_u64 (t);
        else if (!strcmp (el, "bytes_in"))
            p->cur.bytes_in = s_u64 (t);
        else if (!strcmp (el, "nclients"))
            p->cur.nclients = (uint32_t) s_u64 (t);
    }
    else
    if (p->stream_depth == d) {
        s_end_stream (p);
        p->stream_depth = 0;
    }
    else
    if (p->live_depth == d)
        p->live_depth = 0;
    else
    if (p->app_depth == d)
        p->app_depth = 0;
    p->depth--;
    p->text_len = 0;
    p->text [0] = 0;
}

//  A parse fed in pieces (a page as it arrives, or whole): begin, feed,
//  end. stat is zeroed but keeps its array for reuse.
static s_parser_t *
s_parser_new (sf_nginx_stat_t *stat, const char *app_filter, sf_nginx_stream_fn *each,
              void *each_arg)
{
    sf_nginx_stream_t *streams = stat->streams;
    size_t cap = stat->cap;
    memset (stat, 0, sizeof (*stat));
    stat->streams = streams;
    stat->cap = cap;
    s_parser_t *p = sf_xcalloc (1, sizeof (s_parser_t));
    p->each = each;
    p->each_arg = each_arg;
    p->xml = XML_ParserCreate (NULL);
    if (!p->xml)                //  expat's own allocation: the policy of sf_alloc.h
        sf_oom (sizeof (s_parser_t), __FILE__, __LINE__);
    p->stat = stat;
    p->app_filter = app_filter;
    XML_SetUserData (p->xml, p);
    XML_SetElementHandler (p->xml, s_start, s_end);
    XML_SetCharacterDataHandler (p->xml, s_text);
    return p;
}

//  0, or -1 once the text is not valid XML (s_parser_end says where)
static int
s_parser_feed (s_parser_t *p, const char *xml, size_t len, bool last)
{
    if (!p->xml_failed && XML_Parse (p->xml, xml, (int) len, last) == XML_STATUS_ERROR)
        p->xml_failed = true;
    return p->xml_failed ? -1 : 0;
}

//  The parse's verdict, and the parser freed: 0, or -1 with err (and stat
//  cleared)
static int
s_parser_end (s_parser_t **p_p, char *err, size_t errlen)
{
    s_parser_t *p = *p_p;
    sf_nginx_stat_t *stat = p->stat;
    int rc = 0;
    if (p->xml_failed) {
        snprintf (err, errlen, "stat page is not valid XML (line %lu: %s)",
                  (unsigned long) XML_GetCurrentLineNumber (p->xml),
                  XML_ErrorString (XML_GetErrorCode (p->xml)));
        rc = -1;
    }
    else
    if (!p->root_seen) {
        snprintf (err, errlen, "not an nginx-rtmp stat page (no <rtmp> root; is the URL's location `rtmp_stat all`?)");
        rc = -1;
    }
    else
    if (p->too_many) {
        snprintf (err, errlen, "more than %d streams", SF_STREAMS_PER_NODE_MAX);
        rc = -1;
    }
    else
        snprintf (stat->version, sizeof stat->version, "nginx/%.20s nginx-rtmp/%.20s",
                  p->nginx_version, p->rtmp_version);
    XML_ParserFree (p->xml);
    free (p);
    *p_p = NULL;
    if (rc)
        sf_nginx_stat_clear (stat);
    return rc;
}

static int
s_parse (const char *xml, size_t len, const char *app_filter, sf_nginx_stream_fn *each,
         void *each_arg, sf_nginx_stat_t *stat, char *err, size_t errlen)
{
    s_parser_t *p = s_parser_new (stat, app_filter, each, each_arg);
    s_parser_feed (p, xml, len, true);
    return s_parser_end (&p, err, errlen);
}

int
sf_nginx_stat_parse (const char *xml, size_t len, const char *app_filter,
                     sf_nginx_stat_t *stat, char *err, size_t errlen)
{
    return s_parse (xml, len, app_filter, NULL, NULL, stat, err, errlen);
}

int
sf_nginx_stat_parse_each (const char *xml, size_t len, const char *app_filter,
                          sf_nginx_stream_fn *fn, void *arg,
                          sf_nginx_stat_t *stat, char *err, size_t errlen)
{
    return s_parse (xml, len, app_filter, fn, arg, stat, err, errlen);
}

void
sf_nginx_stat_clear (sf_nginx_stat_t *stat)
{
    free (stat->streams);
    memset (stat, 0, sizeof (*stat));
}

//  --------------------------------------------------------------------------
//  The source adapter

//  What the adapter remembers of a stream between polls (forward)
typedef struct {
    char name [SF_NAME_MAX + 1];
    int64_t started_at;
    int64_t started_at_ms;
    uint64_t bytes_in;
    int64_t bytes_at_ms;            //  monotonic, 0 = no sample
    uint32_t bitrate_kbps;
    char app [SF_NAME_MAX + 1];     //  its application when last seen publishing
    bool live;                      //  on the stat page at the last poll
    bool filled;                    //  already in this poll's set
} s_known_t;

#define O(field) offsetof (sf_nginx_config_t, field), sizeof (((sf_nginx_config_t *) 0)->field)
static const sf_option_t s_options [] = {
    { "stat-url", SF_OPT_STR, O (stat_url), "http://127.0.0.1:8080/stat", 0, 0, "nginx-rtmp: stat page URL" },
    { "rtmp-app", SF_OPT_STR, O (rtmp_app), "", 0, 0, "nginx-rtmp: only this application" },
    { "rtmp-port", SF_OPT_INT, O (rtmp_port), "1935", 1, 65535,
      "nginx-rtmp: the port of its rtmp listen directive, for the RTMP link "
      "rtmp://{host}:PORT/APP/{name} (unless --rtmp-template is set)" },
    { NULL }
};
#undef O

typedef struct {
    sf_nginx_config_t cfg;          //  a copy: the adapter outlives no one
    int64_t timeout_ms;             //  --http-timeout-ms
    char hls_template [SF_ADDR_MAX + 1];    //  the default HLS link, from the stat URL
    bool rtmp_links;                        //  per-stream RTMP links (no --rtmp-template)
    sf_fetch_t *fetch;
    s_known_t *known;               //  sorted by name
    size_t nknown, known_cap;
    sf_nginx_stat_t stat;           //  the last parse; its array is reused
} s_nginx_t;

static void
s_destroy (void **state_p)
{
    s_nginx_t *self = *state_p;
    if (!self)
        return;
    sf_fetch_destroy (&self->fetch);
    sf_nginx_stat_clear (&self->stat);
    free (self->known);
    free (self);
    *state_p = NULL;
}

static void *
s_create (const sf_agent_config_t *agent, const void *config, char *err, size_t errlen)
{
    const sf_nginx_config_t *cfg = config;
    if (!*cfg->stat_url) {
        snprintf (err, errlen, "source nginx-rtmp needs --stat-url (the URL of a location with `rtmp_stat all`)");
        return NULL;
    }
    s_nginx_t *self = sf_xcalloc (1, sizeof (s_nginx_t));
    self->cfg = *cfg;
    self->timeout_ms = agent->http_timeout_ms;
    //  nginx serves HLS from the http server that serves the stat page
    //  (location /hls/ over hls_path: docs/adapters.md); its playlist is
    //  NAME/index.m3u8 with hls_nested on, which the archive's pattern
    //  ("{name}/...") tells, else NAME.m3u8 (nginx-rtmp's default)
    CURLU *u = curl_url ();
    char *scheme = NULL, *port = NULL;
    if (u && curl_url_set (u, CURLUPART_URL, cfg->stat_url, 0) == CURLUE_OK) {
        curl_url_get (u, CURLUPART_SCHEME, &scheme, 0);
        curl_url_get (u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT);
    }
    bool nested = *agent->records_path && !strncmp (agent->record_pattern, "{name}/", 7);
    snprintf (self->hls_template, sizeof self->hls_template, "%s://{host}:%s/hls/{name}%s",
              scheme ? scheme : "http", port ? port : "80", nested ? "/index.m3u8" : ".m3u8");
    self->rtmp_links = !*agent->rtmp_template;
    curl_free (scheme);
    curl_free (port);
    curl_url_cleanup (u);
    void *state = self;
    if (!(self->fetch = sf_fetch_new ())) {
        snprintf (err, errlen, "cannot initialise libcurl");
        s_destroy (&state);
        return NULL;
    }
    return self;
}

static int
s_known_cmp (const void *a, const void *b)
{
    return strcmp (((const s_known_t *) a)->name, ((const s_known_t *) b)->name);
}

//  The stream's memory, found or made: known [0 .. before) is sorted, the
//  names new in this poll follow it (the poll sorts them in at its end), and
//  a duplicate among those is found by a scan (a name twice on one page)
static s_known_t *
s_known_note (s_nginx_t *self, const char *name, size_t before)
{
    s_known_t key;
    SF_STRSET (key.name, name);
    s_known_t *k = before
        ? bsearch (&key, self->known, before, sizeof (s_known_t), s_known_cmp) : NULL;
    for (size_t j = before; j < self->nknown && !k; j++)
        if (!strcmp (self->known [j].name, key.name))
            k = &self->known [j];
    if (!k) {
        if (self->nknown == self->known_cap) {
            size_t cap = self->known_cap ? self->known_cap * 2 : 32;
            self->known = sf_xreallocarray (self->known, cap, sizeof (s_known_t));
            self->known_cap = cap;
        }
        k = &self->known [self->nknown++];
        memset (k, 0, sizeof (*k));
        SF_STRSET (k->name, key.name);
    }
    k->live = true;
    return k;
}

//  The stream's RTMP link, rtmp://{host}:PORT/APP/{name}: per stream, since
//  the application is the stream's (the operator's --rtmp-template, a node
//  template, replaces it)
static void
s_rtmp_link (const s_nginx_t *self, sf_stream_t *s, const char *app)
{
    if (!self->rtmp_links || !app || !*app)
        return;
    snprintf (s->rtmp_template, sizeof s->rtmp_template, "rtmp://{host}:%lld/%s/{name}",
              (long long) self->cfg.rtmp_port, app);
}

static void
s_fill_stream (s_nginx_t *self, sf_streamset_t *set, const sf_nginx_stream_t *ns,
               s_known_t *k, int64_t now_ms, int64_t mono_ms)
{
    //  A name already filled is the same stream name in a second
    //  application: the first wins
    if (k && k->filled)
        return;
    sf_stream_t *s = sf_streamset_add (set, ns->name);
    if (k)
        k->filled = true;
    SF_STRSET (s->uid, ns->name);
    s->type = SF_TYPE_PRIMARY;
    s->status = ns->publishing ? (ns->active ? SF_STATUS_ACTIVE : SF_STATUS_STARTING)
                               : SF_STATUS_SUSPEND;
    s->clients = ns->nclients > (ns->publishing ? 1u : 0u) ? ns->nclients - (ns->publishing ? 1 : 0) : 0;
    s->media = ns->media;
    if (ns->has_audio)
        s->functions |= SF_FN_AUDIO;

    //  Uptime: a new start moves started_at by more than rounding can.
    //  <time> is ms, so the start is known to the ms (less the fetch's
    //  latency): what migration tracking orders two starts in one second by
    int64_t started_ms = ns->publishing ? now_ms - ns->time_ms : 0;
    int64_t started = ns->publishing ? (started_ms + 500) / 1000 : 0;
    if (k && k->started_at && started && llabs (started - k->started_at) <= 2) {
        started = k->started_at;
        started_ms = k->started_at_ms;
    }
    s->started_at = started;
    s->started_at_ms = started_ms;

    uint32_t kbps = (uint32_t) (ns->bw_in / 1000);
    if (!kbps && k && k->bytes_at_ms && ns->bytes_in >= k->bytes_in && mono_ms > k->bytes_at_ms)
        kbps = (uint32_t) ((ns->bytes_in - k->bytes_in) * 8 / (uint64_t) (mono_ms - k->bytes_at_ms));
    s->bitrate_kbps = ns->publishing ? kbps : 0;
    if (k) {
        k->started_at = started;
        k->started_at_ms = started_ms;
        k->bytes_in = ns->bytes_in;
        k->bytes_at_ms = mono_ms;
        k->bitrate_kbps = s->bitrate_kbps;
    }
    if (k && ns->publishing)
        SF_STRSET (k->app, ns->app);
    s_rtmp_link (self, s, ns->app);
    char config [SF_NAME_MAX * 2 + SF_ADDR_MAX + 64];
    snprintf (config, sizeof config, "application %s; stream %s; publisher %s",
              ns->app, ns->name, *ns->publisher ? ns->publisher : "none");
    sf_text_set (&s->config, config);
}

//  One poll's mapping, stream by stream as the parser hands them over
typedef struct {
    s_nginx_t *self;
    sf_streamset_t *set;
    int64_t now_ms, mono_ms;
    size_t before;                  //  known [0 .. before) is sorted
} s_fill_t;

static void
s_on_stream (const sf_nginx_stream_t *ns, void *arg)
{
    s_fill_t *f = arg;
    s_known_t *k = s_known_note (f->self, ns->name, f->before);
    s_fill_stream (f->self, f->set, ns, k, f->now_ms, f->mono_ms);
}

//  The body as it arrives, into the parser; -1 stops the transfer once it
//  is not XML
static int
s_on_body (const char *data, size_t len, void *arg)
{
    return s_parser_feed (arg, data, len, false);
}

static int
s_poll (void *state, sf_streamset_t *set)
{
    s_nginx_t *self = state;
    sf_nginx_stat_t *stat = &self->stat;
    for (size_t i = 0; i < self->nknown; i++)
        self->known [i].live = self->known [i].filled = false;
    //  The page is parsed as it arrives and each stream mapped at its end:
    //  neither the body nor its streams are held whole. The clock is read
    //  when the request is made: the start of a stream (now - <time>) is
    //  then at most the fetch's latency early (it was late by as much when
    //  read after the body)
    s_fill_t fill = { self, set, sf_now_ms (), sf_mono_ms (), self->nknown };
    s_parser_t *p = s_parser_new (stat, self->cfg.rtmp_app, s_on_stream, &fill);
    long status = 0;
    int rc = sf_fetch_stream (self->fetch, self->cfg.stat_url, self->timeout_ms, S_STAT_MAX,
                              s_on_body, p, &status, set->error, sizeof set->error);
    if (rc == 0)
        s_parser_feed (p, NULL, 0, true);
    char err [256];
    int parsed = s_parser_end (&p, err, sizeof err);
    //  The names new in this poll, sorted in (a failed page's too: they
    //  were seen)
    if (self->nknown > fill.before)
        qsort (self->known, self->nknown, sizeof (s_known_t), s_known_cmp);
    if (rc == -1)
        return -1;              //  the fetch's own error is in set->error
    if (parsed) {
        snprintf (set->error, sizeof set->error, "%.120s: %.130s", self->cfg.stat_url, err);
        return -1;
    }
    int64_t now_ms = fill.now_ms;
    //  Streams seen before and gone from the page now: off, not forgotten
    for (size_t i = 0; i < self->nknown; i++) {
        s_known_t *k = &self->known [i];
        if (k->live || k->filled)
            continue;
        sf_stream_t *s = sf_streamset_add (set, k->name);
        SF_STRSET (s->uid, k->name);
        s->status = SF_STATUS_SUSPEND;
        s_rtmp_link (self, s, *k->app ? k->app : self->cfg.rtmp_app);
        k->started_at = k->started_at_ms = 0;
        k->bytes_at_ms = 0;
        k->bitrate_kbps = 0;
    }
    set->has_node = true;
    sf_node_init (&set->node);
    SF_STRSET (set->node.hls_template, self->hls_template);
    SF_STRSET (set->node.software_version, stat->version);
    set->node.started_at = stat->uptime_s ? now_ms / 1000 - stat->uptime_s : 0;
    return 0;
}

const sf_source_ops_t sf_source_nginx = {
    .name = "nginx-rtmp",
    .summary = "nginx with the RTMP module: its rtmp_stat page",
    .options = s_options, .config_size = sizeof (sf_nginx_config_t),
    .add_archived = true,
    //  nginx-rtmp speaks RTMP and serves HLS; it has no RTSP, and an
    //  archive link exists only where the operator configures one
    .rtsp_template = "-", .rtsp_dvr_template = "-", .hls_dvr_template = "-",
    //  nginx-rtmp's own defaults: hls_nested off, hls_fragment_naming sequential
    .record_pattern = "{name}-{seq}.ts",
    .create = s_create,
    .wait = NULL,
    .poll = s_poll,
    .destroy = s_destroy,
};

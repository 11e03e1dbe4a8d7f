/*  src_mediamtx.c — source adapter for MediaMTX's Control API v3
    (sf_mediamtx.h, docs/adapters.md "MediaMTX").

    MediaMTX reports no bitrate, no reconnect count and no archive in a
    path, so the adapter derives them: bitrate from the inbound byte
    counter between polls, reconnects from a change of the publishing
    session's id, DVR ranges from the playback server's /list (which merges
    adjacent segments). A path that disappears from the list (its publisher
    stopped) stays reported as suspend while the agent runs: a camera that
    went quiet is an operator's question, not a vanished record.

    Every request of a poll shares one deadline; any failed request fails
    the poll (the agent keeps the last good state, marked stale, and logs
    once per streak). What is cached per path (ranges, the publisher's
    session, the pulled source's URL) survives a failed poll.
*/
#include "sf_mediamtx.h"
#include "sf_alloc.h"
#include "sf_agent.h"
#include "sf_apisrc.h"
#include "sf_log.h"
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_RANGES_AGE_MS    10000
#define S_FETCHES_PER_POLL 32

#define O(field) offsetof (sf_mediamtx_config_t, field), sizeof (((sf_mediamtx_config_t *) 0)->field)
static const sf_option_t s_options [] = {
    { "mediamtx-url", SF_OPT_STR, O (url), "http://127.0.0.1:9997", 0, 0,
      "mediamtx: Control API base URL (api: yes, apiAddress)" },
    { "mediamtx-playback-url", SF_OPT_STR, O (playback_url), "", 0, 0,
      "mediamtx: playback server base URL (playback: yes) for DVR ranges; empty: no DVR" },
    { "mediamtx-user", SF_OPT_STR, O (user), "", 0, 0, "mediamtx: user with the api permission (basic auth)" },
    { "mediamtx-password", SF_OPT_STR, O (password), "", 0, 0, "mediamtx: that user's password" },
    { "mediamtx-token", SF_OPT_STR, O (token), "", 0, 0, "mediamtx: bearer token (authMethod jwt)" },
    { "mediamtx-metrics-url", SF_OPT_STR, O (metrics_url), "", 0, 0,
      "mediamtx: metrics listener base URL (metrics: yes, e.g. http://127.0.0.1:9998) to cross-check "
      "the API with; empty: not read" },
    { "mediamtx-page-items", SF_OPT_INT, O (page_items), "100", 1, 10000,
      "mediamtx: items asked for per page of a list" },
    { NULL }
};
#undef O

//  What the adapter keeps per path between polls
typedef struct {
    sf_dvr_t dvr;
    int64_t ranges_at_ms;
    bool recorded;                  //  in /v3/recordings/list at the last poll
    char session_id [SF_SHORT_MAX + 1];     //  the RTSP session described below
    char *session;                  //  "publisher ADDR over TRANSPORT, ..."
    char conf_name [SF_NAME_MAX + 1];       //  the config entry source_url is from
    char *source_url;
    bool conf_fetched;
} s_path_t;

typedef struct {
    sf_mediamtx_config_t cfg;
    int64_t timeout_ms;
    sf_apisrc_t *api;
    sf_apimemo_t memo;
    bool details_failing;           //  logged once per streak
    sf_mediamtx_metric_t *metrics;  //  this poll's /metrics, sorted by name
    size_t nmetrics;
    bool metrics_read;              //  this poll read them
    bool metrics_failing;           //  logged once per streak
    bool metrics_disagree;          //  logged once per streak
} s_mediamtx_t;

static void
s_path_free (void *data)
{
    s_path_t *p = data;
    free (p->dvr.ranges);
    free (p->session);
    free (p->source_url);
    free (p);
}

//  --------------------------------------------------------------------------
//  Mapping

static bool
s_is_audio (const char *codec)
{
    static const char *audio [] = {
        "Opus", "MPEG-4 Audio", "MPEG-1/2 Audio", "MPEG-1 Audio", "MPEG-2 Audio", "AC-3", "AC3",
        "G711", "G722", "G726", "LPCM", "Speex", "Vorbis", "AAC", "PCMA", "PCMU", NULL
    };
    for (int i = 0; audio [i]; i++)
        if (!strcasecmp (codec, audio [i]))
            return true;
    return strstr (codec, "Audio") != NULL;
}

static bool
s_is_video (const char *codec)
{
    static const char *video [] = {
        "H264", "H265", "AV1", "VP8", "VP9", "MPEG-4 Video", "MPEG-1/2 Video", "M-JPEG", "MJPEG", NULL
    };
    for (int i = 0; video [i]; i++)
        if (!strcasecmp (codec, video [i]))
            return true;
    return strstr (codec, "Video") != NULL;
}

static void
s_track (sf_stream_t *s, const char *codec, json_t *props)
{
    if (!codec)
        return;
    if (s_is_audio (codec)) {
        s->functions |= SF_FN_AUDIO;
        if (!*s->media.acodec)
            SF_STRSET (s->media.acodec, codec);
    }
    else
    if (s_is_video (codec) && !*s->media.vcodec) {
        SF_STRSET (s->media.vcodec, codec);
        if (json_is_object (props)) {
            s->media.width = sf_jv_u32 (props, "width");
            s->media.height = sf_jv_u32 (props, "height");
        }
    }
}

int
sf_mediamtx_path (json_t *item, sf_stream_t *s, sf_mediamtx_path_t *x)
{
    memset (x, 0, sizeof *x);
    const char *name = sf_jv_str (item, "name");
    if (!name || !*name || strlen (name) > SF_NAME_MAX)
        return -1;
    SF_STRSET (s->name, name);
    SF_STRSET (s->uid, name);
    const char *conf = sf_jv_str (item, "confName");
    if (conf)
        SF_STRSET (x->conf_name, conf);
    json_t *source = json_object_get (item, "source");
    if (json_is_object (source)) {
        const char *type = sf_jv_str (source, "type");
        const char *id = sf_jv_str (source, "id");
        if (type)
            SF_STRSET (x->source_type, type);
        if (id)
            SF_STRSET (x->source_id, id);
    }
    //  v1.16 split "ready" into available (readers can attach) and online
    //  (the real source, not the always-available filler); before, ready
    bool has_online = json_object_get (item, "online") != NULL;
    bool online = has_online ? sf_jv_bool (item, "online") : sf_jv_bool (item, "ready");
    bool available = json_object_get (item, "available")
                   ? sf_jv_bool (item, "available") : online;
    if (online)
        s->status = SF_STATUS_ACTIVE;
    else
    if (available)
        s->status = SF_STATUS_ERROR;        //  the filler plays: the camera is gone
    else
        s->status = json_is_object (source) ? SF_STATUS_STARTING : SF_STATUS_SUSPEND;
    if (online) {
        const char *since = has_online ? "onlineTime" : "readyTime";
        s->started_at = sf_jv_time (item, since);
        //  MediaMTX writes times as Go's RFC3339Nano (trailing zeros of the
        //  fraction dropped): a text is the start to the ms
        s->started_at_ms = sf_jv_rfc3339_ms (sf_jv_str (item, since));
    }
    json_t *readers = json_object_get (item, "readers");
    s->clients = json_is_array (readers) ? (uint32_t) json_array_size (readers) : 0;
    //  tracks2 (v1.17) has codec properties; tracks is the older label list
    json_t *tracks2 = json_object_get (item, "tracks2");
    json_t *tracks = json_object_get (item, "tracks");
    size_t i;
    json_t *t;
    if (json_is_array (tracks2)) {
        json_array_foreach (tracks2, i, t)
            s_track (s, sf_jv_str (t, "codec"), json_object_get (t, "codecProps"));
    }
    else
    if (json_is_array (tracks)) {
        json_array_foreach (tracks, i, t)
            s_track (s, json_string_value (t), NULL);
    }
    double bytes = 0;
    if (sf_jv_num (item, "inboundBytes", &bytes) || sf_jv_num (item, "bytesReceived", &bytes)) {
        x->inbound_bytes = bytes > 0 ? (uint64_t) bytes : 0;
        x->has_bytes = true;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Metrics: Prometheus's text exposition format, the few lines MediaMTX
//  writes per path ("paths{name="cam1",state="ready"} 1"). A small reader
//  of that line grammar (metric, {label="value",...}, value, optional
//  timestamp) rather than a client library: Debian packages none that parses.

static int
s_metric_cmp (const void *a, const void *b)
{
    return strcmp (((const sf_mediamtx_metric_t *) a)->name, ((const sf_mediamtx_metric_t *) b)->name);
}

//  Reads one label value ("..." with \\ \" \n escapes) into out; the
//  position after the closing quote, or NULL
static const char *
s_label_value (const char *p, const char *end, char *out, size_t size)
{
    if (p >= end || *p != '"')
        return NULL;
    size_t n = 0;
    for (p++; p < end && *p != '"'; p++) {
        char c = *p;
        if (c == '\\' && p + 1 < end) {
            p++;
            c = *p == 'n' ? '\n' : *p;
        }
        if (n + 1 < size)
            out [n++] = c;
        else
            return NULL;                //  longer than any name we keep
    }
    if (p >= end)
        return NULL;
    out [n] = 0;
    return p + 1;
}

int
sf_mediamtx_metrics (const char *text, size_t len, sf_mediamtx_metric_t **out, size_t *count,
                     char *err, size_t errlen)
{
    *out = NULL;
    *count = 0;
    sf_mediamtx_metric_t *items = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    const char *p = text, *stop = text + len;
    while (p < stop) {
        const char *eol = memchr (p, '\n', (size_t) (stop - p));
        const char *end = eol ? eol : stop;
        const char *line = p;
        p = eol ? eol + 1 : stop;
        lineno++;
        while (line < end && (*line == ' ' || *line == '\t'))
            line++;
        if (line == end || *line == '#')
            continue;
        const char *q = line;
        while (q < end && *q != '{' && *q != ' ' && *q != '\t')
            q++;
        size_t mlen = (size_t) (q - line);
        enum { M_NONE, M_STATE, M_BYTES, M_READERS } kind = M_NONE;
        if (mlen == 5 && !memcmp (line, "paths", 5))
            kind = M_STATE;
        else
        if ((mlen == 19 && !memcmp (line, "paths_inbound_bytes", 19))
        ||  (mlen == 20 && !memcmp (line, "paths_bytes_received", 20)))
            kind = M_BYTES;
        else
        if (mlen == 13 && !memcmp (line, "paths_readers", 13))
            kind = M_READERS;
        char name [SF_NAME_MAX + 1] = "", state [64] = "";
        if (q < end && *q == '{') {
            q++;
            while (q < end && *q != '}') {
                const char *k = q;
                while (q < end && *q != '=' && *q != '}')
                    q++;
                if (q >= end || *q != '=')
                    goto bad;
                size_t klen = (size_t) (q - k);
                char value [SF_NAME_MAX + 1];
                const char *after = s_label_value (q + 1, end, value, sizeof value);
                if (!after) {
                    //  A label too long for us (or malformed): skip the line
                    //  only if it is one we read; else it cannot matter
                    if (kind != M_NONE)
                        goto bad;
                    q = end;
                    break;
                }
                if (klen == 4 && !memcmp (k, "name", 4))
                    snprintf (name, sizeof name, "%s", value);
                else
                if (klen == 5 && !memcmp (k, "state", 5))
                    snprintf (state, sizeof state, "%.63s", value);
                q = after;
                if (q < end && *q == ',')
                    q++;
            }
            if (q < end)
                q++;                    //  the '}'
        }
        if (kind == M_NONE || !*name)
            continue;
        while (q < end && (*q == ' ' || *q == '\t'))
            q++;
        char num [64];
        size_t vlen = 0;
        while (q + vlen < end && q [vlen] != ' ' && q [vlen] != '\t' && vlen + 1 < sizeof num)
            vlen++;
        memcpy (num, q, vlen);
        num [vlen] = 0;
        char *numend;
        double value = strtod (num, &numend);
        if (!vlen || *numend || value != value)
            goto bad;
        //  One entry per line here; sorted and merged per path below
        sf_mediamtx_metric_t *m = NULL;
        {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                items = sf_xreallocarray (items, cap, sizeof *items);
            }
            m = &items [n++];
            memset (m, 0, sizeof *m);
            snprintf (m->name, sizeof m->name, "%s", name);
        }
        if (kind == M_STATE && value > 0) {
            m->has_state = true;
            m->online = !strcmp (state, "ready") || !strcmp (state, "online");
        }
        else
        if (kind == M_BYTES && value >= 0) {
            m->has_bytes = true;
            m->inbound_bytes = value < 1.8e19 ? (uint64_t) value : UINT64_MAX;
        }
        else
        if (kind == M_READERS && value >= 0) {
            m->has_readers = true;
            double sum = (double) m->readers + value;
            m->readers = sum < 4e9 ? (uint32_t) sum : UINT32_MAX;
        }
        continue;
bad:
        snprintf (err, errlen, "metrics line %zu: not the Prometheus text format", lineno);
        free (items);
        return -1;
    }
    if (n > 1)
        qsort (items, n, sizeof *items, s_metric_cmp);
    size_t merged = 0;
    for (size_t i = 0; i < n; i++) {
        sf_mediamtx_metric_t *m = merged ? &items [merged - 1] : NULL;
        if (!m || strcmp (m->name, items [i].name)) {
            items [merged++] = items [i];
            continue;
        }
        const sf_mediamtx_metric_t *o = &items [i];
        if (o->has_state) {
            m->has_state = true;
            m->online = m->online || o->online;
        }
        if (o->has_bytes) {
            m->has_bytes = true;
            m->inbound_bytes = o->inbound_bytes;
        }
        if (o->has_readers) {
            m->has_readers = true;
            uint64_t sum = (uint64_t) m->readers + o->readers;
            m->readers = sum > UINT32_MAX ? UINT32_MAX : (uint32_t) sum;
        }
    }
    *out = items;
    *count = merged;
    return 0;
}

int
sf_mediamtx_ranges (json_t *reply, sf_dvr_t *dvr, char *err, size_t errlen)
{
    if (!json_is_array (reply)) {
        snprintf (err, errlen, "playback list: expected an array of {start, duration}");
        return -1;
    }
    sf_dvr_t fresh = { 0 };
    size_t i;
    json_t *item;
    json_array_foreach (reply, i, item) {
        int64_t from = sf_jv_rfc3339 (sf_jv_str (item, "start"));
        double duration;
        if (!from || !sf_jv_num (item, "duration", &duration) || duration < 0 || duration > 1e9)
            continue;
        //  Within the bound, to >= from: the push cannot refuse it
        if (fresh.nranges >= SF_RANGES_MAX)
            break;
        sf_dvr_push_range (&fresh, from, from + (int64_t) (duration + 0.5));
    }
    sf_dvr_normalize (&fresh);
    free (dvr->ranges);
    dvr->ranges = fresh.ranges;
    dvr->nranges = fresh.nranges;
    return 0;
}

//  --------------------------------------------------------------------------
//  The adapter

static void
s_destroy (void **state_p)
{
    s_mediamtx_t *self = *state_p;
    if (!self)
        return;
    sf_apimemo_clear (&self->memo);
    sf_apisrc_destroy (&self->api);
    free (self->metrics);
    free (self);
    *state_p = NULL;
}

static void *
s_create (const sf_agent_config_t *agent, const void *config, char *err, size_t errlen)
{
    const sf_mediamtx_config_t *cfg = config;
    if (!*cfg->url) {
        snprintf (err, errlen, "source mediamtx needs --mediamtx-url (the Control API, e.g. http://127.0.0.1:9997)");
        return NULL;
    }
    if (*cfg->token && (*cfg->user || *cfg->password)) {
        snprintf (err, errlen, "mediamtx: give --mediamtx-token or --mediamtx-user/--mediamtx-password, not both");
        return NULL;
    }
    s_mediamtx_t *self = sf_xcalloc (1, sizeof (s_mediamtx_t));
    self->cfg = *cfg;
    self->timeout_ms = agent->http_timeout_ms;
    self->memo.free_data = s_path_free;
    sf_apiauth_t auth = *cfg->token ? SF_APIAUTH_BEARER : *cfg->user ? SF_APIAUTH_BASIC : SF_APIAUTH_NONE;
    self->api = sf_apisrc_new (cfg->url, auth, cfg->user, *cfg->token ? cfg->token : cfg->password,
                               err, errlen);
    if (!self->api) {
        free (self);
        return NULL;
    }
    return self;
}

static s_path_t *
s_path_of (sf_apimemo_entry_t *e)
{
    if (!e->data)
        e->data = sf_xcalloc (1, sizeof (s_path_t));
    return e->data;
}

//  What a list's items are read into
typedef struct {
    s_mediamtx_t *self;
    sf_streamset_t *set;
} s_each_t;

//  A v3 list at path ("/v3/paths/list"): numbered pages, to pageCount
static int
s_list (s_mediamtx_t *self, const char *path, int64_t deadline,
        int (*each) (json_t *item, void *arg, char *err, size_t errlen), sf_streamset_t *set,
        char *err, size_t errlen)
{
    sf_apilist_t list = { SF_APIPAGE_NUMBERED, path, "items", self->cfg.page_items,
                          "not a MediaMTX v3 list (no \"items\"; is this the Control API?)", NULL };
    s_each_t ctx = { self, set };
    return sf_apisrc_list (self->api, &list, deadline, each, &ctx, err, errlen);
}

static const sf_mediamtx_metric_t *
s_metric_find (const s_mediamtx_t *self, const char *name)
{
    if (!self->metrics_read || !self->nmetrics)
        return NULL;
    sf_mediamtx_metric_t key;
    snprintf (key.name, sizeof key.name, "%s", name);
    return bsearch (&key, self->metrics, self->nmetrics, sizeof key, s_metric_cmp);
}

//  Reads /metrics for this poll; a failure costs the cross-check only
static void
s_metrics_read (s_mediamtx_t *self, int64_t deadline)
{
    self->metrics_read = false;
    if (!*self->cfg.metrics_url)
        return;
    char err [512], *body;
    size_t len;
    free (self->metrics);
    self->metrics = NULL;
    self->nmetrics = 0;
    if (sf_apisrc_get_text_at (self->api, self->cfg.metrics_url, "/metrics", deadline, &body, &len,
                               err, sizeof err) == 0
    &&  sf_mediamtx_metrics (body, len, &self->metrics, &self->nmetrics, err, sizeof err) == 0) {
        self->metrics_read = true;
        if (self->metrics_failing)
            sf_info ("mediamtx: metrics read again");
        self->metrics_failing = false;
        return;
    }
    if (!self->metrics_failing)
        sf_warn ("mediamtx: metrics not read (%s); no cross-check until they are", err);
    self->metrics_failing = true;
}

//  The cross-check: each path the API listed against what the metrics say
//  of it. The Control API is what the records show (it is read path by
//  path, the metrics are a second view written at another instant); a
//  disagreement is written into the path's config text and logged once
//  per streak of polls that have one, naming the first and the count.
static void
s_cross_check (s_mediamtx_t *self, sf_streamset_t *set)
{
    if (!self->metrics_read)
        return;
    size_t disagree = 0;
    char first [600] = "";
    for (size_t i = 0; i < set->count; i++) {
        sf_stream_t *s = &set->items [i];
        const sf_mediamtx_metric_t *m = s_metric_find (self, s->name);
        char what [400] = "";
        bool api_online = s->status == SF_STATUS_ACTIVE;
        if (!m)
            snprintf (what, sizeof what, "not in the metrics");
        else
        if (m->has_state && m->online != api_online)
            snprintf (what, sizeof what, "metrics say %s, the API %s",
                      m->online ? "ready" : "not ready", api_online ? "online" : "not online");
        else
        if (m->has_readers && m->readers != s->clients)
            snprintf (what, sizeof what, "metrics count %u readers, the API %u", m->readers, s->clients);
        if (!*what)
            continue;
        if (!disagree++)
            snprintf (first, sizeof first, "%s: %s", s->name, what);
        char text [2048];
        snprintf (text, sizeof text, "%s; metrics disagree: %s", s->config ? s->config : "", what);
        sf_text_set (&s->config, text);
    }
    //  Paths in the metrics the API did not list (a list that changed while
    //  it was paged, or a path the API's user may not see)
    for (size_t i = 0; i < self->nmetrics; i++)
        if (!sf_streamset_find (set, self->metrics [i].name) && self->metrics [i].online)
            if (!disagree++)
                snprintf (first, sizeof first, "%s: ready in the metrics, not listed by the API",
                          self->metrics [i].name);
    if (disagree && !self->metrics_disagree)
        sf_warn ("mediamtx: the metrics disagree with the Control API on %zu path%s (%s); "
                 "reporting the API's values", disagree, disagree == 1 ? "" : "s", first);
    else
    if (!disagree && self->metrics_disagree)
        sf_info ("mediamtx: the metrics agree with the Control API again");
    self->metrics_disagree = disagree > 0;
}

static int
s_each_path (json_t *item, void *arg, char *err, size_t errlen)
{
    s_mediamtx_t *self = ((s_each_t *) arg)->self;
    sf_streamset_t *set = ((s_each_t *) arg)->set;
    sf_stream_t probe;
    sf_stream_init (&probe);
    sf_mediamtx_path_t x;
    if (sf_mediamtx_path (item, &probe, &x))
        return 0;                           //  no name: skipped
    if (sf_streamset_find (set, probe.name))
        return 0;                           //  listed twice: the first wins
    sf_apimemo_entry_t *e = sf_apimemo_get (&self->memo, probe.name);
    sf_stream_t *s = sf_streamset_add (set, probe.name);
    s_path_t *p = s_path_of (e);
    *s = probe;
    s->type = SF_TYPE_PRIMARY;
    //  An API item without a byte counter: the metrics' counter fills in
    const sf_mediamtx_metric_t *m = x.has_bytes ? NULL : s_metric_find (self, probe.name);
    if (m && m->has_bytes)
        x.inbound_bytes = m->inbound_bytes;
    s->bitrate_kbps = sf_apimemo_rate (e, x.inbound_bytes, sf_mono_ms ());
    if (s->status != SF_STATUS_ACTIVE)
        s->bitrate_kbps = 0;
    sf_apimemo_session (e, x.source_id);
    s->reconnect_total = e->reconnects;
    //  The publisher's RTSP session, described once per session
    bool rtsp_session = !strcmp (x.source_type, "rtspSession") || !strcmp (x.source_type, "rtspsSession");
    if (rtsp_session && strcmp (p->session_id, x.source_id)) {
        SF_STRSET (p->session_id, x.source_id);
        free (p->session);
        p->session = NULL;                  //  fetched after the list
    }
    if (strcmp (p->conf_name, x.conf_name)) {
        SF_STRSET (p->conf_name, x.conf_name);
        p->conf_fetched = false;
    }
    char text [1024];
    snprintf (text, sizeof text, "path %s (configuration entry %s); source %s %s",
              s->name, *x.conf_name ? x.conf_name : "?", *x.source_type ? x.source_type : "none",
              x.source_id);
    sf_text_set (&s->config, text);
    return 0;
}

static int
s_each_recording (json_t *item, void *arg, char *err, size_t errlen)
{
    s_mediamtx_t *self = ((s_each_t *) arg)->self;
    const char *name = sf_jv_str (item, "name");
    if (!name || !*name || strlen (name) > SF_NAME_MAX)
        return 0;
    s_path_of (sf_apimemo_get (&self->memo, name))->recorded = true;
    return 0;
}

//  Details after the list, within the deadline and a bounded number of
//  requests: RTSP sessions, pulled sources' URLs, DVR ranges that are due
static int
s_details (s_mediamtx_t *self, int64_t deadline, char *err, size_t errlen)
{
    int fetches = 0;
    for (size_t i = 0; i < self->memo.count && fetches < S_FETCHES_PER_POLL; i++) {
        sf_apimemo_entry_t *e = &self->memo.items [i];
        s_path_t *p = e->data;
        if (!p || !e->seen)
            continue;
        //  The list comes first: details wait for the next poll rather
        //  than start with too little of the deadline left
        if (deadline - sf_mono_ms () < self->timeout_ms / 4)
            break;
        char req [SF_NAME_MAX * 3 + 128];
        json_t *root;
        if (*p->session_id && !p->session) {
            char *id = curl_easy_escape (NULL, p->session_id, 0);
            snprintf (req, sizeof req, "/v3/rtspsessions/get/%s", id ? id : "");
            curl_free (id);
            fetches++;
            if (sf_apisrc_get (self->api, req, deadline, &root, err, errlen))
                return -1;
            char text [512];
            const char *addr = sf_jv_str (root, "remoteAddr");
            const char *transport = sf_jv_str (root, "transport");
            snprintf (text, sizeof text, "publisher %s over %s, state %s, %lld RTP packets lost",
                      addr ? addr : "?", transport ? transport : "?",
                      sf_jv_str (root, "state") ? sf_jv_str (root, "state") : "?",
                      (long long) sf_jv_int (root, "inboundRTPPacketsLost",
                                             sf_jv_int (root, "rtpPacketsLost", 0)));
            json_decref (root);
            p->session = sf_xstrdup (text);
        }
        if (*p->conf_name && !p->conf_fetched && fetches < S_FETCHES_PER_POLL) {
            char *conf = curl_easy_escape (NULL, p->conf_name, 0);
            snprintf (req, sizeof req, "/v3/config/paths/get/%s", conf ? conf : "");
            curl_free (conf);
            fetches++;
            if (sf_apisrc_get (self->api, req, deadline, &root, err, errlen))
                return -1;
            const char *source = sf_jv_str (root, "source");
            free (p->source_url);
            p->source_url = NULL;
            //  "publisher" and "redirect" are not URLs; a pulled source is
            if (source && strstr (source, "://") && strlen (source) < SF_URL_MAX)
                p->source_url = sf_xstrdup (source);
            json_decref (root);
            p->conf_fetched = true;
        }
        int64_t now = sf_mono_ms ();
        if (*self->cfg.playback_url && p->recorded && fetches < S_FETCHES_PER_POLL
        &&  (!p->ranges_at_ms || now - p->ranges_at_ms >= S_RANGES_AGE_MS)) {
            char *name = curl_easy_escape (NULL, e->key, 0);
            snprintf (req, sizeof req, "/list?path=%s", name ? name : "");
            curl_free (name);
            fetches++;
            if (sf_apisrc_get_at (self->api, self->cfg.playback_url, req, deadline, &root, err, errlen))
                return -1;
            int rc = sf_mediamtx_ranges (root, &p->dvr, err, errlen);
            json_decref (root);
            if (rc)
                return -1;
            p->ranges_at_ms = sf_mono_ms ();
        }
    }
    return 0;
}

static int
s_poll (void *state, sf_streamset_t *set)
{
    s_mediamtx_t *self = state;
    int64_t deadline = sf_mono_ms () + self->timeout_ms;
    char err [512];
    sf_apimemo_begin (&self->memo);
    for (size_t i = 0; i < self->memo.count; i++)
        if (self->memo.items [i].data)
            ((s_path_t *) self->memo.items [i].data)->recorded = false;
    s_metrics_read (self, deadline);
    int rc = s_list (self, "/v3/paths/list", deadline, s_each_path, set, err, sizeof err);
    if (!rc && *self->cfg.playback_url)
        rc = s_list (self, "/v3/recordings/list", deadline, s_each_recording, set, err, sizeof err);
    //  Details are worth less than the list: when they fail, the list is
    //  still reported with what was read of them before
    if (!rc && s_details (self, deadline, err, sizeof err)) {
        if (!self->details_failing)
            sf_warn ("mediamtx: path details not read (%s); reporting the list, details follow", err);
        self->details_failing = true;
    }
    else
    if (!rc)
        self->details_failing = false;
    sf_apimemo_end (&self->memo, false);
    if (rc) {
        snprintf (set->error, sizeof set->error, "%.250s", err);
        return -1;
    }
    s_cross_check (self, set);
    //  Known paths not listed now: stopped, reported as suspend; and the
    //  details kept per path go onto the records
    sf_apimemo_report_unseen (&self->memo, set);
    for (size_t i = 0; i < self->memo.count; i++) {
        sf_apimemo_entry_t *e = &self->memo.items [i];
        s_path_t *p = e->data;
        sf_stream_t *s = sf_streamset_find (set, e->key);
        if (!s || !p)
            continue;
        if (p->recorded || p->dvr.nranges) {
            s->functions |= SF_FN_DVR;
            //  A refusal is the record's bound (SF_RANGES_MAX): the rest waits
            for (uint32_t r = 0; r < p->dvr.nranges; r++)
                if (sf_dvr_push_range (&s->dvr, p->dvr.ranges [r].from, p->dvr.ranges [r].to))
                    break;
            if (s->status == SF_STATUS_ACTIVE && s->dvr.nranges)
                s->dvr.current_from = s->dvr.ranges [s->dvr.nranges - 1].from;
        }
        if (p->source_url)
            sf_text_set (&s->source_url, p->source_url);
        if (p->session && s->status != SF_STATUS_SUSPEND) {
            char text [2048];
            snprintf (text, sizeof text, "%s; %s", s->config ? s->config : "", p->session);
            sf_text_set (&s->config, text);
        }
    }
    return 0;
}

const sf_source_ops_t sf_source_mediamtx = {
    .name = "mediamtx",
    .summary = "MediaMTX: Control API v3 and its playback server",
    .options = s_options, .config_size = sizeof (sf_mediamtx_config_t),
    .rtsp_template = "rtsp://{host}:8554/{name}",
    .hls_template = "http://{host}:8888/{name}/index.m3u8",
    .create = s_create, .wait = NULL, .poll = s_poll, .destroy = s_destroy,
};

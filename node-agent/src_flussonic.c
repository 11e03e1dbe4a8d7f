/*  src_flussonic.c — source adapter for Flussonic's Streamer API v3
    (sf_flussonic.h, docs/adapters.md "Flussonic").

    One list carries everything: a stream's configuration and its stats,
    archive and inputs, so a poll is the list's pages and nothing else.
    Flussonic lists configured streams whether they run or not, so a
    stream that leaves the list was removed from the configuration and its
    record goes too. Every page of a poll shares one deadline; any failure
    fails the poll (the agent keeps the last good state, marked stale).
*/
#include "sf_flussonic.h"
#include "sf_alloc.h"
#include "sf_agent.h"
#include "sf_apisrc.h"
#include "sf_log.h"
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_SELECT    "name,title,disabled,static,inputs,dvr,stats"

#define O(field) offsetof (sf_flussonic_config_t, field), sizeof (((sf_flussonic_config_t *) 0)->field)
static const sf_option_t s_options [] = {
    { "flussonic-url", SF_OPT_STR, O (url), "http://127.0.0.1:80", 0, 0, "flussonic: the server's base URL" },
    { "flussonic-user", SF_OPT_STR, O (user), "", 0, 0, "flussonic: API user (edit_auth; basic auth)" },
    { "flussonic-password", SF_OPT_STR, O (password), "", 0, 0, "flussonic: that user's password" },
    { "flussonic-token", SF_OPT_STR, O (token), "", 0, 0, "flussonic: bearer token instead of user and password" },
    { "flussonic-page-items", SF_OPT_INT, O (page_items), "100", 1, 10000, "flussonic: streams asked for per page" },
    { NULL }
};
#undef O

typedef struct {
    sf_flussonic_config_t cfg;
    int64_t timeout_ms;
    sf_apisrc_t *api;
    sf_apimemo_t memo;
} s_flussonic_t;

static void
s_media (json_t *tracks, sf_stream_t *s)
{
    size_t i;
    json_t *t;
    json_array_foreach (tracks, i, t) {
        const char *content = sf_jv_str (t, "content");
        const char *codec = sf_jv_str (t, "codec");
        if (!content)
            continue;
        if (!strcmp (content, "audio")) {
            s->functions |= SF_FN_AUDIO;
            if (codec && !*s->media.acodec)
                SF_STRSET (s->media.acodec, codec);
        }
        else
        if (!strcmp (content, "video") && !*s->media.vcodec) {
            if (codec)
                SF_STRSET (s->media.vcodec, codec);
            s->media.width = sf_jv_u32 (t, "width");
            s->media.height = sf_jv_u32 (t, "height");
            double fps;
            if (sf_jv_num (t, "fps", &fps) && fps >= 0 && fps < 1000)
                s->media.fps = fps;
        }
    }
}

//  dvr_info: {from: utc s, depth: s, ranges: [{from: utc s, duration: s}]}
//  (Central adds opened_at/closed_at in utc_ms on ranges)
static void
s_dvr (json_t *info, sf_stream_t *s)
{
    s->dvr.depth_s = sf_jv_int (info, "depth", s->dvr.depth_s);
    json_t *ranges = json_object_get (info, "ranges");
    size_t i;
    json_t *r;
    json_array_foreach (ranges, i, r) {
        if (s->dvr.nranges >= SF_RANGES_MAX)
            break;
        int64_t from = sf_jv_int (r, "from", 0);
        int64_t duration = sf_jv_int (r, "duration", -1);
        int64_t opened = sf_jv_int (r, "opened_at", 0);
        int64_t closed = sf_jv_int (r, "closed_at", 0);
        if (from <= 0 && opened > 0)
            from = opened / 1000;
        int64_t to = duration >= 0 ? from + duration : closed > 0 ? closed / 1000 : from;
        if (from <= 0 || to < from)
            continue;
        sf_dvr_push_range (&s->dvr, from, to);     //  within the bound, to >= from
    }
    if (!json_array_size (ranges)) {
        int64_t from = sf_jv_int (info, "from", 0);
        int64_t duration = sf_jv_int (info, "duration", -1);
        if (from > 0 && duration >= 0)
            sf_dvr_push_range (&s->dvr, from, from + duration);
    }
    sf_dvr_normalize (&s->dvr);
}

int
sf_flussonic_stream (json_t *item, int64_t now_s, sf_stream_t *s, sf_flussonic_stream_t *x)
{
    memset (x, 0, sizeof *x);
    x->active_input = -1;
    const char *name = sf_jv_str (item, "name");
    if (!name || !*name || strlen (name) > SF_NAME_MAX)
        return -1;
    SF_STRSET (s->name, name);
    SF_STRSET (s->uid, name);
    json_t *stats = json_object_get (item, "stats");
    const char *sid = sf_jv_str (stats, "source_id");
    if (sid)
        SF_STRSET (x->source_id, sid);
    const char *status = sf_jv_str (stats, "status");
    json_t *alive = json_object_get (stats, "alive");
    bool running = status ? !strcmp (status, "running") : sf_jv_bool (stats, "running");
    if (sf_jv_bool (item, "disabled"))
        s->status = SF_STATUS_SUSPEND;
    else
    if (running)
        //  alive goes false when no frame came for 12 s
        s->status = json_is_false (alive) ? SF_STATUS_ERROR : SF_STATUS_ACTIVE;
    else
    if (status && !strcmp (status, "error"))
        s->status = SF_STATUS_ERROR;
    else
    if (status && !strcmp (status, "waiting"))
        s->status = SF_STATUS_STARTING;
    else
        s->status = json_is_object (stats) && json_object_get (stats, "retry_count")
                  ? SF_STATUS_STARTING : SF_STATUS_SUSPEND;
    bool active = s->status == SF_STATUS_ACTIVE;
    //  bitrate and input_bitrate are kbit/s ("speed")
    uint32_t kbps = sf_jv_u32 (stats, "input_bitrate");
    if (!kbps)
        kbps = sf_jv_u32 (stats, "bitrate");
    s->bitrate_kbps = active ? kbps : 0;
    s->clients = json_object_get (stats, "online_clients")
               ? sf_jv_u32 (stats, "online_clients") : sf_jv_u32 (stats, "client_count");
    if (active) {
        int64_t started_ms = sf_jv_int (stats, "started_at", 0);
        int64_t lifetime_ms = sf_jv_int (stats, "lifetime", -1);
        s->started_at = started_ms > 0 ? started_ms / 1000
                      : lifetime_ms >= 0 ? now_s - lifetime_ms / 1000 : 0;
        //  The server's own start is utc_ms: to the ms (lifetime counts
        //  from our clock, in seconds: no)
        s->started_at_ms = started_ms > 0 ? started_ms : 0;
    }
    s->reconnect_attempts = sf_jv_u32 (stats, "retry_count");
    s_media (json_object_get (sf_jv_path (stats, "media_info"), "tracks"), s);
    if (json_is_true (json_object_get (stats, "dvr_enabled"))
    ||  json_is_object (json_object_get (item, "dvr")))
        s->functions |= SF_FN_DVR;
    json_t *dvr_info = json_object_get (stats, "dvr_info");
    if (json_is_object (dvr_info)) {
        s->functions |= SF_FN_DVR;
        s_dvr (dvr_info, s);
        if (active && s->dvr.nranges)
            s->dvr.current_from = s->dvr.ranges [s->dvr.nranges - 1].from;
    }
    const char *root = sf_jv_str (json_object_get (item, "dvr"), "root");
    if (root)
        sf_text_set (&s->dvr.records_path, root);
    //  The input in use: the first is the primary source, others backups
    json_t *inputs = json_object_get (item, "inputs");
    x->ninputs = json_is_array (inputs) ? (int) json_array_size (inputs) : 0;
    size_t i;
    json_t *in;
    json_array_foreach (inputs, i, in)
        if (x->active_input < 0 && sf_jv_bool (json_object_get (in, "stats"), "active"))
            x->active_input = (int) i;
    json_t *used = json_array_get (inputs, x->active_input >= 0 ? (size_t) x->active_input : 0);
    const char *url = sf_jv_str (used, "url");
    if (url && strlen (url) < SF_URL_MAX)
        sf_text_set (&s->source_url, url);
    return 0;
}

static void
s_destroy (void **state_p)
{
    s_flussonic_t *self = *state_p;
    if (!self)
        return;
    sf_apimemo_clear (&self->memo);
    sf_apisrc_destroy (&self->api);
    free (self);
    *state_p = NULL;
}

static void *
s_create (const sf_agent_config_t *agent, const void *config, char *err, size_t errlen)
{
    const sf_flussonic_config_t *cfg = config;
    if (!*cfg->url) {
        snprintf (err, errlen, "source flussonic needs --flussonic-url (e.g. http://127.0.0.1:80)");
        return NULL;
    }
    if (*cfg->token && (*cfg->user || *cfg->password)) {
        snprintf (err, errlen, "flussonic: give --flussonic-token or --flussonic-user/--flussonic-password, not both");
        return NULL;
    }
    s_flussonic_t *self = sf_xcalloc (1, sizeof (s_flussonic_t));
    self->cfg = *cfg;
    self->timeout_ms = agent->http_timeout_ms;
    sf_apiauth_t auth = *cfg->token ? SF_APIAUTH_BEARER : *cfg->user ? SF_APIAUTH_BASIC : SF_APIAUTH_NONE;
    self->api = sf_apisrc_new (cfg->url, auth, cfg->user, *cfg->token ? cfg->token : cfg->password,
                               err, errlen);
    if (!self->api) {
        free (self);
        return NULL;
    }
    return self;
}

//  What a page's items are read into
typedef struct {
    s_flussonic_t *self;
    sf_streamset_t *set;
    int64_t now;
} s_each_t;

//  One item of /streamer/api/v3/streams into the set
static int
s_each_stream (json_t *item, void *arg, char *err, size_t errlen)
{
    s_each_t *c = arg;
    sf_streamset_t *set = c->set;
    const char *name = sf_jv_str (item, "name");
    if (!name || sf_streamset_find (set, name))
        return 0;
    sf_stream_t *s = sf_streamset_add (set, name);
    sf_flussonic_stream_t x;
    if (sf_flussonic_stream (item, c->now, s, &x)) {
        sf_stream_clear (s);
        set->count--;
        return 0;
    }
    //  A new source_id: the input changed (a reconnect or a switch)
    sf_apimemo_entry_t *e = sf_apimemo_get (&c->self->memo, name);
    sf_apimemo_session (e, x.source_id);
    s->reconnect_total = e->reconnects > s->reconnect_attempts ? e->reconnects : s->reconnect_attempts;
    char text [512];
    if (x.active_input > 0)
        snprintf (text, sizeof text, "stream %s; running on backup input %d of %d", name,
                  x.active_input + 1, x.ninputs);
    else
        snprintf (text, sizeof text, "stream %s; %s input of %d", name,
                  x.active_input == 0 ? "primary" : "no active", x.ninputs);
    sf_text_set (&s->config, text);
    return 0;
}

static int
s_poll (void *state, sf_streamset_t *set)
{
    s_flussonic_t *self = state;
    char err [512];
    sf_apimemo_begin (&self->memo);
    s_each_t ctx = { self, set, time (NULL) };
    sf_apilist_t list = { SF_APIPAGE_CURSOR, "/streamer/api/v3/streams?select=" S_SELECT, "streams",
                          self->cfg.page_items,
                          "no \"streams\" array (Flussonic before the v3 API?)", NULL };
    int rc = sf_apisrc_list (self->api, &list, sf_mono_ms () + self->timeout_ms, s_each_stream, &ctx,
                             err, sizeof err);
    //  Flussonic lists its configured streams: one not listed was removed
    sf_apimemo_end (&self->memo, rc == 0);
    if (rc) {
        snprintf (set->error, sizeof set->error, "%.250s", err);
        return -1;
    }
    return 0;
}

const sf_source_ops_t sf_source_flussonic = {
    .name = "flussonic",
    .summary = "Flussonic Media Server: Streamer API v3",
    .options = s_options, .config_size = sizeof (sf_flussonic_config_t),
    .rtsp_template = "rtsp://{host}:554/{name}",
    .hls_template = "http://{host}/{name}/index.m3u8",
    .hls_dvr_template = "http://{host}/{name}/index-{from}-{duration}.m3u8",
    .create = s_create, .wait = NULL, .poll = s_poll, .destroy = s_destroy,
};

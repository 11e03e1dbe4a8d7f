/*  src_srs.c — source adapter for SRS's HTTP API v1 (sf_srs.h,
    docs/adapters.md "SRS").

    SRS reports a stream's 30-second receive rate, its clients (publisher
    included), its publisher's client id and codecs; it has no uptime, no
    reconnect count and no archive. Uptime comes from the publishing
    client's `alive` (asked once per publisher), reconnects from a change
    of publish.cid, and the archive from the records directory scanner
    (SRS's dvr writes files there). SRS forgets a stream once its last
    client leaves: the adapter keeps it, as suspend, while it runs.

    Every request of a poll shares one deadline; any failure fails the poll
    and the agent keeps the last good state, marked stale.
*/
#include "sf_srs.h"
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

#define S_FETCHES_PER_POLL 32

#define O(field) offsetof (sf_srs_config_t, field), sizeof (((sf_srs_config_t *) 0)->field)
static const sf_option_t s_options [] = {
    { "srs-url", SF_OPT_STR, O (url), "http://127.0.0.1:1985", 0, 0, "srs: HTTP API base URL (http_api listen)" },
    { "srs-user", SF_OPT_STR, O (user), "", 0, 0, "srs: http_api.auth username (basic auth)" },
    { "srs-password", SF_OPT_STR, O (password), "", 0, 0, "srs: http_api.auth password" },
    { "srs-page-items", SF_OPT_INT, O (page_items), "100", 10, 10000, "srs: streams asked for per page" },
    { NULL }
};
#undef O

//  Per stream between polls
typedef struct {
    char publisher [SF_SHORT_MAX + 1];      //  whose alive started_at is from
    int64_t started_at;
    bool asked;                             //  the publisher's client was asked for
} s_memo_t;

typedef struct {
    char id [SF_SHORT_MAX + 1];
    char name [SF_NAME_MAX + 1];
} s_vhost_t;

typedef struct {
    sf_srs_config_t cfg;
    int64_t timeout_ms;
    sf_apisrc_t *api;
    sf_apimemo_t memo;
    s_vhost_t *vhosts;
    size_t nvhosts;
    bool clients_failing;           //  logged once per streak
} s_srs_t;

//  A string, or an integer id written as text (SRS 3)
static bool
s_id (json_t *obj, const char *key, char *buf, size_t size)
{
    json_t *v = json_object_get (obj, key);
    if (json_is_string (v))
        snprintf (buf, size, "%s", json_string_value (v));
    else
    if (json_is_integer (v))
        snprintf (buf, size, "%lld", (long long) json_integer_value (v));
    else {
        *buf = 0;
        return false;
    }
    return true;
}

int
sf_srs_stream (json_t *item, sf_stream_t *s, sf_srs_stream_t *x)
{
    memset (x, 0, sizeof *x);
    const char *name = sf_jv_str (item, "name");
    if (!name || !*name || strlen (name) > SF_NAME_MAX)
        return -1;
    SF_STRSET (x->stream, name);
    const char *app = sf_jv_str (item, "app");
    SF_STRSET (x->app, app ? app : "");
    s_id (item, "id", x->id, sizeof x->id);
    s_id (item, "vhost", x->vhost, sizeof x->vhost);
    json_t *publish = json_object_get (item, "publish");
    bool active = sf_jv_bool (publish, "active");
    if (active)
        s_id (publish, "cid", x->publisher, sizeof x->publisher);
    s->status = active ? SF_STATUS_ACTIVE : SF_STATUS_SUSPEND;
    //  clients counts every connection bound to the stream, the publisher too
    uint32_t clients = sf_jv_u32 (item, "clients");
    s->clients = active && clients ? clients - 1 : clients;
    json_t *kbps = json_object_get (item, "kbps");
    s->bitrate_kbps = active ? sf_jv_u32 (kbps, "recv_30s") : 0;
    json_t *video = json_object_get (item, "video");
    if (json_is_object (video)) {
        const char *codec = sf_jv_str (video, "codec");
        if (codec)
            SF_STRSET (s->media.vcodec, codec);
        s->media.width = sf_jv_u32 (video, "width");
        s->media.height = sf_jv_u32 (video, "height");
    }
    json_t *audio = json_object_get (item, "audio");
    if (json_is_object (audio)) {
        s->functions |= SF_FN_AUDIO;
        const char *codec = sf_jv_str (audio, "codec");
        if (codec)
            SF_STRSET (s->media.acodec, codec);
    }
    return 0;
}

static void
s_destroy (void **state_p)
{
    s_srs_t *self = *state_p;
    if (!self)
        return;
    sf_apimemo_clear (&self->memo);
    sf_apisrc_destroy (&self->api);
    free (self->vhosts);
    free (self);
    *state_p = NULL;
}

static void *
s_create (const sf_agent_config_t *agent, const void *config, char *err, size_t errlen)
{
    const sf_srs_config_t *cfg = config;
    if (!*cfg->url) {
        snprintf (err, errlen, "source srs needs --srs-url (the HTTP API, e.g. http://127.0.0.1:1985)");
        return NULL;
    }
    s_srs_t *self = sf_xcalloc (1, sizeof (s_srs_t));
    self->cfg = *cfg;
    self->timeout_ms = agent->http_timeout_ms;
    self->memo.free_data = free;
    self->api = sf_apisrc_new (cfg->url, *cfg->user ? SF_APIAUTH_BASIC : SF_APIAUTH_NONE,
                               cfg->user, cfg->password, err, errlen);
    if (!self->api) {
        free (self);
        return NULL;
    }
    return self;
}

//  SRS's envelope: {"code": 0, ...}; anything else is its error
static int
s_envelope (s_srs_t *self, const char *path, json_t *root, char *err, size_t errlen)
{
    int64_t code = sf_jv_int (root, "code", -1);
    if (!json_is_object (root) || code != 0) {
        snprintf (err, errlen, "%.200s%.100s: SRS answered code %lld (not an SRS HTTP API v1 reply?)",
                  self->cfg.url, path, (long long) code);
        return -1;
    }
    return 0;
}

static int
s_get (s_srs_t *self, const char *path, int64_t deadline, json_t **root, char *err, size_t errlen)
{
    if (sf_apisrc_get (self->api, path, deadline, root, err, errlen))
        return -1;
    if (s_envelope (self, path, *root, err, errlen)) {
        json_decref (*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

static const char *
s_vhost_name (s_srs_t *self, const char *id)
{
    for (size_t i = 0; i < self->nvhosts; i++)
        if (!strcmp (self->vhosts [i].id, id))
            return self->vhosts [i].name;
    return NULL;
}

static int
s_load_vhosts (s_srs_t *self, int64_t deadline, char *err, size_t errlen)
{
    json_t *root;
    if (s_get (self, "/api/v1/vhosts/", deadline, &root, err, errlen))
        return -1;
    json_t *list = json_object_get (root, "vhosts");
    size_t n = json_is_array (list) ? json_array_size (list) : 0;
    s_vhost_t *vhosts = sf_xcalloc (n, sizeof (s_vhost_t));
    size_t i, out = 0;
    json_t *v;
    json_array_foreach (list, i, v) {
        const char *name = sf_jv_str (v, "name");
        if (!s_id (v, "id", vhosts [out].id, sizeof vhosts [out].id) || !name)
            continue;
        SF_STRSET (vhosts [out].name, name);
        out++;
    }
    free (self->vhosts);
    self->vhosts = vhosts;
    self->nvhosts = out;
    json_decref (root);
    return 0;
}

//  The record's name: app/name on the default vhost, vhost/app/name on another
static void
s_name (s_srs_t *self, const sf_srs_stream_t *x, char *name, size_t size)
{
    const char *vhost = s_vhost_name (self, x->vhost);
    if (!vhost || !strcmp (vhost, "__defaultVhost__"))
        snprintf (name, size, "%s/%s", x->app, x->stream);
    else
        snprintf (name, size, "%s/%s/%s", vhost, x->app, x->stream);
}

//  What a page's items are read into
typedef struct {
    s_srs_t *self;
    sf_streamset_t *set;
    int64_t deadline;
    bool vhosts_loaded;
    int fetches;
} s_each_t;

static int
s_page_check (json_t *page, void *arg, char *err, size_t errlen)
{
    return s_envelope (((s_each_t *) arg)->self, "/api/v1/streams/", page, err, errlen);
}

//  One item of /api/v1/streams/ into the set
static int
s_each_stream (json_t *item, void *arg, char *err, size_t errlen)
{
    s_each_t *c = arg;
    s_srs_t *self = c->self;
    sf_streamset_t *set = c->set;
    char cerr [512];
    sf_stream_t probe;
    sf_stream_init (&probe);
    sf_srs_stream_t x;
    if (sf_srs_stream (item, &probe, &x))
        return 0;
    if (*x.vhost && !s_vhost_name (self, x.vhost) && !c->vhosts_loaded) {
        c->vhosts_loaded = true;
        if (s_load_vhosts (self, c->deadline, err, errlen))
            return -1;
    }
    char name [SF_NAME_MAX * 3 + 3];
    s_name (self, &x, name, sizeof name);
    if (strlen (name) > SF_NAME_MAX || sf_streamset_find (set, name))
        return 0;               //  too long, or listed twice: the first wins
    sf_apimemo_entry_t *e = sf_apimemo_get (&self->memo, name);
    if (!e->data)
        e->data = sf_xcalloc (1, sizeof (s_memo_t));
    sf_stream_t *s = sf_streamset_add (set, name);
    probe.config = NULL;
    memcpy (s->name, name, strlen (name) + 1);
    SF_STRSET (s->uid, name);
    s->status = probe.status;
    s->clients = probe.clients;
    s->bitrate_kbps = probe.bitrate_kbps;
    s->functions = probe.functions;
    s->media = probe.media;
    sf_apimemo_session (e, x.publisher);
    s->reconnect_total = e->reconnects;
    s_memo_t *m = e->data;
    if (strcmp (m->publisher, x.publisher)) {
        SF_STRSET (m->publisher, x.publisher);
        m->started_at = 0;
        m->asked = false;
    }
    //  Uptime: the publishing client's alive, asked once per publisher
    if (*x.publisher && !m->asked && c->fetches < S_FETCHES_PER_POLL
    &&  c->deadline - sf_mono_ms () >= self->timeout_ms / 4) {
        char *cid = curl_easy_escape (NULL, x.publisher, 0);
        char creq [SF_SHORT_MAX * 3 + 32];
        snprintf (creq, sizeof creq, "/api/v1/clients/%s", cid ? cid : "");
        curl_free (cid);
        c->fetches++;
        json_t *client;
        if (s_get (self, creq, c->deadline, &client, cerr, sizeof cerr)) {
            //  The list is worth more: uptime waits for the next poll
            if (!self->clients_failing)
                sf_warn ("srs: publisher %s not read (%s); uptime follows", x.publisher, cerr);
            self->clients_failing = true;
            c->fetches = S_FETCHES_PER_POLL;
            client = NULL;
        }
        else
            self->clients_failing = false;
        double alive;
        json_t *c = json_object_get (client, "client");
        if (!client)
            m->started_at = m->started_at ? m->started_at : e->first_seen;
        else {
            if (sf_jv_num (json_is_object (c) ? c : client, "alive", &alive) && alive >= 0)
                m->started_at = time (NULL) - (int64_t) (alive + 0.5);
            else
                m->started_at = e->first_seen;
            m->asked = true;
        }
        json_decref (client);
    }
    s->started_at = *x.publisher ? m->started_at : 0;
    char text [SF_NAME_MAX * 3 + 256];
    snprintf (text, sizeof text, "vhost %s; app %s; stream %s; id %s; publisher %s",
              s_vhost_name (self, x.vhost) ? s_vhost_name (self, x.vhost) : x.vhost,
              x.app, x.stream, x.id, *x.publisher ? x.publisher : "none");
    sf_text_set (&s->config, text);
    return 0;
}

static int
s_poll (void *state, sf_streamset_t *set)
{
    s_srs_t *self = state;
    char err [512];
    sf_apimemo_begin (&self->memo);
    s_each_t ctx = { self, set, sf_mono_ms () + self->timeout_ms, false, 0 };
    //  count always sent: SRS clamps it to at least 10
    sf_apilist_t list = { SF_APIPAGE_OFFSET, "/api/v1/streams/", "streams", self->cfg.page_items,
                          "no \"streams\" array", s_page_check };
    int rc = sf_apisrc_list (self->api, &list, ctx.deadline, s_each_stream, &ctx, err, sizeof err);
    sf_apimemo_end (&self->memo, false);
    //  Streams SRS forgot (no publisher, no player left): suspend
    if (!rc)
        sf_apimemo_report_unseen (&self->memo, set);
    if (rc) {
        snprintf (set->error, sizeof set->error, "%.250s", err);
        return -1;
    }
    return 0;
}

const sf_source_ops_t sf_source_srs = {
    .name = "srs",
    .summary = "SRS: HTTP API v1 streams and clients",
    .options = s_options, .config_size = sizeof (sf_srs_config_t),
    .add_archived = true,
    .hls_template = "http://{host}:8080/{name}.m3u8",
    .create = s_create, .wait = NULL, .poll = s_poll, .destroy = s_destroy,
};

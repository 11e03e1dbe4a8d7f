/*  src_aipix.c — source adapter for Aipix-style media server REST APIs.

    The list is cheap and read every poll; per-stream details and ranges
    cost one request each, so they are cached per uid and refreshed only
    when due (new stream, restart, reconnect, or age), a bounded number per
    poll. The whole poll shares one deadline, --http-timeout-ms: a hung
    server fails the poll within it rather than once per stream. Any failed
    request fails the poll (the agent then keeps the last good state, marked
    stale); whatever was cached stays for the next poll.

    The parsers accept the shapes such APIs use in practice: a bare array or
    an object wrapping it ("streams", "results", "data", "items"), numbers
    sent as strings, times as unix seconds, milliseconds or ISO 8601. A reply
    that is not JSON, or not the expected shape, is an error; a single item
    without a usable name is skipped.
*/
#include "sf_aipix.h"
#include "sf_alloc.h"
#include "sf_agent.h"
#include "sf_fetch.h"
#include "sf_log.h"
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_REPLY_MAX       (32 * 1024 * 1024)
#define S_DETAIL_AGE_MS   30000
#define S_RANGES_AGE_MS   10000
#define S_SERVER_AGE_MS   5000
#define S_FETCHES_PER_POLL 32

//  --------------------------------------------------------------------------
//  JSON helpers

static json_t *
s_load (const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        snprintf (err, errlen, "reply is not JSON (line %d: %s)", jerr.line, jerr.text);
    return root;
}

//  The array in a reply: the reply itself, or one of the usual wrappers
static json_t *
s_array (json_t *root, const char *extra)
{
    if (json_is_array (root))
        return root;
    if (!json_is_object (root))
        return NULL;
    const char *keys [] = { extra, "streams", "results", "data", "items", NULL };
    for (int i = 0; keys [i] || i == 0; i++) {
        if (!keys [i])
            continue;
        json_t *a = json_object_get (root, keys [i]);
        if (json_is_array (a))
            return a;
    }
    return NULL;
}

//  An object reply, unwrapped from {"data": {...}} or {"stream": {...}}
static json_t *
s_object (json_t *root)
{
    if (!json_is_object (root))
        return NULL;
    json_t *inner = json_object_get (root, "data");
    if (json_is_object (inner))
        return inner;
    inner = json_object_get (root, "stream");
    if (json_is_object (inner))
        return inner;
    return root;
}

static bool
s_num (json_t *obj, const char *key, double *value)
{
    json_t *v = json_object_get (obj, key);
    if (json_is_number (v))
        *value = json_number_value (v);
    else
    if (json_is_string (v) && *json_string_value (v)) {
        char *end;
        *value = strtod (json_string_value (v), &end);
        if (*end)
            return false;
    }
    else
    if (json_is_boolean (v))
        *value = json_is_true (v);
    else
        return false;
    return isfinite (*value);
}

static int64_t
s_int (json_t *obj, const char *key, int64_t dflt)
{
    double v;
    if (!s_num (obj, key, &v) || v > 9e18 || v < -9e18)
        return dflt;
    return (int64_t) v;
}

static uint32_t
s_u32 (json_t *obj, const char *key)
{
    int64_t v = s_int (obj, key, 0);
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
}

static bool
s_bool (json_t *obj, const char *key)
{
    json_t *v = json_object_get (obj, key);
    if (json_is_string (v)) {
        const char *s = json_string_value (v);
        return !strcasecmp (s, "true") || !strcasecmp (s, "on") || !strcmp (s, "1");
    }
    return json_is_true (v) || (json_is_number (v) && json_number_value (v) != 0);
}

//  A string field, or a number written as text; NULL when absent
static const char *
s_str (json_t *obj, const char *key, char *buf, size_t size)
{
    json_t *v = json_object_get (obj, key);
    if (json_is_string (v))
        return json_string_value (v);
    if (json_is_integer (v)) {
        snprintf (buf, size, "%lld", (long long) json_integer_value (v));
        return buf;
    }
    return NULL;
}

//  Unix seconds from seconds, milliseconds or an ISO 8601 text; 0 if none
static int64_t
s_time (json_t *obj, const char *key)
{
    json_t *v = json_object_get (obj, key);
    double d;
    if (s_num (obj, key, &d)) {
        if (d > 1e11)
            d /= 1000;
        //  Beyond what int64_t holds (1E98): unknown, not undefined behaviour
        return d < 9e18 && d > -9e18 ? (int64_t) d : 0;
    }
    if (json_is_string (v)) {
        struct tm tm = { 0 };
        const char *rest = strptime (json_string_value (v), "%Y-%m-%dT%H:%M:%S", &tm);
        if (!rest)
            rest = strptime (json_string_value (v), "%Y-%m-%d %H:%M:%S", &tm);
        if (rest) {
            int64_t t = (int64_t) timegm (&tm);
            //  A zone offset after the seconds ("+03:00"); fractions skipped
            while (*rest == '.' || (*rest >= '0' && *rest <= '9'))
                rest++;
            int sh, sm;
            if ((*rest == '+' || *rest == '-') && sscanf (rest + 1, "%2d:%2d", &sh, &sm) == 2)
                t += (*rest == '+' ? -1 : 1) * (sh * 3600 + sm * 60);
            return t;
        }
    }
    return 0;
}

static int
s_status (json_t *item)
{
    json_t *v = json_object_get (item, "status");
    if (json_is_integer (v)) {
        json_int_t i = json_integer_value (v);
        return i >= 0 && i < SF_STATUS_OFFLINE ? (int) i : SF_STATUS_ERROR;
    }
    const char *s = json_string_value (v);
    if (!s)
        return SF_STATUS_ERROR;
    int status = sf_status_parse (s);
    if (status >= 0 && status != SF_STATUS_OFFLINE)
        return status;
    static const struct { const char *name; int status; } aliases [] = {
        { "running", SF_STATUS_ACTIVE }, { "online", SF_STATUS_ACTIVE },
        { "work", SF_STATUS_ACTIVE }, { "working", SF_STATUS_ACTIVE },
        { "suspended", SF_STATUS_SUSPEND }, { "stopped", SF_STATUS_SUSPEND },
        { "stop", SF_STATUS_SUSPEND }, { "inactive", SF_STATUS_SUSPEND },
        { "disabled", SF_STATUS_SUSPEND }, { "connecting", SF_STATUS_STARTING },
        { "pending", SF_STATUS_STARTING }, { "failed", SF_STATUS_ERROR },
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases [0]; i++)
        if (!strcasecmp (s, aliases [i].name))
            return aliases [i].status;
    return SF_STATUS_ERROR;
}

//  --------------------------------------------------------------------------
//  Parsers

static int
s_index_cmp (const void *a, const void *b, void *arg)
{
    const sf_streamset_t *set = arg;
    size_t x = *(const size_t *) a, y = *(const size_t *) b;
    int cmp = strcmp (set->items [x].name, set->items [y].name);
    return cmp ? cmp : (x < y ? -1 : x > y);
}

//  A name listed twice keeps its first entry. Sorting an index finds the
//  repeats in n log n; a lookup per item would be quadratic at thousands.
static void
s_drop_duplicates (sf_streamset_t *set, size_t first)
{
    size_t n = set->count - first;
    if (n < 2)
        return;
    size_t *index = sf_xcalloc (n, sizeof (size_t));
    bool *drop = sf_xcalloc (n, sizeof (bool));
    for (size_t i = 0; i < n; i++)
        index [i] = first + i;
    qsort_r (index, n, sizeof (size_t), s_index_cmp, set);
    size_t dropped = 0;
    for (size_t i = 1; i < n; i++)
        if (!strcmp (set->items [index [i]].name, set->items [index [i - 1]].name)) {
            drop [index [i] - first] = true;
            dropped++;
        }
    if (dropped) {
        size_t out = first;
        for (size_t i = first; i < set->count; i++) {
            if (drop [i - first])
                sf_stream_clear (&set->items [i]);
            else
                set->items [out++] = set->items [i];
        }
        set->count = out;
    }
    free (index);
    free (drop);
}

int
sf_aipix_parse_list (const char *json, size_t len, sf_streamset_t *set, char *err, size_t errlen)
{
    size_t first = set->count;
    json_t *root = s_load (json, len, err, errlen);
    if (!root)
        return -1;
    json_t *items = s_array (root, NULL);
    if (!items) {
        snprintf (err, errlen, "stream list: expected an array of streams (or {\"streams\": [...]})");
        json_decref (root);
        return -1;
    }
    if (json_array_size (items) > SF_STREAMS_PER_NODE_MAX) {
        snprintf (err, errlen, "stream list: more than %d streams", SF_STREAMS_PER_NODE_MAX);
        json_decref (root);
        return -1;
    }
    size_t i;
    json_t *item;
    json_array_foreach (items, i, item) {
        if (!json_is_object (item))
            continue;
        char nbuf [32], ubuf [32];
        const char *name = s_str (item, "stream_name", nbuf, sizeof nbuf);
        if (!name)
            name = s_str (item, "name", nbuf, sizeof nbuf);
        const char *uid = s_str (item, "uid", ubuf, sizeof ubuf);
        if (!name || !*name)
            name = uid;
        if (!name || !*name || strlen (name) > SF_NAME_MAX || (uid && strlen (uid) > SF_NAME_MAX))
            continue;
        sf_stream_t *s = sf_streamset_add (set, name);
        if (uid && *uid)
            SF_STRSET (s->uid, uid);
        json_t *type = json_object_get (item, "type");
        if (json_is_string (type) && sf_type_parse (json_string_value (type)) == SF_TYPE_SECONDARY)
            s->type = SF_TYPE_SECONDARY;
        else
        if (json_is_integer (type) && json_integer_value (type) == SF_TYPE_SECONDARY)
            s->type = SF_TYPE_SECONDARY;
        s->status = (uint8_t) s_status (item);
        if (s_bool (item, "dvr_enabled"))
            s->functions |= SF_FN_DVR;
        if (s_bool (item, "track_audio"))
            s->functions |= SF_FN_AUDIO;
        if (s_bool (item, "photo_enabled"))
            s->functions |= SF_FN_PHOTO;
        int64_t bps = s_int (item, "bitrate_in", 0);
        s->bitrate_kbps = bps > 0 ? (uint32_t) ((bps + 500) / 1000 > UINT32_MAX ? UINT32_MAX : (bps + 500) / 1000) : 0;
        s->clients = s_u32 (item, "clients_count");
        s->reconnect_attempts = s_u32 (item, "reconnect_attempt");
        s->reconnect_total = s_u32 (item, "reconnect_total");
        s->started_at = s_time (item, "src_start_time");
    }
    json_decref (root);
    s_drop_duplicates (set, first);
    return 0;
}

int
sf_aipix_parse_detail (const char *json, size_t len, sf_stream_t *stream, char *err, size_t errlen)
{
    json_t *root = s_load (json, len, err, errlen);
    if (!root)
        return -1;
    json_t *obj = s_object (root);
    if (!obj) {
        snprintf (err, errlen, "stream detail: expected an object");
        json_decref (root);
        return -1;
    }
    char buf [32];
    //  The configuration is shown to be copied: keep text as it is, and
    //  print an object the way an operator would paste it back
    json_t *config = json_object_get (obj, "config");
    if (json_is_string (config))
        sf_text_set (&stream->config, json_string_value (config));
    else
    if (json_is_object (config) || json_is_array (config)) {
        char *text = json_dumps (config, JSON_INDENT (2) | JSON_SORT_KEYS);
        if (text && strlen (text) <= SF_TEXT_MAX)
            sf_text_set (&stream->config, text);
        free (text);
    }
    const char *s;
    if ((s = s_str (obj, "config_path", buf, sizeof buf)))
        sf_text_set (&stream->config_path, s);
    if ((s = s_str (obj, "playback_uuid", buf, sizeof buf)) || (s = s_str (obj, "uuid", buf, sizeof buf)))
        SF_STRSET (stream->playback_uuid, s);

    json_t *dvr = json_object_get (obj, "dvr");
    if (json_is_object (dvr)) {
        if ((s = s_str (dvr, "records_path", buf, sizeof buf)))
            sf_text_set (&stream->dvr.records_path, s);
        stream->dvr.depth_s = s_int (dvr, "duration_archive", stream->dvr.depth_s);
        stream->dvr.chunk_s = (int32_t) s_int (dvr, "duration_chunk", stream->dvr.chunk_s);
        stream->dvr.memory_bytes = (uint64_t) s_int (dvr, "ranges_memory", (int64_t) stream->dvr.memory_bytes);
        int64_t disk = s_int (dvr, "disk_free", -1);
        if (disk < 0)
            disk = s_int (dvr, "available_space", -1);
        if (disk >= 0)
            stream->dvr.disk_free_bytes = (uint64_t) disk;
        int64_t current = s_time (dvr, "current_range_start");
        if (current)
            stream->dvr.current_from = current;
    }
    json_t *source = json_object_get (obj, "source");
    if (json_is_object (source)) {
        if ((s = s_str (source, "url", buf, sizeof buf)) && strlen (s) < SF_URL_MAX)
            sf_text_set (&stream->source_url, s);
        if ((s = s_str (source, "sdp", buf, sizeof buf)) && strlen (s) <= SF_TEXT_MAX)
            sf_text_set (&stream->source_sdp, s);
        int64_t ping = s_int (source, "ping", -1);
        if (ping >= 0)
            stream->ping_ms = (int32_t) (ping > INT32_MAX ? INT32_MAX : ping);
    }
    json_t *video = json_object_get (obj, "video");
    if (json_is_object (video)) {
        if ((s = s_str (video, "codec", buf, sizeof buf)))
            SF_STRSET (stream->media.vcodec, s);
        stream->media.width = s_u32 (video, "width");
        stream->media.height = s_u32 (video, "height");
        double fps;
        if (s_num (video, "fps", &fps) && fps >= 0 && fps < 1000)
            stream->media.fps = fps;
    }
    json_t *audio = json_object_get (obj, "audio");
    if (json_is_object (audio) && (s = s_str (audio, "codec", buf, sizeof buf)))
        SF_STRSET (stream->media.acodec, s);
    json_decref (root);
    return 0;
}

int
sf_aipix_parse_ranges (const char *json, size_t len, sf_dvr_t *dvr, char *err, size_t errlen)
{
    json_t *root = s_load (json, len, err, errlen);
    if (!root)
        return -1;
    json_t *items = s_array (root, "ranges");
    if (!items) {
        snprintf (err, errlen, "ranges: expected {\"ranges\": [{\"from\", \"end\", \"duration\"}...]}");
        json_decref (root);
        return -1;
    }
    free (dvr->ranges);
    dvr->ranges = NULL;
    dvr->nranges = 0;
    //  Servers list ranges oldest first, but nothing promises it: collect,
    //  sort and merge, keeping the newest when there are too many
    sf_dvr_t all = { 0 };
    size_t i;
    json_t *item;
    json_array_foreach (items, i, item) {
        if (!json_is_object (item))
            continue;
        int64_t from = s_time (item, "from");
        int64_t to = s_time (item, "end");
        if (!to) {
            int64_t duration = s_int (item, "duration", -1);
            if (duration >= 0)
                to = from + duration;
        }
        if (from <= 0 || to < from)
            continue;
        //  Push without merging; normalize below
        if (all.nranges >= SF_RANGES_MAX * 4u)
            break;
        all.ranges = sf_xreallocarray (all.ranges, all.nranges + 1, sizeof (sf_range_t));
        all.ranges [all.nranges].from = from;
        all.ranges [all.nranges].to = to;
        all.nranges++;
    }
    json_decref (root);
    //  Sorted, from <= to, at most SF_RANGES_MAX: the adds cannot refuse one
    sf_dvr_normalize (&all);
    uint32_t first = all.nranges > SF_RANGES_MAX ? all.nranges - SF_RANGES_MAX : 0;
    for (uint32_t k = first; k < all.nranges; k++)
        sf_dvr_add_range (dvr, all.ranges [k].from, all.ranges [k].to);
    free (all.ranges);
    return 0;
}

int
sf_aipix_parse_server (const char *json, size_t len, sf_node_t *node, char *err, size_t errlen)
{
    json_t *root = s_load (json, len, err, errlen);
    if (!root)
        return -1;
    json_t *obj = s_object (root);
    if (!obj) {
        snprintf (err, errlen, "server: expected an object");
        json_decref (root);
        return -1;
    }
    double v;
    if (s_num (obj, "cpu", &v) && v >= 0 && v <= 100 * 1024)
        node->cpu_pct = v;
    json_t *mem = json_object_get (obj, "mem");
    if (json_is_object (mem)) {
        int64_t used = s_int (mem, "used", -1), total = s_int (mem, "total", -1);
        if (used >= 0)
            node->mem_used_bytes = (uint64_t) used;
        if (total >= 0)
            node->mem_total_bytes = (uint64_t) total;
    }
    else
    if (s_num (obj, "mem", &v) && v >= 0)
        node->mem_used_bytes = (uint64_t) v;
    json_t *drives = json_object_get (obj, "drives");
    if (json_is_array (drives) && json_array_size (drives)) {
        node->ndisks = 0;
        size_t i;
        json_t *d;
        json_array_foreach (drives, i, d) {
            if (!json_is_object (d) || node->ndisks >= SF_DISKS_MAX)
                continue;
            char buf [32];
            const char *mount = s_str (d, "path", buf, sizeof buf);
            if (!mount)
                mount = s_str (d, "mount", buf, sizeof buf);
            if (!mount)
                continue;
            sf_disk_t *disk = &node->disks [node->ndisks++];
            SF_STRSET (disk->mount, mount);
            int64_t free_b = s_int (d, "free", 0), total = s_int (d, "total", -1);
            if (total < 0)
                total = s_int (d, "size", 0);
            disk->free_bytes = free_b > 0 ? (uint64_t) free_b : 0;
            disk->total_bytes = total > 0 ? (uint64_t) total : 0;
        }
    }
    json_decref (root);
    return 0;
}

//  --------------------------------------------------------------------------
//  The source adapter

//  What the adapter caches of one stream between polls
typedef struct {
    sf_stream_t detail;             //  detail and ranges, by the stream's uid
    int64_t detail_at_ms;           //  monotonic; 0 = never
    int64_t ranges_at_ms;
    int64_t started_at;             //  list values at the last detail fetch
    uint32_t reconnect_total;
    uint8_t status;
} s_cache_t;

#define O(field) offsetof (sf_aipix_config_t, field), sizeof (((sf_aipix_config_t *) 0)->field)
static const sf_option_t s_options [] = {
    { "api-url", SF_OPT_STR, O (api_url), "http://127.0.0.1:8000", 0, 0, "aipix: the media server's base URL" },
    { "api-token", SF_OPT_STR, O (api_token), "", 0, 0, "aipix: API token" },
    { "api-token-mode", SF_OPT_STR, O (api_token_mode), "header", 0, 0,
      "aipix: token in the Authorization 'header' or as ?token= 'query'" },
    { NULL }
};
#undef O

typedef struct {
    sf_aipix_config_t cfg;
    int64_t timeout_ms;             //  --http-timeout-ms: one poll's deadline
    sf_fetch_t *fetch;
    s_cache_t *cache;               //  sorted by detail.uid
    size_t ncache;
    sf_node_t server;               //  from POST /api/server/
    bool have_server;
    int64_t server_at_ms;
    char base [SF_URL_MAX];         //  api_url without trailing slashes
    char header [300];              //  Authorization header, or ""
} s_aipix_t;

static void
s_destroy (void **state_p)
{
    s_aipix_t *self = *state_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->ncache; i++)
        sf_stream_clear (&self->cache [i].detail);
    free (self->cache);
    sf_fetch_destroy (&self->fetch);
    free (self);
    *state_p = NULL;
}

static void *
s_create (const sf_agent_config_t *agent, const void *config, char *err, size_t errlen)
{
    const sf_aipix_config_t *cfg = config;
    if (!*cfg->api_url) {
        snprintf (err, errlen, "source aipix needs --api-url (the media server's base URL)");
        return NULL;
    }
    if (*cfg->api_token_mode && strcmp (cfg->api_token_mode, "header") && strcmp (cfg->api_token_mode, "query")) {
        snprintf (err, errlen, "--api-token-mode is 'header' or 'query', not '%s'", cfg->api_token_mode);
        return NULL;
    }
    s_aipix_t *self = sf_xcalloc (1, sizeof (s_aipix_t));
    self->cfg = *cfg;
    self->timeout_ms = agent->http_timeout_ms;
    SF_STRSET (self->base, cfg->api_url);
    size_t n = strlen (self->base);
    while (n && self->base [n - 1] == '/')
        self->base [--n] = 0;
    if (*cfg->api_token && strcmp (cfg->api_token_mode, "query"))
        snprintf (self->header, sizeof self->header, "Authorization: Bearer %.250s", cfg->api_token);
    void *state = self;
    if (!(self->fetch = sf_fetch_new ())) {
        snprintf (err, errlen, "cannot initialise libcurl");
        s_destroy (&state);
        return NULL;
    }
    return self;
}

//  GET (or POST) base + path, token attached; the poll's deadline bounds it
static int
s_request (s_aipix_t *self, const char *path, const char *post, int64_t deadline,
           char **body, size_t *len, char *err, size_t errlen)
{
    char url [SF_URL_MAX + 512];
    int n = snprintf (url, sizeof url, "%s%s", self->base, path);
    if (*self->cfg.api_token && !strcmp (self->cfg.api_token_mode, "query")) {
        char *tok = curl_easy_escape (NULL, self->cfg.api_token, 0);
        if (tok)
            snprintf (url + n, sizeof url - (size_t) n, "%stoken=%s", strchr (path, '?') ? "&" : "?", tok);
        curl_free (tok);
    }
    int64_t left = deadline - sf_mono_ms ();
    if (left < 1)
        left = 1;
    long status;
    int rc = sf_fetch (self->fetch, url, post, *self->header ? self->header : NULL, left,
                       S_REPLY_MAX, body, len, &status, err, errlen);
    //  Never write the token into a log: the URL may carry it
    if (rc && *self->cfg.api_token && !strcmp (self->cfg.api_token_mode, "query"))
        sf_aipix_redact (err, errlen);
    return rc;
}

void
sf_aipix_redact (char *text, size_t size)
{
    char *at = strstr (text, "token=");
    if (!at)
        return;
    char *end = at + 6;
    while (*end && *end != ' ' && *end != ':' && *end != '&')
        end++;
    //  "***" may be longer than the token: rebuild within the buffer's size
    char *tail = sf_xstrdup (end);
    snprintf (at, size - (size_t) (at - text), "token=***%s", tail);
    free (tail);
}

static int
s_cache_cmp (const void *a, const void *b)
{
    return strcmp (((const s_cache_t *) a)->detail.uid, ((const s_cache_t *) b)->detail.uid);
}

static s_cache_t *
s_cache_find (s_cache_t *cache, size_t n, const char *uid)
{
    s_cache_t key;
    SF_STRSET (key.detail.uid, uid);
    return n ? bsearch (&key, cache, n, sizeof (s_cache_t), s_cache_cmp) : NULL;
}

//  Copies the cached detail into a listed stream
static void
s_merge_detail (sf_stream_t *s, const s_cache_t *c)
{
    const sf_stream_t *d = &c->detail;
    sf_text_set (&s->config, d->config);
    sf_text_set (&s->config_path, d->config_path);
    sf_text_set (&s->source_url, d->source_url);
    sf_text_set (&s->source_sdp, d->source_sdp);
    sf_text_set (&s->dvr.records_path, d->dvr.records_path);
    s->ping_ms = d->ping_ms;
    if (*d->playback_uuid)
        SF_STRSET (s->playback_uuid, d->playback_uuid);
    s->media = d->media;
    s->dvr.depth_s = d->dvr.depth_s;
    s->dvr.chunk_s = d->dvr.chunk_s;
    s->dvr.memory_bytes = d->dvr.memory_bytes;
    s->dvr.disk_free_bytes = d->dvr.disk_free_bytes;
    s->dvr.current_from = d->dvr.current_from;
    free (s->dvr.ranges);
    s->dvr.ranges = NULL;
    s->dvr.nranges = 0;
    //  Within the bound and in order (sf_aipix_parse_ranges)
    for (uint32_t i = 0; i < d->dvr.nranges; i++)
        sf_dvr_add_range (&s->dvr, d->dvr.ranges [i].from, d->dvr.ranges [i].to);
    //  The running recording: the newest range, if the server did not say
    if (!s->dvr.current_from && s->dvr.nranges && s->status == SF_STATUS_ACTIVE
    &&  (s->functions & SF_FN_DVR))
        s->dvr.current_from = s->dvr.ranges [s->dvr.nranges - 1].from;
}

//  The part of a poll after the list: details, ranges, server, enrich.
//  self->cache [i] belongs to set->items [i] throughout.
static int
s_poll_details (s_aipix_t *self, sf_streamset_t *set, int64_t deadline)
{
    char *body = NULL;
    size_t len = 0;
    char err [512];
    int rc;
    //  Details and ranges that are due, oldest first, within the deadline
    int fetches = 0;
    bool failed = false;
    for (int pass = 0; pass < 2 && !failed; pass++)
    for (size_t i = 0; i < set->count && !failed; i++) {
        sf_stream_t *s = &set->items [i];
        s_cache_t *c = &self->cache [i];
        int64_t now = sf_mono_ms ();
        if (fetches >= S_FETCHES_PER_POLL || now >= deadline)
            break;
        char *esc = curl_easy_escape (NULL, s->uid, 0);
        if (!esc)
            goto oom;
        char path [SF_NAME_MAX * 3 + 64];
        if (pass == 0) {
            bool changed = c->started_at != s->started_at || c->reconnect_total != s->reconnect_total
                        || c->status != s->status;
            if (c->detail_at_ms && !changed && now - c->detail_at_ms < S_DETAIL_AGE_MS) {
                curl_free (esc);
                continue;
            }
            snprintf (path, sizeof path, "/api/streams/%s/", esc);
            curl_free (esc);
            fetches++;
            if (s_request (self, path, NULL, deadline, &body, &len, err, sizeof err)
            ||  sf_aipix_parse_detail (body, len, &c->detail, err, sizeof err)) {
                snprintf (set->error, sizeof set->error, "stream %.60s: %.180s", s->name, err);
                failed = true;
            }
            else {
                c->detail_at_ms = sf_mono_ms ();
                c->started_at = s->started_at;
                c->reconnect_total = s->reconnect_total;
                c->status = s->status;
            }
        }
        else {
            if (!(s->functions & SF_FN_DVR)
            ||  (c->ranges_at_ms && now - c->ranges_at_ms < S_RANGES_AGE_MS)) {
                curl_free (esc);
                continue;
            }
            snprintf (path, sizeof path, "/api/streams/%s/ranges/", esc);
            curl_free (esc);
            fetches++;
            if (s_request (self, path, NULL, deadline, &body, &len, err, sizeof err)
            ||  sf_aipix_parse_ranges (body, len, &c->detail.dvr, err, sizeof err)) {
                snprintf (set->error, sizeof set->error, "ranges of %.60s: %.180s", s->name, err);
                failed = true;
            }
            else
                c->ranges_at_ms = sf_mono_ms ();
        }
    }
    if (failed)
        return -1;
    for (size_t i = 0; i < set->count; i++)
        s_merge_detail (&set->items [i], &self->cache [i]);

    //  Server usage: what the media server says of its drives beats statvfs
    //  on mounts the operator may not have listed
    if (!self->server_at_ms || sf_mono_ms () - self->server_at_ms >= S_SERVER_AGE_MS) {
        if (s_request (self, "/api/server/", "{}", deadline, &body, &len, err, sizeof err)) {
            snprintf (set->error, sizeof set->error, "%.250s", err);
            return -1;
        }
        sf_node_t server;
        sf_node_init (&server);
        rc = sf_aipix_parse_server (body, len, &server, err, sizeof err);
            if (rc) {
            snprintf (set->error, sizeof set->error, "%.120s/api/server/: %.120s", self->base, err);
            return -1;
        }
        self->server = server;
        self->have_server = true;
        self->server_at_ms = sf_mono_ms ();
    }
    //  What the server says of its drives, cpu and memory; the runner's
    //  enrichment fills only what is left unset
    if (self->have_server) {
        set->has_node = true;
        sf_node_init (&set->node);
        if (self->server.cpu_pct > 0)
            set->node.cpu_pct = self->server.cpu_pct;
        if (self->server.mem_total_bytes) {
            set->node.mem_used_bytes = self->server.mem_used_bytes;
            set->node.mem_total_bytes = self->server.mem_total_bytes;
        }
        if (self->server.ndisks) {
            memcpy (set->node.disks, self->server.disks, sizeof set->node.disks);
            set->node.ndisks = self->server.ndisks;
        }
    }
    return 0;
oom:
    snprintf (set->error, sizeof set->error, "out of memory building the stream list");
    return -1;
}


static int
s_poll (void *state, sf_streamset_t *set)
{
    s_aipix_t *self = state;
    int64_t start = sf_mono_ms ();
    int64_t deadline = start + self->timeout_ms;
    char *body = NULL;
    size_t len = 0;
    char err [512];
    if (s_request (self, "/api/streams/", NULL, deadline, &body, &len, err, sizeof err)) {
        snprintf (set->error, sizeof set->error, "%.250s", err);
        return -1;
    }
    int rc = sf_aipix_parse_list (body, len, set, err, sizeof err);
    if (rc) {
        snprintf (set->error, sizeof set->error, "%.120s/api/streams/: %.120s", self->base, err);
        return -1;
    }

    //  The new cache, in list order first: carried over or fresh
    s_cache_t *cache = set->count ? sf_xcalloc (set->count, sizeof (s_cache_t)) : NULL;
    for (size_t i = 0; i < set->count; i++) {
        s_cache_t *old = s_cache_find (self->cache, self->ncache, set->items [i].uid);
        if (old && *old->detail.name) {
            cache [i] = *old;
            old->detail.name [0] = 0;   //  moved: the uid stays for lookups
            sf_stream_init (&old->detail);
            SF_STRSET (old->detail.uid, cache [i].detail.uid);
        }
        else {
            sf_stream_init (&cache [i].detail);
            SF_STRSET (cache [i].detail.name, set->items [i].name);
            SF_STRSET (cache [i].detail.uid, set->items [i].uid);
        }
    }
    for (size_t i = 0; i < self->ncache; i++)
        sf_stream_clear (&self->cache [i].detail);
    free (self->cache);
    self->cache = cache;
    self->ncache = set->count;

    rc = s_poll_details (self, set, deadline);
    //  Sorted by uid for the next poll's lookups, whatever happened
    if (self->ncache > 1)
        qsort (self->cache, self->ncache, sizeof (s_cache_t), s_cache_cmp);
    return rc;
}

const sf_source_ops_t sf_source_aipix = {
    .name = "aipix",
    .summary = "an Aipix-style media server REST API (/api/streams/)",
    .options = s_options, .config_size = sizeof (sf_aipix_config_t),
    .create = s_create,
    .wait = NULL,
    .poll = s_poll,
    .destroy = s_destroy,
};

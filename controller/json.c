/*  json.c — the one JSON encoding of stream placements and nodes.

    Field names are DESIGN §2's, units are the media servers' (unix seconds,
    kbit/s, bytes). Everything the HTTP API, the web page and the CLI's JSON
    output print goes through here, so they cannot drift apart. Texts from
    agents are not trusted to be UTF-8 (jansson refuses such strings), so every
    string passes through s_str(), which repairs invalid bytes rather than
    dropping the field.
*/
#include <math.h>
#include <string.h>
#include <stdlib.h>
#include <msgpack.h>
#include "sf_json.h"
#include "sf_links.h"

#define SF_JSON_DEPTH_MAX 16      //  events and records are shallow

//  Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid
static size_t
s_utf8_seq (const unsigned char *p, size_t n)
{
    if (p [0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if ((p [0] & 0xE0) == 0xC0) { len = 2; cp = p [0] & 0x1F; }
    else
    if ((p [0] & 0xF0) == 0xE0) { len = 3; cp = p [0] & 0x0F; }
    else
    if ((p [0] & 0xF8) == 0xF0) { len = 4; cp = p [0] & 0x07; }
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p [i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p [i] & 0x3F);
    }
    //  Overlong forms, surrogates and out-of-range code points are invalid
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
    ||  (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return len;
}

//  A JSON string of n bytes; invalid UTF-8 bytes become U+FFFD and NUL
//  bytes are dropped, so an agent's odd text still shows up readable.
static json_t *
s_strn (const char *value, size_t n)
{
    if (!value)
        return json_string ("");
    json_t *j = json_stringn (value, n);
    if (j)
        return j;
    char *fixed = malloc (n * 3 + 1);
    if (!fixed)
        return NULL;
    size_t out = 0;
    const unsigned char *p = (const unsigned char *) value;
    size_t i = 0;
    while (i < n) {
        size_t len = p [i]? s_utf8_seq (p + i, n - i): 0;
        if (p [i] == 0)
            i++;
        else
        if (len == 0) {
            memcpy (fixed + out, "\xEF\xBF\xBD", 3);
            out += 3;
            i++;
        }
        else {
            memcpy (fixed + out, p + i, len);
            out += len;
            i += len;
        }
    }
    j = json_stringn (fixed, out);
    free (fixed);
    return j;
}

static json_t *
s_str (const char *value)
{
    return s_strn (value, value? strlen (value): 0);
}

json_t *
sf_json_str (const char *text)
{
    return s_str (text);
}

//  A string, or null when empty: optional texts read better as null
static json_t *
s_str_or_null (const char *value)
{
    return value && *value? s_str (value): json_null ();
}

//  jansson refuses NaN and infinities; a broken gauge reads as 0
static double
s_real (double v)
{
    return isfinite (v)? v: 0.0;
}

static json_t *
s_version (sf_version_t v)
{
    return json_pack ("{s:I, s:I}", "gen", (json_int_t) v.gen, "seq", (json_int_t) v.seq);
}

static json_t *
s_functions (uint8_t functions)
{
    json_t *a = json_array ();
    if (functions & SF_FN_DVR)
        json_array_append_new (a, json_string ("dvr"));
    if (functions & SF_FN_PHOTO)
        json_array_append_new (a, json_string ("photo"));
    if (functions & SF_FN_AUDIO)
        json_array_append_new (a, json_string ("audio"));
    return a;
}

static const char *
s_enum (const char *name)
{
    return name? name: "unknown";
}

json_t *
sf_json_stream (const sf_stream_t *s, const sf_node_t *node, int flags, int64_t now)
{
    json_t *j = json_object ();
    if (!j)
        return NULL;
    json_object_set_new (j, "name", s_str (s->name));
    json_object_set_new (j, "uid", s_str (s->uid [0]? s->uid: s->name));
    json_object_set_new (j, "node", s_str (s->node));
    json_object_set_new (j, "type", json_string (s_enum (sf_type_name (s->type))));
    json_object_set_new (j, "status", json_string (s_enum (sf_status_name (s->status))));
    json_object_set_new (j, "transfer", json_boolean (s->transfer));
    json_object_set_new (j, "functions", s_functions (s->functions));
    json_object_set_new (j, "clients", json_integer (s->clients));
    json_object_set_new (j, "bitrate_kbps", json_integer (s->bitrate_kbps));
    json_object_set_new (j, "started_at", json_integer (s->started_at));
    //  Uptime counts only while the stream runs: a suspended or offline
    //  stream keeps its last started_at but is not up.
    int64_t uptime = 0;
    if (s->status == SF_STATUS_ACTIVE && s->started_at > 0 && now > s->started_at)
        uptime = now - s->started_at;
    json_object_set_new (j, "uptime_s", json_integer (uptime));
    json_object_set_new (j, "reconnects", json_pack ("{s:I, s:I}",
        "attempts", (json_int_t) s->reconnect_attempts,
        "total", (json_int_t) s->reconnect_total));

    json_t *source = json_object ();
    json_object_set_new (source, "url", s_str (s->source_url));
    if (flags & SF_JSON_DETAIL)
        json_object_set_new (source, "sdp", s_str (s->source_sdp));
    json_object_set_new (source, "ping_ms",
                         s->ping_ms < 0? json_null (): json_integer (s->ping_ms));
    json_object_set_new (j, "source", source);
    json_object_set_new (j, "playback_uuid", s_str_or_null (s->playback_uuid));
    json_object_set_new (j, "stale", json_boolean (s->stale));
    json_object_set_new (j, "migrated_to", s_str_or_null (s->migrated_to));
    json_object_set_new (j, "version", s_version (s->version));

    if (!(flags & SF_JSON_DETAIL))
        return j;

    json_object_set_new (j, "transferred_from", s_str_or_null (s->transferred_from));
    json_object_set_new (j, "config", s_str (s->config));
    json_object_set_new (j, "config_path", s_str_or_null (s->config_path));

    const sf_dvr_t *d = &s->dvr;
    json_t *dvr = json_object ();
    json_object_set_new (dvr, "records_path", s_str_or_null (d->records_path));
    json_object_set_new (dvr, "depth_s", json_integer (d->depth_s));
    json_object_set_new (dvr, "chunk_s", json_integer (d->chunk_s));
    json_object_set_new (dvr, "disk_free_bytes", json_integer ((json_int_t) d->disk_free_bytes));
    json_object_set_new (dvr, "memory_bytes", json_integer ((json_int_t) d->memory_bytes));
    json_object_set_new (dvr, "current_from",
                         d->current_from > 0? json_integer (d->current_from): json_null ());
    json_t *ranges = json_array ();
    char rtsp [SF_URL_MAX], hls [SF_URL_MAX];
    for (uint32_t i = 0; i < d->nranges && d->ranges; i++) {
        const sf_range_t *r = &d->ranges [i];
        json_t *range = json_pack ("{s:I, s:I, s:I}", "from", (json_int_t) r->from,
                                   "to", (json_int_t) r->to,
                                   "duration_s", (json_int_t) (r->to - r->from));
        if (node) {
            rtsp [0] = hls [0] = 0;
            sf_links_range (s, node, r->from, r->to, rtsp, hls, sizeof (rtsp));
            json_object_set_new (range, "rtsp", s_str_or_null (rtsp));
            json_object_set_new (range, "hls", s_str_or_null (hls));
        }
        json_array_append_new (ranges, range);
    }
    json_object_set_new (dvr, "ranges", ranges);
    json_object_set_new (j, "dvr", dvr);

    const sf_media_t *m = &s->media;
    json_object_set_new (j, "media", json_pack ("{s:o, s:I, s:I, s:f, s:o}",
        "vcodec", s_str_or_null (m->vcodec),
        "width", (json_int_t) m->width, "height", (json_int_t) m->height,
        "fps", s_real (m->fps), "acodec", s_str_or_null (m->acodec)));

    if (node) {
        rtsp [0] = hls [0] = 0;
        sf_links_live (s, node, rtsp, hls, sizeof (rtsp));
        json_object_set_new (j, "links", json_pack ("{s:o, s:o}",
            "rtsp", s_str_or_null (rtsp), "hls", s_str_or_null (hls)));
    }
    else
        json_object_set_new (j, "links", json_null ());
    return j;
}

json_t *
sf_json_node (const sf_node_t *n, int64_t now)
{
    json_t *j = json_object ();
    if (!j)
        return NULL;
    json_object_set_new (j, "id", s_str (n->id));
    json_object_set_new (j, "liveness", json_string (s_enum (sf_liveness_name (n->liveness))));
    json_object_set_new (j, "heartbeat_age_ms",
                         n->heartbeat_age_ms < 0? json_null (): json_integer (n->heartbeat_age_ms));
    json_object_set_new (j, "heartbeat", json_integer ((json_int_t) n->heartbeat));
    json_object_set_new (j, "stale", json_boolean (n->stale));
    json_object_set_new (j, "addr_internal", s_str_or_null (n->addr_internal));
    json_object_set_new (j, "addr_external", s_str_or_null (n->addr_external));
    json_object_set_new (j, "group", s_str_or_null (n->group));
    json_object_set_new (j, "software_version", s_str_or_null (n->software_version));
    json_object_set_new (j, "started_at", json_integer (n->started_at));
    json_object_set_new (j, "uptime_s", json_integer (
        n->started_at > 0 && now > n->started_at && n->liveness != SF_LIVE_DOWN?
        now - n->started_at: 0));
    json_object_set_new (j, "limits", json_pack ("{s:I, s:I}",
        "max_primary_streams", (json_int_t) n->max_primary_streams,
        "max_in_kbps", (json_int_t) n->max_in_kbps));
    json_t *disks = json_array ();
    for (uint32_t i = 0; i < n->ndisks && i < SF_DISKS_MAX; i++)
        json_array_append_new (disks, json_pack ("{s:o, s:I, s:I}",
            "mount", s_str (n->disks [i].mount),
            "free_bytes", (json_int_t) n->disks [i].free_bytes,
            "total_bytes", (json_int_t) n->disks [i].total_bytes));
    json_object_set_new (j, "usage", json_pack ("{s:f, s:I, s:I, s:I, s:I, s:o, s:o}",
        "cpu_pct", s_real (n->cpu_pct),
        "mem_used_bytes", (json_int_t) n->mem_used_bytes,
        "mem_total_bytes", (json_int_t) n->mem_total_bytes,
        "in_kbps", (json_int_t) n->in_kbps, "out_kbps", (json_int_t) n->out_kbps,
        "bandwidth_source", s_str_or_null (n->bandwidth_source),
        "disks", disks));
    json_object_set_new (j, "counts", json_pack ("{s:I, s:I, s:I}",
        "streams", (json_int_t) n->nstreams, "primary", (json_int_t) n->nprimary,
        "active", (json_int_t) n->nactive));
    json_object_set_new (j, "templates", json_pack ("{s:o, s:o, s:o, s:o}",
        "rtsp", s_str_or_null (n->rtsp_template), "hls", s_str_or_null (n->hls_template),
        "rtsp_dvr", s_str_or_null (n->rtsp_dvr_template),
        "hls_dvr", s_str_or_null (n->hls_dvr_template)));
    json_object_set_new (j, "version", s_version (n->version));
    return j;
}

json_t *
sf_json_error (int status, const char *code, const char *message)
{
    return json_pack ("{s:{s:i, s:s, s:o}}", "error", "status", status,
                      "code", code, "message", s_str (message));
}

static json_t *
s_from_msgpack (const msgpack_object *o, int depth)
{
    if (depth > SF_JSON_DEPTH_MAX)
        return NULL;
    switch (o->type) {
        case MSGPACK_OBJECT_NIL:
            return json_null ();
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean (o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return json_integer ((json_int_t) o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer ((json_int_t) o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return json_real (s_real (o->via.f64));
        case MSGPACK_OBJECT_STR:
            return s_strn (o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_ARRAY: {
            json_t *a = json_array ();
            for (uint32_t i = 0; i < o->via.array.size; i++) {
                json_t *v = s_from_msgpack (&o->via.array.ptr [i], depth + 1);
                if (!v) {
                    json_decref (a);
                    return NULL;
                }
                json_array_append_new (a, v);
            }
            return a;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *m = json_object ();
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                const msgpack_object_kv *kv = &o->via.map.ptr [i];
                if (kv->key.type != MSGPACK_OBJECT_STR)
                    continue;       //  JSON keys are strings; others have no place
                char key [128];
                size_t len = kv->key.via.str.size < sizeof (key) - 1?
                             kv->key.via.str.size: sizeof (key) - 1;
                memcpy (key, kv->key.via.str.ptr, len);
                key [len] = 0;
                json_t *v = s_from_msgpack (&kv->val, depth + 1);
                if (!v) {
                    json_decref (m);
                    return NULL;
                }
                if (json_object_set_new (m, key, v))
                    continue;       //  the key was not UTF-8; drop the pair
            }
            return m;
        }
        default:
            return json_null ();
    }
}

json_t *
sf_json_from_msgpack (const struct msgpack_object *o)
{
    return o? s_from_msgpack (o, 0): NULL;
}

char *
sf_json_dumps (const json_t *j, size_t *len)
{
    char *text = json_dumps (j, JSON_COMPACT);
    if (text && len)
        *len = strlen (text);
    return text;
}

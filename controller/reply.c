/*  reply.c — the reply form every query answers into, and the one encoding
    of each entity (include/sf_reply.h, docs/http-api.md).

    Containers are written with 32-bit headers (map32 0xdf, array32 0xdd)
    whose counts are patched when the container closes: valid msgpack that
    any reader takes, and no field count is ever written by hand. Entities
    are encoded here only: the stream (its fields, keys, order and nil rules
    from the field table's REPLY column, include/sf_fields.h), the node
    (whose listed fields are grouped as on the Streams page), the placement
    event and the DVR timeline entry. Whatever is absent is nil.
*/
#include "sf_reply.h"
#include "sf_codec.h"
#include "sf_filter.h"
#include "sf_links.h"
#include <assert.h>
#include <math.h>
#include <string.h>

//  A value was written into the innermost container
static void
s_count (sf_reply_t *self)
{
    if (self->depth > 0)
        self->count [self->depth - 1]++;
}

static void
s_open (sf_reply_t *self, uint8_t marker)
{
    //  Nesting is ours, never the network's: a deeper reply is a bug here
    assert (self->depth < SF_REPLY_DEPTH_MAX);
    s_count (self);
    self->at [self->depth] = self->sbuf->size;
    self->count [self->depth] = 0;
    self->depth++;
    char head [5] = { (char) marker, 0, 0, 0, 0 };
    msgpack_sbuffer_write (self->sbuf, head, sizeof (head));
}

void
sf_reply_map (sf_reply_t *self)
{
    s_open (self, 0xdf);
}

void
sf_reply_array (sf_reply_t *self)
{
    s_open (self, 0xdd);
}

void
sf_reply_close (sf_reply_t *self)
{
    assert (self->depth > 0);
    self->depth--;
    uint32_t n = self->count [self->depth];
    char *head = self->sbuf->data + self->at [self->depth];
    head [1] = (char) (n >> 24);
    head [2] = (char) (n >> 16);
    head [3] = (char) (n >> 8);
    head [4] = (char) n;
}

void
sf_reply_start (sf_reply_t *self, msgpack_sbuffer *sbuf, const char *type)
{
    memset (self, 0, sizeof (*self));
    self->sbuf = sbuf;
    msgpack_sbuffer_clear (sbuf);
    msgpack_packer_init (&self->pk, sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&self->pk, 3);
    msgpack_pack_uint8 (&self->pk, SF_PROTOCOL_VERSION);
    sf_pack_str (&self->pk, type);
}

void
sf_reply_begin (sf_reply_t *self, msgpack_sbuffer *sbuf, const char *type)
{
    sf_reply_start (self, sbuf, type);
    sf_reply_map (self);
}

void
sf_reply_end (sf_reply_t *self)
{
    while (self->depth > 0)
        sf_reply_close (self);
}

void
sf_reply_key (sf_reply_t *self, const char *key)
{
    sf_pack_str (&self->pk, key);
}

void
sf_reply_nil (sf_reply_t *self)
{
    s_count (self);
    msgpack_pack_nil (&self->pk);
}

void
sf_reply_strn (sf_reply_t *self, const char *value, size_t len)
{
    s_count (self);
    msgpack_pack_str (&self->pk, len);
    msgpack_pack_str_body (&self->pk, value, len);
}

void
sf_reply_str (sf_reply_t *self, const char *value)
{
    if (value)
        sf_reply_strn (self, value, strlen (value));
    else
        sf_reply_nil (self);
}

void
sf_reply_text (sf_reply_t *self, const char *value)
{
    sf_reply_str (self, value && *value ? value : NULL);
}

void
sf_reply_int (sf_reply_t *self, int64_t value)
{
    s_count (self);
    msgpack_pack_int64 (&self->pk, value);
}

void
sf_reply_uint (sf_reply_t *self, uint64_t value)
{
    s_count (self);
    msgpack_pack_uint64 (&self->pk, value);
}

void
sf_reply_real (sf_reply_t *self, double value)
{
    s_count (self);
    msgpack_pack_double (&self->pk, isfinite (value) ? value : 0.0);
}

void
sf_reply_bool (sf_reply_t *self, bool value)
{
    s_count (self);
    if (value)
        msgpack_pack_true (&self->pk);
    else
        msgpack_pack_false (&self->pk);
}

void
sf_reply_object (sf_reply_t *self, const msgpack_object *o)
{
    s_count (self);
    msgpack_pack_object (&self->pk, *o);
}

void sf_reply_kstr (sf_reply_t *self, const char *key, const char *value)
{ sf_reply_key (self, key); sf_reply_str (self, value); }
void sf_reply_ktext (sf_reply_t *self, const char *key, const char *value)
{ sf_reply_key (self, key); sf_reply_text (self, value); }
void sf_reply_kint (sf_reply_t *self, const char *key, int64_t value)
{ sf_reply_key (self, key); sf_reply_int (self, value); }
void sf_reply_kuint (sf_reply_t *self, const char *key, uint64_t value)
{ sf_reply_key (self, key); sf_reply_uint (self, value); }
void sf_reply_kbool (sf_reply_t *self, const char *key, bool value)
{ sf_reply_key (self, key); sf_reply_bool (self, value); }
void sf_reply_knil (sf_reply_t *self, const char *key)
{ sf_reply_key (self, key); sf_reply_nil (self); }

void
sf_reply_error (msgpack_sbuffer *sbuf, const char *code, const char *message)
{
    sf_reply_t r;
    sf_reply_begin (&r, sbuf, "error");
    sf_reply_kstr (&r, "code", code);
    sf_reply_kstr (&r, "message", message);
    sf_reply_end (&r);
}

//  -------------------------------------------------------------------------
//  Entities

static void
s_kenum (sf_reply_t *self, const char *key, const char *name)
{
    sf_reply_kstr (self, key, name ? name : "unknown");
}

//  The DVR ranges, with their links when the node is known
static void
s_ranges (sf_reply_t *self, const sf_stream_t *s, const sf_node_t *node)
{
    const sf_dvr_t *d = &s->dvr;
    sf_reply_array (self);
    char rtsp [SF_URL_MAX], hls [SF_URL_MAX];
    for (uint32_t i = 0; i < d->nranges && d->ranges; i++) {
        const sf_range_t *r = &d->ranges [i];
        sf_reply_map (self);
        sf_reply_kint (self, "from", r->from);
        sf_reply_kint (self, "to", r->to);
        sf_reply_kint (self, "duration_s", r->to - r->from);
        rtsp [0] = hls [0] = 0;
        if (node)
            sf_links_range (s, node, r->from, r->to, rtsp, hls, sizeof (rtsp));
        sf_reply_ktext (self, "rtsp", rtsp);
        sf_reply_ktext (self, "hls", hls);
        sf_reply_close (self);
    }
    sf_reply_close (self);
}

//  What an entity's REPLY lines are read from: the record (a stream or a
//  node), whether it runs (uptime counts only then), and for a stream its
//  node (the ranges' links)
typedef struct {
    const void *record;
    const sf_stream_t *s;           //  the stream, or NULL for a node
    const sf_node_t *node;
    bool running;
    int64_t now;
} s_entity_t;

static void
s_disks (sf_reply_t *self, const sf_disk_t *disks, uint32_t n)
{
    sf_reply_array (self);
    for (uint32_t i = 0; i < n && i < SF_DISKS_MAX; i++) {
        sf_reply_map (self);
        sf_reply_kstr (self, "mount", disks [i].mount);
        sf_reply_kuint (self, "free_bytes", disks [i].free_bytes);
        sf_reply_kuint (self, "total_bytes", disks [i].total_bytes);
        sf_reply_close (self);
    }
    sf_reply_close (self);
}

//  One field's value as its REPLY column says (include/sf_fields.h)
static void
s_field (sf_reply_t *self, const sf_field_t *f, const s_entity_t *en)
{
    const sf_stream_t *s = en->s;
    int64_t now = en->now;
    sf_value_t v;
    sf_field_value (f, en->record, &v);
    switch (f->reply_how) {
        case SF_RH_TEXT:
            if (v.type == SF_V_STR)
                sf_reply_text (self, v.str);
            else
                sf_reply_nil (self);
            return;
        case SF_RH_UID:
            sf_reply_str (self, v.type == SF_V_STR && v.str [0] ? v.str : s ? s->name : NULL);
            return;
        case SF_RH_TIME:
            if (v.type == SF_V_INT && v.i > 0)
                sf_reply_int (self, v.i);
            else
                sf_reply_nil (self);
            return;
        case SF_RH_NNEG:
            if (v.type == SF_V_INT && v.i >= 0)
                sf_reply_int (self, v.i);
            else
                sf_reply_nil (self);
            return;
        case SF_RH_NZ:
            if (v.type == SF_V_UINT && v.u)
                sf_reply_uint (self, v.u);
            else
                sf_reply_nil (self);
            return;
        case SF_RH_UPTIME: {
            sf_reply_int (self, v.i);
            //  Uptime counts only while it runs: a suspended or offline
            //  stream, a down node, keeps its last started_at but is not up
            int64_t uptime = 0;
            if (en->running && v.i > 0 && now > v.i)
                uptime = now - v.i;
            sf_reply_kint (self, "uptime_s", uptime);
            return;
        }
        default:
            break;
    }
    switch (v.type) {
        case SF_V_STR: sf_reply_str (self, v.str ? v.str : "unknown"); break;
        case SF_V_UINT: sf_reply_uint (self, v.u); break;
        case SF_V_INT: sf_reply_int (self, v.i); break;
        case SF_V_DOUBLE: sf_reply_real (self, v.d); break;
        case SF_V_BOOL: sf_reply_bool (self, v.b); break;
        case SF_V_FUNCS:
            sf_reply_array (self);
            if (v.u & SF_FN_DVR)
                sf_reply_str (self, "dvr");
            if (v.u & SF_FN_PHOTO)
                sf_reply_str (self, "photo");
            if (v.u & SF_FN_AUDIO)
                sf_reply_str (self, "audio");
            sf_reply_close (self);
            break;
        case SF_V_VERSION:
            sf_reply_map (self);
            sf_reply_kuint (self, "gen", v.gen);
            sf_reply_kuint (self, "seq", v.seq);
            sf_reply_close (self);
            break;
        case SF_V_RANGES:
            if (s)
                s_ranges (self, s, en->node);
            else
                sf_reply_nil (self);
            break;
        case SF_V_DISKS: s_disks (self, v.items, v.n); break;
        default: sf_reply_nil (self);
    }
}

//  The stream's fields come from the field table's REPLY column, in its
//  order, nested maps opened and closed as the paths' groups change; then
//  what the node adds to a detail (links, its liveness and address)
static void
s_entity_fields (sf_reply_t *self, const sf_field_t *const *fields, const s_entity_t *en,
                 bool detail)
{
    const char *group = NULL;           //  the open nested map's path prefix
    size_t group_len = 0;
    for (const sf_field_t *const *fp = fields; *fp; fp++) {
        const sf_field_t *f = *fp;
        if (f->reply_sect == SF_RS_DETAIL && !detail)
            continue;
        size_t glen;
        const char *key = sf_field_reply_key (f, &glen);
        if (group && (glen != group_len || memcmp (group, f->reply_path, glen))) {
            sf_reply_close (self);
            group = NULL;
        }
        if (glen && !group) {
            //  The group's key: the path up to its dot
            msgpack_pack_str (&self->pk, glen);
            msgpack_pack_str_body (&self->pk, f->reply_path, glen);
            sf_reply_map (self);
            group = f->reply_path;
            group_len = glen;
        }
        sf_reply_key (self, key);
        s_field (self, f, en);
    }
    if (group)
        sf_reply_close (self);
}

void
sf_reply_stream (sf_reply_t *self, const sf_stream_t *s, const sf_node_t *node,
                 int flags, int64_t now)
{
    bool detail = flags & SF_REPLY_DETAIL;
    sf_reply_map (self);
    s_entity_t en = { s, s, node, s->status == SF_STATUS_ACTIVE, now };
    s_entity_fields (self, sf_reply_fields (), &en, detail);
    if (!detail) {
        sf_reply_close (self);
        return;
    }
    sf_reply_key (self, "links");
    if (node) {
        char rtsp [SF_URL_MAX] = "", hls [SF_URL_MAX] = "", rtmp [SF_URL_MAX] = "";
        sf_links_live (s, node, rtsp, hls, sizeof (rtsp));
        sf_links_rtmp (s, node, rtmp, sizeof (rtmp));
        sf_reply_map (self);
        sf_reply_ktext (self, "rtsp", rtsp);
        sf_reply_ktext (self, "hls", hls);
        sf_reply_ktext (self, "rtmp", rtmp);
        sf_reply_close (self);
    }
    else
        sf_reply_nil (self);
    //  The placement's node as the detail page shows it beside the stream
    sf_reply_key (self, "node_liveness");
    if (node)
        sf_reply_str (self, sf_liveness_name (node->liveness));
    else
        sf_reply_nil (self);
    sf_reply_ktext (self, "node_addr_external", node ? node->addr_external : NULL);
    sf_reply_close (self);
}

void
sf_reply_columns (sf_reply_t *self)
{
    sf_reply_array (self);
    for (const sf_field_t *f = sf_stream_fields; f->key; f++) {
        if (!f->col_header)
            continue;
        sf_reply_map (self);
        sf_reply_kstr (self, "path", f->reply_path);
        sf_reply_kstr (self, "header", f->col_header);
        sf_reply_kstr (self, "label", f->col_label);
        sf_reply_kuint (self, "width", f->col_width);
        sf_reply_kstr (self, "format", sf_col_fmt_name (f->col_fmt));
        sf_reply_kstr (self, "sort", f->sort >= 0 ? sf_sort_name (f->sort) : NULL);
        //  A pair shows this value over the next line's
        sf_reply_kstr (self, "pair", f->col_fmt == SF_CF_PAIR && f [1].key ? f [1].reply_path : NULL);
        sf_reply_close (self);
    }
    sf_reply_close (self);
}

void
sf_reply_node_columns (sf_reply_t *self)
{
    sf_reply_array (self);
    for (const sf_node_col_t *col = sf_node_cols; col->header; col++) {
        sf_reply_map (self);
        sf_reply_kstr (self, "path", col->path);
        sf_reply_kstr (self, "with", col->with);
        sf_reply_kstr (self, "header", col->header);
        sf_reply_kstr (self, "label", col->label);
        sf_reply_kuint (self, "width", col->width);
        sf_reply_kstr (self, "format", sf_node_col_fmt_name (col->fmt));
        sf_reply_close (self);
    }
    sf_reply_close (self);
}

//  The node's fields come from the field table's node lines' REPLY column
//  (nested maps limits, usage, counts, templates as their paths say)
void
sf_reply_node (sf_reply_t *self, const sf_node_t *n, int64_t now)
{
    sf_reply_map (self);
    s_entity_t en = { n, NULL, n, n->liveness != SF_LIVE_DOWN, now };
    s_entity_fields (self, sf_reply_node_fields (), &en, true);
    sf_reply_close (self);
}

void
sf_reply_event (sf_reply_t *self, const sf_fleet_event_t *ev)
{
    sf_reply_map (self);
    s_kenum (self, "kind", sf_event_kind_name (ev->kind));
    sf_reply_kstr (self, "stream", ev->stream);
    sf_reply_kstr (self, "uid", ev->uid [0] ? ev->uid : ev->stream);
    sf_reply_ktext (self, "from", ev->from);
    sf_reply_ktext (self, "to", ev->to);
    sf_reply_kint (self, "at_ms", ev->at_ms);
    //  Only a migration or a return has a duration (the transfer's)
    sf_reply_key (self, "duration_ms");
    if (ev->duration_ms > 0)
        sf_reply_int (self, ev->duration_ms);
    else
        sf_reply_nil (self);
    sf_reply_ktext (self, "reason", ev->reason);
    sf_reply_close (self);
}

void
sf_reply_tl_entry (sf_reply_t *self, const sf_tl_entry_t *e, bool open)
{
    sf_reply_map (self);
    sf_reply_kint (self, "from", e->from);
    sf_reply_kint (self, "to", e->to);
    sf_reply_kint (self, "duration_s", e->to - e->from);
    sf_reply_kstr (self, "node", e->node);
    sf_reply_kstr (self, "name", e->name);
    sf_reply_ktext (self, "rtsp", e->rtsp);
    sf_reply_ktext (self, "hls", e->hls);
    if (!open)
        sf_reply_close (self);
}

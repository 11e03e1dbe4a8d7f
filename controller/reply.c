/*  reply.c — the reply form every query answers into, and the one encoding
    of each entity (include/sf_reply.h, docs/http-api.md).

    Containers are written with 32-bit headers (map32 0xdf, array32 0xdd)
    whose counts are patched when the container closes: valid msgpack that
    any reader takes, and no field count is ever written by hand. Entities
    are encoded here only: the stream and the node (whose listed fields are
    grouped as on the Streams page), the placement event and the DVR
    timeline entry. Whatever is absent is nil.
*/
#include "sf_reply.h"
#include "sf_codec.h"
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

//  A positive time, or nil: 0 means "not known" in the records
static void
s_ktime (sf_reply_t *self, const char *key, int64_t t)
{
    sf_reply_key (self, key);
    if (t > 0)
        sf_reply_int (self, t);
    else
        sf_reply_nil (self);
}

//  A limit, or nil for none (0 in the records)
static void
s_klimit (sf_reply_t *self, const char *key, uint64_t v)
{
    sf_reply_key (self, key);
    if (v)
        sf_reply_uint (self, v);
    else
        sf_reply_nil (self);
}

static void
s_version (sf_reply_t *self, sf_version_t v)
{
    sf_reply_key (self, "version");
    sf_reply_map (self);
    sf_reply_kuint (self, "gen", v.gen);
    sf_reply_kuint (self, "seq", v.seq);
    sf_reply_close (self);
}

static void
s_kenum (sf_reply_t *self, const char *key, const char *name)
{
    sf_reply_kstr (self, key, name ? name : "unknown");
}

//  The DVR section with its ranges; links per range when the node is known
static void
s_dvr (sf_reply_t *self, const sf_stream_t *s, const sf_node_t *node)
{
    const sf_dvr_t *d = &s->dvr;
    sf_reply_key (self, "dvr");
    sf_reply_map (self);
    sf_reply_ktext (self, "records_path", d->records_path);
    sf_reply_kint (self, "depth_s", d->depth_s);
    sf_reply_kint (self, "chunk_s", d->chunk_s);
    sf_reply_kuint (self, "disk_free_bytes", d->disk_free_bytes);
    sf_reply_kuint (self, "memory_bytes", d->memory_bytes);
    s_ktime (self, "current_from", d->current_from);
    sf_reply_key (self, "ranges");
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
    sf_reply_close (self);
}

void
sf_reply_stream (sf_reply_t *self, const sf_stream_t *s, const sf_node_t *node,
                 int flags, int64_t now)
{
    bool detail = flags & SF_REPLY_DETAIL;
    sf_reply_map (self);
    //  The listing's fields, in the Streams page's order
    sf_reply_kstr (self, "name", s->name);
    sf_reply_kstr (self, "uid", s->uid [0] ? s->uid : s->name);
    sf_reply_kstr (self, "node", s->node);
    s_kenum (self, "type", sf_type_name (s->type));
    s_kenum (self, "status", sf_status_name (s->status));
    sf_reply_kbool (self, "transfer", s->transfer);
    sf_reply_kbool (self, "conflict", s->conflict);
    sf_reply_key (self, "functions");
    sf_reply_array (self);
    if (s->functions & SF_FN_DVR)
        sf_reply_str (self, "dvr");
    if (s->functions & SF_FN_PHOTO)
        sf_reply_str (self, "photo");
    if (s->functions & SF_FN_AUDIO)
        sf_reply_str (self, "audio");
    sf_reply_close (self);
    sf_reply_kuint (self, "clients", s->clients);
    sf_reply_kuint (self, "bitrate_kbps", s->bitrate_kbps);
    sf_reply_kint (self, "started_at", s->started_at);
    //  Uptime counts only while the stream runs: a suspended or offline
    //  stream keeps its last started_at but is not up
    int64_t uptime = 0;
    if (s->status == SF_STATUS_ACTIVE && s->started_at > 0 && now > s->started_at)
        uptime = now - s->started_at;
    sf_reply_kint (self, "uptime_s", uptime);
    sf_reply_key (self, "reconnects");
    sf_reply_map (self);
    sf_reply_kuint (self, "attempts", s->reconnect_attempts);
    sf_reply_kuint (self, "total", s->reconnect_total);
    sf_reply_close (self);
    sf_reply_key (self, "source");
    sf_reply_map (self);
    sf_reply_ktext (self, "url", s->source_url);
    if (detail)
        sf_reply_ktext (self, "sdp", s->source_sdp);
    sf_reply_key (self, "ping_ms");
    if (s->ping_ms >= 0)
        sf_reply_int (self, s->ping_ms);
    else
        sf_reply_nil (self);
    sf_reply_close (self);
    sf_reply_ktext (self, "playback_uuid", s->playback_uuid);
    sf_reply_kbool (self, "stale", s->stale);
    sf_reply_ktext (self, "migrated_to", s->migrated_to);
    sf_reply_ktext (self, "transferred_from", s->transferred_from);
    s_version (self, s->version);
    if (!detail) {
        sf_reply_close (self);
        return;
    }
    //  The detail page's sections
    sf_reply_ktext (self, "config", s->config);
    sf_reply_ktext (self, "config_path", s->config_path);
    s_dvr (self, s, node);
    const sf_media_t *m = &s->media;
    sf_reply_key (self, "media");
    sf_reply_map (self);
    sf_reply_ktext (self, "vcodec", m->vcodec);
    sf_reply_kuint (self, "width", m->width);
    sf_reply_kuint (self, "height", m->height);
    sf_reply_key (self, "fps");
    sf_reply_real (self, m->fps);
    sf_reply_ktext (self, "acodec", m->acodec);
    sf_reply_close (self);
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
sf_reply_node (sf_reply_t *self, const sf_node_t *n, int64_t now)
{
    sf_reply_map (self);
    sf_reply_kstr (self, "id", n->id);
    s_kenum (self, "liveness", sf_liveness_name (n->liveness));
    sf_reply_key (self, "heartbeat_age_ms");
    if (n->heartbeat_age_ms >= 0)
        sf_reply_int (self, n->heartbeat_age_ms);
    else
        sf_reply_nil (self);
    sf_reply_kuint (self, "heartbeat", n->heartbeat);
    sf_reply_kbool (self, "stale", n->stale);
    sf_reply_ktext (self, "addr_internal", n->addr_internal);
    sf_reply_ktext (self, "addr_external", n->addr_external);
    sf_reply_ktext (self, "group", n->group);
    sf_reply_ktext (self, "software_version", n->software_version);
    sf_reply_kint (self, "started_at", n->started_at);
    sf_reply_kint (self, "uptime_s", n->started_at > 0 && now > n->started_at
                   && n->liveness != SF_LIVE_DOWN ? now - n->started_at : 0);
    sf_reply_key (self, "limits");
    sf_reply_map (self);
    s_klimit (self, "max_primary_streams", n->max_primary_streams);
    s_klimit (self, "max_in_kbps", n->max_in_kbps);
    sf_reply_close (self);
    sf_reply_key (self, "usage");
    sf_reply_map (self);
    sf_reply_key (self, "cpu_pct");
    sf_reply_real (self, n->cpu_pct);
    sf_reply_kuint (self, "mem_used_bytes", n->mem_used_bytes);
    sf_reply_kuint (self, "mem_total_bytes", n->mem_total_bytes);
    sf_reply_kuint (self, "in_kbps", n->in_kbps);
    sf_reply_kuint (self, "out_kbps", n->out_kbps);
    sf_reply_ktext (self, "bandwidth_source", n->bandwidth_source);
    sf_reply_key (self, "disks");
    sf_reply_array (self);
    for (uint32_t i = 0; i < n->ndisks && i < SF_DISKS_MAX; i++) {
        sf_reply_map (self);
        sf_reply_kstr (self, "mount", n->disks [i].mount);
        sf_reply_kuint (self, "free_bytes", n->disks [i].free_bytes);
        sf_reply_kuint (self, "total_bytes", n->disks [i].total_bytes);
        sf_reply_close (self);
    }
    sf_reply_close (self);
    sf_reply_close (self);
    sf_reply_key (self, "counts");
    sf_reply_map (self);
    sf_reply_kuint (self, "streams", n->nstreams);
    sf_reply_kuint (self, "primary", n->nprimary);
    sf_reply_kuint (self, "active", n->nactive);
    sf_reply_close (self);
    sf_reply_key (self, "templates");
    sf_reply_map (self);
    sf_reply_ktext (self, "rtsp", n->rtsp_template);
    sf_reply_ktext (self, "hls", n->hls_template);
    sf_reply_ktext (self, "rtmp", n->rtmp_template);
    sf_reply_ktext (self, "rtsp_dvr", n->rtsp_dvr_template);
    sf_reply_ktext (self, "hls_dvr", n->hls_dvr_template);
    sf_reply_close (self);
    s_version (self, n->version);
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

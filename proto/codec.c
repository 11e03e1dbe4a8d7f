/*  codec.c — msgpack encoding and defensive decoding of records and message
    envelopes (docs/protocol.md).

    Decoding runs in two steps. s_precheck walks the raw bytes once and proves
    that every container's element count fits in the bytes that remain, so a
    frame of a few bytes cannot make msgpack-c reserve gigabytes for an array it
    claims to hold. Then msgpack-c builds the object tree in a zone owned by the
    sf_msg_t, and the typed accessors below check each field's type and bound.
*/
#include "sf_codec.h"
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <pthread.h>

static const char *s_reject_names [SF_REJ_COUNT] = {
    "none", "malformed", "version", "type", "field", "bounds", "forbidden", "state"
};

const char *
sf_reject_name (int reason)
{
    return reason >= 0 && reason < SF_REJ_COUNT ? s_reject_names [reason] : "unknown";
}

//  Reads a big-endian length of n bytes at p
static uint64_t
s_be (const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p [i];
    return v;
}

//  Walks one msgpack value sequence of `items` top-level objects. Returns 0
//  when the bytes hold exactly that many well-formed objects whose containers
//  claim no more elements than bytes remain, -1 otherwise.
static int
s_precheck (const uint8_t *p, size_t size)
{
    uint64_t pending = 1;
    size_t at = 0;
    while (pending) {
        if (at >= size)
            return -1;
        uint8_t b = p [at];
        uint64_t skip = 0, add = 0;
        size_t head = 1;
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ;
        else if (b >= 0x80 && b <= 0x8f) add = 2 * (uint64_t) (b & 0x0f);
        else if (b >= 0x90 && b <= 0x9f) add = b & 0x0f;
        else if (b >= 0xa0 && b <= 0xbf) skip = b & 0x1f;
        else {
            int lenbytes = 0;
            switch (b) {
                case 0xcc: case 0xd0: skip = 1; break;
                case 0xcd: case 0xd1: skip = 2; break;
                case 0xca: case 0xce: case 0xd2: skip = 4; break;
                case 0xcb: case 0xcf: case 0xd3: skip = 8; break;
                case 0xd4: skip = 2; break;
                case 0xd5: skip = 3; break;
                case 0xd6: skip = 5; break;
                case 0xd7: skip = 9; break;
                case 0xd8: skip = 17; break;
                case 0xc4: case 0xd9: lenbytes = 1; break;
                case 0xc5: case 0xda: lenbytes = 2; break;
                case 0xc6: case 0xdb: lenbytes = 4; break;
                case 0xc7: lenbytes = 1; skip = 1; break;
                case 0xc8: lenbytes = 2; skip = 1; break;
                case 0xc9: lenbytes = 4; skip = 1; break;
                case 0xdc: case 0xde: lenbytes = 2; break;
                case 0xdd: case 0xdf: lenbytes = 4; break;
                default: return -1;             //  0xc1 is never used
            }
            if (lenbytes) {
                if (at + 1 + lenbytes > size)
                    return -1;
                uint64_t n = s_be (p + at + 1, lenbytes);
                head += lenbytes;
                if (b == 0xdc || b == 0xdd) add = n;
                else if (b == 0xde || b == 0xdf) add = 2 * n;
                else skip += n;
            }
        }
        if (skip > size || at + head + skip > size)
            return -1;
        at += head + skip;
        pending = pending - 1 + add;
        if (pending > size - at)
            return -1;                  //  every element needs at least one byte
    }
    return at == size ? 0 : -1;
}

void
sf_msg_init (sf_msg_t *self)
{
    memset (self, 0, sizeof (*self));
    msgpack_unpacked_init (&self->unpacked);
}

void
sf_msg_release (sf_msg_t *self)
{
    msgpack_unpacked_destroy (&self->unpacked);
    msgpack_unpacked_init (&self->unpacked);
    self->body = NULL;
    free (self->owned);
    self->owned = NULL;
}

int
sf_msg_parse_copy (sf_msg_t *self, const void *data, size_t size)
{
    free (self->owned);
    self->owned = malloc (size ? size : 1);
    if (!self->owned) {
        self->reason = SF_REJ_BOUNDS;
        snprintf (self->error, sizeof (self->error), "out of memory for a %zu-byte frame", size);
        return -1;
    }
    memcpy (self->owned, data, size);
    return sf_msg_parse (self, self->owned, size);
}

static int
s_fail (sf_msg_t *self, sf_reject_t reason, const char *fmt, const char *arg)
{
    self->reason = reason;
    snprintf (self->error, sizeof (self->error), fmt, arg ? arg : "");
    return -1;
}

int
sf_msg_parse (sf_msg_t *self, const void *data, size_t size)
{
    self->reason = SF_REJ_NONE;
    self->error [0] = 0;
    self->type [0] = 0;
    self->body = NULL;
    if (size > SF_FRAME_MAX)
        return s_fail (self, SF_REJ_BOUNDS, "frame larger than %s bytes", "16777216");
    if (size == 0 || s_precheck (data, size))
        return s_fail (self, SF_REJ_MALFORMED, "frame is not one well-formed msgpack value%s", NULL);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next (&self->unpacked, data, size, &off);
    if (rc != MSGPACK_UNPACK_SUCCESS || off != size)
        return s_fail (self, SF_REJ_MALFORMED, "frame is not one msgpack value%s", NULL);
    const msgpack_object *o = &self->unpacked.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3)
        return s_fail (self, SF_REJ_MALFORMED, "envelope must be [version, type, body]%s", NULL);
    const msgpack_object *v = &o->via.array.ptr [0];
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail (self, SF_REJ_MALFORMED, "envelope version must be an integer%s", NULL);
    if (v->via.u64 != SF_PROTOCOL_VERSION) {
        char buf [32];
        snprintf (buf, sizeof (buf), "%llu", (unsigned long long) v->via.u64);
        return s_fail (self, SF_REJ_VERSION, "protocol version %s not spoken here (1 is)", buf);
    }
    if (sf_obj_str (&o->via.array.ptr [1], self->type, sizeof (self->type) - 1))
        return s_fail (self, SF_REJ_MALFORMED, "message type must be a short string%s", NULL);
    if (o->via.array.ptr [2].type != MSGPACK_OBJECT_MAP)
        return s_fail (self, SF_REJ_MALFORMED, "message body must be a map%s", NULL);
    self->body = &o->via.array.ptr [2];
    return 0;
}

int
sf_obj_str (const msgpack_object *o, char *out, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > cap)
        return -1;
    memcpy (out, o->via.str.ptr, o->via.str.size);
    out [o->via.str.size] = 0;
    //  Embedded NULs would make C strings lie about what was sent
    if (memchr (out, 0, o->via.str.size))
        return -1;
    return 0;
}

const msgpack_object *
sf_map_get (const msgpack_object *map, const char *key)
{
    if (!map || map->type != MSGPACK_OBJECT_MAP)
        return NULL;
    size_t klen = strlen (key);
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == klen
        &&  memcmp (k->via.str.ptr, key, klen) == 0)
            return &map->via.map.ptr [i].val;
    }
    return NULL;
}

//  Why the last record decode on this thread failed: field or bounds
static __thread int s_last_reason = SF_REJ_FIELD;

int
sf_codec_reason (void)
{
    return s_last_reason;
}

static int
s_err (char *err, const char *key, const char *what)
{
    s_last_reason = SF_REJ_FIELD;
    if (err)
        snprintf (err, SF_ERR_MAX, "field '%s' %s", key, what);
    return -1;
}

//  The same for a value over its bound
static int
s_err_bounds (char *err, const char *key, const char *what)
{
    s_err (err, key, what);
    s_last_reason = SF_REJ_BOUNDS;
    return -1;
}

static int
s_val_u64 (const msgpack_object *v, const char *key, uint64_t *out, char *err)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 1;
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_err (err, key, "must be a non-negative integer");
    *out = v->via.u64;
    return 0;
}


static int
s_val_i64 (const msgpack_object *v, const char *key, int64_t *out, char *err)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 1;
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
        *out = (int64_t) v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = v->via.i64;
    else
        return s_err (err, key, "must be an integer");
    return 0;
}


static int
s_val_u32 (const msgpack_object *v0, const char *key, uint32_t *out, char *err)
{
    uint64_t v = 0;
    int rc = s_val_u64 (v0, key, &v, err);
    if (rc)
        return rc;
    if (v > UINT32_MAX)
        return s_err (err, key, "exceeds 32 bits");
    *out = (uint32_t) v;
    return 0;
}


static int
s_val_bool (const msgpack_object *v, const char *key, bool *out, char *err)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 1;
    if (v->type != MSGPACK_OBJECT_BOOLEAN)
        return s_err (err, key, "must be a boolean");
    *out = v->via.boolean;
    return 0;
}


static int
s_val_double (const msgpack_object *v, const char *key, double *out, char *err)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 1;
    if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
        *out = v->via.f64;
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *out = (double) v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = (double) v->via.i64;
    else
        return s_err (err, key, "must be a number");
    return 0;
}


static int
s_val_str (const msgpack_object *v, const char *key, char *out, size_t cap, char *err)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 1;
    if (v->type != MSGPACK_OBJECT_STR)
        return s_err (err, key, "must be a string");
    if (v->via.str.size > cap) {
        char what [64];
        snprintf (what, sizeof (what), "is longer than %zu bytes", cap);
        return s_err_bounds (err, key, what);
    }
    if (sf_obj_str (v, out, cap))
        return s_err (err, key, "holds a NUL byte");
    return 0;
}


static int
s_val_text (const msgpack_object *v, const char *key, char **out, size_t max, char *err)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 1;
    if (v->type != MSGPACK_OBJECT_STR)
        return s_err (err, key, "must be a string");
    if (v->via.str.size > max) {
        char what [64];
        snprintf (what, sizeof (what), "is longer than %zu bytes", max);
        return s_err_bounds (err, key, what);
    }
    //  Reuse the buffer when it is big enough: decoding into the same record
    //  again and again (the controller's scratch record) allocates nothing
    char *s = *out;
    if (!s || malloc_usable_size (s) < v->via.str.size + 1) {
        s = realloc (s, v->via.str.size + 1);
        if (!s)
            return s_err (err, key, "could not be stored: out of memory");
        *out = s;
    }
    memcpy (s, v->via.str.ptr, v->via.str.size);
    s [v->via.str.size] = 0;
    return 0;
}


int
sf_map_u64 (const msgpack_object *map, const char *key, uint64_t *out, char *err)
{
    return s_val_u64 (sf_map_get (map, key), key, out, err);
}

int
sf_map_i64 (const msgpack_object *map, const char *key, int64_t *out, char *err)
{
    return s_val_i64 (sf_map_get (map, key), key, out, err);
}

int
sf_map_u32 (const msgpack_object *map, const char *key, uint32_t *out, char *err)
{
    return s_val_u32 (sf_map_get (map, key), key, out, err);
}

int
sf_map_bool (const msgpack_object *map, const char *key, bool *out, char *err)
{
    return s_val_bool (sf_map_get (map, key), key, out, err);
}

int
sf_map_double (const msgpack_object *map, const char *key, double *out, char *err)
{
    return s_val_double (sf_map_get (map, key), key, out, err);
}

int
sf_map_str (const msgpack_object *map, const char *key, char *out, size_t cap, char *err)
{
    return s_val_str (sf_map_get (map, key), key, out, cap, err);
}

int
sf_map_text (const msgpack_object *map, const char *key, char **out, size_t max, char *err)
{
    return s_val_text (sf_map_get (map, key), key, out, max, err);
}

//  ---------------------------------------------------------------------------
//  Packing helpers

void
sf_pack_str (msgpack_packer *pk, const char *s)
{
    size_t len = s ? strlen (s) : 0;
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, s ? s : "", len);
}

void
sf_pack_kstr (msgpack_packer *pk, const char *key, const char *value)
{
    sf_pack_str (pk, key);
    sf_pack_str (pk, value);
}

void
sf_pack_ku64 (msgpack_packer *pk, const char *key, uint64_t value)
{
    sf_pack_str (pk, key);
    msgpack_pack_uint64 (pk, value);
}

void
sf_pack_ki64 (msgpack_packer *pk, const char *key, int64_t value)
{
    sf_pack_str (pk, key);
    msgpack_pack_int64 (pk, value);
}

void
sf_pack_kbool (msgpack_packer *pk, const char *key, bool value)
{
    sf_pack_str (pk, key);
    if (value)
        msgpack_pack_true (pk);
    else
        msgpack_pack_false (pk);
}

void
sf_pack_kdouble (msgpack_packer *pk, const char *key, double value)
{
    sf_pack_str (pk, key);
    msgpack_pack_double (pk, value);
}

void
sf_msg_begin (msgpack_packer *pk, const char *type, uint32_t nfields)
{
    msgpack_pack_array (pk, 3);
    msgpack_pack_uint8 (pk, SF_PROTOCOL_VERSION);
    sf_pack_str (pk, type);
    msgpack_pack_map (pk, nfields);
}

void
sf_msg_error (msgpack_sbuffer *sbuf, const char *code, const char *message)
{
    msgpack_sbuffer_clear (sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "error", 2);
    sf_pack_kstr (&pk, "code", code);
    sf_pack_kstr (&pk, "message", message);
}

void
sf_msg_ack (msgpack_sbuffer *sbuf, uint64_t gen, uint64_t seq)
{
    msgpack_sbuffer_clear (sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "ack", 2);
    sf_pack_ku64 (&pk, "gen", gen);
    sf_pack_ku64 (&pk, "seq", seq);
}

void
sf_msg_resync (msgpack_sbuffer *sbuf, const char *reason)
{
    msgpack_sbuffer_clear (sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sbuf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "resync", 1);
    sf_pack_kstr (&pk, "reason", reason);
}

//  ---------------------------------------------------------------------------
//  Stream records

static const char *s_fn_names [] = { "dvr", "photo", "audio" };

void
sf_stream_pack (msgpack_packer *pk, const sf_stream_t *s, int flags)
{
    bool full = (flags & SF_ENC_FULL) != 0;
    bool derived = (flags & SF_ENC_DERIVED) != 0;
    //  Fields written in every form: name uid node type status functions
    //  stale clients bitrate_kbps started_at reconnect_attempts
    //  reconnect_total source version
    uint32_t n = 14;
    if (full) {
        //  config config_path playback_uuid transferred_from rtsp_template
        //  hls_template dvr media changed_at_ms
        n += 9;
    }
    if (derived)
        n += 2;
    msgpack_pack_map (pk, n);
    sf_pack_kstr (pk, "name", s->name);
    sf_pack_kstr (pk, "uid", s->uid [0] ? s->uid : s->name);
    sf_pack_kstr (pk, "node", s->node);
    sf_pack_kstr (pk, "type", sf_type_name (s->type));
    sf_pack_kstr (pk, "status", sf_status_name (s->status));
    sf_pack_str (pk, "functions");
    int nfn = 0;
    for (int i = 0; i < 3; i++)
        if (s->functions & (1 << i))
            nfn++;
    msgpack_pack_array (pk, nfn);
    for (int i = 0; i < 3; i++)
        if (s->functions & (1 << i))
            sf_pack_str (pk, s_fn_names [i]);
    sf_pack_kbool (pk, "stale", s->stale);
    sf_pack_ku64 (pk, "clients", s->clients);
    sf_pack_ku64 (pk, "bitrate_kbps", s->bitrate_kbps);
    sf_pack_ki64 (pk, "started_at", s->started_at);
    sf_pack_ku64 (pk, "reconnect_attempts", s->reconnect_attempts);
    sf_pack_ku64 (pk, "reconnect_total", s->reconnect_total);
    sf_pack_str (pk, "source");
    if (full) {
        msgpack_pack_map (pk, 3);
        sf_pack_kstr (pk, "url", s->source_url);
        sf_pack_kstr (pk, "sdp", s->source_sdp);
        sf_pack_ki64 (pk, "ping_ms", s->ping_ms);
    }
    else {
        msgpack_pack_map (pk, 1);
        sf_pack_kstr (pk, "url", s->source_url);
    }
    sf_pack_str (pk, "version");
    msgpack_pack_array (pk, 2);
    msgpack_pack_uint64 (pk, s->version.gen);
    msgpack_pack_uint64 (pk, s->version.seq);
    if (full) {
        sf_pack_kstr (pk, "config", s->config);
        sf_pack_kstr (pk, "config_path", s->config_path);
        sf_pack_kstr (pk, "playback_uuid", s->playback_uuid);
        sf_pack_kstr (pk, "transferred_from", s->transferred_from);
        sf_pack_kstr (pk, "rtsp_template", s->rtsp_template);
        sf_pack_kstr (pk, "hls_template", s->hls_template);
        sf_pack_str (pk, "dvr");
        msgpack_pack_map (pk, 7);
        sf_pack_kstr (pk, "records_path", s->dvr.records_path);
        sf_pack_ki64 (pk, "depth_s", s->dvr.depth_s);
        sf_pack_ki64 (pk, "chunk_s", s->dvr.chunk_s);
        sf_pack_ku64 (pk, "disk_free_bytes", s->dvr.disk_free_bytes);
        sf_pack_ku64 (pk, "memory_bytes", s->dvr.memory_bytes);
        sf_pack_ki64 (pk, "current_from", s->dvr.current_from);
        sf_pack_str (pk, "ranges");
        msgpack_pack_array (pk, s->dvr.nranges);
        for (uint32_t i = 0; i < s->dvr.nranges; i++) {
            msgpack_pack_array (pk, 2);
            msgpack_pack_int64 (pk, s->dvr.ranges [i].from);
            msgpack_pack_int64 (pk, s->dvr.ranges [i].to);
        }
        sf_pack_str (pk, "media");
        msgpack_pack_map (pk, 5);
        sf_pack_kstr (pk, "vcodec", s->media.vcodec);
        sf_pack_ku64 (pk, "width", s->media.width);
        sf_pack_ku64 (pk, "height", s->media.height);
        sf_pack_kdouble (pk, "fps", s->media.fps);
        sf_pack_kstr (pk, "acodec", s->media.acodec);
        sf_pack_ki64 (pk, "changed_at_ms", s->changed_at_ms);
    }
    if (derived) {
        sf_pack_kbool (pk, "transfer", s->transfer);
        sf_pack_kstr (pk, "migrated_to", s->migrated_to);
    }
}

#define CHECK(expr) do { if ((expr) < 0) goto fail; } while (0)

static int
s_unpack_dvr (const msgpack_object *o, sf_dvr_t *dvr, char *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_err (err, "dvr", "must be a map");
    CHECK (sf_map_text (o, "records_path", &dvr->records_path, SF_ADDR_MAX, err));
    CHECK (sf_map_i64 (o, "depth_s", &dvr->depth_s, err));
    int64_t chunk = 0;
    int rc = sf_map_i64 (o, "chunk_s", &chunk, err);
    CHECK (rc);
    if (rc == 0) {
        if (chunk < 0 || chunk > INT32_MAX)
            return s_err (err, "dvr.chunk_s", "is out of range");
        dvr->chunk_s = (int32_t) chunk;
    }
    CHECK (sf_map_u64 (o, "disk_free_bytes", &dvr->disk_free_bytes, err));
    CHECK (sf_map_u64 (o, "memory_bytes", &dvr->memory_bytes, err));
    CHECK (sf_map_i64 (o, "current_from", &dvr->current_from, err));
    const msgpack_object *r = sf_map_get (o, "ranges");
    if (r && r->type != MSGPACK_OBJECT_NIL) {
        if (r->type != MSGPACK_OBJECT_ARRAY)
            return s_err (err, "dvr.ranges", "must be an array");
        if (r->via.array.size > SF_RANGES_MAX)
            return s_err_bounds (err, "dvr.ranges", "holds more than 8192 ranges");
        for (uint32_t i = 0; i < r->via.array.size; i++) {
            const msgpack_object *e = &r->via.array.ptr [i];
            if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2)
                return s_err (err, "dvr.ranges", "entries must be [from, to]");
            int64_t v [2];
            for (int j = 0; j < 2; j++) {
                const msgpack_object *x = &e->via.array.ptr [j];
                if (x->type == MSGPACK_OBJECT_POSITIVE_INTEGER && x->via.u64 <= INT64_MAX)
                    v [j] = (int64_t) x->via.u64;
                else if (x->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                    v [j] = x->via.i64;
                else
                    return s_err (err, "dvr.ranges", "entries must be integers");
            }
            if (v [1] < v [0])
                return s_err (err, "dvr.ranges", "has a range ending before it starts");
            //  Unsorted input is accepted: appended as is, normalised below
            if (sf_dvr_push_range (dvr, v [0], v [1]))
                return s_err (err, "dvr.ranges", "could not be stored");
        }
        sf_dvr_normalize (dvr);
    }
    return 0;
fail:
    return -1;
}

static int
s_unpack_functions (const msgpack_object *o, uint8_t *fns, char *err)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (o->via.u64 > 7)
            return s_err (err, "functions", "has unknown bits");
        *fns = (uint8_t) o->via.u64;
        return 0;
    }
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > 8)
        return s_err_bounds (err, "functions", "must be an array of at most 8 names");
    *fns = 0;
    for (uint32_t i = 0; i < o->via.array.size; i++) {
        char name [16];
        if (sf_obj_str (&o->via.array.ptr [i], name, sizeof (name) - 1))
            return s_err (err, "functions", "must hold short strings");
        int bit = -1;
        for (int j = 0; j < 3; j++)
            if (strcmp (name, s_fn_names [j]) == 0)
                bit = j;
        if (bit < 0)
            return s_err (err, "functions", "holds an unknown function (dvr, photo, audio)");
        *fns |= (uint8_t) (1 << bit);
    }
    return 0;
}

//  The stream record's top-level fields, found with one pass over the map
//  through a small static hash: a linear lookup per field would compare every
//  key against every name, and this runs for every record the controller takes.
enum {
    F_NAME, F_UID, F_NODE, F_TYPE, F_STATUS, F_FUNCTIONS, F_STALE, F_CLIENTS, F_BITRATE,
    F_STARTED, F_RATTEMPTS, F_RTOTAL, F_SOURCE, F_VERSION, F_CONFIG, F_CONFIG_PATH, F_UUID,
    F_TFROM, F_RTSP_T, F_HLS_T, F_DVR, F_MEDIA, F_CHANGED, F_TRANSFER, F_MIGRATED, F_COUNT
};
static const char *s_fields [F_COUNT] = {
    "name", "uid", "node", "type", "status", "functions", "stale", "clients", "bitrate_kbps",
    "started_at", "reconnect_attempts", "reconnect_total", "source", "version", "config",
    "config_path", "playback_uuid", "transferred_from", "rtsp_template", "hls_template", "dvr",
    "media", "changed_at_ms", "transfer", "migrated_to"
};
#define S_SLOTS 128
static int8_t s_slot [S_SLOTS];
static pthread_once_t s_slots_once = PTHREAD_ONCE_INIT;

static uint32_t
s_fnv (const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t) p [i]) * 16777619u;
    return h;
}

static void
s_slots_build (void)
{
    memset (s_slot, -1, sizeof (s_slot));
    for (int i = 0; i < F_COUNT; i++) {
        uint32_t h = s_fnv (s_fields [i], strlen (s_fields [i])) & (S_SLOTS - 1);
        while (s_slot [h] >= 0)
            h = (h + 1) & (S_SLOTS - 1);
        s_slot [h] = (int8_t) i;
    }
}

static void
s_index_fields (const msgpack_object *map, const msgpack_object **f)
{
    pthread_once (&s_slots_once, s_slots_build);
    memset (f, 0, F_COUNT * sizeof (*f));
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        uint32_t h = s_fnv (k->via.str.ptr, k->via.str.size) & (S_SLOTS - 1);
        while (s_slot [h] >= 0) {
            const char *name = s_fields [s_slot [h]];
            if (strlen (name) == k->via.str.size && memcmp (name, k->via.str.ptr, k->via.str.size) == 0) {
                //  The first of duplicate keys wins, as sf_map_get does
                if (!f [s_slot [h]])
                    f [s_slot [h]] = &map->via.map.ptr [i].val;
                break;
            }
            h = (h + 1) & (S_SLOTS - 1);
        }
    }
}

//  Empties a record for decoding into it again, keeping its text and range
//  buffers so that a steady stream of records allocates nothing
static void
s_stream_reuse (sf_stream_t *s)
{
    char *texts [5] = { s->source_url, s->source_sdp, s->config, s->config_path, s->dvr.records_path };
    sf_range_t *ranges = s->dvr.ranges;
    sf_stream_init (s);
    for (int i = 0; i < 5; i++)
        if (texts [i])
            texts [i][0] = 0;
    s->source_url = texts [0];
    s->source_sdp = texts [1];
    s->config = texts [2];
    s->config_path = texts [3];
    s->dvr.records_path = texts [4];
    s->dvr.ranges = ranges;
}

int
sf_stream_unpack (const msgpack_object *o, sf_stream_t *s, char *err)
{
    s_stream_reuse (s);
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_err (err, "stream", "must be a map");
    const msgpack_object *f [F_COUNT];
    s_index_fields (o, f);
    int rc = s_val_str (f [F_NAME], "name", s->name, SF_NAME_MAX, err);
    CHECK (rc);
    if (rc == 1 || !s->name [0])
        return s_err (err, "name", "is required and must not be empty");
    CHECK (s_val_str (f [F_UID], "uid", s->uid, SF_NAME_MAX, err));
    if (!s->uid [0])
        strcpy (s->uid, s->name);
    CHECK (s_val_str (f [F_NODE], "node", s->node, SF_NODE_MAX, err));
    char word [16];
    rc = s_val_str (f [F_TYPE], "type", word, sizeof (word) - 1, err);
    CHECK (rc);
    if (rc == 0) {
        int t = sf_type_parse (word);
        if (t < 0)
            return s_err (err, "type", "must be primary, secondary or migrated");
        s->type = (uint8_t) t;
    }
    rc = s_val_str (f [F_STATUS], "status", word, sizeof (word) - 1, err);
    CHECK (rc);
    if (rc == 0) {
        int st = sf_status_parse (word);
        if (st < 0)
            return s_err (err, "status", "must be active, suspend, starting, error or offline");
        s->status = (uint8_t) st;
    }
    if (f [F_FUNCTIONS] && f [F_FUNCTIONS]->type != MSGPACK_OBJECT_NIL)
        CHECK (s_unpack_functions (f [F_FUNCTIONS], &s->functions, err));
    CHECK (s_val_bool (f [F_STALE], "stale", &s->stale, err));
    CHECK (s_val_u32 (f [F_CLIENTS], "clients", &s->clients, err));
    CHECK (s_val_u32 (f [F_BITRATE], "bitrate_kbps", &s->bitrate_kbps, err));
    CHECK (s_val_i64 (f [F_STARTED], "started_at", &s->started_at, err));
    CHECK (s_val_u32 (f [F_RATTEMPTS], "reconnect_attempts", &s->reconnect_attempts, err));
    CHECK (s_val_u32 (f [F_RTOTAL], "reconnect_total", &s->reconnect_total, err));
    const msgpack_object *src = f [F_SOURCE];
    if (src && src->type != MSGPACK_OBJECT_NIL) {
        if (src->type != MSGPACK_OBJECT_MAP)
            return s_err (err, "source", "must be a map");
        CHECK (sf_map_text (src, "url", &s->source_url, SF_URL_MAX, err));
        CHECK (sf_map_text (src, "sdp", &s->source_sdp, SF_TEXT_MAX, err));
        int64_t ping = -1;
        CHECK (sf_map_i64 (src, "ping_ms", &ping, err));
        s->ping_ms = ping < INT32_MIN || ping > INT32_MAX ? -1 : (int32_t) ping;
    }
    const msgpack_object *v = f [F_VERSION];
    if (v && v->type != MSGPACK_OBJECT_NIL) {
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2
        ||  v->via.array.ptr [0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        ||  v->via.array.ptr [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return s_err (err, "version", "must be [generation, seq]");
        s->version.gen = v->via.array.ptr [0].via.u64;
        s->version.seq = v->via.array.ptr [1].via.u64;
    }
    CHECK (s_val_text (f [F_CONFIG], "config", &s->config, SF_TEXT_MAX, err));
    CHECK (s_val_text (f [F_CONFIG_PATH], "config_path", &s->config_path, SF_ADDR_MAX, err));
    CHECK (s_val_str (f [F_UUID], "playback_uuid", s->playback_uuid, SF_SHORT_MAX, err));
    CHECK (s_val_str (f [F_TFROM], "transferred_from", s->transferred_from, SF_NODE_MAX, err));
    CHECK (s_val_str (f [F_RTSP_T], "rtsp_template", s->rtsp_template, SF_ADDR_MAX, err));
    CHECK (s_val_str (f [F_HLS_T], "hls_template", s->hls_template, SF_ADDR_MAX, err));
    const msgpack_object *d = f [F_DVR];
    if (d && d->type != MSGPACK_OBJECT_NIL)
        CHECK (s_unpack_dvr (d, &s->dvr, err));
    const msgpack_object *m = f [F_MEDIA];
    if (m && m->type != MSGPACK_OBJECT_NIL) {
        if (m->type != MSGPACK_OBJECT_MAP)
            return s_err (err, "media", "must be a map");
        CHECK (sf_map_str (m, "vcodec", s->media.vcodec, SF_SHORT_MAX, err));
        CHECK (sf_map_u32 (m, "width", &s->media.width, err));
        CHECK (sf_map_u32 (m, "height", &s->media.height, err));
        CHECK (sf_map_double (m, "fps", &s->media.fps, err));
        CHECK (sf_map_str (m, "acodec", s->media.acodec, SF_SHORT_MAX, err));
    }
    CHECK (s_val_i64 (f [F_CHANGED], "changed_at_ms", &s->changed_at_ms, err));
    CHECK (s_val_bool (f [F_TRANSFER], "transfer", &s->transfer, err));
    CHECK (s_val_str (f [F_MIGRATED], "migrated_to", s->migrated_to, SF_NODE_MAX, err));
    return 0;
fail:
    return -1;
}

//  ---------------------------------------------------------------------------
//  Node records

void
sf_usage_pack (msgpack_packer *pk, const sf_node_t *n)
{
    msgpack_pack_map (pk, 6);
    sf_pack_kdouble (pk, "cpu_pct", n->cpu_pct);
    sf_pack_ku64 (pk, "mem_used_bytes", n->mem_used_bytes);
    sf_pack_ku64 (pk, "mem_total_bytes", n->mem_total_bytes);
    sf_pack_ku64 (pk, "in_kbps", n->in_kbps);
    sf_pack_ku64 (pk, "out_kbps", n->out_kbps);
    sf_pack_str (pk, "disks");
    msgpack_pack_array (pk, n->ndisks);
    for (uint32_t i = 0; i < n->ndisks && i < SF_DISKS_MAX; i++) {
        msgpack_pack_map (pk, 3);
        sf_pack_kstr (pk, "mount", n->disks [i].mount);
        sf_pack_ku64 (pk, "free_bytes", n->disks [i].free_bytes);
        sf_pack_ku64 (pk, "total_bytes", n->disks [i].total_bytes);
    }
}

int
sf_usage_unpack (const msgpack_object *o, sf_node_t *n, char *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_err (err, "usage", "must be a map");
    CHECK (sf_map_double (o, "cpu_pct", &n->cpu_pct, err));
    CHECK (sf_map_u64 (o, "mem_used_bytes", &n->mem_used_bytes, err));
    CHECK (sf_map_u64 (o, "mem_total_bytes", &n->mem_total_bytes, err));
    CHECK (sf_map_u32 (o, "in_kbps", &n->in_kbps, err));
    CHECK (sf_map_u32 (o, "out_kbps", &n->out_kbps, err));
    const msgpack_object *d = sf_map_get (o, "disks");
    if (d && d->type != MSGPACK_OBJECT_NIL) {
        if (d->type != MSGPACK_OBJECT_ARRAY || d->via.array.size > SF_DISKS_MAX)
            return s_err_bounds (err, "disks", "must be an array of at most 16 disks");
        n->ndisks = 0;
        for (uint32_t i = 0; i < d->via.array.size; i++) {
            sf_disk_t *disk = &n->disks [n->ndisks];
            memset (disk, 0, sizeof (*disk));
            CHECK (sf_map_str (&d->via.array.ptr [i], "mount", disk->mount, SF_ADDR_MAX, err));
            CHECK (sf_map_u64 (&d->via.array.ptr [i], "free_bytes", &disk->free_bytes, err));
            CHECK (sf_map_u64 (&d->via.array.ptr [i], "total_bytes", &disk->total_bytes, err));
            n->ndisks++;
        }
    }
    return 0;
fail:
    return -1;
}

void
sf_node_pack (msgpack_packer *pk, const sf_node_t *n, int flags)
{
    bool derived = (flags & SF_ENC_DERIVED) != 0;
    msgpack_pack_map (pk, 17 + (derived ? 6 : 0));
    sf_pack_kstr (pk, "id", n->id);
    sf_pack_kstr (pk, "addr_internal", n->addr_internal);
    sf_pack_kstr (pk, "addr_external", n->addr_external);
    sf_pack_kstr (pk, "group", n->group);
    sf_pack_ku64 (pk, "max_primary_streams", n->max_primary_streams);
    sf_pack_ku64 (pk, "max_in_kbps", n->max_in_kbps);
    sf_pack_kstr (pk, "software_version", n->software_version);
    sf_pack_ki64 (pk, "started_at", n->started_at);
    sf_pack_kstr (pk, "rtsp_template", n->rtsp_template);
    sf_pack_kstr (pk, "hls_template", n->hls_template);
    sf_pack_kstr (pk, "rtsp_dvr_template", n->rtsp_dvr_template);
    sf_pack_kstr (pk, "hls_dvr_template", n->hls_dvr_template);
    sf_pack_str (pk, "usage");
    sf_usage_pack (pk, n);
    sf_pack_ku64 (pk, "heartbeat", n->heartbeat);
    sf_pack_kbool (pk, "stale", n->stale);
    sf_pack_str (pk, "version");
    msgpack_pack_array (pk, 2);
    msgpack_pack_uint64 (pk, n->version.gen);
    msgpack_pack_uint64 (pk, n->version.seq);
    sf_pack_kstr (pk, "kind", "node");
    if (derived) {
        sf_pack_kstr (pk, "liveness", sf_liveness_name (n->liveness));
        sf_pack_ki64 (pk, "heartbeat_age_ms", n->heartbeat_age_ms);
        sf_pack_ku64 (pk, "nstreams", n->nstreams);
        sf_pack_ku64 (pk, "nprimary", n->nprimary);
        sf_pack_ku64 (pk, "nactive", n->nactive);
        sf_pack_ku64 (pk, "in_kbps_total", n->in_kbps);
    }
}

int
sf_node_unpack (const msgpack_object *o, sf_node_t *n, char *err)
{
    sf_node_init (n);
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_err (err, "node", "must be a map");
    int rc = sf_map_str (o, "id", n->id, SF_NODE_MAX, err);
    CHECK (rc);
    if (rc == 1 || !n->id [0])
        return s_err (err, "id", "is required and must not be empty");
    CHECK (sf_map_str (o, "addr_internal", n->addr_internal, SF_ADDR_MAX, err));
    CHECK (sf_map_str (o, "addr_external", n->addr_external, SF_ADDR_MAX, err));
    CHECK (sf_map_str (o, "group", n->group, SF_SHORT_MAX, err));
    CHECK (sf_map_u32 (o, "max_primary_streams", &n->max_primary_streams, err));
    CHECK (sf_map_u32 (o, "max_in_kbps", &n->max_in_kbps, err));
    CHECK (sf_map_str (o, "software_version", n->software_version, SF_SHORT_MAX, err));
    CHECK (sf_map_i64 (o, "started_at", &n->started_at, err));
    CHECK (sf_map_str (o, "rtsp_template", n->rtsp_template, SF_ADDR_MAX, err));
    CHECK (sf_map_str (o, "hls_template", n->hls_template, SF_ADDR_MAX, err));
    CHECK (sf_map_str (o, "rtsp_dvr_template", n->rtsp_dvr_template, SF_ADDR_MAX, err));
    CHECK (sf_map_str (o, "hls_dvr_template", n->hls_dvr_template, SF_ADDR_MAX, err));
    const msgpack_object *u = sf_map_get (o, "usage");
    if (u && u->type != MSGPACK_OBJECT_NIL)
        CHECK (sf_usage_unpack (u, n, err));
    CHECK (sf_map_u64 (o, "heartbeat", &n->heartbeat, err));
    CHECK (sf_map_bool (o, "stale", &n->stale, err));
    const msgpack_object *v = sf_map_get (o, "version");
    if (v && v->type != MSGPACK_OBJECT_NIL) {
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2
        ||  v->via.array.ptr [0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        ||  v->via.array.ptr [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return s_err (err, "version", "must be [generation, seq]");
        n->version.gen = v->via.array.ptr [0].via.u64;
        n->version.seq = v->via.array.ptr [1].via.u64;
    }
    char word [16];
    if (sf_map_str (o, "liveness", word, sizeof (word) - 1, NULL) == 0)
        for (int i = 0; i <= SF_LIVE_DOWN; i++)
            if (strcmp (word, sf_liveness_name (i)) == 0)
                n->liveness = (uint8_t) i;
    sf_map_i64 (o, "heartbeat_age_ms", &n->heartbeat_age_ms, NULL);
    sf_map_u32 (o, "nstreams", &n->nstreams, NULL);
    sf_map_u32 (o, "nprimary", &n->nprimary, NULL);
    sf_map_u32 (o, "nactive", &n->nactive, NULL);
    return 0;
fail:
    return -1;
}

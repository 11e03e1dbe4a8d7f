/*  codec.c — msgpack encoding and defensive decoding of records and message
    envelopes (docs/protocol.md).

    Decoding runs in two steps. s_precheck walks the raw bytes once and proves
    that every container's element count fits in the bytes that remain, so a
    frame of a few bytes cannot make msgpack-c reserve gigabytes for an array it
    claims to hold. Then msgpack-c builds the object tree in a zone owned by the
    sf_msg_t, and the typed accessors below check each field's type and bound.
*/
#include "sf_codec.h"
#include "sf_alloc.h"
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <malloc.h>
#include <pthread.h>
#include <assert.h>

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

//  Where the msgpack object starting at p [at] ends, or 0 when it runs past
//  size or is no msgpack
static size_t
s_obj_end (const uint8_t *p, size_t size, size_t at)
{
    uint64_t pending = 1;
    while (pending) {
        if (at >= size)
            return 0;
        uint8_t b = p [at];
        uint64_t head = 1, skip = 0, add = 0;
        if (b <= 0x7f || b >= 0xe0 || (b >= 0xc2 && b <= 0xc3) || b == 0xc0)
            ;
        else if (b >= 0x80 && b <= 0x8f)
            add = 2 * (uint64_t) (b & 0x0f);
        else if (b >= 0x90 && b <= 0x9f)
            add = b & 0x0f;
        else if (b >= 0xa0 && b <= 0xbf)
            skip = b & 0x1f;
        else {
            int len = 0;
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
                case 0xc4: case 0xd9: len = 1; break;
                case 0xc5: case 0xda: len = 2; break;
                case 0xc6: case 0xdb: len = 4; break;
                case 0xc7: len = 1; skip = 1; break;
                case 0xc8: len = 2; skip = 1; break;
                case 0xc9: len = 4; skip = 1; break;
                case 0xdc: case 0xde: len = 2; break;
                case 0xdd: case 0xdf: len = 4; break;
                default: return 0;
            }
            if (len) {
                if (at + 1 + (size_t) len > size)
                    return 0;
                uint64_t n = s_be (p + at + 1, len);
                head += (uint64_t) len;
                if (b == 0xdc || b == 0xdd) add = n;
                else if (b == 0xde || b == 0xdf) add = 2 * n;
                else skip += n;
            }
        }
        if (head + skip > size - at)
            return 0;
        at += head + skip;
        pending = pending - 1 + add;
        if (pending > size - at)
            return 0;
    }
    return at;
}

//  0 when the bytes hold exactly one well-formed msgpack object whose
//  containers claim no more elements than bytes remain, -1 otherwise
static int
s_precheck (const uint8_t *p, size_t size)
{
    return size && s_obj_end (p, size, 0) == size ? 0 : -1;
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
    //  The frame's size is the peer's: a refusal is the frame's fault, so
    //  this allocation keeps its -1 path (sf_alloc.h)
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
sf_msgpack_precheck (const void *data, size_t size)
{
    return size > 0 && s_precheck (data, size) == 0 ? 0 : -1;
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
sf_msg_peek_type (const void *data, size_t size, char *type, size_t cap)
{
    const uint8_t *p = data;
    //  fixarray of 3, a positive fixint version, a fixstr or str 8 type
    if (size < 3 || p [0] != 0x93 || p [1] > 0x7f)
        return -1;
    size_t len, at;
    if ((p [2] & 0xe0) == 0xa0)
        len = p [2] & 0x1f, at = 3;
    else if (p [2] == 0xd9 && size >= 4)
        len = p [3], at = 4;
    else
        return -1;
    if (len >= cap || at + len > size || memchr (p + at, 0, len))
        return -1;
    memcpy (type, p + at, len);
    type [len] = 0;
    return 0;
}

int
sf_obj_str (const msgpack_object *o, char *out, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size > cap)
        return -1;
    //  An empty string may come with no bytes behind it (ptr NULL)
    if (o->via.str.size)
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
        s = sf_xrealloc (s, v->via.str.size + 1);
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

//  Records, driven by the field table (include/sf_fields.h)
//
//  A table's top-level keys are its TOP and ALIAS lines plus one key per
//  nested map (its group). s_table_t holds what the codec derives from the
//  table once: the top-level keys and their static hash (the decoder finds
//  every key of a record in one pass over its map), each line's top-level
//  slot, and the map sizes of each form, so no count is written by hand.

#define S_SLOTS     128         //  power of two, > twice the top-level keys
#define S_TOP_MAX   48
#define S_LINES_MAX 64
#define S_FORMS     4           //  bit 0: full, bit 1: derived

typedef struct {
    const sf_field_t *fields;
    int nfields;
    int ntop;
    const char *top [S_TOP_MAX];            //  top-level keys
    size_t toplen [S_TOP_MAX];
    int8_t slot_of [S_LINES_MAX];           //  line -> top-level key
    bool first [S_LINES_MAX];               //  first line of its group
    bool alias [S_LINES_MAX];               //  shows another line's member: never decoded
    uint32_t keylen [S_LINES_MAX];
    int ngroups;                            //  nested maps: their slot and lines
    struct { int slot, first, count; } groups [8];
    int ntexts;                             //  TEXT lines' offsets (s_stream_reuse)
    size_t texts [16];
    int uid_line;                           //  the stream's uid line, -1 if none
    int8_t hash [S_SLOTS];                  //  -> top-level key
    uint32_t nkeys [S_FORMS];               //  top-level map size per form
    uint32_t ngroup [S_FORMS][S_LINES_MAX]; //  at a group's first line: its map size
} s_table_t;

static s_table_t s_stream_table, s_node_table;
static pthread_once_t s_tables_once = PTHREAD_ONCE_INIT;

static uint32_t
s_fnv (const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t) p [i]) * 16777619u;
    return h;
}

//  The wire bits a form writes
static uint16_t
s_form_mask (int form)
{
    return (uint16_t) (SF_F_ROW | (form & 1 ? SF_F_FULL : 0) | (form & 2 ? SF_F_DERIVED : 0));
}

static void
s_table_build (s_table_t *t, const sf_field_t *fields)
{
    memset (t, 0, sizeof (*t));
    t->fields = fields;
    memset (t->hash, -1, sizeof (t->hash));
    t->uid_line = -1;
    for (int i = 0; fields [i].key; i++) {
        const sf_field_t *f = &fields [i];
        assert (i < S_LINES_MAX);
        t->nfields = i + 1;
        if (fields == sf_stream_fields && strcmp (f->key, "uid") == 0)
            t->uid_line = i;
        const char *key = f->group ? f->group : f->key;
        int slot = -1;
        for (int j = 0; j < t->ntop; j++)
            if (strcmp (t->top [j], key) == 0)
                slot = j;
        if (slot < 0) {
            assert (t->ntop < S_TOP_MAX);
            slot = t->ntop++;
            t->top [slot] = key;
            t->toplen [slot] = strlen (key);
            uint32_t h = s_fnv (key, t->toplen [slot]) & (S_SLOTS - 1);
            while (t->hash [h] >= 0)
                h = (h + 1) & (S_SLOTS - 1);
            t->hash [h] = (int8_t) slot;
            t->first [i] = true;
        }
        t->slot_of [i] = (int8_t) slot;
        t->keylen [i] = (uint32_t) strlen (f->key);
        if (f->group && t->first [i]) {
            assert (t->ngroups < 8);
            t->groups [t->ngroups].slot = slot;
            t->groups [t->ngroups].first = i;
            t->ngroups++;
        }
        if (f->group)
            t->groups [t->ngroups - 1].count++;
        if (f->kind == SF_K_TEXT) {
            assert (t->ntexts < 16);
            t->texts [t->ntexts++] = f->offset;
        }
        for (int j = 0; j < i; j++)
            if (f->kind != SF_K_TAG && fields [j].offset == f->offset && fields [j].kind == f->kind)
                t->alias [i] = true;
    }
    for (int form = 0; form < S_FORMS; form++) {
        uint16_t mask = s_form_mask (form);
        int group_first = -1;
        for (int i = 0; i < t->nfields; i++) {
            const sf_field_t *f = &fields [i];
            if (t->first [i])
                group_first = i;
            if (!(f->where & mask))
                continue;
            if (!f->group)
                t->nkeys [form]++;
            else {
                if (t->ngroup [form][group_first]++ == 0)
                    t->nkeys [form]++;
            }
        }
    }
}

static void
s_tables_build (void)
{
    s_table_build (&s_stream_table, sf_stream_fields);
    s_table_build (&s_node_table, sf_node_fields);
}

static inline const s_table_t *
s_stream_tab (void)
{
    pthread_once (&s_tables_once, s_tables_build);
    return &s_stream_table;
}

static inline const s_table_t *
s_node_tab (void)
{
    pthread_once (&s_tables_once, s_tables_build);
    return &s_node_table;
}

static const char *s_fn_names [] = { "dvr", "photo", "audio" };

//  Inlined with a constant kind (the stream encoder below), the switch folds
//  away and each line is one direct call.
static inline __attribute__ ((always_inline)) void
s_enc (int kind, msgpack_packer *pk, const void *at, const void *record, const char *dflt)
{
    const char *p = at;
    switch (kind) {
        case SF_K_STR: sf_pack_str (pk, p); break;
        case SF_K_TEXT: {
            const char *t;
            memcpy (&t, p, sizeof (t));
            sf_pack_str (pk, t);
            break;
        }
        case SF_K_U32: { uint32_t v; memcpy (&v, p, sizeof (v)); msgpack_pack_uint64 (pk, v); break; }
        case SF_K_U64: { uint64_t v; memcpy (&v, p, sizeof (v)); msgpack_pack_uint64 (pk, v); break; }
        case SF_K_I64: { int64_t v; memcpy (&v, p, sizeof (v)); msgpack_pack_int64 (pk, v); break; }
        case SF_K_I32U: case SF_K_I32NN: {
            int32_t v;
            memcpy (&v, p, sizeof (v));
            msgpack_pack_int64 (pk, v);
            break;
        }
        case SF_K_BOOL:
            if (*(const bool *) p)
                msgpack_pack_true (pk);
            else
                msgpack_pack_false (pk);
            break;
        case SF_K_DOUBLE: { double v; memcpy (&v, p, sizeof (v)); msgpack_pack_double (pk, v); break; }
        case SF_K_TYPE: sf_pack_str (pk, sf_type_name (*(const uint8_t *) p)); break;
        case SF_K_STATUS: sf_pack_str (pk, sf_status_name (*(const uint8_t *) p)); break;
        case SF_K_LIVENESS: sf_pack_str (pk, sf_liveness_name (*(const uint8_t *) p)); break;
        case SF_K_FUNCS: {
            uint8_t fns = *(const uint8_t *) p;
            int nfn = 0;
            for (int i = 0; i < 3; i++)
                if (fns & (1 << i))
                    nfn++;
            msgpack_pack_array (pk, nfn);
            for (int i = 0; i < 3; i++)
                if (fns & (1 << i))
                    sf_pack_str (pk, s_fn_names [i]);
            break;
        }
        case SF_K_VERSION: {
            sf_version_t v;
            memcpy (&v, p, sizeof (v));
            msgpack_pack_array (pk, 2);
            msgpack_pack_uint64 (pk, v.gen);
            msgpack_pack_uint64 (pk, v.seq);
            break;
        }
        case SF_K_RANGES: {
            const sf_dvr_t *d = (const sf_dvr_t *) (p - offsetof (sf_dvr_t, ranges));
            msgpack_pack_array (pk, d->nranges);
            for (uint32_t i = 0; i < d->nranges; i++) {
                msgpack_pack_array (pk, 2);
                msgpack_pack_int64 (pk, d->ranges [i].from);
                msgpack_pack_int64 (pk, d->ranges [i].to);
            }
            break;
        }
        case SF_K_DISKS: {
            const sf_node_t *n = record;
            msgpack_pack_array (pk, n->ndisks);
            for (uint32_t i = 0; i < n->ndisks && i < SF_DISKS_MAX; i++) {
                msgpack_pack_map (pk, 3);
                sf_pack_kstr (pk, "mount", n->disks [i].mount);
                sf_pack_ku64 (pk, "free_bytes", n->disks [i].free_bytes);
                sf_pack_ku64 (pk, "total_bytes", n->disks [i].total_bytes);
            }
            break;
        }
        case SF_K_TAG: sf_pack_str (pk, dflt); break;
        default: msgpack_pack_nil (pk);
    }
}

void
sf_field_pack (msgpack_packer *pk, const sf_field_t *f, const void *record)
{
    s_enc (f->kind, pk, (const char *) record + f->offset, record, f->dflt);
}

//  Packs the lines of one form: the top-level map, each group as a nested
//  map where its first line sits. subst, when set, is written for line
//  subst_line (a stream's empty uid is written as its name, the default).
static void
s_pack (msgpack_packer *pk, const s_table_t *t, const void *record, int form,
        int subst_line, const char *subst)
{
    uint16_t mask = s_form_mask (form);
    msgpack_pack_map (pk, t->nkeys [form]);
    for (int i = 0; i < t->nfields; i++) {
        const sf_field_t *f = &t->fields [i];
        if (f->group && t->first [i] && t->ngroup [form][i]) {
            sf_pack_str (pk, f->group);
            msgpack_pack_map (pk, t->ngroup [form][i]);
        }
        if (!(f->where & mask))
            continue;
        msgpack_pack_str (pk, t->keylen [i]);
        msgpack_pack_str_body (pk, f->key, t->keylen [i]);
        if (i == subst_line)
            sf_pack_str (pk, subst);
        else
            sf_field_pack (pk, f, record);
    }
}

//  The stream table's line numbers, the dotted paths' prefixes, the groups
#define S_LINE_ENUM(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_LINE_##g##_##m,
enum { SF_STREAM_FIELDS (S_LINE_ENUM) S_STREAM_LINES };
#define S_PREFIX_TOP    ""
#define S_PREFIX_SOURCE "source."
#define S_PREFIX_DVR    "dvr."
#define S_PREFIX_MEDIA  "media."
#define S_GROUP_TOP     NULL
#define S_GROUP_SOURCE  "source"
#define S_GROUP_DVR     "dvr"
#define S_GROUP_MEDIA   "media"

void
sf_stream_pack (msgpack_packer *pk, const sf_stream_t *s, int flags)
{
    int form = (flags & SF_ENC_FULL ? 1 : 0) | (flags & SF_ENC_DERIVED ? 2 : 0);
    uint16_t mask = s_form_mask (form);
    const s_table_t *t = s_stream_tab ();
    msgpack_pack_map (pk, t->nkeys [form]);
    //  One direct call per line of the table, in table order; a group's map
    //  opens at its first line
#define S_ENC_LINE(g, m, key, k, b, w, su, so, rp, cl, d, doc) \
    if (S_GROUP_##g && t->first [S_LINE_##g##_##m] && t->ngroup [form][S_LINE_##g##_##m]) { \
        sf_pack_str (pk, S_GROUP_##g); \
        msgpack_pack_map (pk, t->ngroup [form][S_LINE_##g##_##m]); \
    } \
    if ((w) & mask) { \
        msgpack_pack_str (pk, sizeof (key) - 1); \
        msgpack_pack_str_body (pk, key, sizeof (key) - 1); \
        if (S_LINE_##g##_##m == t->uid_line && !s->uid [0]) \
            sf_pack_str (pk, s->name);      /*  an empty uid means the name  */ \
        else \
            s_enc (SF_K_##k, pk, &s->SF_PATH_##g (m), s, d); \
    }
    SF_STREAM_FIELDS (S_ENC_LINE)
}

#define CHECK(expr) do { if ((expr) < 0) goto fail; } while (0)

static int
s_unpack_ranges (const msgpack_object *r, sf_dvr_t *dvr, const char *path, char *err)
{
    if (r->type != MSGPACK_OBJECT_ARRAY)
        return s_err (err, path, "must be an array");
    if (r->via.array.size > SF_RANGES_MAX)
        return s_err_bounds (err, path, "holds more than 8192 ranges");
    for (uint32_t i = 0; i < r->via.array.size; i++) {
        const msgpack_object *e = &r->via.array.ptr [i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 2)
            return s_err (err, path, "entries must be [from, to]");
        int64_t v [2];
        for (int j = 0; j < 2; j++) {
            const msgpack_object *x = &e->via.array.ptr [j];
            if (x->type == MSGPACK_OBJECT_POSITIVE_INTEGER && x->via.u64 <= INT64_MAX)
                v [j] = (int64_t) x->via.u64;
            else if (x->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
                v [j] = x->via.i64;
            else
                return s_err (err, path, "entries must be integers");
        }
        if (v [1] < v [0])
            return s_err (err, path, "has a range ending before it starts");
        //  Unsorted input is accepted: appended as is, normalised below
        if (sf_dvr_push_range (dvr, v [0], v [1]))
            return s_err (err, path, "could not be stored");
    }
    sf_dvr_normalize (dvr);
    return 0;
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

static int
s_unpack_disks (const msgpack_object *d, sf_node_t *n, char *err)
{
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
    return 0;
fail:
    return -1;
}

//  Decodes one line's value v (NULL or nil: absent, field untouched).
//  Returns 0, 1 (absent) or -1 with err set.
//  Inlined with a constant kind (the stream decoder below), the switch folds
//  away and each line is one direct call.
static inline __attribute__ ((always_inline)) int
s_dec (int kind, const msgpack_object *v, const char *path, void *at, uint32_t bound,
       void *record, char *err)
{
    if (!v || v->type == MSGPACK_OBJECT_NIL)
        return 1;
    char *p = at;
    switch (kind) {
        case SF_K_STR: return s_val_str (v, path, p, bound, err);
        case SF_K_TEXT: return s_val_text (v, path, (char **) p, bound, err);
        case SF_K_U32: return s_val_u32 (v, path, (uint32_t *) p, err);
        case SF_K_U64: return s_val_u64 (v, path, (uint64_t *) p, err);
        case SF_K_I64: return s_val_i64 (v, path, (int64_t *) p, err);
        case SF_K_I32U: {
            int64_t x = -1;
            int rc = s_val_i64 (v, path, &x, err);
            if (rc == 0)
                *(int32_t *) p = x < INT32_MIN || x > INT32_MAX ? -1 : (int32_t) x;
            return rc;
        }
        case SF_K_I32NN: {
            int64_t x = 0;
            int rc = s_val_i64 (v, path, &x, err);
            if (rc == 0) {
                if (x < 0 || x > INT32_MAX)
                    return s_err (err, path, "is out of range");
                *(int32_t *) p = (int32_t) x;
            }
            return rc;
        }
        case SF_K_BOOL: return s_val_bool (v, path, (bool *) p, err);
        case SF_K_DOUBLE: return s_val_double (v, path, (double *) p, err);
        case SF_K_TYPE: case SF_K_STATUS: case SF_K_LIVENESS: {
            char word [16];
            int rc = s_val_str (v, path, word, sizeof (word) - 1, err);
            if (rc)
                return rc;
            int x = kind == SF_K_TYPE ? sf_type_parse (word)
                  : kind == SF_K_STATUS ? sf_status_parse (word) : -1;
            if (kind == SF_K_LIVENESS)
                for (int i = 0; i <= SF_LIVE_DOWN; i++)
                    if (strcmp (word, sf_liveness_name (i)) == 0)
                        x = i;
            if (x < 0)
                return s_err (err, path, kind == SF_K_TYPE ? "must be primary, secondary or migrated"
                                       : kind == SF_K_STATUS
                                       ? "must be active, suspend, starting, error or offline"
                                       : "must be alive, suspect or down");
            *(uint8_t *) p = (uint8_t) x;
            return 0;
        }
        case SF_K_FUNCS: return s_unpack_functions (v, (uint8_t *) p, err);
        case SF_K_VERSION: {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size != 2
            ||  v->via.array.ptr [0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
            ||  v->via.array.ptr [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return s_err (err, path, "must be [generation, seq]");
            sf_version_t ver = { v->via.array.ptr [0].via.u64, v->via.array.ptr [1].via.u64 };
            memcpy (p, &ver, sizeof (ver));
            return 0;
        }
        case SF_K_RANGES:
            return s_unpack_ranges (v, (sf_dvr_t *) (p - offsetof (sf_dvr_t, ranges)), path, err);
        case SF_K_DISKS: return s_unpack_disks (v, record, err);
        default: return 1;              //  TAG: written by senders, not read
    }
}

static int
s_unpack_field (const sf_field_t *f, const msgpack_object *v, void *record, char *err)
{
    return s_dec (f->kind, v, f->path, (char *) record + f->offset, f->bound, record, err);
}

//  Finds every top-level key of map in one pass: top [slot] gets its value
static void
s_index (const s_table_t *t, const msgpack_object *map, const msgpack_object **top)
{
    memset (top, 0, t->ntop * sizeof (*top));
    for (uint32_t i = 0; i < map->via.map.size; i++) {
        const msgpack_object *k = &map->via.map.ptr [i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            continue;
        uint32_t h = s_fnv (k->via.str.ptr, k->via.str.size) & (S_SLOTS - 1);
        while (t->hash [h] >= 0) {
            int slot = t->hash [h];
            if (t->toplen [slot] == k->via.str.size
            &&  memcmp (t->top [slot], k->via.str.ptr, k->via.str.size) == 0) {
                //  The first of duplicate keys wins, as sf_map_get does
                if (!top [slot])
                    top [slot] = &map->via.map.ptr [i].val;
                break;
            }
            h = (h + 1) & (S_SLOTS - 1);
        }
    }
}

//  Decodes every line of the table from map into record. Lines outside
//  `mask` are skipped; DERIVED lines are decoded strictly unless
//  lenient_derived (a bad derived value is then dropped).
//  Finds each line's value in map: val [line], NULL when absent. Returns 0,
//  or -1 when a nested map is not a map.
static int
s_gather (const s_table_t *t, const msgpack_object *map, const msgpack_object **val, char *err)
{
    const msgpack_object *top [S_TOP_MAX];
    s_index (t, map, top);
    for (int i = 0; i < t->nfields; i++)
        val [i] = t->fields [i].group ? NULL : top [t->slot_of [i]];
    //  Each nested map present is walked once too; its keys are few
    for (int g = 0; g < t->ngroups; g++) {
        const msgpack_object *o = top [t->groups [g].slot];
        if (!o || o->type == MSGPACK_OBJECT_NIL)
            continue;
        if (o->type != MSGPACK_OBJECT_MAP)
            return s_err (err, t->fields [t->groups [g].first].group, "must be a map");
        int first = t->groups [g].first, end = first + t->groups [g].count;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object *k = &o->via.map.ptr [i].key;
            if (k->type != MSGPACK_OBJECT_STR)
                continue;
            for (int j = first; j < end; j++)
                if (t->keylen [j] == k->via.str.size
                &&  memcmp (t->fields [j].key, k->via.str.ptr, k->via.str.size) == 0) {
                    if (!val [j])
                        val [j] = &o->via.map.ptr [i].val;
                    break;
                }
        }
    }
    return 0;
}

static int
s_unpack (const s_table_t *t, const msgpack_object *map, void *record, uint16_t mask,
          bool lenient_derived, char *err)
{
    const msgpack_object *val [S_LINES_MAX];
    if (s_gather (t, map, val, err))
        return -1;
    for (int i = 0; i < t->nfields; i++) {
        const sf_field_t *f = &t->fields [i];
        if (!(f->where & mask) || t->alias [i])
            continue;
        int rc;
        if ((f->where & SF_F_DERIVED) && lenient_derived)
            rc = s_unpack_field (f, val [i], record, NULL) < 0 ? 1 : 0;
        else
            rc = s_unpack_field (f, val [i], record, err);
        if (rc < 0)
            return -1;
        if ((f->where & SF_F_REQUIRED)
        &&  (rc == 1 || (f->kind == SF_K_STR && !*((char *) record + f->offset))))
            return s_err (err, f->path, "is required and must not be empty");
    }
    return 0;
}

//  Empties a record for decoding into it again, keeping its text and range
//  buffers so that a steady stream of records allocates nothing
static void
s_stream_reuse (const s_table_t *t, sf_stream_t *s)
{
    char *texts [16];
    for (int i = 0; i < t->ntexts; i++)
        memcpy (&texts [i], (char *) s + t->texts [i], sizeof (char *));
    sf_range_t *ranges = s->dvr.ranges;
    sf_stream_init (s);
    for (int i = 0; i < t->ntexts; i++) {
        if (texts [i])
            texts [i][0] = 0;
        memcpy ((char *) s + t->texts [i], &texts [i], sizeof (char *));
    }
    s->dvr.ranges = ranges;
}

int
sf_stream_unpack (const msgpack_object *o, sf_stream_t *s, char *err)
{
    const s_table_t *t = s_stream_tab ();
    s_stream_reuse (t, s);
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_err (err, "stream", "must be a map");
    const msgpack_object *val [S_LINES_MAX];
    if (s_gather (t, o, val, err))
        return -1;
    //  One direct call per line of the table, in table order
#define S_DEC_LINE(g, m, key, k, b, w, su, so, rp, cl, d, doc) \
    { \
        int rc = s_dec (SF_K_##k, val [S_LINE_##g##_##m], S_PREFIX_##g key, \
                        (void *) &s->SF_PATH_##g (m), (b), s, err); \
        if (rc < 0) \
            return -1; \
        if (((w) & SF_F_REQUIRED) && (rc == 1 || !*(const char *) &s->SF_PATH_##g (m))) \
            return s_err (err, S_PREFIX_##g key, "is required and must not be empty"); \
    }
    SF_STREAM_FIELDS (S_DEC_LINE)
    if (!s->uid [0])
        memcpy (s->uid, s->name, sizeof (s->uid));
    return 0;
}

//  ---------------------------------------------------------------------------
//  Node records

//  The lines of one group alone (the usage map of a heartbeat)
static void
s_pack_group (msgpack_packer *pk, const s_table_t *t, const void *record, const char *group)
{
    for (int i = 0; i < t->nfields; i++)
        if (t->fields [i].group && t->first [i] && strcmp (t->fields [i].group, group) == 0) {
            msgpack_pack_map (pk, t->ngroup [1][i]);
            for (int j = i; j < t->nfields && t->fields [j].group
                         && strcmp (t->fields [j].group, group) == 0; j++)
                if (t->fields [j].where & (SF_F_ROW | SF_F_FULL)) {
                    sf_pack_str (pk, t->fields [j].key);
                    sf_field_pack (pk, &t->fields [j], record);
                }
            return;
        }
}

void
sf_usage_pack (msgpack_packer *pk, const sf_node_t *n)
{
    s_pack_group (pk, s_node_tab (), n, "usage");
}

int
sf_usage_unpack (const msgpack_object *o, sf_node_t *n, char *err)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_err (err, "usage", "must be a map");
    const s_table_t *t = s_node_tab ();
    for (int i = 0; i < t->nfields; i++) {
        const sf_field_t *f = &t->fields [i];
        if (f->group && strcmp (f->group, "usage") == 0
        &&  s_unpack_field (f, sf_map_get (o, f->key), n, err) < 0)
            return -1;
    }
    return 0;
}

void
sf_node_pack (msgpack_packer *pk, const sf_node_t *n, int flags)
{
    //  A node record is always written whole
    s_pack (pk, s_node_tab (), n, 1 | (flags & SF_ENC_DERIVED ? 2 : 0), -1, NULL);
}

int
sf_node_unpack (const msgpack_object *o, sf_node_t *n, char *err)
{
    sf_node_init (n);
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_err (err, "node", "must be a map");
    return s_unpack (s_node_tab (), o, n, SF_F_ROW | SF_F_FULL | SF_F_DERIVED, true, err);
}

//  ---------------------------------------------------------------------------
//  Field-level deltas (docs/protocol.md, "patch")
//
//  A patch is a stream record with only some of its keys: `name` (which
//  placement) and the lines that changed, a changed line of a nested group
//  inside that group's map with only its changed keys. The controller
//  decodes it onto what it holds (sf_stream_patch), and where only lines that
//  need no fleet decision changed it rewrites its stored bytes without
//  decoding them (sf_stream_splice); an agent makes one from the bytes it
//  last sent and the bytes it would send now (sf_stream_diff).

_Static_assert (S_STREAM_LINES <= 64, "a line set is one uint64_t");

uint64_t
sf_stream_line (const char *path)
{
    const s_table_t *t = s_stream_tab ();
    for (int i = 0; i < t->nfields; i++) {
        const sf_field_t *f = &t->fields [i];
        if (strcmp (f->path, path) == 0)
            return (uint64_t) 1 << i;
    }
    return 0;
}

int
sf_stream_patch (const msgpack_object *o, sf_stream_t *s, uint64_t *lines, char *err)
{
    const s_table_t *t = s_stream_tab ();
    *lines = 0;
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_err (err, "patch", "must be a map");
    const msgpack_object *val [S_LINES_MAX];
    if (s_gather (t, o, val, err))
        return -1;
    const msgpack_object *name = val [S_LINE_TOP_name];
    if (!name || name->type != MSGPACK_OBJECT_STR || name->via.str.size == 0)
        return s_err (err, "patch.name", "is required and must not be empty");
    //  The placement it names must be the one s holds (or s is empty)
    if (s->name [0] && (name->via.str.size != strlen (s->name)
                    ||  memcmp (name->via.str.ptr, s->name, name->via.str.size) != 0))
        return s_err (err, "patch.name", "names another placement");
    //  One direct call per line present, in table order; ranges replace
#define S_PATCH_LINE(g, m, key, k, b, w, su, so, rp, cl, d, doc) \
    if (val [S_LINE_##g##_##m] && val [S_LINE_##g##_##m]->type != MSGPACK_OBJECT_NIL) { \
        if (SF_K_##k == SF_K_RANGES) \
            s->dvr.nranges = 0; \
        if (s_dec (SF_K_##k, val [S_LINE_##g##_##m], S_PREFIX_##g key, \
                   (void *) &s->SF_PATH_##g (m), (b), s, err) < 0) \
            return -1; \
        if (S_LINE_##g##_##m != S_LINE_TOP_name) \
            *lines |= (uint64_t) 1 << S_LINE_##g##_##m; \
    }
    SF_STREAM_FIELDS (S_PATCH_LINE)
    if (!s->uid [0])
        memcpy (s->uid, s->name, sizeof (s->uid));
    return 0;
}

//  A map's header at p [*at]: its size, *at moved past it; -1 if no map
static int64_t
s_map_head (const uint8_t *p, size_t size, size_t *at)
{
    if (*at >= size)
        return -1;
    uint8_t b = p [*at];
    if (b >= 0x80 && b <= 0x8f) {
        *at += 1;
        return b & 0x0f;
    }
    int len = b == 0xde ? 2 : b == 0xdf ? 4 : 0;
    if (!len || *at + 1 + (size_t) len > size)
        return -1;
    int64_t n = (int64_t) s_be (p + *at + 1, len);
    *at += 1 + (size_t) len;
    return n;
}

//  A string key at p [*at]: its bytes and length, *at moved past it; -1 if none
static int
s_key_at (const uint8_t *p, size_t size, size_t *at, const char **key, size_t *len)
{
    if (*at >= size)
        return -1;
    uint8_t b = p [*at];
    size_t head, n;
    if (b >= 0xa0 && b <= 0xbf)
        head = 1, n = b & 0x1f;
    else if (b == 0xd9 && *at + 2 <= size)
        head = 2, n = p [*at + 1];
    else if (b == 0xda && *at + 3 <= size)
        head = 3, n = (size_t) s_be (p + *at + 1, 2);
    else
        return -1;
    if (head + n > size - *at)
        return -1;
    *key = (const char *) p + *at + head;
    *len = n;
    *at += head + n;
    return 0;
}

//  The line of key (inside group, NULL at the top) among the lines set in
//  lines, or -1
static int
s_line_in (const s_table_t *t, uint64_t lines, const char *group, size_t glen, const char *key, size_t len)
{
    for (uint64_t m = lines; m; m &= m - 1) {
        int i = __builtin_ctzll (m);
        const sf_field_t *f = &t->fields [i];
        if (t->alias [i] || t->keylen [i] != len || memcmp (f->key, key, len) != 0)
            continue;
        if (group ? f->group && strlen (f->group) == glen && memcmp (f->group, group, glen) == 0
                  : !f->group)
            return i;
    }
    return -1;
}

//  The group whose top-level key is key, or -1
static int
s_group_of (const s_table_t *t, const char *key, size_t len)
{
    for (int g = 0; g < t->ngroups; g++) {
        const char *name = t->fields [t->groups [g].first].group;
        if (strlen (name) == len && memcmp (name, key, len) == 0)
            return g;
    }
    return -1;
}

static uint64_t
s_group_lines (const s_table_t *t, int g)
{
    uint64_t m = 0;
    for (int i = t->groups [g].first; i < t->groups [g].first + t->groups [g].count; i++)
        m |= (uint64_t) 1 << i;
    return m;
}

//  Packs line of s as the full form does
static void
s_enc_line (msgpack_packer *pk, const s_table_t *t, const sf_stream_t *s, int line)
{
    switch (line) {
#define S_ENC_ONE(g, m, key, k, b, w, su, so, rp, cl, d, doc) \
        case S_LINE_##g##_##m: \
            if (S_LINE_##g##_##m == t->uid_line && !s->uid [0]) \
                sf_pack_str (pk, s->name); \
            else \
                s_enc (SF_K_##k, pk, &s->SF_PATH_##g (m), s, d); \
            break;
        SF_STREAM_FIELDS (S_ENC_ONE)
        default: msgpack_pack_nil (pk);
    }
}

static void
s_raw (msgpack_packer *pk, const uint8_t *p, size_t from, size_t to)
{
    pk->callback (pk->data, (const char *) p + from, to - from);
}

int
sf_stream_splice (msgpack_packer *pk, const void *stored, size_t size, const sf_stream_t *s,
                  uint64_t lines)
{
    const s_table_t *t = s_stream_tab ();
    const uint8_t *p = stored;
    size_t at = 0;
    int64_t n = s_map_head (p, size, &at);
    if (n < 0)
        return -1;
    uint64_t found = 0;
    msgpack_pack_map (pk, (size_t) n);
    for (int64_t i = 0; i < n; i++) {
        size_t k0 = at;
        const char *key;
        size_t len;
        if (s_key_at (p, size, &at, &key, &len))
            return -1;
        size_t v0 = at, v1 = s_obj_end (p, size, at);
        if (!v1)
            return -1;
        //  Only the lines asked for are looked for: most keys are copied
        int line = s_line_in (t, lines, NULL, 0, key, len);
        int g = line < 0 ? s_group_of (t, key, len) : -1;
        if (line >= 0) {
            s_raw (pk, p, k0, v0);
            s_enc_line (pk, t, s, line);
            found |= (uint64_t) 1 << line;
        }
        else if (g >= 0 && (lines & s_group_lines (t, g))) {
            s_raw (pk, p, k0, v0);
            size_t gat = v0;
            int64_t gn = s_map_head (p, v1, &gat);
            if (gn < 0)
                return -1;
            msgpack_pack_map (pk, (size_t) gn);
            for (int64_t j = 0; j < gn; j++) {
                size_t gk0 = gat;
                const char *gkey;
                size_t glen;
                if (s_key_at (p, v1, &gat, &gkey, &glen))
                    return -1;
                size_t gv0 = gat, gv1 = s_obj_end (p, v1, gat);
                if (!gv1)
                    return -1;
                int gl = s_line_in (t, lines, key, len, gkey, glen);
                if (gl >= 0) {
                    s_raw (pk, p, gk0, gv0);
                    s_enc_line (pk, t, s, gl);
                    found |= (uint64_t) 1 << gl;
                }
                else
                    s_raw (pk, p, gk0, gv1);
                gat = gv1;
            }
            if (gat != v1)
                return -1;
        }
        else
            s_raw (pk, p, k0, v1);
        at = v1;
    }
    //  Every line asked for was in the stored record (it is written whole,
    //  so a missing one is an older record: the caller stores it whole)
    return at == size && found == lines ? 0 : -1;
}

//  One changed top-level entry of a diff: a line's bytes, or a group's
//  changed keys
typedef struct {
    size_t k0, v1;              //  the entry in the new record
    int nsub;
    size_t sub [S_LINES_MAX][2];
} s_diff_entry_t;

int
sf_stream_diff (msgpack_packer *pk, const void *old_bytes, size_t osize, const void *new_bytes,
                size_t nsize)
{
    const uint8_t *o = old_bytes, *p = new_bytes;
    size_t oat = 0, at = 0;
    int64_t on = s_map_head (o, osize, &oat), n = s_map_head (p, nsize, &at);
    if (on < 0 || n < 0 || on != n || n > S_LINES_MAX)
        return -1;
    static __thread s_diff_entry_t entries [S_LINES_MAX];
    int nent = 0, changed = 0;
    size_t name0 = 0, name1 = 0;
    for (int64_t i = 0; i < n; i++) {
        size_t k0 = at, ok0 = oat;
        const char *key, *okey;
        size_t len, olen;
        if (s_key_at (p, nsize, &at, &key, &len) || s_key_at (o, osize, &oat, &okey, &olen)
        ||  len != olen || memcmp (key, okey, len) != 0)
            return -1;              //  not the same shape: send it whole
        size_t v0 = at, v1 = s_obj_end (p, nsize, at);
        size_t ov0 = oat, ov1 = s_obj_end (o, osize, oat);
        if (!v1 || !ov1)
            return -1;
        (void) ok0;
        if (len == 4 && memcmp (key, "name", 4) == 0) {
            if (v1 - v0 != ov1 - ov0 || memcmp (p + v0, o + ov0, v1 - v0) != 0)
                return -1;          //  another placement
            name0 = k0, name1 = v1;
        }
        else if (v1 - v0 != ov1 - ov0 || memcmp (p + v0, o + ov0, v1 - v0) != 0) {
            s_diff_entry_t *e = &entries [nent++];
            e->k0 = k0;
            e->v1 = v1;
            e->nsub = -1;
            //  A nested map of the same size is diffed key by key
            size_t g = v0, og = ov0;
            int64_t gn = s_map_head (p, v1, &g), ogn = s_map_head (o, ov1, &og);
            if (gn >= 0 && gn == ogn && gn <= S_LINES_MAX) {
                e->nsub = 0;
                for (int64_t j = 0; j < gn && e->nsub >= 0; j++) {
                    size_t gk0 = g;
                    const char *gk, *ogk;
                    size_t gl, ogl;
                    if (s_key_at (p, v1, &g, &gk, &gl) || s_key_at (o, ov1, &og, &ogk, &ogl)
                    ||  gl != ogl || memcmp (gk, ogk, gl) != 0) {
                        e->nsub = -1;
                        break;
                    }
                    size_t gv0 = g, gv1 = s_obj_end (p, v1, g), ogv0 = og, ogv1 = s_obj_end (o, ov1, og);
                    if (!gv1 || !ogv1) {
                        e->nsub = -1;
                        break;
                    }
                    if (gv1 - gv0 != ogv1 - ogv0 || memcmp (p + gv0, o + ogv0, gv1 - gv0) != 0) {
                        e->sub [e->nsub][0] = gk0;
                        e->sub [e->nsub][1] = gv1;
                        e->nsub++;
                        changed++;
                    }
                    g = gv1, og = ogv1;
                }
                if (e->nsub < 0)
                    changed++;      //  sent whole
            }
            else
                changed++;
        }
        at = v1, oat = ov1;
    }
    if (at != nsize || oat != osize || !name1)
        return -1;
    if (changed == 0)
        return 0;
    msgpack_pack_map (pk, (size_t) nent + 1);
    s_raw (pk, p, name0, name1);
    for (int i = 0; i < nent; i++) {
        s_diff_entry_t *e = &entries [i];
        if (e->nsub < 0) {
            s_raw (pk, p, e->k0, e->v1);
            continue;
        }
        size_t v0 = e->k0;
        const char *key;
        size_t len;
        s_key_at (p, nsize, &v0, &key, &len);
        s_raw (pk, p, e->k0, v0);
        msgpack_pack_map (pk, (size_t) e->nsub);
        for (int j = 0; j < e->nsub; j++)
            s_raw (pk, p, e->sub [j][0], e->sub [j][1]);
    }
    return changed;
}

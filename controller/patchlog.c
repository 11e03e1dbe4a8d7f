/*  patchlog.c — the last patch of each recently changed placement
    (include/sf_patchlog.h).

    A direct-mapped table: slot = hash (node \0 name) & mask. A slot holds
    one note: the key (node \0 name \0, kept to tell keys that share a
    slot apart), the versions, and the packed patch, in one buffer that is
    reused while it is large enough. Packing the patch once at the note is
    what lets gossip copy its bytes into a delta as they are.

    Consecutive patches coalesce: a note whose base is the version the
    slot's note (same key) was made at continues a chain, and the slot also
    keeps the chain's patches merged into one (from the chain's first base:
    each key's latest value, nested groups key by key, a nil leaving the
    value before it), so a peer that missed several changes of a placement
    still gets one patch, not the whole record. A put, a deletion or a
    snapshot of the placement breaks the chain (the next note's base is not
    the slot's version).
*/
#include "sf_patchlog.h"
#include "sf_alloc.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t hash;
    sf_version_t base, ver;
    char *buf;                      //  node \0 name \0 patch
    uint32_t keylen, size, cap;     //  size: the patch's bytes, after the key
    bool used;
    //  The chain's patches merged, from mbase to ver (merged: there is one)
    sf_version_t mbase;
    char *mbuf;
    uint32_t msize, mcap;
    bool merged;
} s_slot_t;

struct sf_patchlog_t {
    //  Every field: ingest thread only
    s_slot_t *slots;                //  NULL until the first note
    size_t mask;
    size_t count;                   //  slots in use
    size_t bytes;                   //  buffer bytes held
    msgpack_sbuffer packed;         //  the note being packed
    msgpack_sbuffer merging;        //  a merged patch being packed
    msgpack_zone zone;              //  the merged patch before, unpacked
};

sf_patchlog_t *
sf_patchlog_new (size_t slots)
{
    sf_patchlog_t *self = sf_xcalloc (1, sizeof (*self));
    size_t n = 1;
    while (n < slots && n < ((size_t) 1 << 30))
        n <<= 1;
    self->mask = n - 1;
    msgpack_sbuffer_init (&self->packed);
    msgpack_sbuffer_init (&self->merging);
    msgpack_zone_init (&self->zone, 1024);
    return self;
}

void
sf_patchlog_destroy (sf_patchlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_patchlog_t *self = *self_p;
    if (self->slots)
        for (size_t i = 0; i <= self->mask; i++) {
            free (self->slots [i].buf);
            free (self->slots [i].mbuf);
        }
    free (self->slots);
    msgpack_sbuffer_destroy (&self->packed);
    msgpack_sbuffer_destroy (&self->merging);
    msgpack_zone_destroy (&self->zone);
    free (self);
    *self_p = NULL;
}

static int
s_vcmp (sf_version_t a, sf_version_t b)
{
    if (a.gen != b.gen)
        return a.gen < b.gen ? -1 : 1;
    return a.seq == b.seq ? 0 : a.seq < b.seq ? -1 : 1;
}

//  FNV-1a over node \0 name
static uint64_t
s_hash (const char *node, const char *name)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = node; *p; p++)
        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    h = (h ^ 0) * 1099511628211ULL;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    return h;
}

static bool
s_same_key (const s_slot_t *sl, uint64_t hash, const char *node, const char *name)
{
    if (!sl->used || sl->hash != hash)
        return false;
    size_t nlen = strlen (node);
    return memcmp (sl->buf, node, nlen + 1) == 0 && strcmp (sl->buf + nlen + 1, name) == 0;
}

static void
s_empty (sf_patchlog_t *self, s_slot_t *sl)
{
    if (sl->used)
        self->count--;
    sl->used = false;
    sl->merged = false;
}

static bool
s_key_eq (const msgpack_object *a, const msgpack_object *b)
{
    return a->type == MSGPACK_OBJECT_STR && b->type == MSGPACK_OBJECT_STR
        && a->via.str.size == b->via.str.size
        && memcmp (a->via.str.ptr, b->via.str.ptr, a->via.str.size) == 0;
}

static const msgpack_object *
s_lookup (const msgpack_object *map, const msgpack_object *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (s_key_eq (&map->via.map.ptr [i].key, key))
            return &map->via.map.ptr [i].val;
    return NULL;
}

//  Packs the patch that does what before, then after, do (docs/protocol.md
//  §4.3: a value replaces the one before whole, a nested group's map holds
//  only its changed keys, a nil leaves the value as it is)
static void
s_merge (msgpack_packer *pk, const msgpack_object *before, const msgpack_object *after)
{
    uint32_t n = before->via.map.size;
    for (uint32_t i = 0; i < after->via.map.size; i++) {
        const msgpack_object_kv *kv = &after->via.map.ptr [i];
        if (kv->val.type != MSGPACK_OBJECT_NIL && !s_lookup (before, &kv->key))
            n++;
    }
    msgpack_pack_map (pk, n);
    for (uint32_t i = 0; i < before->via.map.size; i++) {
        const msgpack_object_kv *kv = &before->via.map.ptr [i];
        const msgpack_object *later = s_lookup (after, &kv->key);
        msgpack_pack_object (pk, kv->key);
        if (!later || later->type == MSGPACK_OBJECT_NIL)
            msgpack_pack_object (pk, kv->val);
        else if (later->type == MSGPACK_OBJECT_MAP && kv->val.type == MSGPACK_OBJECT_MAP)
            s_merge (pk, &kv->val, later);
        else
            msgpack_pack_object (pk, *later);
    }
    for (uint32_t i = 0; i < after->via.map.size; i++) {
        const msgpack_object_kv *kv = &after->via.map.ptr [i];
        if (kv->val.type != MSGPACK_OBJECT_NIL && !s_lookup (before, &kv->key)) {
            msgpack_pack_object (pk, kv->key);
            msgpack_pack_object (pk, kv->val);
        }
    }
}

//  The chain of sl (its note at base..ver) goes on with patch, made at
//  ver..: merges the chain's patch (or its one note) with patch into
//  self->merging. 0, or -1 (nothing to merge: sl's bytes unreadable)
static int
s_chain (sf_patchlog_t *self, s_slot_t *sl, const msgpack_object *patch)
{
    const char *data = sl->merged ? sl->mbuf : sl->buf + sl->keylen;
    size_t size = sl->merged ? sl->msize : sl->size;
    msgpack_object before;
    size_t off = 0;
    msgpack_zone_clear (&self->zone);
    if (msgpack_unpack (data, size, &off, &self->zone, &before) != MSGPACK_UNPACK_SUCCESS
    ||  before.type != MSGPACK_OBJECT_MAP || patch->type != MSGPACK_OBJECT_MAP)
        return -1;
    msgpack_sbuffer_clear (&self->merging);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->merging, msgpack_sbuffer_write);
    s_merge (&pk, &before, patch);
    return 0;
}

void
sf_patchlog_note (sf_patchlog_t *self, const char *node, const char *name, sf_version_t base,
                  sf_version_t ver, const msgpack_object *patch)
{
    if (!self->slots)
        self->slots = sf_xcalloc (self->mask + 1, sizeof (s_slot_t));
    uint64_t hash = s_hash (node, name);
    s_slot_t *sl = &self->slots [hash & self->mask];
    //  This patch goes on from the slot's note: the chain's merged patch
    //  (packed into self->merging) comes from the chain's first base
    bool chain = s_same_key (sl, hash, node, name) && s_vcmp (sl->ver, base) == 0
              && s_chain (self, sl, patch) == 0;
    sf_version_t mbase = sl->merged ? sl->mbase : sl->base;
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    msgpack_pack_object (&pk, *patch);
    size_t nlen = strlen (node), klen = nlen + 1 + strlen (name) + 1;
    size_t need = klen + self->packed.size;
    if (self->packed.size > SF_PATCHLOG_PATCH_MAX
    ||  (need > sl->cap && self->bytes - sl->cap + need > SF_PATCHLOG_BYTES)) {
        s_empty (self, sl);
        return;
    }
    if (need > sl->cap) {
        //  Room for a slightly larger patch next time, without a realloc
        size_t cap = need + 32;
        self->bytes = self->bytes - sl->cap + cap;
        sl->buf = sf_xrealloc (sl->buf, cap);
        sl->cap = (uint32_t) cap;
    }
    memcpy (sl->buf, node, nlen + 1);
    memcpy (sl->buf + nlen + 1, name, klen - nlen - 1);
    memcpy (sl->buf + klen, self->packed.data, self->packed.size);
    if (!sl->used)
        self->count++;
    sl->used = true;
    sl->hash = hash;
    sl->keylen = (uint32_t) klen;
    sl->size = (uint32_t) self->packed.size;
    sl->base = base;
    sl->ver = ver;
    //  The merged patch, within the same limits (else the chain ends here:
    //  the last patch alone is still kept)
    size_t mneed = self->merging.size;
    sl->merged = chain && mneed <= SF_PATCHLOG_PATCH_MAX
              && (mneed <= sl->mcap || self->bytes - sl->mcap + mneed <= SF_PATCHLOG_BYTES);
    if (!sl->merged)
        return;
    if (mneed > sl->mcap) {
        size_t cap = mneed + 32;
        self->bytes = self->bytes - sl->mcap + cap;
        sl->mbuf = sf_xrealloc (sl->mbuf, cap);
        sl->mcap = (uint32_t) cap;
    }
    memcpy (sl->mbuf, self->merging.data, mneed);
    sl->msize = (uint32_t) mneed;
    sl->mbase = mbase;
}

int
sf_patchlog_find (sf_patchlog_t *self, const char *node, const char *name, sf_version_t ver,
                  sf_version_t *base, const void **data, size_t *size)
{
    if (!self || !self->slots)
        return -1;
    uint64_t hash = s_hash (node, name);
    const s_slot_t *sl = &self->slots [hash & self->mask];
    if (!s_same_key (sl, hash, node, name) || sl->ver.gen != ver.gen || sl->ver.seq != ver.seq)
        return -1;
    *base = sl->base;
    *data = sl->buf + sl->keylen;
    *size = sl->size;
    return 0;
}

int
sf_patchlog_find_upto (sf_patchlog_t *self, const char *node, const char *name, sf_version_t ver,
                       sf_version_t upto, sf_version_t *base, const void **data, size_t *size)
{
    if (!self || !self->slots)
        return -1;
    uint64_t hash = s_hash (node, name);
    const s_slot_t *sl = &self->slots [hash & self->mask];
    if (!s_same_key (sl, hash, node, name) || s_vcmp (sl->ver, ver) != 0)
        return -1;
    if (s_vcmp (sl->base, upto) <= 0) {
        *base = sl->base;
        *data = sl->buf + sl->keylen;
        *size = sl->size;
        return 0;
    }
    if (sl->merged && s_vcmp (sl->mbase, upto) <= 0) {
        *base = sl->mbase;
        *data = sl->mbuf;
        *size = sl->msize;
        return 0;
    }
    return -1;
}

size_t sf_patchlog_count (sf_patchlog_t *self) { return self->count; }
size_t sf_patchlog_bytes (sf_patchlog_t *self) { return self->bytes; }

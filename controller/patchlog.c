/*  patchlog.c — the last patch of each recently changed placement
    (include/sf_patchlog.h).

    A table of groups of 4 slots: a key's group is hash (node \0 name) &
    mask; its note takes the key's slot there, a free one, or the oldest
    note's. The table doubles (every note moved) whenever three quarters
    of its slots are in use, up to its
    maximum, so that it holds about one note per changing placement of the
    fleet however large (a table smaller than the fleet loses most notes
    before a peer a few seconds behind asks for them). A slot holds
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
    uint64_t stamp;                 //  when noted (the log's note count): the oldest goes
    sf_version_t base, ver;
    //  base is a version this controller committed (else one folded into
    //  ver in the transaction that stored ver: no peer can hold it)
    bool held;
    char *buf;                      //  node \0 name \0 patch
    uint32_t keylen, size, cap;     //  size: the patch's bytes, after the key
    bool used;
    //  The chain's patches merged, from mbase to ver (merged: there is one;
    //  mheld: mbase is a version this controller committed)
    sf_version_t mbase;
    bool mheld;
    char *mbuf;
    uint32_t msize, mcap;
    bool merged;
} s_slot_t;

struct sf_patchlog_t {
    //  Every field: ingest thread only
    s_slot_t *slots;                //  NULL until the first note
    size_t mask;
    size_t max_slots;               //  the table doubles up to this many
    size_t count;                   //  slots in use
    uint64_t notes;                 //  notes made, the slots' stamps
    size_t bytes;                   //  buffer bytes held
    msgpack_sbuffer packed;         //  the note being packed
    msgpack_sbuffer merging;        //  a merged patch being packed
    msgpack_zone zone;              //  the merged patch before, unpacked
};

//  A key's slot is one of the S_WAYS of its group (slot = hash & mask,
//  rounded down to a multiple of S_WAYS): its own note's, else a free one,
//  else the oldest note's
#define S_WAYS 4

static size_t
s_pow2 (size_t want)
{
    size_t n = 1;
    while (n < want && n < ((size_t) 1 << 30))
        n <<= 1;
    return n;
}

sf_patchlog_t *
sf_patchlog_new (size_t slots, size_t max_slots)
{
    sf_patchlog_t *self = sf_xcalloc (1, sizeof (*self));
    size_t n = s_pow2 (slots < S_WAYS ? S_WAYS : slots);
    self->mask = n - 1;
    self->max_slots = max_slots > n ? s_pow2 (max_slots) : n;
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

//  The patch bytes held at most: SF_PATCHLOG_BYTES, or more for a table
//  grown large (a patch of two numbers is some 40 bytes, a merged one some
//  more, and the key)
static size_t
s_budget (const sf_patchlog_t *self)
{
    size_t scaled = (self->mask + 1) * SF_PATCHLOG_BYTES_PER_SLOT;
    return scaled > SF_PATCHLOG_BYTES ? scaled : SF_PATCHLOG_BYTES;
}

static bool s_same_key (const s_slot_t *sl, uint64_t hash, const char *node, const char *name);

//  The slot for hash in its group: the key's own (node, name given), a
//  free one, or the oldest note's
static s_slot_t *
s_place (s_slot_t *slots, size_t mask, uint64_t hash, const char *node, const char *name)
{
    s_slot_t *group = &slots [(hash & mask) & ~(size_t) (S_WAYS - 1)], *pick = NULL;
    for (int i = 0; i < S_WAYS; i++) {
        s_slot_t *sl = &group [i];
        if (node && s_same_key (sl, hash, node, name))
            return sl;
        if (!sl->used) {
            if (!pick || pick->used)
                pick = sl;
        }
        else if (!pick || (pick->used && sl->stamp < pick->stamp))
            pick = sl;
    }
    return pick;
}

//  The key's own slot, or NULL
static s_slot_t *
s_lookup_key (const sf_patchlog_t *self, uint64_t hash, const char *node, const char *name)
{
    s_slot_t *group = &self->slots [(hash & self->mask) & ~(size_t) (S_WAYS - 1)];
    for (int i = 0; i < S_WAYS; i++)
        if (s_same_key (&group [i], hash, node, name))
            return &group [i];
    return NULL;
}

//  Doubles the table: every note moves to its group in the new one (where
//  more meet than it has slots, the oldest go)
static void
s_grow (sf_patchlog_t *self)
{
    size_t n = (self->mask + 1) * 2;
    s_slot_t *slots = sf_xcalloc (n, sizeof (s_slot_t));
    size_t count = 0;
    for (size_t i = 0; i <= self->mask; i++) {
        s_slot_t *from = &self->slots [i];
        if (!from->used) {
            self->bytes -= from->cap + from->mcap;
            free (from->buf);
            free (from->mbuf);
            continue;
        }
        s_slot_t *to = s_place (slots, n - 1, from->hash, NULL, NULL);
        if (to->used) {
            self->bytes -= to->cap + to->mcap;
            free (to->buf);
            free (to->mbuf);
            count--;
        }
        *to = *from;
        count++;
    }
    free (self->slots);
    self->slots = slots;
    self->mask = n - 1;
    self->count = count;
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
                  sf_version_t ver, const msgpack_object *patch, bool held)
{
    if (!self->slots)
        self->slots = sf_xcalloc (self->mask + 1, sizeof (s_slot_t));
    uint64_t hash = s_hash (node, name);
    s_slot_t *sl = s_place (self->slots, self->mask, hash, node, name);
    //  This patch goes on from the slot's note: the chain's merged patch
    //  (packed into self->merging) comes from the chain's first base
    bool chain = s_same_key (sl, hash, node, name) && s_vcmp (sl->ver, base) == 0
              && s_chain (self, sl, patch) == 0;
    sf_version_t mbase = sl->merged ? sl->mbase : sl->base;
    bool mheld = sl->merged ? sl->mheld : sl->held;
    msgpack_sbuffer_clear (&self->packed);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->packed, msgpack_sbuffer_write);
    msgpack_pack_object (&pk, *patch);
    size_t nlen = strlen (node), klen = nlen + 1 + strlen (name) + 1;
    size_t need = klen + self->packed.size;
    size_t budget = s_budget (self);
    if (self->packed.size > SF_PATCHLOG_PATCH_MAX
    ||  (need > sl->cap && self->bytes - sl->cap + need > budget)) {
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
    bool added = !sl->used;
    if (added)
        self->count++;
    sl->used = true;
    sl->stamp = ++self->notes;
    sl->hash = hash;
    sl->keylen = (uint32_t) klen;
    sl->size = (uint32_t) self->packed.size;
    sl->base = base;
    sl->ver = ver;
    sl->held = held;
    //  The merged patch, within the same limits (else the chain ends here:
    //  the last patch alone is still kept)
    size_t mneed = self->merging.size;
    sl->merged = chain && mneed <= SF_PATCHLOG_PATCH_MAX
              && (mneed <= sl->mcap || self->bytes - sl->mcap + mneed <= budget);
    if (sl->merged) {
        if (mneed > sl->mcap) {
            size_t cap = mneed + 32;
            self->bytes = self->bytes - sl->mcap + cap;
            sl->mbuf = sf_xrealloc (sl->mbuf, cap);
            sl->mcap = (uint32_t) cap;
        }
        memcpy (sl->mbuf, self->merging.data, mneed);
        sl->msize = (uint32_t) mneed;
        sl->mbase = mbase;
        sl->mheld = mheld;
    }
    //  Three quarters of the slots in use: room for more placements (sl is
    //  not used after)
    if (added && self->count * 4 > (self->mask + 1) * 3 && self->mask + 1 < self->max_slots)
        s_grow (self);
}

int
sf_patchlog_find (sf_patchlog_t *self, const char *node, const char *name, sf_version_t ver,
                  sf_version_t *base, const void **data, size_t *size)
{
    if (!self || !self->slots)
        return -1;
    const s_slot_t *sl = s_lookup_key (self, s_hash (node, name), node, name);
    if (!sl || sl->ver.gen != ver.gen || sl->ver.seq != ver.seq)
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
    const s_slot_t *sl = s_lookup_key (self, s_hash (node, name), node, name);
    if (!sl || s_vcmp (sl->ver, ver) != 0)
        return -1;
    //  Only from a base some controller may hold: not one folded away
    if (sl->held && s_vcmp (sl->base, upto) <= 0) {
        *base = sl->base;
        *data = sl->buf + sl->keylen;
        *size = sl->size;
        return 0;
    }
    if (sl->merged && sl->mheld && s_vcmp (sl->mbase, upto) <= 0) {
        *base = sl->mbase;
        *data = sl->mbuf;
        *size = sl->msize;
        return 0;
    }
    return -1;
}

size_t sf_patchlog_count (sf_patchlog_t *self) { return self->count; }
size_t sf_patchlog_bytes (sf_patchlog_t *self) { return self->bytes; }

/*  patchlog.c — the last patch of each recently changed placement
    (include/sf_patchlog.h).

    A direct-mapped table: slot = hash (node \0 name) & mask. A slot holds
    one note: the key (node \0 name \0, kept to tell keys that share a
    slot apart), the versions, and the packed patch, in one buffer that is
    reused while it is large enough. Packing the patch once at the note is
    what lets gossip copy its bytes into a delta as they are.
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
} s_slot_t;

struct sf_patchlog_t {
    //  Every field: ingest thread only
    s_slot_t *slots;                //  NULL until the first note
    size_t mask;
    size_t count;                   //  slots in use
    size_t bytes;                   //  buffer bytes held
    msgpack_sbuffer packed;         //  the note being packed
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
    return self;
}

void
sf_patchlog_destroy (sf_patchlog_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_patchlog_t *self = *self_p;
    if (self->slots)
        for (size_t i = 0; i <= self->mask; i++)
            free (self->slots [i].buf);
    free (self->slots);
    msgpack_sbuffer_destroy (&self->packed);
    free (self);
    *self_p = NULL;
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
}

void
sf_patchlog_note (sf_patchlog_t *self, const char *node, const char *name, sf_version_t base,
                  sf_version_t ver, const msgpack_object *patch)
{
    if (!self->slots)
        self->slots = sf_xcalloc (self->mask + 1, sizeof (s_slot_t));
    uint64_t hash = s_hash (node, name);
    s_slot_t *sl = &self->slots [hash & self->mask];
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

size_t sf_patchlog_count (sf_patchlog_t *self) { return self->count; }
size_t sf_patchlog_bytes (sf_patchlog_t *self) { return self->bytes; }

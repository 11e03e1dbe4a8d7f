/*  sf_patchlog.h — the last patch of each recently changed placement
    (controller/patchlog.c), so that gossip sends a peer the change instead
    of the whole record (docs/protocol.md §6.3, "Patches").

    Whenever a placement is changed by a patch (its agent's, or a peer's in
    a delta), the controller notes (node, name, base, version, patch): the
    patch turns the record stored at version base into the record stored at
    version. Gossip asks for the note of a placement at the very version it
    is about to send, and sends the patch when the peer's digest shows that
    it holds base (a peer holds every record of an origin up to its digest).

    A table of slots in groups of four, chosen by a hash of (node, name): a
    note takes the key's slot in its group, a free one, or the oldest
    note's, so the memory is bounded (the slots,
    plus at most SF_PATCHLOG_BYTES of patch bytes, or
    SF_PATCHLOG_BYTES_PER_SLOT per slot when that is more), and a note that
    is lost costs only a whole record on the wire. The table doubles
    whenever half its slots are in use, up to a maximum (the controller's:
    SF_PATCHLOG_SLOTS_MAX, some 4 million placements), so it holds about
    one note per placement that changes: sized to the fleet, not to a
    guess. (A fixed 65,536 slots under 200,000 placements changing every
    10 s had each slot overwritten every 3 s: a peer that fell that far
    behind was sent whole records, 20 times the bytes of the patches, which
    put it further behind.) A note is found only at the
    exact version it was made for, so a later put, deletion or snapshot of
    the placement outdates it by itself; nothing is ever invalidated.
    Consecutive patches of a placement also coalesce into one, for a peer
    that missed several of them (sf_patchlog_find_upto).

    Threads: the ingest thread only (agent ingest and gossip both run there).
*/
#ifndef SF_PATCHLOG_H
#define SF_PATCHLOG_H

#include "sf_record.h"
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

#define SF_PATCHLOG_SLOTS 65536             //  the controller's table at first
#define SF_PATCHLOG_SLOTS_MAX (1 << 22)     //  ... grown up to this many slots
#define SF_PATCHLOG_PATCH_MAX 2048          //  a larger patch is not kept
#define SF_PATCHLOG_BYTES (16 << 20)        //  patch bytes held at most, or, for
#define SF_PATCHLOG_BYTES_PER_SLOT 128      //  a table grown larger, this per slot

typedef struct sf_patchlog_t sf_patchlog_t;

//  A table of slots entries (rounded up to a power of two), doubled while
//  half of them are in use up to max_slots (at most slots: fixed); its
//  memory is taken at the first note, so a controller without patches pays
//  nothing
sf_patchlog_t *sf_patchlog_new (size_t slots, size_t max_slots);
void sf_patchlog_destroy (sf_patchlog_t **self_p);
//  Notes that patch (a stream patch: a map with `name` and the changed
//  keys, docs/protocol.md §4.3) turns the record of (node, name) stored at
//  base into the one stored at ver. held: base is a version this
//  controller committed; false when base was staged in the transaction
//  that stores ver (two changes of the placement in one transaction: base
//  is folded into ver and never stored, so no peer holds it, and a peer
//  whose digest covers it may hold the placement older still). Such a
//  note is never sent alone, and a chain merged from such a base neither.
//  A patch over SF_PATCHLOG_PATCH_MAX bytes, or one over the byte budget,
//  is not kept (its slot is emptied).
void sf_patchlog_note (sf_patchlog_t *self, const char *node, const char *name, sf_version_t base,
                       sf_version_t ver, const msgpack_object *patch, bool held);
//  The note for (node, name) made at exactly ver: 0 with *base, and the
//  packed patch in *data, *size (valid until the next note), or -1.
int sf_patchlog_find (sf_patchlog_t *self, const char *node, const char *name, sf_version_t ver,
                      sf_version_t *base, const void **data, size_t *size);
//  The patch to send a peer that holds (node, name) at the newest version
//  up to upto, to bring it to ver: the note made at ver when its base is
//  at most upto, else the note's chain merged (consecutive patches of the
//  placement, from the chain's first base) when that base is; 0 with *base,
//  *data, *size (valid until the next note), or -1: send the record whole.
int sf_patchlog_find_upto (sf_patchlog_t *self, const char *node, const char *name,
                           sf_version_t ver, sf_version_t upto, sf_version_t *base,
                           const void **data, size_t *size);
//  Notes kept now, and patch bytes held
size_t sf_patchlog_count (sf_patchlog_t *self);
size_t sf_patchlog_bytes (sf_patchlog_t *self);
#endif

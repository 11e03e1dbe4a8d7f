/*  readmodel.c — the indexed, in-memory read model (include/sf_readmodel.h).

    A copy ("side") of the model holds, per placement (a dense row id):
      - column arrays: node, stored type, status, functions, derived flags,
        the numeric SUM lines of the field table (clients, bitrate,
        started_at, reconnects: S_U32, S_I64), an 8-byte name prefix;
      - the name (as sent, and lower-cased for the name filter) in an arena;
      - bitmaps per filter parameter: effective type (migrated counts as a
        type), stored status, transfer, each function;
      - a hash from (node, name) to the row;
      - an ordered name index (blocks of row ids with a Fenwick tree over the
        block sizes: insert, delete and "jump to the k-th" in O(log n)), one
        over the fleet and one per node;
      - per-node counters (rows by type, by status, primary, transfer), so
        node counts and gauges cost O(nodes).

    A listing builds the candidate set with word-wide ANDs of the bitmaps
    (and the bitmap of down nodes' rows for the states), checks names only
    for the candidates, and pages by the sort:
      - name, node: the ordered indexes (unfiltered: a jump; filtered: a
        walk that tests the candidate bitmap, or, for few candidates, a sort
        of just them);
      - status, type: groups by value (popcounts), then as name within the
        group;
      - the field table's NUM, PAIR and AGE sort keys (clients, bitrate,
        uptime, reconnects): an ordered index per key
        (s_vlist_t: entries (value, label, row) in blocks with a fence and a
        Fenwick tree over block sizes), kept by the writer in the same apply
        as everything else: a jump to any offset in O(log n) either way;
        ties go by a per-row label whose order is name order (s_label_new).
        A full block passes an entry to a neighbour before it splits.
    An order is a sequence of stretches (s_seg_t: a names list or an index
    between two keys, with its candidates): uptime is three (starts after
    now + 1; uptime -1 in name order, down nodes' rows included; the rest),
    status and type one per value. A stretch is paged by a jump, a filtered
    walk that passes over whole blocks while skipping, or, for a narrow
    filter, by ordering just its candidates (s_page_seg picks by the
    estimated cost). A keyset cursor is a place in a stretch found in
    O(log n) (s_cursor_key, s_ol_rank, s_vl_rank).

    Two sides, left-right: see sf_readmodel.h and docs/architecture.md.
*/
#include "sf_readmodel.h"
#include "sf_alloc.h"
#include <czmq.h>
#include <ctype.h>
#include <fnmatch.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BLOCK 256                 //  row ids per index block

//  One allocation policy (sf_alloc.h): abort on out of memory
#define s_alloc(p, size) sf_xrealloc ((p), (size))
#define s_zalloc(size)   sf_xcalloc (1, (size))

//  ---------------------------------------------------------------------------
//  An ordered list of row ids: blocks, with a Fenwick tree over block sizes

typedef struct s_side_t s_side_t;
typedef int (s_cmp_fn) (const s_side_t *s, uint32_t a, uint32_t b);

typedef struct {
    uint32_t n;
    uint32_t ids [S_BLOCK];
} s_block_t;

typedef struct {
    s_block_t **blocks;
    size_t nblocks, cap;
    uint32_t *fen;                  //  1-based, nblocks entries
    size_t total;
} s_olist_t;

static void
s_ol_fen_rebuild (s_olist_t *ol)
{
    ol->fen = s_alloc (ol->fen, (ol->cap + 1) * sizeof (uint32_t));
    for (size_t i = 1; i <= ol->nblocks; i++)
        ol->fen [i] = ol->blocks [i - 1]->n;
    for (size_t i = 1; i <= ol->nblocks; i++) {
        size_t j = i + (i & -i);
        if (j <= ol->nblocks)
            ol->fen [j] += ol->fen [i];
    }
}

static void
s_ol_fen_add (s_olist_t *ol, size_t b, int d)
{
    for (size_t i = b + 1; i <= ol->nblocks; i += i & -i)
        ol->fen [i] += (uint32_t) d;
}

//  Elements in blocks before b
static size_t
s_ol_before (const s_olist_t *ol, size_t b)
{
    size_t n = 0;
    for (size_t i = b; i > 0; i -= i & -i)
        n += ol->fen [i];
    return n;
}

//  The block and index of the k-th element (k < total)
static void
s_ol_select (const s_olist_t *ol, size_t k, size_t *b, size_t *i)
{
    size_t pos = 0, step = 1;
    while (step * 2 <= ol->nblocks)
        step *= 2;
    for (; step; step >>= 1)
        if (pos + step <= ol->nblocks && ol->fen [pos + step] <= k) {
            pos += step;
            k -= ol->fen [pos];
        }
    *b = pos;
    *i = k;
}

static void
s_ol_insert_block (s_olist_t *ol, size_t at, s_block_t *blk)
{
    if (ol->nblocks == ol->cap) {
        ol->cap = ol->cap ? ol->cap * 2 : 4;
        ol->blocks = s_alloc (ol->blocks, ol->cap * sizeof (s_block_t *));
    }
    memmove (ol->blocks + at + 1, ol->blocks + at, (ol->nblocks - at) * sizeof (s_block_t *));
    ol->blocks [at] = blk;
    ol->nblocks++;
}

//  The first block whose last element is not below row (or the last block)
static size_t
s_ol_find_block (const s_olist_t *ol, const s_side_t *s, s_cmp_fn *cmp, uint32_t row)
{
    size_t lo = 0, hi = ol->nblocks - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const s_block_t *blk = ol->blocks [mid];
        if (cmp (s, blk->ids [blk->n - 1], row) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static size_t
s_ol_lower (const s_block_t *blk, const s_side_t *s, s_cmp_fn *cmp, uint32_t row)
{
    size_t lo = 0, hi = blk->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cmp (s, blk->ids [mid], row) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void
s_ol_insert (s_olist_t *ol, const s_side_t *s, s_cmp_fn *cmp, uint32_t row)
{
    if (ol->nblocks == 0) {
        s_ol_insert_block (ol, 0, s_zalloc (sizeof (s_block_t)));
        s_ol_fen_rebuild (ol);
    }
    size_t b = s_ol_find_block (ol, s, cmp, row);
    s_block_t *blk = ol->blocks [b];
    size_t at = s_ol_lower (blk, s, cmp, row);
    if (blk->n == S_BLOCK) {
        //  A full block passes an entry to a neighbour with room (two point
        //  updates of the Fenwick tree), as s_vl_make_room does; it splits
        //  only when both are full
        if (b + 1 < ol->nblocks && ol->blocks [b + 1]->n < S_BLOCK && at < S_BLOCK) {
            s_block_t *nx = ol->blocks [b + 1];
            memmove (nx->ids + 1, nx->ids, nx->n * sizeof (uint32_t));
            nx->ids [0] = blk->ids [S_BLOCK - 1];
            nx->n++;
            blk->n--;
            s_ol_fen_add (ol, b + 1, 1);
            s_ol_fen_add (ol, b, -1);
        }
        else if (b > 0 && ol->blocks [b - 1]->n < S_BLOCK) {
            s_block_t *pv = ol->blocks [b - 1];
            s_ol_fen_add (ol, b - 1, 1);
            if (at == 0) {
                //  Between the previous block's last id and this block's first
                pv->ids [pv->n++] = row;
                ol->total++;
                return;
            }
            pv->ids [pv->n++] = blk->ids [0];
            memmove (blk->ids, blk->ids + 1, (S_BLOCK - 1) * sizeof (uint32_t));
            blk->n--;
            at--;
            s_ol_fen_add (ol, b, -1);
        }
        else {
            //  Split: the upper half moves to a new block after this one
            s_block_t *nb = s_zalloc (sizeof (s_block_t));
            size_t keep = S_BLOCK / 2;
            //  Appending in order (a load) keeps blocks full, not half full
            if (at == S_BLOCK && b == ol->nblocks - 1)
                keep = S_BLOCK;
            nb->n = (uint32_t) (S_BLOCK - keep);
            memcpy (nb->ids, blk->ids + keep, nb->n * sizeof (uint32_t));
            blk->n = (uint32_t) keep;
            s_ol_insert_block (ol, b + 1, nb);
            if (at >= keep) {
                at -= keep;
                blk = nb;
                b++;
            }
            memmove (blk->ids + at + 1, blk->ids + at, (blk->n - at) * sizeof (uint32_t));
            blk->ids [at] = row;
            blk->n++;
            ol->total++;
            s_ol_fen_rebuild (ol);
            return;
        }
    }
    memmove (blk->ids + at + 1, blk->ids + at, (blk->n - at) * sizeof (uint32_t));
    blk->ids [at] = row;
    blk->n++;
    ol->total++;
    s_ol_fen_add (ol, b, 1);
}

static void
s_ol_remove (s_olist_t *ol, const s_side_t *s, s_cmp_fn *cmp, uint32_t row)
{
    if (ol->nblocks == 0)
        return;
    size_t b = s_ol_find_block (ol, s, cmp, row);
    s_block_t *blk = ol->blocks [b];
    size_t at = s_ol_lower (blk, s, cmp, row);
    if (at >= blk->n || blk->ids [at] != row)
        return;                     //  not there: nothing to do
    memmove (blk->ids + at, blk->ids + at + 1, (blk->n - at - 1) * sizeof (uint32_t));
    blk->n--;
    ol->total--;
    if (blk->n == 0 && ol->nblocks > 1) {
        free (blk);
        memmove (ol->blocks + b, ol->blocks + b + 1, (ol->nblocks - b - 1) * sizeof (s_block_t *));
        ol->nblocks--;
        s_ol_fen_rebuild (ol);
    }
    else
        s_ol_fen_add (ol, b, -1);
}

//  Builds the list from ids already in order
static void
s_ol_build (s_olist_t *ol, const uint32_t *ids, size_t n)
{
    for (size_t b = 0; b < ol->nblocks; b++)
        free (ol->blocks [b]);
    ol->nblocks = 0;
    ol->total = 0;
    for (size_t at = 0; at < n; at += S_BLOCK) {
        s_block_t *blk = s_zalloc (sizeof (s_block_t));
        blk->n = (uint32_t) (n - at < S_BLOCK ? n - at : S_BLOCK);
        memcpy (blk->ids, ids + at, blk->n * sizeof (uint32_t));
        s_ol_insert_block (ol, ol->nblocks, blk);
        ol->total += blk->n;
    }
    s_ol_fen_rebuild (ol);
}

static void
s_ol_clear (s_olist_t *ol)
{
    for (size_t b = 0; b < ol->nblocks; b++)
        free (ol->blocks [b]);
    free (ol->blocks);
    free (ol->fen);
    memset (ol, 0, sizeof (*ol));
}

//  A position in a list, walked forwards or backwards
typedef struct {
    const s_olist_t *ol;
    size_t b, i;
    bool desc;
    bool done;
} s_walk_t;

//  Starts at the k-th element in the walk's direction
static void
s_walk_start (s_walk_t *w, const s_olist_t *ol, bool desc, size_t k)
{
    w->ol = ol;
    w->desc = desc;
    w->done = k >= ol->total;
    if (w->done)
        return;
    s_ol_select (ol, desc ? ol->total - 1 - k : k, &w->b, &w->i);
}

static bool
s_walk_next (s_walk_t *w, uint32_t *row)
{
    if (w->done)
        return false;
    *row = w->ol->blocks [w->b]->ids [w->i];
    if (!w->desc) {
        if (++w->i == w->ol->blocks [w->b]->n) {
            w->i = 0;
            if (++w->b == w->ol->nblocks)
                w->done = true;
        }
    }
    else if (w->i-- == 0) {
        if (w->b-- == 0)
            w->done = true;
        else
            w->i = w->ol->blocks [w->b]->n - 1;
    }
    return true;
}

//  ---------------------------------------------------------------------------
//  An ordered list of (value, label, row) entries for a numeric column:
//  blocks, a fence (each block's last entry, contiguous, so that finding the
//  block is a binary search in cache) and a Fenwick tree over block sizes.
//  The label is the row's place in name order (s_side_t.label), so ties of
//  the value go by name, then node, without touching a name.

typedef struct {
    uint64_t v;
    uint32_t label;
    uint32_t row;
} s_ent_t;

#define S_VBLOCK 128                //  entries per value block
#define S_VFILL (S_VBLOCK * 7 / 8)  //  entries per block after a bulk build

typedef struct {
    uint32_t n;
    s_ent_t e [S_VBLOCK];
} s_vblock_t;

typedef struct {
    s_vblock_t **blocks;
    s_ent_t *fence;                 //  blocks [b]->e [n - 1]
    size_t nblocks, cap;
    uint32_t *fen;                  //  1-based, nblocks entries
    size_t total;
    //  The block array changed shape (a split, an emptied block) during the
    //  writer's apply: fen is rebuilt once when the apply ends (s_vl_settle),
    //  not at every split; until then nothing reads it (the writer finds
    //  blocks by the fence, readers are on the other side)
    bool fen_stale;
} s_vlist_t;

static inline int
s_ent_cmp (const s_ent_t *a, const s_ent_t *b)
{
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->label < b->label ? -1 : a->label > b->label;
}

//  The order as one integer, for branch-free searches
static inline unsigned __int128
s_ent_key (const s_ent_t *e)
{
    return (unsigned __int128) e->v << 32 | e->label;
}

static void
s_vl_fen_rebuild (s_vlist_t *vl)
{
    vl->fen = s_alloc (vl->fen, (vl->cap + 1) * sizeof (uint32_t));
    for (size_t i = 1; i <= vl->nblocks; i++)
        vl->fen [i] = vl->blocks [i - 1]->n;
    for (size_t i = 1; i <= vl->nblocks; i++) {
        size_t j = i + (i & -i);
        if (j <= vl->nblocks)
            vl->fen [j] += vl->fen [i];
    }
    vl->fen_stale = false;
}

//  The shape changed: rebuilt once by s_vl_settle
static inline void
s_vl_fen_stale (s_vlist_t *vl)
{
    vl->fen_stale = true;
}

static void
s_vl_settle (s_vlist_t *vl)
{
    if (vl->fen_stale)
        s_vl_fen_rebuild (vl);
    vl->fen_stale = false;
}

static void
s_vl_fen_add (s_vlist_t *vl, size_t b, int d)
{
    if (vl->fen_stale)
        return;
    for (size_t i = b + 1; i <= vl->nblocks; i += i & -i)
        vl->fen [i] += (uint32_t) d;
}

static void
s_vl_select (const s_vlist_t *vl, size_t k, size_t *b, size_t *i)
{
    size_t pos = 0, step = 1;
    while (step * 2 <= vl->nblocks)
        step *= 2;
    for (; step; step >>= 1)
        if (pos + step <= vl->nblocks && vl->fen [pos + step] <= k) {
            pos += step;
            k -= vl->fen [pos];
        }
    *b = pos;
    *i = k;
}

static void
s_vl_insert_block (s_vlist_t *vl, size_t at, s_vblock_t *blk)
{
    if (vl->nblocks == vl->cap) {
        vl->cap = vl->cap ? vl->cap * 2 : 4;
        vl->blocks = s_alloc (vl->blocks, vl->cap * sizeof (s_vblock_t *));
        vl->fence = s_alloc (vl->fence, vl->cap * sizeof (s_ent_t));
    }
    memmove (vl->blocks + at + 1, vl->blocks + at, (vl->nblocks - at) * sizeof (s_vblock_t *));
    memmove (vl->fence + at + 1, vl->fence + at, (vl->nblocks - at) * sizeof (s_ent_t));
    vl->blocks [at] = blk;
    if (blk->n)
        vl->fence [at] = blk->e [blk->n - 1];
    vl->nblocks++;
}

//  The first block whose last entry is not below e (or the last block)
//  The first of n entries not below key (n if none), without branches
static inline size_t
s_ent_lower (const s_ent_t *es, size_t n, unsigned __int128 key)
{
    const s_ent_t *base = es;
    while (n > 1) {
        size_t half = n / 2;
        base = s_ent_key (&base [half - 1]) < key ? base + half : base;
        n -= half;
    }
    return (size_t) (base - es) + (n == 1 && s_ent_key (base) < key);
}

static size_t
s_vl_find_block (const s_vlist_t *vl, const s_ent_t *e)
{
    size_t b = s_ent_lower (vl->fence, vl->nblocks, s_ent_key (e));
    return b < vl->nblocks ? b : vl->nblocks - 1;
}

//  The same with a guess (SIZE_MAX: none): the writer's prefetch stage has
//  already searched the fence for the blocks a change will touch
//  (s_prefetch_near); the guess stands when the fence still agrees (a split
//  or an emptied block since shifts block numbers), else the fence is
//  searched again
static inline size_t
s_vl_find_block_h (const s_vlist_t *vl, const s_ent_t *e, size_t hint)
{
    if (hint < vl->nblocks) {
        unsigned __int128 key = s_ent_key (e);
        if ((hint == 0 || s_ent_key (&vl->fence [hint - 1]) < key)
        &&  (hint + 1 == vl->nblocks || key <= s_ent_key (&vl->fence [hint])))
            return hint;
    }
    return s_vl_find_block (vl, e);
}

//  Within a block the entries below e: a branch-free binary search (seven
//  steps in a block of 128). It used to be one counting pass over the
//  block, on the idea that the prefetcher streams it; that pass was half of
//  the writer's time at 100,000 rows (perf: s_vl_insert and s_vl_find),
//  and s_side_apply_all now asks for the block's lines ahead anyway.
static size_t
s_vl_lower (const s_vblock_t *blk, const s_ent_t *e)
{
    return s_ent_lower (blk->e, blk->n, s_ent_key (e));
}

#define S_VCASCADE 8                //  blocks a full block looks along for room
//  A block takes entries passed from a full neighbour only while it holds
//  fewer than this: passing blocks up to 128 left every block of the bench's
//  fill full, and then nearly every insert cascaded or split
#define S_VROOM S_VFILL

//  Blocks from + 1 .. to (full) each pass their last entry to the front of
//  the next: block from loses one, block to gains one (two point updates)
static void
s_vl_shift_right (s_vlist_t *vl, size_t from, size_t to)
{
    for (size_t i = to; i > from; i--) {
        s_vblock_t *dst = vl->blocks [i], *src = vl->blocks [i - 1];
        memmove (dst->e + 1, dst->e, dst->n * sizeof (s_ent_t));
        dst->e [0] = src->e [--src->n];
        dst->n++;
        vl->fence [i - 1] = src->e [src->n - 1];
    }
    s_vl_fen_add (vl, to, 1);
    s_vl_fen_add (vl, from, -1);
}

//  Blocks to .. from - 1 each take the first entry of the next one at their
//  end: block from loses one, block to (to < from) gains one
static void
s_vl_shift_left (s_vlist_t *vl, size_t from, size_t to)
{
    for (size_t i = to; i < from; i++) {
        s_vblock_t *dst = vl->blocks [i], *src = vl->blocks [i + 1];
        dst->e [dst->n++] = src->e [0];
        memmove (src->e, src->e + 1, --src->n * sizeof (s_ent_t));
        vl->fence [i] = dst->e [dst->n - 1];
    }
    s_vl_fen_add (vl, to, 1);
    s_vl_fen_add (vl, from, -1);
}

//  A full block b makes room by passing an entry to a neighbour that has
//  some: its last entry to the front of the next block, or its first to the
//  end of the previous one. When both are full, the nearest block with room
//  within S_VCASCADE on either side takes one entry from its neighbour, that
//  one from its own, and so on up to b's neighbour (a few block shifts, two
//  point updates). Only when none has room does it split: a split inserts a
//  block (a shift of the block arrays, O(blocks), and a Fenwick rebuild
//  when the apply ends). After the bench's fill, 6 % of inserts split, each
//  shifting arrays of 9,000 blocks and rebuilding the tree at once: 70 % of
//  the writer's instructions at 1M. With the new entry's place at, in block
//  b; returns where the entry goes now (its block in *b; SIZE_MAX: it was
//  placed at the end of the previous block)
static size_t
s_vl_make_room (s_vlist_t *vl, const s_ent_t *e, size_t *b, size_t at)
{
    s_vblock_t *blk = vl->blocks [*b];
    bool right = at < S_VBLOCK && *b + 1 < vl->nblocks && vl->blocks [*b + 1]->n < S_VROOM;
    bool left = *b > 0 && vl->blocks [*b - 1]->n < S_VROOM;
    for (size_t d = 2; d <= S_VCASCADE && !right && !left; d++) {
        if (at < S_VBLOCK && *b + d < vl->nblocks && vl->blocks [*b + d]->n < S_VROOM) {
            s_vl_shift_right (vl, *b + 1, *b + d);
            right = true;
        }
        else if (*b >= d && vl->blocks [*b - d]->n < S_VROOM) {
            s_vl_shift_left (vl, *b - 1, *b - d);
            left = true;
        }
    }
    if (right) {
        s_vblock_t *nx = vl->blocks [*b + 1];
        memmove (nx->e + 1, nx->e, nx->n * sizeof (s_ent_t));
        nx->e [0] = blk->e [S_VBLOCK - 1];
        nx->n++;
        blk->n--;
        s_vl_fen_add (vl, *b + 1, 1);
        s_vl_fen_add (vl, *b, -1);
        return at;
    }
    if (left) {
        s_vblock_t *pv = vl->blocks [*b - 1];
        s_vl_fen_add (vl, *b - 1, 1);
        if (at == 0) {
            //  Between the previous block's last entry and this block's first
            pv->e [pv->n++] = *e;
            vl->fence [*b - 1] = *e;
            vl->total++;
            return SIZE_MAX;
        }
        pv->e [pv->n++] = blk->e [0];
        vl->fence [*b - 1] = blk->e [0];
        memmove (blk->e, blk->e + 1, (S_VBLOCK - 1) * sizeof (s_ent_t));
        blk->n--;
        s_vl_fen_add (vl, *b, -1);
        return at - 1;
    }
    //  Split: the upper half moves to a new block after this one; appending
    //  in order (a load) keeps blocks full, not half full
    s_vblock_t *nb = s_zalloc (sizeof (s_vblock_t));
    size_t keep = S_VBLOCK / 2;
    if (at == S_VBLOCK && *b == vl->nblocks - 1)
        keep = S_VBLOCK;
    nb->n = (uint32_t) (S_VBLOCK - keep);
    memcpy (nb->e, blk->e + keep, nb->n * sizeof (s_ent_t));
    blk->n = (uint32_t) keep;
    vl->fence [*b] = blk->e [keep - 1];
    s_vl_insert_block (vl, *b + 1, nb);
    s_vl_fen_stale (vl);
    if (at >= keep) {
        at -= keep;
        ++*b;
    }
    return at;
}

static void
s_vl_insert_h (s_vlist_t *vl, const s_ent_t *e, size_t hint)
{
    if (vl->nblocks == 0) {
        s_vl_insert_block (vl, 0, s_zalloc (sizeof (s_vblock_t)));
        s_vl_fen_stale (vl);
    }
    size_t b = s_vl_find_block_h (vl, e, hint);
    size_t at = s_vl_lower (vl->blocks [b], e);
    if (vl->blocks [b]->n == S_VBLOCK) {
        at = s_vl_make_room (vl, e, &b, at);
        if (at == SIZE_MAX)
            return;
    }
    s_vblock_t *blk = vl->blocks [b];
    memmove (blk->e + at + 1, blk->e + at, (blk->n - at) * sizeof (s_ent_t));
    blk->e [at] = *e;
    blk->n++;
    vl->fence [b] = blk->e [blk->n - 1];
    vl->total++;
    s_vl_fen_add (vl, b, 1);
}

static void
s_vl_insert (s_vlist_t *vl, const s_ent_t *e)
{
    s_vl_insert_h (vl, e, SIZE_MAX);
}

//  Finds e exactly: 0 and its place, or -1
static int
s_vl_find_h (const s_vlist_t *vl, const s_ent_t *e, size_t hint, size_t *b_out, size_t *at_out)
{
    if (vl->nblocks == 0)
        return -1;
    size_t b = s_vl_find_block_h (vl, e, hint);
    const s_vblock_t *blk = vl->blocks [b];
    size_t at = s_vl_lower (blk, e);
    if (at >= blk->n || blk->e [at].row != e->row || s_ent_cmp (&blk->e [at], e))
        return -1;
    *b_out = b;
    *at_out = at;
    return 0;
}

static int
s_vl_find (const s_vlist_t *vl, const s_ent_t *e, size_t *b_out, size_t *at_out)
{
    return s_vl_find_h (vl, e, SIZE_MAX, b_out, at_out);
}

static void
s_vl_remove_at (s_vlist_t *vl, size_t b, size_t at)
{
    s_vblock_t *blk = vl->blocks [b];
    memmove (blk->e + at, blk->e + at + 1, (blk->n - at - 1) * sizeof (s_ent_t));
    blk->n--;
    vl->total--;
    if (blk->n == 0 && vl->nblocks > 1) {
        free (blk);
        memmove (vl->blocks + b, vl->blocks + b + 1, (vl->nblocks - b - 1) * sizeof (s_vblock_t *));
        memmove (vl->fence + b, vl->fence + b + 1, (vl->nblocks - b - 1) * sizeof (s_ent_t));
        vl->nblocks--;
        s_vl_fen_stale (vl);
        return;
    }
    if (blk->n)
        vl->fence [b] = blk->e [blk->n - 1];
    s_vl_fen_add (vl, b, -1);
}

static void
s_vl_remove (s_vlist_t *vl, const s_ent_t *e)
{
    size_t b, at;
    if (s_vl_find (vl, e, &b, &at) == 0)
        s_vl_remove_at (vl, b, at);
}

//  A value changed: old out, new in. When both belong to the same block the
//  entries between them shift by one and no count changes.
//  (hint_old, hint_new: the blocks the prefetch stage found, or SIZE_MAX)
static void
s_vl_move (s_vlist_t *vl, const s_ent_t *old, const s_ent_t *new, size_t hint_old, size_t hint_new)
{
    size_t b, at;
    if (s_vl_find_h (vl, old, hint_old, &b, &at)) {
        s_vl_insert_h (vl, new, hint_new);
        return;
    }
    s_vblock_t *blk = vl->blocks [b];
    //  new belongs here when it falls between the neighbouring blocks
    if ((b > 0 && s_ent_cmp (&vl->fence [b - 1], new) > 0)
    ||  (b + 1 < vl->nblocks && s_ent_cmp (new, &vl->blocks [b + 1]->e [0]) > 0)) {
        s_vl_remove_at (vl, b, at);
        s_vl_insert_h (vl, new, hint_new);
        return;
    }
    //  Within the block: shift the entries between the two places
    size_t to;
    if (s_ent_cmp (new, old) < 0) {
        size_t lo = 0, hi = at;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s_ent_cmp (&blk->e [mid], new) < 0) lo = mid + 1; else hi = mid;
        }
        to = lo;
        memmove (blk->e + to + 1, blk->e + to, (at - to) * sizeof (s_ent_t));
    }
    else {
        size_t lo = at + 1, hi = blk->n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (s_ent_cmp (&blk->e [mid], new) < 0) lo = mid + 1; else hi = mid;
        }
        to = lo - 1;
        memmove (blk->e + at, blk->e + at + 1, (to - at) * sizeof (s_ent_t));
    }
    blk->e [to] = *new;
    vl->fence [b] = blk->e [blk->n - 1];
}

//  Entries already in order
static void
s_vl_build (s_vlist_t *vl, const s_ent_t *es, size_t n)
{
    for (size_t b = 0; b < vl->nblocks; b++)
        free (vl->blocks [b]);
    vl->nblocks = 0;
    vl->total = 0;
    //  Blocks 7/8 full: updates after a start then pass entries to a
    //  neighbour instead of splitting nearly every block they meet
    for (size_t at = 0; at < n; at += S_VFILL) {
        s_vblock_t *blk = s_alloc (NULL, sizeof (s_vblock_t));
        blk->n = (uint32_t) (n - at < S_VFILL ? n - at : S_VFILL);
        memcpy (blk->e, es + at, blk->n * sizeof (s_ent_t));
        s_vl_insert_block (vl, vl->nblocks, blk);
        vl->total += blk->n;
    }
    s_vl_fen_rebuild (vl);
}

static void
s_vl_clear (s_vlist_t *vl)
{
    for (size_t b = 0; b < vl->nblocks; b++)
        free (vl->blocks [b]);
    free (vl->blocks);
    free (vl->fence);
    free (vl->fen);
    memset (vl, 0, sizeof (*vl));
}

//  ---------------------------------------------------------------------------
//  One side of the model

//  The numeric columns, from the field table (sf_fields.h): one array per
//  SUM line of kind U32 (s->u32 [S_U32_member]) or I64 (s->i64
//  [S_I64_member]), in table order, so a new SUM line gets its column
//  without an edit here. S_U32 (s, clients) [row] reads one.
#define S_NC_U32(m)     S_U32_##m,
#define S_NC_SUM(k, m)  S_NC_##k (m)
#define S_NC_NOSUM(k, m)
#define S_NC_STR(m)
#define S_NC_TEXT(m)
#define S_NC_U64(m)
#define S_NC_I64(m)
#define S_NC_I32U(m)
#define S_NC_I32NN(m)
#define S_NC_BOOL(m)
#define S_NC_DOUBLE(m)
#define S_NC_TYPE(m)
#define S_NC_STATUS(m)
#define S_NC_LIVENESS(m)
#define S_NC_FUNCS(m)
#define S_NC_VERSION(m)
#define S_NC_RANGES(m)
#define S_NC_DISKS(m)
#define S_NC_TAG(m)
#define S_NC32(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_NC_##su (k, m)
enum { SF_STREAM_FIELDS (S_NC32) S_NU32 };
#undef S_NC_U32
#undef S_NC_I64
#define S_NC_U32(m)
#define S_NC_I64(m)     S_I64_##m,
enum { SF_STREAM_FIELDS (S_NC32) S_NI64 };
#define S_U32(s, m)     ((s)->u32 [S_U32_##m])
#define S_I64(s, m)     ((s)->i64 [S_I64_##m])

//  The numeric columns with an ordered index: one per SORT line whose HOW is
//  NUM (a U32 line's value), PAIR (a U32 line's value << 32 | the next U32
//  SUM line's) or AGE (an I64 line: its running rows by start descending),
//  in table order (clients, bitrate, uptime, reconnects)
#define S_VL_HOW_NUM(id)    S_VL_##id,
#define S_VL_HOW_PAIR(id)   S_VL_##id,
#define S_VL_HOW_AGE(id)    S_VL_##id,
#define S_VL_HOW_NAME(id)
#define S_VL_HOW_NODE(id)
#define S_VL_HOW_VIEW(id)
#define S_VL_HOW_TEXT(id)
#define S_VL_SORT(id, name, how)    S_VL_HOW_##how (id)
#define S_VL_NOSORT
#define S_VL_ENUM(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_VL_##so
enum { SF_STREAM_FIELDS (S_VL_ENUM) S_NVL };

//  The sort key's index, -1 if it has none
#define S_VLOF_SORT(id, name, how)  S_VLOF_HOW_##how (id)
#define S_VLOF_HOW_NUM(id)  [SF_SORT_##id] = S_VL_##id + 1,
#define S_VLOF_HOW_PAIR(id) [SF_SORT_##id] = S_VL_##id + 1,
#define S_VLOF_HOW_AGE(id)  [SF_SORT_##id] = S_VL_##id + 1,
#define S_VLOF_HOW_NAME(id)
#define S_VLOF_HOW_NODE(id)
#define S_VLOF_HOW_VIEW(id)
#define S_VLOF_HOW_TEXT(id)
#define S_VLOF_NOSORT
#define S_VLOF(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_VLOF_##so
static const int8_t s_vl_of [SF_SORT_COUNT] = { SF_STREAM_FIELDS (S_VLOF) };
static inline int
s_vl_of_sort (int key)
{
    return key >= 0 && key < SF_SORT_COUNT ? s_vl_of [key] - 1 : -1;
}

//  The uptime order's start column: the one AGE line's (its running rows
//  are the uptime index and bm_run; see the uptime stretches in
//  sf_readmodel_list). A second AGE line does not compile.
//  (SORT (id, name, how) expands to a macro name that takes the member next.)
#define S_AGE_SORT(id, name, how)   S_AGE_HOW_##how
#define S_AGE_NOSORT(m)
#define S_AGE_HOW_AGE(m)    S_I64_##m
#define S_AGE_HOW_NUM(m)
#define S_AGE_HOW_PAIR(m)
#define S_AGE_HOW_NAME(m)
#define S_AGE_HOW_NODE(m)
#define S_AGE_HOW_VIEW(m)
#define S_AGE_HOW_TEXT(m)
#define S_AGE_M(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_AGE_##so (m)
enum { S_AGE_COL = SF_STREAM_FIELDS (S_AGE_M) };
#define S_START(s)  ((s)->i64 [S_AGE_COL])

//  A PAIR's low half is the next U32 SUM line (reconnect_total after
//  reconnect_attempts), as in sf_summary_sort_value
#define S_PAIRCK_SORT(id, name, how)    S_PAIRCK_HOW_##how
#define S_PAIRCK_NOSORT(m)
#define S_PAIRCK_HOW_PAIR(m)    _Static_assert (S_U32_##m + 1 < S_NU32, "PAIR needs a U32 SUM line after it");
#define S_PAIRCK_HOW_AGE(m)
#define S_PAIRCK_HOW_NUM(m)
#define S_PAIRCK_HOW_NAME(m)
#define S_PAIRCK_HOW_NODE(m)
#define S_PAIRCK_HOW_VIEW(m)
#define S_PAIRCK_HOW_TEXT(m)
#define S_PAIRCK(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_PAIRCK_##so (m)
SF_STREAM_FIELDS (S_PAIRCK)

typedef struct {
    char id [SF_NODE_MAX + 1];
    s_olist_t names;                //  its rows in name order
    uint32_t nrows, nprimary, ntransfer;
    uint32_t by_type [SF_TYPE_COUNT];           //  effective type
    uint32_t by_status [SF_STATUS_OFFLINE];     //  stored status
} s_node_t;

//  One trigram's rows (s_tri_add)
typedef struct {
    uint32_t key, n, cap;
    uint32_t *ids;                  //  while few rows have it
    uint64_t *bm;                   //  once many do (then ids is NULL)
} s_tri_t;

struct s_side_t {
    size_t cap;                     //  rows allocated, a multiple of 64
    size_t nwords;
    size_t next_row;                //  rows [0, next_row) were handed out
    size_t used;                    //  live rows
    //  Columns
    uint16_t *node;
    uint8_t *stype, *status, *functions, *flags;
    uint32_t *u32 [S_NU32];         //  the field table's numeric SUM lines (S_U32, S_I64)
    int64_t *i64 [S_NI64];
    uint64_t *prefix;               //  first 8 name bytes, big-endian
    uint32_t *label;                //  place in name order (see s_label_new)
    uint32_t *name_off;
    uint8_t *name_len;
    uint32_t *url_off;              //  the source url, in uarena
    uint16_t *url_len;
    //  Bitmaps
    uint64_t *bm_used;
    uint64_t *bm_type [SF_TYPE_COUNT];
    uint64_t *bm_status [SF_STATUS_OFFLINE];
    uint64_t *bm_transfer;
    uint64_t *bm_conflict;          //  SF_SUM_CONFLICT (controller/fleet.c)
    uint64_t *bm_fn [3];            //  SF_FN_DVR, PHOTO, AUDIO
    uint64_t *bm_run;               //  running: started and active (uptime's index)
    //  Free row ids
    uint32_t *free;
    size_t nfree, freecap;
    //  Names: "Name\0name\0" per row
    char *arena;
    size_t arena_used, arena_cap, arena_garbage;
    //  Source urls: "url\0" per row
    char *uarena;
    size_t uarena_used, uarena_cap, uarena_garbage;
    //  (node, name) -> hash << 32 | row + 1 (the hash spares most compares)
    uint64_t *slots;
    size_t hcap, hcount;
    //  Nodes, by index; order holds the indexes sorted by id, rank the reverse
    s_node_t **nodes;
    size_t nnodes, nodecap;
    uint16_t *order;
    uint16_t *rank;
    zhashx_t *node_ix;              //  id -> index + 1
    size_t node_hint;               //  the writer's last node (s_node_find_w)
    s_olist_t names;
    s_olist_t sources;              //  rows by source url, then name order
    s_vlist_t vl [S_NVL];           //  numeric columns in order (s_vkey)
    //  The writer's guesses for the change being applied: each index's block
    //  of the old and the new entry (s_side_apply_all; SIZE_MAX: none)
    size_t hint [S_NVL][2];
    //  Trigrams of the lower-cased names: postings, and key -> index + 1
    s_tri_t *tris;
    size_t ntris, tricap;
    uint32_t *tri_slots;
    size_t tri_hcap;
};

static inline const char *
s_name (const s_side_t *s, uint32_t row)
{
    return s->arena + s->name_off [row];
}

static inline const char *
s_lname (const s_side_t *s, uint32_t row)
{
    return s->arena + s->name_off [row] + s->name_len [row] + 1;
}

static int
s_cmp_bytes (const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp (a, b, la < lb ? la : lb);
    return c ? c : (la < lb ? -1 : la > lb);
}

//  Name order: name bytes, then node id
static int
s_cmp_name (const s_side_t *s, uint32_t a, uint32_t b)
{
    if (s->prefix [a] != s->prefix [b])
        return s->prefix [a] < s->prefix [b] ? -1 : 1;
    int c = s_cmp_bytes (s_name (s, a), s->name_len [a], s_name (s, b), s->name_len [b]);
    if (c)
        return c;
    uint16_t ra = s->rank [s->node [a]], rb = s->rank [s->node [b]];
    return ra < rb ? -1 : ra > rb;
}

static inline const char *
s_url (const s_side_t *s, uint32_t row)
{
    return s->uarena + s->url_off [row];
}

//  Source order: url bytes, then name order (as the name sort's ties)
static int
s_cmp_source (const s_side_t *s, uint32_t a, uint32_t b)
{
    int c = s_cmp_bytes (s_url (s, a), s->url_len [a], s_url (s, b), s->url_len [b]);
    return c ? c : s_cmp_name (s, a, b);
}

//  sf_readmodel_key_t.url_hash (FNV-1a, never 0)
static uint64_t
s_url_hash (const char *url, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t) url [i]) * 1099511628211ULL;
    return h | 1;
}

bool
sf_readmodel_key_url_current (const sf_readmodel_key_t *key, const char *url)
{
    if (!key->url_hash)
        return true;
    if (!url)
        url = "";
    return s_url_hash (url, strnlen (url, SF_URL_MAX)) == key->url_hash;
}

static uint64_t
s_prefix (const char *name, size_t len)
{
    uint64_t p = 0;
    for (size_t i = 0; i < 8; i++)
        p = (p << 8) | (i < len ? (uint8_t) name [i] : 0);
    return p;
}

static inline bool
s_bit (const uint64_t *bm, uint32_t row)
{
    return (bm [row >> 6] >> (row & 63)) & 1;
}

static inline void
s_bit_set (uint64_t *bm, uint32_t row, bool on)
{
    if (on)
        bm [row >> 6] |= 1ull << (row & 63);
    else
        bm [row >> 6] &= ~(1ull << (row & 63));
}

static void s_tri_grow (s_side_t *s, size_t old_words, size_t words);
static void s_tri_free (s_side_t *s);

static s_side_t *
s_side_new (void)
{
    s_side_t *s = s_zalloc (sizeof (s_side_t));
    s->node_ix = zhashx_new ();
    memset (s->hint, 0xff, sizeof (s->hint));
    return s;
}

#define S_COLUMNS(X) \
    X (node) X (stype) X (status) X (functions) X (flags) \
    X (prefix) X (label) X (name_off) X (name_len) X (url_off) X (url_len)

static void
s_side_free_rows (s_side_t *s)
{
#define S_FREE(c) free (s->c); s->c = NULL;
    S_COLUMNS (S_FREE)
    for (int k = 0; k < S_NU32; k++) {
        S_FREE (u32 [k])
    }
    for (int k = 0; k < S_NI64; k++) {
        S_FREE (i64 [k])
    }
    free (s->bm_used);
    for (int i = 0; i < SF_TYPE_COUNT; i++)
        free (s->bm_type [i]);
    for (int i = 0; i < SF_STATUS_OFFLINE; i++)
        free (s->bm_status [i]);
    free (s->bm_transfer);
    free (s->bm_conflict);
    for (int i = 0; i < 3; i++)
        free (s->bm_fn [i]);
    free (s->bm_run);
}

static void
s_side_destroy (s_side_t **self_p)
{
    s_side_t *s = *self_p;
    if (!s)
        return;
    s_side_free_rows (s);
    free (s->free);
    free (s->arena);
    free (s->uarena);
    free (s->slots);
    for (size_t i = 0; i < s->nnodes; i++) {
        s_ol_clear (&s->nodes [i]->names);
        free (s->nodes [i]);
    }
    free (s->nodes);
    free (s->order);
    free (s->rank);
    zhashx_destroy (&s->node_ix);
    s_ol_clear (&s->names);
    s_ol_clear (&s->sources);
    for (int k = 0; k < S_NVL; k++)
        s_vl_clear (&s->vl [k]);
    s_tri_free (s);
    free (s);
    *self_p = NULL;
}

static uint64_t *
s_bm_grow (uint64_t *bm, size_t old_words, size_t words)
{
    bm = s_alloc (bm, words * 8);
    memset (bm + old_words, 0, (words - old_words) * 8);
    return bm;
}

//  Room for cap rows (a multiple of 64, above the current capacity)
static void
s_side_grow_to (s_side_t *s, size_t cap)
{
    size_t words = cap / 64;
#define S_GROW(c) s->c = s_alloc (s->c, cap * sizeof (*s->c));
    S_COLUMNS (S_GROW)
    for (int k = 0; k < S_NU32; k++) {
        S_GROW (u32 [k])
    }
    for (int k = 0; k < S_NI64; k++) {
        S_GROW (i64 [k])
    }
    s->bm_used = s_bm_grow (s->bm_used, s->nwords, words);
    for (int i = 0; i < SF_TYPE_COUNT; i++)
        s->bm_type [i] = s_bm_grow (s->bm_type [i], s->nwords, words);
    for (int i = 0; i < SF_STATUS_OFFLINE; i++)
        s->bm_status [i] = s_bm_grow (s->bm_status [i], s->nwords, words);
    s->bm_transfer = s_bm_grow (s->bm_transfer, s->nwords, words);
    s->bm_conflict = s_bm_grow (s->bm_conflict, s->nwords, words);
    for (int i = 0; i < 3; i++)
        s->bm_fn [i] = s_bm_grow (s->bm_fn [i], s->nwords, words);
    s->bm_run = s_bm_grow (s->bm_run, s->nwords, words);
    s_tri_grow (s, s->nwords, words);
    s->cap = cap;
    s->nwords = words;
}

static void
s_side_grow (s_side_t *s)
{
    s_side_grow_to (s, s->cap ? s->cap * 2 : 1024);
}

//  Nodes ---------------------------------------------------------------------

static int
s_node_find (const s_side_t *s, const char *id)
{
    uintptr_t v = (uintptr_t) zhashx_lookup (s->node_ix, id);
    return v ? (int) (v - 1) : -1;
}

//  The writer's lookup: a commit's changes come node by node, so the node
//  of the last change is tried first (readers use s_node_find: they share
//  a side and must not write to it)
static int
s_node_find_w (s_side_t *s, const char *id)
{
    if (s->node_hint < s->nnodes && strcmp (s->nodes [s->node_hint]->id, id) == 0)
        return (int) s->node_hint;
    int ix = s_node_find (s, id);
    if (ix >= 0)
        s->node_hint = (size_t) ix;
    return ix;
}

static int
s_node_get (s_side_t *s, const char *id)
{
    int ix = s_node_find_w (s, id);
    if (ix >= 0)
        return ix;
    if (s->nnodes == UINT16_MAX)
        return -1;
    if (s->nnodes == s->nodecap) {
        s->nodecap = s->nodecap ? s->nodecap * 2 : 16;
        s->nodes = s_alloc (s->nodes, s->nodecap * sizeof (s_node_t *));
        s->order = s_alloc (s->order, s->nodecap * sizeof (uint16_t));
        s->rank = s_alloc (s->rank, s->nodecap * sizeof (uint16_t));
    }
    s_node_t *n = s_zalloc (sizeof (s_node_t));
    snprintf (n->id, sizeof (n->id), "%s", id);
    ix = (int) s->nnodes++;
    s->nodes [ix] = n;
    zhashx_insert (s->node_ix, id, (void *) (uintptr_t) (ix + 1));
    //  Into the sorted order, and every rank after it moves up
    size_t at = 0;
    while (at < s->nnodes - 1 && strcmp (s->nodes [s->order [at]]->id, id) < 0)
        at++;
    memmove (s->order + at + 1, s->order + at, (s->nnodes - 1 - at) * sizeof (uint16_t));
    s->order [at] = (uint16_t) ix;
    for (size_t i = 0; i < s->nnodes; i++)
        s->rank [s->order [i]] = (uint16_t) i;
    return ix;
}

//  Key hash ------------------------------------------------------------------

static uint32_t
s_hash (int node, const char *name, size_t len)
{
    uint32_t h = 2166136261u ^ ((uint32_t) node * 0x9E3779B1u);
    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t) name [i]) * 16777619u;
    //  murmur3's finaliser: FNV alone leaves similar names in nearby slots
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    return h ^ (h >> 16);
}

static uint32_t
s_row_hash (const s_side_t *s, uint32_t row)
{
    return s_hash (s->node [row], s_name (s, row), s->name_len [row]);
}

static int64_t
s_lookup (const s_side_t *s, int node, const char *name, size_t len)
{
    if (!s->hcap)
        return -1;
    size_t mask = s->hcap - 1;
    uint32_t h = s_hash (node, name, len);
    for (size_t i = h & mask; s->slots [i]; i = (i + 1) & mask) {
        if ((uint32_t) (s->slots [i] >> 32) != h)
            continue;
        uint32_t row = (uint32_t) s->slots [i] - 1;
        if (s->node [row] == node && s->name_len [row] == len && memcmp (s_name (s, row), name, len) == 0)
            return row;
    }
    return -1;
}

static void
s_hash_put_h (s_side_t *s, uint32_t row, uint32_t h)
{
    size_t mask = s->hcap - 1, i = h & mask;
    while (s->slots [i])
        i = (i + 1) & mask;
    s->slots [i] = (uint64_t) h << 32 | (row + 1);
    s->hcount++;
}

static void
s_hash_put (s_side_t *s, uint32_t row)
{
    s_hash_put_h (s, row, s_row_hash (s, row));
}

//  A table of cap slots (a power of two) holding every used row. Each
//  insert into a large table is a cache miss, so the hashes are computed
//  S_HASH_AHEAD rows ahead of the inserts and their slots prefetched.
#define S_HASH_AHEAD 16
static void
s_hash_resize (s_side_t *s, size_t cap)
{
    free (s->slots);
    s->slots = s_zalloc (cap * sizeof (uint64_t));
    s->hcap = cap;
    s->hcount = 0;
    uint32_t rows [S_HASH_AHEAD], hs [S_HASH_AHEAD];
    size_t k = 0;
    for (size_t w = 0; w < s->nwords; w++)
        for (uint64_t bits = s->bm_used [w]; bits; bits &= bits - 1, k++) {
            uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
            uint32_t h = s_row_hash (s, row);
            __builtin_prefetch (&s->slots [h & (cap - 1)], 1);
            size_t at = k % S_HASH_AHEAD;
            if (k >= S_HASH_AHEAD)
                s_hash_put_h (s, rows [at], hs [at]);
            rows [at] = row;
            hs [at] = h;
        }
    for (size_t j = k > S_HASH_AHEAD ? k - S_HASH_AHEAD : 0; j < k; j++)
        s_hash_put_h (s, rows [j % S_HASH_AHEAD], hs [j % S_HASH_AHEAD]);
}

static void
s_hash_grow (s_side_t *s)
{
    s_hash_resize (s, s->hcap ? s->hcap * 2 : 2048);
}

//  Linear probing: deletion shifts the entries that follow back
static void
s_hash_del (s_side_t *s, uint32_t row)
{
    size_t mask = s->hcap - 1, i = s_row_hash (s, row) & mask;
    while ((uint32_t) s->slots [i] != row + 1)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; s->slots [j]; j = (j + 1) & mask) {
        size_t home = (size_t) (s->slots [j] >> 32) & mask;
        bool move = i <= j ? (home <= i || home > j) : (home <= i && home > j);
        if (move) {
            s->slots [i] = s->slots [j];
            i = j;
        }
    }
    s->slots [i] = 0;
    s->hcount--;
}

//  Names ---------------------------------------------------------------------

static void
s_arena_compact (s_side_t *s)
{
    char *arena = s_alloc (NULL, s->arena_cap);
    size_t at = 0;
    for (size_t w = 0; w < s->nwords; w++)
        for (uint64_t bits = s->bm_used [w]; bits; bits &= bits - 1) {
            uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
            size_t sz = 2 * (size_t) s->name_len [row] + 2;
            memcpy (arena + at, s_name (s, row), sz);
            s->name_off [row] = (uint32_t) at;
            at += sz;
        }
    free (s->arena);
    s->arena = arena;
    s->arena_used = at;
    s->arena_garbage = 0;
}

static void
s_arena_add (s_side_t *s, uint32_t row, const char *name, size_t len)
{
    size_t sz = 2 * len + 2;
    if (s->arena_garbage > 1 << 20 && s->arena_garbage * 2 > s->arena_used)
        s_arena_compact (s);
    if (s->arena_used + sz > s->arena_cap) {
        s->arena_cap = s->arena_cap ? s->arena_cap * 2 : 1 << 16;
        while (s->arena_used + sz > s->arena_cap)
            s->arena_cap *= 2;
        s->arena = s_alloc (s->arena, s->arena_cap);
    }
    char *p = s->arena + s->arena_used;
    memcpy (p, name, len);
    p [len] = 0;
    for (size_t i = 0; i < len; i++)
        p [len + 1 + i] = (char) tolower ((unsigned char) name [i]);
    p [2 * len + 1] = 0;
    s->name_off [row] = (uint32_t) s->arena_used;
    s->name_len [row] = (uint8_t) len;
    s->arena_used += sz;
}

//  Source urls: an arena of "url\0", compacted like the names' (the url of a
//  row that changes it is appended again, the old bytes are garbage)
static void
s_uarena_compact (s_side_t *s)
{
    char *arena = s_alloc (NULL, s->uarena_cap);
    size_t at = 0;
    for (size_t w = 0; w < s->nwords; w++)
        for (uint64_t bits = s->bm_used [w]; bits; bits &= bits - 1) {
            uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
            size_t sz = (size_t) s->url_len [row] + 1;
            memcpy (arena + at, s_url (s, row), sz);
            s->url_off [row] = (uint32_t) at;
            at += sz;
        }
    free (s->uarena);
    s->uarena = arena;
    s->uarena_used = at;
    s->uarena_garbage = 0;
}

static void
s_uarena_add (s_side_t *s, uint32_t row, const char *url, size_t len)
{
    size_t sz = len + 1;
    if (s->uarena_garbage > 1 << 20 && s->uarena_garbage * 2 > s->uarena_used)
        s_uarena_compact (s);
    if (s->uarena_used + sz > s->uarena_cap) {
        //  By a quarter: urls are most of what a row costs, a doubling's
        //  slack would be as much again
        s->uarena_cap = s->uarena_cap ? s->uarena_cap + s->uarena_cap / 4 : 1 << 16;
        while (s->uarena_used + sz > s->uarena_cap)
            s->uarena_cap += s->uarena_cap / 4;
        s->uarena = s_alloc (s->uarena, s->uarena_cap);
    }
    char *p = s->uarena + s->uarena_used;
    memcpy (p, url, len);
    p [len] = 0;
    s->url_off [row] = (uint32_t) s->uarena_used;
    s->url_len [row] = (uint16_t) len;
    s->uarena_used += sz;
}

//  Trigrams -------------------------------------------------------------------
//  Every distinct lower-cased 3-byte run of each name, with the rows that
//  have it: an unsorted id array while few rows do (a delete finds the id in
//  it), a bitmap once the array would be larger than one (O(1) both ways).
//  A name filter of 3 bytes or more (or a glob with a literal run that long)
//  starts from the rarest of its trigrams instead of every candidate; the
//  rest are checked on the name itself.

static inline uint32_t
s_tri_key (const char *p)
{
    return (uint32_t) (uint8_t) p [0] << 16 | (uint32_t) (uint8_t) p [1] << 8 | (uint8_t) p [2];
}

static uint32_t
s_tri_slot_hash (uint32_t key)
{
    key *= 0x9E3779B1u;
    return key ^ (key >> 15);
}

//  The posting of key (creating it when make is set), or NULL
static s_tri_t *
s_tri_get (s_side_t *s, uint32_t key, bool make)
{
    if (s->tri_hcap) {
        size_t mask = s->tri_hcap - 1;
        for (size_t i = s_tri_slot_hash (key) & mask; s->tri_slots [i]; i = (i + 1) & mask)
            if (s->tris [s->tri_slots [i] - 1].key == key)
                return &s->tris [s->tri_slots [i] - 1];
    }
    if (!make)
        return NULL;
    if ((s->ntris + 1) * 2 > s->tri_hcap) {
        size_t cap = s->tri_hcap ? s->tri_hcap * 2 : 4096;
        free (s->tri_slots);
        s->tri_slots = s_zalloc (cap * sizeof (uint32_t));
        s->tri_hcap = cap;
        for (size_t t = 0; t < s->ntris; t++) {
            size_t i = s_tri_slot_hash (s->tris [t].key) & (cap - 1);
            while (s->tri_slots [i])
                i = (i + 1) & (cap - 1);
            s->tri_slots [i] = (uint32_t) t + 1;
        }
    }
    if (s->ntris == s->tricap) {
        s->tricap = s->tricap ? s->tricap * 2 : 1024;
        s->tris = s_alloc (s->tris, s->tricap * sizeof (s_tri_t));
    }
    s_tri_t *t = &s->tris [s->ntris];
    memset (t, 0, sizeof (*t));
    t->key = key;
    size_t mask = s->tri_hcap - 1, i = s_tri_slot_hash (key) & mask;
    while (s->tri_slots [i])
        i = (i + 1) & mask;
    s->tri_slots [i] = (uint32_t) ++s->ntris;
    return t;
}

//  The distinct trigrams of a lower-cased name (at most SF_NAME_MAX)
static size_t
s_tri_of (const char *lname, size_t len, uint32_t *keys)
{
    size_t n = 0;
    for (size_t i = 0; i + 3 <= len; i++) {
        uint32_t k = s_tri_key (lname + i);
        size_t j = 0;
        while (j < n && keys [j] != k)
            j++;
        if (j == n)
            keys [n++] = k;
    }
    return n;
}

//  Every key a name is indexed under: its distinct trigrams, bigrams and
//  single bytes (at most 3 * SF_NAME_MAX). The short ones answer filters
//  of one or two bytes exactly, as a 3-byte filter's one trigram does.
#define S_GRAM2 0x1000000u
#define S_GRAM1 0x2000000u

static size_t
s_add_key (uint32_t *keys, size_t n, uint32_t k)
{
    for (size_t j = 0; j < n; j++)
        if (keys [j] == k)
            return n;
    keys [n] = k;
    return n + 1;
}

static size_t
s_grams_of (const char *lname, size_t len, uint32_t *keys)
{
    size_t n = s_tri_of (lname, len, keys);
    for (size_t i = 0; i + 2 <= len; i++)
        n = s_add_key (keys, n, S_GRAM2 | (uint32_t) (uint8_t) lname [i] << 8 | (uint8_t) lname [i + 1]);
    for (size_t i = 0; i < len; i++)
        n = s_add_key (keys, n, S_GRAM1 | (uint8_t) lname [i]);
    return n;
}

//  The one key whose rows are exactly those containing needle (1 to 3
//  lower-cased bytes)
static uint32_t
s_gram_exact (const char *needle, size_t len)
{
    if (len == 1)
        return S_GRAM1 | (uint8_t) needle [0];
    if (len == 2)
        return S_GRAM2 | (uint32_t) (uint8_t) needle [0] << 8 | (uint8_t) needle [1];
    return s_tri_key (needle);
}

static void
s_tri_add (s_side_t *s, uint32_t row)
{
    uint32_t keys [3 * SF_NAME_MAX];
    size_t n = s_grams_of (s_lname (s, row), s->name_len [row], keys);
    for (size_t k = 0; k < n; k++) {
        s_tri_t *t = s_tri_get (s, keys [k], true);
        if (t->bm) {
            s_bit_set (t->bm, row, true);
            t->n++;
            continue;
        }
        if (t->n == t->cap) {
            //  An array larger than a bitmap becomes one
            if ((size_t) t->n * 4 >= s->nwords * 8 && s->nwords) {
                t->bm = s_zalloc (s->nwords * 8);
                for (uint32_t i = 0; i < t->n; i++)
                    s_bit_set (t->bm, t->ids [i], true);
                free (t->ids);
                t->ids = NULL;
                t->cap = 0;
                s_bit_set (t->bm, row, true);
                t->n++;
                continue;
            }
            t->cap = t->cap ? t->cap * 2 : 4;
            t->ids = s_alloc (t->ids, t->cap * sizeof (uint32_t));
        }
        t->ids [t->n++] = row;
    }
}

static void
s_tri_del (s_side_t *s, uint32_t row)
{
    uint32_t keys [3 * SF_NAME_MAX];
    size_t n = s_grams_of (s_lname (s, row), s->name_len [row], keys);
    for (size_t k = 0; k < n; k++) {
        s_tri_t *t = s_tri_get (s, keys [k], false);
        if (!t)
            continue;
        if (t->bm) {
            s_bit_set (t->bm, row, false);
            t->n--;
            continue;
        }
        for (uint32_t i = 0; i < t->n; i++)
            if (t->ids [i] == row) {
                t->ids [i] = t->ids [--t->n];
                break;
            }
    }
}

//  The side grew to words: bitmaps follow
static void
s_tri_grow (s_side_t *s, size_t old_words, size_t words)
{
    for (size_t i = 0; i < s->ntris; i++)
        if (s->tris [i].bm)
            s->tris [i].bm = s_bm_grow (s->tris [i].bm, old_words, words);
}

static void
s_tri_free (s_side_t *s)
{
    for (size_t i = 0; i < s->ntris; i++) {
        free (s->tris [i].ids);
        free (s->tris [i].bm);
    }
    free (s->tris);
    free (s->tri_slots);
    s->tris = NULL;
    s->tri_slots = NULL;
    s->ntris = s->tricap = s->tri_hcap = 0;
}

//  The literal runs of a glob (fnmatch syntax, escapes honoured), lower-
//  cased, as the trigrams every match must contain. Returns how many.
static size_t
s_tri_of_glob (const char *pat, uint32_t *keys, size_t max)
{
    size_t n = 0;
    char run [SF_NAME_MAX + 1];
    size_t len = 0;
    for (const char *p = pat; ; p++) {
        bool lit = *p && *p != '*' && *p != '?' && *p != '[';
        if (lit) {
            char c = *p;
            if (c == '\\' && p [1])
                c = *++p;
            if (len < SF_NAME_MAX)
                run [len++] = (char) tolower ((unsigned char) c);
            continue;
        }
        if (len >= 3) {
            uint32_t more [SF_NAME_MAX];
            size_t m = s_tri_of (run, len, more);
            for (size_t i = 0; i < m && n < max; i++)
                keys [n++] = more [i];
        }
        len = 0;
        if (!*p)
            break;
        if (*p == '[') {
            //  A bracket expression: skip to its end (']' first is literal)
            const char *q = p + 1;
            if (*q == '!' || *q == '^')
                q++;
            if (*q == ']')
                q++;
            while (*q && *q != ']')
                q++;
            if (!*q)
                break;              //  unterminated: fnmatch takes '[' literally; no claim
            p = q;
        }
    }
    return n;
}

//  Rows ----------------------------------------------------------------------

static inline uint8_t
s_eff_type (const s_side_t *s, uint32_t row)
{
    return (s->flags [row] & SF_SUM_MIGRATED) ? SF_TYPE_MIGRATED : s->stype [row];
}

//  What the bitmaps and counters hold of a row
typedef struct {
    uint8_t type;                   //  effective (migrated counts as a type)
    uint8_t status;                 //  stored
    uint8_t functions;
    uint8_t flags;                  //  SF_SUM_TRANSFER, SF_SUM_CONFLICT
    uint8_t run;                    //  started and active (uptime's index)
} s_acct_t;

static inline s_acct_t
s_acct_of (const s_side_t *s, uint32_t row)
{
    return (s_acct_t) {
        s_eff_type (s, row), s->status [row], s->functions [row],
        (uint8_t) (s->flags [row] & (SF_SUM_TRANSFER | SF_SUM_CONFLICT)),
        S_START (s) [row] && s->status [row] == SF_STATUS_ACTIVE
    };
}

//  Adds or removes a row's part (as a says) of the bitmaps and counters
static void
s_account (s_side_t *s, uint32_t row, const s_acct_t *a, bool add)
{
    s_node_t *n = s->nodes [s->node [row]];
    int d = add ? 1 : -1;
    s_bit_set (s->bm_type [a->type], row, add);
    s_bit_set (s->bm_status [a->status], row, add);
    bool transfer = (a->flags & SF_SUM_TRANSFER) != 0;
    s_bit_set (s->bm_transfer, row, add && transfer);
    s_bit_set (s->bm_conflict, row, add && (a->flags & SF_SUM_CONFLICT));
    for (int i = 0; i < 3; i++)
        s_bit_set (s->bm_fn [i], row, add && (a->functions & (1 << i)));
    s_bit_set (s->bm_run, row, add && a->run);
    n->nrows += d;
    n->by_type [a->type] += d;
    n->by_status [a->status] += d;
    //  Derived: a placement the stream migrated away from is not primary
    if (a->type == SF_TYPE_PRIMARY)
        n->nprimary += d;
    if (transfer)
        n->ntransfer += d;
}

//  The numeric columns from the summary: S_SETCOL per line
#define S_SC_U32(m)     S_U32 (s, m) [row] = sum->m;
#define S_SC_I64(m)     S_I64 (s, m) [row] = sum->m;
#define S_SC_SUM(k, m)  S_SC_##k (m)
#define S_SC_NOSUM(k, m)
#define S_SC_STR(m)
#define S_SC_TEXT(m)
#define S_SC_U64(m)
#define S_SC_I32U(m)
#define S_SC_I32NN(m)
#define S_SC_BOOL(m)
#define S_SC_DOUBLE(m)
#define S_SC_TYPE(m)
#define S_SC_STATUS(m)
#define S_SC_LIVENESS(m)
#define S_SC_FUNCS(m)
#define S_SC_VERSION(m)
#define S_SC_RANGES(m)
#define S_SC_DISKS(m)
#define S_SC_TAG(m)
#define S_SETCOL(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_SC_##su (k, m)

//  The stored type and status columns of a summary
static inline uint8_t
s_col_stype (const sf_summary_t *sum)
{
    return sum->type < SF_TYPE_MIGRATED ? sum->type : SF_TYPE_SECONDARY;
}

static inline uint8_t
s_col_status (const sf_summary_t *sum)
{
    return sum->status < SF_STATUS_OFFLINE ? sum->status : SF_STATUS_ERROR;
}

static void
s_set_columns (s_side_t *s, uint32_t row, const sf_summary_t *sum)
{
    s->stype [row] = s_col_stype (sum);
    s->status [row] = s_col_status (sum);
    s->functions [row] = sum->functions & 7;
    s->flags [row] = sum->flags;
    SF_STREAM_FIELDS (S_SETCOL)
}

//  A fingerprint of a row's columns (sf_readmodel_key_t.stamp): the byte
//  columns, then every numeric one in table order (S_STAMP per line, each
//  read through S_STU32 / S_STI64, defined where it is expanded)
static inline uint64_t
s_mix (uint64_t h, uint64_t v)
{
    h = (h ^ v) * 0x9e3779b97f4a7c15ull;
    return h ^ (h >> 29);
}

static inline uint64_t
s_stamp_bytes (uint8_t stype, uint8_t status, uint8_t functions, uint8_t flags)
{
    return s_mix (0, (uint64_t) stype | (uint64_t) status << 8 | (uint64_t) functions << 16
                     | (uint64_t) flags << 24);
}

#define S_ST_U32(m)     h = s_mix (h, (uint64_t) S_STU32 (m));
#define S_ST_I64(m)     h = s_mix (h, (uint64_t) S_STI64 (m));
#define S_ST_SUM(k, m)  S_ST_##k (m)
#define S_ST_NOSUM(k, m)
#define S_ST_STR(m)
#define S_ST_TEXT(m)
#define S_ST_U64(m)
#define S_ST_I32U(m)
#define S_ST_I32NN(m)
#define S_ST_BOOL(m)
#define S_ST_DOUBLE(m)
#define S_ST_TYPE(m)
#define S_ST_STATUS(m)
#define S_ST_LIVENESS(m)
#define S_ST_FUNCS(m)
#define S_ST_VERSION(m)
#define S_ST_RANGES(m)
#define S_ST_DISKS(m)
#define S_ST_TAG(m)
#define S_STAMP(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_ST_##su (k, m)

static uint64_t
s_row_stamp (const s_side_t *s, uint32_t row)
{
    uint64_t h = s_stamp_bytes (s->stype [row], s->status [row], s->functions [row], s->flags [row]);
#define S_STU32(m)  S_U32 (s, m) [row]
#define S_STI64(m)  S_I64 (s, m) [row]
    SF_STREAM_FIELDS (S_STAMP)
#undef S_STU32
#undef S_STI64
    return h;
}

bool
sf_readmodel_key_current (const sf_readmodel_key_t *key, const sf_summary_t *sum)
{
    //  The stamp of the columns s_set_columns makes of sum
    uint64_t h = s_stamp_bytes (s_col_stype (sum), s_col_status (sum), sum->functions & 7, sum->flags);
#define S_STU32(m)  sum->m
#define S_STI64(m)  sum->m
    SF_STREAM_FIELDS (S_STAMP)
#undef S_STU32
#undef S_STI64
    return h == key->stamp;
}

//  Uptime's index value of a start: ascending uptime is descending start
static inline uint64_t
s_uptime_v (int64_t started)
{
    return ~((uint64_t) started ^ (1ull << 63));
}

//  s_vkey's case per index: NUM is the value, PAIR the value << 32 | the
//  next U32 line's, AGE the start (descending) of running rows only
#define S_VK_SORT(id, name, how)    S_VK_HOW_##how (id)
#define S_VK_NOSORT(m)
#define S_VK_HOW_NUM(id)    case S_VL_##id: S_VK_NUM
#define S_VK_HOW_PAIR(id)   case S_VL_##id: S_VK_PAIR
#define S_VK_HOW_AGE(id)    case S_VL_##id: S_VK_AGE
#define S_VK_HOW_NAME(id)   S_VK_NONE
#define S_VK_HOW_NODE(id)   S_VK_NONE
#define S_VK_HOW_VIEW(id)   S_VK_NONE
#define S_VK_HOW_TEXT(id)   S_VK_NONE
#define S_VK_NONE(m)
#define S_VK_NUM(m)     e->v = S_U32 (s, m) [row]; return true;
#define S_VK_PAIR(m)    e->v = (uint64_t) S_U32 (s, m) [row] << 32 | s->u32 [S_U32_##m + 1] [row]; \
                        return true;
#define S_VK_AGE(m)     e->v = s_uptime_v (S_I64 (s, m) [row]); \
                        return S_I64 (s, m) [row] && s->status [row] == SF_STATUS_ACTIVE;
#define S_VKEY(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_VK_##so (m)

//  A row's entry in numeric index k; false when it has none (uptime only
//  orders running rows: the others are a group of their own, see
//  the uptime stretches in sf_readmodel_list). Uptime ascending is
//  started_at descending.
static inline bool
s_vkey (const s_side_t *s, uint32_t row, int k, s_ent_t *e)
{
    e->label = s->label [row];
    e->row = row;
    switch (k) {
        SF_STREAM_FIELDS (S_VKEY)
        default: return false;
    }
}

//  Labels: a 32-bit number per row whose order is the fleet's name order
//  (name, then node), so that the numeric indexes order ties by name with an
//  integer compare. A new row takes the middle of its neighbours' labels;
//  when they are adjacent, a window around it is spread evenly (growing
//  until it has room to spare), and the rows that got a new label are moved
//  in place in the numeric indexes (their order does not change).

//  Gives row a new label, keeping the indexes' order (see s_label_new)
static void
s_relabel (s_side_t *s, uint32_t row, uint32_t label)
{
    for (int k = 0; k < S_NVL; k++) {
        s_ent_t e;
        size_t b, at;
        if (s_vkey (s, row, k, &e) && s_vl_find (&s->vl [k], &e, &b, &at) == 0) {
            s->vl [k].blocks [b]->e [at].label = label;
            if (at + 1 == s->vl [k].blocks [b]->n)
                s->vl [k].fence [b].label = label;
        }
    }
    s->label [row] = label;
}

#define S_LABEL_GAP 32              //  spacing a relabelled window must reach

static uint32_t
s_ol_at (const s_olist_t *ol, size_t k)
{
    size_t b, i;
    s_ol_select (ol, k, &b, &i);
    return ol->blocks [b]->ids [i];
}

//  row is in the fleet's name index, not yet in a numeric index
static void
s_label_new (s_side_t *s, uint32_t row)
{
    const s_olist_t *ol = &s->names;
    size_t b = s_ol_find_block (ol, s, s_cmp_name, row);
    const s_block_t *blk = ol->blocks [b];
    size_t at = s_ol_lower (blk, s, s_cmp_name, row);
    size_t r = s_ol_before (ol, b) + at;
    uint64_t lo = r > 0 ? s->label [s_ol_at (ol, r - 1)] : 0;
    uint64_t hi = r + 1 < ol->total ? s->label [s_ol_at (ol, r + 1)] : 1ull << 32;
    //  Next to its predecessor when there is room: a run of names that each
    //  follow the last one then costs no relabelling for a long while
    //  The step shrinks by half each time the model doubles, so a run of
    //  appends at one place uses 1/32 of the label space per doubling (it
    //  shrank with every row before, and 55,000 appends in name order used
    //  the space up: relabel windows on almost every later append)
    uint64_t pow = 1024;
    while (pow < (uint64_t) ol->total + 1024)
        pow *= 2;
    uint64_t near = (1ull << 32) / (16 * pow);
    if (hi - lo >= 2) {
        s->label [row] = (uint32_t) (hi - lo > 2 * near ? lo + near : lo + (hi - lo) / 2);
        return;
    }
    //  A window [first, last] around r, spread so that the new row has a
    //  quarter of the window's room free on either side (names often come
    //  next to the last one: cam000124 after cam000123) and the rest lie at
    //  least S_LABEL_GAP apart; the window doubles until it has that room
    size_t first, last, m, p;
    for (size_t w = 8; ; w *= 2) {
        first = r > w ? r - w : 0;
        last = r + w < ol->total ? r + w : ol->total - 1;
        m = last - first + 1;
        p = r - first;
        lo = first > 0 ? s->label [s_ol_at (ol, first - 1)] : 0;
        hi = last + 1 < ol->total ? s->label [s_ol_at (ol, last + 1)] : 1ull << 32;
        size_t side = p > m - 1 - p ? p : m - 1 - p;
        //  The rows of the window end at least one step apart, so that
        //  appends after the new row find room for a while
        uint64_t gap = near > S_LABEL_GAP ? near : S_LABEL_GAP;
        if ((hi - lo) / 4 / (side + 1) >= gap || (first == 0 && last + 1 == ol->total))
            break;
    }
    uint64_t quarter = (hi - lo) / 4;
    uint64_t step_l = quarter / (p + 1), step_r = quarter / (m - p);
    uint32_t *rows = s_zalloc (m * sizeof (uint32_t)), *labels = s_zalloc (m * sizeof (uint32_t));
    s_walk_t wk;
    s_walk_start (&wk, ol, false, first);
    for (size_t j = 0; j < m; j++) {
        s_walk_next (&wk, &rows [j]);
        labels [j] = (uint32_t) (j < p ? lo + (j + 1) * step_l
                               : j == p ? lo + 2 * quarter
                               : lo + 3 * quarter + (j - p) * step_r);
    }
    s->label [row] = labels [p];
    //  Lowered labels left to right, raised ones right to left: each index
    //  stays in order at every step, so every entry is found where it is
    for (size_t j = 0; j < m; j++)
        if (rows [j] != row && labels [j] < s->label [rows [j]])
            s_relabel (s, rows [j], labels [j]);
    for (size_t j = m; j-- > 0; )
        if (rows [j] != row && labels [j] > s->label [rows [j]])
            s_relabel (s, rows [j], labels [j]);
    free (rows);
    free (labels);
}

//  Puts a row; with bulk set the name and numeric indexes are left to the
//  caller (s_build_indexes)
static void
s_put (s_side_t *s, const char *node, const char *name, const sf_summary_t *sum,
       const char *url, size_t url_len, bool bulk)
{
    size_t len = strnlen (name, SF_NAME_MAX);
    if (!url)
        url = "", url_len = 0;
    if (url_len > SF_URL_MAX)
        url_len = SF_URL_MAX;
    int nix = s_node_get (s, node);
    if (nix < 0)
        return;
    //  A load's keys are LMDB's: unique, so not looked up
    int64_t found = bulk ? -1 : s_lookup (s, nix, name, len);
    if (found >= 0) {
        uint32_t row = (uint32_t) found;
        s_ent_t old [S_NVL];
        bool had [S_NVL];
        for (int k = 0; k < S_NVL; k++)
            had [k] = !bulk && s_vkey (s, row, k, &old [k]);
        //  Bitmaps and counters change only with what they count: most
        //  updates move clients and bitrate alone and touch none of them
        s_acct_t was = s_acct_of (s, row);
        s_set_columns (s, row, sum);
        s_acct_t now = s_acct_of (s, row);
        if (memcmp (&was, &now, sizeof (was))) {
            s_account (s, row, &was, false);
            s_account (s, row, &now, true);
        }
        for (int k = 0; k < S_NVL && !bulk; k++) {
            s_ent_t e;
            bool has = s_vkey (s, row, k, &e);
            if (had [k] && has) {
                if (old [k].v != e.v)
                    s_vl_move (&s->vl [k], &old [k], &e, s->hint [k][0], s->hint [k][1]);
            }
            else if (had [k])
                s_vl_remove (&s->vl [k], &old [k]);
            else if (has)
                s_vl_insert (&s->vl [k], &e);
        }
        if (s->url_len [row] != url_len || memcmp (s_url (s, row), url, url_len)) {
            if (!bulk)
                s_ol_remove (&s->sources, s, s_cmp_source, row);
            s->uarena_garbage += (size_t) s->url_len [row] + 1;
            s_uarena_add (s, row, url, url_len);
            if (!bulk)
                s_ol_insert (&s->sources, s, s_cmp_source, row);
        }
        return;
    }
    uint32_t row;
    if (s->nfree)
        row = s->free [--s->nfree];
    else {
        if (s->next_row == s->cap)
            s_side_grow (s);
        row = (uint32_t) s->next_row++;
    }
    s->node [row] = (uint16_t) nix;
    s_arena_add (s, row, name, len);
    s_uarena_add (s, row, url, url_len);
    s->prefix [row] = s_prefix (name, len);
    s_set_columns (s, row, sum);
    s_bit_set (s->bm_used, row, true);
    s->used++;
    //  A load hashes every row at once (s_build_indexes)
    if (!bulk && (s->hcount + 1) * 2 > s->hcap)
        s_hash_grow (s);
    else if (!bulk)
        s_hash_put (s, row);
    s_acct_t a = s_acct_of (s, row);
    s_account (s, row, &a, true);
    s_tri_add (s, row);
    if (bulk)
        return;
    s_ol_insert (&s->nodes [nix]->names, s, s_cmp_name, row);
    s_ol_insert (&s->names, s, s_cmp_name, row);
    s_ol_insert (&s->sources, s, s_cmp_source, row);
    s_label_new (s, row);
    for (int k = 0; k < S_NVL; k++) {
        s_ent_t e;
        if (s_vkey (s, row, k, &e))
            s_vl_insert (&s->vl [k], &e);
    }
}

static void
s_del (s_side_t *s, const char *node, const char *name)
{
    int nix = s_node_find_w (s, node);
    if (nix < 0)
        return;
    size_t len = strnlen (name, SF_NAME_MAX);
    int64_t found = s_lookup (s, nix, name, len);
    if (found < 0)
        return;
    uint32_t row = (uint32_t) found;
    for (int k = 0; k < S_NVL; k++) {
        s_ent_t e;
        if (s_vkey (s, row, k, &e))
            s_vl_remove (&s->vl [k], &e);
    }
    s_acct_t a = s_acct_of (s, row);
    s_account (s, row, &a, false);
    s_ol_remove (&s->names, s, s_cmp_name, row);
    s_ol_remove (&s->sources, s, s_cmp_source, row);
    s_ol_remove (&s->nodes [nix]->names, s, s_cmp_name, row);
    s_hash_del (s, row);
    s_tri_del (s, row);
    s_bit_set (s->bm_used, row, false);
    s->arena_garbage += 2 * (size_t) len + 2;
    s->uarena_garbage += (size_t) s->url_len [row] + 1;
    s->used--;
    if (s->nfree == s->freecap) {
        s->freecap = s->freecap ? s->freecap * 2 : 1024;
        s->free = s_alloc (s->free, s->freecap * sizeof (uint32_t));
    }
    s->free [s->nfree++] = row;
}

static int
s_qsort_name (const void *a, const void *b, void *arg)
{
    return s_cmp_name (arg, *(const uint32_t *) a, *(const uint32_t *) b);
}

static int
s_qsort_source (const void *a, const void *b, void *arg)
{
    return s_cmp_source (arg, *(const uint32_t *) a, *(const uint32_t *) b);
}

//  Bulk build (a load) -------------------------------------------------------
//  A load puts every row first (s_put with bulk set: columns, bitmaps, hash,
//  trigrams) and then builds the ordered indexes from sorted arrays, which
//  costs a fraction of inserting row by row: LMDB hands the rows over in key
//  order (node, then name), so each node's rows arrive already in name order
//  and the fleet's name order is a merge of the nodes' runs; each numeric
//  index is its entries taken in name order and sorted by value alone with a
//  stable radix sort, which keeps name order (the labels) within a value.

//  One node's rows in name order, during the merge
typedef struct {
    const uint32_t *at, *end;
} s_run_t;

static void
s_run_sift (const s_side_t *s, s_run_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && s_cmp_name (s, *h [l].at, *h [m].at) < 0)
            m = l;
        if (l + 1 < n && s_cmp_name (s, *h [l + 1].at, *h [m].at) < 0)
            m = l + 1;
        if (m == i)
            return;
        s_run_t t = h [i];
        h [i] = h [m];
        h [m] = t;
        i = m;
    }
}

//  Entries sorted by value, keeping their order within a value: a stable
//  LSD radix sort over the bytes in which the values differ (one pass
//  each; tmp holds n entries)
static void
s_sort_ents (s_ent_t *es, s_ent_t *tmp, size_t n)
{
    uint64_t diff = 0;
    for (size_t i = 1; i < n; i++)
        diff |= es [i].v ^ es [0].v;
    s_ent_t *src = es, *dst = tmp;
    for (int shift = 0; shift < 64; shift += 8) {
        if (((diff >> shift) & 0xff) == 0)
            continue;
        size_t at [256] = { 0 };
        for (size_t i = 0; i < n; i++)
            at [(src [i].v >> shift) & 0xff]++;
        size_t sum = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = at [d];
            at [d] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst [at [(src [i].v >> shift) & 0xff]++] = src [i];
        s_ent_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != es)
        memcpy (es, src, n * sizeof (s_ent_t));
}

//  After a bulk load: the (node, name) hash, each node's name index, the
//  fleet's, the labels and the numeric indexes
static void
s_build_indexes (s_side_t *s)
{
    size_t n = s->used, nn = s->nnodes;
    size_t hcap = 2048;
    while (hcap < 2 * (n + 1))
        hcap *= 2;
    s_hash_resize (s, hcap > s->hcap ? hcap : s->hcap);
    uint32_t *by_node = s_alloc (NULL, (n ? n : 1) * sizeof (uint32_t));
    size_t *first = s_zalloc ((nn + 1) * sizeof (size_t));
    //  The rows grouped by node (a counting sort), each group in row order,
    //  which is LMDB's key order; sorted when it is not (rows reused after
    //  deletes: not in a load, but the build does not depend on it)
    for (size_t w = 0; w < s->nwords; w++)
        for (uint64_t bits = s->bm_used [w]; bits; bits &= bits - 1)
            first [s->node [w * 64 + (size_t) __builtin_ctzll (bits)] + 1]++;
    for (size_t i = 0; i < nn; i++)
        first [i + 1] += first [i];
    size_t *fill = s_alloc (NULL, (nn ? nn : 1) * sizeof (size_t));
    memcpy (fill, first, nn * sizeof (size_t));
    for (size_t w = 0; w < s->nwords; w++)
        for (uint64_t bits = s->bm_used [w]; bits; bits &= bits - 1) {
            uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
            by_node [fill [s->node [row]]++] = row;
        }
    free (fill);
    s_run_t *heap = s_alloc (NULL, (nn ? nn : 1) * sizeof (s_run_t));
    size_t nheap = 0;
    for (size_t i = 0; i < nn; i++) {
        uint32_t *ids = by_node + first [i];
        size_t m = first [i + 1] - first [i];
        for (size_t j = 1; j < m; j++)
            if (s_cmp_name (s, ids [j - 1], ids [j]) > 0) {
                qsort_r (ids, m, sizeof (uint32_t), s_qsort_name, s);
                break;
            }
        s_ol_build (&s->nodes [i]->names, ids, m);
        if (m)
            heap [nheap++] = (s_run_t) { ids, ids + m };
    }
    free (first);
    //  The fleet's name order: the nodes' runs merged
    uint32_t *ids = s_alloc (NULL, (n ? n : 1) * sizeof (uint32_t));
    for (size_t i = nheap; i-- > 0; )
        s_run_sift (s, heap, nheap, i);
    for (size_t k = 0; nheap; k++) {
        ids [k] = *heap [0].at++;
        if (heap [0].at == heap [0].end)
            heap [0] = heap [--nheap];
        s_run_sift (s, heap, nheap, 0);
    }
    free (heap);
    free (by_node);
    s_ol_build (&s->names, ids, n);
    //  Source order: url, then name order (a total order)
    uint32_t *src = s_alloc (NULL, (n ? n : 1) * sizeof (uint32_t));
    memcpy (src, ids, n * sizeof (uint32_t));
    qsort_r (src, n, sizeof (uint32_t), s_qsort_source, s);
    s_ol_build (&s->sources, src, n);
    free (src);
    //  Labels evenly apart, then each numeric index from one sort
    uint64_t step = (1ull << 32) / (n + 1);
    for (size_t i = 0; i < n; i++)
        s->label [ids [i]] = (uint32_t) ((i + 1) * step);
    s_ent_t *es = s_alloc (NULL, (n ? n : 1) * sizeof (s_ent_t));
    s_ent_t *tmp = s_alloc (NULL, (n ? n : 1) * sizeof (s_ent_t));
    for (int k = 0; k < S_NVL; k++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (s_vkey (s, ids [i], k, &es [m]))
                m++;
        s_sort_ents (es, tmp, m);
        s_vl_build (&s->vl [k], es, m);
    }
    free (tmp);
    free (es);
    free (ids);
}

static size_t
s_side_bytes (const s_side_t *s)
{
    size_t per_row = sizeof (uint16_t) + 4 + 4 * S_NU32 + 8 * S_NI64 + 8 + 4 + 4 + 1 + 4 + 2;
    size_t bitmaps = 1 + SF_TYPE_COUNT + SF_STATUS_OFFLINE + 1 + 1 + 3 + 1;
    size_t bytes = s->cap * per_row + s->nwords * 8 * bitmaps + s->arena_cap + s->uarena_cap
                 + s->hcap * 8 + s->freecap * 4;
    bytes += s->names.cap * (sizeof (void *) + 4) + s->names.nblocks * sizeof (s_block_t);
    bytes += s->sources.cap * (sizeof (void *) + 4) + s->sources.nblocks * sizeof (s_block_t);
    bytes += s->tricap * sizeof (s_tri_t) + s->tri_hcap * 4;
    for (size_t i = 0; i < s->ntris; i++)
        bytes += s->tris [i].bm ? s->nwords * 8 : s->tris [i].cap * 4;
    for (int k = 0; k < S_NVL; k++)
        bytes += s->vl [k].cap * (sizeof (void *) + sizeof (s_ent_t) + 4)
               + s->vl [k].nblocks * sizeof (s_vblock_t);
    for (size_t i = 0; i < s->nnodes; i++)
        bytes += sizeof (s_node_t) + s->nodes [i]->names.cap * (sizeof (void *) + 4)
               + s->nodes [i]->names.nblocks * sizeof (s_block_t);
    return bytes;
}

//  ---------------------------------------------------------------------------
//  The two sides and the change log between them

typedef struct {
    bool deleted;
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
    sf_summary_t sum;
    size_t url_off, url_len;        //  in sf_readmodel_t.urls
    //  The index blocks the first copy's prefetch found for this change (old
    //  and new entry per index, SIZE_MAX: none): the copy that replays the
    //  change one commit later starts from the same state, so it prefetches
    //  those blocks and takes them as guesses without searching the fence
    size_t hint [S_NVL][2];
} s_change_t;

struct sf_readmodel_t {
    s_side_t *side [2];
    atomic_int active;              //  the side readers use
    atomic_long readers [2];        //  readers inside each side
    s_change_t *pending;            //  applied to the active side only
    size_t npending, pendcap;
    char *urls;                     //  the pending puts' source urls
    size_t urls_cap;
    bool no_trigrams;               //  name filters scan (benchmarks compare)
};

void
sf_readmodel_set_trigrams (sf_readmodel_t *self, bool on)
{
    self->no_trigrams = !on;
}

sf_readmodel_t *
sf_readmodel_new (void)
{
    sf_readmodel_t *self = s_zalloc (sizeof (sf_readmodel_t));
    self->side [0] = s_side_new ();
    self->side [1] = s_side_new ();
    atomic_init (&self->active, 0);
    atomic_init (&self->readers [0], 0);
    atomic_init (&self->readers [1], 0);
    return self;
}

void
sf_readmodel_destroy (sf_readmodel_t **self_p)
{
    sf_readmodel_t *self = *self_p;
    if (!self)
        return;
    s_side_destroy (&self->side [0]);
    s_side_destroy (&self->side [1]);
    free (self->pending);
    free (self->urls);
    free (self);
    *self_p = NULL;
}

static int
s_enter (sf_readmodel_t *self)
{
    for (;;) {
        int i = atomic_load (&self->active);
        atomic_fetch_add (&self->readers [i], 1);
        if (atomic_load (&self->active) == i)
            return i;
        atomic_fetch_sub (&self->readers [i], 1);
    }
}

static void
s_leave (sf_readmodel_t *self, int i)
{
    atomic_fetch_sub (&self->readers [i], 1);
}

//  The side nobody reads, once its last readers have left
static int
s_standby (sf_readmodel_t *self)
{
    int b = 1 - atomic_load (&self->active);
    for (int spin = 0; atomic_load (&self->readers [b]) != 0; spin++)
        if (spin > 64)
            sched_yield ();
    return b;
}

static void
s_side_apply (s_side_t *s, const char *urls, const s_change_t *c)
{
    if (c->deleted)
        s_del (s, c->node, c->name);
    else
        s_put (s, c->node, c->name, &c->sum, urls + c->url_off, c->url_len, false);
}

//  What an update costs is memory, not arithmetic: at a million rows its
//  hash slot, its columns, its name and its index blocks are each a cache
//  miss, one after the other. The changes of a commit do not depend on each
//  other, so their lines are asked for ahead: change i + S_AHEAD's hash
//  slot, change i + S_AHEAD/2's columns, change i + 2's name and the index
//  blocks its moves will touch. Only hints: a guess that turns out wrong
//  (a slot taken by another row, a block that moved) costs nothing but the
//  fetch; s_put and s_del look everything up for real.
#define S_AHEAD 8

static inline void
s_pf (const void *p)
{
    __builtin_prefetch (p, 1, 3);
}

//  The row a change probably has (the first slot of its hash), or -1
static inline int64_t
s_guess_row (const s_side_t *s, uint32_t h)
{
    if (!s->hcap)
        return -1;
    uint64_t slot = s->slots [h & (s->hcap - 1)];
    if (!slot || (uint32_t) (slot >> 32) != h)
        return -1;
    uint32_t row = (uint32_t) slot - 1;
    return row < s->next_row ? (int64_t) row : -1;
}

static void
s_prefetch_columns (const s_side_t *s, uint32_t row)
{
    s_pf (&s->node [row]); s_pf (&s->stype [row]); s_pf (&s->status [row]);
    s_pf (&s->functions [row]); s_pf (&s->flags [row]);
    for (int k = 0; k < S_NU32; k++)
        s_pf (&s->u32 [k] [row]);
    for (int k = 0; k < S_NI64; k++)
        s_pf (&s->i64 [k] [row]);
    s_pf (&s->label [row]); s_pf (&s->name_off [row]);
    s_pf (&s->name_len [row]);
}

//  The lines of the block where index vl has (or will have) e; returns the
//  block's number (a hint for the apply, s_vl_find_block_h)
static size_t
s_prefetch_block (const s_vlist_t *vl, const s_ent_t *e)
{
    if (!vl->nblocks)
        return SIZE_MAX;
    size_t b = s_vl_find_block (vl, e);
    const s_vblock_t *blk = vl->blocks [b];
    for (size_t i = 0; i < sizeof (s_vblock_t); i += 64)
        s_pf ((const char *) blk + i);
    return b;
}

//  hint: the blocks found per index (old entry, new entry), SIZE_MAX if none
static void
s_prefetch_near (const s_side_t *s, uint32_t row, const s_change_t *c, size_t hint [S_NVL][2])
{
    s_pf (s->arena + s->name_off [row]);
    if (c->deleted)
        return;
    s_ent_t e;
    e.label = s->label [row];
    e.row = row;
    //  The moves of agents' usual update: clients and bitrate
    if (c->sum.clients != S_U32 (s, clients) [row]) {
        e.v = S_U32 (s, clients) [row];
        hint [S_VL_CLIENTS][0] = s_prefetch_block (&s->vl [S_VL_CLIENTS], &e);
        e.v = c->sum.clients;
        hint [S_VL_CLIENTS][1] = s_prefetch_block (&s->vl [S_VL_CLIENTS], &e);
    }
    if (c->sum.bitrate_kbps != S_U32 (s, bitrate_kbps) [row]) {
        e.v = S_U32 (s, bitrate_kbps) [row];
        hint [S_VL_BITRATE][0] = s_prefetch_block (&s->vl [S_VL_BITRATE], &e);
        e.v = c->sum.bitrate_kbps;
        hint [S_VL_BITRATE][1] = s_prefetch_block (&s->vl [S_VL_BITRATE], &e);
    }
}

//  The lines of index vl's block b, if it has one
static void
s_prefetch_hinted (const s_vlist_t *vl, size_t b)
{
    if (b >= vl->nblocks)
        return;
    const s_vblock_t *blk = vl->blocks [b];
    for (size_t i = 0; i < sizeof (s_vblock_t); i += 64)
        s_pf ((const char *) blk + i);
}

//  replay: the changes were applied to the other copy at the last commit
//  (their hints are that copy's blocks); else their hints are filled here
static void
s_side_apply_all (s_side_t *s, const char *urls, s_change_t *cs, size_t n, bool replay)
{
    uint32_t hash [S_AHEAD];
    int64_t guess [S_AHEAD];
    for (size_t i = 0; i < n + S_AHEAD; i++) {
        if (i < n) {
            //  Stage 1: the hash slot
            const s_change_t *c = &cs [i];
            int nix = s_node_find_w (s, c->node);
            hash [i % S_AHEAD] = nix < 0 ? 0 : s_hash (nix, c->name, strnlen (c->name, SF_NAME_MAX));
            guess [i % S_AHEAD] = -1;
            if (nix >= 0 && s->hcap)
                s_pf (&s->slots [hash [i % S_AHEAD] & (s->hcap - 1)]);
        }
        size_t j = i - S_AHEAD / 2;
        if (i >= S_AHEAD / 2 && j < n) {
            //  Stage 2: the row's columns
            int64_t row = s_guess_row (s, hash [j % S_AHEAD]);
            guess [j % S_AHEAD] = row;
            if (row >= 0)
                s_prefetch_columns (s, (uint32_t) row);
        }
        j = i - S_AHEAD + 2;
        if (i >= S_AHEAD - 2 && j < n) {
            //  Stage 3: its name and index blocks
            if (replay) {
                if (guess [j % S_AHEAD] >= 0)
                    s_pf (s->arena + s->name_off [guess [j % S_AHEAD]]);
                for (int k = 0; k < S_NVL; k++)
                    for (int o = 0; o < 2; o++)
                        s_prefetch_hinted (&s->vl [k], cs [j].hint [k][o]);
            }
            else {
                memset (cs [j].hint, 0xff, sizeof (cs [j].hint));
                if (guess [j % S_AHEAD] >= 0)
                    s_prefetch_near (s, (uint32_t) guess [j % S_AHEAD], &cs [j], cs [j].hint);
            }
        }
        if (i >= S_AHEAD) {
            j = i - S_AHEAD;
            memcpy (s->hint, cs [j].hint, sizeof (s->hint));
            s_side_apply (s, urls, &cs [j]);
            memset (s->hint, 0xff, sizeof (s->hint));
        }
    }
    for (int k = 0; k < S_NVL; k++)
        s_vl_settle (&s->vl [k]);
}

void
sf_readmodel_apply (sf_readmodel_t *self, const sf_readmodel_change_t *changes, size_t count)
{
    if (count == 0)
        return;
    int b = s_standby (self);
    s_side_t *s = self->side [b];
    s_side_apply_all (s, self->urls, self->pending, self->npending, true);
    if (count > self->pendcap) {
        self->pendcap = count;
        self->pending = s_alloc (self->pending, count * sizeof (s_change_t));
    }
    size_t ubytes = 1;
    for (size_t i = 0; i < count; i++)
        if (!changes [i].deleted && changes [i].url)
            ubytes += (changes [i].url_len < SF_URL_MAX ? changes [i].url_len : SF_URL_MAX) + 1;
    if (ubytes > self->urls_cap) {
        self->urls_cap = ubytes * 2;
        self->urls = s_alloc (self->urls, self->urls_cap);
    }
    self->urls [0] = 0;
    size_t uat = 1;
    for (size_t i = 0; i < count; i++) {
        s_change_t *c = &self->pending [i];
        c->deleted = changes [i].deleted;
        size_t nl = strnlen (changes [i].node, SF_NODE_MAX), ml = strnlen (changes [i].name, SF_NAME_MAX);
        memcpy (c->node, changes [i].node, nl);
        c->node [nl] = 0;
        memcpy (c->name, changes [i].name, ml);
        c->name [ml] = 0;
        c->url_off = 0;
        c->url_len = 0;
        if (!c->deleted) {
            c->sum = changes [i].sum;
            if (changes [i].url && changes [i].url_len) {
                size_t ul = changes [i].url_len < SF_URL_MAX ? changes [i].url_len : SF_URL_MAX;
                memcpy (self->urls + uat, changes [i].url, ul);
                self->urls [uat + ul] = 0;
                c->url_off = uat;
                c->url_len = ul;
                uat += ul + 1;
            }
        }
    }
    s_side_apply_all (s, self->urls, self->pending, count, false);
    self->npending = count;
    atomic_store (&self->active, b);
}

void
sf_readmodel_observe (void *self, const sf_store_change_t *changes, size_t count)
{
    sf_readmodel_apply (self, changes, count);
}

//  Start-up ------------------------------------------------------------------
//  Each side is rebuilt from its own read transaction in one cursor pass over
//  the stored summaries, with its arrays sized up front from the count LMDB
//  keeps (no doubling and copying while it fills), then its indexes built by
//  sorting (s_build_indexes). The two sides are built at once, the second on
//  a thread of its own: they share nothing but the map's pages.

//  Room for rows placements (and some to spare) before the first growth
static void
s_side_reserve (s_side_t *s, size_t rows)
{
    size_t cap = (rows + rows / 16 + 1024 + 63) & ~(size_t) 63;
    if (cap > s->cap)
        s_side_grow_to (s, cap);
}

static int
s_load_row (const sf_row_t *row, void *arg)
{
    char url [SF_URL_MAX + 1];
    size_t len = sf_packed_url (row->packed, row->packed_size, url, SF_URL_MAX);
    s_put (arg, row->node, row->name, &row->sum, url, len, true);
    return 0;
}

typedef struct {
    sf_store_t *store;
    s_side_t *side;                 //  built here, owned by the loader
    int rc;
} s_load_t;

static void *
s_load_side (void *arg)
{
    s_load_t *l = arg;
    l->rc = -1;
    sf_read_t r;
    if (sf_store_read_begin (l->store, &r))
        return NULL;
    size_t count = 0;
    if (sf_store_count_streams (&r, &count) == 0)
        s_side_reserve (l->side, count);
    int rc = sf_store_scan_streams (&r, NULL, s_load_row, l->side);
    sf_store_read_end (&r);
    s_build_indexes (l->side);
    //  The urls' arena to their size, and an eighth to grow into: a
    //  doubling's slack would cost as much as the urls
    s_side_t *s = l->side;
    size_t cap = s->uarena_used + s->uarena_used / 8 + 64;
    if (cap < s->uarena_cap) {
        s->uarena = s_alloc (s->uarena, cap);
        s->uarena_cap = cap;
    }
    l->rc = rc < 0 ? -1 : 0;
    return NULL;
}

//  The second copy's loader, on a thread of its own (the first copy loads
//  on the caller's, which keeps its name)
static void *
s_load_thread (void *arg)
{
    pthread_setname_np (pthread_self (), "sf-model-load");
    return s_load_side (arg);
}

int
sf_readmodel_load (sf_readmodel_t *self, sf_store_t *store)
{
    s_load_t l [2] = { { store, s_side_new (), -1 }, { store, s_side_new (), -1 } };
    pthread_t thread;
    bool threaded = pthread_create (&thread, NULL, s_load_thread, &l [1]) == 0;
    s_load_side (&l [0]);
    if (threaded)
        pthread_join (thread, NULL);
    else
        s_load_side (&l [1]);
    if (l [0].rc || l [1].rc) {
        s_side_destroy (&l [0].side);
        s_side_destroy (&l [1].side);
        return -1;
    }
    //  In place of the old sides: the standby one first, published, then the
    //  other once its last readers have left. Both hold the same rows, so
    //  nothing is pending for either.
    int b = s_standby (self);
    s_side_t *old = self->side [b];
    self->side [b] = l [0].side;
    self->npending = 0;
    atomic_store (&self->active, b);
    s_side_destroy (&old);
    b = s_standby (self);
    old = self->side [b];
    self->side [b] = l [1].side;
    s_side_destroy (&old);
    return 0;
}

size_t
sf_readmodel_size (sf_readmodel_t *self)
{
    int i = s_enter (self);
    size_t n = self->side [i]->used;
    s_leave (self, i);
    return n;
}

size_t
sf_readmodel_bytes (sf_readmodel_t *self)
{
    int i = s_enter (self);
    size_t n = s_side_bytes (self->side [i]);
    s_leave (self, i);
    return 2 * n;
}

//  ---------------------------------------------------------------------------
//  Counts

static uint8_t *
s_down_nodes (const s_side_t *s, const sf_readmodel_clock_t *clock, bool *any)
{
    uint8_t *down = s_zalloc (s->nnodes ? s->nnodes : 1);
    *any = false;
    if (clock && clock->live)
        for (size_t i = 0; i < s->nnodes; i++)
            if (s->nodes [i]->nrows
            &&  sf_live_state (clock->live, s->nodes [i]->id, clock->mono_ms, NULL) == SF_LIVE_DOWN)
                down [i] = 1, *any = true;
    return down;
}

void
sf_readmodel_node_counts (sf_readmodel_t *self, const char *node, bool down,
                          uint32_t *nstreams, uint32_t *nprimary, uint32_t *nactive)
{
    int i = s_enter (self);
    const s_side_t *s = self->side [i];
    int nix = s_node_find (s, node);
    const s_node_t *n = nix >= 0 ? s->nodes [nix] : NULL;
    *nstreams = n ? n->nrows : 0;
    *nprimary = n ? n->nprimary : 0;
    *nactive = n && !down ? n->by_status [SF_STATUS_ACTIVE] : 0;
    s_leave (self, i);
}

void
sf_readmodel_gauges (sf_readmodel_t *self, const sf_readmodel_clock_t *clock,
                     sf_readmodel_gauges_t *out)
{
    memset (out, 0, sizeof (*out));
    int i = s_enter (self);
    const s_side_t *s = self->side [i];
    bool any;
    uint8_t *down = s_down_nodes (s, clock, &any);
    for (size_t k = 0; k < s->nnodes; k++) {
        const s_node_t *n = s->nodes [k];
        for (int t = 0; t < SF_TYPE_COUNT; t++)
            out->by_type [t] += n->by_type [t];
        if (down [k])
            out->by_status [SF_STATUS_OFFLINE] += n->nrows;
        else
            for (int st = 0; st < SF_STATUS_OFFLINE; st++)
                out->by_status [st] += n->by_status [st];
        out->transfer += n->ntransfer;
        out->total += n->nrows;
    }
    free (down);
    s_leave (self, i);
}

//  ---------------------------------------------------------------------------
//  Listing

typedef struct {
    const s_side_t *s;
    const sf_sort_t *sort;
    const uint8_t *down;
    int64_t now_s;
    uint32_t *rows;                 //  the page
    size_t nrows, cap;
} s_q_t;

static void
s_emit (s_q_t *q, uint32_t row)
{
    if (q->nrows == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->rows = s_alloc (q->rows, q->cap * sizeof (uint32_t));
    }
    q->rows [q->nrows++] = row;
}

static size_t
s_popcount (const uint64_t *bm, size_t words)
{
    size_t n = 0;
    for (size_t w = 0; w < words; w++)
        n += (size_t) __builtin_popcountll (bm [w]);
    return n;
}

static inline uint8_t
s_dstatus (const s_q_t *q, uint32_t row)
{
    return q->down [q->s->node [row]] ? SF_STATUS_OFFLINE : q->s->status [row];
}

//  s_value's case per numeric sort key (as sf_summary_sort_value): AGE is
//  the uptime, -1 (before every running stream) when not running or offline
#define S_SV_SORT(id, name, how)    S_SV_HOW_##how (id)
#define S_SV_NOSORT(m)
#define S_SV_HOW_NUM(id)    case SF_SORT_##id: S_SV_NUM
#define S_SV_HOW_PAIR(id)   case SF_SORT_##id: S_SV_PAIR
#define S_SV_HOW_AGE(id)    case SF_SORT_##id: S_SV_AGE
#define S_SV_HOW_NAME(id)   S_SV_NONE
#define S_SV_HOW_NODE(id)   S_SV_NONE
#define S_SV_HOW_VIEW(id)   S_SV_NONE
#define S_SV_HOW_TEXT(id)   S_SV_NONE
#define S_SV_NONE(m)
#define S_SV_NUM(m)     return S_U32 (s, m) [row];
#define S_SV_PAIR(m)    return (int64_t) (((uint64_t) S_U32 (s, m) [row] << 32) \
                                          | s->u32 [S_U32_##m + 1] [row]);
#define S_SV_AGE(m)     return S_I64 (s, m) [row] && s_dstatus (q, row) == SF_STATUS_ACTIVE \
                             ? q->now_s - S_I64 (s, m) [row] : -1;
#define S_VALUE(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_SV_##so (m)

//  The primary sort value of a row (name and node order have none)
static int64_t
s_value (const s_q_t *q, uint32_t row)
{
    const s_side_t *s = q->s;
    switch (q->sort->key) {
        case SF_SORT_STATUS: return s_dstatus (q, row);
        case SF_SORT_TYPE: return s_eff_type (s, row);
        SF_STREAM_FIELDS (S_VALUE)
        default: return 0;
    }
}

//  Ascending order of two rows under the query's sort
static int
s_cmp_rows (const s_q_t *q, uint32_t a, uint32_t b)
{
    const s_side_t *s = q->s;
    if (q->sort->key == SF_SORT_NODE) {
        uint16_t ra = s->rank [s->node [a]], rb = s->rank [s->node [b]];
        if (ra != rb)
            return ra < rb ? -1 : 1;
    }
    else if (q->sort->key == SF_SORT_SOURCE)
        return s_cmp_source (s, a, b);
    else if (q->sort->key != SF_SORT_NAME) {
        int64_t va = s_value (q, a), vb = s_value (q, b);
        if (va != vb)
            return va < vb ? -1 : 1;
    }
    return s_cmp_name (s, a, b);
}

static int
s_qsort_rows (const void *a, const void *b, void *arg)
{
    const s_q_t *q = arg;
    int c = s_cmp_rows (q, *(const uint32_t *) a, *(const uint32_t *) b);
    return q->sort->desc ? -c : c;
}

static void
s_sort_rows (s_q_t *q, uint32_t *ids, size_t n)
{
    qsort_r (ids, n, sizeof (uint32_t), s_qsort_rows, q);
}

//  A list the pager walks: a names list (row ids) or a numeric index
//  (entries); positions are ascending, a walk goes the query's way
typedef struct {
    const s_olist_t *ol;
    const s_vlist_t *vl;
} s_list_t;

static inline size_t
s_list_bn (const s_list_t *l, size_t b)
{
    return l->ol ? l->ol->blocks [b]->n : l->vl->blocks [b]->n;
}

static inline uint32_t
s_list_row (const s_list_t *l, size_t b, size_t j)
{
    return l->ol ? l->ol->blocks [b]->ids [j] : l->vl->blocks [b]->e [j].row;
}

//  One entry of a list walk: skipped while the offset lasts, else emitted
static inline void
s_list_visit (s_q_t *q, const s_list_t *l, size_t b, size_t j, const uint64_t *g,
              size_t *skip, size_t *take)
{
    uint32_t row = s_list_row (l, b, j);
    if (g && !s_bit (g, row))
        return;
    if (*skip)
        --*skip;
    else
        s_emit (q, row), --*take;
}

//  The rows of l at positions [lo, hi) that are in g (NULL: all of them),
//  in the query's direction: *skip of them passed over, up to *take
//  emitted (both count down). Without g it is a jump (O(log n)); with g a
//  walk that passes over a whole block at a time while skipping (one
//  branch-free count of the block's candidates), so a deep page under a
//  broad filter costs a count per entry, not a branch.
static void
s_walk_range (s_q_t *q, const s_list_t *l, size_t lo, size_t hi, const uint64_t *g,
              size_t *skip, size_t *take)
{
    if (lo >= hi || !*take)
        return;
    bool desc = q->sort->desc;
    size_t len = hi - lo;
    if (!g && *skip >= len) {
        *skip -= len;
        return;
    }
    size_t pos = desc ? hi - 1 : lo;
    if (!g) {
        pos = desc ? pos - *skip : pos + *skip;
        len -= *skip;
        *skip = 0;
    }
    size_t b, i;
    if (l->ol)
        s_ol_select (l->ol, pos, &b, &i);
    else
        s_vl_select (l->vl, pos, &b, &i);
    while (len && *take) {
        size_t n = s_list_bn (l, b);
        //  This block's part of the walk: [from, to)
        size_t from, to;
        if (!desc) {
            from = i;
            to = n - i < len ? n : i + len;
        }
        else {
            to = i + 1;
            from = to < len ? 0 : to - len;
        }
        if (g && *skip) {
            size_t cnt = 0;
            for (size_t j = from; j < to; j++)
                cnt += s_bit (g, s_list_row (l, b, j));
            if (cnt <= *skip) {
                *skip -= cnt;
                goto next;
            }
        }
        if (!desc)
            for (size_t j = from; j < to && *take; j++)
                s_list_visit (q, l, b, j, g, skip, take);
        else
            for (size_t j = to; j-- > from && *take; )
                s_list_visit (q, l, b, j, g, skip, take);
    next:
        len -= to - from;
        if (!len)
            break;
        if (!desc) {
            b++;
            i = 0;
        }
        else {
            b--;
            i = s_list_bn (l, b) - 1;
        }
    }
}

//  A cursor's place in name order: a name and a node id (the row may be
//  gone); in source order the url first (url not NULL)
typedef struct {
    const char *name;
    size_t len;
    const char *node;
    const char *url;
    size_t ulen;
} s_probe_t;

static int
s_cmp_probe (const s_side_t *s, uint32_t row, const s_probe_t *p)
{
    int c = p->url ? s_cmp_bytes (s_url (s, row), s->url_len [row], p->url, p->ulen) : 0;
    if (c)
        return c;
    c = s_cmp_bytes (s_name (s, row), s->name_len [row], p->name, p->len);
    return c ? c : strcmp (s->nodes [s->node [row]]->id, p->node);
}

//  Rows of ol before the probe (le: at or before it), O(log n)
static size_t
s_ol_rank (const s_olist_t *ol, const s_side_t *s, const s_probe_t *p, bool le)
{
    if (!ol->nblocks)
        return 0;
    size_t lo = 0, hi = ol->nblocks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const s_block_t *blk = ol->blocks [mid];
        int c = s_cmp_probe (s, blk->ids [blk->n - 1], p);
        if (c < 0 || (le && c == 0))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == ol->nblocks)
        return ol->total;
    const s_block_t *blk = ol->blocks [lo];
    size_t a = 0, z = blk->n;
    while (a < z) {
        size_t mid = (a + z) / 2;
        int c = s_cmp_probe (s, blk->ids [mid], p);
        if (c < 0 || (le && c == 0))
            a = mid + 1;
        else
            z = mid;
    }
    return s_ol_before (ol, lo) + a;
}

//  Keys of a numeric index's order as one integer: value, label, and two
//  low bits so that a cursor's key can fall between two labels (its row is
//  gone) or before them all: an entry is ...10, just after label l is
//  l's ...11, before every label of a value is ...01
typedef unsigned __int128 s_key_t;
#define S_KEY_MAX (~(s_key_t) 0)

static inline s_key_t
s_ekey (uint64_t v, uint32_t label)
{
    return (s_key_t) v << 34 | (s_key_t) label << 2 | 2;
}

static inline s_key_t
s_kfloor (uint64_t v)
{
    return (s_key_t) v << 34;
}

static size_t
s_vl_before (const s_vlist_t *vl, size_t b)
{
    size_t n = 0;
    for (size_t i = b; i > 0; i -= i & -i)
        n += vl->fen [i];
    return n;
}

//  Entries of vl with a key below k, O(log n)
static size_t
s_vl_rank (const s_vlist_t *vl, s_key_t k)
{
    if (!vl->nblocks || k == 0)
        return 0;
    if (k == S_KEY_MAX)
        return vl->total;
    size_t lo = 0, hi = vl->nblocks;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s_ekey (vl->fence [mid].v, vl->fence [mid].label) < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == vl->nblocks)
        return vl->total;
    const s_vblock_t *blk = vl->blocks [lo];
    size_t n = 0;
    for (size_t i = 0; i < blk->n; i++)
        n += s_ekey (blk->e [i].v, blk->e [i].label) < k;
    return s_vl_before (vl, lo) + n;
}

//  One stretch of a listing's order: the candidates (g; NULL: every row of
//  the stretch) of a names list, or of a numeric index between keys klo
//  and khi. gcount: how many (SIZE_MAX: not known). whole: g holds rows of
//  this stretch only (then a narrow filter may gather them instead of
//  walking). cmp: the stretch's place against the cursor's (-1 before it,
//  0 the cursor's own, 1 after it, in ascending order).
typedef struct {
    const s_olist_t *ol;
    const s_vlist_t *vl;
    int k;                          //  vl's column (s_vkey)
    s_key_t klo, khi;
    const uint64_t *g;
    size_t gcount;
    bool whole;
    int cmp;
} s_seg_t;

//  Where a cursor puts the page inside its stretch: after key (numeric
//  index) or after probe (names list), in the query's direction
typedef struct {
    s_key_t key;
    s_probe_t probe;
} s_from_t;

static __thread const s_q_t *s_gq;

static int
s_qsort_ekey (const void *a, const void *b)
{
    const s_ent_t *x = a, *y = b;
    int c = s_ent_cmp (x, y);
    return s_gq->sort->desc ? -c : c;
}

static int
s_qsort_gname (const void *a, const void *b)
{
    int c = s_gq->sort->key == SF_SORT_SOURCE
          ? s_cmp_source (s_gq->s, *(const uint32_t *) a, *(const uint32_t *) b)
          : s_cmp_name (s_gq->s, *(const uint32_t *) a, *(const uint32_t *) b);
    return s_gq->sort->desc ? -c : c;
}

static void s_page_values (s_q_t *q, const uint64_t *c, size_t count, size_t skip, size_t take);

//  A narrow filter's stretch: its candidates gathered from the bitmap (only
//  those after from, when given) and ordered here
static void
s_gather (s_q_t *q, const s_seg_t *sg, const s_from_t *from, size_t *skip, size_t *take)
{
    const s_side_t *s = q->s;
    size_t before = q->nrows;
    if (!from && sg->vl) {
        //  The column's order at query time (a heap, or a histogram for deep pages)
        if (*skip >= sg->gcount) {
            *skip -= sg->gcount;
            return;
        }
        s_page_values (q, sg->g, sg->gcount, *skip, *take);
        *skip = 0;
        *take -= q->nrows - before;
        return;
    }
    bool desc = q->sort->desc;
    size_t n = 0;
    s_gq = q;
    if (sg->vl) {
        s_ent_t *es = s_alloc (NULL, (sg->gcount ? sg->gcount : 1) * sizeof (s_ent_t));
        for (size_t w = 0; w < s->nwords; w++)
            for (uint64_t bits = sg->g [w]; bits; bits &= bits - 1) {
                uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
                s_ent_t e;
                if (!s_vkey (s, row, sg->k, &e) || n == sg->gcount)
                    continue;
                s_key_t k = s_ekey (e.v, e.label);
                if (k < sg->klo || k >= sg->khi)
                    continue;
                if (from && (desc ? k >= from->key : k <= from->key))
                    continue;
                es [n++] = e;
            }
        qsort (es, n, sizeof (s_ent_t), s_qsort_ekey);
        for (size_t i = *skip; i < n && *take; i++, --*take)
            s_emit (q, es [i].row);
        free (es);
    }
    else {
        uint32_t *ids = s_alloc (NULL, (sg->gcount ? sg->gcount : 1) * sizeof (uint32_t));
        for (size_t w = 0; w < s->nwords; w++)
            for (uint64_t bits = sg->g [w]; bits; bits &= bits - 1) {
                uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
                if (n == sg->gcount)
                    continue;
                if (from) {
                    int c = s_cmp_probe (s, row, &from->probe);
                    if (desc ? c >= 0 : c <= 0)
                        continue;
                }
                ids [n++] = row;
            }
        qsort (ids, n, sizeof (uint32_t), s_qsort_gname);
        for (size_t i = *skip; i < n && *take; i++, --*take)
            s_emit (q, ids [i]);
        free (ids);
    }
    *skip = *skip > n ? *skip - n : 0;
}

//  Pages through one stretch (from: after the cursor, NULL: from its start)
static void
s_page_seg (s_q_t *q, const s_seg_t *sg, const s_from_t *from, size_t *skip, size_t *take)
{
    if (!*take || sg->gcount == 0)
        return;
    if (!from && sg->gcount != SIZE_MAX && *skip >= sg->gcount) {
        *skip -= sg->gcount;
        return;
    }
    bool desc = q->sort->desc;
    s_list_t l = { sg->ol, sg->vl };
    size_t lo, hi;
    if (sg->vl) {
        lo = s_vl_rank (sg->vl, sg->klo);
        hi = s_vl_rank (sg->vl, sg->khi);
        if (from && !desc) {
            size_t at = s_vl_rank (sg->vl, from->key + 1);
            lo = at > lo ? at : lo;
        }
        else if (from) {
            size_t at = s_vl_rank (sg->vl, from->key);
            hi = at < hi ? at : hi;
        }
    }
    else {
        lo = 0;
        hi = sg->ol->total;
        if (from && !desc)
            lo = s_ol_rank (sg->ol, q->s, &from->probe, true);
        else if (from)
            hi = s_ol_rank (sg->ol, q->s, &from->probe, false);
    }
    if (lo >= hi)
        return;
    if (sg->g && sg->whole && sg->gcount != SIZE_MAX) {
        //  Walking visits about (skip + take) * entries / candidates entries;
        //  gathering costs a pass over the bitmap and a sort of the candidates
        double walk = (double) (*skip + *take) * (double) (hi - lo) / (double) sg->gcount;
        double gather = (double) q->s->nwords + (double) sg->gcount * (*skip + *take > 4096 ? 12 : 4);
        if (walk > gather) {
            s_gather (q, sg, from, skip, take);
            return;
        }
    }
    s_walk_range (q, &l, lo, hi, sg->g, skip, take);
}

//  The page over stretches in the query's direction; the cursor's stretch
//  starts after it, the stretches before it are passed over
static void
s_page_segs (s_q_t *q, const s_seg_t *segs, size_t nseg, const s_from_t *from,
             size_t *skip, size_t *take)
{
    bool desc = q->sort->desc;
    for (size_t k = 0; k < nseg && *take; k++) {
        const s_seg_t *sg = &segs [desc ? nseg - 1 - k : k];
        if (from && (desc ? sg->cmp > 0 : sg->cmp < 0))
            continue;
        s_page_seg (q, sg, from && sg->cmp == 0 ? from : NULL, skip, take);
    }
}

//  The rows of g (gcount of them) in name order, the query's direction
static void
s_page_names (s_q_t *q, const uint64_t *g, size_t gcount, size_t skip, size_t take)
{
    s_seg_t sg = { .ol = &q->s->names, .g = g, .gcount = gcount, .whole = true };
    s_page_seg (q, &sg, NULL, &skip, &take);
}

//  A bounded max-heap of the best need rows (by the query's order)
static void
s_heap_sift (s_q_t *q, uint32_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && s_qsort_rows (&h [l], &h [m], q) > 0) m = l;
        if (r < n && s_qsort_rows (&h [r], &h [m], q) > 0) m = r;
        if (m == i)
            return;
        uint32_t t = h [i]; h [i] = h [m]; h [m] = t;
        i = m;
    }
}

//  Numeric columns: ordered at query time over the candidates
static void
s_page_values (s_q_t *q, const uint64_t *c, size_t count, size_t skip, size_t take)
{
    const s_side_t *s = q->s;
    if (take == 0 || skip >= count)
        return;
    size_t need = skip + take < count ? skip + take : count;
    bool desc = q->sort->desc;
    if (need <= 4096) {
        uint32_t *h = s_alloc (NULL, need * sizeof (uint32_t));
        size_t n = 0;
        //  The heap's top is the worst row kept; its value decides most rows
        int64_t top = 0;
        for (size_t w = 0; w < s->nwords; w++)
            for (uint64_t bits = c [w]; bits; bits &= bits - 1) {
                uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
                if (n < need) {
                    h [n++] = row;
                    if (n == need) {
                        for (size_t i = need / 2; i-- > 0; )
                            s_heap_sift (q, h, n, i);
                        top = s_value (q, h [0]);
                    }
                    continue;
                }
                int64_t v = s_value (q, row);
                if (desc ? v < top : v > top)
                    continue;
                if (v == top && s_qsort_rows (&row, &h [0], q) >= 0)
                    continue;
                h [0] = row;
                s_heap_sift (q, h, n, 0);
                top = s_value (q, h [0]);
            }
        s_sort_rows (q, h, n);
        for (size_t i = skip; i < n; i++)
            s_emit (q, h [i]);
        free (h);
        return;
    }
    //  Deep pages: a histogram of the values finds the range the page is in
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t w = 0; w < s->nwords; w++)
        for (uint64_t bits = c [w]; bits; bits &= bits - 1) {
            int64_t v = s_value (q, (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits)));
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    uint64_t span = (uint64_t) hi - (uint64_t) lo;
    int shift = 0;
    while ((span >> shift) >= 65536)
        shift++;
    size_t nb = (size_t) (span >> shift) + 1;
    uint32_t *hist = s_zalloc (nb * sizeof (uint32_t));
#define S_BUCKET(v) (desc ? nb - 1 - (size_t) (((uint64_t) (v) - (uint64_t) lo) >> shift) \
                          : (size_t) (((uint64_t) (v) - (uint64_t) lo) >> shift))
    for (size_t w = 0; w < s->nwords; w++)
        for (uint64_t bits = c [w]; bits; bits &= bits - 1) {
            int64_t v = s_value (q, (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits)));
            hist [S_BUCKET (v)]++;
        }
    size_t b_lo = 0, base = 0;
    while (base + hist [b_lo] <= skip)
        base += hist [b_lo++];
    size_t b_hi = b_lo, upto = base + hist [b_lo];
    while (upto < need && b_hi + 1 < nb)
        upto += hist [++b_hi];
    size_t m = upto - base;
    if (b_lo == b_hi && shift == 0) {
        //  The page lies in one value's ties: those go by name
        int64_t value = desc ? (int64_t) ((uint64_t) lo + (nb - 1 - b_lo)) : (int64_t) ((uint64_t) lo + b_lo);
        uint64_t *g = s_zalloc (s->nwords * 8);
        for (size_t w = 0; w < s->nwords; w++)
            for (uint64_t bits = c [w]; bits; bits &= bits - 1) {
                uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
                if (s_value (q, row) == value)
                    s_bit_set (g, row, true);
            }
        s_page_names (q, g, m, skip - base, take);
        free (g);
        free (hist);
        return;
    }
    uint32_t *ids = s_alloc (NULL, m * sizeof (uint32_t));
    size_t n = 0;
    for (size_t w = 0; w < s->nwords; w++)
        for (uint64_t bits = c [w]; bits; bits &= bits - 1) {
            uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
            size_t bk = S_BUCKET (s_value (q, row));
            if (bk >= b_lo && bk <= b_hi)
                ids [n++] = row;
        }
#undef S_BUCKET
    s_sort_rows (q, ids, n);
    for (size_t i = skip - base; i < n && i < need - base; i++)
        s_emit (q, ids [i]);
    free (ids);
    free (hist);
}

//  Narrows the candidates c to rows having every trigram of keys (some of
//  them: the names are checked after). From the rarest posting: an array
//  is walked (its rows tested in c), bitmaps are ANDed word by word.
static void
s_tri_narrow (const s_side_t *s, const uint32_t *keys, size_t nkeys, uint64_t *c)
{
    const s_tri_t *rare = NULL;
    for (size_t k = 0; k < nkeys; k++) {
        const s_tri_t *t = s_tri_get ((s_side_t *) s, keys [k], false);
        if (!t || t->n == 0) {
            memset (c, 0, s->nwords * 8);
            return;
        }
        if (!rare || t->n < rare->n)
            rare = t;
    }
    if (!rare->bm) {
        uint64_t *keep = s_zalloc (s->nwords * 8);
        for (uint32_t i = 0; i < rare->n; i++)
            if (s_bit (c, rare->ids [i]))
                s_bit_set (keep, rare->ids [i], true);
        memcpy (c, keep, s->nwords * 8);
        free (keep);
        return;
    }
    //  A posting still kept as an array (it shrank, or the model grew
    //  since) narrows nothing here: the names are checked after
    for (size_t k = 0; k < nkeys; k++) {
        const s_tri_t *t = s_tri_get ((s_side_t *) s, keys [k], false);
        for (size_t w = 0; t->bm && w < s->nwords; w++)
            c [w] &= t->bm [w];
    }
}

//  Case-insensitive substring, as sf_filter_match_name does it
static bool
s_name_match (const s_side_t *s, const sf_filter_t *f, const char *needle, uint32_t row)
{
    if (f->name_glob)
        return sf_filter_match_name (f, s_name (s, row));
    return strstr (s_lname (s, row), needle) != NULL;
}

//  Cursors: hex of "key|desc|value|node|name" of the page's last row; the
//  source sort's value is the url's length, the url follows it:
//  "key|desc|length|url|node|name"
static void
s_cursor_text (const sf_sort_t *sort, int64_t value, const char *url, size_t ulen,
               const char *node, const char *name, char *out, size_t size)
{
    char text [SF_READMODEL_CURSOR_MAX / 2 + 1];
    int len = sort->key == SF_SORT_SOURCE
            ? snprintf (text, sizeof (text), "%d|%d|%zu|%.*s|%s|%s", sort->key, sort->desc,
                        ulen, (int) ulen, url, node, name)
            : snprintf (text, sizeof (text), "%d|%d|%lld|%s|%s", sort->key, sort->desc,
                        (long long) value, node, name);
    if (len < 0 || (size_t) len * 2 + 1 > size) {
        out [0] = 0;
        return;
    }
    for (int i = 0; i < len; i++)
        snprintf (out + 2 * i, 3, "%02x", (uint8_t) text [i]);
}

static void
s_cursor_encode (const s_q_t *q, uint32_t row, char *out, size_t size)
{
    const s_side_t *s = q->s;
    //  Uptime keeps the start, not the uptime: the next page may come at
    //  another now (INT64_MIN: not running)
    int64_t value = s_value (q, row);
    if (q->sort->key == SF_SORT_UPTIME)
        value = value >= 0 || (S_START (s) [row] && s_dstatus (q, row) == SF_STATUS_ACTIVE)
              ? S_START (s) [row] : INT64_MIN;
    s_cursor_text (q->sort, value, s_url (s, row), s->url_len [row], s->nodes [s->node [row]]->id,
                   s_name (s, row), out, size);
}

void
sf_readmodel_cursor_of (const sf_sort_t *sort, const char *node, const char *name,
                        const sf_summary_t *sum, const char *url, bool down, char *out, size_t size)
{
    //  What s_cursor_encode makes of a row with these columns
    int status = down ? SF_STATUS_OFFLINE : s_col_status (sum);
    int64_t value;
    if (sort->key == SF_SORT_STATUS)
        value = status;
    else if (sort->key == SF_SORT_TYPE)
        value = (sum->flags & SF_SUM_MIGRATED) ? SF_TYPE_MIGRATED : s_col_stype (sum);
    else if (sort->key == SF_SORT_UPTIME) {
        //  The start: at now 0 the age of a start is minus it (-1: none)
        int64_t age0 = sf_summary_sort_value (sum, sort->key, 0, true);
        int64_t start = age0 == -1 ? 0 : -age0;
        value = start && status == SF_STATUS_ACTIVE ? start : INT64_MIN;
    }
    else
        value = sf_summary_sort_value (sum, sort->key, 0, status == SF_STATUS_ACTIVE);
    if (!url)
        url = "";
    size_t ulen = strnlen (url, SF_URL_MAX);
    s_cursor_text (sort, value, url, ulen, node, name, out, size);
}

typedef struct {
    int key, desc;
    int64_t value;
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
    char url [SF_URL_MAX + 1];      //  the source sort's
    size_t ulen;
} s_cursor_t;

static int
s_cursor_decode (const char *hex, s_cursor_t *cur)
{
    size_t len = strlen (hex);
    char text [SF_READMODEL_CURSOR_MAX / 2 + 1];
    if (len % 2 || len / 2 >= sizeof (text))
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf (hex + 2 * i, "%2x", &v) != 1)
            return -1;
        text [i] = (char) v;
    }
    text [len / 2] = 0;
    char *p = text, *f [5];
    cur->url [0] = 0;
    cur->ulen = 0;
    for (int i = 0; i < 5; i++) {
        if (i == 3 && atoi (f [0]) == SF_SORT_SOURCE) {
            //  The url, of the length the value gives
            long long ulen = strtoll (f [2], NULL, 10);
            if (ulen < 0 || ulen > SF_URL_MAX || strlen (p) < (size_t) ulen + 1 || p [ulen] != '|')
                return -1;
            memcpy (cur->url, p, (size_t) ulen);
            cur->url [ulen] = 0;
            cur->ulen = (size_t) ulen;
            p += ulen + 1;
        }
        f [i] = p;
        p = i < 4 ? strchr (p, '|') : NULL;
        if (i < 4 && !p)
            return -1;
        if (p)
            *p++ = 0;
    }
    cur->key = atoi (f [0]);
    cur->desc = atoi (f [1]);
    cur->value = strtoll (f [2], NULL, 10);
    if (strlen (f [3]) > SF_NODE_MAX || strlen (f [4]) > SF_NAME_MAX)
        return -1;
    strcpy (cur->node, f [3]);
    strcpy (cur->name, f [4]);
    return 0;
}

//  Ascending comparison of a row with the cursor's row (which may be gone)
static int
s_cmp_cursor (const s_q_t *q, uint32_t row, const s_cursor_t *cur)
{
    const s_side_t *s = q->s;
    const char *node = s->nodes [s->node [row]]->id;
    int c = 0;
    if (q->sort->key == SF_SORT_NODE)
        c = strcmp (node, cur->node);
    else if (q->sort->key == SF_SORT_SOURCE)
        c = s_cmp_bytes (s_url (s, row), s->url_len [row], cur->url, cur->ulen);
    else if (q->sort->key != SF_SORT_NAME) {
        int64_t v = s_value (q, row);
        c = v < cur->value ? -1 : v > cur->value;
    }
    if (!c)
        c = s_cmp_bytes (s_name (s, row), s->name_len [row], cur->name, strlen (cur->name));
    if (!c)
        c = strcmp (node, cur->node);
    return c;
}

//  The cursor's key in a numeric index at value v: with its row's label
//  when the row is still there, else just after the label of the row
//  before it in name order (or before every label), so the page goes on
//  from where the row was
static s_key_t
s_cursor_key (const s_side_t *s, const s_cursor_t *cur, uint64_t v)
{
    int nix = s_node_find (s, cur->node);
    size_t len = strlen (cur->name);
    int64_t row = nix >= 0 ? s_lookup (s, nix, cur->name, len) : -1;
    if (row >= 0)
        return s_ekey (v, s->label [row]);
    s_probe_t p = { cur->name, len, cur->node, NULL, 0 };
    size_t r = s_ol_rank (&s->names, s, &p, false);
    if (r == 0)
        return s_kfloor (v) | 1;
    return s_ekey (v, s->label [s_ol_at (&s->names, r - 1)]) | 1;
}

int
sf_readmodel_list (sf_readmodel_t *self, const sf_filter_t *filter, const sf_sort_t *sort,
                   const char *after, size_t offset, size_t limit,
                   const sf_readmodel_clock_t *clock, sf_readmodel_page_t *out,
                   char *err, size_t errlen)
{
    memset (out, 0, sizeof (*out));
    s_cursor_t cur;
    bool have_cursor = after && *after;
    if (have_cursor && (s_cursor_decode (after, &cur) || cur.key != sort->key
                        || cur.desc != (int) sort->desc)) {
        snprintf (err, errlen, "the cursor is not valid for this sort (start again without it)");
        return -1;
    }
    int side = s_enter (self);
    const s_side_t *s = self->side [side];
    if (s->nwords == 0) {
        s_leave (self, side);
        return 0;
    }
    bool anydown;
    uint8_t *down = s_down_nodes (s, clock, &anydown);
    s_q_t q = { .s = s, .sort = sort, .down = down, .now_s = clock ? clock->now_s : 0 };
    bool unfiltered = !filter->types && !filter->states && !filter->functions
                   && !filter->name [0] && !filter->node [0];
    size_t words = s->nwords;
    uint64_t *c = s_alloc (NULL, (words ? words : 1) * 8);
    uint64_t *d = NULL;
    //  The rows of down nodes, when the states or the order need them
    if (anydown && (filter->states || sort->key == SF_SORT_STATUS || sort->key == SF_SORT_UPTIME)) {
        d = s_zalloc ((words ? words : 1) * 8);
        for (size_t k = 0; k < s->nnodes; k++)
            if (down [k]) {
                s_walk_t w;
                s_walk_start (&w, &s->nodes [k]->names, false, 0);
                uint32_t row;
                while (s_walk_next (&w, &row))
                    s_bit_set (d, row, true);
            }
    }
    size_t total = 0;
    if (filter->node [0]) {
        memset (c, 0, words * 8);
        int nix = s_node_find (s, filter->node);
        if (nix >= 0) {
            s_walk_t w;
            s_walk_start (&w, &s->nodes [nix]->names, false, 0);
            uint32_t row;
            while (s_walk_next (&w, &row))
                s_bit_set (c, row, true);
        }
    }
    else
        memcpy (c, s->bm_used, words * 8);
    if (filter->types)
        for (size_t w = 0; w < words; w++) {
            uint64_t t = 0;
            for (int k = 0; k < SF_TYPE_COUNT; k++)
                if (filter->types & (1 << k))
                    t |= s->bm_type [k][w];
            c [w] &= t;
        }
    if (filter->states)
        for (size_t w = 0; w < words; w++) {
            uint64_t st = 0;
            if (filter->states & SF_STATE_ACTIVE)
                st |= s->bm_status [SF_STATUS_ACTIVE][w];
            if (filter->states & SF_STATE_SUSPEND)
                st |= s->bm_status [SF_STATUS_SUSPEND][w];
            if (d)
                st &= ~d [w];
            if (filter->states & SF_STATE_TRANSFER)
                st |= s->bm_transfer [w];
            //  A conflict is two live copies: not on a down node
            if (filter->states & SF_STATE_CONFLICT)
                st |= s->bm_conflict [w] & (d ? ~d [w] : ~0ull);
            c [w] &= st;
        }
    for (int k = 0; k < 3; k++)
        if (filter->functions & (1 << k))
            for (size_t w = 0; w < words; w++)
                c [w] &= s->bm_fn [k][w];
    if (filter->name [0]) {
        char needle [SF_NAME_MAX + 1];
        size_t i = 0;
        for (; filter->name [i] && i < SF_NAME_MAX; i++)
            needle [i] = (char) tolower ((unsigned char) filter->name [i]);
        needle [i] = 0;
        //  A substring of 1 to 3 bytes is one key of the index, exactly:
        //  no name is looked at
        bool exact = !self->no_trigrams && !filter->name_glob && i <= 3;
        if (!self->no_trigrams) {
            uint32_t keys [SF_NAME_MAX];
            size_t nkeys = filter->name_glob ? s_tri_of_glob (filter->name, keys, SF_NAME_MAX)
                         : exact ? (keys [0] = s_gram_exact (needle, i), 1)
                         : s_tri_of (needle, i, keys);
            if (nkeys)
                s_tri_narrow (s, keys, nkeys, c);
        }
        for (size_t w = 0; w < words && !exact; w++)
            for (uint64_t bits = c [w]; bits; bits &= bits - 1) {
                uint32_t row = (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits));
                if (!s_name_match (s, filter, needle, row))
                    c [w] &= ~(1ull << (row & 63));
            }
    }
    total = unfiltered ? s->used : s_popcount (c, words);
    //  One row more than the page says whether a next page exists (its
    //  cursor is the page's last row)
    size_t skip = offset, take = limit ? limit + 1 : 0;
    s_from_t from, *fromp = have_cursor ? &from : NULL;
    if (have_cursor) {
        from.probe = (s_probe_t) { cur.name, strlen (cur.name), cur.node,
                                   sort->key == SF_SORT_SOURCE ? cur.url : NULL, cur.ulen };
        from.key = 0;
    }
    s_seg_t one [3];
    s_seg_t *segs = one;
    size_t nseg = 0;
    uint64_t *own [SF_STATUS_COUNT + 3] = { NULL };
    size_t nown = 0;
    const uint64_t *g = unfiltered ? NULL : c;
    switch (sort->key) {
        case SF_SORT_NAME:
            one [nseg++] = (s_seg_t) { .ol = &s->names, .g = g, .gcount = total, .whole = true };
            break;
        case SF_SORT_SOURCE:
            //  As the name sort, over the source order
            one [nseg++] = (s_seg_t) { .ol = &s->sources, .g = g, .gcount = total, .whole = true };
            break;
        case SF_SORT_NODE:
            //  A stretch per node, in id order; a filtered node's count is
            //  not known (its rows are walked)
            segs = s_alloc (NULL, (s->nnodes ? s->nnodes : 1) * sizeof (s_seg_t));
            for (size_t k = 0; k < s->nnodes; k++) {
                const s_node_t *n = s->nodes [s->order [k]];
                int cmp = have_cursor ? strcmp (n->id, cur.node) : 0;
                segs [nseg++] = (s_seg_t) { .ol = &n->names, .g = g,
                                            .gcount = unfiltered ? n->nrows : SIZE_MAX,
                                            .cmp = cmp < 0 ? -1 : cmp > 0 };
            }
            break;
        case SF_SORT_STATUS:
        case SF_SORT_TYPE: {
            //  A stretch per value, each the name order of its rows
            bool status = sort->key == SF_SORT_STATUS;
            int ngroups = status ? SF_STATUS_COUNT : SF_TYPE_COUNT;
            segs = s_alloc (NULL, (size_t) ngroups * sizeof (s_seg_t));
            for (int v = 0; v < ngroups; v++) {
                s_seg_t *sg = &segs [nseg++];
                *sg = (s_seg_t) { .ol = &s->names, .whole = true,
                                  .cmp = have_cursor ? (v < cur.value ? -1 : v > cur.value) : 0 };
                const uint64_t *bm = status ? (v < SF_STATUS_OFFLINE ? s->bm_status [v] : d)
                                            : s->bm_type [v];
                if (unfiltered && (!status || !d)) {
                    //  The group as it is, counted by the per-node counters
                    size_t n = 0;
                    for (size_t k = 0; k < s->nnodes; k++)
                        n += status ? (v < SF_STATUS_OFFLINE ? s->nodes [k]->by_status [v] : 0)
                                    : s->nodes [k]->by_type [v];
                    sg->g = n ? bm : NULL;
                    sg->gcount = n;
                    continue;
                }
                if (!bm) {
                    sg->gcount = 0;
                    continue;
                }
                uint64_t *gv = own [nown++] = s_alloc (NULL, words * 8);
                size_t n = 0;
                bool live = status && v < SF_STATUS_OFFLINE && d;
                for (size_t w = 0; w < words; w++) {
                    gv [w] = c [w] & bm [w] & (live ? ~d [w] : ~0ull);
                    n += (size_t) __builtin_popcountll (gv [w]);
                }
                sg->g = gv;
                sg->gcount = n;
            }
            break;
        }
        case SF_SORT_UPTIME: {
            //  Three stretches: starts after now + 1 (uptime below -1, running
            //  rows of the index), uptime -1 (rows not running, down nodes'
            //  rows, starts at now + 1: in name order), the rest of the index
            const s_vlist_t *vl = &s->vl [S_VL_UPTIME];
            int64_t now = q.now_s;
            s_key_t k1 = s_kfloor (s_uptime_v (now + 1)), k0 = s_kfloor (s_uptime_v (now));
            uint64_t *run = own [nown++] = s_alloc (NULL, words * 8);
            uint64_t *idle = own [nown++] = s_alloc (NULL, words * 8);
            size_t nrun = 0;
            for (size_t w = 0; w < words; w++) {
                uint64_t r = s->bm_run [w] & (d ? ~d [w] : ~0ull);
                nrun += (size_t) __builtin_popcountll (run [w] = c [w] & r);
                idle [w] = c [w] & ~r;
            }
            bool all = nrun == vl->total;       //  every entry of the index is a candidate
            size_t p2 = s_vl_rank (vl, k0);
            size_t na = 0, nb = total - nrun;
            uint64_t *fut = NULL;
            if (p2) {
                //  Starts in the future: few, walked once to split them off
                fut = own [nown++] = s_zalloc (words * 8);
                s_list_t l = { NULL, vl };
                s_q_t cq = { .s = s, .sort = &(sf_sort_t) { SF_SORT_UPTIME, false } };
                size_t sk = 0, tk = p2;
                s_walk_range (&cq, &l, 0, p2, run, &sk, &tk);
                for (size_t i = 0; i < cq.nrows; i++) {
                    uint32_t row = cq.rows [i];
                    s_ent_t e;
                    s_vkey (s, row, S_VL_UPTIME, &e);
                    s_bit_set (run, row, false);
                    if (s_ekey (e.v, e.label) < k1)
                        s_bit_set (fut, row, true), na++;
                    else
                        s_bit_set (idle, row, true), nb++;
                }
                free (cq.rows);
            }
            one [nseg++] = (s_seg_t) { .vl = vl, .k = S_VL_UPTIME, .klo = 0, .khi = k1,
                                       .g = all ? NULL : fut, .gcount = na, .whole = true };
            one [nseg++] = (s_seg_t) { .ol = &s->names, .g = idle, .gcount = nb, .whole = true };
            one [nseg++] = (s_seg_t) { .vl = vl, .k = S_VL_UPTIME, .klo = k0, .khi = S_KEY_MAX,
                                       .g = all ? NULL : run, .gcount = nrun - na - (nb - (total - nrun)),
                                       .whole = true };
            if (have_cursor) {
                //  The cursor's value is its start (INT64_MIN: not running)
                int at = cur.value == INT64_MIN || cur.value == now + 1 ? 1 : cur.value > now + 1 ? 0 : 2;
                for (int i = 0; i < 3; i++)
                    one [i].cmp = i < at ? -1 : i > at;
                if (at != 1)
                    from.key = s_cursor_key (s, &cur, s_uptime_v (cur.value));
            }
            break;
        }
        default: {
            //  NUM and PAIR keys (the field table's SORT lines): their
            //  ordered index; the others (TEXT) are ordered at query time
            int k = s_vl_of_sort (sort->key);
            if (k < 0)
                break;
            one [nseg++] = (s_seg_t) { .vl = &s->vl [k], .k = k, .klo = 0, .khi = S_KEY_MAX,
                                       .g = g, .gcount = total, .whole = true };
            if (have_cursor)
                from.key = s_cursor_key (s, &cur, (uint64_t) cur.value);
            break;
        }
    }
    if (nseg)
        s_page_segs (&q, segs, nseg, fromp, &skip, &take);
    else {
        //  Not an indexed order: ordered at query time, a cursor counted
        if (have_cursor)
            for (size_t w = 0; w < words; w++)
                for (uint64_t bits = c [w]; bits; bits &= bits - 1) {
                    int cmp = s_cmp_cursor (&q, (uint32_t) (w * 64 + (size_t) __builtin_ctzll (bits)), &cur);
                    if (sort->desc ? cmp >= 0 : cmp <= 0)
                        skip++;
                }
        s_page_values (&q, c, total, skip, take);
    }
    if (segs != one)
        free (segs);
    for (size_t i = 0; i < nown; i++)
        free (own [i]);
    bool more = limit && q.nrows > limit;
    if (more)
        q.nrows = limit;
    out->total = total;
    out->count = q.nrows;
    out->keys = q.nrows ? s_alloc (NULL, q.nrows * sizeof (sf_readmodel_key_t)) : NULL;
    for (size_t i = 0; i < q.nrows; i++) {
        snprintf (out->keys [i].node, sizeof (out->keys [i].node), "%s", s->nodes [s->node [q.rows [i]]]->id);
        snprintf (out->keys [i].name, sizeof (out->keys [i].name), "%s", s_name (s, q.rows [i]));
        out->keys [i].stamp = s_row_stamp (s, q.rows [i]);
        out->keys [i].url_hash = sort->key == SF_SORT_SOURCE
                               ? s_url_hash (s_url (s, q.rows [i]), s->url_len [q.rows [i]]) : 0;
    }
    if (more)
        s_cursor_encode (&q, q.rows [q.nrows - 1], out->next, sizeof (out->next));
    s_leave (self, side);
    free (q.rows);
    free (c);
    free (d);
    free (down);
    return 0;
}

void
sf_readmodel_page_clear (sf_readmodel_page_t *self)
{
    free (self->keys);
    memset (self, 0, sizeof (*self));
}

/*  sf_readmodel.h — the controller's indexed, in-memory read model.

    LMDB stays the durable store; this is a copy of every placement's summary
    (the fields filters, sorting and counts need) kept in column arrays with
    bitmaps per filter parameter and an ordered name index, so that a listing
    at 1,000,000 placements costs word-wide ANDs and a walk of the page, not a
    scan of the streams database.

    One writer: the store hands every committed put and delete of a placement
    to sf_readmodel_apply right after the LMDB commit succeeds and before the
    writer acknowledges anything (sf_store_set_observer), so the model never
    shows what is not committed and always shows what was acknowledged. At
    start the model is rebuilt from LMDB (sf_readmodel_load).

    Readers (query and HTTP threads) never take a lock. The model keeps two
    copies ("left-right"): readers use the published one; the writer applies a
    commit to the other, publishes it with one atomic store, and brings the
    copy it left up to date at its next commit, once the readers that were on
    it have gone (they stay only for the index part of one query). Neither
    side waits for the other in the common case; docs/architecture.md
    explains the choice.

    Derived state is combined at query time: a row of a node that is down is
    `offline` (a per-node bitmap of down nodes, O(rows of down nodes) to
    build, nothing rewritten); migrated and transfer come from the summary's
    derived flags, which the fleet module (controller/fleet.c) keeps in the
    same write transaction.
*/
#ifndef SF_READMODEL_H
#define SF_READMODEL_H

#include "sf_filter.h"
#include "sf_live.h"
#include "sf_store.h"

typedef struct sf_readmodel_t sf_readmodel_t;

//  One committed change of a placement, as the store reports it
typedef sf_store_change_t sf_readmodel_change_t;

sf_readmodel_t *sf_readmodel_new (void);
void sf_readmodel_destroy (sf_readmodel_t **self_p);

//  Writer side (one thread). Applies one commit's changes in order; the
//  readers see all of them at once, after the call. Aborts on out of memory.
void sf_readmodel_apply (sf_readmodel_t *self, const sf_readmodel_change_t *changes, size_t count);
//  Replaces the model's content with the store's placements (at start).
//  Returns 0, or -1 when the store cannot be read.
int sf_readmodel_load (sf_readmodel_t *self, sf_store_t *store);
//  The store observer that feeds the model (sf_store_set_observer)
void sf_readmodel_observe (void *self, const sf_store_change_t *changes, size_t count);

//  Reader side (any thread)

//  Liveness at query time: a node is down when the table says so at mono_ms.
//  live NULL: every node counts as alive.
typedef struct {
    sf_live_t *live;
    int64_t mono_ms;
    int64_t now_s;              //  wall clock, for uptime
} sf_readmodel_clock_t;

typedef struct {
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
    //  A fingerprint of the row's columns as the model filtered and ordered
    //  it: the record read for the page must still have them
    //  (sf_readmodel_key_current)
    uint64_t stamp;
    //  The source sort's: a hash of the row's url as ordered (0: other sorts)
    uint64_t url_hash;
} sf_readmodel_key_t;

//  A cursor is the hex of the last row's sort value (the source sort's: its
//  url), name and node
#define SF_READMODEL_CURSOR_MAX (2 * (SF_NODE_MAX + SF_NAME_MAX + SF_URL_MAX + 48))

typedef struct {
    size_t total;               //  rows matching the filter
    sf_readmodel_key_t *keys;   //  the page, in order
    size_t count;
    //  Opaque cursor for the row after the page ("" at the end)
    char next [SF_READMODEL_CURSOR_MAX + 1];
} sf_readmodel_page_t;

//  The page of matching placements in sort order: from offset, or after the
//  cursor when after is not NULL/"" (offset then counts from there), at most
//  limit keys. Descending order is the exact reverse of ascending: ties
//  go by name, then node. Returns 0, or -1 when the cursor is not valid
//  (err says so).
int sf_readmodel_list (sf_readmodel_t *self, const sf_filter_t *filter, const sf_sort_t *sort,
                       const char *after, size_t offset, size_t limit,
                       const sf_readmodel_clock_t *clock, sf_readmodel_page_t *out,
                       char *err, size_t errlen);
void sf_readmodel_page_clear (sf_readmodel_page_t *self);
//  Whether a record's summary still has the values the model listed its
//  key with. The records of a page are read after the model (from LMDB, at
//  a commit that may be newer): a page whose records changed in between is
//  not in the order of what it shows (controller/query.c lists again).
bool sf_readmodel_key_current (const sf_readmodel_key_t *key, const sf_summary_t *sum);
//  The same for the source url the source sort ordered the row by
bool sf_readmodel_key_url_current (const sf_readmodel_key_t *key, const char *url);
//  The cursor after a row listed without the model (a scan of LMDB in the
//  model's order): the row's summary and source url, and whether its node
//  is down
void sf_readmodel_cursor_of (const sf_sort_t *sort, const char *node, const char *name,
                             const sf_summary_t *sum, const char *url, bool down,
                             char *out, size_t size);

//  A node's stream counts (0s for a node without placements): all, stored
//  type primary, and active (none when the node is down)
void sf_readmodel_node_counts (sf_readmodel_t *self, const char *node, bool down,
                               uint32_t *nstreams, uint32_t *nprimary, uint32_t *nactive);

//  Gauges over the whole fleet, from per-node counters (O(nodes)): streams
//  by derived type and status (offline for down nodes), in transfer, total
typedef struct {
    uint64_t by_type [SF_TYPE_COUNT];
    uint64_t by_status [SF_STATUS_COUNT];
    uint64_t transfer;
    uint64_t total;
} sf_readmodel_gauges_t;
void sf_readmodel_gauges (sf_readmodel_t *self, const sf_readmodel_clock_t *clock,
                          sf_readmodel_gauges_t *out);

//  Whether name filters of 3 bytes or more start from the trigram index
//  (the default) or check every candidate's name (for benchmarks)
void sf_readmodel_set_trigrams (sf_readmodel_t *self, bool on);

//  Placements in the model, and the bytes its two copies use
size_t sf_readmodel_size (sf_readmodel_t *self);
size_t sf_readmodel_bytes (sf_readmodel_t *self);
#endif

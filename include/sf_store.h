/*  sf_store.h — the controller's LMDB storage behind a narrow interface
    (begin, find, insert, delete, iterate, commit). No LMDB type leaves
    controller/store.c: callers see keys, values and callbacks.

    Databases in one environment:
      streams   node \0 name  ->  sf_summary_t + msgpack record
      byname    name \0 node  ->  (empty)        lookup by stream name
      nodes     node id       ->  sf_version_t + msgpack node record
      origins   node id       ->  sf_version_t   highest committed (gen, seq)
      byver     node \0 be64 gen be64 seq name -> kind ('s', 'd', 'n')
      tombs     node \0 name  ->  version and time of a deletion
      meta      "summary_magic" -> the summary format of the streams rows
      fleet_*   the fleet module's own databases (sf_db_t below), reached
                only through the generic primitives
    The summary header holds the fields filters and sorting need, so a scan
    reads fixed-size fields and decodes msgpack only for the rows it returns.

    One writer at a time (the writer module, controller/writer.c, in the
    ingest thread); readers use their own read transactions and never block
    it. MDB_MAP_FULL grows the map: the commit reports SF_STORE_RETRY and the
    caller replays its batch; a full disk reports SF_STORE_NOSPACE.
*/
#ifndef SF_STORE_H
#define SF_STORE_H

#include "sf_record.h"
#include <stdarg.h>

#define SF_STORE_RETRY 1        //  the map was grown: replay the batch
#define SF_STORE_NOSPACE 2      //  the disk (or the file system) is full

//  Fixed fields of a placement, stored in front of its msgpack record:
//  sf_summary_t, generated from the field table's SUM lines (sf_fields.h).
//  Its magic names its format; rows of an older format are rebuilt from
//  their records when the store opens (sf_store_new), in one transaction.
#define SF_SUM_STALE        0x01
#define SF_SUM_TRANSFERRED  0x02        //  declares transferred_from
//  Kept by the fleet module (controller/fleet.c) from the replicated records,
//  so a listing filters on migration state without decoding anything
#define SF_SUM_MIGRATED     0x04        //  the stream moved away from this node
#define SF_SUM_TRANSFER     0x08        //  the stream is moving to or from here
#define SF_SUM_CONFLICT     0x10        //  active here and elsewhere, not a transfer
#define SF_SUM_DERIVED      (SF_SUM_MIGRATED | SF_SUM_TRANSFER | SF_SUM_CONFLICT)

void sf_summary_from_stream (sf_summary_t *sum, const sf_stream_t *s);
//  Updates summary sum with the lines (sf_stream_line bits) of s that a patch
//  carried: its SUM lines, and the flags that follow stale and
//  transferred_from. The derived flags stay.
void sf_summary_patch (sf_summary_t *sum, const sf_stream_t *s, uint64_t lines);

typedef struct sf_store_t sf_store_t;

//  Opens (creating) the environment at path. map_size 0 = default (1 GiB).
sf_store_t *sf_store_new (const char *path, size_t map_size, char *err, size_t errlen);
void sf_store_destroy (sf_store_t **self_p);
//  The data directory, for messages an operator acts on
const char *sf_store_path (sf_store_t *self);
//  Clears stale reader slots (DESIGN §6); returns how many were cleared.
int sf_store_reader_check (sf_store_t *self);
//  Grows the map to size bytes (no write transaction may be open). 0 or -1.
int sf_store_grow (sf_store_t *self, size_t size);
//  Grows the map ahead of need (when over 70 % used), so that a write
//  transaction rarely meets MAP_FULL. 1 grown, 0 not needed, -1 failed.
int sf_store_maybe_grow (sf_store_t *self);
//  Gives back this process's mappings of the data file's pages (the scans at
//  start touch every page of the streams database: as many bytes of resident
//  memory as the store holds). The pages stay in the kernel's page cache,
//  which reclaims them when it needs to; the next read of one maps it again.
//  Returns the resident bytes given back (RssFile before less after), or -1
//  (not Linux, or the mapping not found in /proc/self/maps).
//  docs/operations.md, "Memory".
long sf_store_release_pages (sf_store_t *self);
//  Flushes committed writes to disk (the writer calls it about once a second).
//  0, SF_STORE_NOSPACE or -1; *error (when not NULL) gets LMDB's code (an errno).
int sf_store_sync (sf_store_t *self, int *error);
//  Ordered commits (--store-ordered): each commit flushes its own pages to
//  the disk (fdatasync) before it writes its meta page, which then reaches the
//  disk with the next commit's flush or the next sf_store_sync (LMDB's
//  MDB_NOMETASYNC instead of MDB_NOSYNC). A host crash then undoes at most
//  the last commit and never leaves a meta page pointing at pages that did
//  not reach the disk; each commit waits for one flush. Off (the default):
//  nothing is flushed until sf_store_sync. 0 or -1.
int sf_store_set_ordered (sf_store_t *self, bool ordered);
//  Whether commits are ordered (sf_store_set_ordered)
bool sf_store_ordered (sf_store_t *self);

//  ---------------------------------------------------------------------------
//  Write side: one transaction at a time, from one thread. After the first
//  failed write every later write of the transaction fails and its commit
//  aborts it, so a transaction is stored whole or not at all.

int sf_store_write_begin (sf_store_t *self);
int sf_store_put_stream (sf_store_t *self, const sf_stream_t *s);
//  Stores an already validated, packed record with its summary. An update
//  of a placement already stored is held to the commit: several updates of
//  one placement in one transaction are written once, the last (they carry
//  whole records), and reach the observer as one change. Reads of the write
//  view see held writes (sf_store_get_row, the name walks); a cursor walk
//  of the write view and every other write of that placement first write
//  them out. The caller's bytes are copied: they may point into a row.
int sf_store_put_stream_packed (sf_store_t *self, const char *node, const char *name,
                                const sf_summary_t *sum, const void *packed, size_t size);
//  Updates folded into a later one of the same placement, over every
//  committed transaction (for metrics)
uint64_t sf_store_coalesced (sf_store_t *self);
//  The same, for the write path (sf_apply): prev gets the summary it replaced
//  (magic 0 when there was none), and the derived flags (SF_SUM_DERIVED) of
//  the replaced summary are kept, in one lookup
int sf_store_put_stream_prev (sf_store_t *self, const char *node, const char *name,
                              const sf_summary_t *sum, const void *packed, size_t size,
                              sf_summary_t *prev);
//  Deletes a placement and leaves a tombstone at ver (none when ver is 0/0),
//  so that peers learn of the deletion by gossip.
int sf_store_del_stream (sf_store_t *self, const char *node, const char *name, sf_version_t ver);
int sf_store_put_node (sf_store_t *self, const sf_node_t *n);
int sf_store_set_origin (sf_store_t *self, const char *node, sf_version_t v);
//  Returns 0, SF_STORE_RETRY (map grown: replay the batch), SF_STORE_NOSPACE
//  (disk full: nothing stored, the caller retries later) or -1
int sf_store_commit (sf_store_t *self);
//  The id of the last transaction that wrote to the environment: a commit
//  that wrote nothing (LMDB then writes no meta page) leaves it as it was
uint64_t sf_store_txnid (sf_store_t *self);

//  Every put and delete of a placement in a write transaction, reported to
//  one observer right after the transaction commits (nothing when it aborts),
//  in order, on the writer's thread: the read model (sf_readmodel.h) follows
//  the store this way, whichever module wrote (agents, gossip, fleet flags).
typedef struct {
    bool deleted;
    const char *node;
    const char *name;
    sf_summary_t sum;           //  as stored (puts only)
    //  The record's source url (puts only; "" when it has none): the read
    //  model orders the source sort by it. Valid during the call.
    const char *url;
    size_t url_len;
} sf_store_change_t;
typedef void (sf_store_observer_fn) (void *arg, const sf_store_change_t *changes, size_t count);
void sf_store_set_observer (sf_store_t *self, sf_store_observer_fn *fn, void *arg);
void sf_store_abort (sf_store_t *self);
//  Whether a write transaction is open
bool sf_store_writing (sf_store_t *self);

//  Removes tombstones older than before_ms; returns how many, or -1
int sf_store_gc_tombstones (sf_store_t *self, int64_t before_ms);

//  ---------------------------------------------------------------------------
//  Read side

//  A read transaction (or a view of the open write transaction). The fields
//  are the store's: callers only pass it on.
typedef struct {
    void *txn;
    sf_store_t *store;
    bool view;                  //  a view of the write transaction: read_end leaves it open
} sf_read_t;
int sf_store_read_begin (sf_store_t *self, sf_read_t *r);
void sf_store_read_end (sf_read_t *r);
//  Reads what the open write transaction holds, its own writes included
//  (sf_store_read_end on it is harmless). -1 when no write transaction is open.
int sf_store_write_view (sf_store_t *self, sf_read_t *r);

//  A placement as a scan sees it: pointers into the map, valid until the
//  read transaction ends.
typedef struct {
    const char *node;
    const char *name;
    const char *key;            //  "node\0name" inside the map, not NUL-terminated
    size_t key_size;
    sf_summary_t sum;
    const void *packed;
    size_t packed_size;
} sf_row_t;

//  Returns non-zero to stop the scan.
typedef int (sf_row_fn) (const sf_row_t *row, void *arg);
//  All placements, or one node's when node is not NULL
int sf_store_scan_streams (sf_read_t *r, const char *node, sf_row_fn *fn, void *arg);
//  The placements' digest: the XOR over every stored placement of a hash of
//  its key (node, name) and version, and how many there are. The store keeps
//  it with every committed write (computed by a scan when it opens), so
//  gossip's state digest costs nothing per second whatever the fleet's size.
//  Writer thread only.
void sf_store_digest (sf_store_t *self, uint64_t *digest, uint64_t *count);
//  The same, computed by scanning every placement (the reference)
void sf_store_digest_scan (sf_read_t *r, uint64_t *digest, uint64_t *count);
//  Placements of one stream name on every node
int sf_store_scan_name (sf_read_t *r, const char *name, sf_row_fn *fn, void *arg);
int sf_store_get_row (sf_read_t *r, const char *node, const char *name, sf_row_t *row);
//  Decodes a row into a full record (s initialised by caller)
int sf_row_decode (const sf_row_t *row, sf_stream_t *s);
//  The source url of a packed record, without decoding the rest: copied to
//  out (cap bytes + NUL), its length returned ("" and 0 when it has none)
size_t sf_packed_url (const void *packed, size_t size, char *out, size_t cap);
int sf_store_get_origin (sf_read_t *r, const char *node, sf_version_t *v);
int sf_store_get_node (sf_read_t *r, const char *id, sf_node_t *n);
typedef int (sf_node_fn) (const sf_node_t *n, void *arg);
int sf_store_scan_nodes (sf_read_t *r, sf_node_fn *fn, void *arg);
//  Origins and their highest committed version
typedef int (sf_origin_fn) (const char *node, sf_version_t v, void *arg);
int sf_store_scan_origins (sf_read_t *r, sf_origin_fn *fn, void *arg);
//  A node's changes after a version, oldest first: kind 's' (placement, name
//  set), 'd' (tombstone, name set) or 'n' (node record, name ""). Stops when
//  fn returns non-zero.
typedef int (sf_version_fn) (char kind, const char *name, sf_version_t v, void *arg);
int sf_store_scan_versions (sf_read_t *r, const char *node, sf_version_t after,
                            sf_version_fn *fn, void *arg);
//  The version of a tombstone, -1 if there is none
int sf_store_get_tombstone (sf_read_t *r, const char *node, const char *name, sf_version_t *v);
//  A node record's packed bytes (for replication); -1 if absent
int sf_store_get_node_packed (sf_read_t *r, const char *id, const void **data, size_t *size);
//  Compares versions: <0, 0, >0
int sf_version_cmp (sf_version_t a, sf_version_t b);
//  Counts, for metrics
int sf_store_count_streams (sf_read_t *r, size_t *count);
//  Placements in name order (then node), from the skip-th on, forwards or
//  backwards; fn returns non-zero to stop. Walks the name index: cost is what
//  is visited, not the fleet's size.
int sf_store_scan_by_name (sf_read_t *r, bool backwards, size_t skip, sf_row_fn *fn, void *arg);

//  ---------------------------------------------------------------------------
//  Generic primitives, for the typed layers that keep their own databases in
//  this environment (controller/fleet.c: its state, uid index, events,
//  per-stream event index, transfer log and moved-to table go through these
//  alone). Modelled on Knot DNS's knot_lmdb_make_key and knot_lmdb_foreach.

//  Other modules' databases, opened at start
typedef enum {
    SF_DB_FLEET_UIDS,           //  uid \0 node \0 name -> (empty)
    SF_DB_FLEET_STATE,          //  uid -> where the stream lives (fleet.c)
    SF_DB_FLEET_EVENTS,         //  be64 at_ms, kind, uid \0 from \0 to -> msgpack event
    SF_DB_FLEET_TRANSFERS,      //  be64 start_ms, uid \0 from \0 to -> end_ms, name
    SF_DB_FLEET_MOVED,          //  node \0 name -> node the stream moved to
    SF_DB_FLEET_BYUID,          //  uid \0 be64 at_ms, kind, from \0 to -> (empty): events per stream
    SF_DB_FLEET_BYREF,          //  's' stream \0 | 'n' node \0, then an events key -> (empty): the
                                //  events of a stream (uid or name) or a node (from or to)
    SF_DB_WEBHOOKS,             //  'q'|'d' receiver \0 be64 seq -> a webhook delivery (webhook.c;
                                //  in the webhook queue's own environment, not the fleet's)
    SF_DB_ALERTS,               //  alert key \x1f basis -> msgpack alert episode (alerts.c: the
                                //  cluster's firing state and alert history)
    SF_DB_EXTRA_COUNT
} sf_db_t;

//  Big-endian 64-bit integers: keys that sort as the numbers do
void sf_be64_put (void *p, uint64_t v);
uint64_t sf_be64_get (const void *p);

//  A key built from parts (LMDB's default key limit is 511 bytes)
#define SF_KEY_MAX 511
typedef struct {
    size_t size;
    uint8_t data [SF_KEY_MAX];
} sf_key_t;
//  Builds a key from parts, one format letter each:
//    's'  const char *, its bytes and the NUL after them (a separator)
//    'n'  const char *, its bytes without a NUL (a last part)
//    'L'  uint64_t, 8 bytes big-endian
//    'B'  int, one byte
//    'D'  const void *, size_t: raw bytes
//  Returns 0, or -1 (k->size 0) when the parts exceed SF_KEY_MAX: parts come
//  from input, so a long one is an error to report, not a crash.
int sf_key_make (sf_key_t *k, const char *fmt, ...);

//  A value or key inside the map: valid until the transaction ends
typedef struct {
    const void *data;
    size_t size;
} sf_val_t;

//  0 found (v set), 1 absent, -1 error
int sf_store_get (sf_read_t *r, sf_db_t db, const sf_key_t *k, sf_val_t *v);
//  Writes in the open write transaction. 0, or -1 (the transaction fails)
int sf_store_put (sf_store_t *self, sf_db_t db, const sf_key_t *k, const void *data, size_t size);
//  Writes only if the key is absent: 0 written, 1 it was there, -1
int sf_store_add (sf_store_t *self, sf_db_t db, const sf_key_t *k, const void *data, size_t size);
//  0 deleted, 1 absent, -1 (the transaction fails)
int sf_store_del (sf_store_t *self, sf_db_t db, const sf_key_t *k);
//  Entries in key order (or reverse with SF_SCAN_BACKWARDS) whose key starts
//  with prefix (every entry when prefix is NULL); fn returns non-zero to stop,
//  and must not write to db while it runs. 0, or -1 when the scan could not
//  start.
#define SF_SCAN_BACKWARDS 1
typedef int (sf_kv_fn) (const sf_val_t *key, const sf_val_t *val, void *arg);
int sf_store_foreach (sf_read_t *r, sf_db_t db, const sf_key_t *prefix, int flags,
                      sf_kv_fn *fn, void *arg);
//  The same, forwards, starting at the first key >= from
int sf_store_foreach_from (sf_read_t *r, sf_db_t db, const sf_key_t *prefix,
                           const sf_key_t *from, sf_kv_fn *fn, void *arg);
//  The same, backwards, starting at the last key < before (a keyset seek:
//  O(log n) to the position, then what is visited); NULL or empty before:
//  from the last key
int sf_store_foreach_before (sf_read_t *r, sf_db_t db, const sf_key_t *prefix,
                             const sf_key_t *before, sf_kv_fn *fn, void *arg);
//  Entries in db
int sf_store_count (sf_read_t *r, sf_db_t db, size_t *count);
#endif

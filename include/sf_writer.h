/*  sf_writer.h — the controller's write session (controller/writer.c).

    One module owns everything that changes stored state: the origins table
    (per node: the committed and staged versions and the node record), the
    one LMDB write transaction, staging, the commit, and what follows a
    commit. The agent protocol (controller/ingest.c) and the gossip protocol
    (controller/gossip.c) each call it; neither knows the other.

    Threads: every function here is called from the ingest thread only, and
    nothing in sf_writer_t or sf_origin_t is read by another thread. Other
    threads see the writer's work through the store (their own read
    transactions), the liveness table (sf_live_t, locked) and the metrics
    (atomics); each field below says which.

    Commit protocol. Changes are staged in the open transaction: a protocol
    writes records (sf_writer_put / _del), advances the origin's staged
    version (sf_writer_stage) and may ask for an acknowledgement
    (sf_writer_ack_due). sf_writer_commit commits and then, once per touched
    origin, calls the done callback with the result: on success committed =
    staged; on failure staged falls back to committed and nothing of the
    transaction counts. Placements put or deleted reach the read model
    through the store's observer (sf_store_set_observer), called inside the
    commit before any done callback; the change callback adds what the store
    does not see: each node record a commit stored, and each liveness
    transition found by sf_writer_tick.
*/
#ifndef SF_WRITER_H
#define SF_WRITER_H

#include "sf_live.h"
#include "sf_metrics.h"
#include "sf_store.h"
#include <czmq.h>

//  What the controller knows of one origin's (one node's) change stream.
//  Ingest thread only.
typedef struct sf_origin_t {
    char node [SF_NODE_MAX + 1];
    sf_version_t committed;     //  highest version stored: what acks and digests claim
    sf_version_t staged;        //  the same with the open transaction's changes
    sf_node_t info;             //  the node record, as it will next be stored
    bool info_dirty;            //  info changed: stored with the next commit
    int64_t agent_ms;           //  when this controller last took a message of the node's own
                                //  agent (monotonic; 0 never): gossip relays the origin
                                //  of an agent that talks to another controller late
    //  The writer's own bookkeeping
    bool touched;               //  in the open transaction
    bool ack_due;               //  the done callback should acknowledge it
    int live;                   //  liveness last reported to the change callback
} sf_origin_t;

typedef struct sf_writer_t sf_writer_t;

//  Results the done callback gets
#define SF_WRITER_STORED    0   //  committed: o->committed is what was staged
#define SF_WRITER_DROPPED   -1  //  not stored (a failed or replayed commit)
#define SF_WRITER_NOSPACE   2   //  not stored: the disk is full; ask again later
#define SF_WRITER_UNSYNCED  3   //  committed, but with --sync-ms 0 its flush to
                                //  disk failed: not to be acknowledged

//  Called after each commit, once per touched origin
typedef void (sf_writer_done_fn) (sf_origin_t *o, int result, bool ack_due, void *arg);

//  One committed change the store's observer does not report
typedef struct {
    char kind;                  //  'n' node record stored, 'l' liveness transition
    const char *node;
    const sf_node_t *info;      //  'n', valid during the call
    int live;                   //  'l': SF_LIVE_ALIVE, _SUSPECT or _DOWN
} sf_change_t;
typedef void (sf_writer_change_fn) (const sf_change_t *ch, void *arg);

typedef struct {
    sf_store_t *store;          //  the writer is its only writer
    sf_live_t *live;            //  shared with the query threads (it locks)
    sf_metrics_t *metrics;      //  atomics, read by the query and HTTP threads
    size_t batch_records;       //  changes per transaction at most (--batch-records)
    bool sync_every_commit;     //  --sync-ms 0
} sf_writer_config_t;

sf_writer_t *sf_writer_new (const sf_writer_config_t *cfg);
void sf_writer_destroy (sf_writer_t **self_p);
void sf_writer_on_done (sf_writer_t *self, sf_writer_done_fn *fn, void *arg);
//  After each successful commit, and from sf_writer_tick (see above)
void sf_writer_on_change (sf_writer_t *self, sf_writer_change_fn *fn, void *arg);

//  Loads every origin known to storage (the gossip digest names them all)
void sf_writer_load (sf_writer_t *self);
//  The origin of a node, loaded from storage on first use
sf_origin_t *sf_writer_origin (sf_writer_t *self, const char *node);
//  Walks the origins (not nested)
sf_origin_t *sf_writer_first (sf_writer_t *self);
sf_origin_t *sf_writer_next (sf_writer_t *self);

//  Opens the write transaction if none is open. 0 or -1.
int sf_writer_begin (sf_writer_t *self);
//  Whether the open transaction holds batch_records changes or more
bool sf_writer_full (sf_writer_t *self);
//  A read view of the open transaction (sf_store_write_view)
int sf_writer_view (sf_writer_t *self, sf_read_t *r);

//  Stores a placement of origin o at ver. The writer sets what is the
//  controller's to set, the same for every path: node and version, and the
//  derived fields (transfer, migrated_to) cleared; an agent's `offline` is
//  stored as `error`. Returns 0; SF_WRITER_FOREIGN when the record names
//  another node (nothing written); -1 when storage refused it.
#define SF_WRITER_FOREIGN -2
int sf_writer_put (sf_writer_t *self, sf_origin_t *o, sf_stream_t *s, sf_version_t ver);
//  Stores the record of placement name of origin o as packed bytes with its
//  summary, both already stamped at their version by the caller (a patch
//  spliced onto the stored record, docs/protocol.md "patch"): for a change
//  that moves nothing the fleet derives from (its status, uid, type,
//  functions stay), so the fleet is not asked. 0, or -1 when storage refused.
int sf_writer_put_packed (sf_writer_t *self, sf_origin_t *o, const char *name, const sf_summary_t *sum,
                          const void *packed, size_t size);
//  Deletes a placement of origin o; the change that removed it is ver
int sf_writer_del (sf_writer_t *self, sf_origin_t *o, const char *name, sf_version_t ver);
//  Deletes every placement of o whose name is not a key of keep; returns
//  how many, or -1
int sf_writer_del_absent (sf_writer_t *self, sf_origin_t *o, zhashx_t *keep, sf_version_t ver);
//  Deletes every placement of o stored at a version below floor (what a
//  snapshot's floor says is gone, docs/protocol.md "snapshot_floor"), each
//  with a tombstone at the version just below the floor; returns how many,
//  or -1
int sf_writer_del_below (sf_writer_t *self, sf_origin_t *o, sf_version_t floor);
//  Replaces o's node record (kept usage and heartbeat are the caller's
//  business); stored with the commit
void sf_writer_set_info (sf_writer_t *self, sf_origin_t *o, const sf_node_t *info);
//  Marks o's info changed (usage or heartbeat) so that the commit stores it
void sf_writer_info_changed (sf_writer_t *self, sf_origin_t *o);
//  Advances o's staged version (never backwards) and stores it as the
//  origin's version in the open transaction
void sf_writer_stage (sf_writer_t *self, sf_origin_t *o, sf_version_t v);
//  Asks the done callback to acknowledge o after the commit
void sf_writer_ack_due (sf_writer_t *self, sf_origin_t *o);
//  Told when the open transaction's commit fails (SF_STORE_RETRY: the map
//  was full and has grown; SF_STORE_NOSPACE; -1): nothing of it was stored.
//  For writes that are no origin's change (derived history, alert episodes,
//  tombstone cleanup): fn marks what its caller staged as not written, so
//  that the caller's own path stages it again. Registered once per
//  transaction (the same fn and arg twice is once); forgotten at the commit.
typedef void (sf_writer_lost_fn) (void *arg);
void sf_writer_on_lost (sf_writer_t *self, sf_writer_lost_fn *fn, void *arg);
//  The last commit met a full disk (SF_STORE_NOSPACE), and none has worked
//  since
bool sf_writer_nospace (sf_writer_t *self);
//  Whether to stage again now what a lost commit gave back (sf_writer_on_lost)
//  — the writes that are no origin's change, which nothing resends. Always
//  while the disk has room; while it is full (sf_writer_nospace), yes once
//  per SF_WRITER_RESTAGE_MS (the first call only arms the clock), so that
//  they are not rewritten on every pass into commits that fail again; they
//  stay unwritten meanwhile, and go at once after any commit (an agent's
//  retry) works again. now_ms: the caller's clock (sf_mono_ms).
#define SF_WRITER_RESTAGE_MS 1000
bool sf_writer_restage_due (sf_writer_t *self, int64_t now_ms);
//  Commits the open transaction (if any, or if any origin is touched) and
//  calls back. Returns 0, SF_STORE_RETRY, SF_STORE_NOSPACE or -1.
int sf_writer_commit (sf_writer_t *self);
//  Flushes the store to disk (sf_store_sync); a failure is counted, logged
//  with the data directory and errno, and held (sf_writer_unsynced) until a
//  flush works. 0 or -1.
int sf_writer_sync (sf_writer_t *self);
//  Starts the flusher thread: sf_writer_sync every every_ms off the
//  calling thread (--sync-ms N > 0), and once more as sf_writer_destroy
//  stops it. Commits go on while it flushes. Not with sync_every_commit,
//  whose flushes belong to each commit. 0 or -1.
int sf_writer_flush_every (sf_writer_t *self, int64_t every_ms);
//  The last flush failed (any thread)
bool sf_writer_unsynced (sf_writer_t *self);
//  ... and with --sync-ms 0: no agent is to be acknowledged now (a hello too)
bool sf_writer_acks_held (sf_writer_t *self);
//  Reports liveness transitions of known origins to the change callback
void sf_writer_tick (sf_writer_t *self, int64_t now_ms);
#endif

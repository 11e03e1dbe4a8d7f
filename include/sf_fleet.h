/*  sf_fleet.h — where every stream lives (DESIGN §3): the one place that
    derives a placement's migrated type, its transfer flag and where it went,
    the transfer / migration / failover events, and the DVR timeline of a
    stream joined over its placements.

    Everything is derived from the stored (replicated) placement records, by
    uid across nodes, with times taken from the records themselves (the
    agent's changed_at_ms, the media server's started_at_ms or started_at),
    never from the controller's clock, so every controller that applies the
    same records derives the same events under the same idempotent keys
    (docs/migrations.md explains the states, the events and the choices).

    Three layers:
      - sf_fleet_step: the pure state machine of one stream (uid): given its
        state and one placement change, the next state and the events;
      - sf_fleet_apply_put/_del: the write-path hook (controller/apply.c),
        inside the writer's transaction: indexes, state, events, flags;
      - queries: derive (per listed row), events, timeline, history.
*/
#ifndef SF_FLEET_H
#define SF_FLEET_H

#include "sf_query_ctx.h"
#include <msgpack.h>

typedef struct {
    uint8_t type;               //  sf_type_t, migrated when the stream moved away
    uint8_t status;             //  sf_status_t, offline when the node is down
    bool transfer;
    bool conflict;              //  active on two nodes, not a transfer in progress
    char migrated_to [SF_NODE_MAX + 1];
} sf_derived_t;

//  Derives the view of one placement inside a read transaction.
//  node_state is the owning node's liveness (sf_liveness_t).
void sf_fleet_derive (sf_query_ctx_t *ctx, sf_read_t *r, const sf_row_t *row, int node_state,
                      int64_t now_ms, sf_derived_t *out);

//  ---------------------------------------------------------------------------
//  Events

typedef enum {
    SF_EV_TRANSFER_STARTED = 0,
    SF_EV_MIGRATED,
    SF_EV_FAILOVER,
    SF_EV_TRANSFER_STUCK,
    SF_EV_RETURNED,
    SF_EV_CONFLICT,
    SF_EV_COUNT,
    //  Effects of a step that are not events: the transfer log (stuck)
    SF_EV_XFER_OPEN = 100,
    SF_EV_XFER_CLOSE
} sf_event_kind_t;

const char *sf_event_kind_name (int kind);
int sf_event_kind_parse (const char *name);

typedef struct {
    uint8_t kind;               //  sf_event_kind_t
    char uid [SF_NAME_MAX + 1];
    char stream [SF_NAME_MAX + 1];
    char from [SF_NODE_MAX + 1];
    char to [SF_NODE_MAX + 1];
    int64_t at_ms;
    int64_t duration_ms;        //  migrated, returned: the transfer's length
    int64_t start_ms;           //  XFER_CLOSE: the transfer's start
    char reason [96];           //  a fixed text per kind and case
} sf_fleet_event_t;

//  ---------------------------------------------------------------------------
//  The state machine of one stream

#define SF_FLEET_LEFT_MAX 4

typedef struct {
    char owner [SF_NODE_MAX + 1];   //  the node the stream lives on ("" unknown)
    int64_t owner_since_ms;
    int64_t owner_stop_ms;          //  the owner stopped it at; 0 while it runs
    char xfer_from [SF_NODE_MAX + 1];
    char xfer_to [SF_NODE_MAX + 1];
    int64_t xfer_start_ms;          //  0: no transfer open
    char left [SF_FLEET_LEFT_MAX][SF_NODE_MAX + 1];    //  nodes it left, newest first
    uint32_t nleft;
    char conflict [SF_NODE_MAX + 1];    //  a stale node that runs it too ("" none)
    int64_t conflict_since_ms;
    //  Which of the times above are a media server's start to the
    //  millisecond (started_at_ms) rather than its second (started_at) or
    //  a change's stamp: two starts are ordered by their milliseconds only
    //  when both are (docs/migrations.md, "Starts in the same second")
    bool owner_since_exact;
    bool xfer_start_exact;
    bool conflict_since_exact;
} sf_fleet_state_t;

//  One input of the state machine: a placement change, or a node's
//  liveness turning down (docs/migrations.md has the table)
typedef struct {
    const char *node;
    bool started;               //  the placement became active (or is active again on a node back up)
    bool stopped;               //  the placement stopped being active (or went)
    bool down;                  //  the node was declared down (this controller's view)
    int64_t at_ms;              //  when (start: started_at_ms, else started_at, else the
                                //  change's stamp)
    bool at_exact;              //  at_ms is a start to the millisecond (started_at_ms)
    uint8_t type;               //  the placement's reported type
    bool owner_running;         //  the owner's placement record says active
    bool owner_down;            //  the owner's node is down (this controller's view)
    bool target_running;        //  the open transfer's target record says active
    bool node_down;             //  the changed placement's node is down
    int64_t silent_ms;          //  down: since when the node is silent (wall ms; 0 unknown)
    bool caught_up;             //  learned by anti-entropy about a past this controller did
                                //  not witness: the state follows, no event is derived
    bool continued;             //  a start that is the run the placement had all along: its
                                //  record was active before with the same started_at (a
                                //  node back, or its record said again), or it is the
                                //  first record this controller has of the placement
} sf_fleet_change_t;

#define SF_FLEET_EFFECTS_MAX 6
//  Advances st by one change; writes up to SF_FLEET_EFFECTS_MAX effects
//  (events and transfer-log entries, uid/stream left for the caller).
//  Returns the number of effects.
int sf_fleet_step (sf_fleet_state_t *st, const sf_fleet_change_t *ch, sf_fleet_event_t *fx);
//  Whether the stream has lived on node before (it left it)
bool sf_fleet_state_left (const sf_fleet_state_t *st, const char *node);
//  The derived flags (SF_SUM_MIGRATED, SF_SUM_TRANSFER, SF_SUM_CONFLICT) of a placement on node
uint8_t sf_fleet_flags (const sf_fleet_state_t *st, const char *node);
//  A transfer open from start_ms that ended at end_ms (0: still open at
//  now_ms) is stuck when it lasted longer than timeout_s. Returns true and
//  sets *at_ms to the moment it became stuck.
bool sf_fleet_stuck (int64_t start_ms, int64_t end_ms, int64_t now_ms, int64_t timeout_s,
                     int64_t *at_ms);

//  ---------------------------------------------------------------------------
//  Write path hooks (called by controller/apply.c in the writer's transaction)

struct sf_live_t;
//  The liveness table failover decisions consult (the controller's own)
void sf_fleet_set_live (struct sf_live_t *live);
//  Or a liveness function (tests): returns sf_liveness_t of a node
//  silent_ms gets since when (wall clock, unix ms) the node has been silent
//  (its heartbeat counter last rose), when known, else 0
typedef int (sf_fleet_live_fn) (const char *node, int64_t *silent_ms, void *arg);
void sf_fleet_set_liveness (sf_fleet_live_fn *fn, void *arg);
//  Liveness as inputs: node was declared down / is back. The writer's
//  change hook reports every liveness transition (kind 'l', sf_writer.h) to
//  sf_fleet_node_live, on the writer's thread; a turn down or back is
//  queued, and sf_fleet_pending says how many are. sf_fleet_tick, inside a
//  write transaction, feeds them to sf_fleet_node_down / sf_fleet_node_up.
//  Nothing polls the node records. 0 or -1.
void sf_fleet_node_live (const char *node, int live);
int sf_fleet_pending (void);
int sf_fleet_tick (sf_store_t *store);
//  The transaction of the last sf_fleet_tick was lost (sf_writer_on_lost):
//  its turns are pending again, ahead of any queued since
void sf_fleet_tick_lost (void *arg);
int sf_fleet_node_down (sf_store_t *store, const char *node);
int sf_fleet_node_up (sf_store_t *store, const char *node);
//  The placement changes stored until this is turned off again were caught
//  up from a peer, not observed: records a controller learns by
//  anti-entropy about a time it was away (stopped, partitioned, starved;
//  controller/gossip.c decides) skip the intermediate states that others
//  saw, so they move the state machine without deriving events (the
//  witnesses' events arrive by the replicated history). Writer thread only.
void sf_fleet_set_caught_up (bool caught_up);
//  Stores a placement with its derived flags and derives what it changed
int sf_fleet_apply_put (sf_store_t *store, const sf_stream_t *s);
//  Deletes a placement (tombstone at ver) and derives what that changed
int sf_fleet_apply_del (sf_store_t *store, const char *node, const char *name, sf_version_t ver);
//  Stores an event as it is (events learned from a peer): the key is the
//  event's identity, so storing one twice keeps one. Retention holds on
//  every insert: an event outside the window, or older than every event of
//  a stream that has its bound, is not stored (a full stream's oldest goes
//  for a newer one). 0 stored, 1 not (there already, or refused), -1.
int sf_fleet_event_put (sf_store_t *store, const sf_fleet_event_t *ev);

//  ---------------------------------------------------------------------------
//  The replicated history: events are a grow-only set under their
//  identities (time, kind, uid, from, to) within a retention window (days)
//  and a bound per stream (the newest kept), exchanged between controllers
//  by anti-entropy on every gossip round (controller/gossip.c): each side
//  sends its digest (per hour of at_ms: count and XOR of key hashes); the
//  other sends the events of the hours that differ. Writer thread only.

void sf_fleet_set_history (int64_t days, uint32_t per_stream);
//  The wall clock the window is judged by (tests; NULL: sf_now_ms)
void sf_fleet_set_clock (int64_t (*now_ms) (void));
//  Packs the digest (an array of [hour, count, hash]); computed at most every
//  200 ms after a change, and every 5 s.
void sf_fleet_history_digest (sf_store_t *store, msgpack_packer *pk);
//  Packs into out (an array of packed events, at most max) what their digest
//  lacks or differs in; returns how many (0: nothing to send, out untouched).
size_t sf_fleet_history_offer (sf_store_t *store, const msgpack_object *theirs, size_t max,
                               msgpack_sbuffer *out);
//  The same in messages of at most max events, at most max_msgs of them in
//  one round (one walk): fn gets each message's events (a packed array) and
//  their count. Returns how many messages; *more is set when the hours that
//  differ hold events this round did not offer (more than max * max_msgs:
//  a rotating window covers them over the following rounds), so that the
//  peer's history is still short of ours after it.
typedef void (sf_fleet_offer_fn) (const msgpack_sbuffer *events, size_t count, void *arg);
size_t sf_fleet_history_offer_each (sf_store_t *store, const msgpack_object *theirs, size_t max,
                                    size_t max_msgs, sf_fleet_offer_fn *fn, void *arg, bool *more);
//  Stores events learned from a peer, in the write transaction; *added gets
//  the new ones. Returns how many were refused (malformed, outside the
//  window), or -1 on a storage error.
int sf_fleet_history_apply (sf_store_t *store, const msgpack_object *events, size_t *added);
//  Applies the window (events and transfers before it go) and, at start or
//  after sf_fleet_set_history, the bound over every stream (rebuilding the
//  per-stream index of an older database), in the write transaction;
//  returns how many events went, or -1.
int sf_fleet_history_prune (sf_store_t *store);

//  ---------------------------------------------------------------------------
//  Queries

typedef struct {
    sf_fleet_event_t *events;   //  newest first: this page
    size_t count;
    size_t total;               //  events matching every filter (all pages)
    size_t counts [SF_EV_COUNT];    //  per kind, matching every filter but kinds
    bool more;                  //  events follow the page (next cursor: its last)
    size_t visited;             //  entries the page's seek walked (its cost; totals aside)
    uint64_t gen;               //  the history's generation in the page's snapshot: it moves
                                //  with every event and transfer-log entry stored or deleted
} sf_fleet_events_t;

//  A selection of the history, and a page of it. The order is newest first,
//  ties by identity (kind, uid, from, to, descending): a total order, so a
//  page "after" an event's identity is stable when events are added while
//  an operator pages (a keyset cursor: new events land before the cursor or
//  in their place after it, never shift a page).
typedef struct {
    const char *stream;         //  uid or name; NULL or "" every stream
    const char *node;           //  events from or to this node; NULL or "" any
    uint32_t kinds;             //  one bit per sf_event_kind_t; 0 every kind
    int64_t start_ms;           //  at_ms >= start_ms (0: no bound)
    int64_t end_ms;             //  at_ms < end_ms (0: no bound)
    const sf_fleet_event_t *after;  //  the page starts after this identity (NULL: first)
    size_t limit;               //  events in the page
} sf_fleet_query_t;

//  The selection, newest first, at most q->limit after q->after;
//  transfer_stuck ones are derived from the transfer log and
//  ctx->transfer_timeout_s. The page is a keyset seek (backwards from just
//  before the cursor): O(log n) plus the events visited, which is the page
//  itself (with a stream or node filter too: the walk is then in the filter
//  index under that stream or node, fleet_byref). total and counts come from
//  one pass over the time range (of that stream or node), kept for the
//  selection until the history (or
//  the clock: the window, a transfer turning stuck) changes them, so paging
//  counts once. 0 or -1 (err).
int sf_fleet_events (sf_query_ctx_t *ctx, const sf_fleet_query_t *q,
                     sf_fleet_events_t *out, char *err, size_t errlen);
//  An event's identity as an opaque cursor text (SF_FLEET_CURSOR_MAX bytes
//  with its NUL), and back: 0, or -1 when the text is not a cursor
#define SF_FLEET_CURSOR_MAX (2 * (8 + 1 + SF_NAME_MAX + 1 + 2 * SF_NODE_MAX + 1) + 4)
void sf_fleet_cursor_make (const sf_fleet_event_t *ev, char *out, size_t size);
int sf_fleet_cursor_parse (const char *text, sf_fleet_event_t *ev);
void sf_fleet_events_clear (sf_fleet_events_t *self);

typedef struct {
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
    int64_t from, to;           //  unix seconds
    char rtsp [1024], hls [1024];
} sf_tl_entry_t;

typedef struct {
    char uid [SF_NAME_MAX + 1];
    char current [SF_NODE_MAX + 1];     //  where the stream lives now ("" unknown)
    sf_tl_entry_t *entries;             //  sorted by from, then node
    size_t count;
} sf_timeline_t;

//  The archive timeline of a stream (by name or uid) over all its placements.
//  0, or -1 when the stream is unknown (err).
int sf_fleet_timeline (sf_query_ctx_t *ctx, const char *name, sf_timeline_t *out,
                       char *err, size_t errlen);
void sf_timeline_clear (sf_timeline_t *self);
//  Sorts entries by from, then to, then node
void sf_timeline_sort (sf_timeline_t *self);
//  Which entry holds time t: returns its index, preferring the one that
//  started last when ranges overlap; or -1 with *before / *after set to the
//  entries around the gap (-1 when there is none on that side).
int sf_timeline_at (const sf_timeline_t *self, int64_t t, int *before, int *after);

//  Where a stream lives now and its events oldest first (streams show)
int sf_fleet_history (sf_query_ctx_t *ctx, const char *name, char *current, size_t current_size,
                      sf_fleet_events_t *out, char *err, size_t errlen);
#endif

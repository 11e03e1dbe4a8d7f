/*  fleet.c — where every stream lives (include/sf_fleet.h, docs/migrations.md).

    A stream is known across nodes by its uid. For each uid the controller
    keeps a small state (the node it lives on, whether and since when that
    node stopped it, an open transfer, the nodes it left) and advances it on
    every placement change that starts or stops a placement: the write path
    (controller/apply.c) calls sf_fleet_apply_put/_del inside the writer's
    transaction, for changes from agents and from peer controllers alike.

    Determinism. Controllers apply the same records in different
    interleavings across origins (and, after a partition, in a burst), so the
    decisions compare times carried in the records, not the order in which
    they arrived: a placement that started (started_at_ms, or started_at's
    second from agents and servers that do not tell the ms) before the owner
    stopped (changed_at_ms of the change that stopped it) overlapped it, even
    when its record arrives after the stop. Events are stored under their
    identity (time, kind, uid, from, to), so one event derived twice, or
    learned from a peer, is stored once. transfer_stuck is derived at query
    time from the transfer log and the controller's transfer timeout.
    The one input that is not a record is liveness: a placement that starts
    while the owner's record still says active but the owner's node is down
    (by this controller's failure detector) is a failover.

    Derived flags (migrated, transfer) are kept in the placements' summary
    headers, so a listing of a million rows filters on them without a lookup;
    the node a migrated placement moved to sits in a small side table.
*/
#include "sf_fleet.h"
#include "sf_alloc.h"
#include "sf_links.h"
#include "sf_codec.h"
#include "sf_live.h"
#include "sf_log.h"
#include <czmq.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The history changed since its digest was computed (writer thread), and
//  since the digest restricted to a peer's smaller bounds was
static bool s_history_dirty = true;
static bool s_rdigest_dirty = true;

static const char *s_kind_names [SF_EV_COUNT] = {
    "transfer_started", "migrated", "failover", "transfer_stuck", "returned", "conflict"
};

const char *
sf_event_kind_name (int kind)
{
    return kind >= 0 && kind < SF_EV_COUNT ? s_kind_names [kind] : "unknown";
}

int
sf_event_kind_parse (const char *name)
{
    for (int i = 0; i < SF_EV_COUNT; i++)
        if (strcmp (name, s_kind_names [i]) == 0)
            return i;
    return -1;
}

//  ---------------------------------------------------------------------------
//  The state machine (pure)

static void
s_node_set (char *dest, const char *src)
{
    snprintf (dest, SF_NODE_MAX + 1, "%s", src ? src : "");
}

bool
sf_fleet_state_left (const sf_fleet_state_t *st, const char *node)
{
    for (uint32_t i = 0; i < st->nleft; i++)
        if (strcmp (st->left [i], node) == 0)
            return true;
    return false;
}

static void
s_left_del (sf_fleet_state_t *st, const char *node)
{
    for (uint32_t i = 0; i < st->nleft; i++)
        if (strcmp (st->left [i], node) == 0) {
            memmove (st->left [i], st->left [i + 1], (st->nleft - i - 1) * sizeof (st->left [0]));
            st->nleft--;
            return;
        }
}

//  Newest first; the oldest drops out when the list is full
static void
s_left_add (sf_fleet_state_t *st, const char *node)
{
    s_left_del (st, node);
    uint32_t keep = st->nleft < SF_FLEET_LEFT_MAX ? st->nleft : SF_FLEET_LEFT_MAX - 1;
    memmove (st->left [1], st->left [0], keep * sizeof (st->left [0]));
    s_node_set (st->left [0], node);
    st->nleft = keep + 1;
}

static int
s_fx (sf_fleet_event_t *fx, int n, int kind, const char *from, const char *to, int64_t at_ms,
      int64_t duration_ms, int64_t start_ms, const char *reason)
{
    if (n >= SF_FLEET_EFFECTS_MAX)
        return n;
    sf_fleet_event_t *e = &fx [n];
    memset (e, 0, sizeof (*e));
    e->kind = (uint8_t) kind;
    s_node_set (e->from, from);
    s_node_set (e->to, to);
    e->at_ms = at_ms;
    e->duration_ms = duration_ms;
    e->start_ms = start_ms;
    snprintf (e->reason, sizeof (e->reason), "%s", reason ? reason : "");
    return n + 1;
}

static void
s_xfer_clear (sf_fleet_state_t *st)
{
    st->xfer_from [0] = st->xfer_to [0] = 0;
    st->xfer_start_ms = 0;
    st->xfer_start_exact = false;
}

//  Orders two starts: -1, 0 or 1 as a is before, in the same moment as, or
//  after b. Starts to the millisecond (started_at_ms, exact) are ordered by
//  it when both are. A start known to its second only (an older agent, a
//  server that tells seconds) is ordered by the second when the other is
//  exact: the second holds any millisecond of it, so a start in the same
//  second is a tie (the second rule; floors, as the second of an exact
//  start). Two times neither exact compare as they are (started_at * 1000,
//  or a change's stamp), as before started_at_ms.
static int
s_start_cmp (int64_t a, bool a_exact, int64_t b, bool b_exact)
{
    if (a_exact != b_exact) {
        a = a >= 0 ? a / 1000 : -((999 - a) / 1000);
        b = b >= 0 ? b / 1000 : -((999 - b) / 1000);
    }
    return a < b ? -1 : a > b;
}

//  The reason of a transfer the tie-break directed: the listing finds such
//  a transfer_started by it (s_superseded)
#define S_TIE_REASON "the stream runs on both nodes, started in one second: the lower node id first"

//  The tie-break of two starts in the same moment that the other facts do
//  not order (neither the run a node had all along nor a down node's run,
//  the two tie rows): the lower node id started first. Arbitrary, but a
//  fact both placements carry, that no update changes and that every
//  controller reads the same, so every order in which the records arrive
//  derives the same owner and the same transfer (docs/migrations.md,
//  "Starts in the same second"). Returns s_start_cmp's sign.
static int
s_start_tie_break (const char *node, const char *other)
{
    int c = strcmp (node, other);
    return c < 0 ? -1 : c > 0;
}

//  The stream now lives on `to`. A move to a node it had left is `returned`.
static int
s_move_to (sf_fleet_state_t *st, sf_fleet_event_t *fx, int n, int kind, const char *to,
           int64_t at_ms, int64_t duration_ms, int64_t since_ms, bool since_exact,
           const char *reason)
{
    char from [SF_NODE_MAX + 1], dest [SF_NODE_MAX + 1];
    s_node_set (from, st->owner);
    s_node_set (dest, to);
    if (kind == SF_EV_MIGRATED && sf_fleet_state_left (st, dest)) {
        kind = SF_EV_RETURNED;
        reason = "the stream came back to a node it had left";
    }
    n = s_fx (fx, n, kind, from, dest, at_ms, duration_ms, 0, reason);
    s_left_del (st, dest);
    s_left_add (st, from);
    s_node_set (st->owner, dest);
    st->owner_since_ms = since_ms;         //  when the new owner started it
    st->owner_since_exact = since_exact;
    st->owner_stop_ms = 0;
    return n;
}

static void
s_conflict_clear (sf_fleet_state_t *st)
{
    st->conflict [0] = 0;
    st->conflict_since_ms = 0;
    st->conflict_since_exact = false;
}

static int
s_step (sf_fleet_state_t *st, const sf_fleet_change_t *ch, sf_fleet_event_t *fx)
{
    int n = 0;
    const char *node = ch->node;
    int64_t t = ch->at_ms;
    if (ch->down) {
        //  A stale copy on a dead node is offline, no longer a conflict
        //  (raised again, under the same key, if it comes back running)
        if (st->conflict [0] && strcmp (st->conflict, node) == 0)
            s_conflict_clear (st);
        //  A transfer whose source died before it stopped the stream was a
        //  takeover: one failover, timed at the takeover, whatever the order
        //  in which the start and the death became known
        //  A takeover is a start once the source had gone silent (it was
        //  suspect), within a second (started_at's resolution, and the
        //  nodes' clocks beside the controller's, also for a start to the
        //  ms); a transfer that began while the source was heard from
        //  stays one
        if (st->xfer_start_ms && strcmp (st->xfer_from, node) == 0 && strcmp (st->owner, node) == 0
        &&  st->owner_stop_ms == 0 && ch->owner_running && ch->target_running
        &&  (ch->silent_ms <= 0 || st->xfer_start_ms + 1000 >= ch->silent_ms)) {
            int64_t start = st->xfer_start_ms;
            bool exact = st->xfer_start_exact;
            char to [SF_NODE_MAX + 1];
            s_node_set (to, st->xfer_to);
            n = s_fx (fx, n, SF_EV_XFER_CLOSE, node, to, start, 0, start, NULL);
            s_xfer_clear (st);
            n = s_move_to (st, fx, n, SF_EV_FAILOVER, to, start, 0, start, exact,
                           "the node it lived on went down after this node took the stream over");
        }
        //  The target of a transfer whose direction only the tie-break set
        //  (its start in the owner's moment) dies, silent within a second
        //  of the owner's start, while the owner runs it and is heard
        //  from: the down node's tie row, had the death been known before
        //  the start, reads that it ran the stream first and the owner
        //  took it over. The same here: one failover to the owner, timed
        //  at its start, in every order
        else if (st->xfer_start_ms && strcmp (st->xfer_to, node) == 0
        &&  strcmp (st->xfer_from, st->owner) == 0 && !sf_fleet_state_left (st, node)
        &&  st->owner_stop_ms == 0 && ch->owner_running && !ch->owner_down && ch->target_running
        &&  s_start_cmp (st->xfer_start_ms, st->xfer_start_exact,
                         st->owner_since_ms, st->owner_since_exact) == 0
        &&  (ch->silent_ms <= 0 || st->owner_since_ms + 1000 >= ch->silent_ms)) {
            n = s_fx (fx, n, SF_EV_XFER_CLOSE, st->owner, node, st->xfer_start_ms, 0,
                      st->xfer_start_ms, NULL);
            s_xfer_clear (st);
            n = s_fx (fx, n, SF_EV_FAILOVER, node, st->owner, st->owner_since_ms, 0, 0,
                      "the node it lived on went down after this node took the stream over");
            s_left_add (st, node);
        }
        return n;
    }
    if (ch->started) {
        if (!st->owner [0]) {
            //  First sighting: the stream lives here
            s_node_set (st->owner, node);
            st->owner_since_ms = t;
            st->owner_since_exact = ch->at_exact;
            st->owner_stop_ms = 0;
            return 0;
        }
        if (strcmp (st->owner, node) == 0) {
            st->owner_stop_ms = 0;          //  running again where it lives
            return 0;
        }
        bool owner_live = st->owner_stop_ms == 0 && ch->owner_running;
        //  This start against the owner's (s_start_cmp): a start in the
        //  same second as the owner's is not ordered by started_at's
        //  seconds, only by started_at_ms when both have it. The run a
        //  node had all along (ch->continued) on a node the stream left
        //  began before the stream moved: a tie is its stale copy, not a
        //  start anew
        int order = s_start_cmp (t, ch->at_exact, st->owner_since_ms, st->owner_since_exact);
        bool earlier = order < 0 || (ch->continued && order == 0);
        if (sf_fleet_state_left (st, node) && earlier
        &&  !(st->xfer_start_ms && strcmp (st->xfer_to, node) == 0)) {
            //  A stale copy: it runs since before the stream moved away
            //  (a node back with the stream still running)
            if (ch->node_down)
                return 0;                   //  offline: flagged when it is back
            if (owner_live && !ch->owner_down) {
                if (strcmp (st->conflict, node) == 0)
                    return 0;
                s_node_set (st->conflict, node);
                st->conflict_since_ms = st->owner_since_ms;
                st->conflict_since_exact = st->owner_since_exact;
                return s_fx (fx, 0, SF_EV_CONFLICT, st->owner, node, st->owner_since_ms, 0, 0,
                             "the stream runs on two nodes and is not moving between them");
            }
            if (st->owner_stop_ms)
                //  The owner stopped: the stale copy is where it runs
                return s_move_to (st, fx, 0, SF_EV_MIGRATED, node, st->owner_stop_ms, 0,
                                  st->owner_stop_ms, false, NULL);
            return 0;
        }
        if (st->xfer_start_ms) {
            if (strcmp (st->xfer_to, node) == 0)
                return 0;                   //  the transfer we know of
            //  Another target while a transfer is open: that one ends here
            n = s_fx (fx, n, SF_EV_XFER_CLOSE, st->xfer_from, st->xfer_to, t, 0,
                      st->xfer_start_ms, NULL);
            s_xfer_clear (st);
        }
        if (owner_live && !ch->owner_down) {
            //  Within the same second (a takeover right after the start) a
            //  down node the stream never left, whose run was reported
            //  before it went silent, is the one that ran it first
            bool first = order < 0 || (order == 0 && !sf_fleet_state_left (st, node));
            if (first && ch->node_down
            &&  (ch->silent_ms <= 0 || st->owner_since_ms + 1000 >= ch->silent_ms)) {
                //  Out of time order, and the node that ran it first is down:
                //  the later one took it over
                n = s_fx (fx, n, SF_EV_FAILOVER, node, st->owner, st->owner_since_ms, 0, 0,
                          "the node it lived on went down after this node took the stream over");
                s_left_add (st, node);
                return n;
            }
            //  A tie the other facts do not order: the lower node id first
            bool tie_broken = order == 0 && !sf_fleet_state_left (st, node);
            if (tie_broken)
                order = s_start_tie_break (node, st->owner);
            const char *reason = tie_broken ? S_TIE_REASON : "the stream runs on both nodes";
            //  The event of a tie-broken transfer is timed at the later of
            //  the two starts as told (to the ms, or a second's start): the
            //  one taken as second joined no earlier than the first's start
            int64_t later_start = t > st->owner_since_ms ? t : st->owner_since_ms;
            if (order < 0) {
                //  Records arrived out of time order: this node ran the stream
                //  first, and the one we took for the owner joined it later
                //  (or, in the same moment, has the lower node id).
                char later [SF_NODE_MAX + 1];
                s_node_set (later, st->owner);
                int64_t joined = st->owner_since_ms;
                bool joined_exact = st->owner_since_exact;
                s_node_set (st->owner, node);
                st->owner_since_ms = t;
                st->owner_since_exact = ch->at_exact;
                n = s_fx (fx, n, SF_EV_TRANSFER_STARTED, node, later,
                          tie_broken ? later_start : joined, 0, 0, reason);
                n = s_fx (fx, n, SF_EV_XFER_OPEN, node, later, joined, 0, joined, NULL);
                s_node_set (st->xfer_from, node);
                s_node_set (st->xfer_to, later);
                st->xfer_start_ms = joined;
                st->xfer_start_exact = joined_exact;
                return n;
            }
            n = s_fx (fx, n, SF_EV_TRANSFER_STARTED, st->owner, node,
                      tie_broken ? later_start : t, 0, 0, reason);
            n = s_fx (fx, n, SF_EV_XFER_OPEN, st->owner, node, t, 0, t, NULL);
            s_node_set (st->xfer_from, st->owner);
            s_node_set (st->xfer_to, node);
            st->xfer_start_ms = t;
            st->xfer_start_exact = ch->at_exact;
            return n;
        }
        if (owner_live)
            return s_move_to (st, fx, n, SF_EV_FAILOVER, node, t, 0, t, ch->at_exact,
                              "the node it lived on is down; this node took it over");
        if (st->owner_stop_ms && t < st->owner_stop_ms) {
            //  Both ran it: an overlap we learn of after the owner stopped
            int64_t stop = st->owner_stop_ms;
            n = s_fx (fx, n, SF_EV_TRANSFER_STARTED, st->owner, node, t, 0, 0,
                      "the stream runs on both nodes");
            n = s_fx (fx, n, SF_EV_XFER_CLOSE, st->owner, node, stop, 0, t, NULL);
            return s_move_to (st, fx, n, SF_EV_MIGRATED, node, stop, stop - t, t, ch->at_exact,
                              "the old node stopped the stream while the new one ran it");
        }
        if (ch->type == SF_TYPE_SECONDARY)
            return s_move_to (st, fx, n, SF_EV_FAILOVER, node, t, 0, t, ch->at_exact,
                              "the secondary became active after the primary stopped");
        return s_move_to (st, fx, n, SF_EV_MIGRATED, node, t, 0, t, ch->at_exact,
                          "the stream started here after the old node stopped it (no overlap)");
    }
    if (ch->stopped) {
        if (st->conflict [0] && strcmp (st->conflict, node) == 0) {
            s_conflict_clear (st);          //  the stale copy stopped
            return 0;
        }
        if (st->conflict [0] && strcmp (st->owner, node) == 0 && !st->xfer_start_ms) {
            //  The owner stopped while the stale copy runs: it lives there
            char to [SF_NODE_MAX + 1];
            s_node_set (to, st->conflict);
            int64_t since = st->conflict_since_ms;
            bool exact = st->conflict_since_exact;
            s_conflict_clear (st);
            return s_move_to (st, fx, 0, SF_EV_MIGRATED, to, t, t - since, since, exact,
                              "the old node stopped the stream while the new one ran it");
        }
        if (strcmp (st->owner, node) == 0) {
            if (st->xfer_start_ms && strcmp (st->xfer_from, node) == 0) {
                int64_t start = st->xfer_start_ms;
                bool exact = st->xfer_start_exact;
                char to [SF_NODE_MAX + 1];
                s_node_set (to, st->xfer_to);
                n = s_fx (fx, n, SF_EV_XFER_CLOSE, node, to, t, 0, start, NULL);
                s_xfer_clear (st);
                if (ch->target_running)
                    return s_move_to (st, fx, n, SF_EV_MIGRATED, to, t, t - start, start, exact,
                                      "the old node stopped the stream while the new one ran it");
            }
            st->owner_stop_ms = t ? t : 1;
            return n;
        }
        if (st->xfer_start_ms && strcmp (st->xfer_to, node) == 0) {
            //  The target gave up: the transfer ends without a move
            n = s_fx (fx, n, SF_EV_XFER_CLOSE, st->xfer_from, node, t, 0, st->xfer_start_ms, NULL);
            s_xfer_clear (st);
        }
    }
    return n;
}

int
sf_fleet_step (sf_fleet_state_t *st, const sf_fleet_change_t *ch, sf_fleet_event_t *fx)
{
    int n = s_step (st, ch, fx);
    if (!ch->caught_up)
        return n;
    //  Caught up from a peer, not observed: the record is the latest of
    //  several states this controller never saw, so what it seems to tell
    //  (a move from the node the stream lived on when the controller went
    //  away) may never have been. The state follows the record, so that
    //  what is observed next is judged right; the events are the
    //  witnesses', and arrive by the replicated history. The transfer log
    //  is local bookkeeping (stuck is derived from it), and stays.
    int keep = 0;
    for (int i = 0; i < n; i++)
        if (fx [i].kind >= SF_EV_COUNT)
            fx [keep++] = fx [i];
    return keep;
}

uint8_t
sf_fleet_flags (const sf_fleet_state_t *st, const char *node)
{
    uint8_t flags = 0;
    if (st->conflict [0] && (strcmp (node, st->conflict) == 0 || strcmp (node, st->owner) == 0))
        flags |= SF_SUM_CONFLICT;
    if (st->xfer_start_ms && (strcmp (node, st->xfer_from) == 0 || strcmp (node, st->xfer_to) == 0))
        return flags | SF_SUM_TRANSFER;
    if (st->owner [0] && strcmp (node, st->owner) != 0 && sf_fleet_state_left (st, node))
        flags |= SF_SUM_MIGRATED;
    return flags;
}

bool
sf_fleet_stuck (int64_t start_ms, int64_t end_ms, int64_t now_ms, int64_t timeout_s, int64_t *at_ms)
{
    if (start_ms <= 0 || timeout_s <= 0)
        return false;
    int64_t end = end_ms ? end_ms : now_ms;
    if (end - start_ms <= timeout_s * 1000)
        return false;
    *at_ms = start_ms + timeout_s * 1000;
    return true;
}

//  ---------------------------------------------------------------------------
//  Storage of states, events, transfers

#define S_STATE_MAGIC 0x53464631u       //  "SFF1"
//  The state's exact flags, in its last byte
#define S_EXACT_OWNER       1
#define S_EXACT_XFER        2
#define S_EXACT_CONFLICT    4

//  Appends s and its NUL; returns the new length
static size_t
s_append (char *buf, size_t at, const char *s)
{
    size_t len = strlen (s);
    memcpy (buf + at, s, len + 1);
    return at + len + 1;
}

//  Reads a NUL-terminated string of at most cap bytes from p (size left);
//  returns the bytes consumed or 0 when malformed
static size_t
s_take (const char *p, size_t left, char *out, size_t cap)
{
    size_t len = strnlen (p, left);
    if (len >= left || len > cap)
        return 0;
    memcpy (out, p, len + 1);
    return len + 1;
}

static int
s_state_load (sf_read_t *r, const char *uid, sf_fleet_state_t *st)
{
    memset (st, 0, sizeof (*st));
    sf_key_t k;
    sf_val_t v;
    if (sf_key_make (&k, "n", uid) || sf_store_get (r, SF_DB_FLEET_STATE, &k, &v) || v.size < 29)
        return -1;
    const uint8_t *p = v.data;
    if (sf_be64_get (p) >> 32 != S_STATE_MAGIC)
        return -1;
    st->owner_since_ms = (int64_t) sf_be64_get (p + 4);
    st->owner_stop_ms = (int64_t) sf_be64_get (p + 12);
    st->xfer_start_ms = (int64_t) sf_be64_get (p + 20);
    uint32_t nleft = p [28];
    const char *q = (const char *) p + 29;
    size_t left = v.size - 29, used;
    if (nleft > SF_FLEET_LEFT_MAX
    ||  !(used = s_take (q, left, st->owner, SF_NODE_MAX))
    ||  !(used += s_take (q + used, left - used, st->xfer_from, SF_NODE_MAX)) 
    ||  !(used += s_take (q + used, left - used, st->xfer_to, SF_NODE_MAX))) {
        memset (st, 0, sizeof (*st));
        return -1;
    }
    for (uint32_t i = 0; i < nleft; i++) {
        size_t u = used < left ? s_take (q + used, left - used, st->left [i], SF_NODE_MAX) : 0;
        if (!u)
            break;
        used += u;
        st->nleft++;
    }
    //  Since conflicts: be64 since, the stale node (absent in older states)
    if (st->nleft == nleft && left - used > 8) {
        int64_t since = (int64_t) sf_be64_get ((const uint8_t *) q + used);
        size_t u = s_take (q + used + 8, left - used - 8, st->conflict, SF_NODE_MAX);
        if (u) {
            st->conflict_since_ms = since;
            used += 8 + u;
        }
        else
            st->conflict [0] = 0;
    }
    //  Since started_at_ms: one byte of S_EXACT_* bits, last, when any is
    //  set (absent in older states: none is exact). One byte is never
    //  taken for a conflict, which needs more than 8
    if (st->nleft == nleft && left - used == 1) {
        uint8_t exact = ((const uint8_t *) q) [used];
        st->owner_since_exact = exact & S_EXACT_OWNER;
        st->xfer_start_exact = exact & S_EXACT_XFER;
        st->conflict_since_exact = st->conflict [0] && (exact & S_EXACT_CONFLICT);
    }
    return 0;
}

static int
s_state_save (sf_store_t *store, const char *uid, const sf_fleet_state_t *st)
{
    char buf [29 + 8 + (4 + SF_FLEET_LEFT_MAX) * (SF_NODE_MAX + 1) + 1];
    uint8_t *p = (uint8_t *) buf;
    sf_be64_put (p, (uint64_t) S_STATE_MAGIC << 32);
    sf_be64_put (p + 4, (uint64_t) st->owner_since_ms);
    sf_be64_put (p + 12, (uint64_t) st->owner_stop_ms);
    sf_be64_put (p + 20, (uint64_t) st->xfer_start_ms);
    p [28] = (uint8_t) st->nleft;
    size_t at = 29;
    at = s_append (buf, at, st->owner);
    at = s_append (buf, at, st->xfer_from);
    at = s_append (buf, at, st->xfer_to);
    for (uint32_t i = 0; i < st->nleft; i++)
        at = s_append (buf, at, st->left [i]);
    if (st->conflict [0]) {
        sf_be64_put ((uint8_t *) buf + at, (uint64_t) st->conflict_since_ms);
        at = s_append (buf, at + 8, st->conflict);
    }
    uint8_t exact = (st->owner_since_exact ? S_EXACT_OWNER : 0)
                  | (st->xfer_start_exact ? S_EXACT_XFER : 0)
                  | (st->conflict [0] && st->conflict_since_exact ? S_EXACT_CONFLICT : 0);
    if (exact)
        buf [at++] = (char) exact;
    sf_key_t k;
    if (sf_key_make (&k, "n", uid))
        return -1;
    return sf_store_put (store, SF_DB_FLEET_STATE, &k, buf, at);
}

//  The event's identity: be64 at_ms, kind, uid \0 from \0 to. -1 when too long
static int
s_event_kmake (sf_key_t *k, const sf_fleet_event_t *ev)
{
    return sf_key_make (k, "LBssn", (uint64_t) ev->at_ms, (int) ev->kind, ev->uid, ev->from, ev->to);
}

//  The same identity in the per-stream index: uid \0 be64 at_ms, kind, from \0 to
static int
s_byuid_kmake (sf_key_t *k, const sf_fleet_event_t *ev)
{
    return sf_key_make (k, "sLBsn", ev->uid, (uint64_t) ev->at_ms, (int) ev->kind, ev->from, ev->to);
}

//  An identity back from an events key (at, kind, uid, from, to; the rest
//  of ev cleared). 0, or -1 when malformed
static int
s_event_kparse (const sf_val_t *k, sf_fleet_event_t *ev)
{
    memset (ev, 0, sizeof (*ev));
    if (k->size < 9 + 2)
        return -1;
    const char *p = (const char *) k->data + 9;
    size_t left = k->size - 9, used, u;
    if (!(used = s_take (p, left, ev->uid, SF_NAME_MAX))
    ||  !(u = s_take (p + used, left - used, ev->from, SF_NODE_MAX))
    ||  left - used - u > SF_NODE_MAX)
        return -1;
    used += u;
    memcpy (ev->to, p + used, left - used);
    ev->to [left - used] = 0;
    ev->at_ms = (int64_t) sf_be64_get (k->data);
    ev->kind = ((const uint8_t *) k->data) [8];
    return 0;
}

//  The same from a per-stream index key
static int
s_byuid_kparse (const sf_val_t *k, sf_fleet_event_t *ev)
{
    memset (ev, 0, sizeof (*ev));
    const char *p = k->data;
    size_t used = s_take (p, k->size, ev->uid, SF_NAME_MAX), u;
    if (!used || k->size - used < 9 + 1)
        return -1;
    ev->at_ms = (int64_t) sf_be64_get (p + used);
    ev->kind = (uint8_t) p [used + 8];
    used += 9;
    if (!(u = s_take (p + used, k->size - used, ev->from, SF_NODE_MAX))
    ||  k->size - used - u > SF_NODE_MAX)
        return -1;
    used += u;
    memcpy (ev->to, p + used, k->size - used);
    ev->to [k->size - used] = 0;
    return 0;
}

//  The filter index (fleet_byref): an event under each stream reference
//  ('s': its uid, and its name when that differs) and each node ('n': from,
//  and to when that differs), then its events key, so that the events of a
//  stream or a node are in the listing's order under one prefix and a
//  filtered page is a seek too. Returns how many refs (at most 4).
#define S_REFS_MAX 4
typedef struct {
    uint8_t tag;
    const char *ref;
} s_ref_t;

static int
s_refs (const sf_fleet_event_t *ev, s_ref_t *refs)
{
    int n = 0;
    refs [n++] = (s_ref_t) { 's', ev->uid };
    if (ev->stream [0] && strcmp (ev->stream, ev->uid))
        refs [n++] = (s_ref_t) { 's', ev->stream };
    if (ev->from [0])
        refs [n++] = (s_ref_t) { 'n', ev->from };
    if (ev->to [0] && strcmp (ev->to, ev->from))
        refs [n++] = (s_ref_t) { 'n', ev->to };
    return n;
}

static int
s_ref_kmake (sf_key_t *k, uint8_t tag, const char *ref, const sf_key_t *ek)
{
    return sf_key_make (k, "BsD", (int) tag, ref, ek->data, ek->size);
}

//  Puts (or deletes) the event's index entries
static int
s_refs_update (sf_store_t *store, const sf_fleet_event_t *ev, const sf_key_t *ek, bool del)
{
    s_ref_t refs [S_REFS_MAX];
    int n = s_refs (ev, refs);
    for (int i = 0; i < n; i++) {
        sf_key_t k;
        if (s_ref_kmake (&k, refs [i].tag, refs [i].ref, ek))
            return -1;              //  never: at most 1 + 129 + 9 + 129 + 65 + 64 = 397 bytes
        if (del ? sf_store_del (store, SF_DB_FLEET_BYREF, &k) < 0
                : sf_store_put (store, SF_DB_FLEET_BYREF, &k, "", 0))
            return -1;
    }
    return 0;
}

//  The index is complete (every event in it): set on the first event of an
//  empty history, or once prune has indexed an older database
#define S_BYREF_KEY "\x02byref-complete"

static bool
s_byref_complete (sf_read_t *r)
{
    sf_key_t k;
    sf_val_t v;
    return sf_key_make (&k, "n", S_BYREF_KEY) == 0 && sf_store_get (r, SF_DB_FLEET_STATE, &k, &v) == 0;
}

static int
s_byref_mark (sf_store_t *store)
{
    sf_key_t k;
    if (sf_key_make (&k, "n", S_BYREF_KEY))
        return -1;
    return sf_store_put (store, SF_DB_FLEET_STATE, &k, "", 0);
}

static void
s_event_pack (msgpack_packer *pk, const sf_fleet_event_t *ev)
{
    msgpack_pack_map (pk, 8);
    sf_pack_kstr (pk, "stream", ev->stream);
    sf_pack_kstr (pk, "uid", ev->uid);
    sf_pack_kstr (pk, "from", ev->from);
    sf_pack_kstr (pk, "to", ev->to);
    sf_pack_kstr (pk, "kind", sf_event_kind_name (ev->kind));
    sf_pack_ki64 (pk, "at_ms", ev->at_ms);
    sf_pack_ki64 (pk, "duration_ms", ev->duration_ms);
    sf_pack_kstr (pk, "reason", ev->reason);
}

static int
s_event_unpack_obj (const msgpack_object *o, sf_fleet_event_t *ev)
{
    memset (ev, 0, sizeof (*ev));
    char kind [32] = "";
    if (o->type != MSGPACK_OBJECT_MAP || sf_map_str (o, "kind", kind, sizeof (kind) - 1, NULL)
    ||  sf_event_kind_parse (kind) < 0)
        return -1;
    ev->kind = (uint8_t) sf_event_kind_parse (kind);
    if (sf_map_str (o, "stream", ev->stream, SF_NAME_MAX, NULL) < 0
    ||  sf_map_str (o, "uid", ev->uid, SF_NAME_MAX, NULL) < 0
    ||  sf_map_str (o, "from", ev->from, SF_NODE_MAX, NULL) < 0
    ||  sf_map_str (o, "to", ev->to, SF_NODE_MAX, NULL) < 0
    ||  sf_map_i64 (o, "at_ms", &ev->at_ms, NULL) < 0
    ||  sf_map_i64 (o, "duration_ms", &ev->duration_ms, NULL) < 0
    ||  sf_map_str (o, "reason", ev->reason, sizeof (ev->reason) - 1, NULL) < 0)
        return -1;
    return 0;
}

static int
s_event_unpack (const void *data, size_t size, sf_fleet_event_t *ev)
{
    memset (ev, 0, sizeof (*ev));
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    int rc = -1;
    char kind [32] = "";
    if (msgpack_unpack_next (&u, data, size, &off) == MSGPACK_UNPACK_SUCCESS
    &&  u.data.type == MSGPACK_OBJECT_MAP
    &&  sf_map_str (&u.data, "kind", kind, sizeof (kind) - 1, NULL) == 0
    &&  sf_event_kind_parse (kind) >= 0) {
        ev->kind = (uint8_t) sf_event_kind_parse (kind);
        sf_map_str (&u.data, "stream", ev->stream, SF_NAME_MAX, NULL);
        sf_map_str (&u.data, "uid", ev->uid, SF_NAME_MAX, NULL);
        sf_map_str (&u.data, "from", ev->from, SF_NODE_MAX, NULL);
        sf_map_str (&u.data, "to", ev->to, SF_NODE_MAX, NULL);
        sf_map_i64 (&u.data, "at_ms", &ev->at_ms, NULL);
        sf_map_i64 (&u.data, "duration_ms", &ev->duration_ms, NULL);
        sf_map_str (&u.data, "reason", ev->reason, sizeof (ev->reason) - 1, NULL);
        rc = 0;
    }
    msgpack_unpacked_destroy (&u);
    return rc;
}

//  ---------------------------------------------------------------------------
//  The replicated history (sf_fleet.h): a grow-only set of events under
//  their identities, within a retention window and a bound per stream,
//  reconciled by digest: per hour of at_ms the count and the XOR of the
//  keys' hashes. Peers send each other the events of the hours that differ.
//
//  Retention is a property of the set, kept on every insert (local or from
//  a peer): an event older than the window is not stored, and a stream
//  holds its newest per-stream bound, by identity order, so an event older
//  than a full stream's oldest is refused. Then what one controller pruned
//  never comes back from a peer that has not pruned yet, and every
//  controller ends with the newest `bound` of the union: the same set. A
//  sweep (sf_fleet_history_prune) drops what the moving window leaves
//  behind; listings never show it in between.

#define S_HOUR_MS 3600000LL
#define S_DIGEST_MAX 2048           //  hours in a digest (85 days)

static int64_t s_history_days = 30;
static uint32_t s_history_per_stream = 1000;
static bool s_history_bound_due = true;     //  a full pass of the bound (start, new bound)
static int64_t (*s_clock) (void) = sf_now_ms;

typedef struct {
    int64_t hour;
    uint64_t count;
    uint64_t hash;
} s_bucket_t;

static int s_gen_bump (sf_store_t *store);

static s_bucket_t s_digest [S_DIGEST_MAX];
static size_t s_ndigest;
static int64_t s_digest_ms = -1;    //  when computed (monotonic)
static uint64_t s_offer_round;
//  The same restricted to a peer's smaller bounds (the last asked for)
static s_bucket_t s_rdigest [S_DIGEST_MAX];
static size_t s_nrdigest;
static int64_t s_rdigest_ms = -1;
static int64_t s_rdigest_days;
static uint32_t s_rdigest_per;

void
sf_fleet_set_history (int64_t days, uint32_t per_stream)
{
    s_history_days = days > 0 ? days : 30;
    s_history_per_stream = per_stream ? per_stream : 1000;
    s_history_dirty = s_rdigest_dirty = true;
    s_history_bound_due = true;
    s_digest_ms = s_rdigest_ms = -1;        //  computed afresh (tests switch stores)
}

void
sf_fleet_set_clock (int64_t (*now_ms) (void))
{
    s_clock = now_ms ? now_ms : sf_now_ms;
    s_history_dirty = s_rdigest_dirty = true;
}

static int64_t
s_history_horizon (void)
{
    return s_clock () - s_history_days * 24 * S_HOUR_MS;
}

//  A key copied out of the map (for deleting after a scan)
typedef struct {
    sf_key_t *items;
    size_t count, cap;
} s_keys_t;

static void
s_keys_add (s_keys_t *l, const sf_val_t *k)
{
    if (k->size > SF_KEY_MAX)
        return;
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = sf_xreallocarray (l->items, l->cap, sizeof (*l->items));
    }
    l->items [l->count].size = k->size;
    memcpy (l->items [l->count].data, k->data, k->size);
    l->count++;
}

//  The oldest of a stream's events in the index, and how many it has
typedef struct {
    size_t count;
    sf_key_t oldest;
} s_uidcount_t;

static int
s_uidcount_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_uidcount_t *c = arg;
    if (c->count++ == 0 && k->size <= SF_KEY_MAX) {
        c->oldest.size = k->size;
        memcpy (c->oldest.data, k->data, k->size);
    }
    return 0;
}

static int
s_key_cmp (const sf_key_t *a, const sf_key_t *b)
{
    size_t n = a->size < b->size ? a->size : b->size;
    int c = memcmp (a->data, b->data, n);
    return c ? c : a->size < b->size ? -1 : a->size > b->size;
}

static int s_event_unpack (const void *data, size_t size, sf_fleet_event_t *ev);

//  Deletes one event (its key and its index entries) by its identity
static int
s_event_del (sf_store_t *store, const sf_fleet_event_t *id)
{
    sf_key_t ek, uk;
    sf_read_t w;
    sf_val_t v;
    if (s_event_kmake (&ek, id) || s_byuid_kmake (&uk, id) || sf_store_write_view (store, &w))
        return 0;
    //  The stream's name, for its index entry, is in the value
    sf_fleet_event_t full = *id;
    if (sf_store_get (&w, SF_DB_FLEET_EVENTS, &ek, &v) == 0 && s_event_unpack (v.data, v.size, &full) == 0) {
        full.at_ms = id->at_ms;
        full.kind = id->kind;
        memcpy (full.uid, id->uid, sizeof (full.uid));
        memcpy (full.from, id->from, sizeof (full.from));
        memcpy (full.to, id->to, sizeof (full.to));
    }
    if (sf_store_del (store, SF_DB_FLEET_EVENTS, &ek) < 0 || sf_store_del (store, SF_DB_FLEET_BYUID, &uk) < 0
    ||  s_refs_update (store, &full, &ek, true) || s_gen_bump (store))
        return -1;
    s_history_dirty = s_rdigest_dirty = true;
    return 0;
}

int
sf_fleet_event_put (sf_store_t *store, const sf_fleet_event_t *ev)
{
    sf_read_t w;
    if (sf_store_write_view (store, &w) || ev->kind >= SF_EV_COUNT || ev->kind == SF_EV_TRANSFER_STUCK)
        return -1;
    sf_key_t ek, uk;
    if (s_event_kmake (&ek, ev) || s_byuid_kmake (&uk, ev))
        return -1;
    sf_val_t v;
    //  A grow-only set: an event already there stays as it is
    if (sf_store_get (&w, SF_DB_FLEET_EVENTS, &ek, &v) == 0)
        return 1;
    if (ev->at_ms < s_history_horizon ())
        return 1;                   //  outside the window: not kept anywhere
    sf_key_t prefix;
    sf_key_make (&prefix, "s", ev->uid);
    s_uidcount_t c = { 0 };
    sf_store_foreach (&w, SF_DB_FLEET_BYUID, &prefix, 0, s_uidcount_one, &c);
    if (c.count >= s_history_per_stream) {
        //  Full: the newest `bound` stay. Older than all of them: refused
        if (s_key_cmp (&uk, &c.oldest) < 0)
            return 1;
        sf_fleet_event_t old;
        sf_val_t ok = { c.oldest.data, c.oldest.size };
        if (s_byuid_kparse (&ok, &old) == 0 && s_event_del (store, &old))
            return -1;
    }
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    s_event_pack (&pk, ev);
    //  An empty history is completely indexed from its first event on
    size_t nev = 1;
    if (!s_byref_complete (&w) && sf_store_count (&w, SF_DB_FLEET_EVENTS, &nev) == 0 && nev == 0
    &&  s_byref_mark (store))
        return -1;
    int rc = sf_store_add (store, SF_DB_FLEET_EVENTS, &ek, sb.data, sb.size);
    msgpack_sbuffer_destroy (&sb);
    if (rc < 0 || sf_store_put (store, SF_DB_FLEET_BYUID, &uk, "", 0) || s_refs_update (store, ev, &ek, false)
    ||  s_gen_bump (store))
        return -1;
    s_history_dirty = s_rdigest_dirty = true;
    return 0;
}

static uint64_t
s_key_hash (const void *data, size_t size)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ ((const uint8_t *) data) [i]) * 1099511628211ULL;
    return h;
}

static int
s_digest_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    if (k->size < 9)
        return 0;
    int64_t hour = (int64_t) sf_be64_get (k->data) / S_HOUR_MS;
    if (!s_ndigest || s_digest [s_ndigest - 1].hour != hour) {
        if (s_ndigest == S_DIGEST_MAX)
            return 1;
        s_digest [s_ndigest++] = (s_bucket_t) { hour, 0, 0 };
    }
    s_digest [s_ndigest - 1].count++;
    s_digest [s_ndigest - 1].hash ^= s_key_hash (k->data, k->size);
    return 0;
}

static void
s_digest_compute (sf_store_t *store)
{
    s_ndigest = 0;
    sf_read_t r;
    if (sf_store_read_begin (store, &r))
        return;
    int64_t horizon = s_history_horizon ();
    sf_key_t from;
    sf_key_make (&from, "L", (uint64_t) (horizon > 0 ? horizon : 0));
    sf_store_foreach_from (&r, SF_DB_FLEET_EVENTS, NULL, &from, s_digest_one, NULL);
    sf_store_read_end (&r);
    s_history_dirty = false;
    s_digest_ms = sf_mono_ms ();
}

void
sf_fleet_history_digest (sf_store_t *store, msgpack_packer *pk)
{
    int64_t now = sf_mono_ms ();
    if (s_digest_ms < 0 || (s_history_dirty && now - s_digest_ms >= 200) || now - s_digest_ms >= 5000)
        s_digest_compute (store);
    //  The buckets, then this side's bounds [days, per_stream], so that a
    //  peer with larger ones compares over what both keep (a reader that
    //  does not know the pair skips it: it is no [hour, count, hash])
    msgpack_pack_array (pk, s_ndigest + 1);
    for (size_t i = 0; i < s_ndigest; i++) {
        msgpack_pack_array (pk, 3);
        msgpack_pack_int64 (pk, s_digest [i].hour);
        msgpack_pack_uint64 (pk, s_digest [i].count);
        msgpack_pack_uint64 (pk, s_digest [i].hash);
    }
    msgpack_pack_array (pk, 2);
    msgpack_pack_int64 (pk, s_history_days);
    msgpack_pack_uint64 (pk, s_history_per_stream);
}

//  The bounds a peer's digest names (its [days, per_stream]), or ours
static void
s_their_bounds (const msgpack_object *theirs, int64_t *days, uint32_t *per)
{
    *days = s_history_days;
    *per = s_history_per_stream;
    if (!theirs || theirs->type != MSGPACK_OBJECT_ARRAY)
        return;
    for (uint32_t i = 0; i < theirs->via.array.size; i++) {
        const msgpack_object *e = &theirs->via.array.ptr [i];
        if (e->type == MSGPACK_OBJECT_ARRAY && e->via.array.size == 2
        &&  e->via.array.ptr [0].type == MSGPACK_OBJECT_POSITIVE_INTEGER
        &&  e->via.array.ptr [1].type == MSGPACK_OBJECT_POSITIVE_INTEGER
        &&  e->via.array.ptr [0].via.u64 > 0 && e->via.array.ptr [1].via.u64 > 0) {
            if ((int64_t) e->via.array.ptr [0].via.u64 < *days)
                *days = (int64_t) e->via.array.ptr [0].via.u64;
            if (e->via.array.ptr [1].via.u64 < *per)
                *per = (uint32_t) e->via.array.ptr [1].via.u64;
            return;
        }
    }
}

//  Adds an event's key hash to the bucket of its hour (buckets by hour)
static void
s_bucket_add (s_bucket_t *b, size_t *n, int64_t hour, uint64_t hash)
{
    size_t lo = 0, hi = *n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (b [mid].hour < hour)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == *n || b [lo].hour != hour) {
        if (*n == S_DIGEST_MAX)
            return;
        memmove (&b [lo + 1], &b [lo], (*n - lo) * sizeof (*b));
        b [lo] = (s_bucket_t) { hour, 0, 0 };
        (*n)++;
    }
    b [lo].count++;
    b [lo].hash ^= hash;
}

//  The restricted digest: per stream its newest `per` events (the
//  per-stream index, in time order per stream), from the horizon of `days`
typedef struct {
    int64_t horizon;
    uint32_t per;
    char uid [SF_NAME_MAX + 1];
    s_keys_t run;                   //  the current stream's index keys, oldest first
} s_rwalk_t;

static void
s_rwalk_flush (s_rwalk_t *w)
{
    size_t first = w->run.count > w->per ? w->run.count - w->per : 0;
    for (size_t i = first; i < w->run.count; i++) {
        sf_fleet_event_t id;
        sf_key_t ek;
        sf_val_t k = { w->run.items [i].data, w->run.items [i].size };
        if (s_byuid_kparse (&k, &id) || id.at_ms < w->horizon || s_event_kmake (&ek, &id))
            continue;
        s_bucket_add (s_rdigest, &s_nrdigest, id.at_ms / S_HOUR_MS, s_key_hash (ek.data, ek.size));
    }
    w->run.count = 0;
}

static int
s_rwalk_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_rwalk_t *w = arg;
    size_t len = strnlen (k->data, k->size);
    if (len > SF_NAME_MAX || len >= k->size)
        return 0;
    if (strncmp (w->uid, k->data, len) != 0 || w->uid [len] != 0) {
        s_rwalk_flush (w);
        memcpy (w->uid, k->data, len);
        w->uid [len] = 0;
    }
    s_keys_add (&w->run, k);
    return 0;
}

static void
s_rdigest_get (sf_store_t *store, int64_t days, uint32_t per)
{
    int64_t now = sf_mono_ms ();
    if (s_rdigest_ms >= 0 && s_rdigest_days == days && s_rdigest_per == per
    &&  !(s_rdigest_dirty && now - s_rdigest_ms >= 200) && now - s_rdigest_ms < 5000)
        return;
    s_nrdigest = 0;
    sf_read_t r;
    if (sf_store_read_begin (store, &r))
        return;
    s_rwalk_t w = { s_clock () - days * 24 * S_HOUR_MS, per, "", { 0 } };
    sf_store_foreach (&r, SF_DB_FLEET_BYUID, NULL, 0, s_rwalk_one, &w);
    s_rwalk_flush (&w);
    free (w.run.items);
    sf_store_read_end (&r);
    s_rdigest_days = days;
    s_rdigest_per = per;
    s_rdigest_dirty = false;
    s_rdigest_ms = now;
}

//  Whether the event under key k is among the newest per of its stream
typedef struct {
    sf_key_t uk;
    uint32_t per, count;
    bool found;
} s_newest_t;

static int
s_newest_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_newest_t *n = arg;
    if (++n->count > n->per)
        return 1;
    if (k->size == n->uk.size && memcmp (k->data, n->uk.data, k->size) == 0) {
        n->found = true;
        return 1;
    }
    return 0;
}

static bool
s_within_bound (sf_read_t *r, const sf_val_t *k, uint32_t per)
{
    sf_fleet_event_t id;
    sf_key_t prefix;
    s_newest_t n = { .per = per };
    if (s_event_kparse (k, &id) || s_byuid_kmake (&n.uk, &id) || sf_key_make (&prefix, "s", id.uid))
        return false;
    sf_store_foreach (r, SF_DB_FLEET_BYUID, &prefix, SF_SCAN_BACKWARDS, s_newest_one, &n);
    return n.found;
}

//  Whether their digest holds the same hour as ours
static bool
s_bucket_same (const msgpack_object *theirs, const s_bucket_t *b)
{
    if (!theirs || theirs->type != MSGPACK_OBJECT_ARRAY)
        return false;
    for (uint32_t i = 0; i < theirs->via.array.size; i++) {
        const msgpack_object *e = &theirs->via.array.ptr [i];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3
        ||  e->via.array.ptr [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        ||  e->via.array.ptr [2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            continue;
        const msgpack_object *h = &e->via.array.ptr [0];
        int64_t hour = h->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t) h->via.u64
                     : h->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ? h->via.i64 : -1;
        if (hour == b->hour)
            return e->via.array.ptr [1].via.u64 == b->count && e->via.array.ptr [2].via.u64 == b->hash;
    }
    return false;
}

typedef struct {
    int64_t hour;
    size_t skip, max, max_msgs;
    size_t seen, n, msgs, sent;     //  events walked, in the open message, messages out, offered
    msgpack_sbuffer body;           //  the open message's events
    sf_fleet_offer_fn *fn;
    void *arg;
    sf_read_t *r;
    bool restricted;                //  to the receiver's smaller bounds:
    int64_t horizon;                //  its window
    uint32_t per;                   //  and its bound per stream
} s_offer_t;

//  Hands the open message's events to the caller (an array of them)
static void
s_offer_flush (s_offer_t *o)
{
    if (!o->n)
        return;
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    msgpack_packer opk;
    msgpack_packer_init (&opk, &out, msgpack_sbuffer_write);
    msgpack_pack_array (&opk, o->n);
    msgpack_sbuffer_write (&out, o->body.data, o->body.size);
    o->fn (&out, o->n, o->arg);
    msgpack_sbuffer_destroy (&out);
    msgpack_sbuffer_clear (&o->body);
    o->sent += o->n;
    o->n = 0;
    o->msgs++;
}

static int
s_offer_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_offer_t *o = arg;
    if (k->size < 9 || (int64_t) sf_be64_get (k->data) / S_HOUR_MS != o->hour)
        return 1;
    if (o->restricted && ((int64_t) sf_be64_get (k->data) < o->horizon || !s_within_bound (o->r, k, o->per)))
        return 0;                   //  the receiver keeps no such event: never offered
    if (o->seen++ >= o->skip) {
        msgpack_sbuffer_write (&o->body, v->data, v->size);
        if (++o->n >= o->max)
            s_offer_flush (o);
        if (o->msgs >= o->max_msgs)
            return 1;
    }
    return 0;
}

size_t
sf_fleet_history_offer_each (sf_store_t *store, const msgpack_object *theirs, size_t max,
                             size_t max_msgs, sf_fleet_offer_fn *fn, void *arg, bool *more)
{
    *more = false;
    if (!max || !max_msgs)
        return 0;
    if (s_digest_ms < 0)
        s_digest_compute (store);
    //  A receiver with a smaller window or bound per stream keeps less than
    //  we do: compare over what both keep, and offer only that, or the
    //  hours would differ for ever and every round offer what it refuses
    int64_t days;
    uint32_t per;
    s_their_bounds (theirs, &days, &per);
    bool restricted = days < s_history_days || per < s_history_per_stream;
    const s_bucket_t *digest = s_digest;
    size_t ndigest = s_ndigest;
    if (restricted) {
        s_rdigest_get (store, days, per);
        digest = s_rdigest;
        ndigest = s_nrdigest;
    }
    //  The hours that differ, and how many events they hold
    size_t want = 0;
    for (size_t i = 0; i < ndigest; i++)
        if (!s_bucket_same (theirs, &digest [i]))
            want += digest [i].count;
    if (!want)
        return 0;
    sf_read_t r;
    if (sf_store_read_begin (store, &r))
        return 0;
    //  More than fit: a rotating window, so that rounds cover them all
    size_t fit = max_msgs > SIZE_MAX / max ? SIZE_MAX : max * max_msgs;
    s_offer_t o = { .skip = want > fit ? (size_t) (s_offer_round++ * fit) % want : 0,
                    .max = max, .max_msgs = max_msgs, .fn = fn, .arg = arg, .r = &r,
                    .restricted = restricted, .horizon = s_clock () - days * 24 * S_HOUR_MS,
                    .per = per };
    msgpack_sbuffer_init (&o.body);
    for (size_t i = 0; i < ndigest && o.msgs < max_msgs; i++) {
        if (s_bucket_same (theirs, &digest [i]))
            continue;
        sf_key_t from;
        sf_key_make (&from, "L", (uint64_t) (digest [i].hour * S_HOUR_MS));
        o.hour = digest [i].hour;
        sf_store_foreach_from (&r, SF_DB_FLEET_EVENTS, NULL, &from, s_offer_one, &o);
    }
    s_offer_flush (&o);
    sf_store_read_end (&r);
    msgpack_sbuffer_destroy (&o.body);
    //  Not every event of the hours that differ went: the peer's history
    //  is still short of ours after this round
    *more = o.sent < want;
    return o.msgs;
}

//  One message's events into out
typedef struct {
    msgpack_sbuffer *out;
    size_t count;
} s_offer_into_t;

static void
s_offer_into (const msgpack_sbuffer *events, size_t count, void *arg)
{
    s_offer_into_t *i = arg;
    msgpack_sbuffer_write (i->out, events->data, events->size);
    i->count = count;
}

size_t
sf_fleet_history_offer (sf_store_t *store, const msgpack_object *theirs, size_t max,
                        msgpack_sbuffer *out)
{
    bool more;
    s_offer_into_t i = { out, 0 };
    sf_fleet_history_offer_each (store, theirs, max, 1, s_offer_into, &i, &more);
    return i.count;
}

static int s_derive (sf_store_t *store, const char *uid, const char *name, sf_fleet_change_t *ch);
static int s_state_load (sf_read_t *r, const char *uid, sf_fleet_state_t *st);
static int s_peer_move (sf_store_t *store, const sf_fleet_event_t *ev);

int
sf_fleet_history_apply (sf_store_t *store, const msgpack_object *events, size_t *added)
{
    *added = 0;
    if (!events || events->type != MSGPACK_OBJECT_ARRAY)
        return -1;
    int64_t future = s_clock () + 24 * S_HOUR_MS;
    int bad = 0;
    for (uint32_t i = 0; i < events->via.array.size; i++) {
        sf_fleet_event_t ev;
        if (s_event_unpack_obj (&events->via.array.ptr [i], &ev) || ev.kind == SF_EV_TRANSFER_STUCK
        ||  !ev.uid [0] || ev.at_ms <= 0 || ev.at_ms > future) {
            bad++;
            continue;
        }
        //  Stored once; refused when outside the window or the stream's bound
        int rc = sf_fleet_event_put (store, &ev);
        if (rc < 0)
            return -1;
        if (rc == 1)
            continue;
        (*added)++;
        //  A failover a peer derived (it saw the old node die) for a takeover
        //  this controller still holds as an open transfer is that fact too
        if (ev.kind == SF_EV_FAILOVER) {
            sf_fleet_state_t st;
            sf_read_t w;
            //  (or, for a transfer the tie-break of two starts in one
            //  second directed, the failover of its target to its source,
            //  timed at the source's start: the target died)
            if (sf_store_write_view (store, &w) == 0 && s_state_load (&w, ev.uid, &st) == 0
            &&  ((st.xfer_start_ms == ev.at_ms
                  && strcmp (st.xfer_from, ev.from) == 0 && strcmp (st.xfer_to, ev.to) == 0)
            ||   (st.xfer_start_ms && st.owner_since_ms == ev.at_ms
                  && strcmp (st.xfer_to, ev.from) == 0 && strcmp (st.xfer_from, ev.to) == 0))) {
                sf_fleet_change_t ch = { .node = ev.from, .down = true, .node_down = true,
                                         .silent_ms = -1 };     //  the peer judged it
                if (s_derive (store, ev.uid, ev.stream, &ch))
                    return -1;
            }
        }
        if (s_peer_move (store, &ev))
            return -1;
    }
    return bad;
}

//  Keys before the horizon, in time order
typedef struct {
    int64_t horizon;
    s_keys_t keys;
} s_expired_t;

static int
s_expired_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_expired_t *e = arg;
    if (k->size >= 8 && (int64_t) sf_be64_get (k->data) >= e->horizon)
        return 1;
    s_keys_add (&e->keys, k);
    return 0;
}

//  Transfers that started before the horizon
static int
s_expired_transfer (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    return s_expired_one (k, v, arg);
}

//  Every index entry, for the bound's full pass: per stream, the oldest
//  beyond the bound; and index entries without their event
typedef struct {
    sf_read_t *w;
    char uid [SF_NAME_MAX + 1];
    s_keys_t run;                   //  the current stream's index keys, oldest first
    s_keys_t drop;                  //  index keys to delete with their events
} s_bound_t;

static void
s_bound_flush (s_bound_t *b)
{
    if (b->run.count > s_history_per_stream)
        for (size_t i = 0; i < b->run.count - s_history_per_stream; i++) {
            sf_val_t k = { b->run.items [i].data, b->run.items [i].size };
            s_keys_add (&b->drop, &k);
        }
    b->run.count = 0;
}

static int
s_bound_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_bound_t *b = arg;
    sf_fleet_event_t id;
    sf_key_t ek;
    sf_val_t ev;
    if (s_byuid_kparse (k, &id) || s_event_kmake (&ek, &id)
    ||  sf_store_get (b->w, SF_DB_FLEET_EVENTS, &ek, &ev) != 0) {
        s_keys_add (&b->drop, k);       //  an entry without its event
        return 0;
    }
    if (strcmp (id.uid, b->uid) != 0) {
        s_bound_flush (b);
        snprintf (b->uid, sizeof (b->uid), "%s", id.uid);
    }
    s_keys_add (&b->run, k);
    return 0;
}

//  Every event into the index (a database from before the index, or one
//  an older version wrote)
static int
s_index_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    sf_fleet_event_t id;
    sf_key_t uk;
    if (s_event_kparse (k, &id) == 0 && s_byuid_kmake (&uk, &id) == 0)
        s_keys_add (arg, &(sf_val_t) { uk.data, uk.size });
    return 0;
}

//  An event's filter index entries (for a database from before the index)
static int
s_byref_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    sf_fleet_event_t ev;
    if (k->size > SF_KEY_MAX || s_event_kparse (k, &ev))
        return 0;
    sf_fleet_event_t full;
    if (s_event_unpack (v->data, v->size, &full) == 0)
        memcpy (ev.stream, full.stream, sizeof (ev.stream));
    sf_key_t ek = { .size = k->size };
    memcpy (ek.data, k->data, k->size);
    s_ref_t refs [S_REFS_MAX];
    int n = s_refs (&ev, refs);
    for (int i = 0; i < n; i++) {
        sf_key_t rk;
        if (s_ref_kmake (&rk, refs [i].tag, refs [i].ref, &ek) == 0)
            s_keys_add (arg, &(sf_val_t) { rk.data, rk.size });
    }
    return 0;
}

int
sf_fleet_history_prune (sf_store_t *store)
{
    sf_read_t w;
    if (sf_store_write_view (store, &w))
        return -1;
    int gone = 0;
    //  The window: events (and transfers) before the horizon, in time order
    s_expired_t e = { s_history_horizon (), { 0 } };
    sf_store_foreach (&w, SF_DB_FLEET_EVENTS, NULL, 0, s_expired_one, &e);
    for (size_t i = 0; i < e.keys.count; i++) {
        sf_fleet_event_t id;
        sf_val_t k = { e.keys.items [i].data, e.keys.items [i].size };
        if (s_event_kparse (&k, &id) == 0) {
            if (s_event_del (store, &id))
                goto failed;
        }
        else if (sf_store_del (store, SF_DB_FLEET_EVENTS, &e.keys.items [i]) < 0)
            goto failed;
        gone++;
    }
    e.keys.count = 0;
    sf_store_foreach (&w, SF_DB_FLEET_TRANSFERS, NULL, 0, s_expired_transfer, &e);
    for (size_t i = 0; i < e.keys.count; i++)
        if (sf_store_del (store, SF_DB_FLEET_TRANSFERS, &e.keys.items [i]) < 0)
            goto failed;
    //  The filter index of a database from before it: every event, once
    if (!s_byref_complete (&w)) {
        s_keys_t add = { 0 };
        sf_store_foreach (&w, SF_DB_FLEET_EVENTS, NULL, 0, s_byref_one, &add);
        for (size_t i = 0; i < add.count; i++)
            if (sf_store_put (store, SF_DB_FLEET_BYREF, &add.items [i], "", 0)) {
                free (add.items);
                goto failed;
            }
        free (add.items);
        if (s_byref_mark (store))
            goto failed;
    }
    //  The bound, over every stream: at start and when it changed
    if (s_history_bound_due) {
        size_t nev = 0, nidx = 0;
        sf_store_count (&w, SF_DB_FLEET_EVENTS, &nev);
        sf_store_count (&w, SF_DB_FLEET_BYUID, &nidx);
        if (nev != nidx) {
            s_keys_t add = { 0 };
            sf_store_foreach (&w, SF_DB_FLEET_EVENTS, NULL, 0, s_index_one, &add);
            for (size_t i = 0; i < add.count; i++)
                if (sf_store_put (store, SF_DB_FLEET_BYUID, &add.items [i], "", 0)) {
                    free (add.items);
                    goto failed;
                }
            free (add.items);
        }
        s_bound_t b = { &w, "", { 0 }, { 0 } };
        sf_store_foreach (&w, SF_DB_FLEET_BYUID, NULL, 0, s_bound_one, &b);
        s_bound_flush (&b);
        int rc = 0;
        for (size_t i = 0; i < b.drop.count && rc == 0; i++) {
            sf_fleet_event_t id;
            sf_val_t k = { b.drop.items [i].data, b.drop.items [i].size };
            if (s_byuid_kparse (&k, &id) == 0)
                rc = s_event_del (store, &id);
            else
                rc = sf_store_del (store, SF_DB_FLEET_BYUID, &b.drop.items [i]) < 0 ? -1 : 0;
            gone++;
        }
        free (b.run.items);
        free (b.drop.items);
        if (rc)
            goto failed;
        s_history_bound_due = false;
    }
    free (e.keys.items);
    if (gone)
        s_history_dirty = s_rdigest_dirty = true;
    if ((gone || e.keys.count) && s_gen_bump (store))
        return -1;
    return gone;
failed:
    free (e.keys.items);
    return -1;
}

//  The transfer log: key be64 start, uid \0 from \0 to; value be64 end, name
static int
s_transfer_put (sf_store_t *store, const sf_fleet_event_t *fx)
{
    sf_key_t k;
    if (sf_key_make (&k, "Lssn", (uint64_t) fx->start_ms, fx->uid, fx->from, fx->to))
        return -1;
    char val [8 + SF_NAME_MAX + 1];
    sf_be64_put (val, (uint64_t) (fx->kind == SF_EV_XFER_CLOSE ? fx->at_ms : 0));
    size_t vlen = s_append (val, 8, fx->stream);
    if (s_gen_bump (store))
        return -1;
    //  An open entry never overwrites a closed one (a late duplicate)
    if (fx->kind == SF_EV_XFER_OPEN)
        return sf_store_add (store, SF_DB_FLEET_TRANSFERS, &k, val, vlen) < 0 ? -1 : 0;
    return sf_store_put (store, SF_DB_FLEET_TRANSFERS, &k, val, vlen);
}

//  ---------------------------------------------------------------------------
//  The uid index: uid \0 node \0 name -> (empty), and in the same database
//  the reverse entry \x01 node \0 name \0 -> uid (a name or uid never
//  starts with a control character)

static int
s_uid_of (sf_read_t *r, const char *node, const char *name, char *uid)
{
    sf_key_t k;
    sf_val_t v;
    if (sf_key_make (&k, "Bss", 1, node, name) || sf_store_get (r, SF_DB_FLEET_UIDS, &k, &v)
    ||  v.size > SF_NAME_MAX)
        return -1;
    memcpy (uid, v.data, v.size);
    uid [v.size] = 0;
    return 0;
}

static int
s_uid_set (sf_store_t *store, const char *node, const char *name, const char *uid)
{
    sf_key_t k;
    if (sf_key_make (&k, "Bss", 1, node, name))
        return -1;
    return sf_store_put (store, SF_DB_FLEET_UIDS, &k, uid, strlen (uid));
}

//  Adds (uid, node, name) to the index: 0, or -1
static int
s_uid_add (sf_store_t *store, const char *uid, const char *node, const char *name)
{
    sf_key_t k;
    if (sf_key_make (&k, "ssn", uid, node, name))
        return -1;
    return sf_store_add (store, SF_DB_FLEET_UIDS, &k, "", 0) < 0 ? -1 : 0;
}

//  Removes (uid, node, name) and, with rev, node/name's reverse entry
static void
s_uid_drop (sf_store_t *store, const char *uid, const char *node, const char *name, bool rev)
{
    sf_key_t k;
    if (sf_key_make (&k, "ssn", uid, node, name) == 0)
        sf_store_del (store, SF_DB_FLEET_UIDS, &k);
    if (rev && sf_key_make (&k, "Bss", 1, node, name) == 0)
        sf_store_del (store, SF_DB_FLEET_UIDS, &k);
}

typedef int (s_uid_fn) (const char *node, const char *name, void *arg);

typedef struct {
    size_t skip;                    //  the prefix's uid \0
    s_uid_fn *fn;
    void *arg;
} s_uidwalk_t;

static int
s_uid_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_uidwalk_t *w = arg;
    const char *p = (const char *) k->data + w->skip;
    size_t left = k->size - w->skip;
    size_t nlen = strnlen (p, left);
    if (nlen >= left || nlen > SF_NODE_MAX || left - nlen - 1 > SF_NAME_MAX)
        return 0;
    char n [SF_NODE_MAX + 1], name [SF_NAME_MAX + 1];
    memcpy (n, p, nlen);
    n [nlen] = 0;
    size_t mlen = left - nlen - 1;
    memcpy (name, p + nlen + 1, mlen);
    name [mlen] = 0;
    return w->fn (n, name, w->arg);
}

//  Every (node, name) indexed under uid, or only node's when node is set
static int
s_uid_scan (sf_read_t *r, const char *uid, const char *node, s_uid_fn *fn, void *arg)
{
    sf_key_t prefix;
    if (node ? sf_key_make (&prefix, "ss", uid, node) : sf_key_make (&prefix, "s", uid))
        return -1;
    s_uidwalk_t w = { strlen (uid) + 1, fn, arg };
    return sf_store_foreach (r, SF_DB_FLEET_UIDS, &prefix, 0, s_uid_one, &w);
}

typedef struct {
    sf_read_t *r;
    bool active;
} s_active_t;

static int
s_active_one (const char *node, const char *name, void *arg)
{
    s_active_t *a = arg;
    sf_row_t row;
    if (sf_store_get_row (a->r, node, name, &row) == 0 && row.sum.status == SF_STATUS_ACTIVE) {
        a->active = true;
        return 1;
    }
    return 0;
}

//  Whether a placement of uid on node says active
static bool
s_uid_node_active (sf_read_t *r, const char *uid, const char *node)
{
    s_active_t a = { r, false };
    s_uid_scan (r, uid, node, s_active_one, &a);
    return a.active;
}

typedef struct {
    char *name;
} s_first_t;

static int
s_first_name (const char *node, const char *name, void *arg)
{
    snprintf (((s_first_t *) arg)->name, SF_NAME_MAX + 1, "%s", name);
    return 1;
}

typedef struct {
    sf_read_t *r;                   //  a view of the write transaction
    sf_store_t *store;
    const sf_fleet_state_t *st;
    int failed;
} s_flags_t;

//  Brings one placement's derived flags and moved-to entry up to date
static int
s_flags_one (const char *node, const char *name, void *arg)
{
    s_flags_t *f = arg;
    sf_row_t row;
    if (sf_store_get_row (f->r, node, name, &row))
        return 0;
    uint8_t want = sf_fleet_flags (f->st, node);
    sf_key_t mk;
    if (sf_key_make (&mk, "sn", node, name))
        return 0;
    if (want & SF_SUM_MIGRATED) {
        if (sf_store_put (f->store, SF_DB_FLEET_MOVED, &mk, f->st->owner, strlen (f->st->owner)))
            f->failed = 1;
    }
    else if (row.sum.flags & SF_SUM_MIGRATED)
        sf_store_del (f->store, SF_DB_FLEET_MOVED, &mk);
    if ((row.sum.flags & SF_SUM_DERIVED) == want)
        return 0;
    //  Rewrite the summary; the value moves, so copy the record out first
    sf_summary_t sum = row.sum;
    sum.flags = (uint8_t) ((sum.flags & ~SF_SUM_DERIVED) | want);
    void *copy = sf_xmalloc (row.packed_size);
    memcpy (copy, row.packed, row.packed_size);
    if (sf_store_put_stream_packed (f->store, node, name, &sum, copy, row.packed_size))
        f->failed = 1;
    free (copy);
    return 0;
}

typedef struct {
    sf_read_t *r;
    const char *except;
    char node [SF_NODE_MAX + 1];
    int64_t since_ms;
    bool since_exact;
    bool exact_wanted;          //  read started_at_ms (a decode): the write path
} s_owner_t;

//  The first placement on another node that runs the stream
static int
s_owner_one (const char *node, const char *name, void *arg)
{
    s_owner_t *o = arg;
    if (strcmp (node, o->except) == 0)
        return 0;
    sf_row_t row;
    if (sf_store_get_row (o->r, node, name, &row) == 0 && row.sum.status == SF_STATUS_ACTIVE) {
        s_node_set (o->node, node);
        o->since_ms = row.sum.started_at * 1000;
        if (!o->exact_wanted)
            return 1;
        //  started_at_ms is not in the summary (it is read here only, for
        //  a stream's first state): the record has it
        sf_stream_t s;
        sf_stream_init (&s);
        if (sf_row_decode (&row, &s) == 0 && s.started_at_ms > 0) {
            o->since_ms = s.started_at_ms;
            o->since_exact = true;
        }
        sf_stream_clear (&s);
        return 1;
    }
    return 0;
}

//  The liveness of a node, and since when it is silent (wall ms; 0 unknown)
static int s_liveness_at (const char *node, int64_t *silent_ms);

//  The stream lives on st->owner, which runs it, since a failover from a
//  node it left (a peer's, which saw that node die while this controller
//  still hears from it, or one derived here): that node, when it still runs
//  the copy it had since before the failover and is heard from, runs a
//  stale copy beside the owner's. That is the conflict a start of the copy
//  raises (s_step), whichever of the facts came last: the failover, the
//  owner's record or the copy's. Only a failover leaves a copy behind: a
//  migration's old node stopped the stream (an active record of it is one
//  older than the stop). A node down, or not heard from since the failover
//  (within started_at's second; its death may only not be known here yet),
//  is not: its copy is flagged when it is back. Appends the event to fx [n]; returns the new
//  count.
static int
s_stale_conflict (sf_read_t *w, const char *uid, sf_fleet_state_t *st, sf_fleet_event_t *fx, int n)
{
    if (!st->owner [0] || st->conflict [0] || st->xfer_start_ms || st->owner_stop_ms
    ||  !s_uid_node_active (w, uid, st->owner))
        return n;
    for (uint32_t i = 0; i < st->nleft && i < SF_FLEET_LEFT_MAX; i++) {
        const char *node = st->left [i];
        if (strcmp (node, st->owner) == 0)
            continue;
        //  The failover node -> owner, at the owner's start, in the history
        sf_fleet_event_t fo;
        memset (&fo, 0, sizeof (fo));
        fo.kind = SF_EV_FAILOVER;
        fo.at_ms = st->owner_since_ms;
        snprintf (fo.uid, sizeof (fo.uid), "%s", uid);
        s_node_set (fo.from, node);
        s_node_set (fo.to, st->owner);
        sf_key_t fk;
        sf_val_t fv;
        if (s_event_kmake (&fk, &fo) || sf_store_get (w, SF_DB_FLEET_EVENTS, &fk, &fv))
            continue;
        s_owner_t o = { w, "", "", 0, false, true };
        s_uid_scan (w, uid, node, s_owner_one, &o);
        if (!o.node [0]
        ||  s_start_cmp (o.since_ms, o.since_exact, st->owner_since_ms, st->owner_since_exact) > 0)
            continue;                   //  not running, or a start since the move
        //  Heard from since the failover (beyond started_at's second): a
        //  node whose death is only not known here yet runs no copy
        int64_t heard = 0;
        int live = s_liveness_at (node, &heard);
        if (live == SF_LIVE_DOWN || heard <= st->owner_since_ms + 1000)
            continue;
        s_node_set (st->conflict, node);
        st->conflict_since_ms = st->owner_since_ms;
        st->conflict_since_exact = st->owner_since_exact;
        return s_fx (fx, n, SF_EV_CONFLICT, st->owner, node, st->owner_since_ms, 0, 0,
                     "the stream runs on two nodes and is not moving between them");
    }
    return n;
}

//  ---------------------------------------------------------------------------
//  Write path

static sf_live_t *s_live;
static sf_fleet_live_fn *s_live_fn;
static void *s_live_arg;

void
sf_fleet_set_live (sf_live_t *live)
{
    __atomic_store_n (&s_live, live, __ATOMIC_RELEASE);
}

void
sf_fleet_set_liveness (sf_fleet_live_fn *fn, void *arg)
{
    s_live_arg = arg;
    __atomic_store_n (&s_live_fn, fn, __ATOMIC_RELEASE);
}

//  A node's liveness as the writer sees it; -1 without any liveness source
static int
s_liveness_at (const char *node, int64_t *silent_ms)
{
    int64_t silent = 0;
    int state = -1;
    sf_fleet_live_fn *fn = __atomic_load_n (&s_live_fn, __ATOMIC_ACQUIRE);
    sf_live_t *live = __atomic_load_n (&s_live, __ATOMIC_ACQUIRE);
    if (fn)
        state = fn (node, &silent, s_live_arg);
    else if (live) {
        int64_t age = -1;
        state = sf_live_state (live, node, sf_mono_ms (), &age);
        if (age >= 0)
            silent = sf_now_ms () - age;
    }
    if (silent_ms)
        *silent_ms = silent;
    return state;
}

static int
s_liveness (const char *node)
{
    return s_liveness_at (node, NULL);
}

//  Runs one change of uid's placement through the state machine and stores
//  what follows: events, transfer log, state, flags of its placements.
static int
s_derive (sf_store_t *store, const char *uid, const char *name, sf_fleet_change_t *ch)
{
    sf_read_t w;
    if (sf_store_write_view (store, &w))
        return -1;
    sf_fleet_state_t st, before;
    s_state_load (&w, uid, &st);
    before = st;
    if (ch->down && !st.owner [0])
        return 0;
    if (!st.owner [0]) {
        //  No state yet: a stream that has only ever started somewhere keeps
        //  none (the ingest of a fresh fleet writes nothing extra); its owner
        //  is the placement that runs it, found when it matters
        if (ch->started) {
            s_owner_t o = { &w, ch->node, "", 0, false, true };
            s_uid_scan (&w, uid, NULL, s_owner_one, &o);
            if (!o.node [0])
                return 0;               //  first sighting: it lives here
            s_node_set (st.owner, o.node);
            st.owner_since_ms = o.since_ms;
            st.owner_since_exact = o.since_exact;
        }
        else
            s_node_set (st.owner, ch->node);
    }
    if (st.owner [0] && (strcmp (st.owner, ch->node) != 0 || ch->down)) {
        ch->owner_running = s_uid_node_active (&w, uid, st.owner);
        int state = s_liveness (st.owner);
        //  Without a liveness table (none handed over yet) a secondary that
        //  takes over a running owner counts as a failover, by its type
        ch->owner_down = state >= 0 ? state == SF_LIVE_DOWN : ch->type == SF_TYPE_SECONDARY;
    }
    if (!ch->down) {
        int live = s_liveness_at (ch->node, &ch->silent_ms);
        ch->node_down = live == SF_LIVE_DOWN;
        //  A start on a node the stream left, which is suspect and went
        //  silent no later than the stream went to its owner (within
        //  started_at's second), is the last word of a node that died,
        //  not of one back: its copy is taken as a down node's (not
        //  flagged; flagged when its agent speaks again, as after a down
        //  node's return). So the copy learned after a peer's failover
        //  from that node, before it is declared down here, raises no
        //  conflict that the order with the death first would not
        if (live == SF_LIVE_SUSPECT && ch->started && ch->silent_ms > 0
        &&  sf_fleet_state_left (&st, ch->node) && ch->silent_ms <= st.owner_since_ms + 1000)
            ch->node_down = true;
    }
    else if (!ch->silent_ms)
        s_liveness_at (ch->node, &ch->silent_ms);
    if (st.xfer_start_ms && (strcmp (st.xfer_to, ch->node) != 0 || ch->down))
        ch->target_running = s_uid_node_active (&w, uid, st.xfer_to);
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    int n = sf_fleet_step (&st, ch, fx);
    for (int i = 0; i < n; i++) {
        snprintf (fx [i].uid, sizeof (fx [i].uid), "%s", uid);
        snprintf (fx [i].stream, sizeof (fx [i].stream), "%s", name);
        int rc = fx [i].kind < SF_EV_COUNT ? sf_fleet_event_put (store, &fx [i])
                                            : s_transfer_put (store, &fx [i]);
        if (rc < 0)
            return -1;
        if (fx [i].kind < SF_EV_COUNT)
            sf_debug ("fleet: %s %s %s -> %s at %lld", uid, sf_event_kind_name (fx [i].kind),
                      fx [i].from, fx [i].to, (long long) fx [i].at_ms);
    }
    //  The stream came to its owner by a failover, or the owner's run is
    //  told: the node it failed over from may still run its copy, heard
    //  from here (the event only when observed, as sf_fleet_step's)
    if ((ch->started && strcmp (ch->node, st.owner) == 0) || strcmp (st.owner, before.owner) != 0) {
        sf_fleet_event_t cf [1];
        if (s_stale_conflict (&w, uid, &st, cf, 0) && !ch->caught_up) {
            snprintf (cf [0].uid, sizeof (cf [0].uid), "%s", uid);
            snprintf (cf [0].stream, sizeof (cf [0].stream), "%s", name);
            if (sf_fleet_event_put (store, &cf [0]) < 0)
                return -1;
        }
    }
    if (memcmp (&st, &before, sizeof (st)) == 0)
        return 0;
    if (s_state_save (store, uid, &st))
        return -1;
    //  Flags change only with the transfer or the nodes left (a placement is
    //  migrated only where the stream has been)
    if (strcmp (st.xfer_from, before.xfer_from) == 0 && strcmp (st.xfer_to, before.xfer_to) == 0
    &&  strcmp (st.conflict, before.conflict) == 0
    &&  st.xfer_start_ms == before.xfer_start_ms && st.nleft == before.nleft
    &&  memcmp (st.left, before.left, sizeof (st.left)) == 0
    &&  (st.nleft == 0 || strcmp (st.owner, before.owner) == 0))
        return 0;
    s_flags_t f = { &w, store, &st, 0 };
    s_uid_scan (&w, uid, NULL, s_flags_one, &f);
    return f.failed ? -1 : 0;
}

//  A move a peer's history tells of (migrated, returned or failover X -> Y
//  at t): a fact as much as a record is. A controller that was away (or
//  joined late) learns the time it did not witness from the witnesses'
//  events, which gossip sends before the records (controller/gossip.c), so
//  the state moves on as theirs did: when X is where the stream lives here
//  and the move is not older than that, the stream lives on Y since the
//  move's start (t less the transfer's duration), X is a node it left, and
//  a transfer open here ends with it. The latest records of that time,
//  which follow, then find the state where the witnesses left it and derive
//  nothing they did not (a stream that moved B -> C -> A while this
//  controller was away must not show a move B -> A). A stream without a
//  state here (it only ever ran on one node, as far as this controller
//  knows) gets one. Otherwise X, when it is not where the stream lives, is
//  one more node it left (while the list has room). 0 or -1.
static int
s_peer_move (sf_store_t *store, const sf_fleet_event_t *ev)
{
    if ((ev->kind != SF_EV_MIGRATED && ev->kind != SF_EV_RETURNED && ev->kind != SF_EV_FAILOVER)
    ||  !ev->from [0] || !ev->to [0] || strcmp (ev->from, ev->to) == 0)
        return 0;
    sf_read_t w;
    sf_fleet_state_t st, before;
    if (sf_store_write_view (store, &w))
        return -1;
    if (s_state_load (&w, ev->uid, &st) || !st.owner [0]) {
        memset (&st, 0, sizeof (st));
        s_node_set (st.owner, ev->from);
        st.owner_since_ms = ev->at_ms;      //  not older than the move, whatever it was
    }
    before = st;
    int64_t start = ev->duration_ms > 0 && ev->duration_ms < ev->at_ms ? ev->at_ms - ev->duration_ms
                                                                         : ev->at_ms;
    if (strcmp (ev->from, st.owner) == 0 && ev->at_ms >= st.owner_since_ms) {
        if (st.xfer_start_ms) {
            sf_fleet_event_t fx;
            memset (&fx, 0, sizeof (fx));
            fx.kind = SF_EV_XFER_CLOSE;
            snprintf (fx.uid, sizeof (fx.uid), "%s", ev->uid);
            snprintf (fx.stream, sizeof (fx.stream), "%s", ev->stream);
            s_node_set (fx.from, st.xfer_from);
            s_node_set (fx.to, st.xfer_to);
            fx.at_ms = ev->at_ms;
            fx.start_ms = st.xfer_start_ms;
            if (s_transfer_put (store, &fx))
                return -1;
            s_xfer_clear (&st);
        }
        if (strcmp (st.conflict, ev->to) == 0)
            s_conflict_clear (&st);
        s_left_del (&st, ev->to);
        s_left_add (&st, ev->from);
        s_node_set (st.owner, ev->to);
        st.owner_since_ms = start;
        st.owner_stop_ms = 0;
        //  The node the witnesses saw it leave may be heard from here, its
        //  copy still running: a conflict, as its start would raise
        sf_fleet_event_t fx [1];
        if (s_stale_conflict (&w, ev->uid, &st, fx, 0)) {
            snprintf (fx [0].uid, sizeof (fx [0].uid), "%s", ev->uid);
            snprintf (fx [0].stream, sizeof (fx [0].stream), "%s", ev->stream);
            if (sf_fleet_event_put (store, &fx [0]) < 0)
                return -1;
        }
    }
    else if (strcmp (ev->from, st.owner) != 0 && !sf_fleet_state_left (&st, ev->from)
         &&  st.nleft < SF_FLEET_LEFT_MAX)
        s_node_set (st.left [st.nleft++], ev->from);
    if (memcmp (&st, &before, sizeof (st)) == 0 && s_state_load (&w, ev->uid, &before) == 0)
        return 0;
    if (s_state_save (store, ev->uid, &st))
        return -1;
    s_flags_t f = { &w, store, &st, 0 };
    s_uid_scan (&w, ev->uid, NULL, s_flags_one, &f);
    return f.failed ? -1 : 0;
}

//  Packing buffer of the writer thread
static __thread msgpack_sbuffer s_sbuf;
static __thread bool s_sbuf_ready;

//  The changes being stored were caught up from a peer (sf_fleet_set_caught_up)
static bool s_caught_up;

void
sf_fleet_set_caught_up (bool caught_up)
{
    s_caught_up = caught_up;
}

int
sf_fleet_apply_put (sf_store_t *store, const sf_stream_t *s)
{
    sf_read_t w;
    if (sf_store_write_view (store, &w))
        return -1;
    if (!s_sbuf_ready) {
        msgpack_sbuffer_init (&s_sbuf);
        s_sbuf_ready = true;
    }
    //  Stored in one lookup, learning what it replaced; the derived flags
    //  of the replaced summary stay until the fleet state changes them
    sf_summary_t sum, prev;
    //  A stopped stream keeps the functions it was last seen with (nginx-rtmp
    //  reports no tracks for a stream that is not publishing): audio and
    //  photo stay; DVR follows the archive, which the agent reports
    sf_stream_t keep;
    const sf_stream_t *rec = s;
    if (s->status != SF_STATUS_ACTIVE) {
        sf_row_t row;
        uint8_t last = SF_FN_AUDIO | SF_FN_PHOTO;
        if (sf_store_get_row (&w, s->node, s->name, &row) == 0 && (row.sum.functions & last & ~s->functions)) {
            keep = *s;                  //  shallow: only packed, never cleared
            keep.functions |= row.sum.functions & last;
            rec = &keep;
        }
    }
    sf_summary_from_stream (&sum, rec);
    msgpack_sbuffer_clear (&s_sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &s_sbuf, msgpack_sbuffer_write);
    sf_stream_pack (&pk, rec, SF_ENC_FULL);
    if (sf_store_put_stream_prev (store, s->node, s->name, &sum, s_sbuf.data, s_sbuf.size, &prev))
        return -1;
    bool had = prev.magic == SF_SUMMARY_MAGIC;
    bool was_active = had && prev.status == SF_STATUS_ACTIVE;
    bool is_active = s->status == SF_STATUS_ACTIVE;
    //  A placement the stream left, reported running and not flagged yet:
    //  a stale copy (its node is back) that the state machine must see
    bool stale = had && is_active && (prev.flags & SF_SUM_MIGRATED) && !(prev.flags & SF_SUM_CONFLICT);
    //  The uid it is indexed under (one lookup): a changed uid is re-indexed
    const char *uid = s->uid [0] ? s->uid : s->name;
    char olduid [SF_NAME_MAX + 1];
    bool indexed = s_uid_of (&w, s->node, s->name, olduid) == 0;
    bool same_uid = indexed && strcmp (olduid, uid) == 0;
    if (had && was_active == is_active && !stale && same_uid)
        return 0;                   //  the common case: nothing moved
    if (indexed && !same_uid) {
        //  Re-published under another uid: the old uid's placement is gone
        //  (a stop there when it ran), the new uid's is new
        s_uid_drop (store, olduid, s->node, s->name, false);
        if (was_active) {
            sf_fleet_change_t stop = { .node = s->node, .stopped = true, .at_ms = s->changed_at_ms,
                                       .type = s->type, .caught_up = s_caught_up };
            if (s_derive (store, olduid, s->name, &stop))
                return -1;
        }
        had = was_active = false;
    }
    //  A new placement, or one that starts or stops, is (re)indexed by uid
    if (s_uid_add (store, uid, s->node, s->name))
        return -1;
    if (!same_uid && s_uid_set (store, s->node, s->name, uid))
        return -1;
    if (!had) {
        //  A placement that comes back (deleted, then reported again) on a
        //  node the stream left is migrated again at once
        sf_fleet_state_t st;
        if (s_state_load (&w, uid, &st) == 0 && st.owner [0]) {
            s_flags_t f = { &w, store, &st, 0 };
            s_flags_one (s->node, s->name, &f);
            if (f.failed)
                return -1;
        }
    }
    if (was_active == is_active && !stale)
        return 0;
    //  The run the placement had all along: its record said again with the
    //  same start, or the first record this controller has of it (on a node
    //  the stream left, learned after the move, e.g. after a peer's
    //  failover: its start in the move's second is the run it had until
    //  then, not a start anew)
    sf_fleet_change_t ch = { .node = s->node, .started = is_active, .stopped = !is_active,
                             .type = s->type, .caught_up = s_caught_up,
                             .continued = is_active
                                       && (!had || (was_active && prev.started_at == s->started_at)) };
    //  A start is the media server's own start when it knows it: to the
    //  millisecond (started_at_ms), else to the second
    ch.at_exact = is_active && s->started_at_ms > 0;
    ch.at_ms = ch.at_exact ? s->started_at_ms
             : is_active && s->started_at > 0 ? s->started_at * 1000 : s->changed_at_ms;
    return s_derive (store, uid, s->name, &ch);
}

int
sf_fleet_apply_del (sf_store_t *store, const char *node, const char *name, sf_version_t ver)
{
    sf_read_t r;
    if (sf_store_write_view (store, &r))
        return -1;
    sf_row_t old;
    sf_stream_t s;
    sf_stream_init (&s);
    bool had = sf_store_get_row (&r, node, name, &old) == 0 && sf_row_decode (&old, &s) == 0;
    bool was_active = had && s.status == SF_STATUS_ACTIVE;
    int rc = sf_store_del_stream (store, node, name, ver);
    if (rc == 0 && had) {
        const char *uid = s.uid [0] ? s.uid : s.name;
        s_uid_drop (store, uid, node, name, true);
        sf_key_t mk;
        if (sf_key_make (&mk, "sn", node, name) == 0)
            sf_store_del (store, SF_DB_FLEET_MOVED, &mk);
        if (was_active) {
            //  A deletion carries no time of its own: the placement's last
            //  stamp is the last moment it was known to run
            sf_fleet_change_t ch = { .node = node, .stopped = true, .at_ms = s.changed_at_ms,
                                     .type = s.type, .caught_up = s_caught_up };
            rc = s_derive (store, uid, name, &ch);
        }
    }
    sf_stream_clear (&s);
    return rc;
}

//  ---------------------------------------------------------------------------
//  Liveness as an input

typedef struct {
    char (*uids) [SF_NAME_MAX + 1];
    char (*names) [SF_NAME_MAX + 1];
    size_t count, cap;
} s_uidlist_t;

static void
s_uidlist_add (s_uidlist_t *l, const char *uid, const char *name)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        l->uids = sf_xreallocarray (l->uids, cap, sizeof (*l->uids));
        l->names = sf_xreallocarray (l->names, cap, sizeof (*l->names));
        l->cap = cap;
    }
    snprintf (l->uids [l->count], SF_NAME_MAX + 1, "%s", uid);
    snprintf (l->names [l->count], SF_NAME_MAX + 1, "%s", name);
    l->count++;
}

static void
s_uidlist_free (s_uidlist_t *l)
{
    free (l->uids);
    free (l->names);
}

//  A stream whose state names node as a transfer's source or a stale copy
typedef struct {
    sf_read_t *r;
    const char *node;
    s_uidlist_t *l;
} s_involved_t;

static int
s_involved_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_involved_t *inv = arg;
    char uid [SF_NAME_MAX + 1];
    if (k->size > SF_NAME_MAX)
        return 0;
    memcpy (uid, k->data, k->size);
    uid [k->size] = 0;
    sf_fleet_state_t st;
    if (s_state_load (inv->r, uid, &st) == 0
    &&  (strcmp (st.xfer_from, inv->node) == 0 || strcmp (st.conflict, inv->node) == 0
    ||   strcmp (st.xfer_to, inv->node) == 0))     //  a tie-broken transfer's target
        s_uidlist_add (inv->l, uid, "");
    return 0;
}

int
sf_fleet_node_down (sf_store_t *store, const char *node)
{
    sf_read_t w;
    if (sf_store_write_view (store, &w))
        return -1;
    //  The streams whose state involves the node: collected first, since
    //  deriving rewrites the states
    s_uidlist_t l = { 0 };
    s_involved_t inv = { &w, node, &l };
    if (sf_store_foreach (&w, SF_DB_FLEET_STATE, NULL, 0, s_involved_one, &inv))
        return -1;
    int result = 0;
    for (size_t i = 0; i < l.count && result == 0; i++) {
        //  The event names the stream as the placement on the node does
        char name [SF_NAME_MAX + 1] = "";
        s_first_t f = { name };
        s_uid_scan (&w, l.uids [i], node, s_first_name, &f);
        sf_fleet_change_t ch = { .node = node, .down = true, .node_down = true };
        result = s_derive (store, l.uids [i], name [0] ? name : l.uids [i], &ch);
    }
    s_uidlist_free (&l);
    return result;
}

typedef struct {
    s_uidlist_t *l;
    int64_t *starts;
    bool *exact;                    //  starts [i] is started_at_ms
    size_t cap;
} s_up_t;

static int
s_up_row (const sf_row_t *row, void *arg)
{
    s_up_t *u = arg;
    if (row->sum.status != SF_STATUS_ACTIVE || !(row->sum.flags & SF_SUM_MIGRATED)
    ||  (row->sum.flags & SF_SUM_CONFLICT))
        return 0;
    sf_stream_t s;
    sf_stream_init (&s);
    if (sf_row_decode (row, &s) == 0) {
        s_uidlist_add (u->l, s.uid [0] ? s.uid : s.name, s.name);
        if (u->l->count > u->cap) {
            size_t cap = u->l->cap;
            u->starts = sf_xreallocarray (u->starts, cap, sizeof (int64_t));
            u->exact = sf_xreallocarray (u->exact, cap, sizeof (bool));
            u->cap = cap;
        }
        size_t i = u->l->count - 1;
        u->exact [i] = s.started_at_ms > 0;
        u->starts [i] = s.started_at_ms > 0 ? s.started_at_ms
                      : s.started_at > 0 ? s.started_at * 1000 : s.changed_at_ms;
    }
    sf_stream_clear (&s);
    return 0;
}

int
sf_fleet_node_up (sf_store_t *store, const char *node)
{
    sf_read_t r;
    if (sf_store_write_view (store, &r))
        return -1;
    //  A node back with streams still running that moved away meanwhile:
    //  each is a start as the state machine sees it (a stale copy)
    s_uidlist_t l = { 0 };
    s_up_t u = { &l, NULL, NULL, 0 };
    sf_store_scan_streams (&r, node, s_up_row, &u);
    int result = 0;
    for (size_t i = 0; i < l.count && result == 0; i++) {
        sf_fleet_change_t ch = { .node = node, .started = true, .at_ms = u.starts [i],
                                 .at_exact = u.exact [i], .type = SF_TYPE_PRIMARY,
                                 .continued = true };
        result = s_derive (store, l.uids [i], l.names [i], &ch);
    }
    free (u.starts);
    free (u.exact);
    s_uidlist_free (&l);
    return result;
}

//  Liveness transitions as the writer reports them (its change hook, kind
//  'l', on the writer's thread): what each node was reported last, and the
//  turns down or back not yet applied
typedef struct {
    char node [SF_NODE_MAX + 1];
    bool down;
} s_seen_t;

static s_seen_t *s_seen;
static size_t s_nseen, s_seen_cap;

typedef struct {
    char (*down) [SF_NODE_MAX + 1];
    char (*up) [SF_NODE_MAX + 1];
    size_t ndown, nup, cap;
} s_pending_t;

static s_pending_t s_pending;
//  What the last sf_fleet_tick staged, until its transaction is lost
//  (sf_fleet_tick_lost) or the next tick
static s_pending_t s_inflight;

static void
s_pending_add (s_pending_t *p, const char *node, bool down)
{
    if (p->ndown + p->nup == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 8;
        p->down = sf_xreallocarray (p->down, p->cap, sizeof (*p->down));
        p->up = sf_xreallocarray (p->up, p->cap, sizeof (*p->up));
    }
    if (down)
        s_node_set (p->down [p->ndown++], node);
    else
        s_node_set (p->up [p->nup++], node);
}

void
sf_fleet_node_live (const char *node, int live)
{
    s_seen_t *e = NULL;
    for (size_t i = 0; i < s_nseen; i++)
        if (strcmp (s_seen [i].node, node) == 0) {
            e = &s_seen [i];
            break;
        }
    if (!e) {
        if (s_nseen == s_seen_cap) {
            s_seen_cap = s_seen_cap ? s_seen_cap * 2 : 16;
            s_seen = sf_xreallocarray (s_seen, s_seen_cap, sizeof (*s_seen));
        }
        e = &s_seen [s_nseen++];
        s_node_set (e->node, node);
        e->down = false;                //  a node first reported down went down
    }
    bool is_down = live == SF_LIVE_DOWN;
    if (e->down == is_down)
        return;
    e->down = is_down;
    s_pending_add (&s_pending, node, is_down);
}

int
sf_fleet_pending (void)
{
    return (int) (s_pending.ndown + s_pending.nup);
}

int
sf_fleet_tick (sf_store_t *store)
{
    if (!sf_store_writing (store))
        return -1;
    int rc = 0;
    for (size_t i = 0; i < s_pending.ndown && rc == 0; i++)
        rc = sf_fleet_node_down (store, s_pending.down [i]);
    for (size_t i = 0; i < s_pending.nup && rc == 0; i++)
        rc = sf_fleet_node_up (store, s_pending.up [i]);
    //  Kept until the commit is known (sf_fleet_tick_lost)
    s_pending_t t = s_inflight;
    s_inflight = s_pending;
    s_pending = t;
    s_pending.ndown = s_pending.nup = 0;
    return rc;
}

void
sf_fleet_tick_lost (void *arg)
{
    //  The turns staged go before any reported since
    for (size_t i = 0; i < s_pending.ndown; i++)
        s_pending_add (&s_inflight, s_pending.down [i], true);
    for (size_t i = 0; i < s_pending.nup; i++)
        s_pending_add (&s_inflight, s_pending.up [i], false);
    s_pending_t t = s_pending;
    s_pending = s_inflight;
    s_inflight = t;
    s_inflight.ndown = s_inflight.nup = 0;
}

//  ---------------------------------------------------------------------------
//  Queries

void
sf_fleet_derive (sf_query_ctx_t *ctx, sf_read_t *r, const sf_row_t *row, int node_state,
                 int64_t now_ms, sf_derived_t *out)
{
    //  The writer learns the controller's liveness table from here when the
    //  controller did not hand it over at start (sf_fleet_set_live)
    if (!__atomic_load_n (&s_live, __ATOMIC_ACQUIRE) && ctx->live)
        sf_fleet_set_live (ctx->live);
    out->type = row->sum.type;
    out->status = node_state == SF_LIVE_DOWN ? SF_STATUS_OFFLINE : row->sum.status;
    out->transfer = (row->sum.flags & SF_SUM_TRANSFER) != 0;
    //  A conflict is two live copies: not while this one is offline
    out->conflict = (row->sum.flags & SF_SUM_CONFLICT) != 0 && node_state != SF_LIVE_DOWN;
    out->migrated_to [0] = 0;
    if (row->sum.flags & SF_SUM_MIGRATED) {
        out->type = SF_TYPE_MIGRATED;
        //  Built from node and name: a row from sf_store_get_row has no key in the map
        size_t nl = strnlen (row->node, SF_NODE_MAX), ml = strnlen (row->name, SF_NAME_MAX);
        sf_key_t k;
        sf_val_t v;
        if (sf_key_make (&k, "DBD", row->node, nl, 0, row->name, ml) == 0
        &&  sf_store_get (r, SF_DB_FLEET_MOVED, &k, &v) == 0 && v.size <= SF_NODE_MAX) {
            memcpy (out->migrated_to, v.data, v.size);
            out->migrated_to [v.size] = 0;
        }
    }
}

typedef struct {
    sf_fleet_event_t *items;
    size_t count, cap;
} s_evlist_t;

static sf_fleet_event_t *
s_evlist_add (s_evlist_t *l)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        l->items = sf_xreallocarray (l->items, cap, sizeof (*l->items));
        l->cap = cap;
    }
    return &l->items [l->count++];
}

//  Newest first; ties by identity, descending: a total order (the keyset
//  cursors of sf_fleet_query_t depend on it), the same on every controller
static int
s_ev_cmp (const void *pa, const void *pb)
{
    const sf_fleet_event_t *a = pa, *b = pb;
    if (a->at_ms != b->at_ms)
        return a->at_ms < b->at_ms ? 1 : -1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? 1 : -1;
    int c = strcmp (b->uid, a->uid);
    if (!c) c = strcmp (b->from, a->from);
    if (!c) c = strcmp (b->to, a->to);
    return c;
}

//  Cursors: "h1" and the identity's bytes in hex (be64 at_ms, kind, uid \0
//  from \0 to), so a cursor is a plain token in a URL
void
sf_fleet_cursor_make (const sf_fleet_event_t *ev, char *out, size_t size)
{
    sf_key_t k;
    if (size < SF_FLEET_CURSOR_MAX
    ||  sf_key_make (&k, "LBssn", (uint64_t) ev->at_ms, (int) ev->kind, ev->uid, ev->from, ev->to)) {
        if (size)
            out [0] = 0;
        return;
    }
    static const char hex [] = "0123456789abcdef";
    out [0] = 'h';
    out [1] = '1';
    for (size_t i = 0; i < k.size; i++) {
        out [2 + 2 * i] = hex [k.data [i] >> 4];
        out [3 + 2 * i] = hex [k.data [i] & 15];
    }
    out [2 + 2 * k.size] = 0;
}

static int
s_hex (char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int
sf_fleet_cursor_parse (const char *text, sf_fleet_event_t *ev)
{
    memset (ev, 0, sizeof (*ev));
    size_t len = strlen (text);
    uint8_t key [SF_KEY_MAX];
    if (len < 2 + 2 * 12 || len % 2 || text [0] != 'h' || text [1] != '1'
    ||  (len - 2) / 2 > sizeof (key))
        return -1;
    size_t size = (len - 2) / 2;
    for (size_t i = 0; i < size; i++) {
        int hi = s_hex (text [2 + 2 * i]), lo = s_hex (text [3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return -1;
        key [i] = (uint8_t) (hi << 4 | lo);
    }
    uint64_t at = sf_be64_get (key);
    const char *p = (const char *) key + 9;
    size_t left = size - 9, used, u;
    if (at > INT64_MAX || key [8] >= SF_EV_COUNT
    ||  !(used = s_take (p, left, ev->uid, SF_NAME_MAX))
    ||  !(u = s_take (p + used, left - used, ev->from, SF_NODE_MAX))
    ||  left - used - u > SF_NODE_MAX || memchr (p + used + u, 0, left - used - u)) {
        memset (ev, 0, sizeof (*ev));
        return -1;
    }
    used += u;
    memcpy (ev->to, p + used, left - used);
    ev->to [left - used] = 0;
    ev->at_ms = (int64_t) at;
    ev->kind = key [8];
    return 0;
}

static bool
s_name_match (const char *want, const char *uid, const char *stream)
{
    return !want || !*want || strcmp (want, uid) == 0 || strcmp (want, stream) == 0;
}

//  Whether an event is in the selection, kinds and page aside
static bool
s_selected (const sf_fleet_query_t *q, const sf_fleet_event_t *ev)
{
    return s_name_match (q->stream, ev->uid, ev->stream)
        && (!q->node || !*q->node || strcmp (q->node, ev->from) == 0 || strcmp (q->node, ev->to) == 0)
        && ev->at_ms >= q->start_ms && (q->end_ms <= 0 || ev->at_ms < q->end_ms);
}

//  Whether the history holds a failover of uid from -> to at at_ms (one lookup)
static bool
s_failover_stored (sf_read_t *r, const char *uid, int64_t at_ms, const char *from, const char *to)
{
    sf_fleet_event_t f;
    memset (&f, 0, sizeof (f));
    f.kind = SF_EV_FAILOVER;
    f.at_ms = at_ms;
    s_node_set (f.from, from);
    s_node_set (f.to, to);
    snprintf (f.uid, sizeof (f.uid), "%s", uid);
    sf_key_t k;
    sf_val_t v;
    return s_event_kmake (&k, &f) == 0 && sf_store_get (r, SF_DB_FLEET_EVENTS, &k, &v) == 0;
}

//  A takeover first seen as a transfer (the old node was only suspect) and
//  then as a failover (it was declared down) is one failover: the
//  transfer_started under the same time, stream and nodes is not listed.
//  The set stays grow-only (both are stored, and replicated); the listing
//  is a function of the set, so every controller lists the same. One
//  lookup of the failover's key.
//  A transfer whose direction the tie-break of two starts in one second
//  set (its reason says so) is superseded by a failover of that second in
//  either direction: the target may be the one that died, silent within
//  the second, so it ran the stream first. The event is timed at the later
//  of the two starts as told, the failover at one of them, so the failover
//  is at the event's time or at the start of its second: up to three more
//  lookups, and the value (ev_value) read only when one finds it. A
//  transfer back to a node the stream left, in the second of its failover,
//  is no tie and stays listed.
static bool
s_superseded (sf_read_t *r, const sf_fleet_event_t *e, const sf_val_t *ev_value)
{
    if (e->kind != SF_EV_TRANSFER_STARTED)
        return false;
    if (s_failover_stored (r, e->uid, e->at_ms, e->from, e->to))
        return true;
    int64_t second = e->at_ms >= 0 ? e->at_ms / 1000 * 1000 : -((999 - e->at_ms) / 1000) * 1000;
    bool found = s_failover_stored (r, e->uid, e->at_ms, e->to, e->from)
              || (second != e->at_ms
                  && (s_failover_stored (r, e->uid, second, e->from, e->to)
                      || s_failover_stored (r, e->uid, second, e->to, e->from)));
    sf_fleet_event_t full;
    return found && s_event_unpack (ev_value->data, ev_value->size, &full) == 0
        && strcmp (full.reason, S_TIE_REASON) == 0;
}

static bool
s_kind_wanted (const sf_fleet_query_t *q, int kind)
{
    return !q->kinds || (q->kinds & (1u << kind));
}

//  A transfer-log entry (key be64 start, uid \0 from \0 to; value be64 end,
//  name) as the transfer_stuck event it makes at timeout_s, if it is one:
//  true with ev set. *start_ms and *end_ms get the entry's times.
static bool
s_stuck_event (const sf_val_t *k, const sf_val_t *v, int64_t now_ms, int64_t timeout_s,
               sf_fleet_event_t *ev, int64_t *start_ms, int64_t *end_ms)
{
    memset (ev, 0, sizeof (*ev));
    *start_ms = *end_ms = 0;
    const char *p = k->data;
    size_t left = k->size, used, u;
    if (left <= 8 || v->size <= 8
    ||  !(used = s_take (p + 8, left - 8, ev->uid, SF_NAME_MAX))
    ||  !(u = s_take (p + 8 + used, left - 8 - used, ev->from, SF_NODE_MAX))
    ||  left - 8 - used - u > SF_NODE_MAX)
        return false;
    used += u;
    memcpy (ev->to, p + 8 + used, left - 8 - used);
    ev->to [left - 8 - used] = 0;
    *start_ms = (int64_t) sf_be64_get (k->data);
    *end_ms = (int64_t) sf_be64_get (v->data);
    if (!sf_fleet_stuck (*start_ms, *end_ms, now_ms, timeout_s, &ev->at_ms))
        return false;
    s_take ((const char *) v->data + 8, v->size - 8, ev->stream, SF_NAME_MAX);
    ev->kind = SF_EV_TRANSFER_STUCK;
    ev->duration_ms = ev->at_ms - *start_ms;
    snprintf (ev->reason, sizeof (ev->reason), "%s",
              *end_ms ? "the transfer took longer than the transfer timeout"
                      : "the transfer did not complete within the transfer timeout");
    return true;
}

//  ---------------------------------------------------------------------------
//  The selection's totals: per kind, every filter but the kinds. A pass
//  over the events of the time range (and the transfer log), so they are
//  kept per selection while nothing changes them: not the history (its
//  generation, written with every event and transfer-log entry, read in
//  the same snapshot), nor the clock (an event leaving the window, an open
//  transfer turning stuck: the pass says when the next is due). Paging
//  through a selection counts it once.

#define S_GEN_KEY "\x02history-gen"
static uint64_t s_gen_seed;         //  writer thread: a store's first generation

//  Raises the history's generation in the open write transaction
static int
s_gen_bump (sf_store_t *store)
{
    sf_read_t w;
    sf_key_t k;
    sf_val_t v;
    if (sf_store_write_view (store, &w) || sf_key_make (&k, "n", S_GEN_KEY))
        return -1;
    uint64_t gen;
    if (sf_store_get (&w, SF_DB_FLEET_STATE, &k, &v) == 0 && v.size == 8)
        gen = sf_be64_get (v.data) + 1;
    else    //  distinct per store, so that a cached selection of another never matches
        gen = ((uint64_t) sf_now_ms () << 16) + (++s_gen_seed << 8);
    uint8_t b [8];
    sf_be64_put (b, gen);
    return sf_store_put (store, SF_DB_FLEET_STATE, &k, b, sizeof (b));
}

static uint64_t
s_gen (sf_read_t *r)
{
    sf_key_t k;
    sf_val_t v;
    if (sf_key_make (&k, "n", S_GEN_KEY) || sf_store_get (r, SF_DB_FLEET_STATE, &k, &v) || v.size != 8)
        return 0;
    return sf_be64_get (v.data);
}

typedef struct {
    const sf_fleet_query_t *q;
    sf_read_t *r;
    int64_t now_ms, timeout_s, horizon_ms, window_ms;
    size_t counts [SF_EV_COUNT];
    int64_t valid_until_ms;         //  the totals change by themselves then
} s_count_t;

static void
s_due (s_count_t *c, int64_t at_ms)
{
    if (at_ms < c->valid_until_ms)
        c->valid_until_ms = at_ms;
}

static int
s_count_event (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_count_t *c = arg;
    const sf_fleet_query_t *q = c->q;
    sf_fleet_event_t ev;
    if (s_event_kparse (k, &ev))
        return 0;
    if (q->end_ms > 0 && ev.at_ms >= q->end_ms)
        return 1;                   //  keys are in time order
    if (ev.kind >= SF_EV_COUNT
    ||  (q->node && *q->node && strcmp (q->node, ev.from) && strcmp (q->node, ev.to)))
        return 0;
    if (q->stream && *q->stream && strcmp (q->stream, ev.uid)) {
        //  By name: the name is in the value
        sf_fleet_event_t full;
        if (s_event_unpack (v->data, v->size, &full) || strcmp (q->stream, full.stream))
            return 0;
    }
    if (s_superseded (c->r, &ev, v))
        return 0;
    c->counts [ev.kind]++;
    s_due (c, ev.at_ms + c->window_ms);     //  the first one counted is the oldest
    return 0;
}

static int
s_count_stuck (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_count_t *c = arg;
    sf_fleet_event_t ev;
    int64_t start, end;
    if (s_stuck_event (k, v, c->now_ms, c->timeout_s, &ev, &start, &end)) {
        if (ev.at_ms >= c->horizon_ms && s_selected (c->q, &ev)) {
            c->counts [SF_EV_TRANSFER_STUCK]++;
            s_due (c, ev.at_ms + c->window_ms);
        }
    }
    else if (start > 0 && !end && c->timeout_s > 0)
        s_due (c, start + c->timeout_s * 1000 + 1);     //  stuck from then on
    return 0;
}

//  A selection with a stream (or else a node) filter walks the filter index
//  under that prefix instead of every event: true with *prefix set
static bool
s_ref_prefix (sf_read_t *r, const sf_fleet_query_t *q, sf_key_t *prefix)
{
    if (q->stream && *q->stream && strlen (q->stream) <= SF_NAME_MAX)
        return s_byref_complete (r) && sf_key_make (prefix, "Bs", 's', q->stream) == 0;
    if (q->node && *q->node && strlen (q->node) <= SF_NODE_MAX)
        return s_byref_complete (r) && sf_key_make (prefix, "Bs", 'n', q->node) == 0;
    return false;
}

//  An index entry as its event (key, value) to fn
typedef struct {
    sf_read_t *r;
    sf_kv_fn *fn;
    void *arg;
    size_t skip;                    //  the prefix's length
} s_via_t;

static int
s_via_ref (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_via_t *via = arg;
    if (k->size <= via->skip || k->size - via->skip > SF_KEY_MAX)
        return 0;
    sf_key_t ek = { .size = k->size - via->skip };
    memcpy (ek.data, (const uint8_t *) k->data + via->skip, ek.size);
    sf_val_t ev;
    if (sf_store_get (via->r, SF_DB_FLEET_EVENTS, &ek, &ev))
        return 0;
    return via->fn (&(sf_val_t) { ek.data, ek.size }, &ev, via->arg);
}

//  prefix, then key: a position in the filter index
static int
s_ref_at (sf_key_t *out, const sf_key_t *prefix, const sf_key_t *key)
{
    return sf_key_make (out, "DD", prefix->data, prefix->size, key->data, key->size);
}

#define S_TOTALS_CACHED 8

typedef struct {
    uint64_t gen;                   //  0: empty
    uint64_t used;
    int64_t valid_until_ms, start_ms, end_ms, timeout_s;
    char stream [SF_NAME_MAX + 1];
    char node [SF_NODE_MAX + 1];
    size_t counts [SF_EV_COUNT];
} s_totals_t;

//  Query threads share it
static s_totals_t s_totals [S_TOTALS_CACHED];
static uint64_t s_totals_clock;
static pthread_mutex_t s_totals_lock = PTHREAD_MUTEX_INITIALIZER;

static bool
s_totals_match (const s_totals_t *t, uint64_t gen, const sf_fleet_query_t *q, int64_t timeout_s)
{
    return t->gen == gen && t->start_ms == q->start_ms && t->end_ms == q->end_ms
        && t->timeout_s == timeout_s && strcmp (t->stream, q->stream ? q->stream : "") == 0
        && strcmp (t->node, q->node ? q->node : "") == 0;
}

//  counts of q's selection (every filter but kinds), from the cache or a pass
static void
s_selection_counts (sf_read_t *r, const sf_fleet_query_t *q, int64_t start_ms, int64_t now_ms,
                    int64_t timeout_s, size_t *counts)
{
    uint64_t gen = s_gen (r);
    bool cacheable = gen && (!q->stream || strlen (q->stream) <= SF_NAME_MAX)
                  && (!q->node || strlen (q->node) <= SF_NODE_MAX);
    if (cacheable) {
        pthread_mutex_lock (&s_totals_lock);
        for (size_t i = 0; i < S_TOTALS_CACHED; i++)
            if (s_totals_match (&s_totals [i], gen, q, timeout_s) && now_ms < s_totals [i].valid_until_ms) {
                memcpy (counts, s_totals [i].counts, sizeof (s_totals [i].counts));
                s_totals [i].used = ++s_totals_clock;
                pthread_mutex_unlock (&s_totals_lock);
                return;
            }
        pthread_mutex_unlock (&s_totals_lock);
    }
    s_count_t c = { .q = q, .r = r, .now_ms = now_ms, .timeout_s = timeout_s,
                    .horizon_ms = s_history_horizon (), .window_ms = s_history_days * 24 * S_HOUR_MS,
                    .valid_until_ms = INT64_MAX };
    sf_key_t from, prefix, rfrom;
    sf_key_make (&from, "L", (uint64_t) start_ms);
    if (s_ref_prefix (r, q, &prefix) && s_ref_at (&rfrom, &prefix, &from) == 0) {
        s_via_t via = { r, s_count_event, &c, prefix.size };
        sf_store_foreach_from (r, SF_DB_FLEET_BYREF, &prefix, &rfrom, s_via_ref, &via);
    }
    else
        sf_store_foreach_from (r, SF_DB_FLEET_EVENTS, NULL, &from, s_count_event, &c);
    //  A transfer turns stuck a timeout after its start: any start before the range's end
    sf_store_foreach (r, SF_DB_FLEET_TRANSFERS, NULL, 0, s_count_stuck, &c);
    memcpy (counts, c.counts, sizeof (c.counts));
    if (!cacheable)
        return;
    pthread_mutex_lock (&s_totals_lock);
    s_totals_t *t = &s_totals [0];
    for (size_t i = 1; i < S_TOTALS_CACHED; i++)
        if (s_totals [i].used < t->used)
            t = &s_totals [i];
    t->gen = gen;
    t->used = ++s_totals_clock;
    t->valid_until_ms = c.valid_until_ms;
    t->start_ms = q->start_ms;
    t->end_ms = q->end_ms;
    t->timeout_s = timeout_s;
    snprintf (t->stream, sizeof (t->stream), "%s", q->stream ? q->stream : "");
    snprintf (t->node, sizeof (t->node), "%s", q->node ? q->node : "");
    memcpy (t->counts, c.counts, sizeof (c.counts));
    pthread_mutex_unlock (&s_totals_lock);
}

//  ---------------------------------------------------------------------------
//  A page: a keyset seek. The events database is in identity order (be64
//  at_ms, kind, uid \0 from \0 to), the reverse of the listing's, so a page
//  is a walk backwards from just before its cursor: O(log n) to the
//  position, then the events visited — the page itself, plus whatever the
//  stream and node filters pass over. transfer_stuck events come from the
//  transfer log (be64 start, uid \0 from \0 to: the same order, at start +
//  timeout), walked the same way down to the page's oldest event, and merged.

typedef struct {
    const sf_fleet_query_t *q;
    sf_read_t *r;
    int64_t start_ms;               //  the lower bound: the window's horizon or q's start
    int64_t floor_ms;               //  stuck: events before this cannot be in the page
    int64_t now_ms, timeout_s;
    s_evlist_t *l;
    size_t want;                    //  the page and one more (there is a next page)
    size_t visited;
} s_seek_t;

static int
s_seek_event (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_seek_t *s = arg;
    s->visited++;
    if (k->size < 9 || (int64_t) sf_be64_get (k->data) < s->start_ms)
        return 1;
    sf_fleet_event_t ev;
    if (!s_kind_wanted (s->q, ((const uint8_t *) k->data) [8])
    ||  s_event_unpack (v->data, v->size, &ev) || !s_selected (s->q, &ev) || s_superseded (s->r, &ev, v))
        return 0;
    *s_evlist_add (s->l) = ev;
    return s->l->count >= s->want;
}

static int
s_seek_stuck (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_seek_t *s = arg;
    s->visited++;
    if (k->size < 8 || (int64_t) sf_be64_get (k->data) + s->timeout_s * 1000 < s->floor_ms)
        return 1;
    sf_fleet_event_t ev;
    int64_t start, end;
    if (s_stuck_event (k, v, s->now_ms, s->timeout_s, &ev, &start, &end)
    &&  ev.at_ms >= s->start_ms && s_selected (s->q, &ev)
    &&  (!s->q->after || s_ev_cmp (&ev, s->q->after) > 0)) {
        *s_evlist_add (s->l) = ev;
        if (s->l->count >= s->want)
            return 1;
    }
    return 0;
}

int
sf_fleet_events (sf_query_ctx_t *ctx, const sf_fleet_query_t *q,
                 sf_fleet_events_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof (*out));
    sf_read_t r;
    if (sf_store_read_begin (ctx->store, &r)) {
        snprintf (err, errlen, "storage is unavailable (see the controller's log)");
        return -1;
    }
    int64_t now = s_clock (), horizon = s_history_horizon ();
    //  Never what the window left behind (before the next sweep takes it)
    int64_t start = q->start_ms > horizon ? q->start_ms : horizon;
    if (start < 0)
        start = 0;
    s_selection_counts (&r, q, start, now, ctx->transfer_timeout_s, out->counts);
    out->gen = s_gen (&r);
    for (int k = 0; k < SF_EV_COUNT; k++)
        if (s_kind_wanted (q, k))
            out->total += out->counts [k];
    //  The page: just before the cursor (or the range's end), backwards
    size_t want = q->limit < SIZE_MAX ? q->limit + 1 : SIZE_MAX;
    s_evlist_t evs = { 0 }, stuck = { 0 };
    s_seek_t s = { q, &r, start, start, now, ctx->transfer_timeout_s, &evs, want, 0 };
    sf_key_t before;
    bool bounded = false;
    if (q->after && s_event_kmake (&before, q->after) == 0)
        bounded = true;
    if (q->end_ms > 0 && (!bounded || q->after->at_ms >= q->end_ms)) {
        sf_key_make (&before, "L", (uint64_t) q->end_ms);
        bounded = true;
    }
    sf_key_t prefix, rbefore;
    if (s_ref_prefix (&r, q, &prefix) && (!bounded || s_ref_at (&rbefore, &prefix, &before) == 0)) {
        //  A stream's or a node's events: a seek in the filter index
        s_via_t via = { &r, s_seek_event, &s, prefix.size };
        sf_store_foreach_before (&r, SF_DB_FLEET_BYREF, &prefix, bounded ? &rbefore : NULL, s_via_ref, &via);
    }
    else
        sf_store_foreach_before (&r, SF_DB_FLEET_EVENTS, NULL, bounded ? &before : NULL, s_seek_event, &s);
    if (s_kind_wanted (q, SF_EV_TRANSFER_STUCK) && ctx->transfer_timeout_s > 0) {
        //  Stuck at start + timeout: starts up to the cursor's time (or the
        //  range's end) less the timeout, down to the page's oldest event
        int64_t t_ms = ctx->transfer_timeout_s * 1000, top = INT64_MAX;
        if (q->after)
            top = q->after->at_ms - t_ms + 1;
        if (q->end_ms > 0 && q->end_ms - t_ms < top)
            top = q->end_ms - t_ms;
        if (evs.count >= want)
            s.floor_ms = evs.items [want - 1].at_ms;
        s.l = &stuck;
        if (top > 0) {
            sf_key_make (&before, "L", (uint64_t) top);
            sf_store_foreach_before (&r, SF_DB_FLEET_TRANSFERS, NULL, top < INT64_MAX ? &before : NULL,
                                     s_seek_stuck, &s);
        }
    }
    sf_store_read_end (&r);
    //  Merge the two walks, each newest first already
    size_t n = 0, i = 0, j = 0, cap = q->limit < evs.count + stuck.count ? q->limit : evs.count + stuck.count;
    sf_fleet_event_t *page = sf_xreallocarray (NULL, cap ? cap : 1, sizeof (*page));
    while (n < cap && (i < evs.count || j < stuck.count)) {
        if (j >= stuck.count || (i < evs.count && s_ev_cmp (&evs.items [i], &stuck.items [j]) <= 0))
            page [n++] = evs.items [i++];
        else
            page [n++] = stuck.items [j++];
    }
    out->more = i < evs.count || j < stuck.count;
    free (evs.items);
    free (stuck.items);
    out->events = page;
    out->count = n;
    out->visited = s.visited;
    return 0;
}

void
sf_fleet_events_clear (sf_fleet_events_t *self)
{
    free (self->events);
    memset (self, 0, sizeof (*self));
}

//  The uid of a stream named name (or name itself when it is a known uid)
typedef struct {
    char uid [SF_NAME_MAX + 1];
} s_find_t;

static int
s_find_uid (const sf_row_t *row, void *arg)
{
    s_find_t *f = arg;
    sf_stream_t s;
    sf_stream_init (&s);
    if (sf_row_decode (row, &s) == 0)
        snprintf (f->uid, sizeof (f->uid), "%s", s.uid [0] ? s.uid : s.name);
    sf_stream_clear (&s);
    return f->uid [0] != 0;
}

static int
s_any (const char *node, const char *name, void *arg)
{
    *(bool *) arg = true;
    return 1;
}

static int
s_resolve_uid (sf_read_t *r, const char *name, char *uid)
{
    s_find_t f = { "" };
    sf_store_scan_name (r, name, s_find_uid, &f);
    if (f.uid [0]) {
        snprintf (uid, SF_NAME_MAX + 1, "%s", f.uid);
        return 0;
    }
    bool known = false;
    if (strlen (name) <= SF_NAME_MAX)
        s_uid_scan (r, name, NULL, s_any, &known);
    if (known) {
        snprintf (uid, SF_NAME_MAX + 1, "%s", name);
        return 0;
    }
    return -1;
}

typedef struct {
    int count;
    char only [SF_NODE_MAX + 1];
} s_places_t;

static int
s_count_one (const char *node, const char *name, void *arg)
{
    s_places_t *p = arg;
    if (p->count++ == 0)
        s_node_set (p->only, node);
    return 0;
}

//  Where the stream lives: its state's owner; a stream without state (it
//  only ever started) lives where it runs, or on its only placement
typedef struct {
    sf_read_t *r;
    sf_live_t *live;
    const char *except;
    char node [SF_NODE_MAX + 1];
} s_live_owner_t;

//  The first placement that runs the stream on a node that is not down
static int
s_live_owner_one (const char *node, const char *name, void *arg)
{
    s_live_owner_t *o = arg;
    sf_row_t row;
    if (strcmp (node, o->except) == 0
    ||  sf_store_get_row (o->r, node, name, &row) || row.sum.status != SF_STATUS_ACTIVE
    ||  sf_live_state (o->live, node, sf_mono_ms (), NULL) == SF_LIVE_DOWN)
        return 0;
    s_node_set (o->node, node);
    return 1;
}

static void
s_current (sf_query_ctx_t *ctx, sf_read_t *r, const char *uid, char *out, size_t size)
{
    sf_fleet_state_t st;
    out [0] = 0;
    if (s_state_load (r, uid, &st) == 0 && st.owner [0]) {
        snprintf (out, size, "%s", st.owner);
        //  Never a down node while a live copy runs (before this
        //  controller's writer has taken the node's death in)
        if (ctx->live && sf_live_state (ctx->live, st.owner, sf_mono_ms (), NULL) == SF_LIVE_DOWN) {
            s_live_owner_t o = { r, ctx->live, st.owner, "" };
            s_uid_scan (r, uid, NULL, s_live_owner_one, &o);
            if (o.node [0])
                snprintf (out, size, "%s", o.node);
        }
        return;
    }
    s_owner_t o = { r, "", "", 0, false, false };
    s_uid_scan (r, uid, NULL, s_owner_one, &o);
    if (o.node [0]) {
        snprintf (out, size, "%s", o.node);
        return;
    }
    s_places_t p = { 0, "" };
    s_uid_scan (r, uid, NULL, s_count_one, &p);
    if (p.count == 1)
        snprintf (out, size, "%s", p.only);
}

typedef struct {
    sf_read_t *r;
    sf_timeline_t *tl;
    size_t cap;
} s_tl_t;

static int
s_tl_placement (const char *node, const char *name, void *arg)
{
    s_tl_t *t = arg;
    sf_row_t row;
    sf_stream_t s;
    sf_stream_init (&s);
    if (sf_store_get_row (t->r, node, name, &row) || sf_row_decode (&row, &s)) {
        sf_stream_clear (&s);
        return 0;
    }
    sf_node_t n;
    bool have_node = sf_store_get_node (t->r, node, &n) == 0;
    for (uint32_t i = 0; i < s.dvr.nranges; i++) {
        if (t->tl->count == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 16;
            t->tl->entries = sf_xreallocarray (t->tl->entries, cap, sizeof (*t->tl->entries));
            t->cap = cap;
        }
        sf_tl_entry_t *e = &t->tl->entries [t->tl->count++];
        memset (e, 0, sizeof (*e));
        snprintf (e->node, sizeof (e->node), "%s", node);
        snprintf (e->name, sizeof (e->name), "%s", name);
        e->from = s.dvr.ranges [i].from;
        e->to = s.dvr.ranges [i].to;
        sf_links_range (&s, have_node ? &n : NULL, e->from, e->to, e->rtsp, e->hls, sizeof (e->rtsp));
    }
    sf_stream_clear (&s);
    return 0;
}

static int
s_tl_cmp (const void *pa, const void *pb)
{
    const sf_tl_entry_t *a = pa, *b = pb;
    if (a->from != b->from)
        return a->from < b->from ? -1 : 1;
    if (a->to != b->to)
        return a->to < b->to ? -1 : 1;
    return strcmp (a->node, b->node);
}

void
sf_timeline_sort (sf_timeline_t *self)
{
    if (self->count > 1)
        qsort (self->entries, self->count, sizeof (sf_tl_entry_t), s_tl_cmp);
}

int
sf_fleet_timeline (sf_query_ctx_t *ctx, const char *name, sf_timeline_t *out,
                   char *err, size_t errlen)
{
    memset (out, 0, sizeof (*out));
    sf_read_t r;
    if (sf_store_read_begin (ctx->store, &r)) {
        snprintf (err, errlen, "storage is unavailable (see the controller's log)");
        return -1;
    }
    if (s_resolve_uid (&r, name, out->uid)) {
        sf_store_read_end (&r);
        snprintf (err, errlen, "no stream named '%.128s' in the fleet", name);
        return -1;
    }
    s_current (ctx, &r, out->uid, out->current, sizeof (out->current));
    s_tl_t t = { &r, out, 0 };
    s_uid_scan (&r, out->uid, NULL, s_tl_placement, &t);
    sf_store_read_end (&r);
    sf_timeline_sort (out);
    return 0;
}

void
sf_timeline_clear (sf_timeline_t *self)
{
    free (self->entries);
    memset (self, 0, sizeof (*self));
}

int
sf_timeline_at (const sf_timeline_t *self, int64_t t, int *before, int *after)
{
    int hold = -1;
    *before = *after = -1;
    for (size_t i = 0; i < self->count; i++) {
        const sf_tl_entry_t *e = &self->entries [i];
        //  Sorted by from: a later holder is one that started later
        if (e->from <= t && t <= e->to)
            hold = (int) i;
        else if (e->to < t) {
            if (*before < 0 || e->to >= self->entries [*before].to)
                *before = (int) i;
        }
        else if (e->from > t && *after < 0)
            *after = (int) i;
    }
    if (hold >= 0)
        *before = *after = -1;
    return hold;
}

int
sf_fleet_history (sf_query_ctx_t *ctx, const char *name, char *current, size_t current_size,
                  sf_fleet_events_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof (*out));
    current [0] = 0;
    char uid [SF_NAME_MAX + 1];
    sf_read_t r;
    if (sf_store_read_begin (ctx->store, &r)) {
        snprintf (err, errlen, "storage is unavailable (see the controller's log)");
        return -1;
    }
    int rc = s_resolve_uid (&r, name, uid);
    if (rc == 0)
        s_current (ctx, &r, uid, current, current_size);
    sf_store_read_end (&r);
    if (rc) {
        snprintf (err, errlen, "no stream named '%.128s' in the fleet", name);
        return -1;
    }
    sf_fleet_query_t q = { .stream = uid, .limit = SIZE_MAX };
    if (sf_fleet_events (ctx, &q, out, err, errlen))
        return -1;
    //  Oldest first reads as a history
    for (size_t i = 0, j = out->count ? out->count - 1 : 0; i < j; i++, j--) {
        sf_fleet_event_t tmp = out->events [i];
        out->events [i] = out->events [j];
        out->events [j] = tmp;
    }
    return 0;
}

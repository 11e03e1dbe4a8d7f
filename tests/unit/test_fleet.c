/*  test_fleet.c — where every stream lives (controller/fleet.c,
    docs/migrations.md).

    Pins down the state machine of one stream (transfer, migrated with its
    duration, returned, failover, a transfer that ends without a move), the
    derived flags, when a transfer counts as stuck, the DVR timeline's
    "which node holds time T" with overlaps and gaps, and — through a real
    LMDB store and the write path — that two controllers applying the same
    records in different interleavings end with the same events.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "sf_fleet.h"

//  The fleet's wall clock in these tests: day 10 of 1970, so the events at
//  small times below are inside the 30-day window (the retention tests move it)
static int64_t s_now_ms = 10LL * 86400 * 1000;

static int64_t
s_test_clock (void)
{
    return s_now_ms;
}

static sf_fleet_change_t
s_start (const char *node, int64_t at_ms)
{
    return (sf_fleet_change_t) { .node = node, .started = true, .at_ms = at_ms, .type = SF_TYPE_PRIMARY };
}

static sf_fleet_change_t
s_stop (const char *node, int64_t at_ms)
{
    return (sf_fleet_change_t) { .node = node, .stopped = true, .at_ms = at_ms, .type = SF_TYPE_PRIMARY };
}

//  Counts the effects of a kind among n
static int
s_count (const sf_fleet_event_t *fx, int n, int kind)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += fx [i].kind == kind;
    return c;
}

static const sf_fleet_event_t *
s_find (const sf_fleet_event_t *fx, int n, int kind)
{
    for (int i = 0; i < n; i++)
        if (fx [i].kind == kind)
            return &fx [i];
    return NULL;
}

static void
test_first_sighting_is_no_event (void **state)
{
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    sf_fleet_change_t ch = s_start ("A", 1000);
    assert_int_equal (sf_fleet_step (&st, &ch, fx), 0);
    assert_string_equal (st.owner, "A");
    assert_int_equal (sf_fleet_flags (&st, "A"), 0);
}

static void
test_overlap_then_stop_is_transfer_then_migrated (void **state)
{
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    sf_fleet_change_t ch = s_start ("A", 1000);
    sf_fleet_step (&st, &ch, fx);
    ch = s_start ("B", 5000);
    ch.owner_running = true;
    int n = sf_fleet_step (&st, &ch, fx);
    assert_int_equal (s_count (fx, n, SF_EV_TRANSFER_STARTED), 1);
    const sf_fleet_event_t *e = s_find (fx, n, SF_EV_TRANSFER_STARTED);
    assert_string_equal (e->from, "A");
    assert_string_equal (e->to, "B");
    assert_int_equal (e->at_ms, 5000);
    assert_int_equal (s_count (fx, n, SF_EV_XFER_OPEN), 1);
    //  both placements are flagged while both run it
    assert_int_equal (sf_fleet_flags (&st, "A"), SF_SUM_TRANSFER);
    assert_int_equal (sf_fleet_flags (&st, "B"), SF_SUM_TRANSFER);
    ch = s_stop ("A", 7500);
    ch.target_running = true;
    n = sf_fleet_step (&st, &ch, fx);
    e = s_find (fx, n, SF_EV_MIGRATED);
    assert_non_null (e);
    assert_string_equal (e->from, "A");
    assert_string_equal (e->to, "B");
    assert_int_equal (e->at_ms, 7500);
    assert_int_equal (e->duration_ms, 2500);
    assert_int_equal (s_count (fx, n, SF_EV_XFER_CLOSE), 1);
    assert_string_equal (st.owner, "B");
    assert_int_equal (sf_fleet_flags (&st, "A"), SF_SUM_MIGRATED);
    assert_int_equal (sf_fleet_flags (&st, "B"), 0);
}

static void
test_late_overlap_gives_the_same_events (void **state)
{
    //  A controller that learns of A's stop before B's start (other
    //  interleaving) still sees the overlap in the records' times
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    sf_fleet_change_t ch = s_start ("A", 1000);
    sf_fleet_step (&st, &ch, fx);
    ch = s_stop ("A", 7500);
    assert_int_equal (sf_fleet_step (&st, &ch, fx), 0);
    ch = s_start ("B", 5000);
    int n = sf_fleet_step (&st, &ch, fx);
    const sf_fleet_event_t *t = s_find (fx, n, SF_EV_TRANSFER_STARTED);
    const sf_fleet_event_t *m = s_find (fx, n, SF_EV_MIGRATED);
    assert_non_null (t);
    assert_non_null (m);
    assert_int_equal (t->at_ms, 5000);
    assert_int_equal (m->at_ms, 7500);
    assert_int_equal (m->duration_ms, 2500);
    assert_string_equal (st.owner, "B");
}

static void
test_move_back_is_returned (void **state)
{
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    sf_fleet_change_t ch = s_start ("A", 1000);
    sf_fleet_step (&st, &ch, fx);
    ch = s_start ("B", 2000); ch.owner_running = true;
    sf_fleet_step (&st, &ch, fx);
    ch = s_stop ("A", 3000); ch.target_running = true;
    sf_fleet_step (&st, &ch, fx);
    ch = s_start ("A", 4000); ch.owner_running = true;
    int n = sf_fleet_step (&st, &ch, fx);
    assert_int_equal (s_count (fx, n, SF_EV_TRANSFER_STARTED), 1);
    ch = s_stop ("B", 6000); ch.target_running = true;
    n = sf_fleet_step (&st, &ch, fx);
    assert_int_equal (s_count (fx, n, SF_EV_MIGRATED), 0);
    const sf_fleet_event_t *e = s_find (fx, n, SF_EV_RETURNED);
    assert_non_null (e);
    assert_string_equal (e->from, "B");
    assert_string_equal (e->to, "A");
    assert_int_equal (e->duration_ms, 2000);
    assert_string_equal (st.owner, "A");
    assert_int_equal (sf_fleet_flags (&st, "B"), SF_SUM_MIGRATED);
    assert_int_equal (sf_fleet_flags (&st, "A"), 0);
}

static void
test_owner_down_is_failover (void **state)
{
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    sf_fleet_change_t ch = s_start ("A", 1000);
    sf_fleet_step (&st, &ch, fx);
    //  A's record still says active, but its node is down
    ch = s_start ("B", 9000);
    ch.type = SF_TYPE_SECONDARY;
    ch.owner_running = true;
    ch.owner_down = true;
    int n = sf_fleet_step (&st, &ch, fx);
    assert_int_equal (n, 1);
    assert_int_equal (fx [0].kind, SF_EV_FAILOVER);
    assert_string_equal (fx [0].from, "A");
    assert_string_equal (fx [0].to, "B");
    assert_int_equal (fx [0].at_ms, 9000);
    assert_string_equal (st.owner, "B");
    assert_int_equal (sf_fleet_flags (&st, "A"), SF_SUM_MIGRATED);
}

static void
test_secondary_after_stop_is_failover_primary_is_cold_move (void **state)
{
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    sf_fleet_change_t ch = s_start ("A", 1000);
    sf_fleet_step (&st, &ch, fx);
    ch = s_stop ("A", 2000);
    sf_fleet_step (&st, &ch, fx);
    ch = s_start ("B", 3000);
    ch.type = SF_TYPE_SECONDARY;
    int n = sf_fleet_step (&st, &ch, fx);
    assert_int_equal (n, 1);
    assert_int_equal (fx [0].kind, SF_EV_FAILOVER);
    //  and a primary that starts after the owner stopped: a move, no overlap
    sf_fleet_state_t st2 = { 0 };
    ch = s_start ("A", 1000);
    sf_fleet_step (&st2, &ch, fx);
    ch = s_stop ("A", 2000);
    sf_fleet_step (&st2, &ch, fx);
    ch = s_start ("C", 3000);
    n = sf_fleet_step (&st2, &ch, fx);
    assert_int_equal (n, 1);
    assert_int_equal (fx [0].kind, SF_EV_MIGRATED);
    assert_int_equal (fx [0].duration_ms, 0);
    assert_string_equal (st2.owner, "C");
}

static void
test_target_gives_up_ends_transfer_without_move (void **state)
{
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    sf_fleet_change_t ch = s_start ("A", 1000);
    sf_fleet_step (&st, &ch, fx);
    ch = s_start ("B", 2000); ch.owner_running = true;
    sf_fleet_step (&st, &ch, fx);
    ch = s_stop ("B", 4000);
    int n = sf_fleet_step (&st, &ch, fx);
    assert_int_equal (n, 1);
    assert_int_equal (fx [0].kind, SF_EV_XFER_CLOSE);
    assert_int_equal (fx [0].start_ms, 2000);
    assert_int_equal (fx [0].at_ms, 4000);
    assert_string_equal (st.owner, "A");
    assert_int_equal (st.xfer_start_ms, 0);
    assert_int_equal (sf_fleet_flags (&st, "A"), 0);
    assert_int_equal (sf_fleet_flags (&st, "B"), 0);
}

static void
test_restart_where_it_lives_is_no_event (void **state)
{
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    sf_fleet_change_t ch = s_start ("A", 1000);
    sf_fleet_step (&st, &ch, fx);
    ch = s_stop ("A", 2000);
    assert_int_equal (sf_fleet_step (&st, &ch, fx), 0);
    ch = s_start ("A", 3000);
    assert_int_equal (sf_fleet_step (&st, &ch, fx), 0);
    assert_int_equal (st.owner_stop_ms, 0);
}

static void
test_left_list_is_bounded_newest_first (void **state)
{
    sf_fleet_state_t st = { 0 };
    sf_fleet_event_t fx [SF_FLEET_EFFECTS_MAX];
    const char *nodes [] = { "n0", "n1", "n2", "n3", "n4", "n5", "n6" };
    sf_fleet_change_t ch = s_start (nodes [0], 1000);
    sf_fleet_step (&st, &ch, fx);
    for (int i = 1; i < 7; i++) {
        ch = s_stop (nodes [i - 1], 1000 * i);
        sf_fleet_step (&st, &ch, fx);
        ch = s_start (nodes [i], 1000 * i + 500);
        int n = sf_fleet_step (&st, &ch, fx);
        assert_int_equal (n, 1);
        assert_int_equal (fx [0].kind, SF_EV_MIGRATED);
    }
    assert_int_equal (st.nleft, SF_FLEET_LEFT_MAX);
    assert_string_equal (st.left [0], "n5");
    assert_false (sf_fleet_state_left (&st, "n0"));
}

static void
test_stuck_after_timeout (void **state)
{
    int64_t at = 0;
    assert_false (sf_fleet_stuck (1000, 0, 100000, 120, &at));          //  open, 99 s
    assert_true (sf_fleet_stuck (1000, 0, 122000, 120, &at));           //  open, 121 s
    assert_int_equal (at, 121000);
    assert_true (sf_fleet_stuck (1000, 200000, 999999, 120, &at));      //  closed late
    assert_int_equal (at, 121000);
    assert_false (sf_fleet_stuck (1000, 50000, 999999, 120, &at));      //  closed in time
    assert_false (sf_fleet_stuck (0, 0, 999999, 120, &at));             //  no transfer
}

static void
s_entry (sf_timeline_t *tl, const char *node, int64_t from, int64_t to)
{
    tl->entries = realloc (tl->entries, (tl->count + 1) * sizeof (sf_tl_entry_t));
    sf_tl_entry_t *e = &tl->entries [tl->count++];
    memset (e, 0, sizeof (*e));
    snprintf (e->node, sizeof (e->node), "%s", node);
    e->from = from;
    e->to = to;
}

static void
test_timeline_at_picks_node_and_gap (void **state)
{
    sf_timeline_t tl = { 0 };
    s_entry (&tl, "B", 300, 400);
    s_entry (&tl, "A", 100, 200);
    s_entry (&tl, "A", 50, 80);
    s_entry (&tl, "C", 390, 500);       //  overlaps B's end (a transfer)
    sf_timeline_sort (&tl);
    assert_int_equal (tl.entries [0].from, 50);
    assert_string_equal (tl.entries [3].node, "C");
    int before, after;
    int i = sf_timeline_at (&tl, 150, &before, &after);
    assert_true (i >= 0);
    assert_string_equal (tl.entries [i].node, "A");
    assert_int_equal (before, -1);
    i = sf_timeline_at (&tl, 350, &before, &after);
    assert_string_equal (tl.entries [i].node, "B");
    //  range ends count as inside
    i = sf_timeline_at (&tl, 200, &before, &after);
    assert_string_equal (tl.entries [i].node, "A");
    //  in the overlap the later-started placement holds it
    i = sf_timeline_at (&tl, 395, &before, &after);
    assert_string_equal (tl.entries [i].node, "C");
    //  a gap between A and B
    i = sf_timeline_at (&tl, 250, &before, &after);
    assert_int_equal (i, -1);
    assert_string_equal (tl.entries [before].node, "A");
    assert_int_equal (tl.entries [before].to, 200);
    assert_string_equal (tl.entries [after].node, "B");
    //  before everything, after everything
    i = sf_timeline_at (&tl, 10, &before, &after);
    assert_int_equal (i, -1);
    assert_int_equal (before, -1);
    assert_int_equal (tl.entries [after].from, 50);
    i = sf_timeline_at (&tl, 900, &before, &after);
    assert_int_equal (i, -1);
    assert_string_equal (tl.entries [before].node, "C");
    assert_int_equal (after, -1);
    sf_timeline_clear (&tl);
    //  an empty timeline is all gap
    assert_int_equal (sf_timeline_at (&tl, 5, &before, &after), -1);
    assert_int_equal (before, -1);
    assert_int_equal (after, -1);
}

//  ---------------------------------------------------------------------------
//  Through the store: two interleavings, the same events

static sf_store_t *
s_store (char *dir)
{
    strcpy (dir, "/tmp/sf-test-fleet.XXXXXX");
    assert_non_null (mkdtemp (dir));
    char err [256];
    sf_store_t *store = sf_store_new (dir, 16 << 20, err, sizeof (err));
    assert_non_null (store);
    return store;
}

static void
s_rmdir (const char *dir)
{
    char cmd [300];
    snprintf (cmd, sizeof (cmd), "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
}

//  The history's fixtures, shared by the tests below: an event, stored in its
//  own transaction or sent as a peer's history message, and the selection
//  asked of the store as the controller asks it (transfer timeout 120 s)

static sf_fleet_event_t
s_ev (int kind, const char *uid, const char *stream, const char *from, const char *to, int64_t at_ms,
      int64_t duration_ms)
{
    sf_fleet_event_t ev;
    memset (&ev, 0, sizeof (ev));
    ev.kind = (uint8_t) kind;
    snprintf (ev.uid, sizeof (ev.uid), "%s", uid);
    snprintf (ev.stream, sizeof (ev.stream), "%s", stream);
    snprintf (ev.from, sizeof (ev.from), "%s", from);
    snprintf (ev.to, sizeof (ev.to), "%s", to);
    ev.at_ms = at_ms;
    ev.duration_ms = duration_ms;
    snprintf (ev.reason, sizeof (ev.reason), "test");
    return ev;
}

//  sf_fleet_event_put in a transaction of its own: its answer
static int
s_store_event (sf_store_t *store, sf_fleet_event_t ev)
{
    assert_int_equal (sf_store_write_begin (store), 0);
    int rc = sf_fleet_event_put (store, &ev);
    assert_int_equal (sf_store_commit (store), 0);
    return rc;
}

//  ev as a peer's history message carries it (an events array of one),
//  applied in the open write transaction: the refused count, *added the new
static int
s_history_msg (sf_store_t *store, const sf_fleet_event_t *ev, size_t *added)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_map (&pk, 8);
    const char *keys [] = { "stream", "uid", "from", "to", "kind", "reason" };
    const char *vals [] = { ev->stream, ev->uid, ev->from, ev->to, sf_event_kind_name (ev->kind), ev->reason };
    for (int i = 0; i < 6; i++) {
        msgpack_pack_str_with_body (&pk, keys [i], strlen (keys [i]));
        msgpack_pack_str_with_body (&pk, vals [i], strlen (vals [i]));
    }
    msgpack_pack_str_with_body (&pk, "at_ms", 5);
    msgpack_pack_int64 (&pk, ev->at_ms);
    msgpack_pack_str_with_body (&pk, "duration_ms", 11);
    msgpack_pack_int64 (&pk, ev->duration_ms);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    int bad = sf_fleet_history_apply (store, &u.data, added);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sb);
    return bad;
}

static sf_query_ctx_t
s_ctx (sf_store_t *store)
{
    return (sf_query_ctx_t) { .store = store, .transfer_timeout_s = 120 };
}

//  q's page of the store (sf_fleet_events, which must answer)
static void
s_query (sf_store_t *store, const sf_fleet_query_t *q, sf_fleet_events_t *evs)
{
    sf_query_ctx_t ctx = s_ctx (store);
    char err [256];
    assert_int_equal (sf_fleet_events (&ctx, q, evs, err, sizeof (err)), 0);
}

typedef struct {
    const char *node;
    int status;
    int64_t started_at;
    int64_t changed_at_ms;
} s_rec_t;

static void
s_put (sf_store_t *store, const s_rec_t *r, uint64_t seq)
{
    sf_stream_t s;
    sf_stream_init (&s);
    SF_STRSET (s.name, "cam");
    SF_STRSET (s.uid, "uid-cam");
    SF_STRSET (s.node, r->node);
    s.status = (uint8_t) r->status;
    s.started_at = r->started_at;
    s.changed_at_ms = r->changed_at_ms;
    s.version = (sf_version_t) { 1, seq };
    assert_int_equal (sf_store_write_begin (store), 0);
    assert_int_equal (sf_fleet_apply_put (store, &s), 0);
    assert_int_equal (sf_store_commit (store), 0);
    sf_stream_clear (&s);
}

static void
s_events (sf_store_t *store, char *out, size_t size)
{
    sf_fleet_events_t evs;
    s_query (store, &(sf_fleet_query_t) { .limit = 100 }, &evs);
    out [0] = 0;
    for (size_t i = 0; i < evs.count; i++) {
        size_t len = strlen (out);
        snprintf (out + len, size - len, "%s %s>%s %lld %lld;", sf_event_kind_name (evs.events [i].kind),
                  evs.events [i].from, evs.events [i].to, (long long) evs.events [i].at_ms,
                  (long long) evs.events [i].duration_ms);
    }
    sf_fleet_events_clear (&evs);
}

static void
test_interleavings_derive_the_same_events (void **state)
{
    //  A runs cam from t=100 s, B starts it at 200 s, A stops at 205.5 s,
    //  later A takes it back (300 s) and B stops (302 s)
    const s_rec_t a_on = { "A", SF_STATUS_ACTIVE, 100, 100000 };
    const s_rec_t b_on = { "B", SF_STATUS_ACTIVE, 200, 200100 };
    const s_rec_t a_off = { "A", SF_STATUS_SUSPEND, 0, 205500 };
    const s_rec_t a_back = { "A", SF_STATUS_ACTIVE, 300, 300050 };
    const s_rec_t b_off = { "B", SF_STATUS_SUSPEND, 0, 302000 };
    char d1 [64], d2 [64];
    sf_store_t *s1 = s_store (d1), *s2 = s_store (d2);
    //  controller 1: in time order
    s_put (s1, &a_on, 1);
    s_put (s1, &b_on, 1);
    s_put (s1, &a_off, 2);
    s_put (s1, &a_back, 3);
    s_put (s1, &b_off, 2);
    //  controller 2: A's changes first where they can be (per-origin order kept)
    s_put (s2, &a_on, 1);
    s_put (s2, &a_off, 2);
    s_put (s2, &b_on, 1);
    s_put (s2, &a_back, 3);
    s_put (s2, &b_off, 2);
    char e1 [1024], e2 [1024];
    s_events (s1, e1, sizeof (e1));
    s_events (s2, e2, sizeof (e2));
    assert_string_equal (e1, "returned B>A 302000 2000;transfer_started B>A 300000 0;"
                             "migrated A>B 205500 5500;transfer_started A>B 200000 0;");
    assert_string_equal (e1, e2);
    //  applying a record again derives nothing more
    s_put (s2, &b_off, 2);
    s_events (s2, e2, sizeof (e2));
    assert_string_equal (e1, e2);
    //  the derived type follows in the listing's summary flags
    sf_read_t r;
    sf_row_t row;
    assert_int_equal (sf_store_read_begin (s1, &r), 0);
    assert_int_equal (sf_store_get_row (&r, "B", "cam", &row), 0);
    sf_query_ctx_t ctx = s_ctx (s1);
    sf_derived_t dv;
    sf_fleet_derive (&ctx, &r, &row, SF_LIVE_ALIVE, 0, &dv);
    assert_int_equal (dv.type, SF_TYPE_MIGRATED);
    assert_string_equal (dv.migrated_to, "A");
    assert_false (dv.transfer);
    assert_int_equal (sf_store_get_row (&r, "A", "cam", &row), 0);
    sf_fleet_derive (&ctx, &r, &row, SF_LIVE_DOWN, 0, &dv);
    assert_int_equal (dv.type, SF_TYPE_PRIMARY);
    assert_int_equal (dv.status, SF_STATUS_OFFLINE);     //  a down node's stream is never active
    sf_store_read_end (&r);
    sf_store_destroy (&s1);
    sf_store_destroy (&s2);
    s_rmdir (d1);
    s_rmdir (d2);
}

static void
test_open_transfer_turns_stuck_at_query_time (void **state)
{
    char d [64];
    sf_store_t *s = s_store (d);
    const s_rec_t a_on = { "A", SF_STATUS_ACTIVE, 100, 100000 };
    const s_rec_t b_on = { "B", SF_STATUS_ACTIVE, 200, 200000 };
    s_put (s, &a_on, 1);
    s_put (s, &b_on, 1);
    char e [1024];
    s_events (s, e, sizeof (e));
    //  started at 200 s, timeout 120 s: stuck at 320 s (now is long after)
    assert_string_equal (e, "transfer_stuck A>B 320000 120000;transfer_started A>B 200000 0;");
    sf_store_destroy (&s);
    s_rmdir (d);
}


//  ---------------------------------------------------------------------------
//  Every order of the facts: generated permutations through the write path

//  The liveness the write path consults: a table the test sets
static int s_down [4];          //  per node A..D: 1 = down

static int64_t s_silent_ms = 150000;     //  since when a down node is silent

//  Nodes suspect (silent since s_silent_ms, not yet declared down) at the
//  start of every order, until declared down or up
static int s_suspect_init [4];
static int s_suspect [4];
//  When a node that is alive was last heard from (wall ms; 0: not known)
static int64_t s_heard [4];

static int
s_test_live (const char *node, int64_t *silent_ms, void *arg)
{
    bool known = node [0] >= 'A' && node [0] <= 'D';
    bool down = known && s_down [node [0] - 'A'];
    bool suspect = known && s_suspect [node [0] - 'A'];
    *silent_ms = down || suspect ? s_silent_ms : known ? s_heard [node [0] - 'A'] : 0;
    return down ? SF_LIVE_DOWN : suspect ? SF_LIVE_SUSPECT : SF_LIVE_ALIVE;
}

//  S_CAUGHT: a put caught up from a peer (sf_fleet_set_caught_up), not
//  observed; S_HIST: an event a peer's history message carries
typedef enum { S_PUT, S_DOWN, S_UP, S_CAUGHT, S_HIST } s_fact_kind_t;

typedef struct {
    const char *label;
    s_fact_kind_t kind;
    const char *node;
    int status;
    int type;
    int64_t started_at;
    int64_t changed_at_ms;
    uint64_t seq;
    int after;                  //  index of a fact that must come first (-1: none)
    int64_t started_at_ms;      //  the media server's start to the ms (0: seconds only)
} s_fact_t;
//  An S_HIST fact: node is "FROM>TO", type the event's kind, changed_at_ms
//  its time and started_at its duration

//  One event as a peer's history message carries it, applied in the open
//  write transaction; returns how many were added
static size_t
s_peer_event (sf_store_t *store, int kind, const char *uid, const char *from, const char *to,
              int64_t at_ms, int64_t duration_ms)
{
    sf_fleet_event_t ev = s_ev (kind, uid, "cam", from, to, at_ms, duration_ms);
    size_t added = 0;
    assert_int_equal (s_history_msg (store, &ev, &added), 0);
    return added;
}

static void
s_apply_fact (sf_store_t *store, const s_fact_t *f)
{
    assert_int_equal (sf_store_write_begin (store), 0);
    if (f->kind == S_PUT || f->kind == S_CAUGHT) {
        sf_fleet_set_caught_up (f->kind == S_CAUGHT);
        sf_stream_t s;
        sf_stream_init (&s);
        SF_STRSET (s.name, "cam");
        SF_STRSET (s.uid, "uid-cam");
        SF_STRSET (s.node, f->node);
        s.status = (uint8_t) f->status;
        s.type = (uint8_t) f->type;
        s.started_at = f->started_at;
        s.started_at_ms = f->started_at_ms;
        s.changed_at_ms = f->changed_at_ms;
        s.version = (sf_version_t) { 1, f->seq };
        assert_int_equal (sf_fleet_apply_put (store, &s), 0);
        sf_stream_clear (&s);
        sf_fleet_set_caught_up (false);
    }
    else if (f->kind == S_HIST) {
        char from [SF_NODE_MAX + 1];
        const char *gt = strchr (f->node, '>');
        assert_non_null (gt);
        snprintf (from, sizeof (from), "%.*s", (int) (gt - f->node), f->node);
        s_peer_event (store, f->type, "uid-cam", from, gt + 1, f->changed_at_ms, f->started_at);
    }
    else if (f->kind == S_DOWN) {
        s_down [f->node [0] - 'A'] = 1;
        assert_int_equal (sf_fleet_node_down (store, f->node), 0);
    }
    else {
        s_down [f->node [0] - 'A'] = 0;
        s_suspect [f->node [0] - 'A'] = 0;
        assert_int_equal (sf_fleet_node_up (store, f->node), 0);
    }
    assert_int_equal (sf_store_commit (store), 0);
}

//  The derived flags of a placement, as letters: M migrated, T transfer, C conflict
static void
s_flags_of (sf_store_t *store, const char *node, char *out)
{
    sf_read_t r;
    sf_row_t row;
    out [0] = 0;
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    if (sf_store_get_row (&r, node, "cam", &row) == 0)
        snprintf (out, 8, "%s%s%s", row.sum.flags & SF_SUM_MIGRATED ? "M" : "",
                  row.sum.flags & SF_SUM_TRANSFER ? "T" : "", row.sum.flags & SF_SUM_CONFLICT ? "C" : "");
    sf_store_read_end (&r);
}

//  The outcome of one order: events, current node, flags of A and B (and
//  of C, when it has a placement)
static void
s_outcome (sf_store_t *store, char *out, size_t size)
{
    char ev [1024], cur [SF_NODE_MAX + 1], fa [8], fb [8], fc [8];
    s_events (store, ev, sizeof (ev));
    sf_query_ctx_t ctx = s_ctx (store);
    sf_fleet_events_t hist;
    char err [256];
    assert_int_equal (sf_fleet_history (&ctx, "cam", cur, sizeof (cur), &hist, err, sizeof (err)), 0);
    sf_fleet_events_clear (&hist);
    s_flags_of (store, "A", fa);
    s_flags_of (store, "B", fb);
    sf_read_t r;
    sf_row_t row;
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    bool have_c = sf_store_get_row (&r, "C", "cam", &row) == 0;
    sf_store_read_end (&r);
    s_flags_of (store, "C", fc);
    snprintf (out, size, "%s current=%s A=%s B=%s%s%s", ev, cur, fa, fb, have_c ? " C=" : "",
              have_c ? fc : "");
}

//  Runs every order of facts [0, n) that keeps each fact's "after" before
//  it; each order ends with tail (facts that come last in this order).
//  Returns the number of orders run; each must end in expect.
static int
s_every_order (const s_fact_t *facts, int n, const s_fact_t *tail, int ntail, const char *expect)
{
    int idx [8];
    for (int i = 0; i < n; i++)
        idx [i] = i;
    int orders = 0, failed = 0;
    //  Heap's algorithm, iterative
    int c [8] = { 0 };
    int i = 0;
    bool first = true;
    while (true) {
        if (!first) {
            while (i < n && c [i] >= i) {
                c [i] = 0;
                i++;
            }
            if (i >= n)
                break;
            int j = i % 2 ? c [i] : 0;
            int tmp = idx [j];
            idx [j] = idx [i];
            idx [i] = tmp;
            c [i]++;
            i = 0;
        }
        first = false;
        //  Constraints: a fact's "after" comes first
        bool ok = true;
        for (int a = 0; a < n && ok; a++)
            if (facts [idx [a]].after >= 0) {
                bool seen = false;
                for (int b = 0; b < a; b++)
                    seen |= idx [b] == facts [idx [a]].after;
                ok = seen;
            }
        if (!ok)
            continue;
        memset (s_down, 0, sizeof (s_down));
        memcpy (s_suspect, s_suspect_init, sizeof (s_suspect));
        char d [64];
        sf_store_t *store = s_store (d);
        char order [256] = "";
        for (int a = 0; a < n; a++) {
            s_apply_fact (store, &facts [idx [a]]);
            size_t len = strlen (order);
            snprintf (order + len, sizeof (order) - len, "%s ", facts [idx [a]].label);
        }
        for (int a = 0; a < ntail; a++)
            s_apply_fact (store, &tail [a]);
        char got [1400];
        s_outcome (store, got, sizeof (got));
        //  Every order that fails is named before the test fails
        if (strcmp (got, expect) != 0) {
            print_message ("order %s: got\n  %s\nwant\n  %s\n", order, got, expect);
            failed++;
        }
        sf_store_destroy (&store);
        s_rmdir (d);
        orders++;
    }
    if (failed)
        fail_msg ("%d of %d orders did not end as expected", failed, orders);
    return orders;
}

static void
test_every_order_of_an_early_takeover (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    //  A runs cam from 100 s; A's agent dies; B's standby takes it over at
    //  200 s while A is only suspect, before or after A is declared down
    const s_fact_t facts [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200100, 1, -1, 0 },
        { "A-down", S_DOWN, "A", 0, 0, 0, 0, 0, -1, 0 },
    };
    const char *want = "failover A>B 200000 0; current=B A=M B=";
    assert_int_equal (s_every_order (facts, 3, NULL, 0, want), 6);
    //  A comes back with the stream still running: flagged conflict on
    //  both, one conflict event, B stays current; A's stop clears it
    const s_fact_t back [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
    };
    assert_int_equal (s_every_order (facts, 3, back, 1,
                      "conflict B>A 200000 0;failover A>B 200000 0; current=B A=MC B=C"), 6);
    //  ... whether A's agent says so again (a snapshot: the same record) or not
    const s_fact_t again [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "A-again", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 2, -1, 0 },
    };
    assert_int_equal (s_every_order (facts, 3, again, 2,
                      "conflict B>A 200000 0;failover A>B 200000 0; current=B A=MC B=C"), 6);
    const s_fact_t stop [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "A-stop", S_PUT, "A", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 400000, 3, -1, 0 },
    };
    assert_int_equal (s_every_order (facts, 3, stop, 2,
                      "conflict B>A 200000 0;failover A>B 200000 0; current=B A=M B="), 6);
    //  B stops instead while A's stale copy runs: the stream lives on A again
    const s_fact_t bstop [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "B-stop", S_PUT, "B", SF_STATUS_SUSPEND, SF_TYPE_SECONDARY, 0, 500000, 2, -1, 0 },
    };
    assert_int_equal (s_every_order (facts, 3, bstop, 2,
                      "returned B>A 500000 300000;conflict B>A 200000 0;failover A>B 200000 0; "
                      "current=A A= B=M"), 6);
    sf_fleet_set_liveness (NULL, NULL);
}

//  started_at has a resolution of one second: a takeover within the second
//  of the stream's start gives both placements the same started_at. A runs
//  cam from 200.1 s and goes silent at 200.3 s, B's standby takes it over at
//  200.7 s: the same failover in every order that can tell it (A's record
//  before B's, or after A was declared down), and A back with its stale
//  copy is the same conflict, not a transfer back to A (which the tie of
//  A's start with B's used to derive). The order the second cannot tell:
//  B's record first, then A's while A is still heard from (a transfer B -> A).
static void
test_every_order_of_a_takeover_within_a_second (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    s_silent_ms = 200300;
    //  A's record first; B's start and A's death in either order
    const s_fact_t a_first [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200700, 1, 0, 0 },
        { "A-down", S_DOWN, "A", 0, 0, 0, 0, 0, -1, 0 },
    };
    //  A's record learned after A was declared down
    const s_fact_t a_late [] = {
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200700, 1, -1, 0 },
        { "A-down", S_DOWN, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 1, 1, 0 },
    };
    const s_fact_t *sets [] = { a_first, a_late };
    const char *failover = "failover A>B 200000 0; current=B A=M B=";
    const char *conflict = "conflict B>A 200000 0;failover A>B 200000 0; current=B A=MC B=C";
    //  A comes back with the stream still running, whether its agent says
    //  so again (the same record) or not, before or after; A's stop ends it
    const s_fact_t back [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
    };
    const s_fact_t up_again [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "A-again", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 2, -1, 0 },
    };
    const s_fact_t again_up [] = {
        { "A-again", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 2, -1, 0 },
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
    };
    const s_fact_t stop [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "A-stop", S_PUT, "A", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 400000, 3, -1, 0 },
    };
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_every_order (sets [i], 3, NULL, 0, failover), 3);
        assert_int_equal (s_every_order (sets [i], 3, back, 1, conflict), 3);
        assert_int_equal (s_every_order (sets [i], 3, up_again, 2, conflict), 3);
        assert_int_equal (s_every_order (sets [i], 3, again_up, 2, conflict), 3);
        assert_int_equal (s_every_order (sets [i], 3, stop, 2,
                          "conflict B>A 200000 0;failover A>B 200000 0; current=B A=M B="), 3);
    }
    //  A run that started anew on A in the second of B's takeover (A ran
    //  it from 199.9 s, its agent was away, nginx started it again at
    //  200.9 s) is no stale copy: a transfer back to A, as in any second
    const s_fact_t anew [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 199, 199900, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200700, 1, 0, 0 },
        { "A-down", S_DOWN, "A", 0, 0, 0, 0, 0, 1, 0 },
        { "A-anew", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200900, 2, 2, 0 },
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, 3, 0 },
    };
    assert_int_equal (s_every_order (anew, 5, NULL, 0, "transfer_stuck B>A 320000 120000;failover A>B 200000 0;"
                      "transfer_started B>A 200000 0; current=B A=T B=T"), 1);
    s_silent_ms = 150000;
    sf_fleet_set_liveness (NULL, NULL);
}

//  The takeover within a second of test_every_order_of_a_takeover_within_a_
//  second (the primary runs cam from 200.1 s and goes silent at 200.3 s, the
//  standby takes it over at 200.7 s), told in seconds only (SRS, AIPIX,
//  push, an older agent), over every order of both starts and the primary's
//  death, then its return: one final state and one event list for all of
//  them. The starts tie; what the other facts do not order, the node ids
//  do (the lower id first, docs/migrations.md "Starts in the same second"),
//  the same on every controller. Both namings: the primary's id lower (A)
//  and higher (B), where the tie-break names the standby first and the
//  primary's death, silent within the second, corrects it (as the down
//  node's tie row does when the death is known first). Failed before:
//  the standby's record first and the primary's while it was heard from
//  gave a transfer standby -> primary, so the death gave no failover
static void
test_every_order_of_a_takeover_within_a_second_by_node_id (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    s_silent_ms = 200300;
    for (int named = 0; named < 2; named++) {
        const char *p = named ? "B" : "A";      //  the primary, which dies
        const char *q = named ? "A" : "B";      //  the standby
        const s_fact_t facts [] = {
            { "P-active", S_PUT, p, SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 1, -1, 0 },
            { "Q-active", S_PUT, q, SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200700, 1, -1, 0 },
            { "P-down", S_DOWN, p, 0, 0, 0, 0, 0, -1, 0 },
        };
        const s_fact_t back [] = {
            { "P-up", S_UP, p, 0, 0, 0, 0, 0, -1, 0 },
        };
        const s_fact_t up_again [] = {
            { "P-up", S_UP, p, 0, 0, 0, 0, 0, -1, 0 },
            { "P-again", S_PUT, p, SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 2, -1, 0 },
        };
        const s_fact_t again_up [] = {
            { "P-again", S_PUT, p, SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 2, -1, 0 },
            { "P-up", S_UP, p, 0, 0, 0, 0, 0, -1, 0 },
        };
        const s_fact_t stop [] = {
            { "P-up", S_UP, p, 0, 0, 0, 0, 0, -1, 0 },
            { "P-stop", S_PUT, p, SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 400000, 3, -1, 0 },
        };
        char heard [256], failover [256], conflict [256], stopped [256];
        //  Both heard from: a transfer from the lower id, in both orders
        snprintf (heard, sizeof (heard),
                  "transfer_stuck A>B 320000 120000;transfer_started A>B 200000 0; current=A A=T B=T");
        snprintf (failover, sizeof (failover), "failover %s>%s 200000 0; current=%s A=%s B=%s",
                  p, q, q, named ? "" : "M", named ? "M" : "");
        snprintf (conflict, sizeof (conflict),
                  "conflict %s>%s 200000 0;failover %s>%s 200000 0; current=%s A=%s B=%s",
                  q, p, p, q, q, named ? "C" : "MC", named ? "MC" : "C");
        snprintf (stopped, sizeof (stopped),
                  "conflict %s>%s 200000 0;failover %s>%s 200000 0; current=%s A=%s B=%s",
                  q, p, p, q, q, named ? "" : "M", named ? "M" : "");
        assert_int_equal (s_every_order (facts, 2, NULL, 0, heard), 2);
        assert_int_equal (s_every_order (facts, 3, NULL, 0, failover), 6);
        assert_int_equal (s_every_order (facts, 3, back, 1, conflict), 6);
        assert_int_equal (s_every_order (facts, 3, up_again, 2, conflict), 6);
        assert_int_equal (s_every_order (facts, 3, again_up, 2, conflict), 6);
        assert_int_equal (s_every_order (facts, 3, stop, 2, stopped), 6);
        //  A controller that learned both records while P was heard from
        //  (a transfer, from the lower id) and then the witnesses' failover
        //  (gossip): the same failover, and P declared down here later
        //  changes nothing
        char hist_label [8];
        snprintf (hist_label, sizeof (hist_label), "%s>%s", p, q);
        const s_fact_t peer [] = {
            { "hist-P>Q", S_HIST, hist_label, 0, SF_EV_FAILOVER, 0, 200000, 0, -1, 0 },
            facts [2],
        };
        assert_int_equal (s_every_order (facts, 2, peer, 1, failover), 2);
        assert_int_equal (s_every_order (facts, 2, peer, 2, failover), 2);
    }
    s_silent_ms = 150000;
    sf_fleet_set_liveness (NULL, NULL);
}

//  A failover the witnesses derived, learned from a peer's history in any
//  order among the facts it was derived from: A runs cam from 100 s (its
//  agent silent from 150 s), B's standby takes it over at 200 s, A is
//  declared down, and a peer's `failover A>B` at 200 s arrives (gossip sends
//  the history before the records, so a controller that was partitioned or
//  behind learns the move before the records of it). The records that
//  follow the move are the stale copy of the node the stream left (A's, a
//  start before the move) and the run of the node it moved to (B's): every
//  order ends with the one failover, current B, A migrated, no transfer.
//  Failed before: the failover, then A's record, then B's gave `returned
//  B>A`, a transfer B>A left open and current A
static void
test_every_order_of_a_failover_with_the_peers_event (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    const s_fact_t facts [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200100, 1, -1, 0 },
        { "A-down", S_DOWN, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "hist-A>B", S_HIST, "A>B", 0, SF_EV_FAILOVER, 0, 200000, 0, -1, 0 },
    };
    const char *want = "failover A>B 200000 0; current=B A=M B=";
    s_suspect_init [0] = 1;            //  A: silent since 150 s
    assert_int_equal (s_every_order (facts, 4, NULL, 0, want), 24);
    //  A back with its stale copy: the conflict, in every order
    const s_fact_t back [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
    };
    assert_int_equal (s_every_order (facts, 4, back, 1,
                      "conflict B>A 200000 0;failover A>B 200000 0; current=B A=MC B=C"), 24);
    s_silent_ms = 200300;
    for (int named = 0; named < 2; named++) {
        const char *p = named ? "B" : "A";
        const char *q = named ? "A" : "B";
        char hl [8], want2 [256];
        snprintf (hl, sizeof (hl), "%s>%s", p, q);
        const s_fact_t tie [] = {
            { "P-active", S_PUT, p, SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 1, -1, 0 },
            { "Q-active", S_PUT, q, SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200700, 1, -1, 0 },
            { "P-down", S_DOWN, p, 0, 0, 0, 0, 0, -1, 0 },
            { "hist", S_HIST, hl, 0, SF_EV_FAILOVER, 0, 200000, 0, -1, 0 },
        };
        memset (s_suspect_init, 0, sizeof (s_suspect_init));
        s_suspect_init [p [0] - 'A'] = 1;      //  P: silent since 200.3 s
        snprintf (want2, sizeof (want2), "failover %s>%s 200000 0; current=%s A=%s B=%s",
                  p, q, q, named ? "" : "M", named ? "M" : "");
        assert_int_equal (s_every_order (tie, 4, NULL, 0, want2), 24);
        //  P back with its stale copy: the conflict, in every order
        const s_fact_t pback [] = {
            { "P-up", S_UP, p, 0, 0, 0, 0, 0, -1, 0 },
        };
        snprintf (want2, sizeof (want2),
                  "conflict %s>%s 200000 0;failover %s>%s 200000 0; current=%s A=%s B=%s",
                  q, p, p, q, q, named ? "C" : "MC", named ? "MC" : "C");
        assert_int_equal (s_every_order (tie, 4, pback, 1, want2), 24);
    }
    memset (s_suspect_init, 0, sizeof (s_suspect_init));
    s_silent_ms = 150000;
    sf_fleet_set_liveness (NULL, NULL);
}

//  A peer's failover A -> B, learned here while A is heard from all along
//  (last at 260 s, after the move: the peer was cut off from A, this
//  controller never was) and A's media server still runs its copy: the
//  stream lives on B, as the witness says, and A's copy, running since
//  before the move, is a stale copy beside B's run: one conflict B>A, in
//  every order of A's record, B's record and the peer's event. Failed
//  before: the conflict was raised only by a start, so the four orders in
//  which B's record or the event came last ended with no conflict. (Where A
//  was not heard from since the move, its death only not known here yet,
//  no conflict: test_every_order_of_a_takeover_within_a_second_by_node_id)
static void
test_every_order_of_a_peers_failover_from_a_node_heard_from (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    memset (s_suspect_init, 0, sizeof (s_suspect_init));
    s_heard [0] = 260000;
    const s_fact_t facts [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200100, 1, -1, 0 },
        { "hist-A>B", S_HIST, "A>B", 0, SF_EV_FAILOVER, 0, 200000, 0, -1, 0 },
    };
    const char *want = "conflict B>A 200000 0;failover A>B 200000 0; current=B A=MC B=C";
    assert_int_equal (s_every_order (facts, 3, NULL, 0, want), 6);
    //  A's copy stops: the conflict ends, the stream lives on B
    const s_fact_t astop [] = {
        { "A-stop", S_PUT, "A", SF_STATUS_OFFLINE, SF_TYPE_PRIMARY, 100, 260000, 2, -1, 0 },
    };
    assert_int_equal (s_every_order (facts, 3, astop, 1,
                      "conflict B>A 200000 0;failover A>B 200000 0; current=B A=M B="), 6);
    s_heard [0] = 0;
    sf_fleet_set_liveness (NULL, NULL);
}

//  The same takeover within a second, told by agents that report the
//  media server's start to the millisecond (started_at_ms): A started cam
//  at 200.1 s, went silent at 200.3 s, B's standby took it at 200.7 s. The
//  milliseconds order the starts, so every order of the facts ends the
//  same: also B's record first and A's while A is still heard from, the
//  order the second cannot tell (it derived a transfer B -> A)
static void
test_every_order_of_a_takeover_within_a_second_by_ms (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    s_silent_ms = 200300;
    const s_fact_t facts [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200150, 1, -1, 200100 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200750, 1, -1, 200700 },
        { "A-down", S_DOWN, "A", 0, 0, 0, 0, 0, -1, 0 },
    };
    //  While A is heard from: a transfer from A, timed at B's start, in both
    //  orders of the records
    assert_int_equal (s_every_order (facts, 2, NULL, 0,
                      "transfer_stuck A>B 320700 120000;transfer_started A>B 200700 0; "
                      "current=A A=T B=T"), 2);
    //  A declared down at any point: one failover, timed at the takeover
    assert_int_equal (s_every_order (facts, 3, NULL, 0,
                      "failover A>B 200700 0; current=B A=M B="), 6);
    //  A back with its stale copy: a conflict, not a transfer back to A
    const s_fact_t back [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "A-again", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200150, 2, -1, 200100 },
    };
    const char *conflict = "conflict B>A 200700 0;failover A>B 200700 0; current=B A=MC B=C";
    assert_int_equal (s_every_order (facts, 3, back, 1, conflict), 6);
    assert_int_equal (s_every_order (facts, 3, back, 2, conflict), 6);
    const s_fact_t stop [] = {
        { "A-up", S_UP, "A", 0, 0, 0, 0, 0, -1, 0 },
        { "A-stop", S_PUT, "A", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 400000, 3, -1, 0 },
    };
    assert_int_equal (s_every_order (facts, 3, stop, 2,
                      "conflict B>A 200700 0;failover A>B 200700 0; current=B A=M B="), 6);
    //  The reverse (B started first, at 200.1 s, A at 200.7 s, both heard
    //  from): a transfer from B, in both orders
    const s_fact_t reverse [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200750, 1, -1, 200700 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200150, 1, -1, 200100 },
    };
    assert_int_equal (s_every_order (reverse, 2, NULL, 0,
                      "transfer_stuck B>A 320700 120000;transfer_started B>A 200700 0; "
                      "current=B A=T B=T"), 2);
    s_silent_ms = 150000;
    sf_fleet_set_liveness (NULL, NULL);
}

//  An old agent on one node (seconds only) and a new one on the other
//  (milliseconds): the starts are ordered by their seconds, as before
//  started_at_ms, since the seconds-only start may be anywhere in its
//  second. They tie; the lower node id counts as first (docs/migrations.md,
//  "Starts in the same second"), so both orders of the records give one
//  outcome, and the primary's death, silent within the second, one
//  failover in every order of the three facts, whichever node has the
//  lower id and whichever reports the ms. Before, B's record first and
//  A's while A was heard from kept B, the first learned, as the owner (a
//  transfer B -> A; A's first gave A -> B): this test pinned that
static void
test_a_start_without_ms_falls_back_to_the_second (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    s_silent_ms = 200300;
    //  { primary, standby, the primary's started_at_ms, the standby's,
    //    both heard from, the failover }
    const struct {
        const char *p, *q;
        int64_t p_ms, q_ms;
        const char *heard, *failover;
    } cases [] = {
        //  A old (seconds), B new: the transfer from A timed at B's ms
        { "A", "B", 0, 200700,
          "transfer_stuck A>B 320700 120000;transfer_started A>B 200700 0; current=A A=T B=T",
          "failover A>B 200700 0; current=B A=M B=" },
        //  A new, B old: the transfer from A timed at A's ms (B joined in
        //  its second, after A by the tie-break), its log from B's second
        { "A", "B", 200100, 0,
          "transfer_stuck A>B 320000 120000;transfer_started A>B 200100 0; current=A A=T B=T",
          "failover A>B 200000 0; current=B A=M B=" },
        //  The primary is B, the standby A (the tie-break names A first)
        { "B", "A", 0, 200700,
          "transfer_stuck A>B 320000 120000;transfer_started A>B 200700 0; current=A A=T B=T",
          "failover B>A 200700 0; current=A A= B=M" },
        { "B", "A", 200100, 0,
          "transfer_stuck A>B 320100 120000;transfer_started A>B 200100 0; current=A A=T B=T",
          "failover B>A 200000 0; current=A A= B=M" },
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases [0]); i++) {
        const s_fact_t facts [] = {
            { "P-active", S_PUT, cases [i].p, SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200,
              cases [i].p_ms ? cases [i].p_ms + 50 : 200100, 1, -1, cases [i].p_ms },
            { "Q-active", S_PUT, cases [i].q, SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200,
              cases [i].q_ms ? cases [i].q_ms + 50 : 200700, 1, -1, cases [i].q_ms },
            { "P-down", S_DOWN, cases [i].p, 0, 0, 0, 0, 0, -1, 0 },
        };
        assert_int_equal (s_every_order (facts, 2, NULL, 0, cases [i].heard), 2);
        assert_int_equal (s_every_order (facts, 3, NULL, 0, cases [i].failover), 6);
    }
    s_silent_ms = 150000;
    sf_fleet_set_liveness (NULL, NULL);
}

static void
test_every_order_of_a_migration (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    //  A runs cam from 100 s, B starts it at 200 s, A stops at 205.5 s;
    //  each origin's records arrive in its own order (A's stop after its
    //  start), the origins interleave in every way
    const s_fact_t facts [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 1, -1, 0 },
        { "A-stop", S_PUT, "A", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 205500, 2, 0, 0 },
    };
    assert_int_equal (s_every_order (facts, 3, NULL, 0,
                      "migrated A>B 205500 5500;transfer_started A>B 200000 0; current=B A=M B="), 3);
    //  the same with B's standby, and A declared down after it stopped the
    //  stream: an orderly move stays a migration
    const s_fact_t down [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_SECONDARY, 200, 200100, 1, -1, 0 },
        { "A-stop", S_PUT, "A", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 205500, 2, 0, 0 },
        { "A-down", S_DOWN, "A", 0, 0, 0, 0, 0, 2, 0 },
    };
    assert_int_equal (s_every_order (down, 4, NULL, 0,
                      "migrated A>B 205500 5500;transfer_started A>B 200000 0; current=B A=M B="), 4);
    //  A transfer that began while the source was still heard from (it went
    //  silent at 300 s, B started at 200 s) is no takeover: when the source
    //  is declared down it stays a transfer (stuck in the end)
    s_silent_ms = 300000;
    const s_fact_t late [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 1, -1, 0 },
        { "A-down", S_DOWN, "A", 0, 0, 0, 0, 0, 1, 0 },
    };
    assert_int_equal (s_every_order (late, 3, NULL, 0,
                      "transfer_stuck A>B 320000 120000;transfer_started A>B 200000 0; current=A A=T B=T"), 3);
    s_silent_ms = 150000;
    sf_fleet_set_liveness (NULL, NULL);
}

static void
test_every_order_of_a_catch_up (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    //  This controller sees cam move A -> B (A from 100 s, B from 200 s, A
    //  stops at 205.5 s). Then it is away while cam moves B -> C (C from
    //  300 s, B stops at 305.5 s) and C -> A (A from 400 s, C stops at
    //  405.5 s), and catches up with the latest records alone, in every
    //  order: B stopped, C stopped, A active since 400 s. Those records
    //  would tell of a move B -> A that never was (returned, or a transfer
    //  and returned): caught up, not observed, they derive no event.
    const s_fact_t facts [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 1, 0, 0 },
        { "A-stop", S_PUT, "A", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 205500, 2, 1, 0 },
        { "B-stopped", S_CAUGHT, "B", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 305500, 3, 2, 0 },
        { "C-stopped", S_CAUGHT, "C", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 405500, 2, 2, 0 },
        { "A-back", S_CAUGHT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 400, 400100, 3, 2, 0 },
    };
    assert_int_equal (s_every_order (facts, 6, NULL, 0,
                      "migrated A>B 205500 5500;transfer_started A>B 200000 0; "
                      "current=A A= B=M C="), 6);
    //  The witnesses' events arrive by the history: the same history as
    //  theirs, and C, which the stream left too, is migrated here as there.
    //  Then B starts cam again, observed: a transfer from A, where it lives
    const s_fact_t tail [] = {
        { "hist-1", S_HIST, "B>C", 0, SF_EV_TRANSFER_STARTED, 0, 300000, 0, -1, 0 },
        { "hist-2", S_HIST, "B>C", 0, SF_EV_MIGRATED, 5500, 305500, 0, -1, 0 },
        { "hist-3", S_HIST, "C>A", 0, SF_EV_TRANSFER_STARTED, 0, 400000, 0, -1, 0 },
        { "hist-4", S_HIST, "C>A", 0, SF_EV_RETURNED, 5500, 405500, 0, -1, 0 },
        { "B-again", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 500, 500100, 4, -1, 0 },
    };
    assert_int_equal (s_every_order (facts, 6, tail, 5,
                      "transfer_stuck A>B 620000 120000;transfer_started A>B 500000 0;"
                      "returned C>A 405500 5500;transfer_started C>A 400000 0;"
                      "migrated B>C 305500 5500;transfer_started B>C 300000 0;"
                      "migrated A>B 205500 5500;transfer_started A>B 200000 0; "
                      "current=A A=T B=T C=M"), 6);
    //  The same records observed (not caught up) are what they tell: the
    //  controller cannot know better, and derives the move B -> A
    s_fact_t seen [6];
    memcpy (seen, facts, sizeof (seen));
    for (int i = 3; i < 6; i++)
        seen [i].kind = S_PUT;
    const s_fact_t order [] = { seen [0], seen [1], seen [2], seen [3], seen [4], seen [5] };
    assert_int_equal (s_every_order (order, 1, order + 1, 5,
                      "returned B>A 400000 0;migrated A>B 205500 5500;transfer_started A>B 200000 0; "
                      "current=A A= B=M C="), 1);
    sf_fleet_set_liveness (NULL, NULL);
}

static void
test_every_order_after_the_witnesses_history (void **state)
{
    sf_fleet_set_liveness (s_test_live, NULL);
    //  The same absence as above (cam moved B -> C -> A while this
    //  controller was away), but it was not restarted, so the records it
    //  learns are not marked caught up: the witnesses' history comes first
    //  (gossip sends it before the records), and its moves bring the state
    //  to where they left it. The records that follow, in every order,
    //  derive nothing: no move B -> A
    const s_fact_t facts [] = {
        { "A-active", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 100, 100000, 1, -1, 0 },
        { "B-active", S_PUT, "B", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 200, 200100, 1, 0, 0 },
        { "A-stop", S_PUT, "A", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 205500, 2, 1, 0 },
        { "hist-B>C", S_HIST, "B>C", 0, SF_EV_MIGRATED, 5500, 305500, 0, 2, 0 },
        { "hist-C>A", S_HIST, "C>A", 0, SF_EV_RETURNED, 5500, 405500, 0, 3, 0 },
        { "B-stopped", S_PUT, "B", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 305500, 3, 4, 0 },
        { "C-stopped", S_PUT, "C", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 405500, 2, 4, 0 },
        { "A-back", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 400, 400100, 3, 4, 0 },
    };
    const s_fact_t tail [] = {
        { "hist-1", S_HIST, "B>C", 0, SF_EV_TRANSFER_STARTED, 0, 300000, 0, -1, 0 },
        { "hist-3", S_HIST, "C>A", 0, SF_EV_TRANSFER_STARTED, 0, 400000, 0, -1, 0 },
    };
    const char *want = "returned C>A 405500 5500;transfer_started C>A 400000 0;"
                       "migrated B>C 305500 5500;transfer_started B>C 300000 0;"
                       "migrated A>B 205500 5500;transfer_started A>B 200000 0; current=A A= B=M C=M";
    assert_int_equal (s_every_order (facts, 8, tail, 2, want), 6);
    //  A controller that joins afterwards (no state, no records yet) learns
    //  the moves oldest first, then the records: the same state
    const s_fact_t late [] = {
        { "hist-A>B", S_HIST, "A>B", 0, SF_EV_MIGRATED, 5500, 205500, 0, -1, 0 },
        { "hist-B>C", S_HIST, "B>C", 0, SF_EV_MIGRATED, 5500, 305500, 0, 0, 0 },
        { "hist-C>A", S_HIST, "C>A", 0, SF_EV_RETURNED, 5500, 405500, 0, 1, 0 },
        { "B-stopped", S_PUT, "B", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 305500, 3, 2, 0 },
        { "C-stopped", S_PUT, "C", SF_STATUS_SUSPEND, SF_TYPE_PRIMARY, 0, 405500, 2, 2, 0 },
        { "A-back", S_PUT, "A", SF_STATUS_ACTIVE, SF_TYPE_PRIMARY, 400, 400100, 3, 2, 0 },
    };
    const s_fact_t late_tail [] = {
        { "hist-0", S_HIST, "A>B", 0, SF_EV_TRANSFER_STARTED, 0, 200000, 0, -1, 0 },
        { "hist-1", S_HIST, "B>C", 0, SF_EV_TRANSFER_STARTED, 0, 300000, 0, -1, 0 },
        { "hist-3", S_HIST, "C>A", 0, SF_EV_TRANSFER_STARTED, 0, 400000, 0, -1, 0 },
    };
    assert_int_equal (s_every_order (late, 6, late_tail, 3, want), 6);
    sf_fleet_set_liveness (NULL, NULL);
}

static void
s_put_cam (sf_store_t *store, const char *uid, int status, uint8_t functions, uint64_t seq)
{
    sf_stream_t s;
    sf_stream_init (&s);
    SF_STRSET (s.name, "cam1");
    SF_STRSET (s.uid, uid);
    SF_STRSET (s.node, "A");
    s.status = (uint8_t) status;
    s.functions = functions;
    s.started_at = 100;
    s.changed_at_ms = 100000 + (int64_t) seq;
    assert_int_equal (sf_dvr_add_range (&s.dvr, 50, 90), 0);
    s.version = (sf_version_t) { 1, seq };
    assert_int_equal (sf_store_write_begin (store), 0);
    assert_int_equal (sf_fleet_apply_put (store, &s), 0);
    assert_int_equal (sf_store_commit (store), 0);
    sf_stream_clear (&s);
}

static void
test_uid_change_is_reindexed (void **state)
{
    char d [64];
    sf_store_t *store = s_store (d);
    sf_query_ctx_t ctx = s_ctx (store);
    s_put_cam (store, "old-uid", SF_STATUS_ACTIVE, SF_FN_DVR, 1);
    //  re-published under a new uid, running all along
    s_put_cam (store, "new-uid", SF_STATUS_ACTIVE, SF_FN_DVR, 2);
    sf_timeline_t tl;
    char err [256];
    assert_int_equal (sf_fleet_timeline (&ctx, "cam1", &tl, err, sizeof (err)), 0);
    assert_string_equal (tl.uid, "new-uid");
    assert_string_equal (tl.current, "A");
    assert_int_equal (tl.count, 1);
    assert_string_equal (tl.entries [0].node, "A");
    sf_timeline_clear (&tl);
    //  no stale entry under the old uid
    assert_int_equal (sf_fleet_timeline (&ctx, "old-uid", &tl, err, sizeof (err)), -1);
    sf_store_destroy (&store);
    s_rmdir (d);
}

static void
test_stopped_stream_keeps_its_functions (void **state)
{
    char d [64];
    sf_store_t *store = s_store (d);
    s_put_cam (store, "cam1", SF_STATUS_ACTIVE, SF_FN_DVR | SF_FN_AUDIO, 1);
    //  nginx-rtmp reports no tracks once the stream stops publishing
    s_put_cam (store, "cam1", SF_STATUS_SUSPEND, SF_FN_DVR, 2);
    sf_read_t r;
    sf_row_t row;
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    assert_int_equal (sf_store_get_row (&r, "A", "cam1", &row), 0);
    assert_int_equal (row.sum.functions, SF_FN_DVR | SF_FN_AUDIO);
    sf_stream_t s;
    sf_stream_init (&s);
    assert_int_equal (sf_row_decode (&row, &s), 0);
    assert_int_equal (s.functions, SF_FN_DVR | SF_FN_AUDIO);
    sf_stream_clear (&s);
    sf_store_read_end (&r);
    //  running again, it reports what it has
    s_put_cam (store, "cam1", SF_STATUS_ACTIVE, SF_FN_DVR, 3);
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    assert_int_equal (sf_store_get_row (&r, "A", "cam1", &row), 0);
    assert_int_equal (row.sum.functions, SF_FN_DVR);
    sf_store_read_end (&r);
    sf_store_destroy (&store);
    s_rmdir (d);
}

//  ---------------------------------------------------------------------------
//  The history store: pages, cursors, filters

//  Stores an event of stream uid (named name) at at_ms, in its own transaction
static void
s_event_at (sf_store_t *store, int kind, const char *uid, const char *from, const char *to,
            int64_t at_ms)
{
    assert_int_equal (s_store_event (store, s_ev (kind, uid, uid, from, to, at_ms, 0)), 0);
}

//  Every event of q, page by page (limit per page) following the cursors
//  through their text, as "kind uid from>to at;" newest first; *pages gets
//  the number of pages. between (if set) runs after each page.
static void
s_page_all (sf_store_t *store, sf_fleet_query_t q, char *out, size_t size, int *pages,
            void (*between) (sf_store_t *, int), size_t *total)
{
    sf_query_ctx_t ctx = s_ctx (store);
    sf_fleet_event_t cursor;
    char text [SF_FLEET_CURSOR_MAX], err [256];
    out [0] = 0;
    *pages = 0;
    for (;;) {
        sf_fleet_events_t evs;
        assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
        assert_true (evs.count <= q.limit);
        if (*pages == 0 && total)
            *total = evs.total;
        for (size_t i = 0; i < evs.count; i++) {
            size_t len = strlen (out);
            snprintf (out + len, size - len, "%s %s %s>%s %lld;", sf_event_kind_name (evs.events [i].kind),
                      evs.events [i].uid, evs.events [i].from, evs.events [i].to,
                      (long long) evs.events [i].at_ms);
        }
        (*pages)++;
        bool more = evs.more;
        if (more) {
            //  The cursor as a client sees it: opaque text, parsed back
            sf_fleet_cursor_make (&evs.events [evs.count - 1], text, sizeof (text));
            assert_true (strlen (text) > 2);
            assert_int_equal (sf_fleet_cursor_parse (text, &cursor), 0);
            q.after = &cursor;
        }
        sf_fleet_events_clear (&evs);
        if (between)
            between (store, *pages);
        if (!more)
            break;
        assert_true (*pages < 100);
    }
}

//  Events of three streams over nodes A, B, C, some at the same millisecond
static void
s_history_fill (sf_store_t *store)
{
    const char *nodes [] = { "A", "B", "C" };
    const char *uids [] = { "cam1", "cam2", "cam3" };
    for (int i = 0; i < 30; i++) {
        int64_t at = 1000000 + (i / 3) * 1000;        //  three events per millisecond
        s_event_at (store, i % 2 ? SF_EV_MIGRATED : SF_EV_TRANSFER_STARTED, uids [i % 3],
                    nodes [i % 3], nodes [(i + 1) % 3], at);
    }
}

static void
test_history_pages_cover_every_event_once (void **state)
{
    char d [64];
    sf_store_t *store = s_store (d);
    s_history_fill (store);
    char one [8192], paged [8192];
    int pages;
    size_t total;
    sf_fleet_query_t q = { .limit = 1000 };
    s_page_all (store, q, one, sizeof (one), &pages, NULL, &total);
    assert_int_equal (pages, 1);
    assert_int_equal (total, 30);
    //  Pages of 4 (and of 1, and of 29): the same events in the same order
    size_t sizes [] = { 4, 1, 29, 30 };
    for (size_t i = 0; i < 4; i++) {
        q.limit = sizes [i];
        s_page_all (store, q, paged, sizeof (paged), &pages, NULL, NULL);
        assert_string_equal (paged, one);
        assert_int_equal (pages, (int) ((30 + sizes [i] - 1) / sizes [i]));
    }
    //  Newest first, ties in one total order
    assert_non_null (strstr (one, "1009000;"));
    assert_true (strstr (one, "1009000;") < strstr (one, "1000000;"));
    //  A cursor that is not one is refused
    sf_fleet_event_t ev;
    assert_int_equal (sf_fleet_cursor_parse ("", &ev), -1);
    assert_int_equal (sf_fleet_cursor_parse ("h1zz", &ev), -1);
    assert_int_equal (sf_fleet_cursor_parse ("h100000000000f4240", &ev), -1);
    assert_int_equal (sf_fleet_cursor_parse ("x100000000000f424000", &ev), -1);
    sf_store_destroy (&store);
    s_rmdir (d);
}

//  Between pages, new events arrive: newer ones (before the cursor) and
//  one older one (after it)
static void
s_insert_between (sf_store_t *store, int page)
{
    if (page == 1) {
        s_event_at (store, SF_EV_FAILOVER, "cam9", "X", "Y", 2000000);     //  newest
        s_event_at (store, SF_EV_FAILOVER, "cam9", "X", "Y", 1009000);     //  the same ms as page 1's
    }
    if (page == 2)
        s_event_at (store, SF_EV_MIGRATED, "cam8", "Y", "X", 500000);      //  oldest
}

static void
test_history_cursor_is_stable_under_inserts (void **state)
{
    char d [64];
    sf_store_t *store = s_store (d);
    s_history_fill (store);
    char before [8192], during [8192], after [8192];
    int pages;
    sf_fleet_query_t q = { .limit = 4 };
    s_page_all (store, q, before, sizeof (before), &pages, NULL, NULL);
    //  Paging while events arrive: no event of the first listing is lost or
    //  listed twice; the old one inserted behind the cursor shows at its place
    s_page_all (store, q, during, sizeof (during), &pages, s_insert_between, NULL);
    char want [8192 + 64];
    snprintf (want, sizeof (want), "%smigrated cam8 Y>X 500000;", before);
    assert_string_equal (during, want);
    //  The next listing has them all, in order
    q.limit = 1000;
    s_page_all (store, q, after, sizeof (after), &pages, NULL, NULL);
    assert_true (strncmp (after, "failover cam9 X>Y 2000000;", 26) == 0);
    assert_non_null (strstr (after, "failover cam9 X>Y 1009000;"));
    assert_int_equal (strlen (after), strlen (want) + strlen ("failover cam9 X>Y 2000000;")
                                                    + strlen ("failover cam9 X>Y 1009000;"));
    sf_store_destroy (&store);
    s_rmdir (d);
}

static void
test_history_filters_by_stream_node_kind_time (void **state)
{
    char d [64];
    sf_store_t *store = s_store (d);
    s_history_fill (store);
    sf_query_ctx_t ctx = s_ctx (store);
    char err [256];
    sf_fleet_events_t evs;
    //  One stream: cam2 is every third event
    sf_fleet_query_t q = { .stream = "cam2", .limit = 1000 };
    assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
    assert_int_equal (evs.total, 10);
    for (size_t i = 0; i < evs.count; i++)
        assert_string_equal (evs.events [i].uid, "cam2");
    sf_fleet_events_clear (&evs);
    //  One node, from or to: A is in two events of every three
    q = (sf_fleet_query_t) { .node = "A", .limit = 1000 };
    assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
    assert_int_equal (evs.total, 20);
    for (size_t i = 0; i < evs.count; i++)
        assert_true (!strcmp (evs.events [i].from, "A") || !strcmp (evs.events [i].to, "A"));
    sf_fleet_events_clear (&evs);
    //  Kinds: total is the kind's, counts every kind of the selection
    q = (sf_fleet_query_t) { .kinds = 1u << SF_EV_MIGRATED, .limit = 2 };
    assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
    assert_int_equal (evs.total, 15);
    assert_int_equal (evs.count, 2);
    assert_true (evs.more);
    assert_int_equal (evs.counts [SF_EV_MIGRATED], 15);
    assert_int_equal (evs.counts [SF_EV_TRANSFER_STARTED], 15);
    for (size_t i = 0; i < evs.count; i++)
        assert_int_equal (evs.events [i].kind, SF_EV_MIGRATED);
    sf_fleet_events_clear (&evs);
    q.kinds |= 1u << SF_EV_TRANSFER_STARTED;
    assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
    assert_int_equal (evs.total, 30);
    sf_fleet_events_clear (&evs);
    //  A time range [start, end): milliseconds 1002000 .. 1004999 hold 9 events
    q = (sf_fleet_query_t) { .start_ms = 1002000, .end_ms = 1005000, .limit = 1000 };
    assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
    assert_int_equal (evs.total, 9);
    for (size_t i = 0; i < evs.count; i++)
        assert_true (evs.events [i].at_ms >= 1002000 && evs.events [i].at_ms < 1005000);
    sf_fleet_events_clear (&evs);
    //  All of them together, paged
    char paged [4096];
    int pages;
    size_t total;
    q = (sf_fleet_query_t) { .stream = "cam1", .node = "B", .kinds = 1u << SF_EV_TRANSFER_STARTED,
                             .start_ms = 1000000, .end_ms = 1009000, .limit = 1 };
    s_page_all (store, q, paged, sizeof (paged), &pages, NULL, &total);
    //  cam1 is i = 0, 3, ..., 27 (A>B); transfer_started: even i; before ms 1009000: i < 27
    assert_string_equal (paged, "transfer_started cam1 A>B 1008000;transfer_started cam1 A>B 1006000;"
                                "transfer_started cam1 A>B 1004000;transfer_started cam1 A>B 1002000;"
                                "transfer_started cam1 A>B 1000000;");
    assert_int_equal (total, 5);
    assert_int_equal (pages, 5);
    sf_store_destroy (&store);
    s_rmdir (d);
}

//  Stuck transfers, derived from the transfer log, page with the events
//  (merged in one order), and the totals follow the clock as they turn stuck
static void
test_history_pages_merge_stuck_transfers (void **state)
{
    char d [64];
    sf_store_t *store = s_store (d);
    int64_t saved = s_now_ms;
    s_now_ms = 250000;              //  the transfers open at 200..204 s, not stuck yet
    for (int i = 0; i < 5; i++) {
        char uid [16];
        snprintf (uid, sizeof (uid), "cam%d", i);
        for (int n = 0; n < 2; n++) {
            sf_stream_t st;
            sf_stream_init (&st);
            SF_STRSET (st.name, uid);
            SF_STRSET (st.uid, uid);
            SF_STRSET (st.node, n ? "B" : "A");
            st.status = SF_STATUS_ACTIVE;
            st.started_at = (n ? 200 : 100) + i;
            st.changed_at_ms = st.started_at * 1000;
            st.version = (sf_version_t) { 1, (uint64_t) i + 1 };
            assert_int_equal (sf_store_write_begin (store), 0);
            assert_int_equal (sf_fleet_apply_put (store, &st), 0);
            assert_int_equal (sf_store_commit (store), 0);
            sf_stream_clear (&st);
        }
    }
    char one [4096], paged [4096];
    int pages;
    size_t total;
    sf_fleet_query_t q = { .limit = 1000 };
    s_page_all (store, q, one, sizeof (one), &pages, NULL, &total);
    assert_int_equal (total, 5);
    assert_null (strstr (one, "transfer_stuck"));
    //  At 10 days every transfer is stuck (at start + 120 s): the totals
    //  counted before are not kept past the moment the first turned stuck
    s_now_ms = saved;
    s_page_all (store, q, one, sizeof (one), &pages, NULL, &total);
    assert_int_equal (total, 10);
    assert_non_null (strstr (one, "transfer_stuck cam4 A>B 324000;transfer_stuck cam3 A>B 323000;"));
    for (size_t limit = 1; limit <= 4; limit++) {
        q.limit = limit;
        s_page_all (store, q, paged, sizeof (paged), &pages, NULL, NULL);
        assert_string_equal (paged, one);
        assert_int_equal (pages, (int) ((10 + limit - 1) / limit));
    }
    //  Only stuck ones, by a cursor
    q = (sf_fleet_query_t) { .kinds = 1u << SF_EV_TRANSFER_STUCK, .limit = 2 };
    s_page_all (store, q, paged, sizeof (paged), &pages, NULL, &total);
    assert_int_equal (total, 5);
    assert_int_equal (pages, 3);
    assert_string_equal (paged, "transfer_stuck cam4 A>B 324000;transfer_stuck cam3 A>B 323000;"
                                "transfer_stuck cam2 A>B 322000;transfer_stuck cam1 A>B 321000;"
                                "transfer_stuck cam0 A>B 320000;");
    sf_store_destroy (&store);
    s_rmdir (d);
}

//  The filter index: a stream by uid or by name (an event of uid u1 named
//  cam-x, and one of a stream whose uid is cam-x), a node as from or to,
//  both filters at once; and a database from before the index (no entries,
//  not marked complete) answers the same by walking the events until the
//  sweep indexes it, and then by a seek
static const char *
s_filtered (sf_store_t *store, const char *stream, const char *node, char *out, size_t size,
            size_t *visited)
{
    sf_fleet_events_t evs;
    s_query (store, &(sf_fleet_query_t) { .stream = stream, .node = node, .limit = 100 }, &evs);
    assert_int_equal (evs.total, evs.count);
    out [0] = 0;
    for (size_t i = 0; i < evs.count; i++) {
        char one [600];
        snprintf (one, sizeof (one), "%s/%s %s>%s;", evs.events [i].uid, evs.events [i].stream,
                  evs.events [i].from, evs.events [i].to);
        strncat (out, one, size - strlen (out) - 1);
    }
    *visited = evs.visited;
    sf_fleet_events_clear (&evs);
    return out;
}

static int
s_byref_key (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    sf_key_t key = { .size = k->size };
    memcpy (key.data, k->data, k->size);
    sf_store_del (arg, SF_DB_FLEET_BYREF, &key);
    return 0;
}

static void
test_history_filter_index (void **state)
{
    char d [64], out [1024];
    sf_store_t *store = s_store (d);
    assert_int_equal (sf_store_write_begin (store), 0);
    const struct { const char *uid, *stream, *from, *to; } evs [] = {
        { "u1", "cam-x", "A", "B" }, { "u2", "cam-y", "B", "C" }, { "cam-x", "cam-x", "C", "A" },
        { "u3", "", "D", "D" }
    };
    for (int i = 0; i < 4; i++) {
        sf_fleet_event_t ev = s_ev (SF_EV_MIGRATED, evs [i].uid, evs [i].stream, evs [i].from, evs [i].to,
                                    1000 * (i + 1), 0);
        assert_int_equal (sf_fleet_event_put (store, &ev), 0);
    }
    assert_int_equal (sf_store_commit (store), 0);
    for (int pass = 0; pass < 3; pass++) {
        size_t visited;
        bool seek = pass != 1;          //  pass 1: as an older database
        assert_string_equal (s_filtered (store, "cam-x", NULL, out, sizeof (out), &visited),
                             "cam-x/cam-x C>A;u1/cam-x A>B;");
        assert_true (!seek || visited == 2);
        assert_string_equal (s_filtered (store, "u1", NULL, out, sizeof (out), &visited), "u1/cam-x A>B;");
        assert_string_equal (s_filtered (store, "cam-y", NULL, out, sizeof (out), &visited), "u2/cam-y B>C;");
        assert_string_equal (s_filtered (store, NULL, "C", out, sizeof (out), &visited),
                             "cam-x/cam-x C>A;u2/cam-y B>C;");
        assert_true (!seek || visited == 2);
        assert_string_equal (s_filtered (store, NULL, "D", out, sizeof (out), &visited), "u3/ D>D;");
        assert_string_equal (s_filtered (store, "cam-x", "B", out, sizeof (out), &visited), "u1/cam-x A>B;");
        assert_true (!seek || visited == 2);
        assert_string_equal (s_filtered (store, "nosuch", NULL, out, sizeof (out), &visited), "");
        assert_true (!seek || visited == 0);
        if (pass == 0) {
            //  An older database: no index entries, not marked complete
            assert_int_equal (sf_store_write_begin (store), 0);
            sf_read_t w;
            assert_int_equal (sf_store_write_view (store, &w), 0);
            sf_store_foreach (&w, SF_DB_FLEET_BYREF, NULL, 0, s_byref_key, store);
            sf_key_t k;
            assert_int_equal (sf_key_make (&k, "n", "\x02byref-complete"), 0);
            assert_int_equal (sf_store_del (store, SF_DB_FLEET_STATE, &k), 0);
            assert_int_equal (sf_store_commit (store), 0);
        }
        if (pass == 1) {
            //  The sweep indexes it
            assert_int_equal (sf_store_write_begin (store), 0);
            assert_true (sf_fleet_history_prune (store) >= 0);
            assert_int_equal (sf_store_commit (store), 0);
        }
    }
    sf_store_destroy (&store);
    s_rmdir (d);
}

//  A deep page is a seek: it walks the page (and one more), however many
//  events come before it, also a page of one stream or one node (the filter
//  index); the totals are counted once for the selection and follow a new
//  event at once. SF_HISTORY_BENCH_EVENTS=1000000 (make bench-history) runs
//  it alone as the benchmark of docs/benchmarks.md (times printed, never
//  asserted).
static double
s_ms_since (const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime (CLOCK_MONOTONIC, &t1);
    return (double) (t1.tv_sec - t0->tv_sec) * 1e3 + (double) (t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int64_t s_bench_step = 1000;    //  ms between the bench's events

//  Event i of the bench's n: stream cam(i mod n/10), A -> B or B -> A, and
//  every hundredth from C
static void
s_bench_nodes (size_t i, sf_fleet_event_t *ev)
{
    strcpy (ev->from, i % 100 == 0 ? "C" : i % 2 ? "A" : "B");
    strcpy (ev->to, i % 2 ? "B" : "A");
}

static void
s_bench_event (size_t i, size_t n, int64_t base, sf_fleet_event_t *ev)
{
    char uid [32];
    snprintf (uid, sizeof (uid), "cam%zu", i % (n / 10 ? n / 10 : 1));
    *ev = s_ev (SF_EV_MIGRATED, uid, uid, "", "", base + (int64_t) i * s_bench_step, 0);
    s_bench_nodes (i, ev);
}

static void
test_history_deep_page_is_a_seek (void **state)
{
    const char *env = getenv ("SF_HISTORY_BENCH_EVENTS");
    size_t n = env && atol (env) > 0 ? (size_t) atol (env) : 3000;
    bool bench = env != NULL;
    char dir [64] = "/tmp/sf-test-fleet.XXXXXX", err [256];
    assert_non_null (mkdtemp (dir));
    sf_store_t *store = sf_store_new (dir, (size_t) 4 << 30, err, sizeof (err));
    assert_non_null (store);
    //  n events of n / 10 streams, in transactions of 10,000, one a second,
    //  closer when that would reach past the 30-day window (the fleet's
    //  clock is at day 10): a million are 0.69 s apart
    struct timespec t0;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    s_bench_step = (int64_t) n * 1000 > 8LL * 86400 * 1000 ? 8LL * 86400 * 1000 / (int64_t) n : 1000;
    int64_t base = s_now_ms - (int64_t) n * s_bench_step - 1000;
    for (size_t i = 0; i < n; i++) {
        if (i % 10000 == 0)
            assert_int_equal (sf_store_write_begin (store), 0);
        sf_fleet_event_t ev;
        s_bench_event (i, n, base, &ev);
        assert_int_equal (sf_fleet_event_put (store, &ev), 0);
        if (i % 10000 == 9999 || i == n - 1)
            assert_int_equal (sf_store_commit (store), 0);
    }
    double fill_ms = s_ms_since (&t0);
    sf_query_ctx_t ctx = s_ctx (store);
    sf_fleet_events_t evs;
    //  The first page: the totals' pass
    sf_fleet_query_t q = { .limit = 100 };
    clock_gettime (CLOCK_MONOTONIC, &t0);
    assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
    double first_ms = s_ms_since (&t0);
    assert_int_equal (evs.total, n);
    assert_int_equal (evs.count, 100);
    assert_int_equal (evs.events [0].at_ms, base + (int64_t) (n - 1) * s_bench_step);
    sf_fleet_events_clear (&evs);
    //  The page after the event at offset n / 2 (newest first)
    size_t offset = n / 2;
    sf_fleet_event_t cursor;
    memset (&cursor, 0, sizeof (cursor));
    size_t at = n - 1 - offset;
    s_bench_event (at, n, base, &cursor);
    q.after = &cursor;
    double deep_ms = 0;
    int rounds = bench ? 100 : 3;
    for (int i = 0; i < rounds; i++) {
        clock_gettime (CLOCK_MONOTONIC, &t0);
        assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
        deep_ms += s_ms_since (&t0);
        assert_int_equal (evs.total, n);
        assert_int_equal (evs.count, 100);
        assert_true (evs.more);
        for (size_t k = 0; k < evs.count; k++)
            assert_int_equal (evs.events [k].at_ms, base + (int64_t) (at - 1 - k) * s_bench_step);
        //  the page and the one after it, no more (the stuck walk: nothing)
        assert_true (evs.visited <= 102);
        sf_fleet_events_clear (&evs);
    }
    //  Filtered deep pages are seeks too (the filter index): a stream's
    //  events (10 of them, one every n/10) after its event at offset n / 2,
    //  and node C's (every hundredth) after the one nearest offset n / 2
    size_t streams = n / 10 ? n / 10 : 1, cam = at % streams;
    char uid [32];
    snprintf (uid, sizeof (uid), "cam%zu", cam);
    sf_fleet_query_t qs = { .stream = uid, .after = &cursor, .limit = 3 };
    double stream_ms = 0, node_ms = 0;
    //  (the first of each selection counts its totals: not timed)
    assert_int_equal (sf_fleet_events (&ctx, &qs, &evs, err, sizeof (err)), 0);
    sf_fleet_events_clear (&evs);
    for (int i = 0; i < rounds; i++) {
        clock_gettime (CLOCK_MONOTONIC, &t0);
        assert_int_equal (sf_fleet_events (&ctx, &qs, &evs, err, sizeof (err)), 0);
        stream_ms += s_ms_since (&t0);
        assert_int_equal (evs.total, 10);
        assert_int_equal (evs.count, 3);
        for (size_t k = 0; k < evs.count; k++)
            assert_int_equal (evs.events [k].at_ms, base + (int64_t) (at - (k + 1) * streams) * s_bench_step);
        assert_true (evs.visited <= 4);     //  the page and one more
        sf_fleet_events_clear (&evs);
    }
    size_t atc = at - at % 100;
    sf_fleet_event_t cc;
    s_bench_event (atc, n, base, &cc);
    sf_fleet_query_t qn = { .node = "C", .after = &cc, .limit = 10 };
    assert_int_equal (sf_fleet_events (&ctx, &qn, &evs, err, sizeof (err)), 0);
    sf_fleet_events_clear (&evs);
    for (int i = 0; i < rounds; i++) {
        clock_gettime (CLOCK_MONOTONIC, &t0);
        assert_int_equal (sf_fleet_events (&ctx, &qn, &evs, err, sizeof (err)), 0);
        node_ms += s_ms_since (&t0);
        assert_int_equal (evs.total, (n + 99) / 100);
        assert_int_equal (evs.count, atc / 100 < 10 ? atc / 100 : 10);
        for (size_t k = 0; k < evs.count; k++) {
            assert_string_equal (evs.events [k].from, "C");
            assert_int_equal (evs.events [k].at_ms, base + (int64_t) (atc - (k + 1) * 100) * s_bench_step);
        }
        assert_true (evs.visited <= 11);
        sf_fleet_events_clear (&evs);
    }
    //  A new event: the totals follow at once
    s_event_at (store, SF_EV_FAILOVER, "new", "A", "B", s_now_ms - 500);
    assert_int_equal (sf_fleet_events (&ctx, &q, &evs, err, sizeof (err)), 0);
    assert_int_equal (evs.total, n + 1);
    assert_int_equal (evs.counts [SF_EV_FAILOVER], 1);
    sf_fleet_events_clear (&evs);
    if (bench)
        printf ("# history bench: %zu events (%zu streams) stored in %.0f ms; first page of 100 "
                "(with the totals' pass) %.2f ms; page of 100 after offset %zu %.3f ms "
                "(mean of %d, totals cached); a stream's page of 3 there %.3f ms, node C's "
                "page of 10 (every hundredth event) %.3f ms\n", n, n / 10, fill_ms, first_ms, offset,
                deep_ms / rounds, rounds, stream_ms / rounds, node_ms / rounds);
    sf_store_destroy (&store);
    s_rmdir (dir);
}

//  ---------------------------------------------------------------------------
//  Retention: the window and the bound per stream, on every insert

#define S_DAY_MS (86400LL * 1000)

//  The listing as "uid@at;" newest first
static void
s_listing (sf_store_t *store, char *out, size_t size)
{
    sf_fleet_events_t evs;
    s_query (store, &(sf_fleet_query_t) { .limit = 1000 }, &evs);
    out [0] = 0;
    for (size_t i = 0; i < evs.count; i++) {
        size_t len = strlen (out);
        snprintf (out + len, size - len, "%s@%lld;", evs.events [i].uid, (long long) evs.events [i].at_ms);
    }
    sf_fleet_events_clear (&evs);
}

//  One event as a peer sends it (the history message's events array)
static int
s_peer_apply (sf_store_t *store, const char *uid, int64_t at_ms, size_t *added)
{
    sf_fleet_event_t ev = s_ev (SF_EV_MIGRATED, uid, uid, "A", "B", at_ms, 0);
    assert_int_equal (sf_store_write_begin (store), 0);
    int bad = s_history_msg (store, &ev, added);
    assert_int_equal (sf_store_commit (store), 0);
    return bad;
}

static int
s_put_event (sf_store_t *store, const char *uid, int64_t at_ms)
{
    return s_store_event (store, s_ev (SF_EV_MIGRATED, uid, uid, "A", "B", at_ms, 0));
}

static int
s_prune (sf_store_t *store)
{
    assert_int_equal (sf_store_write_begin (store), 0);
    int gone = sf_fleet_history_prune (store);
    assert_int_equal (sf_store_commit (store), 0);
    return gone;
}

static void
test_history_window_is_kept_on_insert_sweep_and_gossip (void **state)
{
    char d [64], list [1024];
    sf_store_t *store = s_store (d);
    s_now_ms = 40 * S_DAY_MS;
    //  Outside the 30 days: never stored, whether derived here or learned
    assert_int_equal (s_put_event (store, "cam", 5 * S_DAY_MS), 1);
    size_t added = 9;
    assert_int_equal (s_peer_apply (store, "cam", 6 * S_DAY_MS, &added), 0);
    assert_int_equal (added, 0);
    assert_int_equal (s_put_event (store, "cam", 20 * S_DAY_MS), 0);
    assert_int_equal (s_put_event (store, "cam", 35 * S_DAY_MS), 0);
    s_listing (store, list, sizeof (list));
    assert_string_equal (list, "cam@3024000000;cam@1728000000;");
    //  Eleven days on, day 20 is out of the window: not listed even before
    //  the sweep, gone after it, and a peer that still has it cannot bring it back
    s_now_ms = 51 * S_DAY_MS;
    s_listing (store, list, sizeof (list));
    assert_string_equal (list, "cam@3024000000;");
    assert_int_equal (s_prune (store), 1);
    assert_int_equal (s_peer_apply (store, "cam", 20 * S_DAY_MS, &added), 0);
    assert_int_equal (added, 0);
    s_listing (store, list, sizeof (list));
    assert_string_equal (list, "cam@3024000000;");
    sf_read_t r;
    size_t nev, nidx;
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    assert_int_equal (sf_store_count (&r, SF_DB_FLEET_EVENTS, &nev), 0);
    assert_int_equal (sf_store_count (&r, SF_DB_FLEET_BYUID, &nidx), 0);
    sf_store_read_end (&r);
    assert_int_equal (nev, 1);
    assert_int_equal (nidx, 1);
    s_now_ms = 10 * S_DAY_MS;
    sf_store_destroy (&store);
    s_rmdir (d);
}

static void
test_history_bound_per_stream_is_the_newest_whatever_the_order (void **state)
{
    char d1 [64], d2 [64], l1 [1024], l2 [1024];
    sf_store_t *s1 = s_store (d1), *s2 = s_store (d2);
    sf_fleet_set_history (30, 3);
    //  s1 learns cam's events oldest first, s2 newest first (and from a peer)
    for (int i = 1; i <= 6; i++)
        s_put_event (s1, "cam", i * 1000);
    for (int i = 6; i >= 1; i--) {
        size_t added;
        assert_int_equal (s_peer_apply (s2, "cam", i * 1000, &added), 0);
        assert_int_equal (added, i >= 4 ? 1 : 0);     //  older than a full stream's oldest: refused
    }
    s_put_event (s1, "yard", 500);
    s_put_event (s2, "yard", 500);
    s_listing (s1, l1, sizeof (l1));
    s_listing (s2, l2, sizeof (l2));
    assert_string_equal (l1, "cam@6000;cam@5000;cam@4000;yard@500;");
    assert_string_equal (l2, l1);
    //  A newer one pushes the oldest out; an older one stays out
    assert_int_equal (s_put_event (s1, "cam", 7000), 0);
    assert_int_equal (s_put_event (s1, "cam", 3500), 1);
    s_listing (s1, l1, sizeof (l1));
    assert_string_equal (l1, "cam@7000;cam@6000;cam@5000;yard@500;");
    //  A lower bound is applied to every stream by the next sweep; a lost
    //  per-stream index (a database from before it) is rebuilt first
    sf_read_t r;
    assert_int_equal (sf_store_write_begin (s1), 0);
    assert_int_equal (sf_store_write_view (s1, &r), 0);
    sf_key_t k;
    sf_key_make (&k, "sLBsn", "cam", (uint64_t) 7000, (int) SF_EV_MIGRATED, "A", "B");
    assert_int_equal (sf_store_del (s1, SF_DB_FLEET_BYUID, &k), 0);
    assert_int_equal (sf_store_commit (s1), 0);
    sf_fleet_set_history (30, 2);
    assert_int_equal (s_prune (s1), 1);
    s_listing (s1, l1, sizeof (l1));
    assert_string_equal (l1, "cam@7000;cam@6000;yard@500;");
    size_t nev, nidx;
    assert_int_equal (sf_store_read_begin (s1, &r), 0);
    assert_int_equal (sf_store_count (&r, SF_DB_FLEET_EVENTS, &nev), 0);
    assert_int_equal (sf_store_count (&r, SF_DB_FLEET_BYUID, &nidx), 0);
    sf_store_read_end (&r);
    assert_int_equal (nev, 3);
    assert_int_equal (nidx, 3);
    sf_fleet_set_history (30, 1000);
    sf_store_destroy (&s1);
    sf_store_destroy (&s2);
    s_rmdir (d1);
    s_rmdir (d2);
}

//  The digest a controller sends (its own bounds in it), kept unpacked in u
static void
s_digest_of (sf_store_t *store, msgpack_sbuffer *sb, msgpack_unpacked *u)
{
    msgpack_sbuffer_clear (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    sf_fleet_history_digest (store, &pk);
    msgpack_unpacked_destroy (u);
    msgpack_unpacked_init (u);
    assert_int_equal (msgpack_unpack_next (u, sb->data, sb->size, NULL), MSGPACK_UNPACK_SUCCESS);
}

//  What the sender offers against theirs, applied to the receiver when
//  apply is set (under the receiver's bounds, given); returns how many
static size_t
s_offer_round (sf_store_t *from, const msgpack_object *theirs, sf_store_t *to, int64_t days,
               uint32_t per)
{
    msgpack_sbuffer out;
    msgpack_sbuffer_init (&out);
    size_t n = sf_fleet_history_offer (from, theirs, 2000, &out);
    if (n && to) {
        sf_fleet_set_history (days, per);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        assert_int_equal (msgpack_unpack_next (&u, out.data, out.size, NULL), MSGPACK_UNPACK_SUCCESS);
        size_t added;
        assert_int_equal (sf_store_write_begin (to), 0);
        assert_int_equal (sf_fleet_history_apply (to, &u.data, &added), 0);
        assert_int_equal (sf_store_commit (to), 0);
        msgpack_unpacked_destroy (&u);
    }
    msgpack_sbuffer_destroy (&out);
    return n;
}

static void
test_history_offers_honour_the_receivers_bounds (void **state)
{
    //  The receiver keeps a day and 2 events per stream; the sender 30 days
    //  and 1000. Both hold cam's six events and an event of 5 days ago
    char d1 [64], d2 [64], l1 [1024], l2 [1024];
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_unpacked theirs;
    msgpack_unpacked_init (&theirs);
    sf_fleet_set_history (1, 2);
    sf_store_t *rx = s_store (d2);
    for (int i = 1; i <= 6; i++)
        s_put_event (rx, "cam", s_now_ms - 10000 + i * 1000);
    assert_int_equal (s_put_event (rx, "yard", s_now_ms - 5 * S_DAY_MS), 1);   //  not kept
    s_digest_of (rx, &sb, &theirs);
    sf_fleet_set_history (30, 1000);
    sf_store_t *tx = s_store (d1);
    for (int i = 1; i <= 6; i++)
        s_put_event (tx, "cam", s_now_ms - 10000 + i * 1000);
    assert_int_equal (s_put_event (tx, "yard", s_now_ms - 5 * S_DAY_MS), 0);
    //  Round after round, nothing is offered: the receiver has all it keeps
    size_t offered = 0;
    for (int round = 0; round < 5; round++)
        offered += s_offer_round (tx, &theirs.data, NULL, 0, 0);
    assert_int_equal (offered, 0);
    //  A newer event is offered (with the hour's others the receiver keeps),
    //  stored there, and then nothing again
    s_put_event (tx, "cam", s_now_ms - 1000);
    sf_fleet_set_history (30, 1000);            //  the digest afresh at once
    size_t n = s_offer_round (tx, &theirs.data, rx, 1, 2);
    assert_true (n >= 1 && n <= 2);
    s_digest_of (rx, &sb, &theirs);
    s_listing (rx, l2, sizeof (l2));
    sf_fleet_set_history (30, 1000);
    for (int round = 0; round < 5; round++)
        assert_int_equal (s_offer_round (tx, &theirs.data, NULL, 0, 0), 0);
    //  The receiver lists the newest two of cam, as it should
    snprintf (l1, sizeof (l1), "cam@%lld;cam@%lld;", (long long) (s_now_ms - 1000),
              (long long) (s_now_ms - 4000));
    assert_string_equal (l2, l1);
    //  A receiver that sends no bounds (an older version) is compared as
    //  one with ours: its digest without the pair differs, all is offered
    msgpack_object *items = theirs.data.via.array.ptr;
    uint32_t size = theirs.data.via.array.size;
    assert_true (size >= 2);
    theirs.data.via.array.size = size - 1;      //  the pair is the last element
    assert_true (items [size - 1].via.array.size == 2);
    assert_true (s_offer_round (tx, &theirs.data, NULL, 0, 0) > 0);
    msgpack_unpacked_destroy (&theirs);
    msgpack_sbuffer_destroy (&sb);
    sf_store_destroy (&tx);
    sf_store_destroy (&rx);
    s_rmdir (d1);
    s_rmdir (d2);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_first_sighting_is_no_event),
        cmocka_unit_test (test_overlap_then_stop_is_transfer_then_migrated),
        cmocka_unit_test (test_late_overlap_gives_the_same_events),
        cmocka_unit_test (test_move_back_is_returned),
        cmocka_unit_test (test_owner_down_is_failover),
        cmocka_unit_test (test_secondary_after_stop_is_failover_primary_is_cold_move),
        cmocka_unit_test (test_target_gives_up_ends_transfer_without_move),
        cmocka_unit_test (test_restart_where_it_lives_is_no_event),
        cmocka_unit_test (test_left_list_is_bounded_newest_first),
        cmocka_unit_test (test_stuck_after_timeout),
        cmocka_unit_test (test_timeline_at_picks_node_and_gap),
        cmocka_unit_test (test_interleavings_derive_the_same_events),
        cmocka_unit_test (test_open_transfer_turns_stuck_at_query_time),
        cmocka_unit_test (test_every_order_of_an_early_takeover),
        cmocka_unit_test (test_every_order_of_a_takeover_within_a_second),
        cmocka_unit_test (test_every_order_of_a_takeover_within_a_second_by_node_id),
        cmocka_unit_test (test_every_order_of_a_failover_with_the_peers_event),
        cmocka_unit_test (test_every_order_of_a_peers_failover_from_a_node_heard_from),
        cmocka_unit_test (test_every_order_of_a_takeover_within_a_second_by_ms),
        cmocka_unit_test (test_a_start_without_ms_falls_back_to_the_second),
        cmocka_unit_test (test_every_order_of_a_migration),
        cmocka_unit_test (test_every_order_of_a_catch_up),
        cmocka_unit_test (test_every_order_after_the_witnesses_history),
        cmocka_unit_test (test_uid_change_is_reindexed),
        cmocka_unit_test (test_stopped_stream_keeps_its_functions),
        cmocka_unit_test (test_history_pages_cover_every_event_once),
        cmocka_unit_test (test_history_cursor_is_stable_under_inserts),
        cmocka_unit_test (test_history_filters_by_stream_node_kind_time),
        cmocka_unit_test (test_history_pages_merge_stuck_transfers),
        cmocka_unit_test (test_history_deep_page_is_a_seek),
        cmocka_unit_test (test_history_window_is_kept_on_insert_sweep_and_gossip),
        cmocka_unit_test (test_history_bound_per_stream_is_the_newest_whatever_the_order),
        cmocka_unit_test (test_history_offers_honour_the_receivers_bounds),
        cmocka_unit_test (test_history_filter_index),
    };
    sf_fleet_set_clock (s_test_clock);
    //  make bench-history: the bench alone
    if (getenv ("SF_HISTORY_BENCH_EVENTS"))
        cmocka_set_test_filter ("test_history_deep_page_is_a_seek");
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  test_writer.c — a commit lost to a full LMDB map (controller/writer.c,
    sf_writer_on_lost): what it staged that is no origin's change is staged
    again, not lost.

    The fixture's store has a 16 MiB map; a transaction filled past it fails
    its commit with SF_STORE_RETRY (the map has grown, nothing was stored).
    Origins fall back by themselves (their agents resend); the placement
    history's turns of nodes down or back (sf_fleet_tick) and the alert
    episodes (sf_alerts_store) have nothing that resends them: each marks
    what it wrote unwritten again, and the next pass stores it. A node
    record changed without a version (a stale mark) goes with the next
    commit, whether or not its origin is touched again.

    A full disk (ENOSPC; write, pwrite and writev of the store's files fail,
    interposed here, as in test_webhook): the ingest loop's writes that are
    no origin's change (sf_controller_write_unowned) are not rewritten on
    every pass into commits that fail again; what they hold stays unwritten
    and is all stored once the disk has room.
*/
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/uio.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "sf_alerts.h"
#include "sf_controller.h"
#include "sf_fleet.h"
#include "sf_writer.h"
#include "fixture_fleet.h"

#define S_MIN (60 * 1000LL)
#define T0 (1800000000000LL)
#define RULE_CAM "cam-offline inactive for=10m resolve=1m filter=primary name=cam-*"

//  Fills the open transaction past the map (16 MiB): its commit must fail
static void
s_fill_map (sf_store_t *store)
{
    static char junk [64 * 1024];
    memset (junk, 'x', sizeof (junk));
    for (int i = 0; i < 1024; i++) {
        char name [32];
        snprintf (name, sizeof (name), "junk-%04d", i);
        sf_key_t k;
        assert_int_equal (sf_key_make (&k, "n", name), 0);
        if (sf_store_put (store, SF_DB_WEBHOOKS, &k, junk, sizeof (junk)))
            return;
    }
    fail_msg ("the map never filled");
}

static sf_writer_t *
s_writer (fx_fleet_t *fx, sf_metrics_t *m)
{
    sf_metrics_init (m);
    return sf_writer_new (&(sf_writer_config_t) {
        .store = fx->store, .live = fx->live, .metrics = m, .batch_records = 100 });
}

static size_t
s_count (sf_store_t *store, sf_db_t db)
{
    sf_read_t r;
    size_t n = 0;
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    sf_store_count (&r, db, &n);
    sf_store_read_end (&r);
    return n;
}

//  A node's turn down, staged by the fleet tick in a transaction the map
//  cannot hold, is pending again; the next tick stores it
static void
test_a_fleet_tick_lost_to_a_full_map_is_pending_again (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    sf_metrics_t m;
    sf_writer_t *w = s_writer (&fx, &m);
    sf_fleet_node_live ("n3", SF_LIVE_DOWN);
    assert_int_equal (sf_fleet_pending (), 1);

    assert_int_equal (sf_writer_begin (w), 0);
    sf_fleet_tick (fx.store);
    sf_writer_on_lost (w, sf_fleet_tick_lost, NULL);
    s_fill_map (fx.store);
    assert_int_equal (sf_writer_commit (w), SF_STORE_RETRY);
    //  Nothing was stored: the turn is still to be applied
    assert_int_equal (sf_fleet_pending (), 1);

    //  The replay (the map has grown) stores it, and it is applied once
    assert_int_equal (sf_writer_begin (w), 0);
    sf_fleet_tick (fx.store);
    sf_writer_on_lost (w, sf_fleet_tick_lost, NULL);
    assert_int_equal (sf_writer_commit (w), 0);
    assert_int_equal (sf_fleet_pending (), 0);
    //  A lost callback is for its own transaction only
    assert_int_equal (sf_writer_begin (w), 0);
    s_fill_map (fx.store);
    assert_int_equal (sf_writer_commit (w), SF_STORE_RETRY);
    assert_int_equal (sf_fleet_pending (), 0);
    sf_writer_destroy (&w);
    fx_fleet_destroy (&fx);
}

//  Alert episodes stored in a transaction the map cannot hold are unstored
//  again, and the next store writes them
static void
test_alert_history_lost_to_a_full_map_is_stored_again (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    sf_metrics_t m;
    sf_writer_t *w = s_writer (&fx, &m);
    char err [512] = "";
    sf_alerts_t *a = sf_alerts_new (RULE_CAM, 120, err, sizeof (err));
    assert_non_null (a);
    sf_alerts_set_store (a, fx.store);
    sf_store_change_t c = { .deleted = false, .node = "n1", .name = "cam-h" };
    c.sum.type = SF_TYPE_PRIMARY;
    c.sum.status = SF_STATUS_ERROR;
    sf_alerts_apply (a, &c, 1, T0);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    assert_true (sf_alerts_unstored (a));

    assert_int_equal (sf_writer_begin (w), 0);
    assert_int_equal (sf_alerts_store (a), 0);
    sf_writer_on_lost (w, sf_alerts_store_lost, a);
    s_fill_map (fx.store);
    assert_int_equal (sf_writer_commit (w), SF_STORE_RETRY);
    assert_int_equal (s_count (fx.store, SF_DB_ALERTS), 0);
    assert_true (sf_alerts_unstored (a));

    assert_int_equal (sf_writer_begin (w), 0);
    assert_int_equal (sf_alerts_store (a), 0);
    sf_writer_on_lost (w, sf_alerts_store_lost, a);
    assert_int_equal (sf_writer_commit (w), 0);
    assert_false (sf_alerts_unstored (a));
    assert_int_equal (s_count (fx.store, SF_DB_ALERTS), 1);
    sf_alerts_destroy (&a);
    sf_writer_destroy (&w);
    fx_fleet_destroy (&fx);
}

static bool
s_stored_stale (sf_store_t *store, const char *node)
{
    sf_read_t r;
    sf_node_t n;
    sf_node_init (&n);
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    assert_int_equal (sf_store_get_node (&r, node, &n), 0);
    sf_store_read_end (&r);
    bool stale = n.stale;
    return stale;
}

//  A node record changed with no version of its own (gossip's stale mark,
//  not sent again) and lost with its commit goes with the next commit
static void
test_a_node_record_lost_to_a_full_map_goes_with_the_next_commit (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    sf_metrics_t m;
    sf_writer_t *w = s_writer (&fx, &m);
    sf_writer_load (w);
    sf_origin_t *o = sf_writer_origin (w, "n1");
    assert_non_null (o);
    assert_false (s_stored_stale (fx.store, "n1"));
    o->info.stale = true;
    sf_writer_info_changed (w, o);
    assert_int_equal (sf_writer_begin (w), 0);
    s_fill_map (fx.store);
    assert_int_equal (sf_writer_commit (w), SF_STORE_RETRY);
    assert_false (s_stored_stale (fx.store, "n1"));
    //  Nothing else to commit: the record is what goes
    assert_int_equal (sf_writer_commit (w), 0);
    assert_true (s_stored_stale (fx.store, "n1"));
    sf_writer_destroy (&w);
    fx_fleet_destroy (&fx);
}

//  A full disk (fixture_fulldisk.h)
#include "fixture_fulldisk.h"

#define S_EPISODES 64

//  The fleet's liveness in the test below: n4 down once s_n4_down is set
static bool s_n4_down;

static int
s_n4_live (const char *node, int64_t *silent_ms, void *arg)
{
    bool down = s_n4_down && strcmp (node, "n4") == 0;
    *silent_ms = down ? 20000 : 0;
    return down ? SF_LIVE_DOWN : SF_LIVE_ALIVE;
}

//  With the disk full, a node's turn down and 64 alert episodes, each lost
//  with its commit, are staged again about once a second, not on every pass
//  of the ingest loop (every 20 ms with peers; the alert tick every 250 ms),
//  and nothing is lost: once a commit works again every episode and the
//  turn are stored by the next pass. Before, every pass rewrote the turn and every alert tick all
//  the episodes (up to 4,096) into a commit that failed again: 108 commits
//  in 2 s here.
static void
test_a_full_disk_stages_lost_writes_again_about_once_a_second (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    sf_metrics_t m;
    sf_writer_t *w = s_writer (&fx, &m);
    char err [512] = "";
    sf_alerts_t *a = sf_alerts_new (RULE_CAM, 120, err, sizeof (err));
    assert_non_null (a);
    sf_alerts_set_store (a, fx.store);
    sf_store_change_t c [S_EPISODES];
    char names [S_EPISODES][24];
    for (int i = 0; i < S_EPISODES; i++) {
        snprintf (names [i], sizeof (names [i]), "cam-h%02d", i);
        c [i] = (sf_store_change_t) { .deleted = false, .node = "n1", .name = names [i] };
        c [i].sum.type = SF_TYPE_PRIMARY;
        c [i].sum.status = SF_STATUS_ERROR;
    }
    sf_alerts_apply (a, c, S_EPISODES, T0);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    assert_true (sf_alerts_unstored (a));
    //  A stream the fleet follows (by its uid) that runs on n4 and then on
    //  n2 as well: n4 owns it, and n4's turn down writes its history
    sf_fleet_set_liveness (s_n4_live, NULL);
    for (int i = 0; i < 2; i++) {
        sf_stream_t s;
        sf_stream_init (&s);
        SF_STRSET (s.name, "cam-x");
        SF_STRSET (s.uid, "uid-cam-x");
        SF_STRSET (s.node, i == 0 ? "n4" : "n2");
        s.type = i == 0 ? SF_TYPE_PRIMARY : SF_TYPE_SECONDARY;
        s.status = SF_STATUS_ACTIVE;
        s.started_at = FX_NOW_S - 60 + 30 * i;
        s.changed_at_ms = (int64_t) FX_NOW_S * 1000 + i;
        s.version = (sf_version_t) { 1, 20 + (uint64_t) i };
        assert_int_equal (sf_store_write_begin (fx.store), 0);
        assert_int_equal (sf_apply_put (fx.store, &s), 0);
        assert_int_equal (sf_store_commit (fx.store), 0);
        sf_stream_clear (&s);
    }
    s_n4_down = true;
    sf_fleet_node_live ("n4", SF_LIVE_DOWN);
    assert_int_equal (sf_fleet_pending (), 1);

    //  Two seconds of passes 20 ms apart, the disk full
    snprintf (s_full_dir, sizeof (s_full_dir), "%s", fx.dir);
    atomic_store (&s_refused, 0);
    atomic_store (&s_full, true);
    int64_t mono0 = sf_mono_ms (), last_alerts = -250;
    int commits = 0;
    for (int64_t t = 0; t < 2000; t += 20) {
        bool alerts_due = t - last_alerts >= 250;
        if (alerts_due)
            last_alerts = t;
        commits += sf_controller_write_unowned (w, fx.store, a, alerts_due ? T0 + 10 * S_MIN + t : 0,
                                                mono0 + t);
    }
    print_message ("%d commits tried in 2 s of full disk (%d writes refused)\n", commits,
                   atomic_load (&s_refused));
    assert_true (atomic_load (&s_refused) > 0);
    //  The first pass's two, then at most two a second
    assert_in_range (commits, 2, 6);
    assert_true (sf_alerts_unstored (a));
    assert_int_equal (sf_fleet_pending (), 1);
    assert_int_equal (s_count (fx.store, SF_DB_ALERTS), 0);

    //  Space returns, between two tries (the last at 1,020 ms): nothing yet
    atomic_store (&s_full, false);
    assert_int_equal (sf_controller_write_unowned (w, fx.store, a, 0, mono0 + 2000), 0);
    assert_true (sf_alerts_unstored (a));
    //  An agent's commit works: the next pass stores all of it, at once
    sf_origin_t *o = sf_writer_origin (w, "n1");
    assert_non_null (o);
    sf_writer_info_changed (w, o);
    assert_int_equal (sf_writer_commit (w), 0);
    assert_false (sf_writer_nospace (w));
    assert_int_equal (sf_controller_write_unowned (w, fx.store, a, T0 + 10 * S_MIN + 2010, mono0 + 2010), 2);
    assert_false (sf_alerts_unstored (a));
    assert_int_equal (sf_fleet_pending (), 0);
    assert_int_equal (s_count (fx.store, SF_DB_ALERTS), S_EPISODES);
    sf_fleet_set_liveness (NULL, NULL);
    sf_alerts_destroy (&a);
    sf_writer_destroy (&w);
    fx_fleet_destroy (&fx);
}

//  A commit with nothing in it succeeds on a full disk too (LMDB writes no
//  page): it must not end the full-disk state, or the log says "takes writes
//  again" and then "is full" anew while the disk never had room
static void
test_an_empty_commit_does_not_end_a_full_disk (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    sf_metrics_t m;
    sf_writer_t *w = s_writer (&fx, &m);
    sf_writer_load (w);
    sf_key_t k;
    assert_int_equal (sf_key_make (&k, "n", "x"), 0);
    snprintf (s_full_dir, sizeof (s_full_dir), "%s", fx.dir);
    atomic_store (&s_full, true);
    //  A write of the writer's transaction that the disk refuses
    assert_int_equal (sf_writer_begin (w), 0);
    assert_int_equal (sf_store_put (fx.store, SF_DB_WEBHOOKS, &k, "v", 1), 0);
    assert_int_equal (sf_writer_commit (w), SF_WRITER_NOSPACE);
    assert_true (sf_writer_nospace (w));
    //  A transaction with nothing in it, as a tick with nothing to do
    uint64_t before = sf_store_txnid (fx.store);
    assert_int_equal (sf_writer_begin (w), 0);
    assert_int_equal (sf_writer_commit (w), SF_WRITER_STORED);
    assert_true (sf_store_txnid (fx.store) == before);
    assert_true (sf_writer_nospace (w));
    //  Space returns: a commit that writes ends the state
    atomic_store (&s_full, false);
    assert_int_equal (sf_writer_begin (w), 0);
    assert_int_equal (sf_store_put (fx.store, SF_DB_WEBHOOKS, &k, "v", 1), 0);
    assert_int_equal (sf_writer_commit (w), SF_WRITER_STORED);
    assert_true (sf_store_txnid (fx.store) != before);
    assert_false (sf_writer_nospace (w));
    sf_writer_destroy (&w);
    fx_fleet_destroy (&fx);
}

//  The periodic flush is the flusher thread's: it flushes every period
//  while the caller commits and never calls sf_writer_sync, and once more as
//  the writer stops; not with a flush after every commit (--sync-ms 0),
//  whose flushes belong to each commit. Before, the ingest thread flushed
//  and waited in each flush (1-2 s on the soak's shared disk, every pass
//  of the agents' messages with it)
static void
test_the_flusher_thread_flushes_while_commits_go_on (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    sf_metrics_t m;
    sf_writer_t *w = s_writer (&fx, &m);
    assert_int_equal (sf_writer_flush_every (w, 20), 0);
    assert_int_equal (sf_writer_flush_every (w, 20), -1);          //  one thread
    //  Commits go on meanwhile, from this thread
    int64_t until = sf_mono_ms () + 5000;
    for (int i = 0; atomic_load (&m.syncs) < 3 && sf_mono_ms () < until; i++) {
        assert_int_equal (sf_writer_begin (w), 0);
        sf_fleet_node_live (i % 2 ? "n1" : "n2", i % 3 ? SF_LIVE_DOWN : SF_LIVE_ALIVE);
        sf_fleet_tick (fx.store);
        assert_int_equal (sf_writer_commit (w), 0);
        zclock_sleep (5);
    }
    assert_true (atomic_load (&m.syncs) >= 3);
    assert_int_equal (atomic_load (&m.sync_failures), 0);
    assert_false (sf_writer_unsynced (w));
    uint64_t before = atomic_load (&m.syncs);
    sf_writer_destroy (&w);
    //  The stop flushed once more
    assert_true (atomic_load (&m.syncs) >= before + 1);

    //  With a flush after every commit: no thread
    sf_metrics_init (&m);
    w = sf_writer_new (&(sf_writer_config_t) {
        .store = fx.store, .live = fx.live, .metrics = &m, .batch_records = 100, .sync_every_commit = true });
    assert_int_equal (sf_writer_flush_every (w, 20), -1);
    zclock_sleep (60);
    assert_int_equal (atomic_load (&m.syncs), 0);
    sf_writer_destroy (&w);
    fx_fleet_destroy (&fx);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_a_fleet_tick_lost_to_a_full_map_is_pending_again),
        cmocka_unit_test (test_an_empty_commit_does_not_end_a_full_disk),
        cmocka_unit_test (test_alert_history_lost_to_a_full_map_is_stored_again),
        cmocka_unit_test (test_a_node_record_lost_to_a_full_map_goes_with_the_next_commit),
        cmocka_unit_test (test_a_full_disk_stages_lost_writes_again_about_once_a_second),
        cmocka_unit_test (test_the_flusher_thread_flushes_while_commits_go_on),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

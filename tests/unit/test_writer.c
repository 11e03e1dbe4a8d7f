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
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "sf_alerts.h"
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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_a_fleet_tick_lost_to_a_full_map_is_pending_again),
        cmocka_unit_test (test_alert_history_lost_to_a_full_map_is_stored_again),
        cmocka_unit_test (test_a_node_record_lost_to_a_full_map_goes_with_the_next_commit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  test_query.c — the read model as it is today (controller/query.c), over a
    real in-process store (tests/unit/fixture_fleet.h).

    Pins down both listing paths: the fast one (no filter, name order: the
    store's count and a page read off the name index, no scan) and the slow
    one (a scan of the summaries, filtered and sorted), and that they agree
    where both apply; paging and count-only; the derived status (a down
    node's stream is offline, never active); detail with every placement and
    its node; nodes with liveness and counts.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixture_fleet.h"

static int
s_setup (void **state)
{
    static fx_fleet_t fx;
    if (fx_fleet_init (&fx))
        return -1;
    *state = &fx;
    return 0;
}

static int
s_teardown (void **state)
{
    fx_fleet_destroy (*state);
    return 0;
}

//  "node/name,node/name,..." of a listing
static void
s_list (fx_fleet_t *fx, const char *params, const char *name, const char *node,
        const char *sortspec, size_t offset, size_t limit, size_t *total, char *out, size_t size)
{
    sf_filter_t f;
    sf_filter_init (&f);
    sf_sort_t sort;
    char err [256];
    assert_int_equal (sf_filter_parse (&f, params, err, sizeof (err)), 0);
    if (name)
        assert_int_equal (sf_filter_set_name (&f, name, err, sizeof (err)), 0);
    if (node)
        assert_int_equal (sf_filter_set_node (&f, node, err, sizeof (err)), 0);
    assert_int_equal (sf_sort_parse (&sort, sortspec, err, sizeof (err)), 0);
    sf_list_result_t res;
    assert_int_equal (sf_query_list (&fx->ctx, &f, &sort, offset, limit, &res, err, sizeof (err)), 0);
    *total = res.total;
    out [0] = 0;
    for (size_t i = 0; i < res.nrows; i++) {
        size_t len = strlen (out);
        snprintf (out + len, size - len, "%s%s/%s", i ? "," : "", res.rows [i].node, res.rows [i].name);
    }
    sf_list_result_clear (&res);
}

static void
test_fast_path_lists_every_placement_in_name_order (void **state)
{
    char rows [512];
    size_t total;
    s_list (*state, "", NULL, NULL, "", 0, 100, &total, rows, sizeof (rows));
    assert_int_equal (total, FX_STREAMS);
    //  Byte order of names ("Lobby" before "cam-a"), then node
    assert_string_equal (rows, "n1/Lobby,n1/cam-a,n2/cam-a,n1/cam-b,n2/gate,n3/yard,n2/zoo");
    s_list (*state, "", NULL, NULL, "-name", 0, 3, &total, rows, sizeof (rows));
    assert_int_equal (total, FX_STREAMS);
    assert_string_equal (rows, "n2/zoo,n3/yard,n2/gate");
}

static void
test_fast_path_pages_and_counts (void **state)
{
    char rows [512];
    size_t total;
    s_list (*state, "", NULL, NULL, "name", 2, 2, &total, rows, sizeof (rows));
    assert_int_equal (total, FX_STREAMS);
    assert_string_equal (rows, "n2/cam-a,n1/cam-b");
    s_list (*state, "", NULL, NULL, "name", 0, 0, &total, rows, sizeof (rows));
    assert_int_equal (total, FX_STREAMS);
    assert_string_equal (rows, "");
    s_list (*state, "", NULL, NULL, "name", FX_STREAMS, 10, &total, rows, sizeof (rows));
    assert_int_equal (total, FX_STREAMS);
    assert_string_equal (rows, "");
}

static void
test_slow_path_agrees_with_the_fast_path (void **state)
{
    //  A filter that keeps everything forces the scan; the order and the
    //  rows must be those of the name index
    char fast [512], slow [512];
    size_t t1, t2;
    s_list (*state, "", NULL, NULL, "name", 0, 100, &t1, fast, sizeof (fast));
    s_list (*state, "primary,secondary,migrated", NULL, NULL, "name", 0, 100, &t2, slow, sizeof (slow));
    assert_int_equal (t1, t2);
    assert_string_equal (fast, slow);
    s_list (*state, "", NULL, NULL, "-name", 1, 4, &t1, fast, sizeof (fast));
    s_list (*state, "primary,secondary", NULL, NULL, "-name", 1, 4, &t2, slow, sizeof (slow));
    assert_int_equal (t1, t2);
    assert_string_equal (fast, slow);
}

static void
test_slow_path_filters (void **state)
{
    char rows [512];
    size_t total;
    s_list (*state, "secondary", NULL, NULL, "", 0, 100, &total, rows, sizeof (rows));
    assert_int_equal (total, 2);
    s_list (*state, "secondary", NULL, NULL, "node", 0, 100, &total, rows, sizeof (rows));
    assert_string_equal (rows, "n1/cam-b,n2/cam-a");
    //  functions are all required
    s_list (*state, "dvr,audio", NULL, NULL, "", 0, 100, &total, rows, sizeof (rows));
    assert_string_equal (rows, "n1/cam-b");
    //  name: case-insensitive substring, glob
    s_list (*state, "", "LOB", NULL, "", 0, 100, &total, rows, sizeof (rows));
    assert_string_equal (rows, "n1/Lobby");
    s_list (*state, "", "cam-*", NULL, "", 0, 100, &total, rows, sizeof (rows));
    assert_int_equal (total, 3);
    //  node is exact
    s_list (*state, "", NULL, "n2", "", 0, 100, &total, rows, sizeof (rows));
    assert_string_equal (rows, "n2/cam-a,n2/gate,n2/zoo");
    //  groups AND-ed
    s_list (*state, "primary,active", NULL, "n2", "", 0, 100, &total, rows, sizeof (rows));
    assert_string_equal (rows, "n2/gate");
}

static void
test_a_down_nodes_stream_is_offline_never_active (void **state)
{
    char rows [512];
    size_t total;
    s_list (*state, "active", NULL, NULL, "", 0, 100, &total, rows, sizeof (rows));
    assert_string_equal (rows, "n1/Lobby,n1/cam-a,n2/gate");
    fx_fleet_t *fx = *state;
    sf_filter_t f;
    sf_filter_init (&f);
    char err [256];
    sf_filter_set_node (&f, "n3", err, sizeof (err));
    sf_sort_t sort = { SF_SORT_NAME, false };
    sf_list_result_t res;
    assert_int_equal (sf_query_list (&fx->ctx, &f, &sort, 0, 10, &res, err, sizeof (err)), 0);
    assert_int_equal (res.nrows, 1);
    assert_int_equal (res.rows [0].status, SF_STATUS_OFFLINE);
    sf_list_result_clear (&res);
}

static void
test_slow_path_sorts_by_a_column_then_name (void **state)
{
    char rows [512];
    size_t total;
    s_list (*state, "primary", NULL, NULL, "-bitrate", 0, 100, &total, rows, sizeof (rows));
    assert_string_equal (rows, "n1/cam-a,n1/Lobby,n2/gate,n3/yard,n2/zoo");
    //  equal clients (0) fall back to name order
    s_list (*state, "primary,secondary", NULL, NULL, "clients", 0, 3, &total, rows, sizeof (rows));
    assert_int_equal (total, FX_STREAMS);
    assert_string_equal (rows, "n2/cam-a,n1/cam-b,n2/zoo");
    s_list (*state, "primary", NULL, NULL, "-clients", 1, 2, &total, rows, sizeof (rows));
    assert_int_equal (total, 5);
    assert_string_equal (rows, "n1/cam-a,n3/yard");
}

static void
test_detail_has_every_placement_with_its_node (void **state)
{
    fx_fleet_t *fx = *state;
    sf_detail_result_t d;
    char err [256];
    assert_int_equal (sf_query_detail (&fx->ctx, "cam-a", NULL, &d, err, sizeof (err)), 0);
    assert_int_equal (d.count, 2);
    for (size_t i = 0; i < d.count; i++)
        assert_string_equal (d.nodes [i].id, d.placements [i].node);
    const sf_stream_t *on1 = strcmp (d.placements [0].node, "n1") == 0 ? &d.placements [0] : &d.placements [1];
    assert_int_equal (on1->dvr.nranges, 2);
    assert_string_equal (on1->config, "stream cam-a {}\n");
    assert_string_equal (on1->playback_uuid, "0000-cam-a");
    sf_detail_result_clear (&d);
    assert_int_equal (sf_query_detail (&fx->ctx, "cam-a", "n2", &d, err, sizeof (err)), 0);
    assert_int_equal (d.count, 1);
    assert_string_equal (d.nodes [0].id, "n2");
    assert_int_equal (d.nodes [0].liveness, SF_LIVE_ALIVE);
    sf_detail_result_clear (&d);
}

static void
test_detail_of_an_unknown_stream_says_so (void **state)
{
    fx_fleet_t *fx = *state;
    sf_detail_result_t d;
    char err [256];
    assert_int_equal (sf_query_detail (&fx->ctx, "nothing", NULL, &d, err, sizeof (err)), -1);
    assert_non_null (strstr (err, "no stream named 'nothing'"));
    sf_detail_result_clear (&d);
    assert_int_equal (sf_query_detail (&fx->ctx, "gate", "n1", &d, err, sizeof (err)), -1);
    assert_non_null (strstr (err, "'n1'"));
    sf_detail_result_clear (&d);
}

static void
test_nodes_with_liveness_and_counts (void **state)
{
    fx_fleet_t *fx = *state;
    sf_node_t *nodes;
    size_t count;
    char err [256];
    assert_int_equal (sf_query_nodes (&fx->ctx, &nodes, &count, err, sizeof (err)), 0);
    assert_int_equal (count, 3);
    int seen = 0;
    for (size_t i = 0; i < count; i++) {
        const sf_node_t *n = &nodes [i];
        if (strcmp (n->id, "n1") == 0) {
            assert_int_equal (n->liveness, SF_LIVE_ALIVE);
            assert_int_equal (n->nstreams, 3);
            assert_int_equal (n->nprimary, 2);
            assert_int_equal (n->nactive, 2);
            assert_string_equal (n->addr_external, "media1.example.net");
            seen |= 1;
        }
        if (strcmp (n->id, "n2") == 0) {
            assert_int_equal (n->nstreams, 3);
            seen |= 2;
        }
        if (strcmp (n->id, "n3") == 0) {
            assert_int_equal (n->liveness, SF_LIVE_DOWN);
            assert_int_equal (n->nstreams, 1);
            seen |= 4;
        }
    }
    assert_int_equal (seen, 7);
    free (nodes);
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_fast_path_lists_every_placement_in_name_order),
        cmocka_unit_test (test_fast_path_pages_and_counts),
        cmocka_unit_test (test_slow_path_agrees_with_the_fast_path),
        cmocka_unit_test (test_slow_path_filters),
        cmocka_unit_test (test_a_down_nodes_stream_is_offline_never_active),
        cmocka_unit_test (test_slow_path_sorts_by_a_column_then_name),
        cmocka_unit_test (test_detail_has_every_placement_with_its_node),
        cmocka_unit_test (test_detail_of_an_unknown_stream_says_so),
        cmocka_unit_test (test_nodes_with_liveness_and_counts),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}

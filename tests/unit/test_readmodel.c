/*  test_readmodel.c — the in-memory read model (controller/readmodel.c).

    The model must give the same answers as a full scan of LMDB, whatever
    happened before: the main test drives a real store through the fleet's
    write path (sf_apply_put / sf_apply_del, so migrated and transfer flags
    are derived as in the controller) with random puts, deletes and node
    snapshots, moves nodes' liveness, restarts (closes the store, rebuilds a
    new model from it), and after each round compares thousands of random
    filter / sort / offset / limit combinations, the cursor walk, the node
    counts and the gauges with a reference computed from a scan of every
    stored placement (sf_store_scan_streams + sf_fleet_derive +
    sf_filter_match, sorted with the documented order).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include "sf_readmodel.h"
#include "sf_apply.h"
#include "sf_fleet.h"
#include "sf_log.h"

#define NODES 6
static const char *s_nodes [NODES + 1] = { "n03", "n01", "n05", "n02", "n06", "n04", "n99" };
static const char *s_needles [] = {
    "cam", "CAM00", "m01", "-x", "7", "Cam0*1", "*-X", "c?m00*", "zz", "A",
    //  trigram index: rare and missing trigrams, globs with brackets and escapes
    "am01", "qqq", "m00-X", "[cC]am01*", "*m0\\1*", "*[!x]m00?", "ca[", "cAm", "*12*"
};

typedef struct {
    char dir [64];
    sf_store_t *store;
    sf_readmodel_t *model;
    sf_live_t *live;
    sf_query_ctx_t ctx;
    int64_t mono_ms;
    uint64_t beats [NODES];
    int64_t now_s;
} s_fix_t;

static uint32_t s_seed = 12345;
static uint32_t
s_rand (uint32_t n)
{
    s_seed = s_seed * 1103515245u + 12345u;
    return (s_seed >> 8) % n;
}

static void
s_open (s_fix_t *f)
{
    char err [256];
    f->store = sf_store_new (f->dir, 0, err, sizeof (err));
    assert_non_null (f->store);
    f->model = sf_readmodel_new ();
    assert_int_equal (sf_readmodel_load (f->model, f->store), 0);
    sf_store_set_observer (f->store, sf_readmodel_observe, f->model);
    f->ctx = (sf_query_ctx_t) { .store = f->store, .live = f->live, .transfer_timeout_s = 120 };
}

static void
s_close (s_fix_t *f)
{
    sf_readmodel_destroy (&f->model);
    sf_store_destroy (&f->store);
}

static int
s_setup (void **state)
{
    s_fix_t *f = calloc (1, sizeof (*f));
    snprintf (f->dir, sizeof (f->dir), "/tmp/sf-test-rm.XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    f->live = sf_live_new (3000, 10000);
    sf_fleet_set_live (f->live);
    f->mono_ms = sf_mono_ms ();
    f->now_s = 1800000000;
    s_open (f);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fix_t *f = *state;
    s_close (f);
    sf_fleet_set_live (NULL);
    sf_live_destroy (&f->live);
    char cmd [128];
    snprintf (cmd, sizeof (cmd), "rm -rf %s", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
}

static void
s_random_stream (s_fix_t *f, sf_stream_t *s, const char *node, int n)
{
    sf_stream_init (s);
    //  Every numeric summary line of the field table gets small values with
    //  ties (a line added to the table is ordered and compared too); the
    //  ones below get their own spreads
    for (const sf_field_t *fd = sf_stream_fields; fd->key; fd++)
        if ((fd->where & SF_F_SUMMARY) && fd->kind == SF_K_U32) {
            uint32_t v = s_rand (6);
            memcpy ((char *) s + fd->offset, &v, sizeof (v));
        }
    SF_STRSET (s->node, node);
    //  Mixed case, shared names across nodes (the same uid: transfers)
    snprintf (s->name, sizeof (s->name), "%s%03d%s", n % 3 ? "cam" : "Cam", n,
              n % 5 == 0 ? "-x" : "");
    s->type = (uint8_t) s_rand (2);
    s->status = (uint8_t) s_rand (4);
    s->functions = (uint8_t) s_rand (8);
    s->clients = s_rand (4);
    s->bitrate_kbps = s_rand (3) ? s_rand (20) : 1000 + s_rand (100000);
    s->started_at = s_rand (4) ? f->now_s - 1 - (int64_t) s_rand (50000) : 0;
    s->reconnect_attempts = s_rand (3);
    s->reconnect_total = s_rand (5);
    s->version.gen = 1;
    s->version.seq = s_rand (1000000) + 1;
    s->changed_at_ms = f->now_s * 1000 + s_rand (100000);
    //  Some declare where they came from: transfers in progress
    if (s_rand (4) == 0)
        SF_STRSET (s->transferred_from, s_nodes [s_rand (NODES)]);
    //  Source urls: none, or few hosts and paths (ties, broken by name);
    //  an update may change it
    char url [64];
    uint32_t u = s_rand (12);
    if (u) {
        snprintf (url, sizeof (url), u < 4 ? "rtsp://10.0.0.%u/live" : "rtsp://10.0.0.%u/s%u",
                  s_rand (3), s_rand (7));
        sf_text_set (&s->source_url, url);
    }
}

static void
s_put_random (s_fix_t *f, const char *node, int n)
{
    sf_stream_t s;
    s_random_stream (f, &s, node, n);
    assert_int_equal (sf_apply_put (f->store, &s), 0);
    sf_stream_clear (&s);
}

static int
s_commit (s_fix_t *f)
{
    int rc = sf_store_commit (f->store);
    assert_true (rc == 0);
    return rc;
}

//  One round of changes: puts and deletes across nodes, sometimes a node's
//  snapshot (its whole set replaced in one transaction)
static void
s_round (s_fix_t *f, int changes, int names)
{
    assert_int_equal (sf_store_write_begin (f->store), 0);
    for (int i = 0; i < changes; i++) {
        const char *node = s_nodes [s_rand (NODES)];
        int n = (int) s_rand ((uint32_t) names);
        if (s_rand (5) == 0) {
            char name [32];
            snprintf (name, sizeof (name), "%s%03d%s", n % 3 ? "cam" : "Cam", n, n % 5 == 0 ? "-x" : "");
            assert_int_equal (sf_apply_del (f->store, node, name, (sf_version_t) { 1, 1 }), 0);
        }
        else
            s_put_random (f, node, n);
    }
    if (s_rand (3) == 0) {
        const char *node = s_nodes [s_rand (NODES)];
        sf_read_t r;
        assert_int_equal (sf_store_write_view (f->store, &r), 0);
        //  Replace the node's set: delete everything, put a new set
        char (*gone) [SF_NAME_MAX + 1] = calloc ((size_t) names, SF_NAME_MAX + 1);
        size_t ngone = 0;
        for (int n = 0; n < names; n++) {
            char name [32];
            snprintf (name, sizeof (name), "%s%03d%s", n % 3 ? "cam" : "Cam", n, n % 5 == 0 ? "-x" : "");
            sf_row_t row;
            if (sf_store_get_row (&r, node, name, &row) == 0)
                snprintf (gone [ngone++], SF_NAME_MAX + 1, "%s", name);
        }
        for (size_t i = 0; i < ngone; i++)
            assert_int_equal (sf_apply_del (f->store, node, gone [i], (sf_version_t) { 2, 1 }), 0);
        free (gone);
        for (int n = 0; n < names; n++)
            if (s_rand (2))
                s_put_random (f, node, n);
    }
    s_commit (f);
    //  Liveness: some nodes beat now, the others age; time moves on
    for (int k = 0; k < NODES; k++)
        if (s_rand (6))
            sf_live_beat (f->live, s_nodes [k], 1, ++f->beats [k], f->mono_ms);
    f->mono_ms += 4500;
}

//  ---------------------------------------------------------------------------
//  The reference: a full scan of LMDB

typedef struct {
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
    int64_t value;
    char url [64];                  //  the source sort's (from the decoded record)
} s_ref_row_t;

typedef struct {
    s_fix_t *f;
    sf_read_t *r;
    const sf_filter_t *filter;
    int sort;
    s_ref_row_t *rows;
    size_t count, cap;
    sf_readmodel_gauges_t gauges;
} s_ref_t;

static int
s_ref_collect (const sf_row_t *row, void *arg)
{
    s_ref_t *ref = arg;
    int state = sf_live_state (ref->f->live, row->node, ref->f->mono_ms, NULL);
    sf_derived_t d;
    sf_fleet_derive (&ref->f->ctx, ref->r, row, state, ref->f->now_s * 1000, &d);
    ref->gauges.total++;
    ref->gauges.by_type [d.type]++;
    ref->gauges.by_status [d.status]++;
    ref->gauges.transfer += d.transfer;
    if (!sf_filter_match_fields (ref->filter, row->node, d.type, d.status,
                                 (d.transfer ? SF_MARK_TRANSFER : 0) | (d.conflict ? SF_MARK_CONFLICT : 0),
                                 row->sum.functions)
    ||  !sf_filter_match_name (ref->filter, row->name))
        return 0;
    if (ref->count == ref->cap) {
        ref->cap = ref->cap ? ref->cap * 2 : 256;
        ref->rows = realloc (ref->rows, ref->cap * sizeof (s_ref_row_t));
        assert_non_null (ref->rows);
    }
    s_ref_row_t *o = &ref->rows [ref->count++];
    snprintf (o->node, sizeof (o->node), "%s", row->node);
    snprintf (o->name, sizeof (o->name), "%s", row->name);
    o->url [0] = 0;
    switch (ref->sort) {
        case SF_SORT_SOURCE: {
            sf_stream_t s;
            sf_stream_init (&s);
            assert_int_equal (sf_row_decode (row, &s), 0);
            assert_true (!s.source_url || strlen (s.source_url) < sizeof (o->url));
            snprintf (o->url, sizeof (o->url), "%s", s.source_url ? s.source_url : "");
            sf_stream_clear (&s);
            break;
        }
        case SF_SORT_STATUS: o->value = d.status; break;
        case SF_SORT_TYPE: o->value = d.type; break;
        default:
            //  NUM, PAIR, AGE keys: the summary's value, as the field table
            //  says (sf_summary_sort_value); AGE with the derived status
            o->value = sf_summary_sort_value (&row->sum, ref->sort, ref->f->now_s,
                                              d.status == SF_STATUS_ACTIVE);
    }
    return 0;
}

static int s_ref_sort_key, s_ref_desc;

//  The sort keys the model orders (every one), from the field table: a new
//  SORT line is tested with no edit here
static int s_model_keys [SF_SORT_COUNT];
static int s_nmodel_keys;

static void
s_model_keys_init (void)
{
    s_nmodel_keys = 0;
    for (int k = 0; k < SF_SORT_COUNT; k++)
        s_model_keys [s_nmodel_keys++] = k;
}

//  The numeric keys (an ordered index each)
static bool
s_numeric_key (int k)
{
    sf_sort_by_t by = sf_sort_by (k);
    return by == SF_SORT_BY_NUM || by == SF_SORT_BY_AGE || by == SF_SORT_BY_PAIR;
}

//  The documented order: the column, then name, then node; descending is
//  the exact reverse
static int
s_ref_cmp (const void *pa, const void *pb)
{
    const s_ref_row_t *a = pa, *b = pb;
    int c = 0;
    if (s_ref_sort_key == SF_SORT_NODE)
        c = strcmp (a->node, b->node);
    else if (s_ref_sort_key == SF_SORT_SOURCE)
        c = strcmp (a->url, b->url);
    else if (s_ref_sort_key != SF_SORT_NAME)
        c = a->value < b->value ? -1 : a->value > b->value;
    if (!c)
        c = strcmp (a->name, b->name);
    if (!c)
        c = strcmp (a->node, b->node);
    return s_ref_desc ? -c : c;
}

static void
s_ref_list (s_fix_t *f, const sf_filter_t *filter, const sf_sort_t *sort, s_ref_t *ref)
{
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    *ref = (s_ref_t) { .f = f, .r = &r, .filter = filter, .sort = sort->key };
    sf_store_scan_streams (&r, NULL, s_ref_collect, ref);
    sf_store_read_end (&r);
    s_ref_sort_key = sort->key;
    s_ref_desc = sort->desc;
    if (ref->count > 1)
        qsort (ref->rows, ref->count, sizeof (s_ref_row_t), s_ref_cmp);
}

static void
s_random_filter (sf_filter_t *filter)
{
    char err [256];
    sf_filter_init (filter);
    if (s_rand (2)) filter->types = (uint8_t) s_rand (8);
    if (s_rand (2)) filter->states = (uint8_t) s_rand (8);
    if (s_rand (3) == 0) filter->functions = (uint8_t) s_rand (8);
    if (s_rand (3) == 0)
        assert_int_equal (sf_filter_set_name (filter, s_needles [s_rand (sizeof (s_needles) / sizeof (s_needles [0]))],
                                              err, sizeof (err)), 0);
    if (s_rand (5) == 0)
        assert_int_equal (sf_filter_set_node (filter, s_nodes [s_rand (NODES + 1)], err, sizeof (err)), 0);
}

static void
s_compare_one (s_fix_t *f, const sf_filter_t *filter, const sf_sort_t *sort, size_t offset,
               size_t limit)
{
    s_ref_t ref;
    s_ref_list (f, filter, sort, &ref);
    sf_readmodel_clock_t clock = { f->live, f->mono_ms, f->now_s };
    sf_readmodel_page_t page;
    char err [256];
    assert_int_equal (sf_readmodel_list (f->model, filter, sort, NULL, offset, limit, &clock,
                                         &page, err, sizeof (err)), 0);
    if (page.total != ref.count) {
        char params [64];
        print_error ("total %zu, reference %zu (filter %s name '%s' node '%s', sort %s%s)\n",
                     page.total, ref.count, sf_filter_params (filter, params, sizeof (params)),
                     filter->name, filter->node, sort->desc ? "-" : "", sf_sort_name (sort->key));
    }
    assert_int_equal (page.total, ref.count);
    size_t want = offset < ref.count ? (ref.count - offset < limit ? ref.count - offset : limit) : 0;
    assert_int_equal (page.count, want);
    for (size_t i = 0; i < want; i++) {
        const s_ref_row_t *e = &ref.rows [offset + i];
        if (strcmp (page.keys [i].node, e->node) || strcmp (page.keys [i].name, e->name))
            print_error ("row %zu: %s/%s, reference %s/%s (sort %s%s, offset %zu)\n", offset + i,
                         page.keys [i].node, page.keys [i].name, e->node, e->name,
                         sort->desc ? "-" : "", sf_sort_name (sort->key), offset);
        assert_string_equal (page.keys [i].node, e->node);
        assert_string_equal (page.keys [i].name, e->name);
    }
    sf_readmodel_page_clear (&page);
    free (ref.rows);
}

//  The whole listing, page by page through the cursors, is the reference
static void
s_compare_cursor (s_fix_t *f, const sf_filter_t *filter, const sf_sort_t *sort, size_t limit)
{
    s_ref_t ref;
    s_ref_list (f, filter, sort, &ref);
    sf_readmodel_clock_t clock = { f->live, f->mono_ms, f->now_s };
    char after [SF_READMODEL_CURSOR_MAX + 1] = "";
    size_t seen = 0;
    for (;;) {
        sf_readmodel_page_t page;
        char err [256];
        assert_int_equal (sf_readmodel_list (f->model, filter, sort, after, 0, limit, &clock,
                                             &page, err, sizeof (err)), 0);
        for (size_t i = 0; i < page.count; i++, seen++) {
            assert_true (seen < ref.count);
            assert_string_equal (page.keys [i].node, ref.rows [seen].node);
            assert_string_equal (page.keys [i].name, ref.rows [seen].name);
        }
        snprintf (after, sizeof (after), "%s", page.next);
        sf_readmodel_page_clear (&page);
        if (!after [0])
            break;
    }
    assert_int_equal (seen, ref.count);
    free (ref.rows);
}

static void
s_compare_counts (s_fix_t *f)
{
    sf_filter_t all;
    sf_filter_init (&all);
    sf_sort_t sort = { SF_SORT_NAME, false };
    s_ref_t ref;
    s_ref_list (f, &all, &sort, &ref);
    sf_readmodel_clock_t clock = { f->live, f->mono_ms, f->now_s };
    sf_readmodel_gauges_t g;
    sf_readmodel_gauges (f->model, &clock, &g);
    assert_memory_equal (&g, &ref.gauges, sizeof (g));
    assert_int_equal (sf_readmodel_size (f->model), ref.count);
    for (int k = 0; k < NODES + 1; k++) {
        bool down = sf_live_state (f->live, s_nodes [k], f->mono_ms, NULL) == SF_LIVE_DOWN;
        uint32_t nstreams, nprimary, nactive, rs = 0, rp = 0, ra = 0;
        sf_readmodel_node_counts (f->model, s_nodes [k], down, &nstreams, &nprimary, &nactive);
        sf_read_t r;
        assert_int_equal (sf_store_read_begin (f->store, &r), 0);
        for (size_t i = 0; i < ref.count; i++)
            if (strcmp (ref.rows [i].node, s_nodes [k]) == 0) {
                sf_row_t row;
                assert_int_equal (sf_store_get_row (&r, ref.rows [i].node, ref.rows [i].name, &row), 0);
                rs++;
                //  Derived: a placement the stream migrated away from is not primary
                rp += row.sum.type == SF_TYPE_PRIMARY && !(row.sum.flags & SF_SUM_MIGRATED);
                ra += row.sum.status == SF_STATUS_ACTIVE && !down;
            }
        sf_store_read_end (&r);
        assert_int_equal (nstreams, rs);
        assert_int_equal (nprimary, rp);
        assert_int_equal (nactive, ra);
    }
    free (ref.rows);
}

static void
s_compare_random (s_fix_t *f, int queries, size_t max_offset)
{
    for (int i = 0; i < queries; i++) {
        sf_filter_t filter;
        s_random_filter (&filter);
        sf_sort_t sort = { (uint8_t) s_model_keys [s_rand (s_nmodel_keys)], s_rand (2) == 1 };
        size_t offset = s_rand (4) == 0 ? 0 : s_rand ((uint32_t) max_offset);
        size_t limit = s_rand (8) == 0 ? 0 : 1 + s_rand (40);
        s_compare_one (f, &filter, &sort, offset, limit);
    }
    s_compare_counts (f);
}

//  A stream running on two live nodes is in transfer on both (fleet.c)
static void
s_transfer (s_fix_t *f, const char *name, const char *from, const char *to)
{
    for (int k = 0; k < NODES; k++)
        sf_live_beat (f->live, s_nodes [k], 1, ++f->beats [k], f->mono_ms);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (sf_store_write_begin (f->store), 0);
        sf_stream_t s;
        s_random_stream (f, &s, i ? to : from, 0);
        SF_STRSET (s.name, name);
        s.status = SF_STATUS_ACTIVE;
        s.started_at = f->now_s - 1000 + i * 10;
        s.changed_at_ms = s.started_at * 1000;
        s.transferred_from [0] = 0;
        assert_int_equal (sf_apply_put (f->store, &s), 0);
        sf_stream_clear (&s);
        s_commit (f);
    }
}

static void
test_equivalence (void **state)
{
    s_fix_t *f = *state;
    s_transfer (f, "Moving1", "n01", "n02");
    s_transfer (f, "moving2", "n03", "n04");
    sf_readmodel_clock_t clock = { f->live, f->mono_ms, f->now_s };
    sf_readmodel_gauges_t g;
    sf_readmodel_gauges (f->model, &clock, &g);
    assert_int_equal (g.transfer, 4);
    for (int round = 0; round < 24; round++) {
        s_round (f, 60, 120);
        s_compare_random (f, 100, 200);
        if (round % 6 == 5) {
            //  A restart: the model is rebuilt from what LMDB holds
            s_close (f);
            s_open (f);
            s_compare_random (f, 60, 200);
        }
    }
    //  The cursor walks the whole listing under every sort
    for (int ki = 0; ki < s_nmodel_keys; ki++)
        for (int desc = 0, key = s_model_keys [ki]; desc < 2; desc++) {
            sf_filter_t filter;
            s_random_filter (&filter);
            sf_sort_t sort = { (uint8_t) key, desc == 1 };
            s_compare_cursor (f, &filter, &sort, 1 + s_rand (30));
            sf_filter_init (&filter);
            s_compare_cursor (f, &filter, &sort, 7);
        }
}

//  Deep pages (past the heap's 4096 rows) and big tie groups: thousands of
//  rows where clients has four values and bitrate twenty
static void
test_deep_pages (void **state)
{
    s_fix_t *f = *state;
    assert_int_equal (sf_store_write_begin (f->store), 0);
    for (int k = 0; k < NODES; k++)
        for (int n = 0; n < 1500; n++)
            s_put_random (f, s_nodes [k], n);
    s_commit (f);
    for (int k = 0; k < NODES; k++)
        sf_live_beat (f->live, s_nodes [k], 1, ++f->beats [k], f->mono_ms);
    for (int i = 0; i < 120; i++) {
        sf_filter_t filter;
        sf_filter_init (&filter);
        if (s_rand (3) == 0)
            s_random_filter (&filter);
        sf_sort_t sort = { (uint8_t) s_model_keys [s_rand (s_nmodel_keys)], s_rand (2) == 1 };
        s_compare_one (f, &filter, &sort, 4000 + s_rand (5000), 1 + s_rand (100));
    }
    //  One node goes down: its rows are offline at once, in every order
    f->mono_ms += 8000;
    for (int k = 1; k < NODES; k++)
        sf_live_beat (f->live, s_nodes [k], 1, ++f->beats [k], f->mono_ms);
    f->mono_ms += 4000;
    assert_int_equal (sf_live_state (f->live, s_nodes [0], f->mono_ms, NULL), SF_LIVE_DOWN);
    for (int i = 0; i < 60; i++) {
        sf_filter_t filter;
        s_random_filter (&filter);
        sf_sort_t sort = { (uint8_t) s_model_keys [s_rand (s_nmodel_keys)], s_rand (2) == 1 };
        s_compare_one (f, &filter, &sort, s_rand (9000), 1 + s_rand (100));
    }
    s_compare_counts (f);
}

static void
s_put_named (s_fix_t *f, const char *node, const char *name, int n)
{
    sf_stream_t s;
    s_random_stream (f, &s, node, n);
    SF_STRSET (s.name, name);
    assert_int_equal (sf_apply_put (f->store, &s), 0);
    sf_stream_clear (&s);
}

static void
s_compare_numeric (s_fix_t *f, int queries, size_t max_offset)
{
    uint8_t keys [SF_SORT_COUNT];
    int nkeys = 0;
    for (int k = 0; k < SF_SORT_COUNT; k++)
        if (s_numeric_key (k))
            keys [nkeys++] = (uint8_t) k;
    for (int i = 0; i < queries; i++) {
        sf_filter_t filter;
        sf_filter_init (&filter);
        if (s_rand (2))
            s_random_filter (&filter);
        sf_sort_t sort = { keys [s_rand ((uint32_t) nkeys)], s_rand (2) == 1 };
        s_compare_one (f, &filter, &sort, s_rand (4) ? s_rand ((uint32_t) max_offset) : 0,
                       1 + s_rand (60));
    }
}

//  The numeric indexes order ties by a per-row label kept in name order.
//  Names that always arrive next to the last one (ascending at the end of
//  the order, descending at its front, and into one gap in the middle) use
//  up the room between labels at once and make the model relabel windows of
//  rows again and again; values then change, rows go and come back, starts
//  lie in the future, a node goes down: every numeric order must stay the
//  reference's, in pages anywhere
static void
test_numeric_indexes (void **state)
{
    s_fix_t *f = *state;
    for (int k = 0; k < NODES; k++)
        sf_live_beat (f->live, s_nodes [k], 1, ++f->beats [k], f->mono_ms);
    char name [SF_NAME_MAX + 1];
    for (int batch = 0; batch < 20; batch++) {
        assert_int_equal (sf_store_write_begin (f->store), 0);
        for (int i = 0; i < 60; i++) {
            int n = batch * 60 + i;
            snprintf (name, sizeof (name), "z%05d", n);
            s_put_named (f, s_nodes [n % 2], name, n);
            snprintf (name, sizeof (name), "a%05d", 99999 - n);
            s_put_named (f, s_nodes [2], name, n);
            //  "m", "mm", "mmm" ... all fall between "l" and "n" in turn
            if (n < SF_NAME_MAX - 1) {
                memset (name, 'm', (size_t) n + 1);
                name [n + 1] = 0;
                s_put_named (f, s_nodes [3], name, n);
            }
        }
        s_commit (f);
        if (batch % 5 == 4)
            s_compare_numeric (f, 40, (size_t) (batch + 1) * 150);
    }
    assert_int_equal (sf_store_write_begin (f->store), 0);
    s_put_named (f, s_nodes [4], "l", 1);
    s_put_named (f, s_nodes [4], "n", 2);
    s_commit (f);
    //  Values move, rows go and come back
    for (int round = 0; round < 6; round++) {
        assert_int_equal (sf_store_write_begin (f->store), 0);
        for (int i = 0; i < 400; i++) {
            int n = (int) s_rand (1200);
            snprintf (name, sizeof (name), "z%05d", n);
            if (s_rand (6) == 0)
                assert_int_equal (sf_apply_del (f->store, s_nodes [n % 2], name, (sf_version_t) { 1, 1 }), 0);
            else
                s_put_named (f, s_nodes [n % 2], name, n);
        }
        s_commit (f);
        s_compare_numeric (f, 60, 2500);
    }
    //  A start in the future, and one at now + 1 (uptime -1: a tie with the
    //  streams not running)
    assert_int_equal (sf_store_write_begin (f->store), 0);
    for (int i = 0; i < 2; i++) {
        sf_stream_t s;
        s_random_stream (f, &s, s_nodes [5], 7);
        snprintf (s.name, sizeof (s.name), "future%d", i);
        s.status = SF_STATUS_ACTIVE;
        s.started_at = f->now_s + (i ? 1 : 50);
        assert_int_equal (sf_apply_put (f->store, &s), 0);
        sf_stream_clear (&s);
    }
    s_commit (f);
    for (int i = 0; i < 30; i++) {
        sf_filter_t filter;
        sf_filter_init (&filter);
        sf_sort_t sort = { SF_SORT_UPTIME, s_rand (2) == 1 };
        s_compare_one (f, &filter, &sort, s_rand (3000), 1 + s_rand (60));
    }
    //  A restart rebuilds the labels and the indexes in one sort each
    s_close (f);
    s_open (f);
    s_compare_numeric (f, 60, 2500);
    //  A node down: its running rows are -1 at once
    f->mono_ms += 8000;
    for (int k = 1; k < NODES; k++)
        sf_live_beat (f->live, s_nodes [k], 1, ++f->beats [k], f->mono_ms);
    f->mono_ms += 4000;
    assert_int_equal (sf_live_state (f->live, s_nodes [0], f->mono_ms, NULL), SF_LIVE_DOWN);
    s_compare_numeric (f, 60, 2500);
}

//  Commits that crowd the numeric indexes: thousands of rows move in one
//  commit into one tie group of clients and a narrow band of bitrate, then
//  out again (blocks fill, pass entries along their neighbours, split, and
//  empty; the Fenwick trees are rebuilt once per commit, not per split),
//  with every page anywhere compared to the scan after each commit
static void
s_put_values (s_fix_t *f, const char *node, int n, uint32_t clients, uint32_t bitrate)
{
    sf_stream_t s;
    s_random_stream (f, &s, node, n);
    s.clients = clients;
    s.bitrate_kbps = bitrate;
    assert_int_equal (sf_apply_put (f->store, &s), 0);
    sf_stream_clear (&s);
}

static void
test_crowded_blocks (void **state)
{
    s_fix_t *f = *state;
    for (int k = 0; k < NODES; k++)
        sf_live_beat (f->live, s_nodes [k], 1, ++f->beats [k], f->mono_ms);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    for (int k = 0; k < NODES; k++)
        for (int n = 0; n < 1500; n++)
            s_put_values (f, s_nodes [k], n, s_rand (1000), s_rand (100000));
    s_commit (f);
    for (int round = 0; round < 8; round++) {
        assert_int_equal (sf_store_write_begin (f->store), 0);
        for (int i = 0; i < 4000; i++) {
            int k = (int) s_rand (NODES), n = (int) s_rand (1500);
            if (round % 4 == 3)
                //  Out again: spread wide, the crowded blocks empty
                s_put_values (f, s_nodes [k], n, 1000 + s_rand (1000), 200000 + s_rand (100000));
            else
                //  Into one value of clients, a band of 50 of bitrate
                s_put_values (f, s_nodes [k], n, 500 + (uint32_t) round, 50000 + s_rand (50));
            if (s_rand (40) == 0)
                assert_int_equal (sf_apply_del (f->store, s_nodes [k], "cam001", (sf_version_t) { 1, 1 }), 0);
        }
        s_commit (f);
        s_compare_numeric (f, 40, 9000);
    }
    s_close (f);
    s_open (f);
    s_compare_numeric (f, 30, 9000);
}

//  Where a reference row sorts against a cursor's row (its value, name and
//  node, or url, when the page was read): the documented order, ascending
static int
s_ref_cmp_key (const s_ref_row_t *r, int sort_key, int64_t value, const char *url,
               const char *name, const char *node)
{
    int c = 0;
    if (sort_key == SF_SORT_NODE)
        c = strcmp (r->node, node);
    else if (sort_key == SF_SORT_SOURCE)
        c = strcmp (r->url, url);
    else if (sort_key != SF_SORT_NAME)
        c = r->value < value ? -1 : r->value > value;
    if (!c)
        c = strcmp (r->name, name);
    if (!c)
        c = strcmp (r->node, node);
    return c;
}

//  A keyset cursor is a place in the order, not a count: between two pages
//  the cursor's own row is deleted, or changes its value, or rows come and
//  go before and after it; the next page must be exactly the rows that now
//  sort after the cursor's (value, name, node), as a scan finds them. The
//  model finds that place with a seek in its indexes (a row that is gone
//  seeks by its name-order neighbour's label), so every sort is walked.
static void
test_cursor_moves (void **state)
{
    s_fix_t *f = *state;
    for (int k = 0; k < NODES; k++)
        sf_live_beat (f->live, s_nodes [k], 1, ++f->beats [k], f->mono_ms);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    for (int k = 0; k < NODES; k++)
        for (int n = 0; n < 150; n++)
            s_put_random (f, s_nodes [k], n);
    s_commit (f);
    for (int ki = 0; ki < s_nmodel_keys; ki++)
        for (int desc = 0, key = s_model_keys [ki]; desc < 2; desc++) {
            sf_filter_t filter;
            sf_filter_init (&filter);
            if (s_rand (2))
                s_random_filter (&filter);
            sf_sort_t sort = { (uint8_t) key, desc == 1 };
            sf_readmodel_clock_t clock = { f->live, f->mono_ms, f->now_s };
            char after [SF_READMODEL_CURSOR_MAX + 1] = "";
            s_ref_row_t last;
            for (int page_no = 0; page_no < 12; page_no++) {
                s_ref_t ref;
                s_ref_list (f, &filter, &sort, &ref);
                size_t start = 0;
                if (after [0])
                    while (start < ref.count) {
                        int c = s_ref_cmp_key (&ref.rows [start], key, last.value, last.url, last.name, last.node);
                        if (desc ? c < 0 : c > 0)
                            break;
                        start++;
                    }
                size_t limit = 1 + s_rand (25);
                sf_readmodel_page_t page;
                char err [256];
                assert_int_equal (sf_readmodel_list (f->model, &filter, &sort, after, 0, limit, &clock,
                                                     &page, err, sizeof (err)), 0);
                size_t want = ref.count - start < limit ? ref.count - start : limit;
                if (page.count != want)
                    print_error ("sort %s%s page %d: %zu rows, reference %zu\n", desc ? "-" : "",
                                 sf_sort_name (key), page_no, page.count, want);
                assert_int_equal (page.count, want);
                for (size_t i = 0; i < want; i++) {
                    assert_string_equal (page.keys [i].node, ref.rows [start + i].node);
                    assert_string_equal (page.keys [i].name, ref.rows [start + i].name);
                }
                assert_int_equal (page.next [0] != 0, start + want < ref.count);
                if (!page.next [0]) {
                    sf_readmodel_page_clear (&page);
                    free (ref.rows);
                    break;
                }
                last = ref.rows [start + want - 1];
                snprintf (after, sizeof (after), "%s", page.next);
                sf_readmodel_page_clear (&page);
                free (ref.rows);
                //  Between the pages: the cursor's row goes, or moves, or
                //  stays; other rows change and come and go
                assert_int_equal (sf_store_write_begin (f->store), 0);
                int what = (int) s_rand (3);
                if (what == 0)
                    assert_int_equal (sf_apply_del (f->store, last.node, last.name, (sf_version_t) { 3, 1 }), 0);
                else if (what == 1) {
                    sf_stream_t st;
                    s_random_stream (f, &st, last.node, 0);
                    SF_STRSET (st.name, last.name);
                    assert_int_equal (sf_apply_put (f->store, &st), 0);
                    sf_stream_clear (&st);
                }
                for (int i = 0; i < 8; i++) {
                    const char *node = s_nodes [s_rand (NODES)];
                    int n = (int) s_rand (200);
                    if (s_rand (3) == 0) {
                        char name [32];
                        snprintf (name, sizeof (name), "%s%03d%s", n % 3 ? "cam" : "Cam", n, n % 5 == 0 ? "-x" : "");
                        assert_int_equal (sf_apply_del (f->store, node, name, (sf_version_t) { 3, 2 }), 0);
                    }
                    else
                        s_put_random (f, node, n);
                }
                s_commit (f);
            }
        }
}

//  A stale or foreign cursor is refused with a clear error
static void
test_bad_cursor (void **state)
{
    s_fix_t *f = *state;
    sf_filter_t filter;
    sf_filter_init (&filter);
    sf_sort_t sort = { SF_SORT_BITRATE, true };
    sf_readmodel_page_t page;
    char err [256] = "";
    assert_int_equal (sf_readmodel_list (f->model, &filter, &sort, "zz", 0, 10, NULL, &page,
                                         err, sizeof (err)), -1);
    assert_non_null (strstr (err, "cursor"));
    //  A cursor of another sort
    assert_int_equal (sf_store_write_begin (f->store), 0);
    for (int n = 0; n < 20; n++)
        s_put_random (f, "n01", n);
    s_commit (f);
    sf_sort_t by_name = { SF_SORT_NAME, false };
    assert_int_equal (sf_readmodel_list (f->model, &filter, &by_name, NULL, 0, 5, NULL, &page,
                                         err, sizeof (err)), 0);
    char next [SF_READMODEL_CURSOR_MAX + 1];
    snprintf (next, sizeof (next), "%s", page.next);
    assert_true (next [0]);
    sf_readmodel_page_clear (&page);
    assert_int_equal (sf_readmodel_list (f->model, &filter, &sort, next, 0, 10, NULL, &page,
                                         err, sizeof (err)), -1);
}

//  Readers on other threads see whole commits only: every commit deletes one
//  row and adds another, so each reader must count exactly N rows, and every
//  page must be in order, while the writer commits as fast as it can
#define S_CONC_ROWS 200
static atomic_bool s_conc_stop;
static atomic_int s_conc_bad;

static void *
s_conc_reader (void *arg)
{
    sf_readmodel_t *rm = arg;
    sf_filter_t all;
    sf_filter_init (&all);
    int key = 0;
    while (!atomic_load (&s_conc_stop)) {
        sf_sort_t sort = { (uint8_t) (key++ % SF_SORT_SOURCE), key % 2 == 0 };
        sf_readmodel_page_t page;
        char err [256];
        if (sf_readmodel_list (rm, &all, &sort, NULL, (size_t) (key * 37) % 100, 50, NULL,
                               &page, err, sizeof (err))
        ||  page.total != S_CONC_ROWS)
            atomic_fetch_add (&s_conc_bad, 1);
        if (sort.key == SF_SORT_NAME)
            for (size_t i = 1; i < page.count; i++) {
                int c = strcmp (page.keys [i - 1].name, page.keys [i].name);
                if (!c)
                    c = strcmp (page.keys [i - 1].node, page.keys [i].node);
                if (sort.desc ? c <= 0 : c >= 0)
                    atomic_fetch_add (&s_conc_bad, 1);
            }
        sf_readmodel_gauges_t g;
        sf_readmodel_gauges (rm, NULL, &g);
        if (g.total != S_CONC_ROWS)
            atomic_fetch_add (&s_conc_bad, 1);
        sf_readmodel_page_clear (&page);
    }
    return NULL;
}

static void
test_concurrent_readers (void **state)
{
    (void) state;
    sf_readmodel_t *rm = sf_readmodel_new ();
    char names [2 * S_CONC_ROWS][24];
    sf_store_change_t c [S_CONC_ROWS];
    for (int i = 0; i < 2 * S_CONC_ROWS; i++)
        snprintf (names [i], sizeof (names [i]), "cam%06d", i);
    for (int i = 0; i < S_CONC_ROWS; i++) {
        c [i] = (sf_store_change_t) { .node = i % 2 ? "n1" : "n2", .name = names [i] };
        c [i].sum.magic = SF_SUMMARY_MAGIC;
        c [i].sum.bitrate_kbps = (uint32_t) (i * 7919 % 1000);
    }
    sf_readmodel_apply (rm, c, S_CONC_ROWS);
    atomic_store (&s_conc_stop, false);
    atomic_store (&s_conc_bad, 0);
    pthread_t readers [2];
    for (int i = 0; i < 2; i++)
        assert_int_equal (pthread_create (&readers [i], NULL, s_conc_reader, rm), 0);
    //  Rows i..i+19 are replaced by rows i+N..i+N+19, and back, commit after
    //  commit: the deletions first, so a reader that saw a commit half done
    //  would count fewer rows
    for (int round = 0; round < 400; round++) {
        int at = (round * 20) % S_CONC_ROWS;
        bool back = (round * 20 / S_CONC_ROWS) % 2;
        sf_store_change_t swap [40];
        for (int k = 0; k < 20; k++) {
            int i = at + k;
            int gone = back ? i + S_CONC_ROWS : i, comes = back ? i : i + S_CONC_ROWS;
            const char *node = i % 2 ? "n1" : "n2";
            swap [k] = (sf_store_change_t) { .deleted = true, .node = node, .name = names [gone] };
            swap [20 + k] = (sf_store_change_t) { .node = node, .name = names [comes] };
            swap [20 + k].sum.magic = SF_SUMMARY_MAGIC;
            swap [20 + k].sum.bitrate_kbps = (uint32_t) (round * 31 + k) % 997;
            swap [20 + k].sum.status = (uint8_t) ((round + k) % 4);
        }
        sf_readmodel_apply (rm, swap, 40);
    }
    atomic_store (&s_conc_stop, true);
    for (int i = 0; i < 2; i++)
        pthread_join (readers [i], NULL);
    assert_int_equal (atomic_load (&s_conc_bad), 0);
    assert_int_equal (sf_readmodel_size (rm), S_CONC_ROWS);
    sf_readmodel_destroy (&rm);
}

int
main (void)
{
    s_model_keys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_equivalence, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_deep_pages, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_numeric_indexes, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_crowded_blocks, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_cursor_moves, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_cursor, s_setup, s_teardown),
        cmocka_unit_test (test_concurrent_readers),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  test_store.c — the controller's LMDB storage (controller/store.c).

    Pins down the narrow interface the ingest and query threads rely on: put
    and get of placements with their summary, scans of all / one node / one
    name, deletion of one placement (both indexes), origins, nodes, the
    generic primitives (key builder, get/put/add/del, prefix walks both
    ways) that other modules' databases sit behind, growth of a full map (commit reports
    SF_STORE_RETRY, the replayed batch lands, nothing earlier is lost),
    persistence across a close and reopen, ordered commits (--store-ordered)
    switched on and off, giving back the map's resident
    pages without losing a byte, and coalescing: several updates of one
    placement in one transaction written once, the last, whatever else the
    transaction does with it.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "sf_store.h"
#include "sf_codec.h"

typedef struct {
    char dir [64];
    sf_store_t *store;
} s_fix_t;

static int
s_setup (void **state)
{
    s_fix_t *f = calloc (1, sizeof (*f));
    snprintf (f->dir, sizeof (f->dir), "/tmp/sf-test-store.XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    char err [256];
    f->store = sf_store_new (f->dir, 0, err, sizeof (err));
    assert_non_null (f->store);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fix_t *f = *state;
    sf_store_destroy (&f->store);
    char cmd [128];
    snprintf (cmd, sizeof (cmd), "rm -rf %s", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
}

static void
s_stream (sf_stream_t *s, const char *node, const char *name, uint32_t clients)
{
    sf_stream_init (s);
    SF_STRSET (s->node, node);
    SF_STRSET (s->name, name);
    s->clients = clients;
    s->bitrate_kbps = clients * 100;
    s->status = SF_STATUS_ACTIVE;
    s->functions = SF_FN_DVR;
    s->version.gen = 2;
    s->version.seq = clients;
    sf_text_set (&s->config, "config of a stream");
    sf_dvr_add_range (&s->dvr, 100, 200);
}

static void
s_put (sf_store_t *st, const char *node, const char *name, uint32_t clients)
{
    sf_stream_t s;
    s_stream (&s, node, name, clients);
    assert_int_equal (sf_store_write_begin (st), 0);
    assert_int_equal (sf_store_put_stream (st, &s), 0);
    assert_int_equal (sf_store_commit (st), 0);
    sf_stream_clear (&s);
}

//  Collects "node/name" of scanned rows, space separated
typedef struct {
    char out [4096];
    int count;
} s_acc_t;

static int
s_collect (const sf_row_t *row, void *arg)
{
    s_acc_t *a = arg;
    char one [256];
    snprintf (one, sizeof (one), "%s%s/%s", a->out [0] ? " " : "", row->node, row->name);
    strncat (a->out, one, sizeof (a->out) - strlen (a->out) - 1);
    a->count++;
    assert_int_equal (row->sum.magic, SF_SUMMARY_MAGIC);
    return 0;
}

static const char *
s_scan (sf_store_t *st, const char *node, const char *name)
{
    static s_acc_t a;
    memset (&a, 0, sizeof (a));
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (st, &r), 0);
    if (name)
        sf_store_scan_name (&r, name, s_collect, &a);
    else
        sf_store_scan_streams (&r, node, s_collect, &a);
    sf_store_read_end (&r);
    return a.out;
}

static void
test_put_then_get_returns_the_record_and_summary (void **state)
{
    s_fix_t *f = *state;
    s_put (f->store, "n1", "cam1", 7);
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    sf_row_t row;
    assert_int_equal (sf_store_get_row (&r, "n1", "cam1", &row), 0);
    assert_string_equal (row.node, "n1");
    assert_string_equal (row.name, "cam1");
    assert_int_equal (row.sum.clients, 7);
    assert_int_equal (row.sum.bitrate_kbps, 700);
    assert_int_equal (row.sum.status, SF_STATUS_ACTIVE);
    assert_int_equal (row.sum.functions, SF_FN_DVR);
    assert_int_equal (row.sum.gen, 2);
    assert_int_equal (row.sum.seq, 7);
    sf_stream_t s;
    sf_stream_init (&s);
    assert_int_equal (sf_row_decode (&row, &s), 0);
    assert_string_equal (s.config, "config of a stream");
    assert_int_equal (s.dvr.nranges, 1);
    assert_int_equal (s.clients, 7);
    sf_stream_clear (&s);
    //  absent rows and oversized keys are not found
    assert_int_equal (sf_store_get_row (&r, "n1", "nope", &row), -1);
    assert_int_equal (sf_store_get_row (&r, "n2", "cam1", &row), -1);
    char big [200];
    memset (big, 'a', sizeof (big) - 1);
    big [sizeof (big) - 1] = 0;
    assert_int_equal (sf_store_get_row (&r, "n1", big, &row), -1);
    sf_store_read_end (&r);
}

static void
test_put_overwrites_the_same_key (void **state)
{
    s_fix_t *f = *state;
    s_put (f->store, "n1", "cam1", 1);
    s_put (f->store, "n1", "cam1", 9);
    assert_string_equal (s_scan (f->store, NULL, NULL), "n1/cam1");
    sf_read_t r;
    sf_store_read_begin (f->store, &r);
    sf_row_t row;
    assert_int_equal (sf_store_get_row (&r, "n1", "cam1", &row), 0);
    assert_int_equal (row.sum.clients, 9);
    size_t count = 0;
    assert_int_equal (sf_store_count_streams (&r, &count), 0);
    assert_int_equal (count, 1);
    sf_store_read_end (&r);
}

static void
test_scans_by_all_node_and_name (void **state)
{
    s_fix_t *f = *state;
    s_put (f->store, "n1", "cam1", 1);
    s_put (f->store, "n1", "cam2", 2);
    s_put (f->store, "n10", "cam1", 3);         //  a node whose id extends "n1"
    s_put (f->store, "n2", "cam1", 4);
    s_put (f->store, "n2", "cam10", 5);         //  a name extending "cam1"
    assert_string_equal (s_scan (f->store, NULL, NULL), "n1/cam1 n1/cam2 n10/cam1 n2/cam1 n2/cam10");
    assert_string_equal (s_scan (f->store, "n1", NULL), "n1/cam1 n1/cam2");
    assert_string_equal (s_scan (f->store, "n2", NULL), "n2/cam1 n2/cam10");
    assert_string_equal (s_scan (f->store, "n3", NULL), "");
    assert_string_equal (s_scan (f->store, NULL, "cam1"), "n1/cam1 n10/cam1 n2/cam1");
    assert_string_equal (s_scan (f->store, NULL, "cam10"), "n2/cam10");
    assert_string_equal (s_scan (f->store, NULL, "cam"), "");
}

static int
s_stop_after_two (const sf_row_t *row, void *arg)
{
    int *n = arg;
    return ++*n == 2;
}

static void
test_scan_stops_when_the_callback_says_so (void **state)
{
    s_fix_t *f = *state;
    for (int i = 0; i < 5; i++) {
        char name [16];
        snprintf (name, sizeof (name), "cam%d", i);
        s_put (f->store, "n1", name, (uint32_t) i);
    }
    sf_read_t r;
    sf_store_read_begin (f->store, &r);
    int n = 0;
    sf_store_scan_streams (&r, NULL, s_stop_after_two, &n);
    assert_int_equal (n, 2);
    sf_store_read_end (&r);
}

static void
test_delete_removes_from_both_indexes (void **state)
{
    s_fix_t *f = *state;
    s_put (f->store, "n1", "cam1", 1);
    s_put (f->store, "n2", "cam1", 2);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    assert_int_equal (sf_store_del_stream (f->store, "n1", "cam1", (sf_version_t) { 3, 9 }), 0);
    //  deleting what is not there is not an error
    assert_int_equal (sf_store_del_stream (f->store, "n1", "ghost", (sf_version_t) { 0, 0 }), 0);
    assert_int_equal (sf_store_commit (f->store), 0);
    assert_string_equal (s_scan (f->store, NULL, NULL), "n2/cam1");
    assert_string_equal (s_scan (f->store, NULL, "cam1"), "n2/cam1");
    //  the deletion is remembered as a tombstone at its version
    sf_read_t r;
    sf_store_read_begin (f->store, &r);
    sf_version_t v;
    assert_int_equal (sf_store_get_tombstone (&r, "n1", "cam1", &v), 0);
    assert_int_equal (v.gen, 3);
    assert_int_equal (v.seq, 9);
    assert_int_equal (sf_store_get_tombstone (&r, "n1", "ghost", &v), -1);
    sf_store_read_end (&r);
    //  putting the placement back removes its tombstone
    s_put (f->store, "n1", "cam1", 10);
    sf_store_read_begin (f->store, &r);
    assert_int_equal (sf_store_get_tombstone (&r, "n1", "cam1", &v), -1);
    sf_store_read_end (&r);
}

static void
test_abort_discards_the_transaction (void **state)
{
    s_fix_t *f = *state;
    sf_stream_t s;
    s_stream (&s, "n1", "cam1", 1);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    assert_int_equal (sf_store_put_stream (f->store, &s), 0);
    sf_store_abort (f->store);
    assert_string_equal (s_scan (f->store, NULL, NULL), "");
    sf_stream_clear (&s);
}

static void
test_origins_are_stored_per_node (void **state)
{
    s_fix_t *f = *state;
    assert_int_equal (sf_store_write_begin (f->store), 0);
    assert_int_equal (sf_store_set_origin (f->store, "n1", (sf_version_t) { 3, 100 }), 0);
    assert_int_equal (sf_store_set_origin (f->store, "n2", (sf_version_t) { 1, 5 }), 0);
    assert_int_equal (sf_store_set_origin (f->store, "n1", (sf_version_t) { 4, 1 }), 0);
    assert_int_equal (sf_store_commit (f->store), 0);
    sf_read_t r;
    sf_store_read_begin (f->store, &r);
    sf_version_t v;
    assert_int_equal (sf_store_get_origin (&r, "n1", &v), 0);
    assert_int_equal (v.gen, 4);
    assert_int_equal (v.seq, 1);
    assert_int_equal (sf_store_get_origin (&r, "n2", &v), 0);
    assert_int_equal (v.seq, 5);
    assert_int_equal (sf_store_get_origin (&r, "n3", &v), -1);
    assert_int_equal (v.gen, 0);
    sf_store_read_end (&r);
}

static int
s_node_names (const sf_node_t *n, void *arg)
{
    char *out = arg;
    if (*out)
        strcat (out, " ");
    strcat (out, n->id);
    return 0;
}

static void
test_nodes_put_get_and_scan (void **state)
{
    s_fix_t *f = *state;
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.id, "n2");
    SF_STRSET (n.addr_external, "media-2.example");
    n.heartbeat = 17;
    n.ndisks = 1;
    SF_STRSET (n.disks [0].mount, "/dvr");
    assert_int_equal (sf_store_write_begin (f->store), 0);
    assert_int_equal (sf_store_put_node (f->store, &n), 0);
    SF_STRSET (n.id, "n1");
    assert_int_equal (sf_store_put_node (f->store, &n), 0);
    assert_int_equal (sf_store_commit (f->store), 0);
    sf_read_t r;
    sf_store_read_begin (f->store, &r);
    sf_node_t got;
    assert_int_equal (sf_store_get_node (&r, "n2", &got), 0);
    assert_string_equal (got.id, "n2");
    assert_string_equal (got.addr_external, "media-2.example");
    assert_int_equal (got.heartbeat, 17);
    assert_string_equal (got.disks [0].mount, "/dvr");
    assert_int_equal (sf_store_get_node (&r, "n9", &got), -1);
    char names [64] = "";
    sf_store_scan_nodes (&r, s_node_names, names);
    assert_string_equal (names, "n1 n2");
    sf_store_read_end (&r);
}

//  Collects "key=value" of a generic walk; keys are be64 + text
static int
s_kv_collect (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    char *out = arg;
    char one [96];
    assert_true (k->size >= 8);
    snprintf (one, sizeof (one), "%s%llu:%.*s=%.*s", *out ? " " : "",
              (unsigned long long) sf_be64_get (k->data), (int) (k->size - 8),
              (const char *) k->data + 8, (int) v->size, (const char *) v->data);
    strcat (out, one);
    return 0;
}

static void
s_kv_put (sf_store_t *st, uint64_t n, const char *text, const char *value)
{
    sf_key_t k;
    assert_int_equal (sf_key_make (&k, "Ln", n, text), 0);
    assert_int_equal (sf_store_put (st, SF_DB_FLEET_EVENTS, &k, value, strlen (value)), 0);
}

static void
test_key_make_builds_parts_in_order_and_refuses_overlong_keys (void **state)
{
    sf_key_t k;
    assert_int_equal (sf_key_make (&k, "sLBn", "ab", (uint64_t) 0x0102030405060708ull, 'x', "cd"), 0);
    const uint8_t want [] = { 'a', 'b', 0, 1, 2, 3, 4, 5, 6, 7, 8, 'x', 'c', 'd' };
    assert_int_equal (k.size, sizeof (want));
    assert_memory_equal (k.data, want, sizeof (want));
    assert_int_equal (sf_be64_get (k.data + 3), 0x0102030405060708ull);
    char big [600];
    memset (big, 'a', sizeof (big) - 1);
    big [sizeof (big) - 1] = 0;
    assert_int_equal (sf_key_make (&k, "n", big), -1);
    assert_int_equal (k.size, 0);
    assert_int_equal (sf_key_make (&k, "D", "\0\1", (size_t) 2), 0);
    assert_int_equal (k.size, 2);
}

static void
test_generic_primitives_put_get_add_del_and_walk_by_prefix (void **state)
{
    s_fix_t *f = *state;
    assert_int_equal (sf_store_write_begin (f->store), 0);
    s_kv_put (f->store, 2, "b", "2b");
    s_kv_put (f->store, 1, "a", "1a");
    s_kv_put (f->store, 3, "c", "3c");
    s_kv_put (f->store, 3, "d", "3d");
    s_kv_put (f->store, 4, "e", "4e");
    //  the open transaction reads its own writes through a view
    sf_read_t r;
    assert_int_equal (sf_store_write_view (f->store, &r), 0);
    sf_key_t k;
    sf_val_t v;
    sf_key_make (&k, "Ln", (uint64_t) 2, "b");
    assert_int_equal (sf_store_get (&r, SF_DB_FLEET_EVENTS, &k, &v), 0);
    assert_int_equal (v.size, 2);
    assert_memory_equal (v.data, "2b", 2);
    sf_store_read_end (&r);     //  a view: the transaction stays open
    //  add keeps what is there
    assert_int_equal (sf_store_add (f->store, SF_DB_FLEET_EVENTS, &k, "xx", 2), 1);
    sf_key_make (&k, "Ln", (uint64_t) 9, "z");
    assert_int_equal (sf_store_add (f->store, SF_DB_FLEET_EVENTS, &k, "9z", 2), 0);
    assert_int_equal (sf_store_del (f->store, SF_DB_FLEET_EVENTS, &k), 0);
    assert_int_equal (sf_store_del (f->store, SF_DB_FLEET_EVENTS, &k), 1);
    assert_int_equal (sf_store_commit (f->store), 0);

    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    char out [256] = "";
    sf_store_foreach (&r, SF_DB_FLEET_EVENTS, NULL, 0, s_kv_collect, out);
    assert_string_equal (out, "1:a=1a 2:b=2b 3:c=3c 3:d=3d 4:e=4e");
    out [0] = 0;
    sf_store_foreach (&r, SF_DB_FLEET_EVENTS, NULL, SF_SCAN_BACKWARDS, s_kv_collect, out);
    assert_string_equal (out, "4:e=4e 3:d=3d 3:c=3c 2:b=2b 1:a=1a");
    //  a prefix, both ways
    sf_key_t prefix;
    sf_key_make (&prefix, "L", (uint64_t) 3);
    out [0] = 0;
    sf_store_foreach (&r, SF_DB_FLEET_EVENTS, &prefix, 0, s_kv_collect, out);
    assert_string_equal (out, "3:c=3c 3:d=3d");
    out [0] = 0;
    sf_store_foreach (&r, SF_DB_FLEET_EVENTS, &prefix, SF_SCAN_BACKWARDS, s_kv_collect, out);
    assert_string_equal (out, "3:d=3d 3:c=3c");
    //  a start inside the range
    sf_key_t from;
    sf_key_make (&from, "Ln", (uint64_t) 2, "c");
    out [0] = 0;
    sf_store_foreach_from (&r, SF_DB_FLEET_EVENTS, NULL, &from, s_kv_collect, out);
    assert_string_equal (out, "3:c=3c 3:d=3d 4:e=4e");
    size_t count = 0;
    assert_int_equal (sf_store_count (&r, SF_DB_FLEET_EVENTS, &count), 0);
    assert_int_equal (count, 5);
    sf_store_read_end (&r);
    //  no view without a write transaction
    assert_int_equal (sf_store_write_view (f->store, &r), -1);
}

static void
test_backwards_walk_with_a_prefix_of_0xff_bytes_ends_at_the_last_key (void **state)
{
    s_fix_t *f = *state;
    assert_int_equal (sf_store_write_begin (f->store), 0);
    s_kv_put (f->store, UINT64_MAX, "a", "ma");
    s_kv_put (f->store, UINT64_MAX, "b", "mb");
    s_kv_put (f->store, 7, "a", "7a");
    assert_int_equal (sf_store_commit (f->store), 0);
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    sf_key_t prefix;
    sf_key_make (&prefix, "L", UINT64_MAX);
    char out [128] = "";
    sf_store_foreach (&r, SF_DB_FLEET_EVENTS, &prefix, SF_SCAN_BACKWARDS, s_kv_collect, out);
    assert_string_equal (out, "18446744073709551615:b=mb 18446744073709551615:a=ma");
    sf_store_read_end (&r);
}

static void
test_full_map_grows_and_loses_nothing (void **state)
{
    char dir [64];
    snprintf (dir, sizeof (dir), "/tmp/sf-test-grow.XXXXXX");
    assert_non_null (mkdtemp (dir));
    char err [256];
    //  a tiny map: 256 KiB
    sf_store_t *st = sf_store_new (dir, 256 * 1024, err, sizeof (err));
    assert_non_null (st);
    int batches = 0, retries = 0;
    const int per_batch = 200, nbatches = 20;
    while (batches < nbatches) {
        assert_int_equal (sf_store_write_begin (st), 0);
        for (int i = 0; i < per_batch; i++) {
            sf_stream_t s;
            char name [32];
            snprintf (name, sizeof (name), "cam-%04d", batches * per_batch + i);
            s_stream (&s, "n1", name, 1);
            sf_text_set (&s.source_sdp, "v=0\r\no=- 0 0 IN IP4 10.0.0.1\r\ns=a session long enough "
                                        "to fill pages\r\n");
            sf_store_put_stream (st, &s);      //  may fail once the map is full
            sf_stream_clear (&s);
        }
        int rc = sf_store_commit (st);
        assert_true (rc == 0 || rc == SF_STORE_RETRY);
        if (rc == SF_STORE_RETRY)
            retries++;             //  replay the same batch
        else
            batches++;
        assert_true (retries < 20);
    }
    assert_true (retries > 0);     //  the map did fill and grow
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (st, &r), 0);
    size_t count = 0;
    sf_store_count_streams (&r, &count);
    assert_int_equal (count, (size_t) per_batch * nbatches);
    sf_row_t row;
    assert_int_equal (sf_store_get_row (&r, "n1", "cam-0000", &row), 0);
    assert_int_equal (sf_store_get_row (&r, "n1", "cam-3999", &row), 0);
    sf_stream_t s;
    sf_stream_init (&s);
    assert_int_equal (sf_row_decode (&row, &s), 0);
    assert_non_null (strstr (s.source_sdp, "long enough"));
    sf_stream_clear (&s);
    sf_store_read_end (&r);
    sf_store_destroy (&st);
    //  the grown map stays grown when reopened with the small size
    st = sf_store_new (dir, 256 * 1024, err, sizeof (err));
    assert_non_null (st);
    sf_store_read_begin (st, &r);
    sf_store_count_streams (&r, &count);
    assert_int_equal (count, (size_t) per_batch * nbatches);
    sf_store_read_end (&r);
    sf_store_destroy (&st);
    char cmd [128];
    snprintf (cmd, sizeof (cmd), "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

static void
test_grow_refuses_to_shrink (void **state)
{
    s_fix_t *f = *state;
    assert_int_equal (sf_store_grow (f->store, 1024), -1);
}

static void
test_reopen_keeps_everything (void **state)
{
    s_fix_t *f = *state;
    s_put (f->store, "n1", "cam1", 1);
    s_put (f->store, "n2", "cam2", 2);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    sf_store_set_origin (f->store, "n1", (sf_version_t) { 6, 60 });
    s_kv_put (f->store, 5000, "e1", "v1");
    assert_int_equal (sf_store_commit (f->store), 0);
    sf_store_destroy (&f->store);
    char err [256];
    f->store = sf_store_new (f->dir, 0, err, sizeof (err));
    assert_non_null (f->store);
    assert_string_equal (s_scan (f->store, NULL, NULL), "n1/cam1 n2/cam2");
    assert_string_equal (s_scan (f->store, NULL, "cam2"), "n2/cam2");
    sf_read_t r;
    sf_store_read_begin (f->store, &r);
    sf_version_t v;
    assert_int_equal (sf_store_get_origin (&r, "n1", &v), 0);
    assert_int_equal (v.gen, 6);
    assert_int_equal (v.seq, 60);
    sf_store_read_end (&r);
    //  other modules' databases persist too
    char out [128] = "";
    sf_store_read_begin (f->store, &r);
    sf_store_foreach (&r, SF_DB_FLEET_EVENTS, NULL, 0, s_kv_collect, out);
    assert_string_equal (out, "5000:e1=v1");
    sf_store_read_end (&r);
}

//  --store-ordered: commits are flushed by the commit itself (MDB_NOMETASYNC,
//  not MDB_NOSYNC), can be switched back, not with a write transaction open,
//  and what was committed either way is stored
static void
test_ordered_commits_switch_the_flush_mode_and_keep_every_commit (void **state)
{
    s_fix_t *f = *state;
    assert_false (sf_store_ordered (f->store));
    assert_int_equal (sf_store_set_ordered (f->store, true), 0);
    assert_true (sf_store_ordered (f->store));
    s_put (f->store, "n1", "cam1", 1);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    assert_int_equal (sf_store_set_ordered (f->store, false), -1);
    assert_int_equal (sf_store_commit (f->store), 0);
    assert_true (sf_store_ordered (f->store));
    assert_int_equal (sf_store_set_ordered (f->store, false), 0);
    assert_false (sf_store_ordered (f->store));
    s_put (f->store, "n2", "cam2", 2);
    assert_int_equal (sf_store_set_ordered (f->store, true), 0);
    s_put (f->store, "n3", "cam3", 3);
    assert_int_equal (sf_store_sync (f->store, NULL), 0);
    sf_store_destroy (&f->store);
    char err [256];
    f->store = sf_store_new (f->dir, 0, err, sizeof (err));
    assert_non_null (f->store);
    assert_false (sf_store_ordered (f->store));     //  a run's choice, not stored
    assert_string_equal (s_scan (f->store, NULL, NULL), "n1/cam1 n2/cam2 n3/cam3");
}

//  The digest kept with every commit equals a scan of what is stored, through
//  puts, overwrites, deletes, an aborted transaction and a reopen
static void
s_digest_matches_a_scan (sf_store_t *st, uint64_t want_count)
{
    uint64_t d, n, sd, sn;
    sf_store_digest (st, &d, &n);
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (st, &r), 0);
    sf_store_digest_scan (&r, &sd, &sn);
    sf_store_read_end (&r);
    assert_int_equal (n, want_count);
    assert_int_equal (sn, want_count);
    assert_true (d == sd);
}

//  The same after 400 random transactions: puts of new keys and new
//  versions of stored ones, deletes of stored and absent keys with and
//  without tombstones, one transaction in five aborted
static void
test_the_digest_follows_random_changes (void **state)
{
    s_fix_t *f = *state;
    sf_store_t *st = f->store;
    srand (12);
    uint64_t seq = 100;
    for (int round = 0; round < 400; round++) {
        assert_int_equal (sf_store_write_begin (st), 0);
        int ops = 1 + rand () % 20;
        for (int k = 0; k < ops; k++) {
            char node [8], name [16];
            snprintf (node, sizeof (node), "n%d", rand () % 3);
            snprintf (name, sizeof (name), "s%d", rand () % 60);
            int what = rand () % 10;
            if (what < 6) {
                sf_stream_t s;
                s_stream (&s, node, name, 1);
                s.version.gen = 2 + (uint64_t) (rand () % 2);
                s.version.seq = ++seq;
                assert_int_equal (sf_store_put_stream (st, &s), 0);
                sf_stream_clear (&s);
            }
            else if (what < 9)
                assert_int_equal (sf_store_del_stream (st, node, name, (sf_version_t) { 2, ++seq }), 0);
            else
                assert_int_equal (sf_store_del_stream (st, node, name, (sf_version_t) { 0, 0 }), 0);
        }
        if (rand () % 5 == 0)
            sf_store_abort (st);
        else
            assert_int_equal (sf_store_commit (st), 0);
        uint64_t d, n, sd, sn;
        sf_store_digest (st, &d, &n);
        sf_read_t r;
        assert_int_equal (sf_store_read_begin (st, &r), 0);
        sf_store_digest_scan (&r, &sd, &sn);
        sf_store_read_end (&r);
        assert_int_equal (n, sn);
        assert_true (d == sd);
    }
}

static void
test_the_digest_follows_every_commit (void **state)
{
    s_fix_t *f = *state;
    s_digest_matches_a_scan (f->store, 0);
    s_put (f->store, "n1", "cam1", 1);
    s_put (f->store, "n1", "cam2", 2);
    s_put (f->store, "n2", "cam1", 3);
    s_digest_matches_a_scan (f->store, 3);
    uint64_t before, n;
    sf_store_digest (f->store, &before, &n);
    s_put (f->store, "n1", "cam1", 4);          //  a new version of the same key
    uint64_t after;
    sf_store_digest (f->store, &after, &n);
    assert_true (after != before);
    s_digest_matches_a_scan (f->store, 3);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    assert_int_equal (sf_store_del_stream (f->store, "n1", "cam2", (sf_version_t) { 2, 9 }), 0);
    assert_int_equal (sf_store_commit (f->store), 0);
    s_digest_matches_a_scan (f->store, 2);
    //  What an aborted transaction did counts for nothing
    sf_stream_t s;
    s_stream (&s, "n3", "cam9", 9);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    assert_int_equal (sf_store_put_stream (f->store, &s), 0);
    assert_int_equal (sf_store_del_stream (f->store, "n2", "cam1", (sf_version_t) { 2, 10 }), 0);
    sf_store_abort (f->store);
    sf_stream_clear (&s);
    s_digest_matches_a_scan (f->store, 2);
    sf_store_digest (f->store, &before, &n);
    sf_store_destroy (&f->store);
    char err [256];
    f->store = sf_store_new (f->dir, 0, err, sizeof (err));
    assert_non_null (f->store);
    sf_store_digest (f->store, &after, &n);
    assert_true (after == before);
    s_digest_matches_a_scan (f->store, 2);
}

//  Resident bytes of this process's mappings of the store's data file
//  (/proc/self/smaps: the Rss of every range backed by DIR/data.mdb)
static long
s_data_rss (const char *dir)
{
    char want [128], line [512];
    snprintf (want, sizeof (want), "%s/data.mdb", dir);
    FILE *f = fopen ("/proc/self/smaps", "r");
    assert_non_null (f);
    long kib = 0, v;
    unsigned long lo, hi;
    bool in = false;
    while (fgets (line, sizeof (line), f)) {
        if (sscanf (line, "%lx-%lx ", &lo, &hi) == 2)
            in = strstr (line, want) != NULL;         //  a mapping's first line
        else if (in && sscanf (line, "Rss: %ld kB", &v) == 1)
            kib += v;
    }
    fclose (f);
    return kib << 10;
}

static int
s_count_row (const sf_row_t *row, void *arg)
{
    size_t *n = arg;
    (*n)++;
    return 0;
}

//  The scans at start map every page of the streams database; giving the
//  pages back leaves none of the data file resident, and every read after
//  it still sees every byte (the pages come back from the page cache)
static void
test_release_pages_gives_back_the_map_and_loses_nothing (void **state)
{
    s_fix_t *f = *state;
    char config [2048];
    memset (config, 'c', sizeof (config) - 1);
    config [sizeof (config) - 1] = 0;
    assert_int_equal (sf_store_write_begin (f->store), 0);
    for (int i = 0; i < 2000; i++) {
        sf_stream_t s;
        char name [32];
        snprintf (name, sizeof (name), "cam%05d", i);
        s_stream (&s, i % 2 ? "n1" : "n2", name, (uint32_t) i + 1);
        sf_text_set (&s.config, config);
        assert_int_equal (sf_store_put_stream (f->store, &s), 0);
        sf_stream_clear (&s);
    }
    assert_int_equal (sf_store_commit (f->store), 0);
    uint64_t digest, count;
    sf_store_digest (f->store, &digest, &count);
    //  Reopened: the open's own scan (the digest) maps the pages
    sf_store_destroy (&f->store);
    char err [256];
    f->store = sf_store_new (f->dir, 0, err, sizeof (err));
    assert_non_null (f->store);
    long mapped = s_data_rss (f->dir);
    assert_true (mapped >= 2000L * 2048);
    long given = sf_store_release_pages (f->store);
    assert_true (given >= 0);
    assert_true (s_data_rss (f->dir) < mapped / 16);
    //  Everything is still there, byte for byte
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    uint64_t d2, n2;
    sf_store_digest_scan (&r, &d2, &n2);
    assert_true (d2 == digest);
    assert_int_equal (n2, 2000);
    sf_row_t row;
    assert_int_equal (sf_store_get_row (&r, "n1", "cam01999", &row), 0);
    sf_stream_t back;
    sf_stream_init (&back);
    assert_int_equal (sf_row_decode (&row, &back), 0);
    assert_int_equal (back.clients, 2000);
    assert_int_equal (strlen (back.config), sizeof (config) - 1);
    sf_stream_clear (&back);
    sf_store_read_end (&r);
    //  And writes go on as before
    s_put (f->store, "n3", "cam1", 7);
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    size_t n = 0;
    sf_store_scan_streams (&r, NULL, s_count_row, &n);
    sf_store_read_end (&r);
    assert_int_equal (n, 2001);
}

//  The store's observer, for the coalescing tests: "p:node/name@seq" or
//  "d:node/name" per change, space separated
static char s_observed [4096];

static void
s_observe (void *arg, const sf_store_change_t *changes, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen (s_observed);
        if (changes [i].deleted)
            snprintf (s_observed + len, sizeof (s_observed) - len, "%sd:%s/%s", len ? " " : "",
                      changes [i].node, changes [i].name);
        else
            snprintf (s_observed + len, sizeof (s_observed) - len, "%sp:%s/%s@%llu", len ? " " : "",
                      changes [i].node, changes [i].name, (unsigned long long) changes [i].sum.seq);
    }
}

//  "seq:kind" of every version index entry of node n1 and name, oldest first
static char s_versions [1024];

static int
s_version_one (char kind, const char *name, sf_version_t v, void *arg)
{
    if (strcmp (name, (const char *) arg) != 0)
        return 0;
    size_t len = strlen (s_versions);
    snprintf (s_versions + len, sizeof (s_versions) - len, "%s%llu:%c", len ? " " : "",
              (unsigned long long) v.seq, kind);
    return 0;
}

static const char *
s_versions_of (sf_store_t *st, const char *name)
{
    s_versions [0] = 0;
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (st, &r), 0);
    sf_store_scan_versions (&r, "n1", (sf_version_t) { 0, 0 }, s_version_one, (void *) name);
    sf_store_read_end (&r);
    return s_versions;
}

//  Several updates of one stored placement in one transaction: the write
//  view reads the latest at once, the commit stores the last, the version
//  index holds only its version, the observer hears one change, and the
//  store counts the updates folded into it
static void
test_updates_of_one_placement_in_one_transaction_are_written_once (void **state)
{
    s_fix_t *f = *state;
    sf_store_t *st = f->store;
    s_put (st, "n1", "cam1", 1);
    s_put (st, "n1", "cam2", 2);
    sf_store_set_observer (st, s_observe, NULL);
    s_observed [0] = 0;
    assert_int_equal (sf_store_write_begin (st), 0);
    for (uint32_t c = 10; c <= 13; c++) {
        sf_stream_t s;
        s_stream (&s, "n1", "cam1", c);
        assert_int_equal (sf_store_put_stream (st, &s), 0);
        sf_stream_clear (&s);
        //  What was just written is what the write view reads
        sf_read_t w;
        sf_row_t row;
        assert_int_equal (sf_store_write_view (st, &w), 0);
        assert_int_equal (sf_store_get_row (&w, "n1", "cam1", &row), 0);
        assert_int_equal (row.sum.clients, c);
        sf_stream_t back;
        sf_stream_init (&back);
        assert_int_equal (sf_row_decode (&row, &back), 0);
        assert_int_equal (back.clients, c);
        sf_stream_clear (&back);
    }
    //  The name walk of the write view sees the held row too
    s_acc_t *a = calloc (1, sizeof (*a));
    sf_read_t w;
    assert_int_equal (sf_store_write_view (st, &w), 0);
    sf_store_scan_name (&w, "cam1", s_collect, a);
    assert_string_equal (a->out, "n1/cam1");
    free (a);
    assert_int_equal (sf_store_commit (st), 0);
    assert_string_equal (s_observed, "p:n1/cam1@13");
    assert_int_equal (sf_store_coalesced (st), 3);
    assert_string_equal (s_versions_of (st, "cam1"), "13:s");
    sf_read_t r;
    sf_row_t row;
    assert_int_equal (sf_store_read_begin (st, &r), 0);
    assert_int_equal (sf_store_get_row (&r, "n1", "cam1", &row), 0);
    assert_int_equal (row.sum.clients, 13);
    assert_int_equal (row.sum.seq, 13);
    sf_store_read_end (&r);
    s_digest_matches_a_scan (st, 2);
    //  An aborted transaction's held updates count for nothing
    assert_int_equal (sf_store_write_begin (st), 0);
    sf_stream_t s;
    s_stream (&s, "n1", "cam1", 20);
    assert_int_equal (sf_store_put_stream (st, &s), 0);
    sf_stream_clear (&s);
    s_stream (&s, "n1", "cam1", 21);
    assert_int_equal (sf_store_put_stream (st, &s), 0);
    sf_stream_clear (&s);
    sf_store_abort (st);
    assert_int_equal (sf_store_coalesced (st), 3);
    assert_string_equal (s_versions_of (st, "cam1"), "13:s");
    s_digest_matches_a_scan (st, 2);
    sf_store_set_observer (st, NULL, NULL);
}

//  A held update meets every other operation of its transaction: a put
//  through the fleet's path (sf_store_put_stream_prev), a delete, a cursor
//  walk of the write view; each sees it, or writes it first, and the
//  commit ends in what the same operations one by one would leave
static void
test_a_held_update_meets_puts_deletes_and_walks (void **state)
{
    s_fix_t *f = *state;
    sf_store_t *st = f->store;
    s_put (st, "n1", "cam1", 1);
    s_put (st, "n1", "cam2", 2);
    s_put (st, "n1", "cam3", 3);
    sf_store_set_observer (st, s_observe, NULL);
    s_observed [0] = 0;
    assert_int_equal (sf_store_write_begin (st), 0);
    sf_stream_t s;
    //  cam1: held, then replaced through the put that keeps derived flags
    s_stream (&s, "n1", "cam1", 10);
    assert_int_equal (sf_store_put_stream (st, &s), 0);
    sf_stream_clear (&s);
    s_stream (&s, "n1", "cam1", 11);
    sf_summary_t sum, prev;
    sf_summary_from_stream (&sum, &s);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_stream_pack (&pk, &s, SF_ENC_FULL);
    assert_int_equal (sf_store_put_stream_prev (st, "n1", "cam1", &sum, sb.data, sb.size, &prev), 0);
    assert_int_equal (prev.seq, 10);        //  it replaced the held update, not the stored row
    msgpack_sbuffer_destroy (&sb);
    //  cam2: held, then deleted with a tombstone
    sf_stream_clear (&s);
    s_stream (&s, "n1", "cam2", 12);
    assert_int_equal (sf_store_put_stream (st, &s), 0);
    assert_int_equal (sf_store_del_stream (st, "n1", "cam2", (sf_version_t) { 2, 14 }), 0);
    //  cam3: held, then a walk of the write view reads it
    sf_stream_clear (&s);
    s_stream (&s, "n1", "cam3", 15);
    assert_int_equal (sf_store_put_stream (st, &s), 0);
    sf_stream_clear (&s);
    sf_read_t w;
    assert_int_equal (sf_store_write_view (st, &w), 0);
    uint64_t d, n;
    sf_store_digest_scan (&w, &d, &n);
    assert_int_equal (n, 2);
    sf_row_t row;
    assert_int_equal (sf_store_get_row (&w, "n1", "cam3", &row), 0);
    assert_int_equal (row.sum.clients, 15);
    assert_int_equal (sf_store_commit (st), 0);
    //  Each held update was written before what followed it: cam1's and
    //  cam2's by the put and the delete, cam3's by the walk
    assert_string_equal (s_observed, "p:n1/cam1@10 p:n1/cam1@11 p:n1/cam2@12 d:n1/cam2 p:n1/cam3@15");
    assert_string_equal (s_scan (st, "n1", NULL), "n1/cam1 n1/cam3");
    assert_string_equal (s_versions_of (st, "cam1"), "11:s");
    assert_string_equal (s_versions_of (st, "cam2"), "14:d");
    assert_string_equal (s_versions_of (st, "cam3"), "15:s");
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (st, &r), 0);
    assert_int_equal (sf_store_get_row (&r, "n1", "cam1", &row), 0);
    assert_int_equal (row.sum.clients, 11);
    assert_int_equal (sf_store_get_row (&r, "n1", "cam2", &row), -1);
    assert_int_equal (sf_store_get_row (&r, "n1", "cam3", &row), 0);
    assert_int_equal (row.sum.clients, 15);
    sf_store_read_end (&r);
    s_digest_matches_a_scan (st, 2);
    sf_store_set_observer (st, NULL, NULL);
}

static void
test_open_in_an_impossible_directory_fails_with_a_reason (void **state)
{
    char err [256] = "";
    sf_store_t *st = sf_store_new ("/proc/sf-no-such/data", 0, err, sizeof (err));
    assert_null (st);
    assert_non_null (strstr (err, "/proc/sf-no-such/data"));
}

int
main (void)
{
#define T(fn) cmocka_unit_test_setup_teardown (fn, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        T (test_put_then_get_returns_the_record_and_summary),
        T (test_put_overwrites_the_same_key),
        T (test_scans_by_all_node_and_name),
        T (test_scan_stops_when_the_callback_says_so),
        T (test_delete_removes_from_both_indexes),
        T (test_abort_discards_the_transaction),
        T (test_origins_are_stored_per_node),
        T (test_nodes_put_get_and_scan),
        cmocka_unit_test (test_key_make_builds_parts_in_order_and_refuses_overlong_keys),
        T (test_generic_primitives_put_get_add_del_and_walk_by_prefix),
        T (test_backwards_walk_with_a_prefix_of_0xff_bytes_ends_at_the_last_key),
        cmocka_unit_test (test_full_map_grows_and_loses_nothing),
        T (test_grow_refuses_to_shrink),
        T (test_reopen_keeps_everything),
        T (test_ordered_commits_switch_the_flush_mode_and_keep_every_commit),
        T (test_the_digest_follows_every_commit),
        T (test_the_digest_follows_random_changes),
        T (test_release_pages_gives_back_the_map_and_loses_nothing),
        T (test_updates_of_one_placement_in_one_transaction_are_written_once),
        T (test_a_held_update_meets_puts_deletes_and_walks),
        cmocka_unit_test (test_open_in_an_impossible_directory_fails_with_a_reason),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

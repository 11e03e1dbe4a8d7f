/*  test_ingest.c — the agent protocol over the write session
    (controller/ingest.c, controller/writer.c), in process: a real store in a
    temporary directory, the writer, and a capture of the replies instead of
    a socket.

    Pins down docs/protocol.md 4.5: hello is answered with the committed
    version; batches apply in seq order, skip resends, stop at a gap (resync)
    and are acknowledged only after the commit; a bad record consumes its seq;
    a snapshot replaces the node's placements in one transaction and keeps the
    old state until its last chunk; a newer generation asks for a snapshot;
    the writer's change hook reports what each commit stored.
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
#include <jansson.h>
#include "sf_codec.h"
#include "sf_ingest.h"
#include "sf_mpjson.h"
#include "sf_log.h"
#include "sf_store.h"
#include "sf_writer.h"

typedef struct {
    char dir [64];
    sf_store_t *store;
    sf_live_t *live;
    sf_metrics_t metrics;
    sf_writer_t *writer;
    sf_ingest_t *ingest;
    zframe_t *route;
    zlistx_t *replies;              //  zchunk_t of each reply
    zlistx_t *changes;              //  "kind:node/name" strings from the change hook
    msgpack_sbuffer buf;
    msgpack_packer pk;
} s_fix_t;

static void
s_capture (zframe_t *route, const char *node, const void *data, size_t size, void *arg)
{
    s_fix_t *f = arg;
    zlistx_add_end (f->replies, zchunk_new (data, size));
}

static void
s_on_change (const sf_change_t *ch, void *arg)
{
    s_fix_t *f = arg;
    char line [256];
    snprintf (line, sizeof (line), "%c:%s", ch->kind, ch->node);
    zlistx_add_end (f->changes, strdup (line));
}

//  The store's observer: placements the commit stored
static void
s_observe (void *arg, const sf_store_change_t *changes, size_t count)
{
    s_fix_t *f = arg;
    for (size_t i = 0; i < count; i++) {
        char line [256];
        snprintf (line, sizeof (line), "%c:%s/%s", changes [i].deleted ? 'd' : 'p', changes [i].node,
                  changes [i].name);
        zlistx_add_end (f->changes, strdup (line));
    }
}

static void
s_chunk_free (void **item)
{
    zchunk_t *c = *item;
    zchunk_destroy (&c);
    *item = NULL;
}

static int
s_setup (void **state)
{
    s_fix_t *f = calloc (1, sizeof (*f));
    snprintf (f->dir, sizeof (f->dir), "/tmp/sf-test-ingest.XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    char err [256];
    f->store = sf_store_new (f->dir, 0, err, sizeof (err));
    assert_non_null (f->store);
    f->live = sf_live_new (3000, 10000);
    sf_metrics_init (&f->metrics);
    f->writer = sf_writer_new (&(sf_writer_config_t) {
        .store = f->store, .live = f->live, .metrics = &f->metrics, .batch_records = 100 });
    f->replies = zlistx_new ();
    zlistx_set_destructor (f->replies, s_chunk_free);
    f->changes = zlistx_new ();
    zlistx_set_destructor (f->changes, (zlistx_destructor_fn *) zstr_free);
    f->ingest = sf_ingest_new (&(sf_ingest_config_t) {
        .writer = f->writer, .live = f->live, .metrics = &f->metrics,
        .max_streams_per_node = 1000, .max_snapshots = 2, .send = s_capture, .send_arg = f });
    sf_writer_on_change (f->writer, s_on_change, f);
    sf_store_set_observer (f->store, s_observe, f);
    f->route = zframe_new ("r1", 2);
    msgpack_sbuffer_init (&f->buf);
    msgpack_packer_init (&f->pk, &f->buf, msgpack_sbuffer_write);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fix_t *f = *state;
    sf_ingest_destroy (&f->ingest);
    sf_writer_destroy (&f->writer);
    sf_live_destroy (&f->live);
    sf_store_destroy (&f->store);
    zlistx_destroy (&f->replies);
    zlistx_destroy (&f->changes);
    zframe_destroy (&f->route);
    msgpack_sbuffer_destroy (&f->buf);
    char cmd [128];
    snprintf (cmd, sizeof (cmd), "rm -rf %s", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
}

//  ---------------------------------------------------------------------------
//  Building messages

static msgpack_packer *
s_begin (s_fix_t *f, const char *type, uint32_t nfields)
{
    msgpack_sbuffer_clear (&f->buf);
    sf_msg_begin (&f->pk, type, nfields);
    return &f->pk;
}

static void
s_deliver (s_fix_t *f, const char *node)
{
    sf_ingest_message (f->ingest, f->route, node, f->buf.data, f->buf.size);
}

static void
s_hello (s_fix_t *f, const char *node, uint64_t gen, uint64_t seq)
{
    msgpack_packer *pk = s_begin (f, "hello", 3);
    sf_pack_kstr (pk, "node", node);
    sf_pack_ku64 (pk, "gen", gen);
    sf_pack_ku64 (pk, "seq", seq);
    s_deliver (f, node);
}

//  A placement record: name, status active, clients
static void
s_record (msgpack_packer *pk, const char *name, int clients)
{
    msgpack_pack_map (pk, 3);
    sf_pack_kstr (pk, "name", name);
    sf_pack_kstr (pk, "status", "active");
    sf_pack_str (pk, "clients");
    if (clients >= 0)
        msgpack_pack_uint32 (pk, (uint32_t) clients);
    else
        sf_pack_str (pk, "many");       //  fails validation
}

//  One change: "name" puts it (clients from the number after '=' if any,
//  "bad:name" a record that fails validation), "-name" deletes it
static void
s_change (msgpack_packer *pk, uint64_t seq, const char *spec)
{
    msgpack_pack_map (pk, 2);
    sf_pack_ku64 (pk, "seq", seq);
    if (spec [0] == '-')
        sf_pack_kstr (pk, "del", spec + 1);
    else {
        sf_pack_str (pk, "put");
        if (strncmp (spec, "bad:", 4) == 0)
            s_record (pk, spec + 4, -1);
        else
            s_record (pk, spec, 1);
    }
}

static void
s_batch (s_fix_t *f, const char *node, uint64_t gen, uint64_t first_seq, int n, const char **specs)
{
    msgpack_packer *pk = s_begin (f, "batch", 2);
    sf_pack_ku64 (pk, "gen", gen);
    sf_pack_str (pk, "changes");
    msgpack_pack_array (pk, n);
    for (int i = 0; i < n; i++)
        s_change (pk, first_seq + i, specs [i]);
    s_deliver (f, node);
}

//  One snapshot chunk holding names; seqs from first_seq
static void
s_snap (s_fix_t *f, const char *node, uint64_t gen, uint64_t seq, uint64_t index, bool last,
        uint64_t first_seq, int n, const char **specs)
{
    msgpack_packer *pk = s_begin (f, "snap", 5);
    sf_pack_ku64 (pk, "gen", gen);
    sf_pack_ku64 (pk, "seq", seq);
    sf_pack_ku64 (pk, "index", index);
    sf_pack_kbool (pk, "last", last);
    sf_pack_str (pk, "changes");
    msgpack_pack_array (pk, n);
    for (int i = 0; i < n; i++)
        s_change (pk, first_seq + i, specs [i]);
    s_deliver (f, node);
}

static void
s_heartbeat (s_fix_t *f, const char *node, uint64_t gen, uint64_t counter)
{
    msgpack_packer *pk = s_begin (f, "hb", 2);
    sf_pack_ku64 (pk, "gen", gen);
    sf_pack_ku64 (pk, "counter", counter);
    s_deliver (f, node);
}

static const char *s_replies (s_fix_t *f);

//  Most tests' start: node says hello at generation gen with nothing sent
//  yet, then its first n changes (specs, seqs from 1, generation 0: the one
//  the store knows) are committed; the replies so far are read and dropped
static void
s_hello_stored (s_fix_t *f, const char *node, uint64_t gen, int n, const char **specs)
{
    s_hello (f, node, gen, 0);
    if (n) {
        s_batch (f, node, 0, 1, n, specs);
        sf_writer_commit (f->writer);
    }
    s_replies (f);
}

//  ---------------------------------------------------------------------------
//  Reading replies

//  The replies since the last call, as "type gen/seq" (acks), "type reason"
//  (resync), "type code" (error) or "type after_ms" (retry), space separated
static const char *
s_replies (s_fix_t *f)
{
    static char out [1024];
    out [0] = 0;
    for (zchunk_t *c = zlistx_first (f->replies); c; c = zlistx_next (f->replies)) {
        sf_msg_t m;
        sf_msg_init (&m);
        assert_int_equal (sf_msg_parse (&m, zchunk_data (c), zchunk_size (c)), 0);
        char one [192];
        if (strcmp (m.type, "ack") == 0) {
            uint64_t gen = 0, seq = 0;
            sf_map_u64 (m.body, "gen", &gen, NULL);
            sf_map_u64 (m.body, "seq", &seq, NULL);
            snprintf (one, sizeof (one), "ack %llu/%llu", (unsigned long long) gen,
                      (unsigned long long) seq);
            uint64_t read = 0;
            if (sf_map_u64 (m.body, "read", &read, NULL) == 0)
                snprintf (one + strlen (one), sizeof (one) - strlen (one), " read %llu",
                          (unsigned long long) read);
        }
        else if (strcmp (m.type, "credit") == 0) {
            uint64_t read = 0;
            sf_map_u64 (m.body, "read", &read, NULL);
            snprintf (one, sizeof (one), "credit %llu", (unsigned long long) read);
        }
        else if (strcmp (m.type, "retry") == 0) {
            uint64_t after = 0;
            char why [128] = "";
            sf_map_u64 (m.body, "after_ms", &after, NULL);
            sf_map_str (m.body, "reason", why, sizeof (why) - 1, NULL);
            snprintf (one, sizeof (one), "retry %llu %s", (unsigned long long) after, why);
        }
        else {
            char what [128] = "";
            if (sf_map_str (m.body, "reason", what, sizeof (what) - 1, NULL) != 0)
                sf_map_str (m.body, "code", what, sizeof (what) - 1, NULL);
            snprintf (one, sizeof (one), "%s %s", m.type, what);
        }
        if (out [0])
            strcat (out, "; ");
        strcat (out, one);
        sf_msg_release (&m);
    }
    zlistx_purge (f->replies);
    return out;
}

//  "name:clients" of a node's stored placements, space separated
static int
s_row_collect (const sf_row_t *row, void *arg)
{
    char *out = arg;
    char one [160];
    snprintf (one, sizeof (one), "%s%s@%llu", *out ? " " : "", row->name,
              (unsigned long long) row->sum.seq);
    strcat (out, one);
    return 0;
}

static const char *
s_stored (s_fix_t *f, const char *node)
{
    static char out [2048];
    out [0] = 0;
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    sf_store_scan_streams (&r, node, s_row_collect, out);
    sf_store_read_end (&r);
    return out;
}

static sf_version_t
s_origin (s_fix_t *f, const char *node)
{
    sf_version_t v = { 0, 0 };
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    sf_store_get_origin (&r, node, &v);
    sf_store_read_end (&r);
    return v;
}

//  ---------------------------------------------------------------------------

static void
test_hello_is_answered_with_the_committed_version_at_once (void **state)
{
    s_fix_t *f = *state;
    s_hello (f, "n1", 5, 9);
    assert_string_equal (s_replies (f), "ack 0/0");
    const char *specs [] = { "cam1", "cam2" };
    s_batch (f, "n1", 0, 1, 2, specs);
    //  staged but not committed: a hello now still says 0/0
    s_hello (f, "n1", 0, 2);
    assert_string_equal (s_replies (f), "ack 0/0");
    sf_writer_commit (f->writer);
    s_replies (f);
    s_hello (f, "n1", 0, 2);
    assert_string_equal (s_replies (f), "ack 0/2");
}

static void
test_batch_is_acknowledged_only_after_the_commit (void **state)
{
    s_fix_t *f = *state;
    s_hello_stored (f, "n1", 0, 0, NULL);
    const char *specs [] = { "cam1", "cam2", "-cam1" };
    s_batch (f, "n1", 0, 1, 3, specs);
    assert_string_equal (s_replies (f), "");
    assert_string_equal (s_stored (f, "n1"), "");
    assert_int_equal (sf_writer_commit (f->writer), 0);
    assert_string_equal (s_replies (f), "ack 0/3");
    assert_string_equal (s_stored (f, "n1"), "cam2@2");
    assert_int_equal (s_origin (f, "n1").seq, 3);
    //  the read model's hooks saw what the commit stored, in order
    const char *want [] = { "p:n1/cam1", "p:n1/cam2", "d:n1/cam1" };
    size_t i = 0;
    for (char *c = zlistx_first (f->changes); c && i < 3; c = zlistx_next (f->changes), i++)
        assert_string_equal (c, want [i]);
    assert_int_equal (zlistx_size (f->changes), 3);
    //  a heartbeat's usage is a node record stored with the next commit
    zlistx_purge (f->changes);
    s_heartbeat (f, "n1", 0, 1);
    sf_writer_commit (f->writer);
    assert_string_equal (zlistx_first (f->changes), "n:n1");
}

static void
test_resent_changes_are_skipped_and_a_gap_asks_for_a_snapshot (void **state)
{
    s_fix_t *f = *state;
    const char *a [] = { "cam1", "cam2" };
    s_hello_stored (f, "n1", 0, 2, a);
    //  a resend of 1..2 and one new change
    const char *b [] = { "cam1", "cam2", "cam3" };
    s_batch (f, "n1", 0, 1, 3, b);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/3");
    assert_string_equal (s_stored (f, "n1"), "cam1@1 cam2@2 cam3@3");
    //  seq 5 after 3: a gap; nothing of it applies
    const char *c [] = { "cam5" };
    s_batch (f, "n1", 0, 5, 1, c);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "resync gap in seq; ack 0/3");
    assert_string_equal (s_stored (f, "n1"), "cam1@1 cam2@2 cam3@3");
}

static void
test_a_bad_record_in_a_batch_consumes_its_seq (void **state)
{
    s_fix_t *f = *state;
    s_hello_stored (f, "n1", 0, 0, NULL);
    const char *specs [] = { "cam1", "bad:cam2", "cam3" };
    s_batch (f, "n1", 0, 1, 3, specs);
    assert_string_equal (s_replies (f), "error field");
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/3");
    assert_string_equal (s_stored (f, "n1"), "cam1@1 cam3@3");
}

static void
test_a_newer_generation_asks_for_a_snapshot_and_an_older_one_is_ignored (void **state)
{
    s_fix_t *f = *state;
    s_hello (f, "n1", 2, 0);
    const char *specs [] = { "cam1" };
    //  the store knows generation 0: a batch of generation 2 is a new one
    s_replies (f);
    s_batch (f, "n1", 2, 1, 1, specs);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "resync new generation");
    assert_string_equal (s_stored (f, "n1"), "");
    //  the snapshot of generation 2 sets the version
    const char *snap [] = { "cam1", "cam2" };
    s_snap (f, "n1", 2, 2, 0, true, 1, 2, snap);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 2/2");
    //  generation 1 is older: ignored
    s_batch (f, "n1", 1, 3, 1, specs);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "");
    assert_string_equal (s_stored (f, "n1"), "cam1@1 cam2@2");
}

static void
test_a_snapshot_replaces_the_nodes_placements_at_its_last_chunk (void **state)
{
    s_fix_t *f = *state;
    const char *a [] = { "old1", "keep" };
    s_hello_stored (f, "n1", 1, 2, a);
    assert_string_equal (s_stored (f, "n1"), "keep@2 old1@1");
    //  generation 1, seq 3: two chunks
    const char *c0 [] = { "keep" };
    const char *c1 [] = { "new1" };
    s_snap (f, "n1", 1, 3, 0, false, 1, 1, c0);
    sf_writer_commit (f->writer);
    //  the old state stays until the last chunk
    assert_string_equal (s_stored (f, "n1"), "keep@2 old1@1");
    assert_string_equal (s_replies (f), "");
    s_snap (f, "n1", 1, 3, 1, true, 2, 1, c1);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 1/3");
    assert_string_equal (s_stored (f, "n1"), "keep@1 new1@2");
    sf_version_t v = s_origin (f, "n1");
    assert_int_equal (v.gen, 1);
    assert_int_equal (v.seq, 3);
    //  the deleted placement left a tombstone at the snapshot's version
    sf_read_t r;
    sf_store_read_begin (f->store, &r);
    assert_int_equal (sf_store_get_tombstone (&r, "n1", "old1", &v), 0);
    assert_int_equal (v.seq, 3);
    sf_store_read_end (&r);
}

static void
test_a_record_for_another_node_is_refused (void **state)
{
    s_fix_t *f = *state;
    s_hello_stored (f, "n1", 0, 0, NULL);
    msgpack_packer *pk = s_begin (f, "batch", 2);
    sf_pack_ku64 (pk, "gen", 0);
    sf_pack_str (pk, "changes");
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 2);
    sf_pack_ku64 (pk, "seq", 1);
    sf_pack_str (pk, "put");
    msgpack_pack_map (pk, 2);
    sf_pack_kstr (pk, "name", "cam1");
    sf_pack_kstr (pk, "node", "n2");
    s_deliver (f, "n1");
    assert_string_equal (s_replies (f), "error forbidden");
    sf_writer_commit (f->writer);
    assert_string_equal (s_stored (f, "n1"), "");
    assert_string_equal (s_stored (f, "n2"), "");
}

static void
test_heartbeat_feeds_liveness_and_the_hook_reports_transitions (void **state)
{
    s_fix_t *f = *state;
    s_hello (f, "n1", 0, 0);
    s_heartbeat (f, "n1", 0, 1);
    int64_t now = sf_mono_ms ();
    int64_t age;
    assert_int_equal (sf_live_state (f->live, "n1", now, &age), SF_LIVE_ALIVE);
    sf_writer_commit (f->writer);
    sf_writer_tick (f->writer, now);
    sf_writer_tick (f->writer, now + 4000);
    sf_writer_tick (f->writer, now + 11000);
    sf_writer_tick (f->writer, now + 12000);       //  no change: nothing reported
    int lives = 0;
    for (char *c = zlistx_first (f->changes); c; c = zlistx_next (f->changes))
        lives += c [0] == 'l';
    assert_int_equal (lives, 3);                    //  alive, suspect, down
}

//  Issue 12, item 4
static void
test_a_bad_record_in_a_snapshot_keeps_its_stored_placement (void **state)
{
    s_fix_t *f = *state;
    const char *a [] = { "cam1", "cam2", "cam3" };
    s_hello_stored (f, "n1", 0, 3, a);
    //  cam2's new record fails validation; cam3 is gone from the node
    const char *snap [] = { "cam1", "bad:cam2" };
    s_snap (f, "n1", 0, 6, 0, true, 4, 2, snap);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/6");
    assert_string_equal (s_stored (f, "n1"), "cam1@4 cam2@2");
}

//  Issue 12: snapshot transfer that cannot livelock
static void
test_a_snapshot_chunk_out_of_order_restarts_that_snapshot_once_with_back_off (void **state)
{
    s_fix_t *f = *state;
    const char *a [] = { "old" };
    s_hello_stored (f, "n1", 1, 1, a);
    const char *c [] = { "x" };
    //  chunk 1 is lost: chunk 2 arrives after chunk 0
    s_snap (f, "n1", 1, 10, 0, false, 1, 1, c);
    s_snap (f, "n1", 1, 10, 2, false, 3, 1, c);
    assert_string_equal (s_replies (f), "retry 1000 snapshot chunk missing");
    //  the rest of the broken snapshot is dropped without another request
    s_snap (f, "n1", 1, 10, 3, true, 4, 1, c);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "");
    assert_string_equal (s_stored (f, "n1"), "old@1");
    //  after its wait the agent says hello; a second broken snapshot in a
    //  row waits twice as long
    s_hello (f, "n1", 1, 1);
    s_replies (f);
    s_snap (f, "n1", 1, 20, 1, false, 1, 1, c);
    assert_string_equal (s_replies (f), "retry 2000 snapshot chunk out of order");
    //  a whole one applies, and the back-off starts over
    s_hello (f, "n1", 1, 1);
    s_replies (f);
    const char *c0 [] = { "new1" }, *c1 [] = { "new2" };
    s_snap (f, "n1", 1, 30, 0, false, 1, 1, c0);
    s_snap (f, "n1", 1, 30, 1, true, 2, 1, c1);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 1/30");
    assert_string_equal (s_stored (f, "n1"), "new1@1 new2@2");
    s_snap (f, "n1", 1, 40, 1, false, 1, 1, c);
    assert_string_equal (s_replies (f), "retry 1000 snapshot chunk out of order");
    //  until the agent's next hello, what it sends is dropped unanswered
    const char *b [] = { "late" };
    s_batch (f, "n1", 2, 31, 1, b);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "");
    assert_string_equal (s_stored (f, "n1"), "new1@1 new2@2");
}

static void
test_snapshots_assembled_at_once_are_bounded_and_the_others_wait (void **state)
{
    s_fix_t *f = *state;
    const char *c [] = { "cam" };
    //  max_snapshots is 2 in this fixture
    s_snap (f, "n1", 1, 5, 0, false, 1, 1, c);
    s_snap (f, "n2", 1, 5, 0, false, 1, 1, c);
    assert_string_equal (s_replies (f), "");
    assert_int_equal (sf_ingest_snapshots (f->ingest), 2);
    s_snap (f, "n3", 1, 5, 0, false, 1, 1, c);
    assert_string_equal (s_replies (f), "retry 1000 2 snapshots are being received; send yours later");
    assert_int_equal (sf_ingest_snapshots (f->ingest), 2);
    //  what n3 sends before its next hello is dropped
    s_snap (f, "n3", 1, 5, 1, true, 2, 1, c);
    assert_string_equal (s_replies (f), "");
    //  the first two complete; then there is room again
    const char *l [] = { "cam2" };
    s_snap (f, "n1", 1, 5, 1, true, 2, 1, l);
    s_snap (f, "n2", 1, 5, 1, true, 2, 1, l);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 1/5; ack 1/5");
    s_hello (f, "n3", 1, 0);
    assert_string_equal (s_replies (f), "ack 0/0");
    s_snap (f, "n3", 1, 5, 0, false, 1, 1, c);
    assert_string_equal (s_replies (f), "");
    assert_int_equal (sf_ingest_snapshots (f->ingest), 1);
}

static void
test_a_heartbeat_is_answered_at_once_even_with_a_transaction_open (void **state)
{
    s_fix_t *f = *state;
    s_hello (f, "n1", 0, 0);
    const char *a [] = { "cam1" };
    s_batch (f, "n1", 0, 1, 1, a);
    s_replies (f);
    s_heartbeat (f, "n1", 0, 1);
    //  what is committed, before the open transaction commits
    assert_string_equal (s_replies (f), "ack 0/0");
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/1");
}


//  ---------------------------------------------------------------------------
//  Patches (docs/protocol.md, "patch")

//  A batch of one change at seq: {"seq": seq, "patch": JSON}
static void
s_patch (s_fix_t *f, const char *node, uint64_t seq, const char *json)
{
    msgpack_packer *pk = s_begin (f, "batch", 2);
    sf_pack_ku64 (pk, "gen", 0);
    sf_pack_str (pk, "changes");
    msgpack_pack_array (pk, 1);
    msgpack_pack_map (pk, 2);
    sf_pack_ku64 (pk, "seq", seq);
    sf_pack_str (pk, "patch");
    json_error_t je;
    json_t *j = json_loads (json, 0, &je);
    assert_non_null (j);
    assert_int_equal (sf_json_to_msgpack (j, pk), 0);
    json_decref (j);
    s_deliver (f, node);
}

//  The stored record of node/name, decoded
static void
s_stored_stream (s_fix_t *f, const char *node, const char *name, sf_stream_t *s, sf_summary_t *sum)
{
    sf_read_t r;
    sf_row_t row;
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    assert_int_equal (sf_store_get_row (&r, node, name, &row), 0);
    *sum = row.sum;
    assert_int_equal (sf_row_decode (&row, s), 0);
    sf_store_read_end (&r);
}

static void
test_a_patch_changes_only_its_fields_and_whole_records_still_work (void **state)
{
    s_fix_t *f = *state;
    //  The answer to hello says that patches are taken
    s_hello (f, "n1", 0, 0);
    zchunk_t *c = zlistx_first (f->replies);
    sf_msg_t m;
    sf_msg_init (&m);
    assert_int_equal (sf_msg_parse (&m, zchunk_data (c), zchunk_size (c)), 0);
    bool takes = false;
    assert_int_equal (sf_map_bool (m.body, "patch", &takes, NULL), 0);
    assert_true (takes);
    sf_msg_release (&m);
    s_replies (f);
    //  An agent that knows nothing of patches: whole records, as before
    const char *specs [] = { "cam1", "cam2" };
    s_batch (f, "n1", 0, 1, 2, specs);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/2");
    zlistx_purge (f->changes);
    //  Counters only: the stored record keeps every other field
    s_patch (f, "n1", 3, "{\"name\": \"cam1\", \"clients\": 7, \"bitrate_kbps\": 2100, "
                         "\"media\": {\"fps\": 30}}");
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/3");
    assert_string_equal (s_stored (f, "n1"), "cam1@3 cam2@2");
    assert_string_equal (zlistx_first (f->changes), "p:n1/cam1");
    sf_stream_t s;
    sf_summary_t sum;
    sf_stream_init (&s);
    s_stored_stream (f, "n1", "cam1", &s, &sum);
    assert_int_equal (s.clients, 7);
    assert_int_equal (s.bitrate_kbps, 2100);
    assert_true (s.media.fps == 30);
    assert_int_equal (s.status, SF_STATUS_ACTIVE);
    assert_int_equal (s.version.seq, 3);
    assert_string_equal (s.node, "n1");
    assert_int_equal (sum.clients, 7);
    assert_int_equal (sum.bitrate_kbps, 2100);
    assert_int_equal (sum.status, SF_STATUS_ACTIVE);
    //  A status change goes through the fleet, as a put does
    s_patch (f, "n1", 4, "{\"name\": \"cam1\", \"status\": \"suspend\", \"clients\": 0}");
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/4");
    s_stored_stream (f, "n1", "cam1", &s, &sum);
    assert_int_equal (s.status, SF_STATUS_SUSPEND);
    assert_int_equal (s.clients, 0);
    assert_int_equal (s.bitrate_kbps, 2100);
    assert_int_equal (sum.status, SF_STATUS_SUSPEND);
    assert_int_equal (sum.seq, 4);
    //  And a whole record after patches replaces it whole again
    const char *again [] = { "cam1" };
    s_batch (f, "n1", 0, 5, 1, again);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/5");
    s_stored_stream (f, "n1", "cam1", &s, &sum);
    assert_int_equal (s.status, SF_STATUS_ACTIVE);
    assert_int_equal (s.clients, 1);
    assert_int_equal (s.bitrate_kbps, 0);
    sf_stream_clear (&s);
}

//  Several patches of one stream in one write transaction: the last value
//  of each field wins, the stream's version is its last change's, it is
//  written once (one change reaches the store's observer), the ack claims
//  the last seq only after the commit, and /metrics counts the patches by
//  path (spliced, re-encoded) and the updates folded into a later one
static void
test_patches_of_one_stream_in_one_transaction_are_coalesced_and_counted (void **state)
{
    s_fix_t *f = *state;
    s_hello (f, "n1", 0, 0);
    const char *specs [] = { "cam1", "cam2" };
    s_batch (f, "n1", 0, 1, 2, specs);
    sf_writer_commit (f->writer);
    s_replies (f);
    zlistx_purge (f->changes);
    s_patch (f, "n1", 3, "{\"name\": \"cam1\", \"clients\": 7}");
    s_patch (f, "n1", 4, "{\"name\": \"cam1\", \"bitrate_kbps\": 2100}");
    s_patch (f, "n1", 5, "{\"name\": \"cam1\", \"clients\": 9}");
    s_patch (f, "n1", 6, "{\"name\": \"cam2\", \"status\": \"suspend\"}");
    assert_string_equal (s_replies (f), "");
    assert_int_equal (atomic_load (&f->metrics.patches_spliced), 0);
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/6");
    int cam1 = 0;
    for (char *c = zlistx_first (f->changes); c; c = zlistx_next (f->changes))
        if (strcmp (c, "p:n1/cam1") == 0)
            cam1++;
    assert_int_equal (cam1, 1);
    assert_string_equal (s_stored (f, "n1"), "cam1@5 cam2@6");
    sf_stream_t s;
    sf_summary_t sum;
    sf_stream_init (&s);
    s_stored_stream (f, "n1", "cam1", &s, &sum);
    assert_int_equal (s.clients, 9);
    assert_int_equal (s.bitrate_kbps, 2100);
    assert_int_equal (s.version.seq, 5);
    assert_int_equal (sum.clients, 9);
    assert_int_equal (sum.bitrate_kbps, 2100);
    assert_int_equal (sum.seq, 5);
    s_stored_stream (f, "n1", "cam2", &s, &sum);
    assert_int_equal (s.status, SF_STATUS_SUSPEND);
    assert_int_equal (sum.status, SF_STATUS_SUSPEND);
    sf_stream_clear (&s);
    assert_int_equal (atomic_load (&f->metrics.patches_spliced), 3);
    assert_int_equal (atomic_load (&f->metrics.patches_reencoded), 1);
    assert_int_equal (atomic_load (&f->metrics.coalesced), 2);
    //  The same in /metrics
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream (&text, &len);
    assert_int_equal (sf_metrics_write (&f->metrics, NULL, out), 0);
    fclose (out);
    assert_non_null (strstr (text, "streamfleet_ingest_patches_total{path=\"spliced\"} 3\n"));
    assert_non_null (strstr (text, "streamfleet_ingest_patches_total{path=\"reencoded\"} 1\n"));
    assert_non_null (strstr (text, "streamfleet_store_coalesced_total 2\n"));
    free (text);
}

static void
test_a_bad_patch_consumes_its_seq_and_changes_nothing (void **state)
{
    s_fix_t *f = *state;
    const char *specs [] = { "cam1" };
    s_hello_stored (f, "n1", 0, 1, specs);
    s_patch (f, "n1", 2, "{\"name\": \"cam1\", \"clients\": \"many\"}");
    assert_string_equal (s_replies (f), "error field");
    s_patch (f, "n1", 3, "{\"name\": \"cam1\", \"transfer\": true}");
    assert_string_equal (s_replies (f), "error forbidden");
    s_patch (f, "n1", 4, "{\"name\": \"cam1\", \"node\": \"n2\", \"clients\": 3}");
    assert_string_equal (s_replies (f), "error forbidden");
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 0/4");
    assert_string_equal (s_stored (f, "n1"), "cam1@1");
    //  A patch of a placement this controller does not hold: only a
    //  snapshot can mend that
    s_patch (f, "n1", 5, "{\"name\": \"cam9\", \"clients\": 3}");
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f),
                         "error state; resync a patch named a placement this controller does not hold; ack 0/5");
    assert_string_equal (s_stored (f, "n1"), "cam1@1");
}

//  docs/protocol.md 4.7: an agent that stamps its messages ("n") is told
//  what was read in every ack and, while nothing else is said (a
//  snapshot's chunks), in a credit at least every SF_AGENT_CREDIT_EVERY
//  messages; a hello starts the count afresh; an agent that does not stamp
//  gets neither
static void
test_a_stamping_agent_is_told_what_was_read_before_its_window_closes (void **state)
{
    s_fix_t *f = *state;
    msgpack_packer *pk = s_begin (f, "hello", 4);
    sf_pack_ku64 (pk, "n", 1);
    sf_pack_kstr (pk, "node", "n1");
    sf_pack_ku64 (pk, "gen", 1);
    sf_pack_ku64 (pk, "seq", 0);
    s_deliver (f, "n1");
    assert_string_equal (s_replies (f), "ack 0/0 read 1");
    //  Twenty chunks of a snapshot not yet whole: no ack, credits
    char name [32];
    for (uint64_t i = 0; i < 20; i++) {
        pk = s_begin (f, "snap", 6);
        sf_pack_ku64 (pk, "n", 2 + i);
        sf_pack_ku64 (pk, "gen", 1);
        sf_pack_ku64 (pk, "seq", 100);
        sf_pack_ku64 (pk, "index", i);
        sf_pack_kbool (pk, "last", false);
        sf_pack_str (pk, "changes");
        msgpack_pack_array (pk, 1);
        snprintf (name, sizeof (name), "cam%llu", (unsigned long long) i + 1);
        s_change (pk, i + 1, name);
        s_deliver (f, "n1");
    }
    assert_true (SF_AGENT_CREDIT_EVERY == 8);
    assert_string_equal (s_replies (f), "credit 9; credit 17");
    //  A heartbeat's ack says it too
    pk = s_begin (f, "hb", 3);
    sf_pack_ku64 (pk, "n", 22);
    sf_pack_ku64 (pk, "gen", 1);
    sf_pack_ku64 (pk, "counter", 1);
    s_deliver (f, "n1");
    assert_string_equal (s_replies (f), "ack 0/0 read 22");
    //  A restarted agent stamps from 1 again: its hello starts afresh
    pk = s_begin (f, "hello", 4);
    sf_pack_ku64 (pk, "n", 1);
    sf_pack_kstr (pk, "node", "n1");
    sf_pack_ku64 (pk, "gen", 2);
    sf_pack_ku64 (pk, "seq", 0);
    s_deliver (f, "n1");
    assert_string_equal (s_replies (f), "ack 0/0 read 1");
    //  An agent that does not stamp: acks as before, no credit
    s_hello (f, "n2", 1, 0);
    for (int i = 0; i < 20; i++)
        s_heartbeat (f, "n2", 1, (uint64_t) i + 1);
    const char *r = s_replies (f);
    assert_null (strstr (r, "read"));
    assert_null (strstr (r, "credit"));
}

//  One node-record change of n1 at seq: addr_external addr and a
//  snapshot_floor of the given shape ("arity": [5, 4, 0]; "string": "1/7";
//  "high": a well-formed [9, 9]; "type": a map)
static void
s_node_change (msgpack_packer *pk, uint64_t seq, const char *addr, const char *floor)
{
    msgpack_pack_map (pk, 2);
    sf_pack_ku64 (pk, "seq", seq);
    sf_pack_str (pk, "node");
    msgpack_pack_map (pk, 3);
    sf_pack_kstr (pk, "id", "n1");
    sf_pack_kstr (pk, "addr_external", addr);
    sf_pack_str (pk, "snapshot_floor");
    if (strcmp (floor, "arity") == 0) {
        msgpack_pack_array (pk, 3);
        msgpack_pack_uint64 (pk, 5);
        msgpack_pack_uint64 (pk, 4);
        msgpack_pack_uint64 (pk, 0);
    }
    else if (strcmp (floor, "string") == 0)
        sf_pack_str (pk, "1/7");
    else if (strcmp (floor, "high") == 0) {
        msgpack_pack_array (pk, 2);
        msgpack_pack_uint64 (pk, 9);
        msgpack_pack_uint64 (pk, 9);
    }
    else
        msgpack_pack_map (pk, 0);
}

static sf_node_t
s_stored_node (s_fix_t *f, const char *id)
{
    sf_node_t n;
    sf_node_init (&n);
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (f->store, &r), 0);
    assert_int_equal (sf_store_get_node (&r, id, &n), 0);
    sf_store_read_end (&r);
    return n;
}

//  docs/protocol.md 4.1.2: a node record's snapshot_floor is "set by
//  controllers, ignored from agents" — whatever its shape. An agent's node
//  record with a malformed floor is taken, its other fields intact, and the
//  floor stays the one the controller set from the agent's last snapshot.
//  Before, the record was decoded with the floor and rejected whole (and in
//  a snapshot, the rejected record kept the snapshot from setting a floor).
static void
test_an_agents_snapshot_floor_is_ignored_whatever_its_shape (void **state)
{
    s_fix_t *f = *state;
    s_hello (f, "n1", 1, 0);
    assert_string_equal (s_replies (f), "ack 0/0");
    //  A snapshot: cam1@1, cam2@2 and the node record at 3, its floor [5, 4, 0]
    msgpack_packer *pk = s_begin (f, "snap", 5);
    sf_pack_ku64 (pk, "gen", 1);
    sf_pack_ku64 (pk, "seq", 3);
    sf_pack_ku64 (pk, "index", 0);
    sf_pack_kbool (pk, "last", true);
    sf_pack_str (pk, "changes");
    msgpack_pack_array (pk, 3);
    s_change (pk, 1, "cam1");
    s_change (pk, 2, "cam2");
    s_node_change (pk, 3, "10.0.0.1", "arity");
    s_deliver (f, "n1");
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 1/3");
    assert_string_equal (s_stored (f, "n1"), "cam1@1 cam2@2");
    sf_node_t n = s_stored_node (f, "n1");
    assert_string_equal (n.addr_external, "10.0.0.1");
    //  The controller's own floor: the lowest version in the snapshot
    assert_int_equal (n.snapshot_floor.gen, 1);
    assert_int_equal (n.snapshot_floor.seq, 1);
    //  In a batch: a string, a map, then a well-formed floor above the
    //  controller's, each ignored, each record taken
    const char *shapes [] = { "string", "type", "high" };
    const char *addrs [] = { "10.0.0.2", "10.0.0.3", "10.0.0.4" };
    for (int i = 0; i < 3; i++) {
        pk = s_begin (f, "batch", 2);
        sf_pack_ku64 (pk, "gen", 1);
        sf_pack_str (pk, "changes");
        msgpack_pack_array (pk, 1);
        s_node_change (pk, 4 + (uint64_t) i, addrs [i], shapes [i]);
        s_deliver (f, "n1");
        sf_writer_commit (f->writer);
        char want [32];
        snprintf (want, sizeof (want), "ack 1/%d", 4 + i);
        assert_string_equal (s_replies (f), want);
        n = s_stored_node (f, "n1");
        assert_string_equal (n.addr_external, addrs [i]);
        assert_int_equal (n.version.seq, 4 + i);
        assert_int_equal (n.snapshot_floor.gen, 1);
        assert_int_equal (n.snapshot_floor.seq, 1);
    }
    for (int r = 0; r < SF_REJ_COUNT; r++)
        assert_int_equal (atomic_load (&f->metrics.rejected [r]), 0);
    assert_string_equal (s_stored (f, "n1"), "cam1@1 cam2@2");
}

//  The same for the node record's other fields the controller sets itself
//  (docs/protocol.md 4.1.2): `heartbeat` ("ignored from agents") and
//  `stale` ("ignored in node records from agents"), whatever their shape
static void
test_an_agents_heartbeat_and_stale_in_a_node_record_are_ignored_whatever_their_shape (void **state)
{
    s_fix_t *f = *state;
    s_hello (f, "n1", 1, 0);
    assert_string_equal (s_replies (f), "ack 0/0");
    //  A snapshot: cam1@1 and the node record at 2
    msgpack_packer *pk = s_begin (f, "snap", 5);
    sf_pack_ku64 (pk, "gen", 1);
    sf_pack_ku64 (pk, "seq", 2);
    sf_pack_ku64 (pk, "index", 0);
    sf_pack_kbool (pk, "last", true);
    sf_pack_str (pk, "changes");
    msgpack_pack_array (pk, 2);
    s_change (pk, 1, "cam1");
    msgpack_pack_map (pk, 2);
    sf_pack_ku64 (pk, "seq", 2);
    sf_pack_str (pk, "node");
    msgpack_pack_map (pk, 4);
    sf_pack_kstr (pk, "id", "n1");
    sf_pack_kstr (pk, "addr_external", "10.0.0.9");
    sf_pack_kstr (pk, "heartbeat", "many");
    sf_pack_str (pk, "stale");
    msgpack_pack_array (pk, 0);
    s_deliver (f, "n1");
    sf_writer_commit (f->writer);
    assert_string_equal (s_replies (f), "ack 1/2");
    assert_string_equal (s_stored (f, "n1"), "cam1@1");
    sf_node_t n = s_stored_node (f, "n1");
    assert_string_equal (n.addr_external, "10.0.0.9");
    assert_false (n.stale);
    for (int r = 0; r < SF_REJ_COUNT; r++)
        assert_int_equal (atomic_load (&f->metrics.rejected [r]), 0);
}

int
main (void)
{
#define T(fn) cmocka_unit_test_setup_teardown (fn, s_setup, s_teardown)
    const struct CMUnitTest tests [] = {
        T (test_hello_is_answered_with_the_committed_version_at_once),
        T (test_batch_is_acknowledged_only_after_the_commit),
        T (test_resent_changes_are_skipped_and_a_gap_asks_for_a_snapshot),
        T (test_a_bad_record_in_a_batch_consumes_its_seq),
        T (test_a_newer_generation_asks_for_a_snapshot_and_an_older_one_is_ignored),
        T (test_a_snapshot_replaces_the_nodes_placements_at_its_last_chunk),
        T (test_a_record_for_another_node_is_refused),
        T (test_heartbeat_feeds_liveness_and_the_hook_reports_transitions),
        T (test_a_bad_record_in_a_snapshot_keeps_its_stored_placement),
        T (test_a_snapshot_chunk_out_of_order_restarts_that_snapshot_once_with_back_off),
        T (test_snapshots_assembled_at_once_are_bounded_and_the_others_wait),
        T (test_a_heartbeat_is_answered_at_once_even_with_a_transaction_open),
        T (test_a_patch_changes_only_its_fields_and_whole_records_still_work),
        T (test_a_bad_patch_consumes_its_seq_and_changes_nothing),
        T (test_patches_of_one_stream_in_one_transaction_are_coalesced_and_counted),
        T (test_a_stamping_agent_is_told_what_was_read_before_its_window_closes),
        T (test_an_agents_snapshot_floor_is_ignored_whatever_its_shape),
        T (test_an_agents_heartbeat_and_stale_in_a_node_record_are_ignored_whatever_their_shape),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

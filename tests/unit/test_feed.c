/*  test_feed.c — the change feed: commit order without gaps, the bounded
    ring telling a slow reader it fell behind, waiting readers woken by the
    writer, and positions from another feed read as a gap.
*/
#include "sf_feed.h"
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static void
s_commit (sf_feed_t *feed, const char *node, const char *name, bool deleted, uint32_t clients)
{
    sf_store_change_t c = { .deleted = deleted, .node = node, .name = name };
    c.sum.clients = clients;
    sf_feed_observer (feed, &c, 1);
}

static void
test_changes_in_commit_order (void **state)
{
    sf_feed_t *feed = sf_feed_new (64);
    assert_int_equal (sf_feed_head (feed), 0);
    s_commit (feed, "n1", "cam1", false, 3);
    s_commit (feed, "n1", "cam2", true, 0);
    sf_feed_push_node (feed, "n2", "down");
    sf_feed_entry_t out [8];
    bool gap;
    uint64_t head;
    size_t n = sf_feed_read (feed, 0, out, 8, 0, &gap, &head);
    assert_int_equal (n, 3);
    assert_false (gap);
    assert_int_equal (head, 3);
    assert_int_equal (out [0].seq, 1);
    assert_int_equal (out [0].op, SF_FEED_PUT);
    assert_string_equal (out [0].name, "cam1");
    assert_int_equal (out [0].sum.clients, 3);
    assert_int_equal (out [1].op, SF_FEED_DELETE);
    assert_string_equal (out [1].name, "cam2");
    assert_int_equal (out [2].op, SF_FEED_NODE);
    assert_string_equal (out [2].node, "n2");
    assert_string_equal (out [2].what, "down");
    //  From a position: only what is newer
    n = sf_feed_read (feed, 2, out, 8, 0, &gap, &head);
    assert_int_equal (n, 1);
    assert_int_equal (out [0].seq, 3);
    //  max bounds the copy
    n = sf_feed_read (feed, 0, out, 2, 0, &gap, &head);
    assert_int_equal (n, 2);
    assert_int_equal (out [1].seq, 2);
    sf_feed_destroy (&feed);
    sf_feed_destroy (&feed);
    assert_null (feed);
}

static void
test_slow_reader_told_of_gap (void **state)
{
    sf_feed_t *feed = sf_feed_new (16);
    for (uint32_t i = 0; i < 40; i++)
        s_commit (feed, "n1", "cam", false, i);
    sf_feed_entry_t out [64];
    bool gap;
    uint64_t head;
    size_t n = sf_feed_read (feed, 3, out, 64, 0, &gap, &head);
    assert_true (gap);
    assert_int_equal (head, 40);
    assert_int_equal (n, 16);
    assert_int_equal (out [0].seq, 25);
    assert_int_equal (out [15].sum.clients, 39);
    //  Exactly at the ring's edge there is no gap
    n = sf_feed_read (feed, 24, out, 64, 0, &gap, &head);
    assert_false (gap);
    assert_int_equal (n, 16);
    sf_feed_destroy (&feed);
}

static void
test_foreign_position_is_a_gap (void **state)
{
    sf_feed_t *a = sf_feed_new (16), *b = sf_feed_new (16);
    assert_int_not_equal (sf_feed_epoch (a), sf_feed_epoch (b));
    s_commit (a, "n1", "cam", false, 1);
    sf_feed_entry_t out [4];
    bool gap;
    uint64_t head;
    //  A position past the head must not wait for the feed to get there
    size_t n = sf_feed_read (a, 1000, out, 4, 5000, &gap, &head);
    assert_true (gap);
    assert_int_equal (n, 1);
    assert_int_equal (head, 1);
    sf_feed_destroy (&a);
    sf_feed_destroy (&b);
}

static void *
s_late_writer (void *arg)
{
    usleep (100 * 1000);
    s_commit (arg, "n9", "late", false, 7);
    return NULL;
}

static void
test_waiting_reader_woken_by_commit (void **state)
{
    sf_feed_t *feed = sf_feed_new (16);
    pthread_t t;
    pthread_create (&t, NULL, s_late_writer, feed);
    sf_feed_entry_t out [4];
    bool gap;
    uint64_t head;
    size_t n = sf_feed_read (feed, 0, out, 4, 10000, &gap, &head);
    pthread_join (t, NULL);
    assert_int_equal (n, 1);
    assert_string_equal (out [0].name, "late");
    //  Nothing new: a bounded wait returns empty
    n = sf_feed_read (feed, 1, out, 4, 50, &gap, &head);
    assert_int_equal (n, 0);
    assert_false (gap);
    sf_feed_destroy (&feed);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_changes_in_commit_order),
        cmocka_unit_test (test_slow_reader_told_of_gap),
        cmocka_unit_test (test_foreign_position_is_a_gap),
        cmocka_unit_test (test_waiting_reader_woken_by_commit),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

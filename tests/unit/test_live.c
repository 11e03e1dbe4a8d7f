/*  test_live.c — node liveness, derived on read (controller/live.c).

    Pins down DESIGN §3: a node is alive while its heartbeat counter rose
    within suspect-ms, suspect until down-ms, down after; only a counter that
    rises (or a higher generation) counts, so a replayed heartbeat keeps
    nothing alive; a node known from storage counts from when it was made
    known; an unknown node is down; counts cover every node and the walk
    every node heard from. The stale mark belongs to one heartbeat: only the
    latest one's counts, and a rising beat forgets it until its own is heard.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "sf_live.h"

static int
s_state (sf_live_t *l, const char *node, int64_t now)
{
    return sf_live_state (l, node, now, NULL);
}

static void
test_alive_then_suspect_then_down_by_the_age_of_the_last_rise (void **state)
{
    sf_live_t *l = sf_live_new (3000, 10000);
    assert_true (sf_live_beat (l, "n1", 1, 1, 1000));
    assert_int_equal (s_state (l, "n1", 1000), SF_LIVE_ALIVE);
    assert_int_equal (s_state (l, "n1", 3999), SF_LIVE_ALIVE);
    assert_int_equal (s_state (l, "n1", 4000), SF_LIVE_SUSPECT);
    assert_int_equal (s_state (l, "n1", 10999), SF_LIVE_SUSPECT);
    assert_int_equal (s_state (l, "n1", 11000), SF_LIVE_DOWN);
    int64_t age = 0;
    sf_live_state (l, "n1", 11000, &age);
    assert_int_equal (age, 10000);
    //  a risen counter makes it alive again
    sf_live_sweep (l, 11000);
    assert_true (sf_live_beat (l, "n1", 1, 2, 12000));
    assert_int_equal (s_state (l, "n1", 12000), SF_LIVE_ALIVE);
    sf_live_destroy (&l);
    assert_null (l);
}

static void
test_only_a_rising_counter_or_a_newer_generation_counts (void **state)
{
    sf_live_t *l = sf_live_new (3000, 10000);
    assert_true (sf_live_beat (l, "n1", 2, 5, 0));
    //  the same counter, a lower one, an older generation: no rise
    assert_false (sf_live_beat (l, "n1", 2, 5, 2000));
    assert_false (sf_live_beat (l, "n1", 2, 4, 2500));
    assert_false (sf_live_beat (l, "n1", 1, 99, 2900));
    assert_int_equal (s_state (l, "n1", 3000), SF_LIVE_SUSPECT);
    //  a newer generation restarts the counter
    assert_true (sf_live_beat (l, "n1", 3, 1, 3100));
    assert_int_equal (s_state (l, "n1", 3100), SF_LIVE_ALIVE);
    sf_live_destroy (&l);
}

static void
test_a_known_node_counts_from_when_it_was_made_known (void **state)
{
    sf_live_t *l = sf_live_new (3000, 10000);
    assert_int_equal (s_state (l, "ghost", 0), SF_LIVE_DOWN);
    int64_t age = 0;
    sf_live_state (l, "ghost", 0, &age);
    assert_int_equal (age, -1);
    sf_live_know (l, "n2", 50000);
    assert_int_equal (s_state (l, "n2", 50000), SF_LIVE_ALIVE);
    assert_int_equal (s_state (l, "n2", 60000), SF_LIVE_DOWN);
    //  its first heartbeat counts whatever the counter
    assert_true (sf_live_beat (l, "n2", 1, 0, 61000));
    assert_int_equal (s_state (l, "n2", 61000), SF_LIVE_ALIVE);
    sf_live_destroy (&l);
}

static void
s_visit (const char *node, uint64_t gen, uint64_t counter, int stale, void *arg)
{
    char *out = arg;
    char one [64];
    snprintf (one, sizeof (one), "%s%s:%llu/%llu", *out ? " " : "", node,
              (unsigned long long) gen, (unsigned long long) counter);
    strcat (out, one);
}

static void
test_counts_and_the_walk_agree_with_the_states (void **state)
{
    sf_live_t *l = sf_live_new (3000, 10000);
    sf_live_beat (l, "a", 1, 1, 10000);     //  alive at 12000
    sf_live_beat (l, "b", 1, 7, 8000);      //  suspect at 12000
    sf_live_know (l, "c", 0);               //  down at 12000
    uint32_t counts [3] = { 0, 0, 0 };
    sf_live_counts (l, 12000, counts);
    assert_int_equal (counts [SF_LIVE_ALIVE], 1);
    assert_int_equal (counts [SF_LIVE_SUSPECT], 1);
    assert_int_equal (counts [SF_LIVE_DOWN], 1);
    char out [256] = "";
    sf_live_each (l, s_visit, out);
    assert_non_null (strstr (out, "a:1/1"));
    assert_non_null (strstr (out, "b:1/7"));
    //  a node never heard from has no heartbeat to pass on (gossip)
    assert_null (strstr (out, "c:"));
    sf_live_destroy (&l);
}

static void
test_the_stale_mark_is_the_latest_heartbeats (void **state)
{
    sf_live_t *l = sf_live_new (3000, 10000);
    assert_int_equal (sf_live_stale (l, "n1"), -1);         //  unknown node
    assert_false (sf_live_set_stale (l, "n1", 1, 1, true));
    sf_live_beat (l, "n1", 1, 5, 1000);
    assert_int_equal (sf_live_stale (l, "n1"), -1);         //  not heard yet
    assert_true (sf_live_set_stale (l, "n1", 1, 5, true));
    assert_int_equal (sf_live_stale (l, "n1"), 1);
    //  an older heartbeat's mark (a peer behind) changes nothing
    assert_false (sf_live_set_stale (l, "n1", 1, 4, false));
    assert_int_equal (sf_live_stale (l, "n1"), 1);
    //  a newer beat forgets the mark until its own comes
    sf_live_beat (l, "n1", 1, 6, 1300);
    assert_int_equal (sf_live_stale (l, "n1"), -1);
    assert_true (sf_live_set_stale (l, "n1", 1, 6, false));
    assert_int_equal (sf_live_stale (l, "n1"), 0);
    //  a new generation (agent restarted) likewise
    sf_live_beat (l, "n1", 2, 1, 1600);
    assert_false (sf_live_set_stale (l, "n1", 1, 6, false));
    assert_true (sf_live_set_stale (l, "n1", 2, 1, true));
    assert_int_equal (sf_live_stale (l, "n1"), 1);
    sf_live_destroy (&l);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_alive_then_suspect_then_down_by_the_age_of_the_last_rise),
        cmocka_unit_test (test_only_a_rising_counter_or_a_newer_generation_counts),
        cmocka_unit_test (test_a_known_node_counts_from_when_it_was_made_known),
        cmocka_unit_test (test_counts_and_the_walk_agree_with_the_states),
        cmocka_unit_test (test_the_stale_mark_is_the_latest_heartbeats),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

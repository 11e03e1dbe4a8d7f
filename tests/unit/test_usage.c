/*  test_usage.c — node usage from /proc: cpu percent and network rates as
    deltas between two readings (loopback left out), memory from
    MemAvailable, disks by statvfs. Fixture /proc trees: tests/fixtures/proc/.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "sf_usage.h"

static void
test_two_readings (void **state)
{
    sf_usage_t *u = sf_usage_new ();
    sf_node_t node;
    sf_node_init (&node);
    sf_usage_set_proc_root (u, "tests/fixtures/proc/a");
    assert_int_equal (sf_usage_read (u, &node, "/,/nonexistent-mount", 10000), 0);
    //  First reading: no rates yet
    assert_true (node.cpu_pct == 0);
    assert_int_equal (node.in_kbps, 0);
    assert_int_equal (node.mem_total_bytes, 16000000ULL * 1024);
    assert_int_equal (node.mem_used_bytes, 4000000ULL * 1024);
    assert_int_equal (node.ndisks, 2);
    assert_string_equal (node.disks [0].mount, "/");
    assert_true (node.disks [0].total_bytes > 0);
    //  A configured mount that is not there is listed with zeros
    assert_string_equal (node.disks [1].mount, "/nonexistent-mount");
    assert_int_equal (node.disks [1].total_bytes, 0);

    //  Two seconds later: busy 300+200 of 300+200+400+100 jiffies = 50 %;
    //  in 750000+250000 bytes = 8 Mbit in 2 s = 4000 kbit/s; out 2500000 bytes
    //  = 10000 kbit/s; lo's 9 MB do not count
    sf_usage_set_proc_root (u, "tests/fixtures/proc/b");
    assert_int_equal (sf_usage_read (u, &node, "", 12000), 0);
    assert_true (node.cpu_pct > 49.9 && node.cpu_pct < 50.1);
    assert_int_equal (node.in_kbps, 4000);
    assert_int_equal (node.out_kbps, 10000);
    //  No disks configured: "/"
    assert_int_equal (node.ndisks, 1);
    assert_string_equal (node.disks [0].mount, "/");
    //  Counters going backwards (a reset) give 0, not a huge rate
    sf_usage_set_proc_root (u, "tests/fixtures/proc/a");
    assert_int_equal (sf_usage_read (u, &node, "", 14000), 0);
    assert_int_equal (node.in_kbps, 0);
    assert_true (node.cpu_pct == 0);
    sf_usage_destroy (&u);
    sf_usage_destroy (&u);
}

//  --net-interface: only that interface's counters
static void
test_one_interface (void **state)
{
    (void) state;
    sf_usage_t *u = sf_usage_new ();
    sf_node_t node;
    sf_node_init (&node);
    sf_usage_set_interface (u, "eth0");
    sf_usage_set_proc_root (u, "tests/fixtures/proc/a");
    assert_int_equal (sf_usage_read (u, &node, "", 10000), 0);
    sf_usage_set_proc_root (u, "tests/fixtures/proc/b");
    assert_int_equal (sf_usage_read (u, &node, "", 12000), 0);
    //  eth0 alone: 750000 bytes in 2 s = 3000 kbit/s in, 10000 out
    assert_int_equal (node.in_kbps, 3000);
    assert_int_equal (node.out_kbps, 10000);
    //  A name that is not there is an error, not a silent 0
    sf_usage_set_interface (u, "wlan9");
    assert_int_equal (sf_usage_read (u, &node, "", 14000), -1);
    sf_usage_destroy (&u);
}

static void
test_missing_proc (void **state)
{
    sf_usage_t *u = sf_usage_new ();
    sf_node_t node;
    sf_node_init (&node);
    sf_usage_set_proc_root (u, "/nonexistent-proc");
    assert_int_equal (sf_usage_read (u, &node, "/", 1000), -1);
    //  Disks are still read
    assert_int_equal (node.ndisks, 1);
    //  And the real /proc works
    sf_usage_set_proc_root (u, NULL);
    assert_int_equal (sf_usage_read (u, &node, "/", 1000), 0);
    assert_true (node.mem_total_bytes > 0);
    sf_usage_destroy (&u);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_two_readings),
        cmocka_unit_test (test_missing_proc),
        cmocka_unit_test (test_one_interface),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

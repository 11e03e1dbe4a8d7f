/*  test_metrics.c — the controller's counters and their Prometheus text
    (controller/metrics.c).

    Pins down what a Prometheus server and its alerts rely on: metric names
    and types, cumulative histogram buckets ending in +Inf equal to _count,
    rejections by reason (an out-of-range reason never writes out of bounds),
    and gauge families present only when gathered.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include "sf_metrics.h"

//  Renders the metrics into a malloc'ed string
static char *
s_render (sf_metrics_t *m, const sf_metrics_gauges_t *g)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    assert_int_equal (sf_metrics_write (m, g, out), 0);
    fclose (out);
    return text;
}

//  The value of one sample line "name{labels} value", -1 if absent
static long long
s_sample (const char *text, const char *series)
{
    size_t len = strlen (series);
    for (const char *p = text; p && *p; ) {
        if (strncmp (p, series, len) == 0 && p [len] == ' ')
            return atoll (p + len + 1);
        p = strchr (p, '\n');
        if (p)
            p++;
    }
    return -1;
}

static void
test_counters_named_by_convention (void **state)
{
    sf_metrics_t m;
    sf_metrics_init (&m);
    atomic_fetch_add (&m.records_in, 12);
    atomic_fetch_add (&m.messages_in, 3);
    atomic_fetch_add (&m.http_requests, 2);
    char *text = s_render (&m, NULL);
    assert_int_equal (s_sample (text, "streamfleet_ingest_records_total"), 12);
    assert_int_equal (s_sample (text, "streamfleet_ingest_messages_total"), 3);
    assert_int_equal (s_sample (text, "streamfleet_http_requests_total"), 2);
    assert_non_null (strstr (text, "# TYPE streamfleet_ingest_records_total counter\n"));
    //  Without gauges, no gauge family is announced
    assert_null (strstr (text, "streamfleet_streams{"));
    assert_null (strstr (text, "streamfleet_nodes{"));
    free (text);
}

static void
test_rejections_by_reason (void **state)
{
    sf_metrics_t m;
    sf_metrics_init (&m);
    sf_metrics_reject (&m, SF_REJ_BOUNDS);
    sf_metrics_reject (&m, SF_REJ_BOUNDS);
    sf_metrics_reject (&m, SF_REJ_FORBIDDEN);
    sf_metrics_reject (&m, 9999);           //  counted as malformed, not out of bounds
    sf_metrics_reject (&m, -1);
    char *text = s_render (&m, NULL);
    assert_int_equal (s_sample (text, "streamfleet_ingest_rejected_total{reason=\"bounds\"}"), 2);
    assert_int_equal (s_sample (text, "streamfleet_ingest_rejected_total{reason=\"forbidden\"}"), 1);
    assert_int_equal (s_sample (text, "streamfleet_ingest_rejected_total{reason=\"malformed\"}"), 2);
    assert_int_equal (s_sample (text, "streamfleet_ingest_rejected_total{reason=\"state\"}"), 0);
    assert_null (strstr (text, "reason=\"none\""));
    free (text);
}

static void
test_commit_histogram_cumulative (void **state)
{
    sf_metrics_t m;
    sf_metrics_init (&m);
    sf_metrics_commit (&m, 50);             //  0.00005 s -> le 0.0001
    sf_metrics_commit (&m, 100);            //  exactly on a bound counts in it
    sf_metrics_commit (&m, 3000);           //  0.003 s -> le 0.005
    sf_metrics_commit (&m, 5000000);        //  5 s -> only +Inf
    sf_metrics_commit (&m, -7);             //  a clock step counts as 0
    char *text = s_render (&m, NULL);
    const char *b = "streamfleet_store_commit_duration_seconds_bucket";
    char series [128];
    snprintf (series, sizeof (series), "%s{le=\"0.0001\"}", b);
    assert_int_equal (s_sample (text, series), 3);
    snprintf (series, sizeof (series), "%s{le=\"0.0025\"}", b);
    assert_int_equal (s_sample (text, series), 3);
    snprintf (series, sizeof (series), "%s{le=\"0.005\"}", b);
    assert_int_equal (s_sample (text, series), 4);
    snprintf (series, sizeof (series), "%s{le=\"0.5\"}", b);
    assert_int_equal (s_sample (text, series), 4);
    snprintf (series, sizeof (series), "%s{le=\"+Inf\"}", b);
    assert_int_equal (s_sample (text, series), 5);
    assert_int_equal (s_sample (text, "streamfleet_store_commit_duration_seconds_count"), 5);
    assert_non_null (strstr (text, "streamfleet_store_commit_duration_seconds_sum 5.003150\n"));
    assert_non_null (strstr (text, "# TYPE streamfleet_store_commit_duration_seconds histogram\n"));
    assert_int_equal (atomic_load (&m.commits), 5);
    free (text);
}

static void
test_gauges_by_type_status_liveness (void **state)
{
    sf_metrics_t m;
    sf_metrics_init (&m);
    sf_metrics_gauges_t g;
    memset (&g, 0, sizeof (g));
    g.have_streams = true;
    g.streams_by_type [SF_TYPE_PRIMARY] = 40;
    g.streams_by_type [SF_TYPE_SECONDARY] = 10;
    g.streams_by_status [SF_STATUS_ACTIVE] = 30;
    g.streams_by_status [SF_STATUS_OFFLINE] = 5;
    g.streams_total = 50;
    g.have_nodes = true;
    g.nodes_by_liveness [SF_LIVE_ALIVE] = 3;
    g.nodes_by_liveness [SF_LIVE_DOWN] = 1;
    char *text = s_render (&m, &g);
    assert_int_equal (s_sample (text, "streamfleet_streams{type=\"primary\"}"), 40);
    assert_int_equal (s_sample (text, "streamfleet_streams{type=\"migrated\"}"), 0);
    assert_int_equal (s_sample (text, "streamfleet_streams_by_status{status=\"active\"}"), 30);
    assert_int_equal (s_sample (text, "streamfleet_streams_by_status{status=\"offline\"}"), 5);
    assert_int_equal (s_sample (text, "streamfleet_nodes{liveness=\"alive\"}"), 3);
    assert_int_equal (s_sample (text, "streamfleet_nodes{liveness=\"suspect\"}"), 0);
    assert_int_equal (s_sample (text, "streamfleet_nodes{liveness=\"down\"}"), 1);
    assert_non_null (strstr (text, "# TYPE streamfleet_nodes gauge\n"));
    free (text);
}

//  Gossip counters, and replication lag per peer with label values that
//  cannot break the exposition format
static void
test_gossip_and_replication_lag (void **state)
{
    sf_metrics_t m;
    sf_metrics_init (&m);
    atomic_fetch_add (&m.gossip_bytes_in, 300);
    atomic_fetch_add (&m.gossip_records_in, 9);
    sf_metrics_gauges_t g;
    memset (&g, 0, sizeof (g));
    g.npeers = 1;
    strcpy (g.peers [0].id, "c2");
    strcpy (g.peers [0].state, "alive");
    g.peers [0].lag_changes = 42;
    g.peers [0].last_heard_s = 0.25;
    char *text = s_render (&m, &g);
    assert_int_equal (s_sample (text, "streamfleet_gossip_bytes_total{direction=\"in\"}"), 300);
    assert_int_equal (s_sample (text, "streamfleet_gossip_records_total"), 9);
    assert_int_equal (s_sample (text, "streamfleet_replication_lag_changes{peer=\"c2\",state=\"alive\"}"), 42);
    assert_non_null (strstr (text, "streamfleet_replication_peer_last_heard_seconds{peer=\"c2\"} 0.250\n"));
    free (text);
    //  Without peers, no lag family
    g.npeers = 0;
    text = s_render (&m, &g);
    assert_null (strstr (text, "streamfleet_replication_lag_changes"));
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_counters_named_by_convention),
        cmocka_unit_test (test_rejections_by_reason),
        cmocka_unit_test (test_commit_histogram_cumulative),
        cmocka_unit_test (test_gauges_by_type_status_liveness),
        cmocka_unit_test (test_gossip_and_replication_lag),
    };
    return cmocka_run_group_tests_name ("metrics", tests, NULL, NULL);
}

/*  sf_bench_readmodel.c — the read model alone, in process (no network, no
    LMDB): what it costs the writer and what a query costs at a fleet size
    (`make bench-readmodel`, docs/benchmarks.md).

        sf_bench_readmodel [--placements N] [--nodes K] [--iterations I] [--seconds D]
                           [--updates U] [--queries 0|1]

    Fills the model with N placements over K nodes ("bNN-camNNNNNN", the
    names bench/run.sh's agents use) in commits of 1,000, then applies
    commits of 1,000 small changes (bitrate and clients move, a status now
    and then) for D seconds: updates/s through both copies is the writer's
    cost (also with every numeric column moving; --updates U: U updates per
    pass instead of D seconds, the count bench/readmodel_callgrind.sh takes). Then times, I runs each, the filtered count + page, the first page
    by every sortable column both ways, a page at N/2, a cursor page; then
    the same queries from a reader thread while the writer applies changes
    as fast as it can (reader p50/p99, writer rate beside them).
        RESULT <name> <value> <unit>
*/
#include "sf_readmodel.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
//  Under callgrind (valgrind --tool=callgrind --instr-atstart=no) only the
//  writer passes are instrumented: instruction counts per update that do not
//  depend on what else the machine runs
#if defined(__has_include)
#   if __has_include(<valgrind/callgrind.h>)
#       include <valgrind/callgrind.h>
#   endif
#endif
#ifndef CALLGRIND_START_INSTRUMENTATION
#   define CALLGRIND_START_INSTRUMENTATION
#   define CALLGRIND_STOP_INSTRUMENTATION
#   define CALLGRIND_DUMP_STATS_AT(s)
#   define CALLGRIND_ZERO_STATS
#endif

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

//  CPU time of this thread: on a shared machine the writer's cost, without
//  the time it waited for a core
static double
s_cpu (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t s_rng = 88172645463325252ULL;
static uint32_t
s_rand (uint32_t n)
{
    s_rng ^= s_rng << 13; s_rng ^= s_rng >> 7; s_rng ^= s_rng << 17;
    return (uint32_t) (s_rng % n);
}

static int s_n = 1000000, s_k = 100, s_iter = 50, s_seconds = 5;
static int s_queries_on = 1;        //  --queries 0: the writer's figures only
static long s_updates_max;          //  --updates U: each writer pass applies U, not D seconds
//  Updates move every numeric column (true) or, as agents' reports do,
//  clients and bitrate, with a restart (start time, reconnects) now and then
static bool s_churn_all;

static uint32_t
s_mix (uint32_t x)
{
    x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b;
    return x ^ (x >> 16);
}

static void
s_change (sf_readmodel_change_t *c, char *node, char *name, char *url, int i, bool fresh)
{
    int k = i % s_k, j = i / s_k;
    snprintf (node, SF_NODE_MAX + 1, "b%02d", k + 1);
    snprintf (name, SF_NAME_MAX + 1, "b%02d-cam%06d", k + 1, j);
    memset (c, 0, sizeof (*c));
    c->node = node;
    c->name = name;
    //  A camera's url: a host per 16 cameras, a channel each (47 bytes)
    c->url_len = (size_t) snprintf (url, 64, "rtsp://10.%u.%u.%u:554/Streaming/Channels/%u01",
                                    (unsigned) (k + 1), (unsigned) (j / 4096) % 256,
                                    (unsigned) (j / 16) % 256, (unsigned) j % 16 + 1);
    c->url = url;
    c->sum.magic = SF_SUMMARY_MAGIC;
    c->sum.type = (uint8_t) (j % 3 == 2);
    c->sum.status = fresh ? (uint8_t) (s_rand (10) == 0 ? 1 : 0) : (uint8_t) (s_rand (50) == 0);
    c->sum.functions = (uint8_t) ((j % 2 ? 1 : 0) | (j % 4 == 1 ? 4 : 0));
    c->sum.clients = s_rand (20);
    c->sum.bitrate_kbps = 500 + s_rand (7500);
    if (s_churn_all) {
        c->sum.started_at = 1800000000 - (int64_t) s_rand (86400 * 30);
        c->sum.reconnect_attempts = s_rand (3);
        c->sum.reconnect_total = s_rand (100);
        return;
    }
    c->sum.started_at = 1800000000 - (int64_t) (s_mix ((uint32_t) i) % (86400 * 30));
    c->sum.reconnect_attempts = s_mix ((uint32_t) i * 7 + 1) % 3;
    c->sum.reconnect_total = s_mix ((uint32_t) i * 13 + 2) % 100;
    if (!fresh && s_rand (50) == 0) {
        c->sum.started_at = 1800000000 - (int64_t) s_rand (60);
        c->sum.reconnect_attempts = 0;
        c->sum.reconnect_total++;
    }
}

typedef struct {
    sf_readmodel_change_t c [1000];
    char node [1000][SF_NODE_MAX + 1];
    char name [1000][SF_NAME_MAX + 1];
    char url [1000][64];
} s_batch_t;

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static void
s_report (const char *tag, const char *key, double *v, int n)
{
    qsort (v, (size_t) n, sizeof (double), s_cmp_double);
    double p50 = v [n / 2] * 1e3, p99 = v [(int) (0.99 * (n - 1) + 0.5)] * 1e3;
    printf ("%-40s p50 %8.3f ms  p99 %8.3f ms\n", key, p50, p99);
    printf ("RESULT rm_%s%s_p50 %.3f ms\nRESULT rm_%s%s_p99 %.3f ms\n", tag, key, p50, tag, key, p99);
}

typedef struct {
    const char *key, *filter, *name, *sort;
    int offset;                 //  -1: half the fleet
    bool after;
} s_query_t;

static const s_query_t s_queries [] = {
    { "filtered", "secondary,dvr", "cam001", "", 0, false },
    { "plain", "", "", "", 0, false },
    { "sort_name_asc", "", "", "name", 0, false }, { "sort_name_desc", "", "", "-name", 0, false },
    { "sort_node_asc", "", "", "node", 0, false }, { "sort_node_desc", "", "", "-node", 0, false },
    { "sort_status_asc", "", "", "status", 0, false }, { "sort_status_desc", "", "", "-status", 0, false },
    { "sort_type_asc", "", "", "type", 0, false }, { "sort_type_desc", "", "", "-type", 0, false },
    { "sort_clients_asc", "", "", "clients", 0, false }, { "sort_clients_desc", "", "", "-clients", 0, false },
    { "sort_bitrate_asc", "", "", "bitrate", 0, false }, { "sort_bitrate_desc", "", "", "-bitrate", 0, false },
    { "sort_uptime_asc", "", "", "uptime", 0, false }, { "sort_uptime_desc", "", "", "-uptime", 0, false },
    { "sort_reconnects_asc", "", "", "reconnects", 0, false },
    { "sort_reconnects_desc", "", "", "-reconnects", 0, false },
    { "sort_source_asc", "", "", "source", 0, false }, { "sort_source_desc", "", "", "-source", 0, false },
    { "deep_name", "", "", "name", -1, false },
    { "deep_bitrate", "", "", "-bitrate", -1, false },
    { "after_bitrate", "", "", "-bitrate", 0, true },
    { "filtered_bitrate", "active,dvr", "", "-bitrate", 0, false },
    //  Keyset cursors under other orders, and a deep page under a broad filter
    { "after_name", "", "", "name", 0, true },
    { "after_uptime", "", "", "-uptime", 0, true },
    { "after_status", "", "", "-status", 0, true },
    { "after_filtered_bitrate", "active,dvr", "", "-bitrate", 0, true },
    { "deep_filtered_bitrate", "active", "", "-bitrate", -1, false },
    { "deep_uptime", "", "", "uptime", -1, false },
    { "deep_source", "", "", "source", -1, false },
    { "after_source", "", "", "-source", 0, true },
    //  Name filters alone (trigram index, then the same with a scan)
    { "name_sub", "", "cam001", "", 0, false },
    { "name_rare", "", "m00123", "", 0, false },
    { "name_glob", "", "b0?-cam0012*", "", 0, false },
    { "name_short", "", "12", "", 0, false },
};

static void
s_run_queries (sf_readmodel_t *rm, const char *tag, int iterations, bool names_only)
{
    double *v = malloc ((size_t) iterations * sizeof (double));
    sf_readmodel_clock_t clock = { NULL, 0, 1800000000 };
    for (size_t q = 0; q < sizeof (s_queries) / sizeof (s_queries [0]); q++) {
        const s_query_t *sq = &s_queries [q];
        if (names_only && !sq->name [0])
            continue;
        sf_filter_t f;
        sf_sort_t sort;
        char err [256];
        sf_filter_init (&f);
        sf_filter_parse (&f, sq->filter, err, sizeof (err));
        sf_filter_set_name (&f, sq->name, err, sizeof (err));
        sf_sort_parse (&sort, sq->sort, err, sizeof (err));
        size_t offset = sq->offset < 0 ? (size_t) s_n / 2 : (size_t) sq->offset;
        char after [SF_READMODEL_CURSOR_MAX + 1] = "";
        sf_readmodel_page_t page;
        if (sq->after) {
            sf_readmodel_list (rm, &f, &sort, NULL, 0, 100, &clock, &page, err, sizeof (err));
            snprintf (after, sizeof (after), "%s", page.next);
            sf_readmodel_page_clear (&page);
        }
        size_t total = 0;
        for (int i = 0; i < iterations; i++) {
            double t = s_now ();
            sf_readmodel_list (rm, &f, &sort, after, offset, 100, &clock, &page, err, sizeof (err));
            v [i] = s_now () - t;
            total = page.total;
            sf_readmodel_page_clear (&page);
        }
        if (!tag [0])
            printf ("  (%s: %zu match)\n", sq->key, total);
        s_report (tag, sq->key, v, iterations);
    }
    free (v);
}

static atomic_bool s_stop;
static atomic_uint_fast64_t s_updates;

static void *
s_writer (void *arg)
{
    sf_readmodel_t *rm = arg;
    s_batch_t *b = malloc (sizeof (s_batch_t));
    while (!atomic_load (&s_stop)) {
        for (int j = 0; j < 1000; j++)
            s_change (&b->c [j], b->node [j], b->name [j], b->url [j], (int) s_rand ((uint32_t) s_n), false);
        sf_readmodel_apply (rm, b->c, 1000);
        atomic_fetch_add (&s_updates, 1000);
    }
    free (b);
    return NULL;
}

int
main (int argc, char **argv)
{
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp (argv [i], "--placements")) s_n = atoi (argv [i + 1]);
        else if (!strcmp (argv [i], "--nodes")) s_k = atoi (argv [i + 1]);
        else if (!strcmp (argv [i], "--iterations")) s_iter = atoi (argv [i + 1]);
        else if (!strcmp (argv [i], "--seconds")) s_seconds = atoi (argv [i + 1]);
        else if (!strcmp (argv [i], "--queries")) s_queries_on = atoi (argv [i + 1]);
        else if (!strcmp (argv [i], "--updates")) s_updates_max = atol (argv [i + 1]);
        else {
            fprintf (stderr, "usage: sf_bench_readmodel [--placements N] [--nodes K] "
                     "[--iterations I] [--seconds D] [--updates U] [--queries 0|1]\n");
            return 2;
        }
    }
    if (s_n < 1000 || s_k < 1 || s_k > 999 || s_iter < 1 || s_seconds < 1) {
        fprintf (stderr, "sf_bench_readmodel: --placements >= 1000, --nodes 1..999\n");
        return 2;
    }
    sf_readmodel_t *rm = sf_readmodel_new ();
    s_batch_t *b = malloc (sizeof (s_batch_t));
    //  Fill in node-major order, as snapshots arrive
    double t = s_now ();
    for (int i = 0; i < s_n; i += 1000) {
        int m = s_n - i < 1000 ? s_n - i : 1000;
        for (int j = 0; j < m; j++) {
            int r = i + j, k = r / (s_n / s_k + 1), idx = r % (s_n / s_k + 1);
            s_change (&b->c [j], b->node [j], b->name [j], b->url [j], idx * s_k + k, true);
        }
        sf_readmodel_apply (rm, b->c, (size_t) m);
    }
    double fill = s_now () - t;
    printf ("read model: %zu placements over %d nodes, filled in %.2f s (%.0f puts/s, both copies)\n",
            sf_readmodel_size (rm), s_k, fill, s_n / fill);
    printf ("RESULT rm_fill_rate %.0f puts/s\n", s_n / fill);
    size_t bytes = sf_readmodel_bytes (rm);
    printf ("memory: %.1f MiB for both copies (%.0f bytes per placement)\n", bytes / 1048576.0,
            (double) bytes / (double) sf_readmodel_size (rm));
    printf ("RESULT rm_bytes_per_placement %.0f bytes\n", (double) bytes / (double) sf_readmodel_size (rm));
    //  The writer's cost: commits of 1,000 small changes, as agents report
    //  them, then with every numeric column moving (the worst case for the
    //  ordered indexes: four moves per update and copy)
    //  One commit of updates first, untimed: the standby copy still owes
    //  the fill's last commit (1,000 new rows), which is not an update's cost
    for (int j = 0; j < 1000; j++)
        s_change (&b->c [j], b->node [j], b->name [j], b->url [j], (int) s_rand ((uint32_t) s_n), false);
    sf_readmodel_apply (rm, b->c, 1000);
    double dt = 0;
    for (int pass = 0; pass < 2; pass++) {
        s_churn_all = pass == 1;
        uint64_t n = 0;
        t = s_now ();
        double cpu = s_cpu ();
        if (pass == 0)
            CALLGRIND_START_INSTRUMENTATION;
        CALLGRIND_ZERO_STATS;
        while (s_updates_max ? (long) n < s_updates_max : s_now () - t < s_seconds) {
            for (int j = 0; j < 1000; j++)
                s_change (&b->c [j], b->node [j], b->name [j], b->url [j], (int) s_rand ((uint32_t) s_n), false);
            sf_readmodel_apply (rm, b->c, 1000);
            n += 1000;
        }
        CALLGRIND_DUMP_STATS_AT (pass ? "writer_all" : "writer_mix");
        if (pass == 1)
            CALLGRIND_STOP_INSTRUMENTATION;
        dt = s_now () - t;
        cpu = s_cpu () - cpu;
        printf ("writer%s: %.0f updates/s applied (both copies), %.2f us per update, %.2f us of CPU\n",
                pass ? " (every numeric column moves)" : " (clients, bitrate; a restart in 50)",
                n / dt, dt / n * 1e6, cpu / n * 1e6);
        printf ("RESULT rm_update%s_rate %.0f updates/s\n", pass ? "_all" : "", n / dt);
        printf ("RESULT rm_update%s_us %.2f us\n", pass ? "_all" : "", dt / n * 1e6);
        printf ("RESULT rm_update%s_cpu_us %.2f us\n", pass ? "_all" : "", cpu / n * 1e6);
    }
    s_churn_all = false;
    if (!s_queries_on) {
        free (b);
        sf_readmodel_destroy (&rm);
        return 0;
    }
    s_run_queries (rm, "", s_iter, false);
    //  The name filters without the trigram index: every candidate's name
    printf ("name filters with a scan of the candidates' names (no trigram index):\n");
    sf_readmodel_set_trigrams (rm, false);
    s_run_queries (rm, "scan_", s_iter, true);
    sf_readmodel_set_trigrams (rm, true);
    //  Readers beside a writer applying as fast as it can
    printf ("with a writer applying changes beside the reader:\n");
    pthread_t w;
    atomic_store (&s_stop, false);
    atomic_store (&s_updates, 0);
    t = s_now ();
    pthread_create (&w, NULL, s_writer, rm);
    s_run_queries (rm, "load_", s_iter, false);
    atomic_store (&s_stop, true);
    pthread_join (w, NULL);
    dt = s_now () - t;
    printf ("writer beside the reader: %.0f updates/s\n", (double) atomic_load (&s_updates) / dt);
    printf ("RESULT rm_load_update_rate %.0f updates/s\n", (double) atomic_load (&s_updates) / dt);
    free (b);
    sf_readmodel_destroy (&rm);
    return 0;
}

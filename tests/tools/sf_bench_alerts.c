/*  sf_bench_alerts.c — what judging alert rules costs the writer thread
    (issue 17: at 1,000,000 placements with 20 rules, at most 5 % of one core
    at 10,000 updates/s). In process, on a simulated clock: the rules see
    exactly what the store's observer hands them after each commit.

        sf_bench_alerts [--placements N] [--nodes K] [--rate U] [--seconds D]

    Loads N placements over K nodes (every one active), then for D simulated
    seconds applies U updates per second in commits of U/100 (bitrate moves;
    about 1 % of the updates turn a stream to error and back, some raise
    reconnect attempts, a node goes down and back now and then) and runs the
    timer every 250 ms. The thread's CPU time inside the alert calls over the
    simulated time is the share of one core the rules cost.
        RESULT <name> <value> <unit>
    The DVR conditions' record reads (at the tick, per changed placement) are
    not in this figure: no store here.
*/
#include "sf_alerts.h"
#include "sf_log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t s_rng = 88172645463325252ULL;
static uint32_t
s_rand (uint32_t n)
{
    s_rng ^= s_rng << 13; s_rng ^= s_rng >> 7; s_rng ^= s_rng << 17;
    return (uint32_t) (s_rng % n);
}

static double
s_cpu (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *s_rules =
    "cam-offline inactive for=10m resolve=2m filter=primary name=cam-*\n"
    "any-offline inactive for=5m resolve=1m\n"
    "prim-offline inactive for=1m resolve=1m filter=primary\n"
    "dvr-offline inactive for=10m filter=primary,dvr\n"
    "node3-offline inactive for=1m node=b003\n"
    "glob-offline inactive for=1m name=b0*-cam00*\n"
    "lobby inactive for=0 name=lobby\n"
    "silent no-bitrate for=2m resolve=1m\n"
    "silent-prim no-bitrate for=30s filter=primary\n"
    "flaky reconnects rise=5 within=5m\n"
    "flaky-cam reconnects rise=3 within=1m name=cam-*\n"
    "stuck transfer-stuck\n"
    "stuck-fast transfer-stuck for=30s filter=primary\n"
    "conflict conflict for=10s\n"
    "gap dvr-gap gap=5m window=24h filter=dvr\n"
    "short archive-short percent=90 for=1h\n"
    "recorder-down node-down for=2m\n"
    "recorder3-down node-down for=10s node=b003\n"
    "disk80 disk percent=80 for=15m\n"
    "disk95 disk percent=95 for=1m\n";

int
main (int argc, char **argv)
{
    long placements = 1000000, nodes = 100, rate = 10000, seconds = 60;
    for (int i = 1; i + 1 < argc; i += 2) {
        long v = atol (argv [i + 1]);
        if (!strcmp (argv [i], "--placements")) placements = v;
        else if (!strcmp (argv [i], "--nodes")) nodes = v;
        else if (!strcmp (argv [i], "--rate")) rate = v;
        else if (!strcmp (argv [i], "--seconds")) seconds = v;
        else {
            fprintf (stderr, "usage: sf_bench_alerts [--placements N] [--nodes K] [--rate U] [--seconds D]\n");
            return 2;
        }
    }
    if (placements < 1 || nodes < 1 || rate < 100 || seconds < 1) {
        fprintf (stderr, "sf_bench_alerts: --placements, --nodes >= 1, --rate >= 100, --seconds >= 1\n");
        return 2;
    }
    sf_log_set_level (SF_LOG_ERROR);
    char err [512];
    sf_alerts_t *a = sf_alerts_new (s_rules, 120, err, sizeof (err));
    if (!a) {
        fprintf (stderr, "sf_bench_alerts: %s\n", err);
        return 1;
    }
    long per_node = (placements + nodes - 1) / nodes;
    char (*node_ids) [32] = calloc ((size_t) nodes, 32);
    for (long n = 0; n < nodes; n++)
        snprintf (node_ids [n], 32, "b%03ld", n);
    //  Names as bench/run.sh's agents make them
    char (*names) [32] = calloc ((size_t) per_node, 32);
    for (long k = 0; k < per_node; k++)
        snprintf (names [k], 32, "cam-%06ld", k);
    size_t batch = (size_t) rate / 100;
    sf_store_change_t *ch = calloc (batch > 1000 ? batch : 1000, sizeof (*ch));
    //  Load: every placement once, active
    int64_t now = 1800000000000LL;
    double t0 = s_cpu ();
    long done = 0;
    while (done < placements) {
        size_t n = 0;
        for (; n < 1000 && done < placements; n++, done++) {
            memset (&ch [n], 0, sizeof (ch [n]));
            ch [n].node = node_ids [done / per_node];
            ch [n].name = names [done % per_node];
            ch [n].sum.type = done % 10 ? SF_TYPE_PRIMARY : SF_TYPE_SECONDARY;
            ch [n].sum.status = done % 10 ? SF_STATUS_ACTIVE : SF_STATUS_SUSPEND;
            ch [n].sum.functions = SF_FN_DVR;
            ch [n].sum.bitrate_kbps = 1000;
        }
        sf_alerts_apply (a, ch, n, now);
    }
    double load_cpu = s_cpu () - t0;
    //  Run
    double cpu = 0;
    uint64_t updates = 0;
    for (long sec = 0; sec < seconds; sec++) {
        for (int slice = 0; slice < 100; slice++) {
            now += 10;
            for (size_t n = 0; n < batch; n++) {
                long p = (long) s_rand ((uint32_t) placements);
                memset (&ch [n], 0, sizeof (ch [n]));
                ch [n].node = node_ids [p / per_node];
                ch [n].name = names [p % per_node];
                ch [n].sum.type = p % 10 ? SF_TYPE_PRIMARY : SF_TYPE_SECONDARY;
                ch [n].sum.functions = SF_FN_DVR;
                ch [n].sum.status = p % 10 ? SF_STATUS_ACTIVE : SF_STATUS_SUSPEND;
                ch [n].sum.bitrate_kbps = 500 + s_rand (1000);
                uint32_t r = s_rand (1000);
                if (r < 10)
                    ch [n].sum.status = SF_STATUS_ERROR;
                else if (r < 15)
                    ch [n].sum.reconnect_attempts = 1 + s_rand (10);
            }
            double c0 = s_cpu ();
            sf_alerts_apply (a, ch, batch, now);
            if (slice % 25 == 24)
                sf_alerts_tick (a, now);
            cpu += s_cpu () - c0;
            updates += batch;
        }
        if (sec % 20 == 10) {
            //  A node down and back, as the writer's liveness hook says it
            double c0 = s_cpu ();
            sf_change_t d = { .kind = 'l', .node = node_ids [s_rand ((uint32_t) nodes)], .live = SF_LIVE_DOWN };
            sf_alerts_node (a, &d, now);
            d.live = SF_LIVE_ALIVE;
            sf_alerts_node (a, &d, now + 5000);
            cpu += s_cpu () - c0;
        }
    }
    printf ("RESULT alerts_load_cpu_s %.3f s (%ld placements, 20 rules)\n", load_cpu, placements);
    printf ("RESULT alerts_updates %llu updates over %ld simulated s\n", (unsigned long long) updates, seconds);
    printf ("RESULT alerts_cpu_per_update %.0f ns\n", cpu / (double) updates * 1e9);
    printf ("RESULT alerts_core_share_at_rate %.2f %% of one core at %ld updates/s\n",
            cpu / (double) seconds * 100.0, rate);
    printf ("RESULT alerts_firing %zu\n", sf_alerts_firing (a));
    sf_alerts_destroy (&a);
    free (ch);
    free (names);
    free (node_ids);
    return 0;
}

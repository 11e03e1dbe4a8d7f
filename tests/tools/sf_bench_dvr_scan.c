/*  sf_bench_dvr_scan.c — what the DVR directory scanner costs per poll.

    Lays out N chunk files (default 100,000) in the nginx-rtmp HLS layout
    "{name}/{ms}.ts" under a temporary directory, then times:
      - the first scan (every name read and stat()ed once);
      - an update with nothing changed (the steady state of most polls);
      - an update after one new chunk in one stream's directory (the
        steady state of a recording stream: that directory is re-read);
      - filling one stream's dvr record from the view.
    Usage: sf_bench_dvr_scan [FILES] [STREAMS] [inotify|mtime]
           (defaults 100000 1 inotify)
    docs/adapters.md quotes its output.
*/
#include "sf_dvr_scan.h"
#include "sf_log.h"
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int
s_touch (const char *path, int64_t end_ms)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return -1;
    struct timespec t [2] = {
        { .tv_sec = end_ms / 1000, .tv_nsec = (end_ms % 1000) * 1000000 },
        { .tv_sec = end_ms / 1000, .tv_nsec = (end_ms % 1000) * 1000000 },
    };
    futimens (fd, t);
    close (fd);
    return 0;
}

int
main (int argc, char **argv)
{
    long files = argc > 1 ? atol (argv [1]) : 100000;
    long streams = argc > 2 ? atol (argv [2]) : 1;
    bool use_inotify = argc <= 3 || strcmp (argv [3], "mtime");
    if (files < 1 || streams < 1 || streams > files) {
        fprintf (stderr, "usage: sf_bench_dvr_scan [FILES] [STREAMS] [inotify|mtime]\n");
        return 2;
    }
    char root [] = "/tmp/sf-bench-dvr.XXXXXX";
    if (!mkdtemp (root)) {
        perror ("mkdtemp");
        return 1;
    }
    int64_t now_ms = sf_now_ms ();
    long per = files / streams;
    //  Chunks of 2 s back to back, ending now
    int64_t first = now_ms - per * 2000;
    char path [512];
    double t0 = s_now_us ();
    for (long s = 0; s < streams; s++) {
        snprintf (path, sizeof path, "%s/cam%ld", root, s);
        mkdir (path, 0755);
        for (long i = 0; i < per; i++) {
            int64_t start = first + i * 2000;
            snprintf (path, sizeof path, "%s/cam%ld/%lld.ts", root, s, (long long) start);
            if (s_touch (path, start + 2000)) {
                perror (path);
                return 1;
            }
        }
    }
    printf ("layout: %ld chunk files in %ld stream dirs under %s (made in %.1f s)\n",
            per * streams, streams, root, (s_now_us () - t0) / 1e6);

    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (root, "{name}/{ms}.ts", err, sizeof err);
    if (!scan) {
        fprintf (stderr, "%s\n", err);
        return 1;
    }
    if (!use_inotify)
        sf_dvr_scan_no_inotify (scan);
    sf_dvr_scan_stats_t st;
    t0 = s_now_us ();
    sf_dvr_scan_update (scan, now_ms, err, sizeof err);
    double first_ms = (s_now_us () - t0) / 1e3;
    sf_dvr_scan_stats (scan, &st);
    printf ("mode: %s\n", st.inotify ? "inotify" : "directory mtimes");
    printf ("first scan:               %9.2f ms  (%zu chunks, %zu dirs read, %zu stat calls)\n",
            first_ms, st.chunks, st.dirs_read, st.files_statted);

    int rounds = 200;
    t0 = s_now_us ();
    for (int i = 0; i < rounds; i++)
        sf_dvr_scan_update (scan, now_ms, err, sizeof err);
    sf_dvr_scan_stats (scan, &st);
    printf ("update, nothing changed:  %9.3f ms  (%zu dirs read, %zu stat calls)\n",
            (s_now_us () - t0) / 1e3 / rounds, st.dirs_read, st.files_statted);

    rounds = 50;
    double total = 0;
    int64_t next = first + per * 2000;
    for (int i = 0; i < rounds; i++) {
        snprintf (path, sizeof path, "%s/cam0/%lld.ts", root, (long long) next);
        s_touch (path, next + 2000);
        next += 2000;
        t0 = s_now_us ();
        sf_dvr_scan_update (scan, next, err, sizeof err);
        total += s_now_us () - t0;
    }
    sf_dvr_scan_stats (scan, &st);
    printf ("update, one new chunk:    %9.3f ms  (%zu dirs read, %zu stat calls, %zu events)\n",
            total / 1e3 / rounds, st.dirs_read, st.files_statted, st.events);

    sf_dvr_t dvr = { 0 };
    t0 = s_now_us ();
    for (int i = 0; i < 1000; i++)
        sf_dvr_scan_fill (scan, "cam0", &dvr);
    printf ("fill one stream's record: %9.3f ms  (%u ranges)\n",
            (s_now_us () - t0) / 1e3 / 1000, dvr.nranges);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);

    snprintf (path, sizeof path, "rm -rf '%s'", root);
    if (system (path))
        fprintf (stderr, "could not remove %s\n", root);
    return 0;
}

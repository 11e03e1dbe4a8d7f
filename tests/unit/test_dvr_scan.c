/*  test_dvr_scan.c — the DVR directory scanner: name patterns, ranges merged
    across gaps of at most 1 s, chunk length, depth, current recording, bytes
    on disk, and the incremental cost (what an unchanged directory costs).
    Chunk end times come from mtimes, which the test sets with utimensat.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "sf_dvr_scan.h"
#include "sf_log.h"

#define T0 1700000000LL         //  a round unix time for the fixtures

static char s_root [256];

static int
s_setup (void **state)
{
    snprintf (s_root, sizeof s_root, "/tmp/sf-dvr-test.XXXXXX");
    assert_non_null (mkdtemp (s_root));
    return 0;
}

static int
s_teardown (void **state)
{
    char cmd [300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_root);
    assert_int_equal (system (cmd), 0);
    return 0;
}

static void
s_mkdir (const char *rel)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", s_root, rel);
    char cmd [600];
    snprintf (cmd, sizeof cmd, "mkdir -p '%s'", path);
    assert_int_equal (system (cmd), 0);
}

//  A chunk file of `bytes` bytes whose mtime (its end) is end_ms
static void
s_chunk (const char *rel, size_t bytes, int64_t end_ms)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", s_root, rel);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true (fd >= 0);
    char buf [4096] = { 0 };
    while (bytes) {
        size_t n = bytes < sizeof buf ? bytes : sizeof buf;
        assert_int_equal (write (fd, buf, n), (ssize_t) n);
        bytes -= n;
    }
    struct timespec times [2] = {
        { .tv_sec = end_ms / 1000, .tv_nsec = (end_ms % 1000) * 1000000 },
        { .tv_sec = end_ms / 1000, .tv_nsec = (end_ms % 1000) * 1000000 },
    };
    assert_int_equal (futimens (fd, times), 0);
    close (fd);
}

static void
test_pattern_validation (void **state)
{
    char err [256];
    assert_null (sf_dvr_scan_new ("/tmp", "{ms}.ts", err, sizeof err));
    assert_non_null (strstr (err, "{name}"));
    assert_null (sf_dvr_scan_new ("/tmp", "{name}/chunk.ts", err, sizeof err));
    assert_null (sf_dvr_scan_new ("/tmp", "{name}/{bogus}.ts", err, sizeof err));
    assert_non_null (strstr (err, "unknown token"));
    assert_null (sf_dvr_scan_new ("/tmp", "{name}/{ms.ts", err, sizeof err));
    assert_null (sf_dvr_scan_new ("/tmp", "{name}//{ms}.ts", err, sizeof err));
    assert_null (sf_dvr_scan_new ("", NULL, err, sizeof err));
    sf_dvr_scan_t *scan = sf_dvr_scan_new ("/tmp", NULL, err, sizeof err);
    assert_non_null (scan);
    sf_dvr_scan_destroy (&scan);
    sf_dvr_scan_destroy (&scan);        //  safe twice
    assert_null (scan);
}

//  nginx-rtmp HLS layout: {name}/{ms}.ts, ends from mtimes
static void
test_hls_ranges_merge (void **state)
{
    s_mkdir ("cam1");
    s_mkdir ("cam2");
    int64_t t = T0 * 1000;
    //  cam1: three 2 s chunks back to back (gaps of 50 ms, 1 s), a 5 s gap,
    //  then two more: two ranges
    s_chunk ("cam1/1700000000000.ts", 1000, t + 2000);
    s_chunk ("cam1/1700000002050.ts", 1000, t + 4000);
    s_chunk ("cam1/1700000005000.ts", 1000, t + 7000);     //  gap 1000 ms: merges
    s_chunk ("cam1/1700000012000.ts", 1000, t + 14000);    //  gap 5 s: new range
    s_chunk ("cam1/1700000014000.ts", 1000, t + 16000);
    s_chunk ("cam1/index.m3u8", 100, t + 16000);           //  not a chunk
    s_chunk ("cam2/1700000000000.ts", 500, t + 2000);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}/{ms}.ts", err, sizeof err);
    assert_non_null (scan);
    assert_int_equal (sf_dvr_scan_update (scan, t + 17000, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "cam1", &dvr), 1);
    assert_int_equal (dvr.nranges, 2);
    assert_int_equal (dvr.ranges [0].from, T0);
    assert_int_equal (dvr.ranges [0].to, T0 + 7);
    assert_int_equal (dvr.ranges [1].from, T0 + 12);
    assert_int_equal (dvr.ranges [1].to, T0 + 16);
    assert_int_equal (dvr.chunk_s, 2);
    assert_int_equal (dvr.depth_s, 16);
    assert_int_equal (dvr.memory_bytes, 5000);
    assert_true (dvr.disk_free_bytes > 0);
    //  The stream's own directory, not the scanner's root ("{name}/...")
    char own [600];
    snprintf (own, sizeof own, "%s/cam1", s_root);
    assert_string_equal (dvr.records_path, own);
    //  Recording now: the newest range ends within two chunks of "now"
    assert_int_equal (dvr.current_from, T0 + 12);
    assert_int_equal (sf_dvr_scan_fill (scan, "nope", &dvr), 0);
    const char *names [4];
    assert_int_equal (sf_dvr_scan_streams (scan, names, 4), 2);
    free (dvr.ranges);
    free (dvr.records_path);
    //  An hour later nothing is recording
    assert_int_equal (sf_dvr_scan_update (scan, t + 3600000, err, sizeof err), 0);
    memset (&dvr, 0, sizeof dvr);
    assert_int_equal (sf_dvr_scan_fill (scan, "cam1", &dvr), 1);
    assert_int_equal (dvr.current_from, 0);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);
}

//  The gap rule is "at most 1 s" on whole seconds, as records carry them:
//  a 1.0 s gap merges, a 2.5 s gap does not
static void
test_gap_boundary (void **state)
{
    s_mkdir ("c");
    int64_t t = T0 * 1000;
    s_chunk ("c/1700000000000.ts", 10, t + 2000);
    s_chunk ("c/1700000003000.ts", 10, t + 5000);          //  gap exactly 1000 ms
    s_chunk ("c/1700000007500.ts", 10, t + 9500);          //  gap 2500 ms
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, NULL, err, sizeof err);
    assert_int_equal (sf_dvr_scan_update (scan, t, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "c", &dvr), 1);
    assert_int_equal (dvr.nranges, 2);
    assert_int_equal (dvr.ranges [0].to, T0 + 5);
    assert_int_equal (dvr.ranges [1].from, T0 + 7);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);
}

//  An unchanged directory is not re-read; a new chunk costs one stat (and
//  one re-read of its directory without inotify)
static void
s_incremental (bool inotify)
{
    s_mkdir ("cam");
    int64_t t = T0 * 1000;
    char rel [64];
    for (int i = 0; i < 100; i++) {
        snprintf (rel, sizeof rel, "cam/%lld.ts", (long long) (t + i * 2000));
        s_chunk (rel, 100, t + i * 2000 + 2000);
    }
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, NULL, err, sizeof err);
    if (!inotify)
        sf_dvr_scan_no_inotify (scan);
    assert_int_equal (sf_dvr_scan_update (scan, t + 201000, err, sizeof err), 0);
    sf_dvr_scan_stats_t st;
    sf_dvr_scan_stats (scan, &st);
    assert_int_equal (st.inotify, inotify);
    assert_int_equal (st.chunks, 100);
    assert_int_equal (st.streams, 1);
    assert_int_equal (st.dirs_read, 2);
    assert_true (st.files_statted >= 100);
    assert_int_equal (sf_dvr_scan_update (scan, t + 201000, err, sizeof err), 0);
    sf_dvr_scan_stats (scan, &st);
    assert_int_equal (st.dirs_read, 0);
    assert_int_equal (st.files_statted, 1);     //  the newest chunk, which may grow
    //  The newest chunk grows: its end moves without any directory change
    snprintf (rel, sizeof rel, "cam/%lld.ts", (long long) (t + 99 * 2000));
    s_chunk (rel, 200, t + 99 * 2000 + 2500);
    assert_int_equal (sf_dvr_scan_update (scan, t + 201000, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "cam", &dvr), 1);
    assert_int_equal (dvr.nranges, 1);
    assert_int_equal (dvr.ranges [0].to, T0 + 99 * 2 + 3);     //  2.5 s rounds up
    assert_int_equal (dvr.memory_bytes, 99 * 100 + 200);
    //  One chunk more, after the directory's mtime tick has surely moved
    usleep (20 * 1000);
    snprintf (rel, sizeof rel, "cam/%lld.ts", (long long) (t + 100 * 2000 + 500));
    s_chunk (rel, 100, t + 100 * 2000 + 2500);
    assert_int_equal (sf_dvr_scan_update (scan, t + 201000, err, sizeof err), 0);
    sf_dvr_scan_stats (scan, &st);
    assert_int_equal (st.dirs_read, inotify ? 0 : 1);
    assert_true (st.files_statted <= 3);
    assert_int_equal (st.chunks, 101);
    //  A chunk deleted (retention) shortens the archive
    char gone [400];
    snprintf (gone, sizeof gone, "%s/cam/%lld.ts", s_root, (long long) t);
    usleep (20 * 1000);
    assert_int_equal (unlink (gone), 0);
    assert_int_equal (sf_dvr_scan_update (scan, t + 201000, err, sizeof err), 0);
    assert_int_equal (sf_dvr_scan_fill (scan, "cam", &dvr), 1);
    assert_int_equal (dvr.ranges [0].from, T0 + 2);
    assert_int_equal (dvr.nranges, 1);
    assert_int_equal (dvr.ranges [0].to, T0 + 100 * 2 + 3);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);
}

static void
test_incremental_inotify (void **state)
{
    s_incremental (true);
}

static void
test_incremental_mtime (void **state)
{
    s_incremental (false);
}

//  With inotify, many chunks added and removed between two updates are
//  applied by name, and the result equals a fresh scan's
static void
test_inotify_matches_fresh_scan (void **state)
{
    s_mkdir ("a");
    s_mkdir ("b");
    int64_t t = T0 * 1000;
    char rel [64];
    for (int i = 0; i < 50; i++) {
        snprintf (rel, sizeof rel, "a/%lld.ts", (long long) (t + i * 2000));
        s_chunk (rel, 10, t + i * 2000 + 2000);
    }
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, NULL, err, sizeof err);
    assert_int_equal (sf_dvr_scan_update (scan, t, err, sizeof err), 0);
    //  Retention removes the oldest 20 of a; a gap and 30 more; b appears
    for (int i = 0; i < 20; i++) {
        char path [400];
        snprintf (path, sizeof path, "%s/a/%lld.ts", s_root, (long long) (t + i * 2000));
        assert_int_equal (unlink (path), 0);
    }
    for (int i = 60; i < 90; i++) {
        snprintf (rel, sizeof rel, "a/%lld.ts", (long long) (t + i * 2000));
        s_chunk (rel, 10, t + i * 2000 + 2000);
    }
    s_chunk ("b/1700000000000.ts", 10, t + 2000);
    assert_int_equal (sf_dvr_scan_update (scan, t, err, sizeof err), 0);
    sf_dvr_scan_t *fresh = sf_dvr_scan_new (s_root, NULL, err, sizeof err);
    assert_int_equal (sf_dvr_scan_update (fresh, t, err, sizeof err), 0);
    const char *names [] = { "a", "b" };
    for (int k = 0; k < 2; k++) {
        sf_dvr_t x = { 0 }, y = { 0 };
        assert_int_equal (sf_dvr_scan_fill (scan, names [k], &x), 1);
        assert_int_equal (sf_dvr_scan_fill (fresh, names [k], &y), 1);
        assert_int_equal (x.nranges, y.nranges);
        for (uint32_t r = 0; r < x.nranges; r++) {
            assert_int_equal (x.ranges [r].from, y.ranges [r].from);
            assert_int_equal (x.ranges [r].to, y.ranges [r].to);
        }
        assert_int_equal (x.memory_bytes, y.memory_bytes);
        free (x.ranges);
        free (x.records_path);
        free (y.ranges);
        free (y.records_path);
    }
    sf_dvr_t a = { 0 };
    sf_dvr_scan_fill (scan, "a", &a);
    assert_int_equal (a.nranges, 2);
    assert_int_equal (a.ranges [0].from, T0 + 40);
    assert_int_equal (a.ranges [1].from, T0 + 120);
    free (a.ranges);
    free (a.records_path);
    sf_dvr_scan_destroy (&scan);
    sf_dvr_scan_destroy (&fresh);
}

//  Flat record files with the name in the file name, dashes and all
static void
test_flat_pattern (void **state)
{
    int64_t t = T0 * 1000;
    s_chunk ("cam-1-1700000000.flv", 10, t + 60000);
    s_chunk ("cam-1-1700000060.flv", 10, t + 120000);
    s_chunk ("lobby-1700000000.flv", 10, t + 30000);
    s_chunk ("notes.txt", 10, t);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}-{s}.flv", err, sizeof err);
    assert_non_null (scan);
    assert_int_equal (sf_dvr_scan_update (scan, t, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "cam-1", &dvr), 1);
    assert_int_equal (dvr.nranges, 1);
    assert_int_equal (dvr.ranges [0].from, T0);
    assert_int_equal (dvr.ranges [0].to, T0 + 120);
    assert_int_equal (dvr.chunk_s, 60);
    free (dvr.ranges);
    free (dvr.records_path);
    memset (&dvr, 0, sizeof dvr);
    assert_int_equal (sf_dvr_scan_fill (scan, "lobby", &dvr), 1);
    assert_int_equal (dvr.ranges [0].to, T0 + 30);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);
}

//  A date tree with durations in the names: no mtimes needed
static void
test_date_tree_with_duration (void **state)
{
    s_mkdir ("cam/2023/11/14/22");
    s_chunk ("cam/2023/11/14/22/13-20-10.ts", 10, 0);      //  22:13:20 UTC = T0
    s_chunk ("cam/2023/11/14/22/13-30-10.ts", 10, 0);
    s_mkdir ("cam/2023/11/14/23");
    s_chunk ("cam/2023/11/14/23/00-00-10.ts", 10, 0);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}/{Y}/{m}/{d}/{H}/{M}-{S}-{dur}.ts",
                                           err, sizeof err);
    assert_non_null (scan);
    assert_int_equal (sf_dvr_scan_update (scan, T0 * 1000, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "cam", &dvr), 1);
    assert_int_equal (dvr.nranges, 2);
    assert_int_equal (dvr.ranges [0].from, T0);
    assert_int_equal (dvr.ranges [0].to, T0 + 20);
    assert_int_equal (dvr.ranges [1].from, T0 + 2800);
    assert_int_equal (dvr.chunk_s, 10);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);
}

//  A missing records path fails the update, and works once it appears
static void
test_missing_root (void **state)
{
    char path [300];
    snprintf (path, sizeof path, "%s/later", s_root);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (path, NULL, err, sizeof err);
    assert_non_null (scan);
    assert_int_equal (sf_dvr_scan_update (scan, T0 * 1000, err, sizeof err), -1);
    assert_non_null (strstr (err, "later"));
    s_mkdir ("later/cam");
    s_chunk ("later/cam/1700000000000.ts", 10, T0 * 1000 + 2000);
    assert_int_equal (sf_dvr_scan_update (scan, T0 * 1000, err, sizeof err), 0);
    //  apply: the dvr function is set on streams with chunks only
    sf_streamset_t set;
    sf_streamset_init (&set);
    sf_streamset_add (&set, "cam");
    sf_streamset_add (&set, "other");
    sf_dvr_scan_apply (scan, &set);
    assert_true (set.items [0].functions & SF_FN_DVR);
    assert_int_equal (set.items [0].dvr.nranges, 1);
    assert_false (set.items [1].functions & SF_FN_DVR);
    sf_streamset_clear (&set);
    //  A stream directory removed entirely disappears from the view
    char cmd [400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/cam'", path);
    assert_int_equal (system (cmd), 0);
    assert_int_equal (sf_dvr_scan_update (scan, T0 * 1000, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "cam", &dvr), 0);
    sf_dvr_scan_destroy (&scan);
}

//  nginx-rtmp's default hls_fragment_naming is sequential: 0.ts, 1.ts...
//  read with {ms} they gave a 1970 range without a word. Such names are
//  skipped (and a warning is logged once); real system-named ones remain.
static void
test_sequential_names_are_not_1970 (void **state)
{
    s_mkdir ("cam1");
    s_mkdir ("cam2");
    int64_t t = T0 * 1000;
    s_chunk ("cam1/0.ts", 1000, t + 2000);
    s_chunk ("cam1/1.ts", 1000, t + 4000);
    s_chunk ("cam2/1700000000000.ts", 1000, t + 2000);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}/{ms}.ts", err, sizeof err);
    assert_non_null (scan);
    assert_int_equal (sf_dvr_scan_update (scan, t + 5000, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "cam1", &dvr), 0);
    assert_int_equal (dvr.nranges, 0);
    assert_int_equal (sf_dvr_scan_fill (scan, "cam2", &dvr), 1);
    assert_int_equal (dvr.nranges, 1);
    assert_true (dvr.ranges [0].from >= 946684800);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);
}


//  A text file (a playlist) with mtime end_ms
static void
s_text (const char *rel, const char *text, int64_t end_ms)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", s_root, rel);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
    struct timespec times [2] = {
        { .tv_sec = end_ms / 1000, .tv_nsec = (end_ms % 1000) * 1000000 },
        { .tv_sec = end_ms / 1000, .tv_nsec = (end_ms % 1000) * 1000000 },
    };
    assert_int_equal (utimensat (AT_FDCWD, path, times, 0), 0);
}

//  One stream's single range after an update at now_ms
static void
s_one_range (sf_dvr_scan_t *scan, const char *name, int64_t now_ms, int64_t from, int64_t to)
{
    char err [256];
    assert_int_equal (sf_dvr_scan_update (scan, now_ms, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, name, &dvr), 1);
    assert_int_equal (dvr.nranges, 1);
    assert_int_equal (dvr.ranges [0].from, from);
    assert_int_equal (dvr.ranges [0].to, to);
    free (dvr.ranges);
    free (dvr.records_path);
}

//  nginx-rtmp's default naming (hls_fragment_naming sequential) with
//  {seq}: a fragment ends at its mtime and starts its playlist EXTINF
//  before; the fragment being written (not listed yet) starts where the
//  one before it ended; a fragment that left the playlist keeps what the
//  playlist said of it. Tested with and without inotify.
static void
s_sequential_mtimes (bool inotify)
{
    s_mkdir ("cam1");
    int64_t t = T0 * 1000;
    s_chunk ("cam1/7.ts", 1000, t + 2000);
    s_chunk ("cam1/8.ts", 1000, t + 4000);
    s_chunk ("cam1/9.ts", 1000, t + 5500);             //  being written
    s_text ("cam1/index.m3u8", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:7\n"
            "#EXT-X-TARGETDURATION:2\n#EXTINF:2.000,\n7.ts\n#EXTINF:2.000,\n8.ts\n", t + 4000);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}/{seq}.ts", err, sizeof err);
    assert_non_null (scan);
    if (!inotify)
        sf_dvr_scan_no_inotify (scan);
    s_one_range (scan, "cam1", t + 6000, T0, T0 + 6);
    //  9 closes at +6 s, 10 begins; the playlist moves on without 7
    s_chunk ("cam1/9.ts", 1000, t + 6000);
    s_chunk ("cam1/10.ts", 1000, t + 7000);
    s_text ("cam1/index.m3u8", "#EXTM3U\n#EXT-X-MEDIA-SEQUENCE:8\n#EXT-X-TARGETDURATION:2\n"
            "#EXTINF:2.000,\n8.ts\n#EXTINF:2.000,\n9.ts\n", t + 6000);
    s_one_range (scan, "cam1", t + 7500, T0, T0 + 7);
    sf_dvr_scan_destroy (&scan);
}

static void test_sequential_mtimes_inotify (void **state) { s_sequential_mtimes (true); }
static void test_sequential_mtimes_mtime (void **state) { s_sequential_mtimes (false); }

//  EXT-X-PROGRAM-DATE-TIME, where the server writes it, wins over mtimes
//  (here the files were copied an hour later); it carries on to the next
//  segments by their durations. Not nested: {name}-{seq}.ts and NAME.m3u8.
static void
test_sequential_program_date_time (void **state)
{
    int64_t t = T0 * 1000;
    s_chunk ("cam1-0.ts", 1000, t + 3600000);
    s_chunk ("cam1-1.ts", 1000, t + 3600000);
    s_chunk ("cam2-0.ts", 1000, t + 3600000);
    //  T0 is 2023-11-14T22:13:20Z
    s_text ("cam1.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:3\n"
            "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T23:13:20.000+01:00\n#EXTINF:3.000,\ncam1-0.ts\n"
            "#EXTINF:2.5,\ncam1-1.ts\n", t + 3600000);
    s_text ("cam2.m3u8", "#EXTM3U\n#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:30Z\n"
            "#EXTINF:4,\ncam2-0.ts\n", t + 3600000);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}-{seq}.ts", err, sizeof err);
    assert_non_null (scan);
    s_one_range (scan, "cam1", t + 3600000, T0, T0 + 6);      //  5.5 s, rounded out
    s_one_range (scan, "cam2", t + 3600000, T0 + 10, T0 + 14);
    sf_dvr_scan_destroy (&scan);
}

//  A fragment numbered after a long pause (the publisher came back) does
//  not bridge the pause: without a playlist entry it starts where the one
//  before ended only within two target durations
static void
test_sequential_pause_is_a_gap (void **state)
{
    s_mkdir ("cam1");
    int64_t t = T0 * 1000;
    s_chunk ("cam1/0.ts", 1000, t + 2000);
    s_chunk ("cam1/1.ts", 1000, t + 4000);
    s_chunk ("cam1/2.ts", 1000, t + 604000);           //  10 minutes later, being written
    s_text ("cam1/index.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n0.ts\n"
            "#EXTINF:2.0,\n1.ts\n", t + 4000);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}/{seq}.ts", err, sizeof err);
    assert_non_null (scan);
    assert_int_equal (sf_dvr_scan_update (scan, t + 604500, err, sizeof err), 0);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "cam1", &dvr), 1);
    assert_int_equal (dvr.nranges, 2);
    assert_int_equal (dvr.ranges [0].from, T0);
    assert_int_equal (dvr.ranges [0].to, T0 + 4);
    assert_int_equal (dvr.ranges [1].from, T0 + 604);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);
}

//  An FLV file nginx-rtmp's recorder wrote: header, then tags whose last
//  timestamp is last_ms, each followed by its size
static void
s_flv (const char *rel, uint32_t last_ms, int64_t mtime_ms, bool torn)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", s_root, rel);
    FILE *f = fopen (path, "wb");
    assert_non_null (f);
    static const uint8_t head [13] = { 'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0 };
    fwrite (head, 1, 13, f);
    for (uint32_t ts = 0; ; ts += last_ms / 4 ? last_ms / 4 : 1) {
        if (ts > last_ms)
            ts = last_ms;
        uint8_t tag [11 + 5 + 4] = { 9, 0, 0, 5, (uint8_t) (ts >> 16), (uint8_t) (ts >> 8), (uint8_t) ts,
                                     (uint8_t) (ts >> 24), 0, 0, 0, 0x17, 1, 0, 0, 0, 0, 0, 0, 16 };
        fwrite (tag, 1, sizeof tag, f);
        if (ts == last_ms)
            break;
    }
    if (torn)
        fwrite ("\x09\x00\x01\x00", 1, 4, f);      //  a tag being written
    fclose (f);
    struct timespec times [2] = {
        { .tv_sec = mtime_ms / 1000, .tv_nsec = (mtime_ms % 1000) * 1000000 },
        { .tv_sec = mtime_ms / 1000, .tv_nsec = (mtime_ms % 1000) * 1000000 },
    };
    assert_int_equal (utimensat (AT_FDCWD, path, times, 0), 0);
}

//  "record all" with nginx-rtmp's default record_suffix (.flv, no
//  record_unique): NAME.flv carries no time; it ends at its mtime and
//  starts its own last timestamp before. A torn last tag keeps the length
//  read before.
static void
test_record_flv_default_suffix (void **state)
{
    int64_t t = T0 * 1000;
    s_flv ("cam1.flv", 12000, t + 12000, false);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}.flv", err, sizeof err);
    assert_non_null (scan);
    s_one_range (scan, "cam1", t + 12500, T0, T0 + 12);
    s_flv ("cam1.flv", 14000, t + 14000, true);            //  torn: 12 s as before
    s_one_range (scan, "cam1", t + 14500, T0 + 2, T0 + 14);
    s_flv ("cam1.flv", 16000, t + 16000, false);
    s_one_range (scan, "cam1", t + 16500, T0, T0 + 16);
    sf_dvr_scan_destroy (&scan);
}

//  record_unique on ("-%T", unix seconds) and a strftime record_suffix in
//  local time ("-%Y%m%d-%H%M%S.flv" with TZ three hours east of UTC); a
//  two-hour recording keeps its length (its FLV timestamps), where a
//  name-timed file used to count as zero past an hour
static void
test_record_unique_and_strftime (void **state)
{
    setenv ("TZ", "XST-3", 1);
    tzset ();
    int64_t t = T0 * 1000;
    s_flv ("cam1-1700000000.flv", 7200000, t + 7200000, false);
    //  T0 is 22:13:20 UTC, 01:13:20 the next day at UTC+3
    s_flv ("cam2-20231115-011320.flv", 10000, t + 10000, false);
    s_flv ("cam3-1700000000-20231115-011320.flv", 20000, t + 20000, false);
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, "{name}-{s}.flv", err, sizeof err);
    assert_non_null (scan);
    s_one_range (scan, "cam1", t + 7200000, T0, T0 + 7200);
    sf_dvr_scan_destroy (&scan);
    scan = sf_dvr_scan_new (s_root, "{name}-%Y%m%d-%H%M%S.flv", err, sizeof err);
    assert_non_null (scan);
    s_one_range (scan, "cam2", t + 10000, T0, T0 + 10);
    sf_dvr_scan_destroy (&scan);
    scan = sf_dvr_scan_new (s_root, "{name}-{s}-%Y%m%d-%H%M%S.flv", err, sizeof err);
    assert_non_null (scan);
    s_one_range (scan, "cam3", t + 20000, T0, T0 + 20);
    sf_dvr_scan_destroy (&scan);
    assert_null (sf_dvr_scan_new (s_root, "{name}-%Q.flv", err, sizeof err));
    assert_non_null (strstr (err, "%Q"));
    unsetenv ("TZ");
    tzset ();
}

//  The view holds about what it read: 200 stream directories of ten chunks
//  each keep their chunks and names, not the growth steps' slack (64 chunks
//  and 4 KiB of names each, 8 KiB a directory, before: 16 MiB at 2,000)
static void
test_memory_fits_what_was_read (void **state)
{
    int64_t t = T0 * 1000;
    char rel [64];
    for (int d = 0; d < 200; d++) {
        snprintf (rel, sizeof rel, "cam%03d", d);
        s_mkdir (rel);
        for (int i = 0; i < 10; i++) {
            snprintf (rel, sizeof rel, "cam%03d/%lld.ts", d, (long long) (t + i * 2000));
            s_chunk (rel, 10, t + i * 2000 + 2000);
        }
    }
    char err [256];
    sf_dvr_scan_t *scan = sf_dvr_scan_new (s_root, NULL, err, sizeof err);
    assert_int_equal (sf_dvr_scan_update (scan, t + 30000, err, sizeof err), 0);
    sf_dvr_scan_stats_t st;
    sf_dvr_scan_stats (scan, &st);
    assert_int_equal (st.chunks, 2000);
    assert_int_equal (st.streams, 200);
    //  Per directory: 18 chunks of 64 bytes and 10 names of 18 bytes, with room
    assert_true (st.chunk_bytes <= 200 * 1600);
    sf_dvr_t dvr = { 0 };
    assert_int_equal (sf_dvr_scan_fill (scan, "cam123", &dvr), 1);
    assert_int_equal (dvr.nranges, 1);
    free (dvr.ranges);
    free (dvr.records_path);
    sf_dvr_scan_destroy (&scan);
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_pattern_validation),
        cmocka_unit_test_setup_teardown (test_sequential_names_are_not_1970, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_hls_ranges_merge, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_gap_boundary, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_incremental_inotify, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_incremental_mtime, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_inotify_matches_fresh_scan, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_flat_pattern, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_date_tree_with_duration, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_missing_root, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sequential_mtimes_inotify, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sequential_mtimes_mtime, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sequential_program_date_time, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_sequential_pause_is_a_gap, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_record_flv_default_suffix, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_record_unique_and_strftime, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_memory_fits_what_was_read, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

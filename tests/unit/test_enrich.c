/*  test_enrich.c — what the agent adds to a source's state: DVR from the
    records directory (and archived-only streams, as suspend), overrides,
    node info and usage; and that bad configuration is refused at start with
    the option or file named.
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
#include <unistd.h>
#include "sf_enrich.h"
#include "sf_log.h"

static char s_root [64];

static void
s_file (const char *rel, const char *text, int64_t mtime_ms)
{
    char path [512];
    snprintf (path, sizeof path, "%s/%s", s_root, rel);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true (fd >= 0);
    assert_true (write (fd, text, strlen (text)) == (ssize_t) strlen (text));
    if (mtime_ms) {
        struct timespec t [2] = {
            { .tv_sec = mtime_ms / 1000, .tv_nsec = (mtime_ms % 1000) * 1000000 },
            { .tv_sec = mtime_ms / 1000, .tv_nsec = (mtime_ms % 1000) * 1000000 },
        };
        futimens (fd, t);
    }
    close (fd);
}

static void
s_config (sf_agent_config_t *cfg)
{
    memset (cfg, 0, sizeof (*cfg));
    snprintf (cfg->node, sizeof cfg->node, "edge-1");
    snprintf (cfg->addr_external, sizeof cfg->addr_external, "edge-1.example.net");
    snprintf (cfg->group, sizeof cfg->group, "public");
    cfg->max_in_kbps = 100000;
    snprintf (cfg->hls_template, sizeof cfg->hls_template, "http://{host}/hls/{name}/index.m3u8");
    snprintf (cfg->disks, sizeof cfg->disks, "/");
    snprintf (cfg->records_path, sizeof cfg->records_path, "%s/dvr", s_root);
    snprintf (cfg->overrides, sizeof cfg->overrides, "%s/overrides.ini", s_root);
}

static int
s_setup (void **state)
{
    snprintf (s_root, sizeof s_root, "/tmp/sf-enrich-test.XXXXXX");
    assert_non_null (mkdtemp (s_root));
    char path [300];
    snprintf (path, sizeof path, "%s/dvr", s_root);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/dvr/cam1", s_root);
    mkdir (path, 0755);
    snprintf (path, sizeof path, "%s/dvr/cam9", s_root);
    mkdir (path, 0755);
    s_file ("dvr/cam1/1700000000000.ts", "x", 1700000002000);
    s_file ("dvr/cam1/1700000002000.ts", "x", 1700000004000);
    s_file ("dvr/cam9/1700000000000.ts", "x", 1700000002000);
    s_file ("overrides.ini", "[*]\ntype = secondary\n[cam1]\nplayback_uuid = u-1\n", 0);
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
test_apply (void **state)
{
    static sf_agent_config_t cfg;
    s_config (&cfg);
    char err [256];
    sf_enrich_t *e = sf_enrich_new (&cfg, NULL, err, sizeof err);
    assert_non_null (e);
    sf_streamset_t set;
    sf_streamset_init (&set);
    sf_stream_t *live = sf_streamset_add (&set, "cam1");
    live->status = SF_STATUS_ACTIVE;
    sf_streamset_add (&set, "cam2");
    sf_enrich_apply (e, &set, true);
    assert_int_equal (set.count, 3);
    sf_stream_t *cam1 = sf_streamset_find (&set, "cam1");
    sf_stream_t *cam2 = sf_streamset_find (&set, "cam2");
    sf_stream_t *cam9 = sf_streamset_find (&set, "cam9");
    assert_non_null (cam9);
    //  DVR from disk: one merged range of 4 s
    assert_true (cam1->functions & SF_FN_DVR);
    assert_int_equal (cam1->dvr.nranges, 1);
    assert_int_equal (cam1->dvr.ranges [0].from, 1700000000);
    assert_int_equal (cam1->dvr.ranges [0].to, 1700000004);
    assert_false (cam2->functions & SF_FN_DVR);
    //  Archived only: reported, suspended, with its archive
    assert_int_equal (cam9->status, SF_STATUS_SUSPEND);
    assert_true (cam9->functions & SF_FN_DVR);
    assert_int_equal (cam1->status, SF_STATUS_ACTIVE);
    //  Overrides reach every stream, the archived one too
    assert_int_equal (cam1->type, SF_TYPE_SECONDARY);
    assert_int_equal (cam9->type, SF_TYPE_SECONDARY);
    assert_string_equal (cam1->playback_uuid, "u-1");
    assert_string_equal (cam2->playback_uuid, "");
    //  Node info and usage
    assert_true (set.has_node);
    assert_string_equal (set.node.id, "edge-1");
    assert_string_equal (set.node.addr_external, "edge-1.example.net");
    assert_string_equal (set.node.group, "public");
    assert_int_equal (set.node.max_in_kbps, 100000);
    assert_string_equal (set.node.hls_template, "http://{host}/hls/{name}/index.m3u8");
    assert_int_equal (set.node.ndisks, 1);
    assert_true (set.node.mem_total_bytes > 0);
    sf_streamset_clear (&set);

    //  Without add_archived (a source that knows its own streams) cam9 is
    //  not invented
    sf_streamset_init (&set);
    sf_streamset_add (&set, "cam1");
    sf_enrich_apply (e, &set, false);
    assert_int_equal (set.count, 1);
    sf_streamset_clear (&set);
    sf_enrich_destroy (&e);
    sf_enrich_destroy (&e);
    assert_null (e);
}

//  A source's own ranges win over the directory's
static void
test_source_ranges_win (void **state)
{
    static sf_agent_config_t cfg;
    s_config (&cfg);
    char err [256];
    sf_enrich_t *e = sf_enrich_new (&cfg, NULL, err, sizeof err);
    sf_streamset_t set;
    sf_streamset_init (&set);
    sf_stream_t *cam1 = sf_streamset_add (&set, "cam1");
    sf_dvr_add_range (&cam1->dvr, 100, 200);
    sf_enrich_apply (e, &set, false);
    assert_int_equal (set.items [0].dvr.nranges, 1);
    assert_int_equal (set.items [0].dvr.ranges [0].from, 100);
    sf_streamset_clear (&set);
    sf_enrich_destroy (&e);
}

static void
test_bad_config_refused (void **state)
{
    static sf_agent_config_t cfg;
    s_config (&cfg);
    char err [256];
    snprintf (cfg.record_pattern, sizeof cfg.record_pattern, "{name}/{when}.ts");
    assert_null (sf_enrich_new (&cfg, NULL, err, sizeof err));
    assert_non_null (strstr (err, "record pattern"));
    s_config (&cfg);
    snprintf (cfg.overrides, sizeof cfg.overrides, "%s/missing.ini", s_root);
    assert_null (sf_enrich_new (&cfg, NULL, err, sizeof err));
    assert_non_null (strstr (err, "missing.ini"));
    s_config (&cfg);
    s_file ("overrides.ini", "[cam1]\nflavour = mint\n", 0);
    assert_null (sf_enrich_new (&cfg, NULL, err, sizeof err));
    assert_non_null (strstr (err, "line 2"));
    //  Nothing configured: still node info and usage
    memset (&cfg, 0, sizeof cfg);
    sf_enrich_t *e = sf_enrich_new (&cfg, NULL, err, sizeof err);
    assert_non_null (e);
    sf_streamset_t set;
    sf_streamset_init (&set);
    sf_enrich_apply (e, &set, true);
    assert_true (set.has_node);
    assert_int_equal (set.node.ndisks, 1);
    sf_streamset_clear (&set);
    sf_enrich_destroy (&e);
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test_setup_teardown (test_apply, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_source_ranges_win, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bad_config_refused, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

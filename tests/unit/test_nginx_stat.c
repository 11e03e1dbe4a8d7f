/*  test_nginx_stat.c — the nginx-rtmp adapter: stat page parsing, the mapping
    to stream records, and how a poll fails (HTTP errors, hangs, not XML).
    The fixture tests/fixtures/nginx/stat_two_streams.xml was captured from
    nginx 1.22.1 with nginx-rtmp 1.1.4: cam1 with audio and one viewer, cam2
    video only.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixture_http.h"
#include "sf_agent.h"
#include "sf_log.h"
#include "sf_nginx_stat.h"

static void
test_parse_fixture (void **state)
{
    char *xml = fx_file ("nginx/stat_two_streams.xml");
    assert_non_null (xml);
    sf_nginx_stat_t stat = { 0 };
    char err [256];
    assert_int_equal (sf_nginx_stat_parse (xml, strlen (xml), "", &stat, err, sizeof err), 0);
    assert_int_equal (stat.count, 2);
    assert_string_equal (stat.version, "nginx/1.22.1 nginx-rtmp/1.1.4");
    assert_int_equal (stat.uptime_s, 11);
    sf_nginx_stream_t *cam1 = &stat.streams [0], *cam2 = &stat.streams [1];
    assert_string_equal (cam1->name, "cam1");
    assert_string_equal (cam1->app, "live");
    assert_int_equal (cam1->time_ms, 10773);
    assert_int_equal (cam1->bw_in, 407048);
    assert_int_equal (cam1->bytes_in, 510630);
    assert_int_equal (cam1->nclients, 2);
    assert_true (cam1->publishing);
    assert_true (cam1->active);
    assert_true (cam1->has_audio);
    assert_string_equal (cam1->media.vcodec, "H264");
    assert_string_equal (cam1->media.acodec, "AAC");
    assert_int_equal (cam1->media.width, 320);
    assert_int_equal (cam1->media.height, 240);
    assert_true (cam1->media.fps > 24.9 && cam1->media.fps < 25.1);
    assert_string_equal (cam1->publisher, "127.0.0.1");
    //  An empty <audio></audio> means no audio track
    assert_string_equal (cam2->name, "cam2");
    assert_false (cam2->has_audio);
    assert_string_equal (cam2->media.acodec, "");
    assert_int_equal (cam2->nclients, 1);
    sf_nginx_stat_clear (&stat);
    free (xml);
}

static void
test_app_filter (void **state)
{
    char *xml = fx_file ("nginx/stat_two_streams.xml");
    sf_nginx_stat_t stat = { 0 };
    char err [256];
    assert_int_equal (sf_nginx_stat_parse (xml, strlen (xml), "live", &stat, err, sizeof err), 0);
    assert_int_equal (stat.count, 2);
    sf_nginx_stat_clear (&stat);
    assert_int_equal (sf_nginx_stat_parse (xml, strlen (xml), "other", &stat, err, sizeof err), 0);
    assert_int_equal (stat.count, 0);
    sf_nginx_stat_clear (&stat);
    free (xml);
}

static void
test_parse_rejects (void **state)
{
    sf_nginx_stat_t stat = { 0 };
    char err [256];
    const char *html = "<html><body>Welcome to nginx!</body></html>";
    assert_int_equal (sf_nginx_stat_parse (html, strlen (html), "", &stat, err, sizeof err), -1);
    assert_non_null (strstr (err, "not an nginx-rtmp stat page"));
    const char *broken = "<rtmp><server><application><name>live</name><live><stream><name>x";
    assert_int_equal (sf_nginx_stat_parse (broken, strlen (broken), "", &stat, err, sizeof err), -1);
    assert_non_null (strstr (err, "not valid XML"));
    assert_int_equal (sf_nginx_stat_parse ("", 0, "", &stat, err, sizeof err), -1);
    const char *json = "{\"streams\": []}";
    assert_int_equal (sf_nginx_stat_parse (json, strlen (json), "", &stat, err, sizeof err), -1);
    assert_null (stat.streams);
}

//  The streaming parse hands over exactly what the array parse stores, in
//  page order, and stores nothing itself (the adapter keeps no copy of the
//  page's streams)
typedef struct {
    sf_nginx_stream_t streams [4];
    size_t count;
} s_each_t;

static void
s_each (const sf_nginx_stream_t *stream, void *arg)
{
    s_each_t *each = arg;
    if (each->count < 4)
        each->streams [each->count] = *stream;
    each->count++;
}

static void
test_parse_each (void **state)
{
    char *xml = fx_file ("nginx/stat_two_streams.xml");
    assert_non_null (xml);
    sf_nginx_stat_t stat = { 0 }, streamed = { 0 };
    char err [256];
    assert_int_equal (sf_nginx_stat_parse (xml, strlen (xml), "", &stat, err, sizeof err), 0);
    s_each_t each = { .count = 0 };
    memset (&each, 0, sizeof each);
    assert_int_equal (sf_nginx_stat_parse_each (xml, strlen (xml), "", s_each, &each,
                                                &streamed, err, sizeof err), 0);
    assert_int_equal (each.count, 2);
    assert_int_equal (streamed.count, 2);
    assert_null (streamed.streams);
    assert_string_equal (streamed.version, stat.version);
    assert_int_equal (streamed.uptime_s, stat.uptime_s);
    for (size_t i = 0; i < 2; i++)
        assert_memory_equal (&each.streams [i], &stat.streams [i], sizeof (sf_nginx_stream_t));
    //  The application filter applies before the hand-over
    memset (&each, 0, sizeof each);
    assert_int_equal (sf_nginx_stat_parse_each (xml, strlen (xml), "other", s_each, &each,
                                                &streamed, err, sizeof err), 0);
    assert_int_equal (each.count, 0);
    //  Not a stat page: -1, as the array parse
    const char *html = "<html><body>Welcome to nginx!</body></html>";
    assert_int_equal (sf_nginx_stat_parse_each (html, strlen (html), "", s_each, &each,
                                                &streamed, err, sizeof err), -1);
    assert_non_null (strstr (err, "not an nginx-rtmp stat page"));
    sf_nginx_stat_clear (&stat);
    sf_nginx_stat_clear (&streamed);
    free (xml);
}

//  A stat page with one stream whose counters the test sets
static char *
s_page (const char *name, uint64_t bw_in, uint64_t bytes_in, int nclients, bool publishing,
        int64_t time_ms)
{
    char *buf = malloc (2048);
    snprintf (buf, 2048,
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><rtmp><nginx_version>1.22.1</nginx_version>"
        "<nginx_rtmp_version>1.1.4</nginx_rtmp_version><uptime>100</uptime><server><application>"
        "<name>live</name><live><stream><name>%s</name><time>%lld</time><bw_in>%llu</bw_in>"
        "<bytes_in>%llu</bytes_in><meta><video><codec>H264</codec></video><audio></audio></meta>"
        "<nclients>%d</nclients>%s</stream></live></application></server></rtmp>",
        name, (long long) time_ms, (unsigned long long) bw_in, (unsigned long long) bytes_in,
        nclients, publishing ? "<publishing/><active/>" : "");
    return buf;
}

//  Polls go through the agent's source runner, as in the daemon: the
//  adapter, then enrichment (node info, usage) after it
typedef struct {
    fx_http_t *fx;
    sf_agent_config_t cfg;
    sf_source_t *src;
} s_ctx_t;

static int
s_setup (void **state)
{
    s_ctx_t *ctx = calloc (1, sizeof (s_ctx_t));
    ctx->fx = fx_start ();
    assert_non_null (ctx->fx);
    sf_config_defaults (sf_agent_options (), &ctx->cfg);
    snprintf (ctx->cfg.node, sizeof ctx->cfg.node, "n1");
    snprintf (ctx->cfg.source, sizeof ctx->cfg.source, "nginx-rtmp");
    sf_nginx_config_t *ncfg = sf_agent_source_config (&ctx->cfg, &sf_source_nginx);
    assert_non_null (ncfg);
    snprintf (ncfg->stat_url, sizeof ncfg->stat_url, "http://127.0.0.1:%d/stat", ctx->fx->port);
    ctx->cfg.http_timeout_ms = 300;
    snprintf (ctx->cfg.disks, sizeof ctx->cfg.disks, "/");
    char err [256];
    ctx->src = sf_source_new (&ctx->cfg, err, sizeof err);
    assert_non_null (ctx->src);
    *state = ctx;
    return 0;
}

static int
s_teardown (void **state)
{
    s_ctx_t *ctx = *state;
    sf_source_destroy (&ctx->src);
    assert_null (ctx->src);
    fx_stop (&ctx->fx);
    free (ctx);
    return 0;
}

static int
s_poll (s_ctx_t *ctx, sf_streamset_t *set)
{
    sf_streamset_clear (set);
    return sf_source_poll (ctx->src, set);
}

static void
test_poll_maps_records (void **state)
{
    s_ctx_t *ctx = *state;
    char *xml = fx_file ("nginx/stat_two_streams.xml");
    fx_route (ctx->fx, "/stat", xml);
    free (xml);
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_int_equal (set.count, 2);
    sf_stream_t *cam1 = sf_streamset_find (&set, "cam1");
    sf_stream_t *cam2 = sf_streamset_find (&set, "cam2");
    assert_non_null (cam1);
    assert_non_null (cam2);
    assert_int_equal (cam1->status, SF_STATUS_ACTIVE);
    assert_int_equal (cam1->type, SF_TYPE_PRIMARY);
    //  nclients counts the publisher
    assert_int_equal (cam1->clients, 1);
    assert_int_equal (cam2->clients, 0);
    assert_true (cam1->functions & SF_FN_AUDIO);
    assert_false (cam2->functions & SF_FN_AUDIO);
    int64_t now = sf_now_ms () / 1000;
    assert_true (cam1->started_at >= now - 13 && cam1->started_at <= now - 9);
    //  bw_in is bit/s
    assert_int_equal (cam1->bitrate_kbps, 407);
    assert_true (set.has_node);
    assert_string_equal (set.node.id, "n1");
    assert_string_equal (set.node.software_version, "nginx/1.22.1 nginx-rtmp/1.1.4");
    assert_int_equal (set.node.ndisks, 1);
    sf_streamset_clear (&set);
}

//  bw_in stays 0 for nginx's first ~10 s: the bytes_in delta stands in
static void
test_bitrate_fallback (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    char *page = s_page ("cam", 0, 1000000, 1, true, 5000);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_int_equal (set.items [0].bitrate_kbps, 0);
    usleep (200 * 1000);
    page = s_page ("cam", 0, 1000000 + 25000, 1, true, 5200);     //  25 kB in ~200 ms
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    uint32_t kbps = set.items [0].bitrate_kbps;
    assert_true (kbps > 500 && kbps < 1100);
    //  Once nginx reports bw_in, it wins
    page = s_page ("cam", 512000, 1000000 + 50000, 1, true, 5400);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_int_equal (set.items [0].bitrate_kbps, 512);
    sf_streamset_clear (&set);
}

//  started_at must not wobble with the poll's timing, or every poll is a change
static void
test_uptime_steady (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    char *page = s_page ("cam", 300000, 1, 1, true, 60000);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    int64_t started = set.items [0].started_at;
    usleep (600 * 1000);                //  nginx's time moves less than ours
    page = s_page ("cam", 300000, 2, 1, true, 60000 + 1400);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_int_equal (set.items [0].started_at, started);
    //  A restart (time back to 0) is a new start
    page = s_page ("cam", 300000, 3, 1, true, 100);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_true (set.items [0].started_at > started + 50);
    sf_streamset_clear (&set);
}

//  <time> is the stream's age in ms: the start is known to the ms
//  (started_at_ms = now - time, less the fetch's latency), held steady like
//  started_at (its rounded second), new on a restart, 0 once stopped
static void
test_start_to_the_millisecond (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    char *page = s_page ("cam", 300000, 1, 1, true, 61234);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    int64_t before = sf_now_ms ();
    assert_int_equal (s_poll (ctx, &set), 0);
    int64_t after = sf_now_ms ();
    int64_t started_ms = set.items [0].started_at_ms;
    //  The poll reads its clock after the page came: at most the fetch's
    //  time later than nginx's moment
    assert_true (started_ms >= before - 61234 && started_ms <= after - 61234);
    assert_int_equal (set.items [0].started_at, (started_ms + 500) / 1000);
    usleep (300 * 1000);
    page = s_page ("cam", 300000, 2, 1, true, 61234 + 250);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_int_equal (set.items [0].started_at_ms, started_ms);
    //  A restart: time back near 0
    page = s_page ("cam", 300000, 3, 1, true, 40);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    before = sf_now_ms ();
    assert_int_equal (s_poll (ctx, &set), 0);
    after = sf_now_ms ();
    assert_true (set.items [0].started_at_ms >= before - 40 && set.items [0].started_at_ms <= after - 40);
    //  Stopped (not publishing): no start
    page = s_page ("cam", 0, 4, 0, false, 0);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_int_equal (set.items [0].status, SF_STATUS_SUSPEND);
    assert_int_equal (set.items [0].started_at_ms, 0);
    sf_streamset_clear (&set);
}

//  A name in two applications is one stream, the first application's; names
//  new in a poll are found again by the next (the adapter's memory is sorted
//  at the end of each poll, its new names looked up before that)
static void
test_duplicate_names (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    const char *page =
        "<rtmp><server>"
        "<application><name>live</name><live>"
        "<stream><name>zed</name><time>1000</time><bw_in>0</bw_in><bytes_in>1000</bytes_in>"
        "<nclients>1</nclients><publishing/><active/></stream>"
        "<stream><name>cam</name><time>1000</time><bw_in>800000</bw_in><bytes_in>1</bytes_in>"
        "<nclients>3</nclients><publishing/><active/></stream>"
        "</live></application>"
        "<application><name>other</name><live>"
        "<stream><name>cam</name><time>1000</time><bw_in>100000</bw_in><bytes_in>1</bytes_in>"
        "<nclients>1</nclients></stream>"
        "</live></application></server></rtmp>";
    for (int poll = 0; poll < 2; poll++) {
        fx_route (ctx->fx, "/stat", page);
        assert_int_equal (s_poll (ctx, &set), 0);
        size_t cams = 0, zeds = 0;
        for (size_t i = 0; i < set.count; i++) {
            const sf_stream_t *s = &set.items [i];
            if (!strcmp (s->name, "cam")) {
                cams++;
                assert_int_equal (s->status, SF_STATUS_ACTIVE);
                assert_int_equal (s->bitrate_kbps, 800);
                assert_int_equal (s->clients, 2);
                assert_non_null (strstr (s->rtmp_template, "/live/"));
            }
            else
            if (!strcmp (s->name, "zed"))
                zeds++;
        }
        assert_int_equal (cams, 1);
        assert_int_equal (zeds, 1);
    }
    sf_streamset_clear (&set);
}

//  A page larger than libcurl's pieces (16 KiB) is parsed as it arrives:
//  every stream of it, each mapped once, in page order
static void
test_large_page_streamed (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    size_t size = 600 * 400 + 512, used = 0;
    char *page = malloc (size);
    used += (size_t) snprintf (page + used, size - used,
        "<?xml version=\"1.0\" encoding=\"utf-8\" ?><rtmp><nginx_version>1.22.1</nginx_version>"
        "<nginx_rtmp_version>1.1.4</nginx_rtmp_version><uptime>100</uptime><server><application>"
        "<name>live</name><live>");
    for (int i = 0; i < 600; i++)
        used += (size_t) snprintf (page + used, size - used,
            "<stream><name>cam%05d</name><time>5000</time><bw_in>%d</bw_in><bytes_in>1</bytes_in>"
            "<client><id>%d</id><address>10.0.0.%d</address><publishing/><active/></client>"
            "<meta><video><width>1920</width><height>1080</height><codec>H264</codec></video>"
            "<audio><codec>AAC</codec></audio></meta><nclients>%d</nclients><publishing/><active/>"
            "</stream>", i, 1000 * (i + 1), i, i % 250, 1 + i % 5);
    snprintf (page + used, size - used, "</live></application></server></rtmp>");
    assert_true (strlen (page) > 5 * 16384);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    size_t found = 0;
    for (size_t i = 0; i < set.count; i++) {
        const sf_stream_t *s = &set.items [i];
        int n;
        if (sscanf (s->name, "cam%05d", &n) != 1)
            continue;
        assert_int_equal (i, found);
        assert_int_equal (n, (int) found);
        assert_int_equal (s->bitrate_kbps, n + 1);
        assert_int_equal (s->clients, n % 5);
        assert_int_equal (s->media.width, 1920);
        assert_true (s->functions & SF_FN_AUDIO);
        found++;
    }
    assert_int_equal (found, 600);
    sf_streamset_clear (&set);
}

//  A publisher that stops: its stream stays listed, suspended, with no
//  clients, bitrate or uptime
static void
test_stopped_stream_suspends (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    char *xml = fx_file ("nginx/stat_two_streams.xml");
    fx_route (ctx->fx, "/stat", xml);
    free (xml);
    assert_int_equal (s_poll (ctx, &set), 0);
    char *page = s_page ("cam1", 300000, 1, 2, true, 9000);
    fx_route (ctx->fx, "/stat", page);
    free (page);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_int_equal (set.count, 2);
    sf_stream_t *cam2 = sf_streamset_find (&set, "cam2");
    assert_non_null (cam2);
    assert_int_equal (cam2->status, SF_STATUS_SUSPEND);
    assert_int_equal (cam2->clients, 0);
    assert_int_equal (cam2->bitrate_kbps, 0);
    assert_int_equal (cam2->started_at, 0);
    assert_int_equal (sf_streamset_find (&set, "cam1")->status, SF_STATUS_ACTIVE);
    sf_streamset_clear (&set);
}

static void
s_expect_failure (s_ctx_t *ctx, int mode, const char *needle)
{
    sf_streamset_t set;
    sf_streamset_init (&set);
    ctx->fx->mode = mode;
    int64_t t0 = sf_mono_ms ();
    assert_int_equal (s_poll (ctx, &set), -1);
    int64_t took = sf_mono_ms () - t0;
    //  Fails within the HTTP timeout (300 ms) plus scheduling slack
    assert_true (took < 1500);
    if (!strstr (set.error, needle))
        fail_msg ("error \"%s\" lacks \"%s\"", set.error, needle);
    sf_streamset_clear (&set);
    ctx->fx->mode = FX_OK;
}

static void
test_poll_failures (void **state)
{
    s_ctx_t *ctx = *state;
    char *xml = fx_file ("nginx/stat_two_streams.xml");
    fx_route (ctx->fx, "/stat", xml);
    free (xml);
    s_expect_failure (ctx, FX_500, "HTTP 500");
    s_expect_failure (ctx, FX_401, "HTTP 401");
    s_expect_failure (ctx, FX_HANG, "no complete reply within");
    s_expect_failure (ctx, FX_MALFORMED, "not valid XML");
    fx_route (ctx->fx, "/stat", "<rtmp><server><application>");
    s_expect_failure (ctx, FX_OK, "not valid XML");
    //  And it recovers as soon as the page is good again
    xml = fx_file ("nginx/stat_two_streams.xml");
    fx_route (ctx->fx, "/stat", xml);
    free (xml);
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (s_poll (ctx, &set), 0);
    assert_int_equal (set.count, 2);
    sf_streamset_clear (&set);
}

static void
test_refused_connection (void **state)
{
    static sf_agent_config_t cfg;
    sf_nginx_config_t ncfg;
    memset (&cfg, 0, sizeof cfg);
    memset (&ncfg, 0, sizeof ncfg);
    //  Port 9 on loopback: nothing listens there in a test box
    snprintf (ncfg.stat_url, sizeof ncfg.stat_url, "http://127.0.0.1:9/stat");
    cfg.http_timeout_ms = 300;
    char err [256];
    void *src = sf_source_nginx.create (&cfg, &ncfg, err, sizeof err);
    assert_non_null (src);
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (sf_source_nginx.poll (src, &set), -1);
    assert_non_null (strstr (set.error, "127.0.0.1:9"));
    sf_streamset_clear (&set);
    sf_source_nginx.destroy (&src);
    //  No stat URL: refused at creation, with the option named
    memset (&ncfg, 0, sizeof ncfg);
    assert_null (sf_source_nginx.create (&cfg, &ncfg, err, sizeof err));
    assert_non_null (strstr (err, "--stat-url"));
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_parse_fixture),
        cmocka_unit_test (test_app_filter),
        cmocka_unit_test (test_parse_rejects),
        cmocka_unit_test (test_parse_each),
        cmocka_unit_test_setup_teardown (test_poll_maps_records, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_bitrate_fallback, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_uptime_steady, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_start_to_the_millisecond, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_stopped_stream_suspends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_duplicate_names, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_large_page_streamed, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_poll_failures, s_setup, s_teardown),
        cmocka_unit_test (test_refused_connection),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

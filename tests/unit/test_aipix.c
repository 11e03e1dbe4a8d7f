/*  test_aipix.c — the Aipix-style REST adapter: field mapping and units
    (bit/s in, kbit/s out), detail, ranges and server parsing, token modes,
    and how a poll fails: 401, 403, 500, a hang past --http-timeout-ms,
    malformed JSON. Fixtures are in tests/fixtures/aipix/.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixture_http.h"
#include "sf_agent.h"
#include "sf_aipix.h"
#include "sf_log.h"

static void
test_parse_list (void **state)
{
    char *json = fx_file ("aipix/streams.json");
    assert_non_null (json);
    sf_streamset_t set;
    sf_streamset_init (&set);
    char err [256];
    assert_int_equal (sf_aipix_parse_list (json, strlen (json), &set, err, sizeof err), 0);
    //  The item without a name and the non-object are skipped
    assert_int_equal (set.count, 3);
    sf_stream_t *north = sf_streamset_find (&set, "gate-north");
    assert_non_null (north);
    assert_string_equal (north->uid, "a1b2c3");
    assert_int_equal (north->type, SF_TYPE_PRIMARY);
    assert_int_equal (north->status, SF_STATUS_ACTIVE);
    assert_int_equal (north->functions, SF_FN_DVR | SF_FN_AUDIO);
    assert_int_equal (north->bitrate_kbps, 2048);          //  bit/s -> kbit/s
    assert_int_equal (north->clients, 3);
    assert_int_equal (north->reconnect_attempts, 0);
    assert_int_equal (north->reconnect_total, 4);
    assert_int_equal (north->started_at, 1700000000);
    sf_stream_t *south = sf_streamset_find (&set, "gate-south");
    assert_int_equal (south->type, SF_TYPE_SECONDARY);
    assert_int_equal (south->status, SF_STATUS_SUSPEND);
    assert_int_equal (south->functions, 0);
    assert_int_equal (south->reconnect_attempts, 2);
    assert_int_equal (south->reconnect_total, 9);
    assert_int_equal (south->started_at, 0);
    //  Numbers as strings, "running", ISO 8601 times
    sf_stream_t *lobby = sf_streamset_find (&set, "lobby");
    assert_int_equal (lobby->status, SF_STATUS_ACTIVE);
    assert_int_equal (lobby->bitrate_kbps, 512);
    assert_int_equal (lobby->clients, 1);
    assert_true (lobby->functions & SF_FN_DVR);
    assert_int_equal (lobby->started_at, 1700000000);
    sf_streamset_clear (&set);
    free (json);
}

static void
test_parse_list_rejects (void **state)
{
    sf_streamset_t set;
    sf_streamset_init (&set);
    char err [256];
    const char *bad [] = { "", "{", "[1, 2", "{\"streams\": 5}", "\"text\"", "null" };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        assert_int_equal (sf_aipix_parse_list (bad [i], strlen (bad [i]), &set, err, sizeof err), -1);
        assert_int_equal (set.count, 0);
    }
    //  A name listed twice keeps its first entry
    const char *dup = "[{\"stream_name\": \"b\", \"clients_count\": 1}, {\"stream_name\": \"a\"},"
                      " {\"stream_name\": \"b\", \"clients_count\": 2}, {\"stream_name\": \"c\"}]";
    assert_int_equal (sf_aipix_parse_list (dup, strlen (dup), &set, err, sizeof err), 0);
    assert_int_equal (set.count, 3);
    assert_string_equal (set.items [0].name, "b");
    assert_int_equal (set.items [0].clients, 1);
    assert_string_equal (set.items [1].name, "a");
    assert_string_equal (set.items [2].name, "c");
    sf_streamset_clear (&set);
    //  A bare array is fine too
    const char *bare = "[{\"uid\": 7, \"status\": \"error\"}]";
    assert_int_equal (sf_aipix_parse_list (bare, strlen (bare), &set, err, sizeof err), 0);
    assert_int_equal (set.count, 1);
    assert_string_equal (set.items [0].name, "7");
    assert_int_equal (set.items [0].status, SF_STATUS_ERROR);
    sf_streamset_clear (&set);
}

static void
test_parse_detail (void **state)
{
    char *json = fx_file ("aipix/stream_a1b2c3.json");
    sf_stream_t s;
    sf_stream_init (&s);
    char err [256];
    assert_int_equal (sf_aipix_parse_detail (json, strlen (json), &s, err, sizeof err), 0);
    //  A config object is printed as indented JSON, to be copied
    assert_non_null (s.config);
    assert_non_null (strstr (s.config, "\"depth_days\": 7"));
    assert_string_equal (s.config_path, "/etc/mediaserver/streams/gate-north.json");
    assert_string_equal (s.playback_uuid, "4f8a3c2e-9d41-4c55-9a0f-6e2b8d1c7a10");
    assert_string_equal (s.dvr.records_path, "/var/dvr/gate-north");
    assert_int_equal (s.dvr.depth_s, 604800);
    assert_int_equal (s.dvr.chunk_s, 10);
    assert_int_equal (s.dvr.memory_bytes, 52428800);
    assert_int_equal (s.dvr.disk_free_bytes, 987654321000ULL);
    assert_string_equal (s.source_url, "rtsp://10.1.2.3:554/main");
    assert_non_null (strstr (s.source_sdp, "a=rtpmap:96 H264/90000"));
    assert_int_equal (s.ping_ms, 12);
    assert_string_equal (s.media.vcodec, "h264");
    assert_int_equal (s.media.width, 1920);
    assert_string_equal (s.media.acodec, "aac");
    sf_stream_clear (&s);
    free (json);
    //  Wrapped in {"data": ...}, config as text
    json = fx_file ("aipix/stream_778899.json");
    assert_int_equal (sf_aipix_parse_detail (json, strlen (json), &s, err, sizeof err), 0);
    assert_string_equal (s.config, "name lobby\n");
    assert_int_equal (s.dvr.chunk_s, 6);
    assert_null (s.source_sdp);
    sf_stream_clear (&s);
    free (json);
    assert_int_equal (sf_aipix_parse_detail ("[]", 2, &s, err, sizeof err), -1);
    assert_int_equal (sf_aipix_parse_detail ("{x", 2, &s, err, sizeof err), -1);
    assert_non_null (strstr (err, "not JSON"));
}

static void
test_parse_ranges (void **state)
{
    char *json = fx_file ("aipix/ranges_a1b2c3.json");
    sf_dvr_t dvr = { 0 };
    char err [256];
    assert_int_equal (sf_aipix_parse_ranges (json, strlen (json), &dvr, err, sizeof err), 0);
    //  Sorted; 300 and 301 merge (gap <= 1 s); "end" missing uses duration;
    //  a range ending before it starts is dropped
    assert_int_equal (dvr.nranges, 2);
    assert_int_equal (dvr.ranges [0].from, 1700000000);
    assert_int_equal (dvr.ranges [0].to, 1700000400);
    assert_int_equal (dvr.ranges [1].from, 1700000600);
    assert_int_equal (dvr.ranges [1].to, 1700000900);
    free (json);
    //  Milliseconds, bare array
    json = fx_file ("aipix/ranges_778899.json");
    assert_int_equal (sf_aipix_parse_ranges (json, strlen (json), &dvr, err, sizeof err), 0);
    assert_int_equal (dvr.nranges, 1);
    assert_int_equal (dvr.ranges [0].from, 1700000000);
    assert_int_equal (dvr.ranges [0].to, 1700000060);
    free (json);
    free (dvr.ranges);
    dvr.ranges = NULL;
    dvr.nranges = 0;
    assert_int_equal (sf_aipix_parse_ranges ("{\"ranges\": {}}", 14, &dvr, err, sizeof err), -1);
}

//  Issue 13: {"end": 1E98} converted to int64_t overflowed (UBSan); a time
//  beyond int64_t is unknown (0), so the range is dropped
static void
test_huge_times_are_unknown (void **state)
{
    const char *json = "{\"ranges\":[{\"start\":1700000000,\"end\":1E98},{\"start\":1E300,\"end\":1}]}";
    sf_dvr_t dvr = { 0 };
    char err [256];
    assert_int_equal (sf_aipix_parse_ranges (json, strlen (json), &dvr, err, sizeof err), 0);
    assert_int_equal (dvr.nranges, 0);
    free (dvr.ranges);
}

//  Issue 13: a token shorter than "***" grew the text past its buffer
static void
test_redaction_stays_in_its_buffer (void **state)
{
    const char *msg = "HTTP 401 from http://h/api?token=a: denied";
    size_t size = strlen (msg) + 1;
    char *text = malloc (size);
    memcpy (text, msg, size);
    sf_aipix_redact (text, size);
    assert_non_null (strstr (text, "token=***"));
    assert_null (strstr (text, "token=a"));
    free (text);
    char longer [128];
    snprintf (longer, sizeof longer, "GET http://h/?x=1&token=s3cret&y=2 failed");
    sf_aipix_redact (longer, sizeof longer);
    assert_string_equal (longer, "GET http://h/?x=1&token=***&y=2 failed");
}

static void
test_parse_server (void **state)
{
    char *json = fx_file ("aipix/server.json");
    sf_node_t node;
    sf_node_init (&node);
    char err [256];
    assert_int_equal (sf_aipix_parse_server (json, strlen (json), &node, err, sizeof err), 0);
    assert_true (node.cpu_pct > 37.4 && node.cpu_pct < 37.6);
    assert_int_equal (node.mem_used_bytes, 4294967296ULL);
    assert_int_equal (node.mem_total_bytes, 17179869184ULL);
    assert_int_equal (node.ndisks, 2);
    assert_string_equal (node.disks [0].mount, "/var/dvr");
    assert_int_equal (node.disks [0].free_bytes, 987654321000ULL);
    assert_string_equal (node.disks [1].mount, "/");
    assert_int_equal (node.disks [1].total_bytes, 2000);
    free (json);
}

//  --------------------------------------------------------------------------
//  Polls against a local server

typedef struct {
    fx_http_t *fx;
    sf_agent_config_t cfg;
    sf_aipix_config_t acfg;
    void *src;
} s_ctx_t;

static void
s_routes (fx_http_t *fx)
{
    static const char *files [][2] = {
        { "/api/streams/", "aipix/streams.json" },
        { "/api/streams/a1b2c3/", "aipix/stream_a1b2c3.json" },
        { "/api/streams/d4e5f6/", "aipix/stream_d4e5f6.json" },
        { "/api/streams/778899/", "aipix/stream_778899.json" },
        { "/api/streams/a1b2c3/ranges/", "aipix/ranges_a1b2c3.json" },
        { "/api/streams/778899/ranges/", "aipix/ranges_778899.json" },
        { "/api/server/", "aipix/server.json" },
    };
    for (size_t i = 0; i < sizeof files / sizeof files [0]; i++) {
        char *body = fx_file (files [i][1]);
        assert_non_null (body);
        fx_route (fx, files [i][0], body);
        free (body);
    }
}

static s_ctx_t *
s_ctx_new (const char *mode)
{
    s_ctx_t *ctx = calloc (1, sizeof (s_ctx_t));
    ctx->fx = fx_start ();
    assert_non_null (ctx->fx);
    ctx->fx->token = "s3cret";
    s_routes (ctx->fx);
    snprintf (ctx->cfg.node, sizeof ctx->cfg.node, "n1");
    snprintf (ctx->acfg.api_url, sizeof ctx->acfg.api_url, "http://127.0.0.1:%d/", ctx->fx->port);
    snprintf (ctx->acfg.api_token, sizeof ctx->acfg.api_token, "s3cret");
    snprintf (ctx->acfg.api_token_mode, sizeof ctx->acfg.api_token_mode, "%s", mode);
    ctx->cfg.http_timeout_ms = 400;
    char err [256];
    ctx->src = sf_source_aipix.create (&ctx->cfg, &ctx->acfg, err, sizeof err);
    assert_non_null (ctx->src);
    return ctx;
}

static int
s_setup (void **state)
{
    *state = s_ctx_new ("header");
    return 0;
}

static int
s_teardown (void **state)
{
    s_ctx_t *ctx = *state;
    sf_source_aipix.destroy (&ctx->src);
    assert_null (ctx->src);
    fx_stop (&ctx->fx);
    free (ctx);
    return 0;
}

static void
s_check_full_state (sf_streamset_t *set)
{
    assert_int_equal (set->count, 3);
    sf_stream_t *north = sf_streamset_find (set, "gate-north");
    assert_int_equal (north->bitrate_kbps, 2048);
    assert_string_equal (north->source_url, "rtsp://10.1.2.3:554/main");
    assert_non_null (north->source_sdp);
    assert_int_equal (north->dvr.nranges, 2);
    assert_int_equal (north->dvr.depth_s, 604800);
    assert_non_null (strstr (north->config, "gate-north"));
    assert_int_equal (sf_streamset_find (set, "lobby")->dvr.nranges, 1);
    //  No DVR, no ranges asked for
    assert_int_equal (sf_streamset_find (set, "gate-south")->dvr.nranges, 0);
    assert_true (set->has_node);
    assert_int_equal (set->node.ndisks, 2);
    assert_string_equal (set->node.disks [0].mount, "/var/dvr");
}

static void
test_poll_header_token (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (sf_source_aipix.poll (ctx->src, &set), 0);
    s_check_full_state (&set);
    assert_string_equal (ctx->fx->last_auth, "Bearer s3cret");
    assert_string_equal (ctx->fx->last_query_token, "");
    //  A second poll right away asks for the list only: details are cached
    int hits = ctx->fx->hits;
    sf_streamset_clear (&set);
    assert_int_equal (sf_source_aipix.poll (ctx->src, &set), 0);
    assert_int_equal (ctx->fx->hits, hits + 1);
    s_check_full_state (&set);
    sf_streamset_clear (&set);
}

static void
test_poll_query_token (void **state)
{
    s_ctx_t *ctx = s_ctx_new ("query");
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (sf_source_aipix.poll (ctx->src, &set), 0);
    s_check_full_state (&set);
    assert_string_equal (ctx->fx->last_query_token, "s3cret");
    assert_string_equal (ctx->fx->last_auth, "");
    sf_streamset_clear (&set);
    //  A wrong token: 401, and the error never shows the token
    sf_source_aipix.destroy (&ctx->src);
    snprintf (ctx->acfg.api_token, sizeof ctx->acfg.api_token, "wrong-token");
    char err [256];
    ctx->src = sf_source_aipix.create (&ctx->cfg, &ctx->acfg, err, sizeof err);
    assert_int_equal (sf_source_aipix.poll (ctx->src, &set), -1);
    assert_non_null (strstr (set.error, "HTTP 401"));
    assert_null (strstr (set.error, "wrong-token"));
    sf_streamset_clear (&set);
    void *p = ctx;
    s_teardown (&p);
}

static void
s_expect_failure (s_ctx_t *ctx, int mode, const char *needle)
{
    sf_streamset_t set;
    sf_streamset_init (&set);
    ctx->fx->mode = mode;
    int64_t t0 = sf_mono_ms ();
    assert_int_equal (sf_source_aipix.poll (ctx->src, &set), -1);
    int64_t took = sf_mono_ms () - t0;
    if (took > 1500)
        fail_msg ("poll took %lld ms with a 400 ms timeout", (long long) took);
    if (!strstr (set.error, needle))
        fail_msg ("error \"%s\" lacks \"%s\"", set.error, needle);
    sf_streamset_clear (&set);
    ctx->fx->mode = FX_OK;
}

static void
test_poll_failures (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (sf_source_aipix.poll (ctx->src, &set), 0);
    sf_streamset_clear (&set);
    s_expect_failure (ctx, FX_401, "HTTP 401");
    s_expect_failure (ctx, FX_403, "HTTP 403");
    s_expect_failure (ctx, FX_500, "HTTP 500");
    s_expect_failure (ctx, FX_HANG, "no complete reply within");
    s_expect_failure (ctx, FX_MALFORMED, "not JSON");
    //  Fixed: the cached details come back at once
    assert_int_equal (sf_source_aipix.poll (ctx->src, &set), 0);
    s_check_full_state (&set);
    sf_streamset_clear (&set);
}

//  A detail that hangs fails the poll within the one poll deadline
static void
test_detail_hang_bounded (void **state)
{
    s_ctx_t *ctx = *state;
    fx_route (ctx->fx, "/api/streams/a1b2c3/", "{\"config\": ");     //  truncated
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (sf_source_aipix.poll (ctx->src, &set), -1);
    assert_non_null (strstr (set.error, "gate-north"));
    sf_streamset_clear (&set);
}

static void
test_create_checks (void **state)
{
    static sf_agent_config_t cfg;
    sf_aipix_config_t acfg;
    memset (&cfg, 0, sizeof cfg);
    memset (&acfg, 0, sizeof acfg);
    char err [256];
    assert_null (sf_source_aipix.create (&cfg, &acfg, err, sizeof err));
    assert_non_null (strstr (err, "--api-url"));
    snprintf (acfg.api_url, sizeof acfg.api_url, "http://127.0.0.1:9");
    snprintf (acfg.api_token_mode, sizeof acfg.api_token_mode, "cookie");
    assert_null (sf_source_aipix.create (&cfg, &acfg, err, sizeof err));
    assert_non_null (strstr (err, "--api-token-mode"));
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_parse_list),
        cmocka_unit_test (test_parse_list_rejects),
        cmocka_unit_test (test_parse_detail),
        cmocka_unit_test (test_parse_ranges),
        cmocka_unit_test (test_parse_server),
        cmocka_unit_test (test_huge_times_are_unknown),
        cmocka_unit_test (test_redaction_stays_in_its_buffer),
        cmocka_unit_test_setup_teardown (test_poll_header_token, s_setup, s_teardown),
        cmocka_unit_test (test_poll_query_token),
        cmocka_unit_test_setup_teardown (test_poll_failures, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_detail_hang_bounded, s_setup, s_teardown),
        cmocka_unit_test (test_create_checks),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  test_srs.c — the SRS adapter over fixture JSON of the shapes it reads
    (SRS 6 with tcUrl/url, SRS 5 without, SRS 3 with integer ids), and polls
    against a local server: names from vhost/app/name, clients less the
    publisher, uptime from the publisher's alive, a reconnect when
    publish.cid changes, a forgotten stream kept as suspend, SRS's error code.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixture_http.h"
#include "sf_agent.h"
#include "sf_log.h"
#include "sf_srs.h"
#include <time.h>

static void
s_map (const char *fixture, size_t index, sf_stream_t *s, sf_srs_stream_t *x)
{
    char path [256];
    snprintf (path, sizeof path, "tests/fixtures/srs/%s", fixture);
    json_error_t jerr;
    json_t *root = json_load_file (path, 0, &jerr);
    assert_non_null (root);
    json_t *item = json_array_get (json_object_get (root, "streams"), index);
    assert_non_null (item);
    sf_stream_init (s);
    assert_int_equal (sf_srs_stream (item, s, x), 0);
    json_decref (root);
}

static void
test_v6 (void **state)
{
    (void) state;
    sf_stream_t s;
    sf_srs_stream_t x;
    s_map ("streams_v6.json", 0, &s, &x);
    assert_int_equal (s.status, SF_STATUS_ACTIVE);
    assert_int_equal (s.clients, 3);                    //  4 less the publisher
    assert_int_equal (s.bitrate_kbps, 2150);            //  kbps.recv_30s
    assert_true (s.functions & SF_FN_AUDIO);
    assert_string_equal (s.media.vcodec, "H264");
    assert_int_equal (s.media.width, 1920);
    assert_string_equal (s.media.acodec, "AAC");
    assert_string_equal (x.app, "live");
    assert_string_equal (x.stream, "cam1");
    assert_string_equal (x.vhost, "vid-5h1k2c9");
    assert_string_equal (x.publisher, "7k3d5w0a");
    //  No publisher, players remain: listed, suspend, every client a viewer
    s_map ("streams_v6.json", 1, &s, &x);
    assert_int_equal (s.status, SF_STATUS_SUSPEND);
    assert_int_equal (s.clients, 2);
    assert_int_equal (s.bitrate_kbps, 0);
    assert_false (s.functions & SF_FN_AUDIO);           //  audio null
    assert_string_equal (x.publisher, "");
}

static void
test_v5 (void **state)
{
    (void) state;
    sf_stream_t s;
    sf_srs_stream_t x;
    s_map ("streams_v5.json", 0, &s, &x);
    assert_int_equal (s.status, SF_STATUS_ACTIVE);
    assert_int_equal (s.clients, 0);
    assert_int_equal (s.bitrate_kbps, 1024);
    assert_false (s.functions & SF_FN_AUDIO);
    assert_string_equal (s.media.vcodec, "HEVC");
}

static void
test_v3_integer_ids (void **state)
{
    (void) state;
    sf_stream_t s;
    sf_srs_stream_t x;
    s_map ("streams_v3.json", 0, &s, &x);
    assert_string_equal (x.id, "29738");
    assert_string_equal (x.vhost, "29733");
    assert_string_equal (x.publisher, "29740");
    assert_int_equal (s.clients, 2);
    assert_int_equal (s.bitrate_kbps, 800);
}

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
    const char *files [][2] = {
        { "/api/v1/streams/", "srs/streams_v6.json" },
        { "/api/v1/vhosts/", "srs/vhosts.json" },
        { "/api/v1/clients/7k3d5w0a", "srs/client.json" },
    };
    for (size_t i = 0; i < 3; i++) {
        char *body = fx_file (files [i][1]);
        assert_non_null (body);
        fx_route (ctx->fx, files [i][0], body);
        free (body);
    }
    sf_config_defaults (sf_agent_options (), &ctx->cfg);
    snprintf (ctx->cfg.node, sizeof ctx->cfg.node, "n1");
    snprintf (ctx->cfg.source, sizeof ctx->cfg.source, "srs");
    ctx->cfg.http_timeout_ms = 400;
    sf_srs_config_t *c = sf_agent_source_config (&ctx->cfg, &sf_source_srs);
    snprintf (c->url, sizeof c->url, "http://127.0.0.1:%d", ctx->fx->port);
    snprintf (c->user, sizeof c->user, "admin");
    snprintf (c->password, sizeof c->password, "s3cret");
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
    fx_stop (&ctx->fx);
    free (ctx);
    return 0;
}

static void
test_poll (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (sf_source_poll (ctx->src, &set), 0);
    assert_string_equal (ctx->fx->last_auth, "Basic YWRtaW46czNjcmV0");
    assert_int_equal (set.count, 2);
    sf_stream_t *cam1 = sf_streamset_find (&set, "live/cam1");     //  default vhost: app/name
    assert_non_null (cam1);
    assert_int_equal (cam1->clients, 3);
    assert_in_range (cam1->started_at, time (NULL) - 3602, time (NULL) - 3598);
    assert_int_equal (cam1->reconnect_total, 0);
    assert_int_equal (sf_streamset_find (&set, "live/cam2")->status, SF_STATUS_SUSPEND);
    sf_streamset_clear (&set);

    //  Another vhost's stream is named vhost/app/name; cam1 republished
    //  under a new client id: one reconnect; cam2 forgotten by SRS: suspend
    char *body = fx_file ("srs/streams_v6.json");
    char *at = strstr (body, "7k3d5w0a");
    memcpy (at, "9z9z9z9z", 8);
    char *two = strstr (body, "},\n    {\n      \"id\": \"vid-9c2x7e4\"");
    assert_non_null (two);
    strcpy (two, "}]}");
    fx_route (ctx->fx, "/api/v1/streams/", body);
    free (body);
    fx_route (ctx->fx, "/api/v1/clients/9z9z9z9z", "{\"code\": 0, \"client\": {\"alive\": 5}}");
    assert_int_equal (sf_source_poll (ctx->src, &set), 0);
    cam1 = sf_streamset_find (&set, "live/cam1");
    assert_int_equal (cam1->reconnect_total, 1);
    assert_in_range (cam1->started_at, time (NULL) - 7, time (NULL) - 3);
    assert_int_equal (sf_streamset_find (&set, "live/cam2")->status, SF_STATUS_SUSPEND);
    sf_streamset_clear (&set);

    body = fx_file ("srs/streams_v5.json");
    fx_route (ctx->fx, "/api/v1/streams/", body);
    free (body);
    fx_route (ctx->fx, "/api/v1/clients/3p9o8i7u", "{\"code\": 0, \"client\": {\"alive\": 60}}");
    assert_int_equal (sf_source_poll (ctx->src, &set), 0);
    assert_non_null (sf_streamset_find (&set, "cctv.example/cctv/gate"));
    sf_streamset_clear (&set);

    //  SRS's own error code fails the poll; the password never shows
    fx_route (ctx->fx, "/api/v1/streams/", "{\"code\": 1001}");
    assert_int_equal (sf_source_poll (ctx->src, &set), -1);
    assert_non_null (strstr (set.error, "code 1001"));
    sf_streamset_clear (&set);
    ctx->fx->mode = FX_403;
    assert_int_equal (sf_source_poll (ctx->src, &set), -1);
    assert_non_null (strstr (set.error, "HTTP 403"));
    assert_null (strstr (set.error, "s3cret"));
    ctx->fx->mode = FX_OK;
    sf_streamset_clear (&set);
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_v6),
        cmocka_unit_test (test_v5),
        cmocka_unit_test (test_v3_integer_ids),
        cmocka_unit_test_setup_teardown (test_poll, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

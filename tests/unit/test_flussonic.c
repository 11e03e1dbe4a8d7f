/*  test_flussonic.c — the Flussonic adapter over fixture JSON of the
    Streamer API v3 shapes it reads (23.09 and later: status, alive,
    online_clients; before: running, client_count), with its mixed units
    (utc_ms, utc s, ms), dvr_info ranges, inputs' active, and a poll
    against a local server with a bearer token.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixture_http.h"
#include "sf_agent.h"
#include "sf_flussonic.h"
#include "sf_log.h"
#include <time.h>

#define NOW 1764600000

static void
s_map (const char *fixture, size_t index, sf_stream_t *s, sf_flussonic_stream_t *x)
{
    char path [256];
    snprintf (path, sizeof path, "tests/fixtures/flussonic/%s", fixture);
    json_error_t jerr;
    json_t *root = json_load_file (path, 0, &jerr);
    assert_non_null (root);
    json_t *item = json_array_get (json_object_get (root, "streams"), index);
    assert_non_null (item);
    sf_stream_init (s);
    assert_int_equal (sf_flussonic_stream (item, NOW, s, x), 0);
    json_decref (root);
}

static void
test_current (void **state)
{
    (void) state;
    sf_stream_t s;
    sf_flussonic_stream_t x;
    s_map ("streams_v25.json", 0, &s, &x);
    assert_int_equal (s.status, SF_STATUS_ACTIVE);
    assert_int_equal (s.bitrate_kbps, 2200);                //  input_bitrate, kbit/s
    assert_int_equal (s.clients, 5);
    assert_int_equal (s.started_at, 1764590100);            //  utc_ms -> s
    assert_int_equal (s.started_at_ms, 1764590100500LL);    //  utc_ms as it is
    assert_int_equal (s.reconnect_attempts, 2);             //  retry_count
    assert_true (s.functions & SF_FN_AUDIO);
    assert_true (s.functions & SF_FN_DVR);
    assert_string_equal (s.media.vcodec, "h264");
    assert_int_equal (s.media.width, 1920);
    assert_true (s.media.fps > 24.9 && s.media.fps < 25.1);
    assert_string_equal (s.media.acodec, "aac");
    //  dvr_info: utc seconds and seconds
    assert_int_equal (s.dvr.depth_s, 604800);
    assert_int_equal (s.dvr.nranges, 2);
    assert_int_equal (s.dvr.ranges [0].from, 1764000000);
    assert_int_equal (s.dvr.ranges [0].to, 1764300000);
    assert_int_equal (s.dvr.ranges [1].to, 1764590000);
    assert_int_equal (s.dvr.current_from, 1764300100);
    assert_string_equal (s.dvr.records_path, "/storage/gate");
    //  The backup input is in use
    assert_int_equal (x.active_input, 1);
    assert_string_equal (s.source_url, "rtsp://10.1.0.6/backup");
    assert_string_equal (x.source_id, "61893be1-054e-4acc-8d24-8ed92efe6ad0");
    sf_stream_clear (&s);
    //  Running but alive false (no frame for 12 s): error; no audio
    s_map ("streams_v25.json", 1, &s, &x);
    assert_int_equal (s.status, SF_STATUS_ERROR);
    assert_int_equal (s.bitrate_kbps, 0);
    assert_false (s.functions & SF_FN_AUDIO);
    assert_false (s.functions & SF_FN_DVR);
    assert_string_equal (s.source_url, "rtsp://10.1.0.7/main");
    sf_stream_clear (&s);
    //  Waiting with retries: starting; Central's ranges in utc_ms
    s_map ("streams_v25_page2.json", 0, &s, &x);
    assert_int_equal (s.status, SF_STATUS_STARTING);
    assert_int_equal (s.reconnect_attempts, 7);
    assert_int_equal (s.started_at, 0);
    assert_int_equal (s.dvr.nranges, 1);
    assert_int_equal (s.dvr.ranges [0].from, 1764400000);
    assert_int_equal (s.dvr.ranges [0].to, 1764403600);
    sf_stream_clear (&s);
}

static void
test_before_23_09 (void **state)
{
    (void) state;
    sf_stream_t s;
    sf_flussonic_stream_t x;
    s_map ("streams_v21.json", 0, &s, &x);
    assert_int_equal (s.status, SF_STATUS_ACTIVE);          //  running: true
    assert_int_equal (s.clients, 2);                        //  client_count
    assert_int_equal (s.bitrate_kbps, 900);
    assert_int_equal (s.started_at, NOW - 3600);            //  lifetime in ms
    assert_int_equal (s.started_at_ms, 0);                  //  from our second: not to the ms
    assert_true (s.functions & SF_FN_AUDIO);
    assert_int_equal (x.active_input, -1);
    assert_string_equal (s.source_url, "rtmp://10.2.0.1/live/old");
    sf_stream_clear (&s);
    s_map ("streams_v21.json", 1, &s, &x);
    assert_int_equal (s.status, SF_STATUS_SUSPEND);         //  disabled
    sf_stream_clear (&s);
}

static void
test_poll_bearer (void **state)
{
    (void) state;
    fx_http_t *fx = fx_start ();
    fx->token = "api-key-1";
    char *body = fx_file ("flussonic/streams_v21.json");
    fx_route (fx, "/streamer/api/v3/streams", body);
    free (body);
    static sf_agent_config_t cfg;
    sf_config_defaults (sf_agent_options (), &cfg);
    snprintf (cfg.node, sizeof cfg.node, "n1");
    snprintf (cfg.source, sizeof cfg.source, "flussonic");
    cfg.http_timeout_ms = 400;
    sf_flussonic_config_t *c = sf_agent_source_config (&cfg, &sf_source_flussonic);
    snprintf (c->url, sizeof c->url, "http://127.0.0.1:%d", fx->port);
    snprintf (c->token, sizeof c->token, "api-key-1");
    char err [256];
    sf_source_t *src = sf_source_new (&cfg, err, sizeof err);
    assert_non_null (src);
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (sf_source_poll (src, &set), 0);
    assert_string_equal (fx->last_auth, "Bearer api-key-1");
    assert_int_equal (set.count, 2);
    assert_string_equal (set.node.hls_dvr_template, "http://{host}/{name}/index-{from}-{duration}.m3u8");
    sf_streamset_clear (&set);
    //  A removed stream leaves the list and the set
    fx_route (fx, "/streamer/api/v3/streams", "{\"streams\": [{\"name\": \"old-cam\", \"stats\": {\"running\": true}}], \"next\": null}");
    assert_int_equal (sf_source_poll (src, &set), 0);
    assert_int_equal (set.count, 1);
    sf_streamset_clear (&set);
    fx_route (fx, "/streamer/api/v3/streams", "[]");
    assert_int_equal (sf_source_poll (src, &set), -1);
    assert_non_null (strstr (set.error, "no \"streams\""));
    sf_streamset_clear (&set);
    fx->mode = FX_401;
    assert_int_equal (sf_source_poll (src, &set), -1);
    assert_null (strstr (set.error, "api-key-1"));
    sf_streamset_clear (&set);
    sf_source_destroy (&src);
    fx_stop (&fx);
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_current),
        cmocka_unit_test (test_before_23_09),
        cmocka_unit_test (test_poll_bearer),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  test_mediamtx.c — the MediaMTX adapter over fixture JSON of every
    Control API v3 shape it reads (v1.2 before itemCount, v1.15 ready/tracks,
    v1.16 available/online, v1.17 tracks2/inboundBytes), the playback
    server's /list, and polls against a local server: basic auth, bitrate
    from byte deltas, reconnects from a new publishing session, a stopped
    path kept as suspend, failures that fail the poll.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixture_http.h"
#include "sf_agent.h"
#include "sf_log.h"
#include "sf_mediamtx.h"
#include <time.h>

typedef struct {
    sf_stream_t stream;
    sf_mediamtx_path_t x;
} s_item_t;

//  Maps item i of a fixture paths list
static void
s_map (const char *fixture, size_t index, s_item_t *out)
{
    char path [256];
    snprintf (path, sizeof path, "tests/fixtures/mediamtx/%s", fixture);
    json_error_t jerr;
    json_t *root = json_load_file (path, 0, &jerr);
    assert_non_null (root);
    json_t *item = json_array_get (json_object_get (root, "items"), index);
    assert_non_null (item);
    sf_stream_init (&out->stream);
    assert_int_equal (sf_mediamtx_path (item, &out->stream, &out->x), 0);
    json_decref (root);
}

static void
test_v1_2 (void **state)
{
    (void) state;
    s_item_t it;
    s_map ("paths_v1.2.json", 0, &it);
    assert_string_equal (it.stream.name, "cam-old");
    assert_int_equal (it.stream.status, SF_STATUS_ACTIVE);
    assert_int_equal (it.stream.started_at, 1697788800);        //  readyTime, fraction dropped
    assert_int_equal (it.stream.started_at_ms, 1697788800123LL); //  ... but for the ms
    assert_int_equal (it.stream.clients, 0);
    assert_false (it.stream.functions & SF_FN_AUDIO);
    assert_string_equal (it.stream.media.vcodec, "H264");
    assert_int_equal (it.x.inbound_bytes, 1000000);             //  bytesReceived
    assert_string_equal (it.x.source_type, "rtmpConn");
    sf_stream_clear (&it.stream);
}

static void
test_v1_15 (void **state)
{
    (void) state;
    s_item_t it;
    s_map ("paths_v1.15.json", 0, &it);
    assert_int_equal (it.stream.status, SF_STATUS_ACTIVE);
    assert_int_equal (it.stream.started_at, 1762070400);        //  10:00+02:00 = 08:00Z
    assert_int_equal (it.stream.started_at_ms, 1762070400000LL);
    assert_int_equal (it.stream.clients, 2);
    assert_true (it.stream.functions & SF_FN_AUDIO);            //  "MPEG-4 Audio"
    assert_string_equal (it.stream.media.acodec, "MPEG-4 Audio");
    assert_int_equal (it.x.inbound_bytes, 52428800);
    assert_string_equal (it.x.source_type, "rtspSession");
    assert_string_equal (it.x.source_id, "2d1e6a4b-7b0c-4ac1-8c11-5e9f3f0a6b01");
    sf_stream_clear (&it.stream);
    //  A pulled source not ready yet: starting; no source at all: suspend
    s_map ("paths_v1.15.json", 1, &it);
    assert_int_equal (it.stream.status, SF_STATUS_STARTING);
    assert_int_equal (it.stream.started_at, 0);
    sf_stream_clear (&it.stream);
    s_map ("paths_v1.15.json", 2, &it);
    assert_int_equal (it.stream.status, SF_STATUS_SUSPEND);
    sf_stream_clear (&it.stream);
}

static void
test_v1_16 (void **state)
{
    (void) state;
    s_item_t it;
    s_map ("paths_v1.16.json", 0, &it);
    assert_int_equal (it.stream.status, SF_STATUS_ACTIVE);
    assert_int_equal (it.stream.started_at, 1768478405);        //  onlineTime, not readyTime
    assert_int_equal (it.stream.started_at_ms, 1768478405000LL);
    assert_true (it.stream.functions & SF_FN_AUDIO);            //  Opus
    assert_string_equal (it.stream.media.vcodec, "H265");
    assert_int_equal (it.stream.clients, 1);
    sf_stream_clear (&it.stream);
    //  Available but not online (the offline filler plays): ready stays
    //  true for old clients, but the camera is gone
    s_map ("paths_v1.16.json", 1, &it);
    assert_int_equal (it.stream.status, SF_STATUS_ERROR);
    assert_int_equal (it.stream.started_at, 0);
    assert_int_equal (it.stream.clients, 2);
    sf_stream_clear (&it.stream);
}

static void
test_v1_17 (void **state)
{
    (void) state;
    s_item_t it;
    s_map ("paths_v1.17.json", 0, &it);
    assert_string_equal (it.stream.name, "north/cam1");
    assert_int_equal (it.stream.status, SF_STATUS_ACTIVE);
    assert_int_equal (it.stream.clients, 3);
    assert_true (it.stream.functions & SF_FN_AUDIO);            //  G711 in tracks2
    assert_string_equal (it.stream.media.vcodec, "H264");
    assert_int_equal (it.stream.media.width, 1920);
    assert_int_equal (it.stream.media.height, 1080);
    assert_string_equal (it.stream.media.acodec, "G711");
    assert_int_equal (it.x.inbound_bytes, 7340032);             //  inboundBytes
    assert_string_equal (it.x.conf_name, "~^north/");
    sf_stream_clear (&it.stream);
}

static void
test_playback_ranges (void **state)
{
    (void) state;
    json_error_t jerr;
    json_t *root = json_load_file ("tests/fixtures/mediamtx/playback_list.json", 0, &jerr);
    assert_non_null (root);
    sf_dvr_t dvr = { 0 };
    char err [256];
    assert_int_equal (sf_mediamtx_ranges (root, &dvr, err, sizeof err), 0);
    //  09:00 + 3600.5 s and 10:00:00.5 touch: one range; 12:00 apart
    assert_int_equal (dvr.nranges, 2);
    assert_int_equal (dvr.ranges [0].from, 1772355600);
    assert_int_equal (dvr.ranges [0].to, 1772355600 + 3600 + 600);
    assert_int_equal (dvr.ranges [1].from, 1772355600 + 3 * 3600);
    assert_int_equal (dvr.ranges [1].to, 1772355600 + 3 * 3600 + 60);
    json_decref (root);
    root = json_loads ("{\"error\": \"x\"}", 0, &jerr);
    assert_int_equal (sf_mediamtx_ranges (root, &dvr, err, sizeof err), -1);
    assert_int_equal (dvr.nranges, 2);                           //  unchanged
    json_decref (root);
    free (dvr.ranges);
}

//  --------------------------------------------------------------------------
//  Polls through the source runner against a local server

typedef struct {
    fx_http_t *fx;
    sf_agent_config_t cfg;
    sf_source_t *src;
} s_ctx_t;

static const char *
s_paths (const char *session, long long bytes, bool listed_yard)
{
    static char buf [2048];
    snprintf (buf, sizeof buf,
        "{\"itemCount\": 2, \"pageCount\": 1, \"items\": ["
        "{\"name\": \"north/cam1\", \"confName\": \"north/cam1\","
        " \"source\": {\"type\": \"rtspSession\", \"id\": \"%s\"},"
        " \"available\": true, \"online\": true, \"onlineTime\": \"2026-03-01T09:00:00Z\","
        " \"tracks2\": [{\"codec\": \"H264\", \"codecProps\": {}}], \"inboundBytes\": %lld,"
        " \"readers\": [{\"type\": \"rtspSession\", \"id\": \"r1\"}]}%s]}",
        session, bytes, listed_yard
        ? ", {\"name\": \"yard\", \"confName\": \"yard\", \"source\": null, \"ready\": false, \"readers\": []}" : "");
    return buf;
}

static bool s_with_metrics;        //  the next setup reads /metrics too

static int
s_setup (void **state)
{
    s_ctx_t *ctx = calloc (1, sizeof (s_ctx_t));
    ctx->fx = fx_start ();
    assert_non_null (ctx->fx);
    fx_route (ctx->fx, "/v3/paths/list", s_paths ("s1", 0, true));
    fx_route (ctx->fx, "/v3/rtspsessions/get/s1", "{\"id\": \"s1\", \"remoteAddr\": \"10.0.0.7:40000\","
              " \"state\": \"publish\", \"transport\": \"TCP\", \"inboundRTPPacketsLost\": 3}");
    fx_route (ctx->fx, "/v3/rtspsessions/get/s2", "{\"id\": \"s2\", \"remoteAddr\": \"10.0.0.8:40000\","
              " \"state\": \"publish\", \"transport\": \"UDP\"}");
    fx_route (ctx->fx, "/v3/config/paths/get/north/cam1", "{\"name\": \"north/cam1\", \"source\": \"publisher\"}");
    fx_route (ctx->fx, "/v3/config/paths/get/yard", "{\"name\": \"yard\", \"source\": \"rtsp://10.0.0.9:554/live\"}");
    char *body = fx_file ("mediamtx/recordings_list.json");
    fx_route (ctx->fx, "/v3/recordings/list", body);
    free (body);
    body = fx_file ("mediamtx/playback_list.json");
    fx_route (ctx->fx, "/list", body);
    free (body);
    sf_config_defaults (sf_agent_options (), &ctx->cfg);
    snprintf (ctx->cfg.node, sizeof ctx->cfg.node, "n1");
    snprintf (ctx->cfg.source, sizeof ctx->cfg.source, "mediamtx");
    ctx->cfg.http_timeout_ms = 400;
    sf_mediamtx_config_t *m = sf_agent_source_config (&ctx->cfg, &sf_source_mediamtx);
    snprintf (m->url, sizeof m->url, "http://127.0.0.1:%d", ctx->fx->port);
    snprintf (m->playback_url, sizeof m->playback_url, "http://127.0.0.1:%d/", ctx->fx->port);
    snprintf (m->user, sizeof m->user, "streamfleet");
    snprintf (m->password, sizeof m->password, "pa55word");
    if (s_with_metrics)
        snprintf (m->metrics_url, sizeof m->metrics_url, "http://127.0.0.1:%d", ctx->fx->port);
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

static int
s_poll (s_ctx_t *ctx, sf_streamset_t *set)
{
    sf_streamset_clear (set);
    return sf_source_poll (ctx->src, set);
}

static void
test_poll (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (s_poll (ctx, &set), 0);
    //  base64 ("streamfleet:pa55word")
    assert_string_equal (ctx->fx->last_auth, "Basic c3RyZWFtZmxlZXQ6cGE1NXdvcmQ=");
    assert_int_equal (set.count, 2);
    sf_stream_t *cam = sf_streamset_find (&set, "north/cam1");
    assert_non_null (cam);
    assert_int_equal (cam->status, SF_STATUS_ACTIVE);
    assert_int_equal (cam->clients, 1);
    assert_int_equal (cam->bitrate_kbps, 0);                    //  one sample: no rate yet
    assert_true (cam->functions & SF_FN_DVR);
    assert_int_equal (cam->dvr.nranges, 2);
    assert_non_null (strstr (cam->config, "publisher 10.0.0.7:40000 over TCP"));
    assert_null (cam->source_url);                              //  "publisher" is no URL
    sf_stream_t *yard = sf_streamset_find (&set, "yard");
    assert_string_equal (yard->source_url, "rtsp://10.0.0.9:554/live");
    assert_string_equal (set.node.id, "n1");                    //  the runner's enrichment
    assert_string_equal (set.node.rtsp_template, "rtsp://{host}:8554/{name}");

    //  1 MB more in 0.5 s: 16000 kbit/s; a new publishing session: a reconnect
    usleep (500 * 1000);
    fx_route (ctx->fx, "/v3/paths/list", s_paths ("s2", 1000000, false));
    assert_int_equal (s_poll (ctx, &set), 0);
    cam = sf_streamset_find (&set, "north/cam1");
    assert_in_range (cam->bitrate_kbps, 12000, 16100);
    assert_int_equal (cam->reconnect_total, 1);
    assert_non_null (strstr (cam->config, "10.0.0.8:40000 over UDP"));
    //  yard left the list: still reported, as suspend
    yard = sf_streamset_find (&set, "yard");
    assert_non_null (yard);
    assert_int_equal (yard->status, SF_STATUS_SUSPEND);

    //  A failing request fails the poll, and the password is not in the error
    fx_route (ctx->fx, "/v3/paths/list", "{\"error\": \"no items\"}");
    assert_int_equal (s_poll (ctx, &set), -1);
    assert_non_null (strstr (set.error, "not a MediaMTX v3 list"));
    ctx->fx->mode = FX_401;
    assert_int_equal (s_poll (ctx, &set), -1);
    assert_non_null (strstr (set.error, "HTTP 401"));
    assert_null (strstr (set.error, "pa55word"));
    ctx->fx->mode = FX_HANG;
    int64_t t0 = sf_mono_ms ();
    assert_int_equal (s_poll (ctx, &set), -1);
    assert_true (sf_mono_ms () - t0 < 2000);
    ctx->fx->mode = FX_OK;
    sf_streamset_clear (&set);
}

//  MediaMTX's Prometheus metrics, as v1.17 writes them (with the older
//  paths_bytes_received beside paths_inbound_bytes): one entry per path,
//  readers summed over reader types, escaped labels, timestamps, other
//  families skipped; a malformed line is an error
static void
test_metrics_parse (void **state)
{
    (void) state;
    char *text = fx_file ("mediamtx/metrics.txt");
    assert_non_null (text);
    sf_mediamtx_metric_t *m;
    size_t n;
    char err [256];
    assert_int_equal (sf_mediamtx_metrics (text, strlen (text), &m, &n, err, sizeof err), 0);
    free (text);
    assert_int_equal (n, 3);
    assert_string_equal (m [0].name, "north/cam1");
    assert_true (m [0].has_state && m [0].online);
    assert_true (m [0].has_bytes);
    assert_int_equal (m [0].inbound_bytes, 1500);
    assert_true (m [0].has_readers);
    assert_int_equal (m [0].readers, 3);
    assert_string_equal (m [1].name, "odd \"quoted\" name");
    assert_true (m [1].online);
    assert_false (m [1].has_bytes);
    assert_string_equal (m [2].name, "yard");
    assert_true (m [2].has_state);
    assert_false (m [2].online);
    free (m);
    const char *bad = "paths{name=\"a\",state=\"ready\"} one\n";
    assert_int_equal (sf_mediamtx_metrics (bad, strlen (bad), &m, &n, err, sizeof err), -1);
    assert_non_null (strstr (err, "line 1"));
    assert_null (m);
    bad = "paths{name=\"a\n";
    assert_int_equal (sf_mediamtx_metrics (bad, strlen (bad), &m, &n, err, sizeof err), -1);
    assert_int_equal (sf_mediamtx_metrics ("", 0, &m, &n, err, sizeof err), 0);
    assert_int_equal (n, 0);
    free (m);
}

//  The cross-check through the runner: agreeing metrics change nothing; a
//  disagreement keeps the API's values and is written into the config
//  text; an API item without a byte counter gets its bitrate from the
//  metrics' counter
static void
test_poll_metrics (void **state)
{
    s_ctx_t *ctx = *state;
    sf_streamset_t set;
    sf_streamset_init (&set);
    fx_route (ctx->fx, "/metrics",
              "paths{name=\"north/cam1\",state=\"ready\"} 1\n"
              "paths_readers{name=\"north/cam1\",state=\"ready\",readerType=\"rtspSession\"} 1\n"
              "paths{name=\"yard\",state=\"notReady\"} 1\n");
    assert_int_equal (s_poll (ctx, &set), 0);
    sf_stream_t *cam = sf_streamset_find (&set, "north/cam1");
    assert_int_equal (cam->clients, 1);
    assert_null (strstr (cam->config, "metrics disagree"));
    //  The metrics count three readers and say yard is ready: the API wins
    fx_route (ctx->fx, "/metrics",
              "paths{name=\"north/cam1\",state=\"ready\"} 1\n"
              "paths_readers{name=\"north/cam1\",state=\"ready\",readerType=\"rtspSession\"} 3\n"
              "paths{name=\"yard\",state=\"ready\"} 1\n");
    assert_int_equal (s_poll (ctx, &set), 0);
    cam = sf_streamset_find (&set, "north/cam1");
    assert_int_equal (cam->clients, 1);
    assert_non_null (strstr (cam->config, "metrics disagree: metrics count 3 readers, the API 1"));
    sf_stream_t *yard = sf_streamset_find (&set, "yard");
    assert_int_equal (yard->status, SF_STATUS_SUSPEND);
    assert_non_null (strstr (yard->config, "metrics disagree: metrics say ready, the API not online"));
    //  An item without inboundBytes or bytesReceived: the metrics' bytes
    static const char *no_bytes =
        "{\"itemCount\": 1, \"pageCount\": 1, \"items\": [{\"name\": \"north/cam1\","
        " \"source\": {\"type\": \"rtmpConn\", \"id\": \"c1\"}, \"online\": true, \"readers\": []}]}";
    fx_route (ctx->fx, "/v3/paths/list", no_bytes);
    fx_route (ctx->fx, "/metrics", "paths{name=\"north/cam1\",state=\"ready\"} 1\n"
              "paths_inbound_bytes{name=\"north/cam1\",state=\"ready\"} 0\n");
    assert_int_equal (s_poll (ctx, &set), 0);
    usleep (500 * 1000);
    fx_route (ctx->fx, "/metrics", "paths{name=\"north/cam1\",state=\"ready\"} 1\n"
              "paths_inbound_bytes{name=\"north/cam1\",state=\"ready\"} 1000000\n");
    assert_int_equal (s_poll (ctx, &set), 0);
    cam = sf_streamset_find (&set, "north/cam1");
    assert_in_range (cam->bitrate_kbps, 12000, 16100);
    //  Metrics that do not answer cost the cross-check, not the poll
    fx_route (ctx->fx, "/metrics", "not { metrics");
    assert_int_equal (s_poll (ctx, &set), 0);
    sf_streamset_clear (&set);
}

static int
s_setup_metrics (void **state)
{
    s_with_metrics = true;
    int rc = s_setup (state);
    s_with_metrics = false;
    return rc;
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_v1_2),
        cmocka_unit_test (test_v1_15),
        cmocka_unit_test (test_v1_16),
        cmocka_unit_test (test_v1_17),
        cmocka_unit_test (test_playback_ranges),
        cmocka_unit_test_setup_teardown (test_poll, s_setup, s_teardown),
        cmocka_unit_test (test_metrics_parse),
        cmocka_unit_test_setup_teardown (test_poll_metrics, s_setup_metrics, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

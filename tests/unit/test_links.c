/*  test_links.c — playback links of a placement (controller/links.c).

    Pins down the template words, the precedence (the stream's own template,
    then the node's, then the defaults), the host (external address, else
    internal, else the node id) and that a link that does not fit is an
    error, never a truncated URL.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "sf_links.h"

static void
s_stream (sf_stream_t *s, const char *name, const char *uid)
{
    sf_stream_init (s);
    SF_STRSET (s->name, name);
    SF_STRSET (s->uid, uid);
    SF_STRSET (s->node, "n1");
}

static void
test_every_template_word_is_replaced (void **state)
{
    sf_stream_t s;
    s_stream (&s, "cam1", "u-1");
    char out [256];
    int len = sf_link_build (out, sizeof (out), "{host}/{name}/{uid}/{from}-{to}/{duration}/{bogus}",
                             "h.example", &s, 100, 160);
    assert_string_equal (out, "h.example/cam1/u-1/100-160/60/{bogus}");
    assert_int_equal (len, (int) strlen (out));
    sf_stream_clear (&s);
}

static void
test_uid_defaults_to_the_name (void **state)
{
    sf_stream_t s;
    s_stream (&s, "cam1", "");
    char out [64];
    sf_link_build (out, sizeof (out), "{uid}", "h", &s, 0, 0);
    assert_string_equal (out, "cam1");
    sf_stream_clear (&s);
}

static void
test_a_link_that_does_not_fit_is_an_error (void **state)
{
    sf_stream_t s;
    s_stream (&s, "a-rather-long-stream-name", "");
    char out [16];
    assert_int_equal (sf_link_build (out, sizeof (out), "rtsp://{host}/{name}", "h", &s, 0, 0), -1);
    sf_node_t n;
    sf_node_init (&n);
    char rtsp [16] = "x", hls [16] = "x";
    sf_links_live (&s, &n, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "");
    assert_string_equal (hls, "");
    sf_stream_clear (&s);
}

static void
test_defaults_and_host_precedence (void **state)
{
    sf_stream_t s;
    s_stream (&s, "cam1", "");
    char rtsp [256], hls [256];
    //  No node known: the node id is the host
    sf_links_live (&s, NULL, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://n1:554/cam1");
    assert_string_equal (hls, "http://n1/cam1/index.m3u8");
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.addr_internal, "10.0.0.1");
    sf_links_live (&s, &n, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://10.0.0.1:554/cam1");
    SF_STRSET (n.addr_external, "media.example");
    sf_links_range (&s, &n, 1000, 1060, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://media.example:554/cam1?from=1000&to=1060");
    assert_string_equal (hls, "http://media.example/cam1/archive-1000-60.m3u8");
    sf_stream_clear (&s);
}

static void
test_stream_template_beats_node_template (void **state)
{
    sf_stream_t s;
    s_stream (&s, "cam1", "");
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.addr_external, "m");
    SF_STRSET (n.rtsp_template, "rtsp://{host}/node/{name}");
    SF_STRSET (n.hls_template, "https://{host}/node/{name}.m3u8");
    SF_STRSET (n.hls_dvr_template, "https://{host}/dvr/{name}/{from}/{to}");
    char rtsp [256], hls [256];
    sf_links_live (&s, &n, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://m/node/cam1");
    assert_string_equal (hls, "https://m/node/cam1.m3u8");
    SF_STRSET (s.rtsp_template, "rtsp://{host}/own/{name}");
    sf_links_live (&s, &n, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://m/own/cam1");
    assert_string_equal (hls, "https://m/node/cam1.m3u8");
    sf_links_range (&s, &n, 5, 9, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://m:554/cam1?from=5&to=9");
    assert_string_equal (hls, "https://m/dvr/cam1/5/9");
    sf_stream_clear (&s);
}

//  --addr-external with a port: a template that names its own port after
//  {host} gets the address without it (not rtsp://127.0.0.1:22102:554/cam1);
//  one that does not keeps the address whole; IPv6 keeps its brackets
static void
test_address_with_a_port (void **state)
{
    sf_stream_t s;
    s_stream (&s, "cam1", "");
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.addr_external, "127.0.0.1:22102");
    char rtsp [256], hls [256];
    sf_links_live (&s, &n, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://127.0.0.1:554/cam1");
    assert_string_equal (hls, "http://127.0.0.1:22102/cam1/index.m3u8");
    SF_STRSET (n.addr_external, "[2001:db8::7]:8080");
    sf_links_live (&s, &n, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://[2001:db8::7]:554/cam1");
    SF_STRSET (n.addr_external, "2001:db8::7");
    sf_links_live (&s, &n, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "rtsp://2001:db8::7:554/cam1");
    sf_stream_clear (&s);
}

//  A node template "-": the server has no such link (nginx-rtmp has no RTSP)
static void
test_dash_means_no_link (void **state)
{
    sf_stream_t s;
    s_stream (&s, "cam1", "");
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.addr_external, "m");
    SF_STRSET (n.rtsp_template, "-");
    SF_STRSET (n.rtsp_dvr_template, "-");
    SF_STRSET (n.hls_dvr_template, "-");
    char rtsp [256], hls [256];
    sf_links_live (&s, &n, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "");
    assert_string_equal (hls, "http://m/cam1/index.m3u8");
    sf_links_range (&s, &n, 5, 9, rtsp, hls, sizeof (rtsp));
    assert_string_equal (rtsp, "");
    assert_string_equal (hls, "");
    sf_stream_clear (&s);
}

//  The RTMP link: none without a template (no server is assumed to speak
//  RTMP); the node's, then the stream's own (nginx-rtmp's per-application
//  one); the node address with and without a port
static void
test_rtmp_link (void **state)
{
    sf_stream_t s;
    s_stream (&s, "cam1", "");
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.addr_external, "edge-1.example");
    char rtmp [256];
    sf_links_rtmp (&s, &n, rtmp, sizeof (rtmp));
    assert_string_equal (rtmp, "");
    SF_STRSET (n.rtmp_template, "rtmp://{host}/node/{name}");
    sf_links_rtmp (&s, &n, rtmp, sizeof (rtmp));
    assert_string_equal (rtmp, "rtmp://edge-1.example/node/cam1");
    SF_STRSET (s.rtmp_template, "rtmp://{host}:1935/live/{name}");
    sf_links_rtmp (&s, &n, rtmp, sizeof (rtmp));
    assert_string_equal (rtmp, "rtmp://edge-1.example:1935/live/cam1");
    SF_STRSET (n.addr_external, "127.0.0.1:22102");
    sf_links_rtmp (&s, &n, rtmp, sizeof (rtmp));
    assert_string_equal (rtmp, "rtmp://127.0.0.1:1935/live/cam1");
    SF_STRSET (s.rtmp_template, "-");
    sf_links_rtmp (&s, &n, rtmp, sizeof (rtmp));
    assert_string_equal (rtmp, "");
    sf_links_rtmp (&s, NULL, rtmp, sizeof (rtmp));
    assert_string_equal (rtmp, "");
    sf_stream_clear (&s);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_every_template_word_is_replaced),
        cmocka_unit_test (test_uid_defaults_to_the_name),
        cmocka_unit_test (test_a_link_that_does_not_fit_is_an_error),
        cmocka_unit_test (test_defaults_and_host_precedence),
        cmocka_unit_test (test_stream_template_beats_node_template),
        cmocka_unit_test (test_address_with_a_port),
        cmocka_unit_test (test_dash_means_no_link),
        cmocka_unit_test (test_rtmp_link),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  test_json.c — the JSON encoding of records (controller/json.c).

    Pins down the field names and units of DESIGN §2 that the HTTP API, the
    web page and scripts rely on, the derived fields (uptime, links), and that
    text from an agent that is not UTF-8 still encodes instead of vanishing.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include <msgpack.h>
#include "sf_codec.h"
#include "sf_json.h"

static void
s_make_stream (sf_stream_t *s)
{
    sf_stream_init (s);
    SF_STRSET (s->name, "cam1");
    SF_STRSET (s->node, "n1");
    s->type = SF_TYPE_SECONDARY;
    s->status = SF_STATUS_ACTIVE;
    s->functions = SF_FN_DVR | SF_FN_AUDIO;
    s->clients = 3;
    s->bitrate_kbps = 900;
    s->started_at = 1000;
    s->reconnect_attempts = 1;
    s->reconnect_total = 7;
    s->ping_ms = 12;
    sf_text_set (&s->source_url, "rtsp://10.0.0.5/cam1");
    sf_text_set (&s->source_sdp, "v=0\r\n");
    sf_text_set (&s->config, "{\"input\": \"rtsp://10.0.0.5/cam1\"}");
    sf_text_set (&s->dvr.records_path, "/var/dvr/cam1");
    s->dvr.depth_s = 86400;
    s->dvr.chunk_s = 10;
    s->dvr.disk_free_bytes = 5000000000ULL;
    s->dvr.current_from = 1500;
    sf_dvr_add_range (&s->dvr, 100, 200);
    sf_dvr_add_range (&s->dvr, 1500, 1600);
    SF_STRSET (s->playback_uuid, "3f1c0d1e-0000-4000-8000-000000000001");
    s->version.gen = 4;
    s->version.seq = 99;
}

//  The listing row: DESIGN names, derived uptime, no detail-only sections
static void
test_row_fields (void **state)
{
    sf_stream_t s;
    s_make_stream (&s);
    json_t *j = sf_json_stream (&s, NULL, SF_JSON_ROW, 1100);
    assert_non_null (j);
    assert_string_equal (json_string_value (json_object_get (j, "name")), "cam1");
    assert_string_equal (json_string_value (json_object_get (j, "uid")), "cam1");
    assert_string_equal (json_string_value (json_object_get (j, "node")), "n1");
    assert_string_equal (json_string_value (json_object_get (j, "type")), "secondary");
    assert_string_equal (json_string_value (json_object_get (j, "status")), "active");
    assert_true (json_is_false (json_object_get (j, "transfer")));
    json_t *fns = json_object_get (j, "functions");
    assert_int_equal (json_array_size (fns), 2);
    assert_string_equal (json_string_value (json_array_get (fns, 0)), "dvr");
    assert_string_equal (json_string_value (json_array_get (fns, 1)), "audio");
    assert_int_equal (json_integer_value (json_object_get (j, "clients")), 3);
    assert_int_equal (json_integer_value (json_object_get (j, "bitrate_kbps")), 900);
    assert_int_equal (json_integer_value (json_object_get (j, "uptime_s")), 100);
    json_t *rc = json_object_get (j, "reconnects");
    assert_int_equal (json_integer_value (json_object_get (rc, "attempts")), 1);
    assert_int_equal (json_integer_value (json_object_get (rc, "total")), 7);
    json_t *src = json_object_get (j, "source");
    assert_string_equal (json_string_value (json_object_get (src, "url")), "rtsp://10.0.0.5/cam1");
    assert_null (json_object_get (src, "sdp"));
    assert_int_equal (json_integer_value (json_object_get (json_object_get (j, "version"), "seq")), 99);
    assert_null (json_object_get (j, "config"));
    assert_null (json_object_get (j, "dvr"));
    assert_true (json_is_null (json_object_get (j, "migrated_to")));
    json_decref (j);
    sf_stream_clear (&s);
}

//  Detail: every section, DVR ranges with playback links built from the node
static void
test_detail_sections_and_links (void **state)
{
    sf_stream_t s;
    s_make_stream (&s);
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.id, "n1");
    SF_STRSET (n.addr_external, "media1.example.net");
    SF_STRSET (n.hls_dvr_template, "https://{host}/{name}/{from}-{to}.m3u8");
    json_t *j = sf_json_stream (&s, &n, SF_JSON_DETAIL, 1100);
    assert_non_null (j);
    assert_string_equal (json_string_value (json_object_get (j, "config")),
                         "{\"input\": \"rtsp://10.0.0.5/cam1\"}");
    assert_string_equal (json_string_value (json_object_get (json_object_get (j, "source"), "sdp")),
                         "v=0\r\n");
    json_t *dvr = json_object_get (j, "dvr");
    assert_string_equal (json_string_value (json_object_get (dvr, "records_path")), "/var/dvr/cam1");
    assert_int_equal (json_integer_value (json_object_get (dvr, "depth_s")), 86400);
    assert_int_equal (json_integer_value (json_object_get (dvr, "disk_free_bytes")), 5000000000LL);
    assert_int_equal (json_integer_value (json_object_get (dvr, "current_from")), 1500);
    json_t *ranges = json_object_get (dvr, "ranges");
    assert_int_equal (json_array_size (ranges), 2);
    json_t *r1 = json_array_get (ranges, 1);
    assert_int_equal (json_integer_value (json_object_get (r1, "from")), 1500);
    assert_int_equal (json_integer_value (json_object_get (r1, "to")), 1600);
    assert_string_equal (json_string_value (json_object_get (r1, "hls")),
                         "https://media1.example.net/cam1/1500-1600.m3u8");
    assert_non_null (strstr (json_string_value (json_object_get (r1, "rtsp")), "media1.example.net"));
    json_t *links = json_object_get (j, "links");
    assert_non_null (strstr (json_string_value (json_object_get (links, "hls")), "media1.example.net/cam1"));
    assert_string_equal (json_string_value (json_object_get (j, "playback_uuid")),
                         "3f1c0d1e-0000-4000-8000-000000000001");
    assert_true (json_is_object (json_object_get (j, "media")));
    json_decref (j);
    sf_stream_clear (&s);
}

//  A stream that is not running has no uptime, whatever started_at says
static void
test_uptime_only_while_active (void **state)
{
    sf_stream_t s;
    s_make_stream (&s);
    s.status = SF_STATUS_OFFLINE;
    json_t *j = sf_json_stream (&s, NULL, SF_JSON_ROW, 5000);
    assert_int_equal (json_integer_value (json_object_get (j, "uptime_s")), 0);
    assert_string_equal (json_string_value (json_object_get (j, "status")), "offline");
    json_decref (j);
    sf_stream_clear (&s);
}

//  Invalid UTF-8 from an agent is repaired, not dropped, and the output parses
static void
test_invalid_utf8_repaired (void **state)
{
    sf_stream_t s;
    s_make_stream (&s);
    sf_text_set (&s.source_url, "rtsp://cam\xff\xfe/x");
    sf_text_set (&s.config, "bad \xc3\x28 seq");
    json_t *j = sf_json_stream (&s, NULL, SF_JSON_DETAIL, 1100);
    const char *url = json_string_value (json_object_get (json_object_get (j, "source"), "url"));
    assert_non_null (url);
    assert_string_equal (url, "rtsp://cam\xef\xbf\xbd\xef\xbf\xbd/x");
    assert_non_null (json_string_value (json_object_get (j, "config")));
    size_t len = 0;
    char *text = sf_json_dumps (j, &len);
    assert_non_null (text);
    assert_int_equal (len, strlen (text));
    json_error_t jerr;
    json_t *back = json_loads (text, 0, &jerr);
    assert_non_null (back);
    json_decref (back);
    free (text);
    json_decref (j);
    sf_stream_clear (&s);
}

static void
test_node_fields (void **state)
{
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.id, "n2");
    n.liveness = SF_LIVE_SUSPECT;
    n.heartbeat_age_ms = 4200;
    n.nstreams = 50;
    n.nactive = 40;
    n.nprimary = 45;
    n.ndisks = 1;
    SF_STRSET (n.disks [0].mount, "/");
    n.disks [0].free_bytes = 10;
    n.disks [0].total_bytes = 20;
    json_t *j = sf_json_node (&n, 0);
    assert_string_equal (json_string_value (json_object_get (j, "id")), "n2");
    assert_string_equal (json_string_value (json_object_get (j, "liveness")), "suspect");
    assert_int_equal (json_integer_value (json_object_get (j, "heartbeat_age_ms")), 4200);
    json_t *counts = json_object_get (j, "counts");
    assert_int_equal (json_integer_value (json_object_get (counts, "streams")), 50);
    assert_int_equal (json_integer_value (json_object_get (counts, "active")), 40);
    json_t *disks = json_object_get (json_object_get (j, "usage"), "disks");
    assert_int_equal (json_array_size (disks), 1);
    json_decref (j);
    n.heartbeat_age_ms = -1;
    j = sf_json_node (&n, 0);
    assert_true (json_is_null (json_object_get (j, "heartbeat_age_ms")));
    json_decref (j);
}

static void
test_error_body (void **state)
{
    json_t *j = sf_json_error (400, "bad_filter", "unknown filter parameter 'x'");
    json_t *e = json_object_get (j, "error");
    assert_int_equal (json_integer_value (json_object_get (e, "status")), 400);
    assert_string_equal (json_string_value (json_object_get (e, "code")), "bad_filter");
    json_decref (j);
}

//  Stored events come back as JSON objects; nesting beyond the bound is refused
static void
test_from_msgpack (void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3);
    sf_pack_kstr (&pk, "kind", "migrated");
    sf_pack_ki64 (&pk, "at_ms", -5);
    msgpack_pack_int (&pk, 7);                  //  a non-string key is skipped
    msgpack_pack_int (&pk, 8);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    json_t *j = sf_json_from_msgpack (&u.data);
    assert_string_equal (json_string_value (json_object_get (j, "kind")), "migrated");
    assert_int_equal (json_integer_value (json_object_get (j, "at_ms")), -5);
    assert_int_equal (json_object_size (j), 2);
    json_decref (j);
    msgpack_unpacked_destroy (&u);

    msgpack_sbuffer_clear (&sb);
    for (int i = 0; i < 20; i++)
        msgpack_pack_array (&pk, 1);
    msgpack_pack_nil (&pk);
    msgpack_unpacked_init (&u);
    off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_null (sf_json_from_msgpack (&u.data));
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sb);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_row_fields),
        cmocka_unit_test (test_detail_sections_and_links),
        cmocka_unit_test (test_uptime_only_while_active),
        cmocka_unit_test (test_invalid_utf8_repaired),
        cmocka_unit_test (test_node_fields),
        cmocka_unit_test (test_error_body),
        cmocka_unit_test (test_from_msgpack),
    };
    return cmocka_run_group_tests_name ("json", tests, NULL, NULL);
}

/*  test_codec.c — the wire codec (proto/codec.c, docs/protocol.md).

    Pins down that every record and envelope survives a round trip, and that
    every way a peer can send something wrong is rejected with -1 (and the
    right reject reason for envelopes) instead of being stored, truncated
    silently or crashing: not msgpack, truncated, trailing bytes, wrong shape,
    wrong version, container counts larger than the frame, oversized strings,
    texts and range lists, embedded NULs, wrong field types, inverted ranges,
    unknown enum names, negative and overflowing integers, oversized frames.
    Unknown keys are ignored (forward compatibility).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include <jansson.h>
#include <msgpack.h>
#include "sf_codec.h"
#include "sf_mpjson.h"

//  ---------------------------------------------------------------------------
//  Helpers

static void
s_full_stream (sf_stream_t *s)
{
    sf_stream_init (s);
    SF_STRSET (s->name, "cam-7");
    SF_STRSET (s->uid, "uid-7");
    SF_STRSET (s->node, "n1");
    s->type = SF_TYPE_SECONDARY;
    s->status = SF_STATUS_SUSPEND;
    s->functions = SF_FN_DVR | SF_FN_PHOTO | SF_FN_AUDIO;
    s->stale = true;
    s->clients = 42;
    s->bitrate_kbps = 4096;
    s->started_at = 1700000000;
    s->started_at_ms = 1699999999876LL;
    s->reconnect_attempts = 2;
    s->reconnect_total = 9;
    sf_text_set (&s->source_url, "rtsp://10.0.0.7/cam7");
    sf_text_set (&s->source_sdp, "v=0\r\no=- 1 1 IN IP4 10.0.0.7\r\n");
    s->ping_ms = 17;
    sf_text_set (&s->config, "input rtsp://10.0.0.7/cam7\n  dvr on\n");
    sf_text_set (&s->config_path, "/etc/media/cam7.conf");
    SF_STRSET (s->playback_uuid, "0f3b5e6a-1111-2222-3333-444455556666");
    SF_STRSET (s->transferred_from, "n9");
    SF_STRSET (s->rtsp_template, "rtsp://{host}/x/{name}");
    SF_STRSET (s->hls_template, "http://{host}/x/{name}.m3u8");
    sf_text_set (&s->dvr.records_path, "/var/dvr/cam7");
    s->dvr.depth_s = 86400;
    s->dvr.chunk_s = 6;
    s->dvr.disk_free_bytes = 123456789012ULL;
    s->dvr.memory_bytes = 4096000;
    s->dvr.current_from = 1700000500;
    sf_dvr_add_range (&s->dvr, 1700000000, 1700000100);
    sf_dvr_add_range (&s->dvr, 1700000200, 1700000300);
    SF_STRSET (s->media.vcodec, "h264");
    s->media.width = 1920;
    s->media.height = 1080;
    s->media.fps = 25.0;
    SF_STRSET (s->media.acodec, "aac");
    s->version.gen = 5;
    s->version.seq = 77;
}

//  Packs a stream, parses it back into out; returns sf_stream_unpack's result
static int
s_round_trip (const sf_stream_t *in, int flags, sf_stream_t *out)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    sf_stream_pack (&pk, in, flags);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sbuf.data, sbuf.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (off, sbuf.size);
    char err [SF_ERR_MAX] = "";
    int rc = sf_stream_unpack (&u.data, out, err);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

//  Decodes a stream record given as JSON (jansson, NULs allowed). Returns
//  sf_stream_unpack's result; err receives its message.
static int
s_unpack_json_obj (json_t *j, sf_stream_t *s, char *err)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (sf_json_to_msgpack (j, &pk), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sbuf.data, sbuf.size, &off), MSGPACK_UNPACK_SUCCESS);
    int rc = sf_stream_unpack (&u.data, s, err);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

static int
s_unpack_json (const char *text, sf_stream_t *s, char *err)
{
    json_error_t jerr;
    json_t *j = json_loads (text, JSON_ALLOW_NUL | JSON_DECODE_ANY, &jerr);
    if (!j)
        fail_msg ("bad test JSON: %s: %s", text, jerr.text);
    int rc = s_unpack_json_obj (j, s, err);
    json_decref (j);
    return rc;
}

//  A record {"name": "cam1", <path>: "x" * len}; path "a.b" nests a map
static int
s_unpack_long (const char *path, size_t len, sf_stream_t *s, char *err)
{
    char *v = malloc (len + 1);
    memset (v, 'x', len);
    v [len] = 0;
    json_t *j = json_object ();
    json_object_set_new (j, "name", json_string ("cam1"));
    const char *dot = strchr (path, '.');
    if (dot) {
        char outer [32];
        snprintf (outer, sizeof (outer), "%.*s", (int) (dot - path), path);
        json_t *inner = json_object ();
        json_object_set_new (inner, dot + 1, json_string (v));
        json_object_set_new (j, outer, inner);
    }
    else
        json_object_set_new (j, path, json_string (v));
    int rc = s_unpack_json_obj (j, s, err);
    json_decref (j);
    free (v);
    return rc;
}

//  Parses raw bytes as an envelope; returns the reason (SF_REJ_NONE if accepted)
static int
s_parse (const void *data, size_t size)
{
    sf_msg_t msg;
    sf_msg_init (&msg);
    int rc = sf_msg_parse (&msg, data, size);
    int reason = msg.reason;
    if (rc)
        assert_true (msg.error [0] != 0);       //  a reason an operator can read
    else
        assert_int_equal (reason, SF_REJ_NONE);
    sf_msg_release (&msg);
    return rc ? reason : SF_REJ_NONE;
}

//  ---------------------------------------------------------------------------
//  Round trips

static void
test_stream_full_round_trip_keeps_every_field (void **state)
{
    sf_stream_t in, out;
    s_full_stream (&in);
    sf_stream_init (&out);
    assert_int_equal (s_round_trip (&in, SF_ENC_FULL, &out), 0);
    assert_string_equal (out.name, "cam-7");
    assert_string_equal (out.uid, "uid-7");
    assert_string_equal (out.node, "n1");
    assert_int_equal (out.type, SF_TYPE_SECONDARY);
    assert_int_equal (out.status, SF_STATUS_SUSPEND);
    assert_int_equal (out.functions, SF_FN_DVR | SF_FN_PHOTO | SF_FN_AUDIO);
    assert_true (out.stale);
    assert_int_equal (out.clients, 42);
    assert_int_equal (out.bitrate_kbps, 4096);
    assert_int_equal (out.started_at, 1700000000);
    //  The start to the millisecond (issue 14): full form only
    assert_int_equal (out.started_at_ms, 1699999999876LL);
    assert_int_equal (out.reconnect_attempts, 2);
    assert_int_equal (out.reconnect_total, 9);
    assert_string_equal (out.source_url, "rtsp://10.0.0.7/cam7");
    assert_string_equal (out.source_sdp, "v=0\r\no=- 1 1 IN IP4 10.0.0.7\r\n");
    assert_int_equal (out.ping_ms, 17);
    assert_string_equal (out.config, "input rtsp://10.0.0.7/cam7\n  dvr on\n");
    assert_string_equal (out.config_path, "/etc/media/cam7.conf");
    assert_string_equal (out.playback_uuid, "0f3b5e6a-1111-2222-3333-444455556666");
    assert_string_equal (out.transferred_from, "n9");
    assert_string_equal (out.rtsp_template, "rtsp://{host}/x/{name}");
    assert_string_equal (out.hls_template, "http://{host}/x/{name}.m3u8");
    assert_string_equal (out.dvr.records_path, "/var/dvr/cam7");
    assert_int_equal (out.dvr.depth_s, 86400);
    assert_int_equal (out.dvr.chunk_s, 6);
    assert_int_equal (out.dvr.disk_free_bytes, 123456789012ULL);
    assert_int_equal (out.dvr.memory_bytes, 4096000);
    assert_int_equal (out.dvr.current_from, 1700000500);
    assert_int_equal (out.dvr.nranges, 2);
    assert_int_equal (out.dvr.ranges [0].from, 1700000000);
    assert_int_equal (out.dvr.ranges [0].to, 1700000100);
    assert_int_equal (out.dvr.ranges [1].from, 1700000200);
    assert_int_equal (out.dvr.ranges [1].to, 1700000300);
    assert_string_equal (out.media.vcodec, "h264");
    assert_int_equal (out.media.width, 1920);
    assert_int_equal (out.media.height, 1080);
    assert_true (out.media.fps > 24.99 && out.media.fps < 25.01);
    assert_string_equal (out.media.acodec, "aac");
    assert_int_equal (out.version.gen, 5);
    assert_int_equal (out.version.seq, 77);
    sf_stream_clear (&in);
    sf_stream_clear (&out);
}

static void
test_stream_row_round_trip_keeps_listing_fields_only (void **state)
{
    sf_stream_t in, out;
    s_full_stream (&in);
    sf_stream_init (&out);
    assert_int_equal (s_round_trip (&in, SF_ENC_ROW, &out), 0);
    assert_string_equal (out.name, "cam-7");
    assert_string_equal (out.uid, "uid-7");
    assert_int_equal (out.status, SF_STATUS_SUSPEND);
    assert_int_equal (out.clients, 42);
    assert_int_equal (out.bitrate_kbps, 4096);
    assert_int_equal (out.reconnect_total, 9);
    assert_string_equal (out.source_url, "rtsp://10.0.0.7/cam7");
    assert_int_equal (out.version.seq, 77);
    //  Detail-only fields do not travel in a row
    assert_null (out.config);
    assert_null (out.source_sdp);
    assert_int_equal (out.dvr.nranges, 0);
    assert_string_equal (out.playback_uuid, "");
    assert_int_equal (out.started_at_ms, 0);
    sf_stream_clear (&in);
    sf_stream_clear (&out);
}

static void
test_stream_derived_fields_travel_only_when_asked (void **state)
{
    sf_stream_t in, out;
    s_full_stream (&in);
    in.transfer = true;
    SF_STRSET (in.migrated_to, "n2");
    sf_stream_init (&out);
    assert_int_equal (s_round_trip (&in, SF_ENC_FULL | SF_ENC_DERIVED, &out), 0);
    assert_true (out.transfer);
    assert_string_equal (out.migrated_to, "n2");
    assert_int_equal (s_round_trip (&in, SF_ENC_FULL, &out), 0);
    assert_false (out.transfer);
    assert_string_equal (out.migrated_to, "");
    sf_stream_clear (&in);
    sf_stream_clear (&out);
}

static void
test_stream_uid_defaults_to_name (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"name\": \"camX\"}", &s, err), 0);
    assert_string_equal (s.uid, "camX");
    assert_int_equal (s.ping_ms, -1);
    sf_stream_clear (&s);
}

static void
s_full_node (sf_node_t *n)
{
    sf_node_init (n);
    SF_STRSET (n->id, "node-a");
    SF_STRSET (n->addr_internal, "10.0.0.1");
    SF_STRSET (n->addr_external, "media-a.example.net");
    SF_STRSET (n->group, "public");
    n->max_primary_streams = 500;
    n->max_in_kbps = 1000000;
    SF_STRSET (n->software_version, "1.2.3");
    n->started_at = 1690000000;
    SF_STRSET (n->rtsp_template, "rtsp://{host}/{name}");
    SF_STRSET (n->hls_template, "http://{host}/{name}/index.m3u8");
    SF_STRSET (n->rtsp_dvr_template, "rtsp://{host}/{name}?from={from}");
    SF_STRSET (n->hls_dvr_template, "http://{host}/{name}/archive-{from}-{duration}.m3u8");
    n->cpu_pct = 37.5;
    n->mem_used_bytes = 1 << 30;
    n->mem_total_bytes = 8ULL << 30;
    n->in_kbps = 12000;
    n->out_kbps = 34000;
    n->ndisks = 2;
    SF_STRSET (n->disks [0].mount, "/");
    n->disks [0].free_bytes = 100;
    n->disks [0].total_bytes = 200;
    SF_STRSET (n->disks [1].mount, "/var/dvr");
    n->disks [1].free_bytes = 300;
    n->disks [1].total_bytes = 400;
    n->heartbeat = 99;
    n->version.gen = 3;
    n->version.seq = 4;
}

static int
s_node_round_trip (const sf_node_t *in, int flags, sf_node_t *out)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    sf_node_pack (&pk, in, flags);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sbuf.data, sbuf.size, &off), MSGPACK_UNPACK_SUCCESS);
    char err [SF_ERR_MAX];
    int rc = sf_node_unpack (&u.data, out, err);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

static void
test_node_round_trip_keeps_every_field (void **state)
{
    sf_node_t in, out;
    s_full_node (&in);
    in.liveness = SF_LIVE_SUSPECT;
    in.heartbeat_age_ms = 4500;
    in.nstreams = 10;
    in.nprimary = 7;
    in.nactive = 5;
    assert_int_equal (s_node_round_trip (&in, SF_ENC_DERIVED, &out), 0);
    assert_string_equal (out.id, "node-a");
    assert_string_equal (out.addr_internal, "10.0.0.1");
    assert_string_equal (out.addr_external, "media-a.example.net");
    assert_string_equal (out.group, "public");
    assert_int_equal (out.max_primary_streams, 500);
    assert_int_equal (out.max_in_kbps, 1000000);
    assert_string_equal (out.software_version, "1.2.3");
    assert_int_equal (out.started_at, 1690000000);
    assert_string_equal (out.rtsp_template, "rtsp://{host}/{name}");
    assert_string_equal (out.hls_template, "http://{host}/{name}/index.m3u8");
    assert_string_equal (out.rtsp_dvr_template, "rtsp://{host}/{name}?from={from}");
    assert_string_equal (out.hls_dvr_template, "http://{host}/{name}/archive-{from}-{duration}.m3u8");
    assert_true (out.cpu_pct > 37.49 && out.cpu_pct < 37.51);
    assert_int_equal (out.mem_used_bytes, 1 << 30);
    assert_int_equal (out.mem_total_bytes, 8ULL << 30);
    assert_int_equal (out.in_kbps, 12000);
    assert_int_equal (out.out_kbps, 34000);
    assert_int_equal (out.ndisks, 2);
    assert_string_equal (out.disks [1].mount, "/var/dvr");
    assert_int_equal (out.disks [1].free_bytes, 300);
    assert_int_equal (out.disks [1].total_bytes, 400);
    assert_int_equal (out.heartbeat, 99);
    assert_int_equal (out.version.gen, 3);
    assert_int_equal (out.version.seq, 4);
    assert_int_equal (out.liveness, SF_LIVE_SUSPECT);
    assert_int_equal (out.heartbeat_age_ms, 4500);
    assert_int_equal (out.nstreams, 10);
    assert_int_equal (out.nprimary, 7);
    assert_int_equal (out.nactive, 5);
}

static void
test_node_without_id_is_rejected (void **state)
{
    sf_node_t in, out;
    s_full_node (&in);
    in.id [0] = 0;
    assert_int_equal (s_node_round_trip (&in, 0, &out), -1);
}

static void
test_usage_round_trip (void **state)
{
    sf_node_t in, out;
    s_full_node (&in);
    sf_node_init (&out);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    sf_usage_pack (&pk, &in);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sbuf.data, sbuf.size, &off), MSGPACK_UNPACK_SUCCESS);
    char err [SF_ERR_MAX];
    assert_int_equal (sf_usage_unpack (&u.data, &out, err), 0);
    assert_true (out.cpu_pct > 37.49 && out.cpu_pct < 37.51);
    assert_int_equal (out.mem_used_bytes, 1 << 30);
    assert_int_equal (out.mem_total_bytes, 8ULL << 30);
    assert_int_equal (out.in_kbps, 12000);
    assert_int_equal (out.out_kbps, 34000);
    assert_int_equal (out.ndisks, 2);
    assert_string_equal (out.disks [0].mount, "/");
    assert_int_equal (out.disks [0].total_bytes, 200);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_usage_with_too_many_disks_is_rejected (void **state)
{
    sf_node_t n;
    sf_node_init (&n);
    json_t *j = json_object ();
    json_t *disks = json_array ();
    for (int i = 0; i < SF_DISKS_MAX + 1; i++)
        json_array_append_new (disks, json_pack ("{s:s}", "mount", "/"));
    json_object_set_new (j, "disks", disks);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    sf_json_to_msgpack (j, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    msgpack_unpack_next (&u, sbuf.data, sbuf.size, &off);
    char err [SF_ERR_MAX];
    assert_int_equal (sf_usage_unpack (&u.data, &n, err), -1);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sbuf);
    json_decref (j);
}

static void
test_envelope_round_trip (void **state)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "hello", 3);
    sf_pack_kstr (&pk, "node", "n1");
    sf_pack_ku64 (&pk, "gen", 12);
    sf_pack_ki64 (&pk, "seq", -1);
    sf_msg_t msg;
    sf_msg_init (&msg);
    assert_int_equal (sf_msg_parse (&msg, sbuf.data, sbuf.size), 0);
    assert_string_equal (msg.type, "hello");
    char node [SF_NODE_MAX + 1];
    uint64_t gen = 0;
    int64_t seq = 0;
    char err [SF_ERR_MAX];
    assert_int_equal (sf_map_str (msg.body, "node", node, SF_NODE_MAX, err), 0);
    assert_string_equal (node, "n1");
    assert_int_equal (sf_map_u64 (msg.body, "gen", &gen, err), 0);
    assert_int_equal (gen, 12);
    assert_int_equal (sf_map_i64 (msg.body, "seq", &seq, err), 0);
    assert_int_equal (seq, -1);
    //  Absent keys report 1 and leave the output alone
    assert_int_equal (sf_map_u64 (msg.body, "absent", &gen, err), 1);
    assert_int_equal (gen, 12);
    //  A negative value is not a u64
    uint64_t u = 0;
    assert_int_equal (sf_map_u64 (msg.body, "seq", &u, err), -1);
    sf_msg_release (&msg);
    //  The copying parser owns its bytes
    assert_int_equal (sf_msg_parse_copy (&msg, sbuf.data, sbuf.size), 0);
    memset (sbuf.data, 0, sbuf.size);
    assert_string_equal (msg.type, "hello");
    assert_int_equal (sf_map_str (msg.body, "node", node, SF_NODE_MAX, err), 0);
    assert_string_equal (node, "n1");
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_small_messages_round_trip (void **state)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    sf_msg_t msg;
    sf_msg_init (&msg);
    char err [SF_ERR_MAX], text [64];
    uint64_t v = 0;

    sf_msg_error (&sbuf, "forbidden", "not yours");
    assert_int_equal (sf_msg_parse (&msg, sbuf.data, sbuf.size), 0);
    assert_string_equal (msg.type, "error");
    assert_int_equal (sf_map_str (msg.body, "code", text, sizeof (text) - 1, err), 0);
    assert_string_equal (text, "forbidden");
    assert_int_equal (sf_map_str (msg.body, "message", text, sizeof (text) - 1, err), 0);
    assert_string_equal (text, "not yours");
    sf_msg_release (&msg);

    sf_msg_ack (&sbuf, 7, 123);
    assert_int_equal (sf_msg_parse (&msg, sbuf.data, sbuf.size), 0);
    assert_string_equal (msg.type, "ack");
    assert_int_equal (sf_map_u64 (msg.body, "gen", &v, err), 0);
    assert_int_equal (v, 7);
    assert_int_equal (sf_map_u64 (msg.body, "seq", &v, err), 0);
    assert_int_equal (v, 123);
    sf_msg_release (&msg);

    sf_msg_resync (&sbuf, "gap in seq");
    assert_int_equal (sf_msg_parse (&msg, sbuf.data, sbuf.size), 0);
    assert_string_equal (msg.type, "resync");
    assert_int_equal (sf_map_str (msg.body, "reason", text, sizeof (text) - 1, err), 0);
    assert_string_equal (text, "gap in seq");
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&sbuf);
}

//  ---------------------------------------------------------------------------
//  Envelope rejections

static void
test_envelope_not_msgpack_is_malformed (void **state)
{
    //  0xc1 is never used in msgpack
    const uint8_t never [] = { 0xc1 };
    assert_int_equal (s_parse (never, sizeof (never)), SF_REJ_MALFORMED);
    const char text [] = "GET / HTTP/1.1\r\n";
    assert_int_equal (s_parse (text, sizeof (text) - 1), SF_REJ_MALFORMED);
    assert_int_equal (s_parse ("", 0), SF_REJ_MALFORMED);
}

static void
test_envelope_truncated_is_malformed (void **state)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    sf_msg_ack (&sbuf, 1, 2);
    assert_int_equal (s_parse (sbuf.data, sbuf.size), SF_REJ_NONE);
    //  Every proper prefix is rejected
    for (size_t n = 1; n < sbuf.size; n++)
        assert_int_equal (s_parse (sbuf.data, n), SF_REJ_MALFORMED);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_envelope_with_trailing_bytes_is_malformed (void **state)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    sf_msg_ack (&sbuf, 1, 2);
    msgpack_sbuffer_write (&sbuf, "\x01", 1);
    assert_int_equal (s_parse (sbuf.data, sbuf.size), SF_REJ_MALFORMED);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_envelope_of_wrong_shape_is_malformed (void **state)
{
    //  a map, not an array
    const uint8_t map [] = { 0x80 };
    assert_int_equal (s_parse (map, sizeof (map)), SF_REJ_MALFORMED);
    //  [1, "ack"]: two elements
    const uint8_t two [] = { 0x92, 0x01, 0xa3, 'a', 'c', 'k' };
    assert_int_equal (s_parse (two, sizeof (two)), SF_REJ_MALFORMED);
    //  [1, "ack", {}, 0]: four elements
    const uint8_t four [] = { 0x94, 0x01, 0xa3, 'a', 'c', 'k', 0x80, 0x00 };
    assert_int_equal (s_parse (four, sizeof (four)), SF_REJ_MALFORMED);
    //  ["1", "ack", {}]: version not an integer
    const uint8_t sver [] = { 0x93, 0xa1, '1', 0xa3, 'a', 'c', 'k', 0x80 };
    assert_int_equal (s_parse (sver, sizeof (sver)), SF_REJ_MALFORMED);
    //  a bare integer
    const uint8_t one [] = { 0x01 };
    assert_int_equal (s_parse (one, sizeof (one)), SF_REJ_MALFORMED);
}

static void
test_envelope_wrong_version_is_rejected_as_version (void **state)
{
    const uint8_t v2 [] = { 0x93, 0x02, 0xa3, 'a', 'c', 'k', 0x80 };
    assert_int_equal (s_parse (v2, sizeof (v2)), SF_REJ_VERSION);
    const uint8_t v0 [] = { 0x93, 0x00, 0xa3, 'a', 'c', 'k', 0x80 };
    assert_int_equal (s_parse (v0, sizeof (v0)), SF_REJ_VERSION);
    const uint8_t ok [] = { 0x93, 0x01, 0xa3, 'a', 'c', 'k', 0x80 };
    assert_int_equal (s_parse (ok, sizeof (ok)), SF_REJ_NONE);
}

static void
test_envelope_non_string_type_is_malformed (void **state)
{
    const uint8_t inttype [] = { 0x93, 0x01, 0x05, 0x80 };
    assert_int_equal (s_parse (inttype, sizeof (inttype)), SF_REJ_MALFORMED);
    //  a type string longer than 31 bytes
    uint8_t buf [64] = { 0x93, 0x01, 0xd9, 40 };
    memset (buf + 4, 'a', 40);
    buf [44] = 0x80;
    assert_int_equal (s_parse (buf, 45), SF_REJ_MALFORMED);
    //  a type holding a NUL
    const uint8_t nul [] = { 0x93, 0x01, 0xa3, 'a', 0x00, 'k', 0x80 };
    assert_int_equal (s_parse (nul, sizeof (nul)), SF_REJ_MALFORMED);
}

static void
test_envelope_body_not_a_map_is_malformed (void **state)
{
    const uint8_t arr [] = { 0x93, 0x01, 0xa3, 'a', 'c', 'k', 0x90 };
    assert_int_equal (s_parse (arr, sizeof (arr)), SF_REJ_MALFORMED);
    const uint8_t nil [] = { 0x93, 0x01, 0xa3, 'a', 'c', 'k', 0xc0 };
    assert_int_equal (s_parse (nil, sizeof (nil)), SF_REJ_MALFORMED);
}

static void
test_container_claiming_more_elements_than_bytes_is_rejected (void **state)
{
    //  array32 of 2^31 elements in 6 bytes: the precheck refuses it before
    //  msgpack-c could reserve 2^31 objects (ASan would report the attempt)
    const uint8_t huge_array [] = { 0xdd, 0x80, 0x00, 0x00, 0x00, 0x01 };
    assert_int_equal (s_parse (huge_array, sizeof (huge_array)), SF_REJ_MALFORMED);
    //  map32 of 2^32-1 pairs
    const uint8_t huge_map [] = { 0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x01 };
    assert_int_equal (s_parse (huge_map, sizeof (huge_map)), SF_REJ_MALFORMED);
    //  the same inside a valid-looking envelope body
    const uint8_t inner [] = { 0x93, 0x01, 0xa3, 'a', 'c', 'k', 0x81, 0xa1, 'x',
                               0xdd, 0x7f, 0xff, 0xff, 0xff };
    assert_int_equal (s_parse (inner, sizeof (inner)), SF_REJ_MALFORMED);
    //  str32 claiming 4 GiB
    const uint8_t huge_str [] = { 0xdb, 0xff, 0xff, 0xff, 0xff, 'a' };
    assert_int_equal (s_parse (huge_str, sizeof (huge_str)), SF_REJ_MALFORMED);
    //  bin32 claiming more than is there
    const uint8_t huge_bin [] = { 0xc6, 0x00, 0x00, 0x10, 0x00, 'a' };
    assert_int_equal (s_parse (huge_bin, sizeof (huge_bin)), SF_REJ_MALFORMED);
    //  a length header cut short
    const uint8_t cut [] = { 0xdd, 0x00 };
    assert_int_equal (s_parse (cut, sizeof (cut)), SF_REJ_MALFORMED);
}

static void
test_frame_larger_than_16_mib_is_rejected_as_bounds (void **state)
{
    size_t size = SF_FRAME_MAX + 1;
    uint8_t *big = calloc (1, size);
    assert_non_null (big);
    assert_int_equal (s_parse (big, size), SF_REJ_BOUNDS);
    free (big);
}

static void
test_reject_names_are_the_wire_codes (void **state)
{
    assert_string_equal (sf_reject_name (SF_REJ_MALFORMED), "malformed");
    assert_string_equal (sf_reject_name (SF_REJ_VERSION), "version");
    assert_string_equal (sf_reject_name (SF_REJ_TYPE), "type");
    assert_string_equal (sf_reject_name (SF_REJ_FIELD), "field");
    assert_string_equal (sf_reject_name (SF_REJ_BOUNDS), "bounds");
    assert_string_equal (sf_reject_name (SF_REJ_FORBIDDEN), "forbidden");
    assert_string_equal (sf_reject_name (SF_REJ_STATE), "state");
    assert_string_equal (sf_reject_name (-1), "unknown");
    assert_string_equal (sf_reject_name (SF_REJ_COUNT), "unknown");
}

//  ---------------------------------------------------------------------------
//  Record rejections

static void
test_oversized_strings_are_rejected_for_each_bounded_field (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    struct { const char *path; size_t max; } fields [] = {
        { "name", SF_NAME_MAX }, { "uid", SF_NAME_MAX }, { "node", SF_NODE_MAX },
        { "source.url", SF_URL_MAX }, { "source.sdp", SF_TEXT_MAX }, { "config", SF_TEXT_MAX },
        { "config_path", SF_ADDR_MAX }, { "playback_uuid", SF_SHORT_MAX },
        { "transferred_from", SF_NODE_MAX }, { "rtsp_template", SF_ADDR_MAX },
        { "hls_template", SF_ADDR_MAX }, { "dvr.records_path", SF_ADDR_MAX },
        { "media.vcodec", SF_SHORT_MAX }, { "media.acodec", SF_SHORT_MAX },
    };
    for (size_t i = 0; i < sizeof (fields) / sizeof (fields [0]); i++) {
        //  At the bound: accepted
        err [0] = 0;
        if (s_unpack_long (fields [i].path, fields [i].max, &s, err) != 0)
            fail_msg ("%s of %zu bytes refused: %s", fields [i].path, fields [i].max, err);
        //  One byte over: rejected, and the message names the field
        err [0] = 0;
        if (s_unpack_long (fields [i].path, fields [i].max + 1, &s, err) != -1)
            fail_msg ("%s of %zu bytes accepted", fields [i].path, fields [i].max + 1);
        const char *dot = strchr (fields [i].path, '.');
        assert_non_null (strstr (err, dot ? dot + 1 : fields [i].path));
    }
    sf_stream_clear (&s);
}

static void
test_bound_values_match_the_design (void **state)
{
    assert_int_equal (SF_NAME_MAX, 128);
    assert_int_equal (SF_NODE_MAX, 64);
    assert_int_equal (SF_URL_MAX, 2048);
    assert_int_equal (SF_TEXT_MAX, 65536);
    assert_int_equal (SF_RANGES_MAX, 8192);
    assert_int_equal (SF_FRAME_MAX, 16 * 1024 * 1024);
}

static void
test_more_than_8192_ranges_are_rejected (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    for (int n = SF_RANGES_MAX; n <= SF_RANGES_MAX + 1; n++) {
        json_t *ranges = json_array ();
        for (int i = 0; i < n; i++)
            json_array_append_new (ranges, json_pack ("[I,I]", (json_int_t) i * 10, (json_int_t) i * 10 + 5));
        json_t *j = json_pack ("{s:s, s:{s:o}}", "name", "cam1", "dvr", "ranges", ranges);
        int rc = s_unpack_json_obj (j, &s, err);
        json_decref (j);
        if (n == SF_RANGES_MAX) {
            assert_int_equal (rc, 0);
            assert_int_equal (s.dvr.nranges, SF_RANGES_MAX);
        }
        else {
            assert_int_equal (rc, -1);
            assert_non_null (strstr (err, "ranges"));
        }
    }
    sf_stream_clear (&s);
}

static void
test_embedded_nul_is_rejected (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"name\": \"cam\\u00001\"}", &s, err), -1);
    assert_int_equal (s_unpack_json ("{\"name\": \"cam1\", \"node\": \"n\\u00002\"}", &s, err), -1);
    assert_int_equal (s_unpack_json ("{\"name\": \"cam1\", \"playback_uuid\": \"a\\u0000b\"}", &s, err), -1);
    assert_non_null (strstr (err, "NUL"));
    sf_stream_clear (&s);
}

static void
test_wrong_field_types_are_rejected (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    const char *bad [] = {
        "\"just a string\"",
        "[1, 2]",
        "{\"name\": 5}",
        "{\"name\": \"c\", \"clients\": \"three\"}",
        "{\"name\": \"c\", \"clients\": 1.5}",
        "{\"name\": \"c\", \"bitrate_kbps\": true}",
        "{\"name\": \"c\", \"started_at\": \"yesterday\"}",
        "{\"name\": \"c\", \"stale\": 1}",
        "{\"name\": \"c\", \"type\": 1}",
        "{\"name\": \"c\", \"status\": [\"active\"]}",
        "{\"name\": \"c\", \"functions\": \"dvr\"}",
        "{\"name\": \"c\", \"functions\": [1]}",
        "{\"name\": \"c\", \"source\": \"rtsp://x\"}",
        "{\"name\": \"c\", \"source\": {\"url\": 5}}",
        "{\"name\": \"c\", \"source\": {\"ping_ms\": \"fast\"}}",
        "{\"name\": \"c\", \"config\": {\"a\": 1}}",
        "{\"name\": \"c\", \"dvr\": []}",
        "{\"name\": \"c\", \"dvr\": {\"ranges\": {}}}",
        "{\"name\": \"c\", \"dvr\": {\"ranges\": [[1]]}}",
        "{\"name\": \"c\", \"dvr\": {\"ranges\": [[1, \"2\"]]}}",
        "{\"name\": \"c\", \"dvr\": {\"ranges\": [5]}}",
        "{\"name\": \"c\", \"dvr\": {\"depth_s\": \"1d\"}}",
        "{\"name\": \"c\", \"media\": \"h264\"}",
        "{\"name\": \"c\", \"media\": {\"fps\": \"25\"}}",
        "{\"name\": \"c\", \"version\": 5}",
        "{\"name\": \"c\", \"version\": [1]}",
        "{\"name\": \"c\", \"version\": [1, -2]}",
        "{\"name\": \"c\", \"transfer\": \"yes\"}",
    };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++) {
        err [0] = 0;
        if (s_unpack_json (bad [i], &s, err) != -1)
            fail_msg ("accepted %s", bad [i]);
        if (!err [0])
            fail_msg ("no reason given for %s", bad [i]);
    }
    sf_stream_clear (&s);
}

static void
test_missing_or_empty_name_is_rejected (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"clients\": 1}", &s, err), -1);
    assert_non_null (strstr (err, "name"));
    assert_int_equal (s_unpack_json ("{\"name\": \"\"}", &s, err), -1);
    sf_stream_clear (&s);
}

static void
test_range_ending_before_it_starts_is_rejected (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"dvr\": {\"ranges\": [[100, 99]]}}", &s, err), -1);
    assert_non_null (strstr (err, "ranges"));
    //  from == to is a one-second range and fine
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"dvr\": {\"ranges\": [[100, 100]]}}", &s, err), 0);
    sf_stream_clear (&s);
}

static void
test_unsorted_ranges_are_normalised_on_decode (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"dvr\": {\"ranges\": "
                                     "[[300, 400], [100, 200], [201, 250], [402, 500]]}}", &s, err), 0);
    assert_int_equal (s.dvr.nranges, 3);
    assert_int_equal (s.dvr.ranges [0].from, 100);
    assert_int_equal (s.dvr.ranges [0].to, 250);
    assert_int_equal (s.dvr.ranges [1].from, 300);
    assert_int_equal (s.dvr.ranges [1].to, 400);
    assert_int_equal (s.dvr.ranges [2].from, 402);
    sf_stream_clear (&s);
}

static void
test_unknown_enum_and_function_names_are_rejected (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"functions\": [\"dvr\", \"teleport\"]}", &s, err), -1);
    assert_non_null (strstr (err, "functions"));
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"status\": \"sleeping\"}", &s, err), -1);
    assert_non_null (strstr (err, "status"));
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"type\": \"tertiary\"}", &s, err), -1);
    assert_non_null (strstr (err, "type"));
    //  function bits beyond dvr|photo|audio
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"functions\": 8}", &s, err), -1);
    //  more than 8 function names
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"functions\": [\"dvr\",\"dvr\",\"dvr\",\"dvr\","
                                     "\"dvr\",\"dvr\",\"dvr\",\"dvr\",\"dvr\"]}", &s, err), -1);
    //  the known names, as names and as bits
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"functions\": [\"audio\", \"photo\"]}", &s, err), 0);
    assert_int_equal (s.functions, SF_FN_AUDIO | SF_FN_PHOTO);
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"functions\": 5}", &s, err), 0);
    assert_int_equal (s.functions, SF_FN_DVR | SF_FN_AUDIO);
    sf_stream_clear (&s);
}

static void
test_negative_and_overflowing_integers_are_rejected (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    const char *bad [] = {
        "{\"name\": \"c\", \"clients\": -1}",
        "{\"name\": \"c\", \"clients\": 4294967296}",
        "{\"name\": \"c\", \"bitrate_kbps\": -5}",
        "{\"name\": \"c\", \"reconnect_total\": 4294967296}",
        "{\"name\": \"c\", \"dvr\": {\"disk_free_bytes\": -1}}",
        "{\"name\": \"c\", \"dvr\": {\"chunk_s\": -1}}",
        "{\"name\": \"c\", \"dvr\": {\"chunk_s\": 2147483648}}",
        "{\"name\": \"c\", \"media\": {\"width\": -1920}}",
        "{\"name\": \"c\", \"media\": {\"height\": 4294967296}}",
    };
    for (size_t i = 0; i < sizeof (bad) / sizeof (bad [0]); i++)
        if (s_unpack_json (bad [i], &s, err) != -1)
            fail_msg ("accepted %s", bad [i]);
    //  started_at is signed: a u64 above INT64_MAX does not fit
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sf_pack_kstr (&pk, "name", "c");
    sf_pack_ku64 (&pk, "started_at", UINT64_MAX);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    msgpack_unpack_next (&u, sbuf.data, sbuf.size, &off);
    assert_int_equal (sf_stream_unpack (&u.data, &s, err), -1);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sbuf);
    //  the largest values that fit are kept exactly
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"clients\": 4294967295, \"started_at\": -5}", &s, err), 0);
    assert_int_equal (s.clients, 4294967295u);
    assert_int_equal (s.started_at, -5);
    sf_stream_clear (&s);
}

static void
test_unknown_keys_are_ignored (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"future_field\": {\"x\": [1, 2]}, "
                                     "\"clients\": 3, \"dvr\": {\"new\": true}, \"7\": null}", &s, err), 0);
    assert_string_equal (s.name, "c");
    assert_int_equal (s.clients, 3);
    //  an envelope body may carry unknown keys too
    const uint8_t env [] = { 0x93, 0x01, 0xa3, 'a', 'c', 'k', 0x81, 0xa3, 'z', 'z', 'z', 0x07 };
    assert_int_equal (s_parse (env, sizeof (env)), SF_REJ_NONE);
    sf_stream_clear (&s);
}

static void
test_nil_fields_count_as_absent (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"name\": \"c\", \"clients\": null, \"source\": null, "
                                     "\"dvr\": null}", &s, err), 0);
    assert_int_equal (s.clients, 0);
    sf_stream_clear (&s);
}

static void
test_decoding_clears_the_previous_record (void **state)
{
    sf_stream_t s;
    s_full_stream (&s);
    char err [SF_ERR_MAX];
    assert_int_equal (s_unpack_json ("{\"name\": \"other\"}", &s, err), 0);
    //  Nothing of the previous record remains (an emptied buffer may be kept)
    assert_true (!s.config || !s.config [0]);
    assert_true (!s.source_url || !s.source_url [0]);
    assert_true (!s.dvr.records_path || !s.dvr.records_path [0]);
    assert_string_equal (s.playback_uuid, "");
    assert_string_equal (s.uid, "other");
    assert_int_equal (s.dvr.nranges, 0);
    assert_int_equal (s.clients, 0);
    sf_stream_clear (&s);
}


//  ---------------------------------------------------------------------------
//  Patches (docs/protocol.md, "patch")

static void
s_pack_full (msgpack_sbuffer *sb, const sf_stream_t *s)
{
    msgpack_sbuffer_clear (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    sf_stream_pack (&pk, s, SF_ENC_FULL);
}

//  The patch from a to b, parsed into u; returns sf_stream_diff's result
static int
s_diff (const msgpack_sbuffer *a, const msgpack_sbuffer *b, msgpack_sbuffer *patch, msgpack_unpacked *u)
{
    msgpack_sbuffer_clear (patch);
    msgpack_packer pk;
    msgpack_packer_init (&pk, patch, msgpack_sbuffer_write);
    int n = sf_stream_diff (&pk, a->data, a->size, b->data, b->size);
    if (n > 0) {
        size_t off = 0;
        assert_int_equal (msgpack_unpack_next (u, patch->data, patch->size, &off), MSGPACK_UNPACK_SUCCESS);
        assert_int_equal (off, patch->size);
    }
    return n;
}

//  Every kind of change: the patch carries only the changed keys, applying
//  it to the old record gives the new one, and splicing the stored bytes
//  gives the new record's bytes exactly
static void
test_patch_round_trip (void **state)
{
    sf_stream_t a, b, c;
    s_full_stream (&a);
    s_full_stream (&b);
    b.clients = 43;
    b.bitrate_kbps = 5000;
    b.dvr.nranges = 0;
    sf_dvr_add_range (&b.dvr, 1700000000, 1700000900);
    msgpack_sbuffer sa, sb, sp, out;
    msgpack_sbuffer_init (&sa);
    msgpack_sbuffer_init (&sb);
    msgpack_sbuffer_init (&sp);
    msgpack_sbuffer_init (&out);
    s_pack_full (&sa, &a);
    s_pack_full (&sb, &b);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (s_diff (&sa, &sb, &sp, &u), 3);
    //  name, clients, bitrate_kbps and dvr: {ranges} only
    const msgpack_object *o = &u.data;
    assert_int_equal (o->type, MSGPACK_OBJECT_MAP);
    assert_int_equal (o->via.map.size, 4);
    const msgpack_object *dvr = sf_map_get (o, "dvr");
    assert_non_null (dvr);
    assert_int_equal (dvr->via.map.size, 1);
    assert_non_null (sf_map_get (dvr, "ranges"));
    assert_null (sf_map_get (o, "config"));
    assert_true (sp.size < 64);
    //  Applied to the decoded old record: the new record
    char err [SF_ERR_MAX];
    sf_stream_init (&c);
    assert_int_equal (s_round_trip (&a, SF_ENC_FULL, &c), 0);
    uint64_t lines = 0;
    assert_int_equal (sf_stream_patch (o, &c, &lines, err), 0);
    assert_int_equal (lines, sf_stream_line ("clients") | sf_stream_line ("bitrate_kbps")
                           | sf_stream_line ("dvr.ranges"));
    s_pack_full (&out, &c);
    assert_int_equal (out.size, sb.size);
    assert_memory_equal (out.data, sb.data, sb.size);
    //  Spliced onto the stored bytes (the patch's lines re-encoded, the rest
    //  copied): the same bytes again
    sf_stream_t p;
    sf_stream_init (&p);
    assert_int_equal (sf_stream_patch (o, &p, &lines, err), 0);
    msgpack_sbuffer_clear (&out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &out, msgpack_sbuffer_write);
    assert_int_equal (sf_stream_splice (&pk, sa.data, sa.size, &p, lines), 0);
    assert_int_equal (out.size, sb.size);
    assert_memory_equal (out.data, sb.data, sb.size);
    //  Nothing changed: no patch
    assert_int_equal (s_diff (&sa, &sa, &sp, &u), 0);
    assert_int_equal (sp.size, 0);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sa);
    msgpack_sbuffer_destroy (&sb);
    msgpack_sbuffer_destroy (&sp);
    msgpack_sbuffer_destroy (&out);
    sf_stream_clear (&a);
    sf_stream_clear (&b);
    sf_stream_clear (&c);
    sf_stream_clear (&p);
}

//  Another placement, or records of another shape, give no patch (-1: send
//  it whole); a splice asked for a line the stored record lacks fails
static void
test_patch_refuses_what_it_cannot_express (void **state)
{
    sf_stream_t a, b;
    s_full_stream (&a);
    s_full_stream (&b);
    SF_STRSET (b.name, "cam-8");
    msgpack_sbuffer sa, sb, sp;
    msgpack_sbuffer_init (&sa);
    msgpack_sbuffer_init (&sb);
    msgpack_sbuffer_init (&sp);
    s_pack_full (&sa, &a);
    s_pack_full (&sb, &b);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    assert_int_equal (s_diff (&sa, &sb, &sp, &u), -1);
    //  The row form lacks the full form's keys
    msgpack_sbuffer_clear (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_stream_pack (&pk, &a, SF_ENC_ROW);
    assert_int_equal (s_diff (&sa, &sb, &sp, &u), -1);
    msgpack_sbuffer_clear (&sp);
    msgpack_packer_init (&pk, &sp, msgpack_sbuffer_write);
    assert_int_equal (sf_stream_splice (&pk, sb.data, sb.size, &a, sf_stream_line ("config")), -1);
    //  Not msgpack at all
    assert_int_equal (sf_stream_splice (&pk, "\xc1", 1, &a, sf_stream_line ("clients")), -1);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sa);
    msgpack_sbuffer_destroy (&sb);
    msgpack_sbuffer_destroy (&sp);
    sf_stream_clear (&a);
    sf_stream_clear (&b);
}

//  A patch is checked as a record is: a bad value, a missing name or one
//  naming another placement is -1
static void
test_patch_values_are_checked (void **state)
{
    struct { const char *json; const char *against; } cases [] = {
        { "{\"name\": \"cam-7\", \"clients\": \"many\"}", NULL },
        { "{\"name\": \"cam-7\", \"clients\": -1}", NULL },
        { "{\"clients\": 3}", NULL },
        { "{\"name\": \"\", \"clients\": 3}", NULL },
        { "{\"name\": \"cam-7\", \"status\": \"sleeping\"}", NULL },
        { "{\"name\": \"cam-7\", \"dvr\": {\"ranges\": [[5, 1]]}}", NULL },
        { "{\"name\": \"cam-7\", \"dvr\": 3}", NULL },
        { "{\"name\": \"cam-8\", \"clients\": 3}", "cam-7" },
    };
    for (size_t i = 0; i < sizeof (cases) / sizeof (cases [0]); i++) {
        json_error_t je;
        json_t *j = json_loads (cases [i].json, 0, &je);
        assert_non_null (j);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init (&sb);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        assert_int_equal (sf_json_to_msgpack (j, &pk), 0);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        size_t off = 0;
        assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
        sf_stream_t s;
        sf_stream_init (&s);
        if (cases [i].against)
            SF_STRSET (s.name, cases [i].against);
        char err [SF_ERR_MAX] = "";
        uint64_t lines;
        if (sf_stream_patch (&u.data, &s, &lines, err) != -1)
            fail_msg ("accepted: %s", cases [i].json);
        assert_true (err [0]);
        sf_stream_clear (&s);
        msgpack_unpacked_destroy (&u);
        msgpack_sbuffer_destroy (&sb);
        json_decref (j);
    }
}


//  docs/protocol.md's worked example of a patch, byte for byte
static void
test_the_protocol_documents_patch_example_decodes (void **state)
{
    static const uint8_t ex [] = {
        0x82, 0xa3, 0x73, 0x65, 0x71, 0x2a, 0xa5, 0x70, 0x61, 0x74, 0x63, 0x68, 0x83, 0xa4, 0x6e,
        0x61, 0x6d, 0x65, 0xa4, 0x63, 0x61, 0x6d, 0x31, 0xa7, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74,
        0x73, 0x07, 0xac, 0x62, 0x69, 0x74, 0x72, 0x61, 0x74, 0x65, 0x5f, 0x6b, 0x62, 0x70, 0x73,
        0xcd, 0x08, 0x34
    };
    assert_int_equal (sizeof (ex), 48);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, (const char *) ex, sizeof (ex), &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (off, sizeof (ex));
    uint64_t seq = 0;
    assert_int_equal (sf_map_u64 (&u.data, "seq", &seq, NULL), 0);
    assert_int_equal (seq, 42);
    const msgpack_object *p = sf_map_get (&u.data, "patch");
    assert_non_null (p);
    sf_stream_t s;
    s_full_stream (&s);
    SF_STRSET (s.name, "cam1");
    char err [SF_ERR_MAX];
    uint64_t lines = 0;
    assert_int_equal (sf_stream_patch (p, &s, &lines, err), 0);
    assert_int_equal (lines, sf_stream_line ("clients") | sf_stream_line ("bitrate_kbps"));
    assert_int_equal (s.clients, 7);
    assert_int_equal (s.bitrate_kbps, 2100);
    assert_int_equal (s.reconnect_total, 9);        //  the rest as it was
    sf_stream_clear (&s);
    msgpack_unpacked_destroy (&u);
}

//  The type of an envelope, read from its first bytes only: a short and a
//  str-8 type; anything that does not start like [version, type, ...] is
//  not guessed at
static void
test_peek_type_reads_the_envelope_s_type_only (void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "delta", 1);
    sf_pack_kstr (&pk, "from", "c2");
    char type [32];
    assert_int_equal (sf_msg_peek_type (sb.data, sb.size, type, sizeof (type)), 0);
    assert_string_equal (type, "delta");
    //  Its first bytes are enough: the body is not read
    assert_int_equal (sf_msg_peek_type (sb.data, 8, type, sizeof (type)), 0);
    assert_string_equal (type, "delta");
    assert_int_equal (sf_msg_peek_type (sb.data, 5, type, sizeof (type)), -1);
    //  A type of 31 bytes (str 8) fits 32; no room for it in 8
    msgpack_sbuffer_clear (&sb);
    sf_msg_begin (&pk, "abcdefghijklmnopqrstuvwxyz01234", 0);
    assert_int_equal (sf_msg_peek_type (sb.data, sb.size, type, sizeof (type)), 0);
    assert_string_equal (type, "abcdefghijklmnopqrstuvwxyz01234");
    assert_int_equal (sf_msg_peek_type (sb.data, sb.size, type, 8), -1);
    //  Not an envelope
    const uint8_t map [] = { 0x81, 0xa1, 't', 0x01 };
    assert_int_equal (sf_msg_peek_type (map, sizeof (map), type, sizeof (type)), -1);
    const uint8_t num_type [] = { 0x93, 0x01, 0x05, 0x80 };
    assert_int_equal (sf_msg_peek_type (num_type, sizeof (num_type), type, sizeof (type)), -1);
    const uint8_t nul [] = { 0x93, 0x01, 0xa2, 'a', 0, 0x80 };
    assert_int_equal (sf_msg_peek_type (nul, sizeof (nul), type, sizeof (type)), -1);
    msgpack_sbuffer_destroy (&sb);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_stream_full_round_trip_keeps_every_field),
        cmocka_unit_test (test_stream_row_round_trip_keeps_listing_fields_only),
        cmocka_unit_test (test_stream_derived_fields_travel_only_when_asked),
        cmocka_unit_test (test_stream_uid_defaults_to_name),
        cmocka_unit_test (test_node_round_trip_keeps_every_field),
        cmocka_unit_test (test_node_without_id_is_rejected),
        cmocka_unit_test (test_usage_round_trip),
        cmocka_unit_test (test_usage_with_too_many_disks_is_rejected),
        cmocka_unit_test (test_envelope_round_trip),
        cmocka_unit_test (test_small_messages_round_trip),
        cmocka_unit_test (test_envelope_not_msgpack_is_malformed),
        cmocka_unit_test (test_envelope_truncated_is_malformed),
        cmocka_unit_test (test_envelope_with_trailing_bytes_is_malformed),
        cmocka_unit_test (test_envelope_of_wrong_shape_is_malformed),
        cmocka_unit_test (test_envelope_wrong_version_is_rejected_as_version),
        cmocka_unit_test (test_envelope_non_string_type_is_malformed),
        cmocka_unit_test (test_envelope_body_not_a_map_is_malformed),
        cmocka_unit_test (test_container_claiming_more_elements_than_bytes_is_rejected),
        cmocka_unit_test (test_frame_larger_than_16_mib_is_rejected_as_bounds),
        cmocka_unit_test (test_reject_names_are_the_wire_codes),
        cmocka_unit_test (test_oversized_strings_are_rejected_for_each_bounded_field),
        cmocka_unit_test (test_bound_values_match_the_design),
        cmocka_unit_test (test_more_than_8192_ranges_are_rejected),
        cmocka_unit_test (test_embedded_nul_is_rejected),
        cmocka_unit_test (test_wrong_field_types_are_rejected),
        cmocka_unit_test (test_missing_or_empty_name_is_rejected),
        cmocka_unit_test (test_range_ending_before_it_starts_is_rejected),
        cmocka_unit_test (test_unsorted_ranges_are_normalised_on_decode),
        cmocka_unit_test (test_unknown_enum_and_function_names_are_rejected),
        cmocka_unit_test (test_negative_and_overflowing_integers_are_rejected),
        cmocka_unit_test (test_unknown_keys_are_ignored),
        cmocka_unit_test (test_nil_fields_count_as_absent),
        cmocka_unit_test (test_decoding_clears_the_previous_record),
        cmocka_unit_test (test_patch_round_trip),
        cmocka_unit_test (test_patch_refuses_what_it_cannot_express),
        cmocka_unit_test (test_patch_values_are_checked),
        cmocka_unit_test (test_the_protocol_documents_patch_example_decodes),
        cmocka_unit_test (test_peek_type_reads_the_envelope_s_type_only),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

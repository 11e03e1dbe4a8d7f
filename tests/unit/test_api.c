/*  test_api.c — the one reply path (controller/api.c, controller/reply.c,
    include/sf_api.h) over a real in-process store (fixture_fleet.h).

    Pins down every request type's answer and shape (docs/http-api.md), that
    absent values are nil (JSON null) and never -1 or "", that every bad
    field answers the documented error code naming the field, that numbers
    may come as decimal text (the HTTP API's query arguments) but strictly,
    that the reply builder's self-counted containers decode, and that the
    JSON rendering repairs invalid UTF-8 rather than emitting invalid JSON.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "fixture_fleet.h"
#include "sf_api.h"
#include "sf_feed.h"
#include "sf_mpjson.h"
#include "sf_reply.h"

static int
s_setup (void **state)
{
    static fx_fleet_t fx;
    if (fx_fleet_init (&fx))
        return -1;
    *state = &fx;
    return 0;
}

static int
s_teardown (void **state)
{
    fx_fleet_destroy (*state);
    return 0;
}

typedef struct {
    int rc;
    char type [32];
    json_t *body;               //  the reply's body as JSON (the HTTP rendering)
} s_answer_t;

//  Asks type with a body given as JSON text (NULL: no body)
static s_answer_t
s_ask (fx_fleet_t *fx, const char *type, const char *body)
{
    s_answer_t a;
    memset (&a, 0, sizeof (a));
    msgpack_sbuffer req, reply;
    msgpack_sbuffer_init (&req);
    msgpack_sbuffer_init (&reply);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    const msgpack_object *obj = NULL;
    if (body) {
        json_error_t jerr;
        json_t *j = json_loads (body, 0, &jerr);
        assert_non_null (j);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
        assert_int_equal (sf_json_to_msgpack (j, &pk), 0);
        json_decref (j);
        size_t off = 0;
        assert_int_equal (msgpack_unpack_next (&u, req.data, req.size, &off), MSGPACK_UNPACK_SUCCESS);
        obj = &u.data;
    }
    a.rc = sf_api_answer (&fx->ctx, type, obj, &reply);
    sf_msg_t msg;
    sf_msg_init (&msg);
    //  Every reply is one well-formed protocol message
    assert_int_equal (sf_msg_parse (&msg, reply.data, reply.size), 0);
    snprintf (a.type, sizeof (a.type), "%s", msg.type);
    a.body = sf_mpjson (msg.body);
    assert_non_null (a.body);
    sf_msg_release (&msg);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&req);
    msgpack_sbuffer_destroy (&reply);
    return a;
}

static json_t *
s_get (json_t *j, const char *path)
{
    //  "a.b.0.c"
    char buf [128];
    snprintf (buf, sizeof (buf), "%s", path);
    for (char *p = strtok (buf, "."); p && j; p = strtok (NULL, ".")) {
        if (json_is_array (j))
            j = json_array_get (j, (size_t) atoi (p));
        else
            j = json_object_get (j, p);
    }
    return j;
}

static int64_t
s_int (json_t *j, const char *path)
{
    json_t *v = s_get (j, path);
    assert_true (json_is_integer (v));
    return json_integer_value (v);
}

static const char *
s_str (json_t *j, const char *path)
{
    json_t *v = s_get (j, path);
    assert_true (json_is_string (v));
    return json_string_value (v);
}

static void
s_null (json_t *j, const char *path)
{
    json_t *v = s_get (j, path);
    assert_non_null (v);                //  present, and null
    assert_true (json_is_null (v));
}

//  The error code of an answer, checking its shape
static void
s_error_is (fx_fleet_t *fx, const char *type, const char *body, const char *code,
            const char *says)
{
    s_answer_t a = s_ask (fx, type, body);
    if (a.rc != -1 || strcmp (a.type, "error") != 0 || !s_get (a.body, "code")
    ||  strcmp (s_str (a.body, "code"), code) != 0)
        fail_msg ("%s %s: want %s, got %s %s", type, body ? body : "", code, a.type,
                  json_dumps (a.body, JSON_COMPACT));
    if (says && !strstr (s_str (a.body, "message"), says))
        fail_msg ("%s %s: message '%s' lacks '%s'", type, body, s_str (a.body, "message"), says);
    json_decref (a.body);
}

//  -------------------------------------------------------------------------

static void
test_list_answers_the_documented_shape (void **state)
{
    s_answer_t a = s_ask (*state, "list", "{\"limit\": 2}");
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "list_reply");
    const char *keys [] = { "total", "offset", "limit", "count", "next_cursor", "prev_cursor", "next_after",
                            "filter", "sort", "now", "streams", NULL };
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach (a.body, key, v)
        assert_string_equal (key, keys [i++]);
    assert_null (keys [i]);
    assert_int_equal (s_int (a.body, "total"), FX_STREAMS);
    assert_int_equal (s_int (a.body, "count"), 2);
    assert_string_equal (s_str (a.body, "next_cursor"), "2");
    s_null (a.body, "prev_cursor");
    assert_string_equal (s_str (a.body, "sort"), "name");
    //  A row: the listing's fields, nulls for what is absent
    json_t *row = s_get (a.body, "streams.0");
    assert_string_equal (s_str (row, "name"), "Lobby");
    assert_string_equal (s_str (row, "uid"), "Lobby");
    assert_string_equal (s_str (row, "source.url"), "rtsp://10.0.0.9/lobby");
    assert_int_equal (s_int (row, "source.ping_ms"), 12);
    assert_null (s_get (row, "source.sdp"));           //  detail only
    assert_null (s_get (row, "config"));
    assert_int_equal (s_int (row, "reconnects.total"), 2);
    assert_int_equal (s_int (row, "version.seq"), 4);
    assert_int_equal (s_int (row, "uptime_s"), s_int (a.body, "now") - s_int (row, "started_at"));
    s_null (row, "playback_uuid");
    s_null (row, "migrated_to");
    json_t *cam = s_get (a.body, "streams.1");
    s_null (cam, "source.url");
    s_null (cam, "source.ping_ms");
    json_decref (a.body);
    //  The next page from the cursor, given as text (HTTP's way)
    a = s_ask (*state, "list", "{\"limit\": \"2\", \"cursor\": \"2\", \"sort\": \"\"}");
    assert_int_equal (s_int (a.body, "offset"), 2);
    assert_string_equal (s_str (a.body, "prev_cursor"), "0");
    assert_string_equal (s_str (a.body, "streams.0.node"), "n2");
    json_decref (a.body);
    //  offset is the same position
    a = s_ask (*state, "list", "{\"limit\": 1, \"offset\": 6}");
    assert_string_equal (s_str (a.body, "streams.0.name"), "zoo");
    s_null (a.body, "next_cursor");
    json_decref (a.body);
}

static void
test_list_filters_through_the_shared_evaluator (void **state)
{
    s_answer_t a = s_ask (*state, "list", "{\"filter\": \"secondary,dvr\", \"sort\": \"node\"}");
    assert_int_equal (s_int (a.body, "total"), 2);
    assert_string_equal (s_str (a.body, "filter"), "secondary,dvr");
    assert_string_equal (s_str (a.body, "streams.0.node"), "n1");
    assert_string_equal (s_str (a.body, "streams.1.node"), "n2");
    json_decref (a.body);
    a = s_ask (*state, "list", "{\"node\": \"n3\"}");
    assert_string_equal (s_str (a.body, "streams.0.status"), "offline");
    assert_int_equal (s_int (a.body, "streams.0.uptime_s"), 0);
    json_decref (a.body);
    a = s_ask (*state, "list", "{\"limit\": 0}");
    assert_int_equal (s_int (a.body, "total"), FX_STREAMS);
    assert_int_equal (json_array_size (s_get (a.body, "streams")), 0);
    s_null (a.body, "next_cursor");
    json_decref (a.body);
}

static void
test_list_bad_fields_answer_their_codes (void **state)
{
    fx_fleet_t *fx = *state;
    s_error_is (fx, "list", "{\"filter\": \"primary,bogus\"}", "bad_filter", "bogus");
    s_error_is (fx, "list", "{\"filter\": 7}", "bad_filter", "text");
    char body [400];
    snprintf (body, sizeof (body), "{\"name\": \"%0300d\"}", 0);
    s_error_is (fx, "list", body, "bad_name", "longer than");
    s_error_is (fx, "list", "{\"node\": true}", "bad_node", NULL);
    s_error_is (fx, "list", "{\"sort\": \"colour\"}", "bad_sort", "colour");
    s_error_is (fx, "list", "{\"limit\": \"ten\"}", "bad_limit", "'ten'");
    s_error_is (fx, "list", "{\"limit\": \"10abc\"}", "bad_limit", NULL);
    s_error_is (fx, "list", "{\"limit\": -1}", "bad_limit", NULL);
    s_error_is (fx, "list", "{\"limit\": 10001}", "bad_limit", "0 to 10000");
    s_error_is (fx, "list", "{\"limit\": 1.5}", "bad_limit", NULL);
    s_error_is (fx, "list", "{\"cursor\": \"-5\"}", "bad_cursor", "start again");
    s_error_is (fx, "list", "{\"offset\": \"x\"}", "bad_cursor", NULL);
    char after [SF_READMODEL_CURSOR_MAX + 100];
    snprintf (after, sizeof (after), "{\"after\": \"%0*d\"}", SF_READMODEL_CURSOR_MAX + 2, 0);
    s_error_is (fx, "list", after, "bad_cursor", "start again");
    s_error_is (fx, "list", "{\"after\": 12}", "bad_cursor", NULL);
}

static void
test_detail_answers_every_placement_with_history (void **state)
{
    s_answer_t a = s_ask (*state, "detail", "{\"name\": \"cam-a\"}");
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "detail_reply");
    assert_string_equal (s_str (a.body, "name"), "cam-a");
    assert_int_equal (s_int (a.body, "count"), 2);
    assert_true (json_is_array (s_get (a.body, "history")));
    assert_non_null (s_get (a.body, "current"));
    json_t *pl = s_get (a.body, "placements");
    json_t *on1 = strcmp (s_str (pl, "0.node"), "n1") == 0 ? json_array_get (pl, 0) : json_array_get (pl, 1);
    assert_string_equal (s_str (on1, "node_liveness"), "alive");
    assert_string_equal (s_str (on1, "node_addr_external"), "media1.example.net");
    assert_string_equal (s_str (on1, "config"), "stream cam-a {}\n");
    s_null (on1, "config_path");
    s_null (on1, "source.sdp");
    assert_string_equal (s_str (on1, "dvr.records_path"), "/var/dvr/cam-a");
    assert_int_equal (s_int (on1, "dvr.ranges.1.to") - s_int (on1, "dvr.ranges.1.from"),
                      s_int (on1, "dvr.ranges.1.duration_s"));
    char want [128];
    snprintf (want, sizeof (want), "rtsp://media1.example.net:554/cam-a?from=%d&to=%d",
              FX_NOW_S - 7200, FX_NOW_S - 3600);
    assert_string_equal (s_str (on1, "dvr.ranges.0.rtsp"), want);
    assert_string_equal (s_str (on1, "links.rtsp"), "rtsp://media1.example.net:554/cam-a");
    s_null (on1, "media.vcodec");
    json_decref (a.body);
    a = s_ask (*state, "detail", "{\"name\": \"cam-a\", \"node\": \"n2\"}");
    assert_int_equal (s_int (a.body, "count"), 1);
    assert_string_equal (s_str (a.body, "placements.0.node"), "n2");
    json_decref (a.body);
}

static void
test_detail_bad_fields_answer_their_codes (void **state)
{
    fx_fleet_t *fx = *state;
    s_error_is (fx, "detail", NULL, "bad_name", "needs a stream name");
    s_error_is (fx, "detail", "{\"name\": \"\"}", "bad_name", "needs a stream name");
    s_error_is (fx, "detail", "{\"name\": 5}", "bad_name", NULL);
    s_error_is (fx, "detail", "{\"name\": \"cam-a\", \"node\": [1]}", "bad_node", NULL);
    s_error_is (fx, "detail", "{\"name\": \"nothing\"}", "not_found", "no stream named 'nothing'");
    s_error_is (fx, "detail", "{\"name\": \"gate\", \"node\": \"n1\"}", "not_found", "'n1'");
}

static void
test_dvr_answers_the_timeline_and_the_moment (void **state)
{
    s_answer_t a = s_ask (*state, "dvr", "{\"name\": \"cam-a\"}");
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "dvr_reply");
    assert_int_equal (s_int (a.body, "count"), 2);
    assert_string_equal (s_str (a.body, "ranges.0.node"), "n1");
    assert_null (s_get (a.body, "holder"));                 //  only with at
    json_decref (a.body);
    char body [128];
    snprintf (body, sizeof (body), "{\"name\": \"cam-a\", \"at\": \"%d\"}", FX_NOW_S - 7000);
    a = s_ask (*state, "dvr", body);
    assert_int_equal (s_int (a.body, "at"), FX_NOW_S - 7000);
    assert_int_equal (s_int (a.body, "holder.offset_s"), 200);
    char want [128];
    snprintf (want, sizeof (want), "from=%d&", FX_NOW_S - 7000);
    assert_non_null (strstr (s_str (a.body, "holder.playback.rtsp"), want));
    s_null (a.body, "before");
    s_null (a.body, "after");
    json_decref (a.body);
    snprintf (body, sizeof (body), "{\"name\": \"cam-a\", \"at\": %d}", FX_NOW_S - 3000);
    a = s_ask (*state, "dvr", body);
    s_null (a.body, "holder");
    assert_int_equal (s_int (a.body, "before.to"), FX_NOW_S - 3600);
    assert_int_equal (s_int (a.body, "after.from"), FX_NOW_S - 1800);
    json_decref (a.body);
}

static void
test_dvr_bad_fields_answer_their_codes (void **state)
{
    fx_fleet_t *fx = *state;
    s_error_is (fx, "dvr", "{}", "bad_name", "needs a stream name");
    s_error_is (fx, "dvr", "{\"name\": \"cam-a\", \"at\": \"yesterday\"}", "bad_time", "'yesterday'");
    s_error_is (fx, "dvr", "{\"name\": \"cam-a\", \"at\": true}", "bad_time", NULL);
    s_error_is (fx, "dvr", "{\"name\": \"nothing\"}", "not_found", NULL);
}

static void
test_nodes_answers_every_node_or_one (void **state)
{
    s_answer_t a = s_ask (*state, "nodes", NULL);
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "nodes_reply");
    assert_int_equal (s_int (a.body, "count"), 3);
    assert_int_equal (s_int (a.body, "liveness.alive"), 2);
    assert_int_equal (s_int (a.body, "liveness.down"), 1);
    json_t *nodes = s_get (a.body, "nodes");
    for (size_t i = 0; i < json_array_size (nodes); i++) {
        json_t *n = json_array_get (nodes, i);
        s_null (n, "limits.max_primary_streams");           //  0: no limit
        s_null (n, "templates.rtsp");
        assert_true (json_is_integer (s_get (n, "counts.streams")));
    }
    json_decref (a.body);
    a = s_ask (*state, "nodes", "{\"id\": \"n1\"}");
    assert_string_equal (a.type, "node_reply");
    assert_string_equal (s_str (a.body, "id"), "n1");
    assert_int_equal (s_int (a.body, "counts.streams"), 3);
    assert_string_equal (s_str (a.body, "addr_external"), "media1.example.net");
    s_null (a.body, "addr_internal");
    json_decref (a.body);
    s_error_is (*state, "nodes", "{\"id\": \"n9\"}", "not_found", "'n9'");
    char body [200];
    snprintf (body, sizeof (body), "{\"id\": \"%080d\"}", 0);
    s_error_is (*state, "nodes", body, "bad_node", "longer than");
}

static void
test_migrations_answers_counts_and_events (void **state)
{
    s_answer_t a = s_ask (*state, "migrations", "{\"limit\": 5}");
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "migrations_reply");
    assert_int_equal (s_int (a.body, "transfer_timeout_s"), 120);
    const char *kinds [] = { "transfer_started", "migrated", "failover", "transfer_stuck", "returned" };
    for (int k = 0; k < 5; k++)
        assert_true (json_is_integer (s_get (s_get (a.body, "counts"), kinds [k])));
    assert_int_equal (s_int (a.body, "count"), (int64_t) json_array_size (s_get (a.body, "events")));
    json_decref (a.body);
    a = s_ask (*state, "migrations", "{\"limit\": 0, \"kind\": \"migrated\", \"stream\": \"cam-a\", \"since_s\": \"60\"}");
    assert_int_equal (a.rc, 0);
    assert_int_equal (s_int (a.body, "count"), 0);
    json_decref (a.body);
}

static void
test_migrations_bad_fields_answer_their_codes (void **state)
{
    fx_fleet_t *fx = *state;
    s_error_is (fx, "migrations", "{\"kind\": \"teleported\"}", "bad_kind", "teleported");
    s_error_is (fx, "migrations", "{\"limit\": 100001}", "bad_limit", "0 to 100000");
    s_error_is (fx, "migrations", "{\"limit\": \"many\"}", "bad_limit", NULL);
    s_error_is (fx, "migrations", "{\"since_s\": \"an hour\"}", "bad_time", "seconds");
    s_error_is (fx, "migrations", "{\"since_s\": -5}", "bad_time", NULL);
    char body [400];
    snprintf (body, sizeof (body), "{\"stream\": \"%0200d\"}", 0);
    s_error_is (fx, "migrations", body, "bad_name", NULL);
    s_error_is (fx, "migrations", "{\"node\": 3}", "bad_node", NULL);
    s_error_is (fx, "migrations", "{\"start\": \"monday\"}", "bad_time", "unix seconds");
    s_error_is (fx, "migrations", "{\"end\": -1}", "bad_time", "unix seconds");
    s_error_is (fx, "migrations", "{\"start\": 200, \"end\": 100}", "bad_time", "must be before end");
    s_error_is (fx, "migrations", "{\"after\": \"not-a-cursor\"}", "bad_cursor", "next_after");
    s_error_is (fx, "migrations", "{\"after\": 12}", "bad_cursor", NULL);
}

//  changes: the change feed after a cursor (controller/changes.c); a
//  controller without a feed says so
static void
test_changes_answers_the_feed_and_its_bad_fields (void **state)
{
    fx_fleet_t *fx = *state;
    s_error_is (fx, "changes", NULL, "bad_request", "no change feed");
    fx->ctx.feed = sf_feed_new (64);
    sf_feed_push_node (fx->ctx.feed, "n3", "down");
    //  From the start: nothing listed, a cursor at the head
    s_answer_t a = s_ask (fx, "changes", NULL);
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "changes_reply");
    assert_int_equal (json_array_size (s_get (a.body, "changes")), 0);
    char cursor [64];
    snprintf (cursor, sizeof (cursor), "%s", s_str (a.body, "cursor"));
    json_decref (a.body);
    //  After it: the next change, and changed
    sf_feed_push_node (fx->ctx.feed, "n1", "suspect");
    char body [160];
    snprintf (body, sizeof (body), "{\"after\": \"%s\", \"max\": 10}", cursor);
    a = s_ask (fx, "changes", body);
    assert_int_equal (a.rc, 0);
    assert_int_equal (json_array_size (s_get (a.body, "changes")), 1);
    assert_true (json_is_true (s_get (a.body, "changed")));
    json_decref (a.body);
    s_error_is (fx, "changes", "{\"after\": \"nonsense\"}", "bad_cursor", "EPOCH-SEQ");
    s_error_is (fx, "changes", "{\"after\": 5}", "bad_cursor", NULL);
    s_error_is (fx, "changes", "{\"max\": 10001}", "bad_limit", "0 to 10000");
    s_error_is (fx, "changes", "{\"max\": \"all\"}", "bad_limit", "'all'");
    s_error_is (fx, "changes", "{\"wait_ms\": \"soon\"}", "bad_wait", "'soon'");
    s_error_is (fx, "changes", "{\"wait_ms\": 600001}", "bad_wait", "0 to 600000");
    sf_feed_destroy (&fx->ctx.feed);
}

//  alerts: without rules an empty answer of the documented shape; a bad
//  stream or node field answers its code
static void
test_alerts_answers_without_rules_and_its_bad_fields (void **state)
{
    fx_fleet_t *fx = *state;
    s_answer_t a = s_ask (fx, "alerts", "{\"stream\": \"cam-a\", \"node\": \"n1\"}");
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "alerts_reply");
    assert_int_equal (json_array_size (s_get (a.body, "rules")), 0);
    assert_int_equal (json_array_size (s_get (a.body, "firing")), 0);
    assert_true (json_is_array (s_get (a.body, "recent")));
    json_decref (a.body);
    s_error_is (fx, "alerts", "{\"stream\": [1]}", "bad_name", NULL);
    s_error_is (fx, "alerts", "{\"node\": false}", "bad_node", NULL);
    char body [400];
    snprintf (body, sizeof (body), "{\"node\": \"%0200d\"}", 0);
    s_error_is (fx, "alerts", body, "bad_node", "longer than");
}

static void
test_cluster_alone_is_a_cluster_of_one (void **state)
{
    s_answer_t a = s_ask (*state, "cluster", NULL);
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "cluster_reply");
    assert_int_equal (json_array_size (s_get (a.body, "members")), 1);
    assert_true (json_is_true (s_get (a.body, "members.0.self")));
    assert_int_equal (s_int (a.body, "nodes.total"), 3);
    assert_int_equal (s_int (a.body, "nodes.down"), 1);
    assert_int_equal (s_int (a.body, "streams"), FX_STREAMS);
    s_null (a.body, "http");
    json_decref (a.body);
}

static void
test_an_unknown_request_type_is_bad_request (void **state)
{
    s_error_is (*state, "frobnicate", NULL, "bad_request", "'frobnicate'");
}

static void
test_error_codes_map_to_http_statuses (void **state)
{
    assert_int_equal (sf_api_http_status ("bad_limit"), 400);
    assert_int_equal (sf_api_http_status ("bad_request"), 400);
    assert_int_equal (sf_api_http_status ("not_found"), 404);
    assert_int_equal (sf_api_http_status ("store_unavailable"), 503);
    assert_int_equal (sf_api_http_status ("query_failed"), 500);
}

//  The builder counts what it writes: nested maps and arrays of any size
static void
test_reply_builder_counts_its_containers (void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sf_reply_t r;
    sf_reply_begin (&r, &sb, "test_reply");
    sf_reply_kint (&r, "a", -1);
    sf_reply_key (&r, "list");
    sf_reply_array (&r);
    for (int i = 0; i < 70000; i++)
        sf_reply_uint (&r, (uint64_t) i);
    sf_reply_close (&r);
    sf_reply_key (&r, "m");
    sf_reply_map (&r);
    sf_reply_knil (&r, "x");
    sf_reply_ktext (&r, "empty", "");
    sf_reply_kstr (&r, "s", "v");
    sf_reply_close (&r);
    sf_reply_end (&r);
    sf_msg_t msg;
    sf_msg_init (&msg);
    assert_int_equal (sf_msg_parse (&msg, sb.data, sb.size), 0);
    assert_string_equal (msg.type, "test_reply");
    assert_int_equal (msg.body->via.map.size, 3);
    json_t *j = sf_mpjson (msg.body);
    assert_int_equal (json_array_size (s_get (j, "list")), 70000);
    assert_int_equal (s_int (j, "list.69999"), 69999);
    s_null (j, "m.x");
    s_null (j, "m.empty");
    assert_string_equal (s_str (j, "m.s"), "v");
    json_decref (j);
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&sb);
}

//  An agent's odd bytes still give valid JSON, with U+FFFD in their place
static void
test_json_rendering_repairs_invalid_utf8 (void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sf_reply_t r;
    sf_reply_begin (&r, &sb, "x");
    sf_reply_kstr (&r, "name", "cam\xff\xfe-1");
    sf_reply_key (&r, "nul");
    sf_reply_strn (&r, "a\0b", 3);
    sf_reply_end (&r);
    sf_msg_t msg;
    sf_msg_init (&msg);
    assert_int_equal (sf_msg_parse (&msg, sb.data, sb.size), 0);
    char *text = sf_mpjson_dumps (msg.body, false, NULL);
    assert_non_null (text);
    json_error_t jerr;
    json_t *back = json_loads (text, 0, &jerr);
    assert_non_null (back);
    assert_string_equal (json_string_value (json_object_get (back, "name")), "cam\xef\xbf\xbd\xef\xbf\xbd-1");
    assert_string_equal (json_string_value (json_object_get (back, "nul")), "ab");
    json_decref (back);
    free (text);
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&sb);
}

//  The stream entity, list row and detail, byte for byte as docs/http-api.md
//  documents it: keys, order, nesting and nulls. The encoder derives it from
//  the field table's REPLY column (include/sf_fields.h); this pins that the
//  derivation writes what the hand-written encoder wrote before it
static char *
s_stream_json (const sf_stream_t *s, int flags, int64_t now)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sf_reply_t r;
    sf_reply_start (&r, &sb, "x");
    sf_reply_stream (&r, s, NULL, flags, now);
    sf_reply_end (&r);
    sf_msg_t msg;
    sf_msg_init (&msg);
    assert_int_equal (sf_msg_parse (&msg, sb.data, sb.size), 0);
    char *text = sf_mpjson_dumps (msg.body, false, NULL);
    assert_non_null (text);
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&sb);
    return text;
}

static void
test_stream_entity_is_the_documented_json_exactly (void **state)
{
    (void) state;
    sf_stream_t s;
    sf_stream_init (&s);
    snprintf (s.name, sizeof (s.name), "cam-1");
    snprintf (s.node, sizeof (s.node), "n1");
    snprintf (s.transferred_from, sizeof (s.transferred_from), "n0");
    snprintf (s.media.vcodec, sizeof (s.media.vcodec), "h264");
    s.type = SF_TYPE_SECONDARY;
    s.status = SF_STATUS_ACTIVE;
    s.transfer = true;
    s.functions = SF_FN_DVR | SF_FN_AUDIO;
    s.clients = 3;
    s.bitrate_kbps = 2500;
    s.started_at = 1000;
    s.reconnect_attempts = 1;
    s.reconnect_total = 4;
    s.ping_ms = -1;
    s.version.gen = 2;
    s.version.seq = 9;
    s.dvr.depth_s = 86400;
    s.dvr.chunk_s = 6;
    s.dvr.disk_free_bytes = 500;
    s.media.width = 1920;
    s.media.height = 1080;
    s.media.fps = 25.5;
    sf_text_set (&s.source_url, "rtsp://src/1");
    sf_text_set (&s.source_sdp, "v=0");
    sf_text_set (&s.config, "cfg");
    sf_text_set (&s.dvr.records_path, "/dvr");
    assert_int_equal (sf_dvr_add_range (&s.dvr, 1000, 1060), 0);
    const char *row =
        "{\"name\":\"cam-1\",\"uid\":\"cam-1\",\"node\":\"n1\",\"type\":\"secondary\",\"status\":\"active\","
        "\"transfer\":true,\"conflict\":false,\"functions\":[\"dvr\",\"audio\"],\"clients\":3,"
        "\"bitrate_kbps\":2500,\"started_at\":1000,\"uptime_s\":600,\"reconnects\":{\"attempts\":1,\"total\":4},"
        "\"source\":{\"url\":\"rtsp://src/1\",\"ping_ms\":null},\"playback_uuid\":null,\"stale\":false,"
        "\"migrated_to\":null,\"transferred_from\":\"n0\",\"version\":{\"gen\":2,\"seq\":9}}";
    char *text = s_stream_json (&s, SF_REPLY_ROW, 1600);
    assert_string_equal (text, row);
    free (text);
    const char *detail =
        "{\"name\":\"cam-1\",\"uid\":\"cam-1\",\"node\":\"n1\",\"type\":\"secondary\",\"status\":\"active\","
        "\"transfer\":true,\"conflict\":false,\"functions\":[\"dvr\",\"audio\"],\"clients\":3,"
        "\"bitrate_kbps\":2500,\"started_at\":1000,\"uptime_s\":600,\"reconnects\":{\"attempts\":1,\"total\":4},"
        "\"source\":{\"url\":\"rtsp://src/1\",\"sdp\":\"v=0\",\"ping_ms\":null},\"playback_uuid\":null,"
        "\"stale\":false,\"migrated_to\":null,\"transferred_from\":\"n0\",\"version\":{\"gen\":2,\"seq\":9},"
        "\"config\":\"cfg\",\"config_path\":null,\"dvr\":{\"records_path\":\"/dvr\",\"depth_s\":86400,"
        "\"chunk_s\":6,\"disk_free_bytes\":500,\"memory_bytes\":0,\"current_from\":null,\"ranges\":"
        "[{\"from\":1000,\"to\":1060,\"duration_s\":60,\"rtsp\":null,\"hls\":null}]},\"media\":"
        "{\"vcodec\":\"h264\",\"width\":1920,\"height\":1080,\"fps\":25.5,\"acodec\":null},\"links\":null,"
        "\"node_liveness\":null,\"node_addr_external\":null}";
    text = s_stream_json (&s, SF_REPLY_DETAIL, 1600);
    assert_string_equal (text, detail);
    free (text);
    //  Not running: no uptime; a known ping and a running recording show
    s.status = SF_STATUS_SUSPEND;
    s.ping_ms = 12;
    s.dvr.current_from = 1500;
    snprintf (s.uid, sizeof (s.uid), "u-1");
    text = s_stream_json (&s, SF_REPLY_DETAIL, 1600);
    assert_non_null (strstr (text, "\"uid\":\"u-1\""));
    assert_non_null (strstr (text, "\"status\":\"suspend\""));
    assert_non_null (strstr (text, "\"uptime_s\":0,"));
    assert_non_null (strstr (text, "\"ping_ms\":12}"));
    assert_non_null (strstr (text, "\"current_from\":1500,"));
    free (text);
    sf_stream_clear (&s);
}

static char *
s_node_json (const sf_node_t *n, int64_t now)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sf_reply_t r;
    sf_reply_start (&r, &sb, "x");
    sf_reply_node (&r, n, now);
    sf_reply_end (&r);
    sf_msg_t msg;
    sf_msg_init (&msg);
    assert_int_equal (sf_msg_parse (&msg, sb.data, sb.size), 0);
    char *text = sf_mpjson_dumps (msg.body, false, NULL);
    assert_non_null (text);
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&sb);
    return text;
}

//  The node entity, byte for byte as docs/http-api.md shows it (pinned on
//  the hand-written encoder before the field table's REPLY lines wrote it)
static void
test_node_entity_is_the_documented_json_exactly (void **state)
{
    (void) state;
    sf_node_t n;
    sf_node_init (&n);
    snprintf (n.id, sizeof (n.id), "node-a");
    snprintf (n.addr_internal, sizeof (n.addr_internal), "10.0.0.1");
    snprintf (n.group, sizeof (n.group), "public");
    n.max_in_kbps = 5000;
    snprintf (n.software_version, sizeof (n.software_version), "1.2");
    n.started_at = 1000;
    snprintf (n.rtsp_template, sizeof (n.rtsp_template), "rtsp://{addr}/{name}");
    snprintf (n.hls_dvr_template, sizeof (n.hls_dvr_template), "http://{addr}/{name}/dvr");
    n.cpu_pct = 12.5;
    n.mem_used_bytes = 1000;
    n.mem_total_bytes = 2000;
    n.in_kbps = 300;
    n.out_kbps = 400;
    snprintf (n.bandwidth_source, sizeof (n.bandwidth_source), "streams");
    n.ndisks = 1;
    snprintf (n.disks [0].mount, sizeof (n.disks [0].mount), "/");
    n.disks [0].free_bytes = 10;
    n.disks [0].total_bytes = 20;
    n.heartbeat = 99;
    n.stale = true;
    n.version.gen = 3;
    n.version.seq = 4;
    n.liveness = SF_LIVE_SUSPECT;
    n.heartbeat_age_ms = 1500;
    n.nstreams = 7;
    n.nprimary = 5;
    n.nactive = 4;
    const char *want =
        "{\"id\":\"node-a\",\"liveness\":\"suspect\",\"heartbeat_age_ms\":1500,\"heartbeat\":99,\"sta"
        "le\":true,\"addr_internal\":\"10.0.0.1\",\"addr_external\":null,\"group\":\"public\",\"softw"
        "are_version\":\"1.2\",\"started_at\":1000,\"uptime_s\":600,\"limits\":{\"max_primary_streams"
        "\":null,\"max_in_kbps\":5000},\"usage\":{\"cpu_pct\":12.5,\"mem_used_bytes\":1000,\"mem_tota"
        "l_bytes\":2000,\"in_kbps\":300,\"out_kbps\":400,\"bandwidth_source\":\"streams\",\"disks\":["
        "{\"mount\":\"/\",\"free_bytes\":10,\"total_bytes\":20}]},\"counts\":{\"streams\":7,\"primary"
        "\":5,\"active\":4},\"templates\":{\"rtsp\":\"rtsp://{addr}/{name}\",\"hls\":null,\"rtmp\":nu"
        "ll,\"rtsp_dvr\":null,\"hls_dvr\":\"http://{addr}/{name}/dvr\"},\"version\":{\"gen\":3,\"seq\""
        ":4}}";
    char *text = s_node_json (&n, 1600);
    assert_string_equal (text, want);
    free (text);
    //  Down: no uptime; never heard: no heartbeat age
    n.liveness = SF_LIVE_DOWN;
    n.heartbeat_age_ms = -1;
    text = s_node_json (&n, 1600);
    assert_non_null (strstr (text, "\"liveness\":\"down\",\"heartbeat_age_ms\":null,"));
    assert_non_null (strstr (text, "\"uptime_s\":0,"));
    free (text);
}

//  columns: the listing's columns are the field table's COL lines, in table
//  order, and each names a path that every list row holds
static void
test_columns_are_the_field_tables_and_name_row_keys (void **state)
{
    s_answer_t a = s_ask (*state, "columns", NULL);
    assert_int_equal (a.rc, 0);
    assert_string_equal (a.type, "columns_reply");
    json_t *cols = s_get (a.body, "columns");
    assert_true (json_is_array (cols));
    size_t n = 0;
    for (const sf_field_t *f = sf_stream_fields; f->key; f++)
        if (f->col_header) {
            char path [64];
            snprintf (path, sizeof (path), "%zu.path", n);
            assert_string_equal (s_str (cols, path), f->reply_path);
            snprintf (path, sizeof (path), "%zu.header", n);
            assert_string_equal (s_str (cols, path), f->col_header);
            n++;
        }
    assert_int_equal (json_array_size (cols), n);
    //  What the page and the CLI print today, in their order
    const char *want [] = { "name", "node", "status", "clients", "bitrate_kbps", "started_at",
                            "reconnects.attempts", "source.url", NULL };
    for (size_t i = 0; want [i]; i++) {
        char path [64];
        snprintf (path, sizeof (path), "%zu.path", i);
        assert_string_equal (s_str (cols, path), want [i]);
    }
    assert_string_equal (s_str (cols, "3.format"), "int");
    assert_string_equal (s_str (cols, "4.sort"), "bitrate");
    assert_string_equal (s_str (cols, "6.pair"), "reconnects.total");
    s_null (cols, "0.pair");
    //  The node listing's columns are SF_NODE_COLS, in order, and each path
    //  is one the node entity holds
    json_t *ncols = s_get (a.body, "nodes");
    assert_true (json_is_array (ncols));
    size_t nn = 0;
    for (const sf_node_col_t *col = sf_node_cols; col->header; col++, nn++) {
        char path [64];
        snprintf (path, sizeof (path), "%zu.path", nn);
        assert_string_equal (s_str (ncols, path), col->path);
        snprintf (path, sizeof (path), "%zu.header", nn);
        assert_string_equal (s_str (ncols, path), col->header);
        snprintf (path, sizeof (path), "%zu.format", nn);
        assert_string_equal (s_str (ncols, path), sf_node_col_fmt_name (col->fmt));
    }
    assert_int_equal (json_array_size (ncols), nn);
    assert_string_equal (s_str (ncols, "4.format"), "limit");
    assert_string_equal (s_str (ncols, "4.with"), "limits.max_primary_streams");
    s_null (ncols, "0.with");
    s_answer_t nd = s_ask (*state, "nodes", NULL);
    json_t *node0 = json_array_get (s_get (nd.body, "nodes"), 0);
    assert_non_null (node0);
    for (const sf_node_col_t *col = sf_node_cols; col->header; col++) {
        assert_non_null (s_get (node0, col->path));
        if (col->with)
            assert_non_null (s_get (node0, col->with));
    }
    json_decref (nd.body);
    s_answer_t l = s_ask (*state, "list", "{\"limit\": 3}");
    json_t *rows = s_get (l.body, "streams");
    assert_int_equal (json_array_size (rows), 3);
    for (size_t r = 0; r < json_array_size (rows); r++)
        for (size_t i = 0; i < n; i++) {
            char path [96];
            snprintf (path, sizeof (path), "%zu.path", i);
            const char *p = s_str (cols, path);
            snprintf (path, sizeof (path), "%zu.%s", r, p);
            if (!s_get (rows, path))
                fail_msg ("list row %zu has no '%s'", r, p);
        }
    json_decref (l.body);
    json_decref (a.body);
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_list_answers_the_documented_shape),
        cmocka_unit_test (test_list_filters_through_the_shared_evaluator),
        cmocka_unit_test (test_list_bad_fields_answer_their_codes),
        cmocka_unit_test (test_detail_answers_every_placement_with_history),
        cmocka_unit_test (test_detail_bad_fields_answer_their_codes),
        cmocka_unit_test (test_dvr_answers_the_timeline_and_the_moment),
        cmocka_unit_test (test_dvr_bad_fields_answer_their_codes),
        cmocka_unit_test (test_nodes_answers_every_node_or_one),
        cmocka_unit_test (test_node_entity_is_the_documented_json_exactly),
        cmocka_unit_test (test_migrations_answers_counts_and_events),
        cmocka_unit_test (test_migrations_bad_fields_answer_their_codes),
        cmocka_unit_test (test_changes_answers_the_feed_and_its_bad_fields),
        cmocka_unit_test (test_alerts_answers_without_rules_and_its_bad_fields),
        cmocka_unit_test (test_cluster_alone_is_a_cluster_of_one),
        cmocka_unit_test (test_an_unknown_request_type_is_bad_request),
        cmocka_unit_test (test_error_codes_map_to_http_statuses),
        cmocka_unit_test (test_reply_builder_counts_its_containers),
        cmocka_unit_test (test_json_rendering_repairs_invalid_utf8),
        cmocka_unit_test (test_stream_entity_is_the_documented_json_exactly),
        cmocka_unit_test (test_columns_are_the_field_tables_and_name_row_keys),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}

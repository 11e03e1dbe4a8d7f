/*  api.c — every query answered once (include/sf_api.h).

    One handler per request type reads its fields, asks the read model
    (sf_query.h) and the migration tracker (sf_fleet.h), and writes the
    answer into the one reply form (sf_reply.h). The ZeroMQ endpoint sends
    it as msgpack; the HTTP API and the CLI's `-o json` render that message
    as JSON. Every field is validated here, once, whichever door the request
    came through: a bad field answers an error whose code names the field
    (bad_limit, bad_name, …) and whose message says what would be valid.
*/
#include "sf_api.h"
#include "sf_alerts.h"
#include "sf_webhook.h"
#include "sf_changes.h"
#include "sf_fleet.h"
#include "sf_links.h"
#include "sf_log.h"
#include "sf_reply.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
s_error (msgpack_sbuffer *reply, const char *code, const char *message)
{
    sf_reply_error (reply, code, message);
    return -1;
}

//  -------------------------------------------------------------------------
//  Request fields. Each returns 0 when present, 1 when absent (out left
//  alone), -1 when present but invalid (err filled, naming the field).

static const msgpack_object *
s_field (const msgpack_object *body, const char *key)
{
    return body && body->type == MSGPACK_OBJECT_MAP ? sf_map_get (body, key) : NULL;
}

//  Text of at most max bytes; empty text counts as absent
static int
s_text (const msgpack_object *body, const char *key, char *out, size_t max,
        char *err, size_t errlen)
{
    const msgpack_object *o = s_field (body, key);
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return 1;
    if (o->type != MSGPACK_OBJECT_STR) {
        snprintf (err, errlen, "%s must be text", key);
        return -1;
    }
    if (o->via.str.size == 0)
        return 1;
    if (o->via.str.size > max) {
        snprintf (err, errlen, "%s is longer than %zu bytes", key, max);
        return -1;
    }
    if (memchr (o->via.str.ptr, 0, o->via.str.size)) {
        snprintf (err, errlen, "%s holds a NUL byte", key);
        return -1;
    }
    memcpy (out, o->via.str.ptr, o->via.str.size);
    out [o->via.str.size] = 0;
    return 0;
}

//  A decimal whole number, strictly: "10abc" is not 10
static int
s_parse_i64 (const char *p, size_t len, int64_t *out)
{
    bool neg = len && *p == '-';
    if (neg)
        p++, len--;
    if (len == 0 || len > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (p [i] < '0' || p [i] > '9')
            return -1;
        v = v * 10 + (uint64_t) (p [i] - '0');
    }
    if (v > (uint64_t) INT64_MAX)
        return -1;
    *out = neg ? -(int64_t) v : (int64_t) v;
    return 0;
}

//  A whole number given as an integer or as decimal text, in [min, max].
//  On -1, *bad holds the offending text for the caller's message.
static int
s_number (const msgpack_object *body, const char *key, int64_t min, int64_t max,
          int64_t *out, char *bad, size_t badlen)
{
    const msgpack_object *o = s_field (body, key);
    snprintf (bad, badlen, "?");
    if (!o || o->type == MSGPACK_OBJECT_NIL)
        return 1;
    int64_t v;
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        snprintf (bad, badlen, "%" PRIu64, o->via.u64);
        if (o->via.u64 > (uint64_t) INT64_MAX)
            return -1;
        v = (int64_t) o->via.u64;
    }
    else
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        v = o->via.i64;
        snprintf (bad, badlen, "%" PRId64, v);
    }
    else
    if (o->type == MSGPACK_OBJECT_STR) {
        if (o->via.str.size == 0)
            return 1;
        snprintf (bad, badlen, "%.*s", (int) (o->via.str.size < 40 ? o->via.str.size : 40),
                  o->via.str.ptr);
        if (s_parse_i64 (o->via.str.ptr, o->via.str.size, &v))
            return -1;
    }
    else
        return -1;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

//  -------------------------------------------------------------------------
//  list {filter, name, node, sort, limit, cursor | offset, after} -> list_reply

static int
s_list (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "", bad [48];
    char text [256] = "";
    sf_filter_t filter;
    sf_filter_init (&filter);
    int rc = s_text (body, "filter", text, sizeof (text) - 1, err, sizeof (err));
    if (rc < 0 || (rc == 0 && sf_filter_parse (&filter, text, err, sizeof (err))))
        return s_error (reply, "bad_filter", err);
    rc = s_text (body, "name", text, SF_NAME_MAX, err, sizeof (err));
    if (rc < 0 || (rc == 0 && sf_filter_set_name (&filter, text, err, sizeof (err))))
        return s_error (reply, "bad_name", err);
    rc = s_text (body, "node", text, SF_NODE_MAX, err, sizeof (err));
    if (rc < 0 || (rc == 0 && sf_filter_set_node (&filter, text, err, sizeof (err))))
        return s_error (reply, "bad_node", err);
    sf_sort_t sort;
    sf_sort_parse (&sort, "", err, sizeof (err));
    rc = s_text (body, "sort", text, 63, err, sizeof (err));
    if (rc < 0 || (rc == 0 && sf_sort_parse (&sort, text, err, sizeof (err))))
        return s_error (reply, "bad_sort", err);
    int64_t limit = SF_LIST_LIMIT_DEFAULT, offset = 0;
    if (s_number (body, "limit", 0, SF_LIST_LIMIT_MAX, &limit, bad, sizeof (bad)) < 0) {
        snprintf (err, sizeof (err), "limit must be a whole number from 0 to %d, not '%s'",
                  SF_LIST_LIMIT_MAX, bad);
        return s_error (reply, "bad_limit", err);
    }
    //  The cursor is opaque to clients; today it is the decimal offset of
    //  the next page, which keeps paging stateless. offset is the same
    //  position for clients that count rows themselves (the CLI).
    rc = s_number (body, "cursor", 0, SIZE_MAX / 2, &offset, bad, sizeof (bad));
    if (rc == 1)
        rc = s_number (body, "offset", 0, SIZE_MAX / 2, &offset, bad, sizeof (bad));
    if (rc < 0) {
        snprintf (err, sizeof (err), "cursor '%s' is not one this API gave out; "
                  "start again without a cursor", bad);
        return s_error (reply, "bad_cursor", err);
    }
    //  after: a keyset cursor (next_after of an earlier answer), stable while
    //  rows come and go; cursor and offset then count from there
    char after [SF_READMODEL_CURSOR_MAX + 1] = "";
    if (s_text (body, "after", after, SF_READMODEL_CURSOR_MAX, err, sizeof (err)) < 0)
        return s_error (reply, "bad_cursor", "after is not a cursor this API gave out; "
                        "start again without it");
    sf_list_result_t res;
    memset (&res, 0, sizeof (res));
    if (sf_query_list_after (ctx, &filter, &sort, after, (size_t) offset, (size_t) limit, &res,
                             err, sizeof (err)))
        return s_error (reply, after [0] ? "bad_cursor" : "query_failed", err);
    //  The uptimes are those the rows were ordered by
    int64_t now = res.now_ms / 1000;
    sf_reply_t r;
    sf_reply_begin (&r, reply, "list_reply");
    sf_reply_kuint (&r, "total", res.total);
    sf_reply_kint (&r, "offset", offset);
    sf_reply_kint (&r, "limit", limit);
    sf_reply_kuint (&r, "count", res.nrows);
    char cursor [32];
    sf_reply_key (&r, "next_cursor");
    if (limit > 0 && (size_t) offset + res.nrows < res.total) {
        snprintf (cursor, sizeof (cursor), "%zu", (size_t) offset + res.nrows);
        sf_reply_str (&r, cursor);
    }
    else
        sf_reply_nil (&r);
    sf_reply_key (&r, "prev_cursor");
    if (offset > 0) {
        snprintf (cursor, sizeof (cursor), "%" PRId64, offset > limit ? offset - limit : 0);
        sf_reply_str (&r, cursor);
    }
    else
        sf_reply_nil (&r);
    sf_reply_ktext (&r, "next_after", limit > 0 ? res.next : NULL);
    char params [128], sortbuf [40];
    sf_reply_kstr (&r, "filter", sf_filter_params (&filter, params, sizeof (params)));
    snprintf (sortbuf, sizeof (sortbuf), "%s%s", sort.desc ? "-" : "", sf_sort_name (sort.key));
    sf_reply_kstr (&r, "sort", sortbuf);
    sf_reply_kint (&r, "now", now);
    sf_reply_key (&r, "streams");
    sf_reply_array (&r);
    for (size_t i = 0; i < res.nrows; i++)
        sf_reply_stream (&r, &res.rows [i], NULL, SF_REPLY_ROW, now);
    sf_reply_end (&r);
    sf_list_result_clear (&res);
    return 0;
}

//  -------------------------------------------------------------------------
//  detail {name, node} -> detail_reply {name, count, now, current, history,
//  placements}: every placement with its detail sections, where the stream
//  lives now and how it got there (docs/migrations.md)

static int
s_detail (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "";
    char name [SF_NAME_MAX + 1] = "", node [SF_NODE_MAX + 1] = "";
    int rc = s_text (body, "name", name, SF_NAME_MAX, err, sizeof (err));
    if (rc < 0)
        return s_error (reply, "bad_name", err);
    if (rc == 1)
        return s_error (reply, "bad_name", "name a stream: detail needs a stream name");
    if (s_text (body, "node", node, SF_NODE_MAX, err, sizeof (err)) < 0)
        return s_error (reply, "bad_node", err);
    sf_detail_result_t res;
    memset (&res, 0, sizeof (res));
    if (sf_query_detail (ctx, name, node [0] ? node : NULL, &res, err, sizeof (err))) {
        sf_detail_result_clear (&res);
        return s_error (reply, "not_found", err);
    }
    char current [SF_NODE_MAX + 1] = "";
    sf_fleet_events_t hist;
    if (sf_fleet_history (ctx, name, current, sizeof (current), &hist, err, sizeof (err)))
        memset (&hist, 0, sizeof (hist));
    int64_t now = sf_now_ms () / 1000;
    sf_reply_t r;
    sf_reply_begin (&r, reply, "detail_reply");
    sf_reply_kstr (&r, "name", name);
    sf_reply_kuint (&r, "count", res.count);
    sf_reply_kint (&r, "now", now);
    sf_reply_ktext (&r, "current", current);
    sf_reply_key (&r, "history");
    sf_reply_array (&r);
    for (size_t i = 0; i < hist.count; i++)
        sf_reply_event (&r, &hist.events [i]);
    sf_reply_close (&r);
    sf_reply_key (&r, "placements");
    sf_reply_array (&r);
    for (size_t i = 0; i < res.count; i++)
        sf_reply_stream (&r, &res.placements [i], &res.nodes [i], SF_REPLY_DETAIL, now);
    sf_reply_end (&r);
    sf_fleet_events_clear (&hist);
    sf_detail_result_clear (&res);
    return 0;
}

//  -------------------------------------------------------------------------
//  nodes {id} -> nodes_reply {count, liveness, now, nodes}, or with id the
//  one node (node_reply, the node itself)

static int
s_nodes (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "", id [SF_NODE_MAX + 1] = "";
    int has_id = s_text (body, "id", id, SF_NODE_MAX, err, sizeof (err));
    if (has_id < 0)
        return s_error (reply, "bad_node", err);
    sf_node_t *nodes = NULL;
    size_t count = 0;
    if (sf_query_nodes (ctx, &nodes, &count, err, sizeof (err)))
        return s_error (reply, "query_failed", err);
    int64_t now = sf_now_ms () / 1000;
    sf_reply_t r;
    if (has_id == 0) {
        size_t i = 0;
        while (i < count && strcmp (nodes [i].id, id) != 0)
            i++;
        if (i == count) {
            free (nodes);
            snprintf (err, sizeof (err), "no node '%s' is known to this controller", id);
            return s_error (reply, "not_found", err);
        }
        sf_reply_start (&r, reply, "node_reply");
        sf_reply_node (&r, &nodes [i], now);
        sf_reply_end (&r);
        free (nodes);
        return 0;
    }
    uint64_t by [3] = { 0, 0, 0 };
    for (size_t i = 0; i < count; i++)
        if (nodes [i].liveness <= SF_LIVE_DOWN)
            by [nodes [i].liveness]++;
    sf_reply_begin (&r, reply, "nodes_reply");
    sf_reply_kuint (&r, "count", count);
    sf_reply_key (&r, "liveness");
    sf_reply_map (&r);
    for (int l = SF_LIVE_ALIVE; l <= SF_LIVE_DOWN; l++)
        sf_reply_kuint (&r, sf_liveness_name (l), by [l]);
    sf_reply_close (&r);
    sf_reply_kint (&r, "now", now);
    sf_reply_key (&r, "nodes");
    sf_reply_array (&r);
    for (size_t i = 0; i < count; i++)
        sf_reply_node (&r, &nodes [i], now);
    sf_reply_end (&r);
    free (nodes);
    return 0;
}

//  -------------------------------------------------------------------------
//  migrations {stream | name, node, kind, since_s, start, end, limit, after}
//  -> migrations_reply {now, transfer_timeout_s, count, total, history_gen,
//  counts, next_after, events}: a page of the replicated history, newest
//  first.
//  kind is one kind or several, comma-separated; since_s the last N
//  seconds; start and end unix seconds ([start, end)); after the cursor a
//  previous page's next_after names. total is every event of the selection
//  (all pages), counts per kind the selection but for kind, count this
//  page's; next_after is null on the last page. history_gen moves with
//  every change of this controller's history (watch migrations asks again
//  only then, or when the counts moved).

//  kinds: comma-separated event kinds -> a bit per kind. 0, or -1 (err)
static int
s_kinds (const char *text, uint32_t *kinds, char *err, size_t errlen)
{
    *kinds = 0;
    const char *p = text;
    while (*p) {
        const char *comma = strchr (p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen (p);
        char one [32];
        int kind = -1;
        if (len < sizeof (one)) {
            memcpy (one, p, len);
            one [len] = 0;
            kind = sf_event_kind_parse (one);
        }
        if (kind < 0) {
            int n = snprintf (err, errlen, "unknown event kind '%.*s' (valid:",
                              (int) (len < 31 ? len : 31), p);
            for (int k = 0; k < SF_EV_COUNT && n > 0 && (size_t) n < errlen; k++)
                n += snprintf (err + n, errlen - (size_t) n, "%s %s", k ? "," : "",
                               sf_event_kind_name (k));
            if (n > 0 && (size_t) n + 2 < errlen)
                strcat (err, ")");
            return -1;
        }
        *kinds |= 1u << kind;
        p += len + (comma ? 1 : 0);
    }
    return 0;
}

static int
s_migrations (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "", bad [48], name [SF_NAME_MAX + 1] = "", node [SF_NODE_MAX + 1] = "";
    char kindtext [256] = "", after [SF_FLEET_CURSOR_MAX] = "";
    int rc = s_text (body, "stream", name, SF_NAME_MAX, err, sizeof (err));
    if (rc == 1)
        rc = s_text (body, "name", name, SF_NAME_MAX, err, sizeof (err));
    if (rc < 0)
        return s_error (reply, "bad_name", err);
    if (s_text (body, "node", node, SF_NODE_MAX, err, sizeof (err)) < 0)
        return s_error (reply, "bad_node", err);
    sf_fleet_query_t q = { .stream = name, .node = node };
    rc = s_text (body, "kind", kindtext, sizeof (kindtext) - 1, err, sizeof (err));
    if (rc < 0 || (rc == 0 && s_kinds (kindtext, &q.kinds, err, sizeof (err))))
        return s_error (reply, "bad_kind", err);
    int64_t limit = SF_EVENTS_LIMIT_DEFAULT, since_s = 0, start_s = 0, end_s = 0;
    if (s_number (body, "limit", 0, SF_EVENTS_LIMIT_MAX, &limit, bad, sizeof (bad)) < 0) {
        snprintf (err, sizeof (err), "limit must be a whole number from 0 to %d, not '%s'",
                  SF_EVENTS_LIMIT_MAX, bad);
        return s_error (reply, "bad_limit", err);
    }
    if (s_number (body, "since_s", 0, INT64_MAX / 1000, &since_s, bad, sizeof (bad)) < 0) {
        snprintf (err, sizeof (err), "since_s must be a number of seconds, not '%s'", bad);
        return s_error (reply, "bad_time", err);
    }
    if (s_number (body, "start", 0, INT64_MAX / 1000, &start_s, bad, sizeof (bad)) < 0
    ||  s_number (body, "end", 0, INT64_MAX / 1000, &end_s, bad, sizeof (bad)) < 0) {
        snprintf (err, sizeof (err), "start and end must be unix seconds, not '%s'", bad);
        return s_error (reply, "bad_time", err);
    }
    if (end_s && start_s >= end_s) {
        snprintf (err, sizeof (err), "start (%lld) must be before end (%lld)",
                  (long long) start_s, (long long) end_s);
        return s_error (reply, "bad_time", err);
    }
    sf_fleet_event_t cursor;
    rc = s_text (body, "after", after, sizeof (after) - 1, err, sizeof (err));
    if (rc < 0 || (rc == 0 && sf_fleet_cursor_parse (after, &cursor))) {
        if (rc == 0)
            snprintf (err, sizeof (err), "after must be a cursor a previous page named in "
                      "next_after, not '%.40s'", after);
        return s_error (reply, "bad_cursor", err);
    }
    int64_t now_ms = sf_now_ms ();
    q.start_ms = start_s * 1000;
    if (since_s && since_s * 1000 < now_ms && now_ms - since_s * 1000 > q.start_ms)
        q.start_ms = now_ms - since_s * 1000;
    q.end_ms = end_s * 1000;
    q.after = rc == 0 ? &cursor : NULL;
    q.limit = (size_t) limit;
    sf_fleet_events_t evs;
    if (sf_fleet_events (ctx, &q, &evs, err, sizeof (err))) {
        sf_fleet_events_clear (&evs);
        return s_error (reply, "query_failed", err);
    }
    sf_reply_t r;
    sf_reply_begin (&r, reply, "migrations_reply");
    sf_reply_kint (&r, "now", now_ms / 1000);
    sf_reply_kint (&r, "transfer_timeout_s", ctx->transfer_timeout_s);
    sf_reply_kuint (&r, "count", evs.count);
    sf_reply_kuint (&r, "total", evs.total);
    sf_reply_kuint (&r, "history_gen", evs.gen);
    sf_reply_key (&r, "counts");
    sf_reply_map (&r);
    for (int k = 0; k < SF_EV_COUNT; k++)
        sf_reply_kuint (&r, sf_event_kind_name (k), evs.counts [k]);
    sf_reply_close (&r);
    char next [SF_FLEET_CURSOR_MAX] = "";
    if (evs.more && evs.count)
        sf_fleet_cursor_make (&evs.events [evs.count - 1], next, sizeof (next));
    sf_reply_ktext (&r, "next_after", next);
    sf_reply_key (&r, "events");
    sf_reply_array (&r);
    for (size_t i = 0; i < evs.count; i++)
        sf_reply_event (&r, &evs.events [i]);
    sf_reply_end (&r);
    sf_fleet_events_clear (&evs);
    return 0;
}

//  -------------------------------------------------------------------------
//  dvr {name, at} -> dvr_reply {name, uid, current, now, count, ranges}
//  and with at: {at, holder, before, after}. The archive over every
//  placement joined by uid (sf_fleet_timeline), sorted by time. holder is
//  the range holding at, with offset_s into it and a playback link starting
//  at that moment; in a gap, before and after are the ranges around it.

static int
s_dvr (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "", bad [48], name [SF_NAME_MAX + 1] = "";
    int rc = s_text (body, "name", name, SF_NAME_MAX, err, sizeof (err));
    if (rc < 0)
        return s_error (reply, "bad_name", err);
    if (rc == 1)
        return s_error (reply, "bad_name", "name a stream: dvr needs a stream name");
    int64_t at = 0;
    int has_at = s_number (body, "at", INT64_MIN + 1, INT64_MAX, &at, bad, sizeof (bad));
    if (has_at < 0) {
        snprintf (err, sizeof (err), "at must be unix seconds, not '%s'", bad);
        return s_error (reply, "bad_time", err);
    }
    sf_timeline_t tl;
    memset (&tl, 0, sizeof (tl));
    if (sf_fleet_timeline (ctx, name, &tl, err, sizeof (err))) {
        sf_timeline_clear (&tl);
        return s_error (reply, "not_found", err);
    }
    sf_reply_t r;
    sf_reply_begin (&r, reply, "dvr_reply");
    sf_reply_kstr (&r, "name", name);
    sf_reply_kstr (&r, "uid", tl.uid);
    sf_reply_ktext (&r, "current", tl.current);
    sf_reply_kint (&r, "now", sf_now_ms () / 1000);
    sf_reply_kuint (&r, "count", tl.count);
    sf_reply_key (&r, "ranges");
    sf_reply_array (&r);
    for (size_t i = 0; i < tl.count; i++)
        sf_reply_tl_entry (&r, &tl.entries [i], false);
    sf_reply_close (&r);
    if (has_at == 0) {
        int before = -1, after = -1;
        int hold = sf_timeline_at (&tl, at, &before, &after);
        sf_reply_kint (&r, "at", at);
        sf_reply_key (&r, "holder");
        if (hold >= 0 && (size_t) hold < tl.count) {
            const sf_tl_entry_t *e = &tl.entries [hold];
            sf_reply_tl_entry (&r, e, true);
            sf_reply_kint (&r, "offset_s", at - e->from);
            //  The playback link starts at the asked moment
            sf_stream_t s;
            sf_stream_init (&s);
            SF_STRSET (s.name, e->name);
            SF_STRSET (s.uid, tl.uid);
            SF_STRSET (s.node, e->node);
            sf_node_t n;
            sf_read_t rd;
            bool have_node = false;
            if (sf_store_read_begin (ctx->store, &rd) == 0) {
                have_node = sf_store_get_node (&rd, e->node, &n) == 0;
                sf_store_read_end (&rd);
            }
            char rtsp [1024] = "", hls [1024] = "";
            sf_links_range (&s, have_node ? &n : NULL, at, e->to, rtsp, hls, sizeof (rtsp));
            sf_reply_key (&r, "playback");
            sf_reply_map (&r);
            sf_reply_ktext (&r, "rtsp", rtsp);
            sf_reply_ktext (&r, "hls", hls);
            sf_reply_close (&r);
            sf_reply_close (&r);
            sf_stream_clear (&s);
        }
        else
            sf_reply_nil (&r);
        sf_reply_key (&r, "before");
        if (hold < 0 && before >= 0 && (size_t) before < tl.count)
            sf_reply_tl_entry (&r, &tl.entries [before], false);
        else
            sf_reply_nil (&r);
        sf_reply_key (&r, "after");
        if (hold < 0 && after >= 0 && (size_t) after < tl.count)
            sf_reply_tl_entry (&r, &tl.entries [after], false);
        else
            sf_reply_nil (&r);
    }
    sf_reply_end (&r);
    sf_timeline_clear (&tl);
    return 0;
}

//  -------------------------------------------------------------------------
//  cluster {} -> cluster_reply {self, now, members, http, nodes, streams,
//  now_ms}: the controllers as gossip sees them (a controller alone is its
//  own cluster of one), with the fleet's counts from this replica: nodes
//  from the liveness table and placements from the store's count, no scan.

static void
s_member_alone (sf_reply_t *r)
{
    sf_reply_map (r);
    sf_reply_kstr (r, "id", "");
    sf_reply_knil (r, "endpoint");
    sf_reply_kstr (r, "state", "alive");
    sf_reply_kuint (r, "incarnation", 0);
    sf_reply_kint (r, "last_heard_ms", 0);
    sf_reply_kuint (r, "lag_changes", 0);
    sf_reply_kbool (r, "self", true);
    sf_reply_close (r);
}

static int
s_cluster (sf_query_ctx_t *ctx, msgpack_sbuffer *reply)
{
    msgpack_sbuffer view;
    msgpack_sbuffer_init (&view);
    sf_msg_t msg;
    sf_msg_init (&msg);
    const msgpack_object *gossip = NULL;
    if (ctx->cluster_fn && ctx->cluster_fn (ctx->cluster_arg, &view) == 0 && view.size
    &&  sf_msg_parse (&msg, view.data, view.size) == 0
    &&  strcmp (msg.type, "cluster_reply") == 0)
        gossip = msg.body;
    const msgpack_object *self_id = gossip ? sf_map_get (gossip, "self") : NULL;
    const msgpack_object *members = gossip ? sf_map_get (gossip, "members") : NULL;
    uint32_t live [3] = { 0, 0, 0 };
    if (ctx->live)
        sf_live_counts (ctx->live, sf_mono_ms (), live);
    size_t streams = 0;
    sf_read_t rd;
    if (sf_store_read_begin (ctx->store, &rd) == 0) {
        sf_store_count_streams (&rd, &streams);
        sf_store_read_end (&rd);
    }
    int64_t now_ms = sf_now_ms ();
    sf_reply_t r;
    sf_reply_begin (&r, reply, "cluster_reply");
    sf_reply_key (&r, "self");
    if (self_id && self_id->type == MSGPACK_OBJECT_STR)
        sf_reply_object (&r, self_id);
    else
        sf_reply_str (&r, "");
    sf_reply_kint (&r, "now", now_ms / 1000);
    sf_reply_key (&r, "members");
    if (members && members->type == MSGPACK_OBJECT_ARRAY)
        sf_reply_object (&r, members);
    else {
        sf_reply_array (&r);
        s_member_alone (&r);
        sf_reply_close (&r);
    }
    sf_reply_ktext (&r, "http", atomic_load (&ctx->http_address));
    sf_reply_key (&r, "nodes");
    sf_reply_map (&r);
    sf_reply_kuint (&r, "total", (uint64_t) live [0] + live [1] + live [2]);
    for (int l = SF_LIVE_ALIVE; l <= SF_LIVE_DOWN; l++)
        sf_reply_kuint (&r, sf_liveness_name (l), live [l]);
    sf_reply_close (&r);
    sf_reply_kuint (&r, "streams", streams);
    sf_reply_kint (&r, "now_ms", now_ms);
    sf_reply_end (&r);
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&view);
    return 0;
}

//  -------------------------------------------------------------------------

//  changes: what the change feed holds after a cursor (controller/changes.c)
static int
s_changes (sf_query_ctx_t *ctx, const msgpack_object *body, int max_wait_ms, msgpack_sbuffer *reply)
{
    if (!ctx->feed)
        return s_error (reply, "bad_request", "this controller keeps no change feed");
    char after [64] = "", err [SF_ERR_MAX] = "", bad [48];
    if (s_text (body, "after", after, sizeof (after) - 1, err, sizeof (err)) < 0)
        return s_error (reply, "bad_cursor", err);
    int64_t max = 1000, wait_ms = 0;
    if (s_number (body, "max", 0, 10000, &max, bad, sizeof (bad)) < 0) {
        snprintf (err, sizeof (err), "max must be a whole number from 0 to 10000, not '%s'", bad);
        return s_error (reply, "bad_limit", err);
    }
    if (s_number (body, "wait_ms", 0, 600000, &wait_ms, bad, sizeof (bad)) < 0) {
        snprintf (err, sizeof (err), "wait_ms must be a whole number from 0 to 600000, not '%s'", bad);
        return s_error (reply, "bad_wait", err);
    }
    int wait = (int) (wait_ms < max_wait_ms ? wait_ms : max_wait_ms);
    return sf_changes_answer (ctx->feed, after, (size_t) max, wait, reply);
}

//  alerts: the rules, what fires, and the recent transitions (of one
//  stream, on one node, when named) (controller/alerts.c)
static int
s_alerts (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char stream [SF_NAME_MAX + 1] = "", node [SF_NODE_MAX + 1] = "", err [SF_ERR_MAX] = "";
    if (s_text (body, "stream", stream, SF_NAME_MAX, err, sizeof (err)) < 0)
        return s_error (reply, "bad_name", err);
    if (s_text (body, "node", node, SF_NODE_MAX, err, sizeof (err)) < 0)
        return s_error (reply, "bad_node", err);
    if (!ctx->alerts) {
        sf_reply_t r;
        sf_reply_begin (&r, reply, "alerts_reply");
        sf_reply_key (&r, "rules");
        sf_reply_array (&r);
        sf_reply_close (&r);
        sf_reply_key (&r, "firing");
        sf_reply_array (&r);
        sf_reply_close (&r);
        sf_reply_key (&r, "recent");
        sf_reply_array (&r);
        sf_reply_close (&r);
        sf_reply_end (&r);
        return 0;
    }
    sf_alerts_reply (ctx->alerts, stream, node, reply);
    return 0;
}

//  dead_letters: the deliveries given up after every retry (of one webhook
//  when named), controller/webhook.c
static int
s_dead_letters (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char webhook [65] = "", err [SF_ERR_MAX] = "";
    if (s_text (body, "webhook", webhook, 64, err, sizeof (err)) < 0)
        return s_error (reply, "bad_webhook", err);
    return sf_webhooks_dead_letters (ctx->webhooks, webhook, reply);
}

//  replay {key | all}: dead letters delivered again (their idempotency key
//  or alert key is key, or every one)
static int
s_replay (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char key [SF_ALERT_KEY_MAX + 1] = "", err [SF_ERR_MAX] = "";
    if (s_text (body, "key", key, SF_ALERT_KEY_MAX, err, sizeof (err)) < 0)
        return s_error (reply, "bad_key", err);
    //  true, or (from an HTTP query string) "true" or "1"
    const msgpack_object *a = s_field (body, "all");
    bool all = a && ((a->type == MSGPACK_OBJECT_BOOLEAN && a->via.boolean)
                     || (a->type == MSGPACK_OBJECT_STR && ((a->via.str.size == 4 && !memcmp (a->via.str.ptr, "true", 4))
                                                           || (a->via.str.size == 1 && a->via.str.ptr [0] == '1'))));
    if (!key [0] && !all)
        return s_error (reply, "bad_key", "name a dead letter: key=IDEMPOTENCY_KEY or ALERT_KEY, or all=true");
    if (key [0] && all)
        return s_error (reply, "bad_key", "key and all=true exclude each other");
    size_t found = 0;
    if (sf_webhooks_replay (ctx->webhooks, all ? NULL : key, &found))
        return s_error (reply, "store_unavailable", "the webhook queue cannot be read; see the controller's log");
    if (!found && !all) {
        char msg [SF_ALERT_KEY_MAX + 100];
        snprintf (msg, sizeof (msg), "no dead letter has the key '%s' (streamfleet alerts dead-letters lists them)", key);
        return s_error (reply, "not_found", msg);
    }
    sf_reply_t r;
    sf_reply_begin (&r, reply, "replay_reply");
    sf_reply_kuint (&r, "replayed", found);
    sf_reply_end (&r);
    return 0;
}

//  columns: the listings' columns (streams, nodes), as the field table declares them
static int
s_columns (msgpack_sbuffer *reply)
{
    sf_reply_t r;
    sf_reply_begin (&r, reply, "columns_reply");
    sf_reply_key (&r, "columns");
    sf_reply_columns (&r);
    sf_reply_key (&r, "nodes");
    sf_reply_node_columns (&r);
    sf_reply_end (&r);
    return 0;
}

int
sf_api_answer (sf_query_ctx_t *ctx, const char *type, const msgpack_object *body,
               msgpack_sbuffer *reply)
{
    return sf_api_answer_wait (ctx, type, body, 0, reply);
}

int
sf_api_answer_wait (sf_query_ctx_t *ctx, const char *type, const msgpack_object *body,
                    int max_wait_ms, msgpack_sbuffer *reply)
{
    if (strcmp (type, "changes") == 0)
        return s_changes (ctx, body, max_wait_ms, reply);
    if (strcmp (type, "list") == 0)
        return s_list (ctx, body, reply);
    if (strcmp (type, "detail") == 0)
        return s_detail (ctx, body, reply);
    if (strcmp (type, "dvr") == 0)
        return s_dvr (ctx, body, reply);
    if (strcmp (type, "nodes") == 0)
        return s_nodes (ctx, body, reply);
    if (strcmp (type, "migrations") == 0)
        return s_migrations (ctx, body, reply);
    if (strcmp (type, "cluster") == 0)
        return s_cluster (ctx, reply);
    if (strcmp (type, "alerts") == 0)
        return s_alerts (ctx, body, reply);
    if (strcmp (type, "dead_letters") == 0)
        return s_dead_letters (ctx, body, reply);
    if (strcmp (type, "replay") == 0)
        return s_replay (ctx, body, reply);
    if (strcmp (type, "columns") == 0)
        return s_columns (reply);
    char msg [200];
    snprintf (msg, sizeof (msg), "unknown request type '%.40s' (valid: list, detail, dvr, "
              "nodes, migrations, cluster, changes, alerts, dead_letters, replay, columns)", type);
    return s_error (reply, "bad_request", msg);
}

int
sf_api_handle (sf_query_ctx_t *ctx, const sf_msg_t *request, msgpack_sbuffer *reply)
{
    return sf_api_answer (ctx, request->type, request->body, reply);
}

int
sf_api_http_status (const char *code)
{
    if (strcmp (code, "not_found") == 0)
        return 404;
    if (strncmp (code, "bad_", 4) == 0)
        return 400;
    if (strcmp (code, "store_unavailable") == 0)
        return 503;
    return 500;
}

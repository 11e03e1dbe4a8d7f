/*  api.c — answers query requests (include/sf_api.h) from the read model.
    The reply shapes here are the protocol: docs/protocol.md lists them, the
    CLI prints them, the HTTP API returns them as JSON.
*/
#include "sf_api.h"
#include "sf_fleet.h"
#include "sf_links.h"
#include "sf_log.h"
#include <stdio.h>
#include <string.h>

static int
s_error (msgpack_sbuffer *reply, const char *code, const char *message)
{
    sf_msg_error (reply, code, message);
    return -1;
}

//  Links of a placement: live, and one pair per DVR range
static void
s_pack_links (msgpack_packer *pk, const sf_stream_t *s, const sf_node_t *n)
{
    char rtsp [1024], hls [1024];
    sf_links_live (s, n, rtsp, hls, sizeof (rtsp));
    msgpack_pack_map (pk, 3);
    sf_pack_kstr (pk, "rtsp", rtsp);
    sf_pack_kstr (pk, "hls", hls);
    sf_pack_str (pk, "ranges");
    msgpack_pack_array (pk, s->dvr.nranges);
    for (uint32_t i = 0; i < s->dvr.nranges; i++) {
        sf_links_range (s, n, s->dvr.ranges [i].from, s->dvr.ranges [i].to, rtsp, hls, sizeof (rtsp));
        msgpack_pack_map (pk, 4);
        sf_pack_ki64 (pk, "from", s->dvr.ranges [i].from);
        sf_pack_ki64 (pk, "to", s->dvr.ranges [i].to);
        sf_pack_kstr (pk, "rtsp", rtsp);
        sf_pack_kstr (pk, "hls", hls);
    }
}

static void
s_pack_event (msgpack_packer *pk, const sf_fleet_event_t *ev)
{
    msgpack_pack_map (pk, 8);
    sf_pack_kstr (pk, "stream", ev->stream);
    sf_pack_kstr (pk, "uid", ev->uid);
    sf_pack_kstr (pk, "from", ev->from);
    sf_pack_kstr (pk, "to", ev->to);
    sf_pack_kstr (pk, "kind", sf_event_kind_name (ev->kind));
    sf_pack_ki64 (pk, "at_ms", ev->at_ms);
    sf_pack_ki64 (pk, "duration_ms", ev->duration_ms);
    sf_pack_kstr (pk, "reason", ev->reason);
}

static int
s_list (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "";
    char params [256] = "", name [SF_NAME_MAX + 1] = "", node [SF_NODE_MAX + 1] = "";
    char sortspec [64] = "", after [SF_READMODEL_CURSOR_MAX + 1] = "";
    uint64_t offset = 0, limit = 100;
    if (sf_map_str (body, "filter", params, sizeof (params) - 1, err) < 0
    ||  sf_map_str (body, "name", name, SF_NAME_MAX, err) < 0
    ||  sf_map_str (body, "node", node, SF_NODE_MAX, err) < 0
    ||  sf_map_str (body, "sort", sortspec, sizeof (sortspec) - 1, err) < 0
    ||  sf_map_str (body, "after", after, SF_READMODEL_CURSOR_MAX, err) < 0
    ||  sf_map_u64 (body, "offset", &offset, err) < 0
    ||  sf_map_u64 (body, "limit", &limit, err) < 0)
        return s_error (reply, "bad_request", err);
    sf_filter_t filter;
    sf_filter_init (&filter);
    sf_sort_t sort;
    if (sf_filter_parse (&filter, params, err, sizeof (err))
    ||  sf_filter_set_name (&filter, name, err, sizeof (err))
    ||  sf_filter_set_node (&filter, node, err, sizeof (err))
    ||  sf_sort_parse (&sort, sortspec, err, sizeof (err)))
        return s_error (reply, "bad_request", err);
    if (limit > SF_LIST_LIMIT_MAX)
        limit = SF_LIST_LIMIT_MAX;
    sf_list_result_t res;
    if (sf_query_list_after (ctx, &filter, &sort, after, (size_t) offset, (size_t) limit, &res,
                             err, sizeof (err)))
        return s_error (reply, after [0] ? "bad_request" : "internal", err);
    msgpack_sbuffer_clear (reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, reply, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "list_reply", 6);
    sf_pack_ku64 (&pk, "total", res.total);
    sf_pack_kstr (&pk, "next", res.next);
    sf_pack_ku64 (&pk, "offset", offset);
    sf_pack_ki64 (&pk, "now", sf_now_ms () / 1000);
    char fbuf [128];
    sf_pack_kstr (&pk, "filter", sf_filter_params (&filter, fbuf, sizeof (fbuf)));
    sf_pack_str (&pk, "rows");
    msgpack_pack_array (&pk, res.nrows);
    for (size_t i = 0; i < res.nrows; i++)
        sf_stream_pack (&pk, &res.rows [i], SF_ENC_ROW | SF_ENC_DERIVED);
    sf_list_result_clear (&res);
    return 0;
}

static int
s_detail (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "";
    char name [SF_NAME_MAX + 1] = "", node [SF_NODE_MAX + 1] = "";
    int rc = sf_map_str (body, "name", name, SF_NAME_MAX, err);
    if (rc < 0 || sf_map_str (body, "node", node, SF_NODE_MAX, err) < 0)
        return s_error (reply, "bad_request", err);
    if (rc == 1 || !name [0])
        return s_error (reply, "bad_request", "detail needs a stream name");
    sf_detail_result_t res;
    if (sf_query_detail (ctx, name, node, &res, err, sizeof (err)))
        return s_error (reply, "not_found", err);
    msgpack_sbuffer_clear (reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, reply, msgpack_sbuffer_write);
    //  Where the stream lives now and how it got there (docs/migrations.md)
    char current [SF_NODE_MAX + 1] = "";
    sf_fleet_events_t hist;
    if (sf_fleet_history (ctx, name, current, sizeof (current), &hist, err, sizeof (err)))
        memset (&hist, 0, sizeof (hist));
    sf_msg_begin (&pk, "detail_reply", 5);
    sf_pack_kstr (&pk, "current", current);
    sf_pack_str (&pk, "history");
    msgpack_pack_array (&pk, hist.count);
    for (size_t i = 0; i < hist.count; i++)
        s_pack_event (&pk, &hist.events [i]);
    sf_fleet_events_clear (&hist);
    sf_pack_kstr (&pk, "name", name);
    sf_pack_ki64 (&pk, "now", sf_now_ms () / 1000);
    sf_pack_str (&pk, "placements");
    msgpack_pack_array (&pk, res.count);
    for (size_t i = 0; i < res.count; i++) {
        msgpack_pack_map (&pk, 3);
        sf_pack_str (&pk, "stream");
        sf_stream_pack (&pk, &res.placements [i], SF_ENC_FULL | SF_ENC_DERIVED);
        sf_pack_str (&pk, "node");
        sf_node_pack (&pk, &res.nodes [i], SF_ENC_DERIVED);
        sf_pack_str (&pk, "links");
        s_pack_links (&pk, &res.placements [i], &res.nodes [i]);
    }
    sf_detail_result_clear (&res);
    return 0;
}

static int
s_nodes (sf_query_ctx_t *ctx, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "";
    sf_node_t *nodes;
    size_t count;
    if (sf_query_nodes (ctx, &nodes, &count, err, sizeof (err)))
        return s_error (reply, "internal", err);
    msgpack_sbuffer_clear (reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, reply, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "nodes_reply", 2);
    sf_pack_ki64 (&pk, "now", sf_now_ms () / 1000);
    sf_pack_str (&pk, "nodes");
    msgpack_pack_array (&pk, count);
    for (size_t i = 0; i < count; i++)
        sf_node_pack (&pk, &nodes [i], SF_ENC_DERIVED);
    free (nodes);
    return 0;
}

//  The cluster view comes from gossip when it runs; alone, a controller is
//  its own cluster of one
static int
s_cluster (sf_query_ctx_t *ctx, msgpack_sbuffer *reply)
{
    if (ctx->cluster_fn)
        return ctx->cluster_fn (ctx->cluster_arg, reply);
    msgpack_sbuffer_clear (reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, reply, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "cluster_reply", 3);
    sf_pack_kstr (&pk, "self", "");
    sf_pack_ki64 (&pk, "now", sf_now_ms () / 1000);
    sf_pack_str (&pk, "members");
    msgpack_pack_array (&pk, 0);
    return 0;
}

//  migrations {name?, since_s?, limit?} -> migrations_reply
static int
s_migrations (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "", name [SF_NAME_MAX + 1] = "";
    uint64_t since_s = 0, limit = 1000;
    if (sf_map_str (body, "name", name, SF_NAME_MAX, err) < 0
    ||  sf_map_u64 (body, "since_s", &since_s, err) < 0
    ||  sf_map_u64 (body, "limit", &limit, err) < 0)
        return s_error (reply, "bad_request", err);
    if (limit > 1000000)
        limit = 1000000;
    int64_t now_ms = sf_now_ms ();
    int64_t since_ms = since_s && (int64_t) since_s < now_ms / 1000 ? now_ms - (int64_t) since_s * 1000 : 0;
    sf_fleet_events_t evs;
    if (sf_fleet_events (ctx, name, since_ms, (size_t) limit, &evs, err, sizeof (err)))
        return s_error (reply, "internal", err);
    msgpack_sbuffer_clear (reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, reply, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "migrations_reply", 5);
    sf_pack_ki64 (&pk, "now", now_ms / 1000);
    sf_pack_ki64 (&pk, "transfer_timeout_s", ctx->transfer_timeout_s);
    sf_pack_ku64 (&pk, "total", evs.total);
    sf_pack_str (&pk, "counts");
    msgpack_pack_map (&pk, SF_EV_COUNT);
    for (int k = 0; k < SF_EV_COUNT; k++)
        sf_pack_ku64 (&pk, sf_event_kind_name (k), evs.counts [k]);
    sf_pack_str (&pk, "events");
    msgpack_pack_array (&pk, evs.count);
    for (size_t i = 0; i < evs.count; i++)
        s_pack_event (&pk, &evs.events [i]);
    sf_fleet_events_clear (&evs);
    return 0;
}

static void
s_pack_tl_entry (msgpack_packer *pk, const sf_tl_entry_t *e)
{
    msgpack_pack_map (pk, 6);
    sf_pack_kstr (pk, "node", e->node);
    sf_pack_kstr (pk, "name", e->name);
    sf_pack_ki64 (pk, "from", e->from);
    sf_pack_ki64 (pk, "to", e->to);
    sf_pack_kstr (pk, "rtsp", e->rtsp);
    sf_pack_kstr (pk, "hls", e->hls);
}

//  dvr {name, at?} -> dvr_reply {name, uid, current, timeline[], at | gap}
static int
s_dvr (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "", name [SF_NAME_MAX + 1] = "";
    int64_t at = 0;
    int rc = sf_map_str (body, "name", name, SF_NAME_MAX, err);
    int has_at = rc < 0 ? -1 : sf_map_i64 (body, "at", &at, err);
    if (rc < 0 || has_at < 0)
        return s_error (reply, "bad_request", err);
    if (rc == 1 || !name [0])
        return s_error (reply, "bad_request", "dvr needs a stream name");
    sf_timeline_t tl;
    if (sf_fleet_timeline (ctx, name, &tl, err, sizeof (err)))
        return s_error (reply, "not_found", err);
    msgpack_sbuffer_clear (reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, reply, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "dvr_reply", has_at == 0 ? 6 : 5);
    sf_pack_kstr (&pk, "name", name);
    sf_pack_kstr (&pk, "uid", tl.uid);
    sf_pack_kstr (&pk, "current", tl.current);
    sf_pack_ki64 (&pk, "now", sf_now_ms () / 1000);
    sf_pack_str (&pk, "timeline");
    msgpack_pack_array (&pk, tl.count);
    for (size_t i = 0; i < tl.count; i++)
        s_pack_tl_entry (&pk, &tl.entries [i]);
    if (has_at == 0) {
        int before, after;
        int hold = sf_timeline_at (&tl, at, &before, &after);
        if (hold >= 0) {
            sf_pack_str (&pk, "at");
            const sf_tl_entry_t *e = &tl.entries [hold];
            //  The playback link starts at the asked moment
            char rtsp [1024] = "", hls [1024] = "";
            sf_stream_t s;
            sf_stream_init (&s);
            SF_STRSET (s.name, e->name);
            SF_STRSET (s.uid, tl.uid);
            SF_STRSET (s.node, e->node);
            sf_node_t n;
            sf_read_t r;
            bool have_node = false;
            if (sf_store_read_begin (ctx->store, &r) == 0) {
                have_node = sf_store_get_node (&r, e->node, &n) == 0;
                sf_store_read_end (&r);
            }
            sf_links_range (&s, have_node ? &n : NULL, at, e->to, rtsp, hls, sizeof (rtsp));
            msgpack_pack_map (&pk, 6);
            sf_pack_ki64 (&pk, "time", at);
            sf_pack_kstr (&pk, "node", e->node);
            sf_pack_ki64 (&pk, "from", e->from);
            sf_pack_ki64 (&pk, "to", e->to);
            sf_pack_kstr (&pk, "rtsp", rtsp);
            sf_pack_kstr (&pk, "hls", hls);
        }
        else {
            sf_pack_str (&pk, "gap");
            msgpack_pack_map (&pk, 3);
            sf_pack_ki64 (&pk, "time", at);
            sf_pack_str (&pk, "before");
            if (before >= 0)
                s_pack_tl_entry (&pk, &tl.entries [before]);
            else
                msgpack_pack_nil (&pk);
            sf_pack_str (&pk, "after");
            if (after >= 0)
                s_pack_tl_entry (&pk, &tl.entries [after]);
            else
                msgpack_pack_nil (&pk);
        }
    }
    sf_timeline_clear (&tl);
    return 0;
}

int
sf_api_handle (sf_query_ctx_t *ctx, const sf_msg_t *request, msgpack_sbuffer *reply)
{
    const char *type = request->type;
    if (strcmp (type, "list") == 0)
        return s_list (ctx, request->body, reply);
    if (strcmp (type, "detail") == 0)
        return s_detail (ctx, request->body, reply);
    if (strcmp (type, "nodes") == 0)
        return s_nodes (ctx, reply);
    if (strcmp (type, "migrations") == 0)
        return s_migrations (ctx, request->body, reply);
    if (strcmp (type, "dvr") == 0)
        return s_dvr (ctx, request->body, reply);
    if (strcmp (type, "cluster") == 0)
        return s_cluster (ctx, reply);
    char msg [96];
    snprintf (msg, sizeof (msg), "unknown request type '%s'", type);
    return s_error (reply, "bad_request", msg);
}

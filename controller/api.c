/*  api.c — answers query requests (include/sf_api.h) from the read model.
    The reply shapes here are the protocol: docs/protocol.md lists them, the
    CLI prints them, the HTTP API returns them as JSON.
*/
#include "sf_api.h"
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

static int
s_list (sf_query_ctx_t *ctx, const msgpack_object *body, msgpack_sbuffer *reply)
{
    char err [SF_ERR_MAX] = "";
    char params [256] = "", name [SF_NAME_MAX + 1] = "", node [SF_NODE_MAX + 1] = "";
    char sortspec [64] = "";
    uint64_t offset = 0, limit = 100;
    if (sf_map_str (body, "filter", params, sizeof (params) - 1, err) < 0
    ||  sf_map_str (body, "name", name, SF_NAME_MAX, err) < 0
    ||  sf_map_str (body, "node", node, SF_NODE_MAX, err) < 0
    ||  sf_map_str (body, "sort", sortspec, sizeof (sortspec) - 1, err) < 0
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
    if (sf_query_list (ctx, &filter, &sort, (size_t) offset, (size_t) limit, &res, err, sizeof (err)))
        return s_error (reply, "internal", err);
    msgpack_sbuffer_clear (reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, reply, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "list_reply", 5);
    sf_pack_ku64 (&pk, "total", res.total);
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
    sf_msg_begin (&pk, "detail_reply", 3);
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
    char msg [96];
    snprintf (msg, sizeof (msg), "unknown request type '%s'", type);
    return s_error (reply, "bad_request", msg);
}

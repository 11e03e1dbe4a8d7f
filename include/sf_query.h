/*  sf_query.h — the controller's queries: list, detail, nodes, gauges.

    Every query path (CLI over ZeroMQ, HTTP API, web page) calls these, so they
    answer alike. Listings, counts and gauges come from the in-memory read
    model (sf_readmodel.h) when one is attached; the page's records are read
    in one LMDB read transaction and the derived state is applied in one
    place: offline status for streams of a down node, migrated type and
    transfer flag (sf_fleet), liveness of nodes. Reads never write.
*/
#ifndef SF_QUERY_H
#define SF_QUERY_H

#include "sf_filter.h"
#include "sf_store.h"
#include "sf_live.h"
#include "sf_readmodel.h"
#include "sf_query_ctx.h"

typedef struct {
    size_t total;               //  rows matching the filter
    sf_stream_t *rows;          //  the requested page, derived fields applied
    size_t nrows;
    //  Keyset cursor for the page after this one ("" at the end, or without
    //  the read model): stable while rows change
    char next [SF_READMODEL_CURSOR_MAX + 1];
    int64_t now_ms;             //  the clock the rows were ordered and derived by
                                //  (uptime's now: the answer's "now" is this one)
} sf_list_result_t;

//  Lists matching placements sorted, from offset, at most limit rows
//  (limit 0 = no rows, count only). Returns 0 or -1 (err filled).
int sf_query_list (sf_query_ctx_t *ctx, const sf_filter_t *filter, const sf_sort_t *sort,
                   size_t offset, size_t limit, sf_list_result_t *out,
                   char *err, size_t errlen);
//  The same, continuing after a cursor (out->next of an earlier page with
//  the same filter and sort; offset counts from there). -1 when the cursor
//  is not valid.
int sf_query_list_after (sf_query_ctx_t *ctx, const sf_filter_t *filter, const sf_sort_t *sort,
                         const char *after, size_t offset, size_t limit,
                         sf_list_result_t *out, char *err, size_t errlen);
void sf_list_result_clear (sf_list_result_t *self);
//  Streams by derived type and status, in transfer, total: from the read
//  model's counters (O(nodes)), or one scan without a model. 0 or -1.
int sf_query_gauges (sf_query_ctx_t *ctx, sf_readmodel_gauges_t *out, char *err, size_t errlen);

//  Every placement of a stream name (or only node's when node is not NULL),
//  with their nodes. Returns 0, or -1 when there is none (err says so).
typedef struct {
    sf_stream_t *placements;
    size_t count;
    sf_node_t *nodes;           //  nodes[i] is the node of placements[i]
} sf_detail_result_t;
int sf_query_detail (sf_query_ctx_t *ctx, const char *name, const char *node,
                     sf_detail_result_t *out, char *err, size_t errlen);
void sf_detail_result_clear (sf_detail_result_t *self);

//  All nodes with liveness and stream counts
int sf_query_nodes (sf_query_ctx_t *ctx, sf_node_t **nodes, size_t *count,
                    char *err, size_t errlen);
#endif

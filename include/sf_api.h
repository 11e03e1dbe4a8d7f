/*  sf_api.h — the controller's queries, answered once (docs/protocol.md §5,
    docs/http-api.md).

    sf_api_handle answers every query into one reply form (sf_reply.h): the
    CLI's ZeroMQ socket sends that message as msgpack, the HTTP API renders
    the same message as JSON (sf_mpjson_dumps), and the CLI's `-o json`
    renders what it received with the same converter. So a stream, a node,
    an event, a DVR range and a cluster member have one shape everywhere.

    Requests (fields as msgpack values; a number may also come as decimal
    text, which is how the HTTP API passes its query arguments; empty text is
    the same as absent):

      list        {filter, name, node, sort, limit, cursor | offset, after}
      detail      {name, node}
      dvr         {name, at}
      nodes       {id}                      id: one node (node_reply)
      migrations  {stream | name, node, kind, since_s, start, end, limit, after}
      cluster     {}
      changes     {after, max, wait_ms}     the change feed (sf_feed.h)
      alerts      {stream, node}            rules, what fires, recent transitions
      dead_letters {webhook}                this controller's dead letters (sf_webhook.h)
      replay      {key | all}               dead letters queued again: the one request that writes

    Replies are <type>_reply, or error {code, message}. Codes: bad_filter,
    bad_name, bad_node, bad_sort, bad_limit, bad_cursor, bad_time, bad_kind,
    bad_wait, bad_webhook, bad_key (the field named in the code is invalid; the message says what
    is valid), bad_request (unknown request type, or changes on a controller
    without a feed), not_found, query_failed (the store could not be read), store_unavailable
    (the webhook queue could not be read). sf_api_http_status maps each to HTTP.
*/
#ifndef SF_API_H
#define SF_API_H

#include "sf_codec.h"
#include "sf_query.h"

#define SF_LIST_LIMIT_DEFAULT   100
#define SF_LIST_LIMIT_MAX       10000
#define SF_EVENTS_LIMIT_DEFAULT 100
#define SF_EVENTS_LIMIT_MAX     100000

//  Answers one request (type and body map; body may be NULL for none) into
//  reply, which is cleared first. Returns 0 for a normal answer, -1 when
//  the reply is an error message.
int sf_api_answer (sf_query_ctx_t *ctx, const char *type, const msgpack_object *body,
                   msgpack_sbuffer *reply);
//  The same, for a door that may hold a request: a `changes` request waits
//  for a change up to min (its wait_ms, max_wait_ms). The ZeroMQ endpoint
//  serves everyone from one thread and never waits (sf_api_answer); HTTP
//  threads may.
int sf_api_answer_wait (sf_query_ctx_t *ctx, const char *type, const msgpack_object *body,
                        int max_wait_ms, msgpack_sbuffer *reply);
//  The same for a parsed request message
int sf_api_handle (sf_query_ctx_t *ctx, const sf_msg_t *request, msgpack_sbuffer *reply);
//  The HTTP status of an error code (400, 404, 500, 503)
int sf_api_http_status (const char *code);
#endif

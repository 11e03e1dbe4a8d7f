/*  sf_api.h — the controller's query requests and replies (docs/protocol.md,
    "Query protocol"). One handler serves the CLI's ZeroMQ socket; the HTTP API
    calls the same handler and converts the msgpack reply to JSON
    (sf_mpjson.h), so both answer with the same fields.

    Requests:  list {filter, name, node, sort, offset, limit}
               detail {name, node}
               nodes {}
               migrations {name?, since_s?, limit?}        (docs/migrations.md)
               dvr {name, at?}
    Replies:   list_reply, detail_reply, nodes_reply, migrations_reply,
               dvr_reply, or error {code, message}.
*/
#ifndef SF_API_H
#define SF_API_H

#include "sf_codec.h"
#include "sf_query.h"

#define SF_LIST_LIMIT_MAX 10000

//  Answers one parsed request into reply (cleared first). Returns 0 when the
//  reply is a normal answer, -1 when it is an error message.
int sf_api_handle (sf_query_ctx_t *ctx, const sf_msg_t *request, msgpack_sbuffer *reply);
#endif

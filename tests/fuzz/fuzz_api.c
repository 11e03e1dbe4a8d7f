/*  fuzz_api — a request frame on the queries endpoint (protocol §5): the
    envelope, then the reply handler with its every argument decoder (filter,
    name, node, sort, limit, offset, cursor, after, at, kind, since_s, ...)
    against a real store; every answer is a well-formed envelope. */
#include "fuzz_api.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    sf_query_ctx_t *ctx = fuzz_fleet ();
    sf_msg_t msg;
    sf_msg_init (&msg);
    if (sf_msg_parse (&msg, data, size) == 0) {
        msgpack_sbuffer reply;
        msgpack_sbuffer_init (&reply);
        (void) sf_api_handle (ctx, &msg, &reply);
        fuzz_reply_ok (&reply);
        msgpack_sbuffer_destroy (&reply);
    }
    sf_msg_release (&msg);
    return 0;
}

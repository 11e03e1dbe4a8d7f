/*  sf_changes.h — the `changes` request (docs/protocol.md "changes"): what
    the change feed (sf_feed.h) holds after a cursor, answered by the query
    endpoint for `streamfleet watch` and by GET /api/v1/changes.
*/
#ifndef SF_CHANGES_H
#define SF_CHANGES_H

#include "sf_feed.h"
#include <msgpack.h>

//  Answers a changes request body {after, max, wait_ms} into reply (a
//  changes_reply, or an error reply for a bad field). Waits for a change at
//  most min (wait_ms, max_wait_ms): the ZeroMQ endpoint, which serves every
//  client from one thread, passes 0; HTTP passes what its threads allow.
void sf_changes_answer (sf_feed_t *feed, const msgpack_object *body, int max_wait_ms,
                        msgpack_sbuffer *reply);
#endif

/*  sf_changes.h — the `changes` request (docs/protocol.md "changes"): what
    the change feed (sf_feed.h) holds after a cursor, answered by the query
    endpoint for `streamfleet watch` and by GET /api/v1/changes.
*/
#ifndef SF_CHANGES_H
#define SF_CHANGES_H

#include "sf_feed.h"
#include <msgpack.h>

//  Answers a changes request: what the feed holds after cursor after ("" or
//  NULL: start at the head, with no changes), at most max entries, waiting
//  up to wait_ms for the first when there is none. Writes a changes_reply
//  into reply and returns 0, or an error reply (bad_cursor) and -1.
int sf_changes_answer (sf_feed_t *feed, const char *after, size_t max, int wait_ms,
                       msgpack_sbuffer *reply);
#endif

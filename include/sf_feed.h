/*  sf_feed.h — the controller's change feed: what changed, in commit order,
    for `streamfleet watch` (the `changes` request, docs/protocol.md) and
    GET /api/v1/changes (server-sent events or long-poll, docs/http-api.md),
    and the web page's live refresh.

    The single writer appends after each LMDB commit (it is a store
    observer, like the read model, so the feed never shows what was not
    committed); node changes (liveness, info) are appended by whoever
    derives them. Entries are numbered from 1 without gaps and kept in a
    bounded ring: a reader further behind than the ring is told so (`gap`)
    and lists afresh. Readers in any thread; the writer holds the lock for
    the copy of one batch only.
*/
#ifndef SF_FEED_H
#define SF_FEED_H

#include "sf_store.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    SF_FEED_PUT = 0,            //  a placement written (new or changed)
    SF_FEED_DELETE,             //  a placement removed
    SF_FEED_NODE,               //  a node's liveness or info changed
} sf_feed_op_t;

typedef struct {
    uint64_t seq;               //  1, 2, 3, ... in commit order
    int64_t at_ms;              //  when the controller committed it
    sf_feed_op_t op;
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];    //  "" for SF_FEED_NODE
    char what [16];             //  SF_FEED_NODE: "alive", "suspect", "down", "info"
    sf_summary_t sum;           //  SF_FEED_PUT: the summary as committed
} sf_feed_entry_t;

typedef struct sf_feed_t sf_feed_t;

//  A feed keeping the last capacity entries (at least 16)
sf_feed_t *sf_feed_new (size_t capacity);
void sf_feed_destroy (sf_feed_t **self_p);
//  The store observer (sf_store_add_observer) that appends committed changes
void sf_feed_observer (void *arg, const sf_store_change_t *changes, size_t count);
//  Appends a node change (what: "alive", "suspect", "down", "info")
void sf_feed_push_node (sf_feed_t *self, const char *node, const char *what);
//  The feed's identity, different on every controller and every start: a
//  cursor is (epoch, seq), and a cursor of another epoch is a gap
uint64_t sf_feed_epoch (sf_feed_t *self);
//  The newest entry's seq (0 when nothing happened yet)
uint64_t sf_feed_head (sf_feed_t *self);
//  Copies at most max entries newer than since into out, oldest first, and
//  returns how many. When there is none yet, waits up to wait_ms for one
//  (0: not at all). *gap is true when entries after since were already
//  dropped from the ring, or since is past the newest (a position from
//  another feed): the reader must list afresh, then read from
//  *head, which is always set to the newest seq.
size_t sf_feed_read (sf_feed_t *self, uint64_t since, sf_feed_entry_t *out, size_t max,
                     int wait_ms, bool *gap, uint64_t *head);
#endif

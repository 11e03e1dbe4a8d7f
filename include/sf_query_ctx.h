/*  sf_query_ctx.h — what every query reads through: the store, the
    liveness table, the read model and the controller's other read sides.

    A header of its own so that the modules the queries call (sf_fleet.h:
    derive, events, timeline, history) take the context without importing
    sf_query.h, whose module imports them. The controller fills one at start
    (the HTTP listener adds its address, below); the query thread and the
    HTTP listener then read it, tools and tests fill their own.
*/
#ifndef SF_QUERY_CTX_H
#define SF_QUERY_CTX_H

#include "sf_live.h"
#include "sf_store.h"
#include <msgpack.h>
#include <stdatomic.h>
#include <stdint.h>

struct sf_readmodel_t;
struct sf_feed_t;
struct sf_alerts_t;
struct sf_webhooks_t;

typedef struct {
    sf_store_t *store;
    sf_live_t *live;
    int64_t transfer_timeout_s;
    //  The indexed read model every listing, count and gauge uses (set by
    //  the controller; NULL: the queries scan LMDB, as tools and tests may)
    struct sf_readmodel_t *model;
    //  Writes a packed cluster_reply message into reply (set when the
    //  controller runs gossip; controller/gossip.c). Thread-safe.
    int (*cluster_fn) (void *arg, msgpack_sbuffer *reply);
    void *cluster_arg;
    //  The HTTP listener's address as bound, for the cluster reply (set by
    //  the HTTP module once it listens; NULL without one). Atomic because
    //  the query threads may already run.
    _Atomic (const char *) http_address;
    //  The change feed the `changes` request reads (set by the controller;
    //  NULL: the request answers bad_request)
    struct sf_feed_t *feed;
    //  The alert rules and what fires (the `alerts` request; NULL: none)
    struct sf_alerts_t *alerts;
    //  Their delivery, for /metrics (NULL: none)
    struct sf_webhooks_t *webhooks;
} sf_query_ctx_t;
#endif

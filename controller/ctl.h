/*  ctl.h — the controller daemon's ingest state, shared by its own modules
    (controller.c: agents; gossip.c: peer controllers). Both run in the
    ingest thread, which owns the only LMDB writer; nothing here is touched
    from another thread.
*/
#ifndef SF_CTL_H
#define SF_CTL_H

#include "sf_controller.h"
#include "sf_codec.h"
#include "sf_live.h"
#include "sf_log.h"
#include "sf_metrics.h"
#include "sf_query.h"
#include "sf_security.h"
#include "sf_store.h"
#include <czmq.h>
#include <stdatomic.h>

//  What the controller knows of one origin's (one node's) change stream
typedef struct sf_origin_t {
    char node [SF_NODE_MAX + 1];
    sf_version_t committed;
    sf_version_t staged;
    zframe_t *route;                //  routing id of the agent's connection
    bool touched;                   //  in the open transaction
    bool ack_due;
    bool info_dirty;
    sf_node_t info;
    //  snapshot being assembled
    zlistx_t *snap;                 //  zframe_t of chunks
    uint64_t snap_gen, snap_seq;
    size_t snap_records;
    int64_t resync_sent_ms;
} sf_origin_t;

typedef struct sf_ctl_t {
    sf_controller_config_t *cfg;
    sf_store_t *store;
    sf_live_t *live;
    sf_metrics_t metrics;
    sf_peers_t *peers;
    zsock_t *agents;
    zhashx_t *origins;
    zlistx_t *touched;              //  sf_origin_t * in the open transaction
    sf_msg_t msg;
    sf_msg_t chunk;                 //  for snapshot chunks
    sf_stream_t scratch;
    msgpack_sbuffer out;
    sf_ratelimit_t rl;
    size_t txn_records;
    bool txn_open;
    atomic_bool stop;
    sf_query_ctx_t query;
    struct sf_gossip_t *gossip;
    zcert_t *cert;
} sf_ctl_t;

//  The origin record of a node, loaded from storage on first use
sf_origin_t *sf_ctl_origin (sf_ctl_t *c, const char *node);
//  Opens the write transaction if none is open. 0 or -1.
int sf_ctl_txn (sf_ctl_t *c);
//  Marks an origin as changed in the open transaction (committed with it)
void sf_ctl_touch (sf_ctl_t *c, sf_origin_t *o);
//  Commits the open transaction, then advances and acknowledges origins
void sf_ctl_commit (sf_ctl_t *c);
#endif

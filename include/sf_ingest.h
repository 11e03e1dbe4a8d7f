/*  sf_ingest.h — the agent protocol, controller side (controller/ingest.c,
    docs/protocol.md "Agent protocol").

    Turns each agent message (hello, snap, batch, hb) into changes staged in
    the writer (sf_writer.h) and answers the agent: acks after the commit
    (through the writer's done callback, which this module registers),
    errors, resyncs and retries at once. It knows nothing of sockets: replies
    go to a send callback (the daemon's ROUTER socket; a capture in tests),
    and nothing of gossip.

    Threads: ingest thread only, like the writer it drives.
*/
#ifndef SF_INGEST_H
#define SF_INGEST_H

#include "sf_live.h"
#include "sf_metrics.h"
#include "sf_patchlog.h"
#include "sf_writer.h"
#include <czmq.h>

typedef struct sf_ingest_t sf_ingest_t;

//  Sends one reply to the agent at route (node names it, for messages)
typedef void (sf_ingest_send_fn) (zframe_t *route, const char *node, const void *data, size_t size,
                                  void *arg);

typedef struct {
    sf_writer_t *writer;
    sf_live_t *live;
    sf_metrics_t *metrics;
    int64_t max_streams_per_node;   //  --max-streams-per-node
    size_t max_snapshots;           //  snapshots assembled at once at most (0: 4)
    sf_ingest_send_fn *send;
    void *send_arg;
    //  Each patch applied is noted here, for gossip (NULL: not noted)
    sf_patchlog_t *patches;
    //  Heartbeats are counted as they arrive (sf_agentio.h): the answer to
    //  a hello says so ("beats"), and the agent sends them outside its
    //  flow-control window (docs/protocol.md, "Flow control")
    bool beats_on_arrival;
} sf_ingest_config_t;

sf_ingest_t *sf_ingest_new (const sf_ingest_config_t *cfg);
void sf_ingest_destroy (sf_ingest_t **self_p);
//  Handles one message from the agent of node (the node id of its
//  certificate), received from route
void sf_ingest_message (sf_ingest_t *self, zframe_t *route, const char *node,
                        const void *data, size_t size);
//  Answers a message refused before it reached a node (a key that is not an
//  agent's, a message of several frames): counted, logged at a limited rate
void sf_ingest_reject (sf_ingest_t *self, zframe_t *route, const char *who, int reason,
                       const char *error);
//  Snapshots being assembled now
size_t sf_ingest_snapshots (sf_ingest_t *self);
#endif

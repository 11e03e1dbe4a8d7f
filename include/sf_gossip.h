/*  sf_gossip.h — controllers sharing the fleet state (DESIGN §4), docs/protocol.md
    "Controller ↔ controller".

    Membership is SWIM-style: every gossip interval a controller exchanges
    digests with one random member; a member that does not answer is probed
    indirectly through up to two others, then suspected, then declared dead;
    a member refutes suspicion by raising its incarnation. Anti-entropy is
    Scuttlebutt's: a digest names, per origin, the highest (generation, seq)
    applied; each side sends the other every record it lacks, oldest version
    first, in bounded messages, and only claims a version once every record
    up to it is applied. Node heartbeat counters ride along, so each
    controller judges node liveness itself.

    Everything here runs in the controller's ingest thread (the only writer).
*/
#ifndef SF_GOSSIP_H
#define SF_GOSSIP_H

#include <czmq.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

struct sf_ctl_t;
typedef struct sf_gossip_t sf_gossip_t;

//  Binds the peers endpoint and connects to the seeds. NULL with err.
sf_gossip_t *sf_gossip_new (struct sf_ctl_t *ctl, char *err, size_t errlen);
void sf_gossip_destroy (sf_gossip_t **self_p);
//  Fills poll items for its sockets; returns how many (at most max)
int sf_gossip_pollitems (sf_gossip_t *self, zmq_pollitem_t *items, int max);
//  Handles whatever the items from sf_gossip_pollitems say is readable
void sf_gossip_handle (sf_gossip_t *self, zmq_pollitem_t *items, int count);
//  Runs timers: gossip rounds, probes, suspicion. Call at least every 50 ms.
void sf_gossip_tick (sf_gossip_t *self);
//  Whether this controller has caught up with its peers (any thread): a
//  peer's digest named nothing newer than ours, or no peer answered within
//  the time it takes to declare one dead. Fills why when not.
bool sf_gossip_ready (sf_gossip_t *self, char *why, size_t whylen);
//  Packs the cluster view as a cluster_reply message (any thread)
int sf_gossip_cluster (void *self, msgpack_sbuffer *reply);
#endif

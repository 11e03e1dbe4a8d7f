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

    Everything here runs in the controller's ingest thread and writes through
    its write session (sf_writer.h), except sf_gossip_cluster and
    sf_gossip_ready, which any thread may call.
*/
#ifndef SF_GOSSIP_H
#define SF_GOSSIP_H

#include "sf_controller_config.h"
#include "sf_live.h"
#include "sf_metrics.h"
#include "sf_patchlog.h"
#include "sf_security.h"
#include "sf_writer.h"
#include <czmq.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sf_gossip_t sf_gossip_t;

//  State beside the records that rides on the exchanges with its own digest
//  and merge (the alerts' episodes and the webhooks' delivery confirmations,
//  wired by the controller): the `alerts` message, docs/protocol.md. After
//  each exchange the asking side sends its digest; a side whose digest
//  differs answers with its own and an offer of what the other lacks, once
//  each way.
typedef struct {
    void (*digest) (void *arg, msgpack_packer *pk);     //  packs one value
    //  Whether a peer's digest differs from ours (after what we merged)
    bool (*differs) (void *arg, const msgpack_object *theirs);
    //  Packs one value: what the peer whose digest is theirs lacks
    void (*offer) (void *arg, const msgpack_object *theirs, msgpack_packer *pk);
    //  Merges a peer's offer; returns how many entries were malformed
    int (*apply) (void *arg, const msgpack_object *offer);
    //  After a peer's message was handled (its offer merged): theirs its
    //  digest (NULL: none), offered whether we just answered with our final
    //  offer (so that it holds what we hold). NULL: not asked.
    void (*heard) (void *arg, const char *from, const msgpack_object *theirs, bool offered);
    void *arg;
} sf_gossip_ext_t;

//  What gossip uses of the controller; the caller owns all of it
typedef struct {
    const sf_controller_config_t *cfg;
    zcert_t *cert;                  //  this controller's certificate
    sf_writer_t *writer;            //  the write session: origins, transaction, commit
    sf_store_t *store;              //  for read transactions
    sf_live_t *live;
    sf_metrics_t *metrics;
    sf_peers_t *peers;
    //  The last patch per placement (agent ingest and gossip note them):
    //  what lets a delta carry a patch instead of a record (NULL: never)
    sf_patchlog_t *patches;
    const sf_gossip_ext_t *ext;     //  NULL: none
} sf_gossip_env_t;

//  Binds the peers endpoint and connects to the seeds. NULL with err.
sf_gossip_t *sf_gossip_new (const sf_gossip_env_t *env, char *err, size_t errlen);
void sf_gossip_destroy (sf_gossip_t **self_p);
//  Fills poll items for its sockets; returns how many (at most max)
int sf_gossip_pollitems (sf_gossip_t *self, zmq_pollitem_t *items, int max);
//  Deltas read and not applied yet (the next sf_gossip_handle applies them)
bool sf_gossip_pending (sf_gossip_t *self);
//  Handles whatever the items from sf_gossip_pollitems say is readable: up
//  to 64 messages a socket, deltas into the inbox; then applies the inbox's
//  oldest deltas for up to 100 ms
void sf_gossip_handle (sf_gossip_t *self, zmq_pollitem_t *items, int count);
//  Runs timers: gossip rounds, probes, suspicion. Call at least every 50 ms.
void sf_gossip_tick (sf_gossip_t *self);
//  Whether this controller has caught up with its peers (any thread): a
//  peer's digest named nothing newer than ours, or no peer answered within
//  the time it takes to declare one dead. Fills why when not.
bool sf_gossip_ready (sf_gossip_t *self, char *why, size_t whylen);
//  Packs the cluster view as a cluster_reply message (any thread)
int sf_gossip_cluster (void *self, msgpack_sbuffer *reply);

//  The fuzzing seam (tests/fuzz/fuzz_gossip.c), never used by the
//  controller. Fuzz mode: no member is ever connected (a peer's message names
//  any endpoint) and every message gossip would send goes to tap as well.
typedef void (sf_gossip_tap_fn) (const void *data, size_t size, void *arg);
void sf_gossip_fuzz_mode (sf_gossip_t *self, sf_gossip_tap_fn *tap, void *arg);
//  One peer message (an envelope, as received) through the real handlers:
//  answers (gossip_reply, ack, ping_ack) as on a member's connection, the
//  rest as on the peers endpoint from an admitted peer certificate. Fuzz
//  mode only. 0, or -1 when it is no envelope.
int sf_gossip_fuzz_input (sf_gossip_t *self, const uint8_t *data, size_t size);
//  With refuse, what gossip sends is tapped but counts as dropped (a peer's
//  full queue): nothing of it is taken as sent
void sf_gossip_fuzz_refuse (sf_gossip_t *self, bool refuse);
//  One delta's bounds (docs/protocol.md §6.3 rule 2), lowered so that a
//  small test cuts blocks; fuzz mode only
void sf_gossip_fuzz_budget (sf_gossip_t *self, size_t records, size_t bytes);
#endif

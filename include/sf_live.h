/*  sf_live.h — node liveness, derived on read (DESIGN §3, §4).

    Each controller judges a node by when it last saw the node's heartbeat
    counter rise, on its own monotonic clock (Cassandra's way), so no clocks
    need to agree. The table is shared by the ingest and query threads.
    A node known from storage but not yet heard from since this controller
    started counts from the start, so a restart does not mark the fleet down.
*/
#ifndef SF_LIVE_H
#define SF_LIVE_H

#include "sf_record.h"

typedef struct sf_live_t sf_live_t;

sf_live_t *sf_live_new (int64_t suspect_ms, int64_t down_ms);
void sf_live_destroy (sf_live_t **self_p);
//  Records a heartbeat counter (gen, counter) seen at now_ms (monotonic).
//  Returns true when it rose.
bool sf_live_beat (sf_live_t *self, const char *node, uint64_t gen, uint64_t counter,
                   int64_t now_ms);
//  The stale mark (docs/protocol.md, heartbeat `stale`) that heartbeat
//  (gen, counter) of the node carried: recorded only when it is the latest
//  heartbeat known (a rising beat forgets the mark until its own is heard),
//  so an older report never overrides a newer one. Returns true when
//  recorded: the caller shows the node with that mark.
bool sf_live_set_stale (sf_live_t *self, const char *node, uint64_t gen, uint64_t counter,
                        bool stale);
//  The mark of the node's latest heartbeat: 1 stale, 0 not, -1 not known
int sf_live_stale (sf_live_t *self, const char *node);
//  Makes a node known (from storage) without a heartbeat
void sf_live_know (sf_live_t *self, const char *node, int64_t now_ms);
//  Liveness of a node; age_ms gets the time since the counter last rose
//  (-1 if the node is unknown, which counts as down).
int sf_live_state (sf_live_t *self, const char *node, int64_t now_ms, int64_t *age_ms);
//  Logs every node that became suspect or down since the last call, once
//  per transition with the reason (back to alive is logged by sf_live_beat)
void sf_live_sweep (sf_live_t *self, int64_t now_ms);
void sf_live_counts (sf_live_t *self, int64_t now_ms, uint32_t counts [3]);
//  Visits every node heard from (not those only made known from storage)
//  with its latest heartbeat (gen, counter) and that heartbeat's stale mark
//  (-1 not known)
typedef void (sf_live_fn) (const char *node, uint64_t gen, uint64_t counter, int stale, void *arg);
void sf_live_each (sf_live_t *self, sf_live_fn *fn, void *arg);
#endif

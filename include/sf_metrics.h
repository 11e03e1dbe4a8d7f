/*  sf_metrics.h — the controller's counters, shared by its threads.

    Plain atomics written by the ingest and query threads and read by the
    HTTP thread for GET /metrics (Prometheus text format, controller/metrics.c).
    Commit latency is a fixed-bucket histogram in microseconds.
*/
#ifndef SF_METRICS_H
#define SF_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "sf_codec.h"

#define SF_COMMIT_BUCKETS 12
//  Upper bounds (seconds) of the commit-latency buckets; the last is +Inf
extern const double sf_commit_bucket_le [SF_COMMIT_BUCKETS];

typedef struct {
    atomic_uint_fast64_t messages_in;           //  frames received from agents
    atomic_uint_fast64_t records_in;            //  stream/node changes committed
    atomic_uint_fast64_t snapshots;             //  snapshots applied
    atomic_uint_fast64_t resyncs;               //  snapshot requests sent
    atomic_uint_fast64_t heartbeats;
    atomic_uint_fast64_t commits;
    atomic_uint_fast64_t rejected [SF_REJ_COUNT];
    atomic_uint_fast64_t queries;               //  CLI queries answered
    atomic_uint_fast64_t query_replies_dropped; //  to clients not reading their replies
    atomic_uint_fast64_t agent_replies_dropped; //  to agents not reading (or gone)
    //  Messages from agents dropped on arrival (controller/agentio.c): their
    //  connection's queue was full, or all the queues' bytes at their bound
    atomic_uint_fast64_t agent_dropped_queue_full;
    atomic_uint_fast64_t agent_dropped_memory;
    atomic_uint_fast64_t gossip_sends_dropped;  //  to peers whose queue was full
    atomic_uint_fast64_t gossip_deltas_shed;
    atomic_uint_fast64_t agent_beats_unqueued;  //  counted on arrival, not queued (agentio.c)    //  read with the inbox full (gossip.c)
    atomic_uint_fast64_t http_requests;
    atomic_uint_fast64_t http_refused;      //  URIs over the limits (sf_http.h)
    atomic_uint_fast64_t commit_buckets [SF_COMMIT_BUCKETS];
    atomic_uint_fast64_t commit_sum_us;
    atomic_uint_fast64_t map_grows;
    //  Flushes of the LMDB environment to disk (mdb_env_sync) that failed,
    //  and whether the last one did (sf_writer_sync)
    atomic_uint_fast64_t sync_failures;
    atomic_uint_fast64_t syncs;                 //  flushes tried, and their time
    atomic_uint_fast64_t sync_us;
    atomic_int sync_failing;
    atomic_uint_fast64_t gossip_bytes_out;         //  peer protocol, both directions
    atomic_uint_fast64_t gossip_bytes_in;
    atomic_uint_fast64_t gossip_records_in;        //  replicated changes applied
    atomic_uint_fast64_t gossip_rounds;
    //  Delta entries sent and applied as patches (docs/protocol.md §6.3), and
    //  patches that found another version stored than their base
    atomic_uint_fast64_t gossip_patches_out;
    atomic_uint_fast64_t gossip_patches_in;
    atomic_uint_fast64_t gossip_patch_misses;
    atomic_uint_fast64_t gossip_entries_held;       //  delta entries held here already
    atomic_uint_fast64_t gossip_patches_early;      //  patches of a block above what is held,
                                                    //  their base still on its way
    //  Agents' patches committed (docs/protocol.md, patch), by path: spliced
    //  onto the stored bytes, or decoded, patched and re-encoded through the
    //  fleet (a change of what the fleet derives from)
    atomic_uint_fast64_t patches_spliced;
    atomic_uint_fast64_t patches_reencoded;
    //  Placement updates folded into a later one of the same placement in
    //  one write transaction (sf_store_coalesced)
    atomic_uint_fast64_t coalesced;
} sf_metrics_t;

void sf_metrics_init (sf_metrics_t *self);
void sf_metrics_commit (sf_metrics_t *self, int64_t latency_us);
void sf_metrics_reject (sf_metrics_t *self, int reason);

#define SF_METRICS_PEERS_MAX 64

//  State gauges, gathered at scrape time through sf_query.h (they are read
//  model answers, not counters). A family with have_* false is left out.
typedef struct {
    bool have_streams;
    uint64_t streams_by_type [SF_TYPE_COUNT];           //  sf_type_t
    uint64_t streams_by_status [SF_STATUS_COUNT];       //  sf_status_t, derived
    uint64_t streams_transfer;
    uint64_t streams_total;
    bool have_nodes;
    uint64_t nodes_by_liveness [3];                     //  sf_liveness_t
    //  Peer controllers as gossip sees them (replication lag per peer)
    uint32_t npeers;
    struct {
        char id [64];
        char state [16];                                //  alive, suspect, dead, unknown
        uint64_t lag_changes;                           //  changes it lacks of ours
        double last_heard_s;                            //  -1 never
    } peers [SF_METRICS_PEERS_MAX];
    double scrape_seconds;                              //  time to gather these
} sf_metrics_gauges_t;

//  Writes every counter, the commit-latency histogram and the gauges (g may
//  be NULL) in the Prometheus text exposition format 0.0.4. Names follow
//  Prometheus conventions: streamfleet_ prefix, _total counters, base units.
//  Returns 0, or -1 when the stream failed.
int sf_metrics_write (sf_metrics_t *self, const sf_metrics_gauges_t *g, FILE *out);
#endif

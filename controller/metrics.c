/*  metrics.c — the controller's counters and their Prometheus text.

    Threads bump plain atomics (relaxed: a scrape needs each counter to be
    monotonic, not a consistent snapshot of all of them), and GET /metrics
    writes them in the Prometheus text exposition format 0.0.4. Commit latency
    is kept per bucket and made cumulative only when written, so recording a
    commit touches one bucket, not all the ones above it.
*/
#include <string.h>
#include "sf_metrics.h"
#include "sf_record.h"

//  Seconds. An LMDB batch commit is tens of microseconds to tens of
//  milliseconds (fsync); the buckets cover that span, then +Inf.
const double sf_commit_bucket_le [SF_COMMIT_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
    0.01, 0.025, 0.05, 0.1, 0.5, 1e300
};

#define S_INF_BUCKET (SF_COMMIT_BUCKETS - 1)

void
sf_metrics_init (sf_metrics_t *self)
{
    atomic_init (&self->messages_in, 0);
    atomic_init (&self->records_in, 0);
    atomic_init (&self->snapshots, 0);
    atomic_init (&self->resyncs, 0);
    atomic_init (&self->heartbeats, 0);
    atomic_init (&self->commits, 0);
    for (int i = 0; i < SF_REJ_COUNT; i++)
        atomic_init (&self->rejected [i], 0);
    atomic_init (&self->queries, 0);
    atomic_init (&self->query_replies_dropped, 0);
    atomic_init (&self->agent_replies_dropped, 0);
    atomic_init (&self->agent_dropped_queue_full, 0);
    atomic_init (&self->agent_dropped_memory, 0);
    atomic_init (&self->gossip_sends_dropped, 0);
    atomic_init (&self->gossip_deltas_shed, 0);
    atomic_init (&self->agent_beats_unqueued, 0);
    atomic_init (&self->http_requests, 0);
    atomic_init (&self->http_refused, 0);
    for (int i = 0; i < SF_COMMIT_BUCKETS; i++)
        atomic_init (&self->commit_buckets [i], 0);
    atomic_init (&self->commit_sum_us, 0);
    atomic_init (&self->map_grows, 0);
    atomic_init (&self->sync_failures, 0);
    atomic_init (&self->syncs, 0);
    atomic_init (&self->sync_us, 0);
    atomic_init (&self->sync_failing, 0);
    atomic_init (&self->gossip_patches_out, 0);
    atomic_init (&self->gossip_patches_in, 0);
    atomic_init (&self->gossip_patch_misses, 0);
    atomic_init (&self->gossip_entries_held, 0);
    atomic_init (&self->gossip_patches_early, 0);
    atomic_init (&self->patches_spliced, 0);
    atomic_init (&self->patches_reencoded, 0);
    atomic_init (&self->coalesced, 0);
}

//  Records one committed batch and its latency in microseconds. A negative
//  latency (a clock step) counts as zero rather than corrupting the sum.
void
sf_metrics_commit (sf_metrics_t *self, int64_t latency_us)
{
    if (latency_us < 0)
        latency_us = 0;
    double seconds = (double) latency_us / 1e6;
    int b = 0;
    while (b < S_INF_BUCKET && seconds > sf_commit_bucket_le [b])
        b++;
    atomic_fetch_add_explicit (&self->commit_buckets [b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit (&self->commit_sum_us, (uint_fast64_t) latency_us,
                               memory_order_relaxed);
    atomic_fetch_add_explicit (&self->commits, 1, memory_order_relaxed);
}

//  Counts a rejected message. An out-of-range reason is a programmer's slip,
//  but it is counted as malformed rather than written out of bounds.
void
sf_metrics_reject (sf_metrics_t *self, int reason)
{
    if (reason <= SF_REJ_NONE || reason >= SF_REJ_COUNT)
        reason = SF_REJ_MALFORMED;
    atomic_fetch_add_explicit (&self->rejected [reason], 1, memory_order_relaxed);
}

static uint64_t
s_get (atomic_uint_fast64_t *a)
{
    return (uint64_t) atomic_load_explicit (a, memory_order_relaxed);
}

static void
s_counter (FILE *out, const char *name, const char *help, uint64_t value)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
             name, help, name, name, (unsigned long long) value);
}

static void
s_family (FILE *out, const char *name, const char *type, const char *help)
{
    fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

int
sf_metrics_write (sf_metrics_t *self, const sf_metrics_gauges_t *g, FILE *out)
{
    s_counter (out, "streamfleet_ingest_messages_total",
               "Frames received from agents.", s_get (&self->messages_in));
    s_counter (out, "streamfleet_ingest_records_total",
               "Stream and node changes committed to storage.", s_get (&self->records_in));
    s_counter (out, "streamfleet_ingest_snapshots_total",
               "Agent snapshots applied.", s_get (&self->snapshots));
    s_counter (out, "streamfleet_ingest_resyncs_total",
               "Snapshot requests sent to agents (gap or new generation).",
               s_get (&self->resyncs));
    s_counter (out, "streamfleet_ingest_heartbeats_total",
               "Agent heartbeats received.", s_get (&self->heartbeats));
    s_family (out, "streamfleet_ingest_patches_total", "counter",
              "Agents' patches committed, by path: spliced onto the stored record's bytes, or "
              "re-encoded through the fleet (a change of status, uid, type or functions).");
    fprintf (out, "streamfleet_ingest_patches_total{path=\"spliced\"} %llu\n",
             (unsigned long long) s_get (&self->patches_spliced));
    fprintf (out, "streamfleet_ingest_patches_total{path=\"reencoded\"} %llu\n",
             (unsigned long long) s_get (&self->patches_reencoded));
    s_counter (out, "streamfleet_store_coalesced_total",
               "Placement updates folded into a later update of the same placement within one "
               "write transaction (written once, the last).", s_get (&self->coalesced));
    s_counter (out, "streamfleet_store_map_grows_total",
               "Times the LMDB map was grown after MDB_MAP_FULL.", s_get (&self->map_grows));
    s_counter (out, "streamfleet_store_sync_failures_total",
               "Flushes of the data directory to disk (mdb_env_sync) that failed.",
               s_get (&self->sync_failures));
    s_counter (out, "streamfleet_store_syncs_total",
               "Flushes of the data directory to disk (mdb_env_sync) tried, by the flusher thread "
               "(every --sync-ms) or after each commit (--sync-ms 0).", s_get (&self->syncs));
    s_family (out, "streamfleet_store_sync_seconds_total", "counter", "Time spent in those flushes.");
    fprintf (out, "streamfleet_store_sync_seconds_total %.6f\n", (double) s_get (&self->sync_us) / 1e6);
    s_family (out, "streamfleet_store_sync_failing", "gauge",
              "1 while the last flush of the data directory to disk failed (with --sync-ms 0 "
              "no agent is acknowledged meanwhile).");
    fprintf (out, "streamfleet_store_sync_failing %d\n", atomic_load (&self->sync_failing));
    s_counter (out, "streamfleet_queries_total",
               "CLI queries answered.", s_get (&self->queries));
    s_counter (out, "streamfleet_query_replies_dropped_total",
               "Query replies dropped, not queued and not built: the client was not reading its replies "
               "(or was gone).", s_get (&self->query_replies_dropped));
    s_counter (out, "streamfleet_ingest_replies_dropped_total",
               "Replies to agents dropped, not queued: the agent's queue was full or it was gone.",
               s_get (&self->agent_replies_dropped));
    s_family (out, "streamfleet_ingest_dropped_total", "counter",
              "Messages from agents dropped on arrival, by reason: queue_full (the connection "
              "had 200 messages waiting to be read: it ignores the flow-control window), memory "
              "(1 GiB queued from all agents). Recovered by the protocol (a gap in seq asks for "
              "a snapshot).");
    fprintf (out, "streamfleet_ingest_dropped_total{reason=\"queue_full\"} %llu\n",
             (unsigned long long) s_get (&self->agent_dropped_queue_full));
    fprintf (out, "streamfleet_ingest_dropped_total{reason=\"memory\"} %llu\n",
             (unsigned long long) s_get (&self->agent_dropped_memory));
    s_counter (out, "streamfleet_gossip_sends_dropped_total",
               "Gossip messages not sent: the peer's queue was full (it is slow or away).",
               s_get (&self->gossip_sends_dropped));
    s_counter (out, "streamfleet_ingest_heartbeats_unqueued_total",
               "Agents' heartbeats counted as they arrived and not queued: a window's worth of that "
               "agent's messages waited to be read already.", s_get (&self->agent_beats_unqueued));
    s_counter (out, "streamfleet_gossip_deltas_shed_total",
               "Deltas from peers shed unapplied: 64 MiB of deltas waited to be applied already "
               "(anti-entropy sends them again).", s_get (&self->gossip_deltas_shed));
    s_counter (out, "streamfleet_http_requests_total",
               "HTTP requests answered.", s_get (&self->http_requests));
    s_counter (out, "streamfleet_http_refused_total",
               "HTTP requests refused before parsing: URI, path or query parameters over the limits.",
               s_get (&self->http_refused));

    s_counter (out, "streamfleet_gossip_rounds_total",
               "Gossip exchanges started with a peer controller.", s_get (&self->gossip_rounds));
    s_counter (out, "streamfleet_gossip_records_total",
               "Replicated changes applied from peer controllers.", s_get (&self->gossip_records_in));
    s_family (out, "streamfleet_gossip_bytes_total", "counter",
              "Bytes of the peer protocol, by direction.");
    fprintf (out, "streamfleet_gossip_bytes_total{direction=\"in\"} %llu\n",
             (unsigned long long) s_get (&self->gossip_bytes_in));
    fprintf (out, "streamfleet_gossip_bytes_total{direction=\"out\"} %llu\n",
             (unsigned long long) s_get (&self->gossip_bytes_out));
    s_family (out, "streamfleet_gossip_patches_total", "counter",
              "Delta entries sent to peers as patches (out) and patches applied from peers (in).");
    fprintf (out, "streamfleet_gossip_patches_total{direction=\"in\"} %llu\n",
             (unsigned long long) s_get (&self->gossip_patches_in));
    fprintf (out, "streamfleet_gossip_patches_total{direction=\"out\"} %llu\n",
             (unsigned long long) s_get (&self->gossip_patches_out));
    s_counter (out, "streamfleet_gossip_patch_misses_total",
               "Patches from peers whose base version was not the one stored here: "
               "that origin's records are asked for whole.", s_get (&self->gossip_patch_misses));
    s_counter (out, "streamfleet_gossip_entries_held_total",
               "Entries of peers' deltas this controller held already (the same version or a "
               "newer one): bytes sent for nothing, as when a peer resends what is still on its way.",
               s_get (&self->gossip_entries_held));
    s_counter (out, "streamfleet_gossip_patches_early_total",
               "Patches in a peer's delta block that starts above what is held here, whose base "
               "is still on its way: skipped, sent again later (not counted as misses).",
               s_get (&self->gossip_patches_early));

    s_family (out, "streamfleet_ingest_rejected_total", "counter",
              "Messages rejected, by reason (malformed, version, type, field, bounds, forbidden, state).");
    for (int r = SF_REJ_NONE + 1; r < SF_REJ_COUNT; r++)
        fprintf (out, "streamfleet_ingest_rejected_total{reason=\"%s\"} %llu\n",
                 sf_reject_name (r), (unsigned long long) s_get (&self->rejected [r]));

    //  The histogram's count is the sum of its buckets, not the commits
    //  counter read a moment apart, so +Inf always equals _count.
    s_family (out, "streamfleet_store_commit_duration_seconds", "histogram",
              "Latency of LMDB write-transaction commits.");
    uint64_t cumulative = 0;
    for (int b = 0; b < SF_COMMIT_BUCKETS; b++) {
        cumulative += s_get (&self->commit_buckets [b]);
        if (b == S_INF_BUCKET)
            fprintf (out, "streamfleet_store_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                     (unsigned long long) cumulative);
        else
            fprintf (out, "streamfleet_store_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
                     sf_commit_bucket_le [b], (unsigned long long) cumulative);
    }
    fprintf (out, "streamfleet_store_commit_duration_seconds_sum %.6f\n",
             (double) s_get (&self->commit_sum_us) / 1e6);
    fprintf (out, "streamfleet_store_commit_duration_seconds_count %llu\n",
             (unsigned long long) cumulative);

    if (g && g->have_streams) {
        s_family (out, "streamfleet_streams", "gauge",
                  "Stream placements in the fleet, by derived type.");
        for (int t = 0; t < SF_TYPE_COUNT; t++)
            fprintf (out, "streamfleet_streams{type=\"%s\"} %llu\n", sf_type_name (t),
                     (unsigned long long) g->streams_by_type [t]);
        s_family (out, "streamfleet_streams_by_status", "gauge",
                  "Stream placements in the fleet, by derived status (offline: the node is down).");
        for (int s = 0; s < SF_STATUS_COUNT; s++)
            fprintf (out, "streamfleet_streams_by_status{status=\"%s\"} %llu\n",
                     sf_status_name (s), (unsigned long long) g->streams_by_status [s]);
        s_family (out, "streamfleet_streams_transfer", "gauge",
                  "Stream placements moving between two nodes now.");
        fprintf (out, "streamfleet_streams_transfer %llu\n",
                 (unsigned long long) g->streams_transfer);
        s_family (out, "streamfleet_streams_total_placements", "gauge",
                  "All stream placements stored.");
        fprintf (out, "streamfleet_streams_total_placements %llu\n",
                 (unsigned long long) g->streams_total);
    }
    if (g && g->have_nodes) {
        s_family (out, "streamfleet_nodes", "gauge", "Media-server nodes, by derived liveness.");
        for (int l = SF_LIVE_ALIVE; l <= SF_LIVE_DOWN; l++)
            fprintf (out, "streamfleet_nodes{liveness=\"%s\"} %llu\n", sf_liveness_name (l),
                     (unsigned long long) g->nodes_by_liveness [l]);
    }
    if (g && g->npeers) {
        //  Peer ids come from the network: a quote or backslash in one would
        //  break the exposition format, so such characters are replaced
        s_family (out, "streamfleet_replication_lag_changes", "gauge",
                  "Changes a peer controller lacks of this one's, by peer (replication lag).");
        for (uint32_t i = 0; i < g->npeers && i < SF_METRICS_PEERS_MAX; i++)
            fprintf (out, "streamfleet_replication_lag_changes{peer=\"%s\",state=\"%s\"} %llu\n",
                     g->peers [i].id, g->peers [i].state,
                     (unsigned long long) g->peers [i].lag_changes);
        s_family (out, "streamfleet_replication_peer_last_heard_seconds", "gauge",
                  "Seconds since a peer controller was last heard from (-1: never).");
        for (uint32_t i = 0; i < g->npeers && i < SF_METRICS_PEERS_MAX; i++)
            fprintf (out, "streamfleet_replication_peer_last_heard_seconds{peer=\"%s\"} %.3f\n",
                     g->peers [i].id, g->peers [i].last_heard_s);
    }
    if (g) {
        s_family (out, "streamfleet_metrics_scrape_duration_seconds", "gauge",
                  "Time spent gathering the state gauges for this scrape.");
        fprintf (out, "streamfleet_metrics_scrape_duration_seconds %.6f\n", g->scrape_seconds);
    }
    return ferror (out)? -1: 0;
}

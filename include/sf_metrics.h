/*  sf_metrics.h — the controller's counters, shared by its threads.

    Plain atomics written by the ingest and query threads and read by the
    HTTP thread for GET /metrics (Prometheus text format, controller/metrics.c).
    Commit latency is a fixed-bucket histogram in microseconds.
*/
#ifndef SF_METRICS_H
#define SF_METRICS_H

#include <stdatomic.h>
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
    atomic_uint_fast64_t http_requests;
    atomic_uint_fast64_t commit_buckets [SF_COMMIT_BUCKETS];
    atomic_uint_fast64_t commit_sum_us;
    atomic_uint_fast64_t map_grows;
} sf_metrics_t;

void sf_metrics_init (sf_metrics_t *self);
void sf_metrics_commit (sf_metrics_t *self, int64_t latency_us);
void sf_metrics_reject (sf_metrics_t *self, int reason);
#endif

/*  sf_usage.h — the node's resource usage for heartbeats (DESIGN §2, Node).

    CPU percent and network rates are deltas between two readings, so the
    reader keeps the previous sample: the first reading reports 0 for them.
    Sources are Linux's /proc/stat, /proc/meminfo and /proc/net/dev, and
    statvfs() on each configured mount. The loopback interface is left out of
    in/out kbps: it is not traffic the server serves.
*/
#ifndef SF_USAGE_H
#define SF_USAGE_H

#include "sf_record.h"

typedef struct sf_usage_t sf_usage_t;

sf_usage_t *sf_usage_new (void);
void sf_usage_destroy (sf_usage_t **self_p);
//  Reads /proc from another root (unit tests use fixture files). NULL = "/proc".
void sf_usage_set_proc_root (sf_usage_t *self, const char *root);
//  Counts only interface name in in/out kbps (NULL or "": every interface
//  but loopback)
void sf_usage_set_interface (sf_usage_t *self, const char *name);
//  Fills node's cpu_pct, mem_used/total_bytes, in/out_kbps and disks (from the
//  comma-separated mounts in disks_csv; "/" when empty). now_ms is a monotonic
//  clock reading for the rates. Returns 0, or -1 when /proc could not be read
//  (fields it could read are still filled).
int sf_usage_read (sf_usage_t *self, sf_node_t *node, const char *disks_csv, int64_t now_ms);
#endif

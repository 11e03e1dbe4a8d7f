/*  usage.c — node usage: cpu, memory, disks, network rates (sf_usage.h).

    Cheap enough to run every heartbeat: three small /proc files and one
    statvfs() per configured disk. Rates come from counter deltas between
    readings; a counter that went backwards (interface reset, wrap) yields 0
    for that interval rather than a huge bogus rate.
*/
#include "sf_usage.h"
#include "sf_alloc.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

struct sf_usage_t {
    char proc [256];
    char interface [64];            //  only this one, or "" for all but lo
    bool have_prev;
    uint64_t cpu_busy, cpu_total;
    uint64_t rx_bytes, tx_bytes;
    int64_t net_at_ms;
};

sf_usage_t *
sf_usage_new (void)
{
    sf_usage_t *self = sf_xcalloc (1, sizeof (sf_usage_t));
    strcpy (self->proc, "/proc");
    return self;
}

void
sf_usage_destroy (sf_usage_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
sf_usage_set_interface (sf_usage_t *self, const char *name)
{
    SF_STRSET (self->interface, name ? name : "");
}

void
sf_usage_set_proc_root (sf_usage_t *self, const char *root)
{
    SF_STRSET (self->proc, root ? root : "/proc");
}

static FILE *
s_open (sf_usage_t *self, const char *name)
{
    char path [300];
    snprintf (path, sizeof path, "%s/%s", self->proc, name);
    return fopen (path, "r");
}

//  The first line of /proc/stat: busy = everything but idle and iowait
static int
s_cpu (sf_usage_t *self, uint64_t *busy, uint64_t *total)
{
    FILE *f = s_open (self, "stat");
    if (!f)
        return -1;
    uint64_t v [10] = { 0 };
    int n = fscanf (f, "cpu %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                       " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                    &v [0], &v [1], &v [2], &v [3], &v [4], &v [5], &v [6], &v [7], &v [8], &v [9]);
    fclose (f);
    if (n < 4)
        return -1;
    //  guest and guest_nice (8, 9) are already counted in user and nice
    *total = 0;
    for (int i = 0; i < 8 && i < n; i++)
        *total += v [i];
    *busy = *total - v [3] - (n > 4 ? v [4] : 0);
    return 0;
}

static int
s_mem (sf_usage_t *self, sf_node_t *node)
{
    FILE *f = s_open (self, "meminfo");
    if (!f)
        return -1;
    char line [256];
    uint64_t total = 0, avail = 0, free_kb = 0, buffers = 0, cached = 0;
    bool have_avail = false;
    while (fgets (line, sizeof line, f)) {
        uint64_t kb;
        if (sscanf (line, "MemTotal: %" SCNu64, &kb) == 1)
            total = kb;
        else if (sscanf (line, "MemAvailable: %" SCNu64, &kb) == 1) {
            avail = kb;
            have_avail = true;
        }
        else if (sscanf (line, "MemFree: %" SCNu64, &kb) == 1)
            free_kb = kb;
        else if (sscanf (line, "Buffers: %" SCNu64, &kb) == 1)
            buffers = kb;
        else if (sscanf (line, "Cached: %" SCNu64, &kb) == 1)
            cached = kb;
    }
    fclose (f);
    if (!total)
        return -1;
    //  Old kernels lack MemAvailable; free + buffers + cache approximates it
    if (!have_avail)
        avail = free_kb + buffers + cached;
    if (avail > total)
        avail = total;
    node->mem_total_bytes = total * 1024;
    node->mem_used_bytes = (total - avail) * 1024;
    return 0;
}

static int
s_net (sf_usage_t *self, uint64_t *rx, uint64_t *tx)
{
    FILE *f = s_open (self, "net/dev");
    if (!f)
        return -1;
    char line [512];
    *rx = *tx = 0;
    bool found = !*self->interface;
    while (fgets (line, sizeof line, f)) {
        char *colon = strchr (line, ':');
        if (!colon)
            continue;           //  the two header lines
        *colon = 0;
        char *name = line;
        while (*name == ' ')
            name++;
        if (*self->interface ? strcmp (name, self->interface) != 0 : !strcmp (name, "lo"))
            continue;
        found = true;
        uint64_t r, t, skip;
        if (sscanf (colon + 1, "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64
                               " %" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu64,
                    &r, &skip, &skip, &skip, &skip, &skip, &skip, &skip, &t) == 9) {
            *rx += r;
            *tx += t;
        }
    }
    fclose (f);
    return found ? 0 : -1;
}

static void
s_disks (sf_node_t *node, const char *disks_csv)
{
    node->ndisks = 0;
    const char *p = (disks_csv && *disks_csv) ? disks_csv : "/";
    while (*p && node->ndisks < SF_DISKS_MAX) {
        const char *comma = strchr (p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen (p);
        char mount [SF_ADDR_MAX + 1];
        if (len && len <= SF_ADDR_MAX) {
            memcpy (mount, p, len);
            mount [len] = 0;
            struct statvfs vfs;
            //  A missing mount is still listed, with zeros: the operator
            //  configured it and should see that it is not there.
            sf_disk_t *disk = &node->disks [node->ndisks++];
            SF_STRSET (disk->mount, mount);
            disk->free_bytes = disk->total_bytes = 0;
            if (statvfs (mount, &vfs) == 0) {
                disk->free_bytes = (uint64_t) vfs.f_bavail * vfs.f_frsize;
                disk->total_bytes = (uint64_t) vfs.f_blocks * vfs.f_frsize;
            }
        }
        if (!comma)
            break;
        p = comma + 1;
    }
}

int
sf_usage_read (sf_usage_t *self, sf_node_t *node, const char *disks_csv, int64_t now_ms)
{
    int rc = 0;
    uint64_t busy = 0, total = 0, rx = 0, tx = 0;
    bool have_cpu = s_cpu (self, &busy, &total) == 0;
    bool have_net = s_net (self, &rx, &tx) == 0;
    if (!have_cpu || !have_net)
        rc = -1;
    if (s_mem (self, node))
        rc = -1;
    s_disks (node, disks_csv);

    node->cpu_pct = 0;
    node->in_kbps = node->out_kbps = 0;
    if (self->have_prev) {
        if (have_cpu && total > self->cpu_total && busy >= self->cpu_busy)
            node->cpu_pct = 100.0 * (double) (busy - self->cpu_busy)
                                  / (double) (total - self->cpu_total);
        int64_t dt_ms = now_ms - self->net_at_ms;
        if (have_net && dt_ms > 0) {
            if (rx >= self->rx_bytes)
                node->in_kbps = (uint32_t) ((rx - self->rx_bytes) * 8 / (uint64_t) dt_ms);
            if (tx >= self->tx_bytes)
                node->out_kbps = (uint32_t) ((tx - self->tx_bytes) * 8 / (uint64_t) dt_ms);
        }
    }
    if (have_cpu) {
        self->cpu_busy = busy;
        self->cpu_total = total;
    }
    if (have_net) {
        self->rx_bytes = rx;
        self->tx_bytes = tx;
        self->net_at_ms = now_ms;
    }
    self->have_prev = have_cpu && have_net;
    return rc;
}

/*  enrich.c — completes a source's state with DVR directories, overrides,
    RTSP SDPs and node usage (sf_enrich.h).

    Each step is optional and independent; a failing step is logged once
    per streak of failures and skipped, because a stale archive view or a
    typo in the overrides file must not hide the live state of the streams.
*/
#include "sf_enrich.h"
#include "sf_alloc.h"
#include "sf_dvr_scan.h"
#include "sf_log.h"
#include "sf_overrides.h"
#include "sf_rtsp_probe.h"
#include "sf_usage.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_enrich_t {
    const sf_agent_config_t *cfg;
    const sf_source_ops_t *ops;     //  the source's default link templates
    sf_dvr_scan_t *dvr;
    sf_overrides_t *overrides;
    sf_rtsp_probe_t *probe;
    sf_usage_t *usage;
    bool dvr_failing;
    bool overrides_failing;
    bool usage_failing;
};

sf_enrich_t *
sf_enrich_new (const sf_agent_config_t *cfg, const sf_source_ops_t *ops, char *err, size_t errlen)
{
    sf_enrich_t *self = sf_xcalloc (1, sizeof (sf_enrich_t));
    self->cfg = cfg;
    self->ops = ops;
    const char *pattern = *cfg->record_pattern ? cfg->record_pattern
                        : ops && ops->record_pattern ? ops->record_pattern : NULL;
    if (*cfg->records_path
    && !(self->dvr = sf_dvr_scan_new (cfg->records_path, pattern, err, errlen)))
        goto fail;
    if (*cfg->overrides) {
        self->overrides = sf_overrides_new ();
        if (sf_overrides_load (self->overrides, cfg->overrides, err, errlen))
            goto fail;
    }
    if (cfg->rtsp_probe)
        self->probe = sf_rtsp_probe_new (cfg->rtsp_timeout_ms, 30000);
    self->usage = sf_usage_new ();
    sf_usage_set_interface (self->usage, cfg->net_interface);
    return self;
fail:
    sf_enrich_destroy (&self);
    return NULL;
}

void
sf_enrich_destroy (sf_enrich_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_enrich_t *self = *self_p;
    sf_dvr_scan_destroy (&self->dvr);
    sf_overrides_destroy (&self->overrides);
    sf_rtsp_probe_destroy (&self->probe);
    sf_usage_destroy (&self->usage);
    free (self);
    *self_p = NULL;
}

static void
s_template (char *field, const char *configured, const char *fallback)
{
    if (*configured)
        snprintf (field, SF_ADDR_MAX + 1, "%s", configured);
    else
    if (fallback && !*field)
        snprintf (field, SF_ADDR_MAX + 1, "%s", fallback);
}

static void
s_node_info (sf_enrich_t *self, sf_streamset_t *set)
{
    const sf_agent_config_t *cfg = self->cfg;
    sf_node_t *node = &set->node;
    if (!set->has_node) {
        sf_node_init (node);
        set->has_node = true;
    }
    SF_STRSET (node->id, cfg->node);
    if (*cfg->addr_internal)
        SF_STRSET (node->addr_internal, cfg->addr_internal);
    if (*cfg->addr_external)
        SF_STRSET (node->addr_external, cfg->addr_external);
    if (*cfg->group)
        SF_STRSET (node->group, cfg->group);
    if (cfg->max_primary_streams > 0)
        node->max_primary_streams = (uint32_t) cfg->max_primary_streams;
    if (cfg->max_in_kbps > 0)
        node->max_in_kbps = (uint32_t) cfg->max_in_kbps;
    //  The operator's templates, else the ones that fit this server
    const sf_source_ops_t *ops = self->ops;
    s_template (node->rtsp_template, cfg->rtsp_template, ops ? ops->rtsp_template : NULL);
    s_template (node->hls_template, cfg->hls_template, ops ? ops->hls_template : NULL);
    s_template (node->rtmp_template, cfg->rtmp_template, ops ? ops->rtmp_template : NULL);
    s_template (node->rtsp_dvr_template, cfg->rtsp_dvr_template, ops ? ops->rtsp_dvr_template : NULL);
    s_template (node->hls_dvr_template, cfg->hls_dvr_template, ops ? ops->hls_dvr_template : NULL);

    //  What the media server says of its own cpu, memory and drives (Aipix)
    //  beats /proc and statvfs on mounts the operator may not have listed
    sf_node_t host;
    sf_node_init (&host);
    if (sf_usage_read (self->usage, &host, cfg->disks, sf_mono_ms ())) {
        if (!self->usage_failing)
            sf_warn ("usage: cannot read /proc/stat, /proc/meminfo or /proc/net/dev%s%s%s",
                     *cfg->net_interface ? " (or no interface '" : "", cfg->net_interface,
                     *cfg->net_interface ? "' in it: check --net-interface)" : "");
        self->usage_failing = true;
    }
    else
        self->usage_failing = false;
    if (!(node->cpu_pct > 0))
        node->cpu_pct = host.cpu_pct;
    if (!node->mem_total_bytes) {
        node->mem_used_bytes = host.mem_used_bytes;
        node->mem_total_bytes = host.mem_total_bytes;
    }
    if (!node->ndisks) {
        memcpy (node->disks, host.disks, sizeof node->disks);
        node->ndisks = host.ndisks;
    }
    //  Bandwidth: the interface the operator named carries this server's
    //  traffic alone; without one, the host's counters mix every server on
    //  it (or see only loopback), so the node's own streams are summed:
    //  in = what its publishers send, out = each stream to each viewer
    if (*cfg->net_interface) {
        node->in_kbps = host.in_kbps;
        node->out_kbps = host.out_kbps;
        snprintf (node->bandwidth_source, sizeof node->bandwidth_source, "interface %.50s",
                  cfg->net_interface);
    }
    else
    if (set->partial) {
        //  The adapter's own totals: a partial state cannot be summed here
        if (!node->bandwidth_source [0])
            SF_STRSET (node->bandwidth_source, "streams");
    }
    else {
        uint64_t in = 0, out = 0;
        for (size_t i = 0; i < set->count; i++) {
            const sf_stream_t *s = &set->items [i];
            if (s->status != SF_STATUS_ACTIVE)
                continue;
            in += s->bitrate_kbps;
            out += (uint64_t) s->bitrate_kbps * s->clients;
        }
        node->in_kbps = in > UINT32_MAX ? UINT32_MAX : (uint32_t) in;
        node->out_kbps = out > UINT32_MAX ? UINT32_MAX : (uint32_t) out;
        SF_STRSET (node->bandwidth_source, "streams");
    }
}

static int
s_index_cmp (const void *a, const void *b, void *arg)
{
    const sf_streamset_t *set = arg;
    return strcmp (set->items [*(const size_t *) a].name, set->items [*(const size_t *) b].name);
}

//  Adds, as suspend, the streams that have an archive on disk but are not in
//  the source's set. The set's names are looked up through a sorted index
//  (indices, not pointers: adding may move the records), so thousands of
//  streams cost n log n, not n squared.
static void
s_add_archived (sf_enrich_t *self, sf_streamset_t *set)
{
    size_t n = sf_dvr_scan_streams (self->dvr, NULL, 0);
    if (!n)
        return;
    const char **names = sf_xcalloc (n, sizeof (char *));
    size_t nlisted = set->count;
    size_t *index = sf_xcalloc (nlisted + 1, sizeof (size_t));
    sf_dvr_scan_streams (self->dvr, names, n);
    for (size_t i = 0; i < nlisted; i++)
        index [i] = i;
    qsort_r (index, nlisted, sizeof (size_t), s_index_cmp, set);
    for (size_t i = 0; i < n; i++) {
        size_t lo = 0, hi = nlisted;
        bool found = false;
        while (lo < hi && !found) {
            size_t mid = (lo + hi) / 2;
            int cmp = strcmp (names [i], set->items [index [mid]].name);
            if (cmp == 0)
                found = true;
            else
            if (cmp < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
        if (found)
            continue;
        sf_streamset_add (set, names [i])->status = SF_STATUS_SUSPEND;
    }
    free (names);
    free (index);
}

void
sf_enrich_apply (sf_enrich_t *self, sf_streamset_t *set, bool add_archived)
{
    if (self->dvr) {
        char err [512];
        if (sf_dvr_scan_update (self->dvr, sf_now_ms (), err, sizeof err)) {
            if (!self->dvr_failing)
                sf_warn ("DVR scan: %s; DVR state not updated until it is readable", err);
            self->dvr_failing = true;
        }
        else {
            if (self->dvr_failing)
                sf_info ("DVR scan: %s readable again", self->cfg->records_path);
            self->dvr_failing = false;
            if (add_archived)
                s_add_archived (self, set);
            sf_dvr_scan_apply (self->dvr, set);
        }
    }
    if (self->overrides) {
        char err [512];
        if (sf_overrides_refresh (self->overrides, err, sizeof err) < 0) {
            if (!self->overrides_failing)
                sf_warn ("%s; keeping the overrides loaded before", err);
            self->overrides_failing = true;
        }
        else
            self->overrides_failing = false;
        sf_overrides_apply (self->overrides, set);
    }
    if (self->probe)
        sf_rtsp_probe_apply (self->probe, set, sf_now_ms ());
    s_node_info (self, set);
}

bool
sf_enrich_rewrites_streams (const sf_enrich_t *self)
{
    return self->dvr || self->overrides || self->probe;
}

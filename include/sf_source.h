/*  sf_source.h — the node agent's source adapters (DESIGN §7).

    An adapter reports the full current state of its media server: every
    stream placement it knows, plus what it knows of the node. The agent diffs
    successive states into versioned changes, so adapters never think about
    seqs, batching or the network.

    An adapter is a module of its own, the way a Knot module is: it declares
    its options (an sf_option_t table whose offsets point into its own config
    struct of config_size bytes), and registers with one line in
    node-agent/sources.c. The agent lays every registered adapter's config
    out behind its core config and parses all options from one command line
    and file (sf_agent_options()), so the core never knows an adapter's
    options.

    The source runner (sf_source_t below, run in its own thread by
    node-agent/agent.c) creates the adapter, waits (or sleeps) one poll
    interval, calls poll(), and after every good poll applies the agent's
    enrichment once (DVR directory, overrides, RTSP probe, node info and
    usage: sf_enrich.h). Adapters never call enrichment themselves. A poll
    that fails returns -1 with set->error set: the agent keeps the last good
    state, marks it stale, logs once per failure streak and keeps running.
*/
#ifndef SF_SOURCE_H
#define SF_SOURCE_H

#include "sf_config.h"
#include "sf_record.h"

typedef struct {
    sf_stream_t *items;
    size_t count;
    size_t cap;
    sf_node_t node;             //  node info and usage the source knows
    bool has_node;
    char error [256];
    //  A partial state, from an adapter that knows what it changed (simulate):
    //  the runner sets partial_ok when nothing after the adapter rewrites
    //  placements (no DVR directory, overrides or RTSP probe); the adapter
    //  may then set partial and report in items only the placements that
    //  changed or came since its previous good poll, complete, and in gone
    //  the names it no longer reports. Every other placement is as that poll
    //  reported it, and the agent keeps it without packing or comparing it
    //  again: a poll costs what changed, not the node's size. A partial
    //  state's node info carries the node's totals (in_kbps, out_kbps,
    //  bandwidth_source), since the set cannot sum them. Never the first
    //  good poll.
    bool partial_ok;
    bool partial;
    char **gone;                //  owned names
    size_t ngone, gone_cap;
} sf_streamset_t;

void sf_streamset_init (sf_streamset_t *self);
void sf_streamset_clear (sf_streamset_t *self);     //  frees, re-inits
//  Room for count placements in one allocation: a poller that knows how many
//  it found last time spares the growth steps' copies of the whole array
void sf_streamset_reserve (sf_streamset_t *self, size_t count);
//  Appends an initialised record and returns it (never NULL: out of memory
//  aborts, sf_alloc.h)
sf_stream_t *sf_streamset_add (sf_streamset_t *self, const char *name);
sf_stream_t *sf_streamset_find (sf_streamset_t *self, const char *name);
//  Appends *item as it is, taking what it owns (item is left initialised)
sf_stream_t *sf_streamset_take (sf_streamset_t *self, sf_stream_t *item);
//  Removes items [index], the last one moving into its place
void sf_streamset_remove (sf_streamset_t *self, size_t index);
//  A partial state's name that is no longer reported
void sf_streamset_gone (sf_streamset_t *self, const char *name);

struct sf_agent_config_t;

typedef struct {
    const char *name;           //  "simulate", "push", "nginx-rtmp", "aipix", ...
    const char *summary;        //  one line for --help and docs
    //  The adapter's own options and config struct (may be NULL / 0)
    const sf_option_t *options;
    size_t config_size;
    //  Enrichment adds the streams that exist only as archives in the
    //  records directory, as suspend (a server that forgets a stream once
    //  it stops publishing, like nginx-rtmp)
    bool add_archived;
    //  Link templates that work against this server when the operator has
    //  configured none ({host} is the external address without a port);
    //  NULL: no default
    const char *rtsp_template, *hls_template, *rtmp_template;
    const char *rtsp_dvr_template, *hls_dvr_template;
    //  The archive's file layout when --records-path is given without
    //  --record-pattern (sf_dvr_scan.h); NULL: the scanner's default
    const char *record_pattern;
    //  Creates the adapter's state from the agent's core config and the
    //  adapter's own (config_size bytes); NULL with err filled on failure
    void *(*create) (const struct sf_agent_config_t *cfg, const void *config,
                     char *err, size_t errlen);
    //  Optional: waits up to timeout_ms for the source's own events (push)
    void (*wait) (void *state, int timeout_ms);
    //  Fills set with the current state. 0, or -1 with set->error.
    int (*poll) (void *state, sf_streamset_t *set);
    void (*destroy) (void **state_p);
} sf_source_ops_t;

//  The registry of adapters, by name; NULL if unknown
const sf_source_ops_t *sf_source_find (const char *name);
//  The i-th registered adapter, NULL past the last
const sf_source_ops_t *sf_source_at (size_t index);
//  Comma-separated names, for help texts
const char *sf_source_names (void);

//  The source runner: an adapter with the agent's enrichment after it.
typedef struct sf_source_t sf_source_t;

//  Creates the adapter named by cfg->source with its config from cfg, and
//  the enrichment steps cfg configures. NULL with err on failure.
sf_source_t *sf_source_new (const struct sf_agent_config_t *cfg, char *err, size_t errlen);
void sf_source_destroy (sf_source_t **self_p);
const sf_source_ops_t *sf_source_ops (sf_source_t *self);
//  True when the adapter waits for its own events (then the runner does
//  not sleep between polls)
bool sf_source_waits (sf_source_t *self);
void sf_source_wait (sf_source_t *self, int timeout_ms);
//  One poll, then enrichment when it succeeded. 0, or -1 with set->error.
int sf_source_poll (sf_source_t *self, sf_streamset_t *set);

//  The push adapter's line decoder without its sockets (the fuzzer and tests):
//  a state that sf_source_find ("push")->poll and ->destroy take, and one
//  JSON line applied to it, its answer ("ok\n" or "error: ...\n") in reply
void *sf_push_decoder_new (void);
//  The simulate adapter's clock (unix seconds) when set: tests compare two
//  simulations tick for tick; NULL, the default, is the real clock
extern const int64_t *sf_simulate_clock;
void sf_push_decoder_line (void *state, const char *line, size_t len, char *reply, size_t cap);
#endif

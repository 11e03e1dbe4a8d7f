/*  sf_source.h — the node agent's source adapters (DESIGN §7).

    An adapter reports the full current state of its media server: every
    stream placement it knows, plus what it knows of the node. The agent diffs
    successive states into versioned changes, so adapters never think about
    seqs, batching or the network.

    Each source runs in its own thread (see node-agent/agent.c): the thread
    calls wait() (or sleeps) for one poll interval, then poll(). A poll that
    fails returns -1 with set->error set: the agent keeps the last good state,
    marks it stale, logs once per failure streak and keeps running.
*/
#ifndef SF_SOURCE_H
#define SF_SOURCE_H

#include "sf_record.h"

typedef struct {
    sf_stream_t *items;
    size_t count;
    size_t cap;
    sf_node_t node;             //  node info and usage the source knows
    bool has_node;
    char error [256];
} sf_streamset_t;

void sf_streamset_init (sf_streamset_t *self);
void sf_streamset_clear (sf_streamset_t *self);     //  frees, re-inits
//  Appends an initialised record and returns it (NULL if out of memory)
sf_stream_t *sf_streamset_add (sf_streamset_t *self, const char *name);
sf_stream_t *sf_streamset_find (sf_streamset_t *self, const char *name);

struct sf_agent_config_t;

typedef struct {
    const char *name;           //  "simulate", "push", "nginx-rtmp", "aipix"
    //  Creates the adapter's state; NULL with err filled on failure
    void *(*create) (const struct sf_agent_config_t *cfg, char *err, size_t errlen);
    //  Optional: waits up to timeout_ms for the source's own events (push)
    void (*wait) (void *state, int timeout_ms);
    //  Fills set with the current state. 0, or -1 with set->error.
    int (*poll) (void *state, sf_streamset_t *set);
    void (*destroy) (void **state_p);
} sf_source_ops_t;

//  The registry of adapters, by name; NULL if unknown
const sf_source_ops_t *sf_source_find (const char *name);
//  Comma-separated names, for help texts
const char *sf_source_names (void);
#endif

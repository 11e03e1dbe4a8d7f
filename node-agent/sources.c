/*  sources.c — the registry of source adapters, and the source runner that
    puts the agent's enrichment after every poll (sf_source.h).

    Adding an adapter is its own file (src_NAME.c, its header and tests) and
    one line in the table below.
*/
#include "sf_source.h"
#include "sf_alloc.h"
#include "sf_agent.h"
#include "sf_enrich.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The registry: one line per adapter (its ops are sf_source_ID)
#define S_SOURCES(X) \
    X (simulate) \
    X (push) \
    X (nginx) \
    X (aipix) \
    X (mediamtx) \
    X (srs) \
    X (flussonic) \

#define S_DECLARE(id) extern const sf_source_ops_t sf_source_##id;
S_SOURCES (S_DECLARE)
#define S_ENTRY(id) &sf_source_##id,
static const sf_source_ops_t *s_sources [] = { S_SOURCES (S_ENTRY) NULL };

const sf_source_ops_t *
sf_source_find (const char *name)
{
    for (int i = 0; s_sources [i]; i++)
        if (strcmp (s_sources [i]->name, name) == 0)
            return s_sources [i];
    return NULL;
}

const sf_source_ops_t *
sf_source_at (size_t index)
{
    return index < sizeof s_sources / sizeof s_sources [0] ? s_sources [index] : NULL;
}

const char *
sf_source_names (void)
{
    static char names [256];
    names [0] = 0;
    for (int i = 0; s_sources [i]; i++) {
        if (i)
            strncat (names, ", ", sizeof (names) - strlen (names) - 1);
        strncat (names, s_sources [i]->name, sizeof (names) - strlen (names) - 1);
    }
    return names;
}

//  --------------------------------------------------------------------------
//  The runner

struct sf_source_t {
    const sf_source_ops_t *ops;
    void *state;
    sf_enrich_t *enrich;
};

sf_source_t *
sf_source_new (const sf_agent_config_t *cfg, char *err, size_t errlen)
{
    const sf_source_ops_t *ops = sf_source_find (cfg->source);
    if (!ops) {
        snprintf (err, errlen, "unknown source '%s' (known: %s)", cfg->source, sf_source_names ());
        return NULL;
    }
    sf_source_t *self = sf_xcalloc (1, sizeof (sf_source_t));
    self->ops = ops;
    if (!(self->enrich = sf_enrich_new (cfg, ops, err, errlen))
    ||  !(self->state = ops->create (cfg, sf_agent_source_config_const (cfg, ops), err, errlen))) {
        if (!*err)
            snprintf (err, errlen, "cannot start");
        sf_source_destroy (&self);
        return NULL;
    }
    return self;
}

void
sf_source_destroy (sf_source_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_source_t *self = *self_p;
    if (self->state)
        self->ops->destroy (&self->state);
    sf_enrich_destroy (&self->enrich);
    free (self);
    *self_p = NULL;
}

const sf_source_ops_t *
sf_source_ops (sf_source_t *self)
{
    return self->ops;
}

bool
sf_source_waits (sf_source_t *self)
{
    return self->ops->wait != NULL;
}

void
sf_source_wait (sf_source_t *self, int timeout_ms)
{
    if (self->ops->wait)
        self->ops->wait (self->state, timeout_ms);
}

int
sf_source_poll (sf_source_t *self, sf_streamset_t *set)
{
    //  Only the adapter's changes, when nothing after it rewrites placements
    set->partial_ok = !sf_enrich_rewrites_streams (self->enrich);
    set->partial = false;
    int rc = self->ops->poll (self->state, set);
    if (rc)
        return rc;
    sf_enrich_apply (self->enrich, set, self->ops->add_archived);
    return 0;
}

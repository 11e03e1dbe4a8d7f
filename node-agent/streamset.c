/*  streamset.c — a source's full state: a growable array of placements. */
#include "sf_source.h"
#include "sf_alloc.h"
#include <stdlib.h>
#include <string.h>

void
sf_streamset_init (sf_streamset_t *self)
{
    memset (self, 0, sizeof (*self));
    sf_node_init (&self->node);
}

void
sf_streamset_clear (sf_streamset_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        sf_stream_clear (&self->items [i]);
    free (self->items);
    sf_streamset_init (self);
}

void
sf_streamset_reserve (sf_streamset_t *self, size_t count)
{
    if (count > self->cap) {
        self->items = sf_xreallocarray (self->items, count, sizeof (sf_stream_t));
        self->cap = count;
    }
}

sf_stream_t *
sf_streamset_add (sf_streamset_t *self, const char *name)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        self->items = sf_xreallocarray (self->items, cap, sizeof (sf_stream_t));
        self->cap = cap;
    }
    sf_stream_t *s = &self->items [self->count++];
    sf_stream_init (s);
    SF_STRSET (s->name, name);
    SF_STRSET (s->uid, name);
    return s;
}

sf_stream_t *
sf_streamset_find (sf_streamset_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->items [i].name, name) == 0)
            return &self->items [i];
    return NULL;
}

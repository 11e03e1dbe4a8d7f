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
    for (size_t i = 0; i < self->ngone; i++)
        free (self->gone [i]);
    free (self->gone);
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

static sf_stream_t *
s_append (sf_streamset_t *self)
{
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 64;
        self->items = sf_xreallocarray (self->items, cap, sizeof (sf_stream_t));
        self->cap = cap;
    }
    return &self->items [self->count++];
}

sf_stream_t *
sf_streamset_add (sf_streamset_t *self, const char *name)
{
    sf_stream_t *s = s_append (self);
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

sf_stream_t *
sf_streamset_take (sf_streamset_t *self, sf_stream_t *item)
{
    sf_stream_t *s = s_append (self);
    *s = *item;
    sf_stream_init (item);
    return s;
}

void
sf_streamset_remove (sf_streamset_t *self, size_t index)
{
    if (index >= self->count)
        return;
    sf_stream_clear (&self->items [index]);
    if (index != self->count - 1)
        self->items [index] = self->items [self->count - 1];
    self->count--;
}

void
sf_streamset_gone (sf_streamset_t *self, const char *name)
{
    if (self->ngone == self->gone_cap) {
        self->gone_cap = self->gone_cap ? self->gone_cap * 2 : 16;
        self->gone = sf_xreallocarray (self->gone, self->gone_cap, sizeof (char *));
    }
    self->gone [self->ngone++] = sf_xstrdup (name);
}

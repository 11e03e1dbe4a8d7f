/*  feed.c — the change feed (sf_feed.h): a bounded ring of committed
    changes behind one mutex and one condition variable. The writer appends
    a batch under the lock (a copy of a few hundred bytes an entry) and
    wakes the readers; readers copy what they need and leave. A reader that
    waits does so on the condition variable, never holding the lock.
*/
#include "sf_feed.h"
#include "sf_alloc.h"
#include "sf_log.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

struct sf_feed_t {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    sf_feed_entry_t *ring;
    size_t capacity;
    uint64_t head;              //  newest seq; entry seq s lives at ring [s % capacity]
    uint64_t epoch;             //  this feed's identity: seqs of another mean nothing here
};

sf_feed_t *
sf_feed_new (size_t capacity)
{
    sf_feed_t *self = sf_xcalloc (1, sizeof (*self));
    self->capacity = capacity < 16 ? 16 : capacity;
    self->ring = sf_xcalloc (self->capacity, sizeof (sf_feed_entry_t));
    //  Distinct across restarts and controllers, so a cursor from either
    //  reads as a gap rather than as a position
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    self->epoch = ((uint64_t) ts.tv_sec << 20 ^ (uint64_t) ts.tv_nsec ^ (uint64_t) (uintptr_t) self) | 1;
    pthread_mutex_init (&self->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init (&attr);
    pthread_condattr_setclock (&attr, CLOCK_MONOTONIC);
    pthread_cond_init (&self->changed, &attr);
    pthread_condattr_destroy (&attr);
    return self;
}

void
sf_feed_destroy (sf_feed_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_feed_t *self = *self_p;
    pthread_cond_destroy (&self->changed);
    pthread_mutex_destroy (&self->lock);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

//  The next slot, stamped; the caller holds the lock and fills the rest
static sf_feed_entry_t *
s_append (sf_feed_t *self, sf_feed_op_t op, const char *node, int64_t now_ms)
{
    self->head++;
    sf_feed_entry_t *e = &self->ring [self->head % self->capacity];
    memset (e, 0, sizeof (*e));
    e->seq = self->head;
    e->at_ms = now_ms;
    e->op = op;
    snprintf (e->node, sizeof (e->node), "%s", node ? node : "");
    return e;
}

void
sf_feed_observer (void *arg, const sf_store_change_t *changes, size_t count)
{
    sf_feed_t *self = arg;
    if (!count)
        return;
    int64_t now = sf_now_ms ();
    pthread_mutex_lock (&self->lock);
    for (size_t i = 0; i < count; i++) {
        const sf_store_change_t *c = &changes [i];
        sf_feed_entry_t *e = s_append (self, c->deleted ? SF_FEED_DELETE : SF_FEED_PUT, c->node, now);
        snprintf (e->name, sizeof (e->name), "%s", c->name ? c->name : "");
        if (!c->deleted)
            e->sum = c->sum;
    }
    pthread_cond_broadcast (&self->changed);
    pthread_mutex_unlock (&self->lock);
}

void
sf_feed_push_node (sf_feed_t *self, const char *node, const char *what)
{
    pthread_mutex_lock (&self->lock);
    sf_feed_entry_t *e = s_append (self, SF_FEED_NODE, node, sf_now_ms ());
    snprintf (e->what, sizeof (e->what), "%s", what ? what : "info");
    pthread_cond_broadcast (&self->changed);
    pthread_mutex_unlock (&self->lock);
}

uint64_t
sf_feed_epoch (sf_feed_t *self)
{
    return self->epoch;
}

uint64_t
sf_feed_head (sf_feed_t *self)
{
    pthread_mutex_lock (&self->lock);
    uint64_t head = self->head;
    pthread_mutex_unlock (&self->lock);
    return head;
}

size_t
sf_feed_read (sf_feed_t *self, uint64_t since, sf_feed_entry_t *out, size_t max,
              int wait_ms, bool *gap, uint64_t *head)
{
    pthread_mutex_lock (&self->lock);
    //  A position past our head is another feed's (or an earlier run's)
    bool foreign = since > self->head;
    if (wait_ms > 0 && !foreign && self->head <= since) {
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (long) (wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (self->head <= since)
            if (pthread_cond_timedwait (&self->changed, &self->lock, &until) == ETIMEDOUT)
                break;
    }
    *head = self->head;
    //  The oldest seq still in the ring
    uint64_t oldest = self->head >= self->capacity ? self->head - self->capacity + 1 : 1;
    *gap = foreign || since + 1 < oldest;
    uint64_t from = *gap ? oldest : since + 1;
    size_t n = 0;
    for (uint64_t s = from; s <= self->head && n < max; s++)
        out [n++] = self->ring [s % self->capacity];
    pthread_mutex_unlock (&self->lock);
    return n;
}

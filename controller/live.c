/*  live.c — node liveness table (include/sf_live.h). A small hash under a
    mutex: the ingest thread writes heartbeats, query threads read.
*/
#include "sf_live.h"
#include "sf_alloc.h"
#include "sf_log.h"
#include <czmq.h>
#include <pthread.h>

typedef struct {
    uint64_t gen;
    uint64_t counter;
    int64_t rose_ms;
    int logged;                     //  the state last logged (sf_live_sweep)
    int stale;                      //  the mark of heartbeat (gen, counter): -1 not known
} s_entry_t;

struct sf_live_t {
    pthread_mutex_t lock;
    zhashx_t *nodes;
    int64_t suspect_ms;
    int64_t down_ms;
};

sf_live_t *
sf_live_new (int64_t suspect_ms, int64_t down_ms)
{
    sf_live_t *self = sf_xcalloc (1, sizeof (*self));
    pthread_mutex_init (&self->lock, NULL);
    self->nodes = zhashx_new ();
    zhashx_set_destructor (self->nodes, (zhashx_destructor_fn *) zstr_free);
    self->suspect_ms = suspect_ms;
    self->down_ms = down_ms;
    return self;
}

void
sf_live_destroy (sf_live_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_live_t *self = *self_p;
    zhashx_destroy (&self->nodes);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

static s_entry_t *
s_entry (sf_live_t *self, const char *node, int64_t now_ms, bool *created)
{
    s_entry_t *e = zhashx_lookup (self->nodes, node);
    *created = false;
    if (!e) {
        e = sf_xcalloc (1, sizeof (*e));
        e->rose_ms = now_ms;
        e->stale = -1;
        zhashx_insert (self->nodes, node, e);
        *created = true;
    }
    return e;
}

bool
sf_live_beat (sf_live_t *self, const char *node, uint64_t gen, uint64_t counter, int64_t now_ms)
{
    pthread_mutex_lock (&self->lock);
    bool created;
    s_entry_t *e = s_entry (self, node, now_ms, &created);
    bool rose = false;
    if (created || gen > e->gen || (gen == e->gen && counter > e->counter)) {
        if (!created && e->logged != SF_LIVE_ALIVE) {
            sf_info ("node %s is alive again (was %s): its heartbeat rose after %.1f s of silence",
                     node, sf_liveness_name (e->logged), (double) (now_ms - e->rose_ms) / 1000.0);
            e->logged = SF_LIVE_ALIVE;
        }
        e->gen = gen;
        e->counter = counter;
        e->rose_ms = now_ms;
        e->stale = -1;              //  until this heartbeat's mark is heard
        rose = true;
    }
    pthread_mutex_unlock (&self->lock);
    return rose;
}

bool
sf_live_set_stale (sf_live_t *self, const char *node, uint64_t gen, uint64_t counter, bool stale)
{
    pthread_mutex_lock (&self->lock);
    s_entry_t *e = zhashx_lookup (self->nodes, node);
    bool latest = e && e->gen == gen && e->counter == counter;
    if (latest)
        e->stale = stale;
    pthread_mutex_unlock (&self->lock);
    return latest;
}

int
sf_live_stale (sf_live_t *self, const char *node)
{
    pthread_mutex_lock (&self->lock);
    s_entry_t *e = zhashx_lookup (self->nodes, node);
    int stale = e ? e->stale : -1;
    pthread_mutex_unlock (&self->lock);
    return stale;
}

void
sf_live_know (sf_live_t *self, const char *node, int64_t now_ms)
{
    pthread_mutex_lock (&self->lock);
    bool created;
    s_entry (self, node, now_ms, &created);
    pthread_mutex_unlock (&self->lock);
}

static int
s_state (sf_live_t *self, int64_t age)
{
    return age >= self->down_ms ? SF_LIVE_DOWN : age >= self->suspect_ms ? SF_LIVE_SUSPECT : SF_LIVE_ALIVE;
}

int
sf_live_state (sf_live_t *self, const char *node, int64_t now_ms, int64_t *age_ms)
{
    pthread_mutex_lock (&self->lock);
    s_entry_t *e = zhashx_lookup (self->nodes, node);
    int state = SF_LIVE_DOWN;
    int64_t age = -1;
    if (e) {
        age = now_ms - e->rose_ms;
        if (age < 0)
            age = 0;
        state = s_state (self, age);
    }
    pthread_mutex_unlock (&self->lock);
    if (age_ms)
        *age_ms = age;
    return state;
}

void
sf_live_sweep (sf_live_t *self, int64_t now_ms)
{
    pthread_mutex_lock (&self->lock);
    for (s_entry_t *e = zhashx_first (self->nodes); e; e = zhashx_next (self->nodes)) {
        int64_t age = now_ms - e->rose_ms;
        int state = s_state (self, age);
        if (state == e->logged || state == SF_LIVE_ALIVE)
            continue;           //  back to alive is said by sf_live_beat
        const char *node = (const char *) zhashx_cursor (self->nodes);
        if (state == SF_LIVE_SUSPECT)
            sf_warn ("node %s is suspect: no heartbeat for %.1f s (--suspect-ms %lld)", node,
                     (double) age / 1000.0, (long long) self->suspect_ms);
        else
            sf_warn ("node %s is down: no heartbeat for %.1f s (--down-ms %lld)%s", node,
                     (double) age / 1000.0, (long long) self->down_ms,
                     e->gen || e->counter ? "" : "; not heard from since this controller started");
        e->logged = state;
    }
    pthread_mutex_unlock (&self->lock);
}

void
sf_live_counts (sf_live_t *self, int64_t now_ms, uint32_t counts [3])
{
    counts [0] = counts [1] = counts [2] = 0;
    pthread_mutex_lock (&self->lock);
    for (s_entry_t *e = zhashx_first (self->nodes); e; e = zhashx_next (self->nodes))
        counts [s_state (self, now_ms - e->rose_ms)]++;
    pthread_mutex_unlock (&self->lock);
}

void
sf_live_each (sf_live_t *self, sf_live_fn *fn, void *arg)
{
    pthread_mutex_lock (&self->lock);
    for (s_entry_t *e = zhashx_first (self->nodes); e; e = zhashx_next (self->nodes))
        if (e->gen || e->counter)
            fn ((const char *) zhashx_cursor (self->nodes), e->gen, e->counter, e->stale, arg);
    pthread_mutex_unlock (&self->lock);
}

/*  writer.c — the controller's write session (include/sf_writer.h).

    The one place that opens, fills and commits the LMDB write transaction.
    Protocols stage changes per origin; the commit either stores all of them
    or none, and only then are origins advanced (committed = staged) and
    acknowledged, through the done callback, so that nothing is acknowledged
    that was not stored. A failed commit puts every touched origin back to its
    committed version; the callback decides what to ask of the sender (a
    snapshot, or a retry after a back-off when the disk is full).

    A full disk (ENOSPC) is a state, not an error per change: it is logged
    once when it starts, naming the data directory and what to do, then at
    most once a minute while it lasts, and once when a commit works again.
    Meanwhile what a refused commit gave back to its owner (sf_writer_on_lost)
    is staged again about once a second (sf_writer_restage_due), not on
    every pass of the loop into a commit that fails again.
*/
#include "sf_writer.h"
#include "sf_alloc.h"
#include "sf_apply.h"
#include "sf_log.h"
#include <assert.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <time.h>

#define S_LOST_MAX 8               //  callers that write more than origins' changes

struct sf_writer_t {
    //  Every field: ingest thread only, but the flush state and the flusher
    //  thread's own (below)
    sf_writer_config_t cfg;
    zhashx_t *origins;          //  node -> sf_origin_t
    zlistx_t *touched;          //  sf_origin_t * in the open transaction
    size_t txn_records;         //  changes in the open transaction
    bool txn_open;
    sf_writer_done_fn *done_fn;
    void *done_arg;
    sf_writer_change_fn *change_fn;
    void *change_arg;
    bool nospace;               //  the last commit met a full disk
    int64_t nospace_since_ms;
    int64_t nospace_logged_ms;
    uint64_t nospace_failed;    //  commits refused since it started
    bool restage_armed;         //  restage_ms holds: sf_writer_restage_due
    int64_t restage_ms;         //  when it last said yes (or was armed) while full
    //  The last flush to disk failed (sf_writer_sync). With --sync-ms N > 0
    //  the flusher thread alone flushes (sf_writer_flush_every) and these
    //  four are its own; unsynced is read by others
    atomic_bool unsynced;
    int64_t unsynced_since_ms;
    int64_t unsynced_logged_ms;
    uint64_t unsynced_failed;   //  flushes failed since it started
    //  sf_writer_on_lost: who to tell when the open transaction is lost
    struct { sf_writer_lost_fn *fn; void *arg; } lost [S_LOST_MAX];
    size_t nlost;
    bool infos_lost;            //  a lost commit left node records dirty, no origin touched
    //  The flusher thread (sf_writer_flush_every)
    pthread_t flusher;
    bool flusher_on;
    int64_t flush_every_ms;
    pthread_mutex_t flush_lock;
    pthread_cond_t flush_wake;
    bool flush_stop;                //  under flush_lock
};

static void
s_origin_destroy (sf_origin_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

sf_writer_t *
sf_writer_new (const sf_writer_config_t *cfg)
{
    sf_writer_t *self = sf_xcalloc (1, sizeof (*self));
    self->cfg = *cfg;
    if (self->cfg.batch_records == 0)
        self->cfg.batch_records = 8192;
    self->origins = zhashx_new ();
    zhashx_set_destructor (self->origins, (zhashx_destructor_fn *) s_origin_destroy);
    self->touched = zlistx_new ();
    return self;
}

void
sf_writer_destroy (sf_writer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_writer_t *self = *self_p;
    if (self->flusher_on) {
        pthread_mutex_lock (&self->flush_lock);
        self->flush_stop = true;
        pthread_cond_signal (&self->flush_wake);
        pthread_mutex_unlock (&self->flush_lock);
        pthread_join (self->flusher, NULL);
        pthread_cond_destroy (&self->flush_wake);
        pthread_mutex_destroy (&self->flush_lock);
    }
    if (self->txn_open)
        sf_store_abort (self->cfg.store);
    zlistx_destroy (&self->touched);
    zhashx_destroy (&self->origins);
    free (self);
    *self_p = NULL;
}

bool sf_writer_unsynced (sf_writer_t *self) { return atomic_load (&self->unsynced); }
bool sf_writer_nospace (sf_writer_t *self) { return self->nospace; }
bool sf_writer_acks_held (sf_writer_t *self) { return self->cfg.sync_every_commit && atomic_load (&self->unsynced); }

//  While the disk is full: the first call arms the clock and says no (the
//  refusal that began it was the last try), then yes once per
//  SF_WRITER_RESTAGE_MS. With room on the disk, always yes.
bool
sf_writer_restage_due (sf_writer_t *self, int64_t now_ms)
{
    if (!self->nospace)
        return true;
    if (self->restage_armed && now_ms - self->restage_ms < SF_WRITER_RESTAGE_MS)
        return false;
    bool due = self->restage_armed;
    self->restage_armed = true;
    self->restage_ms = now_ms;
    return due;
}

//  Flushes the store to disk. A failure is never silent: it is counted
//  (streamfleet_store_sync_failures_total), flagged (..._sync_failing) and
//  logged with the data directory and the error, at once and then once a
//  minute while it lasts, and the first flush that works again says so.
int
sf_writer_sync (sf_writer_t *self)
{
    int error = 0;
    int64_t t0 = sf_mono_ms ();
    int rc = sf_store_sync (self->cfg.store, &error);
    int64_t now = sf_mono_ms ();
    atomic_fetch_add (&self->cfg.metrics->syncs, 1);
    atomic_fetch_add (&self->cfg.metrics->sync_us, (uint64_t) (now - t0) * 1000);
    if (rc == 0) {
        if (atomic_load (&self->unsynced)) {
            sf_info ("store: the data directory %s flushes to disk again after %llds "
                     "(%llu flushes failed)", sf_store_path (self->cfg.store),
                     (long long) ((now - self->unsynced_since_ms) / 1000),
                     (unsigned long long) self->unsynced_failed);
            atomic_store (&self->unsynced, false);
            self->unsynced_failed = 0;
            atomic_store (&self->cfg.metrics->sync_failing, 0);
        }
        return 0;
    }
    atomic_fetch_add (&self->cfg.metrics->sync_failures, 1);
    atomic_store (&self->cfg.metrics->sync_failing, 1);
    self->unsynced_failed++;
    if (!atomic_load (&self->unsynced)) {
        atomic_store (&self->unsynced, true);
        self->unsynced_since_ms = now;
        self->unsynced_logged_ms = now;
        sf_error ("store: flushing the data directory %s to disk failed: %s (errno %d)%s; "
                  "what was committed since the last good flush may not be on the disk%s "
                  "(docs/operations.md, \"A failed flush\")", sf_store_path (self->cfg.store),
                  mdb_strerror (error), error, rc == SF_STORE_NOSPACE ? ", the disk is full" : "",
                  self->cfg.sync_every_commit ? "; agents are not acknowledged until a flush works" : "");
    }
    else if (now - self->unsynced_logged_ms >= 60000) {
        self->unsynced_logged_ms = now;
        sf_error ("store: the data directory %s still does not flush to disk (%s) after %llds: "
                  "%llu flushes failed", sf_store_path (self->cfg.store), mdb_strerror (error),
                  (long long) ((now - self->unsynced_since_ms) / 1000),
                  (unsigned long long) self->unsynced_failed);
    }
    return -1;
}

//  The flusher thread: a flush every flush_every_ms, off the ingest thread,
//  so that commits and the agents' acks never wait for the disk (a flush of
//  a second of 20,000 updates took 1-2 s on the soak's shared disk, and
//  every ingest pass waited in it). Commits go on meanwhile: a flush covers
//  at least what was committed when it began, which is what --sync-ms
//  promises (docs/architecture.md, "Durability")
static void *
s_flusher_main (void *arg)
{
    pthread_setname_np (pthread_self (), "sf-flusher");
    sf_writer_t *self = arg;
    pthread_mutex_lock (&self->flush_lock);
    while (!self->flush_stop) {
        struct timespec until;
        clock_gettime (CLOCK_MONOTONIC, &until);
        int64_t ns = (int64_t) until.tv_nsec + self->flush_every_ms * 1000000;
        until.tv_sec += (time_t) (ns / 1000000000);
        until.tv_nsec = (long) (ns % 1000000000);
        while (!self->flush_stop
           &&  pthread_cond_timedwait (&self->flush_wake, &self->flush_lock, &until) != ETIMEDOUT)
            ;
        if (self->flush_stop)
            break;
        pthread_mutex_unlock (&self->flush_lock);
        sf_writer_sync (self);
        pthread_mutex_lock (&self->flush_lock);
    }
    pthread_mutex_unlock (&self->flush_lock);
    //  The last flush, at the stop: what the last commits wrote
    sf_writer_sync (self);
    return NULL;
}

int
sf_writer_flush_every (sf_writer_t *self, int64_t every_ms)
{
    if (self->flusher_on || every_ms <= 0 || self->cfg.sync_every_commit)
        return -1;
    self->flush_every_ms = every_ms;
    pthread_condattr_t ca;
    pthread_condattr_init (&ca);
    pthread_condattr_setclock (&ca, CLOCK_MONOTONIC);
    pthread_cond_init (&self->flush_wake, &ca);
    pthread_condattr_destroy (&ca);
    pthread_mutex_init (&self->flush_lock, NULL);
    self->flush_stop = false;
    if (pthread_create (&self->flusher, NULL, s_flusher_main, self)) {
        pthread_cond_destroy (&self->flush_wake);
        pthread_mutex_destroy (&self->flush_lock);
        return -1;
    }
    self->flusher_on = true;
    return 0;
}

void
sf_writer_on_done (sf_writer_t *self, sf_writer_done_fn *fn, void *arg)
{
    self->done_fn = fn;
    self->done_arg = arg;
}

void
sf_writer_on_change (sf_writer_t *self, sf_writer_change_fn *fn, void *arg)
{
    self->change_fn = fn;
    self->change_arg = arg;
}

sf_origin_t *
sf_writer_origin (sf_writer_t *self, const char *node)
{
    sf_origin_t *o = zhashx_lookup (self->origins, node);
    if (o)
        return o;
    if (!node [0] || strlen (node) > SF_NODE_MAX)
        return NULL;
    o = sf_xcalloc (1, sizeof (*o));
    snprintf (o->node, sizeof (o->node), "%s", node);
    sf_node_init (&o->info);
    o->live = -1;
    sf_read_t r;
    if (sf_store_read_begin (self->cfg.store, &r) == 0) {
        sf_store_get_origin (&r, node, &o->committed);
        if (sf_store_get_node (&r, node, &o->info))
            sf_node_init (&o->info);
        sf_store_read_end (&r);
    }
    snprintf (o->info.id, sizeof (o->info.id), "%s", node);
    o->staged = o->committed;
    zhashx_insert (self->origins, node, o);
    return o;
}

static int
s_collect_origin (const char *node, sf_version_t v, void *arg)
{
    zlistx_add_end ((zlistx_t *) arg, sf_xstrdup (node));
    return 0;
}

void
sf_writer_load (sf_writer_t *self)
{
    sf_read_t r;
    if (sf_store_read_begin (self->cfg.store, &r))
        return;
    zlistx_t *names = zlistx_new ();
    zlistx_set_destructor (names, (zlistx_destructor_fn *) zstr_free);
    sf_store_scan_origins (&r, s_collect_origin, names);
    sf_store_read_end (&r);
    //  sf_writer_origin opens its own read transaction: after ours has ended
    for (char *n = zlistx_first (names); n; n = zlistx_next (names))
        sf_writer_origin (self, n);
    zlistx_destroy (&names);
}

sf_origin_t *sf_writer_first (sf_writer_t *self) { return zhashx_first (self->origins); }
sf_origin_t *sf_writer_next (sf_writer_t *self) { return zhashx_next (self->origins); }

int
sf_writer_begin (sf_writer_t *self)
{
    if (self->txn_open)
        return 0;
    if (sf_store_write_begin (self->cfg.store))
        return -1;
    self->txn_open = true;
    self->txn_records = 0;
    return 0;
}

bool
sf_writer_full (sf_writer_t *self)
{
    return self->txn_records >= self->cfg.batch_records;
}

int
sf_writer_view (sf_writer_t *self, sf_read_t *r)
{
    return sf_store_write_view (self->cfg.store, r);
}

static void
s_touch (sf_writer_t *self, sf_origin_t *o)
{
    if (!o->touched) {
        o->touched = true;
        zlistx_add_end (self->touched, o);
    }
}

int
sf_writer_put (sf_writer_t *self, sf_origin_t *o, sf_stream_t *s, sf_version_t ver)
{
    if (s->node [0] && strcmp (s->node, o->node) != 0)
        return SF_WRITER_FOREIGN;
    if (sf_writer_begin (self))
        return -1;
    snprintf (s->node, sizeof (s->node), "%s", o->node);
    s->version = ver;
    //  Derived fields are the controller's to set, never a sender's
    s->transfer = false;
    s->migrated_to [0] = 0;
    if (s->status == SF_STATUS_OFFLINE)
        s->status = SF_STATUS_ERROR;
    self->txn_records++;
    s_touch (self, o);
    return sf_apply_put (self->cfg.store, s) ? -1 : 0;
}

int
sf_writer_put_packed (sf_writer_t *self, sf_origin_t *o, const char *name, const sf_summary_t *sum,
                      const void *packed, size_t size)
{
    if (sf_writer_begin (self))
        return -1;
    self->txn_records++;
    s_touch (self, o);
    return sf_store_put_stream_packed (self->cfg.store, o->node, name, sum, packed, size) ? -1 : 0;
}

int
sf_writer_del (sf_writer_t *self, sf_origin_t *o, const char *name, sf_version_t ver)
{
    if (sf_writer_begin (self))
        return -1;
    self->txn_records++;
    s_touch (self, o);
    return sf_apply_del (self->cfg.store, o->node, name, ver) ? -1 : 0;
}

typedef struct {
    zhashx_t *keep;
    zlistx_t *absent;
} s_absent_t;

static int
s_collect_absent (const sf_row_t *row, void *arg)
{
    s_absent_t *a = arg;
    if (!zhashx_lookup (a->keep, row->name))
        zlistx_add_end (a->absent, sf_xstrdup (row->name));
    return 0;
}

int
sf_writer_del_absent (sf_writer_t *self, sf_origin_t *o, zhashx_t *keep, sf_version_t ver)
{
    if (sf_writer_begin (self))
        return -1;
    //  First find them, then delete: no deleting under a moving cursor
    s_absent_t a = { keep, zlistx_new () };
    zlistx_set_destructor (a.absent, (zlistx_destructor_fn *) zstr_free);
    sf_read_t r;
    sf_store_write_view (self->cfg.store, &r);
    sf_store_scan_streams (&r, o->node, s_collect_absent, &a);
    int n = 0;
    for (char *name = zlistx_first (a.absent); name; name = zlistx_next (a.absent))
        if (sf_writer_del (self, o, name, ver) == 0)
            n++;
    zlistx_destroy (&a.absent);
    return n;
}

typedef struct {
    sf_version_t floor;
    zlistx_t *below;
} s_below_t;

static int
s_collect_below (const sf_row_t *row, void *arg)
{
    s_below_t *b = arg;
    if (sf_version_cmp ((sf_version_t) { row->sum.gen, row->sum.seq }, b->floor) < 0)
        zlistx_add_end (b->below, sf_xstrdup (row->name));
    return 0;
}

int
sf_writer_del_below (sf_writer_t *self, sf_origin_t *o, sf_version_t floor)
{
    if (sf_writer_begin (self))
        return -1;
    //  The tombstones go just below the floor: the snapshot's own records
    //  (at the floor or above) can still be on their way from a peer, and a
    //  tombstone above them would shadow them for good. Below the floor
    //  nothing is applied anyway (docs/protocol.md §6.3 rule 5a)
    sf_version_t ver = floor;
    if (ver.seq)
        ver.seq--;
    else
        ver.gen--, ver.seq = UINT64_MAX;
    s_below_t b = { floor, zlistx_new () };
    zlistx_set_destructor (b.below, (zlistx_destructor_fn *) zstr_free);
    sf_read_t r;
    sf_store_write_view (self->cfg.store, &r);
    sf_store_scan_streams (&r, o->node, s_collect_below, &b);
    int n = 0;
    for (char *name = zlistx_first (b.below); name; name = zlistx_next (b.below))
        if (sf_writer_del (self, o, name, ver) == 0)
            n++;
    zlistx_destroy (&b.below);
    return n;
}

void
sf_writer_set_info (sf_writer_t *self, sf_origin_t *o, const sf_node_t *info)
{
    o->info = *info;
    snprintf (o->info.id, sizeof (o->info.id), "%s", o->node);
    sf_writer_info_changed (self, o);
}

void
sf_writer_info_changed (sf_writer_t *self, sf_origin_t *o)
{
    o->info_dirty = true;
    s_touch (self, o);
}

void
sf_writer_stage (sf_writer_t *self, sf_origin_t *o, sf_version_t v)
{
    if (sf_writer_begin (self))
        return;
    if (sf_version_cmp (v, o->staged) > 0)
        o->staged = v;
    sf_store_set_origin (self->cfg.store, o->node, o->staged);
    s_touch (self, o);
}

void
sf_writer_ack_due (sf_writer_t *self, sf_origin_t *o)
{
    o->ack_due = true;
    s_touch (self, o);
}

//  ---------------------------------------------------------------------------
//  Commit

//  After a successful commit: every node record it stored, as it now stands
static void
s_report_infos (sf_writer_t *self, zlistx_t *infos)
{
    for (sf_origin_t *o = zlistx_first (infos); o; o = zlistx_next (infos)) {
        sf_change_t ch = { .kind = 'n', .node = o->node, .info = &o->info };
        self->change_fn (&ch, self->change_arg);
    }
}

static void
s_nospace_log (sf_writer_t *self, size_t lost)
{
    int64_t now = sf_mono_ms ();
    self->nospace_failed++;
    if (!self->nospace) {
        self->nospace = true;
        self->restage_armed = false;
        self->nospace_since_ms = now;
        self->nospace_logged_ms = now;
        sf_error ("store: the disk holding the data directory %s is full (ENOSPC): a commit of "
                  "%zu changes was refused, nothing of it stored; agents are asked to retry later. "
                  "Free space on that file system (or move --data-dir to a larger one); ingest "
                  "resumes by itself", sf_store_path (self->cfg.store), lost);
    }
    else if (now - self->nospace_logged_ms >= 60000) {
        self->nospace_logged_ms = now;
        sf_error ("store: the data directory %s is still full (ENOSPC) after %llds: %llu commits "
                  "refused so far; free space there", sf_store_path (self->cfg.store),
                  (long long) ((now - self->nospace_since_ms) / 1000),
                  (unsigned long long) self->nospace_failed);
    }
}

void
sf_writer_on_lost (sf_writer_t *self, sf_writer_lost_fn *fn, void *arg)
{
    for (size_t i = 0; i < self->nlost; i++)
        if (self->lost [i].fn == fn && self->lost [i].arg == arg)
            return;
    assert (self->nlost < S_LOST_MAX);
    self->lost [self->nlost].fn = fn;
    self->lost [self->nlost].arg = arg;
    self->nlost++;
}

int
sf_writer_commit (sf_writer_t *self)
{
    if (!self->txn_open && zlistx_size (self->touched) == 0 && !self->infos_lost)
        return 0;
    if (!self->txn_open && sf_writer_begin (self))
        return -1;
    zlistx_t *infos = zlistx_new ();
    for (sf_origin_t *o = zlistx_first (self->touched); o; o = zlistx_next (self->touched))
        if (o->info_dirty) {
            sf_store_put_node (self->cfg.store, &o->info);
            zlistx_add_end (infos, o);
        }
    //  After a lost commit: the node records it held (a stale mark from
    //  gossip is not sent again) go with this one, touched or not
    if (self->infos_lost)
        for (sf_origin_t *o = zhashx_first (self->origins); o; o = zhashx_next (self->origins))
            if (o->info_dirty && !o->touched) {
                sf_store_put_node (self->cfg.store, &o->info);
                zlistx_add_end (infos, o);
            }
    self->infos_lost = false;
    struct timespec t0, t1;
    bool unsynced = false;
    uint64_t txnid = self->nospace ? sf_store_txnid (self->cfg.store) : 0;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    int rc = sf_store_commit (self->cfg.store);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    size_t records = self->txn_records;
    self->txn_open = false;
    self->txn_records = 0;
    if (rc == 0) {
        int64_t us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
        sf_metrics_commit (self->cfg.metrics, us);
        atomic_store (&self->cfg.metrics->coalesced, sf_store_coalesced (self->cfg.store));
        //  --sync-ms 0: acknowledged only once on the disk; a commit whose
        //  flush failed is stored (queries see it) but not acknowledged
        if (self->cfg.sync_every_commit && sf_writer_sync (self))
            unsynced = true;
        //  Only a commit that wrote something proves the disk takes writes
        //  again: one with nothing in it succeeds on a full disk too
        if (self->nospace && sf_store_txnid (self->cfg.store) != txnid) {
            sf_info ("store: the data directory %s takes writes again after %llds; ingest resumed",
                     sf_store_path (self->cfg.store),
                     (long long) ((sf_mono_ms () - self->nospace_since_ms) / 1000));
            self->nospace = false;
            self->nospace_failed = 0;
        }
        for (sf_origin_t *o = zlistx_first (infos); o; o = zlistx_next (infos))
            o->info_dirty = false;
        if (self->change_fn)
            s_report_infos (self, infos);
    }
    else if (zlistx_size (infos))
        self->infos_lost = true;
    if (rc == SF_STORE_NOSPACE)
        s_nospace_log (self, records);
    else if (rc == SF_STORE_RETRY)
        atomic_fetch_add (&self->cfg.metrics->map_grows, 1);
    zlistx_destroy (&infos);
    //  Writes that are no origin's change: their owners mark them unwritten
    //  again, to be staged anew (the map has grown, or the disk has room)
    size_t nlost = self->nlost;
    self->nlost = 0;
    for (size_t i = 0; rc != 0 && i < nlost; i++)
        self->lost [i].fn (self->lost [i].arg);
    int result = rc == 0 ? (unsynced ? SF_WRITER_UNSYNCED : SF_WRITER_STORED)
                         : rc == SF_STORE_NOSPACE ? SF_WRITER_NOSPACE : SF_WRITER_DROPPED;
    for (sf_origin_t *o = zlistx_first (self->touched); o; o = zlistx_next (self->touched)) {
        if (rc == 0)
            o->committed = o->staged;
        else
            //  Nothing of this transaction was stored: forget it. The node
            //  record stays dirty and goes with the next commit.
            o->staged = o->committed;
        bool ack = o->ack_due;
        o->ack_due = false;
        o->touched = false;
        if (self->done_fn)
            self->done_fn (o, result, ack, self->done_arg);
    }
    zlistx_purge (self->touched);
    return rc;
}

void
sf_writer_tick (sf_writer_t *self, int64_t now_ms)
{
    if (!self->change_fn || !self->cfg.live)
        return;
    for (sf_origin_t *o = zhashx_first (self->origins); o; o = zhashx_next (self->origins)) {
        int64_t age;
        int live = sf_live_state (self->cfg.live, o->node, now_ms, &age);
        if (live != o->live) {
            o->live = live;
            sf_change_t ch = { .kind = 'l', .node = o->node, .live = live };
            self->change_fn (&ch, self->change_arg);
        }
    }
}

/*  store.c — LMDB storage of the fleet state (include/sf_store.h).

    Durability: the environment is opened MDB_NOSYNC and the writer calls
    sf_store_sync about once a second. A killed process loses nothing (the
    page cache has every commit); an operating-system crash may lose the last
    second of commits, which the agents' snapshots restore on reconnect
    (docs/architecture.md).

    Replication needs each origin's changes in version order: the byver
    database keys every live placement, tombstone and node record by
    node \0 be64(gen) be64(seq) name, and every write here keeps it exact
    (the old key goes when a record changes). Tombstones also live in tombs
    (node \0 name -> version, deleted_at_ms) until collected.

    Growing the map needs every transaction of the process closed, so readers
    hold a shared lock for the life of their read transaction and the rare
    resize takes it exclusively.
*/
#include "sf_store.h"
#include "sf_codec.h"
#include "sf_log.h"
#include <czmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct sf_store_t {
    MDB_env *env;
    MDB_dbi streams, byname, nodes, origins, events, byver, tombs;
    MDB_dbi extra [SF_DB_EXTRA_COUNT];      //  other modules' databases (sf_store_dbi)
    MDB_txn *wtxn;
    int wfailed;                //  first error inside the write transaction
    size_t map_size;
    pthread_rwlock_t resize;
    msgpack_sbuffer sbuf;       //  reused for packing on the write side
    uint64_t event_counter;
    char path [512];
};

#define KEY_MAX (SF_NODE_MAX + SF_NAME_MAX + 2)

static void
s_be64 (uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p [i] = (uint8_t) (v >> (56 - 8 * i));
}

static uint64_t
s_get_be64 (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p [i];
    return v;
}


static size_t
s_key2 (char *buf, const char *a, const char *b)
{
    size_t la = strlen (a), lb = strlen (b);
    memcpy (buf, a, la);
    buf [la] = 0;
    memcpy (buf + la + 1, b, lb);
    return la + 1 + lb;
}

static int
s_mkdirs (const char *path)
{
    char tmp [512];
    snprintf (tmp, sizeof (tmp), "%s", path);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir (tmp, 0750) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    if (mkdir (tmp, 0750) && errno != EEXIST)
        return -1;
    return 0;
}

sf_store_t *
sf_store_new (const char *path, size_t map_size, char *err, size_t errlen)
{
    sf_store_t *self = calloc (1, sizeof (*self));
    if (!self) {
        snprintf (err, errlen, "out of memory");
        return NULL;
    }
    snprintf (self->path, sizeof (self->path), "%s", path);
    self->map_size = map_size ? map_size : (size_t) 1 << 30;
    pthread_rwlock_init (&self->resize, NULL);
    msgpack_sbuffer_init (&self->sbuf);
    if (s_mkdirs (path)) {
        snprintf (err, errlen, "cannot create data directory %s: %s", path, strerror (errno));
        goto fail;
    }
    int rc = mdb_env_create (&self->env);
    if (!rc) rc = mdb_env_set_maxdbs (self->env, 16);
    if (!rc) rc = mdb_env_set_maxreaders (self->env, 256);
    if (!rc) rc = mdb_env_set_mapsize (self->env, self->map_size);
    if (!rc) rc = mdb_env_open (self->env, path, MDB_NOSYNC | MDB_NOTLS, 0640);
    if (rc) {
        snprintf (err, errlen, "cannot open LMDB environment in %s: %s", path, mdb_strerror (rc));
        goto fail;
    }
    //  A map that an earlier run grew stays grown
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    if (info.me_mapsize > self->map_size)
        self->map_size = info.me_mapsize;
    int dead = 0;
    mdb_reader_check (self->env, &dead);
    MDB_txn *txn;
    rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (!rc) rc = mdb_dbi_open (txn, "streams", MDB_CREATE, &self->streams);
    if (!rc) rc = mdb_dbi_open (txn, "byname", MDB_CREATE, &self->byname);
    if (!rc) rc = mdb_dbi_open (txn, "nodes", MDB_CREATE, &self->nodes);
    if (!rc) rc = mdb_dbi_open (txn, "origins", MDB_CREATE, &self->origins);
    if (!rc) rc = mdb_dbi_open (txn, "events", MDB_CREATE, &self->events);
    if (!rc) rc = mdb_dbi_open (txn, "byver", MDB_CREATE, &self->byver);
    if (!rc) rc = mdb_dbi_open (txn, "tombs", MDB_CREATE, &self->tombs);
    //  Opened here, once, so that no handle depends on a write transaction
    //  that might abort (a handle opened inside one dies with it)
    static const char *extra_names [SF_DB_EXTRA_COUNT] = {
        "fleet_uids", "fleet_state", "fleet_events", "fleet_transfers", "fleet_moved"
    };
    for (int i = 0; i < SF_DB_EXTRA_COUNT && !rc; i++)
        rc = mdb_dbi_open (txn, extra_names [i], MDB_CREATE, &self->extra [i]);
    if (!rc) {
        //  Event keys carry a counter after the time; continue after the last
        MDB_cursor *cur;
        MDB_val k, v;
        if (mdb_cursor_open (txn, self->events, &cur) == 0) {
            if (mdb_cursor_get (cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 16) {
                self->event_counter = s_get_be64 ((const uint8_t *) k.mv_data + 8);
            }
            mdb_cursor_close (cur);
        }
        rc = mdb_txn_commit (txn);
    }
    else
        mdb_txn_abort (txn);
    if (rc) {
        snprintf (err, errlen, "cannot open databases in %s: %s", path, mdb_strerror (rc));
        goto fail;
    }
    return self;
fail:
    sf_store_destroy (&self);
    return NULL;
}

void
sf_store_destroy (sf_store_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_store_t *self = *self_p;
    if (self->wtxn)
        mdb_txn_abort (self->wtxn);
    if (self->env) {
        mdb_env_sync (self->env, 1);
        mdb_env_close (self->env);
    }
    msgpack_sbuffer_destroy (&self->sbuf);
    pthread_rwlock_destroy (&self->resize);
    free (self);
    *self_p = NULL;
}

MDB_env *sf_store_env (sf_store_t *self) { return self->env; }
MDB_dbi sf_store_dbi (sf_store_t *self, int which) { return self->extra [which]; }
MDB_txn *sf_store_wtxn (sf_store_t *self) { return self->wtxn; }

int
sf_store_reader_check (sf_store_t *self)
{
    int dead = 0;
    mdb_reader_check (self->env, &dead);
    return dead;
}

int
sf_store_sync (sf_store_t *self)
{
    return mdb_env_sync (self->env, 1) ? -1 : 0;
}

void
sf_summary_from_stream (sf_summary_t *sum, const sf_stream_t *s)
{
    memset (sum, 0, sizeof (*sum));
    sum->magic = SF_SUMMARY_MAGIC;
    sum->type = s->type;
    sum->status = s->status;
    sum->functions = s->functions;
    sum->flags = (s->stale ? SF_SUM_STALE : 0) | (s->transferred_from [0] ? SF_SUM_TRANSFERRED : 0);
    sum->clients = s->clients;
    sum->bitrate_kbps = s->bitrate_kbps;
    sum->started_at = s->started_at;
    sum->reconnect_attempts = s->reconnect_attempts;
    sum->reconnect_total = s->reconnect_total;
    sum->gen = s->version.gen;
    sum->seq = s->version.seq;
}

int
sf_version_cmp (sf_version_t a, sf_version_t b)
{
    if (a.gen != b.gen)
        return a.gen < b.gen ? -1 : 1;
    if (a.seq != b.seq)
        return a.seq < b.seq ? -1 : 1;
    return 0;
}

#define VKEY_MAX (SF_NODE_MAX + 1 + 16 + SF_NAME_MAX)

static size_t
s_vkey (uint8_t *buf, const char *node, sf_version_t v, const char *name)
{
    size_t ln = strlen (node), lm = strlen (name);
    memcpy (buf, node, ln);
    buf [ln] = 0;
    s_be64 (buf + ln + 1, v.gen);
    s_be64 (buf + ln + 9, v.seq);
    memcpy (buf + ln + 17, name, lm);
    return ln + 17 + lm;
}

typedef struct {
    sf_version_t v;
    int64_t deleted_at_ms;
} s_tomb_t;

//  ---------------------------------------------------------------------------
//  Write side

int
sf_store_write_begin (sf_store_t *self)
{
    if (self->wtxn)
        return 0;
    self->wfailed = 0;
    pthread_rwlock_rdlock (&self->resize);
    int rc = mdb_txn_begin (self->env, NULL, 0, &self->wtxn);
    if (rc) {
        pthread_rwlock_unlock (&self->resize);
        sf_error ("store: cannot begin write transaction: %s", mdb_strerror (rc));
        self->wtxn = NULL;
        return -1;
    }
    return 0;
}

static int
s_put (sf_store_t *self, MDB_dbi dbi, MDB_val *k, MDB_val *v)
{
    if (!self->wtxn || self->wfailed)
        return -1;
    int rc = mdb_put (self->wtxn, dbi, k, v, 0);
    if (rc) {
        self->wfailed = rc;
        return -1;
    }
    return 0;
}

static int
s_del (sf_store_t *self, MDB_dbi dbi, MDB_val *k)
{
    if (!self->wtxn || self->wfailed)
        return -1;
    int rc = mdb_del (self->wtxn, dbi, k, NULL);
    if (rc && rc != MDB_NOTFOUND) {
        self->wfailed = rc;
        return -1;
    }
    return rc == MDB_NOTFOUND ? 1 : 0;
}

int
sf_store_put_stream_packed (sf_store_t *self, const char *node, const char *name,
                            const sf_summary_t *sum, const void *packed, size_t size)
{
    return sf_store_put_stream_prev (self, node, name, sum, packed, size, NULL);
}

int
sf_store_put_stream_prev (sf_store_t *self, const char *node, const char *name,
                          const sf_summary_t *sum_in, const void *packed, size_t size,
                          sf_summary_t *prev)
{
    char key [KEY_MAX];
    MDB_val k = { s_key2 (key, node, name), key };
    MDB_val v = { sizeof (sf_summary_t) + size, NULL };
    if (prev)
        memset (prev, 0, sizeof (*prev));
    if (!self->wtxn || self->wfailed)
        return -1;
    sf_summary_t sum_copy = *sum_in;
    const sf_summary_t *sum = &sum_copy;
    //  The version index loses the old key and gains the new one
    uint8_t vkey [VKEY_MAX];
    MDB_val old;
    if (mdb_get (self->wtxn, self->streams, &k, &old) == 0 && old.mv_size >= sizeof (sf_summary_t)) {
        sf_summary_t o;
        memcpy (&o, old.mv_data, sizeof (o));
        if (prev) {
            //  The caller learns what it replaces, and the derived flags stay
            *prev = o;
            sum_copy.flags = (uint8_t) ((sum_copy.flags & ~SF_SUM_DERIVED) | (o.flags & SF_SUM_DERIVED));
        }
        sf_version_t ov = { o.gen, o.seq };
        MDB_val ok = { s_vkey (vkey, node, ov, name), vkey };
        mdb_del (self->wtxn, self->byver, &ok, NULL);
    }
    else {
        MDB_val tv;
        if (mdb_get (self->wtxn, self->tombs, &k, &tv) == 0 && tv.mv_size == sizeof (s_tomb_t)) {
            s_tomb_t t;
            memcpy (&t, tv.mv_data, sizeof (t));
            MDB_val tk = { s_vkey (vkey, node, t.v, name), vkey };
            mdb_del (self->wtxn, self->byver, &tk, NULL);
            mdb_del (self->wtxn, self->tombs, &k, NULL);
        }
    }
    sf_version_t nv = { sum->gen, sum->seq };
    MDB_val vk = { s_vkey (vkey, node, nv, name), vkey };
    MDB_val kind = { 1, "s" };
    if (s_put (self, self->byver, &vk, &kind))
        return -1;
    //  Reserve the value in the map and write it in place: one copy
    int rc = mdb_put (self->wtxn, self->streams, &k, &v, MDB_RESERVE);
    if (rc) {
        self->wfailed = rc;
        return -1;
    }
    memcpy (v.mv_data, sum, sizeof (sf_summary_t));
    memcpy ((char *) v.mv_data + sizeof (sf_summary_t), packed, size);
    char nkey [KEY_MAX];
    MDB_val nk = { s_key2 (nkey, name, node), nkey };
    MDB_val empty = { 0, "" };
    return s_put (self, self->byname, &nk, &empty);
}

int
sf_store_put_stream (sf_store_t *self, const sf_stream_t *s)
{
    sf_summary_t sum;
    sf_summary_from_stream (&sum, s);
    msgpack_sbuffer_clear (&self->sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->sbuf, msgpack_sbuffer_write);
    sf_stream_pack (&pk, s, SF_ENC_FULL);
    return sf_store_put_stream_packed (self, s->node, s->name, &sum, self->sbuf.data, self->sbuf.size);
}

int
sf_store_del_stream (sf_store_t *self, const char *node, const char *name, sf_version_t ver)
{
    if (!self->wtxn || self->wfailed)
        return -1;
    char key [KEY_MAX];
    MDB_val k = { s_key2 (key, node, name), key };
    uint8_t vkey [VKEY_MAX];
    MDB_val old;
    if (mdb_get (self->wtxn, self->streams, &k, &old) == 0 && old.mv_size >= sizeof (sf_summary_t)) {
        sf_summary_t o;
        memcpy (&o, old.mv_data, sizeof (o));
        sf_version_t ov = { o.gen, o.seq };
        MDB_val ok = { s_vkey (vkey, node, ov, name), vkey };
        mdb_del (self->wtxn, self->byver, &ok, NULL);
    }
    if (ver.gen || ver.seq) {
        MDB_val tv;
        if (mdb_get (self->wtxn, self->tombs, &k, &tv) == 0 && tv.mv_size == sizeof (s_tomb_t)) {
            s_tomb_t t;
            memcpy (&t, tv.mv_data, sizeof (t));
            MDB_val tk = { s_vkey (vkey, node, t.v, name), vkey };
            mdb_del (self->wtxn, self->byver, &tk, NULL);
        }
        s_tomb_t t = { ver, sf_now_ms () };
        MDB_val tval = { sizeof (t), &t };
        MDB_val nk = { s_vkey (vkey, node, ver, name), vkey };
        MDB_val kind = { 1, "d" };
        if (s_put (self, self->tombs, &k, &tval) || s_put (self, self->byver, &nk, &kind))
            return -1;
    }
    int rc = s_del (self, self->streams, &k);
    if (rc < 0)
        return -1;
    char nkey [KEY_MAX];
    MDB_val nk = { s_key2 (nkey, name, node), nkey };
    return s_del (self, self->byname, &nk) < 0 ? -1 : 0;
}

int
sf_store_del_node_streams (sf_store_t *self, const char *node)
{
    if (!self->wtxn || self->wfailed)
        return -1;
    MDB_cursor *cur;
    if (mdb_cursor_open (self->wtxn, self->streams, &cur))
        return -1;
    size_t plen = strlen (node) + 1;
    char prefix [SF_NODE_MAX + 2];
    memcpy (prefix, node, plen);
    MDB_val k = { plen, prefix }, v;
    int count = 0;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= plen && memcmp (k.mv_data, prefix, plen) == 0) {
        char nkey [KEY_MAX];
        const char *name = (const char *) k.mv_data + plen;
        size_t nlen = k.mv_size - plen;
        memcpy (nkey, name, nlen);
        nkey [nlen] = 0;
        memcpy (nkey + nlen + 1, node, plen - 1);
        MDB_val nk = { nlen + plen, nkey };
        if (v.mv_size >= sizeof (sf_summary_t)) {
            sf_summary_t o;
            memcpy (&o, v.mv_data, sizeof (o));
            uint8_t vkey [VKEY_MAX];
            char nm [SF_NAME_MAX + 1];
            memcpy (nm, name, nlen);
            nm [nlen] = 0;
            MDB_val ok = { s_vkey (vkey, node, (sf_version_t) { o.gen, o.seq }, nm), vkey };
            mdb_del (self->wtxn, self->byver, &ok, NULL);
        }
        if (mdb_del (self->wtxn, self->byname, &nk, NULL) == MDB_MAP_FULL
        ||  (rc = mdb_cursor_del (cur, 0)) != 0) {
            self->wfailed = rc ? rc : MDB_MAP_FULL;
            mdb_cursor_close (cur);
            return -1;
        }
        count++;
        rc = mdb_cursor_get (cur, &k, &v, MDB_GET_CURRENT);
        if (rc == 0)
            continue;
        rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return count;
}

int
sf_store_put_node (sf_store_t *self, const sf_node_t *n)
{
    msgpack_sbuffer_clear (&self->sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->sbuf, msgpack_sbuffer_write);
    sf_node_pack (&pk, n, 0);
    if (!self->wtxn || self->wfailed)
        return -1;
    MDB_val k = { strlen (n->id), (void *) n->id };
    MDB_val old;
    sf_version_t ov = { 0, 0 };
    if (mdb_get (self->wtxn, self->nodes, &k, &old) == 0 && old.mv_size >= sizeof (sf_version_t))
        memcpy (&ov, old.mv_data, sizeof (ov));
    //  Usage refreshes keep the version: the index changes only with the info
    if (sf_version_cmp (ov, n->version) != 0) {
        uint8_t vkey [VKEY_MAX];
        if (ov.gen || ov.seq) {
            MDB_val ok = { s_vkey (vkey, n->id, ov, ""), vkey };
            mdb_del (self->wtxn, self->byver, &ok, NULL);
        }
        if (n->version.gen || n->version.seq) {
            MDB_val nk = { s_vkey (vkey, n->id, n->version, ""), vkey };
            MDB_val kind = { 1, "n" };
            if (s_put (self, self->byver, &nk, &kind))
                return -1;
        }
    }
    MDB_val v = { sizeof (sf_version_t) + self->sbuf.size, NULL };
    int rc = mdb_put (self->wtxn, self->nodes, &k, &v, MDB_RESERVE);
    if (rc) {
        self->wfailed = rc;
        return -1;
    }
    memcpy (v.mv_data, &n->version, sizeof (sf_version_t));
    memcpy ((char *) v.mv_data + sizeof (sf_version_t), self->sbuf.data, self->sbuf.size);
    return 0;
}

int
sf_store_set_origin (sf_store_t *self, const char *node, sf_version_t ver)
{
    MDB_val k = { strlen (node), (void *) node };
    MDB_val v = { sizeof (ver), &ver };
    return s_put (self, self->origins, &k, &v);
}

int
sf_store_put_event_raw (sf_store_t *self, int64_t at_ms, const void *packed, size_t size)
{
    uint8_t key [16];
    s_be64 (key, (uint64_t) at_ms);
    s_be64 (key + 8, ++self->event_counter);
    MDB_val k = { 16, key };
    MDB_val v = { size, (void *) packed };
    return s_put (self, self->events, &k, &v);
}

int
sf_store_grow (sf_store_t *self, size_t next)
{
    if (self->wtxn || next <= self->map_size)
        return -1;
    //  No transaction of ours may be open while the map is resized
    pthread_rwlock_wrlock (&self->resize);
    int rc = mdb_env_set_mapsize (self->env, next);
    if (rc == 0)
        self->map_size = next;
    pthread_rwlock_unlock (&self->resize);
    if (rc) {
        sf_error ("store: cannot grow the LMDB map to %zu bytes: %s", next, mdb_strerror (rc));
        return -1;
    }
    sf_info ("store: LMDB map grown to %zu MiB", next >> 20);
    return 0;
}

int
sf_store_commit (sf_store_t *self)
{
    if (!self->wtxn)
        return 0;
    int rc;
    if (self->wfailed) {
        rc = self->wfailed;
        mdb_txn_abort (self->wtxn);
    }
    else
        rc = mdb_txn_commit (self->wtxn);
    self->wtxn = NULL;
    pthread_rwlock_unlock (&self->resize);
    if (rc == 0)
        return 0;
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
        if (rc == MDB_MAP_FULL && sf_store_grow (self, self->map_size * 2) == 0)
            return SF_STORE_RETRY;
        sf_error ("store: write transaction too large: %s", mdb_strerror (rc));
        return -1;
    }
    sf_error ("store: commit failed in %s: %s", self->path, mdb_strerror (rc));
    return -1;
}

void
sf_store_abort (sf_store_t *self)
{
    if (!self->wtxn)
        return;
    mdb_txn_abort (self->wtxn);
    self->wtxn = NULL;
    pthread_rwlock_unlock (&self->resize);
}

//  ---------------------------------------------------------------------------
//  Read side

int
sf_store_read_begin (sf_store_t *self, sf_read_t *r)
{
    r->store = self;
    r->txn = NULL;
    pthread_rwlock_rdlock (&self->resize);
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &r->txn);
    if (rc) {
        pthread_rwlock_unlock (&self->resize);
        sf_error ("store: cannot begin read transaction: %s", mdb_strerror (rc));
        r->txn = NULL;
        return -1;
    }
    return 0;
}

void
sf_store_read_end (sf_read_t *r)
{
    if (r->txn) {
        mdb_txn_abort (r->txn);
        r->txn = NULL;
        pthread_rwlock_unlock (&r->store->resize);
    }
}

//  Fills a row from a streams entry; -1 if the value is not ours
static int
s_row (const MDB_val *k, const MDB_val *v, sf_row_t *row, char *names)
{
    if (v->mv_size < sizeof (sf_summary_t))
        return -1;
    memcpy (&row->sum, v->mv_data, sizeof (sf_summary_t));
    if (row->sum.magic != SF_SUMMARY_MAGIC)
        return -1;
    //  Keys are not NUL-terminated: copy node and name out
    const char *key = k->mv_data;
    size_t nlen = strnlen (key, k->mv_size);
    if (nlen >= k->mv_size || k->mv_size > KEY_MAX)
        return -1;
    memcpy (names, key, k->mv_size);
    names [k->mv_size] = 0;
    row->node = names;
    row->name = names + nlen + 1;
    row->key = key;
    row->key_size = k->mv_size;
    row->packed = (const char *) v->mv_data + sizeof (sf_summary_t);
    row->packed_size = v->mv_size - sizeof (sf_summary_t);
    return 0;
}

int
sf_store_scan_streams (sf_read_t *r, const char *node, sf_row_fn *fn, void *arg)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (r->txn, r->store->streams, &cur))
        return -1;
    MDB_val k, v;
    char prefix [SF_NODE_MAX + 2];
    size_t plen = 0;
    int rc;
    if (node) {
        plen = strlen (node) + 1;
        if (plen > SF_NODE_MAX + 1) {
            mdb_cursor_close (cur);
            return 0;
        }
        memcpy (prefix, node, plen);
        k.mv_size = plen;
        k.mv_data = prefix;
        rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    }
    else
        rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
    char names [KEY_MAX + 1];
    while (rc == 0) {
        if (node && (k.mv_size < plen || memcmp (k.mv_data, prefix, plen)))
            break;
        sf_row_t row;
        if (s_row (&k, &v, &row, names) == 0 && fn (&row, arg))
            break;
        rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return 0;
}

int
sf_store_get_row (sf_read_t *r, const char *node, const char *name, sf_row_t *row)
{
    static __thread char names [KEY_MAX + 1];
    if (strlen (node) > SF_NODE_MAX || strlen (name) > SF_NAME_MAX)
        return -1;
    char key [KEY_MAX];
    MDB_val k = { s_key2 (key, node, name), key }, v;
    if (mdb_get (r->txn, r->store->streams, &k, &v))
        return -1;
    return s_row (&k, &v, row, names);
}

int
sf_store_scan_name (sf_read_t *r, const char *name, sf_row_fn *fn, void *arg)
{
    if (strlen (name) > SF_NAME_MAX)
        return 0;
    MDB_cursor *cur;
    if (mdb_cursor_open (r->txn, r->store->byname, &cur))
        return -1;
    size_t plen = strlen (name) + 1;
    char prefix [SF_NAME_MAX + 2];
    memcpy (prefix, name, plen);
    MDB_val k = { plen, prefix }, v;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= plen && memcmp (k.mv_data, prefix, plen) == 0) {
        char node [SF_NODE_MAX + 1];
        size_t nlen = k.mv_size - plen;
        if (nlen <= SF_NODE_MAX) {
            memcpy (node, (const char *) k.mv_data + plen, nlen);
            node [nlen] = 0;
            sf_row_t row;
            char names [KEY_MAX + 1];
            char key [KEY_MAX];
            MDB_val sk = { s_key2 (key, node, name), key }, sv;
            if (mdb_get (r->txn, r->store->streams, &sk, &sv) == 0
            &&  s_row (&sk, &sv, &row, names) == 0 && fn (&row, arg))
                break;
        }
        rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return 0;
}

int
sf_row_decode (const sf_row_t *row, sf_stream_t *s)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    int rc = -1;
    if (msgpack_unpack_next (&u, row->packed, row->packed_size, &off) == MSGPACK_UNPACK_SUCCESS) {
        char err [SF_ERR_MAX];
        rc = sf_stream_unpack (&u.data, s, err);
        if (rc == 0) {
            //  The key is the truth for node and name
            SF_STRSET (s->node, row->node);
            SF_STRSET (s->name, row->name);
        }
    }
    msgpack_unpacked_destroy (&u);
    return rc;
}

int
sf_store_get_origin (sf_read_t *r, const char *node, sf_version_t *ver)
{
    MDB_val k = { strlen (node), (void *) node }, v;
    memset (ver, 0, sizeof (*ver));
    if (mdb_get (r->txn, r->store->origins, &k, &v) || v.mv_size != sizeof (*ver))
        return -1;
    memcpy (ver, v.mv_data, sizeof (*ver));
    return 0;
}

static int
s_node_decode (const MDB_val *v, sf_node_t *n)
{
    if (v->mv_size < sizeof (sf_version_t))
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    int rc = -1;
    const char *data = (const char *) v->mv_data + sizeof (sf_version_t);
    if (msgpack_unpack_next (&u, data, v->mv_size - sizeof (sf_version_t), &off) == MSGPACK_UNPACK_SUCCESS) {
        char err [SF_ERR_MAX];
        rc = sf_node_unpack (&u.data, n, err);
    }
    msgpack_unpacked_destroy (&u);
    return rc;
}

int
sf_store_get_node (sf_read_t *r, const char *id, sf_node_t *n)
{
    MDB_val k = { strlen (id), (void *) id }, v;
    if (mdb_get (r->txn, r->store->nodes, &k, &v))
        return -1;
    return s_node_decode (&v, n);
}

int
sf_store_scan_nodes (sf_read_t *r, sf_node_fn *fn, void *arg)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (r->txn, r->store->nodes, &cur))
        return -1;
    MDB_val k, v;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        sf_node_t n;
        if (s_node_decode (&v, &n) == 0 && fn (&n, arg))
            break;
        rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return 0;
}

int
sf_store_scan_events (sf_read_t *r, sf_event_fn *fn, void *arg)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (r->txn, r->store->events, &cur))
        return -1;
    MDB_val k, v;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_LAST);
    while (rc == 0) {
        if (k.mv_size == 16) {
            if (fn ((int64_t) s_get_be64 (k.mv_data), v.mv_data, v.mv_size, arg))
                break;
        }
        rc = mdb_cursor_get (cur, &k, &v, MDB_PREV);
    }
    mdb_cursor_close (cur);
    return 0;
}

int
sf_store_count_streams (sf_read_t *r, size_t *count)
{
    MDB_stat st;
    if (mdb_stat (r->txn, r->store->streams, &st))
        return -1;
    *count = st.ms_entries;
    return 0;
}

int
sf_store_get_node_packed (sf_read_t *r, const char *id, const void **data, size_t *size)
{
    MDB_val k = { strlen (id), (void *) id }, v;
    if (mdb_get (r->txn, r->store->nodes, &k, &v) || v.mv_size < sizeof (sf_version_t))
        return -1;
    *data = (const char *) v.mv_data + sizeof (sf_version_t);
    *size = v.mv_size - sizeof (sf_version_t);
    return 0;
}

int
sf_store_scan_origins (sf_read_t *r, sf_origin_fn *fn, void *arg)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (r->txn, r->store->origins, &cur))
        return -1;
    MDB_val k, v;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        char node [SF_NODE_MAX + 1];
        if (k.mv_size <= SF_NODE_MAX && v.mv_size == sizeof (sf_version_t)) {
            memcpy (node, k.mv_data, k.mv_size);
            node [k.mv_size] = 0;
            sf_version_t ver;
            memcpy (&ver, v.mv_data, sizeof (ver));
            if (fn (node, ver, arg))
                break;
        }
        rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return 0;
}

int
sf_store_scan_versions (sf_read_t *r, const char *node, sf_version_t after, sf_version_fn *fn, void *arg)
{
    if (strlen (node) > SF_NODE_MAX)
        return -1;
    MDB_cursor *cur;
    if (mdb_cursor_open (r->txn, r->store->byver, &cur))
        return -1;
    //  Start just past every key of version `after`
    sf_version_t start = after;
    if (start.seq == UINT64_MAX)
        start.gen++, start.seq = 0;
    else
        start.seq++;
    uint8_t key [VKEY_MAX];
    size_t plen = strlen (node) + 1;
    MDB_val k = { s_vkey (key, node, start, ""), key }, v;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    while (rc == 0 && k.mv_size >= plen + 16 && memcmp (k.mv_data, node, plen) == 0) {
        const uint8_t *p = k.mv_data;
        sf_version_t ver = { s_get_be64 (p + plen), s_get_be64 (p + plen + 8) };
        char name [SF_NAME_MAX + 1];
        size_t nlen = k.mv_size - plen - 16;
        if (nlen <= SF_NAME_MAX && v.mv_size >= 1) {
            memcpy (name, p + plen + 16, nlen);
            name [nlen] = 0;
            if (fn (((const char *) v.mv_data) [0], name, ver, arg))
                break;
        }
        rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return 0;
}

int
sf_store_get_tombstone (sf_read_t *r, const char *node, const char *name, sf_version_t *ver)
{
    if (strlen (node) > SF_NODE_MAX || strlen (name) > SF_NAME_MAX)
        return -1;
    char key [KEY_MAX];
    MDB_val k = { s_key2 (key, node, name), key }, v;
    if (mdb_get (r->txn, r->store->tombs, &k, &v) || v.mv_size != sizeof (s_tomb_t))
        return -1;
    s_tomb_t t;
    memcpy (&t, v.mv_data, sizeof (t));
    *ver = t.v;
    return 0;
}

int
sf_store_gc_tombstones (sf_store_t *self, int64_t before_ms)
{
    if (!self->wtxn || self->wfailed)
        return -1;
    MDB_cursor *cur;
    if (mdb_cursor_open (self->wtxn, self->tombs, &cur))
        return -1;
    //  First find them, then delete: no deleting under a moving cursor
    zlistx_t *expired = zlistx_new ();
    zlistx_set_destructor (expired, (zlistx_destructor_fn *) zstr_free);
    MDB_val k, v;
    int rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        s_tomb_t t;
        if (v.mv_size == sizeof (t) && k.mv_size <= KEY_MAX) {
            memcpy (&t, v.mv_data, sizeof (t));
            if (t.deleted_at_ms < before_ms) {
                char *copy = malloc (k.mv_size + 1 + sizeof (t));
                if (copy) {
                    //  length-prefixed: key bytes may hold a NUL
                    memcpy (copy, &t, sizeof (t));
                    copy [sizeof (t)] = (char) k.mv_size;
                    memcpy (copy + sizeof (t) + 1, k.mv_data, k.mv_size);
                    zlistx_add_end (expired, copy);
                }
            }
        }
        rc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    int n = 0;
    for (char *e = zlistx_first (expired); e; e = zlistx_next (expired)) {
        s_tomb_t t;
        memcpy (&t, e, sizeof (t));
        size_t klen = (uint8_t) e [sizeof (t)];
        const char *key = e + sizeof (t) + 1;
        size_t ln = strnlen (key, klen);
        if (ln >= klen)
            continue;
        char node [SF_NODE_MAX + 1], name [SF_NAME_MAX + 1];
        snprintf (node, sizeof (node), "%.*s", (int) ln, key);
        snprintf (name, sizeof (name), "%.*s", (int) (klen - ln - 1), key + ln + 1);
        uint8_t vkey [VKEY_MAX];
        MDB_val vk = { s_vkey (vkey, node, t.v, name), vkey };
        mdb_del (self->wtxn, self->byver, &vk, NULL);
        MDB_val tk = { klen, (void *) key };
        if (mdb_del (self->wtxn, self->tombs, &tk, NULL) == 0)
            n++;
    }
    zlistx_destroy (&expired);
    return n;
}

int
sf_store_scan_by_name (sf_read_t *r, bool backwards, size_t skip, sf_row_fn *fn, void *arg)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (r->txn, r->store->byname, &cur))
        return -1;
    MDB_val k, v;
    int rc = mdb_cursor_get (cur, &k, &v, backwards ? MDB_LAST : MDB_FIRST);
    while (rc == 0) {
        if (skip)
            skip--;
        else {
            //  name \0 node -> the placement
            const char *key = k.mv_data;
            size_t nlen = strnlen (key, k.mv_size);
            if (nlen < k.mv_size && nlen <= SF_NAME_MAX && k.mv_size - nlen - 1 <= SF_NODE_MAX) {
                char name [SF_NAME_MAX + 1], node [SF_NODE_MAX + 1];
                memcpy (name, key, nlen);
                name [nlen] = 0;
                memcpy (node, key + nlen + 1, k.mv_size - nlen - 1);
                node [k.mv_size - nlen - 1] = 0;
                char names [KEY_MAX + 1];
                char skey [KEY_MAX];
                MDB_val sk = { s_key2 (skey, node, name), skey }, sv;
                sf_row_t row;
                if (mdb_get (r->txn, r->store->streams, &sk, &sv) == 0
                &&  s_row (&sk, &sv, &row, names) == 0 && fn (&row, arg))
                    break;
            }
        }
        rc = mdb_cursor_get (cur, &k, &v, backwards ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return 0;
}

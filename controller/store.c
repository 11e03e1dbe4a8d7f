/*  store.c — LMDB storage of the fleet state (include/sf_store.h).

    Durability: the environment is opened MDB_NOSYNC and the writer calls
    sf_store_sync about once a second. A killed process loses nothing (the
    page cache has every commit); an operating-system crash may lose the last
    second of commits, which the agents' snapshots restore on reconnect, and
    on a file system that reorders writes may leave the environment damaged
    (LMDB's MDB_NOSYNC keeps integrity only where write order is kept).
    Ordered commits (sf_store_set_ordered, --store-ordered) run MDB_NOMETASYNC
    instead: each commit's pages are flushed before its meta page is written,
    so a host crash undoes at most the last commit and never damages the
    environment. MDB_WRITEMAP is not used: LMDB would size the file to the
    whole map and write through the mapping, and a full disk would then
    raise SIGBUS instead of failing the commit with ENOSPC
    (docs/architecture.md, Durability).

    Updates of stored placements are held to the commit and written once
    each (coalescing; s_defer, below).

    Replication needs each origin's changes in version order: the byver
    database keys every live placement, tombstone and node record by
    node \0 be64(gen) be64(seq) name, and every write here keeps it exact
    (the old key goes when a record changes). Tombstones also live in tombs
    (node \0 name -> version, deleted_at_ms) until collected.

    Every key is built by sf_key_make and every walk is s_foreach: one key
    builder and one prefix-iteration helper, as in Knot DNS's knot_lmdb.

    Growing the map needs every transaction of the process closed, so readers
    hold a shared lock for the life of their read transaction and the rare
    resize takes it exclusively.
*/
#include "sf_store.h"
#include "sf_alloc.h"
#include "sf_codec.h"
#include "sf_log.h"
#include <czmq.h>
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <sys/statvfs.h>

struct sf_store_t {
    MDB_env *env;
    MDB_dbi streams, byname, nodes, origins, byver, tombs;
    MDB_dbi meta;               //  format names: summary_magic (s_summary_migrate)
    MDB_dbi extra [SF_DB_EXTRA_COUNT];      //  other modules' databases (sf_db_t)
    MDB_txn *wtxn;
    int wfailed;                //  first error inside the write transaction
    size_t map_size;
    pthread_rwlock_t resize;
    msgpack_sbuffer sbuf;       //  reused for packing on the write side
    char path [512];
    //  Placement changes of the open write transaction, for the observer
    sf_store_observer_fn *observer;
    void *observer_arg;
    struct s_logged *log;
    sf_store_change_t *log_view;
    size_t nlog, logcap;
    char *log_urls;             //  the logged puts' source urls (s_logged.url_off)
    size_t log_urls_used, log_urls_cap;
    //  The placements' digest (sf_store_digest): committed, and what the open
    //  write transaction changes of it. Writer thread only.
    uint64_t digest, digest_count;
    uint64_t wdigest;
    int64_t wdigest_count;
    //  Placement writes of the open transaction held back to its end, so
    //  that several updates of one stream cost one set of B-tree writes and
    //  one observer change (s_defer). Writer thread only.
    struct s_pending **pend;    //  entries, reused across transactions
    size_t npend, pendcap;
    uint32_t *pidx;             //  open addressing: entry index + 1, 0 empty
    size_t pidx_cap;            //  a power of two, at least 2 x pendcap
    uint64_t coalesced_txn;     //  updates folded into a held one, this transaction
    uint64_t coalesced;         //  the same, every committed transaction
};

//  A held placement write: the row's value as it will be stored, and the
//  version LMDB holds for it (its version index key, replaced at the flush)
struct s_pending {
    sf_key_t key;               //  node \0 name
    uint64_t hash;
    sf_version_t stored;
    bool live;                  //  held now; false once flushed
    char *val;                  //  summary + packed record
    size_t size;
};

struct s_logged {
    bool deleted;
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
    sf_summary_t sum;
    size_t url_off, url_len;    //  in log_urls
};

static int s_summary_migrate (sf_store_t *self, MDB_dbi meta, char *err, size_t errlen);
static void s_pend_reset (sf_store_t *self);

void
sf_store_set_observer (sf_store_t *self, sf_store_observer_fn *fn, void *arg)
{
    self->observer = fn;
    self->observer_arg = arg;
}

size_t
sf_packed_url (const void *packed, size_t size, char *out, size_t cap)
{
    out [0] = 0;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0, len = 0;
    if (msgpack_unpack_next (&u, packed, size, &off) == MSGPACK_UNPACK_SUCCESS) {
        const msgpack_object *src = sf_map_get (&u.data, "source");
        const msgpack_object *url = src && src->type == MSGPACK_OBJECT_MAP ? sf_map_get (src, "url") : NULL;
        if (url && url->type == MSGPACK_OBJECT_STR) {
            len = url->via.str.size < cap ? url->via.str.size : cap;
            memcpy (out, url->via.str.ptr, len);
            out [len] = 0;
        }
    }
    msgpack_unpacked_destroy (&u);
    return len;
}

//  A put's record (packed) goes with it: the observer gets its source url
static void
s_log (sf_store_t *self, bool deleted, const char *node, const char *name, size_t name_len,
       const sf_summary_t *sum, const void *packed, size_t packed_size)
{
    if (!self->observer)
        return;
    size_t url_off = self->log_urls_used, url_len = 0;
    if (!deleted) {
        if (self->log_urls_used + SF_URL_MAX + 1 > self->log_urls_cap) {
            self->log_urls_cap = self->log_urls_cap ? self->log_urls_cap * 2 : 1 << 16;
            self->log_urls = sf_xrealloc (self->log_urls, self->log_urls_cap);
        }
        url_len = sf_packed_url (packed, packed_size, self->log_urls + url_off, SF_URL_MAX);
        self->log_urls_used += url_len + 1;
    }
    if (self->nlog == self->logcap) {
        self->logcap = self->logcap ? self->logcap * 2 : 1024;
        self->log = sf_xreallocarray (self->log, self->logcap, sizeof (*self->log));
        self->log_view = sf_xreallocarray (self->log_view, self->logcap, sizeof (*self->log_view));
    }
    struct s_logged *l = &self->log [self->nlog++];
    l->deleted = deleted;
    snprintf (l->node, sizeof (l->node), "%s", node);
    memcpy (l->name, name, name_len);
    l->name [name_len] = 0;
    if (sum)
        l->sum = *sum;
    l->url_off = url_off;
    l->url_len = url_len;
}

//  One placement's share of the digest: its key (node \0 name) and version
static uint64_t
s_row_digest (const void *key, size_t size, uint64_t gen, uint64_t seq)
{
    const uint8_t *p = key;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++)
        h = (h ^ p [i]) * 1099511628211ULL;
    h ^= gen * 0x9E3779B97F4A7C15ULL;
    return (h ^ seq) * 1099511628211ULL;
}

//  ---------------------------------------------------------------------------
//  Keys and walks

void
sf_be64_put (void *p, uint64_t v)
{
    uint8_t *b = p;
    for (int i = 0; i < 8; i++)
        b [i] = (uint8_t) (v >> (56 - 8 * i));
}

uint64_t
sf_be64_get (const void *p)
{
    const uint8_t *b = p;
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | b [i];
    return v;
}

static int
s_key_part (sf_key_t *k, const void *data, size_t size)
{
    if (k->size + size > SF_KEY_MAX)
        return -1;
    memcpy (k->data + k->size, data, size);
    k->size += size;
    return 0;
}

int
sf_key_make (sf_key_t *k, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    k->size = 0;
    int rc = 0;
    for (const char *f = fmt; *f && rc == 0; f++) {
        switch (*f) {
            case 's': {
                const char *str = va_arg (ap, const char *);
                rc = s_key_part (k, str, strlen (str) + 1);
                break;
            }
            case 'n': {
                const char *str = va_arg (ap, const char *);
                rc = s_key_part (k, str, strlen (str));
                break;
            }
            case 'L': {
                uint8_t b [8];
                sf_be64_put (b, va_arg (ap, uint64_t));
                rc = s_key_part (k, b, 8);
                break;
            }
            case 'B': {
                uint8_t b = (uint8_t) va_arg (ap, int);
                rc = s_key_part (k, &b, 1);
                break;
            }
            case 'D': {
                const void *data = va_arg (ap, const void *);
                size_t size = va_arg (ap, size_t);
                rc = s_key_part (k, data, size);
                break;
            }
            default:
                assert (!"sf_key_make: unknown format letter");
        }
    }
    va_end (ap);
    if (rc)
        k->size = 0;
    return rc;
}

static MDB_val
s_val (const sf_key_t *k)
{
    return (MDB_val) { k->size, (void *) k->data };
}

//  Walks db: entries whose key starts with prefix (all when plen is 0), from
//  the first key >= from when from is set (backwards: from the last key <
//  from), in key order or backwards. fn returns non-zero to stop. The one
//  cursor loop of the store.
static int
s_foreach (MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t plen, const void *from,
           size_t flen, bool backwards, sf_kv_fn *fn, void *arg)
{
    if (!txn)
        return -1;
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, dbi, &cur))
        return -1;
    MDB_val k, v;
    int rc;
    if (backwards && from) {
        //  The last key before from: at the first key >= from, one back
        k = (MDB_val) { flen, (void *) from };
        rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
        rc = rc == 0 ? mdb_cursor_get (cur, &k, &v, MDB_PREV)
                     : mdb_cursor_get (cur, &k, &v, MDB_LAST);
    }
    else if (backwards) {
        //  Start after the last key with the prefix: at the prefix's
        //  successor (the prefix with its last non-0xff byte raised), one back
        uint8_t succ [SF_KEY_MAX];
        size_t slen = plen;
        if (plen)
            memcpy (succ, prefix, plen);
        while (slen > 0 && succ [slen - 1] == 0xff)
            slen--;
        if (slen > 0) {
            succ [slen - 1]++;
            k = (MDB_val) { slen, succ };
            rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
            rc = rc == 0 ? mdb_cursor_get (cur, &k, &v, MDB_PREV)
                         : mdb_cursor_get (cur, &k, &v, MDB_LAST);
        }
        else
            rc = mdb_cursor_get (cur, &k, &v, MDB_LAST);
    }
    else if (from || plen) {
        k = from ? (MDB_val) { flen, (void *) from } : (MDB_val) { plen, (void *) prefix };
        rc = mdb_cursor_get (cur, &k, &v, MDB_SET_RANGE);
    }
    else
        rc = mdb_cursor_get (cur, &k, &v, MDB_FIRST);
    while (rc == 0) {
        if (plen && (k.mv_size < plen || memcmp (k.mv_data, prefix, plen) != 0))
            break;
        sf_val_t key = { k.mv_data, k.mv_size }, val = { v.mv_data, v.mv_size };
        if (fn (&key, &val, arg))
            break;
        rc = mdb_cursor_get (cur, &k, &v, backwards ? MDB_PREV : MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return 0;
}

//  Splits "a \0 b" into two strings of at most amax and bmax bytes. 0 or -1.
static int
s_split2 (const sf_val_t *key, char *a, size_t amax, char *b, size_t bmax)
{
    const char *p = key->data;
    size_t la = strnlen (p, key->size);
    if (la >= key->size || la > amax || key->size - la - 1 > bmax)
        return -1;
    memcpy (a, p, la);
    a [la] = 0;
    memcpy (b, p + la + 1, key->size - la - 1);
    b [key->size - la - 1] = 0;
    return 0;
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
    sf_store_t *self = sf_xcalloc (1, sizeof (*self));
    snprintf (self->path, sizeof (self->path), "%s", path);
    self->map_size = map_size ? map_size : (size_t) 1 << 30;
    pthread_rwlock_init (&self->resize, NULL);
    msgpack_sbuffer_init (&self->sbuf);
    if (s_mkdirs (path)) {
        snprintf (err, errlen, "cannot create data directory %s: %s", path, strerror (errno));
        goto fail;
    }
    int rc = mdb_env_create (&self->env);
    //  7 databases of the store's own and SF_DB_EXTRA_COUNT of other
    //  modules' (15 with the alerts' history): room for a few more without
    //  touching this again (each named database costs a little per
    //  transaction, nothing while unused)
    if (!rc) rc = mdb_env_set_maxdbs (self->env, 24);
    if (!rc) rc = mdb_env_set_maxreaders (self->env, 256);
    if (!rc) rc = mdb_env_set_mapsize (self->env, self->map_size);
    if (!rc) rc = mdb_env_open (self->env, path, MDB_NOSYNC | MDB_NOTLS, 0640);
    if (rc) {
        snprintf (err, errlen, "cannot open LMDB environment in %s: %s%s", path, mdb_strerror (rc),
                  rc == ENOSPC ? " (the disk is full: free space there and start again)" : "");
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
    if (!rc) rc = mdb_dbi_open (txn, "byver", MDB_CREATE, &self->byver);
    if (!rc) rc = mdb_dbi_open (txn, "tombs", MDB_CREATE, &self->tombs);
    if (!rc) rc = mdb_dbi_open (txn, "meta", MDB_CREATE, &self->meta);
    //  Opened here, once, so that no handle depends on a write transaction
    //  that might abort (a handle opened inside one dies with it)
    static const char *extra_names [SF_DB_EXTRA_COUNT] = {
        "fleet_uids", "fleet_state", "fleet_events", "fleet_transfers", "fleet_moved",
        "fleet_byuid", "fleet_byref",
        "webhooks",
        "alerts"
    };
    for (int i = 0; i < SF_DB_EXTRA_COUNT && !rc; i++)
        rc = mdb_dbi_open (txn, extra_names [i], MDB_CREATE, &self->extra [i]);
    if (!rc) {
        //  Data directories from before fleet_events held an unused events
        //  database: it goes, once
        MDB_dbi events;
        if (mdb_dbi_open (txn, "events", 0, &events) == 0)
            rc = mdb_drop (txn, events, 1);
    }
    if (!rc)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc) {
        snprintf (err, errlen, "cannot open databases in %s: %s", path, mdb_strerror (rc));
        goto fail;
    }
    if (s_summary_migrate (self, self->meta, err, errlen))
        goto fail;
    //  The digest is kept up to date by every write from here on
    sf_read_t r;
    if (sf_store_read_begin (self, &r) == 0) {
        sf_store_digest_scan (&r, &self->digest, &self->digest_count);
        sf_store_read_end (&r);
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
        sf_store_abort (self);
    if (self->env) {
        //  The last flush: a failure means the last commits may not be on disk
        int rc = mdb_env_sync (self->env, 1);
        if (rc)
            sf_error ("store: the last flush of %s to disk failed: %s; commits since the last "
                      "good flush may not be on the disk (docs/operations.md, \"A failed flush\")",
                      self->path, mdb_strerror (rc));
        mdb_env_close (self->env);
    }
    msgpack_sbuffer_destroy (&self->sbuf);
    pthread_rwlock_destroy (&self->resize);
    free (self->log);
    free (self->log_urls);
    free (self->log_view);
    for (size_t i = 0; i < self->pendcap; i++) {
        free (self->pend [i]->val);
        free (self->pend [i]);
    }
    free (self->pend);
    free (self->pidx);
    free (self);
    *self_p = NULL;
}

const char *sf_store_path (sf_store_t *self) { return self->path; }
bool sf_store_writing (sf_store_t *self) { return self->wtxn != NULL; }

int
sf_store_reader_check (sf_store_t *self)
{
    int dead = 0;
    mdb_reader_check (self->env, &dead);
    return dead;
}

//  Whether an LMDB error means the file system is full: ENOSPC, or EIO,
//  which LMDB reports for a short write (a page or the meta page written in
//  part) and which on a file system with almost nothing free is the same
//  thing
static bool
s_disk_full (sf_store_t *self, int rc)
{
    if (rc == ENOSPC)
        return true;
    struct statvfs fs;
    if (rc != EIO || statvfs (self->path, &fs))
        return false;
    uint64_t avail = (uint64_t) fs.f_bavail * fs.f_frsize;
    uint64_t total = (uint64_t) fs.f_blocks * fs.f_frsize;
    return avail < ((uint64_t) 64 << 20) && avail < total / 20;
}

//  mdb_env_set_flags changes both flags on an open environment; not with
//  the write transaction open, and MDB_NOMETASYNC is set before MDB_NOSYNC
//  goes, so that no commit runs with neither
int
sf_store_set_ordered (sf_store_t *self, bool ordered)
{
    if (self->wtxn)
        return -1;
    int rc = mdb_env_set_flags (self->env, ordered ? MDB_NOMETASYNC : MDB_NOSYNC, 1);
    if (!rc)
        rc = mdb_env_set_flags (self->env, ordered ? MDB_NOSYNC : MDB_NOMETASYNC, 0);
    if (rc) {
        sf_error ("store: cannot change the flush mode of %s: %s", self->path, mdb_strerror (rc));
        return -1;
    }
    return 0;
}

bool
sf_store_ordered (sf_store_t *self)
{
    unsigned flags = 0;
    mdb_env_get_flags (self->env, &flags);
    return (flags & MDB_NOMETASYNC) && !(flags & MDB_NOSYNC);
}

int
sf_store_sync (sf_store_t *self, int *error)
{
    //  From any thread (the writer's flusher): never while the map is resized
    pthread_rwlock_rdlock (&self->resize);
    int rc = mdb_env_sync (self->env, 1);
    pthread_rwlock_unlock (&self->resize);
    if (error)
        *error = rc;
    if (rc && s_disk_full (self, rc))
        return SF_STORE_NOSPACE;
    return rc ? -1 : 0;
}

#if defined(__linux__) && defined(MADV_DONTNEED)
//  The process's resident file-backed memory (RssFile), KiB; 0 if unknown
static long
s_rss_file_kib (void)
{
    long kib = 0;
    FILE *f = fopen ("/proc/self/status", "r");
    if (!f)
        return 0;
    char line [256];
    while (fgets (line, sizeof (line), f))
        if (sscanf (line, "RssFile: %ld", &kib) == 1)
            break;
    fclose (f);
    return kib;
}
#endif

//  LMDB maps the data file MAP_SHARED (read-only, or read-write with
//  MDB_WRITEMAP) and hands out pointers into the map; it offers no call to
//  drop pages, and mdb_env_info names the map's address only for
//  MDB_FIXEDMAP. So the mapping is found in /proc/self/maps by the data
//  file's device and inode, and each of its ranges gets MADV_DONTNEED. On a
//  shared file mapping Linux then only removes this process's page-table
//  entries: the pages stay in the page cache (a dirty one stays dirty and is
//  written back as before), every pointer into the map stays valid, and the
//  next access maps the current contents again. (On a private or anonymous
//  mapping it would discard data: LMDB's is neither.)
long
sf_store_release_pages (sf_store_t *self)
{
#if defined(__linux__) && defined(MADV_DONTNEED)
    int fd;
    struct stat st;
    if (mdb_env_get_fd (self->env, &fd) || fstat (fd, &st))
        return -1;
    FILE *maps = fopen ("/proc/self/maps", "r");
    if (!maps)
        return -1;
    long before = s_rss_file_kib ();
    bool found = false;
    char line [1024];
    while (fgets (line, sizeof (line), maps)) {
        unsigned long lo, hi, off, inode;
        unsigned int major, minor;
        char perms [8];
        if (sscanf (line, "%lx-%lx %7s %lx %x:%x %lu", &lo, &hi, perms, &off, &major, &minor,
                    &inode) != 7)
            continue;
        if (inode != (unsigned long) st.st_ino || makedev (major, minor) != st.st_dev
        ||  perms [3] != 's')
            continue;
        if (madvise ((void *) lo, hi - lo, MADV_DONTNEED) == 0)
            found = true;
    }
    fclose (maps);
    long after = s_rss_file_kib ();
    return found ? (before > after ? (before - after) << 10 : 0) : -1;
#else
    return -1;
#endif
}

void
sf_summary_from_stream (sf_summary_t *sum, const sf_stream_t *s)
{
    memset (sum, 0, sizeof (*sum));
    sum->magic = SF_SUMMARY_MAGIC;
    sum->size = sizeof (*sum);
    sum->flags = (s->stale ? SF_SUM_STALE : 0) | (s->transferred_from [0] ? SF_SUM_TRANSFERRED : 0);
    SF_STREAM_FIELDS (SF_SUM_SET)
}

#define S_LN(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_LN_##g##_##m,
enum { SF_STREAM_FIELDS (S_LN) S_LN_COUNT };
#define S_SUMP_NOSUM(g, m, k)
#define S_SUMP_SUM(g, m, k)     if (lines >> S_LN_##g##_##m & 1) { SF_SUM_SET_SUM (g, m, k) }
#define S_SUMP(g, m, key, k, b, w, su, so, rp, cl, d, doc) S_SUMP_##su (g, m, k)

void
sf_summary_patch (sf_summary_t *sum, const sf_stream_t *s, uint64_t lines)
{
    SF_STREAM_FIELDS (S_SUMP)
    if (lines >> S_LN_TOP_stale & 1)
        sum->flags = (uint8_t) ((sum->flags & ~SF_SUM_STALE) | (s->stale ? SF_SUM_STALE : 0));
    if (lines >> S_LN_TOP_transferred_from & 1)
        sum->flags = (uint8_t) ((sum->flags & ~SF_SUM_TRANSFERRED)
                              | (s->transferred_from [0] ? SF_SUM_TRANSFERRED : 0));
}

//  The stored summary's migration. A summary's format is named by its magic
//  (sf_summary_magic, a hash of the field table's SUM lines); the format the
//  store's rows were written in is kept in meta under "summary_magic". When
//  it differs from this build's, every row of another format gets a summary
//  rebuilt from its own record, in one write transaction, before anyone
//  reads: a changed summary never hides rows. The derived flags
//  (SF_SUM_DERIVED, kept by fleet.c) are carried over.
#define S_SUMMARY_V1_SIZE 48
#define S_META_SUMMARY "summary_magic"

//  Where the record starts in a stored value and what its flags were; -1 if
//  the value is no summary this code knows
static int
s_summary_old (const MDB_val *v, size_t *head, uint8_t *flags)
{
    const uint8_t *p = v->mv_data;
    if (v->mv_size < 8)
        return -1;
    uint32_t magic;
    memcpy (&magic, p, sizeof (magic));
    if (magic == SF_SUMMARY_MAGIC_V1) {
        *head = S_SUMMARY_V1_SIZE;
        *flags = p [7];
    }
    else if ((magic >> 16) == 0x5346) {
        uint16_t size;
        memcpy (&size, p + 6, sizeof (size));
        *head = size;
        *flags = p [4];
    }
    else
        return -1;
    return *head <= v->mv_size ? 0 : -1;
}

static int
s_summary_migrate (sf_store_t *self, MDB_dbi meta, char *err, size_t errlen)
{
    uint32_t magic = SF_SUMMARY_MAGIC;
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc) {
        snprintf (err, errlen, "cannot begin the summary migration: %s", mdb_strerror (rc));
        return -1;
    }
    MDB_val mk = { strlen (S_META_SUMMARY), S_META_SUMMARY }, mv;
    if (mdb_get (txn, meta, &mk, &mv) == 0 && mv.mv_size == sizeof (magic)
    &&  memcmp (mv.mv_data, &magic, sizeof (magic)) == 0) {
        mdb_txn_abort (txn);
        return 0;
    }
    MDB_cursor *cur;
    rc = mdb_cursor_open (txn, self->streams, &cur);
    sf_stream_t s;
    sf_stream_init (&s);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    char *buf = NULL;
    size_t rewritten = 0, unreadable = 0;
    MDB_val k, v;
    int crc = rc ? rc : mdb_cursor_get (cur, &k, &v, MDB_FIRST);
    while (!rc && crc == 0) {
        uint32_t old = 0;
        if (v.mv_size >= sizeof (old))
            memcpy (&old, v.mv_data, sizeof (old));
        size_t head;
        uint8_t flags;
        char why [SF_ERR_MAX] = "not a summary this version knows";
        if (v.mv_size >= sizeof (old) && old == magic && v.mv_size >= sizeof (sf_summary_t))
            ;                           //  already current
        else if (s_summary_old (&v, &head, &flags) == 0) {
            size_t size = v.mv_size - head, off = 0;
            if (msgpack_unpack_next (&u, (const char *) v.mv_data + head, size, &off)
                    == MSGPACK_UNPACK_SUCCESS
            &&  sf_stream_unpack (&u.data, &s, why) == 0) {
                sf_summary_t sum;
                sf_summary_from_stream (&sum, &s);
                sum.flags = (uint8_t) ((sum.flags & ~SF_SUM_DERIVED) | (flags & SF_SUM_DERIVED));
                //  The value is replaced under the cursor: copy the record first
                buf = sf_xrealloc (buf, sizeof (sum) + size);
                memcpy (buf, &sum, sizeof (sum));
                memcpy (buf + sizeof (sum), (const char *) v.mv_data + head, size);
                MDB_val nv = { sizeof (sum) + size, buf };
                //  A put of another size may split pages under the cursor:
                //  put by key, then find the key again and walk on from it
                char kcopy [SF_NODE_MAX + SF_NAME_MAX + 2];
                if (k.mv_size > sizeof (kcopy)) {
                    rc = MDB_BAD_VALSIZE;
                    break;
                }
                memcpy (kcopy, k.mv_data, k.mv_size);
                MDB_val kc = { k.mv_size, kcopy };
                rc = mdb_put (txn, self->streams, &kc, &nv, 0);
                if (!rc)
                    rc = mdb_cursor_get (cur, &kc, &v, MDB_SET);
                if (rc)
                    break;
                rewritten++;
            }
            else {
                sf_error ("store: placement %.*s has an unreadable record (%s): left as it is",
                            (int) k.mv_size, (const char *) k.mv_data, why);
                unreadable++;
            }
        }
        else {
            sf_error ("store: placement %.*s has no summary this version knows: left as it is",
                        (int) k.mv_size, (const char *) k.mv_data);
            unreadable++;
        }
        crc = mdb_cursor_get (cur, &k, &v, MDB_NEXT);
    }
    free (buf);
    msgpack_unpacked_destroy (&u);
    sf_stream_clear (&s);
    if (!rc && crc != MDB_NOTFOUND)
        rc = crc;
    if (!rc) {
        mdb_cursor_close (cur);
        MDB_val nv = { sizeof (magic), &magic };
        rc = mdb_put (txn, meta, &mk, &nv, 0);
    }
    if (!rc)
        rc = mdb_txn_commit (txn);
    else
        mdb_txn_abort (txn);
    if (rc) {
        snprintf (err, errlen, "cannot migrate the stored summaries: %s", mdb_strerror (rc));
        return -1;
    }
    if (rewritten || unreadable)
        sf_info ("store: %zu placement summaries rewritten in format %08x%s", rewritten, magic,
                   unreadable ? " (some unreadable rows left, see above)" : "");
    return 0;
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

//  The keys of the store's own databases
static void
s_key2 (sf_key_t *k, const char *a, const char *b)
{
    int rc = sf_key_make (k, "sn", a, b);
    assert (rc == 0);           //  callers bound node and name
}

static void
s_vkey (sf_key_t *k, const char *node, sf_version_t v, const char *name)
{
    int rc = sf_key_make (k, "sLLn", node, v.gen, v.seq, name);
    assert (rc == 0);
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
    self->nlog = 0;
    self->log_urls_used = 0;
    self->wdigest = 0;
    self->wdigest_count = 0;
    s_pend_reset (self);
    pthread_rwlock_rdlock (&self->resize);
    int rc = mdb_txn_begin (self->env, NULL, 0, &self->wtxn);
    if (rc) {
        pthread_rwlock_unlock (&self->resize);
        sf_error ("store: cannot begin write transaction in %s: %s", self->path, mdb_strerror (rc));
        self->wtxn = NULL;
        return -1;
    }
    return 0;
}

static int
s_put (sf_store_t *self, MDB_dbi dbi, const sf_key_t *key, const void *data, size_t size,
       unsigned flags)
{
    if (!self->wtxn || self->wfailed)
        return -1;
    MDB_val k = s_val (key), v = { size, (void *) data };
    int rc = mdb_put (self->wtxn, dbi, &k, &v, flags);
    if (rc == MDB_KEYEXIST && (flags & MDB_NOOVERWRITE))
        return 1;
    if (rc) {
        self->wfailed = rc;
        return -1;
    }
    return 0;
}

//  Reserves size bytes for the value and returns where to write them
static void *
s_reserve (sf_store_t *self, MDB_dbi dbi, const sf_key_t *key, size_t size)
{
    if (!self->wtxn || self->wfailed)
        return NULL;
    MDB_val k = s_val (key), v = { size, NULL };
    int rc = mdb_put (self->wtxn, dbi, &k, &v, MDB_RESERVE);
    if (rc) {
        self->wfailed = rc;
        return NULL;
    }
    return v.mv_data;
}

static int
s_del (sf_store_t *self, MDB_dbi dbi, const sf_key_t *key)
{
    if (!self->wtxn || self->wfailed)
        return -1;
    MDB_val k = s_val (key);
    int rc = mdb_del (self->wtxn, dbi, &k, NULL);
    if (rc && rc != MDB_NOTFOUND) {
        self->wfailed = rc;
        return -1;
    }
    return rc == MDB_NOTFOUND ? 1 : 0;
}

//  0 found, 1 absent, -1 error
static int
s_get (MDB_txn *txn, MDB_dbi dbi, const sf_key_t *key, sf_val_t *out)
{
    if (!txn)
        return -1;
    MDB_val k = s_val (key), v;
    int rc = mdb_get (txn, dbi, &k, &v);
    if (rc == MDB_NOTFOUND)
        return 1;
    if (rc)
        return -1;
    *out = (sf_val_t) { v.mv_data, v.mv_size };
    return 0;
}

//  ---------------------------------------------------------------------------
//  Coalescing: placement writes held to the end of the transaction
//
//  An update of a placement LMDB already holds, written by
//  sf_store_put_stream_packed (the patch splice, the fleet's flag rewrite),
//  is not written at once: it is held here, keyed by node \0 name, and a
//  later update of the same placement in the same transaction replaces it
//  (the last wins; it carries every field, so nothing of the earlier one is
//  lost). At the commit the held writes go to LMDB in key order (nearby
//  pages, once each), with their version index entries and their one
//  observer change each. Every other operation that could see a held row
//  either reads it from here (sf_store_get_row, the name index walks on the
//  write view) or flushes first: the held write of that key (a put through
//  the fleet, a delete) or all of them (a cursor walk of the write view,
//  the tombstone collection). So the write view always reads what was
//  written, and a commit stores all of it or, when it fails, none.

static uint64_t
s_key_hash (const sf_key_t *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < k->size; i++)
        h = (h ^ k->data [i]) * 1099511628211ULL;
    return h ^ (h >> 29);
}

static struct s_pending *
s_pend_find (sf_store_t *self, const sf_key_t *k, uint64_t h)
{
    if (!self->pidx_cap)
        return NULL;
    size_t mask = self->pidx_cap - 1;
    for (size_t i = h & mask; self->pidx [i]; i = (i + 1) & mask) {
        struct s_pending *p = self->pend [self->pidx [i] - 1];
        if (p->hash == h && p->key.size == k->size && memcmp (p->key.data, k->data, k->size) == 0)
            return p;
    }
    return NULL;
}

static void
s_pend_index (sf_store_t *self, size_t at)
{
    size_t mask = self->pidx_cap - 1;
    size_t i = self->pend [at]->hash & mask;
    while (self->pidx [i])
        i = (i + 1) & mask;
    self->pidx [i] = (uint32_t) at + 1;
}

//  A new entry for key k (absent from the index)
static struct s_pending *
s_pend_add (sf_store_t *self, const sf_key_t *k, uint64_t h)
{
    if (self->npend == self->pendcap) {
        size_t cap = self->pendcap ? self->pendcap * 2 : 1024;
        self->pend = sf_xreallocarray (self->pend, cap, sizeof (*self->pend));
        for (size_t i = self->pendcap; i < cap; i++)
            self->pend [i] = sf_xcalloc (1, sizeof (struct s_pending));
        self->pendcap = cap;
        free (self->pidx);
        self->pidx_cap = cap * 2;
        self->pidx = sf_xcalloc (self->pidx_cap, sizeof (*self->pidx));
        for (size_t i = 0; i < self->npend; i++)
            s_pend_index (self, i);
    }
    struct s_pending *p = self->pend [self->npend];
    p->key.size = k->size;
    memcpy (p->key.data, k->data, k->size);
    p->hash = h;
    p->live = false;
    s_pend_index (self, self->npend++);
    return p;
}

//  Forgets every held write (after a flush of all, or an abort)
static void
s_pend_reset (sf_store_t *self)
{
    if (self->npend)
        memset (self->pidx, 0, self->pidx_cap * sizeof (*self->pidx));
    self->npend = 0;
    self->coalesced_txn = 0;
}

//  Sets the value of held write p: summary and packed record. The old value
//  may be where packed points (a row read back from here), so it goes last.
static void
s_pend_set (struct s_pending *p, const sf_summary_t *sum, const void *packed, size_t size)
{
    char *val = sf_xmalloc (sizeof (*sum) + size);
    memcpy (val, sum, sizeof (*sum));
    memcpy (val + sizeof (*sum), packed, size);
    free (p->val);
    p->val = val;
    p->size = sizeof (*sum) + size;
}

//  Writes held write p to LMDB: its version index key replaces the stored
//  version's, the value replaces the row. 0 or -1 (the transaction fails).
static int
s_flush_one (sf_store_t *self, struct s_pending *p)
{
    p->live = false;
    const char *node = (const char *) p->key.data;
    size_t nlen = strlen (node);
    size_t name_len = p->key.size - nlen - 1;
    char name [SF_NAME_MAX + 1];
    memcpy (name, p->key.data + nlen + 1, name_len);
    name [name_len] = 0;
    sf_summary_t sum;
    memcpy (&sum, p->val, sizeof (sum));
    sf_key_t vk;
    s_vkey (&vk, node, p->stored, name);
    s_del (self, self->byver, &vk);
    s_vkey (&vk, node, (sf_version_t) { sum.gen, sum.seq }, name);
    if (s_put (self, self->byver, &vk, "s", 1, 0) || s_put (self, self->streams, &p->key, p->val, p->size, 0))
        return -1;
    self->wdigest ^= s_row_digest (p->key.data, p->key.size, p->stored.gen, p->stored.seq);
    self->wdigest ^= s_row_digest (p->key.data, p->key.size, sum.gen, sum.seq);
    s_log (self, false, node, name, name_len, &sum, p->val + sizeof (sum), p->size - sizeof (sum));
    return 0;
}

static int
s_pend_cmp (const void *a, const void *b)
{
    const struct s_pending *x = *(struct s_pending * const *) a, *y = *(struct s_pending * const *) b;
    size_t n = x->key.size < y->key.size ? x->key.size : y->key.size;
    int c = memcmp (x->key.data, y->key.data, n);
    return c ? c : (x->key.size > y->key.size) - (x->key.size < y->key.size);
}

//  Writes every held write to LMDB, in key order. 0 or -1.
static int
s_flush_all (sf_store_t *self)
{
    if (!self->npend)
        return 0;
    struct s_pending **order = sf_xreallocarray (NULL, self->npend, sizeof (*order));
    size_t n = 0;
    for (size_t i = 0; i < self->npend; i++)
        if (self->pend [i]->live)
            order [n++] = self->pend [i];
    qsort (order, n, sizeof (*order), s_pend_cmp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s_flush_one (self, order [i]);
    free (order);
    uint64_t coalesced = self->coalesced_txn;
    s_pend_reset (self);
    self->coalesced_txn = coalesced;        //  counted when the commit works
    return rc;
}

//  Flushes the held write of key k, if any. 0 or -1.
static int
s_flush_key (sf_store_t *self, const sf_key_t *k)
{
    struct s_pending *p = self->npend ? s_pend_find (self, k, s_key_hash (k)) : NULL;
    return p && p->live ? s_flush_one (self, p) : 0;
}

//  Holds an update of placement key k (sum and packed as they will be
//  stored). 0 held; 1 not held: LMDB has no such row, the caller writes it
//  at once (a new row also needs its name index entry and, maybe, a
//  tombstone's removal).
static int
s_defer (sf_store_t *self, const sf_key_t *k, const sf_summary_t *sum, const void *packed, size_t size)
{
    uint64_t h = s_key_hash (k);
    struct s_pending *p = s_pend_find (self, k, h);
    if (p && p->live) {
        s_pend_set (p, sum, packed, size);
        self->coalesced_txn++;
        return 0;
    }
    sf_val_t old;
    if (s_get (self->wtxn, self->streams, k, &old) || old.size < sizeof (sf_summary_t))
        return 1;
    sf_summary_t o;
    memcpy (&o, old.data, sizeof (o));
    if (!p)
        p = s_pend_add (self, k, h);
    p->stored = (sf_version_t) { o.gen, o.seq };
    p->live = true;
    s_pend_set (p, sum, packed, size);
    return 0;
}

//  A streams row of the transaction r reads: a held write first when r is
//  the write view. 0 found, 1 absent, -1.
static int
s_get_stream (sf_read_t *r, const sf_key_t *k, sf_val_t *v)
{
    sf_store_t *self = r->store;
    if (r->txn && r->txn == self->wtxn && self->npend) {
        struct s_pending *p = s_pend_find (self, k, s_key_hash (k));
        if (p && p->live) {
            *v = (sf_val_t) { p->val, p->size };
            return 0;
        }
    }
    return s_get (r->txn, self->streams, k, v);
}

//  Before a cursor walks the write view: every held write in LMDB
static void
s_flush_view (sf_read_t *r)
{
    if (r->txn && r->txn == r->store->wtxn && r->store->npend)
        s_flush_all (r->store);
}

uint64_t
sf_store_coalesced (sf_store_t *self)
{
    return self->coalesced;
}

int
sf_store_put_stream_packed (sf_store_t *self, const char *node, const char *name,
                            const sf_summary_t *sum, const void *packed, size_t size)
{
    if (!self->wtxn || self->wfailed || strlen (node) > SF_NODE_MAX || strlen (name) > SF_NAME_MAX)
        return -1;
    sf_key_t k;
    s_key2 (&k, node, name);
    //  An update of a stored row is held to the commit (coalescing)
    if (s_defer (self, &k, sum, packed, size) == 0)
        return 0;
    return sf_store_put_stream_prev (self, node, name, sum, packed, size, NULL);
}

int
sf_store_put_stream_prev (sf_store_t *self, const char *node, const char *name,
                          const sf_summary_t *sum_in, const void *packed, size_t size,
                          sf_summary_t *prev)
{
    if (prev)
        memset (prev, 0, sizeof (*prev));
    if (!self->wtxn || self->wfailed || strlen (node) > SF_NODE_MAX || strlen (name) > SF_NAME_MAX)
        return -1;
    sf_key_t k, vk;
    s_key2 (&k, node, name);
    if (s_flush_key (self, &k))
        return -1;
    sf_summary_t sum = *sum_in;
    //  The version index loses the old key and gains the new one
    sf_val_t old;
    bool existed = false;
    if (s_get (self->wtxn, self->streams, &k, &old) == 0 && old.size >= sizeof (sf_summary_t)) {
        sf_summary_t o;
        memcpy (&o, old.data, sizeof (o));
        existed = true;
        if (prev) {
            //  The caller learns what it replaces, and the derived flags stay
            *prev = o;
            sum.flags = (uint8_t) ((sum.flags & ~SF_SUM_DERIVED) | (o.flags & SF_SUM_DERIVED));
        }
        s_vkey (&vk, node, (sf_version_t) { o.gen, o.seq }, name);
        s_del (self, self->byver, &vk);
        MDB_val kv = s_val (&k);
        self->wdigest ^= s_row_digest (kv.mv_data, kv.mv_size, o.gen, o.seq);
        self->wdigest_count--;
    }
    else {
        sf_val_t tv;
        if (s_get (self->wtxn, self->tombs, &k, &tv) == 0 && tv.size == sizeof (s_tomb_t)) {
            s_tomb_t t;
            memcpy (&t, tv.data, sizeof (t));
            s_vkey (&vk, node, t.v, name);
            s_del (self, self->byver, &vk);
            s_del (self, self->tombs, &k);
        }
    }
    s_vkey (&vk, node, (sf_version_t) { sum.gen, sum.seq }, name);
    if (s_put (self, self->byver, &vk, "s", 1, 0))
        return -1;
    //  Reserve the value in the map and write it in place: one copy
    char *at = s_reserve (self, self->streams, &k, sizeof (sf_summary_t) + size);
    if (!at)
        return -1;
    memcpy (at, &sum, sizeof (sf_summary_t));
    memcpy (at + sizeof (sf_summary_t), packed, size);
    MDB_val kv = s_val (&k);
    self->wdigest ^= s_row_digest (kv.mv_data, kv.mv_size, sum.gen, sum.seq);
    self->wdigest_count++;
    //  The name index holds (name, node) exactly while the placement exists:
    //  an update of a stored placement leaves it as it is
    sf_key_t nk;
    s_key2 (&nk, name, node);
    if (!existed && s_put (self, self->byname, &nk, "", 0, 0))
        return -1;
    s_log (self, false, node, name, strlen (name), &sum, packed, size);
    return 0;
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
    if (!self->wtxn || self->wfailed || strlen (node) > SF_NODE_MAX || strlen (name) > SF_NAME_MAX)
        return -1;
    sf_key_t k, vk;
    s_key2 (&k, node, name);
    if (s_flush_key (self, &k))
        return -1;
    sf_val_t old;
    if (s_get (self->wtxn, self->streams, &k, &old) == 0 && old.size >= sizeof (sf_summary_t)) {
        sf_summary_t o;
        memcpy (&o, old.data, sizeof (o));
        s_vkey (&vk, node, (sf_version_t) { o.gen, o.seq }, name);
        s_del (self, self->byver, &vk);
        MDB_val kv = s_val (&k);
        self->wdigest ^= s_row_digest (kv.mv_data, kv.mv_size, o.gen, o.seq);
        self->wdigest_count--;
    }
    if (ver.gen || ver.seq) {
        sf_val_t tv;
        if (s_get (self->wtxn, self->tombs, &k, &tv) == 0 && tv.size == sizeof (s_tomb_t)) {
            s_tomb_t t;
            memcpy (&t, tv.data, sizeof (t));
            s_vkey (&vk, node, t.v, name);
            s_del (self, self->byver, &vk);
        }
        s_tomb_t t = { ver, sf_now_ms () };
        s_vkey (&vk, node, ver, name);
        if (s_put (self, self->tombs, &k, &t, sizeof (t), 0) || s_put (self, self->byver, &vk, "d", 1, 0))
            return -1;
    }
    int rc = s_del (self, self->streams, &k);
    if (rc < 0)
        return -1;
    if (rc == 0)
        s_log (self, true, node, name, strlen (name), NULL, NULL, 0);
    sf_key_t nk;
    s_key2 (&nk, name, node);
    return s_del (self, self->byname, &nk) < 0 ? -1 : 0;
}

int
sf_store_put_node (sf_store_t *self, const sf_node_t *n)
{
    msgpack_sbuffer_clear (&self->sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->sbuf, msgpack_sbuffer_write);
    sf_node_pack (&pk, n, 0);
    if (!self->wtxn || self->wfailed || strlen (n->id) > SF_NODE_MAX)
        return -1;
    sf_key_t k, vk;
    sf_key_make (&k, "n", n->id);
    sf_val_t old;
    sf_version_t ov = { 0, 0 };
    if (s_get (self->wtxn, self->nodes, &k, &old) == 0 && old.size >= sizeof (sf_version_t))
        memcpy (&ov, old.data, sizeof (ov));
    //  Usage refreshes keep the version: the index changes only with the info
    if (sf_version_cmp (ov, n->version) != 0) {
        if (ov.gen || ov.seq) {
            s_vkey (&vk, n->id, ov, "");
            s_del (self, self->byver, &vk);
        }
        if (n->version.gen || n->version.seq) {
            s_vkey (&vk, n->id, n->version, "");
            if (s_put (self, self->byver, &vk, "n", 1, 0))
                return -1;
        }
    }
    char *at = s_reserve (self, self->nodes, &k, sizeof (sf_version_t) + self->sbuf.size);
    if (!at)
        return -1;
    memcpy (at, &n->version, sizeof (sf_version_t));
    memcpy (at + sizeof (sf_version_t), self->sbuf.data, self->sbuf.size);
    return 0;
}

int
sf_store_set_origin (sf_store_t *self, const char *node, sf_version_t ver)
{
    sf_key_t k;
    if (sf_key_make (&k, "n", node))
        return -1;
    return s_put (self, self->origins, &k, &ver, sizeof (ver), 0);
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
        sf_error ("store: cannot grow the LMDB map in %s to %zu bytes: %s", self->path, next,
                  mdb_strerror (rc));
        return -1;
    }
    sf_info ("store: LMDB map grown to %zu MiB", next >> 20);
    return 0;
}

int
sf_store_maybe_grow (sf_store_t *self)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info (self->env, &info);
    mdb_env_stat (self->env, &st);
    size_t used = (size_t) (info.me_last_pgno + 1) * st.ms_psize;
    if (used <= info.me_mapsize / 10 * 7)
        return 0;
    return sf_store_grow (self, info.me_mapsize * 2) == 0 ? 1 : -1;
}

uint64_t
sf_store_txnid (sf_store_t *self)
{
    MDB_envinfo info;
    if (mdb_env_info (self->env, &info))
        return 0;
    return (uint64_t) info.me_last_txnid;
}

int
sf_store_commit (sf_store_t *self)
{
    if (!self->wtxn)
        return 0;
    int rc;
    //  The held writes go first: they are part of this transaction
    if (!self->wfailed)
        s_flush_all (self);
    uint64_t coalesced = self->coalesced_txn;
    s_pend_reset (self);
    if (self->wfailed) {
        rc = self->wfailed;
        mdb_txn_abort (self->wtxn);
    }
    else
        rc = mdb_txn_commit (self->wtxn);
    self->wtxn = NULL;
    pthread_rwlock_unlock (&self->resize);
    size_t nlog = self->nlog;
    self->nlog = 0;
    self->log_urls_used = 0;
    if (rc == 0) {
        self->coalesced += coalesced;
        self->digest ^= self->wdigest;
        self->digest_count = (uint64_t) ((int64_t) self->digest_count + self->wdigest_count);
        //  Committed: the observer learns it before anyone is acknowledged
        if (self->observer && nlog) {
            for (size_t i = 0; i < nlog; i++)
                self->log_view [i] = (sf_store_change_t) { self->log [i].deleted, self->log [i].node,
                                                           self->log [i].name, self->log [i].sum,
                                                           self->log [i].deleted ? ""
                                                           : self->log_urls + self->log [i].url_off,
                                                           self->log [i].url_len };
            self->observer (self->observer_arg, self->log_view, nlog);
        }
        return 0;
    }
    if (rc == MDB_MAP_FULL || rc == MDB_TXN_FULL) {
        if (rc == MDB_MAP_FULL && sf_store_grow (self, self->map_size * 2) == 0)
            return SF_STORE_RETRY;
        sf_error ("store: write transaction too large: %s", mdb_strerror (rc));
        return -1;
    }
    if (s_disk_full (self, rc))
        return SF_STORE_NOSPACE;        //  the caller says what to do, at a limited rate
    sf_error ("store: commit failed in %s: %s", self->path, mdb_strerror (rc));
    return -1;
}

void
sf_store_abort (sf_store_t *self)
{
    if (!self->wtxn)
        return;
    mdb_txn_abort (self->wtxn);
    self->nlog = 0;
    self->log_urls_used = 0;
    s_pend_reset (self);
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
    r->view = false;
    pthread_rwlock_rdlock (&self->resize);
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, MDB_RDONLY, &txn);
    if (rc) {
        pthread_rwlock_unlock (&self->resize);
        sf_error ("store: cannot begin read transaction in %s: %s", self->path, mdb_strerror (rc));
        return -1;
    }
    r->txn = txn;
    return 0;
}

int
sf_store_write_view (sf_store_t *self, sf_read_t *r)
{
    *r = (sf_read_t) { self->wtxn, self, true };
    return self->wtxn ? 0 : -1;
}

void
sf_store_read_end (sf_read_t *r)
{
    if (r->txn && !r->view) {
        mdb_txn_abort (r->txn);
        pthread_rwlock_unlock (&r->store->resize);
    }
    r->txn = NULL;
}

//  Fills a row from a streams entry; -1 if the value is not ours
static int
s_row (const sf_val_t *k, const sf_val_t *v, sf_row_t *row, char *names)
{
    if (v->size < sizeof (sf_summary_t))
        return -1;
    memcpy (&row->sum, v->data, sizeof (sf_summary_t));
    if (row->sum.magic != SF_SUMMARY_MAGIC)
        return -1;
    //  Keys are not NUL-terminated: copy node and name out
    const char *key = k->data;
    size_t nlen = strnlen (key, k->size);
    if (nlen >= k->size || k->size > SF_NODE_MAX + SF_NAME_MAX + 1)
        return -1;
    memcpy (names, key, k->size);
    names [k->size] = 0;
    row->node = names;
    row->name = names + nlen + 1;
    row->key = key;
    row->key_size = k->size;
    row->packed = (const char *) v->data + sizeof (sf_summary_t);
    row->packed_size = v->size - sizeof (sf_summary_t);
    return 0;
}

#define NAMES_MAX (SF_NODE_MAX + SF_NAME_MAX + 2)

typedef struct {
    sf_row_fn *fn;
    void *arg;
} s_rows_t;

static int
s_row_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_rows_t *a = arg;
    char names [NAMES_MAX];
    sf_row_t row;
    return s_row (k, v, &row, names) == 0 && a->fn (&row, a->arg);
}

static int
s_digest_one (const sf_row_t *row, void *arg)
{
    uint64_t *acc = arg;
    acc [0] ^= s_row_digest (row->key, row->key_size, row->sum.gen, row->sum.seq);
    acc [1]++;
    return 0;
}

void
sf_store_digest_scan (sf_read_t *r, uint64_t *digest, uint64_t *count)
{
    uint64_t acc [2] = { 0, 0 };
    sf_store_scan_streams (r, NULL, s_digest_one, acc);
    *digest = acc [0];
    *count = acc [1];
}

void
sf_store_digest (sf_store_t *self, uint64_t *digest, uint64_t *count)
{
    *digest = self->digest;
    *count = self->digest_count;
}

int
sf_store_scan_streams (sf_read_t *r, const char *node, sf_row_fn *fn, void *arg)
{
    sf_key_t prefix = { 0 };
    if (node && sf_key_make (&prefix, "s", node))
        return 0;
    if (node && strlen (node) > SF_NODE_MAX)
        return 0;
    s_rows_t a = { fn, arg };
    s_flush_view (r);
    return s_foreach (r->txn, r->store->streams, prefix.data, prefix.size, NULL, 0, false,
                      s_row_one, &a);
}

int
sf_store_get_row (sf_read_t *r, const char *node, const char *name, sf_row_t *row)
{
    static __thread char names [NAMES_MAX];
    if (strlen (node) > SF_NODE_MAX || strlen (name) > SF_NAME_MAX)
        return -1;
    sf_key_t k;
    s_key2 (&k, node, name);
    sf_val_t v;
    if (s_get_stream (r, &k, &v))
        return -1;
    sf_val_t key = { k.data, k.size };
    return s_row (&key, &v, row, names);
}

//  The placement an index key (name \0 node) names
static int
s_row_by_name (sf_read_t *r, const sf_val_t *ik, sf_row_fn *fn, void *arg)
{
    char name [SF_NAME_MAX + 1], node [SF_NODE_MAX + 1];
    if (s_split2 (ik, name, SF_NAME_MAX, node, SF_NODE_MAX))
        return 0;
    sf_key_t k;
    s_key2 (&k, node, name);
    sf_val_t v;
    if (s_get_stream (r, &k, &v))
        return 0;
    sf_val_t key = { k.data, k.size };
    char names [NAMES_MAX];
    sf_row_t row;
    return s_row (&key, &v, &row, names) == 0 && fn (&row, arg);
}

typedef struct {
    sf_read_t *r;
    sf_row_fn *fn;
    void *arg;
    size_t skip;
} s_byname_t;

static int
s_byname_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_byname_t *a = arg;
    if (a->skip) {
        a->skip--;
        return 0;
    }
    return s_row_by_name (a->r, k, a->fn, a->arg);
}

int
sf_store_scan_name (sf_read_t *r, const char *name, sf_row_fn *fn, void *arg)
{
    sf_key_t prefix;
    if (strlen (name) > SF_NAME_MAX || sf_key_make (&prefix, "s", name))
        return 0;
    s_byname_t a = { r, fn, arg, 0 };
    return s_foreach (r->txn, r->store->byname, prefix.data, prefix.size, NULL, 0, false,
                      s_byname_one, &a);
}

int
sf_store_scan_by_name (sf_read_t *r, bool backwards, size_t skip, sf_row_fn *fn, void *arg)
{
    s_byname_t a = { r, fn, arg, skip };
    return s_foreach (r->txn, r->store->byname, NULL, 0, NULL, 0, backwards, s_byname_one, &a);
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
    memset (ver, 0, sizeof (*ver));
    sf_key_t k;
    sf_val_t v;
    if (sf_key_make (&k, "n", node) || s_get (r->txn, r->store->origins, &k, &v)
    ||  v.size != sizeof (*ver))
        return -1;
    memcpy (ver, v.data, sizeof (*ver));
    return 0;
}

static int
s_node_decode (const sf_val_t *v, sf_node_t *n)
{
    if (v->size < sizeof (sf_version_t))
        return -1;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    int rc = -1;
    const char *data = (const char *) v->data + sizeof (sf_version_t);
    if (msgpack_unpack_next (&u, data, v->size - sizeof (sf_version_t), &off) == MSGPACK_UNPACK_SUCCESS) {
        char err [SF_ERR_MAX];
        rc = sf_node_unpack (&u.data, n, err);
    }
    msgpack_unpacked_destroy (&u);
    return rc;
}

int
sf_store_get_node (sf_read_t *r, const char *id, sf_node_t *n)
{
    sf_key_t k;
    sf_val_t v;
    if (sf_key_make (&k, "n", id) || s_get (r->txn, r->store->nodes, &k, &v))
        return -1;
    return s_node_decode (&v, n);
}

typedef struct {
    sf_node_fn *fn;
    void *arg;
} s_nodes_t;

static int
s_node_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_nodes_t *a = arg;
    sf_node_t n;
    return s_node_decode (v, &n) == 0 && a->fn (&n, a->arg);
}

int
sf_store_scan_nodes (sf_read_t *r, sf_node_fn *fn, void *arg)
{
    s_nodes_t a = { fn, arg };
    return s_foreach (r->txn, r->store->nodes, NULL, 0, NULL, 0, false, s_node_one, &a);
}

int
sf_store_count_streams (sf_read_t *r, size_t *count)
{
    MDB_stat st;
    if (!r->txn || mdb_stat (r->txn, r->store->streams, &st))
        return -1;
    *count = st.ms_entries;
    return 0;
}

int
sf_store_get_node_packed (sf_read_t *r, const char *id, const void **data, size_t *size)
{
    sf_key_t k;
    sf_val_t v;
    if (sf_key_make (&k, "n", id) || s_get (r->txn, r->store->nodes, &k, &v)
    ||  v.size < sizeof (sf_version_t))
        return -1;
    *data = (const char *) v.data + sizeof (sf_version_t);
    *size = v.size - sizeof (sf_version_t);
    return 0;
}

typedef struct {
    sf_origin_fn *fn;
    void *arg;
} s_origins_t;

static int
s_origin_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_origins_t *a = arg;
    if (k->size > SF_NODE_MAX || v->size != sizeof (sf_version_t))
        return 0;
    char node [SF_NODE_MAX + 1];
    memcpy (node, k->data, k->size);
    node [k->size] = 0;
    sf_version_t ver;
    memcpy (&ver, v->data, sizeof (ver));
    return a->fn (node, ver, a->arg);
}

int
sf_store_scan_origins (sf_read_t *r, sf_origin_fn *fn, void *arg)
{
    s_origins_t a = { fn, arg };
    return s_foreach (r->txn, r->store->origins, NULL, 0, NULL, 0, false, s_origin_one, &a);
}

typedef struct {
    sf_version_fn *fn;
    void *arg;
    size_t plen;
} s_versions_t;

static int
s_version_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_versions_t *a = arg;
    if (k->size < a->plen + 16 || v->size < 1)
        return 0;
    const uint8_t *p = k->data;
    sf_version_t ver = { sf_be64_get (p + a->plen), sf_be64_get (p + a->plen + 8) };
    size_t nlen = k->size - a->plen - 16;
    if (nlen > SF_NAME_MAX)
        return 0;
    char name [SF_NAME_MAX + 1];
    memcpy (name, p + a->plen + 16, nlen);
    name [nlen] = 0;
    return a->fn (((const char *) v->data) [0], name, ver, a->arg);
}

int
sf_store_scan_versions (sf_read_t *r, const char *node, sf_version_t after, sf_version_fn *fn, void *arg)
{
    if (strlen (node) > SF_NODE_MAX)
        return -1;
    //  Start just past every key of version `after`
    sf_version_t start = after;
    if (start.seq == UINT64_MAX)
        start.gen++, start.seq = 0;
    else
        start.seq++;
    sf_key_t prefix, from;
    sf_key_make (&prefix, "s", node);
    s_vkey (&from, node, start, "");
    s_versions_t a = { fn, arg, prefix.size };
    s_flush_view (r);
    return s_foreach (r->txn, r->store->byver, prefix.data, prefix.size, from.data, from.size,
                      false, s_version_one, &a);
}

int
sf_store_get_tombstone (sf_read_t *r, const char *node, const char *name, sf_version_t *ver)
{
    if (strlen (node) > SF_NODE_MAX || strlen (name) > SF_NAME_MAX)
        return -1;
    sf_key_t k;
    s_key2 (&k, node, name);
    sf_val_t v;
    if (s_get (r->txn, r->store->tombs, &k, &v) || v.size != sizeof (s_tomb_t))
        return -1;
    s_tomb_t t;
    memcpy (&t, v.data, sizeof (t));
    *ver = t.v;
    return 0;
}

//  An expired tombstone, collected before any is deleted: no deleting under
//  a moving cursor
typedef struct {
    s_tomb_t t;
    sf_key_t key;
} s_expired_t;

typedef struct {
    zlistx_t *expired;
    int64_t before_ms;
} s_gc_t;

static int
s_gc_one (const sf_val_t *k, const sf_val_t *v, void *arg)
{
    s_gc_t *a = arg;
    s_tomb_t t;
    if (v->size != sizeof (t) || k->size > SF_KEY_MAX)
        return 0;
    memcpy (&t, v->data, sizeof (t));
    if (t.deleted_at_ms < a->before_ms) {
        s_expired_t *e = sf_xmalloc (sizeof (*e));
        e->t = t;
        e->key.size = k->size;
        memcpy (e->key.data, k->data, k->size);
        zlistx_add_end (a->expired, e);
    }
    return 0;
}

static void
s_expired_free (void **item)
{
    free (*item);
    *item = NULL;
}

int
sf_store_gc_tombstones (sf_store_t *self, int64_t before_ms)
{
    if (!self->wtxn || self->wfailed || s_flush_all (self))
        return -1;
    s_gc_t a = { zlistx_new (), before_ms };
    zlistx_set_destructor (a.expired, s_expired_free);
    s_foreach (self->wtxn, self->tombs, NULL, 0, NULL, 0, false, s_gc_one, &a);
    int n = 0;
    for (s_expired_t *e = zlistx_first (a.expired); e; e = zlistx_next (a.expired)) {
        char node [SF_NODE_MAX + 1], name [SF_NAME_MAX + 1];
        sf_val_t key = { e->key.data, e->key.size };
        if (s_split2 (&key, node, SF_NODE_MAX, name, SF_NAME_MAX))
            continue;
        sf_key_t vk;
        s_vkey (&vk, node, e->t.v, name);
        s_del (self, self->byver, &vk);
        if (s_del (self, self->tombs, &e->key) == 0)
            n++;
    }
    zlistx_destroy (&a.expired);
    return n;
}

//  ---------------------------------------------------------------------------
//  Generic primitives over other modules' databases

static MDB_dbi
s_extra (sf_store_t *self, sf_db_t db)
{
    assert (db >= 0 && db < SF_DB_EXTRA_COUNT);
    return self->extra [db];
}

int
sf_store_get (sf_read_t *r, sf_db_t db, const sf_key_t *k, sf_val_t *v)
{
    return s_get (r->txn, s_extra (r->store, db), k, v);
}

int
sf_store_put (sf_store_t *self, sf_db_t db, const sf_key_t *k, const void *data, size_t size)
{
    return s_put (self, s_extra (self, db), k, data, size, 0);
}

int
sf_store_add (sf_store_t *self, sf_db_t db, const sf_key_t *k, const void *data, size_t size)
{
    return s_put (self, s_extra (self, db), k, data, size, MDB_NOOVERWRITE);
}

int
sf_store_del (sf_store_t *self, sf_db_t db, const sf_key_t *k)
{
    return s_del (self, s_extra (self, db), k);
}

int
sf_store_foreach (sf_read_t *r, sf_db_t db, const sf_key_t *prefix, int flags,
                  sf_kv_fn *fn, void *arg)
{
    return s_foreach (r->txn, s_extra (r->store, db), prefix ? prefix->data : NULL,
                      prefix ? prefix->size : 0, NULL, 0, (flags & SF_SCAN_BACKWARDS) != 0, fn, arg);
}

int
sf_store_foreach_from (sf_read_t *r, sf_db_t db, const sf_key_t *prefix,
                       const sf_key_t *from, sf_kv_fn *fn, void *arg)
{
    return s_foreach (r->txn, s_extra (r->store, db), prefix ? prefix->data : NULL,
                      prefix ? prefix->size : 0, from ? from->data : NULL, from ? from->size : 0,
                      false, fn, arg);
}

int
sf_store_foreach_before (sf_read_t *r, sf_db_t db, const sf_key_t *prefix,
                         const sf_key_t *before, sf_kv_fn *fn, void *arg)
{
    if (!before || !before->size)
        return sf_store_foreach (r, db, prefix, SF_SCAN_BACKWARDS, fn, arg);
    return s_foreach (r->txn, s_extra (r->store, db), prefix ? prefix->data : NULL,
                      prefix ? prefix->size : 0, before->data, before->size, true, fn, arg);
}

int
sf_store_count (sf_read_t *r, sf_db_t db, size_t *count)
{
    MDB_stat st;
    if (!r->txn || mdb_stat (r->txn, s_extra (r->store, db), &st))
        return -1;
    *count = st.ms_entries;
    return 0;
}

/*  webhook.c — alert delivery to webhooks: a persistent queue per receiver,
    signed POSTs through libcurl, retries with back-off, dead letters
    (include/sf_webhook.h).

    Threads: the ingest thread calls sf_webhooks_alert, which only appends
    to the inbox (inbox_lock). The delivery thread moves the inbox into the
    queue (its own LMDB environment, through the store's generic primitives:
    this thread is that environment's only writer), then tries the oldest
    due delivery of each receiver, one at a time, in order. The counters are
    atomics, read by the HTTP thread for /metrics.

    Queue entries: key 'q' receiver \0 be64 seq (dead letters 'd' ...),
    value: be64 next attempt (unix ms), be64 attempts, the idempotency key
    (32 hex), the alert key's length (be64) and the key, then the body. The
    key field is "KEY \x1f BASIS \x1f f|r [\x1f R]" (the episode's basis and
    the state, to ask sf_alerts_idem before each attempt; R: replayed on
    request here, delivered here whoever owns it), or KEY alone in entries
    written before.
*/
#include "sf_webhook.h"
#include "sf_alloc.h"
#include "sf_codec.h"
#include "sf_gossip.h"
#include "sf_log.h"
#include "sf_reply.h"
#include "sf_store.h"
#include <curl/curl.h>
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_RECEIVERS_MAX 16
#define S_NAME_MAX 64
#define S_SECRET_MAX 1024

typedef struct {
    char name [S_NAME_MAX + 1];
    char url [1024];
    unsigned char secret [S_SECRET_MAX];
    size_t secret_len;
    CURL *curl;                 //  delivery thread only
    //  Counters: written by the delivery thread, read by /metrics
    atomic_uint_fast64_t queued;
    atomic_uint_fast64_t attempts;
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t failed;
    atomic_uint_fast64_t dead;
    atomic_uint_fast64_t standby_dropped;      //  hard bound passed, never confirmed
    atomic_uint_fast64_t standby_confirmed;    //  dropped on the owner's confirmation
    atomic_uint_fast64_t duplicates;           //  delivered here, and by another controller too
    atomic_uint_fast64_t dead_dropped;         //  dead letters beyond the bound, oldest first
    atomic_uint_fast64_t replayed;             //  dead letters queued again on request
    atomic_uint_fast64_t dead_confirmed;       //  dead letters another controller delivered
    atomic_uint_fast64_t first_attempts;       //  firings' first attempts made with live peers
    atomic_uint_fast64_t first_wait_ms;        //  ... how long they waited for the peers' sync
    atomic_uint_fast64_t first_unsynced;       //  ... made at the bound, some peer not in sync
} s_receiver_t;

//  A request to deliver dead letters again (sf_webhooks_replay)
typedef struct s_replay_t {
    struct s_replay_t *next;
    char key [SF_ALERT_KEY_MAX + 1];    //  an idempotency key or alert key; "" every one
} s_replay_t;

//  A transition waiting in the inbox
typedef struct s_item_t {
    struct s_item_t *next;
    size_t receiver;
    char idem [33];
    char key [SF_ALERT_KEY_MAX + 1];
    char basis [64];
    bool resolved;
    char *body;
} s_item_t;

struct sf_webhooks_t {
    s_receiver_t rx [S_RECEIVERS_MAX];
    size_t nrx;
    sf_webhooks_config_t cfg;
    char controller_id [128];
    char web_url [256];
    sf_store_t *queue;          //  delivery thread only (after start)
    //  What the queue holds in memory beyond its store: the changes a
    //  failed write left (s_flush), key -> s_pend_t, applied by the next
    //  write that works and read over the store by every walk. Written by
    //  the delivery thread; pend_lock guards it (the listings read it from
    //  the HTTP and query threads).
    pthread_mutex_t pend_lock;
    zhashx_t *pending;
    uint64_t pend_walk;         //  walk generation (s_pend_t.seen), under pend_lock
    int64_t flush_due_ms;       //  delivery thread: after a failed write, the next try
    bool unwritable;            //  delivery thread: the last write failed
    int64_t unwritable_since_ms;
    int64_t unwritable_logged_ms;
    atomic_uint_fast64_t write_failures;        //  writes of the queue that failed
    atomic_uint_fast64_t unwritten;             //  changes held in memory (pending)
    uint64_t next_seq;          //  delivery thread only
    pthread_t thread;
    bool started;
    pthread_mutex_t inbox_lock; //  guards inbox, stop
    pthread_cond_t inbox_cond;
    s_item_t *inbox, **inbox_tail;
    s_replay_t *replays;        //  guarded by inbox_lock
    bool stop;
    sf_ratelimit_t rl;          //  delivery thread only
    sf_webhooks_owner_fn *owner_fn;     //  guarded by inbox_lock (set once gossip runs)
    void *owner_arg;
    sf_alerts_t *alerts;        //  the episodes' idempotency keys (guarded by inbox_lock)
    sf_webhooks_peers_fn *peers_fn;     //  the live peers (guarded by inbox_lock)
    void *peers_arg;
    //  When each peer was last in sync with our alert episodes (unix ms;
    //  sf_webhooks_peer_synced), guarded by confirm_lock
    struct {
        char id [SF_WEBHOOKS_PEER_ID_MAX];
        int64_t at_ms;
    } synced [S_RECEIVERS_MAX * 4];
    size_t nsynced;
    //  Delivery confirmations (receiver \x1f idempotency key -> unix ms it
    //  was delivered), this controller's own and its peers' (gossip): a
    //  standby copy goes only when its key is here. Written by the delivery
    //  thread (own deliveries) and the ingest thread (gossip); confirm_lock
    //  guards the table and its digest
    pthread_mutex_t confirm_lock;
    zhashx_t *confirmed;
    uint64_t confirm_digest [SF_ALERTS_SYNC_BUCKETS];   //  XOR of the entries' hashes, per bucket
    atomic_uint_fast64_t confirm_evicted;
    atomic_uint_fast64_t confirm_gen;   //  new confirmations (the dead letters are swept on a change)
};

//  -------------------------------------------------------------------------
//  Bodies and signatures

char *
sf_webhook_body (const sf_alert_event_t *ev, const char *controller_id, const char *web_url)
{
    json_t *o = json_object ();
    json_object_set_new (o, "version", json_integer (1));
    json_object_set_new (o, "idempotency_key", json_string (ev->idempotency_key));
    json_object_set_new (o, "key", json_string (ev->key));
    json_object_set_new (o, "state", json_string (ev->resolved ? "resolved" : "firing"));
    json_object_set_new (o, "rule", json_string (ev->rule));
    json_object_set_new (o, "condition", json_string (sf_alert_cond_name (ev->cond)));
    json_object_set_new (o, "node", json_string (ev->node));
    json_object_set_new (o, "stream", ev->stream [0] ? json_string (ev->stream) : json_null ());
    json_object_set_new (o, "streams", json_integer (ev->streams));
    json_object_set_new (o, "reason", json_string (ev->reason));
    json_object_set_new (o, "since_ms", json_integer (ev->since_ms));
    json_object_set_new (o, "at_ms", json_integer (ev->at_ms));
    json_object_set_new (o, "controller", json_string (controller_id ? controller_id : ""));
    json_t *links = json_object ();
    json_object_set_new (links, "rtsp", ev->rtsp [0] ? json_string (ev->rtsp) : json_null ());
    json_object_set_new (links, "hls", ev->hls [0] ? json_string (ev->hls) : json_null ());
    char *web = sf_alert_web_link (web_url, ev->node, ev->stream);
    json_object_set_new (links, "web", web [0] ? json_string (web) : json_null ());
    free (web);
    json_object_set_new (o, "links", links);
    char *text = json_dumps (o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (o);
    if (!text)
        sf_oom (0, __FILE__, __LINE__);
    return text;
}

void
sf_webhook_sign (const unsigned char *secret, size_t secret_len, const char *timestamp,
                 const char *body, size_t body_len, char hex [65])
{
    crypto_auth_hmacsha256_state st;
    unsigned char mac [crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_init (&st, secret, secret_len);
    crypto_auth_hmacsha256_update (&st, (const unsigned char *) timestamp, strlen (timestamp));
    crypto_auth_hmacsha256_update (&st, (const unsigned char *) ".", 1);
    crypto_auth_hmacsha256_update (&st, (const unsigned char *) body, body_len);
    crypto_auth_hmacsha256_final (&st, mac);
    sodium_bin2hex (hex, 65, mac, sizeof (mac));
}

//  -------------------------------------------------------------------------
//  Receivers

static int
s_read_secret (s_receiver_t *r, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen (path, "rb");
    if (!f) {
        snprintf (err, errlen, "cannot read the secret file %s: %s", path, strerror (errno));
        return -1;
    }
    size_t n = fread (r->secret, 1, sizeof (r->secret), f);
    bool more = fgetc (f) != EOF;
    fclose (f);
    if (more) {
        snprintf (err, errlen, "the secret file %s is longer than %d bytes", path, S_SECRET_MAX);
        return -1;
    }
    while (n && (r->secret [n - 1] == '\n' || r->secret [n - 1] == '\r'))
        n--;
    if (n < 16) {
        snprintf (err, errlen, "the secret in %s is shorter than 16 bytes (make one with: "
                  "head -c 32 /dev/urandom | base64 > %s)", path, path);
        return -1;
    }
    r->secret_len = n;
    return 0;
}

static int
s_parse_receiver (s_receiver_t *r, const char *line, char *err, size_t errlen)
{
    char buf [2048];
    if (strlen (line) >= sizeof (buf)) {
        snprintf (err, errlen, "longer than %zu bytes", sizeof (buf) - 1);
        return -1;
    }
    strcpy (buf, line);
    char *save = NULL;
    char *name = strtok_r (buf, " \t", &save);
    char *url = name ? strtok_r (NULL, " \t", &save) : NULL;
    if (!name || !url) {
        snprintf (err, errlen, "expected 'NAME URL [secret-file=PATH]'");
        return -1;
    }
    if (strlen (name) > S_NAME_MAX || strpbrk (name, ",\"\\=")) {
        snprintf (err, errlen, "the name '%.64s' must be at most %d bytes without , \" \\ =", name, S_NAME_MAX);
        return -1;
    }
    if (strncmp (url, "http://", 7) && strncmp (url, "https://", 8)) {
        snprintf (err, errlen, "the URL '%.100s' is not http:// or https://", url);
        return -1;
    }
    if (strlen (url) >= sizeof (r->url)) {
        snprintf (err, errlen, "the URL is longer than %zu bytes", sizeof (r->url) - 1);
        return -1;
    }
    strcpy (r->name, name);
    strcpy (r->url, url);
    char *kv;
    while ((kv = strtok_r (NULL, " \t", &save))) {
        if (!strncmp (kv, "secret-file=", 12) && kv [12]) {
            if (s_read_secret (r, kv + 12, err, errlen))
                return -1;
        }
        else {
            snprintf (err, errlen, "'%.60s' is not secret-file=PATH", kv);
            return -1;
        }
    }
    return 0;
}

//  -------------------------------------------------------------------------
//  Delivery confirmations: which idempotency keys a receiver answered 2xx
//  for, on any controller. The owner notes its own; gossip carries them to
//  every other controller (sf_webhooks_confirm_pack/apply), where a standby
//  copy of that delivery goes only once its key is here. Kept a day (newest
//  S_CONFIRM_MAX), which bounds how long a standby copy can wait too.

#define S_CONFIRM_MAX 16384

static void
s_free_value (void **item)
{
    free (*item);
    *item = NULL;
}
#define S_CONFIRM_KEEP_MS (24LL * 3600 * 1000)

static uint64_t
s_confirm_hash (const char *ckey)
{
    static const unsigned char zero [crypto_shorthash_KEYBYTES];
    unsigned char h [crypto_shorthash_BYTES];
    crypto_shorthash (h, (const unsigned char *) ckey, strlen (ckey), zero);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h [i];
    return v;
}

//  Notes that receiver rx answered idem at at_ms (the earliest time wins, so
//  every controller keeps the same). Returns true when it was new. Locked.
static bool
s_confirm_locked (sf_webhooks_t *self, const char *rx, const char *idem, int64_t at_ms)
{
    char ck [S_NAME_MAX + 48];
    snprintf (ck, sizeof (ck), "%s\x1f%.32s", rx, idem);
    int64_t *v = zhashx_lookup (self->confirmed, ck);
    if (v) {
        if (at_ms < *v)
            *v = at_ms;
        return false;
    }
    v = sf_xmalloc (sizeof (*v));
    *v = at_ms;
    zhashx_insert (self->confirmed, ck, v);
    atomic_fetch_add (&self->confirm_gen, 1);
    uint64_t h = s_confirm_hash (ck);
    self->confirm_digest [h % SF_ALERTS_SYNC_BUCKETS] ^= h;
    return true;
}

static bool
s_is_confirmed (sf_webhooks_t *self, const char *rx, const char *idem)
{
    char ck [S_NAME_MAX + 48];
    snprintf (ck, sizeof (ck), "%s\x1f%.32s", rx, idem);
    pthread_mutex_lock (&self->confirm_lock);
    bool yes = zhashx_lookup (self->confirmed, ck) != NULL;
    pthread_mutex_unlock (&self->confirm_lock);
    return yes;
}

//  A receiver's give-up marks ride in the same replicated set, under the
//  name "NAME=dead" (a receiver's name never has '='; a peer of an older
//  version keeps them as a receiver it does not have): every (receiver,
//  idempotency key) whose owner made it a dead letter
static void
s_gaveup_name (const char *rx, char *out, size_t size)
{
    snprintf (out, size, "%s=dead", rx);
}

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

//  Drops confirmations older than a day, and the oldest beyond
//  S_CONFIRM_MAX (counted: a standby copy whose confirmation went this way
//  waits for the hard bound). Locked.
static void
s_confirm_evict_locked (sf_webhooks_t *self, int64_t now_ms)
{
    size_t n = zhashx_size (self->confirmed);
    if (!n)
        return;
    int64_t cut = now_ms - S_CONFIRM_KEEP_MS;
    if (n > S_CONFIRM_MAX) {
        int64_t *ats = sf_xmalloc (n * sizeof (*ats));
        size_t k = 0;
        for (int64_t *v = zhashx_first (self->confirmed); v; v = zhashx_next (self->confirmed))
            ats [k++] = *v;
        qsort (ats, k, sizeof (*ats), s_cmp_i64);
        if (ats [k - S_CONFIRM_MAX] > cut)
            cut = ats [k - S_CONFIRM_MAX];
        free (ats);
    }
    zlistx_t *gone = zlistx_new ();
    zlistx_set_destructor (gone, (zlistx_destructor_fn *) zstr_free);
    for (int64_t *v = zhashx_first (self->confirmed); v; v = zhashx_next (self->confirmed))
        if (*v < cut)
            zlistx_add_end (gone, strdup ((const char *) zhashx_cursor (self->confirmed)));
    for (char *ck = zlistx_first (gone); ck; ck = zlistx_next (gone)) {
        uint64_t h = s_confirm_hash (ck);
        self->confirm_digest [h % SF_ALERTS_SYNC_BUCKETS] ^= h;
        zhashx_delete (self->confirmed, ck);
    }
    atomic_fetch_add (&self->confirm_evicted, zlistx_size (gone));
    zlistx_destroy (&gone);
}

void
sf_webhooks_confirm_digest (sf_webhooks_t *self, uint64_t digest [SF_ALERTS_SYNC_BUCKETS])
{
    memset (digest, 0, SF_ALERTS_SYNC_BUCKETS * sizeof (uint64_t));
    if (!self || !self->nrx)
        return;
    pthread_mutex_lock (&self->confirm_lock);
    memcpy (digest, self->confirm_digest, sizeof (self->confirm_digest));
    pthread_mutex_unlock (&self->confirm_lock);
}

void
sf_webhooks_confirm_pack (sf_webhooks_t *self, const uint64_t *theirs, msgpack_packer *pk)
{
    if (!self || !self->nrx) {
        msgpack_pack_array (pk, 0);
        return;
    }
    pthread_mutex_lock (&self->confirm_lock);
    bool want [SF_ALERTS_SYNC_BUCKETS];
    for (size_t b = 0; b < SF_ALERTS_SYNC_BUCKETS; b++)
        want [b] = !theirs || theirs [b] != self->confirm_digest [b];
    size_t n = 0;
    for (int64_t *v = zhashx_first (self->confirmed); v; v = zhashx_next (self->confirmed))
        if (want [s_confirm_hash (zhashx_cursor (self->confirmed)) % SF_ALERTS_SYNC_BUCKETS])
            n++;
    msgpack_pack_array (pk, n);
    for (int64_t *v = zhashx_first (self->confirmed); v; v = zhashx_next (self->confirmed)) {
        const char *ck = zhashx_cursor (self->confirmed);
        if (!want [s_confirm_hash (ck) % SF_ALERTS_SYNC_BUCKETS])
            continue;
        const char *sep = strchr (ck, '\x1f');
        msgpack_pack_array (pk, 3);
        msgpack_pack_str (pk, (size_t) (sep - ck));
        msgpack_pack_str_body (pk, ck, (size_t) (sep - ck));
        sf_pack_str (pk, sep + 1);
        msgpack_pack_int64 (pk, *v);
    }
    pthread_mutex_unlock (&self->confirm_lock);
}

static bool
s_hex32 (const char *s)
{
    if (strlen (s) != 32)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

int
sf_webhooks_confirm_apply (sf_webhooks_t *self, const msgpack_object *list)
{
    if (!self || !self->nrx || !list)
        return 0;
    if (list->type != MSGPACK_OBJECT_ARRAY)
        return 1;
    int bad = 0;
    pthread_mutex_lock (&self->confirm_lock);
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *e = &list->via.array.ptr [i];
        char rx [S_NAME_MAX + 1], idem [40];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 3
        ||  sf_obj_str (&e->via.array.ptr [0], rx, sizeof (rx) - 1) || !rx [0] || strchr (rx, '\x1f')
        ||  sf_obj_str (&e->via.array.ptr [1], idem, sizeof (idem) - 1) || !s_hex32 (idem)
        ||  (e->via.array.ptr [2].type != MSGPACK_OBJECT_POSITIVE_INTEGER)) {
            bad++;
            continue;
        }
        s_confirm_locked (self, rx, idem, (int64_t) e->via.array.ptr [2].via.u64);
    }
    if (zhashx_size (self->confirmed) > S_CONFIRM_MAX)
        s_confirm_evict_locked (self, sf_now_ms ());
    pthread_mutex_unlock (&self->confirm_lock);
    return bad;
}

bool
sf_webhooks_confirmed (sf_webhooks_t *self, const char *receiver, const char *idem)
{
    return self && self->nrx && s_is_confirmed (self, receiver, idem);
}

//  -------------------------------------------------------------------------
//  The queue

typedef struct {
    int64_t next_ms;
    uint64_t attempts;
    int64_t enq_ms;             //  when it was queued (unix ms)
    char idem [33];
    char key [SF_ALERT_KEY_MAX + 1];
    char basis [64];            //  "" in entries written before
    bool resolved;
    bool replayed;              //  queued again on request here: delivered here
    const char *body;
    size_t body_len;
} s_entry_t;

#define S_HEAD 64                //  the fixed part of an entry

static size_t
s_entry_pack (const s_entry_t *e, uint8_t **out)
{
    char kf [SF_ALERT_KEY_MAX + 72];
    if (e->basis [0] || e->replayed)
        snprintf (kf, sizeof (kf), "%s\x1f%s\x1f%c%s", e->key, e->basis, e->resolved ? 'r' : 'f',
                  e->replayed ? "\x1fR" : "");
    else
        snprintf (kf, sizeof (kf), "%s", e->key);
    size_t klen = strlen (kf);
    size_t size = S_HEAD + klen + e->body_len;
    uint8_t *p = sf_xmalloc (size);
    sf_be64_put (p, (uint64_t) e->next_ms);
    sf_be64_put (p + 8, e->attempts);
    sf_be64_put (p + 16, (uint64_t) e->enq_ms);
    memcpy (p + 24, e->idem, 32);
    sf_be64_put (p + 56, klen);
    memcpy (p + S_HEAD, kf, klen);
    memcpy (p + S_HEAD + klen, e->body, e->body_len);
    *out = p;
    return size;
}

//  The entry inside the map (body points into it). 0 or -1 (not an entry).
static int
s_entry_unpack (const sf_val_t *v, s_entry_t *e)
{
    const uint8_t *p = v->data;
    if (v->size < S_HEAD)
        return -1;
    uint64_t klen = sf_be64_get (p + 56);
    if (klen > SF_ALERT_KEY_MAX + 71 || S_HEAD + klen > v->size)
        return -1;
    e->next_ms = (int64_t) sf_be64_get (p);
    e->attempts = sf_be64_get (p + 8);
    e->enq_ms = (int64_t) sf_be64_get (p + 16);
    memcpy (e->idem, p + 24, 32);
    e->idem [32] = 0;
    char kf [SF_ALERT_KEY_MAX + 72];
    memcpy (kf, p + S_HEAD, klen);
    kf [klen] = 0;
    e->basis [0] = 0;
    e->resolved = false;
    e->replayed = false;
    char *sep = strchr (kf, '\x1f');
    if (sep) {
        *sep = 0;
        char *st = strchr (sep + 1, '\x1f');
        if (!st || strlen (sep + 1) - strlen (st) >= sizeof (e->basis) || (st [1] != 'f' && st [1] != 'r')
        ||  (st [2] && strcmp (st + 2, "\x1fR")))
            return -1;
        *st = 0;
        snprintf (e->basis, sizeof (e->basis), "%s", sep + 1);
        e->resolved = st [1] == 'r';
        e->replayed = st [2] != 0;
    }
    if (strlen (kf) > SF_ALERT_KEY_MAX)
        return -1;
    strcpy (e->key, kf);
    e->body = (const char *) p + S_HEAD + klen;
    e->body_len = v->size - S_HEAD - klen;
    return 0;
}

typedef struct {
    uint64_t seq;
    bool found;
    s_entry_t entry;
    char *body;                 //  a copy, outside the transaction
    uint64_t count;
} s_head_t;

//  -------------------------------------------------------------------------
//  Writes of the queue: staged in memory (s_stage), then written in one
//  transaction (s_flush). A write that fails (a full disk: ENOSPC; a full
//  map grows and is tried again at once) keeps every staged change in
//  memory and is tried again about once a second: the delivery thread goes
//  on meanwhile (every walk of the queue reads the staged changes over the
//  store), and the next write that works stores them all. So nothing that
//  happens to a delivery while the disk is full (queued, tried, delivered,
//  given up) is lost or done twice, unless the controller stops before the
//  disk has room again (then logged, with the count).

typedef struct {
    sf_key_t key;
    uint8_t *val;               //  NULL: a delete
    size_t size;
    uint64_t seen;              //  the last walk that met its key in the store
} s_pend_t;

static void
s_pend_free (void **item)
{
    s_pend_t *p = *item;
    if (p) {
        free (p->val);
        free (p);
        *item = NULL;
    }
}

//  The pending table's key: the queue key's bytes in hex
static void
s_pend_name (const void *key, size_t size, char out [2 * SF_KEY_MAX + 1])
{
    static const char hex [] = "0123456789abcdef";
    const uint8_t *b = key;
    for (size_t i = 0; i < size; i++) {
        out [2 * i] = hex [b [i] >> 4];
        out [2 * i + 1] = hex [b [i] & 15];
    }
    out [2 * size] = 0;
}

//  Stages a put of packed (taken over) at k or, packed NULL, its delete
static void
s_stage (sf_webhooks_t *self, const sf_key_t *k, uint8_t *packed, size_t size)
{
    char name [2 * SF_KEY_MAX + 1];
    s_pend_name (k->data, k->size, name);
    s_pend_t *p = sf_xcalloc (1, sizeof (*p));
    p->key = *k;
    p->val = packed;
    p->size = size;
    pthread_mutex_lock (&self->pend_lock);
    zhashx_update (self->pending, name, p);
    atomic_store (&self->unwritten, zhashx_size (self->pending));
    pthread_mutex_unlock (&self->pend_lock);
}

//  The staged change of a key, or NULL. Under pend_lock.
static s_pend_t *
s_pend_find_locked (sf_webhooks_t *self, const void *key, size_t size)
{
    if (!zhashx_size (self->pending) || size > SF_KEY_MAX)
        return NULL;
    char name [2 * SF_KEY_MAX + 1];
    s_pend_name (key, size, name);
    return zhashx_lookup (self->pending, name);
}

//  Writes the staged changes in one transaction: 0 written (or nothing to
//  write), -1 kept in memory. While writes fail, one is tried at most once a
//  second (force: now, as at a stop). A failure is counted
//  (streamfleet_webhook_queue_write_failures_total) and logged with the
//  queue's directory and what to do, at once and then once a minute; the
//  first write that works again says so.
static int
s_flush (sf_webhooks_t *self, bool force)
{
    pthread_mutex_lock (&self->pend_lock);
    size_t n = zhashx_size (self->pending);
    pthread_mutex_unlock (&self->pend_lock);
    if (!n)
        return 0;
    int64_t now = sf_mono_ms ();
    if (!force && self->unwritable && now < self->flush_due_ms)
        return -1;
    sf_store_maybe_grow (self->queue);
    int rc = -1;
    //  A full map has grown (SF_STORE_RETRY): written again at once
    for (int round = 0; round < 2; round++) {
        if (sf_store_write_begin (self->queue)) {
            rc = -1;
            break;
        }
        //  Lock order: the store's (a transaction) before pend_lock, as the
        //  readers take them; none held while the commit may grow the map.
        //  Only this thread changes the table, so it is the same after.
        pthread_mutex_lock (&self->pend_lock);
        int wrc = 0;
        for (s_pend_t *p = zhashx_first (self->pending); p && wrc >= 0; p = zhashx_next (self->pending))
            wrc = p->val ? sf_store_put (self->queue, SF_DB_WEBHOOKS, &p->key, p->val, p->size)
                         : sf_store_del (self->queue, SF_DB_WEBHOOKS, &p->key);
        pthread_mutex_unlock (&self->pend_lock);
        //  After a failed write the commit aborts: stored whole or not at all
        rc = sf_store_commit (self->queue);
        if (rc == 0) {
            pthread_mutex_lock (&self->pend_lock);
            zhashx_purge (self->pending);
            atomic_store (&self->unwritten, 0);
            pthread_mutex_unlock (&self->pend_lock);
        }
        if (rc != SF_STORE_RETRY)
            break;
    }
    if (rc == 0) {
        if (self->unwritable) {
            sf_info ("webhooks: the queue in %s takes writes again after %llds: %zu change%s "
                     "held in memory written", self->cfg.queue_dir,
                     (long long) ((now - self->unwritable_since_ms) / 1000), n, n == 1 ? "" : "s");
            self->unwritable = false;
        }
        return 0;
    }
    atomic_fetch_add (&self->write_failures, 1);
    self->flush_due_ms = now + 1000;
    const char *what = rc == SF_STORE_NOSPACE ? "the disk holding it is full (ENOSPC)"
                     : rc == SF_STORE_RETRY ? "its map is full (MDB_MAP_FULL) after growing"
                     : "a write failed";
    if (!self->unwritable) {
        self->unwritable = true;
        self->unwritable_since_ms = now;
        self->unwritable_logged_ms = now;
        sf_error ("webhooks: the queue in %s cannot be written: %s; %zu change%s held in memory "
                  "(deliveries go on; they are lost only if the controller stops first). Free "
                  "space on that file system (or move --data-dir to a larger one); the queue is "
                  "written by itself once it has room", self->cfg.queue_dir, what, n, n == 1 ? "" : "s");
    }
    else if (now - self->unwritable_logged_ms >= 60000) {
        self->unwritable_logged_ms = now;
        sf_error ("webhooks: the queue in %s still cannot be written (%s) after %llds: %zu "
                  "change%s held in memory; free space there", self->cfg.queue_dir, what,
                  (long long) ((now - self->unwritable_since_ms) / 1000), n, n == 1 ? "" : "s");
    }
    return -1;
}

//  The oldest entries of a receiver's queue (or its dead letters), copied
//  out of the transaction, with the staged changes over them
#define S_SCAN 64
typedef struct {
    s_head_t e [S_SCAN];
    size_t n;
    sf_webhooks_t *self;        //  whose staged changes to read (under pend_lock)
    uint64_t walk;
} s_scan_t;

static int
s_scan_add (s_scan_t *sc, const sf_val_t *key, const sf_val_t *val)
{
    s_head_t *h = &sc->e [sc->n];
    if (key->size < 8 || s_entry_unpack (val, &h->entry))
        return 0;
    h->seq = sf_be64_get ((const uint8_t *) key->data + key->size - 8);
    h->body = sf_xstrndup (h->entry.body, h->entry.body_len);
    h->entry.body = h->body;
    h->found = true;
    return ++sc->n == S_SCAN;
}

static int
s_scan_fn (const sf_val_t *key, const sf_val_t *val, void *arg)
{
    s_scan_t *sc = arg;
    s_pend_t *p = s_pend_find_locked (sc->self, key->data, key->size);
    if (!p)
        return s_scan_add (sc, key, val);
    p->seen = sc->walk;
    if (!p->val)
        return 0;               //  deleted, not written yet
    sf_val_t pv = { p->val, p->size };
    return s_scan_add (sc, key, &pv);
}

static int
s_head_cmp (const void *a, const void *b)
{
    uint64_t x = ((const s_head_t *) a)->seq, y = ((const s_head_t *) b)->seq;
    return x < y ? -1 : x > y;
}

//  The oldest entries of kind ('q' queued, 'd' dead letters) of receiver
//  rx as the queue holds them: the store's with the staged changes over
//  them (a staged delete hides an entry, a staged put replaces or adds one)
static void
s_scan (sf_webhooks_t *self, char kind, const char *rx, s_scan_t *sc)
{
    sf_key_t prefix;
    sf_key_make (&prefix, "Bs", kind, rx);
    sc->self = self;
    sf_read_t rd;
    bool reading = sf_store_read_begin (self->queue, &rd) == 0;
    pthread_mutex_lock (&self->pend_lock);     //  after the transaction (s_flush)
    sc->walk = ++self->pend_walk;
    if (reading)
        sf_store_foreach (&rd, SF_DB_WEBHOOKS, &prefix, 0, s_scan_fn, sc);
    for (s_pend_t *p = zhashx_first (self->pending); p && sc->n < S_SCAN; p = zhashx_next (self->pending)) {
        if (!p->val || p->seen == sc->walk || p->key.size != prefix.size + 8
        ||  memcmp (p->key.data, prefix.data, prefix.size))
            continue;
        sf_val_t k = { p->key.data, p->key.size }, v = { p->val, p->size };
        s_scan_add (sc, &k, &v);
    }
    pthread_mutex_unlock (&self->pend_lock);
    if (reading)
        sf_store_read_end (&rd);
    qsort (sc->e, sc->n, sizeof (sc->e [0]), s_head_cmp);
}

static int
s_count_fn (const sf_val_t *key, const sf_val_t *val, void *arg)
{
    s_head_t *h = arg;
    h->count++;
    if (key->size >= 8) {
        uint64_t seq = sf_be64_get ((const uint8_t *) key->data + key->size - 8);
        if (seq > h->seq)
            h->seq = seq;
    }
    return 0;
}

//  Moves the inbox into the queue: staged, then written (s_flush). What a
//  full disk keeps from the store stays staged, and is delivered meanwhile.
static void
s_persist (sf_webhooks_t *self, s_item_t **items)
{
    int64_t now = sf_now_ms ();
    while (*items) {
        s_item_t *it = *items;
        *items = it->next;
        s_entry_t e = { .next_ms = now, .attempts = 0, .enq_ms = now, .body = it->body,
                        .body_len = strlen (it->body) };
        memcpy (e.idem, it->idem, sizeof (e.idem));
        snprintf (e.key, sizeof (e.key), "%s", it->key);
        snprintf (e.basis, sizeof (e.basis), "%s", it->basis);
        e.resolved = it->resolved;
        uint8_t *packed;
        size_t size = s_entry_pack (&e, &packed);
        sf_key_t k;
        sf_key_make (&k, "BsL", 'q', self->rx [it->receiver].name, ++self->next_seq);
        s_stage (self, &k, packed, size);
        atomic_fetch_add (&self->rx [it->receiver].queued, 1);
        free (it->body);
        free (it);
    }
    s_flush (self, false);
}

static size_t
s_discard (void *data, size_t size, size_t n, void *arg)
{
    return size * n;
}

//  One attempt: 0 delivered (2xx), -1 not (why says so)
static int
s_post (sf_webhooks_t *self, s_receiver_t *r, const s_entry_t *e, char *why, size_t whylen)
{
    if (!r->curl) {
        r->curl = curl_easy_init ();
        if (!r->curl) {
            snprintf (why, whylen, "libcurl could not start");
            return -1;
        }
    }
    CURL *c = r->curl;
    curl_easy_reset (c);
    struct curl_slist *h = NULL;
    char line [256];
    char ts [32];
    snprintf (ts, sizeof (ts), "%" PRId64, sf_now_ms () / 1000);
    h = curl_slist_append (h, "Content-Type: application/json");
    h = curl_slist_append (h, "Expect:");
    snprintf (line, sizeof (line), "Idempotency-Key: %s", e->idem);
    h = curl_slist_append (h, line);
    snprintf (line, sizeof (line), "X-Streamfleet-Attempt: %" PRIu64, e->attempts + 1);
    h = curl_slist_append (h, line);
    if (r->secret_len) {
        char hex [65];
        sf_webhook_sign (r->secret, r->secret_len, ts, e->body, e->body_len, hex);
        snprintf (line, sizeof (line), "X-Streamfleet-Timestamp: %s", ts);
        h = curl_slist_append (h, line);
        snprintf (line, sizeof (line), "X-Streamfleet-Signature: sha256=%s", hex);
        h = curl_slist_append (h, line);
    }
    curl_easy_setopt (c, CURLOPT_URL, r->url);
    curl_easy_setopt (c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt (c, CURLOPT_POSTFIELDS, e->body);
    curl_easy_setopt (c, CURLOPT_POSTFIELDSIZE, (long) e->body_len);
    curl_easy_setopt (c, CURLOPT_TIMEOUT_MS, (long) self->cfg.timeout_ms);
    curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT_MS, (long) self->cfg.timeout_ms);
    curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt (c, CURLOPT_USERAGENT, "streamfleet-controller");
    CURLcode rc = curl_easy_perform (c);
    long status = 0;
    curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (h);
    atomic_fetch_add (&r->attempts, 1);
    if (rc != CURLE_OK) {
        snprintf (why, whylen, "%s", curl_easy_strerror (rc));
        return -1;
    }
    if (status < 200 || status > 299) {
        snprintf (why, whylen, "answered HTTP %ld", status);
        return -1;
    }
    return 0;
}

static void s_dead_bound (sf_webhooks_t *self, s_receiver_t *r);

void
sf_webhooks_peer_synced (sf_webhooks_t *self, const char *id, int64_t at_ms)
{
    if (!self || !self->nrx || !id || !id [0] || strlen (id) >= SF_WEBHOOKS_PEER_ID_MAX)
        return;
    const size_t max = sizeof (self->synced) / sizeof (self->synced [0]);
    pthread_mutex_lock (&self->confirm_lock);
    size_t k = 0, oldest = 0;
    for (; k < self->nsynced && strcmp (self->synced [k].id, id); k++)
        if (self->synced [k].at_ms < self->synced [oldest].at_ms)
            oldest = k;
    if (k == self->nsynced) {
        //  A new peer; beyond the table, the one longest out of sync goes
        k = self->nsynced < max ? self->nsynced++ : oldest;
        snprintf (self->synced [k].id, sizeof (self->synced [k].id), "%s", id);
        self->synced [k].at_ms = 0;
    }
    if (at_ms > self->synced [k].at_ms)
        self->synced [k].at_ms = at_ms;
    pthread_mutex_unlock (&self->confirm_lock);
}

//  Whether a firing's first attempt waits (issue 17): until every live peer
//  was in sync with our episodes after it was queued, so that the key it
//  goes by (s_keys_of) is the one the cluster agreed on, also when the
//  other controllers judged the firing from other record versions and
//  their episodes had not arrived yet; at most first_wait_max_ms (then it
//  goes anyway: an alert is never held indefinitely). Alone: no wait.
//  Returns 0 to go now (*peers: whether it had live peers, *unsynced:
//  went at the bound), or when to look again.
static int64_t
s_first_wait (sf_webhooks_t *self, const s_entry_t *e, int64_t now, sf_webhooks_peers_fn *fn,
              void *arg, bool *peers, bool *unsynced)
{
    *peers = *unsynced = false;
    if (!fn || self->cfg.first_wait_max_ms <= 0 || e->attempts || e->replayed || e->resolved
    ||  !e->basis [0])
        return 0;
    char ids [16][SF_WEBHOOKS_PEER_ID_MAX];
    size_t n = fn (ids, 16, arg);
    if (!n)
        return 0;
    *peers = true;
    bool all = true;
    pthread_mutex_lock (&self->confirm_lock);
    for (size_t i = 0; i < n && all; i++) {
        bool ok = false;
        for (size_t k = 0; k < self->nsynced && !ok; k++)
            ok = !strcmp (self->synced [k].id, ids [i]) && self->synced [k].at_ms >= e->enq_ms;
        all = ok;
    }
    pthread_mutex_unlock (&self->confirm_lock);
    if (all)
        return 0;
    int64_t bound = e->enq_ms + self->cfg.first_wait_max_ms;
    if (now >= bound) {
        *unsynced = true;
        return 0;
    }
    return now + 20 < bound ? now + 20 : bound;
}

//  The idempotency keys a delivery goes by now: its episode's as the
//  cluster knows it (sf_alerts_idem), [0] the one to send, then the other
//  controllers' for the same firing, then the one it was queued with. An
//  entry without a basis (queued by an older version) goes by its own.
#define S_KEYS_MAX 8
static size_t
s_keys_of (sf_alerts_t *alerts, const s_entry_t *e, char (*idem) [33], int64_t *since_ms)
{
    size_t n = 0;
    *since_ms = 0;
    if (alerts && e->basis [0])
        n = sf_alerts_idem (alerts, e->key, e->basis, e->resolved, idem, S_KEYS_MAX - 1, since_ms);
    for (size_t k = 0; k < n; k++)
        if (!strcmp (idem [k], e->idem))
            return n;
    memcpy (idem [n++], e->idem, 33);
    return n;
}

static bool
s_any_confirmed (sf_webhooks_t *self, const char *rx, char (*idem) [33], size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (s_is_confirmed (self, rx, idem [k]))
            return true;
    return false;
}

//  The body with the idempotency key (and since) of the episode as the
//  cluster knows it now; NULL when it is not a JSON object (left as it is)
static char *
s_body_rekey (const char *body, size_t len, const char *idem, int64_t since_ms)
{
    json_error_t err;
    json_t *o = json_loadb (body, len, 0, &err);
    if (!json_is_object (o)) {
        json_decref (o);
        return NULL;
    }
    json_object_set_new (o, "idempotency_key", json_string (idem));
    if (since_ms > 0)
        json_object_set_new (o, "since_ms", json_integer (since_ms));
    char *text = json_dumps (o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref (o);
    return text;
}

//  Tries the oldest delivery of receiver i that this controller owns, when
//  it is due; deliveries another controller owns wait behind it in the
//  queue (they are this controller's standby copies) until their owner
//  confirms it delivered them (gossip: the confirmations), or ownership
//  moves here (the owner died) and this controller sends them. A copy never
//  confirmed goes after the hard bound (standby_max_ms, counted and logged).
//  A delivery this controller owns that another controller already
//  delivered (ownership moved meanwhile) goes the same way, unsent. Returns
//  the time (unix ms) the receiver is next due, or 0 when its queue is empty.
static int64_t
s_deliver_one (sf_webhooks_t *self, size_t i, int64_t now)
{
    s_receiver_t *r = &self->rx [i];
    s_scan_t *sc = sf_xcalloc (1, sizeof (*sc));
    s_scan (self, 'q', r->name, sc);
    pthread_mutex_lock (&self->inbox_lock);
    sf_webhooks_owner_fn *owner_fn = self->owner_fn;
    void *owner_arg = self->owner_arg;
    sf_alerts_t *alerts = self->alerts;
    sf_webhooks_peers_fn *peers_fn = self->peers_fn;
    void *peers_arg = self->peers_arg;
    pthread_mutex_unlock (&self->inbox_lock);
    s_head_t *pick = NULL;
    bool pick_peers = false, pick_unsynced = false;
    char pick_idem [S_KEYS_MAX][33];
    int64_t pick_since = 0;
    int64_t wake = 0;
    size_t confirmed = 0, expired = 0, given_up = 0;
    char gaveup [S_NAME_MAX + 8];
    s_gaveup_name (r->name, gaveup, sizeof (gaveup));
    for (size_t k = 0; k < sc->n; k++) {
        s_head_t *h = &sc->e [k];
        bool gone = false, hard = false, dead = false;
        char idem [S_KEYS_MAX][33];
        int64_t since = 0;
        size_t nidem = s_keys_of (alerts, &h->entry, idem, &since);
        if (s_any_confirmed (self, r->name, idem, nidem))
            gone = true;        //  delivered (by its owner, or by us before)
        else if (!h->entry.replayed && s_any_confirmed (self, gaveup, idem, nidem))
            gone = dead = true; //  its owner gave up on it: a dead letter here too
        else if (!owner_fn || h->entry.replayed || owner_fn (h->entry.key, owner_arg)) {
            int64_t held = h->entry.next_ms <= now
                         ? s_first_wait (self, &h->entry, now, peers_fn, peers_arg, &pick_peers, &pick_unsynced)
                         : 0;
            if (held)
                wake = held;
            else if (h->entry.next_ms <= now) {
                pick = h;
                memcpy (pick_idem [0], idem [0], 33);
                pick_since = since;
            }
            else
                wake = h->entry.next_ms;
            break;              //  this controller's own, in order
        }
        else if (now - h->entry.enq_ms >= self->cfg.standby_max_ms)
            gone = hard = true;
        else
            wake = now + 500;   //  asked again: confirmed yet? is its owner still alive?
        if (!gone)
            continue;
        sf_key_t k2;
        sf_key_make (&k2, "BsL", 'q', r->name, h->seq);
        s_stage (self, &k2, NULL, 0);
        if (dead) {
            //  Kept under the key the owner tried (the episode's), so that
            //  a replay anywhere, confirmed, clears it here too
            char *body = strcmp (idem [0], h->entry.idem)
                       ? s_body_rekey (h->body, h->entry.body_len, idem [0], since) : NULL;
            if (body) {
                h->entry.body = body;
                h->entry.body_len = strlen (body);
                memcpy (h->entry.idem, idem [0], 33);
            }
            uint8_t *packed;
            size_t size = s_entry_pack (&h->entry, &packed);
            sf_key_t dk;
            sf_key_make (&dk, "BsL", 'd', r->name, h->seq);
            s_stage (self, &dk, packed, size);
            free (body);
            given_up++;
            sf_log_limited (&self->rl, SF_LOG_WARN, "webhook %s: %s (%s): its owner gave up on it; a "
                            "dead letter here too, not sent (streamfleet alerts replay KEY on any "
                            "controller delivers it from there)", r->name, h->entry.key, h->entry.idem);
        }
        else if (hard) {
            expired++;
            sf_log_limited (&self->rl, SF_LOG_WARN, "webhook %s: dropped the standby copy of %s (%s) "
                            "after %" PRId64 " ms without its owner's confirmation (--webhook-standby-max-ms)",
                            r->name, h->entry.key, h->entry.idem, now - h->entry.enq_ms);
        }
        else
            confirmed++;
    }
    if (expired || confirmed || given_up) {
        atomic_fetch_sub (&r->queued, expired + confirmed + given_up);
        atomic_fetch_add (&r->dead, given_up);
        if (given_up)
            s_dead_bound (self, r);
        atomic_fetch_add (&r->standby_dropped, expired);
        atomic_fetch_add (&r->standby_confirmed, confirmed);
        if (confirmed)
            sf_debug ("webhook %s: %zu standby cop%s confirmed delivered", r->name, confirmed,
                      confirmed == 1 ? "y" : "ies");
        s_flush (self, false);
    }
    if (!pick) {
        for (size_t k = 0; k < sc->n; k++)
            free (sc->e [k].body);
        bool more = sc->n == S_SCAN;
        free (sc);
        return wake ? wake : more ? now : 0;
    }
    s_head_t head = *pick;
    pick->body = NULL;
    for (size_t k = 0; k < sc->n; k++)
        free (sc->e [k].body);
    free (sc);
    //  Sent under its episode's key as the cluster knows it now, whichever
    //  controller queued it from whichever record version
    if (strcmp (pick_idem [0], head.entry.idem)) {
        char *body = s_body_rekey (head.body, head.entry.body_len, pick_idem [0], pick_since);
        if (body) {
            sf_debug ("webhook %s: %s goes by its episode's key %s (queued as %s)", r->name,
                      head.entry.key, pick_idem [0], head.entry.idem);
            free (head.body);
            head.body = body;
            head.entry.body = body;
            head.entry.body_len = strlen (body);
            memcpy (head.entry.idem, pick_idem [0], 33);
        }
    }
    if (pick_peers) {
        int64_t waited = now - head.entry.enq_ms;
        if (waited > self->cfg.first_wait_max_ms)
            waited = self->cfg.first_wait_max_ms;  //  queued before a restart
        atomic_fetch_add (&r->first_attempts, 1);
        atomic_fetch_add (&r->first_wait_ms, (uint64_t) (waited > 0 ? waited : 0));
        if (pick_unsynced) {
            atomic_fetch_add (&r->first_unsynced, 1);
            sf_log_limited (&self->rl, SF_LOG_WARN, "webhook %s: %s goes after %" PRId64 " ms though "
                            "a peer was not in sync with the alert episodes yet (its key may not "
                            "be the one the cluster agrees on)", r->name, head.entry.key, waited);
        }
    }
    char why [256] = "";
    int ok = s_post (self, r, &head.entry, why, sizeof (why));
    sf_key_t k;
    sf_key_make (&k, "BsL", 'q', r->name, head.seq);
    int64_t next = now;
    if (ok == 0) {
        s_stage (self, &k, NULL, 0);
        atomic_fetch_add (&r->delivered, 1);
        atomic_fetch_sub (&r->queued, 1);
        //  Confirmed for every controller (gossip); one that was here
        //  already means another controller delivered it too
        pthread_mutex_lock (&self->confirm_lock);
        if (!s_confirm_locked (self, r->name, head.entry.idem, now))
            atomic_fetch_add (&r->duplicates, 1);
        pthread_mutex_unlock (&self->confirm_lock);
        sf_debug ("webhook %s: delivered %s (%s)", r->name, head.entry.key, head.entry.idem);
    }
    else {
        atomic_fetch_add (&r->failed, 1);
        head.entry.attempts++;
        uint8_t *packed;
        if ((int64_t) head.entry.attempts > self->cfg.retries) {
            //  A dead letter: kept for the operator, no longer tried
            sf_key_t dk;
            sf_key_make (&dk, "BsL", 'd', r->name, head.seq);
            size_t size = s_entry_pack (&head.entry, &packed);
            s_stage (self, &dk, packed, size);
            s_stage (self, &k, NULL, 0);
            atomic_fetch_add (&r->dead, 1);
            atomic_fetch_sub (&r->queued, 1);
            //  For every controller (gossip): their copies of it become
            //  dead letters too, not sent
            char gaveup [S_NAME_MAX + 8];
            s_gaveup_name (r->name, gaveup, sizeof (gaveup));
            pthread_mutex_lock (&self->confirm_lock);
            s_confirm_locked (self, gaveup, head.entry.idem, now);
            pthread_mutex_unlock (&self->confirm_lock);
            sf_warn ("webhook %s: gave up on %s after %" PRIu64 " attempts (%s): a dead letter "
                     "(streamfleet alerts dead-letters; streamfleet alerts replay KEY)",
                     r->name, head.entry.key, head.entry.attempts, why);
            s_dead_bound (self, r);
        }
        else {
            int64_t wait = self->cfg.backoff_ms;
            for (uint64_t a = 1; a < head.entry.attempts && wait < self->cfg.backoff_max_ms; a++)
                wait *= 2;
            if (wait > self->cfg.backoff_max_ms)
                wait = self->cfg.backoff_max_ms;
            head.entry.next_ms = now + wait;
            next = head.entry.next_ms;
            size_t size = s_entry_pack (&head.entry, &packed);
            s_stage (self, &k, packed, size);
            sf_log_limited (&self->rl, SF_LOG_WARN, "webhook %s: %s for %s (attempt %" PRIu64
                            "), next in %" PRId64 " ms", r->name, why, head.entry.key,
                            head.entry.attempts, wait);
        }
    }
    s_flush (self, false);
    free (head.body);
    return next;
}

//  Keeps at most dead_max dead letters per receiver: the oldest beyond go,
//  counted (streamfleet_webhook_dead_letters_dropped_total) and logged
static void
s_dead_bound (sf_webhooks_t *self, s_receiver_t *r)
{
    uint64_t dead = atomic_load (&r->dead);
    if (self->cfg.dead_max <= 0 || dead <= (uint64_t) self->cfg.dead_max)
        return;
    size_t over = (size_t) (dead - (uint64_t) self->cfg.dead_max);
    s_scan_t *sc = sf_xcalloc (1, sizeof (*sc));
    s_scan (self, 'd', r->name, sc);
    size_t n = sc->n < over ? sc->n : over;
    if (n) {
        for (size_t k = 0; k < n; k++) {
            sf_key_t dk;
            sf_key_make (&dk, "BsL", 'd', r->name, sc->e [k].seq);
            s_stage (self, &dk, NULL, 0);
        }
        atomic_fetch_sub (&r->dead, n);
        atomic_fetch_add (&r->dead_dropped, n);
        sf_log_limited (&self->rl, SF_LOG_WARN, "webhook %s: more than %" PRId64 " dead letters: "
                        "dropped the oldest %zu (%s first)", r->name, self->cfg.dead_max, n,
                        sc->e [0].entry.key);
        s_flush (self, false);
    }
    for (size_t k = 0; k < sc->n; k++)
        free (sc->e [k].body);
    free (sc);
}

//  Whether dead letter e matches a replay's key ("" every one)
static bool
s_replay_matches (const char *key, const s_entry_t *e)
{
    return !key [0] || !strcmp (key, e->idem) || !strcmp (key, e->key);
}

//  One walk over a receiver's dead letters, oldest first, for every reader
//  (list, count, replay, sweep): each entry that unpacks and matches match
//  (NULL: every one) goes to fn, with its key and value
typedef int (s_dead_fn) (const sf_val_t *key, const sf_val_t *val, const s_entry_t *e, void *arg);
typedef struct {
    const char *match;
    s_dead_fn *fn;
    void *arg;
    sf_webhooks_t *self;
    uint64_t walk;
} s_dead_walk_t;

static int
s_dead_check (const sf_val_t *key, const sf_val_t *val, s_dead_walk_t *w)
{
    s_entry_t e;
    if (key->size < 8 || key->size > SF_KEY_MAX || s_entry_unpack (val, &e)
    ||  (w->match && !s_replay_matches (w->match, &e)))
        return 0;
    return w->fn (key, val, &e, w->arg);
}

//  The store's entry, or the change staged over it (s_stage)
static int
s_dead_visit (const sf_val_t *key, const sf_val_t *val, void *arg)
{
    s_dead_walk_t *w = arg;
    s_pend_t *p = s_pend_find_locked (w->self, key->data, key->size);
    if (!p)
        return s_dead_check (key, val, w);
    p->seen = w->walk;
    if (!p->val)
        return 0;
    sf_val_t pv = { p->val, p->size };
    return s_dead_check (key, &pv, w);
}

//  The dead letters as the queue holds them: the store's with the staged
//  changes over them, then the staged ones the store does not hold yet
static void
s_dead_foreach (sf_webhooks_t *self, sf_read_t *rd, const char *rx, const char *match,
                s_dead_fn *fn, void *arg)
{
    sf_key_t prefix;
    sf_key_make (&prefix, "Bs", 'd', rx);
    pthread_mutex_lock (&self->pend_lock);
    s_dead_walk_t w = { match, fn, arg, self, ++self->pend_walk };
    int stop = 0;
    sf_store_foreach (rd, SF_DB_WEBHOOKS, &prefix, 0, s_dead_visit, &w);
    for (s_pend_t *p = zhashx_first (self->pending); p && !stop; p = zhashx_next (self->pending)) {
        if (!p->val || p->seen == w.walk || p->key.size != prefix.size + 8
        ||  memcmp (p->key.data, prefix.data, prefix.size))
            continue;
        sf_val_t k = { p->key.data, p->key.size }, v = { p->val, p->size };
        stop = s_dead_check (&k, &v, &w);
    }
    pthread_mutex_unlock (&self->pend_lock);
}

//  Dead letters copied out of the read transaction, to change them in a
//  write one: all that the walk gives (replay), or those confirmed for rx
//  (sweep, when self is set)
typedef struct {
    sf_webhooks_t *self;
    const char *rx;
    sf_key_t *keys;
    uint8_t **vals;
    size_t *sizes;
    size_t n, cap;
} s_collect_t;

static int
s_collect_dead (const sf_val_t *key, const sf_val_t *val, const s_entry_t *e, void *arg)
{
    s_collect_t *c = arg;
    if (c->self && !s_is_confirmed (c->self, c->rx, e->idem))
        return 0;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 16;
        c->keys = sf_xrealloc (c->keys, c->cap * sizeof (*c->keys));
        c->vals = sf_xrealloc (c->vals, c->cap * sizeof (*c->vals));
        c->sizes = sf_xrealloc (c->sizes, c->cap * sizeof (*c->sizes));
    }
    c->keys [c->n].size = key->size;
    memcpy (c->keys [c->n].data, key->data, key->size);
    c->vals [c->n] = sf_xmalloc (val->size);
    memcpy (c->vals [c->n], val->data, val->size);
    c->sizes [c->n] = val->size;
    c->n++;
    return 0;
}

static void
s_collect_free (s_collect_t *c)
{
    for (size_t k = 0; k < c->n; k++)
        free (c->vals [k]);
    free (c->keys);
    free (c->vals);
    free (c->sizes);
}

//  Moves the dead letters a replay names back into their queues, in their
//  old places (their seq), with their attempts from 0, due now. The
//  delivery thread only (it is the queue's one writer).
static void
s_replay (sf_webhooks_t *self, const char *key)
{
    int64_t now = sf_now_ms ();
    for (size_t i = 0; i < self->nrx; i++) {
        s_receiver_t *r = &self->rx [i];
        s_collect_t c = { 0 };
        sf_read_t rd;
        if (sf_store_read_begin (self->queue, &rd))
            continue;
        s_dead_foreach (self, &rd, r->name, key, s_collect_dead, &c);
        sf_store_read_end (&rd);
        if (c.n) {
            for (size_t k = 0; k < c.n; k++) {
                sf_val_t v = { c.vals [k], c.sizes [k] };
                s_entry_t e;
                if (s_entry_unpack (&v, &e))
                    continue;
                e.attempts = 0;
                e.next_ms = now;
                e.replayed = true;      //  delivered from here, whoever owns it
                uint8_t *packed;
                size_t size = s_entry_pack (&e, &packed);
                sf_key_t qk = c.keys [k];
                qk.data [0] = 'q';
                s_stage (self, &qk, packed, size);
                s_stage (self, &c.keys [k], NULL, 0);
            }
            atomic_fetch_sub (&r->dead, c.n);
            atomic_fetch_add (&r->queued, c.n);
            atomic_fetch_add (&r->replayed, c.n);
            sf_info ("webhook %s: %zu dead letter%s queued again (replay %s)", r->name, c.n,
                     c.n == 1 ? "" : "s", key [0] ? key : "--all");
            s_flush (self, false);
        }
        s_collect_free (&c);
    }
}

//  Drops the dead letters another controller delivered since (a replay
//  there, confirmed by gossip), counted. The delivery thread, when new
//  confirmations came.
static void
s_dead_sweep (sf_webhooks_t *self)
{
    for (size_t i = 0; i < self->nrx; i++) {
        s_receiver_t *r = &self->rx [i];
        if (!atomic_load (&r->dead))
            continue;
        s_collect_t sw = { .self = self, .rx = r->name };
        sf_read_t rd;
        if (sf_store_read_begin (self->queue, &rd))
            continue;
        s_dead_foreach (self, &rd, r->name, NULL, s_collect_dead, &sw);
        sf_store_read_end (&rd);
        if (sw.n) {
            for (size_t k = 0; k < sw.n; k++)
                s_stage (self, &sw.keys [k], NULL, 0);
            atomic_fetch_sub (&r->dead, sw.n);
            atomic_fetch_add (&r->dead_confirmed, sw.n);
            sf_info ("webhook %s: %zu dead letter%s delivered by another controller (a replay "
                     "there): dropped here", r->name, sw.n, sw.n == 1 ? "" : "s");
            s_flush (self, false);
        }
        s_collect_free (&sw);
    }
}

static void *
s_thread (void *arg)
{
    //  Named for top -H and perf (the main thread keeps the process's name)
    pthread_setname_np (pthread_self (), "sf-webhooks");
    sf_webhooks_t *self = arg;
    int64_t wait_ms = 0;
    int64_t last_evict_ms = 0;
    int64_t last_sweep_ms = 0;
    uint64_t swept_gen = 0;
    while (true) {
        pthread_mutex_lock (&self->inbox_lock);
        if (!self->inbox && !self->replays && !self->stop && wait_ms > 0) {
            struct timespec ts;
            clock_gettime (CLOCK_REALTIME, &ts);
            int64_t ns = (int64_t) ts.tv_nsec + (wait_ms % 1000) * 1000000;
            ts.tv_sec += wait_ms / 1000 + ns / 1000000000;
            ts.tv_nsec = ns % 1000000000;
            pthread_cond_timedwait (&self->inbox_cond, &self->inbox_lock, &ts);
        }
        bool stop = self->stop;
        s_item_t *items = self->inbox;
        self->inbox = NULL;
        self->inbox_tail = &self->inbox;
        s_replay_t *replays = self->replays;
        self->replays = NULL;
        pthread_mutex_unlock (&self->inbox_lock);
        while (replays) {
            s_replay_t *rp = replays;
            replays = rp->next;
            if (!stop)
                s_replay (self, rp->key);
            free (rp);
        }
        if (stop) {
            //  Whatever is still in memory goes to the queue first
            s_persist (self, &items);
            if (s_flush (self, true))
                sf_error ("webhooks: stopping with %" PRIu64 " change%s of the queue in %s not "
                          "written (the disk is full): the deliveries queued, tried or delivered "
                          "since it filled are not kept", (uint64_t) atomic_load (&self->unwritten),
                          atomic_load (&self->unwritten) == 1 ? "" : "s", self->cfg.queue_dir);
            break;
        }
        //  Also tries again what a failed write kept (s_flush: once a second)
        s_persist (self, &items);
        int64_t now = sf_now_ms ();
        if (now - last_evict_ms >= 10000) {
            pthread_mutex_lock (&self->confirm_lock);
            s_confirm_evict_locked (self, now);
            pthread_mutex_unlock (&self->confirm_lock);
            last_evict_ms = now;
        }
        uint64_t gen = atomic_load (&self->confirm_gen);
        if (gen != swept_gen && now - last_sweep_ms >= 1000) {
            s_dead_sweep (self);
            swept_gen = gen;
            last_sweep_ms = now;
        }
        wait_ms = 1000;
        for (size_t i = 0; i < self->nrx; i++) {
            int64_t due = s_deliver_one (self, i, now);
            if (due && due - now < wait_ms)
                wait_ms = due - now;
        }
        //  Kept in memory by a failed write: tried again when due
        if (self->unwritable && atomic_load (&self->unwritten)) {
            int64_t due = self->flush_due_ms - sf_mono_ms ();
            if (due < wait_ms)
                wait_ms = due;
        }
        if (wait_ms < 0)
            wait_ms = 0;
    }
    return NULL;
}

//  -------------------------------------------------------------------------

sf_webhooks_t *
sf_webhooks_new (const sf_webhooks_config_t *cfg, char *err, size_t errlen)
{
    sf_webhooks_t *self = sf_xcalloc (1, sizeof (*self));
    self->cfg = *cfg;
    snprintf (self->controller_id, sizeof (self->controller_id), "%s", cfg->controller_id ? cfg->controller_id : "");
    snprintf (self->web_url, sizeof (self->web_url), "%s", cfg->web_url ? cfg->web_url : "");
    pthread_mutex_init (&self->inbox_lock, NULL);
    pthread_cond_init (&self->inbox_cond, NULL);
    pthread_mutex_init (&self->confirm_lock, NULL);
    pthread_mutex_init (&self->pend_lock, NULL);
    self->pending = zhashx_new ();
    zhashx_set_destructor (self->pending, s_pend_free);
    self->confirmed = zhashx_new ();
    zhashx_set_destructor (self->confirmed, s_free_value);
    self->inbox_tail = &self->inbox;
    self->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (10, 10000);
    const char *p = cfg->receivers ? cfg->receivers : "";
    int lineno = 0;
    while (*p) {
        const char *nl = strchr (p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen (p);
        char *line = sf_xstrndup (p, len);
        p += len + (nl ? 1 : 0);
        lineno++;
        char *l = line;
        while (*l == ' ' || *l == '\t')
            l++;
        if (!*l || *l == '#') {
            free (line);
            continue;
        }
        if (self->nrx == S_RECEIVERS_MAX) {
            snprintf (err, errlen, "more than %d webhooks", S_RECEIVERS_MAX);
            free (line);
            sf_webhooks_destroy (&self);
            return NULL;
        }
        char e [384];
        s_receiver_t *r = &self->rx [self->nrx];
        int rc = s_parse_receiver (r, l, e, sizeof (e));
        for (size_t i = 0; rc == 0 && i < self->nrx; i++)
            if (!strcmp (self->rx [i].name, r->name)) {
                snprintf (e, sizeof (e), "the name '%s' is taken", r->name);
                rc = -1;
            }
        if (rc) {
            snprintf (err, errlen, "webhook %d: %s", lineno, e);
            free (line);
            sf_webhooks_destroy (&self);
            return NULL;
        }
        free (line);
        self->nrx++;
    }
    if (self->nrx == 0)
        return self;
    //  At start-up, before this module's thread exists
    curl_global_init (CURL_GLOBAL_DEFAULT);
    if (mkdir (cfg->queue_dir, 0700) && errno != EEXIST) {
        snprintf (err, errlen, "cannot make the webhook queue directory %s: %s", cfg->queue_dir, strerror (errno));
        sf_webhooks_destroy (&self);
        return NULL;
    }
    char e [384];
    self->queue = sf_store_new (cfg->queue_dir, 64 << 20, e, sizeof (e));
    if (!self->queue) {
        snprintf (err, errlen, "webhook queue: %s", e);
        sf_webhooks_destroy (&self);
        return NULL;
    }
    //  What a previous run left: counted, and sent first
    sf_read_t rd;
    if (sf_store_read_begin (self->queue, &rd) == 0) {
        for (size_t i = 0; i < self->nrx; i++) {
            for (int kind = 0; kind < 2; kind++) {
                s_head_t h = { 0 };
                sf_key_t prefix;
                sf_key_make (&prefix, "Bs", kind ? 'd' : 'q', self->rx [i].name);
                sf_store_foreach (&rd, SF_DB_WEBHOOKS, &prefix, 0, s_count_fn, &h);
                if (kind)
                    atomic_store (&self->rx [i].dead, h.count);
                else
                    atomic_store (&self->rx [i].queued, h.count);
                if (h.seq > self->next_seq)
                    self->next_seq = h.seq;
                if (!kind && h.count)
                    sf_info ("webhook %s: %" PRIu64 " deliveries pending from before the restart",
                             self->rx [i].name, h.count);
            }
        }
        sf_store_read_end (&rd);
    }
    if (pthread_create (&self->thread, NULL, s_thread, self)) {
        snprintf (err, errlen, "cannot start the webhook thread");
        sf_webhooks_destroy (&self);
        return NULL;
    }
    self->started = true;
    return self;
}

void
sf_webhooks_destroy (sf_webhooks_t **self_p)
{
    sf_webhooks_t *self = *self_p;
    if (!self)
        return;
    if (self->started) {
        pthread_mutex_lock (&self->inbox_lock);
        self->stop = true;
        pthread_cond_signal (&self->inbox_cond);
        pthread_mutex_unlock (&self->inbox_lock);
        pthread_join (self->thread, NULL);
    }
    while (self->inbox) {
        s_item_t *it = self->inbox;
        self->inbox = it->next;
        free (it->body);
        free (it);
    }
    while (self->replays) {
        s_replay_t *rp = self->replays;
        self->replays = rp->next;
        free (rp);
    }
    for (size_t i = 0; i < self->nrx; i++)
        if (self->rx [i].curl)
            curl_easy_cleanup (self->rx [i].curl);
    sf_store_destroy (&self->queue);
    sodium_memzero (self->rx, sizeof (self->rx));
    zhashx_destroy (&self->confirmed);
    pthread_mutex_destroy (&self->confirm_lock);
    zhashx_destroy (&self->pending);
    pthread_mutex_destroy (&self->pend_lock);
    pthread_cond_destroy (&self->inbox_cond);
    pthread_mutex_destroy (&self->inbox_lock);
    free (self);
    *self_p = NULL;
}

size_t
sf_webhooks_count (sf_webhooks_t *self)
{
    return self->nrx;
}

void
sf_webhooks_set_alerts (sf_webhooks_t *self, sf_alerts_t *alerts)
{
    pthread_mutex_lock (&self->inbox_lock);
    self->alerts = alerts;
    pthread_mutex_unlock (&self->inbox_lock);
}

void
sf_webhooks_set_peers (sf_webhooks_t *self, sf_webhooks_peers_fn *fn, void *arg)
{
    pthread_mutex_lock (&self->inbox_lock);
    self->peers_arg = arg;
    self->peers_fn = fn;
    pthread_mutex_unlock (&self->inbox_lock);
}

void
sf_webhooks_set_owner (sf_webhooks_t *self, sf_webhooks_owner_fn *fn, void *arg)
{
    pthread_mutex_lock (&self->inbox_lock);
    self->owner_arg = arg;
    self->owner_fn = fn;
    pthread_mutex_unlock (&self->inbox_lock);
}

//  Whether a rule's `to` list names receiver name ("" names every one)
static bool
s_named (const char *to, const char *name)
{
    if (!to [0])
        return true;
    size_t n = strlen (name);
    for (const char *p = to; *p; ) {
        const char *comma = strchr (p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen (p);
        if (len == n && !strncmp (p, name, n))
            return true;
        p += len + (comma ? 1 : 0);
    }
    return false;
}

void
sf_webhooks_alert (const sf_alert_event_t *ev, void *arg)
{
    sf_webhooks_t *self = arg;
    if (!self || !self->nrx)
        return;
    char *body = NULL;
    for (size_t i = 0; i < self->nrx; i++) {
        if (!s_named (ev->to, self->rx [i].name))
            continue;
        if (!body)
            body = sf_webhook_body (ev, self->controller_id, self->web_url);
        s_item_t *it = sf_xcalloc (1, sizeof (*it));
        it->receiver = i;
        memcpy (it->idem, ev->idempotency_key, sizeof (it->idem));
        snprintf (it->key, sizeof (it->key), "%s", ev->key);
        snprintf (it->basis, sizeof (it->basis), "%s", ev->basis);
        it->resolved = ev->resolved;
        it->body = sf_xstrdup (body);
        pthread_mutex_lock (&self->inbox_lock);
        *self->inbox_tail = it;
        self->inbox_tail = &it->next;
        pthread_cond_signal (&self->inbox_cond);
        pthread_mutex_unlock (&self->inbox_lock);
    }
    free (body);
}

void
sf_webhooks_metrics_write (sf_webhooks_t *self, FILE *out)
{
    if (!self || !self->nrx)
        return;
    static const struct {
        const char *name, *type, *help;
        size_t offset;
    } m [] = {
        { "streamfleet_webhook_queued", "gauge", "Alert deliveries waiting, per webhook.",
          offsetof (s_receiver_t, queued) },
        { "streamfleet_webhook_attempts_total", "counter", "Delivery attempts (raw POSTs), per webhook.",
          offsetof (s_receiver_t, attempts) },
        { "streamfleet_webhook_delivered_total", "counter", "Deliveries answered 2xx, per webhook.",
          offsetof (s_receiver_t, delivered) },
        { "streamfleet_webhook_failed_total", "counter", "Attempts that failed (retried), per webhook.",
          offsetof (s_receiver_t, failed) },
        { "streamfleet_webhook_dead_letters", "gauge", "Deliveries given up after every retry, per webhook.",
          offsetof (s_receiver_t, dead) },
        { "streamfleet_webhook_standby_confirmed_total", "counter",
          "Standby copies dropped because their owner confirmed the delivery (gossip).",
          offsetof (s_receiver_t, standby_confirmed) },
        { "streamfleet_webhook_standby_dropped_total", "counter",
          "Standby copies dropped unconfirmed after --webhook-standby-max-ms (each one logged).",
          offsetof (s_receiver_t, standby_dropped) },
        { "streamfleet_webhook_dead_letters_dropped_total", "counter",
          "Dead letters dropped, oldest first, beyond --webhook-dead-letters-max.",
          offsetof (s_receiver_t, dead_dropped) },
        { "streamfleet_webhook_replayed_total", "counter",
          "Dead letters queued again by streamfleet alerts replay.",
          offsetof (s_receiver_t, replayed) },
        { "streamfleet_webhook_dead_letters_confirmed_total", "counter",
          "Dead letters dropped because another controller delivered them (a replay there).",
          offsetof (s_receiver_t, dead_confirmed) },
        { "streamfleet_webhook_duplicates_total", "counter",
          "Deliveries this controller made that another controller had made too (at-least-once).",
          offsetof (s_receiver_t, duplicates) },
        { "streamfleet_webhook_first_attempts_total", "counter",
          "Firings' first attempts made with live peers (each waited for their alert episodes' sync).",
          offsetof (s_receiver_t, first_attempts) },
        { "streamfleet_webhook_first_attempt_wait_ms_total", "counter",
          "Milliseconds those first attempts waited for every live peer to be in sync (the sum).",
          offsetof (s_receiver_t, first_wait_ms) },
        { "streamfleet_webhook_first_attempt_unsynced_total", "counter",
          "First attempts made at the bound (two gossip rounds) with a peer not in sync yet.",
          offsetof (s_receiver_t, first_unsynced) },
    };
    for (size_t k = 0; k < sizeof (m) / sizeof (m [0]); k++) {
        fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", m [k].name, m [k].help, m [k].name, m [k].type);
        for (size_t i = 0; i < self->nrx; i++) {
            atomic_uint_fast64_t *v = (atomic_uint_fast64_t *) ((char *) &self->rx [i] + m [k].offset);
            fprintf (out, "%s{webhook=\"%s\"} %" PRIu64 "\n", m [k].name, self->rx [i].name,
                     (uint64_t) atomic_load (v));
        }
    }
    //  The queue's own (one environment for every receiver)
    fprintf (out, "# HELP streamfleet_webhook_queue_write_failures_total Writes of the webhook queue "
             "that failed (a full disk); what they held stays in memory until a write works.\n"
             "# TYPE streamfleet_webhook_queue_write_failures_total counter\n"
             "streamfleet_webhook_queue_write_failures_total %" PRIu64 "\n"
             "# HELP streamfleet_webhook_queue_unwritten Changes of the webhook queue held in memory, "
             "not written yet (a full disk).\n"
             "# TYPE streamfleet_webhook_queue_unwritten gauge\n"
             "streamfleet_webhook_queue_unwritten %" PRIu64 "\n",
             (uint64_t) atomic_load (&self->write_failures), (uint64_t) atomic_load (&self->unwritten));
}

//  -------------------------------------------------------------------------
//  Dead letters: listed from a read transaction (any thread), replayed by
//  the delivery thread

typedef struct {
    sf_reply_t *r;
    const char *receiver;
    size_t n;
} s_list_t;

static int
s_list_dead (const sf_val_t *key, const sf_val_t *val, const s_entry_t *e, void *arg)
{
    s_list_t *l = arg;
    sf_reply_t *r = l->r;
    sf_reply_map (r);
    sf_reply_kstr (r, "webhook", l->receiver);
    sf_reply_kuint (r, "seq", sf_be64_get ((const uint8_t *) key->data + key->size - 8));
    sf_reply_kstr (r, "idempotency_key", e->idem);
    sf_reply_kstr (r, "key", e->key);
    sf_reply_kuint (r, "attempts", e->attempts);
    sf_reply_kint (r, "queued_ms", e->enq_ms);
    sf_reply_kint (r, "last_attempt_ms", e->next_ms);
    sf_reply_key (r, "body");
    sf_reply_strn (r, e->body, e->body_len);
    sf_reply_close (r);
    l->n++;
    return 0;
}

int
sf_webhooks_dead_letters (sf_webhooks_t *self, const char *webhook, msgpack_sbuffer *reply)
{
    sf_reply_t r;
    sf_reply_begin (&r, reply, "dead_letters_reply");
    sf_reply_key (&r, "letters");
    sf_reply_array (&r);
    size_t n = 0;
    sf_read_t rd;
    if (self && self->nrx && sf_store_read_begin (self->queue, &rd) == 0) {
        for (size_t i = 0; i < self->nrx; i++) {
            if (webhook && *webhook && strcmp (webhook, self->rx [i].name))
                continue;
            s_list_t l = { &r, self->rx [i].name, 0 };
            s_dead_foreach (self, &rd, self->rx [i].name, NULL, s_list_dead, &l);
            n += l.n;
        }
        sf_store_read_end (&rd);
    }
    sf_reply_close (&r);
    sf_reply_kuint (&r, "total", n);
    sf_reply_end (&r);
    return 0;
}

static int
s_count_dead (const sf_val_t *key, const sf_val_t *val, const s_entry_t *e, void *arg)
{
    (*(size_t *) arg)++;
    return 0;
}

int
sf_webhooks_replay (sf_webhooks_t *self, const char *key, size_t *found)
{
    *found = 0;
    if (!self || !self->nrx)
        return 0;
    if (key && strlen (key) > SF_ALERT_KEY_MAX)
        return 0;
    size_t n = 0;
    sf_read_t rd;
    if (sf_store_read_begin (self->queue, &rd))
        return -1;
    for (size_t i = 0; i < self->nrx; i++)
        s_dead_foreach (self, &rd, self->rx [i].name, key ? key : "", s_count_dead, &n);
    sf_store_read_end (&rd);
    *found = n;
    if (!n)
        return 0;
    s_replay_t *rp = sf_xcalloc (1, sizeof (*rp));
    snprintf (rp->key, sizeof (rp->key), "%s", key ? key : "");
    pthread_mutex_lock (&self->inbox_lock);
    rp->next = self->replays;
    self->replays = rp;
    pthread_cond_signal (&self->inbox_cond);
    pthread_mutex_unlock (&self->inbox_lock);
    return 0;
}

//  -------------------------------------------------------------------------
//  What rides on gossip beside the records (sf_gossip_ext_t): the alert
//  episodes (sf_alerts.h) and the delivery confirmations (above), each with
//  its digest per bucket: {e: [16 digests], c: [16 digests]}, and offers
//  {episodes: [...], delivered: [...]}
static void
s_ext_digest (void *arg, msgpack_packer *pk)
{
    sf_alerts_ext_t *c = arg;
    uint64_t e [SF_ALERTS_SYNC_BUCKETS], d [SF_ALERTS_SYNC_BUCKETS];
    sf_alerts_sync_digest (c->alerts, e);
    sf_webhooks_confirm_digest (c->webhooks, d);
    msgpack_pack_map (pk, 2);
    for (int k = 0; k < 2; k++) {
        sf_pack_str (pk, k ? "c" : "e");
        msgpack_pack_array (pk, SF_ALERTS_SYNC_BUCKETS);
        for (size_t b = 0; b < SF_ALERTS_SYNC_BUCKETS; b++)
            msgpack_pack_uint64 (pk, k ? d [b] : e [b]);
    }
}

//  A peer's digests: 0, or -1 when it is not two arrays of 16 integers
static int
s_ext_parse (const msgpack_object *theirs, uint64_t e [SF_ALERTS_SYNC_BUCKETS],
             uint64_t d [SF_ALERTS_SYNC_BUCKETS])
{
    for (int k = 0; k < 2; k++) {
        const msgpack_object *a = sf_map_get (theirs, k ? "c" : "e");
        if (!a || a->type != MSGPACK_OBJECT_ARRAY || a->via.array.size != SF_ALERTS_SYNC_BUCKETS)
            return -1;
        for (size_t b = 0; b < SF_ALERTS_SYNC_BUCKETS; b++) {
            if (a->via.array.ptr [b].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
                return -1;
            (k ? d : e) [b] = a->via.array.ptr [b].via.u64;
        }
    }
    return 0;
}

static bool
s_ext_differs (void *arg, const msgpack_object *theirs)
{
    sf_alerts_ext_t *c = arg;
    uint64_t te [SF_ALERTS_SYNC_BUCKETS], td [SF_ALERTS_SYNC_BUCKETS];
    uint64_t e [SF_ALERTS_SYNC_BUCKETS], d [SF_ALERTS_SYNC_BUCKETS];
    if (s_ext_parse (theirs, te, td))
        return false;
    sf_alerts_sync_digest (c->alerts, e);
    sf_webhooks_confirm_digest (c->webhooks, d);
    return memcmp (te, e, sizeof (e)) || memcmp (td, d, sizeof (d));
}

static void
s_ext_offer (void *arg, const msgpack_object *theirs, msgpack_packer *pk)
{
    sf_alerts_ext_t *c = arg;
    uint64_t te [SF_ALERTS_SYNC_BUCKETS], td [SF_ALERTS_SYNC_BUCKETS];
    bool known = s_ext_parse (theirs, te, td) == 0;
    msgpack_pack_map (pk, 2);
    sf_pack_str (pk, "episodes");
    sf_alerts_sync_offer (c->alerts, known ? te : NULL, pk);
    sf_pack_str (pk, "delivered");
    sf_webhooks_confirm_pack (c->webhooks, known ? td : NULL, pk);
}

static int
s_ext_apply (void *arg, const msgpack_object *offer)
{
    sf_alerts_ext_t *c = arg;
    if (offer->type != MSGPACK_OBJECT_MAP)
        return 1;
    return sf_alerts_sync_apply (c->alerts, sf_map_get (offer, "episodes"), sf_now_ms ())
         + sf_webhooks_confirm_apply (c->webhooks, sf_map_get (offer, "delivered"));
}

//  The peer holds every episode we hold, and we every one it held: its
//  episode digest (sent after it merged ours, or ours after we merged its)
//  is ours, or we just answered it with our final offer
static void
s_ext_heard (void *arg, const char *from, const msgpack_object *theirs, bool offered)
{
    sf_alerts_ext_t *c = arg;
    uint64_t te [SF_ALERTS_SYNC_BUCKETS], td [SF_ALERTS_SYNC_BUCKETS], e [SF_ALERTS_SYNC_BUCKETS];
    bool same = false;
    if (!offered && theirs && s_ext_parse (theirs, te, td) == 0) {
        sf_alerts_sync_digest (c->alerts, e);
        same = !memcmp (te, e, sizeof (e));
    }
    if (offered || same)
        sf_webhooks_peer_synced (c->webhooks, from, sf_now_ms ());
}

void
sf_alerts_gossip_ext (sf_gossip_ext_t *ext, sf_alerts_ext_t *arg, sf_alerts_t *alerts,
                      sf_webhooks_t *webhooks)
{
    arg->alerts = alerts;
    arg->webhooks = webhooks;
    *ext = (sf_gossip_ext_t) { s_ext_digest, s_ext_differs, s_ext_offer, s_ext_apply, s_ext_heard, arg };
}

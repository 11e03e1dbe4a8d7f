/*  alerts.c — alert rules over the fleet's committed state, with hold times
    and grouping (include/sf_alerts.h; docs/operations.md "Alerts").

    Every alert is one entry in a table keyed rule/node[/stream], in one of
    three states: pending (the condition holds, not yet for `for`), firing,
    resolving (firing, the condition no longer holds, not yet for
    `resolve`). A placement change looks up one subject entry (which rules
    have an alert for that placement) and matches each rule's selector once:
    nothing is scanned per change. The timer walks the alert table only (what
    is wrong, not the fleet) and the placements whose DVR state changed.

    Grouping: a node that goes down makes each stream rule of condition
    `inactive` one alert for the node (key rule/node) with the number of the
    node's affected streams; while the node is down its placements are not
    judged one by one for it. When a node-down rule covers the node, that
    rule's alert is the only one.
*/
#include "sf_alerts.h"
#include "sf_alloc.h"
#include "sf_codec.h"
#include "sf_links.h"
#include "sf_log.h"
#include "sf_reply.h"
#include <czmq.h>
#include <jansson.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *s_cond_names [SF_COND_COUNT] = {
    "inactive", "no-bitrate", "reconnects", "node-down", "transfer-stuck", "conflict",
    "dvr-gap", "disk", "archive-short"
};
#define S_CONDS_TEXT "inactive, no-bitrate, reconnects, node-down, transfer-stuck, conflict, " \
                     "dvr-gap, disk, archive-short"

const char *
sf_alert_cond_name (int cond)
{
    return cond >= 0 && cond < SF_COND_COUNT ? s_cond_names [cond] : "unknown";
}

static bool
s_node_level (int cond)
{
    return cond == SF_COND_NODE_DOWN || cond == SF_COND_DISK;
}

static bool
s_dvr_cond (int cond)
{
    return cond == SF_COND_DVR_GAP || cond == SF_COND_ARCHIVE_SHORT;
}

//  -------------------------------------------------------------------------
//  Rules

//  "90", "90s", "500ms", "10m", "2h", "1d" -> ms. 0 or -1.
static int
s_duration (const char *text, int64_t *ms)
{
    char *end;
    errno = 0;
    long long v = strtoll (text, &end, 10);
    if (errno || end == text || v < 0 || v > 366LL * 86400)
        return -1;
    int64_t unit;
    if (!*end || !strcmp (end, "s"))
        unit = 1000;
    else if (!strcmp (end, "ms"))
        unit = 1;
    else if (!strcmp (end, "m"))
        unit = 60000;
    else if (!strcmp (end, "h"))
        unit = 3600000;
    else if (!strcmp (end, "d"))
        unit = 86400000;
    else
        return -1;
    *ms = v * unit;
    return 0;
}

static int
s_uint (const char *text, uint32_t min, uint32_t max, uint32_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll (text, &end, 10);
    if (errno || end == text || *end || v < min || v > max)
        return -1;
    *out = (uint32_t) v;
    return 0;
}

int
sf_alert_rule_parse (sf_alert_rule_t *rule, const char *line, int64_t transfer_timeout_s,
                     char *err, size_t errlen)
{
    memset (rule, 0, sizeof (*rule));
    sf_filter_init (&rule->filter);
    rule->resolve_ms = 30000;
    rule->rise = 5;
    rule->within_ms = 300000;
    rule->gap_ms = 60000;
    rule->window_ms = 86400000;
    rule->percent = 90;
    snprintf (rule->text, sizeof (rule->text), "%s", line);
    char buf [1024];
    if (strlen (line) >= sizeof (buf)) {
        snprintf (err, errlen, "longer than %zu bytes", sizeof (buf) - 1);
        return -1;
    }
    strcpy (buf, line);
    char *save = NULL;
    char *name = strtok_r (buf, " \t", &save);
    char *cond = name ? strtok_r (NULL, " \t", &save) : NULL;
    if (!name || !cond) {
        snprintf (err, errlen, "expected 'NAME CONDITION [key=value ...]' (conditions: %s)",
                  S_CONDS_TEXT);
        return -1;
    }
    if (strlen (name) > SF_ALERT_RULE_NAME_MAX || strpbrk (name, "/\"\\=")) {
        snprintf (err, errlen, "the name '%.64s' must be at most %d bytes without / \" \\ =",
                  name, SF_ALERT_RULE_NAME_MAX);
        return -1;
    }
    strcpy (rule->name, name);
    int c;
    for (c = 0; c < SF_COND_COUNT; c++)
        if (!strcmp (cond, s_cond_names [c]))
            break;
    if (c == SF_COND_COUNT) {
        snprintf (err, errlen, "unknown condition '%.40s' (valid: %s)", cond, S_CONDS_TEXT);
        return -1;
    }
    rule->cond = (uint8_t) c;
    if (c == SF_COND_TRANSFER_STUCK)
        rule->for_ms = transfer_timeout_s * 1000;
    char *kv;
    while ((kv = strtok_r (NULL, " \t", &save))) {
        char *eq = strchr (kv, '=');
        if (!eq || eq == kv || !eq [1]) {
            snprintf (err, errlen, "'%.60s' is not key=value", kv);
            return -1;
        }
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        char e [256] = "";
        int rc = 0;
        bool known = true;
        if (!strcmp (k, "for"))
            rc = s_duration (v, &rule->for_ms);
        else if (!strcmp (k, "resolve"))
            rc = s_duration (v, &rule->resolve_ms);
        else if (!strcmp (k, "within") && c == SF_COND_RECONNECTS)
            rc = s_duration (v, &rule->within_ms);
        else if (!strcmp (k, "gap") && c == SF_COND_DVR_GAP)
            rc = s_duration (v, &rule->gap_ms);
        else if (!strcmp (k, "window") && c == SF_COND_DVR_GAP)
            rc = s_duration (v, &rule->window_ms);
        else if (!strcmp (k, "rise") && c == SF_COND_RECONNECTS)
            rc = s_uint (v, 1, 1000000, &rule->rise);
        else if (!strcmp (k, "percent") && (c == SF_COND_DISK || c == SF_COND_ARCHIVE_SHORT))
            rc = s_uint (v, 1, 100, &rule->percent);
        else if (!strcmp (k, "filter")) {
            if (sf_filter_parse (&rule->filter, v, e, sizeof (e))) {
                snprintf (err, errlen, "filter: %s", e);
                return -1;
            }
        }
        else if (!strcmp (k, "name")) {
            if (sf_filter_set_name (&rule->filter, v, e, sizeof (e))) {
                snprintf (err, errlen, "name: %s", e);
                return -1;
            }
        }
        else if (!strcmp (k, "node")) {
            if (sf_filter_set_node (&rule->filter, v, e, sizeof (e))) {
                snprintf (err, errlen, "node: %s", e);
                return -1;
            }
        }
        else if (!strcmp (k, "to")) {
            if (strlen (v) >= sizeof (rule->to)) {
                snprintf (err, errlen, "to: longer than %zu bytes", sizeof (rule->to) - 1);
                return -1;
            }
            strcpy (rule->to, v);
        }
        else
            known = false;
        if (!known) {
            snprintf (err, errlen, "'%.40s' is not a key of %s (keys: for, resolve, filter, name, "
                      "node, to%s)", k, cond,
                      c == SF_COND_RECONNECTS ? ", rise, within" : c == SF_COND_DVR_GAP ? ", gap, window"
                      : c == SF_COND_DISK || c == SF_COND_ARCHIVE_SHORT ? ", percent" : "");
            return -1;
        }
        if (rc) {
            snprintf (err, errlen, "%s: '%.40s' is not %s", k, v,
                      !strcmp (k, "rise") ? "a whole number from 1 to 1000000"
                      : !strcmp (k, "percent") ? "a whole number from 1 to 100"
                      : "a duration (30, 30s, 500ms, 10m, 2h, 1d)");
            return -1;
        }
    }
    return 0;
}

//  -------------------------------------------------------------------------
//  The engine

typedef enum { S_PENDING = 0, S_FIRING, S_RESOLVING } s_state_t;

typedef struct {
    char key [SF_ALERT_KEY_MAX + 1];
    char subject [SF_NODE_MAX + SF_NAME_MAX + 2];  //  node \x1f name ("" node alerts)
    uint8_t rule;
    uint8_t state;              //  s_state_t
    char node [SF_NODE_MAX + 1];
    char stream [SF_NAME_MAX + 1];
    char reason [SF_ALERT_REASON_MAX];
    int64_t since_ms;           //  the condition holds since (this controller's clock)
    //  What replicated fact began it (the record version of the change, a
    //  node's record and heartbeat): the same on every controller, so the
    //  idempotency keys every controller computes for a transition agree
    char basis [64];
    int64_t cleared_ms;         //  resolving: the condition stopped holding at
    int64_t until_ms;           //  the condition stops holding by itself then (0 never)
    uint32_t streams;
} s_alert_t;

//  What rules have an alert for one placement
typedef struct {
    uint64_t rules;
} s_subject_t;

//  Reconnect attempts of a failing placement, newest last
#define S_RECON_SAMPLES 16
typedef struct {
    int64_t t [S_RECON_SAMPLES];
    uint32_t v [S_RECON_SAMPLES];
    uint32_t n;
} s_recon_t;

//  One alert episode as the cluster knows it: an alert key firing from
//  since_ms (fired_ms) until resolved_ms (0: firing still). Every
//  controller's own transitions make and close them; gossip merges every
//  controller's into one per (alert key, basis), where the earliest since,
//  the earliest firing and the earliest resolution win, so that every
//  controller ends with the same table whichever order the facts came in.
//  A controller's alert adopts its key's unresolved episode (its since and
//  basis, hence the same idempotency keys), also one that started after the
//  alert fired. Kept in the store (SF_DB_ALERTS), the newest S_EPISODES_MAX:
//  the alert history.
typedef struct {
    char id [SF_ALERT_KEY_MAX + 66];    //  key \x1f basis
    char key [SF_ALERT_KEY_MAX + 1];
    char basis [64];
    char rule [SF_ALERT_RULE_NAME_MAX + 1];
    char node [SF_NODE_MAX + 1];
    char stream [SF_NAME_MAX + 1];
    char reason [SF_ALERT_REASON_MAX];
    int64_t since_ms, fired_ms, resolved_ms;
    uint32_t streams;
    uint64_t hash;              //  of what the digest covers
    bool dirty;                 //  to store
} s_episode_t;

#define S_EPISODES_MAX 4096

struct sf_alerts_t {
    pthread_mutex_t lock;       //  guards everything below but the callback
    sf_alert_rule_t rules [SF_ALERT_RULES_MAX];
    size_t nrules;
    uint64_t stream_rules, dvr_rules, recon_rules;
    zhashx_t *alerts;           //  key -> s_alert_t
    zhashx_t *subjects;         //  node \x1f name -> s_subject_t
    zhashx_t *recon;            //  node \x1f name -> s_recon_t
    zhashx_t *dvr_dirty;        //  node \x1f name -> subject text (to read at the tick)
    zhashx_t *down;             //  nodes down (liveness transitions)
    sf_store_t *store;
    char web_url [256];
    int64_t last_dvr_ms;
    //  Counters per rule, for /metrics
    uint32_t firing [SF_ALERT_RULES_MAX];
    uint64_t fired_total [SF_ALERT_RULES_MAX];
    uint64_t resolved_total [SF_ALERT_RULES_MAX];
    //  The cluster's alert episodes (below): identity -> s_episode_t, the
    //  unresolved one of each alert key, and the buckets' digests
    zhashx_t *episodes;
    zhashx_t *current;          //  alert key -> s_episode_t (not owned)
    zhashx_t *ep_keys;          //  alert key -> how many episodes it has (as a pointer)
    uint64_t ep_digest [SF_ALERTS_SYNC_BUCKETS];
    zlistx_t *ep_gone;          //  identities evicted, to delete from storage
    zlistx_t *ep_gone_staged;   //  ... deleted in the last sf_alerts_store's transaction
    int64_t ep_floor_ms;        //  the newest resolution evicted
    bool ep_dirty;
    //  Transitions made under the lock, handed to the callback after it
    //  (ingest thread only)
    sf_alert_event_t *outbox;
    size_t nout, capout;
    sf_alerts_event_fn *fn;
    void *fn_arg;
    sf_ratelimit_t rl;          //  transition log lines (ingest thread)
    bool restoring;             //  s_advance does nothing while alerts are restored
};

static void
s_free_alert (void **item)
{
    free (*item);
    *item = NULL;
}

sf_alerts_t *
sf_alerts_new (const char *rules, int64_t transfer_timeout_s, char *err, size_t errlen)
{
    sf_alerts_t *self = sf_xcalloc (1, sizeof (*self));
    pthread_mutex_init (&self->lock, NULL);
    self->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (20, 10000);
    const char *p = rules ? rules : "";
    int lineno = 0;
    while (*p) {
        const char *nl = strchr (p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen (p);
        char line [1024];
        lineno++;
        if (len >= sizeof (line)) {
            snprintf (err, errlen, "alert rule %d: longer than %zu bytes", lineno, sizeof (line) - 1);
            sf_alerts_destroy (&self);
            return NULL;
        }
        memcpy (line, p, len);
        line [len] = 0;
        p += len + (nl ? 1 : 0);
        char *l = line;
        while (*l == ' ' || *l == '\t')
            l++;
        size_t ll = strlen (l);
        while (ll && (l [ll - 1] == ' ' || l [ll - 1] == '\t' || l [ll - 1] == '\r'))
            l [--ll] = 0;
        if (!*l || *l == '#')
            continue;
        if (self->nrules == SF_ALERT_RULES_MAX) {
            snprintf (err, errlen, "more than %d alert rules", SF_ALERT_RULES_MAX);
            sf_alerts_destroy (&self);
            return NULL;
        }
        sf_alert_rule_t *r = &self->rules [self->nrules];
        char e [384];
        if (sf_alert_rule_parse (r, l, transfer_timeout_s, e, sizeof (e))) {
            snprintf (err, errlen, "alert rule %d '%.60s': %s", lineno, l, e);
            sf_alerts_destroy (&self);
            return NULL;
        }
        for (size_t i = 0; i < self->nrules; i++)
            if (!strcmp (self->rules [i].name, r->name)) {
                snprintf (err, errlen, "alert rule %d: the name '%s' is taken by rule %zu",
                          lineno, r->name, i + 1);
                sf_alerts_destroy (&self);
                return NULL;
            }
        uint64_t bit = 1ULL << self->nrules;
        if (!s_node_level (r->cond))
            self->stream_rules |= bit;
        if (s_dvr_cond (r->cond))
            self->dvr_rules |= bit;
        if (r->cond == SF_COND_RECONNECTS)
            self->recon_rules |= bit;
        self->nrules++;
    }
    self->alerts = zhashx_new ();
    zhashx_set_destructor (self->alerts, s_free_alert);
    self->subjects = zhashx_new ();
    zhashx_set_destructor (self->subjects, s_free_alert);
    self->recon = zhashx_new ();
    zhashx_set_destructor (self->recon, s_free_alert);
    self->dvr_dirty = zhashx_new ();
    self->down = zhashx_new ();
    self->episodes = zhashx_new ();
    zhashx_set_destructor (self->episodes, s_free_alert);
    self->current = zhashx_new ();
    self->ep_keys = zhashx_new ();
    self->ep_gone = zlistx_new ();
    zlistx_set_destructor (self->ep_gone, (zlistx_destructor_fn *) zstr_free);
    self->ep_gone_staged = zlistx_new ();
    zlistx_set_destructor (self->ep_gone_staged, (zlistx_destructor_fn *) zstr_free);
    return self;
}

void
sf_alerts_destroy (sf_alerts_t **self_p)
{
    sf_alerts_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->alerts);
    zhashx_destroy (&self->subjects);
    zhashx_destroy (&self->recon);
    zhashx_destroy (&self->dvr_dirty);
    zhashx_destroy (&self->down);
    zhashx_destroy (&self->current);
    zhashx_destroy (&self->episodes);
    zhashx_destroy (&self->ep_keys);
    zlistx_destroy (&self->ep_gone);
    zlistx_destroy (&self->ep_gone_staged);
    free (self->outbox);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

size_t
sf_alerts_rule_count (sf_alerts_t *self)
{
    return self->nrules;
}



void
sf_alerts_on_event (sf_alerts_t *self, sf_alerts_event_fn *fn, void *arg)
{
    self->fn = fn;
    self->fn_arg = arg;
}

char *
sf_alert_web_link (const char *web_url, const char *node, const char *stream)
{
    if (!web_url || !*web_url)
        return sf_xstrdup ("");
    char *q = NULL;
    size_t qn = 0;
    FILE *f = open_memstream (&q, &qn);
    if (!f)
        sf_oom (0, __FILE__, __LINE__);
    fprintf (f, "%s#/streams?", web_url);
    const char *parts [2][2] = { { "name", stream ? stream : "" }, { "node", node ? node : "" } };
    bool first = true;
    for (int i = 0; i < 2; i++) {
        if (!parts [i][1][0])
            continue;
        fprintf (f, "%s%s=", first ? "" : "&", parts [i][0]);
        first = false;
        for (const unsigned char *p = (const unsigned char *) parts [i][1]; *p; p++)
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
            ||  *p == '-' || *p == '_' || *p == '.' || *p == '~')
                fputc (*p, f);
            else
                fprintf (f, "%%%02X", *p);
    }
    if (stream && *stream)
        fprintf (f, "&detail=1");
    fclose (f);
    return q;
}

void
sf_alerts_set_web_url (sf_alerts_t *self, const char *url)
{
    snprintf (self->web_url, sizeof (self->web_url), "%s", url ? url : "");
}

//  -------------------------------------------------------------------------
//  Transitions

static void
s_subject_key (char *out, size_t size, const char *node, const char *name)
{
    snprintf (out, size, "%s\x1f%s", node, name);
}

//  -------------------------------------------------------------------------
//  Episodes: the cluster's firing state and alert history (s_episode_t)

static uint64_t
s_hash64 (const void *data, size_t size)
{
    static const unsigned char zero [crypto_shorthash_KEYBYTES];
    unsigned char h [crypto_shorthash_BYTES];
    crypto_shorthash (h, data, size, zero);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h [i];
    return v;
}

static size_t
s_bucket (const char *id)
{
    return (size_t) (s_hash64 (id, strlen (id)) % SF_ALERTS_SYNC_BUCKETS);
}

//  After e changed: its hash in its bucket's digest, marked to store
static void
s_episode_rehash (sf_alerts_t *self, s_episode_t *e)
{
    size_t b = s_bucket (e->id);
    self->ep_digest [b] ^= e->hash;
    char text [sizeof (e->id) + 80];
    int n = snprintf (text, sizeof (text), "%s|%" PRId64 "|%" PRId64 "|%" PRId64, e->id, e->since_ms,
                      e->fired_ms, e->resolved_ms);
    e->hash = s_hash64 (text, (size_t) n);
    self->ep_digest [b] ^= e->hash;
    e->dirty = true;
    self->ep_dirty = true;
}

//  Whether episode a comes before b as its key's current one: the earliest
//  since, then the smaller identity (the same choice everywhere)
static bool
s_episode_before (const s_episode_t *a, const s_episode_t *b)
{
    return a->since_ms < b->since_ms || (a->since_ms == b->since_ms && strcmp (a->id, b->id) < 0);
}

//  Makes current[key] the key's unresolved episode that comes first (none:
//  no entry). Walks the table only when the current one resolved.
static void
s_current_update (sf_alerts_t *self, s_episode_t *e)
{
    s_episode_t *cur = zhashx_lookup (self->current, e->key);
    if (!e->resolved_ms) {
        if (!cur || cur == e || s_episode_before (e, cur))
            zhashx_update (self->current, e->key, e);
        return;
    }
    if (cur != e)
        return;
    zhashx_delete (self->current, e->key);
    s_episode_t *best = NULL;
    for (s_episode_t *o = zhashx_first (self->episodes); o; o = zhashx_next (self->episodes))
        if (!o->resolved_ms && !strcmp (o->key, e->key) && (!best || s_episode_before (o, best)))
            best = o;
    if (best)
        zhashx_update (self->current, best->key, best);
}

static s_episode_t *
s_episode_get (sf_alerts_t *self, const char *key, const char *basis, bool *made)
{
    char id [SF_ALERT_KEY_MAX + 66];
    snprintf (id, sizeof (id), "%s\x1f%s", key, basis);
    s_episode_t *e = zhashx_lookup (self->episodes, id);
    *made = false;
    if (!e) {
        e = sf_xcalloc (1, sizeof (*e));
        snprintf (e->id, sizeof (e->id), "%s", id);
        snprintf (e->key, sizeof (e->key), "%s", key);
        snprintf (e->basis, sizeof (e->basis), "%s", basis);
        zhashx_insert (self->episodes, id, e);
        uintptr_t n = (uintptr_t) zhashx_lookup (self->ep_keys, key);
        zhashx_update (self->ep_keys, key, (void *) (n + 1));
        *made = true;
    }
    return e;
}

static int
s_cmp_episode_age (const void *pa, const void *pb)
{
    const s_episode_t *a = *(s_episode_t * const *) pa, *b = *(s_episode_t * const *) pb;
    //  Resolved before firing, then the oldest resolution (or firing) first
    int64_t ta = a->resolved_ms ? a->resolved_ms : INT64_MAX / 2 + a->fired_ms;
    int64_t tb = b->resolved_ms ? b->resolved_ms : INT64_MAX / 2 + b->fired_ms;
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp (a->id, b->id);
}

//  Keeps the newest S_EPISODES_MAX: beyond, the oldest resolved go first
//  (down to 7/8 of the bound, so the sort is not paid at every new one)
static void
s_episodes_bound (sf_alerts_t *self)
{
    size_t n = zhashx_size (self->episodes);
    if (n <= S_EPISODES_MAX)
        return;
    s_episode_t **all = sf_xmalloc (n * sizeof (*all));
    size_t k = 0;
    for (s_episode_t *e = zhashx_first (self->episodes); e; e = zhashx_next (self->episodes))
        all [k++] = e;
    qsort (all, k, sizeof (*all), s_cmp_episode_age);
    size_t drop = n - S_EPISODES_MAX * 7 / 8;
    for (size_t i = 0; i < drop; i++) {
        s_episode_t *e = all [i];
        self->ep_digest [s_bucket (e->id)] ^= e->hash;
        if (e->resolved_ms > self->ep_floor_ms)
            self->ep_floor_ms = e->resolved_ms;
        if (zhashx_lookup (self->current, e->key) == e) {
            e->resolved_ms = 1;     //  so that the walk below skips it
            s_current_update (self, e);
        }
        zlistx_add_end (self->ep_gone, strdup (e->id));
        uintptr_t nk = (uintptr_t) zhashx_lookup (self->ep_keys, e->key);
        if (nk > 1)
            zhashx_update (self->ep_keys, e->key, (void *) (nk - 1));
        else
            zhashx_delete (self->ep_keys, e->key);
        zhashx_delete (self->episodes, e->id);
    }
    self->ep_dirty = true;
    free (all);
}

static int64_t
s_min_set (int64_t a, int64_t b)
{
    return !a ? b : !b ? a : a < b ? a : b;
}

//  A transition of this controller's alert a, into its episode; the alert
//  takes the episode's since (the earliest any controller saw)
static void
s_episode_note (sf_alerts_t *self, s_alert_t *a, bool resolved, int64_t now_ms)
{
    bool made;
    s_episode_t *e = s_episode_get (self, a->key, a->basis, &made);
    if (made) {
        snprintf (e->rule, sizeof (e->rule), "%s", self->rules [a->rule].name);
        snprintf (e->node, sizeof (e->node), "%s", a->node);
        snprintf (e->stream, sizeof (e->stream), "%s", a->stream);
        e->since_ms = a->since_ms;
    }
    if (!resolved || made) {
        snprintf (e->reason, sizeof (e->reason), "%s", a->reason);
        e->streams = a->streams;
    }
    e->since_ms = e->since_ms < a->since_ms ? e->since_ms : a->since_ms;
    //  A resolution of an alert whose firing this table never held (one
    //  restored across a restart) says it fired by its since
    if (!resolved)
        e->fired_ms = s_min_set (e->fired_ms, now_ms);
    else if (!e->fired_ms)
        e->fired_ms = a->since_ms;
    if (resolved) {
        e->resolved_ms = s_min_set (e->resolved_ms, now_ms);
        //  Any other episode of this key still open (a controller that
        //  judged it from another fact) ends with it
        for (s_episode_t *o = zhashx_first (self->episodes); o; o = zhashx_next (self->episodes))
            if (o != e && !o->resolved_ms && !strcmp (o->key, e->key)) {
                o->resolved_ms = now_ms;
                s_episode_rehash (self, o);
            }
        zhashx_delete (self->current, e->key);
    }
    else
        a->since_ms = e->since_ms;
    s_episode_rehash (self, e);
    s_current_update (self, e);
    s_episodes_bound (self);
}

//  Alert a takes its key's current episode, when that began earlier (an
//  alert this controller judged later than another did): its since and
//  basis, so that its idempotency keys are the other's. True when it did.
static bool
s_adopt (sf_alerts_t *self, s_alert_t *a)
{
    s_episode_t *e = zhashx_lookup (self->current, a->key);
    if (!e || e->since_ms >= a->since_ms)
        return false;
    a->since_ms = e->since_ms;
    snprintf (a->basis, sizeof (a->basis), "%s", e->basis);
    return true;
}

void
sf_alerts_sync_digest (sf_alerts_t *self, uint64_t digest [SF_ALERTS_SYNC_BUCKETS])
{
    pthread_mutex_lock (&self->lock);
    memcpy (digest, self->ep_digest, sizeof (self->ep_digest));
    pthread_mutex_unlock (&self->lock);
}

static void
s_pack_episode (msgpack_packer *pk, const s_episode_t *e)
{
    msgpack_pack_array (pk, 10);
    sf_pack_str (pk, e->key);
    sf_pack_str (pk, e->basis);
    sf_pack_str (pk, e->rule);
    sf_pack_str (pk, e->node);
    sf_pack_str (pk, e->stream);
    sf_pack_str (pk, e->reason);
    msgpack_pack_int64 (pk, e->since_ms);
    msgpack_pack_int64 (pk, e->fired_ms);
    msgpack_pack_int64 (pk, e->resolved_ms);
    msgpack_pack_uint32 (pk, e->streams);
}

void
sf_alerts_sync_offer (sf_alerts_t *self, const uint64_t *theirs, msgpack_packer *pk)
{
    pthread_mutex_lock (&self->lock);
    bool want [SF_ALERTS_SYNC_BUCKETS];
    for (size_t b = 0; b < SF_ALERTS_SYNC_BUCKETS; b++)
        want [b] = !theirs || theirs [b] != self->ep_digest [b];
    size_t n = 0;
    for (s_episode_t *e = zhashx_first (self->episodes); e; e = zhashx_next (self->episodes))
        if (want [s_bucket (e->id)])
            n++;
    msgpack_pack_array (pk, n);
    for (s_episode_t *e = zhashx_first (self->episodes); e; e = zhashx_next (self->episodes))
        if (want [s_bucket (e->id)])
            s_pack_episode (pk, e);
    pthread_mutex_unlock (&self->lock);
}

static bool
s_obj_i64 (const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT64_MAX)
        *v = (int64_t) o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *v = o->via.i64;
    else
        return false;
    return true;
}

//  One episode as packed by s_pack_episode; 0 or -1 (malformed)
static int
s_unpack_episode (const msgpack_object *o, s_episode_t *e)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 10)
        return -1;
    const msgpack_object *f = o->via.array.ptr;
    int64_t streams;
    if (sf_obj_str (&f [0], e->key, sizeof (e->key) - 1) || !e->key [0]
    ||  sf_obj_str (&f [1], e->basis, sizeof (e->basis) - 1) || !e->basis [0]
    ||  sf_obj_str (&f [2], e->rule, sizeof (e->rule) - 1)
    ||  sf_obj_str (&f [3], e->node, sizeof (e->node) - 1)
    ||  sf_obj_str (&f [4], e->stream, sizeof (e->stream) - 1)
    ||  sf_obj_str (&f [5], e->reason, sizeof (e->reason) - 1)
    ||  !s_obj_i64 (&f [6], &e->since_ms) || !s_obj_i64 (&f [7], &e->fired_ms)
    ||  !s_obj_i64 (&f [8], &e->resolved_ms) || !s_obj_i64 (&f [9], &streams)
    ||  e->since_ms < 0 || e->fired_ms < 0 || e->resolved_ms < 0 || streams < 0 || streams > UINT32_MAX
    ||  strchr (e->key, '\x1f') || strchr (e->basis, '\x1f'))
        return -1;
    e->streams = (uint32_t) streams;
    return 0;
}

//  Merges one episode (from a peer, or from storage) into the table; the
//  merge is the same whichever side has what (the earliest times win)
static s_episode_t *
s_episode_merge (sf_alerts_t *self, const s_episode_t *in)
{
    bool made;
    s_episode_t *e = s_episode_get (self, in->key, in->basis, &made);
    s_episode_t before = *e;
    if (made) {
        snprintf (e->rule, sizeof (e->rule), "%s", in->rule);
        snprintf (e->node, sizeof (e->node), "%s", in->node);
        snprintf (e->stream, sizeof (e->stream), "%s", in->stream);
        snprintf (e->reason, sizeof (e->reason), "%s", in->reason);
        e->streams = in->streams;
        e->since_ms = in->since_ms;
    }
    e->since_ms = e->since_ms < in->since_ms ? e->since_ms : in->since_ms;
    e->fired_ms = s_min_set (e->fired_ms, in->fired_ms);
    e->resolved_ms = s_min_set (e->resolved_ms, in->resolved_ms);
    if (made || before.since_ms != e->since_ms || before.fired_ms != e->fired_ms
    ||  before.resolved_ms != e->resolved_ms) {
        s_episode_rehash (self, e);
        s_current_update (self, e);
    }
    return e;
}

static bool s_advance (sf_alerts_t *self, s_alert_t *a, int64_t now_ms);
static void s_flush (sf_alerts_t *self);

int
sf_alerts_sync_apply (sf_alerts_t *self, const msgpack_object *list, int64_t now_ms)
{
    if (!list)
        return 0;
    if (list->type != MSGPACK_OBJECT_ARRAY)
        return 1;
    int bad = 0;
    pthread_mutex_lock (&self->lock);
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        s_episode_t in;
        memset (&in, 0, sizeof (in));
        if (s_unpack_episode (&list->via.array.ptr [i], &in)) {
            bad++;
            continue;
        }
        //  Older than what the bound already let go: not taken back
        if (in.resolved_ms && in.resolved_ms <= self->ep_floor_ms)
            continue;
        s_episode_t *e = s_episode_merge (self, &in);
        //  This controller's alert of that key follows the earliest
        s_alert_t *a = zhashx_lookup (self->alerts, e->key);
        if (a && a->state != S_RESOLVING && s_adopt (self, a))
            s_advance (self, a, now_ms);
    }
    s_episodes_bound (self);
    pthread_mutex_unlock (&self->lock);
    s_flush (self);
    return bad;
}

static int
s_load_fn (const sf_val_t *key, const sf_val_t *val, void *arg)
{
    sf_alerts_t *self = arg;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    s_episode_t in;
    memset (&in, 0, sizeof (in));
    if (msgpack_unpack_next (&u, val->data, val->size, &off) == MSGPACK_UNPACK_SUCCESS
    &&  s_unpack_episode (&u.data, &in) == 0)
        s_episode_merge (self, &in)->dirty = false;
    msgpack_unpacked_destroy (&u);
    return 0;
}

//  The alert history kept in the store (SF_DB_ALERTS), loaded once
void
sf_alerts_set_store (sf_alerts_t *self, sf_store_t *store)
{
    self->store = store;
    sf_read_t rd;
    if (!store || sf_store_read_begin (store, &rd))
        return;
    pthread_mutex_lock (&self->lock);
    sf_store_foreach (&rd, SF_DB_ALERTS, NULL, 0, s_load_fn, self);
    self->ep_dirty = false;
    size_t n = zhashx_size (self->episodes);
    pthread_mutex_unlock (&self->lock);
    sf_store_read_end (&rd);
    if (n)
        sf_info ("alerts: %zu alert episode%s in the history", n, n == 1 ? "" : "s");
}

bool
sf_alerts_unstored (sf_alerts_t *self)
{
    return self->store && self->ep_dirty;
}

//  A transaction is stored whole or not at all (sf_store.h): after one
//  failed write none of this call's writes will be stored, so the flags are
//  cleared only when every write went in. A commit that fails after a good
//  call is sf_alerts_store_lost's (the writer tells it). The failure itself
//  is the commit's to log (the writer names ENOSPC and the data directory).
int
sf_alerts_store (sf_alerts_t *self)
{
    if (!self->store || !self->ep_dirty)
        return 0;
    int rc = 0;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    pthread_mutex_lock (&self->lock);
    for (s_episode_t *e = zhashx_first (self->episodes); e && !rc; e = zhashx_next (self->episodes)) {
        if (!e->dirty)
            continue;
        sf_key_t k;
        if (sf_key_make (&k, "n", e->id))
            continue;           //  cannot be: ids are bounded below SF_KEY_MAX
        msgpack_sbuffer_clear (&sb);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        s_pack_episode (&pk, e);
        rc = sf_store_put (self->store, SF_DB_ALERTS, &k, sb.data, sb.size);
    }
    //  The last transaction was stored (or sf_alerts_store_lost took its deletes back)
    if (rc == 0)
        zlistx_purge (self->ep_gone_staged);
    for (const char *id = zlistx_first (self->ep_gone); id && !rc; id = zlistx_next (self->ep_gone)) {
        sf_key_t k;
        if (sf_key_make (&k, "n", id) == 0 && sf_store_del (self->store, SF_DB_ALERTS, &k) < 0)
            rc = -1;
    }
    if (rc == 0) {
        for (s_episode_t *e = zhashx_first (self->episodes); e; e = zhashx_next (self->episodes))
            e->dirty = false;
        char *id;
        while ((id = zlistx_detach (self->ep_gone, NULL)))
            zlistx_add_end (self->ep_gone_staged, id);
        self->ep_dirty = false;
    }
    pthread_mutex_unlock (&self->lock);
    msgpack_sbuffer_destroy (&sb);
    return rc;
}

void
sf_alerts_store_lost (void *arg)
{
    sf_alerts_t *self = arg;
    pthread_mutex_lock (&self->lock);
    //  Which episodes went is not kept: all are stored again (they are bounded)
    for (s_episode_t *e = zhashx_first (self->episodes); e; e = zhashx_next (self->episodes))
        e->dirty = true;
    char *id;
    while ((id = zlistx_detach (self->ep_gone_staged, NULL)))
        zlistx_add_end (self->ep_gone, id);
    self->ep_dirty = true;
    pthread_mutex_unlock (&self->lock);
}

//  One key per transition: the same alert firing again later (a new since)
//  is a new delivery; the same transition delivered twice is not
static void
s_idem (const char *key, const char *basis, bool resolved, char out [33])
{
    char text [SF_ALERT_KEY_MAX + 96];
    int n = snprintf (text, sizeof (text), "%s|%s|%s", key, basis, resolved ? "resolved" : "firing");
    unsigned char h [16];
    crypto_generichash (h, sizeof (h), (const unsigned char *) text, (size_t) n, NULL, 0);
    sodium_bin2hex (out, 33, h, sizeof (h));
}

//  The episode whose identity a transition of (key, basis) goes by: the
//  one that comes first (s_episode_before) among the key's episodes that
//  overlap (key, basis)'s in time — every controller's view of the same
//  firing, whatever record version each judged it from. With idem, fills
//  it with that episode's keys first, then the other overlapping episodes'
//  (a confirmation under any of them is one). Returns how many keys.
//  Locked.
static size_t
s_group (sf_alerts_t *self, const char *key, const char *basis, bool resolved, char (*idem) [33],
         size_t max, int64_t *since_ms)
{
    char id [SF_ALERT_KEY_MAX + 66];
    snprintf (id, sizeof (id), "%s\x1f%s", key, basis);
    s_episode_t *e0 = zhashx_lookup (self->episodes, id);
    if (!e0 || max == 0) {
        if (max)
            s_idem (key, basis, resolved, idem [0]);
        return max ? 1 : 0;
    }
    const s_episode_t *best = e0;
    const s_episode_t *others [16];
    size_t nothers = 0;
    int64_t end0 = e0->resolved_ms ? e0->resolved_ms : INT64_MAX;
    //  Most keys have one episode: the table is walked only when not
    bool alone = (uintptr_t) zhashx_lookup (self->ep_keys, key) <= 1;
    for (s_episode_t *o = alone ? NULL : zhashx_first (self->episodes); o; o = zhashx_next (self->episodes)) {
        if (o == e0 || strcmp (o->key, key))
            continue;
        int64_t end = o->resolved_ms ? o->resolved_ms : INT64_MAX;
        if (o->since_ms > end0 || e0->since_ms > end)
            continue;
        if (nothers < sizeof (others) / sizeof (others [0]))
            others [nothers++] = o;
        if (s_episode_before (o, best))
            best = o;
    }
    if (since_ms)
        *since_ms = best->since_ms;
    size_t n = 0;
    s_idem (key, best->basis, resolved, idem [n++]);
    if (best != e0 && n < max)
        s_idem (key, e0->basis, resolved, idem [n++]);
    for (size_t k = 0; k < nothers && n < max; k++)
        if (others [k] != best)
            s_idem (key, others [k]->basis, resolved, idem [n++]);
    return n;
}

size_t
sf_alerts_idem (sf_alerts_t *self, const char *key, const char *basis, bool resolved,
                char (*idem) [33], size_t max, int64_t *since_ms)
{
    pthread_mutex_lock (&self->lock);
    size_t n = s_group (self, key, basis, resolved, idem, max, since_ms);
    pthread_mutex_unlock (&self->lock);
    return n;
}

static void
s_emit (sf_alerts_t *self, s_alert_t *a, bool resolved, int64_t now_ms)
{
    //  The cluster's episode first: a firing alert takes its earliest since
    s_episode_note (self, a, resolved, now_ms);
    if (self->nout == self->capout) {
        self->capout = self->capout ? self->capout * 2 : 16;
        self->outbox = sf_xrealloc (self->outbox, self->capout * sizeof (sf_alert_event_t));
    }
    sf_alert_event_t *ev = &self->outbox [self->nout++];
    memset (ev, 0, sizeof (*ev));
    const sf_alert_rule_t *r = &self->rules [a->rule];
    strcpy (ev->key, a->key);
    strcpy (ev->rule, r->name);
    ev->cond = r->cond;
    ev->resolved = resolved;
    strcpy (ev->node, a->node);
    strcpy (ev->stream, a->stream);
    strcpy (ev->reason, a->reason);
    ev->since_ms = a->since_ms;
    ev->at_ms = now_ms;
    ev->streams = a->streams;
    strcpy (ev->to, r->to);
    snprintf (ev->basis, sizeof (ev->basis), "%s", a->basis);
    s_group (self, a->key, a->basis, resolved, &ev->idempotency_key, 1, &ev->since_ms);
    if (resolved) {
        self->resolved_total [a->rule]++;
        if (self->firing [a->rule])
            self->firing [a->rule]--;
    }
    else {
        self->fired_total [a->rule]++;
        self->firing [a->rule]++;
    }
}

//  The alerts now, as an array the caller frees (the table may change
//  while the caller walks it; zhashx_values would copy with the destructor)
static s_alert_t **
s_snapshot (sf_alerts_t *self, size_t *count)
{
    s_alert_t **all = sf_xmalloc ((zhashx_size (self->alerts) + 1) * sizeof (*all));
    size_t n = 0;
    for (s_alert_t *a = zhashx_first (self->alerts); a; a = zhashx_next (self->alerts))
        all [n++] = a;
    *count = n;
    return all;
}

static void
s_remove (sf_alerts_t *self, s_alert_t *a)
{
    if (a->subject [0]) {
        s_subject_t *sub = zhashx_lookup (self->subjects, a->subject);
        if (sub) {
            sub->rules &= ~(1ULL << a->rule);
            if (!sub->rules)
                zhashx_delete (self->subjects, a->subject);
        }
    }
    zhashx_delete (self->alerts, a->key);
}

//  Moves an alert along by time: fires a pending one held for `for`,
//  resolves a resolving one cleared for `resolve`, clears a condition that
//  stops by itself. Returns false when the alert is gone.
static bool
s_advance (sf_alerts_t *self, s_alert_t *a, int64_t now_ms)
{
    const sf_alert_rule_t *r = &self->rules [a->rule];
    if (self->restoring)
        return true;
    if (a->until_ms && now_ms >= a->until_ms && a->state != S_RESOLVING) {
        a->until_ms = 0;
        if (a->state == S_PENDING) {
            s_remove (self, a);
            return false;
        }
        a->state = S_RESOLVING;
        a->cleared_ms = now_ms;
    }
    if (a->state == S_PENDING && now_ms - a->since_ms >= r->for_ms) {
        a->state = S_FIRING;
        s_emit (self, a, false, now_ms);
    }
    if (a->state == S_RESOLVING && now_ms - a->cleared_ms >= r->resolve_ms) {
        s_emit (self, a, true, now_ms);
        s_remove (self, a);
        return false;
    }
    return true;
}

//  The condition of rule holds for key (subject: node \x1f name, "" for a
//  node alert): makes or refreshes the alert
static void
s_holds (sf_alerts_t *self, size_t rule, const char *node, const char *stream, const char *subject,
         const char *basis, const char *reason, uint32_t streams, int64_t until_ms, int64_t now_ms)
{
    char key [SF_ALERT_KEY_MAX + 1];
    if (stream && *stream)
        snprintf (key, sizeof (key), "%s/%s/%s", self->rules [rule].name, node, stream);
    else
        snprintf (key, sizeof (key), "%s/%s", self->rules [rule].name, node);
    s_alert_t *a = zhashx_lookup (self->alerts, key);
    if (!a) {
        a = sf_xcalloc (1, sizeof (*a));
        strcpy (a->key, key);
        a->rule = (uint8_t) rule;
        a->state = S_PENDING;
        snprintf (a->node, sizeof (a->node), "%s", node);
        snprintf (a->stream, sizeof (a->stream), "%s", stream ? stream : "");
        snprintf (a->subject, sizeof (a->subject), "%s", subject ? subject : "");
        a->since_ms = now_ms;
        snprintf (a->basis, sizeof (a->basis), "%s", basis);
        //  Already firing elsewhere in the cluster (this controller started
        //  later, or judged later): from that since, under that basis
        s_adopt (self, a);
        zhashx_insert (self->alerts, key, a);
        if (a->subject [0]) {
            s_subject_t *sub = zhashx_lookup (self->subjects, a->subject);
            if (!sub) {
                sub = sf_xcalloc (1, sizeof (*sub));
                zhashx_insert (self->subjects, a->subject, sub);
            }
            sub->rules |= 1ULL << rule;
        }
    }
    else if (a->state == S_RESOLVING)
        a->state = S_FIRING;    //  back before it resolved: nothing to say
    snprintf (a->reason, sizeof (a->reason), "%s", reason);
    a->streams = streams;
    a->until_ms = until_ms;
    s_advance (self, a, now_ms);
}

//  The condition no longer holds
static void
s_clears (sf_alerts_t *self, s_alert_t *a, int64_t now_ms)
{
    if (a->state == S_PENDING) {
        s_remove (self, a);
        return;
    }
    if (a->state == S_FIRING) {
        a->state = S_RESOLVING;
        a->cleared_ms = now_ms;
    }
    s_advance (self, a, now_ms);
}

static void
s_clears_key (sf_alerts_t *self, size_t rule, const char *node, const char *stream, int64_t now_ms)
{
    char key [SF_ALERT_KEY_MAX + 1];
    if (stream && *stream)
        snprintf (key, sizeof (key), "%s/%s/%s", self->rules [rule].name, node, stream);
    else
        snprintf (key, sizeof (key), "%s/%s", self->rules [rule].name, node);
    s_alert_t *a = zhashx_lookup (self->alerts, key);
    if (a)
        s_clears (self, a, now_ms);
}

//  Hands the transitions made under the lock to the callback
static void
s_flush (sf_alerts_t *self)
{
    for (size_t i = 0; i < self->nout; i++) {
        sf_alert_event_t *ev = &self->outbox [i];
        //  Links of a stream alert, from the placement and its node
        if (ev->stream [0] && self->store) {
            sf_read_t rd;
            if (sf_store_read_begin (self->store, &rd) == 0) {
                sf_row_t row;
                sf_stream_t s;
                sf_stream_init (&s);
                sf_node_t n;
                sf_node_init (&n);
                bool have_node = sf_store_get_node (&rd, ev->node, &n) == 0;
                if (sf_store_get_row (&rd, ev->node, ev->stream, &row) == 0 && sf_row_decode (&row, &s) == 0)
                    sf_links_live (&s, have_node ? &n : NULL, ev->rtsp, ev->hls, sizeof (ev->rtsp));
                sf_stream_clear (&s);
                sf_store_read_end (&rd);
            }
        }
        sf_log_limited (&self->rl, SF_LOG_INFO, "alert %s: %s %s%s%s — %s",
                        ev->resolved ? "resolved" : "firing", ev->rule, ev->node,
                        ev->stream [0] ? "/" : "", ev->stream, ev->reason);
        if (self->fn)
            self->fn (ev, self->fn_arg);
    }
    self->nout = 0;
}

//  -------------------------------------------------------------------------
//  Placement changes

//  Reconnect attempts rose by rule's rise within its window, at now; *until
//  gets when that stops being so by time alone
static bool
s_recon_rose (const s_recon_t *rc, const sf_alert_rule_t *r, int64_t now_ms, int64_t *until)
{
    *until = 0;
    if (!rc || rc->n == 0)
        return false;
    int64_t from = now_ms - r->within_ms;
    //  The base: the newest sample at or before the window's start, else the
    //  oldest kept (the first failure seen counts from 0)
    uint32_t base = rc->v [0];
    uint32_t next = 0;
    for (uint32_t i = 0; i < rc->n; i++) {
        if (rc->t [i] <= from)
            base = rc->v [i];
        else {
            next = i;
            break;
        }
        next = i + 1;
    }
    uint32_t last = rc->v [rc->n - 1];
    if (last < base || last - base < r->rise)
        return false;
    if (next < rc->n)
        *until = rc->t [next] + r->within_ms;
    return true;
}

static void
s_recon_note (sf_alerts_t *self, const char *subject, uint32_t attempts, int64_t now_ms)
{
    s_recon_t *rc = zhashx_lookup (self->recon, subject);
    if (attempts == 0) {
        if (rc)
            zhashx_delete (self->recon, subject);
        return;
    }
    if (!rc) {
        rc = sf_xcalloc (1, sizeof (*rc));
        //  Failing since it was first seen failing: from 0 then
        rc->t [0] = now_ms;
        rc->v [0] = 0;
        rc->n = 1;
        zhashx_insert (self->recon, subject, rc);
    }
    if (rc->v [rc->n - 1] == attempts)
        return;
    if (rc->v [rc->n - 1] > attempts) {
        //  Counted again from a lower value (a new connect in between)
        rc->t [0] = now_ms;
        rc->v [0] = attempts;
        rc->n = 1;
        return;
    }
    if (rc->n == S_RECON_SAMPLES) {
        memmove (rc->t, rc->t + 1, (S_RECON_SAMPLES - 1) * sizeof (rc->t [0]));
        memmove (rc->v, rc->v + 1, (S_RECON_SAMPLES - 1) * sizeof (rc->v [0]));
        rc->n--;
    }
    rc->t [rc->n] = now_ms;
    rc->v [rc->n] = attempts;
    rc->n++;
}

//  Whether a stream rule's condition holds on a summary (DVR conditions are
//  judged at the tick, from the record); reason filled when it does
static bool
s_stream_holds (sf_alerts_t *self, const sf_alert_rule_t *r, const sf_summary_t *sum,
                const char *subject, int64_t now_ms, char *reason, size_t rlen, int64_t *until)
{
    uint8_t type = (sum->flags & SF_SUM_MIGRATED) ? SF_TYPE_MIGRATED : sum->type;
    *until = 0;
    if (type == SF_TYPE_MIGRATED)
        return false;           //  its archive stays; the stream lives elsewhere
    switch (r->cond) {
        case SF_COND_INACTIVE:
            if (sum->status == SF_STATUS_ACTIVE)
                return false;
            if (sum->status == SF_STATUS_SUSPEND && type != SF_TYPE_PRIMARY)
                return false;   //  a standby is suspended by design
            snprintf (reason, rlen, "%s %s, not active", sf_type_name (type), sf_status_name (sum->status));
            return true;
        case SF_COND_NO_BITRATE:
            if (sum->status != SF_STATUS_ACTIVE || sum->bitrate_kbps)
                return false;
            snprintf (reason, rlen, "active with a bitrate of 0 kbit/s");
            return true;
        case SF_COND_RECONNECTS: {
            s_recon_t *rc = zhashx_lookup (self->recon, subject);
            if (!s_recon_rose (rc, r, now_ms, until))
                return false;
            snprintf (reason, rlen, "%u reconnect attempts since the last connect, %u or more within %llds",
                      sum->reconnect_attempts, r->rise, (long long) (r->within_ms / 1000));
            return true;
        }
        case SF_COND_TRANSFER_STUCK:
            if (!(sum->flags & SF_SUM_TRANSFER))
                return false;
            snprintf (reason, rlen, "in transfer between two nodes for %llds or more",
                      (long long) (r->for_ms / 1000));
            return true;
        case SF_COND_CONFLICT:
            if (!(sum->flags & SF_SUM_CONFLICT))
                return false;
            snprintf (reason, rlen, "active on two nodes and not a transfer (conflict)");
            return true;
    }
    return false;
}

static bool
s_selects (const sf_alert_rule_t *r, const char *node, const char *name, const sf_summary_t *sum,
           bool down)
{
    uint8_t type = (sum->flags & SF_SUM_MIGRATED) ? SF_TYPE_MIGRATED : sum->type;
    uint8_t marks = ((sum->flags & SF_SUM_TRANSFER) ? SF_MARK_TRANSFER : 0)
                  | ((sum->flags & SF_SUM_CONFLICT) ? SF_MARK_CONFLICT : 0);
    uint8_t status = down ? SF_STATUS_OFFLINE : sum->status;
    return sf_filter_match_fields (&r->filter, node, type, status, marks, sum->functions)
        && sf_filter_match_name (&r->filter, name);
}

static void
s_apply_one (sf_alerts_t *self, const sf_store_change_t *ch, int64_t now_ms)
{
    char subject [SF_NODE_MAX + SF_NAME_MAX + 2];
    s_subject_key (subject, sizeof (subject), ch->node, ch->name);
    s_subject_t *sub = zhashx_lookup (self->subjects, subject);
    uint64_t had = sub ? sub->rules : 0;
    bool down = zhashx_lookup (self->down, ch->node) != NULL;
    if (ch->deleted) {
        if (self->recon_rules)
            zhashx_delete (self->recon, subject);
        for (size_t i = 0; i < self->nrules; i++)
            if (had & (1ULL << i))
                s_clears_key (self, i, ch->node, ch->name, now_ms);
        return;
    }
    if (self->recon_rules)
        s_recon_note (self, subject, ch->sum.reconnect_attempts, now_ms);
    uint64_t rules = self->stream_rules;
    while (rules) {
        size_t i = (size_t) __builtin_ctzll (rules);
        rules &= rules - 1;
        const sf_alert_rule_t *r = &self->rules [i];
        bool selected = s_selects (r, ch->node, ch->name, &ch->sum, down);
        if (s_dvr_cond (r->cond)) {
            //  Judged at the tick from the record: only note that it changed
            if (selected && (ch->sum.functions & SF_FN_DVR))
                if (!zhashx_lookup (self->dvr_dirty, subject))
                    zhashx_insert (self->dvr_dirty, subject, (void *) 1);
            if (!selected && (had & (1ULL << i)))
                s_clears_key (self, i, ch->node, ch->name, now_ms);
            continue;
        }
        char reason [SF_ALERT_REASON_MAX];
        int64_t until = 0;
        //  The streams of a down node count in the node's one alert
        bool holds = selected && !(down && r->cond == SF_COND_INACTIVE)
                  && s_stream_holds (self, r, &ch->sum, subject, now_ms, reason, sizeof (reason), &until);
        if (holds) {
            char basis [64];
            snprintf (basis, sizeof (basis), "v%" PRIu64 ".%" PRIu64, ch->sum.gen, ch->sum.seq);
            s_holds (self, i, ch->node, ch->name, subject, basis, reason, 1, until, now_ms);
        }
        else if (had & (1ULL << i))
            s_clears_key (self, i, ch->node, ch->name, now_ms);
    }
}

void
sf_alerts_apply (sf_alerts_t *self, const sf_store_change_t *changes, size_t count, int64_t now_ms)
{
    if (!self->stream_rules)
        return;
    pthread_mutex_lock (&self->lock);
    for (size_t i = 0; i < count; i++)
        s_apply_one (self, &changes [i], now_ms);
    pthread_mutex_unlock (&self->lock);
    s_flush (self);
}

void
sf_alerts_observe (void *self, const sf_store_change_t *changes, size_t count)
{
    sf_alerts_apply (self, changes, count, sf_now_ms ());
}

//  -------------------------------------------------------------------------
//  Nodes

typedef struct {
    const sf_alert_rule_t *rule;
    uint32_t count;
} s_count_t;

static int
s_count_row (const sf_row_t *row, void *arg)
{
    s_count_t *c = arg;
    uint8_t type = (row->sum.flags & SF_SUM_MIGRATED) ? SF_TYPE_MIGRATED : row->sum.type;
    if (type == SF_TYPE_MIGRATED)
        return 0;
    //  Affected: what was live there, and every primary
    if (row->sum.status != SF_STATUS_ACTIVE && type != SF_TYPE_PRIMARY)
        return 0;
    if (c->rule && !s_selects (c->rule, row->node, row->name, &row->sum, true))
        return 0;
    c->count++;
    return 0;
}

//  The streams of node a down node affects, as rule selects them (NULL: all)
static uint32_t
s_count_node (sf_alerts_t *self, const char *node, const sf_alert_rule_t *rule)
{
    if (!self->store)
        return 0;
    sf_read_t rd;
    if (sf_store_read_begin (self->store, &rd))
        return 0;
    s_count_t c = { rule, 0 };
    sf_store_scan_streams (&rd, node, s_count_row, &c);
    sf_store_read_end (&rd);
    return c.count;
}

static bool
s_node_selected (const sf_alert_rule_t *r, const char *node)
{
    return !r->filter.node [0] || !strcmp (r->filter.node, node);
}

//  A node's stored record version and heartbeat counter, as every
//  controller has them once replication converged
static void
s_node_basis (sf_alerts_t *self, const char *node, char *out, size_t size)
{
    snprintf (out, size, "down");
    sf_read_t rd;
    if (!self->store || sf_store_read_begin (self->store, &rd))
        return;
    sf_node_t n;
    sf_node_init (&n);
    if (sf_store_get_node (&rd, node, &n) == 0)
        snprintf (out, size, "n%" PRIu64 ".%" PRIu64 ".h%" PRIu64, n.version.gen, n.version.seq,
                  n.heartbeat);
    sf_store_read_end (&rd);
}

static void
s_node_down (sf_alerts_t *self, const char *node, int64_t now_ms)
{
    bool covered = false;
    char basis [64];
    s_node_basis (self, node, basis, sizeof (basis));
    for (size_t i = 0; i < self->nrules; i++) {
        const sf_alert_rule_t *r = &self->rules [i];
        if (r->cond != SF_COND_NODE_DOWN || !s_node_selected (r, node))
            continue;
        covered = true;
        uint32_t n = s_count_node (self, node, r);
        char reason [SF_ALERT_REASON_MAX];
        snprintf (reason, sizeof (reason), "node down: %u stream%s affected", n, n == 1 ? "" : "s");
        s_holds (self, i, node, NULL, NULL, basis, reason, n, 0, now_ms);
    }
    if (covered)
        return;
    for (size_t i = 0; i < self->nrules; i++) {
        const sf_alert_rule_t *r = &self->rules [i];
        if (r->cond != SF_COND_INACTIVE || !s_node_selected (r, node))
            continue;
        uint32_t n = s_count_node (self, node, r);
        if (n == 0)
            continue;
        char reason [SF_ALERT_REASON_MAX];
        snprintf (reason, sizeof (reason), "node down: %u stream%s offline", n, n == 1 ? "" : "s");
        s_holds (self, i, node, NULL, NULL, basis, reason, n, 0, now_ms);
    }
}

static void
s_disk (sf_alerts_t *self, const sf_node_t *info, int64_t now_ms)
{
    for (size_t i = 0; i < self->nrules; i++) {
        const sf_alert_rule_t *r = &self->rules [i];
        if (r->cond != SF_COND_DISK || !s_node_selected (r, info->id))
            continue;
        double worst = -1;
        const char *mount = "";
        for (uint32_t d = 0; d < info->ndisks && d < SF_DISKS_MAX; d++) {
            const sf_disk_t *k = &info->disks [d];
            if (!k->total_bytes || k->free_bytes > k->total_bytes)
                continue;
            double used = 100.0 * (double) (k->total_bytes - k->free_bytes) / (double) k->total_bytes;
            if (used > worst) {
                worst = used;
                mount = k->mount;
            }
        }
        if (worst >= r->percent) {
            char reason [SF_ALERT_REASON_MAX];
            snprintf (reason, sizeof (reason), "disk %.100s %.0f %% full (at least %u %%)", mount,
                      worst, r->percent);
            char basis [64];
            snprintf (basis, sizeof (basis), "n%" PRIu64 ".%" PRIu64, info->version.gen, info->version.seq);
            s_holds (self, i, info->id, NULL, NULL, basis, reason, 0, 0, now_ms);
        }
        else
            s_clears_key (self, i, info->id, NULL, now_ms);
    }
}

void
sf_alerts_node (sf_alerts_t *self, const sf_change_t *ch, int64_t now_ms)
{
    pthread_mutex_lock (&self->lock);
    if (ch->kind == 'l') {
        if (ch->live == SF_LIVE_DOWN) {
            if (!zhashx_lookup (self->down, ch->node)) {
                zhashx_insert (self->down, ch->node, (void *) 1);
                s_node_down (self, ch->node, now_ms);
            }
        }
        else if (zhashx_lookup (self->down, ch->node)) {
            zhashx_delete (self->down, ch->node);
            for (size_t i = 0; i < self->nrules; i++)
                if (self->rules [i].cond == SF_COND_NODE_DOWN || self->rules [i].cond == SF_COND_INACTIVE)
                    s_clears_key (self, i, ch->node, NULL, now_ms);
        }
    }
    else if (ch->kind == 'n' && ch->info)
        s_disk (self, ch->info, now_ms);
    pthread_mutex_unlock (&self->lock);
    s_flush (self);
}

//  -------------------------------------------------------------------------
//  The timer

//  DVR conditions of one placement, from its record
static void
s_dvr_judge (sf_alerts_t *self, sf_read_t *rd, const char *subject, int64_t now_ms)
{
    const char *sep = strchr (subject, '\x1f');
    if (!sep)
        return;
    char node [SF_NODE_MAX + 1];
    size_t nl = (size_t) (sep - subject);
    if (nl > SF_NODE_MAX)
        return;
    memcpy (node, subject, nl);
    node [nl] = 0;
    const char *name = sep + 1;
    s_subject_t *sub = zhashx_lookup (self->subjects, subject);
    uint64_t had = sub ? sub->rules : 0;
    sf_row_t row;
    sf_stream_t s;
    sf_stream_init (&s);
    bool have = sf_store_get_row (rd, node, name, &row) == 0 && sf_row_decode (&row, &s) == 0;
    bool down = zhashx_lookup (self->down, node) != NULL;
    int64_t now_s = now_ms / 1000;
    uint64_t rules = self->dvr_rules;
    while (rules) {
        size_t i = (size_t) __builtin_ctzll (rules);
        rules &= rules - 1;
        const sf_alert_rule_t *r = &self->rules [i];
        bool holds = false;
        int64_t until = 0;
        char reason [SF_ALERT_REASON_MAX] = "";
        if (have && s_selects (r, node, name, &row.sum, down) && (row.sum.functions & SF_FN_DVR)
        &&  !(row.sum.flags & SF_SUM_MIGRATED)) {
            const sf_dvr_t *d = &s.dvr;
            if (r->cond == SF_COND_DVR_GAP) {
                int64_t from_s = now_s - r->window_ms / 1000, gap_s = r->gap_ms / 1000;
                //  The newest gap longer than gap= that ends inside the window
                for (uint32_t k = d->nranges; k-- > 1; ) {
                    int64_t g_from = d->ranges [k - 1].to, g_to = d->ranges [k].from;
                    if (g_to <= from_s)
                        break;
                    if (g_to - g_from > gap_s) {
                        holds = true;
                        until = (g_to + r->window_ms / 1000) * 1000;
                        snprintf (reason, sizeof (reason), "a %llds gap in the archive from %lld to %lld",
                                  (long long) (g_to - g_from), (long long) g_from, (long long) g_to);
                        break;
                    }
                }
                //  A recording that stopped is a gap growing now
                int64_t last = d->nranges ? d->ranges [d->nranges - 1].to : 0;
                if (!holds && last && d->current_from <= last && now_s - last > gap_s) {
                    holds = true;
                    until = 0;
                    snprintf (reason, sizeof (reason), "not recorded since %lld (%llds)",
                              (long long) last, (long long) (now_s - last));
                }
            }
            else if (d->depth_s > 0) {
                int64_t oldest = d->nranges ? d->ranges [0].from : d->current_from;
                int64_t need = d->depth_s * r->percent / 100;
                if (oldest > 0 && now_s - oldest < need) {
                    holds = true;
                    until = (oldest + need) * 1000;
                    snprintf (reason, sizeof (reason), "archive holds %llds, less than %u %% of its depth %llds",
                              (long long) (now_s - oldest), r->percent, (long long) d->depth_s);
                }
            }
        }
        if (holds) {
            char basis [64];
            snprintf (basis, sizeof (basis), "v%" PRIu64 ".%" PRIu64, row.sum.gen, row.sum.seq);
            s_holds (self, i, node, name, subject, basis, reason, 1, until, now_ms);
        }
        else if (had & (1ULL << i))
            s_clears_key (self, i, node, name, now_ms);
    }
    sf_stream_clear (&s);
}

//  -------------------------------------------------------------------------
//  What fires, across restarts: the cluster's open episodes, loaded from the
//  store (sf_alerts_set_store; gossip brings what changed meanwhile), are
//  this controller's firing alerts again, without a transition (nothing is
//  sent again), under their since and basis, and are judged afresh: a
//  stream alert from its placement's record at once, a node alert must be
//  confirmed (its node down again, its disk full again) within the confirm
//  time or it resolves, so a resolution is sent for what cleared while the
//  controller was away.

int
sf_alerts_restore (sf_alerts_t *self, int64_t confirm_ms, int64_t now_ms)
{
    pthread_mutex_lock (&self->lock);
    int restored = 0;
    sf_read_t rd;
    bool reading = self->store && sf_store_read_begin (self->store, &rd) == 0;
    //  The open episodes first (the table changes below)
    size_t n = zhashx_size (self->current);
    s_episode_t *open = sf_xmalloc ((n + 1) * sizeof (*open));
    n = 0;
    for (s_episode_t *e = zhashx_first (self->current); e; e = zhashx_next (self->current))
        open [n++] = *e;
    for (size_t i = 0; i < n; i++) {
        const s_episode_t *e = &open [i];
        size_t r;
        for (r = 0; r < self->nrules; r++)
            if (!strcmp (self->rules [r].name, e->rule))
                break;
        if (r == self->nrules || zhashx_lookup (self->alerts, e->key))
            continue;           //  the rule is gone (its alerts with it), or restored already
        char subject [SF_NODE_MAX + SF_NAME_MAX + 2] = "";
        if (e->stream [0])
            s_subject_key (subject, sizeof (subject), e->node, e->stream);
        //  Fires on as it was (no transition, nothing sent)
        self->restoring = true;
        s_holds (self, r, e->node, e->stream, subject, e->basis, e->reason, e->streams, 0, now_ms);
        self->restoring = false;
        s_alert_t *a = zhashx_lookup (self->alerts, e->key);
        if (!a)
            continue;
        if (a->state == S_PENDING) {
            a->state = S_FIRING;
            self->firing [r]++;
        }
        a->since_ms = e->since_ms;
        snprintf (a->basis, sizeof (a->basis), "%s", e->basis);
        restored++;
        //  Judged afresh
        if (!e->stream [0])
            a->until_ms = now_ms + confirm_ms;
        else if (s_dvr_cond (self->rules [r].cond))
            zhashx_insert (self->dvr_dirty, subject, (void *) 1);
        else if (reading) {
            sf_row_t row;
            if (sf_store_get_row (&rd, e->node, e->stream, &row) == 0) {
                sf_store_change_t ch = { .deleted = false, .node = e->node, .name = e->stream, .sum = row.sum };
                s_apply_one (self, &ch, now_ms);
            }
            else {
                sf_store_change_t ch = { .deleted = true, .node = e->node, .name = e->stream };
                s_apply_one (self, &ch, now_ms);
            }
        }
    }
    free (open);
    if (reading)
        sf_store_read_end (&rd);
    pthread_mutex_unlock (&self->lock);
    s_flush (self);
    if (restored)
        sf_info ("alerts: %d alert%s firing before the restart, judged again", restored,
                 restored == 1 ? "" : "s");
    return restored;
}

void
sf_alerts_tick (sf_alerts_t *self, int64_t now_ms)
{
    pthread_mutex_lock (&self->lock);
    //  Placements whose DVR state changed, read once each
    if (zhashx_size (self->dvr_dirty) && self->store) {
        sf_read_t rd;
        if (sf_store_read_begin (self->store, &rd) == 0) {
            zlistx_t *keys = zhashx_keys (self->dvr_dirty);
            for (const char *k = zlistx_first (keys); k; k = zlistx_next (keys))
                s_dvr_judge (self, &rd, k, now_ms);
            zlistx_destroy (&keys);
            sf_store_read_end (&rd);
        }
    }
    zhashx_purge (self->dvr_dirty);
    //  Hold times, and conditions that time alone changes
    size_t count;
    s_alert_t **all = s_snapshot (self, &count);
    for (size_t k = 0; k < count; k++) {
        s_alert_t *a = all [k];
        const sf_alert_rule_t *r = &self->rules [a->rule];
        if (r->cond == SF_COND_RECONNECTS && a->until_ms && now_ms >= a->until_ms) {
            //  The window moved on: judged again on what was seen
            s_recon_t *rc = zhashx_lookup (self->recon, a->subject);
            int64_t until;
            if (s_recon_rose (rc, r, now_ms, &until))
                a->until_ms = until;
            else {
                a->until_ms = 0;
                s_clears (self, a, now_ms);
                continue;
            }
        }
        s_advance (self, a, now_ms);
    }
    free (all);
    pthread_mutex_unlock (&self->lock);
    s_flush (self);
}

//  -------------------------------------------------------------------------
//  Readers

static void
s_reply_event (sf_reply_t *r, const sf_alert_event_t *ev)
{
    sf_reply_map (r);
    sf_reply_kstr (r, "key", ev->key);
    sf_reply_kstr (r, "idempotency_key", ev->idempotency_key);
    sf_reply_kstr (r, "rule", ev->rule);
    sf_reply_kstr (r, "condition", sf_alert_cond_name (ev->cond));
    sf_reply_kstr (r, "state", ev->resolved ? "resolved" : "firing");
    sf_reply_ktext (r, "node", ev->node);
    sf_reply_ktext (r, "stream", ev->stream);
    sf_reply_kstr (r, "reason", ev->reason);
    sf_reply_kint (r, "since_ms", ev->since_ms);
    sf_reply_kint (r, "at_ms", ev->at_ms);
    sf_reply_kuint (r, "streams", ev->streams);
    sf_reply_close (r);
}

static void
s_reply_rule (sf_reply_t *rp, sf_alerts_t *self, size_t i)
{
    const sf_alert_rule_t *r = &self->rules [i];
    char params [64];
    sf_reply_map (rp);
    sf_reply_kstr (rp, "name", r->name);
    sf_reply_kstr (rp, "condition", sf_alert_cond_name (r->cond));
    sf_reply_ktext (rp, "filter", sf_filter_params (&r->filter, params, sizeof (params)));
    sf_reply_ktext (rp, "name_match", r->filter.name);
    sf_reply_ktext (rp, "node", r->filter.node);
    sf_reply_kint (rp, "for_ms", r->for_ms);
    sf_reply_kint (rp, "resolve_ms", r->resolve_ms);
    sf_reply_ktext (rp, "to", r->to);
    sf_reply_kstr (rp, "text", r->text);
    sf_reply_kuint (rp, "firing", self->firing [i]);
    sf_reply_close (rp);
}

typedef struct {
    const s_episode_t *e;
    int64_t at_ms;
    bool resolved;
} s_recent_t;

//  Newest first; the same order on every controller
static int
s_cmp_recent (const void *pa, const void *pb)
{
    const s_recent_t *a = pa, *b = pb;
    if (a->at_ms != b->at_ms)
        return a->at_ms > b->at_ms ? -1 : 1;
    if (a->resolved != b->resolved)
        return a->resolved ? -1 : 1;
    return strcmp (a->e->id, b->e->id);
}

#define S_RECENT_MAX 1024

void
sf_alerts_reply (sf_alerts_t *self, const char *stream, const char *node, msgpack_sbuffer *reply)
{
    sf_reply_t r;
    sf_reply_begin (&r, reply, "alerts_reply");
    pthread_mutex_lock (&self->lock);
    sf_reply_key (&r, "rules");
    sf_reply_array (&r);
    for (size_t i = 0; i < self->nrules; i++)
        s_reply_rule (&r, self, i);
    sf_reply_close (&r);
    //  Firing (resolving ones still fire), oldest first
    size_t count, n = 0;
    s_alert_t **firing = s_snapshot (self, &count);
    for (size_t k = 0; k < count; k++)
        if (firing [k]->state != S_PENDING)
            firing [n++] = firing [k];
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && (firing [j - 1]->since_ms > firing [j]->since_ms
                   || (firing [j - 1]->since_ms == firing [j]->since_ms
                       && strcmp (firing [j - 1]->key, firing [j]->key) > 0)); j--) {
            s_alert_t *t = firing [j];
            firing [j] = firing [j - 1];
            firing [j - 1] = t;
        }
    sf_reply_key (&r, "firing");
    sf_reply_array (&r);
    for (size_t i = 0; i < n; i++) {
        s_alert_t *a = firing [i];
        const sf_alert_rule_t *rule = &self->rules [a->rule];
        sf_reply_map (&r);
        sf_reply_kstr (&r, "key", a->key);
        sf_reply_kstr (&r, "rule", rule->name);
        sf_reply_kstr (&r, "condition", sf_alert_cond_name (rule->cond));
        sf_reply_kstr (&r, "state", a->state == S_RESOLVING ? "resolving" : "firing");
        sf_reply_ktext (&r, "node", a->node);
        sf_reply_ktext (&r, "stream", a->stream);
        sf_reply_kstr (&r, "reason", a->reason);
        sf_reply_kint (&r, "since_ms", a->since_ms);
        sf_reply_kuint (&r, "streams", a->streams);
        char *link = sf_alert_web_link (self->web_url, a->node, a->stream);
        sf_reply_ktext (&r, "link", link);
        free (link);
        sf_reply_close (&r);
    }
    sf_reply_close (&r);
    free (firing);
    //  Recent transitions, newest first: the cluster's episodes (every
    //  controller's, merged), each its firing and its resolution
    s_recent_t *rec = sf_xmalloc ((2 * zhashx_size (self->episodes) + 1) * sizeof (*rec));
    size_t nrec = 0;
    for (s_episode_t *e = zhashx_first (self->episodes); e; e = zhashx_next (self->episodes)) {
        if (stream && *stream && strcmp (e->stream, stream))
            continue;
        if (node && *node && strcmp (e->node, node))
            continue;
        if (e->fired_ms)
            rec [nrec++] = (s_recent_t) { e, e->fired_ms, false };
        if (e->resolved_ms)
            rec [nrec++] = (s_recent_t) { e, e->resolved_ms, true };
    }
    qsort (rec, nrec, sizeof (*rec), s_cmp_recent);
    sf_reply_key (&r, "recent");
    sf_reply_array (&r);
    for (size_t k = 0; k < nrec && k < S_RECENT_MAX; k++) {
        const s_episode_t *e = rec [k].e;
        sf_alert_event_t ev;
        memset (&ev, 0, sizeof (ev));
        snprintf (ev.key, sizeof (ev.key), "%s", e->key);
        s_group (self, e->key, e->basis, rec [k].resolved, &ev.idempotency_key, 1, NULL);
        snprintf (ev.rule, sizeof (ev.rule), "%s", e->rule);
        ev.cond = SF_COND_COUNT;
        for (size_t i = 0; i < self->nrules; i++)
            if (!strcmp (self->rules [i].name, e->rule))
                ev.cond = self->rules [i].cond;
        ev.resolved = rec [k].resolved;
        snprintf (ev.node, sizeof (ev.node), "%s", e->node);
        snprintf (ev.stream, sizeof (ev.stream), "%s", e->stream);
        snprintf (ev.reason, sizeof (ev.reason), "%s", e->reason);
        ev.since_ms = e->since_ms;
        ev.at_ms = rec [k].at_ms;
        ev.streams = e->streams;
        s_reply_event (&r, &ev);
    }
    free (rec);
    sf_reply_close (&r);
    pthread_mutex_unlock (&self->lock);
    sf_reply_end (&r);
}

static void
s_label (FILE *out, const char *v)
{
    for (const char *p = v; *p; p++)
        fputc (*p == '"' || *p == '\\' || *p == '\n' ? '_' : *p, out);
}

void
sf_alerts_metrics_write (sf_alerts_t *self, FILE *out)
{
    pthread_mutex_lock (&self->lock);
    fprintf (out, "# HELP streamfleet_alerts_firing Alerts firing now, per rule.\n"
                  "# TYPE streamfleet_alerts_firing gauge\n");
    for (size_t i = 0; i < self->nrules; i++) {
        fprintf (out, "streamfleet_alerts_firing{rule=\"");
        s_label (out, self->rules [i].name);
        fprintf (out, "\",condition=\"%s\"} %u\n", sf_alert_cond_name (self->rules [i].cond),
                 self->firing [i]);
    }
    fprintf (out, "# HELP streamfleet_alert_transitions_total Alerts fired and resolved, per rule.\n"
                  "# TYPE streamfleet_alert_transitions_total counter\n");
    for (size_t i = 0; i < self->nrules; i++) {
        fprintf (out, "streamfleet_alert_transitions_total{rule=\"");
        s_label (out, self->rules [i].name);
        fprintf (out, "\",state=\"firing\"} %" PRIu64 "\n", self->fired_total [i]);
        fprintf (out, "streamfleet_alert_transitions_total{rule=\"");
        s_label (out, self->rules [i].name);
        fprintf (out, "\",state=\"resolved\"} %" PRIu64 "\n", self->resolved_total [i]);
    }
    pthread_mutex_unlock (&self->lock);
}

size_t
sf_alerts_firing (sf_alerts_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t n = 0;
    for (size_t i = 0; i < self->nrules; i++)
        n += self->firing [i];
    pthread_mutex_unlock (&self->lock);
    return n;
}

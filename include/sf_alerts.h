/*  sf_alerts.h — alert rules, evaluated once per change, with hold times
    (controller/alerts.c; docs/operations.md "Alerts").

    A rule is one line of the controller's `alert` option:

        NAME CONDITION [for=DUR] [resolve=DUR] [filter=PARAMS] [name=PATTERN]
                       [node=NODE] [CONDITION'S OWN KEYS] [to=WEBHOOK,...]

    Its selector is the listing's own filter (sf_filter.h: the same
    parameters, name match and node match); the conditions are

      inactive        a stream not active: offline, error, starting, or a
                      primary suspended
      no-bitrate      an active stream whose bitrate is 0
      reconnects      a stream's reconnect attempts rose by rise=N (5) within
                      within=DUR (5m)
      node-down       a node down (one alert per node, with its stream count)
      transfer-stuck  a stream in transfer (for= defaults to --transfer-timeout)
      conflict        a stream live on two nodes, not a transfer
      dvr-gap         a gap longer than gap=DUR (1m) in the archive within the
                      last window=DUR (24h)
      disk            a node disk at least percent=P (90) % full
      archive-short   an archive covering less than percent=P (90) % of its
                      configured depth

    An alert fires when its condition has held for `for`, and resolves when
    it has not held for `resolve` (so a blip shorter than either changes
    nothing). A node down is one alert: the stream rules do not fire for the
    streams of a down node one by one but once for the node, with the count
    of affected streams, and not at all when a node-down rule covers it.

    Inputs, all on the ingest thread (the writer's): every committed
    placement change (sf_alerts_apply, the store's observer), every node
    record and liveness transition (sf_alerts_node, the writer's change
    hook) and a coarse timer (sf_alerts_tick) for hold times and for what
    time alone changes. A change costs one selector match per rule and one
    hash lookup; nothing scans the fleet per change. The query and HTTP
    threads read the firing set through sf_alerts_reply and
    sf_alerts_metrics_write; one mutex guards the tables.
*/
#ifndef SF_ALERTS_H
#define SF_ALERTS_H

#include "sf_filter.h"
#include "sf_store.h"
#include "sf_writer.h"
#include <msgpack.h>
#include <stdio.h>

#define SF_ALERT_RULES_MAX 64
#define SF_ALERT_RULE_NAME_MAX 64
#define SF_ALERT_KEY_MAX (SF_ALERT_RULE_NAME_MAX + SF_NODE_MAX + SF_NAME_MAX + 3)
#define SF_ALERT_REASON_MAX 192
#define SF_ALERT_LINK_MAX 512

typedef enum {
    SF_COND_INACTIVE = 0,
    SF_COND_NO_BITRATE,
    SF_COND_RECONNECTS,
    SF_COND_NODE_DOWN,
    SF_COND_TRANSFER_STUCK,
    SF_COND_CONFLICT,
    SF_COND_DVR_GAP,
    SF_COND_DISK,
    SF_COND_ARCHIVE_SHORT,
    SF_COND_COUNT
} sf_alert_cond_t;

const char *sf_alert_cond_name (int cond);

typedef struct {
    char name [SF_ALERT_RULE_NAME_MAX + 1];
    uint8_t cond;               //  sf_alert_cond_t
    sf_filter_t filter;         //  the listing's selector
    int64_t for_ms;             //  held this long before it fires
    int64_t resolve_ms;         //  not held this long before it resolves
    uint32_t rise;              //  reconnects: attempts
    int64_t within_ms;          //  reconnects: in this window
    int64_t gap_ms;             //  dvr-gap: longer than
    int64_t window_ms;          //  dvr-gap: within the last
    uint32_t percent;           //  disk, archive-short
    char to [256];              //  webhook names, comma-separated ("" every one)
    char text [512];            //  the rule as written
} sf_alert_rule_t;

//  Parses one rule line. Returns 0, or -1 with err naming what is wrong and
//  what would be valid. transfer_timeout_s is transfer-stuck's default hold.
int sf_alert_rule_parse (sf_alert_rule_t *rule, const char *line, int64_t transfer_timeout_s,
                         char *err, size_t errlen);

//  One alert transition: what the webhooks carry (docs/http-api.md)
typedef struct {
    char key [SF_ALERT_KEY_MAX + 1];    //  rule/node[/stream]: the alert's identity
    char idempotency_key [33];  //  one per transition: hex of (key, the basis of the cluster's
                                //  episode it belongs to, state), as known when it was made
                                //  (sf_alerts_idem gives it again once the episodes met)
    char basis [64];            //  the replicated fact this controller judged it from
    char rule [SF_ALERT_RULE_NAME_MAX + 1];
    uint8_t cond;
    bool resolved;              //  false: firing
    char node [SF_NODE_MAX + 1];
    char stream [SF_NAME_MAX + 1];  //  "" for a node alert
    char reason [SF_ALERT_REASON_MAX];
    int64_t since_ms;           //  unix ms the condition began to hold
    int64_t at_ms;              //  unix ms of this transition
    uint32_t streams;           //  a node alert: streams affected
    char to [256];              //  the rule's webhooks ("" every one)
    char rtsp [SF_ALERT_LINK_MAX];
    char hls [SF_ALERT_LINK_MAX];
} sf_alert_event_t;

typedef void (sf_alerts_event_fn) (const sf_alert_event_t *ev, void *arg);

typedef struct sf_alerts_t sf_alerts_t;

//  Rules from text, one per line ('#' comments and empty lines skipped).
//  Returns NULL with err set ("alert rule 2 'x': ...") when one is bad.
sf_alerts_t *sf_alerts_new (const char *rules, int64_t transfer_timeout_s, char *err, size_t errlen);
void sf_alerts_destroy (sf_alerts_t **self_p);
size_t sf_alerts_rule_count (sf_alerts_t *self);
//  The store node alerts count streams in and DVR conditions read records
//  from (NULL: node alerts count 0, DVR conditions never hold); the alert
//  history kept in it (SF_DB_ALERTS) is loaded
void sf_alerts_set_store (sf_alerts_t *self, sf_store_t *store);
//  Writes the alert episodes changed since the last call into the store's
//  open write transaction (the ingest thread, after sf_alerts_tick). 0, or
//  -1 when a write failed (no transaction open, a full map or disk): then
//  nothing of the call counts as stored, and the next call writes it all.
int sf_alerts_store (sf_alerts_t *self);
//  Whether episodes changed since sf_alerts_store (ingest thread)
bool sf_alerts_unstored (sf_alerts_t *self);
//  The transaction of the last sf_alerts_store was lost (sf_writer_on_lost,
//  arg is the sf_alerts_t): its episodes and deletes are unstored again
void sf_alerts_store_lost (void *arg);
//  Called for every transition, on the thread that caused it, without the
//  lock held
void sf_alerts_on_event (sf_alerts_t *self, sf_alerts_event_fn *fn, void *arg);
//  The base of links to the web page's detail in payloads ("" none)
void sf_alerts_set_web_url (sf_alerts_t *self, const char *url);
//  The web page's link for an alert (web_url "" or NULL: "" too): a stream
//  alert's opens the stream's detail (#/streams?name=NAME&node=NODE&detail=1),
//  a node alert's the listing of the node's streams (#/streams?node=NODE).
//  Names percent-encoded. The caller frees it.
char *sf_alert_web_link (const char *web_url, const char *node, const char *stream);

//  What fired before a restart fires on: the cluster's open episodes, as
//  the store kept them (sf_alerts_set_store loads them; call after it),
//  become firing alerts again without a transition (nothing is sent again),
//  with their since and basis, and are judged again — a stream alert from
//  its placement at once, a node alert must be confirmed (its node reported
//  down, its disk full) within confirm_ms or it resolves. Returns how many.
int sf_alerts_restore (sf_alerts_t *self, int64_t confirm_ms, int64_t now_ms);

//  Inputs (ingest thread); now_ms is the wall clock, unix ms
void sf_alerts_apply (sf_alerts_t *self, const sf_store_change_t *changes, size_t count,
                      int64_t now_ms);
//  The store observer form (now from the wall clock)
void sf_alerts_observe (void *self, const sf_store_change_t *changes, size_t count);
void sf_alerts_node (sf_alerts_t *self, const sf_change_t *ch, int64_t now_ms);
//  Fires and resolves what is due; reads the DVR state of placements that
//  changed. Call about once a second.
void sf_alerts_tick (sf_alerts_t *self, int64_t now_ms);

//  The cluster's firing state and alert history: alert episodes (one alert
//  key firing from `since` until resolved), every controller's transitions
//  merged into one per (alert key, basis) by gossip, where the earliest
//  since, firing and resolution win; a controller's alert takes its key's
//  open episode's since and basis (so also its idempotency keys), also on a
//  controller that started after the alert fired. Digests per bucket (the
//  XOR of its episodes' hashes; equal tables, equal digests); an offer packs,
//  as one array, the episodes of the buckets whose digest differs from
//  theirs (NULL: every one); apply merges a peer's offer and returns how many
//  entries were malformed (skipped). Ingest thread (apply), any (the rest).
#define SF_ALERTS_SYNC_BUCKETS 16
//  A transition's idempotency key as the cluster knows its episode now
//  (docs/http-api.md, "Idempotency keys"): of all the episodes of key that
//  overlap (key, basis)'s in time — one firing judged by several
//  controllers, maybe from different record versions — the one with the
//  earliest since (then the smallest identity) names it, so every
//  controller gives the same key once the episodes met by gossip. idem [0]
//  gets that key, the rest (up to max) the other overlapping episodes'
//  keys (a delivery confirmed under any of them is delivered); *since_ms
//  (when not NULL) that episode's since. Returns how many keys (1 when
//  (key, basis) has no episode: its own). Any thread; the delivery thread
//  asks before every attempt.
size_t sf_alerts_idem (sf_alerts_t *self, const char *key, const char *basis, bool resolved,
                       char (*idem) [33], size_t max, int64_t *since_ms);
void sf_alerts_sync_digest (sf_alerts_t *self, uint64_t digest [SF_ALERTS_SYNC_BUCKETS]);
void sf_alerts_sync_offer (sf_alerts_t *self, const uint64_t *theirs, msgpack_packer *pk);
int sf_alerts_sync_apply (sf_alerts_t *self, const msgpack_object *list, int64_t now_ms);

//  Readers (any thread)
//  alerts_reply {rules, firing, recent}: recent transitions (the newest
//  1,024 of the episodes), of one stream (and node) when stream is not
//  NULL/"".
void sf_alerts_reply (sf_alerts_t *self, const char *stream, const char *node,
                      msgpack_sbuffer *reply);
//  streamfleet_alerts_firing{rule=...} and the rules' transition counts
void sf_alerts_metrics_write (sf_alerts_t *self, FILE *out);
//  Alerts firing now (all rules)
size_t sf_alerts_firing (sf_alerts_t *self);
#endif

/*  sf_webhook.h — alert delivery to webhooks (controller/webhook.c;
    docs/http-api.md "Alert webhooks").

    A receiver is one line of the controller's `webhook` option:

        NAME URL [secret-file=PATH]

    Every alert transition a rule sends to a receiver (sf_alerts.h) becomes
    one delivery: a JSON body POSTed to URL with an Idempotency-Key (one per
    transition) and, with a secret, an HMAC-SHA256 signature over
    "TIMESTAMP.BODY" (X-Streamfleet-Signature: sha256=HEX,
    X-Streamfleet-Timestamp: TIMESTAMP). A 2xx answer is delivered; anything
    else is retried with exponential back-off (backoff-ms, doubling, at most
    backoff-max-ms), and after `retries` failed attempts the delivery is a
    dead letter (kept, counted in /metrics, no longer tried, listed and
    replayed on request; the oldest beyond a bound are dropped, counted).

    Each receiver's queue lives in LMDB (its own environment under the data
    directory), in order: a controller restarted with deliveries pending
    sends them. A write of the queue that fails (a full disk) keeps its
    changes in memory, read over the store, until a write works
    (docs/operations.md, "Alerts and webhooks on a full disk"). One thread, the delivery thread, owns the queue and libcurl;
    the ingest thread hands it transitions through a locked inbox and never
    waits for a receiver.
*/
#ifndef SF_WEBHOOK_H
#define SF_WEBHOOK_H

#include "sf_alerts.h"
#include "sf_gossip.h"
#include <stdbool.h>
#include <stdio.h>

typedef struct {
    const char *receivers;      //  webhook lines
    const char *queue_dir;      //  the queue's LMDB environment (made if absent)
    const char *controller_id;  //  in every body
    const char *web_url;        //  the web page's base, for links ("" none)
    int64_t retries;            //  failed attempts before a dead letter
    int64_t backoff_ms;         //  the first retry's wait
    int64_t backoff_max_ms;     //  the longest wait
    int64_t timeout_ms;         //  one attempt's limit
    int64_t standby_max_ms;     //  a standby copy never confirmed goes after this long
    int64_t dead_max;           //  dead letters kept per receiver (the oldest beyond go)
    //  A firing's first attempt waits, at most this long, until every live
    //  peer holds its episode (sf_webhooks_set_peers); 0: never waits
    int64_t first_wait_max_ms;
} sf_webhooks_config_t;

typedef struct sf_webhooks_t sf_webhooks_t;

//  Parses the receivers, opens the queue and starts the delivery thread.
//  NULL with err set when a receiver line, its secret file or the queue is
//  bad. With no receivers, returns an object that delivers nothing.
sf_webhooks_t *sf_webhooks_new (const sf_webhooks_config_t *cfg, char *err, size_t errlen);
//  Stops the thread (an attempt under way finishes or times out first)
void sf_webhooks_destroy (sf_webhooks_t **self_p);
size_t sf_webhooks_count (sf_webhooks_t *self);
//  The alerts' callback (sf_alerts_on_event): queues the transition for
//  each receiver its rule names (every one when it names none). Never blocks
//  on a receiver.
void sf_webhooks_alert (const sf_alert_event_t *ev, void *self);

//  The alerts whose episodes name the idempotency key of each delivery
//  (sf_alerts_idem), asked before every attempt and every confirmation
//  check: a delivery queued under one controller's view of a firing is sent
//  under the cluster's, and a confirmation under any controller's key of the
//  same firing is one. NULL (the default): each delivery's own key.
void sf_webhooks_set_alerts (sf_webhooks_t *self, sf_alerts_t *alerts);

//  Cluster ownership: whether this controller delivers alert key now. Asked
//  by the delivery thread before each attempt; NULL: always. A delivery this
//  controller does not own is a standby copy: it waits until its owner
//  confirms it delivered it (below), and is delivered here if ownership
//  moves here first (the owner died); one never confirmed goes after
//  standby_max_ms (counted, logged).
typedef bool (sf_webhooks_owner_fn) (const char *key, void *arg);
void sf_webhooks_set_owner (sf_webhooks_t *self, sf_webhooks_owner_fn *fn, void *arg);

//  The live peers (gossip ids, this controller not among them): fills at
//  most max ids, returns how many. Asked by the delivery thread before a
//  firing's first attempt, which waits until each of them was in sync with
//  this controller's alert episodes after the firing was queued (the
//  gossip `alerts` exchange, sf_webhooks_peer_synced), or first_wait_max_ms
//  passed: the first attempt then goes by the key the whole cluster agrees
//  on (issue 17). NULL, or no peer: no wait.
#define SF_WEBHOOKS_PEER_ID_MAX 64
typedef size_t (sf_webhooks_peers_fn) (char (*ids) [SF_WEBHOOKS_PEER_ID_MAX], size_t max, void *arg);
void sf_webhooks_set_peers (sf_webhooks_t *self, sf_webhooks_peers_fn *fn, void *arg);
//  Peer id holds every alert episode this controller held at at_ms (unix
//  ms), and this controller every one it held: the `alerts` exchange saw
//  equal episode digests, or answered it with its final offer. Any thread.
void sf_webhooks_peer_synced (sf_webhooks_t *self, const char *id, int64_t at_ms);

//  Delivery confirmations, replicated by gossip (docs/protocol.md, alerts):
//  every (receiver, idempotency key) a receiver answered 2xx for, on any
//  controller, kept a day (the newest 16,384). The digest names the set per
//  bucket (XOR of its entries' hashes: equal sets, equal digests); pack
//  writes, as one array [[receiver, idempotency key, unix ms], ...], the
//  entries of the buckets whose digest differs from theirs (NULL: all);
//  apply merges a peer's and returns how many entries were malformed
//  (skipped). Any thread; NULL or no receivers: empty.
void sf_webhooks_confirm_digest (sf_webhooks_t *self, uint64_t digest [SF_ALERTS_SYNC_BUCKETS]);
void sf_webhooks_confirm_pack (sf_webhooks_t *self, const uint64_t *theirs, msgpack_packer *pk);
int sf_webhooks_confirm_apply (sf_webhooks_t *self, const msgpack_object *list);
//  Whether receiver's delivery idem is confirmed
bool sf_webhooks_confirmed (sf_webhooks_t *self, const char *receiver, const char *idem);

//  Dead letters (every receiver's, or webhook's), oldest first, as
//  dead_letters_reply {letters: [{webhook, seq, idempotency_key, key,
//  attempts, queued_ms, last_attempt_ms, body}], total}. Any thread. 0.
int sf_webhooks_dead_letters (sf_webhooks_t *self, const char *webhook, msgpack_sbuffer *reply);
//  Delivers again the dead letters whose idempotency key or alert key is
//  key (NULL or "": every one): the delivery thread moves them back into
//  their queues with their attempts from 0. *found: how many matched. Any
//  thread. 0, or -1 when the queue cannot be read.
int sf_webhooks_replay (sf_webhooks_t *self, const char *key, size_t *found);

//  The `alerts` gossip message's state (sf_gossip_ext_t, docs/protocol.md):
//  the alert episodes and the delivery confirmations, digests {e, c} and
//  offers {episodes, delivered}. Fills ext, whose arg is *arg (kept by the
//  caller as long as gossip runs). webhooks may have no receivers.
typedef struct {
    sf_alerts_t *alerts;
    sf_webhooks_t *webhooks;
} sf_alerts_ext_t;
void sf_alerts_gossip_ext (sf_gossip_ext_t *ext, sf_alerts_ext_t *arg, sf_alerts_t *alerts,
                           sf_webhooks_t *webhooks);

//  Per receiver: queued, attempts, delivered, failed attempts, dead letters
void sf_webhooks_metrics_write (sf_webhooks_t *self, FILE *out);

//  The JSON body of a transition (docs/http-api.md); the caller frees it
char *sf_webhook_body (const sf_alert_event_t *ev, const char *controller_id, const char *web_url);
//  The signature header's hex: HMAC-SHA256 (secret, timestamp "." body)
void sf_webhook_sign (const unsigned char *secret, size_t secret_len, const char *timestamp,
                      const char *body, size_t body_len, char hex [65]);
#endif

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
    dead letter (kept, counted in /metrics, no longer tried).

    Each receiver's queue lives in LMDB (its own environment under the data
    directory), in order: a controller restarted with deliveries pending
    sends them. One thread, the delivery thread, owns the queue and libcurl;
    the ingest thread hands it transitions through a locked inbox and never
    waits for a receiver.
*/
#ifndef SF_WEBHOOK_H
#define SF_WEBHOOK_H

#include "sf_alerts.h"
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
    int64_t standby_ms;         //  a delivery another controller owns is kept this long
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

//  Cluster ownership: whether this controller delivers alert key now. Asked
//  by the delivery thread before each attempt; NULL: always. A delivery this
//  controller does not own is a standby copy: it waits (and is delivered if
//  ownership moves here, when the owner dies) for standby_ms, then goes.
typedef bool (sf_webhooks_owner_fn) (const char *key, void *arg);
void sf_webhooks_set_owner (sf_webhooks_t *self, sf_webhooks_owner_fn *fn, void *arg);

//  Per receiver: queued, attempts, delivered, failed attempts, dead letters
void sf_webhooks_metrics_write (sf_webhooks_t *self, FILE *out);

//  The JSON body of a transition (docs/http-api.md); the caller frees it
char *sf_webhook_body (const sf_alert_event_t *ev, const char *controller_id, const char *web_url);
//  The signature header's hex: HMAC-SHA256 (secret, timestamp "." body)
void sf_webhook_sign (const unsigned char *secret, size_t secret_len, const char *timestamp,
                      const char *body, size_t body_len, char hex [65]);
#endif

/*  test_webhook.c — the webhook body (the fields docs/http-api.md lists,
    links percent-encoded, the web link opening the stream's detail), the
    signature (HMAC-SHA256 over "TIMESTAMP.BODY", checked against
    libsodium's one-shot HMAC and RFC 4231's vector), receiver lines refused
    with a reason, the delivery confirmations (merged, digested, malformed
    ones counted), a standby copy dropped on its owner's confirmation and
    not before, and one never confirmed dropped at the hard bound, counted;
    a firing's first attempt waits until the live peers' alert episodes are
    merged and goes by the key the cluster agreed on (alone: at once; at
    the bound: anyway, counted); a full disk under the queue (write, pwrite
    and writev of its files fail with ENOSPC, interposed here) loses no
    delivery and no attempt: deliveries queued meanwhile are tried, their
    attempts and removals are written once the disk has room, and a restart
    after that finds the queue as it was.
*/
#include "sf_webhook.h"
#include "fixture_http.h"     //  a receiver that answers 2xx or 500 on demand
#include "sf_codec.h"
#include "sf_store.h"
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <sys/uio.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

static void
test_body_fields (void **state)
{
    sf_alert_event_t ev;
    memset (&ev, 0, sizeof (ev));
    strcpy (ev.key, "cam-offline/n1/cam 7");
    strcpy (ev.idempotency_key, "00112233445566778899aabbccddeeff");
    strcpy (ev.rule, "cam-offline");
    ev.cond = SF_COND_INACTIVE;
    strcpy (ev.node, "n1");
    strcpy (ev.stream, "cam 7");
    strcpy (ev.reason, "primary error, not active");
    ev.since_ms = 1000;
    ev.at_ms = 601000;
    strcpy (ev.rtsp, "rtsp://media/cam7");
    char *text = sf_webhook_body (&ev, "c1", "http://127.0.0.1:7680/");
    json_error_t e;
    json_t *o = json_loads (text, 0, &e);
    assert_non_null (o);
    assert_string_equal (json_string_value (json_object_get (o, "state")), "firing");
    assert_string_equal (json_string_value (json_object_get (o, "condition")), "inactive");
    assert_string_equal (json_string_value (json_object_get (o, "stream")), "cam 7");
    assert_string_equal (json_string_value (json_object_get (o, "controller")), "c1");
    assert_string_equal (json_string_value (json_object_get (o, "idempotency_key")), ev.idempotency_key);
    assert_int_equal (json_integer_value (json_object_get (o, "since_ms")), 1000);
    json_t *links = json_object_get (o, "links");
    assert_string_equal (json_string_value (json_object_get (links, "rtsp")), "rtsp://media/cam7");
    assert_true (json_is_null (json_object_get (links, "hls")));
    assert_string_equal (json_string_value (json_object_get (links, "web")),
                         "http://127.0.0.1:7680/#/streams?name=cam%207&node=n1&detail=1");
    json_decref (o);
    free (text);
    //  A node alert: stream null, the count of streams
    ev.stream [0] = 0;
    ev.streams = 40;
    ev.resolved = true;
    text = sf_webhook_body (&ev, "c1", "");
    o = json_loads (text, 0, &e);
    assert_true (json_is_null (json_object_get (o, "stream")));
    assert_int_equal (json_integer_value (json_object_get (o, "streams")), 40);
    assert_string_equal (json_string_value (json_object_get (o, "state")), "resolved");
    json_decref (o);
    free (text);
}

static void
test_signature (void **state)
{
    //  The header is HMAC over TIMESTAMP "." BODY: libsodium's HMAC over the
    //  joined text, computed apart
    char hex [65];
    const char *body = "{\"a\":1}";
    sf_webhook_sign ((const unsigned char *) "Jefe", 4, "1700000000", body, strlen (body), hex);
    const char *msg = "1700000000.{\"a\":1}";
    unsigned char mac [32];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init (&st, (const unsigned char *) "Jefe", 4);
    crypto_auth_hmacsha256_update (&st, (const unsigned char *) msg, strlen (msg));
    crypto_auth_hmacsha256_final (&st, mac);
    char want [65];
    sodium_bin2hex (want, sizeof (want), mac, sizeof (mac));
    assert_string_equal (hex, want);
    //  The primitive itself, on RFC 4231's vector
    crypto_auth_hmacsha256_init (&st, (const unsigned char *) "Jefe", 4);
    crypto_auth_hmacsha256_update (&st, (const unsigned char *) "what do ya want for nothing?", 28);
    crypto_auth_hmacsha256_final (&st, mac);
    sodium_bin2hex (want, sizeof (want), mac, sizeof (mac));
    assert_string_equal (want, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void
test_receiver_lines (void **state)
{
    char err [512];
    sf_webhooks_config_t cfg = { .queue_dir = "/nonexistent", .retries = 3, .backoff_ms = 10,
                                 .backoff_max_ms = 100, .timeout_ms = 1000 };
    cfg.receivers = "ops ftp://example";
    assert_null (sf_webhooks_new (&cfg, err, sizeof (err)));
    assert_non_null (strstr (err, "not http:// or https://"));
    cfg.receivers = "ops";
    assert_null (sf_webhooks_new (&cfg, err, sizeof (err)));
    assert_non_null (strstr (err, "NAME URL"));
    cfg.receivers = "ops http://127.0.0.1:1/ secret-file=/nonexistent/secret";
    assert_null (sf_webhooks_new (&cfg, err, sizeof (err)));
    assert_non_null (strstr (err, "cannot read the secret file"));
    char path [] = "/tmp/sf-test-secret.XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, "short\n", 6), 6);
    close (fd);
    char line [256];
    snprintf (line, sizeof (line), "ops http://127.0.0.1:1/ secret-file=%s", path);
    cfg.receivers = line;
    assert_null (sf_webhooks_new (&cfg, err, sizeof (err)));
    assert_non_null (strstr (err, "shorter than 16 bytes"));
    unlink (path);
    cfg.receivers = "a http://127.0.0.1:1/\na http://127.0.0.1:2/";
    assert_null (sf_webhooks_new (&cfg, err, sizeof (err)));
    assert_non_null (strstr (err, "webhook 2"));
    //  None: an object that delivers nothing, and needs no queue
    cfg.receivers = "# none\n";
    sf_webhooks_t *w = sf_webhooks_new (&cfg, err, sizeof (err));
    assert_non_null (w);
    assert_int_equal (sf_webhooks_count (w), 0);
    sf_webhooks_destroy (&w);
    assert_null (w);
}


static bool s_not_owner (const char *key, void *arg) { return false; }

//  A metric's value for webhook "ops" (-1 when absent)
static long long
s_metric (sf_webhooks_t *w, const char *name)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    sf_webhooks_metrics_write (w, out);
    fclose (out);
    char want [160];
    snprintf (want, sizeof (want), "\n%s{webhook=\"ops\"} ", name);
    const char *p = strstr (text, want);
    if (!p) {
        //  The queue's own metrics have no label
        snprintf (want, sizeof (want), "\n%s ", name);
        p = strstr (text, want);
    }
    long long v = p ? atoll (p + strlen (want)) : -1;
    free (text);
    return v;
}

//  Waits (at most 10 s) until the metric is v
static bool
s_metric_becomes (sf_webhooks_t *w, const char *name, long long v)
{
    for (int i = 0; i < 1000; i++) {
        if (s_metric (w, name) == v)
            return true;
        usleep (10000);
    }
    return false;
}

//  Waits (at most 10 s) until the metric is v or more
static bool
s_metric_reaches (sf_webhooks_t *w, const char *name, long long v)
{
    for (int i = 0; i < 1000; i++) {
        if (s_metric (w, name) >= v)
            return true;
        usleep (10000);
    }
    return false;
}

static sf_webhooks_t *
s_standby (char *dir, int64_t standby_max_ms)
{
    char err [512] = "";
    assert_non_null (mkdtemp (dir));
    //  Port 1 on loopback: refused at once, were it ever tried
    sf_webhooks_config_t cfg = { .receivers = "ops http://127.0.0.1:1/hook", .queue_dir = dir,
                                 .controller_id = "c2", .retries = 3, .backoff_ms = 10,
                                 .backoff_max_ms = 100, .timeout_ms = 1000,
                                 .standby_max_ms = standby_max_ms, .dead_max = 10 };
    sf_webhooks_t *w = sf_webhooks_new (&cfg, err, sizeof (err));
    if (!w)
        fprintf (stderr, "%s\n", err);
    assert_non_null (w);
    sf_webhooks_set_owner (w, s_not_owner, NULL);
    return w;
}

static void
s_alert (sf_webhooks_t *w, const char *idem)
{
    sf_alert_event_t ev;
    memset (&ev, 0, sizeof (ev));
    strcpy (ev.key, "cam-offline/n1/cam-1");
    strcpy (ev.idempotency_key, idem);
    strcpy (ev.rule, "cam-offline");
    strcpy (ev.node, "n1");
    strcpy (ev.stream, "cam-1");
    sf_webhooks_alert (&ev, w);
}

//  [[receiver, idem, at_ms], ...] packed and handed to apply; its result
static int
s_confirm (sf_webhooks_t *w, const char *rx, const char *idem, int64_t at)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 1);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_str (&pk, strlen (rx));
    msgpack_pack_str_body (&pk, rx, strlen (rx));
    msgpack_pack_str (&pk, strlen (idem));
    msgpack_pack_str_body (&pk, idem, strlen (idem));
    msgpack_pack_int64 (&pk, at);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    int bad = sf_webhooks_confirm_apply (w, &u.data);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sb);
    return bad;
}

#define IDEM_A "00112233445566778899aabbccddeeff"
#define IDEM_B "ffeeddccbbaa99887766554433221100"

//  A standby copy stays while its owner has not confirmed it (however long
//  that is, below the hard bound), goes on the confirmation, counted
static void
test_standby_dropped_on_confirmation (void **state)
{
    char dir [] = "/tmp/sf-test-standby.XXXXXX";
    sf_webhooks_t *w = s_standby (dir, 3600000);
    s_alert (w, IDEM_A);
    s_alert (w, IDEM_B);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_queued", 2));
    //  Nothing tried (not ours), nothing dropped while unconfirmed
    usleep (300000);
    assert_int_equal (s_metric (w, "streamfleet_webhook_attempts_total"), 0);
    assert_int_equal (s_metric (w, "streamfleet_webhook_queued"), 2);
    //  Malformed confirmations are counted and change nothing
    assert_int_equal (s_confirm (w, "ops", "not-hex", 1), 1);
    assert_int_equal (s_confirm (w, "o\x1fps", IDEM_A, 1), 1);
    assert_false (sf_webhooks_confirmed (w, "ops", IDEM_A));
    //  The owner's confirmation of the first: that copy goes, the other stays
    assert_int_equal (s_confirm (w, "ops", IDEM_A, 1800000000000LL), 0);
    assert_true (sf_webhooks_confirmed (w, "ops", IDEM_A));
    assert_true (s_metric_becomes (w, "streamfleet_webhook_standby_confirmed_total", 1));
    assert_int_equal (s_metric (w, "streamfleet_webhook_queued"), 1);
    assert_int_equal (s_metric (w, "streamfleet_webhook_standby_dropped_total"), 0);
    //  Digests: another controller with the same confirmation agrees, and
    //  an offer against an equal digest is empty
    char dir2 [] = "/tmp/sf-test-standby2.XXXXXX";
    sf_webhooks_t *w2 = s_standby (dir2, 3600000);
    uint64_t d1 [SF_ALERTS_SYNC_BUCKETS], d2 [SF_ALERTS_SYNC_BUCKETS];
    sf_webhooks_confirm_digest (w2, d2);
    sf_webhooks_confirm_digest (w, d1);
    assert_memory_not_equal (d1, d2, sizeof (d1));
    assert_int_equal (s_confirm (w2, "ops", IDEM_A, 1800000000500LL), 0);
    sf_webhooks_confirm_digest (w2, d2);
    assert_memory_equal (d1, d2, sizeof (d1));
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_webhooks_confirm_pack (w, d2, &pk);
    assert_int_equal (sb.size, 1);          //  an empty array
    msgpack_sbuffer_clear (&sb);
    sf_webhooks_confirm_pack (w, NULL, &pk);
    assert_true (sb.size > 32);
    msgpack_sbuffer_destroy (&sb);
    sf_webhooks_destroy (&w);
    sf_webhooks_destroy (&w2);
    char cmd [256];
    snprintf (cmd, sizeof (cmd), "rm -rf %s %s", dir, dir2);
    assert_int_equal (system (cmd), 0);
}

//  A copy never confirmed goes at the hard bound, counted
static void
test_standby_hard_bound (void **state)
{
    char dir [] = "/tmp/sf-test-standby3.XXXXXX";
    sf_webhooks_t *w = s_standby (dir, 200);
    s_alert (w, IDEM_B);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_standby_dropped_total", 1));
    assert_int_equal (s_metric (w, "streamfleet_webhook_queued"), 0);
    assert_int_equal (s_metric (w, "streamfleet_webhook_standby_confirmed_total"), 0);
    sf_webhooks_destroy (&w);
    char cmd [256];
    snprintf (cmd, sizeof (cmd), "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}


//  -------------------------------------------------------------------------
//  The first attempt of a firing (issue 17): two controllers judge one
//  firing from different record versions; b (the owner) judged later, so
//  the cluster's key is a's. Before their episodes met, b would have sent
//  its own key: a second key for one firing if b died after that attempt
//  reached the receiver and a's standby sent the agreed one.

#define RULE_CAM "cam-offline inactive for=10m resolve=1m filter=primary name=cam-*"
#define S_MIN (60 * 1000LL)
#define T0 (1800000000000LL)

typedef struct {
    sf_alert_event_t ev [8];
    size_t n;
} s_seen_t;

static void
s_record (const sf_alert_event_t *ev, void *arg)
{
    s_seen_t *seen = arg;
    if (seen->n < 8)
        seen->ev [seen->n++] = *ev;
}

static sf_alerts_t *
s_engine (s_seen_t *seen)
{
    char err [512] = "";
    sf_alerts_t *a = sf_alerts_new (RULE_CAM, 120, err, sizeof (err));
    assert_non_null (a);
    memset (seen, 0, sizeof (*seen));
    sf_alerts_on_event (a, s_record, seen);
    return a;
}

//  What gossip carries: every episode of from, merged into to
static void
s_sync (sf_alerts_t *from, sf_alerts_t *to, int64_t now)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_alerts_sync_offer (from, NULL, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (sf_alerts_sync_apply (to, &u.data, now), 0);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sb);
}

//  Peer "c1"'s `alerts` message (its digest, no offer) as gossip hands it
//  to the owner's ext after merging it
static void
s_heard (sf_alerts_t *peer, sf_gossip_ext_t *ext)
{
    sf_alerts_ext_t parg;
    sf_gossip_ext_t pext;
    sf_alerts_gossip_ext (&pext, &parg, peer, NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    pext.digest (pext.arg, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    ext->heard (ext->arg, "c1", &u.data, false);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sb);
}

static bool s_is_owner (const char *key, void *arg) { return true; }

static size_t
s_one_peer (char (*ids) [SF_WEBHOOKS_PEER_ID_MAX], size_t max, void *arg)
{
    strcpy (ids [0], "c1");
    return 1;
}

static size_t
s_alone (char (*ids) [SF_WEBHOOKS_PEER_ID_MAX], size_t max, void *arg)
{
    return 0;
}

//  The owner's delivery engine: a refused receiver, no retry, so that the
//  first attempt is a dead letter that shows the key it went by
static sf_webhooks_t *
s_owner_engine (char *dir, sf_alerts_t *alerts, sf_webhooks_peers_fn *peers, int64_t wait_max)
{
    char err [512] = "";
    assert_non_null (mkdtemp (dir));
    sf_webhooks_config_t cfg = { .receivers = "ops http://127.0.0.1:1/hook", .queue_dir = dir,
                                 .controller_id = "c2", .retries = 0, .backoff_ms = 10,
                                 .backoff_max_ms = 100, .timeout_ms = 1000,
                                 .standby_max_ms = 3600000, .dead_max = 10,
                                 .first_wait_max_ms = wait_max };
    sf_webhooks_t *w = sf_webhooks_new (&cfg, err, sizeof (err));
    if (!w)
        fprintf (stderr, "%s\n", err);
    assert_non_null (w);
    sf_webhooks_set_owner (w, s_is_owner, NULL);
    sf_webhooks_set_alerts (w, alerts);
    sf_webhooks_set_peers (w, peers, NULL);
    return w;
}

//  The key the first dead letter went by
static void
s_dead_key (sf_webhooks_t *w, char key [40])
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    assert_int_equal (sf_webhooks_dead_letters (w, "ops", &sb), 0);
    sf_msg_t msg;
    sf_msg_init (&msg);
    assert_int_equal (sf_msg_parse (&msg, sb.data, sb.size), 0);
    const msgpack_object *l = sf_map_get (msg.body, "letters");
    assert_non_null (l);
    assert_int_equal (l->type, MSGPACK_OBJECT_ARRAY);
    assert_true (l->via.array.size >= 1);
    key [0] = 0;
    sf_map_str (&l->via.array.ptr [0], "idempotency_key", key, 39, NULL);
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&sb);
}

static void
s_rmdir (const char *dir)
{
    char cmd [256];
    snprintf (cmd, sizeof (cmd), "rm -rf %s", dir);
    assert_int_equal (system (cmd), 0);
}

static void
test_first_attempt_waits_for_the_peers_episodes (void **state)
{
    s_seen_t one, two;
    sf_alerts_t *a = s_engine (&one);
    sf_alerts_t *b = s_engine (&two);
    sf_store_change_t ch = { .deleted = false, .node = "n1", .name = "cam-1" };
    ch.sum.type = SF_TYPE_PRIMARY;
    ch.sum.status = SF_STATUS_ERROR;
    ch.sum.gen = 3;
    ch.sum.seq = 41;
    sf_alerts_apply (a, &ch, 1, T0);
    ch.sum.seq = 42;
    sf_alerts_apply (a, &ch, 1, T0 + 900);
    sf_alerts_apply (b, &ch, 1, T0 + 1000);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    sf_alerts_tick (b, T0 + 10 * S_MIN + 1000);
    assert_int_equal (one.n, 1);
    assert_int_equal (two.n, 1);
    assert_string_not_equal (one.ev [0].idempotency_key, two.ev [0].idempotency_key);
    //  b owns it, with a live peer (a, "c1") whose episodes have not come
    char dir [] = "/tmp/sf-test-first.XXXXXX";
    sf_webhooks_t *w = s_owner_engine (dir, b, s_one_peer, 3600000);
    sf_alerts_ext_t arg;
    sf_gossip_ext_t ext;
    sf_alerts_gossip_ext (&ext, &arg, b, w);
    assert_non_null (ext.heard);
    sf_webhooks_alert (&two.ev [0], w);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_queued", 1));
    //  Not sent under b's own key (the defect: sent at once)
    usleep (300000);
    assert_int_equal (s_metric (w, "streamfleet_webhook_attempts_total"), 0);
    //  a's episodes reach b, but a does not hold b's yet: still waiting
    s_sync (a, b, T0 + 10 * S_MIN + 1100);
    s_heard (a, &ext);
    usleep (300000);
    assert_int_equal (s_metric (w, "streamfleet_webhook_attempts_total"), 0);
    //  b's reach a: the digests agree, the attempt goes, by the agreed key
    s_sync (b, a, T0 + 10 * S_MIN + 1200);
    s_heard (a, &ext);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_dead_letters", 1));
    char key [40];
    s_dead_key (w, key);
    assert_string_equal (key, one.ev [0].idempotency_key);
    assert_int_equal (s_metric (w, "streamfleet_webhook_attempts_total"), 1);
    assert_int_equal (s_metric (w, "streamfleet_webhook_first_attempts_total"), 1);
    assert_int_equal (s_metric (w, "streamfleet_webhook_first_attempt_unsynced_total"), 0);
    assert_true (s_metric (w, "streamfleet_webhook_first_attempt_wait_ms_total") >= 600);
    sf_webhooks_destroy (&w);
    s_rmdir (dir);

    //  Alone: at once, no wait counted
    s_seen_t three;
    sf_alerts_t *c = s_engine (&three);
    ch.sum.seq = 50;
    sf_alerts_apply (c, &ch, 1, T0);
    sf_alerts_tick (c, T0 + 10 * S_MIN);
    assert_int_equal (three.n, 1);
    char dir2 [] = "/tmp/sf-test-first2.XXXXXX";
    w = s_owner_engine (dir2, c, s_alone, 3600000);
    sf_webhooks_alert (&three.ev [0], w);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_dead_letters", 1));
    s_dead_key (w, key);
    assert_string_equal (key, three.ev [0].idempotency_key);
    assert_int_equal (s_metric (w, "streamfleet_webhook_first_attempts_total"), 0);
    sf_webhooks_destroy (&w);
    s_rmdir (dir2);

    //  A peer never in sync: the attempt goes at the bound, counted
    char dir3 [] = "/tmp/sf-test-first3.XXXXXX";
    w = s_owner_engine (dir3, c, s_one_peer, 200);
    sf_webhooks_alert (&three.ev [0], w);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_dead_letters", 1));
    assert_int_equal (s_metric (w, "streamfleet_webhook_first_attempts_total"), 1);
    assert_int_equal (s_metric (w, "streamfleet_webhook_first_attempt_unsynced_total"), 1);
    sf_webhooks_destroy (&w);
    s_rmdir (dir3);
    sf_alerts_destroy (&a);
    sf_alerts_destroy (&b);
    sf_alerts_destroy (&c);
}

//  A full disk under the queue (fixture_fulldisk.h)
#include "fixture_fulldisk.h"

static char *(*s_unused_fx_file) (const char *) __attribute__ ((unused)) = fx_file;

//  A delivery engine that owns every alert, its queue in dir, to fx's /hook
static sf_webhooks_t *
s_full_engine (const char *dir, fx_http_t *fx, int64_t retries)
{
    char err [512] = "", rx [128];
    snprintf (rx, sizeof (rx), "ops http://127.0.0.1:%d/hook", fx->port);
    sf_webhooks_config_t cfg = { .receivers = rx, .queue_dir = dir, .controller_id = "c1",
                                 .retries = retries, .backoff_ms = 10, .backoff_max_ms = 40,
                                 .timeout_ms = 1000, .standby_max_ms = 3600000, .dead_max = 10 };
    sf_webhooks_t *w = sf_webhooks_new (&cfg, err, sizeof (err));
    if (!w)
        fprintf (stderr, "%s\n", err);
    assert_non_null (w);
    return w;
}

//  A receiver that keeps failing while the disk is full: each attempt
//  counts (the back-off grows, the retries run out) and the delivery
//  becomes a dead letter, kept in memory; once the disk has room it is
//  written, and a restart finds it a dead letter, not queued. The engine
//  does not spin on the full disk: it tries the write about once a second.
//  Before, a delivery queued while the disk was full was never tried until
//  it could be stored, and the thread retried the write without a pause.
static void
test_a_full_disk_loses_no_attempt (void **state)
{
    fx_http_t *fx = fx_start ();
    assert_non_null (fx);
    fx_route (fx, "/hook", "{}");
    fx->mode = FX_500;
    strcpy (s_full_dir, "/tmp/sf-test-full.XXXXXX");
    assert_non_null (mkdtemp (s_full_dir));
    sf_webhooks_t *w = s_full_engine (s_full_dir, fx, 3);
    atomic_store (&s_refused, 0);
    atomic_store (&s_full, true);
    s_alert (w, IDEM_A);
    //  1 attempt and 3 retries, then a dead letter, all with the disk full
    assert_true (s_metric_becomes (w, "streamfleet_webhook_dead_letters", 1));
    assert_int_equal (s_metric (w, "streamfleet_webhook_attempts_total"), 4);
    assert_int_equal (s_metric (w, "streamfleet_webhook_queued"), 0);
    usleep (1500000);
    assert_int_equal (s_metric (w, "streamfleet_webhook_attempts_total"), 4);
    int refused = atomic_load (&s_refused);
    assert_true (refused >= 1);
    assert_true (refused <= 8);
    assert_true (s_metric (w, "streamfleet_webhook_queue_write_failures_total") >= 1);
    assert_true (s_metric (w, "streamfleet_webhook_queue_unwritten") >= 1);
    //  Space returns: written by itself
    atomic_store (&s_full, false);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_queue_unwritten", 0));
    sf_webhooks_destroy (&w);
    //  A restart: the dead letter is there, nothing is queued or tried
    int hits = fx->hits;
    w = s_full_engine (s_full_dir, fx, 3);
    assert_int_equal (s_metric (w, "streamfleet_webhook_dead_letters"), 1);
    assert_int_equal (s_metric (w, "streamfleet_webhook_queued"), 0);
    char key [40];
    s_dead_key (w, key);
    assert_string_equal (key, IDEM_A);
    usleep (200000);
    assert_int_equal (fx->hits, hits);
    sf_webhooks_destroy (&w);
    fx_stop (&fx);
    s_rmdir (s_full_dir);
}

//  A delivery stored before the disk filled, answered 2xx while it is
//  full: its removal waits for room, and meanwhile it is not sent again;
//  a delivery queued while the disk is full is sent too, once. After the
//  disk has room and a restart, nothing is queued and nothing is resent.
//  Before, the removal's failed commit left it queued, uncounted, and it
//  was sent again and again while the disk stayed full.
static void
test_a_full_disk_sends_nothing_twice (void **state)
{
    fx_http_t *fx = fx_start ();
    assert_non_null (fx);
    fx_route (fx, "/hook", "{}");
    fx->mode = FX_500;
    atomic_store (&s_full, false);      //  whatever a failed test left
    strcpy (s_full_dir, "/tmp/sf-test-full2.XXXXXX");
    assert_non_null (mkdtemp (s_full_dir));
    sf_webhooks_t *w = s_full_engine (s_full_dir, fx, 1000);
    s_alert (w, IDEM_A);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_queued", 1));
    assert_true (s_metric_reaches (w, "streamfleet_webhook_failed_total", 2));
    atomic_store (&s_full, true);
    fx->mode = FX_OK;
    assert_true (s_metric_becomes (w, "streamfleet_webhook_delivered_total", 1));
    s_alert (w, IDEM_B);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_delivered_total", 2));
    int hits = fx->hits;
    usleep (500000);
    assert_int_equal (fx->hits, hits);
    assert_int_equal (s_metric (w, "streamfleet_webhook_queued"), 0);
    atomic_store (&s_full, false);
    assert_true (s_metric_becomes (w, "streamfleet_webhook_queue_unwritten", 0));
    sf_webhooks_destroy (&w);
    w = s_full_engine (s_full_dir, fx, 1000);
    assert_int_equal (s_metric (w, "streamfleet_webhook_queued"), 0);
    usleep (300000);
    assert_int_equal (fx->hits, hits);
    sf_webhooks_destroy (&w);
    fx_stop (&fx);
    s_rmdir (s_full_dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_body_fields),
        cmocka_unit_test (test_signature),
        cmocka_unit_test (test_receiver_lines),
        cmocka_unit_test (test_standby_dropped_on_confirmation),
        cmocka_unit_test (test_standby_hard_bound),
        cmocka_unit_test (test_first_attempt_waits_for_the_peers_episodes),
        cmocka_unit_test (test_a_full_disk_loses_no_attempt),
        cmocka_unit_test (test_a_full_disk_sends_nothing_twice),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  test_webhook.c — the webhook body (the fields docs/http-api.md lists,
    links percent-encoded, the web link opening the stream's detail), the
    signature (HMAC-SHA256 over "TIMESTAMP.BODY", checked against
    libsodium's one-shot HMAC and RFC 4231's vector), receiver lines refused
    with a reason, the delivery confirmations (merged, digested, malformed
    ones counted), a standby copy dropped on its owner's confirmation and
    not before, and one never confirmed dropped at the hard bound, counted.
*/
#include "sf_webhook.h"
#include <jansson.h>
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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_body_fields),
        cmocka_unit_test (test_signature),
        cmocka_unit_test (test_receiver_lines),
        cmocka_unit_test (test_standby_dropped_on_confirmation),
        cmocka_unit_test (test_standby_hard_bound),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

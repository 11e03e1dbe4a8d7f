/*  test_webhook.c — the webhook body (the fields docs/http-api.md lists,
    links percent-encoded), the signature (HMAC-SHA256 over
    "TIMESTAMP.BODY", checked against libsodium's one-shot HMAC and RFC 4231's
    vector), and receiver lines refused with a reason.
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
                         "http://127.0.0.1:7680/#/streams?name=cam%207&node=n1");
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

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_body_fields),
        cmocka_unit_test (test_signature),
        cmocka_unit_test (test_receiver_lines),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

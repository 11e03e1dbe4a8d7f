/*  test_http.c — the HTTP listener (controller/http.c) over a real store.

    Pins down what the controller's start-up and other modules rely on: it
    refuses to listen off loopback without a token and says why, reports the
    port it really bound, routes registered by other modules win over the
    built-in handlers, the token guards the API but not the page's files, and
    the listing pages with opaque cursors. Requests go through libcurl on
    loopback.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include "sf_http.h"
#include "sf_log.h"

typedef struct {
    char dir [64];
    sf_store_t *store;
    sf_live_t *live;
    sf_query_ctx_t query;
    sf_metrics_t metrics;
} s_fixture_t;

static void
s_put_stream (sf_store_t *store, const char *name, const char *node, uint32_t bitrate)
{
    sf_stream_t s;
    sf_stream_init (&s);
    SF_STRSET (s.name, name);
    SF_STRSET (s.node, node);
    s.status = SF_STATUS_ACTIVE;
    s.functions = SF_FN_DVR;
    s.bitrate_kbps = bitrate;
    sf_text_set (&s.source_url, "rtsp://cam/x");
    sf_dvr_add_range (&s.dvr, 1000, 2000);
    assert_int_equal (sf_store_put_stream (store, &s), 0);
    sf_stream_clear (&s);
}

static int
s_setup (void **state)
{
    s_fixture_t *f = calloc (1, sizeof (s_fixture_t));
    strcpy (f->dir, "/tmp/sf-test-http.XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    char err [256];
    f->store = sf_store_new (f->dir, 0, err, sizeof (err));
    assert_non_null (f->store);
    f->live = sf_live_new (3000, 10000);
    assert_int_equal (sf_store_write_begin (f->store), 0);
    s_put_stream (f->store, "cam1", "n1", 100);
    s_put_stream (f->store, "cam2", "n1", 300);
    s_put_stream (f->store, "cam3", "n1", 200);
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.id, "n1");
    SF_STRSET (n.addr_external, "media1.example.net");
    assert_int_equal (sf_store_put_node (f->store, &n), 0);
    assert_int_equal (sf_store_commit (f->store), 0);
    sf_live_beat (f->live, "n1", 1, 1, sf_mono_ms ());
    f->query = (sf_query_ctx_t) { .store = f->store, .live = f->live, .transfer_timeout_s = 120 };
    sf_metrics_init (&f->metrics);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *f = *state;
    sf_live_destroy (&f->live);
    sf_store_destroy (&f->store);
    char cmd [128];
    snprintf (cmd, sizeof (cmd), "rm -rf '%s'", f->dir);
    if (system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", f->dir);
    free (f);
    return 0;
}

typedef struct {
    char *data;
    size_t size;
} s_body_t;

static size_t
s_write (void *ptr, size_t size, size_t n, void *arg)
{
    s_body_t *b = arg;
    b->data = realloc (b->data, b->size + size * n + 1);
    memcpy (b->data + b->size, ptr, size * n);
    b->size += size * n;
    b->data [b->size] = 0;
    return size * n;
}

//  GETs (or sends method) path; returns the status, body JSON in *json when it parses
static long
s_request (sf_http_t *http, const char *method, const char *path, const char *token,
           json_t **json)
{
    char url [512];
    snprintf (url, sizeof (url), "http://%s%s", sf_http_address (http), path);
    CURL *curl = curl_easy_init ();
    s_body_t body = { NULL, 0 };
    struct curl_slist *headers = NULL;
    if (token) {
        char h [256];
        snprintf (h, sizeof (h), "Authorization: Bearer %s", token);
        headers = curl_slist_append (headers, h);
        curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    }
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    if (json)
        *json = body.data? json_loads (body.data, 0, NULL): NULL;
    free (body.data);
    return status;
}

static void
test_refuses_off_loopback_without_token (void **state)
{
    s_fixture_t *f = *state;
    char err [256] = "";
    sf_http_t *http = sf_http_new (&f->query, &f->metrics, "0.0.0.0:0", NULL, err, sizeof (err));
    assert_null (http);
    assert_non_null (strstr (err, "token"));
    err [0] = 0;
    http = sf_http_new (&f->query, &f->metrics, "0.0.0.0:0", "", err, sizeof (err));
    assert_null (http);
    assert_non_null (strstr (err, "token"));
    err [0] = 0;
    assert_null (sf_http_new (&f->query, &f->metrics, "nonsense", NULL, err, sizeof (err)));
    assert_non_null (strstr (err, "HOST:PORT"));
    assert_null (sf_http_new (&f->query, &f->metrics, "127.0.0.1:99999", NULL, err, sizeof (err)));
    //  With a token, any address is allowed
    http = sf_http_new (&f->query, &f->metrics, "0.0.0.0:0", "secret", err, sizeof (err));
    assert_non_null (http);
    sf_http_destroy (&http);
    assert_null (http);
    sf_http_destroy (&http);            //  safe twice
}

static void
test_reports_bound_port (void **state)
{
    s_fixture_t *f = *state;
    char err [256] = "";
    sf_http_t *http = sf_http_new (&f->query, &f->metrics, "127.0.0.1:0", NULL, err, sizeof (err));
    assert_non_null (http);
    const char *addr = sf_http_address (http);
    assert_true (strncmp (addr, "127.0.0.1:", 10) == 0);
    assert_true (atoi (addr + 10) > 0);
    json_t *j = NULL;
    assert_int_equal (s_request (http, "GET", "/api/v1/nodes", NULL, &j), 200);
    assert_int_equal (json_integer_value (json_object_get (j, "count")), 1);
    json_decref (j);
    sf_http_destroy (&http);
}

static json_t *
s_custom_cluster (const sf_http_req_t *req, void *arg, int *status)
{
    *status = 200;
    return json_pack ("{s:b, s:s}", "custom", 1, "arg", (const char *) arg);
}

static json_t *
s_prefix (const sf_http_req_t *req, void *arg, int *status)
{
    *status = 202;
    const char *x = sf_http_req_arg (req, "x");
    return json_pack ("{s:s, s:s}", "path", sf_http_req_path (req), "x", x? x: "");
}

static void
test_routes_win_over_builtins (void **state)
{
    s_fixture_t *f = *state;
    char err [256] = "";
    sf_http_t *http = sf_http_new (&f->query, &f->metrics, "127.0.0.1:0", NULL, err, sizeof (err));
    assert_non_null (http);
    assert_int_equal (sf_http_route (http, "/api/v1/cluster", s_custom_cluster, "gossip"), 0);
    assert_int_equal (sf_http_route (http, "/api/v1/peers/*", s_prefix, NULL), 0);
    json_t *j = NULL;
    assert_int_equal (s_request (http, "GET", "/api/v1/cluster", NULL, &j), 200);
    assert_true (json_is_true (json_object_get (j, "custom")));
    assert_string_equal (json_string_value (json_object_get (j, "arg")), "gossip");
    json_decref (j);
    assert_int_equal (s_request (http, "GET", "/api/v1/peers/c2?x=7", NULL, &j), 202);
    assert_string_equal (json_string_value (json_object_get (j, "path")), "/api/v1/peers/c2");
    assert_string_equal (json_string_value (json_object_get (j, "x")), "7");
    json_decref (j);
    //  The table is bounded
    int added = 0;
    while (sf_http_route (http, "/api/v1/more", s_prefix, NULL) == 0)
        added++;
    assert_int_equal (added, SF_HTTP_ROUTES_MAX - 2);
    sf_http_destroy (&http);
}

static void
test_token_guards_api_not_page (void **state)
{
    s_fixture_t *f = *state;
    char err [256] = "";
    sf_http_t *http = sf_http_new (&f->query, &f->metrics, "127.0.0.1:0", "s3cret", err, sizeof (err));
    assert_non_null (http);
    json_t *j = NULL;
    assert_int_equal (s_request (http, "GET", "/api/v1/streams", NULL, &j), 401);
    assert_string_equal (json_string_value (json_object_get (json_object_get (j, "error"), "code")),
                         "unauthorized");
    json_decref (j);
    assert_int_equal (s_request (http, "GET", "/api/v1/streams", "wrong", NULL), 401);
    assert_int_equal (s_request (http, "GET", "/api/v1/streams", "s3cret-longer", NULL), 401);
    assert_int_equal (s_request (http, "GET", "/metrics", NULL, NULL), 401);
    assert_int_equal (s_request (http, "GET", "/api/v1/streams", "s3cret", NULL), 200);
    assert_int_equal (s_request (http, "GET", "/metrics", "s3cret", NULL), 200);
    assert_int_equal (s_request (http, "GET", "/", NULL, NULL), 200);
    assert_int_equal (s_request (http, "GET", "/app.js", NULL, NULL), 200);
    assert_true (atomic_load (&f->metrics.http_requests) >= 8);
    sf_http_destroy (&http);
}

static void
test_listing_pages_and_errors (void **state)
{
    s_fixture_t *f = *state;
    char err [256] = "";
    sf_http_t *http = sf_http_new (&f->query, &f->metrics, "127.0.0.1:0", NULL, err, sizeof (err));
    assert_non_null (http);
    json_t *j = NULL;
    assert_int_equal (s_request (http, "GET", "/api/v1/streams?limit=2&sort=-bitrate", NULL, &j), 200);
    assert_int_equal (json_integer_value (json_object_get (j, "total")), 3);
    json_t *rows = json_object_get (j, "streams");
    assert_int_equal (json_array_size (rows), 2);
    assert_string_equal (json_string_value (json_object_get (json_array_get (rows, 0), "name")), "cam2");
    char next [32];
    snprintf (next, sizeof (next), "%s", json_string_value (json_object_get (j, "next_cursor")));
    json_decref (j);
    char path [128];
    snprintf (path, sizeof (path), "/api/v1/streams?limit=2&sort=-bitrate&cursor=%s", next);
    assert_int_equal (s_request (http, "GET", path, NULL, &j), 200);
    rows = json_object_get (j, "streams");
    assert_int_equal (json_array_size (rows), 1);
    assert_string_equal (json_string_value (json_object_get (json_array_get (rows, 0), "name")), "cam1");
    assert_true (json_is_null (json_object_get (j, "next_cursor")));
    assert_string_equal (json_string_value (json_object_get (j, "prev_cursor")), "0");
    json_decref (j);

    assert_int_equal (s_request (http, "GET", "/api/v1/streams?filter=nope", NULL, &j), 400);
    assert_string_equal (json_string_value (json_object_get (json_object_get (j, "error"), "code")),
                         "bad_filter");
    json_decref (j);
    assert_int_equal (s_request (http, "GET", "/api/v1/streams?limit=1x", NULL, NULL), 400);
    assert_int_equal (s_request (http, "GET", "/api/v1/streams?cursor=%2D1", NULL, NULL), 400);
    assert_int_equal (s_request (http, "GET", "/api/v1/streams/none", NULL, NULL), 404);
    assert_int_equal (s_request (http, "GET", "/api/v1/streams/cam1", NULL, &j), 200);
    json_t *p = json_array_get (json_object_get (j, "placements"), 0);
    assert_non_null (strstr (json_string_value (json_object_get (json_object_get (p, "links"), "hls")),
                             "media1.example.net"));
    json_decref (j);
    assert_int_equal (s_request (http, "DELETE", "/api/v1/streams/cam1", NULL, NULL), 405);
    assert_int_equal (s_request (http, "GET", "/api/v2/streams", NULL, NULL), 404);
    assert_int_equal (s_request (http, "GET", "/no-such-file.js", NULL, NULL), 404);
    sf_http_destroy (&http);
}

//  The URI limits, judged on the raw URI (issue 13, item 7)
static void
test_uri_limits (void **state)
{
    (void) state;
    char uri [SF_HTTP_URI_MAX + 16];
    assert_null (sf_http_uri_check ("/api/v1/streams", 15));
    assert_null (sf_http_uri_check ("/api/v1/streams?", 16));
    //  32 pieces pass, 33 do not; empty pieces count
    strcpy (uri, "/x?");
    for (int i = 0; i < 32; i++)
        strcat (uri, i ? "&a=1" : "a=1");
    assert_null (sf_http_uri_check (uri, strlen (uri)));
    strcat (uri, "&");
    const sf_http_verdict_t *v = sf_http_uri_check (uri, strlen (uri));
    assert_non_null (v);
    assert_int_equal (v->status, 400);
    assert_string_equal (v->code, "too_many_parameters");
    //  One parameter of 4,096 bytes passes, 4,097 does not
    memset (uri, 'a', sizeof (uri));
    memcpy (uri, "/x?", 3);
    assert_null (sf_http_uri_check (uri, 3 + SF_HTTP_ARG_MAX));
    v = sf_http_uri_check (uri, 3 + SF_HTTP_ARG_MAX + 1);
    assert_non_null (v);
    assert_string_equal (v->code, "parameter_too_long");
    //  Path and URI lengths
    memset (uri, 'a', sizeof (uri));
    uri [0] = '/';
    assert_null (sf_http_uri_check (uri, SF_HTTP_PATH_MAX));
    v = sf_http_uri_check (uri, SF_HTTP_PATH_MAX + 1);
    assert_non_null (v);
    assert_int_equal (v->status, 414);
    assert_string_equal (v->code, "path_too_long");
    v = sf_http_uri_check (uri, SF_HTTP_URI_MAX + 1);
    assert_non_null (v);
    assert_string_equal (v->code, "uri_too_long");
}

//  The token is compared as hashes: any length, any prefix
static void
test_token_compare (void **state)
{
    (void) state;
    unsigned char h [SF_HTTP_TOKEN_HASH];
    sf_http_token_hash ("s3cret", 6, h);
    assert_true (sf_http_token_equal (h, "s3cret", 6));
    assert_false (sf_http_token_equal (h, "s3cre", 5));
    assert_false (sf_http_token_equal (h, "s3cret!", 7));
    assert_false (sf_http_token_equal (h, "s3creT", 6));
    assert_false (sf_http_token_equal (h, "", 0));
    char path [] = "/tmp/sf-test-token-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, " abc \n", 6), 6);
    close (fd);
    char out [8], err [200];
    assert_int_equal (sf_http_token_read (path, out, 7, err, sizeof (err)), 0);
    assert_string_equal (out, "abc");
    assert_int_equal (sf_http_token_read (path, out, 2, err, sizeof (err)), -1);
    assert_non_null (strstr (err, "longer than 2 bytes"));
    unlink (path);
}

int
main (void)
{
    curl_global_init (CURL_GLOBAL_DEFAULT);
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_uri_limits),
        cmocka_unit_test (test_token_compare),
        cmocka_unit_test_setup_teardown (test_refuses_off_loopback_without_token, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_reports_bound_port, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_routes_win_over_builtins, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_token_guards_api_not_page, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_listing_pages_and_errors, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests_name ("http", tests, NULL, NULL);
    curl_global_cleanup ();
    return rc;
}

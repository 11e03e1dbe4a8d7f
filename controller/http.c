/*  http.c — the controller's HTTP listener: JSON API, web page, metrics.

    libmicrohttpd runs a small thread pool; each API request is one query of
    the reply path (sf_api.h): the handler the CLI's socket calls answers it,
    and its reply message is rendered as JSON by the converter the CLI's
    `-o json` uses, so the API, the page and the CLI cannot disagree.
    Nothing here scans the store, derives state or encodes a record.

    Every input is a stranger's: the handler parses query arguments strictly
    and a bad one answers 400 with a JSON error naming it; an unknown stream
    answers 404; a missing or wrong bearer token answers 401. The page's static files need
    no token (they hold no data); the page asks for the token itself.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <sodium.h>
#include <stdio.h>
#include <ctype.h>
#include <jansson.h>
#include <msgpack.h>
#include "sf_api.h"
#include "sf_alloc.h"
#include "sf_fleet.h"
#include "sf_http.h"
#include "sf_alerts.h"
#include "sf_webhook.h"
#include "sf_log.h"
#include "sf_mpjson.h"
#include "sf_reply.h"
#include "sf_web_assets.h"

#define S_TOKEN_MAX         512
#define S_THREADS           4
#define S_GAUGES_TTL_MS     1000        //  scrapes at least this close share the gauges
#define S_PAGE_CSP "default-src 'self'; img-src 'self' data:; style-src 'self'; " \
                   "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"

typedef struct {
    char path [128];
    bool prefix;
    sf_http_handler_fn *fn;
    void *arg;
} s_route_t;

struct sf_http_t {
    struct MHD_Daemon *daemon;
    sf_query_ctx_t *query;
    sf_metrics_t *metrics;
    unsigned char token_hash [SF_HTTP_TOKEN_HASH];
    size_t token_len;               //  0: no token is required
    char address [SF_ADDR_MAX + 1];
    s_route_t routes [SF_HTTP_ROUTES_MAX];
    atomic_size_t nroutes;
    pthread_mutex_t gauges_lock;
    sf_metrics_gauges_t gauges;
    int64_t gauges_at_ms;
    sf_ratelimit_t log_limit;
    atomic_int changes_waiting;     //  long-polls of /api/v1/changes being held
    sf_http_ready_fn *ready_fn;     //  set once, before requests come in
    void *ready_arg;
    char *page;                     //  index.html with the columns in it (s_page_build)
    size_t page_size;
};

struct sf_http_req_t {
    struct MHD_Connection *conn;
    const char *path;
    sf_http_t *http;
};

const char *
sf_http_req_path (const sf_http_req_t *req)
{
    return req->path;
}

const char *
sf_http_req_arg (const sf_http_req_t *req, const char *key)
{
    return MHD_lookup_connection_value (req->conn, MHD_GET_ARGUMENT_KIND, key);
}

int
sf_http_route (sf_http_t *self, const char *path, sf_http_handler_fn *fn, void *arg)
{
    size_t n = atomic_load (&self->nroutes);
    if (n >= SF_HTTP_ROUTES_MAX || strlen (path) >= sizeof (self->routes [0].path))
        return -1;
    s_route_t *r = &self->routes [n];
    size_t len = strlen (path);
    r->prefix = len > 0 && path [len - 1] == '*';
    memcpy (r->path, path, r->prefix? len - 1: len);
    r->path [r->prefix? len - 1: len] = 0;
    r->fn = fn;
    r->arg = arg;
    //  Published after the entry is written, so a request thread reading the
    //  count never sees a half-made route
    atomic_store (&self->nroutes, n + 1);
    return 0;
}

//  -------------------------------------------------------------------------
//  Replies

static enum MHD_Result
s_reply (struct MHD_Connection *conn, unsigned status, const char *type,
         void *body, size_t size, enum MHD_ResponseMemoryMode mode, bool is_page)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer (size, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free (body);
        return MHD_NO;
    }
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header (resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header (resp, "Referrer-Policy", "no-referrer");
    if (is_page) {
        MHD_add_response_header (resp, "Content-Security-Policy", S_PAGE_CSP);
        MHD_add_response_header (resp, "X-Frame-Options", "DENY");
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    }
    else
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header (resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
                                 "Bearer realm=\"streamfleet\"");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = MHD_queue_response (conn, status, resp);
    MHD_destroy_response (resp);
    return rc;
}

//  Answers with a JSON body; takes the reference to j
static enum MHD_Result
s_reply_json (struct MHD_Connection *conn, unsigned status, json_t *j)
{
    if (!j) {
        static char oom [] = "{\"error\":{\"status\":500,\"code\":\"internal\","
                             "\"message\":\"out of memory building the answer\"}}";
        return s_reply (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "application/json",
                        oom, strlen (oom), MHD_RESPMEM_PERSISTENT, false);
    }
    char *text = json_dumps (j, JSON_COMPACT);
    size_t len = text ? strlen (text) : 0;
    json_decref (j);
    if (!text)
        return s_reply_json (conn, status, NULL);
    return s_reply (conn, status, "application/json; charset=utf-8", text, len,
                    MHD_RESPMEM_MUST_FREE, false);
}

static enum MHD_Result
s_reply_error (struct MHD_Connection *conn, unsigned status, const char *code,
               const char *message)
{
    //  {"error": {"status": 400, "code": "...", "message": "..."}}
    return s_reply_json (conn, status, json_pack ("{s:{s:i, s:s, s:o}}", "error",
                         "status", (int) status, "code", code, "message", sf_json_str (message)));
}

//  -------------------------------------------------------------------------
//  Argument parsing: strict, so "limit=10abc" is an error, not 10

static int
s_parse_u64 (const char *text, uint64_t max, uint64_t *out)
{
    if (!text || !*text || strlen (text) > 19)
        return -1;
    uint64_t v = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        v = v * 10 + (uint64_t) (*p - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static const char *
s_arg (struct MHD_Connection *conn, const char *key)
{
    const char *v = MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, key);
    return v && *v? v: NULL;
}

//  -------------------------------------------------------------------------
//  The API: every endpoint is one query of the reply path (sf_api.h). The
//  path and the query arguments become a request map (arguments as text;
//  the handler parses and validates them, so a bad one is answered the same
//  way here and on the CLI's socket), and the reply message is rendered as
//  JSON by the one converter the CLI's -o json uses (sf_mpjson_dumps).

//  Query arguments each request takes; others are ignored
static const char *s_list_args [] = { "filter", "name", "node", "sort", "limit", "cursor", "after", NULL };
static const char *s_detail_args [] = { "node", NULL };
static const char *s_dvr_args [] = { "at", NULL };
static const char *s_migrations_args [] = { "stream", "node", "kind", "since_s", "start", "end",
                                            "limit", "after", NULL };
static const char *s_no_args [] = { NULL };
static const char *s_changes_args [] = { "after", "max", "wait_ms", NULL };
static const char *s_alerts_args [] = { "stream", "node", NULL };
static const char *s_dead_args [] = { "webhook", NULL };
static const char *s_replay_args [] = { "key", "all", NULL };
//  Long-polls of GET /api/v1/changes may hold at most this many of the
//  S_THREADS threads; the others answer at once, so queries never starve
#define S_CHANGES_WAITERS_MAX (S_THREADS - 1)
#define S_CHANGES_WAIT_MAX_MS 25000

//  Asks the handler; reply holds its message. Returns sf_api_answer's result.
static int
s_ask_wait (sf_http_t *self, struct MHD_Connection *conn, const char *type,
            const char *key, const char *value, const char **args, int max_wait_ms,
            msgpack_sbuffer *reply)
{
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    const char *given [8];
    size_t n = 0;
    for (size_t i = 0; args [i] && n < 8; i++)
        given [n++] = s_arg (conn, args [i]);
    size_t count = key ? 1 : 0;
    for (size_t i = 0; i < n; i++)
        count += given [i] != NULL;
    msgpack_pack_map (&pk, count);
    if (key)
        sf_pack_kstr (&pk, key, value);
    for (size_t i = 0; i < n; i++)
        if (given [i])
            sf_pack_kstr (&pk, args [i], given [i]);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    int rc;
    if (msgpack_unpack_next (&u, req.data, req.size, &off) == MSGPACK_UNPACK_SUCCESS)
        rc = sf_api_answer_wait (self->query, type, &u.data, max_wait_ms, reply);
    else
        rc = (sf_reply_error (reply, "internal", "could not build the request"), -1);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&req);
    return rc;
}

static int
s_ask (sf_http_t *self, struct MHD_Connection *conn, const char *type,
       const char *key, const char *value, const char **args, msgpack_sbuffer *reply)
{
    return s_ask_wait (self, conn, type, key, value, args, 0, reply);
}

static enum MHD_Result s_send (struct MHD_Connection *conn, const msgpack_sbuffer *reply);

//  GET /api/v1/changes: the change feed after a cursor, held until a change
//  comes (up to wait_ms, at most 25 s) while few threads are holding one
static enum MHD_Result
s_changes (sf_http_t *self, struct MHD_Connection *conn)
{
    int waiting = atomic_fetch_add (&self->changes_waiting, 1);
    int max_wait = waiting < S_CHANGES_WAITERS_MAX ? S_CHANGES_WAIT_MAX_MS : 0;
    msgpack_sbuffer reply;
    msgpack_sbuffer_init (&reply);
    s_ask_wait (self, conn, "changes", NULL, NULL, s_changes_args, max_wait, &reply);
    atomic_fetch_sub (&self->changes_waiting, 1);
    enum MHD_Result rc = s_send (conn, &reply);
    msgpack_sbuffer_destroy (&reply);
    return rc;
}

//  Sends a reply message: an answer as its JSON body with 200, an error as
//  {"error": {status, code, message}} with the code's status
static enum MHD_Result
s_send (struct MHD_Connection *conn, const msgpack_sbuffer *reply)
{
    sf_msg_t msg;
    sf_msg_init (&msg);
    if (sf_msg_parse (&msg, reply->data, reply->size)) {
        sf_msg_release (&msg);
        return s_reply_error (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                              "the answer could not be read back");
    }
    enum MHD_Result rc;
    if (strcmp (msg.type, "error") == 0) {
        char code [64] = "internal", message [SF_ERR_MAX + 64] = "";
        sf_map_str (msg.body, "code", code, sizeof (code) - 1, NULL);
        sf_map_str (msg.body, "message", message, sizeof (message) - 1, NULL);
        rc = s_reply_error (conn, (unsigned) sf_api_http_status (code), code, message);
    }
    else {
        size_t len = 0;
        char *text = sf_mpjson_dumps (msg.body, false, &len);
        rc = text ? s_reply (conn, MHD_HTTP_OK, "application/json; charset=utf-8", text, len,
                             MHD_RESPMEM_MUST_FREE, false)
                  : s_reply_json (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
    }
    sf_msg_release (&msg);
    return rc;
}

static enum MHD_Result
s_query (sf_http_t *self, struct MHD_Connection *conn, const char *type,
         const char *key, const char *value, const char **args)
{
    msgpack_sbuffer reply;
    msgpack_sbuffer_init (&reply);
    s_ask (self, conn, type, key, value, args, &reply);
    enum MHD_Result rc = s_send (conn, &reply);
    msgpack_sbuffer_destroy (&reply);
    return rc;
}

//  GET /api/v1/streams/{name} and /api/v1/streams/{name}/dvr. A name may
//  itself hold '/': the whole rest is tried as a name first, and only then
//  "NAME/dvr" as the DVR timeline of NAME.
static enum MHD_Result
s_stream (sf_http_t *self, struct MHD_Connection *conn, const char *rest)
{
    char name [SF_NAME_MAX + 8];
    size_t len = strlen (rest);
    if (len == 0)
        return s_reply_error (conn, MHD_HTTP_NOT_FOUND, "not_found", "name a stream: /api/v1/streams/NAME");
    if (len >= sizeof (name))
        return s_reply_error (conn, MHD_HTTP_BAD_REQUEST, "bad_name", "stream name is too long");
    memcpy (name, rest, len + 1);
    msgpack_sbuffer reply;
    msgpack_sbuffer_init (&reply);
    int rc = s_ask (self, conn, "detail", "name", name, s_detail_args, &reply);
    if (rc && len > 4 && strcmp (name + len - 4, "/dvr") == 0) {
        sf_msg_t msg;
        sf_msg_init (&msg);
        char code [32] = "";
        if (sf_msg_parse (&msg, reply.data, reply.size) == 0)
            sf_map_str (msg.body, "code", code, sizeof (code) - 1, NULL);
        sf_msg_release (&msg);
        if (strcmp (code, "not_found") == 0 || strcmp (code, "bad_name") == 0) {
            name [len - 4] = 0;
            s_ask (self, conn, "dvr", "name", name, s_dvr_args, &reply);
        }
    }
    enum MHD_Result res = s_send (conn, &reply);
    msgpack_sbuffer_destroy (&reply);
    return res;
}

//  -------------------------------------------------------------------------
//  GET /api/v1/cluster and the metrics' peers

//  The gossip view's body as JSON, or NULL when there is none
static json_t *
s_cluster_view (sf_http_t *self)
{
    if (!self->query->cluster_fn)
        return NULL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    json_t *body = NULL;
    if (self->query->cluster_fn (self->query->cluster_arg, &sb) == 0 && sb.size) {
        sf_msg_t msg;
        sf_msg_init (&msg);
        if (sf_msg_parse (&msg, sb.data, sb.size) == 0 && strcmp (msg.type, "cluster_reply") == 0)
            body = sf_mpjson (msg.body);
        sf_msg_release (&msg);
    }
    msgpack_sbuffer_destroy (&sb);
    return json_is_object (body)? body: (json_decref (body), NULL);
}

//  The nodes by liveness, straight from the liveness table: no store scan,
//  so the page's header and scrapes stay cheap however large the fleet is
static void
s_liveness_counts (sf_http_t *self, uint64_t by [3])
{
    uint32_t counts [3] = { 0, 0, 0 };
    sf_live_counts (self->query->live, sf_mono_ms (), counts);
    for (int i = 0; i < 3; i++)
        by [i] = counts [i];
}

//  -------------------------------------------------------------------------
//  GET /metrics

//  Copies a Prometheus label value, replacing what would break the format
static void
s_label (char *dest, size_t size, const char *value)
{
    size_t n = 0;
    for (const char *p = value? value: ""; *p && n + 1 < size; p++)
        dest [n++] = (*p == '"' || *p == '\\' || *p == '\n')? '_': *p;
    dest [n] = 0;
}

//  Gauges from the read model's counters (sf_query_gauges): O(nodes), so a
//  scrape costs the same at any fleet size
static void
s_gather_gauges (sf_http_t *self, sf_metrics_gauges_t *g)
{
    memset (g, 0, sizeof (*g));
    int64_t start = sf_mono_ms ();
    sf_readmodel_gauges_t rg;
    char err [256];
    bool ok = sf_query_gauges (self->query, &rg, err, sizeof (err)) == 0;
    if (ok) {
        g->streams_total = rg.total;
        memcpy (g->streams_by_type, rg.by_type, sizeof (g->streams_by_type));
        memcpy (g->streams_by_status, rg.by_status, sizeof (g->streams_by_status));
        g->streams_transfer = rg.transfer;
    }
    g->have_nodes = true;
    s_liveness_counts (self, g->nodes_by_liveness);
    //  Peers from the gossip view (lag per peer), when this controller gossips
    json_t *view = s_cluster_view (self);
    json_t *members = json_object_get (view, "members");
    for (size_t i = 0; i < json_array_size (members) && g->npeers < SF_METRICS_PEERS_MAX; i++) {
        json_t *m = json_array_get (members, i);
        if (json_is_true (json_object_get (m, "self")))
            continue;
        const char *id = json_string_value (json_object_get (m, "id"));
        if (!id || !*id)
            id = json_string_value (json_object_get (m, "endpoint"));
        const char *state = json_string_value (json_object_get (m, "state"));
        s_label (g->peers [g->npeers].id, sizeof (g->peers [0].id), id);
        s_label (g->peers [g->npeers].state, sizeof (g->peers [0].state), state);
        g->peers [g->npeers].lag_changes = (uint64_t) json_integer_value (json_object_get (m, "lag_changes"));
        json_int_t heard = json_integer_value (json_object_get (m, "last_heard_ms"));
        g->peers [g->npeers].last_heard_s = heard < 0? -1.0: (double) heard / 1000.0;
        g->npeers++;
    }
    json_decref (view);
    g->have_streams = ok;
    g->scrape_seconds = (double) (sf_mono_ms () - start) / 1000.0;
}

static enum MHD_Result
s_metrics (sf_http_t *self, struct MHD_Connection *conn)
{
    sf_metrics_gauges_t g;
    pthread_mutex_lock (&self->gauges_lock);
    int64_t now = sf_mono_ms ();
    //  Gathering costs a few scans: at a million placements, seconds. Scrapes
    //  within five times the last gathering's cost (at least a second) share
    //  it, so a scraper cannot keep the controller scanning.
    int64_t ttl_ms = (int64_t) (self->gauges.scrape_seconds * 5000.0);
    if (ttl_ms < S_GAUGES_TTL_MS)
        ttl_ms = S_GAUGES_TTL_MS;
    if (self->gauges_at_ms == 0 || now - self->gauges_at_ms >= ttl_ms) {
        s_gather_gauges (self, &self->gauges);
        self->gauges_at_ms = sf_mono_ms ();
    }
    g = self->gauges;
    pthread_mutex_unlock (&self->gauges_lock);

    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return s_reply_json (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL);
    int rc = sf_metrics_write (self->metrics, &g, out);
    //  One gauge per rule, never per stream (sf_alerts.h)
    if (self->query->alerts)
        sf_alerts_metrics_write (self->query->alerts, out);
    if (self->query->webhooks)
        sf_webhooks_metrics_write (self->query->webhooks, out);
    if (fclose (out) || rc) {
        free (text);
        return s_reply_error (conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "internal",
                              "could not write the metrics text");
    }
    return s_reply (conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8",
                    text, size, MHD_RESPMEM_MUST_FREE, false);
}

//  -------------------------------------------------------------------------
//  Dispatch

void
sf_http_token_hash (const char *token, size_t len, unsigned char hash [SF_HTTP_TOKEN_HASH])
{
    crypto_generichash (hash, SF_HTTP_TOKEN_HASH, (const unsigned char *) token, len, NULL, 0);
}

bool
sf_http_token_equal (const unsigned char hash [SF_HTTP_TOKEN_HASH], const char *presented,
                     size_t len)
{
    //  Hash first, then compare fixed-size hashes in constant time: neither
    //  the length nor a matching prefix of the presented token shows in the
    //  time the answer takes
    unsigned char h [SF_HTTP_TOKEN_HASH];
    sf_http_token_hash (presented, len, h);
    bool equal = sodium_memcmp (h, hash, SF_HTTP_TOKEN_HASH) == 0;
    sodium_memzero (h, sizeof (h));
    return equal;
}

int
sf_http_token_read (const char *path, char *out, size_t max, char *err, size_t errlen)
{
    FILE *f = fopen (path, "r");
    if (!f) {
        snprintf (err, errlen, "cannot read the HTTP token file %s: %s", path, strerror (errno));
        return -1;
    }
    char line [S_TOKEN_MAX + 3];
    bool got = fgets (line, sizeof (line), f) != NULL;
    bool longer = got && !strchr (line, '\n') && fgetc (f) != EOF;
    fclose (f);
    size_t len = got ? strlen (line) : 0;
    while (len && isspace ((unsigned char) line [len - 1]))
        line [--len] = 0;
    size_t start = 0;
    while (start < len && isspace ((unsigned char) line [start]))
        start++;
    int rc = 0;
    if (longer || len - start > max) {
        snprintf (err, errlen, "the HTTP token in %s is longer than %zu bytes", path, max);
        rc = -1;
    }
    else
    if (len == start) {
        snprintf (err, errlen, "the HTTP token file %s is empty", path);
        rc = -1;
    }
    else {
        memcpy (out, line + start, len - start);
        out [len - start] = 0;
    }
    sodium_memzero (line, sizeof (line));
    return rc;
}

static bool
s_token_ok (sf_http_t *self, struct MHD_Connection *conn)
{
    if (self->token_len == 0)
        return true;
    const char *h = MHD_lookup_connection_value (conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp (h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    return sf_http_token_equal (self->token_hash, h, strlen (h));
}

//  ---------------------------------------------------------------------------
//  URI limits: libmicrohttpd stores every query argument in the connection's
//  memory pool; when it runs out (about 1,000 arguments in 64 KiB) it fails
//  to send its own 431 and holds the connection until the timeout. So the raw
//  URI is judged first, in the URI log callback, which libmicrohttpd calls
//  before it parses the arguments.

static const sf_http_verdict_t s_uri_too_long = { 414, "uri_too_long",
    "the request URI is longer than 8192 bytes" };
static const sf_http_verdict_t s_path_too_long = { 414, "path_too_long",
    "the request path is longer than 1024 bytes" };
static const sf_http_verdict_t s_too_many_args = { 400, "too_many_parameters",
    "the request has more than 32 query parameters" };
static const sf_http_verdict_t s_arg_too_long = { 400, "parameter_too_long",
    "a query parameter is longer than 4096 bytes" };

const sf_http_verdict_t *
sf_http_uri_check (const char *uri, size_t len)
{
    if (len > SF_HTTP_URI_MAX)
        return &s_uri_too_long;
    const char *q = memchr (uri, '?', len);
    size_t path_len = q ? (size_t) (q - uri) : len;
    if (path_len > SF_HTTP_PATH_MAX)
        return &s_path_too_long;
    if (!q)
        return NULL;
    //  Every '&'-separated piece counts, empty ones too: libmicrohttpd may
    //  keep a record for each
    size_t nargs = 0, arg_len = 0;
    for (const char *p = q + 1; p <= uri + len; p++) {
        if (p == uri + len || *p == '&') {
            if (++nargs > SF_HTTP_ARGS_MAX)
                return &s_too_many_args;
            arg_len = 0;
        }
        else
        if (++arg_len > SF_HTTP_ARG_MAX)
            return &s_arg_too_long;
    }
    return NULL;
}

//  Returns the verdict as the request's context (*con_cls in s_handle). A
//  refused URI's query string is cut at its '?' so libmicrohttpd parses no
//  arguments of it: the buffer is libmicrohttpd's writable read buffer (it
//  writes NULs into it itself right after this call)
static void *
s_uri_log (void *cls, const char *uri, struct MHD_Connection *conn)
{
    sf_http_t *self = cls;
    const sf_http_verdict_t *v = sf_http_uri_check (uri, strlen (uri));
    if (!v)
        return NULL;
    char *q = strchr ((char *) uri, '?');
    if (q)
        q [1] = 0;
    atomic_fetch_add_explicit (&self->metrics->http_refused, 1, memory_order_relaxed);
    sf_log_limited (&self->log_limit, SF_LOG_WARN, "http: refused a request: %s", v->message);
    return (void *) v;
}

//  The page's columns travel inside index.html (the field table's COL lines,
//  as GET /api/v1/columns answers them), so the first rows wait for one
//  request, not two, and the header is drawn before any data comes. They are
//  a property of this binary, not fleet data, so the page still needs no
//  token. The JSON goes between the tags of the page's
//  <script type="application/json" id="sf-columns"> (a data block: nothing
//  runs, the CSP is unchanged), '<' written as \u003c so no text in it can
//  close the element. NULL (the page asks the API): no placeholder, no memory.
static char *
s_page_build (sf_query_ctx_t *query, const sf_web_asset_t *index, size_t *size)
{
    static const char mark [] = "<script type=\"application/json\" id=\"sf-columns\">";
    const char *html = (const char *) index->data;
    const char *at = strstr (html, mark);
    if (!at)
        return NULL;
    at += strlen (mark);
    msgpack_sbuffer reply;
    msgpack_sbuffer_init (&reply);
    msgpack_object none = { .type = MSGPACK_OBJECT_MAP };
    char *json = NULL, *page = NULL;
    size_t len = 0;
    sf_msg_t msg;
    sf_msg_init (&msg);
    if (sf_api_answer (query, "columns", &none, &reply) == 0
    &&  sf_msg_parse (&msg, reply.data, reply.size) == 0)
        json = sf_mpjson_dumps (msg.body, false, &len);
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&reply);
    if (!json)
        return NULL;
    size_t lt = 0;
    for (size_t i = 0; i < len; i++)
        lt += json [i] == '<';
    size_t head = (size_t) (at - html);
    *size = index->size + len + lt * 5;
    page = sf_xmalloc (*size + 1);
    memcpy (page, html, head);
    char *out = page + head;
    for (size_t i = 0; i < len; i++) {
        if (json [i] == '<')
            out += sprintf (out, "\\u003c");
        else
            *out++ = json [i];
    }
    memcpy (out, at, index->size - head);
    page [*size] = 0;
    free (json);
    return page;
}

static const sf_web_asset_t *
s_asset (const char *path)
{
    if (strcmp (path, "/") == 0)
        path = "/index.html";
    for (size_t i = 0; i < sf_web_assets_count; i++)
        if (strcmp (sf_web_assets [i].path, path) == 0)
            return &sf_web_assets [i];
    return NULL;
}

static enum MHD_Result
s_api (sf_http_t *self, struct MHD_Connection *conn, const char *url)
{
    if (strcmp (url, "/api/v1/streams") == 0 || strcmp (url, "/api/v1/streams/") == 0)
        return s_query (self, conn, "list", NULL, NULL, s_list_args);
    if (strncmp (url, "/api/v1/streams/", 16) == 0)
        return s_stream (self, conn, url + 16);
    if (strcmp (url, "/api/v1/nodes") == 0 || strcmp (url, "/api/v1/nodes/") == 0)
        return s_query (self, conn, "nodes", NULL, NULL, s_no_args);
    if (strncmp (url, "/api/v1/nodes/", 14) == 0)
        return s_query (self, conn, "nodes", "id", url + 14, s_no_args);
    if (strcmp (url, "/api/v1/migrations") == 0)
        return s_query (self, conn, "migrations", NULL, NULL, s_migrations_args);
    if (strcmp (url, "/api/v1/changes") == 0)
        return s_changes (self, conn);
    if (strcmp (url, "/api/v1/cluster") == 0)
        return s_query (self, conn, "cluster", NULL, NULL, s_no_args);
    if (strcmp (url, "/api/v1/alerts") == 0)
        return s_query (self, conn, "alerts", NULL, NULL, s_alerts_args);
    if (strcmp (url, "/api/v1/alerts/dead-letters") == 0)
        return s_query (self, conn, "dead_letters", NULL, NULL, s_dead_args);
    if (strcmp (url, "/api/v1/alerts/replay") == 0)
        return s_query (self, conn, "replay", NULL, NULL, s_replay_args);
    if (strcmp (url, "/api/v1/columns") == 0)
        return s_query (self, conn, "columns", NULL, NULL, s_no_args);
    char err [200];
    snprintf (err, sizeof (err), "no endpoint %.120s; see docs/http-api.md", url);
    return s_reply_error (conn, MHD_HTTP_NOT_FOUND, "not_found", err);
}

void
sf_http_set_ready (sf_http_t *self, sf_http_ready_fn *fn, void *arg)
{
    self->ready_arg = arg;
    self->ready_fn = fn;
}

//  GET /healthz: the process is up and its HTTP thread answers. GET /readyz:
//  ready to serve queries (docs/http-api.md "Health"). Neither needs the
//  token, so load balancers and Kubernetes probes can use them; they say
//  nothing about the fleet.
static enum MHD_Result
s_health (sf_http_t *self, struct MHD_Connection *conn, bool ready_check)
{
    char why [160] = "ok";
    bool ready = true;
    if (ready_check && self->ready_fn)
        ready = self->ready_fn (self->ready_arg, why, sizeof (why));
    json_t *j = json_pack ("{s:s, s:s}", "status", ready ? "ok" : "unavailable", "reason", why);
    return s_reply_json (conn, ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, j);
}

static enum MHD_Result
s_handle (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size,
          void **con_cls)
{
    sf_http_t *self = cls;
    //  A body we do not want: drain it and answer once it is all in
    if (*upload_data_size) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    atomic_fetch_add_explicit (&self->metrics->http_requests, 1, memory_order_relaxed);
    if (*con_cls) {
        const sf_http_verdict_t *v = *con_cls;
        return s_reply_error (conn, v->status, v->code, v->message);
    }
    bool api = strncmp (url, "/api/", 5) == 0;
    bool metrics = strcmp (url, "/metrics") == 0;
    //  One endpoint acts (replaying dead letters): POST only, and only it
    bool acts = strcmp (url, "/api/v1/alerts/replay") == 0;
    if (acts && strcmp (method, MHD_HTTP_METHOD_POST))
        return s_reply_error (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                              "replaying dead letters changes the queue: use POST");
    if (!acts && strcmp (method, MHD_HTTP_METHOD_GET) && strcmp (method, MHD_HTTP_METHOD_HEAD))
        return s_reply_error (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                              "this API is read-only but for POST /api/v1/alerts/replay: use GET");
    if (strcmp (url, "/healthz") == 0 || strcmp (url, "/livez") == 0)
        return s_health (self, conn, false);
    if (strcmp (url, "/readyz") == 0)
        return s_health (self, conn, true);
    if ((api || metrics) && !s_token_ok (self, conn))
        return s_reply_error (conn, MHD_HTTP_UNAUTHORIZED, "unauthorized",
                              "send the controller's HTTP token as 'Authorization: Bearer TOKEN'");

    //  Extension routes first, so migration and cluster work can take over
    size_t nroutes = atomic_load (&self->nroutes);
    for (size_t i = 0; i < nroutes; i++) {
        const s_route_t *r = &self->routes [i];
        bool hit = r->prefix? strncmp (url, r->path, strlen (r->path)) == 0
                            : strcmp (url, r->path) == 0;
        if (!hit)
            continue;
        sf_http_req_t req = { conn, url, self };
        int status = MHD_HTTP_OK;
        json_t *j = r->fn (&req, r->arg, &status);
        if (!j)
            status = MHD_HTTP_INTERNAL_SERVER_ERROR;
        return s_reply_json (conn, (unsigned) status, j);
    }
    if (api)
        return s_api (self, conn, url);
    if (metrics)
        return s_metrics (self, conn);
    const sf_web_asset_t *a = s_asset (url);
    if (a && self->page && strcmp (a->path, "/index.html") == 0)
        return s_reply (conn, MHD_HTTP_OK, a->content_type, self->page, self->page_size,
                        MHD_RESPMEM_PERSISTENT, true);
    if (a)
        return s_reply (conn, MHD_HTTP_OK, a->content_type, (void *) a->data, a->size,
                        MHD_RESPMEM_PERSISTENT, true);
    static char missing [] = "not found\n";
    return s_reply (conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", missing,
                    strlen (missing), MHD_RESPMEM_PERSISTENT, false);
}

//  libmicrohttpd's own complaints (bind failures, bad requests) go to our log,
//  rate-limited: a scanner must not be able to flood it.
static void
s_mhd_log (void *cls, const char *fmt, va_list ap)
{
    sf_http_t *self = cls;
    char line [256];
    vsnprintf (line, sizeof (line), fmt, ap);
    size_t len = strlen (line);
    while (len && (line [len - 1] == '\n' || line [len - 1] == '\r'))
        line [--len] = 0;
    sf_log_limited (&self->log_limit, SF_LOG_WARN, "http: %s", line);
}

//  -------------------------------------------------------------------------
//  Listening

static bool
s_is_loopback (const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) sa;
        return (ntohl (in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) sa;
        if (IN6_IS_ADDR_LOOPBACK (&in6->sin6_addr))
            return true;
        return IN6_IS_ADDR_V4MAPPED (&in6->sin6_addr) && in6->sin6_addr.s6_addr [12] == 127;
    }
    return false;
}

//  Splits "host:port", "[v6]:port", ":port" or "*:port" and resolves it.
static int
s_resolve (const char *listen, struct sockaddr_storage *ss, socklen_t *sslen,
           char *err, size_t errlen)
{
    char host [SF_ADDR_MAX + 1];
    const char *colon = strrchr (listen, ':');
    if (!colon || colon [1] == 0) {
        snprintf (err, errlen, "HTTP listen address '%s' must be HOST:PORT, "
                  "e.g. 127.0.0.1:7680", listen);
        return -1;
    }
    size_t hlen = (size_t) (colon - listen);
    if (hlen >= sizeof (host)) {
        snprintf (err, errlen, "HTTP listen host in '%.60s...' is too long", listen);
        return -1;
    }
    memcpy (host, listen, hlen);
    host [hlen] = 0;
    if (hlen >= 2 && host [0] == '[' && host [hlen - 1] == ']') {
        memmove (host, host + 1, hlen - 2);
        host [hlen - 2] = 0;
    }
    uint64_t port;
    if (s_parse_u64 (colon + 1, 65535, &port)) {
        snprintf (err, errlen, "HTTP listen port in '%s' is not a port number", listen);
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset (&hints, 0, sizeof (hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
    bool any = host [0] == 0 || strcmp (host, "*") == 0;
    int rc = getaddrinfo (any? NULL: host, colon + 1, &hints, &res);
    if (rc || !res) {
        snprintf (err, errlen, "cannot resolve HTTP listen host '%s': %s", host,
                  gai_strerror (rc));
        return -1;
    }
    memcpy (ss, res->ai_addr, res->ai_addrlen);
    *sslen = res->ai_addrlen;
    freeaddrinfo (res);
    return 0;
}

sf_http_t *
sf_http_new (sf_query_ctx_t *query, sf_metrics_t *metrics, const char *listen,
             const char *token, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sslen = 0;
    if (!listen || !*listen)
        listen = "127.0.0.1:7680";
    if (s_resolve (listen, &ss, &sslen, err, errlen))
        return NULL;
    if (token && strlen (token) > S_TOKEN_MAX) {
        snprintf (err, errlen, "HTTP token is longer than %d bytes", S_TOKEN_MAX);
        return NULL;
    }
    if ((!token || !*token) && !s_is_loopback ((struct sockaddr *) &ss)) {
        snprintf (err, errlen, "refusing to serve HTTP on %s without a token: set "
                  "--http-token-file (or --http-token, STREAMFLEET_HTTP_TOKEN), or listen on 127.0.0.1", listen);
        return NULL;
    }
    sf_http_t *self = sf_xcalloc (1, sizeof (sf_http_t));
    self->query = query;
    self->metrics = metrics;
    if (token && *token) {
        self->token_len = strlen (token);
        sf_http_token_hash (token, self->token_len, self->token_hash);
    }
    atomic_init (&self->nroutes, 0);
    pthread_mutex_init (&self->gauges_lock, NULL);
    const sf_web_asset_t *index = s_asset ("/index.html");
    if (index)
        self->page = s_page_build (query, index, &self->page_size);
    self->log_limit = (sf_ratelimit_t) SF_RATELIMIT_INIT (5, 10000);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_AUTO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    uint16_t port = ntohs (ss.ss_family == AF_INET6?
                           ((struct sockaddr_in6 *) &ss)->sin6_port:
                           ((struct sockaddr_in *) &ss)->sin_port);
    self->daemon = MHD_start_daemon (flags, port, NULL, NULL, s_handle, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,        //  first, so it catches all
        MHD_OPTION_URI_LOG_CALLBACK, s_uri_log, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &ss,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned) S_THREADS,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) 512,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) 64,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) 64 * 1024,
        MHD_OPTION_END);
    if (!self->daemon) {
        snprintf (err, errlen, "cannot listen for HTTP on %s: %s (is the port taken?)",
                  listen, strerror (errno? errno: EADDRINUSE));
        pthread_mutex_destroy (&self->gauges_lock);
        free (self->page);
        free (self);
        return NULL;
    }
    //  Report the port really bound (a listen of port 0 picks one)
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_BIND_PORT);
    char host [INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET6)
        inet_ntop (AF_INET6, &((struct sockaddr_in6 *) &ss)->sin6_addr, host, sizeof (host));
    else
        inet_ntop (AF_INET, &((struct sockaddr_in *) &ss)->sin_addr, host, sizeof (host));
    snprintf (self->address, sizeof (self->address), ss.ss_family == AF_INET6?
              "[%s]:%u": "%s:%u", host, info? (unsigned) info->port: (unsigned) port);
    atomic_store (&query->http_address, (const char *) self->address);
    sf_info ("http: serving the API, the web page and /metrics on http://%s/%s",
             self->address, self->token_len? " (bearer token required)": "");
    return self;
}

void
sf_http_destroy (sf_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    atomic_store (&self->query->http_address, (const char *) NULL);
    pthread_mutex_destroy (&self->gauges_lock);
    //  The token is a secret; do not leave it in freed memory
    sodium_memzero (self->token_hash, sizeof (self->token_hash));
    free (self->page);
    free (self);
    *self_p = NULL;
}

const char *
sf_http_address (sf_http_t *self)
{
    return self->address;
}

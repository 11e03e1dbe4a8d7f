/*  sf_http.h — the controller's HTTP listener (libmicrohttpd): the JSON API
    under /api/v1/, the web page at /, and GET /metrics.

    It runs in libmicrohttpd's threads and answers the API through the
    handler the CLI's ZeroMQ endpoint uses (sf_api.h), rendering its reply
    as JSON; /metrics reads the gauges through sf_query.h. Loopback by default; on any other address a
    bearer token is required (the controller refuses to start without one).
*/
#ifndef SF_HTTP_H
#define SF_HTTP_H

#include "sf_query.h"
#include "sf_metrics.h"
#include <stdbool.h>

typedef struct sf_http_t sf_http_t;

//  listen is "host:port". token may be NULL or "" (then listen must be loopback).
//  Returns NULL with err filled when the address is bad, taken, or not
//  loopback without a token.
sf_http_t *sf_http_new (sf_query_ctx_t *query, sf_metrics_t *metrics, const char *listen,
                        const char *token, char *err, size_t errlen);
void sf_http_destroy (sf_http_t **self_p);
//  The address actually bound ("127.0.0.1:7680"; the port is real when the
//  listen string asked for port 0)
const char *sf_http_address (sf_http_t *self);

//  What GET /readyz asks: true when the controller can answer queries with
//  current data; otherwise false with why filled ("store not open", "catching
//  up with peers"). Called from HTTP threads. /healthz and /livez only say
//  the process answers.
typedef bool (sf_http_ready_fn) (void *arg, char *why, size_t whylen);
void sf_http_set_ready (sf_http_t *self, sf_http_ready_fn *fn, void *arg);

//  Extension points, so the migration and cluster work can answer its own
//  endpoints without touching the listener: a route is tried before the
//  built-in handlers. Register routes right after sf_http_new; at most
//  SF_HTTP_ROUTES_MAX. A handler returns a JSON body (a new reference, jansson
//  json_t *) and sets *status; NULL answers 500. It runs in an HTTP thread.
#define SF_HTTP_ROUTES_MAX 16
typedef struct sf_http_req_t sf_http_req_t;
struct json_t;
typedef struct json_t *(sf_http_handler_fn) (const sf_http_req_t *req, void *arg, int *status);
//  path is exact ("/api/v1/cluster") or a prefix ending in '*' ("/api/v1/peers/*").
//  Returns 0, or -1 when the table is full.
int sf_http_route (sf_http_t *self, const char *path, sf_http_handler_fn *fn, void *arg);
//  The request's path (URL-decoded) and a query argument (NULL when absent)
const char *sf_http_req_path (const sf_http_req_t *req);
const char *sf_http_req_arg (const sf_http_req_t *req, const char *key);

//  Limits on a request's URI, checked on the raw URI before libmicrohttpd
//  parses its arguments (docs/http-api.md "Limits")
#define SF_HTTP_URI_MAX     8192        //  the whole URI, path and query string
#define SF_HTTP_PATH_MAX    1024        //  the path, before '?'
#define SF_HTTP_ARGS_MAX    32          //  query parameters ('&'-separated)
#define SF_HTTP_ARG_MAX     4096        //  one parameter, "key=value" as sent
//  Why a URI is refused: the HTTP status (414 or 400, 0 when it is within
//  the limits), the error code and a message
typedef struct {
    unsigned status;
    const char *code;
    const char *message;
} sf_http_verdict_t;
//  NULL when uri (the request target as sent, undecoded) is within the
//  limits, else the verdict (static, never freed). Pure: the fuzzer calls it.
const sf_http_verdict_t *sf_http_uri_check (const char *uri, size_t len);
//  The token as stored: a BLAKE2b hash of it (crypto_generichash), so a
//  presented token is compared hash to hash with sodium_memcmp, in a time that
//  depends on neither token's length nor contents
#define SF_HTTP_TOKEN_HASH 32
bool sf_http_token_equal (const unsigned char hash [SF_HTTP_TOKEN_HASH], const char *presented,
                          size_t len);
void sf_http_token_hash (const char *token, size_t len, unsigned char hash [SF_HTTP_TOKEN_HASH]);
//  Reads a token file: the first line, without its line end or surrounding
//  blanks; 0, or -1 with err (unreadable, empty, longer than max bytes)
int sf_http_token_read (const char *path, char *out, size_t max, char *err, size_t errlen);
#endif

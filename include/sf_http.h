/*  sf_http.h — the controller's HTTP listener (libmicrohttpd): the JSON API
    under /api/v1/, the web page at /, and GET /metrics.

    It runs in libmicrohttpd's own thread and answers through sf_query.h, the
    same read model as the CLI. Loopback by default; on any other address a
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
#endif

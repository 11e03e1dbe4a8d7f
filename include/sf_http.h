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

typedef struct sf_http_t sf_http_t;

//  listen is "host:port". token may be NULL or "" (then listen must be loopback).
//  cluster_fn, when set, fills the /api/v1/cluster answer (jansson json_t *).
sf_http_t *sf_http_new (sf_query_ctx_t *query, sf_metrics_t *metrics, const char *listen,
                        const char *token, char *err, size_t errlen);
void sf_http_destroy (sf_http_t **self_p);
#endif

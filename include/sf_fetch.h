/*  sf_fetch.h — a small HTTP client for the agent's pollers (libcurl).

    One object per poller keeps one connection alive across polls. Every
    request has a hard deadline and a body size bound, so a hung or hostile
    media server costs at most the poll's timeout and bounded memory.
*/
#ifndef SF_FETCH_H
#define SF_FETCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct sf_fetch_t sf_fetch_t;

//  libcurl's global state, counted: the first user initialises it, the last
//  one cleans it up, so a clean shutdown leaves nothing of it behind.
void sf_curl_acquire (void);
void sf_curl_release (void);

sf_fetch_t *sf_fetch_new (void);
void sf_fetch_destroy (sf_fetch_t **self_p);
//  GETs url, or POSTs post_body (JSON) when it is not NULL. header is an
//  optional extra request header line ("Authorization: Bearer ..."). On a 2xx
//  reply returns 0 with *body (NUL-terminated, owned by the fetcher and valid
//  until its next request: the buffer is reused, so a poller reading a large
//  page every second does not map and fault in fresh memory each time) and
//  *len. Otherwise -1 with err saying what failed on which URL: refused,
//  timed out after N ms, HTTP status, body over max_bytes. *status is the
//  HTTP status, or 0 when none arrived.
int sf_fetch (sf_fetch_t *self, const char *url, const char *post_body, const char *header,
              int64_t timeout_ms, size_t max_bytes, char **body, size_t *len, long *status,
              char *err, size_t errlen);

//  The same GET, its body handed to sink as it arrives (libcurl's pieces,
//  16 KiB) and never held whole: a poller that parses as it reads keeps no
//  copy of a large page. Only a 2xx reply's body goes to sink; a sink that
//  returns -1 stops the transfer. 0; -1 with err as sf_fetch; -2 when the
//  sink stopped it (the sink's owner says why).
typedef int (sf_fetch_sink_fn) (const char *data, size_t len, void *arg);
int sf_fetch_stream (sf_fetch_t *self, const char *url, int64_t timeout_ms, size_t max_bytes,
                     sf_fetch_sink_fn *sink, void *arg, long *status, char *err, size_t errlen);
#endif

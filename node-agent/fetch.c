/*  fetch.c — bounded HTTP requests for the agent's pollers (sf_fetch.h).

    libcurl does the protocol; this file only adds what every poller needs:
    a reused handle (keep-alive to the local media server), a deadline for
    the whole request, a cap on the body, and an error text an operator can
    act on. CURLOPT_NOSIGNAL because pollers run in threads.
*/
#include "sf_fetch.h"
#include "sf_alloc.h"
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap, max;
    bool over;
} s_buf_t;

struct sf_fetch_t {
    CURL *curl;
    s_buf_t buf;                    //  reply body, reused across requests
};

static pthread_mutex_t s_curl_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_curl_users;

void
sf_curl_acquire (void)
{
    pthread_mutex_lock (&s_curl_lock);
    if (s_curl_users++ == 0)
        curl_global_init (CURL_GLOBAL_DEFAULT);
    pthread_mutex_unlock (&s_curl_lock);
}

void
sf_curl_release (void)
{
    pthread_mutex_lock (&s_curl_lock);
    if (s_curl_users > 0 && --s_curl_users == 0)
        curl_global_cleanup ();
    pthread_mutex_unlock (&s_curl_lock);
}

sf_fetch_t *
sf_fetch_new (void)
{
    sf_curl_acquire ();
    sf_fetch_t *self = sf_xcalloc (1, sizeof (sf_fetch_t));
    if (!(self->curl = curl_easy_init ())) {
        free (self);
        self = NULL;
    }
    if (!self)
        sf_curl_release ();
    return self;
}

void
sf_fetch_destroy (sf_fetch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    curl_easy_cleanup ((*self_p)->curl);
    free ((*self_p)->buf.data);
    free (*self_p);
    *self_p = NULL;
    sf_curl_release ();
}

static size_t
s_write (char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_buf_t *buf = arg;
    size_t n = size * nmemb;
    if (buf->len + n > buf->max) {
        buf->over = true;
        return 0;                   //  makes libcurl stop with CURLE_WRITE_ERROR
    }
    if (buf->len + n + 1 > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 16384;
        while (cap < buf->len + n + 1)
            cap *= 2;
        //  The body's size is the server's: a refusal fails this fetch only,
        //  so this allocation keeps its error path (sf_alloc.h)
        char *data = realloc (buf->data, cap);
        if (!data)
            return 0;
        buf->data = data;
        buf->cap = cap;
    }
    memcpy (buf->data + buf->len, ptr, n);
    buf->len += n;
    buf->data [buf->len] = 0;
    return n;
}

//  One request, its body to write_fn (libcurl's write callback, with
//  write_arg); the reused handle is reset first. What failed goes to err,
//  except a transfer that the callback stopped (*stopped set by it): that
//  one is the callback owner's to explain.
static int
s_perform (sf_fetch_t *self, const char *url, const char *post_body, const char *header,
           int64_t timeout_ms, size_t max_bytes, curl_write_callback write_fn, void *write_arg,
           const bool *over, const bool *stopped, long *status, char *err, size_t errlen)
{
    CURL *c = self->curl;
    struct curl_slist *headers = NULL;
    *status = 0;
    if (timeout_ms < 1)
        timeout_ms = 1;

    curl_easy_reset (c);
    curl_easy_setopt (c, CURLOPT_URL, url);
    curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (c, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT_MS, (long) timeout_ms);
    curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, write_fn);
    curl_easy_setopt (c, CURLOPT_WRITEDATA, write_arg);
    curl_easy_setopt (c, CURLOPT_USERAGENT, "streamfleet-agent");
    curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (header)
        headers = curl_slist_append (headers, header);
    if (post_body) {
        headers = curl_slist_append (headers, "Content-Type: application/json");
        curl_easy_setopt (c, CURLOPT_POSTFIELDS, post_body);
    }
    if (headers)
        curl_easy_setopt (c, CURLOPT_HTTPHEADER, headers);

    const char *method = post_body ? "POST" : "GET";
    CURLcode res = curl_easy_perform (c);
    curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, status);
    curl_slist_free_all (headers);
    if (res != CURLE_OK) {
        if (stopped && *stopped)
            return -2;
        if (*over)
            snprintf (err, errlen, "%s %s: reply larger than %zu bytes", method, url, max_bytes);
        else
        if (res == CURLE_OPERATION_TIMEDOUT)
            snprintf (err, errlen, "%s %s: no complete reply within %lld ms", method, url,
                      (long long) timeout_ms);
        else
            snprintf (err, errlen, "%s %s: %s", method, url, curl_easy_strerror (res));
        return -1;
    }
    if (*status < 200 || *status > 299) {
        const char *hint = (*status == 401 || *status == 403)
                         ? " (check the API token and how it is sent)" : "";
        snprintf (err, errlen, "%s %s: HTTP %ld%s", method, url, *status, hint);
        return -1;
    }
    return 0;
}

int
sf_fetch (sf_fetch_t *self, const char *url, const char *post_body, const char *header,
          int64_t timeout_ms, size_t max_bytes, char **body, size_t *len, long *status,
          char *err, size_t errlen)
{
    s_buf_t *buf = &self->buf;
    buf->len = 0;
    buf->max = max_bytes;
    buf->over = false;
    //  A buffer far larger than replies have become is given back
    if (buf->cap > 4 * 1024 * 1024 && buf->cap > 4 * max_bytes) {
        free (buf->data);
        buf->data = NULL;
        buf->cap = 0;
    }
    *body = NULL;
    *len = 0;
    if (s_perform (self, url, post_body, header, timeout_ms, max_bytes, s_write, buf,
                   &buf->over, NULL, status, err, errlen))
        return -1;
    if (!buf->data) {
        buf->data = sf_xcalloc (1, 1);
        buf->cap = 1;
    }
    buf->data [buf->len] = 0;
    *body = buf->data;
    *len = buf->len;
    return 0;
}

typedef struct {
    CURL *curl;
    sf_fetch_sink_fn *sink;
    void *arg;
    size_t len, max;
    bool over;
    bool stopped;
} s_sink_t;

static size_t
s_write_sink (char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_sink_t *k = arg;
    size_t n = size * nmemb;
    if (k->len + n > k->max) {
        k->over = true;
        return 0;
    }
    k->len += n;
    //  An error page is read (bounded) but not handed over: the status
    //  says what went wrong
    long code = 0;
    curl_easy_getinfo (k->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299)
        return n;
    if (k->sink (ptr, n, k->arg)) {
        k->stopped = true;
        return 0;
    }
    return n;
}

int
sf_fetch_stream (sf_fetch_t *self, const char *url, int64_t timeout_ms, size_t max_bytes,
                 sf_fetch_sink_fn *sink, void *arg, long *status, char *err, size_t errlen)
{
    s_sink_t k = { .curl = self->curl, .sink = sink, .arg = arg, .max = max_bytes };
    //  The whole-body buffer of earlier requests is not needed here
    free (self->buf.data);
    memset (&self->buf, 0, sizeof self->buf);
    return s_perform (self, url, NULL, NULL, timeout_ms, max_bytes, s_write_sink, &k,
                      &k.over, &k.stopped, status, err, errlen);
}

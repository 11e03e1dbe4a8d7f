/*  rtsp_probe.c — cached RTSP DESCRIBE of stream sources (sf_rtsp_probe.h).

    The cache is an array sorted by stream name, rebuilt from the streams of
    each apply call, so entries of streams that went away are dropped there
    and then. Probing is synchronous in the poller's thread; the time budget
    per call (one timeout) keeps a set of dead cameras from stretching a poll:
    what is not probed this time is probed at the next poll.
*/
#include "sf_rtsp_probe.h"
#include "sf_alloc.h"
#include "sf_fetch.h"
#include "sf_log.h"
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_PROBES_PER_APPLY 8

typedef struct {
    char *name;
    char *url;
    char *sdp;                  //  NULL until a DESCRIBE succeeded
    int32_t ping_ms;
    int64_t started_at;         //  of the stream when probed
    uint32_t reconnect_total;
    int64_t next_try_ms;        //  after a failure
    bool probed;
    bool failed;                //  the last DESCRIBE failed: retry when due
    bool moved;                 //  now owned by the new cache (old cache only)
} s_entry_t;

struct sf_rtsp_probe_t {
    int64_t timeout_ms;
    int64_t retry_ms;
    s_entry_t *entries;         //  sorted by name
    size_t count;
};

typedef struct {
    char *data;
    size_t len;
    bool over;
} s_buf_t;

static size_t
s_write (char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_buf_t *buf = arg;
    size_t n = size * nmemb;
    if (buf->len + n > SF_TEXT_MAX) {
        buf->over = true;
        return 0;
    }
    //  The reply's size is the server's: a refusal fails this probe only,
    //  so this allocation keeps its error path (sf_alloc.h)
    char *data = realloc (buf->data, buf->len + n + 1);
    if (!data)
        return 0;
    buf->data = data;
    memcpy (buf->data + buf->len, ptr, n);
    buf->len += n;
    buf->data [buf->len] = 0;
    return n;
}

int
sf_rtsp_describe (const char *url, int64_t timeout_ms, char **sdp, int32_t *ping_ms,
                  char *err, size_t errlen)
{
    *sdp = NULL;
    sf_curl_acquire ();
    CURL *c = curl_easy_init ();
    if (!c) {
        sf_curl_release ();
        snprintf (err, errlen, "out of memory");
        return -1;
    }
    s_buf_t buf = { 0 };
    curl_easy_setopt (c, CURLOPT_URL, url);
    curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "rtsp");
    curl_easy_setopt (c, CURLOPT_RTSP_STREAM_URI, url);
    curl_easy_setopt (c, CURLOPT_RTSP_REQUEST, (long) CURL_RTSPREQ_DESCRIBE);
    curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (c, CURLOPT_TIMEOUT_MS, (long) (timeout_ms > 0 ? timeout_ms : 1));
    curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT_MS, (long) (timeout_ms > 0 ? timeout_ms : 1));
    curl_easy_setopt (c, CURLOPT_USERAGENT, "streamfleet-agent");
    curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt (c, CURLOPT_WRITEDATA, &buf);
    CURLcode res = curl_easy_perform (c);
    long status = 0;
    curl_easy_getinfo (c, CURLINFO_RESPONSE_CODE, &status);
    curl_off_t connect_us = 0;
    curl_easy_getinfo (c, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_cleanup (c);
    sf_curl_release ();
    int rc = -1;
    if (res != CURLE_OK) {
        if (res == CURLE_OPERATION_TIMEDOUT)
            snprintf (err, errlen, "RTSP DESCRIBE %s: no reply within %lld ms", url,
                      (long long) timeout_ms);
        else
        if (buf.over)
            snprintf (err, errlen, "RTSP DESCRIBE %s: SDP larger than %d bytes", url, SF_TEXT_MAX);
        else
            snprintf (err, errlen, "RTSP DESCRIBE %s: %s", url, curl_easy_strerror (res));
    }
    else
    if (status != 200)
        snprintf (err, errlen, "RTSP DESCRIBE %s: RTSP status %ld", url, status);
    else
    if (!buf.len)
        snprintf (err, errlen, "RTSP DESCRIBE %s: empty SDP", url);
    else {
        *sdp = buf.data;
        buf.data = NULL;
        *ping_ms = (int32_t) (connect_us / 1000);
        rc = 0;
    }
    free (buf.data);
    return rc;
}

sf_rtsp_probe_t *
sf_rtsp_probe_new (int64_t timeout_ms, int64_t retry_ms)
{
    sf_rtsp_probe_t *self = sf_xcalloc (1, sizeof (sf_rtsp_probe_t));
    self->timeout_ms = timeout_ms > 0 ? timeout_ms : 2000;
    self->retry_ms = retry_ms > 0 ? retry_ms : 30000;
    //  Holds libcurl's global state for the probes to come
    sf_curl_acquire ();
    return self;
}

static void
s_entry_free (s_entry_t *e)
{
    free (e->name);
    free (e->url);
    free (e->sdp);
}

void
sf_rtsp_probe_destroy (sf_rtsp_probe_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_rtsp_probe_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        s_entry_free (&self->entries [i]);
    free (self->entries);
    free (self);
    *self_p = NULL;
    sf_curl_release ();
}

static int
s_entry_cmp (const void *a, const void *b)
{
    return strcmp (((const s_entry_t *) a)->name, ((const s_entry_t *) b)->name);
}

static bool
s_is_rtsp (const char *url)
{
    return url && (!strncasecmp (url, "rtsp://", 7) || !strncasecmp (url, "rtsps://", 8));
}

int
sf_rtsp_probe_apply (sf_rtsp_probe_t *self, sf_streamset_t *set, int64_t now_ms)
{
    //  The new cache: one entry per rtsp stream of this set, carried over
    //  from the old cache where the name matches.
    size_t n = 0;
    for (size_t i = 0; i < set->count; i++)
        if (s_is_rtsp (set->items [i].source_url))
            n++;
    s_entry_t *entries = n ? sf_xcalloc (n, sizeof (s_entry_t)) : NULL;
    size_t count = 0;
    int probes = 0;
    int64_t deadline = sf_mono_ms () + self->timeout_ms;
    for (size_t i = 0; i < set->count; i++) {
        sf_stream_t *stream = &set->items [i];
        if (!s_is_rtsp (stream->source_url))
            continue;
        s_entry_t key = { .name = stream->name };
        s_entry_t *old = self->count
            ? bsearch (&key, self->entries, self->count, sizeof (s_entry_t), s_entry_cmp) : NULL;
        s_entry_t *e = &entries [count];
        if (old && !old->moved) {
            //  The name stays readable in the old array for later lookups
            *e = *old;
            old->moved = true;
        }
        else
            e->name = sf_xstrdup (stream->name);
        count++;
        if (e->url && strcmp (e->url, stream->source_url)) {
            free (e->sdp);
            e->sdp = NULL;
            e->probed = false;
            e->next_try_ms = 0;
        }
        if (!e->url || strcmp (e->url, stream->source_url)) {
            free (e->url);
            e->url = sf_xstrdup (stream->source_url);
        }
        //  The source's own SDP wins; nothing to ask
        if (stream->source_sdp && *stream->source_sdp)
            continue;
        bool reconnected = e->probed && (e->started_at != stream->started_at
                                      || e->reconnect_total != stream->reconnect_total);
        bool due = (!e->probed || reconnected || e->failed) && now_ms >= e->next_try_ms;
        if (due && probes < S_PROBES_PER_APPLY && sf_mono_ms () < deadline && e->url) {
            char *sdp = NULL;
            int32_t ping = -1;
            char err [512];
            probes++;
            int64_t left = deadline - sf_mono_ms ();
            if (sf_rtsp_describe (e->url, left < self->timeout_ms ? left : self->timeout_ms,
                                  &sdp, &ping, err, sizeof err) == 0) {
                free (e->sdp);
                e->sdp = sdp;
                e->ping_ms = ping;
                e->next_try_ms = 0;
                e->failed = false;
            }
            else {
                //  Keep an SDP from before a reconnect: likely still right
                e->next_try_ms = now_ms + self->retry_ms;
                e->failed = true;
                sf_debug ("%s: %s (next try in %lld s)", stream->name, err,
                          (long long) (self->retry_ms / 1000));
            }
            e->probed = true;
            e->started_at = stream->started_at;
            e->reconnect_total = stream->reconnect_total;
        }
        if (e->sdp) {
            sf_text_set (&stream->source_sdp, e->sdp);
            if (stream->ping_ms < 0)
                stream->ping_ms = e->ping_ms;
        }
    }
    for (size_t i = 0; i < self->count; i++)
        if (!self->entries [i].moved)
            s_entry_free (&self->entries [i]);
    free (self->entries);
    if (count > 1)
        qsort (entries, count, sizeof (s_entry_t), s_entry_cmp);
    self->entries = entries;
    self->count = count;
    return probes;
}

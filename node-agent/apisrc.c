/*  apisrc.c — the JSON API adapters' shared client, value readers and
    per-stream memory (sf_apisrc.h).

    libcurl does HTTP (through sf_fetch: a reused handle, a deadline, a body
    cap), jansson does JSON; this file only adds the auth the servers use,
    the poll's one deadline across many requests, and masking of secrets in
    errors an operator will read in the log.
*/
#include "sf_apisrc.h"
#include "sf_alloc.h"
#include "sf_fetch.h"
#include "sf_source.h"
#include "sf_log.h"
#include <curl/curl.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S_REPLY_MAX (64 * 1024 * 1024)

struct sf_apisrc_t {
    sf_fetch_t *fetch;
    char base [SF_URL_MAX];
    sf_apiauth_t auth;
    char header [1200];             //  Authorization header, or ""
    char secret [512];              //  masked in errors
    char query_token [768];         //  "token=..." escaped, for SF_APIAUTH_QUERY
    char last_url [SF_URL_MAX + 2048];  //  of the last request, for errors
};

static void
s_trim (char *url)
{
    size_t n = strlen (url);
    while (n && url [n - 1] == '/')
        url [--n] = 0;
}

sf_apisrc_t *
sf_apisrc_new (const char *base_url, sf_apiauth_t auth, const char *user, const char *secret,
               char *err, size_t errlen)
{
    sf_apisrc_t *self = sf_xcalloc (1, sizeof (sf_apisrc_t));
    if (!(self->fetch = sf_fetch_new ())) {
        snprintf (err, errlen, "cannot initialise libcurl");
        free (self);
        return NULL;
    }
    snprintf (self->base, sizeof self->base, "%s", base_url);
    s_trim (self->base);
    self->auth = auth;
    snprintf (self->secret, sizeof self->secret, "%s", secret ? secret : "");
    if (auth == SF_APIAUTH_BASIC) {
        char pair [800];
        snprintf (pair, sizeof pair, "%.255s:%.500s", user ? user : "", self->secret);
        char b64 [1100];
        sodium_bin2base64 (b64, sizeof b64, (const unsigned char *) pair, strlen (pair),
                           sodium_base64_VARIANT_ORIGINAL);
        snprintf (self->header, sizeof self->header, "Authorization: Basic %s", b64);
        sodium_memzero (pair, sizeof pair);
    }
    else
    if (auth == SF_APIAUTH_BEARER && *self->secret)
        snprintf (self->header, sizeof self->header, "Authorization: Bearer %.900s", self->secret);
    else
    if (auth == SF_APIAUTH_QUERY && *self->secret) {
        char *esc = curl_easy_escape (NULL, self->secret, 0);
        snprintf (self->query_token, sizeof self->query_token, "token=%.700s", esc ? esc : "");
        curl_free (esc);
    }
    return self;
}

void
sf_apisrc_destroy (sf_apisrc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_apisrc_t *self = *self_p;
    sf_fetch_destroy (&self->fetch);
    sodium_memzero (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

//  Replaces every occurrence of what in text by "***"
static void
s_mask (char *text, const char *what)
{
    size_t n = strlen (what);
    if (n < 3)
        return;
    char *at;
    while ((at = strstr (text, what))) {
        memmove (at + 3, at + n, strlen (at + n) + 1);
        memcpy (at, "***", 3);
    }
}

//  An error an operator reads never carries the password or token
static void
s_secrets_out (const sf_apisrc_t *self, char *err)
{
    if (*self->query_token)
        s_mask (err, self->query_token + 6);
    s_mask (err, self->secret);
}

int
sf_apisrc_get_text_at (sf_apisrc_t *self, const char *base_url, const char *path, int64_t deadline_ms,
                       char **body, size_t *len, char *err, size_t errlen)
{
    char base [SF_URL_MAX];
    snprintf (base, sizeof base, "%s", base_url);
    s_trim (base);
    char url [SF_URL_MAX + 2048];
    int n = snprintf (url, sizeof url, "%s%s", base, path);
    if (*self->query_token && n > 0 && (size_t) n < sizeof url)
        snprintf (url + n, sizeof url - (size_t) n, "%s%s", strchr (path, '?') ? "&" : "?",
                  self->query_token);
    int64_t left = deadline_ms - sf_mono_ms ();
    if (left < 1)
        left = 1;
    *body = NULL;
    *len = 0;
    long status = 0;
    snprintf (self->last_url, sizeof self->last_url, "%s", url);
    int rc = sf_fetch (self->fetch, url, NULL, *self->header ? self->header : NULL, left,
                       S_REPLY_MAX, body, len, &status, err, errlen);
    if (rc)
        s_secrets_out (self, err);
    return rc;
}

int
sf_apisrc_get_at (sf_apisrc_t *self, const char *base_url, const char *path, int64_t deadline_ms,
                  json_t **root, char *err, size_t errlen)
{
    *root = NULL;
    char *body;
    size_t len;
    if (sf_apisrc_get_text_at (self, base_url, path, deadline_ms, &body, &len, err, errlen))
        return -1;
    json_error_t jerr;
    *root = json_loadb (body, len, 0, &jerr);
    if (!*root) {
        snprintf (err, errlen, "GET %s: reply is not JSON (line %d: %s)", self->last_url, jerr.line, jerr.text);
        s_secrets_out (self, err);
        return -1;
    }
    return 0;
}

int
sf_apisrc_get (sf_apisrc_t *self, const char *path, int64_t deadline_ms, json_t **root,
               char *err, size_t errlen)
{
    return sf_apisrc_get_at (self, self->base, path, deadline_ms, root, err, errlen);
}

#define S_PAGES_MAX 100000

int
sf_apisrc_list (sf_apisrc_t *self, const sf_apilist_t *list, int64_t deadline_ms,
                int (*each) (json_t *item, void *arg, char *err, size_t errlen), void *arg,
                char *err, size_t errlen)
{
    char cursor [1024] = "";
    char sep = strchr (list->path, '?') ? '&' : '?';
    for (int64_t page = 0; page < S_PAGES_MAX; page++) {
        char req [2048];
        long long per = (long long) list->per_page;
        if (list->style == SF_APIPAGE_NUMBERED)
            snprintf (req, sizeof req, "%s%cpage=%lld&itemsPerPage=%lld", list->path, sep,
                      (long long) page, per);
        else
        if (list->style == SF_APIPAGE_OFFSET)
            snprintf (req, sizeof req, "%s%cstart=%lld&count=%lld", list->path, sep,
                      (long long) page * per, per);
        else {
            int n = snprintf (req, sizeof req, "%s%climit=%lld", list->path, sep, per);
            if (*cursor && n > 0 && (size_t) n < sizeof req) {
                char *esc = curl_easy_escape (NULL, cursor, 0);
                snprintf (req + n, sizeof req - (size_t) n, "&cursor=%s", esc ? esc : "");
                curl_free (esc);
            }
        }
        json_t *root;
        if (sf_apisrc_get (self, req, deadline_ms, &root, err, errlen))
            return -1;
        if (list->check && list->check (root, arg, err, errlen)) {
            json_decref (root);
            return -1;
        }
        json_t *items = json_object_get (root, list->items_key);
        if (!json_is_array (items)) {
            snprintf (err, errlen, "%.200s%s: %s", self->base, list->path, list->not_a_list);
            json_decref (root);
            return -1;
        }
        size_t i, got = json_array_size (items);
        json_t *item;
        json_array_foreach (items, i, item)
            if (each (item, arg, err, errlen)) {
                json_decref (root);
                return -1;
            }
        bool more;
        if (list->style == SF_APIPAGE_NUMBERED) {
            int64_t pages = sf_jv_int (root, "pageCount", -1);
            more = pages >= 0 && page + 1 < pages;
        }
        else
        if (list->style == SF_APIPAGE_OFFSET)
            more = (int64_t) got >= list->per_page;
        else {
            const char *next = sf_jv_str (root, "next");
            more = next && *next && got && strcmp (next, cursor) && strlen (next) < sizeof cursor;
            if (more)
                snprintf (cursor, sizeof cursor, "%s", next);
        }
        json_decref (root);
        if (!more)
            return 0;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Value readers

bool
sf_jv_num (json_t *obj, const char *key, double *value)
{
    json_t *v = json_object_get (obj, key);
    if (json_is_number (v))
        *value = json_number_value (v);
    else
    if (json_is_string (v) && *json_string_value (v)) {
        char *end;
        *value = strtod (json_string_value (v), &end);
        if (*end)
            return false;
    }
    else
        return false;
    return isfinite (*value);
}

int64_t
sf_jv_int (json_t *obj, const char *key, int64_t dflt)
{
    double v;
    if (!sf_jv_num (obj, key, &v) || v > 9e18 || v < -9e18)
        return dflt;
    return (int64_t) v;
}

uint32_t
sf_jv_u32 (json_t *obj, const char *key)
{
    int64_t v = sf_jv_int (obj, key, 0);
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
}

bool
sf_jv_bool (json_t *obj, const char *key)
{
    json_t *v = json_object_get (obj, key);
    if (json_is_string (v)) {
        const char *s = json_string_value (v);
        return !strcasecmp (s, "true") || !strcasecmp (s, "on") || !strcmp (s, "1");
    }
    return json_is_true (v) || (json_is_number (v) && json_number_value (v) != 0);
}

const char *
sf_jv_str (json_t *obj, const char *key)
{
    json_t *v = json_object_get (obj, key);
    return json_is_string (v) ? json_string_value (v) : NULL;
}

//  Unix seconds of an RFC 3339 text and, in *ms, the milliseconds of its
//  fraction (0 without one); 0 when it is not one
static int64_t
s_rfc3339 (const char *text, int64_t *ms)
{
    *ms = 0;
    if (!text)
        return 0;
    struct tm tm = { 0 };
    const char *rest = strptime (text, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest)
        rest = strptime (text, "%Y-%m-%d %H:%M:%S", &tm);
    if (!rest)
        return 0;
    int64_t t = (int64_t) timegm (&tm);
    //  A fraction's first three digits are the ms; a zone offset after it
    //  moves the time
    int digits = 0;
    if (*rest == '.')
        rest++;
    while (*rest >= '0' && *rest <= '9') {
        if (digits++ < 3)
            *ms = *ms * 10 + (*rest - '0');
        rest++;
    }
    for (; digits > 0 && digits < 3; digits++)
        *ms *= 10;
    int sh, sm;
    if ((*rest == '+' || *rest == '-') && sscanf (rest + 1, "%2d:%2d", &sh, &sm) == 2)
        t += (*rest == '+' ? -1 : 1) * (sh * 3600 + sm * 60);
    return t;
}

int64_t
sf_jv_rfc3339 (const char *text)
{
    int64_t ms;
    return s_rfc3339 (text, &ms);
}

int64_t
sf_jv_rfc3339_ms (const char *text)
{
    int64_t ms;
    int64_t t = s_rfc3339 (text, &ms);
    return t ? t * 1000 + ms : 0;
}

int64_t
sf_jv_time (json_t *obj, const char *key)
{
    double d;
    if (sf_jv_num (obj, key, &d))
        return d > 1e11 ? (int64_t) (d / 1000) : d > 0 ? (int64_t) d : 0;
    return sf_jv_rfc3339 (sf_jv_str (obj, key));
}

json_t *
sf_jv_path (json_t *obj, const char *path)
{
    char key [128];
    while (obj && *path) {
        const char *dot = strchr (path, '.');
        size_t n = dot ? (size_t) (dot - path) : strlen (path);
        if (n >= sizeof key)
            return NULL;
        memcpy (key, path, n);
        key [n] = 0;
        obj = json_is_object (obj) ? json_object_get (obj, key) : NULL;
        path += n + (dot ? 1 : 0);
    }
    return obj;
}

//  --------------------------------------------------------------------------
//  Per-stream memory

static int
s_entry_cmp (const void *a, const void *b)
{
    return strcmp (((const sf_apimemo_entry_t *) a)->key, ((const sf_apimemo_entry_t *) b)->key);
}

void
sf_apimemo_begin (sf_apimemo_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        self->items [i].seen = false;
}

sf_apimemo_entry_t *
sf_apimemo_get (sf_apimemo_t *self, const char *key)
{
    sf_apimemo_entry_t probe;
    snprintf (probe.key, sizeof probe.key, "%s", key);
    sf_apimemo_entry_t *e = self->sorted
        ? bsearch (&probe, self->items, self->sorted, sizeof probe, s_entry_cmp) : NULL;
    for (size_t i = self->sorted; !e && i < self->count; i++)
        if (!strcmp (self->items [i].key, probe.key))
            e = &self->items [i];
    if (!e) {
        if (self->count == self->cap) {
            size_t cap = self->cap ? self->cap * 2 : 32;
            self->items = sf_xreallocarray (self->items, cap, sizeof *self->items);
            self->cap = cap;
        }
        e = &self->items [self->count++];
        memset (e, 0, sizeof *e);
        snprintf (e->key, sizeof e->key, "%s", probe.key);
        e->first_seen = time (NULL);
    }
    e->seen = true;
    return e;
}

void
sf_apimemo_end (sf_apimemo_t *self, bool forget)
{
    size_t out = 0;
    for (size_t i = 0; i < self->count; i++)
        if (self->items [i].seen || !forget)
            self->items [out++] = self->items [i];
        else
        if (self->items [i].data && self->free_data)
            self->free_data (self->items [i].data);
    self->count = out;
    if (out > 1)
        qsort (self->items, out, sizeof *self->items, s_entry_cmp);
    self->sorted = out;
}

void
sf_apimemo_clear (sf_apimemo_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->items [i].data && self->free_data)
            self->free_data (self->items [i].data);
    free (self->items);
    void (*free_data) (void *) = self->free_data;
    memset (self, 0, sizeof *self);
    self->free_data = free_data;
}

uint32_t
sf_apimemo_rate (sf_apimemo_entry_t *e, uint64_t bytes, int64_t mono_ms)
{
    if (e->bytes_at_ms && mono_ms - e->bytes_at_ms < 200)
        return e->kbps;
    uint32_t kbps = 0;
    if (e->bytes_at_ms && bytes >= e->bytes && mono_ms > e->bytes_at_ms) {
        uint64_t v = (bytes - e->bytes) * 8 / (uint64_t) (mono_ms - e->bytes_at_ms);
        kbps = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
    }
    e->bytes = bytes;
    e->bytes_at_ms = mono_ms;
    e->kbps = kbps;
    return kbps;
}

void
sf_apimemo_report_unseen (sf_apimemo_t *self, sf_streamset_t *set)
{
    for (size_t i = 0; i < self->count; i++) {
        sf_apimemo_entry_t *e = &self->items [i];
        if (sf_streamset_find (set, e->key))
            continue;
        sf_stream_t *s = sf_streamset_add (set, e->key);
        SF_STRSET (s->uid, e->key);
        s->status = SF_STATUS_SUSPEND;
        e->bytes_at_ms = 0;
    }
}

void
sf_apimemo_session (sf_apimemo_entry_t *e, const char *session)
{
    if (!session || !*session)
        return;
    if (*e->session && strcmp (e->session, session))
        e->reconnects++;
    snprintf (e->session, sizeof e->session, "%s", session);
}

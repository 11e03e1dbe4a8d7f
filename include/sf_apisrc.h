/*  sf_apisrc.h — what the media servers' JSON API adapters share: one
    client per adapter that GETs paths under a base URL with the server's
    auth (HTTP basic, a bearer token, or a token in the query), within the
    poll's one deadline, and parses the reply with jansson; value readers
    that take the shapes these APIs use (numbers as text, times as unix
    seconds, milliseconds or RFC 3339); and a per-stream memory for what
    only a difference between polls gives (bitrate from byte counters,
    reconnects from a changed publisher).

    Errors never carry the password or token: the client masks them.
*/
#ifndef SF_APISRC_H
#define SF_APISRC_H

#include "sf_record.h"
#include "sf_source.h"
#include <jansson.h>

typedef struct sf_apisrc_t sf_apisrc_t;

typedef enum {
    SF_APIAUTH_NONE,
    SF_APIAUTH_BASIC,           //  user:password
    SF_APIAUTH_BEARER,          //  Authorization: Bearer TOKEN
    SF_APIAUTH_QUERY,           //  ?token=TOKEN
} sf_apiauth_t;

//  base_url without trailing slashes is kept. secret is the password
//  (basic) or the token. NULL with err when libcurl cannot start.
sf_apisrc_t *sf_apisrc_new (const char *base_url, sf_apiauth_t auth, const char *user,
                            const char *secret, char *err, size_t errlen);
void sf_apisrc_destroy (sf_apisrc_t **self_p);
//  GETs base + path (path may carry a query) within what is left of
//  deadline_ms (monotonic), and parses the JSON reply. 0 with *root (the
//  caller decrefs), or -1 with err naming the URL and what failed.
int sf_apisrc_get (sf_apisrc_t *self, const char *path, int64_t deadline_ms, json_t **root,
                   char *err, size_t errlen);
//  The same against another base URL (a second listener of the same
//  server, with the same auth: MediaMTX's playback server)
int sf_apisrc_get_at (sf_apisrc_t *self, const char *base_url, const char *path,
                      int64_t deadline_ms, json_t **root, char *err, size_t errlen);
//  The same for a reply that is not JSON (MediaMTX's Prometheus metrics):
//  0 with *body (NUL-terminated, valid until the next request) and *len
int sf_apisrc_get_text_at (sf_apisrc_t *self, const char *base_url, const char *path,
                           int64_t deadline_ms, char **body, size_t *len, char *err, size_t errlen);
//  How a server pages a list: MediaMTX numbers its pages (page=P&
//  itemsPerPage=N, to pageCount; a server before paging sends no pageCount
//  and one page is the whole list), SRS counts from an offset (start=S&
//  count=N, until a page comes back short), Flussonic hands out cursors
//  (limit=N, then cursor=NEXT while it sends a new "next")
typedef enum { SF_APIPAGE_NUMBERED, SF_APIPAGE_OFFSET, SF_APIPAGE_CURSOR } sf_apipage_t;

typedef struct {
    sf_apipage_t style;
    const char *path;               //  may carry its own query ("...?select=...")
    const char *items_key;          //  the reply's array of items ("items", "streams")
    int64_t per_page;
    const char *not_a_list;         //  the error when a reply has no such array
    //  Optional: a server's own envelope check of each page (SRS's "code"),
    //  called with each's arg; 0, or -1 with err
    int (*check) (json_t *page, void *arg, char *err, size_t errlen);
} sf_apilist_t;

//  Reads every page of a list within the deadline, calling each for every
//  item in order. each returns 0, or -1 with err filled (the read stops).
//  0, or -1 with err (a request failed, a reply was not a list).
int sf_apisrc_list (sf_apisrc_t *self, const sf_apilist_t *list, int64_t deadline_ms,
                    int (*each) (json_t *item, void *arg, char *err, size_t errlen), void *arg,
                    char *err, size_t errlen);

//  Value readers: key's value, or dflt / false / NULL when absent or of
//  another type. Numbers may be sent as text.
bool sf_jv_num (json_t *obj, const char *key, double *value);
int64_t sf_jv_int (json_t *obj, const char *key, int64_t dflt);
uint32_t sf_jv_u32 (json_t *obj, const char *key);          //  clamped, 0 if absent
bool sf_jv_bool (json_t *obj, const char *key);
const char *sf_jv_str (json_t *obj, const char *key);
//  Unix seconds from an RFC 3339 / ISO 8601 text (fractions, Z or +hh:mm);
//  0 when it is not one
int64_t sf_jv_rfc3339 (const char *text);
//  The same in unix ms, with the fraction's ms (a text without one is a
//  whole second); 0 when it is not one
int64_t sf_jv_rfc3339_ms (const char *text);
//  A time field in unix seconds, ms (anything above 1e11) or RFC 3339; 0 if none
int64_t sf_jv_time (json_t *obj, const char *key);
//  The object at a dotted path ("stats.media_info"), NULL if absent
json_t *sf_jv_path (json_t *obj, const char *path);

//  Per-stream memory between polls, by stream key (sorted array).
typedef struct {
    char key [SF_NAME_MAX * 3 + 3];
    uint64_t bytes;                 //  cumulative counter at bytes_at_ms
    int64_t bytes_at_ms;            //  monotonic; 0 = no sample yet
    uint32_t kbps;                  //  the last rate computed
    char session [SF_SHORT_MAX + 1];    //  publisher's id, to count reconnects
    uint32_t reconnects;
    int64_t first_seen;             //  unix seconds
    bool seen;                      //  in this poll
    void *data;                     //  the adapter's own, freed by free_data
} sf_apimemo_entry_t;

typedef struct {
    sf_apimemo_entry_t *items;
    size_t count, cap;
    size_t sorted;                  //  items [0, sorted) are in key order
    void (*free_data) (void *data);
} sf_apimemo_t;

//  Marks every entry unseen, for a new poll
void sf_apimemo_begin (sf_apimemo_t *self);
//  The entry for key, created (zeroed) when new and marked seen (never NULL:
//  out of memory aborts, sf_alloc.h)
sf_apimemo_entry_t *sf_apimemo_get (sf_apimemo_t *self, const char *key);
//  Re-sorts; when forget, first drops the entries not seen since begin
//  (a server that lists configured streams), else keeps them (a server
//  that forgets a stream once it stops: it is reported as suspend)
void sf_apimemo_end (sf_apimemo_t *self, bool forget);
void sf_apimemo_clear (sf_apimemo_t *self);
//  kbit/s from a cumulative byte counter: (bytes - last) * 8 / dt; keeps the
//  last rate when dt is under 200 ms, 0 on the first sample or a reset
uint32_t sf_apimemo_rate (sf_apimemo_entry_t *entry, uint64_t bytes, int64_t mono_ms);
//  Adds every entry that set does not hold to it as a suspend record (a
//  server that forgets a stream once its publisher stops) and forgets its
//  byte sample, so a restart does not make a rate of the gap
void sf_apimemo_report_unseen (sf_apimemo_t *self, sf_streamset_t *set);
//  Counts a reconnect when the publisher's session id changes from one
//  non-empty value to another, or comes back after an empty one
void sf_apimemo_session (sf_apimemo_entry_t *entry, const char *session);
#endif

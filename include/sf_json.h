/*  sf_json.h — the one JSON encoding of streamfleet's records (jansson).

    The HTTP API, the web page and the CLI's `-o json` all print records
    through these functions, so a field has one name and one unit everywhere:
    the names of DESIGN §2 (docs/http-api.md lists them). Derived fields
    (uptime_s, links, liveness, heartbeat_age_ms) are computed here from the
    record and the time passed in, never stored.
*/
#ifndef SF_JSON_H
#define SF_JSON_H

#include <jansson.h>
#include "sf_record.h"

//  What a stream encoding holds
#define SF_JSON_ROW     0x00    //  the listing's fields: identity, state, counters, source url
#define SF_JSON_DETAIL  0x01    //  plus config, SDP, DVR section with ranges, media, links

//  Encodes a placement. node (may be NULL) supplies the link templates and
//  external address; without it no links are written. now is unix seconds.
//  Returns a new reference, or NULL when out of memory.
json_t *sf_json_stream (const sf_stream_t *s, const sf_node_t *node, int flags, int64_t now);

//  Encodes a node with its derived liveness, heartbeat age and counts.
json_t *sf_json_node (const sf_node_t *n, int64_t now);

//  The API's error body: {"error": {"status": 400, "code": "...", "message": "..."}}
json_t *sf_json_error (int status, const char *code, const char *message);

//  Converts a decoded msgpack object (an event, say) into JSON: maps with
//  string keys become objects, binary and non-UTF-8 strings become null.
//  Returns a new reference, or NULL when depth exceeds a sane bound.
struct msgpack_object;
json_t *sf_json_from_msgpack (const struct msgpack_object *o);

//  A JSON string from text of unknown provenance: invalid UTF-8 becomes
//  U+FFFD instead of failing (jansson refuses such strings). NULL gives "".
json_t *sf_json_str (const char *text);

//  Dumps compactly into a malloc'ed string (caller frees), NULL on failure.
char *sf_json_dumps (const json_t *j, size_t *len);
#endif

/*  sf_mpjson.h — msgpack objects to JSON (jansson) and back.

    Replies are built once, in msgpack (sf_reply.h); their JSON form — the
    HTTP API's bodies and the CLI's `-o json` — is this one mechanical
    translation: maps to objects, arrays to arrays, strings (invalid UTF-8
    repaired to U+FFFD, NUL bytes dropped), numbers, booleans, nil to null.
*/
#ifndef SF_MPJSON_H
#define SF_MPJSON_H

#include <stdbool.h>
#include <jansson.h>
#include <msgpack.h>

//  A new reference, or NULL when o is NULL or memory ran out
json_t *sf_mpjson (const msgpack_object *o);
//  Parses a whole msgpack buffer and converts it; NULL if it is not one value
json_t *sf_mpjson_buf (const void *data, size_t size);
//  The JSON text of o, compact or indented by two; malloc'ed (caller frees),
//  NULL on failure. The HTTP API and the CLI print replies through this.
char *sf_mpjson_dumps (const msgpack_object *o, bool pretty, size_t *len);
//  A JSON string from text of unknown provenance (repaired as above; NULL
//  gives "")
json_t *sf_json_str (const char *text);
//  JSON to msgpack, the other way: objects to maps, and so on. Integers stay
//  integers, reals become float64. Returns 0, -1 when nesting exceeds 32 levels.
int sf_json_to_msgpack (const json_t *j, msgpack_packer *pk);
#endif

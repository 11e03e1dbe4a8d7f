/*  sf_mpjson.h — msgpack objects to JSON (jansson). Replies are specified once,
    in msgpack; their JSON form (CLI -o json, HTTP API) is this mechanical
    translation: maps to objects, arrays to arrays, strings, numbers, booleans,
    nil to null.
*/
#ifndef SF_MPJSON_H
#define SF_MPJSON_H

#include <jansson.h>
#include <msgpack.h>

json_t *sf_mpjson (const msgpack_object *o);
//  Parses a whole msgpack buffer and converts it; NULL if it is not one value
json_t *sf_mpjson_buf (const void *data, size_t size);
//  JSON to msgpack, the other way: objects to maps, and so on. Integers stay
//  integers, reals become float64. Returns 0, -1 when nesting exceeds 32 levels.
int sf_json_to_msgpack (const json_t *j, msgpack_packer *pk);
#endif

/*  mpjson.c — msgpack to JSON, see include/sf_mpjson.h. */
#include "sf_mpjson.h"
#include <string.h>

json_t *
sf_mpjson (const msgpack_object *o)
{
    switch (o->type) {
        case MSGPACK_OBJECT_NIL: return json_null ();
        case MSGPACK_OBJECT_BOOLEAN: return json_boolean (o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return json_integer (o->via.u64 > INT64_MAX ? INT64_MAX : (json_int_t) o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer (o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64: return json_real (o->via.f64);
        //  msgpack-c leaves ptr NULL for an empty string, and jansson makes
        //  no string of NULL: the element would vanish from its array
        case MSGPACK_OBJECT_STR:
            return json_stringn_nocheck (o->via.str.size ? o->via.str.ptr : "", o->via.str.size);
        case MSGPACK_OBJECT_BIN:
            return json_stringn_nocheck (o->via.bin.size ? o->via.bin.ptr : "", o->via.bin.size);
        case MSGPACK_OBJECT_ARRAY: {
            json_t *a = json_array ();
            for (uint32_t i = 0; a && i < o->via.array.size; i++)
                json_array_append_new (a, sf_mpjson (&o->via.array.ptr [i]));
            return a;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *m = json_object ();
            for (uint32_t i = 0; m && i < o->via.map.size; i++) {
                const msgpack_object *k = &o->via.map.ptr [i].key;
                if (k->type != MSGPACK_OBJECT_STR)
                    continue;
                char key [256];
                size_t len = k->via.str.size < sizeof (key) - 1 ? k->via.str.size : sizeof (key) - 1;
                memcpy (key, k->via.str.ptr, len);
                key [len] = 0;
                json_object_set_new (m, key, sf_mpjson (&o->via.map.ptr [i].val));
            }
            return m;
        }
        default: return json_null ();
    }
}

json_t *
sf_mpjson_buf (const void *data, size_t size)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    json_t *j = NULL;
    if (msgpack_unpack_next (&u, data, size, &off) == MSGPACK_UNPACK_SUCCESS)
        j = sf_mpjson (&u.data);
    msgpack_unpacked_destroy (&u);
    return j;
}

static int
s_to_msgpack (const json_t *j, msgpack_packer *pk, int depth)
{
    if (depth > 32)
        return -1;
    switch (json_typeof (j)) {
        case JSON_OBJECT: {
            msgpack_pack_map (pk, json_object_size (j));
            const char *key;
            json_t *v;
            json_object_foreach ((json_t *) j, key, v) {
                size_t len = strlen (key);
                msgpack_pack_str (pk, len);
                msgpack_pack_str_body (pk, key, len);
                if (s_to_msgpack (v, pk, depth + 1))
                    return -1;
            }
            return 0;
        }
        case JSON_ARRAY: {
            msgpack_pack_array (pk, json_array_size (j));
            size_t i;
            json_t *v;
            json_array_foreach (j, i, v)
                if (s_to_msgpack (v, pk, depth + 1))
                    return -1;
            return 0;
        }
        case JSON_STRING:
            msgpack_pack_str (pk, json_string_length (j));
            msgpack_pack_str_body (pk, json_string_value (j), json_string_length (j));
            return 0;
        case JSON_INTEGER: return msgpack_pack_int64 (pk, json_integer_value (j));
        case JSON_REAL: return msgpack_pack_double (pk, json_real_value (j));
        case JSON_TRUE: return msgpack_pack_true (pk);
        case JSON_FALSE: return msgpack_pack_false (pk);
        default: return msgpack_pack_nil (pk);
    }
}

int
sf_json_to_msgpack (const json_t *j, msgpack_packer *pk)
{
    return s_to_msgpack (j, pk, 0) ? -1 : 0;
}

/*  mpjson.c — msgpack to JSON and back, see include/sf_mpjson.h.

    The one converter from the controller's reply form to JSON: the HTTP API
    and the CLI's `-o json` both print through sf_mpjson_dumps. Texts from
    agents are not trusted to be UTF-8 (jansson refuses such strings), so
    every string passes through s_strn, which repairs invalid bytes rather
    than dropping the field or writing invalid JSON.
*/
#include "sf_mpjson.h"
#include "sf_codec.h"
#include "sf_alloc.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define S_DEPTH_MAX 32

//  Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid
static size_t
s_utf8_seq (const unsigned char *p, size_t n)
{
    if (p [0] < 0x80)
        return 1;
    size_t len;
    uint32_t cp;
    if ((p [0] & 0xE0) == 0xC0) { len = 2; cp = p [0] & 0x1F; }
    else
    if ((p [0] & 0xF0) == 0xE0) { len = 3; cp = p [0] & 0x0F; }
    else
    if ((p [0] & 0xF8) == 0xF0) { len = 4; cp = p [0] & 0x07; }
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p [i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p [i] & 0x3F);
    }
    //  Overlong forms, surrogates and out-of-range code points are invalid
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
    ||  (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
        return 0;
    return len;
}

//  A JSON string of n bytes; invalid UTF-8 bytes become U+FFFD and NUL
//  bytes are dropped, so an agent's odd text still shows up readable.
static json_t *
s_strn (const char *value, size_t n)
{
    if (!value || n == 0)
        return json_string ("");
    //  jansson takes NUL bytes in a string, but its reader refuses the
    //  "\u0000" it would write: they are repaired away too
    json_t *j = memchr (value, 0, n) ? NULL : json_stringn (value, n);
    if (j)
        return j;
    char *fixed = sf_xmalloc (n * 3 + 1);
    size_t out = 0;
    const unsigned char *p = (const unsigned char *) value;
    size_t i = 0;
    while (i < n) {
        size_t len = p [i]? s_utf8_seq (p + i, n - i): 0;
        if (p [i] == 0)
            i++;
        else
        if (len == 0) {
            memcpy (fixed + out, "\xEF\xBF\xBD", 3);
            out += 3;
            i++;
        }
        else {
            memcpy (fixed + out, p + i, len);
            out += len;
            i += len;
        }
    }
    j = json_stringn (fixed, out);
    free (fixed);
    return j;
}

static json_t *
s_mpjson (const msgpack_object *o, int depth)
{
    if (depth > S_DEPTH_MAX)
        return json_null ();
    switch (o->type) {
        case MSGPACK_OBJECT_NIL: return json_null ();
        case MSGPACK_OBJECT_BOOLEAN: return json_boolean (o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return json_integer (o->via.u64 > INT64_MAX ? INT64_MAX : (json_int_t) o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer (o->via.i64);
        //  jansson refuses NaN and infinities; a broken gauge reads as 0
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return json_real (isfinite (o->via.f64) ? o->via.f64 : 0.0);
        //  msgpack-c leaves ptr NULL for an empty string: s_strn makes ""
        case MSGPACK_OBJECT_STR: return s_strn (o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_BIN: return s_strn (o->via.bin.ptr, o->via.bin.size);
        case MSGPACK_OBJECT_ARRAY: {
            json_t *a = json_array ();
            for (uint32_t i = 0; a && i < o->via.array.size; i++)
                json_array_append_new (a, s_mpjson (&o->via.array.ptr [i], depth + 1));
            return a;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *m = json_object ();
            for (uint32_t i = 0; m && i < o->via.map.size; i++) {
                const msgpack_object *k = &o->via.map.ptr [i].key;
                if (k->type != MSGPACK_OBJECT_STR)
                    continue;       //  JSON keys are strings; others have no place
                char key [256];
                size_t len = k->via.str.size < sizeof (key) - 1 ? k->via.str.size : sizeof (key) - 1;
                if (len)            //  an empty key's ptr is NULL
                    memcpy (key, k->via.str.ptr, len);
                key [len] = 0;
                //  A key that is not UTF-8 is dropped with its value
                json_object_set_new (m, key, s_mpjson (&o->via.map.ptr [i].val, depth + 1));
            }
            return m;
        }
        default: return json_null ();
    }
}

json_t *
sf_mpjson (const msgpack_object *o)
{
    return o ? s_mpjson (o, 0) : NULL;
}

char *
sf_mpjson_dumps (const msgpack_object *o, bool pretty, size_t *len)
{
    json_t *j = sf_mpjson (o);
    if (!j)
        return NULL;
    char *text = json_dumps (j, pretty ? JSON_INDENT (2) : JSON_COMPACT);
    json_decref (j);
    if (text && len)
        *len = strlen (text);
    return text;
}

json_t *
sf_json_str (const char *text)
{
    return s_strn (text, text ? strlen (text) : 0);
}

json_t *
sf_mpjson_buf (const void *data, size_t size)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    json_t *j = NULL;
    //  The codec's pre-check first: counts that do not fit the bytes would
    //  make msgpack-c reserve memory for elements that cannot be there
    if (sf_msgpack_precheck (data, size) == 0
    &&  msgpack_unpack_next (&u, data, size, &off) == MSGPACK_UNPACK_SUCCESS)
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

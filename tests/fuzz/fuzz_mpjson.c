/*  fuzz_mpjson — msgpack to JSON and back (the HTTP API's and -o json's one
    translation, sf_mpjson.h). The input is read both ways:
      as msgpack: what converts to JSON converts back to msgpack and then
        to the same JSON (j -> m -> j is the identity);
      as JSON text: what jansson reads converts to msgpack and back to an
        equal JSON value (up to 32 levels of nesting). */
#include "fuzz.h"
#include "sf_mpjson.h"

static json_t *
s_roundtrip (const json_t *j)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    json_t *back = NULL;
    if (sf_json_to_msgpack (j, &pk) == 0) {
        back = sf_mpjson_buf (sb.data, sb.size);
        FUZZ_CHECK (back != NULL);
    }
    msgpack_sbuffer_destroy (&sb);
    return back;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *j = sf_mpjson_buf (data, size);
    if (j) {
        json_t *back = s_roundtrip (j);
        if (back)
            FUZZ_CHECK (json_equal (j, back));
        json_decref (back);
        json_decref (j);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        size_t off = 0;
        if (msgpack_unpack_next (&u, (const char *) data, size, &off) == MSGPACK_UNPACK_SUCCESS) {
            size_t len = 0;
            char *text = sf_mpjson_dumps (&u.data, size & 1, &len);
            if (text) {
                json_error_t e;
                json_t *parsed = json_loadb (text, len, 0, &e);
                FUZZ_CHECK (parsed != NULL);        //  what we print is JSON
                json_decref (parsed);
            }
            free (text);
        }
        msgpack_unpacked_destroy (&u);
    }
    json_error_t jerr;
    json_t *doc = json_loadb ((const char *) data, size, JSON_DECODE_ANY, &jerr);
    if (doc) {
        json_t *back = s_roundtrip (doc);
        if (back)
            FUZZ_CHECK (json_equal (doc, back));
        json_decref (back);
        json_decref (doc);
    }
    char *cs = fuzz_cstr (data, size);
    json_decref (sf_json_str (cs));
    free (cs);
    return 0;
}

/*  test_mpjson.c — msgpack <-> JSON (proto/mpjson.c), the mechanical
    translation behind the CLI's -o json and the push source's JSON lines.

    Pins down: maps to objects, arrays to arrays, nil/bool/int/float/string
    kept; negative integers kept; non-string map keys skipped; JSON to msgpack
    and back is the identity for the value kinds both share; nesting deeper
    than 32 levels is refused instead of recursing without end.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "sf_mpjson.h"

static json_t *
s_round (const char *text)
{
    json_error_t jerr;
    json_t *in = json_loads (text, JSON_DECODE_ANY, &jerr);
    assert_non_null (in);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (sf_json_to_msgpack (in, &pk), 0);
    json_t *out = sf_mpjson_buf (sbuf.data, sbuf.size);
    if (!out)
        fail_msg ("%s did not come back (%zu msgpack bytes)", text, sbuf.size);
    if (!json_equal (in, out)) {
        char *a = json_dumps (in, JSON_ENCODE_ANY), *b = json_dumps (out, JSON_ENCODE_ANY);
        fail_msg ("%s became %s", a, b);
    }
    json_decref (in);
    msgpack_sbuffer_destroy (&sbuf);
    return out;
}

static void
test_values_survive_json_to_msgpack_and_back (void **state)
{
    const char *docs [] = {
        "null", "true", "false", "0", "-1", "-9223372036854775808", "9223372036854775807",
        "1.5", "-0.25", "\"\"", "\"text with \\\"quotes\\\" and \\u00e9\"",
        "[]", "{}", "[1, [2, [3, {}]]]", "[\"\", \"a\", \"\"]", "{\"k\": [\"\"]}",
        "{\"name\": \"cam1\", \"functions\": [\"dvr\", \"audio\"], \"version\": [3, 4], "
        "\"source\": {\"url\": \"rtsp://x\", \"ping_ms\": -1}, \"stale\": false, \"fps\": 25.0}",
    };
    for (size_t i = 0; i < sizeof (docs) / sizeof (docs [0]); i++)
        json_decref (s_round (docs [i]));
}

static void
test_non_string_map_keys_are_skipped (void **state)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    msgpack_pack_int (&pk, 7);
    msgpack_pack_int (&pk, 8);
    msgpack_pack_str (&pk, 1);
    msgpack_pack_str_body (&pk, "k", 1);
    msgpack_pack_int (&pk, 9);
    json_t *j = sf_mpjson_buf (sbuf.data, sbuf.size);
    assert_non_null (j);
    assert_int_equal (json_object_size (j), 1);
    assert_int_equal (json_integer_value (json_object_get (j, "k")), 9);
    json_decref (j);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_u64_above_int64_is_clamped_not_wrapped (void **state)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_uint64 (&pk, UINT64_MAX);
    json_t *j = sf_mpjson_buf (sbuf.data, sbuf.size);
    assert_true (json_integer_value (j) > 0);
    json_decref (j);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_nesting_deeper_than_32_is_refused (void **state)
{
    char deep [200] = "", ok [200] = "";
    for (int i = 0; i < 40; i++)
        strcat (deep, "[");
    for (int i = 0; i < 40; i++)
        strcat (deep, "]");
    for (int i = 0; i < 20; i++)
        strcat (ok, "[");
    for (int i = 0; i < 20; i++)
        strcat (ok, "]");
    json_error_t jerr;
    json_t *j = json_loads (deep, 0, &jerr);
    assert_non_null (j);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    assert_int_equal (sf_json_to_msgpack (j, &pk), -1);
    json_decref (j);
    json_decref (s_round (ok));
    msgpack_sbuffer_destroy (&sbuf);
}

static void
test_garbage_is_not_one_value (void **state)
{
    assert_null (sf_mpjson_buf ("\xc1", 1));
    assert_null (sf_mpjson_buf ("\x92\x01", 2));
}

//  Issue 13: {"":1} copied from a null pointer (msgpack-c leaves an empty
//  string's ptr NULL); UBSan's nonnull check caught it in the ASan build
static void
test_empty_key_is_kept (void **state)
{
    const unsigned char bytes [] = { 0x81, 0xa0, 0x01 };
    json_t *j = sf_mpjson_buf (bytes, sizeof (bytes));
    assert_non_null (j);
    assert_int_equal (json_integer_value (json_object_get (j, "")), 1);
    json_decref (j);
}

//  Issue 13: six bytes claiming a map of 2^28 pairs made msgpack-c reserve
//  gigabytes; sf_mpjson_buf now proves the counts fit first, like the codec
static void
test_container_counts_beyond_the_bytes_are_refused (void **state)
{
    const unsigned char map32 [] = { 0xdf, 0x10, 0x00, 0x00, 0x00, 0x01 };
    const unsigned char arr32 [] = { 0xdd, 0x10, 0x00, 0x00, 0x00, 0x01 };
    assert_null (sf_mpjson_buf (map32, sizeof (map32)));
    assert_null (sf_mpjson_buf (arr32, sizeof (arr32)));
    const unsigned char ok [] = { 0x92, 0x01, 0x02 };
    json_t *j = sf_mpjson_buf (ok, sizeof (ok));
    assert_int_equal (json_array_size (j), 2);
    json_decref (j);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_values_survive_json_to_msgpack_and_back),
        cmocka_unit_test (test_non_string_map_keys_are_skipped),
        cmocka_unit_test (test_u64_above_int64_is_clamped_not_wrapped),
        cmocka_unit_test (test_nesting_deeper_than_32_is_refused),
        cmocka_unit_test (test_garbage_is_not_one_value),
        cmocka_unit_test (test_empty_key_is_kept),
        cmocka_unit_test (test_container_counts_beyond_the_bytes_are_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

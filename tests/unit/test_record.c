/*  test_record.c — record life cycle and DVR range handling (proto/record.c).

    Pins down DESIGN §2's merge rule (ranges whose gap is at most 1 s merge,
    2 s does not), normalisation of unsorted input, the range bound, deep
    copies that share nothing with the original, and clearing.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include "sf_record.h"

static void
test_adjacent_and_one_second_gaps_merge (void **state)
{
    sf_dvr_t d = { 0 };
    assert_int_equal (sf_dvr_add_range (&d, 100, 110), 0);
    assert_int_equal (sf_dvr_add_range (&d, 111, 120), 0);     //  gap of 1 s
    assert_int_equal (sf_dvr_add_range (&d, 120, 130), 0);     //  touching
    assert_int_equal (sf_dvr_add_range (&d, 125, 128), 0);     //  inside
    assert_int_equal (d.nranges, 1);
    assert_int_equal (d.ranges [0].from, 100);
    assert_int_equal (d.ranges [0].to, 130);
    free (d.ranges);
}

static void
test_two_second_gap_does_not_merge (void **state)
{
    sf_dvr_t d = { 0 };
    assert_int_equal (sf_dvr_add_range (&d, 100, 110), 0);
    assert_int_equal (sf_dvr_add_range (&d, 112, 120), 0);     //  gap of 2 s
    assert_int_equal (d.nranges, 2);
    assert_int_equal (d.ranges [0].to, 110);
    assert_int_equal (d.ranges [1].from, 112);
    free (d.ranges);
}

static void
test_inverted_range_is_refused (void **state)
{
    sf_dvr_t d = { 0 };
    assert_int_equal (sf_dvr_add_range (&d, 200, 100), -1);
    assert_int_equal (sf_dvr_push_range (&d, 200, 100), -1);
    assert_int_equal (d.nranges, 0);
    free (d.ranges);
}

static void
test_normalize_sorts_and_merges_unsorted_input (void **state)
{
    sf_dvr_t d = { 0 };
    sf_dvr_push_range (&d, 500, 600);
    sf_dvr_push_range (&d, 100, 200);
    sf_dvr_push_range (&d, 150, 180);      //  inside the previous
    sf_dvr_push_range (&d, 201, 210);      //  1 s gap after 200
    sf_dvr_push_range (&d, 400, 450);
    sf_dvr_push_range (&d, 452, 460);      //  2 s gap after 450
    sf_dvr_push_range (&d, 601, 700);      //  1 s gap after 600
    sf_dvr_normalize (&d);
    assert_int_equal (d.nranges, 4);
    assert_int_equal (d.ranges [0].from, 100);
    assert_int_equal (d.ranges [0].to, 210);
    assert_int_equal (d.ranges [1].from, 400);
    assert_int_equal (d.ranges [1].to, 450);
    assert_int_equal (d.ranges [2].from, 452);
    assert_int_equal (d.ranges [2].to, 460);
    assert_int_equal (d.ranges [3].from, 500);
    assert_int_equal (d.ranges [3].to, 700);
    free (d.ranges);
}

static void
test_ranges_are_bounded (void **state)
{
    sf_dvr_t d = { 0 };
    for (int i = 0; i < SF_RANGES_MAX; i++)
        assert_int_equal (sf_dvr_push_range (&d, i * 10, i * 10 + 1), 0);
    assert_int_equal (sf_dvr_push_range (&d, SF_RANGES_MAX * 10, SF_RANGES_MAX * 10 + 1), -1);
    assert_int_equal (d.nranges, SF_RANGES_MAX);
    free (d.ranges);
}

static void
test_copy_is_deep_and_clear_frees (void **state)
{
    sf_stream_t a, b;
    sf_stream_init (&a);
    sf_stream_init (&b);
    SF_STRSET (a.name, "cam1");
    a.clients = 5;
    sf_text_set (&a.config, "config text");
    sf_text_set (&a.source_url, "rtsp://x/1");
    sf_text_set (&a.source_sdp, "v=0");
    sf_text_set (&a.config_path, "/etc/x");
    sf_text_set (&a.dvr.records_path, "/dvr");
    sf_dvr_add_range (&a.dvr, 1, 2);
    sf_dvr_add_range (&a.dvr, 10, 20);
    //  b held something before: the copy replaces it without leaking
    sf_text_set (&b.config, "old");
    sf_stream_copy (&b, &a);
    assert_string_equal (b.name, "cam1");
    assert_int_equal (b.clients, 5);
    assert_string_equal (b.config, "config text");
    assert_ptr_not_equal (b.config, a.config);
    assert_ptr_not_equal (b.dvr.ranges, a.dvr.ranges);
    assert_int_equal (b.dvr.nranges, 2);
    assert_int_equal (b.dvr.ranges [1].to, 20);
    //  the copy can grow on its own
    assert_int_equal (sf_dvr_add_range (&b.dvr, 30, 40), 0);
    assert_int_equal (a.dvr.nranges, 2);
    sf_stream_clear (&a);
    assert_null (a.config);
    assert_null (a.dvr.ranges);
    assert_int_equal (a.dvr.nranges, 0);
    assert_int_equal (a.ping_ms, -1);
    assert_string_equal (a.name, "");
    assert_string_equal (b.source_sdp, "v=0");
    sf_stream_clear (&b);
    sf_stream_clear (&b);      //  clearing twice is safe
}

static void
test_text_and_str_setters (void **state)
{
    char *t = NULL;
    sf_text_set (&t, "abc");
    assert_string_equal (t, "abc");
    sf_text_set (&t, "");
    assert_null (t);
    char small [5];
    assert_int_equal (sf_str_set (small, 4, "abcd"), 0);
    assert_string_equal (small, "abcd");
    assert_int_equal (sf_str_set (small, 4, "abcde"), -1);
    assert_string_equal (small, "abcd");
    assert_int_equal (sf_str_set (small, 4, NULL), 0);
    assert_string_equal (small, "");
}

static void
test_enum_names_round_trip (void **state)
{
    for (int i = 0; i < SF_TYPE_COUNT; i++)
        assert_int_equal (sf_type_parse (sf_type_name (i)), i);
    for (int i = 0; i < SF_STATUS_COUNT; i++)
        assert_int_equal (sf_status_parse (sf_status_name (i)), i);
    assert_int_equal (sf_type_parse ("bogus"), -1);
    assert_int_equal (sf_status_parse ("Active"), -1);
    assert_string_equal (sf_liveness_name (SF_LIVE_SUSPECT), "suspect");
    char buf [32];
    assert_string_equal (sf_functions_str (SF_FN_DVR | SF_FN_AUDIO, buf, sizeof (buf)), "dvr,audio");
    assert_string_equal (sf_functions_str (SF_FN_PHOTO | SF_FN_AUDIO, buf, sizeof (buf)), "photo,audio");
    assert_string_equal (sf_functions_str (0, buf, sizeof (buf)), "");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_adjacent_and_one_second_gaps_merge),
        cmocka_unit_test (test_two_second_gap_does_not_merge),
        cmocka_unit_test (test_inverted_range_is_refused),
        cmocka_unit_test (test_normalize_sorts_and_merges_unsorted_input),
        cmocka_unit_test (test_ranges_are_bounded),
        cmocka_unit_test (test_copy_is_deep_and_clear_frees),
        cmocka_unit_test (test_text_and_str_setters),
        cmocka_unit_test (test_enum_names_round_trip),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

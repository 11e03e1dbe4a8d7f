/*  test_filter.c — the one filter evaluator and sort parser (proto/filter.c,
    DESIGN §3).

    Pins down the grouping semantics every path (CLI, HTTP, web) relies on:
    type and state parameters are OR-ed within their group, functions are all
    required, groups are AND-ed; the name match is a case-insensitive
    substring or a glob; node is exact; an unknown parameter is an error that
    lists the valid ones. Sorting accepts every column, '-col' and 'col:desc'.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "sf_filter.h"

//  A fixture covering every combination that matters
typedef struct {
    const char *name;
    const char *node;
    uint8_t type;
    uint8_t status;
    bool transfer;
    uint8_t functions;
} s_row_t;

static const s_row_t s_rows [] = {
    { "Lobby-Cam",    "n1", SF_TYPE_PRIMARY,   SF_STATUS_ACTIVE,   false, SF_FN_DVR | SF_FN_AUDIO },
    { "parking-east", "n1", SF_TYPE_PRIMARY,   SF_STATUS_SUSPEND,  false, SF_FN_DVR },
    { "parking-west", "n2", SF_TYPE_SECONDARY, SF_STATUS_SUSPEND,  false, SF_FN_DVR },
    { "gate",         "n2", SF_TYPE_SECONDARY, SF_STATUS_ACTIVE,   false, SF_FN_AUDIO },
    { "dock",         "n3", SF_TYPE_MIGRATED,  SF_STATUS_SUSPEND,  false, 0 },
    { "roof",         "n3", SF_TYPE_PRIMARY,   SF_STATUS_ACTIVE,   true,  SF_FN_DVR | SF_FN_PHOTO },
    { "hall",         "n1", SF_TYPE_PRIMARY,   SF_STATUS_ERROR,    false, SF_FN_PHOTO },
    { "yard",         "n2", SF_TYPE_SECONDARY, SF_STATUS_OFFLINE,  false, SF_FN_DVR | SF_FN_AUDIO },
};
#define S_NROWS (sizeof (s_rows) / sizeof (s_rows [0]))

static bool
s_match (const sf_filter_t *f, const s_row_t *r)
{
    sf_stream_t s;
    sf_stream_init (&s);
    SF_STRSET (s.name, r->name);
    SF_STRSET (s.node, r->node);
    s.type = r->type;
    s.status = r->status;
    s.transfer = r->transfer;
    s.functions = r->functions;
    bool whole = sf_filter_match (f, &s);
    //  The cheap path and the name path agree with the whole
    bool split = sf_filter_match_fields (f, r->node, r->type, r->status, r->transfer, r->functions)
              && sf_filter_match_name (f, r->name);
    assert_int_equal (whole, split);
    return whole;
}

//  Returns the matching rows' names joined by spaces, in fixture order
static const char *
s_matches (const char *params, const char *name, const char *node)
{
    static char out [512];
    sf_filter_t f;
    sf_filter_init (&f);
    char err [256];
    assert_int_equal (sf_filter_parse (&f, params, err, sizeof (err)), 0);
    if (name)
        assert_int_equal (sf_filter_set_name (&f, name, err, sizeof (err)), 0);
    if (node)
        assert_int_equal (sf_filter_set_node (&f, node, err, sizeof (err)), 0);
    out [0] = 0;
    for (size_t i = 0; i < S_NROWS; i++)
        if (s_match (&f, &s_rows [i])) {
            if (out [0])
                strcat (out, " ");
            strcat (out, s_rows [i].name);
        }
    return out;
}

static void
test_empty_filter_matches_everything (void **state)
{
    assert_string_equal (s_matches ("", NULL, NULL),
        "Lobby-Cam parking-east parking-west gate dock roof hall yard");
    assert_string_equal (s_matches (NULL, NULL, NULL),
        "Lobby-Cam parking-east parking-west gate dock roof hall yard");
}

static void
test_each_parameter_alone (void **state)
{
    assert_string_equal (s_matches ("primary", NULL, NULL), "Lobby-Cam parking-east roof hall");
    assert_string_equal (s_matches ("secondary", NULL, NULL), "parking-west gate yard");
    assert_string_equal (s_matches ("migrated", NULL, NULL), "dock");
    assert_string_equal (s_matches ("active", NULL, NULL), "Lobby-Cam gate roof");
    assert_string_equal (s_matches ("suspend", NULL, NULL), "parking-east parking-west dock");
    assert_string_equal (s_matches ("transfer", NULL, NULL), "roof");
    assert_string_equal (s_matches ("dvr", NULL, NULL), "Lobby-Cam parking-east parking-west roof yard");
    assert_string_equal (s_matches ("audio", NULL, NULL), "Lobby-Cam gate yard");
}

static void
test_offline_and_error_are_neither_active_nor_suspend (void **state)
{
    //  yard is offline (its node is down): never shown as active
    assert_null (strstr (s_matches ("active", NULL, NULL), "yard"));
    assert_null (strstr (s_matches ("active,suspend", NULL, NULL), "hall"));
}

static void
test_parameters_in_one_group_are_ored (void **state)
{
    assert_string_equal (s_matches ("primary,secondary", NULL, NULL),
                         "Lobby-Cam parking-east parking-west gate roof hall yard");
    assert_string_equal (s_matches ("secondary,migrated", NULL, NULL), "parking-west gate dock yard");
    assert_string_equal (s_matches ("active,suspend", NULL, NULL),
                         "Lobby-Cam parking-east parking-west gate dock roof");
    assert_string_equal (s_matches ("suspend,transfer", NULL, NULL), "parking-east parking-west dock roof");
}

static void
test_functions_are_all_required (void **state)
{
    assert_string_equal (s_matches ("dvr,audio", NULL, NULL), "Lobby-Cam yard");
    assert_string_equal (s_matches ("audio,dvr", NULL, NULL), "Lobby-Cam yard");
}

static void
test_groups_are_anded (void **state)
{
    assert_string_equal (s_matches ("active,dvr", NULL, NULL), "Lobby-Cam roof");
    assert_string_equal (s_matches ("secondary,dvr", NULL, NULL), "parking-west yard");
    assert_string_equal (s_matches ("primary,suspend", NULL, NULL), "parking-east");
    assert_string_equal (s_matches ("primary,secondary,active,audio", NULL, NULL), "Lobby-Cam gate");
    assert_string_equal (s_matches ("migrated,active", NULL, NULL), "");
}

static void
test_name_is_a_case_insensitive_substring (void **state)
{
    assert_string_equal (s_matches (NULL, "PARK", NULL), "parking-east parking-west");
    assert_string_equal (s_matches (NULL, "lobby", NULL), "Lobby-Cam");
    assert_string_equal (s_matches (NULL, "-cam", NULL), "Lobby-Cam");
    assert_string_equal (s_matches (NULL, "nothing", NULL), "");
    assert_string_equal (s_matches ("secondary,dvr", "west", NULL), "parking-west");
}

static void
test_name_with_star_or_question_mark_is_a_glob (void **state)
{
    assert_string_equal (s_matches (NULL, "park*", NULL), "parking-east parking-west");
    //  A glob is anchored: "ark*" does not match "parking"
    assert_string_equal (s_matches (NULL, "ark*", NULL), "");
    assert_string_equal (s_matches (NULL, "*-EAST", NULL), "parking-east");
    assert_string_equal (s_matches (NULL, "?ate", NULL), "gate");
    assert_string_equal (s_matches ("primary", "*o*", NULL), "Lobby-Cam roof");
}

static void
test_node_is_exact (void **state)
{
    assert_string_equal (s_matches (NULL, NULL, "n2"), "parking-west gate yard");
    assert_string_equal (s_matches (NULL, NULL, "n"), "");
    assert_string_equal (s_matches ("dvr", NULL, "n1"), "Lobby-Cam parking-east");
}

static void
test_parameters_are_case_insensitive_and_spaces_allowed (void **state)
{
    assert_string_equal (s_matches ("Secondary, DVR", NULL, NULL), "parking-west yard");
}

static void
test_unknown_parameter_error_names_it_and_the_valid_ones (void **state)
{
    sf_filter_t f;
    sf_filter_init (&f);
    char err [256] = "";
    assert_int_equal (sf_filter_parse (&f, "primary,bogus", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "'bogus'"));
    const char *valid [] = { "primary", "secondary", "migrated", "active", "suspend", "transfer",
                             "dvr", "audio" };
    for (int i = 0; i < 8; i++)
        assert_non_null (strstr (err, valid [i]));
    //  photo is a function but not a filter parameter of the Streams page
    assert_int_equal (sf_filter_parse (&f, "photo", err, sizeof (err)), -1);
}

static void
test_too_long_name_or_node_is_an_error (void **state)
{
    sf_filter_t f;
    sf_filter_init (&f);
    char err [256], big [300];
    memset (big, 'a', sizeof (big) - 1);
    big [sizeof (big) - 1] = 0;
    assert_int_equal (sf_filter_set_name (&f, big, err, sizeof (err)), -1);
    assert_int_equal (sf_filter_set_node (&f, big, err, sizeof (err)), -1);
}

static void
test_params_print_back (void **state)
{
    sf_filter_t f;
    sf_filter_init (&f);
    char err [256], buf [128];
    assert_int_equal (sf_filter_parse (&f, "audio,secondary,dvr,active", err, sizeof (err)), 0);
    assert_string_equal (sf_filter_params (&f, buf, sizeof (buf)), "secondary,active,dvr,audio");
}

static void
test_sort_every_column (void **state)
{
    //  The keys come from the field table (sf_fields.h): these columns at
    //  least, each parsed to the key that prints back as its name
    const char *cols [] = { "name", "node", "type", "status", "clients", "bitrate", "uptime",
                            "reconnects", "source" };
    assert_true (SF_SORT_COUNT >= (int) (sizeof (cols) / sizeof (cols [0])));
    for (size_t i = 0; i < sizeof (cols) / sizeof (cols [0]); i++) {
        sf_sort_t so;
        char err [256];
        assert_int_equal (sf_sort_parse (&so, cols [i], err, sizeof (err)), 0);
        assert_false (so.desc);
        assert_string_equal (sf_sort_name (so.key), cols [i]);
    }
    for (int i = 0; i < SF_SORT_COUNT; i++) {
        sf_sort_t so;
        char err [256];
        assert_int_equal (sf_sort_parse (&so, sf_sort_name (i), err, sizeof (err)), 0);
        assert_int_equal (so.key, i);
    }
}

static void
test_sort_descending_forms (void **state)
{
    sf_sort_t so;
    char err [256];
    assert_int_equal (sf_sort_parse (&so, "-clients", err, sizeof (err)), 0);
    assert_int_equal (so.key, SF_SORT_CLIENTS);
    assert_true (so.desc);
    assert_int_equal (sf_sort_parse (&so, "bitrate:desc", err, sizeof (err)), 0);
    assert_int_equal (so.key, SF_SORT_BITRATE);
    assert_true (so.desc);
    assert_int_equal (sf_sort_parse (&so, "node:asc", err, sizeof (err)), 0);
    assert_int_equal (so.key, SF_SORT_NODE);
    assert_false (so.desc);
    assert_int_equal (sf_sort_parse (&so, "bitrate_kbps", err, sizeof (err)), 0);
    assert_int_equal (so.key, SF_SORT_BITRATE);
    //  started_at ascending = oldest first = longest uptime first
    assert_int_equal (sf_sort_parse (&so, "started_at", err, sizeof (err)), 0);
    assert_int_equal (so.key, SF_SORT_UPTIME);
    assert_true (so.desc);
    //  empty: by name, ascending
    assert_int_equal (sf_sort_parse (&so, "", err, sizeof (err)), 0);
    assert_int_equal (so.key, SF_SORT_NAME);
    assert_false (so.desc);
}

static void
test_sort_bad_column_or_order_is_an_error (void **state)
{
    sf_sort_t so;
    char err [256] = "";
    assert_int_equal (sf_sort_parse (&so, "colour", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "'colour'"));
    assert_non_null (strstr (err, "reconnects"));
    assert_int_equal (sf_sort_parse (&so, "name:sideways", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "asc or desc"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_empty_filter_matches_everything),
        cmocka_unit_test (test_each_parameter_alone),
        cmocka_unit_test (test_offline_and_error_are_neither_active_nor_suspend),
        cmocka_unit_test (test_parameters_in_one_group_are_ored),
        cmocka_unit_test (test_functions_are_all_required),
        cmocka_unit_test (test_groups_are_anded),
        cmocka_unit_test (test_name_is_a_case_insensitive_substring),
        cmocka_unit_test (test_name_with_star_or_question_mark_is_a_glob),
        cmocka_unit_test (test_node_is_exact),
        cmocka_unit_test (test_parameters_are_case_insensitive_and_spaces_allowed),
        cmocka_unit_test (test_unknown_parameter_error_names_it_and_the_valid_ones),
        cmocka_unit_test (test_too_long_name_or_node_is_an_error),
        cmocka_unit_test (test_params_print_back),
        cmocka_unit_test (test_sort_every_column),
        cmocka_unit_test (test_sort_descending_forms),
        cmocka_unit_test (test_sort_bad_column_or_order_is_an_error),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  test_config.c — the option schema table (proto/config.c).

    Pins down: defaults from the table; "key = value" files with comments and
    '_' or '-' in keys; command-line options (--key value, --key=value, bare
    boolean flags) winning over the file wherever --config appears; integer
    ranges, booleans and repeatable lists checked; unknown options and bad
    values refused with a message naming them.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "sf_config.h"

typedef struct {
    char config [256];
    char name [16];
    int64_t port;
    bool verbose;
    bool fast;
    char peers [64];
    int64_t batch_ms;
} s_cfg_t;

#define O(field) offsetof (s_cfg_t, field), sizeof (((s_cfg_t *) 0)->field)
static const sf_option_t s_table [] = {
    { "config", SF_OPT_STR, O (config), NULL, 0, 0, "config file" },
    { "name", SF_OPT_STR, O (name), "alpha", 0, 0, "a name" },
    { "port", SF_OPT_INT, O (port), "7600", 1, 65535, "a port" },
    { "verbose", SF_OPT_BOOL, O (verbose), "false", 0, 0, "talk more" },
    { "fast", SF_OPT_BOOL, O (fast), "true", 0, 0, "go fast" },
    { "peers", SF_OPT_LIST, O (peers), "", 0, 0, "peers" },
    { "batch-ms", SF_OPT_INT, O (batch_ms), "5", 0, 1000, "batch time" },
    { NULL }
};

static char s_path [64];

static const char *
s_file (const char *text)
{
    snprintf (s_path, sizeof (s_path), "/tmp/sf-test-config.XXXXXX");
    int fd = mkstemp (s_path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
    return s_path;
}

static int
s_args (s_cfg_t *c, char *err, int argc, ...)
{
    char *argv [16];
    va_list ap;
    va_start (ap, argc);
    argv [0] = "prog";
    for (int i = 1; i < argc; i++)
        argv [i] = va_arg (ap, char *);
    va_end (ap);
    return sf_config_parse_args (s_table, c, argc, argv, 1, err, 256);
}

static void
test_defaults_come_from_the_table (void **state)
{
    s_cfg_t c;
    memset (&c, 0xab, sizeof (c));
    sf_config_defaults (s_table, &c);
    assert_string_equal (c.name, "alpha");
    assert_int_equal (c.port, 7600);
    assert_false (c.verbose);
    assert_true (c.fast);
    assert_string_equal (c.peers, "");
    assert_string_equal (c.config, "");
}

static void
test_file_sets_values_with_comments_and_underscores (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256];
    s_file ("# a comment\n\nname = beta  \n  port=8000\nverbose = yes\nbatch_ms = 7\npeers = tcp://a\npeers = tcp://b\n");
    assert_int_equal (sf_config_load_file (s_table, &c, s_path, err, sizeof (err)), 0);
    unlink (s_path);
    assert_string_equal (c.name, "beta");
    assert_int_equal (c.port, 8000);
    assert_true (c.verbose);
    assert_int_equal (c.batch_ms, 7);
    //  a list repeated in a file accumulates
    assert_string_equal (c.peers, "tcp://a,tcp://b");
}

static void
test_args_override_the_file_wherever_config_appears (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256] = "";
    s_file ("name = fromfile\nport = 8000\npeers = tcp://file\n");
    //  --config after the option it would otherwise override
    int rc = s_args (&c, err, 7, "--port", "9000", "--config", s_path, "--peers=tcp://cli", "rest");
    unlink (s_path);
    assert_int_equal (rc, 6);                      //  index of the first non-option
    assert_int_equal (c.port, 9000);
    assert_string_equal (c.name, "fromfile");
    //  a list given on the command line replaces the file's
    assert_string_equal (c.peers, "tcp://cli");
}

static void
test_repeated_list_options_join_with_commas (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256];
    assert_int_equal (s_args (&c, err, 5, "--peers", "a", "--peers", "b"), 5);
    assert_string_equal (c.peers, "a,b");
}

static void
test_bool_flags_and_values (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256];
    assert_int_equal (s_args (&c, err, 3, "--verbose", "--fast=off"), 3);
    assert_true (c.verbose);
    assert_false (c.fast);
    const char *yes [] = { "1", "true", "YES", "on" };
    const char *no [] = { "0", "False", "no", "OFF" };
    for (int i = 0; i < 4; i++) {
        assert_int_equal (sf_config_set (s_table, &c, "fast", yes [i], err, sizeof (err)), 0);
        assert_true (c.fast);
        assert_int_equal (sf_config_set (s_table, &c, "fast", no [i], err, sizeof (err)), 0);
        assert_false (c.fast);
    }
    assert_int_equal (sf_config_set (s_table, &c, "fast", "maybe", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "maybe"));
}

static void
test_integer_ranges_and_syntax_are_checked (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256];
    assert_int_equal (sf_config_set (s_table, &c, "port", "65535", err, sizeof (err)), 0);
    assert_int_equal (c.port, 65535);
    assert_int_equal (sf_config_set (s_table, &c, "port", "1", err, sizeof (err)), 0);
    assert_int_equal (sf_config_set (s_table, &c, "port", "65536", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "out of range"));
    assert_int_equal (sf_config_set (s_table, &c, "port", "0", err, sizeof (err)), -1);
    assert_int_equal (sf_config_set (s_table, &c, "port", "12ab", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "not a whole number"));
    assert_int_equal (sf_config_set (s_table, &c, "port", "", err, sizeof (err)), -1);
    assert_int_equal (sf_config_set (s_table, &c, "port", "99999999999999999999", err, sizeof (err)), -1);
    assert_int_equal (c.port, 1);          //  failed sets change nothing
}

static void
test_too_long_strings_are_refused (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256];
    assert_int_equal (sf_config_set (s_table, &c, "name", "0123456789abcdef", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "longer than 15"));
    assert_int_equal (sf_config_set (s_table, &c, "name", "0123456789abcde", err, sizeof (err)), 0);
}

static void
test_unknown_options_are_errors (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256] = "";
    assert_int_equal (s_args (&c, err, 2, "--colour"), -1);
    assert_non_null (strstr (err, "--colour"));
    assert_int_equal (sf_config_set (s_table, &c, "nope", "1", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "nope"));
    s_file ("name = x\ncolour = blue\n");
    assert_int_equal (sf_config_load_file (s_table, &c, s_path, err, sizeof (err)), -1);
    //  the message names the file, the line and the key
    assert_non_null (strstr (err, s_path));
    assert_non_null (strstr (err, ":2:"));
    assert_non_null (strstr (err, "colour"));
    unlink (s_path);
}

static void
test_malformed_file_lines_and_missing_files_are_errors (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256];
    s_file ("just words\n");
    assert_int_equal (sf_config_load_file (s_table, &c, s_path, err, sizeof (err)), -1);
    assert_non_null (strstr (err, "key = value"));
    unlink (s_path);
    assert_int_equal (sf_config_load_file (s_table, &c, "/nonexistent/sf.conf", err, sizeof (err)), -1);
    assert_non_null (strstr (err, "/nonexistent/sf.conf"));
    //  a bad value in a file names the line
    s_file ("port = 70000\n");
    assert_int_equal (sf_config_load_file (s_table, &c, s_path, err, sizeof (err)), -1);
    assert_non_null (strstr (err, ":1:"));
    unlink (s_path);
}

static void
test_option_needing_a_value_at_the_end_is_an_error (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256];
    assert_int_equal (s_args (&c, err, 2, "--port"), -1);
    assert_non_null (strstr (err, "needs a value"));
}

static void
test_double_dash_ends_options (void **state)
{
    s_cfg_t c;
    sf_config_defaults (s_table, &c);
    char err [256];
    assert_int_equal (s_args (&c, err, 4, "--port", "10", "--", "--name"), 4);
    assert_int_equal (c.port, 10);
    assert_string_equal (c.name, "alpha");
}

static void
test_usage_prints_every_option_with_its_default (void **state)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream (&buf, &size);
    sf_config_usage (s_table, f);
    fclose (f);
    assert_non_null (strstr (buf, "--port N"));
    assert_non_null (strstr (buf, "[7600]"));
    assert_non_null (strstr (buf, "--verbose "));
    assert_non_null (strstr (buf, "--peers VALUE"));
    free (buf);
}

//  Issue 13: "controllers = tcp://10.0.0.1:7600" in a file became the
//  default plus that. A list in a file replaces its default; the file's
//  further lines for it append; the command line then replaces the file's.
static void
test_file_lists_replace_their_default (void **state)
{
    static const sf_option_t table [] = {
        { "ctl", SF_OPT_LIST, offsetof (s_cfg_t, peers), sizeof (((s_cfg_t *) 0)->peers),
          "tcp://127.0.0.1:7600", 0, 0, "controllers" },
        { NULL }
    };
    s_cfg_t c;
    char err [256];
    sf_config_defaults (table, &c);
    assert_string_equal (c.peers, "tcp://127.0.0.1:7600");
    s_file ("ctl = tcp://10.0.0.1:7600\n");
    assert_int_equal (sf_config_load_file (table, &c, s_path, err, sizeof (err)), 0);
    unlink (s_path);
    assert_string_equal (c.peers, "tcp://10.0.0.1:7600");
    sf_config_defaults (table, &c);
    s_file ("ctl = tcp://a:1\nctl = tcp://b:2\n");
    assert_int_equal (sf_config_load_file (table, &c, s_path, err, sizeof (err)), 0);
    unlink (s_path);
    assert_string_equal (c.peers, "tcp://a:1,tcp://b:2");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_defaults_come_from_the_table),
        cmocka_unit_test (test_file_sets_values_with_comments_and_underscores),
        cmocka_unit_test (test_args_override_the_file_wherever_config_appears),
        cmocka_unit_test (test_repeated_list_options_join_with_commas),
        cmocka_unit_test (test_bool_flags_and_values),
        cmocka_unit_test (test_integer_ranges_and_syntax_are_checked),
        cmocka_unit_test (test_too_long_strings_are_refused),
        cmocka_unit_test (test_unknown_options_are_errors),
        cmocka_unit_test (test_malformed_file_lines_and_missing_files_are_errors),
        cmocka_unit_test (test_option_needing_a_value_at_the_end_is_an_error),
        cmocka_unit_test (test_double_dash_ends_options),
        cmocka_unit_test (test_file_lists_replace_their_default),
        cmocka_unit_test (test_usage_prints_every_option_with_its_default),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

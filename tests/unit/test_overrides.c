/*  test_overrides.c — the per-stream overrides file: syntax, globs applied
    in file order, errors naming the line, a bad reload keeping the rules in
    force. Fixture: tests/fixtures/overrides/site.ini.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sf_overrides.h"

static void
s_set3 (sf_streamset_t *set)
{
    sf_streamset_init (set);
    sf_streamset_add (set, "gate-north");
    sf_streamset_add (set, "gate-south");
    sf_stream_t *lobby = sf_streamset_add (set, "lobby");
    lobby->functions = SF_FN_PHOTO;
}

static void
test_fixture_applies_in_order (void **state)
{
    sf_overrides_t *o = sf_overrides_new ();
    char err [256];
    assert_int_equal (sf_overrides_load (o, "tests/fixtures/overrides/site.ini", err, sizeof err), 0);
    assert_int_equal (sf_overrides_count (o), 3);
    sf_streamset_t set;
    s_set3 (&set);
    sf_overrides_apply (o, &set);
    sf_stream_t *north = &set.items [0], *south = &set.items [1], *lobby = &set.items [2];
    assert_int_equal (north->type, SF_TYPE_SECONDARY);
    //  [gate-*] turned photo on, the later [gate-north] off again
    assert_false (north->functions & SF_FN_PHOTO);
    assert_true (south->functions & SF_FN_PHOTO);
    assert_int_equal (south->type, SF_TYPE_SECONDARY);
    assert_string_equal (north->playback_uuid, "4f8a3c2e-9d41-4c55-9a0f-6e2b8d1c7a10");
    assert_string_equal (north->uid, "site1-gate-north");
    assert_string_equal (south->uid, "gate-south");
    //  '#' inside a value stays; only " #" starts a comment
    assert_string_equal (north->source_url, "rtsp://10.1.2.3:554/main#track1");
    assert_string_equal (north->hls_template, "http://{host}/hls/{name}/index.m3u8");
    assert_string_equal (lobby->rtsp_template, "rtsp://{host}:8554/{name}");
    assert_string_equal (lobby->hls_template, "");
    //  Untouched by any rule
    assert_int_equal (lobby->type, SF_TYPE_PRIMARY);
    assert_true (lobby->functions & SF_FN_PHOTO);
    sf_streamset_clear (&set);
    sf_overrides_destroy (&o);
    sf_overrides_destroy (&o);
    assert_null (o);
}

static void
test_errors_name_the_line (void **state)
{
    sf_overrides_t *o = sf_overrides_new ();
    char err [256];
    assert_int_equal (sf_overrides_parse (o, "[a]\ntype = primary\n", err, sizeof err), 0);
    struct { const char *text, *needle; } bad [] = {
        { "type = primary\n", "line 1: 'type' outside" },
        { "[a]\n\n\ncolour = red\n", "line 4: colour: unknown key" },
        { "[a]\ntype = migrated\n", "line 2: type: type must be primary or secondary" },
        { "[a]\nphoto = maybe\n", "line 2: photo" },
        { "[a\n", "line 1: a section" },
        { "[]\n", "line 1: empty" },
        { "[a]\njust words\n", "line 2: expected key = value" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad [0]; i++) {
        assert_int_equal (sf_overrides_parse (o, bad [i].text, err, sizeof err), -1);
        if (!strstr (err, bad [i].needle))
            fail_msg ("'%s': error '%s' lacks '%s'", bad [i].text, err, bad [i].needle);
        //  The rules in force stay
        assert_int_equal (sf_overrides_count (o), 1);
    }
    sf_overrides_destroy (&o);
}

static void
test_refresh_on_change (void **state)
{
    char path [] = "/tmp/sf-overrides-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_true (write (fd, "[cam]\ntype = secondary\n", 23) == 23);
    close (fd);
    sf_overrides_t *o = sf_overrides_new ();
    char err [256];
    assert_int_equal (sf_overrides_load (o, path, err, sizeof err), 0);
    assert_int_equal (sf_overrides_refresh (o, err, sizeof err), 0);     //  unchanged
    FILE *f = fopen (path, "w");
    fputs ("[cam]\ntype = primary\n[other]\nphoto = on\n", f);
    fclose (f);
    assert_int_equal (sf_overrides_refresh (o, err, sizeof err), 1);
    assert_int_equal (sf_overrides_count (o), 2);
    //  A broken edit is reported and the previous rules stay
    f = fopen (path, "w");
    fputs ("[cam]\ntype = sideways\n", f);
    fclose (f);
    assert_int_equal (sf_overrides_refresh (o, err, sizeof err), -1);
    assert_non_null (strstr (err, path));
    assert_int_equal (sf_overrides_count (o), 2);
    unlink (path);
    assert_int_equal (sf_overrides_refresh (o, err, sizeof err), -1);
    sf_overrides_destroy (&o);
    //  A missing file at load is an error naming it
    o = sf_overrides_new ();
    assert_int_equal (sf_overrides_load (o, "/nonexistent/overrides.ini", err, sizeof err), -1);
    assert_non_null (strstr (err, "/nonexistent/overrides.ini"));
    sf_overrides_destroy (&o);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_fixture_applies_in_order),
        cmocka_unit_test (test_errors_name_the_line),
        cmocka_unit_test (test_refresh_on_change),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

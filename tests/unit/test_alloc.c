/*  test_alloc.c — the one allocation policy (proto/alloc.c, sf_alloc.h).

    Pins down that the sf_x* allocators never return NULL: an allocation that
    cannot be met stops the process with a message naming the size and the
    call site (checked in a child process), an overflowing element count is
    refused the same way rather than wrapping to a small buffer, and the
    string copies are exact.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "sf_alloc.h"

#if defined (__SANITIZE_ADDRESS__)
#   define S_ASAN 1
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
#       define S_ASAN 1
#   endif
#endif

typedef void (s_fn_t) (void);

//  Runs fn in a child with stderr captured; returns the wait status and
//  what the child printed.
static int
s_run_child (s_fn_t *fn, char *out, size_t outlen)
{
    int fds [2];
    assert_int_equal (pipe (fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        dup2 (fds [1], 2);
        close (fds [0]);
        fn ();
        _exit (0);                  //  reached only if fn returned
    }
    close (fds [1]);
    size_t len = 0;
    ssize_t n;
    while (len + 1 < outlen && (n = read (fds [0], out + len, outlen - 1 - len)) > 0)
        len += (size_t) n;
    out [len] = 0;
    close (fds [0]);
    int status;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    return status;
}

static void
s_huge_malloc (void)
{
    //  More than any address space here: malloc refuses it
    volatile size_t size = (size_t) 1 << 62;
    char *p = sf_xmalloc (size);
    p [0] = 1;
}

static void
s_overflowing_array (void)
{
    void *p = sf_xreallocarray (NULL, SIZE_MAX / 2, 4);
    free (p);
}

static void
s_overflowing_calloc (void)
{
    void *p = sf_xcalloc (SIZE_MAX / 8, 16);
    free (p);
}

static void
test_unmet_allocation_stops_with_a_message (void **state)
{
    char out [4096];
    int status = s_run_child (s_huge_malloc, out, sizeof (out));
    //  Never returns to its caller with NULL
    assert_false (WIFEXITED (status) && WEXITSTATUS (status) == 0);
#ifndef S_ASAN
    //  (ASan refuses the size itself, with its own report)
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    assert_non_null (strstr (out, "out of memory"));
    assert_non_null (strstr (out, "test_alloc.c:"));
    assert_non_null (strstr (out, "4611686018427387904 bytes"));
#endif
}

static void
test_overflowing_counts_stop_instead_of_wrapping (void **state)
{
    char out [4096];
    int status = s_run_child (s_overflowing_array, out, sizeof (out));
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    assert_non_null (strstr (out, "out of memory"));
    status = s_run_child (s_overflowing_calloc, out, sizeof (out));
    assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGABRT);
    assert_non_null (strstr (out, "out of memory"));
}

static void
test_met_allocations_are_usable (void **state)
{
    //  Zero sizes still give a pointer that free accepts
    void *z = sf_xmalloc (0);
    assert_non_null (z);
    free (z);
    unsigned char *c = sf_xcalloc (16, 4);
    for (int i = 0; i < 64; i++)
        assert_int_equal (c [i], 0);
    c = sf_xreallocarray (c, 1024, 4);
    c [4095] = 7;
    free (c);
    char *s = sf_xstrdup ("camera-1");
    assert_string_equal (s, "camera-1");
    free (s);
    s = sf_xstrndup ("camera-12", 6);
    assert_string_equal (s, "camera");
    free (s);
    s = sf_xstrndup ("cam", 64);
    assert_string_equal (s, "cam");
    free (s);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_unmet_allocation_stops_with_a_message),
        cmocka_unit_test (test_overflowing_counts_stop_instead_of_wrapping),
        cmocka_unit_test (test_met_allocations_are_usable),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

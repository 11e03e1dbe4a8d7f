/*  fixture_fulldisk.h — a full disk, in-process, for unit tests of what a
    refused write does: while s_full is set, write, pwrite and writev of
    files under s_full_dir (what LMDB writes its pages and meta pages with)
    fail with ENOSPC, and each refusal is counted in s_refused. The three
    calls are interposed (the real ones through dlsym RTLD_NEXT).

    Header-only so each test binary, built from one test_*.c, can include it.
*/
#ifndef FIXTURE_FULLDISK_H
#define FIXTURE_FULLDISK_H

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

static char s_full_dir [64];
static atomic_bool s_full;
static atomic_int s_refused;

static bool
s_on_full_disk (int fd)
{
    if (!atomic_load (&s_full))
        return false;
    char link [64], path [512];
    snprintf (link, sizeof (link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink (link, path, sizeof (path) - 1);
    if (n <= 0)
        return false;
    path [n] = 0;
    if (strncmp (path, s_full_dir, strlen (s_full_dir)))
        return false;
    atomic_fetch_add (&s_refused, 1);
    errno = ENOSPC;
    return true;
}

ssize_t
pwrite (int fd, const void *buf, size_t n, off_t off)
{
    static ssize_t (*real) (int, const void *, size_t, off_t);
    if (s_on_full_disk (fd))
        return -1;
    if (!real)
        real = (ssize_t (*) (int, const void *, size_t, off_t)) dlsym (RTLD_NEXT, "pwrite");
    return real (fd, buf, n, off);
}

ssize_t
write (int fd, const void *buf, size_t n)
{
    static ssize_t (*real) (int, const void *, size_t);
    if (s_on_full_disk (fd))
        return -1;
    if (!real)
        real = (ssize_t (*) (int, const void *, size_t)) dlsym (RTLD_NEXT, "write");
    return real (fd, buf, n);
}

ssize_t
writev (int fd, const struct iovec *iov, int n)
{
    static ssize_t (*real) (int, const struct iovec *, int);
    if (s_on_full_disk (fd))
        return -1;
    if (!real)
        real = (ssize_t (*) (int, const struct iovec *, int)) dlsym (RTLD_NEXT, "writev");
    return real (fd, iov, n);
}
#endif

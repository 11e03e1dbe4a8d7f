/*  sf_fail_sync.c — LD_PRELOAD fault injection for tests: fsync and
    fdatasync fail with EIO while the file named by $SF_FAIL_SYNC exists.
    A disk whose flush fails (a dying device, a lost iSCSI or NFS server)
    cannot be made on a test machine without root and device-mapper; this
    makes LMDB's mdb_env_sync meet the same error from the same call.
    tests/integration/90_sync_failure.sh. Built as build/tools/sf_fail_sync.so.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

static int
s_failing (void)
{
    const char *flag = getenv ("SF_FAIL_SYNC");
    return flag && *flag && access (flag, F_OK) == 0;
}

int
fdatasync (int fd)
{
    static int (*real) (int);
    if (s_failing ()) {
        errno = EIO;
        return -1;
    }
    if (!real)
        real = (int (*) (int)) dlsym (RTLD_NEXT, "fdatasync");
    return real (fd);
}

int
fsync (int fd)
{
    static int (*real) (int);
    if (s_failing ()) {
        errno = EIO;
        return -1;
    }
    if (!real)
        real = (int (*) (int)) dlsym (RTLD_NEXT, "fsync");
    return real (fd);
}

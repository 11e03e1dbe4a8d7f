/*  alloc.c — the one allocation policy (see sf_alloc.h): every allocation
    whose size is ours either succeeds or the process stops here, with a
    message that says how much and where.
*/
#include "sf_alloc.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
sf_oom (size_t size, const char *file, int line)
{
    //  No allocation on this path: stderr is unbuffered.
    fprintf (stderr, "streamfleet: out of memory: could not allocate %zu bytes at %s:%d;"
             " aborting (raise the process's memory limit or lower its load)\n",
             size, file, line);
    abort ();
}

void *
sf_xmalloc_at (size_t size, const char *file, int line)
{
    void *p = malloc (size ? size : 1);
    if (!p)
        sf_oom (size, file, line);
    return p;
}

void *
sf_xcalloc_at (size_t n, size_t size, const char *file, int line)
{
    if (n && size > SIZE_MAX / n)
        sf_oom (SIZE_MAX, file, line);
    void *p = calloc (n ? n : 1, size ? size : 1);
    if (!p)
        sf_oom (n * size, file, line);
    return p;
}

void *
sf_xrealloc_at (void *ptr, size_t size, const char *file, int line)
{
    void *p = realloc (ptr, size ? size : 1);
    if (!p)
        sf_oom (size, file, line);
    return p;
}

void *
sf_xreallocarray_at (void *ptr, size_t n, size_t size, const char *file, int line)
{
    if (n && size > SIZE_MAX / n)
        sf_oom (SIZE_MAX, file, line);
    return sf_xrealloc_at (ptr, n * size, file, line);
}

char *
sf_xstrdup_at (const char *text, const char *file, int line)
{
    size_t len = strlen (text);
    char *p = sf_xmalloc_at (len + 1, file, line);
    memcpy (p, text, len + 1);
    return p;
}

char *
sf_xstrndup_at (const char *text, size_t n, const char *file, int line)
{
    size_t len = strnlen (text, n);
    char *p = sf_xmalloc_at (len + 1, file, line);
    memcpy (p, text, len);
    p [len] = '\0';
    return p;
}

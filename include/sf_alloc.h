/*  sf_alloc.h — the one allocation policy: abort on out-of-memory.

    As in CZMQ and Redis, running out of memory is not an error a caller can
    do anything useful about, so these never return NULL: they print what
    could not be allocated and where to stderr, and abort. Code that uses them
    has no failure branch to get wrong.

    The one exception is an allocation whose size a peer, a file or a user
    chose and that is not already backed by bytes we hold (a frame length, a
    file's size, an HTTP body): there a refusal is the input's fault, so
    those sites keep plain malloc/realloc and a -1 path, with a comment
    saying so. Everything else uses these.
*/
#ifndef SF_ALLOC_H
#define SF_ALLOC_H

#include <stddef.h>

#define sf_xmalloc(size)          sf_xmalloc_at ((size), __FILE__, __LINE__)
#define sf_xcalloc(n, size)       sf_xcalloc_at ((n), (size), __FILE__, __LINE__)
#define sf_xrealloc(ptr, size)    sf_xrealloc_at ((ptr), (size), __FILE__, __LINE__)
//  realloc for n elements of size bytes; an overflowing product aborts too
#define sf_xreallocarray(ptr, n, size) \
    sf_xreallocarray_at ((ptr), (n), (size), __FILE__, __LINE__)
#define sf_xstrdup(text)          sf_xstrdup_at ((text), __FILE__, __LINE__)
#define sf_xstrndup(text, n)      sf_xstrndup_at ((text), (n), __FILE__, __LINE__)

//  A zero size allocates one byte, so the result is never NULL.
void *sf_xmalloc_at (size_t size, const char *file, int line);
void *sf_xcalloc_at (size_t n, size_t size, const char *file, int line);
void *sf_xrealloc_at (void *ptr, size_t size, const char *file, int line);
void *sf_xreallocarray_at (void *ptr, size_t n, size_t size, const char *file, int line);
char *sf_xstrdup_at (const char *text, const char *file, int line);
char *sf_xstrndup_at (const char *text, size_t n, const char *file, int line);

//  Prints "out of memory" with the size and the call site, then aborts.
void sf_oom (size_t size, const char *file, int line) __attribute__ ((noreturn));
#endif

/*  fuzz.h — shared bits of the libFuzzer targets (tests/fuzz/fuzz_*.c).
    Each target is one decoder of untrusted input, driven the way the daemon
    drives it; FUZZ_CHECK aborts (a crash libFuzzer reports and saves) when a
    property the decoder promises does not hold, such as a round trip.
*/
#ifndef SF_FUZZ_H
#define SF_FUZZ_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sf_log.h"

#define FUZZ_CHECK(cond) do { if (!(cond)) { \
    fprintf (stderr, "fuzz property failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
    abort (); } } while (0)

//  A NUL-terminated copy of the input (decoders that take C strings)
static inline char *
fuzz_cstr (const uint8_t *data, size_t size)
{
    char *s = malloc (size + 1);
    if (!s)
        abort ();
    memcpy (s, data, size);
    s [size] = 0;
    return s;
}

//  Quiet logs: the decoders log every rejection
static inline void
fuzz_quiet (void)
{
    sf_log_set_level (SF_LOG_ERROR + 1);
}
#endif

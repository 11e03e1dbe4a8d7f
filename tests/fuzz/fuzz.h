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
#include <jansson.h>
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

//  The JSON adapters' targets: the input parsed as JSON, then `item` called on
//  the root and on every element of the root's array `list`. Returns the root
//  for more checks (the caller's to json_decref), NULL when it is no JSON.
static inline json_t *
fuzz_json_each (const uint8_t *data, size_t size, const char *list, void (*item) (json_t *))
{
    json_error_t jerr;
    json_t *root = json_loadb ((const char *) data, size, JSON_DECODE_ANY, &jerr);
    if (!root)
        return NULL;
    item (root);
    size_t i;
    json_t *it;
    json_array_foreach (json_object_get (root, list), i, it)
        item (it);
    return root;
}
#endif

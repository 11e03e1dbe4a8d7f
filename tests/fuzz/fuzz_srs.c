/*  fuzz_srs — SRS HTTP API replies (JSON): every item of /api/v1/streams/
    mapped as the adapter maps it. */
#include "fuzz.h"
#include "sf_srs.h"

static void
s_item (json_t *item)
{
    sf_stream_t s;
    sf_stream_init (&s);
    sf_srs_stream_t x;
    memset (&x, 0, sizeof (x));
    (void) sf_srs_stream (item, &s, &x);
    sf_stream_clear (&s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_decref (fuzz_json_each (data, size, "streams", s_item));
    return 0;
}

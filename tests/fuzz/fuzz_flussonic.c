/*  fuzz_flussonic — Flussonic Streamer API v3 replies (JSON): every item of
    /streamer/api/v3/streams mapped as the adapter maps it (stats, media_info,
    dvr_info ranges, inputs). */
#include "fuzz.h"
#include "sf_flussonic.h"

static void
s_item (json_t *item)
{
    sf_stream_t s;
    sf_stream_init (&s);
    sf_flussonic_stream_t x;
    memset (&x, 0, sizeof (x));
    (void) sf_flussonic_stream (item, 1764633600, &s, &x);
    sf_stream_clear (&s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_decref (fuzz_json_each (data, size, "streams", s_item));
    return 0;
}

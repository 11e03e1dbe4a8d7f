/*  fuzz_mediamtx — MediaMTX Control API replies (JSON): every item of a
    paths list mapped as the adapter maps it, and a playback /list reply as
    DVR ranges. */
#include "fuzz.h"
#include "sf_mediamtx.h"

static void
s_item (json_t *item)
{
    sf_stream_t s;
    sf_stream_init (&s);
    sf_mediamtx_path_t x;
    memset (&x, 0, sizeof (x));
    (void) sf_mediamtx_path (item, &s, &x);
    sf_stream_clear (&s);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    json_t *root = fuzz_json_each (data, size, "items", s_item);
    if (!root)
        return 0;
    sf_stream_t s;
    sf_stream_init (&s);
    char err [256];
    (void) sf_mediamtx_ranges (root, &s.dvr, err, sizeof (err));
    sf_stream_clear (&s);
    json_decref (root);
    return 0;
}

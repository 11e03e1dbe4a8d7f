/*  fuzz_nginx_stat — the nginx-rtmp stat page (XML, expat), parsed as the
    adapter parses it: all applications, then one application into the same
    (reused) result. */
#include "fuzz.h"
#include "sf_nginx_stat.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    sf_nginx_stat_t stat = { 0 };
    char err [256];
    if (sf_nginx_stat_parse ((const char *) data, size, "", &stat, err, sizeof (err)) == 0)
        FUZZ_CHECK (stat.count <= stat.cap);
    if (sf_nginx_stat_parse ((const char *) data, size, "live", &stat, err, sizeof (err)) == 0)
        for (size_t i = 0; i < stat.count; i++)
            FUZZ_CHECK (strcmp (stat.streams [i].app, "live") == 0);
    sf_nginx_stat_clear (&stat);
    return 0;
}

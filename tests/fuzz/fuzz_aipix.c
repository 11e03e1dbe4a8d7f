/*  fuzz_aipix — the Aipix REST replies (JSON): the stream list, a stream's
    detail, its DVR ranges and the server's usage, each parser given every
    input; and the token redaction of log lines over the input as text. */
#include "fuzz.h"
#include "sf_aipix.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const char *json = (const char *) data;
    char err [256];
    sf_streamset_t set;
    sf_streamset_init (&set);
    (void) sf_aipix_parse_list (json, size, &set, err, sizeof (err));
    sf_streamset_clear (&set);
    sf_stream_t s;
    sf_stream_init (&s);
    (void) sf_aipix_parse_detail (json, size, &s, err, sizeof (err));
    (void) sf_aipix_parse_ranges (json, size, &s.dvr, err, sizeof (err));
    sf_stream_clear (&s);
    sf_node_t n;
    sf_node_init (&n);
    (void) sf_aipix_parse_server (json, size, &n, err, sizeof (err));
    //  Redaction in place, in a buffer exactly as large as the text
    char *text = fuzz_cstr (data, size);
    size_t len = strlen (text);
    sf_aipix_redact (text, len + 1);
    FUZZ_CHECK (strlen (text) <= len);
    free (text);
    return 0;
}

/*  fuzz_push — the push adapter's JSON lines (a local media server or script
    writes them, docs/adapters.md "push"): each line applied as the adapter
    applies it, then a poll; every line is answered "ok" or "error: ...". */
#include "fuzz.h"
#include "sf_source.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static const sf_source_ops_t *ops;
    if (!ops) {
        fuzz_quiet ();
        ops = sf_source_find ("push");
        FUZZ_CHECK (ops);
    }
    void *state = sf_push_decoder_new ();
    FUZZ_CHECK (state);
    const char *p = (const char *) data, *end = p + size;
    while (p < end) {
        const char *nl = memchr (p, '\n', (size_t) (end - p));
        size_t len = nl ? (size_t) (nl - p) : (size_t) (end - p);
        if (len) {
            char reply [512] = "";
            sf_push_decoder_line (state, p, len, reply, sizeof (reply));
            FUZZ_CHECK (strcmp (reply, "ok\n") == 0 || strncmp (reply, "error: ", 7) == 0);
        }
        p += len + 1;
    }
    sf_streamset_t set;
    sf_streamset_init (&set);
    FUZZ_CHECK (ops->poll (state, &set) == 0);
    sf_streamset_clear (&set);
    ops->destroy (&state);
    return 0;
}

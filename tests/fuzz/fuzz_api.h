/*  fuzz_api.h — the reply handler over a small real fleet (the unit tests'
    fixture: three nodes, seven placements in an LMDB store under /tmp,
    removed at exit), for fuzz_api and fuzz_http. */
#ifndef SF_FUZZ_API_H
#define SF_FUZZ_API_H
#include "fuzz.h"
#include "../unit/fixture_fleet.h"
#include "sf_api.h"
#include "sf_codec.h"

static fx_fleet_t fuzz_fx;

static void
fuzz_fx_done (void)
{
    fx_fleet_destroy (&fuzz_fx);
}

static sf_query_ctx_t *
fuzz_fleet (void)
{
    static bool ready;
    if (!ready) {
        fuzz_quiet ();
        FUZZ_CHECK (fx_fleet_init (&fuzz_fx) == 0);
        atexit (fuzz_fx_done);
        ready = true;
    }
    return &fuzz_fx.ctx;
}

//  Every answer, normal or error, is one well-formed envelope
static void
fuzz_reply_ok (const msgpack_sbuffer *reply)
{
    sf_msg_t msg;
    sf_msg_init (&msg);
    FUZZ_CHECK (sf_msg_parse (&msg, reply->data, reply->size) == 0);
    sf_msg_release (&msg);
}
#endif

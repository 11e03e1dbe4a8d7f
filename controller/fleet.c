/*  fleet.c — derived placement state (include/sf_fleet.h).

    The status of a placement on a node that is down is offline: a stream on a
    dead node is never shown active. Migration and transfer tracking by uid
    across nodes is built on top of this (issue 4).
*/
#include "sf_fleet.h"
#include <string.h>

void
sf_fleet_derive (sf_query_ctx_t *ctx, sf_read_t *r, const sf_row_t *row, int node_state,
                 int64_t now_ms, sf_derived_t *out)
{
    out->type = row->sum.type;
    out->status = node_state == SF_LIVE_DOWN ? SF_STATUS_OFFLINE : row->sum.status;
    out->transfer = false;
    out->migrated_to [0] = 0;
}

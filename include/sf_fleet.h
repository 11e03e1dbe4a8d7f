/*  sf_fleet.h — where every stream lives (DESIGN §3): the one place that
    derives a placement's migrated type, its transfer flag and where it went,
    from the stored (replicated) records, so any controller answers alike.
*/
#ifndef SF_FLEET_H
#define SF_FLEET_H

#include "sf_query.h"

typedef struct {
    uint8_t type;               //  sf_type_t, migrated when the stream moved away
    uint8_t status;             //  sf_status_t, offline when the node is down
    bool transfer;
    char migrated_to [SF_NODE_MAX + 1];
} sf_derived_t;

//  Derives the view of one placement inside a read transaction.
//  node_state is the owning node's liveness (sf_liveness_t).
void sf_fleet_derive (sf_query_ctx_t *ctx, sf_read_t *r, const sf_row_t *row, int node_state,
                      int64_t now_ms, sf_derived_t *out);
#endif

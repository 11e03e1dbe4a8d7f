/*  apply.c — the write path for placement records (include/sf_apply.h).

    Every change of a placement, from an agent or from a peer controller,
    passes here inside the writer's transaction; the fleet module
    (controller/fleet.c) stores it with its derived flags and derives the
    migration state and events that follow from it, so every controller that
    applies the same records derives the same answers.
*/
#include "sf_apply.h"
#include "sf_fleet.h"

int
sf_apply_put (sf_store_t *store, const sf_stream_t *s)
{
    return sf_fleet_apply_put (store, s);
}

int
sf_apply_del (sf_store_t *store, const char *node, const char *name, sf_version_t ver)
{
    return sf_fleet_apply_del (store, node, name, ver);
}

/*  sf_apply.h — the one write path for placement records.

    Every stored change of a placement goes through here, whether it came from
    the node's agent (controller/ingest.c) or from a peer controller
    (controller/gossip.c): both stage it in the write session, whose
    sf_writer_put / _del (controller/writer.c) call these inside its open
    transaction. Derived state that must
    follow record changes (migration tracking, events: controller/fleet.c)
    hooks in here, so every controller derives it from the same records.
*/
#ifndef SF_APPLY_H
#define SF_APPLY_H

#include "sf_store.h"

//  Stores a placement; s->node and s->version are already set.
int sf_apply_put (sf_store_t *store, const sf_stream_t *s);
//  Deletes a placement (the change that removed it is ver)
int sf_apply_del (sf_store_t *store, const char *node, const char *name, sf_version_t ver);
#endif

/*  store_lmdb.h — LMDB handles of the store, for controller/fleet.c only
    while it moves onto the generic primitives of include/sf_store.h
    (sf_key_make, sf_store_get/put/add/del, sf_store_foreach). Nothing else
    includes it; it goes when fleet.c no longer does.
*/
#ifndef SF_STORE_LMDB_H
#define SF_STORE_LMDB_H

#include "sf_store.h"
#include <lmdb.h>

MDB_txn *sf_store_wtxn (sf_store_t *self);
MDB_dbi sf_store_dbi (sf_store_t *self, int which);
#endif

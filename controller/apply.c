/*  apply.c — the write path for placement records (include/sf_apply.h). */
#include "sf_apply.h"

int
sf_apply_put (sf_store_t *store, const sf_stream_t *s)
{
    return sf_store_put_stream (store, s);
}

int
sf_apply_del (sf_store_t *store, const char *node, const char *name, sf_version_t ver)
{
    return sf_store_del_stream (store, node, name, ver);
}

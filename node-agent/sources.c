/*  sources.c — the registry of source adapters, by name. */
#include "sf_source.h"
#include <string.h>

extern const sf_source_ops_t sf_source_simulate;
extern const sf_source_ops_t sf_source_push;
extern const sf_source_ops_t sf_source_nginx;
extern const sf_source_ops_t sf_source_aipix;

static const sf_source_ops_t *s_sources [] = {
    &sf_source_simulate,
    &sf_source_push,
    &sf_source_nginx,
    &sf_source_aipix,
    NULL
};

const sf_source_ops_t *
sf_source_find (const char *name)
{
    for (int i = 0; s_sources [i]; i++)
        if (strcmp (s_sources [i]->name, name) == 0)
            return s_sources [i];
    return NULL;
}

const char *
sf_source_names (void)
{
    static char names [256];
    names [0] = 0;
    for (int i = 0; s_sources [i]; i++) {
        if (i)
            strncat (names, ", ", sizeof (names) - strlen (names) - 1);
        strncat (names, s_sources [i]->name, sizeof (names) - strlen (names) - 1);
    }
    return names;
}

/*  filter.c — the filter evaluator and sort keys (DESIGN §3). One
    implementation, called by every query path.
*/
#include "sf_filter.h"
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>

typedef struct {
    const char *name;
    int group;              //  0 type, 1 state, 2 functions
    uint8_t bit;
} s_param_t;

static const s_param_t s_params [] = {
    { "primary",   0, 1 << SF_TYPE_PRIMARY },
    { "secondary", 0, 1 << SF_TYPE_SECONDARY },
    { "migrated",  0, 1 << SF_TYPE_MIGRATED },
    { "active",    1, SF_STATE_ACTIVE },
    { "suspend",   1, SF_STATE_SUSPEND },
    { "transfer",  1, SF_STATE_TRANSFER },
    { "conflict",  1, SF_STATE_CONFLICT },
    { "dvr",       2, SF_FN_DVR },
    { "audio",     2, SF_FN_AUDIO },
};
#define S_NPARAMS (sizeof (s_params) / sizeof (s_params [0]))

void
sf_filter_init (sf_filter_t *self)
{
    memset (self, 0, sizeof (*self));
}

int
sf_filter_parse (sf_filter_t *self, const char *params, char *err, size_t errlen)
{
    if (!params)
        return 0;
    const char *p = params;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        const char *end = p;
        while (*end && *end != ',' && *end != ' ')
            end++;
        size_t len = (size_t) (end - p);
        const s_param_t *found = NULL;
        for (size_t i = 0; i < S_NPARAMS; i++)
            if (strlen (s_params [i].name) == len && strncasecmp (p, s_params [i].name, len) == 0)
                found = &s_params [i];
        if (!found) {
            snprintf (err, errlen, "unknown filter parameter '%.*s' (valid: primary, secondary, "
                      "migrated, active, suspend, transfer, conflict, dvr, audio)", (int) (len > 64 ? 64 : len), p);
            return -1;
        }
        if (found->group == 0)
            self->types |= found->bit;
        else if (found->group == 1)
            self->states |= found->bit;
        else
            self->functions |= found->bit;
        p = end;
    }
    return 0;
}

int
sf_filter_set_name (sf_filter_t *self, const char *pattern, char *err, size_t errlen)
{
    if (!pattern)
        pattern = "";
    if (strlen (pattern) > SF_NAME_MAX) {
        snprintf (err, errlen, "name pattern is longer than %d bytes", SF_NAME_MAX);
        return -1;
    }
    strcpy (self->name, pattern);
    self->name_glob = strpbrk (pattern, "*?") != NULL;
    return 0;
}

int
sf_filter_set_node (sf_filter_t *self, const char *node, char *err, size_t errlen)
{
    if (!node)
        node = "";
    if (strlen (node) > SF_NODE_MAX) {
        snprintf (err, errlen, "node id is longer than %d bytes", SF_NODE_MAX);
        return -1;
    }
    strcpy (self->node, node);
    return 0;
}

const char *
sf_filter_params (const sf_filter_t *self, char *buf, size_t size)
{
    size_t at = 0;
    buf [0] = 0;
    for (size_t i = 0; i < S_NPARAMS; i++) {
        uint8_t mask = s_params [i].group == 0 ? self->types
                     : s_params [i].group == 1 ? self->states : self->functions;
        if (mask & s_params [i].bit) {
            int n = snprintf (buf + at, size - at, "%s%s", at ? "," : "", s_params [i].name);
            if (n < 0 || (size_t) n >= size - at)
                break;
            at += (size_t) n;
        }
    }
    return buf;
}

bool
sf_filter_match_fields (const sf_filter_t *self, const char *node, uint8_t type,
                        uint8_t status, uint8_t marks, uint8_t functions)
{
    if (self->types && !(self->types & (1 << type)))
        return false;
    if (self->states) {
        bool hit = ((self->states & SF_STATE_ACTIVE) && status == SF_STATUS_ACTIVE)
                || ((self->states & SF_STATE_SUSPEND) && status == SF_STATUS_SUSPEND)
                || ((self->states & SF_STATE_TRANSFER) && (marks & SF_MARK_TRANSFER))
                || ((self->states & SF_STATE_CONFLICT) && (marks & SF_MARK_CONFLICT));
        if (!hit)
            return false;
    }
    if ((functions & self->functions) != self->functions)
        return false;
    if (self->node [0] && strcmp (self->node, node) != 0)
        return false;
    return true;
}

//  Case-insensitive substring search without allocating
static bool
s_icontains (const char *hay, const char *needle)
{
    size_t n = strlen (needle);
    if (n == 0)
        return true;
    int first = tolower ((unsigned char) needle [0]);
    for (const char *h = hay; *h; h++)
        if (tolower ((unsigned char) *h) == first && strncasecmp (h, needle, n) == 0)
            return true;
    return false;
}

bool
sf_filter_match_name (const sf_filter_t *self, const char *name)
{
    if (!self->name [0])
        return true;
    if (self->name_glob)
        return fnmatch (self->name, name, FNM_CASEFOLD) == 0;
    return s_icontains (name, self->name);
}

bool
sf_filter_match (const sf_filter_t *self, const sf_stream_t *s)
{
    return sf_filter_match_fields (self, s->node, s->type, s->status,
                                   (s->transfer ? SF_MARK_TRANSFER : 0) | (s->conflict ? SF_MARK_CONFLICT : 0),
                                   s->functions)
        && sf_filter_match_name (self, s->name);
}

int
sf_sort_parse (sf_sort_t *self, const char *spec, char *err, size_t errlen)
{
    self->key = SF_SORT_NAME;
    self->desc = false;
    if (!spec || !*spec)
        return 0;
    char word [32];
    if (*spec == '-') {
        self->desc = true;
        spec++;
    }
    size_t len = strcspn (spec, ":");
    if (len >= sizeof (word))
        len = sizeof (word) - 1;
    memcpy (word, spec, len);
    word [len] = 0;
    if (spec [len] == ':') {
        if (strcasecmp (spec + len + 1, "desc") == 0)
            self->desc = true;
        else if (strcasecmp (spec + len + 1, "asc") != 0) {
            snprintf (err, errlen, "sort order must be asc or desc, not '%.16s'", spec + len + 1);
            return -1;
        }
    }
    //  Accept the record's field names too (bitrate_kbps); an AGE key sorted
    //  by its field (started_at) runs the other way
    for (const sf_field_t *f = sf_stream_fields; f->key; f++)
        if (f->sort >= 0 && !f->group && strcasecmp (word, f->key) == 0) {
            self->key = (uint8_t) f->sort;
            if (sf_sort_by (f->sort) == SF_SORT_BY_AGE)
                self->desc = !self->desc;
            return 0;
        }
    for (int i = 0; i < SF_SORT_COUNT; i++)
        if (strcasecmp (word, sf_sort_name (i)) == 0) {
            self->key = (uint8_t) i;
            return 0;
        }
    char valid [256] = "";
    for (int i = 0; i < SF_SORT_COUNT; i++)
        snprintf (valid + strlen (valid), sizeof (valid) - strlen (valid), "%s%s",
                  i ? ", " : "", sf_sort_name (i));
    snprintf (err, errlen, "unknown sort column '%s' (valid: %s; prefix '-' for descending)",
              word, valid);
    return -1;
}

/*  record.c — life cycle and small helpers of stream and node records.
    Records own their long texts and DVR ranges; everything else is inline so
    that copying a record is one memcpy plus the owned parts.
*/
#include "sf_record.h"
#include "sf_alloc.h"
#include <stdlib.h>
#include <malloc.h>
#include <string.h>
#include <stdio.h>

void
sf_stream_init (sf_stream_t *self)
{
    memset (self, 0, sizeof (*self));
    self->ping_ms = -1;
}

//  The owned parts are the table's TEXT lines and the DVR ranges
static inline char **
s_text (sf_stream_t *s, const sf_field_t *f)
{
    return (char **) ((char *) s + f->offset);
}

void
sf_stream_clear (sf_stream_t *self)
{
    for (const sf_field_t *f = sf_stream_fields; f->key; f++)
        if (f->kind == SF_K_TEXT)
            free (*s_text (self, f));
    free (self->dvr.ranges);
    sf_stream_init (self);
}

void
sf_stream_copy (sf_stream_t *dest, const sf_stream_t *src)
{
    sf_stream_clear (dest);
    *dest = *src;
    for (const sf_field_t *f = sf_stream_fields; f->key; f++)
        if (f->kind == SF_K_TEXT)
            *s_text (dest, f) = NULL;
    dest->dvr.ranges = NULL;
    dest->dvr.nranges = 0;
    for (const sf_field_t *f = sf_stream_fields; f->key; f++) {
        if (f->kind != SF_K_TEXT)
            continue;
        const char *text = *s_text ((sf_stream_t *) src, f);
        if (text)
            *s_text (dest, f) = sf_xstrdup (text);
    }
    if (src->dvr.nranges) {
        dest->dvr.ranges = sf_xcalloc (src->dvr.nranges, sizeof (sf_range_t));
        memcpy (dest->dvr.ranges, src->dvr.ranges, src->dvr.nranges * sizeof (sf_range_t));
        dest->dvr.nranges = src->dvr.nranges;
    }
}

void
sf_text_set (char **field, const char *value)
{
    free (*field);
    *field = NULL;
    if (value && *value)
        *field = sf_xstrdup (value);
}

int
sf_str_set (char *dest, size_t cap, const char *value)
{
    if (!value)
        value = "";
    size_t len = strlen (value);
    if (len > cap) {
        memcpy (dest, value, cap);
        dest [cap] = 0;
        return -1;
    }
    memcpy (dest, value, len + 1);
    return 0;
}

//  Ranges grow by doubling; the bound keeps a hostile source from making us
//  allocate without end.
int
sf_dvr_add_range (sf_dvr_t *dvr, int64_t from, int64_t to)
{
    if (to < from)
        return -1;
    if (dvr->nranges && from >= dvr->ranges [dvr->nranges - 1].from) {
        sf_range_t *last = &dvr->ranges [dvr->nranges - 1];
        if (from <= last->to + 1) {
            if (to > last->to)
                last->to = to;
            if (from < last->from)
                last->from = from;
            return 0;
        }
    }
    return sf_dvr_push_range (dvr, from, to);
}

int
sf_dvr_push_range (sf_dvr_t *dvr, int64_t from, int64_t to)
{
    if (to < from || dvr->nranges >= SF_RANGES_MAX)
        return -1;
    //  Grow by doubling, and only when the buffer is full: a record decoded
    //  again and again into the same buffer reuses it
    uint32_t n = dvr->nranges;
    if (!dvr->ranges || malloc_usable_size (dvr->ranges) < (n + 1) * sizeof (sf_range_t)) {
        uint32_t cap = n ? n * 2 : 4;
        dvr->ranges = sf_xreallocarray (dvr->ranges, cap, sizeof (sf_range_t));
    }
    dvr->ranges [dvr->nranges].from = from;
    dvr->ranges [dvr->nranges].to = to;
    dvr->nranges++;
    return 0;
}

static int
s_range_cmp (const void *a, const void *b)
{
    const sf_range_t *x = a, *y = b;
    return x->from < y->from ? -1 : x->from > y->from ? 1 : (x->to < y->to ? -1 : x->to > y->to);
}

void
sf_dvr_normalize (sf_dvr_t *dvr)
{
    if (dvr->nranges < 2)
        return;
    qsort (dvr->ranges, dvr->nranges, sizeof (sf_range_t), s_range_cmp);
    uint32_t out = 0;
    for (uint32_t i = 1; i < dvr->nranges; i++) {
        sf_range_t *last = &dvr->ranges [out];
        if (dvr->ranges [i].from <= last->to + 1) {
            if (dvr->ranges [i].to > last->to)
                last->to = dvr->ranges [i].to;
        }
        else
            dvr->ranges [++out] = dvr->ranges [i];
    }
    dvr->nranges = out + 1;
}

void
sf_node_init (sf_node_t *self)
{
    memset (self, 0, sizeof (*self));
    self->heartbeat_age_ms = -1;
    self->liveness = SF_LIVE_DOWN;
}

static const char *s_types [] = { "primary", "secondary", "migrated" };
static const char *s_statuses [] = { "active", "suspend", "starting", "error", "offline" };
static const char *s_liveness [] = { "alive", "suspect", "down" };

const char *
sf_type_name (int type)
{
    return type >= 0 && type < SF_TYPE_COUNT ? s_types [type] : "unknown";
}

const char *
sf_status_name (int status)
{
    return status >= 0 && status < SF_STATUS_COUNT ? s_statuses [status] : "unknown";
}

const char *
sf_liveness_name (int liveness)
{
    return liveness >= 0 && liveness <= SF_LIVE_DOWN ? s_liveness [liveness] : "unknown";
}

int
sf_type_parse (const char *name)
{
    for (int i = 0; i < SF_TYPE_COUNT; i++)
        if (name && strcmp (name, s_types [i]) == 0)
            return i;
    return -1;
}

int
sf_status_parse (const char *name)
{
    for (int i = 0; i < SF_STATUS_COUNT; i++)
        if (name && strcmp (name, s_statuses [i]) == 0)
            return i;
    return -1;
}

const char *
sf_functions_str (uint8_t functions, char *buf, size_t size)
{
    snprintf (buf, size, "%s%s%s%s%s",
              functions & SF_FN_DVR ? "dvr" : "",
              (functions & SF_FN_DVR) && (functions & (SF_FN_PHOTO | SF_FN_AUDIO)) ? "," : "",
              functions & SF_FN_PHOTO ? "photo" : "",
              (functions & SF_FN_PHOTO) && (functions & SF_FN_AUDIO) ? "," : "",
              functions & SF_FN_AUDIO ? "audio" : "");
    return buf;
}

/*  fields.c — the field table at run time (include/sf_fields.h): descriptors,
    neutral values for reply encoders and table cells, sort keys, the stored
    summary's format id, and the Markdown tables of docs/protocol.md.
*/
#include "sf_record.h"
#include "sf_filter.h"
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define S_GROUP_TOP     NULL
#define S_GROUP_SOURCE  "source"
#define S_GROUP_DVR     "dvr"
#define S_GROUP_MEDIA   "media"
#define S_GROUP_USAGE   "usage"
#define S_GROUP_ALIAS   NULL
#define S_PREFIX_TOP    ""
#define S_PREFIX_SOURCE "source."
#define S_PREFIX_DVR    "dvr."
#define S_PREFIX_MEDIA  "media."
#define S_PREFIX_USAGE  "usage."
#define S_PREFIX_ALIAS  ""
#define S_SORT_NOSORT               -1
#define S_SORT_SORT(id, name, how)  SF_SORT_##id
#define S_SUM_SUM       SF_F_SUMMARY
#define S_SUM_NOSUM     0
//  A TAG line has no member
#define S_OFF_STR(t, p)      offsetof (t, p)
#define S_OFF_TEXT(t, p)     offsetof (t, p)
#define S_OFF_U32(t, p)      offsetof (t, p)
#define S_OFF_U64(t, p)      offsetof (t, p)
#define S_OFF_I64(t, p)      offsetof (t, p)
#define S_OFF_I32U(t, p)     offsetof (t, p)
#define S_OFF_I32NN(t, p)    offsetof (t, p)
#define S_OFF_BOOL(t, p)     offsetof (t, p)
#define S_OFF_DOUBLE(t, p)   offsetof (t, p)
#define S_OFF_TYPE(t, p)     offsetof (t, p)
#define S_OFF_STATUS(t, p)   offsetof (t, p)
#define S_OFF_LIVENESS(t, p) offsetof (t, p)
#define S_OFF_FUNCS(t, p)    offsetof (t, p)
#define S_OFF_VERSION(t, p)  offsetof (t, p)
#define S_OFF_RANGES(t, p)   offsetof (t, p)
#define S_OFF_DISKS(t, p)    offsetof (t, p)
#define S_OFF_TAG(t, p)      0

//  REPLY (POS, SECT, "path", HOW) and COL ("HEADER", "Label", WIDTH, FMT)
#define S_REPLY_NOREPLY                     0, SF_RS_NONE, SF_RH_VAL, NULL
#define S_REPLY_REPLY(pos, sect, path, how) pos, SF_RS_##sect, SF_RH_##how, path
#define S_COL_NOCOL                         NULL, NULL, 0, 0
#define S_COL_COL(head, label, width, fmt)  head, label, width, SF_CF_##fmt
//  One more level, so that S_REPLY_REPLY's expansion is split into members
#define S_EXPAND(...) __VA_ARGS__

#define S_DESC(type, g, m, key, k, b, w, su, s, rp, cl, d, doc) \
    { key, S_PREFIX_##g key, S_GROUP_##g, #m, S_OFF_##k (type, SF_PATH_##g (m)), (b), \
      (uint16_t) ((w) | S_SUM_##su), SF_K_##k, S_SORT_##s, d, doc, \
      S_EXPAND (S_REPLY_##rp), S_EXPAND (S_COL_##cl) },
#define S_DESC_STREAM(...)  S_DESC (sf_stream_t, __VA_ARGS__)
#define S_DESC_NODE(...)    S_DESC (sf_node_t, __VA_ARGS__)

const sf_field_t sf_stream_fields [] = {
    SF_STREAM_FIELDS (S_DESC_STREAM)
    { NULL }
};

const sf_field_t sf_node_fields [] = {
    SF_NODE_FIELDS (S_DESC_NODE)
    { NULL }
};

const sf_field_t *
sf_field_find (const sf_field_t *table, const char *path)
{
    for (const sf_field_t *f = table; f->key; f++)
        if (strcmp (f->path, path) == 0)
            return f;
    for (const sf_field_t *f = table; f->key; f++)
        if (!f->group && strcmp (f->key, path) == 0)
            return f;
    return NULL;
}

const char *
sf_kind_doc (const sf_field_t *f, char *buf, size_t size)
{
    switch (f->kind) {
        case SF_K_STR: case SF_K_TEXT: snprintf (buf, size, "str≤%u", f->bound); break;
        case SF_K_U32: snprintf (buf, size, "u32"); break;
        case SF_K_U64: snprintf (buf, size, "u64"); break;
        case SF_K_I64: case SF_K_I32U: snprintf (buf, size, "i64"); break;
        case SF_K_I32NN: snprintf (buf, size, "i64, 0 … 2^31−1"); break;
        case SF_K_BOOL: snprintf (buf, size, "bool"); break;
        case SF_K_DOUBLE: snprintf (buf, size, "f64"); break;
        case SF_K_TYPE: case SF_K_STATUS: case SF_K_LIVENESS: case SF_K_TAG:
            snprintf (buf, size, "str"); break;
        case SF_K_FUNCS: snprintf (buf, size, "array of str, or u64"); break;
        case SF_K_VERSION: snprintf (buf, size, "`[u64 gen, u64 seq]`"); break;
        case SF_K_RANGES: snprintf (buf, size, "array (≤%d) of `[i64 from, i64 to]` with `to ≥ from`",
                                    SF_RANGES_MAX); break;
        case SF_K_DISKS: snprintf (buf, size, "array (≤%d) of maps", SF_DISKS_MAX); break;
        default: snprintf (buf, size, "?"); break;
    }
    return buf;
}

void
sf_field_value (const sf_field_t *f, const void *record, sf_value_t *out)
{
    memset (out, 0, sizeof (*out));
    const char *p = (const char *) record + f->offset;
    switch (f->kind) {
        case SF_K_STR: out->type = SF_V_STR; out->str = p; break;
        case SF_K_TEXT: {
            const char *t;
            memcpy (&t, p, sizeof (t));
            out->type = SF_V_STR;
            out->str = t ? t : "";
            break;
        }
        case SF_K_U32: { uint32_t v; memcpy (&v, p, sizeof (v)); out->type = SF_V_UINT; out->u = v; break; }
        case SF_K_U64: { uint64_t v; memcpy (&v, p, sizeof (v)); out->type = SF_V_UINT; out->u = v; break; }
        case SF_K_I64: { int64_t v; memcpy (&v, p, sizeof (v)); out->type = SF_V_INT; out->i = v; break; }
        case SF_K_I32U: case SF_K_I32NN: {
            int32_t v;
            memcpy (&v, p, sizeof (v));
            out->type = SF_V_INT;
            out->i = v;
            break;
        }
        case SF_K_BOOL: { bool v; memcpy (&v, p, sizeof (v)); out->type = SF_V_BOOL; out->b = v; break; }
        case SF_K_DOUBLE: { double v; memcpy (&v, p, sizeof (v)); out->type = SF_V_DOUBLE; out->d = v; break; }
        case SF_K_TYPE: out->type = SF_V_STR; out->str = sf_type_name (*(const uint8_t *) p); break;
        case SF_K_STATUS: out->type = SF_V_STR; out->str = sf_status_name (*(const uint8_t *) p); break;
        case SF_K_LIVENESS: out->type = SF_V_STR; out->str = sf_liveness_name (*(const uint8_t *) p); break;
        case SF_K_FUNCS: out->type = SF_V_FUNCS; out->u = *(const uint8_t *) p; break;
        case SF_K_VERSION: {
            sf_version_t v;
            memcpy (&v, p, sizeof (v));
            out->type = SF_V_VERSION;
            out->gen = v.gen;
            out->seq = v.seq;
            break;
        }
        case SF_K_RANGES: {
            const sf_dvr_t *d = (const sf_dvr_t *) (p - offsetof (sf_dvr_t, ranges));
            out->type = SF_V_RANGES;
            out->items = d->ranges;
            out->n = d->nranges;
            break;
        }
        case SF_K_DISKS: {
            const sf_node_t *n = record;
            out->type = SF_V_DISKS;
            out->items = n->disks;
            out->n = n->ndisks;
            break;
        }
        case SF_K_TAG: out->type = SF_V_STR; out->str = f->dflt; break;
        default: out->type = SF_V_NULL;
    }
}

//  ---------------------------------------------------------------------------
//  The reply's order and the listing's columns

static const char *s_col_fmt_names [SF_CF_COUNT] = {
    [SF_CF_NAME] = "name", [SF_CF_WORD] = "word", [SF_CF_STATUS] = "status",
    [SF_CF_INT] = "int", [SF_CF_KBPS] = "kbps", [SF_CF_AGE] = "age", [SF_CF_PAIR] = "pair",
    [SF_CF_URL] = "url"
};

const char *
sf_col_fmt_name (int fmt)
{
    return fmt >= 0 && fmt < SF_CF_COUNT ? s_col_fmt_names [fmt] : "unknown";
}

#define S_NODE_COL(head, label, width, fmt, path, with) { head, label, width, SF_NF_##fmt, path, with },
const sf_node_col_t sf_node_cols [] = {
    SF_NODE_COLS (S_NODE_COL)
    { NULL }
};

static const char *s_node_col_fmt_names [SF_NF_COUNT] = {
    [SF_NF_WORD] = "word", [SF_NF_LIVENESS] = "liveness", [SF_NF_HBAGE] = "hbage",
    [SF_NF_INT] = "int", [SF_NF_PCT] = "pct", [SF_NF_LIMIT] = "limit",
    [SF_NF_BANDWIDTH] = "bandwidth", [SF_NF_MEMORY] = "memory", [SF_NF_DISKS] = "disks",
    [SF_NF_STALE] = "stale"
};

const char *
sf_node_col_fmt_name (int fmt)
{
    return fmt >= 0 && fmt < SF_NF_COUNT ? s_node_col_fmt_names [fmt] : "unknown";
}

#define S_NSTREAM (sizeof (sf_stream_fields) / sizeof (sf_stream_fields [0]))
#define S_NNODE (sizeof (sf_node_fields) / sizeof (sf_node_fields [0]))
static const sf_field_t *s_reply_order [S_NSTREAM];
static const sf_field_t *s_reply_node_order [S_NNODE];
static pthread_once_t s_reply_once = PTHREAD_ONCE_INIT;

//  Orders a table's REPLY lines by POS (an insertion sort over ~40 lines)
static void
s_reply_order_of (const sf_field_t *table, const sf_field_t **order)
{
    size_t n = 0;
    for (const sf_field_t *f = table; f->key; f++) {
        if (!f->reply_path)
            continue;
        size_t at = n++;
        while (at > 0 && order [at - 1]->reply_pos > f->reply_pos) {
            order [at] = order [at - 1];
            at--;
        }
        order [at] = f;
    }
    order [n] = NULL;
}

static void
s_reply_order_build (void)
{
    s_reply_order_of (sf_stream_fields, s_reply_order);
    s_reply_order_of (sf_node_fields, s_reply_node_order);
}

const sf_field_t *const *
sf_reply_fields (void)
{
    pthread_once (&s_reply_once, s_reply_order_build);
    return s_reply_order;
}

const sf_field_t *const *
sf_reply_node_fields (void)
{
    pthread_once (&s_reply_once, s_reply_order_build);
    return s_reply_node_order;
}

const char *
sf_field_reply_key (const sf_field_t *f, size_t *group_len)
{
    const char *dot = strchr (f->reply_path, '.');
    *group_len = dot ? (size_t) (dot - f->reply_path) : 0;
    return dot ? dot + 1 : f->reply_path;
}

//  ---------------------------------------------------------------------------
//  Sort keys

#define S_SNAME_NOSORT
#define S_SNAME_SORT(id, name, how)     [SF_SORT_##id] = name,
#define S_SNAME(g, m, key, k, b, w, su, s, rp, cl, d, doc) S_SNAME_##s
static const char *s_sort_names [SF_SORT_COUNT] = { SF_STREAM_FIELDS (S_SNAME) };

#define S_SBY_NOSORT
#define S_SBY_SORT(id, name, how)       [SF_SORT_##id] = SF_SORT_BY_##how,
#define S_SBY(g, m, key, k, b, w, su, s, rp, cl, d, doc) S_SBY_##s
static const sf_sort_by_t s_sort_by [SF_SORT_COUNT] = { SF_STREAM_FIELDS (S_SBY) };

const char *
sf_sort_name (int key)
{
    return key >= 0 && key < SF_SORT_COUNT ? s_sort_names [key] : "unknown";
}

sf_sort_by_t
sf_sort_by (int key)
{
    return key >= 0 && key < SF_SORT_COUNT ? s_sort_by [key] : SF_SORT_BY_NAME;
}

const sf_field_t *
sf_sort_field (int key)
{
    for (const sf_field_t *f = sf_stream_fields; f->key; f++)
        if (f->sort == key)
            return f;
    return NULL;
}

//  The summary member of each NUM, AGE and PAIR key; PAIR adds the next
//  summary line as its low 32 bits
#define S_SV_NUM(m)     (int64_t) sum->m
#define S_SV_AGE(m)     (sum->m && active ? now_s - (int64_t) sum->m : -1)
#define S_SV_PAIR(m)    ((int64_t) (((uint64_t) sum->m << 32) | s_pair_low (sum, &sum->m)))
//  The 32-bit summary member right after p (reconnect_total after attempts)
static uint32_t
s_pair_low (const sf_summary_t *sum, const void *p)
{
    uint32_t v = 0;
    const char *next = (const char *) p + sizeof (uint32_t);
    if (next + sizeof (v) <= (const char *) sum + sizeof (*sum))
        memcpy (&v, next, sizeof (v));
    return v;
}

//  Expands "case SF_SORT_X: return <value of member m>" for the sortable
//  summary lines
int64_t
sf_summary_sort_value (const sf_summary_t *sum, int key, int64_t now_s, bool active)
{
    switch (key) {
#define S_SVCASE_NOSORT(su, m)
#define S_SVCASE_SORT(id, name, how)    case SF_SORT_##id: return S_SVX_##how
#define S_SVX_NUM(su, m)    S_SVM_##su (S_SV_NUM, m)
#define S_SVX_AGE(su, m)    S_SVM_##su (S_SV_AGE, m)
#define S_SVX_PAIR(su, m)   S_SVM_##su (S_SV_PAIR, m)
#define S_SVX_NAME(su, m)   0
#define S_SVX_NODE(su, m)   0
#define S_SVX_VIEW(su, m)   0
#define S_SVX_TEXT(su, m)   0
#define S_SVM_SUM(fn, m)    fn (m)
#define S_SVM_NOSUM(fn, m)  0
#define S_SVCASE(g, m, key, k, b, w, su, s, rp, cl, d, doc) S_SVCASE_##s (su, m);
        SF_STREAM_FIELDS (S_SVCASE)
        default: return 0;
    }
}

//  ---------------------------------------------------------------------------
//  The stored summary's format id

static uint32_t s_magic;
static pthread_once_t s_magic_once = PTHREAD_ONCE_INIT;

static void
s_magic_build (void)
{
    uint32_t h = 2166136261u;
    char layout [64];
    snprintf (layout, sizeof (layout), "%zu;", sizeof (sf_summary_t));
    for (const char *p = layout; *p; p++)
        h = (h ^ (uint8_t) *p) * 16777619u;
    for (const sf_field_t *f = sf_stream_fields; f->key; f++)
        if (f->where & SF_F_SUMMARY) {
            snprintf (layout, sizeof (layout), "%s:%d;", f->key, f->kind);
            for (const char *p = layout; *p; p++)
                h = (h ^ (uint8_t) *p) * 16777619u;
        }
    uint32_t low = (h ^ (h >> 16)) & 0xffff;
    if (low == (SF_SUMMARY_MAGIC_V1 & 0xffff))
        low ^= 1;
    s_magic = 0x53460000u | low;
}

uint32_t
sf_summary_magic (void)
{
    pthread_once (&s_magic_once, s_magic_build);
    return s_magic;
}

//  ---------------------------------------------------------------------------
//  docs/protocol.md

//  What the nested maps are, for their row in the top-level table
static const struct { const char *group, *doc; } s_groups [] = {
    { "source", "the stream's source: see the `source` map below" },
    { "dvr", "the archive: see the `dvr` map below" },
    { "media", "the picture and sound: see the `media` map below" },
    { "usage", "the node's usage: see the `usage` map below. In a node record from an agent "
               "it is ignored: usage travels in heartbeats" },
};

static void
s_md_in (FILE *out, const sf_field_t *f)
{
    const char *sep = "";
    if (f->where & SF_F_ROW) { fprintf (out, "%slisting", sep); sep = ", "; }
    if (f->where & (SF_F_ROW | SF_F_FULL)) { fprintf (out, "%sfull", sep); sep = ", "; }
    if (f->where & SF_F_DERIVED) { fprintf (out, "%sreplies (derived)", sep); sep = ", "; }
    if (f->where & SF_F_SUMMARY) { fprintf (out, "%ssummary", sep); sep = ", "; }
    if (f->sort >= 0) fprintf (out, "%ssort `%s`", sep, sf_sort_name (f->sort));
}

//  The lines of one group (NULL: the top level, with one row per nested map)
static void
s_md_table (FILE *out, const sf_field_t *table, const char *group)
{
    fprintf (out, "| field | type | default | in | meaning |\n|---|---|---|---|---|\n");
    const char *last_group = NULL;
    for (const sf_field_t *f = table; f->key; f++) {
        if (!group && f->group) {
            if (!last_group || strcmp (last_group, f->group)) {
                const char *doc = "";
                for (size_t i = 0; i < sizeof (s_groups) / sizeof (s_groups [0]); i++)
                    if (strcmp (s_groups [i].group, f->group) == 0)
                        doc = s_groups [i].doc;
                fprintf (out, "| `%s` | map | | ", f->group);
                //  A map is written in the forms any of its lines is
                uint16_t where = 0;
                for (const sf_field_t *g = f; g->key && g->group && !strcmp (g->group, f->group); g++)
                    where |= g->where & (SF_F_ROW | SF_F_FULL | SF_F_DERIVED);
                sf_field_t any = { .where = where, .sort = -1 };
                s_md_in (out, &any);
                fprintf (out, " | %s |\n", doc);
            }
            last_group = f->group;
            continue;
        }
        if (group ? !f->group || strcmp (f->group, group) : f->group != NULL)
            continue;
        char kind [96];
        fprintf (out, "| `%s` | %s%s | %s | ", f->key, sf_kind_doc (f, kind, sizeof (kind)),
                 f->where & SF_F_REQUIRED ? ", **required**, non-empty" : "", f->dflt);
        s_md_in (out, f);
        fprintf (out, " | %s |\n", f->doc);
    }
}

static void
s_md_record (FILE *out, const sf_field_t *table)
{
    s_md_table (out, table, NULL);
    const char *last = NULL;
    for (const sf_field_t *f = table; f->key; f++) {
        if (!f->group || (last && strcmp (last, f->group) == 0))
            continue;
        last = f->group;
        fprintf (out, "\n`%s` map:\n\n", f->group);
        s_md_table (out, table, f->group);
    }
}

void
sf_fields_markdown (FILE *out, const char *which)
{
    fprintf (out, "<!-- generated from include/sf_fields.h by tools/gen-fields.sh --update: "
             "edit the table there, not this text -->\n\n");
    if (strcmp (which, "node") == 0) {
        s_md_record (out, sf_node_fields);
        return;
    }
    s_md_record (out, sf_stream_fields);
    fprintf (out, "\n\"in\" names the forms a field is written in: `listing`, the row form of a "
             "list reply; `full`, the form agents send, the controller stores and detail "
             "replies use; `replies (derived)`, set by the controller in query replies and "
             "never taken from an agent. `summary`: kept in the stored summary that filters and sorts "
             "read; `sort`: the listing's sort key. A listing row holds only");
    for (const sf_field_t *f = sf_stream_fields; f->key; f++)
        if (f->where & (SF_F_ROW | SF_F_DERIVED))
            fprintf (out, " `%s`", f->path);
    fprintf (out, ".\n");
}

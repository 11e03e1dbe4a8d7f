/*  query.c — list, detail, nodes and gauges (include/sf_query.h). With the
    read model attached (the controller always attaches it) a listing asks
    the model for the count and the page's keys and decodes only the page's
    records from LMDB; node counts and gauges come from the model's counters.
    Without a model (tools, tests), and for the source-url sort, a listing
    scans the fixed-size summaries, filters and sorts references into the
    map, and decodes only the page it returns.
*/
#include "sf_query.h"
#include "sf_fleet.h"
#include "sf_log.h"
#include "sf_alloc.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  A matching placement, pointing into the map (valid during the read txn)
typedef struct {
    const char *key;
    uint32_t key_size;
    uint8_t node_len;
    uint8_t status;
    int64_t value;              //  numeric sort value
    char *text;                 //  a TEXT sort key's value (source url)
} s_cand_t;

typedef struct {
    sf_query_ctx_t *ctx;
    sf_read_t *r;
    const sf_filter_t *filter;
    const sf_sort_t *sort;
    int64_t now_ms;
    int64_t now_s;
    s_cand_t *cands;
    size_t count, cap;
    //  Liveness of the node seen last: scans go node by node
    char last_node [SF_NODE_MAX + 1];
    int last_state;
} s_scan_t;

static int
s_node_state (s_scan_t *sc, const char *node)
{
    if (strcmp (sc->last_node, node) != 0) {
        snprintf (sc->last_node, sizeof (sc->last_node), "%s", node);
        sc->last_state = sf_live_state (sc->ctx->live, node, sf_mono_ms (), NULL);
    }
    return sc->last_state;
}

//  The text of a TEXT sort key's field (the source url), from the record
static char *
s_record_text (const sf_row_t *row, const sf_field_t *f)
{
    sf_stream_t s;
    sf_stream_init (&s);
    char *text = NULL;
    if (f && f->kind == SF_K_TEXT && sf_row_decode (row, &s) == 0) {
        const char *t;
        memcpy (&t, (const char *) &s + f->offset, sizeof (t));
        if (t)
            text = sf_xstrdup (t);
    }
    sf_stream_clear (&s);
    return text ? text : sf_xstrdup ("");
}

static int
s_collect (const sf_row_t *row, void *arg)
{
    s_scan_t *sc = arg;
    sf_derived_t d;
    int state = s_node_state (sc, row->node);
    sf_fleet_derive (sc->ctx, sc->r, row, state, sc->now_ms, &d);
    if (!sf_filter_match_fields (sc->filter, row->node, d.type, d.status,
                                 (d.transfer ? SF_MARK_TRANSFER : 0) | (d.conflict ? SF_MARK_CONFLICT : 0),
                                 row->sum.functions)
    ||  !sf_filter_match_name (sc->filter, row->name))
        return 0;
    if (sc->count == sc->cap) {
        size_t cap = sc->cap ? sc->cap * 2 : 1024;
        sc->cands = sf_xreallocarray (sc->cands, cap, sizeof (s_cand_t));
        sc->cap = cap;
    }
    s_cand_t *c = &sc->cands [sc->count++];
    c->key = row->key;
    c->key_size = (uint32_t) row->key_size;
    c->node_len = (uint8_t) strlen (row->node);
    c->status = d.status;
    c->text = NULL;
    //  The sort value, as the field table says (sf_fields.h, SORT lines)
    int key = sc->sort->key;
    switch (sf_sort_by (key)) {
        case SF_SORT_BY_NUM: case SF_SORT_BY_AGE: case SF_SORT_BY_PAIR:
            c->value = sf_summary_sort_value (&row->sum, key, sc->now_s,
                                              d.status == SF_STATUS_ACTIVE);
            break;
        case SF_SORT_BY_VIEW:
            c->value = sf_sort_field (key)->kind == SF_K_STATUS ? d.status : d.type;
            break;
        case SF_SORT_BY_TEXT:
            c->text = s_record_text (row, sf_sort_field (key));
            break;
        default: c->value = 0;
    }
    return 0;
}

static int
s_cmp_bytes (const char *a, size_t la, const char *b, size_t lb)
{
    int c = memcmp (a, b, la < lb ? la : lb);
    return c ? c : (la < lb ? -1 : la > lb);
}

//  qsort has no context argument: the sort spec of the running query
static __thread const sf_sort_t *s_sort;

static int
s_cand_cmp (const void *pa, const void *pb)
{
    const s_cand_t *a = pa, *b = pb;
    const char *na = a->key + a->node_len + 1, *nb = b->key + b->node_len + 1;
    size_t nla = a->key_size - a->node_len - 1, nlb = b->key_size - b->node_len - 1;
    int c = 0;
    switch (sf_sort_by (s_sort->key)) {
        case SF_SORT_BY_NAME: c = s_cmp_bytes (na, nla, nb, nlb); break;
        case SF_SORT_BY_NODE: c = s_cmp_bytes (a->key, a->node_len, b->key, b->node_len); break;
        case SF_SORT_BY_TEXT: c = strcmp (a->text, b->text); break;
        default: c = a->value < b->value ? -1 : a->value > b->value;
    }
    if (c == 0)
        c = s_cmp_bytes (na, nla, nb, nlb);
    if (c == 0)
        c = s_cmp_bytes (a->key, a->node_len, b->key, b->node_len);
    //  Descending is the exact reverse, ties included, as the name index
    //  walked backwards and the read model order them (keyset cursors need
    //  one total order)
    return s_sort->desc ? -c : c;
}

//  Decodes one placement and applies the derived view, liveness as at
//  mono_ms (the moment the listing's order was taken)
static int
s_load_at (sf_query_ctx_t *ctx, sf_read_t *r, const sf_row_t *row, int64_t now_ms, int64_t mono_ms,
           sf_stream_t *s)
{
    if (sf_row_decode (row, s))
        return -1;
    int state = sf_live_state (ctx->live, row->node, mono_ms, NULL);
    sf_derived_t d;
    sf_fleet_derive (ctx, r, row, state, now_ms, &d);
    s->type = d.type;
    s->status = d.status;
    s->transfer = d.transfer;
    s->conflict = d.conflict;
    snprintf (s->migrated_to, sizeof (s->migrated_to), "%s", d.migrated_to);
    return 0;
}

static int
s_load (sf_query_ctx_t *ctx, sf_read_t *r, const sf_row_t *row, int64_t now_ms, sf_stream_t *s)
{
    return s_load_at (ctx, r, row, now_ms, sf_mono_ms (), s);
}

typedef struct {
    sf_query_ctx_t *ctx;
    sf_read_t *r;
    sf_list_result_t *out;
    size_t limit;
    int64_t now_ms;
} s_page_t;

static int
s_page_row (const sf_row_t *row, void *arg)
{
    s_page_t *p = arg;
    if (p->out->nrows >= p->limit)
        return 1;
    sf_stream_t *s = &p->out->rows [p->out->nrows];
    sf_stream_init (s);
    if (s_load (p->ctx, p->r, row, p->now_ms, s) == 0)
        p->out->nrows++;
    return p->out->nrows >= p->limit;
}

//  The listing with no filter in name order — the default view — needs
//  neither a scan nor a sort: the count is the store's, the page is read off
//  the name index
static bool
s_unfiltered_by_name (const sf_filter_t *f, const sf_sort_t *sort)
{
    return !f->types && !f->states && !f->functions && !f->name [0] && !f->node [0]
        && sort->key == SF_SORT_NAME;
}

//  The listing through the read model: the model gives the count and the
//  page's keys; only the page's records are read from LMDB, in a read
//  transaction begun after the model was left, so at a commit that may be
//  newer than the model's. A page whose records changed in between (a row
//  updated or deleted) would show values in an order that is not theirs,
//  or miss a row: such a page is listed again, and after S_LIST_TRIES the
//  listing is the scan of one read transaction (returns 1; the caller
//  scans). A page after a cursor has no scan: its last try is answered as
//  it is, a deleted row left out. The clock is one for the order, the
//  derived status and the answer's uptimes (out->now_ms).
#define S_LIST_TRIES 4

static int s_list_scan (sf_query_ctx_t *ctx, const sf_filter_t *filter, const sf_sort_t *sort,
                        size_t offset, size_t limit, bool cursor, sf_list_result_t *out,
                        char *err, size_t errlen);

static int
s_list_model (sf_query_ctx_t *ctx, const sf_filter_t *filter, const sf_sort_t *sort,
              const char *after, size_t offset, size_t limit, sf_list_result_t *out,
              char *err, size_t errlen)
{
    for (int attempt = 1; ; attempt++) {
        memset (out, 0, sizeof (*out));
        int64_t now_ms = sf_now_ms ();
        sf_readmodel_clock_t clock = { ctx->live, sf_mono_ms (), now_ms / 1000 };
        sf_readmodel_page_t page;
        if (sf_readmodel_list (ctx->model, filter, sort, after, offset, limit, &clock, &page,
                               err, errlen))
            return -1;
        out->total = page.total;
        out->now_ms = now_ms;
        snprintf (out->next, sizeof (out->next), "%s", page.next);
        if (page.count == 0) {
            sf_readmodel_page_clear (&page);
            return 0;
        }
        out->rows = sf_xcalloc (page.count, sizeof (sf_stream_t));
        sf_read_t r;
        if (sf_store_read_begin (ctx->store, &r)) {
            sf_readmodel_page_clear (&page);
            free (out->rows);
            out->rows = NULL;
            snprintf (err, errlen, "storage is unavailable (see the controller's log)");
            return -1;
        }
        bool moved = false;
        for (size_t i = 0; i < page.count; i++) {
            sf_row_t row;
            sf_stream_init (&out->rows [out->nrows]);
            if (sf_store_get_row (&r, page.keys [i].node, page.keys [i].name, &row) != 0) {
                moved = true;
                continue;
            }
            moved |= !sf_readmodel_key_current (&page.keys [i], &row.sum);
            if (page.keys [i].url_hash) {
                //  The source sort: the stored url must be the one ordered
                char url [SF_URL_MAX + 1];
                sf_packed_url (row.packed, row.packed_size, url, SF_URL_MAX);
                moved |= !sf_readmodel_key_url_current (&page.keys [i], url);
            }
            if (s_load_at (ctx, &r, &row, now_ms, clock.mono_ms, &out->rows [out->nrows]) == 0)
                out->nrows++;
        }
        sf_store_read_end (&r);
        sf_readmodel_page_clear (&page);
        if (!moved || (attempt >= S_LIST_TRIES && after && *after))
            return 0;
        sf_list_result_clear (out);
        if (attempt >= S_LIST_TRIES)
            return 1;
    }
}

int
sf_query_list (sf_query_ctx_t *ctx, const sf_filter_t *filter, const sf_sort_t *sort,
               size_t offset, size_t limit, sf_list_result_t *out, char *err, size_t errlen)
{
    return sf_query_list_after (ctx, filter, sort, NULL, offset, limit, out, err, errlen);
}

int
sf_query_list_after (sf_query_ctx_t *ctx, const sf_filter_t *filter, const sf_sort_t *sort,
                     const char *after, size_t offset, size_t limit, sf_list_result_t *out,
                     char *err, size_t errlen)
{
    memset (out, 0, sizeof (*out));
    //  Every sortable column is in the read model
    if (ctx->model) {
        int rc = s_list_model (ctx, filter, sort, after, offset, limit, out, err, errlen);
        if (rc <= 0)
            return rc;
        memset (out, 0, sizeof (*out));   //  the page kept moving: one scan
        return s_list_scan (ctx, filter, sort, offset, limit, true, out, err, errlen);
    }
    if (after && *after) {
        snprintf (err, errlen, "cursors need the read model; use offsets");
        return -1;
    }
    return s_list_scan (ctx, filter, sort, offset, limit, false, out, err, errlen);
}

//  The cursor of the model's order after the page's last row, read in the
//  page's transaction (a scan standing in for the model hands one out too)
static void
s_scan_cursor (sf_read_t *r, const sf_sort_t *sort, size_t offset, size_t limit,
               sf_list_result_t *out)
{
    if (!limit || !out->nrows || offset + out->nrows >= out->total)
        return;
    const sf_stream_t *last = &out->rows [out->nrows - 1];
    sf_row_t row;
    char url [SF_URL_MAX + 1];
    if (sf_store_get_row (r, last->node, last->name, &row) == 0) {
        sf_packed_url (row.packed, row.packed_size, url, SF_URL_MAX);
        sf_readmodel_cursor_of (sort, last->node, last->name, &row.sum, url,
                                last->status == SF_STATUS_OFFLINE, out->next, sizeof (out->next));
    }
}

//  The listing from one read transaction: without the read model, and when
//  the model's page kept moving (cursor: then with the model's cursor for
//  the next page)
static int
s_list_scan (sf_query_ctx_t *ctx, const sf_filter_t *filter, const sf_sort_t *sort,
             size_t offset, size_t limit, bool cursor, sf_list_result_t *out,
             char *err, size_t errlen)
{
    sf_read_t r;
    if (sf_store_read_begin (ctx->store, &r)) {
        snprintf (err, errlen, "storage is unavailable (see the controller's log)");
        return -1;
    }
    if (s_unfiltered_by_name (filter, sort)) {
        size_t total = 0;
        sf_store_count_streams (&r, &total);
        out->now_ms = sf_now_ms ();
        out->total = total;
        if (limit && offset < total) {
            size_t n = total - offset < limit ? total - offset : limit;
            out->rows = sf_xcalloc (n, sizeof (sf_stream_t));
            s_page_t p = { ctx, &r, out, n, out->now_ms };
            sf_store_scan_by_name (&r, sort->desc, offset, s_page_row, &p);
        }
        if (cursor)
            s_scan_cursor (&r, sort, offset, limit, out);
        sf_store_read_end (&r);
        return 0;
    }
    s_scan_t sc = { .ctx = ctx, .r = &r, .filter = filter, .sort = sort,
                    .now_ms = sf_now_ms (), .last_state = -1 };
    sc.now_s = sc.now_ms / 1000;
    out->now_ms = sc.now_ms;
    sf_store_scan_streams (&r, filter->node [0] ? filter->node : NULL, s_collect, &sc);
    out->total = sc.count;
    s_sort = sort;
    //  The key order is name order within a node: a name sort over one node
    //  is already sorted, everything else is sorted here.
    if (sc.count > 1)
        qsort (sc.cands, sc.count, sizeof (s_cand_t), s_cand_cmp);
    if (offset < sc.count && limit) {
        size_t n = sc.count - offset < limit ? sc.count - offset : limit;
        out->rows = sf_xcalloc (n, sizeof (sf_stream_t));
        for (size_t i = 0; i < n; i++) {
            const s_cand_t *c = &sc.cands [offset + i];
            char node [SF_NODE_MAX + 1], name [SF_NAME_MAX + 1];
            memcpy (node, c->key, c->node_len);
            node [c->node_len] = 0;
            size_t nl = c->key_size - c->node_len - 1;
            memcpy (name, c->key + c->node_len + 1, nl);
            name [nl] = 0;
            sf_row_t row;
            sf_stream_init (&out->rows [out->nrows]);
            if (sf_store_get_row (&r, node, name, &row) == 0
            &&  s_load (ctx, &r, &row, sc.now_ms, &out->rows [out->nrows]) == 0)
                out->nrows++;
        }
    }
    for (size_t i = 0; i < sc.count; i++)
        free (sc.cands [i].text);
    free (sc.cands);
    if (cursor)
        s_scan_cursor (&r, sort, offset, limit, out);
    sf_store_read_end (&r);
    return 0;
}

void
sf_list_result_clear (sf_list_result_t *self)
{
    for (size_t i = 0; i < self->nrows; i++)
        sf_stream_clear (&self->rows [i]);
    free (self->rows);
    memset (self, 0, sizeof (*self));
}

typedef struct {
    sf_query_ctx_t *ctx;
    sf_read_t *r;
    const char *node;
    sf_detail_result_t *out;
    size_t cap;
    int64_t now_ms;
} s_detail_t;

static int
s_detail_row (const sf_row_t *row, void *arg)
{
    s_detail_t *d = arg;
    if (d->node && strcmp (d->node, row->node) != 0)
        return 0;
    sf_detail_result_t *out = d->out;
    if (out->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4;
        out->placements = sf_xreallocarray (out->placements, cap, sizeof (sf_stream_t));
        out->nodes = sf_xreallocarray (out->nodes, cap, sizeof (sf_node_t));
        d->cap = cap;
    }
    sf_stream_t *s = &out->placements [out->count];
    sf_node_t *n = &out->nodes [out->count];
    sf_stream_init (s);
    if (s_load (d->ctx, d->r, row, d->now_ms, s))
        return 0;
    if (sf_store_get_node (d->r, row->node, n))
        sf_node_init (n), snprintf (n->id, sizeof (n->id), "%s", row->node);
    n->liveness = (uint8_t) sf_live_state (d->ctx->live, row->node, sf_mono_ms (),
                                           &n->heartbeat_age_ms);
    out->count++;
    return 0;
}

int
sf_query_detail (sf_query_ctx_t *ctx, const char *name, const char *node,
                 sf_detail_result_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof (*out));
    sf_read_t r;
    if (sf_store_read_begin (ctx->store, &r)) {
        snprintf (err, errlen, "storage is unavailable (see the controller's log)");
        return -1;
    }
    s_detail_t d = { .ctx = ctx, .r = &r, .node = node && *node ? node : NULL, .out = out,
                     .now_ms = sf_now_ms () };
    sf_store_scan_name (&r, name, s_detail_row, &d);
    sf_store_read_end (&r);
    if (out->count == 0) {
        if (d.node)
            snprintf (err, errlen, "no stream named '%.128s' on node '%.64s'", name, node);
        else
            snprintf (err, errlen, "no stream named '%.128s' in the fleet", name);
        return -1;
    }
    return 0;
}

void
sf_detail_result_clear (sf_detail_result_t *self)
{
    for (size_t i = 0; i < self->count; i++)
        sf_stream_clear (&self->placements [i]);
    free (self->placements);
    free (self->nodes);
    memset (self, 0, sizeof (*self));
}

typedef struct {
    sf_node_t *nodes;
    size_t count, cap;
} s_nodes_t;

static int
s_node_add (const sf_node_t *n, void *arg)
{
    s_nodes_t *ns = arg;
    if (ns->count == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 16;
        ns->nodes = sf_xreallocarray (ns->nodes, cap, sizeof (sf_node_t));
        ns->cap = cap;
    }
    ns->nodes [ns->count++] = *n;
    return 0;
}

typedef struct {
    sf_node_t *node;
} s_count_t;

static int
s_count_row (const sf_row_t *row, void *arg)
{
    sf_node_t *n = arg;
    n->nstreams++;
    //  Derived state (controller/fleet.c): a placement the stream left is
    //  migrated, not primary
    if (row->sum.type == SF_TYPE_PRIMARY && !(row->sum.flags & SF_SUM_MIGRATED))
        n->nprimary++;
    if (row->sum.status == SF_STATUS_ACTIVE)
        n->nactive++;
    return 0;
}

typedef struct {
    s_scan_t *sc;
    sf_readmodel_gauges_t *out;
} s_gauge_scan_t;

static int
s_gauge_row (const sf_row_t *row, void *arg)
{
    s_gauge_scan_t *g = arg;
    sf_derived_t d;
    sf_fleet_derive (g->sc->ctx, g->sc->r, row, s_node_state (g->sc, row->node), g->sc->now_ms, &d);
    g->out->total++;
    g->out->by_type [d.type < SF_TYPE_COUNT ? d.type : SF_TYPE_SECONDARY]++;
    g->out->by_status [d.status < SF_STATUS_COUNT ? d.status : SF_STATUS_ERROR]++;
    g->out->transfer += d.transfer;
    return 0;
}

int
sf_query_nodes (sf_query_ctx_t *ctx, sf_node_t **nodes, size_t *count, char *err, size_t errlen)
{
    *nodes = NULL;
    *count = 0;
    sf_read_t r;
    if (sf_store_read_begin (ctx->store, &r)) {
        snprintf (err, errlen, "storage is unavailable (see the controller's log)");
        return -1;
    }
    s_nodes_t ns = { 0 };
    sf_store_scan_nodes (&r, s_node_add, &ns);
    int64_t now = sf_mono_ms ();
    for (size_t i = 0; i < ns.count; i++) {
        sf_node_t *n = &ns.nodes [i];
        n->liveness = (uint8_t) sf_live_state (ctx->live, n->id, now, &n->heartbeat_age_ms);
        n->nstreams = n->nprimary = n->nactive = 0;
        //  The read model keeps every node's counts: O(nodes), not O(streams)
        if (ctx->model)
            sf_readmodel_node_counts (ctx->model, n->id, n->liveness == SF_LIVE_DOWN,
                                      &n->nstreams, &n->nprimary, &n->nactive);
        else
            sf_store_scan_streams (&r, n->id, s_count_row, n);
        if (n->liveness == SF_LIVE_DOWN)
            n->nactive = 0;
    }
    sf_store_read_end (&r);
    *nodes = ns.nodes;
    *count = ns.count;
    return 0;
}

int
sf_query_gauges (sf_query_ctx_t *ctx, sf_readmodel_gauges_t *out, char *err, size_t errlen)
{
    memset (out, 0, sizeof (*out));
    if (ctx->model) {
        sf_readmodel_clock_t clock = { ctx->live, sf_mono_ms (), sf_now_ms () / 1000 };
        sf_readmodel_gauges (ctx->model, &clock, out);
        return 0;
    }
    //  Without a model (tools, tests): one scan
    sf_read_t r;
    if (sf_store_read_begin (ctx->store, &r)) {
        snprintf (err, errlen, "storage is unavailable (see the controller's log)");
        return -1;
    }
    s_scan_t sc = { .ctx = ctx, .r = &r, .last_state = -1, .now_ms = sf_now_ms () };
    s_gauge_scan_t g = { &sc, out };
    sf_store_scan_streams (&r, NULL, s_gauge_row, &g);
    sf_store_read_end (&r);
    return 0;
}

/*  cmd_nodes.c — `streamfleet nodes`: every media server, its liveness,
    heartbeat age, and limits against usage.
*/
#include "sf_cli.h"
#include <string.h>

//  The node entity's value at a dotted path ("counts.primary"), or NULL
static const msgpack_object *
s_get (const msgpack_object *row, const char *path)
{
    const char *dot = path ? strchr (path, '.') : NULL;
    if (!path)
        return NULL;
    if (!dot)
        return sf_map_get (row, path);
    char group [32];
    size_t len = (size_t) (dot - path);
    if (len >= sizeof (group))
        return NULL;
    memcpy (group, path, len);
    group [len] = 0;
    const msgpack_object *g = sf_map_get (row, group);
    return g && g->type == MSGPACK_OBJECT_MAP ? sf_map_get (g, dot + 1) : NULL;
}

//  The value at path inside its parent map, read by one of sf_map_*: absent
//  or null leaves the default
static const msgpack_object *
s_parent (const msgpack_object *row, const char *path, const char **key)
{
    const char *dot = path ? strrchr (path, '.') : NULL;
    *key = dot ? dot + 1 : path;
    if (!dot)
        return row;
    char group [32];
    size_t len = (size_t) (dot - path);
    if (len >= sizeof (group))
        return NULL;
    memcpy (group, path, len);
    group [len] = 0;
    const msgpack_object *g = s_get (row, group);
    return g && g->type == MSGPACK_OBJECT_MAP ? g : NULL;
}

static uint32_t
s_u32 (const msgpack_object *row, const char *path)
{
    const char *key;
    const msgpack_object *m = s_parent (row, path, &key);
    uint32_t v = 0;
    if (m)
        sf_map_u32 (m, key, &v, NULL);
    return v;
}

static uint64_t
s_u64 (const msgpack_object *row, const char *path)
{
    const char *key;
    const msgpack_object *m = s_parent (row, path, &key);
    uint64_t v = 0;
    if (m)
        sf_map_u64 (m, key, &v, NULL);
    return v;
}

static void
s_str (const msgpack_object *row, const char *path, char *buf, size_t max)
{
    const char *key;
    const msgpack_object *m = s_parent (row, path, &key);
    buf [0] = 0;
    if (m)
        sf_map_str (m, key, buf, max, NULL);
}

//  One formatter per FMT (sf_fields.h, SF_NODE_COLS): the cell's text
typedef void (s_cell_fn) (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size);

static void
s_cell_word (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    s_str (row, col->path, cell, size > SF_NODE_MAX + 1 ? SF_NODE_MAX : size - 1);
}

static void
s_cell_liveness (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    s_str (row, col->path, cell, size > 16 ? 15 : size - 1);
}

static void
s_cell_hbage (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    const char *key;
    const msgpack_object *m = s_parent (row, col->path, &key);
    int64_t age = -1;
    if (m)
        sf_map_i64 (m, key, &age, NULL);
    if (age < 0)
        snprintf (cell, size, "never");
    else
        snprintf (cell, size, "%.1fs", age / 1000.0);
}

static void
s_cell_int (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    snprintf (cell, size, "%u", s_u32 (row, col->path));
}

static void
s_cell_pct (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    const char *key;
    const msgpack_object *m = s_parent (row, col->path, &key);
    double v = 0;
    if (m)
        sf_map_double (m, key, &v, NULL);
    snprintf (cell, size, "%.1f%%", v);
}

//  value/limit, "!" over it; value/- without a limit (null)
static void
s_cell_limit (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    uint32_t v = s_u32 (row, col->path), max = s_u32 (row, col->with);
    if (max)
        snprintf (cell, size, "%u/%u%s", v, max, v > max ? "!" : "");
    else
        snprintf (cell, size, "%u/-", v);
}

//  A LIMIT, then where the figure comes from ("interface eth0" as eth0)
static void
s_cell_bandwidth (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    char limit [32], bw [SF_SHORT_MAX + 1];
    s_cell_limit (row, col, limit, sizeof (limit));
    s_str (row, "usage.bandwidth_source", bw, SF_SHORT_MAX);
    const char *from = !strncmp (bw, "interface ", 10) ? bw + 10 : bw;
    snprintf (cell, size, "%s %.12s", limit, from);
}

static void
s_cell_memory (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    char used [32], total [32];
    snprintf (cell, size, "%s/%s", sf_fmt_bytes (s_u64 (row, col->path), used, sizeof (used)),
              sf_fmt_bytes (s_u64 (row, col->with), total, sizeof (total)));
}

//  "/ 50%, /data 91%!": a disk at or above 80% is marked
static void
s_cell_disks (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    char disks [512] = "";
    const msgpack_object *d = s_get (row, col->path);
    for (uint32_t k = 0; d && d->type == MSGPACK_OBJECT_ARRAY && k < d->via.array.size; k++) {
        char mount [SF_ADDR_MAX + 1] = "";
        uint64_t fr = 0, tot = 0;
        sf_map_str (&d->via.array.ptr [k], "mount", mount, SF_ADDR_MAX, NULL);
        sf_map_u64 (&d->via.array.ptr [k], "free_bytes", &fr, NULL);
        sf_map_u64 (&d->via.array.ptr [k], "total_bytes", &tot, NULL);
        int pct = tot ? (int) ((tot - fr) * 100 / tot) : 0;
        size_t len = strlen (disks);
        snprintf (disks + len, sizeof (disks) - len, "%s%s %d%%%s", len ? ", " : "", mount, pct,
                  pct >= 80 ? "!" : "");
    }
    snprintf (cell, size, "%s", disks);
}

static void
s_cell_stale (const msgpack_object *row, const sf_node_col_t *col, char *cell, size_t size)
{
    bool stale = false;
    const char *key;
    const msgpack_object *m = s_parent (row, col->path, &key);
    if (m)
        sf_map_bool (m, key, &stale, NULL);
    snprintf (cell, size, "%s", stale ? "  [stale: source down, last good state kept]" : "");
}

static const struct {
    s_cell_fn *fn;
    bool left;                  //  left-aligned (text), else right (figures)
} s_fmts [SF_NF_COUNT] = {
    [SF_NF_WORD] = { s_cell_word, true },
    [SF_NF_LIVENESS] = { s_cell_liveness, true },
    [SF_NF_HBAGE] = { s_cell_hbage, false },
    [SF_NF_INT] = { s_cell_int, false },
    [SF_NF_PCT] = { s_cell_pct, false },
    [SF_NF_LIMIT] = { s_cell_limit, false },
    [SF_NF_BANDWIDTH] = { s_cell_bandwidth, false },
    [SF_NF_MEMORY] = { s_cell_memory, false },
    [SF_NF_DISKS] = { s_cell_disks, true },
    [SF_NF_STALE] = { s_cell_stale, true },
};

//  The separator before column c: one space, two before the elastic last
//  column (width 0), none before a mark (header "") or the first column
static const char *
s_sep (const sf_node_col_t *col, bool first)
{
    if (first || !*col->header)
        return "";
    return col->width ? " " : "  ";
}

//  The nodes table of a reply's "nodes" array, ended by the count line: its
//  columns are the field table's (sf_fields.h, SF_NODE_COLS)
void
sf_nodes_table (const sf_cli_t *cli, const msgpack_object *nodes, FILE *out)
{
    uint32_t n = nodes && nodes->type == MSGPACK_OBJECT_ARRAY ? nodes->via.array.size : 0;
    for (const sf_node_col_t *col = sf_node_cols; col->header; col++) {
        if (!*col->header)
            continue;
        bool left = s_fmts [col->fmt].left;
        fprintf (out, "%s%*s", s_sep (col, col == sf_node_cols),
                 col->width ? (left ? -col->width : col->width) : 0, col->header);
    }
    fprintf (out, "\n");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *o = &nodes->via.array.ptr [i];
        for (const sf_node_col_t *col = sf_node_cols; col->header; col++) {
            char cell [600];
            s_fmts [col->fmt].fn (o, col, cell, sizeof (cell));
            bool left = s_fmts [col->fmt].left;
            int width = col->width ? (left ? -col->width : col->width) : 0;
            const char *sep = s_sep (col, col == sf_node_cols);
            if (col->fmt == SF_NF_LIVENESS)
                fprintf (out, "%s%s%*s%s", sep, sf_color (cli, cell), width, cell, sf_color_reset (cli));
            else
                fprintf (out, "%s%*s", sep, width, cell);
        }
        fprintf (out, "\n");
    }
    fprintf (out, "%u node%s\n", n, n == 1 ? "" : "s");
}

int
sf_cmd_nodes (sf_cli_t *cli, int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp (argv [1], "--help")) {
            printf ("usage: streamfleet nodes [-o table|wide|json]\n\n"
                    "Lists nodes with liveness (alive, suspect, down), heartbeat age, primary\n"
                    "streams against their maximum, incoming kbit/s against the maximum (and\n"
                    "where the figure comes from: the named interface's counters, or the sum\n"
                    "of the node's stream bitrates), CPU,\n"
                    "memory, and disks; a disk at or above 80%% is marked '!'. A node whose\n"
                    "agent cannot read its media server is marked [stale]: its streams are the\n"
                    "last good state its agent read.\n");
            return 0;
        }
        fprintf (stderr, "streamfleet: unexpected argument '%s'\n", argv [1]);
        return SF_EXIT_USAGE;
    }
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "nodes", 0);
    sf_msg_t reply;
    bool finished;
    int rc = sf_cli_ask (cli, &req, &reply, &finished);
    if (finished)
        goto done;
    const msgpack_object *nodes = sf_map_get (reply.body, "nodes");
    sf_nodes_table (cli, nodes, stdout);
done:
    sf_msg_release (&reply);
    return rc;
}

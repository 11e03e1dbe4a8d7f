/*  cmd_streams.c — `streamfleet streams`: the fleet's Streams page in a
    terminal. The listing has the columns of a media server's Streams page
    plus the node; `streams show NAME` has its detail sections.
*/
#include "sf_cli.h"
#include "sf_alloc.h"
#include "sf_filter.h"
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: streamfleet streams [--filter P,...] [--name PATTERN] [--node ID]\n"
        "                           [--sort COLUMN] [--limit N] [--offset N] [-o table|wide|json]\n"
        "       streamfleet streams show NAME [--node ID] [-o table|json]\n"
        "\n"
        "Filter parameters (as on a media server's Streams page):\n"
        "  type:      primary, secondary, migrated   (any of them)\n"
        "  state:     active, suspend, transfer,     (any of them)\n"
        "             conflict\n"
        "  functions: dvr, audio                     (all of them)\n"
        "Groups combine with AND. --name matches a case-insensitive substring, or a\n"
        "glob when it holds * or ?. --sort takes a column (prefix - for descending):\n"
        " ");
    //  The sort keys of the field table (include/sf_fields.h)
    for (int k = 0; k < SF_SORT_COUNT; k++)
        fprintf (out, " %s%s", sf_sort_name (k), k + 1 < SF_SORT_COUNT ? "," : "\n");
    fprintf (out,
        "\n"
        "Marks: " SF_CLI_LEGEND "\n"
        "-o wide adds the uid, the version, where a migrated stream went (migrated_to)\n"
        "and where a transfer came from (transferred_from). The table fits the\n"
        "terminal (SOURCE is cut first); piped, it keeps its full width.\n");
}

//  Name with type mark in front and function marks behind:
//  P/S/M = primary/secondary/migrated; D = DVR, F = photo, A = audio
static const char *
s_name_cell (const msgpack_object *row, char *buf, size_t size)
{
    char name [SF_NAME_MAX + 1] = "", type [16] = "";
    sf_map_str (row, "name", name, SF_NAME_MAX, NULL);
    sf_map_str (row, "type", type, sizeof (type) - 1, NULL);
    char marks [8] = "";
    const msgpack_object *fns = sf_map_get (row, "functions");
    for (uint32_t i = 0; fns && fns->type == MSGPACK_OBJECT_ARRAY && i < fns->via.array.size; i++) {
        char f [16];
        if (sf_obj_str (&fns->via.array.ptr [i], f, sizeof (f) - 1) == 0)
            strncat (marks, !strcmp (f, "dvr") ? "D" : !strcmp (f, "photo") ? "F" : "A",
                     sizeof (marks) - strlen (marks) - 1);
    }
    char mark = !strcmp (type, "secondary") ? 'S' : !strcmp (type, "migrated") ? 'M' : 'P';
    snprintf (buf, size, "%c %s%s%s%s", mark, name, marks [0] ? " [" : "", marks, marks [0] ? "]" : "");
    return buf;
}

//  A reply row's value at a field's reply path ("reconnects.attempts")
static const msgpack_object *
s_at (const msgpack_object *row, const sf_field_t *f)
{
    size_t glen;
    const char *key = sf_field_reply_key (f, &glen);
    if (glen) {
        char group [64];
        snprintf (group, sizeof (group), "%.*s", (int) glen, f->reply_path);
        row = sf_map_get (row, group);
        if (!row || row->type != MSGPACK_OBJECT_MAP)
            return NULL;
    }
    return sf_map_get (row, key);
}

static uint64_t
s_at_u64 (const msgpack_object *row, const sf_field_t *f)
{
    const msgpack_object *o = s_at (row, f);
    if (o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        return o->via.u64;
    return 0;
}

static void
s_at_str (const msgpack_object *row, const sf_field_t *f, char *buf, size_t size)
{
    buf [0] = 0;
    const msgpack_object *o = s_at (row, f);
    if (o && sf_obj_str (o, buf, size - 1))
        buf [0] = 0;
}

//  Whether a row's stream runs now: bitrate and uptime are shown only then
static bool
s_running (const msgpack_object *row)
{
    char status [16] = "";
    int64_t started = 0;
    sf_map_str (row, "status", status, sizeof (status) - 1, NULL);
    sf_map_i64 (row, "started_at", &started, NULL);
    return !strcmp (status, "active") && started > 0;
}

//  Whether a column's cells are numbers (aligned right)
static bool
s_col_numeric (const sf_field_t *f)
{
    return f->col_fmt == SF_CF_INT || f->col_fmt == SF_CF_KBPS || f->col_fmt == SF_CF_AGE
        || f->col_fmt == SF_CF_PAIR;
}

//  A numeric cell (INT, KBPS, AGE, PAIR) as the table and the show print it
static const char *
s_num_cell (const msgpack_object *row, const sf_field_t *f, int64_t now, char *buf, size_t size)
{
    uint64_t v = s_at_u64 (row, f);
    switch (f->col_fmt) {
        case SF_CF_KBPS:
            if (s_running (row))
                return sf_fmt_bitrate (v, buf, size);
            break;
        case SF_CF_AGE: {
            const msgpack_object *o = s_at (row, f);
            int64_t t = o && o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ? (int64_t) o->via.u64 : 0;
            if (s_running (row))
                return sf_fmt_duration (now - t, buf, size);
            break;
        }
        case SF_CF_PAIR:
            //  This line's value over the next line's (attempts / total)
            snprintf (buf, size, "%llu/%llu", (unsigned long long) v,
                      (unsigned long long) (f [1].key ? s_at_u64 (row, f + 1) : 0));
            return buf;
        default:
            snprintf (buf, size, "%llu", (unsigned long long) v);
            return buf;
    }
    snprintf (buf, size, "-");
    return buf;
}

//  One listing cell of column f; the STATUS cell also gives its status word
//  (for the colour)
static void
s_cell (const sf_cli_t *cli, const msgpack_object *row, const sf_field_t *f, int64_t now,
        char *buf, size_t size, char *word, size_t wsize)
{
    switch (f->col_fmt) {
        case SF_CF_NAME:
            s_name_cell (row, buf, size);
            return;
        case SF_CF_STATUS: {
            bool transfer = false, stale = false, conflict = false;
            s_at_str (row, f, word, wsize);
            sf_map_bool (row, "transfer", &transfer, NULL);
            sf_map_bool (row, "conflict", &conflict, NULL);
            sf_map_bool (row, "stale", &stale, NULL);
            snprintf (buf, size, "%s%s%s%s", word, transfer ? " ⇄transfer" : "",
                      conflict ? " !conflict" : "", stale ? " (stale)" : "");
            return;
        }
        case SF_CF_URL: {
            char url [512] = "";
            s_at_str (row, f, url, sizeof (url));
            int len = snprintf (buf, size, "%s", url);
            if (cli->output != SF_OUT_WIDE)
                return;
            char uid [SF_NAME_MAX + 1] = "", migrated [SF_NODE_MAX + 1] = "", from [SF_NODE_MAX + 1] = "";
            sf_map_str (row, "uid", uid, SF_NAME_MAX, NULL);
            sf_map_str (row, "migrated_to", migrated, SF_NODE_MAX, NULL);
            sf_map_str (row, "transferred_from", from, SF_NODE_MAX, NULL);
            len += snprintf (buf + len, size - (size_t) len, "  uid=%s", uid);
            const msgpack_object *v = sf_map_get (row, "version");
            uint64_t gen = 0, seq = 0;
            if (v && sf_map_u64 (v, "gen", &gen, NULL) == 0 && sf_map_u64 (v, "seq", &seq, NULL) == 0
            &&  len < (int) size)
                len += snprintf (buf + len, size - (size_t) len, " version=%llu/%llu",
                                 (unsigned long long) gen, (unsigned long long) seq);
            if (migrated [0] && len < (int) size)
                len += snprintf (buf + len, size - (size_t) len, " migrated_to=%s", migrated);
            if (from [0] && len < (int) size)
                snprintf (buf + len, size - (size_t) len, " transferred_from=%s", from);
            return;
        }
        case SF_CF_WORD:
            s_at_str (row, f, buf, size);
            return;
        default:
            s_num_cell (row, f, now, buf, size);
    }
}

#define S_COLS_MAX 32
#define S_CELL_MAX 1024

static int
s_list (sf_cli_t *cli, const char *filter, const char *name, const char *node, const char *sort,
        long limit, long offset)
{
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "list", 6);
    sf_pack_kstr (&pk, "filter", filter);
    sf_pack_kstr (&pk, "name", name);
    sf_pack_kstr (&pk, "node", node);
    sf_pack_kstr (&pk, "sort", sort);
    sf_pack_ku64 (&pk, "limit", (uint64_t) limit);
    sf_pack_ku64 (&pk, "offset", (uint64_t) offset);
    sf_msg_t reply;
    bool finished;
    uint64_t total = 0;
    int rc = sf_cli_ask (cli, &req, &reply, &finished);
    if (!rc)
        sf_map_u64 (reply.body, "total", &total, NULL);
    if (finished)
        goto done;
    int64_t now = 0;
    sf_map_u64 (reply.body, "total", &total, NULL);
    sf_map_i64 (reply.body, "now", &now, NULL);
    const msgpack_object *rows = sf_map_get (reply.body, "streams");
    uint32_t n = rows && rows->type == MSGPACK_OBJECT_ARRAY ? rows->via.array.size : 0;
    //  The columns: the field table's COL lines (include/sf_fields.h), the
    //  elastic one (URL: SOURCE) last
    const sf_field_t *cols [S_COLS_MAX], *elastic = NULL;
    size_t ncols = 0, width [S_COLS_MAX];
    for (const sf_field_t *f = sf_stream_fields; f->key; f++) {
        if (!f->col_header)
            continue;
        if (f->col_fmt == SF_CF_URL)
            elastic = f;
        else if (ncols < S_COLS_MAX) {
            width [ncols] = f->col_width ? f->col_width : sf_text_width (f->col_header);
            cols [ncols++] = f;
        }
    }
    //  First every cell, then the widths: a column of width 0 is as wide as
    //  its longest cell; the elastic column takes what the terminal has left
    //  and is cut with an ellipsis first (cli->width 0: not a terminal)
    size_t stride = ncols + 1;
    char *cells = sf_xcalloc ((n ? n : 1) * stride, S_CELL_MAX);
    char (*words) [16] = sf_xcalloc (n ? n : 1, 16);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *row = &rows->via.array.ptr [i];
        for (size_t c = 0; c < ncols; c++) {
            char *cell = cells + (i * stride + c) * S_CELL_MAX;
            s_cell (cli, row, cols [c], now, cell, S_CELL_MAX, words [i], sizeof (words [i]));
            size_t w = sf_text_width (cell);
            if (!cols [c]->col_width && w > width [c])
                width [c] = w;
        }
        if (elastic)
            s_cell (cli, row, elastic, now, cells + (i * stride + ncols) * S_CELL_MAX, S_CELL_MAX, NULL, 0);
    }
    //  № and each column with a space before it, then two before the elastic one
    size_t fixed = 6 + 2;
    for (size_t c = 0; c < ncols; c++)
        fixed += 1 + width [c];
    size_t wsource = 0;                 //  0: as long as it is
    bool show_source = elastic != NULL;
    if (show_source && cli->width > 0) {
        if ((size_t) cli->width < fixed + 8)
            show_source = false;        //  no room: leave the column out
        else
            wsource = (size_t) cli->width - fixed;
    }
    char fit [S_CELL_MAX + 80], padded [S_CELL_MAX + 80];
    //  "№" is one column wide but three bytes: pad it by hand. Pad by display
    //  width, before colouring, so escape codes and the multi-byte marks do
    //  not break the columns
    printf ("№     ");
    for (size_t c = 0; c < ncols; c++) {
        size_t pad = width [c] - sf_text_width (cols [c]->col_header);
        if (s_col_numeric (cols [c]))
            printf (" %*s%s", (int) pad, "", cols [c]->col_header);
        else
            printf (" %s%*s", cols [c]->col_header, (int) pad, "");
    }
    if (show_source) {
        char title [64];
        snprintf (title, sizeof (title), "%s%s", elastic->col_header,
                  cli->output == SF_OUT_WIDE ? " / UID / VERSION" : "");
        printf ("  %s", sf_fit (title, wsource, fit, sizeof (fit)));
    }
    printf ("\n");
    for (uint32_t i = 0; i < n; i++) {
        printf ("%-6llu", (unsigned long long) (offset + i + 1));
        for (size_t c = 0; c < ncols; c++) {
            const char *cell = cells + (i * stride + c) * S_CELL_MAX;
            size_t w = sf_text_width (cell);
            size_t pad = w < width [c] ? width [c] - w : 0;
            if (s_col_numeric (cols [c]))
                snprintf (padded, sizeof (padded), "%*s%s", (int) pad, "", cell);
            else
                snprintf (padded, sizeof (padded), "%s%*s", cell, (int) pad, "");
            if (cols [c]->col_fmt == SF_CF_STATUS)
                printf (" %s%s%s", sf_color (cli, words [i]), padded, sf_color_reset (cli));
            else
                printf (" %s", padded);
        }
        if (show_source)
            printf ("  %s", sf_fit (cells + (i * stride + ncols) * S_CELL_MAX, wsource, fit, sizeof (fit)));
        printf ("\n");
    }
    free (cells);
    free (words);
    if (n)
        sf_print_wrapped (SF_CLI_LEGEND, cli->width);
    printf ("%u of %llu stream%s%s\n", n, (unsigned long long) total, total == 1 ? "" : "s",
            n < total ? " (use --limit/--offset for more)" : "");
done:
    //  An unknown node is an error, not an empty node (docs/cli.md)
    if (!rc && node [0] && !total) {
        int known = sf_cli_known (cli, "node", node);
        rc = known == 1 ? 0 : known == 0 ? SF_EXIT_ANSWER : known;
    }
    sf_msg_release (&reply);
    return rc;
}

static void
s_text_block (const char *title, const char *text)
{
    printf ("%s\n", title);
    if (!text || !*text) {
        printf ("  (none)\n");
        return;
    }
    const char *p = text;
    while (*p) {
        const char *nl = strchr (p, '\n');
        size_t len = nl ? (size_t) (nl - p) : strlen (p);
        if (len && p [len - 1] == '\r')
            len--;
        printf ("  %.*s\n", (int) len, p);
        p = nl ? nl + 1 : p + strlen (p);
    }
}

static void
s_show_placement (sf_cli_t *cli, const msgpack_object *pl, int64_t now)
{
    const msgpack_object *s = pl;
    const msgpack_object *links = sf_map_get (pl, "links");
    char name [SF_NAME_MAX + 1] = "", node [SF_NODE_MAX + 1] = "", type [16] = "", status [16] = "";
    char live [16] = "", uid [SF_NAME_MAX + 1] = "", migrated [SF_NODE_MAX + 1] = "";
    char buf [64], buf2 [64];
    sf_map_str (s, "name", name, SF_NAME_MAX, NULL);
    sf_map_str (s, "uid", uid, SF_NAME_MAX, NULL);
    sf_map_str (s, "node", node, SF_NODE_MAX, NULL);
    sf_map_str (s, "type", type, sizeof (type) - 1, NULL);
    sf_map_str (s, "status", status, sizeof (status) - 1, NULL);
    sf_map_str (s, "migrated_to", migrated, SF_NODE_MAX, NULL);
    sf_map_str (s, "node_liveness", live, sizeof (live) - 1, NULL);
    bool transfer = false, conflict = false;
    sf_map_bool (s, "transfer", &transfer, NULL);
    sf_map_bool (s, "conflict", &conflict, NULL);
    printf ("%s (uid %s) on node %s (%s%s%s): %s, %s%s%s%s%s\n", name, uid, node, sf_color (cli, live),
            live, sf_color_reset (cli), type, sf_color (cli, status), status, sf_color_reset (cli),
            transfer ? ", in transfer" : "", conflict ? ", in conflict (runs on two nodes)" : "");
    if (migrated [0])
        printf ("  moved to node %s\n", migrated);
    //  The listing's numeric columns, labelled (include/sf_fields.h, COL)
    printf ("\nNow\n");
    for (const sf_field_t *f = sf_stream_fields; f->key; f++)
        if (f->col_header && s_col_numeric (f)) {
            char cell [64];
            printf ("  %-22s %s\n", f->col_label, s_num_cell (pl, f, now, cell, sizeof (cell)));
        }
    const msgpack_object *dvr = sf_map_get (s, "dvr");
    char rpath [SF_ADDR_MAX + 1] = "";
    int64_t depth = 0, chunk = 0, current = 0;
    uint64_t disk = 0, mem = 0;
    if (dvr) {
        sf_map_str (dvr, "records_path", rpath, SF_ADDR_MAX, NULL);
        sf_map_i64 (dvr, "depth_s", &depth, NULL);
        sf_map_i64 (dvr, "chunk_s", &chunk, NULL);
        sf_map_i64 (dvr, "current_from", &current, NULL);
        sf_map_u64 (dvr, "disk_free_bytes", &disk, NULL);
        sf_map_u64 (dvr, "memory_bytes", &mem, NULL);
    }
    const msgpack_object *ranges = dvr ? sf_map_get (dvr, "ranges") : NULL;
    uint32_t nr = ranges && ranges->type == MSGPACK_OBJECT_ARRAY ? ranges->via.array.size : 0;
    //  The current range: the one the running recording (current_from) is in
    int64_t cur = -1;
    for (uint32_t i = 0; current && i < nr; i++) {
        int64_t from = 0, to = 0;
        sf_map_i64 (&ranges->via.array.ptr [i], "from", &from, NULL);
        sf_map_i64 (&ranges->via.array.ptr [i], "to", &to, NULL);
        if (from <= current && current <= to)
            cur = i;
    }
    //  Else a live stream's newest range, when it reaches (nearly) now
    if (cur < 0 && nr && !strcmp (status, "active")) {
        int64_t to = 0;
        sf_map_i64 (&ranges->via.array.ptr [nr - 1], "to", &to, NULL);
        if (now && to >= now - 2 * (chunk > 6 ? chunk : 6))
            cur = nr - 1;
    }
    printf ("\nOverview\n");
    printf ("  %-22s %s\n", "Records path", rpath [0] ? rpath : "-");
    printf ("  %-22s %s\n", "Duration (depth)", depth ? sf_fmt_duration (depth, buf, sizeof (buf)) : "-");
    if (cur >= 0) {
        int64_t from = 0, to = 0;
        sf_map_i64 (&ranges->via.array.ptr [cur], "from", &from, NULL);
        sf_map_i64 (&ranges->via.array.ptr [cur], "to", &to, NULL);
        printf ("  %-22s %s .. %s\n", "Current range", sf_fmt_time (from, buf, sizeof (buf)),
                sf_fmt_time (to, buf2, sizeof (buf2)));
    }
    else
        printf ("  %-22s -\n", "Current range");
    printf ("  %-22s %s\n", "Recording since", current ? sf_fmt_time (current, buf, sizeof (buf)) : "-");
    printf ("  %-22s %s\n", "Available disk space", disk ? sf_fmt_bytes (disk, buf, sizeof (buf)) : "-");
    if (chunk)
        printf ("  %-22s %llds\n", "Chunk", (long long) chunk);
    else
        printf ("  %-22s -\n", "Chunk");
    printf ("  %-22s %s\n", "Memory usage", mem ? sf_fmt_bytes (mem, buf, sizeof (buf)) : "-");
    if (links && links->type == MSGPACK_OBJECT_MAP) {
        char rtsp [1024] = "", hls [1024] = "", rtmp [1024] = "";
        sf_map_str (links, "rtsp", rtsp, sizeof (rtsp) - 1, NULL);
        sf_map_str (links, "hls", hls, sizeof (hls) - 1, NULL);
        sf_map_str (links, "rtmp", rtmp, sizeof (rtmp) - 1, NULL);
        printf ("  %-22s %s\n  %-22s %s\n", "Live RTSP", *rtsp ? rtsp : "-", "Live HLS", *hls ? hls : "-");
        if (*rtmp)
            printf ("  %-22s %s\n", "Live RTMP", rtmp);
    }
    //  Media, as the source reports it
    const msgpack_object *media = sf_map_get (s, "media");
    char vcodec [SF_SHORT_MAX + 1] = "", acodec [SF_SHORT_MAX + 1] = "";
    uint32_t mw = 0, mh = 0;
    double fps = 0;
    if (media && media->type == MSGPACK_OBJECT_MAP) {
        sf_map_str (media, "vcodec", vcodec, SF_SHORT_MAX, NULL);
        sf_map_str (media, "acodec", acodec, SF_SHORT_MAX, NULL);
        sf_map_u32 (media, "width", &mw, NULL);
        sf_map_u32 (media, "height", &mh, NULL);
        sf_map_double (media, "fps", &fps, NULL);
    }
    printf ("\nMedia\n");
    printf ("  %-22s %s\n", "Video codec", vcodec [0] ? vcodec : "-");
    if (mw && mh)
        printf ("  %-22s %ux%u\n", "Resolution", mw, mh);
    else
        printf ("  %-22s -\n", "Resolution");
    if (fps > 0)
        printf ("  %-22s %.3g\n", "Frame rate (fps)", fps);
    else
        printf ("  %-22s -\n", "Frame rate (fps)");
    printf ("  %-22s %s\n", "Audio codec", acodec [0] ? acodec : "-");
    printf ("\nDVR ranges\n");
    if (cur >= 0)
        printf ("  (* the current range, being recorded)\n");
    if (!nr)
        printf ("  (none)\n");
    for (uint32_t i = 0; i < nr; i++) {
        const msgpack_object *r = &ranges->via.array.ptr [i];
        int64_t from = 0, to = 0;
        char rtsp [1024] = "", hls [1024] = "";
        sf_map_i64 (r, "from", &from, NULL);
        sf_map_i64 (r, "to", &to, NULL);
        sf_map_str (r, "rtsp", rtsp, sizeof (rtsp) - 1, NULL);
        sf_map_str (r, "hls", hls, sizeof (hls) - 1, NULL);
        char dur [32];
        printf ("%c %3u  %s .. %s  %-9s\n       RTSP %s\n       HLS  %s\n", (int64_t) i == cur ? '*' : ' ', i + 1,
                sf_fmt_time (from, buf, sizeof (buf)), sf_fmt_time (to, buf2, sizeof (buf2)),
                sf_fmt_duration (to - from, dur, sizeof (dur)), rtsp, hls);
    }
    char *config = NULL, *path = NULL, *url = NULL, *sdp = NULL;
    sf_map_text (s, "config", &config, SF_TEXT_MAX, NULL);
    sf_map_text (s, "config_path", &path, SF_ADDR_MAX, NULL);
    const msgpack_object *src = sf_map_get (s, "source");
    if (src) {
        sf_map_text (src, "url", &url, SF_URL_MAX, NULL);
        sf_map_text (src, "sdp", &sdp, SF_TEXT_MAX, NULL);
    }
    char title [600];
    snprintf (title, sizeof (title), "\nConfig%s%s%s", path && *path ? " (" : "", path ? path : "",
              path && *path ? ")" : "");
    s_text_block (title, config);
    printf ("\nSource\n  %-22s %s\n", "URL", url && *url ? url : "-");
    s_text_block ("  Session description (SDP)", sdp);
    char uuid [SF_SHORT_MAX + 1] = "";
    sf_map_str (s, "playback_uuid", uuid, SF_SHORT_MAX, NULL);
    printf ("\nUUID\n  %s\n", uuid [0] ? uuid : "-");
    free (config);
    free (path);
    free (url);
    free (sdp);
}

//  Where the stream lives now and how it got there (docs/migrations.md):
//  every event of the replicated history, oldest first, with its nodes,
//  kind, the transfer's duration and the reason
typedef struct {
    char kind [32], from [SF_NODE_MAX + 1], to [SF_NODE_MAX + 1], reason [128];
    int64_t at_ms, dur_ms;
} s_event_t;

static void
s_event_read (const msgpack_object *e, s_event_t *ev)
{
    memset (ev, 0, sizeof (*ev));
    sf_map_str (e, "kind", ev->kind, sizeof (ev->kind) - 1, NULL);
    sf_map_str (e, "from", ev->from, SF_NODE_MAX, NULL);
    sf_map_str (e, "to", ev->to, SF_NODE_MAX, NULL);
    sf_map_str (e, "reason", ev->reason, sizeof (ev->reason) - 1, NULL);
    sf_map_i64 (e, "at_ms", &ev->at_ms, NULL);
    sf_map_i64 (e, "duration_ms", &ev->dur_ms, NULL);
}

//  A length of time as the tables print it: 4.2s under a minute, else 3m 12s
static const char *
s_span (int64_t ms, char *buf, size_t size)
{
    if (ms < 60000)
        snprintf (buf, size, "%.1fs", ms / 1000.0);
    else
        sf_fmt_duration (ms / 1000, buf, size);
    return buf;
}

//  Whether an event moves the stream (it lives at `to` afterwards)
static bool
s_is_move (const char *kind)
{
    return !strcmp (kind, "migrated") || !strcmp (kind, "failover") || !strcmp (kind, "returned");
}

static void
s_show_history (const sf_msg_t *reply)
{
    char current [SF_NODE_MAX + 1] = "", when [48], dur [32], move [2 * SF_NODE_MAX + 8];
    sf_map_str (reply->body, "current", current, SF_NODE_MAX, NULL);
    printf ("Current node: %s\n", current [0] ? current : "(unknown)");
    const msgpack_object *h = sf_map_get (reply->body, "history");
    uint32_t n = h && h->type == MSGPACK_OBJECT_ARRAY ? h->via.array.size : 0;
    uint32_t moves = 0;
    for (uint32_t i = 0; i < n; i++) {
        s_event_t ev;
        s_event_read (&h->via.array.ptr [i], &ev);
        moves += s_is_move (ev.kind);
    }
    if (!n) {
        printf ("Placement history: (no moves)\n\n");
        return;
    }
    printf ("Placement history: %u event%s, %u move%s (oldest first)\n", n, n == 1 ? "" : "s",
            moves, moves == 1 ? "" : "s");
    printf ("  %-27s %-16s %-21s %9s  %s\n", "TIME", "KIND", "FROM -> TO", "DURATION", "REASON");
    for (uint32_t i = 0; i < n; i++) {
        s_event_t ev;
        s_event_read (&h->via.array.ptr [i], &ev);
        snprintf (move, sizeof (move), "%s -> %s", ev.from [0] ? ev.from : "-", ev.to [0] ? ev.to : "-");
        printf ("  %-27s %-16s %-21s %9s  %s\n", sf_fmt_time_ms (ev.at_ms, when, sizeof (when)),
                ev.kind, move, ev.dur_ms > 0 ? s_span (ev.dur_ms, dur, sizeof (dur)) : "-",
                ev.reason [0] ? ev.reason : "-");
    }
    printf ("\n");
}

//  One placement's story from the history: each time the stream came to
//  its node and left it, how, and how long it stayed
static void
s_show_story (const sf_msg_t *reply, const char *node, int64_t now)
{
    const msgpack_object *h = sf_map_get (reply->body, "history");
    uint32_t n = h && h->type == MSGPACK_OBJECT_ARRAY ? h->via.array.size : 0;
    char when [48], dur [32], stay [32];
    int64_t arrived = -1;           //  -1: not here (or not known to have come)
    bool any = false;
    for (uint32_t i = 0; i < n; i++) {
        s_event_t ev;
        s_event_read (&h->via.array.ptr [i], &ev);
        bool in = !strcmp (ev.to, node), out = !strcmp (ev.from, node);
        if (!in && !out)
            continue;
        if (!any)
            printf ("\nStory on node %s\n", node);
        any = true;
        sf_fmt_time_ms (ev.at_ms, when, sizeof (when));
        if (out && s_is_move (ev.kind)) {
            printf ("  %s  left for %s (%s%s%s)", when, ev.to, ev.kind,
                    ev.dur_ms > 0 ? ", transfer " : "", ev.dur_ms > 0 ? s_span (ev.dur_ms, dur, sizeof (dur)) : "");
            if (arrived >= 0)
                printf (", after %s here", s_span (ev.at_ms - arrived, stay, sizeof (stay)));
            else
                printf (", having run here first");
            printf ("\n");
            arrived = -1;
        }
        else if (in && s_is_move (ev.kind)) {
            printf ("  %s  came from %s (%s%s%s)\n", when, ev.from, ev.kind,
                    ev.dur_ms > 0 ? ", transfer " : "", ev.dur_ms > 0 ? s_span (ev.dur_ms, dur, sizeof (dur)) : "");
            arrived = ev.at_ms;
        }
        else
            printf ("  %s  %s %s %s\n", when, ev.kind, out ? "to" : "from", out ? ev.to : ev.from);
    }
    if (any && arrived >= 0)
        printf ("  here since %s (%s)\n", sf_fmt_time_ms (arrived, when, sizeof (when)),
                s_span (now * 1000 - arrived, stay, sizeof (stay)));
}

static int
s_show (sf_cli_t *cli, const char *name, const char *node)
{
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "detail", 2);
    sf_pack_kstr (&pk, "name", name);
    sf_pack_kstr (&pk, "node", node);
    sf_msg_t reply;
    bool finished;
    int rc = sf_cli_ask (cli, &req, &reply, &finished);
    if (finished)
        goto done;
    int64_t now = 0;
    sf_map_i64 (reply.body, "now", &now, NULL);
    const msgpack_object *pls = sf_map_get (reply.body, "placements");
    uint32_t n = pls && pls->type == MSGPACK_OBJECT_ARRAY ? pls->via.array.size : 0;
    s_show_history (&reply);
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            printf ("\n────────────────────────────────────────\n");
        s_show_placement (cli, &pls->via.array.ptr [i], now);
        char node [SF_NODE_MAX + 1] = "";
        sf_map_str (&pls->via.array.ptr [i], "node", node, SF_NODE_MAX, NULL);
        s_show_story (&reply, node, now);
    }
done:
    sf_msg_release (&reply);
    return rc;
}

int
sf_cmd_streams (sf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts [] = {
        { "filter", required_argument, 0, 'f' }, { "name", required_argument, 0, 'n' },
        { "node", required_argument, 0, 'N' }, { "sort", required_argument, 0, 's' },
        { "limit", required_argument, 0, 'l' }, { "offset", required_argument, 0, 'O' },
        { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    char filter [256] = "", name [SF_NAME_MAX + 1] = "", node [SF_NODE_MAX + 1] = "", sort [64] = "";
    long limit = 1000, offset = 0;
    optind = 1;
    int c;
    while ((c = getopt_long (argc, argv, "+f:n:N:s:l:h", opts, NULL)) != -1) {
        switch (c) {
            case 'f':
                if (filter [0])
                    strncat (filter, ",", sizeof (filter) - strlen (filter) - 1);
                strncat (filter, optarg, sizeof (filter) - strlen (filter) - 1);
                break;
            case 'n': snprintf (name, sizeof (name), "%s", optarg); break;
            case 'N': snprintf (node, sizeof (node), "%s", optarg); break;
            case 's': snprintf (sort, sizeof (sort), "%s", optarg); break;
            case 'l': case 'O': {
                char *end;
                long v = strtol (optarg, &end, 10);
                if (*end || v < 0) {
                    fprintf (stderr, "streamfleet: --%s needs a whole number\n", c == 'l' ? "limit" : "offset");
                    return SF_EXIT_USAGE;
                }
                if (c == 'l') limit = v; else offset = v;
                break;
            }
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return SF_EXIT_USAGE;
        }
    }
    //  Check what we can before asking: the same evaluator the controller runs
    sf_filter_t f;
    sf_filter_init (&f);
    sf_sort_t so;
    char err [256];
    if (sf_filter_parse (&f, filter, err, sizeof (err)) || sf_sort_parse (&so, sort, err, sizeof (err))) {
        fprintf (stderr, "streamfleet: %s\n", err);
        return SF_EXIT_USAGE;
    }
    if (optind < argc && strcmp (argv [optind], "show") == 0) {
        if (optind + 1 >= argc) {
            fprintf (stderr, "streamfleet: streams show needs a stream name\n");
            return SF_EXIT_USAGE;
        }
        const char *sname = argv [optind + 1];
        if (!strcmp (sname, "--help") || !strcmp (sname, "-h")) {
            s_usage (stdout);
            return 0;
        }
        //  Options may follow the name
        optind += 2;
        while (optind < argc) {
            if (!strcmp (argv [optind], "--node") && optind + 1 < argc)
                snprintf (node, sizeof (node), "%s", argv [optind + 1]), optind += 2;
            else if (!strncmp (argv [optind], "--node=", 7))
                snprintf (node, sizeof (node), "%s", argv [optind] + 7), optind++;
            else {
                fprintf (stderr, "streamfleet: unexpected argument '%s'\n", argv [optind]);
                return SF_EXIT_USAGE;
            }
        }
        return s_show (cli, sname, node);
    }
    if (optind < argc) {
        fprintf (stderr, "streamfleet: unexpected argument '%s' (see streamfleet streams --help)\n",
                 argv [optind]);
        return SF_EXIT_USAGE;
    }
    return s_list (cli, filter, name, node, sort, limit, offset);
}

/*  test_fields.c — the field table (include/sf_fields.h) and what derives
    from it: the codec's bytes (identical to the hand-written codec's, so old
    agents and peers keep working), the round trip of every line in every
    form, the bounds of every bounded line, the map sizes, the sort keys, the
    stored summary's format and its migration at start (rows written in the
    old format stay visible, and the store's count and its listing agree),
    and docs/protocol.md's field tables (the test fails when they drift).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lmdb.h>
#include "sf_codec.h"
#include "sf_filter.h"
#include "sf_store.h"

//  ---------------------------------------------------------------------------
//  The codec's bytes, as the hand-written codec (before the table) wrote them
//  for these records: ROW, FULL, ROW|DERIVED, FULL|DERIVED, node FULL, node
//  FULL|DERIVED, usage. The node and usage forms also hold usage's
//  bandwidth_source, a line added to the table since (c559587), and the
//  derived forms the derived conflict mark (issue 14), and the full forms
//  started_at_ms (issue 14, after changed_at_ms): a new line changes
//  these bytes, and only by its own key and value.

static const char *s_golden [] = {
    "8ea46e616d65a563616d2d37a3756964a57569642d37a46e6f6465a26e31a474797065a97365636f6e64617279a6737461747573a773757370656e64a966756e6374696f6e7392a3647672a5617564696fa57374616c65c3a7636c69656e74732aac626974726174655f6b627073cd1000aa737461727465645f6174ce6553f100b27265636f6e6e6563745f617474656d70747302af7265636f6e6e6563745f746f74616c09a6736f7572636581a375726caa727473703a2f2f782f63a776657273696f6e92054d",  // stream ROW
    "de0019a46e616d65a563616d2d37a3756964a57569642d37a46e6f6465a26e31a474797065a97365636f6e64617279a6737461747573a773757370656e64a966756e6374696f6e7392a3647672a5617564696fa57374616c65c3a7636c69656e74732aac626974726174655f6b627073cd1000aa737461727465645f6174ce6553f100b27265636f6e6e6563745f617474656d70747302af7265636f6e6e6563745f746f74616c09a6736f7572636583a375726caa727473703a2f2f782f63a3736470a3763d30a770696e675f6d73efa776657273696f6e92054da6636f6e666967a3636667ab636f6e6669675f70617468a22f70ad706c61796261636b5f75756964a175b07472616e736665727265645f66726f6da26e39ad727473705f74656d706c617465a172ac686c735f74656d706c617465a168ad72746d705f74656d706c617465a16da364767287ac7265636f7264735f70617468a22f64a764657074685f73ce00015180a76368756e6b5f7306af6469736b5f667265655f6279746573cf0000001cbe991a14ac6d656d6f72795f6279746573ce003e8000ac63757272656e745f66726f6dce6553f2f4a672616e6765739192ce6553f100ce6553f164a56d6564696185a676636f646563a468323634a57769647468cd0780a6686569676874cd0438a3667073cb4039800000000000a661636f646563a3616163ad6368616e6765645f61745f6d73cf0000018bcfe5687bad737461727465645f61745f6d73cf0000018bcfe569c8",  // stream FULL
    "de0011a46e616d65a563616d2d37a3756964a57569642d37a46e6f6465a26e31a474797065a97365636f6e64617279a6737461747573a773757370656e64a966756e6374696f6e7392a3647672a5617564696fa57374616c65c3a7636c69656e74732aac626974726174655f6b627073cd1000aa737461727465645f6174ce6553f100b27265636f6e6e6563745f617474656d70747302af7265636f6e6e6563745f746f74616c09a6736f7572636581a375726caa727473703a2f2f782f63a776657273696f6e92054da87472616e73666572c3a8636f6e666c696374c2ab6d696772617465645f746fa26e32",  // stream ROW|DERIVED
    "de001ca46e616d65a563616d2d37a3756964a57569642d37a46e6f6465a26e31a474797065a97365636f6e64617279a6737461747573a773757370656e64a966756e6374696f6e7392a3647672a5617564696fa57374616c65c3a7636c69656e74732aac626974726174655f6b627073cd1000aa737461727465645f6174ce6553f100b27265636f6e6e6563745f617474656d70747302af7265636f6e6e6563745f746f74616c09a6736f7572636583a375726caa727473703a2f2f782f63a3736470a3763d30a770696e675f6d73efa776657273696f6e92054da6636f6e666967a3636667ab636f6e6669675f70617468a22f70ad706c61796261636b5f75756964a175b07472616e736665727265645f66726f6da26e39ad727473705f74656d706c617465a172ac686c735f74656d706c617465a168ad72746d705f74656d706c617465a16da364767287ac7265636f7264735f70617468a22f64a764657074685f73ce00015180a76368756e6b5f7306af6469736b5f667265655f6279746573cf0000001cbe991a14ac6d656d6f72795f6279746573ce003e8000ac63757272656e745f66726f6dce6553f2f4a672616e6765739192ce6553f100ce6553f164a56d6564696185a676636f646563a468323634a57769647468cd0780a6686569676874cd0438a3667073cb4039800000000000a661636f646563a3616163ad6368616e6765645f61745f6d73cf0000018bcfe5687bad737461727465645f61745f6d73cf0000018bcfe569c8a87472616e73666572c3a8636f6e666c696374c2ab6d696772617465645f746fa26e32",  // stream FULL|DERIVED
    "de0013a26964a66e6f64652d61ad616464725f696e7465726e616ca831302e302e302e31ad616464725f65787465726e616ca3657874a567726f7570a67075626c6963b36d61785f7072696d6172795f73747265616d7364ab6d61785f696e5f6b627073cd1388b0736f6674776172655f76657273696f6ea3312e32aa737461727465645f6174ce6553f100ad727473705f74656d706c617465a161ac686c735f74656d706c617465a162ad72746d705f74656d706c617465a165b1727473705f6476725f74656d706c617465a163b0686c735f6476725f74656d706c617465a164a5757361676587a76370755f706374cb4029000000000000ae6d656d5f757365645f6279746573cd03e8af6d656d5f746f74616c5f6279746573cd07d0a7696e5f6b627073cd012ca86f75745f6b627073cd0190b062616e6477696474685f736f75726365a0a56469736b739183a56d6f756e74a12faa667265655f62797465730aab746f74616c5f627974657314a968656172746265617463a57374616c65c3a776657273696f6e920304ae736e617073686f745f666c6f6f72920302a46b696e64a46e6f6465",  // node FULL
    "de0019a26964a66e6f64652d61ad616464725f696e7465726e616ca831302e302e302e31ad616464725f65787465726e616ca3657874a567726f7570a67075626c6963b36d61785f7072696d6172795f73747265616d7364ab6d61785f696e5f6b627073cd1388b0736f6674776172655f76657273696f6ea3312e32aa737461727465645f6174ce6553f100ad727473705f74656d706c617465a161ac686c735f74656d706c617465a162ad72746d705f74656d706c617465a165b1727473705f6476725f74656d706c617465a163b0686c735f6476725f74656d706c617465a164a5757361676587a76370755f706374cb4029000000000000ae6d656d5f757365645f6279746573cd03e8af6d656d5f746f74616c5f6279746573cd07d0a7696e5f6b627073cd012ca86f75745f6b627073cd0190b062616e6477696474685f736f75726365a0a56469736b739183a56d6f756e74a12faa667265655f62797465730aab746f74616c5f627974657314a968656172746265617463a57374616c65c3a776657273696f6e920304ae736e617073686f745f666c6f6f72920302a46b696e64a46e6f6465a86c6976656e657373a773757370656374b06865617274626561745f6167655f6d73cd05dca86e73747265616d7307a86e7072696d61727905a76e61637469766504ad696e5f6b6270735f746f74616ccd012c",  // node FULL|DERIVED
    "87a76370755f706374cb4029000000000000ae6d656d5f757365645f6279746573cd03e8af6d656d5f746f74616c5f6279746573cd07d0a7696e5f6b627073cd012ca86f75745f6b627073cd0190b062616e6477696474685f736f75726365a0a56469736b739183a56d6f756e74a12faa667265655f62797465730aab746f74616c5f627974657314",  // usage
};

static void
s_fill_stream (sf_stream_t *s)
{
    sf_stream_init (s);
    SF_STRSET (s->name, "cam-7"); SF_STRSET (s->uid, "uid-7"); SF_STRSET (s->node, "n1");
    s->type = SF_TYPE_SECONDARY; s->status = SF_STATUS_SUSPEND; s->functions = 5; s->stale = true;
    s->clients = 42; s->bitrate_kbps = 4096; s->started_at = 1700000000;
    s->reconnect_attempts = 2; s->reconnect_total = 9;
    sf_text_set (&s->source_url, "rtsp://x/c"); sf_text_set (&s->source_sdp, "v=0"); s->ping_ms = -17;
    sf_text_set (&s->config, "cfg"); sf_text_set (&s->config_path, "/p");
    SF_STRSET (s->playback_uuid, "u"); SF_STRSET (s->transferred_from, "n9");
    SF_STRSET (s->rtsp_template, "r"); SF_STRSET (s->hls_template, "h"); SF_STRSET (s->rtmp_template, "m");
    sf_text_set (&s->dvr.records_path, "/d"); s->dvr.depth_s = 86400; s->dvr.chunk_s = 6;
    s->dvr.disk_free_bytes = 123456789012ULL; s->dvr.memory_bytes = 4096000;
    s->dvr.current_from = 1700000500; sf_dvr_add_range (&s->dvr, 1700000000, 1700000100);
    SF_STRSET (s->media.vcodec, "h264"); s->media.width = 1920; s->media.height = 1080;
    s->media.fps = 25.5; SF_STRSET (s->media.acodec, "aac");
    s->version.gen = 5; s->version.seq = 77; s->changed_at_ms = 1700000000123LL;
    s->started_at_ms = 1700000000456LL;
    s->transfer = true; SF_STRSET (s->migrated_to, "n2");
}

static void
s_fill_node (sf_node_t *n)
{
    sf_node_init (n);
    SF_STRSET (n->id, "node-a"); SF_STRSET (n->addr_internal, "10.0.0.1");
    SF_STRSET (n->addr_external, "ext"); SF_STRSET (n->group, "public");
    n->max_primary_streams = 100; n->max_in_kbps = 5000; SF_STRSET (n->software_version, "1.2");
    n->started_at = 1700000000;
    SF_STRSET (n->rtsp_template, "a"); SF_STRSET (n->hls_template, "b"); SF_STRSET (n->rtmp_template, "e");
    SF_STRSET (n->rtsp_dvr_template, "c"); SF_STRSET (n->hls_dvr_template, "d");
    n->cpu_pct = 12.5; n->mem_used_bytes = 1000; n->mem_total_bytes = 2000;
    n->in_kbps = 300; n->out_kbps = 400;
    n->ndisks = 1; SF_STRSET (n->disks [0].mount, "/");
    n->disks [0].free_bytes = 10; n->disks [0].total_bytes = 20;
    n->heartbeat = 99; n->stale = true; n->version.gen = 3; n->version.seq = 4;
    n->snapshot_floor.gen = 3; n->snapshot_floor.seq = 2;
    n->liveness = SF_LIVE_SUSPECT; n->heartbeat_age_ms = 1500;
    n->nstreams = 7; n->nprimary = 5; n->nactive = 4;
}

static void
s_hex (msgpack_sbuffer *b, char *out)
{
    for (size_t i = 0; i < b->size; i++)
        sprintf (out + 2 * i, "%02x", (unsigned char) b->data [i]);
}

static void
test_bytes_are_those_of_the_hand_written_codec (void **state)
{
    sf_stream_t s;
    s_fill_stream (&s);
    sf_node_t n;
    s_fill_node (&n);
    int forms [] = { SF_ENC_ROW, SF_ENC_FULL, SF_ENC_ROW | SF_ENC_DERIVED, SF_ENC_FULL | SF_ENC_DERIVED };
    for (int i = 0; i < 7; i++) {
        msgpack_sbuffer b;
        msgpack_sbuffer_init (&b);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
        if (i < 4)
            sf_stream_pack (&pk, &s, forms [i]);
        else if (i < 6)
            sf_node_pack (&pk, &n, SF_ENC_FULL | (i == 5 ? SF_ENC_DERIVED : 0));
        else
            sf_usage_pack (&pk, &n);
        char *hex = malloc (2 * b.size + 1);
        s_hex (&b, hex);
        if (strcmp (hex, s_golden [i]))
            fail_msg ("form %d differs:\n  now %s\n  was %s", i, hex, s_golden [i]);
        free (hex);
        msgpack_sbuffer_destroy (&b);
    }
    sf_stream_clear (&s);
}

//  An empty uid is written as the name (its documented default)
static void
test_empty_uid_is_written_as_the_name (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    SF_STRSET (s.name, "cam");
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
    sf_stream_pack (&pk, &s, SF_ENC_ROW);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, b.data, b.size, &off), MSGPACK_UNPACK_SUCCESS);
    char uid [16];
    assert_int_equal (sf_map_str (&u.data, "uid", uid, sizeof (uid) - 1, NULL), 0);
    assert_string_equal (uid, "cam");
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&b);
}

//  ---------------------------------------------------------------------------
//  Every line, set to a value of its own, survives a round trip

static void
s_set_line (const sf_field_t *f, void *record, int i, bool node)
{
    char *p = (char *) record + f->offset;
    char text [64];
    snprintf (text, sizeof (text), "v%d-%s", i, f->key);
    switch (f->kind) {
        case SF_K_STR: snprintf (p, f->bound + 1, "%s", text); break;
        case SF_K_TEXT: sf_text_set ((char **) p, text); break;
        case SF_K_U32: *(uint32_t *) p = 1000u + (uint32_t) i; break;
        case SF_K_U64: *(uint64_t *) p = 5000000000ULL + (uint64_t) i; break;
        case SF_K_I64: *(int64_t *) p = -1700000000LL - i; break;
        case SF_K_I32U: *(int32_t *) p = -100 - i; break;
        case SF_K_I32NN: *(int32_t *) p = 100 + i; break;
        case SF_K_BOOL: *(bool *) p = true; break;
        case SF_K_DOUBLE: *(double *) p = 1.25 + i; break;
        case SF_K_TYPE: *(uint8_t *) p = SF_TYPE_SECONDARY; break;
        case SF_K_STATUS: *(uint8_t *) p = SF_STATUS_STARTING; break;
        case SF_K_LIVENESS: *(uint8_t *) p = SF_LIVE_SUSPECT; break;
        case SF_K_FUNCS: *(uint8_t *) p = SF_FN_DVR | SF_FN_AUDIO; break;
        case SF_K_VERSION: ((sf_version_t *) p)->gen = 7 + i; ((sf_version_t *) p)->seq = 9 + i; break;
        case SF_K_RANGES: {
            sf_dvr_t *d = (sf_dvr_t *) (p - offsetof (sf_dvr_t, ranges));
            sf_dvr_add_range (d, 100, 200);
            sf_dvr_add_range (d, 300, 400 + i);
            break;
        }
        case SF_K_DISKS: {
            sf_node_t *n = record;
            n->ndisks = 2;
            for (int j = 0; j < 2; j++) {
                snprintf (n->disks [j].mount, sizeof (n->disks [j].mount), "/m%d", j);
                n->disks [j].free_bytes = 10 + j;
                n->disks [j].total_bytes = 20 + j;
            }
            break;
        }
        default: break;
    }
    (void) node;
}

static bool
s_same (const sf_value_t *a, const sf_value_t *b)
{
    if (a->type != b->type)
        return false;
    switch (a->type) {
        case SF_V_STR: return strcmp (a->str, b->str) == 0;
        case SF_V_UINT: case SF_V_FUNCS: return a->u == b->u;
        case SF_V_INT: return a->i == b->i;
        case SF_V_DOUBLE: return a->d == b->d;
        case SF_V_BOOL: return a->b == b->b;
        case SF_V_VERSION: return a->gen == b->gen && a->seq == b->seq;
        case SF_V_RANGES: return a->n == b->n && !memcmp (a->items, b->items, a->n * sizeof (sf_range_t));
        case SF_V_DISKS: return a->n == b->n && !memcmp (a->items, b->items, a->n * sizeof (sf_disk_t));
        default: return true;
    }
}

static void
s_pack_any (msgpack_sbuffer *b, const void *record, bool node, int flags)
{
    msgpack_sbuffer_clear (b);
    msgpack_packer pk;
    msgpack_packer_init (&pk, b, msgpack_sbuffer_write);
    if (node)
        sf_node_pack (&pk, record, flags);
    else
        sf_stream_pack (&pk, record, flags);
}

static int
s_unpack_any (msgpack_sbuffer *b, void *record, bool node, char *err, uint32_t *map_size)
{
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, b->data, b->size, &off), MSGPACK_UNPACK_SUCCESS);
    //  The map's count matches what was written: nothing left over
    assert_int_equal (off, b->size);
    if (map_size)
        *map_size = u.data.via.map.size;
    int rc = node ? sf_node_unpack (&u.data, record, err) : sf_stream_unpack (&u.data, record, err);
    msgpack_unpacked_destroy (&u);
    return rc;
}

//  The number of top-level keys a form writes, counted from the table
static uint32_t
s_keys_in_form (const sf_field_t *table, uint16_t mask)
{
    uint32_t n = 0;
    const char *last_group = NULL;
    for (const sf_field_t *f = table; f->key; f++) {
        if (!(f->where & mask))
            continue;
        if (!f->group)
            n++;
        else if (!last_group || strcmp (last_group, f->group)) {
            n++;
            last_group = f->group;
        }
    }
    return n;
}

static void
s_round_trip_table (const sf_field_t *table, bool node)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    char err [SF_ERR_MAX];
    //  Record sizes differ; both fit this buffer
    static union { sf_stream_t s; sf_node_t n; } in, out;
    int i = 0;
    for (const sf_field_t *f = table; f->key; f++, i++) {
        if (f->kind == SF_K_TAG)
            continue;
        //  A record holding only this line (and the required name or id)
        if (node) {
            sf_node_init (&in.n);
            sf_node_init (&out.n);
            SF_STRSET (in.n.id, "n-req");
        }
        else {
            sf_stream_init (&in.s);
            sf_stream_init (&out.s);
            SF_STRSET (in.s.name, "s-req");
        }
        s_set_line (f, &in, i, node);
        for (int form = 0; form < 4; form++) {
            int flags = (form & 1 ? SF_ENC_FULL : SF_ENC_ROW) | (form & 2 ? SF_ENC_DERIVED : 0);
            uint16_t mask = (uint16_t) (SF_F_ROW | (form & 1 ? SF_F_FULL : 0) | (form & 2 ? SF_F_DERIVED : 0));
            if (node)
                mask |= SF_F_FULL;              //  a node record is always whole
            s_pack_any (&b, &in, node, flags);
            uint32_t map_size = 0;
            err [0] = 0;
            if (s_unpack_any (&b, &out, node, err, &map_size))
                fail_msg ("%s: form %d does not decode: %s", f->path, form, err);
            assert_int_equal (map_size, s_keys_in_form (table, mask));
            sf_value_t a, v;
            sf_field_value (f, &in, &a);
            sf_field_value (f, &out, &v);
            bool alias = false;
            for (const sf_field_t *g = table; g < f; g++)
                alias |= g->offset == f->offset;
            if (f->where & mask) {
                if (!s_same (&a, &v))
                    fail_msg ("%s: form %d changed its value", f->path, form);
            }
            else if (!alias && strcmp (f->key, "uid") && s_same (&a, &v))
                fail_msg ("%s: form %d should not carry it", f->path, form);
        }
        if (node) {
            sf_node_init (&in.n);
        }
        else {
            sf_stream_clear (&in.s);
            sf_stream_clear (&out.s);
        }
    }
    msgpack_sbuffer_destroy (&b);
}

static void
test_every_stream_line_round_trips_in_its_forms (void **state)
{
    s_round_trip_table (sf_stream_fields, false);
}

static void
test_every_node_line_round_trips_in_its_forms (void **state)
{
    s_round_trip_table (sf_node_fields, true);
}

//  ---------------------------------------------------------------------------
//  Bounds, as the table gives them

//  Packs { required: "x", [group: {] key: <len bytes> [}] }
static void
s_pack_long (msgpack_sbuffer *b, const sf_field_t *f, const char *required, size_t len)
{
    msgpack_sbuffer_clear (b);
    msgpack_packer pk;
    msgpack_packer_init (&pk, b, msgpack_sbuffer_write);
    bool same = strcmp (f->path, required) == 0;
    msgpack_pack_map (&pk, same ? 1 : 2);
    if (!same)
        sf_pack_kstr (&pk, required, "x");
    if (f->group) {
        sf_pack_str (&pk, f->group);
        msgpack_pack_map (&pk, 1);
    }
    sf_pack_str (&pk, f->key);
    char *v = malloc (len + 1);
    memset (v, 'a', len);
    v [len] = 0;
    sf_pack_str (&pk, v);
    free (v);
}

static void
s_bounds_table (const sf_field_t *table, bool node)
{
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    static union { sf_stream_t s; sf_node_t n; } r;
    if (!node)
        sf_stream_init (&r.s);
    int checked = 0;
    for (const sf_field_t *f = table; f->key; f++) {
        if (f->kind != SF_K_STR && f->kind != SF_K_TEXT)
            continue;
        assert_true (f->bound > 0);
        char err [SF_ERR_MAX] = "";
        s_pack_long (&b, f, node ? "id" : "name", f->bound);
        if (s_unpack_any (&b, &r, node, err, NULL))
            fail_msg ("%s of %u bytes refused: %s", f->path, f->bound, err);
        s_pack_long (&b, f, node ? "id" : "name", f->bound + 1);
        if (s_unpack_any (&b, &r, node, err, NULL) != -1)
            fail_msg ("%s of %u bytes accepted", f->path, f->bound + 1);
        assert_int_equal (sf_codec_reason (), SF_REJ_BOUNDS);
        if (!strstr (err, f->path))
            fail_msg ("%s: the error does not name it: %s", f->path, err);
        checked++;
    }
    assert_true (checked >= 5);
    if (!node)
        sf_stream_clear (&r.s);
    msgpack_sbuffer_destroy (&b);
}

static void
test_every_bounded_line_takes_its_bound_and_refuses_one_byte_more (void **state)
{
    s_bounds_table (sf_stream_fields, false);
    s_bounds_table (sf_node_fields, true);
}

static void
test_required_lines_are_required (void **state)
{
    sf_stream_t s;
    sf_stream_init (&s);
    sf_node_t n;
    char err [SF_ERR_MAX];
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    sf_pack_kstr (&pk, "name", "");
    assert_int_equal (s_unpack_any (&b, &s, false, err, NULL), -1);
    assert_non_null (strstr (err, "'name' is required"));
    msgpack_sbuffer_clear (&b);
    msgpack_pack_map (&pk, 1);
    sf_pack_kstr (&pk, "group", "public");
    assert_int_equal (s_unpack_any (&b, &n, true, err, NULL), -1);
    assert_non_null (strstr (err, "'id' is required"));
    sf_stream_clear (&s);
    msgpack_sbuffer_destroy (&b);
}

//  ---------------------------------------------------------------------------
//  Sort keys and the summary

static void
test_sort_keys_are_the_sort_lines (void **state)
{
    int lines = 0;
    for (const sf_field_t *f = sf_stream_fields; f->key; f++) {
        if (f->sort < 0)
            continue;
        lines++;
        sf_sort_t so;
        char err [256];
        assert_int_equal (sf_sort_parse (&so, sf_sort_name (f->sort), err, sizeof (err)), 0);
        assert_int_equal (so.key, f->sort);
        assert_ptr_equal (sf_sort_field (f->sort), f);
        //  A summary value sorts only from a summary line
        sf_sort_by_t by = sf_sort_by (f->sort);
        if (by == SF_SORT_BY_NUM || by == SF_SORT_BY_AGE || by == SF_SORT_BY_PAIR)
            assert_true (f->where & SF_F_SUMMARY);
    }
    assert_int_equal (lines, SF_SORT_COUNT);
    //  Values from a summary built from a record
    sf_stream_t s;
    s_fill_stream (&s);
    sf_summary_t sum;
    sf_summary_from_stream (&sum, &s);
    assert_int_equal (sf_summary_sort_value (&sum, SF_SORT_CLIENTS, 0, true), 42);
    assert_int_equal (sf_summary_sort_value (&sum, SF_SORT_BITRATE, 0, true), 4096);
    assert_int_equal (sf_summary_sort_value (&sum, SF_SORT_UPTIME, 1700000100, true), 100);
    assert_int_equal (sf_summary_sort_value (&sum, SF_SORT_UPTIME, 1700000100, false), -1);
    assert_int_equal (sf_summary_sort_value (&sum, SF_SORT_RECONNECTS, 0, true), (2LL << 32) | 9);
    sf_stream_clear (&s);
}

static void
test_summary_holds_the_sum_lines_and_names_its_format (void **state)
{
    sf_stream_t s;
    s_fill_stream (&s);
    sf_summary_t sum;
    sf_summary_from_stream (&sum, &s);
    assert_int_equal (sum.magic, SF_SUMMARY_MAGIC);
    assert_int_equal (sum.magic >> 16, 0x5346);
    assert_true (sum.magic != SF_SUMMARY_MAGIC_V1);
    assert_int_equal (sum.size, sizeof (sf_summary_t));
    assert_int_equal (sum.type, SF_TYPE_SECONDARY);
    assert_int_equal (sum.status, SF_STATUS_SUSPEND);
    assert_int_equal (sum.functions, 5);
    assert_int_equal (sum.clients, 42);
    assert_int_equal (sum.bitrate_kbps, 4096);
    assert_int_equal (sum.started_at, 1700000000);
    assert_int_equal (sum.reconnect_attempts, 2);
    assert_int_equal (sum.reconnect_total, 9);
    assert_int_equal (sum.gen, 5);
    assert_int_equal (sum.seq, 77);
    assert_int_equal (sum.flags, SF_SUM_STALE | SF_SUM_TRANSFERRED);
    sf_stream_clear (&s);
}

//  ---------------------------------------------------------------------------
//  The summary's migration: a store written by an older version (the
//  "SFS1" summary, no meta database) or in another table-made format

//  The summary as the first format laid it out
typedef struct {
    uint32_t magic;
    uint8_t type, status, functions, flags;
    uint32_t clients, bitrate_kbps;
    int64_t started_at;
    uint32_t reconnect_attempts, reconnect_total;
    uint64_t gen, seq;
} s_summary_v1_t;

typedef struct {
    int count;
    int migrated;
    int clients_sum;
} s_seen_t;

static int
s_seen_row (const sf_row_t *row, void *arg)
{
    s_seen_t *seen = arg;
    seen->count++;
    seen->clients_sum += (int) row->sum.clients;
    if (row->sum.flags & SF_SUM_MIGRATED)
        seen->migrated++;
    sf_stream_t s;
    sf_stream_init (&s);
    assert_int_equal (sf_row_decode (row, &s), 0);
    assert_string_equal (s.name, row->name);
    assert_int_equal (s.clients, row->sum.clients);
    sf_stream_clear (&s);
    return 0;
}

#define S_OLD_ROWS 300

static void
s_write_old_store (const char *dir)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi streams, byname;
    assert_int_equal (mdb_env_create (&env), 0);
    assert_int_equal (mdb_env_set_maxdbs (env, 16), 0);
    assert_int_equal (mdb_env_set_mapsize (env, 64 << 20), 0);
    assert_int_equal (mdb_env_open (env, dir, MDB_NOSYNC | MDB_NOTLS, 0640), 0);
    assert_int_equal (mdb_txn_begin (env, NULL, 0, &txn), 0);
    assert_int_equal (mdb_dbi_open (txn, "streams", MDB_CREATE, &streams), 0);
    assert_int_equal (mdb_dbi_open (txn, "byname", MDB_CREATE, &byname), 0);
    msgpack_sbuffer b;
    msgpack_sbuffer_init (&b);
    for (int i = 0; i < S_OLD_ROWS; i++) {
        sf_stream_t s;
        sf_stream_init (&s);
        snprintf (s.name, sizeof (s.name), "cam-%03d", i);
        snprintf (s.node, sizeof (s.node), "n%d", i % 3);
        s.clients = (uint32_t) i;
        s.version.gen = 1;
        s.version.seq = (uint64_t) i + 1;
        msgpack_sbuffer_clear (&b);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
        sf_stream_pack (&pk, &s, SF_ENC_FULL);
        char head [64];
        size_t hsize;
        if (i % 2 == 0) {
            //  The first format, with a derived flag fleet.c had set
            s_summary_v1_t v1 = { SF_SUMMARY_MAGIC_V1, 0, 0, 0, i % 10 == 0 ? SF_SUM_MIGRATED : 0,
                                  s.clients, 0, 0, 0, 0, 1, s.version.seq };
            memcpy (head, &v1, sizeof (v1));
            hsize = sizeof (v1);
        }
        else {
            //  Another table-made format: magic "SF..", flags at 4, its size at 6
            uint32_t magic = 0x53460000u | ((SF_SUMMARY_MAGIC + 1) & 0xffff);
            if ((magic & 0xffff) == (SF_SUMMARY_MAGIC_V1 & 0xffff))
                magic ^= 2;
            memset (head, 0x5a, sizeof (head));
            memcpy (head, &magic, 4);
            head [4] = 0;
            uint16_t size = 24;
            memcpy (head + 6, &size, 2);
            hsize = size;
        }
        char key [256];
        size_t ln = strlen (s.node), lm = strlen (s.name);
        memcpy (key, s.node, ln + 1);
        memcpy (key + ln + 1, s.name, lm);
        MDB_val k = { ln + 1 + lm, key };
        char *val = malloc (hsize + b.size);
        memcpy (val, head, hsize);
        memcpy (val + hsize, b.data, b.size);
        MDB_val v = { hsize + b.size, val };
        assert_int_equal (mdb_put (txn, streams, &k, &v, 0), 0);
        free (val);
        char nkey [256];
        memcpy (nkey, s.name, lm + 1);
        memcpy (nkey + lm + 1, s.node, ln);
        MDB_val nk = { lm + 1 + ln, nkey }, empty = { 0, "" };
        assert_int_equal (mdb_put (txn, byname, &nk, &empty, 0), 0);
        sf_stream_clear (&s);
    }
    msgpack_sbuffer_destroy (&b);
    assert_int_equal (mdb_txn_commit (txn), 0);
    mdb_env_close (env);
}

static void
s_check_store (sf_store_t *store)
{
    sf_read_t r;
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    size_t count = 0;
    assert_int_equal (sf_store_count_streams (&r, &count), 0);
    s_seen_t all = { 0 }, byname = { 0 };
    sf_store_scan_streams (&r, NULL, s_seen_row, &all);
    sf_store_scan_by_name (&r, false, 0, s_seen_row, &byname);
    sf_store_read_end (&r);
    //  The store's count and both listings agree: no row is hidden
    assert_int_equal (count, S_OLD_ROWS);
    assert_int_equal (all.count, S_OLD_ROWS);
    assert_int_equal (byname.count, S_OLD_ROWS);
    assert_int_equal (all.clients_sum, S_OLD_ROWS * (S_OLD_ROWS - 1) / 2);
    //  fleet.c's derived flags came across
    assert_int_equal (all.migrated, S_OLD_ROWS / 10);
}

static void
test_rows_of_old_summary_formats_are_visible_after_the_migration (void **state)
{
    char dir [64];
    snprintf (dir, sizeof (dir), "/tmp/sf-test-fields-XXXXXX");
    assert_non_null (mkdtemp (dir));
    s_write_old_store (dir);
    char err [256];
    sf_store_t *store = sf_store_new (dir, 64 << 20, err, sizeof (err));
    if (!store)
        fail_msg ("store did not open: %s", err);
    s_check_store (store);
    sf_store_destroy (&store);
    //  Once migrated, a reopen finds every row as it was
    store = sf_store_new (dir, 64 << 20, err, sizeof (err));
    assert_non_null (store);
    s_check_store (store);
    sf_store_destroy (&store);
    char cmd [128];
    snprintf (cmd, sizeof (cmd), "rm -rf '%s'", dir);
    assert_int_equal (system (cmd), 0);
}

//  ---------------------------------------------------------------------------
//  docs/protocol.md

static char *
s_between (const char *text, const char *begin, const char *end)
{
    const char *a = strstr (text, begin);
    const char *b = a ? strstr (a, end) : NULL;
    if (!a || !b)
        return NULL;
    a += strlen (begin) + 1;            //  the marker's line ends
    return strndup (a, (size_t) (b - a));
}

static void
test_protocol_doc_tables_are_the_field_table (void **state)
{
    FILE *f = fopen ("docs/protocol.md", "r");
    if (!f)
        fail_msg ("run from the source tree: docs/protocol.md not found");
    char *doc = NULL;
    size_t size = 0;
    FILE *mem = open_memstream (&doc, &size);
    char buf [4096];
    size_t n;
    while ((n = fread (buf, 1, sizeof (buf), f)) > 0)
        fwrite (buf, 1, n, mem);
    fclose (mem);
    fclose (f);
    const char *which [] = { "stream", "node" };
    for (int i = 0; i < 2; i++) {
        char begin [64], end [64];
        snprintf (begin, sizeof (begin), "<!-- fields:%s:begin -->", which [i]);
        snprintf (end, sizeof (end), "<!-- fields:%s:end -->", which [i]);
        char *have = s_between (doc, begin, end);
        if (!have)
            fail_msg ("docs/protocol.md lacks the %s markers", which [i]);
        char *want = NULL;
        size_t wsize = 0;
        FILE *w = open_memstream (&want, &wsize);
        sf_fields_markdown (w, which [i]);
        fclose (w);
        if (strcmp (have, want))
            fail_msg ("docs/protocol.md's %s field table is not the field table's: "
                      "run tools/gen-fields.sh --update", which [i]);
        free (have);
        free (want);
    }
    free (doc);
}

//  The REPLY and COL columns are consistent, so the reply encoder and the
//  listing's columns can derive from them: positions unique, the lines of
//  one reply map adjacent in reply order, every listed line in list rows,
//  every column in list rows, a pair column followed by a line that is too
//  A table's REPLY lines in their reply order: positions rise, and a nested
//  map's lines are adjacent (a group, once left, is never entered again)
static void
s_check_reply_order (const sf_field_t *table, const sf_field_t *const *order)
{
    size_t n = 0;
    for (const sf_field_t *f = table; f->key; f++)
        n += f->reply_path != NULL;
    //  A group, once left, is never entered again
    const char *closed [32];
    size_t closed_len [32], nclosed = 0;
    const char *cur = NULL;
    size_t cur_len = 0, i = 0;
    for (; order [i]; i++) {
        if (i && order [i]->reply_pos <= order [i - 1]->reply_pos)
            fail_msg ("REPLY positions of %s and %s are not rising", order [i - 1]->member,
                      order [i]->member);
        size_t glen;
        sf_field_reply_key (order [i], &glen);
        const char *g = glen ? order [i]->reply_path : NULL;
        if (cur && (!g || glen != cur_len || memcmp (g, cur, glen))) {
            assert_true (nclosed < 32);
            closed [nclosed] = cur;
            closed_len [nclosed++] = cur_len;
            cur = NULL;
        }
        if (g && !cur) {
            for (size_t j = 0; j < nclosed; j++)
                if (closed_len [j] == glen && !memcmp (closed [j], g, glen))
                    fail_msg ("the reply group of %s is split", order [i]->reply_path);
            cur = g;
            cur_len = glen;
        }
    }
    assert_int_equal (i, n);
}

static void
test_reply_and_columns_follow_the_table (void **state)
{
    (void) state;
    s_check_reply_order (sf_stream_fields, sf_reply_fields ());
    s_check_reply_order (sf_node_fields, sf_reply_node_fields ());
    for (const sf_field_t *f = sf_node_fields; f->key; f++)
        if (f->reply_path && f->reply_how == SF_RH_UPTIME && f->kind != SF_K_I64)
            fail_msg ("node %s: UPTIME needs an i64 time", f->member);
    for (const sf_field_t *f = sf_stream_fields; f->key; f++) {
        if ((f->where & SF_F_LISTED) && f->reply_sect != SF_RS_LIST)
            fail_msg ("%s is listed but not in list rows (REPLY LIST)", f->member);
        if (f->col_header && f->reply_sect != SF_RS_LIST)
            fail_msg ("column %s is not in list rows (REPLY LIST)", f->col_header);
        if (f->col_header && f->col_fmt == SF_CF_PAIR && (!f [1].key || f [1].reply_sect != SF_RS_LIST))
            fail_msg ("pair column %s needs a next line in list rows", f->col_header);
        if (f->reply_path && f->reply_how == SF_RH_UPTIME && f->kind != SF_K_I64)
            fail_msg ("%s: UPTIME needs an i64 time", f->member);
    }
    //  The encoding's own shape: a nested key
    const sf_field_t *f = sf_field_find (sf_stream_fields, "reconnect_attempts");
    assert_non_null (f);
    size_t glen;
    assert_string_equal (sf_field_reply_key (f, &glen), "attempts");
    assert_int_equal (glen, strlen ("reconnects"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_bytes_are_those_of_the_hand_written_codec),
        cmocka_unit_test (test_empty_uid_is_written_as_the_name),
        cmocka_unit_test (test_every_stream_line_round_trips_in_its_forms),
        cmocka_unit_test (test_every_node_line_round_trips_in_its_forms),
        cmocka_unit_test (test_every_bounded_line_takes_its_bound_and_refuses_one_byte_more),
        cmocka_unit_test (test_required_lines_are_required),
        cmocka_unit_test (test_sort_keys_are_the_sort_lines),
        cmocka_unit_test (test_summary_holds_the_sum_lines_and_names_its_format),
        cmocka_unit_test (test_rows_of_old_summary_formats_are_visible_after_the_migration),
        cmocka_unit_test (test_protocol_doc_tables_are_the_field_table),
        cmocka_unit_test (test_reply_and_columns_follow_the_table),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

/*  fuzz_envelope — one frame as a controller receives it on any endpoint:
    the envelope checks (protocol §3.1), then every record decoder on every
    map the body holds (puts of snap and batch changes, hello's node record,
    a heartbeat's usage), as ingest does. */
#include "fuzz.h"
#include "sf_codec.h"

static void
s_records (const msgpack_object *o, int depth)
{
    if (depth > 3)
        return;
    if (o->type == MSGPACK_OBJECT_MAP) {
        sf_stream_t s;
        sf_stream_init (&s);
        char err [SF_ERR_MAX];
        (void) sf_stream_unpack (o, &s, err);
        sf_stream_clear (&s);
        sf_node_t n;
        sf_node_init (&n);
        (void) sf_node_unpack (o, &n, err);
        sf_node_init (&n);
        (void) sf_usage_unpack (o, &n, err);
        uint64_t u; int64_t i; uint32_t u32; bool b; double d; char str [65]; char *text = NULL;
        (void) sf_map_u64 (o, "gen", &u, err);
        (void) sf_map_i64 (o, "seq", &i, err);
        (void) sf_map_u32 (o, "index", &u32, err);
        (void) sf_map_bool (o, "last", &b, err);
        (void) sf_map_double (o, "cpu", &d, err);
        (void) sf_map_str (o, "node", str, sizeof (str) - 1, err);
        (void) sf_map_text (o, "config", &text, 1024, err);
        free (text);
        for (uint32_t k = 0; k < o->via.map.size; k++)
            s_records (&o->via.map.ptr [k].val, depth + 1);
    }
    else
    if (o->type == MSGPACK_OBJECT_ARRAY)
        for (uint32_t k = 0; k < o->via.array.size && k < 64; k++)
            s_records (&o->via.array.ptr [k], depth + 1);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static sf_msg_t msg;
    static bool init;
    if (!init) {
        sf_msg_init (&msg);
        init = true;
    }
    if (sf_msg_parse (&msg, data, size) == 0) {
        FUZZ_CHECK (msg.body && msg.body->type == MSGPACK_OBJECT_MAP);
        FUZZ_CHECK (msg.type [0] && strlen (msg.type) <= 31);
        s_records (msg.body, 0);
    }
    else
        FUZZ_CHECK (msg.reason > SF_REJ_NONE && msg.reason < SF_REJ_COUNT && msg.error [0]);
    sf_msg_release (&msg);
    return 0;
}

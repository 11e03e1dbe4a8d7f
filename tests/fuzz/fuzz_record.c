/*  fuzz_record — a stream or node record as msgpack (a snap or batch put, a
    hello's node), decoded as ingest decodes it; what decodes must pack and
    decode again to the same bytes (the round trip of the field table). */
#include "fuzz.h"
#include "sf_codec.h"

static void
s_stream (const msgpack_object *o)
{
    sf_stream_t s, s2;
    sf_stream_init (&s);
    sf_stream_init (&s2);
    char err [SF_ERR_MAX];
    if (sf_stream_unpack (o, &s, err) == 0) {
        msgpack_sbuffer a, b;
        msgpack_sbuffer_init (&a);
        msgpack_sbuffer_init (&b);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &a, msgpack_sbuffer_write);
        sf_stream_pack (&pk, &s, SF_ENC_FULL);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        size_t off = 0;
        FUZZ_CHECK (msgpack_unpack_next (&u, a.data, a.size, &off) == MSGPACK_UNPACK_SUCCESS);
        FUZZ_CHECK (sf_stream_unpack (&u.data, &s2, err) == 0);
        msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
        sf_stream_pack (&pk, &s2, SF_ENC_FULL);
        FUZZ_CHECK (a.size == b.size && memcmp (a.data, b.data, a.size) == 0);
        //  The listing's and the reply's shapes pack without fault too
        msgpack_sbuffer_clear (&b);
        sf_stream_pack (&pk, &s, SF_ENC_ROW | SF_ENC_DERIVED);
        msgpack_unpacked_destroy (&u);
        msgpack_sbuffer_destroy (&a);
        msgpack_sbuffer_destroy (&b);
    }
    sf_stream_clear (&s);
    sf_stream_clear (&s2);
}

static void
s_node (const msgpack_object *o)
{
    sf_node_t n, n2;
    sf_node_init (&n);
    sf_node_init (&n2);
    char err [SF_ERR_MAX];
    if (sf_node_unpack (o, &n, err) == 0) {
        msgpack_sbuffer a, b;
        msgpack_sbuffer_init (&a);
        msgpack_sbuffer_init (&b);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &a, msgpack_sbuffer_write);
        sf_node_pack (&pk, &n, SF_ENC_FULL);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        size_t off = 0;
        FUZZ_CHECK (msgpack_unpack_next (&u, a.data, a.size, &off) == MSGPACK_UNPACK_SUCCESS);
        FUZZ_CHECK (sf_node_unpack (&u.data, &n2, err) == 0);
        msgpack_packer_init (&pk, &b, msgpack_sbuffer_write);
        sf_node_pack (&pk, &n2, SF_ENC_FULL);
        FUZZ_CHECK (a.size == b.size && memcmp (a.data, b.data, a.size) == 0);
        msgpack_unpacked_destroy (&u);
        msgpack_sbuffer_destroy (&a);
        msgpack_sbuffer_destroy (&b);
    }
    sf_node_init (&n);
    if (sf_usage_unpack (o, &n, err) == 0) {
        msgpack_sbuffer a;
        msgpack_sbuffer_init (&a);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &a, msgpack_sbuffer_write);
        sf_usage_pack (&pk, &n);
        msgpack_sbuffer_destroy (&a);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (sf_msgpack_precheck (data, size))
        return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    if (msgpack_unpack_next (&u, (const char *) data, size, &off) == MSGPACK_UNPACK_SUCCESS) {
        s_stream (&u.data);
        s_node (&u.data);
    }
    msgpack_unpacked_destroy (&u);
    return 0;
}

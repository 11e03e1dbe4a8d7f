/*  test_sources.c — source adapters as modules: each declares its own
    options, the agent parses them all from one command line into each
    adapter's config, and the source runner applies enrichment after every
    poll whatever the adapter.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "sf_agent.h"
#include "sf_aipix.h"
#include "sf_log.h"
#include "sf_nginx_stat.h"
#include "sf_codec.h"
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern const sf_source_ops_t sf_source_simulate;

static const sf_option_t *
s_option (const char *name)
{
    for (const sf_option_t *o = sf_agent_options (); o->name; o++)
        if (!strcmp (o->name, name))
            return o;
    return NULL;
}

//  Every registered adapter's options are in the agent's one table, once
static void
test_every_option_listed (void **state)
{
    (void) state;
    size_t sources = 0;
    for (size_t i = 0; sf_source_at (i); i++, sources++) {
        const sf_source_ops_t *ops = sf_source_at (i);
        assert_non_null (ops->summary);
        for (const sf_option_t *o = ops->options; o && o->name; o++)
            assert_non_null (s_option (o->name));
    }
    assert_true (sources >= 4);
    for (const sf_option_t *o = sf_agent_core_options; o->name; o++)
        assert_non_null (s_option (o->name));
    //  The core knows no adapter's option
    for (const sf_option_t *o = sf_agent_core_options; o->name; o++) {
        assert_string_not_equal (o->name, "stat-url");
        assert_string_not_equal (o->name, "api-url");
        assert_string_not_equal (o->name, "sim-streams");
    }
}

//  One command line fills the core's and each adapter's own config
static void
test_options_land_in_adapter_config (void **state)
{
    (void) state;
    static sf_agent_config_t cfg;
    sf_config_defaults (sf_agent_options (), &cfg);
    char *argv [] = { "agent", "--node", "n1", "--source", "aipix", "--api-url", "http://127.0.0.1:1/x",
                      "--stat-url", "http://127.0.0.1:2/stat", "--rtmp-app", "live", NULL };
    char err [256];
    int argc = (int) (sizeof argv / sizeof argv [0]) - 1;
    assert_int_equal (sf_config_parse_args (sf_agent_options (), &cfg, argc, argv, 1, err, sizeof err), argc);
    assert_string_equal (cfg.node, "n1");
    const sf_aipix_config_t *a = sf_agent_source_config (&cfg, &sf_source_aipix);
    const sf_nginx_config_t *n = sf_agent_source_config (&cfg, &sf_source_nginx);
    assert_string_equal (a->api_url, "http://127.0.0.1:1/x");
    assert_string_equal (a->api_token_mode, "header");         //  its default
    assert_string_equal (n->stat_url, "http://127.0.0.1:2/stat");
    assert_string_equal (n->rtmp_app, "live");
    //  Configs do not overlap
    assert_true ((const char *) a + sizeof *a <= (const char *) n
             ||  (const char *) n + sizeof *n <= (const char *) a);
}

//  The runner enriches a source that never calls enrichment itself: node
//  id, addresses, link templates and usage come from the agent
static void
test_runner_enriches (void **state)
{
    (void) state;
    static sf_agent_config_t cfg;
    sf_config_defaults (sf_agent_options (), &cfg);
    snprintf (cfg.node, sizeof cfg.node, "edge-9");
    snprintf (cfg.source, sizeof cfg.source, "simulate");
    snprintf (cfg.addr_external, sizeof cfg.addr_external, "edge-9.example.net");
    snprintf (cfg.hls_template, sizeof cfg.hls_template, "http://{host}/{name}.m3u8");
    char path [] = "/tmp/sf-sources-test.XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *ini = "[*]\nphoto = on\n";
    assert_int_equal (write (fd, ini, strlen (ini)), (ssize_t) strlen (ini));
    close (fd);
    snprintf (cfg.overrides, sizeof cfg.overrides, "%s", path);
    int64_t *streams = (int64_t *) ((char *) &cfg + s_option ("sim-streams")->offset);
    *streams = 5;
    char err [256];
    sf_source_t *src = sf_source_new (&cfg, err, sizeof err);
    assert_non_null (src);
    assert_ptr_equal (sf_source_ops (src), &sf_source_simulate);
    sf_streamset_t set;
    sf_streamset_init (&set);
    assert_int_equal (sf_source_poll (src, &set), 0);
    assert_int_equal (set.count, 5);
    assert_true (set.has_node);
    assert_string_equal (set.node.id, "edge-9");
    assert_string_equal (set.node.addr_external, "edge-9.example.net");
    assert_string_equal (set.node.hls_template, "http://{host}/{name}.m3u8");
    assert_true (set.node.mem_total_bytes > 0);
    //  No --net-interface: node bandwidth is the sum of its streams, in
    //  from the publishers, out to every viewer, and says so
    uint64_t in = 0, out = 0;
    for (size_t i = 0; i < set.count; i++) {
        assert_true (set.items [i].functions & SF_FN_PHOTO);
        if (set.items [i].status == SF_STATUS_ACTIVE) {
            in += set.items [i].bitrate_kbps;
            out += (uint64_t) set.items [i].bitrate_kbps * set.items [i].clients;
        }
        //  A simulated start is known to the ms, within its second
        int64_t ms = set.items [i].started_at_ms;
        if (set.items [i].status == SF_STATUS_ACTIVE)
            assert_int_equal (ms / 1000, set.items [i].started_at);
        else
            assert_int_equal (ms, 0);
    }
    assert_true (in > 0);
    assert_int_equal (set.node.in_kbps, in);
    assert_int_equal (set.node.out_kbps, out);
    assert_string_equal (set.node.bandwidth_source, "streams");
    sf_streamset_clear (&set);
    sf_source_destroy (&src);
    sf_source_destroy (&src);
    unlink (path);
    //  An unknown source is refused with the known ones named
    snprintf (cfg.source, sizeof cfg.source, "wowza");
    assert_null (sf_source_new (&cfg, err, sizeof err));
    assert_non_null (strstr (err, "nginx-rtmp"));
}

//  The simulator's partial states (sf_source.h): merged poll after poll,
//  they make exactly the state a whole poll of the same simulation reports
//  (same seed, same ticks), the replaced streams gone and the new ones in
static void
s_pack_bytes (const sf_stream_t *s, msgpack_sbuffer *buf)
{
    msgpack_sbuffer_clear (buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, buf, msgpack_sbuffer_write);
    sf_stream_pack (&pk, s, SF_ENC_FULL);
}

static void
test_simulate_partial_matches_whole (void **state)
{
    (void) state;
    static sf_agent_config_t cfg;
    sf_config_defaults (sf_agent_options (), &cfg);
    snprintf (cfg.node, sizeof cfg.node, "sim-1");
    char *argv [] = { "agent", "--sim-streams", "10000", "--sim-update-pct", "10", "--sim-churn-pct", "5",
                      "--sim-seed", "7", NULL };
    char err [256];
    assert_int_equal (sf_config_parse_args (sf_agent_options (), &cfg, 9, argv, 1, err, sizeof err), 9);
    const void *sc = sf_agent_source_config_const (&cfg, &sf_source_simulate);
    //  One clock for both, from their creation on (which draws every stream
    //  from now: two creations a second boundary apart differed, a flake
    //  seen under load), a second a poll: their ticks are the same
    int64_t clock = 1796000000;
    sf_simulate_clock = &clock;
    void *whole = sf_source_simulate.create (&cfg, sc, err, sizeof err);
    void *part = sf_source_simulate.create (&cfg, sc, err, sizeof err);
    assert_non_null (whole);
    assert_non_null (part);
    //  The merged state: records by name
    zhashx_t *merged = zhashx_new ();
    zhashx_set_destructor (merged, (zhashx_destructor_fn *) zchunk_destroy);
    msgpack_sbuffer buf, other;
    msgpack_sbuffer_init (&buf);
    msgpack_sbuffer_init (&other);
    size_t gone = 0, partial_items = 0;
    for (int poll = 0; poll < 240; poll++, clock++) {
        bool check = poll == 0 || poll % 60 == 59;
        sf_streamset_t a, b;
        sf_streamset_init (&a);
        sf_streamset_init (&b);
        a.partial_ok = !check;      //  whole when compared
        b.partial_ok = true;
        assert_int_equal (sf_source_simulate.poll (whole, &a), 0);
        assert_int_equal (sf_source_simulate.poll (part, &b), 0);
        assert_true (a.partial == !check || poll == 0);
        //  Never the first poll
        assert_true (b.partial == (poll > 0));
        if (poll > 0)
            partial_items += b.count;
        for (size_t i = 0; i < b.ngone; i++) {
            assert_non_null (zhashx_lookup (merged, b.gone [i]));
            zhashx_delete (merged, b.gone [i]);
            gone++;
        }
        for (size_t i = 0; i < b.count; i++) {
            s_pack_bytes (&b.items [i], &buf);
            zhashx_update (merged, b.items [i].name, zchunk_new (buf.data, buf.size));
        }
        if (check) {
            assert_false (a.partial);
            assert_int_equal (a.count, 10000);
            assert_int_equal (zhashx_size (merged), a.count);
            uint64_t in = 0;
            for (size_t i = 0; i < a.count; i++) {
                zchunk_t *bytes = zhashx_lookup (merged, a.items [i].name);
                assert_non_null (bytes);
                s_pack_bytes (&a.items [i], &other);
                assert_int_equal (zchunk_size (bytes), other.size);
                assert_memory_equal (zchunk_data (bytes), other.data, other.size);
                if (a.items [i].status == SF_STATUS_ACTIVE)
                    in += a.items [i].bitrate_kbps;
            }
            //  A partial state carries the node's totals itself
            if (b.partial) {
                assert_true (b.has_node);
                assert_int_equal (b.node.in_kbps, in);
                assert_string_equal (b.node.bandwidth_source, "streams");
            }
        }
        sf_streamset_clear (&a);
        sf_streamset_clear (&b);
    }
    //  Streams were replaced, and a poll reported a fraction of the node
    assert_true (gone > 0);
    assert_true (partial_items < 239 * 10000 / 4);
    zhashx_destroy (&merged);
    msgpack_sbuffer_destroy (&buf);
    msgpack_sbuffer_destroy (&other);
    sf_source_simulate.destroy (&whole);
    sf_source_simulate.destroy (&part);
    sf_simulate_clock = NULL;
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_every_option_listed),
        cmocka_unit_test (test_options_land_in_adapter_config),
        cmocka_unit_test (test_runner_enriches),
        cmocka_unit_test (test_simulate_partial_matches_whole),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

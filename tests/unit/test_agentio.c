/*  test_agentio.c — the agents' socket read by its own thread
    (controller/agentio.c).

    Pins down what keeps libzmq from ever stopping an agent's connection and
    memory bounded: the thread reads whatever arrives into per-connection
    queues while nobody takes from them; a queue over its bound drops what
    arrives, counted by reason (one connection's flood does not touch the
    others'); the bytes over all queues are bounded; messages are taken
    round-robin across connections; the handle signals arrivals; replies
    handed back reach their connection; a heartbeat counts in the liveness
    table as it arrives, for the node of its agent certificate, while the
    ingest thread takes nothing.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>
#include "sf_agentio.h"
#include "sf_live.h"
#include "sf_log.h"
#include "sf_security.h"

static int s_seq;

//  An agentio over an inproc ROUTER, and its endpoint in ep
static sf_agentio_t *
s_new (sf_metrics_t *m, size_t queue_max, size_t bytes_max, char *ep)
{
    snprintf (ep, 64, "inproc://test-agentio-%d", ++s_seq);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    assert_non_null (router);
    zsock_set_rcvhwm (router, 0);
    zsock_set_router_mandatory (router, 1);
    assert_int_equal (zsock_bind (router, "%s", ep), 0);
    sf_metrics_init (m);
    sf_agentio_t *io = sf_agentio_new (&(sf_agentio_config_t) {
        .sock = router, .metrics = m, .queue_max = queue_max, .bytes_max = bytes_max });
    assert_non_null (io);
    return io;
}

static zsock_t *
s_dealer (const char *ep, const char *id)
{
    zsock_t *d = zsock_new (ZMQ_DEALER);
    assert_non_null (d);
    zsock_set_identity (d, id);
    zsock_set_sndhwm (d, 0);
    assert_int_equal (zsock_connect (d, "%s", ep), 0);
    return d;
}

//  Waits until the queues hold n messages and every extra one was dropped
static void
s_wait_pending (sf_agentio_t *io, sf_metrics_t *m, size_t n, uint64_t dropped)
{
    for (int i = 0; i < 200; i++) {
        if (sf_agentio_pending (io) == n
        &&  atomic_load (&m->agent_dropped_queue_full) + atomic_load (&m->agent_dropped_memory)
            == dropped)
            return;
        zclock_sleep (10);
    }
    assert_int_equal (sf_agentio_pending (io), n);
}

//  The routing id of a taken message, as a string, and its payload
static void
s_take (sf_agentio_t *io, char *id, char *body)
{
    zmsg_t *m = sf_agentio_next (io);
    assert_non_null (m);
    char *r = zframe_strdup (zmsg_first (m)), *b = zframe_strdup (zmsg_next (m));
    strcpy (id, r);
    strcpy (body, b);
    free (r);
    free (b);
    zmsg_destroy (&m);
}

static void
test_round_robin_across_connections_in_order_within_each (void **state)
{
    sf_metrics_t m;
    char ep [64], id [64], body [64];
    sf_agentio_t *io = s_new (&m, 0, 0, ep);
    zsock_t *a = s_dealer (ep, "A"), *b = s_dealer (ep, "B");
    for (int i = 0; i < 10; i++)
        zstr_sendf (a, "a%d", i);
    s_wait_pending (io, &m, 10, 0);
    for (int i = 0; i < 3; i++)
        zstr_sendf (b, "b%d", i);
    s_wait_pending (io, &m, 13, 0);
    //  The handle says something arrived; ready clears it
    zmq_pollitem_t item = { sf_agentio_handle (io), 0, ZMQ_POLLIN, 0 };
    assert_int_equal (zmq_poll (&item, 1, 1000), 1);
    assert_int_equal (sf_agentio_ready (io), 13);
    assert_int_equal (zmq_poll (&item, 1, 0), 0);
    //  A's backlog does not hold B back: they alternate while both have some
    const char *want [] = { "a0", "b0", "a1", "b1", "a2", "b2", "a3", "a4" };
    for (size_t i = 0; i < sizeof (want) / sizeof (want [0]); i++) {
        s_take (io, id, body);
        assert_string_equal (body, want [i]);
        assert_int_equal (id [0], body [0] - 'a' + 'A');
    }
    assert_int_equal (sf_agentio_pending (io), 5);
    zsock_destroy (&a);
    zsock_destroy (&b);
    sf_agentio_destroy (&io);
    sf_agentio_destroy (&io);
    assert_null (io);
}

static void
test_a_full_queue_drops_what_arrives_and_counts_it (void **state)
{
    sf_metrics_t m;
    char ep [64], id [64], body [64];
    sf_agentio_t *io = s_new (&m, 5, 0, ep);
    zsock_t *a = s_dealer (ep, "A"), *b = s_dealer (ep, "B");
    //  Nobody takes: the thread reads on, keeps 5 of A's and drops the rest
    for (int i = 0; i < 50; i++)
        zstr_sendf (a, "a%d", i);
    s_wait_pending (io, &m, 5, 45);
    assert_int_equal (atomic_load (&m.agent_dropped_queue_full), 45);
    assert_int_equal (atomic_load (&m.agent_dropped_memory), 0);
    //  Another connection is not touched by it
    zstr_send (b, "b0");
    s_wait_pending (io, &m, 6, 45);
    s_take (io, id, body);
    assert_string_equal (body, "a0");
    s_take (io, id, body);
    assert_string_equal (body, "b0");
    //  What is taken makes room again
    zstr_send (a, "again");
    s_wait_pending (io, &m, 5, 45);
    for (int i = 1; i < 5; i++) {
        s_take (io, id, body);
        assert_string_equal (id, "A");
    }
    s_take (io, id, body);
    assert_string_equal (body, "again");
    assert_null (sf_agentio_next (io));
    zsock_destroy (&a);
    zsock_destroy (&b);
    sf_agentio_destroy (&io);
}

static void
test_bytes_over_all_queues_are_bounded (void **state)
{
    sf_metrics_t m;
    char ep [64];
    //  Each message is its routing id (1 byte) and 99 bytes: 10 fit in 1,000
    sf_agentio_t *io = s_new (&m, 0, 1000, ep);
    zsock_t *d [4];
    char payload [100];
    memset (payload, 'x', sizeof (payload) - 1);
    payload [sizeof (payload) - 1] = 0;
    for (int k = 0; k < 4; k++) {
        char name [2] = { (char) ('A' + k), 0 };
        d [k] = s_dealer (ep, name);
        for (int i = 0; i < 5; i++)
            zstr_send (d [k], payload);
    }
    s_wait_pending (io, &m, 10, 10);
    assert_int_equal (atomic_load (&m.agent_dropped_memory), 10);
    for (int k = 0; k < 4; k++)
        zsock_destroy (&d [k]);
    sf_agentio_destroy (&io);
}

static void
test_replies_reach_their_connection (void **state)
{
    sf_metrics_t m;
    char ep [64];
    sf_agentio_t *io = s_new (&m, 0, 0, ep);
    zsock_t *a = s_dealer (ep, "A"), *b = s_dealer (ep, "B");
    zstr_send (a, "hello");
    zstr_send (b, "hello");
    s_wait_pending (io, &m, 2, 0);
    for (int i = 0; i < 2; i++) {
        zmsg_t *msg = sf_agentio_next (io);
        zframe_t *route = zmsg_first (msg);
        char reply [16];
        snprintf (reply, sizeof (reply), "to %.*s", (int) zframe_size (route),
                  (char *) zframe_data (route));
        assert_int_equal (sf_agentio_send (io, route, "node", reply, strlen (reply)), 0);
        zmsg_destroy (&msg);
    }
    zsock_set_rcvtimeo (a, 2000);
    zsock_set_rcvtimeo (b, 2000);
    char *ra = zstr_recv (a), *rb = zstr_recv (b);
    assert_non_null (ra);
    assert_non_null (rb);
    assert_string_equal (ra, "to A");
    assert_string_equal (rb, "to B");
    free (ra);
    free (rb);
    //  A connection that is gone: the reply is dropped and counted
    zframe_t *gone = zframe_new ("Z", 1);
    assert_int_equal (sf_agentio_send (io, gone, "node-z", "x", 1), 0);
    for (int i = 0; i < 200 && atomic_load (&m.agent_replies_dropped) == 0; i++)
        zclock_sleep (10);
    assert_int_equal (atomic_load (&m.agent_replies_dropped), 1);
    zframe_destroy (&gone);
    zsock_destroy (&a);
    zsock_destroy (&b);
    sf_agentio_destroy (&io);
}

//  Makes certificate NAME in keys (with its secret half) and, when certs
//  is given, its public half in certs; returns it loaded with the secret
static zcert_t *
s_cert_in (const char *keys, const char *certs, const char *name, const char *role, const char *node)
{
    char path [160], err [256];
    snprintf (path, sizeof (path), "%s/%s", keys, name);
    assert_int_equal (sf_cert_create (path, role, name, node, err, sizeof (err)), 0);
    zcert_t *c = sf_cert_load (path, err, sizeof (err));
    assert_non_null (c);
    if (certs) {
        char pub [160];
        snprintf (pub, sizeof (pub), "%s/%s", certs, name);
        zcert_t *p = zcert_load (path);
        assert_non_null (p);
        assert_int_equal (zcert_save_public (p, pub), 0);
        zcert_destroy (&p);
    }
    return c;
}

static zsock_t *
s_curve_dealer (const char *ep, zcert_t *mine, const char *server_cert)
{
    zsock_t *d = zsock_new (ZMQ_DEALER);
    assert_non_null (d);
    char err [256];
    assert_int_equal (sf_sock_curve_client (d, mine, server_cert, err, sizeof (err)), 0);
    assert_int_equal (zsock_connect (d, "%s", ep), 0);
    return d;
}

static void
s_send_msg (zsock_t *d, const char *type, uint64_t gen, uint64_t counter)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_msg_begin (&pk, type, 2);
    sf_pack_ku64 (&pk, "gen", gen);
    sf_pack_ku64 (&pk, "counter", counter);
    assert_int_equal (zmq_send (zsock_resolve (d), sb.data, sb.size, 0), (int) sb.size);
    msgpack_sbuffer_destroy (&sb);
}

//  A node whose agent speaks is alive, however far behind the ingest
//  thread is: the heartbeat counts in the liveness table as the socket's
//  thread reads it, for the node its agent certificate names, while nothing
//  takes the queued messages. Only a heartbeat, and only from an agent
//  certificate with a node id. Failed before: a heartbeat counted only once
//  the ingest thread reached it, behind everything queued before it, so an
//  overloaded controller reported running agents' nodes down (the soak's
//  "node down while its agent ran")
static void
test_heartbeats_count_as_they_arrive (void **state)
{
    char keys [] = "/tmp/sf-test-agentio-keys.XXXXXX", certs [] = "/tmp/sf-test-agentio-certs.XXXXXX";
    assert_non_null (mkdtemp (keys));
    assert_non_null (mkdtemp (certs));
    zcert_t *server = s_cert_in (keys, NULL, "controller", "controller", "");
    zcert_t *n1 = s_cert_in (keys, certs, "n1", "agent", "n1");
    zcert_t *n2 = s_cert_in (keys, certs, "n2", "agent", "n2");
    zcert_t *ops = s_cert_in (keys, certs, "ops", "cli", "");
    char server_pub [160];
    snprintf (server_pub, sizeof (server_pub), "%s/controller", keys);
    sf_peers_t *peers = sf_peers_new (certs);
    assert_non_null (peers);
    zactor_t *zap = zactor_new (sf_zap_actor, peers);
    assert_non_null (zap);
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    sf_sock_curve_server (router, server);
    zsock_set_rcvhwm (router, 0);
    int port = zsock_bind (router, "tcp://127.0.0.1:*");
    assert_true (port > 0);
    char ep [64];
    snprintf (ep, sizeof (ep), "tcp://127.0.0.1:%d", port);
    sf_metrics_t m;
    sf_metrics_init (&m);
    sf_live_t *live = sf_live_new (3000, 10000);
    //  Every node silent for a minute: down
    int64_t long_ago = sf_mono_ms () - 60000;
    sf_live_know (live, "n1", long_ago);
    sf_live_know (live, "n2", long_ago);
    int64_t age;
    assert_int_equal (sf_live_state (live, "n1", sf_mono_ms (), &age), SF_LIVE_DOWN);
    sf_agentio_t *io = sf_agentio_new (&(sf_agentio_config_t) {
        .sock = router, .metrics = &m, .peers = peers, .live = live });
    assert_non_null (io);
    zsock_t *a = s_curve_dealer (ep, n1, server_pub);
    zsock_t *b = s_curve_dealer (ep, n2, server_pub);
    zsock_t *c = s_curve_dealer (ep, ops, server_pub);
    //  n2 sends a batch (with a gen and a counter, not a heartbeat), the
    //  operator's certificate a heartbeat, then n1 a heartbeat
    s_send_msg (b, "batch", 7, 5);
    s_send_msg (c, "hb", 7, 5);
    for (int i = 0; i < 500 && sf_agentio_pending (io) < 2; i++)
        zclock_sleep (10);
    s_send_msg (a, "hb", 7, 1);
    for (int i = 0; i < 500 && sf_agentio_pending (io) < 3; i++)
        zclock_sleep (10);
    assert_int_equal (sf_agentio_pending (io), 3);
    //  Nothing was taken from the queues: n1 is alive by its heartbeat alone
    assert_int_equal (sf_live_state (live, "n1", sf_mono_ms (), &age), SF_LIVE_ALIVE);
    assert_true (age < 3000);
    assert_int_equal (sf_live_state (live, "n2", sf_mono_ms (), &age), SF_LIVE_DOWN);
    assert_int_equal (sf_live_state (live, "ops", sf_mono_ms (), &age), SF_LIVE_DOWN);
    assert_int_equal (age, -1);             //  never made known
    //  The ingest thread, taking the heartbeat later, finds it counted
    assert_false (sf_live_beat (live, "n1", 7, 1, sf_mono_ms ()));
    //  Behind a window's worth of n1's messages (its heartbeat and 32
    //  batches wait), a heartbeat is counted and not queued: nothing more
    //  of it is needed, and an agent sends heartbeats outside its window
    for (int i = 0; i < SF_AGENT_WINDOW; i++)
        s_send_msg (a, "batch", 7, 100 + (uint64_t) i);
    for (int i = 0; i < 500 && sf_agentio_pending (io) < 3 + SF_AGENT_WINDOW; i++)
        zclock_sleep (10);
    assert_int_equal (sf_agentio_pending (io), 3 + SF_AGENT_WINDOW);
    s_send_msg (a, "hb", 7, 2);
    for (int i = 0; i < 500 && atomic_load (&m.agent_beats_unqueued) == 0; i++)
        zclock_sleep (10);
    assert_int_equal (atomic_load (&m.agent_beats_unqueued), 1);
    assert_int_equal (sf_agentio_pending (io), 3 + SF_AGENT_WINDOW);
    assert_false (sf_live_beat (live, "n1", 7, 2, sf_mono_ms ()));
    zsock_destroy (&a);
    zsock_destroy (&b);
    zsock_destroy (&c);
    sf_agentio_destroy (&io);
    zactor_destroy (&zap);
    sf_live_destroy (&live);
    sf_peers_destroy (&peers);
    zcert_destroy (&server);
    zcert_destroy (&n1);
    zcert_destroy (&n2);
    zcert_destroy (&ops);
    zdir_t *d;
    if ((d = zdir_new (keys, NULL))) {
        zdir_remove (d, true);
        zdir_destroy (&d);
    }
    if ((d = zdir_new (certs, NULL))) {
        zdir_remove (d, true);
        zdir_destroy (&d);
    }
    rmdir (keys);
    rmdir (certs);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (NULL);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_round_robin_across_connections_in_order_within_each),
        cmocka_unit_test (test_a_full_queue_drops_what_arrives_and_counts_it),
        cmocka_unit_test (test_bytes_over_all_queues_are_bounded),
        cmocka_unit_test (test_replies_reach_their_connection),
        cmocka_unit_test (test_heartbeats_count_as_they_arrive),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

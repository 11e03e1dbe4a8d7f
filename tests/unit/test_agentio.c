/*  test_agentio.c — the agents' socket read by its own thread
    (controller/agentio.c).

    Pins down what keeps libzmq from ever stopping an agent's connection and
    memory bounded: the thread reads whatever arrives into per-connection
    queues while nobody takes from them; a queue over its bound drops what
    arrives, counted by reason (one connection's flood does not touch the
    others'); the bytes over all queues are bounded; messages are taken
    round-robin across connections; the handle signals arrivals; replies
    handed back reach their connection.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <cmocka.h>
#include "sf_agentio.h"

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
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

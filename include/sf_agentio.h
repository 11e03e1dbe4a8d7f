/*  sf_agentio.h — the agents' socket, read by a thread of its own
    (controller/agentio.c; docs/architecture.md, "Threads").

    libzmq 4.3.4 aborts the process when a connection whose input a full
    pipe stopped (its receive HWM reached) then fails while ZMTP heartbeats
    are on (docs/operations.md, "libzmq 4.3.4 and full pipes"). The agents'
    window keeps that pipe from filling only for agents that keep it. So the
    agents' ROUTER has no receive HWM, and one thread owns it and drains it
    continuously, whatever the writer is doing, into one bounded queue per
    connection (keyed by routing id): libzmq never stops reading any
    connection. What does not fit is dropped where it arrives, counted
    (streamfleet_ingest_dropped_total, by reason) and logged at a limited
    rate naming the node. A window-keeping agent has at most 40 messages in
    flight (SF_AGENT_WINDOW + _CTL) and never reaches the bound; a client
    that ignores the window loses messages, and the protocol's resyncs
    recover it (a gap in seq asks for a snapshot).

    Heartbeats count on arrival: this thread gives a heartbeat (`hb`) of
    an agent certificate with a node id to the liveness table as it reads
    it (the node is the certificate's, as the ingest thread takes it), so
    a node is judged by whether its agent speaks, not by how far behind the
    ingest thread is; the ingest thread takes the same heartbeat later for
    the rest (its usage, its stale mark, its answer), and the counter it
    finds there has risen already.

    The ingest thread takes messages one at a time, round-robin across the
    connections that have some (sf_agentio_next), and hands its replies back
    (sf_agentio_send), which this thread sends on the ROUTER never blocking.
    It polls sf_agentio_handle for POLLIN (messages arrived), then calls
    sf_agentio_ready, then sf_agentio_next until NULL or its batch is full;
    while sf_agentio_pending is not 0 it must not wait in its poll.

    Threads: new/destroy from the owner; the others from the ingest thread
    only; the IO thread is internal.
*/
#ifndef SF_AGENTIO_H
#define SF_AGENTIO_H

#include "sf_codec.h"
#include "sf_live.h"
#include "sf_metrics.h"
#include "sf_security.h"
#include <czmq.h>

//  Messages queued per connection at most: five times what a window-keeping
//  agent can have in flight (the receive HWM the socket had before)
#define SF_AGENTIO_QUEUE_MAX 200
_Static_assert (SF_AGENTIO_QUEUE_MAX >= 4 * (SF_AGENT_WINDOW + SF_AGENT_WINDOW_CTL),
                "a window-keeping agent must never reach its queue's bound");
//  Bytes queued over all connections at most (a swarm of connections)
#define SF_AGENTIO_BYTES_MAX ((size_t) 1 << 30)

typedef struct sf_agentio_t sf_agentio_t;

typedef struct {
    zsock_t *sock;              //  the agents' ROUTER, bound; owned by agentio from now
    sf_metrics_t *metrics;
    sf_peers_t *peers;          //  names the node of a connection that loses messages, and
                                //  of a heartbeat
    sf_live_t *live;            //  heartbeats counted on arrival (NULL: by the ingest thread only)
    size_t queue_max;           //  0: SF_AGENTIO_QUEUE_MAX
    size_t bytes_max;           //  0: SF_AGENTIO_BYTES_MAX
} sf_agentio_config_t;

//  Starts the IO thread; NULL if it cannot (the socket is destroyed then)
sf_agentio_t *sf_agentio_new (const sf_agentio_config_t *cfg);
//  Stops the thread, drops what is queued, destroys the socket
void sf_agentio_destroy (sf_agentio_t **self_p);
//  The next message (routing frame first), round-robin across connections;
//  NULL when none is queued. The caller destroys it.
zmsg_t *sf_agentio_next (sf_agentio_t *self);
//  Messages queued now
size_t sf_agentio_pending (sf_agentio_t *self);
//  A socket handle to poll for ZMQ_POLLIN: messages arrived
void *sf_agentio_handle (sf_agentio_t *self);
//  Clears the handle's signal (call when it polled readable, before taking
//  messages); returns the messages queued
size_t sf_agentio_ready (sf_agentio_t *self);
//  Hands one reply to the connection at route (node names it in log lines)
//  to the IO thread, which sends it never blocking: one the connection will
//  not take (it is not reading, or gone) is dropped, counted
//  (streamfleet_ingest_replies_dropped_total) and logged at a limited rate.
//  Returns 0; -1 when the hand-off itself is full (dropped and counted too).
int sf_agentio_send (sf_agentio_t *self, zframe_t *route, const char *node, const void *data,
                     size_t size);
#endif

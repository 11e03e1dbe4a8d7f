/*  conndiag.c — a client socket's events read through zmq_socket_monitor
    (an inproc PAIR per watched socket), reduced to one verdict on why a
    CurveZMQ connection did not answer (sf_conndiag.h).
*/
#include "sf_conndiag.h"
#include "sf_alloc.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_conndiag_t {
    void *pair;                 //  reads the monitor's events
    void *target;
    sf_conn_state_t state;
    uint32_t detail;            //  ZAP status or protocol error of the verdict
    bool connected;             //  a TCP connection was made
    bool up;                    //  a handshaken connection is up now (no disconnect since)
    uint64_t drops;             //  connections that dropped (DISCONNECTED events)
};

sf_conndiag_t *
sf_conndiag_new (zsock_t *sock)
{
    sf_conndiag_t *self = sf_xcalloc (1, sizeof (*self));
    char ep [64];
    snprintf (ep, sizeof (ep), "inproc://sf-conndiag-%p", (void *) self);
    self->target = zsock_resolve (sock);
    if (zmq_socket_monitor (self->target, ep, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_CONNECT_RETRIED
                            | ZMQ_EVENT_CONNECT_DELAYED | ZMQ_EVENT_DISCONNECTED
                            | ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)) {
        free (self);
        return NULL;
    }
    self->pair = zmq_socket (zsys_init (), ZMQ_PAIR);
    if (!self->pair || zmq_connect (self->pair, ep)) {
        if (self->pair)
            zmq_close (self->pair);
        zmq_socket_monitor (self->target, NULL, 0);
        free (self);
        return NULL;
    }
    int linger = 0;
    zmq_setsockopt (self->pair, ZMQ_LINGER, &linger, sizeof (linger));
    return self;
}

void
sf_conndiag_destroy (sf_conndiag_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_conndiag_t *self = *self_p;
    zmq_socket_monitor (self->target, NULL, 0);
    zmq_close (self->pair);
    free (self);
    *self_p = NULL;
}

//  How telling a state is: a later, more telling event wins
static int
s_rank (sf_conn_state_t s)
{
    static const int rank [] = {
        [SF_CONN_UNKNOWN] = 0, [SF_CONN_NOTHING_LISTENS] = 1, [SF_CONN_CONNECTED] = 2,
        [SF_CONN_HANDSHAKE_STALLED] = 3, [SF_CONN_PROTOCOL] = 4, [SF_CONN_NOT_ADMITTED] = 5,
        [SF_CONN_UP] = 6,
    };
    return rank [s];
}

static void
s_see (sf_conndiag_t *self, sf_conn_state_t s, uint32_t detail)
{
    if (s_rank (s) > s_rank (self->state)) {
        self->state = s;
        self->detail = detail;
    }
}

sf_conn_state_t
sf_conndiag_state (sf_conndiag_t *self)
{
    while (true) {
        //  An event is two frames: 6 bytes (event, value) and the endpoint
        zmq_msg_t head, addr;
        zmq_msg_init (&head);
        if (zmq_msg_recv (&head, self->pair, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&head);
            break;
        }
        uint16_t event = 0;
        uint32_t value = 0;
        if (zmq_msg_size (&head) >= 6) {
            memcpy (&event, zmq_msg_data (&head), 2);
            memcpy (&value, (char *) zmq_msg_data (&head) + 2, 4);
        }
        zmq_msg_close (&head);
        zmq_msg_init (&addr);
        zmq_msg_recv (&addr, self->pair, ZMQ_DONTWAIT);
        zmq_msg_close (&addr);
        switch (event) {
            case ZMQ_EVENT_CONNECT_RETRIED:
            case ZMQ_EVENT_CONNECT_DELAYED:
                if (!self->connected)
                    s_see (self, SF_CONN_NOTHING_LISTENS, 0);
                break;
            case ZMQ_EVENT_CONNECTED:
                self->connected = true;
                s_see (self, SF_CONN_CONNECTED, 0);
                break;
            case ZMQ_EVENT_DISCONNECTED:
                //  A connection dropped before any handshake: the server
                //  could not open our HELLO (its key is not the one we use)
                if (self->connected)
                    s_see (self, SF_CONN_HANDSHAKE_STALLED, 0);
                self->up = false;
                self->drops++;
                break;
            case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
                s_see (self, SF_CONN_UP, 0);
                self->up = true;
                break;
            case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
                s_see (self, SF_CONN_NOT_ADMITTED, value);
                break;
            case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
                //  The server's WELCOME does not open with the key we hold
                //  for it: the classic wrong --server-cert
                if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
                ||  value == ZMQ_PROTOCOL_ERROR_ZMTP_MALFORMED_COMMAND_WELCOME)
                    s_see (self, SF_CONN_HANDSHAKE_STALLED, value);
                else
                    s_see (self, SF_CONN_PROTOCOL, value);
                break;
            case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
                //  The server hung up on our HELLO (EPIPE, ECONNRESET): it
                //  cannot open it, so it holds another key than we think
                s_see (self, SF_CONN_HANDSHAKE_STALLED, value);
                break;
            default:
                break;
        }
    }
    return self->state;
}

uint32_t
sf_conndiag_detail (sf_conndiag_t *self)
{
    return self->detail;
}

const char *
sf_conndiag_hint (sf_conn_state_t state, const char *ep, const char *cert,
                  const char *server_cert, char *buf, size_t size)
{
    switch (state) {
        case SF_CONN_NOTHING_LISTENS:
            snprintf (buf, size, "nothing listens at %s: is the controller running, and is this "
                      "its address and port?", ep);
            break;
        case SF_CONN_CONNECTED:
            snprintf (buf, size, "%s took the TCP connection but never answered the encrypted "
                      "handshake: the controller is stalled or overloaded (see its log and "
                      "/metrics)", ep);
            break;
        case SF_CONN_HANDSHAKE_STALLED:
            snprintf (buf, size, "%s accepts connections but the encrypted handshake never "
                      "completed: the server's key is likely not the one in %s (check "
                      "--server-cert), or it is not a streamfleet endpoint", ep, server_cert);
            break;
        case SF_CONN_NOT_ADMITTED:
            snprintf (buf, size, "%s refused our certificate %s: copy its public half into the "
                      "controller's --certs-dir (with the right role)", ep, cert);
            break;
        case SF_CONN_PROTOCOL:
            snprintf (buf, size, "the handshake with %s failed on a protocol error: is it a "
                      "streamfleet endpoint of this protocol version?", ep);
            break;
        case SF_CONN_UP:
            snprintf (buf, size, "%s accepted our connection but did not answer in time: the "
                      "controller may be overloaded (see its log and /metrics)", ep);
            break;
        default:
            snprintf (buf, size, "no answer from %s: check that a controller runs there, that its "
                      "key is %s and that it admits %s", ep, server_cert, cert);
            break;
    }
    return buf;
}

bool
sf_conndiag_up (sf_conndiag_t *self)
{
    sf_conndiag_state (self);
    return self->up;
}

uint64_t
sf_conndiag_drops (sf_conndiag_t *self)
{
    sf_conndiag_state (self);
    return self->drops;
}

/*  sf_conndiag.h — why a CurveZMQ connection did not answer. A client
    (the CLI, the agent) watches its socket's events (zmq_socket_monitor) and,
    when no answer came, names the likely cause instead of "no answer":
    nothing listens there; the handshake never completed (the server's key is
    not the one in --server-cert); the server refused our key (not admitted in
    its --certs-dir, a ZAP denial); or the handshake succeeded and the server
    was too slow to answer.
*/
#ifndef SF_CONNDIAG_H
#define SF_CONNDIAG_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    SF_CONN_UNKNOWN = 0,        //  no event seen (yet)
    SF_CONN_NOTHING_LISTENS,    //  TCP connect refused or timed out, never connected
    SF_CONN_CONNECTED,          //  TCP connected, and no word of the handshake since:
                                //  the server is stalled or overloaded
    SF_CONN_HANDSHAKE_STALLED,  //  connected, but the CURVE handshake failed or was
                                //  dropped (the server's key is not the one we hold)
    SF_CONN_NOT_ADMITTED,       //  the server's ZAP handler refused our key (status 400)
    SF_CONN_PROTOCOL,           //  the handshake failed on a protocol error
    SF_CONN_UP,                 //  handshake succeeded
} sf_conn_state_t;

typedef struct sf_conndiag_t sf_conndiag_t;

//  Starts watching sock's events (before it connects). NULL on failure
//  (then diagnose nothing; the caller works as before).
sf_conndiag_t *sf_conndiag_new (zsock_t *sock);
void sf_conndiag_destroy (sf_conndiag_t **self_p);
//  Reads the events that arrived so far and returns the verdict: the most
//  telling state seen (UP beats NOT_ADMITTED beats PROTOCOL beats
//  HANDSHAKE_STALLED beats CONNECTED beats NOTHING_LISTENS). Never blocks;
//  a long-lived watcher (the agent) calls it often to keep the queue short.
sf_conn_state_t sf_conndiag_state (sf_conndiag_t *self);
//  The number that came with the verdict: the ZAP status of NOT_ADMITTED
//  (e.g. 400), the ZMQ protocol error of PROTOCOL; else 0
uint32_t sf_conndiag_detail (sf_conndiag_t *self);
//  Whether a handshaken connection is up now: true from the handshake's
//  success until the connection drops (a peer that died, or whose ZMTP
//  heartbeats stopped, when the socket sets ZMQ_HEARTBEAT_IVL). Reads the
//  events first, as sf_conndiag_state does.
bool sf_conndiag_up (sf_conndiag_t *self);
//  How many times a connection of the socket dropped so far (what was
//  queued for it went with it). Reads the events first.
uint64_t sf_conndiag_drops (sf_conndiag_t *self);
//  One line naming the cause and what to do, for state, about endpoint ep,
//  our certificate cert and the server's public certificate server_cert
const char *sf_conndiag_hint (sf_conn_state_t state, const char *ep, const char *cert,
                              const char *server_cert, char *buf, size_t size);
#endif

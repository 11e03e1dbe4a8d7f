/*  sf_security.h — CurveZMQ on every socket (DESIGN §5).

    Certificates are czmq zcert files: "NAME" holds the public key and
    metadata, "NAME_secret" the secret key too. Metadata says who the holder
    is: role = agent | cli | peer | controller, and node = ID for agents.
    A controller admits the public certificates in its certificate directory
    (its own ZAP handler, sf_zap_actor below, reads the same cache of them
    as the message checks do) and, for every message, looks up the
    sender's certificate by the User-Id that ZAP attached (the client's public
    key) to learn its role and node.
*/
#ifndef SF_SECURITY_H
#define SF_SECURITY_H

#include <czmq.h>
#include "sf_record.h"

#define SF_ZAP_DOMAIN "streamfleet"

//  Loads a certificate (with its secret half when "PATH_secret" exists)
zcert_t *sf_cert_load (const char *path, char *err, size_t errlen);
//  The same without an error text: NULL when the file is missing, over
//  SF_CERT_FILE_MAX bytes, not ZPL or without a 40-character Z85 public key
#define SF_CERT_FILE_MAX (64 * 1024)
zcert_t *sf_cert_read (const char *path);
//  Creates a certificate with metadata and saves PATH and PATH_secret.
int sf_cert_create (const char *path, const char *role, const char *name, const char *node,
                    char *err, size_t errlen);
//  Makes sock a CURVE client of the server whose public certificate is at
//  server_cert, using the secret certificate mine. Sets ZMQ_MAXMSGSIZE too.
int sf_sock_curve_client (zsock_t *sock, zcert_t *mine, const char *server_cert,
                          char *err, size_t errlen);
//  Makes sock a CURVE server with server's keys, authenticated by ZAP
void sf_sock_curve_server (zsock_t *sock, zcert_t *server);

//  The admitted certificates: the public certificates in the certificate
//  directory, re-read when the directory changes (looked at no more often
//  than every SF_PEERS_RESCAN_MS), so a removed certificate is refused and a
//  changed role or node takes effect from the sender's next message, on
//  connections that are already open too. Thread-safe: the ingest, query and
//  ZAP threads share one.
#define SF_PEERS_RESCAN_MS 250
typedef struct sf_peers_t sf_peers_t;
typedef struct {
    char key [41];              //  public key, Z85
    char role [16];
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
} sf_peer_t;
typedef enum { SF_ENDPOINT_AGENTS, SF_ENDPOINT_QUERY, SF_ENDPOINT_PEERS } sf_endpoint_t;

sf_peers_t *sf_peers_new (const char *certs_dir);
void sf_peers_destroy (sf_peers_t **self_p);
//  How often the directory is looked at (tests)
void sf_peers_set_rescan (sf_peers_t *self, int64_t rescan_ms);
//  Copies the certificate with this public key (Z85) into *peer; -1 if none
int sf_peers_find (sf_peers_t *self, const char *key, sf_peer_t *peer);
//  The same for the sender of a received frame (its ZAP User-Id); -1 if its
//  key is not admitted (any more)
int sf_peers_lookup (sf_peers_t *self, zframe_t *frame, sf_peer_t *peer);
//  Whether a role is one of agent, cli, peer, controller
bool sf_peer_known_role (const sf_peer_t *peer);
//  Whether the holder may send to an endpoint: agents an agent with a node
//  id; queries cli, peer or controller; peers peer or controller (a
//  controller's own certificate is a peer's)
bool sf_peer_admits (const sf_peer_t *peer, sf_endpoint_t endpoint);

//  The ZAP handler, as a czmq actor: zactor_new (sf_zap_actor, peers).
//  Admits CURVE clients whose key is admitted with a known role; logs every
//  refusal (rate-limited) with the key and the certificate directory.
void sf_zap_actor (zsock_t *pipe, void *peers);
#endif

/*  sf_security.h — CurveZMQ on every socket (DESIGN §5).

    Certificates are czmq zcert files: "NAME" holds the public key and
    metadata, "NAME_secret" the secret key too. Metadata says who the holder
    is: role = agent | cli | peer | controller, and node = ID for agents.
    A controller admits the public certificates in its certificate directory
    (czmq zauth as the ZAP handler) and, for every message, looks up the
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
//  Creates a certificate with metadata and saves PATH and PATH_secret.
int sf_cert_create (const char *path, const char *role, const char *name, const char *node,
                    char *err, size_t errlen);
//  Makes sock a CURVE client of the server whose public certificate is at
//  server_cert, using the secret certificate mine. Sets ZMQ_MAXMSGSIZE too.
int sf_sock_curve_client (zsock_t *sock, zcert_t *mine, const char *server_cert,
                          char *err, size_t errlen);
//  Makes sock a CURVE server with server's keys, authenticated by ZAP
void sf_sock_curve_server (zsock_t *sock, zcert_t *server);

//  Sender identity lookup, cached per public key
typedef struct sf_peers_t sf_peers_t;
typedef struct {
    char key [41];
    char role [16];
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
} sf_peer_t;
sf_peers_t *sf_peers_new (const char *certs_dir);
void sf_peers_destroy (sf_peers_t **self_p);
//  Identifies the sender of a received frame; NULL if its key is not admitted
const sf_peer_t *sf_peers_lookup (sf_peers_t *self, zframe_t *frame);
#endif

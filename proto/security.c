/*  security.c — certificates and CURVE socket set-up (include/sf_security.h). */
#include "sf_security.h"
#include "sf_codec.h"
#include <errno.h>
#include <string.h>

zcert_t *
sf_cert_load (const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf (err, errlen, "no certificate given (see --help: --cert)");
        return NULL;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert)
        snprintf (err, errlen, "cannot load certificate %s (make one with 'streamfleet keygen')", path);
    return cert;
}

int
sf_cert_create (const char *path, const char *role, const char *name, const char *node,
                char *err, size_t errlen)
{
    zcert_t *cert = zcert_new ();
    if (!cert) {
        snprintf (err, errlen, "cannot create a certificate: is libzmq built with CURVE?");
        return -1;
    }
    zcert_set_meta (cert, "role", "%s", role);
    if (name && *name)
        zcert_set_meta (cert, "name", "%s", name);
    if (node && *node)
        zcert_set_meta (cert, "node", "%s", node);
    zcert_set_meta (cert, "created", "%lld", (long long) time (NULL));
    int rc = zcert_save (cert, path);
    zcert_destroy (&cert);
    if (rc) {
        snprintf (err, errlen, "cannot write certificate %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

int
sf_sock_curve_client (zsock_t *sock, zcert_t *mine, const char *server_cert, char *err,
                      size_t errlen)
{
    zcert_t *server = zcert_load (server_cert);
    if (!server) {
        snprintf (err, errlen, "cannot load the controller's public certificate %s", server_cert);
        return -1;
    }
    zcert_apply (mine, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (server));
    zsock_set_maxmsgsize (sock, SF_FRAME_MAX);
    zcert_destroy (&server);
    return 0;
}

void
sf_sock_curve_server (zsock_t *sock, zcert_t *server)
{
    zcert_apply (server, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, SF_ZAP_DOMAIN);
    zsock_set_maxmsgsize (sock, SF_FRAME_MAX);
}

struct sf_peers_t {
    zcertstore_t *store;
    zhashx_t *cache;            //  key -> sf_peer_t
};

sf_peers_t *
sf_peers_new (const char *certs_dir)
{
    sf_peers_t *self = calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    self->store = zcertstore_new (certs_dir);
    self->cache = zhashx_new ();
    zhashx_set_destructor (self->cache, (zhashx_destructor_fn *) zstr_free);
    return self;
}

void
sf_peers_destroy (sf_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zcertstore_destroy (&(*self_p)->store);
    zhashx_destroy (&(*self_p)->cache);
    free (*self_p);
    *self_p = NULL;
}

const sf_peer_t *
sf_peers_lookup (sf_peers_t *self, zframe_t *frame)
{
    const char *key = zframe_meta (frame, "User-Id");
    if (!key || strlen (key) != 40)
        return NULL;
    sf_peer_t *peer = zhashx_lookup (self->cache, key);
    if (peer)
        return peer;
    zcert_t *cert = zcertstore_lookup (self->store, key);
    if (!cert)
        return NULL;
    peer = calloc (1, sizeof (*peer));
    if (!peer)
        return NULL;
    snprintf (peer->key, sizeof (peer->key), "%s", key);
    const char *v;
    if ((v = zcert_meta (cert, "role")))
        snprintf (peer->role, sizeof (peer->role), "%s", v);
    if ((v = zcert_meta (cert, "node")))
        snprintf (peer->node, sizeof (peer->node), "%s", v);
    if ((v = zcert_meta (cert, "name")))
        snprintf (peer->name, sizeof (peer->name), "%s", v);
    zhashx_insert (self->cache, key, peer);
    return peer;
}

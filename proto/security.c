/*  security.c — certificates and CURVE socket set-up (include/sf_security.h). */
#include "sf_security.h"
#include "sf_codec.h"
#include "sf_alloc.h"
#include "sf_log.h"
#include <dirent.h>
#include <sodium.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

//  One certificate file as zcert_load reads it, without its leak: czmq's
//  zconfig_load loses its zfile_t when the text does not parse, so every
//  malformed file in the certificate directory leaked at each re-read
//  (found by tests/fuzz/fuzz_cert). Files over SF_CERT_FILE_MAX are refused.
static zcert_t *
s_cert_file (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    char *text = malloc (SF_CERT_FILE_MAX + 1);
    size_t len = text ? fread (text, 1, SF_CERT_FILE_MAX + 1, f) : 0;
    fclose (f);
    zcert_t *cert = NULL;
    if (text && len <= SF_CERT_FILE_MAX) {
        zchunk_t *chunk = zchunk_new (text, len);
        zconfig_t *root = chunk ? zconfig_chunk_load (chunk) : NULL;
        zchunk_destroy (&chunk);
        const char *pub = root ? zconfig_get (root, "/curve/public-key", NULL) : NULL;
        const char *sec = root ? zconfig_get (root, "/curve/secret-key", NULL) : NULL;
        byte public_key [32] = { 0 }, secret_key [32] = { 0 };
        if (pub && strlen (pub) == 40 && zmq_z85_decode (public_key, pub)
        &&  (!sec || strlen (sec) != 40 || zmq_z85_decode (secret_key, sec)))
            cert = zcert_new_from (public_key, secret_key);
        zconfig_t *meta = cert ? zconfig_locate (root, "/metadata") : NULL;
        for (zconfig_t *item = meta ? zconfig_child (meta) : NULL; item; item = zconfig_next (item))
            if (zconfig_name (item))
                zcert_set_meta (cert, zconfig_name (item), "%s",
                                zconfig_value (item) ? zconfig_value (item) : "");
        sodium_memzero (secret_key, sizeof (secret_key));
        zconfig_destroy (&root);
    }
    if (text) {
        sodium_memzero (text, len);         //  it may have held a secret key
        free (text);
    }
    return cert;
}

zcert_t *
sf_cert_read (const char *path)
{
    //  As zcert_load: the secret certificate when there is one, else the public
    char secret [PATH_MAX];
    zcert_t *cert = NULL;
    if (snprintf (secret, sizeof (secret), "%s_secret", path) < (int) sizeof (secret))
        cert = s_cert_file (secret);
    return cert ? cert : s_cert_file (path);
}

zcert_t *
sf_cert_load (const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf (err, errlen, "no certificate given (see --help: --cert)");
        return NULL;
    }
    zcert_t *cert = sf_cert_read (path);
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
    zcert_t *server = sf_cert_read (server_cert);
    if (!server) {
        snprintf (err, errlen, "cannot load the controller's public certificate %s", server_cert);
        return -1;
    }
    zcert_apply (mine, sock);
    zsock_set_curve_serverkey (sock, zcert_public_txt (server));
    zsock_set_maxmsgsize (sock, SF_SOCKET_MSG_MAX);
    zcert_destroy (&server);
    return 0;
}

void
sf_sock_curve_server (zsock_t *sock, zcert_t *server)
{
    zcert_apply (server, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, SF_ZAP_DOMAIN);
    zsock_set_maxmsgsize (sock, SF_SOCKET_MSG_MAX);
}

//  ---------------------------------------------------------------------------
//  Admitted certificates, as the directory holds them now

struct sf_peers_t {
    pthread_mutex_t lock;       //  guards all below: ingest, query and ZAP threads share it
    char *dir;
    zhashx_t *certs;            //  public key (Z85) -> sf_peer_t, as last read
    uint64_t signature;         //  of the directory's entries when last read
    bool reread;                //  an entry was too fresh to trust its time stamps
    int64_t checked_ms;         //  monotonic time of the last look at the directory
    int64_t rescan_ms;
    sf_ratelimit_t rl;
};

static uint64_t
s_mix (uint64_t h, uint64_t v)
{
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

//  Whether an entry of the directory is a certificate file (czmq's zdir
//  skips hidden files too; editors' swap files start with '.')
static bool
s_cert_entry (const char *dir, const struct dirent *e, struct stat *st, char *path, size_t pathlen)
{
    if (e->d_name [0] == '.')
        return false;
    snprintf (path, pathlen, "%s/%s", dir, e->d_name);
    return stat (path, st) == 0 && S_ISREG (st->st_mode);
}

//  A fingerprint of the directory: names, inodes, sizes and change times of
//  its files. Sets *fresh when some file changed so recently that a second
//  change within the file system's time stamp granularity could hide.
static uint64_t
s_dir_signature (const char *dir, bool *fresh)
{
    uint64_t h = 0x5f3759df;
    *fresh = false;
    DIR *d = opendir (dir);
    if (!d)
        return 0;
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    struct dirent *e;
    char path [PATH_MAX];
    struct stat st;
    uint64_t files = 0;
    while ((e = readdir (d))) {
        if (!s_cert_entry (dir, e, &st, path, sizeof (path)))
            continue;
        //  Entries come in no fixed order: combine them commutatively
        uint64_t f = 0;
        for (const char *p = e->d_name; *p; p++)
            f = s_mix (f, (unsigned char) *p);
        f = s_mix (f, (uint64_t) st.st_ino);
        f = s_mix (f, (uint64_t) st.st_size);
        f = s_mix (f, (uint64_t) st.st_mtim.tv_sec * 1000000000ULL + (uint64_t) st.st_mtim.tv_nsec);
        f = s_mix (f, (uint64_t) st.st_ctim.tv_sec * 1000000000ULL + (uint64_t) st.st_ctim.tv_nsec);
        h += f;
        files++;
        if (st.st_mtim.tv_sec >= now.tv_sec - 1 || st.st_ctim.tv_sec >= now.tv_sec - 1)
            *fresh = true;
    }
    closedir (d);
    return s_mix (h, files);
}

static void
s_peers_load (sf_peers_t *self)
{
    zhashx_t *certs = zhashx_new ();
    zhashx_set_destructor (certs, (zhashx_destructor_fn *) zstr_free);
    DIR *d = opendir (self->dir);
    struct dirent *e;
    char path [PATH_MAX];
    struct stat st;
    while (d && (e = readdir (d))) {
        if (!s_cert_entry (self->dir, e, &st, path, sizeof (path)))
            continue;
        zcert_t *cert = sf_cert_read (path);
        if (!cert)
            continue;
        sf_peer_t *peer = sf_xcalloc (1, sizeof (*peer));
        snprintf (peer->key, sizeof (peer->key), "%s", zcert_public_txt (cert));
        const char *v;
        if ((v = zcert_meta (cert, "role")))
            snprintf (peer->role, sizeof (peer->role), "%s", v);
        if ((v = zcert_meta (cert, "node")))
            snprintf (peer->node, sizeof (peer->node), "%s", v);
        if ((v = zcert_meta (cert, "name")))
            snprintf (peer->name, sizeof (peer->name), "%s", v);
        if (!peer->name [0])
            snprintf (peer->name, sizeof (peer->name), "%.*s", (int) sizeof (peer->name) - 1, e->d_name);
        zcert_destroy (&cert);
        zhashx_update (certs, peer->key, peer);
    }
    if (d)
        closedir (d);
    zhashx_destroy (&self->certs);
    self->certs = certs;
}

sf_peers_t *
sf_peers_new (const char *certs_dir)
{
    sf_peers_t *self = sf_xcalloc (1, sizeof (*self));
    pthread_mutex_init (&self->lock, NULL);
    self->dir = sf_xstrdup (certs_dir);
    self->rescan_ms = SF_PEERS_RESCAN_MS;
    self->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (10, 10000);
    bool fresh;
    self->signature = s_dir_signature (self->dir, &fresh);
    self->reread = fresh;
    self->checked_ms = sf_mono_ms ();
    s_peers_load (self);
    return self;
}

void
sf_peers_destroy (sf_peers_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_peers_t *self = *self_p;
    zhashx_destroy (&self->certs);
    pthread_mutex_destroy (&self->lock);
    free (self->dir);
    free (self);
    *self_p = NULL;
}

void
sf_peers_set_rescan (sf_peers_t *self, int64_t rescan_ms)
{
    pthread_mutex_lock (&self->lock);
    self->rescan_ms = rescan_ms;
    pthread_mutex_unlock (&self->lock);
}

//  Re-reads the directory when it changed; at most once per rescan_ms, so a
//  busy ingest thread pays one readdir per interval, not one per message
static void
s_peers_refresh (sf_peers_t *self, bool now_please)
{
    int64_t now = sf_mono_ms ();
    if (!now_please && now - self->checked_ms < self->rescan_ms)
        return;
    self->checked_ms = now;
    bool fresh;
    uint64_t sig = s_dir_signature (self->dir, &fresh);
    if (sig != self->signature || self->reread) {
        self->signature = sig;
        s_peers_load (self);
    }
    self->reread = fresh;
}

//  A key not found at a handshake makes us look at the directory at once: a
//  certificate copied there a moment ago admits its holder without delay
static int
s_peers_find (sf_peers_t *self, const char *key, sf_peer_t *peer, bool recheck_on_miss)
{
    if (!key || strlen (key) != 40)
        return -1;
    pthread_mutex_lock (&self->lock);
    s_peers_refresh (self, false);
    const sf_peer_t *found = zhashx_lookup (self->certs, key);
    if (!found && recheck_on_miss) {
        s_peers_refresh (self, true);
        found = zhashx_lookup (self->certs, key);
    }
    if (found)
        *peer = *found;
    pthread_mutex_unlock (&self->lock);
    return found ? 0 : -1;
}

int
sf_peers_find (sf_peers_t *self, const char *key, sf_peer_t *peer)
{
    return s_peers_find (self, key, peer, false);
}

int
sf_peers_lookup (sf_peers_t *self, zframe_t *frame, sf_peer_t *peer)
{
    return sf_peers_find (self, zframe_meta (frame, "User-Id"), peer);
}

bool
sf_peer_known_role (const sf_peer_t *peer)
{
    return !strcmp (peer->role, "agent") || !strcmp (peer->role, "cli")
        || !strcmp (peer->role, "peer") || !strcmp (peer->role, "controller");
}

bool
sf_peer_admits (const sf_peer_t *peer, sf_endpoint_t endpoint)
{
    //  A controller's own certificate is a peer's: clusters share one
    bool is_peer = !strcmp (peer->role, "peer") || !strcmp (peer->role, "controller");
    switch (endpoint) {
        case SF_ENDPOINT_AGENTS:
            return !strcmp (peer->role, "agent") && peer->node [0];
        case SF_ENDPOINT_QUERY:
            return is_peer || !strcmp (peer->role, "cli");
        case SF_ENDPOINT_PEERS:
            return is_peer;
    }
    return false;
}

//  ---------------------------------------------------------------------------
//  The ZAP handler (ZeroMQ RFC 27): admits a CURVE client whose public key
//  is in the certificate directory with a known role, and tells libzmq its
//  key as the User-Id that sf_peers_lookup reads back from every message.

static void
s_zap_reply (zsock_t *rep, zframe_t *request_id, const char *code, const char *text,
             const char *user_id)
{
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_append (reply, &request_id);
    zmsg_addstr (reply, code);
    zmsg_addstr (reply, text);
    zmsg_addstr (reply, user_id);
    zmsg_addmem (reply, NULL, 0);
    zmsg_send (&reply, rep);
}

static void
s_zap_handle (sf_peers_t *peers, zsock_t *rep)
{
    zmsg_t *req = zmsg_recv (rep);
    if (!req)
        return;
    //  version, request id, domain, address, identity, mechanism, credentials
    char *version = zmsg_popstr (req);
    zframe_t *request_id = zmsg_pop (req);
    char *domain = zmsg_popstr (req);
    char *address = zmsg_popstr (req);
    char *identity = zmsg_popstr (req);
    char *mechanism = zmsg_popstr (req);
    zframe_t *key = zmsg_pop (req);
    if (!version || strcmp (version, "1.0") || !request_id) {
        //  Not ZAP as RFC 27 has it: libzmq never sends this, nothing to answer
        zframe_destroy (&request_id);
        goto done;
    }
    char z85 [41] = "";
    if (mechanism && !strcmp (mechanism, "CURVE") && key && zframe_size (key) == 32)
        zmq_z85_encode (z85, zframe_data (key), 32);
    sf_peer_t peer;
    const char *why = NULL;
    if (!z85 [0])
        why = "not a CURVE client";
    else if (s_peers_find (peers, z85, &peer, true))
        why = "its certificate is not in the certificate directory";
    else if (!peer.role [0])
        why = "its certificate has no role (make one with 'streamfleet keygen --role')";
    else if (!sf_peer_known_role (&peer))
        why = "its certificate's role is none of agent, cli, peer, controller";
    if (why) {
        pthread_mutex_lock (&peers->lock);
        sf_log_limited (&peers->rl, SF_LOG_WARN,
                        "security: refused a handshake from %s, key %s: %s (certificate directory %s)",
                        address && *address ? address : "an unknown address",
                        z85 [0] ? z85 : "none", why, peers->dir);
        pthread_mutex_unlock (&peers->lock);
        s_zap_reply (rep, request_id, "400", why, "");
    }
    else
        s_zap_reply (rep, request_id, "200", "OK", z85);
done:
    zstr_free (&version);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&identity);
    zstr_free (&mechanism);
    zframe_destroy (&key);
    zmsg_destroy (&req);
}

void
sf_zap_actor (zsock_t *pipe, void *args)
{
    sf_peers_t *peers = args;
    zsock_t *rep = zsock_new (ZMQ_REP);
    if (!rep || zsock_bind (rep, "inproc://zeromq.zap.01") < 0) {
        sf_error ("security: cannot start the ZAP handler (is another one running?)");
        zsock_destroy (&rep);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, rep, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == rep)
            s_zap_handle (peers, rep);
        else if (which == pipe) {
            zmsg_t *cmd = zmsg_recv (pipe);
            char *verb = cmd ? zmsg_popstr (cmd) : NULL;
            bool term = !verb || !strcmp (verb, "$TERM");
            zstr_free (&verb);
            zmsg_destroy (&cmd);
            if (term)
                break;
        }
        else if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&rep);
}

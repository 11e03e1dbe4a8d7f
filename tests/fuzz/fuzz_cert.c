/*  fuzz_cert — a public certificate file as the controller reads its
    certificate directory (czmq's ZPL text: curve public key and metadata
    role, node, name): loaded alone, then admitted through the directory,
    and looked up by its key for every endpoint. */
#include "fuzz.h"
#include "sf_security.h"
#include <unistd.h>

static char s_dir [64];
static char s_path [96];

static void
s_done (void)
{
    unlink (s_path);
    rmdir (s_dir);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (!s_dir [0]) {
        fuzz_quiet ();
        strcpy (s_dir, "/tmp/sf-fuzz-cert.XXXXXX");
        FUZZ_CHECK (mkdtemp (s_dir));
        snprintf (s_path, sizeof (s_path), "%s/peer.cert", s_dir);
        atexit (s_done);
    }
    FILE *f = fopen (s_path, "w");
    FUZZ_CHECK (f);
    FUZZ_CHECK (fwrite (data, 1, size, f) == size);
    fclose (f);
    char err [512];
    zcert_t *cert = sf_cert_load (s_path, err, sizeof (err));
    char key [41] = "";
    if (cert) {
        snprintf (key, sizeof (key), "%s", zcert_public_txt (cert));
        (void) zcert_meta (cert, "role");
        (void) zcert_meta (cert, "node");
        zcert_destroy (&cert);
    }
    sf_peers_t *peers = sf_peers_new (s_dir);
    FUZZ_CHECK (peers);
    sf_peer_t peer;
    if (key [0] && sf_peers_find (peers, key, &peer) == 0) {
        FUZZ_CHECK (strlen (peer.role) < sizeof (peer.role));
        (void) sf_peer_admits (&peer, SF_ENDPOINT_QUERY);
        (void) sf_peer_admits (&peer, SF_ENDPOINT_AGENTS);
        (void) sf_peer_admits (&peer, SF_ENDPOINT_PEERS);
    }
    sf_peers_destroy (&peers);
    return 0;
}

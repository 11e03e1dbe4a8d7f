/*  cmd_keygen.c — `streamfleet keygen`: makes CurveZMQ certificates. */
#include "sf_cli.h"
#include "sf_security.h"
#include <getopt.h>
#include <string.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: streamfleet keygen --role agent|cli|peer|controller [--node ID] [--name NAME]\n"
        "                          --out PATH [--force]\n"
        "\n"
        "Writes PATH (public key and metadata: give it to the controllers' --certs-dir)\n"
        "and PATH_secret (keep it on this host). An agent's certificate names its node\n"
        "(--node); the controller accepts records only for that node. An existing PATH or\n"
        "PATH_secret is never overwritten unless --force is given (exit 4).\n");
}

int
sf_cmd_keygen (sf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts [] = {
        { "role", required_argument, 0, 'r' }, { "node", required_argument, 0, 'n' },
        { "name", required_argument, 0, 'N' }, { "out", required_argument, 0, 'o' },
        { "force", no_argument, 0, 'f' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    const char *role = NULL, *node = "", *name = "", *out = NULL;
    bool force = false;
    optind = 1;
    int c;
    while ((c = getopt_long (argc, argv, "+r:n:N:o:fh", opts, NULL)) != -1) {
        switch (c) {
            case 'r': role = optarg; break;
            case 'n': node = optarg; break;
            case 'N': name = optarg; break;
            case 'o': out = optarg; break;
            case 'f': force = true; break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return SF_EXIT_USAGE;
        }
    }
    if (!role || !out || optind < argc) {
        s_usage (stderr);
        return SF_EXIT_USAGE;
    }
    if (strcmp (role, "agent") && strcmp (role, "cli") && strcmp (role, "peer") && strcmp (role, "controller")) {
        fprintf (stderr, "streamfleet: --role must be agent, cli, peer or controller\n");
        return SF_EXIT_USAGE;
    }
    if (!strcmp (role, "agent") && (!*node || strlen (node) > SF_NODE_MAX)) {
        fprintf (stderr, "streamfleet: an agent certificate needs --node ID (at most %d bytes)\n", SF_NODE_MAX);
        return SF_EXIT_USAGE;
    }
    char secret [4096];
    snprintf (secret, sizeof (secret), "%s_secret", out);
    if (!force && (zsys_file_exists (out) || zsys_file_exists (secret))) {
        fprintf (stderr, "streamfleet: %s exists: not overwriting a key pair (--force to replace it)\n",
                 zsys_file_exists (out) ? out : secret);
        return SF_EXIT_CERT;
    }
    char err [512];
    if (sf_cert_create (out, role, *name ? name : (*node ? node : role), node, err, sizeof (err))) {
        fprintf (stderr, "streamfleet: %s\n", err);
        return SF_EXIT_CERT;
    }
    printf ("public certificate: %s\nsecret certificate: %s_secret\n", out, out);
    (void) cli;
    return 0;
}

/*  cmd_complete.c — `streamfleet complete streams|nodes [PREFIX]`: names for
    shell completion (deploy/completion/), one a line, asked of the
    controller like any listing. Quiet on every failure: a shell completing
    a word must never print errors into the user's command line.
*/
#include "sf_cli.h"
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_NAMES 200

int
sf_cmd_complete (sf_cli_t *cli, int argc, char **argv)
{
    if (argc < 2 || argc > 3 || !strcmp (argv [1], "--help")) {
        FILE *out = argc >= 2 ? stdout : stderr;
        fprintf (out, "usage: streamfleet complete streams|nodes [PREFIX]\n\n"
                      "Prints stream or node names starting with PREFIX, one a line (at most %d),\n"
                      "for shell completion. Prints nothing when no controller answers.\n", S_MAX_NAMES);
        return argc >= 2 ? 0 : SF_EXIT_USAGE;
    }
    bool streams = !strcmp (argv [1], "streams");
    if (!streams && strcmp (argv [1], "nodes")) {
        fprintf (stderr, "streamfleet: complete takes streams or nodes, not '%s'\n", argv [1]);
        return SF_EXIT_USAGE;
    }
    const char *prefix = argc == 3 ? argv [2] : "";
    //  A glob metacharacter in what the user typed would widen the match
    if (strpbrk (prefix, "*?["))
        return 0;
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    char glob [SF_NAME_MAX + 2];
    snprintf (glob, sizeof (glob), "%.*s*", SF_NAME_MAX, prefix);
    if (streams) {
        sf_msg_begin (&pk, "list", 4);
        sf_pack_kstr (&pk, "name", glob);
        sf_pack_kstr (&pk, "sort", "name");
        sf_pack_ku64 (&pk, "limit", S_MAX_NAMES);
        sf_pack_ku64 (&pk, "offset", 0);
    }
    else
        sf_msg_begin (&pk, "nodes", 0);
    //  Errors stay off the terminal: completion runs while the user types
    fflush (stderr);
    int saved = dup (STDERR_FILENO);
    int null = open ("/dev/null", O_WRONLY);
    if (null >= 0) {
        dup2 (null, STDERR_FILENO);
        close (null);
    }
    sf_msg_t reply;
    sf_msg_init (&reply);
    int rc = sf_cli_request (cli, &req, &reply);
    msgpack_sbuffer_destroy (&req);
    if (saved >= 0) {
        dup2 (saved, STDERR_FILENO);
        close (saved);
    }
    if (rc) {
        sf_msg_release (&reply);
        return rc;
    }
    const msgpack_object *list = sf_map_get (reply.body, streams ? "streams" : "nodes");
    uint32_t n = list && list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0;
    char last [SF_NAME_MAX + 1] = "";
    for (uint32_t i = 0; i < n; i++) {
        char name [SF_NAME_MAX + 1] = "";
        sf_map_str (&list->via.array.ptr [i], streams ? "name" : "id", name, SF_NAME_MAX, NULL);
        //  A stream on several nodes is one name; rows come sorted by name
        if (!name [0] || !strcmp (name, last) || strncmp (name, prefix, strlen (prefix)))
            continue;
        printf ("%s\n", name);
        snprintf (last, sizeof (last), "%s", name);
    }
    sf_msg_release (&reply);
    return 0;
}

/*  cmd_cluster.c — `streamfleet cluster`: the controllers, their liveness as
    this controller judges it, replication lag, and each one's state digest
    (equal digests: equal stored placements).
*/
#include "sf_cli.h"
#include <string.h>

int
sf_cmd_cluster (sf_cli_t *cli, int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp (argv [1], "--help")) {
            printf ("usage: streamfleet cluster [-o table|json]\n\n"
                    "Lists the controllers as the answering controller sees them: state (alive,\n"
                    "suspect, dead), incarnation, time since last heard, changes it lacked at the\n"
                    "last exchange (LAG), placements and state digest. Converged controllers show\n"
                    "the same digest.\n");
            return 0;
        }
        fprintf (stderr, "streamfleet: unexpected argument '%s'\n", argv [1]);
        return SF_EXIT_USAGE;
    }
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "cluster", 0);
    sf_msg_t reply;
    bool finished;
    int rc = sf_cli_ask (cli, &req, &reply, &finished);
    if (finished)
        goto done;
    const msgpack_object *members = sf_map_get (reply.body, "members");
    uint32_t n = members && members->type == MSGPACK_OBJECT_ARRAY ? members->via.array.size : 0;
    printf ("%-20s %-9s %12s %10s %10s %10s %-17s %s\n", "CONTROLLER", "STATE", "INCARNATION",
            "HEARD", "LAG", "STREAMS", "STATE DIGEST", "ENDPOINT");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *m = &members->via.array.ptr [i];
        char id [64] = "", state [16] = "", digest [24] = "", ep [256] = "", heard [32];
        uint64_t inc = 0, lag = 0, streams = 0;
        int64_t ms = -1;
        bool self = false;
        sf_map_str (m, "id", id, sizeof (id) - 1, NULL);
        sf_map_str (m, "state", state, sizeof (state) - 1, NULL);
        sf_map_str (m, "state_digest", digest, sizeof (digest) - 1, NULL);
        sf_map_str (m, "endpoint", ep, sizeof (ep) - 1, NULL);
        sf_map_u64 (m, "incarnation", &inc, NULL);
        sf_map_u64 (m, "lag_changes", &lag, NULL);
        sf_map_u64 (m, "streams", &streams, NULL);
        sf_map_i64 (m, "last_heard_ms", &ms, NULL);
        sf_map_bool (m, "self", &self, NULL);
        if (self)
            snprintf (heard, sizeof (heard), "(self)");
        else if (ms < 0)
            snprintf (heard, sizeof (heard), "never");
        else
            snprintf (heard, sizeof (heard), "%.1fs", ms / 1000.0);
        char padded [16];
        snprintf (padded, sizeof (padded), "%-9s", state);
        printf ("%-20s %s%s%s %12llu %10s %10llu %10llu %-17s %s\n", id [0] ? id : "(seed)",
                sf_color (cli, state), padded, sf_color_reset (cli), (unsigned long long) inc, heard,
                (unsigned long long) lag, (unsigned long long) streams, digest [0] ? digest : "-", ep);
    }
done:
    sf_msg_release (&reply);
    return rc;
}

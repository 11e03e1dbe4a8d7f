/*  cmd_cluster.c — `streamfleet cluster`: the controllers, their liveness as
    this controller judges it, replication lag, and each one's state digest
    (equal digests: equal stored placements and placement history).
*/
#include "sf_cli.h"
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  Whether the cluster has converged: no member is still unheard (a seed not
//  answered yet) or suspect, and every alive one shows the same state digest.
//  Dead members are left out: they converge when they come back.
static bool
s_converged (const msgpack_object *members)
{
    uint32_t n = members && members->type == MSGPACK_OBJECT_ARRAY ? members->via.array.size : 0;
    char first [24] = "";
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *m = &members->via.array.ptr [i];
        char state [16] = "", digest [24] = "";
        sf_map_str (m, "state", state, sizeof (state) - 1, NULL);
        sf_map_str (m, "state_digest", digest, sizeof (digest) - 1, NULL);
        if (!strcmp (state, "dead"))
            continue;
        if (strcmp (state, "alive"))
            return false;
        if (!digest [0])
            return false;
        if (!first [0])
            snprintf (first, sizeof (first), "%s", digest);
        else
        if (strcmp (first, digest))
            return false;
    }
    return first [0] != 0;
}

int
sf_cmd_cluster (sf_cli_t *cli, int argc, char **argv)
{
    int wait_s = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp (argv [i], "--help")) {
            printf ("usage: streamfleet cluster [--wait SECONDS] [-o table|json]\n\n"
                    "Lists the controllers as the answering controller sees them: state (alive,\n"
                    "suspect, dead), incarnation, time since last heard, changes it lacked at the\n"
                    "last exchange (LAG), placements and state digest. Converged controllers show\n"
                    "the same digest. --wait asks again until every alive controller shows the\n"
                    "same digest (exit 0), or SECONDS pass (exit 1, 'not converged').\n");
            return 0;
        }
        if (!strcmp (argv [i], "--wait") && i + 1 < argc) {
            char *end;
            long v = strtol (argv [++i], &end, 10);
            if (*end || v < 0 || v > 3600) {
                fprintf (stderr, "streamfleet: --wait takes seconds (0..3600), not '%s'\n", argv [i]);
                return SF_EXIT_USAGE;
            }
            wait_s = (int) v;
            continue;
        }
        fprintf (stderr, "streamfleet: unexpected argument '%s'\n", argv [i]);
        return SF_EXIT_USAGE;
    }
    sf_msg_t reply;
    bool finished = true;
    int rc = 0;
    bool converged = false;
    int64_t until = zclock_mono () + (int64_t) (wait_s < 0 ? 0 : wait_s) * 1000;
    sf_out_t output = cli->output;
    while (true) {
        msgpack_sbuffer req;
        msgpack_sbuffer_init (&req);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
        sf_msg_begin (&pk, "cluster", 0);
        //  While waiting, nothing is printed until the last answer
        cli->output = wait_s >= 0 ? SF_OUT_TABLE : output;
        rc = sf_cli_ask (cli, &req, &reply, &finished);
        cli->output = output;
        if (wait_s < 0 || (finished && rc))
            break;
        converged = s_converged (sf_map_get (reply.body, "members"));
        if (converged || zclock_mono () >= until)
            break;
        sf_msg_release (&reply);
        zclock_sleep (250);
    }
    if (wait_s >= 0 && !rc) {
        if (output == SF_OUT_JSON) {
            sf_cli_print_json (reply.body);
            finished = true;
        }
        if (!converged) {
            fprintf (stderr, "streamfleet: not converged within %d s: the alive controllers' state "
                     "digests differ (see LAG)\n", wait_s);
            rc = SF_EXIT_ANSWER;
        }
    }
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

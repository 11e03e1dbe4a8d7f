/*  cmd_nodes.c — `streamfleet nodes`: every media server, its liveness,
    heartbeat age, and limits against usage.
*/
#include "sf_cli.h"
#include <string.h>

//  The nodes table of a reply's "nodes" array, ended by the count line
void
sf_nodes_table (const sf_cli_t *cli, const msgpack_object *nodes, FILE *out)
{
    uint32_t n = nodes && nodes->type == MSGPACK_OBJECT_ARRAY ? nodes->via.array.size : 0;
    fprintf (out, "%-16s %-8s %8s %8s %13s %21s %6s %18s  %s\n", "NODE", "LIVENESS", "HB AGE", "STREAMS",
            "PRIMARY/MAX", "IN KBPS/MAX FROM", "CPU", "MEMORY", "DISKS");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *o = &nodes->via.array.ptr [i];
        char id [SF_NODE_MAX + 1] = "", live [16] = "", buf [32], buf2 [32], age [32];
        int64_t hb_age = -1;
        uint32_t nstreams = 0, nprimary = 0, maxp = 0, maxin = 0;
        sf_map_str (o, "id", id, SF_NODE_MAX, NULL);
        sf_map_str (o, "liveness", live, sizeof (live) - 1, NULL);
        sf_map_i64 (o, "heartbeat_age_ms", &hb_age, NULL);
        const msgpack_object *counts = sf_map_get (o, "counts");
        const msgpack_object *limits = sf_map_get (o, "limits");
        if (counts) {
            sf_map_u32 (counts, "streams", &nstreams, NULL);
            sf_map_u32 (counts, "primary", &nprimary, NULL);
        }
        //  A limit is null when there is none
        if (limits) {
            sf_map_u32 (limits, "max_primary_streams", &maxp, NULL);
            sf_map_u32 (limits, "max_in_kbps", &maxin, NULL);
        }
        bool stale = false;
        sf_map_bool (o, "stale", &stale, NULL);
        const msgpack_object *u = sf_map_get (o, "usage");
        double cpu = 0;
        uint64_t mem_used = 0, mem_total = 0;
        uint32_t in = 0;
        char bw [SF_SHORT_MAX + 1] = "";
        if (u) {
            sf_map_str (u, "bandwidth_source", bw, SF_SHORT_MAX, NULL);
            sf_map_double (u, "cpu_pct", &cpu, NULL);
            sf_map_u64 (u, "mem_used_bytes", &mem_used, NULL);
            sf_map_u64 (u, "mem_total_bytes", &mem_total, NULL);
            sf_map_u32 (u, "in_kbps", &in, NULL);
        }
        char prim [32], inb [48], mem [48], disks [512] = "";
        if (maxp)
            snprintf (prim, sizeof (prim), "%u/%u%s", nprimary, maxp, nprimary > maxp ? "!" : "");
        else
            snprintf (prim, sizeof (prim), "%u/-", nprimary);
        //  "interface eth0" is shown as eth0
        const char *from = !strncmp (bw, "interface ", 10) ? bw + 10 : bw;
        if (maxin)
            snprintf (inb, sizeof (inb), "%u/%u%s %.12s", in, maxin, in > maxin ? "!" : "", from);
        else
            snprintf (inb, sizeof (inb), "%u/- %.12s", in, from);
        snprintf (mem, sizeof (mem), "%s/%s", sf_fmt_bytes (mem_used, buf, sizeof (buf)),
                  sf_fmt_bytes (mem_total, buf2, sizeof (buf2)));
        const msgpack_object *d = u ? sf_map_get (u, "disks") : NULL;
        for (uint32_t k = 0; d && d->type == MSGPACK_OBJECT_ARRAY && k < d->via.array.size; k++) {
            char mount [SF_ADDR_MAX + 1] = "";
            uint64_t fr = 0, tot = 0;
            sf_map_str (&d->via.array.ptr [k], "mount", mount, SF_ADDR_MAX, NULL);
            sf_map_u64 (&d->via.array.ptr [k], "free_bytes", &fr, NULL);
            sf_map_u64 (&d->via.array.ptr [k], "total_bytes", &tot, NULL);
            int pct = tot ? (int) ((tot - fr) * 100 / tot) : 0;
            size_t len = strlen (disks);
            snprintf (disks + len, sizeof (disks) - len, "%s%s %d%%%s", len ? ", " : "", mount, pct,
                      pct >= 80 ? "!" : "");
        }
        if (hb_age < 0)
            snprintf (age, sizeof (age), "never");
        else
            snprintf (age, sizeof (age), "%.1fs", hb_age / 1000.0);
        char padded [24];
        snprintf (padded, sizeof (padded), "%-8s", live);
        fprintf (out, "%-16s %s%s%s %8s %8u %13s %21s %5.1f%% %18s  %s%s\n", id, sf_color (cli, live), padded,
                sf_color_reset (cli), age, nstreams, prim, inb, cpu, mem, disks,
                stale ? "  [stale: source down, last good state kept]" : "");
    }
    fprintf (out, "%u node%s\n", n, n == 1 ? "" : "s");
}

int
sf_cmd_nodes (sf_cli_t *cli, int argc, char **argv)
{
    if (argc > 1) {
        if (!strcmp (argv [1], "--help")) {
            printf ("usage: streamfleet nodes [-o table|wide|json]\n\n"
                    "Lists nodes with liveness (alive, suspect, down), heartbeat age, primary\n"
                    "streams against their maximum, incoming kbit/s against the maximum (and\n"
                    "where the figure comes from: the named interface's counters, or the sum\n"
                    "of the node's stream bitrates), CPU,\n"
                    "memory, and disks; a disk at or above 80%% is marked '!'. A node whose\n"
                    "agent cannot read its media server is marked [stale]: its streams are the\n"
                    "last good state its agent read.\n");
            return 0;
        }
        fprintf (stderr, "streamfleet: unexpected argument '%s'\n", argv [1]);
        return SF_EXIT_USAGE;
    }
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "nodes", 0);
    sf_msg_t reply;
    bool finished;
    int rc = sf_cli_ask (cli, &req, &reply, &finished);
    if (finished)
        goto done;
    const msgpack_object *nodes = sf_map_get (reply.body, "nodes");
    sf_nodes_table (cli, nodes, stdout);
done:
    sf_msg_release (&reply);
    return rc;
}

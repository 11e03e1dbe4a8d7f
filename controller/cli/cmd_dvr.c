/*  cmd_dvr.c — `streamfleet dvr NAME [--at TIME]`: a stream's archive
    timeline joined over every node it was recorded on (a migrated stream's
    archive stays where it was recorded), and which node holds a given
    moment, with its playback links, or the gap it falls in.
*/
#include "sf_cli.h"
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: streamfleet dvr NAME [--at TIME] [-o table|json]\n"
        "\n"
        "Shows the archive of stream NAME (name or uid) on every node, oldest first,\n"
        "with RTSP and HLS links per range. --at names the node that holds TIME and\n"
        "its playback links, or says TIME falls in a gap. TIME is unix seconds,\n"
        "ISO-8601 UTC (2026-11-24T03:10:00Z), or relative to now (-10m, -90s, -2h).\n");
}

static void
s_print_entry (const char *label, const msgpack_object *e)
{
    char node [SF_NODE_MAX + 1] = "", b1 [32], b2 [32];
    int64_t from = 0, to = 0;
    sf_map_str (e, "node", node, SF_NODE_MAX, NULL);
    sf_map_i64 (e, "from", &from, NULL);
    sf_map_i64 (e, "to", &to, NULL);
    printf ("  %-7s node %s, %s .. %s\n", label, node, sf_fmt_time (from, b1, sizeof (b1)),
            sf_fmt_time (to, b2, sizeof (b2)));
}

int
sf_cmd_dvr (sf_cli_t *cli, int argc, char **argv)
{
    static const struct option opts [] = {
        { "at", required_argument, 0, 'a' }, { "help", no_argument, 0, 'h' }, { 0, 0, 0, 0 }
    };
    const char *at_text = NULL, *name = NULL;
    optind = 1;
    int c;
    //  Options may stand before or after the name (getopt moves it last)
    while ((c = getopt_long (argc, argv, "a:h", opts, NULL)) != -1) {
        switch (c) {
            case 'a': at_text = optarg; break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return SF_EXIT_USAGE;
        }
    }
    if (optind < argc)
        name = argv [optind++];
    if (optind < argc) {
        fprintf (stderr, "streamfleet: unexpected argument '%s'\n", argv [optind]);
        return SF_EXIT_USAGE;
    }
    if (!name || !*name) {
        fprintf (stderr, "streamfleet: dvr needs a stream name\n");
        s_usage (stderr);
        return SF_EXIT_USAGE;
    }
    if (strlen (name) > SF_NAME_MAX) {
        fprintf (stderr, "streamfleet: a stream name has at most %d bytes\n", SF_NAME_MAX);
        return SF_EXIT_USAGE;
    }
    int64_t at = 0;
    if (at_text && sf_parse_time (at_text, (int64_t) time (NULL), &at)) {
        fprintf (stderr, "streamfleet: --at takes unix seconds, ISO-8601 UTC "
                 "(2026-11-24T03:10:00Z) or a time before now (-10m), not '%s'\n", at_text);
        return SF_EXIT_USAGE;
    }
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "dvr", at_text ? 2 : 1);
    sf_pack_kstr (&pk, "name", name);
    if (at_text)
        sf_pack_ki64 (&pk, "at", at);
    sf_msg_t reply;
    bool finished;
    int rc = sf_cli_ask (cli, &req, &reply, &finished);
    if (finished)
        goto done;
    char uid [SF_NAME_MAX + 1] = "", current [SF_NODE_MAX + 1] = "";
    sf_map_str (reply.body, "uid", uid, SF_NAME_MAX, NULL);
    sf_map_str (reply.body, "current", current, SF_NODE_MAX, NULL);
    printf ("%s (uid %s), lives on node %s\n\n", name, uid, current [0] ? current : "(unknown)");
    const msgpack_object *tl = sf_map_get (reply.body, "ranges");
    uint32_t n = tl && tl->type == MSGPACK_OBJECT_ARRAY ? tl->via.array.size : 0;
    printf ("%-4s %-16s %-19s   %-19s %9s\n", "#", "NODE", "FROM (UTC)", "TO", "LENGTH");
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *e = &tl->via.array.ptr [i];
        char node [SF_NODE_MAX + 1] = "", rtsp [1024] = "", hls [1024] = "", b1 [32], b2 [32], d [32];
        int64_t from = 0, to = 0;
        sf_map_str (e, "node", node, SF_NODE_MAX, NULL);
        sf_map_str (e, "rtsp", rtsp, sizeof (rtsp) - 1, NULL);
        sf_map_str (e, "hls", hls, sizeof (hls) - 1, NULL);
        sf_map_i64 (e, "from", &from, NULL);
        sf_map_i64 (e, "to", &to, NULL);
        printf ("%-4u %-16s %s .. %s %9s\n     RTSP %s\n     HLS  %s\n", i + 1, node,
                sf_fmt_time (from, b1, sizeof (b1)), sf_fmt_time (to, b2, sizeof (b2)),
                sf_fmt_duration (to - from, d, sizeof (d)), rtsp, hls);
    }
    if (!n)
        printf ("  (no archive on any node)\n");
    //  holder: the range holding the moment, with a playback link from
    //  there; null in a gap, with the ranges before and after it
    const msgpack_object *hold = at_text ? sf_map_get (reply.body, "holder") : NULL;
    char b [32];
    if (hold && hold->type == MSGPACK_OBJECT_MAP) {
        char node [SF_NODE_MAX + 1] = "", rtsp [1024] = "", hls [1024] = "";
        const msgpack_object *play = sf_map_get (hold, "playback");
        sf_map_str (hold, "node", node, SF_NODE_MAX, NULL);
        if (play && play->type == MSGPACK_OBJECT_MAP) {
            sf_map_str (play, "rtsp", rtsp, sizeof (rtsp) - 1, NULL);
            sf_map_str (play, "hls", hls, sizeof (hls) - 1, NULL);
        }
        printf ("\nAt %s: node %s\n  RTSP %s\n  HLS  %s\n", sf_fmt_time (at, b, sizeof (b)), node, rtsp, hls);
    }
    else if (at_text) {
        printf ("\nAt %s: in a gap, no node holds it\n", sf_fmt_time (at, b, sizeof (b)));
        const msgpack_object *be = sf_map_get (reply.body, "before");
        const msgpack_object *af = sf_map_get (reply.body, "after");
        if (be && be->type == MSGPACK_OBJECT_MAP)
            s_print_entry ("before:", be);
        if (af && af->type == MSGPACK_OBJECT_MAP)
            s_print_entry ("after:", af);
    }
done:
    sf_msg_release (&reply);
    return rc;
}

/*  sf_movesim.c — plays K agents over the real agent protocol (hello,
    snapshot, batches, heartbeats, over CurveZMQ) and moves N streams among
    them in a scripted way, for tests/integration/42_migration_scale.sh.

        sf_movesim --controller EP --server-cert PATH --keys DIR
                   [--nodes 10] [--streams 10000] [--down-ms 2000]
                   [--transfer-timeout 2]

    The simulator agent is node-local, so moving streams between nodes needs
    one process that plays every node. Stream i lives on node i % K (nodes
    n0 .. n{K-1}, certificates DIR/nX made by `streamfleet keygen`); the
    streams of the last node have a secondary copy elsewhere. The script:
      M  i % 10 < 4:  overlap move to the next node, then the old one stops
                      -> transfer_started + migrated
      R  i % 20 < 2:  (a subset of M) moved back the same way
                      -> transfer_started + returned
      S  i % 10 in 5, 6: starts on a second node too and stays there
                      -> transfer_started, then transfer_stuck
      F  the last node's streams: its agent goes silent; once it is down
                      their secondaries become active -> failover
    Times in the records are chosen so that every overlap is 1.5 s (below
    the transfer timeout) and the stuck ones start now. Interleaving across
    nodes is whatever the sockets give, as with real agents. Prints the
    expected count of each event kind as one JSON line on stdout.
*/
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sf_codec.h"
#include "sf_log.h"
#include "sf_security.h"

#define S_NODES_MAX 64
#define S_BATCH 1000

typedef struct {
    char id [16];
    zsock_t *sock;
    zcert_t *cert;
    uint64_t gen, seq, acked;
    bool hello_acked;
    bool silent;                //  "killed": no more heartbeats
    uint64_t hb;
    //  changes waiting to go as one batch
    msgpack_sbuffer batch;
    msgpack_sbuffer items;
    size_t nitems;
} s_node_t;

static s_node_t s_nodes [S_NODES_MAX];
static int s_k = 10;
static int s_n = 10000;

static int s_home (int i) { return i % s_k; }
static int s_next (int i) { return (i + 1) % s_k; }
static int s_second (int i) { return (i + 2) % s_k; }
static int s_standby (int i) { return (i / s_k) % (s_k - 1); }    //  never the last node
static bool s_class_m (int i) { return i % 10 < 4 && s_home (i) != s_k - 1; }
static bool s_class_r (int i) { return s_class_m (i) && i % 20 < 2; }
static bool s_class_s (int i) { return (i % 10 == 5 || i % 10 == 6) && s_home (i) != s_k - 1; }
static bool s_class_f (int i) { return s_home (i) == s_k - 1; }

static void
s_record (msgpack_packer *pk, int i, const char *node, int type, int status, int64_t started_at,
          int64_t changed_at_ms)
{
    sf_stream_t s;
    sf_stream_init (&s);
    snprintf (s.name, sizeof (s.name), "m%05d", i);
    snprintf (s.uid, sizeof (s.uid), "m%05d", i);
    snprintf (s.node, sizeof (s.node), "%s", node);
    s.type = (uint8_t) type;
    s.status = (uint8_t) status;
    s.functions = SF_FN_DVR;
    s.started_at = started_at;
    s.changed_at_ms = changed_at_ms;
    sf_stream_pack (pk, &s, SF_ENC_FULL);
    sf_stream_clear (&s);
}

//  Queues one put on node x
static void
s_put (int x, int i, int type, int status, int64_t started_at, int64_t changed_at_ms)
{
    s_node_t *n = &s_nodes [x];
    msgpack_packer pk;
    msgpack_packer_init (&pk, &n->items, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 2);
    sf_pack_ku64 (&pk, "seq", ++n->seq);
    sf_pack_str (&pk, "put");
    s_record (&pk, i, n->id, type, status, started_at, changed_at_ms);
    n->nitems++;
}

static void
s_flush (s_node_t *n)
{
    if (!n->nitems || !n->sock)
        return;
    msgpack_sbuffer_clear (&n->batch);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &n->batch, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "batch", 2);
    sf_pack_ku64 (&pk, "gen", n->gen);
    sf_pack_str (&pk, "changes");
    msgpack_pack_array (&pk, (uint32_t) n->nitems);
    msgpack_sbuffer_write (&n->batch, n->items.data, n->items.size);
    zmq_send (zsock_resolve (n->sock), n->batch.data, n->batch.size, 0);
    msgpack_sbuffer_clear (&n->items);
    n->nitems = 0;
}

static void
s_flush_all (void)
{
    for (int x = 0; x < s_k; x++)
        s_flush (&s_nodes [x]);
}

static void
s_maybe_flush (int x)
{
    if (s_nodes [x].nitems >= S_BATCH)
        s_flush (&s_nodes [x]);
}

static void
s_heartbeats (void)
{
    for (int x = 0; x < s_k; x++) {
        s_node_t *n = &s_nodes [x];
        if (n->silent)
            continue;
        msgpack_sbuffer sb;
        msgpack_sbuffer_init (&sb);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        sf_msg_begin (&pk, "hb", 3);
        sf_pack_ku64 (&pk, "gen", n->gen);
        sf_pack_ku64 (&pk, "seq", n->seq);
        sf_pack_ku64 (&pk, "counter", ++n->hb);
        zmq_send (zsock_resolve (n->sock), sb.data, sb.size, ZMQ_DONTWAIT);
        msgpack_sbuffer_destroy (&sb);
    }
}

//  Receives what the controller says for up to ms, heartbeating meanwhile
static void
s_pump (int64_t ms)
{
    int64_t end = sf_mono_ms () + ms, last_hb = 0;
    sf_msg_t msg;
    sf_msg_init (&msg);
    while (!zsys_interrupted) {
        int64_t now = sf_mono_ms ();
        if (now - last_hb >= 250) {
            s_heartbeats ();
            last_hb = now;
        }
        if (now >= end)
            break;
        //  Silent nodes have no socket: poll the others
        zmq_pollitem_t items [S_NODES_MAX];
        int which [S_NODES_MAX], np = 0;
        for (int x = 0; x < s_k; x++)
            if (s_nodes [x].sock) {
                items [np] = (zmq_pollitem_t) { zsock_resolve (s_nodes [x].sock), 0, ZMQ_POLLIN, 0 };
                which [np++] = x;
            }
        int wait = (int) (end - now < 50 ? end - now : 50);
        if (zmq_poll (items, np, wait) <= 0)
            continue;
        for (int p = 0; p < np; p++) {
            int x = which [p];
            if (!(items [p].revents & ZMQ_POLLIN))
                continue;
            zframe_t *f = zframe_recv (s_nodes [x].sock);
            if (!f)
                continue;
            if (sf_msg_parse (&msg, zframe_data (f), zframe_size (f)) == 0) {
                uint64_t gen = 0, seq = 0;
                if (!strcmp (msg.type, "ack")
                &&  sf_map_u64 (msg.body, "gen", &gen, NULL) == 0
                &&  sf_map_u64 (msg.body, "seq", &seq, NULL) == 0) {
                    s_nodes [x].hello_acked = true;
                    if (gen == s_nodes [x].gen && seq > s_nodes [x].acked)
                        s_nodes [x].acked = seq;
                }
                else if (!strcmp (msg.type, "error") || !strcmp (msg.type, "resync")) {
                    char text [256] = "";
                    sf_map_str (msg.body, "message", text, sizeof (text) - 1, NULL);
                    sf_map_str (msg.body, "reason", text, sizeof (text) - 1, NULL);
                    fprintf (stderr, "sf_movesim: %s from the controller to %s: %s\n", msg.type,
                             s_nodes [x].id, text);
                }
            }
            sf_msg_release (&msg);
            zframe_destroy (&f);
        }
    }
    sf_msg_release (&msg);
}

//  Waits until every speaking node's changes are acknowledged
static int
s_wait_acks (const char *phase)
{
    int64_t end = sf_mono_ms () + 30000;
    while (sf_mono_ms () < end && !zsys_interrupted) {
        bool all = true;
        for (int x = 0; x < s_k; x++)
            if (!s_nodes [x].silent && s_nodes [x].acked < s_nodes [x].seq)
                all = false;
        if (all)
            return 0;
        s_pump (50);
    }
    fprintf (stderr, "sf_movesim: %s: the controller did not acknowledge everything in 30 s\n", phase);
    return -1;
}

static int
s_connect (s_node_t *n, const char *endpoint, const char *server_cert, const char *keys)
{
    char path [600], err [512];
    snprintf (path, sizeof (path), "%s/%s", keys, n->id);
    n->cert = sf_cert_load (path, err, sizeof (err));
    if (!n->cert) {
        fprintf (stderr, "sf_movesim: %s\n", err);
        return -1;
    }
    n->sock = zsock_new (ZMQ_DEALER);
    if (!n->sock || sf_sock_curve_client (n->sock, n->cert, server_cert, err, sizeof (err))) {
        fprintf (stderr, "sf_movesim: %s\n", err);
        return -1;
    }
    zsock_set_linger (n->sock, 0);
    zsock_set_sndhwm (n->sock, 100000);
    if (zsock_connect (n->sock, "%s", endpoint))
        return -1;
    msgpack_sbuffer_init (&n->batch);
    msgpack_sbuffer_init (&n->items);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "hello", 4);
    sf_pack_kstr (&pk, "node", n->id);
    sf_pack_ku64 (&pk, "gen", n->gen);
    sf_pack_ku64 (&pk, "seq", 0);
    sf_pack_kstr (&pk, "software_version", "sf_movesim");
    zmq_send (zsock_resolve (n->sock), sb.data, sb.size, 0);
    msgpack_sbuffer_destroy (&sb);
    return 0;
}

//  The initial state as one snapshot per node (docs/protocol.md, "snap"):
//  every record a change with its own seq, the node record last
static void
s_snapshot (int x, int64_t t0_s)
{
    s_node_t *n = &s_nodes [x];
    msgpack_sbuffer recs;
    msgpack_sbuffer_init (&recs);
    msgpack_packer rp;
    msgpack_packer_init (&rp, &recs, msgpack_sbuffer_write);
    uint32_t count = 0;
    for (int i = 0; i < s_n; i++) {
        bool home = s_home (i) == x, standby = s_class_f (i) && s_standby (i) == x;
        if (!home && !standby)
            continue;
        msgpack_pack_map (&rp, 2);
        sf_pack_ku64 (&rp, "seq", ++count);
        sf_pack_str (&rp, "put");
        if (home)
            s_record (&rp, i, n->id, SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, t0_s, t0_s * 1000);
        else
            s_record (&rp, i, n->id, SF_TYPE_SECONDARY, SF_STATUS_SUSPEND, 0, t0_s * 1000);
    }
    msgpack_pack_map (&rp, 2);
    sf_pack_ku64 (&rp, "seq", ++count);
    sf_pack_str (&rp, "node");
    sf_node_t node;
    sf_node_init (&node);
    snprintf (node.id, sizeof (node.id), "%s", n->id);
    snprintf (node.addr_external, sizeof (node.addr_external), "%s.example", n->id);
    sf_node_pack (&rp, &node, 0);
    n->seq = count;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "snap", 5);
    sf_pack_ku64 (&pk, "gen", n->gen);
    sf_pack_ku64 (&pk, "seq", n->seq);
    sf_pack_ku64 (&pk, "index", 0);
    sf_pack_kbool (&pk, "last", true);
    sf_pack_str (&pk, "changes");
    msgpack_pack_array (&pk, count);
    msgpack_sbuffer_write (&sb, recs.data, recs.size);
    zmq_send (zsock_resolve (n->sock), sb.data, sb.size, 0);
    msgpack_sbuffer_destroy (&sb);
    msgpack_sbuffer_destroy (&recs);
}

int
main (int argc, char **argv)
{
    const char *endpoint = NULL, *server_cert = NULL, *keys = NULL;
    int64_t down_ms = 2000, timeout_s = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp (argv [i], "--controller")) endpoint = argv [i + 1];
        else if (!strcmp (argv [i], "--server-cert")) server_cert = argv [i + 1];
        else if (!strcmp (argv [i], "--keys")) keys = argv [i + 1];
        else if (!strcmp (argv [i], "--nodes")) s_k = atoi (argv [i + 1]);
        else if (!strcmp (argv [i], "--streams")) s_n = atoi (argv [i + 1]);
        else if (!strcmp (argv [i], "--down-ms")) down_ms = atoll (argv [i + 1]);
        else if (!strcmp (argv [i], "--transfer-timeout")) timeout_s = atoll (argv [i + 1]);
        else {
            fprintf (stderr, "sf_movesim: unknown option %s\n", argv [i]);
            return 2;
        }
    }
    if (!endpoint || !server_cert || !keys || s_k < 3 || s_k > S_NODES_MAX || s_n < 1) {
        fprintf (stderr, "usage: sf_movesim --controller EP --server-cert PATH --keys DIR "
                 "[--nodes 3..64] [--streams N] [--down-ms MS] [--transfer-timeout S]\n");
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    uint64_t gen = (uint64_t) sf_now_ms ();
    for (int x = 0; x < s_k; x++) {
        snprintf (s_nodes [x].id, sizeof (s_nodes [x].id), "n%d", x);
        s_nodes [x].gen = gen;
        if (s_connect (&s_nodes [x], endpoint, server_cert, keys))
            return 1;
    }
    //  Hello acks, then snapshots
    int64_t end = sf_mono_ms () + 15000;
    bool all = false;
    while (!all && sf_mono_ms () < end) {
        s_pump (50);
        all = true;
        for (int x = 0; x < s_k; x++)
            all = all && s_nodes [x].hello_acked;
    }
    if (!all) {
        fprintf (stderr, "sf_movesim: not every node got an answer to its hello\n");
        return 1;
    }
    int64_t t0 = sf_now_ms () / 1000 - 600;
    for (int x = 0; x < s_k; x++)
        s_snapshot (x, t0);
    if (s_wait_acks ("snapshot"))
        return 1;
    size_t expect [5];          //  in sf_event_kind_t order
    memset (expect, 0, sizeof (expect));
    //  M: the next node starts each stream; 1.5 s later (in record time) the
    //  home node stops it
    int64_t t1 = t0 + 100;
    for (int i = 0; i < s_n; i++)
        if (s_class_m (i)) {
            s_put (s_next (i), i, SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, t1, t1 * 1000);
            s_maybe_flush (s_next (i));
        }
    s_flush_all ();
    for (int i = 0; i < s_n; i++)
        if (s_class_m (i)) {
            s_put (s_home (i), i, SF_TYPE_PRIMARY, SF_STATUS_SUSPEND, 0, t1 * 1000 + 1500);
            s_maybe_flush (s_home (i));
            expect [0]++;           //  transfer_started
            expect [1]++;           //  migrated
        }
    s_flush_all ();
    if (s_wait_acks ("migrate"))
        return 1;
    //  R: back home, the same way
    int64_t t2 = t0 + 200;
    for (int i = 0; i < s_n; i++)
        if (s_class_r (i)) {
            s_put (s_home (i), i, SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, t2, t2 * 1000);
            s_maybe_flush (s_home (i));
        }
    s_flush_all ();
    for (int i = 0; i < s_n; i++)
        if (s_class_r (i)) {
            s_put (s_next (i), i, SF_TYPE_PRIMARY, SF_STATUS_SUSPEND, 0, t2 * 1000 + 1500);
            s_maybe_flush (s_next (i));
            expect [0]++;
            expect [4]++;           //  returned
        }
    s_flush_all ();
    if (s_wait_acks ("return"))
        return 1;
    //  S: a second node starts it now and the home node never stops
    int64_t t3 = sf_now_ms () / 1000;
    for (int i = 0; i < s_n; i++)
        if (s_class_s (i)) {
            s_put (s_second (i), i, SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, t3, t3 * 1000);
            s_maybe_flush (s_second (i));
            expect [0]++;
            expect [3]++;           //  transfer_stuck, once the timeout passes
        }
    s_flush_all ();
    if (s_wait_acks ("stuck"))
        return 1;
    //  F: the last node goes silent; once it is down, the secondaries take over
    s_node_t *last = &s_nodes [s_k - 1];
    last->silent = true;
    zsock_destroy (&last->sock);
    s_pump (down_ms + 1000);
    int64_t t4 = sf_now_ms () / 1000;
    for (int i = 0; i < s_n; i++)
        if (s_class_f (i)) {
            s_put (s_standby (i), i, SF_TYPE_SECONDARY, SF_STATUS_ACTIVE, t4, t4 * 1000);
            s_maybe_flush (s_standby (i));
            expect [2]++;           //  failover
        }
    s_flush_all ();
    if (s_wait_acks ("failover"))
        return 1;
    //  Past the transfer timeout, so the stuck ones count
    int64_t wait = (t3 + timeout_s + 1) * 1000 - sf_now_ms ();
    if (wait > 0)
        s_pump (wait + 200);
    printf ("{\"transfer_started\": %zu, \"migrated\": %zu, \"failover\": %zu, "
            "\"transfer_stuck\": %zu, \"returned\": %zu}\n",
            expect [0], expect [1], expect [2], expect [3], expect [4]);
    fflush (stdout);
    for (int x = 0; x < s_k; x++) {
        zsock_destroy (&s_nodes [x].sock);
        zcert_destroy (&s_nodes [x].cert);
        msgpack_sbuffer_destroy (&s_nodes [x].batch);
        msgpack_sbuffer_destroy (&s_nodes [x].items);
    }
    return 0;
}

/*  sf_bench_ingest.c — streamfleet's ingest and query benchmarks, and the
    peers they are compared with (bench/run.sh, docs/benchmarks.md).

        sf_bench_ingest ingest --endpoint tcp://H:P --server-cert PATH --keys DIR
                               [--agents K] [--streams S] [--batch N] [--window W]
                               [--seconds D] [--prefix b]
        sf_bench_ingest query  --endpoint tcp://H:P --server-cert PATH --cert PATH
                               [--agents K] [--streams S] [--iterations I] [--prefix b]
                               [--http http://H:P] [--tag load_]
        sf_bench_ingest lmdb   --dir DIR    [--agents K] [--streams S] [--batch N] [--seconds D]
        sf_bench_ingest sqlite --file PATH  [--agents K] [--streams S] [--batch N] [--seconds D]
                               [--iterations I]
        sf_bench_ingest redis  --port P     [--agents K] [--streams S] [--batch N] [--seconds D]

    Every mode plays the same records: K agents (nodes "PREFIXNN") with S
    stream placements each, packed once up front exactly as an agent packs
    them (sf_stream_pack, SF_ENC_FULL; 300-600 bytes), and cycled through in
    batches of N. Record i of agent k is the same bytes in every mode.

    ingest: K threads, each with its own agent certificate (DIR/PREFIXNN and
    DIR/PREFIXNN_secret) and DEALER socket, say hello, send an empty snapshot
    to open a fresh generation, then send batch messages of N puts keeping at
    most W batches unacknowledged, for D seconds, with a heartbeat a second.
    Throughput is counted from the controller's acks (committed changes); the
    commit latency of a batch is the time from its send to the ack covering
    its last seq.

    query: list and detail requests over one CLI connection, timed one by
    one (request to reply): the figures an operator's CLI sees, minus the
    process start and CurveZMQ handshake. The filtered page, the first page
    sorted by every sortable column in both directions, a page at half the
    fleet's size (500,000 at 1M) by name and by -bitrate, the page after a
    keyset cursor, details; with --http also GET /api/v1/streams (plain,
    filtered, sorted) and GET /metrics. --tag prefixes every figure's name
    (bench/run.sh runs it again under full ingest with --tag load_).

    lmdb, sqlite, redis: the same record bytes into raw LMDB (one put of
    summary + record per placement, one transaction per batch), SQLite
    (indexed upserts, WAL, synchronous=OFF, one transaction per batch) and
    Redis (pipelined HSET, one pipeline of N commands per round trip, K
    connections). sqlite also times the query workload with indexes.

    Every mode prints human lines and one machine line per figure:
        RESULT <name> <value> <unit>
*/
#include "sf_codec.h"
#include "sf_log.h"
#include "sf_security.h"
#include "sf_store.h"
#include <arpa/inet.h>
#include <curl/curl.h>
#include <czmq.h>
#include <lmdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    const char *mode;
    const char *endpoint;
    const char *server_cert;
    const char *cert;
    const char *keys;
    const char *dir;
    const char *file;
    const char *prefix;
    const char *http;
    const char *tag;
    int port;
    int agents;
    int streams;
    int batch;
    int window;
    int seconds;
    int iterations;
    int fill_seconds;
    bool resume;
    bool patch;                 //  --mode patch: after the fill, the realistic mix as patches
    const char *acked;          //  ingest: write "k seq0 acked" per agent here; verify: read it
} s_opts_t;

static s_opts_t opt = {
    .prefix = "b", .tag = "", .agents = 10, .streams = 10000, .batch = 1000, .window = 4,
    .seconds = 10, .iterations = 200, .fill_seconds = 900
};

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

//  Percentile of a sorted array
static double
s_pct (const double *v, size_t n, double p)
{
    if (n == 0)
        return 0;
    size_t i = (size_t) (p / 100.0 * (double) (n - 1) + 0.5);
    return v [i < n ? i : n - 1];
}

//  ---------------------------------------------------------------------------
//  The records: packed once, the same bytes in every mode

typedef struct {
    char node [SF_NODE_MAX + 1];
    char name [SF_NAME_MAX + 1];
    sf_summary_t sum;
    size_t off, size;           //  into the agent's buffer
} s_rec_t;

typedef struct {
    char node [SF_NODE_MAX + 1];
    s_rec_t *recs;
    char *bytes;
    size_t nbytes;
} s_set_t;

static s_set_t *s_sets;
static size_t s_total_bytes;

static uint64_t
s_mix (uint64_t x)
{
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static void
s_make_stream (sf_stream_t *s, const char *node, int k, int i, int64_t now)
{
    uint64_t h = s_mix ((uint64_t) k * 1000003u + (uint64_t) i);
    snprintf (s->name, sizeof (s->name), "%s-cam%06d", node, i);
    snprintf (s->uid, sizeof (s->uid), "%s", s->name);
    snprintf (s->node, sizeof (s->node), "%s", node);
    s->type = h % 100 < 80 ? SF_TYPE_PRIMARY : SF_TYPE_SECONDARY;
    s->status = s->type == SF_TYPE_SECONDARY ? SF_STATUS_SUSPEND
              : (h >> 8) % 50 == 0 ? SF_STATUS_ERROR : SF_STATUS_ACTIVE;
    if ((h >> 12) % 100 < 60) s->functions |= SF_FN_DVR;
    if ((h >> 20) % 100 < 70) s->functions |= SF_FN_AUDIO;
    if ((h >> 28) % 100 < 30) s->functions |= SF_FN_PHOTO;
    bool on = s->status == SF_STATUS_ACTIVE;
    s->clients = on ? (uint32_t) ((h >> 36) % 12) : 0;
    s->bitrate_kbps = on ? 500 + (uint32_t) ((h >> 40) % 3500) : 0;
    s->started_at = on ? now - (int64_t) ((h >> 16) % 86400) : 0;
    s->reconnect_attempts = s->status == SF_STATUS_ERROR ? 1 : 0;
    s->reconnect_total = (uint32_t) ((h >> 44) % 5);
    s->ping_ms = 5 + (int32_t) ((h >> 48) % 40);
    char buf [512];
    snprintf (buf, sizeof (buf), "rtsp://10.%d.%d.%d/%s", k % 250, (i / 250) % 250, i % 250 + 1,
              s->name);
    sf_text_set (&s->source_url, buf);
    snprintf (buf, sizeof (buf), "/etc/ms/%s.conf", s->name);
    sf_text_set (&s->config_path, buf);
    snprintf (buf, sizeof (buf), "dvr %s;\n", s->functions & SF_FN_DVR ? "on" : "off");
    sf_text_set (&s->config, buf);
    snprintf (s->playback_uuid, sizeof (s->playback_uuid), "%08x-%04x-4%03x-8%03x-%012llx",
              (unsigned) (h >> 32), (unsigned) (h >> 16) & 0xffff, (unsigned) (h >> 4) & 0xfff,
              (unsigned) h & 0xfff, (unsigned long long) (h * 31) & 0xffffffffffffULL);
    snprintf (s->media.vcodec, sizeof (s->media.vcodec), "h264");
    s->media.width = 1920;
    s->media.height = 1080;
    s->media.fps = 25;
    if (s->functions & SF_FN_AUDIO)
        snprintf (s->media.acodec, sizeof (s->media.acodec), "aac");
    if (s->functions & SF_FN_DVR) {
        snprintf (buf, sizeof (buf), "/dvr/%s", s->name);
        sf_text_set (&s->dvr.records_path, buf);
        s->dvr.depth_s = 7 * 86400;
        s->dvr.chunk_s = 6;
        s->dvr.disk_free_bytes = 800ULL << 30;
        s->dvr.memory_bytes = (uint64_t) s->bitrate_kbps * 128;
        int64_t from = now - 86400 - (int64_t) ((h >> 24) % 86400);
        if ((h >> 50) % 3 == 0) {
            sf_dvr_add_range (&s->dvr, from, from + 3600);
            sf_dvr_add_range (&s->dvr, from + 3700, now);
        }
        else
            sf_dvr_add_range (&s->dvr, from, now);
        s->dvr.current_from = on ? s->started_at : 0;
    }
}

static int
s_make_sets (void)
{
    s_sets = calloc ((size_t) opt.agents, sizeof (s_set_t));
    if (!s_sets)
        return -1;
    int64_t now = time (NULL);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_stream_t s;
    sf_stream_init (&s);
    for (int k = 0; k < opt.agents; k++) {
        s_set_t *set = &s_sets [k];
        snprintf (set->node, sizeof (set->node), "%s%02d", opt.prefix, k + 1);
        set->recs = calloc ((size_t) opt.streams, sizeof (s_rec_t));
        msgpack_sbuffer_clear (&sb);
        for (int i = 0; i < opt.streams; i++) {
            sf_stream_clear (&s);
            s_make_stream (&s, set->node, k, i, now);
            s_rec_t *r = &set->recs [i];
            snprintf (r->node, sizeof (r->node), "%s", set->node);
            snprintf (r->name, sizeof (r->name), "%s", s.name);
            sf_summary_from_stream (&r->sum, &s);
            r->off = sb.size;
            sf_stream_pack (&pk, &s, SF_ENC_FULL);
            r->size = sb.size - r->off;
        }
        set->bytes = malloc (sb.size);
        if (!set->recs || !set->bytes)
            return -1;
        memcpy (set->bytes, sb.data, sb.size);
        set->nbytes = sb.size;
        s_total_bytes += sb.size;
    }
    sf_stream_clear (&s);
    msgpack_sbuffer_destroy (&sb);
    printf ("records: %d agents x %d placements, %.0f bytes each on average\n", opt.agents, opt.streams,
            (double) s_total_bytes / ((double) opt.agents * opt.streams));
    printf ("RESULT record_bytes %.0f bytes\n", (double) s_total_bytes / ((double) opt.agents * opt.streams));
    return 0;
}

//  ---------------------------------------------------------------------------
//  ingest: simulated agents against a controller

typedef struct {
    int k;
    pthread_barrier_t *ready;
    uint64_t acked;             //  changes acknowledged
    double t_start, t_last_ack;
    double *lat;                //  commit latency per batch, seconds
    size_t nlat, cap;
    uint64_t errors, resyncs;
    uint64_t filled;            //  distinct placements acknowledged (at most S)
    uint64_t seq0, acked_seq;   //  the generation's seq before this run, and the last acked
    double t_filled;            //  when the fill's last change was acknowledged
    uint64_t acked_filled;      //  acked then
    int failed;
} s_agent_t;

typedef struct {
    double sent_at;
    uint64_t last_seq;
} s_inflight_t;

//  One update of record r in --mode patch, as an agent sends it: a patch of
//  the fields that changed, stamped with changed_at_ms. The realistic mix:
//  90 % change clients and/or bitrate only, 10 % status, functions or the
//  DVR ranges (4 / 3 / 3 %). Values depend on the round, so every update
//  changes something.
typedef struct {
    int pick;                   //  0..89 counters, 90..93 status, 94..96 functions, 97..99 DVR
    int which;                  //  counters: 0 clients, 1 bitrate, 2 both
    uint32_t clients, bitrate;
} s_update_t;

static s_update_t
s_update_of (int k, size_t index, uint64_t round)
{
    uint64_t h = s_mix ((uint64_t) k << 40 ^ round << 20 ^ (uint64_t) index);
    s_update_t u = { (int) (h % 100), (int) ((h >> 32) % 3), (uint32_t) ((h >> 8) % 40),
                     500 + (uint32_t) ((h >> 16) % 3500) };
    return u;
}

//  What update (index, round) of agent k leaves in clients and bitrate
static void
s_update_apply (int k, size_t index, uint64_t round, uint32_t *clients, uint32_t *bitrate)
{
    s_update_t u = s_update_of (k, index, round);
    if (u.pick < 90) {
        if (u.which != 1) *clients = u.clients;
        if (u.which != 0) *bitrate = u.bitrate;
    }
    else if (u.pick < 94) {
        bool up = round % 2 == 0;
        *clients = up ? u.clients : 0;
        *bitrate = up ? u.bitrate : 0;
    }
}

static void
s_pack_update (msgpack_packer *pk, const s_rec_t *r, int k, uint64_t round)
{
    s_update_t u = s_update_of (k, (size_t) (r - s_sets [k].recs), round);
    int pick = u.pick;
    uint32_t clients = u.clients, bitrate = u.bitrate;
    int64_t now_ms = sf_now_ms ();
    sf_pack_str (pk, "patch");
    if (pick < 90) {
        int which = u.which;                    //  clients, bitrate or both
        msgpack_pack_map (pk, which == 2 ? 4 : 3);
        sf_pack_kstr (pk, "name", r->name);
        if (which != 1)
            sf_pack_ku64 (pk, "clients", clients);
        if (which != 0)
            sf_pack_ku64 (pk, "bitrate_kbps", bitrate);
    }
    else if (pick < 94) {
        msgpack_pack_map (pk, 5);
        sf_pack_kstr (pk, "name", r->name);
        bool up = round % 2 == 0;
        sf_pack_kstr (pk, "status", up ? "active" : "error");
        sf_pack_ku64 (pk, "clients", up ? clients : 0);
        sf_pack_ku64 (pk, "bitrate_kbps", up ? bitrate : 0);
    }
    else if (pick < 97) {
        msgpack_pack_map (pk, 3);
        sf_pack_kstr (pk, "name", r->name);
        sf_pack_str (pk, "functions");
        msgpack_pack_uint64 (pk, round % 2 ? (SF_FN_DVR | SF_FN_AUDIO) : SF_FN_DVR);
    }
    else {
        msgpack_pack_map (pk, 3);
        sf_pack_kstr (pk, "name", r->name);
        sf_pack_str (pk, "dvr");
        msgpack_pack_map (pk, 1);
        sf_pack_str (pk, "ranges");
        int64_t now = now_ms / 1000;
        msgpack_pack_array (pk, 2);
        msgpack_pack_array (pk, 2);
        msgpack_pack_int64 (pk, now - 86400);
        msgpack_pack_int64 (pk, now - 3600);
        msgpack_pack_array (pk, 2);
        msgpack_pack_int64 (pk, now - 3500);
        msgpack_pack_int64 (pk, now);
    }
    sf_pack_str (pk, "changed_at_ms");
    msgpack_pack_int64 (pk, now_ms);
}

//  Waits for one message; returns its type in msg, 0, or -1 on timeout
static int
s_recv (zsock_t *sock, sf_msg_t *msg, zframe_t **keep, int timeout_ms)
{
    zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return -1;
    zframe_destroy (keep);
    *keep = zframe_recv (sock);
    if (!*keep)
        return -1;
    sf_msg_release (msg);
    return sf_msg_parse (msg, zframe_data (*keep), zframe_size (*keep)) ? -2 : 0;
}

static void *
s_agent_main (void *arg)
{
    s_agent_t *a = arg;
    s_set_t *set = &s_sets [a->k];
    char path [1024], err [512];
    snprintf (path, sizeof (path), "%s/%s", opt.keys, set->node);
    zcert_t *cert = sf_cert_load (path, err, sizeof (err));
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_msg_t msg;
    sf_msg_init (&msg);
    zframe_t *frame = NULL;
    s_inflight_t *ring = calloc ((size_t) opt.window, sizeof (s_inflight_t));
    if (!cert || !sock || sf_sock_curve_client (sock, cert, opt.server_cert, err, sizeof (err))) {
        fprintf (stderr, "agent %s: %s\n", set->node, err);
        a->failed = 1;
        pthread_barrier_wait (a->ready);
        goto done;
    }
    zsock_set_linger (sock, 0);
    zsock_set_sndhwm (sock, 0);
    zsock_set_rcvhwm (sock, 0);
    zsock_connect (sock, "%s", opt.endpoint);
    //  A generation above anything an earlier run left in the store
    uint64_t gen = (uint64_t) sf_now_ms () * 100 + (uint64_t) a->k, seq0 = 0;
    msgpack_sbuffer_clear (&sb);
    sf_msg_begin (&pk, "hello", 3);
    sf_pack_kstr (&pk, "node", set->node);
    sf_pack_ku64 (&pk, "gen", gen);
    sf_pack_ku64 (&pk, "seq", 0);
    zmq_send (zsock_resolve (sock), sb.data, sb.size, 0);
    double deadline = s_now () + 15;
    bool said_hello = false, opened = false;
    while (!opened && s_now () < deadline) {
        if (s_recv (sock, &msg, &frame, 500))
            continue;
        if (!strcmp (msg.type, "ack") && !said_hello && opt.resume) {
            //  --resume: carry on the generation the controller has, so the
            //  node's placements stay (no snapshot empties them)
            uint64_t g = 0, q = 0;
            sf_map_u64 (msg.body, "gen", &g, NULL);
            sf_map_u64 (msg.body, "seq", &q, NULL);
            if (g) {
                gen = g;
                seq0 = q;
                opened = true;
                continue;
            }
        }
        if (!strcmp (msg.type, "ack") && !said_hello) {
            //  Whatever the controller has, a fresh generation starts with a snapshot
            said_hello = true;
            msgpack_sbuffer_clear (&sb);
            sf_msg_begin (&pk, "snap", 5);
            sf_pack_ku64 (&pk, "gen", gen);
            sf_pack_ku64 (&pk, "seq", 0);
            sf_pack_ku64 (&pk, "index", 0);
            sf_pack_kbool (&pk, "last", true);
            sf_pack_str (&pk, "changes");
            msgpack_pack_array (&pk, 0);
            zmq_send (zsock_resolve (sock), sb.data, sb.size, 0);
        }
        else if (!strcmp (msg.type, "ack")) {
            uint64_t g = 0;
            sf_map_u64 (msg.body, "gen", &g, NULL);
            opened = g == gen;
        }
        else if (!strcmp (msg.type, "error")) {
            char m [256] = "";
            sf_map_str (msg.body, "message", m, sizeof (m) - 1, NULL);
            fprintf (stderr, "agent %s: controller error: %s\n", set->node, m);
        }
    }
    if (!opened) {
        fprintf (stderr, "agent %s: no answer from %s (is its key in the controller's certs-dir?)\n",
                 set->node, opt.endpoint);
        a->failed = 1;
    }
    pthread_barrier_wait (a->ready);
    if (a->failed)
        goto done;

    uint64_t seq = seq0, acked = seq0, hb = 0;
    size_t head = 0, inflight = 0;
    size_t next = 0;                //  next record index
    a->t_start = s_now ();
    double end = a->t_start + opt.seconds, next_hb = a->t_start;
    //  Every placement is sent at least once, however long that takes (up
    //  to --fill-seconds), so the query phase meets the whole fleet: a slow
    //  controller makes a longer ingest phase, never a partial fleet
    double fill_end = a->t_start + opt.fill_seconds;
    uint64_t sent = 0;
    double drain_until = end + 15;
    bool draining = false;
    while (true) {
        double now = s_now ();
        bool filling = !opt.resume && sent < (uint64_t) opt.streams && now < fill_end;
        bool sending = now < end || filling;
        if (!sending && !draining) {
            draining = true;        //  15 s for the acks of what is in flight
            drain_until = now + 15;
        }
        //  The fill's acks are waited for as long as the fill may take: on a
        //  loaded machine a commit can take longer than the drain's 15 s
        bool unfilled = !opt.resume && acked - seq0 < (uint64_t) opt.streams && now < fill_end;
        if (!sending && (inflight == 0 || (now > drain_until && !unfilled)))
            break;
        while (sending && inflight < (size_t) opt.window) {
            msgpack_sbuffer_clear (&sb);
            sf_msg_begin (&pk, "batch", 2);
            sf_pack_ku64 (&pk, "gen", gen);
            sf_pack_str (&pk, "changes");
            msgpack_pack_array (&pk, (uint32_t) opt.batch);
            for (int j = 0; j < opt.batch; j++) {
                s_rec_t *r = &set->recs [next];
                bool patch = opt.patch && (opt.resume || sent + (uint64_t) j >= (uint64_t) opt.streams);
                uint64_t round = (sent + (uint64_t) j) / (uint64_t) opt.streams;
                next = (next + 1) % (size_t) opt.streams;
                msgpack_pack_map (&pk, 2);
                sf_pack_ku64 (&pk, "seq", ++seq);
                if (patch)
                    s_pack_update (&pk, r, a->k, round);
                else {
                    sf_pack_str (&pk, "put");
                    msgpack_sbuffer_write (&sb, set->bytes + r->off, r->size);
                }
            }
            sent += (uint64_t) opt.batch;
            zmq_send (zsock_resolve (sock), sb.data, sb.size, 0);
            s_inflight_t *f = &ring [(head + inflight) % (size_t) opt.window];
            f->sent_at = s_now ();
            f->last_seq = seq;
            inflight++;
        }
        if (now >= next_hb) {
            msgpack_sbuffer_clear (&sb);
            sf_msg_begin (&pk, "hb", 3);
            sf_pack_ku64 (&pk, "gen", gen);
            sf_pack_ku64 (&pk, "seq", seq);
            sf_pack_ku64 (&pk, "counter", ++hb);
            zmq_send (zsock_resolve (sock), sb.data, sb.size, 0);
            next_hb = now + 1.0;
        }
        if (s_recv (sock, &msg, &frame, 100))
            continue;
        if (!strcmp (msg.type, "ack")) {
            uint64_t g = 0, s = 0;
            sf_map_u64 (msg.body, "gen", &g, NULL);
            sf_map_u64 (msg.body, "seq", &s, NULL);
            if (g != gen || s <= acked)
                continue;
            acked = s;
            double t = s_now ();
            a->t_last_ack = t;
            if (!a->t_filled && (opt.resume || acked - seq0 >= (uint64_t) opt.streams)) {
                a->t_filled = t;
                a->acked_filled = acked - seq0;
                //  --mode patch measures D seconds of updates after the fill
                if (opt.patch && t + opt.seconds > end)
                    end = t + opt.seconds;
            }
            while (inflight && ring [head].last_seq <= acked) {
                if (a->nlat == a->cap) {
                    a->cap = a->cap ? a->cap * 2 : 4096;
                    a->lat = realloc (a->lat, a->cap * sizeof (double));
                }
                a->lat [a->nlat++] = t - ring [head].sent_at;
                head = (head + 1) % (size_t) opt.window;
                inflight--;
            }
        }
        else if (!strcmp (msg.type, "error"))
            a->errors++;
        else if (!strcmp (msg.type, "resync")) {
            a->resyncs++;
            fprintf (stderr, "agent %s: controller asked for a snapshot; stopping this agent\n", set->node);
            break;
        }
    }
    a->seq0 = seq0;
    a->acked_seq = acked;
    a->acked = acked - seq0;            //  this run's, not the generation's
    a->filled = acked - seq0 < (uint64_t) opt.streams ? acked - seq0 : (uint64_t) opt.streams;
done:
    zframe_destroy (&frame);
    sf_msg_release (&msg);
    msgpack_sbuffer_destroy (&sb);
    free (ring);
    zsock_destroy (&sock);
    zcert_destroy (&cert);
    return NULL;
}

static int
s_ingest (void)
{
    if (!opt.endpoint || !opt.server_cert || !opt.keys) {
        fprintf (stderr, "ingest needs --endpoint, --server-cert and --keys\n");
        return 2;
    }
    s_agent_t *agents = calloc ((size_t) opt.agents, sizeof (s_agent_t));
    pthread_t *threads = calloc ((size_t) opt.agents, sizeof (pthread_t));
    pthread_barrier_t ready;
    pthread_barrier_init (&ready, NULL, (unsigned) opt.agents);
    printf ("ingest: %d agents -> %s, batches of %d, window %d, %d s\n", opt.agents, opt.endpoint,
            opt.batch, opt.window, opt.seconds);
    fflush (stdout);
    for (int k = 0; k < opt.agents; k++) {
        agents [k].k = k;
        agents [k].ready = &ready;
        pthread_create (&threads [k], NULL, s_agent_main, &agents [k]);
    }
    for (int k = 0; k < opt.agents; k++)
        pthread_join (threads [k], NULL);
    uint64_t acked = 0, errors = 0, filled = 0;
    double t0 = 1e300, t1 = 0;
    size_t nlat = 0;
    int failed = 0;
    for (int k = 0; k < opt.agents; k++) {
        s_agent_t *a = &agents [k];
        failed += a->failed;
        acked += a->acked;
        errors += a->errors;
        filled += a->filled;
        nlat += a->nlat;
        if (a->t_start && a->t_start < t0) t0 = a->t_start;
        if (a->t_last_ack > t1) t1 = a->t_last_ack;
    }
    double *lat = malloc ((nlat ? nlat : 1) * sizeof (double));
    size_t n = 0;
    for (int k = 0; k < opt.agents; k++) {
        memcpy (lat + n, agents [k].lat, agents [k].nlat * sizeof (double));
        n += agents [k].nlat;
        free (agents [k].lat);
    }
    qsort (lat, n, sizeof (double), s_cmp_double);
    double rate = t1 > t0 ? (double) acked / (t1 - t0) : 0;
    //  After the fill: each agent's rate from its fill to its last ack
    double steady = 0;
    for (int k = 0; k < opt.agents; k++) {
        s_agent_t *a = &agents [k];
        if (a->t_filled && a->t_last_ack > a->t_filled + 0.5)
            steady += (double) (a->acked - a->acked_filled) / (a->t_last_ack - a->t_filled);
    }
    printf ("ingest: %llu changes committed in %.2f s: %.0f stream updates/s (%.1f MB/s of records); "
            "%llu errors; %d agents failed\n", (unsigned long long) acked, t1 - t0, rate,
            rate * (double) s_total_bytes / ((double) opt.agents * opt.streams) / 1e6,
            (unsigned long long) errors, failed);
    printf ("ingest: batch commit latency (send to ack) p50 %.1f ms, p99 %.1f ms over %zu batches\n",
            s_pct (lat, n, 50) * 1e3, s_pct (lat, n, 99) * 1e3, n);
    printf ("ingest: after the fill (%s): %.0f stream updates/s\n",
            opt.patch ? "the realistic mix as patches" : "whole records", steady);
    printf ("RESULT ingest_rate %.0f updates/s\n", rate);
    printf ("RESULT ingest_rate_after_fill %.0f updates/s\n", steady);
    printf ("RESULT ingest_p50 %.2f ms\n", s_pct (lat, n, 50) * 1e3);
    printf ("RESULT ingest_p99 %.2f ms\n", s_pct (lat, n, 99) * 1e3);
    if (opt.acked) {
        FILE *fa = fopen (opt.acked, "w");
        for (int k = 0; fa && k < opt.agents; k++)
            fprintf (fa, "%d %llu %llu\n", k, (unsigned long long) agents [k].seq0,
                     (unsigned long long) agents [k].acked_seq);
        if (!fa || fclose (fa)) {
            fprintf (stderr, "ingest: cannot write %s\n", opt.acked);
            failed++;
        }
    }
    uint64_t fleet = (uint64_t) opt.agents * (uint64_t) opt.streams;
    printf ("RESULT ingest_filled %llu placements\n", (unsigned long long) filled);
    int incomplete = !opt.resume && filled < fleet;
    if (incomplete)
        fprintf (stderr, "ingest: only %llu of %llu placements were committed within --fill-seconds %d "
                 "(%.0f updates/s): the fleet is incomplete; give it more time or fewer streams\n",
                 (unsigned long long) filled, (unsigned long long) fleet, opt.fill_seconds, rate);
    free (lat);
    free (agents);
    free (threads);
    pthread_barrier_destroy (&ready);
    return failed || acked == 0 || incomplete ? 1 : 0;
}

//  ---------------------------------------------------------------------------
//  query: list and detail timings over one CLI connection

static void
s_report (const char *label, const char *key, double *v, size_t n)
{
    qsort (v, n, sizeof (double), s_cmp_double);
    printf ("%-52s p50 %8.3f ms  p99 %8.3f ms  (%zu runs)\n", label, s_pct (v, n, 50) * 1e3,
            s_pct (v, n, 99) * 1e3, n);
    printf ("RESULT %s%s_p50 %.3f ms\n", opt.tag, key, s_pct (v, n, 50) * 1e3);
    printf ("RESULT %s%s_p99 %.3f ms\n", opt.tag, key, s_pct (v, n, 99) * 1e3);
}

static int
s_request (zsock_t *sock, msgpack_sbuffer *req, sf_msg_t *reply, zframe_t **frame, uint64_t *total)
{
    zmq_send (zsock_resolve (sock), req->data, req->size, 0);
    if (s_recv (sock, reply, frame, 10000))
        return -1;
    if (strcmp (reply->type, "error") == 0) {
        char m [256] = "";
        sf_map_str (reply->body, "message", m, sizeof (m) - 1, NULL);
        fprintf (stderr, "query refused: %s\n", m);
        return -1;
    }
    if (total)
        sf_map_u64 (reply->body, "total", total, NULL);
    return 0;
}

static void
s_list_req_at (msgpack_sbuffer *sb, const char *filter, const char *name, const char *sort,
               uint64_t offset, const char *after, uint64_t limit)
{
    msgpack_sbuffer_clear (sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, sb, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "list", 6);
    sf_pack_kstr (&pk, "filter", filter);
    sf_pack_kstr (&pk, "name", name);
    sf_pack_kstr (&pk, "sort", sort);
    sf_pack_kstr (&pk, "after", after ? after : "");
    sf_pack_ku64 (&pk, "offset", offset);
    sf_pack_ku64 (&pk, "limit", limit);
}

static void
s_list_req (msgpack_sbuffer *sb, const char *filter, const char *name, const char *sort, uint64_t limit)
{
    s_list_req_at (sb, filter, name, sort, 0, NULL, limit);
}

//  Times n runs of one list request; 0 or -1
static int
s_time_list (zsock_t *sock, msgpack_sbuffer *sb, sf_msg_t *reply, zframe_t **frame,
             const char *label, const char *key, int n, double *v)
{
    uint64_t total = 0;
    for (int i = 0; i < n; i++) {
        double t = s_now ();
        if (s_request (sock, sb, reply, frame, &total))
            return -1;
        v [i] = s_now () - t;
    }
    printf ("  (%s matches %llu)\n", key, (unsigned long long) total);
    s_report (label, key, v, (size_t) n);
    return 0;
}

//  HTTP: a GET timed from request to the last byte of the body
static size_t
s_curl_sink (char *p, size_t size, size_t n, void *arg)
{
    *(size_t *) arg += size * n;
    return size * n;
}

static int
s_time_http (CURL *curl, const char *path, const char *label, const char *key, int n,
             int pause_ms, double *v)
{
    char url [512];
    snprintf (url, sizeof (url), "%s%s", opt.http, path);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    for (int i = 0; i < n; i++) {
        size_t bytes = 0;
        curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_curl_sink);
        curl_easy_setopt (curl, CURLOPT_WRITEDATA, &bytes);
        if (pause_ms)
            zclock_sleep (pause_ms);
        double t = s_now ();
        long status = 0;
        if (curl_easy_perform (curl) != CURLE_OK
        ||  curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200) {
            fprintf (stderr, "GET %s failed (HTTP %ld)\n", url, status);
            return -1;
        }
        v [i] = s_now () - t;
    }
    s_report (label, key, v, (size_t) n);
    return 0;
}

//  The CLI's side of a query connection (query and verify): --cert's
//  certificate, CURVE to --server-cert, connected to --endpoint. NULL
//  after printing why; else the socket, and the certificate in *cert_p
//  (both the caller's to destroy).
static zsock_t *
s_connect (zcert_t **cert_p)
{
    char err [512];
    zcert_t *cert = sf_cert_load (opt.cert, err, sizeof (err));
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!cert || sf_sock_curve_client (sock, cert, opt.server_cert, err, sizeof (err))) {
        fprintf (stderr, "%s\n", err);
        zsock_destroy (&sock);
        zcert_destroy (&cert);
        return NULL;
    }
    zsock_set_linger (sock, 0);
    zsock_connect (sock, "%s", opt.endpoint);
    *cert_p = cert;
    return sock;
}

static int
s_query (void)
{
    if (!opt.endpoint || !opt.server_cert || !opt.cert) {
        fprintf (stderr, "query needs --endpoint, --server-cert and --cert\n");
        return 2;
    }
    zcert_t *cert;
    zsock_t *sock = s_connect (&cert);
    if (!sock)
        return 2;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sf_msg_t reply;
    sf_msg_init (&reply);
    zframe_t *frame = NULL;
    uint64_t total = 0;
    //  Warm up: the handshake, and the map pages into the cache
    s_list_req (&sb, "", "", "", 0);
    if (s_request (sock, &sb, &reply, &frame, &total)) {
        fprintf (stderr, "no answer from %s\n", opt.endpoint);
        return 1;
    }
    printf ("query: %llu placements in the controller\n", (unsigned long long) total);
    printf ("RESULT query_streams %llu streams\n", (unsigned long long) total);
    uint64_t fleet = total;
    //  The queries below (details of random names, offsets at half the
    //  fleet) assume the whole fleet: refuse to time a partial one
    if (fleet != (uint64_t) opt.agents * (uint64_t) opt.streams) {
        fprintf (stderr, "query: the controller holds %llu placements, not %d x %d = %llu: the ingest "
                 "phase did not fill the fleet; not timing queries on it\n", (unsigned long long) fleet,
                 opt.agents, opt.streams, (unsigned long long) opt.agents * (unsigned long long) opt.streams);
        zframe_destroy (&frame);
        sf_msg_release (&reply);
        msgpack_sbuffer_destroy (&sb);
        zsock_destroy (&sock);
        zcert_destroy (&cert);
        return 1;
    }
    struct { const char *label, *key, *filter, *name, *sort; } lists [] = {
        { "list: count + page of 100, secondary,dvr + name", "q_filtered", "secondary,dvr", "cam001", "" },
        { "list: first page of 100 (no filter)", "q_plain", "", "", "" },
        { "list: first page of 100 sorted by -bitrate", "q_bitrate", "", "", "-bitrate" },
    };
    int n = opt.iterations;
    double *v = malloc ((size_t) (n * 5 > 2000 ? n * 5 : 2000) * sizeof (double));
    int rc = 0;
    for (size_t q = 0; q < sizeof (lists) / sizeof (lists [0]) && rc == 0; q++) {
        s_list_req (&sb, lists [q].filter, lists [q].name, lists [q].sort, 100);
        if (s_time_list (sock, &sb, &reply, &frame, lists [q].label, lists [q].key, n, v))
            rc = 1;
    }
    //  The first page sorted by every sortable column, both directions
    static const char *columns [] = {
        "name", "node", "status", "type", "clients", "bitrate", "uptime", "reconnects", "source"
    };
    for (size_t c = 0; c < sizeof (columns) / sizeof (columns [0]) && rc == 0; c++)
        for (int desc = 0; desc < 2 && rc == 0; desc++) {
            char sort [32], label [96], key [64];
            snprintf (sort, sizeof (sort), "%s%s", desc ? "-" : "", columns [c]);
            snprintf (label, sizeof (label), "list: first page of 100 sorted by %s", sort);
            snprintf (key, sizeof (key), "q_sort_%s_%s", columns [c], desc ? "desc" : "asc");
            s_list_req (&sb, "", "", sort, 100);
            if (s_time_list (sock, &sb, &reply, &frame, label, key, n, v))
                rc = 1;
        }
    //  A deep page: half the fleet in (500,000 at 1M)
    uint64_t half = fleet / 2;
    printf ("RESULT %sq_deep_offset %llu rows\n", opt.tag, (unsigned long long) half);
    s_list_req_at (&sb, "", "", "name", half, NULL, 100);
    if (rc == 0 && s_time_list (sock, &sb, &reply, &frame, "list: page of 100 at offset fleet/2, by name",
                                "q_deep_name", n, v))
        rc = 1;
    s_list_req_at (&sb, "", "", "-bitrate", half, NULL, 100);
    if (rc == 0 && s_time_list (sock, &sb, &reply, &frame, "list: page of 100 at offset fleet/2, -bitrate",
                                "q_deep_bitrate", n, v))
        rc = 1;
    //  The page after a keyset cursor (the first page's next)
    s_list_req (&sb, "", "", "-bitrate", 100);
    char after [1024] = "";
    if (rc == 0 && s_request (sock, &sb, &reply, &frame, NULL) == 0)
        sf_map_str (reply.body, "next_after", after, sizeof (after) - 1, NULL);
    if (rc == 0 && after [0]) {
        s_list_req_at (&sb, "", "", "-bitrate", 0, after, 100);
        if (s_time_list (sock, &sb, &reply, &frame, "list: page of 100 after a cursor, -bitrate",
                         "q_after", n, v))
            rc = 1;
    }
    if (rc == 0 && opt.http) {
        CURL *curl = curl_easy_init ();
        struct { const char *label, *key, *path; } gets [] = {
            { "HTTP: GET /api/v1/streams?limit=100", "h_plain", "/api/v1/streams?limit=100" },
            { "HTTP: ... &filter=secondary,dvr&name=cam001", "h_filtered",
              "/api/v1/streams?limit=100&filter=secondary,dvr&name=cam001" },
            { "HTTP: ... &sort=-bitrate", "h_bitrate", "/api/v1/streams?limit=100&sort=-bitrate" },
            { "HTTP: ... &sort=uptime&filter=active", "h_uptime", "/api/v1/streams?limit=100&sort=uptime&filter=active" },
        };
        for (size_t g = 0; g < sizeof (gets) / sizeof (gets [0]) && rc == 0; g++)
            if (s_time_http (curl, gets [g].path, gets [g].label, gets [g].key, n, 0, v))
                rc = 1;
        //  /metrics gathers at most once a second (scrapes in between share
        //  it): spaced scrapes measure an uncached gathering
        int nm = n < 20 ? n : 20;
        if (rc == 0 && s_time_http (curl, "/metrics", "HTTP: GET /metrics (uncached, 1.1 s apart)",
                                    "h_metrics", nm, 1100, v))
            rc = 1;
        curl_easy_cleanup (curl);
    }
    //  Detail of random placements
    int nd = n * 5;
    uint64_t rng = 88172645463325252ULL;
    for (int i = 0; i < nd; i++) {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
        char name [SF_NAME_MAX + 1];
        snprintf (name, sizeof (name), "%s%02d-cam%06d", opt.prefix, (int) (rng % (uint64_t) opt.agents) + 1,
                  (int) ((rng >> 20) % (uint64_t) opt.streams));
        msgpack_sbuffer_clear (&sb);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        sf_msg_begin (&pk, "detail", 1);
        sf_pack_kstr (&pk, "name", name);
        double t = s_now ();
        if (s_request (sock, &sb, &reply, &frame, NULL)) {
            fprintf (stderr, "query: detail of '%s' failed\n", name);
            rc = 1;
            break;
        }
        v [i] = s_now () - t;
    }
    s_report ("detail of one stream (all placements, links)", "q_detail", v, (size_t) nd);
    free (v);
    zframe_destroy (&frame);
    sf_msg_release (&reply);
    msgpack_sbuffer_destroy (&sb);
    zsock_destroy (&sock);
    zcert_destroy (&cert);
    return rc;
}

//  ---------------------------------------------------------------------------
//  verify: after `ingest --resume --mode patch --acked FILE` (and whatever
//  happened to the controller meanwhile: tests/integration/87_kill_deltas.sh
//  kills it with -9), every acknowledged change is stored. Per node, the
//  highest stored seq C must be at least the last acknowledged seq A; and
//  every placement must hold exactly what the changes up to C leave in it:
//  clients, bitrate and the version of its last change (the run's updates
//  are deterministic: s_update_of).

//  The fields verify compares, from one listing row (the reply's form:
//  version is {gen, seq} there). 0 or -1
static int
s_row_fields (const msgpack_object *row, sf_stream_t *st)
{
    const msgpack_object *v = sf_map_get (row, "version");
    uint64_t c = 0, b = 0;
    st->version.seq = 0;
    if (sf_map_str (row, "name", st->name, SF_NAME_MAX, NULL) || sf_map_str (row, "node", st->node, SF_NODE_MAX, NULL)
    ||  sf_map_u64 (row, "clients", &c, NULL) || sf_map_u64 (row, "bitrate_kbps", &b, NULL) || !v)
        return -1;
    st->clients = (uint32_t) c;
    st->bitrate_kbps = (uint32_t) b;
    if (v->type == MSGPACK_OBJECT_MAP)
        return sf_map_u64 (v, "seq", &st->version.seq, NULL) ? -1 : 0;
    if (v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 2
    &&  v->via.array.ptr [1].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        st->version.seq = v->via.array.ptr [1].via.u64;
        return 0;
    }
    return -1;
}

//  One listed row's place in an order: the record's value, name, node
typedef struct {
    uint64_t value;
    char name [SF_NAME_MAX + 1];
    char node [SF_NODE_MAX + 1];
} s_ordered_t;

static int
s_ordered_cmp (const void *pa, const void *pb)
{
    const s_ordered_t *a = pa, *b = pb;
    int c = a->value < b->value ? -1 : a->value > b->value;
    if (c == 0)
        c = strcmp (a->name, b->name);
    return c ? c : strcmp (a->node, b->node);
}

//  The stored summaries: a listing sorted by clients (or bitrate) is
//  ordered by the summaries (through the read model, rebuilt from them when
//  the controller starts), while each row's fields come from its record. So
//  the rows must come exactly in the order of their records' values (ties
//  by name, then node): a summary that kept another value than its record
//  puts its row out of place. Returns the rows out of place.
static int
s_verify_order (zsock_t *sock, msgpack_sbuffer *sb, sf_msg_t *reply, zframe_t **frame,
                const char *sort, size_t n)
{
    uint64_t total = 0;
    s_list_req (sb, "", "", sort, n);
    if (s_request (sock, sb, reply, frame, &total)) {
        fprintf (stderr, "verify: no answer to the listing by %s\n", sort);
        return 1;
    }
    const msgpack_object *rows = sf_map_get (reply->body, "streams");
    if (!rows || rows->type != MSGPACK_OBJECT_ARRAY || rows->via.array.size != n) {
        fprintf (stderr, "verify: the listing by %s has not %zu rows\n", sort, n);
        return 1;
    }
    s_ordered_t *got = calloc (n, sizeof (*got)), *want = calloc (n, sizeof (*want));
    sf_stream_t st;
    sf_stream_init (&st);
    for (size_t i = 0; i < n; i++) {
        s_row_fields (&rows->via.array.ptr [i], &st);
        got [i].value = strcmp (sort, "clients") == 0 ? st.clients : st.bitrate_kbps;
        snprintf (got [i].name, sizeof (got [i].name), "%s", st.name);
        snprintf (got [i].node, sizeof (got [i].node), "%s", st.node);
    }
    memcpy (want, got, n * sizeof (*got));
    qsort (want, n, sizeof (*want), s_ordered_cmp);
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (s_ordered_cmp (&got [i], &want [i]) != 0) {
            if (bad < 5)
                fprintf (stderr, "verify: by %s, row %zu is %s/%s (%s %llu in its record); its record's "
                         "values put %s/%s there: a stored summary disagrees with its record\n", sort, i,
                         got [i].node, got [i].name, sort, (unsigned long long) got [i].value,
                         want [i].node, want [i].name);
            bad++;
        }
    sf_stream_clear (&st);
    free (got);
    free (want);
    printf ("verify: listed by %s (the summaries' order): %zu rows, %d out of place\n", sort, n, bad);
    return bad;
}

static int
s_verify (void)
{
    if (!opt.endpoint || !opt.server_cert || !opt.cert || !opt.acked) {
        fprintf (stderr, "verify needs --endpoint, --server-cert, --cert and --acked\n");
        return 2;
    }
    uint64_t seq0 [256] = { 0 }, acked [256] = { 0 }, top [256] = { 0 };
    FILE *fa = fopen (opt.acked, "r");
    int k;
    unsigned long long a0, a1;
    while (fa && fscanf (fa, "%d %llu %llu", &k, &a0, &a1) == 3)
        if (k >= 0 && k < opt.agents)
            seq0 [k] = a0, acked [k] = a1;
    if (!fa) {
        fprintf (stderr, "verify: cannot read %s\n", opt.acked);
        return 2;
    }
    fclose (fa);
    zcert_t *cert;
    zsock_t *sock = s_connect (&cert);
    if (!sock)
        return 2;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    sf_msg_t reply;
    sf_msg_init (&reply);
    zframe_t *frame = NULL;
    uint64_t total = 0;
    size_t n = (size_t) opt.agents * (size_t) opt.streams;
    s_list_req (&sb, "", "", "name", n);
    if (s_request (sock, &sb, &reply, &frame, &total)) {
        fprintf (stderr, "verify: no answer from %s\n", opt.endpoint);
        return 1;
    }
    const msgpack_object *rows = sf_map_get (reply.body, "streams");
    int bad = 0;
    if (total != n || !rows || rows->type != MSGPACK_OBJECT_ARRAY || rows->via.array.size != n) {
        fprintf (stderr, "verify: the controller lists %llu placements, not %zu\n", (unsigned long long) total, n);
        bad++;
    }
    sf_stream_t st;
    sf_stream_init (&st);
    //  First the highest stored seq of each node
    for (uint32_t i = 0; rows && i < rows->via.array.size; i++)
        if (s_row_fields (&rows->via.array.ptr [i], &st) == 0 && sscanf (st.node, "b%d", &k) == 1
        &&  k >= 1 && k <= opt.agents && st.version.seq > top [k - 1])
            top [k - 1] = st.version.seq;
    for (k = 0; k < opt.agents; k++)
        if (top [k] < acked [k]) {
            fprintf (stderr, "verify: node %d acknowledged seq %llu, the store has only %llu\n", k + 1,
                     (unsigned long long) acked [k], (unsigned long long) top [k]);
            bad++;
        }
    size_t checked = 0;
    for (uint32_t i = 0; rows && i < rows->via.array.size; i++) {
        int idx;
        if (s_row_fields (&rows->via.array.ptr [i], &st) || sscanf (st.node, "b%d", &k) != 1
        ||  k < 1 || k > opt.agents || sscanf (st.name + strlen (st.node), "-cam%d", &idx) != 1
        ||  idx < 0 || idx >= opt.streams) {
            fprintf (stderr, "verify: a row this run did not make: %s/%s\n", st.node, st.name);
            bad++;
            continue;
        }
        k--;
        const s_rec_t *r = &s_sets [k].recs [idx];
        uint32_t clients = r->sum.clients, bitrate = r->sum.bitrate_kbps;
        uint64_t last = 0;
        for (uint64_t round = 0; seq0 [k] + (uint64_t) idx + round * (uint64_t) opt.streams + 1 <= top [k]; round++) {
            s_update_apply (k, (size_t) idx, round, &clients, &bitrate);
            last = seq0 [k] + (uint64_t) idx + round * (uint64_t) opt.streams + 1;
        }
        bool seq_ok = last ? st.version.seq == last : st.version.seq <= seq0 [k];
        if (st.clients != clients || st.bitrate_kbps != bitrate || !seq_ok) {
            if (bad < 20)
                fprintf (stderr, "verify: %s/%s holds clients %u bitrate %u at seq %llu; the changes up to "
                         "seq %llu leave clients %u bitrate %u at seq %llu\n", st.node, st.name, st.clients,
                         st.bitrate_kbps, (unsigned long long) st.version.seq, (unsigned long long) top [k],
                         clients, bitrate, (unsigned long long) last);
            bad++;
        }
        checked++;
    }
    bad += s_verify_order (sock, &sb, &reply, &frame, "clients", n);
    bad += s_verify_order (sock, &sb, &reply, &frame, "bitrate", n);
    for (k = 0; k < opt.agents; k++)
        printf ("verify: node b%02d: acknowledged up to seq %llu (this run from %llu), stored up to %llu\n",
                k + 1, (unsigned long long) acked [k], (unsigned long long) seq0 [k], (unsigned long long) top [k]);
    printf ("verify: %zu placements checked, %d wrong\n", checked, bad);
    sf_stream_clear (&st);
    zframe_destroy (&frame);
    sf_msg_release (&reply);
    msgpack_sbuffer_destroy (&sb);
    zsock_destroy (&sock);
    zcert_destroy (&cert);
    return bad ? 1 : 0;
}

//  ---------------------------------------------------------------------------
//  lmdb: raw batch puts of the same bytes

static int
s_lmdb (void)
{
    if (!opt.dir) {
        fprintf (stderr, "lmdb needs --dir\n");
        return 2;
    }
    MDB_env *env;
    MDB_dbi dbi;
    MDB_txn *txn;
    int rc = mdb_env_create (&env);
    if (!rc) rc = mdb_env_set_mapsize (env, (size_t) 8 << 30);
    if (!rc) rc = mdb_env_open (env, opt.dir, MDB_NOSYNC | MDB_NOTLS, 0640);
    if (!rc) rc = mdb_txn_begin (env, NULL, 0, &txn);
    if (!rc) rc = mdb_dbi_open (txn, NULL, 0, &dbi);
    if (!rc) rc = mdb_txn_commit (txn);
    if (rc) {
        fprintf (stderr, "lmdb: %s\n", mdb_strerror (rc));
        return 1;
    }
    uint64_t done = 0;
    size_t at [256] = { 0 };
    double t0 = s_now (), end = t0 + opt.seconds, last_sync = t0;
    int k = 0;
    while (s_now () < end) {
        //  One transaction per batch, agents in turn, as the controller sees them
        if ((rc = mdb_txn_begin (env, NULL, 0, &txn)))
            break;
        s_set_t *set = &s_sets [k];
        for (int j = 0; j < opt.batch; j++) {
            s_rec_t *r = &set->recs [at [k]];
            at [k] = (at [k] + 1) % (size_t) opt.streams;
            char key [SF_NODE_MAX + SF_NAME_MAX + 2];
            size_t ln = strlen (r->node), lm = strlen (r->name);
            memcpy (key, r->node, ln + 1);
            memcpy (key + ln + 1, r->name, lm);
            MDB_val kv = { ln + 1 + lm, key }, vv = { sizeof (sf_summary_t) + r->size, NULL };
            if ((rc = mdb_put (txn, dbi, &kv, &vv, MDB_RESERVE)))
                break;
            memcpy (vv.mv_data, &r->sum, sizeof (sf_summary_t));
            memcpy ((char *) vv.mv_data + sizeof (sf_summary_t), set->bytes + r->off, r->size);
        }
        if (rc || (rc = mdb_txn_commit (txn)))
            break;
        done += (uint64_t) opt.batch;
        k = (k + 1) % opt.agents;
        if (s_now () - last_sync >= 1.0) {
            mdb_env_sync (env, 1);
            last_sync = s_now ();
        }
    }
    double dt = s_now () - t0;
    if (rc)
        fprintf (stderr, "lmdb: %s\n", mdb_strerror (rc));
    mdb_env_close (env);
    printf ("lmdb: %llu raw puts in %.2f s: %.0f puts/s (one txn per %d, NOSYNC + sync every 1 s)\n",
            (unsigned long long) done, dt, done / dt, opt.batch);
    printf ("RESULT lmdb_rate %.0f puts/s\n", done / dt);
    return rc ? 1 : 0;
}

//  ---------------------------------------------------------------------------
//  sqlite: indexed upserts of the same records, then the query workload

static int
s_exec (sqlite3 *db, const char *sql)
{
    char *e = NULL;
    if (sqlite3_exec (db, sql, NULL, NULL, &e) != SQLITE_OK) {
        fprintf (stderr, "sqlite: %s: %s\n", sql, e ? e : "?");
        sqlite3_free (e);
        return -1;
    }
    return 0;
}

static double
s_time_stmt (sqlite3 *db, const char *sql, const char *bind_name, int rows_max, uint64_t *rows_out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf (stderr, "sqlite: %s: %s\n", sql, sqlite3_errmsg (db));
        return -1;
    }
    double t = s_now ();
    if (bind_name)
        sqlite3_bind_text (st, 1, bind_name, -1, SQLITE_TRANSIENT);
    uint64_t rows = 0, bytes = 0;
    while (sqlite3_step (st) == SQLITE_ROW && (int) rows < rows_max) {
        rows++;
        int cols = sqlite3_column_count (st);
        for (int c = 0; c < cols; c++)
            bytes += (uint64_t) sqlite3_column_bytes (st, c);
    }
    sqlite3_finalize (st);
    if (rows_out)
        *rows_out = rows;
    return s_now () - t;
}

static int
s_sqlite (void)
{
    if (!opt.file) {
        fprintf (stderr, "sqlite needs --file\n");
        return 2;
    }
    unlink (opt.file);
    sqlite3 *db;
    if (sqlite3_open (opt.file, &db) != SQLITE_OK) {
        fprintf (stderr, "sqlite: cannot open %s\n", opt.file);
        return 1;
    }
    if (s_exec (db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;"
                    "CREATE TABLE streams (node TEXT NOT NULL, name TEXT NOT NULL, type INT, status INT,"
                    " functions INT, clients INT, bitrate INT, started_at INT, record BLOB,"
                    " PRIMARY KEY (node, name));"
                    "CREATE INDEX streams_name ON streams (name);"
                    "CREATE INDEX streams_type ON streams (type, status);"
                    "CREATE INDEX streams_bitrate ON streams (bitrate);"))
        return 1;
    sqlite3_stmt *up;
    sqlite3_prepare_v2 (db,
        "INSERT INTO streams (node, name, type, status, functions, clients, bitrate, started_at, record)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (node, name) DO UPDATE SET"
        " type = excluded.type, status = excluded.status, functions = excluded.functions,"
        " clients = excluded.clients, bitrate = excluded.bitrate, started_at = excluded.started_at,"
        " record = excluded.record", -1, &up, NULL);
    uint64_t done = 0;
    size_t at [256] = { 0 };
    double t0 = s_now (), end = t0 + opt.seconds;
    int k = 0;
    //  Fill every placement at least once, so the queries see the whole fleet
    uint64_t fill = (uint64_t) opt.agents * (uint64_t) opt.streams;
    while (s_now () < end || done < fill) {
        s_exec (db, "BEGIN");
        s_set_t *set = &s_sets [k];
        for (int j = 0; j < opt.batch; j++) {
            s_rec_t *r = &set->recs [at [k]];
            at [k] = (at [k] + 1) % (size_t) opt.streams;
            sqlite3_bind_text (up, 1, r->node, -1, SQLITE_STATIC);
            sqlite3_bind_text (up, 2, r->name, -1, SQLITE_STATIC);
            sqlite3_bind_int (up, 3, r->sum.type);
            sqlite3_bind_int (up, 4, r->sum.status);
            sqlite3_bind_int (up, 5, r->sum.functions);
            sqlite3_bind_int (up, 6, (int) r->sum.clients);
            sqlite3_bind_int (up, 7, (int) r->sum.bitrate_kbps);
            sqlite3_bind_int64 (up, 8, r->sum.started_at);
            sqlite3_bind_blob (up, 9, set->bytes + r->off, (int) r->size, SQLITE_STATIC);
            if (sqlite3_step (up) != SQLITE_DONE) {
                fprintf (stderr, "sqlite: %s\n", sqlite3_errmsg (db));
                return 1;
            }
            sqlite3_reset (up);
        }
        s_exec (db, "COMMIT");
        done += (uint64_t) opt.batch;
        k = (k + 1) % opt.agents;
    }
    double dt = s_now () - t0;
    sqlite3_finalize (up);
    printf ("sqlite: %llu indexed upserts in %.2f s: %.0f upserts/s (WAL, synchronous=OFF, "
            "one txn per %d)\n", (unsigned long long) done, dt, done / dt, opt.batch);
    printf ("RESULT sqlite_rate %.0f upserts/s\n", done / dt);
    //  The query workload, with indexes; the count and the page are two statements
    int n = opt.iterations;
    double *v = malloc ((size_t) (n * 5) * sizeof (double));
    uint64_t rows = 0;
    const char *where = "type = 1 AND (functions & 1) = 1 AND instr (lower (name), 'cam001') > 0";
    char count_sql [512], page_sql [512];
    snprintf (count_sql, sizeof (count_sql), "SELECT count(*) FROM streams WHERE %s", where);
    snprintf (page_sql, sizeof (page_sql),
              "SELECT node, name, record FROM streams WHERE %s ORDER BY name, node LIMIT 100", where);
    for (int i = 0; i < n; i++)
        v [i] = s_time_stmt (db, count_sql, NULL, 1, NULL) + s_time_stmt (db, page_sql, NULL, 100, &rows);
    s_report ("sqlite: count + page of 100, secondary,dvr + name", "sqlite_q_filtered", v, (size_t) n);
    for (int i = 0; i < n; i++)
        v [i] = s_time_stmt (db, "SELECT count(*) FROM streams", NULL, 1, NULL)
              + s_time_stmt (db, "SELECT node, name, record FROM streams ORDER BY name, node LIMIT 100",
                             NULL, 100, &rows);
    s_report ("sqlite: count + first page of 100 (no filter)", "sqlite_q_plain", v, (size_t) n);
    for (int i = 0; i < n; i++)
        v [i] = s_time_stmt (db, "SELECT count(*) FROM streams", NULL, 1, NULL)
              + s_time_stmt (db, "SELECT node, name, record FROM streams ORDER BY bitrate DESC LIMIT 100",
                             NULL, 100, &rows);
    s_report ("sqlite: count + first page sorted by -bitrate", "sqlite_q_bitrate", v, (size_t) n);
    //  Half the fleet in, by name and by -bitrate (both indexed)
    uint64_t fleet = (uint64_t) opt.agents * (uint64_t) opt.streams;
    char deep_sql [256];
    snprintf (deep_sql, sizeof (deep_sql),
              "SELECT node, name, record FROM streams ORDER BY name, node LIMIT 100 OFFSET %llu",
              (unsigned long long) (fleet / 2));
    for (int i = 0; i < n; i++)
        v [i] = s_time_stmt (db, "SELECT count(*) FROM streams", NULL, 1, NULL)
              + s_time_stmt (db, deep_sql, NULL, 100, &rows);
    s_report ("sqlite: count + page at offset fleet/2 by name", "sqlite_q_deep_name", v, (size_t) n);
    snprintf (deep_sql, sizeof (deep_sql),
              "SELECT node, name, record FROM streams ORDER BY bitrate DESC LIMIT 100 OFFSET %llu",
              (unsigned long long) (fleet / 2));
    for (int i = 0; i < n; i++)
        v [i] = s_time_stmt (db, "SELECT count(*) FROM streams", NULL, 1, NULL)
              + s_time_stmt (db, deep_sql, NULL, 100, &rows);
    s_report ("sqlite: count + page at offset fleet/2 by -bitrate", "sqlite_q_deep_bitrate", v, (size_t) n);
    uint64_t rng = 88172645463325252ULL;
    for (int i = 0; i < n * 5; i++) {
        rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
        char name [SF_NAME_MAX + 1];
        snprintf (name, sizeof (name), "%s%02d-cam%06d", opt.prefix, (int) (rng % (uint64_t) opt.agents) + 1,
                  (int) ((rng >> 20) % (uint64_t) opt.streams));
        v [i] = s_time_stmt (db, "SELECT node, name, record FROM streams WHERE name = ?1", name, 100, NULL);
    }
    s_report ("sqlite: detail (by name, index)", "sqlite_q_detail", v, (size_t) n * 5);
    free (v);
    sqlite3_close (db);
    return 0;
}

//  ---------------------------------------------------------------------------
//  redis: pipelined HSET of the same records

typedef struct {
    int k0, k1;                 //  agents [k0, k1) on this connection
    uint64_t done;
    int failed;
    double end;
} s_redis_t;

static int
s_write_all (int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write (fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static void *
s_redis_main (void *arg)
{
    s_redis_t *r = arg;
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) opt.port) };
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof (one));
    if (connect (fd, (struct sockaddr *) &sa, sizeof (sa))) {
        perror ("redis: connect");
        r->failed = 1;
        return NULL;
    }
    size_t cap = (size_t) opt.batch * 1024 + 65536;
    char *buf = malloc (cap), *in = malloc (65536);
    size_t at [256] = { 0 };
    int k = r->k0;
    while (s_now () < r->end) {
        s_set_t *set = &s_sets [k];
        size_t len = 0;
        for (int j = 0; j < opt.batch; j++) {
            s_rec_t *rec = &set->recs [at [k]];
            at [k] = (at [k] + 1) % (size_t) opt.streams;
            char key [SF_NODE_MAX + 8];
            int lk = snprintf (key, sizeof (key), "sf:%s", rec->node);
            size_t lm = strlen (rec->name);
            if (len + rec->size + 256 > cap)
                break;
            len += (size_t) snprintf (buf + len, cap - len, "*4\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n",
                                      lk, key, lm, rec->name, rec->size);
            memcpy (buf + len, set->bytes + rec->off, rec->size);
            len += rec->size;
            memcpy (buf + len, "\r\n", 2);
            len += 2;
        }
        if (s_write_all (fd, buf, len)) {
            r->failed = 1;
            break;
        }
        //  One reply line (":0\r\n" / ":1\r\n") per command
        int lines = 0;
        while (lines < opt.batch) {
            ssize_t n = read (fd, in, 65536);
            if (n <= 0) {
                r->failed = 1;
                break;
            }
            for (ssize_t i = 0; i < n; i++)
                if (in [i] == '\n')
                    lines++;
                else if (in [i] == '-' && (i == 0 || in [i - 1] == '\n'))
                    r->failed = 1;
        }
        if (r->failed)
            break;
        r->done += (uint64_t) opt.batch;
        k = k + 1 < r->k1 ? k + 1 : r->k0;
    }
    free (buf);
    free (in);
    close (fd);
    return NULL;
}

static int
s_redis (void)
{
    if (!opt.port) {
        fprintf (stderr, "redis needs --port\n");
        return 2;
    }
    int conns = opt.window < opt.agents ? opt.window : opt.agents;
    s_redis_t *rs = calloc ((size_t) conns, sizeof (s_redis_t));
    pthread_t *th = calloc ((size_t) conns, sizeof (pthread_t));
    double t0 = s_now ();
    for (int c = 0; c < conns; c++) {
        rs [c].k0 = c * opt.agents / conns;
        rs [c].k1 = (c + 1) * opt.agents / conns;
        rs [c].end = t0 + opt.seconds;
        pthread_create (&th [c], NULL, s_redis_main, &rs [c]);
    }
    uint64_t done = 0;
    int failed = 0;
    for (int c = 0; c < conns; c++) {
        pthread_join (th [c], NULL);
        done += rs [c].done;
        failed += rs [c].failed;
    }
    double dt = s_now () - t0;
    printf ("redis: %llu pipelined HSETs in %.2f s over %d connections: %.0f HSET/s (pipeline %d)%s\n",
            (unsigned long long) done, dt, conns, done / dt, opt.batch, failed ? " (errors!)" : "");
    printf ("RESULT redis_rate %.0f hset/s\n", done / dt);
    free (rs);
    free (th);
    return failed ? 1 : 0;
}

//  ---------------------------------------------------------------------------

static void
s_usage (void)
{
    fprintf (stderr,
        "usage: sf_bench_ingest ingest|query|verify|lmdb|sqlite|redis [options]\n"
        "  --endpoint E --server-cert P --keys DIR --cert P --dir D --file F --port N\n"
        "  --agents K [10] --streams S [10000] --batch N [1000] --window W [4]\n"
        "  --seconds D [10] --iterations I [200] --prefix P [b]\n"
        "  --fill-seconds F [900] (ingest: go on past D until every placement was committed once,\n"
        "    for at most F s; fails, naming how many were, if they were not)\n"
        "  --acked FILE (ingest: write each agent's last acknowledged seq; verify: read it)\n"
        "  --mode put|patch [put] (ingest: after the fill, whole records again, or the realistic mix\n"
        "    as patches: 90 %% clients and/or bitrate, 10 %% status, functions or DVR ranges)\n"
        "  --http URL (query: also time the HTTP API) --tag T (prefix of the figures' names)\n"
        "  --resume (ingest: carry on the controller's generation, keep the placements)\n");
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        s_usage ();
        return 2;
    }
    opt.mode = argv [1];
    for (int i = 2; i < argc; i += 2) {
        const char *k = argv [i], *v = i + 1 < argc ? argv [i + 1] : NULL;
        if (!v && strcmp (k, "--resume")) { s_usage (); return 2; }
        if (!strcmp (k, "--endpoint")) opt.endpoint = v;
        else if (!strcmp (k, "--server-cert")) opt.server_cert = v;
        else if (!strcmp (k, "--cert")) opt.cert = v;
        else if (!strcmp (k, "--keys")) opt.keys = v;
        else if (!strcmp (k, "--dir")) opt.dir = v;
        else if (!strcmp (k, "--file")) opt.file = v;
        else if (!strcmp (k, "--prefix")) opt.prefix = v;
        else if (!strcmp (k, "--port")) opt.port = atoi (v);
        else if (!strcmp (k, "--agents")) opt.agents = atoi (v);
        else if (!strcmp (k, "--streams")) opt.streams = atoi (v);
        else if (!strcmp (k, "--batch")) opt.batch = atoi (v);
        else if (!strcmp (k, "--window")) opt.window = atoi (v);
        else if (!strcmp (k, "--seconds")) opt.seconds = atoi (v);
        else if (!strcmp (k, "--iterations")) opt.iterations = atoi (v);
        else if (!strcmp (k, "--fill-seconds")) opt.fill_seconds = atoi (v);
        else if (!strcmp (k, "--acked")) opt.acked = v;
        else if (!strcmp (k, "--mode")) {
            if (strcmp (v, "put") && strcmp (v, "patch")) { s_usage (); return 2; }
            opt.patch = !strcmp (v, "patch");
        }
        else if (!strcmp (k, "--http")) opt.http = v;
        else if (!strcmp (k, "--resume")) { opt.resume = true; i--; }
        else if (!strcmp (k, "--tag")) opt.tag = v;
        else { s_usage (); return 2; }
    }
    if (opt.agents < 1 || opt.agents > 256 || opt.streams < 1 || opt.batch < 1 || opt.window < 1
    ||  opt.seconds < 1 || opt.iterations < 1) {
        fprintf (stderr, "sf_bench_ingest: agents 1..256, everything else positive\n");
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (NULL);
    zsys_set_io_threads (2);
    if (strcmp (opt.mode, "query") && s_make_sets ()) {
        fprintf (stderr, "out of memory for the records\n");
        return 1;
    }
    fflush (stdout);
    int rc;
    if (!strcmp (opt.mode, "ingest")) rc = s_ingest ();
    else if (!strcmp (opt.mode, "verify")) rc = s_verify ();
    else if (!strcmp (opt.mode, "query")) rc = s_query ();
    else if (!strcmp (opt.mode, "lmdb")) rc = s_lmdb ();
    else if (!strcmp (opt.mode, "sqlite")) rc = s_sqlite ();
    else if (!strcmp (opt.mode, "redis")) rc = s_redis ();
    else { s_usage (); rc = 2; }
    fflush (stdout);
    return rc;
}

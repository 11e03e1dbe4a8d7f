/*  fuzz_gossip — a peer controller's message (protocol "Controller ↔
    controller"): the envelope, then the real handlers of controller/gossip.c
    (s_on_exchange → s_merge_members, s_merge_beats, s_digest_ahead,
    s_send_delta, s_send_history; s_apply_delta; s_apply_history →
    sf_fleet_history_apply; s_on_ext → the `alerts` state of
    sf_alerts_gossip_ext: sf_alerts_sync_apply, sf_webhooks_confirm_apply,
    the digests and offers; ping, ping_req, ack, ping_ack) over a real LMDB
    store under /tmp written through the real write session, through the
    seam sf_gossip_fuzz_input (include/sf_gossip.h). Fuzz mode connects
    nowhere: messages gossip would send are tapped, and each must be a
    well-formed envelope.

    Every input that is an envelope meets a fresh controller (store, live
    table, writer, gossip), so each run is reproducible from its input alone:
    two nodes n1 and n2 with placements, a tombstone, beats (n1 stale) and
    their placement history, an alert rule with one alert firing (cam-b in
    error) and a webhook receiver with one delivery confirmation.

    The seeds in tests/fuzz/gossip/ are real messages, captured from the tap:
        SF_FUZZ_GOSSIP_SEEDS=tests/fuzz/gossip build-fuzz/fuzz/fuzz_gossip
    writes an empty controller's gossip request (its first round to a seed),
    the populated one's answer to it (gossip_reply with digest, beats with
    the stale mark, history digest and members; a delta with 's', 'd' and
    'n' entries; history with events), its own gossip request, the ack
    to a ping, and an `alerts` message (digests and an offer of episodes
    and confirmations) with the answer it gets; the answer of a controller
    where n1's agent resynced (a delta whose node record carries a
    snapshot_floor above what the baseline holds, its tombstones
    collected), and that delta with a malformed floor (three elements, a
    string); then exits. */
#include "fuzz.h"
#include "sf_alerts.h"
#include "sf_codec.h"
#include "sf_controller.h"
#include "sf_fleet.h"
#include "sf_gossip.h"
#include "sf_live.h"
#include "sf_metrics.h"
#include "sf_patchlog.h"
#include "sf_record.h"
#include "sf_store.h"
#include "sf_webhook.h"
#include "sf_writer.h"
#include <czmq.h>

typedef struct {
    char dir [64];
    sf_controller_config_t cfg;
    sf_store_t *store;
    sf_live_t *live;
    sf_metrics_t metrics;
    sf_writer_t *writer;
    sf_patchlog_t *patches;
    zcert_t *cert;
    sf_alerts_t *alerts;
    sf_webhooks_t *webhooks;
    sf_alerts_ext_t ext_arg;
    sf_gossip_ext_t ext;
    sf_gossip_t *gossip;
} fz_ctl_t;

//  What the controller sent, in order (the seed writer keeps it)
static zlistx_t *s_sent;

static void
s_tap (const void *data, size_t size, void *arg)
{
    sf_msg_t msg;
    sf_msg_init (&msg);
    FUZZ_CHECK (sf_msg_parse (&msg, data, size) == 0);
    sf_msg_release (&msg);
    if (s_sent)
        zlistx_add_end (s_sent, zchunk_new (data, size));
}

static void
s_put (sf_writer_t *w, sf_origin_t *o, const char *name, uint8_t type, uint8_t status,
       uint64_t seq, int64_t now_s)
{
    sf_stream_t s;
    sf_stream_init (&s);
    SF_STRSET (s.name, name);
    SF_STRSET (s.node, o->node);
    s.type = type;
    s.status = status;
    s.functions = SF_FN_DVR;
    s.clients = 3;
    s.bitrate_kbps = 1500;
    s.ping_ms = -1;
    s.started_at = status == SF_STATUS_ACTIVE ? now_s - 60 : 0;
    s.changed_at_ms = now_s * 1000;
    snprintf (s.uid, sizeof (s.uid), "uid-%s", name);
    sf_dvr_add_range (&s.dvr, now_s - 3600, now_s - 60);
    sf_version_t v = { 1, seq };
    FUZZ_CHECK (sf_writer_put (w, o, &s, v) == 0);
    sf_writer_stage (w, o, v);
    sf_stream_clear (&s);
}

//  The node record at seq; floor: its snapshot_floor (0: none)
static void
s_node (sf_writer_t *w, sf_origin_t *o, uint64_t seq, uint64_t floor)
{
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.id, o->node);
    SF_STRSET (n.addr_external, "media.example.net");
    n.version = (sf_version_t) { 1, seq };
    if (floor)
        n.snapshot_floor = (sf_version_t) { 1, floor };
    sf_writer_set_info (w, o, &n);
    sf_writer_stage (w, o, n.version);
}

//  Two nodes' worth of state, written the way an agent's messages are
static void
s_populate (fz_ctl_t *c)
{
    sf_writer_t *w = c->writer;
    int64_t now_s = sf_now_ms () / 1000;
    FUZZ_CHECK (sf_writer_begin (w) == 0);
    sf_origin_t *n1 = sf_writer_origin (w, "n1");
    sf_origin_t *n2 = sf_writer_origin (w, "n2");
    FUZZ_CHECK (n1 && n2);
    s_node (w, n1, 1, 0);
    s_node (w, n2, 1, 0);
    s_put (w, n1, "cam-a", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 2, now_s);
    s_put (w, n1, "cam-b", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 3, now_s);
    s_put (w, n1, "old", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 4, now_s);
    s_put (w, n2, "cam-a", SF_TYPE_SECONDARY, SF_STATUS_SUSPEND, 2, now_s);
    FUZZ_CHECK (sf_writer_commit (w) == 0);
    //  A second transaction: a tombstone, and n1 goes silent while cam-a's
    //  standby on n2 takes over (a failover: the history has an event)
    int64_t mono = sf_mono_ms ();
    sf_live_know (c->live, "n1", mono - 3600 * 1000);
    FUZZ_CHECK (sf_writer_begin (w) == 0);
    n1 = sf_writer_origin (w, "n1");
    n2 = sf_writer_origin (w, "n2");
    FUZZ_CHECK (sf_writer_del (w, n1, "old", (sf_version_t) { 1, 5 }) == 0);
    sf_writer_stage (w, n1, (sf_version_t) { 1, 5 });
    s_put (w, n2, "cam-a", SF_TYPE_SECONDARY, SF_STATUS_ACTIVE, 3, now_s);
    FUZZ_CHECK (sf_writer_commit (w) == 0);
    sf_live_beat (c->live, "n1", 1, 7, mono);
    sf_live_set_stale (c->live, "n1", 1, 7, true);
    sf_live_beat (c->live, "n2", 1, 9, mono);
}

//  What a peer ahead of the baseline holds besides: a new placement, a
//  deletion and a new node record on n1, a new origin n3, n2 stale
static void
s_populate_more (fz_ctl_t *c)
{
    sf_writer_t *w = c->writer;
    int64_t now_s = sf_now_ms () / 1000;
    FUZZ_CHECK (sf_writer_begin (w) == 0);
    sf_origin_t *n1 = sf_writer_origin (w, "n1");
    sf_origin_t *n3 = sf_writer_origin (w, "n3");
    FUZZ_CHECK (n1 && n3);
    s_put (w, n1, "cam-c", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 7, now_s);
    FUZZ_CHECK (sf_writer_del (w, n1, "cam-b", (sf_version_t) { 1, 8 }) == 0);
    sf_writer_stage (w, n1, (sf_version_t) { 1, 8 });
    s_node (w, n1, 9, 0);
    s_node (w, n3, 1, 0);
    s_put (w, n3, "yard", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 2, now_s);
    FUZZ_CHECK (sf_writer_commit (w) == 0);
    int64_t mono = sf_mono_ms ();
    sf_live_beat (c->live, "n2", 1, 10, mono);
    sf_live_set_stale (c->live, "n2", 1, 10, true);
    sf_live_beat (c->live, "n3", 1, 1, mono);
}

//  What a peer holds after n1's agent resynced with it (docs/protocol.md
//  §4.2, §6.3 rules 5a and 7): the snapshot re-stamped cam-b (7), brought
//  cam-c (8) and dropped cam-a, whose tombstone is collected since (the
//  grace passed); the node record at the snapshot's version (9) carries
//  its floor, 1/7. A baseline that meets its delta drops cam-a (at 2,
//  below the floor) with no 'd' entry, and refuses it back
static void
s_populate_floor (fz_ctl_t *c)
{
    sf_writer_t *w = c->writer;
    int64_t now_s = sf_now_ms () / 1000;
    FUZZ_CHECK (sf_writer_begin (w) == 0);
    sf_origin_t *n1 = sf_writer_origin (w, "n1");
    FUZZ_CHECK (n1);
    s_put (w, n1, "cam-b", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 7, now_s);
    s_put (w, n1, "cam-c", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 8, now_s);
    FUZZ_CHECK (sf_writer_del (w, n1, "cam-a", (sf_version_t) { 1, 9 }) == 0);
    s_node (w, n1, 9, 7);
    FUZZ_CHECK (sf_writer_commit (w) == 0);
    FUZZ_CHECK (sf_writer_begin (w) == 0);
    FUZZ_CHECK (sf_store_gc_tombstones (c->store, sf_now_ms () + 1000) == 2);
    FUZZ_CHECK (sf_writer_commit (w) == 0);
}

static void
s_ctl_destroy (fz_ctl_t *c)
{
    sf_gossip_destroy (&c->gossip);
    sf_webhooks_destroy (&c->webhooks);
    sf_alerts_destroy (&c->alerts);
    sf_patchlog_destroy (&c->patches);
    sf_writer_destroy (&c->writer);
    sf_store_destroy (&c->store);
    sf_live_destroy (&c->live);
    zcert_destroy (&c->cert);
    if (c->dir [0]) {
        char cmd [128];
        snprintf (cmd, sizeof (cmd), "rm -rf '%s'", c->dir);
        if (system (cmd) != 0)
            fprintf (stderr, "could not remove %s\n", c->dir);
        c->dir [0] = 0;
    }
}

static void
s_ctl_new (fz_ctl_t *c, const char *id, const char *peers, const char *seeds, int level)
{
    memset (c, 0, sizeof (*c));
    sf_config_defaults (sf_controller_options, &c->cfg);
    snprintf (c->cfg.id, sizeof (c->cfg.id), "%s", id);
    snprintf (c->cfg.peers, sizeof (c->cfg.peers), "%s", peers);
    snprintf (c->cfg.advertise, sizeof (c->cfg.advertise), "%s", peers);
    snprintf (c->cfg.seeds, sizeof (c->cfg.seeds), "%s", seeds);
    strcpy (c->dir, "/tmp/sf-fuzz-gossip.XXXXXX");
    FUZZ_CHECK (mkdtemp (c->dir));
    char err [256];
    c->store = sf_store_new (c->dir, 16 << 20, err, sizeof (err));
    c->live = sf_live_new (c->cfg.suspect_ms, c->cfg.down_ms);
    FUZZ_CHECK (c->store && c->live);
    sf_fleet_set_live (c->live);
    //  The history digest is cached in fleet.c for the one store a
    //  controller has: mark it stale for this one (it is recomputed at most
    //  every 200 ms, so a digest may still name a previous input's hours)
    sf_fleet_set_history (30, 1000);
    sf_metrics_init (&c->metrics);
    c->writer = sf_writer_new (&(sf_writer_config_t) {
        .store = c->store, .live = c->live, .metrics = &c->metrics, .batch_records = 1000 });
    sf_writer_load (c->writer);
    if (level >= 1)
        s_populate (c);
    if (level == 2)
        s_populate_more (c);
    if (level == 3)
        s_populate_floor (c);
    c->cert = zcert_new ();
    //  A small patch log: 'p' entries a fuzzed delta applies are noted, and
    //  a fuzzed request's answer may carry them
    c->patches = sf_patchlog_new (64, 0);
    //  The alerts state: a rule, cam-b firing (populated controllers), a
    //  receiver that is never called (no alert is handed to it) with one
    //  confirmation
    c->alerts = sf_alerts_new ("cam-offline inactive for=0 resolve=0 name=cam-*", 120, err, sizeof (err));
    FUZZ_CHECK (c->alerts);
    sf_alerts_set_store (c->alerts, c->store);
    char queue [96];
    snprintf (queue, sizeof (queue), "%s/webhooks", c->dir);
    c->webhooks = sf_webhooks_new (&(sf_webhooks_config_t) {
        .receivers = "ops http://127.0.0.1:9/hook", .queue_dir = queue, .controller_id = id,
        .retries = 1, .backoff_ms = 1000, .backoff_max_ms = 1000, .timeout_ms = 100,
        .standby_max_ms = 1000, .dead_max = 10 }, err, sizeof (err));
    FUZZ_CHECK (c->webhooks);
    if (level >= 1) {
        sf_store_change_t ch = { .node = "n1", .name = "cam-b" };
        ch.sum.type = SF_TYPE_PRIMARY;
        ch.sum.status = SF_STATUS_ERROR;
        ch.sum.gen = 1;
        ch.sum.seq = 3;
        int64_t now = sf_now_ms ();
        sf_alerts_apply (c->alerts, &ch, 1, now);
        sf_alerts_tick (c->alerts, now);
        FUZZ_CHECK (sf_alerts_firing (c->alerts) == 1);
        msgpack_sbuffer sb;
        msgpack_sbuffer_init (&sb);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
        msgpack_pack_array (&pk, 1);
        msgpack_pack_array (&pk, 3);
        sf_pack_str (&pk, "ops");
        sf_pack_str (&pk, "0123456789abcdef0123456789abcdef");
        msgpack_pack_int64 (&pk, now);
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        size_t off = 0;
        FUZZ_CHECK (msgpack_unpack_next (&u, sb.data, sb.size, &off) == MSGPACK_UNPACK_SUCCESS);
        FUZZ_CHECK (sf_webhooks_confirm_apply (c->webhooks, &u.data) == 0);
        msgpack_unpacked_destroy (&u);
        msgpack_sbuffer_destroy (&sb);
    }
    sf_alerts_gossip_ext (&c->ext, &c->ext_arg, c->alerts, c->webhooks);
    c->gossip = sf_gossip_new (&(sf_gossip_env_t) {
        .cfg = &c->cfg, .cert = c->cert, .writer = c->writer, .store = c->store,
        .live = c->live, .metrics = &c->metrics, .peers = NULL, .patches = c->patches,
        .ext = &c->ext }, err, sizeof (err));
    if (!c->gossip)
        fprintf (stderr, "fuzz_gossip: %s\n", err);
    FUZZ_CHECK (c->gossip);
    //  Seeds (the seed writer's only) became members in sf_gossip_new,
    //  before fuzz mode: their connections, if set up, dial inproc endpoints
    sf_gossip_fuzz_mode (c->gossip, s_tap, NULL);
}

//  ---------------------------------------------------------------------------
//  The seed writer (SF_FUZZ_GOSSIP_SEEDS=DIR)

static int s_seed_count;

static void
s_save (const char *dir, const char *name, zchunk_t *chunk)
{
    char path [600];
    snprintf (path, sizeof (path), "%s/%s", dir, name);
    FILE *f = fopen (path, "wb");
    FUZZ_CHECK (f);
    FUZZ_CHECK (fwrite (zchunk_data (chunk), 1, zchunk_size (chunk), f) == zchunk_size (chunk));
    fclose (f);
    s_seed_count++;
}

//  Saves chunk as name with the one occurrence of `from` (a key and its
//  value) replaced by `to`: msgpack counts its items, not their bytes, so
//  a value swapped for another stays a well-formed message
static void
s_save_replaced (const char *dir, const char *name, zchunk_t *chunk, const char *from, size_t from_size,
                 const char *to, size_t to_size)
{
    const char *data = (const char *) zchunk_data (chunk);
    size_t size = zchunk_size (chunk);
    const char *at = NULL;
    for (size_t i = 0; i + from_size <= size; i++)
        if (memcmp (data + i, from, from_size) == 0) {
            FUZZ_CHECK (!at);
            at = data + i;
        }
    FUZZ_CHECK (at);
    size_t head = (size_t) (at - data);
    zchunk_t *out = zchunk_new (NULL, size - from_size + to_size);
    zchunk_extend (out, data, head);
    zchunk_extend (out, to, to_size);
    zchunk_extend (out, at + from_size, size - head - from_size);
    FUZZ_CHECK (zchunk_size (out) == size - from_size + to_size);
    s_save (dir, name, out);
    zchunk_destroy (&out);
}

//  Saves what was sent since the last call, named by message type
static void
s_save_sent (const char *dir, const char *prefix)
{
    int i = 0;
    for (zchunk_t *ch = zlistx_first (s_sent); ch; ch = zlistx_next (s_sent)) {
        sf_msg_t msg;
        sf_msg_init (&msg);
        FUZZ_CHECK (sf_msg_parse (&msg, zchunk_data (ch), zchunk_size (ch)) == 0);
        char name [128];
        snprintf (name, sizeof (name), "%s-%d-%s", prefix, i++, msg.type);
        sf_msg_release (&msg);
        s_save (dir, name, ch);
    }
}

static void
s_clear_sent (void)
{
    zchunk_t *ch;
    while ((ch = zlistx_detach (s_sent, NULL)))
        zchunk_destroy (&ch);
}

static void
s_write_seeds (const char *dir)
{
    s_sent = zlistx_new ();
    fz_ctl_t a, b;
    //  c2, empty, joins through c1: its first round is a gossip request
    s_ctl_new (&b, "c2", "inproc://sf-fuzz-c2", "inproc://sf-fuzz-c1", 0);
    sf_gossip_tick (b.gossip);
    FUZZ_CHECK (zlistx_size (s_sent) == 1);
    zchunk_t *request = zchunk_dup (zlistx_first (s_sent));
    s_save_sent (dir, "empty");
    s_clear_sent ();
    s_ctl_destroy (&b);
    //  fleet.c recomputes a changed history digest at most every 200 ms
    zclock_sleep (250);
    //  c1, the baseline (the state every fuzzed input meets), answers it:
    //  gossip_reply, a delta with everything, the history
    s_ctl_new (&a, "c1", "inproc://sf-fuzz-c1", "inproc://sf-fuzz-c2", 1);
    FUZZ_CHECK (sf_gossip_fuzz_input (a.gossip, zchunk_data (request), zchunk_size (request)) == 0);
    s_save_sent (dir, "answer");
    s_clear_sent ();
    zchunk_destroy (&request);
    //  its own round: a gossip request with the baseline's digest
    sf_gossip_tick (a.gossip);
    FUZZ_CHECK (zlistx_size (s_sent) == 1);
    request = zchunk_dup (zlistx_first (s_sent));
    s_save_sent (dir, "round");
    s_clear_sent ();
    //  a ping from c2 (as s_on_router answers it: an ack)
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "ping", 1);
    sf_pack_kstr (&pk, "from", "c2");
    FUZZ_CHECK (sf_gossip_fuzz_input (a.gossip, (const uint8_t *) buf.data, buf.size) == 0);
    s_save_sent (dir, "pinged");
    s_clear_sent ();
    //  an `alerts` message from an empty controller (its digests, all 0, no
    //  offer): c1's answer is an `alerts` with its digests and an offer of
    //  its episode and confirmation
    msgpack_sbuffer_clear (&buf);
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "alerts", 2);
    sf_pack_kstr (&pk, "from", "c5");
    sf_pack_str (&pk, "digest");
    msgpack_pack_map (&pk, 2);
    for (int k = 0; k < 2; k++) {
        sf_pack_str (&pk, k ? "c" : "e");
        msgpack_pack_array (&pk, SF_ALERTS_SYNC_BUCKETS);
        for (size_t i = 0; i < SF_ALERTS_SYNC_BUCKETS; i++)
            msgpack_pack_uint64 (&pk, 0);
    }
    zchunk_t *alerts = zchunk_new (buf.data, buf.size);
    s_save (dir, "alerts-0-alerts", alerts);
    zchunk_destroy (&alerts);
    FUZZ_CHECK (sf_gossip_fuzz_input (a.gossip, (const uint8_t *) buf.data, buf.size) == 0);
    FUZZ_CHECK (zlistx_size (s_sent) == 1);
    s_save_sent (dir, "offered");
    s_clear_sent ();
    msgpack_sbuffer_destroy (&buf);
    s_ctl_destroy (&a);
    zclock_sleep (250);
    //  c4, ahead of the baseline, answers c1's round: a delta of only what
    //  the baseline lacks ('s', 'd' and 'n' entries newer than it holds, a
    //  new origin), beats with n2 stale, the history hours that differ
    s_ctl_new (&a, "c4", "inproc://sf-fuzz-c4", "", 2);
    FUZZ_CHECK (sf_gossip_fuzz_input (a.gossip, zchunk_data (request), zchunk_size (request)) == 0);
    s_save_sent (dir, "ahead");
    s_clear_sent ();
    s_ctl_destroy (&a);
    zclock_sleep (250);
    //  c6, where n1's agent resynced, answers c1's round: a delta whose
    //  node record carries a snapshot floor (1/7) and no 'd' entry for
    //  cam-a, which the snapshot dropped
    s_ctl_new (&a, "c6", "inproc://sf-fuzz-c6", "", 3);
    FUZZ_CHECK (sf_gossip_fuzz_input (a.gossip, zchunk_data (request), zchunk_size (request)) == 0);
    zchunk_t *floored = NULL;
    for (zchunk_t *ch = zlistx_first (s_sent); ch; ch = zlistx_next (s_sent)) {
        sf_msg_t msg;
        sf_msg_init (&msg);
        FUZZ_CHECK (sf_msg_parse (&msg, zchunk_data (ch), zchunk_size (ch)) == 0);
        if (strcmp (msg.type, "delta") == 0)
            floored = ch;
        sf_msg_release (&msg);
    }
    FUZZ_CHECK (floored);
    s_save_sent (dir, "floor");
    //  The same delta with a malformed floor (a bad entry: the block is
    //  dropped whole): three elements, and a string
    static const char key_floor [] = "\xaesnapshot_floor\x92\x01\x07";
    static const char three [] = "\xaesnapshot_floor\x93\x01\x07\x00";
    static const char text [] = "\xaesnapshot_floor\xa3" "1/7";
    s_save_replaced (dir, "floor-bad-arity-delta", floored, key_floor, sizeof (key_floor) - 1,
                     three, sizeof (three) - 1);
    s_save_replaced (dir, "floor-bad-type-delta", floored, key_floor, sizeof (key_floor) - 1,
                     text, sizeof (text) - 1);
    s_clear_sent ();
    zchunk_destroy (&request);
    s_ctl_destroy (&a);
    zlistx_destroy (&s_sent);
    fprintf (stderr, "fuzz_gossip: wrote %d seeds into %s\n", s_seed_count, dir);
}

//  ---------------------------------------------------------------------------

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    fuzz_quiet ();
    zsys_init ();
    zsys_set_logstream (NULL);
    const char *seeds = getenv ("SF_FUZZ_GOSSIP_SEEDS");
    if (seeds && *seeds) {
        s_write_seeds (seeds);
        exit (0);
    }
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    //  Not an envelope: rejected before any handler, nothing to reset for
    sf_msg_t msg;
    sf_msg_init (&msg);
    int rc = sf_msg_parse (&msg, data, size);
    sf_msg_release (&msg);
    if (rc)
        return 0;
    fz_ctl_t c;
    //  A fresh inproc name each time: an unbind may complete after the close
    static unsigned runs;
    char peers [64];
    snprintf (peers, sizeof (peers), "inproc://sf-fuzz-c3-%u", runs++);
    s_ctl_new (&c, "c3", peers, "", 1);
    FUZZ_CHECK (sf_gossip_fuzz_input (c.gossip, data, size) == 0);
    //  Its state stays consistent: a round after the message packs and sends
    sf_gossip_tick (c.gossip);
    s_ctl_destroy (&c);
    return 0;
}

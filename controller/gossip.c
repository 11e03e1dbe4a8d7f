/*  gossip.c — controller ↔ controller: SWIM-style membership and
    Scuttlebutt anti-entropy (include/sf_gossip.h, docs/protocol.md).

    Sockets: one ROUTER on --peers takes other controllers' requests; one
    DEALER per member carries our requests and their answers. A round:
        A → B  gossip {digest, beats, members}
        B → A  gossip_reply {digest, beats, members}, then delta… for what A lacks
        A → B  delta… for what B lacks
    The gossip/gossip_reply pair doubles as SWIM's probe. Without an answer
    within probe-ms, A asks up to two other members to ping B (ping_req →
    ping → ack → ping_ack); without any answer by 2 × probe-ms B is suspect,
    and after suspect-ms dead. Membership lists ride on every exchange; a
    member that hears itself suspected raises its incarnation to refute it.

    Deltas carry, per origin, its records with versions above the peer's
    digest, oldest first, cut only between versions, with "upto": the version
    the receiver may claim once it has applied the block. Records are staged
    in the write session (sf_writer.h) like an agent's, only when newer than
    what is stored, and committed at the end of the delta. The receiver
    claims only after its commit, so its digest lags: per peer and origin
    we keep a sent watermark (s_sent_t), the version up to which its socket
    took our deltas, and start above it, not above the digest, until the
    digest reaches it or it expires (docs/protocol.md §6.3 rule 2a).

    Patches. A peer whose exchange says `patch` gets, for a placement last
    changed by a patch whose base version its digest covers, that patch (a
    'p' entry, from the patch log, sf_patchlog.h) instead of the record; a
    peer that does not say it (an older one, or one started with
    --gossip-patches=false) gets whole records only. A patch is applied
    onto its base version or one between its base and its own (a coalesced
    patch's chain passes through them); one that finds an older version
    stored, or none, is a miss: the receiver claims no further than the entry before it and lists
    the origin in `full` until a block of it applies whole, and a sender
    sends a listed origin whole records.
*/
#include "sf_fleet.h"
#include "sf_gossip.h"
#include "sf_codec.h"
#include "sf_log.h"
#include "sf_alloc.h"
#include "sf_security.h"
#include "sf_writer.h"
#include <assert.h>
#include <stdatomic.h>
#include <pthread.h>
#include <unistd.h>

#define S_DELTA_RECORDS 4000
#define S_DELTA_BYTES (4 * 1024 * 1024)
//  A peer that has not moved its digest since our last delta is still
//  applying it: send it nothing new for this long
#define S_DELTA_WAIT_MS 1000
//  What we handed a peer's socket is not sent again while it is on its way
//  (docs/protocol.md §6.3 rule 2a, "sent watermark"), for at most this long
//  without the peer's digest moving (or reaching the first of it): then we
//  go back to its digest, so that a lost delta is sent again. ZeroMQ loses
//  nothing on a live connection (a send its queue refuses moves no
//  watermark; a peer that restarts, or is seen suspect or dead, resets
//  it), so this only bounds a loss in a reconnection: long enough for a
//  peer whose ingest is seconds behind its queues (2 s was not: the soak's
//  controllers were resent their backlog every 2 s while it was still
//  queued, ~5 entries held already per entry applied)
#define S_SENT_TTL_MS 8000
//  ... or for this many exchanges with it
#define S_SENT_ROUNDS 32
#define S_PROBE_MS (g->c->cfg->peer_probe_ms)
#define S_SUSPECT_MS (g->c->cfg->peer_suspect_ms)
#define S_INDIRECT 2
//  The peers' sockets are read as messages come, up to S_READ_MAX a socket
//  a pass; a delta goes to the inbox and is applied there, S_APPLY_MS of
//  them a pass (at least one), oldest first. So what follows deltas on a
//  connection (the exchanges, which carry the nodes' heartbeats and answer
//  our probes; pings, acks) is handled within a pass of its arrival, never
//  behind seconds of deltas to apply: behind them, heartbeats reached the
//  other controllers late enough that running nodes were called down there,
//  and live peers suspect. The inbox holds at most S_INBOX_BYTES: a delta
//  past that is shed (counted, logged), and anti-entropy sends it again
#define S_READ_MAX 64
#define S_APPLY_MS 100
#define S_INBOX_BYTES ((size_t) 64 << 20)

typedef struct {
    zframe_t *frame;
    char member [64];               //  the member whose DEALER it came on; "" our ROUTER
} s_inbound_t;

typedef enum { S_ALIVE = 0, S_SUSPECT = 1, S_DEAD = 2 } s_mstate_t;
static const char *s_mstate_names [] = { "alive", "suspect", "dead" };

typedef struct {
    char id [64];
    char endpoint [256];
    uint64_t inc;
    int state;
    int64_t state_since_ms;
    int64_t last_heard_ms;          //  -1 never
    zsock_t *dealer;
    int64_t probe_sent_ms;          //  0: no probe outstanding
    bool indirect_sent;
    bool seed;                      //  id not known yet: keyed by endpoint
    uint64_t lag_changes;           //  what it lacked at the last exchange
    uint64_t state_hash;
    uint64_t streams;
    int64_t last_exchange_ms;
    bool again;                     //  a delta was cut short: exchange again soon
    uint64_t delta_fp;              //  the peer's digest when we last sent it a delta
    int64_t delta_ms;
    //  Per origin, while a delta of it is on its way: node -> s_sent_t
    zhashx_t *sent;
    //  Per origin relayed to it (its agent talks to another controller):
    //  node -> s_relay_t
    zhashx_t *relay;
    size_t turn;                    //  the origin its next delta starts with (s_send_delta)
} s_member_t;

//  Relaying (docs/protocol.md §6.3 rule 2b): the version we held of an
//  origin at ms, which the peer's digest has not reached since
typedef struct {
    sf_version_t mark;
    int64_t ms;
} s_relay_t;

//  A node whose agent this controller took a message of this recently is
//  one it serves directly
#define S_DIRECT_MS 5000

//  The sent watermark of one origin for one peer: every version up to v was
//  handed to its socket; first, the upto of the oldest send its digest has
//  not reached yet, sent at ms; seen, its digest of the origin last time
typedef struct {
    sf_version_t v, first, seen;
    int64_t ms;
    uint32_t rounds;                //  exchanges since ms
} s_sent_t;

static void
s_sent_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  Forget what we sent m: it restarted, went away, or we cannot tell
static void
s_sent_reset (s_member_t *m)
{
    if (m->sent)
        zhashx_purge (m->sent);
}

typedef struct {
    zframe_t *route;                //  who asked (on our ROUTER)
    char target [64];
    int64_t until_ms;
} s_pingreq_t;

struct sf_gossip_t {
    //  Every field: ingest thread only, except the cluster view (cluster,
    //  under lock), which the query and HTTP threads read
    sf_gossip_env_t env;            //  what gossip uses of the controller
    const sf_gossip_env_t *c;       //  &env
    zsock_t *router;
    zhashx_t *members;              //  id -> s_member_t
    zlistx_t *pingreqs;             //  s_pingreq_t
    char self_id [64];
    char self_endpoint [256];
    uint64_t inc;
    int64_t next_round_ms;
    int64_t next_hash_ms;
    uint64_t state_hash;
    uint64_t streams;
    uint64_t rr;                    //  round robin cursor over a shuffled order
    sf_msg_t msg;
    sf_stream_t scratch;
    msgpack_sbuffer out;
    sf_ratelimit_t rl;
    //  Origins a patch missed for: listed in `full` in our exchanges, so
    //  peers send their records whole, until a block of each applies whole
    zhashx_t *want_full;            //  node -> "" 
    pthread_mutex_t lock;
    msgpack_sbuffer cluster;        //  packed cluster_reply, rebuilt each round
    //  Read by HTTP threads (sf_gossip_ready): set once a peer's digest named
    //  nothing newer than what we have, or when no peer answered in time
    atomic_bool caught_up;
    int64_t started_ms;
    //  The fuzzing seam only (sf_gossip_fuzz_mode): NULL in the controller
    sf_gossip_tap_fn *tap;
    void *tap_arg;
    bool tap_refuse;                //  sends count as dropped (a full queue)
    size_t turn;                    //  s_send_delta's turn for a sender not a member
    sf_origin_t **order;            //  s_send_delta's origins in turn
    size_t order_cap;
    size_t delta_records;           //  one delta's bounds (rule 2; fuzz mode may lower them)
    size_t delta_bytes;
    //  Deltas read, not applied yet (s_inbox_apply), oldest first
    zlistx_t *inbox;                //  s_inbound_t
    size_t inbox_bytes;
};

//  ---------------------------------------------------------------------------
//  Members

static void
s_member_destroy (s_member_t **m_p)
{
    if (*m_p) {
        zsock_destroy (&(*m_p)->dealer);
        zhashx_destroy (&(*m_p)->sent);
        zhashx_destroy (&(*m_p)->relay);
        free (*m_p);
        *m_p = NULL;
    }
}

static int
s_connect (sf_gossip_t *g, s_member_t *m)
{
    zsock_destroy (&m->dealer);
    //  Fuzzing (sf_gossip_fuzz_mode): a fuzzed peer names any endpoint, and
    //  the target must never connect anywhere
    if (g->tap)
        return -1;
    char err [512];
    m->dealer = zsock_new (ZMQ_DEALER);
    if (!m->dealer || sf_sock_curve_client (m->dealer, g->c->cert, g->c->cfg->cert, err, sizeof (err))) {
        sf_error ("gossip: cannot set up a connection to %s: %s", m->endpoint, err);
        zsock_destroy (&m->dealer);
        return -1;
    }
    zsock_set_linger (m->dealer, 0);
    //  Shallow queues: a delta that cannot go now is sent again later, and
    //  deep queues of megabyte deltas would only hold stale copies
    zsock_set_sndhwm (m->dealer, 8);
    zsock_set_rcvhwm (m->dealer, 16);
    zsock_set_immediate (m->dealer, 1);
    if (zsock_connect (m->dealer, "%s", m->endpoint)) {
        sf_error ("gossip: '%s' is not a valid peer endpoint", m->endpoint);
        zsock_destroy (&m->dealer);
        return -1;
    }
    return 0;
}

static s_member_t *
s_member_add (sf_gossip_t *g, const char *id, const char *endpoint, bool seed)
{
    s_member_t *m = sf_xcalloc (1, sizeof (*m));
    snprintf (m->id, sizeof (m->id), "%s", id);
    snprintf (m->endpoint, sizeof (m->endpoint), "%s", endpoint);
    m->seed = seed;
    m->last_heard_ms = -1;
    m->state_since_ms = sf_mono_ms ();
    m->sent = zhashx_new ();
    zhashx_set_destructor (m->sent, s_sent_free);
    m->relay = zhashx_new ();
    zhashx_set_destructor (m->relay, s_sent_free);
    s_connect (g, m);
    zhashx_insert (g->members, m->id, m);
    if (!seed)
        sf_info ("gossip: member %s at %s joins", id, endpoint);
    return m;
}

//  Every transition is logged once, with why
static void
s_set_state (s_member_t *m, int state, uint64_t inc, const char *why)
{
    if (m->state != state) {
        int level = state == S_ALIVE ? SF_LOG_INFO : SF_LOG_WARN;
        sf_log (level, "gossip: member %s is %s (was %s; incarnation %llu): %s", m->id,
                s_mstate_names [state], s_mstate_names [m->state], (unsigned long long) inc, why);
        m->state_since_ms = sf_mono_ms ();
        s_sent_reset (m);
    }
    m->state = state;
    m->inc = inc;
}

//  A message came from m itself. It answers our probe, but only a higher
//  incarnation refutes suspicion or death (SWIM): a member we hold suspect
//  or dead at incarnation i stays so until it says i + 1, which it does once
//  it hears of it (our exchanges carry our view of it). Taking a direct
//  message as proof of life let a third member's report of the same
//  incarnation flip it back, again and again, after a partition healed.
static void
s_heard (s_member_t *m, uint64_t inc)
{
    m->last_heard_ms = sf_mono_ms ();
    m->probe_sent_ms = 0;
    m->indirect_sent = false;
    if (inc <= m->inc)
        return;
    s_sent_reset (m);               //  a new incarnation: it may have restarted
    if (m->state != S_ALIVE) {
        char why [96];
        snprintf (why, sizeof (why), "it refuted with incarnation %llu", (unsigned long long) inc);
        s_set_state (m, S_ALIVE, inc, why);
    }
    else
        m->inc = inc;
}

//  The member a message comes from, creating or re-keying as needed
static s_member_t *
s_member_from (sf_gossip_t *g, const char *id, const char *endpoint, s_member_t *via_seed)
{
    if (!id [0] || strcmp (id, g->self_id) == 0)
        return NULL;
    s_member_t *m = zhashx_lookup (g->members, id);
    if (via_seed && via_seed->seed) {
        //  Now we know the seed's id: keep one member for it
        if (m && m != via_seed) {
            zhashx_delete (g->members, via_seed->id);
            return m;
        }
        if (!m) {
            zhashx_rename (g->members, via_seed->id, id);
            snprintf (via_seed->id, sizeof (via_seed->id), "%s", id);
            via_seed->seed = false;
            sf_info ("gossip: seed %s is member %s", via_seed->endpoint, id);
            return via_seed;
        }
    }
    if (!m && endpoint [0])
        m = s_member_add (g, id, endpoint, false);
    return m;
}

//  ---------------------------------------------------------------------------
//  Packing what every exchange carries

static void
s_pack_digest_fn (const char *node, sf_version_t v, void *arg)
{
    msgpack_packer *pk = arg;
    sf_pack_str (pk, node);
    msgpack_pack_array (pk, 2);
    msgpack_pack_uint64 (pk, v.gen);
    msgpack_pack_uint64 (pk, v.seq);
}

typedef struct {
    msgpack_packer *pk;
    size_t count;
} s_beats_t;

static void
s_count_beat (const char *node, uint64_t gen, uint64_t counter, int stale, void *arg)
{
    ((s_beats_t *) arg)->count++;
}

//  [gen, counter] or, when that heartbeat's stale mark is known, [gen,
//  counter, stale]: the mark travels with the beat it came in, so every
//  controller shows the mark of the latest heartbeat any of them has seen
static void
s_pack_beat (const char *node, uint64_t gen, uint64_t counter, int stale, void *arg)
{
    s_beats_t *b = arg;
    sf_pack_str (b->pk, node);
    msgpack_pack_array (b->pk, stale >= 0 ? 3 : 2);
    msgpack_pack_uint64 (b->pk, gen);
    msgpack_pack_uint64 (b->pk, counter);
    if (stale >= 0) {
        if (stale)
            msgpack_pack_true (b->pk);
        else
            msgpack_pack_false (b->pk);
    }
}

//  Origins with something committed
static size_t
s_origin_count (sf_gossip_t *g)
{
    size_t n = 0;
    for (sf_origin_t *o = sf_writer_first (g->c->writer); o; o = sf_writer_next (g->c->writer))
        if (o->committed.gen || o->committed.seq)
            n++;
    return n;
}

static void
s_pack_exchange (sf_gossip_t *g, const char *type)
{
    msgpack_sbuffer_clear (&g->out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &g->out, msgpack_sbuffer_write);
    bool patches = g->c->cfg->gossip_patches;
    size_t nfull = patches ? zhashx_size (g->want_full) : 0;
    sf_msg_begin (&pk, type, 10 + (patches ? 1 : 0) + (nfull ? 1 : 0));
    //  We claim a block that says `from` only when we hold up to it (rule 2a)
    sf_pack_kbool (&pk, "resume", true);
    //  We take patches; origins listed in full we want whole (a patch missed)
    if (patches)
        sf_pack_kbool (&pk, "patch", true);
    if (nfull) {
        sf_pack_str (&pk, "full");
        msgpack_pack_array (&pk, nfull);
        for (void *v = zhashx_first (g->want_full); v; v = zhashx_next (g->want_full))
            sf_pack_str (&pk, zhashx_cursor (g->want_full));
    }
    sf_pack_kstr (&pk, "from", g->self_id);
    sf_pack_kstr (&pk, "endpoint", g->self_endpoint);
    sf_pack_ku64 (&pk, "inc", g->inc);
    sf_pack_ku64 (&pk, "state_hash", g->state_hash);
    sf_pack_ku64 (&pk, "streams", g->streams);
    sf_pack_str (&pk, "digest");
    msgpack_pack_map (&pk, s_origin_count (g));
    for (sf_origin_t *o = sf_writer_first (g->c->writer); o; o = sf_writer_next (g->c->writer))
        if (o->committed.gen || o->committed.seq)
            s_pack_digest_fn (o->node, o->committed, &pk);
    s_beats_t b = { &pk, 0 };
    sf_live_each (g->c->live, s_count_beat, &b);
    sf_pack_str (&pk, "beats");
    msgpack_pack_map (&pk, b.count);
    b.count = 0;
    sf_live_each (g->c->live, s_pack_beat, &b);
    sf_pack_str (&pk, "history");
    sf_fleet_history_digest (g->c->store, &pk);
    sf_pack_str (&pk, "members");
    size_t n = 1;
    for (s_member_t *m = zhashx_first (g->members); m; m = zhashx_next (g->members))
        if (!m->seed)
            n++;
    msgpack_pack_array (&pk, n);
    msgpack_pack_array (&pk, 4);
    sf_pack_str (&pk, g->self_id);
    sf_pack_str (&pk, g->self_endpoint);
    msgpack_pack_uint64 (&pk, g->inc);
    sf_pack_str (&pk, "alive");
    for (s_member_t *m = zhashx_first (g->members); m; m = zhashx_next (g->members)) {
        if (m->seed)
            continue;
        msgpack_pack_array (&pk, 4);
        sf_pack_str (&pk, m->id);
        sf_pack_str (&pk, m->endpoint);
        msgpack_pack_uint64 (&pk, m->inc);
        sf_pack_str (&pk, s_mstate_names [m->state]);
    }
}

//  True when g->out was handed to the socket (false: dropped). In fuzz
//  mode the tap is the socket, and it takes all unless told to refuse.
static bool
s_send_dealer (sf_gossip_t *g, s_member_t *m)
{
    if (g->tap)
        g->tap (g->out.data, g->out.size, g->tap_arg);
    if (!m->dealer)
        return g->tap && !g->tap_refuse;
    if (zmq_send (zsock_resolve (m->dealer), g->out.data, g->out.size, ZMQ_DONTWAIT) >= 0) {
        atomic_fetch_add (&g->c->metrics->gossip_bytes_out, g->out.size);
        return true;
    }
    else {
        //  Shed, visibly: the peer's queue is full; anti-entropy sends it
        //  what it lacks at a later round
        atomic_fetch_add (&g->c->metrics->gossip_sends_dropped, 1);
        sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: not sending to %s now: its queue is full "
                        "(it is slow or away)", m->id);
        return false;
    }
}

//  The same on our ROUTER, to whoever route is. The ROUTER is mandatory:
//  a full queue or a gone peer refuses the message rather than dropping
//  it silently, so that we know.
static bool
s_send_route (sf_gossip_t *g, zframe_t *route)
{
    if (g->tap)
        g->tap (g->out.data, g->out.size, g->tap_arg);
    zframe_t *r = zframe_dup (route);
    if (zframe_send (&r, g->router, ZFRAME_MORE | ZFRAME_DONTWAIT)) {
        zframe_destroy (&r);
        if (!g->tap)
            atomic_fetch_add (&g->c->metrics->gossip_sends_dropped, 1);
        return g->tap && !g->tap_refuse;
    }
    if (zmq_send (zsock_resolve (g->router), g->out.data, g->out.size, ZMQ_DONTWAIT) < 0)
        return false;
    atomic_fetch_add (&g->c->metrics->gossip_bytes_out, g->out.size);
    return !g->tap || !g->tap_refuse;
}

//  ---------------------------------------------------------------------------
//  Membership lists and beats from a peer

static int
s_state_parse (const char *s)
{
    for (int i = 0; i < 3; i++)
        if (strcmp (s, s_mstate_names [i]) == 0)
            return i;
    return -1;
}

static void
s_merge_members (sf_gossip_t *g, const msgpack_object *list, const char *from)
{
    if (!list || list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size > 1024)
        return;
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *e = &list->via.array.ptr [i];
        char id [64], endpoint [256], state [16];
        if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size != 4
        ||  sf_obj_str (&e->via.array.ptr [0], id, sizeof (id) - 1)
        ||  sf_obj_str (&e->via.array.ptr [1], endpoint, sizeof (endpoint) - 1)
        ||  e->via.array.ptr [2].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        ||  sf_obj_str (&e->via.array.ptr [3], state, sizeof (state) - 1))
            continue;
        uint64_t inc = e->via.array.ptr [2].via.u64;
        int st = s_state_parse (state);
        if (st < 0 || !id [0])
            continue;
        if (strcmp (id, g->self_id) == 0) {
            //  Refute: whoever thinks we are suspect or dead hears a higher
            //  incarnation from us at the next exchange
            if (st != S_ALIVE && inc >= g->inc) {
                g->inc = inc + 1;
                sf_info ("gossip: refuting '%s' about us with incarnation %llu", state,
                         (unsigned long long) g->inc);
            }
            continue;
        }
        s_member_t *m = zhashx_lookup (g->members, id);
        if (!m) {
            //  A member we did not know; one already dead is not worth a socket
            if (st != S_DEAD)
                s_set_state (s_member_add (g, id, endpoint, false), st, inc,
                             "as a peer reports it");
            continue;
        }
        if (inc > m->inc || (inc == m->inc && st > m->state)) {
            char why [128];
            snprintf (why, sizeof (why), "reported by %s", from [0] ? from : "a peer");
            s_set_state (m, st, inc, why);
        }
    }
}

//  The node shows the stale mark of its latest heartbeat, as the controller
//  its agent talks to set it. Only a node whose record we hold: a record
//  still to come takes the mark from the live table (s_apply_delta).
static bool
s_mark_stale (sf_gossip_t *g, const char *node, bool stale)
{
    sf_origin_t *o = sf_writer_origin (g->c->writer, node);
    if (!o || o->info.stale == stale || (!o->info.version.gen && !o->info.version.seq))
        return false;
    sf_log_limited (&g->rl, SF_LOG_INFO, "gossip: node %s is %s, as its agent's controller reports",
                    node, stale ? "stale (its agent cannot read its media server)" : "no longer stale");
    o->info.stale = stale;
    sf_writer_info_changed (g->c->writer, o);
    return true;
}

static void
s_merge_beats (sf_gossip_t *g, const msgpack_object *beats)
{
    if (!beats || beats->type != MSGPACK_OBJECT_MAP || beats->via.map.size > SF_STREAMS_PER_NODE_MAX)
        return;
    int64_t now = sf_mono_ms ();
    bool marked = false;
    for (uint32_t i = 0; i < beats->via.map.size; i++) {
        char node [SF_NODE_MAX + 1];
        const msgpack_object *v = &beats->via.map.ptr [i].val;
        if (sf_obj_str (&beats->via.map.ptr [i].key, node, SF_NODE_MAX) || v->type != MSGPACK_OBJECT_ARRAY
        ||  v->via.array.size < 2 || v->via.array.size > 3
        ||  v->via.array.ptr [0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
        ||  v->via.array.ptr [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            continue;
        uint64_t gen = v->via.array.ptr [0].via.u64, counter = v->via.array.ptr [1].via.u64;
        sf_live_beat (g->c->live, node, gen, counter, now);
        if (v->via.array.size == 3 && v->via.array.ptr [2].type == MSGPACK_OBJECT_BOOLEAN) {
            bool stale = v->via.array.ptr [2].via.boolean;
            if (sf_live_set_stale (g->c->live, node, gen, counter, stale))
                marked |= s_mark_stale (g, node, stale);
        }
    }
    if (marked)
        sf_writer_commit (g->c->writer);
}

//  ---------------------------------------------------------------------------
//  Deltas: what a peer lacks

typedef struct {
    char kind;                      //  's', 'd', 'n', or 'p': a patch of base
    char name [SF_NAME_MAX + 1];
    sf_version_t v;
    sf_version_t base;
    const void *data;
    size_t size;
} s_entry_t;

typedef struct {
    sf_read_t *r;
    const char *node;
    sf_patchlog_t *patches;         //  NULL: whole records only
    sf_version_t theirs;            //  what the peer holds once what we sent is in
    sf_version_t theirs_digest;     //  the peer's digest entry for node
    size_t npatches;
    s_entry_t *entries;
    size_t count, cap;
    size_t bytes;
    size_t budget_records, budget_bytes;
    bool cut;                       //  stopped for the budget
} s_collect_t;

static int
s_collect (char kind, const char *name, sf_version_t v, void *arg)
{
    s_collect_t *col = arg;
    //  Cut only between versions, never inside one
    if ((col->count >= col->budget_records || col->bytes >= col->budget_bytes)
    &&  col->count && sf_version_cmp (col->entries [col->count - 1].v, v) != 0) {
        col->cut = true;
        return 1;
    }
    if (col->count == col->cap) {
        size_t cap = col->cap ? col->cap * 2 : 256;
        col->entries = sf_xreallocarray (col->entries, cap, sizeof (s_entry_t));
        col->cap = cap;
    }
    s_entry_t *e = &col->entries [col->count];
    e->kind = kind;
    snprintf (e->name, sizeof (e->name), "%s", name);
    e->v = v;
    e->data = NULL;
    e->size = 0;
    sf_version_t base;
    if (kind == 's' && col->patches
    &&  sf_patchlog_find_upto (col->patches, col->node, name, v, col->theirs,
                               &base, &e->data, &e->size) == 0) {
        //  The peer holds every record of this origin up to its digest, so
        //  this placement at base: the patch (or the placement's patches
        //  since base, coalesced into one) is all it lacks
        e->kind = 'p';
        e->base = base;
        col->npatches++;
    }
    else if (kind == 's') {
        sf_row_t row;
        if (sf_store_get_row (col->r, col->node, name, &row))
            return 0;               //  the index is ahead of nothing: skip
        e->data = row.packed;
        e->size = row.packed_size;
    }
    else if (kind == 'n') {
        if (sf_store_get_node_packed (col->r, col->node, &e->data, &e->size))
            return 0;
    }
    col->bytes += e->size + 32;
    col->count++;
    return 0;
}

static sf_version_t
s_digest_get (const msgpack_object *digest, const char *node)
{
    sf_version_t v = { 0, 0 };
    const msgpack_object *e = sf_map_get (digest, node);
    if (e && e->type == MSGPACK_OBJECT_ARRAY && e->via.array.size == 2
    &&  e->via.array.ptr [0].type == MSGPACK_OBJECT_POSITIVE_INTEGER
    &&  e->via.array.ptr [1].type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        v.gen = e->via.array.ptr [0].via.u64;
        v.seq = e->via.array.ptr [1].via.u64;
    }
    return v;
}

//  Sends the peer (by dealer m, or by route) one delta message with what it
//  lacks according to its digest; returns how many changes it lacked in all.
static uint64_t
s_digest_fp (const msgpack_object *digest)
{
    uint64_t fp = 1469598103934665603ULL;
    for (uint32_t i = 0; i < digest->via.map.size; i++) {
        const msgpack_object *v = &digest->via.map.ptr [i].val;
        if (v->type == MSGPACK_OBJECT_ARRAY && v->via.array.size == 2)
            for (int k = 0; k < 2; k++)
                fp = (fp ^ v->via.array.ptr [k].via.u64) * 1099511628211ULL;
    }
    return fp;
}

//  Whether list (a peer's `full`: an array of node ids) names node
static bool
s_listed (const msgpack_object *list, const char *node)
{
    if (!list || list->type != MSGPACK_OBJECT_ARRAY)
        return false;
    size_t len = strlen (node);
    for (uint32_t i = 0; i < list->via.array.size; i++) {
        const msgpack_object *e = &list->via.array.ptr [i];
        if (e->type == MSGPACK_OBJECT_STR && e->via.str.size == len
        &&  memcmp (e->via.str.ptr, node, len) == 0)
            return true;
    }
    return false;
}

//  patches: the peer takes patches; full: the origins it wants whole
static uint64_t
s_send_delta (sf_gossip_t *g, const msgpack_object *digest, s_member_t *m, zframe_t *route,
              s_member_t *peer, bool patches, const msgpack_object *full, bool history_more,
              bool resume)
{
    if (!digest || digest->type != MSGPACK_OBJECT_MAP)
        return 0;
    //  Flow control: one delta in flight per peer. Until its digest moves
    //  (it applied what we sent) or the wait is over, send nothing new.
    uint64_t fp = s_digest_fp (digest);
    int64_t now = sf_mono_ms ();
    bool hold = peer && peer->delta_ms && peer->delta_fp == fp && now - peer->delta_ms < S_DELTA_WAIT_MS;
    sf_read_t r;
    if (sf_store_read_begin (g->c->store, &r))
        return 0;
    //  Per origin the peer is behind on: its block
    typedef struct { sf_origin_t *o; s_collect_t col; sf_version_t upto, from; } s_block_t;
    size_t nblocks = 0, cap = 0;
    s_block_t *blocks = NULL;
    uint64_t lag = 0;
    size_t budget_records = g->delta_records, budget_bytes = g->delta_bytes;
    bool more = false;
    //  Origins in turn: each delta starts with the first origin the last
    //  one had no room for. Always in the table's order, the first origins
    //  (changing all the time) took every delta's budget and the last ones
    //  never reached a peer: the soak's controllers lacked whole nodes ten
    //  minutes after the start
    size_t norigins = 0, *turn = peer ? &peer->turn : &g->turn, skipped = SIZE_MAX;
    for (sf_origin_t *o = sf_writer_first (g->c->writer); o; o = sf_writer_next (g->c->writer)) {
        if (norigins == g->order_cap) {
            g->order_cap = g->order_cap ? g->order_cap * 2 : 64;
            g->order = sf_xreallocarray (g->order, g->order_cap, sizeof (*g->order));
        }
        g->order [norigins++] = o;
    }
    for (size_t i = 0; i < norigins; i++) {
        size_t at = (*turn + i) % norigins;
        sf_origin_t *o = g->order [at];
        sf_version_t theirs = s_digest_get (digest, o->node);
        //  The sent watermark: what we handed its socket already is on its
        //  way, so we start above it, until its digest reaches it, or it
        //  expires, or the peer asks for the origin whole (a patch missed)
        sf_version_t from = theirs;
        s_sent_t *st = peer && resume ? zhashx_lookup (peer->sent, o->node) : NULL;
        if (st) {
            if (sf_version_cmp (theirs, st->seen) < 0 || sf_version_cmp (theirs, st->v) >= 0
            ||  s_listed (full, o->node))
                st = NULL;          //  it went back (restarted), caught up, or missed
            else {
                if (sf_version_cmp (theirs, st->first) >= 0) {
                    //  It applied our oldest send: the clock starts on the rest
                    st->first = st->v;
                    st->ms = now;
                    st->rounds = 0;
                }
                else if (sf_version_cmp (theirs, st->seen) > 0) {
                    //  It is applying what we sent, only slower than we send:
                    //  not lost (a lost delta leaves a hole its digest cannot
                    //  pass, since a block is claimed only from what it
                    //  holds), so the clock starts again. Without this a peer
                    //  more than 2 s behind was sent its whole backlog again
                    //  every 2 s, however fast it was applying it.
                    st->ms = now;
                    st->rounds = 0;
                }
                if (now - st->ms > S_SENT_TTL_MS || ++st->rounds > S_SENT_ROUNDS)
                    st = NULL;      //  lost on the way, perhaps: from its digest again
            }
            if (st) {
                st->seen = theirs;
                from = st->v;
            }
            else
                zhashx_delete (peer->sent, o->node);
        }
        if (sf_version_cmp (o->committed, theirs) <= 0) {
            if (peer)
                zhashx_delete (peer->relay, o->node);
            continue;
        }
        lag += o->committed.gen == theirs.gen ? o->committed.seq - theirs.seq : o->committed.seq;
        //  An origin whose agent talks to another controller: that one sends
        //  the peer its changes (rule 2b). We relay only what the peer has
        //  lacked for longer than --gossip-relay-ms: what we held that long
        //  ago and its digest has not reached since (that controller is
        //  gone, cut off from it, or far behind). Every controller relaying
        //  every change at once had each reach a peer from every member.
        int64_t relay_ms = g->c->cfg->gossip_relay_ms;
        if (peer && relay_ms > 0 && !(o->agent_ms && now - o->agent_ms < S_DIRECT_MS)) {
            s_relay_t *rl = zhashx_lookup (peer->relay, o->node);
            if (!rl) {
                rl = sf_xcalloc (1, sizeof (*rl));
                rl->mark = o->committed;
                rl->ms = now;
                zhashx_insert (peer->relay, o->node, rl);
            }
            else if (sf_version_cmp (theirs, rl->mark) >= 0) {
                rl->mark = o->committed;
                rl->ms = now;
            }
            if (now - rl->ms < relay_ms)
                continue;
        }
        if (hold || sf_version_cmp (o->committed, from) <= 0)
            continue;
        if (budget_records == 0 || budget_bytes == 0) {
            more = true;
            if (skipped == SIZE_MAX)
                skipped = at;
            continue;
        }
        if (nblocks == cap) {
            cap = cap ? cap * 2 : 16;
            blocks = sf_xreallocarray (blocks, cap, sizeof (s_block_t));
        }
        s_block_t *b = &blocks [nblocks++];
        memset (b, 0, sizeof (*b));
        b->o = o;
        b->col.r = &r;
        b->col.node = o->node;
        b->col.budget_records = budget_records;
        b->col.budget_bytes = budget_bytes;
        b->from = from;
        b->col.theirs = from;       //  what it holds once what we sent is in
        b->col.theirs_digest = theirs;
        if (patches && g->c->cfg->gossip_patches && !s_listed (full, o->node))
            b->col.patches = g->c->patches;
        sf_store_scan_versions (&r, o->node, from, s_collect, &b->col);
        //  Complete: the peer may claim our committed version; cut: only up
        //  to the last whole version sent, and never past our committed one.
        //  We hold records above it (applied from a block that missed a
        //  patch, or from one above what we held: rule 2a), and a cut
        //  among them let the peer claim a version we lack records below:
        //  a hole anti-entropy could never fill (the soak found placements
        //  held for good at old versions behind a digest equal to the
        //  origin's)
        if (b->col.cut) {
            more = true;
            b->upto = b->col.count ? b->col.entries [b->col.count - 1].v : from;
            if (sf_version_cmp (b->upto, o->committed) > 0)
                b->upto = o->committed;
        }
        else
            b->upto = o->committed;
        budget_records = b->col.count >= budget_records ? 0 : budget_records - b->col.count;
        budget_bytes = b->col.bytes >= budget_bytes ? 0 : budget_bytes - b->col.bytes;
    }
    if (skipped != SIZE_MAX)
        *turn = skipped;
    size_t npatches = 0;
    if (nblocks) {
        msgpack_sbuffer_clear (&g->out);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &g->out, msgpack_sbuffer_write);
        sf_msg_begin (&pk, "delta", 3 + history_more);
        sf_pack_kstr (&pk, "from", g->self_id);
        sf_pack_kbool (&pk, "more", more);
        if (history_more)
            sf_pack_kbool (&pk, "history_more", true);
        sf_pack_str (&pk, "origins");
        msgpack_pack_array (&pk, nblocks);
        for (size_t i = 0; i < nblocks; i++) {
            s_block_t *b = &blocks [i];
            //  Above the peer's digest (what is on its way): say where the
            //  block starts, so that it claims upto only if it holds that
            bool resumed = sf_version_cmp (b->from, b->col.theirs_digest) > 0;
            msgpack_pack_map (&pk, 3 + resumed);
            sf_pack_kstr (&pk, "node", b->o->node);
            if (resumed) {
                sf_pack_str (&pk, "from");
                msgpack_pack_array (&pk, 2);
                msgpack_pack_uint64 (&pk, b->from.gen);
                msgpack_pack_uint64 (&pk, b->from.seq);
            }
            sf_pack_str (&pk, "upto");
            msgpack_pack_array (&pk, 2);
            msgpack_pack_uint64 (&pk, b->upto.gen);
            msgpack_pack_uint64 (&pk, b->upto.seq);
            sf_pack_str (&pk, "entries");
            msgpack_pack_array (&pk, b->col.count);
            for (size_t k = 0; k < b->col.count; k++) {
                s_entry_t *e = &b->col.entries [k];
                msgpack_pack_array (&pk, e->kind == 'd' ? 3 : e->kind == 'p' ? 5 : 4);
                char kind [2] = { e->kind, 0 };
                sf_pack_str (&pk, kind);
                sf_pack_str (&pk, e->name);
                msgpack_pack_array (&pk, 2);
                msgpack_pack_uint64 (&pk, e->v.gen);
                msgpack_pack_uint64 (&pk, e->v.seq);
                if (e->kind == 'p') {
                    msgpack_pack_array (&pk, 2);
                    msgpack_pack_uint64 (&pk, e->base.gen);
                    msgpack_pack_uint64 (&pk, e->base.seq);
                }
                if (e->kind != 'd')
                    msgpack_sbuffer_write (&g->out, e->data, e->size);
            }
            npatches += b->col.npatches;
        }
        bool sent = m ? s_send_dealer (g, m) : s_send_route (g, route);
        atomic_fetch_add (&g->c->metrics->gossip_patches_out, npatches);
        //  Only what its socket took moves the watermark
        for (size_t i = 0; sent && peer && resume && i < nblocks; i++) {
            s_block_t *b = &blocks [i];
            if (sf_version_cmp (b->upto, b->from) <= 0)
                continue;
            s_sent_t *st = zhashx_lookup (peer->sent, b->o->node);
            if (!st) {
                st = sf_xcalloc (1, sizeof (*st));
                st->first = b->upto;
                st->ms = now;
                st->seen = s_digest_get (digest, b->o->node);
                zhashx_insert (peer->sent, b->o->node, st);
            }
            st->v = b->upto;
        }
        if (peer) {
            peer->delta_fp = fp;
            peer->delta_ms = now;
        }
    }
    for (size_t i = 0; i < nblocks; i++)
        free (blocks [i].col.entries);
    free (blocks);
    sf_store_read_end (&r);
    return lag;
}

//  Stored version of a placement: live record or tombstone; 0/0 if none
static sf_version_t
s_local_version (sf_gossip_t *g, const char *node, const char *name)
{
    sf_read_t r;
    sf_store_write_view (g->c->store, &r);
    sf_version_t v = { 0, 0 };
    sf_row_t row;
    if (sf_store_get_row (&r, node, name, &row) == 0) {
        v.gen = row.sum.gen;
        v.seq = row.sum.seq;
    }
    else
        sf_store_get_tombstone (&r, node, name, &v);
    return v;
}

static bool
s_version_obj (const msgpack_object *o, sf_version_t *v)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 2
    ||  o->via.array.ptr [0].type != MSGPACK_OBJECT_POSITIVE_INTEGER
    ||  o->via.array.ptr [1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return false;
    v->gen = o->via.array.ptr [0].via.u64;
    v->seq = o->via.array.ptr [1].via.u64;
    return true;
}

//  Applies patch entry (base -> v) to placement name of origin o, as its
//  agent's patch was applied where it came in (docs/protocol.md §4.3): onto
//  the record stored at base, then stored as a put of the whole new record
//  is. 0 applied; 1 held already (v or newer is stored); -2 a miss (what is
//  stored is older than base, or none); -1 a bad patch (err).
static int
s_apply_patch (sf_gossip_t *g, sf_origin_t *o, const char *name, sf_version_t base, sf_version_t v,
               const msgpack_object *patch, char *err)
{
    sf_read_t r;
    sf_store_write_view (g->c->store, &r);
    sf_row_t row;
    sf_version_t cur = { 0, 0 };
    bool live = sf_store_get_row (&r, o->node, name, &row) == 0;
    if (live) {
        cur.gen = row.sum.gen;
        cur.seq = row.sum.seq;
    }
    else
        sf_store_get_tombstone (&r, o->node, name, &cur);
    if (sf_version_cmp (v, cur) <= 0)
        return 1;
    //  Onto base, or onto a version between base and v: a coalesced patch
    //  (sf_patchlog.h) is made of consecutive patches from base, so its chain
    //  passes through every version of the placement between, and a patch
    //  only sets values: onto any of them it gives the record at v
    if (!live || sf_version_cmp (cur, base) < 0)
        return -2;
    sf_stream_t *s = &g->scratch;
    uint64_t lines = 0;
    if (sf_row_decode (&row, s))
        return -2;                  //  ours cannot be read: ask for it whole
    if (sf_stream_patch (patch, s, &lines, err))
        return -1;
    if (strcmp (s->node, o->node) != 0) {
        snprintf (err, SF_ERR_MAX, "patch of '%s' names node '%s'", name, s->node);
        return -1;
    }
    if (sf_writer_put (g->c->writer, o, s, v)) {
        snprintf (err, SF_ERR_MAX, "storage refused the patched record of '%s'", name);
        return -1;
    }
    //  Noted in turn, so that our peers get the patch from us too; unless
    //  what it was applied onto is staged in this transaction (an earlier
    //  delta's, folded into v here): a peer cut between the two may hold
    //  the placement older than base (sf_patchlog.h)
    if (g->c->patches)
        sf_patchlog_note (g->c->patches, o->node, name, base, v, patch,
                          sf_version_cmp (cur, o->committed) <= 0);
    return 0;
}

//  Applies one delta entry e of origin o; *v gets its version. 0 applied;
//  1 not needed (what is stored is as new); -2 a patch missed; -1 bad (err)
static int
s_apply_entry (sf_gossip_t *g, sf_origin_t *o, const msgpack_object *e, sf_version_t *v, char *err)
{
    const sf_gossip_env_t *c = g->c;
    sf_writer_t *w = c->writer;
    const char *node = o->node;
    char kind [4], name [SF_NAME_MAX + 1];
    snprintf (err, SF_ERR_MAX, "malformed entry");
    if (e->type != MSGPACK_OBJECT_ARRAY || e->via.array.size < 3
    ||  sf_obj_str (&e->via.array.ptr [0], kind, sizeof (kind) - 1)
    ||  sf_obj_str (&e->via.array.ptr [1], name, SF_NAME_MAX)
    ||  !s_version_obj (&e->via.array.ptr [2], v))
        return -1;
    //  Below the node's snapshot floor, a placement's record or patch is
    //  older than that snapshot, which did not hold it: gone, not applied
    bool below_floor = sf_version_cmp (*v, o->info.snapshot_floor) < 0;
    if (kind [0] == 's' && e->via.array.size == 4) {
        if (below_floor || sf_version_cmp (*v, s_local_version (g, node, name)) <= 0)
            return 1;
        if (sf_stream_unpack (&e->via.array.ptr [3], &g->scratch, err)
        ||  (g->scratch.node [0] && strcmp (g->scratch.node, node)))
            return -1;
        return sf_writer_put (w, o, &g->scratch, *v) ? -1 : 0;
    }
    if (kind [0] == 'p' && e->via.array.size == 5 && c->cfg->gossip_patches) {
        sf_version_t base;
        if (!s_version_obj (&e->via.array.ptr [3], &base))
            return -1;
        if (below_floor)
            return 1;
        int rc = s_apply_patch (g, o, name, base, *v, &e->via.array.ptr [4], err);
        if (rc == 0)
            atomic_fetch_add (&c->metrics->gossip_patches_in, 1);
        return rc;
    }
    if (kind [0] == 'd') {
        if (sf_version_cmp (*v, s_local_version (g, node, name)) <= 0)
            return 1;
        return sf_writer_del (w, o, name, *v) ? -1 : 0;
    }
    if (kind [0] == 'n' && e->via.array.size == 4) {
        if (sf_version_cmp (*v, o->info.version) <= 0)
            return 1;
        sf_node_t n;
        if (sf_node_unpack (&e->via.array.ptr [3], &n, err) || strcmp (n.id, node))
            return -1;
        //  Usage is the freshest we have; the info is the peer's, the stale
        //  mark its latest heartbeat's (s_merge_beats)
        n.version = *v;
        int stale = sf_live_stale (c->live, node);
        if (stale >= 0)
            n.stale = stale;
        if (o->info.heartbeat > n.heartbeat)
            n.heartbeat = o->info.heartbeat;
        //  A higher snapshot floor (a snapshot taken elsewhere): what we hold
        //  of the node below it was not in that snapshot and is gone as of
        //  the node record's version, which is at least the snapshot's. A
        //  peer without floors sends none: ours stays.
        bool raised = sf_version_cmp (n.snapshot_floor, o->info.snapshot_floor) > 0;
        if (!raised)
            n.snapshot_floor = o->info.snapshot_floor;
        sf_writer_set_info (w, o, &n);
        if (raised) {
            //  Tombstones below the floor, not at this entry's version: it
            //  can come before some of the snapshot's own records (a block
            //  above what we hold, rule 2a, or one cut by the budget); at
            //  its version they shadowed those records for good (the
            //  soak's restarted nodes lost placements on peers that way)
            int deleted = sf_writer_del_below (w, o, n.snapshot_floor);
            if (deleted < 0)
                return -1;
            if (deleted > 0)
                sf_info ("gossip: %s's snapshot at %llu/%llu drops %d placements "
                         "held here below its floor %llu/%llu", node, (unsigned long long) v->gen,
                         (unsigned long long) v->seq, deleted,
                         (unsigned long long) n.snapshot_floor.gen, (unsigned long long) n.snapshot_floor.seq);
        }
        return 0;
    }
    //  An unknown kind, or 'p' while we take no patches (as an older peer)
    snprintf (err, SF_ERR_MAX, "unknown entry kind '%s'", kind);
    return -1;
}

static void
s_apply_delta (sf_gossip_t *g, const msgpack_object *body, const char *from)
{
    const msgpack_object *origins = sf_map_get (body, "origins");
    if (!origins || origins->type != MSGPACK_OBJECT_ARRAY)
        return;
    const sf_gossip_env_t *c = g->c;
    sf_writer_t *w = c->writer;
    if (sf_writer_begin (w))
        return;
    char err [SF_ERR_MAX];
    uint64_t applied = 0, dup = 0;
    //  Until a peer's digest named nothing newer than what we have (a
    //  controller that just started), what we learn is the latest state of
    //  a past we did not witness: caught up, not observed (docs/migrations.md).
    //  So is a delta whose sender had more history for us than one round
    //  carries: the witnesses' events of these records may not be here yet
    bool history_more = false;
    sf_map_bool (body, "history_more", &history_more, NULL);
    sf_fleet_set_caught_up (!atomic_load (&g->caught_up) || history_more);
    for (uint32_t i = 0; i < origins->via.array.size; i++) {
        const msgpack_object *blk = &origins->via.array.ptr [i];
        char node [SF_NODE_MAX + 1];
        const msgpack_object *entries = sf_map_get (blk, "entries");
        const msgpack_object *upto_o = sf_map_get (blk, "upto");
        sf_version_t upto;
        if (sf_map_str (blk, "node", node, SF_NODE_MAX, err) || !node [0] || !entries
        ||  entries->type != MSGPACK_OBJECT_ARRAY || !upto_o || !s_version_obj (upto_o, &upto)) {
            sf_metrics_reject (c->metrics, SF_REJ_FIELD);
            sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: malformed delta block from %s", from);
            continue;
        }
        sf_origin_t *o = sf_writer_origin (w, node);
        if (!o)
            continue;
        //  A block that starts above what we hold (`from`: the rest was sent
        //  before and has not arrived, or was lost): its entries apply, but
        //  it lets us claim nothing, or we would claim past a hole
        const msgpack_object *from_o = sf_map_get (blk, "from");
        sf_version_t bfrom, held = sf_version_cmp (o->staged, o->committed) > 0 ? o->staged : o->committed;
        bool hole = from_o && (!s_version_obj (from_o, &bfrom) || sf_version_cmp (held, bfrom) < 0);
        bool ok = true, missed = false;
        //  What the block lets us claim after a miss: the version before it
        sf_version_t claim = { 0, 0 };
        for (uint32_t k = 0; k < entries->via.array.size; k++) {
            sf_version_t v = { 0, 0 };
            int rc = s_apply_entry (g, o, &entries->via.array.ptr [k], &v, err);
            if (rc == -1) {
                ok = false;
                break;
            }
            if (rc == -2 && hole) {
                //  A block above what we hold: its patches' bases may be in
                //  the part still on its way (the two directions of an
                //  exchange use two sockets, so deltas overtake each other).
                //  Not a miss: the block claims nothing, and what it could
                //  not apply is sent again once the sender's watermark
                //  expires (rule 2a), not the origin whole. Counted as a
                //  miss, every overtaking had the whole origin sent again
                atomic_fetch_add (&c->metrics->gossip_patches_early, 1);
                continue;
            }
            if (rc == -2 && !missed) {
                //  The rest still applies (versions decide), but nothing
                //  after the miss is claimed
                missed = true;
                atomic_fetch_add (&c->metrics->gossip_patch_misses, 1);
            }
            if (rc == 0)
                applied++;
            else if (rc == 1)
                dup++;
            if (!missed)
                claim = v;
        }
        if (!ok) {
            //  Claim nothing for this origin: the next round starts over
            sf_metrics_reject (c->metrics, SF_REJ_FIELD);
            sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: bad entry in %s's delta for %s (%s)", from,
                            node, err);
            continue;
        }
        if (missed) {
            //  Ask for this origin's records whole until a block applies whole
            if (!zhashx_lookup (g->want_full, node)) {
                zhashx_insert (g->want_full, node, "");
                sf_log_limited (&g->rl, SF_LOG_INFO, "gossip: a patch from %s for %s found an older "
                                "version stored than its base, or none; asking for that node's records whole",
                                from, node);
            }
            //  Never past the block's own upto: a sender includes records it
            //  holds above what it claims (its own block that missed, or
            //  one above what it held), and the version before the miss
            //  can be one of them
            if (sf_version_cmp (claim, upto) < 0)
                upto = claim;
        }
        else if (!hole)
            zhashx_delete (g->want_full, node);
        if (!hole && sf_version_cmp (upto, o->staged) > 0)
            sf_writer_stage (w, o, upto);
    }
    sf_fleet_set_caught_up (false);
    atomic_fetch_add (&c->metrics->gossip_records_in, applied);
    atomic_fetch_add (&c->metrics->gossip_entries_held, dup);
    sf_writer_commit (w);
}

//  The placement history (controller/fleet.c): the events of the hours in
//  which the peer's digest differs from ours, and what we learn from theirs.
//  All of them go before the records (in messages of S_HISTORY_EVENTS), up
//  to S_HISTORY_MSGS messages a round; past that the round's delta says
//  `history_more`, and the peer applies it as caught up (no events derived
//  from those records: the witnesses' events for them are still on their
//  way, docs/migrations.md "Caught up, not observed").
#define S_HISTORY_EVENTS 2000
#define S_HISTORY_MSGS 8

typedef struct {
    sf_gossip_t *g;
    s_member_t *m;
    zframe_t *route;
} s_history_to_t;

static void
s_send_history_one (const msgpack_sbuffer *events, size_t count, void *arg)
{
    s_history_to_t *to = arg;
    sf_gossip_t *g = to->g;
    msgpack_sbuffer_clear (&g->out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &g->out, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "history", 2);
    sf_pack_kstr (&pk, "from", g->self_id);
    sf_pack_str (&pk, "events");
    msgpack_sbuffer_write (&g->out, events->data, events->size);
    if (to->m)
        s_send_dealer (g, to->m);
    else
        s_send_route (g, to->route);
}

//  Whether the peer's history is still short of ours after what went
static bool
s_send_history (sf_gossip_t *g, const msgpack_object *theirs, s_member_t *m, zframe_t *route)
{
    if (!theirs)
        return false;               //  a peer without a replicated history
    s_history_to_t to = { g, m, route };
    bool more = false;
    sf_fleet_history_offer_each (g->c->store, theirs, S_HISTORY_EVENTS, S_HISTORY_MSGS,
                                 s_send_history_one, &to, &more);
    return more;
}

static void
s_apply_history (sf_gossip_t *g, const msgpack_object *body, const char *from)
{
    const sf_gossip_env_t *c = g->c;
    if (sf_writer_begin (c->writer))
        return;
    size_t added = 0;
    int bad = sf_fleet_history_apply (c->store, sf_map_get (body, "events"), &added);
    if (bad) {
        sf_metrics_reject (c->metrics, SF_REJ_FIELD);
        sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: %d bad history events from %s", bad, from);
    }
    sf_writer_commit (c->writer);
}

//  ---------------------------------------------------------------------------
//  The extra replicated state (sf_gossip_ext_t): the `alerts` message

//  Sends {from, digest[, offer for theirs][, final]}: on member m's DEALER,
//  or on the ROUTER to route
static void
s_send_ext (sf_gossip_t *g, s_member_t *m, zframe_t *route, const msgpack_object *theirs, bool final)
{
    const sf_gossip_ext_t *x = g->c->ext;
    msgpack_sbuffer_clear (&g->out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &g->out, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "alerts", 2 + (theirs ? 1 : 0) + (final ? 1 : 0));
    sf_pack_kstr (&pk, "from", g->self_id);
    sf_pack_str (&pk, "digest");
    x->digest (x->arg, &pk);
    if (theirs) {
        sf_pack_str (&pk, "offer");
        x->offer (x->arg, theirs, &pk);
    }
    if (final)
        sf_pack_kbool (&pk, "final", true);
    if (m)
        s_send_dealer (g, m);
    else
        s_send_route (g, route);
}

//  A peer's `alerts`: merges its offer, and answers with ours when the
//  digests still differ (the asking side's answer is final)
static void
s_on_ext (sf_gossip_t *g, const msgpack_object *body, s_member_t *m, zframe_t *route)
{
    const sf_gossip_ext_t *x = g->c->ext;
    if (!x)
        return;                     //  nothing of ours to merge it into
    char from [64] = "";
    sf_map_str (body, "from", from, sizeof (from) - 1, NULL);
    const msgpack_object *offer = sf_map_get (body, "offer");
    if (offer) {
        int bad = x->apply (x->arg, offer);
        if (bad) {
            sf_metrics_reject (g->c->metrics, SF_REJ_FIELD);
            sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: %d malformed alert entries from %s", bad, from);
        }
    }
    bool final = false;
    sf_map_bool (body, "final", &final, NULL);
    const msgpack_object *theirs = sf_map_get (body, "digest");
    if (final || !theirs || !x->differs (x->arg, theirs)) {
        if (x->heard)
            x->heard (x->arg, from, theirs, false);
        return;
    }
    s_send_ext (g, m, route, theirs, m != NULL);
    if (x->heard)
        x->heard (x->arg, from, theirs, m != NULL);
}

//  ---------------------------------------------------------------------------
//  Messages

//  True when the peer's digest names a version of some origin newer than
//  the one we have committed: we are still catching up with it.
static bool
s_digest_ahead (sf_gossip_t *g, const msgpack_object *digest)
{
    if (!digest || digest->type != MSGPACK_OBJECT_MAP)
        return false;
    for (uint32_t i = 0; i < digest->via.map.size; i++) {
        const msgpack_object *k = &digest->via.map.ptr [i].key;
        sf_version_t theirs;
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size > SF_NODE_MAX
        ||  !s_version_obj (&digest->via.map.ptr [i].val, &theirs))
            continue;
        char node [SF_NODE_MAX + 1];
        memcpy (node, k->via.str.ptr, k->via.str.size);
        node [k->via.str.size] = 0;
        sf_origin_t *o = sf_writer_origin (g->c->writer, node);
        if (!o || sf_version_cmp (theirs, o->committed) > 0)
            return true;
    }
    return false;
}

bool
sf_gossip_ready (sf_gossip_t *self, char *why, size_t whylen)
{
    if (atomic_load (&self->caught_up))
        return true;
    //  Alone (every peer dead or unreachable) we serve what we have: a
    //  cluster-wide outage must not make every controller unready
    sf_gossip_t *g = self;
    if (sf_mono_ms () - self->started_ms > 3 * S_SUSPECT_MS + 2 * S_PROBE_MS) {
        atomic_store (&self->caught_up, true);
        return true;
    }
    snprintf (why, whylen, "catching up with peer controllers");
    return false;
}

static void
s_on_exchange (sf_gossip_t *g, const msgpack_object *body, s_member_t *via, zframe_t *route,
               bool is_request)
{
    char from [64] = "", endpoint [256] = "";
    uint64_t inc = 0, hash = 0, streams = 0;
    sf_map_str (body, "from", from, sizeof (from) - 1, NULL);
    sf_map_str (body, "endpoint", endpoint, sizeof (endpoint) - 1, NULL);
    sf_map_u64 (body, "inc", &inc, NULL);
    sf_map_u64 (body, "state_hash", &hash, NULL);
    sf_map_u64 (body, "streams", &streams, NULL);
    s_member_t *m = s_member_from (g, from, endpoint, via);
    if (m) {
        s_heard (m, inc);
        m->state_hash = hash;
        m->streams = streams;
        m->last_exchange_ms = sf_mono_ms ();
    }
    s_merge_members (g, sf_map_get (body, "members"), from);
    s_merge_beats (g, sf_map_get (body, "beats"));
    const msgpack_object *digest = sf_map_get (body, "digest");
    if (m && !atomic_load (&g->caught_up) && !s_digest_ahead (g, digest)) {
        atomic_store (&g->caught_up, true);
        sf_info ("gossip: caught up with %s", m->id);
    }
    //  Whether the peer takes patches, and which origins it wants whole
    bool patches = false;
    sf_map_bool (body, "patch", &patches, NULL);
    const msgpack_object *full = sf_map_get (body, "full");
    //  Whether it honours a block's `from` (older peers do not: no watermark)
    bool resume = false;
    sf_map_bool (body, "resume", &resume, NULL);
    //  The history before the records: the events of a time the peer did
    //  not witness move its fleet state on (the moves they tell of), so the
    //  latest records of that time, which follow, find it where the
    //  witnesses left it and derive nothing the witnesses did not
    //  (docs/migrations.md "Caught up, not observed")
    if (is_request) {
        s_pack_exchange (g, "gossip_reply");
        s_send_route (g, route);
        bool hmore = s_send_history (g, sf_map_get (body, "history"), NULL, route);
        uint64_t lag = s_send_delta (g, digest, NULL, route, m, patches, full, hmore, resume);
        if (m)
            m->lag_changes = lag;
    }
    else if (m) {
        bool hmore = s_send_history (g, sf_map_get (body, "history"), m, route);
        m->lag_changes = s_send_delta (g, digest, m, NULL, m, patches, full, hmore, resume);
    }
    if (!is_request && m && g->c->ext)
        s_send_ext (g, m, NULL, NULL, false);
}

static void s_router_msg (sf_gossip_t *g, zframe_t *route);

//  One message that held the ingest thread long says so (its agents'
//  messages waited meanwhile): its type, sender and size
#define S_SLOW_MSG_MS 500
static void
s_took (sf_gossip_t *g, int64_t t0, const char *from, size_t size)
{
    int64_t ms = sf_mono_ms () - t0;
    if (ms >= S_SLOW_MSG_MS)
        sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: a '%s' from %s (%.1f KiB) took %.1f s to handle",
                        g->msg.type, from, (double) size / 1024.0, (double) ms / 1000.0);
}

static bool
s_is_delta (zframe_t *f)
{
    char type [32];
    return sf_msg_peek_type (zframe_data (f), zframe_size (f), type, sizeof (type)) == 0
        && strcmp (type, "delta") == 0;
}

//  Takes *frame into the inbox, or sheds it when the inbox is full
static void
s_inbox_add (sf_gossip_t *g, zframe_t **frame, const char *member, const char *from)
{
    size_t size = zframe_size (*frame);
    if (g->inbox_bytes + size > S_INBOX_BYTES && zlistx_size (g->inbox)) {
        atomic_fetch_add (&g->c->metrics->gossip_deltas_shed, 1);
        sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: shed a delta from %s (%.1f KiB): %.1f MiB of "
                        "deltas wait to be applied already (anti-entropy sends it again)", from,
                        (double) size / 1024.0, (double) g->inbox_bytes / (1 << 20));
        zframe_destroy (frame);
        return;
    }
    s_inbound_t *in = sf_xcalloc (1, sizeof (*in));
    in->frame = *frame;
    *frame = NULL;
    snprintf (in->member, sizeof (in->member), "%s", member);
    zlistx_add_end (g->inbox, in);
    g->inbox_bytes += size;
}

static void
s_inbound_free (void **item)
{
    s_inbound_t *in = *item;
    if (in) {
        zframe_destroy (&in->frame);
        free (in);
        *item = NULL;
    }
}

static void s_dealer_msg (sf_gossip_t *g, s_member_t *m);

//  Applies the inbox's deltas for up to S_APPLY_MS (at least one)
static void
s_inbox_apply (sf_gossip_t *g)
{
    int64_t start = sf_mono_ms ();
    bool one = false;
    s_inbound_t *in;
    while ((!one || sf_mono_ms () - start < S_APPLY_MS) && (in = zlistx_detach (g->inbox, NULL))) {
        one = true;
        g->inbox_bytes -= zframe_size (in->frame);
        s_member_t *m = in->member [0] ? zhashx_lookup (g->members, in->member) : NULL;
        if (in->member [0] && !m)
            ;                       //  a member gone meanwhile: what it sent goes with it
        else if (sf_msg_parse (&g->msg, zframe_data (in->frame), zframe_size (in->frame))) {
            sf_metrics_reject (g->c->metrics, g->msg.reason);
            sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: rejected a message: %s", g->msg.error);
        }
        else {
            int64_t t0 = sf_mono_ms ();
            if (m)
                s_dealer_msg (g, m);
            else
                s_router_msg (g, NULL);
            s_took (g, t0, m ? m->id : "a peer", zframe_size (in->frame));
        }
        sf_msg_release (&g->msg);
        s_inbound_free ((void **) &in);
    }
}

static void
s_on_router (sf_gossip_t *g)
{
    zmsg_t *msg = zmsg_recv (g->router);
    if (!msg)
        return;
    zframe_t *route = zmsg_pop (msg);
    zframe_t *payload = zmsg_pop (msg);
    const sf_gossip_env_t *c = g->c;
    if (!route || !payload || zmsg_size (msg)) {
        sf_metrics_reject (c->metrics, SF_REJ_MALFORMED);
        goto done;
    }
    atomic_fetch_add (&c->metrics->gossip_bytes_in, zframe_size (payload));
    sf_peer_t peer = { .key = "" };
    if (sf_peers_lookup (c->peers, payload, &peer) || !sf_peer_admits (&peer, SF_ENDPOINT_PEERS)) {
        sf_metrics_reject (c->metrics, SF_REJ_FORBIDDEN);
        sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: refused a message from %s: not a peer certificate",
                        peer.key [0] ? peer.name : "a key not in the certificate directory");
        goto done;
    }
    if (s_is_delta (payload)) {
        s_inbox_add (g, &payload, "", peer.name);
        goto done;
    }
    if (sf_msg_parse (&g->msg, zframe_data (payload), zframe_size (payload))) {
        sf_metrics_reject (c->metrics, g->msg.reason);
        sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: rejected a message: %s", g->msg.error);
        goto done;
    }
    int64_t t0 = sf_mono_ms ();
    s_router_msg (g, route);
    s_took (g, t0, peer.name, zframe_size (payload));
done:
    sf_msg_release (&g->msg);
    zframe_destroy (&route);
    zframe_destroy (&payload);
    zmsg_destroy (&msg);
}

//  A parsed message (g->msg) a peer sent to our ROUTER, from route
static void
s_router_msg (sf_gossip_t *g, zframe_t *route)
{
    const sf_gossip_env_t *c = g->c;
    const char *t = g->msg.type;
    const msgpack_object *body = g->msg.body;
    char from [64] = "";
    sf_map_str (body, "from", from, sizeof (from) - 1, NULL);
    if (!strcmp (t, "gossip"))
        s_on_exchange (g, body, NULL, route, true);
    else if (!strcmp (t, "delta")) {
        s_member_t *m = zhashx_lookup (g->members, from);
        if (m)
            m->last_heard_ms = sf_mono_ms ();
        s_apply_delta (g, body, from);
    }
    else if (!strcmp (t, "history"))
        s_apply_history (g, body, from);
    else if (!strcmp (t, "alerts"))
        s_on_ext (g, body, NULL, route);
    else if (!strcmp (t, "ping")) {
        msgpack_sbuffer_clear (&g->out);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &g->out, msgpack_sbuffer_write);
        sf_msg_begin (&pk, "ack", 2);
        sf_pack_kstr (&pk, "from", g->self_id);
        sf_pack_ku64 (&pk, "inc", g->inc);
        s_send_route (g, route);
    }
    else if (!strcmp (t, "ping_req")) {
        char target [64] = "";
        sf_map_str (body, "target", target, sizeof (target) - 1, NULL);
        s_member_t *m = zhashx_lookup (g->members, target);
        if (m && m->dealer) {
            s_pingreq_t *p = sf_xcalloc (1, sizeof (*p));
            p->route = zframe_dup (route);
            snprintf (p->target, sizeof (p->target), "%s", target);
            p->until_ms = sf_mono_ms () + S_PROBE_MS;
            zlistx_add_end (g->pingreqs, p);
            msgpack_sbuffer_clear (&g->out);
            msgpack_packer pk;
            msgpack_packer_init (&pk, &g->out, msgpack_sbuffer_write);
            sf_msg_begin (&pk, "ping", 1);
            sf_pack_kstr (&pk, "from", g->self_id);
            s_send_dealer (g, m);
        }
    }
    else {
        sf_metrics_reject (c->metrics, SF_REJ_TYPE);
        sf_log_limited (&g->rl, SF_LOG_WARN, "gossip: unknown message type '%s' from %s", t, from);
    }
}

static void
s_pingreq_free (void **item)
{
    s_pingreq_t *p = *item;
    if (p) {
        zframe_destroy (&p->route);
        free (p);
        *item = NULL;
    }
}

static void s_dealer_msg (sf_gossip_t *g, s_member_t *m);

static void
s_on_dealer (sf_gossip_t *g, s_member_t *m)
{
    zframe_t *f = zframe_recv (m->dealer);
    if (!f)
        return;
    atomic_fetch_add (&g->c->metrics->gossip_bytes_in, zframe_size (f));
    if (s_is_delta (f)) {
        m->last_heard_ms = sf_mono_ms ();
        s_inbox_add (g, &f, m->id, m->id);
        return;
    }
    if (sf_msg_parse (&g->msg, zframe_data (f), zframe_size (f))) {
        sf_metrics_reject (g->c->metrics, g->msg.reason);
        zframe_destroy (&f);
        return;
    }
    int64_t t0 = sf_mono_ms ();
    s_dealer_msg (g, m);
    s_took (g, t0, m->id, zframe_size (f));
    sf_msg_release (&g->msg);
    zframe_destroy (&f);
}

//  A parsed message (g->msg) that came on member m's DEALER: an answer
static void
s_dealer_msg (sf_gossip_t *g, s_member_t *m)
{
    const char *t = g->msg.type;
    const msgpack_object *body = g->msg.body;
    if (!strcmp (t, "gossip_reply"))
        s_on_exchange (g, body, m, NULL, false);
    else if (!strcmp (t, "delta")) {
        bool more = false;
        sf_map_bool (body, "more", &more, NULL);
        m->again = more;
        m->last_heard_ms = sf_mono_ms ();
        s_apply_delta (g, body, m->id);
    }
    else if (!strcmp (t, "history")) {
        m->last_heard_ms = sf_mono_ms ();
        s_apply_history (g, body, m->id);
    }
    else if (!strcmp (t, "alerts")) {
        m->last_heard_ms = sf_mono_ms ();
        s_on_ext (g, body, m, NULL);
    }
    else if (!strcmp (t, "ack")) {
        uint64_t inc = 0;
        sf_map_u64 (body, "inc", &inc, NULL);
        s_heard (m, inc);
        //  Answer whoever asked us to ping it
        for (s_pingreq_t *p = zlistx_first (g->pingreqs); p; p = zlistx_next (g->pingreqs))
            if (!strcmp (p->target, m->id)) {
                msgpack_sbuffer_clear (&g->out);
                msgpack_packer pk;
                msgpack_packer_init (&pk, &g->out, msgpack_sbuffer_write);
                sf_msg_begin (&pk, "ping_ack", 2);
                sf_pack_kstr (&pk, "from", g->self_id);
                sf_pack_kstr (&pk, "target", m->id);
                s_send_route (g, p->route);
                p->until_ms = 0;
            }
    }
    else if (!strcmp (t, "ping_ack")) {
        char target [64] = "";
        sf_map_str (body, "target", target, sizeof (target) - 1, NULL);
        s_member_t *tm = zhashx_lookup (g->members, target);
        if (tm) {
            //  It answered through someone else: our probe is answered, but
            //  only its own higher incarnation refutes a suspicion
            tm->probe_sent_ms = 0;
            tm->indirect_sent = false;
        }
    }
}

//  ---------------------------------------------------------------------------

static void
s_rebuild_cluster (sf_gossip_t *g)
{
    msgpack_sbuffer buf;
    msgpack_sbuffer_init (&buf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &buf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "cluster_reply", 3);
    sf_pack_kstr (&pk, "self", g->self_id);
    sf_pack_ki64 (&pk, "now", sf_now_ms () / 1000);
    size_t n = 1;
    for (s_member_t *m = zhashx_first (g->members); m; m = zhashx_next (g->members))
        n++;
    sf_pack_str (&pk, "members");
    msgpack_pack_array (&pk, n);
    int64_t now = sf_mono_ms ();
    msgpack_pack_map (&pk, 9);
    sf_pack_kstr (&pk, "id", g->self_id);
    sf_pack_kstr (&pk, "endpoint", g->self_endpoint);
    sf_pack_kstr (&pk, "state", "alive");
    sf_pack_ku64 (&pk, "incarnation", g->inc);
    sf_pack_ki64 (&pk, "last_heard_ms", 0);
    sf_pack_ku64 (&pk, "lag_changes", 0);
    char hash [24];
    snprintf (hash, sizeof (hash), "%016llx", (unsigned long long) g->state_hash);
    sf_pack_kstr (&pk, "state_digest", hash);
    sf_pack_ku64 (&pk, "streams", g->streams);
    sf_pack_kbool (&pk, "self", true);
    for (s_member_t *m = zhashx_first (g->members); m; m = zhashx_next (g->members)) {
        msgpack_pack_map (&pk, 9);
        sf_pack_kstr (&pk, "id", m->seed ? "" : m->id);
        sf_pack_kstr (&pk, "endpoint", m->endpoint);
        sf_pack_kstr (&pk, "state", m->seed && m->last_heard_ms < 0 ? "unknown" : s_mstate_names [m->state]);
        sf_pack_ku64 (&pk, "incarnation", m->inc);
        sf_pack_ki64 (&pk, "last_heard_ms", m->last_heard_ms < 0 ? -1 : now - m->last_heard_ms);
        sf_pack_ku64 (&pk, "lag_changes", m->lag_changes);
        snprintf (hash, sizeof (hash), "%016llx", (unsigned long long) m->state_hash);
        sf_pack_kstr (&pk, "state_digest", m->last_heard_ms < 0 ? "" : hash);
        sf_pack_ku64 (&pk, "streams", m->streams);
        sf_pack_kbool (&pk, "self", false);
    }
    pthread_mutex_lock (&g->lock);
    msgpack_sbuffer_clear (&g->cluster);
    msgpack_sbuffer_write (&g->cluster, buf.data, buf.size);
    pthread_mutex_unlock (&g->lock);
    msgpack_sbuffer_destroy (&buf);
}

int
sf_gossip_cluster (void *arg, msgpack_sbuffer *reply)
{
    sf_gossip_t *g = arg;
    msgpack_sbuffer_clear (reply);
    pthread_mutex_lock (&g->lock);
    msgpack_sbuffer_write (reply, g->cluster.data, g->cluster.size);
    pthread_mutex_unlock (&g->lock);
    return 0;
}

//  The state digest: an order-free hash of every placement's key and
//  version, so that two controllers with the same records show the same value
static void
s_update_hash (sf_gossip_t *g)
{
    //  Kept by the store with every commit: no scan of the placements
    uint64_t acc [2] = { 0, 0 };
    sf_store_digest (g->c->store, &acc [0], &acc [1]);
    //  The placement history is part of the state: two controllers show one
    //  digest only once they hold the same placements and the same events
    msgpack_sbuffer hist;
    msgpack_sbuffer_init (&hist);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &hist, msgpack_sbuffer_write);
    sf_fleet_history_digest (g->c->store, &pk);
    uint64_t h = 0x84222325CBF29CE4ULL;
    for (size_t i = 0; i < hist.size; i++)
        h = (h ^ (uint8_t) hist.data [i]) * 1099511628211ULL;
    msgpack_sbuffer_destroy (&hist);
    g->state_hash = acc [0] ^ (h * 0x9E3779B97F4A7C15ULL);
    g->streams = acc [1];
}

void
sf_gossip_tick (sf_gossip_t *self)
{
    sf_gossip_t *g = self;
    int64_t now = sf_mono_ms ();
    //  Probes that went unanswered: indirect, then suspicion
    for (s_member_t *m = zhashx_first (g->members); m; m = zhashx_next (g->members)) {
        if (m->probe_sent_ms && now - m->probe_sent_ms > S_PROBE_MS && !m->indirect_sent) {
            m->indirect_sent = true;
            int asked = 0;
            msgpack_sbuffer_clear (&g->out);
            msgpack_packer pk;
            msgpack_packer_init (&pk, &g->out, msgpack_sbuffer_write);
            sf_msg_begin (&pk, "ping_req", 2);
            sf_pack_kstr (&pk, "from", g->self_id);
            sf_pack_kstr (&pk, "target", m->id);
            //  zhashx has one cursor: pick helpers from a copy of the keys
            zlistx_t *keys = zhashx_keys (g->members);
            for (char *k = zlistx_first (keys); k && asked < S_INDIRECT; k = zlistx_next (keys)) {
                s_member_t *h = zhashx_lookup (g->members, k);
                if (h && h != m && h->state == S_ALIVE && !h->seed) {
                    s_send_dealer (g, h);
                    asked++;
                }
            }
            zlistx_destroy (&keys);
            m = zhashx_lookup (g->members, m->id);      //  restore the cursor
            if (!m)
                break;
        }
        if (m->probe_sent_ms && now - m->probe_sent_ms > 2 * S_PROBE_MS) {
            m->probe_sent_ms = 0;
            m->indirect_sent = false;
            if (m->state == S_ALIVE && !m->seed) {
                char why [96];
                snprintf (why, sizeof (why), "no answer to our probe, direct or indirect, in %lld ms",
                          (long long) (2 * S_PROBE_MS));
                s_set_state (m, S_SUSPECT, m->inc, why);
            }
        }
        if (m->state == S_SUSPECT && now - m->state_since_ms > S_SUSPECT_MS) {
            char why [96];
            snprintf (why, sizeof (why), "suspect for %lld ms without refuting it",
                      (long long) S_SUSPECT_MS);
            s_set_state (m, S_DEAD, m->inc, why);
        }
    }
    //  Expired indirect-ping requests
    void *h = zlistx_first (g->pingreqs) ? zlistx_cursor (g->pingreqs) : NULL;
    while (h) {
        s_pingreq_t *p = zlistx_handle_item (h);
        void *next = zlistx_next (g->pingreqs) ? zlistx_cursor (g->pingreqs) : NULL;
        if (now > p->until_ms)
            zlistx_delete (g->pingreqs, h);
        h = next;
    }
    if (now >= g->next_hash_ms) {
        s_update_hash (g);
        g->next_hash_ms = now + 1000;
    }
    //  A member whose delta was cut short gets another round at once
    for (s_member_t *m = zhashx_first (g->members); m; m = zhashx_next (g->members))
        if (m->again && !m->probe_sent_ms) {
            m->again = false;
            s_pack_exchange (g, "gossip");
            s_send_dealer (g, m);
            m->probe_sent_ms = now;
        }
    if (now < g->next_round_ms)
        return;
    g->next_round_ms = now + g->c->cfg->gossip_ms;
    atomic_fetch_add (&g->c->metrics->gossip_rounds, 1);
    //  One member per round: live ones in turn, a dead one now and then so
    //  that it can come back
    size_t n = zhashx_size (g->members);
    if (n) {
        zlistx_t *keys = zhashx_keys (g->members);
        s_member_t *pick = NULL;
        for (size_t tries = 0; tries < n && !pick; tries++) {
            size_t idx = (size_t) (g->rr++ % n);
            char *k = zlistx_first (keys);
            for (size_t i = 0; i < idx && k; i++)
                k = zlistx_next (keys);
            s_member_t *m = k ? zhashx_lookup (g->members, k) : NULL;
            if (m && !m->probe_sent_ms && (m->state != S_DEAD || randof (10) == 0))
                pick = m;
        }
        zlistx_destroy (&keys);
        if (pick) {
            s_pack_exchange (g, "gossip");
            s_send_dealer (g, pick);
            pick->probe_sent_ms = now;
        }
    }
    s_rebuild_cluster (g);
}

int
sf_gossip_pollitems (sf_gossip_t *self, zmq_pollitem_t *items, int max)
{
    int n = 0;
    if (n < max)
        items [n++] = (zmq_pollitem_t) { zsock_resolve (self->router), 0, ZMQ_POLLIN, 0 };
    for (s_member_t *m = zhashx_first (self->members); m && n < max; m = zhashx_next (self->members))
        if (m->dealer)
            items [n++] = (zmq_pollitem_t) { zsock_resolve (m->dealer), 0, ZMQ_POLLIN, 0 };
    return n;
}

bool
sf_gossip_pending (sf_gossip_t *self)
{
    return zlistx_size (self->inbox) > 0;
}

void
sf_gossip_handle (sf_gossip_t *self, zmq_pollitem_t *items, int count)
{
    for (int i = 0; i < count; i++) {
        if (!(items [i].revents & ZMQ_POLLIN))
            continue;
        if (items [i].socket == zsock_resolve (self->router)) {
            for (int k = 0; k < S_READ_MAX && (zsock_events (self->router) & ZMQ_POLLIN); k++)
                s_on_router (self);
            continue;
        }
        //  Find the member by socket: members may have changed meanwhile
        //  (and may as it is read: an exchange can drop or reconnect one)
        for (s_member_t *m = zhashx_first (self->members); m; m = zhashx_next (self->members))
            if (m->dealer && zsock_resolve (m->dealer) == items [i].socket) {
                char id [64];
                snprintf (id, sizeof (id), "%s", m->id);
                for (int k = 0; k < S_READ_MAX && m && m->dealer
                            && zsock_resolve (m->dealer) == items [i].socket
                            && (zsock_events (m->dealer) & ZMQ_POLLIN); k++) {
                    s_on_dealer (self, m);
                    m = zhashx_lookup (self->members, id);
                }
                break;
            }
    }
    s_inbox_apply (self);
}

sf_gossip_t *
sf_gossip_new (const sf_gossip_env_t *env, char *err, size_t errlen)
{
    sf_gossip_t *g = sf_xcalloc (1, sizeof (*g));
    g->delta_records = S_DELTA_RECORDS;
    g->delta_bytes = S_DELTA_BYTES;
    g->env = *env;
    g->c = &g->env;
    const sf_gossip_env_t *c = g->c;
    snprintf (g->self_id, sizeof (g->self_id), "%s", c->cfg->id);
    //  What others connect to: the peers endpoint, made connectable
    const char *ep = c->cfg->advertise [0] ? c->cfg->advertise : c->cfg->peers;
    const char *star = strchr (ep, '*');
    if (star) {
        //  Bound to every interface: advertise the host name
        char host [128] = "localhost";
        gethostname (host, sizeof (host) - 1);
        snprintf (g->self_endpoint, sizeof (g->self_endpoint), "%.*s%s%s", (int) (star - ep), ep, host,
                  star + 1);
    }
    else
        snprintf (g->self_endpoint, sizeof (g->self_endpoint), "%s", ep);
    g->inc = (uint64_t) time (NULL);
    g->started_ms = sf_mono_ms ();
    g->members = zhashx_new ();
    zhashx_set_destructor (g->members, (zhashx_destructor_fn *) s_member_destroy);
    g->pingreqs = zlistx_new ();
    zlistx_set_destructor (g->pingreqs, s_pingreq_free);
    g->want_full = zhashx_new ();
    g->inbox = zlistx_new ();
    zlistx_set_destructor (g->inbox, s_inbound_free);
    sf_msg_init (&g->msg);
    sf_stream_init (&g->scratch);
    msgpack_sbuffer_init (&g->out);
    msgpack_sbuffer_init (&g->cluster);
    pthread_mutex_init (&g->lock, NULL);
    g->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (10, 10000);
    g->router = zsock_new (ZMQ_ROUTER);
    if (!g->router) {
        snprintf (err, errlen, "cannot create the peers socket");
        sf_gossip_destroy (&g);
        return NULL;
    }
    sf_sock_curve_server (g->router, c->cert);
    zsock_set_linger (g->router, 0);
    zsock_set_sndhwm (g->router, 8);
    zsock_set_rcvhwm (g->router, 8);
    zsock_set_router_mandatory (g->router, 1);
    if (zsock_bind (g->router, "%s", c->cfg->peers) < 0) {
        snprintf (err, errlen, "cannot listen for peers on %s: %s", c->cfg->peers, zmq_strerror (zmq_errno ()));
        sf_gossip_destroy (&g);
        return NULL;
    }
    char *list = sf_xstrdup (c->cfg->seeds);
    for (char *tok = strtok (list, ", "); tok; tok = strtok (NULL, ", ")) {
        if (strcmp (tok, g->self_endpoint) == 0)
            continue;
        char key [300];
        snprintf (key, sizeof (key), "seed:%s", tok);
        if (!zhashx_lookup (g->members, key))
            s_member_add (g, key, tok, true);
    }
    free (list);
    //  No seed: nobody to catch up with until a peer finds us
    if (zhashx_size (g->members) == 0)
        atomic_store (&g->caught_up, true);
    s_update_hash (g);
    s_rebuild_cluster (g);
    return g;
}

void
sf_gossip_destroy (sf_gossip_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_gossip_t *g = *self_p;
    zhashx_destroy (&g->members);
    zlistx_destroy (&g->pingreqs);
    zlistx_destroy (&g->inbox);
    zhashx_destroy (&g->want_full);
    zsock_destroy (&g->router);
    sf_msg_release (&g->msg);
    sf_stream_clear (&g->scratch);
    msgpack_sbuffer_destroy (&g->out);
    msgpack_sbuffer_destroy (&g->cluster);
    pthread_mutex_destroy (&g->lock);
    free (g->order);
    free (g);
    *self_p = NULL;
}

//  ---------------------------------------------------------------------------
//  The fuzzing seam (tests/fuzz/fuzz_gossip.c); the controller never calls it

void
sf_gossip_fuzz_mode (sf_gossip_t *self, sf_gossip_tap_fn *tap, void *arg)
{
    self->tap = tap;
    self->tap_arg = arg;
}

void
sf_gossip_fuzz_refuse (sf_gossip_t *self, bool refuse)
{
    self->tap_refuse = refuse;
}

void
sf_gossip_fuzz_budget (sf_gossip_t *self, size_t records, size_t bytes)
{
    assert (self->tap);
    self->delta_records = records;
    self->delta_bytes = bytes;
}

int
sf_gossip_fuzz_input (sf_gossip_t *self, const uint8_t *data, size_t size)
{
    sf_gossip_t *g = self;
    assert (g->tap);                //  never in a controller: it would connect out
    if (sf_msg_parse (&g->msg, data, size)) {
        sf_msg_release (&g->msg);
        return -1;
    }
    //  Answers come on a member's DEALER (the member named "from", or one made
    //  for the purpose); requests, deltas and history on the ROUTER, from a
    //  route nobody holds (what is sent to it is dropped, and tapped)
    const char *t = g->msg.type;
    if (!strcmp (t, "gossip_reply") || !strcmp (t, "ack") || !strcmp (t, "ping_ack")) {
        char from [64] = "";
        sf_map_str (g->msg.body, "from", from, sizeof (from) - 1, NULL);
        s_member_t *m = from [0] ? zhashx_lookup (g->members, from) : NULL;
        if (!m)
            m = zhashx_lookup (g->members, "seed:fuzz");
        if (!m)
            m = s_member_add (g, "seed:fuzz", "inproc://sf-fuzz-peer", true);
        s_dealer_msg (g, m);
    }
    else {
        zframe_t *route = zframe_new ("\0fuzz", 5);
        s_router_msg (g, route);
        zframe_destroy (&route);
    }
    sf_msg_release (&g->msg);
    return 0;
}

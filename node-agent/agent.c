/*  agent.c — the node agent's change pipeline and its side of the agent
    protocol (docs/protocol.md, "Agent protocol").

    The source runs in its own thread and hands over full states. The agent
    packs every placement, compares the bytes with what it last sent, and
    turns differences into changes stamped (generation, seq): put, del, or
    node. Changes wait in a bounded buffer until a controller acknowledges
    them; the agent never blocks on the network (sends are non-blocking and
    resume later), and when the buffer overflows the oldest changes go and
    the controller's next gap detection brings a snapshot instead.

    Connection: HELLO, then the controller's ACK says what it has committed.
    If our buffer still holds everything after that, we resend from there;
    otherwise we send a SNAPSHOT of the current state. A RESYNC asks for a
    snapshot at any time. Silence past controller-timeout-ms moves us to the
    next controller in the list.
*/
#include "sf_service.h"
#include "sf_agent.h"
#include "sf_alloc.h"
#include "sf_codec.h"
#include "sf_conndiag.h"
#include "sf_log.h"
#include "sf_security.h"
#include <pthread.h>
#include <czmq.h>
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

#define S_SNAP_CHUNK_RECORDS 1000
#define S_SNAP_CHUNK_BYTES (4 * 1024 * 1024)
#define S_VERSION "streamfleet-agent 0.1"
//  How long a controller whose connection is alive (its ZMTP heartbeats
//  answered) may stay silent before we fail over: it is overloaded, and a
//  failover would only hand the other controller a whole snapshot more
#define S_SLOW_LIMIT_MS 30000
//  ZMTP heartbeats on the controller connection: a dead controller or host
//  drops the connection within --controller-timeout-ms, whatever its load
#define S_ZMTP_HEARTBEAT_MS 1000

typedef struct {
    uint64_t seq;
    char kind;                  //  'p' put, 'a' patch, 'd' del, 'n' node
    uint32_t size;
    uint64_t off;               //  its bytes in the change arena: packed record
                                //  (put, patch, node) or the name (del)
} s_change_t;

typedef struct {
    char *bytes;                //  packed placement as last reported
    size_t size, cap;
    int64_t changed_at_ms;      //  its stamp: when it last changed
    bool seen;
    size_t index;               //  its place in the last good state (a->last)
    uint64_t seq;               //  the seq of its last change (or snapshot record)
} s_entry_t;

typedef struct {
    char *data;
    size_t size;
    size_t n_at;                //  where the 8 bytes of its "n" stamp go
} s_chunk_t;

//  S_WAIT: the controller asked us to retry later (docs/protocol.md, retry);
//  changes wait in the buffer and the hello goes again at retry_at_ms
typedef enum { S_DISCONNECTED, S_HELLO, S_STREAMING, S_WAIT } s_state_t;

typedef struct {
    sf_agent_config_t *cfg;
    const sf_source_ops_t *ops;
    zcert_t *cert;
    zactor_t *source;
    zsock_t *sock;
    sf_conndiag_t *diag;        //  what became of the connection (its monitor events)
    char **endpoints;
    int nendpoints;
    int current;
    s_state_t state;
    int64_t last_rx_ms;
    int64_t connected_ms;
    uint64_t gen;
    uint64_t seq;               //  last seq stamped
    uint64_t sent;              //  last seq sent on this connection
    uint64_t acked;
    uint64_t *acked_by;         //  per endpoint: the highest seq of this generation it acknowledged
    uint64_t hb_counter;
    //  change buffer: changes [head .. count) hold seqs first_seq ..
    s_change_t *changes;
    size_t head, count, cap;
    //  Their bytes, one after another: arena [0 ..) holds offsets arena_lo
    //  .. arena_hi (offsets only grow while anything is buffered), so a
    //  change costs a copy, not an allocation, and an acknowledged one
    //  costs nothing
    char *arena;
    uint64_t arena_lo, arena_hi;
    size_t arena_cap;
    size_t released;            //  bytes given back since the last malloc_trim
    uint64_t dropped;
    zhashx_t *entries;          //  name -> s_entry_t
    char *node_bytes;           //  packed node info as last reported
    size_t node_size;
    sf_streamset_t last;        //  last good state from the source
    bool have_last;
    bool failing;
    int64_t started_at;         //  unix seconds, for the node record
    bool snap_waits;            //  a snapshot is owed but the source has not read a good state
    //  Flow control (docs/protocol.md, "Flow control"; sf_codec.h): every
    //  message is stamped "n" (tx_n, rising for the life of the process);
    //  rx_n is the highest stamp the controller said it read. At most
    //  SF_AGENT_WINDOW batches or snapshot chunks and SF_AGENT_WINDOW_CTL
    //  heartbeats more are in flight, so the controller's pipe from us
    //  never fills (libzmq 4.3.4 aborts on a stopped input that then fails)
    uint64_t tx_n, rx_n;
    bool peer_window;           //  the controller said what it read: it keeps the window open
    uint64_t drops;             //  the connection's drops seen (sf_conndiag_drops)
    //  The snapshot's chunks, packed at once (their seqs are taken) and
    //  sent as the window allows, before any batch; [out_next .. out_count)
    //  are still to go, their "n" patched in at n_at when they do
    s_chunk_t *outbox;
    size_t out_count, out_next;
    size_t out_total;           //  placements in the snapshot, for the log
    msgpack_sbuffer sbuf;
    msgpack_sbuffer pack;
    msgpack_sbuffer delta;      //  a patch being made (s_diff)
    //  The controller said in its answer to our hello that it takes patches;
    //  until one has, changes go whole
    bool peer_patch;
    //  ... and that it counts heartbeats as they arrive ("beats"): they go
    //  outside the window, unstamped, however far behind its reading is
    bool peer_beats;
    msgpack_sbuffer hello;      //  the hello of this connection, until it is queued
    bool hello_pending;
    int64_t retry_at_ms;        //  S_WAIT: when to say hello again
    int hello_misses;           //  hellos in a row that went unanswered (back-off)
    int64_t silence_ms;         //  the silence that made us fail over, for the hint
    bool slow_said;             //  "connected but slow" logged for this silence
    int64_t hb_held_ms;         //  since when the window holds heartbeats back (0: it does not)
    bool hb_held_said;
    sf_msg_t msg;
    sf_ratelimit_t rl;
} s_agent_t;

//  ---------------------------------------------------------------------------
//  Generation: persisted, and never lower than the clock, so it rises at every
//  start even when the state directory was lost.

static int
s_generation (s_agent_t *a, uint64_t floor)
{
    char path [600], tmp [610];
    snprintf (path, sizeof (path), "%s/generation", a->cfg->state_dir);
    snprintf (tmp, sizeof (tmp), "%s.tmp", path);
    if (zsys_dir_create ("%s", a->cfg->state_dir)) {
        sf_error ("cannot create state directory %s: %s", a->cfg->state_dir, strerror (errno));
        return -1;
    }
    uint64_t old = 0;
    FILE *f = fopen (path, "r");
    if (f) {
        if (fscanf (f, "%lu", &old) != 1)
            old = 0;
        fclose (f);
    }
    uint64_t now = (uint64_t) time (NULL);
    if (old < floor)
        old = floor;
    a->gen = old + 1 > now ? old + 1 : now;
    f = fopen (tmp, "w");
    if (!f || fprintf (f, "%lu\n", a->gen) < 0 || fflush (f) || fsync (fileno (f))) {
        sf_error ("cannot write %s: %s", tmp, strerror (errno));
        if (f)
            fclose (f);
        return -1;
    }
    fclose (f);
    if (rename (tmp, path)) {
        sf_error ("cannot rename %s to %s: %s", tmp, path, strerror (errno));
        return -1;
    }
    return 0;
}

//  ---------------------------------------------------------------------------
//  Change buffer

static s_change_t *
s_change_at (s_agent_t *a, uint64_t seq)
{
    if (a->count == a->head)
        return NULL;
    uint64_t first = a->changes [a->head].seq;
    if (seq < first || seq - first >= a->count - a->head)
        return NULL;
    return &a->changes [a->head + (seq - first)];
}

static const char *
s_change_bytes (const s_agent_t *a, const s_change_t *c)
{
    return a->arena + (c->off - a->arena_lo);
}

//  What a drained buffer keeps: a burst (a controller away for a while, a
//  snapshot's worth of changes) grows it; once everything is acknowledged
//  the memory goes back, to the allocator and, trimmed, to the system
#define S_KEEP_CHANGES 4096
#define S_KEEP_ARENA (256 * 1024)
#define S_TRIM_AFTER (1024 * 1024)

static void
s_buffer_drained (s_agent_t *a)
{
    a->head = a->count = 0;
    a->arena_lo = a->arena_hi = 0;
    if (a->cap > S_KEEP_CHANGES) {
        a->released += (a->cap - S_KEEP_CHANGES) * sizeof (s_change_t);
        a->changes = sf_xreallocarray (a->changes, S_KEEP_CHANGES, sizeof (s_change_t));
        a->cap = S_KEEP_CHANGES;
    }
    if (a->arena_cap > S_KEEP_ARENA) {
        a->released += a->arena_cap - S_KEEP_ARENA;
        a->arena = sf_xrealloc (a->arena, S_KEEP_ARENA);
        a->arena_cap = S_KEEP_ARENA;
    }
    if (a->sbuf.alloc > S_KEEP_ARENA) {
        //  A snapshot's chunk buffer, once the snapshot is out
        a->released += a->sbuf.alloc;
        msgpack_sbuffer_destroy (&a->sbuf);
        msgpack_sbuffer_init (&a->sbuf);
    }
    if (a->released >= S_TRIM_AFTER) {
        malloc_trim (0);
        sf_info ("change buffer drained: %zu KiB given back", a->released >> 10);
        a->released = 0;
    }
}

static void
s_buffer_drop_to (s_agent_t *a, uint64_t seq)
{
    while (a->head < a->count && a->changes [a->head].seq <= seq)
        a->head++;
    if (a->head == a->count)
        s_buffer_drained (a);
}

static void
s_buffer_clear (s_agent_t *a)
{
    s_buffer_drop_to (a, UINT64_MAX);
}

static void
s_buffer_add (s_agent_t *a, char kind, const void *bytes, size_t size)
{
    //  Compact when the dead front is half the array
    if (a->head && a->head >= a->cap / 2) {
        memmove (a->changes, a->changes + a->head, (a->count - a->head) * sizeof (s_change_t));
        a->count -= a->head;
        a->head = 0;
    }
    if (a->count == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        a->changes = sf_xreallocarray (a->changes, cap, sizeof (s_change_t));
        a->cap = cap;
    }
    //  The arena likewise: acknowledged bytes at its front go when they are
    //  half of it, then it grows when it must
    uint64_t live = a->head < a->count ? a->changes [a->head].off : a->arena_hi;
    size_t dead = (size_t) (live - a->arena_lo), used = (size_t) (a->arena_hi - a->arena_lo);
    if (dead && dead >= used / 2) {
        memmove (a->arena, a->arena + dead, used - dead);
        a->arena_lo = live;
        used -= dead;
    }
    if (used + size > a->arena_cap) {
        size_t cap = a->arena_cap ? a->arena_cap : 65536;
        while (cap < used + size)
            cap *= 2;
        a->arena = sf_xrealloc (a->arena, cap);
        a->arena_cap = cap;
    }
    memcpy (a->arena + used, bytes, size);
    s_change_t *c = &a->changes [a->count++];
    c->seq = ++a->seq;
    c->kind = kind;
    c->size = (uint32_t) size;
    c->off = a->arena_hi;
    a->arena_hi += size;
    //  Bounded: the oldest go, and a gap will bring a snapshot
    if (a->count - a->head > (size_t) a->cfg->buffer_max) {
        a->head++;
        if (a->dropped++ == 0)
            sf_warn ("change buffer full (%lld changes): dropping the oldest; "
                     "the controller will get a snapshot", (long long) a->cfg->buffer_max);
    }
}

//  Whether a change after seq in the buffer is a patch
static bool
s_patches_after (s_agent_t *a, uint64_t seq)
{
    for (size_t i = a->head; i < a->count; i++)
        if (a->changes [i].seq > seq && a->changes [i].kind == 'a')
            return true;
    return false;
}

//  ---------------------------------------------------------------------------
//  Diffing source states into changes

static void
s_entry_free (void **item)
{
    s_entry_t *e = *item;
    if (e) {
        free (e->bytes);
        free (e);
        *item = NULL;
    }
}

static void
s_node_info (s_agent_t *a, const sf_streamset_t *set, sf_node_t *n)
{
    if (set && set->has_node)
        *n = set->node;
    else
        sf_node_init (n);
    const sf_agent_config_t *cfg = a->cfg;
    SF_STRSET (n->id, cfg->node);
    if (!n->addr_internal [0]) SF_STRSET (n->addr_internal, cfg->addr_internal);
    if (!n->addr_external [0]) SF_STRSET (n->addr_external, cfg->addr_external);
    if (!n->group [0]) SF_STRSET (n->group, cfg->group);
    if (!n->max_primary_streams) n->max_primary_streams = (uint32_t) cfg->max_primary_streams;
    if (!n->max_in_kbps) n->max_in_kbps = (uint32_t) cfg->max_in_kbps;
    if (!n->rtsp_template [0]) SF_STRSET (n->rtsp_template, cfg->rtsp_template);
    if (!n->hls_template [0]) SF_STRSET (n->hls_template, cfg->hls_template);
    if (!n->rtmp_template [0]) SF_STRSET (n->rtmp_template, cfg->rtmp_template);
    if (!n->rtsp_dvr_template [0]) SF_STRSET (n->rtsp_dvr_template, cfg->rtsp_dvr_template);
    if (!n->hls_dvr_template [0]) SF_STRSET (n->hls_dvr_template, cfg->hls_dvr_template);
    if (!n->software_version [0]) SF_STRSET (n->software_version, S_VERSION);
    if (!n->started_at) n->started_at = a->started_at;
}

static void
s_pack_node_static (s_agent_t *a, const sf_node_t *n)
{
    //  Usage travels in heartbeats; the node record changes only with its info
    sf_node_t info = *n;
    info.cpu_pct = 0;
    info.mem_used_bytes = info.mem_total_bytes = 0;
    info.in_kbps = info.out_kbps = 0;
    info.ndisks = 0;
    info.heartbeat = 0;
    info.version.gen = info.version.seq = 0;
    msgpack_sbuffer_clear (&a->pack);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &a->pack, msgpack_sbuffer_write);
    sf_node_pack (&pk, &info, 0);
}

//  One placement of the state against what we last reported of it: a
//  change (put or patch) when its bytes differ. 1 when it was a change.
static size_t
s_diff_one (s_agent_t *a, sf_stream_t *s, size_t index)
{
    msgpack_packer pk;
    msgpack_packer_init (&pk, &a->pack, msgpack_sbuffer_write);
    SF_STRSET (s->node, a->cfg->node);
    s->version.gen = s->version.seq = 0;
    s->transfer = false;
    s->migrated_to [0] = 0;
    s_entry_t *e = zhashx_lookup (a->entries, s->name);
    if (e && e->seen)
        return 0;                   //  a source that reports a name twice: first wins
    //  Every change carries the wall-clock time it was seen (unless the
    //  source knows better): the controller's migration events take their
    //  times from the records, so every controller derives the same ones.
    //  Compare with the previous stamp so that the stamp alone is no change.
    bool stamp = s->changed_at_ms == 0;
    if (stamp)
        s->changed_at_ms = e ? e->changed_at_ms : 0;
    msgpack_sbuffer_clear (&a->pack);
    sf_stream_pack (&pk, s, SF_ENC_FULL);
    if (e && e->size == a->pack.size && memcmp (e->bytes, a->pack.data, e->size) == 0) {
        e->seen = true;
        e->index = index;
        return 0;
    }
    if (stamp) {
        s->changed_at_ms = sf_now_ms ();
        msgpack_sbuffer_clear (&a->pack);
        sf_stream_pack (&pk, s, SF_ENC_FULL);
    }
    //  A placement the controller has seen goes as a patch of the fields
    //  that changed (docs/protocol.md, "patch"), when that is smaller
    bool patched = false;
    if (e && a->peer_patch) {
        msgpack_sbuffer_clear (&a->delta);
        msgpack_packer dp;
        msgpack_packer_init (&dp, &a->delta, msgpack_sbuffer_write);
        int n = sf_stream_diff (&dp, e->bytes, e->size, a->pack.data, a->pack.size);
        patched = n > 0 && a->delta.size < a->pack.size;
    }
    if (!e) {
        e = sf_xcalloc (1, sizeof (*e));
        zhashx_insert (a->entries, s->name, e);
    }
    //  The entry's buffer is reused: a changed placement costs a copy
    //  of its bytes, an allocation only when it outgrows what it had
    if (e->cap < a->pack.size) {
        e->cap = a->pack.size + 64;
        e->bytes = sf_xrealloc (e->bytes, e->cap);
    }
    memcpy (e->bytes, a->pack.data, a->pack.size);
    e->size = a->pack.size;
    e->changed_at_ms = s->changed_at_ms;
    e->seen = true;
    e->index = index;
    if (patched)
        s_buffer_add (a, 'a', a->delta.data, a->delta.size);
    else
        s_buffer_add (a, 'p', e->bytes, e->size);
    e->seq = a->seq;
    return 1;
}

//  The node record, when its info changed
static size_t
s_diff_node (s_agent_t *a, const sf_streamset_t *set)
{
    sf_node_t n;
    s_node_info (a, set, &n);
    s_pack_node_static (a, &n);
    if (a->node_size != a->pack.size || !a->node_bytes
    ||  memcmp (a->node_bytes, a->pack.data, a->pack.size) != 0) {
        char *copy = sf_xmalloc (a->pack.size);
        memcpy (copy, a->pack.data, a->pack.size);
        free (a->node_bytes);
        a->node_bytes = copy;
        a->node_size = a->pack.size;
        s_buffer_add (a, 'n', copy, a->node_size);
        return 1;
    }
    return 0;
}

//  A partial state (sf_source.h) merged into a->last: gone names first,
//  then the placements that changed, each diffed alone. The rest of
//  a->last is what we reported before, and is not touched.
static size_t
s_merge (s_agent_t *a, sf_streamset_t *set)
{
    size_t changes = 0;
    for (size_t i = 0; i < set->ngone; i++) {
        s_entry_t *e = zhashx_lookup (a->entries, set->gone [i]);
        if (!e)
            continue;
        size_t at = e->index, moved = a->last.count - 1;
        if (at < a->last.count && strcmp (a->last.items [at].name, set->gone [i]) == 0) {
            sf_streamset_remove (&a->last, at);
            //  The last one moved into its place
            s_entry_t *m = at < moved ? zhashx_lookup (a->entries, a->last.items [at].name) : NULL;
            if (m && m->index == moved)
                m->index = at;
        }
        s_buffer_add (a, 'd', set->gone [i], strlen (set->gone [i]));
        zhashx_delete (a->entries, set->gone [i]);
        changes++;
    }
    for (size_t i = 0; i < set->count; i++) {
        sf_stream_t *s = &set->items [i];
        s_entry_t *e = zhashx_lookup (a->entries, s->name);
        size_t at;
        if (e && e->index < a->last.count && strcmp (a->last.items [e->index].name, s->name) == 0) {
            at = e->index;
            sf_stream_clear (&a->last.items [at]);
            a->last.items [at] = *s;
            sf_stream_init (s);
        }
        else {
            at = a->last.count;
            sf_streamset_take (&a->last, s);
        }
        if (e)
            e->seen = false;        //  compared again below
        changes += s_diff_one (a, &a->last.items [at], at);
    }
    a->last.node = set->node;
    a->last.has_node = set->has_node;
    changes += s_diff_node (a, &a->last);
    return changes;
}

static size_t
s_diff (s_agent_t *a, sf_streamset_t *set)
{
    size_t changes = 0;
    for (s_entry_t *e = zhashx_first (a->entries); e; e = zhashx_next (a->entries))
        e->seen = false;
    for (size_t i = 0; i < set->count; i++)
        changes += s_diff_one (a, &set->items [i], i);
    //  Names no longer reported are deleted (a list only when there are any)
    size_t seen = 0;
    for (s_entry_t *e = zhashx_first (a->entries); e; e = zhashx_next (a->entries))
        seen += e->seen;
    if (seen < zhashx_size (a->entries)) {
        zlistx_t *gone = zlistx_new ();
        for (s_entry_t *e = zhashx_first (a->entries); e; e = zhashx_next (a->entries))
            if (!e->seen)
                zlistx_add_end (gone, (void *) zhashx_cursor (a->entries));
        for (const char *name = zlistx_first (gone); name; name = zlistx_next (gone)) {
            s_buffer_add (a, 'd', name, strlen (name));
            zhashx_delete (a->entries, name);
            changes++;
        }
        zlistx_destroy (&gone);
    }
    changes += s_diff_node (a, set);
    return changes;
}

//  ---------------------------------------------------------------------------
//  Network

//  The stamp of the next message sent, as a field (the map counts it)
static void
s_pack_stamp (s_agent_t *a, msgpack_packer *pk)
{
    sf_pack_str (pk, "n");
    msgpack_pack_uint64 (pk, a->tx_n + 1);
}

//  Whether the window lets one more message go: data (a batch or a chunk)
//  or control (a heartbeat). Before the controller has answered our hello
//  heartbeats are held to the control window too; a controller that does
//  not tell what it read (an older one) sets no window after its answer.
static bool
s_window_open (s_agent_t *a, bool data)
{
    if (a->diag) {
        //  A connection that dropped took what was queued for it: nothing
        //  of it is in flight any more
        uint64_t drops = sf_conndiag_drops (a->diag);
        if (drops != a->drops) {
            a->drops = drops;
            a->rx_n = a->tx_n;
        }
    }
    if (!a->peer_window && a->state != S_HELLO)
        return true;
    uint64_t in_flight = a->tx_n - a->rx_n;
    return in_flight < (uint64_t) (data ? SF_AGENT_WINDOW : SF_AGENT_WINDOW + SF_AGENT_WINDOW_CTL);
}

static int
s_send_buf (s_agent_t *a, msgpack_sbuffer *buf)
{
    if (!a->sock)
        return -1;
    int rc = zmq_send (zsock_resolve (a->sock), buf->data, buf->size, ZMQ_DONTWAIT);
    if (rc < 0)
        return -1;
    a->tx_n++;
    return 0;
}

static void
s_outbox_clear (s_agent_t *a)
{
    for (size_t i = 0; i < a->out_count; i++)
        free (a->outbox [i].data);
    free (a->outbox);
    a->outbox = NULL;
    a->out_count = a->out_next = a->out_total = 0;
}

static void
s_disconnect (s_agent_t *a)
{
    sf_conndiag_destroy (&a->diag);
    zsock_destroy (&a->sock);
    a->state = S_DISCONNECTED;
    a->slow_said = false;
    s_outbox_clear (a);
    a->snap_waits = false;
}

//  Queues the connection's hello if the connection is up; never blocks
static void
s_send_hello (s_agent_t *a)
{
    if (!a->sock || !a->hello_pending)
        return;
    //  Stamped when it goes: the stamps rise in the order sent
    msgpack_sbuffer_clear (&a->sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &a->sbuf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "hello", 5);
    s_pack_stamp (a, &pk);
    msgpack_sbuffer_write (&a->sbuf, a->hello.data, a->hello.size);
    if (s_send_buf (a, &a->sbuf))
        return;
    a->hello_pending = false;
    sf_debug ("hello sent to %s (generation %lu, seq %lu)", a->endpoints [a->current], a->gen, a->seq);
}

//  Packs this connection's hello (sent by the main loop once it can be)
static void
s_hello_pack (s_agent_t *a)
{
    msgpack_sbuffer_clear (&a->hello);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &a->hello, msgpack_sbuffer_write);
    //  Its fields but the stamp (s_send_hello puts the envelope and it first)
    sf_pack_kstr (&pk, "node", a->cfg->node);
    sf_pack_ku64 (&pk, "gen", a->gen);
    sf_pack_ku64 (&pk, "seq", a->seq);
    sf_pack_kstr (&pk, "software_version", S_VERSION);
    a->state = S_HELLO;
    a->peer_window = false;     //  until its answer says
    a->peer_beats = false;
}

static int
s_connect (s_agent_t *a)
{
    s_disconnect (a);
    const char *ep = a->endpoints [a->current];
    char err [512];
    a->sock = zsock_new (ZMQ_DEALER);
    if (!a->sock || sf_sock_curve_client (a->sock, a->cert, a->cfg->server_cert, err, sizeof (err))) {
        sf_error ("%s", a->sock ? err : "cannot create a socket");
        zsock_destroy (&a->sock);
        return -1;
    }
    zsock_set_linger (a->sock, 0);
    zsock_set_sndhwm (a->sock, 1000);
    //  Nothing queues for a connection that is not up: the change buffer is
    //  the only buffer, and it is bounded (--buffer-max)
    zsock_set_immediate (a->sock, 1);
    //  Told apart from a slow one by the transport: libzmq's I/O thread
    //  answers PINGs however busy the controller's threads are, so a
    //  connection that stays up means a live controller (s_silence_limit).
    //  Twice the silence limit: on a saturated host that I/O thread too
    //  waits for a CPU, and the soak saw busy controllers' connections time
    //  out at 3 s and their agents fail over, each a snapshot more for the
    //  next controller. A dead process still drops the connection at once
    //  (its TCP connection closes); only a host gone silent takes this long.
    zsock_set_heartbeat_ivl (a->sock, S_ZMTP_HEARTBEAT_MS);
    zsock_set_heartbeat_timeout (a->sock, (int) (2 * a->cfg->controller_timeout_ms));
    //  Watch the connection, so that a controller that does not answer is
    //  told apart: nothing listening, a handshake that never completes (the
    //  wrong --server-cert), or our certificate refused (proto/conndiag.c)
    a->diag = sf_conndiag_new (a->sock);
    if (zsock_connect (a->sock, "%s", ep)) {
        sf_error ("cannot connect to controller endpoint '%s' (check --controllers)", ep);
        zsock_destroy (&a->sock);
        return -1;
    }
    s_hello_pack (a);
    a->rx_n = a->tx_n;          //  nothing in flight on a new socket
    a->drops = 0;
    a->last_rx_ms = sf_mono_ms ();
    a->connected_ms = a->last_rx_ms;
    //  The connection is not up yet: the main loop sends the hello once it
    //  is (POLLOUT). A blocking send here would never return from a dead or
    //  refusing controller, and failover would never happen.
    a->hello_pending = true;
    s_send_hello (a);
    return 0;
}

//  Reads what the monitor says happened to the connection; never blocks
static sf_conn_state_t
s_monitor_drain (s_agent_t *a)
{
    return a->diag ? sf_conndiag_state (a->diag) : SF_CONN_UNKNOWN;
}

//  Why a controller did not answer our hello, from what the monitor saw;
//  the likely causes in order
static const char *
s_hello_hint (s_agent_t *a, char *buf, size_t size)
{
    sf_conn_state_t state = s_monitor_drain (a);
    const char *ep = a->endpoints [a->current];
    uint32_t detail = a->diag ? sf_conndiag_detail (a->diag) : 0;
    switch (state) {
        case SF_CONN_NOT_ADMITTED:
            snprintf (buf, size, "refused our certificate (ZAP status %u): the certificate of node "
                      "'%s' (%s) is not admitted in the controller's --certs-dir", detail,
                      a->cfg->node, a->cfg->cert);
            break;
        case SF_CONN_UNKNOWN:
        case SF_CONN_NOTHING_LISTENS:
            snprintf (buf, size, "could not be reached%s: the controller is down or unreachable, or "
                      "--controllers names the wrong address (%s)",
                      state == SF_CONN_NOTHING_LISTENS ? " (connection refused or failed)"
                                                       : " (no TCP connection)", ep);
            break;
        case SF_CONN_CONNECTED:
            snprintf (buf, size, "took the TCP connection but never answered the CurveZMQ handshake "
                      "in %lld ms: the controller is stalled or overloaded (see its log and /metrics)",
                      (long long) a->silence_ms);
            break;
        case SF_CONN_HANDSHAKE_STALLED:
        case SF_CONN_PROTOCOL:
            snprintf (buf, size, "took the TCP connection but the CurveZMQ handshake never completed%s: "
                      "most likely --server-cert (%s) is not that controller's certificate; else our "
                      "certificate is not admitted in its --certs-dir",
                      state == SF_CONN_PROTOCOL || detail ? " (protocol error)" : "",
                      a->cfg->server_cert);
            break;
        case SF_CONN_UP:
            snprintf (buf, size, "completed the handshake but did not answer our hello in %lld ms: "
                      "the controller is stalled or overloaded (see its log and /metrics)",
                      (long long) a->silence_ms);
            break;
    }
    return buf;
}

//  How long a controller may stay silent. A hello waits longer after each
//  one in a row that went unanswered (2x, up to 30 s): an overloaded
//  controller reads it behind a deep queue, and hopping between equally
//  busy controllers every few seconds only starts the hello, and the
//  snapshot after it, over and over (the soak saw restarted agents never
//  land one). The first hello keeps --controller-timeout-ms.
static int64_t
s_silence_limit (s_agent_t *a)
{
    int64_t limit = a->cfg->controller_timeout_ms;
    if (a->state == S_HELLO)
        for (int i = 0; i < a->hello_misses && limit < S_SLOW_LIMIT_MS; i++)
            limit = limit * 2 > S_SLOW_LIMIT_MS ? S_SLOW_LIMIT_MS : limit * 2;
    else if (a->diag && sf_conndiag_up (a->diag) && limit < S_SLOW_LIMIT_MS) {
        //  Streaming, or waiting, on a connection that is alive: the
        //  controller is slow, not gone. Failing over at the usual limit is
        //  how twenty agents ping-ponged between two loaded controllers,
        //  each move a whole snapshot more for the other (make soak)
        if (!a->slow_said && sf_mono_ms () - a->last_rx_ms > limit) {
            sf_log_limited (&a->rl, SF_LOG_WARN, "controller %s has not answered for %lld ms but its "
                            "connection is alive: it is overloaded; waiting up to %d ms before "
                            "failing over", a->endpoints [a->current],
                            (long long) (sf_mono_ms () - a->last_rx_ms), S_SLOW_LIMIT_MS);
            a->slow_said = true;
        }
        limit = S_SLOW_LIMIT_MS;
    }
    return limit;
}

static void
s_failover (s_agent_t *a, const char *why)
{
    const char *ep = a->endpoints [a->current];
    a->current = (a->current + 1) % a->nendpoints;
    sf_log_limited (&a->rl, SF_LOG_WARN, "controller %s %s; trying %s", ep, why,
                    a->endpoints [a->current]);
    s_connect (a);
}

//  Sends the snapshot's chunks that are left, as far as the window and the
//  socket let them; true once none is left
static bool
s_send_outbox (s_agent_t *a)
{
    while (a->out_next < a->out_count) {
        if (!a->sock || !s_window_open (a, true))
            return false;
        s_chunk_t *c = &a->outbox [a->out_next];
        uint64_t n = a->tx_n + 1;
        for (int i = 0; i < 8; i++)
            c->data [c->n_at + (size_t) i] = (char) (n >> (56 - 8 * i));
        if (zmq_send (zsock_resolve (a->sock), c->data, c->size, ZMQ_DONTWAIT) < 0)
            return false;           //  not connected now: later
        a->tx_n++;
        a->out_next++;
    }
    if (a->out_count) {
        sf_info ("snapshot sent to %s: %zu placements at generation %lu, seq %lu",
                 a->endpoints [a->current], a->out_total, a->gen, a->seq);
        s_outbox_clear (a);
    }
    return true;
}

//  Never a snapshot of a state we have not read: until the source has
//  produced a good state, the snapshot waits (heartbeats say stale, and the
//  controller keeps the node's last placements) and is sent with the first one.
//  The chunks are packed at once, with their seqs, and go as the window
//  allows (s_send_outbox); a snapshot asked for again replaces one still
//  going (the controller drops an unfinished one when chunk 0 of the next
//  arrives).
static void
s_send_snapshot (s_agent_t *a)
{
    if (!a->have_last) {
        if (!a->snap_waits)
            sf_warn ("source %s has not produced a good state yet: the snapshot for %s waits for "
                     "it (the node is reported stale; its placements there are kept)",
                     a->ops->name, a->endpoints [a->current]);
        a->snap_waits = true;
        return;
    }
    a->snap_waits = false;
    s_outbox_clear (a);
    size_t total = zhashx_size (a->entries);
    s_entry_t **all = sf_xcalloc (total, sizeof (s_entry_t *));
    size_t k = 0;
    for (s_entry_t *e = zhashx_first (a->entries); e && k < total; e = zhashx_next (a->entries))
        all [k++] = e;
    //  Every record of a snapshot is a fresh change with its own seq, so that
    //  every stored record has a distinct version (gossip orders by it).
    uint64_t first = a->seq + 1;
    uint64_t end = a->seq + total + (a->node_bytes ? 1 : 0);
    size_t done = 0, index = 0, cap = 0;
    do {
        size_t n = 0, bytes = 0;
        while (done + n < total && n < S_SNAP_CHUNK_RECORDS && bytes < S_SNAP_CHUNK_BYTES)
            bytes += all [done + n++]->size;
        bool last = done + n >= total;
        bool with_node = last && a->node_bytes;
        msgpack_sbuffer_clear (&a->sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &a->sbuf, msgpack_sbuffer_write);
        sf_msg_begin (&pk, "snap", 6);
        //  The stamp first, in its 9-byte form, patched in when it goes
        sf_pack_str (&pk, "n");
        size_t n_at = a->sbuf.size + 1;
        msgpack_pack_fix_uint64 (&pk, 0);
        sf_pack_ku64 (&pk, "gen", a->gen);
        sf_pack_ku64 (&pk, "seq", end);
        sf_pack_ku64 (&pk, "index", index);
        sf_pack_kbool (&pk, "last", last);
        sf_pack_str (&pk, "changes");
        msgpack_pack_array (&pk, n + (with_node ? 1 : 0));
        for (size_t i = 0; i < n; i++) {
            msgpack_pack_map (&pk, 2);
            sf_pack_ku64 (&pk, "seq", first + done + i);
            sf_pack_str (&pk, "put");
            msgpack_sbuffer_write (&a->sbuf, all [done + i]->bytes, all [done + i]->size);
        }
        if (with_node) {
            msgpack_pack_map (&pk, 2);
            sf_pack_ku64 (&pk, "seq", end);
            sf_pack_str (&pk, "node");
            msgpack_sbuffer_write (&a->sbuf, a->node_bytes, a->node_size);
        }
        if (a->out_count == cap) {
            cap = cap ? cap * 2 : 16;
            a->outbox = sf_xreallocarray (a->outbox, cap, sizeof (s_chunk_t));
        }
        s_chunk_t *c = &a->outbox [a->out_count++];
        c->size = a->sbuf.size;
        c->data = sf_xmalloc (c->size);
        memcpy (c->data, a->sbuf.data, c->size);
        c->n_at = n_at;
        done += n;
        index++;
    } while (done < total);
    a->out_total = total;
    a->seq = end;
    for (size_t i = 0; i < total; i++)
        all [i]->seq = first + i;
    free (all);
    a->sent = a->seq;
    s_buffer_clear (a);
    s_send_outbox (a);
}

//  Sends batches of buffered changes after a->sent, until the socket pushes back
static void
s_pump (s_agent_t *a)
{
    if (a->state != S_STREAMING || a->snap_waits)
        return;
    //  Changes wait behind the snapshot they would otherwise overtake
    if (!s_send_outbox (a))
        return;
    while (a->sent < a->seq && s_window_open (a, true)) {
        s_change_t *c = s_change_at (a, a->sent + 1);
        if (!c) {
            //  The buffer lost changes the controller has not seen
            s_send_snapshot (a);
            return;
        }
        size_t avail = (a->count - a->head) - (size_t) (c - &a->changes [a->head]);
        size_t n = avail < (size_t) a->cfg->batch_max ? avail : (size_t) a->cfg->batch_max;
        msgpack_sbuffer_clear (&a->sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &a->sbuf, msgpack_sbuffer_write);
        sf_msg_begin (&pk, "batch", 3);
        s_pack_stamp (a, &pk);
        sf_pack_ku64 (&pk, "gen", a->gen);
        sf_pack_str (&pk, "changes");
        msgpack_pack_array (&pk, n);
        for (size_t i = 0; i < n; i++) {
            msgpack_pack_map (&pk, 2);
            sf_pack_ku64 (&pk, "seq", c [i].seq);
            if (c [i].kind == 'd') {
                sf_pack_str (&pk, "del");
                msgpack_pack_str (&pk, c [i].size);
                msgpack_pack_str_body (&pk, s_change_bytes (a, &c [i]), c [i].size);
            }
            else {
                sf_pack_str (&pk, c [i].kind == 'p' ? "put" : c [i].kind == 'a' ? "patch" : "node");
                msgpack_sbuffer_write (&a->sbuf, s_change_bytes (a, &c [i]), c [i].size);
            }
        }
        if (s_send_buf (a, &a->sbuf))
            return;                 //  pushed back: try again later
        a->sent = c [n - 1].seq;
    }
}

static void
s_heartbeat (s_agent_t *a)
{
    //  A controller that has not read our last ones is not short of one
    if (!a->sock)
        return;
    //  Outside the window: counted as it arrives, and read or not, nothing
    //  of it waits in the controller (sf_agentio.h)
    bool free_beat = a->peer_beats && a->state != S_HELLO;
    if (!free_beat && !s_window_open (a, false)) {
        int64_t now = sf_mono_ms ();
        if (!a->hb_held_ms)
            a->hb_held_ms = now;
        else if (now - a->hb_held_ms >= 3000 && !a->hb_held_said) {
            sf_log_limited (&a->rl, SF_LOG_WARN, "controller %s has read none of our last %lu messages "
                            "for %.1f s: heartbeats wait for it (it may report this node suspect)",
                            a->endpoints [a->current], (unsigned long) (a->tx_n - a->rx_n),
                            (double) (now - a->hb_held_ms) / 1000.0);
            a->hb_held_said = true;
        }
        return;
    }
    a->hb_held_ms = 0;
    a->hb_held_said = false;
    sf_node_t n;
    s_node_info (a, a->have_last ? &a->last : NULL, &n);
    msgpack_sbuffer_clear (&a->sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &a->sbuf, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "hb", free_beat ? 5 : 6);
    if (!free_beat)
        s_pack_stamp (a, &pk);
    sf_pack_ku64 (&pk, "gen", a->gen);
    //  Stale: what the controller holds of us is not our media server's
    //  state now (no good read yet, or the source is failing)
    sf_pack_kbool (&pk, "stale", !a->have_last || a->failing);
    sf_pack_ku64 (&pk, "seq", a->seq);
    sf_pack_ku64 (&pk, "counter", ++a->hb_counter);
    sf_pack_str (&pk, "usage");
    sf_usage_pack (&pk, &n);
    if (free_beat)
        zmq_send (zsock_resolve (a->sock), a->sbuf.data, a->sbuf.size, ZMQ_DONTWAIT);
    else
        s_send_buf (a, &a->sbuf);
}

static void
s_note_acked (s_agent_t *a, uint64_t seq)
{
    if (seq > a->acked_by [a->current])
        a->acked_by [a->current] = seq;
}

//  At stop: what each controller acknowledged of this generation, and the
//  newest acknowledged change of a placement we still hold (its version must
//  be on every controller once they converge: make soak checks it)
static void
s_log_acked (s_agent_t *a)
{
    uint64_t acked = 0, newest = 0;
    char by [1024] = "";
    size_t len = 0;
    for (int i = 0; i < a->nendpoints; i++) {
        if (a->acked_by [i] > acked)
            acked = a->acked_by [i];
        int n = snprintf (by + len, sizeof (by) - len, "%s%s seq %lu", i ? ", " : "",
                          a->endpoints [i], (unsigned long) a->acked_by [i]);
        if (n > 0 && (size_t) n < sizeof (by) - len)
            len += (size_t) n;
    }
    for (s_entry_t *e = a->entries ? zhashx_first (a->entries) : NULL; e; e = zhashx_next (a->entries))
        if (e->seq <= acked && e->seq > newest)
            newest = e->seq;
    sf_info ("agent stopping: generation %lu, seq %lu; acknowledged: %s; newest acknowledged "
             "placement change held: seq %lu", (unsigned long) a->gen, (unsigned long) a->seq, by,
             (unsigned long) newest);
}

static void
s_on_message (s_agent_t *a, zframe_t *frame)
{
    int64_t now = sf_mono_ms ();
    if (a->slow_said) {
        sf_info ("controller %s answered again after %lld ms", a->endpoints [a->current],
                 (long long) (now - a->last_rx_ms));
        a->slow_said = false;
    }
    a->last_rx_ms = now;
    if (sf_msg_parse (&a->msg, zframe_data (frame), zframe_size (frame))) {
        sf_log_limited (&a->rl, SF_LOG_WARN, "unreadable message from controller: %s", a->msg.error);
        return;
    }
    const char *t = a->msg.type;
    //  What the controller read of ours (an ack's or a credit's "read"):
    //  the window opens by it
    uint64_t read = 0;
    if ((strcmp (t, "ack") == 0 || strcmp (t, "credit") == 0)
    &&  sf_map_u64 (a->msg.body, "read", &read, NULL) == 0) {
        if (read > a->tx_n)
            read = a->tx_n;
        if (read > a->rx_n)
            a->rx_n = read;
        if (strcmp (t, "ack") == 0 && a->state == S_HELLO)
            a->peer_window = true;
    }
    if (strcmp (t, "ack") == 0) {
        uint64_t gen = 0, seq = 0;
        if (sf_map_u64 (a->msg.body, "gen", &gen, NULL) || sf_map_u64 (a->msg.body, "seq", &seq, NULL))
            return;
        if (a->state == S_HELLO) {
            a->hello_misses = 0;
            bool takes = false;
            a->peer_patch = sf_map_bool (a->msg.body, "patch", &takes, NULL) == 0 && takes;
            takes = false;
            a->peer_beats = sf_map_bool (a->msg.body, "beats", &takes, NULL) == 0 && takes;
            if (gen > a->gen) {
                //  The controller knows a newer generation of ours than we
                //  do: our state was lost. Jump past it and start afresh.
                sf_warn ("controller has generation %lu of node %s, newer than ours (%lu): "
                         "moving past it", gen, a->cfg->node, a->gen);
                if (s_generation (a, gen))
                    sf_error ("the new generation could not be persisted");
                a->seq = 0;
                for (int i = 0; i < a->nendpoints; i++)
                    a->acked_by [i] = 0;
                s_buffer_clear (a);
                zhashx_purge (a->entries);
                free (a->node_bytes);
                a->node_bytes = NULL;
                if (a->have_last)
                    s_diff (a, &a->last);
            }
            a->state = S_STREAMING;
            //  Alive from now on, not from the next heartbeat tick
            s_heartbeat (a);
            //  Patches waiting to be resent need a controller that takes them
            if (gen == a->gen && (seq == a->seq || s_change_at (a, seq + 1))
            &&  (a->peer_patch || !s_patches_after (a, seq))) {
                s_buffer_drop_to (a, seq);
                a->acked = a->sent = seq;
                s_note_acked (a, seq);
                sf_info ("connected to %s: it has generation %lu up to seq %lu; resending %lu changes",
                         a->endpoints [a->current], gen, seq, a->seq - seq);
            }
            else
                s_send_snapshot (a);
        }
        else if (gen == a->gen && seq > a->acked) {
            a->acked = seq;
            s_note_acked (a, seq);
            s_buffer_drop_to (a, seq);
        }
    }
    else if (strcmp (t, "resync") == 0) {
        char why [128] = "";
        sf_map_str (a->msg.body, "reason", why, sizeof (why) - 1, NULL);
        sf_info ("controller asks for a snapshot (%s)", why);
        //  Waiting after a retry: the hello at its end decides
        if (a->state != S_DISCONNECTED && a->state != S_WAIT) {
            a->state = S_STREAMING;
            s_send_snapshot (a);
        }
    }
    else if (strcmp (t, "retry") == 0) {
        //  Nothing since the last ack was stored (a full disk, too many
        //  snapshots at once, a broken snapshot): wait, then start again
        //  from the hello, which says what the controller holds
        uint64_t after = 1000;
        char why [128] = "";
        sf_map_u64 (a->msg.body, "after_ms", &after, NULL);
        sf_map_str (a->msg.body, "reason", why, sizeof (why) - 1, NULL);
        if (after > 60000)
            after = 60000;
        if (a->state != S_DISCONNECTED) {
            sf_log_limited (&a->rl, SF_LOG_INFO, "controller %s asks us to retry in %llu ms (%s)",
                            a->endpoints [a->current], (unsigned long long) after, why);
            a->state = S_WAIT;
            s_outbox_clear (a);
            a->hello_pending = false;
            a->retry_at_ms = sf_mono_ms () + (int64_t) after;
        }
    }
    else if (strcmp (t, "error") == 0) {
        char code [32] = "", message [256] = "";
        sf_map_str (a->msg.body, "code", code, sizeof (code) - 1, NULL);
        sf_map_str (a->msg.body, "message", message, sizeof (message) - 1, NULL);
        sf_log_limited (&a->rl, SF_LOG_WARN, "controller refused a message (%s): %s", code, message);
    }
}

//  ---------------------------------------------------------------------------
//  Source thread

typedef struct {
    sf_agent_config_t *cfg;
    const sf_source_ops_t *ops;
    atomic_bool failed;         //  set before the handshake: the source could not start
} s_source_args_t;

static void
s_source_actor (zsock_t *pipe, void *args)
{
    //  Named for top -H and perf (the main thread keeps the process's name)
    pthread_setname_np (pthread_self (), "sf-source");
    s_source_args_t *sa = args;
    char err [512] = "";
    sf_source_t *source = sf_source_new (sa->cfg, err, sizeof (err));
    if (!source) {
        sf_error ("source %s: %s", sa->ops->name, err [0] ? err : "cannot start");
        //  zactor_new ignores the handshake's status: say it here
        atomic_store (&sa->failed, true);
        zsock_signal (pipe, 1);
        return;
    }
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, NULL);
    bool first = true;
    size_t last_count = 0;          //  placements the last poll found
    while (true) {
        if (!first) {
            sf_source_wait (source, (int) sa->cfg->poll_interval_ms);
            if (zpoller_wait (poller, sf_source_waits (source) ? 0 : (int) sa->cfg->poll_interval_ms) == pipe) {
                char *cmd = zstr_recv (pipe);
                bool term = !cmd || streq (cmd, "$TERM");
                zstr_free (&cmd);
                if (term)
                    break;
            }
            if (zpoller_terminated (poller))
                break;
        }
        first = false;
        sf_streamset_t *set = sf_xmalloc (sizeof (*set));
        sf_streamset_init (set);
        //  The array in one step, the size of the last poll's (and a little
        //  more): at 2,000 placements the doubling steps copied 6 MiB a poll
        sf_streamset_reserve (set, last_count + last_count / 16);
        int rc = sf_source_poll (source, set);
        if (rc == 0)
            last_count = set->count;
        if (zsock_send (pipe, "ip", rc, set)) {
            sf_streamset_clear (set);
            free (set);
            break;
        }
    }
    zpoller_destroy (&poller);
    sf_source_destroy (&source);
}

static void
s_on_source (s_agent_t *a)
{
    int rc = 0;
    void *ptr = NULL;
    if (zsock_recv (a->source, "ip", &rc, &ptr) || !ptr)
        return;
    sf_streamset_t *set = ptr;
    if (rc == 0 && set->partial && !a->have_last) {
        //  Cannot happen with a conforming adapter (never the first good poll)
        sf_log_limited (&a->rl, SF_LOG_WARN, "source %s reported a partial state before a whole "
                        "one: ignored", a->ops->name);
        sf_streamset_clear (set);
        free (set);
        return;
    }
    if (rc == 0) {
        bool was_failing = a->failing;
        if (a->failing)
            sf_info ("source %s is answering again", a->ops->name);
        a->failing = false;
        if (set->partial) {
            //  What changed, merged into the last good state; after a
            //  failing streak, the stale marks go from all of it
            if (was_failing)
                for (size_t i = 0; i < a->last.count; i++)
                    a->last.items [i].stale = false;
            s_merge (a, set);
            sf_streamset_clear (set);
            free (set);
            if (was_failing)
                s_diff (a, &a->last);
        }
        else {
            if (a->have_last)
                sf_streamset_clear (&a->last);
            a->last = *set;
            a->have_last = true;
            free (set);
            s_diff (a, &a->last);
        }
        if (a->snap_waits && a->state == S_STREAMING) {
            sf_info ("source %s produced its first good state: sending the snapshot", a->ops->name);
            s_send_snapshot (a);
        }
        return;
    }
    //  Keep the last good state, marked stale; say so once per streak
    if (!a->failing)
        sf_warn ("source %s failing: %s (%s)", a->ops->name,
                 set->error [0] ? set->error : "unknown error",
                 a->have_last ? "keeping the last good state, marked stale"
                              : "no good state read yet: the node is reported stale and nothing "
                                "of it is replaced until one is");
    bool was_failing = a->failing;
    a->failing = true;
    sf_streamset_clear (set);
    free (set);
    //  Once per streak: the state does not change while it lasts
    if (a->have_last && !was_failing) {
        for (size_t i = 0; i < a->last.count; i++)
            a->last.items [i].stale = true;
        s_diff (a, &a->last);
    }
}

//  ---------------------------------------------------------------------------

int
sf_agent_run (sf_agent_config_t *cfg)
{
    int level = sf_log_level_parse (cfg->log_level);
    if (level < 0) {
        sf_error ("--log-level: '%s' is not debug, info, warn or error", cfg->log_level);
        return 2;
    }
    sf_log_set_level (level);
    if (!cfg->node [0]) {
        sf_error ("--node is required: this media server's node id");
        return 2;
    }
    //  One malloc arena for the process. The source thread builds each
    //  poll's state (at 2,000 streams, 3.4 MiB of records plus their texts)
    //  and this thread frees the one before; with glibc's per-thread arenas
    //  the source's arena keeps what this thread's frees give back and the
    //  two grow apart (docs/adapters.md, "The agent at 2,000 streams": 4 MiB
    //  of peak RSS). Two threads allocate, a few thousand times a second:
    //  the arena's lock is not contended enough to matter.
    mallopt (M_ARENA_MAX, 1);
    static s_agent_t agent;
    s_agent_t *a = &agent;
    memset (a, 0, sizeof (*a));
    a->cfg = cfg;
    a->started_at = time (NULL);
    a->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (5, 10000);
    a->ops = sf_source_find (cfg->source);
    if (!a->ops) {
        sf_error ("--source: unknown source '%s' (known: %s)", cfg->source, sf_source_names ());
        return 2;
    }
    char err [512];
    a->cert = sf_cert_load (cfg->cert, err, sizeof (err));
    if (!a->cert) {
        sf_error ("%s", err);
        return 3;
    }
    const char *cert_node = zcert_meta (a->cert, "node");
    if (!cert_node || strcmp (cert_node, cfg->node) != 0) {
        sf_error ("certificate %s is for node '%s', not '%s': make one with "
                  "'streamfleet keygen --role agent --node %s'", cfg->cert, cert_node ? cert_node : "",
                  cfg->node, cfg->node);
        zcert_destroy (&a->cert);
        return 3;
    }
    //  Endpoints from the comma-separated list
    char *list = sf_xstrdup (cfg->controllers);
    for (char *tok = strtok (list, ", "); tok; tok = strtok (NULL, ", ")) {
        a->endpoints = sf_xreallocarray (a->endpoints, (size_t) a->nendpoints + 1, sizeof (char *));
        a->endpoints [a->nendpoints++] = sf_xstrdup (tok);
    }
    free (list);
    a->acked_by = sf_xcalloc ((size_t) a->nendpoints + 1, sizeof (uint64_t));
    int rc = 1;
    if (a->nendpoints == 0) {
        sf_error ("--controllers: no controller endpoint given");
        rc = 2;
        goto done;
    }
    if (s_generation (a, 0)) {
        rc = 3;
        goto done;
    }
    a->entries = zhashx_new ();
    zhashx_set_destructor (a->entries, s_entry_free);
    msgpack_sbuffer_init (&a->sbuf);
    msgpack_sbuffer_init (&a->pack);
    msgpack_sbuffer_init (&a->delta);
    msgpack_sbuffer_init (&a->hello);
    sf_msg_init (&a->msg);
    static s_source_args_t sa;
    sa.cfg = cfg;
    sa.ops = a->ops;
    atomic_store (&sa.failed, false);
    a->source = zactor_new (s_source_actor, &sa);
    if (!a->source || atomic_load (&sa.failed)) {
        sf_error ("source %s could not start (see the error above); check its options "
                  "(docs/adapters.md): exiting", cfg->source);
        rc = 3;
        goto done;
    }
    sf_info ("agent for node %s: source %s, generation %lu, controllers %s", cfg->node, cfg->source,
             a->gen, cfg->controllers);
    sf_service_ready ("reading the source, publishing to the controllers");
    s_connect (a);
    int64_t next_hb = sf_mono_ms ();
    while (!zsys_interrupted) {
        zmq_pollitem_t items [2] = {
            { zsock_resolve (a->source), 0, ZMQ_POLLIN, 0 },
            { a->sock ? zsock_resolve (a->sock) : NULL, 0,
              (short) (ZMQ_POLLIN | (a->hello_pending ? ZMQ_POLLOUT : 0)), 0 }
        };
        int64_t now = sf_mono_ms ();
        long wait = next_hb > now ? (long) (next_hb - now) : 0;
        if (wait > 100)
            wait = 100;
        if (zmq_poll (items, a->sock ? 2 : 1, wait) < 0 && zmq_errno () == EINTR)
            continue;
        if (a->sock && (items [1].revents & ZMQ_POLLOUT))
            s_send_hello (a);
        if (items [0].revents & ZMQ_POLLIN)
            s_on_source (a);
        if (a->sock && (items [1].revents & ZMQ_POLLIN)) {
            zframe_t *f;
            while ((f = zframe_recv_nowait (a->sock))) {
                s_on_message (a, f);
                zframe_destroy (&f);
                sf_msg_release (&a->msg);
            }
        }
        now = sf_mono_ms ();
        if (now >= next_hb) {
            s_heartbeat (a);
            next_hb = now + cfg->heartbeat_ms;
        }
        if (a->state == S_DISCONNECTED)
            s_connect (a);
        else if (a->state == S_WAIT && now >= a->retry_at_ms) {
            s_hello_pack (a);
            a->hello_pending = true;
            s_send_hello (a);
        }
        //  Told to wait (retry): silence is what we asked for until then
        else if (a->state != S_WAIT && now - a->last_rx_ms > (a->silence_ms = s_silence_limit (a))) {
            char hint [768];
            bool hello = a->state == S_HELLO;
            s_failover (a, hello ? s_hello_hint (a, hint, sizeof (hint)) : "went silent");
            if (hello)
                a->hello_misses++;
        }
        else
            s_monitor_drain (a);
        s_pump (a);
    }
    s_log_acked (a);
    sf_service_stopping ();
    rc = 0;
done:
    zactor_destroy (&a->source);
    s_disconnect (a);
    if (a->have_last)
        sf_streamset_clear (&a->last);
    s_buffer_clear (a);
    s_outbox_clear (a);
    free (a->changes);
    free (a->arena);
    free (a->node_bytes);
    zhashx_destroy (&a->entries);
    msgpack_sbuffer_destroy (&a->sbuf);
    msgpack_sbuffer_destroy (&a->pack);
    msgpack_sbuffer_destroy (&a->delta);
    msgpack_sbuffer_destroy (&a->hello);
    sf_msg_release (&a->msg);
    for (int i = 0; i < a->nendpoints; i++)
        free (a->endpoints [i]);
    free (a->endpoints);
    free (a->acked_by);
    zcert_destroy (&a->cert);
    return rc;
}

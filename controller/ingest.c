/*  ingest.c — the agent protocol, controller side (include/sf_ingest.h,
    docs/protocol.md "Agent protocol").

    Per agent it keeps a session: where to answer (the routing id of its
    latest message) and the snapshot being assembled. Every message is
    checked before it touches storage: a malformed or forbidden message is
    answered with an error, counted and logged at a limited rate, and nothing
    else is affected. A bad record inside a batch is skipped by itself; its
    seq still counts, so the rest of the batch and the agent's later batches
    apply.

    What is staged goes to the writer; acks follow the commit (s_on_done).
*/
#include "sf_ingest.h"
#include "sf_alloc.h"
#include "sf_codec.h"
#include "sf_log.h"
#include <stdatomic.h>

//  One agent's session. Ingest thread only.
typedef struct {
    char node [SF_NODE_MAX + 1];
    zframe_t *route;                //  routing id of the agent's latest message
    zlistx_t *snap;                 //  zframe_t chunks of the snapshot being assembled
    uint64_t snap_gen, snap_seq;
    size_t snap_records;
    int64_t resync_sent_ms;
    //  Asked to retry: what the agent sent before its next hello is dropped
    //  without a word (it was on the wire already), so one broken snapshot
    //  or one full disk earns one request, not one per message in flight
    bool waiting;
    int64_t retry_ms;               //  back-off of the last retry; 0 after a success
    //  Patches staged in the open transaction, counted once it commits
    uint64_t staged_spliced, staged_reencoded;
    //  Flow control (sf_codec.h, SF_AGENT_WINDOW): the highest "n" stamp
    //  read from this agent, and the one last told it; an agent that stamps
    //  its messages is told what was read at least every
    //  SF_AGENT_CREDIT_EVERY messages
    uint64_t read_n, told_n;
    bool stamps;
} s_agent_t;

#define S_RETRY_FIRST_MS 1000
#define S_RETRY_MAX_MS 30000

struct sf_ingest_t {
    //  Every field: ingest thread only
    sf_ingest_config_t cfg;
    zhashx_t *agents;               //  node -> s_agent_t
    sf_msg_t msg;
    sf_msg_t chunk;                 //  for snapshot chunks
    sf_stream_t scratch;
    sf_stream_t patch;              //  a patch's own lines (the fast path's check)
    msgpack_sbuffer spliced;        //  a patched record's bytes
    uint64_t slow_lines;            //  lines a patch applies through the fleet
    uint64_t version_line;
    msgpack_sbuffer out;
    sf_ratelimit_t rl;
};

static void
s_agent_destroy (s_agent_t **self_p)
{
    if (*self_p) {
        zframe_destroy (&(*self_p)->route);
        zlistx_destroy (&(*self_p)->snap);
        free (*self_p);
        *self_p = NULL;
    }
}

static s_agent_t *
s_agent (sf_ingest_t *self, const char *node)
{
    s_agent_t *a = zhashx_lookup (self->agents, node);
    if (a)
        return a;
    a = sf_xcalloc (1, sizeof (*a));
    snprintf (a->node, sizeof (a->node), "%s", node);
    a->snap = zlistx_new ();
    zlistx_set_destructor (a->snap, (zlistx_destructor_fn *) zframe_destroy);
    zhashx_insert (self->agents, node, a);
    return a;
}

//  Sends self->out to route; who names the agent in the sender's messages
static void
s_send (sf_ingest_t *self, zframe_t *route, const char *who)
{
    if (route)
        self->cfg.send (route, who, self->out.data, self->out.size, self->cfg.send_arg);
}

//  An ack of what is committed; to an agent that stamps its messages, with
//  what was read of them (its window opens by it)
static void
s_ack (sf_ingest_t *self, s_agent_t *a, zframe_t *route, uint64_t gen, uint64_t seq, bool hello)
{
    msgpack_sbuffer_clear (&self->out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->out, msgpack_sbuffer_write);
    bool beats = hello && self->cfg.beats_on_arrival;
    sf_msg_begin (&pk, "ack", 2 + (hello ? 1 : 0) + (beats ? 1 : 0) + (a->stamps ? 1 : 0));
    sf_pack_ku64 (&pk, "gen", gen);
    sf_pack_ku64 (&pk, "seq", seq);
    //  The answer to a hello says that this controller takes patches, and
    //  whether it counts heartbeats as they arrive
    if (hello)
        sf_pack_kbool (&pk, "patch", true);
    if (beats)
        sf_pack_kbool (&pk, "beats", true);
    if (a->stamps) {
        sf_pack_ku64 (&pk, "read", a->read_n);
        a->told_n = a->read_n;
    }
    s_send (self, route, a->node);
}

void
sf_ingest_reject (sf_ingest_t *self, zframe_t *route, const char *who, int reason, const char *error)
{
    sf_metrics_reject (self->cfg.metrics, reason);
    sf_log_limited (&self->rl, SF_LOG_WARN, "ingest: rejected a message from %s (%s): %s", who,
                    sf_reject_name (reason), error);
    sf_msg_error (&self->out, sf_reject_name (reason), error);
    s_send (self, route, who);
}

static void
s_resync (sf_ingest_t *self, s_agent_t *a, const char *why)
{
    int64_t now = sf_mono_ms ();
    //  One request a second is enough: the agent answers with a snapshot
    if (now - a->resync_sent_ms < 1000)
        return;
    a->resync_sent_ms = now;
    atomic_fetch_add (&self->cfg.metrics->resyncs, 1);
    sf_info ("ingest: asking %s for a snapshot: %s", a->node, why);
    sf_msg_resync (&self->out, why);
    s_send (self, a->route, a->node);
}

//  Asks the agent to wait, then say hello again (docs/protocol.md, retry):
//  the wait doubles with each retry in a row, up to S_RETRY_MAX_MS. What
//  was assembled of a snapshot goes.
static void
s_retry (sf_ingest_t *self, s_agent_t *a, const char *why)
{
    zlistx_purge (a->snap);
    a->snap_records = 0;
    a->waiting = true;
    a->retry_ms = a->retry_ms ? a->retry_ms * 2 : S_RETRY_FIRST_MS;
    if (a->retry_ms > S_RETRY_MAX_MS)
        a->retry_ms = S_RETRY_MAX_MS;
    atomic_fetch_add (&self->cfg.metrics->resyncs, 1);
    sf_log_limited (&self->rl, SF_LOG_INFO, "ingest: asking %s to retry in %lld ms: %s", a->node,
                    (long long) a->retry_ms, why);
    msgpack_sbuffer_clear (&self->out);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->out, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "retry", 2);
    sf_pack_ku64 (&pk, "after_ms", (uint64_t) a->retry_ms);
    sf_pack_kstr (&pk, "reason", why);
    s_send (self, a->route, a->node);
}

//  After each commit, per origin it touched: acknowledge what was stored,
//  or ask the agent for what was lost
static void
s_on_done (sf_origin_t *o, int result, bool ack_due, void *arg)
{
    sf_ingest_t *self = arg;
    s_agent_t *a = zhashx_lookup (self->agents, o->node);
    if (!a)
        return;                     //  changed by gossip only
    if (result == SF_WRITER_STORED || result == SF_WRITER_UNSYNCED) {
        atomic_fetch_add (&self->cfg.metrics->patches_spliced, a->staged_spliced);
        atomic_fetch_add (&self->cfg.metrics->patches_reencoded, a->staged_reencoded);
    }
    a->staged_spliced = a->staged_reencoded = 0;
    if (result == SF_WRITER_STORED) {
        if (ack_due) {
            s_ack (self, a, a->route, o->committed.gen, o->committed.seq, false);
            a->retry_ms = 0;
        }
    }
    else if (result == SF_WRITER_UNSYNCED) {
        //  Stored, but not on the disk (--sync-ms 0 and the flush failed):
        //  not acknowledged. The agent keeps its changes and says hello
        //  again after a back-off; hellos are answered the same way until
        //  a flush works (the writer logs the cause, with the data directory)
        if (ack_due)
            s_retry (self, a, "controller could not flush its disk");
    }
    else if (result == SF_WRITER_NOSPACE) {
        //  Resending now would meet the same full disk: the agent keeps its
        //  changes and says hello again after a back-off (the writer logs
        //  the cause once, with the data directory). A snapshot still being
        //  assembled was not in the transaction: it goes on.
        if (ack_due)
            s_retry (self, a, "controller disk full");
    }
    else {
        //  Nothing of this transaction was stored: let the agent send it
        //  again as a snapshot
        zlistx_purge (a->snap);
        a->resync_sent_ms = 0;
        s_resync (self, a, "controller could not store the last changes");
    }
}

sf_ingest_t *
sf_ingest_new (const sf_ingest_config_t *cfg)
{
    sf_ingest_t *self = sf_xcalloc (1, sizeof (*self));
    self->cfg = *cfg;
    if (self->cfg.max_snapshots == 0)
        self->cfg.max_snapshots = 4;
    self->agents = zhashx_new ();
    zhashx_set_destructor (self->agents, (zhashx_destructor_fn *) s_agent_destroy);
    sf_msg_init (&self->msg);
    sf_msg_init (&self->chunk);
    sf_stream_init (&self->scratch);
    sf_stream_init (&self->patch);
    msgpack_sbuffer_init (&self->spliced);
    //  What the fleet derives from (migrations, events, the uid index) or
    //  the writer stamps: a patch touching one of these is applied to the
    //  decoded record and stored as a put is
    static const char *slow [] = {
        "uid", "node", "type", "status", "functions", "transferred_from", "transfer", "conflict",
        "migrated_to"
    };
    for (size_t i = 0; i < sizeof (slow) / sizeof (slow [0]); i++)
        self->slow_lines |= sf_stream_line (slow [i]);
    self->version_line = sf_stream_line ("version");
    msgpack_sbuffer_init (&self->out);
    self->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (20, 10000);
    sf_writer_on_done (cfg->writer, s_on_done, self);
    return self;
}

void
sf_ingest_destroy (sf_ingest_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_ingest_t *self = *self_p;
    sf_writer_on_done (self->cfg.writer, NULL, NULL);
    zhashx_destroy (&self->agents);
    sf_msg_release (&self->msg);
    sf_msg_release (&self->chunk);
    sf_stream_clear (&self->scratch);
    sf_stream_clear (&self->patch);
    msgpack_sbuffer_destroy (&self->spliced);
    msgpack_sbuffer_destroy (&self->out);
    free (self);
    *self_p = NULL;
}

size_t
sf_ingest_snapshots (sf_ingest_t *self)
{
    size_t n = 0;
    for (s_agent_t *a = zhashx_first (self->agents); a; a = zhashx_next (self->agents))
        if (zlistx_size (a->snap))
            n++;
    return n;
}

static const char *s_claim (const sf_stream_t *s);

//  Validates one stream record of origin o and stages it. Returns 0, or -1
//  with err and reason set (the record is skipped; nothing was written).
static int
s_put_record (sf_ingest_t *self, sf_origin_t *o, const msgpack_object *rec, sf_version_t ver,
              int *reason, char *err)
{
    if (sf_stream_unpack (rec, &self->scratch, err)) {
        *reason = sf_codec_reason ();
        return -1;
    }
    //  Derived fields are the controller's to set, never an agent's: a
    //  record claiming one is refused, so no agent can fake a migration
    const sf_stream_t *s = &self->scratch;
    const char *claim = s_claim (s);
    if (claim) {
        snprintf (err, SF_ERR_MAX, "record '%s': %s is derived by the controller, an agent may not send it",
                  s->name, claim);
        *reason = SF_REJ_FORBIDDEN;
        return -1;
    }
    int rc = sf_writer_put (self->cfg.writer, o, &self->scratch, ver);
    if (rc == SF_WRITER_FOREIGN) {
        snprintf (err, SF_ERR_MAX, "record for node '%s' from the agent of node '%s'",
                  self->scratch.node, o->node);
        *reason = SF_REJ_FORBIDDEN;
        return -1;
    }
    if (rc) {
        snprintf (err, SF_ERR_MAX, "storage refused the record");
        *reason = SF_REJ_STATE;
        return -1;
    }
    return 0;
}

//  What an agent may not claim: derived fields are the controller's to set
static const char *
s_claim (const sf_stream_t *s)
{
    return s->type == SF_TYPE_MIGRATED ? "type 'migrated'"
         : s->transfer ? "transfer"
         : s->migrated_to [0] ? "migrated_to" : NULL;
}

//  Applies patch p of origin o at ver to the placement it names
//  (docs/protocol.md, "patch"). When it changes only lines the fleet does not
//  derive from, the stored bytes are spliced: the changed lines re-encoded,
//  every other byte copied, the summary updated in place. Otherwise the
//  stored record is decoded, patched and stored as a put would be. Returns
//  0; -1 with err and reason set (nothing written); -2 when this controller
//  holds no such placement (the agent must send it whole: a snapshot).
static int
s_put_patch (sf_ingest_t *self, s_agent_t *a, sf_origin_t *o, const msgpack_object *p,
             sf_version_t ver, int *reason, char *err)
{
    sf_writer_t *w = self->cfg.writer;
    *reason = SF_REJ_FIELD;
    //  The patch alone first: its values and what it claims
    sf_stream_t *ps = &self->patch;
    sf_stream_clear (ps);
    sf_stream_init (ps);
    uint64_t lines = 0;
    if (sf_stream_patch (p, ps, &lines, err)) {
        *reason = sf_codec_reason ();
        return -1;
    }
    const char *claim = s_claim (ps);
    if (claim) {
        snprintf (err, SF_ERR_MAX, "patch of '%s': %s is derived by the controller, an agent may not send it",
                  ps->name, claim);
        *reason = SF_REJ_FORBIDDEN;
        return -1;
    }
    if (ps->node [0] && strcmp (ps->node, o->node) != 0) {
        snprintf (err, SF_ERR_MAX, "patch for node '%s' from the agent of node '%s'", ps->node, o->node);
        *reason = SF_REJ_FORBIDDEN;
        return -1;
    }
    sf_read_t r;
    sf_row_t row;
    if (sf_writer_begin (w) || sf_writer_view (w, &r)) {
        snprintf (err, SF_ERR_MAX, "storage refused the patch");
        *reason = SF_REJ_STATE;
        return -1;
    }
    if (sf_store_get_row (&r, o->node, ps->name, &row)) {
        snprintf (err, SF_ERR_MAX, "patch of '%s', which this controller does not hold", ps->name);
        *reason = SF_REJ_STATE;
        return -2;
    }
    //  Gossip sends peers holding this version the patch (sf_patchlog.h);
    //  a version above what the origin committed is one staged in this
    //  transaction, folded into this one and never stored
    sf_version_t base = { row.sum.gen, row.sum.seq };
    bool held = sf_version_cmp (base, o->committed) <= 0;
    //  A copy flagged migrated that runs is one the fleet must look at
    bool stale_copy = row.sum.status == SF_STATUS_ACTIVE && (row.sum.flags & SF_SUM_MIGRATED)
                   && !(row.sum.flags & SF_SUM_CONFLICT);
    if (!(lines & self->slow_lines) && !stale_copy) {
        ps->version = ver;
        msgpack_sbuffer_clear (&self->spliced);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->spliced, msgpack_sbuffer_write);
        if (sf_stream_splice (&pk, row.packed, row.packed_size, ps, lines | self->version_line) == 0) {
            sf_summary_t sum = row.sum;
            sf_summary_patch (&sum, ps, lines | self->version_line);
            if (sf_writer_put_packed (w, o, ps->name, &sum, self->spliced.data, self->spliced.size)) {
                snprintf (err, SF_ERR_MAX, "storage refused the record");
                *reason = SF_REJ_STATE;
                return -1;
            }
            if (self->cfg.patches)
                sf_patchlog_note (self->cfg.patches, o->node, ps->name, base, ver, p, held);
            a->staged_spliced++;
            return 0;
        }
    }
    //  Through the fleet: the whole record, patched, stored as a put
    sf_stream_t *s = &self->scratch;
    if (sf_row_decode (&row, s) || sf_stream_patch (p, s, &lines, err)) {
        snprintf (err, SF_ERR_MAX, "patch of '%s': the stored record could not be read", ps->name);
        *reason = SF_REJ_STATE;
        return -1;
    }
    if (sf_writer_put (w, o, s, ver)) {
        snprintf (err, SF_ERR_MAX, "storage refused the record");
        *reason = SF_REJ_STATE;
        return -1;
    }
    if (self->cfg.patches)
        sf_patchlog_note (self->cfg.patches, o->node, ps->name, base, ver, p, held);
    a->staged_reencoded++;
    return 0;
}

//  Whether k names a node-record field that is the controller's to set
static bool
s_is_controllers_key (const msgpack_object *k)
{
    //  docs/protocol.md 4.1.2: fields of the node record the controller sets
    //  itself (heartbeats say heartbeat and stale; a snapshot sets the floor)
    static const char *const keys [] = { "snapshot_floor", "heartbeat", "stale" };
    if (k->type != MSGPACK_OBJECT_STR)
        return false;
    for (size_t i = 0; i < sizeof (keys) / sizeof (keys [0]); i++)
        if (k->via.str.size == strlen (keys [i]) && memcmp (k->via.str.ptr, keys [i], k->via.str.size) == 0)
            return true;
    return false;
}

//  Stages a node record of origin o. 0, -1 (invalid) or -2 (another node's).
//  Its snapshot_floor, heartbeat and stale are the controllers' to set
//  (docs/protocol.md 4.1.2, "ignored from agents"): an agent's are dropped
//  before the record is decoded, whatever their shape, so that a malformed
//  one does not cost the agent its whole record. A peer's floor comes through gossip
//  (controller/gossip.c), where it is decoded strictly.
static int
s_put_node_info (sf_ingest_t *self, sf_origin_t *o, const msgpack_object *obj, sf_version_t ver,
                 char *err)
{
    msgpack_object rec = *obj;
    msgpack_object_kv *kept = NULL;
    for (uint32_t i = 0; obj->type == MSGPACK_OBJECT_MAP && i < obj->via.map.size; i++)
        if (s_is_controllers_key (&obj->via.map.ptr [i].key)) {
            //  A shallow copy of the map without them (every copy of each)
            kept = sf_xreallocarray (NULL, obj->via.map.size, sizeof (*kept));
            rec.via.map.size = 0;
            for (uint32_t j = 0; j < obj->via.map.size; j++)
                if (!s_is_controllers_key (&obj->via.map.ptr [j].key))
                    kept [rec.via.map.size++] = obj->via.map.ptr [j];
            rec.via.map.ptr = kept;
            break;
        }
    sf_node_t n;
    int rc = sf_node_unpack (&rec, &n, err);
    free (kept);
    if (rc)
        return -1;
    if (strcmp (n.id, o->node) != 0) {
        snprintf (err, SF_ERR_MAX, "node record '%s' from the agent of node '%s'", n.id, o->node);
        return -2;
    }
    //  Usage comes with heartbeats; keep the latest
    const sf_node_t *keep = &o->info;
    n.cpu_pct = keep->cpu_pct;
    n.mem_used_bytes = keep->mem_used_bytes;
    n.mem_total_bytes = keep->mem_total_bytes;
    n.in_kbps = keep->in_kbps;
    n.out_kbps = keep->out_kbps;
    n.ndisks = keep->ndisks;
    memcpy (n.disks, keep->disks, sizeof (keep->disks));
    n.heartbeat = keep->heartbeat;
    n.stale = keep->stale;              //  heartbeats say it
    n.snapshot_floor = keep->snapshot_floor;   //  controllers set it, not agents
    n.version = ver;
    sf_writer_set_info (self->cfg.writer, o, &n);
    return 0;
}

static void
s_on_hello (sf_ingest_t *self, s_agent_t *a, sf_origin_t *o, zframe_t *route,
            const msgpack_object *body)
{
    uint64_t gen = 0, seq = 0;
    char err [SF_ERR_MAX];
    char node [SF_NODE_MAX + 1] = "";
    if (sf_map_u64 (body, "gen", &gen, err) || sf_map_u64 (body, "seq", &seq, err)
    ||  sf_map_str (body, "node", node, SF_NODE_MAX, err) < 0) {
        sf_ingest_reject (self, route, o->node, SF_REJ_FIELD, "hello needs gen, seq and node");
        return;
    }
    if (node [0] && strcmp (node, o->node) != 0) {
        snprintf (err, sizeof (err), "hello as node '%s' with the certificate of node '%s'", node, o->node);
        sf_ingest_reject (self, route, o->node, SF_REJ_FORBIDDEN, err);
        return;
    }
    zframe_destroy (&a->route);
    a->route = zframe_dup (route);
    zlistx_purge (a->snap);
    a->snap_records = 0;
    a->waiting = false;
    a->resync_sent_ms = 0;
    sf_info ("ingest: %s says hello (generation %llu, seq %llu; stored %llu/%llu)", o->node,
             (unsigned long long) gen, (unsigned long long) seq,
             (unsigned long long) o->committed.gen, (unsigned long long) o->committed.seq);
    //  With --sync-ms 0 what is stored counts only once it is on the disk:
    //  while flushes fail, the answer is to come back later, not an ack
    if (sf_writer_acks_held (self->cfg.writer)) {
        s_retry (self, a, "controller could not flush its disk");
        return;
    }
    //  The agent decides from this ack whether to resend or snapshot. Only
    //  what is committed counts: what the open transaction holds is resent
    //  and then skipped as a duplicate, never acknowledged early.
    //  It also says that this controller takes patches (docs/protocol.md)
    //  and, to an agent that stamps its messages, what it read of them
    s_ack (self, a, route, o->committed.gen, o->committed.seq, true);
}

static void
s_apply_snapshot (sf_ingest_t *self, s_agent_t *a, sf_origin_t *o)
{
    sf_writer_t *w = self->cfg.writer;
    if (sf_writer_begin (w))
        return;
    size_t applied = 0, skipped = 0;
    zhashx_t *present = zhashx_new ();     //  names in the snapshot
    uint64_t lowest = a->snap_seq + 1;      //  the lowest seq of a placement in it
    char err [SF_ERR_MAX];
    for (zframe_t *f = zlistx_first (a->snap); f; f = zlistx_next (a->snap)) {
        if (sf_msg_parse (&self->chunk, zframe_data (f), zframe_size (f)))
            continue;           //  checked when it arrived
        const msgpack_object *changes = sf_map_get (self->chunk.body, "changes");
        for (uint32_t i = 0; changes && i < changes->via.array.size; i++) {
            const msgpack_object *ch = &changes->via.array.ptr [i];
            uint64_t seq = 0;
            const msgpack_object *put = sf_map_get (ch, "put");
            const msgpack_object *node = sf_map_get (ch, "node");
            int reason = SF_REJ_FIELD;
            int rc = -1;
            if (sf_map_u64 (ch, "seq", &seq, err) || seq == 0 || seq > a->snap_seq)
                snprintf (err, SF_ERR_MAX, "snapshot change without a seq in 1..%llu",
                          (unsigned long long) a->snap_seq);
            else if (put) {
                if (seq < lowest)
                    lowest = seq;
                rc = s_put_record (self, o, put, (sf_version_t) { a->snap_gen, seq }, &reason, err);
            }
            else if (node) {
                rc = s_put_node_info (self, o, node, (sf_version_t) { a->snap_gen, seq }, err);
                if (rc == -2)
                    reason = SF_REJ_FORBIDDEN;
                if (rc == 0)
                    continue;
            }
            else
                snprintf (err, SF_ERR_MAX, "snapshot change is neither put nor node");
            if (rc) {
                //  Rejected by itself: a placement it names keeps what is
                //  stored, rather than being taken for absent and deleted
                char name [SF_NAME_MAX + 1] = "";
                bool named = put && sf_map_str (put, "name", name, SF_NAME_MAX, NULL) == 0 && name [0];
                if (named)
                    zhashx_insert (present, name, (void *) 1);
                skipped++;
                sf_metrics_reject (self->cfg.metrics, reason);
                sf_log_limited (&self->rl, SF_LOG_WARN, "ingest: skipped a record in %s's snapshot: %s%s%s%s",
                                o->node, err, named ? " (what is stored of " : "", name,
                                named ? " is kept)" : "");
            }
            else {
                applied++;
                zhashx_insert (present, self->scratch.name, (void *) 1);
            }
        }
        sf_msg_release (&self->chunk);
    }
    //  What the node no longer has is deleted; what it still has was
    //  overwritten above, so unchanged placements see no delete and re-add.
    sf_version_t ver = { a->snap_gen, a->snap_seq };
    int deleted = sf_writer_del_absent (w, o, present, ver);
    zhashx_destroy (&present);
    //  The snapshot is a statement about the whole node: what it does not
    //  hold is gone as of ver, also where another controller holds it and
    //  we never did (so we wrote no tombstone for it). Every placement in it
    //  is at `lowest` or above: that floor rides on the node record, and
    //  each controller deletes what it holds of the node below it and
    //  refuses it from peers (docs/protocol.md, "snapshot_floor"). A skipped
    //  record keeps a stored placement at its old version: no floor then.
    sf_version_t floor = { a->snap_gen, lowest };
    if (skipped == 0 && sf_version_cmp (floor, o->info.snapshot_floor) > 0) {
        o->info.snapshot_floor = floor;
        //  The node record carries it: at the snapshot's version at least,
        //  so that every peer behind the snapshot gets it
        if (sf_version_cmp (o->info.version, ver) < 0)
            o->info.version = ver;
    }
    sf_writer_stage (w, o, ver);
    sf_writer_info_changed (w, o);
    sf_writer_ack_due (w, o);
    zlistx_purge (a->snap);
    atomic_fetch_add (&self->cfg.metrics->snapshots, 1);
    atomic_fetch_add (&self->cfg.metrics->records_in, applied);
    sf_info ("ingest: snapshot of %s applied: %zu placements (%zu skipped, %d deleted) at %llu/%llu",
             o->node, applied, skipped, deleted,
             (unsigned long long) a->snap_gen, (unsigned long long) a->snap_seq);
}

static void
s_on_snap (sf_ingest_t *self, s_agent_t *a, sf_origin_t *o, zframe_t *route,
           const void *data, size_t size, const msgpack_object *body)
{
    uint64_t gen = 0, seq = 0, index = 0;
    bool last = false;
    char err [SF_ERR_MAX];
    const msgpack_object *recs = sf_map_get (body, "changes");
    if (sf_map_u64 (body, "gen", &gen, err) || sf_map_u64 (body, "seq", &seq, err)
    ||  sf_map_u64 (body, "index", &index, err) || sf_map_bool (body, "last", &last, err) < 0
    ||  !recs || recs->type != MSGPACK_OBJECT_ARRAY) {
        sf_ingest_reject (self, route, o->node, SF_REJ_FIELD, "snap needs gen, seq, index, last and changes[]");
        return;
    }
    if (gen < o->staged.gen) {
        sf_ingest_reject (self, route, o->node, SF_REJ_STATE, "snapshot of an older generation ignored");
        return;
    }
    zframe_destroy (&a->route);
    a->route = zframe_dup (route);
    if (index == 0) {
        //  A new snapshot. At most max_snapshots are assembled at once (each
        //  holds its chunks until the last): the others wait and come back
        bool holds_slot = zlistx_size (a->snap) > 0;
        if (!last && !holds_slot && sf_ingest_snapshots (self) >= self->cfg.max_snapshots) {
            snprintf (err, sizeof (err), "%zu snapshots are being received; send yours later",
                      self->cfg.max_snapshots);
            s_retry (self, a, err);
            return;
        }
        zlistx_purge (a->snap);
        a->snap_records = 0;
        a->snap_gen = gen;
        a->snap_seq = seq;
    }
    else if (zlistx_size (a->snap) == 0 || gen != a->snap_gen || seq != a->snap_seq) {
        //  Restart that snapshot, after a back-off long enough for what is
        //  still on the wire to drain: asking at once is how two nodes
        //  looped for good on "out of order"
        s_retry (self, a, "snapshot chunk out of order");
        return;
    }
    else if (index != zlistx_size (a->snap)) {
        s_retry (self, a, "snapshot chunk missing");
        return;
    }
    a->snap_records += recs->via.array.size;
    if (a->snap_records > (size_t) self->cfg.max_streams_per_node) {
        zlistx_purge (a->snap);
        a->snap_records = 0;
        snprintf (err, sizeof (err), "snapshot holds more than %lld placements (max-streams-per-node)",
                  (long long) self->cfg.max_streams_per_node);
        sf_ingest_reject (self, route, o->node, SF_REJ_BOUNDS, err);
        return;
    }
    zlistx_add_end (a->snap, zframe_new (data, size));
    if (last)
        s_apply_snapshot (self, a, o);
}

static void
s_on_batch (sf_ingest_t *self, s_agent_t *a, sf_origin_t *o, zframe_t *route,
            const msgpack_object *body)
{
    sf_writer_t *w = self->cfg.writer;
    uint64_t gen = 0;
    char err [SF_ERR_MAX];
    const msgpack_object *changes = sf_map_get (body, "changes");
    if (sf_map_u64 (body, "gen", &gen, err) || !changes || changes->type != MSGPACK_OBJECT_ARRAY) {
        sf_ingest_reject (self, route, o->node, SF_REJ_FIELD, "batch needs gen and changes[]");
        return;
    }
    zframe_destroy (&a->route);
    a->route = zframe_dup (route);
    if (gen != o->staged.gen) {
        if (gen > o->staged.gen)
            s_resync (self, a, "new generation");
        return;
    }
    if (sf_writer_begin (w))
        return;
    sf_version_t staged = o->staged;
    for (uint32_t i = 0; i < changes->via.array.size; i++) {
        const msgpack_object *ch = &changes->via.array.ptr [i];
        uint64_t seq = 0;
        if (ch->type != MSGPACK_OBJECT_MAP || sf_map_u64 (ch, "seq", &seq, err)) {
            sf_ingest_reject (self, route, o->node, SF_REJ_FIELD, "every change needs a seq");
            break;
        }
        if (seq <= staged.seq)
            continue;                   //  already applied: a resend
        if (seq != staged.seq + 1) {
            s_resync (self, a, "gap in seq");
            break;
        }
        sf_version_t ver = { gen, seq };
        const msgpack_object *put = sf_map_get (ch, "put");
        const msgpack_object *patch = put ? NULL : sf_map_get (ch, "patch");
        const msgpack_object *node = sf_map_get (ch, "node");
        char name [SF_NAME_MAX + 1];
        int reason = SF_REJ_FIELD;
        int rc = 0;
        if (put)
            rc = s_put_record (self, o, put, ver, &reason, err);
        else if (patch) {
            rc = s_put_patch (self, a, o, patch, ver, &reason, err);
            if (rc == -2) {
                //  What it patches is not here: only the whole state helps
                sf_ingest_reject (self, route, o->node, reason, err);
                staged.seq = seq;
                s_resync (self, a, "a patch named a placement this controller does not hold");
                break;
            }
        }
        else if (sf_map_str (ch, "del", name, SF_NAME_MAX, err) == 0) {
            rc = sf_writer_del (w, o, name, ver);
            if (rc)
                snprintf (err, sizeof (err), "storage refused the deletion"), reason = SF_REJ_STATE;
        }
        else if (node) {
            rc = s_put_node_info (self, o, node, ver, err);
            if (rc == -2)
                reason = SF_REJ_FORBIDDEN;
        }
        else {
            snprintf (err, sizeof (err), "change %llu is neither put, patch, del nor node",
                      (unsigned long long) seq);
            rc = -1;
        }
        if (rc)
            sf_ingest_reject (self, route, o->node, reason, err);
        else
            atomic_fetch_add (&self->cfg.metrics->records_in, 1);
        //  A rejected change still consumes its seq: the agent moves on
        staged.seq = seq;
    }
    sf_writer_stage (w, o, staged);
    sf_writer_ack_due (w, o);
}

static void
s_on_heartbeat (sf_ingest_t *self, s_agent_t *a, sf_origin_t *o, zframe_t *route,
                const msgpack_object *body)
{
    uint64_t gen = 0, counter = 0;
    char err [SF_ERR_MAX];
    if (sf_map_u64 (body, "gen", &gen, err) || sf_map_u64 (body, "counter", &counter, err)) {
        sf_ingest_reject (self, route, o->node, SF_REJ_FIELD, "heartbeat needs gen and counter");
        return;
    }
    //  A stale agent has not read its media server: what we hold of the
    //  node is its last good state, kept (never replaced by an empty one)
    bool stale = false;
    int has_stale = sf_map_bool (body, "stale", &stale, err);
    if (has_stale < 0)
        sf_ingest_reject (self, route, o->node, SF_REJ_FIELD, err);
    else if (stale != o->info.stale) {
        if (stale)
            sf_warn ("ingest: %s's agent reports its source down: keeping the node's placements, "
                     "marked stale", o->node);
        else
            sf_info ("ingest: %s's agent reads its source again: the node is no longer stale", o->node);
        o->info.stale = stale;
    }
    const msgpack_object *usage = sf_map_get (body, "usage");
    if (usage && usage->type == MSGPACK_OBJECT_MAP) {
        sf_node_t u = o->info;
        if (sf_usage_unpack (usage, &u, err) == 0)
            o->info = u;
        else
            sf_ingest_reject (self, route, o->node, SF_REJ_FIELD, err);
    }
    sf_live_beat (self->cfg.live, o->node, gen, counter, sf_mono_ms ());
    //  Gossip carries the mark with the beat to every other controller
    if (has_stale >= 0)
        sf_live_set_stale (self->cfg.live, o->node, gen, counter, o->info.stale);
    o->info.heartbeat = counter;
    sf_writer_info_changed (self->cfg.writer, o);
    atomic_fetch_add (&self->cfg.metrics->heartbeats, 1);
    zframe_destroy (&a->route);
    a->route = zframe_dup (route);
    //  Answered at once with what is committed, however busy the writer is:
    //  the agent judges the controller alive by it
    s_ack (self, a, route, o->committed.gen, o->committed.seq, false);
}

void
sf_ingest_message (sf_ingest_t *self, zframe_t *route, const char *node, const void *data, size_t size)
{
    atomic_fetch_add (&self->cfg.metrics->messages_in, 1);
    if (sf_msg_parse (&self->msg, data, size)) {
        sf_ingest_reject (self, route, node, self->msg.reason, self->msg.error);
        sf_msg_release (&self->msg);
        return;
    }
    sf_origin_t *o = sf_writer_origin (self->cfg.writer, node);
    if (!o) {
        sf_msg_release (&self->msg);
        return;
    }
    o->agent_ms = sf_mono_ms ();
    s_agent_t *a = s_agent (self, node);
    //  Read, whatever becomes of it: the agent's window counts it read
    uint64_t n = 0;
    if (self->msg.body && sf_map_u64 (self->msg.body, "n", &n, NULL) == 0) {
        a->stamps = true;
        //  A hello starts the count afresh: a restarted agent stamps from 1
        if (strcmp (self->msg.type, "hello") == 0)
            a->read_n = a->told_n = n;
        else if (n > a->read_n)
            a->read_n = n;
    }
    const char *t = self->msg.type;
    if (a->waiting && (strcmp (t, "snap") == 0 || strcmp (t, "batch") == 0)) {
        //  Sent before the agent heard our retry: it sends it again after
        //  its next hello
    }
    else if (strcmp (t, "hello") == 0)
        s_on_hello (self, a, o, route, self->msg.body);
    else if (strcmp (t, "snap") == 0)
        s_on_snap (self, a, o, route, data, size, self->msg.body);
    else if (strcmp (t, "batch") == 0)
        s_on_batch (self, a, o, route, self->msg.body);
    else if (strcmp (t, "hb") == 0)
        s_on_heartbeat (self, a, o, route, self->msg.body);
    else {
        char err [96];
        snprintf (err, sizeof (err), "unknown message type '%s'", t);
        sf_ingest_reject (self, route, node, SF_REJ_TYPE, err);
    }
    //  Nothing said since enough was read (a snapshot's chunks are acked
    //  only once it is whole): credit, so that the agent's window never
    //  closes while we read (sf_codec.h, SF_AGENT_WINDOW)
    if (a->stamps && a->read_n - a->told_n >= SF_AGENT_CREDIT_EVERY) {
        msgpack_sbuffer_clear (&self->out);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &self->out, msgpack_sbuffer_write);
        sf_msg_begin (&pk, "credit", 1);
        sf_pack_ku64 (&pk, "read", a->read_n);
        a->told_n = a->read_n;
        s_send (self, route, node);
    }
    sf_msg_release (&self->msg);
}

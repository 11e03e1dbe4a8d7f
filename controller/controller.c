/*  controller.c — the controller daemon's threads and its ingest protocol
    (docs/protocol.md, "Agent protocol").

    The ingest loop drains whatever the agents' ROUTER socket holds, up to
    batch-records changes or batch-ms, into one LMDB write transaction, commits
    it, and only then acknowledges each origin's highest committed seq. Per
    origin it keeps the committed (generation, seq) and a staged copy for the
    open transaction; a failed commit drops the staged state and asks those
    agents for snapshots, so nothing is acknowledged that was not stored.

    Every message is checked before it touches storage: a malformed or
    forbidden message is answered with an error, counted and logged at a
    limited rate, and nothing else is affected. A bad record inside a batch is
    skipped by itself; its seq still counts, so the rest of the batch and the
    agent's later batches apply.
*/
#include "sf_controller.h"
#include "ctl.h"
#include "sf_api.h"
#include "sf_apply.h"
#include "sf_codec.h"
#include "sf_fleet.h"
#include "sf_gossip.h"
#include "sf_http.h"
#include "sf_live.h"
#include "sf_log.h"
#include "sf_metrics.h"
#include "sf_query.h"
#include "sf_security.h"
#include "sf_service.h"
#include "sf_feed.h"
#include "sf_store.h"
#include <czmq.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#define O(field) offsetof (sf_controller_config_t, field), sizeof (((sf_controller_config_t *) 0)->field)
const sf_option_t sf_controller_options [] = {
    { "config", SF_OPT_STR, O (config), NULL, 0, 0, "read options from this file (key = value lines)" },
    { "id", SF_OPT_STR, O (id), "", 0, 0, "this controller's id in the cluster (default: host name)" },
    { "data-dir", SF_OPT_STR, O (data_dir), "/var/lib/streamfleet", 0, 0, "LMDB environment directory" },
    { "cert", SF_OPT_STR, O (cert), "/etc/streamfleet/controller", 0, 0,
      "this controller's certificate (secret half at PATH_secret)" },
    { "certs-dir", SF_OPT_STR, O (certs_dir), "/etc/streamfleet/allowed", 0, 0,
      "directory of admitted public certificates (agents, CLI users, peers)" },
    { "agents", SF_OPT_STR, O (agents), "tcp://*:7600", 0, 0, "endpoint for agents" },
    { "query", SF_OPT_STR, O (query), "tcp://*:7601", 0, 0, "endpoint for CLI queries" },
    { "peers", SF_OPT_STR, O (peers), "tcp://*:7602", 0, 0, "endpoint for peer controllers" },
    { "seeds", SF_OPT_LIST, O (seeds), "", 0, 0, "peer controllers' endpoints to join (repeatable)" },
    { "advertise", SF_OPT_STR, O (advertise), "", 0, 0,
      "peers endpoint other controllers reach this one at (default: --peers, '*' as host name)" },
    { "http", SF_OPT_STR, O (http), "127.0.0.1:7680", 0, 0, "HTTP listener host:port (empty: off)" },
    { "http-token", SF_OPT_STR, O (http_token), "", 0, 0,
      "bearer token required by the HTTP API (required off loopback; or STREAMFLEET_HTTP_TOKEN)" },
    { "log-level", SF_OPT_STR, O (log_level), "info", 0, 0, "debug, info, warn or error" },
    { "log-format", SF_OPT_STR, O (log_format), "text", 0, 0, "text (one line per message) or json (one JSON object per line: ts, ident, level, msg)" },
    { "suspect-ms", SF_OPT_INT, O (suspect_ms), "3000", 100, 3600000, "a node is suspect after this silence" },
    { "down-ms", SF_OPT_INT, O (down_ms), "10000", 200, 3600000, "a node is down after this silence" },
    { "transfer-timeout", SF_OPT_INT, O (transfer_timeout_s), "120", 1, 86400,
      "seconds before an unfinished transfer is reported stuck" },
    { "history-days", SF_OPT_INT, O (history_days), "30", 1, 3650,
      "days of placement history (events) kept and replicated" },
    { "history-per-stream", SF_OPT_INT, O (history_per_stream), "1000", 1, 1000000,
      "events kept per stream at most (the newest)" },
    { "map-size-mb", SF_OPT_INT, O (map_size_mb), "1024", 16, 1048576, "initial LMDB map size (grows)" },
    { "batch-records", SF_OPT_INT, O (batch_records), "8192", 1, 1000000,
      "changes per write transaction at most" },
    { "batch-ms", SF_OPT_INT, O (batch_ms), "5", 0, 1000, "time one write transaction gathers changes" },
    { "gossip-ms", SF_OPT_INT, O (gossip_ms), "200", 10, 60000, "gossip interval between controllers" },
    { "peer-probe-ms", SF_OPT_INT, O (peer_probe_ms), "1000", 50, 600000,
      "a peer that does not answer in this time is probed through others" },
    { "peer-suspect-ms", SF_OPT_INT, O (peer_suspect_ms), "4000", 100, 3600000,
      "a suspect peer not heard from for this long is declared dead" },
    { "sync-ms", SF_OPT_INT, O (sync_ms), "1000", 0, 60000, "flush LMDB to disk this often (0: every commit)" },
    { "tombstone-grace", SF_OPT_INT, O (tombstone_grace_s), "86400", 60, 31536000,
      "seconds a deletion is remembered for peers that were away" },
    { "max-streams-per-node", SF_OPT_INT, O (max_streams_per_node), "200000", 1, SF_STREAMS_PER_NODE_MAX,
      "placements one node may hold" },
    { NULL }
};

//  ---------------------------------------------------------------------------
//  Origins: what the controller knows of each agent's change stream


static void
s_origin_destroy (sf_origin_t **self_p)
{
    if (*self_p) {
        zframe_destroy (&(*self_p)->route);
        zlistx_destroy (&(*self_p)->snap);
        free (*self_p);
        *self_p = NULL;
    }
}


sf_origin_t *
sf_ctl_origin (sf_ctl_t *c, const char *node)
{
    sf_origin_t *o = zhashx_lookup (c->origins, node);
    if (o)
        return o;
    o = calloc (1, sizeof (*o));
    if (!o)
        return NULL;
    snprintf (o->node, sizeof (o->node), "%s", node);
    o->snap = zlistx_new ();
    zlistx_set_destructor (o->snap, (zlistx_destructor_fn *) zframe_destroy);
    sf_node_init (&o->info);
    sf_read_t r;
    if (sf_store_read_begin (c->store, &r) == 0) {
        sf_store_get_origin (&r, node, &o->committed);
        if (sf_store_get_node (&r, node, &o->info))
            sf_node_init (&o->info);
        sf_store_read_end (&r);
    }
    snprintf (o->info.id, sizeof (o->info.id), "%s", node);
    o->staged = o->committed;
    zhashx_insert (c->origins, node, o);
    return o;
}

//  Never blocks: a reply an agent's queue will not take (it is not reading,
//  or gone) is dropped, counted and logged at a limited rate, naming the
//  node; the agent's next message brings the next ack (acks are cumulative)
void
sf_ctl_send (sf_ctl_t *c, zframe_t *route, msgpack_sbuffer *buf)
{
    if (!route)
        return;
    void *h = zsock_resolve (c->agents);
    if (zmq_send (h, zframe_data (route), zframe_size (route), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno ();
        const char *node = "an agent";
        for (sf_origin_t *o = zhashx_first (c->origins); o; o = zhashx_next (c->origins))
            if (o->route && zframe_eq (o->route, route)) {
                node = o->node;
                break;
            }
        atomic_fetch_add (&c->metrics.agent_replies_dropped, 1);
        sf_log_limited (&c->rl, SF_LOG_WARN, "ingest: dropped a reply to %s: %s", node,
                        e == EAGAIN ? "its queue is full (1000 replies waiting: it is not reading)"
                                    : "its connection is gone");
        return;
    }
    zmq_send (h, buf->data, buf->size, 0);
}

static void
s_reject (sf_ctl_t *c, zframe_t *route, const char *who, int reason, const char *error)
{
    sf_metrics_reject (&c->metrics, reason);
    sf_log_limited (&c->rl, SF_LOG_WARN, "ingest: rejected a message from %s (%s): %s", who,
                    sf_reject_name (reason), error);
    sf_msg_error (&c->out, sf_reject_name (reason), error);
    sf_ctl_send (c, route, &c->out);
}

void
sf_ctl_touch (sf_ctl_t *c, sf_origin_t *o)
{
    if (!o->touched) {
        o->touched = true;
        zlistx_add_end (c->touched, o);
    }
}

int
sf_ctl_txn (sf_ctl_t *c)
{
    if (c->txn_open)
        return 0;
    if (sf_store_write_begin (c->store))
        return -1;
    c->txn_open = true;
    c->txn_records = 0;
    return 0;
}

static void
s_resync (sf_ctl_t *c, sf_origin_t *o, zframe_t *route, const char *why)
{
    int64_t now = sf_mono_ms ();
    //  One request a second is enough: the agent answers with a snapshot
    if (now - o->resync_sent_ms < 1000)
        return;
    o->resync_sent_ms = now;
    atomic_fetch_add (&c->metrics.resyncs, 1);
    sf_info ("ingest: asking %s for a snapshot: %s", o->node, why);
    sf_msg_resync (&c->out, why);
    sf_ctl_send (c, route, &c->out);
}

//  Validates one stream record of origin o and writes it. Returns 0, or -1
//  with err set (the record is skipped; nothing was written).
static int
s_put_record (sf_ctl_t *c, sf_origin_t *o, const msgpack_object *rec, sf_version_t ver,
              int *reason, char *err)
{
    if (sf_stream_unpack (rec, &c->scratch, err)) {
        *reason = sf_codec_reason ();
        return -1;
    }
    if (c->scratch.node [0] && strcmp (c->scratch.node, o->node) != 0) {
        snprintf (err, SF_ERR_MAX, "record for node '%s' from the agent of node '%s'",
                  c->scratch.node, o->node);
        *reason = SF_REJ_FORBIDDEN;
        return -1;
    }
    snprintf (c->scratch.node, sizeof (c->scratch.node), "%s", o->node);
    c->scratch.version = ver;
    //  Derived fields are the controller's to set, never an agent's: a
    //  record claiming one is refused, so no agent can fake a migration
    const char *claim = c->scratch.type == SF_TYPE_MIGRATED ? "type 'migrated'"
                      : c->scratch.transfer ? "transfer"
                      : c->scratch.migrated_to [0] ? "migrated_to" : NULL;
    if (claim) {
        snprintf (err, SF_ERR_MAX, "record '%s': %s is derived by the controller, an agent may not send it",
                  c->scratch.name, claim);
        *reason = SF_REJ_FORBIDDEN;
        return -1;
    }
    if (c->scratch.status == SF_STATUS_OFFLINE)
        c->scratch.status = SF_STATUS_ERROR;
    if (sf_apply_put (c->store, &c->scratch)) {
        snprintf (err, SF_ERR_MAX, "storage refused the record");
        *reason = SF_REJ_STATE;
        return -1;
    }
    c->txn_records++;
    return 0;
}

static int
s_put_node_info (sf_ctl_t *c, sf_origin_t *o, const msgpack_object *obj, sf_version_t ver, char *err)
{
    sf_node_t n;
    if (sf_node_unpack (obj, &n, err))
        return -1;
    if (strcmp (n.id, o->node) != 0) {
        snprintf (err, SF_ERR_MAX, "node record '%s' from the agent of node '%s'", n.id, o->node);
        return -2;
    }
    //  Usage comes with heartbeats; keep the latest
    sf_node_t keep = o->info;
    o->info = n;
    o->info.cpu_pct = keep.cpu_pct;
    o->info.mem_used_bytes = keep.mem_used_bytes;
    o->info.mem_total_bytes = keep.mem_total_bytes;
    o->info.in_kbps = keep.in_kbps;
    o->info.out_kbps = keep.out_kbps;
    o->info.ndisks = keep.ndisks;
    memcpy (o->info.disks, keep.disks, sizeof (keep.disks));
    o->info.heartbeat = keep.heartbeat;
    o->info.stale = keep.stale;         //  heartbeats say it
    o->info.version = ver;
    o->info_dirty = true;
    return 0;
}

static void
s_on_hello (sf_ctl_t *c, sf_origin_t *o, zframe_t *route, const msgpack_object *body)
{
    uint64_t gen = 0, seq = 0;
    char err [SF_ERR_MAX];
    char node [SF_NODE_MAX + 1] = "";
    if (sf_map_u64 (body, "gen", &gen, err) || sf_map_u64 (body, "seq", &seq, err)
    ||  sf_map_str (body, "node", node, SF_NODE_MAX, err) < 0) {
        s_reject (c, route, o->node, SF_REJ_FIELD, "hello needs gen, seq and node");
        return;
    }
    if (node [0] && strcmp (node, o->node) != 0) {
        snprintf (err, sizeof (err), "hello as node '%s' with the certificate of node '%s'", node, o->node);
        s_reject (c, route, o->node, SF_REJ_FORBIDDEN, err);
        return;
    }
    zframe_destroy (&o->route);
    o->route = zframe_dup (route);
    zlistx_purge (o->snap);
    o->resync_sent_ms = 0;
    sf_info ("ingest: %s says hello (generation %llu, seq %llu; stored %llu/%llu)", o->node,
             (unsigned long long) gen, (unsigned long long) seq,
             (unsigned long long) o->committed.gen, (unsigned long long) o->committed.seq);
    //  The agent decides from this ack whether to resend or snapshot. Only
    //  what is committed counts: what the open transaction holds is resent
    //  and then skipped as a duplicate, never acknowledged early.
    sf_msg_ack (&c->out, o->committed.gen, o->committed.seq);
    sf_ctl_send (c, route, &c->out);
}

typedef struct {
    zhashx_t *present;
    zlistx_t *absent;
} s_absent_t;

static int
s_collect_absent (const sf_row_t *row, void *arg)
{
    s_absent_t *a = arg;
    if (!zhashx_lookup (a->present, row->name))
        zlistx_add_end (a->absent, strdup (row->name));
    return 0;
}

//  Deletes the node's placements whose names are not in present
static int
s_delete_absent (sf_ctl_t *c, sf_origin_t *o, zhashx_t *present, sf_version_t ver)
{
    s_absent_t a = { present, zlistx_new () };
    zlistx_set_destructor (a.absent, (zlistx_destructor_fn *) zstr_free);
    sf_read_t r;
    sf_store_write_view (c->store, &r);
    sf_store_scan_streams (&r, o->node, s_collect_absent, &a);
    int n = 0;
    for (char *name = zlistx_first (a.absent); name; name = zlistx_next (a.absent))
        if (sf_apply_del (c->store, o->node, name, ver) == 0)
            n++;
    zlistx_destroy (&a.absent);
    return n;
}

static void
s_apply_snapshot (sf_ctl_t *c, sf_origin_t *o, zframe_t *route)
{
    if (sf_ctl_txn (c))
        return;
    size_t applied = 0, skipped = 0;
    zhashx_t *present = zhashx_new ();     //  names in the snapshot
    char err [SF_ERR_MAX];
    for (zframe_t *f = zlistx_first (o->snap); f; f = zlistx_next (o->snap)) {
        if (sf_msg_parse (&c->chunk, zframe_data (f), zframe_size (f)))
            continue;           //  checked when it arrived
        const msgpack_object *changes = sf_map_get (c->chunk.body, "changes");
        for (uint32_t i = 0; changes && i < changes->via.array.size; i++) {
            const msgpack_object *ch = &changes->via.array.ptr [i];
            uint64_t seq = 0;
            const msgpack_object *put = sf_map_get (ch, "put");
            const msgpack_object *node = sf_map_get (ch, "node");
            int reason = SF_REJ_FIELD;
            int rc = -1;
            if (sf_map_u64 (ch, "seq", &seq, err) || seq == 0 || seq > o->snap_seq)
                snprintf (err, SF_ERR_MAX, "snapshot change without a seq in 1..%llu",
                          (unsigned long long) o->snap_seq);
            else if (put)
                rc = s_put_record (c, o, put, (sf_version_t) { o->snap_gen, seq }, &reason, err);
            else if (node) {
                rc = s_put_node_info (c, o, node, (sf_version_t) { o->snap_gen, seq }, err);
                if (rc == -2)
                    reason = SF_REJ_FORBIDDEN;
                if (rc == 0)
                    continue;
            }
            else
                snprintf (err, SF_ERR_MAX, "snapshot change is neither put nor node");
            if (rc) {
                skipped++;
                sf_metrics_reject (&c->metrics, reason);
                sf_log_limited (&c->rl, SF_LOG_WARN, "ingest: skipped a record in %s's snapshot: %s",
                                o->node, err);
            }
            else {
                applied++;
                zhashx_insert (present, c->scratch.name, (void *) 1);
            }
        }
    }
    //  What the node no longer has is deleted; what it still has was
    //  overwritten above, so unchanged placements see no delete and re-add.
    int deleted = s_delete_absent (c, o, present, (sf_version_t) { o->snap_gen, o->snap_seq });
    zhashx_destroy (&present);
    o->staged.gen = o->snap_gen;
    o->staged.seq = o->snap_seq;
    sf_store_set_origin (c->store, o->node, o->staged);
    o->info_dirty = true;
    o->ack_due = true;
    sf_ctl_touch (c, o);
    zlistx_purge (o->snap);
    atomic_fetch_add (&c->metrics.snapshots, 1);
    atomic_fetch_add (&c->metrics.records_in, applied);
    sf_info ("ingest: snapshot of %s applied: %zu placements (%zu skipped, %d deleted) at %llu/%llu",
             o->node, applied, skipped, deleted,
             (unsigned long long) o->snap_gen, (unsigned long long) o->snap_seq);
}

static void
s_on_snap (sf_ctl_t *c, sf_origin_t *o, zframe_t *route, zframe_t *payload, const msgpack_object *body)
{
    uint64_t gen = 0, seq = 0, index = 0;
    bool last = false;
    char err [SF_ERR_MAX];
    const msgpack_object *recs = sf_map_get (body, "changes");
    if (sf_map_u64 (body, "gen", &gen, err) || sf_map_u64 (body, "seq", &seq, err)
    ||  sf_map_u64 (body, "index", &index, err) || sf_map_bool (body, "last", &last, err) < 0
    ||  !recs || recs->type != MSGPACK_OBJECT_ARRAY) {
        s_reject (c, route, o->node, SF_REJ_FIELD, "snap needs gen, seq, index, last and changes[]");
        return;
    }
    if (gen < o->staged.gen) {
        s_reject (c, route, o->node, SF_REJ_STATE, "snapshot of an older generation ignored");
        return;
    }
    if (index == 0 || gen != o->snap_gen || seq != o->snap_seq) {
        zlistx_purge (o->snap);
        o->snap_records = 0;
        o->snap_gen = gen;
        o->snap_seq = seq;
        if (index != 0) {
            s_resync (c, o, route, "snapshot chunk out of order");
            return;
        }
    }
    if (index != zlistx_size (o->snap)) {
        zlistx_purge (o->snap);
        s_resync (c, o, route, "snapshot chunk missing");
        return;
    }
    o->snap_records += recs->via.array.size;
    if (o->snap_records > (size_t) c->cfg->max_streams_per_node) {
        zlistx_purge (o->snap);
        snprintf (err, sizeof (err), "snapshot holds more than %lld placements (max-streams-per-node)",
                  (long long) c->cfg->max_streams_per_node);
        s_reject (c, route, o->node, SF_REJ_BOUNDS, err);
        return;
    }
    zlistx_add_end (o->snap, zframe_dup (payload));
    zframe_destroy (&o->route);
    o->route = zframe_dup (route);
    if (last)
        s_apply_snapshot (c, o, route);
}

static void
s_on_batch (sf_ctl_t *c, sf_origin_t *o, zframe_t *route, const msgpack_object *body)
{
    uint64_t gen = 0;
    char err [SF_ERR_MAX];
    const msgpack_object *changes = sf_map_get (body, "changes");
    if (sf_map_u64 (body, "gen", &gen, err) || !changes || changes->type != MSGPACK_OBJECT_ARRAY) {
        s_reject (c, route, o->node, SF_REJ_FIELD, "batch needs gen and changes[]");
        return;
    }
    zframe_destroy (&o->route);
    o->route = zframe_dup (route);
    if (gen != o->staged.gen) {
        if (gen > o->staged.gen)
            s_resync (c, o, route, "new generation");
        return;
    }
    if (sf_ctl_txn (c))
        return;
    for (uint32_t i = 0; i < changes->via.array.size; i++) {
        const msgpack_object *ch = &changes->via.array.ptr [i];
        uint64_t seq = 0;
        if (ch->type != MSGPACK_OBJECT_MAP || sf_map_u64 (ch, "seq", &seq, err)) {
            s_reject (c, route, o->node, SF_REJ_FIELD, "every change needs a seq");
            break;
        }
        if (seq <= o->staged.seq)
            continue;                   //  already applied: a resend
        if (seq != o->staged.seq + 1) {
            s_resync (c, o, route, "gap in seq");
            break;
        }
        sf_version_t ver = { gen, seq };
        const msgpack_object *put = sf_map_get (ch, "put");
        const msgpack_object *node = sf_map_get (ch, "node");
        char name [SF_NAME_MAX + 1];
        int reason = SF_REJ_FIELD;
        int rc = 0;
        if (put)
            rc = s_put_record (c, o, put, ver, &reason, err);
        else if (sf_map_str (ch, "del", name, SF_NAME_MAX, err) == 0) {
            rc = sf_apply_del (c->store, o->node, name, ver);
            if (rc)
                snprintf (err, sizeof (err), "storage refused the deletion"), reason = SF_REJ_STATE;
            c->txn_records++;
        }
        else if (node) {
            rc = s_put_node_info (c, o, node, ver, err);
            if (rc == -2)
                reason = SF_REJ_FORBIDDEN;
        }
        else {
            snprintf (err, sizeof (err), "change %llu is neither put, del nor node",
                      (unsigned long long) seq);
            rc = -1;
        }
        if (rc)
            s_reject (c, route, o->node, reason, err);
        else
            atomic_fetch_add (&c->metrics.records_in, 1);
        //  A rejected change still consumes its seq: the agent moves on
        o->staged.seq = seq;
    }
    sf_store_set_origin (c->store, o->node, o->staged);
    o->ack_due = true;
    sf_ctl_touch (c, o);
}

static void
s_on_heartbeat (sf_ctl_t *c, sf_origin_t *o, zframe_t *route, const msgpack_object *body)
{
    uint64_t gen = 0, counter = 0;
    char err [SF_ERR_MAX];
    if (sf_map_u64 (body, "gen", &gen, err) || sf_map_u64 (body, "counter", &counter, err)) {
        s_reject (c, route, o->node, SF_REJ_FIELD, "heartbeat needs gen and counter");
        return;
    }
    //  A stale agent has not read its media server: what we hold of the
    //  node is its last good state, kept (never replaced by an empty one)
    bool stale = false;
    if (sf_map_bool (body, "stale", &stale, err) < 0)
        s_reject (c, route, o->node, SF_REJ_FIELD, err);
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
            s_reject (c, route, o->node, SF_REJ_FIELD, err);
    }
    sf_live_beat (c->live, o->node, gen, counter, sf_mono_ms ());
    o->info.heartbeat = counter;
    o->info_dirty = true;
    atomic_fetch_add (&c->metrics.heartbeats, 1);
    zframe_destroy (&o->route);
    o->route = zframe_dup (route);
    o->ack_due = true;
    sf_ctl_touch (c, o);
}

//  Handles one message from an agent
static void
s_ingest_one (sf_ctl_t *c, zframe_t *route, zframe_t *payload)
{
    atomic_fetch_add (&c->metrics.messages_in, 1);
    //  Looked up again for every message: a certificate removed from the
    //  directory, or whose role or node changed, counts from the next one
    sf_peer_t who, *peer = &who;
    if (sf_peers_lookup (c->peers, payload, &who)) {
        s_reject (c, route, "a key no longer admitted", SF_REJ_FORBIDDEN,
                  "this certificate is not in the controller's certificate directory");
        return;
    }
    if (!sf_peer_admits (peer, SF_ENDPOINT_AGENTS)) {
        s_reject (c, route, peer->name, SF_REJ_FORBIDDEN,
                  "only agent certificates with a node id may send to this endpoint");
        return;
    }
    if (sf_msg_parse (&c->msg, zframe_data (payload), zframe_size (payload))) {
        s_reject (c, route, peer->node, c->msg.reason, c->msg.error);
        return;
    }
    sf_origin_t *o = sf_ctl_origin (c, peer->node);
    if (!o)
        return;
    const char *t = c->msg.type;
    if (strcmp (t, "hello") == 0)
        s_on_hello (c, o, route, c->msg.body);
    else if (strcmp (t, "snap") == 0)
        s_on_snap (c, o, route, payload, c->msg.body);
    else if (strcmp (t, "batch") == 0)
        s_on_batch (c, o, route, c->msg.body);
    else if (strcmp (t, "hb") == 0)
        s_on_heartbeat (c, o, route, c->msg.body);
    else {
        char err [96];
        snprintf (err, sizeof (err), "unknown message type '%s'", t);
        s_reject (c, route, peer->node, SF_REJ_TYPE, err);
    }
}

//  Commits the open transaction and acknowledges what it stored
void
sf_ctl_commit (sf_ctl_t *c)
{
    if (!c->txn_open && zlistx_size (c->touched) == 0)
        return;
    if (!c->txn_open && sf_ctl_txn (c))
        return;
    for (sf_origin_t *o = zlistx_first (c->touched); o; o = zlistx_next (c->touched))
        if (o->info_dirty) {
            sf_store_put_node (c->store, &o->info);
            o->info_dirty = false;
        }
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    int rc = sf_store_commit (c->store);
    clock_gettime (CLOCK_MONOTONIC, &t1);
    //  The count bounds the open transaction, so it ends with it: a count
    //  left at its bound would stop the ingest loop reading (issue 12)
    c->txn_open = false;
    c->txn_records = 0;
    if (rc == 0) {
        int64_t us = (t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
        sf_metrics_commit (&c->metrics, us);
        if (c->cfg->sync_ms == 0)
            sf_store_sync (c->store);
    }
    for (sf_origin_t *o = zlistx_first (c->touched); o; o = zlistx_next (c->touched)) {
        if (rc == 0) {
            o->committed = o->staged;
            if (o->ack_due) {
                sf_msg_ack (&c->out, o->committed.gen, o->committed.seq);
                sf_ctl_send (c, o->route, &c->out);
            }
        }
        else {
            //  Nothing of this transaction was stored: forget it and let the
            //  agent send it again as a snapshot.
            o->staged = o->committed;
            zlistx_purge (o->snap);
            o->resync_sent_ms = 0;
            s_resync (c, o, o->route, "controller could not store the last changes");
        }
        o->ack_due = false;
        o->touched = false;
    }
    zlistx_purge (c->touched);
    if (rc == SF_STORE_RETRY)
        atomic_fetch_add (&c->metrics.map_grows, 1);
}

static void
s_ingest_loop (sf_ctl_t *c)
{
    int64_t last_sync = sf_mono_ms (), last_check = last_sync, last_gc = last_sync, last_fleet = last_sync;
    int64_t last_sweep = last_sync;
    void *sock = zsock_resolve (c->agents);
    zmq_pollitem_t items [256];
    while (!zsys_interrupted && !atomic_load (&c->stop)) {
        items [0] = (zmq_pollitem_t) { sock, 0, ZMQ_POLLIN, 0 };
        int n = 1;
        if (c->gossip)
            n += sf_gossip_pollitems (c->gossip, items + 1, 255);
        if (zmq_poll (items, n, c->gossip ? 20 : 100) < 0 && zmq_errno () == EINTR)
            continue;
        if (items [0].revents & ZMQ_POLLIN) {
            if (sf_store_maybe_grow (c->store) > 0)
                atomic_fetch_add (&c->metrics.map_grows, 1);
            int64_t start = sf_mono_ms ();
            //  Drain into one transaction: bounded in records and time
            while (c->txn_records < (size_t) c->cfg->batch_records
               &&  sf_mono_ms () - start <= c->cfg->batch_ms) {
                zmq_pollitem_t item = { sock, 0, ZMQ_POLLIN, 0 };
                if (zmq_poll (&item, 1, 0) <= 0)
                    break;
                zmsg_t *m = zmsg_recv (c->agents);
                if (!m)
                    break;
                zframe_t *route = zmsg_pop (m);
                zframe_t *payload = zmsg_pop (m);
                if (route && payload && zmsg_size (m) == 0)
                    s_ingest_one (c, route, payload);
                else {
                    //  Say so to the sender when we know where it is
                    char why [96];
                    snprintf (why, sizeof (why), "a message must be one frame, not %zu",
                              zmsg_size (m) + (payload ? 1 : 0));
                    if (route)
                        s_reject (c, route, "a sender", SF_REJ_MALFORMED, why);
                    else
                        sf_metrics_reject (&c->metrics, SF_REJ_MALFORMED);
                }
                zframe_destroy (&route);
                zframe_destroy (&payload);
                zmsg_destroy (&m);
                sf_msg_release (&c->msg);
            }
            sf_ctl_commit (c);
        }
        if (c->gossip) {
            //  Agents first: their changes are committed before peers read
            sf_gossip_handle (c->gossip, items + 1, n - 1);
            sf_gossip_tick (c->gossip);
        }
        int64_t now = sf_mono_ms ();
        if (now - last_sweep >= 200) {
            sf_live_sweep (c->live, now);
            last_sweep = now;
        }
        if (c->cfg->sync_ms > 0 && now - last_sync >= c->cfg->sync_ms) {
            sf_store_sync (c->store);
            last_sync = now;
        }
        if (now - last_check >= 60000) {
            int dead = sf_store_reader_check (c->store);
            if (dead)
                sf_info ("store: cleared %d stale reader slots", dead);
            last_check = now;
        }
        if (now - last_fleet >= 1000) {
            //  Nodes declared down or back are inputs of the placement state
            if (sf_fleet_tick_due (c->store) > 0 && sf_ctl_txn (c) == 0) {
                sf_fleet_tick (c->store);
                sf_ctl_commit (c);
            }
            last_fleet = now;
        }
        if (now - last_gc >= 60000 && sf_ctl_txn (c) == 0) {
            int gone = sf_store_gc_tombstones (c->store, sf_now_ms () - c->cfg->tombstone_grace_s * 1000);
            sf_fleet_history_prune (c->store);
            sf_ctl_commit (c);
            if (gone > 0)
                sf_info ("store: collected %d tombstones older than %llds", gone,
                         (long long) c->cfg->tombstone_grace_s);
            last_gc = now;
        }
    }
}

//  ---------------------------------------------------------------------------
//  Query thread: the CLI's ROUTER socket

typedef struct {
    sf_ctl_t *ctl;
    zsock_t *sock;
    zcert_t *cert;
} s_query_thread_t;

//  Sends one reply, never blocking and never queueing more than
//  S_QUERY_QUEUED replies for a client: a client that does not read its
//  replies loses the next ones (counted and logged), the others are served
#define S_QUERY_QUEUED 4
#define S_QUERY_QUEUED_TEXT "4 replies"

static void
s_query_reply (sf_ctl_t *c, zsock_t *sock, zframe_t *route, const sf_peer_t *peer,
               msgpack_sbuffer *reply, sf_ratelimit_t *rl)
{
    void *handle = zsock_resolve (sock);
    if (zmq_send (handle, zframe_data (route), zframe_size (route), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno ();
        atomic_fetch_add (&c->metrics.query_replies_dropped, 1);
        sf_log_limited (rl, SF_LOG_WARN, "query: dropped a reply to %s: %s", peer ? peer->name : "a client",
                        e == EAGAIN ? "it is not reading its replies (" S_QUERY_QUEUED_TEXT
                                      " already queued)" : "it is gone");
        return;
    }
    //  The routing frame went out, so the body goes to the same pipe
    zmq_send (handle, reply->data, reply->size, 0);
}

static void *
s_query_main (void *arg)
{
    s_query_thread_t *q = arg;
    sf_ctl_t *c = q->ctl;
    sf_msg_t msg;
    sf_msg_init (&msg);
    msgpack_sbuffer reply;
    msgpack_sbuffer_init (&reply);
    sf_ratelimit_t rl = SF_RATELIMIT_INIT (10, 10000);
    zpoller_t *poller = zpoller_new (q->sock, NULL);
    while (!atomic_load (&c->stop)) {
        if (zpoller_wait (poller, 200) != q->sock)
            continue;
        zmsg_t *m = zmsg_recv (q->sock);
        if (!m)
            continue;
        zframe_t *route = zmsg_pop (m);
        zframe_t *payload = zmsg_pop (m);
        if (route && payload) {
            sf_peer_t who;
            const sf_peer_t *peer = sf_peers_lookup (c->peers, payload, &who) == 0 ? &who : NULL;
            if (!peer) {
                sf_metrics_reject (&c->metrics, SF_REJ_FORBIDDEN);
                sf_msg_error (&reply, "forbidden",
                              "this certificate is not in the controller's certificate directory");
            }
            else if (!sf_peer_admits (peer, SF_ENDPOINT_QUERY)) {
                sf_metrics_reject (&c->metrics, SF_REJ_FORBIDDEN);
                sf_log_limited (&rl, SF_LOG_WARN, "query: refused a request from %s: role '%s'",
                                peer->name, peer->role);
                sf_msg_error (&reply, "forbidden", "queries need a cli, peer or controller certificate");
            }
            else if (sf_msg_parse (&msg, zframe_data (payload), zframe_size (payload))) {
                sf_metrics_reject (&c->metrics, msg.reason);
                sf_log_limited (&rl, SF_LOG_WARN, "query: rejected a request from %s: %s",
                                peer->name, msg.error);
                sf_msg_error (&reply, sf_reject_name (msg.reason), msg.error);
            }
            else {
                sf_api_handle (&c->query, &msg, &reply);
                atomic_fetch_add (&c->metrics.queries, 1);
            }
            s_query_reply (c, q->sock, route, peer, &reply, &rl);
            sf_msg_release (&msg);
        }
        zframe_destroy (&route);
        zframe_destroy (&payload);
        zmsg_destroy (&m);
    }
    zpoller_destroy (&poller);
    msgpack_sbuffer_destroy (&reply);
    sf_msg_release (&msg);
    return NULL;
}

//  ---------------------------------------------------------------------------

typedef struct {
    sf_live_t *live;
    int64_t now;
} s_know_t;

static int
s_know_node (const sf_node_t *n, void *arg)
{
    s_know_t *k = arg;
    sf_live_know (k->live, n->id, k->now);
    return 0;
}

//  Nodes known from storage count from now: a restarted controller gives
//  every node its full down-ms to say hello before calling it down. Only the
//  ids are needed: no stream counting at start-up.
static void
s_know_nodes (sf_ctl_t *c)
{
    sf_read_t r;
    if (sf_store_read_begin (c->store, &r))
        return;
    s_know_t k = { c->live, sf_mono_ms () };
    sf_store_scan_nodes (&r, s_know_node, &k);
    sf_store_read_end (&r);
}

static int
s_collect_origin (const char *node, sf_version_t v, void *arg)
{
    zlistx_add_end ((zlistx_t *) arg, strdup (node));
    return 0;
}

static int
s_load_origin (const char *node, sf_version_t v, void *arg)
{
    sf_ctl_origin ((sf_ctl_t *) arg, node);
    return 0;
}

//  Every origin known to storage: the gossip digest names them all
static void
s_load_origins (sf_ctl_t *c)
{
    sf_read_t r;
    if (sf_store_read_begin (c->store, &r))
        return;
    zlistx_t *names = zlistx_new ();
    zlistx_set_destructor (names, (zlistx_destructor_fn *) zstr_free);
    sf_store_scan_origins (&r, s_collect_origin, names);
    sf_store_read_end (&r);
    //  sf_ctl_origin opens its own read transaction: after ours has ended
    for (char *n = zlistx_first (names); n; n = zlistx_next (names))
        s_load_origin (n, (sf_version_t) { 0, 0 }, c);
    zlistx_destroy (&names);
}

//  sndhwm: messages queued per connection. Set before bind: it applies to
//  the connections made after it is set
static zsock_t *
s_server_socket (const char *endpoint, zcert_t *cert, const char *what, int sndhwm, bool mandatory)
{
    zsock_t *s = zsock_new (ZMQ_ROUTER);
    if (!s)
        return NULL;
    sf_sock_curve_server (s, cert);
    zsock_set_router_mandatory (s, mandatory);
    //  Per connection. An agent that meets a full queue keeps its changes
    //  (they are not acknowledged) and sends them later: backpressure, not loss
    zsock_set_sndhwm (s, sndhwm);
    zsock_set_rcvhwm (s, 200);
    zsock_set_linger (s, 0);
    if (zsock_bind (s, "%s", endpoint) < 0) {
        sf_error ("cannot listen for %s on %s: %s (is another controller running there?)", what,
                  endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&s);
        return NULL;
    }
    return s;
}

//  GET /readyz: the store is open and the read model loaded before HTTP
//  starts, so what is left is catching up with the peer controllers.
static bool
s_ready (void *arg, char *why, size_t whylen)
{
    sf_ctl_t *c = arg;
    return c->gossip ? sf_gossip_ready (c->gossip, why, whylen) : true;
}

//  The store's one observer, fanned out: the read model first (queries must
//  see a commit before its acks go), then the change feed
static struct {
    sf_readmodel_t *model;
    sf_feed_t *feed;
} s_observed;

static void
s_observe (void *arg, const sf_store_change_t *changes, size_t count)
{
    sf_readmodel_observe (s_observed.model, changes, count);
    sf_feed_observer (s_observed.feed, changes, count);
}

int
sf_controller_run (sf_controller_config_t *cfg)
{
    int level = sf_log_level_parse (cfg->log_level);
    if (level < 0) {
        sf_error ("--log-level: '%s' is not debug, info, warn or error", cfg->log_level);
        return 2;
    }
    sf_log_set_level (level);
    if (cfg->down_ms <= cfg->suspect_ms) {
        sf_error ("--down-ms (%lld) must be larger than --suspect-ms (%lld)",
                  (long long) cfg->down_ms, (long long) cfg->suspect_ms);
        return 2;
    }
    const char *env_token = getenv ("STREAMFLEET_HTTP_TOKEN");
    if (!cfg->http_token [0] && env_token)
        snprintf (cfg->http_token, sizeof (cfg->http_token), "%s", env_token);
    char err [512];
    zcert_t *cert = sf_cert_load (cfg->cert, err, sizeof (err));
    if (!cert) {
        sf_error ("%s", err);
        return 3;
    }
    if (!zsys_file_exists (cfg->certs_dir)) {
        sf_error ("certificate directory %s does not exist (--certs-dir)", cfg->certs_dir);
        zcert_destroy (&cert);
        return 3;
    }
    static sf_ctl_t ctl;
    sf_ctl_t *c = &ctl;
    memset (c, 0, sizeof (*c));
    c->cfg = cfg;
    sf_metrics_init (&c->metrics);
    sf_msg_init (&c->msg);
    sf_msg_init (&c->chunk);
    sf_stream_init (&c->scratch);
    msgpack_sbuffer_init (&c->out);
    c->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (20, 10000);
    int rc = 1;
    c->store = sf_store_new (cfg->data_dir, (size_t) cfg->map_size_mb << 20, err, sizeof (err));
    if (!c->store) {
        sf_error ("%s", err);
        zcert_destroy (&cert);
        return 3;
    }
    c->live = sf_live_new (cfg->suspect_ms, cfg->down_ms);
    sf_fleet_set_live (c->live);
    sf_fleet_set_history (cfg->history_days, (uint32_t) cfg->history_per_stream);
    c->query = (sf_query_ctx_t) { .store = c->store, .live = c->live,
                                  .transfer_timeout_s = cfg->transfer_timeout_s };
    //  The read model: rebuilt from LMDB, then fed by every commit before its
    //  acks (the store's observer)
    int64_t model_t0 = sf_mono_ms ();
    sf_readmodel_t *model = sf_readmodel_new ();
    if (sf_readmodel_load (model, c->store))
        sf_error ("read model: cannot read the store; listings start empty");
    //  Every commit feeds the read model, then the change feed (`changes`,
    //  streamfleet watch, GET /api/v1/changes)
    s_observed.model = model;
    s_observed.feed = sf_feed_new (65536);
    sf_store_set_observer (c->store, s_observe, &s_observed);
    c->query.model = model;
    c->query.feed = s_observed.feed;
    sf_info ("read model: %zu placements in %lld ms, %zu KiB", sf_readmodel_size (model),
             (long long) (sf_mono_ms () - model_t0), sf_readmodel_bytes (model) >> 10);
    c->origins = zhashx_new ();
    zhashx_set_destructor (c->origins, (zhashx_destructor_fn *) s_origin_destroy);
    c->touched = zlistx_new ();
    c->peers = sf_peers_new (cfg->certs_dir);
    c->cert = cert;
    s_know_nodes (c);
    s_load_origins (c);

    //  Our own ZAP handler, not czmq's zauth: it admits from the same
    //  certificates every message is checked against, and logs refusals
    zactor_t *auth = zactor_new (sf_zap_actor, c->peers);
    if (!auth) {
        sf_error ("security: cannot start the ZAP handler");
        sf_peers_destroy (&c->peers);
        sf_store_destroy (&c->store);
        zcert_destroy (&cert);
        return 3;
    }

    zsock_t *qsock = NULL;
    sf_http_t *http = NULL;
    pthread_t qthread;
    bool qstarted = false;
    c->agents = s_server_socket (cfg->agents, cert, "agents", 1000, true);
    qsock = c->agents ? s_server_socket (cfg->query, cert, "queries", S_QUERY_QUEUED, true) : NULL;
    if (!c->agents || !qsock)
        goto done;
    s_query_thread_t qt = { c, qsock, cert };
    if (pthread_create (&qthread, NULL, s_query_main, &qt)) {
        sf_error ("cannot start the query thread");
        goto done;
    }
    qstarted = true;
    if (cfg->peers [0]) {
        c->gossip = sf_gossip_new (c, err, sizeof (err));
        if (!c->gossip) {
            sf_error ("gossip: %s", err);
            goto done;
        }
        c->query.cluster_fn = sf_gossip_cluster;
        c->query.cluster_arg = c->gossip;
    }
    if (cfg->http [0]) {
        http = sf_http_new (&c->query, &c->metrics, cfg->http, cfg->http_token, err, sizeof (err));
        if (!http) {
            sf_error ("HTTP: %s", err);
            rc = 2;
            goto done;
        }
        sf_http_set_ready (http, s_ready, c);
    }
    sf_info ("controller %s ready: agents %s, queries %s, http %s, data %s", cfg->id, cfg->agents,
             cfg->query, cfg->http [0] ? cfg->http : "off", cfg->data_dir);
    sf_service_ready ("serving agents and queries");
    s_ingest_loop (c);
    if (c->txn_open)
        sf_ctl_commit (c);
    rc = 0;
    sf_info ("controller %s stopping", cfg->id);
    sf_service_stopping ();
done:
    atomic_store (&c->stop, true);
    if (qstarted)
        pthread_join (qthread, NULL);
    sf_http_destroy (&http);
    c->query.cluster_fn = NULL;
    sf_gossip_destroy (&c->gossip);
    zsock_destroy (&qsock);
    zsock_destroy (&c->agents);
    zactor_destroy (&auth);
    zhashx_destroy (&c->origins);
    zlistx_destroy (&c->touched);
    sf_peers_destroy (&c->peers);
    sf_live_destroy (&c->live);
    sf_store_destroy (&c->store);
    sf_readmodel_destroy (&model);
    sf_feed_destroy (&s_observed.feed);
    sf_msg_release (&c->msg);
    sf_msg_release (&c->chunk);
    sf_stream_clear (&c->scratch);
    msgpack_sbuffer_destroy (&c->out);
    zcert_destroy (&cert);
    return rc;
}

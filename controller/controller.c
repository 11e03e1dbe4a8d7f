/*  controller.c — the controller daemon: its threads, sockets and start-up.

    Threads (docs/architecture.md, "Threads"):
      agents   owns the agents' ROUTER socket (controller/agentio.c): reads it
               continuously into bounded per-connection queues, sends the
               replies the ingest loop hands it.
      ingest   this file's loop: takes the agents' messages from those queues,
               one per connection in turn, and hands each to the agent
               protocol (controller/ingest.c), runs the
               gossip protocol (controller/gossip.c) and its timers; both stage
               their changes in the one write session (controller/writer.c),
               which this loop commits. The only LMDB writer.
      query    answers the CLI's ROUTER socket from read transactions; it is
               given only what it reads (s_query_thread_t), never the ingest
               state.
      http     libmicrohttpd's threads (controller/http.c), with the same
               read-only context as the query thread.
    What the threads share is said at each field: the store (LMDB readers
    never block the writer), the liveness table (locked), the metrics
    (atomics), the peers cache (sf_security.h) and the stop flag.

    The ingest loop drains whatever the agents' queues hold, up to
    batch-records changes or batch-ms, into one write transaction, commits it,
    and only then acknowledges each origin's highest committed seq.
*/
#include "sf_controller.h"
#include "sf_agentio.h"
#include "sf_alerts.h"
#include "sf_api.h"
#include "sf_webhook.h"
#include "sf_codec.h"
#include "sf_fleet.h"
#include "sf_gossip.h"
#include "sf_http.h"
#include "sf_ingest.h"
#include "sf_live.h"
#include "sf_log.h"
#include "sf_metrics.h"
#include "sf_patchlog.h"
#include "sf_query.h"
#include "sf_security.h"
#include "sf_service.h"
#include "sf_feed.h"
#include "sf_store.h"
#include "sf_writer.h"
#include <czmq.h>
#include <malloc.h>
#include <sodium.h>
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
      "bearer token required by the HTTP API (required off loopback; or STREAMFLEET_HTTP_TOKEN); "
      "visible in the process list: prefer --http-token-file" },
    { "http-token-file", SF_OPT_STR, O (http_token_file), "", 0, 0,
      "file whose first line is the HTTP API's bearer token (keep it mode 0600)" },
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
    { "gossip-patches", SF_OPT_BOOL, O (gossip_patches), "true", 0, 0,
      "send peers field-level patches and take theirs (false: whole records only, as a peer "
      "older than patches)" },
    { "gossip-relay-ms", SF_OPT_INT, O (gossip_relay_ms), "2000", 0, 60000,
      "a node whose agent talks to another controller: its changes a peer lacks are relayed "
      "only once that peer is this far behind (0: at once)" },
    { "peer-probe-ms", SF_OPT_INT, O (peer_probe_ms), "1000", 50, 600000,
      "a peer that does not answer in this time is probed through others" },
    { "peer-suspect-ms", SF_OPT_INT, O (peer_suspect_ms), "4000", 100, 3600000,
      "a suspect peer not heard from for this long is declared dead" },
    { "sync-ms", SF_OPT_INT, O (sync_ms), "1000", 0, 60000, "flush LMDB to disk this often (0: every commit)" },
    { "store-ordered", SF_OPT_BOOL, O (store_ordered), "false", 0, 0,
      "each commit flushes its pages before its meta page (MDB_NOMETASYNC): a host crash "
      "undoes at most the last commit and cannot damage the store; one fdatasync per commit" },
    { "tombstone-grace", SF_OPT_INT, O (tombstone_grace_s), "86400", 60, 31536000,
      "seconds a deletion is remembered for peers that were away" },
    { "max-streams-per-node", SF_OPT_INT, O (max_streams_per_node), "200000", 1, SF_STREAMS_PER_NODE_MAX,
      "placements one node may hold" },
    { "alert", SF_OPT_LINES, O (alert), "", 0, 0,
      "an alert rule: NAME CONDITION [for=DUR] [resolve=DUR] [filter=…] [name=…] [node=…] "
      "[to=WEBHOOK,…] (repeatable; docs/operations.md, Alerts)" },
    { "web-url", SF_OPT_STR, O (web_url), "", 0, 0,
      "the web page's address as operators reach it, for links in alerts (default: http://HTTP/)" },
    { "webhook", SF_OPT_LINES, O (webhook), "", 0, 0,
      "an alert webhook: NAME URL [secret-file=PATH] (repeatable; docs/http-api.md, Alert webhooks)" },
    { "webhook-retries", SF_OPT_INT, O (webhook_retries), "12", 0, 1000,
      "failed attempts before a delivery becomes a dead letter" },
    { "webhook-backoff-ms", SF_OPT_INT, O (webhook_backoff_ms), "1000", 10, 3600000,
      "wait before the first retry; doubles with each" },
    { "webhook-backoff-max-ms", SF_OPT_INT, O (webhook_backoff_max_ms), "300000", 10, 86400000,
      "longest wait between retries" },
    { "webhook-timeout-ms", SF_OPT_INT, O (webhook_timeout_ms), "5000", 100, 600000,
      "one delivery attempt's limit (connect and answer)" },
    { "webhook-standby-ms", SF_OPT_INT, O (webhook_standby_ms), "0", 0, 86400000,
      "deprecated and ignored: a standby copy now waits for its owner's confirmation "
      "(--webhook-standby-max-ms bounds it)" },
    { "webhook-dead-letters-max", SF_OPT_INT, O (webhook_dead_letters_max), "10000", 1, 10000000,
      "dead letters kept per webhook; beyond, the oldest are dropped (counted in "
      "streamfleet_webhook_dead_letters_dropped_total)" },
    { "webhook-standby-max-ms", SF_OPT_INT, O (webhook_standby_max_ms), "86400000", 1000, 604800000,
      "a delivery another controller owns is kept until that controller confirms it (and sent "
      "if it dies first); one never confirmed is dropped after this long, counted and logged" },
    { NULL }
};

//  ---------------------------------------------------------------------------
//  The daemon's state

typedef struct {
    sf_controller_config_t *cfg;    //  read-only after start
    sf_store_t *store;              //  all threads (own transactions)
    sf_live_t *live;                //  all threads (locked inside)
    sf_metrics_t metrics;           //  all threads (atomics)
    sf_peers_t *peers;              //  ingest and query threads (sf_security.h)
    atomic_bool stop;               //  all threads
    sf_query_ctx_t query;           //  query and HTTP threads: set before they start
    //  Set before the other threads start; then sf_gossip_cluster and
    //  sf_gossip_ready are the only calls made from them (s_ready, query)
    sf_gossip_t *gossip;
    sf_gossip_ext_t gossip_ext;     //  what gossip carries of the alerts (sf_alerts_gossip_ext)
    sf_alerts_ext_t alerts_ext;
    //  Ingest thread only
    sf_writer_t *writer;
    sf_ingest_t *ingest;
    sf_patchlog_t *patches;         //  the last patch per placement, for gossip
    sf_alerts_t *alerts;            //  inputs from this thread; readers lock (sf_alerts.h)
    sf_webhooks_t *webhooks;        //  its own thread; the ingest thread hands it alerts
    //  The agents' socket, owned by its own thread (sf_agentio.h): this
    //  thread takes their messages from it and hands it the replies
    sf_agentio_t *agents;
    sf_ratelimit_t rl;
    bool flusher;                   //  the writer's flusher thread flushes (--sync-ms N > 0)
} s_ctl_t;

//  The agent protocol's replies go to the agents' socket thread, which sends
//  them never blocking: a reply an agent's queue will not take (it is not
//  reading, or gone) is dropped, counted and logged at a limited rate, naming
//  the node; the agent's next message brings the next ack (acks are
//  cumulative)
static void
s_send_agent (zframe_t *route, const char *node, const void *data, size_t size, void *arg)
{
    s_ctl_t *c = arg;
    if (sf_agentio_send (c->agents, route, node, data, size)) {
        atomic_fetch_add (&c->metrics.agent_replies_dropped, 1);
        sf_log_limited (&c->rl, SF_LOG_WARN, "ingest: dropped a reply to %s: %s", node,
                        "100,000 replies waiting for the agents' socket thread");
    }
}

//  Hands one message from the agents' socket to the agent protocol
static void
s_ingest_one (s_ctl_t *c, zframe_t *route, zframe_t *payload)
{
    //  Looked up again for every message: a certificate removed from the
    //  directory, or whose role or node changed, counts from the next one
    sf_peer_t who, *peer = &who;
    if (sf_peers_lookup (c->peers, payload, &who)) {
        atomic_fetch_add (&c->metrics.messages_in, 1);
        sf_ingest_reject (c->ingest, route, "a key no longer admitted", SF_REJ_FORBIDDEN,
                          "this certificate is not in the controller's certificate directory");
        return;
    }
    if (!sf_peer_admits (peer, SF_ENDPOINT_AGENTS)) {
        atomic_fetch_add (&c->metrics.messages_in, 1);
        sf_ingest_reject (c->ingest, route, peer->name, SF_REJ_FORBIDDEN,
                          "only agent certificates with a node id may send to this endpoint");
        return;
    }
    sf_ingest_message (c->ingest, route, peer->node, zframe_data (payload), zframe_size (payload));
}

//  The ingest loop's writes that are no origin's change, each in a
//  transaction of its own that gives them back to be staged again when its
//  commit is lost (sf_writer_on_lost): nodes declared down or back (the
//  writer's change hook, s_feed_node, reported them), inputs of the
//  placement history (sf_fleet_tick); then, when alerts_tick_ms is not 0,
//  the alert tick (hold times and what time alone changes, sf_alerts.h) and
//  the alert episodes that changed, this controller's and its peers'
//  (sf_alerts_store): the alert history, kept across restarts. While the
//  disk is full each commit would be refused and give them all back again
//  (up to 4,096 episodes rewritten each time, on every pass): both are then
//  tried at most once a second (sf_writer_restage_due), the episodes with
//  or without an alert tick, and stay unwritten meanwhile; once any commit
//  works again, as before. Returns the commits it tried.
int
sf_controller_write_unowned (sf_writer_t *w, sf_store_t *store, sf_alerts_t *alerts,
                             int64_t alerts_tick_ms, int64_t now_ms)
{
    bool full = sf_writer_nospace (w);
    bool due = !full || sf_writer_restage_due (w, now_ms);
    int commits = 0;
    if (due && sf_fleet_pending () > 0 && sf_writer_begin (w) == 0) {
        sf_fleet_tick (store);
        sf_writer_on_lost (w, sf_fleet_tick_lost, NULL);
        sf_writer_commit (w);
        commits++;
    }
    if (alerts_tick_ms)
        sf_alerts_tick (alerts, alerts_tick_ms);
    //  With the alert tick; while the disk is full, when a try is due
    bool store_episodes = full ? due : alerts_tick_ms != 0;
    if (store_episodes && sf_alerts_unstored (alerts) && sf_writer_begin (w) == 0) {
        sf_alerts_store (alerts);
        sf_writer_on_lost (w, sf_alerts_store_lost, alerts);
        sf_writer_commit (w);
        commits++;
    }
    return commits;
}

//  A pass of the ingest loop longer than this is logged with where it went
#define S_SLOW_PASS_MS 1000

static void
s_ingest_loop (s_ctl_t *c)
{
    int64_t last_sync = sf_mono_ms (), last_check = last_sync;
    int64_t last_gc = last_sync - 60000;   //  at once: the history's bound over every stream
    int64_t last_tick = last_sync, last_sweep = last_sync;
    int64_t last_alerts = last_sync;
    zmq_pollitem_t items [256];
    //  A pass that keeps the agents' messages waiting says where its time went
    sf_ratelimit_t slow_rl = SF_RATELIMIT_INIT (6, 60000);
    while (!zsys_interrupted && !atomic_load (&c->stop)) {
        size_t drained = 0;
        int64_t t_commit = 0, t_gossip = 0, t_gtick = 0, t_rest = 0;
        items [0] = (zmq_pollitem_t) { sf_agentio_handle (c->agents), 0, ZMQ_POLLIN, 0 };
        int n = 1;
        if (c->gossip)
            n += sf_gossip_pollitems (c->gossip, items + 1, 255);
        //  Messages left queued by the last transaction's bound: no wait
        long wait_ms = sf_agentio_pending (c->agents) || (c->gossip && sf_gossip_pending (c->gossip))
                     ? 0 : c->gossip ? 20 : 100;
        if (zmq_poll (items, n, wait_ms) < 0 && zmq_errno () == EINTR)
            continue;
        bool ready = false;
        if (items [0].revents & ZMQ_POLLIN)
            ready = sf_agentio_ready (c->agents) > 0;
        else
            ready = sf_agentio_pending (c->agents) > 0;
        int64_t t_pass = sf_mono_ms ();
        if (ready) {
            if (sf_store_maybe_grow (c->store) > 0)
                atomic_fetch_add (&c->metrics.map_grows, 1);
            int64_t start = sf_mono_ms ();
            //  Drain into one transaction: bounded in records and time; one
            //  message per agent in turn (sf_agentio_next)
            while (!sf_writer_full (c->writer) && sf_mono_ms () - start <= c->cfg->batch_ms) {
                zmsg_t *m = sf_agentio_next (c->agents);
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
                        sf_ingest_reject (c->ingest, route, "a sender", SF_REJ_MALFORMED, why);
                    else
                        sf_metrics_reject (&c->metrics, SF_REJ_MALFORMED);
                }
                zframe_destroy (&route);
                zframe_destroy (&payload);
                zmsg_destroy (&m);
                drained++;
            }
            t_commit = sf_mono_ms ();
            sf_writer_commit (c->writer);
        }
        int64_t t_agents_end = sf_mono_ms ();
        if (c->gossip) {
            //  Agents first: their changes are committed before peers read
            sf_gossip_handle (c->gossip, items + 1, n - 1);
            t_gossip = sf_mono_ms ();
            sf_gossip_tick (c->gossip);
            t_gtick = sf_mono_ms ();
        }
        else
            t_gossip = t_gtick = t_agents_end;
        int64_t now = sf_mono_ms ();
        if (now - last_sweep >= 200) {
            sf_live_sweep (c->live, now);
            last_sweep = now;
        }
        if (now - last_tick >= 100) {
            sf_writer_tick (c->writer, now);
            last_tick = now;
        }
        //  The alert tick (hold times, what time alone changes) every 250 ms
        bool alerts_due = now - last_alerts >= 250;
        if (alerts_due)
            last_alerts = now;
        sf_controller_write_unowned (c->writer, c->store, c->alerts, alerts_due ? sf_now_ms () : 0, now);
        int64_t t_unowned = sf_mono_ms ();
        //  With --sync-ms 0 (a flush after each commit) a failed one is
        //  tried again each second, so held acks resume; the periodic flush
        //  is the flusher thread's (sf_writer_flush_every), here only when
        //  that thread could not start
        if ((c->cfg->sync_ms > 0 && !c->flusher && now - last_sync >= c->cfg->sync_ms)
        ||  (c->cfg->sync_ms == 0 && sf_writer_unsynced (c->writer) && now - last_sync >= 1000)) {
            sf_writer_sync (c->writer);
            last_sync = now;
        }
        int64_t t_sync = sf_mono_ms ();
        if (now - last_check >= 60000) {
            int dead = sf_store_reader_check (c->store);
            if (dead)
                sf_info ("store: cleared %d stale reader slots", dead);
            last_check = now;
        }
        if (now - last_gc >= 60000 && sf_writer_begin (c->writer) == 0) {
            int gone = sf_store_gc_tombstones (c->store, sf_now_ms () - c->cfg->tombstone_grace_s * 1000);
            sf_fleet_history_prune (c->store);
            int rc = sf_writer_commit (c->writer);
            if (rc == 0 && gone > 0)
                sf_info ("store: collected %d tombstones older than %llds", gone,
                         (long long) c->cfg->tombstone_grace_s);
            //  Nothing in memory says what went: a lost pass is done again,
            //  at once when the map has grown
            if (rc != SF_STORE_RETRY)
                last_gc = now;
        }
        t_rest = sf_mono_ms ();
        if (t_rest - t_pass >= S_SLOW_PASS_MS)
            sf_log_limited (&slow_rl, SF_LOG_WARN,
                            "ingest: a pass took %.1f s, the agents' messages waiting meanwhile "
                            "(agents: %zu messages %.1f s, their commit %.1f s; gossip: messages "
                            "%.1f s, tick %.1f s; liveness, history and alerts %.1f s; flush %.1f s; "
                            "reader check and tombstones %.1f s)",
                            (double) (t_rest - t_pass) / 1000.0, drained,
                            (double) ((t_commit ? t_commit : t_pass) - t_pass) / 1000.0,
                            (double) (t_commit ? t_agents_end - t_commit : 0) / 1000.0,
                            (double) (t_gossip - t_agents_end) / 1000.0,
                            (double) (t_gtick - t_gossip) / 1000.0,
                            (double) (t_unowned - t_gtick) / 1000.0,
                            (double) (t_sync - t_unowned) / 1000.0,
                            (double) (t_rest - t_sync) / 1000.0);
    }
}

//  ---------------------------------------------------------------------------
//  Query thread: the CLI's ROUTER socket. It gets only what it reads.

typedef struct {
    zsock_t *sock;                  //  query thread only
    atomic_bool *stop;              //  set by the main thread
    sf_peers_t *peers;              //  shared with the ingest thread (sf_security.h)
    sf_metrics_t *metrics;          //  atomics
    sf_query_ctx_t *query;          //  read-only context (store, liveness, cluster view)
} s_query_thread_t;

//  A reply goes out never blocking and never queueing more than
//  S_QUERY_QUEUED replies for a client: a client that does not read its
//  replies loses the next ones (counted and logged), the others are served.
//  The routing frame goes first, before the reply is built: with
//  ZMQ_ROUTER_MANDATORY the ROUTER refuses it at once (EAGAIN) while that
//  client's queue is full, so a request from a client that is not reading
//  costs its receipt and nothing more — no listing built to be thrown away —
//  and the first request after it reads again is answered (libzmq tells the
//  socket as the connection drains its queue). Returns 0 when the routing
//  frame went out: the body must follow.
#define S_QUERY_QUEUED 4
#define S_QUERY_QUEUED_TEXT "4 replies"

static int
s_query_route (sf_metrics_t *metrics, zsock_t *sock, zframe_t *route, const sf_peer_t *peer,
               sf_ratelimit_t *rl)
{
    void *handle = zsock_resolve (sock);
    if (zmq_send (handle, zframe_data (route), zframe_size (route), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int e = zmq_errno ();
        atomic_fetch_add (&metrics->query_replies_dropped, 1);
        sf_log_limited (rl, SF_LOG_WARN, "query: dropped a reply to %s: %s", peer ? peer->name : "a client",
                        e == EAGAIN ? "it is not reading its replies (" S_QUERY_QUEUED_TEXT
                                      " already queued)" : "it is gone");
        return -1;
    }
    return 0;
}

//  The reply to one request (the routing frame has gone out)
static void
s_query_answer (s_query_thread_t *q, zmsg_t *m, zframe_t *payload, const sf_peer_t *peer,
                sf_msg_t *msg, msgpack_sbuffer *reply, sf_ratelimit_t *rl)
{
    if (zmsg_size (m) > 0) {
        //  One message is one frame (protocol §2.1), here as on the agents' endpoint
        sf_metrics_reject (q->metrics, SF_REJ_MALFORMED);
        char why [96];
        snprintf (why, sizeof (why), "a message must be one frame, not %zu", zmsg_size (m) + 1);
        sf_msg_error (reply, "malformed", why);
    }
    else if (!peer) {
        sf_metrics_reject (q->metrics, SF_REJ_FORBIDDEN);
        sf_msg_error (reply, "forbidden",
                      "this certificate is not in the controller's certificate directory");
    }
    else if (!sf_peer_admits (peer, SF_ENDPOINT_QUERY)) {
        sf_metrics_reject (q->metrics, SF_REJ_FORBIDDEN);
        sf_log_limited (rl, SF_LOG_WARN, "query: refused a request from %s: role '%s'",
                        peer->name, peer->role);
        sf_msg_error (reply, "forbidden", "queries need a cli, peer or controller certificate");
    }
    else if (sf_msg_parse (msg, zframe_data (payload), zframe_size (payload))) {
        sf_metrics_reject (q->metrics, msg->reason);
        sf_log_limited (rl, SF_LOG_WARN, "query: rejected a request from %s: %s",
                        peer->name, msg->error);
        sf_msg_error (reply, sf_reject_name (msg->reason), msg->error);
    }
    else {
        sf_api_handle (q->query, msg, reply);
        atomic_fetch_add (&q->metrics->queries, 1);
    }
}

static void *
s_query_main (void *arg)
{
    //  Named for top -H and perf (the main thread keeps the process's name)
    pthread_setname_np (pthread_self (), "sf-query");
    s_query_thread_t *q = arg;
    sf_msg_t msg;
    sf_msg_init (&msg);
    msgpack_sbuffer reply;
    msgpack_sbuffer_init (&reply);
    sf_ratelimit_t rl = SF_RATELIMIT_INIT (10, 10000);
    zpoller_t *poller = zpoller_new (q->sock, NULL);
    while (!atomic_load (q->stop)) {
        if (zpoller_wait (poller, 200) != q->sock)
            continue;
        zmsg_t *m = zmsg_recv (q->sock);
        if (!m)
            continue;
        zframe_t *route = zmsg_pop (m);
        zframe_t *payload = zmsg_pop (m);
        if (route && payload) {
            sf_peer_t who;
            const sf_peer_t *peer = sf_peers_lookup (q->peers, payload, &who) == 0 ? &who : NULL;
            //  Nothing is built for a client whose queue is full
            if (s_query_route (q->metrics, q->sock, route, peer, &rl) == 0) {
                s_query_answer (q, m, payload, peer, &msg, &reply, &rl);
                //  The routing frame went out, so the body goes to the same pipe
                zmq_send (zsock_resolve (q->sock), reply.data, reply.size, 0);
                sf_msg_release (&msg);
            }
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
s_know_nodes (s_ctl_t *c)
{
    sf_read_t r;
    if (sf_store_read_begin (c->store, &r))
        return;
    s_know_t k = { c->live, sf_mono_ms () };
    sf_store_scan_nodes (&r, s_know_node, &k);
    sf_store_read_end (&r);
}

//  What start-up leaves resident and nobody needs (docs/operations.md,
//  "Memory"): the scans that opened the store and rebuilt the read model
//  mapped every page of the streams database (file-backed RSS as large as
//  the data), and the rebuild's sort buffers are free heap. The pages stay
//  in the kernel's page cache; queries map the few they read again.
static void
s_release_startup_memory (s_ctl_t *c)
{
    long file = sf_store_release_pages (c->store);
#ifdef __GLIBC__
    malloc_trim (0);
#endif
    if (file >= 0)
        sf_info ("start-up: gave back %ld MiB of mapped store pages", file >> 20);
}

//  sndhwm: messages queued per connection. Set before bind: it applies to
//  the connections made after it is set
static zsock_t *
s_server_socket (const char *endpoint, zcert_t *cert, const char *what, int sndhwm, int rcvhwm,
                 bool mandatory)
{
    zsock_t *s = zsock_new (ZMQ_ROUTER);
    if (!s)
        return NULL;
    sf_sock_curve_server (s, cert);
    zsock_set_router_mandatory (s, mandatory);
    //  Per connection, set before the bind (a pipe takes the HWM it is
    //  created with). An agent that meets a full send queue keeps its
    //  changes (they are not acknowledged) and sends them later. The agents'
    //  socket has no receive HWM (0): a full pipe would stop libzmq reading
    //  the connection, and libzmq 4.3.4 aborts when a stopped connection
    //  with ZMTP heartbeats then fails (docs/operations.md); its own thread
    //  reads it continuously into bounded queues instead (sf_agentio.h)
    zsock_set_sndhwm (s, sndhwm);
    zsock_set_rcvhwm (s, rcvhwm);
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
    s_ctl_t *c = arg;
    return c->gossip ? sf_gossip_ready (c->gossip, why, whylen) : true;
}

//  The store's one observer, fanned out: the read model first (queries must
//  see a commit before its acks go), then the change feed
static struct {
    sf_readmodel_t *model;
    sf_feed_t *feed;
    sf_alerts_t *alerts;
} s_observed;

static void
s_observe (void *arg, const sf_store_change_t *changes, size_t count)
{
    sf_readmodel_observe (s_observed.model, changes, count);
    sf_feed_observer (s_observed.feed, changes, count);
    sf_alerts_observe (s_observed.alerts, changes, count);
}

//  What the store's observer does not see, for the feed and the alert
//  rules: a node record stored ("info") and a node's liveness transition
static void
s_feed_node (const sf_change_t *ch, void *arg)
{
    if (ch->kind == 'l') {
        sf_fleet_node_live (ch->node, ch->live);
        sf_feed_push_node (s_observed.feed, ch->node, sf_liveness_name (ch->live));
    }
    else
        sf_feed_push_node (s_observed.feed, ch->node, "info");
    sf_alerts_node (s_observed.alerts, ch, sf_now_ms ());
}

//  An alert transition (ingest thread, whatever caused it: a commit, a
//  node's liveness, the timer's hold expiry): to the webhooks, and to the
//  change feed as a node change "alert", so that the web page (waiting on
//  the feed) shows it at once
static void
s_alert_event (const sf_alert_event_t *ev, void *webhooks)
{
    sf_webhooks_alert (ev, webhooks);
    sf_feed_push_node (s_observed.feed, ev->node, "alert");
}

//  Which controller delivers an alert (issue 17, "once for the cluster"):
//  rendezvous hashing of the alert key over the live members (alive or
//  suspect) of the gossip view, by their peer endpoints, so that every
//  controller names the same owner and a dead one's keys spread over the
//  others. Called by the webhook thread only; the view is read again every
//  250 ms.
#define S_OWNERS_MAX 64
static struct {
    int64_t at_ms;
    char endpoint [S_OWNERS_MAX][256];
    bool self [S_OWNERS_MAX];
    size_t n;
    //  The live peers' gossip ids (s_peers)
    char peer [S_OWNERS_MAX][SF_WEBHOOKS_PEER_ID_MAX];
    size_t npeers;
} s_owners;

static uint64_t
s_rendezvous (const char *member, const char *key)
{
    crypto_generichash_state st;
    unsigned char h [8];
    crypto_generichash_init (&st, NULL, 0, sizeof (h));
    crypto_generichash_update (&st, (const unsigned char *) member, strlen (member) + 1);
    crypto_generichash_update (&st, (const unsigned char *) key, strlen (key));
    crypto_generichash_final (&st, h, sizeof (h));
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | h [i];
    return v;
}

static void
s_owners_read (s_ctl_t *c)
{
    int64_t now = sf_mono_ms ();
    if (s_owners.at_ms == 0 || now - s_owners.at_ms >= 250) {
        msgpack_sbuffer sb;
        msgpack_sbuffer_init (&sb);
        sf_msg_t msg;
        sf_msg_init (&msg);
        if (sf_gossip_cluster (c->gossip, &sb) == 0 && sb.size
        &&  sf_msg_parse (&msg, sb.data, sb.size) == 0) {
            const msgpack_object *m = sf_map_get (msg.body, "members");
            s_owners.n = s_owners.npeers = 0;
            for (uint32_t i = 0; m && m->type == MSGPACK_OBJECT_ARRAY && i < m->via.array.size
                              && s_owners.n < S_OWNERS_MAX; i++) {
                const msgpack_object *e = &m->via.array.ptr [i];
                char state [16] = "", ep [256] = "", id [SF_WEBHOOKS_PEER_ID_MAX] = "";
                bool self = false;
                sf_map_str (e, "state", state, sizeof (state) - 1, NULL);
                sf_map_str (e, "endpoint", ep, sizeof (ep) - 1, NULL);
                sf_map_str (e, "id", id, sizeof (id) - 1, NULL);
                sf_map_bool (e, "self", &self, NULL);
                if (!ep [0] || (strcmp (state, "alive") && strcmp (state, "suspect")))
                    continue;
                if (!self && id [0])
                    strcpy (s_owners.peer [s_owners.npeers++], id);
                strcpy (s_owners.endpoint [s_owners.n], ep);
                s_owners.self [s_owners.n++] = self;
            }
        }
        sf_msg_release (&msg);
        msgpack_sbuffer_destroy (&sb);
        s_owners.at_ms = now;
    }
}

static bool
s_owner (const char *key, void *arg)
{
    s_owners_read (arg);
    uint64_t best = 0;
    bool mine = true;           //  no view yet: deliver (at least once)
    for (size_t i = 0; i < s_owners.n; i++) {
        uint64_t v = s_rendezvous (s_owners.endpoint [i], key);
        if (i == 0 || v > best) {
            best = v;
            mine = s_owners.self [i];
        }
    }
    return mine;
}

//  The live peers, for a firing's first attempt (sf_webhooks_set_peers):
//  it waits until each was in sync with this controller's alert episodes
static size_t
s_peers (char (*ids) [SF_WEBHOOKS_PEER_ID_MAX], size_t max, void *arg)
{
    s_owners_read (arg);
    size_t n = s_owners.npeers < max ? s_owners.npeers : max;
    memcpy (ids, s_owners.peer, n * sizeof (ids [0]));
    return n;
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
    char err [512];
    if (cfg->http_token_file [0]) {
        if (cfg->http_token [0]) {
            sf_error ("give the HTTP token once: --http-token-file or --http-token, not both");
            return 2;
        }
        if (sf_http_token_read (cfg->http_token_file, cfg->http_token, sizeof (cfg->http_token) - 1,
                                err, sizeof (err))) {
            sf_error ("--http-token-file: %s", err);
            return 2;
        }
    }
    const char *env_token = getenv ("STREAMFLEET_HTTP_TOKEN");
    if (!cfg->http_token [0] && env_token)
        snprintf (cfg->http_token, sizeof (cfg->http_token), "%s", env_token);
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
    int64_t start_t0 = sf_mono_ms ();
    static s_ctl_t ctl;
    s_ctl_t *c = &ctl;
    memset (c, 0, sizeof (*c));
    c->cfg = cfg;
    sf_metrics_init (&c->metrics);
    c->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (20, 10000);
    int rc = 1;
    c->store = sf_store_new (cfg->data_dir, (size_t) cfg->map_size_mb << 20, err, sizeof (err));
    if (c->store && cfg->store_ordered && sf_store_set_ordered (c->store, true)) {
        snprintf (err, sizeof (err), "cannot make the commits in %.400s ordered (--store-ordered)",
                  cfg->data_dir);
        sf_store_destroy (&c->store);
    }
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
    //  Alert rules: judged from every commit (incrementally) and a timer
    c->alerts = sf_alerts_new (cfg->alert, cfg->transfer_timeout_s, err, sizeof (err));
    if (!c->alerts) {
        sf_error ("%s (--alert; docs/operations.md, Alerts)", err);
        sf_feed_destroy (&s_observed.feed);
        sf_readmodel_destroy (&model);
        sf_store_destroy (&c->store);
        sf_live_destroy (&c->live);
        zcert_destroy (&cert);
        return 2;
    }
    sf_alerts_set_store (c->alerts, c->store);
    char web [300];
    if (cfg->web_url [0])
        snprintf (web, sizeof (web), "%s", cfg->web_url);
    else
        snprintf (web, sizeof (web), "%s%s%s", cfg->http [0] ? "http://" : "", cfg->http,
                  cfg->http [0] ? "/" : "");
    sf_alerts_set_web_url (c->alerts, web);
    char queue_dir [600];
    snprintf (queue_dir, sizeof (queue_dir), "%s/webhooks", cfg->data_dir);
    c->webhooks = sf_webhooks_new (&(sf_webhooks_config_t) {
        .receivers = cfg->webhook, .queue_dir = queue_dir, .controller_id = cfg->id,
        .web_url = web, .retries = cfg->webhook_retries, .backoff_ms = cfg->webhook_backoff_ms,
        .backoff_max_ms = cfg->webhook_backoff_max_ms, .timeout_ms = cfg->webhook_timeout_ms,
        .standby_max_ms = cfg->webhook_standby_max_ms, .dead_max = cfg->webhook_dead_letters_max,
        .first_wait_max_ms = 2 * cfg->gossip_ms },
        err, sizeof (err));
    if (!c->webhooks) {
        sf_error ("%s (--webhook; docs/http-api.md, Alert webhooks)", err);
        sf_alerts_destroy (&c->alerts);
        sf_feed_destroy (&s_observed.feed);
        sf_readmodel_destroy (&model);
        sf_store_destroy (&c->store);
        sf_live_destroy (&c->live);
        zcert_destroy (&cert);
        return 2;
    }
    sf_alerts_on_event (c->alerts, s_alert_event, c->webhooks);
    sf_webhooks_set_alerts (c->webhooks, c->alerts);
    if (cfg->webhook_standby_ms)
        sf_warn ("--webhook-standby-ms is deprecated and ignored: a standby copy waits for its "
                 "owner's confirmation, at most --webhook-standby-max-ms (%lld ms)",
                 (long long) cfg->webhook_standby_max_ms);
    //  What fired before a restart fires on, and resolves if it cleared
    //  meanwhile: from the cluster's episodes in the store (one source of
    //  truth; the file older versions kept goes)
    sf_alerts_restore (c->alerts, cfg->down_ms + 10000, sf_now_ms ());
    char firing_path [600];
    snprintf (firing_path, sizeof (firing_path), "%s/alerts-firing.json", cfg->data_dir);
    if (unlink (firing_path) == 0)
        sf_info ("alerts: removed %s (older versions' copy of what fires: the alert episodes "
                 "in the store are what a restart carries over)", firing_path);
    s_observed.alerts = c->alerts;
    if (sf_alerts_rule_count (c->alerts))
        sf_info ("alerts: %zu rule%s", sf_alerts_rule_count (c->alerts),
                 sf_alerts_rule_count (c->alerts) == 1 ? "" : "s");
    sf_store_set_observer (c->store, s_observe, &s_observed);
    c->query.model = model;
    c->query.feed = s_observed.feed;
    c->query.alerts = c->alerts;
    c->query.webhooks = c->webhooks;
    sf_info ("read model: %zu placements in %lld ms, %zu KiB (store opened in %lld ms)",
             sf_readmodel_size (model), (long long) (sf_mono_ms () - model_t0),
             sf_readmodel_bytes (model) >> 10, (long long) (model_t0 - start_t0));
    c->writer = sf_writer_new (&(sf_writer_config_t) {
        .store = c->store, .live = c->live, .metrics = &c->metrics,
        .batch_records = (size_t) cfg->batch_records, .sync_every_commit = cfg->sync_ms == 0 });
    //  Node records and liveness transitions reach the change feed, the
    //  alert rules and the placement state (a node down or back)
    sf_writer_on_change (c->writer, s_feed_node, NULL);
    c->peers = sf_peers_new (cfg->certs_dir);
    s_know_nodes (c);
    sf_writer_load (c->writer);
    //  The periodic flush runs on a thread of its own: commits and acks
    //  never wait for the disk
    c->flusher = cfg->sync_ms > 0 && sf_writer_flush_every (c->writer, cfg->sync_ms) == 0;
    if (cfg->sync_ms > 0 && !c->flusher)
        sf_warn ("store: cannot start the flusher thread: the ingest thread flushes, and waits for each flush");
    s_release_startup_memory (c);

    //  Our own ZAP handler, not czmq's zauth: it admits from the same
    //  certificates every message is checked against, and logs refusals
    zactor_t *auth = zactor_new (sf_zap_actor, c->peers);
    if (!auth) {
        sf_error ("security: cannot start the ZAP handler");
        sf_writer_destroy (&c->writer);
        sf_peers_destroy (&c->peers);
        sf_store_destroy (&c->store);
        sf_readmodel_destroy (&model);
        zcert_destroy (&cert);
        return 3;
    }

    zsock_t *qsock = NULL;
    sf_http_t *http = NULL;
    pthread_t qthread;
    bool qstarted = false;
    zsock_t *asock = s_server_socket (cfg->agents, cert, "agents", 1000, 0, true);
    if (asock)
        c->agents = sf_agentio_new (&(sf_agentio_config_t) {
            .sock = asock, .metrics = &c->metrics, .peers = c->peers, .live = c->live });
    qsock = c->agents ? s_server_socket (cfg->query, cert, "queries", S_QUERY_QUEUED,
                                         SF_AGENTS_RCVHWM, true) : NULL;
    if (!c->agents || !qsock)
        goto done;
    //  Patches are noted for gossip only where there are peers to send them to
    if (cfg->peers [0] && cfg->gossip_patches)
        c->patches = sf_patchlog_new (SF_PATCHLOG_SLOTS, SF_PATCHLOG_SLOTS_MAX);
    c->ingest = sf_ingest_new (&(sf_ingest_config_t) {
        .writer = c->writer, .live = c->live, .metrics = &c->metrics,
        .max_streams_per_node = cfg->max_streams_per_node,
        .send = s_send_agent, .send_arg = c, .patches = c->patches, .beats_on_arrival = true });
    //  Gossip before the query thread starts: the query context is read-only
    //  once another thread has it
    if (cfg->peers [0]) {
        sf_alerts_gossip_ext (&c->gossip_ext, &c->alerts_ext, c->alerts, c->webhooks);
        c->gossip = sf_gossip_new (&(sf_gossip_env_t) {
            .cfg = cfg, .cert = cert, .writer = c->writer, .store = c->store,
            .live = c->live, .metrics = &c->metrics, .peers = c->peers, .patches = c->patches,
            .ext = &c->gossip_ext }, err, sizeof (err));
        if (!c->gossip) {
            sf_error ("gossip: %s", err);
            goto done;
        }
        c->query.cluster_fn = sf_gossip_cluster;
        c->query.cluster_arg = c->gossip;
        //  Each alert is delivered by one controller (its key's owner)
        if (c->webhooks) {
            sf_webhooks_set_owner (c->webhooks, s_owner, c);
            //  ... once the live peers hold its episode (or two rounds passed)
            sf_webhooks_set_peers (c->webhooks, s_peers, c);
        }
    }
    s_query_thread_t qt = { qsock, &c->stop, c->peers, &c->metrics, &c->query };
    if (pthread_create (&qthread, NULL, s_query_main, &qt)) {
        sf_error ("cannot start the query thread");
        goto done;
    }
    qstarted = true;
    if (cfg->http [0]) {
        http = sf_http_new (&c->query, &c->metrics, cfg->http, cfg->http_token, err, sizeof (err));
        if (!http) {
            sf_error ("HTTP: %s", err);
            rc = 2;
            goto done;
        }
        sf_http_set_ready (http, s_ready, c);
    }
    sf_info ("controller %s ready: agents %s, queries %s, http %s, data %s (start-up %lld ms)", cfg->id,
             cfg->agents, cfg->query, cfg->http [0] ? cfg->http : "off", cfg->data_dir,
             (long long) (sf_mono_ms () - start_t0));
    sf_service_ready ("serving agents and queries");
    s_ingest_loop (c);
    sf_writer_commit (c->writer);
    //  A fleet tick or alert store that a commit lost (sf_writer_on_lost),
    //  or episodes changed since the last store: once more before stopping
    if (sf_fleet_pending () > 0 && sf_writer_begin (c->writer) == 0) {
        sf_fleet_tick (c->store);
        sf_writer_on_lost (c->writer, sf_fleet_tick_lost, NULL);
        sf_writer_commit (c->writer);
    }
    if (sf_alerts_unstored (c->alerts) && sf_writer_begin (c->writer) == 0) {
        sf_alerts_store (c->alerts);
        sf_writer_on_lost (c->writer, sf_alerts_store_lost, c->alerts);
        sf_writer_commit (c->writer);
    }
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
    sf_ingest_destroy (&c->ingest);
    sf_patchlog_destroy (&c->patches);
    sf_writer_destroy (&c->writer);
    zsock_destroy (&qsock);
    sf_agentio_destroy (&c->agents);
    zactor_destroy (&auth);
    sf_peers_destroy (&c->peers);
    sf_live_destroy (&c->live);
    sf_store_destroy (&c->store);
    sf_readmodel_destroy (&model);
    sf_feed_destroy (&s_observed.feed);
    s_observed.alerts = NULL;
    sf_alerts_destroy (&c->alerts);
    sf_webhooks_destroy (&c->webhooks);
    zcert_destroy (&cert);
    return rc;
}

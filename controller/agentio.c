/*  agentio.c — the agents' socket, read by a thread of its own
    (include/sf_agentio.h).

    The IO thread owns the agents' ROUTER (ZeroMQ sockets are not
    thread-safe) and one end of an inproc PAIR; the ingest thread the other
    end. The thread reads every message the ROUTER has as soon as it has it
    and appends it to its connection's queue (the routing id is the key),
    under the lock the ingest thread takes to pop from them; then signals
    the PAIR once, until the ingest thread clears the signal. Replies come
    back on the PAIR as [route][node][data] and go out on the ROUTER never
    blocking. The ROUTER has no receive HWM: nothing in libzmq ever stops
    reading a connection, so libzmq 4.3.4's abort on a stopped connection
    that fails cannot happen (docs/operations.md); memory is bounded here
    instead, per connection and over all.

    A connection's queue exists while it holds messages: a ring of those
    queues is what the ingest thread takes from, one message per queue per
    turn, so a flooding agent delays the others by one message each turn,
    not by its backlog.
*/
#include "sf_agentio.h"
#include "sf_alloc.h"
#include "sf_log.h"
#include <pthread.h>
#include <stdatomic.h>

//  One connection's queue. Guarded by the lock.
typedef struct {
    char key [2 * 255 + 1];         //  the routing id, in hex
    zlistx_t *msgs;                 //  zmsg_t, oldest first
    size_t bytes;
    void *in_ring;                  //  its handle in the ring
} s_conn_t;

struct sf_agentio_t {
    sf_agentio_config_t cfg;        //  read-only after new
    pthread_t thread;
    atomic_bool stop;               //  set by destroy
    zsock_t *io_end;                //  IO thread only
    zsock_t *ingest_end;            //  ingest thread only
    char endpoint [64];
    //  True from when the IO thread signals until the ingest thread clears it
    atomic_bool signalled;
    pthread_mutex_t lock;           //  guards what follows
    zhashx_t *conns;                //  key -> s_conn_t
    zlistx_t *ring;                 //  s_conn_t with messages, next to serve first
    size_t queued, bytes;
    //  IO thread only
    sf_ratelimit_t rl;
    sf_msg_t hb;                    //  a heartbeat being read
};

//  A heartbeat is small: a larger message is not looked into here
#define S_HB_SIZE_MAX 4096

#define S_READ_BURST 64             //  messages read before the lock is taken

static size_t
s_msg_bytes (zmsg_t *m)
{
    return zmsg_content_size (m);
}

static void
s_key (zframe_t *route, char *key)
{
    static const char hex [] = "0123456789abcdef";
    const unsigned char *d = zframe_data (route);
    size_t n = zframe_size (route) < 255 ? zframe_size (route) : 255;
    for (size_t i = 0; i < n; i++) {
        key [2 * i] = hex [d [i] >> 4];
        key [2 * i + 1] = hex [d [i] & 15];
    }
    key [2 * n] = 0;
}

static void
s_conn_destroy (s_conn_t **self_p)
{
    if (*self_p) {
        zmsg_t *m;
        while ((m = zlistx_detach (( *self_p)->msgs, NULL)))
            zmsg_destroy (&m);
        zlistx_destroy (&(*self_p)->msgs);
        free (*self_p);
        *self_p = NULL;
    }
}

//  Whether the next limited log line would be let through (so that the
//  node is looked up for it only then: a flood drops many a second)
static bool
s_would_log (const sf_ratelimit_t *rl)
{
    return sf_mono_ms () - rl->window_start_ms >= rl->period_ms || rl->in_window < rl->burst;
}

enum { S_DROP_QUEUE_FULL = 1, S_DROP_MEMORY = 2 };

static void
s_dropped (sf_agentio_t *self, zmsg_t *m, int why, size_t queued, size_t bytes)
{
    if (why == S_DROP_QUEUE_FULL)
        atomic_fetch_add (&self->cfg.metrics->agent_dropped_queue_full, 1);
    else
        atomic_fetch_add (&self->cfg.metrics->agent_dropped_memory, 1);
    if (!s_would_log (&self->rl)) {
        sf_log_limited (&self->rl, SF_LOG_WARN, "ingest: dropped a message");
        return;
    }
    sf_peer_t who;
    zframe_t *payload = zmsg_next (m);
    const char *name = payload && self->cfg.peers
                       && sf_peers_lookup (self->cfg.peers, payload, &who) == 0
                     ? (who.node [0] ? who.node : who.name) : "a sender";
    if (why == S_DROP_QUEUE_FULL)
        sf_log_limited (&self->rl, SF_LOG_WARN,
                        "ingest: dropped a message from %s: its queue is full (%zu messages "
                        "waiting to be read; an agent keeping its flow-control window has at "
                        "most %d in flight): it will be asked for a snapshot", name, queued,
                        SF_AGENT_WINDOW + SF_AGENT_WINDOW_CTL);
    else
        sf_log_limited (&self->rl, SF_LOG_WARN,
                        "ingest: dropped a message from %s: %.1f MiB queued from all agents, the "
                        "bound", name, (double) bytes / (1 << 20));
}

//  A heartbeat counts as it arrives (sf_agentio.h): from an agent
//  certificate with a node id, for that node, with gen and counter as the
//  ingest thread would take them; anything else is left to it
static bool
s_beat_on_arrival (sf_agentio_t *self, zmsg_t *m)
{
    zframe_t *payload = zmsg_last (m);
    if (!self->cfg.live || !self->cfg.peers || zmsg_size (m) < 2 || !payload
    ||  zframe_size (payload) > S_HB_SIZE_MAX)
        return false;
    uint64_t gen = 0, counter = 0;
    bool beat = false;
    sf_peer_t who;
    if (sf_msg_parse (&self->hb, zframe_data (payload), zframe_size (payload)) == 0
    &&  strcmp (self->hb.type, "hb") == 0
    &&  sf_map_u64 (self->hb.body, "gen", &gen, NULL) == 0
    &&  sf_map_u64 (self->hb.body, "counter", &counter, NULL) == 0
    &&  sf_peers_lookup (self->cfg.peers, payload, &who) == 0
    &&  sf_peer_admits (&who, SF_ENDPOINT_AGENTS)) {
        sf_live_beat (self->cfg.live, who.node, gen, counter, sf_mono_ms ());
        bool stale;
        if (sf_map_bool (self->hb.body, "stale", &stale, NULL) == 0)
            sf_live_set_stale (self->cfg.live, who.node, gen, counter, stale);
        beat = true;
    }
    sf_msg_release (&self->hb);
    return beat;
}

//  Reads what the ROUTER holds, S_READ_BURST messages per lock, at most
//  max messages in all (so replies are interleaved)
static void
s_read_agents (sf_agentio_t *self, size_t max)
{
    zmsg_t *burst [S_READ_BURST];
    bool beat [S_READ_BURST];
    size_t total = 0;
    while (total < max) {
        size_t n = 0;
        while (n < S_READ_BURST) {
            zmsg_t *m = zmsg_recv (self->cfg.sock);     //  RCVTIMEO 0: NULL when none
            if (!m)
                break;
            if (zmsg_size (m) == 0 || zframe_size (zmsg_first (m)) == 0) {
                zmsg_destroy (&m);
                continue;
            }
            beat [n] = s_beat_on_arrival (self, m);
            burst [n++] = m;
        }
        if (n == 0)
            break;
        total += n;
        bool added = false;
        pthread_mutex_lock (&self->lock);
        for (size_t i = 0; i < n; i++) {
            zmsg_t *m = burst [i];
            char key [2 * 255 + 1];
            s_key (zmsg_first (m), key);
            size_t size = s_msg_bytes (m);
            s_conn_t *conn = zhashx_lookup (self->conns, key);
            int why = 0;
            //  A heartbeat counted already, behind a window's worth of its
            //  agent's messages: nothing more of it is needed now (an agent
            //  sends them outside its window, sf_ingest.h beats_on_arrival)
            if (beat [i] && conn && zlistx_size (conn->msgs) >= SF_AGENT_WINDOW) {
                atomic_fetch_add (&self->cfg.metrics->agent_beats_unqueued, 1);
                zmsg_destroy (&m);
                continue;
            }
            if (conn && zlistx_size (conn->msgs) >= self->cfg.queue_max)
                why = S_DROP_QUEUE_FULL;
            else if (self->bytes + size > self->cfg.bytes_max)
                why = S_DROP_MEMORY;
            if (why) {
                size_t queued = conn ? zlistx_size (conn->msgs) : 0, bytes = self->bytes;
                pthread_mutex_unlock (&self->lock);
                s_dropped (self, m, why, queued, bytes);
                zmsg_destroy (&m);
                pthread_mutex_lock (&self->lock);
                continue;
            }
            if (!conn) {
                conn = sf_xcalloc (1, sizeof (*conn));
                memcpy (conn->key, key, sizeof (key));
                conn->msgs = zlistx_new ();
                zhashx_insert (self->conns, key, conn);
                conn->in_ring = zlistx_add_end (self->ring, conn);
            }
            zlistx_add_end (conn->msgs, m);
            conn->bytes += size;
            self->queued++;
            self->bytes += size;
            added = true;
        }
        pthread_mutex_unlock (&self->lock);
        //  One signal until the ingest thread clears it
        if (added && !atomic_exchange (&self->signalled, true))
            zmq_send (zsock_resolve (self->io_end), "", 0, ZMQ_DONTWAIT);
    }
}

//  Sends the replies the ingest thread handed over, never blocking
static void
s_send_replies (sf_agentio_t *self)
{
    void *router = zsock_resolve (self->cfg.sock);
    for (int i = 0; i < 4096; i++) {
        zmsg_t *m = zmsg_recv (self->io_end);           //  RCVTIMEO 0
        if (!m)
            break;
        zframe_t *route = zmsg_pop (m), *node = zmsg_pop (m), *data = zmsg_pop (m);
        if (route && node && data) {
            if (zmq_send (router, zframe_data (route), zframe_size (route),
                          ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
                int e = zmq_errno ();
                atomic_fetch_add (&self->cfg.metrics->agent_replies_dropped, 1);
                char *who = zframe_strdup (node);
                sf_log_limited (&self->rl, SF_LOG_WARN, "ingest: dropped a reply to %s: %s", who,
                                e == EAGAIN ? "its queue is full (1000 replies waiting: it is not reading)"
                                            : "its connection is gone");
                free (who);
            }
            else
                zframe_send (&data, self->cfg.sock, 0);
        }
        zframe_destroy (&route);
        zframe_destroy (&node);
        zframe_destroy (&data);
        zmsg_destroy (&m);
    }
}

static void *
s_main (void *arg)
{
    //  Named for top -H and perf (the main thread keeps the process's name)
    pthread_setname_np (pthread_self (), "sf-agents-io");
    sf_agentio_t *self = arg;
    void *router = zsock_resolve (self->cfg.sock), *pair = zsock_resolve (self->io_end);
    while (!atomic_load (&self->stop)) {
        zmq_pollitem_t items [2] = { { router, 0, ZMQ_POLLIN, 0 }, { pair, 0, ZMQ_POLLIN, 0 } };
        if (zmq_poll (items, 2, 100) < 0) {
            if (zmq_errno () == ETERM)
                break;
            continue;
        }
        //  Replies first: they open the agents' windows
        if (items [1].revents & ZMQ_POLLIN)
            s_send_replies (self);
        if (items [0].revents & ZMQ_POLLIN)
            s_read_agents (self, 4096);
    }
    return NULL;
}

sf_agentio_t *
sf_agentio_new (const sf_agentio_config_t *cfg)
{
    sf_agentio_t *self = sf_xcalloc (1, sizeof (*self));
    self->cfg = *cfg;
    if (!self->cfg.queue_max)
        self->cfg.queue_max = SF_AGENTIO_QUEUE_MAX;
    if (!self->cfg.bytes_max)
        self->cfg.bytes_max = SF_AGENTIO_BYTES_MAX;
    self->rl = (sf_ratelimit_t) SF_RATELIMIT_INIT (20, 10000);
    sf_msg_init (&self->hb);
    pthread_mutex_init (&self->lock, NULL);
    self->conns = zhashx_new ();
    zhashx_set_destructor (self->conns, (zhashx_destructor_fn *) s_conn_destroy);
    self->ring = zlistx_new ();
    //  The socket has no receive HWM (set before its bind, by the owner):
    //  this thread reads all as it comes and bounds memory itself
    zsock_set_rcvtimeo (self->cfg.sock, 0);
    snprintf (self->endpoint, sizeof (self->endpoint), "inproc://sf-agentio-%p", (void *) self);
    self->ingest_end = zsock_new (ZMQ_PAIR);
    self->io_end = zsock_new (ZMQ_PAIR);
    if (self->ingest_end && self->io_end) {
        //  Replies in hand-off: bounded, far above what one pass produces
        zsock_set_sndhwm (self->ingest_end, 100000);
        zsock_set_rcvhwm (self->io_end, 100000);
        zsock_set_rcvtimeo (self->io_end, 0);
        zsock_set_rcvtimeo (self->ingest_end, 0);
    }
    if (!self->ingest_end || !self->io_end
    ||  zsock_bind (self->ingest_end, "%s", self->endpoint) < 0
    ||  zsock_connect (self->io_end, "%s", self->endpoint) < 0
    ||  pthread_create (&self->thread, NULL, s_main, self)) {
        sf_error ("ingest: cannot start the agents' socket thread");
        zsock_destroy (&self->ingest_end);
        zsock_destroy (&self->io_end);
        zsock_destroy (&self->cfg.sock);
        zlistx_destroy (&self->ring);
        zhashx_destroy (&self->conns);
        pthread_mutex_destroy (&self->lock);
        free (self);
        return NULL;
    }
    return self;
}

void
sf_agentio_destroy (sf_agentio_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_agentio_t *self = *self_p;
    atomic_store (&self->stop, true);
    pthread_join (self->thread, NULL);
    zsock_destroy (&self->cfg.sock);
    zsock_destroy (&self->ingest_end);
    zsock_destroy (&self->io_end);
    zlistx_destroy (&self->ring);
    zhashx_destroy (&self->conns);
    pthread_mutex_destroy (&self->lock);
    sf_msg_release (&self->hb);
    free (self);
    *self_p = NULL;
}

zmsg_t *
sf_agentio_next (sf_agentio_t *self)
{
    pthread_mutex_lock (&self->lock);
    s_conn_t *conn = zlistx_first (self->ring);
    zmsg_t *m = NULL;
    if (conn) {
        m = zlistx_detach (conn->msgs, NULL);
        size_t size = s_msg_bytes (m);
        conn->bytes -= size;
        self->bytes -= size;
        self->queued--;
        if (zlistx_size (conn->msgs) == 0) {
            zlistx_delete (self->ring, conn->in_ring);
            zhashx_delete (self->conns, conn->key);
        }
        else
            zlistx_move_end (self->ring, conn->in_ring);
    }
    pthread_mutex_unlock (&self->lock);
    return m;
}

size_t
sf_agentio_pending (sf_agentio_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t n = self->queued;
    pthread_mutex_unlock (&self->lock);
    return n;
}

void *
sf_agentio_handle (sf_agentio_t *self)
{
    return zsock_resolve (self->ingest_end);
}

size_t
sf_agentio_ready (sf_agentio_t *self)
{
    char b [1];
    while (zmq_recv (zsock_resolve (self->ingest_end), b, sizeof (b), ZMQ_DONTWAIT) >= 0)
        ;
    atomic_store (&self->signalled, false);
    return sf_agentio_pending (self);
}

int
sf_agentio_send (sf_agentio_t *self, zframe_t *route, const char *node, const void *data, size_t size)
{
    void *h = zsock_resolve (self->ingest_end);
    if (zmq_send (h, zframe_data (route), zframe_size (route), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1;
    zmq_send (h, node ? node : "", node ? strlen (node) : 0, ZMQ_SNDMORE);
    zmq_send (h, data, size, 0);
    return 0;
}

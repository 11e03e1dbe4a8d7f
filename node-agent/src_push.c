/*  src_push.c — a local endpoint where a media server or a script pushes
    stream state, for servers without a pollable API (docs/adapters.md,
    "push").

    Clients connect over TCP (--push-listen, loopback by default) and send one
    JSON object per line:
        {"name": "cam1", "status": "active", "clients": 3, ...}   upsert
        {"name": "cam1", "deleted": true}                         remove
        {"reset": true}                                           remove all
    An upsert merges into what was pushed before (nested objects merge too),
    then the merged record is checked by the protocol's own record decoder,
    so the same field names, types and bounds apply as on the wire. Every line
    is answered "ok" or "error: why"; a bad line changes nothing.
*/
#include "sf_agent.h"
#include "sf_alloc.h"
#include "sf_codec.h"
#include "sf_log.h"
#include "sf_mpjson.h"
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#define S_CLIENTS_MAX 32
#define S_LINE_MAX (256 * 1024)

typedef struct {
    int fd;
    char *buf;
    size_t len;
} s_client_t;

typedef struct {
    char push_listen [128];         //  host:port of the local JSON-lines endpoint
} s_push_config_t;

static const sf_option_t s_options [] = {
    { "push-listen", SF_OPT_STR, offsetof (s_push_config_t, push_listen),
      sizeof (((s_push_config_t *) 0)->push_listen), "127.0.0.1:7610", 0, 0,
      "push: host:port of the JSON-lines endpoint" },
    { NULL }
};

typedef struct {
    int listen_fd;
    s_client_t clients [S_CLIENTS_MAX];
    zhashx_t *streams;              //  name -> json_t * (merged)
    msgpack_sbuffer sbuf;
    sf_stream_t scratch;
} s_push_t;

static int
s_listen (const char *hostport, char *err, size_t errlen)
{
    char host [128];
    snprintf (host, sizeof (host), "%s", hostport);
    char *colon = strrchr (host, ':');
    if (!colon) {
        snprintf (err, errlen, "--push-listen must be host:port, not '%s'", hostport);
        return -1;
    }
    *colon = 0;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE };
    struct addrinfo *res;
    if (getaddrinfo (host, colon + 1, &hints, &res)) {
        snprintf (err, errlen, "--push-listen: cannot resolve '%s'", hostport);
        return -1;
    }
    int fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0)
        setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof (one));
    if (fd < 0 || bind (fd, res->ai_addr, res->ai_addrlen) || listen (fd, 16)) {
        snprintf (err, errlen, "cannot listen for pushes on %s: %s", hostport, strerror (errno));
        if (fd >= 0)
            close (fd);
        fd = -1;
    }
    freeaddrinfo (res);
    return fd;
}

static void
s_json_free (void **item)
{
    json_t *j = *item;
    json_decref (j);
    *item = NULL;
}

static void *
s_create (const sf_agent_config_t *agent, const void *config, char *err, size_t errlen)
{
    (void) agent;
    const s_push_config_t *cfg = config;
    s_push_t *self = sf_xcalloc (1, sizeof (*self));
    for (int i = 0; i < S_CLIENTS_MAX; i++)
        self->clients [i].fd = -1;
    self->listen_fd = s_listen (cfg->push_listen, err, errlen);
    if (self->listen_fd < 0) {
        free (self);
        return NULL;
    }
    self->streams = zhashx_new ();
    zhashx_set_destructor (self->streams, (zhashx_destructor_fn *) s_json_free);
    msgpack_sbuffer_init (&self->sbuf);
    sf_stream_init (&self->scratch);
    sf_info ("push: listening for JSON lines on %s", cfg->push_listen);
    return self;
}

//  Checks a merged record with the wire decoder. 0, or -1 with err.
static int
s_validate (s_push_t *self, json_t *rec, char *err)
{
    msgpack_sbuffer_clear (&self->sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &self->sbuf, msgpack_sbuffer_write);
    if (sf_json_to_msgpack (rec, &pk)) {
        snprintf (err, SF_ERR_MAX, "nesting too deep");
        return -1;
    }
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    int rc = -1;
    if (msgpack_unpack_next (&u, self->sbuf.data, self->sbuf.size, &off) == MSGPACK_UNPACK_SUCCESS)
        rc = sf_stream_unpack (&u.data, &self->scratch, err);
    msgpack_unpacked_destroy (&u);
    return rc;
}

static void
s_reply (int fd, const char *text)
{
    //  A client that does not read its answers loses them, not our time
    ssize_t n = send (fd, text, strlen (text), MSG_DONTWAIT | MSG_NOSIGNAL);
    (void) n;
}

//  Applies one line; its answer ("ok\n" or "error: ...\n") goes into reply
static void
s_line (s_push_t *self, const char *line, size_t len, char *reply, size_t cap)
{
    json_error_t jerr;
    json_t *j = json_loadb (line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j || !json_is_object (j)) {
        snprintf (reply, cap, "error: not a JSON object: %s\n", j ? "wrong type" : jerr.text);
        json_decref (j);
        return;
    }
    if (json_is_true (json_object_get (j, "reset"))) {
        zhashx_purge (self->streams);
        json_decref (j);
        snprintf (reply, cap, "%s", "ok\n");
        return;
    }
    const char *name = json_string_value (json_object_get (j, "name"));
    if (!name || !*name || strlen (name) > SF_NAME_MAX) {
        json_decref (j);
        snprintf (reply, cap, "%s", "error: field 'name' is required (a string of at most 128 bytes)\n");
        return;
    }
    if (json_is_true (json_object_get (j, "deleted"))) {
        zhashx_delete (self->streams, name);
        json_decref (j);
        snprintf (reply, cap, "%s", "ok\n");
        return;
    }
    json_t *old = zhashx_lookup (self->streams, name);
    if (!old && zhashx_size (self->streams) >= SF_STREAMS_PER_NODE_MAX) {
        json_decref (j);
        snprintf (reply, cap, "%s", "error: too many streams on this node\n");
        return;
    }
    json_t *merged = old ? json_deep_copy (old) : json_object ();
    json_object_update_recursive (merged, j);
    json_decref (j);
    char verr [SF_ERR_MAX] = "";
    if (s_validate (self, merged, verr)) {
        json_decref (merged);
        snprintf (reply, cap, "error: %s\n", verr);
        return;
    }
    zhashx_update (self->streams, name, merged);
    snprintf (reply, cap, "%s", "ok\n");
}

void *
sf_push_decoder_new (void)
{
    s_push_t *self = calloc (1, sizeof (*self));
    if (!self)
        return NULL;
    self->listen_fd = -1;
    for (int i = 0; i < S_CLIENTS_MAX; i++)
        self->clients [i].fd = -1;
    self->streams = zhashx_new ();
    zhashx_set_destructor (self->streams, (zhashx_destructor_fn *) s_json_free);
    msgpack_sbuffer_init (&self->sbuf);
    sf_stream_init (&self->scratch);
    return self;
}

void
sf_push_decoder_line (void *state, const char *line, size_t len, char *reply, size_t cap)
{
    s_line (state, line, len, reply, cap);
}

static void
s_close (s_client_t *c)
{
    close (c->fd);
    c->fd = -1;
    free (c->buf);
    c->buf = NULL;
    c->len = 0;
}

static void
s_read (s_push_t *self, s_client_t *c)
{
    if (!c->buf)
        c->buf = sf_xmalloc (S_LINE_MAX + 1);
    ssize_t n = recv (c->fd, c->buf + c->len, S_LINE_MAX - c->len, 0);
    if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        s_close (c);
        return;
    }
    c->len += (size_t) n;
    size_t start = 0;
    for (size_t i = c->len - (size_t) n; i < c->len; i++)
        if (c->buf [i] == '\n') {
            if (i > start) {
                char reply [SF_ERR_MAX + 64];
                s_line (self, c->buf + start, i - start, reply, sizeof (reply));
                s_reply (c->fd, reply);
            }
            start = i + 1;
        }
    memmove (c->buf, c->buf + start, c->len - start);
    c->len -= start;
    if (c->len == S_LINE_MAX) {
        s_reply (c->fd, "error: line longer than 262144 bytes; connection closed\n");
        s_close (c);
    }
}

static void
s_wait (void *state, int timeout_ms)
{
    s_push_t *self = state;
    int64_t end = sf_mono_ms () + timeout_ms;
    while (true) {
        struct pollfd fds [S_CLIENTS_MAX + 1];
        int map [S_CLIENTS_MAX + 1];
        int n = 0;
        fds [n].fd = self->listen_fd;
        fds [n].events = POLLIN;
        map [n++] = -1;
        for (int i = 0; i < S_CLIENTS_MAX; i++)
            if (self->clients [i].fd >= 0) {
                fds [n].fd = self->clients [i].fd;
                fds [n].events = POLLIN;
                map [n++] = i;
            }
        int64_t left = end - sf_mono_ms ();
        if (left <= 0)
            return;
        if (poll (fds, (nfds_t) n, (int) left) <= 0)
            continue;
        for (int k = 0; k < n; k++) {
            if (!(fds [k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (map [k] < 0) {
                int fd = accept4 (self->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0)
                    continue;
                int slot = -1;
                for (int i = 0; i < S_CLIENTS_MAX && slot < 0; i++)
                    if (self->clients [i].fd < 0)
                        slot = i;
                if (slot < 0) {
                    s_reply (fd, "error: too many push clients\n");
                    close (fd);
                }
                else
                    self->clients [slot].fd = fd;
            }
            else
                s_read (self, &self->clients [map [k]]);
        }
    }
}

static int
s_poll (void *state, sf_streamset_t *set)
{
    s_push_t *self = state;
    char err [SF_ERR_MAX];
    for (json_t *j = zhashx_first (self->streams); j; j = zhashx_next (self->streams)) {
        if (s_validate (self, j, err))
            continue;           //  checked on arrival; cannot fail here
        sf_stream_copy (sf_streamset_add (set, self->scratch.name), &self->scratch);
    }
    return 0;
}

static void
s_destroy (void **state_p)
{
    s_push_t *self = *state_p;
    if (!self)
        return;
    for (int i = 0; i < S_CLIENTS_MAX; i++)
        if (self->clients [i].fd >= 0)
            s_close (&self->clients [i]);
    if (self->listen_fd >= 0)
        close (self->listen_fd);
    zhashx_destroy (&self->streams);
    msgpack_sbuffer_destroy (&self->sbuf);
    sf_stream_clear (&self->scratch);
    free (self);
    *state_p = NULL;
}

const sf_source_ops_t sf_source_push = {
    .name = "push",
    .summary = "a local endpoint where a media server or a script pushes JSON lines",
    .options = s_options, .config_size = sizeof (s_push_config_t),
    .create = s_create, .wait = s_wait, .poll = s_poll, .destroy = s_destroy
};

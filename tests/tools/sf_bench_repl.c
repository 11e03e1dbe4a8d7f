/*  sf_bench_repl — how long a change takes to be visible on every controller.

    Pushes a change to one stream through a push-source agent (JSON lines on
    its TCP endpoint), then asks every controller for the stream's detail in a
    tight loop until each shows the new value. The time until the last one
    shows it is one sample; p50 and p99 over --count samples are printed as
    "repl_p50_ms=… repl_p99_ms=…".

    usage: sf_bench_repl --controllers Q1,Q2,... --cert PATH --server-cert PATH
                         --push HOST:PORT --name NAME [--count N] [--pause-ms N]
*/
#include "sf_codec.h"
#include "sf_log.h"
#include "sf_security.h"
#include <czmq.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CTL 16

static int
s_push_connect (const char *hostport)
{
    char host [128];
    snprintf (host, sizeof (host), "%s", hostport);
    char *colon = strrchr (host, ':');
    if (!colon)
        return -1;
    *colon = 0;
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    if (getaddrinfo (host, colon + 1, &hints, &res))
        return -1;
    int fd = socket (res->ai_family, SOCK_STREAM, 0);
    if (fd >= 0 && connect (fd, res->ai_addr, res->ai_addrlen)) {
        close (fd);
        fd = -1;
    }
    freeaddrinfo (res);
    return fd;
}

//  Asks one controller for the stream's clients count; -1 if unknown
static int64_t
s_clients (zsock_t *sock, msgpack_sbuffer *req, sf_msg_t *reply)
{
    if (zmq_send (zsock_resolve (sock), req->data, req->size, 0) < 0)
        return -1;
    zframe_t *f = zframe_recv (sock);
    if (!f)
        return -1;
    int64_t clients = -1;
    if (sf_msg_parse (reply, zframe_data (f), zframe_size (f)) == 0
    &&  strcmp (reply->type, "detail_reply") == 0) {
        const msgpack_object *pl = sf_map_get (reply->body, "placements");
        if (pl && pl->type == MSGPACK_OBJECT_ARRAY && pl->via.array.size) {
            //  A placement is the stream's map itself (docs/protocol.md 5.2)
            const msgpack_object *s = &pl->via.array.ptr [0];
            uint64_t c = 0;
            if (sf_map_u64 (s, "clients", &c, NULL) == 0)
                clients = (int64_t) c;
        }
    }
    sf_msg_release (reply);
    zframe_destroy (&f);
    return clients;
}

static int
s_cmp (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static double
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

int
main (int argc, char **argv)
{
    const char *controllers = NULL, *cert_path = NULL, *server_cert = NULL, *push = NULL, *name = NULL;
    int count = 100, pause_ms = 50;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp (argv [i], "--controllers")) controllers = argv [i + 1];
        else if (!strcmp (argv [i], "--cert")) cert_path = argv [i + 1];
        else if (!strcmp (argv [i], "--server-cert")) server_cert = argv [i + 1];
        else if (!strcmp (argv [i], "--push")) push = argv [i + 1];
        else if (!strcmp (argv [i], "--name")) name = argv [i + 1];
        else if (!strcmp (argv [i], "--count")) count = atoi (argv [i + 1]);
        else if (!strcmp (argv [i], "--pause-ms")) pause_ms = atoi (argv [i + 1]);
    }
    if (!controllers || !cert_path || !server_cert || !push || !name || count <= 0) {
        fprintf (stderr, "usage: sf_bench_repl --controllers Q1,Q2,... --cert PATH --server-cert PATH "
                 "--push HOST:PORT --name NAME [--count N] [--pause-ms N]\n");
        return 2;
    }
    zsys_init ();
    char err [512];
    zcert_t *cert = sf_cert_load (cert_path, err, sizeof (err));
    if (!cert) {
        fprintf (stderr, "sf_bench_repl: %s\n", err);
        return 3;
    }
    zsock_t *socks [MAX_CTL];
    int n = 0;
    char *list = strdup (controllers);
    for (char *ep = strtok (list, ","); ep && n < MAX_CTL; ep = strtok (NULL, ",")) {
        socks [n] = zsock_new (ZMQ_DEALER);
        sf_sock_curve_client (socks [n], cert, server_cert, err, sizeof (err));
        zsock_set_rcvtimeo (socks [n], 2000);
        zsock_set_linger (socks [n], 0);
        zsock_connect (socks [n], "%s", ep);
        n++;
    }
    free (list);
    int fd = s_push_connect (push);
    if (fd < 0) {
        fprintf (stderr, "sf_bench_repl: cannot connect to the push endpoint %s\n", push);
        return 3;
    }
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, "detail", 1);
    sf_pack_kstr (&pk, "name", name);
    sf_msg_t reply;
    sf_msg_init (&reply);
    double *samples = calloc ((size_t) count, sizeof (double));
    int got = 0;
    //  Values well away from anything the stream held before
    int64_t base = (int64_t) (time (NULL) % 100000) * 1000;
    for (int i = 0; i < count; i++) {
        int64_t want = base + i + 1;
        char line [256];
        int len = snprintf (line, sizeof (line), "{\"name\":\"%s\",\"status\":\"active\",\"clients\":%lld}\n",
                            name, (long long) want);
        double t0 = s_now_ms ();
        if (write (fd, line, (size_t) len) != len)
            break;
        bool seen [MAX_CTL] = { false };
        int left = n;
        while (left && s_now_ms () - t0 < 30000) {
            for (int k = 0; k < n; k++)
                if (!seen [k] && s_clients (socks [k], &req, &reply) == want) {
                    seen [k] = true;
                    left--;
                }
            if (left)
                usleep (1000);
        }
        if (left == 0)
            samples [got++] = s_now_ms () - t0;
        //  Drain the push endpoint's "ok" answers
        char buf [4096];
        while (recv (fd, buf, sizeof (buf), MSG_DONTWAIT) > 0)
            ;
        usleep ((useconds_t) pause_ms * 1000);
    }
    qsort (samples, (size_t) got, sizeof (double), s_cmp);
    if (got == 0) {
        printf ("repl_samples=0\n");
        return 1;
    }
    printf ("repl_samples=%d repl_p50_ms=%.0f repl_p99_ms=%.0f repl_max_ms=%.0f\n", got,
            samples [got / 2], samples [(int) (got * 0.99) < got ? (int) (got * 0.99) : got - 1],
            samples [got - 1]);
    for (int k = 0; k < n; k++)
        zsock_destroy (&socks [k]);
    close (fd);
    free (samples);
    msgpack_sbuffer_destroy (&req);
    zcert_destroy (&cert);
    return 0;
}

/*  sf_rawclient.c — a raw protocol client for tests: sends exactly the bytes
    it is given to a controller's endpoint, over CurveZMQ, and prints what
    comes back. The malformed-frame and security tests use it to send what no
    well-behaved agent would.

        sf_rawclient --endpoint E --cert PATH --server-cert PATH
                     [--timeout-ms N] [--linger-ms N] [--multi]
                     [--no-read N [--hold-ms N] [--then-read]] MESSAGE...
    where each MESSAGE is one of
        --hex HEX       the bytes, hex-encoded
        --file PATH     the bytes of a file
        --json TEXT     JSON translated to msgpack (sf_json_to_msgpack), for
                        building well-formed envelopes by hand
        --size N        an N-byte frame: a valid hb envelope padded with a
                        bin32 field (N >= 16), for frame-size limits
    and before a MESSAGE, on the same connection,
        --await-absent PATH   wait (up to 30 s) until PATH does not exist
        --pause-ms N          then wait N ms more
    (the revocation test deletes a certificate between two messages).

    Messages go one by one as a DEALER: after each, the client waits up to
    --timeout-ms for a reply, then collects further replies for --linger-ms
    (a batch may be answered by an error and then an ack). With --multi all
    frames go as one multi-frame message instead. With --no-read N the first
    message goes N times and no reply is ever read (one queued at most, a
    small kernel buffer): a client that does not read its replies, holding
    its connection for --hold-ms (default 10000) before it exits 0. With
    --then-read as well it then starts reading (after the second MESSAGE's
    --await-absent, waited for up to 120 s here): it prints the replies that
    were waiting (as message 0) until none has come for --timeout-ms, then
    sends the second MESSAGE and prints its answer (message 1); exit 0 when
    that came, 1 when it did not.

    Output: one JSON line per reply, {"msg": I, "type": T, "code": C,
    "message": M, "body": {...}} (code and message for error replies), or
    {"msg": I, "type": null} when message I got no reply in time.
    Exit: 0 every message was answered, 1 some message was not, 2 usage or
    set-up error.
*/
#include <czmq.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sf_codec.h"
#include "sf_mpjson.h"
#include "sf_security.h"

typedef struct {
    void *data;
    size_t size;
    const char *await_absent;       //  before sending: wait until this file is gone
    int pause_ms;                   //  and then this long
} s_frame_t;

static void
s_usage (void)
{
    fprintf (stderr, "usage: sf_rawclient --endpoint E --cert PATH --server-cert PATH\n"
                     "         [--timeout-ms N] [--linger-ms N] [--multi] [--no-read N [--hold-ms N] [--then-read]]\n"
                     "         (--hex HEX | --file PATH | --json TEXT | --size N)...\n");
}

static int
s_hex (const char *hex, s_frame_t *f)
{
    size_t len = strlen (hex);
    if (len % 2)
        return -1;
    f->size = len / 2;
    f->data = malloc (f->size ? f->size : 1);
    for (size_t i = 0; i < f->size; i++) {
        unsigned v;
        if (sscanf (hex + 2 * i, "%2x", &v) != 1)
            return -1;
        ((uint8_t *) f->data) [i] = (uint8_t) v;
    }
    return 0;
}

static int
s_file (const char *path, s_frame_t *f)
{
    FILE *fp = fopen (path, "rb");
    if (!fp)
        return -1;
    fseek (fp, 0, SEEK_END);
    long n = ftell (fp);
    fseek (fp, 0, SEEK_SET);
    f->size = n > 0 ? (size_t) n : 0;
    f->data = malloc (f->size ? f->size : 1);
    size_t got = fread (f->data, 1, f->size, fp);
    fclose (fp);
    return got == f->size ? 0 : -1;
}

static int
s_json (const char *text, s_frame_t *f)
{
    json_error_t jerr;
    json_t *j = json_loads (text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) {
        fprintf (stderr, "sf_rawclient: --json: %s\n", jerr.text);
        return -1;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int rc = sf_json_to_msgpack (j, &pk);
    json_decref (j);
    f->data = sbuf.data;            //  the sbuffer's memory is ours now
    f->size = sbuf.size;
    return rc;
}

//  [1, "hb", {"pad": bin32 of N - 15 bytes}]: exactly N bytes
static int
s_sized (const char *arg, s_frame_t *f)
{
    char *end;
    unsigned long long n = strtoull (arg, &end, 10);
    if (*end || n < 16 || n > (1ULL << 31))
        return -1;
    f->size = (size_t) n;
    f->data = calloc (1, f->size);
    if (!f->data)
        return -1;
    uint8_t *p = f->data;
    size_t pad = f->size - 15;
    const uint8_t head [] = { 0x93, 0x01, 0xa2, 'h', 'b', 0x81, 0xa3, 'p', 'a', 'd', 0xc6 };
    memcpy (p, head, sizeof (head));
    p [11] = (uint8_t) (pad >> 24);
    p [12] = (uint8_t) (pad >> 16);
    p [13] = (uint8_t) (pad >> 8);
    p [14] = (uint8_t) pad;
    return 0;
}

static void
s_print_reply (int index, zframe_t *frame)
{
    json_t *out = json_object ();
    json_object_set_new (out, "msg", json_integer (index));
    sf_msg_t msg;
    sf_msg_init (&msg);
    if (sf_msg_parse (&msg, zframe_data (frame), zframe_size (frame)) == 0) {
        json_object_set_new (out, "type", json_string (msg.type));
        char code [64] = "", message [SF_ERR_MAX + 1] = "";
        if (sf_map_str (msg.body, "code", code, sizeof (code) - 1, NULL) == 0)
            json_object_set_new (out, "code", json_string (code));
        if (sf_map_str (msg.body, "message", message, sizeof (message) - 1, NULL) == 0)
            json_object_set_new (out, "message", json_string (message));
        json_t *body = sf_mpjson (msg.body);
        json_object_set_new (out, "body", body ? body : json_null ());
    }
    else {
        json_object_set_new (out, "type", json_string ("unparseable"));
        json_object_set_new (out, "error", json_string (msg.error));
    }
    sf_msg_release (&msg);
    char *text = json_dumps (out, JSON_COMPACT);
    printf ("%s\n", text);
    fflush (stdout);
    free (text);
    json_decref (out);
}

//  Waits for replies to message index; returns how many came
static int
s_replies (zsock_t *sock, int index, int timeout_ms, int linger_ms)
{
    int count = 0;
    zpoller_t *poller = zpoller_new (sock, NULL);
    int64_t end = zclock_mono () + timeout_ms;
    while (true) {
        int64_t left = end - zclock_mono ();
        if (left <= 0)
            break;
        if (zpoller_wait (poller, (int) left) != sock)
            break;
        zmsg_t *m = zmsg_recv (sock);
        if (!m)
            break;
        for (zframe_t *f = zmsg_first (m); f; f = zmsg_next (m))
            s_print_reply (index, f);
        zmsg_destroy (&m);
        if (count++ == 0)
            end = zclock_mono () + linger_ms;
    }
    zpoller_destroy (&poller);
    if (count == 0)
        printf ("{\"msg\": %d, \"type\": null, \"timeout_ms\": %d}\n", index, timeout_ms);
    fflush (stdout);
    return count;
}

int
main (int argc, char **argv)
{
    const char *endpoint = NULL, *cert_path = NULL, *server_cert = NULL;
    int timeout_ms = 2000, linger_ms = 300, no_read = 0, hold_ms = 10000;
    bool multi = false, then_read = false;
    s_frame_t frames [64];
    int nframes = 0;
    const char *await_absent = NULL;
    int pause_ms = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv [i];
        const char *v = i + 1 < argc ? argv [i + 1] : NULL;
        if (!strcmp (a, "--multi")) {
            multi = true;
            continue;
        }
        if (!strcmp (a, "--then-read")) {
            then_read = true;
            continue;
        }
        if (!v) {
            s_usage ();
            return 2;
        }
        i++;
        if (!strcmp (a, "--endpoint")) endpoint = v;
        else if (!strcmp (a, "--cert")) cert_path = v;
        else if (!strcmp (a, "--server-cert")) server_cert = v;
        else if (!strcmp (a, "--timeout-ms")) timeout_ms = atoi (v);
        else if (!strcmp (a, "--linger-ms")) linger_ms = atoi (v);
        else if (!strcmp (a, "--no-read")) no_read = atoi (v);
        else if (!strcmp (a, "--hold-ms")) hold_ms = atoi (v);
        else if (!strcmp (a, "--await-absent")) await_absent = v;
        else if (!strcmp (a, "--pause-ms")) pause_ms = atoi (v);
        else if (nframes < 64 && (!strcmp (a, "--hex") || !strcmp (a, "--file")
                              ||  !strcmp (a, "--json") || !strcmp (a, "--size"))) {
            s_frame_t *f = &frames [nframes];
            int rc = !strcmp (a, "--hex") ? s_hex (v, f) : !strcmp (a, "--file") ? s_file (v, f)
                   : !strcmp (a, "--json") ? s_json (v, f) : s_sized (v, f);
            if (rc) {
                fprintf (stderr, "sf_rawclient: bad %s argument\n", a);
                return 2;
            }
            f->await_absent = await_absent;
            f->pause_ms = pause_ms;
            await_absent = NULL;
            pause_ms = 0;
            nframes++;
        }
        else {
            s_usage ();
            return 2;
        }
    }
    if (!endpoint || !cert_path || !server_cert || nframes == 0 || (then_read && (!no_read || nframes < 2))) {
        s_usage ();
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    char err [512];
    zcert_t *cert = sf_cert_load (cert_path, err, sizeof (err));
    if (!cert) {
        fprintf (stderr, "sf_rawclient: %s\n", err);
        return 2;
    }
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    if (!sock || sf_sock_curve_client (sock, cert, server_cert, err, sizeof (err))) {
        fprintf (stderr, "sf_rawclient: %s\n", sock ? err : "cannot create a socket");
        return 2;
    }
    //  Our own limit must not stop what we mean to send or receive
    zsock_set_maxmsgsize (sock, -1);
    zsock_set_linger (sock, 500);
    if (no_read) {
        zsock_set_rcvhwm (sock, 1);
        zsock_set_rcvbuf (sock, 4096);
        zsock_set_sndhwm (sock, no_read + 1);
    }
    if (zsock_connect (sock, "%s", endpoint)) {
        fprintf (stderr, "sf_rawclient: cannot connect to %s\n", endpoint);
        return 2;
    }
    int unanswered = 0;
    if (no_read) {
        for (int i = 0; i < no_read; i++)
            zmq_send (zsock_resolve (sock), frames [0].data, frames [0].size, 0);
        zclock_sleep (hold_ms);
        if (then_read) {
            for (int w = 0; frames [1].await_absent && w < 12000 && zsys_file_exists (frames [1].await_absent); w++)
                zclock_sleep (10);
            //  The replies that were waiting, until none comes for
            //  timeout_ms; then the second message, and its answer (a
            //  request sent while our queue is still full would be dropped)
            zpoller_t *poller = zpoller_new (sock, NULL);
            while (zpoller_wait (poller, timeout_ms) == sock) {
                zmsg_t *m = zmsg_recv (sock);
                if (!m)
                    break;
                for (zframe_t *f = zmsg_first (m); f; f = zmsg_next (m))
                    s_print_reply (0, f);
                zmsg_destroy (&m);
            }
            zpoller_destroy (&poller);
            zmq_send (zsock_resolve (sock), frames [1].data, frames [1].size, 0);
            if (s_replies (sock, 1, timeout_ms, linger_ms) == 0)
                unanswered++;
        }
    }
    else
    if (multi) {
        zmsg_t *m = zmsg_new ();
        for (int i = 0; i < nframes; i++)
            zmsg_addmem (m, frames [i].data, frames [i].size);
        zmsg_send (&m, sock);
        if (s_replies (sock, 0, timeout_ms, linger_ms) == 0)
            unanswered++;
    }
    else
        for (int i = 0; i < nframes; i++) {
            for (int w = 0; frames [i].await_absent && w < 3000 && zsys_file_exists (frames [i].await_absent); w++)
                zclock_sleep (10);
            if (frames [i].pause_ms > 0)
                zclock_sleep (frames [i].pause_ms);
            zmq_send (zsock_resolve (sock), frames [i].data, frames [i].size, 0);
            if (s_replies (sock, i, timeout_ms, linger_ms) == 0)
                unanswered++;
        }
    for (int i = 0; i < nframes; i++)
        free (frames [i].data);
    zsock_destroy (&sock);
    zcert_destroy (&cert);
    return unanswered ? 1 : 0;
}

/*  client.c — the CLI's request/reply over CurveZMQ, failing over along the
    controller list, and output helpers shared by subcommands.
*/
#include "sf_cli.h"
#include "sf_alloc.h"
#include "sf_conndiag.h"
#include "sf_mpjson.h"
#include "sf_security.h"
#include <czmq.h>
#include <ctype.h>
#include <stdlib.h>
#include <time.h>

int
sf_cli_request (sf_cli_t *cli, msgpack_sbuffer *request, sf_msg_t *reply)
{
    char err [512];
    zcert_t *cert = sf_cert_load (cli->cert, err, sizeof (err));
    if (!cert) {
        fprintf (stderr, "streamfleet: %s (or set STREAMFLEET_CERT)\n", err);
        return SF_EXIT_CERT;
    }
    if (!zsys_file_exists (cli->server_cert)) {
        fprintf (stderr, "streamfleet: cannot read the controller's public certificate '%s' "
                 "(--server-cert or STREAMFLEET_SERVER_CERT)\n", cli->server_cert);
        zcert_destroy (&cert);
        return SF_EXIT_CERT;
    }
    char *list = sf_xstrdup (cli->controllers);
    char tried [2048] = "";
    int rc = SF_EXIT_UNREACHABLE;
    int cert_trouble = 0, other_trouble = 0;
    for (char *ep = strtok (list, ", "); ep; ep = strtok (NULL, ", ")) {
        zsock_t *sock = zsock_new (ZMQ_DEALER);
        if (!sock || sf_sock_curve_client (sock, cert, cli->server_cert, err, sizeof (err))) {
            fprintf (stderr, "streamfleet: %s\n", sock ? err : "cannot create a socket");
            zsock_destroy (&sock);
            rc = SF_EXIT_CERT;
            break;
        }
        zsock_set_linger (sock, 0);
        zsock_set_rcvtimeo (sock, cli->timeout_ms);
        //  Watches the connection, to say why it did not answer
        sf_conndiag_t *diag = sf_conndiag_new (sock);
        if (zsock_connect (sock, "%s", ep)) {
            fprintf (stderr, "streamfleet: '%s' is not a valid endpoint (e.g. tcp://host:7601)\n", ep);
            sf_conndiag_destroy (&diag);
            zsock_destroy (&sock);
            continue;
        }
        zmq_send (zsock_resolve (sock), request->data, request->size, 0);
        zframe_t *f = zframe_recv (sock);
        if (!f && diag) {
            sf_conn_state_t state = sf_conndiag_state (diag);
            char hint [768];
            fprintf (stderr, "streamfleet: %s\n", sf_conndiag_hint (state, ep, cli->cert,
                     cli->server_cert, hint, sizeof (hint)));
            if (state == SF_CONN_NOT_ADMITTED || state == SF_CONN_HANDSHAKE_STALLED)
                cert_trouble++;
            else
                other_trouble++;
        }
        sf_conndiag_destroy (&diag);
        if (f) {
            if (sf_msg_parse_copy (reply, zframe_data (f), zframe_size (f)) == 0) {
                zframe_destroy (&f);
                zsock_destroy (&sock);
                rc = SF_EXIT_OK;
                break;
            }
            fprintf (stderr, "streamfleet: unreadable answer from %s: %s\n", ep, reply->error);
            zframe_destroy (&f);
        }
        size_t len = strlen (tried);
        snprintf (tried + len, sizeof (tried) - len, "%s%s", len ? ", " : "", ep);
        zsock_destroy (&sock);
    }
    if (rc == SF_EXIT_UNREACHABLE) {
        fprintf (stderr, "streamfleet: no controller answered within %d ms: %s\n",
                 cli->timeout_ms, tried [0] ? tried : "(none given)");
        //  Every controller refused our keys: a certificate problem (docs/cli.md)
        if (cert_trouble && !other_trouble)
            rc = SF_EXIT_CERT;
    }
    free (list);
    zcert_destroy (&cert);
    return rc;
}

int
sf_cli_ask (sf_cli_t *cli, msgpack_sbuffer *request, sf_msg_t *reply, bool *finished)
{
    sf_msg_init (reply);
    *finished = true;
    int rc = sf_cli_request (cli, request, reply);
    msgpack_sbuffer_destroy (request);
    if (rc || (rc = sf_cli_check_error (reply)))
        return rc;
    if (cli->output == SF_OUT_JSON) {
        sf_cli_print_json (reply->body);
        return SF_EXIT_OK;
    }
    *finished = false;
    return SF_EXIT_OK;
}

int
sf_cli_check_error (const sf_msg_t *reply)
{
    if (strcmp (reply->type, "error") != 0)
        return 0;
    char code [64] = "", message [512] = "";
    sf_map_str (reply->body, "code", code, sizeof (code) - 1, NULL);
    sf_map_str (reply->body, "message", message, sizeof (message) - 1, NULL);
    fprintf (stderr, "streamfleet: %s (%s)\n", message, code);
    return SF_EXIT_ANSWER;
}

void
sf_cli_print_json (const msgpack_object *o)
{
    //  The HTTP API's converter, so both print the same document
    char *text = sf_mpjson_dumps (o, true, NULL);
    if (text)
        puts (text);
    free (text);
}

const char *
sf_fmt_bitrate (uint64_t kbps, char *buf, size_t size)
{
    if (kbps >= 10000)
        snprintf (buf, size, "%.1f Mbit/s", kbps / 1000.0);
    else if (kbps >= 1000)
        snprintf (buf, size, "%.2f Mbit/s", kbps / 1000.0);
    else
        snprintf (buf, size, "%llu kbit/s", (unsigned long long) kbps);
    return buf;
}

const char *
sf_fmt_duration (int64_t s, char *buf, size_t size)
{
    if (s < 0)
        snprintf (buf, size, "-");
    else if (s < 60)
        snprintf (buf, size, "%llds", (long long) s);
    else if (s < 3600)
        snprintf (buf, size, "%lldm %02llds", (long long) s / 60, (long long) s % 60);
    else if (s < 86400)
        snprintf (buf, size, "%lldh %02lldm", (long long) s / 3600, (long long) (s % 3600) / 60);
    else
        snprintf (buf, size, "%lldd %02lldh", (long long) s / 86400, (long long) (s % 86400) / 3600);
    return buf;
}

const char *
sf_fmt_bytes (uint64_t b, char *buf, size_t size)
{
    const char *units [] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double v = (double) b;
    int u = 0;
    while (v >= 1024 && u < 5)
        v /= 1024, u++;
    if (u == 0)
        snprintf (buf, size, "%llu B", (unsigned long long) b);
    else
        snprintf (buf, size, "%.1f %s", v, units [u]);
    return buf;
}

static bool s_local = false;

const char *
sf_fmt_time (int64_t t, char *buf, size_t size)
{
    time_t tt = (time_t) t;
    struct tm tm;
    if (s_local) {
        localtime_r (&tt, &tm);
        strftime (buf, size, "%Y-%m-%d %H:%M:%S %Z", &tm);
    }
    else {
        gmtime_r (&tt, &tm);
        strftime (buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
    }
    return buf;
}

const char *
sf_fmt_time_ms (int64_t ms, char *buf, size_t size)
{
    time_t tt = (time_t) (ms / 1000);
    struct tm tm;
    char day [32], zone [16];
    if (s_local)
        localtime_r (&tt, &tm);
    else
        gmtime_r (&tt, &tm);
    strftime (day, sizeof (day), "%Y-%m-%d %H:%M:%S", &tm);
    strftime (zone, sizeof (zone), s_local ? "%Z" : "UTC", &tm);
    snprintf (buf, size, "%s.%03d %s", day, (int) (ms % 1000), zone);
    return buf;
}

int
sf_cli_known (sf_cli_t *cli, const char *kind, const char *key)
{
    bool stream = !strcmp (kind, "stream");
    msgpack_sbuffer req;
    msgpack_sbuffer_init (&req);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    sf_msg_begin (&pk, stream ? "detail" : "nodes", 1);
    sf_pack_kstr (&pk, stream ? "name" : "id", key);
    sf_msg_t reply;
    sf_msg_init (&reply);
    int rc = sf_cli_request (cli, &req, &reply);
    msgpack_sbuffer_destroy (&req);
    if (rc) {
        sf_msg_release (&reply);
        return rc;
    }
    int known = 1;
    if (!strcmp (reply.type, "error")) {
        char code [32] = "";
        sf_map_str (reply.body, "code", code, sizeof (code) - 1, NULL);
        if (!strcmp (code, "not_found")) {
            fprintf (stderr, "streamfleet: no %s '%s' is known to this controller\n", kind, key);
            known = 0;
        }
    }
    sf_msg_release (&reply);
    return known;
}

void
sf_print_wrapped (const char *text, int width)
{
    if (width <= 0 || (int) sf_text_width (text) <= width) {
        printf ("%s\n", text);
        return;
    }
    //  Items are separated by two or more spaces
    char *copy = sf_xstrdup (text);
    int col = 0;
    char *p = copy;
    while (*p) {
        char *sep = strstr (p, "  ");
        if (sep)
            *sep = 0;
        int w = (int) sf_text_width (p);
        if (col && col + 2 + w > width) {
            printf ("\n");
            col = 0;
        }
        printf ("%s%s", col ? "  " : "", p);
        col += (col ? 2 : 0) + w;
        if (!sep)
            break;
        p = sep + 2;
        while (*p == ' ')
            p++;
    }
    printf ("\n");
    free (copy);
}

void
sf_fmt_set_local (bool local)
{
    s_local = local;
}

size_t
sf_text_width (const char *text)
{
    size_t w = 0;
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if ((*p & 0xC0) != 0x80)
            w++;
    return w;
}

const char *
sf_fit (const char *text, size_t width, char *buf, size_t size)
{
    if (width == 0 || sf_text_width (text) <= width) {
        snprintf (buf, size, "%s", text);
        return buf;
    }
    //  Keep width - 1 code points, then the ellipsis
    size_t cols = 0, i = 0;
    const unsigned char *p = (const unsigned char *) text;
    while (p [i] && cols < width - 1) {
        i++;
        while (p [i] && (p [i] & 0xC0) == 0x80)
            i++;
        cols++;
    }
    snprintf (buf, size, "%.*s…", (int) i, text);
    return buf;
}

const char *
sf_color (const sf_cli_t *cli, const char *word)
{
    if (!cli->color)
        return "";
    if (!strcmp (word, "active") || !strcmp (word, "alive"))
        return "\033[32m";
    if (!strcmp (word, "suspend") || !strcmp (word, "suspect") || !strcmp (word, "starting"))
        return "\033[33m";
    if (!strcmp (word, "error") || !strcmp (word, "offline") || !strcmp (word, "down"))
        return "\033[31m";
    return "";
}

const char *
sf_color_reset (const sf_cli_t *cli)
{
    return cli->color ? "\033[0m" : "";
}

//  Unix seconds, ISO-8601 UTC, or -N{s,m,h,d} before now. 0 or -1.
int
sf_parse_time (const char *text, int64_t now, int64_t *out)
{
    char *end;
    if (text [0] == '-' && isdigit ((unsigned char) text [1])) {
        long long v = strtoll (text + 1, &end, 10);
        int64_t unit = !*end || !strcmp (end, "s") ? 1 : !strcmp (end, "m") ? 60
                     : !strcmp (end, "h") ? 3600 : !strcmp (end, "d") ? 86400 : 0;
        if (!unit)
            return -1;
        *out = now - v * unit;
        return 0;
    }
    long long v = strtoll (text, &end, 10);
    if (end != text && *end == 0 && v >= 0) {
        *out = v;
        return 0;
    }
    struct tm tm;
    memset (&tm, 0, sizeof (tm));
    const char *formats [] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M", NULL };
    for (int i = 0; formats [i]; i++) {
        memset (&tm, 0, sizeof (tm));
        const char *rest = strptime (text, formats [i], &tm);
        if (rest && (!*rest || !strcmp (rest, "Z") || !strcmp (rest, "+00:00"))) {
            *out = (int64_t) timegm (&tm);
            return 0;
        }
    }
    return -1;
}

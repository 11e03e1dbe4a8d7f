/*  fixture_http.h — a tiny HTTP server for adapter unit tests (libmicrohttpd).

    Serves fixed bodies by path on a loopback port, and misbehaves on demand
    (fx_mode): 401, 403, 500, a hang past the client's timeout, a body that is
    not what the client expects. Header-only so each test binary, built from
    one test_*.c, can include it.
*/
#ifndef FIXTURE_HTTP_H
#define FIXTURE_HTTP_H

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef enum { FX_OK, FX_401, FX_403, FX_500, FX_HANG, FX_MALFORMED } fx_mode_t;

#define FX_ROUTES_MAX 32
typedef struct {
    struct MHD_Daemon *mhd;
    int port;
    volatile int mode;
    volatile bool stopping;
    const char *token;                  //  required (header or ?token=), or NULL
    const char *paths [FX_ROUTES_MAX];
    char *bodies [FX_ROUTES_MAX];
    int nroutes;
    volatile int hits;
    char last_auth [256];
    char last_query_token [256];
    pthread_mutex_t lock;
} fx_http_t;

static void
fx_route (fx_http_t *fx, const char *path, const char *body)
{
    pthread_mutex_lock (&fx->lock);
    for (int i = 0; i < fx->nroutes; i++)
        if (!strcmp (fx->paths [i], path)) {
            free (fx->bodies [i]);
            fx->bodies [i] = strdup (body);
            pthread_mutex_unlock (&fx->lock);
            return;
        }
    if (fx->nroutes < FX_ROUTES_MAX) {
        fx->paths [fx->nroutes] = path;
        fx->bodies [fx->nroutes++] = strdup (body);
    }
    pthread_mutex_unlock (&fx->lock);
}

static enum MHD_Result
fx_reply (struct MHD_Connection *conn, unsigned status, const char *body)
{
    struct MHD_Response *r = MHD_create_response_from_buffer (strlen (body), (void *) body,
                                                              MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc = MHD_queue_response (conn, status, r);
    MHD_destroy_response (r);
    return rc;
}

static enum MHD_Result
fx_handler (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
            const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    fx_http_t *fx = cls;
    //  Swallow a POST body before answering
    if (*con_cls == NULL) {
        *con_cls = fx;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0;
        return MHD_YES;
    }
    fx->hits++;
    const char *auth = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "Authorization");
    const char *qtok = MHD_lookup_connection_value (conn, MHD_GET_ARGUMENT_KIND, "token");
    snprintf (fx->last_auth, sizeof fx->last_auth, "%s", auth ? auth : "");
    snprintf (fx->last_query_token, sizeof fx->last_query_token, "%s", qtok ? qtok : "");
    int mode = fx->mode;
    if (mode == FX_HANG) {
        for (int i = 0; i < 500 && !fx->stopping; i++)
            usleep (10000);
        return MHD_NO;
    }
    if (mode == FX_401)
        return fx_reply (conn, 401, "{\"error\": \"unauthorized\"}");
    if (mode == FX_403)
        return fx_reply (conn, 403, "{\"error\": \"forbidden\"}");
    if (mode == FX_500)
        return fx_reply (conn, 500, "internal error");
    if (mode == FX_MALFORMED)
        return fx_reply (conn, 200, "{\"streams\": [ {\"uid\": \"x\", <<<not json");
    if (fx->token) {
        char want [300];
        snprintf (want, sizeof want, "Bearer %s", fx->token);
        if (!((auth && !strcmp (auth, want)) || (qtok && !strcmp (qtok, fx->token))))
            return fx_reply (conn, 401, "{\"error\": \"bad token\"}");
    }
    pthread_mutex_lock (&fx->lock);
    for (int i = 0; i < fx->nroutes; i++)
        if (!strcmp (fx->paths [i], url)) {
            enum MHD_Result rc = fx_reply (conn, 200, fx->bodies [i]);
            pthread_mutex_unlock (&fx->lock);
            return rc;
        }
    pthread_mutex_unlock (&fx->lock);
    return fx_reply (conn, 404, "not found");
}

static fx_http_t *
fx_start (void)
{
    fx_http_t *fx = calloc (1, sizeof (fx_http_t));
    pthread_mutex_init (&fx->lock, NULL);
    //  Port 0: the kernel picks a free one; a thread per connection so a
    //  hanging reply does not hold up the next test's requests
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    fx->mhd = MHD_start_daemon (MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD
                                | MHD_USE_ERROR_LOG,
                                0, NULL, NULL, fx_handler, fx,
                                MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr, MHD_OPTION_END);
    if (!fx->mhd) {
        free (fx);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (fx->mhd, MHD_DAEMON_INFO_BIND_PORT);
    fx->port = info ? info->port : 0;
    return fx;
}

static void
fx_stop (fx_http_t **fx_p)
{
    fx_http_t *fx = *fx_p;
    if (!fx)
        return;
    fx->stopping = true;
    MHD_stop_daemon (fx->mhd);
    for (int i = 0; i < fx->nroutes; i++)
        free (fx->bodies [i]);
    pthread_mutex_destroy (&fx->lock);
    free (fx);
    *fx_p = NULL;
}

//  Reads a fixture file under tests/fixtures/ (tests run from the repo root)
static char *
fx_file (const char *path)
{
    char full [512];
    snprintf (full, sizeof full, "tests/fixtures/%s", path);
    FILE *f = fopen (full, "rb");
    if (!f)
        return NULL;
    fseek (f, 0, SEEK_END);
    long n = ftell (f);
    fseek (f, 0, SEEK_SET);
    char *buf = malloc ((size_t) n + 1);
    if (buf) {
        buf [fread (buf, 1, (size_t) n, f)] = 0;
    }
    fclose (f);
    return buf;
}
#endif

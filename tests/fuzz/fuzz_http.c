/*  fuzz_http — an HTTP request target (path and query string) as the
    controller's listener takes it: the URI limits on the raw bytes
    (sf_http_uri_check), then the path and arguments %-decoded, routed as
    controller/http.c routes them and answered by the reply handler against a
    real store; every answer is a well-formed envelope. */
#include "fuzz_api.h"
#include "sf_http.h"
#include <ctype.h>

//  %XX decoding in place, as libmicrohttpd's default unescaper does
static void
s_unescape (char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '%' && isxdigit ((unsigned char) r [1]) && isxdigit ((unsigned char) r [2])) {
            char hex [3] = { r [1], r [2], 0 };
            *w++ = (char) strtol (hex, NULL, 16);
            r += 2;
        }
        else
            *w++ = *r;
    }
    *w = 0;
}

typedef struct { char *key, *value; } s_arg_t;

static const char *
s_find (s_arg_t *args, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (args [i].key, key) == 0)
            return args [i].value && *args [i].value ? args [i].value : NULL;
    return NULL;
}

static void
s_ask (sf_query_ctx_t *ctx, const char *type, const char *key, const char *value,
       const char **names, s_arg_t *args, size_t n)
{
    msgpack_sbuffer req, reply;
    msgpack_sbuffer_init (&req);
    msgpack_sbuffer_init (&reply);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &req, msgpack_sbuffer_write);
    size_t count = key ? 1 : 0;
    for (size_t i = 0; names [i]; i++)
        count += s_find (args, n, names [i]) != NULL;
    msgpack_pack_map (&pk, count);
    if (key)
        sf_pack_kstr (&pk, key, value);
    for (size_t i = 0; names [i]; i++)
        if (s_find (args, n, names [i]))
            sf_pack_kstr (&pk, names [i], s_find (args, n, names [i]));
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    FUZZ_CHECK (msgpack_unpack_next (&u, req.data, req.size, &off) == MSGPACK_UNPACK_SUCCESS);
    (void) sf_api_answer (ctx, type, &u.data, &reply);
    fuzz_reply_ok (&reply);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&req);
    msgpack_sbuffer_destroy (&reply);
}

static const char *s_list_args [] = { "filter", "name", "node", "sort", "limit", "cursor", "after", NULL };
static const char *s_detail_args [] = { "node", NULL };
static const char *s_dvr_args [] = { "at", NULL };
static const char *s_migrations_args [] = { "stream", "kind", "since_s", "limit", NULL };
static const char *s_no_args [] = { NULL };

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    sf_query_ctx_t *ctx = fuzz_fleet ();
    char *uri = fuzz_cstr (data, size);
    size_t len = strlen (uri);
    const sf_http_verdict_t *v = sf_http_uri_check (uri, len);
    if (v) {
        FUZZ_CHECK (v->status == 400 || v->status == 414);
        free (uri);
        return 0;
    }
    FUZZ_CHECK (len <= SF_HTTP_URI_MAX);
    s_arg_t args [SF_HTTP_ARGS_MAX];
    size_t n = 0;
    char *q = strchr (uri, '?');
    if (q) {
        *q++ = 0;
        for (char *piece = strtok (q, "&"); piece; piece = strtok (NULL, "&")) {
            FUZZ_CHECK (n < SF_HTTP_ARGS_MAX);
            FUZZ_CHECK (strlen (piece) <= SF_HTTP_ARG_MAX);
            char *eq = strchr (piece, '=');
            if (eq)
                *eq++ = 0;
            s_unescape (piece);
            if (eq)
                s_unescape (eq);
            args [n++] = (s_arg_t) { piece, eq };
        }
    }
    FUZZ_CHECK (strlen (uri) <= SF_HTTP_PATH_MAX);
    s_unescape (uri);
    size_t plen = strlen (uri);
    if (strcmp (uri, "/api/v1/streams") == 0 || strcmp (uri, "/api/v1/streams/") == 0)
        s_ask (ctx, "list", NULL, NULL, s_list_args, args, n);
    else
    if (strncmp (uri, "/api/v1/streams/", 16) == 0 && plen - 16 < SF_NAME_MAX + 8) {
        s_ask (ctx, "detail", "name", uri + 16, s_detail_args, args, n);
        if (plen > 20 && strcmp (uri + plen - 4, "/dvr") == 0) {
            uri [plen - 4] = 0;
            s_ask (ctx, "dvr", "name", uri + 16, s_dvr_args, args, n);
        }
    }
    else
    if (strncmp (uri, "/api/v1/nodes/", 14) == 0)
        s_ask (ctx, "nodes", "id", uri + 14, s_no_args, args, n);
    else
    if (strcmp (uri, "/api/v1/nodes") == 0)
        s_ask (ctx, "nodes", NULL, NULL, s_no_args, args, n);
    else
    if (strcmp (uri, "/api/v1/migrations") == 0)
        s_ask (ctx, "migrations", NULL, NULL, s_migrations_args, args, n);
    free (uri);
    return 0;
}

/*  http_fixture.c — an HTTP listener over a synthetic fleet, for measuring
    the API and the web page at scale without agents.

        http_fixture --data DIR --streams N [--nodes K] [--http HOST:PORT]
                     [--token T] [--seconds S]

    Writes N stream placements spread over K nodes into a fresh store (types,
    statuses, functions and DVR ranges varied the way the simulator varies
    them), keeps every node alive with heartbeats, and serves sf_http on the
    same read model the controller uses until SIGINT/SIGTERM or S seconds.
    Prints "ready http://ADDR/ N streams" once it serves.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sf_http.h"
#include "sf_log.h"

static volatile sig_atomic_t s_stop = 0;
static void s_on_signal (int sig) { s_stop = 1; }

int
main (int argc, char **argv)
{
    const char *data = NULL, *listen = "127.0.0.1:0", *token = NULL;
    long streams = 1000, nodes = 10, seconds = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp (argv [i], "--data")) data = argv [i + 1];
        else if (!strcmp (argv [i], "--streams")) streams = atol (argv [i + 1]);
        else if (!strcmp (argv [i], "--nodes")) nodes = atol (argv [i + 1]);
        else if (!strcmp (argv [i], "--http")) listen = argv [i + 1];
        else if (!strcmp (argv [i], "--token")) token = argv [i + 1];
        else if (!strcmp (argv [i], "--seconds")) seconds = atol (argv [i + 1]);
        else {
            fprintf (stderr, "http_fixture: unknown option %s\n", argv [i]);
            return 2;
        }
    }
    if (!data || streams < 0 || nodes < 1) {
        fprintf (stderr, "usage: http_fixture --data DIR --streams N [--nodes K] "
                 "[--http HOST:PORT] [--token T] [--seconds S]\n");
        return 2;
    }
    char err [512] = "";
    sf_store_t *store = sf_store_new (data, (size_t) 4 << 30, err, sizeof (err));
    if (!store) {
        fprintf (stderr, "http_fixture: %s\n", err);
        return 1;
    }
    sf_live_t *live = sf_live_new (3000, 10000);
    int64_t now = sf_now_ms () / 1000;
    //  Several write transactions, so a million rows do not need one huge one
    long done = 0;
    while (done < streams) {
        int rc = sf_store_write_begin (store);
        long batch_end = done + 50000 < streams? done + 50000: streams;
        for (long i = done; rc == 0 && i < batch_end; i++) {
            sf_stream_t s;
            sf_stream_init (&s);
            snprintf (s.name, sizeof (s.name), "cam%06ld", i);
            snprintf (s.node, sizeof (s.node), "n%ld", i % nodes + 1);
            s.type = i % 10 == 9? SF_TYPE_SECONDARY: SF_TYPE_PRIMARY;
            s.status = s.type == SF_TYPE_SECONDARY? SF_STATUS_SUSPEND
                     : i % 23 == 0? SF_STATUS_ERROR: SF_STATUS_ACTIVE;
            s.functions = (i % 3? SF_FN_DVR: 0) | (i % 4 == 0? SF_FN_AUDIO: 0)
                        | (i % 7 == 0? SF_FN_PHOTO: 0);
            s.clients = (uint32_t) (i * 7 % 40);
            s.bitrate_kbps = s.status == SF_STATUS_ACTIVE? (uint32_t) (500 + i * 37 % 6000): 0;
            s.started_at = now - 60 - i % 86400;
            s.reconnect_attempts = (uint32_t) (i % 5 == 0);
            s.reconnect_total = (uint32_t) (i % 17);
            char url [128];
            snprintf (url, sizeof (url), "rtsp://10.%ld.%ld.%ld/stream%ld", i / 65536 % 256,
                      i / 256 % 256, i % 256, i);
            sf_text_set (&s.source_url, url);
            sf_text_set (&s.source_sdp, "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=cam\r\nm=video 0 RTP/AVP 96\r\n"
                                        "a=rtpmap:96 H264/90000\r\n");
            char config [512];
            snprintf (config, sizeof (config), "{\n  \"name\": \"%s\",\n  \"input\": \"%s\",\n"
                      "  \"dvr\": {\"depth\": 86400}\n}\n", s.name, url);
            sf_text_set (&s.config, config);
            snprintf (s.playback_uuid, sizeof (s.playback_uuid),
                      "00000000-0000-4000-8000-%012ld", i);
            if (s.functions & SF_FN_DVR) {
                sf_text_set (&s.dvr.records_path, "/var/lib/dvr");
                s.dvr.depth_s = 86400;
                s.dvr.chunk_s = 10;
                s.dvr.disk_free_bytes = 400ULL << 30;
                s.dvr.memory_bytes = 8 << 20;
                sf_dvr_add_range (&s.dvr, now - 86400, now - 50000);
                sf_dvr_add_range (&s.dvr, now - 40000, now - 60);
                s.dvr.current_from = now - 40000;
            }
            SF_STRSET (s.media.vcodec, "h264");
            s.media.width = 1920;
            s.media.height = 1080;
            s.media.fps = 25;
            s.version.gen = 1;
            s.version.seq = (uint64_t) i + 1;
            rc = sf_store_put_stream (store, &s);
            sf_stream_clear (&s);
        }
        if (rc == 0 && batch_end == streams)
            for (long n = 1; rc == 0 && n <= nodes; n++) {
                sf_node_t node;
                sf_node_init (&node);
                snprintf (node.id, sizeof (node.id), "n%ld", n);
                snprintf (node.addr_external, sizeof (node.addr_external), "media%ld.example.net", n);
                SF_STRSET (node.software_version, "fixture");
                node.started_at = now - 3600;
                node.cpu_pct = 12.5;
                rc = sf_store_put_node (store, &node);
            }
        if (rc || (rc = sf_store_commit (store))) {
            fprintf (stderr, "http_fixture: storing streams failed (%d)\n", rc);
            if (rc == SF_STORE_RETRY)
                continue;
            return 1;
        }
        done = batch_end;
    }
    sf_metrics_t metrics;
    sf_metrics_init (&metrics);
    sf_query_ctx_t query = { .store = store, .live = live, .transfer_timeout_s = 120 };
    uint64_t beat = 1;
    for (long n = 1; n <= nodes; n++) {
        char id [32];
        snprintf (id, sizeof (id), "n%ld", n);
        sf_live_beat (live, id, 1, beat, sf_mono_ms ());
    }
    sf_http_t *http = sf_http_new (&query, &metrics, listen, token, err, sizeof (err));
    if (!http) {
        fprintf (stderr, "http_fixture: %s\n", err);
        return 1;
    }
    signal (SIGINT, s_on_signal);
    signal (SIGTERM, s_on_signal);
    printf ("ready http://%s/ %ld streams\n", sf_http_address (http), streams);
    fflush (stdout);
    int64_t end = seconds? sf_mono_ms () + seconds * 1000: 0;
    while (!s_stop && (!end || sf_mono_ms () < end)) {
        usleep (500 * 1000);
        beat++;
        for (long n = 1; n <= nodes; n++) {
            char id [32];
            snprintf (id, sizeof (id), "n%ld", n);
            sf_live_beat (live, id, 1, beat, sf_mono_ms ());
        }
    }
    sf_http_destroy (&http);
    sf_live_destroy (&live);
    sf_store_destroy (&store);
    return 0;
}

/*  test_rtsp_probe.c — RTSP DESCRIBE and its cache: the SDP of rtsp://
    sources, asked once, again after a reconnect, not again after a failure
    until the back-off passed, never when the source gave its own SDP, and
    never for longer than the timeout. A tiny RTSP responder in a thread
    plays the camera; it can also accept and stay silent.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "sf_log.h"
#include "sf_rtsp_probe.h"

#define SDP "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=test camera\r\nm=video 0 RTP/AVP 96\r\n" \
            "a=rtpmap:96 H264/90000\r\n"

typedef struct {
    int listener;
    int port;
    volatile bool silent;       //  accept, read, never answer
    volatile bool stop;
    volatile int requests;
    pthread_t thread;
} s_camera_t;

static void *
s_camera_run (void *arg)
{
    s_camera_t *cam = arg;
    while (!cam->stop) {
        int fd = accept (cam->listener, NULL, NULL);
        if (fd < 0)
            continue;
        char req [4096];
        ssize_t n = recv (fd, req, sizeof req - 1, 0);
        if (n > 0 && !cam->stop) {
            req [n] = 0;
            cam->requests++;
            if (cam->silent) {
                for (int i = 0; i < 200 && !cam->stop; i++)
                    usleep (10000);
            }
            else {
                int cseq = 1;
                char *c = strcasestr (req, "CSeq:");
                if (c)
                    cseq = atoi (c + 5);
                char reply [1024];
                int len = snprintf (reply, sizeof reply,
                    "RTSP/1.0 200 OK\r\nCSeq: %d\r\nContent-Type: application/sdp\r\n"
                    "Content-Length: %zu\r\n\r\n%s", cseq, strlen (SDP), SDP);
                if (send (fd, reply, (size_t) len, MSG_NOSIGNAL) < 0)
                    break;
            }
        }
        close (fd);
    }
    return NULL;
}

static s_camera_t *
s_camera_start (void)
{
    s_camera_t *cam = calloc (1, sizeof (s_camera_t));
    cam->listener = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0 };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (cam->listener, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal (listen (cam->listener, 8), 0);
    socklen_t len = sizeof addr;
    getsockname (cam->listener, (struct sockaddr *) &addr, &len);
    cam->port = ntohs (addr.sin_port);
    pthread_create (&cam->thread, NULL, s_camera_run, cam);
    return cam;
}

static void
s_camera_stop (s_camera_t **cam_p)
{
    s_camera_t *cam = *cam_p;
    cam->stop = true;
    shutdown (cam->listener, SHUT_RDWR);
    //  Wake accept() with a connection of our own
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons (cam->port) };
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    connect (fd, (struct sockaddr *) &addr, sizeof addr);
    close (fd);
    pthread_join (cam->thread, NULL);
    close (cam->listener);
    free (cam);
    *cam_p = NULL;
}

static void
test_describe (void **state)
{
    s_camera_t *cam = s_camera_start ();
    char url [128], err [512];
    snprintf (url, sizeof url, "rtsp://127.0.0.1:%d/test", cam->port);
    char *sdp = NULL;
    int32_t ping = -1;
    assert_int_equal (sf_rtsp_describe (url, 1000, &sdp, &ping, err, sizeof err), 0);
    assert_non_null (sdp);
    assert_non_null (strstr (sdp, "a=rtpmap:96 H264/90000"));
    assert_true (ping >= 0);
    free (sdp);
    //  A silent camera: bounded by the timeout
    cam->silent = true;
    int64_t t0 = sf_mono_ms ();
    assert_int_equal (sf_rtsp_describe (url, 300, &sdp, &ping, err, sizeof err), -1);
    assert_true (sf_mono_ms () - t0 < 1500);
    assert_non_null (strstr (err, url));
    assert_null (sdp);
    s_camera_stop (&cam);
    //  Nobody listening
    assert_int_equal (sf_rtsp_describe ("rtsp://127.0.0.1:9/x", 300, &sdp, &ping, err, sizeof err), -1);
}

static void
test_cache (void **state)
{
    s_camera_t *cam = s_camera_start ();
    char url [128];
    snprintf (url, sizeof url, "rtsp://127.0.0.1:%d/test", cam->port);
    sf_rtsp_probe_t *probe = sf_rtsp_probe_new (500, 60000);
    sf_streamset_t set;
    sf_streamset_init (&set);
    sf_stream_t *cam1 = sf_streamset_add (&set, "cam1");
    sf_text_set (&cam1->source_url, url);
    cam1->started_at = 1000;
    sf_stream_t *own = sf_streamset_add (&set, "own-sdp");
    sf_text_set (&own->source_url, url);
    sf_text_set (&own->source_sdp, "v=0\r\ns=from the server\r\n");
    sf_stream_t *hls = sf_streamset_add (&set, "hls");
    sf_text_set (&hls->source_url, "http://127.0.0.1/x.m3u8");

    assert_int_equal (sf_rtsp_probe_apply (probe, &set, 1000000), 1);
    assert_non_null (strstr (set.items [0].source_sdp, "s=test camera"));
    assert_true (set.items [0].ping_ms >= 0);
    assert_string_equal (set.items [1].source_sdp, "v=0\r\ns=from the server\r\n");
    assert_null (set.items [2].source_sdp);
    //  Cached: the next poll's fresh record gets the SDP without a request
    sf_text_set (&set.items [0].source_sdp, NULL);
    assert_int_equal (sf_rtsp_probe_apply (probe, &set, 1001000), 0);
    assert_non_null (set.items [0].source_sdp);
    assert_int_equal (cam->requests, 1);
    //  A reconnect asks again (each poll's record is fresh, without an SDP)
    sf_text_set (&set.items [0].source_sdp, NULL);
    set.items [0].started_at = 2000;
    assert_int_equal (sf_rtsp_probe_apply (probe, &set, 1002000), 1);
    assert_int_equal (cam->requests, 2);
    //  A failing camera after a reconnect: the old SDP stays, and no retry
    //  before the back-off
    cam->silent = true;
    set.items [0].reconnect_total = 5;
    sf_text_set (&set.items [0].source_sdp, NULL);
    assert_int_equal (sf_rtsp_probe_apply (probe, &set, 1003000), 1);
    assert_non_null (set.items [0].source_sdp);
    sf_text_set (&set.items [0].source_sdp, NULL);
    assert_int_equal (sf_rtsp_probe_apply (probe, &set, 1004000), 0);
    sf_text_set (&set.items [0].source_sdp, NULL);
    assert_int_equal (sf_rtsp_probe_apply (probe, &set, 1003000 + 60000), 1);
    sf_streamset_clear (&set);
    //  Streams that went away leave the cache
    sf_streamset_init (&set);
    assert_int_equal (sf_rtsp_probe_apply (probe, &set, 1100000), 0);
    sf_rtsp_probe_destroy (&probe);
    sf_rtsp_probe_destroy (&probe);
    s_camera_stop (&cam);
}

int
main (void)
{
    sf_log_set_level (SF_LOG_ERROR);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_describe),
        cmocka_unit_test (test_cache),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

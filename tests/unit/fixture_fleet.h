/*  fixture_fleet.h — a small fleet in a real, in-process LMDB store, for the
    read model's and the reply handler's unit tests.

    Three nodes: n1 and n2 alive (heartbeats just now), n3 known but silent
    for a minute, so down. Seven placements, written through the one write
    path (sf_apply_put) so the summaries and the name index are the
    controller's own:

        node  name       type       status   functions   clients  kbps  notes
        n1    cam-a      primary    active   dvr         5        2000  2 DVR ranges, links
        n1    cam-b      secondary  suspend  dvr,audio   0        0
        n1    Lobby      primary    active   audio       1        800   source url, ping 12
        n2    cam-a      secondary  suspend  dvr         0        0     a standby of cam-a
        n2    gate       primary    active   -           7        500
        n2    zoo        primary    error    -           0        0
        n3    yard       primary    active   dvr         2        300   node down: offline

    Header-only so each test binary, built from one test_*.c, can include it.
*/
#ifndef FIXTURE_FLEET_H
#define FIXTURE_FLEET_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sf_apply.h"
#include "sf_log.h"
#include "sf_query.h"

#define FX_STREAMS 7
//  The fixture's "now" (unix seconds), set at init: times are relative to it
static int FX_NOW_S;

typedef struct {
    char dir [64];
    sf_store_t *store;
    sf_live_t *live;
    sf_query_ctx_t ctx;
} fx_fleet_t;

typedef struct {
    const char *node, *name;
    uint8_t type, status, functions;
    uint32_t clients, bitrate_kbps;
} fx_row_t;

static const fx_row_t fx_rows [FX_STREAMS] = {
    { "n1", "cam-a", SF_TYPE_PRIMARY,   SF_STATUS_ACTIVE,  SF_FN_DVR,               5, 2000 },
    { "n1", "cam-b", SF_TYPE_SECONDARY, SF_STATUS_SUSPEND, SF_FN_DVR | SF_FN_AUDIO, 0, 0 },
    { "n1", "Lobby", SF_TYPE_PRIMARY,   SF_STATUS_ACTIVE,  SF_FN_AUDIO,             1, 800 },
    { "n2", "cam-a", SF_TYPE_SECONDARY, SF_STATUS_SUSPEND, SF_FN_DVR,               0, 0 },
    { "n2", "gate",  SF_TYPE_PRIMARY,   SF_STATUS_ACTIVE,  0,                       7, 500 },
    { "n2", "zoo",   SF_TYPE_PRIMARY,   SF_STATUS_ERROR,   0,                       0, 0 },
    { "n3", "yard",  SF_TYPE_PRIMARY,   SF_STATUS_ACTIVE,  SF_FN_DVR,               2, 300 },
};

static void
fx_node (fx_fleet_t *fx, const char *id, const char *external)
{
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.id, id);
    SF_STRSET (n.addr_external, external);
    n.version = (sf_version_t) { 1, 1 };
    if (sf_store_put_node (fx->store, &n))
        abort ();
}

static int
fx_fleet_init (fx_fleet_t *fx)
{
    memset (fx, 0, sizeof (*fx));
    FX_NOW_S = (int) (sf_now_ms () / 1000);
    strcpy (fx->dir, "/tmp/sf-test-fleet.XXXXXX");
    if (!mkdtemp (fx->dir))
        return -1;
    char err [256];
    fx->store = sf_store_new (fx->dir, 16 << 20, err, sizeof (err));
    fx->live = sf_live_new (3000, 10000);
    if (!fx->store || !fx->live)
        return -1;
    int64_t mono = sf_mono_ms ();
    sf_live_beat (fx->live, "n1", 1, 1, mono);
    sf_live_beat (fx->live, "n2", 1, 1, mono);
    sf_live_know (fx->live, "n3", mono - 60000);
    if (sf_store_write_begin (fx->store))
        return -1;
    fx_node (fx, "n1", "media1.example.net");
    fx_node (fx, "n2", "");
    fx_node (fx, "n3", "");
    for (int i = 0; i < FX_STREAMS; i++) {
        const fx_row_t *r = &fx_rows [i];
        sf_stream_t s;
        sf_stream_init (&s);
        SF_STRSET (s.name, r->name);
        SF_STRSET (s.node, r->node);
        s.type = r->type;
        s.status = r->status;
        s.functions = r->functions;
        s.clients = r->clients;
        s.bitrate_kbps = r->bitrate_kbps;
        s.ping_ms = -1;
        s.started_at = r->status == SF_STATUS_ACTIVE ? FX_NOW_S - 100 * (i + 1) : 0;
        s.reconnect_total = (uint32_t) i;
        s.changed_at_ms = (int64_t) FX_NOW_S * 1000 + i;
        s.version = (sf_version_t) { 1, (uint64_t) i + 2 };
        if (strcmp (r->name, "cam-a") == 0 && strcmp (r->node, "n1") == 0) {
            sf_dvr_add_range (&s.dvr, FX_NOW_S - 7200, FX_NOW_S - 3600);
            sf_dvr_add_range (&s.dvr, FX_NOW_S - 1800, FX_NOW_S - 60);
            sf_text_set (&s.dvr.records_path, "/var/dvr/cam-a");
            sf_text_set (&s.config, "stream cam-a {}\n");
            SF_STRSET (s.playback_uuid, "0000-cam-a");
        }
        if (strcmp (r->name, "Lobby") == 0) {
            sf_text_set (&s.source_url, "rtsp://10.0.0.9/lobby");
            s.ping_ms = 12;
        }
        int rc = sf_apply_put (fx->store, &s);
        sf_stream_clear (&s);
        if (rc)
            return -1;
    }
    if (sf_store_commit (fx->store))
        return -1;
    fx->ctx = (sf_query_ctx_t) { .store = fx->store, .live = fx->live, .transfer_timeout_s = 120 };
    return 0;
}

static void
fx_fleet_destroy (fx_fleet_t *fx)
{
    sf_store_destroy (&fx->store);
    sf_live_destroy (&fx->live);
    char cmd [128];
    snprintf (cmd, sizeof (cmd), "rm -rf '%s'", fx->dir);
    if (system (cmd) != 0)
        fprintf (stderr, "could not remove %s\n", fx->dir);
}
#endif

/*  test_alerts.c — alert rules with an injected clock: a blip shorter than
    the hold fires nothing; a longer one fires once and resolves once; a
    condition back during the resolve hold neither resolves nor fires again;
    a node down is one alert with its stream count (and none per stream);
    the listing's selector decides what a rule sees; reconnects, disk and
    the DVR conditions; the rule parser's errors name what is wrong; the
    cluster's episodes (replicated firing state): one since and one set of
    idempotency keys on every controller, also one that judged later or
    started after the alert fired, whichever order the facts come in; the
    alert history kept in the store across a restart; web links open the
    stream's detail.
*/
#include "sf_alerts.h"
#include "fixture_fleet.h"
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define S_MIN (60 * 1000LL)
#define T0 (1800000000000LL)

typedef struct {
    sf_alert_event_t ev [64];
    size_t n;
} s_seen_t;

static void
s_record (const sf_alert_event_t *ev, void *arg)
{
    s_seen_t *seen = arg;
    if (seen->n < 64)
        seen->ev [seen->n++] = *ev;
}

static sf_alerts_t *
s_new (const char *rules, s_seen_t *seen)
{
    char err [512] = "";
    sf_alerts_t *a = sf_alerts_new (rules, 120, err, sizeof (err));
    if (!a)
        fprintf (stderr, "%s\n", err);
    assert_non_null (a);
    memset (seen, 0, sizeof (*seen));
    sf_alerts_on_event (a, s_record, seen);
    return a;
}

//  A primary's committed change at record version gen.seq
static sf_store_change_t
s_change (const char *node, const char *name, uint8_t status, uint64_t gen, uint64_t seq)
{
    sf_store_change_t c = { .deleted = false, .node = node, .name = name };
    c.sum.type = SF_TYPE_PRIMARY;
    c.sum.status = status;
    c.sum.gen = gen;
    c.sum.seq = seq;
    return c;
}

static void
s_put (sf_alerts_t *a, const char *node, const char *name, uint8_t type, uint8_t status,
       uint32_t kbps, int64_t now)
{
    sf_store_change_t c = s_change (node, name, status, 0, 0);
    c.sum.type = type;
    c.sum.bitrate_kbps = kbps;
    sf_alerts_apply (a, &c, 1, now);
}

//  The alerts reply (of one stream, or all), parsed; s_reply_end frees it
typedef struct {
    msgpack_sbuffer sb;
    sf_msg_t msg;
} s_reply_t;

static const msgpack_object *
s_reply (sf_alerts_t *a, const char *stream, s_reply_t *r, const char *section)
{
    msgpack_sbuffer_init (&r->sb);
    sf_alerts_reply (a, stream, NULL, &r->sb);
    sf_msg_init (&r->msg);
    assert_int_equal (sf_msg_parse (&r->msg, r->sb.data, r->sb.size), 0);
    assert_string_equal (r->msg.type, "alerts_reply");
    return sf_map_get (r->msg.body, section);
}

static void
s_reply_end (s_reply_t *r)
{
    sf_msg_release (&r->msg);
    msgpack_sbuffer_destroy (&r->sb);
}

//  Recent transition i's state, idempotency key and time
static void
s_recent_at (const msgpack_object *recent, uint32_t i, char st [16], char idem [40], int64_t *at)
{
    assert_true (i < recent->via.array.size);
    sf_map_str (&recent->via.array.ptr [i], "state", st, 15, NULL);
    sf_map_str (&recent->via.array.ptr [i], "idempotency_key", idem, 39, NULL);
    sf_map_i64 (&recent->via.array.ptr [i], "at_ms", at, NULL);
}

//  The episodes written into the store, as the ingest thread does
static void
s_store (sf_alerts_t *a, sf_store_t *store)
{
    assert_int_equal (sf_store_write_begin (store), 0);
    assert_int_equal (sf_alerts_store (a), 0);
    assert_int_equal (sf_store_commit (store), 0);
}

#define RULE_CAM "cam-offline inactive for=10m resolve=1m filter=primary name=cam-*"

static void
test_blip_shorter_than_hold_fires_nothing (void **state)
{
    s_seen_t seen;
    sf_alerts_t *a = s_new (RULE_CAM, &seen);
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    for (int64_t t = T0; t <= T0 + 9 * S_MIN; t += 30000)
        sf_alerts_tick (a, t);
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 900, T0 + 9 * S_MIN + 59000);
    for (int64_t t = T0 + 9 * S_MIN; t <= T0 + 60 * S_MIN; t += 30000)
        sf_alerts_tick (a, t);
    assert_int_equal (seen.n, 0);
    assert_int_equal (sf_alerts_firing (a), 0);
    sf_alerts_destroy (&a);
    assert_null (a);
}

static void
test_longer_fires_once_then_resolves_once (void **state)
{
    s_seen_t seen;
    sf_alerts_t *a = s_new (RULE_CAM, &seen);
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    sf_alerts_tick (a, T0 + 10 * S_MIN - 1);
    assert_int_equal (seen.n, 0);
    //  Repeated reports of the same state change nothing
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0 + 5 * S_MIN);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    assert_int_equal (seen.n, 1);
    assert_false (seen.ev [0].resolved);
    assert_string_equal (seen.ev [0].rule, "cam-offline");
    assert_string_equal (seen.ev [0].stream, "cam-1");
    assert_string_equal (seen.ev [0].node, "n1");
    assert_int_equal (seen.ev [0].since_ms, T0);
    assert_int_equal (strlen (seen.ev [0].idempotency_key), 32);
    assert_int_equal (sf_alerts_firing (a), 1);
    for (int64_t t = T0 + 10 * S_MIN; t < T0 + 20 * S_MIN; t += 1000)
        sf_alerts_tick (a, t);
    assert_int_equal (seen.n, 1);
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 900, T0 + 20 * S_MIN);
    sf_alerts_tick (a, T0 + 20 * S_MIN + 59000);
    assert_int_equal (seen.n, 1);
    sf_alerts_tick (a, T0 + 21 * S_MIN);
    assert_int_equal (seen.n, 2);
    assert_true (seen.ev [1].resolved);
    assert_string_equal (seen.ev [1].key, seen.ev [0].key);
    assert_string_not_equal (seen.ev [1].idempotency_key, seen.ev [0].idempotency_key);
    for (int64_t t = T0 + 21 * S_MIN; t < T0 + 40 * S_MIN; t += 10000)
        sf_alerts_tick (a, t);
    assert_int_equal (seen.n, 2);
    assert_int_equal (sf_alerts_firing (a), 0);
    sf_alerts_destroy (&a);
}

//  Two controllers judging the same replicated change at different moments
//  name its transitions with the same idempotency keys (the record's
//  version, not the clock); a later change that starts it again is new
static void
test_idempotency_keys_agree_across_controllers (void **state)
{
    s_seen_t one, two;
    sf_alerts_t *a = s_new (RULE_CAM, &one);
    sf_alerts_t *b = s_new (RULE_CAM, &two);
    sf_store_change_t c = s_change ("n1", "cam-1", SF_STATUS_ERROR, 3, 41);
    sf_alerts_apply (a, &c, 1, T0);
    sf_alerts_apply (b, &c, 1, T0 + 1700);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    sf_alerts_tick (b, T0 + 11 * S_MIN);
    assert_int_equal (one.n, 1);
    assert_int_equal (two.n, 1);
    assert_int_not_equal (one.ev [0].since_ms, two.ev [0].since_ms);
    assert_string_equal (one.ev [0].idempotency_key, two.ev [0].idempotency_key);
    c.sum.status = SF_STATUS_ACTIVE;
    c.sum.seq = 42;
    sf_alerts_apply (a, &c, 1, T0 + 12 * S_MIN);
    sf_alerts_apply (b, &c, 1, T0 + 12 * S_MIN + 300);
    sf_alerts_tick (a, T0 + 14 * S_MIN);
    sf_alerts_tick (b, T0 + 14 * S_MIN);
    assert_int_equal (one.n, 2);
    assert_string_equal (one.ev [1].idempotency_key, two.ev [1].idempotency_key);
    //  In error again (a new change): a new firing, a new key
    c.sum.status = SF_STATUS_ERROR;
    c.sum.seq = 43;
    sf_alerts_apply (a, &c, 1, T0 + 20 * S_MIN);
    sf_alerts_tick (a, T0 + 30 * S_MIN);
    assert_int_equal (one.n, 3);
    assert_string_not_equal (one.ev [2].idempotency_key, one.ev [0].idempotency_key);
    sf_alerts_destroy (&a);
    sf_alerts_destroy (&b);
}

static void
test_back_during_resolve_hold_is_one_alert (void **state)
{
    s_seen_t seen;
    sf_alerts_t *a = s_new (RULE_CAM, &seen);
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    assert_int_equal (seen.n, 1);
    //  Flapping: active for 30 s, off again, within the resolve hold
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 900, T0 + 11 * S_MIN);
    sf_alerts_tick (a, T0 + 11 * S_MIN + 30000);
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0 + 11 * S_MIN + 30000);
    for (int64_t t = T0 + 11 * S_MIN; t < T0 + 30 * S_MIN; t += 5000)
        sf_alerts_tick (a, t);
    assert_int_equal (seen.n, 1);
    assert_int_equal (sf_alerts_firing (a), 1);
    //  Deleted: resolves after the hold
    sf_store_change_t del = { .deleted = true, .node = "n1", .name = "cam-1" };
    sf_alerts_apply (a, &del, 1, T0 + 30 * S_MIN);
    sf_alerts_tick (a, T0 + 31 * S_MIN);
    assert_int_equal (seen.n, 2);
    assert_true (seen.ev [1].resolved);
    sf_alerts_destroy (&a);
}

static void
test_selector_and_what_inactive_means (void **state)
{
    s_seen_t seen;
    sf_alerts_t *a = s_new ("cams inactive for=0 resolve=0 name=cam-*\n"
                            "all-prim inactive for=0 resolve=0 filter=primary node=n2", &seen);
    //  A standby is suspended by design; a suspended primary is not active
    s_put (a, "n1", "cam-s", SF_TYPE_SECONDARY, SF_STATUS_SUSPEND, 0, T0);
    assert_int_equal (seen.n, 0);
    s_put (a, "n1", "cam-p", SF_TYPE_PRIMARY, SF_STATUS_SUSPEND, 0, T0);
    assert_int_equal (seen.n, 1);
    assert_string_equal (seen.ev [0].rule, "cams");
    //  The name glob and the node decide
    s_put (a, "n1", "gate", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    assert_int_equal (seen.n, 1);
    s_put (a, "n2", "gate", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    assert_int_equal (seen.n, 2);
    assert_string_equal (seen.ev [1].rule, "all-prim");
    s_put (a, "n2", "gate2", SF_TYPE_SECONDARY, SF_STATUS_ERROR, 0, T0);
    assert_int_equal (seen.n, 2);
    //  Case-insensitive substring without a glob, as the listing
    sf_alerts_destroy (&a);
    a = s_new ("lobby inactive for=0 name=LOB", &seen);
    s_put (a, "n1", "main-lobby", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    assert_int_equal (seen.n, 1);
    sf_alerts_destroy (&a);
}

static void
test_no_bitrate_and_reconnects (void **state)
{
    s_seen_t seen;
    sf_alerts_t *a = s_new ("silent no-bitrate for=1m resolve=0\n"
                            "flaky reconnects rise=3 within=5m for=0 resolve=0", &seen);
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 0, T0);
    sf_alerts_tick (a, T0 + S_MIN);
    assert_int_equal (seen.n, 1);
    assert_string_equal (seen.ev [0].rule, "silent");
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 100, T0 + S_MIN);
    assert_int_equal (seen.n, 2);
    assert_true (seen.ev [1].resolved);
    //  Attempts 1, 2 within the window: not yet; 3 within 5 min: fires
    sf_store_change_t c = s_change ("n1", "cam-2", SF_STATUS_STARTING, 0, 0);
    c.sum.bitrate_kbps = 1;
    int64_t t = T0;
    for (uint32_t k = 1; k <= 2; k++) {
        c.sum.reconnect_attempts = k;
        sf_alerts_apply (a, &c, 1, t += S_MIN);
    }
    assert_int_equal (seen.n, 2);
    c.sum.reconnect_attempts = 3;
    sf_alerts_apply (a, &c, 1, t += S_MIN);
    assert_int_equal (seen.n, 3);
    assert_string_equal (seen.ev [2].rule, "flaky");
    //  No new attempt for a while: the window moves past them, it resolves
    sf_alerts_tick (a, t + S_MIN);
    assert_int_equal (seen.n, 3);
    sf_alerts_tick (a, t + 10 * S_MIN);
    assert_int_equal (seen.n, 4);
    assert_true (seen.ev [3].resolved);
    //  Slow attempts (one per 3 min) never reach 3 within 5 min
    sf_alerts_destroy (&a);
    a = s_new ("flaky reconnects rise=3 within=5m for=0 resolve=0", &seen);
    t = T0;
    for (uint32_t k = 1; k <= 10; k++) {
        c.sum.reconnect_attempts = k;
        sf_alerts_apply (a, &c, 1, t += 3 * S_MIN);
        sf_alerts_tick (a, t);
    }
    assert_int_equal (seen.n, 0);
    sf_alerts_destroy (&a);
}

//  The fixture: n3 holds yard (primary, active, dvr); n1 holds cam-a with a
//  30 min gap in its archive an hour ago, cam-b (a standby), Lobby
static void
test_node_down_is_one_grouped_alert (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    s_seen_t seen;
    sf_alerts_t *a = s_new ("any-offline inactive for=1m resolve=1m", &seen);
    sf_alerts_set_store (a, fx.store);
    sf_change_t down = { .kind = 'l', .node = "n1", .live = SF_LIVE_DOWN };
    sf_alerts_node (a, &down, T0);
    //  While down, its placements are not judged one by one
    s_put (a, "n1", "cam-a", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0 + 1000);
    sf_alerts_tick (a, T0 + 2 * S_MIN);
    assert_int_equal (seen.n, 1);
    assert_string_equal (seen.ev [0].key, "any-offline/n1");
    assert_string_equal (seen.ev [0].stream, "");
    //  cam-a and Lobby are primaries; cam-b is a suspended standby
    assert_int_equal (seen.ev [0].streams, 2);
    sf_change_t up = { .kind = 'l', .node = "n1", .live = SF_LIVE_ALIVE };
    sf_alerts_node (a, &up, T0 + 3 * S_MIN);
    sf_alerts_tick (a, T0 + 4 * S_MIN);
    assert_int_equal (seen.n, 2);
    assert_true (seen.ev [1].resolved);
    assert_string_equal (seen.ev [1].key, "any-offline/n1");
    sf_alerts_destroy (&a);

    //  A node-down rule covering the node: its alert is the only one
    a = s_new ("any-offline inactive for=0 resolve=0\nnode-dead node-down for=30s resolve=0", &seen);
    sf_alerts_set_store (a, fx.store);
    sf_alerts_node (a, &down, T0);
    sf_alerts_tick (a, T0 + 10000);
    assert_int_equal (seen.n, 0);
    sf_alerts_tick (a, T0 + 30000);
    assert_int_equal (seen.n, 1);
    assert_string_equal (seen.ev [0].rule, "node-dead");
    assert_int_equal (seen.ev [0].streams, 2);
    //  A down of less than the hold: nothing
    sf_change_t down2 = { .kind = 'l', .node = "n2", .live = SF_LIVE_DOWN };
    sf_change_t up2 = { .kind = 'l', .node = "n2", .live = SF_LIVE_ALIVE };
    sf_alerts_node (a, &down2, T0 + S_MIN);
    sf_alerts_tick (a, T0 + S_MIN + 10000);
    sf_alerts_node (a, &up2, T0 + S_MIN + 20000);
    sf_alerts_tick (a, T0 + 5 * S_MIN);
    assert_int_equal (seen.n, 1);
    sf_alerts_destroy (&a);
    fx_fleet_destroy (&fx);
}

static void
test_disk_and_dvr (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    s_seen_t seen;
    sf_alerts_t *a = s_new ("disk80 disk percent=80 for=0 resolve=0\n"
                            "gap dvr-gap gap=10m window=24h for=0 resolve=0 filter=dvr\n"
                            "short archive-short percent=90 for=0 resolve=0", &seen);
    sf_alerts_set_store (a, fx.store);
    sf_node_t n;
    sf_node_init (&n);
    SF_STRSET (n.id, "n1");
    n.ndisks = 2;
    SF_STRSET (n.disks [0].mount, "/");
    n.disks [0].total_bytes = 100;
    n.disks [0].free_bytes = 50;
    SF_STRSET (n.disks [1].mount, "/dvr");
    n.disks [1].total_bytes = 1000;
    n.disks [1].free_bytes = 150;
    sf_change_t info = { .kind = 'n', .node = "n1", .info = &n };
    sf_alerts_node (a, &info, T0);
    assert_int_equal (seen.n, 1);
    assert_string_equal (seen.ev [0].key, "disk80/n1");
    assert_non_null (strstr (seen.ev [0].reason, "/dvr 85 %"));
    n.disks [1].free_bytes = 500;
    sf_alerts_node (a, &info, T0 + 1000);
    assert_int_equal (seen.n, 2);
    assert_true (seen.ev [1].resolved);

    //  cam-a's archive (fixture): [now-2h, now-1h] and [now-30m, now-1m]
    int64_t now = (int64_t) FX_NOW_S * 1000;
    sf_read_t rd;
    assert_int_equal (sf_store_read_begin (fx.store, &rd), 0);
    sf_row_t row;
    assert_int_equal (sf_store_get_row (&rd, "n1", "cam-a", &row), 0);
    sf_store_change_t c = { .node = "n1", .name = "cam-a", .sum = row.sum };
    sf_store_read_end (&rd);
    seen.n = 0;
    sf_alerts_apply (a, &c, 1, now);
    assert_int_equal (seen.n, 0);       //  judged at the tick, from the record
    sf_alerts_tick (a, now);
    assert_int_equal (seen.n, 1);
    assert_string_equal (seen.ev [0].key, "gap/n1/cam-a");
    assert_non_null (strstr (seen.ev [0].reason, "1800s gap"));
    //  No depth configured: archive-short never holds
    sf_alerts_tick (a, now + 1000);
    assert_int_equal (seen.n, 1);
    //  The gap leaves the 24 h window by itself
    sf_alerts_tick (a, now + 23 * 60 * S_MIN);
    assert_int_equal (seen.n, 1);
    sf_alerts_tick (a, now + 24 * 60 * S_MIN);
    assert_int_equal (seen.n, 2);
    assert_true (seen.ev [1].resolved);
    sf_alerts_destroy (&a);
    fx_fleet_destroy (&fx);
}

//  What fires survives a restart, from the episodes in the store (no file):
//  restored alerts send nothing again, a stream that recovered meanwhile
//  resolves at once (judged from its record), a node alert resolves unless
//  its node is reported down again within the confirm time; a rule gone
//  takes its alerts with it
static void
test_restart_keeps_what_fires (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    const char *rules = "cam-offline inactive for=1m resolve=0 name=cam-*\n"
                        "dead node-down for=0 resolve=0\ndead2 node-down for=0 resolve=0 node=n2";
    s_seen_t seen;
    sf_alerts_t *a = s_new (rules, &seen);
    sf_alerts_set_store (a, fx.store);
    assert_int_equal (sf_alerts_restore (a, 30000, T0), 0);           //  nothing stored yet
    //  cam-a reported in error (the store still holds it active)
    sf_store_change_t c = s_change ("n1", "cam-a", SF_STATUS_ERROR, 0, 0);
    sf_alerts_apply (a, &c, 1, T0);
    sf_change_t down = { .kind = 'l', .node = "n3", .live = SF_LIVE_DOWN };
    sf_alerts_node (a, &down, T0);
    sf_change_t down2 = { .kind = 'l', .node = "n2", .live = SF_LIVE_DOWN };
    sf_alerts_node (a, &down2, T0);
    sf_alerts_tick (a, T0 + S_MIN);
    assert_int_equal (seen.n, 4);       //  cam-a, dead/n3, dead/n2, dead2/n2
    assert_int_equal (sf_alerts_firing (a), 4);
    s_store (a, fx.store);
    sf_alerts_destroy (&a);

    a = s_new (rules, &seen);
    sf_alerts_set_store (a, fx.store);
    assert_int_equal (sf_alerts_restore (a, 30000, T0 + 2 * S_MIN), 4);
    //  cam-a is active in the store: resolved at once; nothing fired again
    assert_int_equal (seen.n, 1);
    assert_true (seen.ev [0].resolved);
    assert_string_equal (seen.ev [0].key, "cam-offline/n1/cam-a");
    assert_int_equal (sf_alerts_firing (a), 3);
    //  n3 reported down again within the confirm time: it fires on; n2 not
    sf_alerts_node (a, &down, T0 + 2 * S_MIN + 10000);
    sf_alerts_tick (a, T0 + 2 * S_MIN + 29000);
    assert_int_equal (seen.n, 1);
    sf_alerts_tick (a, T0 + 2 * S_MIN + 31000);
    assert_int_equal (seen.n, 3);
    assert_true (seen.ev [1].resolved && seen.ev [2].resolved);
    assert_non_null (strstr (seen.ev [1].key, "/n2"));
    assert_non_null (strstr (seen.ev [2].key, "/n2"));
    assert_int_equal (sf_alerts_firing (a), 1);
    //  The same key under its restored since: one episode still open
    assert_int_equal (seen.ev [0].since_ms, T0);
    s_store (a, fx.store);
    sf_alerts_destroy (&a);

    //  Restarted with the node-down rule gone: dead/n3 is not carried over
    a = s_new ("cam-offline inactive for=1m resolve=0 name=cam-*", &seen);
    sf_alerts_set_store (a, fx.store);
    assert_int_equal (sf_alerts_restore (a, 30000, T0 + 3 * S_MIN), 0);
    assert_int_equal (sf_alerts_firing (a), 0);
    assert_int_equal (seen.n, 0);
    sf_alerts_destroy (&a);
    fx_fleet_destroy (&fx);
}

static void
test_rule_errors (void **state)
{
    sf_alert_rule_t r;
    char err [256];
    assert_int_equal (sf_alert_rule_parse (&r, "a inactive for=10m resolve=90s filter=primary,dvr "
                                           "name=cam-* node=n1 to=ops,pager", 120, err, sizeof (err)), 0);
    assert_int_equal (r.for_ms, 600000);
    assert_int_equal (r.resolve_ms, 90000);
    assert_string_equal (r.to, "ops,pager");
    assert_true (r.filter.name_glob);
    assert_int_equal (sf_alert_rule_parse (&r, "x stuck", 120, err, sizeof (err)), -1);
    assert_non_null (strstr (err, "unknown condition 'stuck'"));
    assert_non_null (strstr (err, "transfer-stuck"));
    assert_int_equal (sf_alert_rule_parse (&r, "x inactive for=10q", 120, err, sizeof (err)), -1);
    assert_non_null (strstr (err, "a duration"));
    assert_int_equal (sf_alert_rule_parse (&r, "x inactive filter=bogus", 120, err, sizeof (err)), -1);
    assert_non_null (strstr (err, "filter:"));
    assert_int_equal (sf_alert_rule_parse (&r, "x inactive percent=5", 120, err, sizeof (err)), -1);
    assert_non_null (strstr (err, "not a key of inactive"));
    assert_int_equal (sf_alert_rule_parse (&r, "x disk percent=101", 120, err, sizeof (err)), -1);
    assert_int_equal (sf_alert_rule_parse (&r, "lonely", 120, err, sizeof (err)), -1);
    assert_int_equal (sf_alert_rule_parse (&r, "s transfer-stuck", 120, err, sizeof (err)), 0);
    assert_int_equal (r.for_ms, 120000);
    //  The whole table: comments skipped, names unique, errors say which line
    sf_alerts_t *a = sf_alerts_new ("# rules\n\na inactive\n  b node-down  \n", 120, err, sizeof (err));
    assert_non_null (a);
    assert_int_equal (sf_alerts_rule_count (a), 2);
    sf_alerts_destroy (&a);
    a = sf_alerts_new ("a inactive\na node-down", 120, err, sizeof (err));
    assert_null (a);
    assert_non_null (strstr (err, "alert rule 2"));
    assert_non_null (strstr (err, "taken"));
}

static void
test_reply_lists_rules_firing_and_history (void **state)
{
    s_seen_t seen;
    sf_alerts_t *a = s_new (RULE_CAM, &seen);
    s_put (a, "n1", "cam-1", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    s_put (a, "n1", "cam-2", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    s_reply_t rp;
    const msgpack_object *rules = s_reply (a, "cam-2", &rp, "rules");
    const msgpack_object *firing = sf_map_get (rp.msg.body, "firing");
    const msgpack_object *recent = sf_map_get (rp.msg.body, "recent");
    assert_int_equal (rules->via.array.size, 1);
    assert_int_equal (firing->via.array.size, 2);
    assert_int_equal (recent->via.array.size, 1);
    char stream [64] = "";
    sf_map_str (&recent->via.array.ptr [0], "stream", stream, sizeof (stream) - 1, NULL);
    assert_string_equal (stream, "cam-2");
    s_reply_end (&rp);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    sf_alerts_metrics_write (a, out);
    fclose (out);
    assert_non_null (strstr (text, "streamfleet_alerts_firing{rule=\"cam-offline\",condition=\"inactive\"} 2"));
    free (text);
    sf_alerts_destroy (&a);
}


//  What gossip carries: every episode of from, merged into to
static void
s_sync (sf_alerts_t *from, sf_alerts_t *to, int64_t now)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    sf_alerts_sync_offer (from, NULL, &pk);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (sf_alerts_sync_apply (to, &u.data, now), 0);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sb);
}

//  The firing alerts' since_ms of a controller, by key order: "key=since;..."
static void
s_firing_text (sf_alerts_t *a, char *out, size_t size)
{
    s_reply_t rp;
    const msgpack_object *firing = s_reply (a, NULL, &rp, "firing");
    out [0] = 0;
    for (uint32_t i = 0; i < firing->via.array.size; i++) {
        char key [256] = "";
        int64_t since = 0;
        sf_map_str (&firing->via.array.ptr [i], "key", key, sizeof (key) - 1, NULL);
        sf_map_i64 (&firing->via.array.ptr [i], "since_ms", &since, NULL);
        size_t n = strlen (out);
        snprintf (out + n, size - n, "%s=%lld;", key, (long long) since);
    }
    s_reply_end (&rp);
}

//  Three controllers: a judges first, b a little later, c starts long after
//  the alert fired. Once the episodes travel, every one shows one since
//  (a's), fires under the same idempotency key, and their digests agree;
//  c fires at once (the hold passed long ago), not a hold after it started
static void
test_cluster_one_since_and_keys (void **state)
{
    s_seen_t one, two, three;
    sf_alerts_t *a = s_new (RULE_CAM, &one);
    sf_alerts_t *b = s_new (RULE_CAM, &two);
    sf_alerts_t *c = s_new (RULE_CAM, &three);
    sf_store_change_t ch = s_change ("n1", "cam-1", SF_STATUS_ERROR, 3, 41);
    sf_alerts_apply (a, &ch, 1, T0);
    sf_alerts_apply (b, &ch, 1, T0 + 1700);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    sf_alerts_tick (b, T0 + 10 * S_MIN + 1700);
    assert_int_equal (one.n, 1);
    assert_int_equal (two.n, 1);
    //  Each judged alone: two since values (the defect: one per controller)
    char ta [512], tb [512], tc [512];
    s_firing_text (a, ta, sizeof (ta));
    s_firing_text (b, tb, sizeof (tb));
    assert_string_not_equal (ta, tb);
    s_sync (a, b, T0 + 11 * S_MIN);
    s_sync (b, a, T0 + 11 * S_MIN);
    s_firing_text (a, ta, sizeof (ta));
    s_firing_text (b, tb, sizeof (tb));
    assert_string_equal (ta, tb);
    assert_non_null (strstr (ta, "cam-offline/n1/cam-1=1800000000000;"));
    //  c starts 40 minutes later: the record first, then gossip
    sf_alerts_apply (c, &ch, 1, T0 + 40 * S_MIN);
    sf_alerts_tick (c, T0 + 40 * S_MIN);
    assert_int_equal (three.n, 0);      //  pending, by its own clock
    s_sync (a, c, T0 + 40 * S_MIN + 200);
    assert_int_equal (three.n, 1);      //  fired at once: held since T0
    assert_int_equal (three.ev [0].since_ms, T0);
    assert_string_equal (three.ev [0].idempotency_key, one.ev [0].idempotency_key);
    s_firing_text (c, tc, sizeof (tc));
    assert_string_equal (tc, ta);
    uint64_t da [SF_ALERTS_SYNC_BUCKETS], db [SF_ALERTS_SYNC_BUCKETS], dc [SF_ALERTS_SYNC_BUCKETS];
    sf_alerts_sync_digest (a, da);
    sf_alerts_sync_digest (b, db);
    sf_alerts_sync_digest (c, dc);
    assert_memory_equal (da, db, sizeof (da));
    assert_memory_equal (da, dc, sizeof (da));
    //  The other order: gossip before the record (a fourth controller)
    s_seen_t four;
    sf_alerts_t *d = s_new (RULE_CAM, &four);
    s_sync (b, d, T0 + 50 * S_MIN);
    assert_int_equal (four.n, 0);       //  an episode alone fires nothing here
    sf_alerts_apply (d, &ch, 1, T0 + 50 * S_MIN);
    sf_alerts_tick (d, T0 + 50 * S_MIN);
    assert_int_equal (four.n, 1);
    assert_int_equal (four.ev [0].since_ms, T0);
    assert_string_equal (four.ev [0].idempotency_key, one.ev [0].idempotency_key);
    //  a resolves; the episode says so everywhere (the recent history)
    ch.sum.status = SF_STATUS_ACTIVE;
    ch.sum.seq = 42;
    sf_alerts_apply (a, &ch, 1, T0 + 60 * S_MIN);
    sf_alerts_tick (a, T0 + 62 * S_MIN);
    assert_int_equal (one.n, 2);
    s_sync (a, b, T0 + 62 * S_MIN);
    s_reply_t rp;
    const msgpack_object *recent = s_reply (b, "cam-1", &rp, "recent");
    assert_int_equal (recent->via.array.size, 2);
    char st [16] = "", idem [40] = "";
    int64_t at = 0;
    s_recent_at (recent, 0, st, idem, &at);
    assert_string_equal (st, "resolved");
    assert_string_equal (idem, one.ev [1].idempotency_key);
    s_reply_end (&rp);
    sf_alerts_destroy (&a);
    sf_alerts_destroy (&b);
    sf_alerts_destroy (&c);
    sf_alerts_destroy (&d);
}

//  Two controllers judge one firing from different record versions (b
//  never saw the version a fired from) and both fire before their episodes
//  meet: two keys at first. Once the episodes travelled, the key a delivery
//  goes by (sf_alerts_idem, asked by the webhook thread before each
//  attempt) is one on both, the earliest episode's, with its since; the
//  other's key is in the group (a confirmation under it counts); the
//  resolution agrees the same way
static void
test_idem_from_different_versions (void **state)
{
    s_seen_t one, two;
    sf_alerts_t *a = s_new (RULE_CAM, &one);
    sf_alerts_t *b = s_new (RULE_CAM, &two);
    sf_store_change_t ch = s_change ("n1", "cam-1", SF_STATUS_ERROR, 3, 41);
    sf_alerts_apply (a, &ch, 1, T0);
    ch.sum.seq = 42;                    //  still in error, a later version
    sf_alerts_apply (a, &ch, 1, T0 + 900);
    sf_alerts_apply (b, &ch, 1, T0 + 1000);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    sf_alerts_tick (b, T0 + 10 * S_MIN + 1000);
    assert_int_equal (one.n, 1);
    assert_int_equal (two.n, 1);
    assert_string_equal (one.ev [0].basis, "v3.41");
    assert_string_equal (two.ev [0].basis, "v3.42");
    assert_string_not_equal (one.ev [0].idempotency_key, two.ev [0].idempotency_key);
    s_sync (a, b, T0 + 11 * S_MIN);
    s_sync (b, a, T0 + 11 * S_MIN);
    char ka [8][33], kb [8][33];
    int64_t sa = 0, sb = 0;
    size_t na = sf_alerts_idem (a, one.ev [0].key, one.ev [0].basis, false, ka, 8, &sa);
    size_t nb = sf_alerts_idem (b, two.ev [0].key, two.ev [0].basis, false, kb, 8, &sb);
    assert_int_equal (na, 2);
    assert_int_equal (nb, 2);
    assert_string_equal (ka [0], kb [0]);
    assert_string_equal (ka [0], one.ev [0].idempotency_key);
    assert_string_equal (kb [1], two.ev [0].idempotency_key);
    assert_int_equal (sa, T0);
    assert_int_equal (sb, T0);
    //  Resolved: a first, b later from its own view
    ch.sum.status = SF_STATUS_ACTIVE;
    ch.sum.seq = 43;
    sf_alerts_apply (a, &ch, 1, T0 + 20 * S_MIN);
    sf_alerts_apply (b, &ch, 1, T0 + 20 * S_MIN + 500);
    sf_alerts_tick (a, T0 + 22 * S_MIN);
    sf_alerts_tick (b, T0 + 22 * S_MIN);
    assert_int_equal (one.n, 2);
    assert_int_equal (two.n, 2);
    s_sync (a, b, T0 + 23 * S_MIN);
    s_sync (b, a, T0 + 23 * S_MIN);
    sf_alerts_idem (a, one.ev [1].key, one.ev [1].basis, true, ka, 8, NULL);
    sf_alerts_idem (b, two.ev [1].key, two.ev [1].basis, true, kb, 8, NULL);
    assert_string_equal (ka [0], kb [0]);
    assert_string_not_equal (ka [0], one.ev [0].idempotency_key);
    //  A basis without an episode goes by its own key
    assert_int_equal (sf_alerts_idem (a, "cam-offline/n1/cam-9", "v1.1", false, ka, 8, NULL), 1);
    sf_alerts_destroy (&a);
    sf_alerts_destroy (&b);
}

//  A peer's malformed entries are counted and skipped; the good ones merge
static void
test_cluster_malformed_entries (void **state)
{
    s_seen_t seen;
    sf_alerts_t *a = s_new (RULE_CAM, &seen);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init (&sb);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 3);
    msgpack_pack_str (&pk, 3);
    msgpack_pack_str_body (&pk, "bad", 3);
    msgpack_pack_array (&pk, 10);           //  a negative since
    for (int i = 0; i < 6; i++)
        sf_pack_str (&pk, i < 2 ? "x" : "");
    msgpack_pack_int64 (&pk, -5);
    msgpack_pack_int64 (&pk, 0);
    msgpack_pack_int64 (&pk, 0);
    msgpack_pack_uint32 (&pk, 0);
    msgpack_pack_array (&pk, 10);           //  a good one
    sf_pack_str (&pk, "cam-offline/n1/cam-9");
    sf_pack_str (&pk, "v1.1");
    sf_pack_str (&pk, "cam-offline");
    sf_pack_str (&pk, "n1");
    sf_pack_str (&pk, "cam-9");
    sf_pack_str (&pk, "primary error, not active");
    msgpack_pack_int64 (&pk, T0);
    msgpack_pack_int64 (&pk, T0 + 10 * S_MIN);
    msgpack_pack_int64 (&pk, 0);
    msgpack_pack_uint32 (&pk, 1);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    size_t off = 0;
    assert_int_equal (msgpack_unpack_next (&u, sb.data, sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    assert_int_equal (sf_alerts_sync_apply (a, &u.data, T0), 2);
    msgpack_unpacked_destroy (&u);
    msgpack_sbuffer_destroy (&sb);
    uint64_t d [SF_ALERTS_SYNC_BUCKETS], zero [SF_ALERTS_SYNC_BUCKETS] = { 0 };
    sf_alerts_sync_digest (a, d);
    assert_memory_not_equal (d, zero, sizeof (d));
    sf_alerts_destroy (&a);
}

//  The alert history lives in the store: a controller restarted lists what
//  fired and resolved before, with the same idempotency keys
static void
test_history_kept_in_the_store (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    s_seen_t seen;
    sf_alerts_t *a = s_new (RULE_CAM, &seen);
    sf_alerts_set_store (a, fx.store);
    s_put (a, "n1", "cam-h", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    s_put (a, "n1", "cam-h", SF_TYPE_PRIMARY, SF_STATUS_ACTIVE, 900, T0 + 11 * S_MIN);
    sf_alerts_tick (a, T0 + 12 * S_MIN);
    assert_int_equal (seen.n, 2);
    assert_true (sf_alerts_unstored (a));
    s_store (a, fx.store);
    assert_false (sf_alerts_unstored (a));
    sf_alerts_destroy (&a);

    s_seen_t again;
    a = s_new (RULE_CAM, &again);
    sf_alerts_set_store (a, fx.store);
    s_reply_t rp;
    const msgpack_object *recent = s_reply (a, "cam-h", &rp, "recent");
    assert_int_equal (recent->via.array.size, 2);
    char st [16] = "", idem [40] = "";
    int64_t at = 0;
    s_recent_at (recent, 1, st, idem, &at);
    assert_string_equal (st, "firing");
    assert_string_equal (idem, seen.ev [0].idempotency_key);
    assert_int_equal (at, T0 + 10 * S_MIN);
    s_reply_end (&rp);
    assert_int_equal (again.n, 0);
    sf_alerts_destroy (&a);
    fx_fleet_destroy (&fx);
}

//  Fills the open transaction past the fixture's map (16 MiB): its later
//  writes fail and its commit does
static void
s_fill_map (sf_store_t *store)
{
    static char junk [64 * 1024];
    memset (junk, 'x', sizeof (junk));
    for (int i = 0; i < 1024; i++) {
        char name [32];
        snprintf (name, sizeof (name), "junk-%04d", i);
        sf_key_t k;
        assert_int_equal (sf_key_make (&k, "n", name), 0);
        if (sf_store_put (store, SF_DB_WEBHOOKS, &k, junk, sizeof (junk)))
            return;
    }
    fail_msg ("the map never filled");
}

static size_t
s_stored_episodes (sf_store_t *store)
{
    sf_read_t r;
    size_t n = 0;
    assert_int_equal (sf_store_read_begin (store, &r), 0);
    sf_store_count (&r, SF_DB_ALERTS, &n);
    sf_store_read_end (&r);
    return n;
}

//  A store of the episodes whose writes fail (the transaction already
//  failed: a full map or disk) returns -1 and keeps every episode to store:
//  the next store writes them all, and a restart finds them. Before, the
//  failed store cleared the flags and nothing was written again.
static void
test_a_failed_store_keeps_the_episodes_unstored (void **state)
{
    fx_fleet_t fx;
    assert_int_equal (fx_fleet_init (&fx), 0);
    s_seen_t seen;
    sf_alerts_t *a = s_new (RULE_CAM, &seen);
    sf_alerts_set_store (a, fx.store);
    s_put (a, "n1", "cam-f1", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    s_put (a, "n1", "cam-f2", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    s_put (a, "n1", "cam-f3", SF_TYPE_PRIMARY, SF_STATUS_ERROR, 0, T0);
    sf_alerts_tick (a, T0 + 10 * S_MIN);
    assert_int_equal (seen.n, 3);
    assert_true (sf_alerts_unstored (a));

    assert_int_equal (sf_store_write_begin (fx.store), 0);
    s_fill_map (fx.store);
    assert_int_equal (sf_alerts_store (a), -1);
    assert_int_not_equal (sf_store_commit (fx.store), 0);
    assert_int_equal (s_stored_episodes (fx.store), 0);
    assert_true (sf_alerts_unstored (a));
    //  No write transaction open: the same
    assert_int_equal (sf_alerts_store (a), -1);
    assert_true (sf_alerts_unstored (a));

    //  The next good commit stores every one of them
    s_store (a, fx.store);
    assert_false (sf_alerts_unstored (a));
    assert_int_equal (s_stored_episodes (fx.store), 3);
    sf_alerts_destroy (&a);

    //  ... and they are there after a restart (the store reopened)
    sf_store_destroy (&fx.store);
    char err [256] = "";
    fx.store = sf_store_new (fx.dir, 16 << 20, err, sizeof (err));
    assert_non_null (fx.store);
    s_seen_t again;
    a = s_new (RULE_CAM, &again);
    sf_alerts_set_store (a, fx.store);
    s_reply_t rp;
    for (int i = 1; i <= 3; i++) {
        char name [32];
        snprintf (name, sizeof (name), "cam-f%d", i);
        const msgpack_object *recent = s_reply (a, name, &rp, "recent");
        assert_int_equal (recent->via.array.size, 1);
        s_reply_end (&rp);
    }
    sf_alerts_destroy (&a);
    fx_fleet_destroy (&fx);
}

//  A stream alert's link opens the stream's detail; a node alert's lists
//  the node's streams
static void
test_web_links (void **state)
{
    char *l = sf_alert_web_link ("http://h:7680/", "n 1", "cam/7");
    assert_string_equal (l, "http://h:7680/#/streams?name=cam%2F7&node=n%201&detail=1");
    free (l);
    l = sf_alert_web_link ("http://h:7680/", "n1", "");
    assert_string_equal (l, "http://h:7680/#/streams?node=n1");
    free (l);
    l = sf_alert_web_link ("", "n1", "cam");
    assert_string_equal (l, "");
    free (l);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_blip_shorter_than_hold_fires_nothing),
        cmocka_unit_test (test_longer_fires_once_then_resolves_once),
        cmocka_unit_test (test_idempotency_keys_agree_across_controllers),
        cmocka_unit_test (test_back_during_resolve_hold_is_one_alert),
        cmocka_unit_test (test_selector_and_what_inactive_means),
        cmocka_unit_test (test_no_bitrate_and_reconnects),
        cmocka_unit_test (test_node_down_is_one_grouped_alert),
        cmocka_unit_test (test_disk_and_dvr),
        cmocka_unit_test (test_restart_keeps_what_fires),
        cmocka_unit_test (test_rule_errors),
        cmocka_unit_test (test_reply_lists_rules_firing_and_history),
        cmocka_unit_test (test_cluster_one_since_and_keys),
        cmocka_unit_test (test_idem_from_different_versions),
        cmocka_unit_test (test_cluster_malformed_entries),
        cmocka_unit_test (test_history_kept_in_the_store),
        cmocka_unit_test (test_a_failed_store_keeps_the_episodes_unstored),
        cmocka_unit_test (test_web_links),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}

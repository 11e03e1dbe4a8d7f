/*  src_simulate.c — N synthetic streams with realistic churn, for the demo,
    tests and benchmarks. Deterministic for a given --sim-seed.

    Every tick (one poll interval): bitrate of running streams jitters, a few
    viewers come and go, --sim-churn-pct of streams change state (suspend,
    resume, error with reconnect attempts), DVR ranges grow to now and now and
    then break into a new range, and about one stream in a thousand is
    removed and replaced by a new one. Sources use the .invalid domain: no
    address in them can ever be reached.
*/
#include "sf_agent.h"
#include "sf_alloc.h"
#include "sf_log.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    char name [SF_NAME_MAX + 1];
    uint8_t type, status, functions;
    uint32_t clients, bitrate_kbps, base_kbps;
    int64_t started_at;
    uint32_t attempts, total;
    int64_t dvr_from;           //  first range
    int64_t dvr_to;             //  end of the archive as last reported
    int64_t gap_at, gap_len;    //  one gap in the archive, if any
    uint32_t width, height;
    bool dirty;                 //  changed since the last poll reported it
} s_sim_stream_t;

typedef struct {
    int64_t sim_streams;
    int64_t sim_seed;
    int64_t sim_churn_pct;          //  streams changing state per tick, percent
    int64_t sim_update_pct;         //  running streams whose bitrate moves per tick
    char sim_prefix [64];
} s_sim_config_t;

#define O(field) offsetof (s_sim_config_t, field), sizeof (((s_sim_config_t *) 0)->field)
static const sf_option_t s_options [] = {
    { "sim-streams", SF_OPT_INT, O (sim_streams), "100", 0, SF_STREAMS_PER_NODE_MAX, "simulate: streams" },
    { "sim-seed", SF_OPT_INT, O (sim_seed), "1", 0, INT64_MAX, "simulate: random seed" },
    { "sim-churn-pct", SF_OPT_INT, O (sim_churn_pct), "2", 0, 100,
      "simulate: percent of streams changing state per tick" },
    { "sim-update-pct", SF_OPT_INT, O (sim_update_pct), "100", 0, 100,
      "simulate: percent of running streams whose bitrate and viewers move per tick" },
    { "sim-prefix", SF_OPT_STR, O (sim_prefix), "", 0, 0, "simulate: stream name prefix (default: node id)" },
    { NULL }
};
#undef O

typedef struct {
    s_sim_config_t cfgv;
    const s_sim_config_t *cfg;
    s_sim_stream_t *streams;
    size_t count;
    uint64_t rng;
    uint64_t next_id;
    char prefix [SF_NAME_MAX - 16];
    int64_t ticks;
    bool reported;              //  a good poll reported every stream
    //  Names replaced since the last poll (reported gone by a partial one)
    char (*gone) [SF_NAME_MAX + 1];
    size_t ngone, gone_cap;
} s_sim_t;

//  Tests set it to compare two simulations tick for tick; NULL: the clock
const int64_t *sf_simulate_clock;

static int64_t
s_now (void)
{
    return sf_simulate_clock ? *sf_simulate_clock : (int64_t) time (NULL);
}

static uint64_t
s_rand (s_sim_t *self)
{
    //  xorshift64*: fast, good enough for churn, reproducible
    uint64_t x = self->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    self->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static uint32_t
s_pick (s_sim_t *self, uint32_t n)
{
    return n ? (uint32_t) (s_rand (self) % n) : 0;
}

static void
s_new_stream (s_sim_t *self, s_sim_stream_t *s, int64_t now)
{
    memset (s, 0, sizeof (*s));
    s->dirty = true;
    snprintf (s->name, sizeof (s->name), "%.63s-cam%05llu", self->prefix,
              (unsigned long long) (self->next_id++ % 100000000ULL));
    s->type = s_pick (self, 100) < 80 ? SF_TYPE_PRIMARY : SF_TYPE_SECONDARY;
    s->status = s->type == SF_TYPE_SECONDARY ? SF_STATUS_SUSPEND : SF_STATUS_ACTIVE;
    if (s_pick (self, 100) < 60) s->functions |= SF_FN_DVR;
    if (s_pick (self, 100) < 70) s->functions |= SF_FN_AUDIO;
    if (s_pick (self, 100) < 30) s->functions |= SF_FN_PHOTO;
    s->base_kbps = 500 + s_pick (self, 3500);
    //  A running stream has a bitrate from its first report on
    if (s->status == SF_STATUS_ACTIVE)
        s->bitrate_kbps = s->base_kbps;
    s->started_at = now - s_pick (self, 86400);
    s->total = s_pick (self, 5);
    s->dvr_from = now - 3600 - s_pick (self, 7 * 86400);
    s->dvr_to = now - now % 6;
    if (s_pick (self, 100) < 30) {
        s->gap_at = s->dvr_from + s_pick (self, (uint32_t) (now - s->dvr_from));
        s->gap_len = 5 + s_pick (self, 600);
    }
    static const uint32_t sizes [][2] = { { 1920, 1080 }, { 1280, 720 }, { 2560, 1440 }, { 640, 360 } };
    int z = (int) s_pick (self, 4);
    s->width = sizes [z][0];
    s->height = sizes [z][1];
}

static void *
s_create (const sf_agent_config_t *agent, const void *config, char *err, size_t errlen)
{
    s_sim_t *self = sf_xcalloc (1, sizeof (*self));
    self->cfgv = *(const s_sim_config_t *) config;
    self->cfg = &self->cfgv;
    const s_sim_config_t *cfg = self->cfg;
    //  Each node's streams differ for the same seed
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = agent->node; *p; p++)
        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    self->rng = ((uint64_t) cfg->sim_seed * 0x9E3779B97F4A7C15ULL) ^ h;
    if (!self->rng)
        self->rng = 1;
    snprintf (self->prefix, sizeof (self->prefix), "%.63s", cfg->sim_prefix [0] ? cfg->sim_prefix : agent->node);
    self->count = (size_t) cfg->sim_streams;
    //  The count is the operator's (--sim-streams): a refusal is a clear
    //  start-up error rather than an abort (sf_alloc.h)
    self->streams = calloc (self->count ? self->count : 1, sizeof (s_sim_stream_t));
    if (!self->streams) {
        snprintf (err, errlen, "out of memory for %zu simulated streams", self->count);
        free (self);
        return NULL;
    }
    int64_t now = s_now ();
    for (size_t i = 0; i < self->count; i++)
        s_new_stream (self, &self->streams [i], now);
    return self;
}

//  Marks what it changes dirty: a poll reports only those (a partial state,
//  sf_source.h), so that 10,000 streams of which 1,000 move cost 1,000
static void
s_tick (s_sim_t *self, int64_t now)
{
    uint32_t churn = (uint32_t) self->cfg->sim_churn_pct;
    for (size_t i = 0; i < self->count; i++) {
        s_sim_stream_t *s = &self->streams [i];
        if (s->status == SF_STATUS_ACTIVE && s->bitrate_kbps && s_pick (self, 100) >= (uint32_t) self->cfg->sim_update_pct)
            ;                       //  this one holds still this tick
        else if (s->status == SF_STATUS_ACTIVE) {
            //  The archive grows in whole chunks, reported with the stream's update
            s->dvr_to = now - now % 6;
            int32_t jitter = (int32_t) s_pick (self, s->base_kbps / 10 + 1) - (int32_t) (s->base_kbps / 20);
            s->bitrate_kbps = (uint32_t) ((int32_t) s->base_kbps + jitter);
            if (s_pick (self, 10) == 0) {
                if (s_pick (self, 2) || s->clients == 0) s->clients++;
                else s->clients--;
            }
            s->dirty = true;
        }
        else if (s->bitrate_kbps || s->clients) {
            s->bitrate_kbps = 0;
            s->clients = 0;
            s->dirty = true;
        }
        if (churn && s_pick (self, 100) < churn) {
            switch (s->status) {
                case SF_STATUS_ACTIVE:
                    s->status = s_pick (self, 4) ? SF_STATUS_SUSPEND : SF_STATUS_ERROR;
                    if (s->status == SF_STATUS_ERROR)
                        s->attempts = 1, s->total++;
                    break;
                case SF_STATUS_ERROR:
                    if (s_pick (self, 2)) {
                        s->status = SF_STATUS_STARTING;
                    }
                    else
                        s->attempts++, s->total++;
                    break;
                default:
                    s->status = SF_STATUS_ACTIVE;
                    s->started_at = now;
                    s->attempts = 0;
                    break;
            }
            s->dirty = true;
        }
    }
    //  About one stream in a thousand goes away and another comes
    if (self->count && s_pick (self, 1000) < (self->count + 999) / 1000 && churn) {
        size_t victim = s_pick (self, (uint32_t) self->count);
        if (self->ngone == self->gone_cap) {
            self->gone_cap = self->gone_cap ? self->gone_cap * 2 : 16;
            self->gone = sf_xreallocarray (self->gone, self->gone_cap, sizeof (self->gone [0]));
        }
        memcpy (self->gone [self->ngone++], self->streams [victim].name, sizeof (self->gone [0]));
        s_new_stream (self, &self->streams [victim], now);
    }
}

//  The millisecond of a simulated start within its second: from the name
//  and the second (FNV-1a), not from the generator, so that a simulation
//  stays the same tick for tick, and two nodes' starts in one second differ
static int64_t
s_start_ms (const s_sim_stream_t *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (const char *p = s->name; *p; p++)
        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    h = (h ^ (uint64_t) s->started_at) * 1099511628211ULL;
    return s->started_at * 1000 + (int64_t) (h % 1000);
}

static void
s_fill (s_sim_t *self, const s_sim_stream_t *s, sf_stream_t *out, int64_t now)
{
    out->type = s->type;
    out->status = s->status;
    out->functions = s->functions;
    out->clients = s->clients;
    out->bitrate_kbps = s->bitrate_kbps;
    out->started_at = s->status == SF_STATUS_ACTIVE ? s->started_at : 0;
    out->started_at_ms = s->status == SF_STATUS_ACTIVE ? s_start_ms (s) : 0;
    out->reconnect_attempts = s->attempts;
    out->reconnect_total = s->total;
    out->ping_ms = 5 + (int32_t) (s->bitrate_kbps % 40);
    char buf [1024];
    snprintf (buf, sizeof (buf), "rtsp://%s.sim.invalid:554/live", s->name);
    sf_text_set (&out->source_url, buf);
    snprintf (buf, sizeof (buf),
              "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=%s\r\nt=0 0\r\n"
              "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=1\r\n%s",
              s->name, s->functions & SF_FN_AUDIO
              ? "m=audio 0 RTP/AVP 97\r\na=rtpmap:97 MPEG4-GENERIC/48000/2\r\na=control:trackID=2\r\n" : "");
    sf_text_set (&out->source_sdp, buf);
    snprintf (buf, sizeof (buf),
              "stream %s {\n  url rtsp://%s.sim.invalid:554/live;\n  dvr %s;\n  dvr_depth 604800;\n}\n",
              s->name, s->name, s->functions & SF_FN_DVR ? "on" : "off");
    sf_text_set (&out->config, buf);
    snprintf (buf, sizeof (buf), "/etc/mediaserver/streams/%s.conf", s->name);
    sf_text_set (&out->config_path, buf);
    //  A stable pseudo-UUID from the name
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = s->name; *p; p++)
        h = (h ^ (uint8_t) *p) * 1099511628211ULL;
    snprintf (out->playback_uuid, sizeof (out->playback_uuid), "%08x-%04x-4%03x-8%03x-%012llx",
              (unsigned) (h >> 32), (unsigned) (h >> 16) & 0xffff, (unsigned) (h >> 4) & 0xfff,
              (unsigned) h & 0xfff, (unsigned long long) (h * 31) & 0xffffffffffffULL);
    SF_STRSET (out->media.vcodec, "h264");
    out->media.width = s->width;
    out->media.height = s->height;
    out->media.fps = 25;
    if (s->functions & SF_FN_AUDIO)
        SF_STRSET (out->media.acodec, "aac");
    if (s->functions & SF_FN_DVR) {
        snprintf (buf, sizeof (buf), "/var/lib/dvr/%s", s->name);
        sf_text_set (&out->dvr.records_path, buf);
        out->dvr.depth_s = 7 * 86400;
        out->dvr.chunk_s = 6;
        out->dvr.disk_free_bytes = 800ULL << 30;
        out->dvr.memory_bytes = (uint64_t) s->bitrate_kbps * 128;
        //  Ranges move in whole chunks so that a quiet archive is not a change every second
        int64_t end = s->dvr_to;
        if (s->gap_at && s->gap_at < end) {
            sf_dvr_add_range (&out->dvr, s->dvr_from, s->gap_at);
            if (s->gap_at + s->gap_len < end)
                sf_dvr_add_range (&out->dvr, s->gap_at + s->gap_len, end);
        }
        else
            sf_dvr_add_range (&out->dvr, s->dvr_from, end);
        out->dvr.current_from = s->status == SF_STATUS_ACTIVE ? s->started_at : 0;
    }
}

static int
s_poll (void *state, sf_streamset_t *set)
{
    s_sim_t *self = state;
    int64_t now = s_now ();
    if (self->ticks++ > 0)
        s_tick (self, now);
    //  Only what changed, when the runner takes that and every stream has
    //  been reported once; else all of them
    bool partial = set->partial_ok && self->reported;
    uint64_t in = 0, out = 0;
    for (size_t i = 0; i < self->count; i++) {
        s_sim_stream_t *s = &self->streams [i];
        if (s->status == SF_STATUS_ACTIVE) {
            in += s->bitrate_kbps;
            out += (uint64_t) s->bitrate_kbps * s->clients;
        }
        if (!partial || s->dirty)
            s_fill (self, s, sf_streamset_add (set, s->name), now);
        s->dirty = false;
    }
    if (partial) {
        //  A name replaced and then drawn again (a collision) is reported
        //  as changed, not gone: the set's items win
        for (size_t i = 0; i < self->ngone; i++)
            sf_streamset_gone (set, self->gone [i]);
        set->partial = true;
        //  The node's totals, which the runner cannot sum from a partial state
        sf_node_init (&set->node);
        set->has_node = true;
        set->node.in_kbps = in > UINT32_MAX ? UINT32_MAX : (uint32_t) in;
        set->node.out_kbps = out > UINT32_MAX ? UINT32_MAX : (uint32_t) out;
        SF_STRSET (set->node.bandwidth_source, "streams");
    }
    self->ngone = 0;
    self->reported = true;
    return 0;
}

static void
s_destroy (void **state_p)
{
    s_sim_t *self = *state_p;
    if (self) {
        free (self->streams);
        free (self->gone);
        free (self);
        *state_p = NULL;
    }
}

const sf_source_ops_t sf_source_simulate = {
    .name = "simulate",
    .summary = "N synthetic streams with realistic churn (demo, tests, benchmarks)",
    .options = s_options, .config_size = sizeof (s_sim_config_t),
    .create = s_create, .wait = NULL, .poll = s_poll, .destroy = s_destroy
};

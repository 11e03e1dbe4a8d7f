/*  dvr_scan.c — DVR ranges from chunk files on disk (sf_dvr_scan.h).

    The scanner mirrors the records directory as a tree of cached directory
    nodes. Each node remembers the directory's mtime, its matching
    subdirectories and its chunks (start, end, size, stream), sorted by stream
    and start, with the merged ranges of every chunk but each stream's newest
    precomputed. An update stat()s every known directory; only one whose
    mtime moved is re-read, and in it only names not seen before are
    stat()ed. The newest chunk of each stream is re-stat()ed every update
    because a recorder appends to it until it closes. Then the per-directory
    summaries are joined into one summary per stream: the cost per update is
    the number of directories and streams, not of chunks.

    Chunk end times come from the name ({dur}) or else from the file's mtime,
    which a recorder moves forward with every write. A chunk "longer" than an
    hour by that measure was touched later (copied, restored) and counts as
    zero length rather than inventing an hour of archive.
*/
#include "sf_dvr_scan.h"
#include "sf_alloc.h"
#include "sf_log.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define S_COMPONENTS_MAX  8
#define S_CHUNK_MAX_MS    (3600 * 1000LL)
#define S_GAP_MS          1000          //  ranges merge across gaps up to this
#define S_PENDING_MAX     4096          //  queued names per directory, then re-read it
#define S_FIT_SLACK       8             //  chunks of room a re-read directory keeps
#define S_WATCH_MASK      (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO \
                           | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

enum { T_MS, T_S, T_DUR, T_Y, T_MO, T_D, T_H, T_MI, T_SE, T_SEQ, T_COUNT };
static const char *s_token_names [T_COUNT] = { "ms", "s", "dur", "Y", "m", "d", "H", "M", "S", "seq" };

//  How a chunk's times are found: from its name (a time token), from its
//  sequence number with the playlists beside it and mtimes ({seq}), or from
//  the file alone (a ".flv" pattern without a time: mtime less the FLV's
//  last timestamp, nginx-rtmp's "record all" with its default suffix)
typedef enum { S_TIME_NAME, S_TIME_SEQ, S_TIME_FILE } s_timing_t;

typedef struct {
    char name [SF_NAME_MAX + 1];
    bool has_name;
    bool local;                     //  strftime conversions: local time
    int64_t v [T_COUNT];
    bool set [T_COUNT];
} s_caps_t;

typedef struct {
    int64_t key;                    //  sort key: the name's time (ms), {seq}, or a name hash
    int64_t start_ms;
    int64_t end_ms;
    int64_t mtime_ms;               //  the file's mtime at the last stat
    int64_t pdt_ms;                 //  {seq}: EXT-X-PROGRAM-DATE-TIME of a playlist, 0 none
    int64_t dur_ms;                 //  {seq}: EXTINF of a playlist; FLV: last timestamp; 0 unknown
    uint64_t bytes;
    uint32_t stream;                //  interned stream id
    uint32_t name_off;              //  file name, in the directory's arena
} s_chunk_t;

//  A playlist beside {seq} chunks (nginx-rtmp's index.m3u8 or NAME.m3u8)
typedef struct {
    char *name;
    struct timespec mtime;
    off_t size;
    bool seen;                      //  still there at the last read of its directory
} s_playlist_t;

//  One stream's chunks within one directory
typedef struct {
    uint32_t stream;
    size_t first, count;            //  into the directory's chunks
    sf_range_t *ranges;             //  ms; merged ranges of all chunks but the last
    size_t nranges;
    uint64_t bytes;                 //  of all chunks but the last
    int64_t dur_sum_ms;             //  of all chunks but the last
} s_run_t;

//  A name inotify reported added or removed, applied at the next update
typedef struct {
    char *name;
    bool added;
} s_pending_t;

typedef struct s_dir_t {
    struct sf_dvr_scan_t *owner;
    char *path;
    int wd;                         //  inotify watch, -1 if none
    bool reread;                    //  inotify lost track: read it again
    s_pending_t *pending;
    size_t npending, pending_cap;
    size_t arena_garbage;           //  bytes of removed chunks' names
    int depth;                      //  pattern component its entries match
    s_caps_t caps;                  //  captured from the path above
    struct timespec mtime;
    bool scanned;
    bool claimed;                   //  seen again while its parent is re-read
    struct s_dir_t **subdirs;       //  sorted by path
    size_t nsubdirs;
    s_chunk_t *chunks;
    size_t nchunks;
    size_t chunks_cap;
    char *arena;                    //  chunk file names
    size_t arena_len, arena_cap;
    s_run_t *runs;
    size_t nruns;
    s_playlist_t *playlists;        //  {seq}: the playlists in this directory
    size_t nplaylists;
    int64_t target_ms;              //  {seq}: the longest EXT-X-TARGETDURATION seen
} s_dir_t;

//  A stream's joined view after an update
typedef struct {
    char *name;
    sf_range_t *ranges;             //  ms, sorted, merged
    size_t nranges, cap;
    uint64_t bytes;
    int64_t dur_sum_ms;
    size_t ncomplete;               //  chunks counted in dur_sum_ms
    size_t nchunks;
} s_stream_t;

struct sf_dvr_scan_t {
    char *root;
    char *components [S_COMPONENTS_MAX];
    int ncomponents;
    bool has_dur;
    s_timing_t timing;
    s_dir_t *top;
    s_stream_t *streams;            //  by interned id
    size_t nstreams, streams_cap;
    uint32_t *hash;                 //  open addressing: id + 1, 0 = empty
    size_t hash_cap;
    uint64_t disk_free_bytes;
    int64_t now_ms;
    sf_dvr_scan_stats_t stats;
    int ifd;                        //  inotify, -1 when unavailable
    int64_t verify_at_ms;           //  next check of watched directories' mtimes
    bool verifying;
    bool implausible_warned;        //  a name read as a time before 2000, said once
    s_dir_t **by_wd;                //  watch descriptor -> directory
    size_t by_wd_cap;
};

//  --------------------------------------------------------------------------
//  Pattern matching

//  Matches one path component against a pattern component, backtracking.
//  Tokens take the longest match first, which reads "{name}-{s}.flv" on
//  "cam-1-1700000000.flv" as cam-1 and 1700000000.
static bool
s_match (const char *pat, const char *str, s_caps_t *caps)
{
    if (!*pat)
        return !*str;
    if (*pat == '*') {
        for (const char *s = str + strlen (str); s >= str; s--)
            if (s_match (pat + 1, s, caps))
                return true;
        return false;
    }
    if (*pat == '{') {
        const char *close = strchr (pat, '}');
        size_t len = (size_t) (close - pat - 1);
        const char *rest = close + 1;
        if (len == 4 && !memcmp (pat + 1, "name", 4)) {
            size_t avail = strlen (str);
            for (size_t n = avail < SF_NAME_MAX ? avail : SF_NAME_MAX; n >= 1; n--)
                if (s_match (rest, str + n, caps)) {
                    memcpy (caps->name, str, n);
                    caps->name [n] = 0;
                    caps->has_name = true;
                    return true;
                }
            return false;
        }
        int token = -1;
        for (int t = 0; t < T_COUNT; t++)
            if (strlen (s_token_names [t]) == len && !memcmp (pat + 1, s_token_names [t], len))
                token = t;
        size_t digits = 0;
        while (str [digits] >= '0' && str [digits] <= '9' && digits < 18)
            digits++;
        for (size_t n = digits; n >= 1; n--)
            if (s_match (rest, str + n, caps)) {
                int64_t v = 0;
                for (size_t i = 0; i < n; i++)
                    v = v * 10 + (str [i] - '0');
                caps->v [token] = v;
                caps->set [token] = true;
                return true;
            }
        return false;
    }
    if (*pat == '%' && pat [1] == '%')
        return *str == '%' && s_match (pat + 2, str + 1, caps);
    if (*pat == '%') {
        //  strftime conversions, as nginx-rtmp's record_suffix writes them
        //  (fixed widths, local time); %F %T %R were expanded by s_expand
        int token = -1;
        size_t width = 2;
        switch (pat [1]) {
            case 'Y': token = T_Y; width = 4; break;
            case 'y': token = T_Y; break;
            case 'm': token = T_MO; break;
            case 'd': token = T_D; break;
            case 'H': token = T_H; break;
            case 'M': token = T_MI; break;
            case 'S': token = T_SE; break;
            case 's': token = T_S; width = 0; break;
            default: return false;
        }
        size_t digits = 0;
        while (str [digits] >= '0' && str [digits] <= '9' && digits < 18)
            digits++;
        for (size_t n = width ? width : digits; n >= 1 && n <= digits; n--) {
            if (s_match (pat + 2, str + n, caps)) {
                int64_t v = 0;
                for (size_t i = 0; i < n; i++)
                    v = v * 10 + (str [i] - '0');
                if (pat [1] == 'y')
                    v += v < 69 ? 2000 : 1900;
                caps->v [token] = v;
                caps->set [token] = true;
                if (token != T_S)
                    caps->local = true;
                return true;
            }
            if (width)
                break;
        }
        return false;
    }
    return *pat == *str && s_match (pat + 1, str + 1, caps);
}

//  Expands the strftime shorthands nginx's record_suffix may hold into the
//  conversions s_match reads: %F is %Y-%m-%d, %T %H:%M:%S, %R %H:%M
static char *
s_expand (const char *comp, size_t len)
{
    char *out = sf_xmalloc (len * 4 + 1);
    size_t at = 0;
    for (size_t i = 0; i < len; i++) {
        const char *with = NULL;
        if (comp [i] == '%' && i + 1 < len) {
            if (comp [i + 1] == 'F') with = "%Y-%m-%d";
            else if (comp [i + 1] == 'T') with = "%H:%M:%S";
            else if (comp [i + 1] == 'R') with = "%H:%M";
            else {
                out [at++] = comp [i++];
                out [at++] = comp [i];
                continue;
            }
        }
        if (with) {
            memcpy (out + at, with, strlen (with));
            at += strlen (with);
            i++;
        }
        else
            out [at++] = comp [i];
    }
    out [at] = 0;
    return out;
}

//  Checks a pattern component's tokens; counts {name} and time tokens
static int
s_check_component (const char *comp, int *names, int *times, int *seqs, bool *dur,
                   char *err, size_t errlen)
{
    for (const char *p = comp; *p; p++) {
        if (*p == '%') {
            if (!p [1] || !strchr ("YymdHMSs%", p [1])) {
                snprintf (err, errlen, "record pattern: unknown conversion '%%%c' in '%s' "
                          "(use %%Y %%y %%m %%d %%H %%M %%S %%s %%F %%T %%R)", p [1] ? p [1] : ' ', comp);
                return -1;
            }
            if (p [1] == 'Y' || p [1] == 'y' || p [1] == 's')
                (*times)++;
            p++;
            continue;
        }
        if (*p == '}') {
            snprintf (err, errlen, "record pattern: stray '}' in '%s'", comp);
            return -1;
        }
        if (*p != '{')
            continue;
        const char *close = strchr (p, '}');
        if (!close) {
            snprintf (err, errlen, "record pattern: unclosed '{' in '%s'", comp);
            return -1;
        }
        size_t len = (size_t) (close - p - 1);
        bool known = false;
        if (len == 4 && !memcmp (p + 1, "name", 4)) {
            (*names)++;
            known = true;
        }
        for (int t = 0; t < T_COUNT; t++)
            if (strlen (s_token_names [t]) == len && !memcmp (p + 1, s_token_names [t], len)) {
                known = true;
                if (t == T_DUR)
                    *dur = true;
                else
                if (t == T_SEQ)
                    (*seqs)++;
                else
                if (t == T_MS || t == T_S || t == T_Y)
                    (*times)++;
            }
        if (!known) {
            snprintf (err, errlen, "record pattern: unknown token '%.*s' (use {name} {ms} {s} {seq} {dur} {Y} {m} {d} {H} {M} {S})",
                      (int) len + 2, p);
            return -1;
        }
        p = close;
    }
    return 0;
}

//  Times before 2000 are not an archive's: nginx-rtmp's default fragment
//  naming (hls_fragment_naming sequential) numbers fragments 0.ts, 1.ts...,
//  which {ms} would read as 1970. Such names are skipped, and said once.
#define S_PLAUSIBLE_MS 946684800000LL
static int64_t s_start_ms (const s_caps_t *caps);

static bool
s_plausible (sf_dvr_scan_t *self, const s_caps_t *caps, const char *name)
{
    if (self->timing != S_TIME_NAME || s_start_ms (caps) >= S_PLAUSIBLE_MS)
        return true;
    if (!self->implausible_warned)
        sf_warn ("DVR scan: %s/%s reads as a time before 2000 with pattern '%s%s%s'; skipping such "
                 "names (nginx-rtmp numbers fragments unless hls_fragment_naming is system: "
                 "use {seq} for those, see docs/adapters.md)", self->root, name, self->components [0],
                 self->ncomponents > 1 ? "/" : "", self->ncomponents > 1 ? self->components [1] : "");
    self->implausible_warned = true;
    return false;
}

static int64_t
s_start_ms (const s_caps_t *caps)
{
    if (caps->set [T_MS])
        return caps->v [T_MS];
    if (caps->set [T_S])
        return caps->v [T_S] * 1000;
    struct tm tm = { 0 };
    tm.tm_year = (int) caps->v [T_Y] - 1900;
    tm.tm_mon = caps->set [T_MO] ? (int) caps->v [T_MO] - 1 : 0;
    tm.tm_mday = caps->set [T_D] ? (int) caps->v [T_D] : 1;
    tm.tm_hour = (int) caps->v [T_H];
    tm.tm_min = (int) caps->v [T_MI];
    tm.tm_sec = (int) caps->v [T_SE];
    if (caps->local) {
        tm.tm_isdst = -1;           //  nginx's strftime wrote local time
        return (int64_t) mktime (&tm) * 1000;
    }
    return (int64_t) timegm (&tm) * 1000;
}

//  A chunk's sort key from its name: its time, its sequence number, or
//  (a name without either) a hash of the name, so each file stays apart
static int64_t
s_key (const sf_dvr_scan_t *self, const s_caps_t *caps, const char *file)
{
    if (self->timing == S_TIME_SEQ)
        return caps->v [T_SEQ];
    if (self->timing == S_TIME_FILE) {
        uint64_t h = 1469598103934665603ull;
        while (*file)
            h = (h ^ (unsigned char) *file++) * 1099511628211ull;
        return (int64_t) (h >> 1);
    }
    return s_start_ms (caps);
}

//  --------------------------------------------------------------------------
//  Stream names, interned so chunks carry a small id

static uint32_t
s_hash_str (const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char) *s++) * 16777619u;
    return h;
}

static void
s_hash_grow (sf_dvr_scan_t *self)
{
    size_t cap = self->hash_cap ? self->hash_cap * 2 : 64;
    uint32_t *hash = sf_xcalloc (cap, sizeof (uint32_t));
    for (size_t i = 0; i < self->nstreams; i++) {
        size_t slot = s_hash_str (self->streams [i].name) & (cap - 1);
        while (hash [slot])
            slot = (slot + 1) & (cap - 1);
        hash [slot] = (uint32_t) i + 1;
    }
    free (self->hash);
    self->hash = hash;
    self->hash_cap = cap;
}

static int64_t
s_stream_find (const sf_dvr_scan_t *self, const char *name)
{
    if (!self->hash_cap)
        return -1;
    size_t slot = s_hash_str (name) & (self->hash_cap - 1);
    while (self->hash [slot]) {
        uint32_t id = self->hash [slot] - 1;
        if (!strcmp (self->streams [id].name, name))
            return id;
        slot = (slot + 1) & (self->hash_cap - 1);
    }
    return -1;
}

static int64_t
s_stream_intern (sf_dvr_scan_t *self, const char *name)
{
    int64_t id = s_stream_find (self, name);
    if (id >= 0)
        return id;
    if ((self->nstreams + 1) * 2 > self->hash_cap)
        s_hash_grow (self);
    if (self->nstreams == self->streams_cap) {
        size_t cap = self->streams_cap ? self->streams_cap * 2 : 16;
        self->streams = sf_xreallocarray (self->streams, cap, sizeof (s_stream_t));
        self->streams_cap = cap;
    }
    s_stream_t *stream = &self->streams [self->nstreams];
    memset (stream, 0, sizeof (*stream));
    stream->name = sf_xstrdup (name);
    size_t slot = s_hash_str (name) & (self->hash_cap - 1);
    while (self->hash [slot])
        slot = (slot + 1) & (self->hash_cap - 1);
    self->hash [slot] = (uint32_t) self->nstreams + 1;
    return (int64_t) self->nstreams++;
}

//  --------------------------------------------------------------------------
//  Directory nodes

static void
s_dir_destroy (s_dir_t **dir_p)
{
    s_dir_t *dir = *dir_p;
    if (!dir)
        return;
    for (size_t i = 0; i < dir->nsubdirs; i++)
        s_dir_destroy (&dir->subdirs [i]);
    for (size_t i = 0; i < dir->nruns; i++)
        free (dir->runs [i].ranges);
    for (size_t i = 0; i < dir->npending; i++)
        free (dir->pending [i].name);
    free (dir->pending);
    for (size_t i = 0; i < dir->nplaylists; i++)
        free (dir->playlists [i].name);
    free (dir->playlists);
    if (dir->wd >= 0 && dir->owner) {
        inotify_rm_watch (dir->owner->ifd, dir->wd);
        if ((size_t) dir->wd < dir->owner->by_wd_cap)
            dir->owner->by_wd [dir->wd] = NULL;
    }
    free (dir->subdirs);
    free (dir->chunks);
    free (dir->arena);
    free (dir->runs);
    free (dir->path);
    free (dir);
    *dir_p = NULL;
}

static s_dir_t *
s_dir_new (sf_dvr_scan_t *owner, const char *path, int depth, const s_caps_t *caps)
{
    s_dir_t *dir = sf_xcalloc (1, sizeof (s_dir_t));
    dir->path = sf_xstrdup (path);
    dir->owner = owner;
    dir->wd = -1;
    dir->depth = depth;
    dir->caps = *caps;
    return dir;
}

static int
s_chunk_cmp (const void *a, const void *b)
{
    const s_chunk_t *x = a, *y = b;
    if (x->stream != y->stream)
        return x->stream < y->stream ? -1 : 1;
    return x->key < y->key ? -1 : x->key > y->key;
}

static int
s_subdir_cmp (const void *a, const void *b)
{
    return strcmp ((*(s_dir_t * const *) a)->path, (*(s_dir_t * const *) b)->path);
}

//  Appends a range (ms) to a list, merging with the last one across small gaps
static void
s_range_push (sf_range_t **ranges, size_t *n, size_t *cap, int64_t from, int64_t to)
{
    if (*n && from <= (*ranges) [*n - 1].to + S_GAP_MS && from >= (*ranges) [*n - 1].from) {
        if (to > (*ranges) [*n - 1].to)
            (*ranges) [*n - 1].to = to;
        return;
    }
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        *ranges = sf_xreallocarray (*ranges, ncap, sizeof (sf_range_t));
        *cap = ncap;
    }
    (*ranges) [*n].from = from;
    (*ranges) [*n].to = to;
    (*n)++;
}

//  A {seq} chunk's times. A playlist that gave it a program date-time
//  and a duration says it all; else it ends at its mtime (nginx-rtmp writes
//  a fragment as the stream plays and closes it at its end) and starts its
//  EXTINF duration before, or, not listed (the fragment being written, or
//  one that left the playlist before the agent saw it), where the fragment
//  before it in sequence ended, when that was at most two target durations
//  earlier (else it counts as zero length rather than bridging a gap).
#define S_SEQ_GUESS_MS  30000       //  that bound when no playlist gave a target
static void
s_seq_time (const s_dir_t *dir, size_t i)
{
    s_chunk_t *c = &dir->chunks [i];
    const s_chunk_t *prev = i > 0 && dir->chunks [i - 1].stream == c->stream
                          && dir->chunks [i - 1].key == c->key - 1 ? &dir->chunks [i - 1] : NULL;
    if (c->pdt_ms > 0 && c->dur_ms > 0) {
        c->start_ms = c->pdt_ms;
        c->end_ms = c->pdt_ms + c->dur_ms;
        return;
    }
    c->end_ms = c->mtime_ms;
    int64_t most = dir->target_ms > 0 ? dir->target_ms * 2 + S_GAP_MS : S_SEQ_GUESS_MS;
    if (c->dur_ms > 0)
        c->start_ms = c->end_ms - c->dur_ms;
    else
    if (prev && prev->end_ms <= c->end_ms && c->end_ms - prev->end_ms <= most)
        c->start_ms = prev->end_ms;
    else
        c->start_ms = c->end_ms;
}

//  Rebuilds a directory's per-stream runs from its sorted chunks
static void
s_dir_build_runs (s_dir_t *dir)
{
    if (dir->owner && dir->owner->timing == S_TIME_SEQ)
        for (size_t i = 0; i < dir->nchunks; i++)
            s_seq_time (dir, i);
    for (size_t i = 0; i < dir->nruns; i++)
        free (dir->runs [i].ranges);
    free (dir->runs);
    dir->runs = NULL;
    dir->nruns = 0;
    size_t cap = 0;
    for (size_t i = 0; i < dir->nchunks; ) {
        size_t j = i;
        while (j < dir->nchunks && dir->chunks [j].stream == dir->chunks [i].stream)
            j++;
        if (dir->nruns == cap) {
            cap = cap ? cap * 2 : 4;
            dir->runs = sf_xreallocarray (dir->runs, cap, sizeof (s_run_t));
        }
        s_run_t *run = &dir->runs [dir->nruns++];
        memset (run, 0, sizeof (*run));
        run->stream = dir->chunks [i].stream;
        run->first = i;
        run->count = j - i;
        size_t rcap = 0;
        for (size_t k = i; k + 1 < j; k++) {
            const s_chunk_t *c = &dir->chunks [k];
            s_range_push (&run->ranges, &run->nranges, &rcap, c->start_ms, c->end_ms);
            run->bytes += c->bytes;
            run->dur_sum_ms += c->end_ms - c->start_ms;
        }
        i = j;
    }
}

//  The timestamp (ms) of an FLV file's last complete tag: the recording's
//  length, since nginx-rtmp's recorder starts each file at 0. The file ends
//  with the last tag's size; a tag still being written does not check out
//  (its size field or header disagree) and gives -1.
static int64_t
s_flv_last_ms (const char *dir, const char *file)
{
    char path [4096];
    snprintf (path, sizeof path, "%s/%s", dir, file);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int64_t ms = -1;
    struct stat st;
    uint8_t sig [3], tail [4], tag [11];
    if (fstat (fd, &st) == 0 && st.st_size >= 13 + 11 + 4
        && pread (fd, sig, 3, 0) == 3 && !memcmp (sig, "FLV", 3)
        && pread (fd, tail, 4, st.st_size - 4) == 4) {
        uint32_t size = (uint32_t) tail [0] << 24 | (uint32_t) tail [1] << 16 | tail [2] << 8 | tail [3];
        if (size >= 11 && (off_t) size <= st.st_size - 13 - 4
            && pread (fd, tag, 11, st.st_size - 4 - size) == 11) {
            uint32_t data = (uint32_t) tag [1] << 16 | tag [2] << 8 | tag [3];
            int type = tag [0] & 0x1f;
            if (data + 11 == size && (type == 8 || type == 9 || type == 18))
                ms = (int64_t) ((uint32_t) tag [7] << 24 | (uint32_t) tag [4] << 16 | tag [5] << 8 | tag [6]);
        }
    }
    close (fd);
    return ms;
}

static bool
s_is_flv (const char *file)
{
    size_t len = strlen (file);
    return len > 4 && !strcmp (file + len - 4, ".flv");
}

//  Sets a chunk's end and size from stat (and {dur} when the name has it).
//  {seq} chunks get their times from s_seq_time once the directory's
//  chunks are in order; a recorded FLV file's length is its own last
//  timestamp, however long it recorded (a name-timed one is not capped at
//  an hour, and a file-timed one starts that long before its mtime).
static void
s_chunk_stat (const sf_dvr_scan_t *self, s_chunk_t *chunk, const struct stat *st, const s_caps_t *caps,
              const char *dir, const char *file)
{
    chunk->bytes = (uint64_t) st->st_size;
    chunk->mtime_ms = (int64_t) st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
    if (self->timing == S_TIME_SEQ) {
        chunk->end_ms = chunk->mtime_ms;
        return;
    }
    if (s_is_flv (file)) {
        int64_t ms = s_flv_last_ms (dir, file);
        if (ms >= 0)
            chunk->dur_ms = ms;
        if (self->timing == S_TIME_FILE) {
            chunk->end_ms = chunk->mtime_ms;
            chunk->start_ms = chunk->mtime_ms - chunk->dur_ms;
            return;
        }
        if (ms >= 0) {
            chunk->end_ms = chunk->start_ms + ms;
            return;
        }
    }
    if (self->has_dur && caps->set [T_DUR])
        chunk->end_ms = chunk->start_ms + caps->v [T_DUR] * 1000;
    else {
        int64_t mtime_ms = (int64_t) st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
        chunk->end_ms = mtime_ms;
        if (mtime_ms < chunk->start_ms || mtime_ms - chunk->start_ms > S_CHUNK_MAX_MS)
            chunk->end_ms = chunk->start_ms;
    }
}

static s_chunk_t *
s_chunk_find (s_chunk_t *chunks, size_t n, uint32_t stream, int64_t key_value)
{
    if (!n)
        return NULL;
    s_chunk_t key = { .stream = stream, .key = key_value };
    return bsearch (&key, chunks, n, sizeof (s_chunk_t), s_chunk_cmp);
}

static s_dir_t *
s_subdir_find (s_dir_t *dir, const char *path)
{
    if (!dir->nsubdirs)
        return NULL;
    s_dir_t key_dir = { .path = (char *) path };
    s_dir_t *key = &key_dir;
    s_dir_t **found = bsearch (&key, dir->subdirs, dir->nsubdirs, sizeof (s_dir_t *), s_subdir_cmp);
    return found ? *found : NULL;
}

//  --------------------------------------------------------------------------
//  Playlists beside {seq} chunks: each segment's EXTINF duration and, where
//  the server writes it, its EXT-X-PROGRAM-DATE-TIME (RFC 8216 4.3.2.6: the
//  date applies to the segment after it, and the segments after that follow
//  on by their durations until a discontinuity)

static bool
s_is_playlist (const char *file)
{
    size_t len = strlen (file);
    return len > 5 && !strcmp (file + len - 5, ".m3u8");
}

//  A playlist seen (added) or gone from a directory
static void
s_playlist_note (s_dir_t *dir, const char *file, bool added)
{
    for (size_t i = 0; i < dir->nplaylists; i++)
        if (!strcmp (dir->playlists [i].name, file)) {
            if (added)
                dir->playlists [i].seen = true;
            else {
                free (dir->playlists [i].name);
                dir->playlists [i] = dir->playlists [--dir->nplaylists];
            }
            return;
        }
    if (!added)
        return;
    s_playlist_t *pl = sf_xreallocarray (dir->playlists, dir->nplaylists + 1, sizeof (s_playlist_t));
    dir->playlists = pl;
    memset (&pl [dir->nplaylists], 0, sizeof (s_playlist_t));
    pl [dir->nplaylists].name = sf_xstrdup (file);
    pl [dir->nplaylists++].seen = true;
}

//  ISO 8601 date-time with an optional fraction and zone (Z, +hh:mm,
//  +hhmm) as unix ms; 0 when it does not read as one
static int64_t
s_iso_ms (const char *t)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf (t, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || !n)
        return 0;
    const char *p = t + n;
    int64_t frac_ms = 0;
    if (*p == '.') {
        int64_t scale = 100;
        for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
            frac_ms += (*p - '0') * scale;
    }
    int64_t offset_s = 0;
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf (p + 1, "%2d:%2d", &oh, &om) < 1 && sscanf (p + 1, "%2d%2d", &oh, &om) < 1)
            return 0;
        offset_s = (*p == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    }
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = sec };
    int64_t ms = ((int64_t) timegm (&tm) - offset_s) * 1000 + frac_ms;
    return ms >= S_PLAUSIBLE_MS ? ms : 0;
}

//  Reads one playlist and gives the chunks it lists their durations and
//  program date-times; keeps the longest target duration
static void
s_playlist_read (sf_dvr_scan_t *self, s_dir_t *dir, const char *path)
{
    FILE *f = fopen (path, "re");
    if (!f)
        return;
    const char *pat = self->components [dir->depth];
    char line [4096];
    int64_t dur_ms = 0, pdt_ms = 0, next_pdt_ms = 0;
    size_t lines = 0;
    while (fgets (line, sizeof line, f) && lines++ < 100000) {
        line [strcspn (line, "\r\n")] = 0;
        if (!strncmp (line, "#EXT-X-TARGETDURATION:", 22)) {
            int64_t target_ms = (int64_t) (atof (line + 22) * 1000);
            if (target_ms > dir->target_ms && target_ms <= S_CHUNK_MAX_MS)
                dir->target_ms = target_ms;
        }
        else
        if (!strncmp (line, "#EXTINF:", 8))
            dur_ms = (int64_t) (atof (line + 8) * 1000 + 0.5);
        else
        if (!strncmp (line, "#EXT-X-PROGRAM-DATE-TIME:", 25))
            pdt_ms = s_iso_ms (line + 25);
        else
        if (!strncmp (line, "#EXT-X-DISCONTINUITY", 20) && !line [20])
            next_pdt_ms = 0;
        else
        if (line [0] && line [0] != '#') {
            if (pdt_ms)
                next_pdt_ms = pdt_ms;
            //  The segment's file name, without a path or query
            char *q = strchr (line, '?');
            if (q)
                *q = 0;
            const char *base = strrchr (line, '/');
            base = base ? base + 1 : line;
            s_caps_t caps = dir->caps;
            if (dur_ms > 0 && dur_ms <= S_CHUNK_MAX_MS && s_match (pat, base, &caps)
                && caps.has_name && caps.set [T_SEQ]) {
                int64_t id = s_stream_find (self, caps.name);
                s_chunk_t *c = id < 0 ? NULL
                             : s_chunk_find (dir->chunks, dir->nchunks, (uint32_t) id, caps.v [T_SEQ]);
                if (c) {
                    c->dur_ms = dur_ms;
                    c->pdt_ms = next_pdt_ms;
                }
            }
            if (next_pdt_ms)
                next_pdt_ms += dur_ms;
            dur_ms = pdt_ms = 0;
        }
    }
    fclose (f);
}

//  Looks at a {seq} directory's playlists; re-reads those that changed and
//  then the directory's chunk times. One stat per playlist per update.
static void
s_dir_playlists (sf_dvr_scan_t *self, s_dir_t *dir)
{
    bool changed = false;
    char path [4096];
    for (size_t i = 0; i < dir->nplaylists; i++) {
        s_playlist_t *pl = &dir->playlists [i];
        snprintf (path, sizeof path, "%s/%s", dir->path, pl->name);
        struct stat st;
        self->stats.files_statted++;
        if (stat (path, &st))
            continue;
        if (st.st_mtim.tv_sec == pl->mtime.tv_sec && st.st_mtim.tv_nsec == pl->mtime.tv_nsec
            && st.st_size == pl->size)
            continue;
        pl->mtime = st.st_mtim;
        pl->size = st.st_size;
        s_playlist_read (self, dir, path);
        changed = true;
    }
    if (changed)
        s_dir_build_runs (dir);
}

//  Re-reads a directory whose mtime moved: keeps what it knew of names still
//  there, stat()s only new ones, forgets what is gone.
//  Watches a directory with inotify, before it is read, so that nothing
//  added while it is read goes unseen (a name both read and reported is
//  applied twice, harmlessly). Without inotify (or out of watches) the
//  directory's mtime is checked at each update instead.
static void
s_dir_watch (sf_dvr_scan_t *self, s_dir_t *dir)
{
    if (self->ifd < 0 || dir->wd >= 0)
        return;
    int wd = inotify_add_watch (self->ifd, dir->path, S_WATCH_MASK);
    if (wd < 0)
        return;
    if ((size_t) wd >= self->by_wd_cap) {
        size_t cap = self->by_wd_cap ? self->by_wd_cap : 64;
        while (cap <= (size_t) wd)
            cap *= 2;
        s_dir_t **by = sf_xreallocarray (self->by_wd, cap, sizeof (s_dir_t *));
        memset (by + self->by_wd_cap, 0, (cap - self->by_wd_cap) * sizeof (s_dir_t *));
        self->by_wd = by;
        self->by_wd_cap = cap;
    }
    //  The same directory watched twice (a symlink, a re-created path) shares
    //  one descriptor: the newest node owns it
    if (self->by_wd [wd] && self->by_wd [wd] != dir)
        self->by_wd [wd]->wd = -1;
    self->by_wd [wd] = dir;
    dir->wd = wd;
}

static int
s_dir_rescan (sf_dvr_scan_t *self, s_dir_t *dir)
{
    s_dir_watch (self, dir);
    for (size_t i = 0; i < dir->npending; i++)
        free (dir->pending [i].name);
    dir->npending = 0;
    dir->reread = false;
    dir->arena_garbage = 0;
    int fd = open (dir->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    DIR *dh = fdopendir (fd);
    if (!dh) {
        close (fd);
        return -1;
    }
    self->stats.dirs_read++;
    bool leaf = dir->depth == self->ncomponents - 1;
    const char *pat = self->components [dir->depth];
    s_chunk_t *chunks = NULL;
    size_t nchunks = 0, cap = 0;
    char *arena = NULL;
    size_t arena_len = 0, arena_cap = 0;
    s_dir_t **subdirs = NULL;
    size_t nsubdirs = 0, subcap = 0;
    bool sorted = true;
    for (size_t i = 0; i < dir->nsubdirs; i++)
        dir->subdirs [i]->claimed = false;
    for (size_t i = 0; i < dir->nplaylists; i++)
        dir->playlists [i].seen = false;
    struct dirent *de;
    size_t pathlen = strlen (dir->path);
    while ((de = readdir (dh))) {
        if (de->d_name [0] == '.' && (!de->d_name [1] || (de->d_name [1] == '.' && !de->d_name [2])))
            continue;
        if (leaf && self->timing == S_TIME_SEQ && s_is_playlist (de->d_name))
            s_playlist_note (dir, de->d_name, true);
        s_caps_t caps = dir->caps;
        if (!s_match (pat, de->d_name, &caps))
            continue;
        if (!leaf) {
            if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
                continue;
            size_t plen = pathlen + 1 + strlen (de->d_name) + 1;
            char *path = sf_xmalloc (plen);
            snprintf (path, plen, "%s/%s", dir->path, de->d_name);
            s_dir_t *sub = s_subdir_find (dir, path);
            if (sub)
                sub->claimed = true;
            else {
                struct stat st;
                if (de->d_type != DT_DIR && (stat (path, &st) || !S_ISDIR (st.st_mode))) {
                    free (path);
                    continue;
                }
                sub = s_dir_new (self, path, dir->depth + 1, &caps);
            }
            free (path);
            if (nsubdirs == subcap) {
                subcap = subcap ? subcap * 2 : 8;
                subdirs = sf_xreallocarray (subdirs, subcap, sizeof (s_dir_t *));
            }
            subdirs [nsubdirs++] = sub;
            continue;
        }
        if (de->d_type == DT_DIR || !caps.has_name || !s_plausible (self, &caps, de->d_name))
            continue;
        int64_t id = s_stream_intern (self, caps.name);
        if (nchunks == cap) {
            cap = cap ? cap * 2 : 64;
            chunks = sf_xreallocarray (chunks, cap, sizeof (s_chunk_t));
        }
        size_t nlen = strlen (de->d_name) + 1;
        if (arena_len + nlen > arena_cap) {
            size_t acap = arena_cap ? arena_cap * 2 : 4096;
            while (acap < arena_len + nlen)
                acap *= 2;
            arena = sf_xrealloc (arena, acap);
            arena_cap = acap;
        }
        s_chunk_t *chunk = &chunks [nchunks];
        chunk->stream = (uint32_t) id;
        int64_t key = s_key (self, &caps, de->d_name);
        s_chunk_t *old = s_chunk_find (dir->chunks, dir->nchunks, (uint32_t) id, key);
        //  A stream's newest chunk at the last look may have been written
        //  to until it closed: look again rather than leave a gap.
        bool was_newest = old && (old == &dir->chunks [dir->nchunks - 1] || old [1].stream != old->stream);
        if (old && !was_newest)
            *chunk = *old;              //  what a playlist said of it too
        else
            memset (chunk, 0, sizeof (*chunk));
        chunk->stream = (uint32_t) id;
        chunk->key = key;
        if (!old || was_newest)
            chunk->start_ms = key;
        if (old && was_newest) {
            chunk->dur_ms = old->dur_ms;
            chunk->pdt_ms = old->pdt_ms;
        }
        chunk->name_off = (uint32_t) arena_len;
        memcpy (arena + arena_len, de->d_name, nlen);
        arena_len += nlen;
        if (!old || was_newest) {
            struct stat st;
            self->stats.files_statted++;
            if (fstatat (fd, de->d_name, &st, 0) || !S_ISREG (st.st_mode)) {
                arena_len -= nlen;
                continue;
            }
            s_chunk_stat (self, chunk, &st, &caps, dir->path, de->d_name);
        }
        if (nchunks && sorted && s_chunk_cmp (&chunks [nchunks - 1], chunk) > 0)
            sorted = false;
        nchunks++;
    }
    closedir (dh);
    //  Playlists no longer there
    size_t kept = 0;
    for (size_t i = 0; i < dir->nplaylists; i++)
        if (dir->playlists [i].seen)
            dir->playlists [kept++] = dir->playlists [i];
        else
            free (dir->playlists [i].name);
    dir->nplaylists = kept;
    //  Subdirectories left unclaimed in the old list are gone from disk
    for (size_t i = 0; i < dir->nsubdirs; i++)
        if (!dir->subdirs [i]->claimed)
            s_dir_destroy (&dir->subdirs [i]);
    free (dir->subdirs);
    if (nsubdirs > 1)
        qsort (subdirs, nsubdirs, sizeof (s_dir_t *), s_subdir_cmp);
    dir->subdirs = subdirs;
    dir->nsubdirs = nsubdirs;
    if (!sorted)
        qsort (chunks, nchunks, sizeof (s_chunk_t), s_chunk_cmp);
    //  Fitted to what was read, with room for a few new chunks: the growth
    //  steps' slack (64 chunks, 4 KiB of names) was what 2,000 stream
    //  directories of ten chunks each held, 16 MiB of the agent's 50 MiB
    if (cap > nchunks + S_FIT_SLACK) {
        cap = nchunks + S_FIT_SLACK;
        chunks = sf_xreallocarray (chunks, cap, sizeof (s_chunk_t));
    }
    if (arena_cap > arena_len + S_FIT_SLACK * 32) {
        arena_cap = arena_len + S_FIT_SLACK * 32;
        arena = sf_xrealloc (arena, arena_cap);
    }
    free (dir->chunks);
    free (dir->arena);
    dir->chunks = chunks;
    dir->nchunks = nchunks;
    dir->chunks_cap = cap;
    dir->arena = arena;
    dir->arena_len = arena_len;
    dir->arena_cap = arena_cap;
    s_dir_build_runs (dir);
    return 0;
}

//  Re-stats each stream's newest chunk in a directory: it may still grow
static void
s_dir_restat_last (sf_dvr_scan_t *self, s_dir_t *dir)
{
    if (self->has_dur || dir->depth != self->ncomponents - 1)
        return;
    char path [4096];
    for (size_t i = 0; i < dir->nruns; i++) {
        s_chunk_t *last = &dir->chunks [dir->runs [i].first + dir->runs [i].count - 1];
        //  A chunk nobody wrote to for a minute is closed: recorders write
        //  every few seconds. The 30 s verification pass looks anyway, for
        //  recorders that append to an old file.
        if (!self->verifying && last->end_ms < self->now_ms - 60000)
            continue;
        snprintf (path, sizeof path, "%s/%s", dir->path, dir->arena + last->name_off);
        struct stat st;
        self->stats.files_statted++;
        if (stat (path, &st) == 0) {
            s_chunk_stat (self, last, &st, &dir->caps, dir->path, dir->arena + last->name_off);
            if (self->timing == S_TIME_SEQ)
                s_seq_time (dir, (size_t) (last - dir->chunks));
        }
    }
}

//  Applies the names inotify reported for a directory: a removed chunk
//  leaves the sorted array, an added one is stat()ed and inserted in place.
//  Either way only the reported names cost anything.
static void
s_dir_apply_pending (sf_dvr_scan_t *self, s_dir_t *dir)
{
    //  The mtime now covers what the queue holds (later changes queue new
    //  events), so a verification pass does not re-read for nothing
    struct stat dst;
    if (stat (dir->path, &dst) == 0)
        dir->mtime = dst.st_mtim;
    int fd = open (dir->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const char *pat = self->components [dir->depth];
    for (size_t i = 0; i < dir->npending && fd >= 0; i++) {
        const char *name = dir->pending [i].name;
        if (self->timing == S_TIME_SEQ && s_is_playlist (name)) {
            s_playlist_note (dir, name, dir->pending [i].added);
            continue;
        }
        s_caps_t caps = dir->caps;
        if (!s_match (pat, name, &caps) || !caps.has_name || !s_plausible (self, &caps, name))
            continue;
        int64_t start = s_key (self, &caps, name);
        int64_t id = dir->pending [i].added ? s_stream_intern (self, caps.name)
                                            : s_stream_find (self, caps.name);
        if (id < 0)
            continue;               //  a removal of a stream never seen
        s_chunk_t *c = s_chunk_find (dir->chunks, dir->nchunks, (uint32_t) id, start);
        if (!dir->pending [i].added) {
            if (c) {
                size_t at = (size_t) (c - dir->chunks);
                dir->arena_garbage += strlen (dir->arena + c->name_off) + 1;
                memmove (c, c + 1, (dir->nchunks - at - 1) * sizeof (s_chunk_t));
                dir->nchunks--;
            }
            continue;
        }
        struct stat st;
        self->stats.files_statted++;
        if (fstatat (fd, name, &st, 0) || !S_ISREG (st.st_mode))
            continue;                   //  already gone again
        if (c) {
            s_chunk_stat (self, c, &st, &caps, dir->path, name);
            continue;
        }
        size_t nlen = strlen (name) + 1;
        if (dir->nchunks == dir->chunks_cap) {
            size_t cap = dir->chunks_cap ? dir->chunks_cap * 2 : 64;
            dir->chunks = sf_xreallocarray (dir->chunks, cap, sizeof (s_chunk_t));
            dir->chunks_cap = cap;
        }
        if (dir->arena_len + nlen > dir->arena_cap) {
            size_t cap = dir->arena_cap ? dir->arena_cap * 2 : 4096;
            while (cap < dir->arena_len + nlen)
                cap *= 2;
            dir->arena = sf_xrealloc (dir->arena, cap);
            dir->arena_cap = cap;
        }
        s_chunk_t chunk = { .stream = (uint32_t) id, .key = start, .start_ms = start,
                            .name_off = (uint32_t) dir->arena_len };
        s_chunk_stat (self, &chunk, &st, &caps, dir->path, name);
        memcpy (dir->arena + dir->arena_len, name, nlen);
        dir->arena_len += nlen;
        //  Usually the newest chunk: search from the end
        size_t at = dir->nchunks;
        while (at > 0 && s_chunk_cmp (&dir->chunks [at - 1], &chunk) > 0)
            at--;
        memmove (dir->chunks + at + 1, dir->chunks + at, (dir->nchunks - at) * sizeof (s_chunk_t));
        dir->chunks [at] = chunk;
        dir->nchunks++;
        //  The chunk before it just closed: it may have grown since last seen
        if (at > 0 && dir->chunks [at - 1].stream == chunk.stream && !self->has_dur) {
            s_chunk_t *prev = &dir->chunks [at - 1];
            self->stats.files_statted++;
            if (fstatat (fd, dir->arena + prev->name_off, &st, 0) == 0)
                s_chunk_stat (self, prev, &st, &caps, dir->path, dir->arena + prev->name_off);
        }
    }
    if (fd >= 0)
        close (fd);
    else
        dir->reread = true;
    for (size_t i = 0; i < dir->npending; i++)
        free (dir->pending [i].name);
    dir->npending = 0;
    //  Names of removed chunks pile up in the arena: compact now and then
    if (dir->arena_garbage > 65536 && dir->arena_garbage * 2 > dir->arena_len) {
        char *arena = sf_xmalloc (dir->arena_len - dir->arena_garbage + 1);
        size_t len = 0;
        for (size_t i = 0; i < dir->nchunks; i++) {
            size_t n = strlen (dir->arena + dir->chunks [i].name_off) + 1;
            memcpy (arena + len, dir->arena + dir->chunks [i].name_off, n);
            dir->chunks [i].name_off = (uint32_t) len;
            len += n;
        }
        free (dir->arena);
        dir->arena = arena;
        dir->arena_len = len;
        dir->arena_cap = len + 1;
        dir->arena_garbage = 0;
    }
    s_dir_build_runs (dir);
}

static void
s_mark_reread (s_dir_t *dir)
{
    dir->reread = true;
    for (size_t i = 0; i < dir->nsubdirs; i++)
        s_mark_reread (dir->subdirs [i]);
}

//  Reads what inotify queued: names added and removed in chunk
//  directories become pending work; anything else (a new subdirectory, a
//  directory gone, a queue overflow) sends that directory back to a read.
static void
s_drain_events (sf_dvr_scan_t *self)
{
    if (self->ifd < 0)
        return;
    char buf [65536] __attribute__ ((aligned (__alignof__ (struct inotify_event))));
    for (;;) {
        ssize_t n = read (self->ifd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (char *p = buf; p < buf + n; ) {
            struct inotify_event *ev = (struct inotify_event *) p;
            p += sizeof (struct inotify_event) + ev->len;
            self->stats.events++;
            if (ev->mask & IN_Q_OVERFLOW) {
                s_mark_reread (self->top);
                continue;
            }
            s_dir_t *dir = ev->wd >= 0 && (size_t) ev->wd < self->by_wd_cap ? self->by_wd [ev->wd] : NULL;
            if (!dir)
                continue;
            if (ev->mask & IN_IGNORED) {
                self->by_wd [ev->wd] = NULL;
                dir->wd = -1;
                dir->reread = true;
                continue;
            }
            bool leaf = dir->depth == self->ncomponents - 1;
            if ((ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) || !ev->len || !leaf) {
                dir->reread = true;
                continue;
            }
            if ((ev->mask & IN_ISDIR) || dir->reread)
                continue;
            if (dir->npending == S_PENDING_MAX) {
                dir->reread = true;
                continue;
            }
            if (dir->npending == dir->pending_cap) {
                size_t cap = dir->pending_cap ? dir->pending_cap * 2 : 16;
                dir->pending = sf_xreallocarray (dir->pending, cap, sizeof (s_pending_t));
                dir->pending_cap = cap;
            }
            dir->pending [dir->npending].name = sf_xstrdup (ev->name);
            dir->pending [dir->npending].added = (ev->mask & (IN_CREATE | IN_MOVED_TO)) != 0;
            dir->npending++;
        }
    }
}

static int
s_dir_update (sf_dvr_scan_t *self, s_dir_t *dir)
{
    int rc = 0;
    if (dir->npending && dir->wd >= 0 && dir->scanned && !dir->reread)
        s_dir_apply_pending (self, dir);
    if (dir->wd >= 0 && dir->scanned && !dir->reread && !self->verifying) {
        //  inotify keeps this view current: no stat, no read
    }
    else {
        struct stat st;
        if (stat (dir->path, &st) || !S_ISDIR (st.st_mode))
            return -1;
        if (!dir->scanned || dir->reread || st.st_mtim.tv_sec != dir->mtime.tv_sec
                                         || st.st_mtim.tv_nsec != dir->mtime.tv_nsec) {
            //  Take the mtime before reading: a chunk added while we read
            //  moves it again, and the next update re-reads rather than
            //  missing it.
            if (s_dir_rescan (self, dir) == 0) {
                dir->mtime = st.st_mtim;
                dir->scanned = true;
            }
            else
                rc = -1;
        }
    }
    if (self->timing == S_TIME_SEQ && dir->depth == self->ncomponents - 1)
        s_dir_playlists (self, dir);
    s_dir_restat_last (self, dir);
    for (size_t i = 0; i < dir->nsubdirs; i++)
        if (s_dir_update (self, dir->subdirs [i]))
            dir->reread = true;         //  vanished: re-read the parent next time
    return rc;
}
//  Joins every directory's runs into the per-stream summaries
static void
s_join (sf_dvr_scan_t *self, const s_dir_t *dir)
{
    self->stats.dirs++;
    self->stats.chunks += dir->nchunks;
    self->stats.chunk_bytes += dir->chunks_cap * sizeof (s_chunk_t) + dir->arena_cap;
    for (size_t i = 0; i < dir->nruns; i++) {
        const s_run_t *run = &dir->runs [i];
        s_stream_t *stream = &self->streams [run->stream];
        const s_chunk_t *last = &dir->chunks [run->first + run->count - 1];
        for (size_t r = 0; r < run->nranges; r++)
            s_range_push (&stream->ranges, &stream->nranges, &stream->cap,
                          run->ranges [r].from, run->ranges [r].to);
        s_range_push (&stream->ranges, &stream->nranges, &stream->cap,
                      last->start_ms, last->end_ms);
        stream->bytes += run->bytes + last->bytes;
        stream->dur_sum_ms += run->dur_sum_ms;
        stream->ncomplete += run->count - 1;
        stream->nchunks += run->count;
    }
    for (size_t i = 0; i < dir->nsubdirs; i++)
        s_join (self, dir->subdirs [i]);
}

static int
s_range_cmp (const void *a, const void *b)
{
    const sf_range_t *x = a, *y = b;
    return x->from < y->from ? -1 : x->from > y->from;
}

//  Directories are visited in name order, which is time order for date
//  trees but not in general: sort and merge each stream's ranges once more.
static void
s_normalize (s_stream_t *stream)
{
    if (stream->nranges < 2)
        return;
    bool sorted = true;
    for (size_t i = 1; i < stream->nranges && sorted; i++)
        sorted = stream->ranges [i - 1].from <= stream->ranges [i].from;
    if (!sorted)
        qsort (stream->ranges, stream->nranges, sizeof (sf_range_t), s_range_cmp);
    size_t out = 0;
    for (size_t i = 1; i < stream->nranges; i++) {
        sf_range_t *last = &stream->ranges [out];
        if (stream->ranges [i].from <= last->to + S_GAP_MS) {
            if (stream->ranges [i].to > last->to)
                last->to = stream->ranges [i].to;
        }
        else
            stream->ranges [++out] = stream->ranges [i];
    }
    stream->nranges = out + 1;
}

//  --------------------------------------------------------------------------
//  Public

sf_dvr_scan_t *
sf_dvr_scan_new (const char *records_path, const char *pattern, char *err, size_t errlen)
{
    if (!records_path || !*records_path) {
        snprintf (err, errlen, "records path is empty");
        return NULL;
    }
    if (!pattern || !*pattern)
        pattern = SF_DVR_PATTERN_DEFAULT;
    sf_dvr_scan_t *self = sf_xcalloc (1, sizeof (sf_dvr_scan_t));
    self->ifd = -1;
    self->root = sf_xstrdup (records_path);
    size_t rlen = strlen (self->root);
    while (rlen > 1 && self->root [rlen - 1] == '/')
        self->root [--rlen] = 0;
    int names = 0, times = 0, seqs = 0;
    const char *p = pattern;
    while (*p) {
        const char *slash = strchr (p, '/');
        size_t len = slash ? (size_t) (slash - p) : strlen (p);
        if (!len || self->ncomponents == S_COMPONENTS_MAX) {
            snprintf (err, errlen, "record pattern '%s': empty component or more than %d levels",
                      pattern, S_COMPONENTS_MAX);
            goto fail;
        }
        char *comp = s_expand (p, len);
        self->components [self->ncomponents++] = comp;
        int before = names;
        if (s_check_component (comp, &names, &times, &seqs, &self->has_dur, err, errlen))
            goto fail;
        if (names - before > 1) {
            snprintf (err, errlen, "record pattern '%s': {name} twice in one component", pattern);
            goto fail;
        }
        p = slash ? slash + 1 : p + len;
    }
    const char *leaf = self->components [self->ncomponents - 1];
    if (seqs == 1 && strstr (leaf, "{seq}"))
        self->timing = S_TIME_SEQ;
    else
    if (seqs == 0 && times == 0 && s_is_flv (leaf))
        self->timing = S_TIME_FILE;
    if (names != 1 || seqs > 1 || (seqs && self->timing != S_TIME_SEQ)
        || (times < 1 && self->timing == S_TIME_NAME)) {
        snprintf (err, errlen, "record pattern '%s': needs {name} once and a time ({ms}, {s}, {Y}... "
                  "or strftime's %%Y...), a sequence number ({seq}, in the file name), or "
                  "a .flv file name", pattern);
        goto fail;
    }
    s_caps_t caps;
    memset (&caps, 0, sizeof caps);
    self->ifd = inotify_init1 (IN_NONBLOCK | IN_CLOEXEC);
    self->top = s_dir_new (self, self->root, 0, &caps);
    return self;
fail:
    sf_dvr_scan_destroy (&self);
    return NULL;
}

void
sf_dvr_scan_destroy (sf_dvr_scan_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    sf_dvr_scan_t *self = *self_p;
    s_dir_destroy (&self->top);
    if (self->ifd >= 0)
        close (self->ifd);
    free (self->by_wd);
    for (int i = 0; i < self->ncomponents; i++)
        free (self->components [i]);
    for (size_t i = 0; i < self->nstreams; i++) {
        free (self->streams [i].name);
        free (self->streams [i].ranges);
    }
    free (self->streams);
    free (self->hash);
    free (self->root);
    free (self);
    *self_p = NULL;
}

void
sf_dvr_scan_no_inotify (sf_dvr_scan_t *self)
{
    if (self->ifd >= 0)
        close (self->ifd);
    self->ifd = -1;
}

int
sf_dvr_scan_update (sf_dvr_scan_t *self, int64_t now_ms, char *err, size_t errlen)
{
    self->stats.dirs_read = self->stats.files_statted = self->stats.events = 0;
    self->now_ms = now_ms;
    //  Every 30 s, watched directories are checked by mtime too: inotify
    //  misses changes made by other hosts on network file systems, and this
    //  bounds how long such a change can go unseen
    int64_t mono = sf_mono_ms ();
    self->verifying = mono >= self->verify_at_ms;
    if (self->verifying)
        self->verify_at_ms = mono + 30000;
    s_drain_events (self);
    if (s_dir_update (self, self->top)) {
        struct stat st;
        if (stat (self->root, &st) || !S_ISDIR (st.st_mode)) {
            snprintf (err, errlen, "records path %s: %s", self->root,
                      errno ? strerror (errno) : "not a directory");
            return -1;
        }
    }
    struct statvfs vfs;
    self->disk_free_bytes = statvfs (self->root, &vfs) == 0
                          ? (uint64_t) vfs.f_bavail * vfs.f_frsize : 0;
    for (size_t i = 0; i < self->nstreams; i++) {
        s_stream_t *s = &self->streams [i];
        s->nranges = 0;
        s->bytes = 0;
        s->dur_sum_ms = 0;
        s->ncomplete = s->nchunks = 0;
    }
    self->stats.dirs = self->stats.chunks = self->stats.chunk_bytes = 0;
    s_join (self, self->top);
    self->stats.streams = 0;
    for (size_t i = 0; i < self->nstreams; i++) {
        s_normalize (&self->streams [i]);
        if (self->streams [i].nchunks)
            self->stats.streams++;
    }
    return 0;
}

int
sf_dvr_scan_fill (const sf_dvr_scan_t *self, const char *name, sf_dvr_t *dvr)
{
    int64_t id = s_stream_find (self, name);
    if (id < 0 || !self->streams [id].nchunks)
        return 0;
    const s_stream_t *s = &self->streams [id];
    free (dvr->ranges);
    dvr->ranges = NULL;
    dvr->nranges = 0;
    //  The record holds at most SF_RANGES_MAX ranges: keep the newest
    size_t first = s->nranges > SF_RANGES_MAX ? s->nranges - SF_RANGES_MAX : 0;
    for (size_t i = first; i < s->nranges; i++) {
        //  Seconds: a range covers every second it touches
        int64_t from = s->ranges [i].from / 1000;
        int64_t to = (s->ranges [i].to + 999) / 1000;
        sf_dvr_add_range (dvr, from, to);       //  in order, from <= to, within the bound
    }
    //  The stream's own records path: the root, then the pattern's directories
    //  down to the stream's own ("{name}/{ms}.ts" gives ROOT/NAME); where the
    //  name is part of the file name, the directory its files share
    char path [SF_ADDR_MAX + 1];
    int len = snprintf (path, sizeof (path), "%s", self->root);
    for (int c = 0; c < self->ncomponents - 1 && len > 0 && (size_t) len < sizeof (path); c++) {
        const char *comp = self->components [c];
        if (strcmp (comp, "{name}") == 0) {
            len += snprintf (path + len, sizeof (path) - (size_t) len, "/%s", name);
            break;
        }
        if (strchr (comp, '{'))
            break;                  //  a time in the path: the level above it
        len += snprintf (path + len, sizeof (path) - (size_t) len, "/%s", comp);
    }
    sf_text_set (&dvr->records_path, len > 0 && (size_t) len < sizeof (path) ? path : self->root);
    dvr->memory_bytes = s->bytes;
    dvr->disk_free_bytes = self->disk_free_bytes;
    dvr->chunk_s = s->ncomplete ? (int32_t) ((s->dur_sum_ms / (int64_t) s->ncomplete + 500) / 1000) : 0;
    dvr->depth_s = dvr->nranges ? dvr->ranges [dvr->nranges - 1].to - dvr->ranges [0].from : 0;
    //  Recording now when the newest range reaches close to now: within two
    //  chunks (a chunk's end moves once per write) and never less than 5 s.
    int64_t slack_s = dvr->chunk_s * 2 > 5 ? dvr->chunk_s * 2 : 5;
    dvr->current_from = 0;
    if (dvr->nranges && dvr->ranges [dvr->nranges - 1].to >= self->now_ms / 1000 - slack_s)
        dvr->current_from = dvr->ranges [dvr->nranges - 1].from;
    return 1;
}

size_t
sf_dvr_scan_streams (const sf_dvr_scan_t *self, const char **names, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < self->nstreams; i++)
        if (self->streams [i].nchunks) {
            if (n < max)
                names [n] = self->streams [i].name;
            n++;
        }
    return n;
}

void
sf_dvr_scan_apply (const sf_dvr_scan_t *self, sf_streamset_t *set)
{
    for (size_t i = 0; i < set->count; i++)
        if (!set->items [i].dvr.nranges
        &&  sf_dvr_scan_fill (self, set->items [i].name, &set->items [i].dvr))
            set->items [i].functions |= SF_FN_DVR;
}

void
sf_dvr_scan_stats (const sf_dvr_scan_t *self, sf_dvr_scan_stats_t *stats)
{
    *stats = self->stats;
    stats->inotify = self->ifd >= 0;
}

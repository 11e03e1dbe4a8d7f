/*  sf_dvr_scan.h — DVR state from a directory of time-stamped chunk files.

    Many media servers record their archive as chunk files whose names carry
    the time they start: nginx-rtmp's HLS fragments ("cam1/1700000000123.ts"
    with hls_nested on and hls_fragment_naming system), record files
    ("cam1-1700000000.flv" with record_unique on), or date trees such as
    "cam1/2024/05/01/12/30-00-10.ts". A pattern says how to read the names;
    its path components are matched against directories and file names:

        {name}   the stream name (required; one path component at most)
        {ms}     unix milliseconds        {s}    unix seconds
        {Y} {m} {d} {H} {M} {S}           UTC date and time parts
        %Y %y %m %d %H %M %S %s %F %T %R  strftime's, in local time (nginx's
                 record_suffix), fixed widths
        {seq}    a sequence number (nginx-rtmp's default hls_fragment_naming):
                 times from the playlists (*.m3u8) beside the fragments,
                 EXT-X-PROGRAM-DATE-TIME where present, else each
                 fragment's mtime as its end and its EXTINF as its length
        {dur}    chunk duration, seconds (else the file's mtime is its end)
        *        anything within a component

    A ".flv" pattern without a time ("{name}.flv", nginx-rtmp's record all
    with its default suffix) ends a file at its mtime and starts it its last
    FLV timestamp before; a name-timed .flv file lasts its last timestamp.

    e.g. "{name}/{ms}.ts" (the default), "{name}-{seq}.ts", "{name}-{s}.flv",
    "{name}-%Y%m%d-%H%M%S.flv", "{name}/{Y}/{m}/{d}/{H}/{M}-{S}-{dur}.ts".

    Scanning is incremental. Each directory is read once, then watched with
    inotify: an update applies only the names added or removed since, with
    one stat() per new chunk. Where inotify is unavailable (or out of
    watches, or its queue overflowed) a directory is re-read only when its
    mtime changed, and then only names not seen before are stat()ed. Either
    way the newest chunk of each stream is stat()ed at every update, since it
    may still be growing. Ranges are merged when the gap between chunks is at
    most 1 s.
*/
#ifndef SF_DVR_SCAN_H
#define SF_DVR_SCAN_H

#include "sf_source.h"

typedef struct sf_dvr_scan_t sf_dvr_scan_t;

#define SF_DVR_PATTERN_DEFAULT "{name}/{ms}.ts"

//  What the last update cost, for benchmarks and debug logs
typedef struct {
    size_t dirs;                //  directories known
    size_t chunks;              //  chunk files known
    size_t chunk_bytes;         //  memory held for them (arrays and names)
    size_t streams;             //  streams with at least one chunk
    size_t dirs_read;           //  directories re-read by the last update
    size_t files_statted;       //  stat() calls on chunk files by the last update
    size_t events;              //  inotify events read by the last update
    bool inotify;               //  directories are watched (else: mtimes)
} sf_dvr_scan_stats_t;

//  NULL with err filled when the pattern is invalid. pattern NULL or "" is
//  SF_DVR_PATTERN_DEFAULT. The path need not exist yet.
sf_dvr_scan_t *sf_dvr_scan_new (const char *records_path, const char *pattern,
                                char *err, size_t errlen);
void sf_dvr_scan_destroy (sf_dvr_scan_t **self_p);
//  Turns inotify off (mtimes only); before the first update. For tests and
//  file systems where inotify does not see changes (NFS, FUSE).
void sf_dvr_scan_no_inotify (sf_dvr_scan_t *self);
//  Brings the view up to date. 0, or -1 with err when records_path cannot be
//  read (the previous view is kept).
int sf_dvr_scan_update (sf_dvr_scan_t *self, int64_t now_ms, char *err, size_t errlen);
//  Fills dvr for one stream from the last update: ranges, depth, chunk
//  length, current recording start, bytes on disk, free disk space.
//  Returns 1 when the stream has chunks, 0 when not (dvr untouched).
int sf_dvr_scan_fill (const sf_dvr_scan_t *self, const char *stream, sf_dvr_t *dvr);
//  Names of the streams that have chunks, in no particular order; returns
//  how many there are (may exceed max). Valid until the next update.
size_t sf_dvr_scan_streams (const sf_dvr_scan_t *self, const char **names, size_t max);
//  Fills the DVR part of every stream in set that has chunks and no ranges
//  of its own (a source that reports its archive, Aipix, keeps it) and sets
//  its dvr function.
void sf_dvr_scan_apply (const sf_dvr_scan_t *self, sf_streamset_t *set);
void sf_dvr_scan_stats (const sf_dvr_scan_t *self, sf_dvr_scan_stats_t *stats);
#endif

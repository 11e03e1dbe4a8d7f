/*  sf_overrides.h — per-stream overrides: what a source cannot know.

    A media server's API rarely says whether a stream is the primary or a
    standby copy, whether screenshots are taken, what its playback UUID is or
    how its links look from outside. The operator writes that in a small
    INI-like file (--overrides FILE, format in docs/adapters.md):

        # comment
        [cam1]                  # a stream name, or a glob: [lobby-*], [*]
        type = secondary        # primary | secondary
        photo = on              # on | off
        playback_uuid = 1f0c...
        uid = site1-cam1
        source_url = rtsp://10.0.0.5/stream1
        rtsp_template = rtsp://{host}:8554/{name}
        hls_template = http://{host}/hls/{name}/index.m3u8

    Every section whose pattern matches a stream applies, in file order, so
    a later, more specific section wins over an earlier [*].
*/
#ifndef SF_OVERRIDES_H
#define SF_OVERRIDES_H

#include "sf_source.h"

typedef struct sf_overrides_t sf_overrides_t;

sf_overrides_t *sf_overrides_new (void);
void sf_overrides_destroy (sf_overrides_t **self_p);
//  Replaces the rules with those in text. On a syntax error returns -1 with
//  "line N: what" in err and keeps the previous rules.
int sf_overrides_parse (sf_overrides_t *self, const char *text, char *err, size_t errlen);
//  Loads a file (see sf_overrides_parse); remembers it for sf_overrides_refresh.
int sf_overrides_load (sf_overrides_t *self, const char *path, char *err, size_t errlen);
//  Reloads the file when its mtime or size changed. 1 reloaded, 0 unchanged,
//  -1 on an error (the previous rules stay in force).
int sf_overrides_refresh (sf_overrides_t *self, char *err, size_t errlen);
//  Number of sections
size_t sf_overrides_count (const sf_overrides_t *self);
//  Applies every matching section to every stream in set
void sf_overrides_apply (const sf_overrides_t *self, sf_streamset_t *set);
#endif

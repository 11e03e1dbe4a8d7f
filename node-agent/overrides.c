/*  overrides.c — per-stream overrides from an INI-like file (sf_overrides.h).

    Sections name a stream or a glob; keys set what no source can report
    (type, photo, playback uuid, uid, source url, link templates). The file
    is small and edited by hand, so the parser keeps it simple and strict:
    an unknown key or a bad value is an error naming the line, and a bad file
    never replaces the rules already in force.
*/
#include "sf_overrides.h"
#include "sf_alloc.h"
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_FILE_MAX  (4 * 1024 * 1024)

//  One section. A field left unset (has_* false, or empty string with
//  set_* false) does not touch the stream.
typedef struct {
    char pattern [SF_NAME_MAX + 1];
    int type;                           //  -1 unset
    int photo;                          //  -1 unset, 0 off, 1 on
    bool set_uuid, set_uid, set_url, set_rtsp, set_hls, set_rtmp;
    char playback_uuid [SF_SHORT_MAX + 1];
    char uid [SF_NAME_MAX + 1];
    char source_url [SF_URL_MAX];
    char rtsp_template [SF_ADDR_MAX + 1];
    char hls_template [SF_ADDR_MAX + 1];
    char rtmp_template [SF_ADDR_MAX + 1];
} s_rule_t;

struct sf_overrides_t {
    s_rule_t *rules;
    size_t count;
    char path [512];
    struct timespec mtime;
    off_t size;
};

sf_overrides_t *
sf_overrides_new (void)
{
    return sf_xcalloc (1, sizeof (sf_overrides_t));
}

void
sf_overrides_destroy (sf_overrides_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->rules);
    free (*self_p);
    *self_p = NULL;
}

size_t
sf_overrides_count (const sf_overrides_t *self)
{
    return self ? self->count : 0;
}

static char *
s_trim (char *s)
{
    while (isspace ((unsigned char) *s))
        s++;
    char *end = s + strlen (s);
    while (end > s && isspace ((unsigned char) end [-1]))
        *--end = 0;
    return s;
}

//  Strips a trailing "# comment" that follows whitespace, so values may still
//  contain '#' (as in URL fragments) when it is not preceded by a blank.
static void
s_strip_comment (char *s)
{
    if (!*s || *s == '#' || *s == ';') {
        *s = 0;
        return;
    }
    for (char *p = s + 1; *p; p++)
        if (*p == '#' && isspace ((unsigned char) p [-1])) {
            *p = 0;
            return;
        }
}

static int
s_bool (const char *v)
{
    if (!strcasecmp (v, "on") || !strcasecmp (v, "yes") || !strcasecmp (v, "true") || !strcmp (v, "1"))
        return 1;
    if (!strcasecmp (v, "off") || !strcasecmp (v, "no") || !strcasecmp (v, "false") || !strcmp (v, "0"))
        return 0;
    return -1;
}

//  Sets one key of a rule; returns NULL or what was wrong with it
static const char *
s_rule_set (s_rule_t *rule, const char *key, const char *value)
{
    if (!strcmp (key, "type")) {
        int type = sf_type_parse (value);
        //  "migrated" is the controller's conclusion, never an agent's claim
        if (type != SF_TYPE_PRIMARY && type != SF_TYPE_SECONDARY)
            return "type must be primary or secondary";
        rule->type = type;
    }
    else
    if (!strcmp (key, "photo")) {
        if ((rule->photo = s_bool (value)) < 0)
            return "photo must be on or off";
    }
    else
    if (!strcmp (key, "playback_uuid")) {
        if (SF_STRSET (rule->playback_uuid, value))
            return "playback_uuid is too long";
        rule->set_uuid = true;
    }
    else
    if (!strcmp (key, "uid")) {
        if (SF_STRSET (rule->uid, value))
            return "uid is too long";
        rule->set_uid = true;
    }
    else
    if (!strcmp (key, "source_url")) {
        if (SF_STRSET (rule->source_url, value))
            return "source_url is too long";
        rule->set_url = true;
    }
    else
    if (!strcmp (key, "rtsp_template")) {
        if (SF_STRSET (rule->rtsp_template, value))
            return "rtsp_template is too long";
        rule->set_rtsp = true;
    }
    else
    if (!strcmp (key, "hls_template")) {
        if (SF_STRSET (rule->hls_template, value))
            return "hls_template is too long";
        rule->set_hls = true;
    }
    else
    if (!strcmp (key, "rtmp_template")) {
        if (SF_STRSET (rule->rtmp_template, value))
            return "rtmp_template is too long";
        rule->set_rtmp = true;
    }
    else
        return "unknown key (type, photo, playback_uuid, uid, source_url, rtsp_template, hls_template, "
               "rtmp_template)";
    return NULL;
}

int
sf_overrides_parse (sf_overrides_t *self, const char *text, char *err, size_t errlen)
{
    s_rule_t *rules = NULL;
    size_t count = 0, cap = 0;
    char *copy = sf_xstrdup (text ? text : "");
    int lineno = 0;
    char *save = NULL;
    //  strtok_r would skip empty lines and so miscount them; walk by hand
    for (char *line = copy; line; line = save) {
        lineno++;
        save = strchr (line, '\n');
        if (save)
            *save++ = 0;
        s_strip_comment (line);
        char *s = s_trim (line);
        if (!*s)
            continue;
        if (*s == '[') {
            char *end = strchr (s, ']');
            if (!end || end [1]) {
                snprintf (err, errlen, "line %d: a section is [stream-name] or [glob]", lineno);
                goto fail;
            }
            *end = 0;
            char *pattern = s_trim (s + 1);
            if (!*pattern || strlen (pattern) > SF_NAME_MAX) {
                snprintf (err, errlen, "line %d: empty or too long section name", lineno);
                goto fail;
            }
            if (count == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                rules = sf_xreallocarray (rules, ncap, sizeof (s_rule_t));
                cap = ncap;
            }
            s_rule_t *rule = &rules [count++];
            memset (rule, 0, sizeof (*rule));
            rule->type = -1;
            rule->photo = -1;
            SF_STRSET (rule->pattern, pattern);
            continue;
        }
        char *eq = strchr (s, '=');
        if (!eq) {
            snprintf (err, errlen, "line %d: expected key = value", lineno);
            goto fail;
        }
        *eq = 0;
        char *key = s_trim (s);
        char *value = s_trim (eq + 1);
        if (!count) {
            snprintf (err, errlen, "line %d: '%s' outside a [stream] section", lineno, key);
            goto fail;
        }
        const char *why = s_rule_set (&rules [count - 1], key, value);
        if (why) {
            snprintf (err, errlen, "line %d: %s: %s", lineno, key, why);
            goto fail;
        }
    }
    free (copy);
    free (self->rules);
    self->rules = rules;
    self->count = count;
    return 0;
fail:
    free (copy);
    free (rules);
    return -1;
}

int
sf_overrides_load (sf_overrides_t *self, const char *path, char *err, size_t errlen)
{
    if (SF_STRSET (self->path, path)) {
        snprintf (err, errlen, "overrides path too long");
        return -1;
    }
    self->mtime.tv_sec = -1;
    return sf_overrides_refresh (self, err, errlen) < 0 ? -1 : 0;
}

int
sf_overrides_refresh (sf_overrides_t *self, char *err, size_t errlen)
{
    if (!*self->path)
        return 0;
    struct stat st;
    if (stat (self->path, &st)) {
        snprintf (err, errlen, "overrides file %s: %s", self->path, strerror (errno));
        return -1;
    }
    if (st.st_mtim.tv_sec == self->mtime.tv_sec && st.st_mtim.tv_nsec == self->mtime.tv_nsec
    &&  st.st_size == self->size)
        return 0;
    if (st.st_size > S_FILE_MAX) {
        snprintf (err, errlen, "overrides file %s: larger than %d bytes", self->path, S_FILE_MAX);
        return -1;
    }
    FILE *f = fopen (self->path, "r");
    if (!f) {
        snprintf (err, errlen, "overrides file %s: %s", self->path, strerror (errno));
        return -1;
    }
    //  Bounded by S_FILE_MAX above, so an ordinary allocation
    char *text = sf_xcalloc (1, (size_t) st.st_size + 1);
    size_t got = fread (text, 1, (size_t) st.st_size, f);
    fclose (f);
    text [got] = 0;
    char why [256];
    int rc = sf_overrides_parse (self, text, why, sizeof why);
    free (text);
    if (rc) {
        snprintf (err, errlen, "overrides file %s: %s", self->path, why);
        return -1;
    }
    self->mtime = st.st_mtim;
    self->size = st.st_size;
    return 1;
}

void
sf_overrides_apply (const sf_overrides_t *self, sf_streamset_t *set)
{
    if (!self)
        return;
    for (size_t i = 0; i < set->count; i++) {
        sf_stream_t *stream = &set->items [i];
        for (size_t r = 0; r < self->count; r++) {
            const s_rule_t *rule = &self->rules [r];
            if (fnmatch (rule->pattern, stream->name, 0))
                continue;
            if (rule->type >= 0)
                stream->type = (uint8_t) rule->type;
            if (rule->photo == 1)
                stream->functions |= SF_FN_PHOTO;
            else
            if (rule->photo == 0)
                stream->functions &= (uint8_t) ~SF_FN_PHOTO;
            if (rule->set_uuid)
                SF_STRSET (stream->playback_uuid, rule->playback_uuid);
            if (rule->set_uid)
                SF_STRSET (stream->uid, rule->uid);
            if (rule->set_url)
                sf_text_set (&stream->source_url, rule->source_url);
            if (rule->set_rtsp)
                SF_STRSET (stream->rtsp_template, rule->rtsp_template);
            if (rule->set_hls)
                SF_STRSET (stream->hls_template, rule->hls_template);
            if (rule->set_rtmp)
                SF_STRSET (stream->rtmp_template, rule->rtmp_template);
        }
    }
}

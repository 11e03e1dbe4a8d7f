/*  log.c — levelled logging to stderr with timestamps, and a rate limiter
    for messages a peer could trigger at will.
*/
#include "sf_log.h"
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int s_level = SF_LOG_INFO;
static char s_ident [32] = "streamfleet";
static const char *s_names [] = { "debug", "info", "warn", "error" };
static bool s_json = false;

void sf_log_set_level (int level) { s_level = level; }

void
sf_log_set_ident (const char *ident)
{
    snprintf (s_ident, sizeof (s_ident), "%s", ident);
}

int
sf_log_set_format (const char *name)
{
    if (strcasecmp (name, "text") == 0)
        s_json = false;
    else
    if (strcasecmp (name, "json") == 0)
        s_json = true;
    else
        return -1;
    return 0;
}

int
sf_log_level_parse (const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcasecmp (name, s_names [i]) == 0)
            return i;
    return -1;
}

static void
s_vlog (int level, const char *fmt, va_list ap)
{
    if (level < s_level)
        return;
    char stamp [32];
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r (&ts.tv_sec, &tm);
    strftime (stamp, sizeof (stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    char line [2048];
    const char *lname = s_names [level < 0 ? 0 : level > 3 ? 3 : level];
    if (s_json) {
        char msg [1800];
        vsnprintf (msg, sizeof (msg), fmt, ap);
        char when [64];
        snprintf (when, sizeof (when), "%s.%03ldZ", stamp, ts.tv_nsec / 1000000);
        json_t *o = json_pack ("{s:s, s:s, s:s, s:s}", "ts", when, "ident", s_ident,
                               "level", lname, "msg", msg);
        //  A message that is not UTF-8 (a peer's bytes) is kept, escaped
        if (!o) {
            for (char *p = msg; *p; p++)
                if ((unsigned char) *p >= 0x80 || (unsigned char) *p < 0x20)
                    *p = '?';
            o = json_pack ("{s:s, s:s, s:s, s:s}", "ts", when, "ident", s_ident,
                           "level", lname, "msg", msg);
        }
        char *text = o ? json_dumps (o, JSON_COMPACT) : NULL;
        json_decref (o);
        if (!text)
            return;
        snprintf (line, sizeof (line), "%s", text);
        free (text);
    }
    else {
        int n = snprintf (line, sizeof (line), "%s.%03ldZ %s %s: ", stamp, ts.tv_nsec / 1000000,
                          s_ident, lname);
        if (n < 0)
            return;
        vsnprintf (line + n, sizeof (line) - (size_t) n, fmt, ap);
    }
    //  One write per line keeps lines whole when threads log at once
    size_t len = strlen (line);
    if (len < sizeof (line) - 1)
        line [len++] = '\n';
    else
        line [sizeof (line) - 2] = '\n', len = sizeof (line) - 1;
    fwrite (line, 1, len, stderr);
}

void
sf_log (int level, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    s_vlog (level, fmt, ap);
    va_end (ap);
}

void
sf_log_limited (sf_ratelimit_t *rl, int level, const char *fmt, ...)
{
    int64_t now = sf_mono_ms ();
    if (now - rl->window_start_ms >= rl->period_ms) {
        rl->window_start_ms = now;
        rl->in_window = 0;
    }
    if (rl->in_window >= rl->burst) {
        rl->suppressed++;
        return;
    }
    rl->in_window++;
    if (rl->suppressed) {
        sf_log (level, "(%llu similar messages suppressed)", (unsigned long long) rl->suppressed);
        rl->suppressed = 0;
    }
    va_list ap;
    va_start (ap, fmt);
    s_vlog (level, fmt, ap);
    va_end (ap);
}

int64_t
sf_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
sf_mono_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*  sf_log.h — levelled logging to stderr, with a rate limiter for messages
    a misbehaving peer could otherwise make us print without end.
*/
#ifndef SF_LOG_H
#define SF_LOG_H

#include <stdint.h>

typedef enum { SF_LOG_DEBUG = 0, SF_LOG_INFO, SF_LOG_WARN, SF_LOG_ERROR } sf_log_level_t;

void sf_log_set_level (int level);
int sf_log_level_parse (const char *name);      //  -1 if unknown
void sf_log_set_ident (const char *ident);
//  "text" (the default) or "json": one JSON object a line with ts, ident,
//  level and msg, for log shippers. Returns 0, or -1 for an unknown name.
int sf_log_set_format (const char *name);
void sf_log (int level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
#define sf_debug(...) sf_log (SF_LOG_DEBUG, __VA_ARGS__)
#define sf_info(...)  sf_log (SF_LOG_INFO, __VA_ARGS__)
#define sf_warn(...)  sf_log (SF_LOG_WARN, __VA_ARGS__)
#define sf_error(...) sf_log (SF_LOG_ERROR, __VA_ARGS__)

//  Allows at most `burst` messages per `period_ms`; counts what it suppressed
//  and reports the count with the next message let through.
typedef struct {
    int64_t window_start_ms;
    uint32_t in_window;
    uint32_t burst;
    uint32_t period_ms;
    uint64_t suppressed;
} sf_ratelimit_t;

#define SF_RATELIMIT_INIT(burst_, period_) { 0, 0, (burst_), (period_), 0 }
void sf_log_limited (sf_ratelimit_t *rl, int level, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  Clocks
int64_t sf_now_ms (void);           //  wall clock, unix ms
int64_t sf_mono_ms (void);          //  monotonic ms
#endif

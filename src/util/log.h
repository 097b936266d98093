/*
 * Logging: levels, logfmt lines on stderr, a per-connection prefix, and rate limiting for messages
 * a peer can trigger (a malformed-frame flood must not become a log flood).
 *
 * Context: thread-safe (one write(2) per line). Never pass secrets to these functions.
 */
#ifndef ST_UTIL_LOG_H
#define ST_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

enum st_log_level {
    ST_LOG_ERROR = 0,
    ST_LOG_WARN = 1,
    ST_LOG_INFO = 2,
    ST_LOG_DEBUG = 3,
    ST_LOG_TRACE = 4,
};

/* Sets the most verbose level that is printed (default INFO). */
void st_log_set_level(enum st_log_level level);
enum st_log_level st_log_get_level(void);
/* Parses "error|warn|info|debug|trace"; returns -1 on anything else. */
int st_log_level_parse(const char *name);

/* Prints one line: `ts=... level=... <msg>`. The message is free text (it is quoted in the line). */
void st_log(enum st_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void st_logv(enum st_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Rate limiter for peer-triggered messages: at most `burst` lines per second per limiter; the
 * lines suppressed are counted and reported with the next line that gets through.
 */
struct st_ratelimit {
    int64_t window_start; /* monotonic second of the current window */
    uint32_t in_window;   /* lines printed in the current window */
    uint32_t suppressed;  /* lines dropped since the last printed one */
    uint32_t burst;       /* lines allowed per second */
};
#define ST_RATELIMIT_INIT(b) {0, 0, 0, (b)}

/* Logs like st_log() unless the limiter is exhausted for this second. */
void st_log_limited(struct st_ratelimit *rl, enum st_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define st_error(...) st_log(ST_LOG_ERROR, __VA_ARGS__)
#define st_warn(...) st_log(ST_LOG_WARN, __VA_ARGS__)
#define st_info(...) st_log(ST_LOG_INFO, __VA_ARGS__)
#define st_debug(...)                                                                              \
    do {                                                                                           \
        if (st_log_get_level() >= ST_LOG_DEBUG)                                                    \
            st_log(ST_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif

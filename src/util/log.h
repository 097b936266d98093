/*
 * Logging: levels, logfmt or JSON lines on stderr, a per-connection prefix, debug categories
 * switchable at runtime, and rate limiting for messages a peer can trigger (a malformed-frame
 * flood must not become a log flood).
 *
 * Context: thread-safe (one write(2) per line). Never pass secrets to these functions.
 */
#ifndef ST_UTIL_LOG_H
#define ST_UTIL_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
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

/* Line format: logfmt `ts=... level=... msg="..."` (default) or one JSON object per line. */
enum st_log_format {
    ST_LOG_LOGFMT = 0,
    ST_LOG_JSON = 1,
};
void st_log_set_format(enum st_log_format f);
enum st_log_format st_log_get_format(void);
/* Parses "logfmt|json"; returns -1 on anything else. */
int st_log_format_parse(const char *name);
const char *st_log_format_name(enum st_log_format f);
const char *st_log_level_name(enum st_log_level level);

/*
 * Debug categories: a debug message of an enabled category is printed even when the level is
 * below debug, so one subsystem can be traced on a busy daemon (`strait admin log`).
 */
enum st_log_category {
    ST_LOGC_PROTO = 1u << 0,   /* Kafka protocol handling */
    ST_LOGC_HTTP = 1u << 1,    /* HTTP servers: MSK API, admin socket, metrics */
    ST_LOGC_API = 1u << 2,     /* MSK API operations and authorization */
    ST_LOGC_METER = 1u << 3,   /* metering and usage */
    ST_LOGC_GATEWAY = 1u << 4, /* endpoints, connections, broker discovery */
    ST_LOGC_STORE = 1u << 5,   /* the state database */
    ST_LOGC_AUTH = 1u << 6,    /* authentication */
};
#define ST_LOGC_ALL 0x7fu
void st_log_set_categories(unsigned mask);
unsigned st_log_get_categories(void);
/* Parses a comma-separated list of category names ("proto,http", "all", "" = none). Returns 0
 * with *mask, or -1 naming nothing (unknown name). */
int st_log_categories_parse(const char *list, unsigned *mask);
/* Writes the enabled names comma-separated into out. */
void st_log_categories_format(unsigned mask, char *out, size_t n);
/* True when a debug message of `cat` would be printed. */
bool st_log_debug_enabled(unsigned cat);
/* Prints a debug line tagged with its category when st_log_debug_enabled(cat). */
void st_log_cat(unsigned cat, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints one line: `ts=... level=... <msg>`. The message is free text (it is quoted in the line).
 */
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
#define ST_RATELIMIT_INIT(b)                                                                       \
    {                                                                                              \
        0, 0, 0, (b)                                                                               \
    }

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
/* Debug line of a category (see st_log_debug_enabled()). */
#define st_debugc(cat, ...)                                                                        \
    do {                                                                                           \
        if (st_log_debug_enabled(cat))                                                             \
            st_log_cat((cat), __VA_ARGS__);                                                        \
    } while (0)

#endif

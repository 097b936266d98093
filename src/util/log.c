/*
 * Logging implementation: formats one logfmt line into a stack buffer and writes it with a single
 * write(2), so lines from several threads never interleave.
 */
#include "util/log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int g_level = ST_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};

void
st_log_set_level(enum st_log_level level)
{
    g_level = (int)level;
}

enum st_log_level
st_log_get_level(void)
{
    return (enum st_log_level)g_level;
}

int
st_log_level_parse(const char *name)
{
    for (int i = 0; i <= ST_LOG_TRACE; i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    return -1;
}

void
st_logv(enum st_log_level level, const char *fmt, va_list ap)
{
    if ((int)level > g_level)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s msg=\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level]);
    char msg[1800];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    /* Quote the message for logfmt: escape quotes, backslashes and control bytes. */
    for (const char *p = msg; *p && n < (int)sizeof(line) - 8; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            line[n++] = '\\';
            line[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += snprintf(line + n, sizeof(line) - (size_t)n, "\\x%02x", c);
        } else {
            line[n++] = (char)c;
        }
    }
    line[n++] = '"';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void
st_log(enum st_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st_logv(level, fmt, ap);
    va_end(ap);
}

void
st_log_limited(struct st_ratelimit *rl, enum st_log_level level, const char *fmt, ...)
{
    if ((int)level > g_level)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (ts.tv_sec != rl->window_start) {
        rl->window_start = ts.tv_sec;
        rl->in_window = 0;
    }
    if (rl->in_window >= rl->burst) {
        rl->suppressed++;
        return;
    }
    rl->in_window++;
    if (rl->suppressed) {
        st_log(level, "%u similar messages suppressed", rl->suppressed);
        rl->suppressed = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    st_logv(level, fmt, ap);
    va_end(ap);
}

/*
 * Logging implementation: formats one logfmt or JSON line into a stack buffer and writes it with
 * a single write(2), so lines from several threads never interleave.
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

static volatile int g_format = ST_LOG_LOGFMT;
static volatile unsigned g_categories = 0;

static const char *const category_names[] = {"proto",   "http",  "api", "meter",
                                             "gateway", "store", "auth"};

void
st_log_set_format(enum st_log_format f)
{
    g_format = (int)f;
}

enum st_log_format
st_log_get_format(void)
{
    return (enum st_log_format)g_format;
}

int
st_log_format_parse(const char *name)
{
    if (strcmp(name, "logfmt") == 0)
        return ST_LOG_LOGFMT;
    if (strcmp(name, "json") == 0)
        return ST_LOG_JSON;
    return -1;
}

const char *
st_log_format_name(enum st_log_format f)
{
    return f == ST_LOG_JSON ? "json" : "logfmt";
}

const char *
st_log_level_name(enum st_log_level level)
{
    return (int)level >= 0 && level <= ST_LOG_TRACE ? level_names[level] : "?";
}

void
st_log_set_categories(unsigned mask)
{
    g_categories = mask & ST_LOGC_ALL;
}

unsigned
st_log_get_categories(void)
{
    return g_categories;
}

int
st_log_categories_parse(const char *list, unsigned *mask)
{
    unsigned m = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        bool found = false;
        if (n == 3 && strncmp(p, "all", 3) == 0) {
            m = ST_LOGC_ALL;
            found = true;
        }
        for (size_t i = 0; !found && i < sizeof(category_names) / sizeof(category_names[0]); i++)
            if (strlen(category_names[i]) == n && strncmp(p, category_names[i], n) == 0) {
                m |= 1u << i;
                found = true;
            }
        if (!found && n > 0)
            return -1;
        p += n;
        if (*p == ',')
            p++;
    }
    *mask = m;
    return 0;
}

void
st_log_categories_format(unsigned mask, char *out, size_t n)
{
    size_t used = 0;
    if (n)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof(category_names) / sizeof(category_names[0]); i++) {
        if (!(mask & (1u << i)))
            continue;
        int w = snprintf(out + used, n - used, "%s%s", used ? "," : "", category_names[i]);
        if (w < 0 || (size_t)w >= n - used)
            return;
        used += (size_t)w;
    }
}

bool
st_log_debug_enabled(unsigned cat)
{
    return g_level >= ST_LOG_DEBUG || (g_categories & cat) != 0;
}

static const char *
category_name(unsigned cat)
{
    for (size_t i = 0; i < sizeof(category_names) / sizeof(category_names[0]); i++)
        if (cat == (1u << i))
            return category_names[i];
    return NULL;
}

/* Appends `msg` escaped for logfmt (json = false) or a JSON string (json = true). */
static int
append_escaped(char *line, int n, int cap, const char *msg, bool json)
{
    for (const char *p = msg; *p && n < cap - 8; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"' || c == '\\') {
            line[n++] = '\\';
            line[n++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            n += snprintf(line + n, (size_t)(cap - n), json ? "\\u%04x" : "\\x%02x", c);
        } else {
            line[n++] = (char)c;
        }
    }
    return n;
}

static void
emit(enum st_log_level level, unsigned cat, const char *fmt, va_list ap)
{
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    bool json = g_format == ST_LOG_JSON;
    const char *cname = category_name(cat);
    char catbuf[40] = "";
    if (cname)
        snprintf(catbuf, sizeof(catbuf), json ? "\"cat\":\"%s\"," : "cat=%s ", cname);
    int n = snprintf(line, sizeof(line),
                     json ? "{\"ts\":\"%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ\",\"level\":\"%s\",%s"
                            "\"msg\":\""
                          : "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s %smsg=\"",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, level_names[level], catbuf);
    char msg[1800];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = append_escaped(line, n, (int)sizeof(line), msg, json);
    line[n++] = '"';
    if (json)
        line[n++] = '}';
    line[n++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}

void
st_logv(enum st_log_level level, const char *fmt, va_list ap)
{
    if ((int)level > g_level)
        return;
    emit(level, 0, fmt, ap);
}

void
st_log_cat(unsigned cat, const char *fmt, ...)
{
    if (!st_log_debug_enabled(cat))
        return;
    va_list ap;
    va_start(ap, fmt);
    emit(ST_LOG_DEBUG, cat, fmt, ap);
    va_end(ap);
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

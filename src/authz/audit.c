/*
 * The authorization audit log (see audit.h): formats one JSON line per decision with its own
 * escaper (control characters as \u00XX, invalid UTF-8 replaced by U+FFFD, so every line parses),
 * appends it with one write(2) on an O_APPEND descriptor, rotates by size (FILE -> FILE.1 ... ->
 * FILE.keep) and reopens the file when something else removed or renamed it (logrotate).
 */
#include "authz/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define AUDIT_DEFAULT_MAX_BYTES (64ull << 20)
#define AUDIT_DEFAULT_KEEP 5u
#define AUDIT_MAX_KEEP 1000u

struct st_audit {
    char *path;             /* the log file */
    int fd;                 /* open descriptor, -1 when it could not be (re)opened */
    dev_t dev;              /* device of the file fd refers to */
    ino_t ino;              /* inode of the file fd refers to */
    uint64_t max_bytes;     /* rotation threshold */
    unsigned keep;          /* rotated files kept */
    bool all;               /* record allowed decisions too */
    char *line;             /* line buffer, reused */
    size_t cap;             /* its size */
    size_t len;             /* bytes used */
    bool oom;               /* growing the line failed */
    struct st_ratelimit rl; /* failures are logged at most this often */
};

/* ---- line building */

static void
put(struct st_audit *a, const char *p, size_t n)
{
    if (a->oom)
        return;
    if (a->len + n + 1 > a->cap) {
        size_t cap = a->cap ? a->cap : 512;
        while (a->len + n + 1 > cap)
            cap *= 2;
        char *nl = realloc(a->line, cap);
        if (!nl) {
            a->oom = true;
            return;
        }
        a->line = nl;
        a->cap = cap;
    }
    memcpy(a->line + a->len, p, n);
    a->len += n;
}

static void
puts_lit(struct st_audit *a, const char *s)
{
    put(a, s, strlen(s));
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), or 0 when it is not valid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t
utf8_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* Appends s as a JSON string literal. */
static void
put_str(struct st_audit *a, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s), i = 0;
    put(a, "\"", 1);
    while (i < n) {
        size_t run = i;
        while (run < n && p[run] >= 0x20 && p[run] < 0x7f && p[run] != '"' && p[run] != '\\')
            run++;
        if (run > i) {
            put(a, s + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = p[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(a, esc, 2);
            i++;
        } else if (c == '\n') {
            puts_lit(a, "\\n");
            i++;
        } else if (c == '\r') {
            puts_lit(a, "\\r");
            i++;
        } else if (c == '\t') {
            puts_lit(a, "\\t");
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            put(a, esc, 6);
            i++;
        } else {
            size_t l = utf8_len(p + i, n - i);
            if (l) {
                put(a, s + i, l);
                i += l;
            } else {
                puts_lit(a, "\\ufffd");
                i++;
            }
        }
    }
    put(a, "\"", 1);
}

static void
put_key(struct st_audit *a, const char *key, bool first)
{
    if (!first)
        put(a, ",", 1);
    put(a, "\"", 1);
    puts_lit(a, key);
    put(a, "\":", 2);
}

static void
put_field(struct st_audit *a, const char *key, const char *v)
{
    if (!v)
        return;
    put_key(a, key, false);
    put_str(a, v);
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
format_record(struct st_audit *a, const struct st_audit_record *r)
{
    a->len = 0;
    a->oom = false;
    int64_t ms = r->time_ms > 0 ? r->time_ms : now_ms();
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char ts[48], num[32];
    if (!gmtime_r(&secs, &tm))
        memset(&tm, 0, sizeof(tm));
    size_t tl = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof(ts) - tl, ".%03dZ", (int)(ms % 1000));
    puts_lit(a, "{");
    put_key(a, "time", true);
    put_str(a, ts);
    put_key(a, "conn", false);
    snprintf(num, sizeof(num), "\"C-%" PRIu64 "\"", r->conn_id);
    puts_lit(a, num);
    put_field(a, "principal", r->principal);
    put_field(a, "auth", r->auth);
    put_field(a, "source", r->source);
    put_field(a, "endpoint", r->endpoint);
    put_field(a, "vpcConnection", r->vpc_connection);
    put_field(a, "cluster", r->cluster);
    if (r->api) {
        put_field(a, "api", r->api);
        put_key(a, "apiVersion", false);
        snprintf(num, sizeof(num), "%d", r->api_version);
        puts_lit(a, num);
    }
    put_field(a, "action", r->action);
    put_field(a, "resource", r->resource);
    put_field(a, "decision", r->allowed ? "ALLOW" : "DENY");
    put_field(a, "reason", r->reason);
    puts_lit(a, "}\n");
}

/* ---- the file */

static int
open_file(struct st_audit *a)
{
    int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    a->fd = fd;
    a->dev = st.st_dev;
    a->ino = st.st_ino;
    return 0;
}

static void
close_file(struct st_audit *a)
{
    if (a->fd >= 0)
        close(a->fd);
    a->fd = -1;
}

/* FILE.keep is dropped, FILE.i becomes FILE.i+1, FILE becomes FILE.1. Returns 0 or -1. */
static int
rotate(struct st_audit *a)
{
    size_t pl = strlen(a->path) + 16;
    char *from = malloc(pl), *to = malloc(pl);
    int rc = -1;
    if (!from || !to)
        goto out;
    snprintf(to, pl, "%s.%u", a->path, a->keep);
    if (unlink(to) != 0 && errno != ENOENT)
        goto out;
    for (unsigned i = a->keep; i > 1; i--) {
        snprintf(from, pl, "%s.%u", a->path, i - 1);
        snprintf(to, pl, "%s.%u", a->path, i);
        if (rename(from, to) != 0 && errno != ENOENT)
            goto out;
    }
    snprintf(to, pl, "%s.1", a->path);
    if (rename(a->path, to) != 0 && errno != ENOENT)
        goto out;
    rc = 0;
out:
    free(from);
    free(to);
    return rc;
}

struct st_audit *
st_audit_open(const struct st_audit_opts *o, const char **err)
{
    if (!o || !o->path || !*o->path) {
        *err = "no audit log path";
        return NULL;
    }
    struct st_audit *a = calloc(1, sizeof(*a));
    if (!a || !(a->path = strdup(o->path))) {
        free(a);
        *err = "out of memory";
        return NULL;
    }
    a->fd = -1;
    a->max_bytes = o->max_bytes ? o->max_bytes : AUDIT_DEFAULT_MAX_BYTES;
    a->keep = o->keep ? o->keep : AUDIT_DEFAULT_KEEP;
    if (a->keep > AUDIT_MAX_KEEP)
        a->keep = AUDIT_MAX_KEEP;
    a->all = o->all_decisions;
    a->rl = (struct st_ratelimit)ST_RATELIMIT_INIT(2);
    if (open_file(a) != 0) {
        *err = strerror(errno);
        st_audit_close(a);
        return NULL;
    }
    return a;
}

void
st_audit_close(struct st_audit *a)
{
    if (!a)
        return;
    close_file(a);
    free(a->line);
    free(a->path);
    free(a);
}

bool
st_audit_all(const struct st_audit *a)
{
    return a && a->all;
}

const char *
st_audit_path(const struct st_audit *a)
{
    return a ? a->path : NULL;
}

uint64_t
st_audit_max_bytes(const struct st_audit *a)
{
    return a ? a->max_bytes : 0;
}

unsigned
st_audit_keep(const struct st_audit *a)
{
    return a ? a->keep : 0;
}

/*
 * Makes fd refer to the file at a->path and returns its current size, or -1. One stat(2) per
 * record: it notices a file removed, renamed (logrotate) or truncated by someone else.
 */
static int64_t
current_file(struct st_audit *a)
{
    struct stat st;
    if (a->fd >= 0 && stat(a->path, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
        return (int64_t)st.st_size;
    close_file(a); /* gone, moved or never opened: start a new file at the path */
    if (open_file(a) != 0)
        return -1;
    if (fstat(a->fd, &st) != 0)
        return -1;
    return (int64_t)st.st_size;
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

void
st_audit_write(struct st_audit *a, const struct st_audit_record *r)
{
    if (!a || !r || (r->allowed && !a->all))
        return;
    format_record(a, r);
    if (a->oom) {
        st_log_limited(&a->rl, ST_LOG_ERROR, "audit log %s: out of memory; record dropped",
                       a->path);
        return;
    }
    int64_t size = current_file(a);
    if (size < 0) {
        st_log_limited(&a->rl, ST_LOG_ERROR, "audit log %s: cannot open: %s; record dropped",
                       a->path, strerror(errno));
        return;
    }
    if (size > 0 && (uint64_t)size + a->len > a->max_bytes) {
        if (rotate(a) != 0)
            st_log_limited(&a->rl, ST_LOG_ERROR,
                           "audit log %s: cannot rotate: %s; appending to the current file",
                           a->path, strerror(errno));
        else {
            close_file(a);
            if (open_file(a) != 0) {
                st_log_limited(&a->rl, ST_LOG_ERROR,
                               "audit log %s: cannot open after rotation: %s; record dropped",
                               a->path, strerror(errno));
                return;
            }
        }
    }
    if (write_all(a->fd, a->line, a->len) != 0)
        st_log_limited(&a->rl, ST_LOG_ERROR, "audit log %s: write failed: %s; record dropped",
                       a->path, strerror(errno));
}

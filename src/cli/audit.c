/*
 * `strait audit tail`: the last records of straitd's authorization audit log (JSON lines, see
 * src/authz/audit.h), filtered by decision, principal or resource, one readable line each or the
 * raw JSON; --follow keeps printing new records and follows the writer's rotation (FILE ->
 * FILE.1) and logrotate. The file is found through the admin socket (GET /v1/audit), or given
 * with --file; with --data-dir and no daemon running, DATA_DIR/audit.log is read.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"

#define AUDIT_MAX_FILES 1000 /* rotated files looked at by tail (straitd keeps at most this) */

struct tail_opts {
    long n;                /* records printed from the past */
    bool follow;           /* keep reading */
    bool denied;           /* only DENY records */
    const char *principal; /* exact principal, NULL = any */
    const char *resource;  /* substring of the resource, NULL = any */
    bool json;             /* print the raw lines */
    size_t unparseable;    /* lines skipped because they are not JSON objects */
    off_t start_off;       /* where tail stopped reading FILE (--follow goes on from there) */
    dev_t start_dev;       /* FILE's device... */
    ino_t start_ino;       /* ...and inode when tail read it (0 = not read) */
};

/* A growable list of lines (each malloc'ed, without the newline). */
struct lines {
    char **v;   /* lines */
    size_t n;   /* used */
    size_t cap; /* allocated */
};

static void
lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static int
lines_push(struct lines *l, char *s)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv)
            return -1;
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = s;
    return 0;
}

static const char *
js(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v && *v ? v : "-";
}

/* True when the line passes the filters; *jout receives the parsed record (or NULL). */
static bool
matches(struct tail_opts *o, const char *line, json_t **jout)
{
    *jout = NULL;
    json_error_t jerr;
    json_t *j = json_loads(line, 0, &jerr);
    if (!json_is_object(j)) {
        json_decref(j);
        o->unparseable++;
        return false;
    }
    const char *decision = json_string_value(json_object_get(j, "decision"));
    const char *principal = json_string_value(json_object_get(j, "principal"));
    const char *resource = json_string_value(json_object_get(j, "resource"));
    bool ok = (!o->denied || (decision && strcmp(decision, "DENY") == 0)) &&
              (!o->principal || (principal && strcmp(principal, o->principal) == 0)) &&
              (!o->resource || (resource && strstr(resource, o->resource)));
    if (ok)
        *jout = j;
    else
        json_decref(j);
    return ok;
}

/* Prints s with control characters (C0, DEL, C1) as \xNN so a name cannot drive the terminal. */
static void
put_safe(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; p[i]; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            printf("\\x%02x", p[i]);
        else if (p[i] == 0xc2 && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            printf("\\u%04x", p[++i]);
        else
            putchar(p[i]);
    }
}

static void
print_record(const struct tail_opts *o, const char *line, const json_t *j)
{
    if (o->json) {
        printf("%s\n", line);
        return;
    }
    printf("%s %-5s ", js(j, "time"), js(j, "decision"));
    put_safe(js(j, "principal"));
    putchar(' ');
    put_safe(js(j, "api"));
    const json_t *v = json_object_get(j, "apiVersion");
    if (json_is_integer(v))
        printf(" v%lld", (long long)json_integer_value(v));
    putchar(' ');
    put_safe(js(j, "action"));
    putchar(' ');
    put_safe(js(j, "resource"));
    const char *reason = json_string_value(json_object_get(j, "reason"));
    if (reason && *reason) {
        printf(" (");
        put_safe(reason);
        putchar(')');
    }
    putchar('\n');
}

/* Reads one line of any length from f (without the newline); NULL at EOF. *complete says
 * whether it ended with a newline. Ownership: the caller frees the line. */
static char *
read_line(FILE *f, bool *complete)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    if (n < 0) {
        free(line);
        return NULL;
    }
    *complete = n > 0 && line[n - 1] == '\n';
    if (*complete)
        line[n - 1] = '\0';
    return line;
}

/* Appends the matching records of `path` to out. Returns 0, 1 when the file does not exist, -1
 * on another error (printed). */
static int
collect(struct tail_opts *o, const char *path, bool first, struct lines *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        fprintf(stderr, "strait audit: cannot read %s: %s\n", path, strerror(errno));
        return -1;
    }
    bool complete;
    char *line;
    while ((line = read_line(f, &complete))) {
        json_t *j = NULL;
        if (!complete) { /* being written: --follow prints it once complete */
            if (fseeko(f, -(off_t)strlen(line), SEEK_CUR) != 0)
                fseeko(f, 0, SEEK_END);
            free(line);
            break;
        }
        if (!*line || !matches(o, line, &j) || lines_push(out, line) != 0) {
            free(line);
            json_decref(j);
            continue;
        }
        json_decref(j);
        /* Only the last n are kept: drop the oldest half when twice as many piled up. */
        if (o->n > 0 && out->n >= (size_t)o->n * 2 + 64) {
            size_t drop = out->n - (size_t)o->n;
            for (size_t i = 0; i < drop; i++)
                free(out->v[i]);
            memmove(out->v, out->v + drop, (out->n - drop) * sizeof(*out->v));
            out->n -= drop;
        }
    }
    struct stat st;
    if (first && fstat(fileno(f), &st) == 0) {
        o->start_off = ftello(f);
        o->start_dev = st.st_dev;
        o->start_ino = st.st_ino;
    }
    fclose(f);
    return 0;
}

/* The last o->n matching records of FILE, continuing into FILE.1, FILE.2 ... when FILE has
 * fewer. Returns 0 or -1 (printed); a missing FILE is an error. */
static int
print_tail(struct tail_opts *o, const char *path)
{
    if (o->n <= 0) {
        if (access(path, F_OK) == 0 || o->follow)
            return 0;
        fprintf(stderr, "strait audit: %s does not exist\n", path);
        return -1;
    }
    size_t have = 0; /* chunks: FILE's records, FILE.1's, ... (newest file first) */
    struct lines chunks[AUDIT_MAX_FILES + 1];
    size_t nchunks = 0;
    int rc = 0;
    for (unsigned i = 0; i <= AUDIT_MAX_FILES && have < (size_t)o->n; i++) {
        char p[4200];
        if (i == 0)
            snprintf(p, sizeof(p), "%s", path);
        else
            snprintf(p, sizeof(p), "%s.%u", path, i);
        struct lines l = {0};
        int c = collect(o, p, i == 0, &l);
        if (c == 1 && i == 0 && !o->follow) {
            fprintf(stderr, "strait audit: %s does not exist\n", path);
            rc = -1;
        }
        if (c != 0) {
            lines_free(&l);
            if (c < 0)
                rc = -1;
            break;
        }
        chunks[nchunks++] = l;
        have += l.n;
    }
    /* oldest chunk first; within the oldest one only what is needed */
    size_t skip = have > (size_t)o->n ? have - (size_t)o->n : 0;
    for (size_t c = nchunks; c-- > 0;) {
        for (size_t i = 0; i < chunks[c].n; i++) {
            if (skip) {
                skip--;
                continue;
            }
            json_t *j = o->json ? NULL : json_loads(chunks[c].v[i], 0, NULL);
            print_record(o, chunks[c].v[i], j);
            json_decref(j);
        }
        lines_free(&chunks[c]);
    }
    fflush(stdout);
    return rc;
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Prints every complete new line of f from where it stands. *partial carries an incomplete last
 * line between calls (the writer appends whole lines, but a read can race it). */
static void
drain(struct tail_opts *o, FILE *f, char **partial)
{
    bool complete;
    char *line;
    clearerr(f);
    while ((line = read_line(f, &complete))) {
        if (*partial) {
            size_t a = strlen(*partial), b = strlen(line);
            char *joined = malloc(a + b + 1);
            if (joined) {
                memcpy(joined, *partial, a);
                memcpy(joined + a, line, b + 1);
            }
            free(*partial);
            free(line);
            *partial = NULL;
            if (!joined)
                continue;
            line = joined;
        }
        if (!complete) {
            *partial = line;
            break;
        }
        json_t *j = NULL;
        if (*line && matches(o, line, &j)) {
            print_record(o, line, j);
            fflush(stdout);
        }
        json_decref(j);
        free(line);
    }
}

/* --follow: never returns unless stdout goes away or the file cannot be read. */
static int
follow(struct tail_opts *o, const char *path)
{
    FILE *f = NULL;
    char *partial = NULL;
    struct stat cur;
    memset(&cur, 0, sizeof(cur));
    bool at_start = false; /* a new file is read from its beginning */
    for (;;) {
        if (!f) {
            f = fopen(path, "r");
            if (f) {
                /* the file tail read goes on where tail stopped; a new file from its start */
                bool same = false;
                if (fstat(fileno(f), &cur) == 0 && !at_start)
                    same = o->start_ino && cur.st_ino == o->start_ino && cur.st_dev == o->start_dev;
                if (!at_start &&
                    fseeko(f, same ? o->start_off : 0, same ? SEEK_SET : SEEK_END) != 0) {
                    fprintf(stderr, "strait audit: cannot read %s: %s\n", path, strerror(errno));
                    fclose(f);
                    return 1;
                }
            } else if (errno != ENOENT) {
                fprintf(stderr, "strait audit: cannot read %s: %s\n", path, strerror(errno));
                return 1;
            }
            at_start = true; /* after the first open, every file is new */
        }
        if (f) {
            drain(o, f, &partial);
            struct stat now;
            bool replaced =
                stat(path, &now) != 0 || now.st_ino != cur.st_ino || now.st_dev != cur.st_dev;
            if (replaced) {
                /* rotated or removed: finish the old file, then switch to the new one */
                drain(o, f, &partial);
                fclose(f);
                f = NULL;
                free(partial);
                partial = NULL;
                continue;
            }
            if (now.st_size < ftello(f)) { /* truncated in place (copytruncate) */
                fseeko(f, 0, SEEK_SET);
                free(partial);
                partial = NULL;
            }
        }
        if (ferror(stdout))
            break;
        sleep_ms(200);
    }
    if (f)
        fclose(f);
    free(partial);
    return 0;
}

/* Finds the log: --file, else the admin socket's answer, else DATA_DIR/audit.log when the
 * daemon is not running. Returns 0 with path, or the exit status. */
static int
find_log(const char *file, const char *data_dir, const char *sock, char *path, size_t n)
{
    if (file) {
        snprintf(path, n, "%s", file);
        return 0;
    }
    if (data_dir && access(sock, F_OK) != 0) {
        snprintf(path, n, "%s/audit.log", data_dir);
        return 0;
    }
    json_t *j = NULL;
    long st = st_cli_admin_request(sock, "GET", "/v1/audit", NULL, 30, &j);
    if (st == 0 && data_dir) {
        json_decref(j);
        snprintf(path, n, "%s/audit.log", data_dir);
        fprintf(stderr, "strait audit: reading %s\n", path);
        return 0;
    }
    if (st != 200 || !json_is_object(j)) {
        const char *msg = json_string_value(json_object_get(j, "message"));
        if (st)
            fprintf(stderr, "strait audit: %s (HTTP %ld)\n",
                    msg         ? msg
                    : st == 404 ? "this straitd has no audit log support"
                                : "failed",
                    st);
        else
            fprintf(stderr, "strait audit: give --file FILE or --data-dir DIR to read the log "
                            "without a running straitd\n");
        json_decref(j);
        return 1;
    }
    const char *p = json_string_value(json_object_get(j, "path"));
    if (!json_is_true(json_object_get(j, "enabled")) || !p) {
        fprintf(stderr, "strait audit: straitd runs without an audit log (--audit-log none)\n");
        json_decref(j);
        return 1;
    }
    snprintf(path, n, "%s", p);
    json_decref(j);
    return 0;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: strait audit tail [-n N] [-f|--follow] [--denied] [--principal P]\n"
               "                         [--resource SUBSTR] [--json]\n"
               "                         [--file FILE | --data-dir DIR | --admin-socket PATH]\n"
               "\n"
               "Prints the last N (default 20) records of straitd's authorization audit log:\n"
               "time, decision, principal, API and version, action, resource and (reason).\n"
               "  -n N               records from the past (0: none, with --follow only new ones)\n"
               "  -f, --follow       keep printing new records; follows rotation\n"
               "  --denied           only denials\n"
               "  --principal P      only this principal (exact)\n"
               "  --resource SUBSTR  only resources containing SUBSTR\n"
               "  --json             the raw JSON lines\n"
               "  --file FILE        read FILE instead of asking straitd where the log is\n"
               "  --data-dir DIR     straitd's data dir (its admin socket, else DIR/audit.log)\n"
               "  --admin-socket PATH  straitd's admin socket (default $STRAIT_ADMIN_SOCKET or\n"
               "                     /var/lib/strait/admin.sock; --socket is the same)\n");
}

static int
audit_tail(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"denied", no_argument, NULL, 'D'},
        {"principal", required_argument, NULL, 'p'},
        {"resource", required_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'j'},
        {"file", required_argument, NULL, 'F'},
        {"admin-socket", required_argument, NULL, ST_CLI_OPT_SOCKET},
        ST_CLI_ADMIN_LONGOPTS,
        {"lines", required_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct tail_opts o = {.n = 20};
    const char *file = NULL;
    struct st_cli_admin_opts ao = {0};
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "n:fh", longopts, NULL)) != -1) {
        char *end;
        if (st_cli_admin_opt(&ao, ch, optarg))
            continue;
        switch (ch) {
        case 'n':
            errno = 0;
            o.n = strtol(optarg, &end, 10);
            if (end == optarg || *end || errno || o.n < 0 || o.n > 10000000) {
                fprintf(stderr, "strait audit tail: -n takes a count from 0 to 10000000\n");
                return 2;
            }
            break;
        case 'f':
            o.follow = true;
            break;
        case 'D':
            o.denied = true;
            break;
        case 'p':
            o.principal = optarg;
            break;
        case 'r':
            o.resource = optarg;
            break;
        case 'j':
            o.json = true;
            break;
        case 'F':
            file = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "strait audit tail: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char path[4096];
    int rc = find_log(file, ao.data_dir, st_cli_admin_socket(&ao), path, sizeof(path));
    if (rc != 0)
        return rc;
    if (print_tail(&o, path) != 0)
        return 1;
    if (o.follow)
        rc = follow(&o, path);
    if (o.unparseable)
        fprintf(stderr, "strait audit: %zu lines that are not audit records skipped\n",
                o.unparseable);
    return rc;
}

int
st_cli_audit(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "tail") == 0)
        return audit_tail(argc - 1, argv + 1);
    fprintf(stderr, "strait audit: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

/*
 * authconn: new authenticated connections per second against a strait TLS endpoint (issue 5).
 *
 * Each of -c concurrent connections (spread over -T threads, one epoll loop each) repeatedly:
 * TCP connect, TLS handshake (full, no session resumption; the server certificate is verified
 * against --ca), ApiVersions v0, then in --mode iam SaslHandshake v1 AWS_MSK_IAM and
 * SaslAuthenticate v1 with a valid AWS_MSK_IAM payload (src/auth/msk_iam.c, signed for the dialled
 * host and re-signed every 30 s), then close. --mode tls stops after ApiVersions (the TLS-only
 * baseline: the same connection without SASL). A connection counts when its last response was a
 * success; failures are counted with the first error.
 *
 * Output: one JSON line with connections/s during the --duration window (after --warmup), the
 * CPU seconds each --watch NAME=PID process spent during the window, and the CPU seconds authconn
 * itself spent then ("loadgen_cpu", all its threads: the client side of every handshake), so a
 * report can say what one connection costs end to end on a machine shared by client and server.
 */
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "auth/msk_iam.h"
#include "auth/sigv4.h"
#include "util/buf.h"

#define AC_MAX_WATCH 8
#define AC_MAX_TARGETS 16

enum ac_step { A_CONNECT, A_TLS, A_SEND, A_RECV };

struct ac_opts {
    const char *targets[AC_MAX_TARGETS]; /* host:port to dial, round robin */
    int ntargets;                        /* count */
    int conc;                            /* concurrent connections */
    int threads;                         /* event loops */
    double duration, warmup;             /* seconds */
    int iam;                             /* 1: SASL AWS_MSK_IAM after ApiVersions */
    const char *ca;                      /* CA file for server verification */
    const char *akid, *secret, *region;  /* IAM credentials */
    const char *label;                   /* copied to the output */
    struct {
        char name[32];
        long pid;
        double start, end;
    } watch[AC_MAX_WATCH]; /* processes whose CPU is sampled */
    int nwatch;            /* count */
};

static struct ac_opts opt = {.conc = 64,
                             .threads = 1,
                             .duration = 5,
                             .warmup = 1,
                             .iam = 1,
                             .region = "us-east-1",
                             .label = ""};
static atomic_llong n_ok, n_fail;
static atomic_int in_window; /* 0 warmup, 1 window, 2 after */
static atomic_llong win_ok, win_fail;
static char first_error[256];
static pthread_mutex_t err_mu = PTHREAD_MUTEX_INITIALIZER;

struct ac_target {
    struct sockaddr_storage sa; /* resolved address */
    socklen_t salen;            /* its length */
    char host[256];             /* host as dialled (signed in the payload) */
    struct st_buf payload;      /* current AWS_MSK_IAM payload */
};

struct ac_thread;
struct ac_conn {
    struct ac_thread *t;  /* owner */
    int fd;               /* socket, -1 when idle */
    SSL *ssl;             /* TLS session */
    int target;           /* index into thread targets */
    int req;              /* request index: 0 ApiVersions, 1 SaslHandshake, 2 SaslAuthenticate */
    enum ac_step step;    /* where the connection is */
    uint8_t out[4096];    /* request being sent */
    size_t out_len, sent; /* its length and progress */
    uint8_t in[8192];     /* response being read */
    size_t in_len;        /* bytes read */
};

struct ac_thread {
    pthread_t tid;                            /* thread */
    int ep;                                   /* epoll fd */
    SSL_CTX *ctx;                             /* client context */
    struct ac_target targets[AC_MAX_TARGETS]; /* per-thread payload copies */
    time_t signed_at;                         /* when the payloads were signed */
    struct ac_conn *conns;                    /* opt.conc / threads connections */
    int n;                                    /* their count */
    int next_target;                          /* round robin */
};

static volatile int stop_all;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
proc_cpu(long pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
note_error(const char *what)
{
    pthread_mutex_lock(&err_mu);
    if (!first_error[0])
        snprintf(first_error, sizeof(first_error), "%s", what);
    pthread_mutex_unlock(&err_mu);
}

static void
put16(uint8_t *p, int v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static void
put32(uint8_t *p, int32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Request `req` of the sequence into c->out. */
static void
build_request(struct ac_conn *c)
{
    static const char cid[] = "authconn";
    uint8_t *p = c->out + 4;
    int key = c->req == 0 ? 18 : c->req == 1 ? 17 : 36;
    int ver = c->req == 0 ? 0 : 1;
    put16(p, key);
    put16(p + 2, ver);
    put32(p + 4, c->req + 1);
    put16(p + 8, (int)strlen(cid));
    memcpy(p + 10, cid, strlen(cid));
    size_t n = 10 + strlen(cid);
    if (c->req == 1) {
        put16(p + n, 11);
        memcpy(p + n + 2, "AWS_MSK_IAM", 11);
        n += 13;
    } else if (c->req == 2) {
        struct st_buf *pl = &c->t->targets[c->target].payload;
        size_t pn = st_buf_used(pl);
        put32(p + n, (int32_t)pn);
        memcpy(p + n + 4, st_buf_head(pl), pn);
        n += 4 + pn;
    }
    put32(c->out, (int32_t)n);
    c->out_len = n + 4;
    c->sent = 0;
    c->in_len = 0;
}

static int
resign(struct ac_thread *t)
{
    time_t now = time(NULL);
    if (!opt.iam || (t->signed_at && now - t->signed_at < 30))
        return 0;
    struct st_sigv4_signing cred = {opt.akid, opt.secret, NULL, opt.region, "kafka-cluster"};
    for (int i = 0; i < opt.ntargets; i++) {
        const char *err = NULL;
        st_buf_reset(&t->targets[i].payload);
        if (st_msk_iam_build(&cred, t->targets[i].host, "authconn", now, 900,
                             &t->targets[i].payload, &err) != 0) {
            fprintf(stderr, "authconn: cannot build the AWS_MSK_IAM payload: %s\n", err);
            return -1;
        }
    }
    t->signed_at = now;
    return 0;
}

static void conn_start(struct ac_conn *c);

static void
conn_end(struct ac_conn *c, bool ok, const char *why)
{
    if (c->ssl) {
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
    int w = atomic_load(&in_window);
    if (ok) {
        atomic_fetch_add(&n_ok, 1);
        if (w == 1)
            atomic_fetch_add(&win_ok, 1);
    } else {
        atomic_fetch_add(&n_fail, 1);
        if (w == 1)
            atomic_fetch_add(&win_fail, 1);
        note_error(why);
    }
    if (!stop_all)
        conn_start(c);
}

static void
arm(struct ac_conn *c, uint32_t ev)
{
    struct epoll_event e = {.events = ev, .data.ptr = c};
    if (epoll_ctl(c->t->ep, EPOLL_CTL_MOD, c->fd, &e) != 0)
        epoll_ctl(c->t->ep, EPOLL_CTL_ADD, c->fd, &e);
}

static void
conn_start(struct ac_conn *c)
{
    struct ac_thread *t = c->t;
    c->target = t->next_target++ % opt.ntargets;
    struct ac_target *tg = &t->targets[c->target];
    c->fd = socket(tg->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        note_error("socket failed");
        stop_all = 1;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    /* Closing with RST keeps the client's TIME_WAIT table from filling at thousands/s. */
    struct linger lg = {1, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    c->req = 0;
    c->step = A_CONNECT;
    if (connect(c->fd, (struct sockaddr *)&tg->sa, tg->salen) != 0 && errno != EINPROGRESS) {
        char why[128];
        snprintf(why, sizeof(why), "connect: %s", strerror(errno));
        close(c->fd);
        c->fd = -1;
        note_error(why);
        atomic_fetch_add(&n_fail, 1);
        usleep(1000);
        if (!stop_all)
            conn_start(c);
        return;
    }
    arm(c, EPOLLOUT);
}

/* Drives the connection as far as it goes without blocking. */
static void
conn_step(struct ac_conn *c)
{
    for (;;) {
        switch (c->step) {
        case A_CONNECT: {
            int err = 0;
            socklen_t l = sizeof(err);
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) {
                char why[128];
                snprintf(why, sizeof(why), "connect: %s", strerror(err));
                conn_end(c, false, why);
                return;
            }
            c->ssl = SSL_new(c->t->ctx);
            SSL_set_fd(c->ssl, c->fd);
            SSL_set_connect_state(c->ssl);
            SSL_set_tlsext_host_name(c->ssl, c->t->targets[c->target].host);
            c->step = A_TLS;
            break;
        }
        case A_TLS: {
            int r = SSL_do_handshake(c->ssl);
            if (r == 1) {
                build_request(c);
                c->step = A_SEND;
                break;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ) {
                arm(c, EPOLLIN);
                return;
            }
            if (e == SSL_ERROR_WANT_WRITE) {
                arm(c, EPOLLOUT);
                return;
            }
            char why[200];
            snprintf(why, sizeof(why), "TLS handshake: %s",
                     ERR_reason_error_string(ERR_get_error()) ?: "failed");
            conn_end(c, false, why);
            return;
        }
        case A_SEND: {
            int r = SSL_write(c->ssl, c->out + c->sent, (int)(c->out_len - c->sent));
            if (r > 0) {
                c->sent += (size_t)r;
                if (c->sent == c->out_len)
                    c->step = A_RECV;
                break;
            }
            int e = SSL_get_error(c->ssl, r);
            if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                arm(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
                return;
            }
            conn_end(c, false, "write failed");
            return;
        }
        case A_RECV: {
            size_t want = 4 - (c->in_len < 4 ? c->in_len : 4);
            if (c->in_len >= 4) {
                uint32_t sz = ((uint32_t)c->in[0] << 24) | ((uint32_t)c->in[1] << 16) |
                              ((uint32_t)c->in[2] << 8) | c->in[3];
                if (sz + 4 > sizeof(c->in) || sz < 6) {
                    conn_end(c, false, "response frame of an unexpected size");
                    return;
                }
                want = sz + 4 - c->in_len;
            }
            if (want > 0) {
                int r = SSL_read(c->ssl, c->in + c->in_len, (int)want);
                if (r > 0) {
                    c->in_len += (size_t)r;
                    break;
                }
                int e = SSL_get_error(c->ssl, r);
                if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
                    arm(c, e == SSL_ERROR_WANT_READ ? EPOLLIN : EPOLLOUT);
                    return;
                }
                conn_end(c, false, "connection closed by the server");
                return;
            }
            {
                /* Error code: ApiVersions v0 / SaslHandshake / SaslAuthenticate all start with an
                 * int16 error after the correlation id. */
                int16_t ec = c->in_len >= 10 ? (int16_t)((c->in[8] << 8) | c->in[9]) : -1;
                if (ec != 0) {
                    char why[64];
                    snprintf(why, sizeof(why), "request %d answered error %d", c->req, ec);
                    conn_end(c, false, why);
                    return;
                }
                c->req++;
                if (c->req == 1 && !opt.iam) {
                    conn_end(c, true, NULL);
                    return;
                }
                if (c->req == 3) {
                    conn_end(c, true, NULL);
                    return;
                }
                build_request(c);
                c->step = A_SEND;
                break;
            }
        }
        }
    }
}

static void *
thread_main(void *arg)
{
    struct ac_thread *t = arg;
    struct epoll_event evs[256];
    for (int i = 0; i < t->n; i++)
        conn_start(&t->conns[i]);
    while (!stop_all) {
        if (resign(t) != 0) {
            stop_all = 1;
            break;
        }
        int n = epoll_wait(t->ep, evs, 256, 100);
        for (int i = 0; i < n; i++)
            conn_step(evs[i].data.ptr);
    }
    return NULL;
}

static int
resolve(const char *hp, struct ac_target *tg)
{
    char host[256];
    const char *colon = strrchr(hp, ':');
    if (!colon || (size_t)(colon - hp) >= sizeof(host))
        return -1;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - hp), hp);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
        return -1;
    memcpy(&tg->sa, ai->ai_addr, ai->ai_addrlen);
    tg->salen = ai->ai_addrlen;
    snprintf(tg->host, sizeof(tg->host), "%s", host);
    freeaddrinfo(ai);
    return 0;
}

static void
usage(void)
{
    fprintf(stderr,
            "usage: authconn -b HOST:PORT[,HOST:PORT...] --ca CA.pem [--mode iam|tls]\n"
            "                [--akid AKID --secret SECRET] [--region R] [-c CONC] [-T THREADS]\n"
            "                [-d SECONDS] [-w SECONDS] [-W NAME=PID]... [-l LABEL]\n");
    exit(2);
}

int
main(int argc, char **argv)
{
    static const struct option lo[] = {
        {"mode", required_argument, NULL, 'm'},   {"ca", required_argument, NULL, 'C'},
        {"akid", required_argument, NULL, 'a'},   {"secret", required_argument, NULL, 's'},
        {"region", required_argument, NULL, 'r'}, {NULL, 0, NULL, 0}};
    int ch;
    char *blist = NULL;
    while ((ch = getopt_long(argc, argv, "b:c:T:d:w:W:l:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'b':
            blist = strdup(optarg);
            break;
        case 'c':
            opt.conc = atoi(optarg);
            break;
        case 'T':
            opt.threads = atoi(optarg);
            break;
        case 'd':
            opt.duration = atof(optarg);
            break;
        case 'w':
            opt.warmup = atof(optarg);
            break;
        case 'l':
            opt.label = optarg;
            break;
        case 'W': {
            char *eq = strchr(optarg, '=');
            if (!eq || opt.nwatch == AC_MAX_WATCH)
                usage();
            snprintf(opt.watch[opt.nwatch].name, sizeof(opt.watch[0].name), "%.*s",
                     (int)(eq - optarg), optarg);
            opt.watch[opt.nwatch++].pid = atol(eq + 1);
            break;
        }
        case 'm':
            opt.iam = strcmp(optarg, "iam") == 0;
            break;
        case 'C':
            opt.ca = optarg;
            break;
        case 'a':
            opt.akid = optarg;
            break;
        case 's':
            opt.secret = optarg;
            break;
        case 'r':
            opt.region = optarg;
            break;
        default:
            usage();
        }
    }
    if (!blist || !opt.ca || opt.conc < 1 || opt.threads < 1 || opt.threads > opt.conc ||
        (opt.iam && (!opt.akid || !opt.secret)))
        usage();
    for (char *save = NULL, *tok = strtok_r(blist, ",", &save);
         tok && opt.ntargets < AC_MAX_TARGETS; tok = strtok_r(NULL, ",", &save))
        opt.targets[opt.ntargets++] = tok;
    struct ac_thread *ts = calloc((size_t)opt.threads, sizeof(*ts));
    for (int i = 0; i < opt.threads; i++) {
        struct ac_thread *t = &ts[i];
        t->ep = epoll_create1(EPOLL_CLOEXEC);
        t->ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
        SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(t->ctx, SSL_OP_NO_TICKET);
        if (SSL_CTX_load_verify_locations(t->ctx, opt.ca, NULL) != 1) {
            fprintf(stderr, "authconn: cannot load %s\n", opt.ca);
            return 1;
        }
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        for (int k = 0; k < opt.ntargets; k++) {
            st_buf_init(&t->targets[k].payload, 0);
            if (resolve(opt.targets[k], &t->targets[k]) != 0) {
                fprintf(stderr, "authconn: cannot resolve %s\n", opt.targets[k]);
                return 1;
            }
        }
        if (resign(t) != 0)
            return 1;
        t->n = opt.conc / opt.threads + (i < opt.conc % opt.threads ? 1 : 0);
        t->conns = calloc((size_t)t->n, sizeof(struct ac_conn));
        t->next_target = i;
        for (int k = 0; k < t->n; k++) {
            t->conns[k].t = t;
            t->conns[k].fd = -1;
        }
    }
    for (int i = 0; i < opt.threads; i++)
        pthread_create(&ts[i].tid, NULL, thread_main, &ts[i]);
    usleep((useconds_t)(opt.warmup * 1e6));
    for (int i = 0; i < opt.nwatch; i++)
        opt.watch[i].start = proc_cpu(opt.watch[i].pid);
    double self0 = proc_cpu((long)getpid());
    double t0 = now_s();
    atomic_store(&in_window, 1);
    usleep((useconds_t)(opt.duration * 1e6));
    atomic_store(&in_window, 2);
    double t1 = now_s();
    for (int i = 0; i < opt.nwatch; i++)
        opt.watch[i].end = proc_cpu(opt.watch[i].pid);
    double self1 = proc_cpu((long)getpid());
    stop_all = 1;
    for (int i = 0; i < opt.threads; i++)
        pthread_join(ts[i].tid, NULL);
    double win = t1 - t0;
    long long ok = atomic_load(&win_ok), bad = atomic_load(&win_fail);
    printf("{\"label\":\"%s\",\"mode\":\"%s\",\"concurrency\":%d,\"threads\":%d,"
           "\"window_s\":%.3f,\"connections\":%lld,\"failed\":%lld,\"conn_s\":%.1f",
           opt.label, opt.iam ? "iam" : "tls", opt.conc, opt.threads, win, ok, bad,
           (double)ok / win);
    printf(",\"cpu\":{");
    for (int i = 0; i < opt.nwatch; i++)
        printf("%s\"%s\":%.3f", i ? "," : "", opt.watch[i].name,
               opt.watch[i].end - opt.watch[i].start);
    printf("},\"loadgen_cpu\":%.3f", self1 - self0);
    if (first_error[0]) {
        char esc[300];
        size_t j = 0;
        for (size_t i = 0; first_error[i] && j < sizeof(esc) - 2; i++)
            if (first_error[i] != '"' && first_error[i] != '\\')
                esc[j++] = first_error[i];
        esc[j] = '\0';
        printf(",\"first_error\":\"%s\"", esc);
    }
    printf("}\n");
    return ok > 0 ? 0 : 1;
}

/*
 * TLS handshakes on worker threads (src/net/handshake.c): real TLS 1.3 handshakes between an
 * endpoint context (src/net/tls.c, a test installation CA) and OpenSSL clients on their own
 * threads over socketpairs, many at once on two workers; the SSL is usable on the home thread
 * afterwards (bytes both ways, the client certificate of mutual TLS). Failures carry the loop's
 * texts (a client that closes, one that does not trust the CA, a client certificate of another
 * CA), a plaintext first byte is reported, a silent or stalled client times out, and taking jobs
 * back (queued, in a handshake, finished but undelivered) and freeing the pool with jobs inside
 * never runs a callback twice or leaks (ASan; the TSan build checks the locking).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "net/handshake.h"
#include "net/tls.h"

#define CLOSED_TEXT                                                                                \
    "TLS handshake failed: the client closed the connection (does it trust strait's CA?)"

static char dir[64];
static struct st_tls_ca *ca, *other;
static SSL_CTX *sctx, *mtls_ctx;
static char ccert[160], ckey[160], rcert[160], rkey[160];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/st_hs_XXXXXX");
    assert_non_null(mkdtemp(dir));
    char d1[128], d2[128];
    snprintf(d1, sizeof(d1), "%s/tls", dir);
    snprintf(d2, sizeof(d2), "%s/other", dir);
    const char *err = NULL;
    ca = st_tls_ca_open(d1, &err);
    other = st_tls_ca_open(d2, &err);
    assert_non_null(ca);
    assert_non_null(other);
    const char *names[] = {"127.0.0.9"};
    sctx = st_tls_server_new(ca, names, 1, NULL, &err);
    mtls_ctx = st_tls_server_new(ca, names, 1, st_tls_ca_cert_path(ca), &err);
    assert_non_null(sctx);
    assert_non_null(mtls_ctx);
    snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
    snprintf(ccert, sizeof(ccert), "%s/client.pem", dir);
    snprintf(rkey, sizeof(rkey), "%s/rogue.key", dir);
    snprintf(rcert, sizeof(rcert), "%s/rogue.pem", dir);
    assert_int_equal(st_tls_issue_client(ca, "app", "payments", ckey, ccert, &err), 0);
    assert_int_equal(st_tls_issue_client(other, "app", "payments", rkey, rcert, &err), 0);
    return 0;
}

static int
teardown(void **state)
{
    SSL_CTX_free(sctx);
    SSL_CTX_free(mtls_ctx);
    st_tls_ca_free(ca);
    st_tls_ca_free(other);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- clients (own threads, blocking sockets; no cmocka asserts off the main thread) ---- */

enum client_mode {
    C_TLS,       /* handshake trusting the CA, send "ping", read "pong" */
    C_CERT,      /* the same with the client certificate */
    C_ROGUE,     /* the same with a client certificate of another CA */
    C_UNTRUSTED, /* trusts another CA: aborts the handshake with an alert */
    C_EOF,       /* connects and closes without a byte */
    C_RESET,     /* sends a ClientHello, reads the server's answer, resets (RST) */
    C_PLAIN,     /* sends a Kafka frame (first byte 0x00) */
    C_SILENT,    /* sends nothing; waits for the server to close */
    C_STALL,     /* sends the first byte of a TLS record, then nothing */
};

struct client {
    pthread_t tid;         /* its thread */
    int fd;                /* blocking end */
    enum client_mode mode; /* what it does */
    bool connected;        /* the client's handshake completed */
    char got[8];           /* bytes read after the handshake */
};

static void *
client_main(void *arg)
{
    struct client *c = arg;
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (c->mode == C_EOF) {
        close(c->fd);
        return NULL;
    }
    if (c->mode == C_RESET) {
        /* What a client that does not like the certificate and says nothing does. */
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        SSL *s = SSL_new(ctx);
        BIO *rb = BIO_new(BIO_s_mem()), *wb = BIO_new(BIO_s_mem());
        SSL_set_bio(s, rb, wb);
        SSL_set_connect_state(s);
        (void)SSL_do_handshake(s);
        char *hello;
        long n = BIO_get_mem_data(wb, &hello);
        char b;
        if (n > 0 && write(c->fd, hello, (size_t)n) == n && read(c->fd, &b, 1) == 1) {
            struct linger lg = {1, 0};
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        }
        SSL_free(s);
        SSL_CTX_free(ctx);
        OPENSSL_thread_stop();
        close(c->fd);
        return NULL;
    }
    if (c->mode == C_PLAIN || c->mode == C_SILENT || c->mode == C_STALL) {
        static const uint8_t frame[] = {0, 0, 0, 10, 0, 18, 0, 0, 0, 0, 0, 1, 0, 0};
        static const uint8_t rec = 0x16;
        if (c->mode == C_PLAIN && write(c->fd, frame, sizeof(frame)) < 0)
            return NULL;
        if (c->mode == C_STALL && write(c->fd, &rec, 1) < 0)
            return NULL;
        char b;
        while (read(c->fd, &b, 1) > 0)
            ;
        close(c->fd);
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx, st_tls_ca_cert_path(c->mode == C_UNTRUSTED ? other : ca),
                                  NULL);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (c->mode == C_CERT || c->mode == C_ROGUE) {
        SSL_CTX_use_certificate_file(ctx, c->mode == C_CERT ? ccert : rcert, SSL_FILETYPE_PEM);
        SSL_CTX_use_PrivateKey_file(ctx, c->mode == C_CERT ? ckey : rkey, SSL_FILETYPE_PEM);
    }
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, c->fd);
    SSL_set1_host(ssl, "127.0.0.9");
    if (SSL_connect(ssl) == 1) {
        c->connected = true;
        if (SSL_write(ssl, "ping", 4) == 4) {
            int n = SSL_read(ssl, c->got, 4);
            if (n > 0)
                c->got[n] = '\0';
        }
    }
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();
    OPENSSL_thread_stop();
    close(c->fd);
    return NULL;
}

/* ---- the home side ---- */

struct conn {
    int fd;                  /* non-blocking server end */
    SSL *ssl;                /* server session */
    struct client cl;        /* the peer */
    struct st_hs_job *job;   /* in the pool, NULL once back */
    int calls;               /* callbacks received */
    struct st_hs_result res; /* the last one */
    bool free_in_callback;   /* release fd and SSL in the callback (pool shutdown) */
};

static int done_total;

static void
on_done(void *arg, const struct st_hs_result *r)
{
    struct conn *c = arg;
    c->job = NULL;
    c->calls++;
    c->res = *r;
    done_total++;
    if (c->free_in_callback) {
        SSL_free(c->ssl);
        c->ssl = NULL;
        close(c->fd);
        c->fd = -1;
    }
}

/* A TCP connection over loopback, as the gateway accepts them: sv[0] server, sv[1] client. */
static void
tcp_pair(int sv[2])
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof(sa);
    assert_true(l >= 0);
    assert_int_equal(bind(l, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(l, 4), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&sa, &sl), 0);
    sv[1] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_int_equal(connect(sv[1], (struct sockaddr *)&sa, sizeof(sa)), 0);
    sv[0] = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    assert_true(sv[0] >= 0);
    close(l);
}

static void
conn_open(struct conn *c, SSL_CTX *ctx, enum client_mode mode)
{
    memset(c, 0, sizeof(*c));
    int sv[2];
    tcp_pair(sv);
    c->fd = sv[0];
    c->ssl = SSL_new(ctx);
    assert_non_null(c->ssl);
    assert_int_equal(SSL_set_fd(c->ssl, c->fd), 1);
    SSL_set_accept_state(c->ssl);
    c->cl.fd = sv[1];
    c->cl.mode = mode;
    assert_int_equal(pthread_create(&c->cl.tid, NULL, client_main, &c->cl), 0);
}

/* Closes the server end (the client thread then ends) and joins the client. */
static void
conn_close(struct conn *c)
{
    if (c->ssl)
        SSL_free(c->ssl);
    if (c->fd >= 0)
        close(c->fd);
    c->ssl = NULL;
    c->fd = -1;
    pthread_join(c->cl.tid, NULL);
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the home loop until `done_total` reaches `want` or `ms` pass. */
static void
run_until(struct event_base *base, int want, int ms)
{
    int64_t end = now_ms() + ms;
    while (done_total < want && now_ms() < end) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        usleep(1000);
    }
}

/* Reads `n` bytes from a finished server session on the home thread. */
static void
server_read(struct conn *c, char *out, int n)
{
    int64_t end = now_ms() + 5000;
    int got = 0;
    while (got < n && now_ms() < end) {
        int r = SSL_read(c->ssl, out + got, n - got);
        if (r > 0)
            got += r;
        else if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
            usleep(1000);
        else
            break;
    }
    out[got] = '\0';
}

static void
test_handshakes_ok(void **state)
{
    struct event_base *base = event_base_new();
    const char *err = NULL;
    struct st_hs_pool *p = st_hs_pool_new(base, 2, &err);
    assert_non_null(p);
    assert_int_equal(st_hs_pool_threads(p), 2);
    assert_ptr_equal(st_hs_pool_home(p), base);
    enum { N = 24 };
    struct conn c[N];
    done_total = 0;
    for (int i = 0; i < N; i++) {
        conn_open(&c[i], i % 3 == 2 ? mtls_ctx : sctx, i % 3 == 2 ? C_CERT : C_TLS);
        c[i].job = st_hs_submit(p, c[i].fd, c[i].ssl, 10000, on_done, &c[i]);
        assert_non_null(c[i].job);
    }
    run_until(base, N, 20000);
    assert_int_equal(done_total, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(c[i].calls, 1);
        assert_int_equal(c[i].res.status, ST_HS_OK);
        assert_string_equal(c[i].res.why, "");
        assert_true(SSL_is_init_finished(c[i].ssl));
        if (i % 3 == 2) {
            /* Mutual TLS: the verified client certificate is there for the home thread. */
            assert_non_null(SSL_get0_peer_certificate(c[i].ssl));
            assert_int_equal(SSL_get_verify_result(c[i].ssl), X509_V_OK);
        }
        /* The session carries bytes both ways from the home thread. */
        char buf[8];
        server_read(&c[i], buf, 4);
        assert_string_equal(buf, "ping");
        assert_int_equal(SSL_write(c[i].ssl, "pong", 4), 4);
    }
    for (int i = 0; i < N; i++) {
        pthread_join(c[i].cl.tid, NULL);
        assert_true(c[i].cl.connected);
        assert_string_equal(c[i].cl.got, "pong");
        SSL_free(c[i].ssl);
        close(c[i].fd);
    }
    st_hs_pool_free(p);
    assert_int_equal(done_total, N);
    event_base_free(base);
}

/* One handshake that ends badly; returns its result. */
static struct st_hs_result
one(SSL_CTX *ctx, enum client_mode mode, uint32_t timeout_ms)
{
    struct event_base *base = event_base_new();
    const char *err = NULL;
    struct st_hs_pool *p = st_hs_pool_new(base, 1, &err);
    assert_non_null(p);
    struct conn c;
    done_total = 0;
    conn_open(&c, ctx, mode);
    c.job = st_hs_submit(p, c.fd, c.ssl, timeout_ms, on_done, &c);
    assert_non_null(c.job);
    run_until(base, 1, 20000);
    assert_int_equal(c.calls, 1);
    conn_close(&c);
    st_hs_pool_free(p);
    event_base_free(base);
    return c.res;
}

static void
test_failures(void **state)
{
    /* A client that resets the connection without a word once it has seen the certificate (Java
     * clients that do not trust it do): the loop's text, with the usual suspect. */
    struct st_hs_result r = one(sctx, C_RESET, 10000);
    assert_int_equal(r.status, ST_HS_FAILED);
    assert_string_equal(r.why, CLOSED_TEXT);
    /* One that closes before its ClientHello: OpenSSL 3 calls that an unexpected EOF. */
    r = one(sctx, C_EOF, 10000);
    assert_int_equal(r.status, ST_HS_FAILED);
    assert_string_equal(r.why, "TLS handshake failed: unexpected eof while reading");
    /* A client that does not trust the CA sends an alert: OpenSSL's reason. */
    r = one(sctx, C_UNTRUSTED, 10000);
    assert_int_equal(r.status, ST_HS_FAILED);
    assert_non_null(strstr(r.why, "TLS handshake failed: "));
    assert_non_null(strstr(r.why, "unknown ca"));
    /* A client certificate of another CA is refused by the server. */
    r = one(mtls_ctx, C_ROGUE, 10000);
    assert_int_equal(r.status, ST_HS_FAILED);
    assert_non_null(strstr(r.why, "TLS handshake failed: certificate verify failed"));
    /* A Kafka client without TLS. */
    r = one(sctx, C_PLAIN, 10000);
    assert_int_equal(r.status, ST_HS_PLAINTEXT);
    assert_int_equal(r.first_byte, 0x00);
}

static void
test_deadline(void **state)
{
    /* Nothing at all, then a record that never completes: both time out, and not too early. */
    int64_t t0 = now_ms();
    struct st_hs_result r = one(sctx, C_SILENT, 300);
    int64_t spent = now_ms() - t0;
    assert_int_equal(r.status, ST_HS_TIMEOUT);
    assert_true(spent >= 300);
    assert_true(spent < 5000);
    t0 = now_ms();
    r = one(sctx, C_STALL, 300);
    spent = now_ms() - t0;
    assert_int_equal(r.status, ST_HS_TIMEOUT);
    assert_true(spent >= 300);
    assert_true(spent < 5000);
}

static void
test_cancel(void **state)
{
    struct event_base *base = event_base_new();
    const char *err = NULL;
    struct st_hs_pool *p = st_hs_pool_new(base, 2, &err);
    assert_non_null(p);
    done_total = 0;
    /* Taken back at once (queued or already started), handshakes racing with it. */
    for (int i = 0; i < 40; i++) {
        struct conn c;
        conn_open(&c, sctx, i % 2 ? C_TLS : C_SILENT);
        c.job = st_hs_submit(p, c.fd, c.ssl, 10000, on_done, &c);
        assert_non_null(c.job);
        if (i % 4 == 3)
            usleep(2000); /* let some get into the handshake */
        st_hs_cancel(c.job);
        conn_close(&c);
        assert_int_equal(c.calls, 0);
    }
    /* Held by a worker waiting for a silent client. */
    struct conn s;
    conn_open(&s, sctx, C_SILENT);
    s.job = st_hs_submit(p, s.fd, s.ssl, 10000, on_done, &s);
    assert_non_null(s.job);
    usleep(50000);
    st_hs_cancel(s.job);
    conn_close(&s);
    assert_int_equal(s.calls, 0);
    /* Finished in the worker but not yet delivered (the home loop has not run). */
    struct conn f;
    conn_open(&f, sctx, C_PLAIN);
    f.job = st_hs_submit(p, f.fd, f.ssl, 10000, on_done, &f);
    assert_non_null(f.job);
    usleep(200000);
    st_hs_cancel(f.job);
    conn_close(&f);
    run_until(base, 1, 200);
    assert_int_equal(f.calls, 0);
    assert_int_equal(done_total, 0);
    st_hs_pool_free(p);
    assert_int_equal(done_total, 0);
    event_base_free(base);
}

static void
test_free_with_jobs_inside(void **state)
{
    struct event_base *base = event_base_new();
    const char *err = NULL;
    struct st_hs_pool *p = st_hs_pool_new(base, 2, &err);
    assert_non_null(p);
    enum { N = 12 };
    struct conn c[N];
    done_total = 0;
    for (int i = 0; i < N; i++) {
        /* Silent and stalled clients stay in a worker; plaintext ones finish undelivered. */
        enum client_mode m = i % 3 == 0 ? C_SILENT : i % 3 == 1 ? C_STALL : C_PLAIN;
        conn_open(&c[i], sctx, m);
        c[i].free_in_callback = true;
        c[i].job = st_hs_submit(p, c[i].fd, c[i].ssl, 10000, on_done, &c[i]);
        assert_non_null(c[i].job);
    }
    usleep(200000);
    /* Every job comes back exactly once, cancelled, and the owner frees fd and SSL. */
    st_hs_pool_free(p);
    assert_int_equal(done_total, N);
    for (int i = 0; i < N; i++) {
        assert_int_equal(c[i].calls, 1);
        assert_int_equal(c[i].res.status, ST_HS_CANCELLED);
        assert_int_equal(c[i].fd, -1);
        pthread_join(c[i].cl.tid, NULL);
    }
    event_base_free(base);
}

static void
test_bad_arguments(void **state)
{
    struct event_base *base = event_base_new();
    const char *err = NULL;
    assert_null(st_hs_pool_new(base, 0, &err));
    assert_non_null(err);
    assert_null(st_hs_pool_new(base, ST_HS_MAX_THREADS + 1, &err));
    assert_true(st_hs_default_threads() <= 8);
    st_hs_pool_free(NULL);
    event_base_free(base);
}

int
main(void)
{
    /* As straitd: a write to a client that is gone fails with EPIPE instead of killing us. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshakes_ok),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_free_with_jobs_inside),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

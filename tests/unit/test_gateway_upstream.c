/*
 * strait's own security towards the brokers (src/gateway/upstream.c, src/net/tls.c client side):
 * the upstream session driven over a socketpair against an in-process Kafka SASL server built
 * from src/auth's SCRAM server (SCRAM-SHA-256 and -512, PLAIN, wrong password, unsupported
 * mechanism, KIP-368 lifetime and re-authentication), and the TLS client handshake against an
 * in-process OpenSSL server with a certificate from a test installation CA (right CA and name,
 * IP literal, wrong name, another CA), then Kafka bytes through the session.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <fcntl.h>
#include <openssl/ssl.h>

#include "auth/scram.h"
#include "gateway/internal.h"
#include "net/tls.h"
#include "util/clock.h"

/* ---- a tiny Kafka SASL server on the blocking end of a socketpair */

struct server {
    int fd;                           /* blocking end */
    const char *user, *password;      /* the one account */
    int mech;                         /* ST_GW_UP_* mechanism in use, -1 before the handshake */
    struct st_scram_server *scram;    /* exchange in progress */
    struct st_scram_cred cred;        /* the account's SCRAM credential for `mech` */
    int64_t lifetime_ms;              /* returned in SaslAuthenticate v1 */
    int handshakes, auths_ok, failed; /* counters */
    bool plain_only;                  /* offer PLAIN only */
};

static int
read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void
send_frame(int fd, struct st_buf *b)
{
    st_buf_put_i32_at(b, 0, (int32_t)(st_buf_used(b) - 4));
    assert_int_equal(write(fd, st_buf_head(b), st_buf_used(b)), (ssize_t)st_buf_used(b));
}

/* Reads one request and answers it. */
static void
server_one(struct server *s)
{
    uint8_t hdr[4];
    assert_int_equal(read_full(s->fd, hdr, 4), 0);
    int32_t size = st_rd_i32(hdr);
    assert_true(size >= 10 && size < 65536);
    uint8_t *f = malloc((size_t)size);
    assert_non_null(f);
    assert_int_equal(read_full(s->fd, f, (size_t)size), 0);
    int16_t key = st_rd_i16(f), ver = st_rd_i16(f + 2);
    int32_t corr = st_rd_i32(f + 4);
    int16_t cid = st_rd_i16(f + 8);
    const uint8_t *body = f + 10 + (cid > 0 ? cid : 0);
    assert_int_equal(ver, 1);
    struct st_buf out;
    st_buf_init(&out, 0);
    assert_int_equal(st_buf_append_i32(&out, 0) | st_buf_append_i32(&out, corr), 0);
    if (key == ST_KAFKA_SASL_HANDSHAKE) {
        s->handshakes++;
        int16_t ml = st_rd_i16(body);
        char mech[32] = "";
        snprintf(mech, sizeof(mech), "%.*s", ml, (const char *)body + 2);
        enum st_gw_up_mech m;
        bool ok = st_gw_up_mech_parse(mech, &m) == 0 && (!s->plain_only || m == ST_GW_UP_PLAIN);
        s->mech = ok ? (int)m : -1;
        assert_int_equal(st_buf_append_i16(&out, ok ? 0 : ST_KERR_UNSUPPORTED_SASL_MECHANISM) |
                             st_buf_append_i32(&out, 1) | st_buf_append_i16(&out, 5) |
                             st_buf_append(&out, "PLAIN", 5),
                         0);
        if (ok && m != ST_GW_UP_PLAIN) {
            enum st_scram_mech sm = m == ST_GW_UP_SCRAM_SHA_256 ? ST_SCRAM_SHA256 : ST_SCRAM_SHA512;
            const char *err = NULL;
            assert_int_equal(st_scram_cred_make(sm, s->password, strlen(s->password), NULL, 0, 4096,
                                                &s->cred, &err),
                             0);
            st_scram_server_free(s->scram);
            s->scram = st_scram_server_new(sm, (const uint8_t *)"k", 1);
        }
    } else {
        assert_int_equal(key, ST_KAFKA_SASL_AUTHENTICATE);
        int32_t al = st_rd_i32(body);
        const uint8_t *auth = body + 4;
        struct st_buf reply;
        st_buf_init(&reply, 0);
        bool ok = false, done = false;
        const char *err = NULL;
        if (s->mech == ST_GW_UP_PLAIN) {
            char want[256];
            int wl = snprintf(want, sizeof(want), "%c%s%c%s", 0, s->user, 0, s->password);
            ok = done = al == wl && memcmp(auth, want, (size_t)wl) == 0;
        } else if (s->scram) {
            const char *user = NULL;
            /* First round has the GS2 header; the second is client-final. */
            if (al > 2 && auth[0] == 'n' && auth[1] == ',') {
                ok = st_scram_server_client_first(s->scram, auth, (size_t)al, &user, &err) == 0 &&
                     strcmp(user, s->user) == 0 &&
                     st_scram_server_first(s->scram, &s->cred, NULL, &reply, &err) == 0;
            } else {
                ok = done =
                    st_scram_server_client_final(s->scram, auth, (size_t)al, &reply, &err) == 0;
            }
        }
        s->failed += !ok;
        s->auths_ok += done;
        int16_t ec = ok ? 0 : ST_KERR_SASL_AUTHENTICATION_FAILED;
        const char *msg = "Authentication failed: Invalid username or password";
        assert_int_equal(st_buf_append_i16(&out, ec), 0);
        if (ok)
            assert_int_equal(st_buf_append_i16(&out, -1), 0);
        else
            assert_int_equal(st_buf_append_i16(&out, (int16_t)strlen(msg)) |
                                 st_buf_append(&out, msg, strlen(msg)),
                             0);
        assert_int_equal(st_buf_append_i32(&out, (int32_t)st_buf_used(&reply)) |
                             st_buf_append(&out, st_buf_head(&reply), st_buf_used(&reply)) |
                             st_buf_append_i64(&out, done ? s->lifetime_ms : 0),
                         0);
        st_buf_free(&reply);
    }
    send_frame(s->fd, &out);
    st_buf_free(&out);
    free(f);
}

static struct st_gw_upsec *
make_sec(enum st_gw_up_protocol proto, enum st_gw_up_mech mech, const char *user, const char *pw,
         SSL_CTX *tls)
{
    struct st_gw_upsec *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->refs = 1;
    s->protocol = proto;
    s->mech = mech;
    s->username = user ? strdup(user) : NULL;
    s->password = pw ? strdup(pw) : NULL;
    s->pw_len = pw ? strlen(pw) : 0;
    s->tls = tls;
    s->verify_host = true;
    return s;
}

static void
pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
}

/* Runs the client's SASL exchange against the server; returns the final st_gw_up_step result. */
static int
run_sasl(struct st_gw_up *u, struct server *srv, char *why, size_t len)
{
    for (int i = 0; i < 20; i++) {
        int rc = st_gw_up_step(u, why, len);
        if (rc == ST_GW_UP_DONE || rc == ST_GW_UP_FAILED)
            return rc;
        assert_int_equal(rc, ST_GW_UP_WANT_READ);
        server_one(srv);
    }
    fail_msg("SASL exchange did not finish");
    return ST_GW_UP_FAILED;
}

static void
sasl_case(enum st_gw_up_mech mech, const char *client_pw, bool expect_ok, int64_t lifetime)
{
    int sv[2];
    pair(sv);
    struct server srv = {.fd = sv[1],
                         .user = "strait,up=1",
                         .password = "s3cret",
                         .mech = -1,
                         .lifetime_ms = lifetime};
    struct st_gw_upsec *sec =
        make_sec(ST_GW_UP_SASL_PLAINTEXT, mech, "strait,up=1", client_pw, NULL);
    const char *err = NULL;
    struct st_gw_up *u = st_gw_up_new(sec, sv[0], "broker", &err);
    assert_non_null(u);
    st_gw_upsec_unref(sec); /* the session keeps its own reference */
    char why[512] = "";
    int rc = run_sasl(u, &srv, why, sizeof(why));
    if (!expect_ok) {
        assert_int_equal(rc, ST_GW_UP_FAILED);
        assert_non_null(strstr(why, "refused strait's SASL"));
        assert_non_null(strstr(why, "strait,up=1"));
        assert_null(strstr(why, client_pw));
        assert_int_equal(srv.failed, 1);
    } else {
        assert_int_equal(rc, ST_GW_UP_DONE);
        assert_int_equal(srv.auths_ok, 1);
        int64_t now = st_mono_ms();
        assert_false(st_gw_up_reauth_due(u, now));
        if (lifetime) {
            /* Due at 85% of the lifetime; the exchange runs again on the same session. */
            assert_true(st_gw_up_reauth_due(u, now + lifetime));
            assert_int_equal(st_gw_up_reauth(u), 0);
            assert_int_equal(run_sasl(u, &srv, why, sizeof(why)), ST_GW_UP_DONE);
            assert_int_equal(srv.handshakes, 2);
            assert_int_equal(srv.auths_ok, 2);
        } else {
            assert_false(st_gw_up_reauth_due(u, now + 100000000));
        }
        /* Kafka bytes flow afterwards. */
        assert_int_equal(st_gw_up_write(u, "ping", 4), 4);
        char b[4];
        assert_int_equal(read(sv[1], b, 4), 4);
        assert_memory_equal(b, "ping", 4);
    }
    st_gw_up_free(u);
    st_scram_server_free(srv.scram);
    close(sv[0]);
    close(sv[1]);
}

static void
test_scram_sha512(void **state)
{
    sasl_case(ST_GW_UP_SCRAM_SHA_512, "s3cret", true, 0);
}

static void
test_scram_sha256_reauth(void **state)
{
    sasl_case(ST_GW_UP_SCRAM_SHA_256, "s3cret", true, 60000);
}

static void
test_plain_reauth(void **state)
{
    sasl_case(ST_GW_UP_PLAIN, "s3cret", true, 5000);
}

static void
test_wrong_password(void **state)
{
    sasl_case(ST_GW_UP_SCRAM_SHA_512, "wrong-pw", false, 0);
    sasl_case(ST_GW_UP_PLAIN, "wrong-pw", false, 0);
}

static void
test_unsupported_mechanism(void **state)
{
    int sv[2];
    pair(sv);
    struct server srv = {.fd = sv[1], .user = "u", .password = "p", .mech = -1, .plain_only = true};
    struct st_gw_upsec *sec =
        make_sec(ST_GW_UP_SASL_PLAINTEXT, ST_GW_UP_SCRAM_SHA_512, "u", "p", NULL);
    const char *err = NULL;
    struct st_gw_up *u = st_gw_up_new(sec, sv[0], "broker", &err);
    st_gw_upsec_unref(sec);
    char why[512];
    assert_int_equal(run_sasl(u, &srv, why, sizeof(why)), ST_GW_UP_FAILED);
    assert_non_null(strstr(why, "refused SASL mechanism SCRAM-SHA-512"));
    assert_non_null(strstr(why, "it offers: PLAIN"));
    st_gw_up_free(u);
    close(sv[0]);
    close(sv[1]);
}

static void
test_broker_closes(void **state)
{
    int sv[2];
    pair(sv);
    struct st_gw_upsec *sec = make_sec(ST_GW_UP_SASL_PLAINTEXT, ST_GW_UP_PLAIN, "u", "p", NULL);
    const char *err = NULL;
    struct st_gw_up *u = st_gw_up_new(sec, sv[0], "broker", &err);
    st_gw_upsec_unref(sec);
    char why[512];
    assert_int_equal(st_gw_up_step(u, why, sizeof(why)), ST_GW_UP_WANT_READ);
    close(sv[1]);
    assert_int_equal(st_gw_up_step(u, why, sizeof(why)), ST_GW_UP_FAILED);
    assert_non_null(strstr(why, "closed the connection during SASL SaslHandshake"));
    st_gw_up_free(u);
    close(sv[0]);
}

static void
test_parse_names(void **state)
{
    enum st_gw_up_protocol p;
    enum st_gw_up_mech m;
    assert_int_equal(st_gw_up_protocol_parse("sasl_ssl", &p), 0);
    assert_int_equal(p, ST_GW_UP_SASL_SSL);
    assert_string_equal(st_gw_up_protocol_name(p), "SASL_SSL");
    assert_int_equal(st_gw_up_protocol_parse("TLS", &p), -1);
    assert_int_equal(st_gw_up_mech_parse("scram-sha-256", &m), 0);
    assert_int_equal(m, ST_GW_UP_SCRAM_SHA_256);
    assert_int_equal(st_gw_up_mech_parse("GSSAPI", &m), -1);
}

static void
test_password_file(void **state)
{
    char path[] = "/tmp/st-upw-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "pa ss\n", 6), 6);
    close(fd);
    const char *err = NULL;
    char *pw = st_gw_password_file_read(path, &err);
    assert_non_null(pw);
    assert_string_equal(pw, "pa ss");
    st_gw_secret_free(pw);
    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    assert_null(st_gw_password_file_read(path, &err));
    unlink(path);
    assert_null(st_gw_password_file_read(path, &err));
}

/* ---- TLS client against an in-process server */

static char tls_dir[64], other_dir[64];

static int
setup_tls(void **state)
{
    snprintf(tls_dir, sizeof(tls_dir), "/tmp/st-uptls-XXXXXX");
    snprintf(other_dir, sizeof(other_dir), "/tmp/st-uptls2-XXXXXX");
    return mkdtemp(tls_dir) && mkdtemp(other_dir) ? 0 : -1;
}

static void
rm_dir(const char *d)
{
    char p[128];
    const char *names[] = {"ca.pem", "ca.key"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof(p), "%s/%s", d, names[i]);
        unlink(p);
    }
    rmdir(d);
}

static int
teardown_tls(void **state)
{
    rm_dir(tls_dir);
    rm_dir(other_dir);
    return 0;
}

/*
 * Handshakes a client for `host` trusting `client_ca` against a server whose certificate names
 * 127.0.0.1 and broker.test. Returns the client's final step result; `why` on failure.
 */
static int
tls_case(const char *client_ca, const char *host, char *why, size_t len, bool then_kafka)
{
    const char *err = NULL;
    struct st_tls_ca *ca = st_tls_ca_open(tls_dir, &err);
    assert_non_null(ca);
    const char *names[] = {"broker.test", "127.0.0.1"};
    SSL_CTX *sctx = st_tls_server_new(ca, names, 2, NULL, &err);
    assert_non_null(sctx);
    SSL_CTX *cctx = st_tls_client_new(client_ca, NULL, NULL, &err);
    assert_non_null(cctx);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    SSL *srv = SSL_new(sctx);
    SSL_set_fd(srv, sv[1]);
    SSL_set_accept_state(srv);
    struct st_gw_upsec *sec = make_sec(ST_GW_UP_SSL, ST_GW_UP_PLAIN, NULL, NULL, cctx);
    struct st_gw_up *u = st_gw_up_new(sec, sv[0], host, &err);
    assert_non_null(u);
    st_gw_upsec_unref(sec);
    int rc = ST_GW_UP_WANT_WRITE;
    for (int i = 0; i < 200 && rc != ST_GW_UP_DONE && rc != ST_GW_UP_FAILED; i++) {
        rc = st_gw_up_step(u, why, len);
        (void)SSL_do_handshake(srv);
    }
    if (rc == ST_GW_UP_DONE && then_kafka) {
        /* Bytes both ways through the session. */
        char buf[16] = "";
        ssize_t n = -2;
        for (int i = 0; i < 50 && n == -2; i++) {
            n = st_gw_up_write(u, "kafka", 5);
            (void)SSL_do_handshake(srv);
        }
        assert_int_equal(n, 5);
        int r = -1;
        for (int i = 0; i < 50 && r <= 0; i++)
            r = SSL_read(srv, buf, sizeof(buf));
        assert_int_equal(r, 5);
        assert_memory_equal(buf, "kafka", 5);
        assert_int_equal(SSL_write(srv, "reply", 5), 5);
        n = -2;
        for (int i = 0; i < 50 && n == -2; i++)
            n = st_gw_up_read(u, buf, sizeof(buf));
        assert_int_equal(n, 5);
        assert_memory_equal(buf, "reply", 5);
    }
    st_gw_up_free(u);
    SSL_free(srv);
    SSL_CTX_free(sctx);
    st_tls_ca_free(ca);
    close(sv[0]);
    close(sv[1]);
    return rc;
}

static void
test_tls_ok(void **state)
{
    const char *err = NULL;
    struct st_tls_ca *ca = st_tls_ca_open(tls_dir, &err);
    char path[256];
    snprintf(path, sizeof(path), "%s", st_tls_ca_cert_path(ca));
    st_tls_ca_free(ca);
    char why[512] = "";
    assert_int_equal(tls_case(path, "broker.test", why, sizeof(why), true), ST_GW_UP_DONE);
    assert_int_equal(tls_case(path, "127.0.0.1", why, sizeof(why), true), ST_GW_UP_DONE);
}

static void
test_tls_wrong_name(void **state)
{
    const char *err = NULL;
    struct st_tls_ca *ca = st_tls_ca_open(tls_dir, &err);
    char path[256];
    snprintf(path, sizeof(path), "%s", st_tls_ca_cert_path(ca));
    st_tls_ca_free(ca);
    char why[512] = "";
    assert_int_equal(tls_case(path, "other.test", why, sizeof(why), false), ST_GW_UP_FAILED);
    assert_non_null(strstr(why, "certificate verification"));
    assert_int_equal(tls_case(path, "127.0.0.2", why, sizeof(why), false), ST_GW_UP_FAILED);
    assert_non_null(strstr(why, "certificate verification"));
}

static void
test_tls_wrong_ca(void **state)
{
    const char *err = NULL;
    struct st_tls_ca *other = st_tls_ca_open(other_dir, &err);
    assert_non_null(other);
    char path[256];
    snprintf(path, sizeof(path), "%s", st_tls_ca_cert_path(other));
    st_tls_ca_free(other);
    char why[512] = "";
    assert_int_equal(tls_case(path, "broker.test", why, sizeof(why), false), ST_GW_UP_FAILED);
    assert_non_null(strstr(why, "certificate verification"));
}

static void
test_tls_client_files(void **state)
{
    const char *err = NULL;
    assert_null(st_tls_client_new("/nonexistent/ca.pem", NULL, NULL, &err));
    assert_non_null(strstr(err, "CA file"));
    assert_null(st_tls_client_new(NULL, "/tmp/cert.pem", NULL, &err));
    assert_non_null(strstr(err, "both"));
    SSL_CTX *ctx = st_tls_client_new(NULL, NULL, NULL, &err); /* system store */
    assert_non_null(ctx);
    SSL_CTX_free(ctx);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scram_sha512),
        cmocka_unit_test(test_scram_sha256_reauth),
        cmocka_unit_test(test_plain_reauth),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_unsupported_mechanism),
        cmocka_unit_test(test_broker_closes),
        cmocka_unit_test(test_parse_names),
        cmocka_unit_test(test_password_file),
        cmocka_unit_test(test_tls_ok),
        cmocka_unit_test(test_tls_wrong_name),
        cmocka_unit_test(test_tls_wrong_ca),
        cmocka_unit_test(test_tls_client_files),
    };
    return cmocka_run_group_tests(tests, setup_tls, teardown_tls);
}

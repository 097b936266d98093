/*
 * The gateway's SASL state machine (src/gateway/sasl.c) driven with real client messages from
 * src/auth (SCRAM client, AWS_MSK_IAM and OAUTHBEARER builders) against a fake auth provider:
 * handshake and mechanism selection, SCRAM success/failure (and librdkafka's client-final nonce),
 * AWS_MSK_IAM success with a JSON answer, Connect denial, OAUTHBEARER error challenge, KIP-368
 * re-authentication with the same and another principal, illegal states, the per-address
 * failure limit, and the ApiVersions patch that advertises strait's SASL ranges.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "auth/crypto.h"
#include "auth/encoding.h"
#include "auth/msk_iam.h"
#include "auth/oauthbearer.h"
#include "auth/scram.h"
#include "gateway/internal.h"
#include "util/clock.h"

/* ---- fake provider: one IAM key per principal, one SCRAM user, Connect allowed unless denied */

struct fake_principal {
    const char *akid, *secret, *arn;
};
static const struct fake_principal principals[] = {
    {"AKIAUNITTEST00000001", "unit-secret-1", "arn:aws:iam::444455556666:user/dev"},
    {"AKIAUNITTEST00000002", "unit-secret-2", "arn:aws:iam::444455556666:user/other"},
};
static struct st_scram_cred alice;
static bool deny_connect;

static int
f_lookup(void *ctx, const char *akid, const char *token, size_t token_len,
         struct st_sigv4_secret *out)
{
    for (size_t i = 0; i < 2; i++)
        if (strcmp(akid, principals[i].akid) == 0) {
            memset(out, 0, sizeof(*out));
            out->secret = principals[i].secret;
            out->secret_len = strlen(principals[i].secret);
            out->principal = (void *)&principals[i];
            return 0;
        }
    return -1;
}
static const char *
f_arn(void *ctx, const void *p)
{
    return ((const struct fake_principal *)p)->arn;
}
static int64_t
f_expiry(void *ctx, const void *p)
{
    return 0;
}
/* What the last Connect question carried (the context keys come from it). */
static char connect_source[64], connect_endpoint[64], connect_cluster[128];
static int
f_connect(void *ctx, const void *p, const struct st_gw_authz_req *rq, char *why, size_t n)
{
    snprintf(connect_source, sizeof(connect_source), "%s", rq->source_ip ? rq->source_ip : "");
    snprintf(connect_endpoint, sizeof(connect_endpoint), "%s", rq->endpoint ? rq->endpoint : "");
    snprintf(connect_cluster, sizeof(connect_cluster), "%s", rq->cluster_arn ? rq->cluster_arn : "");
    assert_int_equal(rq->type, ST_KRES_CLUSTER);
    if (!deny_connect)
        return 0;
    snprintf(why, n, "%s may not connect", f_arn(ctx, p));
    return -1;
}
static int
f_scram(void *ctx, const char *cluster, enum st_scram_mech mech, const char *user,
        struct st_scram_cred *out)
{
    if (strcmp(user, "alice") != 0 || mech != ST_SCRAM_SHA512)
        return -1;
    *out = alice;
    return 0;
}
static int unrefs;
static void
f_unref(void *ctx)
{
    unrefs++;
}
static const struct st_gw_auth_provider fake = {f_lookup, f_arn,   f_expiry, f_connect,
                                                f_scram,  f_unref, NULL,     NULL};
static int ctx_token;

/* ---- harness */

struct rig {
    struct st_gw_cluster cluster;
    struct st_gw_endpoint ep;
    struct st_sasl *s;
    char reason[512];
    struct st_sasl_env env;
    struct st_buf out;
    int32_t corr;
};

static void
rig_init(struct rig *r, unsigned scheme, const char *peer_ip)
{
    memset(r, 0, sizeof(*r));
    st_gw_limits_default(&r->cluster.limits);
    r->cluster.auth.scheme = scheme;
    r->cluster.auth.cluster_arn = "arn:aws:kafka:us-east-1:111122223333:cluster/c/u";
    snprintf(r->cluster.auth.region, sizeof(r->cluster.auth.region), "us-east-1");
    r->cluster.auth.ops = &fake;
    r->cluster.auth.ctx = &ctx_token;
    r->s = st_sasl_new();
    assert_non_null(r->s);
    struct st_sasl_env env = {&r->cluster, &r->ep, "127.0.0.9", "127.0.0.1:5",
                              peer_ip,     1,      r->reason,   sizeof(r->reason)};
    r->env = env;
    st_buf_init(&r->out, 0);
}

static void
rig_free(struct rig *r)
{
    st_sasl_free(r->s);
    st_buf_free(&r->out);
}

/* Sends one request (body only); the response frame lands in r->out. */
static enum st_sasl_verdict
req(struct rig *r, int16_t key, int16_t version, const uint8_t *body, size_t len)
{
    struct st_kreq_hdr h;
    memset(&h, 0, sizeof(h));
    h.api_key = key;
    h.api_version = version;
    h.correlation_id = ++r->corr;
    st_buf_reset(&r->out);
    return st_sasl_request(r->s, &r->env, &h, body, len, &r->out);
}

static enum st_sasl_verdict
handshake(struct rig *r, const char *mech, int16_t version)
{
    uint8_t b[64];
    size_t n = strlen(mech);
    st_wr_i16(b, (int16_t)n);
    memcpy(b + 2, mech, n);
    return req(r, ST_KAFKA_SASL_HANDSHAKE, version, b, n + 2);
}

/* SaslAuthenticate v1 with `bytes`. */
static enum st_sasl_verdict
authenticate(struct rig *r, const void *bytes, size_t n)
{
    uint8_t *b = malloc(n + 4);
    st_wr_i32(b, (int32_t)n);
    memcpy(b + 4, bytes, n);
    enum st_sasl_verdict v = req(r, ST_KAFKA_SASL_AUTHENTICATE, 1, b, n + 4);
    free(b);
    return v;
}

/* Response fields of a SaslAuthenticate v1 answer. */
static int16_t
resp_error(struct rig *r)
{
    return st_rd_i16(st_buf_head(&r->out) + 8);
}
static const uint8_t *
resp_bytes(struct rig *r, size_t *n)
{
    const uint8_t *p = st_buf_head(&r->out) + 10; /* size, correlation id, error */
    int16_t ml = st_rd_i16(p);
    p += 2;
    if (ml > 0)
        p += ml;
    *n = (size_t)st_rd_i32(p);
    return p + 4;
}
static bool
resp_msg_has(struct rig *r, const char *needle)
{
    const uint8_t *p = st_buf_head(&r->out) + 8;
    int16_t ml = st_rd_i16(p + 2);
    if (ml <= 0)
        return false;
    char m[1024];
    snprintf(m, sizeof(m), "%.*s", ml, (const char *)p + 4);
    return strstr(m, needle) != NULL;
}

static int
setup(void **state)
{
    const char *err = NULL;
    static const uint8_t salt[16] = "0123456789abcdef";
    assert_int_equal(st_scram_cred_make(ST_SCRAM_SHA512, "alice-secret", 12, salt, sizeof(salt),
                                        4096, &alice, &err),
                     0);
    return 0;
}

/* ---- tests */

static void
test_handshake(void **state)
{
    struct rig r;
    rig_init(&r, ST_GW_AUTH_SASL_IAM, "10.0.0.1");
    assert_int_equal(handshake(&r, "SCRAM-SHA-512", 1), ST_SASL_FAIL);
    assert_int_equal(st_rd_i16(st_buf_head(&r.out) + 8), ST_KERR_UNSUPPORTED_SASL_MECHANISM);
    /* The enabled list is sent with the error: two mechanisms. */
    assert_int_equal(st_rd_i32(st_buf_head(&r.out) + 10), 2);
    assert_non_null(strstr(r.reason, "offers AWS_MSK_IAM"));
    rig_free(&r);

    rig_init(&r, ST_GW_AUTH_SASL_IAM | ST_GW_AUTH_SASL_SCRAM, "10.0.0.1");
    assert_int_equal(handshake(&r, "OAUTHBEARER", 0), ST_SASL_FAIL);
    assert_int_equal(st_rd_i16(st_buf_head(&r.out) + 8), ST_KERR_UNSUPPORTED_VERSION);
    rig_free(&r);

    rig_init(&r, ST_GW_AUTH_SASL_SCRAM, "10.0.0.1");
    assert_true(st_sasl_pre_handshake(r.s));
    /* SaslAuthenticate before SaslHandshake: ILLEGAL_SASL_STATE with a reason, then close. */
    assert_int_equal(authenticate(&r, "x", 1), ST_SASL_FAIL);
    assert_int_equal(resp_error(&r), ST_KERR_ILLEGAL_SASL_STATE);
    assert_true(resp_msg_has(&r, "SASL_AUTHENTICATE during SASL handshake"));
    assert_int_equal(r.cluster.counters.auth_failed, 1);
    rig_free(&r);

    rig_init(&r, ST_GW_AUTH_NONE, "10.0.0.1");
    assert_int_equal(handshake(&r, "SCRAM-SHA-512", 1), ST_SASL_CLOSE);
    rig_free(&r);
}

static void
scram_login(struct rig *r, const char *password, enum st_sasl_verdict want)
{
    struct st_scram_client *c =
        st_scram_client_new(ST_SCRAM_SHA512, "alice", password, strlen(password), NULL);
    struct st_buf m;
    st_buf_init(&m, 0);
    const char *err = NULL;
    assert_int_equal(handshake(r, "SCRAM-SHA-512", 1), ST_SASL_REPLY);
    assert_true(st_sasl_in_exchange(r->s));
    assert_int_equal(st_scram_client_first(c, &m), 0);
    assert_int_equal(authenticate(r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_REPLY);
    size_t n;
    const uint8_t *sf = resp_bytes(r, &n);
    st_buf_reset(&m);
    assert_int_equal(st_scram_client_final(c, sf, n, &m, &err), 0);
    assert_int_equal(authenticate(r, st_buf_head(&m), st_buf_used(&m)), want);
    if (want == ST_SASL_DONE) {
        const uint8_t *fin = resp_bytes(r, &n);
        assert_int_equal(st_scram_client_verify(c, fin, n, &err), 0);
    } else {
        assert_int_equal(resp_error(r), ST_KERR_SASL_AUTHENTICATION_FAILED);
        assert_true(resp_msg_has(r, "invalid credentials with SASL mechanism SCRAM-SHA-512"));
    }
    st_buf_free(&m);
    st_scram_client_free(c);
}

static void
test_scram(void **state)
{
    struct rig r;
    rig_init(&r, ST_GW_AUTH_SASL_SCRAM, "10.0.0.2");
    scram_login(&r, "alice-secret", ST_SASL_DONE);
    assert_string_equal(st_sasl_principal(r.s), "User:alice");
    assert_false(st_sasl_expired(r.s, st_mono_ms() + 3600 * 1000)); /* no lifetime */
    /* KIP-368: re-authentication with the same mechanism and principal. */
    scram_login(&r, "alice-secret", ST_SASL_DONE);
    assert_int_equal(r.cluster.counters.auth_ok, 2);
    rig_free(&r);

    rig_init(&r, ST_GW_AUTH_SASL_SCRAM, "10.0.0.2");
    scram_login(&r, "wrong", ST_SASL_FAIL);
    assert_non_null(strstr(r.reason, "user alice"));
    assert_null(strstr(r.reason, "wrong"));
    rig_free(&r);
}

static void
b64(const uint8_t *in, size_t n, char *out, size_t cap)
{
    assert_true(st_b64_encode(in, n, out, cap) >= 0);
}

/* librdkafka's client-final carries cnonce + (cnonce + snonce); Kafka accepts it. */
static void
test_scram_librdkafka_nonce(void **state)
{
    struct rig r;
    rig_init(&r, ST_GW_AUTH_SASL_SCRAM, "10.0.0.3");
    assert_int_equal(handshake(&r, "SCRAM-SHA-512", 1), ST_SASL_REPLY);
    const char *cnonce = "rdkafka-nonce-0123456789";
    char cfb[128], first[160];
    snprintf(cfb, sizeof(cfb), "n=alice,r=%s", cnonce);
    snprintf(first, sizeof(first), "n,,%s", cfb);
    assert_int_equal(authenticate(&r, first, strlen(first)), ST_SASL_REPLY);
    size_t n;
    const uint8_t *sfp = resp_bytes(&r, &n);
    char sf[512];
    snprintf(sf, sizeof(sf), "%.*s", (int)n, (const char *)sfp);
    const char *comma = strchr(sf, ',');
    char final_wo[512];
    snprintf(final_wo, sizeof(final_wo), "c=biws,r=%s%.*s", cnonce, (int)(comma - sf - 2), sf + 2);
    uint8_t salted[64], ck[64], sk[64], sig[64], proof[64];
    const char *err = NULL;
    assert_int_equal(
        st_pbkdf2(ST_MD_SHA512, "alice-secret", 12, alice.salt, alice.salt_len, 4096, salted), 0);
    assert_int_equal(st_hmac(ST_MD_SHA512, salted, 64, "Client Key", 10, ck), 0);
    assert_int_equal(st_digest(ST_MD_SHA512, ck, 64, sk), 0);
    char am[2048];
    snprintf(am, sizeof(am), "%s,%s,%s", cfb, sf, final_wo);
    assert_int_equal(st_hmac(ST_MD_SHA512, sk, 64, am, strlen(am), sig), 0);
    for (int i = 0; i < 64; i++)
        proof[i] = ck[i] ^ sig[i];
    char pb[100], fin[1024];
    b64(proof, 64, pb, sizeof(pb));
    snprintf(fin, sizeof(fin), "%s,p=%s", final_wo, pb);
    assert_int_equal(authenticate(&r, fin, strlen(fin)), ST_SASL_DONE);
    const uint8_t *v = resp_bytes(&r, &n);
    assert_true(n > 2 && memcmp(v, "v=", 2) == 0);
    (void)err;
    rig_free(&r);
}

static void
iam_payload(const struct fake_principal *p, const char *host, struct st_buf *out)
{
    struct st_sigv4_signing cred = {p->akid, p->secret, NULL, "us-east-1", "kafka-cluster"};
    const char *err = NULL;
    assert_int_equal(st_msk_iam_build(&cred, host, "unit", time(NULL), 900, out, &err), 0);
}

static void
test_iam(void **state)
{
    struct rig r;
    struct st_buf m;
    st_buf_init(&m, 0);
    rig_init(&r, ST_GW_AUTH_SASL_IAM, "10.0.0.4");
    deny_connect = false;
    assert_int_equal(handshake(&r, "AWS_MSK_IAM", 1), ST_SASL_REPLY);
    iam_payload(&principals[0], "127.0.0.9", &m);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_DONE);
    size_t n;
    const uint8_t *b = resp_bytes(&r, &n);
    assert_true(n > 0 && memmem(b, n, "\"version\":\"2020_10_22\"", 22) != NULL);
    assert_string_equal(st_sasl_principal(r.s), principals[0].arn);
    /* Connect was asked with the client's address and the endpoint it dialled (aws:SourceIp,
     * aws:SourceVpce come from them, as for every later request). */
    assert_string_equal(connect_source, "10.0.0.4");
    assert_string_equal(connect_endpoint, "127.0.0.9");
    /* SessionLifetimeMs: the signature's remaining lifetime (900 s at most). */
    int64_t life = st_rd_i64(b + n);
    assert_true(life > 0 && life <= 900 * 1000);
    /* Re-authentication as someone else is refused (KIP-368). */
    assert_int_equal(handshake(&r, "AWS_MSK_IAM", 1), ST_SASL_REPLY);
    st_buf_reset(&m);
    iam_payload(&principals[1], "127.0.0.9", &m);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_FAIL);
    assert_true(resp_msg_has(&r, "Cannot change principals"));
    rig_free(&r);

    /* Another host in the payload; then Connect denied. */
    rig_init(&r, ST_GW_AUTH_SASL_IAM, "10.0.0.4");
    assert_int_equal(handshake(&r, "AWS_MSK_IAM", 1), ST_SASL_REPLY);
    st_buf_reset(&m);
    iam_payload(&principals[0], "10.9.9.9", &m);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_FAIL);
    assert_true(resp_msg_has(&r, "Access denied"));
    rig_free(&r);
    rig_init(&r, ST_GW_AUTH_SASL_IAM, "10.0.0.4");
    deny_connect = true;
    assert_int_equal(handshake(&r, "AWS_MSK_IAM", 1), ST_SASL_REPLY);
    st_buf_reset(&m);
    iam_payload(&principals[0], "127.0.0.9", &m);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_FAIL);
    assert_true(resp_msg_has(&r, "may not connect"));
    assert_int_equal(r.cluster.counters.auth_denied, 1);
    deny_connect = false;
    rig_free(&r);
    st_buf_free(&m);
}

/* Out-of-order SASL requests (Kafka's SaslServerAuthenticator / KafkaApis): a second handshake
 * mid-exchange and a SaslAuthenticate after completion get ILLEGAL_SASL_STATE. */
static void
test_illegal_state(void **state)
{
    struct rig r;
    struct st_buf m;
    st_buf_init(&m, 0);
    rig_init(&r, ST_GW_AUTH_SASL_IAM | ST_GW_AUTH_SASL_SCRAM, "10.0.0.6");
    assert_int_equal(handshake(&r, "AWS_MSK_IAM", 1), ST_SASL_REPLY);
    /* A second SaslHandshake before the exchange finished: error 34, no mechanisms, close. */
    assert_int_equal(handshake(&r, "AWS_MSK_IAM", 1), ST_SASL_FAIL);
    assert_int_equal(st_rd_i16(st_buf_head(&r.out) + 8), ST_KERR_ILLEGAL_SASL_STATE);
    assert_int_equal(st_rd_i32(st_buf_head(&r.out) + 10), 0);
    assert_non_null(strstr(r.reason, "SASL_HANDSHAKE during SASL authentication"));
    assert_false(st_sasl_in_exchange(r.s));
    rig_free(&r);

    /* SaslAuthenticate after a completed authentication, without a new handshake: answered
     * ILLEGAL_SASL_STATE; the authenticated connection stays open and can re-authenticate. */
    rig_init(&r, ST_GW_AUTH_SASL_IAM, "10.0.0.6");
    assert_int_equal(handshake(&r, "AWS_MSK_IAM", 1), ST_SASL_REPLY);
    iam_payload(&principals[0], "127.0.0.9", &m);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_DONE);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_REPLY);
    assert_int_equal(resp_error(&r), ST_KERR_ILLEGAL_SASL_STATE);
    assert_true(resp_msg_has(&r, "after successful authentication"));
    assert_string_equal(st_sasl_principal(r.s), principals[0].arn);
    assert_int_equal(handshake(&r, "AWS_MSK_IAM", 1), ST_SASL_REPLY);
    st_buf_reset(&m);
    iam_payload(&principals[0], "127.0.0.9", &m);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_DONE);
    rig_free(&r);
    st_buf_free(&m);
}

static void
test_oauthbearer(void **state)
{
    struct rig r;
    rig_init(&r, ST_GW_AUTH_SASL_IAM, "10.0.0.5");
    struct st_sigv4_signing cred = {principals[0].akid, principals[0].secret, NULL, "us-east-1",
                                    "kafka-cluster"};
    struct st_buf tok, m;
    st_buf_init(&tok, 0);
    st_buf_init(&m, 0);
    const char *err = NULL;
    assert_int_equal(st_oauthbearer_build_token(&cred, NULL, time(NULL), 900, &tok, &err), 0);
    assert_int_equal(
        st_oauthbearer_client_first((const char *)st_buf_head(&tok), st_buf_used(&tok), &m), 0);
    assert_int_equal(handshake(&r, "OAUTHBEARER", 1), ST_SASL_REPLY);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_DONE);
    size_t n;
    resp_bytes(&r, &n);
    assert_int_equal(n, 0); /* empty AuthBytes on success */
    rig_free(&r);

    /* An expired token: error challenge, then 58 after the client's 0x01. */
    rig_init(&r, ST_GW_AUTH_SASL_IAM, "10.0.0.5");
    st_buf_reset(&tok);
    st_buf_reset(&m);
    assert_int_equal(st_oauthbearer_build_token(&cred, NULL, time(NULL) - 3600, 900, &tok, &err),
                     0);
    assert_int_equal(
        st_oauthbearer_client_first((const char *)st_buf_head(&tok), st_buf_used(&tok), &m), 0);
    assert_int_equal(handshake(&r, "OAUTHBEARER", 1), ST_SASL_REPLY);
    assert_int_equal(authenticate(&r, st_buf_head(&m), st_buf_used(&m)), ST_SASL_REPLY);
    assert_int_equal(resp_error(&r), 0);
    const uint8_t *b = resp_bytes(&r, &n);
    assert_non_null(memmem(b, n, "invalid_token", 13));
    assert_int_equal(authenticate(&r, "\x01", 1), ST_SASL_FAIL);
    assert_int_equal(resp_error(&r), ST_KERR_SASL_AUTHENTICATION_FAILED);
    assert_true(resp_msg_has(&r, "expired"));
    rig_free(&r);
    st_buf_free(&tok);
    st_buf_free(&m);
}

static void
test_throttle(void **state)
{
    struct rig r;
    struct st_gw_limits defaults;
    st_gw_limits_default(&defaults);
    uint32_t limit = defaults.auth_fail_limit;
    assert_true(limit > 0);
    for (uint32_t i = 0; i <= limit; i++) {
        rig_init(&r, ST_GW_AUTH_SASL_SCRAM, "10.0.0.66");
        limit = r.cluster.limits.auth_fail_limit;
        enum st_sasl_verdict v = handshake(&r, "SCRAM-SHA-512", 1);
        if (v == ST_SASL_FAIL) {
            /* Refused at the handshake once the address used up its failures. */
            assert_int_equal(st_rd_i16(st_buf_head(&r.out) + 8), ST_KERR_ILLEGAL_SASL_STATE);
            assert_non_null(strstr(r.reason, "too many failed authentications from 10.0.0.66"));
            assert_int_equal(i, limit);
            rig_free(&r);
            /* Another address is not affected. */
            rig_init(&r, ST_GW_AUTH_SASL_SCRAM, "10.0.0.67");
            assert_int_equal(handshake(&r, "SCRAM-SHA-512", 1), ST_SASL_REPLY);
            rig_free(&r);
            return;
        }
        assert_int_equal(v, ST_SASL_REPLY);
        const char *first = "n,,n=mallory,r=abcdefgh";
        assert_int_equal(authenticate(&r, first, strlen(first)), ST_SASL_REPLY);
        assert_int_equal(authenticate(&r, "c=biws,r=x,p=AAAA", 17), ST_SASL_FAIL);
        rig_free(&r);
    }
    fail_msg("never throttled (limit %u)", limit);
}

static void
test_apiversions_patch(void **state)
{
    /* v0 body: error 0, [Produce 0-9, SaslHandshake 0-0] */
    struct st_buf in, out;
    st_buf_init(&in, 0);
    st_buf_init(&out, 0);
    assert_int_equal(st_buf_append_i16(&in, 0) | st_buf_append_i32(&in, 2) |
                         st_buf_append_i16(&in, 0) | st_buf_append_i16(&in, 0) |
                         st_buf_append_i16(&in, 9) | st_buf_append_i16(&in, 17) |
                         st_buf_append_i16(&in, 0) | st_buf_append_i16(&in, 0),
                     0);
    assert_int_equal(st_sasl_patch_apiversions(0, st_buf_head(&in), st_buf_used(&in), &out), 0);
    const uint8_t *p = st_buf_head(&out);
    assert_int_equal(st_rd_i32(p + 2), 3);
    assert_int_equal(st_rd_i16(p + 12), 17);
    assert_int_equal(st_rd_i16(p + 16), 1); /* SaslHandshake max raised to 1 */
    assert_int_equal(st_rd_i16(p + 18), 36);
    assert_int_equal(st_rd_i16(p + 22), 2);
    /* v3 body: error 0, compact [Produce 0-9 + tags], throttle, tags */
    st_buf_reset(&in);
    st_buf_reset(&out);
    assert_int_equal(st_buf_append_i16(&in, 0) | st_buf_append_u8(&in, 2) |
                         st_buf_append_i16(&in, 0) | st_buf_append_i16(&in, 0) |
                         st_buf_append_i16(&in, 9) | st_buf_append_u8(&in, 0) |
                         st_buf_append_i32(&in, 0) | st_buf_append_u8(&in, 0),
                     0);
    assert_int_equal(st_sasl_patch_apiversions(3, st_buf_head(&in), st_buf_used(&in), &out), 0);
    p = st_buf_head(&out);
    assert_int_equal(p[2], 4); /* 3 entries */
    assert_int_equal(st_rd_i16(p + 10), 17);
    assert_int_equal(st_rd_i16(p + 17), 36);
    assert_int_equal(st_buf_used(&out), st_buf_used(&in) + 14);
    /* Truncated bodies are refused. */
    st_buf_reset(&out);
    assert_int_equal(st_sasl_patch_apiversions(3, st_buf_head(&in), 5, &out), -1);
    st_buf_free(&in);
    st_buf_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_scram),
        cmocka_unit_test(test_scram_librdkafka_nonce),
        cmocka_unit_test(test_iam),
        cmocka_unit_test(test_illegal_state),
        cmocka_unit_test(test_oauthbearer),
        cmocka_unit_test(test_throttle),
        cmocka_unit_test(test_apiversions_patch),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}

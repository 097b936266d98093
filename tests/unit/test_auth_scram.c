/*
 * Unit tests for src/auth/scram: the RFC 7677 (S1), RFC 5802 (S2) and project SHA-512 (S3)
 * vectors of msk-client-auth.md §4.4 through both the server and the client, the negative cases
 * listed there, Kafka specifics (authzid, saslname escapes, tokenauth, m=), the unknown-user mock
 * path and the credential text form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/crypto.h"
#include "auth/encoding.h"
#include "auth/scram.h"

#define CNONCE "rOprNGfwEbeRWgbNEkqO"
#define SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="

static const uint8_t mock_key[] = "server-mock-secret";

static void
make_cred(enum st_scram_mech mech, const char *salt_b64, const char *pw, uint32_t it,
          struct st_scram_cred *c)
{
    uint8_t salt[64];
    const char *err = NULL;
    long sl = st_b64_decode(salt_b64, strlen(salt_b64), salt, sizeof(salt), &err);
    assert_true(sl > 0);
    assert_int_equal(st_scram_cred_make(mech, pw, strlen(pw), salt, (size_t)sl, it, c, &err), 0);
}

static void
assert_b64(const uint8_t *p, size_t n, const char *want)
{
    char b[200];
    assert_true(st_b64_encode(p, n, b, sizeof(b)) > 0);
    assert_string_equal(b, want);
}

static void
assert_buf(const struct st_buf *b, const char *want)
{
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
}

/* Runs a full exchange with fixed nonces; checks every message against the vector. */
static void
run_vector(enum st_scram_mech mech, const char *cnonce, const char *snonce, const char *salt_b64,
           const char *server_first, const char *client_final, const char *server_final)
{
    struct st_scram_cred cred;
    make_cred(mech, salt_b64, "pencil", 4096, &cred);
    struct st_scram_client *c = st_scram_client_new(mech, "user", "pencil", 6, cnonce);
    struct st_scram_server *s = st_scram_server_new(mech, mock_key, sizeof(mock_key));
    assert_non_null(c);
    assert_non_null(s);
    struct st_buf m1 = ST_BUF_INIT, m2 = ST_BUF_INIT, m3 = ST_BUF_INIT, m4 = ST_BUF_INIT;
    const char *err = NULL, *user = NULL;
    assert_int_equal(st_scram_client_first(c, &m1), 0);
    char want1[128];
    snprintf(want1, sizeof(want1), "n,,n=user,r=%s", cnonce);
    assert_buf(&m1, want1);
    assert_int_equal(st_scram_server_client_first(s, m1.data, m1.len, &user, &err), 0);
    assert_string_equal(user, "user");
    assert_int_equal(st_scram_server_first(s, &cred, snonce, &m2, &err), 0);
    assert_buf(&m2, server_first);
    assert_int_equal(st_scram_client_final(c, m2.data, m2.len, &m3, &err), 0);
    assert_buf(&m3, client_final);
    assert_int_equal(st_scram_server_client_final(s, m3.data, m3.len, &m4, &err), 0);
    assert_buf(&m4, server_final);
    assert_int_equal(st_scram_client_verify(c, m4.data, m4.len, &err), 0);
    st_buf_free(&m1);
    st_buf_free(&m2);
    st_buf_free(&m3);
    st_buf_free(&m4);
    st_scram_client_free(c);
    st_scram_server_free(s);
}

static void
test_s1_sha256(void **state)
{
    (void)state;
    struct st_scram_cred cred;
    make_cred(ST_SCRAM_SHA256, SALT_B64, "pencil", 4096, &cred);
    assert_b64(cred.stored_key, 32, "WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=");
    assert_b64(cred.server_key, 32, "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=");
    uint8_t salted[32];
    char hex[65];
    assert_int_equal(st_pbkdf2(ST_MD_SHA256, "pencil", 6, cred.salt, cred.salt_len, 4096, salted),
                     0);
    st_hex_encode(salted, 32, hex);
    assert_string_equal(hex, "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d");
    run_vector(ST_SCRAM_SHA256, CNONCE, SNONCE, SALT_B64,
               "r=" CNONCE SNONCE ",s=" SALT_B64 ",i=4096",
               "c=biws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
               "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

static void
test_s2_sha1(void **state)
{
    (void)state;
    run_vector(ST_SCRAM_SHA1, "fyko+d2lbbFgONRv9qkxdawL", "3rfcNHYJY1ZVvWVs7j", "QSXCR+Q6sek8bf92",
               "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
               "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
               "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

static void
test_s3_sha512(void **state)
{
    (void)state;
    struct st_scram_cred cred;
    make_cred(ST_SCRAM_SHA512, SALT_B64, "pencil", 4096, &cred);
    assert_b64(
        cred.stored_key, 64,
        "6AAub3065EYRmyFpM2RNwqK+eGnrkYuEWbXn19LsEmBqzu8QaCXNc1FwpnX9NhH2hK/60dzj9DoO5DvVkOHbvg==");
    assert_b64(
        cred.server_key, 64,
        "jZHbYjC1aHh0/hKbxyBuGFjDrgjgKTT1esA7awWiKcRZ0o/0b1yWEebBeSVkkCFewf91nLDfKF24mvD5nmE6rA==");
    uint8_t salted[64];
    char hex[129];
    assert_int_equal(st_pbkdf2(ST_MD_SHA512, "pencil", 6, cred.salt, cred.salt_len, 4096, salted),
                     0);
    st_hex_encode(salted, 64, hex);
    assert_string_equal(hex,
                        "f16efe1be67f1d09502ebd5ed9262fddffba5a377ab4f0b687e5ed5ba0f50686b8a4ae"
                        "166476da8ab3b951d2fa9238b63998f45461bc33a464814949cec9631d");
    run_vector(ST_SCRAM_SHA512, CNONCE, SNONCE, SALT_B64,
               "r=" CNONCE SNONCE ",s=" SALT_B64 ",i=4096",
               "c=biws,r=" CNONCE SNONCE ",p=gMGXRcevScNtxZ6/"
               "8lQYpGtnsNAc3mGcmNomv+xnoOMw+3R2xNJdMNnzMlTN8PPC6wdp6dybEmDYXYTxwnYPJQ==",
               "v=ZQnYEgWQMFmmsM8aQMF0nDDCy/"
               "AgCzkwk8CmMZYcMg0vSVlKDanekLtifDSeVGT4+5ZxXnJq199RVG2rR7N7Zw==");
}

/*
 * Server side with S1 inputs: feeds `first` then `final` (the server nonce fixed to SNONCE) and
 * returns the result of client-final (or of the first failing step).
 */
static int
server_s1(const char *first, const char *final, const struct st_scram_cred *cred, const char **err)
{
    struct st_scram_cred c;
    if (cred == NULL) {
        make_cred(ST_SCRAM_SHA256, SALT_B64, "pencil", 4096, &c);
        cred = &c;
    }
    struct st_scram_server *s = st_scram_server_new(ST_SCRAM_SHA256, mock_key, sizeof(mock_key));
    struct st_buf out = ST_BUF_INIT;
    const char *user;
    int rc = st_scram_server_client_first(s, (const uint8_t *)first, strlen(first), &user, err);
    if (rc == 0)
        rc = st_scram_server_first(s, cred, SNONCE, &out, err);
    if (rc == 0) {
        st_buf_reset(&out);
        rc = st_scram_server_client_final(s, (const uint8_t *) final, strlen(final), &out, err);
    }
    st_buf_free(&out);
    st_scram_server_free(s);
    return rc;
}

#define S1_FIRST "n,,n=user,r=" CNONCE
#define S1_FINAL "c=biws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="

static void
test_negative(void **state)
{
    (void)state;
    const char *err = NULL;
    assert_int_equal(server_s1(S1_FIRST, S1_FINAL, NULL, &err), 0);
    /* Flipped proof bit (d -> e in the first character). */
    assert_int_equal(
        server_s1(S1_FIRST,
                  "c=biws,r=" CNONCE SNONCE ",p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", NULL,
                  &err),
        -1);
    assert_string_equal(err, "SCRAM: invalid credentials");
    /* Nonce that does not extend the client nonce. */
    assert_int_equal(server_s1(S1_FIRST,
                               "c=biws,r=xOprNGfwEbeRWgbNEkqO" SNONCE
                               ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
                               NULL, &err),
                     -1);
    assert_string_equal(err, "SCRAM: nonce mismatch");
    /* c=eSws ("y,,") against an "n,," header. */
    assert_int_equal(
        server_s1(S1_FIRST,
                  "c=eSws,r=" CNONCE SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", NULL,
                  &err),
        -1);
    assert_string_equal(err, "SCRAM: channel binding does not match GS2 header");
    /* y,, and p= GS2 flags. */
    assert_int_equal(server_s1("y,,n=user,r=" CNONCE, S1_FINAL, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: channel binding is not supported");
    assert_int_equal(server_s1("p=tls-unique,,n=user,r=" CNONCE, S1_FINAL, NULL, &err), -1);
    /* authzid different from the username; equal is fine (but then c= differs from biws). */
    assert_int_equal(server_s1("n,a=other,n=user,r=" CNONCE, S1_FINAL, NULL, &err), -1);
    assert_ptr_equal(err, st_scram_err_authzid);
    assert_int_equal(server_s1("n,a=user,n=user,r=" CNONCE, S1_FINAL, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: channel binding does not match GS2 header");
    /* A bare '=' in the username. */
    assert_int_equal(server_s1("n,,n=us=er,r=" CNONCE, S1_FINAL, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: invalid username");
    assert_int_equal(server_s1("n,,n=,r=" CNONCE, S1_FINAL, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: invalid username");
    /* Stored iteration count below the minimum. */
    struct st_scram_cred low;
    make_cred(ST_SCRAM_SHA256, SALT_B64, "pencil", 4096, &low);
    low.iterations = 4095;
    assert_int_equal(server_s1(S1_FIRST, S1_FINAL, &low, &err), -1);
    assert_string_equal(err, "SCRAM: stored iteration count out of range");
    /* Extensions: unknown ones ignored, tokenauth=true rejected, m= rejected. */
    assert_int_equal(server_s1(S1_FIRST ",x=1", S1_FINAL, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: invalid credentials"); /* AuthMessage changed */
    assert_int_equal(server_s1(S1_FIRST ",tokenauth=true", S1_FINAL, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: delegation token authentication is not supported");
    assert_int_equal(server_s1("n,,m=ext,n=user,r=" CNONCE, S1_FINAL, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: mandatory extension is not supported");
    /* Nonce with a forbidden character, missing r=, proof not last, malformed proof. */
    assert_int_equal(server_s1("n,,n=user,r=a\x01"
                               "b",
                               S1_FINAL, NULL, &err),
                     -1);
    assert_string_equal(err, "SCRAM: invalid client nonce");
    assert_int_equal(server_s1("n,,n=user", S1_FINAL, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: client-first lacks r=");
    assert_int_equal(server_s1(S1_FIRST, S1_FINAL ",x=1", NULL, &err), -1);
    assert_string_equal(err, "SCRAM: proof must be the last attribute");
    assert_int_equal(server_s1(S1_FIRST, "c=biws,r=" CNONCE SNONCE ",p=AAAA", NULL, &err), -1);
    assert_string_equal(err, "SCRAM: malformed proof");
    assert_int_equal(server_s1(S1_FIRST, "c=biws,r=" CNONCE SNONCE, NULL, &err), -1);
    assert_string_equal(err, "SCRAM: client-final lacks p=");
}

static void
test_unknown_user_mock(void **state)
{
    (void)state;
    /* Unknown user: a server-first indistinguishable in shape, a stable salt, failure at the end.
     */
    const char *err = NULL, *user = NULL;
    struct st_buf a = ST_BUF_INIT, b = ST_BUF_INIT, out = ST_BUF_INIT;
    for (int round = 0; round < 2; round++) {
        struct st_scram_server *s =
            st_scram_server_new(ST_SCRAM_SHA512, mock_key, sizeof(mock_key));
        const char *first = "n,,n=ghost,r=abc";
        assert_int_equal(
            st_scram_server_client_first(s, (const uint8_t *)first, strlen(first), &user, &err), 0);
        assert_int_equal(st_scram_server_first(s, NULL, "xyz", round ? &b : &a, &err), 0);
        st_scram_server_free(s);
    }
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len); /* same salt both times */
    assert_non_null(memmem(a.data, a.len, ",i=4096", 7));

    /* A client that knows some password still fails. */
    struct st_scram_client *c = st_scram_client_new(ST_SCRAM_SHA512, "ghost", "pw", 2, "abc");
    struct st_scram_server *s = st_scram_server_new(ST_SCRAM_SHA512, mock_key, sizeof(mock_key));
    struct st_buf m = ST_BUF_INIT;
    assert_int_equal(st_scram_client_first(c, &m), 0);
    assert_int_equal(st_scram_server_client_first(s, m.data, m.len, &user, &err), 0);
    st_buf_reset(&m);
    assert_int_equal(st_scram_server_first(s, NULL, NULL, &m, &err), 0);
    st_buf_reset(&out);
    assert_int_equal(st_scram_client_final(c, m.data, m.len, &out, &err), 0);
    st_buf_reset(&m);
    assert_int_equal(st_scram_server_client_final(s, out.data, out.len, &m, &err), -1);
    assert_string_equal(err, "SCRAM: invalid credentials");
    assert_int_equal(m.len, 0);
    st_scram_client_free(c);
    st_scram_server_free(s);
    st_buf_free(&a);
    st_buf_free(&b);
    st_buf_free(&m);
    st_buf_free(&out);
}

/* Random nonces, an escaped username and a non-ASCII password, both mechanisms. */
static void
roundtrip(enum st_scram_mech mech, const char *user, const char *pw, const char *login_pw, int want)
{
    struct st_scram_cred cred;
    const char *err = NULL, *got_user = NULL;
    assert_int_equal(st_scram_cred_make(mech, pw, strlen(pw), NULL, 0, 4096, &cred, &err), 0);
    assert_int_equal(cred.salt_len, ST_SCRAM_DEFAULT_SALT);
    struct st_scram_client *c = st_scram_client_new(mech, user, login_pw, strlen(login_pw), NULL);
    struct st_scram_server *s = st_scram_server_new(mech, NULL, 0);
    struct st_buf m = ST_BUF_INIT, r = ST_BUF_INIT;
    assert_int_equal(st_scram_client_first(c, &m), 0);
    assert_int_equal(st_scram_server_client_first(s, m.data, m.len, &got_user, &err), 0);
    assert_string_equal(got_user, user);
    assert_int_equal(st_scram_server_first(s, &cred, NULL, &r, &err), 0);
    st_buf_reset(&m);
    assert_int_equal(st_scram_client_final(c, r.data, r.len, &m, &err), 0);
    st_buf_reset(&r);
    int rc = st_scram_server_client_final(s, m.data, m.len, &r, &err);
    assert_int_equal(rc, want);
    if (rc == 0) {
        assert_int_equal(st_scram_client_verify(c, r.data, r.len, &err), 0);
        /* A replayed client-final on a finished exchange is refused. */
        assert_int_equal(st_scram_server_client_final(s, m.data, m.len, &r, &err), -1);
    }
    st_buf_free(&m);
    st_buf_free(&r);
    st_scram_client_free(c);
    st_scram_server_free(s);
}

static void
test_roundtrip(void **state)
{
    (void)state;
    roundtrip(ST_SCRAM_SHA512, "alice", "alice-secret", "alice-secret", 0);
    roundtrip(ST_SCRAM_SHA256, "a,b=c", "p\xc3\xa4ss", "p\xc3\xa4ss", 0);
    roundtrip(ST_SCRAM_SHA512, "bob", "right", "wrong", -1);
}

static void
test_escaping_on_wire(void **state)
{
    (void)state;
    struct st_scram_client *c = st_scram_client_new(ST_SCRAM_SHA512, "a,b=c", "x", 1, "n0nce");
    struct st_buf m = ST_BUF_INIT;
    assert_int_equal(st_scram_client_first(c, &m), 0);
    assert_buf(&m, "n,,n=a=2Cb=3Dc,r=n0nce");
    st_buf_free(&m);
    st_scram_client_free(c);
}

static void
test_cred_text(void **state)
{
    (void)state;
    struct st_scram_cred a, b;
    const char *err = NULL;
    make_cred(ST_SCRAM_SHA512, SALT_B64, "pencil", 8192, &a);
    struct st_buf t = ST_BUF_INIT;
    assert_int_equal(st_scram_cred_format(&a, &t), 0);
    assert_memory_equal(t.data, "SCRAM-SHA-512:8192:" SALT_B64 ":", 19 + 24 + 1);
    assert_int_equal(st_scram_cred_parse((char *)t.data, t.len, &b, &err), 0);
    assert_int_equal(b.mech, a.mech);
    assert_int_equal(b.iterations, 8192);
    assert_int_equal(b.salt_len, a.salt_len);
    assert_memory_equal(b.stored_key, a.stored_key, 64);
    assert_memory_equal(b.server_key, a.server_key, 64);
    const char *bad = "SCRAM-SHA-512:100:" SALT_B64 ":AA==:AA==";
    assert_int_equal(st_scram_cred_parse(bad, strlen(bad), &b, &err), -1);
    assert_string_equal(err, "SCRAM credential: iterations out of range");
    bad = "SCRAM-SHA-512:4096:" SALT_B64 ":AA==:AA==";
    assert_int_equal(st_scram_cred_parse(bad, strlen(bad), &b, &err), -1);
    assert_string_equal(err, "SCRAM credential: bad StoredKey");
    bad = "SCRAM-SHA-1:4096:" SALT_B64 ":AA==:AA==";
    assert_int_equal(st_scram_cred_parse(bad, strlen(bad), &b, &err), -1);
    st_buf_free(&t);
    /* Provisioning limits. */
    assert_int_equal(st_scram_cred_make(ST_SCRAM_SHA512, "x", 1, NULL, 0, 4095, &a, &err), -1);
    assert_int_equal(st_scram_cred_make(ST_SCRAM_SHA512, "x", 1, NULL, 0, 16385, &a, &err), -1);
    enum st_scram_mech m;
    assert_int_equal(st_scram_mech_parse("SCRAM-SHA-512", &m), 0);
    assert_int_equal(m, ST_SCRAM_SHA512);
    assert_int_equal(st_scram_mech_parse("SCRAM-SHA-1", &m), -1);
}

static void
test_client_rejects(void **state)
{
    (void)state;
    const char *err = NULL;
    struct st_buf m = ST_BUF_INIT;
    const char *cases[][2] = {
        {"r=other,s=" SALT_B64 ",i=4096", "SCRAM: server nonce does not extend the client nonce"},
        {"r=abc,s=" SALT_B64 ",i=4096", "SCRAM: server nonce does not extend the client nonce"},
        {"r=abcd,s=" SALT_B64 ",i=1000", "SCRAM: iteration count out of range"},
        {"r=abcd,s=!!!!,i=4096", "SCRAM: bad salt"},
        {"e=unknown-user", "SCRAM: server rejected authentication"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct st_scram_client *c = st_scram_client_new(ST_SCRAM_SHA256, "u", "p", 1, "abc");
        assert_int_equal(st_scram_client_first(c, &m), 0);
        assert_int_equal(
            st_scram_client_final(c, (const uint8_t *)cases[i][0], strlen(cases[i][0]), &m, &err),
            -1);
        assert_string_equal(err, cases[i][1]);
        st_scram_client_free(c);
    }
    st_buf_free(&m);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_s1_sha256),         cmocka_unit_test(test_s2_sha1),
        cmocka_unit_test(test_s3_sha512),         cmocka_unit_test(test_negative),
        cmocka_unit_test(test_unknown_user_mock), cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_escaping_on_wire),  cmocka_unit_test(test_cred_text),
        cmocka_unit_test(test_client_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for src/auth/oauthbearer: the O1 (Python signer), O2 and O3 (captured JS signer)
 * tokens of msk-client-auth.md §3.4 in Kafka's client-first framing, the builder reproducing O1
 * byte for byte, the GS2/kvpair grammar, URL checks and the RFC 7628 error challenge.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/encoding.h"
#include "auth/oauthbearer.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define O1_SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define O1_TOKEN "SESSIONTOKEN/+=EXAMPLE"
#define O3_TOKEN "FwoGZXIvYXdzEXAMPLE//////////sessiontoken=="
#define T_O1 1704164645 /* 20240102T030405Z */
#define T_O2 1795762985 /* 20261127T070305Z */

struct keystore {
    const char *akid;   /* known key */
    const char *secret; /* its secret */
    const char *token;  /* token it requires, or NULL */
};

static int
lookup(void *arg, const char *akid, const char *tok, size_t tok_len, struct st_sigv4_secret *out)
{
    struct keystore *ks = arg;
    (void)tok;
    (void)tok_len;
    if (strcmp(akid, ks->akid) != 0)
        return -1;
    out->secret = ks->secret;
    out->secret_len = strlen(ks->secret);
    out->session_token = ks->token;
    out->session_token_len = ks->token ? strlen(ks->token) : 0;
    out->principal = ks;
    return 0;
}

static struct st_oauthbearer_verifier
verifier(struct keystore *ks)
{
    struct st_oauthbearer_verifier v = {{"us-east-1", "kafka-cluster", ST_SIGV4_DEFAULT_SKEW,
                                         ST_SIGV4_KAFKA_MAX_EXPIRES, lookup, ks},
                                        NULL};
    return v;
}

static char *
read_token(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/auth/%s", ST_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 4096);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 4095, f);
    fclose(f);
    assert_true(n > 0);
    return buf;
}

/* Frames a token as kafkajs does and verifies it. */
static int
verify_token(struct keystore *ks, const char *token, time_t now, struct st_sigv4_identity *id,
             const char **err)
{
    struct st_buf m = ST_BUF_INIT;
    assert_int_equal(st_oauthbearer_client_first(token, strlen(token), &m), 0);
    struct st_oauthbearer_verifier v = verifier(ks);
    int rc = st_oauthbearer_verify(&v, m.data, m.len, now, id, err);
    st_buf_free(&m);
    return rc;
}

static void
test_o1_python(void **state)
{
    (void)state;
    char *tok = read_token("oauth_o1.token");
    struct keystore ks = {"AKIDEXAMPLE", O1_SECRET, O1_TOKEN};
    struct st_sigv4_identity id;
    const char *err = NULL;
    assert_int_equal(verify_token(&ks, tok, T_O1, &id, &err), 0);
    assert_string_equal(id.access_key_id, "AKIDEXAMPLE");
    assert_string_equal(id.session_token, O1_TOKEN);
    assert_int_equal(id.expires_ms, 900000);
    st_sigv4_identity_clear(&id);

    /* The builder reproduces the Python signer's token byte for byte. */
    struct st_sigv4_signing cred = {"AKIDEXAMPLE", O1_SECRET, O1_TOKEN, "us-east-1",
                                    "kafka-cluster"};
    struct st_buf out = ST_BUF_INIT;
    assert_int_equal(st_oauthbearer_build_token(&cred, "aws-msk-iam-sasl-signer-python/1.0.1", T_O1,
                                                900, &out, &err),
                     0);
    assert_int_equal(out.len, strlen(tok));
    assert_memory_equal(out.data, tok, out.len);
    st_buf_free(&out);

    /* Decoded URL as given in the spec. */
    struct st_buf url = ST_BUF_INIT;
    assert_int_equal(st_oauthbearer_token_decode(tok, strlen(tok), &url, &err), 0);
    const char *want_prefix =
        "https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3AConnect"
        "&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F";
    assert_memory_equal(url.data, want_prefix, strlen(want_prefix));
    st_buf_free(&url);

    /* Wrong session token in the store; expired; wrong region served. */
    ks.token = "SESSIONTOKEN/+=EXAMPLF";
    assert_int_equal(verify_token(&ks, tok, T_O1, &id, &err), -1);
    assert_string_equal(err, "security token does not match");
    st_sigv4_identity_clear(&id);
    ks.token = O1_TOKEN;
    assert_int_equal(verify_token(&ks, tok, T_O1 + 901, &id, &err), -1);
    assert_string_equal(err, "request expired");
    st_sigv4_identity_clear(&id);
    free(tok);
}

static void
test_o2_js_captured(void **state)
{
    (void)state;
    char *tok = read_token("oauth_o2.token");
    assert_int_equal(strlen(tok), 523);
    /* The exact AuthBytes kafkajs sent. */
    struct st_buf m = ST_BUF_INIT;
    assert_int_equal(st_oauthbearer_client_first(tok, strlen(tok), &m), 0);
    static const uint8_t head[] = {0x6e, 0x2c, 0x2c, 0x01, 0x61, 0x75, 0x74, 0x68,
                                   0x3d, 0x42, 0x65, 0x61, 0x72, 0x65, 0x72, 0x20};
    assert_memory_equal(m.data, head, sizeof(head));
    assert_memory_equal(m.data + m.len - 2, "\x01\x01", 2);
    struct st_oauthbearer_msg pm;
    const char *err = NULL;
    assert_int_equal(st_oauthbearer_parse(m.data, m.len, &pm, &err), 0);
    assert_null(pm.authzid);
    assert_int_equal(pm.token_len, 523);
    st_buf_free(&m);

    struct keystore ks = {"AKIAIOSFODNN7EXAMPLE", SECRET, NULL};
    struct st_sigv4_identity id;
    assert_int_equal(verify_token(&ks, tok, T_O2, &id, &err), 0);
    /* The library's reported expiry: 1795763885000 ms. */
    assert_int_equal(id.signed_at * 1000 + id.expires_ms, 1795763885000LL);
    st_sigv4_identity_clear(&id);
    /* Unknown key; other region; other expected host. */
    ks.akid = "AKIAOTHER";
    assert_int_equal(verify_token(&ks, tok, T_O2, &id, &err), -1);
    assert_string_equal(err, "unknown access key");
    assert_int_equal(id.status, ST_SIGV4_UNKNOWN_KEY);
    st_sigv4_identity_clear(&id);
    ks.akid = "AKIAIOSFODNN7EXAMPLE";
    assert_int_equal(st_oauthbearer_client_first(tok, strlen(tok), &m), 0);
    struct st_oauthbearer_verifier v = verifier(&ks);
    v.sigv4.region = "eu-west-1";
    assert_int_equal(st_oauthbearer_verify(&v, m.data, m.len, T_O2, &id, &err), -1);
    assert_string_equal(err, "OAUTHBEARER: token is signed for another host");
    st_sigv4_identity_clear(&id);
    v.sigv4.region = "us-east-1";
    v.host = "kafka.us-east-1.example.com";
    assert_int_equal(st_oauthbearer_verify(&v, m.data, m.len, T_O2, &id, &err), -1);
    assert_string_equal(err, "OAUTHBEARER: token is signed for another host");
    st_sigv4_identity_clear(&id);
    st_buf_free(&m);
    free(tok);
}

static void
test_o3_js_temporary(void **state)
{
    (void)state;
    char *tok = read_token("oauth_o3.token");
    struct keystore ks = {"ASIAIOSFODNN7EXAMPLE", SECRET, O3_TOKEN};
    struct st_sigv4_identity id;
    const char *err = NULL;
    assert_int_equal(verify_token(&ks, tok, T_O2, &id, &err), 0);
    assert_int_equal(id.signed_at * 1000 + id.expires_ms, 1795763585000LL);
    assert_int_equal(st_sigv4_remaining_ms(&id, T_O2 + 100), 500000);
    assert_int_equal(st_sigv4_remaining_ms(&id, T_O2 + 700), 0);
    assert_string_equal(id.session_token, O3_TOKEN);
    st_sigv4_identity_clear(&id);
    /* Two-phase: prepare without a lookup, then finish with the resolved temporary key. */
    struct st_buf m = ST_BUF_INIT;
    assert_int_equal(st_oauthbearer_client_first(tok, strlen(tok), &m), 0);
    struct st_oauthbearer_verifier v = verifier(NULL);
    v.sigv4.lookup = NULL;
    struct st_sigv4_pending pd;
    assert_int_equal(st_oauthbearer_prepare(&v, m.data, m.len, T_O2, &id, &pd, &err), 0);
    assert_string_equal(id.access_key_id, "ASIAIOSFODNN7EXAMPLE");
    assert_string_equal(id.session_token, O3_TOKEN);
    struct st_sigv4_secret sec = {SECRET, strlen(SECRET), O3_TOKEN, strlen(O3_TOKEN), &ks};
    assert_int_equal(st_sigv4_finish(&pd, &sec, &id, &err), 0);
    assert_ptr_equal(id.principal, &ks);
    st_sigv4_pending_clear(&pd);
    st_sigv4_identity_clear(&id);
    st_buf_free(&m);
    assert_int_equal(verify_token(&ks, tok, T_O2 + 601, &id, &err), -1);
    assert_string_equal(err, "request expired");
    st_sigv4_identity_clear(&id);
    free(tok);
}

/* Builds a token whose URL is `url` (base64url) and verifies it with the O2 store at T_O2. */
static int
verify_url(const char *url, const char **err)
{
    char tok[4096];
    assert_true(st_b64url_encode((const uint8_t *)url, strlen(url), tok, sizeof(tok)) > 0);
    struct keystore ks = {"AKIAIOSFODNN7EXAMPLE", SECRET, NULL};
    struct st_sigv4_identity id;
    int rc = verify_token(&ks, tok, T_O2, &id, err);
    st_sigv4_identity_clear(&id);
    return rc;
}

#define O2_QUERY                                                                                   \
    "Action=kafka-cluster%3AConnect&User-Agent=aws-msk-iam-sasl-signer-js%2F1.0.3&X-Amz-"          \
    "Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261127%2Fus-east-1%"     \
    "2Fkafka-cluster%2Faws4_request&X-Amz-Date=20261127T070305Z&X-Amz-Expires=900&X-Amz-"          \
    "Signature=c492a93eee5b1fcb8ea423f47d37614c3ad53ff63ad67e17d1a98b8e31d70081&X-Amz-"            \
    "SignedHeaders=host"

static void
test_url_rules(void **state)
{
    (void)state;
    const char *err = NULL;
    assert_int_equal(verify_url("https://kafka.us-east-1.amazonaws.com/?" O2_QUERY, &err), 0);
    /* Parameter order does not matter; User-Agent is excluded wherever it is. */
    assert_int_equal(
        verify_url("https://kafka.us-east-1.amazonaws.com/?X-Amz-SignedHeaders=host&X-Amz-"
                   "Signature=c492a93eee5b1fcb8ea423f47d37614c3ad53ff63ad67e17d1a98b8e31d70081&"
                   "X-Amz-Expires=900&X-Amz-Date=20261127T070305Z&X-Amz-Credential="
                   "AKIAIOSFODNN7EXAMPLE%2F20261127%2Fus-east-1%2Fkafka-cluster%2Faws4_request&"
                   "X-Amz-Algorithm=AWS4-HMAC-SHA256&Action=kafka-cluster:Connect&User-Agent=x+y",
                   &err),
        0);
    /* Duplicated parameters are refused. */
    assert_int_equal(verify_url("https://kafka.us-east-1.amazonaws.com/?X-Amz-SignedHeaders=host&"
                                "User-Agent=other&" O2_QUERY,
                                &err),
                     -1);
    assert_string_equal(err, "duplicate query parameter");
    assert_int_equal(verify_url("http://kafka.us-east-1.amazonaws.com/?" O2_QUERY, &err), -1);
    assert_string_equal(err, "OAUTHBEARER: token URL is not https");
    assert_int_equal(verify_url("https://kafka.us-east-1.amazonaws.com:443/?" O2_QUERY, &err), -1);
    assert_string_equal(err, "OAUTHBEARER: token is signed for another host");
    assert_int_equal(verify_url("https://kafka.us-east-1.amazonaws.com/x?" O2_QUERY, &err), -1);
    assert_string_equal(err, "OAUTHBEARER: token URL path must be /");
    assert_int_equal(verify_url("https://kafka.us-east-1.amazonaws.com?" O2_QUERY, &err), -1);
    assert_string_equal(err, "OAUTHBEARER: token URL path must be /");
    assert_int_equal(verify_url("https://kafka.us-east-1.amazonaws.com/?" O2_QUERY "#f", &err), -1);
    assert_string_equal(err, "OAUTHBEARER: invalid character in token URL");
    assert_int_equal(
        verify_url("https://kafka.us-east-1.amazonaws.com/?Action=kafka-cluster%3ADescribe&"
                   "X-Amz-Date=20261127T070305Z",
                   &err),
        -1);
    assert_string_equal(err, "OAUTHBEARER: Action is not kafka-cluster:Connect");
    assert_int_equal(verify_url("https://kafka.us-east-1.amazonaws.com/?" O2_QUERY "&a=%G1", &err),
                     -1);
    assert_string_equal(err, "invalid percent escape");
    /* An extra signed-over parameter changes the canonical query. */
    assert_int_equal(
        verify_url("https://kafka.us-east-1.amazonaws.com/?" O2_QUERY "&Extra=1", &err), -1);
    assert_string_equal(err, "signature does not match");
}

static int
parse(const char *m, size_t len, struct st_oauthbearer_msg *out, const char **err)
{
    return st_oauthbearer_parse((const uint8_t *)m, len, out, err);
}

#define P(s, o, e) parse(s, sizeof(s) - 1, o, e)

static void
test_framing(void **state)
{
    (void)state;
    struct st_oauthbearer_msg m;
    const char *err = NULL;
    assert_int_equal(P("n,,\x01"
                       "auth=Bearer abc.DEF-_9\x01\x01",
                       &m, &err),
                     0);
    assert_int_equal(m.token_len, 10);
    assert_int_equal(P("n,a=user,\x01"
                       "auth=bearer   tok\x01"
                       "ext=v a\x01\x01",
                       &m, &err),
                     0);
    assert_int_equal(m.authzid_len, 4);
    assert_int_equal(m.n_extensions, 1);
    assert_memory_equal(m.token, "tok", 3);
    static const struct {
        const char *msg;
        size_t len;
        const char *reason;
    } bad[] = {
#define B(s, r) {s, sizeof(s) - 1, r}
        B("y,,\x01"
          "auth=Bearer t\x01\x01",
          "OAUTHBEARER: channel binding is not supported"),
        B("n,\x01"
          "auth=Bearer t\x01\x01",
          "OAUTHBEARER: malformed GS2 header"),
        B("n,,auth=Bearer t\x01\x01", "OAUTHBEARER: missing separator after GS2 header"),
        B("n,,\x01"
          "auth=Bearer t\x01",
          "OAUTHBEARER: message is not terminated"),
        B("n,,\x01"
          "auth=Bearer t\x01\x01x",
          "OAUTHBEARER: trailing bytes after message"),
        B("n,,\x01"
          "auth=Basic t\x01\x01",
          "OAUTHBEARER: auth scheme is not Bearer"),
        B("n,,\x01"
          "auth=Bearer\x01\x01",
          "OAUTHBEARER: malformed auth value"),
        B("n,,\x01"
          "auth=Bearer t=\x01\x01",
          "OAUTHBEARER: malformed bearer token"),
        B("n,,\x01"
          "auth=Bearer \x01\x01",
          "OAUTHBEARER: malformed bearer token"),
        B("n,,\x01"
          "x=1\x01\x01",
          "OAUTHBEARER: missing auth"),
        B("n,,\x01"
          "auth=Bearer t\x01"
          "auth=Bearer u\x01\x01",
          "OAUTHBEARER: duplicate key"),
        B("n,,\x01"
          "a1=v\x01"
          "auth=Bearer t\x01\x01",
          "OAUTHBEARER: malformed key"),
        B("n,,\x01"
          "k=\x01"
          "auth=Bearer t\x01\x01",
          "OAUTHBEARER: malformed value"),
        B("n,,\x01"
          "k=\x7f\x01"
          "auth=Bearer t\x01\x01",
          "OAUTHBEARER: malformed value"),
        B("", "OAUTHBEARER: message size out of range"),
#undef B
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i].msg, bad[i].len, &m, &err);
        if (rc != -1 || strcmp(err, bad[i].reason) != 0)
            fail_msg("case %zu: rc=%d err=%s", i, rc, rc ? err : "");
    }

    /* A non-empty authzid is refused by verify; extensions are ignored. */
    char *tok = read_token("oauth_o2.token");
    struct keystore ks = {"AKIAIOSFODNN7EXAMPLE", SECRET, NULL};
    struct st_oauthbearer_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    char msg[1024];
    int n = snprintf(msg, sizeof(msg),
                     "n,a=alice,\x01"
                     "auth=Bearer %s\x01\x01",
                     tok);
    assert_int_equal(st_oauthbearer_verify(&v, (uint8_t *)msg, (size_t)n, T_O2, &id, &err), -1);
    assert_string_equal(err, "OAUTHBEARER: authorization id is not supported");
    st_sigv4_identity_clear(&id);
    n = snprintf(msg, sizeof(msg),
                 "n,a=,\x01"
                 "auth=Bearer %s\x01"
                 "foo=bar\x01\x01",
                 tok);
    assert_int_equal(st_oauthbearer_verify(&v, (uint8_t *)msg, (size_t)n, T_O2, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    /* A token that is not base64url (a '.' is valid in the grammar but not in base64url). */
    n = snprintf(msg, sizeof(msg),
                 "n,,\x01"
                 "auth=Bearer a.b\x01\x01");
    assert_int_equal(st_oauthbearer_verify(&v, (uint8_t *)msg, (size_t)n, T_O2, &id, &err), -1);
    assert_string_equal(err, "OAUTHBEARER: token is not base64url");
    st_sigv4_identity_clear(&id);
    free(tok);
}

static void
test_responses(void **state)
{
    (void)state;
    struct st_buf b = ST_BUF_INIT;
    assert_int_equal(st_oauthbearer_error_challenge(&b), 0);
    assert_int_equal(b.len, strlen("{\"status\":\"invalid_token\"}"));
    assert_memory_equal(b.data, "{\"status\":\"invalid_token\"}", b.len);
    st_buf_free(&b);
    assert_true(st_oauthbearer_is_error_ack((const uint8_t *)"\x01", 1));
    assert_false(st_oauthbearer_is_error_ack((const uint8_t *)"\x01\x01", 2));
    assert_false(st_oauthbearer_is_error_ack((const uint8_t *)"", 0));
    /* Builder round trip without a token or user agent, and its limits. */
    struct st_sigv4_signing cred = {"AKIAIOSFODNN7EXAMPLE", SECRET, NULL, "us-east-1",
                                    "kafka-cluster"};
    const char *err = NULL;
    assert_int_equal(st_oauthbearer_build_token(&cred, NULL, T_O2, 900, &b, &err), 0);
    assert_int_equal(b.len, strlen((char *)b.data));
    struct keystore ks = {"AKIAIOSFODNN7EXAMPLE", SECRET, NULL};
    struct st_sigv4_identity id;
    char tok[2048];
    memcpy(tok, b.data, b.len);
    tok[b.len] = '\0';
    assert_int_equal(verify_token(&ks, tok, T_O2, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    st_buf_free(&b);
    assert_int_equal(st_oauthbearer_build_token(&cred, NULL, T_O2, 0, &b, &err), -1);
    cred.service = "kafka";
    assert_int_equal(st_oauthbearer_build_token(&cred, NULL, T_O2, 900, &b, &err), -1);
    st_buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_o1_python),       cmocka_unit_test(test_o2_js_captured),
        cmocka_unit_test(test_o3_js_temporary), cmocka_unit_test(test_url_rules),
        cmocka_unit_test(test_framing),         cmocka_unit_test(test_responses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

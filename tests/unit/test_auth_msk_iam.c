/*
 * Unit tests for src/auth/msk_iam: the A1 (kafka-go), A2 and A3 (captured kafkajs payloads)
 * vectors of msk-client-auth.md §2.4, the success response, the payload builder, and every
 * validation failure of §2.3 with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/msk_iam.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define TMP_AKID "ASIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define TOKEN "FwoGZXIvYXdzEXAMPLE//////////sessiontoken=="
#define T_A2 1795762985 /* 20261127T070305Z */
#define A3_HOST "b-1.democluster.abc123.c2.kafka.us-east-1.amazonaws.com"

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

static const char *const hosts[] = {"127.0.0.1", A3_HOST, "localhost"};

static struct st_msk_iam_verifier
verifier(struct keystore *ks)
{
    struct st_msk_iam_verifier v = {{"us-east-1", "kafka-cluster", ST_SIGV4_DEFAULT_SKEW,
                                     ST_SIGV4_KAFKA_MAX_EXPIRES, lookup, ks},
                                    hosts,
                                    3};
    return v;
}

static char *
read_data(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/auth/%s", ST_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 8192);
    assert_non_null(buf);
    *len = fread(buf, 1, 8191, f);
    fclose(f);
    return buf;
}

static void
test_a2_captured(void **state)
{
    (void)state;
    size_t len;
    char *json = read_data("msk_iam_a2.json", &len);
    assert_int_equal(len, 392);
    struct st_msk_iam_payload p;
    const char *err = NULL;
    assert_int_equal(st_msk_iam_parse((uint8_t *)json, len, &p, &err), 0);
    assert_string_equal(p.host, "127.0.0.1");
    assert_string_equal(p.user_agent, "MSK_IAM");
    assert_string_equal(p.expires, "900");
    assert_null(p.security_token);
    struct keystore ks = {AKID, SECRET, NULL};
    struct st_msk_iam_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    assert_int_equal(st_msk_iam_verify(&v, &p, T_A2, &id, &err), 0);
    assert_string_equal(id.access_key_id, AKID);
    assert_string_equal(id.region, "us-east-1");
    assert_int_equal(id.signed_at * 1000 + id.expires_ms, 1795763885000LL);
    assert_ptr_equal(id.principal, &ks);
    st_sigv4_identity_clear(&id);
    /* Expiry edge, then past it. */
    assert_int_equal(st_msk_iam_verify(&v, &p, T_A2 + 900, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    assert_int_equal(st_msk_iam_verify(&v, &p, T_A2 + 901, &id, &err), -1);
    assert_string_equal(err, "request expired");
    assert_int_equal(id.status, ST_SIGV4_EXPIRED);
    st_sigv4_identity_clear(&id);
    /* Listener that does not advertise 127.0.0.1. */
    v.n_hosts = 0;
    assert_int_equal(st_msk_iam_verify(&v, &p, T_A2, &id, &err), -1);
    assert_string_equal(err, "AWS_MSK_IAM: host is not served by this listener");
    st_sigv4_identity_clear(&id);
    v.n_hosts = 3;
    /* Another region served. */
    v.sigv4.region = "eu-west-1";
    assert_int_equal(st_msk_iam_verify(&v, &p, T_A2, &id, &err), -1);
    assert_string_equal(err, "credential scope has the wrong region");
    st_sigv4_identity_clear(&id);
    v.sigv4.region = "us-east-1";
    /* Unknown key and wrong secret. */
    ks.akid = "AKIAOTHER";
    assert_int_equal(st_msk_iam_verify(&v, &p, T_A2, &id, &err), -1);
    assert_string_equal(err, "unknown access key");
    st_sigv4_identity_clear(&id);
    ks.akid = AKID;
    ks.secret = "x";
    assert_int_equal(st_msk_iam_verify(&v, &p, T_A2, &id, &err), -1);
    assert_string_equal(err, "signature does not match");
    st_sigv4_identity_clear(&id);
    st_msk_iam_payload_clear(&p);

    /* Full authenticate on raw bytes with keys re-ordered: same result. */
    ks.secret = SECRET;
    const char *reordered =
        "{\"x-amz-signature\":\"dd0f255ba46ff008876ca2e6e2ec71f7b38dd184061929edd3ff54f1812d1921\","
        "\"x-amz-expires\":\"900\",\"x-amz-signedheaders\":\"host\",\"x-amz-date\":"
        "\"20261127T070305Z\",\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\",\"x-amz-credential\":"
        "\"AKIAIOSFODNN7EXAMPLE/20261127/us-east-1/kafka-cluster/aws4_request\",\"action\":"
        "\"kafka-cluster:Connect\",\"host\":\"127.0.0.1\",\"version\":\"2020_10_22\"}";
    assert_int_equal(
        st_msk_iam_authenticate(&v, (const uint8_t *)reordered, strlen(reordered), T_A2, &id, &err),
        0);
    st_sigv4_identity_clear(&id);
    free(json);
}

static void
test_a3_token(void **state)
{
    (void)state;
    size_t len;
    char *json = read_data("msk_iam_a3.json", &len);
    struct keystore ks = {TMP_AKID, SECRET, TOKEN};
    struct st_msk_iam_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    const char *err = NULL;
    assert_int_equal(st_msk_iam_authenticate(&v, (uint8_t *)json, len, T_A2, &id, &err), 0);
    assert_string_equal(id.session_token, TOKEN);
    assert_string_equal(id.access_key_id, TMP_AKID);
    st_sigv4_identity_clear(&id);
    /* Two-phase: prepare, then finish with the resolved key. */
    struct st_msk_iam_payload p;
    struct st_sigv4_pending pd;
    assert_int_equal(st_msk_iam_parse((uint8_t *)json, len, &p, &err), 0);
    assert_int_equal(st_msk_iam_prepare(&v, &p, T_A2, &id, &pd, &err), 0);
    struct st_sigv4_secret sec = {SECRET, strlen(SECRET), TOKEN, strlen(TOKEN), NULL};
    assert_int_equal(st_sigv4_finish(&pd, &sec, &id, &err), 0);
    sec.session_token = NULL;
    assert_int_equal(st_sigv4_finish(&pd, &sec, &id, &err), -1);
    assert_string_equal(err, "unexpected security token");
    st_sigv4_pending_clear(&pd);
    st_sigv4_identity_clear(&id);
    st_msk_iam_payload_clear(&p);
    /* Host compared case-insensitively. */
    static const char *const upper[] = {"B-1.DEMOCLUSTER.ABC123.C2.KAFKA.US-EAST-1.AMAZONAWS.COM"};
    v.hosts = upper;
    v.n_hosts = 1;
    assert_int_equal(st_msk_iam_authenticate(&v, (uint8_t *)json, len, T_A2, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    /* The store expects no token for this key. */
    ks.token = NULL;
    assert_int_equal(st_msk_iam_authenticate(&v, (uint8_t *)json, len, T_A2, &id, &err), -1);
    assert_string_equal(err, "unexpected security token");
    assert_int_equal(id.status, ST_SIGV4_BAD_TOKEN);
    st_sigv4_identity_clear(&id);
    free(json);
}

static void
test_a1_build(void **state)
{
    (void)state;
    /* kafka-go's vector through the builder: the signature must match. */
    struct st_sigv4_signing cred = {"ACCESS_KEY", "SECRET_KEY", NULL, "us-east-1", "kafka-cluster"};
    struct st_buf out = ST_BUF_INIT;
    const char *err = NULL;
    assert_int_equal(st_msk_iam_build(&cred, "localhost", "kafka-go", 1634216700, 300, &out, &err),
                     0);
    const char *want =
        "{\"version\":\"2020_10_22\",\"host\":\"localhost\",\"user-agent\":\"kafka-go\","
        "\"action\":\"kafka-cluster:Connect\",\"x-amz-credential\":\"ACCESS_KEY/20211014/"
        "us-east-1/kafka-cluster/aws4_request\",\"x-amz-algorithm\":\"AWS4-HMAC-SHA256\","
        "\"x-amz-date\":\"20211014T130500Z\",\"x-amz-signedheaders\":\"host\","
        "\"x-amz-expires\":\"300\",\"x-amz-signature\":"
        "\"6b8d25f9b45b9c7db9da855a49112d80379224153a27fd279c305a5b7940d1a7\"}";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    struct keystore ks = {"ACCESS_KEY", "SECRET_KEY", NULL};
    struct st_msk_iam_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    assert_int_equal(st_msk_iam_authenticate(&v, out.data, out.len, 1634216700, &id, &err), 0);
    assert_int_equal(id.expires_ms, 300000);
    st_sigv4_identity_clear(&id);
    st_buf_free(&out);

    /* Builder with a session token round-trips; builder refuses other services and expiries. */
    struct st_sigv4_signing tcred = {TMP_AKID, SECRET, TOKEN, "us-east-1", "kafka-cluster"};
    assert_int_equal(st_msk_iam_build(&tcred, A3_HOST, NULL, T_A2, 900, &out, &err), 0);
    struct keystore tks = {TMP_AKID, SECRET, TOKEN};
    v = verifier(&tks);
    assert_int_equal(st_msk_iam_authenticate(&v, out.data, out.len, T_A2, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    st_buf_free(&out);
    tcred.service = "kafka";
    assert_int_equal(st_msk_iam_build(&tcred, A3_HOST, NULL, T_A2, 900, &out, &err), -1);
    tcred.service = "kafka-cluster";
    assert_int_equal(st_msk_iam_build(&tcred, A3_HOST, NULL, T_A2, 901, &out, &err), -1);
    st_buf_free(&out);
}

/* Replaces `from` by `to` in the A2 payload and authenticates it. */
static int
a2_modified(const char *from, const char *to, const char **err)
{
    size_t len;
    char *json = read_data("msk_iam_a2.json", &len);
    char buf[1024];
    char *at = strstr(json, from);
    assert_non_null(at);
    int n = snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - json), json, to, at + strlen(from));
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    struct keystore ks = {AKID, SECRET, NULL};
    struct st_msk_iam_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    int rc = st_msk_iam_authenticate(&v, (uint8_t *)buf, (size_t)n, T_A2, &id, err);
    st_sigv4_identity_clear(&id);
    free(json);
    return rc;
}

static void
test_rejections(void **state)
{
    (void)state;
    const char *err = NULL;
    static const struct {
        const char *from, *to, *reason;
    } cases[] = {
        {"\"2020_10_22\"", "\"2020_10_23\"", "AWS_MSK_IAM: unsupported version"},
        {"\"kafka-cluster:Connect\"", "\"kafka-cluster:Describe\"",
         "AWS_MSK_IAM: action is not kafka-cluster:Connect"},
        {"\"AWS4-HMAC-SHA256\"", "\"AWS4-HMAC-SHA1\"",
         "AWS_MSK_IAM: unsupported signature algorithm"},
        {"\"x-amz-signedheaders\":\"host\"", "\"x-amz-signedheaders\":\"host;x-amz-date\"",
         "AWS_MSK_IAM: signed headers must be host"},
        {"\"900\"", "\"0\"", "AWS_MSK_IAM: malformed x-amz-expires"},
        {"\"900\"", "\"900.5\"", "AWS_MSK_IAM: malformed x-amz-expires"},
        {"\"900\"", "\"901\"", "X-Amz-Expires too large"},
        {"\"900\"", "\"899\"", "signature does not match"},
        {"\"127.0.0.1\"", "\"127.0.0.1:9098\"", "AWS_MSK_IAM: host is not served by this listener"},
        {"\"127.0.0.1\"", "\"localhost\"", "signature does not match"},
        {"/20261127/us-east-1/kafka-cluster/", "/20261127/us-east-1/kafka/",
         "credential scope has the wrong service"},
        {"/20261127/us-east-1/kafka-cluster/", "/20261126/us-east-1/kafka-cluster/",
         "credential scope date does not match X-Amz-Date"},
        {"/aws4_request", "", "credential scope must have 5 parts"},
        {"\"20261127T070305Z\"", "\"20261127T070305\"", "malformed X-Amz-Date"},
        {"\"20261127T070305Z\"", "\"20261127T071000Z\"", "request date is in the future"},
        {"dd0f255ba46ff008876ca2e6e2ec71f7b38dd184061929edd3ff54f1812d1921",
         "dd0f255ba46ff008876ca2e6e2ec71f7b38dd184061929edd3ff54f1812d1922",
         "signature does not match"},
        {"dd0f255ba46ff008876ca2e6e2ec71f7b38dd184061929edd3ff54f1812d1921", "dd0f",
         "malformed signature"},
        {"\"version\":\"2020_10_22\",", "", "AWS_MSK_IAM: payload lacks a required field"},
        {"\"action\":\"kafka-cluster:Connect\",", "",
         "AWS_MSK_IAM: payload lacks a required field"},
        {"\"version\":\"2020_10_22\"", "\"version\":\"2020_10_22\",\"version\":\"2020_10_22\"",
         "AWS_MSK_IAM: payload is not valid JSON (or has duplicate keys)"},
        {"\"MSK_IAM\"", "7", "AWS_MSK_IAM: payload value is not a string"},
        {"\"MSK_IAM\"", "null", "AWS_MSK_IAM: payload value is not a string"},
        {"}", ",}", "AWS_MSK_IAM: payload is not valid JSON (or has duplicate keys)"},
        /* Unknown keys are not signed and are ignored; the user agent is not signed either. */
        {"\"MSK_IAM\"", "\"other-agent\",\"x-extra\":\"1\"", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = a2_modified(cases[i].from, cases[i].to, &err);
        if (cases[i].reason == NULL) {
            assert_int_equal(rc, 0);
        } else {
            if (rc != -1 || strcmp(err, cases[i].reason) != 0)
                fail_msg("case %zu: rc=%d err=%s", i, rc, err);
        }
    }
    /* Not an object, empty, too large. */
    struct keystore ks = {AKID, SECRET, NULL};
    struct st_msk_iam_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    assert_int_equal(st_msk_iam_authenticate(&v, (const uint8_t *)"[]", 2, T_A2, &id, &err), -1);
    assert_string_equal(err, "AWS_MSK_IAM: payload is not a JSON object");
    assert_int_equal(st_msk_iam_authenticate(&v, (const uint8_t *)"", 0, T_A2, &id, &err), -1);
    assert_int_equal(id.status, ST_SIGV4_MALFORMED);
}

static void
test_response(void **state)
{
    (void)state;
    struct st_buf out = ST_BUF_INIT;
    assert_int_equal(st_msk_iam_response("fake-req-0001", &out), 0);
    const char *want = "{\"version\":\"2020_10_22\",\"request-id\":\"fake-req-0001\"}";
    assert_int_equal(out.len, strlen(want));
    assert_memory_equal(out.data, want, out.len);
    st_buf_free(&out);
    assert_int_equal(st_msk_iam_response("bad\"id", &out), -1);
    assert_int_equal(st_msk_iam_response("", &out), -1);
    st_buf_free(&out);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a2_captured), cmocka_unit_test(test_a3_token),
        cmocka_unit_test(test_a1_build),    cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Unit tests for src/auth/sigv4: the captured @aws-sdk/client-kafka requests of
 * msk-control-api.md §11 (verify and re-sign byte for byte), the presign vector of kafka-go
 * (msk-client-auth.md §2.4 A1), the AWS documentation signing-key example, canonicalization
 * rules and every rejection path with its reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "auth/crypto.h"
#include "auth/encoding.h"
#include "auth/sigv4.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define TOKEN "FwoGZXIvYXdzEXAMPLE//////////sessiontoken=="
#define T_CAPTURE 1795762910 /* 20261127T070150Z */
#define ARN_PATH                                                                                   \
    "/v1/clusters/"                                                                                \
    "arn%3Aaws%3Akafka%3Aus-east-1%3A123456789012%3Acluster%2Fdemo-cluster%2F6f2a1c3e-1111-4c3a-"  \
    "9d0b-0123456789ab-25/policy"
#define ARN_PATH_CANON                                                                             \
    "/v1/clusters/"                                                                                \
    "arn%253Aaws%253Akafka%253Aus-east-1%253A123456789012%253Acluster%252Fdemo-cluster%"           \
    "252F6f2a1c3e-1111-4c3a-9d0b-0123456789ab-25/policy"

/* A one-key credential store for the lookup callback. */
struct keystore {
    const char *akid;   /* known key */
    const char *secret; /* its secret */
    const char *token;  /* token it requires, or NULL */
    int calls;          /* lookups made */
};

static int
lookup(void *arg, const char *akid, const char *tok, size_t tok_len, struct st_sigv4_secret *out)
{
    struct keystore *ks = arg;
    (void)tok;
    (void)tok_len;
    ks->calls++;
    if (strcmp(akid, ks->akid) != 0)
        return -1;
    out->secret = ks->secret;
    out->secret_len = strlen(ks->secret);
    out->session_token = ks->token;
    out->session_token_len = ks->token ? strlen(ks->token) : 0;
    out->principal = ks;
    return 0;
}

#define H(n, v)                                                                                    \
    {                                                                                              \
        n, sizeof(n) - 1, v, sizeof(v) - 1                                                         \
    }

static char *
read_data(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/data/auth/%s", ST_SOURCE_DIR, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(8192);
    assert_non_null(buf);
    *len = fread(buf, 1, 8192, f);
    fclose(f);
    return buf;
}

static struct st_sigv4_verifier
verifier(struct keystore *ks)
{
    struct st_sigv4_verifier v = {"us-east-1", "kafka", ST_SIGV4_DEFAULT_SKEW, 900, lookup, ks};
    return v;
}

/* ---- 11.1 GetClusterPolicy */

static const struct st_sigv4_header get_policy_hdrs[] = {
    H("x-amz-user-agent", "aws-sdk-js/3.1168.0"),
    H("user-agent", "aws-sdk-js/3.1168.0 ua/2.1 os/linux#6.8 lang/js md/nodejs#20.20.2 "
                    "api/kafka#3.1168.0 m/N,E,e"),
    H("host", "127.0.0.1:39057"),
    H("amz-sdk-invocation-id", "4c8b6556-a72a-4872-a5ae-b77ebd42f203"),
    H("amz-sdk-request", "attempt=1; max=3"),
    H("x-amz-date", "20261127T070150Z"),
    H("x-amz-content-sha256", ST_SIGV4_EMPTY_SHA256),
    H("authorization",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/us-east-1/kafka/aws4_request, "
      "SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;host;x-amz-content-sha256;x-amz-date;"
      "x-amz-user-agent, "
      "Signature=d1b13f516882d9652e405d9d44b263f7beb1f70d0ea65acda518e16cdc6246c7"),
    H("Connection", "keep-alive"),
};

static struct st_sigv4_http
get_policy_req(void)
{
    struct st_sigv4_http r = {"GET",
                              ARN_PATH,
                              sizeof(ARN_PATH) - 1,
                              NULL,
                              0,
                              get_policy_hdrs,
                              sizeof(get_policy_hdrs) / sizeof(get_policy_hdrs[0]),
                              NULL,
                              0};
    return r;
}

static void
test_get_policy_canonical(void **state)
{
    (void)state;
    struct st_sigv4_http r = get_policy_req();
    struct st_buf b = ST_BUF_INIT;
    const char *err = NULL;
    const char *sh = "amz-sdk-invocation-id;amz-sdk-request;host;x-amz-content-sha256;x-amz-date;x-"
                     "amz-user-agent";
    assert_int_equal(
        st_sigv4_canonical_request_http(&b, &r, sh, strlen(sh), ST_SIGV4_EMPTY_SHA256, &err), 0);
    const char *want = "GET\n" ARN_PATH_CANON "\n"
                       "\n"
                       "amz-sdk-invocation-id:4c8b6556-a72a-4872-a5ae-b77ebd42f203\n"
                       "amz-sdk-request:attempt=1; max=3\n"
                       "host:127.0.0.1:39057\n"
                       "x-amz-content-sha256:" ST_SIGV4_EMPTY_SHA256 "\n"
                       "x-amz-date:20261127T070150Z\n"
                       "x-amz-user-agent:aws-sdk-js/3.1168.0\n"
                       "\n"
                       "amz-sdk-invocation-id;amz-sdk-request;host;x-amz-content-sha256;x-amz-"
                       "date;x-amz-user-agent\n" ST_SIGV4_EMPTY_SHA256;
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    char hex[65];
    assert_int_equal(st_sigv4_sha256_hex(b.data, b.len, hex), 0);
    assert_string_equal(hex, "07aa94d03adcc070c32e1f34d721fe819fe4939e6248834e7247f148506aa3da");
    st_buf_free(&b);
}

static void
test_get_policy_verify(void **state)
{
    (void)state;
    struct keystore ks = {AKID, SECRET, NULL, 0};
    struct st_sigv4_verifier v = verifier(&ks);
    struct st_sigv4_http r = get_policy_req();
    struct st_sigv4_identity id;
    const char *err = NULL;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), 0);
    assert_int_equal(id.status, ST_SIGV4_OK);
    assert_string_equal(id.access_key_id, AKID);
    assert_string_equal(id.region, "us-east-1");
    assert_string_equal(id.service, "kafka");
    assert_string_equal(id.date, "20261127");
    assert_string_equal(id.amz_date, "20261127T070150Z");
    assert_int_equal(id.signed_at, T_CAPTURE);
    assert_null(id.session_token);
    assert_ptr_equal(id.principal, &ks);
    assert_int_equal(st_sigv4_remaining_ms(&id, T_CAPTURE), -1);
    st_sigv4_identity_clear(&id);

    /* Inside the window on both sides, then just outside. */
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE + 300, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE - 300, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE + 301, &id, &err), -1);
    assert_string_equal(err, "request expired");
    assert_int_equal(id.status, ST_SIGV4_EXPIRED);
    st_sigv4_identity_clear(&id);
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE - 301, &id, &err), -1);
    assert_string_equal(err, "request date is in the future");
    st_sigv4_identity_clear(&id);

    /* Wrong secret: signature mismatch. */
    ks.secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEZ";
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "signature does not match");
    assert_int_equal(id.status, ST_SIGV4_BAD_SIGNATURE);
    assert_null(id.principal);
    st_sigv4_identity_clear(&id);

    /* Unknown key. */
    ks.akid = "AKIAOTHERKEY0000000";
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "unknown access key");
    assert_int_equal(id.status, ST_SIGV4_UNKNOWN_KEY);
    st_sigv4_identity_clear(&id);

    /* Key that requires a session token, request carries none. */
    ks.akid = AKID;
    ks.secret = SECRET;
    ks.token = TOKEN;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "missing security token");
    assert_int_equal(id.status, ST_SIGV4_BAD_TOKEN);
    st_sigv4_identity_clear(&id);

    /* Wrong region and service served. */
    ks.token = NULL;
    v.region = "eu-west-1";
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "credential scope has the wrong region");
    assert_int_equal(id.status, ST_SIGV4_SCOPE);
    st_sigv4_identity_clear(&id);
    v.region = "us-east-1";
    v.service = "kafka-cluster";
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "credential scope has the wrong service");
    st_sigv4_identity_clear(&id);
}

static void
test_two_phase(void **state)
{
    (void)state;
    /* Asynchronous use: prepare without any lookup, resolve the key, then finish. */
    struct st_sigv4_verifier v = {"us-east-1", "kafka", ST_SIGV4_DEFAULT_SKEW, 900, NULL, NULL};
    struct st_sigv4_http r = get_policy_req();
    struct st_sigv4_identity id;
    struct st_sigv4_pending pd;
    const char *err = NULL;
    assert_int_equal(st_sigv4_prepare_http(&v, &r, T_CAPTURE, &id, &pd, &err), 0);
    assert_string_equal(id.access_key_id, AKID);
    int principal = 7;
    struct st_sigv4_secret bad = {"nope", 4, NULL, 0, &principal};
    assert_int_equal(st_sigv4_finish(&pd, &bad, &id, &err), -1);
    assert_string_equal(err, "signature does not match");
    assert_null(id.principal);
    assert_int_equal(st_sigv4_finish(&pd, NULL, &id, &err), -1);
    assert_string_equal(err, "unknown access key");
    struct st_sigv4_secret good = {SECRET, strlen(SECRET), NULL, 0, &principal};
    assert_int_equal(st_sigv4_finish(&pd, &good, &id, &err), 0);
    assert_ptr_equal(id.principal, &principal);
    assert_int_equal(id.status, ST_SIGV4_OK);
    st_sigv4_pending_clear(&pd);
    st_sigv4_identity_clear(&id);
    /* The synchronous form without a lookup fails cleanly. */
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "unknown access key");
    st_sigv4_identity_clear(&id);
    /* A prepare failure leaves nothing to free. */
    assert_int_equal(st_sigv4_prepare_http(&v, &r, T_CAPTURE + 1000, &id, &pd, &err), -1);
    assert_string_equal(err, "request expired");
    st_sigv4_pending_clear(&pd);
    st_sigv4_identity_clear(&id);
}

/* Copies the 11.1 headers with header `idx` replaced (value or name), then verifies. */
static int
verify_modified(size_t idx, const char *name, const char *value, const char **err)
{
    struct st_sigv4_header h[16];
    size_t n = sizeof(get_policy_hdrs) / sizeof(get_policy_hdrs[0]);
    memcpy(h, get_policy_hdrs, sizeof(get_policy_hdrs));
    if (name != NULL) {
        h[idx].name = name;
        h[idx].name_len = strlen(name);
    }
    if (value != NULL) {
        h[idx].value = value;
        h[idx].value_len = strlen(value);
    }
    struct st_sigv4_http r = get_policy_req();
    r.headers = h;
    r.n_headers = n;
    struct keystore ks = {AKID, SECRET, NULL, 0};
    struct st_sigv4_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    int rc = st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, err);
    st_sigv4_identity_clear(&id);
    return rc;
}

static void
test_header_rejections(void **state)
{
    (void)state;
    const char *err = NULL;
    const char *cred = "Credential=AKIAIOSFODNN7EXAMPLE/20261127/us-east-1/kafka/aws4_request";
    char az[512];

    /* Case-insensitive names and extra whitespace in a signed value still verify. */
    assert_int_equal(verify_modified(2, "Host", "  127.0.0.1:39057 ", &err), 0);
    assert_int_equal(verify_modified(4, NULL, "attempt=1;   max=3", &err), 0);
    /* A changed signed header breaks the signature; unsigned ones do not matter. */
    assert_int_equal(verify_modified(2, NULL, "127.0.0.1:39058", &err), -1);
    assert_string_equal(err, "signature does not match");
    assert_int_equal(verify_modified(1, NULL, "curl/8", &err), 0);
    /* Signed header absent from the request. */
    assert_int_equal(verify_modified(3, "x-other", NULL, &err), -1);
    assert_string_equal(err, "signed header missing from request");
    /* Flipped signature digit. */
    snprintf(az, sizeof(az),
             "AWS4-HMAC-SHA256 %s, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;host;"
             "x-amz-content-sha256;x-amz-date;x-amz-user-agent, "
             "Signature=d1b13f516882d9652e405d9d44b263f7beb1f70d0ea65acda518e16cdc6246c8",
             cred);
    assert_int_equal(verify_modified(7, NULL, az, &err), -1);
    assert_string_equal(err, "signature does not match");
    /* Host not signed. */
    snprintf(az, sizeof(az),
             "AWS4-HMAC-SHA256 %s, SignedHeaders=amz-sdk-invocation-id;x-amz-date, Signature=%064d",
             cred, 0);
    assert_int_equal(verify_modified(7, NULL, az, &err), -1);
    assert_string_equal(err, "host is not a signed header");
    /* x-amz-date not signed. */
    snprintf(az, sizeof(az), "AWS4-HMAC-SHA256 %s, SignedHeaders=host, Signature=%064d", cred, 0);
    assert_int_equal(verify_modified(7, NULL, az, &err), -1);
    assert_string_equal(err, "x-amz-date is not a signed header");
    /* Unsorted SignedHeaders. */
    snprintf(az, sizeof(az), "AWS4-HMAC-SHA256 %s, SignedHeaders=x-amz-date;host, Signature=%064d",
             cred, 0);
    assert_int_equal(verify_modified(7, NULL, az, &err), -1);
    assert_string_equal(err, "SignedHeaders not sorted or duplicated");
    /* Malformed signature hex. */
    snprintf(az, sizeof(az), "AWS4-HMAC-SHA256 %s, SignedHeaders=host;x-amz-date, Signature=zz",
             cred);
    assert_int_equal(verify_modified(7, NULL, az, &err), -1);
    assert_string_equal(err, "malformed signature");
    /* Other algorithm. */
    assert_int_equal(verify_modified(7, NULL, "AWS4-HMAC-SHA512 Credential=a", &err), -1);
    assert_string_equal(err, "unsupported signature algorithm");
    /* Missing component. */
    snprintf(az, sizeof(az), "AWS4-HMAC-SHA256 %s, SignedHeaders=host;x-amz-date", cred);
    assert_int_equal(verify_modified(7, NULL, az, &err), -1);
    assert_string_equal(err, "Authorization header lacks Credential, SignedHeaders or Signature");
    /* Scope with 4 parts, and a wrong terminator. */
    assert_int_equal(verify_modified(7, NULL,
                                     "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/kafka, "
                                     "SignedHeaders=host;x-amz-date, Signature=00",
                                     &err),
                     -1);
    assert_string_equal(err, "credential scope must have 5 parts");
    assert_int_equal(verify_modified(7, NULL,
                                     "AWS4-HMAC-SHA256 Credential=AKID/20261127/us-east-1/kafka/"
                                     "aws5_request, SignedHeaders=host;x-amz-date, Signature=00",
                                     &err),
                     -1);
    assert_string_equal(err, "credential scope must end in aws4_request");
    /* Scope date different from X-Amz-Date. */
    assert_int_equal(verify_modified(7, NULL,
                                     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261126/"
                                     "us-east-1/kafka/aws4_request, SignedHeaders=host;x-amz-date, "
                                     "Signature=00",
                                     &err),
                     -1);
    assert_string_equal(err, "credential scope date does not match X-Amz-Date");
    /* Bad dates. */
    assert_int_equal(verify_modified(5, NULL, "20261127T070150", &err), -1);
    assert_string_equal(err, "malformed X-Amz-Date");
    assert_int_equal(verify_modified(5, NULL, "20260230T070150Z", &err), -1);
    assert_string_equal(err, "malformed X-Amz-Date");
    assert_int_equal(verify_modified(5, "x-amz-dat", NULL, &err), -1);
    assert_string_equal(err, "missing X-Amz-Date header");
    /* Payload hash header not matching the (empty) body, and UNSIGNED-PAYLOAD. */
    assert_int_equal(verify_modified(6, NULL, "UNSIGNED-PAYLOAD", &err), -1);
    assert_string_equal(err, "unsigned payload not accepted");
    assert_int_equal(verify_modified(6, NULL,
                                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b"
                                     "856",
                                     &err),
                     -1);
    assert_string_equal(err, "payload hash does not match body");
    /* No Authorization at all, or two of them. */
    assert_int_equal(verify_modified(7, "x-authorization", NULL, &err), -1);
    assert_string_equal(err, "missing Authorization header");
    assert_int_equal(verify_modified(8, "Authorization", NULL, &err), -1);
    assert_string_equal(err, "duplicate Authorization header");
}

/* ---- 11.1b with temporary credentials */

static const struct st_sigv4_header get_policy_tmp_hdrs[] = {
    H("x-amz-user-agent", "aws-sdk-js/3.1168.0"),
    H("host", "127.0.0.1:39057"),
    H("amz-sdk-invocation-id", "fc898adb-5d74-4cd1-915a-454430b3e4df"),
    H("amz-sdk-request", "attempt=1; max=3"),
    H("x-amz-date", "20261127T070150Z"),
    H("x-amz-content-sha256", ST_SIGV4_EMPTY_SHA256),
    H("x-amz-security-token", TOKEN),
    H("authorization",
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/us-east-1/kafka/aws4_request, "
      "SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;host;x-amz-content-sha256;x-amz-date;"
      "x-amz-security-token;x-amz-user-agent, "
      "Signature=2c13976053bfddb6ad508dba8ee51a776b21be02c0d948a8d7ecec8fe60b48b4"),
};

static void
test_get_policy_token(void **state)
{
    (void)state;
    struct keystore ks = {AKID, SECRET, TOKEN, 0};
    struct st_sigv4_verifier v = verifier(&ks);
    struct st_sigv4_http r = {"GET",
                              ARN_PATH,
                              sizeof(ARN_PATH) - 1,
                              NULL,
                              0,
                              get_policy_tmp_hdrs,
                              sizeof(get_policy_tmp_hdrs) / sizeof(get_policy_tmp_hdrs[0]),
                              NULL,
                              0};
    struct st_sigv4_identity id;
    const char *err = NULL;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), 0);
    assert_string_equal(id.session_token, TOKEN);
    assert_int_equal(id.session_token_len, strlen(TOKEN));
    st_sigv4_identity_clear(&id);

    struct st_buf b = ST_BUF_INIT;
    const char *sh = "amz-sdk-invocation-id;amz-sdk-request;host;x-amz-content-sha256;x-amz-date;"
                     "x-amz-security-token;x-amz-user-agent";
    assert_int_equal(
        st_sigv4_canonical_request_http(&b, &r, sh, strlen(sh), ST_SIGV4_EMPTY_SHA256, &err), 0);
    char hex[65];
    assert_int_equal(st_sigv4_sha256_hex(b.data, b.len, hex), 0);
    assert_string_equal(hex, "375c99c486d080d763a5e8df62666892827c943552db3972e10acd41da79b491");
    st_buf_free(&b);

    /* The store expects another token for this key. */
    ks.token = "FwoGZXIvYXdzEXAMPLE//////////sessiontoken=X";
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "security token does not match");
    st_sigv4_identity_clear(&id);
    /* A long-term key must not carry a token. */
    ks.token = NULL;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "unexpected security token");
    assert_int_equal(id.status, ST_SIGV4_BAD_TOKEN);
    st_sigv4_identity_clear(&id);
}

/* ---- 11.2 / 11.3 with bodies */

static void
check_body_request(const char *method, const char *path, const char *body_file, const char *inv,
                   const char *len, const char *sha, const char *sig, const char *sts_hash)
{
    size_t blen;
    char *body = read_data(body_file, &blen);
    assert_int_equal(blen, (size_t)atoi(len));
    char az[512];
    snprintf(az, sizeof(az),
             "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/us-east-1/kafka/"
             "aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;"
             "content-type;host;x-amz-content-sha256;x-amz-date;x-amz-user-agent, Signature=%s",
             sig);
    struct st_sigv4_header h[] = {
        H("content-type", "application/json"),
        {"content-length", 14, len, strlen(len)},
        H("x-amz-user-agent", "aws-sdk-js/3.1168.0"),
        H("host", "127.0.0.1:39057"),
        {"amz-sdk-invocation-id", 21, inv, strlen(inv)},
        H("amz-sdk-request", "attempt=1; max=3"),
        H("x-amz-date", "20261127T070150Z"),
        {"x-amz-content-sha256", 20, sha, strlen(sha)},
        {"authorization", 13, az, strlen(az)},
    };
    size_t nh = sizeof(h) / sizeof(h[0]);
    struct st_sigv4_http r = {method, path, strlen(path), NULL, 0, h, nh, (uint8_t *)body, blen};
    struct keystore ks = {AKID, SECRET, NULL, 0};
    struct st_sigv4_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    const char *err = NULL;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), 0);
    st_sigv4_identity_clear(&id);

    struct st_buf b = ST_BUF_INIT;
    const char *sh = strstr(az, "SignedHeaders=") + 14;
    size_t shl = (size_t)(strchr(sh, ',') - sh);
    assert_int_equal(st_sigv4_canonical_request_http(&b, &r, sh, shl, sha, &err), 0);
    char hex[65];
    assert_int_equal(st_sigv4_sha256_hex(b.data, b.len, hex), 0);
    assert_string_equal(hex, sts_hash);
    st_buf_free(&b);

    /* The signer reproduces the captured Authorization from the same signed headers. */
    struct st_sigv4_signing cred = {AKID, SECRET, NULL, "us-east-1", "kafka"};
    struct st_sigv4_header sh_in[6];
    size_t ns = 0;
    for (size_t i = 0; i < nh; i++) {
        if (strcmp(h[i].name, "x-amz-date") && strcmp(h[i].name, "x-amz-content-sha256") &&
            strcmp(h[i].name, "authorization"))
            sh_in[ns++] = h[i];
    }
    struct st_sigv4_http sr = r;
    sr.headers = sh_in;
    sr.n_headers = ns;
    struct st_sigv4_signed out;
    assert_int_equal(st_sigv4_sign_http(&cred, &sr, T_CAPTURE, &out, &err), 0);
    assert_string_equal((char *)out.authorization.data, az);
    assert_string_equal(out.content_sha256, sha);
    assert_string_equal(out.amz_date, "20261127T070150Z");
    st_sigv4_signed_clear(&out);

    /* One changed body byte: the payload hash no longer matches. */
    body[blen - 2] ^= 1;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "payload hash does not match body");
    assert_int_equal(id.status, ST_SIGV4_BAD_SIGNATURE);
    st_sigv4_identity_clear(&id);
    free(body);
}

static void
test_put_policy(void **state)
{
    (void)state;
    check_body_request("PUT", ARN_PATH, "put_cluster_policy.body",
                       "f7407852-afb4-4111-ac9d-9f84bd35b641", "391",
                       "41d9e4635f3c8d24988f71ebe7f6ed90a626558346997a93a1390a8425835089",
                       "fbd977713af8ace3a86063f56e64d867a3d88acf58967432e532756d5cc0dbbf",
                       "01d8d03b89f3f93a69cd8f85c133ada3529f4fca961c81abc433916c9e258aa8");
}

static void
test_create_vpc_connection(void **state)
{
    (void)state;
    check_body_request("POST", "/v1/vpc-connection", "create_vpc_connection.body",
                       "d44ebd40-ffbc-4224-834c-e161c5737284", "334",
                       "bee41b24fefb58e2e1efabd70f4a08c25149725f3e896910fa8aa2fed5236584",
                       "5b09e9c53e9b8bb621edf7e36503e85f45283ac57905071be56a060c79a89abf",
                       "44dbf7096b722d28527416eea371d26e4990ff61f3e6e92125d1471e78da4b43");
}

/* ---- 11.4 ListVpcConnections: query string */

static void
test_list_vpc_connections(void **state)
{
    (void)state;
    struct st_sigv4_header h[] = {
        H("x-amz-user-agent", "aws-sdk-js/3.1168.0"),
        H("host", "127.0.0.1:39057"),
        H("amz-sdk-invocation-id", "dd78d0bd-cf6e-4a43-9816-2f141c38aec0"),
        H("amz-sdk-request", "attempt=1; max=3"),
        H("x-amz-date", "20261127T070150Z"),
        H("x-amz-content-sha256", ST_SIGV4_EMPTY_SHA256),
        H("authorization",
          "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20261127/us-east-1/kafka/aws4_request, "
          "SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;host;x-amz-content-sha256;x-amz-"
          "date;x-amz-user-agent, "
          "Signature=eba882f31400d49b1a5b98d2b3569cdf2a731b4bf03e6199db8bc9fdba550266"),
    };
    const char *q = "maxResults=10&nextToken=tok%2Fen%2B1%3D";
    struct st_sigv4_http r = {"GET", "/v1/vpc-connections", 19, q, strlen(q), h, 7, NULL, 0};
    struct keystore ks = {AKID, SECRET, NULL, 0};
    struct st_sigv4_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    const char *err = NULL;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), 0);
    st_sigv4_identity_clear(&id);

    struct st_buf b = ST_BUF_INIT;
    const char *sh = "amz-sdk-invocation-id;amz-sdk-request;host;x-amz-content-sha256;x-amz-date;x-"
                     "amz-user-agent";
    assert_int_equal(
        st_sigv4_canonical_request_http(&b, &r, sh, strlen(sh), ST_SIGV4_EMPTY_SHA256, &err), 0);
    const char *prefix = "GET\n/v1/vpc-connections\nmaxResults=10&nextToken=tok%2Fen%2B1%3D\n"
                         "amz-sdk-invocation-id:";
    assert_memory_equal(b.data, prefix, strlen(prefix));
    char hex[65];
    assert_int_equal(st_sigv4_sha256_hex(b.data, b.len, hex), 0);
    assert_string_equal(hex, "8678b7043ac5a73751eae26733fee61519ca3b7982a172accaa8ab0711a94c38");
    st_buf_free(&b);

    /* Re-ordered query parameters canonicalize identically. */
    const char *q2 = "nextToken=tok%2Fen%2B1%3D&maxResults=10";
    r.query = q2;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    /* A changed value does not. */
    const char *q3 = "maxResults=11&nextToken=tok%2Fen%2B1%3D";
    r.query = q3;
    r.query_len = strlen(q3);
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "signature does not match");
    st_sigv4_identity_clear(&id);

    /* Signer round trip with the same request and a session token. */
    struct st_sigv4_signing cred = {AKID, SECRET, TOKEN, "us-east-1", "kafka"};
    struct st_sigv4_http sr = r;
    sr.query = q;
    sr.query_len = strlen(q);
    sr.headers = h;
    sr.n_headers = 4;
    struct st_sigv4_signed s;
    assert_int_equal(st_sigv4_sign_http(&cred, &sr, T_CAPTURE + 5, &s, &err), 0);
    struct st_sigv4_header vh[8];
    memcpy(vh, h, 4 * sizeof(h[0]));
    vh[4] = (struct st_sigv4_header){"X-Amz-Date", 10, s.amz_date, 16};
    vh[5] = (struct st_sigv4_header){"X-Amz-Content-SHA256", 20, s.content_sha256, 64};
    vh[6] = (struct st_sigv4_header){"X-Amz-Security-Token", 20, TOKEN, strlen(TOKEN)};
    vh[7] = (struct st_sigv4_header){"Authorization", 13, (char *)s.authorization.data,
                                     s.authorization.len};
    sr.headers = vh;
    sr.n_headers = 8;
    ks.token = TOKEN;
    assert_int_equal(st_sigv4_verify_http(&v, &sr, T_CAPTURE + 5, &id, &err), 0);
    assert_string_equal(id.session_token, TOKEN);
    st_sigv4_identity_clear(&id);
    st_sigv4_signed_clear(&s);
    /* The signer refuses requests that already carry SigV4 headers. */
    sr.n_headers = 5;
    assert_int_equal(st_sigv4_sign_http(&cred, &sr, T_CAPTURE, &s, &err), -1);
}

static void
test_get_policy_signer(void **state)
{
    (void)state;
    /* Sign 11.1 without the generated headers; the Authorization must match the capture. */
    struct st_sigv4_header in[] = {get_policy_hdrs[0], get_policy_hdrs[2], get_policy_hdrs[3],
                                   get_policy_hdrs[4]};
    struct st_sigv4_http r = get_policy_req();
    r.headers = in;
    r.n_headers = 4;
    struct st_sigv4_signing cred = {AKID, SECRET, NULL, "us-east-1", "kafka"};
    struct st_sigv4_signed s;
    const char *err = NULL;
    assert_int_equal(st_sigv4_sign_http(&cred, &r, T_CAPTURE, &s, &err), 0);
    assert_string_equal((char *)s.authorization.data, get_policy_hdrs[7].value);
    st_sigv4_signed_clear(&s);
    /* 11.1b: same with the session token. */
    struct st_sigv4_header in2[] = {get_policy_tmp_hdrs[0], get_policy_tmp_hdrs[1],
                                    get_policy_tmp_hdrs[2], get_policy_tmp_hdrs[3]};
    r.headers = in2;
    cred.session_token = TOKEN;
    assert_int_equal(st_sigv4_sign_http(&cred, &r, T_CAPTURE, &s, &err), 0);
    assert_string_equal((char *)s.authorization.data, get_policy_tmp_hdrs[7].value);
    st_sigv4_signed_clear(&s);
    /* No host header: refused. */
    r.headers = in;
    r.n_headers = 1;
    assert_int_equal(st_sigv4_sign_http(&cred, &r, T_CAPTURE, &s, &err), -1);
    assert_string_equal(err, "request has no host header");
}

/* ---- Date header instead of X-Amz-Date, signature computed from the building blocks */

static void
test_date_header(void **state)
{
    (void)state;
    struct st_sigv4_header h[] = {
        H("Host", "kafka.example:8443"),
        H("Date", "Fri, 27 Nov 2026 07:01:50 GMT"),
        {"authorization", 13, NULL, 0},
    };
    struct st_sigv4_http r = {"GET", "/v1/clusters", 12, NULL, 0, h, 3, NULL, 0};
    struct st_buf creq = ST_BUF_INIT;
    const char *err = NULL;
    assert_int_equal(
        st_sigv4_canonical_request_http(&creq, &r, "date;host", 9, ST_SIGV4_EMPTY_SHA256, &err), 0);
    char hash[65], sts[256], sig[65];
    assert_int_equal(st_sigv4_sha256_hex(creq.data, creq.len, hash), 0);
    snprintf(sts, sizeof(sts),
             "AWS4-HMAC-SHA256\n20261127T070150Z\n20261127/us-east-1/kafka/aws4_request\n%s", hash);
    uint8_t key[32], mac[32];
    assert_int_equal(
        st_sigv4_signing_key(SECRET, strlen(SECRET), "20261127", "us-east-1", "kafka", key), 0);
    assert_int_equal(st_hmac(ST_MD_SHA256, key, 32, sts, strlen(sts), mac), 0);
    st_hex_encode(mac, 32, sig);
    st_buf_free(&creq);
    char az[256];
    snprintf(az, sizeof(az),
             "AWS4-HMAC-SHA256 Credential=" AKID "/20261127/us-east-1/kafka/aws4_request, "
             "SignedHeaders=date;host, Signature=%s",
             sig);
    h[2].value = az;
    h[2].value_len = strlen(az);
    struct keystore ks = {AKID, SECRET, NULL, 0};
    struct st_sigv4_verifier v = verifier(&ks);
    struct st_sigv4_identity id;
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), 0);
    assert_string_equal(id.amz_date, "20261127T070150Z");
    assert_int_equal(id.signed_at, T_CAPTURE);
    st_sigv4_identity_clear(&id);
    /* Malformed Date (wrong weekday name, and RFC 850 form). */
    h[1].value = "Fry, 27 Nov 2026 07:01:50 GMT";
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "malformed Date header");
    st_sigv4_identity_clear(&id);
    h[1].value = "Friday, 27-Nov-26 07:01:50 GMT";
    h[1].value_len = strlen(h[1].value);
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "malformed Date header");
    st_sigv4_identity_clear(&id);
    /* Date present but not signed. */
    h[1].value = "Fri, 27 Nov 2026 07:01:50 GMT";
    h[1].value_len = strlen(h[1].value);
    snprintf(az, sizeof(az),
             "AWS4-HMAC-SHA256 Credential=" AKID "/20261127/us-east-1/kafka/aws4_request, "
             "SignedHeaders=host, Signature=%s",
             sig);
    h[2].value_len = strlen(az);
    assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE, &id, &err), -1);
    assert_string_equal(err, "date is not a signed header");
    st_sigv4_identity_clear(&id);
}

/* ---- property: whatever the signer produces, the verifier accepts; any mutation is caught */

static uint32_t
xorshift(uint32_t *st)
{
    uint32_t x = *st;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *st = x;
}

/* Concatenates random tokens from a NULL-terminated list, at most `max - 1` characters. */
static void
random_text(uint32_t *st, const char *const *tok, char *out, size_t max)
{
    size_t nt = 0, n = 0;
    while (tok[nt] != NULL)
        nt++;
    size_t want = xorshift(st) % max;
    out[0] = '\0';
    for (;;) {
        const char *t = tok[xorshift(st) % nt];
        size_t tl = strlen(t);
        if (n + tl >= want || n + tl >= max)
            break;
        memcpy(out + n, t, tl + 1);
        n += tl;
    }
}

static void
test_sign_verify_property(void **state)
{
    (void)state;
    uint32_t st = 0x5eed1234;
    struct keystore ks = {AKID, SECRET, NULL, 0};
    struct st_sigv4_verifier v = verifier(&ks);
    struct st_sigv4_signing cred = {AKID, SECRET, NULL, "us-east-1", "kafka"};
    static const char *const path_alpha[] = {"a",  "Z",   "0",   "-",   ".", "..", "_", "~", "/",
                                             "//", "%3A", "%2F", "%20", "!", "$",  "'", "(", "*",
                                             "+",  ",",   ";",   "=",   ":", "@",  NULL};
    static const char *const query_alpha[] = {"a", "b", "=", "&", "+", "%2B", "%3D", "%2f",
                                              "~", "-", "_", ".", "z", "0",   "9",   NULL};
    static const char *const value_alpha[] = {"a", "b", " ", "  ", "\t", "Z", ";",
                                              "=", ",", ".", "-",  "/",  NULL};
    for (int iter = 0; iter < 300; iter++) {
        char path[64], query[64], v1[32], v2[32], body[48];
        random_text(&st, path_alpha, path + 1, sizeof(path) - 1);
        path[0] = '/';
        random_text(&st, query_alpha, query, sizeof(query));
        random_text(&st, value_alpha, v1, sizeof(v1));
        random_text(&st, value_alpha, v2, sizeof(v2));
        random_text(&st, path_alpha, body, sizeof(body));
        const char *methods[] = {"GET", "PUT", "POST", "DELETE"};
        struct st_sigv4_header h[8] = {
            {"Host", 4, "127.0.0.1:39057", 15},
            {"X-Custom", 8, v1, strlen(v1)},
            {"x-custom", 8, v2, strlen(v2)},
            {"content-type", 12, "application/json", 16},
        };
        struct st_sigv4_http r = {
            methods[iter % 4],     path,        strlen(path), query, strlen(query), h, 4,
            (const uint8_t *)body, strlen(body)};
        if (iter % 3 == 0)
            cred.session_token = TOKEN;
        else
            cred.session_token = NULL;
        ks.token = cred.session_token;
        struct st_sigv4_signed sg;
        const char *err = NULL;
        if (st_sigv4_sign_http(&cred, &r, T_CAPTURE + iter, &sg, &err) != 0)
            fail_msg("iter %d: signer refused: %s", iter, err);
        size_t nh = 4;
        h[nh++] = (struct st_sigv4_header){"X-Amz-Date", 10, sg.amz_date, 16};
        h[nh++] = (struct st_sigv4_header){"X-Amz-Content-Sha256", 20, sg.content_sha256, 64};
        if (cred.session_token != NULL)
            h[nh++] = (struct st_sigv4_header){"X-Amz-Security-Token", 20, TOKEN, strlen(TOKEN)};
        h[nh++] = (struct st_sigv4_header){"Authorization", 13, (char *)sg.authorization.data,
                                           sg.authorization.len};
        r.n_headers = nh;
        struct st_sigv4_identity id;
        if (st_sigv4_verify_http(&v, &r, T_CAPTURE + iter, &id, &err) != 0)
            fail_msg("iter %d: %s (path %s query %s)", iter, err, path, query);
        st_sigv4_identity_clear(&id);
        /* Mutations: method, a signed header value, the body. */
        r.method = iter % 4 == 0 ? "HEAD" : "GET";
        assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE + iter, &id, &err), -1);
        st_sigv4_identity_clear(&id);
        r.method = methods[iter % 4];
        h[3].value = "text/plain";
        h[3].value_len = 10;
        assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE + iter, &id, &err), -1);
        assert_string_equal(err, "signature does not match");
        st_sigv4_identity_clear(&id);
        h[3].value = "application/json";
        h[3].value_len = 16;
        r.body_len = r.body_len ? r.body_len - 1 : 0;
        if (strlen(body) > 0) {
            assert_int_equal(st_sigv4_verify_http(&v, &r, T_CAPTURE + iter, &id, &err), -1);
            assert_string_equal(err, "payload hash does not match body");
            st_sigv4_identity_clear(&id);
        }
        st_sigv4_signed_clear(&sg);
    }
}

/* ---- building blocks */

static void
check_uri(const char *in, const char *want)
{
    struct st_buf b = ST_BUF_INIT;
    assert_int_equal(st_sigv4_canonical_uri(&b, in, strlen(in)), 0);
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    st_buf_free(&b);
}

static void
test_canonical_uri(void **state)
{
    (void)state;
    check_uri("", "/");
    check_uri("/", "/");
    check_uri("/v1/vpc-connection", "/v1/vpc-connection");
    check_uri("/api/v2/clusters", "/api/v2/clusters");
    check_uri(ARN_PATH, ARN_PATH_CANON);
    check_uri("/a/./b/../c//d/", "/a/c/d/");
    check_uri("/../..", "/");
    check_uri("/a b~c", "/a%20b~c");
    check_uri("//x//", "/x/");
}

static void
check_query(const char *in, const char *want)
{
    struct st_buf b = ST_BUF_INIT;
    const char *err = NULL;
    assert_int_equal(st_sigv4_canonical_query(&b, in, strlen(in), &err), 0);
    assert_int_equal(b.len, strlen(want));
    if (b.len)
        assert_memory_equal(b.data, want, b.len);
    st_buf_free(&b);
}

static void
test_canonical_query(void **state)
{
    (void)state;
    check_query("maxResults=10&nextToken=tok%2Fen%2B1%3D",
                "maxResults=10&nextToken=tok%2Fen%2B1%3D");
    check_query("b=2&a=1&a=0", "a=0&a=1&b=2");
    check_query("flag&x=a+b", "flag=&x=a%20b");
    check_query("a=%7e&&c=%41", "a=~&c=A");
    check_query("", "");
    struct st_buf b = ST_BUF_INIT;
    const char *err = NULL;
    assert_int_equal(st_sigv4_canonical_query(&b, "a=%4", 4, &err), -1);
    assert_int_equal(st_sigv4_canonical_query(&b, "a=%zz", 5, &err), -1);
    st_buf_free(&b);
}

static void
test_dates(void **state)
{
    (void)state;
    int64_t t;
    assert_int_equal(st_sigv4_parse_amz_date("20261127T070150Z", 16, &t), 0);
    assert_int_equal(t, T_CAPTURE);
    assert_int_equal(st_sigv4_parse_amz_date("20240229T235959Z", 16, &t), 0);
    assert_int_equal(t, 1709251199);
    assert_int_equal(st_sigv4_parse_amz_date("20230229T000000Z", 16, &t), -1);
    assert_int_equal(st_sigv4_parse_amz_date("20231301T000000Z", 16, &t), -1);
    assert_int_equal(st_sigv4_parse_amz_date("20231201T240000Z", 16, &t), -1);
    assert_int_equal(st_sigv4_parse_amz_date("2023120 T000000Z", 16, &t), -1);
    assert_int_equal(st_sigv4_parse_amz_date("20231201 000000Z", 16, &t), -1);
    char out[17];
    st_sigv4_format_amz_date(T_CAPTURE, out);
    assert_string_equal(out, "20261127T070150Z");
    st_sigv4_format_amz_date(0, out);
    assert_string_equal(out, "19700101T000000Z");
    st_sigv4_format_amz_date(1709251199, out);
    assert_string_equal(out, "20240229T235959Z");
}

static void
test_signing_key(void **state)
{
    (void)state;
    /* AWS General Reference example (derive a signing key, IAM, 2012-02-15). */
    uint8_t key[32];
    char hex[65];
    const char *secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
    assert_int_equal(
        st_sigv4_signing_key(secret, strlen(secret), "20120215", "us-east-1", "iam", key), 0);
    st_hex_encode(key, 32, hex);
    assert_string_equal(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

static void
test_parse_authorization(void **state)
{
    (void)state;
    struct st_sigv4_authz az;
    const char *err = NULL;
    const char *s = "AWS4-HMAC-SHA256 Signature=ab,Credential=A/20200101/r/s/aws4_request,  "
                    "SignedHeaders=host";
    assert_int_equal(st_sigv4_parse_authorization(s, strlen(s), &az, &err), 0);
    assert_int_equal(az.signature_len, 2);
    assert_memory_equal(az.signed_headers, "host", 4);
    s = "AWS4-HMAC-SHA256 Signature=ab, Signature=cd, Credential=x, SignedHeaders=host";
    assert_int_equal(st_sigv4_parse_authorization(s, strlen(s), &az, &err), -1);
    assert_string_equal(err, "duplicate component in Authorization header");
    s = "AWS4-HMAC-SHA256 Signature=ab, Foo=cd, Credential=x, SignedHeaders=host";
    assert_int_equal(st_sigv4_parse_authorization(s, strlen(s), &az, &err), -1);
    assert_string_equal(err, "unknown component in Authorization header");
    s = "AWS4-HMAC-SHA256";
    assert_int_equal(st_sigv4_parse_authorization(s, strlen(s), &az, &err), -1);
    s = "AWS4-HMAC-SHA256 Signature=ab cd, Credential=x, SignedHeaders=host";
    assert_int_equal(st_sigv4_parse_authorization(s, strlen(s), &az, &err), -1);
    assert_string_equal(err, "malformed Authorization header");
}

/* ---- query form: kafka-go msk_iam_test.go vector (A1) */

static void
test_presign_kafka_go(void **state)
{
    (void)state;
    struct st_sigv4_signing cred = {"ACCESS_KEY", "SECRET_KEY", NULL, "us-east-1", "kafka-cluster"};
    struct st_sigv4_param action = {"Action", 6, "kafka-cluster:Connect", 21};
    struct st_sigv4_presign_result pr;
    const char *err = NULL;
    assert_int_equal(
        st_sigv4_presign(&cred, "localhost", "/", &action, 1, 1634216700, 300, &pr, &err), 0);
    assert_string_equal(pr.signature,
                        "6b8d25f9b45b9c7db9da855a49112d80379224153a27fd279c305a5b7940d1a7");
    assert_string_equal(pr.credential, "ACCESS_KEY/20211014/us-east-1/kafka-cluster/aws4_request");
    assert_string_equal(pr.amz_date, "20211014T130500Z");

    struct st_sigv4_param p[] = {
        {"User-Agent", 10, "kafka-go", 8},
        {"X-Amz-Signature", 15, pr.signature, 64},
        {"X-Amz-Expires", 13, "300", 3},
        {"X-Amz-SignedHeaders", 19, "host", 4},
        {"X-Amz-Date", 10, pr.amz_date, 16},
        {"X-Amz-Credential", 16, pr.credential, strlen(pr.credential)},
        {"X-Amz-Algorithm", 15, "AWS4-HMAC-SHA256", 16},
        {"Action", 6, "kafka-cluster:Connect", 21},
    };
    struct st_sigv4_presigned ps = {"localhost", 9, "/", 1, p, 8, true};
    struct keystore ks = {"ACCESS_KEY", "SECRET_KEY", NULL, 0};
    struct st_sigv4_verifier v = {"us-east-1", "kafka-cluster", 300, 900, lookup, &ks};
    struct st_sigv4_identity id;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), 0);
    assert_int_equal(id.expires_ms, 300000);
    assert_string_equal(id.access_key_id, "ACCESS_KEY");
    st_sigv4_identity_clear(&id);
    /* Last valid second, first expired one; too far in the future. */
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700 + 300, &id, &err), 0);
    st_sigv4_identity_clear(&id);
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700 + 301, &id, &err), -1);
    assert_string_equal(err, "request expired");
    st_sigv4_identity_clear(&id);
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700 - 301, &id, &err), -1);
    assert_string_equal(err, "request date is in the future");
    st_sigv4_identity_clear(&id);
    /* User-Agent is signed when not excluded: the signature no longer matches. */
    ps.exclude_user_agent = false;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), -1);
    assert_string_equal(err, "signature does not match");
    st_sigv4_identity_clear(&id);
    ps.exclude_user_agent = true;
    /* Other host. */
    ps.host = "localhost2";
    ps.host_len = 10;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), -1);
    assert_string_equal(err, "signature does not match");
    st_sigv4_identity_clear(&id);
    ps.host = "localhost";
    ps.host_len = 9;
    /* Duplicate parameter. */
    p[0].name = "Action";
    p[0].name_len = 6;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), -1);
    assert_string_equal(err, "duplicate query parameter");
    st_sigv4_identity_clear(&id);
    p[0].name = "User-Agent";
    p[0].name_len = 10;
    /* Expires bounds and format. */
    p[2].value = "901";
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), -1);
    assert_string_equal(err, "X-Amz-Expires too large");
    st_sigv4_identity_clear(&id);
    p[2].value = "0";
    p[2].value_len = 1;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), -1);
    assert_string_equal(err, "malformed X-Amz-Expires");
    st_sigv4_identity_clear(&id);
    p[2].value = "3e2";
    p[2].value_len = 3;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), -1);
    assert_string_equal(err, "malformed X-Amz-Expires");
    st_sigv4_identity_clear(&id);
    p[2].value = "300";
    /* Signed headers other than host. */
    p[3].value = "host;x-amz-date";
    p[3].value_len = 15;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), -1);
    assert_string_equal(err, "X-Amz-SignedHeaders must be host");
    st_sigv4_identity_clear(&id);
    p[3].value = "host";
    p[3].value_len = 4;
    /* Missing signature parameter. */
    ps.n_params = 1;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1634216700, &id, &err), -1);
    assert_string_equal(err, "missing X-Amz-* query parameter");
    st_sigv4_identity_clear(&id);
}

static void
test_presign_fraction_and_token(void **state)
{
    (void)state;
    /* Round trip with a session token; verify a fractional expiry boundary on the verify side. */
    struct st_sigv4_signing cred = {AKID, SECRET, TOKEN, "us-east-1", "kafka-cluster"};
    struct st_sigv4_param action = {"Action", 6, "kafka-cluster:Connect", 21};
    struct st_sigv4_presign_result pr;
    const char *err = NULL;
    assert_int_equal(
        st_sigv4_presign(&cred, "h.example", "/", &action, 1, 1795762985, 600, &pr, &err), 0);
    struct st_sigv4_param p[] = {
        {"Action", 6, "kafka-cluster:Connect", 21},
        {"X-Amz-Algorithm", 15, "AWS4-HMAC-SHA256", 16},
        {"X-Amz-Credential", 16, pr.credential, strlen(pr.credential)},
        {"X-Amz-Date", 10, pr.amz_date, 16},
        {"X-Amz-Expires", 13, "600", 3},
        {"X-Amz-Security-Token", 20, TOKEN, strlen(TOKEN)},
        {"X-Amz-SignedHeaders", 19, "host", 4},
        {"X-Amz-Signature", 15, pr.signature, 64},
    };
    struct st_sigv4_presigned ps = {"h.example", 9, "/", 1, p, 8, true};
    struct keystore ks = {AKID, SECRET, TOKEN, 0};
    struct st_sigv4_verifier v = {"us-east-1", "kafka-cluster", 300, 900, lookup, &ks};
    struct st_sigv4_identity id;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1795762985 + 600, &id, &err), 0);
    assert_string_equal(id.session_token, TOKEN);
    assert_int_equal(id.expires_ms, 600000);
    st_sigv4_identity_clear(&id);
    /* Fractional expiry (JS signer): half a second. Expiry is checked before the signature. */
    p[4].value = "0.5";
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1795762985 + 1, &id, &err), -1);
    assert_string_equal(err, "request expired");
    st_sigv4_identity_clear(&id);
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1795762985, &id, &err), -1);
    assert_string_equal(err, "signature does not match");
    assert_int_equal(id.expires_ms, 500);
    st_sigv4_identity_clear(&id);
    p[4].value = "600";
    /* Dropping the token: the store requires it. */
    p[5] = p[7];
    ps.n_params = 7;
    assert_int_equal(st_sigv4_verify_presigned(&v, &ps, 1795762985, &id, &err), -1);
    assert_string_equal(err, "missing security token");
    st_sigv4_identity_clear(&id);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_policy_canonical),
        cmocka_unit_test(test_get_policy_verify),
        cmocka_unit_test(test_header_rejections),
        cmocka_unit_test(test_two_phase),
        cmocka_unit_test(test_get_policy_token),
        cmocka_unit_test(test_get_policy_signer),
        cmocka_unit_test(test_put_policy),
        cmocka_unit_test(test_create_vpc_connection),
        cmocka_unit_test(test_list_vpc_connections),
        cmocka_unit_test(test_date_header),
        cmocka_unit_test(test_sign_verify_property),
        cmocka_unit_test(test_canonical_uri),
        cmocka_unit_test(test_canonical_query),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_signing_key),
        cmocka_unit_test(test_parse_authorization),
        cmocka_unit_test(test_presign_kafka_go),
        cmocka_unit_test(test_presign_fraction_and_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Fuzz target for the gateway's SASL state machine (src/gateway/sasl.c): the input is a sequence
 * of requests, each [selector u8][length u16 BE][body], where the selector picks SaslHandshake or
 * SaslAuthenticate and its version; the first byte picks the endpoint's schemes. Runs them through
 * st_sasl_request() against a fake provider (one SCRAM user, one IAM key, Connect allowed), and
 * the whole input through st_sasl_patch_apiversions() in the v0 and v3 layouts. Any crash,
 * sanitizer report or response frame whose size prefix disagrees with its length is a bug.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/scram.h"
#include "gateway/internal.h"

static struct st_scram_cred alice;
static int alice_ready;

static int
f_lookup(void *ctx, const char *akid, const char *token, size_t token_len,
         struct st_sigv4_secret *out)
{
    static const char secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    if (strcmp(akid, "AKIAIOSFODNN7EXAMPLE") != 0)
        return -1;
    memset(out, 0, sizeof(*out));
    out->secret = secret;
    out->secret_len = sizeof(secret) - 1;
    out->principal = (void *)secret;
    return 0;
}
static const char *
f_arn(void *ctx, const void *p)
{
    return "arn:aws:iam::111122223333:user/fuzz";
}
static int64_t
f_expiry(void *ctx, const void *p)
{
    return 0;
}
static int
f_connect(void *ctx, const void *p, const struct st_gw_authz_req *rq, char *why, size_t n)
{
    return 0;
}
static int
f_scram(void *ctx, const char *cluster, enum st_scram_mech mech, const char *user,
        struct st_scram_cred *out)
{
    if (!alice_ready || strcmp(user, "alice") != 0 || mech != alice.mech)
        return -1;
    *out = alice;
    return 0;
}
static void
f_unref(void *ctx)
{
}
static const struct st_gw_auth_provider fake = {f_lookup, f_arn,   f_expiry,
                                                f_connect, f_scram, f_unref, NULL, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!alice_ready) {
        static const uint8_t salt[16] = "fuzz-salt-000000";
        const char *err = NULL;
        alice_ready = st_scram_cred_make(ST_SCRAM_SHA512, "alice-secret", 12, salt, sizeof(salt),
                                         4096, &alice, &err) == 0;
    }
    struct st_buf out;
    st_buf_init(&out, 0);
    int prc = st_sasl_patch_apiversions(0, data, size, &out);
    st_buf_reset(&out);
    prc |= st_sasl_patch_apiversions(3, data, size, &out);
    if (prc == 0 && st_buf_used(&out) < size)
        abort(); /* a patched body only ever grows */
    if (size < 1) {
        st_buf_free(&out);
        return 0;
    }
    struct st_gw_cluster cluster;
    struct st_gw_endpoint ep;
    memset(&cluster, 0, sizeof(cluster));
    memset(&ep, 0, sizeof(ep));
    st_gw_limits_default(&cluster.limits);
    cluster.limits.auth_fail_limit = 0; /* no throttling state across inputs */
    cluster.auth.scheme = (data[0] & 7) ? (data[0] & 7) : ST_GW_AUTH_SASL_IAM;
    char arn[] = "arn:aws:kafka:us-east-1:111122223333:cluster/fuzz/u";
    cluster.auth.cluster_arn = arn;
    memcpy(cluster.auth.region, "us-east-1", 10);
    cluster.auth.ops = &fake;
    cluster.auth.ctx = &alice;
    struct st_sasl *s = st_sasl_new();
    char reason[512];
    struct st_sasl_env env = {&cluster, &ep, "127.0.0.1", "127.0.0.1:1", "127.0.0.1", 1,
                              reason,   sizeof(reason)};
    size_t off = 1;
    int32_t corr = 0;
    while (s && size - off >= 3) {
        uint8_t sel = data[off];
        size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
        off += 3;
        if (len > size - off)
            len = size - off;
        struct st_kreq_hdr h;
        memset(&h, 0, sizeof(h));
        h.api_key = (sel & 0x80) ? ST_KAFKA_SASL_HANDSHAKE : ST_KAFKA_SASL_AUTHENTICATE;
        h.api_version = (int16_t)(sel & 3);
        h.correlation_id = ++corr;
        st_buf_reset(&out);
        enum st_sasl_verdict v = st_sasl_request(s, &env, &h, data + off, len, &out);
        off += len;
        if (st_buf_used(&out) && (st_buf_used(&out) < 8 ||
                                  (size_t)st_rd_i32(st_buf_head(&out)) + 4 != st_buf_used(&out)))
            abort();
        if (v == ST_SASL_FAIL || v == ST_SASL_CLOSE)
            break;
    }
    st_sasl_free(s);
    st_buf_free(&out);
    return 0;
}

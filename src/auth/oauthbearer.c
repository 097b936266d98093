/*
 * OAUTHBEARER client-first parsing (Kafka's OAuthBearerClientInitialResponse grammar), MSK IAM
 * token decoding and verification through sigv4, the RFC 7628 error challenge, and a token
 * builder matching the Python signer (see oauthbearer.h).
 */
#include "auth/oauthbearer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/encoding.h"

#define ACTION "kafka-cluster:Connect"

static bool
is_alpha(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool
value_char(uint8_t c)
{
    return (c >= 0x21 && c <= 0x7E) || c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
token_char(uint8_t c)
{
    return is_alpha(c) || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

/* Parses the auth value "<scheme> +<token>". */
static int
parse_auth(const uint8_t *v, size_t n, struct st_oauthbearer_msg *out, const char **err)
{
    size_t i = 0;
    while (i < n && (is_alpha(v[i]) || (v[i] >= '0' && v[i] <= '9') || v[i] == '_'))
        i++;
    if (i != 6 || strncasecmp((const char *)v, "bearer", 6) != 0) {
        *err = "OAUTHBEARER: auth scheme is not Bearer";
        return -1;
    }
    if (i == n || v[i] != ' ') {
        *err = "OAUTHBEARER: malformed auth value";
        return -1;
    }
    while (i < n && v[i] == ' ')
        i++;
    size_t t = i;
    while (i < n && token_char(v[i]))
        i++;
    if (i == t || i != n) {
        *err = "OAUTHBEARER: malformed bearer token";
        return -1;
    }
    if (i - t > ST_OAUTHBEARER_MAX_TOKEN) {
        *err = "OAUTHBEARER: token too long";
        return -1;
    }
    out->token = (const char *)v + t;
    out->token_len = i - t;
    return 0;
}

#define MAX_KV 32

int
st_oauthbearer_parse(const uint8_t *msg, size_t len, struct st_oauthbearer_msg *out,
                     const char **err)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > ST_OAUTHBEARER_MAX_MESSAGE) {
        *err = "OAUTHBEARER: message size out of range";
        return -1;
    }
    if (len < 2 || msg[0] != 'n' || msg[1] != ',') {
        *err = msg[0] == 'y' || msg[0] == 'p' ? "OAUTHBEARER: channel binding is not supported"
                                              : "OAUTHBEARER: malformed GS2 header";
        return -1;
    }
    size_t pos = 2;
    if (len - pos >= 2 && msg[pos] == 'a' && msg[pos + 1] == '=') {
        size_t s = pos + 2;
        pos = s;
        while (pos < len && msg[pos] != ',')
            pos++;
        out->authzid = (const char *)msg + s;
        out->authzid_len = pos - s;
    }
    if (pos >= len || msg[pos] != ',') {
        *err = "OAUTHBEARER: malformed GS2 header";
        return -1;
    }
    pos++;
    if (pos >= len || msg[pos] != 0x01) {
        *err = "OAUTHBEARER: missing separator after GS2 header";
        return -1;
    }
    pos++;
    /* key=value\x01 pairs, then a final \x01 that must be the last byte. */
    const uint8_t *keys[MAX_KV];
    size_t klens[MAX_KV], nkv = 0;
    bool have_auth = false;
    for (;;) {
        if (pos >= len) {
            *err = "OAUTHBEARER: message is not terminated";
            return -1;
        }
        if (msg[pos] == 0x01) {
            if (pos + 1 != len) {
                *err = "OAUTHBEARER: trailing bytes after message";
                return -1;
            }
            break;
        }
        size_t ks = pos;
        while (pos < len && is_alpha(msg[pos]))
            pos++;
        if (pos == ks || pos >= len || msg[pos] != '=') {
            *err = "OAUTHBEARER: malformed key";
            return -1;
        }
        size_t kl = pos - ks;
        pos++;
        size_t vs = pos;
        while (pos < len && value_char(msg[pos]))
            pos++;
        if (pos == vs || pos >= len || msg[pos] != 0x01) {
            *err = "OAUTHBEARER: malformed value";
            return -1;
        }
        size_t vl = pos - vs;
        pos++;
        for (size_t i = 0; i < nkv; i++) {
            if (klens[i] == kl && memcmp(keys[i], msg + ks, kl) == 0) {
                *err = "OAUTHBEARER: duplicate key";
                return -1;
            }
        }
        if (nkv == MAX_KV) {
            *err = "OAUTHBEARER: too many keys";
            return -1;
        }
        keys[nkv] = msg + ks;
        klens[nkv] = kl;
        nkv++;
        if (kl == 4 && memcmp(msg + ks, "auth", 4) == 0) {
            if (parse_auth(msg + vs, vl, out, err) != 0)
                return -1;
            have_auth = true;
        } else {
            out->n_extensions++;
        }
    }
    if (!have_auth) {
        *err = "OAUTHBEARER: missing auth";
        return -1;
    }
    return 0;
}

int
st_oauthbearer_token_decode(const char *token, size_t len, struct st_buf *url, const char **err)
{
    if (len == 0 || len > ST_OAUTHBEARER_MAX_TOKEN) {
        *err = "OAUTHBEARER: token length out of range";
        return -1;
    }
    size_t cap = st_b64_decoded_max(len);
    if (st_buf_reserve(url, cap) != 0) {
        *err = "out of memory";
        return -1;
    }
    long n = st_b64url_decode(token, len, url->data + url->len, cap, err);
    if (n < 0)
        return -1;
    url->len += (size_t)n;
    return 0;
}

static int
fail(struct st_sigv4_identity *id, enum st_sigv4_status st, const char **err, const char *msg)
{
    id->status = st;
    *err = msg;
    return -1;
}

/* Verifies the decoded URL. */
static int
prepare_url(const struct st_oauthbearer_verifier *v, const char *url, size_t len, time_t now,
            struct st_sigv4_identity *id, struct st_sigv4_pending *pd, const char **err)
{
    static const char scheme[] = "https://";
    if (len < 8 || memcmp(url, scheme, 8) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "OAUTHBEARER: token URL is not https");
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)url[i] < 0x21 || (unsigned char)url[i] > 0x7E || url[i] == '#')
            return fail(id, ST_SIGV4_MALFORMED, err, "OAUTHBEARER: invalid character in token URL");
    }
    size_t hs = 8, he = hs;
    while (he < len && url[he] != '/' && url[he] != '?')
        he++;
    char want[128];
    const char *expect = v->host;
    if (expect == NULL) {
        int n = snprintf(want, sizeof(want), "kafka.%s.amazonaws.com",
                         v->sigv4.region ? v->sigv4.region : "");
        if (n < 0 || (size_t)n >= sizeof(want))
            return fail(id, ST_SIGV4_SCOPE, err, "OAUTHBEARER: region too long");
        expect = want;
    }
    if (he - hs != strlen(expect) || strncasecmp(url + hs, expect, he - hs) != 0)
        return fail(id, ST_SIGV4_SCOPE, err, "OAUTHBEARER: token is signed for another host");
    if (he >= len || url[he] != '/' || he + 1 >= len || url[he + 1] != '?')
        return fail(id, ST_SIGV4_MALFORMED, err, "OAUTHBEARER: token URL path must be /");
    const char *q = url + he + 2;
    size_t ql = len - he - 2;
    struct st_buf store = ST_BUF_INIT;
    struct st_sigv4_param p[ST_SIGV4_MAX_PARAMS];
    long n = st_sigv4_split_query(q, ql, &store, p, err);
    if (n < 0) {
        st_buf_free(&store);
        return fail(id, ST_SIGV4_MALFORMED, err, *err);
    }
    const struct st_sigv4_param *action = NULL;
    for (long i = 0; i < n; i++) {
        if (p[i].name_len == 6 && memcmp(p[i].name, "Action", 6) == 0)
            action = &p[i]; /* duplicates are rejected by sigv4 below */
    }
    if (action == NULL || action->value_len != strlen(ACTION) ||
        memcmp(action->value, ACTION, action->value_len) != 0) {
        st_buf_free(&store);
        return fail(id, ST_SIGV4_MALFORMED, err,
                    "OAUTHBEARER: Action is not kafka-cluster:Connect");
    }
    struct st_sigv4_presigned ps = {url + hs, he - hs, "/", 1, p, (size_t)n, true};
    int rc = st_sigv4_prepare_presigned(&v->sigv4, &ps, now, id, pd, err);
    st_buf_free(&store);
    return rc;
}

int
st_oauthbearer_prepare(const struct st_oauthbearer_verifier *v, const uint8_t *msg, size_t len,
                       time_t now, struct st_sigv4_identity *id, struct st_sigv4_pending *pd,
                       const char **err)
{
    memset(id, 0, sizeof(*id));
    memset(pd, 0, sizeof(*pd));
    struct st_oauthbearer_msg m;
    if (st_oauthbearer_parse(msg, len, &m, err) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, *err);
    if (m.authzid != NULL && m.authzid_len > 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "OAUTHBEARER: authorization id is not supported");
    struct st_buf url = ST_BUF_INIT;
    if (st_oauthbearer_token_decode(m.token, m.token_len, &url, err) != 0) {
        st_buf_free(&url);
        return fail(id, ST_SIGV4_MALFORMED, err, "OAUTHBEARER: token is not base64url");
    }
    int rc = prepare_url(v, (const char *)url.data, url.len, now, id, pd, err);
    st_buf_free(&url);
    return rc;
}

int
st_oauthbearer_verify(const struct st_oauthbearer_verifier *v, const uint8_t *msg, size_t len,
                      time_t now, struct st_sigv4_identity *id, const char **err)
{
    struct st_sigv4_pending pd;
    if (st_oauthbearer_prepare(v, msg, len, now, id, &pd, err) != 0)
        return -1;
    return st_sigv4_complete(&v->sigv4, &pd, id, err);
}

int
st_oauthbearer_error_challenge(struct st_buf *out)
{
    static const char body[] = "{\"status\":\"invalid_token\"}";
    return st_buf_append(out, body, sizeof(body) - 1);
}

bool
st_oauthbearer_is_error_ack(const uint8_t *msg, size_t len)
{
    return len == 1 && msg[0] == 0x01;
}

static int
append_param(struct st_buf *b, const char *name, const char *value, bool first)
{
    if ((!first && st_buf_append_u8(b, '&') != 0) || st_uri_encode(b, name, strlen(name), false) ||
        st_buf_append_u8(b, '=') != 0 || st_uri_encode(b, value, strlen(value), false) != 0)
        return -1;
    return 0;
}

int
st_oauthbearer_build_token(const struct st_sigv4_signing *cred, const char *user_agent, time_t now,
                           int64_t expires, struct st_buf *out, const char **err)
{
    if (cred->region == NULL || cred->service == NULL ||
        strcmp(cred->service, "kafka-cluster") != 0) {
        *err = "OAUTHBEARER: signing service must be kafka-cluster";
        return -1;
    }
    if (expires < 1 || expires > ST_SIGV4_KAFKA_MAX_EXPIRES) {
        *err = "OAUTHBEARER: expiry out of range";
        return -1;
    }
    char host[128];
    int hn = snprintf(host, sizeof(host), "kafka.%s.amazonaws.com", cred->region);
    if (hn < 0 || (size_t)hn >= sizeof(host)) {
        *err = "OAUTHBEARER: region too long";
        return -1;
    }
    struct st_sigv4_param action = {"Action", 6, ACTION, strlen(ACTION)};
    struct st_sigv4_presign_result pr;
    if (st_sigv4_presign(cred, host, "/", &action, 1, now, expires, &pr, err) != 0)
        return -1;
    char exp[24];
    snprintf(exp, sizeof(exp), "%lld", (long long)expires);
    struct st_buf url = ST_BUF_INIT;
    int rc = st_buf_append(&url, "https://", 8) | st_buf_append(&url, host, (size_t)hn) |
             st_buf_append(&url, "/?", 2);
    rc |= append_param(&url, "Action", ACTION, true);
    rc |= append_param(&url, "X-Amz-Algorithm", ST_SIGV4_ALGORITHM, false);
    rc |= append_param(&url, "X-Amz-Credential", pr.credential, false);
    rc |= append_param(&url, "X-Amz-Date", pr.amz_date, false);
    rc |= append_param(&url, "X-Amz-Expires", exp, false);
    rc |= append_param(&url, "X-Amz-SignedHeaders", "host", false);
    if (cred->session_token != NULL)
        rc |= append_param(&url, "X-Amz-Security-Token", cred->session_token, false);
    rc |= append_param(&url, "X-Amz-Signature", pr.signature, false);
    if (user_agent != NULL)
        rc |= append_param(&url, "User-Agent", user_agent, false);
    if (rc == 0) {
        size_t cap = st_b64_encoded_len(url.len) + 1;
        rc = st_buf_reserve(out, cap);
        long n =
            rc == 0 ? st_b64url_encode(url.data, url.len, (char *)out->data + out->len, cap) : -1;
        if (n < 0)
            rc = -1;
        else
            out->len += (size_t)n;
    }
    st_buf_free(&url);
    if (rc != 0) {
        *err = "out of memory";
        return -1;
    }
    return 0;
}

int
st_oauthbearer_client_first(const char *token, size_t len, struct st_buf *out)
{
    static const char head[] = "n,,\x01"
                               "auth=Bearer ";
    if (st_buf_append(out, head, sizeof(head) - 1) != 0 || st_buf_append(out, token, len) != 0 ||
        st_buf_append(out, "\x01\x01", 2) != 0)
        return -1;
    return 0;
}

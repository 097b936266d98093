/*
 * AWS_MSK_IAM payload parsing (jansson, duplicate keys rejected), validation, verification via the
 * shared SigV4 presigned path, the success response and a payload builder (see msk_iam.h).
 */
#include "auth/msk_iam.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/crypto.h>

/* JSON key -> payload member. */
struct field {
    const char *key; /* JSON key, lower case */
    size_t off;      /* offsetof the char * member */
};

static const struct field fields[] = {
    {"version", offsetof(struct st_msk_iam_payload, version)},
    {"host", offsetof(struct st_msk_iam_payload, host)},
    {"user-agent", offsetof(struct st_msk_iam_payload, user_agent)},
    {"action", offsetof(struct st_msk_iam_payload, action)},
    {"x-amz-algorithm", offsetof(struct st_msk_iam_payload, algorithm)},
    {"x-amz-credential", offsetof(struct st_msk_iam_payload, credential)},
    {"x-amz-date", offsetof(struct st_msk_iam_payload, amz_date)},
    {"x-amz-expires", offsetof(struct st_msk_iam_payload, expires)},
    {"x-amz-signedheaders", offsetof(struct st_msk_iam_payload, signed_headers)},
    {"x-amz-signature", offsetof(struct st_msk_iam_payload, signature)},
    {"x-amz-security-token", offsetof(struct st_msk_iam_payload, security_token)},
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

static char **
member(struct st_msk_iam_payload *p, size_t i)
{
    return (char **)((char *)p + fields[i].off);
}

void
st_msk_iam_payload_clear(struct st_msk_iam_payload *p)
{
    if (p->security_token != NULL)
        OPENSSL_cleanse(p->security_token, strlen(p->security_token));
    for (size_t i = 0; i < NFIELDS; i++)
        free(*member(p, i));
    memset(p, 0, sizeof(*p));
}

int
st_msk_iam_parse(const uint8_t *buf, size_t len, struct st_msk_iam_payload *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > ST_MSK_IAM_MAX_PAYLOAD) {
        *err = "AWS_MSK_IAM: payload size out of range";
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        *err = "AWS_MSK_IAM: payload is not valid JSON (or has duplicate keys)";
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *err = "AWS_MSK_IAM: payload is not a JSON object";
        return -1;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        if (!json_is_string(val)) {
            *err = "AWS_MSK_IAM: payload value is not a string";
            goto bad;
        }
        const char *s = json_string_value(val);
        size_t sl = json_string_length(val);
        if (strlen(s) != sl) {
            *err = "AWS_MSK_IAM: payload value contains NUL";
            goto bad;
        }
        for (size_t i = 0; i < NFIELDS; i++) {
            if (strcmp(key, fields[i].key) != 0)
                continue;
            char *copy = strdup(s);
            if (copy == NULL) {
                *err = "out of memory";
                goto bad;
            }
            *member(out, i) = copy;
        }
    }
    json_decref(root);
    return 0;
bad:
    json_decref(root);
    st_msk_iam_payload_clear(out);
    return -1;
}

static int
fail(struct st_sigv4_identity *id, enum st_sigv4_status st, const char **err, const char *msg)
{
    id->status = st;
    *err = msg;
    return -1;
}

static bool
host_listed(const struct st_msk_iam_verifier *v, const char *host)
{
    for (size_t i = 0; i < v->n_hosts; i++) {
        if (v->hosts[i] != NULL && strcasecmp(v->hosts[i], host) == 0)
            return true;
    }
    return false;
}

#define PARAM(n, v)                                                                                \
    {                                                                                              \
        n, sizeof(n) - 1, v, strlen(v)                                                             \
    }

int
st_msk_iam_prepare(const struct st_msk_iam_verifier *v, const struct st_msk_iam_payload *p,
                   time_t now, struct st_sigv4_identity *id, struct st_sigv4_pending *pd,
                   const char **err)
{
    memset(id, 0, sizeof(*id));
    memset(pd, 0, sizeof(*pd));
    if (p->version == NULL || p->host == NULL || p->action == NULL || p->algorithm == NULL ||
        p->credential == NULL || p->amz_date == NULL || p->expires == NULL ||
        p->signed_headers == NULL || p->signature == NULL)
        return fail(id, ST_SIGV4_MALFORMED, err, "AWS_MSK_IAM: payload lacks a required field");
    if (strcmp(p->version, ST_MSK_IAM_VERSION) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "AWS_MSK_IAM: unsupported version");
    if (strcmp(p->action, ST_MSK_IAM_ACTION) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err,
                    "AWS_MSK_IAM: action is not kafka-cluster:Connect");
    if (strcmp(p->algorithm, ST_SIGV4_ALGORITHM) != 0)
        return fail(id, ST_SIGV4_SCOPE, err, "AWS_MSK_IAM: unsupported signature algorithm");
    if (strcmp(p->signed_headers, "host") != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "AWS_MSK_IAM: signed headers must be host");
    size_t el = strlen(p->expires);
    if (el == 0 || el > 6 || strspn(p->expires, "0123456789") != el || p->expires[0] == '0')
        return fail(id, ST_SIGV4_MALFORMED, err, "AWS_MSK_IAM: malformed x-amz-expires");
    if (p->host[0] == '\0' || !host_listed(v, p->host))
        return fail(id, ST_SIGV4_SCOPE, err, "AWS_MSK_IAM: host is not served by this listener");
    if (v->sigv4.service == NULL || strcmp(v->sigv4.service, ST_MSK_IAM_SERVICE) != 0)
        return fail(id, ST_SIGV4_SCOPE, err, "AWS_MSK_IAM: verifier service is not kafka-cluster");
    struct st_sigv4_param params[8] = {
        PARAM("Action", p->action),
        PARAM("X-Amz-Algorithm", p->algorithm),
        PARAM("X-Amz-Credential", p->credential),
        PARAM("X-Amz-Date", p->amz_date),
        PARAM("X-Amz-Expires", p->expires),
        PARAM("X-Amz-SignedHeaders", p->signed_headers),
        PARAM("X-Amz-Signature", p->signature),
    };
    size_t n = 7;
    if (p->security_token != NULL)
        params[n++] = (struct st_sigv4_param)PARAM("X-Amz-Security-Token", p->security_token);
    struct st_sigv4_presigned ps = {p->host, strlen(p->host), "/", 1, params, n, false};
    return st_sigv4_prepare_presigned(&v->sigv4, &ps, now, id, pd, err);
}

int
st_msk_iam_verify(const struct st_msk_iam_verifier *v, const struct st_msk_iam_payload *p,
                  time_t now, struct st_sigv4_identity *id, const char **err)
{
    struct st_sigv4_pending pd;
    if (st_msk_iam_prepare(v, p, now, id, &pd, err) != 0)
        return -1;
    return st_sigv4_complete(&v->sigv4, &pd, id, err);
}

int
st_msk_iam_authenticate(const struct st_msk_iam_verifier *v, const uint8_t *buf, size_t len,
                        time_t now, struct st_sigv4_identity *id, const char **err)
{
    struct st_msk_iam_payload p;
    if (st_msk_iam_parse(buf, len, &p, err) != 0) {
        memset(id, 0, sizeof(*id));
        id->status = ST_SIGV4_MALFORMED;
        return -1;
    }
    int rc = st_msk_iam_verify(v, &p, now, id, err);
    st_msk_iam_payload_clear(&p);
    return rc;
}

/* Appends a compact JSON dump of `obj` (steals the reference). */
static int
append_json(json_t *obj, struct st_buf *out)
{
    if (obj == NULL)
        return -1;
    char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (s == NULL)
        return -1;
    int rc = st_buf_append(out, s, strlen(s));
    size_t l = strlen(s);
    OPENSSL_cleanse(s, l);
    free(s);
    return rc;
}

int
st_msk_iam_response(const char *request_id, struct st_buf *out)
{
    size_t l = strlen(request_id);
    if (l == 0 || l > 64 ||
        strspn(request_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != l)
        return -1;
    json_t *o = json_object();
    if (o == NULL || json_object_set_new(o, "version", json_string(ST_MSK_IAM_VERSION)) != 0 ||
        json_object_set_new(o, "request-id", json_string(request_id)) != 0) {
        json_decref(o);
        return -1;
    }
    return append_json(o, out);
}

int
st_msk_iam_build(const struct st_sigv4_signing *cred, const char *host, const char *user_agent,
                 time_t now, int64_t expires, struct st_buf *out, const char **err)
{
    if (cred->service == NULL || strcmp(cred->service, ST_MSK_IAM_SERVICE) != 0) {
        *err = "AWS_MSK_IAM: signing service must be kafka-cluster";
        return -1;
    }
    if (expires < 1 || expires > ST_SIGV4_KAFKA_MAX_EXPIRES) {
        *err = "AWS_MSK_IAM: expiry out of range";
        return -1;
    }
    struct st_sigv4_param action = PARAM("Action", ST_MSK_IAM_ACTION);
    struct st_sigv4_presign_result pr;
    if (st_sigv4_presign(cred, host, "/", &action, 1, now, expires, &pr, err) != 0)
        return -1;
    char exp[24];
    snprintf(exp, sizeof(exp), "%lld", (long long)expires);
    json_t *o = json_object();
    int rc = o == NULL;
    rc |= json_object_set_new(o, "version", json_string(ST_MSK_IAM_VERSION));
    rc |= json_object_set_new(o, "host", json_string(host));
    if (user_agent != NULL)
        rc |= json_object_set_new(o, "user-agent", json_string(user_agent));
    rc |= json_object_set_new(o, "action", json_string(ST_MSK_IAM_ACTION));
    rc |= json_object_set_new(o, "x-amz-credential", json_string(pr.credential));
    rc |= json_object_set_new(o, "x-amz-algorithm", json_string(ST_SIGV4_ALGORITHM));
    rc |= json_object_set_new(o, "x-amz-date", json_string(pr.amz_date));
    if (cred->session_token != NULL)
        rc |= json_object_set_new(o, "x-amz-security-token", json_string(cred->session_token));
    rc |= json_object_set_new(o, "x-amz-signedheaders", json_string("host"));
    rc |= json_object_set_new(o, "x-amz-expires", json_string(exp));
    rc |= json_object_set_new(o, "x-amz-signature", json_string(pr.signature));
    if (rc != 0) {
        json_decref(o);
        *err = "AWS_MSK_IAM: cannot build payload";
        return -1;
    }
    if (append_json(o, out) != 0) {
        *err = "out of memory";
        return -1;
    }
    return 0;
}

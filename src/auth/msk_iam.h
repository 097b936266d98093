/*
 * AWS_MSK_IAM SASL mechanism (msk-client-auth.md §2): the client sends one JSON object whose
 * fields are a SigV4 query presign of GET https://<host>/?Action=kafka-cluster%3AConnect; the
 * server answers a non-empty JSON object on success. This module parses and strictly validates
 * the payload, verifies it through sigv4's presigned path, builds the success response, and
 * builds payloads (strait's own upstream IAM and the tests).
 *
 * Context: pure code; `now` is passed in; the secret comes from the verifier's lookup callback.
 */
#ifndef ST_AUTH_MSK_IAM_H
#define ST_AUTH_MSK_IAM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/sigv4.h"
#include "util/buf.h"

#define ST_MSK_IAM_MECHANISM "AWS_MSK_IAM"
#define ST_MSK_IAM_VERSION "2020_10_22"
#define ST_MSK_IAM_ACTION "kafka-cluster:Connect"
#define ST_MSK_IAM_SERVICE "kafka-cluster"
/* Largest payload accepted (a real one with an STS token is a few KiB). */
#define ST_MSK_IAM_MAX_PAYLOAD 65536

/* The payload fields, owned, NUL-terminated; optional ones are NULL when absent. */
struct st_msk_iam_payload {
    char *version;        /* "version" */
    char *host;           /* "host": the broker host the client dialled, no port */
    char *user_agent;     /* "user-agent" (optional, not signed) */
    char *action;         /* "action" */
    char *algorithm;      /* "x-amz-algorithm" */
    char *credential;     /* "x-amz-credential" */
    char *amz_date;       /* "x-amz-date" */
    char *expires;        /* "x-amz-expires" */
    char *signed_headers; /* "x-amz-signedheaders" */
    char *signature;      /* "x-amz-signature" */
    char *security_token; /* "x-amz-security-token" (optional) */
};

/*
 * Parses the AuthBytes JSON: an object whose values are all strings without NUL, no duplicate
 * keys, keys in any order. Unknown keys are ignored (they are not signed). Missing required keys
 * are reported by st_msk_iam_verify(). Returns 0 (caller calls st_msk_iam_payload_clear()), or -1
 * with `*err`.
 */
int st_msk_iam_parse(const uint8_t *buf, size_t len, struct st_msk_iam_payload *out,
                     const char **err) __attribute__((warn_unused_result));

/* Frees every field (wiping the token) and zeroes the struct. */
void st_msk_iam_payload_clear(struct st_msk_iam_payload *p);

/* What a listener accepts. */
struct st_msk_iam_verifier {
    struct st_sigv4_verifier sigv4; /* region served, service "kafka-cluster", skew, lookup */
    const char *const *hosts;       /* host names this listener advertises (no port) */
    size_t n_hosts;                 /* number of hosts */
};

/*
 * Validates and verifies a parsed payload, in the order of msk-client-auth.md §2.3: required
 * fields; version, action, algorithm and signed headers values; x-amz-expires an integer in
 * [1, max_expires]; host one of v->hosts (ASCII case-insensitive); then sigv4 (scope, time,
 * lookup, token, constant-time signature). Returns 0 with `*id` filled (caller clears it; the
 * credential lifetime is id->signed_at*1000 + id->expires_ms), or -1 with `*err` and id->status.
 */
int st_msk_iam_verify(const struct st_msk_iam_verifier *v, const struct st_msk_iam_payload *p,
                      time_t now, struct st_sigv4_identity *id, const char **err)
    __attribute__((warn_unused_result));

/*
 * First phase of st_msk_iam_verify() for asynchronous credential lookups: every check except the
 * token and signature; finish with st_sigv4_finish() (see sigv4.h). Same contract as
 * st_sigv4_prepare_presigned().
 */
int st_msk_iam_prepare(const struct st_msk_iam_verifier *v, const struct st_msk_iam_payload *p,
                       time_t now, struct st_sigv4_identity *id, struct st_sigv4_pending *pd,
                       const char **err) __attribute__((warn_unused_result));

/* st_msk_iam_parse() + st_msk_iam_verify() on raw AuthBytes. */
int st_msk_iam_authenticate(const struct st_msk_iam_verifier *v, const uint8_t *buf, size_t len,
                            time_t now, struct st_sigv4_identity *id, const char **err)
    __attribute__((warn_unused_result));

/*
 * Appends the success AuthBytes {"version":"2020_10_22","request-id":"<request_id>"} to `out`.
 * `request_id` must be 1-64 characters of [A-Za-z0-9-]. Returns 0 or -1.
 */
int st_msk_iam_response(const char *request_id, struct st_buf *out)
    __attribute__((warn_unused_result));

/*
 * Builds a client payload for `host` (no port) signed at `now` for `expires` seconds, with the
 * Java client's key order, and appends it to `out`. `cred->service` must be "kafka-cluster".
 * `user_agent` may be NULL (omitted). Returns 0, or -1 with `*err`.
 */
int st_msk_iam_build(const struct st_sigv4_signing *cred, const char *host, const char *user_agent,
                     time_t now, int64_t expires, struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

#endif

/*
 * AWS Signature Version 4 (AWS4-HMAC-SHA256): one module for both forms strait needs.
 *
 *  - Header form (control-plane HTTP API, service `kafka`): Authorization header, canonical
 *    request with the double-encoded canonical URI of non-S3 services, canonical query string,
 *    signed headers, payload hash (x-amz-content-sha256), X-Amz-Date window, session token.
 *  - Query/presigned form (AWS_MSK_IAM payloads and OAUTHBEARER tokens, service
 *    `kafka-cluster`): X-Amz-* query parameters, X-Amz-Expires, signed header `host` only.
 *
 * Verification and signing share the canonical-request, string-to-sign and signing-key code, so
 * a request produced by st_sigv4_sign_http() verifies with st_sigv4_verify_http() by
 * construction, and both reproduce the captured SDK vectors byte for byte.
 *
 * Context: pure code (no I/O, no globals); `now` is always passed in. Secrets are never logged and
 * signatures/tokens are compared with CRYPTO_memcmp.
 */
#ifndef ST_AUTH_SIGV4_H
#define ST_AUTH_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "util/buf.h"

#define ST_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define ST_SIGV4_TERMINATOR "aws4_request"
/* Lower-case hex SHA-256 of the empty string (payload hash of a body-less request). */
#define ST_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* Default clock-skew window: AWS's documented 5 minutes (msk-control-api.md §2.4). */
#define ST_SIGV4_DEFAULT_SKEW 300
/* Largest X-Amz-Expires accepted for kafka-cluster:Connect presigns (msk-client-auth.md §2.3). */
#define ST_SIGV4_KAFKA_MAX_EXPIRES 900

#define ST_SIGV4_MAX_AKID 128
#define ST_SIGV4_MAX_REGION 63
#define ST_SIGV4_MAX_SERVICE 63
#define ST_SIGV4_MAX_TOKEN 16384
#define ST_SIGV4_MAX_PARAMS 128 /* most query parameters a request may carry */
/* Longest credential string: AKID/yyyymmdd/region/service/aws4_request. */
#define ST_SIGV4_MAX_CREDENTIAL                                                                    \
    (ST_SIGV4_MAX_AKID + 1 + 8 + 1 + ST_SIGV4_MAX_REGION + 1 + ST_SIGV4_MAX_SERVICE + 1 + 12)

/* Why a verification failed; lets the caller pick the error type it answers with. */
enum st_sigv4_status {
    ST_SIGV4_OK = 0,        /* verified */
    ST_SIGV4_MALFORMED,     /* missing/unparseable fields (IncompleteSignature, 400) */
    ST_SIGV4_SCOPE,         /* wrong algorithm, region, service or scope date */
    ST_SIGV4_EXPIRED,       /* outside the X-Amz-Date window or past X-Amz-Expires */
    ST_SIGV4_UNKNOWN_KEY,   /* access key id not known (UnrecognizedClientException) */
    ST_SIGV4_BAD_TOKEN,     /* session token missing, unexpected or wrong */
    ST_SIGV4_BAD_SIGNATURE, /* signature or payload hash mismatch (InvalidSignatureException) */
};

/* What the credential lookup returns for an access key id. All pointers are borrowed. */
struct st_sigv4_secret {
    const char *secret;        /* secret access key; must stay valid until verify returns */
    size_t secret_len;         /* its length */
    const char *session_token; /* token the request must carry (temporary keys), NULL = none */
    size_t session_token_len;  /* its length */
    void *principal;           /* opaque caller data copied into the identity */
};

/*
 * Looks up the secret of `access_key_id` (NUL-terminated). `session_token` is the token the
 * request carried (NULL if none), so temporary credentials can be resolved by token. Returns 0 and
 * fills `*out`, or -1 if the key is unknown.
 * Context: called synchronously from inside the verify functions (read an in-memory snapshot).
 */
typedef int (*st_sigv4_lookup_fn)(void *arg, const char *access_key_id, const char *session_token,
                                  size_t session_token_len, struct st_sigv4_secret *out);

/* What a verifier accepts. */
struct st_sigv4_verifier {
    const char *region;        /* region served, e.g. "us-east-1" */
    const char *service;       /* signing service: "kafka" or "kafka-cluster" */
    int64_t max_skew;          /* allowed clock skew in seconds (ST_SIGV4_DEFAULT_SKEW) */
    int64_t max_expires;       /* query form: largest X-Amz-Expires in seconds */
    st_sigv4_lookup_fn lookup; /* secret lookup */
    void *lookup_arg;          /* first argument of lookup */
};

/* The identity a request claims; filled as far as parsing got, even when verification fails. */
struct st_sigv4_identity {
    char access_key_id[ST_SIGV4_MAX_AKID + 1]; /* from the credential scope */
    char date[9];                              /* scope date yyyymmdd */
    char amz_date[17];                         /* X-Amz-Date yyyymmddThhmmssZ */
    char region[ST_SIGV4_MAX_REGION + 1];      /* scope region */
    char service[ST_SIGV4_MAX_SERVICE + 1];    /* scope service */
    char *session_token;         /* owned copy of X-Amz-Security-Token, NULL if none */
    size_t session_token_len;    /* its length */
    int64_t signed_at;           /* X-Amz-Date in seconds since the epoch */
    int64_t expires_ms;          /* query form: X-Amz-Expires in milliseconds; 0 for header form */
    void *principal;             /* from the lookup, set on success */
    enum st_sigv4_status status; /* ST_SIGV4_OK, or why verification failed */
};

/* Frees the owned session token and zeroes the identity. Safe on a zeroed struct. */
void st_sigv4_identity_clear(struct st_sigv4_identity *id);

/*
 * Milliseconds the verified credential stays valid at `now` (presigned form:
 * X-Amz-Date + X-Amz-Expires - now, at least 0), for SaslAuthenticate SessionLifetimeMs.
 * Returns -1 for the header form, which carries no expiry.
 */
int64_t st_sigv4_remaining_ms(const struct st_sigv4_identity *id, time_t now);

/* One HTTP header as received (name in any case, value untrimmed). Borrowed. */
struct st_sigv4_header {
    const char *name;  /* header name */
    size_t name_len;   /* its length */
    const char *value; /* header value */
    size_t value_len;  /* its length */
};

/* An HTTP request as seen on the wire. Everything is borrowed. */
struct st_sigv4_http {
    const char *method;                    /* "GET", "PUT", ... (NUL-terminated) */
    const char *path;                      /* raw path as sent (still percent-encoded) */
    size_t path_len;                       /* its length */
    const char *query;                     /* raw query without '?', NULL or "" if none */
    size_t query_len;                      /* its length */
    const struct st_sigv4_header *headers; /* all request headers */
    size_t n_headers;                      /* number of headers */
    const uint8_t *body;                   /* exact body bytes (NULL if none) */
    size_t body_len;                       /* body length */
};

/*
 * Verifies a header-form SigV4 request (msk-control-api.md §2). Checks, in order: Authorization
 * syntax and algorithm, credential scope (5 parts, region, service, terminator), X-Amz-Date format
 * (or, without X-Amz-Date, an IMF-fixdate Date header), scope date, the ±max_skew window, signed
 * headers (sorted, `host` and the date header included, each present), x-amz-content-sha256
 * (must equal the body hash; UNSIGNED-PAYLOAD rejected), the secret lookup, the session token,
 * and the signature in constant time.
 * Returns 0 with `*id` filled (caller clears it), or -1 with `*err` (static text such as
 * "signature does not match", "request expired", "unknown access key") and id->status set.
 */
int st_sigv4_verify_http(const struct st_sigv4_verifier *v, const struct st_sigv4_http *req,
                         time_t now, struct st_sigv4_identity *id, const char **err)
    __attribute__((warn_unused_result));

/* One decoded query parameter (name and value already percent-decoded). Borrowed. */
struct st_sigv4_param {
    const char *name;  /* decoded name */
    size_t name_len;   /* its length */
    const char *value; /* decoded value */
    size_t value_len;  /* its length */
};

/* A presigned (query-form) request: GET https://host/path?params, signed header `host` only. */
struct st_sigv4_presigned {
    const char *host;                    /* host as signed (the `host` canonical header) */
    size_t host_len;                     /* its length */
    const char *path;                    /* raw path, "/" for kafka-cluster */
    size_t path_len;                     /* its length */
    const struct st_sigv4_param *params; /* all query parameters, decoded */
    size_t n_params;                     /* number of parameters */
    bool exclude_user_agent;             /* drop `User-Agent` (added after signing by signers) */
};

/*
 * Verifies a query-form presigned request: X-Amz-Algorithm, X-Amz-Credential (scope checks as
 * above), X-Amz-Date, X-Amz-Expires (decimal seconds, fractions allowed, 0 < x <= max_expires),
 * X-Amz-SignedHeaders == "host", X-Amz-Signature (64 hex), optional X-Amz-Security-Token; no
 * duplicate parameters. Time: X-Amz-Date <= now + max_skew and now <= X-Amz-Date + X-Amz-Expires.
 * The canonical query holds every parameter except X-Amz-Signature (and User-Agent if asked);
 * the payload hash is that of the empty string.
 * Returns 0 with `*id` filled, or -1 with `*err` and id->status set.
 */
int st_sigv4_verify_presigned(const struct st_sigv4_verifier *v, const struct st_sigv4_presigned *p,
                              time_t now, struct st_sigv4_identity *id, const char **err)
    __attribute__((warn_unused_result));

/*
 * Two-phase verification for callers whose credential lookup is asynchronous: prepare does every
 * check that needs no secret (syntax, scope, time, payload hash) and keeps the canonical request;
 * the caller resolves id->access_key_id / id->session_token however it likes, then finish does
 * the token check and the constant-time signature comparison. The st_sigv4_verify_* functions are
 * prepare + the verifier's lookup + finish. The verifier's `lookup` is not used by prepare.
 */
struct st_sigv4_pending {
    struct st_buf creq;    /* canonical request (owned) */
    uint8_t signature[32]; /* signature the request carried */
};

/* Frees the pending state. Safe on a zeroed struct and after a failed prepare. */
void st_sigv4_pending_clear(struct st_sigv4_pending *pd);

/*
 * First phase of st_sigv4_verify_http(). Returns 0 with `*id` and `*pd` filled (caller calls
 * st_sigv4_finish() or st_sigv4_pending_clear(), and st_sigv4_identity_clear()), or -1 with
 * `*err` and id->status (nothing to free in `*pd`).
 */
int st_sigv4_prepare_http(const struct st_sigv4_verifier *v, const struct st_sigv4_http *req,
                          time_t now, struct st_sigv4_identity *id, struct st_sigv4_pending *pd,
                          const char **err) __attribute__((warn_unused_result));

/* First phase of st_sigv4_verify_presigned(); same contract as st_sigv4_prepare_http(). */
int st_sigv4_prepare_presigned(const struct st_sigv4_verifier *v,
                               const struct st_sigv4_presigned *p, time_t now,
                               struct st_sigv4_identity *id, struct st_sigv4_pending *pd,
                               const char **err) __attribute__((warn_unused_result));

/*
 * Second phase: `secret` is what the lookup found for id->access_key_id (NULL = unknown key).
 * Checks the session token and the signature in constant time; on success sets id->principal
 * and id->status = ST_SIGV4_OK. Does not free `*pd`. Returns 0, or -1 with `*err`/id->status.
 */
int st_sigv4_finish(const struct st_sigv4_pending *pd, const struct st_sigv4_secret *secret,
                    struct st_sigv4_identity *id, const char **err)
    __attribute__((warn_unused_result));

/*
 * Synchronous second phase: the verifier's lookup for id->access_key_id, then st_sigv4_finish().
 * Always clears `*pd`. Returns 0, or -1 with `*err`/id->status.
 */
int st_sigv4_complete(const struct st_sigv4_verifier *v, struct st_sigv4_pending *pd,
                      struct st_sigv4_identity *id, const char **err)
    __attribute__((warn_unused_result));

/* Credentials and scope used when signing. Borrowed, NUL-terminated. */
struct st_sigv4_signing {
    const char *access_key_id; /* access key id */
    const char *secret;        /* secret access key */
    const char *session_token; /* session token or NULL */
    const char *region;        /* region, e.g. "us-east-1" */
    const char *service;       /* "kafka" or "kafka-cluster" */
};

/* Headers st_sigv4_sign_http() produced; the caller adds them to the request. */
struct st_sigv4_signed {
    char amz_date[17];           /* value of X-Amz-Date */
    char content_sha256[65];     /* value of X-Amz-Content-SHA256 */
    struct st_buf authorization; /* value of Authorization (NUL-terminated); owned */
};

/* Frees the Authorization buffer. */
void st_sigv4_signed_clear(struct st_sigv4_signed *s);

/*
 * Signs an HTTP request in header form at time `now`. Every header in req->headers is signed
 * (it must include `host`), plus the generated x-amz-date, x-amz-content-sha256 and, with a
 * session token, x-amz-security-token; the request must not already carry those or an
 * Authorization header. Returns 0 with `*out` filled (caller calls st_sigv4_signed_clear()), or
 * -1 with `*err`.
 */
int st_sigv4_sign_http(const struct st_sigv4_signing *cred, const struct st_sigv4_http *req,
                       time_t now, struct st_sigv4_signed *out, const char **err)
    __attribute__((warn_unused_result));

/* The X-Amz-* values a presign produced. */
struct st_sigv4_presign_result {
    char amz_date[17];                            /* X-Amz-Date */
    char credential[ST_SIGV4_MAX_CREDENTIAL + 1]; /* X-Amz-Credential (not URI-encoded) */
    char signature[65];                           /* X-Amz-Signature, lower-case hex */
};

/*
 * Presigns GET https://<host><path>?<params> at `now` with `expires` seconds: the X-Amz-*
 * parameters (Algorithm, Credential, Date, Expires, SignedHeaders=host and the session token if
 * any) are added to `params` (which must not contain them) before signing.
 * Returns 0 with `*out` filled, or -1 with `*err`.
 */
int st_sigv4_presign(const struct st_sigv4_signing *cred, const char *host, const char *path,
                     const struct st_sigv4_param *params, size_t n_params, time_t now,
                     int64_t expires, struct st_sigv4_presign_result *out, const char **err)
    __attribute__((warn_unused_result));

/* ---- building blocks, exported for the tests and fuzz targets ---- */

/* The parsed Authorization header value (pointers into the value). */
struct st_sigv4_authz {
    const char *credential;     /* Credential= value */
    size_t credential_len;      /* its length */
    const char *signed_headers; /* SignedHeaders= value */
    size_t signed_headers_len;  /* its length */
    const char *signature;      /* Signature= value */
    size_t signature_len;       /* its length */
};

/*
 * Parses "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." (components in any
 * order, each exactly once, separated by ',' and optional spaces). Returns 0 or -1 with `*err`.
 */
int st_sigv4_parse_authorization(const char *value, size_t len, struct st_sigv4_authz *out,
                                 const char **err) __attribute__((warn_unused_result));

/*
 * Parses "AKID/yyyymmdd/region/service/aws4_request" into id->access_key_id, date, region and
 * service (syntax only; the caller checks region and service). Returns 0 or -1 with `*err`.
 */
int st_sigv4_parse_credential(const char *s, size_t len, struct st_sigv4_identity *id,
                              const char **err) __attribute__((warn_unused_result));

/* Parses yyyymmddThhmmssZ into seconds since the epoch (validating every field). */
int st_sigv4_parse_amz_date(const char *s, size_t len, int64_t *out)
    __attribute__((warn_unused_result));

/* Formats `t` as yyyymmddThhmmssZ into out[17]. */
void st_sigv4_format_amz_date(int64_t t, char out[17]);

/*
 * Appends the canonical URI of a raw path: dot segments and duplicate slashes removed
 * (botocore remove_dot_segments), then percent-encoded again keeping `/` and `~` (non-S3 rule).
 */
int st_sigv4_canonical_uri(struct st_buf *out, const char *path, size_t len)
    __attribute__((warn_unused_result));

/*
 * Appends the canonical query string of a raw query: split on '&', form-decode names and values,
 * re-encode per RFC 3986, sort by name then value, join with '&'. Returns 0 or -1 with `*err`.
 */
int st_sigv4_canonical_query(struct st_buf *out, const char *query, size_t len, const char **err)
    __attribute__((warn_unused_result));

/*
 * Splits a raw query string on '&' into at most ST_SIGV4_MAX_PARAMS parameters, form-decoding
 * names and values (`%XX`, `+` = space) into `store`, which must be empty and stays owned by the
 * caller (free with st_buf_free()); `p` points into it. A segment without '=' has an empty value;
 * empty segments are skipped. Returns the count, or -1 with `*err`.
 */
long st_sigv4_split_query(const char *query, size_t len, struct st_buf *store,
                          struct st_sigv4_param *p, const char **err)
    __attribute__((warn_unused_result));

/*
 * Appends the canonical request of an HTTP request for the given SignedHeaders list and payload
 * hash (lower-case hex). Every listed header must be present. Returns 0 or -1 with `*err`.
 */
int st_sigv4_canonical_request_http(struct st_buf *out, const struct st_sigv4_http *req,
                                    const char *signed_headers, size_t signed_headers_len,
                                    const char *payload_hash, const char **err)
    __attribute__((warn_unused_result));

/* Derives kSigning = HMAC chain over ("AWS4"+secret, date, region, service, "aws4_request"). */
int st_sigv4_signing_key(const char *secret, size_t secret_len, const char *date,
                         const char *region, const char *service, uint8_t key[32])
    __attribute__((warn_unused_result));

/* Lower-case hex SHA-256 of `n` bytes into hex[65]. Returns 0 or -1 (OpenSSL failure). */
int st_sigv4_sha256_hex(const void *data, size_t n, char hex[65])
    __attribute__((warn_unused_result));

#endif

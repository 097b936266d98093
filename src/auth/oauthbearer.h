/*
 * OAUTHBEARER (RFC 7628 as Kafka implements it) carrying an aws-msk-iam-sasl-signer token
 * (msk-client-auth.md §3): GS2 framing "n,[a=authzid],\x01auth=Bearer <token>\x01[k=v\x01]*\x01",
 * the token is the base64url (unpadded) encoding of a SigV4-presigned
 * https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect&... URL, verified through
 * sigv4's presigned path (User-Agent excluded: it is appended after signing).
 * Success is answered with EMPTY AuthBytes; failure with the RFC 7628 JSON error challenge,
 * to which the client replies a single 0x01 before the server fails with
 * SASL_AUTHENTICATION_FAILED.
 *
 * Context: pure code; `now` is passed in.
 */
#ifndef ST_AUTH_OAUTHBEARER_H
#define ST_AUTH_OAUTHBEARER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "auth/sigv4.h"
#include "util/buf.h"

#define ST_OAUTHBEARER_MECHANISM "OAUTHBEARER"
/* Longest token accepted, characters (a token with a long STS session token is ~3 KiB). */
#define ST_OAUTHBEARER_MAX_TOKEN 16384
/* Longest client-first message accepted. */
#define ST_OAUTHBEARER_MAX_MESSAGE 32768

/* A parsed client-first message; pointers borrow the message bytes. */
struct st_oauthbearer_msg {
    const char *authzid; /* a= value, NULL if absent */
    size_t authzid_len;  /* its length */
    const char *token;   /* bearer token */
    size_t token_len;    /* its length */
    size_t n_extensions; /* key=value pairs other than auth */
};

/*
 * Parses the client-first message with Kafka's grammar: GS2 flag `n` only, optional a=, then
 * \x01-terminated key=value pairs (keys [A-Za-z]+, values [\x21-\x7E \t\r\n]+, no duplicates)
 * closed by a final \x01; `auth` is required, its scheme is "bearer" (any case) followed by spaces
 * and a token of [-_.a-zA-Z0-9]+. Returns 0, or -1 with `*err`.
 */
int st_oauthbearer_parse(const uint8_t *msg, size_t len, struct st_oauthbearer_msg *out,
                         const char **err) __attribute__((warn_unused_result));

/* What a listener accepts. */
struct st_oauthbearer_verifier {
    struct st_sigv4_verifier sigv4; /* region served, service "kafka-cluster", skew, lookup */
    const char *host; /* signed host expected; NULL = "kafka.<region>.amazonaws.com" */
};

/*
 * Verifies a client-first message (msk-client-auth.md §3.3): parse; reject a non-empty authzid;
 * ignore extensions; base64url-decode the token; URL scheme https, host as expected (ASCII
 * case-insensitive, no port or userinfo), path "/", no fragment; form-decode the query (no
 * duplicates); Action=kafka-cluster:Connect; then sigv4 presigned verification with User-Agent
 * excluded (fractional X-Amz-Expires allowed). Returns 0 with `*id` filled (caller clears it;
 * token lifetime = id->signed_at*1000 + id->expires_ms), or -1 with `*err` and id->status.
 */
int st_oauthbearer_verify(const struct st_oauthbearer_verifier *v, const uint8_t *msg, size_t len,
                          time_t now, struct st_sigv4_identity *id, const char **err)
    __attribute__((warn_unused_result));

/*
 * First phase of st_oauthbearer_verify() for asynchronous credential lookups: every check except
 * the token and signature; finish with st_sigv4_finish() (see sigv4.h). Same contract as
 * st_sigv4_prepare_presigned().
 */
int st_oauthbearer_prepare(const struct st_oauthbearer_verifier *v, const uint8_t *msg, size_t len,
                           time_t now, struct st_sigv4_identity *id, struct st_sigv4_pending *pd,
                           const char **err) __attribute__((warn_unused_result));

/*
 * Decodes a token (base64url, padding optional, at most ST_OAUTHBEARER_MAX_TOKEN characters)
 * into the presigned URL appended to `url`. Returns 0, or -1 with `*err`.
 */
int st_oauthbearer_token_decode(const char *token, size_t len, struct st_buf *url, const char **err)
    __attribute__((warn_unused_result));

/* Appends the RFC 7628 error challenge {"status":"invalid_token"} to `out`. Returns 0 or -1. */
int st_oauthbearer_error_challenge(struct st_buf *out) __attribute__((warn_unused_result));

/* True if `msg` is the client's answer to an error challenge (the single byte 0x01). */
bool st_oauthbearer_is_error_ack(const uint8_t *msg, size_t len);

/*
 * Builds a token the way aws-msk-iam-sasl-signer-python does (botocore parameter order, then
 * User-Agent last) for https://kafka.<cred->region>.amazonaws.com/, signed at `now` for `expires`
 * seconds, and appends it (base64url, unpadded) to `out`. `user_agent` may be NULL.
 * Returns 0, or -1 with `*err`.
 */
int st_oauthbearer_build_token(const struct st_sigv4_signing *cred, const char *user_agent,
                               time_t now, int64_t expires, struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

/* Appends "n,,\x01auth=Bearer <token>\x01\x01" to `out`. Returns 0 or -1. */
int st_oauthbearer_client_first(const char *token, size_t len, struct st_buf *out)
    __attribute__((warn_unused_result));

#endif

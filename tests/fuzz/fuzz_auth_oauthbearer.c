/*
 * Fuzz target: OAUTHBEARER client-first framing (GS2 header, kvpairs, auth value), token
 * base64url decoding, URL and query parsing, and SigV4 presigned verification.
 * Seeds: tests/fuzz/corpus/auth_oauthbearer/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/oauthbearer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
lookup(void *arg, const char *akid, const char *tok, size_t tok_len, struct st_sigv4_secret *out)
{
    (void)arg;
    (void)akid;
    out->secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    out->secret_len = strlen(out->secret);
    out->session_token = tok;
    out->session_token_len = tok_len;
    out->principal = NULL;
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct st_oauthbearer_verifier v = {{"us-east-1", "kafka-cluster", ST_SIGV4_DEFAULT_SKEW,
                                         ST_SIGV4_KAFKA_MAX_EXPIRES, lookup, NULL},
                                        NULL};
    struct st_sigv4_identity id;
    const char *err = NULL;
    (void)!st_oauthbearer_verify(&v, data, size, 1795762985, &id, &err);
    st_sigv4_identity_clear(&id);
    /* The raw input as a token. */
    struct st_buf url = ST_BUF_INIT;
    (void)!st_oauthbearer_token_decode((const char *)data, size, &url, &err);
    st_buf_free(&url);
    (void)st_oauthbearer_is_error_ack(data, size);
    return 0;
}

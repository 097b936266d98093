/*
 * Fuzz target: AWS_MSK_IAM AuthBytes (JSON parse with duplicate-key rejection, field validation,
 * SigV4 presigned verification with a fixed key store). Seeds: tests/fuzz/corpus/auth_msk_iam/.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/msk_iam.h"

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
    static const char *const hosts[] = {"127.0.0.1",
                                        "b-1.democluster.abc123.c2.kafka.us-east-1.amazonaws.com"};
    struct st_msk_iam_verifier v = {{"us-east-1", "kafka-cluster", ST_SIGV4_DEFAULT_SKEW,
                                     ST_SIGV4_KAFKA_MAX_EXPIRES, lookup, NULL},
                                    hosts,
                                    2};
    struct st_sigv4_identity id;
    const char *err = NULL;
    /* 20261127T070305Z, the captured payloads' time. */
    (void)!st_msk_iam_authenticate(&v, data, size, 1795762985, &id, &err);
    st_sigv4_identity_clear(&id);
    return 0;
}

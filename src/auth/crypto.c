/*
 * OpenSSL 3 EVP_MAC / EVP_Digest / PKCS5_PBKDF2_HMAC / RAND_bytes wrappers (see crypto.h).
 */
#include "auth/crypto.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

static const EVP_MD *
md_of(enum st_md md)
{
    switch (md) {
    case ST_MD_SHA1:
        return EVP_sha1();
    case ST_MD_SHA256:
        return EVP_sha256();
    case ST_MD_SHA512:
        return EVP_sha512();
    }
    return NULL;
}

static const char *
md_name(enum st_md md)
{
    switch (md) {
    case ST_MD_SHA1:
        return "SHA1";
    case ST_MD_SHA256:
        return "SHA256";
    case ST_MD_SHA512:
        return "SHA512";
    }
    return NULL;
}

size_t
st_md_size(enum st_md md)
{
    switch (md) {
    case ST_MD_SHA1:
        return 20;
    case ST_MD_SHA256:
        return 32;
    case ST_MD_SHA512:
        return 64;
    }
    return 0;
}

int
st_digest(enum st_md md, const void *data, size_t n, uint8_t *out)
{
    const EVP_MD *m = md_of(md);
    unsigned int len = 0;
    if (m == NULL || EVP_Digest(data, n, out, &len, m, NULL) != 1)
        return -1;
    return len == st_md_size(md) ? 0 : -1;
}

/* One fetched HMAC algorithm per process; EVP_MAC_fetch is the expensive part. */
static EVP_MAC *
hmac_alg(void)
{
    static _Atomic(EVP_MAC *) cached;
    EVP_MAC *m = atomic_load(&cached);
    if (m != NULL)
        return m;
    m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (m == NULL)
        return NULL;
    EVP_MAC *expected = NULL;
    if (!atomic_compare_exchange_strong(&cached, &expected, m)) {
        EVP_MAC_free(m);
        return expected;
    }
    return m;
}

int
st_hmac(enum st_md md, const void *key, size_t key_len, const void *data, size_t n, uint8_t *out)
{
    EVP_MAC *mac = hmac_alg();
    const char *name = md_name(md);
    if (mac == NULL || name == NULL)
        return -1;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    if (ctx == NULL)
        return -1;
    OSSL_PARAM params[2];
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0);
    params[1] = OSSL_PARAM_construct_end();
    static const uint8_t empty_key[1] = {0};
    size_t outl = 0;
    int ok = EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, params) == 1 &&
             EVP_MAC_update(ctx, data, n) == 1 &&
             EVP_MAC_final(ctx, out, &outl, st_md_size(md)) == 1 && outl == st_md_size(md);
    EVP_MAC_CTX_free(ctx);
    return ok ? 0 : -1;
}

int
st_pbkdf2(enum st_md md, const void *password, size_t pw_len, const uint8_t *salt, size_t salt_len,
          uint32_t iterations, uint8_t *out)
{
    const EVP_MD *m = md_of(md);
    if (m == NULL || pw_len > INT_MAX || salt_len > INT_MAX || iterations == 0 ||
        iterations > INT_MAX)
        return -1;
    return PKCS5_PBKDF2_HMAC(pw_len ? password : "", (int)pw_len, salt, (int)salt_len,
                             (int)iterations, m, (int)st_md_size(md), out) == 1
               ? 0
               : -1;
}

int
st_random(uint8_t *out, size_t n)
{
    if (n > INT_MAX)
        return -1;
    return RAND_bytes(out, (int)n) == 1 ? 0 : -1;
}

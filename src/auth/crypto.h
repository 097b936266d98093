/*
 * Thin wrappers over the OpenSSL 3 primitives the authentication code needs: HMAC through
 * EVP_MAC, hashes through EVP_Digest, PBKDF2 for SCRAM provisioning and RAND_bytes for nonces and
 * salts. One place, so every mechanism uses the same checked calls.
 *
 * Context: thread-safe (no shared state besides OpenSSL's own).
 */
#ifndef ST_AUTH_CRYPTO_H
#define ST_AUTH_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* Largest digest any mechanism uses (SHA-512). */
#define ST_CRYPTO_MAX_MD 64

/* Hash functions used by SigV4 and SCRAM. */
enum st_md {
    ST_MD_SHA1 = 0,   /* SCRAM-SHA-1, only for RFC 5802 test vectors */
    ST_MD_SHA256 = 1, /* SigV4, SCRAM-SHA-256 */
    ST_MD_SHA512 = 2, /* SCRAM-SHA-512 */
};

/* Output size in bytes of `md` (20, 32 or 64). */
size_t st_md_size(enum st_md md);

/* out = H(data). `out` holds st_md_size(md) bytes. Returns 0 or -1 on OpenSSL failure. */
int st_digest(enum st_md md, const void *data, size_t n, uint8_t *out)
    __attribute__((warn_unused_result));

/* out = HMAC-H(key, data). Returns 0 or -1 on OpenSSL failure. */
int st_hmac(enum st_md md, const void *key, size_t key_len, const void *data, size_t n,
            uint8_t *out) __attribute__((warn_unused_result));

/* out = PBKDF2-HMAC-H(password, salt, iterations, dkLen = st_md_size(md)). Returns 0 or -1. */
int st_pbkdf2(enum st_md md, const void *password, size_t pw_len, const uint8_t *salt,
              size_t salt_len, uint32_t iterations, uint8_t *out)
    __attribute__((warn_unused_result));

/* Fills `n` bytes from the CSPRNG. Returns 0 or -1. */
int st_random(uint8_t *out, size_t n) __attribute__((warn_unused_result));

#endif

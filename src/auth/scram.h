/*
 * SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677) as Kafka speaks it (msk-client-auth.md §4):
 * server side (client-first parse with GS2 header and authzid rules, server-first with a random
 * server nonce, constant-time proof verification, server-final), credential provisioning
 * {salt, iterations, StoredKey, ServerKey} via PBKDF2, and a small client side used by the tests
 * and by strait's own upstream SCRAM.
 *
 * Kafka specifics: GS2 flag `n` only (no channel binding), an authzid must equal the username,
 * saslname escapes =2C and =3D, no SASLprep (raw UTF-8 password bytes), extensions are ignored
 * except `tokenauth=true` (delegation tokens, rejected) and the RFC's mandatory `m=` (rejected).
 * Unknown users get a deterministic mock salt and fail only at client-final.
 *
 * Context: pure code, no I/O. PBKDF2 runs only in st_scram_cred_make() and the client.
 */
#ifndef ST_AUTH_SCRAM_H
#define ST_AUTH_SCRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/crypto.h"
#include "util/buf.h"

#define ST_SCRAM_MIN_ITERATIONS 4096  /* Kafka's minimum for both mechanisms */
#define ST_SCRAM_MAX_ITERATIONS 16384 /* Kafka's maximum */
#define ST_SCRAM_DEFAULT_ITERATIONS 4096
#define ST_SCRAM_MAX_SALT 64      /* largest salt accepted, bytes */
#define ST_SCRAM_DEFAULT_SALT 16  /* salt length used by st_scram_cred_make(), bytes */
#define ST_SCRAM_MAX_NAME 1024    /* longest username, bytes (after unescaping) */
#define ST_SCRAM_MAX_NONCE 1024   /* longest client nonce */
#define ST_SCRAM_MAX_MESSAGE 8192 /* longest SCRAM message accepted */

/* Reason text Kafka passes through to the client for an authzid mismatch. */
extern const char st_scram_err_authzid[];

enum st_scram_mech {
    ST_SCRAM_SHA256 = 0, /* "SCRAM-SHA-256" */
    ST_SCRAM_SHA512 = 1, /* "SCRAM-SHA-512" (the only one MSK offers) */
    ST_SCRAM_SHA1 = 2,   /* RFC 5802 test vectors only; never offered on a listener */
};

/* The SASL mechanism name ("SCRAM-SHA-512"...). */
const char *st_scram_mech_name(enum st_scram_mech mech);
/* Parses a mechanism name (SHA-256/512 only). Returns 0 or -1. */
int st_scram_mech_parse(const char *name, enum st_scram_mech *out)
    __attribute__((warn_unused_result));

/* A stored SCRAM credential: never the password. */
struct st_scram_cred {
    enum st_scram_mech mech;              /* hash family */
    uint32_t iterations;                  /* PBKDF2 iteration count */
    uint8_t salt[ST_SCRAM_MAX_SALT];      /* salt */
    size_t salt_len;                      /* its length */
    uint8_t stored_key[ST_CRYPTO_MAX_MD]; /* H(ClientKey) */
    uint8_t server_key[ST_CRYPTO_MAX_MD]; /* HMAC(SaltedPassword, "Server Key") */
};

/*
 * Provisions a credential: SaltedPassword = PBKDF2(password, salt, iterations), then StoredKey and
 * ServerKey. `salt` NULL draws ST_SCRAM_DEFAULT_SALT random bytes. `iterations` must be within
 * [ST_SCRAM_MIN_ITERATIONS, ST_SCRAM_MAX_ITERATIONS] (the SHA-1 test mechanism excepted).
 * The password is used as raw bytes (no SASLprep). Returns 0, or -1 with `*err`.
 * Context: CPU-heavy (PBKDF2); run off the event loop.
 */
int st_scram_cred_make(enum st_scram_mech mech, const char *password, size_t pw_len,
                       const uint8_t *salt, size_t salt_len, uint32_t iterations,
                       struct st_scram_cred *out, const char **err)
    __attribute__((warn_unused_result));

/*
 * Serializes a credential as "<mech>:<iterations>:<b64 salt>:<b64 StoredKey>:<b64 ServerKey>"
 * (the store's text form) and appends it to `out` (NUL-terminated). Returns 0 or -1.
 */
int st_scram_cred_format(const struct st_scram_cred *c, struct st_buf *out)
    __attribute__((warn_unused_result));
/* Parses the text form of st_scram_cred_format(). Returns 0 or -1 with `*err`. */
int st_scram_cred_parse(const char *s, size_t len, struct st_scram_cred *out, const char **err)
    __attribute__((warn_unused_result));

/* ---- server */

struct st_scram_server; /* opaque exchange state */

/*
 * Starts a server exchange. `mock_key` (len > 0) is a server secret from which the fake salt of
 * unknown users is derived (HMAC(mock_key, username)), so probing does not reveal which users
 * exist. Returns a new exchange; caller frees with st_scram_server_free(). NULL on OOM.
 */
struct st_scram_server *st_scram_server_new(enum st_scram_mech mech, const uint8_t *mock_key,
                                            size_t mock_key_len);
/* Wipes and frees the exchange. NULL is fine. */
void st_scram_server_free(struct st_scram_server *s);

/*
 * Parses client-first. On success `*username` points to the unescaped username (NUL-terminated,
 * owned by the exchange) for the credential lookup. Rejects: GS2 flags other than `n`, an authzid
 * different from the username (st_scram_err_authzid), bad saslname escapes, `m=` extensions,
 * `tokenauth=true`, empty or invalid nonces. Returns 0, or -1 with `*err`.
 */
int st_scram_server_client_first(struct st_scram_server *s, const uint8_t *msg, size_t len,
                                 const char **username, const char **err)
    __attribute__((warn_unused_result));

/*
 * Appends server-first ("r=<cnonce><snonce>,s=<salt>,i=<n>") to `out`. `cred` is the user's stored
 * credential, or NULL for an unknown user (a mock credential is used and client-final will fail).
 * `snonce` NULL draws 18 random bytes (144 bits) printed as base64; a fixed value is for test
 * vectors only. Returns 0, or -1 with `*err` (e.g. stored iterations below the minimum).
 */
int st_scram_server_first(struct st_scram_server *s, const struct st_scram_cred *cred,
                          const char *snonce, struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

/*
 * Verifies client-final: nonce = cnonce+snonce, c= = base64 of the received GS2 header, proof
 * length, then H(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey in constant time.
 * On success appends server-final ("v=<ServerSignature>") to `out` and returns 0; otherwise -1
 * with `*err` (the caller answers SASL_AUTHENTICATION_FAILED with Kafka's generic message).
 */
int st_scram_server_client_final(struct st_scram_server *s, const uint8_t *msg, size_t len,
                                 struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

/* ---- client */

struct st_scram_client; /* opaque exchange state */

/*
 * Starts a client exchange for `user` / `password` (raw bytes). `cnonce` NULL draws a random
 * nonce. Returns a new exchange; caller frees with st_scram_client_free(). NULL on bad input/OOM.
 */
struct st_scram_client *st_scram_client_new(enum st_scram_mech mech, const char *user,
                                            const char *password, size_t pw_len,
                                            const char *cnonce);
void st_scram_client_free(struct st_scram_client *c);

/* Appends client-first "n,,n=<saslname>,r=<cnonce>" to `out`. Returns 0 or -1. */
int st_scram_client_first(struct st_scram_client *c, struct st_buf *out)
    __attribute__((warn_unused_result));

/*
 * Parses server-first (nonce must extend ours; iterations within [4096, 65536] except SHA-1),
 * runs PBKDF2 and appends client-final to `out`. Returns 0, or -1 with `*err`.
 */
int st_scram_client_final(struct st_scram_client *c, const uint8_t *server_first, size_t len,
                          struct st_buf *out, const char **err) __attribute__((warn_unused_result));

/* Checks server-final's v= against the expected ServerSignature. Returns 0, or -1 with `*err`. */
int st_scram_client_verify(struct st_scram_client *c, const uint8_t *server_final, size_t len,
                           const char **err) __attribute__((warn_unused_result));

#endif

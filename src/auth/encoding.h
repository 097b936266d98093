/*
 * Byte <-> text encodings used by the authentication code: base64 (RFC 4648 §4, SCRAM), base64url
 * (RFC 4648 §5, OAUTHBEARER tokens), lower-case hex (SigV4 signatures and hashes) and SigV4 URI
 * percent-encoding (RFC 3986 unreserved set, upper-case hex) plus strict percent-decoding.
 *
 * All decoders are strict: they reject characters outside the alphabet, misplaced padding and
 * non-zero trailing bits, and never read past the given length. No function allocates except
 * through a caller-supplied struct st_buf.
 */
#ifndef ST_AUTH_ENCODING_H
#define ST_AUTH_ENCODING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Characters needed to base64-encode `n` bytes with padding (no terminating NUL). */
static inline size_t
st_b64_encoded_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

/* Upper bound of the bytes produced by decoding `n` base64/base64url characters. */
static inline size_t
st_b64_decoded_max(size_t n)
{
    return (n + 3) / 4 * 3;
}

/*
 * Encodes `n` bytes of `in` as padded standard base64 into `out` (capacity `cap`, NUL-terminated).
 * Returns the number of characters written (without the NUL), or -1 if `cap` is too small.
 */
long st_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
    __attribute__((warn_unused_result));

/*
 * Decodes padded standard base64 (`A-Za-z0-9+/`, length a multiple of 4, `=` only as the final one
 * or two characters, unused trailing bits zero). Writes at most `cap` bytes to `out`.
 * Returns the decoded length, or -1 with `*err` set.
 */
long st_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, const char **err)
    __attribute__((warn_unused_result));

/*
 * Encodes as base64url without padding (`A-Za-z0-9-_`), NUL-terminated.
 * Returns the number of characters written, or -1 if `cap` is too small.
 */
long st_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
    __attribute__((warn_unused_result));

/*
 * Decodes base64url. Padding is optional (the MSK signers strip it); when present it must be
 * correct. A length of 1 mod 4 and non-zero trailing bits are rejected.
 * Returns the decoded length, or -1 with `*err` set.
 */
long st_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, const char **err)
    __attribute__((warn_unused_result));

/* Writes 2*n lower-case hex digits and a NUL into `out` (which must hold 2*n+1 bytes). */
void st_hex_encode(const uint8_t *in, size_t n, char *out);

/*
 * Decodes exactly 2*`outlen` hex digits (either case) from `in` of length `n`. Returns 0, or -1
 * if `n != 2*outlen` or a character is not hex.
 */
int st_hex_decode(const char *in, size_t n, uint8_t *out, size_t outlen)
    __attribute__((warn_unused_result));

/* True for the RFC 3986 unreserved characters `A-Za-z0-9-._~`. */
static inline bool
st_uri_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

/*
 * Appends the SigV4 URI encoding of `s[0..n)` to `out`: unreserved characters stay, every other
 * byte becomes `%XX` (upper-case hex). With `keep_slash`, `/` also stays (canonical URI).
 * Returns 0, or -1 if the buffer cannot grow.
 */
int st_uri_encode(struct st_buf *out, const char *s, size_t n, bool keep_slash)
    __attribute__((warn_unused_result));

/*
 * Appends the percent-decoding of `s[0..n)` to `out`. `%` must be followed by two hex digits;
 * with `plus_is_space`, `+` decodes to a space (HTML form decoding, as query strings use).
 * Returns 0, or -1 with `*err` set (bad escape, or the buffer cannot grow).
 */
int st_uri_decode(struct st_buf *out, const char *s, size_t n, bool plus_is_space, const char **err)
    __attribute__((warn_unused_result));

#endif

/*
 * Strict base64 / base64url / hex / percent-encoding for the authentication code. The decoders
 * are table-driven, reject anything non-canonical and never read past the given length.
 */
#include "auth/encoding.h"

#include <string.h>

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

static long
b64_encode_alpha(const char *alpha, bool pad, const uint8_t *in, size_t n, char *out, size_t cap)
{
    size_t need = pad ? st_b64_encoded_len(n) : (n / 3) * 4 + (n % 3 ? n % 3 + 1 : 0);
    if (cap < need + 1)
        return -1;
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        out[o++] = alpha[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        if (pad) {
            out[o++] = '=';
            out[o++] = '=';
        }
    } else if (n - i == 2) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8);
        out[o++] = alpha[(v >> 18) & 63];
        out[o++] = alpha[(v >> 12) & 63];
        out[o++] = alpha[(v >> 6) & 63];
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return (long)o;
}

long
st_b64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    return b64_encode_alpha(b64_std, true, in, n, out, cap);
}

long
st_b64url_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    return b64_encode_alpha(b64_url, false, in, n, out, cap);
}

static int
b64_value(unsigned char c, bool url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* Decodes `n` characters (no padding among them) of the given alphabet. */
static long
b64_decode_core(const char *in, size_t n, bool url, uint8_t *out, size_t cap, const char **err)
{
    if (n % 4 == 1) {
        *err = "base64: truncated input";
        return -1;
    }
    size_t need = n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0);
    if (need > cap) {
        *err = "base64: output too large";
        return -1;
    }
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i], url);
        if (v < 0) {
            *err = "base64: invalid character";
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) {
        *err = "base64: non-zero trailing bits";
        return -1;
    }
    return (long)o;
}

long
st_b64_decode(const char *in, size_t n, uint8_t *out, size_t cap, const char **err)
{
    if (n % 4 != 0) {
        *err = "base64: length is not a multiple of 4";
        return -1;
    }
    size_t data = n;
    if (data > 0 && in[data - 1] == '=') {
        data--;
        if (data > 0 && in[data - 1] == '=')
            data--;
    }
    if (n - data > 0 && data % 4 < 2) {
        *err = "base64: bad padding";
        return -1;
    }
    return b64_decode_core(in, data, false, out, cap, err);
}

long
st_b64url_decode(const char *in, size_t n, uint8_t *out, size_t cap, const char **err)
{
    size_t data = n;
    if (data > 0 && in[data - 1] == '=') {
        if (n % 4 != 0) {
            *err = "base64url: bad padding";
            return -1;
        }
        data--;
        if (data > 0 && in[data - 1] == '=')
            data--;
        if (data % 4 < 2) {
            *err = "base64url: bad padding";
            return -1;
        }
    }
    return b64_decode_core(in, data, true, out, cap, err);
}

void
st_hex_encode(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex_lower[in[i] >> 4];
        out[2 * i + 1] = hex_lower[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static int
hex_value(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
st_hex_decode(const char *in, size_t n, uint8_t *out, size_t outlen)
{
    if (n != 2 * outlen)
        return -1;
    for (size_t i = 0; i < outlen; i++) {
        int hi = hex_value((unsigned char)in[2 * i]);
        int lo = hex_value((unsigned char)in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

int
st_uri_encode(struct st_buf *out, const char *s, size_t n, bool keep_slash)
{
    if (n == 0)
        return 0;
    /* Worst case every byte triples; reserve once. */
    if (n > SIZE_MAX / 3 || st_buf_reserve(out, n * 3) != 0)
        return -1;
    uint8_t *w = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (st_uri_unreserved(c) || (keep_slash && c == '/')) {
            *w++ = c;
        } else {
            *w++ = '%';
            *w++ = (uint8_t)hex_upper[c >> 4];
            *w++ = (uint8_t)hex_upper[c & 15];
        }
    }
    out->len = (size_t)(w - out->data);
    return 0;
}

int
st_uri_decode(struct st_buf *out, const char *s, size_t n, bool plus_is_space, const char **err)
{
    if (n == 0)
        return 0;
    if (st_buf_reserve(out, n) != 0) {
        *err = "out of memory";
        return -1;
    }
    uint8_t *w = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (n - i < 3) {
                *err = "truncated percent escape";
                return -1;
            }
            int hi = hex_value((unsigned char)s[i + 1]);
            int lo = hex_value((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                *err = "invalid percent escape";
                return -1;
            }
            *w++ = (uint8_t)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            *w++ = ' ';
        } else {
            *w++ = c;
        }
    }
    out->len = (size_t)(w - out->data);
    return 0;
}

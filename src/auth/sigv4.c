/*
 * AWS Signature Version 4: canonical request, string to sign, signing key and the two request
 * forms (header-signed HTTP and query-presigned). Signing and verification go through the same
 * canonicalization and signature functions (canonical_*, compute_signature) so they cannot drift.
 * See sigv4.h and docs/internals/auth.md.
 */
#include "auth/sigv4.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/crypto.h"
#include "auth/encoding.h"

/* Limits on what a request may carry; real SDK requests use a fraction of them. */
#define MAX_PARAMS ST_SIGV4_MAX_PARAMS
#define MAX_HEADERS 128
#define MAX_SIGNED_HEADERS_LEN 4096

/* ---------------------------------------------------------------- small helpers */

static bool
ieq(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x >= 'A' && x <= 'Z')
            x = (unsigned char)(x + 32);
        if (y >= 'A' && y <= 'Z')
            y = (unsigned char)(y + 32);
        if (x != y)
            return false;
    }
    return true;
}

static bool
eq(const char *a, size_t alen, const char *b)
{
    return alen == strlen(b) && memcmp(a, b, alen) == 0;
}

static bool
is_ws(char c)
{
    return c == ' ' || c == '\t';
}

static int
fail(struct st_sigv4_identity *id, enum st_sigv4_status st, const char **err, const char *msg)
{
    if (id != NULL)
        id->status = st;
    *err = msg;
    return -1;
}

static int
buf_puts(struct st_buf *b, const char *s)
{
    return st_buf_append(b, s, strlen(s));
}

/* Appends a NUL without counting it, so b->data can be used as a C string. */
static int
buf_terminate(struct st_buf *b)
{
    if (st_buf_reserve(b, 1) != 0)
        return -1;
    b->data[b->len] = '\0';
    return 0;
}

void
st_sigv4_identity_clear(struct st_sigv4_identity *id)
{
    if (id->session_token != NULL) {
        OPENSSL_cleanse(id->session_token, id->session_token_len);
        free(id->session_token);
    }
    memset(id, 0, sizeof(*id));
}

int64_t
st_sigv4_remaining_ms(const struct st_sigv4_identity *id, time_t now)
{
    if (id->expires_ms <= 0)
        return -1;
    int64_t left = id->signed_at * 1000 + id->expires_ms - (int64_t)now * 1000;
    return left > 0 ? left : 0;
}

static int
set_token(struct st_sigv4_identity *id, const char *tok, size_t len)
{
    if (id->session_token != NULL) {
        free(id->session_token);
        id->session_token = NULL;
    }
    id->session_token = malloc(len + 1);
    if (id->session_token == NULL)
        return -1;
    memcpy(id->session_token, tok, len);
    id->session_token[len] = '\0';
    id->session_token_len = len;
    return 0;
}

/* ---------------------------------------------------------------- dates */

static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool
digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

static unsigned
days_in_month(unsigned y, unsigned m)
{
    static const unsigned dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

int
st_sigv4_parse_amz_date(const char *s, size_t len, int64_t *out)
{
    unsigned y, mo, d, h, mi, se;
    if (len != 16 || s[8] != 'T' || s[15] != 'Z')
        return -1;
    if (!digits(s, 4, &y) || !digits(s + 4, 2, &mo) || !digits(s + 6, 2, &d) ||
        !digits(s + 9, 2, &h) || !digits(s + 11, 2, &mi) || !digits(s + 13, 2, &se))
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

/* Parses an IMF-fixdate ("Fri, 27 Nov 2026 07:01:50 GMT", RFC 9110 §5.6.7). */
static int
parse_http_date(const char *s, size_t len, int64_t *out)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    static const char days[] = "MonTueWedThuFriSatSun";
    unsigned d, y, h, mi, se, mo = 0;
    if (len != 29 || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' ||
        s[19] != ':' || s[22] != ':' || s[25] != ' ' || memcmp(s + 26, "GMT", 3) != 0)
        return -1;
    bool day_ok = false;
    for (size_t i = 0; i < 7; i++)
        day_ok |= memcmp(s, days + 3 * i, 3) == 0;
    for (unsigned i = 0; i < 12; i++) {
        if (memcmp(s + 8, months + 3 * i, 3) == 0)
            mo = i + 1;
    }
    if (!day_ok || mo == 0 || !digits(s + 5, 2, &d) || !digits(s + 12, 4, &y) ||
        !digits(s + 17, 2, &h) || !digits(s + 20, 2, &mi) || !digits(s + 23, 2, &se))
        return -1;
    if (y < 1970 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return -1;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
    return 0;
}

void
st_sigv4_format_amz_date(int64_t t, char out[17])
{
    int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    int64_t secs = t - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = 0;
    /* Format through a roomy buffer: gcc cannot see that every field fits its width. */
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%04u%02u%02uT%02u%02u%02uZ", (unsigned)y % 10000u, m % 100u,
             d % 100u, (unsigned)(secs / 3600) % 100u, (unsigned)(secs / 60 % 60),
             (unsigned)(secs % 60));
    memcpy(out, tmp, 16);
    out[16] = '\0';
}

/* ---------------------------------------------------------------- credential / authorization */

static bool
scope_token_ok(const char *s, size_t n, size_t max, bool akid)
{
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                  (akid ? ((c >= 'A' && c <= 'Z') || c == '_') : c == '-');
        if (!ok)
            return false;
    }
    return true;
}

int
st_sigv4_parse_credential(const char *s, size_t len, struct st_sigv4_identity *id, const char **err)
{
    const char *part[5];
    size_t plen[5];
    size_t np = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            if (np == 5) {
                *err = "credential scope must have 5 parts";
                return -1;
            }
            part[np] = s + start;
            plen[np] = i - start;
            np++;
            start = i + 1;
        }
    }
    if (np != 5) {
        *err = "credential scope must have 5 parts";
        return -1;
    }
    if (!scope_token_ok(part[0], plen[0], ST_SIGV4_MAX_AKID, true)) {
        *err = "malformed access key id";
        return -1;
    }
    char dt[17];
    int64_t t;
    if (plen[1] != 8) {
        *err = "malformed credential scope date";
        return -1;
    }
    memcpy(dt, part[1], 8);
    memcpy(dt + 8, "T000000Z", 8);
    if (st_sigv4_parse_amz_date(dt, 16, &t) != 0) {
        *err = "malformed credential scope date";
        return -1;
    }
    if (!scope_token_ok(part[2], plen[2], ST_SIGV4_MAX_REGION, false)) {
        *err = "malformed credential scope region";
        return -1;
    }
    if (!scope_token_ok(part[3], plen[3], ST_SIGV4_MAX_SERVICE, false)) {
        *err = "malformed credential scope service";
        return -1;
    }
    if (!eq(part[4], plen[4], ST_SIGV4_TERMINATOR)) {
        *err = "credential scope must end in aws4_request";
        return -1;
    }
    memcpy(id->access_key_id, part[0], plen[0]);
    id->access_key_id[plen[0]] = '\0';
    memcpy(id->date, part[1], 8);
    id->date[8] = '\0';
    memcpy(id->region, part[2], plen[2]);
    id->region[plen[2]] = '\0';
    memcpy(id->service, part[3], plen[3]);
    id->service[plen[3]] = '\0';
    return 0;
}

int
st_sigv4_parse_authorization(const char *value, size_t len, struct st_sigv4_authz *out,
                             const char **err)
{
    static const char alg[] = ST_SIGV4_ALGORITHM;
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < len && is_ws(value[i]))
        i++;
    size_t a = i;
    while (i < len && !is_ws(value[i]))
        i++;
    if (!eq(value + a, i - a, alg)) {
        *err = "unsupported signature algorithm";
        return -1;
    }
    if (i == len) {
        *err = "malformed Authorization header";
        return -1;
    }
    while (i < len) {
        while (i < len && (is_ws(value[i]) || value[i] == ','))
            i++;
        if (i == len)
            break;
        size_t ks = i;
        while (i < len && value[i] != '=' && value[i] != ',')
            i++;
        if (i == len || value[i] != '=') {
            *err = "malformed Authorization header";
            return -1;
        }
        size_t kl = i - ks;
        i++;
        size_t vs = i;
        while (i < len && value[i] != ',' && !is_ws(value[i]))
            i++;
        size_t vl = i - vs;
        const char **dst;
        size_t *dlen;
        if (eq(value + ks, kl, "Credential")) {
            dst = &out->credential;
            dlen = &out->credential_len;
        } else if (eq(value + ks, kl, "SignedHeaders")) {
            dst = &out->signed_headers;
            dlen = &out->signed_headers_len;
        } else if (eq(value + ks, kl, "Signature")) {
            dst = &out->signature;
            dlen = &out->signature_len;
        } else {
            *err = "unknown component in Authorization header";
            return -1;
        }
        if (*dst != NULL) {
            *err = "duplicate component in Authorization header";
            return -1;
        }
        if (vl == 0) {
            *err = "empty component in Authorization header";
            return -1;
        }
        *dst = value + vs;
        *dlen = vl;
        /* Only separators may follow a value. */
        while (i < len && is_ws(value[i]))
            i++;
        if (i < len && value[i] != ',') {
            *err = "malformed Authorization header";
            return -1;
        }
    }
    if (out->credential == NULL || out->signed_headers == NULL || out->signature == NULL) {
        *err = "Authorization header lacks Credential, SignedHeaders or Signature";
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- canonicalization */

int
st_sigv4_canonical_uri(struct st_buf *out, const char *path, size_t len)
{
    if (len == 0)
        return buf_puts(out, "/");
    /* botocore remove_dot_segments: drop empty and "." segments, ".." pops. */
    size_t nseg = 0;
    for (size_t i = 0; i < len; i++)
        nseg += path[i] == '/';
    nseg++;
    size_t *so = malloc(nseg * sizeof(*so) * 2);
    if (so == NULL)
        return -1;
    size_t *sl = so + nseg;
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && path[i] != '/')
            continue;
        size_t l = i - start;
        if (l == 0 || (l == 1 && path[start] == '.')) {
            /* skip */
        } else if (l == 2 && path[start] == '.' && path[start + 1] == '.') {
            if (n > 0)
                n--;
        } else {
            so[n] = start;
            sl[n] = l;
            n++;
        }
        start = i + 1;
    }
    int rc = 0;
    if (path[0] == '/')
        rc |= buf_puts(out, "/");
    for (size_t k = 0; k < n && rc == 0; k++) {
        if (k > 0)
            rc |= buf_puts(out, "/");
        /* Encode again; '~' is unreserved so it stays, '%' becomes %25. */
        rc |= st_uri_encode(out, path + so[k], sl[k], false);
    }
    if (rc == 0 && path[len - 1] == '/' && n > 0)
        rc |= buf_puts(out, "/");
    free(so);
    return rc ? -1 : 0;
}

struct qpair {
    size_t off;  /* offset of the encoded name in the scratch buffer */
    size_t nlen; /* encoded name length */
    size_t vlen; /* encoded value length (value follows the name) */
};

static int
qpair_cmp(const void *a, const void *b, void *arg)
{
    const struct qpair *x = a, *y = b;
    const uint8_t *base = arg;
    size_t m = x->nlen < y->nlen ? x->nlen : y->nlen;
    int c = memcmp(base + x->off, base + y->off, m);
    if (c != 0)
        return c;
    if (x->nlen != y->nlen)
        return x->nlen < y->nlen ? -1 : 1;
    m = x->vlen < y->vlen ? x->vlen : y->vlen;
    c = memcmp(base + x->off + x->nlen, base + y->off + y->nlen, m);
    if (c != 0)
        return c;
    return x->vlen == y->vlen ? 0 : (x->vlen < y->vlen ? -1 : 1);
}

/* Encodes, sorts and joins decoded parameters, skipping those `skip` marks. */
static int
canonical_query_params(struct st_buf *out, const struct st_sigv4_param *p, size_t n,
                       const bool *skip)
{
    if (n > MAX_PARAMS)
        return -1;
    struct qpair pairs[MAX_PARAMS];
    struct st_buf scratch = ST_BUF_INIT;
    size_t np = 0;
    /* Never leave scratch.data NULL: the comparator offsets from it even for empty pairs. */
    int rc = st_buf_reserve(&scratch, 1);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (skip != NULL && skip[i])
            continue;
        size_t off = scratch.len;
        rc |= st_uri_encode(&scratch, p[i].name, p[i].name_len, false);
        size_t mid = scratch.len;
        rc |= st_uri_encode(&scratch, p[i].value, p[i].value_len, false);
        pairs[np].off = off;
        pairs[np].nlen = mid - off;
        pairs[np].vlen = scratch.len - mid;
        np++;
    }
    if (rc == 0 && np > 0) {
        qsort_r(pairs, np, sizeof(pairs[0]), qpair_cmp, scratch.data);
        for (size_t i = 0; i < np && rc == 0; i++) {
            if (i > 0)
                rc |= buf_puts(out, "&");
            rc |= st_buf_append(out, scratch.data + pairs[i].off, pairs[i].nlen);
            rc |= buf_puts(out, "=");
            rc |= st_buf_append(out, scratch.data + pairs[i].off + pairs[i].nlen, pairs[i].vlen);
        }
    }
    st_buf_free(&scratch);
    return rc ? -1 : 0;
}

long
st_sigv4_split_query(const char *q, size_t len, struct st_buf *store, struct st_sigv4_param *p,
                     const char **err)
{
    if (st_buf_reserve(store, len + 1) != 0) {
        *err = "out of memory";
        return -1;
    }
    size_t n = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && q[i] != '&')
            continue;
        if (i > start) {
            if (n == MAX_PARAMS) {
                *err = "too many query parameters";
                return -1;
            }
            const char *seg = q + start;
            size_t sl = i - start;
            const char *eqp = memchr(seg, '=', sl);
            size_t nl = eqp ? (size_t)(eqp - seg) : sl;
            size_t no = store->len;
            if (st_uri_decode(store, seg, nl, true, err) != 0)
                return -1;
            size_t vo = store->len;
            if (eqp != NULL && st_uri_decode(store, eqp + 1, sl - nl - 1, true, err) != 0)
                return -1;
            p[n].name = (const char *)store->data + no;
            p[n].name_len = vo - no;
            p[n].value = (const char *)store->data + vo;
            p[n].value_len = store->len - vo;
            n++;
        }
        start = i + 1;
    }
    return (long)n;
}

int
st_sigv4_canonical_query(struct st_buf *out, const char *query, size_t len, const char **err)
{
    struct st_buf store = ST_BUF_INIT;
    struct st_sigv4_param p[MAX_PARAMS];
    long n = st_sigv4_split_query(query, len, &store, p, err);
    int rc = -1;
    if (n >= 0) {
        rc = canonical_query_params(out, p, (size_t)n, NULL);
        if (rc != 0)
            *err = "out of memory";
    }
    st_buf_free(&store);
    return rc;
}

static bool
header_token_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Appends a header value trimmed, with inner whitespace runs collapsed to one space. */
static int
append_header_value(struct st_buf *out, const char *v, size_t n)
{
    size_t s = 0, e = n;
    while (s < e && is_ws(v[s]))
        s++;
    while (e > s && is_ws(v[e - 1]))
        e--;
    bool in_ws = false;
    for (size_t i = s; i < e; i++) {
        if (is_ws(v[i])) {
            in_ws = true;
            continue;
        }
        if (in_ws && st_buf_append_u8(out, ' ') != 0)
            return -1;
        in_ws = false;
        if (st_buf_append_u8(out, (uint8_t)v[i]) != 0)
            return -1;
    }
    return 0;
}

/* Appends "name:value\n" for each signed header; validates the SignedHeaders list. */
static int
canonical_headers(struct st_buf *out, const struct st_sigv4_header *h, size_t nh, const char *sh,
                  size_t shlen, const char **err)
{
    if (shlen == 0 || shlen > MAX_SIGNED_HEADERS_LEN) {
        *err = "malformed SignedHeaders";
        return -1;
    }
    const char *prev = NULL;
    size_t prevlen = 0, start = 0;
    for (size_t i = 0; i <= shlen; i++) {
        if (i < shlen && sh[i] != ';') {
            if (!header_token_char((unsigned char)sh[i])) {
                *err = "malformed SignedHeaders";
                return -1;
            }
            continue;
        }
        const char *name = sh + start;
        size_t nl = i - start;
        start = i + 1;
        if (nl == 0) {
            *err = "malformed SignedHeaders";
            return -1;
        }
        if (prev != NULL) {
            size_t m = nl < prevlen ? nl : prevlen;
            int c = memcmp(prev, name, m);
            if (c > 0 || (c == 0 && prevlen >= nl)) {
                *err = "SignedHeaders not sorted or duplicated";
                return -1;
            }
        }
        prev = name;
        prevlen = nl;
        if (st_buf_append(out, name, nl) != 0 || st_buf_append_u8(out, ':') != 0)
            goto oom;
        bool found = false;
        for (size_t k = 0; k < nh; k++) {
            if (h[k].name_len != nl)
                continue;
            bool same = true;
            for (size_t j = 0; j < nl && same; j++) {
                unsigned char c = (unsigned char)h[k].name[j];
                if (c >= 'A' && c <= 'Z')
                    c = (unsigned char)(c + 32);
                same = c == (unsigned char)name[j];
            }
            if (!same)
                continue;
            if (found && st_buf_append_u8(out, ',') != 0)
                goto oom;
            if (append_header_value(out, h[k].value, h[k].value_len) != 0)
                goto oom;
            found = true;
        }
        if (!found) {
            *err = "signed header missing from request";
            return -1;
        }
        if (st_buf_append_u8(out, '\n') != 0)
            goto oom;
    }
    return 0;
oom:
    *err = "out of memory";
    return -1;
}

int
st_sigv4_canonical_request_http(struct st_buf *out, const struct st_sigv4_http *req,
                                const char *signed_headers, size_t signed_headers_len,
                                const char *payload_hash, const char **err)
{
    *err = "out of memory";
    if (req->method == NULL || req->method[0] == '\0') {
        *err = "missing method";
        return -1;
    }
    if (buf_puts(out, req->method) != 0 || buf_puts(out, "\n") != 0)
        return -1;
    if (st_sigv4_canonical_uri(out, req->path, req->path_len) != 0 || buf_puts(out, "\n") != 0)
        return -1;
    if (req->query != NULL && req->query_len > 0 &&
        st_sigv4_canonical_query(out, req->query, req->query_len, err) != 0)
        return -1;
    if (buf_puts(out, "\n") != 0)
        return -1;
    if (canonical_headers(out, req->headers, req->n_headers, signed_headers, signed_headers_len,
                          err) != 0)
        return -1;
    *err = "out of memory";
    if (buf_puts(out, "\n") != 0 || st_buf_append(out, signed_headers, signed_headers_len) != 0 ||
        buf_puts(out, "\n") != 0 || buf_puts(out, payload_hash) != 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- signing key and signature */

int
st_sigv4_signing_key(const char *secret, size_t secret_len, const char *date, const char *region,
                     const char *service, uint8_t key[32])
{
    if (secret_len > 4096)
        return -1;
    uint8_t k0[4 + 4096];
    uint8_t a[32], b[32];
    memcpy(k0, "AWS4", 4);
    memcpy(k0 + 4, secret, secret_len);
    int rc = st_hmac(ST_MD_SHA256, k0, 4 + secret_len, date, strlen(date), a);
    rc |= st_hmac(ST_MD_SHA256, a, 32, region, strlen(region), b);
    rc |= st_hmac(ST_MD_SHA256, b, 32, service, strlen(service), a);
    rc |= st_hmac(ST_MD_SHA256, a, 32, ST_SIGV4_TERMINATOR, strlen(ST_SIGV4_TERMINATOR), key);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(a, sizeof(a));
    OPENSSL_cleanse(b, sizeof(b));
    return rc ? -1 : 0;
}

int
st_sigv4_sha256_hex(const void *data, size_t n, char hex[65])
{
    uint8_t d[32];
    if (st_digest(ST_MD_SHA256, data, n, d) != 0)
        return -1;
    st_hex_encode(d, 32, hex);
    return 0;
}

/* signature = HMAC(kSigning, "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\nhex(SHA256(creq))"). */
static int
compute_signature(const char *secret, size_t secret_len, const char *amz_date, const char *date,
                  const char *region, const char *service, const struct st_buf *creq,
                  uint8_t sig[32])
{
    char hash[65];
    if (st_sigv4_sha256_hex(creq->data ? (const void *)creq->data : "", creq->len, hash) != 0)
        return -1;
    char sts[512];
    int n = snprintf(sts, sizeof(sts), "%s\n%s\n%s/%s/%s/%s\n%s", ST_SIGV4_ALGORITHM, amz_date,
                     date, region, service, ST_SIGV4_TERMINATOR, hash);
    if (n < 0 || (size_t)n >= sizeof(sts))
        return -1;
    uint8_t key[32];
    if (st_sigv4_signing_key(secret, secret_len, date, region, service, key) != 0)
        return -1;
    int rc = st_hmac(ST_MD_SHA256, key, 32, sts, (size_t)n, sig);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

void
st_sigv4_pending_clear(struct st_sigv4_pending *pd)
{
    st_buf_free(&pd->creq);
    memset(pd, 0, sizeof(*pd));
}

/* Decodes the given signature into the pending state and takes ownership of `creq`. */
static int
pend(struct st_sigv4_pending *pd, struct st_buf *creq, const char *sig_hex, size_t sig_len,
     struct st_sigv4_identity *id, const char **err)
{
    if (st_hex_decode(sig_hex, sig_len, pd->signature, sizeof(pd->signature)) != 0) {
        st_buf_free(creq);
        return fail(id, ST_SIGV4_MALFORMED, err, "malformed signature");
    }
    pd->creq = *creq;
    *creq = (struct st_buf)ST_BUF_INIT;
    return 0;
}

int
st_sigv4_finish(const struct st_sigv4_pending *pd, const struct st_sigv4_secret *s,
                struct st_sigv4_identity *id, const char **err)
{
    uint8_t want[32];
    if (s == NULL || s->secret == NULL)
        return fail(id, ST_SIGV4_UNKNOWN_KEY, err, "unknown access key");
    if (s->session_token == NULL) {
        if (id->session_token != NULL)
            return fail(id, ST_SIGV4_BAD_TOKEN, err, "unexpected security token");
    } else {
        if (id->session_token == NULL)
            return fail(id, ST_SIGV4_BAD_TOKEN, err, "missing security token");
        if (s->session_token_len != id->session_token_len ||
            CRYPTO_memcmp(s->session_token, id->session_token, s->session_token_len) != 0)
            return fail(id, ST_SIGV4_BAD_TOKEN, err, "security token does not match");
    }
    if (pd->creq.len == 0 || compute_signature(s->secret, s->secret_len, id->amz_date, id->date,
                                               id->region, id->service, &pd->creq, want) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "signature computation failed");
    if (CRYPTO_memcmp(pd->signature, want, sizeof(want)) != 0)
        return fail(id, ST_SIGV4_BAD_SIGNATURE, err, "signature does not match");
    id->principal = s->principal;
    id->status = ST_SIGV4_OK;
    return 0;
}

int
st_sigv4_complete(const struct st_sigv4_verifier *v, struct st_sigv4_pending *pd,
                  struct st_sigv4_identity *id, const char **err)
{
    struct st_sigv4_secret s;
    memset(&s, 0, sizeof(s));
    int rc;
    if (v->lookup == NULL || v->lookup(v->lookup_arg, id->access_key_id, id->session_token,
                                       id->session_token_len, &s) != 0)
        rc = fail(id, ST_SIGV4_UNKNOWN_KEY, err, "unknown access key");
    else
        rc = st_sigv4_finish(pd, &s, id, err);
    st_sigv4_pending_clear(pd);
    return rc;
}

/* Scope checks common to both forms, after the credential and date are parsed. */
static int
check_scope(const struct st_sigv4_verifier *v, struct st_sigv4_identity *id, const char **err)
{
    if (v->service == NULL || strcmp(id->service, v->service) != 0)
        return fail(id, ST_SIGV4_SCOPE, err, "credential scope has the wrong service");
    if (v->region == NULL || strcmp(id->region, v->region) != 0)
        return fail(id, ST_SIGV4_SCOPE, err, "credential scope has the wrong region");
    if (memcmp(id->date, id->amz_date, 8) != 0)
        return fail(id, ST_SIGV4_SCOPE, err, "credential scope date does not match X-Amz-Date");
    return 0;
}

/* ---------------------------------------------------------------- header form */

/* Finds the single header named `name`; -2 if it occurs more than once, -1 if absent. */
static int
find_header(const struct st_sigv4_http *req, const char *name, const struct st_sigv4_header **out)
{
    *out = NULL;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (ieq(req->headers[i].name, req->headers[i].name_len, name)) {
            if (*out != NULL)
                return -2;
            *out = &req->headers[i];
        }
    }
    return *out ? 0 : -1;
}

static void
trim(const char **s, size_t *n)
{
    while (*n > 0 && is_ws(**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && is_ws((*s)[*n - 1]))
        (*n)--;
}

static bool
list_has(const char *list, size_t len, const char *name)
{
    size_t nl = strlen(name), start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || list[i] == ';') {
            if (i - start == nl && memcmp(list + start, name, nl) == 0)
                return true;
            start = i + 1;
        }
    }
    return false;
}

int
st_sigv4_prepare_http(const struct st_sigv4_verifier *v, const struct st_sigv4_http *req,
                      time_t now, struct st_sigv4_identity *id, struct st_sigv4_pending *pd,
                      const char **err)
{
    memset(id, 0, sizeof(*id));
    memset(pd, 0, sizeof(*pd));
    if (req->n_headers > MAX_HEADERS)
        return fail(id, ST_SIGV4_MALFORMED, err, "too many headers");
    const struct st_sigv4_header *h;
    int r = find_header(req, "authorization", &h);
    if (r == -1)
        return fail(id, ST_SIGV4_MALFORMED, err, "missing Authorization header");
    if (r == -2)
        return fail(id, ST_SIGV4_MALFORMED, err, "duplicate Authorization header");
    struct st_sigv4_authz az;
    if (st_sigv4_parse_authorization(h->value, h->value_len, &az, err) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, *err);
    if (st_sigv4_parse_credential(az.credential, az.credential_len, id, err) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, *err);

    /* X-Amz-Date, or else the HTTP Date header (IMF-fixdate), as AWS accepts. */
    const char *date_header = "x-amz-date";
    r = find_header(req, "x-amz-date", &h);
    if (r == -2)
        return fail(id, ST_SIGV4_MALFORMED, err, "duplicate X-Amz-Date header");
    if (r == -1) {
        date_header = "date";
        r = find_header(req, "date", &h);
        if (r != 0)
            return fail(id, ST_SIGV4_MALFORMED, err,
                        r == -1 ? "missing X-Amz-Date header" : "duplicate Date header");
    }
    const char *dv = h->value;
    size_t dl = h->value_len;
    trim(&dv, &dl);
    if (date_header[0] == 'x') {
        if (st_sigv4_parse_amz_date(dv, dl, &id->signed_at) != 0)
            return fail(id, ST_SIGV4_MALFORMED, err, "malformed X-Amz-Date");
        memcpy(id->amz_date, dv, 16);
        id->amz_date[16] = '\0';
    } else {
        if (parse_http_date(dv, dl, &id->signed_at) != 0)
            return fail(id, ST_SIGV4_MALFORMED, err, "malformed Date header");
        st_sigv4_format_amz_date(id->signed_at, id->amz_date);
    }
    if (check_scope(v, id, err) != 0)
        return -1;
    if ((int64_t)now > id->signed_at + v->max_skew)
        return fail(id, ST_SIGV4_EXPIRED, err, "request expired");
    if ((int64_t)now < id->signed_at - v->max_skew)
        return fail(id, ST_SIGV4_EXPIRED, err, "request date is in the future");

    if (!list_has(az.signed_headers, az.signed_headers_len, "host"))
        return fail(id, ST_SIGV4_MALFORMED, err, "host is not a signed header");
    if (!list_has(az.signed_headers, az.signed_headers_len, date_header))
        return fail(id, ST_SIGV4_MALFORMED, err,
                    date_header[0] == 'x' ? "x-amz-date is not a signed header"
                                          : "date is not a signed header");

    r = find_header(req, "x-amz-security-token", &h);
    if (r == -2)
        return fail(id, ST_SIGV4_MALFORMED, err, "duplicate X-Amz-Security-Token header");
    if (r == 0) {
        const char *tv = h->value;
        size_t tl = h->value_len;
        trim(&tv, &tl);
        if (tl == 0 || tl > ST_SIGV4_MAX_TOKEN)
            return fail(id, ST_SIGV4_BAD_TOKEN, err, "malformed security token");
        if (!list_has(az.signed_headers, az.signed_headers_len, "x-amz-security-token"))
            return fail(id, ST_SIGV4_MALFORMED, err, "x-amz-security-token is not signed");
        if (set_token(id, tv, tl) != 0)
            return fail(id, ST_SIGV4_MALFORMED, err, "out of memory");
    }

    char payload[65];
    if (st_sigv4_sha256_hex(req->body ? (const void *)req->body : "", req->body_len, payload) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "hash failed");
    r = find_header(req, "x-amz-content-sha256", &h);
    if (r == -2)
        return fail(id, ST_SIGV4_MALFORMED, err, "duplicate X-Amz-Content-SHA256 header");
    if (r == 0) {
        const char *cv = h->value;
        size_t cl = h->value_len;
        trim(&cv, &cl);
        if (eq(cv, cl, "UNSIGNED-PAYLOAD") || (cl >= 10 && memcmp(cv, "STREAMING-", 10) == 0))
            return fail(id, ST_SIGV4_BAD_SIGNATURE, err, "unsigned payload not accepted");
        if (!eq(cv, cl, payload))
            return fail(id, ST_SIGV4_BAD_SIGNATURE, err, "payload hash does not match body");
    }

    struct st_buf creq = ST_BUF_INIT;
    if (st_sigv4_canonical_request_http(&creq, req, az.signed_headers, az.signed_headers_len,
                                        payload, err) != 0) {
        st_buf_free(&creq);
        return fail(id, ST_SIGV4_MALFORMED, err, *err);
    }
    return pend(pd, &creq, az.signature, az.signature_len, id, err);
}

int
st_sigv4_verify_http(const struct st_sigv4_verifier *v, const struct st_sigv4_http *req, time_t now,
                     struct st_sigv4_identity *id, const char **err)
{
    struct st_sigv4_pending pd;
    if (st_sigv4_prepare_http(v, req, now, id, &pd, err) != 0)
        return -1;
    return st_sigv4_complete(v, &pd, id, err);
}

/* ---------------------------------------------------------------- query (presigned) form */

/* Parses "123" or "899.532" (seconds) into milliseconds; fractions below 1 ms are dropped. */
static int
parse_expires(const char *s, size_t n, int64_t *ms)
{
    int64_t whole = 0, frac = 0;
    size_t i = 0, fd = 0;
    if (n == 0 || n > 32)
        return -1;
    for (; i < n && s[i] != '.'; i++) {
        if (s[i] < '0' || s[i] > '9' || whole > 100000000)
            return -1;
        whole = whole * 10 + (s[i] - '0');
    }
    if (i == 0)
        return -1;
    if (i < n) {
        i++;
        if (i == n)
            return -1;
        for (; i < n; i++, fd++) {
            if (s[i] < '0' || s[i] > '9')
                return -1;
            if (fd < 3)
                frac = frac * 10 + (s[i] - '0');
        }
        for (; fd < 3; fd++)
            frac *= 10;
    }
    *ms = whole * 1000 + frac;
    return 0;
}

enum qp_kind {
    QP_ALGORITHM,
    QP_CREDENTIAL,
    QP_DATE,
    QP_EXPIRES,
    QP_SIGNED_HEADERS,
    QP_SIGNATURE,
    QP_TOKEN,
    QP_COUNT,
};

static const char *const qp_names[QP_COUNT] = {
    "X-Amz-Algorithm",     "X-Amz-Credential", "X-Amz-Date",           "X-Amz-Expires",
    "X-Amz-SignedHeaders", "X-Amz-Signature",  "X-Amz-Security-Token",
};

/* Builds GET\n<uri>\n<cq>\nhost:<host>\n\nhost\n<empty hash> for a presigned request. */
static int
canonical_request_presigned(struct st_buf *out, const char *host, size_t host_len, const char *path,
                            size_t path_len, const struct st_sigv4_param *p, size_t n,
                            const bool *skip)
{
    if (buf_puts(out, "GET\n") != 0 || st_sigv4_canonical_uri(out, path, path_len) != 0 ||
        buf_puts(out, "\n") != 0 || canonical_query_params(out, p, n, skip) != 0 ||
        buf_puts(out, "\nhost:") != 0 || append_header_value(out, host, host_len) != 0 ||
        buf_puts(out, "\n\nhost\n" ST_SIGV4_EMPTY_SHA256) != 0)
        return -1;
    return 0;
}

int
st_sigv4_prepare_presigned(const struct st_sigv4_verifier *v, const struct st_sigv4_presigned *p,
                           time_t now, struct st_sigv4_identity *id, struct st_sigv4_pending *pd,
                           const char **err)
{
    memset(id, 0, sizeof(*id));
    memset(pd, 0, sizeof(*pd));
    if (p->n_params > MAX_PARAMS)
        return fail(id, ST_SIGV4_MALFORMED, err, "too many query parameters");
    const struct st_sigv4_param *qp[QP_COUNT] = {0};
    bool skip[MAX_PARAMS] = {0};
    for (size_t i = 0; i < p->n_params; i++) {
        for (size_t j = 0; j < i; j++) {
            if (p->params[j].name_len == p->params[i].name_len &&
                memcmp(p->params[j].name, p->params[i].name, p->params[i].name_len) == 0)
                return fail(id, ST_SIGV4_MALFORMED, err, "duplicate query parameter");
        }
        for (int k = 0; k < QP_COUNT; k++) {
            if (eq(p->params[i].name, p->params[i].name_len, qp_names[k]))
                qp[k] = &p->params[i];
        }
        if (eq(p->params[i].name, p->params[i].name_len, "X-Amz-Signature") ||
            (p->exclude_user_agent && eq(p->params[i].name, p->params[i].name_len, "User-Agent")))
            skip[i] = true;
    }
    for (int k = 0; k < QP_COUNT; k++) {
        if (qp[k] == NULL && k != QP_TOKEN)
            return fail(id, ST_SIGV4_MALFORMED, err, "missing X-Amz-* query parameter");
    }
    if (!eq(qp[QP_ALGORITHM]->value, qp[QP_ALGORITHM]->value_len, ST_SIGV4_ALGORITHM))
        return fail(id, ST_SIGV4_SCOPE, err, "unsupported signature algorithm");
    if (st_sigv4_parse_credential(qp[QP_CREDENTIAL]->value, qp[QP_CREDENTIAL]->value_len, id,
                                  err) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, *err);
    if (st_sigv4_parse_amz_date(qp[QP_DATE]->value, qp[QP_DATE]->value_len, &id->signed_at) != 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "malformed X-Amz-Date");
    memcpy(id->amz_date, qp[QP_DATE]->value, 16);
    id->amz_date[16] = '\0';
    if (check_scope(v, id, err) != 0)
        return -1;
    if (!eq(qp[QP_SIGNED_HEADERS]->value, qp[QP_SIGNED_HEADERS]->value_len, "host"))
        return fail(id, ST_SIGV4_MALFORMED, err, "X-Amz-SignedHeaders must be host");
    if (parse_expires(qp[QP_EXPIRES]->value, qp[QP_EXPIRES]->value_len, &id->expires_ms) != 0 ||
        id->expires_ms <= 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "malformed X-Amz-Expires");
    if (id->expires_ms > v->max_expires * 1000)
        return fail(id, ST_SIGV4_EXPIRED, err, "X-Amz-Expires too large");
    if ((int64_t)now < id->signed_at - v->max_skew)
        return fail(id, ST_SIGV4_EXPIRED, err, "request date is in the future");
    if ((int64_t)now * 1000 > id->signed_at * 1000 + id->expires_ms)
        return fail(id, ST_SIGV4_EXPIRED, err, "request expired");
    if (qp[QP_TOKEN] != NULL) {
        if (qp[QP_TOKEN]->value_len == 0 || qp[QP_TOKEN]->value_len > ST_SIGV4_MAX_TOKEN)
            return fail(id, ST_SIGV4_BAD_TOKEN, err, "malformed security token");
        if (set_token(id, qp[QP_TOKEN]->value, qp[QP_TOKEN]->value_len) != 0)
            return fail(id, ST_SIGV4_MALFORMED, err, "out of memory");
    }
    if (p->host_len == 0)
        return fail(id, ST_SIGV4_MALFORMED, err, "missing host");

    struct st_buf creq = ST_BUF_INIT;
    if (canonical_request_presigned(&creq, p->host, p->host_len, p->path, p->path_len, p->params,
                                    p->n_params, skip) != 0) {
        st_buf_free(&creq);
        return fail(id, ST_SIGV4_MALFORMED, err, "out of memory");
    }
    return pend(pd, &creq, qp[QP_SIGNATURE]->value, qp[QP_SIGNATURE]->value_len, id, err);
}

int
st_sigv4_verify_presigned(const struct st_sigv4_verifier *v, const struct st_sigv4_presigned *p,
                          time_t now, struct st_sigv4_identity *id, const char **err)
{
    struct st_sigv4_pending pd;
    if (st_sigv4_prepare_presigned(v, p, now, id, &pd, err) != 0)
        return -1;
    return st_sigv4_complete(v, &pd, id, err);
}

/* ---------------------------------------------------------------- signers */

void
st_sigv4_signed_clear(struct st_sigv4_signed *s)
{
    st_buf_free(&s->authorization);
    memset(s, 0, sizeof(*s));
}

static int
format_credential(const struct st_sigv4_signing *c, const char *date, char *out, size_t cap)
{
    if (c->access_key_id == NULL || c->secret == NULL || c->region == NULL || c->service == NULL)
        return -1;
    int n = snprintf(out, cap, "%s/%s/%s/%s/%s", c->access_key_id, date, c->region, c->service,
                     ST_SIGV4_TERMINATOR);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    struct st_sigv4_identity tmp;
    const char *e;
    memset(&tmp, 0, sizeof(tmp));
    return st_sigv4_parse_credential(out, (size_t)n, &tmp, &e);
}

struct lname {
    char name[64]; /* lower-cased header name */
    size_t len;    /* its length */
};

static int
lname_cmp(const void *a, const void *b)
{
    const struct lname *x = a, *y = b;
    return strcmp(x->name, y->name);
}

int
st_sigv4_sign_http(const struct st_sigv4_signing *cred, const struct st_sigv4_http *req, time_t now,
                   struct st_sigv4_signed *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    if (req->n_headers + 3 > MAX_HEADERS) {
        *err = "too many headers";
        return -1;
    }
    struct st_sigv4_header hdrs[MAX_HEADERS];
    struct lname names[MAX_HEADERS];
    size_t nh = 0, nn = 0;
    bool have_host = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        const struct st_sigv4_header *h = &req->headers[i];
        if (ieq(h->name, h->name_len, "authorization") || ieq(h->name, h->name_len, "x-amz-date") ||
            ieq(h->name, h->name_len, "x-amz-content-sha256") ||
            ieq(h->name, h->name_len, "x-amz-security-token")) {
            *err = "request already carries a SigV4 header";
            return -1;
        }
        if (h->name_len == 0 || h->name_len >= sizeof(names[0].name)) {
            *err = "bad header name";
            return -1;
        }
        hdrs[nh++] = *h;
        char ln[64];
        for (size_t j = 0; j < h->name_len; j++) {
            unsigned char c = (unsigned char)h->name[j];
            ln[j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            if (!header_token_char((unsigned char)ln[j])) {
                *err = "bad header name";
                return -1;
            }
        }
        ln[h->name_len] = '\0';
        have_host |= strcmp(ln, "host") == 0;
        bool dup = false;
        for (size_t k = 0; k < nn; k++)
            dup |= strcmp(names[k].name, ln) == 0;
        if (!dup) {
            memcpy(names[nn].name, ln, h->name_len + 1);
            names[nn].len = h->name_len;
            nn++;
        }
    }
    if (!have_host) {
        *err = "request has no host header";
        return -1;
    }
    st_sigv4_format_amz_date((int64_t)now, out->amz_date);
    if (st_sigv4_sha256_hex(req->body ? (const void *)req->body : "", req->body_len,
                            out->content_sha256) != 0) {
        *err = "hash failed";
        return -1;
    }
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';
    char credential[ST_SIGV4_MAX_CREDENTIAL + 1];
    if (format_credential(cred, date, credential, sizeof(credential)) != 0) {
        *err = "invalid signing credentials or scope";
        return -1;
    }
    hdrs[nh++] = (struct st_sigv4_header){"x-amz-date", 10, out->amz_date, 16};
    hdrs[nh++] = (struct st_sigv4_header){"x-amz-content-sha256", 20, out->content_sha256, 64};
    memcpy(names[nn++].name, "x-amz-date", 11);
    memcpy(names[nn++].name, "x-amz-content-sha256", 21);
    if (cred->session_token != NULL) {
        hdrs[nh++] = (struct st_sigv4_header){"x-amz-security-token", 20, cred->session_token,
                                              strlen(cred->session_token)};
        memcpy(names[nn++].name, "x-amz-security-token", 21);
    }
    qsort(names, nn, sizeof(names[0]), lname_cmp);
    struct st_buf sh = ST_BUF_INIT, creq = ST_BUF_INIT;
    int rc = 0;
    for (size_t k = 0; k < nn; k++) {
        if (k > 0)
            rc |= buf_puts(&sh, ";");
        rc |= buf_puts(&sh, names[k].name);
    }
    rc |= buf_terminate(&sh);
    struct st_sigv4_http signed_req = *req;
    signed_req.headers = hdrs;
    signed_req.n_headers = nh;
    uint8_t sig[32];
    char sighex[65];
    *err = "out of memory";
    if (rc == 0)
        rc = st_sigv4_canonical_request_http(&creq, &signed_req, (const char *)sh.data, sh.len,
                                             out->content_sha256, err);
    if (rc == 0 && compute_signature(cred->secret, strlen(cred->secret), out->amz_date, date,
                                     cred->region, cred->service, &creq, sig) != 0) {
        *err = "signature computation failed";
        rc = -1;
    }
    if (rc == 0) {
        st_hex_encode(sig, 32, sighex);
        rc |= buf_puts(&out->authorization, ST_SIGV4_ALGORITHM " Credential=");
        rc |= buf_puts(&out->authorization, credential);
        rc |= buf_puts(&out->authorization, ", SignedHeaders=");
        rc |= st_buf_append(&out->authorization, sh.data, sh.len);
        rc |= buf_puts(&out->authorization, ", Signature=");
        rc |= buf_puts(&out->authorization, sighex);
        rc |= buf_terminate(&out->authorization);
        if (rc != 0)
            *err = "out of memory";
    }
    st_buf_free(&sh);
    st_buf_free(&creq);
    if (rc != 0)
        st_sigv4_signed_clear(out);
    return rc ? -1 : 0;
}

int
st_sigv4_presign(const struct st_sigv4_signing *cred, const char *host, const char *path,
                 const struct st_sigv4_param *params, size_t n_params, time_t now, int64_t expires,
                 struct st_sigv4_presign_result *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    if (n_params + 6 > MAX_PARAMS) {
        *err = "too many query parameters";
        return -1;
    }
    if (expires <= 0 || expires > 604800) {
        *err = "bad expiry";
        return -1;
    }
    for (size_t i = 0; i < n_params; i++) {
        if (params[i].name_len >= 6 && memcmp(params[i].name, "X-Amz-", 6) == 0) {
            *err = "parameters already carry X-Amz-*";
            return -1;
        }
    }
    st_sigv4_format_amz_date((int64_t)now, out->amz_date);
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';
    if (format_credential(cred, date, out->credential, sizeof(out->credential)) != 0) {
        *err = "invalid signing credentials or scope";
        return -1;
    }
    char exp[24];
    snprintf(exp, sizeof(exp), "%lld", (long long)expires);
    struct st_sigv4_param all[MAX_PARAMS];
    size_t n = 0;
    for (size_t i = 0; i < n_params; i++)
        all[n++] = params[i];
    all[n++] = (struct st_sigv4_param){"X-Amz-Algorithm", 15, ST_SIGV4_ALGORITHM, 16};
    all[n++] =
        (struct st_sigv4_param){"X-Amz-Credential", 16, out->credential, strlen(out->credential)};
    all[n++] = (struct st_sigv4_param){"X-Amz-Date", 10, out->amz_date, 16};
    all[n++] = (struct st_sigv4_param){"X-Amz-Expires", 13, exp, strlen(exp)};
    all[n++] = (struct st_sigv4_param){"X-Amz-SignedHeaders", 19, "host", 4};
    if (cred->session_token != NULL)
        all[n++] = (struct st_sigv4_param){"X-Amz-Security-Token", 20, cred->session_token,
                                           strlen(cred->session_token)};
    struct st_buf creq = ST_BUF_INIT;
    uint8_t sig[32];
    int rc =
        canonical_request_presigned(&creq, host, strlen(host), path, strlen(path), all, n, NULL);
    if (rc == 0)
        rc = compute_signature(cred->secret, strlen(cred->secret), out->amz_date, date,
                               cred->region, cred->service, &creq, sig);
    st_buf_free(&creq);
    if (rc != 0) {
        *err = "signature computation failed";
        return -1;
    }
    st_hex_encode(sig, 32, out->signature);
    return 0;
}

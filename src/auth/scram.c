/*
 * SCRAM-SHA-256/512 server and client exchanges and credential provisioning (see scram.h).
 * Messages are parsed in place with explicit lengths; the AuthMessage is rebuilt from the exact
 * bytes received (RFC 5802), and every secret comparison uses CRYPTO_memcmp.
 */
#include "auth/scram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/encoding.h"

const char st_scram_err_authzid[] =
    "Authentication failed: Client requested an authorization id that is different from username";

enum scram_state {
    SS_CLIENT_FIRST, /* waiting for client-first */
    SS_SERVER_FIRST, /* client-first parsed, server-first not yet produced */
    SS_CLIENT_FINAL, /* waiting for client-final */
    SS_DONE,         /* success */
    SS_FAILED,       /* any failure is final */
};

struct st_scram_server {
    enum st_scram_mech mech;   /* hash family */
    enum scram_state state;    /* exchange position */
    uint8_t mock_key[64];      /* server secret for unknown-user salts */
    size_t mock_key_len;       /* its length */
    char *username;            /* unescaped username, NUL-terminated */
    size_t username_len;       /* its length */
    struct st_buf gs2;         /* GS2 header as received ("n,," or "n,a=...,") */
    struct st_buf cfb;         /* client-first-bare as received */
    struct st_buf cnonce;      /* client nonce */
    struct st_buf nonce;       /* client nonce + server nonce */
    struct st_buf sfirst;      /* server-first as sent */
    struct st_scram_cred cred; /* the credential in use (copy, or mock) */
    bool mock;                 /* unknown user: always fail at client-final */
};

struct st_scram_client {
    enum st_scram_mech mech;              /* hash family */
    enum scram_state state;               /* exchange position */
    char *user;                           /* username, NUL-terminated */
    uint8_t *password;                    /* password bytes */
    size_t pw_len;                        /* their length */
    char cnonce[64];                      /* client nonce, NUL-terminated */
    struct st_buf cfb;                    /* client-first-bare as sent */
    uint8_t server_sig[ST_CRYPTO_MAX_MD]; /* expected ServerSignature */
};

static enum st_md
md_of(enum st_scram_mech m)
{
    switch (m) {
    case ST_SCRAM_SHA256:
        return ST_MD_SHA256;
    case ST_SCRAM_SHA512:
        return ST_MD_SHA512;
    case ST_SCRAM_SHA1:
        return ST_MD_SHA1;
    }
    return ST_MD_SHA512;
}

const char *
st_scram_mech_name(enum st_scram_mech mech)
{
    switch (mech) {
    case ST_SCRAM_SHA256:
        return "SCRAM-SHA-256";
    case ST_SCRAM_SHA512:
        return "SCRAM-SHA-512";
    case ST_SCRAM_SHA1:
        return "SCRAM-SHA-1";
    }
    return "?";
}

int
st_scram_mech_parse(const char *name, enum st_scram_mech *out)
{
    if (strcmp(name, "SCRAM-SHA-256") == 0)
        *out = ST_SCRAM_SHA256;
    else if (strcmp(name, "SCRAM-SHA-512") == 0)
        *out = ST_SCRAM_SHA512;
    else
        return -1;
    return 0;
}

static int
failx(const char **err, const char *msg)
{
    *err = msg;
    return -1;
}

static int
buf_puts(struct st_buf *b, const char *s)
{
    return st_buf_append(b, s, strlen(s));
}

static int
buf_put_b64(struct st_buf *b, const uint8_t *p, size_t n)
{
    char tmp[256];
    long l = st_b64_encode(p, n, tmp, sizeof(tmp));
    if (l < 0)
        return -1;
    return st_buf_append(b, tmp, (size_t)l);
}

/* ---------------------------------------------------------------- credentials */

/* ClientKey, StoredKey and ServerKey from SaltedPassword. */
static int
derive_keys(enum st_md md, const uint8_t *salted, uint8_t *client_key, uint8_t *stored_key,
            uint8_t *server_key)
{
    size_t hl = st_md_size(md);
    if (st_hmac(md, salted, hl, "Client Key", 10, client_key) != 0 ||
        st_digest(md, client_key, hl, stored_key) != 0 ||
        st_hmac(md, salted, hl, "Server Key", 10, server_key) != 0)
        return -1;
    return 0;
}

static bool
iterations_ok(enum st_scram_mech mech, uint32_t i)
{
    if (mech == ST_SCRAM_SHA1)
        return i >= 1 && i <= ST_SCRAM_MAX_ITERATIONS;
    return i >= ST_SCRAM_MIN_ITERATIONS && i <= ST_SCRAM_MAX_ITERATIONS;
}

int
st_scram_cred_make(enum st_scram_mech mech, const char *password, size_t pw_len,
                   const uint8_t *salt, size_t salt_len, uint32_t iterations,
                   struct st_scram_cred *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    if (!iterations_ok(mech, iterations))
        return failx(err, "SCRAM iterations out of range");
    out->mech = mech;
    out->iterations = iterations;
    if (salt == NULL) {
        salt_len = ST_SCRAM_DEFAULT_SALT;
        if (st_random(out->salt, salt_len) != 0)
            return failx(err, "random generator failed");
    } else {
        if (salt_len == 0 || salt_len > ST_SCRAM_MAX_SALT)
            return failx(err, "SCRAM salt length out of range");
        memcpy(out->salt, salt, salt_len);
    }
    out->salt_len = salt_len;
    enum st_md md = md_of(mech);
    uint8_t salted[ST_CRYPTO_MAX_MD], ck[ST_CRYPTO_MAX_MD];
    int rc = st_pbkdf2(md, password, pw_len, out->salt, salt_len, iterations, salted);
    if (rc == 0)
        rc = derive_keys(md, salted, ck, out->stored_key, out->server_key);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(ck, sizeof(ck));
    if (rc != 0) {
        OPENSSL_cleanse(out, sizeof(*out));
        return failx(err, "PBKDF2 failed");
    }
    return 0;
}

int
st_scram_cred_format(const struct st_scram_cred *c, struct st_buf *out)
{
    size_t hl = st_md_size(md_of(c->mech));
    char it[16];
    snprintf(it, sizeof(it), ":%u:", c->iterations);
    if (buf_puts(out, st_scram_mech_name(c->mech)) != 0 || buf_puts(out, it) != 0 ||
        buf_put_b64(out, c->salt, c->salt_len) != 0 || buf_puts(out, ":") != 0 ||
        buf_put_b64(out, c->stored_key, hl) != 0 || buf_puts(out, ":") != 0 ||
        buf_put_b64(out, c->server_key, hl) != 0 || st_buf_reserve(out, 1) != 0)
        return -1;
    out->data[out->len] = '\0';
    return 0;
}

int
st_scram_cred_parse(const char *s, size_t len, struct st_scram_cred *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    const char *f[5];
    size_t fl[5], nf = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == ':') {
            if (nf == 5)
                return failx(err, "SCRAM credential: too many fields");
            f[nf] = s + start;
            fl[nf] = i - start;
            nf++;
            start = i + 1;
        }
    }
    if (nf != 5)
        return failx(err, "SCRAM credential: expected 5 fields");
    if (fl[0] == 13 && memcmp(f[0], "SCRAM-SHA-256", 13) == 0)
        out->mech = ST_SCRAM_SHA256;
    else if (fl[0] == 13 && memcmp(f[0], "SCRAM-SHA-512", 13) == 0)
        out->mech = ST_SCRAM_SHA512;
    else
        return failx(err, "SCRAM credential: unknown mechanism");
    uint64_t it = 0;
    if (fl[1] == 0 || fl[1] > 9)
        return failx(err, "SCRAM credential: bad iterations");
    for (size_t i = 0; i < fl[1]; i++) {
        if (f[1][i] < '0' || f[1][i] > '9')
            return failx(err, "SCRAM credential: bad iterations");
        it = it * 10 + (uint64_t)(f[1][i] - '0');
    }
    if (!iterations_ok(out->mech, (uint32_t)it))
        return failx(err, "SCRAM credential: iterations out of range");
    out->iterations = (uint32_t)it;
    size_t hl = st_md_size(md_of(out->mech));
    uint8_t tmp[ST_CRYPTO_MAX_MD + 3];
    long n = st_b64_decode(f[2], fl[2], out->salt, sizeof(out->salt), err);
    if (n <= 0)
        return failx(err, "SCRAM credential: bad salt");
    out->salt_len = (size_t)n;
    n = st_b64_decode(f[3], fl[3], tmp, sizeof(tmp), err);
    if (n != (long)hl)
        return failx(err, "SCRAM credential: bad StoredKey");
    memcpy(out->stored_key, tmp, hl);
    n = st_b64_decode(f[4], fl[4], tmp, sizeof(tmp), err);
    if (n != (long)hl)
        return failx(err, "SCRAM credential: bad ServerKey");
    memcpy(out->server_key, tmp, hl);
    return 0;
}

/* ---------------------------------------------------------------- message syntax */

/* Valid UTF-8 without NUL (RFC 5802 saslname / value). */
static bool
utf8_ok(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp;
        if ((c & 0xE0) == 0xC0) {
            k = 1;
            cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2;
            cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i + j] & 0x3F);
        }
        if ((k == 1 && cp < 0x80) || (k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
            cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

/* Unescapes a saslname (=2C -> ',', =3D -> '='; any other '=' is invalid) into `out`. */
static int
saslname_decode(const uint8_t *p, size_t n, struct st_buf *out)
{
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '=') {
            if (n - i < 3)
                return -1;
            if (p[i + 1] == '2' && p[i + 2] == 'C')
                c = ',';
            else if (p[i + 1] == '3' && p[i + 2] == 'D')
                c = '=';
            else
                return -1;
            i += 2;
        } else if (c == ',') {
            return -1;
        }
        if (st_buf_append_u8(out, c) != 0)
            return -1;
    }
    if (out->len > ST_SCRAM_MAX_NAME || !utf8_ok(out->data, out->len))
        return -1;
    return 0;
}

static int
saslname_encode(const char *s, struct st_buf *out)
{
    for (; *s; s++) {
        int rc = *s == ','   ? buf_puts(out, "=2C")
                 : *s == '=' ? buf_puts(out, "=3D")
                             : st_buf_append_u8(out, (uint8_t)*s);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* RFC 5802 nonce: printable ASCII except ','. */
static bool
nonce_ok(const uint8_t *p, size_t n)
{
    if (n == 0 || n > ST_SCRAM_MAX_NONCE)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < 0x21 || p[i] > 0x7E || p[i] == ',')
            return false;
    }
    return true;
}

/* Splits `msg` at commas: returns the end of the attribute starting at `pos`. */
static size_t
attr_end(const uint8_t *msg, size_t len, size_t pos)
{
    while (pos < len && msg[pos] != ',')
        pos++;
    return pos;
}

static bool
ascii_ieq(const uint8_t *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t x = a[i];
        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x + 32);
        if (x != (uint8_t)b[i])
            return false;
    }
    return true;
}

/*
 * Checks optional extensions "attr=value" from `pos` to `len` (attr one ALPHA, RFC 5802; Kafka
 * uses longer names such as tokenauth, so any ALPHA run is accepted). Rejects tokenauth=true.
 */
static int
check_extensions(const uint8_t *msg, size_t len, size_t pos, const char **err)
{
    while (pos < len) {
        if (msg[pos] != ',')
            return failx(err, "SCRAM: malformed extension");
        pos++;
        size_t e = attr_end(msg, len, pos);
        size_t a = pos;
        while (a < e && ((msg[a] >= 'a' && msg[a] <= 'z') || (msg[a] >= 'A' && msg[a] <= 'Z')))
            a++;
        if (a == pos || a == e || msg[a] != '=')
            return failx(err, "SCRAM: malformed extension");
        if (a - pos == 9 && memcmp(msg + pos, "tokenauth", 9) == 0 &&
            ascii_ieq(msg + a + 1, e - a - 1, "true"))
            return failx(err, "SCRAM: delegation token authentication is not supported");
        if (!utf8_ok(msg + a + 1, e - a - 1))
            return failx(err, "SCRAM: malformed extension");
        pos = e;
    }
    return 0;
}

/* ---------------------------------------------------------------- server */

struct st_scram_server *
st_scram_server_new(enum st_scram_mech mech, const uint8_t *mock_key, size_t mock_key_len)
{
    struct st_scram_server *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->mech = mech;
    s->state = SS_CLIENT_FIRST;
    if (mock_key_len > sizeof(s->mock_key))
        mock_key_len = sizeof(s->mock_key);
    if (mock_key != NULL && mock_key_len > 0)
        memcpy(s->mock_key, mock_key, mock_key_len);
    s->mock_key_len = mock_key != NULL ? mock_key_len : 0;
    st_buf_init(&s->gs2, ST_SCRAM_MAX_MESSAGE);
    st_buf_init(&s->cfb, ST_SCRAM_MAX_MESSAGE);
    st_buf_init(&s->cnonce, ST_SCRAM_MAX_MESSAGE);
    st_buf_init(&s->nonce, ST_SCRAM_MAX_MESSAGE);
    st_buf_init(&s->sfirst, ST_SCRAM_MAX_MESSAGE);
    return s;
}

void
st_scram_server_free(struct st_scram_server *s)
{
    if (s == NULL)
        return;
    free(s->username);
    st_buf_free(&s->gs2);
    st_buf_free(&s->cfb);
    st_buf_free(&s->cnonce);
    st_buf_free(&s->nonce);
    st_buf_free(&s->sfirst);
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

static int
server_fail(struct st_scram_server *s, const char **err, const char *msg)
{
    s->state = SS_FAILED;
    *err = msg;
    return -1;
}

int
st_scram_server_client_first(struct st_scram_server *s, const uint8_t *msg, size_t len,
                             const char **username, const char **err)
{
    if (s->state != SS_CLIENT_FIRST)
        return server_fail(s, err, "SCRAM: unexpected client-first");
    if (len == 0 || len > ST_SCRAM_MAX_MESSAGE)
        return server_fail(s, err, "SCRAM: client-first has a bad length");
    if (msg[0] == 'y' || msg[0] == 'p')
        return server_fail(s, err, "SCRAM: channel binding is not supported");
    if (msg[0] != 'n' || len < 2 || msg[1] != ',')
        return server_fail(s, err, "SCRAM: malformed GS2 header");
    size_t pos = 2;
    const uint8_t *authz = NULL;
    size_t authz_len = 0;
    if (pos + 1 < len && msg[pos] == 'a' && msg[pos + 1] == '=') {
        size_t e = attr_end(msg, len, pos);
        authz = msg + pos + 2;
        authz_len = e - pos - 2;
        pos = e;
    }
    if (pos >= len || msg[pos] != ',')
        return server_fail(s, err, "SCRAM: malformed GS2 header");
    pos++;
    if (st_buf_append(&s->gs2, msg, pos) != 0)
        return server_fail(s, err, "out of memory");
    /* client-first-bare */
    size_t bare = pos;
    if (len - pos >= 2 && msg[pos] == 'm' && msg[pos + 1] == '=')
        return server_fail(s, err, "SCRAM: mandatory extension is not supported");
    if (len - pos < 2 || msg[pos] != 'n' || msg[pos + 1] != '=')
        return server_fail(s, err, "SCRAM: client-first lacks n=");
    size_t e = attr_end(msg, len, pos);
    struct st_buf name = ST_BUF_INIT;
    if (saslname_decode(msg + pos + 2, e - pos - 2, &name) != 0) {
        st_buf_free(&name);
        return server_fail(s, err, "SCRAM: invalid username");
    }
    if (authz != NULL) {
        struct st_buf az = ST_BUF_INIT;
        int bad = saslname_decode(authz, authz_len, &az) != 0 || az.len != name.len ||
                  memcmp(az.data, name.data, az.len) != 0;
        st_buf_free(&az);
        if (bad) {
            st_buf_free(&name);
            return server_fail(s, err, st_scram_err_authzid);
        }
    }
    s->username = malloc(name.len + 1);
    if (s->username == NULL) {
        st_buf_free(&name);
        return server_fail(s, err, "out of memory");
    }
    memcpy(s->username, name.data, name.len);
    s->username[name.len] = '\0';
    s->username_len = name.len;
    st_buf_free(&name);
    pos = e;
    if (len - pos < 3 || msg[pos] != ',' || msg[pos + 1] != 'r' || msg[pos + 2] != '=')
        return server_fail(s, err, "SCRAM: client-first lacks r=");
    pos += 3;
    e = attr_end(msg, len, pos);
    if (!nonce_ok(msg + pos, e - pos))
        return server_fail(s, err, "SCRAM: invalid client nonce");
    if (st_buf_append(&s->cnonce, msg + pos, e - pos) != 0)
        return server_fail(s, err, "out of memory");
    if (check_extensions(msg, len, e, err) != 0)
        return server_fail(s, err, *err);
    if (st_buf_append(&s->cfb, msg + bare, len - bare) != 0)
        return server_fail(s, err, "out of memory");
    s->state = SS_SERVER_FIRST;
    *username = s->username;
    return 0;
}

int
st_scram_server_first(struct st_scram_server *s, const struct st_scram_cred *cred,
                      const char *snonce, struct st_buf *out, const char **err)
{
    if (s->state != SS_SERVER_FIRST)
        return server_fail(s, err, "SCRAM: unexpected server-first");
    enum st_md md = md_of(s->mech);
    size_t hl = st_md_size(md);
    if (cred != NULL) {
        if (cred->mech != s->mech)
            return server_fail(s, err, "SCRAM: credential is for another mechanism");
        if (!iterations_ok(cred->mech, cred->iterations))
            return server_fail(s, err, "SCRAM: stored iteration count out of range");
        if (cred->salt_len == 0 || cred->salt_len > ST_SCRAM_MAX_SALT)
            return server_fail(s, err, "SCRAM: stored salt invalid");
        s->cred = *cred;
    } else {
        /* Unknown user: deterministic fake salt, random keys, fail at client-final. */
        uint8_t h[ST_CRYPTO_MAX_MD];
        s->mock = true;
        s->cred.mech = s->mech;
        s->cred.iterations = ST_SCRAM_DEFAULT_ITERATIONS;
        s->cred.salt_len = ST_SCRAM_DEFAULT_SALT;
        if (s->mock_key_len > 0) {
            if (st_hmac(md, s->mock_key, s->mock_key_len, s->username, s->username_len, h) != 0)
                return server_fail(s, err, "HMAC failed");
            memcpy(s->cred.salt, h, ST_SCRAM_DEFAULT_SALT);
        } else if (st_random(s->cred.salt, ST_SCRAM_DEFAULT_SALT) != 0) {
            return server_fail(s, err, "random generator failed");
        }
        if (st_random(s->cred.stored_key, hl) != 0 || st_random(s->cred.server_key, hl) != 0)
            return server_fail(s, err, "random generator failed");
    }
    char nbuf[32];
    size_t nlen;
    if (snonce == NULL) {
        uint8_t rnd[18];
        if (st_random(rnd, sizeof(rnd)) != 0)
            return server_fail(s, err, "random generator failed");
        long l = st_b64_encode(rnd, sizeof(rnd), nbuf, sizeof(nbuf));
        if (l < 0)
            return server_fail(s, err, "nonce encoding failed");
        snonce = nbuf;
        nlen = (size_t)l;
    } else {
        nlen = strlen(snonce);
        if (!nonce_ok((const uint8_t *)snonce, nlen))
            return server_fail(s, err, "SCRAM: invalid server nonce");
    }
    char it[16];
    snprintf(it, sizeof(it), ",i=%u", s->cred.iterations);
    if (st_buf_append(&s->nonce, s->cnonce.data, s->cnonce.len) != 0 ||
        st_buf_append(&s->nonce, snonce, nlen) != 0 || buf_puts(&s->sfirst, "r=") != 0 ||
        st_buf_append(&s->sfirst, s->nonce.data, s->nonce.len) != 0 ||
        buf_puts(&s->sfirst, ",s=") != 0 ||
        buf_put_b64(&s->sfirst, s->cred.salt, s->cred.salt_len) != 0 ||
        buf_puts(&s->sfirst, it) != 0 || st_buf_append(out, s->sfirst.data, s->sfirst.len) != 0)
        return server_fail(s, err, "out of memory");
    s->state = SS_CLIENT_FINAL;
    return 0;
}

int
st_scram_server_client_final(struct st_scram_server *s, const uint8_t *msg, size_t len,
                             struct st_buf *out, const char **err)
{
    if (s->state != SS_CLIENT_FINAL)
        return server_fail(s, err, "SCRAM: unexpected client-final");
    if (len == 0 || len > ST_SCRAM_MAX_MESSAGE)
        return server_fail(s, err, "SCRAM: client-final has a bad length");
    enum st_md md = md_of(s->mech);
    size_t hl = st_md_size(md);
    /* c=<b64 gs2 header> */
    if (len < 2 || msg[0] != 'c' || msg[1] != '=')
        return server_fail(s, err, "SCRAM: client-final lacks c=");
    size_t e = attr_end(msg, len, 2);
    uint8_t cb[ST_SCRAM_MAX_MESSAGE];
    long cbl = st_b64_decode((const char *)msg + 2, e - 2, cb, sizeof(cb), err);
    if (cbl < 0 || (size_t)cbl != s->gs2.len || memcmp(cb, s->gs2.data, s->gs2.len) != 0)
        return server_fail(s, err, "SCRAM: channel binding does not match GS2 header");
    /* ,r=<nonce> */
    size_t pos = e;
    if (len - pos < 3 || msg[pos] != ',' || msg[pos + 1] != 'r' || msg[pos + 2] != '=')
        return server_fail(s, err, "SCRAM: client-final lacks r=");
    pos += 3;
    e = attr_end(msg, len, pos);
    if (e - pos != s->nonce.len || memcmp(msg + pos, s->nonce.data, s->nonce.len) != 0)
        return server_fail(s, err, "SCRAM: nonce mismatch");
    /* [,ext]* ,p=<proof>, p last */
    size_t p = e;
    size_t proof_at = 0;
    while (p < len) {
        if (msg[p] != ',')
            return server_fail(s, err, "SCRAM: malformed client-final");
        size_t ae = attr_end(msg, len, p + 1);
        if (ae - p >= 3 && msg[p + 1] == 'p' && msg[p + 2] == '=') {
            if (ae != len)
                return server_fail(s, err, "SCRAM: proof must be the last attribute");
            proof_at = p;
            break;
        }
        if (ae - p < 3 || msg[p + 2] != '=')
            return server_fail(s, err, "SCRAM: malformed client-final");
        p = ae;
    }
    if (proof_at == 0)
        return server_fail(s, err, "SCRAM: client-final lacks p=");
    uint8_t proof[ST_CRYPTO_MAX_MD + 3];
    long pl = st_b64_decode((const char *)msg + proof_at + 3, len - proof_at - 3, proof,
                            sizeof(proof), err);
    if (pl != (long)hl)
        return server_fail(s, err, "SCRAM: malformed proof");

    struct st_buf am = ST_BUF_INIT;
    int rc = st_buf_append(&am, s->cfb.data, s->cfb.len) | buf_puts(&am, ",") |
             st_buf_append(&am, s->sfirst.data, s->sfirst.len) | buf_puts(&am, ",") |
             st_buf_append(&am, msg, proof_at);
    uint8_t csig[ST_CRYPTO_MAX_MD], ckey[ST_CRYPTO_MAX_MD], stored[ST_CRYPTO_MAX_MD],
        ssig[ST_CRYPTO_MAX_MD];
    if (rc == 0)
        rc = st_hmac(md, s->cred.stored_key, hl, am.data, am.len, csig);
    if (rc == 0) {
        for (size_t i = 0; i < hl; i++)
            ckey[i] = proof[i] ^ csig[i];
        rc = st_digest(md, ckey, hl, stored);
    }
    if (rc == 0)
        rc = st_hmac(md, s->cred.server_key, hl, am.data, am.len, ssig);
    st_buf_free(&am);
    OPENSSL_cleanse(ckey, sizeof(ckey));
    if (rc != 0)
        return server_fail(s, err, "SCRAM: crypto failure");
    bool match = CRYPTO_memcmp(stored, s->cred.stored_key, hl) == 0;
    if (!match || s->mock)
        return server_fail(s, err, "SCRAM: invalid credentials");
    if (buf_puts(out, "v=") != 0 || buf_put_b64(out, ssig, hl) != 0)
        return server_fail(s, err, "out of memory");
    s->state = SS_DONE;
    return 0;
}

/* ---------------------------------------------------------------- client */

struct st_scram_client *
st_scram_client_new(enum st_scram_mech mech, const char *user, const char *password, size_t pw_len,
                    const char *cnonce)
{
    if (user == NULL || user[0] == '\0' || strlen(user) > ST_SCRAM_MAX_NAME)
        return NULL;
    struct st_scram_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->mech = mech;
    c->state = SS_CLIENT_FIRST;
    c->user = strdup(user);
    c->password = malloc(pw_len ? pw_len : 1);
    if (c->user == NULL || c->password == NULL)
        goto bad;
    memcpy(c->password, password, pw_len);
    c->pw_len = pw_len;
    if (cnonce == NULL) {
        uint8_t rnd[18];
        if (st_random(rnd, sizeof(rnd)) != 0 ||
            st_b64_encode(rnd, sizeof(rnd), c->cnonce, sizeof(c->cnonce)) < 0)
            goto bad;
    } else {
        size_t l = strlen(cnonce);
        if (l >= sizeof(c->cnonce) || !nonce_ok((const uint8_t *)cnonce, l))
            goto bad;
        memcpy(c->cnonce, cnonce, l + 1);
    }
    return c;
bad:
    st_scram_client_free(c);
    return NULL;
}

void
st_scram_client_free(struct st_scram_client *c)
{
    if (c == NULL)
        return;
    free(c->user);
    if (c->password != NULL) {
        OPENSSL_cleanse(c->password, c->pw_len);
        free(c->password);
    }
    st_buf_free(&c->cfb);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

int
st_scram_client_first(struct st_scram_client *c, struct st_buf *out)
{
    if (c->state != SS_CLIENT_FIRST)
        return -1;
    st_buf_reset(&c->cfb);
    if (buf_puts(&c->cfb, "n=") != 0 || saslname_encode(c->user, &c->cfb) != 0 ||
        buf_puts(&c->cfb, ",r=") != 0 || buf_puts(&c->cfb, c->cnonce) != 0)
        return -1;
    if (buf_puts(out, "n,,") != 0 || st_buf_append(out, c->cfb.data, c->cfb.len) != 0)
        return -1;
    c->state = SS_SERVER_FIRST;
    return 0;
}

int
st_scram_client_final(struct st_scram_client *c, const uint8_t *sf, size_t len, struct st_buf *out,
                      const char **err)
{
    if (c->state != SS_SERVER_FIRST)
        return failx(err, "SCRAM: unexpected server-first");
    c->state = SS_FAILED;
    if (len == 0 || len > ST_SCRAM_MAX_MESSAGE)
        return failx(err, "SCRAM: server-first has a bad length");
    if (len >= 2 && sf[0] == 'e' && sf[1] == '=')
        return failx(err, "SCRAM: server rejected authentication");
    if (len < 2 || sf[0] != 'r' || sf[1] != '=')
        return failx(err, "SCRAM: server-first lacks r=");
    size_t e = attr_end(sf, len, 2);
    size_t cl = strlen(c->cnonce);
    const uint8_t *nonce = sf + 2;
    size_t nonce_len = e - 2;
    if (nonce_len <= cl || memcmp(nonce, c->cnonce, cl) != 0 || !nonce_ok(nonce, nonce_len))
        return failx(err, "SCRAM: server nonce does not extend the client nonce");
    size_t pos = e;
    if (len - pos < 3 || memcmp(sf + pos, ",s=", 3) != 0)
        return failx(err, "SCRAM: server-first lacks s=");
    pos += 3;
    e = attr_end(sf, len, pos);
    uint8_t salt[128];
    long sl = st_b64_decode((const char *)sf + pos, e - pos, salt, sizeof(salt), err);
    if (sl <= 0)
        return failx(err, "SCRAM: bad salt");
    pos = e;
    if (len - pos < 4 || memcmp(sf + pos, ",i=", 3) != 0)
        return failx(err, "SCRAM: server-first lacks i=");
    pos += 3;
    e = attr_end(sf, len, pos);
    uint64_t it = 0;
    if (e == pos || e - pos > 9)
        return failx(err, "SCRAM: bad iteration count");
    for (size_t i = pos; i < e; i++) {
        if (sf[i] < '0' || sf[i] > '9')
            return failx(err, "SCRAM: bad iteration count");
        it = it * 10 + (uint64_t)(sf[i] - '0');
    }
    uint64_t min_it = c->mech == ST_SCRAM_SHA1 ? 1 : ST_SCRAM_MIN_ITERATIONS;
    if (it < min_it || it > 65536)
        return failx(err, "SCRAM: iteration count out of range");
    if (check_extensions(sf, len, e, err) != 0)
        return -1;

    enum st_md md = md_of(c->mech);
    size_t hl = st_md_size(md);
    uint8_t salted[ST_CRYPTO_MAX_MD], ck[ST_CRYPTO_MAX_MD], stored[ST_CRYPTO_MAX_MD],
        server_key[ST_CRYPTO_MAX_MD], csig[ST_CRYPTO_MAX_MD], proof[ST_CRYPTO_MAX_MD];
    struct st_buf wp = ST_BUF_INIT, am = ST_BUF_INIT;
    int rc = st_pbkdf2(md, c->password, c->pw_len, salt, (size_t)sl, (uint32_t)it, salted);
    if (rc == 0)
        rc = derive_keys(md, salted, ck, stored, server_key);
    if (rc == 0)
        rc = buf_puts(&wp, "c=biws,r=") | st_buf_append(&wp, nonce, nonce_len);
    if (rc == 0)
        rc = st_buf_append(&am, c->cfb.data, c->cfb.len) | buf_puts(&am, ",") |
             st_buf_append(&am, sf, len) | buf_puts(&am, ",") | st_buf_append(&am, wp.data, wp.len);
    if (rc == 0)
        rc = st_hmac(md, stored, hl, am.data, am.len, csig);
    if (rc == 0)
        rc = st_hmac(md, server_key, hl, am.data, am.len, c->server_sig);
    if (rc == 0) {
        for (size_t i = 0; i < hl; i++)
            proof[i] = ck[i] ^ csig[i];
        rc = st_buf_append(out, wp.data, wp.len) | buf_puts(out, ",p=") |
             buf_put_b64(out, proof, hl);
    }
    st_buf_free(&wp);
    st_buf_free(&am);
    OPENSSL_cleanse(salted, sizeof(salted));
    OPENSSL_cleanse(ck, sizeof(ck));
    OPENSSL_cleanse(server_key, sizeof(server_key));
    if (rc != 0)
        return failx(err, "SCRAM: client computation failed");
    c->state = SS_CLIENT_FINAL;
    return 0;
}

int
st_scram_client_verify(struct st_scram_client *c, const uint8_t *msg, size_t len, const char **err)
{
    if (c->state != SS_CLIENT_FINAL)
        return failx(err, "SCRAM: unexpected server-final");
    c->state = SS_FAILED;
    if (len >= 2 && msg[0] == 'e' && msg[1] == '=')
        return failx(err, "SCRAM: server rejected authentication");
    if (len < 2 || msg[0] != 'v' || msg[1] != '=')
        return failx(err, "SCRAM: server-final lacks v=");
    size_t e = attr_end(msg, len, 2);
    size_t hl = st_md_size(md_of(c->mech));
    uint8_t v[ST_CRYPTO_MAX_MD + 3];
    long vl = st_b64_decode((const char *)msg + 2, e - 2, v, sizeof(v), err);
    if (vl != (long)hl || CRYPTO_memcmp(v, c->server_sig, hl) != 0)
        return failx(err, "SCRAM: server signature does not match");
    c->state = SS_DONE;
    return 0;
}

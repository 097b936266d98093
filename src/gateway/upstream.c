/*
 * strait's own security towards the brokers (st_gw_cluster_set_upstream_security()): a cluster's
 * upstream configuration (refcounted, so sessions keep the one they started with) and one upstream
 * session per broker socket, a small non-blocking state machine shared by conn.c and learner.c:
 *
 *   [TLS handshake] --> [SaslHandshake v1 --> SaslAuthenticate v1 rounds] --> done
 *
 * PLAIN is one round; SCRAM-SHA-256/512 two (client-first, client-final; server-final verified).
 * KIP-368: the broker's session_lifetime_ms sets when the session must re-authenticate
 * (st_gw_up_reauth_due()); the same SASL exchange then runs again on the open connection.
 * Secrets are never logged; failure texts name the user and the broker's reason only.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "auth/scram.h"
#include "gateway/internal.h"
#include "net/tls.h"
#include "util/clock.h"

#define UP_CLIENT_ID "strait"
/* Largest SASL response frame accepted from a broker. */
#define UP_MAX_FRAME (64u << 10)

enum up_phase {
    UP_TLS,  /* TLS handshake */
    UP_SEND, /* writing a SASL request */
    UP_RECV, /* reading its response */
    UP_DONE, /* ready for Kafka traffic */
};

struct st_gw_up {
    struct st_gw_upsec *sec;       /* configuration (one reference) */
    int fd;                        /* connected socket (not owned) */
    SSL *ssl;                      /* TLS session, NULL on plaintext */
    enum up_phase phase;           /* where the exchange is */
    int step;                      /* 0 = SaslHandshake, n = SaslAuthenticate round n */
    int32_t corr;                  /* correlation id of the request in flight */
    struct st_buf out, in;         /* request bytes to send, response bytes read */
    struct st_scram_client *scram; /* SCRAM exchange, NULL otherwise */
    int64_t reauth_at_ms;          /* CLOCK_MONOTONIC ms when to re-authenticate, 0 = never */
    bool read_wants_write;         /* TLS needs the socket writable to go on reading */
    char err[200];                 /* why the last TLS read/write failed, "" when none */
};

static const char *const proto_names[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
static const char *const mech_names[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};

int
st_gw_up_protocol_parse(const char *s, enum st_gw_up_protocol *out)
{
    for (int i = 0; i < 4; i++)
        if (s && strcasecmp(s, proto_names[i]) == 0) {
            *out = (enum st_gw_up_protocol)i;
            return 0;
        }
    return -1;
}

const char *
st_gw_up_protocol_name(enum st_gw_up_protocol p)
{
    return (unsigned)p < 4 ? proto_names[p] : "?";
}

int
st_gw_up_mech_parse(const char *s, enum st_gw_up_mech *out)
{
    for (int i = 0; i < 3; i++)
        if (s && strcasecmp(s, mech_names[i]) == 0) {
            *out = (enum st_gw_up_mech)i;
            return 0;
        }
    return -1;
}

const char *
st_gw_up_mech_name(enum st_gw_up_mech m)
{
    return (unsigned)m < 3 ? mech_names[m] : "?";
}

/* ---- configuration ---- */

void
st_gw_upsec_unref(struct st_gw_upsec *s)
{
    if (!s || --s->refs > 0)
        return;
    if (s->password) {
        OPENSSL_cleanse(s->password, s->pw_len);
        free(s->password);
    }
    free(s->username);
    SSL_CTX_free(s->tls);
    free(s);
}

struct st_gw_upsec *
st_gw_upsec_ref(struct st_gw_upsec *s)
{
    if (s)
        s->refs++;
    return s;
}

bool
st_gw_upsec_sasl(const struct st_gw_upsec *s)
{
    return s && (s->protocol == ST_GW_UP_SASL_PLAINTEXT || s->protocol == ST_GW_UP_SASL_SSL);
}

int
st_gw_cluster_set_upstream_security(struct st_gw_cluster *c,
                                    const struct st_gw_upstream_security *sec, const char **err)
{
    if (!sec || sec->protocol == ST_GW_UP_PLAINTEXT) {
        st_gw_upsec_unref(c->upsec);
        c->upsec = NULL;
        return 0;
    }
    if ((unsigned)sec->protocol > ST_GW_UP_SASL_SSL || (unsigned)sec->mechanism > 2) {
        *err = "unknown upstream security protocol or SASL mechanism";
        return -1;
    }
    struct st_gw_upsec *s = calloc(1, sizeof(*s));
    if (!s) {
        *err = "out of memory";
        return -1;
    }
    s->refs = 1;
    s->protocol = sec->protocol;
    s->mech = sec->mechanism;
    s->verify_host = sec->verify_hostname;
    if (st_gw_upsec_sasl(s)) {
        if (!sec->username || !*sec->username || !sec->password) {
            *err = "upstream SASL needs a username and a password";
            st_gw_upsec_unref(s);
            return -1;
        }
        s->username = strdup(sec->username);
        s->pw_len = strlen(sec->password);
        s->password = strdup(sec->password);
        if (!s->username || !s->password) {
            *err = "out of memory";
            st_gw_upsec_unref(s);
            return -1;
        }
    }
    if (s->protocol == ST_GW_UP_SSL || s->protocol == ST_GW_UP_SASL_SSL) {
        s->tls = st_tls_client_new(sec->ca_file, sec->cert_file, sec->key_file, err);
        if (!s->tls) {
            st_gw_upsec_unref(s);
            return -1;
        }
    }
    st_gw_upsec_unref(c->upsec);
    c->upsec = s;
    return 0;
}

char *
st_gw_password_file_read(const char *path, const char **err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        *err = "cannot read the upstream SASL password file";
        return NULL;
    }
    char *buf = calloc(1, 1026);
    size_t n = buf ? fread(buf, 1, 1025, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (!buf || bad) {
        *err = buf ? "cannot read the upstream SASL password file" : "out of memory";
        st_gw_secret_free(buf);
        return NULL;
    }
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (n > 0 && buf[n - 1] == '\r')
        buf[--n] = '\0';
    if (n > 1024 || n == 0 || strlen(buf) != n) {
        *err = "the upstream SASL password file must hold 1 to 1024 bytes without NUL";
        st_gw_secret_free(buf);
        return NULL;
    }
    return buf;
}

void
st_gw_secret_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* ---- sessions ---- */

static int sasl_start(struct st_gw_up *u);

struct st_gw_up *
st_gw_up_new(struct st_gw_upsec *sec, int fd, const char *host, const char **err)
{
    struct st_gw_up *u = calloc(1, sizeof(*u));
    if (!u) {
        *err = "out of memory";
        return NULL;
    }
    u->sec = st_gw_upsec_ref(sec);
    u->fd = fd;
    st_buf_init(&u->out, 0);
    st_buf_init(&u->in, UP_MAX_FRAME + 4);
    if (sec->tls) {
        u->ssl = st_tls_client_session(sec->tls, fd, host, sec->verify_host, err);
        if (!u->ssl) {
            st_gw_up_free(u);
            return NULL;
        }
        u->phase = UP_TLS;
    } else if (sasl_start(u) != 0) {
        *err = "out of memory";
        st_gw_up_free(u);
        return NULL;
    }
    return u;
}

void
st_gw_up_free(struct st_gw_up *u)
{
    if (!u)
        return;
    SSL_free(u->ssl);
    st_scram_client_free(u->scram);
    if (u->out.data)
        OPENSSL_cleanse(u->out.data, u->out.cap);
    st_buf_free(&u->out);
    st_buf_free(&u->in);
    st_gw_upsec_unref(u->sec);
    free(u);
}

/* Maps an SSL_read/SSL_write result (st_tls_io_result()): bytes, 0 on EOF, -1 on error (errno
 * EPROTO, reason in u->err), -2 would block. */
static ssize_t
tls_result(struct st_gw_up *u, int r, bool reading)
{
    char why[120];
    ssize_t n = st_tls_io_result(u->ssl, r, reading, &u->read_wants_write, why, sizeof(why));
    if (why[0])
        snprintf(u->err, sizeof(u->err), "TLS with the broker failed: %s", why);
    if (n == -1)
        errno = EPROTO;
    return n;
}

ssize_t
st_gw_up_read(struct st_gw_up *u, void *buf, size_t n)
{
    if (u->ssl) {
        ERR_clear_error();
        return tls_result(u, SSL_read(u->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n), true);
    }
    ssize_t r = read(u->fd, buf, n);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return -2;
    return r;
}

ssize_t
st_gw_up_write(struct st_gw_up *u, const void *buf, size_t n)
{
    if (u->ssl) {
        ERR_clear_error();
        ssize_t r =
            tls_result(u, SSL_write(u->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n), false);
        return r == 0 ? -1 : r;
    }
    for (;;) {
        ssize_t r = send(u->fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -2;
        if (errno != EINTR)
            return -1;
    }
}

const char *
st_gw_up_error(const struct st_gw_up *u)
{
    return u ? u->err : "";
}

size_t
st_gw_up_pending(const struct st_gw_up *u)
{
    return u->ssl ? (size_t)SSL_pending(u->ssl) : 0;
}

bool
st_gw_up_take_read_wants_write(struct st_gw_up *u)
{
    bool w = u->read_wants_write;
    u->read_wants_write = false;
    return w;
}

bool
st_gw_up_reauth_due(const struct st_gw_up *u, int64_t now_ms)
{
    return u->phase == UP_DONE && u->reauth_at_ms && now_ms >= u->reauth_at_ms;
}

int
st_gw_up_reauth(struct st_gw_up *u)
{
    st_scram_client_free(u->scram);
    u->scram = NULL;
    return sasl_start(u);
}

/* Starts a request frame: size placeholder and header v1. Returns the frame start. */
static size_t
req_begin(struct st_gw_up *u, int16_t key, int16_t version, int *rc)
{
    size_t start = st_buf_used(&u->out);
    u->corr++;
    *rc |= st_buf_append_i32(&u->out, 0) | st_buf_append_i16(&u->out, key) |
           st_buf_append_i16(&u->out, version) | st_buf_append_i32(&u->out, u->corr) |
           st_buf_append_i16(&u->out, (int16_t)strlen(UP_CLIENT_ID)) |
           st_buf_append(&u->out, UP_CLIENT_ID, strlen(UP_CLIENT_ID));
    return start;
}

static void
req_end(struct st_gw_up *u, size_t start)
{
    st_buf_put_i32_at(&u->out, start, (int32_t)(st_buf_used(&u->out) - start - 4));
}

/* Queues SaslHandshake v1 for the configured mechanism. */
static int
sasl_start(struct st_gw_up *u)
{
    if (!st_gw_upsec_sasl(u->sec)) {
        u->phase = UP_DONE;
        return 0;
    }
    const char *mech = st_gw_up_mech_name(u->sec->mech);
    int rc = 0;
    size_t start = req_begin(u, ST_KAFKA_SASL_HANDSHAKE, 1, &rc);
    rc |= st_buf_append_i16(&u->out, (int16_t)strlen(mech)) |
          st_buf_append(&u->out, mech, strlen(mech));
    if (rc)
        return -1;
    req_end(u, start);
    u->step = 0;
    u->phase = UP_SEND;
    return 0;
}

/* Queues SaslAuthenticate v1 carrying the `len` bytes produced at `tmp`. */
static int
sasl_send_auth(struct st_gw_up *u, const uint8_t *p, size_t len)
{
    int rc = 0;
    size_t start = req_begin(u, ST_KAFKA_SASL_AUTHENTICATE, 1, &rc);
    rc |= st_buf_append_i32(&u->out, (int32_t)len) | st_buf_append(&u->out, p, len);
    if (rc)
        return -1;
    req_end(u, start);
    u->phase = UP_SEND;
    return 0;
}

/* The first SaslAuthenticate: PLAIN's single message or SCRAM's client-first. */
static const char *
sasl_first_auth(struct st_gw_up *u)
{
    struct st_gw_upsec *s = u->sec;
    struct st_buf m;
    st_buf_init(&m, 0);
    int rc = 0;
    if (s->mech == ST_GW_UP_PLAIN) {
        /* authzid NUL authcid NUL password (RFC 4616), empty authzid */
        rc = st_buf_append_u8(&m, 0) | st_buf_append(&m, s->username, strlen(s->username)) |
             st_buf_append_u8(&m, 0) | st_buf_append(&m, s->password, s->pw_len);
    } else {
        u->scram = st_scram_client_new(s->mech == ST_GW_UP_SCRAM_SHA_256 ? ST_SCRAM_SHA256
                                                                         : ST_SCRAM_SHA512,
                                       s->username, s->password, s->pw_len, NULL);
        rc = !u->scram || st_scram_client_first(u->scram, &m) != 0;
    }
    if (rc == 0)
        rc = sasl_send_auth(u, st_buf_head(&m), st_buf_used(&m));
    if (m.data)
        OPENSSL_cleanse(m.data, m.cap);
    st_buf_free(&m);
    return rc ? "out of memory (or a username SCRAM cannot encode)" : NULL;
}

/*
 * Handles one whole response (`p`: after the size, `len` bytes). Returns NULL (next request
 * queued, or done), or the failure text in `why`.
 */
static const char *
sasl_response(struct st_gw_up *u, const uint8_t *p, size_t len, char *why, size_t why_len)
{
    struct st_gw_upsec *s = u->sec;
    if (len < 6 || st_rd_i32(p) != u->corr)
        return "malformed SASL response from the broker (correlation id)";
    int16_t ec = st_rd_i16(p + 4);
    p += 6;
    len -= 6;
    if (u->step == 0) {
        if (ec != 0) {
            /* Mechanisms the broker offers, for the log line. */
            char offered[256] = "";
            size_t used = 0;
            if (len >= 4) {
                int32_t n = st_rd_i32(p);
                size_t off = 4;
                for (int32_t i = 0; i < n && off + 2 <= len && used < sizeof(offered); i++) {
                    int16_t sl = st_rd_i16(p + off);
                    if (sl < 0 || off + 2 + (size_t)sl > len)
                        break;
                    used += (size_t)snprintf(offered + used, sizeof(offered) - used, "%s%.*s",
                                             i ? ", " : "", (int)sl, (const char *)p + off + 2);
                    off += 2 + (size_t)sl;
                }
            }
            snprintf(why, why_len,
                     "the broker refused SASL mechanism %s (SaslHandshake error %d; it offers: "
                     "%s)",
                     st_gw_up_mech_name(s->mech), ec, offered[0] ? offered : "none");
            return why;
        }
        u->step = 1;
        return sasl_first_auth(u);
    }
    /* SaslAuthenticate v1: error_message (nullable string), auth_bytes, session_lifetime_ms. */
    if (len < 2)
        return "malformed SaslAuthenticate response from the broker";
    int16_t ml = st_rd_i16(p);
    const uint8_t *msg = p + 2;
    if (ml > 0 && (size_t)ml > len - 2)
        return "malformed SaslAuthenticate response from the broker";
    size_t off = 2 + (ml > 0 ? (size_t)ml : 0);
    if (ec != 0) {
        snprintf(why, why_len,
                 "the broker refused strait's SASL %s credentials for user '%s' (error %d: %.*s)",
                 st_gw_up_mech_name(s->mech), s->username, ec, ml > 0 ? (int)ml : 0,
                 ml > 0 ? (const char *)msg : "");
        return why;
    }
    if (len < off + 4)
        return "malformed SaslAuthenticate response from the broker";
    int32_t al = st_rd_i32(p + off);
    if (al < -1 || (al > 0 && (size_t)al > len - off - 4))
        return "malformed SaslAuthenticate response from the broker";
    const uint8_t *auth = p + off + 4;
    size_t alen = al > 0 ? (size_t)al : 0;
    off += 4 + alen;
    int64_t lifetime = len >= off + 8 ? st_rd_i64(p + off) : 0;
    const char *err = NULL;
    if (s->mech != ST_GW_UP_PLAIN && u->step == 1) {
        struct st_buf m;
        st_buf_init(&m, 0);
        int rc = st_scram_client_final(u->scram, auth, alen, &m, &err);
        if (rc == 0)
            rc = sasl_send_auth(u, st_buf_head(&m), st_buf_used(&m));
        st_buf_free(&m);
        if (rc != 0) {
            snprintf(why, why_len, "SCRAM with the broker failed: %s", err ? err : "out of memory");
            return why;
        }
        u->step = 2;
        return NULL;
    }
    if (s->mech != ST_GW_UP_PLAIN && st_scram_client_verify(u->scram, auth, alen, &err) != 0) {
        snprintf(why, why_len, "SCRAM with the broker failed: the broker's signature is wrong (%s)",
                 err ? err : "mismatch");
        return why;
    }
    st_scram_client_free(u->scram);
    u->scram = NULL;
    /* KIP-368: re-authenticate at 85% of the broker's session lifetime (a lifetime beyond a
     * year is treated as a year: it comes from the broker and must not overflow). */
    if (lifetime > 365LL * 24 * 3600 * 1000)
        lifetime = 365LL * 24 * 3600 * 1000;
    u->reauth_at_ms = lifetime > 0 ? st_mono_ms() + lifetime * 85 / 100 : 0;
    u->phase = UP_DONE;
    return NULL;
}

int
st_gw_up_step(struct st_gw_up *u, char *why, size_t why_len)
{
    for (;;) {
        switch (u->phase) {
        case UP_TLS: {
            ERR_clear_error();
            int r = SSL_do_handshake(u->ssl);
            if (r == 1) {
                if (sasl_start(u) != 0) {
                    snprintf(why, why_len, "out of memory");
                    return ST_GW_UP_FAILED;
                }
                continue;
            }
            int e = SSL_get_error(u->ssl, r);
            if (e == SSL_ERROR_WANT_READ)
                return ST_GW_UP_WANT_READ;
            if (e == SSL_ERROR_WANT_WRITE)
                return ST_GW_UP_WANT_WRITE;
            st_tls_client_error(u->ssl, why, why_len);
            return ST_GW_UP_FAILED;
        }
        case UP_SEND:
            while (st_buf_used(&u->out)) {
                ssize_t n = st_gw_up_write(u, st_buf_head(&u->out), st_buf_used(&u->out));
                if (n == -2)
                    return ST_GW_UP_WANT_WRITE;
                if (n <= 0) { /* 0 bytes written is no progress */
                    snprintf(why, why_len, "writing to the broker during SASL failed: %s",
                             u->err[0] ? u->err : strerror(errno));
                    return ST_GW_UP_FAILED;
                }
                st_buf_consume(&u->out, (size_t)n);
            }
            if (u->out.data)
                OPENSSL_cleanse(u->out.data, u->out.cap);
            st_buf_reset(&u->out);
            u->phase = UP_RECV;
            continue;
        case UP_RECV: {
            if (st_buf_reserve(&u->in, 4096) != 0) {
                snprintf(why, why_len, "the broker's SASL response is too large");
                return ST_GW_UP_FAILED;
            }
            ssize_t n = st_gw_up_read(u, u->in.data + u->in.len, st_buf_room(&u->in));
            if (n == -2)
                return u->read_wants_write ? ST_GW_UP_WANT_WRITE : ST_GW_UP_WANT_READ;
            if (n < 0 && u->err[0]) {
                /* TLS 1.3: a refused client certificate shows as an alert after the handshake. */
                snprintf(why, why_len, "%s", u->err);
                return ST_GW_UP_FAILED;
            }
            if (n <= 0) {
                snprintf(why, why_len,
                         "the broker closed the connection during SASL %s (does it expect "
                         "this security protocol?)",
                         u->step == 0 ? "SaslHandshake" : "SaslAuthenticate");
                return ST_GW_UP_FAILED;
            }
            u->in.len += (size_t)n;
            if (st_buf_used(&u->in) < 4)
                continue;
            int32_t size = st_rd_i32(st_buf_head(&u->in));
            if (size < 6 || (uint32_t)size > UP_MAX_FRAME) {
                snprintf(why, why_len, "the broker sent a SASL response frame of size %d", size);
                return ST_GW_UP_FAILED;
            }
            if (st_buf_used(&u->in) < 4 + (size_t)size)
                continue;
            if (st_buf_used(&u->in) > 4 + (size_t)size) {
                snprintf(why, why_len, "the broker sent unexpected bytes during SASL");
                return ST_GW_UP_FAILED;
            }
            const char *f = sasl_response(u, st_buf_head(&u->in) + 4, (size_t)size, why, why_len);
            st_buf_reset(&u->in);
            if (f) {
                if (f != why)
                    snprintf(why, why_len, "%s", f);
                return ST_GW_UP_FAILED;
            }
            continue;
        }
        case UP_DONE:
        default:
            return ST_GW_UP_DONE;
        }
    }
}

/*
 * SASL termination on endpoints (msk-client-auth.md §1): SaslHandshake v0/v1 and SaslAuthenticate
 * v0-v2 are answered by strait itself, never forwarded. The state machine follows Kafka's
 * SaslServerAuthenticator: handshake, then the mechanism exchange (AWS_MSK_IAM or OAUTHBEARER for
 * SASL_IAM endpoints; SCRAM-SHA-512/256 for SASL_SCRAM endpoints), then COMPLETE; a handshake on
 * an authenticated connection starts a KIP-368 re-authentication (same mechanism, same
 * principal). Credentials, SCRAM secrets and the kafka-cluster:Connect decision come from the
 * cluster's auth provider (an immutable control-plane snapshot); failures are answered with
 * SASL_AUTHENTICATION_FAILED, counted, and rate limited per source address.
 * Context: the gateway's event loop; no I/O here (conn.c sends what this file builds).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/crypto.h"
#include "auth/encoding.h"
#include "auth/msk_iam.h"
#include "auth/oauthbearer.h"
#include "auth/scram.h"
#include "gateway/internal.h"
#include "util/clock.h"
#include "util/log.h"

enum sasl_state {
    S_INITIAL = 0,  /* nothing yet: ApiVersions or SaslHandshake */
    S_AUTHENTICATE, /* handshake done: the first SaslAuthenticate */
    S_SCRAM_FINAL,  /* SCRAM server-first sent: client-final expected */
    S_OAUTH_ERR,    /* OAUTHBEARER error challenge sent: the client's 0x01 expected */
    S_COMPLETE,     /* authenticated */
    S_FAILED,       /* failed: the connection is closing */
};

enum sasl_mech {
    M_NONE = 0,
    M_IAM,      /* AWS_MSK_IAM */
    M_OAUTH,    /* OAUTHBEARER */
    M_SCRAM256, /* SCRAM-SHA-256 */
    M_SCRAM512, /* SCRAM-SHA-512 */
};

/* The counters index auth_by_mech with these values. */
_Static_assert((int)M_IAM == ST_GW_MECH_AWS_MSK_IAM && (int)M_OAUTH == ST_GW_MECH_OAUTHBEARER &&
                   (int)M_SCRAM256 == ST_GW_MECH_SCRAM_SHA_256 &&
                   (int)M_SCRAM512 == ST_GW_MECH_SCRAM_SHA_512,
               "sasl_mech must match enum st_gw_mech");

static const char *const mech_names[] = {"", ST_MSK_IAM_MECHANISM, ST_OAUTHBEARER_MECHANISM,
                                         "SCRAM-SHA-256", "SCRAM-SHA-512"};

struct st_sasl {
    enum sasl_state state;         /* see above */
    enum sasl_mech mech;           /* chosen at the handshake */
    bool reauth;                   /* this exchange re-authenticates a COMPLETE connection */
    bool handshake_v0;             /* the client asked for raw SASL frames */
    struct st_scram_server *scram; /* SCRAM exchange in progress */
    char *scram_user;              /* username of the SCRAM exchange in progress */
    char *principal;               /* authenticated principal ("User:alice" or an IAM ARN) */
    int64_t deadline_ms;           /* monotonic ms the session expires at, 0 = never */
    char pending_reason[256];      /* OAUTHBEARER failure reason kept until the client's 0x01 */
    struct st_buf scram_cfb;       /* SCRAM client-first-message-bare as received */
    struct st_buf scram_sf;        /* SCRAM server-first-message as sent */
    struct st_scram_cred cred;     /* the user's credential during an exchange (wiped after) */
    bool cred_known;               /* cred is the user's (not a mock) */
};

/* ---- per-source-address failure limiting ---- */

#define THROTTLE_SLOTS 512

struct throttle_slot {
    char ip[64];          /* source address, "" = free */
    int64_t window_start; /* monotonic ms */
    uint32_t failures;    /* failures within the window */
};

static struct throttle_slot throttle[THROTTLE_SLOTS];
static uint8_t scram_mock_key[32];
static bool scram_mock_key_set;

static uint32_t
ip_hash(const char *ip)
{
    uint32_t h = 2166136261u;
    for (; *ip; ip++)
        h = (h ^ (uint8_t)*ip) * 16777619u;
    return h;
}

/* The slot of `ip` (found, or a free / stale / hashed one reclaimed). */
static struct throttle_slot *
throttle_slot(const char *ip, const struct st_gw_limits *lim, int64_t now)
{
    uint32_t h = ip_hash(ip);
    struct throttle_slot *victim = NULL;
    for (uint32_t i = 0; i < 8; i++) {
        struct throttle_slot *s = &throttle[(h + i) % THROTTLE_SLOTS];
        if (strcmp(s->ip, ip) == 0)
            return s;
        if (!victim && (!s->ip[0] || now - s->window_start >= (int64_t)lim->auth_fail_window_ms))
            victim = s;
    }
    if (!victim)
        victim = &throttle[h % THROTTLE_SLOTS];
    snprintf(victim->ip, sizeof(victim->ip), "%s", ip);
    victim->window_start = now;
    victim->failures = 0;
    return victim;
}

static bool
throttled(const char *ip, const struct st_gw_limits *lim)
{
    if (lim->auth_fail_limit == 0)
        return false;
    int64_t now = st_mono_ms();
    struct throttle_slot *s = throttle_slot(ip, lim, now);
    if (now - s->window_start >= (int64_t)lim->auth_fail_window_ms) {
        s->window_start = now;
        s->failures = 0;
    }
    return s->failures >= lim->auth_fail_limit;
}

static void
note_failure(const char *ip, const struct st_gw_limits *lim)
{
    int64_t now = st_mono_ms();
    struct throttle_slot *s = throttle_slot(ip, lim, now);
    if (now - s->window_start >= (int64_t)lim->auth_fail_window_ms) {
        s->window_start = now;
        s->failures = 0;
    }
    s->failures++;
}

/* ---- lifecycle ---- */

struct st_sasl *
st_sasl_new(void)
{
    return calloc(1, sizeof(struct st_sasl));
}

void
st_sasl_free(struct st_sasl *s)
{
    if (!s)
        return;
    st_scram_server_free(s->scram);
    free(s->scram_user);
    free(s->principal);
    st_buf_free(&s->scram_cfb);
    st_buf_free(&s->scram_sf);
    OPENSSL_cleanse(&s->cred, sizeof(s->cred));
    free(s);
}

bool
st_sasl_pre_handshake(const struct st_sasl *s)
{
    return s->state == S_INITIAL;
}

bool
st_sasl_in_exchange(const struct st_sasl *s)
{
    return s->state == S_AUTHENTICATE || s->state == S_SCRAM_FINAL || s->state == S_OAUTH_ERR;
}

bool
st_sasl_expired(const struct st_sasl *s, int64_t now_mono_ms)
{
    return s->state == S_COMPLETE && !s->reauth && s->deadline_ms && now_mono_ms >= s->deadline_ms;
}

const char *
st_sasl_principal(const struct st_sasl *s)
{
    return s->principal ? s->principal : "";
}

bool
st_sasl_is_iam(const struct st_sasl *s)
{
    return s->principal && (s->mech == M_IAM || s->mech == M_OAUTH);
}

/* ---- wire helpers ---- */

static int
read_uvarint(const uint8_t *p, size_t len, size_t *off, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 35; shift += 7) {
        if (*off >= len)
            return -1;
        uint8_t b = p[(*off)++];
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

/* SaslAuthenticate request body -> AuthBytes (borrowed). */
static int
parse_auth_bytes(int16_t version, const uint8_t *body, size_t len, const uint8_t **bytes, size_t *n)
{
    size_t off = 0;
    if (version >= 2) {
        uint64_t l;
        if (read_uvarint(body, len, &off, &l) != 0 || l == 0 || l - 1 > len - off)
            return -1;
        *bytes = body + off;
        *n = (size_t)(l - 1);
        return 0;
    }
    if (len < 4)
        return -1;
    int32_t l = st_rd_i32(body);
    if (l < 0 || (size_t)l > len - 4)
        return -1;
    *bytes = body + 4;
    *n = (size_t)l;
    return 0;
}

static int
begin_response(struct st_buf *out, int32_t corr, bool flexible, size_t *start)
{
    *start = st_buf_used(out);
    int rc = st_buf_append_i32(out, 0) | st_buf_append_i32(out, corr);
    if (flexible)
        rc |= st_buf_append_u8(out, 0);
    return rc ? -1 : 0;
}

static void
end_response(struct st_buf *out, size_t start)
{
    st_buf_put_i32_at(out, start, (int32_t)(st_buf_used(out) - start - 4));
}

static int
handshake_response(struct st_buf *out, int32_t corr, int16_t error, unsigned scheme)
{
    size_t start;
    if (begin_response(out, corr, false, &start) != 0)
        return -1;
    const char *m[4];
    int32_t n = 0;
    if (scheme & ST_GW_AUTH_SASL_IAM) {
        m[n++] = ST_MSK_IAM_MECHANISM;
        m[n++] = ST_OAUTHBEARER_MECHANISM;
    }
    if (scheme & ST_GW_AUTH_SASL_SCRAM) {
        m[n++] = "SCRAM-SHA-512";
        m[n++] = "SCRAM-SHA-256";
    }
    int rc = st_buf_append_i16(out, error) | st_buf_append_i32(out, n);
    for (int32_t i = 0; i < n; i++)
        rc |=
            st_buf_append_i16(out, (int16_t)strlen(m[i])) | st_buf_append(out, m[i], strlen(m[i]));
    if (rc)
        return -1;
    end_response(out, start);
    return 0;
}

static int
auth_response(struct st_buf *out, const struct st_kreq_hdr *h, int16_t error, const char *msg,
              const uint8_t *bytes, size_t n, int64_t lifetime_ms)
{
    bool flex = h->api_version >= 2;
    size_t start;
    if (begin_response(out, h->correlation_id, flex, &start) != 0)
        return -1;
    int rc = st_buf_append_i16(out, error);
    size_t ml = msg ? strlen(msg) : 0;
    if (ml > 4000)
        ml = 4000;
    if (flex) {
        rc |= st_buf_append_uvarint(out, msg ? ml + 1 : 0);
        if (msg)
            rc |= st_buf_append(out, msg, ml);
        rc |= st_buf_append_uvarint(out, n + 1);
    } else {
        rc |= st_buf_append_i16(out, msg ? (int16_t)ml : -1);
        if (msg)
            rc |= st_buf_append(out, msg, ml);
        rc |= st_buf_append_i32(out, (int32_t)n);
    }
    if (n)
        rc |= st_buf_append(out, bytes, n);
    if (h->api_version >= 1)
        rc |= st_buf_append_i64(out, lifetime_ms);
    if (flex)
        rc |= st_buf_append_u8(out, 0);
    if (rc)
        return -1;
    end_response(out, start);
    return 0;
}

static void
request_id(char out[33])
{
    uint8_t b[16];
    if (st_random(b, sizeof(b)) != 0)
        memset(b, 0, sizeof(b));
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* ---- the exchange ---- */

/* Fails the exchange: SASL_AUTHENTICATION_FAILED with `msg`, counted and logged. */
static enum st_sasl_verdict
fail(struct st_sasl *s, const struct st_sasl_env *env, const struct st_kreq_hdr *h,
     struct st_buf *out, const char *msg, const char *detail)
{
    s->state = S_FAILED;
    env->cluster->counters.auth_failed++;
    env->ep->counters.auth_failed++;
    env->cluster->counters.auth_by_mech[s->mech][1]++;
    env->ep->counters.auth_by_mech[s->mech][1]++;
    note_failure(env->peer_ip, &env->cluster->limits);
    snprintf(env->reason, env->reason_len, "%s authentication failed: %s", mech_names[s->mech],
             detail ? detail : msg);
    if (auth_response(out, h, ST_KERR_SASL_AUTHENTICATION_FAILED, msg, NULL, 0, 0) != 0)
        return ST_SASL_CLOSE;
    return ST_SASL_FAIL;
}

/* Completes an exchange for `principal` with `lifetime_ms` (0 = none), answering `bytes`. */
static enum st_sasl_verdict
complete(struct st_sasl *s, const struct st_sasl_env *env, const struct st_kreq_hdr *h,
         struct st_buf *out, const char *principal, int64_t lifetime_ms, const uint8_t *bytes,
         size_t n)
{
    if (s->reauth && s->principal && strcmp(s->principal, principal) != 0) {
        char msg[1200];
        snprintf(msg, sizeof(msg), "Cannot change principals during re-authentication from %s: %s",
                 s->principal, principal);
        return fail(s, env, h, out, msg, msg);
    }
    const struct st_gw_limits *lim = &env->cluster->limits;
    if (lim->max_session_ms > 0 && (lifetime_ms == 0 || lim->max_session_ms < lifetime_ms))
        lifetime_ms = lim->max_session_ms;
    if (!s->principal) {
        s->principal = strdup(principal);
        if (!s->principal)
            return ST_SASL_CLOSE;
    }
    s->state = S_COMPLETE;
    s->deadline_ms = lifetime_ms > 0 ? st_mono_ms() + lifetime_ms : 0;
    bool was_reauth = s->reauth;
    s->reauth = false;
    env->cluster->counters.auth_by_mech[s->mech][0]++;
    env->ep->counters.auth_by_mech[s->mech][0]++;
    env->cluster->counters.auth_ok++;
    env->ep->counters.auth_ok++;
    st_info("C-%llu %s->%s: %sauthenticated %s with %s (session %lld ms)",
            (unsigned long long)env->conn_id, env->peer, env->host, was_reauth ? "re-" : "",
            principal, mech_names[s->mech], (long long)lifetime_ms);
    if (auth_response(out, h, ST_KERR_NONE, NULL, bytes, n, lifetime_ms) != 0)
        return ST_SASL_CLOSE;
    return ST_SASL_DONE;
}

static int
sigv4_lookup_tramp(void *arg, const char *akid, const char *token, size_t token_len,
                   struct st_sigv4_secret *out)
{
    const struct st_gw_auth *a = arg;
    return a->ops->sigv4_lookup(a->ctx, akid, token, token_len, out);
}

static enum st_sasl_verdict
iam_exchange(struct st_sasl *s, const struct st_sasl_env *env, const struct st_kreq_hdr *h,
             const uint8_t *bytes, size_t n, struct st_buf *out)
{
    const struct st_gw_auth *a = &env->cluster->auth;
    time_t now = time(NULL);
    struct st_sigv4_verifier sv = {
        a->region,          ST_MSK_IAM_SERVICE, ST_SIGV4_DEFAULT_SKEW, ST_SIGV4_KAFKA_MAX_EXPIRES,
        sigv4_lookup_tramp, (void *)a};
    struct st_sigv4_identity id;
    memset(&id, 0, sizeof(id));
    const char *err = NULL;
    int rc;
    char rid[33];
    request_id(rid);
    if (s->mech == M_IAM) {
        const char *hosts[] = {env->host};
        struct st_msk_iam_verifier v = {sv, hosts, 1};
        rc = st_msk_iam_authenticate(&v, bytes, n, now, &id, &err);
    } else {
        struct st_oauthbearer_verifier v = {sv, NULL};
        rc = st_oauthbearer_verify(&v, bytes, n, now, &id, &err);
    }
    char detail[512], msg[768];
    if (rc != 0) {
        if (id.access_key_id[0])
            snprintf(detail, sizeof(detail), "%s (access key %s, region %s)", err ? err : "invalid",
                     id.access_key_id, id.region[0] ? id.region : "?");
        else
            snprintf(detail, sizeof(detail), "%s", err ? err : "invalid");
        st_sigv4_identity_clear(&id);
        snprintf(msg, sizeof(msg), "[%s]: Access denied: %s", rid, detail);
        if (s->mech == M_OAUTH) {
            /* RFC 7628: an error challenge first; the failure follows the client's 0x01. */
            snprintf(s->pending_reason, sizeof(s->pending_reason), "%s", msg);
            struct st_buf ch;
            st_buf_init(&ch, 0);
            if (st_oauthbearer_error_challenge(&ch) != 0 ||
                auth_response(out, h, ST_KERR_NONE, NULL, st_buf_head(&ch), st_buf_used(&ch), 0) !=
                    0) {
                st_buf_free(&ch);
                return ST_SASL_CLOSE;
            }
            st_buf_free(&ch);
            s->state = S_OAUTH_ERR;
            return ST_SASL_REPLY;
        }
        return fail(s, env, h, out, msg, detail);
    }
    const void *principal = id.principal;
    char arn[512];
    snprintf(arn, sizeof(arn), "%s", a->ops->principal_arn(a->ctx, principal));
    int64_t life = st_sigv4_remaining_ms(&id, now);
    /* A signature in its last instant still verifies; its session must not become unlimited
     * (0 means "no expiry" on the wire): it expires at once. */
    if (life == 0)
        life = 1;
    int64_t exp = a->ops->principal_expiry(a->ctx, principal);
    st_sigv4_identity_clear(&id);
    if (exp > 0) {
        int64_t left = exp * 1000 - (int64_t)now * 1000;
        if (left < 1)
            left = 1;
        if (life <= 0 || left < life)
            life = left;
    }
    char why[768];
    struct st_gw_authz_req crq = {.principal = arn,
                                  .iam = true,
                                  .cluster_arn = a->cluster_arn,
                                  .source_ip = env->peer_ip,
                                  .endpoint = env->host,
                                  .tls = env->ep && env->ep->tls != NULL,
                                  .type = ST_KRES_CLUSTER};
    if (a->ops->authorize_connect(a->ctx, principal, &crq, why, sizeof(why)) != 0) {
        env->cluster->counters.auth_denied++;
        snprintf(msg, sizeof(msg), "[%s]: Access denied: %s", rid, why);
        return fail(s, env, h, out, msg, msg);
    }
    struct st_buf ok;
    st_buf_init(&ok, 0);
    if (s->mech == M_IAM && st_msk_iam_response(rid, &ok) != 0) {
        st_buf_free(&ok);
        return ST_SASL_CLOSE;
    }
    enum st_sasl_verdict v =
        complete(s, env, h, out, arn, life > 0 ? life : 0, st_buf_head(&ok), st_buf_used(&ok));
    st_buf_free(&ok);
    return v;
}

/*
 * librdkafka (at least up to 2.x) sends client-final's nonce as cnonce + (cnonce + snonce); Kafka's
 * ScramSaslServer accepts any nonce that ends with the server-first nonce, so strait must too.
 * The proof is verified here exactly as RFC 5802 says, over the AuthMessage built from the bytes
 * received: H(ClientProof XOR HMAC(StoredKey, AuthMessage)) == StoredKey, in constant time.
 * Appends server-final to `out` and returns 0; -1 when the message has another shape, -2 when the
 * proof does not verify.
 */
static int
scram_final_compat(struct st_sasl *s, const uint8_t *msg, size_t n, struct st_buf *out)
{
    const char *sf = (const char *)st_buf_head(&s->scram_sf);
    size_t sfl = st_buf_used(&s->scram_sf);
    if (sfl < 2 || memcmp(sf, "r=", 2) != 0)
        return -1;
    const char *sfe = memchr(sf, ',', sfl);
    if (!sfe)
        return -1;
    size_t nl = (size_t)(sfe - sf) - 2; /* server-first nonce (cnonce + snonce) */
    /* c=biws,r=<nonce>,p=<proof>: no extensions (librdkafka sends none). */
    static const char pre[] = "c=biws,r=";
    if (n < sizeof(pre) - 1 || memcmp(msg, pre, sizeof(pre) - 1) != 0)
        return -1;
    const uint8_t *pp = NULL;
    for (size_t i = n; i >= 3 && !pp; i--)
        if (memcmp(msg + i - 3, ",p=", 3) == 0)
            pp = msg + i - 3;
    if (!pp)
        return -1;
    const uint8_t *r = msg + sizeof(pre) - 1;
    size_t rl = (size_t)(pp - r);
    if (rl <= nl || memcmp(r + rl - nl, sf + 2, nl) != 0 || memchr(r, ',', rl))
        return -1;
    enum st_md md = s->mech == M_SCRAM512 ? ST_MD_SHA512 : ST_MD_SHA256;
    size_t hl = st_md_size(md);
    uint8_t proof[ST_CRYPTO_MAX_MD + 3];
    const char *err = NULL;
    long pl =
        st_b64_decode((const char *)pp + 3, n - (size_t)(pp + 3 - msg), proof, sizeof(proof), &err);
    if (pl < 0 || (size_t)pl != hl)
        return -1;
    struct st_buf am;
    st_buf_init(&am, 0);
    int rc = st_buf_append(&am, st_buf_head(&s->scram_cfb), st_buf_used(&s->scram_cfb)) |
             st_buf_append_u8(&am, ',') | st_buf_append(&am, sf, sfl) | st_buf_append_u8(&am, ',') |
             st_buf_append(&am, msg, (size_t)(pp - msg));
    uint8_t sig[ST_CRYPTO_MAX_MD], key[ST_CRYPTO_MAX_MD], stored[ST_CRYPTO_MAX_MD];
    if (rc == 0)
        rc = st_hmac(md, s->cred.stored_key, hl, st_buf_head(&am), st_buf_used(&am), sig);
    for (size_t i = 0; rc == 0 && i < hl; i++)
        key[i] = proof[i] ^ sig[i];
    if (rc == 0)
        rc = st_digest(md, key, hl, stored);
    bool bad_proof = rc == 0 && CRYPTO_memcmp(stored, s->cred.stored_key, hl) != 0;
    if (bad_proof)
        rc = -1;
    char b64[ST_CRYPTO_MAX_MD * 2];
    if (rc == 0)
        rc = st_hmac(md, s->cred.server_key, hl, st_buf_head(&am), st_buf_used(&am), sig);
    if (rc == 0 && st_b64_encode(sig, hl, b64, sizeof(b64)) < 0)
        rc = -1;
    if (rc == 0)
        rc = st_buf_append(out, "v=", 2) | st_buf_append(out, b64, strlen(b64));
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(sig, sizeof(sig));
    st_buf_free(&am);
    return bad_proof ? -2 : rc ? -1 : 0;
}

static enum st_sasl_verdict
scram_exchange(struct st_sasl *s, const struct st_sasl_env *env, const struct st_kreq_hdr *h,
               const uint8_t *bytes, size_t n, struct st_buf *out)
{
    const struct st_gw_auth *a = &env->cluster->auth;
    enum st_scram_mech sm = s->mech == M_SCRAM512 ? ST_SCRAM_SHA512 : ST_SCRAM_SHA256;
    char generic[160];
    snprintf(generic, sizeof(generic),
             "Authentication failed during authentication due to invalid credentials with SASL "
             "mechanism %s",
             mech_names[s->mech]);
    const char *err = NULL;
    struct st_buf reply;
    st_buf_init(&reply, 0);
    if (s->state == S_AUTHENTICATE) {
        if (!scram_mock_key_set) {
            if (st_random(scram_mock_key, sizeof(scram_mock_key)) != 0)
                return ST_SASL_CLOSE;
            scram_mock_key_set = true;
        }
        st_scram_server_free(s->scram);
        s->scram = st_scram_server_new(sm, scram_mock_key, sizeof(scram_mock_key));
        if (!s->scram)
            return ST_SASL_CLOSE;
        const char *user = NULL;
        if (st_scram_server_client_first(s->scram, bytes, n, &user, &err) != 0) {
            bool pass = err == st_scram_err_authzid;
            char detail[256];
            snprintf(detail, sizeof(detail), "malformed client-first message: %s", err);
            return fail(s, env, h, out, pass ? err : generic, detail);
        }
        free(s->scram_user);
        s->scram_user = strdup(user);
        if (!s->scram_user)
            return ST_SASL_CLOSE;
        memset(&s->cred, 0, sizeof(s->cred));
        s->cred_known = a->ops->scram_lookup(a->ctx, a->cluster_arn, sm, user, &s->cred) == 0;
        int rc =
            st_scram_server_first(s->scram, s->cred_known ? &s->cred : NULL, NULL, &reply, &err);
        /* Kept for the librdkafka nonce quirk (scram_final_compat()). */
        const uint8_t *bare = memchr(bytes, ',', n);
        bare = bare ? memchr(bare + 1, ',', n - (size_t)(bare + 1 - bytes)) : NULL;
        st_buf_reset(&s->scram_cfb);
        st_buf_reset(&s->scram_sf);
        if (rc == 0 &&
            (!bare || st_buf_append(&s->scram_cfb, bare + 1, n - (size_t)(bare + 1 - bytes)) != 0 ||
             st_buf_append(&s->scram_sf, st_buf_head(&reply), st_buf_used(&reply)) != 0)) {
            st_buf_free(&reply);
            return ST_SASL_CLOSE;
        }
        if (rc != 0) {
            st_buf_free(&reply);
            return fail(s, env, h, out, generic, err);
        }
        s->state = S_SCRAM_FINAL;
        rc = auth_response(out, h, ST_KERR_NONE, NULL, st_buf_head(&reply), st_buf_used(&reply), 0);
        st_buf_free(&reply);
        return rc == 0 ? ST_SASL_REPLY : ST_SASL_CLOSE;
    }
    int frc = st_scram_server_client_final(s->scram, bytes, n, &reply, &err);
    if (frc != 0 && s->cred_known) {
        int crc = scram_final_compat(s, bytes, n, &reply);
        if (crc == 0)
            frc = 0;
        else if (crc == -2)
            err = "SCRAM: invalid credentials";
    }
    OPENSSL_cleanse(&s->cred, sizeof(s->cred));
    if (frc != 0) {
        st_buf_free(&reply);
        char detail[600];
        snprintf(detail, sizeof(detail), "user %.200s: %s", s->scram_user ? s->scram_user : "?",
                 err ? err : "invalid proof");
        return fail(s, env, h, out, generic, detail);
    }
    st_scram_server_free(s->scram);
    s->scram = NULL;
    char principal[ST_SCRAM_MAX_NAME + 8];
    snprintf(principal, sizeof(principal), "User:%s", s->scram_user);
    enum st_sasl_verdict v =
        complete(s, env, h, out, principal, 0, st_buf_head(&reply), st_buf_used(&reply));
    st_buf_free(&reply);
    return v;
}

/* A SaslHandshake in the middle of an exchange: ILLEGAL_SASL_STATE (empty mechanism list, as
 * Kafka's SaslHandshakeRequest.getErrorResponse), counted as a failed authentication, then the
 * connection closes (env->reason set by the caller). */
static enum st_sasl_verdict
illegal_state(struct st_sasl *s, const struct st_sasl_env *env, const struct st_kreq_hdr *h,
              struct st_buf *out)
{
    env->cluster->counters.auth_failed++;
    env->ep->counters.auth_failed++;
    env->cluster->counters.auth_by_mech[s->mech][1]++;
    env->ep->counters.auth_by_mech[s->mech][1]++;
    s->state = S_FAILED;
    return handshake_response(out, h->correlation_id, ST_KERR_ILLEGAL_SASL_STATE, 0) == 0
               ? ST_SASL_FAIL
               : ST_SASL_CLOSE;
}

static enum st_sasl_verdict
on_handshake(struct st_sasl *s, const struct st_sasl_env *env, const struct st_kreq_hdr *h,
             const uint8_t *body, size_t len, struct st_buf *out)
{
    unsigned scheme = env->cluster->auth.scheme;
    if (len < 2 || st_rd_i16(body) < 0 || (size_t)st_rd_i16(body) > len - 2) {
        snprintf(env->reason, env->reason_len, "malformed SaslHandshake request");
        return ST_SASL_CLOSE;
    }
    size_t ml = (size_t)st_rd_i16(body);
    const char *m = (const char *)body + 2;
    if (s->state != S_INITIAL && s->state != S_COMPLETE) {
        /* Kafka: "Unexpected Kafka request of type SASL_HANDSHAKE during SASL authentication."
         * answered with the handshake's error response (no mechanisms), then closed. */
        snprintf(env->reason, env->reason_len,
                 "Unexpected Kafka request of type SASL_HANDSHAKE during SASL authentication "
                 "(a second SaslHandshake before the %s exchange finished): ILLEGAL_SASL_STATE",
                 mech_names[s->mech]);
        return illegal_state(s, env, h, out);
    }
    enum sasl_mech mech = M_NONE;
    for (int i = 1; i <= 4; i++)
        if (strlen(mech_names[i]) == ml && memcmp(mech_names[i], m, ml) == 0)
            mech = (enum sasl_mech)i;
    bool offered = ((scheme & ST_GW_AUTH_SASL_IAM) && (mech == M_IAM || mech == M_OAUTH)) ||
                   ((scheme & ST_GW_AUTH_SASL_SCRAM) && (mech == M_SCRAM256 || mech == M_SCRAM512));
    if (h->api_version == 0) {
        /* Raw SASL tokens would follow; none of strait's mechanisms needs them. */
        s->state = S_FAILED;
        snprintf(env->reason, env->reason_len,
                 "SaslHandshake v0 (raw SASL tokens) is not supported: use a client that "
                 "speaks SaslAuthenticate (KIP-152)");
        return handshake_response(out, h->correlation_id, ST_KERR_UNSUPPORTED_VERSION, scheme) == 0
                   ? ST_SASL_FAIL
                   : ST_SASL_CLOSE;
    }
    if (!offered || (s->state == S_COMPLETE && mech != s->mech)) {
        char mname[64];
        snprintf(mname, sizeof(mname), "%.*s", (int)(ml < 60 ? ml : 60), m);
        for (char *p = mname; *p; p++)
            if (*p < 0x20 || *p > 0x7e)
                *p = '?';
        if (s->state == S_COMPLETE)
            snprintf(env->reason, env->reason_len,
                     "SASL mechanism '%s' requested by client is not supported for "
                     "re-authentication of mechanism '%s'",
                     mname, mech_names[s->mech]);
        else
            snprintf(env->reason, env->reason_len,
                     "client requested SASL mechanism '%s'; this endpoint offers %s%s%s", mname,
                     (scheme & ST_GW_AUTH_SASL_IAM) ? "AWS_MSK_IAM, OAUTHBEARER (SASL_IAM)" : "",
                     scheme == (ST_GW_AUTH_SASL_IAM | ST_GW_AUTH_SASL_SCRAM) ? ", " : "",
                     (scheme & ST_GW_AUTH_SASL_SCRAM) ? "SCRAM-SHA-512, SCRAM-SHA-256 (SASL_SCRAM)"
                                                      : "");
        s->state = S_FAILED;
        env->cluster->counters.auth_failed++;
        env->ep->counters.auth_failed++;
        env->cluster->counters.auth_by_mech[ST_GW_MECH_NONE][1]++;
        env->ep->counters.auth_by_mech[ST_GW_MECH_NONE][1]++;
        return handshake_response(out, h->correlation_id, ST_KERR_UNSUPPORTED_SASL_MECHANISM,
                                  scheme) == 0
                   ? ST_SASL_FAIL
                   : ST_SASL_CLOSE;
    }
    s->reauth = s->state == S_COMPLETE;
    s->mech = mech;
    s->state = S_AUTHENTICATE;
    return handshake_response(out, h->correlation_id, ST_KERR_NONE, scheme) == 0 ? ST_SASL_REPLY
                                                                                 : ST_SASL_CLOSE;
}

enum st_sasl_verdict
st_sasl_request(struct st_sasl *s, const struct st_sasl_env *env, const struct st_kreq_hdr *h,
                const uint8_t *body, size_t len, struct st_buf *out)
{
    const struct st_gw_auth *a = &env->cluster->auth;
    env->reason[0] = '\0';
    if (a->scheme == ST_GW_AUTH_NONE || !a->ops || !a->ctx) {
        snprintf(env->reason, env->reason_len,
                 "SASL request on an endpoint with no authentication configured yet");
        return ST_SASL_CLOSE;
    }
    if (h->api_key == ST_KAFKA_SASL_HANDSHAKE) {
        if (s->state != S_COMPLETE && throttled(env->peer_ip, &env->cluster->limits)) {
            env->cluster->counters.auth_throttled++;
            snprintf(env->reason, env->reason_len,
                     "too many failed authentications from %s: refused for up to %u s",
                     env->peer_ip, env->cluster->limits.auth_fail_window_ms / 1000);
            s->state = S_FAILED;
            return handshake_response(out, h->correlation_id, ST_KERR_ILLEGAL_SASL_STATE,
                                      a->scheme) == 0
                       ? ST_SASL_FAIL
                       : ST_SASL_CLOSE;
        }
        return on_handshake(s, env, h, body, len, out);
    }
    /* SaslAuthenticate */
    if (s->state == S_COMPLETE) {
        /* Kafka (KafkaApis.handleSaslAuthenticateRequest): answered ILLEGAL_SASL_STATE, the
         * authenticated connection stays open. */
        snprintf(env->reason, env->reason_len,
                 "SaslAuthenticate request received after successful authentication");
        st_info("C-%llu %s->%s: %s (start a re-authentication with SaslHandshake)",
                (unsigned long long)env->conn_id, env->peer, env->host, env->reason);
        return auth_response(out, h, ST_KERR_ILLEGAL_SASL_STATE, env->reason, NULL, 0, 0) == 0
                   ? ST_SASL_REPLY
                   : ST_SASL_CLOSE;
    }
    if (!st_sasl_in_exchange(s)) {
        /* Kafka closes here without an answer; strait answers ILLEGAL_SASL_STATE with the reason
         * first (then closes), so the client can say what went wrong. */
        snprintf(env->reason, env->reason_len,
                 "Unexpected Kafka request of type SASL_AUTHENTICATE during SASL handshake: "
                 "send SaslHandshake (v1) with the mechanism first (ILLEGAL_SASL_STATE)");
        s->state = S_FAILED;
        env->cluster->counters.auth_failed++;
        env->ep->counters.auth_failed++;
        env->cluster->counters.auth_by_mech[ST_GW_MECH_NONE][1]++;
        env->ep->counters.auth_by_mech[ST_GW_MECH_NONE][1]++;
        return auth_response(out, h, ST_KERR_ILLEGAL_SASL_STATE, env->reason, NULL, 0, 0) == 0
                   ? ST_SASL_FAIL
                   : ST_SASL_CLOSE;
    }
    const uint8_t *bytes;
    size_t n;
    if (parse_auth_bytes(h->api_version, body, len, &bytes, &n) != 0) {
        snprintf(env->reason, env->reason_len, "malformed SaslAuthenticate request");
        return ST_SASL_CLOSE;
    }
    if (s->state == S_OAUTH_ERR) {
        char msg[sizeof(s->pending_reason)];
        snprintf(msg, sizeof(msg), "%s", s->pending_reason);
        return fail(s, env, h, out, msg,
                    st_oauthbearer_is_error_ack(bytes, n) ? msg
                                                          : "no 0x01 after the error challenge");
    }
    if (throttled(env->peer_ip, &env->cluster->limits)) {
        env->cluster->counters.auth_throttled++;
        return fail(s, env, h, out,
                    "Too many failed authentications from this address: retry later", "throttled");
    }
    if (s->mech == M_IAM || s->mech == M_OAUTH)
        return iam_exchange(s, env, h, bytes, n, out);
    return scram_exchange(s, env, h, bytes, n, out);
}

/* ---- ApiVersions: strait answers the SASL keys itself, so it advertises its own ranges ---- */

static const int16_t sasl_keys[2][3] = {
    {ST_KAFKA_SASL_HANDSHAKE, 0, 1},
    {ST_KAFKA_SASL_AUTHENTICATE, 0, 2},
};

int
st_sasl_patch_apiversions(int16_t version, const uint8_t *body, size_t len, struct st_buf *out)
{
    if (len < 2)
        return -1;
    int16_t error = st_rd_i16(body);
    /* KIP-511: an UNSUPPORTED_VERSION answer is always in the v0 layout. */
    bool flex = version >= 3 && error != ST_KERR_UNSUPPORTED_VERSION;
    size_t off = 2;
    uint64_t n;
    if (flex) {
        if (read_uvarint(body, len, &off, &n) != 0 || n == 0)
            return -1;
        n--;
    } else {
        if (len - off < 4 || st_rd_i32(body + off) < 0)
            return -1;
        n = (uint64_t)st_rd_i32(body + off);
        off += 4;
    }
    size_t entry = flex ? 7 : 6; /* key, min, max (+ empty tagged fields) */
    if (n > (len - off) / entry)
        return -1;
    bool have[2] = {false, false};
    size_t first = off;
    for (uint64_t i = 0; i < n; i++) {
        size_t e = first + i * entry;
        if (flex && body[e + 6] != 0)
            return -1; /* tagged fields on an entry: not expected, leave the response alone */
        for (int k = 0; k < 2; k++)
            if (st_rd_i16(body + e) == sasl_keys[k][0])
                have[k] = true;
    }
    uint64_t total = n + !have[0] + !have[1];
    int rc = st_buf_append_i16(out, error);
    rc |= flex ? st_buf_append_uvarint(out, total + 1) : st_buf_append_i32(out, (int32_t)total);
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *e = body + first + i * entry;
        int16_t key = st_rd_i16(e);
        int16_t mn = st_rd_i16(e + 2), mx = st_rd_i16(e + 4);
        for (int k = 0; k < 2; k++)
            if (key == sasl_keys[k][0]) {
                mn = sasl_keys[k][1];
                mx = sasl_keys[k][2];
            }
        rc |= st_buf_append_i16(out, key) | st_buf_append_i16(out, mn) | st_buf_append_i16(out, mx);
        if (flex)
            rc |= st_buf_append_u8(out, 0);
    }
    for (int k = 0; k < 2; k++) {
        if (have[k])
            continue;
        rc |= st_buf_append_i16(out, sasl_keys[k][0]) | st_buf_append_i16(out, sasl_keys[k][1]) |
              st_buf_append_i16(out, sasl_keys[k][2]);
        if (flex)
            rc |= st_buf_append_u8(out, 0);
    }
    size_t rest = first + n * entry;
    rc |= st_buf_append(out, body + rest, len - rest);
    return rc ? -1 : 0;
}

/*
 * A proxied connection: one client socket accepted on an endpoint port, one upstream socket to the
 * broker that port stands for, both on the same event loop.
 *
 *   client --read--> req.buf [sent | ready | unscanned] --write--> upstream
 *   client <--write-- resp.buf [sent | ready | unscanned] <--read-- upstream
 *
 * Each direction has one buffer. Frames are scanned in place: a frame that needs no change is
 * released as-is (large frames stream through as their bytes arrive, only the header is looked
 * at); a response carrying broker addresses is buffered whole and rewritten in place. When both
 * sockets are plaintext, the rest of a frame that streams through unchanged (a Produce request's
 * records, a Fetch response) moves socket to socket by splice(2) through a pipe, never entering
 * user space (splice_pump()); the bytes in the pipe always precede those in the buffer.
 * Requests are pipelined in order; each expected response is matched by correlation id against
 * the FIFO of pending requests. Back-pressure: a side stops being read while its buffer holds
 * more than buffer_high_water unsent bytes or too many requests are in flight.
 *
 * Every way a connection ends goes through st_conn_close().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/dns.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "auth/dn.h"
#include "gateway/internal.h"
#include "kafka/frame.h"
#include "kafka/schema.h"
#include "net/handshake.h"
#include "net/sock.h"
#include "net/splice.h"
#include "net/tls.h"
#include "util/clock.h"
#include "util/log.h"

/* Requests up to this size are buffered whole before being scanned; bigger ones (Produce) are
 * streamed after their first HEADER_WINDOW bytes, which hold the header and `acks`. */
#define HEADER_WINDOW (64u << 10)
/* Bytes read per read(2) at most. */
#define READ_CHUNK (256u << 10)
/* Bytes moved into a pipe per splice(2) at most, and per readiness event. */
#define SPLICE_CHUNK (256u << 10)
#define SPLICE_PER_EVENT (1u << 20)
/* Bytes read per read(2) at most when the flow can splice: the size and header window of a
 * large frame, whose rest is then spliced rather than copied. */
#define SPLICE_HEAD (4 + HEADER_WINDOW)

struct st_flow {
    struct st_buf buf;    /* bytes received and not yet written out */
    size_t ready;         /* bytes at buf head already scanned and ready to be written */
    uint64_t passthru;    /* bytes of the current frame still to arrive, released unscanned */
    size_t need;          /* bytes the scanner waits for to complete a frame it must see whole */
    struct st_pipe *pipe; /* passthrough bytes on their way by splice(2), NULL when none */
    size_t piped;         /* bytes in the pipe: they go out before anything in buf */
    bool pipe_full;       /* the last splice into the pipe found no room: stop reading until
                           * the destination takes some */
};

struct st_conn;

/*
 * How bytes move on one socket: raw read(2)/send(2), or TLS records through the connection's SSL.
 * read: bytes read, 0 on EOF, -1 on error, -2 would block. write: bytes written, -1 on error, -2
 * would block.
 */
struct conn_io {
    ssize_t (*read)(struct st_conn *conn, int fd, void *buf, size_t n);
    ssize_t (*write)(struct st_conn *conn, int fd, const void *buf, size_t n);
    /* Bytes already read from the socket and held by the session (no socket event for them). */
    bool (*pending)(const struct st_conn *conn);
};

struct st_pending {
    int32_t correlation_id;     /* of the request */
    int16_t api_key;            /* request type */
    int16_t api_version;        /* request version: decides the response layout */
    uint8_t *local;             /* response strait answers itself (owned), NULL = from upstream */
    uint32_t local_len;         /* bytes at local, size prefix included */
    struct st_authz_pending az; /* denials to merge into / entries to filter from the response */
    int64_t t_ns;               /* CLOCK_MONOTONIC when the request went upstream (0: local) */
    int64_t gw_ns;              /* time strait spent on the request */
};

enum conn_state {
    CONN_DEFERRED,   /* no broker connection until the client has authenticated */
    CONN_RESOLVING,  /* looking up the broker's address */
    CONN_CONNECTING, /* non-blocking connect in progress */
    CONN_SECURING,   /* upstream TLS handshake / SASL (re-)authentication in progress */
    CONN_OPEN,       /* both sides connected */
};

struct st_conn {
    uint64_t id;                               /* for log prefixes */
    struct st_gw_cluster *cluster;             /* owner of everything below */
    struct st_gw_endpoint *ep;                 /* endpoint the client came in on */
    int32_t node_id;                           /* broker this connection goes to */
    int port;                                  /* endpoint port the client used */
    int cfd, ufd;                              /* client and upstream sockets (-1 when closed) */
    struct event *c_rev, *c_wev;               /* client read / write readiness */
    struct event *u_rev, *u_wev;               /* upstream read / write readiness */
    struct event *timer;                       /* upstream connect timeout */
    bool c_rd_on, c_wr_on, u_rd_on, u_wr_on;   /* which events are currently added */
    struct evdns_getaddrinfo_request *dns_req; /* pending resolution */
    enum conn_state state;                     /* upstream side */
    struct st_flow req;                        /* client -> upstream */
    struct st_flow resp;                       /* upstream -> client */
    struct st_pending *pending;                /* ring of requests awaiting a response */
    size_t p_head, p_count, p_cap;             /* ring position, entries, capacity */
    struct st_buf scratch;                     /* rewrite output, reused */
    char peer[64];                             /* client "ip:port" */
    uint64_t bytes_in, bytes_out;              /* bytes from / to this client */
    bool authenticated;                        /* may send more than ApiVersions / SASL frames */
    struct st_sasl *sasl;             /* SASL state on authenticated endpoints, else NULL */
    bool auth_failed;                 /* failure answer queued: no more reads, close soon */
    enum st_gw_close_reason fail_why; /* why, once the failure answer is out: auth or Connect */
    struct event *fail_timer;         /* delays the failure answer and the close */
    char peer_ip[64];                 /* client address without the port */
    const struct conn_io *cio;        /* client side I/O: raw or TLS */
    SSL *ssl;                         /* client TLS session on TLS endpoints, else NULL */
    bool tls_checked;                 /* first client bytes inspected (plaintext on TLS port) */
    bool tls_want_write;              /* TLS needs the client socket writable to read on */
    bool tls_starved;                 /* the last TLS read wanted more socket bytes: what TLS
                                       * holds read ahead is an incomplete record */
    bool tls_done;                    /* handshake finished and the client certificate judged */
    char tls_err[160];                /* last TLS failure, for the close reason */
    struct st_hs_job *hs;             /* handshake on a handshake thread: the loop must not touch
                                       * cfd or ssl until it comes back (on_handshake_done) */
    const struct conn_io *uio;        /* upstream side I/O: raw, or TLS / SASL session */
    struct st_gw_up *up;              /* upstream TLS / SASL session, NULL on PLAINTEXT */
    int up_want;                      /* ST_GW_UP_WANT_* while CONN_SECURING */
    bool up_want_write;               /* upstream TLS needs the socket writable to read on */
    struct st_gw_scheme_counters *sc; /* traffic bucket of the scheme the client authenticated
                                       * with, NULL until then */
    uint32_t pre_req;                 /* requests before authentication (not yet in a bucket) */
    uint32_t pre_api[3];              /* of them ApiVersions, SaslHandshake, SaslAuthenticate */
    struct st_authz_conn *authz;      /* authorization of the authenticated principal, NULL on
                                       * the development endpoint and before authentication */
    struct st_conn *prev, *next;      /* cluster's list of open connections */
};

static struct st_ratelimit proto_rl = ST_RATELIMIT_INIT(20);

static const int16_t pre_keys[3] = {ST_KAFKA_API_VERSIONS, ST_KAFKA_SASL_HANDSHAKE,
                                    ST_KAFKA_SASL_AUTHENTICATE};

/*
 * From now on the connection's traffic counts for scheme `s`; what it carried so far moves
 * there too (it was held back, not counted anywhere, until the scheme was known).
 */
static void
scheme_set(struct st_conn *conn, enum st_gw_scheme_ix s)
{
    if (conn->sc)
        return;
    struct st_gw_scheme_counters *sc = &conn->cluster->by_scheme[s];
    sc->bytes_from_clients += conn->bytes_in;
    sc->bytes_to_clients += conn->bytes_out;
    sc->requests += conn->pre_req;
    for (int i = 0; i < 3; i++)
        sc->api[pre_keys[i]] += conn->pre_api[i];
    conn->sc = sc;
}

/* Counts one client request of `key` (`bytes` = its whole frame). */
static void
count_request(struct st_conn *conn, int16_t key, size_t bytes)
{
    if (conn->sc) {
        conn->sc->requests++;
        if (key >= 0 && key < ST_GW_API_KEYS)
            conn->sc->api[key]++;
    } else {
        conn->pre_req++;
        for (int i = 0; i < 3; i++)
            if (key == pre_keys[i])
                conn->pre_api[i]++;
    }
    struct st_gw_counters *k[2] = {&conn->cluster->counters, &conn->ep->counters};
    for (int i = 0; i < 2; i++) {
        k[i]->requests++;
        if (key >= 0 && key < ST_GW_API_KEYS) {
            k[i]->api[key].requests++;
            k[i]->api[key].bytes_in += bytes;
        }
    }
}

/* Counts `n` bytes received from the client (`requests`) or from the broker. */
static void
count_in(struct st_conn *conn, bool requests, size_t n)
{
    struct st_gw_counters *k[2] = {&conn->cluster->counters, &conn->ep->counters};
    if (requests) {
        conn->bytes_in += n;
        if (conn->sc)
            conn->sc->bytes_from_clients += n;
    }
    for (int i = 0; i < 2; i++) {
        if (requests)
            k[i]->bytes_from_clients += n;
        else
            k[i]->bytes_from_upstream += n;
    }
}

/* Counts `n` bytes sent to the broker (`requests`) or to the client; `spliced`: by splice(2). */
static void
count_out(struct st_conn *conn, bool requests, size_t n, bool spliced)
{
    struct st_gw_counters *k[2] = {&conn->cluster->counters, &conn->ep->counters};
    if (!requests) {
        conn->bytes_out += n;
        if (conn->sc)
            conn->sc->bytes_to_clients += n;
    }
    for (int i = 0; i < 2; i++) {
        if (requests)
            k[i]->bytes_to_upstream += n;
        else
            k[i]->bytes_to_clients += n;
        if (spliced)
            k[i]->bytes_spliced += n;
    }
}

/* Counts one response frame of `bytes` to request `pe`; `resp_ns` = time strait spent on it. */
static void
count_response(struct st_conn *conn, const struct st_pending *pe, size_t bytes, int64_t now,
               int64_t resp_ns)
{
    struct st_gw_counters *k[2] = {&conn->cluster->counters, &conn->ep->counters};
    uint64_t up_ns = 0, gw_ns = 0;
    size_t up_b = 0, gw_b = 0;
    if (pe->t_ns) {
        up_ns = (uint64_t)(now - pe->t_ns);
        gw_ns = (uint64_t)(pe->gw_ns + resp_ns);
        up_b = st_gw_hist_bucket(up_ns);
        gw_b = st_gw_hist_bucket(gw_ns);
    }
    for (int i = 0; i < 2; i++) {
        if (pe->api_key >= 0 && pe->api_key < ST_GW_API_KEYS)
            k[i]->api[pe->api_key].bytes_out += bytes;
        if (pe->t_ns) {
            st_gw_hist_put(&k[i]->lat_upstream, up_b, up_ns);
            st_gw_hist_put(&k[i]->lat_gateway, gw_b, gw_ns);
        }
    }
}

static void conn_update(struct st_conn *conn);
static void upstream_start(struct st_conn *conn);
static void process_responses(struct st_conn *conn);
static void flush_to_client(struct st_conn *conn);
static void flush_to_upstream(struct st_conn *conn);
static void resume_requests(struct st_conn *conn);
static int secure_step(struct st_conn *conn);

/* ---- pending FIFO ---- */

static struct st_pending *
pending_head(struct st_conn *conn)
{
    return conn->p_count ? &conn->pending[conn->p_head] : NULL;
}

static int
pending_push(struct st_conn *conn, const struct st_pending *p)
{
    if (conn->p_count == conn->p_cap) {
        size_t cap = conn->p_cap ? conn->p_cap * 2 : 16;
        struct st_pending *np = malloc(cap * sizeof(*np));
        if (!np)
            return -1;
        for (size_t i = 0; i < conn->p_count; i++)
            np[i] = conn->pending[(conn->p_head + i) % conn->p_cap];
        free(conn->pending);
        conn->pending = np;
        conn->p_cap = cap;
        conn->p_head = 0;
    }
    conn->pending[(conn->p_head + conn->p_count) % conn->p_cap] = *p;
    conn->p_count++;
    return 0;
}

static void
pending_pop(struct st_conn *conn)
{
    struct st_pending *p = &conn->pending[conn->p_head];
    free(p->local);
    p->local = NULL;
    st_authz_pending_clear(&p->az);
    conn->p_head = (conn->p_head + 1) % conn->p_cap;
    conn->p_count--;
}

/* ---- close path ---- */

static void close_fmt(struct st_conn *conn, enum st_gw_close_reason why, enum st_log_level level,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
close_fmt(struct st_conn *conn, enum st_gw_close_reason why, enum st_log_level level,
          const char *fmt, ...)
{
    char reason[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    if (level <= ST_LOG_WARN) {
        conn->cluster->counters.protocol_errors++;
        conn->ep->counters.protocol_errors++;
    }
    /* Peer-triggered: a flood of bad clients or a down broker must not flood the log. */
    if (level <= ST_LOG_INFO)
        st_log_limited(&proto_rl, level, "C-%llu %s->%s:%d broker %d: closing: %s",
                       (unsigned long long)conn->id, conn->peer, conn->ep->address, conn->port,
                       conn->node_id, reason);
    else if (level <= st_log_get_level())
        st_log(level, "C-%llu %s->%s:%d broker %d: closing: %s", (unsigned long long)conn->id,
               conn->peer, conn->ep->address, conn->port, conn->node_id, reason);
    st_conn_close(conn, why, NULL);
}

static void
event_drop(struct event **ev)
{
    if (*ev) {
        event_free(*ev);
        *ev = NULL;
    }
}

void
st_conn_close(struct st_conn *conn, enum st_gw_close_reason why, const char *reason)
{
    struct st_gw_cluster *c = conn->cluster;
    /* A handshake still on a handshake thread is taken back first (no callback follows). */
    if (conn->hs) {
        st_hs_cancel(conn->hs);
        conn->hs = NULL;
    }
    if (reason)
        st_debug("C-%llu %s: closing: %s", (unsigned long long)conn->id, conn->peer, reason);
    st_debug("C-%llu %s: closed after %llu bytes in, %llu bytes out", (unsigned long long)conn->id,
             conn->peer, (unsigned long long)conn->bytes_in, (unsigned long long)conn->bytes_out);
    /* Best effort: whatever response bytes are ready go out before the close (the pipe's
     * first: they come first). */
    if (conn->cfd >= 0 && conn->resp.piped > 0) {
        ssize_t n = st_splice_out(conn->resp.pipe, conn->cfd, conn->resp.piped);
        if (n > 0)
            conn->resp.piped -= (size_t)n;
    }
    if (conn->cfd >= 0 && conn->resp.ready > 0 && conn->resp.piped == 0 && conn->cio)
        (void)conn->cio->write(conn, conn->cfd, st_buf_head(&conn->resp.buf), conn->resp.ready);
    st_pipe_put(&c->pipes, conn->req.pipe, conn->req.piped == 0);
    st_pipe_put(&c->pipes, conn->resp.pipe, conn->resp.piped == 0);
    /* Traffic of a client that never authenticated is counted as such. */
    scheme_set(conn, ST_GW_SCHEME_NONE);
    if (conn->ssl)
        SSL_free(conn->ssl);
    if (conn->dns_req)
        evdns_getaddrinfo_cancel(conn->dns_req);
    event_drop(&conn->c_rev);
    event_drop(&conn->c_wev);
    event_drop(&conn->u_rev);
    event_drop(&conn->u_wev);
    event_drop(&conn->timer);
    event_drop(&conn->fail_timer);
    st_sasl_free(conn->sasl);
    st_authz_conn_free(conn->authz);
    if (conn->cfd >= 0)
        close(conn->cfd);
    st_gw_up_free(conn->up);
    if (conn->ufd >= 0)
        close(conn->ufd);
    while (conn->p_count)
        pending_pop(conn);
    free(conn->pending);
    st_buf_free(&conn->req.buf);
    st_buf_free(&conn->resp.buf);
    st_buf_free(&conn->scratch);
    if (conn->prev)
        conn->prev->next = conn->next;
    else
        c->conns = conn->next;
    if (conn->next)
        conn->next->prev = conn->prev;
    c->counters.conns_closed++;
    c->counters.conns_current--;
    conn->ep->counters.conns_closed++;
    conn->ep->counters.conns_current--;
    if ((unsigned)why >= ST_GW_CLOSE_REASONS)
        why = ST_GW_CLOSE_OTHER;
    c->counters.closed_by_reason[why]++;
    conn->ep->counters.closed_by_reason[why]++;
    free(conn);
}

/* ---- rewriting callbacks ---- */

static int
rw_observe(void *arg, const struct st_kbroker *b, bool authoritative)
{
    struct st_conn *conn = arg;
    /* A failure to expose one broker is logged by the cluster; the rewrite then drops that entry
     * (map fails) rather than leaking its upstream address. */
    (void)st_gw_cluster_observe(conn->cluster, b, authoritative);
    return 0;
}

static int
rw_map(void *arg, int32_t node_id, const char **host, size_t *host_len, int32_t *port)
{
    struct st_conn *conn = arg;
    return st_gw_endpoint_map(conn->ep, node_id, host, host_len, port);
}

/* ---- request scanning (client -> upstream) ---- */

/*
 * Answers a request locally: removes the request frame at the scan point from the request buffer
 * and queues `resp` (a whole frame) in the pending FIFO so it goes out in order.
 */
static int
answer_locally(struct st_conn *conn, size_t frame_len, const struct st_kreq_hdr *h,
               struct st_buf *resp)
{
    struct st_flow *f = &conn->req;
    if (st_buf_splice(&f->buf, f->buf.rpos + f->ready, frame_len, NULL, 0) != 0)
        return -1;
    struct st_pending p = {h->correlation_id, h->api_key, h->api_version, NULL, 0, {0}, 0, 0};
    p.local = malloc(st_buf_used(resp));
    if (!p.local)
        return -1;
    memcpy(p.local, st_buf_head(resp), st_buf_used(resp));
    p.local_len = (uint32_t)st_buf_used(resp);
    if (pending_push(conn, &p) != 0) {
        free(p.local);
        return -1;
    }
    return 0;
}

/* True when an ApiVersions request is newer than strait or the brokers can answer. */
static bool
apiversions_too_new(const struct st_gw_cluster *c, const struct st_kreq_hdr *h)
{
    int16_t mn, mx, bmn, bmx;
    if (!st_kafka_supported_range(ST_KAFKA_API_VERSIONS, &mn, &mx) || h->api_version > mx)
        return true;
    return st_gw_cluster_broker_range(c, ST_KAFKA_API_VERSIONS, &bmn, &bmx) && h->api_version > bmx;
}

/*
 * An ApiVersions response body in the layout of `version` with `error` and the intersection of
 * strait's table with the brokers' ranges (learned at discovery; fail closed, as the relayed
 * answer). KIP-511 answers use version 0 whatever was asked.
 */
static int
apiversions_body(const struct st_gw_cluster *c, int16_t version, int16_t error, struct st_buf *out)
{
    bool flex = version >= 3;
    int rc = st_buf_append_i16(out, error);
    uint32_t n = 0;
    /* Counted first (the compact count is a varint), then written. strait supports no key
     * beyond its schema's last one. */
    for (int pass = 0; pass < 2 && rc == 0; pass++) {
        if (pass == 1)
            rc |= flex ? st_buf_append_uvarint(out, (uint64_t)n + 1)
                       : st_buf_append_i32(out, (int32_t)n);
        for (int16_t key = 0; key <= ST_KSCHEMA_MAX_KEY; key++) {
            int16_t mn, mx, bmn, bmx;
            if (!st_kafka_supported_range(key, &mn, &mx))
                continue;
            if (c->n_broker_api) {
                if (!st_gw_cluster_broker_range(c, key, &bmn, &bmx) || bmx < mn || bmn > mx)
                    continue;
                mn = bmn > mn ? bmn : mn;
                mx = bmx < mx ? bmx : mx;
            }
            if (pass == 0) {
                n++;
                continue;
            }
            rc |= st_buf_append_i16(out, key) | st_buf_append_i16(out, mn) |
                  st_buf_append_i16(out, mx);
            if (flex)
                rc |= st_buf_append_u8(out, 0);
        }
    }
    if (version >= 1)
        rc |= st_buf_append_i32(out, 0); /* ThrottleTimeMs */
    if (flex)
        rc |= st_buf_append_u8(out, 0); /* no tagged fields */
    return rc ? -1 : 0;
}

/*
 * What an authenticated endpoint changes in every ApiVersions body it answers, relayed or its
 * own: strait's SASL ranges (SASL is answered here, not by the brokers), then only what strait
 * can authorize precisely, plus the ACL keys. Appends the new body to `out`; the development
 * endpoint's bodies are copied unchanged. Returns 0, or -1 when the body is malformed.
 */
static int
apiversions_patch(const struct st_conn *conn, int16_t version, const uint8_t *body, size_t len,
                  struct st_buf *out)
{
    if (conn->ep->insecure)
        return st_buf_append(out, body, len) ? -1 : 0;
    struct st_buf sasl;
    st_buf_init(&sasl, 0);
    int rc = 0;
    if (conn->sasl) {
        rc = st_sasl_patch_apiversions(version, body, len, &sasl);
        body = st_buf_head(&sasl);
        len = st_buf_used(&sasl);
    }
    if (rc == 0)
        rc = st_authz_patch_apiversions(version, body, len, out);
    st_buf_free(&sasl);
    return rc;
}

/* A whole response frame for request `h` with `body` (header v0 or v1 as the request needs). */
static int
build_response_frame(const struct st_kreq_hdr *h, const uint8_t *body, size_t len,
                     struct st_buf *out)
{
    bool v1 = st_kafka_resp_hdr_version(h->api_key, h->api_version) >= 1;
    size_t size = 4 + (v1 ? 1 : 0) + len;
    int rc = st_buf_append_i32(out, (int32_t)size) | st_buf_append_i32(out, h->correlation_id);
    if (v1)
        rc |= st_buf_append_u8(out, 0);
    rc |= st_buf_append(out, body, len);
    return rc ? -1 : 0;
}

/*
 * A whole ApiVersions response frame (header v0) for request `h`, answered by strait itself:
 * the KIP-511 answer to a too-new request (v0, UNSUPPORTED_VERSION) or, before the client has
 * authenticated and no broker connection exists, the answer the brokers would give (patched).
 */
static int
apiversions_answer(const struct st_conn *conn, const struct st_kreq_hdr *h, int16_t version,
                   int16_t error, struct st_buf *out)
{
    struct st_buf body, patched;
    st_buf_init(&body, 0);
    st_buf_init(&patched, 0);
    int rc = apiversions_body(conn->cluster, version, error, &body);
    if (rc == 0)
        rc = apiversions_patch(conn, version, st_buf_head(&body), st_buf_used(&body), &patched);
    if (rc == 0)
        rc = build_response_frame(h, st_buf_head(&patched), st_buf_used(&patched), out);
    st_buf_free(&body);
    st_buf_free(&patched);
    return rc ? -1 : 0;
}

static void
on_fail_timer(evutil_socket_t fd, short what, void *arg)
{
    struct st_conn *conn = arg;
    /* conn may be freed by what follows: keep the cluster to detect that. */
    struct st_gw_cluster *c = conn->cluster;
    uint64_t closed = c->counters.conns_closed;
    /* The failure answer goes out (after any response still due before it), then the close. */
    process_responses(conn);
    if (c->counters.conns_closed != closed)
        return;
    flush_to_client(conn);
    if (c->counters.conns_closed != closed)
        return;
    st_conn_close(conn, conn->fail_why, "authentication failed");
}

/*
 * The SASL gate of a connection on an authenticated endpoint (msk-client-auth.md §1.2): answers
 * SaslHandshake / SaslAuthenticate locally, lets ApiVersions through before the handshake, closes
 * on anything else before authentication and on any request of an expired session.
 * Returns 1 when the frame was consumed, 0 to process it normally, -1 when the connection closed
 * or is closing.
 */
static int
sasl_gate(struct st_conn *conn, const uint8_t *p, int32_t size, size_t window,
          const struct st_kreq_hdr *h)
{
    const char *name = st_kafka_api_name(h->api_key);
    bool sasl_req =
        h->api_key == ST_KAFKA_SASL_HANDSHAKE || h->api_key == ST_KAFKA_SASL_AUTHENTICATE;
    if (!sasl_req) {
        if (conn->authenticated) {
            /* Requests may continue while a re-authentication is in progress (KIP-368). */
            if (st_sasl_expired(conn->sasl, st_mono_ms())) {
                conn->cluster->counters.sessions_expired++;
                conn->ep->counters.sessions_expired++;
                close_fmt(conn, ST_GW_CLOSE_SESSION_EXPIRED, ST_LOG_INFO,
                          "session of %s expired: %s arrived without re-authentication (KIP-368)",
                          st_sasl_principal(conn->sasl), name ? name : "a request");
                return -1;
            }
            return 0;
        }
        if (h->api_key == ST_KAFKA_API_VERSIONS && st_sasl_pre_handshake(conn->sasl))
            return 0;
        close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                  "Unexpected Kafka request of type %s during SASL %s", name ? name : "unknown",
                  st_sasl_pre_handshake(conn->sasl) ? "handshake" : "authentication");
        return -1;
    }
    if ((size_t)size > window) {
        close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                  "%s request of %d bytes is too large", name, size);
        return -1;
    }
    char reason[1024];
    struct st_sasl_env env = {conn->cluster, conn->ep, conn->ep->address, conn->peer, conn->peer_ip,
                              conn->id,      reason,   sizeof(reason)};
    st_buf_reset(&conn->scratch);
    uint64_t denied = conn->cluster->counters.auth_denied; /* kafka-cluster:Connect refusals */
    enum st_sasl_verdict v = st_sasl_request(conn->sasl, &env, h, p + 4 + h->hdr_len,
                                             (size_t)size - h->hdr_len, &conn->scratch);
    count_request(conn, h->api_key, 4 + (size_t)size);
    if (v == ST_SASL_CLOSE) {
        close_fmt(conn, ST_GW_CLOSE_AUTH_FAILED, ST_LOG_WARN, "%s",
                  reason[0] ? reason : "SASL failure");
        return -1;
    }
    if (answer_locally(conn, 4 + (size_t)size, h, &conn->scratch) != 0) {
        close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory answering %s", name);
        return -1;
    }
    if (v == ST_SASL_DONE) {
        conn->authenticated = true;
        scheme_set(conn, st_sasl_is_iam(conn->sasl) ? ST_GW_SCHEME_IAM : ST_GW_SCHEME_SCRAM);
        if (!conn->authz && !conn->cluster->auth.no_authz &&
            !(conn->authz =
                  st_authz_conn_new(st_sasl_principal(conn->sasl), st_sasl_is_iam(conn->sasl)))) {
            close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
            return -1;
        }
        if (conn->state == CONN_DEFERRED) {
            uint64_t closed = conn->cluster->counters.conns_closed;
            struct st_gw_cluster *c = conn->cluster;
            upstream_start(conn);
            if (c->counters.conns_closed != closed)
                return -1;
        }
        return 1;
    }
    if (v != ST_SASL_FAIL)
        return 1;
    /* Log now, answer after the fixed delay, then close; nothing more is read. */
    conn->cluster->counters.protocol_errors++;
    st_log_limited(&proto_rl, ST_LOG_WARN, "C-%llu %s->%s:%d: closing: %s",
                   (unsigned long long)conn->id, conn->peer, conn->ep->address, conn->port, reason);
    conn->auth_failed = true;
    conn->fail_why = conn->cluster->counters.auth_denied != denied ? ST_GW_CLOSE_AUTHZ_REFUSED
                                                                   : ST_GW_CLOSE_AUTH_FAILED;
    /* Whatever the client pipelined after the failed request is dropped. */
    struct st_flow *f = &conn->req;
    size_t rest = st_buf_used(&f->buf) - f->ready;
    if (rest && st_buf_splice(&f->buf, f->buf.rpos + f->ready, rest, NULL, 0) != 0) {
        close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
        return -1;
    }
    f->passthru = 0;
    uint32_t ms = conn->cluster->limits.auth_fail_delay_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    conn->fail_timer = evtimer_new(conn->cluster->base, on_fail_timer, conn);
    if (!conn->fail_timer) {
        close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
        return -1;
    }
    evtimer_add(conn->fail_timer, &tv);
    conn_update(conn);
    return -1;
}

static void
authz_env(struct st_conn *conn, struct st_authz_env *env)
{
    *env = (struct st_authz_env){
        .cluster = conn->cluster,
        .ep = conn->ep,
        .port = conn->port,
        .conn_id = conn->id,
        .peer = conn->peer,
        .peer_ip = conn->peer_ip,
        .tls = conn->ssl != NULL,
        .tls_principal = conn->ssl != NULL && !(conn->sasl && st_sasl_principal(conn->sasl)[0]),
    };
}

/*
 * Authorizes the whole request frame at the scan point (authz.c). Returns 0 to forward it as is,
 * 1 when it was answered or dropped here, 2 when its body was replaced (the frame size changed),
 * -1 when the connection was closed. `pend` receives what the response needs.
 */
static int
authorize_request(struct st_conn *conn, int32_t size, const struct st_kreq_hdr *h,
                  struct st_authz_pending *pend)
{
    struct st_flow *f = &conn->req;
    const uint8_t *body = st_buf_head(&f->buf) + f->ready + 4 + h->hdr_len;
    size_t blen = (size_t)size - h->hdr_len;
    struct st_authz_env env;
    authz_env(conn, &env);
    const char *err = NULL;
    const char *name = st_kafka_api_name(h->api_key);
    st_buf_reset(&conn->scratch);
    switch (st_authz_request(conn->authz, &env, h, body, blen, &conn->scratch, pend, &err)) {
    case ST_AUTHZ_FORWARD:
    case ST_AUTHZ_FORWARD_FILTER:
        return 0;
    case ST_AUTHZ_REWRITE: {
        size_t body_off = f->buf.rpos + f->ready + 4 + h->hdr_len;
        if (st_buf_splice(&f->buf, body_off, blen, st_buf_head(&conn->scratch),
                          st_buf_used(&conn->scratch)) != 0) {
            st_authz_pending_clear(pend);
            close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory authorizing %s", name);
            return -1;
        }
        st_buf_put_i32_at(&f->buf, f->ready, (int32_t)(h->hdr_len + st_buf_used(&conn->scratch)));
        return 2;
    }
    case ST_AUTHZ_ANSWER: {
        struct st_buf frame;
        st_buf_init(&frame, 0);
        int rc = build_response_frame(h, st_buf_head(&conn->scratch), st_buf_used(&conn->scratch),
                                      &frame);
        if (rc == 0)
            rc = answer_locally(conn, 4 + (size_t)size, h, &frame);
        st_buf_free(&frame);
        if (rc != 0) {
            close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory answering %s", name);
            return -1;
        }
        return 1;
    }
    case ST_AUTHZ_DROP:
        if (st_buf_splice(&f->buf, f->buf.rpos + f->ready, 4 + (size_t)size, NULL, 0) != 0) {
            close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
            return -1;
        }
        return 1;
    case ST_AUTHZ_ERROR:
    default:
        close_fmt(conn, ST_GW_CLOSE_AUTHZ_REFUSED, ST_LOG_WARN, "refused %s v%d: %s",
                  name ? name : "request", h->api_version, err ? err : "cannot authorize");
        return -1;
    }
}

/* Returns 0 to go on, -1 when the connection was closed. */
static int
process_requests(struct st_conn *conn)
{
    struct st_flow *f = &conn->req;
    const struct st_gw_limits *lim = &conn->cluster->limits;
    /* Frames stay under the small pre-authentication limit until the client has authenticated. */
    struct st_kframe_limits flim = {lim->max_preauth_bytes, lim->max_request_bytes};
    f->need = 0;
    for (;;) {
        size_t avail = st_buf_used(&f->buf) - f->ready;
        if (f->passthru) {
            size_t n = avail < f->passthru ? avail : (size_t)f->passthru;
            f->ready += n;
            f->passthru -= n;
            if (f->passthru)
                return 0;
            continue;
        }
        if (avail < 4)
            return 0;
        /* KIP-368 upstream: new requests wait while the broker session re-authenticates. */
        if (conn->up && conn->state == CONN_OPEN &&
            st_gw_up_reauth_due(conn->up, st_mono_ms()))
            return 0;
        const uint8_t *p = st_buf_head(&f->buf) + f->ready;
        uint32_t usize;
        const char *err = NULL;
        if (st_kafka_frame_check(p, conn->authenticated, &flim, &usize, &err) != 0) {
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN, "%s (frame size %d)", err,
                      st_rd_i32(p));
            return -1;
        }
        int32_t size = (int32_t)usize;
        size_t window = (size_t)size < HEADER_WINDOW ? (size_t)size : HEADER_WINDOW;
        /* Authorization needs every resource name: the whole frame. */
        if (conn->authz)
            window = (size_t)size;
        if (avail - 4 < window) {
            f->need = window - (avail - 4);
            return 0;
        }
        int64_t t0 = st_mono_ns();
        struct st_kreq_hdr h;
        if (st_kafka_req_hdr_parse(p + 4, window, &h, &err) != 0) {
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN, "malformed request header: %s",
                      err);
            return -1;
        }
        if (h.api_key == ST_KAFKA_API_VERSIONS && apiversions_too_new(conn->cluster, &h) &&
            (size_t)size <= window) {
            /* KIP-511: answer a too-new ApiVersions ourselves, in v0 format, naming the highest
             * version both strait and the brokers speak; the client retries with it. */
            st_buf_reset(&conn->scratch);
            if (apiversions_answer(conn, &h, 0, ST_KERR_UNSUPPORTED_VERSION, &conn->scratch) != 0 ||
                answer_locally(conn, 4 + (size_t)size, &h, &conn->scratch) != 0) {
                close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR,
                          "out of memory answering ApiVersions");
                return -1;
            }
            count_request(conn, h.api_key, 4 + (size_t)size);
            continue;
        }
        if (h.api_key == ST_KAFKA_API_VERSIONS && conn->state == CONN_DEFERRED &&
            (size_t)size <= window) {
            /* Before authentication there is no broker connection: strait answers. */
            st_buf_reset(&conn->scratch);
            if (apiversions_answer(conn, &h, h.api_version, ST_KERR_NONE, &conn->scratch) != 0 ||
                answer_locally(conn, 4 + (size_t)size, &h, &conn->scratch) != 0) {
                close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR,
                          "out of memory answering ApiVersions");
                return -1;
            }
            count_request(conn, h.api_key, 4 + (size_t)size);
            continue;
        }
        if (!st_kafka_request_supported(h.api_key, h.api_version)) {
            const char *name = st_kafka_api_name(h.api_key);
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                      "unsupported request %s (key %d) version %d: not offered in ApiVersions",
                      name ? name : "unknown", h.api_key, h.api_version);
            return -1;
        }
        if (conn->sasl) {
            int r = sasl_gate(conn, p, size, window, &h);
            if (r < 0)
                return -1;
            if (r > 0)
                continue;
        } else if (!conn->authenticated && h.api_key != ST_KAFKA_API_VERSIONS) {
            /* No SASL on this endpoint: nothing but ApiVersions (fail closed). */
            const char *name = st_kafka_api_name(h.api_key);
            close_fmt(conn, ST_GW_CLOSE_AUTH_FAILED, ST_LOG_WARN,
                      "%s before authentication: this endpoint serves authenticated clients only",
                      name ? name : "request");
            return -1;
        }
        if (h.api_key == ST_KAFKA_DESCRIBE_CLUSTER &&
            st_kafka_describe_cluster_check(h.api_version, p + 4 + h.hdr_len, window - h.hdr_len,
                                            &err) != 0) {
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN, "refused DescribeCluster: %s",
                      err);
            return -1;
        }
        struct st_authz_pending az = {0};
        if (conn->authz) {
            int r = authorize_request(conn, size, &h, &az);
            if (r < 0)
                return -1;
            if (r == 1) {
                count_request(conn, h.api_key, 4 + (size_t)size);
                continue;
            }
            if (r == 2) {
                /* The body changed: re-read the frame. */
                p = st_buf_head(&f->buf) + f->ready;
                size = st_rd_i32(p);
                avail = st_buf_used(&f->buf) - f->ready;
                window = (size_t)size;
            }
        }
        bool expect_response = true;
        if (h.api_key == ST_KAFKA_PRODUCE) {
            int16_t acks;
            if (st_kafka_produce_acks(h.api_version, p + 4 + h.hdr_len, window - h.hdr_len, &acks,
                                      &err) != 0) {
                st_authz_pending_clear(&az);
                close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                          "malformed Produce request: %s", err);
                return -1;
            }
            expect_response = acks != 0;
        }
        int64_t now = st_mono_ns();
        if (expect_response) {
            struct st_pending pe = {h.correlation_id, h.api_key, h.api_version, NULL, 0, az, now,
                                    now - t0};
            if (pending_push(conn, &pe) != 0) {
                st_authz_pending_clear(&az);
                close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
                return -1;
            }
        } else {
            st_authz_pending_clear(&az);
        }
        count_request(conn, h.api_key, 4 + (size_t)size);
        size_t have = avail - 4;
        if ((size_t)size <= have) {
            f->ready += 4 + (size_t)size;
        } else {
            f->ready += avail;
            f->passthru = (uint64_t)size - have;
        }
    }
}

/* ---- response scanning (upstream -> client) ---- */

/* Makes `b` conn->scratch (no copy); the previous scratch is freed and `b` left empty. */
static void
scratch_take(struct st_conn *conn, struct st_buf *b)
{
    struct st_buf old = conn->scratch;
    conn->scratch = *b;
    st_buf_free(&old);
    st_buf_init(b, 0);
}

/*
 * Rewrites a whole response frame at `frame_off` in place: broker addresses (st_kafka_response_
 * rewrite), strait's own ApiVersions ranges (SASL, authorization), then the authorization
 * merge/filter of the request's pending entry.
 */
static int
rewrite_in_place(struct st_conn *conn, const struct st_pending *pe, size_t frame_off, int32_t size)
{
    struct st_flow *f = &conn->resp;
    uint8_t *frame = f->buf.data + frame_off + 4;
    size_t hdr_len;
    const char *err = NULL;
    const char *name = st_kafka_api_name(pe->api_key);
    if (st_kafka_resp_hdr_len(pe->api_key, pe->api_version, frame, (size_t)size, &hdr_len, &err) !=
        0) {
        close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                  "malformed %s v%d response from broker: %s", name, pe->api_version, err);
        return -1;
    }
    st_buf_reset(&conn->scratch);
    bool rw = false;
    if (st_kafka_response_needs_rewrite(pe->api_key, pe->api_version)) {
        struct st_krewrite_ops ops = {conn, rw_observe, rw_map};
        enum st_krw_result r =
            st_kafka_response_rewrite(pe->api_key, pe->api_version, frame + hdr_len,
                                      (size_t)size - hdr_len, &ops, &conn->scratch, &err);
        if (r == ST_KRW_ERROR) {
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                      "cannot rewrite %s v%d response from broker: %s", name, pe->api_version, err);
            return -1;
        }
        rw = r == ST_KRW_REWRITTEN;
        if (rw) {
            conn->cluster->counters.responses_rewritten++;
            conn->ep->counters.responses_rewritten++;
        }
    }
#define CUR_BODY (rw ? st_buf_head(&conn->scratch) : frame + hdr_len)
#define CUR_LEN (rw ? st_buf_used(&conn->scratch) : (size_t)size - hdr_len)
    if (pe->api_key == ST_KAFKA_API_VERSIONS && !conn->ep->insecure) {
        struct st_buf patched;
        st_buf_init(&patched, 0);
        if (apiversions_patch(conn, pe->api_version, CUR_BODY, CUR_LEN, &patched) != 0) {
            st_buf_free(&patched);
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                      "malformed ApiVersions v%d response from broker", pe->api_version);
            return -1;
        }
        scratch_take(conn, &patched);
        rw = true;
    }
    /* Topic ids named in Metadata: requests that name topics by id are authorized by name. */
    if (pe->api_key == ST_KAFKA_METADATA && !conn->ep->insecure)
        st_gw_topic_ids_learn(conn->cluster, pe->api_version, CUR_BODY, CUR_LEN);
    if (conn->authz && (pe->az.n_denials || pe->az.filter_op || pe->az.ops_fix)) {
        struct st_buf merged;
        st_buf_init(&merged, 0);
        struct st_authz_env env;
        authz_env(conn, &env);
        bool changed = false;
        if (st_authz_response(conn->authz, &env, pe->api_key, pe->api_version, &pe->az, CUR_BODY,
                              CUR_LEN, &merged, &changed, &err) != 0) {
            st_buf_free(&merged);
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                      "cannot apply authorization to the %s v%d response: %s", name,
                      pe->api_version, err);
            return -1;
        }
        if (changed) {
            scratch_take(conn, &merged);
            rw = true;
        } else {
            st_buf_free(&merged);
        }
    }
#undef CUR_BODY
#undef CUR_LEN
    size_t new_size = (size_t)size;
    if (rw) {
        size_t body_off = frame_off + 4 + hdr_len;
        if (st_buf_splice(&f->buf, body_off, (size_t)size - hdr_len, st_buf_head(&conn->scratch),
                          st_buf_used(&conn->scratch)) != 0) {
            close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory rewriting a response");
            return -1;
        }
        new_size = hdr_len + st_buf_used(&conn->scratch);
        /* Head-relative: the splice may have compacted the buffer. */
        st_buf_put_i32_at(&f->buf, f->ready, (int32_t)new_size);
    }
    f->ready += 4 + new_size;
    return 0;
}

static void
process_responses(struct st_conn *conn)
{
    struct st_flow *f = &conn->resp;
    const struct st_gw_limits *lim = &conn->cluster->limits;
    f->need = 0;
    for (;;) {
        if (f->passthru) {
            size_t avail = st_buf_used(&f->buf) - f->ready;
            size_t n = avail < f->passthru ? avail : (size_t)f->passthru;
            f->ready += n;
            f->passthru -= n;
            if (f->passthru)
                return;
            continue;
        }
        struct st_pending *pe = pending_head(conn);
        if (pe && pe->local) {
            /* Our own answer is next in line: insert it at the scan point. */
            if (st_buf_splice(&f->buf, f->buf.rpos + f->ready, 0, pe->local, pe->local_len) != 0) {
                close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
                return;
            }
            f->ready += pe->local_len;
            count_response(conn, pe, pe->local_len, 0, 0);
            pending_pop(conn);
            continue;
        }
        size_t avail = st_buf_used(&f->buf) - f->ready;
        if (avail < 8)
            return;
        const uint8_t *p = st_buf_head(&f->buf) + f->ready;
        int32_t size = st_rd_i32(p);
        int32_t corr = st_rd_i32(p + 4);
        if (size < 4 || (uint32_t)size > lim->max_response_bytes) {
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                      "broker sent a response frame of size %d", size);
            return;
        }
        if (!pe) {
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                      "broker sent a response (correlation id %d) nobody asked for", corr);
            return;
        }
        if (corr != pe->correlation_id) {
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
                      "broker response correlation id %d does not match the oldest request's %d",
                      corr, pe->correlation_id);
            return;
        }
        int64_t now = st_mono_ns(), spent = 0;
        size_t out_bytes = 4 + (size_t)size;
        if (st_kafka_response_needs_rewrite(pe->api_key, pe->api_version) || pe->az.n_denials ||
            pe->az.filter_op || pe->az.ops_fix) {
            if (avail < 4 + (size_t)size) {
                f->need = 4 + (size_t)size - avail;
                return;
            }
            size_t before = f->ready;
            if (rewrite_in_place(conn, pe, f->buf.rpos + f->ready, size) != 0)
                return;
            out_bytes = f->ready - before;
            spent = st_mono_ns() - now;
        } else if (avail >= 4 + (size_t)size) {
            f->ready += 4 + (size_t)size;
        } else {
            f->ready += avail;
            f->passthru = 4 + (uint64_t)size - avail;
        }
        count_response(conn, pe, out_bytes, now, spent);
        pending_pop(conn);
    }
}

/* ---- I/O ---- */

static ssize_t
raw_read(struct st_conn *conn, int fd, void *buf, size_t n)
{
    ssize_t r = read(fd, buf, n);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return -2;
    return r;
}

static ssize_t
raw_write(struct st_conn *conn, int fd, const void *buf, size_t n)
{
    for (;;) {
        ssize_t r = send(fd, buf, n, MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -2;
        if (errno != EINTR)
            return -1;
    }
}

/* Maps an SSL_read/SSL_write result (st_tls_io_result()); records why a failure happened. */
static ssize_t
tls_result(struct st_conn *conn, int r, bool reading)
{
    char why[120];
    ssize_t n = st_tls_io_result(conn->ssl, r, reading, &conn->tls_want_write, why, sizeof(why));
    if (n > 0 || n == -2)
        return n;
    bool session = SSL_is_init_finished(conn->ssl);
    if (why[0]) {
        snprintf(conn->tls_err, sizeof(conn->tls_err), "TLS %s failed: %s",
                 session ? "session" : "handshake", why);
        return -1;
    }
    if (!session) {
        snprintf(conn->tls_err, sizeof(conn->tls_err), "%s", ST_TLS_CLIENT_CLOSED);
        return -1;
    }
    return n;
}

static ssize_t
tls_read(struct st_conn *conn, int fd, void *buf, size_t n)
{
    ERR_clear_error();
    ssize_t r =
        tls_result(conn, SSL_read(conn->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n), true);
    conn->tls_starved = r == -2;
    return r;
}

static ssize_t
tls_write(struct st_conn *conn, int fd, const void *buf, size_t n)
{
    ERR_clear_error();
    return tls_result(conn, SSL_write(conn->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n), false);
}

static ssize_t
up_read(struct st_conn *conn, int fd, void *buf, size_t n)
{
    ssize_t r = st_gw_up_read(conn->up, buf, n);
    if (r == -2 && st_gw_up_take_read_wants_write(conn->up))
        conn->up_want_write = true;
    return r;
}

static ssize_t
up_write(struct st_conn *conn, int fd, const void *buf, size_t n)
{
    return st_gw_up_write(conn->up, buf, n);
}

static bool
raw_pending(const struct st_conn *conn)
{
    return false;
}

static bool
tls_pending(const struct st_conn *conn)
{
    return SSL_has_pending(conn->ssl);
}

static bool
up_pending(const struct st_conn *conn)
{
    return st_gw_up_pending(conn->up) > 0;
}

static const struct conn_io raw_io = {raw_read, raw_write, raw_pending};
static const struct conn_io tls_io = {tls_read, tls_write, tls_pending};
static const struct conn_io up_io = {up_read, up_write, up_pending};

/*
 * Reads what the socket has into `f` (bounded). Returns bytes read, 0 on EOF, -1 on error, or -2
 * when the read would block. TLS may hold decrypted bytes beyond one record: read on while there
 * is room (what stays buffered is picked up by conn_update()).
 */
static bool splice_capable(const struct st_conn *conn);

static ssize_t
read_into(struct st_conn *conn, const struct conn_io *io, int fd, struct st_flow *f)
{
    bool splice = splice_capable(conn);
    size_t want = splice ? SPLICE_HEAD : READ_CHUNK;
    if (f->need > want)
        want = f->need;
    if (st_buf_reserve(&f->buf, want) != 0)
        return -1;
    /* A flow that can splice reads no further than the frame header it must see. */
    size_t room = st_buf_room(&f->buf);
    if (splice && room > want)
        room = want;
    ssize_t n = io->read(conn, fd, f->buf.data + f->buf.len, room);
    if (n <= 0)
        return n;
    f->buf.len += (size_t)n;
    ssize_t total = n;
    while (st_buf_room(&f->buf) > 0 && io->pending(conn)) {
        n = io->read(conn, fd, f->buf.data + f->buf.len, st_buf_room(&f->buf));
        if (n <= 0)
            break;
        f->buf.len += (size_t)n;
        total += n;
    }
    return total;
}

/*
 * Writes what the pipe of `f` holds, then the ready bytes of its buffer, to fd (the buffer only
 * once the pipe is empty: its bytes come after). Returns 0 (all or some written / would block) or
 * -1.
 */
static int
write_from(struct st_conn *conn, const struct conn_io *io, int fd, struct st_flow *f, bool requests)
{
    while (f->piped > 0) {
        ssize_t n = st_splice_out(f->pipe, fd, f->piped);
        if (n == -2)
            return 0;
        if (n < 0)
            return -1;
        f->piped -= (size_t)n;
        f->pipe_full = false;
        count_out(conn, requests, (size_t)n, true);
    }
    if (f->pipe && !f->passthru) {
        st_pipe_put(&conn->cluster->pipes, f->pipe, true);
        f->pipe = NULL;
    }
    while (f->ready > 0) {
        ssize_t n = io->write(conn, fd, st_buf_head(&f->buf), f->ready);
        if (n == -2)
            return 0;
        if (n <= 0)
            return -1; /* 0 bytes written is no progress: the peer is gone */
        f->ready -= (size_t)n;
        count_out(conn, requests, (size_t)n, false);
        st_buf_consume(&f->buf, (size_t)n);
    }
    return 0;
}

static void
upstream_write_failed(struct st_conn *conn)
{
    close_fmt(conn, ST_GW_CLOSE_UPSTREAM_CLOSED, ST_LOG_INFO, "broker %d connection failed: %s",
              conn->node_id,
              conn->up && st_gw_up_error(conn->up)[0] ? st_gw_up_error(conn->up) : strerror(errno));
}

static void
client_write_failed(struct st_conn *conn)
{
    close_fmt(conn, ST_GW_CLOSE_CLIENT_CLOSED, ST_LOG_DEBUG, "client write failed: %s",
              conn->tls_err[0] ? conn->tls_err : strerror(errno));
}

static void
flush_to_upstream(struct st_conn *conn)
{
    if (conn->state != CONN_OPEN || (conn->req.ready == 0 && conn->req.piped == 0))
        return;
    if (write_from(conn, conn->uio, conn->ufd, &conn->req, true) != 0)
        upstream_write_failed(conn);
}

static void
flush_to_client(struct st_conn *conn)
{
    if (conn->resp.ready == 0 && conn->resp.piped == 0)
        return;
    if (write_from(conn, conn->cio, conn->cfd, &conn->resp, false) != 0)
        client_write_failed(conn);
}

/* Whether passthrough bytes may move by splice(2) on this connection: both sockets plaintext. */
static bool
splice_capable(const struct st_conn *conn)
{
    return conn->state == CONN_OPEN && conn->cio == &raw_io && conn->uio == &raw_io &&
           !conn->cluster->limits.no_splice && !conn->cluster->pipes.disabled;
}

/*
 * Whether the rest of the current frame of `f` can move by splice(2) now: the frame streams
 * through unchanged (passthru), the connection can splice, and nothing of the flow waits in the
 * buffer (its bytes must go out first).
 */
static bool
splice_ready(const struct st_conn *conn, const struct st_flow *f)
{
    return f->passthru && st_buf_used(&f->buf) == 0 && !f->pipe_full && splice_capable(conn);
}

/*
 * A flow that will splice the rest of its frame once its buffer is out: reading now would copy
 * those bytes through the buffer instead.
 */
static bool
splice_waits(const struct st_conn *conn, const struct st_flow *f)
{
    return f->passthru && st_buf_used(&f->buf) > 0 && splice_capable(conn);
}

/*
 * Moves passthrough bytes of `f` from socket sfd to dfd through a pipe: into the pipe while the
 * frame has bytes to come and the pipe room, out while the destination takes them. Returns 1
 * when done for now, 0 when splice is not possible (the caller reads instead), -1 when the
 * connection was closed.
 */
static int
splice_pump(struct st_conn *conn, struct st_flow *f, int sfd, int dfd, bool requests)
{
    struct st_gw_cluster *c = conn->cluster;
    if (!f->pipe && !(f->pipe = st_pipe_get(&c->pipes)))
        return 0;
    size_t moved_in = 0;
    for (;;) {
        bool progress = false;
        if (f->passthru && !f->pipe_full && moved_in < SPLICE_PER_EVENT) {
            size_t want = f->passthru < SPLICE_CHUNK ? (size_t)f->passthru : SPLICE_CHUNK;
            ssize_t n = st_splice_in(&c->pipes, sfd, f->pipe, want);
            if (n == -3 && moved_in == 0 && f->piped == 0) {
                st_pipe_put(&c->pipes, f->pipe, true);
                f->pipe = NULL;
                return 0;
            }
            if (n == 0 || n == -1 || n == -3) {
                if (requests)
                    close_fmt(conn, ST_GW_CLOSE_CLIENT_CLOSED, ST_LOG_DEBUG,
                              n == 0 ? "client closed the connection" : "client read error: %s",
                              strerror(errno));
                else
                    close_fmt(conn, ST_GW_CLOSE_UPSTREAM_CLOSED, ST_LOG_INFO,
                              "broker %d closed the connection%s", conn->node_id,
                              n == 0 ? " with requests in flight" : " (read error)");
                return -1;
            }
            if (n == -2 && f->piped) /* no bytes, or no room: the drain below tells */
                f->pipe_full = true;
            if (n > 0) {
                f->passthru -= (uint64_t)n;
                f->piped += (size_t)n;
                moved_in += (size_t)n;
                count_in(conn, requests, (size_t)n);
                progress = true;
            }
        }
        if (f->piped) {
            size_t before = f->piped;
            if (write_from(conn, &raw_io, dfd, f, requests) != 0) {
                if (requests)
                    upstream_write_failed(conn);
                else
                    client_write_failed(conn);
                return -1;
            }
            progress |= f->piped != before;
        }
        if (!progress)
            break;
    }
    if (!f->piped && f->pipe) {
        st_pipe_put(&c->pipes, f->pipe, true);
        f->pipe = NULL;
    }
    return 1;
}

static void
set_event(struct event *ev, bool *on, bool want)
{
    if (want == *on)
        return;
    if (want)
        event_add(ev, NULL);
    else
        event_del(ev);
    *on = want;
}

/* Recomputes which of the four events should be armed. */
static void
conn_update(struct st_conn *conn)
{
    const struct st_gw_limits *lim = &conn->cluster->limits;
    size_t req_unsent = st_buf_used(&conn->req.buf) + conn->req.piped;
    size_t resp_unsent = st_buf_used(&conn->resp.buf) + conn->resp.piped;
    bool c_read = !conn->auth_failed && (req_unsent < lim->buffer_high_water || conn->req.need) &&
                  conn->p_count < lim->max_inflight && !conn->req.pipe_full &&
                  !splice_waits(conn, &conn->req);
    bool u_read = conn->state == CONN_OPEN &&
                  (resp_unsent < lim->buffer_high_water || conn->resp.need) &&
                  !conn->resp.pipe_full && !splice_waits(conn, &conn->resp);
    set_event(conn->c_rev, &conn->c_rd_on, c_read);
    /* Bytes TLS already holds (decrypted, or read ahead from the socket) raise no socket event:
     * deliver them, unless the last read showed they are only part of a record (then the socket
     * event for the rest comes). */
    if (c_read && conn->cio->pending(conn) && !conn->tls_starved)
        event_active(conn->c_rev, EV_READ, 0);
    set_event(conn->c_wev, &conn->c_wr_on,
              ((conn->resp.ready > 0 || conn->resp.piped > 0) && !conn->auth_failed) ||
                  conn->tls_want_write);
    bool securing = conn->state == CONN_SECURING;
    set_event(conn->u_rev, &conn->u_rd_on,
              u_read || (securing && conn->up_want == ST_GW_UP_WANT_READ));
    if (u_read && conn->uio->pending(conn))
        event_active(conn->u_rev, EV_READ, 0);
    set_event(conn->u_wev, &conn->u_wr_on,
              conn->state == CONN_CONNECTING ||
                  (conn->state == CONN_OPEN &&
                   (conn->req.ready > 0 || conn->req.piped > 0 || conn->up_want_write)) ||
                  (securing && conn->up_want == ST_GW_UP_WANT_WRITE));
}

/*
 * Once the TLS handshake is done: on an endpoint that serves mutual TLS, a verified client
 * certificate authenticates the connection as User:<subject DN> (Kafka's RFC 2253 form, DEFAULT
 * mapping). Without one, a TLS-only endpoint closes the connection; a SASL endpoint goes on with
 * SASL. Returns 0, or -1 when the connection was closed.
 */
static int
tls_identify(struct st_conn *conn)
{
    conn->tls_done = true;
    unsigned scheme = conn->cluster->auth.scheme;
    if (!(scheme & ST_GW_AUTH_TLS) || conn->authenticated)
        return 0;
    X509 *peer = SSL_get0_peer_certificate(conn->ssl);
    if (!peer || SSL_get_verify_result(conn->ssl) != X509_V_OK) {
        if (scheme & (ST_GW_AUTH_SASL_IAM | ST_GW_AUTH_SASL_SCRAM))
            return 0;
        conn->cluster->counters.auth_by_mech[ST_GW_MECH_MTLS][1]++;
        conn->ep->counters.auth_by_mech[ST_GW_MECH_MTLS][1]++;
        close_fmt(conn, ST_GW_CLOSE_AUTH_FAILED, ST_LOG_WARN,
                  "mutual TLS: the client sent no certificate; this endpoint (TLS "
                  "authentication) needs one issued by the configured client CA");
        return -1;
    }
    struct st_buf dn, name;
    st_buf_init(&dn, 0);
    st_buf_init(&name, 0);
    const char *err = NULL;
    static struct st_dn_rules *default_rules;
    if (!default_rules)
        default_rules = st_dn_rules_new(NULL, &err);
    const struct st_dn_rules *rules =
        conn->cluster->auth.dn_rules ? conn->cluster->auth.dn_rules : default_rules;
    int rc = rules && st_dn_rfc2253(X509_get_subject_name(peer), &dn, &err) == 0 &&
                     st_dn_rules_map(rules, (const char *)st_buf_head(&dn), st_buf_used(&dn), &name,
                                     &err) == 0
                 ? 0
                 : -1;
    if (rc != 0) {
        st_buf_free(&dn);
        st_buf_free(&name);
        conn->cluster->counters.auth_by_mech[ST_GW_MECH_MTLS][1]++;
        conn->ep->counters.auth_by_mech[ST_GW_MECH_MTLS][1]++;
        close_fmt(conn, ST_GW_CLOSE_AUTH_FAILED, ST_LOG_WARN,
                  "mutual TLS: no principal for the client certificate: %s",
                  err ? err : "mapping failed");
        return -1;
    }
    char principal[1100];
    snprintf(principal, sizeof(principal), "User:%s", (const char *)st_buf_head(&name));
    if (!conn->cluster->auth.no_authz && !(conn->authz = st_authz_conn_new(principal, false))) {
        st_buf_free(&dn);
        st_buf_free(&name);
        close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
        return -1;
    }
    conn->authenticated = true;
    scheme_set(conn, ST_GW_SCHEME_TLS);
    conn->cluster->counters.auth_ok++;
    conn->ep->counters.auth_ok++;
    conn->cluster->counters.auth_by_mech[ST_GW_MECH_MTLS][0]++;
    conn->ep->counters.auth_by_mech[ST_GW_MECH_MTLS][0]++;
    st_info("C-%llu %s->%s: authenticated User:%s with mutual TLS", (unsigned long long)conn->id,
            conn->peer, conn->ep->address, (const char *)st_buf_head(&name));
    st_buf_free(&dn);
    st_buf_free(&name);
    if (conn->state == CONN_DEFERRED) {
        struct st_gw_cluster *c = conn->cluster;
        uint64_t closed = c->counters.conns_closed;
        upstream_start(conn);
        if (c->counters.conns_closed != closed)
            return -1;
    }
    return 0;
}

/* A client that spoke plaintext (first byte `b`) on a TLS endpoint: the close says what to fix. */
static void
close_plaintext_client(struct st_conn *conn, uint8_t b)
{
    close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN,
              "plaintext client on a TLS endpoint (first byte 0x%02x is not a TLS handshake): "
              "configure the client with security.protocol=SASL_SSL (or SSL) and trust strait's "
              "CA",
              b);
}

/* Client readable: read, scan, forward. */
static void
on_client_read(evutil_socket_t fd, short what, void *arg)
{
    struct st_conn *conn = arg;
    if (conn->ssl && !conn->tls_checked) {
        uint8_t b;
        int tls = st_tls_peek_client_hello(conn->cfd, &b);
        if (tls == -2)
            return;
        if (tls == 0) {
            close_plaintext_client(conn, b);
            return;
        }
        conn->tls_checked = true;
    }
    if (splice_ready(conn, &conn->req)) {
        int r = splice_pump(conn, &conn->req, conn->cfd, conn->ufd, true);
        if (r > 0)
            conn_update(conn);
        if (r != 0)
            return;
    }
    ssize_t n = read_into(conn, conn->cio, conn->cfd, &conn->req);
    if (conn->ssl && !conn->tls_done && SSL_is_init_finished(conn->ssl) && tls_identify(conn) != 0)
        return;
    if (n == -2) {
        if (conn->tls_want_write)
            conn_update(conn);
        return;
    }
    if (n <= 0) {
        if (conn->tls_err[0])
            close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN, "%s", conn->tls_err);
        else
            close_fmt(conn, ST_GW_CLOSE_CLIENT_CLOSED, ST_LOG_DEBUG,
                      n == 0 ? "client closed the connection" : "client read error");
        return;
    }
    count_in(conn, true, (size_t)n);
    resume_requests(conn);
}

/*
 * Starts the upstream re-authentication (KIP-368) once it is due and nothing is in flight to the
 * broker. Returns 0, or -1 when the connection was closed.
 */
static int
maybe_reauth(struct st_conn *conn)
{
    if (!conn->up || conn->state != CONN_OPEN ||
        !st_gw_up_reauth_due(conn->up, st_mono_ms()) || conn->p_count || conn->req.ready ||
        conn->req.passthru || conn->req.piped)
        return 0;
    if (st_gw_up_reauth(conn->up) != 0) {
        close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
        return -1;
    }
    st_debug("C-%llu: re-authenticating to broker %d (KIP-368)", (unsigned long long)conn->id,
             conn->node_id);
    conn->state = CONN_SECURING;
    return secure_step(conn);
}

/* Scans what the client sent, answers what strait answers, forwards the rest. */
static void
resume_requests(struct st_conn *conn)
{
    struct st_gw_cluster *c = conn->cluster;
    uint64_t errs = c->counters.protocol_errors, closed = c->counters.conns_closed;
    if (process_requests(conn) != 0)
        return;
    /* Local answers (ApiVersions) may be at the head of the response queue already. */
    if (conn->p_count && pending_head(conn)->local) {
        process_responses(conn);
        if (c->counters.conns_closed != closed || c->counters.protocol_errors != errs)
            return;
        flush_to_client(conn);
        if (c->counters.conns_closed != closed)
            return;
    }
    flush_to_upstream(conn);
    if (c->counters.conns_closed != closed)
        return;
    if (maybe_reauth(conn) != 0)
        return;
    conn_update(conn);
}

static void
on_client_write(evutil_socket_t fd, short what, void *arg)
{
    struct st_conn *conn = arg;
    /* conn may be freed by what follows: keep the cluster to detect that. */
    struct st_gw_cluster *c = conn->cluster;
    uint64_t closed = c->counters.conns_closed;
    if (conn->tls_want_write) {
        /* TLS wanted to write while reading (handshake): go on reading now. */
        conn->tls_want_write = false;
        on_client_read(fd, EV_READ, conn);
        if (c->counters.conns_closed != closed)
            return;
    }
    flush_to_client(conn);
    if (c->counters.conns_closed != closed)
        return;
    conn_update(conn);
}

/*
 * Drives the upstream TLS handshake / SASL exchange; once done the connection opens and the
 * requests that waited are forwarded. Returns 0, or -1 when the connection was closed.
 */
static int
secure_step(struct st_conn *conn)
{
    char why[512];
    int rc = st_gw_up_step(conn->up, why, sizeof(why));
    if (rc == ST_GW_UP_FAILED) {
        struct st_gw_node *n = st_gw_cluster_find_node(conn->cluster, conn->node_id);
        close_fmt(conn, ST_GW_CLOSE_UPSTREAM_UNREACHABLE, ST_LOG_WARN,
                  "upstream %s to broker %d at %s:%d failed: %s",
                  st_gw_up_protocol_name(conn->cluster->upsec ? conn->cluster->upsec->protocol
                                                              : ST_GW_UP_SSL),
                  conn->node_id, n ? n->host : "?", n ? n->port : 0, why);
        return -1;
    }
    if (rc != ST_GW_UP_DONE) {
        conn->up_want = rc;
        conn_update(conn);
        return 0;
    }
    conn->state = CONN_OPEN;
    conn->up_want = 0;
    conn->uio = &up_io;
    event_drop(&conn->timer);
    struct st_gw_cluster *c = conn->cluster;
    uint64_t closed = c->counters.conns_closed;
    resume_requests(conn);
    return c->counters.conns_closed != closed ? -1 : 0;
}

static void
on_upstream_read(evutil_socket_t fd, short what, void *arg)
{
    struct st_conn *conn = arg;
    if (conn->state == CONN_SECURING) {
        (void)secure_step(conn);
        return;
    }
    if (splice_ready(conn, &conn->resp)) {
        int r = splice_pump(conn, &conn->resp, conn->ufd, conn->cfd, false);
        if (r > 0)
            conn_update(conn);
        if (r != 0)
            return;
    }
    ssize_t n = read_into(conn, conn->uio, conn->ufd, &conn->resp);
    if (n == -2) {
        if (conn->up_want_write)
            conn_update(conn);
        return;
    }
    if (n <= 0) {
        if (n < 0 && conn->up && st_gw_up_error(conn->up)[0]) {
            close_fmt(conn, ST_GW_CLOSE_UPSTREAM_CLOSED, ST_LOG_WARN,
                      "broker %d connection failed: %s", conn->node_id, st_gw_up_error(conn->up));
            return;
        }
        close_fmt(conn, ST_GW_CLOSE_UPSTREAM_CLOSED, ST_LOG_INFO,
                  "broker %d closed the connection%s", conn->node_id,
                  conn->p_count ? " with requests in flight" : "");
        return;
    }
    struct st_gw_cluster *c = conn->cluster;
    count_in(conn, false, (size_t)n);
    uint64_t closed = c->counters.conns_closed;
    process_responses(conn);
    if (c->counters.conns_closed != closed)
        return;
    flush_to_client(conn);
    if (c->counters.conns_closed != closed)
        return;
    if (maybe_reauth(conn) != 0)
        return;
    conn_update(conn);
}

static void
on_upstream_write(evutil_socket_t fd, short what, void *arg)
{
    struct st_conn *conn = arg;
    /* conn may be freed by what follows: keep the cluster to detect that. */
    struct st_gw_cluster *c = conn->cluster;
    uint64_t closed = c->counters.conns_closed;
    if (conn->state == CONN_CONNECTING) {
        int e = st_sock_connect_result(conn->ufd);
        if (e != 0) {
            struct st_gw_node *n = st_gw_cluster_find_node(conn->cluster, conn->node_id);
            close_fmt(conn, ST_GW_CLOSE_UPSTREAM_UNREACHABLE, ST_LOG_INFO,
                      "cannot connect to broker %d at %s:%d: %s", conn->node_id, n ? n->host : "?",
                      n ? n->port : 0, strerror(e));
            return;
        }
        st_sock_tune_tcp(conn->ufd);
        if (c->upsec) {
            /* strait's own TLS / SASL first; the client's requests wait in req.buf. */
            struct st_gw_node *n = st_gw_cluster_find_node(c, conn->node_id);
            const char *err = NULL;
            conn->up = st_gw_up_new(c->upsec, conn->ufd, n ? n->host : "", &err);
            if (!conn->up) {
                close_fmt(conn, ST_GW_CLOSE_UPSTREAM_UNREACHABLE, ST_LOG_WARN,
                          "upstream to broker %d: %s", conn->node_id, err);
                return;
            }
            conn->state = CONN_SECURING;
            (void)secure_step(conn);
            return;
        }
        conn->state = CONN_OPEN;
        event_drop(&conn->timer);
    }
    if (conn->state == CONN_SECURING) {
        (void)secure_step(conn);
        return;
    }
    if (conn->up_want_write) {
        /* Upstream TLS wanted to write while reading: go on reading now. */
        conn->up_want_write = false;
        on_upstream_read(fd, EV_READ, conn);
        if (c->counters.conns_closed != closed)
            return;
    }
    flush_to_upstream(conn);
    if (c->counters.conns_closed != closed)
        return;
    if (maybe_reauth(conn) != 0)
        return;
    conn_update(conn);
}

static void
on_connect_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct st_conn *conn = arg;
    if (conn->state == CONN_DEFERRED)
        close_fmt(conn, ST_GW_CLOSE_AUTH_FAILED, ST_LOG_INFO,
                  "not authenticated %u ms after connecting (TLS handshake and SASL must be done "
                  "by then)",
                  conn->cluster->limits.auth_timeout_ms);
    else if (conn->state == CONN_SECURING)
        close_fmt(conn, ST_GW_CLOSE_UPSTREAM_UNREACHABLE, ST_LOG_WARN,
                  "upstream TLS/SASL with broker %d timed out", conn->node_id);
    else
        close_fmt(conn, ST_GW_CLOSE_UPSTREAM_UNREACHABLE, ST_LOG_INFO,
                  "connecting to broker %d timed out", conn->node_id);
}

static void
on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    struct st_conn *conn = arg;
    conn->dns_req = NULL;
    if (result == EVUTIL_EAI_CANCEL)
        return; /* the connection is being closed */
    if (result != 0 || !res) {
        close_fmt(conn, ST_GW_CLOSE_UPSTREAM_UNREACHABLE, ST_LOG_INFO,
                  "cannot resolve broker %d's host: %s", conn->node_id,
                  evutil_gai_strerror(result));
        return;
    }
    conn->ufd = st_sock_connect(res->ai_addr, res->ai_addrlen);
    evutil_freeaddrinfo(res);
    if (conn->ufd < 0) {
        close_fmt(conn, ST_GW_CLOSE_UPSTREAM_UNREACHABLE, ST_LOG_INFO,
                  "cannot connect to broker %d: %s", conn->node_id, strerror(errno));
        return;
    }
    struct event_base *base = conn->cluster->base;
    conn->u_rev = event_new(base, conn->ufd, EV_READ | EV_PERSIST, on_upstream_read, conn);
    conn->u_wev = event_new(base, conn->ufd, EV_WRITE | EV_PERSIST, on_upstream_write, conn);
    if (!conn->u_rev || !conn->u_wev) {
        close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
        return;
    }
    conn->state = CONN_CONNECTING;
    conn_update(conn);
}

/*
 * A TLS handshake comes back from its handshake thread (net/handshake.h): the connection goes on
 * as the loop's own path would after SSL_is_init_finished() (tls_identify(), then reading), or is
 * closed with the reason the loop's path gives.
 */
static void
on_handshake_done(void *arg, const struct st_hs_result *r)
{
    struct st_conn *conn = arg;
    conn->hs = NULL;
    switch (r->status) {
    case ST_HS_OK:
        break;
    case ST_HS_PLAINTEXT:
        close_plaintext_client(conn, r->first_byte);
        return;
    case ST_HS_FAILED:
        snprintf(conn->tls_err, sizeof(conn->tls_err), "%s", r->why);
        close_fmt(conn, ST_GW_CLOSE_PROTOCOL_ERROR, ST_LOG_WARN, "%s", conn->tls_err);
        return;
    case ST_HS_TIMEOUT:
        close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_INFO, "TLS handshake not done after %u ms",
                  conn->cluster->limits.connect_timeout_ms);
        return;
    default:
        close_fmt(conn, ST_GW_CLOSE_SHUTDOWN, ST_LOG_DEBUG, "TLS handshake threads stopped");
        return;
    }
    conn->tls_checked = true;
    if (tls_identify(conn) != 0)
        return;
    /* An unauthenticated TLS endpoint (in-VPC, encryption only) opens its broker connection now
     * rather than at accept, so nothing arms this socket's events while the handshake is away. */
    if (conn->ep->insecure && conn->state == CONN_DEFERRED) {
        upstream_start(conn);
        return;
    }
    conn_update(conn);
}

void
st_conn_accept(struct st_gw_listener *l, int fd)
{
    struct st_gw_endpoint *ep = l->ep;
    struct st_gw_cluster *c = ep->cluster;
    struct st_conn *conn = calloc(1, sizeof(*conn));
    if (!conn) {
        close(fd);
        return;
    }
    conn->id = ++c->next_conn_id;
    conn->cluster = c;
    conn->ep = ep;
    conn->node_id = l->node_id;
    conn->port = l->port;
    conn->cfd = fd;
    conn->ufd = -1;
    /* Only the development endpoint (and a cluster's own subnets while unauthenticated access is
     * on) serve clients that have not authenticated. */
    conn->authenticated = ep->insecure;
    if (ep->insecure)
        scheme_set(conn, ST_GW_SCHEME_NONE);
    if (!ep->insecure && c->auth.scheme != ST_GW_AUTH_NONE && !(conn->sasl = st_sasl_new())) {
        close(fd);
        free(conn);
        return;
    }
    st_buf_init(&conn->req.buf, 0);
    st_buf_init(&conn->resp.buf, 0);
    st_buf_init(&conn->scratch, 0);
    st_sock_addr_str(fd, 0, conn->peer, sizeof(conn->peer));
    snprintf(conn->peer_ip, sizeof(conn->peer_ip), "%s", conn->peer);
    conn->cio = &raw_io;
    conn->uio = &raw_io;
    if (ep->tls) {
        conn->ssl = SSL_new(ep->tls);
        if (!conn->ssl || SSL_set_fd(conn->ssl, fd) != 1) {
            SSL_free(conn->ssl);
            st_sasl_free(conn->sasl);
            close(fd);
            free(conn);
            return;
        }
        SSL_set_accept_state(conn->ssl);
        conn->cio = &tls_io;
    }
    char *colon = strrchr(conn->peer_ip, ':');
    if (colon)
        *colon = '\0';
    st_sock_tune_tcp(fd);
    conn->next = c->conns;
    if (c->conns)
        c->conns->prev = conn;
    c->conns = conn;
    c->counters.conns_accepted++;
    c->counters.conns_current++;
    ep->counters.conns_accepted++;
    ep->counters.conns_current++;
    st_debug("C-%llu %s->%s:%d accepted for broker %d", (unsigned long long)conn->id, conn->peer,
             ep->address, l->port, l->node_id);

    conn->c_rev = event_new(c->base, fd, EV_READ | EV_PERSIST, on_client_read, conn);
    conn->c_wev = event_new(c->base, fd, EV_WRITE | EV_PERSIST, on_client_write, conn);
    conn->timer = evtimer_new(c->base, on_connect_timeout, conn);
    if (!conn->c_rev || !conn->c_wev || !conn->timer) {
        close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
        return;
    }
    if (!ep->insecure) {
        /* The TLS handshake and SASL must be done within auth_timeout_ms: a client that
         * connects and stalls holds a socket and a connection for no longer than that. The same
         * timer becomes the broker connect timeout once the client has authenticated. */
        struct timeval tv = {c->limits.auth_timeout_ms / 1000,
                             (c->limits.auth_timeout_ms % 1000) * 1000};
        evtimer_add(conn->timer, &tv);
    }
    if (conn->ssl && c->hs_pool) {
        /* The handshake (and the plaintext-client check) runs on a handshake thread; the rest of
         * what follows here happens in on_handshake_done(), on this loop. No broker connection
         * and no socket event until then. */
        conn->state = CONN_DEFERRED;
        conn->hs = st_hs_submit(c->hs_pool, fd, conn->ssl, c->limits.connect_timeout_ms,
                                on_handshake_done, conn);
        if (!conn->hs)
            close_fmt(conn, ST_GW_CLOSE_OTHER, ST_LOG_ERROR, "out of memory");
        return;
    }
    if (!ep->insecure) {
        /* No broker connection for a client that has not authenticated: it is opened when
         * the client has (upstream_start()); ApiVersions is answered by strait until then. */
        conn->state = CONN_DEFERRED;
        conn_update(conn);
        return;
    }
    upstream_start(conn);
}

/*
 * Opens the connection's broker connection: resolve, connect (with the connect timeout), then
 * the upstream TLS/SASL when configured. May close `conn` before it returns (a numeric host
 * resolves synchronously): callers check the cluster's close counter.
 */
static void
upstream_start(struct st_conn *conn)
{
    struct st_gw_cluster *c = conn->cluster;
    struct timeval tv = {c->limits.connect_timeout_ms / 1000,
                         (c->limits.connect_timeout_ms % 1000) * 1000};
    evtimer_add(conn->timer, &tv);

    struct st_gw_node *n = st_gw_cluster_find_node(c, conn->node_id);
    if (!n || !n->host[0]) {
        close_fmt(conn, ST_GW_CLOSE_UPSTREAM_UNREACHABLE, ST_LOG_INFO,
                  "broker %d is not in the cluster metadata", conn->node_id);
        return;
    }
    char port[8];
    snprintf(port, sizeof(port), "%d", n->port);
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    conn->state = CONN_RESOLVING;
    /* Numeric hosts resolve synchronously: the callback may run (and even close conn) here. */
    uint64_t closed = c->counters.conns_closed;
    struct evdns_getaddrinfo_request *req =
        evdns_getaddrinfo(c->dns, n->host, port, &hints, on_resolved, conn);
    if (c->counters.conns_closed != closed)
        return;
    if (conn->state == CONN_RESOLVING)
        conn->dns_req = req;
    conn_update(conn);
}

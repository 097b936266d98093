/*
 * Broker discovery (the eager metadata learner). A tiny Kafka client on the gateway's loop:
 *
 *   idle --timer--> resolve --> connect --> [TLS / SASL] --> ApiVersions v0 --> Metadata
 *   (no topics) --> idle
 *
 * It runs once at start-up, before any endpoint accepts a client (so after a restart every broker
 * has its port before the first request is answered), then every metadata_refresh_ms, so a broker
 * that joins gets a port even when no client asks for metadata. Candidates are the configured
 * bootstrap servers and every known broker, tried round-robin.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/dns.h>

#include "gateway/internal.h"
#include "net/sock.h"
#include "util/log.h"

enum {
    LEARN_IDLE,
    LEARN_RESOLVING,
    LEARN_CONNECTING,
    LEARN_SECURING, /* strait's TLS handshake / SASL exchange with the broker */
    LEARN_APIVERSIONS,
    LEARN_METADATA,
};

#define LEARN_TIMEOUT_MS 10000
#define LEARN_RETRY_MS 1000
#define LEARN_CLIENT_ID "strait-discovery"

static struct st_ratelimit learn_rl = ST_RATELIMIT_INIT(2);

static void learner_round(struct st_gw_learner *l);

static void
arm_timer(struct st_gw_learner *l, uint32_t ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(l->timer, &tv);
}

static void
reset_socket(struct st_gw_learner *l)
{
    if (l->dns) {
        evdns_getaddrinfo_cancel(l->dns);
        l->dns = NULL;
    }
    if (l->rev) {
        event_free(l->rev);
        l->rev = NULL;
    }
    if (l->wev) {
        event_free(l->wev);
        l->wev = NULL;
    }
    st_gw_up_free(l->up);
    l->up = NULL;
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
    }
    st_buf_reset(&l->out);
    st_buf_reset(&l->in);
}

/* Ends a round: schedules the next one (sooner after a failure). */
static void
round_done(struct st_gw_learner *l, const char *failure)
{
    /* `failure` may point into the session reset_socket() frees. */
    char why[600];
    if (failure) {
        snprintf(why, sizeof(why), "%s", failure);
        failure = why;
    }
    reset_socket(l);
    l->state = LEARN_IDLE;
    struct st_gw_cluster *c = l->cluster;
    if (failure) {
        st_log_limited(&learn_rl, c->serving ? ST_LOG_WARN : ST_LOG_INFO,
                       "cluster %s: broker discovery via %s failed: %s", c->name, l->target,
                       failure);
        l->attempt++;
        arm_timer(l, LEARN_RETRY_MS);
        return;
    }
    if (l->refresh_pending) {
        l->refresh_pending = false;
        arm_timer(l, 0);
        return;
    }
    arm_timer(l, c->limits.metadata_refresh_ms);
}

/* Picks the next candidate "host:port" into l->target. */
static int
pick_target(struct st_gw_learner *l, char *host, size_t host_len, int *port)
{
    struct st_gw_cluster *c = l->cluster;
    /* Candidates: bootstrap entries, then known brokers. */
    size_t n_boot = 0;
    for (const char *p = c->bootstrap; *p;) {
        const char *e = strchr(p, ',');
        n_boot++;
        if (!e)
            break;
        p = e + 1;
    }
    size_t total = n_boot + c->n_nodes;
    if (total == 0)
        return -1;
    size_t idx = l->attempt % total;
    if (idx < n_boot) {
        const char *p = c->bootstrap;
        for (size_t i = 0; i < idx; i++)
            p = strchr(p, ',') + 1;
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len && (*p == ' ')) {
            p++;
            len--;
        }
        if (st_hostport_parse(p, len, host, host_len, port) != 0) {
            snprintf(l->target, sizeof(l->target), "%.*s", (int)len, p);
            return -1;
        }
    } else {
        const struct st_gw_node *n = &c->nodes[idx - n_boot];
        snprintf(host, host_len, "%s", n->host);
        *port = n->port;
    }
    snprintf(l->target, sizeof(l->target), "%s:%d", host, *port);
    snprintf(l->host, sizeof(l->host), "%s", host);
    return 0;
}

static int
send_apiversions(struct st_gw_learner *l)
{
    /* ApiVersions v0, request header v1: every broker since 0.10 answers it. */
    size_t start = st_buf_used(&l->out);
    int rc = st_buf_append_i32(&l->out, 0);
    rc |= st_buf_append_i16(&l->out, ST_KAFKA_API_VERSIONS);
    rc |= st_buf_append_i16(&l->out, 0);
    rc |= st_buf_append_i32(&l->out, 1);
    rc |= st_buf_append_i16(&l->out, (int16_t)strlen(LEARN_CLIENT_ID));
    rc |= st_buf_append(&l->out, LEARN_CLIENT_ID, strlen(LEARN_CLIENT_ID));
    if (rc)
        return -1;
    st_buf_put_i32_at(&l->out, start, (int32_t)(st_buf_used(&l->out) - start - 4));
    return 0;
}

/* Chooses the Metadata version from an ApiVersions v0 response body. */
static const char *
handle_apiversions(struct st_gw_learner *l, const uint8_t *p, size_t len)
{
    if (len < 4 + 2 + 4)
        return "short ApiVersions response";
    int16_t error = st_rd_i16(p + 4);
    if (error != 0)
        return "ApiVersions returned an error";
    int32_t n = st_rd_i32(p + 6);
    if (n < 0 || (size_t)n > (len - 10) / 6)
        return "malformed ApiVersions response";
    st_gw_cluster_set_broker_api(l->cluster, p + 10, (size_t)n);
    int16_t our_min, our_max;
    if (!st_kafka_supported_range(ST_KAFKA_METADATA, &our_min, &our_max))
        return "no supported Metadata version";
    for (int32_t i = 0; i < n; i++) {
        const uint8_t *e = p + 10 + (size_t)i * 6;
        if (st_rd_i16(e) != ST_KAFKA_METADATA)
            continue;
        int16_t bmin = st_rd_i16(e + 2), bmax = st_rd_i16(e + 4);
        int16_t v = bmax < our_max ? bmax : our_max;
        /* v0 cannot ask for "no topics" (an empty list means all); prefer v1+. */
        if (v < bmin || v < our_min || v < 1)
            return "no common Metadata version with the broker";
        l->metadata_version = v;
        return NULL;
    }
    return "broker does not offer Metadata";
}

struct learn_ctx {
    struct st_gw_learner *l; /* learner */
    int32_t ids[1024];       /* node ids listed */
    size_t n;                /* count */
};

static int
learn_observe(void *arg, const struct st_kbroker *b, bool authoritative)
{
    struct learn_ctx *x = arg;
    if (x->n < sizeof(x->ids) / sizeof(x->ids[0]))
        x->ids[x->n++] = b->node_id;
    (void)st_gw_cluster_observe(x->l->cluster, b, true);
    return 0;
}

static int
learn_map(void *arg, int32_t node_id, const char **host, size_t *host_len, int32_t *port)
{
    return -1; /* output is discarded: only observation matters */
}

static const char *
handle_metadata(struct st_gw_learner *l, const uint8_t *p, size_t len)
{
    size_t hdr_len;
    const char *err = NULL;
    if (st_kafka_resp_hdr_len(ST_KAFKA_METADATA, l->metadata_version, p, len, &hdr_len, &err) != 0)
        return err;
    struct learn_ctx *x = malloc(sizeof(*x));
    if (!x)
        return "out of memory";
    x->l = l;
    x->n = 0;
    struct st_krewrite_ops ops = {x, learn_observe, learn_map};
    struct st_buf scratch = ST_BUF_INIT;
    enum st_krw_result r = st_kafka_response_rewrite(ST_KAFKA_METADATA, l->metadata_version,
                                                     p + hdr_len, len - hdr_len, &ops, &scratch,
                                                     &err);
    st_buf_free(&scratch);
    if (r == ST_KRW_ERROR) {
        free(x);
        return err;
    }
    if (x->n == 0) {
        free(x);
        return "Metadata response lists no brokers";
    }
    st_gw_cluster_mark_listed(l->cluster, x->ids, x->n);
    free(x);
    return NULL;
}

/* Kafka bytes out: raw, or through the TLS / SASL session. Same results as st_gw_up_write(). */
static ssize_t
l_write(struct st_gw_learner *l, const void *buf, size_t n)
{
    if (l->up)
        return st_gw_up_write(l->up, buf, n);
    ssize_t r = send(l->fd, buf, n, MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return -2;
    return r;
}

static ssize_t
l_read(struct st_gw_learner *l, void *buf, size_t n)
{
    if (l->up)
        return st_gw_up_read(l->up, buf, n);
    ssize_t r = read(l->fd, buf, n);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return -2;
    return r;
}

/* Drives strait's TLS / SASL with the broker; then asks ApiVersions. */
static void
secure_step(struct st_gw_learner *l)
{
    char why[512], failure[600];
    int rc = st_gw_up_step(l->up, why, sizeof(why));
    if (rc == ST_GW_UP_FAILED) {
        snprintf(
            failure, sizeof(failure), "upstream %s: %s",
            st_gw_up_protocol_name(l->cluster->upsec ? l->cluster->upsec->protocol : ST_GW_UP_SSL),
            why);
        round_done(l, failure);
        return;
    }
    if (rc == ST_GW_UP_WANT_READ || rc == ST_GW_UP_WANT_WRITE) {
        event_del(rc == ST_GW_UP_WANT_READ ? l->wev : l->rev);
        event_add(rc == ST_GW_UP_WANT_READ ? l->rev : l->wev, NULL);
        return;
    }
    l->state = LEARN_APIVERSIONS;
    if (send_apiversions(l) != 0) {
        round_done(l, "out of memory");
        return;
    }
    event_del(l->rev);
    event_add(l->wev, NULL);
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
    struct st_gw_learner *l = arg;
    if (l->state == LEARN_CONNECTING && (what & EV_WRITE)) {
        int e = st_sock_connect_result(l->fd);
        if (e != 0) {
            round_done(l, strerror(e));
            return;
        }
        if (l->cluster->upsec) {
            const char *err = NULL;
            l->up = st_gw_up_new(l->cluster->upsec, l->fd, l->host, &err);
            if (!l->up) {
                round_done(l, err);
                return;
            }
            l->state = LEARN_SECURING;
            secure_step(l);
            return;
        }
        l->state = LEARN_APIVERSIONS;
        if (send_apiversions(l) != 0) {
            round_done(l, "out of memory");
            return;
        }
    }
    if (l->state == LEARN_SECURING) {
        secure_step(l);
        return;
    }
    if (what & EV_WRITE) {
        while (st_buf_used(&l->out)) {
            ssize_t n = l_write(l, st_buf_head(&l->out), st_buf_used(&l->out));
            if (n == -2)
                return;
            if (n <= 0) { /* 0 bytes written is no progress */
                round_done(l, l->up && st_gw_up_error(l->up)[0] ? st_gw_up_error(l->up)
                                                                : strerror(errno));
                return;
            }
            st_buf_consume(&l->out, (size_t)n);
        }
        event_del(l->wev);
        event_add(l->rev, NULL);
        return;
    }
    if (!(what & EV_READ))
        return;
    if (st_buf_reserve(&l->in, 64 << 10) != 0) {
        round_done(l, "Metadata response too large");
        return;
    }
    ssize_t n = l_read(l, l->in.data + l->in.len, st_buf_room(&l->in));
    if (n == -2)
        return;
    if (n <= 0) {
        round_done(l, n == 0                              ? "broker closed the connection"
                      : l->up && st_gw_up_error(l->up)[0] ? st_gw_up_error(l->up)
                                                          : strerror(errno));
        return;
    }
    l->in.len += (size_t)n;
    /* TLS may hold more decrypted bytes than one read took: no socket event announces them. */
    while (l->up && st_gw_up_pending(l->up) > 0 && st_buf_room(&l->in) > 0) {
        n = l_read(l, l->in.data + l->in.len, st_buf_room(&l->in));
        if (n <= 0)
            break;
        l->in.len += (size_t)n;
    }
    if (st_buf_used(&l->in) < 4)
        return;
    int32_t size = st_rd_i32(st_buf_head(&l->in));
    if (size < 4 || size > (64 << 20)) {
        round_done(l, "bad response frame size");
        return;
    }
    if (st_buf_used(&l->in) < 4 + (size_t)size)
        return;
    const uint8_t *frame = st_buf_head(&l->in) + 4;
    const char *failure;
    if (l->state == LEARN_APIVERSIONS) {
        failure = handle_apiversions(l, frame, (size_t)size);
        if (failure) {
            round_done(l, failure);
            return;
        }
        st_buf_reset(&l->in);
        l->state = LEARN_METADATA;
        if (st_kafka_build_metadata_request(&l->out, l->metadata_version, 2, LEARN_CLIENT_ID,
                                            true) != 0) {
            round_done(l, "cannot build the Metadata request");
            return;
        }
        event_del(l->rev);
        event_add(l->wev, NULL);
        return;
    }
    failure = handle_metadata(l, frame, (size_t)size);
    if (failure) {
        round_done(l, failure);
        return;
    }
    round_done(l, NULL);
    st_gw_cluster_learned(l->cluster);
}

static void
on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    struct st_gw_learner *l = arg;
    l->dns = NULL;
    if (result == EVUTIL_EAI_CANCEL)
        return;
    if (result != 0 || !res) {
        round_done(l, evutil_gai_strerror(result));
        return;
    }
    l->fd = st_sock_connect(res->ai_addr, res->ai_addrlen);
    evutil_freeaddrinfo(res);
    if (l->fd < 0) {
        round_done(l, strerror(errno));
        return;
    }
    struct event_base *base = l->cluster->base;
    l->rev = event_new(base, l->fd, EV_READ | EV_PERSIST, on_io, l);
    l->wev = event_new(base, l->fd, EV_WRITE | EV_PERSIST, on_io, l);
    if (!l->rev || !l->wev) {
        round_done(l, "out of memory");
        return;
    }
    l->state = LEARN_CONNECTING;
    event_add(l->wev, NULL);
}

static void
learner_round(struct st_gw_learner *l)
{
    char host[256];
    int port;
    if (pick_target(l, host, sizeof(host), &port) != 0) {
        round_done(l, "no usable bootstrap address (expected host:port)");
        return;
    }
    l->state = LEARN_RESOLVING;
    arm_timer(l, LEARN_TIMEOUT_MS);
    char ps[8];
    snprintf(ps, sizeof(ps), "%d", port);
    struct evutil_addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    struct evdns_getaddrinfo_request *r =
        evdns_getaddrinfo(l->cluster->dns, host, ps, &hints, on_resolved, l);
    if (l->state == LEARN_RESOLVING)
        l->dns = r;
}

static void
on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct st_gw_learner *l = arg;
    if (l->state != LEARN_IDLE) {
        round_done(l, "timed out");
        return;
    }
    learner_round(l);
}

void
st_gw_learner_init(struct st_gw_learner *l, struct st_gw_cluster *c)
{
    memset(l, 0, sizeof(*l));
    l->cluster = c;
    l->fd = -1;
    st_buf_init(&l->out, 0);
    st_buf_init(&l->in, 64u << 20);
    snprintf(l->target, sizeof(l->target), "?");
}

void
st_gw_learner_start(struct st_gw_learner *l)
{
    if (!l->timer)
        l->timer = evtimer_new(l->cluster->base, on_timer, l);
    arm_timer(l, 0);
}

void
st_gw_learner_poke(struct st_gw_learner *l)
{
    if (l->state == LEARN_IDLE && l->timer)
        arm_timer(l, 0);
    else
        l->refresh_pending = true;
}

void
st_gw_learner_stop(struct st_gw_learner *l)
{
    reset_socket(l);
    if (l->timer) {
        event_free(l->timer);
        l->timer = NULL;
    }
    st_buf_free(&l->out);
    st_buf_free(&l->in);
    l->state = LEARN_IDLE;
}

/*
 * Endpoints: one listen address with one bound port per exposed broker. Accepting on port P hands
 * the socket to a new st_conn bound to the broker that owns P. Any port works as a bootstrap.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "gateway/internal.h"
#include "net/sock.h"
#include "util/log.h"

static struct st_ratelimit accept_rl = ST_RATELIMIT_INIT(5);

static struct st_ratelimit refuse_rl = ST_RATELIMIT_INIT(5);
/* Binding is retried on every response naming the broker: log it at most once a second. */
static struct st_ratelimit listen_rl = ST_RATELIMIT_INIT(1);

static bool
prefix_match(const uint8_t *a, const uint8_t *net, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

/* True when the endpoint's ingress rules let `fd`'s peer in on `port`. */
static bool
ingress_allows(const struct st_gw_endpoint *e, int fd, int port)
{
    if (!e->ingress_enforced)
        return true;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return false;
    int family = ss.ss_family;
    uint8_t addr[16];
    if (family == AF_INET) {
        memcpy(addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
    } else if (family == AF_INET6) {
        const struct in6_addr *a6 = &((struct sockaddr_in6 *)&ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            family = AF_INET;
            memcpy(addr, a6->s6_addr + 12, 4);
        } else {
            memcpy(addr, a6->s6_addr, 16);
        }
    } else {
        return false;
    }
    for (size_t i = 0; i < e->n_ingress; i++)
        if (st_gw_ingress_match(&e->ingress[i], family, addr, port))
            return true;
    return false;
}

bool
st_gw_ingress_match(const struct st_gw_ingress *r, int family, const uint8_t *addr, int port)
{
    return r->family == family && port >= r->port_lo && port <= r->port_hi &&
           prefix_match(addr, r->addr, r->prefix);
}

int
st_gw_ingress_parse(const char *cidr, int port_lo, int port_hi, struct st_gw_ingress *out,
                    const char **err)
{
    memset(out, 0, sizeof(*out));
    char ip[64];
    const char *slash = strchr(cidr, '/');
    size_t iplen = slash ? (size_t)(slash - cidr) : strlen(cidr);
    if (iplen == 0 || iplen >= sizeof(ip)) {
        *err = "CIDR must look like 10.0.0.0/16";
        return -1;
    }
    memcpy(ip, cidr, iplen);
    ip[iplen] = '\0';
    if (inet_pton(AF_INET, ip, out->addr) == 1) {
        out->family = AF_INET;
        out->prefix = 32;
    } else if (inet_pton(AF_INET6, ip, out->addr) == 1) {
        out->family = AF_INET6;
        out->prefix = 128;
    } else {
        *err = "CIDR address is not an IPv4 or IPv6 address";
        return -1;
    }
    if (slash) {
        char *end;
        long p = strtol(slash + 1, &end, 10);
        if (!slash[1] || *end || p < 0 || p > out->prefix) {
            *err = "CIDR prefix length out of range";
            return -1;
        }
        out->prefix = (int)p;
    }
    if (port_lo < 0 || port_hi > 65535 || port_lo > port_hi) {
        *err = "port range must be within 0-65535";
        return -1;
    }
    out->port_lo = port_lo;
    out->port_hi = port_hi;
    return 0;
}

int
st_gw_endpoint_set_ingress(struct st_gw_endpoint *e, const struct st_gw_ingress *rules, size_t n)
{
    struct st_gw_ingress *copy = NULL;
    if (n) {
        copy = malloc(n * sizeof(*copy));
        if (!copy)
            return -1;
        memcpy(copy, rules, n * sizeof(*copy));
    }
    free(e->ingress);
    e->ingress = copy;
    e->n_ingress = n;
    e->ingress_enforced = true;
    return 0;
}

static void
on_accept(evutil_socket_t lfd, short what, void *arg)
{
    struct st_gw_listener *l = arg;
    /* Accept a bounded batch per wakeup so one busy port cannot starve the loop. */
    for (int i = 0; i < 64; i++) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                st_log_limited(&accept_rl, ST_LOG_WARN, "endpoint %s port %d: accept failed: %s",
                               l->ep->name, l->port, strerror(errno));
            return;
        }
        if (!ingress_allows(l->ep, fd, l->port)) {
            char peer[64];
            st_sock_addr_str(fd, 0, peer, sizeof(peer));
            st_log_limited(&refuse_rl, ST_LOG_INFO,
                           "endpoint %s: refused %s on port %d: no security-group ingress rule "
                           "allows it",
                           l->ep->name, peer, l->port);
            l->ep->counters.conns_refused++;
            l->ep->cluster->counters.conns_refused++;
            close(fd);
            continue;
        }
        st_conn_accept(l, fd);
    }
}

static struct st_gw_listener *
find_listener(const struct st_gw_endpoint *e, int32_t node_id)
{
    for (size_t i = 0; i < e->n_listeners; i++)
        if (e->listeners[i].node_id == node_id)
            return &e->listeners[i];
    return NULL;
}

int
st_gw_endpoint_expose(struct st_gw_endpoint *e, int32_t node_id, int port)
{
    if (find_listener(e, node_id))
        return 0;
    if (e->n_listeners == e->cap_listeners) {
        /* Listener structs are referenced by their events: grow by reallocating and re-pointing. */
        size_t cap = e->cap_listeners ? e->cap_listeners * 2 : 8;
        struct st_gw_listener *nl = calloc(cap, sizeof(*nl));
        if (!nl)
            return -1;
        for (size_t i = 0; i < e->n_listeners; i++) {
            nl[i] = e->listeners[i];
            if (nl[i].ev)
                event_del(nl[i].ev);
            if (nl[i].ev)
                event_assign(nl[i].ev, e->cluster->base, nl[i].fd, EV_READ | EV_PERSIST, on_accept,
                             &nl[i]);
        }
        /* Events are re-added after event_assign when the endpoint is serving. */
        bool enabled = e->cluster->serving;
        free(e->listeners);
        e->listeners = nl;
        e->cap_listeners = cap;
        if (enabled)
            for (size_t i = 0; i < e->n_listeners; i++)
                if (e->listeners[i].ev)
                    event_add(e->listeners[i].ev, NULL);
    }
    const char *err = NULL;
    int fd = st_sock_listen_tcp(e->address, port, 1024, &err);
    if (fd < 0) {
        st_log_limited(&listen_rl, ST_LOG_ERROR,
                       "endpoint %s: cannot listen on %s:%d for broker %d: %s (%s)", e->name,
                       e->address, port, node_id, err, strerror(errno));
        return -1;
    }
    struct st_gw_listener *l = &e->listeners[e->n_listeners++];
    l->ep = e;
    l->node_id = node_id;
    l->port = port;
    l->fd = fd;
    l->ev = event_new(e->cluster->base, fd, EV_READ | EV_PERSIST, on_accept, l);
    if (!l->ev) {
        close(fd);
        e->n_listeners--;
        return -1;
    }
    if (e->cluster->serving)
        event_add(l->ev, NULL);
    st_info("endpoint %s: broker %d exposed at %s:%d", e->name, node_id, e->address, port);
    return 0;
}

void
st_gw_endpoint_enable(struct st_gw_endpoint *e)
{
    for (size_t i = 0; i < e->n_listeners; i++)
        event_add(e->listeners[i].ev, NULL);
}

void
st_gw_endpoint_free(struct st_gw_endpoint *e)
{
    for (size_t i = 0; i < e->n_listeners; i++) {
        if (e->listeners[i].ev)
            event_free(e->listeners[i].ev);
        close(e->listeners[i].fd);
    }
    free(e->listeners);
    free(e->ingress);
    SSL_CTX_free(e->tls);
    free(e);
}

int
st_gw_endpoint_set_tls(struct st_gw_endpoint *e, struct ssl_ctx_st *ctx)
{
    if (ctx && SSL_CTX_up_ref(ctx) != 1)
        return -1;
    SSL_CTX_free(e->tls);
    e->tls = ctx;
    return 0;
}

int
st_gw_endpoint_map(struct st_gw_endpoint *e, int32_t node_id, const char **host, size_t *host_len,
                   int32_t *port)
{
    struct st_gw_listener *l = find_listener(e, node_id);
    if (!l)
        return -1;
    *host = e->address;
    *host_len = e->address_len;
    *port = l->port;
    return 0;
}

const char *
st_gw_endpoint_name(const struct st_gw_endpoint *e)
{
    return e->name;
}
const char *
st_gw_endpoint_address(const struct st_gw_endpoint *e)
{
    return e->address;
}
int
st_gw_endpoint_port(const struct st_gw_endpoint *e, int32_t node_id)
{
    const struct st_gw_listener *l = find_listener(e, node_id);
    return l ? l->port : -1;
}

const struct st_gw_counters *
st_gw_endpoint_counters(const struct st_gw_endpoint *e)
{
    return &e->counters;
}

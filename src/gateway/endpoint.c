/*
 * Endpoints: one listen address with one bound port per exposed broker. Accepting on port P hands
 * the socket to a new st_conn bound to the broker that owns P. Any port works as a bootstrap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/internal.h"
#include "net/sock.h"
#include "util/log.h"

static struct st_ratelimit accept_rl = ST_RATELIMIT_INIT(5);

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
        st_conn_accept(l, fd);
    }
}

static struct st_gw_listener *
find_listener(struct st_gw_endpoint *e, int32_t node_id)
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
        st_error("endpoint %s: cannot listen on %s:%d for broker %d: %s (%s)", e->name, e->address,
                 port, node_id, err, strerror(errno));
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
    free(e);
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
const struct st_gw_counters *
st_gw_endpoint_counters(const struct st_gw_endpoint *e)
{
    return &e->counters;
}

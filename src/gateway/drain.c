/*
 * Draining a cluster's gateway for a graceful stop (SIGTERM): every endpoint stops accepting
 * (listening sockets stop being polled and are shut down, so new clients are refused at once
 * instead of waiting in the backlog), broker discovery stops so nothing re-enables them, and the
 * open connections carry on until they end or the daemon's grace period runs out.
 */
#include <sys/socket.h>

#include "gateway/internal.h"
#include "util/log.h"

size_t
st_gw_cluster_drain(struct st_gw_cluster *c)
{
    if (!c)
        return 0;
    c->serving = false;
    st_gw_learner_stop(&c->learner);
    for (size_t i = 0; i < c->n_endpoints; i++) {
        struct st_gw_endpoint *e = c->endpoints[i];
        for (size_t j = 0; j < e->n_listeners; j++) {
            struct st_gw_listener *l = &e->listeners[j];
            if (l->ev)
                event_del(l->ev);
            if (l->fd >= 0)
                (void)shutdown(l->fd, SHUT_RDWR);
        }
    }
    return (size_t)c->counters.conns_current;
}

/*
 * The local admin API: HTTP/1.1 with JSON bodies on a Unix socket in the data dir (mode 0600:
 * file permissions are the trust boundary). Used by `strait admin ...`.
 *
 *   GET  /v1/status                          clusters, brokers and their ports, endpoints, counters
 *   POST /v1/embedded/brokers/{id}/down      embedded cluster: take a broker down
 *   POST /v1/embedded/brokers/{id}/up        embedded cluster: bring it back
 *   POST /v1/embedded/topics                 {"name": "t", "partitions": 6, "replicationFactor": 1}
 *   GET|POST /v1/log                         logging: {"level", "format", "categories"}
 *   GET  /v1/audit                           audit log: {"enabled", "path", "allDecisions",
 *                                            "maxBytes", "keep"} (only "enabled": false if none)
 *   POST /v1/apply, GET /v1/ctl/status        control plane (src/ctl/apply.c)
 *   POST /v1/ctl/acls/{create,list,delete}   Kafka ACLs of a cluster (src/ctl/acl.c)
 *
 * Errors are {"error": "...", "message": "..."} with a 4xx/5xx status.
 */
#ifndef ST_APP_ADMIN_H
#define ST_APP_ADMIN_H

#include <event2/event.h>

struct st_gw_cluster;
struct st_embedded;
struct st_admin;
struct st_ctl;
struct st_audit;

/* What the admin API reports on and acts on (not owned). */
struct st_admin_ctx {
    struct st_gw_cluster *cluster; /* the gateway's cluster */
    struct st_embedded *embedded;  /* NULL when the upstream is external */
    const char *data_dir;          /* for status */
    struct st_ctl *ctl;            /* control plane: /v1/apply, /v1/ctl/... (NULL = none) */
    struct st_audit *audit;        /* authorization audit log: /v1/audit (NULL = disabled) */
};

/* Listens on `path`. Returns a new server (free with st_admin_free()) or NULL with *err. */
struct st_admin *st_admin_start(struct event_base *base, const char *path,
                                const struct st_admin_ctx *ctx, const char **err);
void st_admin_free(struct st_admin *a);

#endif

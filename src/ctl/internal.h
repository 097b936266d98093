/*
 * Control-plane internals shared by core.c (lifecycle, snapshots, tasks), runtime.c (cluster
 * runtimes and endpoints), api.c (HTTP, SigV4, authorization, errors, STS), ops.c (the MSK
 * operations), apply.c (the admin socket's declarative apply) and acl.c (Kafka ACLs).
 */
#ifndef ST_CTL_INTERNAL_H
#define ST_CTL_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "auth/sigv4.h"
#include "ctl/ctl.h"
#include "ctl/route.h"
#include "ctl/snapshot.h"
#include "gateway/gateway.h"

struct evhttp;
struct evhttp_request;
struct st_gw_cluster;
struct st_store;
struct st_policy;
struct st_rt_ep;

/* Deferred lifecycle steps (the API answers first, the transition completes on the loop). */
enum st_task_kind {
    ST_TASK_CONN_BIND,        /* CREATING -> AVAILABLE / FAILED */
    ST_TASK_CONN_REJECT,      /* REJECTING -> REJECTED */
    ST_TASK_CONN_DELETE,      /* DELETING -> gone */
    ST_TASK_CLUSTER_UPDATE,   /* UPDATING -> ACTIVE (DEACTIVATING connections -> INACTIVE) */
    ST_TASK_CLUSTER_DELETE,   /* DELETING -> gone */
    ST_TASK_CLUSTER_DEADLINE, /* still CREATING (no broker answered) -> FAILED */
};

struct st_task {
    struct st_ctl *ctl;     /* owner */
    enum st_task_kind kind; /* what to do */
    char *arn;              /* the connection or cluster */
    struct event *ev;       /* its timer */
    struct st_task *next;   /* pending list */
};

/* Runtime of one cluster: its upstream and its gateway. */
struct st_rt {
    char *arn;                /* cluster ARN */
    void *mock;               /* rd_kafka mock cluster state, NULL for external upstreams */
    char *bootstrap;          /* upstream bootstrap servers */
    struct st_gw_cluster *gw; /* main gateway: in-VPC endpoints, broker discovery, ports */
    struct st_rt_ep *eps;     /* one gateway per VPC-connection endpoint address */
    bool learned;             /* brokers discovered at least once */
    bool own_tls;             /* the in-VPC endpoints (gw) are TLS */
    unsigned own_scheme;      /* their st_gw_auth_scheme bits (0 = unauthenticated) */
    char **own_names;         /* their addresses (certificate SANs), owned */
    size_t n_own_names;       /* count */
    struct st_ctl *ctl;       /* owner */
    json_t *upsec;            /* straitUpstreamSecurity of the record (a reference), or NULL */
    struct st_rt *next;       /* list */
};

/* API counters (for /metrics). */
struct st_ctl_stats {
    uint64_t authn_ok;      /* requests whose SigV4 signature verified */
    uint64_t authn_failed;  /* requests refused by authentication */
    uint64_t authz_allowed; /* authorization decisions: allowed */
    uint64_t authz_denied;  /* authorization decisions: denied */
};

struct st_ctl {
    struct event_base *base;   /* loop */
    struct evdns_base *dns;    /* resolver */
    char *data_dir;            /* data dir */
    char region[64];           /* region served (store meta "region") */
    int port_min, port_max;    /* VPC endpoint port range */
    int max_skew;              /* SigV4 window */
    int create_timeout;        /* seconds before a CREATING cluster is FAILED */
    struct st_store *store;    /* state */
    struct evhttp *http;       /* API server, NULL without --api-listen */
    void *ssl_ctx;             /* SSL_CTX for HTTPS, NULL for plain HTTP */
    char *tls_cert, *tls_key;  /* their PEM paths (re-read by st_ctl_reload_tls()) */
    char api_addr[128];        /* bound address */
    struct st_snapshot *snap;  /* current snapshot */
    uint64_t generation;       /* of the last snapshot */
    st_ctl_publish_fn publish; /* data-plane consumer */
    void *publish_arg;         /* its argument */
    struct st_rt *rts;         /* cluster runtimes */
    struct st_task *tasks;     /* pending lifecycle steps */
    struct st_meter *meter;    /* usage metering (meter.c) */
    double price_gb;           /* USD per GB (2^30 bytes) processed */
    double price_conn_hour;    /* USD per connection-hour */
    int64_t last_publish_ms;   /* when the last snapshot was published (epoch ms) */
    struct st_ctl_stats stats; /* API counters for /metrics */
    struct st_audit *audit;    /* authorization audit log (not owned), NULL = none */
    bool skip_authorization;   /* --insecure-skip-authorization */
    struct st_gw_limits limits; /* data-plane limits of every cluster's endpoints */
    struct {
        char *ca_cert, *ca_key; /* --endpoint-ca-cert / --endpoint-ca-key, NULL = DATA/tls */
        char *cert, *key;       /* --endpoint-cert / --endpoint-key */
        char *client_ca;        /* --endpoint-client-ca */
        char *principal_rules;  /* --endpoint-principal-mapping-rules */
        bool any;               /* one of them was given */
    } tls_files;                /* endpoint TLS files (gwauth.c) */
    char **super_users;         /* --kafka-super-users, NULL-terminated, NULL when none */
    size_t n_super_users;       /* their count */
    struct st_hs_pool *hs_pool; /* TLS handshake threads of the gateways (not owned), or NULL */
};

/* ---- core.c */

/* Rebuilds the snapshot from the store and publishes it. Call after every committed change. */
void st_ctl_changed(struct st_ctl *ctl);
/* Schedules a lifecycle step in `delay_ms`. */
void st_ctl_schedule(struct st_ctl *ctl, enum st_task_kind kind, const char *arn, int delay_ms);
/* Current time as ISO-8601 UTC with milliseconds ("2026-11-27T07:00:00.000Z"). */
void st_ctl_iso_now(char out[32]);
/* Formats epoch seconds the same way. */
void st_ctl_iso_time(int64_t t, char out[32]);
/* `n` random characters from `alphabet`, NUL-terminated (out has n+1 bytes). */
void st_ctl_random(char *out, size_t n, const char *alphabet);
/* A random UUID v4 (37 bytes). */
void st_ctl_uuid(char out[37]);
#define ST_ALNUM_UPPER "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

/* ---- runtime.c */

/* How a cluster's own in-VPC endpoints serve clients (from its ClientAuthentication and
 * EncryptionInfo, as MSK's listeners). */
enum st_own_mode {
    ST_OWN_PLAINTEXT,  /* only unauthenticated access, plaintext allowed (or not specified) */
    ST_OWN_TLS_UNAUTH, /* only unauthenticated access, encryption in transit TLS */
    ST_OWN_TLS_AUTH,   /* TLS with the enabled schemes (*scheme: st_gw_auth_scheme bits) */
    ST_OWN_CLOSED,     /* nothing enabled */
};
enum st_own_mode st_rt_own_mode(const json_t *rec, unsigned *scheme);

/* Starts (or restores) the runtime of cluster record `rec`. */
/*
 * strait's extension straitUpstreamSecurity of CreateClusterV2: {protocol, saslMechanism,
 * username, passwordFile, caFile, certFile, keyFile, verifyHostname}. Validates `spec` (reading
 * the password file and loading the TLS files) and, with `gw`, applies it to that gateway. With
 * `clean`, stores the recognised fields (never a password) as a new object there. Returns 0, or
 * -1 with *err (static text or text in `why`).
 */
int st_rt_upstream_security(const json_t *spec, struct st_gw_cluster *gw, json_t **clean, char *why,
                            size_t why_len, const char **err) __attribute__((warn_unused_result));
int st_rt_start(struct st_ctl *ctl, const json_t *rec, const char **err)
    __attribute__((warn_unused_result));
struct st_rt *st_rt_find(struct st_ctl *ctl, const char *arn);
/* Stops and forgets a cluster's runtime. */
void st_rt_stop(struct st_ctl *ctl, const char *arn);
/* Rebuilds the cluster's main gateway (its in-VPC endpoints, open when unauthenticated access is
 * on) and syncs the connection endpoints. Returns 0, or -1 with *err when an address cannot be
 * bound. */
int st_rt_rebuild(struct st_rt *rt, const char **err) __attribute__((warn_unused_result));
/* Opens a gateway per address of every AVAILABLE connection and closes the others, leaving
 * untouched endpoints (and their client connections) alone. Returns 0, or -1 with *err. */
int st_rt_sync(struct st_rt *rt, const char **err) __attribute__((warn_unused_result));
/*
 * Applies the security-group ingress rules of the current snapshot to every VPC-connection
 * endpoint: an endpoint address admits what the rules of the connections listening on it admit.
 */
void st_rt_apply_ingress(struct st_ctl *ctl);

/* Broker ids and their endpoint ports, ascending; returns the count (<= max). */
size_t st_rt_brokers(struct st_rt *rt, int *ids, int *ports, size_t max);
/* Runs one deferred step (core.c's timers call it). */
void st_rt_run_task(struct st_ctl *ctl, enum st_task_kind kind, const char *arn);

/* ---- api.c: one API request being served */
struct st_api {
    struct st_ctl *ctl;                     /* control plane */
    struct evhttp_request *req;             /* the request */
    struct st_route_match m;                /* route and decoded labels */
    struct st_query q;                      /* decoded query */
    json_t *body;                           /* parsed JSON object body, NULL if none */
    const struct st_snap_principal *caller; /* authenticated principal */
    char request_id[37];                    /* x-amzn-RequestId */
    bool answered;                          /* a reply was sent */
};

/* Replies 200 with `body` (stolen). */
void st_api_ok(struct st_api *a, json_t *body);
/* Replies `status` (e.g. 204) with an empty body. */
void st_api_status(struct st_api *a, int status);
/* Replies with an MSK error: `type` such as "BadRequestException" (status from the type),
 * `param` the wire member name or NULL, message printf-style. */
void st_api_error(struct st_api *a, const char *type, const char *param, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Authorizes `action` on `resource` for the caller with the identity policies plus
 * `resource_policy` (NULL = none). Replies ForbiddenException and returns -1 when denied. */
int st_api_authorize(struct st_api *a, const char *action, const char *resource,
                     const struct st_policy *resource_policy) __attribute__((warn_unused_result));

/* Starts the API listener on "ADDR:PORT". */
int st_api_start(struct st_ctl *ctl, const char *listen, const char *tls_cert, const char *tls_key,
                 const char **err) __attribute__((warn_unused_result));
/* Frees the API server and its TLS context. */
void st_api_stop(struct st_ctl *ctl);

/* Calls fn for every open VPC-connection endpoint gateway of the cluster. */
void st_rt_each_ep(struct st_rt *rt,
                   void (*fn)(void *arg, const char *cluster_arn, const char *addr,
                              const struct st_gw_cluster *gw),
                   void *arg);

/* ---- meter.c: usage metering and the usage report */

/* Starts metering (flush every flush_seconds, 0 = 60). Returns 0 or -1 with *err. */
int st_meter_init(struct st_ctl *ctl, int flush_seconds, const char **err)
    __attribute__((warn_unused_result));
/* Writes what is pending and frees the meter (shutdown: stop the runtimes first). */
void st_meter_free(struct st_ctl *ctl);
/* Records connection state changes of the current snapshot (core.c after each publish). */
void st_meter_states(struct st_ctl *ctl);
/* Takes the last sample of an endpoint gateway about to be freed (runtime.c). */
void st_meter_ep_closing(struct st_ctl *ctl, const char *cluster_arn, const char *addr,
                         const struct st_gw_cluster *gw);
/* Samples every endpoint gateway and writes the pending usage in one transaction. */
int st_meter_flush(struct st_ctl *ctl);
/* Flush counters for /metrics. */
void st_meter_stats(const struct st_ctl *ctl, uint64_t *flushes, uint64_t *errors,
                    int64_t *last_ms);
/* Wall clock in epoch milliseconds. */
int64_t st_meter_now_ms(void);
/* Epoch seconds or ISO-8601 UTC; 0 or -1. */
int st_usage_parse_time(const char *s, int64_t *out) __attribute__((warn_unused_result));
/* GET /strait/v1/usage (authenticated caller in a->caller). */
void st_usage_serve(struct st_api *a);

/* ---- ops.c */
void st_ops_dispatch(struct st_api *a);

/* ---- apply.c */
/* Serves the admin socket's control-plane paths (see st_ctl_admin_handle()). */
bool st_apply_admin(struct st_ctl *ctl, struct evhttp_request *req, const char *path);
/* Applies a declarative document; returns {"created": [...]} or NULL with *msg (malloc'd). */
json_t *st_ctl_apply(struct st_ctl *ctl, const json_t *doc, char **msg);
/* Replies `code` with `body` (stolen) as indented JSON: the admin socket's answer format. */
void st_ctl_admin_reply(struct evhttp_request *req, int code, json_t *body);

/* ---- acl.c */
/* Serves the admin socket's /v1/ctl/acls/ paths; false when `path` is not one of them. */
bool st_acl_admin(struct st_ctl *ctl, struct evhttp_request *req, const char *path);
/*
 * Parses Kafka's super.users syntax ("User:admin;User:ops": principals "Type:name" separated by
 * ';', blanks around them ignored). Returns 0 with a new NULL-terminated vector in *out
 * (st_ctl_super_users_free(); NULL when the list is empty) and its count, or -1 with *err.
 */
int st_ctl_super_users_parse(const char *spec, char ***out, size_t *n_out, const char **err)
    __attribute__((warn_unused_result));
void st_ctl_super_users_free(char **v);

#endif

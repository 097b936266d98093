/*
 * The control plane: the MSK-compatible REST API (SigV4-authenticated, authorized by the policy
 * engine), STS AssumeRole/GetCallerIdentity, the local IAM and network model, and the runtime of
 * the clusters it manages (embedded mock or external upstream, each behind its own gateway with
 * one endpoint per VPC-connection subnet). State lives in the store; the data plane receives
 * immutable snapshots (snapshot.h) through the publisher.
 *
 * Context: everything runs on the daemon's libevent loop thread.
 */
#ifndef ST_CTL_CTL_H
#define ST_CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>
#include <jansson.h>

struct evdns_base;
struct evhttp_request;
struct st_acl_binding;
struct st_acl_set;
struct st_ctl;
struct st_snapshot;
struct st_audit;
struct st_hs_pool;

/* Operator-supplied endpoint TLS files (NULL = the DATA/tls default of that file). */
struct st_ctl_tls_files {
    const char *ca_cert;         /* issuing CA certificate (PEM), with ca_key */
    const char *ca_key;          /* issuing CA private key (PEM) */
    const char *cert;            /* one certificate chain for every endpoint (PEM), with key */
    const char *key;             /* its private key (PEM) */
    const char *client_ca;       /* CA bundle client certificates must chain to (mutual TLS) */
    const char *principal_rules; /* Kafka ssl.principal.mapping.rules (a string, not a file) */
};

struct st_gw_limits;

struct st_ctl_config {
    struct event_base *base; /* the daemon's loop */
    struct evdns_base *dns;  /* resolver for upstream clusters */
    const char *data_dir;    /* store and per-cluster port maps live here */
    const char *api_listen;  /* "ADDR:PORT" for the MSK API (port 0 = any), NULL = no API */
    int port_min, port_max;  /* per-broker port range of VPC-connection endpoints */
    int max_skew;            /* SigV4 clock-skew window in seconds (0 = 300) */
    const char *tls_cert;    /* PEM certificate chain: serve the API over HTTPS (NULL = HTTP) */
    const char *tls_key;     /* PEM private key of tls_cert */
    int create_timeout;      /* seconds a new external-upstream cluster may stay CREATING (0=120) */
    double price_gb;         /* USD per GB (2^30 bytes) processed, < 0 = default 0.006 */
    double price_conn_hour;  /* USD per connection-hour, < 0 = default 0.0225 */
    int usage_flush_seconds; /* write metered usage this often (0 = 60) */
    bool skip_authorization; /* --insecure-skip-authorization: no data-plane authorization
                              * (development and benchmarks only) */
    const struct st_gw_limits *limits; /* data-plane limits of every cluster's endpoints
                                        * (copied), NULL = st_gw_limits_default() */
    const char *kafka_super_users;     /* Kafka super.users of every cluster ("User:a;User:b"), NULL
                                        * = none */
    struct st_ctl_tls_files tls_files; /* endpoint TLS files (all NULL = DATA/tls) */
    struct st_hs_pool *hs_pool;        /* TLS handshake threads for every cluster's endpoints
                                        * (home loop = base; must outlive the control plane),
                                        * NULL = handshakes on the loop */
};

/*
 * Opens the store, restores every cluster's runtime and pending lifecycle steps, and starts the
 * API listener. Returns a new control plane (st_ctl_free()) or NULL with *err.
 */
struct st_ctl *st_ctl_new(const struct st_ctl_config *cfg, const char **err)
    __attribute__((warn_unused_result));
void st_ctl_free(struct st_ctl *ctl);

/* "ADDR:PORT" the API listens on (the real port when 0 was asked), "" without an API. */
const char *st_ctl_api_address(const struct st_ctl *ctl);

/*
 * Serves an admin-socket request under /v1/ that belongs to the control plane (/v1/apply,
 * /v1/iam/..., /v1/ctl/...). Returns true when it answered the request, false when the path is
 * not the control plane's (the caller answers it).
 */
bool st_ctl_admin_handle(struct st_ctl *ctl, struct evhttp_request *req, const char *path);

/*
 * Called with a new reference to every snapshot published (after each committed change, and
 * once immediately with the current one). The callee owns the reference.
 */
typedef void (*st_ctl_publish_fn)(void *arg, struct st_snapshot *snap);
void st_ctl_set_publisher(struct st_ctl *ctl, st_ctl_publish_fn fn, void *arg);

/* Graceful stop: every cluster's endpoints stop accepting (see st_gw_cluster_drain()).
 * Returns the client connections still open; call again to poll. */
size_t st_ctl_drain(struct st_ctl *ctl);

/*
 * Re-reads the API's TLS certificate chain and key from the paths it was started with (SIGHUP);
 * new connections get the new certificate, established ones keep theirs. Returns 0 (also when the
 * API is plain HTTP) or -1 with *err, keeping the previous certificate.
 */
int st_ctl_reload_tls(struct st_ctl *ctl, const char **err) __attribute__((warn_unused_result));

/* Changes the usage prices (negative = keep). */
void st_ctl_set_prices(struct st_ctl *ctl, double per_gb, double per_conn_hour);

/*
 * Hands the control plane the authorization audit log writer (NULL = none) for the gateways it
 * runs to record decisions with (see authz/audit.h).
 * Ownership: not taken; the caller closes the writer after st_ctl_free().
 */
void st_ctl_set_audit(struct st_ctl *ctl, struct st_audit *a);

/* Writes pending metered usage now (SIGHUP, tests). Returns 0 or -1. */
int st_ctl_flush_usage(struct st_ctl *ctl);

/*
 * Appends the control plane's metrics in the Prometheus text format (version 0.0.4) to `out`
 * (an evbuffer): per cluster and endpoint the gateway counters, brokers, snapshot generation and
 * publish time, store write latency, API authentication/authorization counters, metering.
 * `legacy` (may be NULL) is straitd's --insecure-endpoint gateway, exported too.
 */
struct evbuffer;
struct st_gw_cluster;
void st_ctl_metrics(struct st_ctl *ctl, const struct st_gw_cluster *legacy, struct evbuffer *out);

/* Status of every managed cluster for the admin socket: [{clusterArn, name, state, brokers,
 * endpoints, connections}] (a new array). */
json_t *st_ctl_status(struct st_ctl *ctl);

/* The current snapshot (borrowed; take a reference to keep it). */
struct st_snapshot *st_ctl_snapshot(struct st_ctl *ctl);

/* ---- Kafka ACLs of a managed cluster (acl.c), for SASL/SCRAM and mTLS principals */

/*
 * Adds `n` bindings to cluster `cluster_arn` in one store transaction (exact duplicates of
 * stored bindings, or within `b`, are kept once) and, when something changed, publishes a new
 * snapshot before returning, so the data plane authorizes with them at once. Each binding is
 * checked with st_acl_binding_validate() first. Returns 0, or -1 with *err (static text) when
 * the cluster is unknown, a binding is invalid or the store fails; nothing is changed then.
 * Context: the loop thread (also from the gateway while it answers CreateAcls).
 */
int st_ctl_acl_create(struct st_ctl *ctl, const char *cluster_arn, const struct st_acl_binding *b,
                      size_t n, const char **err) __attribute__((warn_unused_result));
/*
 * Removes the stored bindings equal to those of `b` (absent ones are ignored) in one store
 * transaction, then publishes a new snapshot as above. `b` may point into the current set
 * (st_ctl_acl_current()): it is not read after the new snapshot replaces that set. Returns 0, or
 * -1 with *err when the cluster is unknown or the store fails.
 */
int st_ctl_acl_delete(struct st_ctl *ctl, const char *cluster_arn, const struct st_acl_binding *b,
                      size_t n, const char **err) __attribute__((warn_unused_result));
/*
 * The cluster's ACL set in the latest snapshot (borrowed: valid until the next published
 * snapshot, i.e. until the next change of the control plane's state), or NULL for an unknown
 * cluster. The super users are in the snapshot's st_snap_cluster.super_users.
 */
const struct st_acl_set *st_ctl_acl_current(struct st_ctl *ctl, const char *cluster_arn);

#endif

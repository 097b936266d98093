/*
 * Gateway internals shared by cluster.c, endpoint.c, conn.c and learner.c. Not for other layers:
 * they use gateway.h.
 */
#ifndef ST_GATEWAY_INTERNAL_H
#define ST_GATEWAY_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

#include "gateway/gateway.h"
#include "kafka/deny.h"
#include "kafka/proto.h"
#include "net/splice.h"
#include "util/buf.h"

struct evdns_getaddrinfo_request;
struct st_hs_pool;

/* One bound port of an endpoint: connections accepted here go to `node_id`. */
struct st_gw_listener {
    struct st_gw_endpoint *ep; /* owner */
    int32_t node_id;           /* broker this port stands for */
    int port;                  /* bound port */
    int fd;                    /* listening socket */
    struct event *ev;          /* accept event, added once the cluster is serving */
};

struct st_gw_endpoint {
    struct st_gw_cluster *cluster;       /* owner */
    char name[64];                       /* "insecure", or the VPC connection's name */
    char address[64];                    /* listen IP literal, also the advertised host */
    size_t address_len;                  /* strlen(address) */
    bool insecure;                       /* development endpoint: no authentication */
    struct st_gw_listener *listeners;    /* one per exposed node, owned */
    size_t n_listeners, cap_listeners;   /* used / allocated */
    struct st_gw_counters counters;      /* this endpoint's traffic */
    bool ingress_enforced;               /* security-group rules apply (VPC connections) */
    struct st_gw_ingress *ingress;       /* the rules, owned */
    size_t n_ingress;                    /* number of rules */
    struct ssl_ctx_st *tls;              /* TLS context (one reference), NULL = plaintext */
};

/* Periodic broker discovery: a tiny Kafka client (ApiVersions, then Metadata without topics). */
struct st_gw_learner {
    struct st_gw_cluster *cluster;           /* owner */
    int fd;                                  /* upstream socket, -1 when idle */
    struct event *rev, *wev, *timer;         /* socket events and the refresh/timeout timer */
    struct evdns_getaddrinfo_request *dns;   /* pending resolution */
    int state;                               /* LEARN_* in learner.c */
    struct st_buf out, in;                   /* request bytes to send, response bytes read */
    int16_t metadata_version;                /* chosen from the broker's ApiVersions */
    unsigned attempt;                        /* round-robin index over candidate addresses */
    char target[300];                        /* "host:port" being asked, for logs */
    bool refresh_pending;                    /* a refresh was requested while busy */
    struct st_gw_up *up;                     /* upstream TLS / SASL session, NULL = plaintext */
    char host[256];                          /* host being asked (TLS name verification) */
};

/* The authentication configuration of a cluster's endpoints (st_gw_cluster_set_auth()). */
struct st_gw_auth {
    unsigned scheme;                       /* enum st_gw_auth_scheme bits: mechanisms offered */
    char *cluster_arn;                     /* owned; "" when unset */
    char region[64];                       /* region signatures must be scoped to */
    const struct st_gw_auth_provider *ops; /* lookups, NULL when unset */
    void *ctx;                             /* one reference, released with ops->ctx_unref */
    struct st_dn_rules *dn_rules;          /* mTLS principal mapping, owned; NULL = DEFAULT */
    uint64_t version;                      /* increases with every st_gw_cluster_set_auth():
                                            * connections drop cached decisions on a change */
    struct st_audit *audit;                /* authorization audit log, NULL = none */
    bool no_authz;                         /* authorization turned off (development flag) */
};

/* Topic id -> name, learned from the Metadata responses strait forwards (authz.c). */
struct st_gw_topic_id {
    uint8_t id[16]; /* topic uuid */
    char *name;     /* owned topic name, NULL = free slot */
    size_t len;     /* bytes at name */
};

struct st_gw_cluster {
    struct event_base *base;            /* loop everything runs on */
    struct evdns_base *dns;             /* async resolver for upstream hosts */
    char name[64];                      /* cluster name for logs and status */
    char *bootstrap;                    /* owned "host:port,..." as configured */
    struct st_gw_node *nodes;           /* upstream view, owned */
    size_t n_nodes, cap_nodes;          /* used / allocated */
    struct st_portmap portmap;          /* persisted node -> port map */
    struct st_gw_limits limits;         /* data-plane limits */
    struct st_gw_endpoint **endpoints;  /* owned endpoints */
    size_t n_endpoints;                 /* count */
    struct st_conn *conns;              /* open connections (doubly linked) */
    struct st_gw_learner learner;       /* broker discovery */
    bool serving;                       /* first discovery done; listeners accept */
    void (*on_learned)(struct st_gw_cluster *, void *); /* first-discovery callback */
    void *on_learned_arg;               /* its argument */
    struct st_gw_counters counters;     /* cluster-wide traffic */
    int16_t (*broker_api)[3];           /* {key, min, max} from the brokers' ApiVersions, owned */
    size_t n_broker_api;                /* entries in broker_api */
    uint64_t next_conn_id;              /* connection ids for log prefixes */
    struct st_gw_auth auth;             /* how clients authenticate */
    struct st_gw_scheme_counters by_scheme[ST_GW_SCHEMES]; /* client traffic by auth scheme */
    struct st_gw_topic_id *topic_ids;   /* open-addressing table of topic ids, owned */
    size_t cap_topic_ids, n_topic_ids;  /* capacity (power of two) / used */
    struct st_gw_upsec *upsec;          /* upstream security (one reference), NULL = PLAINTEXT */
    struct st_pipe_pool pipes;          /* pipes for splice(2) passthrough */
    struct st_hs_pool *hs_pool;         /* handshake threads (not owned), NULL = on the loop */
};

/* cluster.c */
struct st_gw_node *st_gw_cluster_find_node(struct st_gw_cluster *c, int32_t id);
/*
 * Records a broker seen in a response and makes sure every endpoint has a port bound for it.
 * Returns 0, or -1 when the node could not be exposed (logged).
 */
int st_gw_cluster_observe(struct st_gw_cluster *c, const struct st_kbroker *b, bool authoritative);
/* Marks nodes not named by the last authoritative list (kept with their ports). */
void st_gw_cluster_mark_listed(struct st_gw_cluster *c, const int32_t *ids, size_t n);
/* Replaces the brokers' API version ranges (learner, from ApiVersions v0). */
void st_gw_cluster_set_broker_api(struct st_gw_cluster *c, const uint8_t *entries, size_t n);
/* The brokers' range for a key; false when unknown. */
bool st_gw_cluster_broker_range(const struct st_gw_cluster *c, int16_t key, int16_t *min,
                                int16_t *max);
/* Called by the learner after each successful discovery. */
void st_gw_cluster_learned(struct st_gw_cluster *c);

/* endpoint.c */
int st_gw_endpoint_expose(struct st_gw_endpoint *e, int32_t node_id, int port);
void st_gw_endpoint_enable(struct st_gw_endpoint *e);
void st_gw_endpoint_free(struct st_gw_endpoint *e);
/* Endpoint address for a node, for rewriting; -1 when this endpoint has no port for it. */
int st_gw_endpoint_map(struct st_gw_endpoint *e, int32_t node_id, const char **host,
                       size_t *host_len, int32_t *port);

/* upstream.c: strait's own TLS and SASL towards the brokers */
/* A cluster's upstream security, refcounted: sessions keep the one they started with. */
struct st_gw_upsec {
    unsigned refs;                   /* references (cluster + sessions) */
    enum st_gw_up_protocol protocol; /* never PLAINTEXT (that is upsec == NULL) */
    enum st_gw_up_mech mech;         /* SASL mechanism */
    char *username;                  /* SASL username, owned */
    char *password;                  /* SASL password, owned, wiped on free */
    size_t pw_len;                   /* bytes at password */
    struct ssl_ctx_st *tls;          /* client TLS context, NULL without TLS */
    bool verify_host;                /* broker certificates must name the advertised host */
};
struct st_gw_upsec *st_gw_upsec_ref(struct st_gw_upsec *s);
void st_gw_upsec_unref(struct st_gw_upsec *s);
/* The protocol includes SASL. */
bool st_gw_upsec_sasl(const struct st_gw_upsec *s);

/* What st_gw_up_step() needs next. */
enum {
    ST_GW_UP_FAILED = -1,    /* the session failed (reason written) */
    ST_GW_UP_DONE = 0,       /* authenticated (or TLS up): Kafka traffic may flow */
    ST_GW_UP_WANT_READ = 1,  /* call again when the socket is readable */
    ST_GW_UP_WANT_WRITE = 2, /* call again when the socket is writable */
};
struct st_gw_up;
/*
 * A session on connected socket `fd` to broker `host` with `sec` (takes its own reference).
 * Returns a new session (st_gw_up_free(); the socket is not closed) or NULL with *err.
 */
struct st_gw_up *st_gw_up_new(struct st_gw_upsec *sec, int fd, const char *host, const char **err);
void st_gw_up_free(struct st_gw_up *u);
/* Drives the TLS handshake and the SASL exchange. Returns ST_GW_UP_*; FAILED writes `why`. */
int st_gw_up_step(struct st_gw_up *u, char *why, size_t why_len);
/* Kafka bytes once done: bytes, 0 on EOF, -1 on error, -2 would block. */
ssize_t st_gw_up_read(struct st_gw_up *u, void *buf, size_t n);
ssize_t st_gw_up_write(struct st_gw_up *u, const void *buf, size_t n);
/* Why the last TLS read or write failed (OpenSSL's reason, e.g. a broker's alert), "" if none. */
const char *st_gw_up_error(const struct st_gw_up *u);
/* Decrypted bytes TLS holds that no socket event will announce. */
size_t st_gw_up_pending(const struct st_gw_up *u);
/* True (once) when the last read would block until the socket is writable (TLS). */
bool st_gw_up_take_read_wants_write(struct st_gw_up *u);
/* KIP-368: the broker's session lifetime is 85% spent; re-authenticate before more requests. */
bool st_gw_up_reauth_due(const struct st_gw_up *u, int64_t now_ms);
/* Starts the SASL exchange again on the open session (then drive with st_gw_up_step()). */
int st_gw_up_reauth(struct st_gw_up *u) __attribute__((warn_unused_result));

/* conn.c */
void st_conn_accept(struct st_gw_listener *l, int fd);
/* The one close path of a connection; `why` is counted (closed_by_reason), `reason` logged. */
void st_conn_close(struct st_conn *conn, enum st_gw_close_reason why, const char *reason);

/* sasl.c: SASL termination (one st_sasl per connection on an authenticated endpoint) */
struct st_sasl;
/* What st_sasl_request() does with the connection after it returns. */
enum st_sasl_verdict {
    ST_SASL_REPLY, /* answer `out` and go on */
    ST_SASL_DONE,  /* answer `out`; the connection is now authenticated */
    ST_SASL_FAIL,  /* answer `out` after the failure delay, then close (reason set) */
    ST_SASL_CLOSE, /* close without an answer (reason set) */
};
/* The connection a SASL request arrived on. */
struct st_sasl_env {
    struct st_gw_cluster *cluster; /* auth configuration, limits and counters */
    struct st_gw_endpoint *ep;     /* endpoint counters */
    const char *host;              /* endpoint host the client dialled (AWS_MSK_IAM host) */
    const char *peer;              /* "ip:port" for logs */
    const char *peer_ip;           /* source address for rate limiting */
    uint64_t conn_id;              /* for logs */
    char *reason;                  /* out: why the connection closes or failed (no secrets) */
    size_t reason_len;             /* its size */
};
struct st_sasl *st_sasl_new(void);
void st_sasl_free(struct st_sasl *s);
/*
 * Handles one SaslHandshake or SaslAuthenticate request (`body` = the request body after the
 * header, whole) and appends the whole response frame to `out`.
 */
enum st_sasl_verdict st_sasl_request(struct st_sasl *s, const struct st_sasl_env *env,
                                     const struct st_kreq_hdr *h, const uint8_t *body, size_t len,
                                     struct st_buf *out);
/* No handshake yet (ApiVersions may still come). */
bool st_sasl_pre_handshake(const struct st_sasl *s);
/* A mechanism exchange is in progress: only SaslAuthenticate is acceptable. */
bool st_sasl_in_exchange(const struct st_sasl *s);
/* The authenticated session has expired and no re-authentication is in progress. */
bool st_sasl_expired(const struct st_sasl *s, int64_t now_mono_ms); /* st_mono_ms() */
/* The authenticated principal, "" before authentication. */
const char *st_sasl_principal(const struct st_sasl *s);
/* The session authenticated with an IAM mechanism (AWS_MSK_IAM or OAUTHBEARER). */
bool st_sasl_is_iam(const struct st_sasl *s);
/*
 * Rewrites an ApiVersions response body (layout of `version`; v0 for UNSUPPORTED_VERSION) so it
 * advertises strait's own SaslHandshake 0-1 and SaslAuthenticate 0-2, added when the brokers'
 * list lacks them. Appends the new body to `out`. Returns 0, or -1 when the body is malformed.
 */
int st_sasl_patch_apiversions(int16_t version, const uint8_t *body, size_t len, struct st_buf *out)
    __attribute__((warn_unused_result));

/* authz.c: data-plane authorization of an authenticated connection's requests */
struct st_authz_conn;
/* Where a request is decided. */
struct st_authz_env {
    struct st_gw_cluster *cluster; /* auth configuration (provider, version, audit), counters */
    struct st_gw_endpoint *ep;     /* endpoint the client came in on */
    int port;                      /* endpoint port it dialled */
    uint64_t conn_id;              /* for logs and the audit log */
    const char *peer;              /* client "ip:port" */
    const char *peer_ip;           /* client address */
    bool tls;                      /* TLS connection */
    bool tls_principal;            /* principal from a client certificate (mutual TLS) */
};
/* What a request needs on its way back (owned by the pending entry). */
struct st_authz_pending {
    uint8_t *orig;                /* original request body when entries were stripped, owned */
    size_t orig_len;              /* bytes at orig */
    struct st_kdenial *denials;   /* the stripped entries (pointing into orig), owned */
    size_t n_denials;             /* entries in denials */
    uint8_t filter_type;          /* enum st_kres_type of response entries to filter */
    uint8_t filter_op;            /* enum st_kop they need; 0 = no filtering */
    bool ops_fix;                 /* *AuthorizedOperations fields to compute for the principal */
};
enum st_authz_verdict {
    ST_AUTHZ_FORWARD,        /* forward unchanged */
    ST_AUTHZ_FORWARD_FILTER, /* forward unchanged; filter the response (pending says how) */
    ST_AUTHZ_REWRITE,        /* forward `out` as the new body; merge denials into the response */
    ST_AUTHZ_ANSWER,         /* answer `out` (a response body) without going upstream */
    ST_AUTHZ_DROP,           /* drop silently (acks=0 Produce refused entirely) */
    ST_AUTHZ_ERROR,          /* malformed or not authorizable: close with *err */
};
/* Records the (id, name) pairs of a Metadata response body so requests that name topics by id
 * (Fetch v13+, Produce v13) can be authorized by name. Failures only lose the mapping. */
void st_gw_topic_ids_learn(struct st_gw_cluster *c, int16_t api_version, const uint8_t *body,
                           size_t len);
/* The name of a topic id, NULL when unknown (*len set otherwise). */
const char *st_gw_topic_ids_name(const struct st_gw_cluster *c, const uint8_t *id, size_t *len);
/* Frees the table. */
void st_gw_topic_ids_free(struct st_gw_cluster *c);
/* A connection's authorization state for `principal` (IAM ARN or "User:name"); NULL on OOM. */
struct st_authz_conn *st_authz_conn_new(const char *principal, bool iam);
void st_authz_conn_free(struct st_authz_conn *a);
const char *st_authz_conn_principal(const struct st_authz_conn *a);
void st_authz_pending_clear(struct st_authz_pending *p);
/*
 * Decides every resource of one request body (whole, after the header). On REWRITE `pend`
 * holds what the response merge needs (caller owns it); `out` is reset and filled on
 * REWRITE/ANSWER.
 */
enum st_authz_verdict st_authz_request(struct st_authz_conn *a, const struct st_authz_env *env,
                                       const struct st_kreq_hdr *h, const uint8_t *body,
                                       size_t len, struct st_buf *out,
                                       struct st_authz_pending *pend, const char **err);
/*
 * Applies `pend` to a response body: merges the denials, or filters the entries the principal
 * may not see. Sets *changed and fills `out` (reset first) when the body changes.
 * Returns 0, or -1 with *err.
 */
int st_authz_response(struct st_authz_conn *a, const struct st_authz_env *env, int16_t api_key,
                      int16_t api_version, const struct st_authz_pending *pend,
                      const uint8_t *body, size_t len, struct st_buf *out, bool *changed,
                      const char **err) __attribute__((warn_unused_result));
/*
 * Rewrites an ApiVersions response body (layout of `version`) for an authorizing endpoint: keys
 * and versions strait cannot authorize precisely are removed (fail closed), the ACL keys strait
 * answers itself are added with strait's ranges. Appends to `out`. Returns 0 or -1 (malformed).
 */
int st_authz_patch_apiversions(int16_t version, const uint8_t *body, size_t len,
                               struct st_buf *out) __attribute__((warn_unused_result));

/* learner.c */
void st_gw_learner_init(struct st_gw_learner *l, struct st_gw_cluster *c);
void st_gw_learner_start(struct st_gw_learner *l);
/* Asks for a discovery round as soon as possible (e.g. a client named an unknown node). */
void st_gw_learner_poke(struct st_gw_learner *l);
void st_gw_learner_stop(struct st_gw_learner *l);

#endif

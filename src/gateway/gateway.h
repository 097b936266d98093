/*
 * The Kafka endpoint gateway: one upstream cluster exposed on one or more endpoints (an address
 * plus one port per broker). Data flows one way through it:
 *
 *   client --> endpoint port P --> st_conn --(node_of(P))--> upstream broker
 *   client <-- rewritten response <-- st_conn <-- upstream broker
 *
 * st_gw_cluster owns the upstream view (node id -> upstream address), the persisted node->port
 * map, the endpoints and the metadata learner. Brokers named in any response are observed first,
 * so a new broker's port is bound on every endpoint before the response naming it is forwarded.
 *
 * Context: everything here runs on one libevent loop thread; nothing is locked. The one exception
 * is a TLS endpoint's handshake, which may run on a handshake thread (net/handshake.h) while the
 * loop leaves that connection's socket and SSL alone.
 */
#ifndef ST_GATEWAY_GATEWAY_H
#define ST_GATEWAY_GATEWAY_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "auth/scram.h"
#include "auth/sigv4.h"
#include "gateway/portmap.h"
#include "kafka/resources.h"
#include "util/buf.h"

struct evdns_base;
struct st_gw_cluster;
struct st_gw_endpoint;
struct st_conn;

/* Limits and timings of a cluster's data plane; st_gw_limits_default() fills sane values. */
struct st_gw_limits {
    uint32_t max_request_bytes;    /* largest client frame after authentication */
    uint32_t max_preauth_bytes;    /* largest client frame before authentication */
    uint32_t max_response_bytes;   /* largest upstream frame */
    uint32_t buffer_high_water;    /* stop reading a side when this many bytes wait to be sent */
    uint32_t max_inflight;         /* pipelined requests per connection before reads pause */
    uint32_t connect_timeout_ms;   /* upstream connect timeout */
    uint32_t auth_timeout_ms;      /* a client not authenticated this long after accept is closed */
    uint32_t metadata_refresh_ms;  /* periodic broker discovery interval */
    uint32_t auth_fail_delay_ms;   /* delay before a failed authentication is answered */
    uint32_t auth_fail_limit;      /* failed authentications per source address per window */
    uint32_t auth_fail_window_ms;  /* window of auth_fail_limit */
    int64_t max_session_ms;        /* longest SASL session before re-authentication, 0 = none */
    bool no_splice;                /* never splice(2) passthrough bytes (read/write them) */
};
void st_gw_limits_default(struct st_gw_limits *l);

/* API keys counted one by one in st_gw_counters.api (every key Kafka defines today). */
#define ST_GW_API_KEYS 96
/* Latency histogram buckets (upper bounds in st_gw_latency_bounds, seconds). */
#define ST_GW_LAT_BUCKETS 16
extern const double st_gw_latency_bounds[ST_GW_LAT_BUCKETS];

/* A latency histogram: per-bucket counts (not cumulative), the rest above the last bound. */
struct st_gw_hist {
    uint64_t bucket[ST_GW_LAT_BUCKETS]; /* observations <= bound i (and > bound i-1) */
    uint64_t over;                      /* observations above the last bound */
    uint64_t count;                     /* all observations */
    uint64_t sum_ns;                    /* their sum, nanoseconds */
};
/* Records one observation of `ns` nanoseconds. */
/* The bucket of an observation of `ns` (ST_GW_LAT_BUCKETS = above the last bound), found once
 * and then put into every histogram that counts it. */
size_t st_gw_hist_bucket(uint64_t ns);
void st_gw_hist_put(struct st_gw_hist *h, size_t bucket, uint64_t ns);

/* Requests of one API key. */
struct st_gw_api_counters {
    uint64_t requests;  /* requests received (answered by strait or forwarded) */
    uint64_t bytes_in;  /* request frame bytes from clients */
    uint64_t bytes_out; /* response frame bytes to clients */
};

/* SASL mechanisms (and mutual TLS) counted by st_gw_counters.auth_by_mech. */
enum st_gw_mech {
    ST_GW_MECH_NONE = 0, /* failed before a mechanism was chosen */
    ST_GW_MECH_AWS_MSK_IAM,
    ST_GW_MECH_OAUTHBEARER,
    ST_GW_MECH_SCRAM_SHA_256,
    ST_GW_MECH_SCRAM_SHA_512,
    ST_GW_MECH_MTLS,
    ST_GW_MECHS,
};
const char *st_gw_mech_name(int mech);

/* Authorization actions counted by st_gw_counters.authz_by_action: the kafka-cluster actions,
 * then the Kafka ACL operations, then "other". */
#define ST_GW_AUTHZ_ACTIONS 30
const char *st_gw_authz_action_name(int i);
/* Index of an action name ("kafka-cluster:WriteData", "WRITE"); the last index when unknown. */
int st_gw_authz_action_index(const char *action);

/*
 * Why a client connection was closed, counted by st_gw_counters.closed_by_reason (bounded: the
 * metric's reason label). The close path (st_conn_close() in conn.c) names the category; a close
 * that names none is counted as OTHER, and the export derives "other" as conns_closed minus the
 * named ones, so the reasons always add up to conns_closed.
 */
enum st_gw_close_reason {
    ST_GW_CLOSE_OTHER = 0,            /* idle, internal (out of memory) or not categorized */
    ST_GW_CLOSE_CLIENT_CLOSED,        /* the client closed or reset its side, or a write failed */
    ST_GW_CLOSE_UPSTREAM_CLOSED,      /* the broker closed the connection */
    ST_GW_CLOSE_UPSTREAM_UNREACHABLE, /* resolving, connecting to or finding the broker failed */
    ST_GW_CLOSE_PROTOCOL_ERROR,       /* malformed/unsupported frames from client or broker, TLS */
    ST_GW_CLOSE_AUTH_FAILED,          /* SASL or mutual TLS authentication failed */
    ST_GW_CLOSE_SESSION_EXPIRED,      /* the SASL session expired without re-authentication */
    ST_GW_CLOSE_AUTHZ_REFUSED,        /* kafka-cluster:Connect denied, or a request refused */
    ST_GW_CLOSE_SHUTDOWN,             /* the gateway stopped (drain, reconfiguration, exit) */
    ST_GW_CLOSE_REASONS,
};
/* The label value of a close reason ("client_closed", ...; "other" when out of range). */
const char *st_gw_close_reason_name(int reason);

/* Byte and connection counters (monotonic). */
struct st_gw_counters {
    uint64_t bytes_from_clients;  /* bytes received from clients */
    uint64_t bytes_to_clients;    /* bytes sent to clients */
    uint64_t bytes_to_upstream;   /* bytes sent to brokers */
    uint64_t bytes_from_upstream; /* bytes received from brokers */
    uint64_t bytes_spliced;       /* of the bytes sent, those moved socket to socket by splice */
    uint64_t conns_accepted;      /* client connections accepted */
    uint64_t conns_refused;       /* client connections refused by ingress rules */
    uint64_t conns_closed;        /* client connections closed, any reason */
    uint64_t conns_current;       /* open client connections */
    uint64_t requests;            /* client requests forwarded or answered */
    uint64_t protocol_errors;     /* connections closed for malformed or unsupported frames */
    uint64_t responses_rewritten; /* responses whose broker addresses were rewritten */
    uint64_t auth_ok;             /* successful SASL authentications (re-authentications too) */
    uint64_t auth_failed;         /* failed SASL authentications */
    uint64_t auth_throttled;      /* attempts refused by the per-address failure limit */
    uint64_t auth_denied;         /* authenticated but denied kafka-cluster:Connect */
    uint64_t sessions_expired;    /* connections closed because their SASL session expired */
    uint64_t authz_allowed;       /* resource entries allowed (cache hits included) */
    uint64_t authz_denied;        /* resource entries denied */
    uint64_t authz_evaluations;   /* decisions computed (cache misses) */
    uint64_t requests_denied;     /* requests answered entirely by strait with denials */
    uint64_t requests_partial;    /* requests forwarded with some entries stripped */
    struct st_gw_api_counters api[ST_GW_API_KEYS]; /* requests and bytes by API key */
    struct st_gw_hist lat_gateway;  /* time strait spent on a request and its response */
    struct st_gw_hist lat_upstream; /* request forwarded -> response from the broker */
    uint64_t auth_by_mech[ST_GW_MECHS][2]; /* [mechanism][0 success, 1 failure] */
    uint64_t authz_by_action[ST_GW_AUTHZ_ACTIONS][2]; /* [action][0 allowed, 1 denied] */
    uint64_t closed_by_reason[ST_GW_CLOSE_REASONS];   /* closes by enum st_gw_close_reason */
};

/* One upstream broker as last seen. */
struct st_gw_node {
    int32_t id;          /* Kafka node id */
    char host[256];      /* upstream host as the cluster advertises it */
    int32_t port;        /* upstream port */
    char rack[64];       /* rack, "" when none */
    bool listed;         /* present in the last authoritative broker list */
};

/*
 * Creates a cluster view for upstream `bootstrap` ("host:port,host:port"), persisting its
 * node->port map at `portmap_path` within [port_min, port_max].
 * Returns a new cluster (free with st_gw_cluster_free()) or NULL with *err set.
 */
struct st_gw_cluster *st_gw_cluster_new(struct event_base *base, struct evdns_base *dns,
                                        const char *name, const char *bootstrap,
                                        const char *portmap_path, int port_min, int port_max,
                                        const struct st_gw_limits *limits, const char **err);
void st_gw_cluster_free(struct st_gw_cluster *c);

/*
 * Adds a plaintext endpoint listening on `address` (an IP literal). Listeners are bound for every
 * known node immediately and for new nodes as they appear; connections are served once the
 * cluster has learned its brokers. `insecure` marks the development endpoint (no authentication).
 * Returns the endpoint (owned by the cluster) or NULL with *err.
 */
struct st_gw_endpoint *st_gw_endpoint_add(struct st_gw_cluster *c, const char *name,
                                          const char *address, bool insecure, const char **err);

/* One security-group ingress rule: TCP from an address block to a range of endpoint ports. */
struct st_gw_ingress {
    int family;           /* AF_INET or AF_INET6 */
    uint8_t addr[16];     /* network address (4 bytes used for IPv4) */
    int prefix;           /* prefix length in bits */
    int port_lo, port_hi; /* destination (endpoint) port range, inclusive */
};

/*
 * Parses "10.0.0.0/16" or "::/0" with a port range into a rule. Returns 0, or -1 with *err when
 * the CIDR is malformed.
 */
int st_gw_ingress_parse(const char *cidr, int port_lo, int port_hi, struct st_gw_ingress *out,
                        const char **err);

/* True when rule `r` covers source `addr` (4 or 16 bytes, per `family`) dialling `port`. */
bool st_gw_ingress_match(const struct st_gw_ingress *r, int family, const uint8_t *addr, int port);

/*
 * Makes the endpoint enforce security-group ingress: from now on a client is accepted only when
 * one rule covers its source address and the endpoint port it dialled (n = 0: nobody may
 * connect). Copies `rules`. Connections already open are not affected, as with security groups.
 * Returns 0 or -1 (out of memory; previous rules kept).
 */
int st_gw_endpoint_set_ingress(struct st_gw_endpoint *e, const struct st_gw_ingress *rules,
                               size_t n);

/*
 * How clients of a cluster's (non-insecure) endpoints authenticate: a set of schemes (an
 * endpoint address shared by VPC connections of different schemes offers all of them).
 */
enum st_gw_auth_scheme {
    ST_GW_AUTH_NONE = 0,       /* none configured: nothing but ApiVersions is served */
    ST_GW_AUTH_SASL_IAM = 1,   /* AWS_MSK_IAM and OAUTHBEARER (MSK IAM tokens) */
    ST_GW_AUTH_SASL_SCRAM = 2, /* SCRAM-SHA-512 and SCRAM-SHA-256 */
    ST_GW_AUTH_TLS = 4,        /* mutual TLS: a verified client certificate authenticates */
};

/* One authorization question: may `principal` do `op` on a resource of a request? */
struct st_gw_authz_req {
    const char *principal;   /* IAM ARN (iam) or Kafka principal "User:name" */
    bool iam;                /* authenticated with SASL IAM: IAM policies decide, else Kafka ACLs */
    const char *cluster_arn; /* cluster the endpoint belongs to */
    const char *source_ip;   /* client address (aws:SourceIp, ACL host) */
    const char *endpoint;    /* endpoint address the client dialled (finds the VPC connection) */
    bool tls;                /* the connection is TLS (aws:SecureTransport) */
    enum st_kres_type type;  /* resource type */
    enum st_kop op;          /* Kafka ACL operation the request needs */
    const uint8_t *name;     /* resource name bytes (not NUL-terminated), NULL for the cluster */
    size_t name_len;         /* bytes at name */
};

/* The answer, with what the audit log records. */
struct st_gw_authz_res {
    bool allowed;             /* decision */
    char action[64];          /* "kafka-cluster:WriteData" (IAM) or "WRITE" (ACL) */
    char resource[512];       /* resource ARN (IAM) or "TOPIC:orders" (ACL) */
    char reason[320];         /* deciding statement or binding, or why nothing allowed */
    char vpc_connection[320]; /* VPC connection ARN the client came through, "" when unknown */
};

/*
 * What the data plane asks the control plane while authenticating, answered from an immutable,
 * refcounted context (the control plane's snapshot). Every callback runs synchronously on the
 * loop and must not block. An IAM principal is an opaque pointer into the context, valid while
 * the context is referenced.
 */
struct st_gw_auth_provider {
    /* SigV4 secret lookup by access key id (out->principal = the opaque principal). */
    st_sigv4_lookup_fn sigv4_lookup;
    /* The ARN of a principal (never NULL). */
    const char *(*principal_arn)(void *ctx, const void *principal);
    /* When the principal's credential expires (epoch seconds), 0 = never. */
    int64_t (*principal_expiry)(void *ctx, const void *principal);
    /*
     * kafka-cluster:Connect on `rq->cluster_arn` for `principal` (identity policies, and the
     * cluster policy for another account), with the same condition keys as every later request
     * (rq: source_ip, endpoint, tls; the principal is the opaque one, rq->principal unused).
     * Returns 0 when allowed, else -1 with a reason in `why`.
     */
    int (*authorize_connect)(void *ctx, const void *principal, const struct st_gw_authz_req *rq,
                             char *why, size_t why_len);
    /* The SCRAM credential of `username` on `cluster_arn` for `mech`; 0, or -1 when unknown. */
    int (*scram_lookup)(void *ctx, const char *cluster_arn, enum st_scram_mech mech,
                        const char *username, struct st_scram_cred *out);
    /* Releases one reference to a context. */
    void (*ctx_unref)(void *ctx);
    /*
     * Decides one resource entry of a request of an authenticated client (IAM policies for IAM
     * principals, Kafka ACLs for the others) and describes the decision for the audit log.
     * Returns 0 (out filled), or -1 when the question cannot be answered (treated as denied).
     */
    int (*authorize)(void *ctx, const struct st_gw_authz_req *rq, struct st_gw_authz_res *out);
    /*
     * Answers a CreateAcls, DescribeAcls or DeleteAcls request body of `cluster_arn` (the caller
     * already checked ALTER / DESCRIBE on the cluster): appends the response body to `out`.
     * Returns 0, or -1 with *err when the body is malformed (the connection is closed).
     */
    int (*acl_answer)(void *ctx, const char *cluster_arn, int16_t api_key, int16_t api_version,
                      const uint8_t *body, size_t len, struct st_buf *out, const char **err);
};

/*
 * Sets how clients of the cluster's non-insecure endpoints authenticate: `scheme` (a set of
 * enum st_gw_auth_scheme bits), the cluster
 * (`cluster_arn`, for Connect authorization and SCRAM credentials), the `region` signatures must
 * be scoped to, and the provider with its context. Takes over one reference to `ctx` (released
 * with ops->ctx_unref when replaced or when the cluster is freed); `ops` must outlive the
 * cluster. Every SASL round started afterwards uses the new context. Returns 0 or -1 (OOM; the
 * reference is released).
 */
int st_gw_cluster_set_auth(struct st_gw_cluster *c, unsigned scheme,
                           const char *cluster_arn, const char *region,
                           const struct st_gw_auth_provider *ops, void *ctx)
    __attribute__((warn_unused_result));

/*
 * Sets Kafka's ssl.principal.mapping.rules for mutual-TLS principals of the cluster's endpoints
 * (`spec` as Kafka writes it, e.g. "RULE:^CN=(.*?),.*$/$1/L,DEFAULT"; NULL = DEFAULT). Applies to
 * connections that finish their handshake afterwards. Returns 0, or -1 with *err (rules kept).
 */
int st_gw_cluster_set_principal_rules(struct st_gw_cluster *c, const char *spec, const char **err)
    __attribute__((warn_unused_result));

/* How strait itself connects to a cluster's brokers (Kafka's security.protocol). */
enum st_gw_up_protocol {
    ST_GW_UP_PLAINTEXT = 0,  /* plain TCP (the default, and the embedded cluster) */
    ST_GW_UP_SSL,            /* TLS */
    ST_GW_UP_SASL_PLAINTEXT, /* SASL over plain TCP */
    ST_GW_UP_SASL_SSL,       /* SASL over TLS */
};

/* SASL mechanisms strait authenticates to brokers with. */
enum st_gw_up_mech {
    ST_GW_UP_PLAIN = 0,     /* PLAIN (RFC 4616) */
    ST_GW_UP_SCRAM_SHA_256, /* SCRAM-SHA-256 (RFC 7677) */
    ST_GW_UP_SCRAM_SHA_512, /* SCRAM-SHA-512 */
};

/* Upstream security of a cluster: what strait presents to the brokers. */
struct st_gw_upstream_security {
    enum st_gw_up_protocol protocol; /* PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL */
    enum st_gw_up_mech mechanism;    /* SASL mechanism (SASL_* protocols) */
    const char *username;            /* SASL username */
    const char *password;            /* SASL password (never logged) */
    const char *ca_file;             /* PEM CA bundle for broker certificates, NULL = system */
    const char *cert_file;           /* client certificate chain (mTLS to brokers), NULL = none */
    const char *key_file;            /* its private key */
    bool verify_hostname;            /* the certificate must name the host the broker advertises */
};

/* Parses "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" (any case). Returns 0 or -1. */
int st_gw_up_protocol_parse(const char *s, enum st_gw_up_protocol *out)
    __attribute__((warn_unused_result));
const char *st_gw_up_protocol_name(enum st_gw_up_protocol p);
/* Parses "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" (any case). Returns 0 or -1. */
int st_gw_up_mech_parse(const char *s, enum st_gw_up_mech *out) __attribute__((warn_unused_result));
const char *st_gw_up_mech_name(enum st_gw_up_mech m);

/*
 * Reads a SASL password from `path`: the whole file without one trailing newline (at most 1024
 * bytes, no NUL). Returns a new string (caller wipes and frees with st_gw_secret_free()) or NULL
 * with *err. The password is never logged.
 */
char *st_gw_password_file_read(const char *path, const char **err)
    __attribute__((warn_unused_result));
/* Wipes and frees a string from st_gw_password_file_read(). NULL is fine. */
void st_gw_secret_free(char *s);

/*
 * Sets how strait connects to the cluster's brokers (client connections and broker discovery).
 * Copies everything (the password is wiped when replaced or freed); loads the CA and client
 * certificate now, so a bad file is reported here. NULL = PLAINTEXT. Applies to upstream
 * connections opened afterwards. Returns 0, or -1 with *err (previous setting kept).
 */
int st_gw_cluster_set_upstream_security(struct st_gw_cluster *c,
                                        const struct st_gw_upstream_security *sec, const char **err)
    __attribute__((warn_unused_result));

struct ssl_ctx_st;
/*
 * Makes the endpoint TLS: connections accepted from now on handshake with `ctx` (an SSL_CTX; the
 * endpoint takes its own reference, NULL = plaintext again). Connections already open keep the
 * context they started with, so replacing it (certificate reload) never disturbs them.
 * Returns 0 or -1.
 */
int st_gw_endpoint_set_tls(struct st_gw_endpoint *e, struct ssl_ctx_st *ctx)
    __attribute__((warn_unused_result));

struct st_hs_pool;
/*
 * Runs the TLS handshakes of connections accepted from now on on `pool`'s worker threads
 * (net/handshake.h) instead of on the loop; NULL = on the loop. The pool's home loop must be the
 * cluster's (-1 otherwise, nothing changed) and the pool must outlive the cluster. While a
 * connection's handshake is in a worker the loop leaves its socket alone; closing it (shutdown,
 * rebuild) takes the job back first. Returns 0 or -1.
 */
int st_gw_cluster_set_handshake_pool(struct st_gw_cluster *c, struct st_hs_pool *pool)
    __attribute__((warn_unused_result));

struct st_audit;
/*
 * Makes the cluster's endpoints record authorization decisions in `a` (denials, and every
 * decision when the writer says so); NULL = no audit log. The writer must outlive the cluster.
 */
void st_gw_cluster_set_audit(struct st_gw_cluster *c, struct st_audit *a);

/*
 * Turns data-plane authorization of authenticated clients on (the default) or off (only for
 * straitd --insecure-skip-authorization). Applies to connections authenticating afterwards.
 */
void st_gw_cluster_set_authorization(struct st_gw_cluster *c, bool on);

/*
 * Starts broker discovery: an eager metadata fetch now, then one every metadata_refresh_ms.
 * `on_learned` is called once, after the first successful fetch has bound every broker's port.
 */
void st_gw_cluster_start(struct st_gw_cluster *c, void (*on_learned)(struct st_gw_cluster *, void *),
                         void *arg);

/* Closes every connection and listener (shutdown). */
void st_gw_cluster_shutdown(struct st_gw_cluster *c);

/* Read-only views for status reporting. */
const char *st_gw_cluster_name(const struct st_gw_cluster *c);
const char *st_gw_cluster_bootstrap(const struct st_gw_cluster *c);
size_t st_gw_cluster_node_count(const struct st_gw_cluster *c);
const struct st_gw_node *st_gw_cluster_node(const struct st_gw_cluster *c, size_t i);
const struct st_gw_counters *st_gw_cluster_counters(const struct st_gw_cluster *c);

/*
 * What the gateway's client connections carried, by the scheme they authenticated with, so two
 * VPC connections of different schemes sharing an endpoint address are metered apart. A
 * connection's bytes and requests are added when it authenticates (and from then on); what a
 * connection carried without authenticating lands in ST_GW_SCHEME_NONE when it closes.
 */
enum st_gw_scheme_ix {
    ST_GW_SCHEME_IAM = 0,   /* SASL_IAM (AWS_MSK_IAM, OAUTHBEARER) */
    ST_GW_SCHEME_SCRAM = 1, /* SASL_SCRAM */
    ST_GW_SCHEME_TLS = 2,   /* mutual TLS */
    ST_GW_SCHEME_NONE = 3,  /* not authenticated (development endpoint, failed authentication) */
    ST_GW_SCHEMES = 4,
};
struct st_gw_scheme_counters {
    uint64_t bytes_from_clients;     /* bytes received from clients */
    uint64_t bytes_to_clients;       /* bytes sent to clients */
    uint64_t requests;               /* client requests */
    uint64_t api[ST_GW_API_KEYS];    /* client requests by API key */
};
const struct st_gw_scheme_counters *st_gw_cluster_scheme_counters(const struct st_gw_cluster *c,
                                                                  enum st_gw_scheme_ix s);
/* "SASL_IAM", "SASL_SCRAM", "TLS", NULL for ST_GW_SCHEME_NONE. */
const char *st_gw_scheme_ix_name(enum st_gw_scheme_ix s);
const struct st_portmap *st_gw_cluster_portmap(const struct st_gw_cluster *c);
size_t st_gw_cluster_endpoint_count(const struct st_gw_cluster *c);
struct st_gw_endpoint *st_gw_cluster_endpoint(const struct st_gw_cluster *c, size_t i);
const char *st_gw_endpoint_name(const struct st_gw_endpoint *e);
const char *st_gw_endpoint_address(const struct st_gw_endpoint *e);
const struct st_gw_counters *st_gw_endpoint_counters(const struct st_gw_endpoint *e);
/* The port this endpoint listens on for a node, or -1 when it has none bound (yet). */
int st_gw_endpoint_port(const struct st_gw_endpoint *e, int32_t node_id);

/*
 * Graceful stop (drain.c): stops accepting on every endpoint of the cluster and stops broker
 * discovery; open connections are left to finish (st_gw_cluster_shutdown() closes them).
 * Returns the number of client connections still open.
 */
size_t st_gw_cluster_drain(struct st_gw_cluster *c);

#endif

/*
 * Cluster view: the upstream brokers as last seen, the node -> port map, and the endpoints that
 * expose them. Every broker named by any response passes through st_gw_cluster_observe() before
 * the response is forwarded, so a new broker's port is bound on every endpoint before a client
 * can learn about it.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/dns.h>

#include "auth/dn.h"
#include "gateway/internal.h"
#include "net/handshake.h"
#include "util/log.h"

void
st_gw_limits_default(struct st_gw_limits *l)
{
    l->max_request_bytes = 100u << 20;  /* Kafka's socket.request.max.bytes */
    l->max_preauth_bytes = 64u << 10;   /* ApiVersions/SASL only */
    l->max_response_bytes = 256u << 20; /* fetch.max.bytes defaults to 50 MiB; leave room */
    l->buffer_high_water = 1u << 20;
    l->max_inflight = 1024;
    l->connect_timeout_ms = 10000;
    l->auth_timeout_ms = 30000;      /* TLS handshake + SASL, from accept (pgbouncer: 60 s) */
    l->metadata_refresh_ms = 10000;
    l->auth_fail_delay_ms = 100;     /* Kafka's connection.failed.authentication.delay.ms */
    l->auth_fail_limit = 100;        /* failures per address per window before throttling */
    l->auth_fail_window_ms = 60000;
    l->max_session_ms = 0;           /* connections.max.reauth.ms: off unless credentials expire */
}

struct st_gw_cluster *
st_gw_cluster_new(struct event_base *base, struct evdns_base *dns, const char *name,
                  const char *bootstrap, const char *portmap_path, int port_min, int port_max,
                  const struct st_gw_limits *limits, const char **err)
{
    struct st_gw_cluster *c = calloc(1, sizeof(*c));
    if (!c) {
        *err = "out of memory";
        return NULL;
    }
    c->base = base;
    c->dns = dns;
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->bootstrap = strdup(bootstrap);
    if (!c->bootstrap) {
        free(c);
        *err = "out of memory";
        return NULL;
    }
    if (limits)
        c->limits = *limits;
    else
        st_gw_limits_default(&c->limits);
    if (st_portmap_load(&c->portmap, portmap_path, port_min, port_max, err) != 0) {
        free(c->bootstrap);
        free(c);
        return NULL;
    }
    st_gw_learner_init(&c->learner, c);
    /* 256 KiB pipes (a Fetch response moves in a few splice calls); up to 64 idle ones kept. */
    st_pipe_pool_init(&c->pipes, 256u << 10, 64);
    return c;
}

void
st_gw_cluster_shutdown(struct st_gw_cluster *c)
{
    while (c->conns)
        st_conn_close(c->conns, ST_GW_CLOSE_SHUTDOWN, "gateway shutting down");
    st_gw_learner_stop(&c->learner);
    for (size_t i = 0; i < c->n_endpoints; i++)
        st_gw_endpoint_free(c->endpoints[i]);
    free(c->endpoints);
    c->endpoints = NULL;
    c->n_endpoints = 0;
}

void
st_gw_cluster_free(struct st_gw_cluster *c)
{
    if (!c)
        return;
    st_gw_cluster_shutdown(c);
    if (c->auth.ops && c->auth.ctx)
        c->auth.ops->ctx_unref(c->auth.ctx);
    free(c->auth.cluster_arn);
    st_gw_upsec_unref(c->upsec);
    st_dn_rules_free(c->auth.dn_rules);
    st_gw_topic_ids_free(c);
    st_pipe_pool_free(&c->pipes);
    st_portmap_free(&c->portmap);
    free(c->broker_api);
    free(c->nodes);
    free(c->bootstrap);
    free(c);
}

int
st_gw_cluster_set_auth(struct st_gw_cluster *c, unsigned scheme,
                       const char *cluster_arn, const char *region,
                       const struct st_gw_auth_provider *ops, void *ctx)
{
    char *arn = strdup(cluster_arn ? cluster_arn : "");
    if (!arn) {
        if (ops && ctx)
            ops->ctx_unref(ctx);
        return -1;
    }
    if (c->auth.ops && c->auth.ctx)
        c->auth.ops->ctx_unref(c->auth.ctx);
    free(c->auth.cluster_arn);
    c->auth.scheme = scheme;
    c->auth.cluster_arn = arn;
    snprintf(c->auth.region, sizeof(c->auth.region), "%s", region ? region : "");
    c->auth.ops = ops;
    c->auth.ctx = ctx;
    c->auth.version++;
    return 0;
}

int
st_gw_cluster_set_handshake_pool(struct st_gw_cluster *c, struct st_hs_pool *pool)
{
    if (pool && st_hs_pool_home(pool) != c->base)
        return -1;
    c->hs_pool = pool;
    return 0;
}

void
st_gw_cluster_set_audit(struct st_gw_cluster *c, struct st_audit *a)
{
    c->auth.audit = a;
}

void
st_gw_cluster_set_authorization(struct st_gw_cluster *c, bool on)
{
    c->auth.no_authz = !on;
}

int
st_gw_cluster_set_principal_rules(struct st_gw_cluster *c, const char *spec, const char **err)
{
    struct st_dn_rules *r = NULL;
    if (spec && !(r = st_dn_rules_new(spec, err)))
        return -1;
    st_dn_rules_free(c->auth.dn_rules);
    c->auth.dn_rules = r;
    return 0;
}

struct st_gw_endpoint *
st_gw_endpoint_add(struct st_gw_cluster *c, const char *name, const char *address, bool insecure,
                   const char **err)
{
    struct st_gw_endpoint *e = calloc(1, sizeof(*e));
    struct st_gw_endpoint **arr = realloc(c->endpoints, (c->n_endpoints + 1) * sizeof(*arr));
    if (!e || !arr) {
        free(e);
        if (arr)
            c->endpoints = arr;
        *err = "out of memory";
        return NULL;
    }
    c->endpoints = arr;
    e->cluster = c;
    snprintf(e->name, sizeof(e->name), "%s", name);
    snprintf(e->address, sizeof(e->address), "%s", address);
    e->address_len = strlen(e->address);
    e->insecure = insecure;
    /* Bind every port the map already knows (after a restart), so clients reconnecting straight
     * to a broker port find it. Connections wait in the backlog until discovery completes. */
    for (size_t i = 0; i < c->portmap.n; i++) {
        if (st_gw_endpoint_expose(e, c->portmap.entries[i].node_id, c->portmap.entries[i].port) !=
            0) {
            st_gw_endpoint_free(e);
            *err = "cannot bind an endpoint port (see log)";
            return NULL;
        }
    }
    c->endpoints[c->n_endpoints++] = e;
    if (c->serving)
        st_gw_endpoint_enable(e);
    return e;
}

struct st_gw_node *
st_gw_cluster_find_node(struct st_gw_cluster *c, int32_t id)
{
    for (size_t i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].id == id)
            return &c->nodes[i];
    return NULL;
}

/* Every response names every broker: a broker that cannot be exposed must not flood the log. */
static struct st_ratelimit expose_rl = ST_RATELIMIT_INIT(1);

static int
expose_everywhere(struct st_gw_cluster *c, int32_t id)
{
    const char *err = NULL;
    int port = st_portmap_assign(&c->portmap, id, &err);
    if (port < 0) {
        st_log_limited(&expose_rl, ST_LOG_ERROR, "cluster %s: broker %d cannot get an endpoint port: %s; clients will not see it",
                 c->name, id, err);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < c->n_endpoints; i++)
        if (st_gw_endpoint_expose(c->endpoints[i], id, port) != 0)
            rc = -1;
    return rc;
}

int
st_gw_cluster_observe(struct st_gw_cluster *c, const struct st_kbroker *b, bool authoritative)
{
    if (b->node_id < 0)
        return 0;
    struct st_gw_node *n = st_gw_cluster_find_node(c, b->node_id);
    if (!n) {
        if (c->n_nodes == c->cap_nodes) {
            size_t cap = c->cap_nodes ? c->cap_nodes * 2 : 8;
            struct st_gw_node *nn = realloc(c->nodes, cap * sizeof(*nn));
            if (!nn)
                return -1;
            c->nodes = nn;
            c->cap_nodes = cap;
        }
        n = &c->nodes[c->n_nodes++];
        memset(n, 0, sizeof(*n));
        n->id = b->node_id;
        st_info("cluster %s: broker %d discovered at %.*s:%d", c->name, b->node_id,
                (int)b->host_len, b->host, b->port);
    }
    size_t hl = b->host_len < sizeof(n->host) - 1 ? b->host_len : sizeof(n->host) - 1;
    if (hl != strlen(n->host) || memcmp(n->host, b->host, hl) != 0 || n->port != b->port) {
        if (n->host[0])
            st_info("cluster %s: broker %d moved from %s:%d to %.*s:%d", c->name, n->id, n->host,
                    n->port, (int)b->host_len, b->host, b->port);
        memcpy(n->host, b->host, hl);
        n->host[hl] = '\0';
        n->port = b->port;
    }
    if (b->rack) {
        size_t rl = b->rack_len < sizeof(n->rack) - 1 ? b->rack_len : sizeof(n->rack) - 1;
        memcpy(n->rack, b->rack, rl);
        n->rack[rl] = '\0';
    }
    if (authoritative)
        n->listed = true;
    return expose_everywhere(c, b->node_id);
}

void
st_gw_cluster_mark_listed(struct st_gw_cluster *c, const int32_t *ids, size_t n)
{
    for (size_t i = 0; i < c->n_nodes; i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = c->nodes[i].id == ids[j];
        if (c->nodes[i].listed && !found)
            st_info("cluster %s: broker %d left the cluster metadata (its port stays reserved)",
                    c->name, c->nodes[i].id);
        c->nodes[i].listed = found;
    }
}

void
st_gw_cluster_set_broker_api(struct st_gw_cluster *c, const uint8_t *entries, size_t n)
{
    int16_t(*api)[3] = n ? malloc(n * sizeof(*api)) : NULL;
    if (n && !api)
        return; /* keep the previous table */
    for (size_t i = 0; i < n; i++) {
        api[i][0] = st_rd_i16(entries + i * 6);
        api[i][1] = st_rd_i16(entries + i * 6 + 2);
        api[i][2] = st_rd_i16(entries + i * 6 + 4);
    }
    free(c->broker_api);
    c->broker_api = api;
    c->n_broker_api = n;
}

bool
st_gw_cluster_broker_range(const struct st_gw_cluster *c, int16_t key, int16_t *min, int16_t *max)
{
    for (size_t i = 0; i < c->n_broker_api; i++) {
        if (c->broker_api[i][0] == key) {
            *min = c->broker_api[i][1];
            *max = c->broker_api[i][2];
            return true;
        }
    }
    return false;
}

void
st_gw_cluster_learned(struct st_gw_cluster *c)
{
    if (c->serving)
        return;
    c->serving = true;
    for (size_t i = 0; i < c->n_endpoints; i++)
        st_gw_endpoint_enable(c->endpoints[i]);
    st_info("cluster %s: %zu brokers learned; endpoints serving", c->name, c->n_nodes);
    if (c->on_learned)
        c->on_learned(c, c->on_learned_arg);
}

void
st_gw_cluster_start(struct st_gw_cluster *c, void (*on_learned)(struct st_gw_cluster *, void *),
                    void *arg)
{
    c->on_learned = on_learned;
    c->on_learned_arg = arg;
    st_gw_learner_start(&c->learner);
}

const char *
st_gw_cluster_name(const struct st_gw_cluster *c)
{
    return c->name;
}
const char *
st_gw_cluster_bootstrap(const struct st_gw_cluster *c)
{
    return c->bootstrap;
}
size_t
st_gw_cluster_node_count(const struct st_gw_cluster *c)
{
    return c->n_nodes;
}
const struct st_gw_node *
st_gw_cluster_node(const struct st_gw_cluster *c, size_t i)
{
    return i < c->n_nodes ? &c->nodes[i] : NULL;
}
const struct st_gw_counters *
st_gw_cluster_counters(const struct st_gw_cluster *c)
{
    return &c->counters;
}
const struct st_portmap *
st_gw_cluster_portmap(const struct st_gw_cluster *c)
{
    return &c->portmap;
}
size_t
st_gw_cluster_endpoint_count(const struct st_gw_cluster *c)
{
    return c->n_endpoints;
}
struct st_gw_endpoint *
st_gw_cluster_endpoint(const struct st_gw_cluster *c, size_t i)
{
    return i < c->n_endpoints ? c->endpoints[i] : NULL;
}

/* ---- counters ---- */

/* 10 µs .. 10 s, roughly x2.5 apart: gateway time lives at the low end, broker time higher. */
const double st_gw_latency_bounds[ST_GW_LAT_BUCKETS] = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
    0.005,   0.01,     0.025,   0.05,   0.1,     0.25,   1.0,   10.0,
};

/* st_gw_latency_bounds in nanoseconds: buckets are found without floating point. */
static const uint64_t bounds_ns[ST_GW_LAT_BUCKETS] = {
    10000,   25000,    50000,    100000,    250000,    500000,     1000000,     2500000,
    5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 1000000000, 10000000000,
};

size_t
st_gw_hist_bucket(uint64_t ns)
{
    size_t i = 0;
    while (i < ST_GW_LAT_BUCKETS && ns > bounds_ns[i])
        i++;
    return i;
}

void
st_gw_hist_put(struct st_gw_hist *h, size_t bucket, uint64_t ns)
{
    if (bucket < ST_GW_LAT_BUCKETS)
        h->bucket[bucket]++;
    else
        h->over++;
    h->count++;
    h->sum_ns += ns;
}

const char *
st_gw_mech_name(int mech)
{
    static const char *const n[ST_GW_MECHS] = {"none",          "AWS_MSK_IAM",   "OAUTHBEARER",
                                               "SCRAM-SHA-256", "SCRAM-SHA-512", "MTLS"};
    return mech >= 0 && mech < ST_GW_MECHS ? n[mech] : "none";
}

const char *
st_gw_close_reason_name(int reason)
{
    static const char *const n[ST_GW_CLOSE_REASONS] = {
        "other",          "client_closed", "upstream_closed", "upstream_unreachable",
        "protocol_error", "auth_failed",   "session_expired", "authz_refused",
        "shutdown"};
    return reason >= 0 && reason < ST_GW_CLOSE_REASONS ? n[reason] : "other";
}

static const char *const authz_actions[ST_GW_AUTHZ_ACTIONS] = {
    "kafka-cluster:DescribeCluster",
    "kafka-cluster:AlterCluster",
    "kafka-cluster:DescribeClusterDynamicConfiguration",
    "kafka-cluster:AlterClusterDynamicConfiguration",
    "kafka-cluster:WriteDataIdempotently",
    "kafka-cluster:CreateTopic",
    "kafka-cluster:DescribeTopic",
    "kafka-cluster:AlterTopic",
    "kafka-cluster:DeleteTopic",
    "kafka-cluster:DescribeTopicDynamicConfiguration",
    "kafka-cluster:AlterTopicDynamicConfiguration",
    "kafka-cluster:ReadData",
    "kafka-cluster:WriteData",
    "kafka-cluster:DescribeGroup",
    "kafka-cluster:AlterGroup",
    "kafka-cluster:DeleteGroup",
    "kafka-cluster:DescribeTransactionalId",
    "kafka-cluster:AlterTransactionalId",
    "READ",
    "WRITE",
    "CREATE",
    "DELETE",
    "ALTER",
    "DESCRIBE",
    "DESCRIBE_CONFIGS",
    "ALTER_CONFIGS",
    "IDEMPOTENT_WRITE",
    "CLUSTER_ACTION",
    "ALL",
    "other",
};

const char *
st_gw_authz_action_name(int i)
{
    return i >= 0 && i < ST_GW_AUTHZ_ACTIONS ? authz_actions[i] : "other";
}

int
st_gw_authz_action_index(const char *action)
{
    for (int i = 0; i < ST_GW_AUTHZ_ACTIONS - 1; i++)
        if (action && strcmp(action, authz_actions[i]) == 0)
            return i;
    return ST_GW_AUTHZ_ACTIONS - 1;
}

const struct st_gw_scheme_counters *
st_gw_cluster_scheme_counters(const struct st_gw_cluster *c, enum st_gw_scheme_ix s)
{
    return &c->by_scheme[s < ST_GW_SCHEMES ? s : ST_GW_SCHEME_NONE];
}

const char *
st_gw_scheme_ix_name(enum st_gw_scheme_ix s)
{
    static const char *const n[] = {"SASL_IAM", "SASL_SCRAM", "TLS"};
    return s < ST_GW_SCHEME_NONE ? n[s] : NULL;
}

/*
 * Observability of the control plane and its gateways: the Prometheus text exposition
 * (st_ctl_metrics, version 0.0.4) and the status document of the admin socket (st_ctl_status).
 * Cardinality is bounded by configuration: labels are clusters, endpoint addresses, VPC
 * connections and broker ids, never topics or principals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "ctl/internal.h"
#include "gateway/gateway.h"
#include "kafka/proto.h"
#include "store/store.h"
#include "util/log.h"

/* One endpoint whose counters are exported. */
struct msrc {
    const char *cluster;            /* cluster ARN or name */
    const char *endpoint;           /* endpoint address */
    const char *conn;               /* VPC connection ARN, "" for in-VPC / insecure */
    const struct st_gw_counters *k; /* its counters */
};

struct msrcs {
    struct msrc *v; /* sources */
    size_t n, cap;  /* used, allocated */
};

static void
src_add(struct msrcs *s, const char *cluster, const char *endpoint, const char *conn,
        const struct st_gw_counters *k)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct msrc *nv = realloc(s->v, cap * sizeof(*nv));
        if (!nv)
            return;
        s->v = nv;
        s->cap = cap;
    }
    s->v[s->n++] = (struct msrc){cluster, endpoint, conn, k};
}

/* Writes a label value escaped for the text format. */
static void
lv(struct evbuffer *out, const char *v)
{
    for (const char *p = v ? v : ""; *p; p++) {
        if (*p == '\\' || *p == '"')
            evbuffer_add_printf(out, "\\%c", *p);
        else if (*p == '\n')
            evbuffer_add(out, "\\n", 2);
        else
            evbuffer_add(out, p, 1);
    }
}

static void
family(struct evbuffer *out, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The VPC connection listening on `addr` for `cluster` (AVAILABLE first), "" when none. */
static const char *
conn_of(const struct st_snapshot *snap, const char *cluster, const char *addr)
{
    const char *other = "";
    for (size_t i = 0; snap && i < snap->n_conns; i++) {
        const struct st_snap_conn *c = &snap->conns[i];
        if (strcmp(c->cluster_arn, cluster) != 0)
            continue;
        for (size_t j = 0; j < c->n_addresses; j++)
            if (strcmp(c->addresses[j], addr) == 0) {
                if (strcmp(c->state, "AVAILABLE") == 0)
                    return c->arn;
                if (!*other)
                    other = c->arn;
            }
    }
    return other;
}

struct ep_ctx {
    struct st_ctl *ctl; /* control plane */
    struct msrcs *s;    /* sources */
};

static void
ep_src(void *arg, const char *cluster_arn, const char *addr, const struct st_gw_cluster *gw)
{
    struct ep_ctx *x = arg;
    for (size_t i = 0; i < st_gw_cluster_endpoint_count(gw); i++) {
        struct st_gw_endpoint *e = st_gw_cluster_endpoint(gw, i);
        src_add(x->s, cluster_arn, st_gw_endpoint_address(e),
                conn_of(x->ctl->snap, cluster_arn, addr), st_gw_endpoint_counters(e));
    }
}

static void
gw_srcs(struct msrcs *s, const char *cluster, const struct st_gw_cluster *gw)
{
    for (size_t i = 0; gw && i < st_gw_cluster_endpoint_count(gw); i++) {
        struct st_gw_endpoint *e = st_gw_cluster_endpoint(gw, i);
        src_add(s, cluster, st_gw_endpoint_address(e), "", st_gw_endpoint_counters(e));
    }
}

/* Broker gauges of one gateway. */
static void
brokers(struct evbuffer *out, const char *cluster, const struct st_gw_cluster *gw, int pass)
{
    if (!gw)
        return;
    if (pass == 0) {
        evbuffer_add(out, "strait_upstream_brokers{cluster=\"", 33);
        lv(out, cluster);
        evbuffer_add_printf(out, "\"} %zu\n", st_gw_cluster_node_count(gw));
        return;
    }
    const struct st_portmap *pm = st_gw_cluster_portmap(gw);
    for (size_t i = 0; i < st_gw_cluster_node_count(gw); i++) {
        const struct st_gw_node *n = st_gw_cluster_node(gw, i);
        int port = 0;
        for (size_t j = 0; j < pm->n; j++)
            if (pm->entries[j].node_id == n->id)
                port = pm->entries[j].port;
        evbuffer_add(out, "strait_upstream_broker_up{cluster=\"", 35);
        lv(out, cluster);
        evbuffer_add_printf(out, "\",node_id=\"%d\",port=\"%d\"} %d\n", (int)n->id, port,
                            n->listed ? 1 : 0);
    }
}

/* The {cluster, endpoint, vpc_connection} labels of a source, without the closing brace. */
static void
src_labels(struct evbuffer *out, const char *name, const struct msrc *m)
{
    evbuffer_add_printf(out, "%s{cluster=\"", name);
    lv(out, m->cluster);
    evbuffer_add(out, "\",endpoint=\"", 12);
    lv(out, m->endpoint);
    evbuffer_add(out, "\",vpc_connection=\"", 18);
    lv(out, m->conn);
    evbuffer_add(out, "\"", 1);
}

static void
histogram(struct evbuffer *out, const char *name, const struct msrcs *s, size_t off)
{
    char b[96];
    for (size_t i = 0; i < s->n; i++) {
        const struct st_gw_hist *h = (const void *)((const char *)s->v[i].k + off);
        uint64_t cum = 0;
        snprintf(b, sizeof(b), "%s_bucket", name);
        for (size_t j = 0; j < ST_GW_LAT_BUCKETS; j++) {
            cum += h->bucket[j];
            src_labels(out, b, &s->v[i]);
            evbuffer_add_printf(out, ",le=\"%g\"} %llu\n", st_gw_latency_bounds[j],
                                (unsigned long long)cum);
        }
        src_labels(out, b, &s->v[i]);
        evbuffer_add_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)h->count);
        snprintf(b, sizeof(b), "%s_sum", name);
        src_labels(out, b, &s->v[i]);
        evbuffer_add_printf(out, "} %.9f\n", (double)h->sum_ns / 1e9);
        snprintf(b, sizeof(b), "%s_count", name);
        src_labels(out, b, &s->v[i]);
        evbuffer_add_printf(out, "} %llu\n", (unsigned long long)h->count);
    }
}

/* Requests and bytes by API key, latency histograms, authentications by mechanism and
 * authorization decisions by action, per endpoint. Keys and actions never seen are left out
 * (bounded: Kafka's API keys and MSK's actions). */
static void
per_api(struct evbuffer *out, const struct msrcs *s)
{
    static const struct {
        const char *name, *help;
        size_t off;
    } api[] = {
        {"strait_api_requests_total", "Client requests by Kafka API.",
         offsetof(struct st_gw_api_counters, requests)},
        {"strait_api_request_bytes_total", "Request bytes from clients by Kafka API.",
         offsetof(struct st_gw_api_counters, bytes_in)},
        {"strait_api_response_bytes_total", "Response bytes to clients by Kafka API.",
         offsetof(struct st_gw_api_counters, bytes_out)},
    };
    for (size_t f = 0; f < sizeof(api) / sizeof(api[0]); f++) {
        family(out, api[f].name, "counter", api[f].help);
        for (size_t i = 0; i < s->n; i++)
            for (int key = 0; key < ST_GW_API_KEYS; key++) {
                if (!s->v[i].k->api[key].requests)
                    continue;
                uint64_t v;
                memcpy(&v, (const char *)&s->v[i].k->api[key] + api[f].off, sizeof(v));
                const char *an = st_kafka_api_name((int16_t)key);
                src_labels(out, api[f].name, &s->v[i]);
                evbuffer_add(out, ",api=\"", 6);
                if (an)
                    lv(out, an);
                else
                    evbuffer_add_printf(out, "%d", key);
                evbuffer_add_printf(out, "\"} %llu\n", (unsigned long long)v);
            }
    }
    family(out, "strait_request_gateway_seconds", "histogram",
           "Time strait spent on a forwarded request and its response (parsing, authorization, "
           "rewriting), excluding the broker.");
    histogram(out, "strait_request_gateway_seconds", s,
              offsetof(struct st_gw_counters, lat_gateway));
    family(out, "strait_request_upstream_seconds", "histogram",
           "Time from forwarding a request to the broker until its response was at strait.");
    histogram(out, "strait_request_upstream_seconds", s,
              offsetof(struct st_gw_counters, lat_upstream));
    family(out, "strait_client_authentications_by_mechanism_total", "counter",
           "Client authentications (SASL mechanisms and mutual TLS) by mechanism and result.");
    for (size_t i = 0; i < s->n; i++)
        for (int m = 0; m < ST_GW_MECHS; m++)
            for (int r = 0; r < 2; r++) {
                uint64_t v = s->v[i].k->auth_by_mech[m][r];
                if (!v)
                    continue;
                src_labels(out, "strait_client_authentications_by_mechanism_total", &s->v[i]);
                evbuffer_add_printf(out, ",mechanism=\"%s\",result=\"%s\"} %llu\n",
                                    st_gw_mech_name(m), r ? "failure" : "success",
                                    (unsigned long long)v);
            }
    family(out, "strait_authz_decisions_total", "counter",
           "Authorization decisions of resource entries (cached ones included) by action and "
           "result; actions are kafka-cluster actions (IAM) or Kafka ACL operations.");
    for (size_t i = 0; i < s->n; i++)
        for (int a = 0; a < ST_GW_AUTHZ_ACTIONS; a++)
            for (int r = 0; r < 2; r++) {
                uint64_t v = s->v[i].k->authz_by_action[a][r];
                if (!v)
                    continue;
                src_labels(out, "strait_authz_decisions_total", &s->v[i]);
                evbuffer_add(out, ",action=\"", 9);
                lv(out, st_gw_authz_action_name(a));
                evbuffer_add_printf(out, "\",result=\"%s\"} %llu\n", r ? "deny" : "allow",
                                    (unsigned long long)v);
            }
}

void
st_ctl_metrics(struct st_ctl *ctl, const struct st_gw_cluster *legacy, struct evbuffer *out)
{
    struct msrcs s = {0};
    if (legacy)
        gw_srcs(&s, st_gw_cluster_name(legacy), legacy);
    struct ep_ctx x = {ctl, &s};
    for (struct st_rt *rt = ctl->rts; rt; rt = rt->next) {
        gw_srcs(&s, rt->arn, rt->gw);
        st_rt_each_ep(rt, ep_src, &x);
    }
    static const struct {
        const char *name, *type, *help;
        size_t off;
    } fams[] = {
        {"strait_client_connections", "gauge", "Open client connections.",
         offsetof(struct st_gw_counters, conns_current)},
        {"strait_client_connections_accepted_total", "counter", "Client connections accepted.",
         offsetof(struct st_gw_counters, conns_accepted)},
        {"strait_client_connections_refused_total", "counter",
         "Client connections refused by security-group ingress rules.",
         offsetof(struct st_gw_counters, conns_refused)},
        {"strait_requests_total", "counter", "Kafka requests forwarded or answered.",
         offsetof(struct st_gw_counters, requests)},
        {"strait_client_received_bytes_total", "counter", "Bytes received from clients.",
         offsetof(struct st_gw_counters, bytes_from_clients)},
        {"strait_client_sent_bytes_total", "counter", "Bytes sent to clients.",
         offsetof(struct st_gw_counters, bytes_to_clients)},
        {"strait_upstream_sent_bytes_total", "counter", "Bytes sent to upstream brokers.",
         offsetof(struct st_gw_counters, bytes_to_upstream)},
        {"strait_upstream_received_bytes_total", "counter", "Bytes received from upstream brokers.",
         offsetof(struct st_gw_counters, bytes_from_upstream)},
        {"strait_spliced_bytes_total", "counter",
         "Of the bytes sent to clients and brokers, those moved socket to socket by splice(2).",
         offsetof(struct st_gw_counters, bytes_spliced)},
        {"strait_protocol_errors_total", "counter",
         "Connections closed for malformed or unsupported frames.",
         offsetof(struct st_gw_counters, protocol_errors)},
        {"strait_responses_rewritten_total", "counter",
         "Responses whose broker addresses were rewritten.",
         offsetof(struct st_gw_counters, responses_rewritten)},
    };
    for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
        family(out, fams[f].name, fams[f].type, fams[f].help);
        for (size_t i = 0; i < s.n; i++) {
            uint64_t v;
            memcpy(&v, (const char *)s.v[i].k + fams[f].off, sizeof(v));
            src_labels(out, fams[f].name, &s.v[i]);
            evbuffer_add_printf(out, "} %llu\n", (unsigned long long)v);
        }
    }
    /* Closes by reason: every reason of every endpoint (bounded), "other" = the closes no reason
     * was given for, so the reasons add up to the closes. */
    family(out, "strait_client_connections_closed_total", "counter",
           "Client connections closed, by reason.");
    for (size_t i = 0; i < s.n; i++) {
        const struct st_gw_counters *k = s.v[i].k;
        uint64_t named = 0;
        for (int r = 1; r < ST_GW_CLOSE_REASONS; r++)
            named += k->closed_by_reason[r];
        for (int r = 0; r < ST_GW_CLOSE_REASONS; r++) {
            uint64_t v = r ? k->closed_by_reason[r]
                           : (k->conns_closed > named ? k->conns_closed - named : 0);
            src_labels(out, "strait_client_connections_closed_total", &s.v[i]);
            evbuffer_add_printf(out, ",reason=\"%s\"} %llu\n", st_gw_close_reason_name(r),
                                (unsigned long long)v);
        }
    }
    /* SASL on the data plane, per endpoint (no mechanism label: the gateway counts them
     * together). */
    static const struct {
        const char *result;
        size_t off;
    } authr[] = {
        {"success", offsetof(struct st_gw_counters, auth_ok)},
        {"failure", offsetof(struct st_gw_counters, auth_failed)},
        {"throttled", offsetof(struct st_gw_counters, auth_throttled)},
    };
    family(out, "strait_client_authentications_total", "counter",
           "SASL authentications of clients (re-authentications too) by result.");
    for (size_t r = 0; r < sizeof(authr) / sizeof(authr[0]); r++)
        for (size_t i = 0; i < s.n; i++) {
            uint64_t v;
            memcpy(&v, (const char *)s.v[i].k + authr[r].off, sizeof(v));
            src_labels(out, "strait_client_authentications_total", &s.v[i]);
            evbuffer_add_printf(out, ",result=\"%s\"} %llu\n", authr[r].result,
                                (unsigned long long)v);
        }
    static const struct {
        const char *name, *help;
        size_t off;
    } more[] = {
        {"strait_client_connect_denied_total",
         "Authenticated clients denied kafka-cluster:Connect by the policies.",
         offsetof(struct st_gw_counters, auth_denied)},
        {"strait_client_sessions_expired_total",
         "Client connections closed because their SASL session expired.",
         offsetof(struct st_gw_counters, sessions_expired)},
        {"strait_authz_allowed_total",
         "Resource entries of client requests allowed (cached decisions included).",
         offsetof(struct st_gw_counters, authz_allowed)},
        {"strait_authz_denied_total", "Resource entries of client requests denied.",
         offsetof(struct st_gw_counters, authz_denied)},
        {"strait_authz_evaluations_total",
         "Authorization decisions computed from policies or ACLs (decision cache misses).",
         offsetof(struct st_gw_counters, authz_evaluations)},
        {"strait_authz_requests_refused_total",
         "Client requests answered by strait with authorization errors only.",
         offsetof(struct st_gw_counters, requests_denied)},
        {"strait_authz_requests_partial_total",
         "Client requests forwarded with denied entries stripped and errors merged back.",
         offsetof(struct st_gw_counters, requests_partial)},
    };
    for (size_t f = 0; f < sizeof(more) / sizeof(more[0]); f++) {
        family(out, more[f].name, "counter", more[f].help);
        for (size_t i = 0; i < s.n; i++) {
            uint64_t v;
            memcpy(&v, (const char *)s.v[i].k + more[f].off, sizeof(v));
            src_labels(out, more[f].name, &s.v[i]);
            evbuffer_add_printf(out, "} %llu\n", (unsigned long long)v);
        }
    }
    per_api(out, &s);
    free(s.v);

    family(out, "strait_upstream_brokers", "gauge", "Brokers known in the upstream cluster.");
    if (legacy)
        brokers(out, st_gw_cluster_name(legacy), legacy, 0);
    for (struct st_rt *rt = ctl->rts; rt; rt = rt->next)
        brokers(out, rt->arn, rt->gw, 0);
    family(out, "strait_upstream_broker_up", "gauge",
           "1 when the broker is in the last authoritative broker list, with its endpoint port.");
    if (legacy)
        brokers(out, st_gw_cluster_name(legacy), legacy, 1);
    for (struct st_rt *rt = ctl->rts; rt; rt = rt->next)
        brokers(out, rt->arn, rt->gw, 1);

    const struct st_snapshot *snap = ctl->snap;
    family(out, "strait_clusters", "gauge", "Clusters managed through the control plane.");
    evbuffer_add_printf(out, "strait_clusters %zu\n", snap ? snap->n_clusters : 0);
    family(out, "strait_vpc_connections", "gauge", "VPC connections by state.");
    static const char *const states[] = {"CREATING", "AVAILABLE", "INACTIVE", "DEACTIVATING",
                                         "DELETING", "FAILED",    "REJECTED", "REJECTING"};
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        size_t n = 0;
        for (size_t j = 0; snap && j < snap->n_conns; j++)
            n += strcmp(snap->conns[j].state, states[i]) == 0;
        evbuffer_add_printf(out, "strait_vpc_connections{state=\"%s\"} %zu\n", states[i], n);
    }
    family(out, "strait_snapshot_generation", "gauge",
           "Generation of the current policy/state snapshot.");
    evbuffer_add_printf(out, "strait_snapshot_generation %llu\n",
                        (unsigned long long)ctl->generation);
    family(out, "strait_snapshot_last_publish_timestamp_seconds", "gauge",
           "When the current snapshot was published (Unix time).");
    evbuffer_add_printf(out, "strait_snapshot_last_publish_timestamp_seconds %.3f\n",
                        (double)ctl->last_publish_ms / 1000.0);

    struct st_store_write_stats ws;
    st_store_write_stats(ctl->store, &ws);
    family(out, "strait_store_write_duration_seconds", "histogram",
           "Latency of durable state writes (single statements and commits).");
    for (int i = 0; i < ST_STORE_WRITE_BUCKETS; i++)
        evbuffer_add_printf(out, "strait_store_write_duration_seconds_bucket{le=\"%g\"} %llu\n",
                            st_store_write_buckets[i], (unsigned long long)ws.buckets[i]);
    evbuffer_add_printf(out,
                        "strait_store_write_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "strait_store_write_duration_seconds_sum %.9f\n"
                        "strait_store_write_duration_seconds_count %llu\n",
                        (unsigned long long)ws.count, ws.sum_seconds, (unsigned long long)ws.count);

    family(out, "strait_api_authentications_total", "counter",
           "Control-plane API requests by SigV4 authentication result.");
    evbuffer_add_printf(out,
                        "strait_api_authentications_total{result=\"success\"} %llu\n"
                        "strait_api_authentications_total{result=\"failure\"} %llu\n",
                        (unsigned long long)ctl->stats.authn_ok,
                        (unsigned long long)ctl->stats.authn_failed);
    family(out, "strait_api_authorizations_total", "counter",
           "Control-plane API authorization decisions by result.");
    evbuffer_add_printf(out,
                        "strait_api_authorizations_total{result=\"allowed\"} %llu\n"
                        "strait_api_authorizations_total{result=\"denied\"} %llu\n",
                        (unsigned long long)ctl->stats.authz_allowed,
                        (unsigned long long)ctl->stats.authz_denied);

    uint64_t fl, fe;
    int64_t last;
    st_meter_stats(ctl, &fl, &fe, &last);
    family(out, "strait_usage_flushes_total", "counter", "Metered usage written to the store.");
    evbuffer_add_printf(out, "strait_usage_flushes_total %llu\n", (unsigned long long)fl);
    family(out, "strait_usage_flush_errors_total", "counter",
           "Failed attempts to write metered usage (kept for the next attempt).");
    evbuffer_add_printf(out, "strait_usage_flush_errors_total %llu\n", (unsigned long long)fe);
}

/* ---- status */

static json_t *
counters_json(const struct st_gw_counters *k)
{
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "connectionsCurrent",
        (json_int_t)k->conns_current, "connectionsAccepted", (json_int_t)k->conns_accepted,
        "connectionsClosed", (json_int_t)k->conns_closed, "connectionsRefused",
        (json_int_t)k->conns_refused, "requests", (json_int_t)k->requests, "bytesFromClients",
        (json_int_t)k->bytes_from_clients, "bytesToClients", (json_int_t)k->bytes_to_clients,
        "protocolErrors", (json_int_t)k->protocol_errors, "authOk", (json_int_t)k->auth_ok,
        "authFailed", (json_int_t)k->auth_failed);
    /* Authorization: entries allowed/denied, decisions computed (cache misses), requests
     * answered with denials only / forwarded with denied entries stripped. */
    json_t *az = json_pack("{s:I, s:I, s:I, s:I, s:I}", "allowed", (json_int_t)k->authz_allowed,
                           "denied", (json_int_t)k->authz_denied, "evaluations",
                           (json_int_t)k->authz_evaluations, "requestsRefused",
                           (json_int_t)k->requests_denied, "requestsPartial",
                           (json_int_t)k->requests_partial);
    if (j && az)
        json_object_set_new(j, "authorization", az);
    else
        json_decref(az);
    return j;
}

struct st_ep_status {
    struct st_ctl *ctl; /* control plane */
    json_t *eps;        /* endpoint array */
};

static void
ep_status(void *arg, const char *cluster_arn, const char *addr, const struct st_gw_cluster *gw)
{
    struct st_ep_status *x = arg;
    json_t *k = counters_json(st_gw_cluster_counters(gw));
    json_array_append_new(x->eps,
                          json_pack("{s:s, s:s, s:s, s:o}", "address", addr, "kind",
                                    "vpc-connection", "vpcConnectionArn",
                                    conn_of(x->ctl->snap, cluster_arn, addr), "counters", k));
}

json_t *
st_ctl_status(struct st_ctl *ctl)
{
    json_t *arr = json_array();
    const struct st_snapshot *snap = ctl->snap;
    for (struct st_rt *rt = ctl->rts; rt; rt = rt->next) {
        json_t *rec = st_store_cluster_get(ctl->store, rt->arn);
        const char *state = rec ? json_string_value(json_object_get(rec, "state")) : NULL;
        json_t *bro = json_array();
        const struct st_portmap *pm = rt->gw ? st_gw_cluster_portmap(rt->gw) : NULL;
        size_t listed = 0;
        for (size_t i = 0; rt->gw && i < st_gw_cluster_node_count(rt->gw); i++) {
            const struct st_gw_node *n = st_gw_cluster_node(rt->gw, i);
            int port = 0;
            for (size_t j = 0; j < pm->n; j++)
                if (pm->entries[j].node_id == n->id)
                    port = pm->entries[j].port;
            listed += n->listed;
            char up[300];
            snprintf(up, sizeof(up), "%s:%d", n->host, (int)n->port);
            json_array_append_new(bro,
                                  json_pack("{s:i, s:s, s:i, s:b}", "nodeId", (int)n->id,
                                            "upstream", up, "port", port, "listed", n->listed));
        }
        json_t *eps = json_array();
        for (size_t i = 0; rt->gw && i < st_gw_cluster_endpoint_count(rt->gw); i++) {
            struct st_gw_endpoint *e = st_gw_cluster_endpoint(rt->gw, i);
            json_array_append_new(
                eps, json_pack("{s:s, s:s, s:o}", "address", st_gw_endpoint_address(e), "kind",
                               "in-vpc", "counters", counters_json(st_gw_endpoint_counters(e))));
        }
        struct st_ep_status x = {ctl, eps};
        st_rt_each_ep(rt, ep_status, &x);
        json_t *conns = json_array();
        for (size_t i = 0; snap && i < snap->n_conns; i++) {
            const struct st_snap_conn *c = &snap->conns[i];
            if (strcmp(c->cluster_arn, rt->arn) != 0)
                continue;
            json_t *addrs = json_array();
            for (size_t j = 0; j < c->n_addresses; j++)
                json_array_append_new(addrs, json_string(c->addresses[j]));
            json_array_append_new(conns,
                                  json_pack("{s:s, s:s, s:s, s:s, s:o}", "vpcConnectionArn", c->arn,
                                            "owner", c->owner, "authentication", c->authentication,
                                            "state", c->state, "endpointAddresses", addrs));
        }
        const char *health = !rt->gw                                     ? "down"
                             : !rt->learned                              ? "discovering"
                             : listed == 0                               ? "no-brokers"
                             : listed < st_gw_cluster_node_count(rt->gw) ? "degraded"
                                                                         : "ok";
        json_array_append_new(
            arr,
            json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "clusterArn", rt->arn, "name",
                      rec ? json_string_value(json_object_get(rec, "clusterName")) : "", "state",
                      state ? state : "?", "upstream", rt->bootstrap ? rt->bootstrap : "", "health",
                      health, "brokers", bro, "endpoints", eps, "connections", conns));
        json_decref(rec);
    }
    return arr;
}

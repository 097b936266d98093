/*
 * Route table and request parsing (see route.h). Templates are matched on the raw, still
 * percent-encoded path so that the %2F inside an ARN label never splits a segment.
 */
#include "ctl/route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/encoding.h"
#include "util/buf.h"

#define R(m, t, op, name)                                                                          \
    {                                                                                              \
        m, t, op, name, "kafka:" name                                                              \
    }
const struct st_route st_routes[] = {
    R("POST", "/api/v2/clusters", ST_OP_CREATE_CLUSTER_V2, "CreateClusterV2"),
    R("GET", "/api/v2/clusters", ST_OP_LIST_CLUSTERS_V2, "ListClustersV2"),
    R("GET", "/api/v2/clusters/{clusterArn}", ST_OP_DESCRIBE_CLUSTER_V2, "DescribeClusterV2"),
    R("GET", "/v1/clusters/{clusterArn}", ST_OP_DESCRIBE_CLUSTER, "DescribeCluster"),
    R("DELETE", "/v1/clusters/{clusterArn}", ST_OP_DELETE_CLUSTER, "DeleteCluster"),
    R("GET", "/v1/clusters/{clusterArn}/bootstrap-brokers", ST_OP_GET_BOOTSTRAP_BROKERS,
      "GetBootstrapBrokers"),
    R("PUT", "/v1/clusters/{clusterArn}/connectivity", ST_OP_UPDATE_CONNECTIVITY,
      "UpdateConnectivity"),
    R("PATCH", "/v1/clusters/{clusterArn}/security", ST_OP_UPDATE_SECURITY, "UpdateSecurity"),
    R("PUT", "/v1/clusters/{clusterArn}/policy", ST_OP_PUT_CLUSTER_POLICY, "PutClusterPolicy"),
    R("GET", "/v1/clusters/{clusterArn}/policy", ST_OP_GET_CLUSTER_POLICY, "GetClusterPolicy"),
    R("DELETE", "/v1/clusters/{clusterArn}/policy", ST_OP_DELETE_CLUSTER_POLICY,
      "DeleteClusterPolicy"),
    R("POST", "/v1/vpc-connection", ST_OP_CREATE_VPC_CONNECTION, "CreateVpcConnection"),
    R("GET", "/v1/vpc-connection/{arn}", ST_OP_DESCRIBE_VPC_CONNECTION, "DescribeVpcConnection"),
    R("DELETE", "/v1/vpc-connection/{arn}", ST_OP_DELETE_VPC_CONNECTION, "DeleteVpcConnection"),
    R("GET", "/v1/vpc-connections", ST_OP_LIST_VPC_CONNECTIONS, "ListVpcConnections"),
    R("GET", "/v1/clusters/{clusterArn}/client-vpc-connections", ST_OP_LIST_CLIENT_VPC_CONNECTIONS,
      "ListClientVpcConnections"),
    R("PUT", "/v1/clusters/{clusterArn}/client-vpc-connection", ST_OP_REJECT_CLIENT_VPC_CONNECTION,
      "RejectClientVpcConnection"),
    R("POST", "/v1/clusters/{clusterArn}/scram-secrets", ST_OP_BATCH_ASSOCIATE_SCRAM_SECRET,
      "BatchAssociateScramSecret"),
    R("PATCH", "/v1/clusters/{clusterArn}/scram-secrets", ST_OP_BATCH_DISASSOCIATE_SCRAM_SECRET,
      "BatchDisassociateScramSecret"),
    R("GET", "/v1/clusters/{clusterArn}/scram-secrets", ST_OP_LIST_SCRAM_SECRETS,
      "ListScramSecrets"),
    R("POST", "/v1/tags/{resourceArn}", ST_OP_TAG_RESOURCE, "TagResource"),
    R("DELETE", "/v1/tags/{resourceArn}", ST_OP_UNTAG_RESOURCE, "UntagResource"),
    R("GET", "/v1/tags/{resourceArn}", ST_OP_LIST_TAGS_FOR_RESOURCE, "ListTagsForResource"),
    {NULL, NULL, ST_OP__COUNT, NULL, NULL},
};

struct seg {
    const char *p; /* start */
    size_t n;      /* length */
};

/* Splits "/a/b/c" into segments; returns the count or -1 (no leading '/', too many). */
static int
split(const char *path, size_t len, struct seg *out)
{
    if (len == 0 || path[0] != '/')
        return -1;
    int n = 0;
    size_t i = 1, start = 1;
    for (; i <= len; i++) {
        if (i == len || path[i] == '/') {
            if (n == ST_ROUTE_MAX_SEGMENTS)
                return -1;
            out[n].p = path + start;
            out[n].n = i - start;
            n++;
            start = i + 1;
        }
    }
    return n;
}

/* Does the template match the raw segments (labels match any non-empty segment)? */
static bool
tmpl_matches(const char *tmpl, const struct seg *segs, int n)
{
    struct seg t[ST_ROUTE_MAX_SEGMENTS];
    int tn = split(tmpl, strlen(tmpl), t);
    if (tn != n)
        return false;
    for (int i = 0; i < n; i++) {
        if (t[i].n > 1 && t[i].p[0] == '{') {
            if (segs[i].n == 0)
                return false;
            continue;
        }
        if (t[i].n != segs[i].n || memcmp(t[i].p, segs[i].p, t[i].n) != 0)
            return false;
    }
    return true;
}

static const char *const label_names[] = {"clusterArn", "arn", "resourceArn"};

int
st_route_find(const char *method, const char *path, size_t len, struct st_route_match *m,
              const char **err)
{
    memset(m, 0, sizeof(*m));
    struct seg segs[ST_ROUTE_MAX_SEGMENTS];
    int n = split(path, len, segs);
    if (n < 0) {
        *err = "no operation has this path";
        return ST_ROUTE_NO_PATH;
    }
    bool path_seen = false;
    for (const struct st_route *r = st_routes; r->method; r++) {
        if (!tmpl_matches(r->tmpl, segs, n))
            continue;
        path_seen = true;
        if (strcmp(r->method, method) != 0)
            continue;
        m->route = r;
        struct seg t[ST_ROUTE_MAX_SEGMENTS];
        (void)split(r->tmpl, strlen(r->tmpl), t);
        for (int i = 0; i < n; i++) {
            if (!(t[i].n > 1 && t[i].p[0] == '{'))
                continue;
            if (m->n_labels == ST_ROUTE_MAX_LABELS)
                break;
            for (size_t k = 0; k < sizeof(label_names) / sizeof(label_names[0]); k++)
                if (strlen(label_names[k]) == t[i].n - 2 &&
                    memcmp(label_names[k], t[i].p + 1, t[i].n - 2) == 0)
                    m->label_names[m->n_labels] = label_names[k];
            struct st_buf b = ST_BUF_INIT;
            const char *derr = NULL;
            if (st_uri_decode(&b, segs[i].p, segs[i].n, false, &derr) != 0 ||
                st_buf_append_u8(&b, 0) != 0 || strlen((char *)b.data) + 1 != b.len) {
                st_buf_free(&b);
                st_route_match_clear(m);
                *err = "a path label is not correctly percent-encoded";
                return ST_ROUTE_BAD_LABEL;
            }
            m->labels[m->n_labels++] = (char *)b.data;
        }
        return ST_ROUTE_OK;
    }
    *err = path_seen ? "this path does not support the HTTP method" : "no operation has this path";
    return path_seen ? ST_ROUTE_NO_METHOD : ST_ROUTE_NO_PATH;
}

const char *
st_route_label(const struct st_route_match *m, const char *name)
{
    for (size_t i = 0; i < m->n_labels; i++)
        if (m->label_names[i] && strcmp(m->label_names[i], name) == 0)
            return m->labels[i];
    return NULL;
}

void
st_route_match_clear(struct st_route_match *m)
{
    for (size_t i = 0; i < m->n_labels; i++)
        free(m->labels[i]);
    memset(m, 0, sizeof(*m));
}

static char *
decode_part(const char *s, size_t n, const char **err)
{
    struct st_buf b = ST_BUF_INIT;
    if (st_uri_decode(&b, s, n, true, err) != 0 || st_buf_append_u8(&b, 0) != 0) {
        st_buf_free(&b);
        if (!*err)
            *err = "out of memory";
        return NULL;
    }
    if (strlen((char *)b.data) + 1 != b.len) {
        st_buf_free(&b);
        *err = "a query parameter contains a NUL byte";
        return NULL;
    }
    return (char *)b.data;
}

int
st_query_parse(const char *q, size_t len, struct st_query *out, const char **err)
{
    memset(out, 0, sizeof(*out));
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(q + i, '=', j - i);
            size_t nl = eq ? (size_t)(eq - (q + i)) : j - i;
            if (out->n == ST_QUERY_MAX_PARAMS) {
                *err = "too many query parameters";
                goto fail;
            }
            *err = NULL;
            char *name = decode_part(q + i, nl, err);
            char *value =
                name ? (eq ? decode_part(eq + 1, (size_t)(q + j - eq - 1), err) : strdup(""))
                     : NULL;
            if (!name || !value) {
                free(name);
                free(value);
                if (!*err)
                    *err = "out of memory";
                goto fail;
            }
            out->names[out->n] = name;
            out->values[out->n++] = value;
        }
        i = j + 1;
    }
    return 0;
fail:
    st_query_clear(out);
    return -1;
}

const char *
st_query_get(const struct st_query *q, const char *name)
{
    for (size_t i = 0; i < q->n; i++)
        if (strcmp(q->names[i], name) == 0)
            return q->values[i];
    return NULL;
}

void
st_query_clear(struct st_query *q)
{
    for (size_t i = 0; i < q->n; i++) {
        free(q->names[i]);
        free(q->values[i]);
    }
    memset(q, 0, sizeof(*q));
}

int
st_parse_max_results(const char *s, int dflt, int *out)
{
    if (!s || !*s) {
        *out = dflt;
        return 0;
    }
    int v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > 1000)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (v < 1 || v > 100)
        return -1;
    *out = v;
    return 0;
}

#define TOKEN_PREFIX "st1."

char *
st_page_token_encode(const char *key)
{
    size_t n = strlen(key);
    size_t cap = sizeof(TOKEN_PREFIX) + st_b64_encoded_len(n) + 1;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    memcpy(out, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1);
    long w = st_b64url_encode((const uint8_t *)key, n, out + sizeof(TOKEN_PREFIX) - 1,
                              cap - sizeof(TOKEN_PREFIX) + 1);
    if (w < 0) {
        free(out);
        return NULL;
    }
    out[sizeof(TOKEN_PREFIX) - 1 + (size_t)w] = '\0';
    return out;
}

char *
st_page_token_decode(const char *token)
{
    size_t n = strlen(token);
    if (n <= sizeof(TOKEN_PREFIX) - 1 ||
        memcmp(token, TOKEN_PREFIX, sizeof(TOKEN_PREFIX) - 1) != 0 || n > 4096)
        return NULL;
    const char *b = token + sizeof(TOKEN_PREFIX) - 1;
    size_t bn = n - (sizeof(TOKEN_PREFIX) - 1);
    size_t cap = st_b64_decoded_max(bn) + 1;
    uint8_t *out = malloc(cap);
    const char *err;
    long w = out ? st_b64url_decode(b, bn, out, cap - 1, &err) : -1;
    if (w <= 0 || memchr(out, 0, (size_t)w)) {
        free(out);
        return NULL;
    }
    out[w] = 0;
    return (char *)out;
}

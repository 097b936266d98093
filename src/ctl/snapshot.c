/*
 * Snapshot construction from the store (see snapshot.h): read everything once, compile every
 * policy and every cluster's ACL set, sort for binary search. Built after each committed change;
 * small by design (one control plane's IAM and connections).
 */
#include "ctl/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "authz/acl.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/log.h"

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static const char *
js(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static struct st_policy *
compile(const char *doc, enum st_policy_kind kind, const char *what)
{
    if (!doc)
        return NULL;
    json_t *j = json_loads(doc, 0, NULL);
    const json_t *stmts = json_object_get(j, "Statement");
    bool empty = json_is_array(stmts) && json_array_size(stmts) == 0;
    json_decref(j);
    if (empty)
        return NULL; /* grants nothing (accepted by apply) */
    struct st_policy_parse_opts o = {kind, 0, false};
    const char *err = NULL;
    struct st_policy *p = st_policy_parse(doc, strlen(doc), &o, NULL, &err);
    if (!p)
        st_warn("snapshot: the policy of %s no longer compiles (%s); it is ignored", what,
                err ? err : "?");
    return p;
}

static int
cmp_principal(const void *a, const void *b)
{
    return strcmp(((const struct st_snap_principal *)a)->arn,
                  ((const struct st_snap_principal *)b)->arn);
}
static int
cmp_cred(const void *a, const void *b)
{
    return strcmp(((const struct st_snap_cred *)a)->access_key_id,
                  ((const struct st_snap_cred *)b)->access_key_id);
}
static int
cmp_cluster(const void *a, const void *b)
{
    return strcmp(((const struct st_snap_cluster *)a)->arn,
                  ((const struct st_snap_cluster *)b)->arn);
}
static int
cmp_conn(const void *a, const void *b)
{
    return strcmp(((const struct st_snap_conn *)a)->arn, ((const struct st_snap_conn *)b)->arn);
}

/* Compiles the identity policies of `arn` into p. */
static void
load_policies(struct st_store *s, const char *arn, struct st_snap_principal *p)
{
    json_t *docs = st_store_principal_policies(s, arn);
    size_t n = docs ? json_array_size(docs) : 0;
    p->policies = calloc(n ? n : 1, sizeof(*p->policies));
    for (size_t i = 0; i < n && p->policies; i++) {
        struct st_policy *pol =
            compile(json_string_value(json_array_get(docs, i)), ST_POLICY_IDENTITY, arn);
        if (pol)
            p->policies[p->n_policies++] = pol;
    }
    json_decref(docs);
}

/* Resolves the TCP ingress rules of security groups `sgs` (current definitions), appended to
 * *rules / *n_rules. */
static void
load_ingress(struct st_store *s, const json_t *sgs, struct st_snap_ingress **rules, size_t *n_rules)
{
    size_t i, j;
    json_t *id, *rule;
    json_array_foreach(sgs, i, id)
    {
        json_t *sg = json_is_string(id) ? st_store_sg_get(s, json_string_value(id)) : NULL;
        json_array_foreach(json_object_get(sg, "ingress"), j, rule)
        {
            const char *proto = js(rule, "protocol");
            const char *ports = js(rule, "ports");
            const char *cidr = js(rule, "cidr");
            if (!proto || (strcmp(proto, "tcp") != 0 && strcmp(proto, "-1") != 0 &&
                           strcmp(proto, "all") != 0))
                continue;
            int lo = 0, hi = 65535;
            if (ports && strcmp(ports, "all") != 0) {
                char *end;
                lo = (int)strtol(ports, &end, 10);
                hi = *end == '-' ? (int)strtol(end + 1, NULL, 10) : lo;
            }
            struct st_snap_ingress *arr = realloc(*rules, (*n_rules + 1) * sizeof(*arr));
            if (!arr)
                break;
            *rules = arr;
            snprintf(arr[*n_rules].cidr, sizeof(arr[*n_rules].cidr), "%s",
                     cidr ? cidr : "0.0.0.0/0");
            arr[*n_rules].port_lo = lo;
            arr[*n_rules].port_hi = hi;
            (*n_rules)++;
        }
        json_decref(sg);
    }
}

/* Builds the ACL set of a cluster from its stored bindings; rows that no longer parse are skipped
 * with a warning. Returns a new set, or NULL when out of memory or the store fails. */
static struct st_acl_set *
load_acls(struct st_store *s, const char *arn)
{
    json_t *rows = st_store_acl_list(s, arn);
    if (!rows)
        return NULL;
    size_t n = json_array_size(rows), k = 0;
    struct st_acl_binding *b = calloc(n ? n : 1, sizeof(*b));
    if (!b) {
        json_decref(rows);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const char *err = NULL;
        if (st_acl_binding_from_json(json_array_get(rows, i), &b[k], &err) != 0) {
            st_acl_binding_clear(&b[k]);
            st_warn("snapshot: an ACL binding of %s no longer parses (%s); it is ignored", arn,
                    err ? err : "?");
            continue;
        }
        k++;
    }
    struct st_acl_set *set = st_acl_set_new(b, k);
    for (size_t i = 0; i < k; i++)
        st_acl_binding_clear(&b[i]);
    free(b);
    json_decref(rows);
    return set;
}

static bool
get_bool(const json_t *o, const char *path)
{
    /* path like "a.b.c" */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *cur = o;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, tok);
    return json_is_true(cur);
}

struct st_snapshot *
st_snapshot_build(struct st_store *s, uint64_t generation, int64_t now, const char **err)
{
    struct st_snapshot *snap = calloc(1, sizeof(*snap));
    json_t *principals = st_store_principal_list(s);
    json_t *keys = st_store_key_list(s);
    json_t *sessions = st_store_session_list(s, now);
    json_t *clusters = st_store_cluster_list(s, NULL, NULL, NULL, 0);
    json_t *conns = st_store_conn_list(s, NULL, NULL, NULL, 0);
    if (!snap || !principals || !keys || !sessions || !clusters || !conns) {
        *err = "cannot read the state to build a snapshot";
        goto fail;
    }
    snap->refs = 1;
    snap->generation = generation;
    size_t np = json_array_size(principals) + json_array_size(sessions);
    snap->principals = calloc(np ? np : 1, sizeof(*snap->principals));
    size_t nc = json_array_size(keys) + json_array_size(sessions);
    snap->creds = calloc(nc ? nc : 1, sizeof(*snap->creds));
    snap->clusters = calloc(json_array_size(clusters) + 1, sizeof(*snap->clusters));
    snap->conns = calloc(json_array_size(conns) + 1, sizeof(*snap->conns));
    if (!snap->principals || !snap->creds || !snap->clusters || !snap->conns) {
        *err = "out of memory";
        goto fail;
    }
    size_t i;
    json_t *r;
    json_array_foreach(principals, i, r)
    {
        if (strcmp(js(r, "kind"), "user") != 0)
            continue; /* roles act only through sessions */
        struct st_snap_principal *p = &snap->principals[snap->n_principals++];
        p->arn = strdup(js(r, "arn"));
        snprintf(p->account, sizeof(p->account), "%s", js(r, "account"));
        load_policies(s, p->arn, p);
    }
    json_array_foreach(sessions, i, r)
    {
        struct st_snap_principal *p = &snap->principals[snap->n_principals++];
        p->arn = strdup(js(r, "principal"));
        p->role_arn = strdup(js(r, "role"));
        snprintf(p->account, sizeof(p->account), "%s", js(r, "account"));
        load_policies(s, p->role_arn, p);
    }
    qsort(snap->principals, snap->n_principals, sizeof(*snap->principals), cmp_principal);
    json_array_foreach(keys, i, r)
    {
        const struct st_snap_principal *p = st_snapshot_principal(snap, js(r, "principal"));
        if (!p || strcmp(js(r, "status"), "Active") != 0)
            continue;
        struct st_snap_cred *c = &snap->creds[snap->n_creds++];
        c->access_key_id = strdup(js(r, "accessKeyId"));
        c->secret = strdup(js(r, "secret"));
        c->principal = (size_t)(p - snap->principals);
    }
    json_array_foreach(sessions, i, r)
    {
        const struct st_snap_principal *p = st_snapshot_principal(snap, js(r, "principal"));
        if (!p)
            continue;
        struct st_snap_cred *c = &snap->creds[snap->n_creds++];
        c->access_key_id = strdup(js(r, "accessKeyId"));
        c->secret = strdup(js(r, "secret"));
        c->session_token = strdup(js(r, "sessionToken"));
        c->expires = json_integer_value(json_object_get(r, "expires"));
        c->principal = (size_t)(p - snap->principals);
    }
    qsort(snap->creds, snap->n_creds, sizeof(*snap->creds), cmp_cred);
    json_array_foreach(clusters, i, r)
    {
        struct st_snap_cluster *c = &snap->clusters[snap->n_clusters++];
        c->arn = strdup(js(r, "clusterArn"));
        c->name = strdup(js(r, "clusterName"));
        snprintf(c->account, sizeof(c->account), "%s", js(r, "account"));
        json_t *pol = st_store_cluster_policy_get(s, c->arn);
        if (pol)
            c->policy = compile(js(pol, "policy"), ST_POLICY_CLUSTER, c->arn);
        json_decref(pol);
        const json_t *va = json_object_get(
            json_object_get(json_object_get(r, "connectivityInfo"), "vpcConnectivity"),
            "clientAuthentication");
        c->vpc_iam = get_bool(va, "sasl.iam.enabled");
        c->vpc_scram = get_bool(va, "sasl.scram.enabled");
        c->vpc_tls = get_bool(va, "tls.enabled");
        c->unauthenticated =
            get_bool(json_object_get(r, "clientAuthentication"), "unauthenticated.enabled");
        /* The cluster's own security groups guard its in-VPC endpoints (none named: not
         * enforced, as strait models no VPC default group). */
        const json_t *csgs =
            json_object_get(json_object_get(r, "brokerNodeGroupInfo"), "securityGroups");
        c->sg_enforced = json_array_size(csgs) > 0;
        load_ingress(s, csgs, &c->ingress, &c->n_ingress);
        json_t *tags = st_store_tags_get(s, c->arn);
        size_t ntags = json_object_size(tags);
        if (ntags) {
            c->tag_keys = calloc(ntags, sizeof(char *));
            c->tag_values = calloc(ntags, sizeof(char *));
            const char *tk;
            json_t *tv;
            json_object_foreach(tags, tk, tv)
            {
                if (!c->tag_keys || !c->tag_values || !json_is_string(tv))
                    continue;
                size_t kl = strlen(tk);
                char *key = malloc(sizeof("aws:ResourceTag/") + kl);
                char *val = strdup(json_string_value(tv));
                if (!key || !val) {
                    free(key);
                    free(val);
                    continue;
                }
                memcpy(key, "aws:ResourceTag/", sizeof("aws:ResourceTag/") - 1);
                memcpy(key + sizeof("aws:ResourceTag/") - 1, tk, kl + 1);
                c->tag_keys[c->n_tags] = key;
                c->tag_values[c->n_tags++] = val;
            }
        }
        json_decref(tags);
        c->acls = load_acls(s, c->arn);
        if (!c->acls) {
            *err = "cannot read the Kafka ACLs of a cluster to build a snapshot";
            goto fail;
        }
        json_t *secrets = st_store_cluster_scram_list(s, c->arn, NULL, 0);
        size_t j;
        json_t *x;
        json_array_foreach(secrets, j, x)
        {
            struct st_snap_scram *arr =
                realloc(snap->scram, (snap->n_scram + 1) * sizeof(*snap->scram));
            if (!arr)
                break;
            snap->scram = arr;
            struct st_snap_scram *sc = &arr[snap->n_scram];
            memset(sc, 0, sizeof(*sc));
            const char *cred = js(x, "credential");
            const char *perr;
            if (!cred || st_scram_cred_parse(cred, strlen(cred), &sc->cred, &perr) != 0)
                continue;
            sc->cluster_arn = strdup(c->arn);
            sc->username = strdup(js(x, "username"));
            snap->n_scram++;
        }
        json_decref(secrets);
    }
    qsort(snap->clusters, snap->n_clusters, sizeof(*snap->clusters), cmp_cluster);
    json_array_foreach(conns, i, r)
    {
        struct st_snap_conn *c = &snap->conns[snap->n_conns++];
        c->arn = strdup(js(r, "vpcConnectionArn"));
        c->cluster_arn = strdup(js(r, "targetClusterArn"));
        snprintf(c->owner, sizeof(c->owner), "%s", js(r, "owner"));
        snprintf(c->authentication, sizeof(c->authentication), "%s", js(r, "authentication"));
        snprintf(c->state, sizeof(c->state), "%s", js(r, "state"));
        snprintf(c->vpc_id, sizeof(c->vpc_id), "%s", js(r, "vpcId"));
        json_t *addrs = json_object_get(r, "endpointAddresses");
        c->addresses = calloc(json_array_size(addrs) + 1, sizeof(char *));
        size_t j;
        json_t *a;
        json_array_foreach(addrs, j, a) if (c->addresses) c->addresses[c->n_addresses++] =
            dup_or_null(json_string_value(a));
        load_ingress(s, json_object_get(r, "securityGroups"), &c->ingress, &c->n_ingress);
    }
    qsort(snap->conns, snap->n_conns, sizeof(*snap->conns), cmp_conn);
    json_decref(principals);
    json_decref(keys);
    json_decref(sessions);
    json_decref(clusters);
    json_decref(conns);
    return snap;
fail:
    json_decref(principals);
    json_decref(keys);
    json_decref(sessions);
    json_decref(clusters);
    json_decref(conns);
    st_snapshot_unref(snap);
    return NULL;
}

struct st_snapshot *
st_snapshot_ref(struct st_snapshot *snap)
{
    if (snap)
        __atomic_add_fetch(&snap->refs, 1, __ATOMIC_RELAXED);
    return snap;
}

void
st_snapshot_unref(struct st_snapshot *snap)
{
    if (!snap || __atomic_sub_fetch(&snap->refs, 1, __ATOMIC_ACQ_REL) > 0)
        return;
    for (size_t i = 0; i < snap->n_principals; i++) {
        struct st_snap_principal *p = &snap->principals[i];
        for (size_t j = 0; j < p->n_policies; j++)
            st_policy_unref(p->policies[j]);
        free(p->policies);
        free(p->arn);
        free(p->role_arn);
    }
    free(snap->principals);
    for (size_t i = 0; i < snap->n_creds; i++) {
        struct st_snap_cred *c = &snap->creds[i];
        free(c->access_key_id);
        if (c->secret) {
            memset(c->secret, 0, strlen(c->secret));
            free(c->secret);
        }
        free(c->session_token);
    }
    free(snap->creds);
    for (size_t i = 0; i < snap->n_clusters; i++) {
        free(snap->clusters[i].arn);
        free(snap->clusters[i].name);
        st_policy_unref(snap->clusters[i].policy);
        if (snap->clusters[i].acls)
            st_acl_set_free(snap->clusters[i].acls);
        for (size_t j = 0; j < snap->clusters[i].n_super_users; j++)
            free(snap->clusters[i].super_users[j]);
        free(snap->clusters[i].super_users);
        for (size_t j = 0; j < snap->clusters[i].n_tags; j++) {
            free(snap->clusters[i].tag_keys[j]);
            free(snap->clusters[i].tag_values[j]);
        }
        free(snap->clusters[i].ingress);
        free(snap->clusters[i].tag_keys);
        free(snap->clusters[i].tag_values);
    }
    free(snap->clusters);
    for (size_t i = 0; i < snap->n_conns; i++) {
        struct st_snap_conn *c = &snap->conns[i];
        free(c->arn);
        free(c->cluster_arn);
        for (size_t j = 0; j < c->n_addresses; j++)
            free(c->addresses[j]);
        free(c->addresses);
        free(c->ingress);
    }
    free(snap->conns);
    for (size_t i = 0; i < snap->n_scram; i++) {
        free(snap->scram[i].cluster_arn);
        free(snap->scram[i].username);
    }
    free(snap->scram);
    free(snap);
}

int
st_snapshot_set_super_users(struct st_snapshot *snap, const char *const *users, size_t n)
{
    int rc = 0;
    for (size_t i = 0; i < snap->n_clusters; i++) {
        struct st_snap_cluster *c = &snap->clusters[i];
        for (size_t j = 0; j < c->n_super_users; j++)
            free(c->super_users[j]);
        free(c->super_users);
        c->super_users = NULL;
        c->n_super_users = 0;
        if (n == 0)
            continue;
        char **v = calloc(n + 1, sizeof(*v));
        size_t k = 0;
        for (; v && k < n; k++)
            if (!(v[k] = strdup(users[k])))
                break;
        if (!v || k < n) {
            for (size_t j = 0; v && j < k; j++)
                free(v[j]);
            free(v);
            rc = -1;
            continue;
        }
        c->super_users = v;
        c->n_super_users = n;
    }
    return rc;
}

const struct st_snap_cred *
st_snapshot_cred(const struct st_snapshot *snap, const char *akid)
{
    struct st_snap_cred key = {.access_key_id = (char *)akid};
    return bsearch(&key, snap->creds, snap->n_creds, sizeof(key), cmp_cred);
}

const struct st_snap_principal *
st_snapshot_principal(const struct st_snapshot *snap, const char *arn)
{
    struct st_snap_principal key = {.arn = (char *)arn};
    return bsearch(&key, snap->principals, snap->n_principals, sizeof(key), cmp_principal);
}

const struct st_snap_cluster *
st_snapshot_cluster(const struct st_snapshot *snap, const char *arn)
{
    struct st_snap_cluster key = {.arn = (char *)arn};
    return bsearch(&key, snap->clusters, snap->n_clusters, sizeof(key), cmp_cluster);
}

const struct st_snap_conn *
st_snapshot_conn(const struct st_snapshot *snap, const char *arn)
{
    struct st_snap_conn key = {.arn = (char *)arn};
    return bsearch(&key, snap->conns, snap->n_conns, sizeof(key), cmp_conn);
}

/*
 * The MSK operations (msk-control-api.md §10; multi-vpc-connectivity.md for the rules). Each
 * handler validates its input with the wire member names, authorizes through st_api_authorize()
 * (identity policies, plus the cluster policy when the resource is a cluster), writes the store
 * in one transaction, publishes a snapshot, answers, and leaves slow transitions to deferred
 * lifecycle steps (runtime.c).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/scram.h"
#include "ctl/internal.h"
#include "policy/arn.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/log.h"

#define BAD "BadRequestException"
#define NOTFOUND "NotFoundException"
#define FORBIDDEN "ForbiddenException"
#define CONFLICT "ConflictException"
#define INTERNAL "InternalServerErrorException"
#define TRANSITION_MS 300

static const char *
jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static const char *
jstr0(const json_t *o, const char *k)
{
    const char *v = jstr(o, k);
    return v ? v : "";
}

static const json_t *
jpath(const json_t *o, const char *path)
{
    char buf[160];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *cur = o;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok && cur;
         tok = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, tok);
    return cur;
}

/* Sets o[a][b]...[last] = v (stolen), creating objects on the way. */
static void
jset(json_t *o, const char *path, json_t *v)
{
    char buf[160];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL, *tok = strtok_r(buf, ".", &save);
    json_t *cur = o;
    while (tok) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            json_object_set_new(cur, tok, v);
            return;
        }
        json_t *child = json_object_get(cur, tok);
        if (!json_is_object(child)) {
            child = json_object();
            json_object_set_new(cur, tok, child);
        }
        cur = child;
        tok = next;
    }
    json_decref(v);
}

/* Answers InternalServerError for a failed store call (rolls back an open transaction).
 * `errp` is read after the call (argument evaluation order is unspecified). */
static bool
store_failed(struct st_api *a, int rc, const char *const *errp)
{
    if (rc == 0)
        return false;
    st_store_rollback(a->ctl->store);
    st_api_error(a, INTERNAL, NULL, "%s", *errp ? *errp : "the state store failed");
    return true;
}

/* ---- shared lookups */

static bool
is_cluster_arn(const char *arn, struct st_arn *out)
{
    const char *err;
    return arn && st_arn_parse(arn, strlen(arn), out, &err) == 0 && out->len[2] == 5 &&
           memcmp(out->seg[2], "kafka", 5) == 0 && out->len[5] > 8 &&
           memcmp(out->seg[5], "cluster/", 8) == 0 &&
           st_arn_is_account_id(out->seg[4], out->len[4]);
}

static const struct st_policy *
cluster_policy(struct st_api *a, const char *arn)
{
    const struct st_snap_cluster *c = st_snapshot_cluster(a->ctl->snap, arn);
    return c ? c->policy : NULL;
}

/*
 * The cluster named by the clusterArn label: validates the ARN, authorizes `action` with the
 * cluster policy, and answers NotFoundException (or BadRequestException for operations that do
 * not model NotFound) when it does not exist. Returns a new reference or NULL (answered).
 */
static json_t *
load_cluster(struct st_api *a, const char *arn, bool notfound_modeled, const char *param)
{
    struct st_arn p;
    if (!is_cluster_arn(arn, &p)) {
        st_api_error(
            a, BAD, param,
            "%s is not an MSK cluster ARN (arn:aws:kafka:REGION:ACCOUNT:cluster/NAME/UUID)",
            arn ? arn : "(missing)");
        return NULL;
    }
    json_t *rec = st_store_cluster_get(a->ctl->store, arn);
    if (st_api_authorize(a, a->m.route->action, arn, rec ? cluster_policy(a, arn) : NULL) != 0) {
        json_decref(rec);
        return NULL;
    }
    if (!rec)
        st_api_error(a, notfound_modeled ? NOTFOUND : BAD, param,
                     "cluster %s does not exist in region %s", arn, a->ctl->region);
    return rec;
}

static const char *
label_cluster(struct st_api *a)
{
    return st_route_label(&a->m, "clusterArn");
}

/* Pagination parameters; answers and returns -1 on bad input. *after is owned. */
static int
page_params(struct st_api *a, int *limit, char **after)
{
    *after = NULL;
    if (st_parse_max_results(st_query_get(&a->q, "maxResults"), 100, limit) != 0) {
        st_api_error(a, BAD, "maxResults", "maxResults must be an integer from 1 to 100");
        return -1;
    }
    const char *tok = st_query_get(&a->q, "nextToken");
    if (tok && *tok) {
        *after = st_page_token_decode(tok);
        if (!*after) {
            st_api_error(a, BAD, "nextToken",
                         "nextToken was not issued by this API; pass the value of a previous "
                         "response's nextToken unchanged");
            return -1;
        }
    }
    return 0;
}

/* Trims rows fetched with limit+1 to `limit` and sets out.nextToken when there were more. */
static void
page_finish(json_t *out, json_t *rows, int limit, const char *key)
{
    if ((int)json_array_size(rows) > limit) {
        json_array_remove(rows, (size_t)limit);
        const char *last = jstr(json_array_get(rows, (size_t)limit - 1), key);
        char *tok = last ? st_page_token_encode(last) : NULL;
        if (tok)
            json_object_set_new(out, "nextToken", json_string(tok));
        free(tok);
    }
}

/* Validates an optional tags map (AWS limits: 50 tags, keys 1-128, values 0-256 characters, no
 * "aws:" prefix). Answers BadRequestException and returns -1 when invalid. */
static int
check_tags(struct st_api *a, const json_t *tags)
{
    if (!tags)
        return 0;
    if (!json_is_object(tags) || json_object_size(tags) > 50) {
        st_api_error(a, BAD, "tags", "tags must be an object of at most 50 string values");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)tags, k, v)
    {
        size_t kl = strlen(k);
        if (!json_is_string(v) || kl < 1 || kl > 128 || strlen(json_string_value(v)) > 256 ||
            strncmp(k, "aws:", 4) == 0) {
            st_api_error(a, BAD, "tags",
                         "tag %.128s: keys are 1-128 characters not starting with \"aws:\", "
                         "values are strings of at most 256 characters",
                         k);
            return -1;
        }
    }
    return 0;
}

static void
version_new(char out[15])
{
    st_ctl_random(out, 14, ST_ALNUM_UPPER);
    out[0] = 'K';
}

/* ---- endpoint addresses */

/*
 * Addresses held by clusters other than `cluster` (their in-VPC endpoints) and by live
 * connections to them: every cluster uses the same per-broker ports, so an address serves one
 * cluster. Returns a new array of strings.
 */
static json_t *
busy_addresses(struct st_ctl *ctl, const char *cluster)
{
    json_t *busy = json_array();
    size_t i;
    json_t *z;
    json_t *clusters = st_store_cluster_list(ctl->store, NULL, NULL, NULL, 0);
    json_array_foreach(clusters, i, z)
    {
        if (strcmp(jstr0(z, "clusterArn"), cluster) != 0)
            json_array_extend(busy, json_object_get(z, "endpointAddresses"));
    }
    json_decref(clusters);
    json_t *every = st_store_conn_list(ctl->store, NULL, NULL, NULL, 0);
    json_array_foreach(every, i, z)
    {
        const char *st = jstr0(z, "state");
        if (strcmp(jstr0(z, "targetClusterArn"), cluster) == 0 || strcmp(st, "INACTIVE") == 0 ||
            strcmp(st, "REJECTED") == 0 || strcmp(st, "FAILED") == 0)
            continue;
        json_array_extend(busy, json_object_get(z, "endpointAddresses"));
    }
    json_decref(every);
    return busy;
}

/*
 * Picks the first address of subnet record `sub` (endpointAddress, then extraAddresses) that
 * `busy` does not hold, and appends {subnetId, azId, address} to `endpoints` and the address to
 * `addrs` (once). Returns 0, or -1 when every address is taken.
 */
static int
pick_address(const json_t *sub, const json_t *busy, json_t *endpoints, json_t *addrs)
{
    json_t *cands = json_loads(jstr0(sub, "extraAddresses"), 0, NULL);
    if (!json_is_array(cands)) {
        json_decref(cands);
        cands = json_array();
    }
    json_array_insert_new(cands, 0, json_string(jstr0(sub, "endpointAddress")));
    const char *addr = NULL;
    size_t j, k;
    json_t *c, *b;
    json_array_foreach(cands, j, c)
    {
        bool taken = false;
        json_array_foreach(busy, k, b) if (json_equal(b, c)) taken = true;
        if (!taken && json_is_string(c)) {
            addr = json_string_value(c);
            break;
        }
    }
    if (addr) {
        json_array_append_new(endpoints, json_pack("{s:s, s:s, s:s}", "subnetId", jstr0(sub, "id"),
                                                   "azId", jstr0(sub, "azId"), "address", addr));
        bool dup = false;
        json_array_foreach(addrs, j, c) if (strcmp(json_string_value(c), addr) == 0) dup = true;
        if (!dup)
            json_array_append_new(addrs, json_string(addr));
    }
    json_decref(cands);
    return addr ? 0 : -1;
}

/* ---- clusters */

static json_t *
render_bngi(const json_t *rec)
{
    json_t *b = json_deep_copy(json_object_get(rec, "brokerNodeGroupInfo"));
    if (!b)
        b = json_object();
    json_object_set(b, "connectivityInfo", json_object_get(rec, "connectivityInfo"));
    return b;
}

static json_t *
render_cluster_info(struct st_api *a, const json_t *rec)
{
    json_t *o = json_pack(
        "{s:O, s:O, s:O, s:O, s:O, s:o, s:O, s:O, s:{s:O}, s:s, s:s, s:o}", "clusterArn",
        json_object_get(rec, "clusterArn"), "clusterName", json_object_get(rec, "clusterName"),
        "creationTime", json_object_get(rec, "creationTime"), "currentVersion",
        json_object_get(rec, "currentVersion"), "state", json_object_get(rec, "state"),
        "brokerNodeGroupInfo", render_bngi(rec), "clientAuthentication",
        json_object_get(rec, "clientAuthentication"), "numberOfBrokerNodes",
        json_object_get(rec, "numberOfBrokerNodes"), "currentBrokerSoftwareInfo", "kafkaVersion",
        json_object_get(rec, "kafkaVersion"), "enhancedMonitoring", "DEFAULT", "storageMode",
        "LOCAL", "tags", st_store_tags_get(a->ctl->store, jstr0(rec, "clusterArn")));
    if (!o)
        return json_object();
    if (json_object_get(rec, "encryptionInfo"))
        json_object_set(o, "encryptionInfo", json_object_get(rec, "encryptionInfo"));
    if (json_object_get(rec, "activeOperationArn"))
        json_object_set(o, "activeOperationArn", json_object_get(rec, "activeOperationArn"));
    if (json_object_get(rec, "stateInfo"))
        json_object_set(o, "stateInfo", json_object_get(rec, "stateInfo"));
    return o;
}

static json_t *
render_cluster_v2(struct st_api *a, const json_t *rec)
{
    json_t *info = render_cluster_info(a, rec);
    json_t *o = json_object();
    static const char *const top[] = {"clusterArn",         "clusterName", "creationTime",
                                      "currentVersion",     "state",       "tags",
                                      "activeOperationArn", "stateInfo"};
    for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
        json_t *v = json_object_get(info, top[i]);
        if (v) {
            json_object_set(o, top[i], v);
            json_object_del(info, top[i]);
        }
    }
    json_object_set_new(o, "clusterType", json_string("PROVISIONED"));
    json_object_set_new(o, "provisioned", info);
    return o;
}

static bool
valid_cluster_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64 || !isalnum((unsigned char)s[0]))
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-')
            return false;
    return true;
}

static void
normalize_auth(json_t *ca)
{
    static const char *const keys[] = {"sasl.iam.enabled", "sasl.scram.enabled", "tls.enabled",
                                       "unauthenticated.enabled"};
    for (size_t i = 0; i < 4; i++)
        if (!json_is_boolean(jpath(ca, keys[i])))
            jset(ca, keys[i], json_false());
}

static bool
auth_on(const json_t *ca, const char *key)
{
    return json_is_true(jpath(ca, key));
}

static void
op_create_cluster(struct st_api *a)
{
    struct st_ctl *ctl = a->ctl;
    const char *acct = a->caller->account;
    const char *name = jstr(a->body, "clusterName");
    if (!name || !valid_cluster_name(name)) {
        st_api_error(a, BAD, "clusterName",
                     "clusterName is required: 1-64 letters, digits and hyphens, starting with a "
                     "letter or digit");
        return;
    }
    if (json_object_get(a->body, "serverless")) {
        st_api_error(a, BAD, "serverless",
                     "strait runs provisioned clusters only; send `provisioned` instead of "
                     "`serverless`");
        return;
    }
    const json_t *prov = json_object_get(a->body, "provisioned");
    if (!json_is_object(prov)) {
        st_api_error(a, BAD, "provisioned",
                     "provisioned is required (brokerNodeGroupInfo, kafkaVersion, "
                     "numberOfBrokerNodes)");
        return;
    }
    const json_t *bngi = json_object_get(prov, "brokerNodeGroupInfo");
    const json_t *subnets = json_object_get(bngi, "clientSubnets");
    if (!json_is_array(subnets) || json_array_size(subnets) == 0) {
        st_api_error(a, BAD, "clientSubnets",
                     "brokerNodeGroupInfo.clientSubnets must list the cluster's subnets (from "
                     "`strait admin apply`)");
        return;
    }
    const char *kv = jstr(prov, "kafkaVersion");
    if (!kv || !*kv) {
        st_api_error(a, BAD, "kafkaVersion", "kafkaVersion is required, e.g. \"3.6.0\"");
        return;
    }
    json_int_t nb = json_integer_value(json_object_get(prov, "numberOfBrokerNodes"));
    int max_brokers = ctl->port_max - ctl->port_min + 1;
    if (nb < 1 || nb > max_brokers || nb % (json_int_t)json_array_size(subnets) != 0) {
        st_api_error(a, BAD, "numberOfBrokerNodes",
                     "numberOfBrokerNodes must be from 1 to %d and a multiple of the number of "
                     "client subnets (%zu)",
                     max_brokers, json_array_size(subnets));
        return;
    }
    const char *itype = jstr(bngi, "instanceType");
    if (itype && (strlen(itype) < 5 || strlen(itype) > 32)) {
        st_api_error(a, BAD, "instanceType",
                     "instanceType is 5-32 characters, e.g. kafka.m5.large");
        return;
    }
    if (strlen(kv) > 128) {
        st_api_error(a, BAD, "kafkaVersion", "kafkaVersion is at most 128 characters");
        return;
    }
    if (check_tags(a, json_object_get(a->body, "tags")) != 0)
        return;
    char uuid[37], arn[512];
    st_ctl_uuid(uuid);
    snprintf(arn, sizeof(arn), "arn:aws:kafka:%s:%s:cluster/%s/%s-%d", ctl->region, acct, name,
             uuid, 1 + (int)(uuid[0] % 9));
    if (st_api_authorize(a, "kafka:CreateClusterV2", arn, NULL) != 0)
        return;
    /* Subnets: the caller's, in distinct AZs. */
    json_t *azs = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(subnets, i, s)
    {
        json_t *sub =
            json_is_string(s) ? st_store_subnet_get(ctl->store, json_string_value(s)) : NULL;
        if (!sub || strcmp(jstr0(sub, "account"), acct) != 0) {
            st_api_error(a, BAD, "clientSubnets", "subnet %s is not a subnet of account %s",
                         json_is_string(s) ? json_string_value(s) : "(not a string)", acct);
            json_decref(sub);
            json_decref(azs);
            return;
        }
        size_t j;
        json_t *z;
        json_array_foreach(azs, j, z) if (strcmp(json_string_value(z), jstr0(sub, "azId")) == 0)
        {
            st_api_error(a, BAD, "clientSubnets",
                         "subnets %s and another one are both in %s: give one subnet per "
                         "Availability Zone",
                         json_string_value(s), jstr0(sub, "azId"));
            json_decref(sub);
            json_decref(azs);
            return;
        }
        json_array_append_new(azs, json_string(jstr0(sub, "azId")));
        json_decref(sub);
    }
    json_array_foreach(json_object_get(bngi, "securityGroups"), i, s)
    {
        json_t *sg = json_is_string(s) ? st_store_sg_get(ctl->store, json_string_value(s)) : NULL;
        bool ok = sg && strcmp(jstr0(sg, "account"), acct) == 0;
        json_decref(sg);
        if (!ok) {
            st_api_error(a, BAD, "securityGroups", "security group %s is not in account %s",
                         json_is_string(s) ? json_string_value(s) : "(not a string)", acct);
            json_decref(azs);
            return;
        }
    }
    json_t *existing = st_store_cluster_list(ctl->store, acct, name, NULL, 0);
    json_t *e;
    json_array_foreach(existing, i, e) if (strcmp(jstr0(e, "clusterName"), name) == 0)
    {
        json_decref(existing);
        json_decref(azs);
        st_api_error(a, CONFLICT, "clusterName",
                     "a cluster named %s already exists in account %s; choose another name", name,
                     acct);
        return;
    }
    json_decref(existing);
    /* In-VPC endpoints: one address per cluster subnet that no other cluster holds. */
    json_t *endpoints = json_array(), *addrs = json_array();
    json_t *busy = busy_addresses(ctl, arn);
    json_array_foreach(subnets, i, s)
    {
        json_t *sub = st_store_subnet_get(ctl->store, json_string_value(s));
        int prc = pick_address(sub, busy, endpoints, addrs);
        json_decref(sub);
        if (prc != 0) {
            st_api_error(a, BAD, "clientSubnets",
                         "every endpoint address of subnet %s is used by other clusters; add an "
                         "address to the subnet's endpointAddresses (strait admin apply)",
                         json_string_value(s));
            json_decref(busy);
            json_decref(endpoints);
            json_decref(addrs);
            json_decref(azs);
            return;
        }
    }
    json_decref(busy);
    json_t *ca = json_deep_copy(json_object_get(prov, "clientAuthentication"));
    if (!json_is_object(ca)) {
        json_decref(ca);
        ca = json_object();
    }
    normalize_auth(ca);
    if (!auth_on(ca, "sasl.iam.enabled") && !auth_on(ca, "sasl.scram.enabled") &&
        !auth_on(ca, "tls.enabled"))
        jset(ca, "unauthenticated.enabled", json_true());
    char now[32], version[15];
    st_ctl_iso_now(now);
    version_new(version);
    const json_t *sgs = json_object_get(bngi, "securityGroups");
    json_t *b =
        json_pack("{s:O, s:s, s:o}", "clientSubnets", subnets, "instanceType",
                  jstr(bngi, "instanceType") ? jstr(bngi, "instanceType") : "kafka.m5.large",
                  "securityGroups", sgs ? json_deep_copy(sgs) : json_array());
    json_object_set_new(b, "brokerAZDistribution", json_string("DEFAULT"));
    json_object_set(b, "zoneIds", azs);
    json_t *rec = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:o, s:o, s:o, s:o}", "clusterArn", arn,
        "clusterName", name, "account", acct, "state", "CREATING", "currentVersion", version,
        "creationTime", now, "clusterType", "PROVISIONED", "numberOfBrokerNodes", (json_int_t)nb,
        "kafkaVersion", kv, "brokerNodeGroupInfo", b, "clientAuthentication", ca, "azIds", azs,
        "endpoints", endpoints, "endpointAddresses", addrs);
    if (!rec) {
        st_api_error(a, INTERNAL, NULL, "out of memory");
        return;
    }
    jset(rec, "connectivityInfo.publicAccess.type", json_string("DISABLED"));
    for (size_t k = 0; k < 3; k++) {
        char path[128];
        snprintf(path, sizeof(path), "connectivityInfo.vpcConnectivity.clientAuthentication.%s",
                 k == 0   ? "sasl.iam.enabled"
                 : k == 1 ? "sasl.scram.enabled"
                          : "tls.enabled");
        jset(rec, path, json_false());
    }
    if (json_object_get(prov, "encryptionInfo"))
        json_object_set(rec, "encryptionInfo", json_object_get(prov, "encryptionInfo"));
    const json_t *up = json_object_get(a->body, "straitUpstream");
    const char *upstream =
        json_is_string(up) ? json_string_value(up) : jstr(up, "bootstrapServers");
    if (upstream && *upstream)
        json_object_set_new(rec, "straitUpstream", json_string(upstream));
    const json_t *upsec = json_object_get(a->body, "straitUpstreamSecurity");
    if (upsec && !json_is_null(upsec)) {
        /* How strait connects to an external upstream; the password stays in its file. */
        char why[300];
        const char *uerr = NULL;
        json_t *clean = NULL;
        if (!upstream || !*upstream) {
            st_api_error(a, BAD, "straitUpstreamSecurity",
                         "straitUpstreamSecurity needs straitUpstream (the embedded upstream is "
                         "plaintext)");
            json_decref(rec);
            return;
        }
        if (st_rt_upstream_security(upsec, NULL, &clean, why, sizeof(why), &uerr) != 0) {
            st_api_error(a, BAD, "straitUpstreamSecurity", "%s", uerr);
            json_decref(rec);
            return;
        }
        json_object_set_new(rec, "straitUpstreamSecurity", clean);
    }
    const json_t *tags = json_object_get(a->body, "tags");
    const char *err = NULL;
    if (store_failed(a, st_store_begin(ctl->store, &err), &err) ||
        store_failed(a, st_store_cluster_insert(ctl->store, rec, &err), &err) ||
        (tags && store_failed(a, st_store_tags_merge(ctl->store, arn, tags, &err), &err)) ||
        store_failed(a, st_store_commit(ctl->store, &err), &err)) {
        json_decref(rec);
        return;
    }
    st_info("api: %s created cluster %s (%d brokers, %s)", a->caller->arn, arn, (int)nb,
            upstream ? upstream : "embedded");
    const char *rerr = NULL;
    if (st_rt_start(ctl, rec, &rerr) != 0) {
        json_object_set_new(rec, "state", json_string("FAILED"));
        json_object_set_new(rec, "stateInfo",
                            json_pack("{s:s, s:s}", "code", "START_FAILED", "message", rerr));
        if (st_store_cluster_update(ctl->store, rec, NULL, &err) != 0)
            st_error("cluster %s: %s", arn, err);
    }
    st_ctl_changed(ctl);
    st_api_ok(a, json_pack("{s:s, s:s, s:O, s:s}", "clusterArn", arn, "clusterName", name, "state",
                           json_object_get(rec, "state"), "clusterType", "PROVISIONED"));
    json_decref(rec);
}

static void
op_describe_cluster(struct st_api *a, bool v2)
{
    json_t *rec = load_cluster(a, label_cluster(a), true, "clusterArn");
    if (!rec)
        return;
    st_api_ok(a, json_pack("{s:o}", "clusterInfo",
                           v2 ? render_cluster_v2(a, rec) : render_cluster_info(a, rec)));
    json_decref(rec);
}

static void
op_list_clusters(struct st_api *a)
{
    if (st_api_authorize(a, "kafka:ListClustersV2", "*", NULL) != 0)
        return;
    int limit;
    char *after;
    if (page_params(a, &limit, &after) != 0)
        return;
    const char *type = st_query_get(&a->q, "clusterTypeFilter");
    json_t *rows =
        type && strcmp(type, "PROVISIONED") != 0
            ? json_array()
            : st_store_cluster_list(a->ctl->store, a->caller->account,
                                    st_query_get(&a->q, "clusterNameFilter"), after, limit + 1);
    free(after);
    json_t *out = json_object();
    page_finish(out, rows, limit, "clusterArn");
    json_t *list = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) json_array_append_new(list, render_cluster_v2(a, r));
    json_decref(rows);
    json_object_set_new(out, "clusterInfoList", list);
    st_api_ok(a, out);
}

static void
op_delete_cluster(struct st_api *a)
{
    json_t *rec = load_cluster(a, label_cluster(a), true, "clusterArn");
    if (!rec)
        return;
    const char *cv = st_query_get(&a->q, "currentVersion");
    const char *state = jstr0(rec, "state");
    const char *err = NULL;
    if (cv && strcmp(cv, jstr0(rec, "currentVersion")) != 0) {
        st_api_error(a, BAD, "currentVersion",
                     "currentVersion %s is not the cluster's current version; describe the "
                     "cluster again",
                     cv);
    } else if (strcmp(state, "DELETING") == 0) {
        st_api_error(a, BAD, "clusterArn", "the cluster is already being deleted");
    } else {
        json_object_set_new(rec, "state", json_string("DELETING"));
        if (store_failed(a, st_store_cluster_update(a->ctl->store, rec, NULL, &err), &err)) {
            json_decref(rec);
            return;
        }
        st_ctl_schedule(a->ctl, ST_TASK_CLUSTER_DELETE, jstr0(rec, "clusterArn"), TRANSITION_MS);
        st_ctl_changed(a->ctl);
        st_api_ok(a, json_pack("{s:O, s:s}", "clusterArn", json_object_get(rec, "clusterArn"),
                               "state", "DELETING"));
    }
    json_decref(rec);
}

/* ---- bootstrap brokers */

static const struct scheme {
    const char *key;      /* vpcConnectivity.clientAuthentication member path */
    const char *auth_key; /* clientAuthentication member path */
    const char *authn;    /* VpcConnection.authentication value */
    const char *host;     /* host-name label */
    const char *field;    /* GetBootstrapBrokers field */
    const char *title;    /* for messages */
} schemes[] = {
    {"sasl.iam.enabled", "sasl.iam.enabled", "SASL_IAM", "iam",
     "bootstrapBrokerStringVpcConnectivitySaslIam", "SASL/IAM"},
    {"sasl.scram.enabled", "sasl.scram.enabled", "SASL_SCRAM", "scram",
     "bootstrapBrokerStringVpcConnectivitySaslScram", "SASL/SCRAM"},
    {"tls.enabled", "tls.enabled", "TLS", "tls", "bootstrapBrokerStringVpcConnectivityTls", "TLS"},
};

static const json_t *
vpc_auth(const json_t *rec)
{
    return jpath(rec, "connectivityInfo.vpcConnectivity.clientAuthentication");
}

/* The address broker number `b` (0-based) is reached at through `endpoints`: brokers are placed
 * round robin over the cluster's AZs, and each is reached through the endpoint in its AZ. */
static const char *
broker_address(const json_t *endpoints, const json_t *azs, size_t b)
{
    size_t k = json_array_size(azs);
    const char *az = k ? json_string_value(json_array_get(azs, b % k)) : NULL;
    const char *addr = NULL;
    size_t i;
    json_t *ep;
    json_array_foreach(endpoints, i, ep)
    {
        if (!addr)
            addr = jstr(ep, "address");
        if (az && strcmp(jstr0(ep, "azId"), az) == 0)
            return jstr(ep, "address");
    }
    return addr;
}

static void
op_bootstrap(struct st_api *a)
{
    json_t *rec = load_cluster(a, label_cluster(a), false, "clusterArn");
    if (!rec)
        return;
    const char *state = jstr0(rec, "state");
    if (strcmp(state, "ACTIVE") != 0 && strcmp(state, "UPDATING") != 0) {
        st_api_error(a, CONFLICT, "clusterArn",
                     "the cluster is %s; its bootstrap brokers are available once it is ACTIVE",
                     state);
        json_decref(rec);
        return;
    }
    const char *arn = jstr0(rec, "clusterArn");
    struct st_rt *rt = st_rt_find(a->ctl, arn);
    int ids[128], ports[128];
    size_t n = st_rt_brokers(rt, ids, ports, 128);
    json_int_t nb = json_integer_value(json_object_get(rec, "numberOfBrokerNodes"));
    if (n == 0) {
        for (json_int_t i = 0; i < nb && i < 128; i++, n++) {
            ids[n] = (int)i + 1;
            ports[n] = a->ctl->port_min + (int)i;
        }
    }
    const json_t *azs = json_object_get(rec, "azIds");
    json_t *out = json_object();
    json_t *conns = st_store_conn_list(a->ctl->store, a->caller->account, arn, NULL, 0);
    /* Host label of DNS-style names: lower-cased cluster name, alphanumerics, 22 chars max. */
    char prefix[23] = "", id6[7] = "";
    size_t pl = 0;
    for (const char *p = jstr0(rec, "clusterName"); *p && pl < 22; p++)
        if (isalnum((unsigned char)*p))
            prefix[pl++] = (char)tolower((unsigned char)*p);
    prefix[pl] = '\0';
    const char *u = strrchr(arn, '/');
    for (size_t i = 0, j = 0; u && u[1 + i] && j < 6; i++)
        if (isalnum((unsigned char)u[1 + i]))
            id6[j++] = (char)tolower((unsigned char)u[1 + i]), id6[j] = '\0';
    /* In-VPC strings: the cluster's own endpoints, one field per enabled client authentication. */
    const json_t *own = json_object_get(rec, "endpoints");
    if (json_array_size(own)) {
        char buf[8192];
        size_t bl = 0;
        buf[0] = '\0';
        for (size_t b = 0; b < n; b++) {
            const char *addr = broker_address(own, azs, b);
            int w = snprintf(buf + bl, sizeof(buf) - bl, "%s%s:%d", bl ? "," : "",
                             addr ? addr : "127.0.0.1", ports[b]);
            if (w > 0 && (size_t)w < sizeof(buf) - bl)
                bl += (size_t)w;
        }
        static const struct {
            const char *key;   /* clientAuthentication member */
            const char *field; /* GetBootstrapBrokers field */
        } own_fields[] = {
            {"unauthenticated.enabled", "bootstrapBrokerString"},
            {"tls.enabled", "bootstrapBrokerStringTls"},
            {"sasl.scram.enabled", "bootstrapBrokerStringSaslScram"},
            {"sasl.iam.enabled", "bootstrapBrokerStringSaslIam"},
        };
        /* One set of ports serves the in-VPC endpoints: plaintext (unauthenticated only), or TLS
         * with every enabled scheme (runtime.c st_rt_own_mode); only what is served is listed. */
        const json_t *ca = json_object_get(rec, "clientAuthentication");
        unsigned scheme = 0;
        enum st_own_mode mode = st_rt_own_mode(rec, &scheme);
        for (size_t f = 0; f < sizeof(own_fields) / sizeof(own_fields[0]); f++) {
            bool on = f == 0   ? mode == ST_OWN_PLAINTEXT
                      : f == 1 ? mode == ST_OWN_TLS_UNAUTH || auth_on(ca, own_fields[f].key)
                               : mode == ST_OWN_TLS_AUTH && auth_on(ca, own_fields[f].key);
            if (on)
                json_object_set_new(out, own_fields[f].field, json_string(buf));
        }
    }
    for (size_t s = 0; s < sizeof(schemes) / sizeof(schemes[0]); s++) {
        if (!auth_on(vpc_auth(rec), schemes[s].key))
            continue;
        const json_t *conn = NULL;
        size_t ci;
        json_t *c;
        json_array_foreach(conns, ci, c) if (!conn && strcmp(jstr0(c, "state"), "AVAILABLE") == 0 &&
                                             strcmp(jstr0(c, "authentication"), schemes[s].authn) ==
                                                 0) conn = c;
        char buf[8192];
        size_t bl = 0;
        buf[0] = '\0';
        for (size_t b = 0; b < n; b++) {
            char host[300];
            if (conn) {
                const char *addr = broker_address(json_object_get(conn, "endpoints"), azs, b);
                snprintf(host, sizeof(host), "%s", addr ? addr : "127.0.0.1");
            } else {
                snprintf(host, sizeof(host), "b-%d.%s.%s.%s.c1.kafka.%s.amazonaws.com", ids[b],
                         schemes[s].host, prefix, id6, a->ctl->region);
            }
            int w = snprintf(buf + bl, sizeof(buf) - bl, "%s%s:%d", bl ? "," : "", host, ports[b]);
            if (w > 0 && (size_t)w < sizeof(buf) - bl)
                bl += (size_t)w;
        }
        json_object_set_new(out, schemes[s].field, json_string(buf));
    }
    json_decref(conns);
    json_decref(rec);
    st_api_ok(a, out);
}

/* ---- connectivity and security updates */

static int
check_update_preconditions(struct st_api *a, json_t *rec)
{
    const char *cv = jstr(a->body, "currentVersion");
    if (!cv) {
        st_api_error(a, BAD, "currentVersion",
                     "currentVersion is required: take it from DescribeClusterV2");
        return -1;
    }
    if (strcmp(cv, jstr0(rec, "currentVersion")) != 0) {
        st_api_error(a, BAD, "currentVersion",
                     "currentVersion %s is stale: the cluster is at %s; describe it again and "
                     "retry",
                     cv, jstr0(rec, "currentVersion"));
        return -1;
    }
    if (strcmp(jstr0(rec, "state"), "ACTIVE") != 0) {
        st_api_error(a, BAD, "clusterArn",
                     "the cluster is %s; updates are accepted only while it is ACTIVE (wait for "
                     "the running operation to finish)",
                     jstr0(rec, "state"));
        return -1;
    }
    return 0;
}

/* Records an asynchronous cluster operation and answers {clusterArn, clusterOperationArn}. */
static void
start_operation(struct st_api *a, json_t *rec)
{
    char version[15], opuuid[37], oparn[700];
    version_new(version);
    st_ctl_uuid(opuuid);
    const char *arn = jstr0(rec, "clusterArn");
    const char *slash = strchr(arn + strlen("arn:aws:kafka:"), '/');
    snprintf(oparn, sizeof(oparn), "%.*s:cluster-operation/%s/%s",
             (int)(strstr(arn, ":cluster/") - arn), arn, slash ? slash + 1 : "", opuuid);
    json_object_set_new(rec, "currentVersion", json_string(version));
    json_object_set_new(rec, "state", json_string("UPDATING"));
    json_object_set_new(rec, "activeOperationArn", json_string(oparn));
}

/* Compares dotted version strings numerically ("2.10.0" > "2.7.1"). */
static int
version_cmp(const char *a, const char *b)
{
    while (*a || *b) {
        long x = strtol(a, (char **)&a, 10), y = strtol(b, (char **)&b, 10);
        if (x != y)
            return x < y ? -1 : 1;
        while (*a && *a != '.')
            a++;
        while (*b && *b != '.')
            b++;
        if (*a == '.')
            a++;
        if (*b == '.')
            b++;
    }
    return 0;
}

/* MSK's multi-VPC requirements on the cluster itself (multi-vpc-connectivity.md §1, R1 and R4).
 * Answers BadRequestException and returns false when they are not met. */
static bool
mvpc_capable(struct st_api *a, const json_t *rec)
{
    const char *kv = jstr0(rec, "kafkaVersion");
    if (version_cmp(kv, "2.7.1") < 0) {
        st_api_error(a, BAD, "connectivityInfo",
                     "multi-VPC private connectivity needs Apache Kafka 2.7.1 or later; the "
                     "cluster runs %s",
                     kv);
        return false;
    }
    const char *it = jstr0(jpath(rec, "brokerNodeGroupInfo"), "instanceType");
    if (strcmp(it, "kafka.t3.small") == 0) {
        st_api_error(a, BAD, "connectivityInfo",
                     "multi-VPC private connectivity is not available on kafka.t3.small brokers");
        return false;
    }
    return true;
}

static void
op_update_connectivity(struct st_api *a)
{
    struct st_ctl *ctl = a->ctl;
    json_t *rec = load_cluster(a, label_cluster(a), true, "clusterArn");
    if (!rec)
        return;
    if (check_update_preconditions(a, rec) != 0) {
        json_decref(rec);
        return;
    }
    const json_t *ci = json_object_get(a->body, "connectivityInfo");
    const char *pa = jstr(jpath(ci, "publicAccess"), "type");
    if (pa && strcmp(pa, "DISABLED") != 0) {
        st_api_error(a, BAD, "connectivityInfo",
                     "strait offers no public access; publicAccess.type must be DISABLED");
        json_decref(rec);
        return;
    }
    const json_t *want = jpath(ci, "vpcConnectivity.clientAuthentication");
    const json_t *ca = json_object_get(rec, "clientAuthentication");
    bool turn_off[3] = {false, false, false};
    for (size_t s = 0; s < 3; s++) {
        const json_t *v = jpath(want, schemes[s].key);
        if (!v)
            continue; /* omitted: unchanged */
        if (!json_is_boolean(v)) {
            st_api_error(a, BAD, "connectivityInfo", "vpcConnectivity...%s must be a boolean",
                         schemes[s].key);
            json_decref(rec);
            return;
        }
        bool on = json_is_true(v);
        if (on && !mvpc_capable(a, rec)) {
            json_decref(rec);
            return;
        }
        if (on && auth_on(ca, "unauthenticated.enabled")) {
            st_api_error(a, BAD, "connectivityInfo",
                         "multi-VPC private connectivity is not available while unauthenticated "
                         "access is enabled on the cluster; turn unauthenticated access off with "
                         "UpdateSecurity first");
            json_decref(rec);
            return;
        }
        if (on && !auth_on(ca, schemes[s].auth_key)) {
            st_api_error(a, BAD, "connectivityInfo",
                         "%s client authentication is not enabled on the cluster; enable it with "
                         "UpdateSecurity before turning on multi-VPC connectivity for it",
                         schemes[s].title);
            json_decref(rec);
            return;
        }
        if (!on && auth_on(vpc_auth(rec), schemes[s].key))
            turn_off[s] = true;
        char path[128];
        snprintf(path, sizeof(path), "connectivityInfo.vpcConnectivity.clientAuthentication.%s",
                 schemes[s].key);
        jset(rec, path, json_boolean(on));
    }
    const char *nt = json_string_value(jpath(ci, "networkType"));
    if (jpath(ci, "networkType") && (!nt || (strcmp(nt, "IPV4") != 0 && strcmp(nt, "DUAL") != 0))) {
        st_api_error(a, BAD, "connectivityInfo", "networkType must be IPV4 or DUAL");
        json_decref(rec);
        return;
    }
    if (nt)
        jset(rec, "connectivityInfo.networkType", json_string(nt));
    start_operation(a, rec);
    const char *err = NULL;
    if (store_failed(a, st_store_begin(ctl->store, &err), &err)) {
        json_decref(rec);
        return;
    }
    json_t *conns = st_store_conn_list(ctl->store, NULL, jstr0(rec, "clusterArn"), NULL, 0);
    size_t i;
    json_t *c;
    json_array_foreach(conns, i, c)
    {
        const char *st = jstr0(c, "state");
        for (size_t s = 0; s < 3; s++) {
            if (turn_off[s] && strcmp(jstr0(c, "authentication"), schemes[s].authn) == 0 &&
                (strcmp(st, "AVAILABLE") == 0 || strcmp(st, "CREATING") == 0)) {
                json_object_set_new(c, "state", json_string("DEACTIVATING"));
                if (store_failed(a, st_store_conn_update(ctl->store, c, &err), &err)) {
                    json_decref(conns);
                    json_decref(rec);
                    return;
                }
            }
        }
    }
    json_decref(conns);
    if (store_failed(
            a, st_store_cluster_update(ctl->store, rec, jstr(a->body, "currentVersion"), &err),
            &err) ||
        store_failed(a, st_store_commit(ctl->store, &err), &err)) {
        json_decref(rec);
        return;
    }
    st_ctl_schedule(ctl, ST_TASK_CLUSTER_UPDATE, jstr0(rec, "clusterArn"), TRANSITION_MS);
    st_ctl_changed(ctl);
    st_api_ok(a, json_pack("{s:O, s:O}", "clusterArn", json_object_get(rec, "clusterArn"),
                           "clusterOperationArn", json_object_get(rec, "activeOperationArn")));
    json_decref(rec);
}

static void
op_update_security(struct st_api *a)
{
    struct st_ctl *ctl = a->ctl;
    json_t *rec = load_cluster(a, label_cluster(a), true, "clusterArn");
    if (!rec)
        return;
    if (check_update_preconditions(a, rec) != 0) {
        json_decref(rec);
        return;
    }
    json_t *ca = json_object_get(rec, "clientAuthentication");
    const json_t *want = json_object_get(a->body, "clientAuthentication");
    static const char *const keys[] = {"sasl.iam.enabled", "sasl.scram.enabled", "tls.enabled",
                                       "unauthenticated.enabled"};
    for (size_t i = 0; i < 4; i++) {
        const json_t *v = jpath(want, keys[i]);
        if (v && !json_is_boolean(v)) {
            st_api_error(a, BAD, "clientAuthentication",
                         "clientAuthentication.%s must be a boolean", keys[i]);
            json_decref(rec);
            return;
        }
        if (v)
            jset(ca, keys[i], json_boolean(json_is_true(v)));
    }
    if (json_is_array(jpath(want, "tls.certificateAuthorityArnList")))
        jset(ca, "tls.certificateAuthorityArnList",
             json_deep_copy(jpath(want, "tls.certificateAuthorityArnList")));
    if (!auth_on(ca, "sasl.iam.enabled") && !auth_on(ca, "sasl.scram.enabled") &&
        !auth_on(ca, "tls.enabled") && !auth_on(ca, "unauthenticated.enabled")) {
        st_api_error(a, BAD, "clientAuthentication",
                     "at least one client authentication method must stay enabled");
        json_decref(rec);
        return;
    }
    bool any_vpc = false;
    for (size_t s = 0; s < 3; s++) {
        if (!auth_on(vpc_auth(rec), schemes[s].key))
            continue;
        any_vpc = true;
        if (!auth_on(ca, schemes[s].auth_key)) {
            st_api_error(a, BAD, "clientAuthentication",
                         "multi-VPC connectivity uses %s; turn it off with UpdateConnectivity "
                         "before disabling %s client authentication",
                         schemes[s].title, schemes[s].title);
            json_decref(rec);
            return;
        }
    }
    if (any_vpc && auth_on(ca, "unauthenticated.enabled")) {
        st_api_error(a, BAD, "clientAuthentication",
                     "unauthenticated access cannot be enabled while multi-VPC connectivity is "
                     "on; turn multi-VPC off with UpdateConnectivity first");
        json_decref(rec);
        return;
    }
    if (json_is_object(json_object_get(a->body, "encryptionInfo")))
        json_object_set(rec, "encryptionInfo", json_object_get(a->body, "encryptionInfo"));
    start_operation(a, rec);
    const char *err = NULL;
    if (store_failed(
            a, st_store_cluster_update(ctl->store, rec, jstr(a->body, "currentVersion"), &err),
            &err)) {
        json_decref(rec);
        return;
    }
    st_ctl_schedule(ctl, ST_TASK_CLUSTER_UPDATE, jstr0(rec, "clusterArn"), TRANSITION_MS);
    st_ctl_changed(ctl);
    st_api_ok(a, json_pack("{s:O, s:O}", "clusterArn", json_object_get(rec, "clusterArn"),
                           "clusterOperationArn", json_object_get(rec, "activeOperationArn")));
    json_decref(rec);
}

/* ---- cluster policy */

static void
op_put_policy(struct st_api *a)
{
    json_t *rec = load_cluster(a, label_cluster(a), false, "clusterArn");
    if (!rec)
        return;
    const char *doc = jstr(a->body, "policy");
    const json_t *cvj = json_object_get(a->body, "currentVersion");
    if (!doc) {
        st_api_error(a, BAD, "policy",
                     "policy is required: the cluster policy JSON document, sent as a string");
        json_decref(rec);
        return;
    }
    if (cvj && !json_is_string(cvj)) {
        st_api_error(a, BAD, "currentVersion", "currentVersion must be a string");
        json_decref(rec);
        return;
    }
    size_t len = strlen(doc);
    if (len > ST_POLICY_CLUSTER_MAX_SIZE) {
        st_api_error(a, BAD, "policy",
                     "the policy is %zu bytes; a cluster policy may be at most %d bytes (20 KB)",
                     len, ST_POLICY_CLUSTER_MAX_SIZE);
        json_decref(rec);
        return;
    }
    struct st_policy_parse_opts o = {ST_POLICY_CLUSTER, 0, false};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    const char *perr = NULL;
    struct st_policy *pol = st_policy_parse(doc, len, &o, &f, &perr);
    if (!pol) {
        char msg[1800];
        size_t ml = 0;
        msg[0] = '\0';
        for (size_t i = 0; i < f.n && ml < sizeof(msg) - 1; i++) {
            if (f.items[i].severity != ST_POLICY_SEV_ERROR)
                continue;
            int w = snprintf(msg + ml, sizeof(msg) - ml, "%s%s%s%s", ml ? "; " : "",
                             f.items[i].path[0] ? f.items[i].path : "",
                             f.items[i].path[0] ? ": " : "", f.items[i].message);
            if (w > 0)
                ml += (size_t)w < sizeof(msg) - ml ? (size_t)w : sizeof(msg) - ml - 1;
        }
        st_api_error(a, BAD, "policy", "The cluster policy is not valid: %s",
                     ml ? msg : (perr ? perr : "malformed policy document"));
        st_policy_findings_free(&f);
        json_decref(rec);
        return;
    }
    st_policy_unref(pol);
    st_policy_findings_free(&f);
    char version[15];
    version_new(version);
    const char *err = NULL;
    int rc = st_store_cluster_policy_put(a->ctl->store, jstr0(rec, "clusterArn"), doc,
                                         json_string_value(cvj), version, &err);
    if (rc == ST_STORE_CONFLICT || rc == ST_STORE_NOTFOUND) {
        st_api_error(a, BAD, "currentVersion", "%s", err);
    } else if (!store_failed(a, rc, &err)) {
        st_info("api: %s put the cluster policy of %s (version %s)", a->caller->arn,
                jstr0(rec, "clusterArn"), version);
        st_ctl_changed(a->ctl);
        st_api_ok(a, json_pack("{s:s}", "currentVersion", version));
    }
    json_decref(rec);
}

static void
op_get_policy(struct st_api *a)
{
    json_t *rec = load_cluster(a, label_cluster(a), true, "clusterArn");
    if (!rec)
        return;
    json_t *p = st_store_cluster_policy_get(a->ctl->store, jstr0(rec, "clusterArn"));
    if (!p)
        st_api_error(a, NOTFOUND, "clusterArn",
                     "cluster %s has no cluster policy; create one with PutClusterPolicy",
                     jstr0(rec, "clusterArn"));
    else
        st_api_ok(a, p);
    json_decref(rec);
}

static void
op_delete_policy(struct st_api *a)
{
    json_t *rec = load_cluster(a, label_cluster(a), true, "clusterArn");
    if (!rec)
        return;
    const char *err = NULL;
    int rc = st_store_cluster_policy_delete(a->ctl->store, jstr0(rec, "clusterArn"), &err);
    if (rc == ST_STORE_NOTFOUND) {
        st_api_error(a, NOTFOUND, "clusterArn", "cluster %s has no cluster policy",
                     jstr0(rec, "clusterArn"));
    } else if (!store_failed(a, rc, &err)) {
        st_ctl_changed(a->ctl);
        st_api_ok(a, json_object());
    }
    json_decref(rec);
}

/* ---- VPC connections */

static bool
ipv4_in_cidr(const char *addr, const char *cidr)
{
    char net[64];
    const char *slash = strchr(cidr, '/');
    if (!slash || (size_t)(slash - cidr) >= sizeof(net))
        return false;
    memcpy(net, cidr, (size_t)(slash - cidr));
    net[slash - cidr] = '\0';
    int bits = atoi(slash + 1);
    struct in_addr a, n;
    if (bits < 0 || bits > 32 || inet_pton(AF_INET, addr, &a) != 1 ||
        inet_pton(AF_INET, net, &n) != 1)
        return false;
    uint32_t mask = bits == 0 ? 0 : htonl(0xffffffffu << (32 - bits));
    return (a.s_addr & mask) == (n.s_addr & mask);
}

/* Does rule allow TCP to every port in [lo, hi] towards addr? */
static bool
rule_allows(const json_t *rule, int lo, int hi, const char *addr)
{
    const char *proto = jstr0(rule, "protocol");
    if (strcmp(proto, "tcp") != 0 && strcmp(proto, "-1") != 0 && strcmp(proto, "all") != 0)
        return false;
    const char *ports = jstr(rule, "ports");
    int a = 0, b = 65535;
    if (ports && strcmp(ports, "all") != 0) {
        char *end;
        a = (int)strtol(ports, &end, 10);
        b = *end == '-' ? (int)strtol(end + 1, &end, 10) : a;
    }
    const char *cidr = jstr(rule, "cidr");
    return a <= lo && hi <= b && (!cidr || ipv4_in_cidr(addr, cidr));
}

static json_t *
render_conn(struct st_api *a, const json_t *c, const char *subnets_name)
{
    json_t *o =
        json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:O, s:o}", "vpcConnectionArn",
                  json_object_get(c, "vpcConnectionArn"), "targetClusterArn",
                  json_object_get(c, "targetClusterArn"), "state", json_object_get(c, "state"),
                  "authentication", json_object_get(c, "authentication"), "vpcId",
                  json_object_get(c, "vpcId"), subnets_name, json_object_get(c, "clientSubnets"),
                  "securityGroups", json_object_get(c, "securityGroups"), "creationTime",
                  json_object_get(c, "creationTime"), "tags",
                  st_store_tags_get(a->ctl->store, jstr0(c, "vpcConnectionArn")));
    if (o && json_object_get(c, "stateReason"))
        json_object_set(o, "straitStateReason", json_object_get(c, "stateReason"));
    return o ? o : json_object();
}

static void
op_create_conn(struct st_api *a)
{
    struct st_ctl *ctl = a->ctl;
    const char *acct = a->caller->account;
    const char *target = jstr(a->body, "targetClusterArn");
    const char *authn = jstr(a->body, "authentication");
    const char *vpc_id = jstr(a->body, "vpcId");
    const json_t *subnets = json_object_get(a->body, "clientSubnets");
    const json_t *sgs = json_object_get(a->body, "securityGroups");
    const json_t *tags = json_object_get(a->body, "tags");
    static const char *const req[] = {"targetClusterArn", "authentication", "vpcId"};
    for (size_t i = 0; i < 3; i++) {
        if (!jstr(a->body, req[i])) {
            st_api_error(a, BAD, req[i], "%s is required (a string)", req[i]);
            return;
        }
    }
    if (!json_is_array(subnets) || !json_array_size(subnets)) {
        st_api_error(a, BAD, "clientSubnets",
                     "clientSubnets is required: one subnet per AZ of "
                     "the cluster");
        return;
    }
    if (!json_is_array(sgs) || !json_array_size(sgs)) {
        st_api_error(a, BAD, "securityGroups", "securityGroups is required (at least one)");
        return;
    }
    if (check_tags(a, tags) != 0)
        return;
    json_t *cl = load_cluster(a, target, false, "targetClusterArn");
    if (!cl)
        return;
    char uuid[37], arn[700];
    st_ctl_uuid(uuid);
    snprintf(arn, sizeof(arn), "arn:aws:kafka:%s:%s:vpc-connection/%s/%s/%s-%d", ctl->region, acct,
             jstr0(cl, "account"), jstr0(cl, "clusterName"), uuid, 1 + (int)(uuid[1] % 9));
    json_t *rec = NULL, *endpoints = NULL, *addrs = NULL, *busy = NULL;
    if (st_api_authorize(a, "kafka:CreateVpcConnection", arn, NULL) != 0)
        goto out;
    if (strcmp(jstr0(cl, "state"), "ACTIVE") != 0) {
        st_api_error(a, BAD, "targetClusterArn",
                     "the cluster is %s; connections can be created while it is ACTIVE",
                     jstr0(cl, "state"));
        goto out;
    }
    const struct scheme *sch = NULL;
    for (size_t s = 0; s < 3; s++)
        if (strcmp(authn, schemes[s].authn) == 0)
            sch = &schemes[s];
    if (!sch) {
        st_api_error(a, BAD, "authentication",
                     "authentication must be SASL_IAM, SASL_SCRAM or TLS (one scheme per "
                     "connection)");
        goto out;
    }
    if (!auth_on(vpc_auth(cl), sch->key)) {
        st_api_error(a, BAD, "authentication",
                     "multi-VPC connectivity for %s is off on cluster %s; its owner turns it on "
                     "with UpdateConnectivity",
                     authn, jstr0(cl, "clusterArn"));
        goto out;
    }
    json_t *vpc = st_store_vpc_get(ctl->store, vpc_id);
    bool vpc_ok = vpc && strcmp(jstr0(vpc, "account"), acct) == 0;
    json_decref(vpc);
    if (!vpc_ok) {
        st_api_error(a, BAD, "vpcId", "VPC %s does not exist in account %s", vpc_id, acct);
        goto out;
    }
    const json_t *cl_azs = json_object_get(cl, "azIds");
    if (json_array_size(subnets) != json_array_size(cl_azs)) {
        st_api_error(a, BAD, "clientSubnets",
                     "give exactly %zu client subnets, one in each of the cluster's Availability "
                     "Zones (matching AZ IDs)",
                     json_array_size(cl_azs));
        goto out;
    }
    endpoints = json_array();
    addrs = json_array();
    size_t i, j;
    json_t *s, *z;
    /* Addresses held by live connections to other clusters: a cluster's endpoint needs its own
     * address (every cluster uses the same per-broker ports). */
    busy = busy_addresses(ctl, jstr0(cl, "clusterArn"));
    json_array_foreach(subnets, i, s)
    {
        json_t *sub =
            json_is_string(s) ? st_store_subnet_get(ctl->store, json_string_value(s)) : NULL;
        if (!sub || strcmp(jstr0(sub, "vpcId"), vpc_id) != 0) {
            st_api_error(a, BAD, "clientSubnets", "subnet %s is not a subnet of VPC %s",
                         json_is_string(s) ? json_string_value(s) : "(not a string)", vpc_id);
            json_decref(sub);
            goto out;
        }
        bool az_ok = false;
        json_array_foreach(cl_azs, j, z) if (strcmp(json_string_value(z), jstr0(sub, "azId")) == 0)
            az_ok = true;
        json_array_foreach(endpoints, j, z) if (strcmp(jstr0(z, "azId"), jstr0(sub, "azId")) == 0)
            az_ok = false;
        if (!az_ok) {
            char list[512] = "";
            size_t ll = 0;
            json_array_foreach(cl_azs, j, z)
            {
                int w = snprintf(list + ll, sizeof(list) - ll, "%s%s", ll ? ", " : "",
                                 json_string_value(z));
                if (w > 0 && (size_t)w < sizeof(list) - ll)
                    ll += (size_t)w;
            }
            st_api_error(a, BAD, "clientSubnets",
                         "subnet %s is in %s: the client subnets' AZ IDs must match the "
                         "cluster's (%s), one subnet per AZ",
                         json_string_value(s), jstr0(sub, "azId"), list);
            json_decref(sub);
            goto out;
        }
        if (pick_address(sub, busy, endpoints, addrs) != 0) {
            st_api_error(a, BAD, "clientSubnets",
                         "every endpoint address of subnet %s is used by other clusters; add an "
                         "address to the subnet's endpointAddresses (strait admin apply)",
                         json_string_value(s));
            json_decref(sub);
            goto out;
        }
        json_decref(sub);
    }
    /* Ports the connection's clients must reach. */
    int lo = ctl->port_min,
        hi =
            ctl->port_min + (int)json_integer_value(json_object_get(cl, "numberOfBrokerNodes")) - 1;
    bool egress_ok = false;
    json_array_foreach(sgs, i, s)
    {
        json_t *sg = json_is_string(s) ? st_store_sg_get(ctl->store, json_string_value(s)) : NULL;
        if (!sg || strcmp(jstr0(sg, "vpcId"), vpc_id) != 0) {
            st_api_error(a, BAD, "securityGroups", "security group %s is not in VPC %s",
                         json_is_string(s) ? json_string_value(s) : "(not a string)", vpc_id);
            json_decref(sg);
            goto out;
        }
        json_array_foreach(json_object_get(sg, "egress"), j, z)
        {
            bool all = true;
            size_t k;
            json_t *ad;
            json_array_foreach(addrs, k, ad) if (!rule_allows(z, lo, hi, json_string_value(ad)))
                all = false;
            if (all)
                egress_ok = true;
        }
        json_decref(sg);
    }
    if (!egress_ok) {
        st_api_error(a, BAD, "securityGroups",
                     "no security group allows egress over TCP to ports %d-%d of the endpoint "
                     "addresses; add an egress rule such as {\"protocol\":\"tcp\",\"ports\":"
                     "\"14001-14100\",\"cidr\":\"0.0.0.0/0\"}",
                     lo, hi);
        goto out;
    }
    json_t *mine = st_store_conn_list(ctl->store, acct, jstr0(cl, "clusterArn"), NULL, 0);
    json_t *c;
    json_array_foreach(mine, i, c)
    {
        const char *st = jstr0(c, "state");
        if (strcmp(jstr0(c, "vpcId"), vpc_id) == 0 &&
            strcmp(jstr0(c, "authentication"), authn) == 0 &&
            (strcmp(st, "CREATING") == 0 || strcmp(st, "AVAILABLE") == 0)) {
            st_api_error(a, BAD, "vpcId",
                         "VPC %s already has a %s connection to this cluster (%s); one connection "
                         "per VPC and authentication scheme",
                         vpc_id, authn, jstr0(c, "vpcConnectionArn"));
            json_decref(mine);
            goto out;
        }
    }
    json_decref(mine);
    char now[32];
    st_ctl_iso_now(now);
    rec = json_pack("{s:s, s:s, s:O, s:s, s:s, s:O, s:O, s:s, s:s, s:O, s:O}", "vpcConnectionArn",
                    arn, "owner", acct, "targetClusterArn", json_object_get(cl, "clusterArn"),
                    "authentication", authn, "vpcId", vpc_id, "clientSubnets", subnets,
                    "securityGroups", sgs, "state", "CREATING", "creationTime", now, "endpoints",
                    endpoints, "endpointAddresses", addrs);
    const char *err = NULL;
    if (store_failed(a, st_store_begin(ctl->store, &err), &err) ||
        store_failed(a, st_store_conn_insert(ctl->store, rec, &err), &err) ||
        (tags && store_failed(a, st_store_tags_merge(ctl->store, arn, tags, &err), &err)) ||
        store_failed(a, st_store_commit(ctl->store, &err), &err))
        goto out;
    st_info("api: %s created vpc connection %s to %s (%s)", a->caller->arn, arn,
            jstr0(cl, "clusterArn"), authn);
    st_ctl_schedule(ctl, ST_TASK_CONN_BIND, arn, TRANSITION_MS);
    st_ctl_changed(ctl);
    json_t *resp = render_conn(a, rec, "clientSubnets");
    json_object_del(resp, "targetClusterArn");
    st_api_ok(a, resp);
out:
    json_decref(rec);
    json_decref(endpoints);
    json_decref(addrs);
    json_decref(busy);
    json_decref(cl);
}

/* Loads the connection of the `arn` label after authorizing the route's action on it. */
static json_t *
load_conn(struct st_api *a)
{
    const char *arn = st_route_label(&a->m, "arn");
    struct st_arn p;
    const char *err;
    if (!arn || st_arn_parse(arn, strlen(arn), &p, &err) != 0 || p.len[5] < 15 ||
        memcmp(p.seg[5], "vpc-connection/", 15) != 0) {
        st_api_error(a, BAD, "arn", "%s is not a VPC connection ARN", arn ? arn : "(missing)");
        return NULL;
    }
    if (st_api_authorize(a, a->m.route->action, arn, NULL) != 0)
        return NULL;
    json_t *c = st_store_conn_get(a->ctl->store, arn);
    if (!c || strcmp(jstr0(c, "owner"), a->caller->account) != 0) {
        json_decref(c);
        st_api_error(a, NOTFOUND, "arn", "VPC connection %s does not exist", arn);
        return NULL;
    }
    return c;
}

static void
op_describe_conn(struct st_api *a)
{
    json_t *c = load_conn(a);
    if (!c)
        return;
    st_api_ok(a, render_conn(a, c, "subnets"));
    json_decref(c);
}

static void
op_delete_conn(struct st_api *a)
{
    json_t *c = load_conn(a);
    if (!c)
        return;
    const char *st = jstr0(c, "state");
    if (strcmp(st, "AVAILABLE") != 0 && strcmp(st, "INACTIVE") != 0 &&
        strcmp(st, "REJECTED") != 0 && strcmp(st, "FAILED") != 0) {
        st_api_error(a, BAD, "arn",
                     "the connection is %s; it can be deleted when AVAILABLE, INACTIVE, REJECTED "
                     "or FAILED",
                     st);
        json_decref(c);
        return;
    }
    json_object_set_new(c, "state", json_string("DELETING"));
    const char *err = NULL;
    if (!store_failed(a, st_store_conn_update(a->ctl->store, c, &err), &err)) {
        st_ctl_schedule(a->ctl, ST_TASK_CONN_DELETE, jstr0(c, "vpcConnectionArn"), TRANSITION_MS);
        st_ctl_changed(a->ctl);
        st_api_ok(a, json_pack("{s:O, s:s}", "vpcConnectionArn",
                               json_object_get(c, "vpcConnectionArn"), "state", "DELETING"));
    }
    json_decref(c);
}

static void
op_list_conns(struct st_api *a)
{
    if (st_api_authorize(a, "kafka:ListVpcConnections", "*", NULL) != 0)
        return;
    int limit;
    char *after;
    if (page_params(a, &limit, &after) != 0)
        return;
    json_t *rows = st_store_conn_list(a->ctl->store, a->caller->account, NULL, after, limit + 1);
    free(after);
    json_t *out = json_object();
    page_finish(out, rows, limit, "vpcConnectionArn");
    json_t *list = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(rows, i, c) json_array_append_new(
        list, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}", "vpcConnectionArn",
                        json_object_get(c, "vpcConnectionArn"), "targetClusterArn",
                        json_object_get(c, "targetClusterArn"), "creationTime",
                        json_object_get(c, "creationTime"), "authentication",
                        json_object_get(c, "authentication"), "vpcId", json_object_get(c, "vpcId"),
                        "state", json_object_get(c, "state")));
    json_decref(rows);
    json_object_set_new(out, "vpcConnections", list);
    st_api_ok(a, out);
}

static void
op_list_client_conns(struct st_api *a)
{
    json_t *cl = load_cluster(a, label_cluster(a), false, "clusterArn");
    if (!cl)
        return;
    int limit;
    char *after;
    if (page_params(a, &limit, &after) != 0) {
        json_decref(cl);
        return;
    }
    json_t *rows =
        st_store_conn_list(a->ctl->store, NULL, jstr0(cl, "clusterArn"), after, limit + 1);
    free(after);
    json_t *out = json_object();
    page_finish(out, rows, limit, "vpcConnectionArn");
    json_t *list = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(rows, i, c) json_array_append_new(
        list,
        json_pack("{s:O, s:O, s:O, s:O, s:O}", "vpcConnectionArn",
                  json_object_get(c, "vpcConnectionArn"), "owner", json_object_get(c, "owner"),
                  "creationTime", json_object_get(c, "creationTime"), "authentication",
                  json_object_get(c, "authentication"), "state", json_object_get(c, "state")));
    json_decref(rows);
    json_object_set_new(out, "clientVpcConnections", list);
    st_api_ok(a, out);
    json_decref(cl);
}

static void
op_reject(struct st_api *a)
{
    json_t *cl = load_cluster(a, label_cluster(a), false, "clusterArn");
    if (!cl)
        return;
    const char *carn = jstr(a->body, "vpcConnectionArn");
    json_t *c = carn ? st_store_conn_get(a->ctl->store, carn) : NULL;
    if (strcmp(jstr0(cl, "account"), a->caller->account) != 0) {
        st_api_error(a, FORBIDDEN, NULL,
                     "User: %s is not authorized to perform: kafka:RejectClientVpcConnection on "
                     "resource: %s because only the cluster owner can reject client connections",
                     a->caller->arn, jstr0(cl, "clusterArn"));
    } else if (!carn) {
        st_api_error(a, BAD, "vpcConnectionArn", "vpcConnectionArn is required");
    } else if (!c || strcmp(jstr0(c, "targetClusterArn"), jstr0(cl, "clusterArn")) != 0) {
        st_api_error(a, BAD, "vpcConnectionArn", "%s is not a VPC connection to cluster %s", carn,
                     jstr0(cl, "clusterArn"));
    } else if (strcmp(jstr0(c, "state"), "AVAILABLE") != 0) {
        st_api_error(a, BAD, "vpcConnectionArn",
                     "the connection is %s; only AVAILABLE connections can be rejected",
                     jstr0(c, "state"));
    } else {
        json_object_set_new(c, "state", json_string("REJECTING"));
        const char *err = NULL;
        if (!store_failed(a, st_store_conn_update(a->ctl->store, c, &err), &err)) {
            st_info("api: %s rejected vpc connection %s", a->caller->arn, carn);
            st_ctl_schedule(a->ctl, ST_TASK_CONN_REJECT, carn, TRANSITION_MS);
            st_ctl_changed(a->ctl);
            st_api_ok(a, json_object());
        }
    }
    json_decref(c);
    json_decref(cl);
}

/* ---- SCRAM secrets */

static void
op_scram_batch(struct st_api *a, bool associate)
{
    json_t *cl = load_cluster(a, label_cluster(a), true, "clusterArn");
    if (!cl)
        return;
    const json_t *list = json_object_get(a->body, "secretArnList");
    if (!json_is_array(list) || !json_array_size(list) || json_array_size(list) > 10) {
        st_api_error(a, BAD, "secretArnList", "secretArnList must list 1 to 10 secret ARNs");
        json_decref(cl);
        return;
    }
    if (associate && !auth_on(json_object_get(cl, "clientAuthentication"), "sasl.scram.enabled")) {
        st_api_error(a, BAD, "clusterArn",
                     "SASL/SCRAM client authentication is not enabled on the cluster; enable it "
                     "with UpdateSecurity first");
        json_decref(cl);
        return;
    }
    json_t *unprocessed = json_array();
    const char *err = NULL;
    if (store_failed(a, st_store_begin(a->ctl->store, &err), &err)) {
        json_decref(cl);
        json_decref(unprocessed);
        return;
    }
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
    {
        const char *sarn = json_string_value(s);
        json_t *sec = sarn ? st_store_scram_get(a->ctl->store, sarn) : NULL;
        const char *code = NULL, *msg = NULL;
        if (!sec) {
            code = "ResourceNotFoundException";
            msg = "no SCRAM secret with this ARN (create it with `strait admin apply`)";
        } else if (strcmp(jstr0(sec, "account"), jstr0(cl, "account")) != 0) {
            code = "AccessDeniedException";
            msg = "the secret belongs to another account than the cluster";
        } else if (st_store_cluster_scram_set(a->ctl->store, jstr0(cl, "clusterArn"), sarn,
                                              associate, &err) != 0) {
            code = associate ? "InternalFailure" : "ResourceNotFoundException";
            msg = err;
        }
        if (code)
            json_array_append_new(unprocessed,
                                  json_pack("{s:s, s:s, s:s}", "secretArn", sarn ? sarn : "",
                                            "errorCode", code, "errorMessage", msg));
        json_decref(sec);
    }
    if (store_failed(a, st_store_commit(a->ctl->store, &err), &err)) {
        json_decref(cl);
        json_decref(unprocessed);
        return;
    }
    st_ctl_changed(a->ctl);
    st_api_ok(a, json_pack("{s:O, s:o}", "clusterArn", json_object_get(cl, "clusterArn"),
                           "unprocessedScramSecrets", unprocessed));
    json_decref(cl);
}

static void
op_list_scram(struct st_api *a)
{
    json_t *cl = load_cluster(a, label_cluster(a), true, "clusterArn");
    if (!cl)
        return;
    int limit;
    char *after;
    if (page_params(a, &limit, &after) != 0) {
        json_decref(cl);
        return;
    }
    json_t *rows =
        st_store_cluster_scram_list(a->ctl->store, jstr0(cl, "clusterArn"), after, limit + 1);
    free(after);
    json_t *out = json_object();
    page_finish(out, rows, limit, "secret");
    json_t *arns = json_array();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) json_array_append(arns, json_object_get(r, "secret"));
    json_decref(rows);
    json_object_set_new(out, "secretArnList", arns);
    st_api_ok(a, out);
    json_decref(cl);
}

/* ---- tags */

static void
op_tags(struct st_api *a)
{
    const char *arn = st_route_label(&a->m, "resourceArn");
    struct st_arn p;
    json_t *exists = NULL;
    const struct st_policy *rp = NULL;
    if (is_cluster_arn(arn, &p)) {
        exists = st_store_cluster_get(a->ctl->store, arn);
        rp = exists ? cluster_policy(a, arn) : NULL;
    } else if (arn && strstr(arn, ":vpc-connection/")) {
        exists = st_store_conn_get(a->ctl->store, arn);
    }
    if (st_api_authorize(a, a->m.route->action, arn ? arn : "", rp) != 0) {
        json_decref(exists);
        return;
    }
    if (!exists) {
        st_api_error(a, NOTFOUND, "resourceArn",
                     "resource %s does not exist (tags apply to "
                     "clusters and VPC connections)",
                     arn ? arn : "");
        return;
    }
    json_decref(exists);
    const char *err = NULL;
    if (a->m.route->op == ST_OP_LIST_TAGS_FOR_RESOURCE) {
        st_api_ok(a, json_pack("{s:o}", "tags", st_store_tags_get(a->ctl->store, arn)));
    } else if (a->m.route->op == ST_OP_TAG_RESOURCE) {
        const json_t *tags = json_object_get(a->body, "tags");
        if (!tags) {
            st_api_error(a, BAD, "tags", "tags is required: an object of string values");
            return;
        }
        if (check_tags(a, tags) != 0)
            return;
        int rc = st_store_tags_merge(a->ctl->store, arn, tags, &err);
        if (rc != 0) {
            st_api_error(a, BAD, "tags", "%s", err);
        } else {
            /* aws:ResourceTag conditions of kafka-cluster actions read the snapshot's tags. */
            st_ctl_changed(a->ctl);
            st_api_status(a, 204);
        }
    } else {
        json_t *keys = json_array();
        for (size_t i = 0; i < a->q.n; i++)
            if (strcmp(a->q.names[i], "tagKeys") == 0)
                json_array_append_new(keys, json_string(a->q.values[i]));
        if (!json_array_size(keys)) {
            st_api_error(a, BAD, "tagKeys", "tagKeys is required (one or more query values)");
        } else if (!store_failed(a, st_store_tags_remove(a->ctl->store, arn, keys, &err), &err)) {
            st_ctl_changed(a->ctl);
            st_api_status(a, 204);
        }
        json_decref(keys);
    }
}

void
st_ops_dispatch(struct st_api *a)
{
    switch (a->m.route->op) {
    case ST_OP_CREATE_CLUSTER_V2:
        if (!a->body) {
            st_api_error(a, BAD, "clusterName", "the request needs a JSON body");
            return;
        }
        op_create_cluster(a);
        return;
    case ST_OP_DESCRIBE_CLUSTER:
        op_describe_cluster(a, false);
        return;
    case ST_OP_DESCRIBE_CLUSTER_V2:
        op_describe_cluster(a, true);
        return;
    case ST_OP_LIST_CLUSTERS_V2:
        op_list_clusters(a);
        return;
    case ST_OP_DELETE_CLUSTER:
        op_delete_cluster(a);
        return;
    case ST_OP_GET_BOOTSTRAP_BROKERS:
        op_bootstrap(a);
        return;
    case ST_OP_GET_CLUSTER_POLICY:
        op_get_policy(a);
        return;
    case ST_OP_DELETE_CLUSTER_POLICY:
        op_delete_policy(a);
        return;
    case ST_OP_DESCRIBE_VPC_CONNECTION:
        op_describe_conn(a);
        return;
    case ST_OP_DELETE_VPC_CONNECTION:
        op_delete_conn(a);
        return;
    case ST_OP_LIST_VPC_CONNECTIONS:
        op_list_conns(a);
        return;
    case ST_OP_LIST_CLIENT_VPC_CONNECTIONS:
        op_list_client_conns(a);
        return;
    case ST_OP_LIST_SCRAM_SECRETS:
        op_list_scram(a);
        return;
    case ST_OP_TAG_RESOURCE:
    case ST_OP_UNTAG_RESOURCE:
    case ST_OP_LIST_TAGS_FOR_RESOURCE:
        op_tags(a);
        return;
    default:
        break;
    }
    /* The rest take a JSON body. */
    if (!a->body)
        a->body = json_object();
    switch (a->m.route->op) {
    case ST_OP_UPDATE_CONNECTIVITY:
        op_update_connectivity(a);
        return;
    case ST_OP_UPDATE_SECURITY:
        op_update_security(a);
        return;
    case ST_OP_PUT_CLUSTER_POLICY:
        op_put_policy(a);
        return;
    case ST_OP_CREATE_VPC_CONNECTION:
        op_create_conn(a);
        return;
    case ST_OP_REJECT_CLIENT_VPC_CONNECTION:
        op_reject(a);
        return;
    case ST_OP_BATCH_ASSOCIATE_SCRAM_SECRET:
        op_scram_batch(a, true);
        return;
    case ST_OP_BATCH_DISASSOCIATE_SCRAM_SECRET:
        op_scram_batch(a, false);
        return;
    default:
        st_api_error(a, "UnknownOperationException", NULL, "operation not implemented");
    }
}

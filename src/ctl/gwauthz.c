/*
 * Data-plane authorization answered from a control-plane snapshot (gateway.h,
 * st_gw_auth_provider.authorize / acl_answer):
 *   - IAM principals (SASL IAM): the kafka-cluster action and resource ARN of the request entry
 *     (authz/msk.h), evaluated against the principal's identity policies and the cluster policy
 *     (both must allow across accounts), with the context keys strait knows;
 *   - Kafka principals (SCRAM, mutual TLS): the cluster's Kafka ACLs (authz/acl.h).
 * CreateAcls/DescribeAcls/DeleteAcls from clients change the ACLs through the control plane
 * (st_ctl_acl_create/delete), which publishes a new snapshot at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/acl.h"
#include "authz/msk.h"
#include "ctl/ctl.h"
#include "ctl/gwauth.h"
#include "ctl/internal.h"
#include "gateway/gateway.h"
#include "policy/policy.h"
#include "util/log.h"

const struct st_snap_conn *
st_ctl_find_conn(const struct st_snapshot *snap, const char *cluster_arn, const char *addr,
                 const char *account, const char *auth)
{
    const struct st_snap_conn *any = NULL;
    for (size_t i = 0; i < snap->n_conns; i++) {
        const struct st_snap_conn *c = &snap->conns[i];
        if (strcmp(c->cluster_arn, cluster_arn) != 0)
            continue;
        bool at = false;
        for (size_t j = 0; j < c->n_addresses && !at; j++)
            at = strcmp(c->addresses[j], addr) == 0;
        if (!at)
            continue;
        if ((!account || strcmp(c->owner, account) == 0) &&
            (!auth || strcmp(c->authentication, auth) == 0))
            return c;
        if (!any)
            any = c;
    }
    return any;
}

/* Describes the statement that decided, from an explanation. */
static void
explain_reason(const struct st_policy_decision *d, const struct st_policy_explain *x,
               const char *action, const char *principal, const char *resource, char *out,
               size_t cap)
{
    const struct st_policy_matched *deny = NULL, *allow = NULL;
    for (size_t i = 0; x && i < x->n_matched; i++) {
        if (x->matched[i].deny && !deny)
            deny = &x->matched[i];
        if (!x->matched[i].deny && !allow)
            allow = &x->matched[i];
    }
    const struct st_policy_matched *m = d->result == ST_POLICY_EXPLICIT_DENY ? deny : allow;
    char where[160] = "";
    if (m) {
        char sid[80];
        if (m->sid)
            snprintf(sid, sizeof(sid), "statement \"%s\"", m->sid);
        else
            snprintf(sid, sizeof(sid), "statement #%zu", m->stmt);
        if (m->policy < 0)
            snprintf(where, sizeof(where), "%s of the cluster policy", sid);
        else
            snprintf(where, sizeof(where), "%s of identity policy #%d", sid, m->policy);
    }
    switch (d->result) {
    case ST_POLICY_ALLOWED:
        snprintf(out, cap, "allowed by %s", where[0] ? where : "policy");
        break;
    case ST_POLICY_EXPLICIT_DENY:
        snprintf(out, cap, "explicit deny in %s", where[0] ? where : "a policy");
        break;
    default:
        if (!d->identity_allow && (d->same_account || d->resource_allow != ST_PM_NO))
            snprintf(out, cap,
                     "no identity-based policy of %s allows %s on %s (attach one to the "
                     "principal)",
                     principal, action, resource);
        else if (!d->same_account)
            snprintf(out, cap,
                     "the cluster policy does not allow %s on %s for this account (the cluster "
                     "owner must add a statement)",
                     action, resource);
        else
            snprintf(out, cap, "no policy allows %s on %s", action, resource);
        break;
    }
}

/* One single-valued key of `k`. */
static void
ctx_put(struct st_ctl_ctx *k, const char *key, const char *value)
{
    size_t i = k->n;
    k->vals[i] = value;
    k->cv[k->n++] = (struct st_policy_ctx_value){key, &k->vals[i], 1, false};
}

void
st_ctl_ctx_build(struct st_ctl_ctx *k, const struct st_snap_principal *p,
                 const struct st_snap_cluster *cl, const struct st_snap_conn *vc,
                 const char *source_ip, bool tls, bool cluster_resource)
{
    k->n = 0;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(k->now, sizeof(k->now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(k->epoch, sizeof(k->epoch), "%lld", (long long)t);
    ctx_put(k, "aws:PrincipalAccount", p->account);
    ctx_put(k, "aws:PrincipalArn", p->role_arn ? p->role_arn : p->arn);
    ctx_put(k, "aws:PrincipalType", p->role_arn ? "AssumedRole" : "User");
    ctx_put(k, "aws:SourceIp", source_ip ? source_ip : "");
    ctx_put(k, "aws:SecureTransport", tls ? "true" : "false");
    ctx_put(k, "aws:CurrentTime", k->now);
    ctx_put(k, "aws:EpochTime", k->epoch);
    if (vc)
        ctx_put(k, "aws:SourceVpce", vc->arn);
    if (vc && vc->vpc_id[0])
        ctx_put(k, "aws:SourceVpc", vc->vpc_id);
    if (!p->role_arn) {
        const char *slash = strrchr(p->arn, '/');
        if (slash)
            ctx_put(k, "aws:username", slash + 1);
    }
    /* After the at most 10 fixed keys: the cluster's tags (MSK allows 50). */
    for (size_t i = 0; cluster_resource && cl && i < cl->n_tags && k->n < ST_CTL_CTX_MAX; i++)
        k->cv[k->n++] = (struct st_policy_ctx_value){
            cl->tag_keys[i], (const char *const *)&cl->tag_values[i], 1, false};
}

static int
authorize_iam(const struct st_snapshot *snap, const struct st_gw_authz_req *rq,
              struct st_gw_authz_res *out)
{
    const struct st_snap_principal *p = st_snapshot_principal(snap, rq->principal);
    const struct st_snap_cluster *cl = st_snapshot_cluster(snap, rq->cluster_arn);
    const char *action = st_authz_msk_action(rq->type, rq->op);
    snprintf(out->action, sizeof(out->action), "%s", action ? action : st_kop_name(rq->op));
    if (st_authz_msk_resource(out->resource, sizeof(out->resource), rq->cluster_arn, rq->type,
                              rq->name, rq->name_len) < 0)
        snprintf(out->resource, sizeof(out->resource), "%s %.*s", st_kres_type_name(rq->type),
                 (int)(rq->name_len > 200 ? 200 : rq->name_len),
                 rq->name ? (const char *)rq->name : "");
    const struct st_snap_conn *vc =
        st_ctl_find_conn(snap, rq->cluster_arn, rq->endpoint, p ? p->account : NULL, "SASL_IAM");
    if (vc)
        snprintf(out->vpc_connection, sizeof(out->vpc_connection), "%s", vc->arn);
    if (!p) {
        snprintf(out->reason, sizeof(out->reason),
                 "principal %s no longer exists (its user or session was deleted)", rq->principal);
        return 0;
    }
    if (!cl) {
        snprintf(out->reason, sizeof(out->reason), "cluster %s no longer exists", rq->cluster_arn);
        return 0;
    }
    if (!action) {
        snprintf(out->reason, sizeof(out->reason),
                 "MSK has no IAM action for %s on a %s resource: strait refuses it",
                 st_kop_name(rq->op), st_kres_type_name(rq->type));
        return 0;
    }
    struct st_ctl_ctx k;
    st_ctl_ctx_build(&k, p, cl, vc, rq->source_ip, rq->tls, rq->type == ST_KRES_CLUSTER);
    struct st_policy_request r = {.principal = p->arn,
                                  .action = action,
                                  .resource = out->resource,
                                  .ctx = k.cv,
                                  .n_ctx = k.n};
    struct st_policy_explain x;
    st_policy_explain_init(&x);
    struct st_policy_decision d;
    memset(&d, 0, sizeof(d));
    d.explain = &x;
    /* The explanation is only an aid for the audit log: a failure to allocate it still leaves
     * the decision set. */
    if (st_policy_evaluate(&r, (const struct st_policy *const *)p->policies, p->n_policies,
                           cl->policy, &d) != 0)
        st_debug("authorization: no explanation for %s on %s (out of memory)", action,
                 out->resource);
    out->allowed = d.result == ST_POLICY_ALLOWED;
    explain_reason(&d, &x, action, p->arn, out->resource, out->reason, sizeof(out->reason));
    st_policy_explain_free(&x);
    return 0;
}

static void
binding_reason(const struct st_acl_decision *d, char *out, size_t cap)
{
    if (d->super_user) {
        snprintf(out, cap, "super user");
    } else if (d->match) {
        const struct st_acl_binding *b = d->match;
        snprintf(out, cap, "%s by ACL (%s %s %s, %s from %s, %s)",
                 d->allowed ? "allowed" : "denied", st_acl_rtype_name(b->rtype),
                 st_acl_ptype_name(b->ptype), b->name, b->principal, b->host,
                 st_acl_op_name(b->op));
    } else {
        snprintf(out, cap, "no ACL allows it (allow.everyone.if.no.acl.found=false)");
    }
}

static int
authorize_acl(const struct st_snapshot *snap, const struct st_gw_authz_req *rq,
              struct st_gw_authz_res *out)
{
    const struct st_snap_cluster *cl = st_snapshot_cluster(snap, rq->cluster_arn);
    enum st_acl_op op = st_authz_acl_op(rq->op);
    enum st_acl_rtype rt = st_authz_acl_rtype(rq->type);
    snprintf(out->action, sizeof(out->action), "%s", st_acl_op_name(op));
    if (rq->type == ST_KRES_CLUSTER)
        snprintf(out->resource, sizeof(out->resource), "CLUSTER:kafka-cluster");
    else
        snprintf(out->resource, sizeof(out->resource), "%s:%.*s", st_acl_rtype_name(rt),
                 (int)(rq->name_len > 400 ? 400 : rq->name_len),
                 rq->name ? (const char *)rq->name : "");
    const struct st_snap_conn *vc =
        st_ctl_find_conn(snap, rq->cluster_arn, rq->endpoint, NULL, NULL);
    if (vc)
        snprintf(out->vpc_connection, sizeof(out->vpc_connection), "%s", vc->arn);
    if (!cl) {
        snprintf(out->reason, sizeof(out->reason), "cluster %s no longer exists", rq->cluster_arn);
        return 0;
    }
    if (op == ST_ACL_OP_UNKNOWN || rt == ST_ACL_RT_UNKNOWN) {
        snprintf(out->reason, sizeof(out->reason), "no Kafka ACL covers %s on a %s resource",
                 st_kop_name(rq->op), st_kres_type_name(rq->type));
        return 0;
    }
    struct st_acl_decision d;
    const char *const *supers = (const char *const *)cl->super_users;
    /* CreateTopics: CREATE on the cluster covers every topic (Kafka's KafkaApis). */
    if (rt == ST_ACL_RT_TOPIC && op == ST_ACL_OP_CREATE) {
        st_acl_authorize(cl->acls, supers, rq->principal, rq->source_ip, ST_ACL_OP_CREATE,
                         ST_ACL_RT_CLUSTER, NULL, 0, &d);
        if (d.allowed) {
            out->allowed = true;
            binding_reason(&d, out->reason, sizeof(out->reason));
            return 0;
        }
    }
    st_acl_authorize(cl->acls, supers, rq->principal, rq->source_ip, op, rt, rq->name, rq->name_len,
                     &d);
    out->allowed = d.allowed;
    binding_reason(&d, out->reason, sizeof(out->reason));
    return 0;
}

int
st_gwauthz_authorize(void *ctx, const struct st_gw_authz_req *rq, struct st_gw_authz_res *out)
{
    const struct st_snapshot *snap = ctx;
    return rq->iam ? authorize_iam(snap, rq, out) : authorize_acl(snap, rq, out);
}

/* ---- the ACL APIs: st_acl_store_ops over the control plane ---- */

struct acl_arg {
    struct st_ctl *ctl;      /* control plane (store + publish) */
    const char *cluster_arn; /* cluster whose ACLs change */
};

static const struct st_acl_set *
acl_current(void *arg)
{
    struct acl_arg *a = arg;
    return st_ctl_acl_current(a->ctl, a->cluster_arn);
}

static int
acl_create(void *arg, const struct st_acl_binding *b, size_t n, const char **err)
{
    struct acl_arg *a = arg;
    return st_ctl_acl_create(a->ctl, a->cluster_arn, b, n, err);
}

static int
acl_remove(void *arg, const struct st_acl_binding *b, size_t n, const char **err)
{
    struct acl_arg *a = arg;
    return st_ctl_acl_delete(a->ctl, a->cluster_arn, b, n, err);
}

static struct st_ctl *acl_ctl;

void
st_gwauthz_bind(struct st_ctl *ctl)
{
    acl_ctl = ctl;
}

int
st_gwauthz_acl_answer(void *ctx, const char *cluster_arn, int16_t api_key, int16_t api_version,
                      const uint8_t *body, size_t len, struct st_buf *out, const char **err)
{
    if (!acl_ctl) {
        *err = "Kafka ACLs are not available (no control plane)";
        return -1;
    }
    static const struct st_acl_store_ops ops = {acl_current, acl_create, acl_remove};
    /* The change publishes a new snapshot, which may drop the gateway's reference to `ctx`:
     * keep our own for the duration of the call. */
    struct st_snapshot *keep = st_snapshot_ref(ctx);
    char arn[512];
    snprintf(arn, sizeof(arn), "%s", cluster_arn);
    struct acl_arg a = {acl_ctl, arn};
    int rc = st_acl_wire_answer(api_key, api_version, body, len, &ops, &a, out, err);
    st_snapshot_unref(keep);
    return rc;
}

/*
 * The gateway's authentication provider (gateway.h, struct st_gw_auth_provider) implemented over
 * a control-plane snapshot. Credential lookups, principals and policy decisions read only the
 * snapshot, never the store, so the data plane stays independent of SQLite; a new snapshot
 * reaches every endpoint gateway at once (st_gwauth_apply() after each publish) and each new SASL
 * round uses it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl/gwauth.h"
#include "gateway/gateway.h"
#include "net/tls.h"
#include "policy/policy.h"
#include "util/log.h"

static int
lookup(void *ctx, const char *akid, const char *token, size_t token_len,
       struct st_sigv4_secret *out)
{
    const struct st_snapshot *snap = ctx;
    const struct st_snap_cred *c = st_snapshot_cred(snap, akid);
    if (!c || (c->expires && c->expires <= (int64_t)time(NULL)))
        return -1;
    out->secret = c->secret;
    out->secret_len = strlen(c->secret);
    out->session_token = c->session_token;
    out->session_token_len = c->session_token ? strlen(c->session_token) : 0;
    out->principal = (void *)c;
    return 0;
}

static const char *
principal_arn(void *ctx, const void *principal)
{
    const struct st_snapshot *snap = ctx;
    const struct st_snap_cred *c = principal;
    return snap->principals[c->principal].arn;
}

static int64_t
principal_expiry(void *ctx, const void *principal)
{
    const struct st_snap_cred *c = principal;
    return c->expires;
}

static int
authorize_connect(void *ctx, const void *principal, const char *cluster_arn, char *why,
                  size_t why_len)
{
    const struct st_snapshot *snap = ctx;
    const struct st_snap_cred *c = principal;
    const struct st_snap_principal *p = &snap->principals[c->principal];
    const struct st_snap_cluster *cl = st_snapshot_cluster(snap, cluster_arn);
    if (!cl) {
        snprintf(why, why_len, "cluster %s no longer exists", cluster_arn);
        return -1;
    }
    const char *acct_vals[] = {p->account};
    const char *arn_vals[] = {p->role_arn ? p->role_arn : p->arn};
    struct st_policy_ctx_value cv[] = {
        {"aws:PrincipalAccount", acct_vals, 1, false},
        {"aws:PrincipalArn", arn_vals, 1, false},
    };
    struct st_policy_request r = {.principal = p->arn,
                                  .action = "kafka-cluster:Connect",
                                  .resource = cluster_arn,
                                  .ctx = cv,
                                  .n_ctx = 2};
    struct st_policy_decision d;
    memset(&d, 0, sizeof(d));
    if (st_policy_evaluate(&r, (const struct st_policy *const *)p->policies, p->n_policies,
                           cl->policy, &d) != 0) {
        snprintf(why, why_len, "policy evaluation failed");
        return -1;
    }
    if (d.result == ST_POLICY_ALLOWED)
        return 0;
    const char *because;
    if (d.result == ST_POLICY_EXPLICIT_DENY)
        because = "with an explicit deny in a policy";
    else if (!d.identity_allow &&
             (d.same_account || cl->policy == NULL || d.resource_allow != ST_PM_NO))
        because = "because no identity-based policy allows the action (attach a policy that "
                  "allows kafka-cluster:Connect to the principal)";
    else if (!d.same_account)
        because = "because no resource-based policy allows the action: the cluster owner must "
                  "allow your account kafka-cluster:Connect in the cluster policy";
    else
        because = "because no identity-based policy allows the action";
    snprintf(why, why_len,
             "%s is not authorized to perform: kafka-cluster:Connect on resource: %s %s", p->arn,
             cluster_arn, because);
    return -1;
}

static int
scram_lookup(void *ctx, const char *cluster_arn, enum st_scram_mech mech, const char *username,
             struct st_scram_cred *out)
{
    const struct st_snapshot *snap = ctx;
    for (size_t i = 0; i < snap->n_scram; i++) {
        const struct st_snap_scram *s = &snap->scram[i];
        if (s->cred.mech == mech && strcmp(s->cluster_arn, cluster_arn) == 0 &&
            strcmp(s->username, username) == 0) {
            *out = s->cred;
            return 0;
        }
    }
    return -1;
}

static void
ctx_unref(void *ctx)
{
    st_snapshot_unref(ctx);
}

static const struct st_gw_auth_provider provider = {
    lookup, principal_arn, principal_expiry, authorize_connect, scram_lookup, ctx_unref,
};

void
st_gwauth_apply(struct st_snapshot *snap, const char *region, const char *cluster_arn,
                const char *addr, struct st_gw_cluster *gw)
{
    unsigned scheme = ST_GW_AUTH_NONE;
    for (size_t i = 0; snap && i < snap->n_conns; i++) {
        const struct st_snap_conn *c = &snap->conns[i];
        if (strcmp(c->cluster_arn, cluster_arn) != 0 ||
            (strcmp(c->state, "AVAILABLE") != 0 && strcmp(c->state, "CREATING") != 0))
            continue;
        for (size_t j = 0; j < c->n_addresses; j++) {
            if (strcmp(c->addresses[j], addr) != 0)
                continue;
            if (strcmp(c->authentication, "SASL_IAM") == 0)
                scheme |= ST_GW_AUTH_SASL_IAM;
            else if (strcmp(c->authentication, "SASL_SCRAM") == 0)
                scheme |= ST_GW_AUTH_SASL_SCRAM;
            else if (strcmp(c->authentication, "TLS") == 0)
                scheme |= ST_GW_AUTH_TLS;
            break;
        }
    }
    if (!snap)
        return;
    if (st_gw_cluster_set_auth(gw, scheme, cluster_arn, region, &provider, st_snapshot_ref(snap)) !=
        0)
        st_error("cluster %s: cannot update the authentication of endpoint %s", cluster_arn, addr);
}

/* The installation CA, loaded (or created) once per data directory. */
static struct st_tls_ca *the_ca;
static char the_ca_dir[4200];

int
st_gwauth_tls(const char *data_dir, const char *addr, struct st_gw_cluster *gw, const char **err)
{
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/tls", data_dir);
    if (!the_ca || strcmp(the_ca_dir, dir) != 0) {
        struct st_tls_ca *ca = st_tls_ca_open(dir, err);
        if (!ca)
            return -1;
        st_tls_ca_free(the_ca);
        the_ca = ca;
        snprintf(the_ca_dir, sizeof(the_ca_dir), "%s", dir);
    }
    const char *names[] = {addr};
    /* Client certificates must chain to DATA/tls/client-ca.pem when the operator put one there,
     * else to the installation CA (`strait admin issue-client-certificate`). */
    char client_ca[4300];
    snprintf(client_ca, sizeof(client_ca), "%s/client-ca.pem", dir);
    if (access(client_ca, R_OK) != 0)
        snprintf(client_ca, sizeof(client_ca), "%s", st_tls_ca_cert_path(the_ca));
    SSL_CTX *ctx = st_tls_server_new(the_ca, names, 1, client_ca, err);
    if (!ctx)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < st_gw_cluster_endpoint_count(gw) && rc == 0; i++)
        if (st_gw_endpoint_set_tls(st_gw_cluster_endpoint(gw, i), ctx) != 0) {
            *err = "cannot set the endpoint's TLS context";
            rc = -1;
        }
    SSL_CTX_free(ctx);
    return rc;
}

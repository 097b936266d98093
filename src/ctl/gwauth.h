/*
 * The gateway's authentication provider over control-plane snapshots: SigV4 secrets (long-term
 * keys and STS sessions), principals, kafka-cluster:Connect decisions and SCRAM credentials, all
 * answered from one immutable, refcounted snapshot. runtime.c hands each VPC-connection endpoint
 * gateway the current snapshot and the connection's scheme after every publish.
 */
#ifndef ST_CTL_GWAUTH_H
#define ST_CTL_GWAUTH_H

#include <stddef.h>
#include <stdint.h>

#include "ctl/snapshot.h"
#include "policy/policy.h"
#include "util/buf.h"

struct st_gw_cluster;

/* The most condition keys of one data-plane decision: the fixed ones and 50 cluster tags. */
#define ST_CTL_CTX_MAX (10 + 50)

/* The condition keys of one data-plane decision (storage for st_policy_request.ctx). */
struct st_ctl_ctx {
    struct st_policy_ctx_value cv[ST_CTL_CTX_MAX]; /* the keys */
    size_t n;                                      /* used */
    const char *vals[10];                          /* the single values of the fixed keys */
    char now[32], epoch[24];                       /* aws:CurrentTime, aws:EpochTime */
};

/* The VPC connection of `cluster_arn` serving endpoint address `addr`, preferring one owned by
 * `account` (NULL = any) with scheme `auth` (NULL = any); NULL when none does. */
const struct st_snap_conn *st_ctl_find_conn(const struct st_snapshot *snap, const char *cluster_arn,
                                            const char *addr, const char *account,
                                            const char *auth);

/*
 * The context of an IAM principal's request (docs/internals/authorization.md): aws:PrincipalArn,
 * PrincipalAccount, PrincipalType, username, SourceIp, SecureTransport, CurrentTime, EpochTime,
 * SourceVpce and SourceVpc (when `vc`, the VPC connection the client came through, is known), and
 * the cluster's aws:ResourceTag/<key> when the resource is the cluster itself (MSK: the only
 * kafka-cluster resource tags apply to). Borrows from p, cl, vc and source_ip.
 */
void st_ctl_ctx_build(struct st_ctl_ctx *k, const struct st_snap_principal *p,
                      const struct st_snap_cluster *cl, const struct st_snap_conn *vc,
                      const char *source_ip, bool tls, bool cluster_resource);

/*
 * Configures `gw` (the gateway of endpoint address `addr` of cluster `cluster_arn`) from `snap`:
 * the scheme of the VPC connection owning `addr` (none when no live connection has it: only
 * ApiVersions is served) and a new reference to `snap` for lookups. `region` is the region
 * signatures must be scoped to.
 */
void st_gwauth_apply(struct st_snapshot *snap, const char *region, const char *cluster_arn,
                     const char *addr, struct st_gw_cluster *gw);

/*
 * Configures `gw`, the gateway of cluster `cluster_arn`'s own in-VPC endpoints, from `snap`:
 * `scheme` (st_gw_auth_scheme bits: what the cluster's ClientAuthentication enables) and a new
 * reference to `snap`. No-op when the cluster is not in `snap`.
 */
void st_gwauth_apply_own(struct st_snapshot *snap, const char *region, const char *cluster_arn,
                         unsigned scheme, struct st_gw_cluster *gw);

/*
 * Makes every endpoint of `gw` TLS: a certificate whose SANs are `names` (the endpoint
 * addresses; the first is the CN) issued by the issuing CA (DATA/tls/ca.pem + ca.key, created on
 * first use, or the operator's --endpoint-ca-cert/--endpoint-ca-key), or the operator's one
 * certificate for every endpoint (DATA/tls/server.pem + server.key or --endpoint-cert/
 * --endpoint-key) when present; client certificates must chain to the client CA
 * (DATA/tls/client-ca.pem or --endpoint-client-ca), else to the issuing CA. The first call starts
 * a watcher that reloads every endpoint of `ctl` when one of those files changes. Returns 0, or
 * -1 with *err.
 */
struct st_ctl;
int st_gwauth_tls(struct st_ctl *ctl, const char *const *names, size_t n, struct st_gw_cluster *gw,
                  const char **err) __attribute__((warn_unused_result));

/* Opens the issuing CA (checking the operator's TLS files) and starts the watcher, once per
 * control plane; later calls return 0 at once. Returns 0, or -1 with *err. */
int st_gwauth_tls_init(struct st_ctl *ctl, const char **err) __attribute__((warn_unused_result));

/* Stops the watcher and drops the CA when they belong to `ctl` (st_ctl_free()). */
void st_gwauth_tls_release(struct st_ctl *ctl);

/*
 * The issuing CA's certificate (PEM), what clients trust (`strait kafka get-ca-certificate`);
 * opens (or creates) the CA as st_gwauth_tls() does. Returns a new string (caller frees) or NULL
 * with *err.
 */
char *st_gwauth_ca_pem(struct st_ctl *ctl, const char **err) __attribute__((warn_unused_result));

/* gwauthz.c: data-plane authorization from a snapshot (st_gw_auth_provider.authorize). */
struct st_gw_authz_req;
struct st_gw_authz_res;
int st_gwauthz_authorize(void *ctx, const struct st_gw_authz_req *rq, struct st_gw_authz_res *out);
/* st_gw_auth_provider.acl_answer: CreateAcls/DescribeAcls/DeleteAcls through the control plane
 * bound with st_gwauthz_bind(). */
int st_gwauthz_acl_answer(void *ctx, const char *cluster_arn, int16_t api_key, int16_t api_version,
                          const uint8_t *body, size_t len, struct st_buf *out, const char **err);
/* The control plane ACL changes from clients go to (one per process): st_ctl_new() binds it,
 * st_ctl_free() unbinds it. */
void st_gwauthz_bind(struct st_ctl *ctl);

#endif

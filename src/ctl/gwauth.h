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
#include "util/buf.h"

struct st_gw_cluster;

/*
 * Configures `gw` (the gateway of endpoint address `addr` of cluster `cluster_arn`) from `snap`:
 * the scheme of the VPC connection owning `addr` (none when no live connection has it: only
 * ApiVersions is served) and a new reference to `snap` for lookups. `region` is the region
 * signatures must be scoped to.
 */
void st_gwauth_apply(struct st_snapshot *snap, const char *region, const char *cluster_arn,
                     const char *addr, struct st_gw_cluster *gw);

/*
 * Makes every endpoint of `gw` (the gateway of endpoint address `addr`) TLS: a certificate for
 * `addr` issued by the installation CA in DATA/tls (created on first use), or the operator's
 * DATA/tls/server.pem + server.key when present; client certificates must chain to
 * DATA/tls/client-ca.pem, else to the installation CA. The first call starts a watcher that
 * reloads every endpoint of `ctl` when those files change. Returns 0, or -1 with *err.
 */
struct st_ctl;
int st_gwauth_tls(struct st_ctl *ctl, const char *addr, struct st_gw_cluster *gw,
                  const char **err) __attribute__((warn_unused_result));

/* gwauthz.c: data-plane authorization from a snapshot (st_gw_auth_provider.authorize). */
struct st_gw_authz_req;
struct st_gw_authz_res;
int st_gwauthz_authorize(void *ctx, const struct st_gw_authz_req *rq, struct st_gw_authz_res *out);
/* st_gw_auth_provider.acl_answer: CreateAcls/DescribeAcls/DeleteAcls through the control plane
 * bound with st_gwauthz_bind(). */
int st_gwauthz_acl_answer(void *ctx, const char *cluster_arn, int16_t api_key, int16_t api_version,
                          const uint8_t *body, size_t len, struct st_buf *out, const char **err);
/* The control plane ACL changes from clients go to (one per process). */
void st_gwauthz_bind(struct st_ctl *ctl);

#endif

/*
 * The gateway's authentication provider (gateway.h, struct st_gw_auth_provider) implemented over
 * a control-plane snapshot. Credential lookups, principals and policy decisions read only the
 * snapshot, never the store, so the data plane stays independent of SQLite; a new snapshot
 * reaches every endpoint gateway at once (st_gwauth_apply() after each publish) and each new SASL
 * round uses it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "ctl/gwauth.h"
#include "ctl/internal.h"
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
authorize_connect(void *ctx, const void *principal, const struct st_gw_authz_req *rq, char *why,
                  size_t why_len)
{
    const struct st_snapshot *snap = ctx;
    const struct st_snap_cred *c = principal;
    const struct st_snap_principal *p = &snap->principals[c->principal];
    const char *cluster_arn = rq->cluster_arn;
    const struct st_snap_cluster *cl = st_snapshot_cluster(snap, cluster_arn);
    if (!cl) {
        snprintf(why, why_len, "cluster %s no longer exists", cluster_arn);
        return -1;
    }
    struct st_ctl_ctx k;
    st_ctl_ctx_build(&k, p, cl,
                     st_ctl_find_conn(snap, cluster_arn, rq->endpoint, p->account, "SASL_IAM"),
                     rq->source_ip, rq->tls, true);
    struct st_policy_request r = {.principal = p->arn,
                                  .action = "kafka-cluster:Connect",
                                  .resource = cluster_arn,
                                  .ctx = k.cv,
                                  .n_ctx = k.n};
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
    .sigv4_lookup = lookup,
    .principal_arn = principal_arn,
    .principal_expiry = principal_expiry,
    .authorize_connect = authorize_connect,
    .scram_lookup = scram_lookup,
    .ctx_unref = ctx_unref,
    .authorize = st_gwauthz_authorize,
    .acl_answer = st_gwauthz_acl_answer,
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

void
st_gwauth_apply_own(struct st_snapshot *snap, const char *region, const char *cluster_arn,
                    unsigned scheme, struct st_gw_cluster *gw)
{
    if (!snap || !st_snapshot_cluster(snap, cluster_arn))
        return;
    if (st_gw_cluster_set_auth(gw, scheme, cluster_arn, region, &provider, st_snapshot_ref(snap)) !=
        0)
        st_error("cluster %s: cannot update the authentication of its in-VPC endpoints",
                 cluster_arn);
}

/* ---- endpoint TLS: the installation CA (or the operator's files) and their reload ---- */

/*
 * The files, by default in DATA/tls: ca.pem + ca.key (the issuing CA, created on first use
 * unless the operator names their own with --endpoint-ca-cert/--endpoint-ca-key), client-ca.pem
 * (the CA client certificates must chain to, else the issuing CA; --endpoint-client-ca),
 * server.pem + server.key (one certificate chain for every endpoint instead of issued ones, which
 * must name the endpoint addresses; --endpoint-cert/--endpoint-key) and principal-mapping-rules
 * (--endpoint-principal-mapping-rules gives the rules as a string instead). A timer notices
 * changes to any of those paths and gives every endpoint a new context; open connections keep
 * theirs.
 */
#define TLS_WATCH_MS 2000

enum { F_CA_CERT, F_CA_KEY, F_CLIENT_CA, F_CERT, F_KEY, F_RULES, N_TLS_FILES };
static const char *const tls_defaults[N_TLS_FILES] = {
    "ca.pem", "ca.key", "client-ca.pem", "server.pem", "server.key", "principal-mapping-rules"};

struct tls_state {
    struct st_ctl *ctl;           /* owner of the runtimes */
    char dir[4200];               /* DATA/tls */
    char path[N_TLS_FILES][4300]; /* watched paths (operator's or DATA/tls defaults) */
    bool operator_ca;             /* the issuing CA is the operator's (never created) */
    struct st_tls_ca *ca;         /* issuing CA */
    struct event *timer;          /* change detection */
    char stamp[N_TLS_FILES][64];  /* per file: inode, size, mtime ("" = absent) */
};
static struct tls_state tls_state;

static bool
tls_stamp(struct tls_state *t)
{
    bool changed = false;
    for (size_t i = 0; i < N_TLS_FILES; i++) {
        char now[64] = "";
        struct stat sb;
        if (stat(t->path[i], &sb) == 0)
            snprintf(now, sizeof(now), "%llu:%lld:%lld.%09ld", (unsigned long long)sb.st_ino,
                     (long long)sb.st_size, (long long)sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
        if (strcmp(now, t->stamp[i]) != 0) {
            changed = true;
            snprintf(t->stamp[i], sizeof(t->stamp[i]), "%s", now);
        }
    }
    return changed;
}

static struct st_tls_ca *
tls_ca_open(struct tls_state *t, const char **err)
{
    if (t->operator_ca)
        return st_tls_ca_load(t->path[F_CA_CERT], t->path[F_CA_KEY], err);
    return st_tls_ca_open(t->dir, err);
}

/* A new context for an endpoint named `names` from the current files. */
static SSL_CTX *
tls_ctx_for(struct tls_state *t, const char *const *names, size_t n, const char **err)
{
    const char *client_ca = t->path[F_CLIENT_CA];
    if (access(client_ca, R_OK) != 0)
        client_ca = st_tls_ca_cert_path(t->ca);
    const char *cert = t->path[F_CERT], *key = t->path[F_KEY];
    if (access(cert, R_OK) == 0 && access(key, R_OK) == 0)
        return st_tls_server_from_files(cert, key, client_ca, err);
    if (t->ctl->tls_files.cert) {
        *err = "the endpoint certificate (--endpoint-cert/--endpoint-key) cannot be read";
        return NULL;
    }
    return st_tls_server_new(t->ca, names, n, client_ca, err);
}

/* The principal mapping rules (Kafka's ssl.principal.mapping.rules, one line), NULL when none
 * (DEFAULT). Returns a new string; caller frees. */
static char *
tls_rules(struct tls_state *t)
{
    if (t->ctl->tls_files.principal_rules)
        return strdup(t->ctl->tls_files.principal_rules);
    FILE *f = fopen(t->path[F_RULES], "r");
    if (!f)
        return NULL;
    char *spec = calloc(1, 8192);
    size_t n = spec ? fread(spec, 1, 8191, f) : 0;
    fclose(f);
    while (spec && n > 0 && (spec[n - 1] == '\n' || spec[n - 1] == '\r'))
        spec[--n] = '\0';
    return spec;
}

static int
tls_apply(struct tls_state *t, const char *const *names, size_t n, struct st_gw_cluster *gw,
          const char **err)
{
    char *spec = tls_rules(t);
    const char *rerr = NULL;
    /* A rule list that does not parse is reported and the previous rules stay. */
    if (st_gw_cluster_set_principal_rules(gw, spec, &rerr) != 0)
        st_error("TLS: principal mapping rules ignored for %s: %s", names[0], rerr);
    free(spec);
    SSL_CTX *ctx = tls_ctx_for(t, names, n, err);
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

struct reload_arg {
    struct tls_state *t; /* state */
    size_t ok, failed;   /* endpoints updated / kept their previous context */
};

static void
reload_one(struct reload_arg *ra, const char *cluster_arn, const char *const *names, size_t n,
           struct st_gw_cluster *gw)
{
    const char *err = NULL;
    if (tls_apply(ra->t, names, n, gw, &err) == 0) {
        ra->ok++;
    } else {
        ra->failed++;
        st_error("TLS reload: endpoint %s of %s keeps its previous certificate: %s", names[0],
                 cluster_arn, err);
    }
}

static void
reload_ep(void *arg, const char *cluster_arn, const char *addr, const struct st_gw_cluster *gw)
{
    /* The runtime hands out const views; the gateway is owned by the runtime and ours to update
     * on this loop. */
    const char *names[] = {addr};
    reload_one(arg, cluster_arn, names, 1, (struct st_gw_cluster *)gw);
}

static void
on_tls_timer(evutil_socket_t fd, short what, void *arg)
{
    struct tls_state *t = arg;
    if (!tls_stamp(t))
        return;
    const char *err = NULL;
    struct st_tls_ca *ca = tls_ca_open(t, &err);
    if (!ca) {
        st_error("TLS reload: %s (endpoints keep their certificates)", err);
        return;
    }
    st_tls_ca_free(t->ca);
    t->ca = ca;
    struct reload_arg ra = {t, 0, 0};
    for (struct st_rt *rt = t->ctl->rts; rt; rt = rt->next) {
        st_rt_each_ep(rt, reload_ep, &ra);
        if (rt->own_tls && rt->gw)
            reload_one(&ra, rt->arn, (const char *const *)rt->own_names, rt->n_own_names, rt->gw);
    }
    st_info("TLS: certificates in %s changed: %zu endpoints reloaded (%zu kept the previous "
            "ones); open connections keep theirs",
            t->ctl->tls_files.any ? "the endpoint TLS files" : t->dir, ra.ok, ra.failed);
}

int
st_gwauth_tls_init(struct st_ctl *ctl, const char **err)
{
    struct tls_state *t = &tls_state;
    char dir[4200];
    snprintf(dir, sizeof(dir), "%s/tls", ctl->data_dir);
    if (t->ca && t->ctl == ctl && strcmp(t->dir, dir) == 0)
        return 0;
    struct tls_state nt;
    memset(&nt, 0, sizeof(nt));
    nt.ctl = ctl;
    snprintf(nt.dir, sizeof(nt.dir), "%s", dir);
    const char *given[N_TLS_FILES] = {ctl->tls_files.ca_cert,   ctl->tls_files.ca_key,
                                      ctl->tls_files.client_ca, ctl->tls_files.cert,
                                      ctl->tls_files.key,       NULL};
    for (size_t i = 0; i < N_TLS_FILES; i++) {
        if (given[i])
            snprintf(nt.path[i], sizeof(nt.path[i]), "%s", given[i]);
        else
            snprintf(nt.path[i], sizeof(nt.path[i]), "%s/%s", dir, tls_defaults[i]);
    }
    nt.operator_ca = ctl->tls_files.ca_cert != NULL;
    nt.ca = tls_ca_open(&nt, err);
    if (!nt.ca)
        return -1;
    st_tls_ca_free(t->ca);
    if (t->timer)
        event_free(t->timer);
    *t = nt;
    (void)tls_stamp(t);
    t->timer = event_new(ctl->base, -1, EV_PERSIST, on_tls_timer, t);
    struct timeval tv = {TLS_WATCH_MS / 1000, (TLS_WATCH_MS % 1000) * 1000};
    if (!t->timer || event_add(t->timer, &tv) != 0)
        st_warn("TLS: cannot watch %s for certificate changes", dir);
    return 0;
}

int
st_gwauth_tls(struct st_ctl *ctl, const char *const *names, size_t n, struct st_gw_cluster *gw,
              const char **err)
{
    if (st_gwauth_tls_init(ctl, err) != 0)
        return -1;
    return tls_apply(&tls_state, names, n, gw, err);
}

void
st_gwauth_tls_release(struct st_ctl *ctl)
{
    struct tls_state *t = &tls_state;
    if (t->ctl != ctl)
        return;
    if (t->timer)
        event_free(t->timer);
    st_tls_ca_free(t->ca);
    memset(t, 0, sizeof(*t));
}

char *
st_gwauth_ca_pem(struct st_ctl *ctl, const char **err)
{
    if (st_gwauth_tls_init(ctl, err) != 0)
        return NULL;
    FILE *f = fopen(st_tls_ca_cert_path(tls_state.ca), "r");
    if (!f) {
        *err = "the issuing CA certificate cannot be read";
        return NULL;
    }
    char *pem = calloc(1, 65537);
    size_t n = pem ? fread(pem, 1, 65536, f) : 0;
    fclose(f);
    if (!pem || n == 0) {
        free(pem);
        *err = "the issuing CA certificate cannot be read";
        return NULL;
    }
    return pem;
}

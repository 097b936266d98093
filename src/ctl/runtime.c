/*
 * Cluster runtimes (see internal.h): for each cluster the control plane manages, its upstream
 * (librdkafka's in-process mock cluster when CreateClusterV2 named no upstream, else the given
 * bootstrap servers) and its gateway, whose endpoints are the subnet endpoint addresses of the
 * cluster's AVAILABLE VPC connections, one port per broker. Also the deferred lifecycle steps.
 *
 * The gateway cannot remove one endpoint, so rejecting, deactivating or deleting a connection
 * rebuilds the cluster's gateway with the remaining endpoints (same persisted port map).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "ctl/gwauth.h"
#include "ctl/internal.h"
#include "ctl/snapshot.h"
#include "gateway/gateway.h"
#include "net/tls.h"
#include "store/store.h"
#include "util/log.h"

struct st_mock {
    rd_kafka_t *rk;              /* bookkeeping handle the mock needs */
    rd_kafka_mock_cluster_t *mc; /* the mock cluster */
};

static struct st_mock *
mock_start(int brokers, const char **err)
{
    struct st_mock *m = calloc(1, sizeof(*m));
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    m->rk = m ? rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr)) : NULL;
    if (!m || !m->rk) {
        free(m);
        *err = "cannot create the librdkafka handle for an embedded cluster";
        return NULL;
    }
    m->mc = rd_kafka_mock_cluster_new(m->rk, brokers);
    if (!m->mc) {
        rd_kafka_destroy(m->rk);
        free(m);
        *err = "cannot start an embedded mock cluster";
        return NULL;
    }
    return m;
}

static void
mock_stop(struct st_mock *m)
{
    if (!m)
        return;
    rd_kafka_mock_cluster_destroy(m->mc);
    rd_kafka_destroy(m->rk);
    free(m);
}

static const char *
js(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

struct st_rt *
st_rt_find(struct st_ctl *ctl, const char *arn)
{
    for (struct st_rt *rt = ctl->rts; rt; rt = rt->next)
        if (strcmp(rt->arn, arn) == 0)
            return rt;
    return NULL;
}

static void
portmap_path(struct st_ctl *ctl, const char *arn, char *out, size_t n)
{
    const char *uuid = strrchr(arn, '/');
    snprintf(out, n, "%s/cluster-%s.ports.json", ctl->data_dir, uuid ? uuid + 1 : "x");
}

/* Removes cluster-<uuid>.ports.json and every cluster-<uuid>.ep-*.ports.json. */
static void
remove_portmaps(struct st_ctl *ctl, const char *arn)
{
    const char *uuid = strrchr(arn, '/');
    char prefix[300];
    snprintf(prefix, sizeof(prefix), "cluster-%s.", uuid ? uuid + 1 : "x");
    DIR *d = opendir(ctl->data_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 || n < 11 ||
            strcmp(de->d_name + n - 11, ".ports.json") != 0)
            continue;
        char path[4400];
        snprintf(path, sizeof(path), "%s/%s", ctl->data_dir, de->d_name);
        unlink(path);
    }
    closedir(d);
}

static void
on_learned(struct st_gw_cluster *gw, void *arg)
{
    struct st_rt *rt = arg;
    struct st_ctl *ctl = rt->ctl;
    rt->learned = true;
    json_t *rec = st_store_cluster_get(ctl->store, rt->arn);
    if (rec && strcmp(js(rec, "state"), "CREATING") == 0) {
        const char *err = NULL;
        json_object_set_new(rec, "state", json_string("ACTIVE"));
        if (st_store_cluster_update(ctl->store, rec, NULL, &err) != 0)
            st_error("cluster %s: cannot mark it ACTIVE: %s", rt->arn, err);
        else
            st_info("cluster %s is ACTIVE (%zu brokers)", rt->arn, st_gw_cluster_node_count(gw));
        st_ctl_changed(ctl);
    }
    json_decref(rec);
}

/* One VPC-connection endpoint address with its own gateway, so that closing it (reject,
 * deactivate, delete) drops only the client connections that entered through it. */
struct st_rt_ep {
    char *addr;               /* endpoint address */
    struct st_gw_cluster *gw; /* its gateway (same upstream, same per-broker ports) */
    struct st_rt_ep *next;    /* list */
};

static void
no_learned(struct st_gw_cluster *gw, void *arg)
{
}

/* Copies `from` over `to` (best effort: a missing source leaves `to` alone). */
static void
copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    if (!in)
        return;
    char tmp[4500];
    snprintf(tmp, sizeof(tmp), "%s.tmp", to);
    FILE *out = fopen(tmp, "wb");
    char buf[4096];
    size_t n;
    bool ok = out != NULL;
    while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    fclose(in);
    if (out && fclose(out) != 0)
        ok = false;
    if (ok)
        ok = rename(tmp, to) == 0;
    if (!ok)
        unlink(tmp);
}

static void own_apply_auth(struct st_rt *rt);

static void
own_names_free(struct st_rt *rt)
{
    for (size_t i = 0; i < rt->n_own_names; i++)
        free(rt->own_names[i]);
    free(rt->own_names);
    rt->own_names = NULL;
    rt->n_own_names = 0;
    rt->own_tls = false;
}

int
st_rt_upstream_security(const json_t *spec, struct st_gw_cluster *gw, json_t **clean, char *why,
                        size_t why_len, const char **err)
{
    if (!json_is_object(spec)) {
        *err = "straitUpstreamSecurity must be an object";
        return -1;
    }
    static const char *const known[] = {"protocol", "saslMechanism", "username", "passwordFile",
                                        "caFile",   "certFile",      "keyFile",  "verifyHostname"};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)spec, k, v)
    {
        size_t i = 0;
        while (i < sizeof(known) / sizeof(known[0]) && strcmp(k, known[i]) != 0)
            i++;
        if (i == sizeof(known) / sizeof(known[0])) {
            snprintf(why, why_len,
                     "straitUpstreamSecurity.%s is not known (protocol, saslMechanism, username, "
                     "passwordFile, caFile, certFile, keyFile, verifyHostname; a password is "
                     "given as a file)",
                     k);
            *err = why;
            return -1;
        }
        if (strcmp(k, "verifyHostname") == 0 ? !json_is_boolean(v) : !json_is_string(v)) {
            snprintf(why, why_len, "straitUpstreamSecurity.%s has the wrong type", k);
            *err = why;
            return -1;
        }
    }
    const json_t *vh = json_object_get(spec, "verifyHostname");
    struct st_gw_upstream_security sec = {
        .protocol = ST_GW_UP_PLAINTEXT,
        .mechanism = ST_GW_UP_SCRAM_SHA_512,
        .username = json_string_value(json_object_get(spec, "username")),
        .ca_file = json_string_value(json_object_get(spec, "caFile")),
        .cert_file = json_string_value(json_object_get(spec, "certFile")),
        .key_file = json_string_value(json_object_get(spec, "keyFile")),
        .verify_hostname = vh ? json_is_true(vh) : true,
    };
    const char *proto = json_string_value(json_object_get(spec, "protocol"));
    const char *mech = json_string_value(json_object_get(spec, "saslMechanism"));
    const char *pwf = json_string_value(json_object_get(spec, "passwordFile"));
    if (!proto || st_gw_up_protocol_parse(proto, &sec.protocol) != 0) {
        *err = "straitUpstreamSecurity.protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL";
        return -1;
    }
    if (mech && st_gw_up_mech_parse(mech, &sec.mechanism) != 0) {
        *err = "straitUpstreamSecurity.saslMechanism must be PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512";
        return -1;
    }
    bool sasl = sec.protocol == ST_GW_UP_SASL_PLAINTEXT || sec.protocol == ST_GW_UP_SASL_SSL;
    if (sasl && (!sec.username || !*sec.username || !pwf || !*pwf)) {
        *err = "straitUpstreamSecurity with SASL needs username and passwordFile";
        return -1;
    }
    char *pw = NULL;
    if (sasl && !(pw = st_gw_password_file_read(pwf, err)))
        return -1;
    sec.password = pw;
    int rc = 0;
    if (gw) {
        rc = st_gw_cluster_set_upstream_security(gw, &sec, err);
    } else if (sec.protocol == ST_GW_UP_SSL || sec.protocol == ST_GW_UP_SASL_SSL) {
        /* Validation: the CA and client certificate must load now. */
        SSL_CTX *t = st_tls_client_new(sec.ca_file, sec.cert_file, sec.key_file, err);
        rc = t ? 0 : -1;
        SSL_CTX_free(t);
    }
    st_gw_secret_free(pw);
    if (rc == 0 && clean) {
        *clean = json_object();
        json_object_set_new(*clean, "protocol", json_string(st_gw_up_protocol_name(sec.protocol)));
        if (sasl)
            json_object_set_new(*clean, "saslMechanism",
                                json_string(st_gw_up_mech_name(sec.mechanism)));
        for (size_t i = 2; i < sizeof(known) / sizeof(known[0]); i++) {
            json_t *x = json_object_get(spec, known[i]);
            if (x)
                json_object_set(*clean, known[i], x);
        }
    }
    return rc;
}

static struct st_gw_cluster *gw_new_plain(struct st_rt *rt, const char *name, const char *pm_suffix,
                                          const char **err);

/* A gateway of the cluster, with the cluster's upstream security. */
static struct st_gw_cluster *
gw_new(struct st_rt *rt, const char *name, const char *pm_suffix, const char **err)
{
    struct st_gw_cluster *gw = gw_new_plain(rt, name, pm_suffix, err);
    static char why[300];
    if (gw && rt->upsec && st_rt_upstream_security(rt->upsec, gw, NULL, why, sizeof(why), err)) {
        st_error("cluster %s: upstream security: %s", rt->arn, *err);
        st_gw_cluster_free(gw);
        return NULL;
    }
    return gw;
}

static struct st_gw_cluster *
gw_new_plain(struct st_rt *rt, const char *name, const char *pm_suffix, const char **err)
{
    struct st_ctl *ctl = rt->ctl;
    char pm[4400];
    portmap_path(ctl, rt->arn, pm, sizeof(pm));
    if (pm_suffix) {
        /* cluster-<uuid>.ports.json -> cluster-<uuid>.<suffix>.ports.json, seeded with the main
         * map so that known brokers are bound at once (a bind failure shows now, not at the next
         * discovery); ports are assigned deterministically (14000 + broker id) anyway. */
        char main_pm[4400];
        snprintf(main_pm, sizeof(main_pm), "%s", pm);
        size_t l = strlen(pm);
        if (l > 11) {
            pm[l - 11] = '\0';
            size_t used = strlen(pm);
            snprintf(pm + used, sizeof(pm) - used, ".%s.ports.json", pm_suffix);
        }
        copy_file(main_pm, pm);
    }
    struct st_gw_cluster *gw = st_gw_cluster_new(ctl->base, ctl->dns, name, rt->bootstrap, pm,
                                                 ctl->port_min, ctl->port_max, &ctl->limits, err);
    if (gw && st_gw_cluster_set_handshake_pool(gw, ctl->hs_pool) != 0) {
        *err = "the TLS handshake threads deliver to another event loop";
        st_gw_cluster_free(gw);
        return NULL;
    }
    return gw;
}

static struct st_rt_ep *
ep_find(struct st_rt *rt, const char *addr)
{
    for (struct st_rt_ep *e = rt->eps; e; e = e->next)
        if (strcmp(e->addr, addr) == 0)
            return e;
    return NULL;
}

static void ep_apply_ingress(struct st_rt *rt, struct st_rt_ep *e);

/* Opens the gateway of a connection endpoint address (no-op when it is open). */
static int
ep_open(struct st_rt *rt, const char *addr, const char **err)
{
    if (ep_find(rt, addr))
        return 0;
    char suffix[80], name[64];
    snprintf(suffix, sizeof(suffix), "ep-%s", addr);
    snprintf(name, sizeof(name), "vpc:%s", addr);
    struct st_rt_ep *e = calloc(1, sizeof(*e));
    if (!e || !(e->addr = strdup(addr))) {
        free(e);
        *err = "out of memory";
        return -1;
    }
    e->gw = gw_new(rt, rt->arn, suffix, err);
    /* VPC-connection endpoints are TLS (SASL_SSL), certificates from the installation CA. */
    const char *names[] = {addr};
    if (!e->gw || !st_gw_endpoint_add(e->gw, name, addr, false, err) ||
        st_gwauth_tls(rt->ctl, names, 1, e->gw, err) != 0) {
        st_gw_cluster_free(e->gw);
        free(e->addr);
        free(e);
        return -1;
    }
    /* Security groups apply from the first accepted client on. */
    ep_apply_ingress(rt, e);
    st_gw_cluster_start(e->gw, no_learned, NULL);
    e->next = rt->eps;
    rt->eps = e;
    return 0;
}

enum st_own_mode
st_rt_own_mode(const json_t *rec, unsigned *scheme)
{
    const json_t *ca = json_object_get(rec, "clientAuthentication");
    const json_t *sasl = json_object_get(ca, "sasl");
    unsigned s = 0;
    if (json_is_true(json_object_get(json_object_get(sasl, "iam"), "enabled")))
        s |= ST_GW_AUTH_SASL_IAM;
    if (json_is_true(json_object_get(json_object_get(sasl, "scram"), "enabled")))
        s |= ST_GW_AUTH_SASL_SCRAM;
    if (json_is_true(json_object_get(json_object_get(ca, "tls"), "enabled")))
        s |= ST_GW_AUTH_TLS;
    *scheme = s;
    if (s)
        return ST_OWN_TLS_AUTH;
    if (!json_is_true(json_object_get(json_object_get(ca, "unauthenticated"), "enabled")))
        return ST_OWN_CLOSED;
    const char *cb = json_string_value(json_object_get(
        json_object_get(json_object_get(rec, "encryptionInfo"), "encryptionInTransit"),
        "clientBroker"));
    return cb && strcmp(cb, "TLS") == 0 ? ST_OWN_TLS_UNAUTH : ST_OWN_PLAINTEXT;
}

/* The in-VPC endpoints' authentication (schemes the cluster enables) and the snapshot SASL
 * rounds read, after every publish. */
static void
own_apply_auth(struct st_rt *rt)
{
    if (!rt->gw || !rt->own_scheme || !rt->ctl->snap)
        return;
    st_gw_cluster_set_audit(rt->gw, rt->ctl->audit);
    st_gw_cluster_set_authorization(rt->gw, !rt->ctl->skip_authorization);
    st_gwauth_apply_own(rt->ctl->snap, rt->ctl->region, rt->arn, rt->own_scheme, rt->gw);
}

/* Sets snapshot ingress rules `in` on every endpoint of `gw` (`what` names them in warnings). */
static void
gw_set_ingress(struct st_gw_cluster *gw, const struct st_snap_ingress *in, size_t n,
               const char *what)
{
    struct st_gw_ingress *rules = n ? calloc(n, sizeof(*rules)) : NULL;
    if (n && !rules)
        return; /* keep the previous rules */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *err = NULL;
        if (st_gw_ingress_parse(in[i].cidr, in[i].port_lo, in[i].port_hi, &rules[k], &err) == 0)
            k++;
        else
            st_warn("%s: ignoring ingress rule %s: %s", what, in[i].cidr, err);
    }
    for (size_t i = 0; i < st_gw_cluster_endpoint_count(gw); i++)
        if (st_gw_endpoint_set_ingress(st_gw_cluster_endpoint(gw, i), rules, k) != 0)
            st_error("%s: cannot set the ingress rules", what);
    free(rules);
}

/* Sets the ingress rules of one connection endpoint from the current snapshot: the rules of
 * every live VPC connection served at its address. */
static void
ep_apply_ingress(struct st_rt *rt, struct st_rt_ep *e)
{
    const struct st_snapshot *snap = rt->ctl->snap;
    struct st_snap_ingress *in = NULL;
    size_t n = 0;
    for (size_t i = 0; snap && i < snap->n_conns; i++) {
        const struct st_snap_conn *c = &snap->conns[i];
        if (strcmp(c->cluster_arn, rt->arn) != 0 ||
            (strcmp(c->state, "AVAILABLE") != 0 && strcmp(c->state, "CREATING") != 0))
            continue;
        bool here = false;
        for (size_t j = 0; j < c->n_addresses && !here; j++)
            here = strcmp(c->addresses[j], e->addr) == 0;
        if (!here || !c->n_ingress)
            continue;
        struct st_snap_ingress *more = realloc(in, (n + c->n_ingress) * sizeof(*in));
        if (!more) {
            free(in);
            return; /* keep the previous rules */
        }
        in = more;
        memcpy(in + n, c->ingress, c->n_ingress * sizeof(*in));
        n += c->n_ingress;
    }
    /* The connection's authentication scheme and the snapshot SASL rounds read. */
    st_gw_cluster_set_audit(e->gw, rt->ctl->audit);
    st_gw_cluster_set_authorization(e->gw, !rt->ctl->skip_authorization);
    st_gwauth_apply(rt->ctl->snap, rt->ctl->region, rt->arn, e->addr, e->gw);
    char what[512];
    snprintf(what, sizeof(what), "cluster %s endpoint %s", rt->arn, e->addr);
    gw_set_ingress(e->gw, in, n, what);
    free(in);
}

/* The cluster's own in-VPC endpoints admit what its security groups allow (when it names any). */
static void
own_apply_ingress(struct st_rt *rt)
{
    const struct st_snap_cluster *cl =
        rt->gw && rt->ctl->snap ? st_snapshot_cluster(rt->ctl->snap, rt->arn) : NULL;
    if (!cl || !cl->sg_enforced)
        return;
    char what[512];
    snprintf(what, sizeof(what), "cluster %s in-VPC endpoints", rt->arn);
    gw_set_ingress(rt->gw, cl->ingress, cl->n_ingress, what);
}

void
st_rt_apply_ingress(struct st_ctl *ctl)
{
    for (struct st_rt *rt = ctl->rts; rt; rt = rt->next) {
        for (struct st_rt_ep *e = rt->eps; e; e = e->next)
            ep_apply_ingress(rt, e);
        own_apply_auth(rt);
        own_apply_ingress(rt);
    }
}

static void
ep_close_all_but(struct st_rt *rt, const json_t *keep)
{
    for (struct st_rt_ep **pp = &rt->eps; *pp;) {
        struct st_rt_ep *e = *pp;
        bool wanted = false;
        size_t i;
        json_t *a;
        json_array_foreach(keep, i, a) if (strcmp(json_string_value(a), e->addr) == 0) wanted =
            true;
        if (wanted) {
            pp = &e->next;
            continue;
        }
        *pp = e->next;
        st_info("cluster %s: endpoint %s closed", rt->arn, e->addr);
        st_meter_ep_closing(rt->ctl, rt->arn, e->addr, e->gw);
        st_gw_cluster_free(e->gw);
        free(e->addr);
        free(e);
    }
}

void
st_rt_each_ep(struct st_rt *rt,
              void (*fn)(void *arg, const char *cluster_arn, const char *addr,
                         const struct st_gw_cluster *gw),
              void *arg)
{
    for (struct st_rt_ep *e = rt->eps; e; e = e->next)
        fn(arg, rt->arn, e->addr, e->gw);
}

int
st_rt_sync(struct st_rt *rt, const char **err)
{
    struct st_ctl *ctl = rt->ctl;
    json_t *want = json_array();
    json_t *conns = st_store_conn_list(ctl->store, NULL, rt->arn, NULL, 0);
    size_t i, j;
    json_t *c, *a;
    json_array_foreach(conns, i, c)
    {
        if (strcmp(js(c, "state"), "AVAILABLE") == 0)
            json_array_extend(want, json_object_get(c, "endpointAddresses"));
    }
    json_decref(conns);
    ep_close_all_but(rt, want);
    int rc = 0;
    json_array_foreach(want, j, a)
    {
        const char *aerr = NULL;
        if (ep_open(rt, json_string_value(a), &aerr) != 0) {
            st_error("cluster %s: cannot listen on %s: %s", rt->arn, json_string_value(a), aerr);
            *err = aerr;
            rc = -1;
        }
    }
    json_decref(want);
    return rc;
}

int
st_rt_rebuild(struct st_rt *rt, const char **err)
{
    struct st_ctl *ctl = rt->ctl;
    json_t *rec = st_store_cluster_get(ctl->store, rt->arn);
    char name[128];
    snprintf(name, sizeof(name), "%s", rec ? js(rec, "clusterName") : "cluster");
    if (rt->gw)
        st_gw_cluster_free(rt->gw);
    rt->learned = false;
    rt->gw = gw_new(rt, name, NULL, err);
    if (!rt->gw) {
        json_decref(rec);
        return -1;
    }
    int rc = 0;
    /* The cluster's in-VPC endpoints (its own subnets), served as MSK serves a cluster's
     * listeners: TLS with the schemes ClientAuthentication enables (SASL IAM, SASL SCRAM, mutual
     * TLS); with only unauthenticated access, plaintext unless encryption in transit is TLS-only
     * (then TLS without client authentication). */
    unsigned scheme = 0;
    enum st_own_mode mode = st_rt_own_mode(rec, &scheme);
    bool open = mode == ST_OWN_PLAINTEXT || mode == ST_OWN_TLS_UNAUTH;
    own_names_free(rt);
    rt->own_tls = mode == ST_OWN_TLS_AUTH || mode == ST_OWN_TLS_UNAUTH;
    rt->own_scheme = mode == ST_OWN_TLS_AUTH ? scheme : 0;
    const json_t *addrs = json_object_get(rec, "endpointAddresses");
    rt->own_names = calloc(json_array_size(addrs) + 1, sizeof(char *));
    size_t ci;
    json_t *ca;
    json_array_foreach(addrs, ci, ca)
    {
        const char *aerr = NULL;
        char ename[64];
        snprintf(ename, sizeof(ename), "cluster:%s", json_string_value(ca));
        if (rt->own_names && (rt->own_names[rt->n_own_names] = strdup(json_string_value(ca))))
            rt->n_own_names++;
        if (!st_gw_endpoint_add(rt->gw, ename, json_string_value(ca), open, &aerr)) {
            st_error("cluster %s: cannot bind its in-VPC endpoint on %s: %s", rt->arn,
                     json_string_value(ca), aerr);
            *err = aerr;
            rc = -1;
        }
    }
    if (rt->own_tls && rt->n_own_names && st_gw_cluster_endpoint_count(rt->gw)) {
        const char *terr = NULL;
        if (st_gwauth_tls(ctl, (const char *const *)rt->own_names, rt->n_own_names, rt->gw,
                          &terr) != 0) {
            st_error("cluster %s: no TLS for its in-VPC endpoints: %s", rt->arn, terr);
            *err = terr;
            rc = -1;
        }
        own_apply_auth(rt);
    }
    own_apply_ingress(rt);
    if (rt->n_own_names)
        st_info("cluster %s: in-VPC endpoints %s%s (%s)", rt->arn, rt->own_names[0],
                rt->n_own_names > 1 ? ",..." : "",
                mode == ST_OWN_PLAINTEXT    ? "plaintext, unauthenticated"
                : mode == ST_OWN_TLS_UNAUTH ? "TLS, unauthenticated"
                : mode == ST_OWN_CLOSED     ? "no client authentication enabled"
                                            : "TLS, authenticated");
    json_decref(rec);
    st_gw_cluster_start(rt->gw, on_learned, rt);
    if (st_rt_sync(rt, rc == 0 ? err : &(const char *){NULL}) != 0)
        rc = -1;
    return rc;
}

int
st_rt_start(struct st_ctl *ctl, const json_t *rec, const char **err)
{
    struct st_rt *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        *err = "out of memory";
        return -1;
    }
    rt->ctl = ctl;
    rt->arn = strdup(js(rec, "clusterArn"));
    const char *upstream = json_string_value(json_object_get(rec, "straitUpstream"));
    rt->upsec = json_incref(json_object_get(rec, "straitUpstreamSecurity"));
    if (upstream && *upstream) {
        rt->bootstrap = strdup(upstream);
    } else {
        int brokers = (int)json_integer_value(json_object_get(rec, "numberOfBrokerNodes"));
        struct st_mock *m = mock_start(brokers > 0 ? brokers : 1, err);
        if (!m) {
            json_decref(rt->upsec);
            free(rt->arn);
            free(rt);
            return -1;
        }
        rt->mock = m;
        rt->bootstrap = strdup(rd_kafka_mock_cluster_bootstraps(m->mc));
        st_info("cluster %s: embedded upstream with %d brokers at %s", rt->arn, brokers,
                rt->bootstrap);
    }
    rt->next = ctl->rts;
    ctl->rts = rt;
    if (!rt->mock && strcmp(js(rec, "state"), "CREATING") == 0)
        st_ctl_schedule(ctl, ST_TASK_CLUSTER_DEADLINE, rt->arn, ctl->create_timeout * 1000);
    const char *berr = NULL;
    if (st_rt_rebuild(rt, &berr) != 0) {
        *err = berr ? berr : "cannot bind the cluster's endpoints";
        st_rt_stop(ctl, js(rec, "clusterArn"));
        return -1;
    }
    return 0;
}

void
st_rt_stop(struct st_ctl *ctl, const char *arn)
{
    for (struct st_rt **pp = &ctl->rts; *pp; pp = &(*pp)->next) {
        struct st_rt *rt = *pp;
        if (strcmp(rt->arn, arn) != 0)
            continue;
        *pp = rt->next;
        ep_close_all_but(rt, NULL);
        if (rt->gw)
            st_gw_cluster_free(rt->gw);
        mock_stop(rt->mock);
        own_names_free(rt);
        json_decref(rt->upsec);
        free(rt->bootstrap);
        free(rt->arn);
        free(rt);
        return;
    }
}

size_t
st_rt_brokers(struct st_rt *rt, int *ids, int *ports, size_t max)
{
    if (!rt || !rt->gw)
        return 0;
    const struct st_portmap *pm = st_gw_cluster_portmap(rt->gw);
    size_t n = 0;
    for (size_t i = 0; i < pm->n && n < max; i++, n++) {
        ids[n] = pm->entries[i].node_id;
        ports[n] = pm->entries[i].port;
    }
    return n;
}

static void
conn_set_state(struct st_ctl *ctl, json_t *c, const char *state, const char *reason)
{
    const char *err = NULL;
    json_object_set_new(c, "state", json_string(state));
    if (reason)
        json_object_set_new(c, "stateReason", json_string(reason));
    if (st_store_conn_update(ctl->store, c, &err) != 0)
        st_error("vpc connection %s: cannot record state %s: %s", js(c, "vpcConnectionArn"), state,
                 err);
    else
        st_info("vpc connection %s is %s%s%s", js(c, "vpcConnectionArn"), state, reason ? ": " : "",
                reason ? reason : "");
}

static void
task_conn(struct st_ctl *ctl, enum st_task_kind kind, const char *arn)
{
    json_t *c = st_store_conn_get(ctl->store, arn);
    if (!c)
        return;
    struct st_rt *rt = st_rt_find(ctl, js(c, "targetClusterArn"));
    const char *state = js(c, "state");
    const char *err = NULL;
    if (kind == ST_TASK_CONN_BIND && strcmp(state, "CREATING") == 0) {
        int rc = rt && rt->gw ? 0 : -1;
        if (!rt || !rt->gw)
            err = "the target cluster has no running gateway";
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(c, "endpointAddresses"), i, a)
        {
            if (rc == 0 && ep_open(rt, json_string_value(a), &err) != 0)
                rc = -1;
        }
        if (rc == 0) {
            conn_set_state(ctl, c, "AVAILABLE", NULL);
        } else {
            char reason[512];
            snprintf(reason, sizeof(reason),
                     "cannot listen for the connection's subnets on their endpoint addresses: %s",
                     err ? err : "unknown error");
            conn_set_state(ctl, c, "FAILED", reason);
            const char *rerr = NULL; /* close what was opened for it alone */
            if (rt && st_rt_sync(rt, &rerr) != 0)
                st_error("cluster %s: endpoints after a failed connection: %s", rt->arn, rerr);
        }
    } else if (kind == ST_TASK_CONN_REJECT && strcmp(state, "REJECTING") == 0) {
        if (rt && st_rt_sync(rt, &err) != 0)
            st_error("cluster %s: endpoints: %s", rt->arn, err);
        conn_set_state(ctl, c, "REJECTED", NULL);
    } else if (kind == ST_TASK_CONN_DELETE && strcmp(state, "DELETING") == 0) {
        if (rt && st_rt_sync(rt, &err) != 0)
            st_error("cluster %s: endpoints: %s", rt->arn, err);
        if (st_store_conn_delete(ctl->store, arn, &err) != 0)
            st_error("vpc connection %s: cannot delete it: %s", arn, err);
        else
            st_info("vpc connection %s deleted", arn);
    }
    json_decref(c);
    st_ctl_changed(ctl);
}

static void
task_cluster(struct st_ctl *ctl, enum st_task_kind kind, const char *arn)
{
    json_t *rec = st_store_cluster_get(ctl->store, arn);
    if (!rec)
        return;
    const char *err = NULL;
    if (kind == ST_TASK_CLUSTER_UPDATE && strcmp(js(rec, "state"), "UPDATING") == 0) {
        json_t *conns = st_store_conn_list(ctl->store, NULL, arn, NULL, 0);
        size_t i;
        json_t *c;
        bool any = false;
        json_array_foreach(conns, i, c)
        {
            if (strcmp(js(c, "state"), "DEACTIVATING") == 0) {
                conn_set_state(ctl, c, "INACTIVE", NULL);
                any = true;
            }
        }
        json_decref(conns);
        json_object_set_new(rec, "state", json_string("ACTIVE"));
        json_object_del(rec, "activeOperationArn");
        int urc = st_store_cluster_update(ctl->store, rec, NULL, &err);
        /* The in-VPC listeners follow the new settings (like MSK's rolling restart, this drops
         * their client connections); endpoints of deactivated connections close. */
        struct st_rt *rt = st_rt_find(ctl, arn);
        const char *rerr = NULL;
        if (rt && st_rt_rebuild(rt, &rerr) != 0)
            st_error("cluster %s: listeners: %s", arn, rerr);
        (void)any;
        if (urc != 0)
            st_error("cluster %s: cannot finish its update: %s", arn, err);
        else
            st_info("cluster %s update finished; ACTIVE", arn);
    } else if (kind == ST_TASK_CLUSTER_DEADLINE && strcmp(js(rec, "state"), "CREATING") == 0) {
        struct st_rt *rt = st_rt_find(ctl, arn);
        char msg[600];
        snprintf(msg, sizeof(msg),
                 "no broker of the upstream answered within %d seconds (bootstrap %s); check "
                 "straitUpstream and delete the cluster",
                 ctl->create_timeout, rt && rt->bootstrap ? rt->bootstrap : "?");
        json_object_set_new(rec, "state", json_string("FAILED"));
        json_object_set_new(
            rec, "stateInfo",
            json_pack("{s:s, s:s}", "code", "UPSTREAM_UNREACHABLE", "message", msg));
        st_rt_stop(ctl, arn);
        if (st_store_cluster_update(ctl->store, rec, NULL, &err) != 0)
            st_error("cluster %s: cannot mark it FAILED: %s", arn, err);
        else
            st_warn("cluster %s FAILED: %s", arn, msg);
    } else if (kind == ST_TASK_CLUSTER_DELETE && strcmp(js(rec, "state"), "DELETING") == 0) {
        st_rt_stop(ctl, arn);
        remove_portmaps(ctl, arn);
        if (st_store_cluster_delete(ctl->store, arn, &err) != 0)
            st_error("cluster %s: cannot delete it: %s", arn, err);
        else
            st_info("cluster %s deleted", arn);
    }
    json_decref(rec);
    st_ctl_changed(ctl);
}

void
st_rt_run_task(struct st_ctl *ctl, enum st_task_kind kind, const char *arn)
{
    if (kind == ST_TASK_CLUSTER_UPDATE || kind == ST_TASK_CLUSTER_DELETE ||
        kind == ST_TASK_CLUSTER_DEADLINE)
        task_cluster(ctl, kind, arn);
    else
        task_conn(ctl, kind, arn);
}

size_t
st_ctl_drain(struct st_ctl *ctl)
{
    size_t open = 0;
    for (struct st_rt *rt = ctl->rts; rt; rt = rt->next) {
        open += st_gw_cluster_drain(rt->gw);
        for (struct st_rt_ep *e = rt->eps; e; e = e->next)
            open += st_gw_cluster_drain(e->gw);
    }
    return open;
}

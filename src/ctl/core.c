/*
 * Control-plane lifecycle (see ctl.h): open the store, restore cluster runtimes and pending
 * lifecycle steps, publish snapshots after every change, and run deferred steps on timers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <event2/http.h>

#include "auth/crypto.h"
#include "ctl/gwauth.h"
#include "ctl/internal.h"
#include "store/store.h"
#include "util/log.h"

void
st_ctl_iso_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

void
st_ctl_iso_now(char out[32])
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    time_t t = tv.tv_sec;
    gmtime_r(&t, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", base, (int)(tv.tv_usec / 1000));
}

void
st_ctl_random(char *out, size_t n, const char *alphabet)
{
    size_t al = strlen(alphabet);
    uint8_t rnd[256];
    for (size_t i = 0; i < n; i++) {
        if (i % sizeof(rnd) == 0 && st_random(rnd, sizeof(rnd)) != 0)
            abort(); /* no randomness: never issue guessable ids or secrets */
        out[i] = alphabet[rnd[i % sizeof(rnd)] % al];
    }
    out[n] = '\0';
}

void
st_ctl_uuid(char out[37])
{
    uint8_t b[16];
    if (st_random(b, sizeof(b)) != 0)
        abort();
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void
st_ctl_changed(struct st_ctl *ctl)
{
    const char *err = NULL;
    struct st_snapshot *snap = st_snapshot_build(ctl->store, ctl->generation + 1, time(NULL), &err);
    if (!snap) {
        st_error("control plane: cannot build a snapshot: %s (the previous one stays)", err);
        return;
    }
    if (st_snapshot_set_super_users(snap, (const char *const *)ctl->super_users,
                                    ctl->n_super_users) != 0)
        st_error("control plane: out of memory copying the Kafka super users into the snapshot "
                 "(none apply until the next change)");
    ctl->generation++;
    st_snapshot_unref(ctl->snap);
    ctl->snap = snap;
    ctl->last_publish_ms = st_meter_now_ms();
    st_meter_states(ctl);
    st_rt_apply_ingress(ctl);
    if (ctl->publish)
        ctl->publish(ctl->publish_arg, st_snapshot_ref(snap));
}

struct st_snapshot *
st_ctl_snapshot(struct st_ctl *ctl)
{
    return ctl->snap;
}

void
st_ctl_set_publisher(struct st_ctl *ctl, st_ctl_publish_fn fn, void *arg)
{
    ctl->publish = fn;
    ctl->publish_arg = arg;
    if (fn && ctl->snap)
        fn(arg, st_snapshot_ref(ctl->snap));
}

static void
task_free(struct st_task *t)
{
    event_free(t->ev);
    free(t->arn);
    free(t);
}

static void
on_task(evutil_socket_t fd, short what, void *arg)
{
    struct st_task *t = arg;
    struct st_ctl *ctl = t->ctl;
    for (struct st_task **pp = &ctl->tasks; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    st_rt_run_task(ctl, t->kind, t->arn);
    task_free(t);
}

void
st_ctl_schedule(struct st_ctl *ctl, enum st_task_kind kind, const char *arn, int delay_ms)
{
    struct st_task *t = calloc(1, sizeof(*t));
    if (!t || !(t->arn = strdup(arn)) || !(t->ev = evtimer_new(ctl->base, on_task, t))) {
        st_error("control plane: out of memory scheduling a lifecycle step for %s", arn);
        if (t)
            free(t->arn);
        free(t);
        return;
    }
    t->ctl = ctl;
    t->kind = kind;
    t->next = ctl->tasks;
    ctl->tasks = t;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    evtimer_add(t->ev, &tv);
}

/* Restores runtimes and resumes transitions interrupted by a restart. */
static int
restore(struct st_ctl *ctl, const char **err)
{
    json_t *clusters = st_store_cluster_list(ctl->store, NULL, NULL, NULL, 0);
    if (!clusters) {
        *err = "cannot read clusters from the store";
        return -1;
    }
    size_t i;
    json_t *c;
    json_array_foreach(clusters, i, c)
    {
        const char *arn = json_string_value(json_object_get(c, "clusterArn"));
        const char *state = json_string_value(json_object_get(c, "state"));
        if (strcmp(state, "DELETING") == 0) {
            st_ctl_schedule(ctl, ST_TASK_CLUSTER_DELETE, arn, 0);
            continue;
        }
        const char *rerr = NULL;
        if (st_rt_start(ctl, c, &rerr) != 0)
            st_error("cluster %s: cannot restore its runtime: %s", arn, rerr);
        if (strcmp(state, "UPDATING") == 0)
            st_ctl_schedule(ctl, ST_TASK_CLUSTER_UPDATE, arn, 0);
    }
    json_decref(clusters);
    json_t *conns = st_store_conn_list(ctl->store, NULL, NULL, NULL, 0);
    json_array_foreach(conns, i, c)
    {
        const char *arn = json_string_value(json_object_get(c, "vpcConnectionArn"));
        const char *state = json_string_value(json_object_get(c, "state"));
        if (strcmp(state, "CREATING") == 0)
            st_ctl_schedule(ctl, ST_TASK_CONN_BIND, arn, 0);
        else if (strcmp(state, "REJECTING") == 0)
            st_ctl_schedule(ctl, ST_TASK_CONN_REJECT, arn, 0);
        else if (strcmp(state, "DELETING") == 0)
            st_ctl_schedule(ctl, ST_TASK_CONN_DELETE, arn, 0);
    }
    json_decref(conns);
    return 0;
}

struct st_ctl *
st_ctl_new(const struct st_ctl_config *cfg, const char **err)
{
    struct st_ctl *ctl = calloc(1, sizeof(*ctl));
    if (!ctl) {
        *err = "out of memory";
        return NULL;
    }
    /* Kafka ACL changes from clients (CreateAcls/DeleteAcls on any endpoint) go here. */
    st_gwauthz_bind(ctl);
    ctl->base = cfg->base;
    ctl->hs_pool = cfg->hs_pool;
    ctl->dns = cfg->dns;
    ctl->data_dir = strdup(cfg->data_dir);
    ctl->port_min = cfg->port_min ? cfg->port_min : 14001;
    ctl->port_max = cfg->port_max ? cfg->port_max : 14100;
    ctl->max_skew = cfg->max_skew > 0 ? cfg->max_skew : ST_SIGV4_DEFAULT_SKEW;
    ctl->create_timeout = cfg->create_timeout > 0 ? cfg->create_timeout : 120;
    ctl->skip_authorization = cfg->skip_authorization;
    if (cfg->limits)
        ctl->limits = *cfg->limits;
    else
        st_gw_limits_default(&ctl->limits);
    if (ctl->skip_authorization)
        st_warn("--insecure-skip-authorization: requests on VPC-connection endpoints are NOT "
                "authorized (development and benchmarks only)");
    if (st_ctl_super_users_parse(cfg->kafka_super_users, &ctl->super_users, &ctl->n_super_users,
                                 err) != 0) {
        st_ctl_free(ctl);
        return NULL;
    }
    const struct st_ctl_tls_files *tf = &cfg->tls_files;
    if (!tf->ca_cert != !tf->ca_key) {
        *err = "--endpoint-ca-cert and --endpoint-ca-key go together";
        st_ctl_free(ctl);
        return NULL;
    }
    if (!tf->cert != !tf->key) {
        *err = "--endpoint-cert and --endpoint-key go together";
        st_ctl_free(ctl);
        return NULL;
    }
    char **dst[] = {&ctl->tls_files.ca_cert,   &ctl->tls_files.ca_key,
                    &ctl->tls_files.cert,      &ctl->tls_files.key,
                    &ctl->tls_files.client_ca, &ctl->tls_files.principal_rules};
    const char *src[] = {tf->ca_cert, tf->ca_key,    tf->cert,
                         tf->key,     tf->client_ca, tf->principal_rules};
    for (size_t i = 0; i < sizeof(dst) / sizeof(dst[0]); i++)
        if (src[i] && *src[i]) {
            *dst[i] = strdup(src[i]);
            ctl->tls_files.any = true;
        }
    /* Operator files are checked now: a wrong path fails the start, not the first endpoint. */
    if (ctl->tls_files.any && st_gwauth_tls_init(ctl, err) != 0) {
        st_ctl_free(ctl);
        return NULL;
    }
    ctl->store = st_store_open(cfg->data_dir, err);
    if (!ctl->store) {
        st_ctl_free(ctl);
        return NULL;
    }
    ctl->price_gb = cfg->price_gb >= 0 ? cfg->price_gb : 0.006;
    ctl->price_conn_hour = cfg->price_conn_hour >= 0 ? cfg->price_conn_hour : 0.0225;
    if (st_meter_init(ctl, cfg->usage_flush_seconds, err) != 0) {
        st_ctl_free(ctl);
        return NULL;
    }
    char *region = st_store_meta_get(ctl->store, "region");
    snprintf(ctl->region, sizeof(ctl->region), "%s", region ? region : "us-east-1");
    free(region);
    st_ctl_changed(ctl);
    if (!ctl->snap) {
        *err = "cannot build the first snapshot";
        st_ctl_free(ctl);
        return NULL;
    }
    if (restore(ctl, err) != 0 ||
        (cfg->api_listen &&
         st_api_start(ctl, cfg->api_listen, cfg->tls_cert, cfg->tls_key, err) != 0)) {
        st_ctl_free(ctl);
        return NULL;
    }
    st_ctl_changed(ctl);
    return ctl;
}

const char *
st_ctl_api_address(const struct st_ctl *ctl)
{
    return ctl->api_addr;
}

bool
st_ctl_admin_handle(struct st_ctl *ctl, struct evhttp_request *req, const char *path)
{
    if (strcmp(path, "/v1/ctl/ca-certificate") == 0) {
        /* The CA that issues the endpoint certificates (DATA/tls or --endpoint-ca-cert). */
        const char *err = NULL;
        char *pem = st_gwauth_ca_pem(ctl, &err);
        if (pem)
            st_ctl_admin_reply(req, 200, json_pack("{s:s}", "caCertificate", pem));
        else
            st_ctl_admin_reply(
                req, 500,
                json_pack("{s:s, s:s}", "error", "InternalError", "message", err ? err : "no CA"));
        free(pem);
        return true;
    }
    return st_apply_admin(ctl, req, path) || st_acl_admin(ctl, req, path);
}

void
st_ctl_free(struct st_ctl *ctl)
{
    if (!ctl)
        return;
    st_gwauthz_bind(NULL);
    st_api_stop(ctl);
    while (ctl->tasks) {
        struct st_task *t = ctl->tasks;
        ctl->tasks = t->next;
        task_free(t);
    }
    while (ctl->rts) {
        char *arn = strdup(ctl->rts->arn);
        st_rt_stop(ctl, arn);
        free(arn);
    }
    st_meter_free(ctl);
    st_gwauth_tls_release(ctl);
    st_snapshot_unref(ctl->snap);
    st_store_close(ctl->store);
    free(ctl->data_dir);
    st_ctl_super_users_free(ctl->super_users);
    free(ctl->tls_files.ca_cert);
    free(ctl->tls_files.ca_key);
    free(ctl->tls_files.cert);
    free(ctl->tls_files.key);
    free(ctl->tls_files.client_ca);
    free(ctl->tls_files.principal_rules);
    free(ctl);
}

int
st_ctl_flush_usage(struct st_ctl *ctl)
{
    return st_meter_flush(ctl);
}

void
st_ctl_set_audit(struct st_ctl *ctl, struct st_audit *a)
{
    ctl->audit = a;
}

void
st_ctl_set_prices(struct st_ctl *ctl, double per_gb, double per_conn_hour)
{
    if (per_gb >= 0)
        ctl->price_gb = per_gb;
    if (per_conn_hour >= 0)
        ctl->price_conn_hour = per_conn_hour;
}

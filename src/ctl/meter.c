/*
 * Metering: what each VPC connection processed and how long it was AVAILABLE, and the usage
 * report (GET /strait/v1/usage) that prices it.
 *
 * Bytes and requests come from the gateway counters of the connection endpoint addresses (one
 * gateway per address, runtime.c): every --usage-flush-seconds, when an endpoint closes, and at
 * shutdown the deltas since the last sample are attributed to the connection listening on the
 * address and added to its (connection, hour) row in the store, requests by Kafka API key to its
 * (connection, hour, API) rows in the same transaction. Connection-hours come from the state
 * history recorded from every published snapshot (conn_states).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/http.h>

#include "ctl/internal.h"
#include "gateway/gateway.h"
#include "kafka/proto.h"
#include "store/store.h"
#include "util/log.h"

/* Last counters seen on one connection endpoint gateway. */
struct meter_base {
    char *cluster_arn;              /* cluster */
    char *addr;                     /* endpoint address */
    const struct st_gw_cluster *gw; /* the gateway they were read from (a new one starts at 0) */
    struct st_gw_scheme_counters k[ST_GW_SCHEMES]; /* per auth scheme, as last read */
    bool seen;                                     /* touched by the current sampling pass */
    struct meter_base *next;                       /* list */
};

/* Deltas not yet written, per (connection, hour). */
struct meter_pending {
    char *conn_arn, *cluster_arn; /* connection and cluster */
    char scheme[16];              /* auth scheme */
    char conn_account[13];        /* client account */
    char cluster_account[13];     /* cluster owner */
    int64_t hour;                 /* hour start, epoch seconds */
    int64_t in, out, req;         /* deltas */
    int64_t api[ST_GW_API_KEYS];  /* request deltas by API key */
    struct meter_pending *next;   /* list */
};

/* Last recorded state of a connection. */
struct meter_state {
    char *conn_arn, *cluster_arn; /* connection and cluster */
    char scheme[16];              /* auth scheme */
    char conn_account[13];        /* client account */
    char cluster_account[13];     /* cluster owner */
    char state[16];               /* last recorded state */
    struct meter_state *next;     /* list */
};

struct st_meter {
    struct meter_base *bases;       /* per endpoint gateway */
    struct meter_pending *pending;  /* unwritten deltas */
    struct meter_state *states;     /* last recorded connection states */
    struct event *timer;            /* periodic flush */
    uint64_t flushes, flush_errors; /* counters for /metrics */
    int64_t last_flush_ms;          /* last successful flush */
};

int64_t
st_meter_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The account field of an ARN (arn:aws:kafka:REGION:ACCOUNT:...), "" when malformed. */
static void
arn_account(const char *arn, char out[13])
{
    out[0] = '\0';
    const char *p = arn;
    for (int i = 0; i < 4 && p; i++) {
        p = strchr(p, ':');
        if (p)
            p++;
    }
    const char *e = p ? strchr(p, ':') : NULL;
    if (e && e - p == 12)
        snprintf(out, 13, "%.12s", p);
}

/* The connection that listens on `addr` for cluster `cluster_arn`: an AVAILABLE one first, else
 * one on its way out (the endpoint closes after its state changed). With `scheme`, one of that
 * authentication scheme first, else whichever is there. One pass. */
static const struct st_snap_conn *
conn_on(const struct st_snapshot *snap, const char *cluster_arn, const char *addr,
        const char *scheme)
{
    const struct st_snap_conn *best[2] = {NULL, NULL}; /* [0] any scheme, [1] `scheme` */
    for (size_t i = 0; snap && i < snap->n_conns; i++) {
        const struct st_snap_conn *c = &snap->conns[i];
        if (strcmp(c->cluster_arn, cluster_arn) != 0)
            continue;
        bool here = false;
        for (size_t j = 0; j < c->n_addresses && !here; j++)
            here = strcmp(c->addresses[j], addr) == 0;
        if (!here)
            continue;
        bool avail = strcmp(c->state, "AVAILABLE") == 0;
        for (int k = 0; k < 2; k++) {
            if (k == 1 && (!scheme || strcmp(c->authentication, scheme) != 0))
                continue;
            if (!best[k] || (avail && strcmp(best[k]->state, "AVAILABLE") != 0))
                best[k] = c;
        }
    }
    return best[1] ? best[1] : best[0];
}

static void
pending_add(struct st_meter *m, const struct st_snap_conn *c, int64_t hour, int64_t in, int64_t out,
            int64_t req, const uint64_t api[ST_GW_API_KEYS])
{
    struct meter_pending *p;
    for (p = m->pending; p; p = p->next)
        if (p->hour == hour && strcmp(p->conn_arn, c->arn) == 0)
            break;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p || !(p->conn_arn = strdup(c->arn)) || !(p->cluster_arn = strdup(c->cluster_arn))) {
            if (p)
                free(p->conn_arn);
            free(p);
            st_error("meter: out of memory; usage of %s lost", c->arn);
            return;
        }
        snprintf(p->scheme, sizeof(p->scheme), "%s", c->authentication);
        snprintf(p->conn_account, sizeof(p->conn_account), "%s", c->owner);
        arn_account(c->cluster_arn, p->cluster_account);
        p->hour = hour;
        p->next = m->pending;
        m->pending = p;
    }
    p->in += in;
    p->out += out;
    p->req += req;
    for (int i = 0; i < ST_GW_API_KEYS; i++)
        p->api[i] += (int64_t)api[i];
}

/* Samples one endpoint gateway: attributes what it carried since the last sample. */
static void
sample(struct st_ctl *ctl, const char *cluster_arn, const char *addr,
       const struct st_gw_cluster *gw, bool closing)
{
    struct st_meter *m = ctl->meter;
    if (!m)
        return;
    struct meter_base **pp, *b = NULL;
    for (pp = &m->bases; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->cluster_arn, cluster_arn) == 0 && strcmp((*pp)->addr, addr) == 0) {
            b = *pp;
            break;
        }
    if (!b) {
        b = calloc(1, sizeof(*b));
        if (!b || !(b->cluster_arn = strdup(cluster_arn)) || !(b->addr = strdup(addr))) {
            if (b)
                free(b->cluster_arn);
            free(b);
            return;
        }
        b->next = m->bases;
        m->bases = b;
        pp = &m->bases;
    }
    if (b->gw != gw) { /* a new gateway counts from zero */
        b->gw = gw;
        memset(b->k, 0, sizeof(b->k));
    }
    b->seen = true;
    int64_t hour = (st_meter_now_ms() / 1000) / 3600 * 3600;
    for (int s = 0; s < ST_GW_SCHEMES; s++) {
        const struct st_gw_scheme_counters *k = st_gw_cluster_scheme_counters(gw, s);
        struct st_gw_scheme_counters *last = &b->k[s];
        uint64_t din = k->bytes_from_clients - last->bytes_from_clients,
                 dout = k->bytes_to_clients - last->bytes_to_clients,
                 dreq = k->requests - last->requests, dapi[ST_GW_API_KEYS];
        for (int i = 0; i < ST_GW_API_KEYS; i++)
            dapi[i] = k->api[i] - last->api[i];
        *last = *k;
        if (!din && !dout && !dreq)
            continue;
        /* Traffic of a scheme goes to the connection of that scheme on the address. */
        const struct st_snap_conn *c =
            conn_on(ctl->snap, cluster_arn, addr, st_gw_scheme_ix_name(s));
        if (c)
            pending_add(m, c, hour, (int64_t)din, (int64_t)dout, (int64_t)dreq, dapi);
        else
            st_warn("meter: %s on %s carried %llu bytes with no connection to bill", cluster_arn,
                    addr, (unsigned long long)(din + dout));
    }
    if (closing) {
        *pp = b->next;
        free(b->cluster_arn);
        free(b->addr);
        free(b);
    }
}

void
st_meter_ep_closing(struct st_ctl *ctl, const char *cluster_arn, const char *addr,
                    const struct st_gw_cluster *gw)
{
    sample(ctl, cluster_arn, addr, gw, true);
}

static void
sample_cb(void *arg, const char *cluster_arn, const char *addr, const struct st_gw_cluster *gw)
{
    sample(arg, cluster_arn, addr, gw, false);
}

int
st_meter_flush(struct st_ctl *ctl)
{
    struct st_meter *m = ctl->meter;
    if (!m)
        return 0;
    for (struct st_rt *rt = ctl->rts; rt; rt = rt->next)
        st_rt_each_ep(rt, sample_cb, ctl);
    if (!m->pending)
        return 0;
    const char *err = NULL;
    int rc = st_store_begin(ctl->store, &err);
    for (struct meter_pending *p = m->pending; rc == 0 && p; p = p->next) {
        struct st_store_usage u = {
            p->conn_arn, p->cluster_arn, p->scheme, p->conn_account, p->cluster_account,
            p->hour,     p->in,          p->out,    p->req};
        rc = st_store_usage_add(ctl->store, &u, &err);
        for (int key = 0; rc == 0 && key < ST_GW_API_KEYS; key++)
            if (p->api[key])
                rc = st_store_usage_api_add(ctl->store, &u, key, p->api[key], &err);
    }
    if (rc == 0)
        rc = st_store_commit(ctl->store, &err);
    else
        st_store_rollback(ctl->store);
    if (rc != 0) {
        m->flush_errors++;
        st_error("meter: cannot write usage (kept for the next attempt): %s", err);
        return -1;
    }
    while (m->pending) {
        struct meter_pending *p = m->pending;
        m->pending = p->next;
        free(p->conn_arn);
        free(p->cluster_arn);
        free(p);
    }
    m->flushes++;
    m->last_flush_ms = st_meter_now_ms();
    return 0;
}

static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)st_meter_flush(arg);
}

static struct meter_state *
state_find(struct st_meter *m, const char *arn)
{
    for (struct meter_state *s = m->states; s; s = s->next)
        if (strcmp(s->conn_arn, arn) == 0)
            return s;
    return NULL;
}

static void
state_record(struct st_ctl *ctl, struct meter_state *s, const char *state, int64_t at_ms)
{
    const char *err = NULL;
    struct st_store_conn_state r = {s->conn_arn,        s->cluster_arn, s->scheme, s->conn_account,
                                    s->cluster_account, state,          at_ms};
    if (st_store_conn_state_add(ctl->store, &r, &err) != 0) {
        st_error("meter: cannot record %s as %s: %s", s->conn_arn, state, err);
        return;
    }
    snprintf(s->state, sizeof(s->state), "%s", state);
}

void
st_meter_states(struct st_ctl *ctl)
{
    struct st_meter *m = ctl->meter;
    const struct st_snapshot *snap = ctl->snap;
    if (!m || !snap)
        return;
    int64_t now = st_meter_now_ms();
    for (size_t i = 0; i < snap->n_conns; i++) {
        const struct st_snap_conn *c = &snap->conns[i];
        struct meter_state *s = state_find(m, c->arn);
        if (!s) {
            s = calloc(1, sizeof(*s));
            if (!s || !(s->conn_arn = strdup(c->arn)) ||
                !(s->cluster_arn = strdup(c->cluster_arn))) {
                if (s)
                    free(s->conn_arn);
                free(s);
                continue;
            }
            snprintf(s->scheme, sizeof(s->scheme), "%s", c->authentication);
            snprintf(s->conn_account, sizeof(s->conn_account), "%s", c->owner);
            arn_account(c->cluster_arn, s->cluster_account);
            s->next = m->states;
            m->states = s;
        }
        if (strcmp(s->state, c->state) != 0)
            state_record(ctl, s, c->state, now);
    }
    for (struct meter_state *s = m->states; s; s = s->next)
        if (strcmp(s->state, "DELETED") != 0 && !st_snapshot_conn(snap, s->conn_arn))
            state_record(ctl, s, "DELETED", now);
}

int
st_meter_init(struct st_ctl *ctl, int flush_seconds, const char **err)
{
    struct st_meter *m = calloc(1, sizeof(*m));
    if (!m) {
        *err = "out of memory";
        return -1;
    }
    json_t *last = st_store_conn_state_last(ctl->store);
    if (!last) {
        free(m);
        *err = "cannot read the recorded connection states";
        return -1;
    }
    size_t i;
    json_t *r;
    json_array_foreach(last, i, r)
    {
        struct meter_state *s = calloc(1, sizeof(*s));
        if (!s)
            break;
        s->conn_arn = strdup(json_string_value(json_object_get(r, "vpcConnectionArn")));
        s->cluster_arn = strdup(json_string_value(json_object_get(r, "clusterArn")));
        snprintf(s->scheme, sizeof(s->scheme), "%s",
                 json_string_value(json_object_get(r, "authentication")));
        snprintf(s->conn_account, sizeof(s->conn_account), "%s",
                 json_string_value(json_object_get(r, "clientAccount")));
        snprintf(s->cluster_account, sizeof(s->cluster_account), "%s",
                 json_string_value(json_object_get(r, "clusterAccount")));
        snprintf(s->state, sizeof(s->state), "%s", json_string_value(json_object_get(r, "state")));
        s->next = m->states;
        m->states = s;
    }
    json_decref(last);
    m->timer = event_new(ctl->base, -1, EV_PERSIST, on_flush, ctl);
    struct timeval tv = {flush_seconds > 0 ? flush_seconds : 60, 0};
    if (!m->timer || event_add(m->timer, &tv) != 0) {
        *err = "cannot start the usage flush timer";
        ctl->meter = m;
        st_meter_free(ctl);
        return -1;
    }
    ctl->meter = m;
    return 0;
}

void
st_meter_free(struct st_ctl *ctl)
{
    struct st_meter *m = ctl->meter;
    if (!m)
        return;
    if (m->pending)
        (void)st_meter_flush(ctl);
    if (m->pending)
        st_error("meter: usage not written at shutdown");
    if (m->timer)
        event_free(m->timer);
    while (m->bases) {
        struct meter_base *b = m->bases;
        m->bases = b->next;
        free(b->cluster_arn);
        free(b->addr);
        free(b);
    }
    while (m->pending) {
        struct meter_pending *p = m->pending;
        m->pending = p->next;
        free(p->conn_arn);
        free(p->cluster_arn);
        free(p);
    }
    while (m->states) {
        struct meter_state *s = m->states;
        m->states = s->next;
        free(s->conn_arn);
        free(s->cluster_arn);
        free(s);
    }
    free(m);
    ctl->meter = NULL;
}

void
st_meter_stats(const struct st_ctl *ctl, uint64_t *flushes, uint64_t *errors, int64_t *last_ms)
{
    const struct st_meter *m = ctl->meter;
    *flushes = m ? m->flushes : 0;
    *errors = m ? m->flush_errors : 0;
    *last_ms = m ? m->last_flush_ms : 0;
}

/* ---- the usage report */

enum gran { G_HOUR, G_DAY, G_MONTH };

static int64_t
bucket_start(int64_t t, enum gran g)
{
    if (g == G_HOUR)
        return t / 3600 * 3600 - (t % 3600 < 0 ? 3600 : 0);
    if (g == G_DAY)
        return t / 86400 * 86400 - (t % 86400 < 0 ? 86400 : 0);
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    tm.tm_mday = 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    return (int64_t)timegm(&tm);
}

static int64_t
bucket_next(int64_t start, enum gran g)
{
    if (g == G_HOUR)
        return start + 3600;
    if (g == G_DAY)
        return start + 86400;
    time_t tt = (time_t)start;
    struct tm tm;
    gmtime_r(&tt, &tm);
    tm.tm_mon++;
    return (int64_t)timegm(&tm);
}

/* Parses epoch seconds or ISO-8601 UTC ("2026-11-27", "2026-11-27T10:00:00Z", with optional
 * fractional seconds). Returns 0 or -1. */
int
st_usage_parse_time(const char *s, int64_t *out)
{
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*s && *end == '\0') {
        *out = v;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int n = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &n) != 3 || n != 10)
        return -1;
    const char *p = s + 10;
    if (*p == 'T' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%2d:%2d:%2d%n", &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &m) != 3 || m != 8)
            return -1;
        p += 1 + m;
        if (*p == '.') {
            p++;
            while (*p >= '0' && *p <= '9')
                p++;
        }
        if (*p == 'Z')
            p++;
    }
    if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *out = (int64_t)timegm(&tm);
    return 0;
}

#define GIB 1073741824.0

static json_t *
item_new(const json_t *ref, int64_t start, int64_t end)
{
    char a[32], b[32];
    st_ctl_iso_time(start, a);
    st_ctl_iso_time(end, b);
    return json_pack("{s:O, s:O, s:O, s:O, s:O, s:s, s:s, s:I, s:I, s:I, s:{}, s:f}",
                     "vpcConnectionArn", json_object_get(ref, "vpcConnectionArn"), "clusterArn",
                     json_object_get(ref, "clusterArn"), "authentication",
                     json_object_get(ref, "authentication"), "clientAccount",
                     json_object_get(ref, "clientAccount"), "clusterAccount",
                     json_object_get(ref, "clusterAccount"), "periodStart", a, "periodEnd", b,
                     "bytesIn", (json_int_t)0, "bytesOut", (json_int_t)0, "requests", (json_int_t)0,
                     "requestsByApi", "connectionHours", 0.0);
}

/* The item of (connection, bucket) in `items` (an object keyed "arn|start"), created on demand. */
static json_t *
item_get(json_t *items, const json_t *ref, int64_t start, enum gran g)
{
    char key[600];
    snprintf(key, sizeof(key), "%s|%020lld",
             json_string_value(json_object_get(ref, "vpcConnectionArn")), (long long)start);
    json_t *it = json_object_get(items, key);
    if (!it) {
        it = item_new(ref, start, bucket_next(start, g));
        json_object_set_new(items, key, it);
    }
    return it;
}

static void
add_int(json_t *o, const char *k, json_int_t v)
{
    json_object_set_new(o, k, json_integer(json_integer_value(json_object_get(o, k)) + v));
}

/* Adds the requests of `by` ({api: n}) to those of `into`. */
static void
add_by_api(json_t *into, const json_t *by)
{
    const char *api;
    json_t *v;
    json_object_foreach((json_t *)by, api, v) add_int(into, api, json_integer_value(v));
}

static void
add_real(json_t *o, const char *k, double v)
{
    json_object_set_new(o, k, json_real(json_number_value(json_object_get(o, k)) + v));
}

static double
round6(double v)
{
    return round(v * 1e6) / 1e6;
}

/* Costs in nano-dollars: a few kilobytes at $0.006/GB still show. */
static double
round9(double v)
{
    return round(v * 1e9) / 1e9;
}

static void
price(json_t *it, const struct st_ctl *ctl)
{
    double gb = (double)(json_integer_value(json_object_get(it, "bytesIn")) +
                         json_integer_value(json_object_get(it, "bytesOut"))) /
                GIB;
    double hours = json_number_value(json_object_get(it, "connectionHours"));
    double c_data = gb * ctl->price_gb, c_hours = hours * ctl->price_conn_hour;
    json_object_set_new(it, "connectionHours", json_real(round6(hours)));
    json_object_set_new(it, "dataProcessedGB", json_real(round9(gb)));
    double rd = round9(c_data), rh = round9(c_hours);
    json_object_set_new(it, "cost",
                        json_pack("{s:f, s:f, s:f}", "dataProcessing", rd, "connectionHours", rh,
                                  "total", round9(rd + rh)));
}

static int
cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static json_t *
total_new(void)
{
    return json_pack("{s:I, s:I, s:I, s:{}, s:f}", "bytesIn", (json_int_t)0, "bytesOut",
                     (json_int_t)0, "requests", (json_int_t)0, "requestsByApi", "connectionHours",
                     0.0);
}

static void
total_add(json_t *tot, const json_t *it)
{
    add_int(tot, "bytesIn", json_integer_value(json_object_get(it, "bytesIn")));
    add_int(tot, "bytesOut", json_integer_value(json_object_get(it, "bytesOut")));
    add_int(tot, "requests", json_integer_value(json_object_get(it, "requests")));
    add_by_api(json_object_get(tot, "requestsByApi"), json_object_get(it, "requestsByApi"));
    add_real(tot, "connectionHours", json_number_value(json_object_get(it, "connectionHours")));
}

/* Usage of one side ("conn" or "cluster") of `account`, or NULL on a store failure. */
static json_t *
st_usage_report_side(struct st_ctl *ctl, const char *account, const char *side,
                     const char *cluster_arn, const char *conn_arn, int64_t from, int64_t to,
                     int64_t as_of, const char *granularity)
{
    enum gran g = strcmp(granularity, "day") == 0     ? G_DAY
                  : strcmp(granularity, "month") == 0 ? G_MONTH
                                                      : G_HOUR;
    json_t *rows = st_store_usage_list(ctl->store, account, side, cluster_arn, conn_arn, from, to);
    json_t *states = st_store_conn_state_list(ctl->store, account, side, cluster_arn, conn_arn);
    json_t *apis =
        st_store_usage_api_list(ctl->store, account, side, cluster_arn, conn_arn, from, to);
    if (!rows || !states || !apis) {
        json_decref(rows);
        json_decref(states);
        json_decref(apis);
        return NULL;
    }
    json_t *items = json_object();
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
    {
        int64_t hour = json_integer_value(json_object_get(r, "hour"));
        if (hour < bucket_start(from, G_HOUR) || hour >= to)
            continue;
        json_t *it = item_get(items, r, bucket_start(hour, g), g);
        add_int(it, "bytesIn", json_integer_value(json_object_get(r, "bytesIn")));
        add_int(it, "bytesOut", json_integer_value(json_object_get(r, "bytesOut")));
        add_int(it, "requests", json_integer_value(json_object_get(r, "requests")));
    }
    /* Requests by API, named as Kafka names them (the key in decimal when strait knows no name). */
    json_array_foreach(apis, i, r)
    {
        int64_t hour = json_integer_value(json_object_get(r, "hour"));
        if (hour < bucket_start(from, G_HOUR) || hour >= to)
            continue;
        json_int_t key = json_integer_value(json_object_get(r, "apiKey"));
        const char *name = key >= 0 && key <= INT16_MAX ? st_kafka_api_name((int16_t)key) : NULL;
        char num[24];
        if (!name) {
            snprintf(num, sizeof(num), "%lld", (long long)key);
            name = num;
        }
        json_t *it = item_get(items, r, bucket_start(hour, g), g);
        add_int(json_object_get(it, "requestsByApi"), name,
                json_integer_value(json_object_get(r, "requests")));
    }
    /* Connection-hours: AVAILABLE intervals from the state history, clipped to [from, to) and
     * to as_of, split at bucket boundaries (exact, in fractions of an hour). */
    size_t n = json_array_size(states);
    for (i = 0; i < n; i++) {
        json_t *s = json_array_get(states, i);
        if (strcmp(json_string_value(json_object_get(s, "state")), "AVAILABLE") != 0)
            continue;
        double a = (double)json_integer_value(json_object_get(s, "atMs")) / 1000.0;
        double b = (double)as_of;
        json_t *nx = i + 1 < n ? json_array_get(states, i + 1) : NULL;
        if (nx && strcmp(json_string_value(json_object_get(nx, "vpcConnectionArn")),
                         json_string_value(json_object_get(s, "vpcConnectionArn"))) == 0)
            b = (double)json_integer_value(json_object_get(nx, "atMs")) / 1000.0;
        if (a < (double)from)
            a = (double)from;
        if (b > (double)to)
            b = (double)to;
        if (b > (double)as_of)
            b = (double)as_of;
        while (a < b) {
            int64_t bs = bucket_start((int64_t)floor(a), g), be = bucket_next(bs, g);
            double end = (double)be < b ? (double)be : b;
            add_real(item_get(items, s, bs, g), "connectionHours", (end - a) / 3600.0);
            a = end;
        }
    }
    json_t *list = json_array();
    json_t *tot = total_new();
    json_t *by = json_object(); /* per auth scheme */
    const char *k;
    json_t *it;
    size_t nk = json_object_size(items), n_ks = 0;
    const char **ks = calloc(nk ? nk : 1, sizeof(*ks));
    json_object_foreach(items, k, it) if (ks) ks[n_ks++] = k;
    if (ks)
        qsort(ks, n_ks, sizeof(*ks), cmp_str); /* "arn|start": by connection, then period */
    for (i = 0; ks && i < n_ks; i++) {
        it = json_object_get(items, ks[i]);
        const char *scheme = json_string_value(json_object_get(it, "authentication"));
        json_t *bs = json_object_get(by, scheme ? scheme : "");
        if (!bs) {
            bs = total_new();
            json_object_set_new(by, scheme ? scheme : "", bs);
        }
        total_add(tot, it);
        total_add(bs, it);
        price(it, ctl);
        json_array_append(list, it);
    }
    free(ks);
    price(tot, ctl);
    json_object_foreach(by, k, it) price(it, ctl);
    json_decref(items);
    json_decref(rows);
    json_decref(states);
    json_decref(apis);
    return json_pack("{s:o, s:o, s:o}", "items", list, "byAuthentication", by, "total", tot);
}

void
st_usage_serve(struct st_api *a)
{
    struct st_ctl *ctl = a->ctl;
    if (st_api_authorize(a, "kafka:GetStraitUsage", "*", NULL) != 0)
        return;
    const char *gran = st_query_get(&a->q, "granularity");
    const char *view = st_query_get(&a->q, "view");
    const char *cluster = st_query_get(&a->q, "clusterArn");
    const char *conn = st_query_get(&a->q, "vpcConnectionArn");
    const char *fs = st_query_get(&a->q, "from"), *ts = st_query_get(&a->q, "to"),
               *ns = st_query_get(&a->q, "now");
    if (!gran || !*gran)
        gran = "hour";
    if (strcmp(gran, "hour") != 0 && strcmp(gran, "day") != 0 && strcmp(gran, "month") != 0) {
        st_api_error(a, "BadRequestException", "granularity",
                     "granularity must be hour, day or month");
        return;
    }
    if (view && *view && strcmp(view, "clusterOwner") != 0 &&
        strcmp(view, "connectionOwner") != 0) {
        st_api_error(a, "BadRequestException", "view",
                     "view must be clusterOwner or connectionOwner (absent: both)");
        return;
    }
    int64_t now = st_meter_now_ms() / 1000, from = 0, to = 0, as_of = now;
    if ((ns && *ns && st_usage_parse_time(ns, &as_of) != 0) ||
        (fs && *fs && st_usage_parse_time(fs, &from) != 0) ||
        (ts && *ts && st_usage_parse_time(ts, &to) != 0)) {
        st_api_error(a, "BadRequestException", NULL,
                     "from, to and now are epoch seconds or ISO-8601 UTC times "
                     "(2026-11-27 or 2026-11-27T10:00:00Z)");
        return;
    }
    if (!ts || !*ts)
        to = as_of > now ? as_of : now;
    if (!fs || !*fs) /* default: the current month */
        from = bucket_start(to - 1, G_MONTH);
    if (from >= to) {
        st_api_error(a, "BadRequestException", "from", "from must be before to");
        return;
    }
    /* Usage is current to the last minute: write what is pending first. */
    (void)st_meter_flush(ctl);
    json_t *out = json_object();
    char t1[32], t2[32], t3[32];
    st_ctl_iso_time(from, t1);
    st_ctl_iso_time(to, t2);
    st_ctl_iso_time(as_of, t3);
    json_object_set_new(out, "account", json_string(a->caller->account));
    json_object_set_new(out, "from", json_string(t1));
    json_object_set_new(out, "to", json_string(t2));
    json_object_set_new(out, "asOf", json_string(t3));
    json_object_set_new(out, "granularity", json_string(gran));
    json_object_set_new(out, "prices",
                        json_pack("{s:s, s:f, s:f, s:s}", "currency", "USD", "perGBProcessed",
                                  ctl->price_gb, "perConnectionHour", ctl->price_conn_hour,
                                  "gigabyte", "2^30 bytes"));
    static const struct {
        const char *view, *side, *member;
    } sides[] = {{"clusterOwner", "cluster", "asClusterOwner"},
                 {"connectionOwner", "conn", "asConnectionOwner"}};
    for (size_t i = 0; i < 2; i++) {
        if (view && *view && strcmp(view, sides[i].view) != 0)
            continue;
        json_t *r = st_usage_report_side(ctl, a->caller->account, sides[i].side, cluster, conn,
                                         from, to, as_of, gran);
        if (!r) {
            json_decref(out);
            st_api_error(a, "InternalServerErrorException", NULL, "cannot read usage");
            return;
        }
        json_object_set_new(out, sides[i].member, r);
    }
    st_api_ok(a, out);
}

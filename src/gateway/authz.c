/*
 * Data-plane authorization of one connection's requests (issue 6, msk-iam-access.md §8).
 *
 *   request --resources--> decide each entry (cache, else the provider) --> forward as is
 *                                                                     \-> strip denied entries,
 *                                                                         merge errors into the
 *                                                                         response later
 *                                                                     \-> answer entirely here
 *
 * Decisions are cached per connection (one principal) and dropped when the cluster's auth
 * context changes (a new control-plane snapshot), so a policy or ACL change applies to the next
 * request. A cache hit does no policy evaluation and no allocation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "authz/audit.h"
#include "authz/msk.h"
#include "gateway/internal.h"
#include "kafka/deny.h"
#include "kafka/schema.h"
#include "util/log.h"

/* Cache size bounds: the table starts small and is emptied when it would outgrow MAX. */
#define CACHE_MIN 64
#define CACHE_MAX 8192

struct authz_slot {
    uint64_t hash;     /* of (type, op, name) */
    uint8_t used;      /* slot holds a decision */
    uint8_t type;      /* enum st_kres_type */
    uint8_t op;        /* enum st_kop */
    uint8_t allowed;   /* the decision */
    uint8_t action_ix; /* st_gw_authz_action_index() of action, for the counters */
    uint8_t *name;     /* owned copy of the name bytes */
    size_t name_len;   /* bytes at name */
    char *action;      /* owned, for the audit log */
    char *resource;    /* owned */
    char *reason;      /* owned */
};

struct st_authz_conn {
    char *principal;             /* owned */
    bool iam;                    /* IAM principal (policies) or Kafka principal (ACLs) */
    uint64_t version;            /* auth version the cached decisions belong to */
    struct authz_slot *slots;    /* open-addressing table, cap entries */
    size_t cap, n;               /* capacity / used */
    char vpc[320];               /* VPC connection of the last fresh decision, for the audit */
    struct st_kdenial *denied;   /* denials of the request being decided (reused) */
    size_t n_denied, cap_denied; /* used / allocated */
};

static struct st_ratelimit authz_rl = ST_RATELIMIT_INIT(20);

struct st_authz_conn *
st_authz_conn_new(const char *principal, bool iam)
{
    struct st_authz_conn *a = calloc(1, sizeof(*a));
    if (!a || !(a->principal = strdup(principal))) {
        free(a);
        return NULL;
    }
    a->iam = iam;
    return a;
}

static void
cache_clear(struct st_authz_conn *a)
{
    for (size_t i = 0; i < a->cap; i++) {
        struct authz_slot *s = &a->slots[i];
        if (!s->used)
            continue;
        free(s->name);
        free(s->action);
        free(s->resource);
        free(s->reason);
        memset(s, 0, sizeof(*s));
    }
    a->n = 0;
}

void
st_authz_conn_free(struct st_authz_conn *a)
{
    if (!a)
        return;
    cache_clear(a);
    free(a->slots);
    free(a->denied);
    free(a->principal);
    free(a);
}

const char *
st_authz_conn_principal(const struct st_authz_conn *a)
{
    return a->principal;
}

void
st_authz_pending_clear(struct st_authz_pending *p)
{
    free(p->orig);
    free(p->denials);
    memset(p, 0, sizeof(*p));
}

/* FNV-1a over (type, op, name). */
static uint64_t
slot_hash(enum st_kres_type type, enum st_kop op, const uint8_t *name, size_t len)
{
    uint64_t h = 1469598103934665603ull;
    h = (h ^ (uint64_t)type) * 1099511628211ull;
    h = (h ^ (uint64_t)op) * 1099511628211ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ name[i]) * 1099511628211ull;
    return h | 1;
}

static struct authz_slot *
cache_find(struct st_authz_conn *a, uint64_t h, enum st_kres_type type, enum st_kop op,
           const uint8_t *name, size_t len)
{
    if (!a->cap)
        return NULL;
    for (size_t i = h & (a->cap - 1);; i = (i + 1) & (a->cap - 1)) {
        struct authz_slot *s = &a->slots[i];
        if (!s->used)
            return s;
        if (s->hash == h && s->type == type && s->op == op && s->name_len == len &&
            (len == 0 || memcmp(s->name, name, len) == 0))
            return s;
    }
}

/* Makes room for one more decision; returns 0 or -1 (OOM). */
static int
cache_grow(struct st_authz_conn *a)
{
    if ((a->n + 1) * 4 <= a->cap * 3)
        return 0;
    if (a->cap >= CACHE_MAX) {
        cache_clear(a);
        return 0;
    }
    size_t cap = a->cap ? a->cap * 2 : CACHE_MIN;
    struct authz_slot *ns = calloc(cap, sizeof(*ns));
    if (!ns)
        return -1;
    struct authz_slot *old = a->slots;
    size_t ocap = a->cap;
    a->slots = ns;
    a->cap = cap;
    for (size_t i = 0; i < ocap; i++) {
        if (!old[i].used)
            continue;
        struct authz_slot *s =
            cache_find(a, old[i].hash, old[i].type, old[i].op, old[i].name, old[i].name_len);
        *s = old[i];
    }
    free(old);
    return 0;
}

static char *
dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

static void
audit_decision(struct st_authz_conn *a, const struct st_authz_env *env, const struct st_kreq_hdr *h,
               const struct authz_slot *s)
{
    struct st_audit *au = env->cluster->auth.audit;
    if (!au || (s->allowed && !st_audit_all(au)))
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char endpoint[96];
    snprintf(endpoint, sizeof(endpoint), "%s:%d", env->ep->address, env->port);
    const char *api = st_kafka_api_name(h->api_key);
    struct st_audit_record r = {
        .time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
        .conn_id = env->conn_id,
        .principal = a->principal,
        .auth = a->iam               ? "SASL_IAM"
                : env->tls_principal ? "TLS"
                                     : "SASL_SCRAM",
        .source = env->peer,
        .endpoint = endpoint,
        .vpc_connection = a->vpc[0] ? a->vpc : NULL,
        .cluster = env->cluster->auth.cluster_arn,
        .api = api ? api : "unknown",
        .api_version = h->api_version,
        .action = s->action,
        .resource = s->resource,
        .allowed = s->allowed,
        .reason = s->reason,
    };
    st_audit_write(au, &r);
}

/* A decision that could not be stored (out of memory): denied, not cached. */
static struct authz_slot oom_slot = {.used = 1,
                                     .allowed = 0,
                                     .action_ix = ST_GW_AUTHZ_ACTIONS - 1,
                                     .action = "?",
                                     .resource = "?",
                                     .reason = "out of memory"};

/*
 * The decision for one (type, op, name) of this connection's principal: from the cache, else
 * asked from the provider and cached. Audits denials (and everything when configured).
 */
static const struct authz_slot *
decide_opt(struct st_authz_conn *a, const struct st_authz_env *env, const struct st_kreq_hdr *h,
           enum st_kres_type type, enum st_kop op, const uint8_t *name, size_t len, bool quiet)
{
    struct st_gw_cluster *c = env->cluster;
    if (a->version != c->auth.version) {
        cache_clear(a);
        a->version = c->auth.version;
    }
    if (!name)
        len = 0;
    uint64_t hash = slot_hash(type, op, name, len);
    struct authz_slot *s = cache_find(a, hash, type, op, name, len);
    if (!s || !s->used) {
        struct st_gw_authz_req rq = {
            .principal = a->principal,
            .iam = a->iam,
            .cluster_arn = c->auth.cluster_arn,
            .source_ip = env->peer_ip,
            .endpoint = env->ep->address,
            .tls = env->tls,
            .type = type,
            .op = op,
            .name = name,
            .name_len = len,
        };
        struct st_gw_authz_res res;
        memset(&res, 0, sizeof(res));
        c->counters.authz_evaluations++;
        env->ep->counters.authz_evaluations++;
        if (!c->auth.ops || !c->auth.ops->authorize ||
            c->auth.ops->authorize(c->auth.ctx, &rq, &res) != 0) {
            res.allowed = false;
            if (!res.reason[0])
                snprintf(res.reason, sizeof(res.reason), "no authorization is configured");
        }
        if (res.vpc_connection[0])
            snprintf(a->vpc, sizeof(a->vpc), "%s", res.vpc_connection);
        if (cache_grow(a) != 0)
            return &oom_slot;
        s = cache_find(a, hash, type, op, name, len);
        s->name = malloc(len ? len : 1);
        s->action = dup_or_empty(res.action);
        s->resource = dup_or_empty(res.resource);
        s->reason = dup_or_empty(res.reason);
        if (!s->name || !s->action || !s->resource || !s->reason) {
            free(s->name);
            free(s->action);
            free(s->resource);
            free(s->reason);
            memset(s, 0, sizeof(*s));
            return &oom_slot;
        }
        if (len)
            memcpy(s->name, name, len);
        s->name_len = len;
        s->hash = hash;
        s->type = (uint8_t)type;
        s->op = (uint8_t)op;
        s->allowed = res.allowed;
        s->action_ix = (uint8_t)st_gw_authz_action_index(res.action);
        s->used = 1;
        a->n++;
        if (!res.allowed && !quiet)
            st_log_limited(&authz_rl, ST_LOG_INFO, "C-%llu %s: %s denied %s on %s: %s",
                           (unsigned long long)env->conn_id, env->peer, a->principal, s->action,
                           s->resource, s->reason);
    }
    if (quiet)
        return s;
    c->counters.authz_by_action[s->action_ix][s->allowed ? 0 : 1]++;
    env->ep->counters.authz_by_action[s->action_ix][s->allowed ? 0 : 1]++;
    if (s->allowed) {
        c->counters.authz_allowed++;
        env->ep->counters.authz_allowed++;
    } else {
        c->counters.authz_denied++;
        env->ep->counters.authz_denied++;
    }
    audit_decision(a, env, h, s);
    return s;
}

/* A decision that counts and is audited. */
static const struct authz_slot *
decide(struct st_authz_conn *a, const struct st_authz_env *env, const struct st_kreq_hdr *h,
       enum st_kres_type type, enum st_kop op, const uint8_t *name, size_t len)
{
    return decide_opt(a, env, h, type, op, name, len, false);
}

/* ---- topic ids ---- */

/* Bound on remembered topic ids; past it the table starts over (learned again from Metadata). */
#define TOPIC_IDS_MAX (1u << 20)

static size_t
tid_slot(const struct st_gw_topic_id *t, size_t cap, const uint8_t *id)
{
    uint64_t h;
    memcpy(&h, id + 8, sizeof(h)); /* uuids are random: their low half is a good hash */
    for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!t[i].name || memcmp(t[i].id, id, 16) == 0)
            return i;
}

void
st_gw_topic_ids_free(struct st_gw_cluster *c)
{
    for (size_t i = 0; i < c->cap_topic_ids; i++)
        free(c->topic_ids[i].name);
    free(c->topic_ids);
    c->topic_ids = NULL;
    c->cap_topic_ids = c->n_topic_ids = 0;
}

static void
tid_put(struct st_gw_cluster *c, const uint8_t *id, const uint8_t *name, size_t len)
{
    if ((c->n_topic_ids + 1) * 2 > c->cap_topic_ids) {
        if (c->cap_topic_ids >= TOPIC_IDS_MAX)
            st_gw_topic_ids_free(c);
        size_t cap = c->cap_topic_ids ? c->cap_topic_ids * 2 : 256;
        struct st_gw_topic_id *t = calloc(cap, sizeof(*t));
        if (!t)
            return;
        for (size_t i = 0; i < c->cap_topic_ids; i++)
            if (c->topic_ids[i].name)
                t[tid_slot(t, cap, c->topic_ids[i].id)] = c->topic_ids[i];
        free(c->topic_ids);
        c->topic_ids = t;
        c->cap_topic_ids = cap;
    }
    struct st_gw_topic_id *s = &c->topic_ids[tid_slot(c->topic_ids, c->cap_topic_ids, id)];
    if (s->name && s->len == len && memcmp(s->name, name, len) == 0)
        return;
    char *n = malloc(len + 1);
    if (!n)
        return;
    memcpy(n, name, len);
    n[len] = '\0';
    if (!s->name)
        c->n_topic_ids++;
    free(s->name);
    memcpy(s->id, id, 16);
    s->name = n;
    s->len = len;
}

const char *
st_gw_topic_ids_name(const struct st_gw_cluster *c, const uint8_t *id, size_t *len)
{
    if (!c->cap_topic_ids)
        return NULL;
    const struct st_gw_topic_id *s = &c->topic_ids[tid_slot(c->topic_ids, c->cap_topic_ids, id)];
    if (!s->name)
        return NULL;
    *len = s->len;
    return s->name;
}

struct tid_walk {
    struct st_gw_cluster *c; /* table owner */
    size_t elem_off;         /* element of the pending half of a pair */
    const uint8_t *name;     /* its name, or NULL */
    size_t name_len;         /* bytes at name */
    const uint8_t *id;       /* its id, or NULL */
};

static int
tid_visit(void *arg, const struct st_kres *r)
{
    struct tid_walk *w = arg;
    if (r->type != ST_KRES_TOPIC || r->depth != 1)
        return 0;
    if (r->elem_off != w->elem_off) {
        w->elem_off = r->elem_off;
        w->name = NULL;
        w->id = NULL;
    }
    if (r->name) {
        w->name = r->name;
        w->name_len = r->name_len;
    }
    if (r->topic_id)
        w->id = r->topic_id;
    if (w->name && w->id) {
        tid_put(w->c, w->id, w->name, w->name_len);
        w->name = NULL;
        w->id = NULL;
    }
    return 0;
}

void
st_gw_topic_ids_learn(struct st_gw_cluster *c, int16_t api_version, const uint8_t *body, size_t len)
{
    if (api_version < 10)
        return; /* no topic ids before Metadata v10 */
    struct tid_walk w = {c, (size_t)-1, NULL, 0, NULL};
    const char *err = NULL;
    if (st_kafka_response_entities(ST_KAFKA_METADATA, api_version, body, len, tid_visit, &w,
                                   &err) != 0)
        st_debug("topic ids: cannot read a Metadata v%d response: %s", api_version, err);
}

/* ---- requests ---- */

struct rq_walk {
    struct st_authz_conn *a;        /* connection */
    const struct st_authz_env *env; /* where it runs */
    const struct st_kreq_hdr *h;    /* request header */
    uint32_t n_entries;             /* entries that needed a decision */
    int16_t whole_error;            /* a request-level entry was denied: its error, else 0 */
    bool no_autocreate;             /* Metadata: a named topic may not be created here */
    bool oom;                       /* a denial could not be recorded */
};

static int
add_denial(struct st_authz_conn *a, const struct st_kres *r, int16_t error)
{
    if (a->n_denied == a->cap_denied) {
        size_t cap = a->cap_denied ? a->cap_denied * 2 : 8;
        struct st_kdenial *nd = realloc(a->denied, cap * sizeof(*nd));
        if (!nd)
            return -1;
        a->denied = nd;
        a->cap_denied = cap;
    }
    a->denied[a->n_denied].res = *r;
    a->denied[a->n_denied].error = error;
    a->n_denied++;
    return 0;
}

static int
rq_visit(void *arg, const struct st_kres *r)
{
    struct rq_walk *w = arg;
    if (r->op == ST_KOP_NONE)
        return 0;
    /* List APIs decided on their results (cluster Describe, else per entry): never an error. */
    if (r->flags & ST_KRES_F_FILTER_RESPONSE && r->type == ST_KRES_CLUSTER)
        return 0;
    /* "All topics" (Metadata) and ListTransactions: a nameless entry, decided per result. */
    if (r->type != ST_KRES_CLUSTER && !r->name && !r->topic_id)
        return 0;
    bool in_array = r->depth > 0 && r->type != ST_KRES_CLUSTER;
    if (in_array)
        w->n_entries++;
    int16_t error;
    const uint8_t *name = r->name;
    size_t name_len = r->name_len;
    if (r->type == ST_KRES_TOPIC && !name)
        name = (const uint8_t *)st_gw_topic_ids_name(w->env->cluster, r->topic_id, &name_len);
    if (r->type == ST_KRES_TOPIC && !name) {
        /* A topic id strait has not seen in a Metadata response: refused, as Kafka refuses an
         * id it does not know (the client refreshes its metadata and retries). */
        error = ST_KERR_UNKNOWN_TOPIC_ID;
    } else {
        const struct authz_slot *s = decide(w->a, w->env, w->h, r->type, r->op, name, name_len);
        if (s->allowed) {
            /* Auto-creation needs CreateTopic (Kafka: CREATE on the cluster or the topic). Not
             * audited: it only matters for topics that do not exist yet. */
            if (r->api_key == ST_KAFKA_METADATA && (r->flags & ST_KRES_F_AUTO_CREATE) &&
                !decide_opt(w->a, w->env, w->h, ST_KRES_TOPIC, ST_KOP_CREATE, name, name_len, true)
                     ->allowed)
                w->no_autocreate = true;
            return 0;
        }
        error = st_authz_error_for(r->type);
    }
    if (!in_array) {
        if (!w->whole_error)
            w->whole_error = error;
        return 0;
    }
    if (add_denial(w->a, r, error) != 0)
        w->oom = true;
    return 0;
}

/* The operation a list API's results are filtered by, when the principal may not see all. */
static bool
filter_for(struct st_authz_conn *a, const struct st_authz_env *env, const struct st_kreq_hdr *h,
           const struct st_kreq_facts *f, struct st_authz_pending *pend)
{
    switch (h->api_key) {
    case ST_KAFKA_METADATA:
        if (!(f->flags & ST_KRES_F_ALL_TOPICS))
            return false;
        pend->filter_type = ST_KRES_TOPIC;
        pend->filter_op = ST_KOP_DESCRIBE;
        return true;
    case ST_KAFKA_LIST_GROUPS:
        /* Describe on the cluster sees every group; else only the describable ones. */
        if (decide(a, env, h, ST_KRES_CLUSTER, ST_KOP_DESCRIBE, NULL, 0)->allowed)
            return false;
        pend->filter_type = ST_KRES_GROUP;
        pend->filter_op = ST_KOP_DESCRIBE;
        return true;
    case ST_KAFKA_LIST_TRANSACTIONS:
        pend->filter_type = ST_KRES_TXN_ID;
        pend->filter_op = ST_KOP_DESCRIBE;
        return true;
    case ST_KAFKA_OFFSET_FETCH:
        /* A null topic list asks for every committed topic of the group: Kafka leaves out the
         * ones the principal may not describe (named topics were decided already and pass). */
        pend->filter_type = ST_KRES_TOPIC;
        pend->filter_op = ST_KOP_DESCRIBE;
        return true;
    default:
        return false;
    }
}

/* Copies the original body and the denials (re-pointed into the copy) into `pend`. */
static int
keep_for_merge(struct st_authz_conn *a, const uint8_t *body, size_t len,
               struct st_authz_pending *pend)
{
    pend->orig = malloc(len ? len : 1);
    pend->denials = malloc(a->n_denied * sizeof(*pend->denials));
    if (!pend->orig || !pend->denials) {
        st_authz_pending_clear(pend);
        return -1;
    }
    memcpy(pend->orig, body, len);
    pend->orig_len = len;
    for (size_t i = 0; i < a->n_denied; i++) {
        struct st_kdenial d = a->denied[i];
        if (d.res.name)
            d.res.name = pend->orig + (d.res.name - body);
        if (d.res.topic_id)
            d.res.topic_id = pend->orig + (d.res.topic_id - body);
        pend->denials[i] = d;
    }
    pend->n_denials = a->n_denied;
    return 0;
}

static bool ops_fix_wanted(const struct st_kreq_hdr *h, const uint8_t *body, size_t len);

/* Sets AllowAutoTopicCreation of the Metadata request body in `b` to false. */
static int
no_autocreate(const struct st_kreq_hdr *h, struct st_buf *b, const char **err)
{
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_METADATA, false);
    int fi = st_kstruct_find(m->root, "AllowAutoTopicCreation");
    size_t off, end;
    if (fi < 0 || st_kschema_field_span(m, h->api_version, st_buf_head(b), st_buf_used(b), fi, &off,
                                        &end, err) != 0)
        return -1;
    if (end - off != 1) {
        *err = "unexpected AllowAutoTopicCreation encoding";
        return -1;
    }
    st_buf_head(b)[off] = 0;
    return 0;
}

enum st_authz_verdict
st_authz_request(struct st_authz_conn *a, const struct st_authz_env *env,
                 const struct st_kreq_hdr *h, const uint8_t *body, size_t len, struct st_buf *out,
                 struct st_authz_pending *pend, const char **err)
{
    memset(pend, 0, sizeof(*pend));
    switch (h->api_key) {
    case ST_KAFKA_API_VERSIONS:
    case ST_KAFKA_SASL_HANDSHAKE:
    case ST_KAFKA_SASL_AUTHENTICATE:
        return ST_AUTHZ_FORWARD;
    default:
        break;
    }
    bool acl_api = h->api_key == ST_KAFKA_DESCRIBE_ACLS || h->api_key == ST_KAFKA_CREATE_ACLS ||
                   h->api_key == ST_KAFKA_DELETE_ACLS;
    if (!acl_api && !st_kafka_deny_supported(h->api_key, h->api_version)) {
        *err = "strait cannot authorize this request precisely (not offered in ApiVersions)";
        return ST_AUTHZ_ERROR;
    }
    struct st_kreq_facts facts;
    if (st_kafka_request_facts(h->api_key, h->api_version, body, len, &facts, err) != 0)
        return ST_AUTHZ_ERROR;
    a->n_denied = 0;
    struct rq_walk w = {a, env, h, 0, 0, false, false};
    if (st_kafka_request_resources(h->api_key, h->api_version, body, len, &facts, rq_visit, &w,
                                   err) != 0)
        return ST_AUTHZ_ERROR;
    if (w.oom) {
        *err = "out of memory authorizing a request";
        return ST_AUTHZ_ERROR;
    }
    bool no_response = h->api_key == ST_KAFKA_PRODUCE && facts.acks == 0;
    if (w.whole_error) {
        env->cluster->counters.requests_denied++;
        env->ep->counters.requests_denied++;
        if (no_response)
            return ST_AUTHZ_DROP;
        st_buf_reset(out);
        if (st_kafka_deny_error(h->api_key, h->api_version, body, len, w.whole_error, out, err) !=
            0)
            return ST_AUTHZ_ERROR;
        return ST_AUTHZ_ANSWER;
    }
    if (acl_api) {
        st_buf_reset(out);
        const struct st_gw_auth *au = &env->cluster->auth;
        if (!au->ops || !au->ops->acl_answer) {
            *err = "Kafka ACLs are not available on this endpoint";
            return ST_AUTHZ_ERROR;
        }
        if (au->ops->acl_answer(au->ctx, au->cluster_arn, h->api_key, h->api_version, body, len,
                                out, err) != 0)
            return ST_AUTHZ_ERROR;
        return ST_AUTHZ_ANSWER;
    }
    bool filtering = filter_for(a, env, h, &facts, pend);
    pend->ops_fix = ops_fix_wanted(h, body, len);
    /* Metadata v4+ asks for auto-creation explicitly: turned off when a named topic may not be
     * created by this principal (v0-3 imply it and cannot turn it off). */
    bool flip = w.no_autocreate && h->api_key == ST_KAFKA_METADATA && h->api_version >= 4;
    if (a->n_denied == 0 && !flip)
        return filtering || pend->ops_fix ? ST_AUTHZ_FORWARD_FILTER : ST_AUTHZ_FORWARD;
    if (a->n_denied == 0) {
        st_buf_reset(out);
        if (st_buf_append(out, body, len) != 0) {
            *err = "out of memory authorizing a request";
            return ST_AUTHZ_ERROR;
        }
        if (no_autocreate(h, out, err) != 0)
            return ST_AUTHZ_ERROR;
        return ST_AUTHZ_REWRITE;
    }
    /* Metadata always goes upstream (its broker list is needed); v1+ reads an empty topic list
     * as "none". Everything else denied in full is answered here. */
    bool all = a->n_denied == w.n_entries;
    if (all && !(h->api_key == ST_KAFKA_METADATA && h->api_version >= 1)) {
        env->cluster->counters.requests_denied++;
        env->ep->counters.requests_denied++;
        if (no_response)
            return ST_AUTHZ_DROP;
        st_buf_reset(out);
        if (st_kafka_deny_response(h->api_key, h->api_version, body, len, a->denied, a->n_denied,
                                   NULL, 0, out, err) != 0)
            return ST_AUTHZ_ERROR;
        return ST_AUTHZ_ANSWER;
    }
    st_buf_reset(out);
    struct st_kres *drop = malloc(a->n_denied * sizeof(*drop));
    if (!drop) {
        *err = "out of memory authorizing a request";
        return ST_AUTHZ_ERROR;
    }
    for (size_t i = 0; i < a->n_denied; i++)
        drop[i] = a->denied[i].res;
    int rc =
        st_kafka_request_strip(h->api_key, h->api_version, body, len, drop, a->n_denied, out, err);
    free(drop);
    if (rc != 0 || (flip && no_autocreate(h, out, err) != 0))
        return ST_AUTHZ_ERROR;
    env->cluster->counters.requests_partial++;
    env->ep->counters.requests_partial++;
    if (!no_response && keep_for_merge(a, body, len, pend) != 0) {
        *err = "out of memory authorizing a request";
        return ST_AUTHZ_ERROR;
    }
    return ST_AUTHZ_REWRITE;
}

/* ---- *AuthorizedOperations ---- */

/* True when the request's boolean field `name` exists in its version and is set. */
static bool
flag_set(const struct st_kreq_hdr *h, const uint8_t *body, size_t len, const char *name)
{
    const struct st_kmsg *m = st_kschema_msg(h->api_key, false);
    int fi = m ? st_kstruct_find(m->root, name) : -1;
    size_t off, end;
    const char *err = NULL;
    return fi >= 0 && st_kfield_in(&m->root->fields[fi], h->api_version) &&
           !st_kfield_tagged(&m->root->fields[fi], h->api_version) &&
           st_kschema_field_span(m, h->api_version, body, len, fi, &off, &end, &err) == 0 &&
           end - off == 1 && body[off] != 0;
}

/*
 * Responses that carry authorized-operation bit sets the client asked for: only then is the
 * response decoded and the sets recomputed (a Metadata response is otherwise passed as is).
 */
static bool
ops_fix_wanted(const struct st_kreq_hdr *h, const uint8_t *body, size_t len)
{
    switch (h->api_key) {
    case ST_KAFKA_METADATA:
        return h->api_version >= 8 &&
               (flag_set(h, body, len, "IncludeTopicAuthorizedOperations") ||
                flag_set(h, body, len, "IncludeClusterAuthorizedOperations"));
    case 15: /* DescribeGroups */
    case 69: /* ConsumerGroupDescribe */
        return flag_set(h, body, len, "IncludeAuthorizedOperations");
    case ST_KAFKA_DESCRIBE_CLUSTER:
        return flag_set(h, body, len, "IncludeClusterAuthorizedOperations");
    case 75: /* DescribeTopicPartitions: always carries them */
        return true;
    default:
        return false;
    }
}

/* Kafka's AclOperation codes a resource type's bit set may contain (AclEntry.supportedOperations).
 */
static const enum st_kop topic_ops[] = {
    ST_KOP_READ,  ST_KOP_WRITE,    ST_KOP_CREATE,           ST_KOP_DELETE,
    ST_KOP_ALTER, ST_KOP_DESCRIBE, ST_KOP_DESCRIBE_CONFIGS, ST_KOP_ALTER_CONFIGS};
static const enum st_kop group_ops[] = {ST_KOP_READ, ST_KOP_DESCRIBE, ST_KOP_DELETE};
static const enum st_kop cluster_ops[] = {ST_KOP_CREATE,        ST_KOP_ALTER,
                                          ST_KOP_DESCRIBE,      ST_KOP_DESCRIBE_CONFIGS,
                                          ST_KOP_ALTER_CONFIGS, ST_KOP_IDEMPOTENT_WRITE};

/* The bit set (1 << AclOperation) of the operations the principal may do on a resource. */
static int32_t
ops_bits(struct st_authz_conn *a, const struct st_authz_env *env, const struct st_kreq_hdr *h,
         enum st_kres_type type, const uint8_t *name, size_t len)
{
    const enum st_kop *ops = type == ST_KRES_TOPIC   ? topic_ops
                             : type == ST_KRES_GROUP ? group_ops
                                                     : cluster_ops;
    size_t n = type == ST_KRES_TOPIC   ? sizeof(topic_ops) / sizeof(topic_ops[0])
               : type == ST_KRES_GROUP ? sizeof(group_ops) / sizeof(group_ops[0])
                                       : sizeof(cluster_ops) / sizeof(cluster_ops[0]);
    int32_t bits = 0;
    for (size_t i = 0; i < n; i++)
        if (decide_opt(a, env, h, type, ops[i], name, len, true)->allowed)
            bits |= (int32_t)1 << st_authz_acl_op(ops[i]);
    return bits;
}

/* Field `name` of an object, or NULL when absent in this version. */
static struct st_kval *
obj_field(struct st_kobj *o, const char *name)
{
    int i = st_kstruct_find(o->st, name);
    return i >= 0 && o->vals[i].present ? &o->vals[i] : NULL;
}

/* Recomputes every *AuthorizedOperations value the broker filled in (INT32_MIN = not asked). */
static void
ops_fix_obj(struct st_authz_conn *a, const struct st_authz_env *env, const struct st_kreq_hdr *h,
            struct st_kobj *o, bool *changed)
{
    for (uint32_t f = 0; f < o->st->nfields; f++) {
        const struct st_kfield *fd = &o->st->fields[f];
        struct st_kval *v = &o->vals[f];
        if (!v->present)
            continue;
        if (fd->type == ST_KT_STRUCT) {
            uint32_t cnt = fd->is_array ? (v->is_null ? 0 : v->count) : (v->is_null ? 0 : 1);
            for (uint32_t i = 0; i < cnt; i++)
                ops_fix_obj(a, env, h, &v->objs[i], changed);
            continue;
        }
        const char *n = fd->name;
        size_t nl = strlen(n);
        if (nl < 20 || strcmp(n + nl - 20, "AuthorizedOperations") != 0 || v->i == INT32_MIN)
            continue;
        int32_t bits;
        if (strcmp(n, "ClusterAuthorizedOperations") == 0) {
            bits = ops_bits(a, env, h, ST_KRES_CLUSTER, NULL, 0);
        } else if (strcmp(n, "TopicAuthorizedOperations") == 0) {
            struct st_kval *nm = obj_field(o, "Name");
            if (!nm || nm->is_null)
                continue;
            bits = ops_bits(a, env, h, ST_KRES_TOPIC, nm->p, nm->n);
        } else {
            struct st_kval *g = obj_field(o, "GroupId");
            if (!g || g->is_null)
                continue;
            bits = ops_bits(a, env, h, ST_KRES_GROUP, g->p, g->n);
        }
        if (v->i != bits) {
            v->i = bits;
            *changed = true;
        }
    }
}

static int
ops_fix(struct st_authz_conn *a, const struct st_authz_env *env, int16_t key, int16_t ver,
        const uint8_t *body, size_t len, struct st_buf *out, bool *changed, const char **err)
{
    struct st_kreq_hdr h = {.api_key = key, .api_version = ver};
    struct st_karena ar;
    st_karena_init(&ar, 64 * len + 65536);
    struct st_kdoc d;
    int rc = st_kdoc_decode(&ar, st_kschema_msg(key, true), ver, body, len, &d, err);
    bool ch = false;
    if (rc == 0)
        ops_fix_obj(a, env, &h, &d.root, &ch);
    if (rc == 0 && ch)
        rc = st_kdoc_encode(&d, out, err);
    st_karena_free(&ar);
    *changed = rc == 0 && ch;
    return rc;
}

/* ---- responses ---- */

struct rs_walk {
    struct st_authz_conn *a;        /* connection */
    const struct st_authz_env *env; /* where it runs */
    const struct st_kreq_hdr *h;    /* the request's key and version */
    const struct st_authz_pending *pend;
    struct st_kres *drop; /* entries to remove */
    size_t n, cap;        /* used / allocated */
    bool oom;             /* could not grow drop */
};

static int
rs_visit(void *arg, const struct st_kres *r)
{
    struct rs_walk *w = arg;
    if (r->type != w->pend->filter_type || !r->name || r->depth == 0)
        return 0;
    if (decide(w->a, w->env, w->h, r->type, w->pend->filter_op, r->name, r->name_len)->allowed)
        return 0;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 16;
        struct st_kres *nd = realloc(w->drop, cap * sizeof(*nd));
        if (!nd) {
            w->oom = true;
            return -1;
        }
        w->drop = nd;
        w->cap = cap;
    }
    w->drop[w->n++] = *r;
    return 0;
}

int
st_authz_response(struct st_authz_conn *a, const struct st_authz_env *env, int16_t api_key,
                  int16_t api_version, const struct st_authz_pending *pend, const uint8_t *body,
                  size_t len, struct st_buf *out, bool *changed, const char **err)
{
    *changed = false;
    st_buf_reset(out);
    struct st_buf tmp;
    st_buf_init(&tmp, 0);
    int rc = 0;
    if (pend->n_denials) {
        rc = st_kafka_deny_response(api_key, api_version, pend->orig, pend->orig_len, pend->denials,
                                    pend->n_denials, body, len, &tmp, err);
        *changed = rc == 0;
    } else if (pend->filter_op) {
        struct st_kreq_hdr h = {.api_key = api_key, .api_version = api_version};
        struct rs_walk w = {a, env, &h, pend, NULL, 0, 0, false};
        rc = st_kafka_response_entities(api_key, api_version, body, len, rs_visit, &w, err);
        if (rc == 0 && w.n) {
            rc = st_kafka_response_strip(api_key, api_version, body, len, w.drop, w.n, &tmp, err);
            *changed = rc == 0;
        } else if (w.oom) {
            *err = "out of memory filtering a response";
            rc = -1;
        }
        free(w.drop);
    }
    if (rc == 0 && pend->ops_fix) {
        bool fixed = false;
        rc = ops_fix(a, env, api_key, api_version, *changed ? st_buf_head(&tmp) : body,
                     *changed ? st_buf_used(&tmp) : len, out, &fixed, err);
        if (rc == 0 && fixed) {
            *changed = true;
            st_buf_free(&tmp);
            return 0;
        }
    }
    if (rc == 0 && *changed && st_buf_append(out, st_buf_head(&tmp), st_buf_used(&tmp)) != 0) {
        *err = "out of memory rewriting a response";
        rc = -1;
    }
    st_buf_free(&tmp);
    return rc;
}

/* ---- ApiVersions ---- */

/* The versions in [*mn, *mx] strait authorizes precisely: the first contiguous run of them
 * (narrows *mn and *mx). Returns false when there is none. */
static bool
authz_range(int16_t key, int16_t *mn, int16_t *mx)
{
    int lo = -1, hi = -1;
    for (int v = *mn; v <= *mx; v++) {
        if (!st_kafka_deny_supported(key, (int16_t)v)) {
            if (lo >= 0)
                break;
            continue;
        }
        if (lo < 0)
            lo = v;
        hi = v;
    }
    if (lo < 0)
        return false;
    *mn = (int16_t)lo;
    *mx = (int16_t)hi;
    return true;
}

int
st_authz_patch_apiversions(int16_t version, const uint8_t *body, size_t len, struct st_buf *out)
{
    if (len < 2)
        return -1;
    int16_t error = st_rd_i16(body);
    bool flex = version >= 3 && error != ST_KERR_UNSUPPORTED_VERSION;
    struct st_krd r = {body, len, 2};
    uint32_t n;
    if (flex) {
        if (st_krd_uvarint(&r, &n) != 0 || n == 0)
            return -1;
        n--;
    } else {
        if (len - r.pos < 4 || st_rd_i32(body + r.pos) < 0)
            return -1;
        n = (uint32_t)st_rd_i32(body + r.pos);
        r.pos += 4;
    }
    size_t entry = flex ? 7 : 6;
    if (n > (len - r.pos) / entry)
        return -1;
    size_t first = r.pos;
    static const int16_t acl_keys[] = {ST_KAFKA_DESCRIBE_ACLS, ST_KAFKA_CREATE_ACLS,
                                       ST_KAFKA_DELETE_ACLS};
    bool have_acl[3] = {false, false, false};
    /* Two passes: count what stays, then write. */
    uint32_t keep = 0;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = body + first + i * entry;
        if (flex && e[6] != 0)
            return -1;
        int16_t key = st_rd_i16(e);
        bool is_acl = false;
        for (int k = 0; k < 3; k++)
            if (key == acl_keys[k])
                have_acl[k] = is_acl = true;
        if (is_acl || key == ST_KAFKA_API_VERSIONS || key == ST_KAFKA_SASL_HANDSHAKE ||
            key == ST_KAFKA_SASL_AUTHENTICATE)
            keep++;
        else {
            int16_t mn = st_rd_i16(e + 2), mx = st_rd_i16(e + 4);
            if (authz_range(key, &mn, &mx))
                keep++;
        }
    }
    for (int k = 0; k < 3; k++)
        if (!have_acl[k])
            keep++;
    int rc = st_buf_append_i16(out, error);
    rc |= flex ? st_buf_append_uvarint(out, (uint64_t)keep + 1)
               : st_buf_append_i32(out, (int32_t)keep);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *e = body + first + i * entry;
        int16_t key = st_rd_i16(e), mn = st_rd_i16(e + 2), mx = st_rd_i16(e + 4);
        bool is_acl = key == acl_keys[0] || key == acl_keys[1] || key == acl_keys[2];
        if (is_acl) {
            /* Answered by strait itself: its own range. */
            (void)st_kafka_supported_range(key, &mn, &mx);
        } else if (key != ST_KAFKA_API_VERSIONS && key != ST_KAFKA_SASL_HANDSHAKE &&
                   key != ST_KAFKA_SASL_AUTHENTICATE) {
            if (!authz_range(key, &mn, &mx))
                continue;
        }
        rc |= st_buf_append_i16(out, key) | st_buf_append_i16(out, mn) | st_buf_append_i16(out, mx);
        if (flex)
            rc |= st_buf_append_u8(out, 0);
    }
    for (int k = 0; k < 3; k++) {
        int16_t mn, mx;
        if (have_acl[k])
            continue;
        if (!st_kafka_supported_range(acl_keys[k], &mn, &mx))
            return -1;
        rc |= st_buf_append_i16(out, acl_keys[k]) | st_buf_append_i16(out, mn) |
              st_buf_append_i16(out, mx);
        if (flex)
            rc |= st_buf_append_u8(out, 0);
    }
    size_t rest = first + (size_t)n * entry;
    rc |= st_buf_append(out, body + rest, len - rest);
    return rc ? -1 : 0;
}

/*
 * Unit tests of denial responses (src/kafka/deny.h): per API at its lowest, a middle and its
 * highest version, requests are built, their resources extracted, some denied and stripped, a
 * broker response for the stripped request is built with the DOM and merged; the result is decoded
 * and every entry checked (keys, partitions, error codes, defaults, untouched allowed entries).
 * Also: whole responses synthesized when nothing is forwarded, st_kafka_deny_error for every
 * supported (key, version), malformed inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kafka/deny.h"
#include "kafka/proto.h"
#include "kafka/resources.h"
#include "kafka/schema.h"
#include "kafka/synth.h"

#define TOPIC_AUTH 29
#define GROUP_AUTH 30
#define CLUSTER_AUTH 31
#define TXN_AUTH 53
#define UNKNOWN_ID 100

static struct st_karena arena;

/* ---- building messages ---- */

static struct st_kobj *
obj_new(const struct st_kstruct *st, int16_t ver)
{
    struct st_kobj *o = st_karena_alloc(&arena, sizeof(*o));
    o->st = st;
    o->vals = st_karena_alloc(&arena, (st->nfields + 1u) * sizeof(*o->vals));
    for (int i = 0; i < st->nfields; i++) {
        const struct st_kfield *f = &st->fields[i];
        o->vals[i].present = st_kfield_in(f, ver) && !st_kfield_tagged(f, ver);
        if (o->vals[i].present && f->type == ST_KT_STRUCT && !f->is_array)
            o->vals[i].is_null = 1; /* nullable structs; tests set the others */
    }
    return o;
}

static struct st_kval *
fv(const struct st_kobj *o, const char *name)
{
    struct st_kval *v = st_kobj_get(o, name);
    if (!v)
        fail_msg("no field %s in %s", name, o->st->name);
    return v;
}

static bool
has(const struct st_kobj *o, const char *name, int16_t ver)
{
    int i = st_kstruct_find(o->st, name);
    return i >= 0 && st_kfield_in(&o->st->fields[i], ver);
}

static void
set_s(struct st_kobj *o, const char *name, const char *s)
{
    struct st_kval *v = fv(o, name);
    v->is_null = s == NULL;
    v->p = (const uint8_t *)s;
    v->n = s ? strlen(s) : 0;
}

static void
set_i(struct st_kobj *o, const char *name, int64_t i)
{
    fv(o, name)->i = i;
}

static void
set_null(struct st_kobj *o, const char *name)
{
    fv(o, name)->is_null = 1;
}

/* Null where the version allows it (else left empty). */
static void
set_null_opt(struct st_kobj *o, const char *name, int16_t ver)
{
    int i = st_kstruct_find(o->st, name);
    const struct st_kfield *f = &o->st->fields[i];
    if (f->null_min >= 0 && ver >= f->null_min && ver <= f->null_max)
        o->vals[i].is_null = 1;
}

/* Topic id of a one-letter topic: the letter then zeros. */
static const uint8_t *
tid(const char *name)
{
    uint8_t *p = st_karena_alloc(&arena, 16);
    p[0] = (uint8_t)name[0];
    return p;
}

/* Sets a topic key: Name/Topic before `id_ver`, TopicId from it (when the struct has it). */
static void
set_topic(struct st_kobj *o, const char *field, const char *name, int16_t ver, int16_t id_ver)
{
    if (id_ver >= 0 && ver >= id_ver) {
        struct st_kval *v = fv(o, "TopicId");
        v->p = tid(name);
        v->n = 16;
    } else {
        set_s(o, field, name);
    }
}

static struct st_kobj *
set_arr(struct st_kobj *o, const char *name, uint32_t n, int16_t ver)
{
    int i = st_kstruct_find(o->st, name);
    if (i < 0)
        fail_msg("no array %s in %s", name, o->st->name);
    struct st_kval *v = &o->vals[i];
    v->is_null = 0;
    v->count = n;
    v->objs = st_karena_alloc(&arena, (n + 1) * sizeof(*v->objs));
    for (uint32_t k = 0; k < n; k++)
        v->objs[k] = *obj_new(o->st->fields[i].sub, ver);
    return v->objs;
}

static void
set_sarr(struct st_kobj *o, const char *name, const char *const *s, uint32_t n)
{
    struct st_kval *v = fv(o, name);
    v->is_null = 0;
    v->count = n;
    v->elems = st_karena_alloc(&arena, (n + 1) * sizeof(*v->elems));
    for (uint32_t k = 0; k < n; k++) {
        v->elems[k].present = 1;
        v->elems[k].p = (const uint8_t *)s[k];
        v->elems[k].n = strlen(s[k]);
    }
}

static void
set_iarr(struct st_kobj *o, const char *name, const int32_t *x, uint32_t n)
{
    struct st_kval *v = fv(o, name);
    v->is_null = 0;
    v->count = n;
    v->elems = st_karena_alloc(&arena, (n + 1) * sizeof(*v->elems));
    for (uint32_t k = 0; k < n; k++) {
        v->elems[k].present = 1;
        v->elems[k].i = x[k];
    }
}

struct msg {
    int16_t key, ver;   /* API */
    struct st_kdoc doc; /* DOM */
    uint8_t *body;      /* encoding (arena) */
    size_t len;         /* bytes */
};

static struct st_kobj *
msg_new(struct msg *m, int16_t key, int16_t ver, bool response)
{
    const struct st_kmsg *s = st_kschema_msg(key, response);
    assert_non_null(s);
    memset(m, 0, sizeof(*m));
    m->key = key;
    m->ver = ver;
    m->doc.msg = s;
    m->doc.ver = ver;
    m->doc.flex = st_kschema_flexible(s, ver);
    m->doc.root = *obj_new(s->root, ver);
    return &m->doc.root;
}

static void
msg_encode(struct msg *m)
{
    struct st_buf b = ST_BUF_INIT;
    const char *err = NULL;
    if (st_kdoc_encode(&m->doc, &b, &err) != 0)
        fail_msg("encode %s v%d: %s", m->doc.msg->name, m->ver, err);
    m->len = st_buf_used(&b);
    m->body = st_karena_alloc(&arena, m->len + 1);
    if (m->len)
        memcpy(m->body, st_buf_head(&b), m->len);
    st_buf_free(&b);
}

/* ---- denials ---- */

struct picks {
    const char *const *names; /* names (or one-letter topic ids) to deny; "*" = cluster */
    const int16_t *errs;      /* their errors */
    size_t n;                 /* entries */
    struct st_kdenial d[64];  /* denials */
    size_t nd;                /* count */
    struct st_kres all[64];   /* every entry */
    size_t nall;              /* count */
};

static int
pick_cb(void *arg, const struct st_kres *r)
{
    struct picks *p = arg;
    if (p->nall < 64)
        p->all[p->nall++] = *r;
    for (size_t i = 0; i < p->n; i++) {
        const char *nm = p->names[i];
        bool hit = false;
        if (strcmp(nm, "*") == 0)
            hit = !r->name && !r->topic_id; /* the cluster, all topics, all txn ids */
        else if (r->name)
            hit = strlen(nm) == r->name_len && memcmp(nm, r->name, r->name_len) == 0;
        else if (r->topic_id)
            hit = strlen(nm) == 1 && r->topic_id[0] == (uint8_t)nm[0];
        if (hit && p->nd < 64) {
            p->d[p->nd].res = *r;
            p->d[p->nd++].error = p->errs[i];
            break;
        }
    }
    return 0;
}

static void
pick(const struct msg *rq, struct picks *p)
{
    const char *err = NULL;
    p->nd = p->nall = 0;
    if (st_kafka_request_resources(rq->key, rq->ver, rq->body, rq->len, NULL, pick_cb, p, &err) !=
        0)
        fail_msg("resources %s v%d: %s", rq->doc.msg->name, rq->ver, err);
}

/* Strips the denied array elements; returns the stripped request decoded. */
static struct st_kobj *
strip(const struct msg *rq, const struct picks *p)
{
    struct st_kres drop[64];
    size_t nd = 0;
    for (size_t i = 0; i < p->nd; i++)
        if (p->d[i].res.array)
            drop[nd++] = p->d[i].res;
    assert_true(nd > 0);
    struct st_buf out = ST_BUF_INIT;
    const char *err = NULL;
    if (st_kafka_request_strip(rq->key, rq->ver, rq->body, rq->len, drop, nd, &out, &err) != 0)
        fail_msg("strip: %s", err);
    size_t n = st_buf_used(&out);
    uint8_t *b = st_karena_alloc(&arena, n + 1);
    memcpy(b, st_buf_head(&out), n);
    st_buf_free(&out);
    struct st_kdoc *d = st_karena_alloc(&arena, sizeof(*d));
    assert_int_equal(st_kdoc_decode(&arena, rq->doc.msg, rq->ver, b, n, d, &err), 0);
    return &d->root;
}

static struct st_kobj *
decode_resp(int16_t key, int16_t ver, struct st_buf *out)
{
    size_t n = st_buf_used(out);
    uint8_t *b = st_karena_alloc(&arena, n + 1);
    memcpy(b, st_buf_head(out), n);
    st_buf_free(out);
    struct st_kdoc *d = st_karena_alloc(&arena, sizeof(*d));
    const char *err = NULL;
    if (st_kdoc_decode(&arena, st_kschema_msg(key, true), ver, b, n, d, &err) != 0)
        fail_msg("decode result: %s", err);
    assert_null(d->trailing);
    return &d->root;
}

/* Merges the denials into the upstream response; returns the result decoded. */
static struct st_kobj *
merge(const struct msg *rq, const struct picks *p, const struct msg *up)
{
    struct st_buf out = ST_BUF_INIT;
    const char *err = NULL;
    assert_true(st_kafka_deny_supported(rq->key, rq->ver));
    if (st_kafka_deny_response(rq->key, rq->ver, rq->body, rq->len, p->d, p->nd, up->body, up->len,
                               &out, &err) != 0)
        fail_msg("merge %s v%d: %s", rq->doc.msg->name, rq->ver, err);
    return decode_resp(rq->key, rq->ver, &out);
}

/* Synthesizes the whole response (nothing forwarded). */
static struct st_kobj *
whole(const struct msg *rq, const struct picks *p)
{
    struct st_buf out = ST_BUF_INIT;
    const char *err = NULL;
    if (st_kafka_deny_response(rq->key, rq->ver, rq->body, rq->len, p->d, p->nd, NULL, 0, &out,
                               &err) != 0)
        fail_msg("whole %s v%d: %s", rq->doc.msg->name, rq->ver, err);
    return decode_resp(rq->key, rq->ver, &out);
}

static struct st_kobj *
deny_all(const struct msg *rq, int16_t error)
{
    struct st_buf out = ST_BUF_INIT;
    const char *err = NULL;
    if (st_kafka_deny_error(rq->key, rq->ver, rq->body, rq->len, error, &out, &err) != 0)
        fail_msg("deny_error %s v%d: %s", rq->doc.msg->name, rq->ver, err);
    return decode_resp(rq->key, rq->ver, &out);
}

/* ---- checking ---- */

static struct st_kval *
arr(const struct st_kobj *o, const char *name)
{
    struct st_kval *v = fv(o, name);
    assert_false(v->is_null);
    return v;
}

static int64_t
geti(const struct st_kobj *o, const char *name)
{
    return fv(o, name)->i;
}

static bool
str_is(const struct st_kval *v, const char *s)
{
    if (!s)
        return v->is_null;
    return !v->is_null && v->n == strlen(s) && (v->n == 0 || memcmp(v->p, s, v->n) == 0);
}

/* Element of a struct array whose string field (or TopicId when `by_id`) equals name. */
static struct st_kobj *
find(const struct st_kval *a, const char *field, const char *name, bool by_id)
{
    for (uint32_t i = 0; i < a->count; i++) {
        const struct st_kobj *o = &a->objs[i];
        if (by_id) {
            const struct st_kval *v = fv(o, "TopicId");
            if (v->n == 16 && v->p[0] == (uint8_t)name[0] && v->p[1] == 0)
                return &a->objs[i];
        } else if (str_is(fv(o, field), name)) {
            return &a->objs[i];
        }
    }
    fail_msg("no entry %s=%s", field, name);
    return NULL;
}

static struct st_kobj *
find_i(const struct st_kval *a, const char *field, int64_t x)
{
    for (uint32_t i = 0; i < a->count; i++)
        if (fv(&a->objs[i], field)->i == x)
            return &a->objs[i];
    fail_msg("no entry %s=%lld", field, (long long)x);
    return NULL;
}

static bool
ends_with_error(const char *name)
{
    size_t n = strlen(name);
    return n >= 9 && strcmp(name + n - 9, "ErrorCode") == 0;
}

/*
 * Every error code field anywhere in the object equals e (top-level ones may also be 0 when
 * `top0`). Returns how many were seen.
 */
static int
all_errors(const struct st_kobj *o, int16_t ver, int16_t e, bool top0)
{
    int seen = 0;
    for (int i = 0; i < o->st->nfields; i++) {
        const struct st_kfield *f = &o->st->fields[i];
        const struct st_kval *v = &o->vals[i];
        if (!st_kfield_in(f, ver) || !v->present)
            continue;
        if (f->type == ST_KT_STRUCT) {
            if (v->is_null || !v->objs)
                continue;
            uint32_t n = f->is_array ? v->count : 1;
            for (uint32_t k = 0; k < n; k++)
                seen += all_errors(&v->objs[k], ver, e, false);
        } else if (!f->is_array && f->type == ST_KT_INT16 && ends_with_error(f->name)) {
            if (v->i != e && !(top0 && v->i == 0))
                fail_msg("%s.%s = %lld, expected %d", o->st->name, f->name, (long long)v->i, e);
            seen++;
        }
    }
    return seen;
}

/* Fields a synthesized partition carries as -1 (when the version has them). */
static const char *const minus_one[] = {
    "BaseOffset",       "LogAppendTimeMs", "LogStartOffset",  "HighWatermark",
    "LastStableOffset", "Offset",          "Timestamp",       "LeaderEpoch",
    "EndOffset",        "LowWatermark",    "CommittedOffset", "CommittedLeaderEpoch",
};

static void
check_minus_one(const struct st_kobj *o, int16_t ver)
{
    for (size_t i = 0; i < sizeof(minus_one) / sizeof(minus_one[0]); i++)
        if (has(o, minus_one[i], ver) && geti(o, minus_one[i]) != -1)
            fail_msg("%s.%s = %lld, expected -1", o->st->name, minus_one[i],
                     (long long)geti(o, minus_one[i]));
}

/* Marks an allowed upstream entry: offsets 42. */
static void
mark_allowed(struct st_kobj *o, int16_t ver)
{
    for (size_t i = 0; i < sizeof(minus_one) / sizeof(minus_one[0]); i++)
        if (has(o, minus_one[i], ver))
            set_i(o, minus_one[i], 42);
}

static int16_t
vmid(int16_t lo, int16_t hi)
{
    return (int16_t)((lo + hi) / 2);
}

/* ---- topic + partitions APIs (table-driven) ---- */

struct tp_api {
    int16_t key;          /* API */
    int16_t lo, hi;       /* versions this layout covers */
    const char *rq_top;   /* request topic array */
    const char *rq_name;  /* request topic name field */
    int16_t id_ver;       /* first version naming topics by TopicId, -1 never */
    const char *rq_parts; /* request partition array */
    const char *rq_pidx;  /* partition index field, NULL for an int32 array */
    const char *rs_top;   /* response topic array */
    const char *rs_name;  /* response topic name field */
    const char *rs_parts; /* response partition array */
    const char *rs_pidx;  /* partition index field */
    const char *rs_err;   /* partition error field */
    const char *group;    /* request-level group field, NULL */
    const char *txn;      /* request-level transactional id field, NULL */
};

static const struct tp_api tp_apis[] = {
    {0, 0, 13, "TopicData", "Name", 13, "PartitionData", "Index", "Responses", "Name",
     "PartitionResponses", "Index", "ErrorCode", NULL, "TransactionalId"},
    {1, 0, 17, "Topics", "Topic", 13, "Partitions", "Partition", "Responses", "Topic", "Partitions",
     "PartitionIndex", "ErrorCode", NULL, NULL},
    {2, 0, 10, "Topics", "Name", -1, "Partitions", "PartitionIndex", "Topics", "Name", "Partitions",
     "PartitionIndex", "ErrorCode", NULL, NULL},
    {8, 0, 9, "Topics", "Name", -1, "Partitions", "PartitionIndex", "Topics", "Name", "Partitions",
     "PartitionIndex", "ErrorCode", "GroupId", NULL},
    {9, 0, 7, "Topics", "Name", -1, "PartitionIndexes", NULL, "Topics", "Name", "Partitions",
     "PartitionIndex", "ErrorCode", "GroupId", NULL},
    {21, 0, 2, "Topics", "Name", -1, "Partitions", "PartitionIndex", "Topics", "Name", "Partitions",
     "PartitionIndex", "ErrorCode", NULL, NULL},
    {23, 0, 4, "Topics", "Topic", -1, "Partitions", "Partition", "Topics", "Topic", "Partitions",
     "Partition", "ErrorCode", NULL, NULL},
    {24, 0, 3, "V3AndBelowTopics", "Name", -1, "Partitions", NULL, "ResultsByTopicV3AndBelow",
     "Name", "ResultsByPartition", "PartitionIndex", "PartitionErrorCode", NULL,
     "V3AndBelowTransactionalId"},
    {28, 0, 4, "Topics", "Name", -1, "Partitions", "PartitionIndex", "Topics", "Name", "Partitions",
     "PartitionIndex", "ErrorCode", "GroupId", "TransactionalId"},
    {47, 0, 0, "Topics", "Name", -1, "Partitions", "PartitionIndex", "Topics", "Name", "Partitions",
     "PartitionIndex", "ErrorCode", "GroupId", NULL},
    {61, 0, 0, "Topics", "Name", -1, "PartitionIndexes", NULL, "Topics", "Name", "Partitions",
     "PartitionIndex", "ErrorCode", NULL, NULL},
};

static const char *const tp_names[] = {"a", "b", "c"};
static const int32_t tp_parts[3][2] = {{0, 1}, {2, -1}, {0, -1}};

/* Request with topics a{0,1}, b{2}, c{0} (+ a forgotten topic d for Fetch v7+). */
static void
tp_request(const struct tp_api *t, int16_t ver, struct msg *rq, const char *group, const char *txn)
{
    struct st_kobj *o = msg_new(rq, t->key, ver, false);
    if (t->group)
        set_s(o, t->group, group);
    if (t->txn && has(o, t->txn, ver))
        set_s(o, t->txn, txn || t->key != 0 ? (txn ? txn : "") : NULL);
    if (t->key == 0)
        set_i(o, "Acks", -1);
    struct st_kobj *tp = set_arr(o, t->rq_top, 3, ver);
    for (int k = 0; k < 3; k++) {
        set_topic(&tp[k], t->rq_name, tp_names[k], ver, t->id_ver);
        uint32_t np = tp_parts[k][1] >= 0 ? 2 : 1;
        if (!t->rq_pidx) {
            set_iarr(&tp[k], t->rq_parts, tp_parts[k], np);
            continue;
        }
        struct st_kobj *p = set_arr(&tp[k], t->rq_parts, np, ver);
        for (uint32_t j = 0; j < np; j++) {
            set_i(&p[j], t->rq_pidx, tp_parts[k][j]);
            if (t->key == 0)
                set_null(&p[j], "Records");
        }
    }
    if (t->key == 1 && ver >= 7) {
        struct st_kobj *f = set_arr(o, "ForgottenTopicsData", 1, ver);
        set_topic(f, "Topic", "d", ver, 13);
    }
    msg_encode(rq);
}

/* Broker response to the stripped request: one entry per remaining topic, partitions marked. */
static void
tp_upstream(const struct tp_api *t, int16_t ver, const struct st_kobj *stripped, struct msg *up)
{
    struct st_kobj *o = msg_new(up, t->key, ver, true);
    if (has(o, "ThrottleTimeMs", ver))
        set_i(o, "ThrottleTimeMs", 7);
    if (t->key == 1 && ver >= 7)
        set_i(o, "SessionId", 77);
    const struct st_kval *rt = arr(stripped, t->rq_top);
    struct st_kobj *tp = set_arr(o, t->rs_top, rt->count, ver);
    for (uint32_t k = 0; k < rt->count; k++) {
        const struct st_kobj *q = &rt->objs[k];
        if (t->id_ver >= 0 && ver >= t->id_ver)
            *fv(&tp[k], "TopicId") = *fv(q, "TopicId");
        else
            *fv(&tp[k], t->rs_name) = *fv(q, t->rq_name);
        const struct st_kval *rp = arr(q, t->rq_parts);
        struct st_kobj *p = set_arr(&tp[k], t->rs_parts, rp->count, ver);
        for (uint32_t j = 0; j < rp->count; j++) {
            set_i(&p[j], t->rs_pidx, t->rq_pidx ? geti(&rp->objs[j], t->rq_pidx) : rp->elems[j].i);
            mark_allowed(&p[j], ver);
            if (has(&p[j], "Metadata", ver))
                set_s(&p[j], "Metadata", "m");
        }
    }
    msg_encode(up);
}

/* Checks topic `name` in the result: its partitions as requested, with error e (0: allowed). */
static void
tp_check(const struct tp_api *t, int16_t ver, const struct st_kobj *res, int k, int16_t e)
{
    bool by_id = t->id_ver >= 0 && ver >= t->id_ver;
    const struct st_kobj *tp = find(arr(res, t->rs_top), t->rs_name, tp_names[k], by_id);
    if (!by_id && has(tp, "TopicId", ver))
        assert_int_equal(fv(tp, "TopicId")->n == 16 ? fv(tp, "TopicId")->p[0] : 0, 0);
    const struct st_kval *ps = arr(tp, t->rs_parts);
    uint32_t np = tp_parts[k][1] >= 0 ? 2 : 1;
    assert_int_equal(ps->count, np);
    for (uint32_t j = 0; j < np; j++) {
        const struct st_kobj *p = find_i(ps, t->rs_pidx, tp_parts[k][j]);
        assert_int_equal(geti(p, t->rs_err), e);
        if (e) {
            check_minus_one(p, ver);
            if (has(p, "Metadata", ver))
                assert_true(str_is(fv(p, "Metadata"), ""));
            if (has(p, "ErrorMessage", ver))
                assert_true(fv(p, "ErrorMessage")->is_null);
            if (t->key == 1) {
                assert_false(fv(p, "Records")->is_null);
                assert_int_equal(fv(p, "Records")->n, 0);
                if (ver >= 4)
                    assert_true(fv(p, "AbortedTransactions")->is_null);
                if (ver >= 11)
                    assert_int_equal(geti(p, "PreferredReadReplica"), -1);
            }
        } else {
            for (size_t i = 0; i < sizeof(minus_one) / sizeof(minus_one[0]); i++)
                if (has(p, minus_one[i], ver))
                    assert_int_equal(geti(p, minus_one[i]), 42);
            if (has(p, "Metadata", ver))
                assert_true(str_is(fv(p, "Metadata"), "m"));
        }
    }
}

static void
tp_one(const struct tp_api *t, int16_t ver)
{
    struct msg rq, up;
    struct picks p;
    /* Partial: b denied (and Fetch's forgotten d), a and c forwarded. */
    tp_request(t, ver, &rq, "g", NULL);
    static const char *const nb[] = {"b", "d"};
    static const int16_t eb[] = {TOPIC_AUTH, TOPIC_AUTH};
    p = (struct picks){.names = nb, .errs = eb, .n = 2};
    pick(&rq, &p);
    assert_int_equal(p.nd, t->key == 1 && ver >= 7 ? 2 : 1);
    const struct st_kobj *stripped = strip(&rq, &p);
    assert_int_equal(arr(stripped, t->rq_top)->count, 2);
    tp_upstream(t, ver, stripped, &up);
    struct st_kobj *res = merge(&rq, &p, &up);
    assert_int_equal(arr(res, t->rs_top)->count, 3);
    tp_check(t, ver, res, 0, 0);
    tp_check(t, ver, res, 1, TOPIC_AUTH);
    tp_check(t, ver, res, 2, 0);
    if (has(res, "ThrottleTimeMs", ver))
        assert_int_equal(geti(res, "ThrottleTimeMs"), 7);
    if (t->key == 1 && ver >= 7) {
        assert_int_equal(geti(res, "ErrorCode"), 0);
        assert_int_equal(geti(res, "SessionId"), 77);
    }
    if (has(res, "ErrorCode", ver))
        assert_int_equal(geti(res, "ErrorCode"), 0);

    /* Nothing forwarded: every topic denied, one by an unknown id. */
    static const char *const nall[] = {"a", "b", "c", "d"};
    static const int16_t eall[] = {TOPIC_AUTH, TOPIC_AUTH, UNKNOWN_ID, TOPIC_AUTH};
    p = (struct picks){.names = nall, .errs = eall, .n = 4};
    pick(&rq, &p);
    res = whole(&rq, &p);
    assert_int_equal(arr(res, t->rs_top)->count, 3);
    tp_check(t, ver, res, 0, TOPIC_AUTH);
    tp_check(t, ver, res, 1, TOPIC_AUTH);
    tp_check(t, ver, res, 2, UNKNOWN_ID);
    if (has(res, "ErrorCode", ver))
        assert_int_equal(geti(res, "ErrorCode"), 0);

    /* A request-level denial: every partition carries it (and a top-level ErrorCode). */
    const char *txn = t->txn && has(&rq.doc.root, t->txn, ver) ? "tx" : NULL;
    if (t->group || txn) {
        tp_request(t, ver, &rq, "g", txn);
        static const char *const ng[] = {"tx", "g", "b"};
        static const int16_t eg[] = {TXN_AUTH, GROUP_AUTH, TOPIC_AUTH};
        p = (struct picks){.names = ng, .errs = eg, .n = 3};
        pick(&rq, &p);
        int16_t e = txn ? TXN_AUTH : GROUP_AUTH;
        res = whole(&rq, &p);
        assert_int_equal(arr(res, t->rs_top)->count, 3);
        for (int k = 0; k < 3; k++)
            tp_check(t, ver, res, k, e);
        if (has(res, "ErrorCode", ver))
            assert_int_equal(geti(res, "ErrorCode"), e);
        /* Request-level denials cannot be merged. */
        struct st_buf out = ST_BUF_INIT;
        const char *err = NULL;
        assert_int_equal(st_kafka_deny_response(rq.key, ver, rq.body, rq.len, p.d, p.nd, up.body,
                                                up.len, &out, &err),
                         -1);
        assert_non_null(err);
        assert_int_equal(st_buf_used(&out), 0);
        st_buf_free(&out);
    }
    /* Cluster-level error (Produce IdempotentWrite): every partition. */
    res = deny_all(&rq, CLUSTER_AUTH);
    assert_int_equal(arr(res, t->rs_top)->count, 3);
    assert_true(all_errors(res, ver, CLUSTER_AUTH, false) >= 4);
}

static void
test_topic_partition_apis(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(tp_apis) / sizeof(tp_apis[0]); i++) {
        const struct tp_api *t = &tp_apis[i];
        int16_t vs[] = {t->lo, vmid(t->lo, t->hi), t->hi, 3, 7, 9, 12, 13};
        for (size_t k = 0; k < sizeof(vs) / sizeof(vs[0]); k++) {
            if (vs[k] < t->lo || vs[k] > t->hi || (k >= 3 && t->key > 1))
                continue;
            tp_one(t, vs[k]);
        }
    }
}

/* ---- entries without partitions: string arrays and named structs (table-driven) ---- */

struct named_api {
    int16_t key;         /* API */
    int16_t lo, hi;      /* versions */
    const char *rq_arr;  /* request array */
    const char *rq_name; /* name field, NULL for a string array */
    const char *rs_arr;  /* response array */
    const char *rs_name; /* response key field */
    const char *rs_err;  /* response error field */
    int16_t error;       /* denial error */
};

static const struct named_api named_apis[] = {
    {3, 0, 13, "Topics", "Name", "Topics", "Name", "ErrorCode", TOPIC_AUTH},
    {10, 4, 6, "CoordinatorKeys", NULL, "Coordinators", "Key", "ErrorCode", GROUP_AUTH},
    {15, 0, 5, "Groups", NULL, "Groups", "GroupId", "ErrorCode", GROUP_AUTH},
    {19, 0, 7, "Topics", "Name", "Topics", "Name", "ErrorCode", TOPIC_AUTH},
    {20, 0, 5, "TopicNames", NULL, "Responses", "Name", "ErrorCode", TOPIC_AUTH},
    {20, 6, 6, "Topics", "Name", "Responses", "Name", "ErrorCode", TOPIC_AUTH},
    {32, 0, 4, "Resources", "ResourceName", "Results", "ResourceName", "ErrorCode", TOPIC_AUTH},
    {33, 0, 2, "Resources", "ResourceName", "Responses", "ResourceName", "ErrorCode", TOPIC_AUTH},
    {37, 0, 3, "Topics", "Name", "Results", "Name", "ErrorCode", TOPIC_AUTH},
    {42, 0, 2, "GroupsNames", NULL, "Results", "GroupId", "ErrorCode", GROUP_AUTH},
    {44, 0, 1, "Resources", "ResourceName", "Responses", "ResourceName", "ErrorCode", TOPIC_AUTH},
    {65, 0, 0, "TransactionalIds", NULL, "TransactionStates", "TransactionalId", "ErrorCode",
     TXN_AUTH},
    {69, 0, 0, "GroupIds", NULL, "Groups", "GroupId", "ErrorCode", GROUP_AUTH},
    {75, 0, 0, "Topics", "Name", "Topics", "Name", "ErrorCode", TOPIC_AUTH},
};

static const char *const xyz[] = {"x", "y", "z"};

static void
named_request(const struct named_api *t, int16_t ver, struct msg *rq)
{
    struct st_kobj *o = msg_new(rq, t->key, ver, false);
    if (!t->rq_name) {
        set_sarr(o, t->rq_arr, xyz, 3);
    } else {
        struct st_kobj *e = set_arr(o, t->rq_arr, 3, ver);
        for (int k = 0; k < 3; k++) {
            set_s(&e[k], t->rq_name, xyz[k]);
            if (has(&e[k], "ResourceType", ver))
                set_i(&e[k], "ResourceType", 2);
            if (has(&e[k], "ConfigurationKeys", ver))
                set_null_opt(&e[k], "ConfigurationKeys", ver);
            if (has(&e[k], "Assignments", ver))
                set_null_opt(&e[k], "Assignments", ver);
            if (has(&e[k], "TopicId", ver))
                e[k].vals[st_kstruct_find(e[k].st, "TopicId")].n = 0;
        }
    }
    if (has(o, "Cursor", ver))
        set_null(o, "Cursor");
    msg_encode(rq);
}

/* The request's entries for x..z: the key, the error, defaults where denied. */
static void
named_check(const struct named_api *t, int16_t ver, const struct st_kobj *res, int k, int16_t e)
{
    const struct st_kobj *o = find(arr(res, t->rs_arr), t->rs_name, xyz[k], false);
    assert_int_equal(geti(o, t->rs_err), e);
    if (!e) {
        if (has(o, "ErrorMessage", ver))
            assert_true(str_is(fv(o, "ErrorMessage"), "ok"));
        return;
    }
    if (has(o, "ErrorMessage", ver))
        assert_true(fv(o, "ErrorMessage")->is_null);
    if (has(o, "ResourceType", ver))
        assert_int_equal(geti(o, "ResourceType"), 2);
    static const char *const ops[] = {"AuthorizedOperations", "TopicAuthorizedOperations"};
    for (int i = 0; i < 2; i++)
        if (has(o, ops[i], ver))
            assert_int_equal(geti(o, ops[i]), INT32_MIN);
    static const char *const m1[] = {
        "NodeId",        "Port",       "NumPartitions",   "ReplicationFactor",     "ProducerId",
        "ProducerEpoch", "GroupEpoch", "AssignmentEpoch", "TransactionStartTimeMs"};
    for (size_t i = 0; i < sizeof(m1) / sizeof(m1[0]); i++)
        if (has(o, m1[i], ver))
            assert_int_equal(geti(o, m1[i]), -1);
    if (has(o, "Host", ver))
        assert_true(str_is(fv(o, "Host"), ""));
    if (has(o, "IsInternal", ver))
        assert_int_equal(geti(o, "IsInternal"), 0);
    if (has(o, "Partitions", ver))
        assert_int_equal(arr(o, "Partitions")->count, 0);
    if (has(o, "Members", ver))
        assert_int_equal(arr(o, "Members")->count, 0);
}

static void
named_one(const struct named_api *t, int16_t ver)
{
    struct msg rq, up;
    struct picks p;
    named_request(t, ver, &rq);
    static const char *const ny[] = {"y"};
    int16_t ey[] = {t->error};
    p = (struct picks){.names = ny, .errs = ey, .n = 1};
    pick(&rq, &p);
    assert_int_equal(p.nd, 1);
    const struct st_kobj *stripped = strip(&rq, &p);
    const struct st_kval *left = arr(stripped, t->rq_arr);
    assert_int_equal(left->count, 2);
    /* Broker: x and z answered, marked with an "ok" message where there is one. */
    struct st_kobj *o = msg_new(&up, t->key, ver, true);
    if (has(o, "ThrottleTimeMs", ver))
        set_i(o, "ThrottleTimeMs", 7);
    if (has(o, "ClusterId", ver))
        set_s(o, "ClusterId", "cid");
    if (has(o, "Brokers", ver)) {
        struct st_kobj *b = set_arr(o, "Brokers", 1, ver);
        set_i(b, "NodeId", 1);
        set_s(b, "Host", "h");
        set_i(b, "Port", 9092);
    }
    if (has(o, "NextCursor", ver))
        set_null(o, "NextCursor");
    struct st_kobj *e = set_arr(o, t->rs_arr, 2, ver);
    for (uint32_t k = 0; k < 2; k++) {
        if (t->rq_name)
            *fv(&e[k], t->rs_name) = *fv(&left->objs[k], t->rq_name);
        else
            *fv(&e[k], t->rs_name) = left->elems[k];
        if (has(&e[k], "ErrorMessage", ver))
            set_s(&e[k], "ErrorMessage", "ok");
    }
    msg_encode(&up);
    struct st_kobj *res = merge(&rq, &p, &up);
    assert_int_equal(arr(res, t->rs_arr)->count, 3);
    named_check(t, ver, res, 0, 0);
    named_check(t, ver, res, 1, t->error);
    named_check(t, ver, res, 2, 0);
    if (has(res, "ThrottleTimeMs", ver))
        assert_int_equal(geti(res, "ThrottleTimeMs"), 7);
    if (has(res, "ClusterId", ver))
        assert_true(str_is(fv(res, "ClusterId"), "cid"));
    if (has(res, "Brokers", ver))
        assert_int_equal(geti(&arr(res, "Brokers")->objs[0], "Port"), 9092);
    if (t->key == 3) /* appended after the broker's topics */
        assert_true(str_is(fv(&arr(res, "Topics")->objs[2], "Name"), "y"));
    /* Nothing forwarded. */
    static const char *const nall[] = {"x", "y", "z"};
    int16_t eall[] = {t->error, t->error, t->error};
    p = (struct picks){.names = nall, .errs = eall, .n = 3};
    pick(&rq, &p);
    res = whole(&rq, &p);
    assert_int_equal(arr(res, t->rs_arr)->count, 3);
    for (int k = 0; k < 3; k++)
        named_check(t, ver, res, k, t->error);
    if (has(res, "ErrorCode", ver))
        assert_int_equal(geti(res, "ErrorCode"), 0);
    if (has(res, "ControllerId", ver))
        assert_int_equal(geti(res, "ControllerId"), -1);
    if (has(res, "ClusterId", ver))
        assert_true(fv(res, "ClusterId")->is_null);
    res = deny_all(&rq, CLUSTER_AUTH);
    assert_int_equal(arr(res, t->rs_arr)->count, 3);
    assert_int_equal(all_errors(res, ver, CLUSTER_AUTH, false), 3 + has(res, "ErrorCode", ver));
}

static void
test_named_apis(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(named_apis) / sizeof(named_apis[0]); i++) {
        const struct named_api *t = &named_apis[i];
        int16_t vs[] = {t->lo, vmid(t->lo, t->hi), t->hi};
        for (size_t k = 0; k < 3; k++)
            named_one(t, vs[k]);
    }
}

/* Metadata v10+ by topic id, DeleteTopics v6 by id: the id is mirrored. */
static void
test_topic_ids(void **state)
{
    (void)state;
    static const int16_t keys[] = {3, 3, 20};
    static const int16_t vers[] = {10, 12, 6};
    for (int i = 0; i < 3; i++) {
        struct msg rq;
        struct st_kobj *o = msg_new(&rq, keys[i], vers[i], false);
        struct st_kobj *t = set_arr(o, "Topics", 2, vers[i]);
        set_null(&t[0], "Name");
        set_topic(&t[0], "Name", "q", vers[i], 0);
        set_s(&t[1], "Name", "r");
        msg_encode(&rq);
        static const char *const n[] = {"q", "r"};
        static const int16_t e[] = {UNKNOWN_ID, TOPIC_AUTH};
        struct picks p = {.names = n, .errs = e, .n = 2};
        pick(&rq, &p);
        assert_int_equal(p.nd, 2);
        struct st_kobj *res = whole(&rq, &p);
        const struct st_kval *a = arr(res, keys[i] == 3 ? "Topics" : "Responses");
        assert_int_equal(a->count, 2);
        const struct st_kobj *q = find(a, "Name", "q", true);
        assert_int_equal(geti(q, "ErrorCode"), UNKNOWN_ID);
        assert_true(fv(q, "Name")->is_null || fv(q, "Name")->n == 0);
        assert_int_equal(geti(find(a, "Name", "r", false), "ErrorCode"), TOPIC_AUTH);
    }
}

/* FindCoordinator v0-3: the key is the request; top-level error and defaults. */
static void
test_find_coordinator_v0_3(void **state)
{
    (void)state;
    for (int16_t ver = 0; ver <= 3; ver++) {
        struct msg rq;
        struct st_kobj *o = msg_new(&rq, 10, ver, false);
        set_s(o, "Key", "grp");
        msg_encode(&rq);
        static const char *const n[] = {"grp"};
        static const int16_t e[] = {GROUP_AUTH};
        struct picks p = {.names = n, .errs = e, .n = 1};
        pick(&rq, &p);
        assert_int_equal(p.nd, 1);
        assert_null(p.d[0].res.array);
        struct st_kobj *res = whole(&rq, &p);
        assert_int_equal(geti(res, "ErrorCode"), GROUP_AUTH);
        assert_int_equal(geti(res, "NodeId"), -1);
        assert_int_equal(geti(res, "Port"), -1);
        assert_true(str_is(fv(res, "Host"), ""));
        if (ver >= 1)
            assert_true(fv(res, "ErrorMessage")->is_null);
        assert_true(st_kafka_deny_supported(10, ver));
    }
}

/* OffsetFetch v8+: a denied topic inside an allowed group, and a denied group. */
static void
test_offset_fetch_groups(void **state)
{
    (void)state;
    for (int16_t ver = 8; ver <= 9; ver++) {
        struct msg rq, up;
        struct st_kobj *o = msg_new(&rq, 9, ver, false);
        struct st_kobj *g = set_arr(o, "Groups", 2, ver);
        set_s(&g[0], "GroupId", "g1");
        set_s(&g[1], "GroupId", "g2");
        if (ver >= 9) {
            set_null(&g[0], "MemberId");
            set_null(&g[1], "MemberId");
        }
        struct st_kobj *t = set_arr(&g[0], "Topics", 2, ver);
        static const int32_t p0[] = {0}, p1[] = {1, 2};
        set_s(&t[0], "Name", "a");
        set_iarr(&t[0], "PartitionIndexes", p0, 1);
        set_s(&t[1], "Name", "b");
        set_iarr(&t[1], "PartitionIndexes", p1, 2);
        t = set_arr(&g[1], "Topics", 1, ver);
        set_s(&t[0], "Name", "c");
        set_iarr(&t[0], "PartitionIndexes", p0, 1);
        msg_encode(&rq);
        static const char *const n[] = {"b", "g2"};
        static const int16_t e[] = {TOPIC_AUTH, GROUP_AUTH};
        struct picks p = {.names = n, .errs = e, .n = 2};
        pick(&rq, &p);
        assert_int_equal(p.nd, 2);
        const struct st_kobj *s = strip(&rq, &p);
        assert_int_equal(arr(s, "Groups")->count, 1);
        assert_int_equal(arr(&arr(s, "Groups")->objs[0], "Topics")->count, 1);
        /* Broker: g1 with topic a. */
        o = msg_new(&up, 9, ver, true);
        g = set_arr(o, "Groups", 1, ver);
        set_s(g, "GroupId", "g1");
        t = set_arr(g, "Topics", 1, ver);
        set_s(t, "Name", "a");
        struct st_kobj *pp = set_arr(t, "Partitions", 1, ver);
        set_i(pp, "CommittedOffset", 42);
        set_s(pp, "Metadata", "m");
        msg_encode(&up);
        struct st_kobj *res = merge(&rq, &p, &up);
        const struct st_kval *gs = arr(res, "Groups");
        assert_int_equal(gs->count, 2);
        const struct st_kobj *g1 = find(gs, "GroupId", "g1", false);
        assert_int_equal(geti(g1, "ErrorCode"), 0);
        const struct st_kval *ts = arr(g1, "Topics");
        assert_int_equal(ts->count, 2);
        assert_int_equal(
            geti(&arr(find(ts, "Name", "a", false), "Partitions")->objs[0], "CommittedOffset"), 42);
        const struct st_kval *bp = arr(find(ts, "Name", "b", false), "Partitions");
        assert_int_equal(bp->count, 2);
        for (int i = 0; i < 2; i++) {
            assert_int_equal(geti(&bp->objs[i], "PartitionIndex"), i + 1);
            assert_int_equal(geti(&bp->objs[i], "ErrorCode"), TOPIC_AUTH);
            assert_int_equal(geti(&bp->objs[i], "CommittedOffset"), -1);
            assert_int_equal(geti(&bp->objs[i], "CommittedLeaderEpoch"), -1);
            assert_true(str_is(fv(&bp->objs[i], "Metadata"), ""));
        }
        const struct st_kobj *g2 = find(gs, "GroupId", "g2", false);
        assert_int_equal(geti(g2, "ErrorCode"), GROUP_AUTH);
        const struct st_kval *cp = arr(find(arr(g2, "Topics"), "Name", "c", false), "Partitions");
        assert_int_equal(cp->count, 1);
        assert_int_equal(geti(&cp->objs[0], "ErrorCode"), GROUP_AUTH);
        /* The broker left g1 out: an entry of our own, group error 0, topic b denied. */
        o = msg_new(&up, 9, ver, true);
        set_arr(o, "Groups", 0, ver);
        msg_encode(&up);
        res = merge(&rq, &p, &up);
        gs = arr(res, "Groups");
        assert_int_equal(gs->count, 2);
        g1 = find(gs, "GroupId", "g1", false);
        assert_int_equal(geti(g1, "ErrorCode"), 0);
        assert_int_equal(arr(g1, "Topics")->count, 1);
        /* Nothing forwarded: g1 allowed but its topics all denied; g2 denied. */
        static const char *const n2[] = {"a", "b", "g2"};
        static const int16_t e2[] = {TOPIC_AUTH, TOPIC_AUTH, GROUP_AUTH};
        p = (struct picks){.names = n2, .errs = e2, .n = 3};
        pick(&rq, &p);
        res = whole(&rq, &p);
        gs = arr(res, "Groups");
        g1 = find(gs, "GroupId", "g1", false);
        assert_int_equal(geti(g1, "ErrorCode"), 0);
        assert_int_equal(all_errors(g1, ver, TOPIC_AUTH, true), 4);
        assert_int_equal(all_errors(find(gs, "GroupId", "g2", false), ver, GROUP_AUTH, false), 2);
    }
}

/* ---- whole-request errors ---- */

/* Request-level APIs: top-level ErrorCode and defaults. */
static void
test_request_level(void **state)
{
    (void)state;
    static const int16_t keys[] = {11, 12, 13, 14, 16, 22, 25, 26, 29,
                                   35, 46, 48, 50, 57, 60, 66, 68};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        int16_t lo, hi;
        assert_true(st_kafka_supported_range(keys[i], &lo, &hi));
        int16_t vs[] = {lo, vmid(lo, hi), hi};
        for (int k = 0; k < 3; k++) {
            int16_t ver = vs[k];
            struct msg rq;
            struct st_kobj *o = msg_new(&rq, keys[i], ver, false);
            if (has(o, "GroupId", ver))
                set_s(o, "GroupId", "g");
            if (has(o, "TransactionalId", ver))
                set_s(o, "TransactionalId", "tx");
            if (has(o, "EndpointType", ver))
                set_i(o, "EndpointType", 1);
            static const char *const null_fields[] = {
                "GroupInstanceId", "Reason",          "ProtocolType",
                "ProtocolName",    "InstanceId",      "SubscribedTopicNames",
                "ServerAssignor",  "TopicPartitions", "SubscribedTopicRegex",
                "Topics",          "Users",           "ResourceNameFilter",
                "PrincipalFilter"};
            for (size_t f = 0; f < sizeof(null_fields) / sizeof(null_fields[0]); f++) {
                int fi = st_kstruct_find(o->st, null_fields[f]);
                if (fi >= 0 && st_kfield_in(&o->st->fields[fi], ver) &&
                    o->st->fields[fi].null_min >= 0 && ver >= o->st->fields[fi].null_min)
                    set_null(o, null_fields[f]);
            }
            msg_encode(&rq);
            int16_t e = keys[i] == 22 || keys[i] == 25 || keys[i] == 26 ? TXN_AUTH
                        : keys[i] <= 14 || keys[i] == 68                ? GROUP_AUTH
                                                                        : CLUSTER_AUTH;
            assert_true(st_kafka_deny_supported(keys[i], ver));
            struct st_kobj *res = deny_all(&rq, e);
            if (has(res, "ErrorCode", ver))
                assert_int_equal(geti(res, "ErrorCode"), e);
            else
                assert_int_equal(keys[i], 35); /* DescribeLogDirs v0-2: no error field */
            static const char *const m1[] = {"GenerationId", "ProducerId", "ProducerEpoch",
                                             "ControllerId", "MemberEpoch"};
            for (size_t f = 0; f < 5; f++)
                if (has(res, m1[f], ver))
                    assert_int_equal(geti(res, m1[f]), -1);
            static const char *const empty[] = {"MemberId", "Leader", "ClusterId"};
            for (size_t f = 0; f < 3; f++)
                if (has(res, empty[f], ver)) {
                    const struct st_kval *v = fv(res, empty[f]);
                    assert_true(v->is_null || v->n == 0);
                }
            if (has(res, "ErrorMessage", ver))
                assert_true(fv(res, "ErrorMessage")->is_null);
            if (has(res, "ClusterAuthorizedOperations", ver))
                assert_int_equal(geti(res, "ClusterAuthorizedOperations"), INT32_MIN);
            if (keys[i] == 60 && ver >= 1)
                assert_int_equal(geti(res, "EndpointType"), 1);
            if (keys[i] == 14)
                assert_int_equal(fv(res, "Assignment")->n, 0);
            /* The same through deny_response with the request's own entries. */
            static const char *const n[] = {"g", "tx", "*"};
            int16_t es[] = {e, e, e};
            struct picks p = {.names = n, .errs = es, .n = 3};
            pick(&rq, &p);
            assert_true(p.nd >= 1);
            res = whole(&rq, &p);
            if (has(res, "ErrorCode", ver))
                assert_int_equal(geti(res, "ErrorCode"), e);
        }
    }
}

/* Per-entry results of cluster-level APIs: one per request entry, keys copied. */
static void
test_cluster_entries(void **state)
{
    (void)state;
    struct msg rq;
    struct st_kobj *o, *res, *e;
    for (int16_t ver = 0; ver <= 3; ver++) {
        /* CreateAcls / DeleteAcls. */
        o = msg_new(&rq, 30, ver, false);
        e = set_arr(o, "Creations", 2, ver);
        set_s(&e[0], "ResourceName", "r");
        msg_encode(&rq);
        res = deny_all(&rq, CLUSTER_AUTH);
        assert_int_equal(arr(res, "Results")->count, 2);
        assert_int_equal(all_errors(res, ver, CLUSTER_AUTH, false), 2);
        assert_true(fv(&arr(res, "Results")->objs[1], "ErrorMessage")->is_null);
        o = msg_new(&rq, 31, ver, false);
        e = set_arr(o, "Filters", 3, ver);
        for (int i = 0; i < 3; i++) {
            set_null(&e[i], "ResourceNameFilter");
            set_null(&e[i], "PrincipalFilter");
        }
        msg_encode(&rq);
        res = deny_all(&rq, CLUSTER_AUTH);
        assert_int_equal(arr(res, "FilterResults")->count, 3);
        assert_int_equal(arr(&arr(res, "FilterResults")->objs[2], "MatchingAcls")->count, 0);
        assert_int_equal(all_errors(res, ver, CLUSTER_AUTH, false), 3);
    }
    for (int16_t ver = 3; ver <= 5; ver++) { /* LeaveGroup members */
        o = msg_new(&rq, 13, ver, false);
        set_s(o, "GroupId", "g");
        e = set_arr(o, "Members", 2, ver);
        set_s(&e[0], "MemberId", "m0");
        set_s(&e[1], "MemberId", "m1");
        set_s(&e[1], "GroupInstanceId", "i1");
        set_null(&e[0], "GroupInstanceId");
        if (ver >= 5) {
            set_null(&e[0], "Reason");
            set_null(&e[1], "Reason");
        }
        msg_encode(&rq);
        res = deny_all(&rq, GROUP_AUTH);
        const struct st_kval *m = arr(res, "Members");
        assert_int_equal(m->count, 2);
        assert_true(str_is(fv(&m->objs[1], "MemberId"), "m1"));
        assert_true(str_is(fv(&m->objs[1], "GroupInstanceId"), "i1"));
        assert_true(fv(&m->objs[0], "GroupInstanceId")->is_null);
        assert_int_equal(all_errors(res, ver, GROUP_AUTH, false), 3);
    }
    static const int32_t p01[] = {0, 1};
    for (int16_t ver = 0; ver <= 2; ver++) { /* ElectLeaders */
        o = msg_new(&rq, 43, ver, false);
        e = set_arr(o, "TopicPartitions", 1, ver);
        set_s(e, "Topic", "t");
        set_iarr(e, "Partitions", p01, 2);
        msg_encode(&rq);
        res = deny_all(&rq, CLUSTER_AUTH);
        const struct st_kval *r = arr(res, "ReplicaElectionResults");
        assert_int_equal(r->count, 1);
        assert_true(str_is(fv(r->objs, "Topic"), "t"));
        const struct st_kval *pr = arr(r->objs, "PartitionResult");
        assert_int_equal(pr->count, 2);
        assert_int_equal(geti(&pr->objs[1], "PartitionId"), 1);
        assert_int_equal(all_errors(res, ver, CLUSTER_AUTH, false), 2 + (ver >= 1));
        /* AlterReplicaLogDirs: topics of every dir, flattened. */
        o = msg_new(&rq, 34, ver, false);
        e = set_arr(o, "Dirs", 2, ver);
        struct st_kobj *t = set_arr(&e[0], "Topics", 1, ver);
        set_s(t, "Name", "t");
        set_iarr(t, "Partitions", p01, 2);
        t = set_arr(&e[1], "Topics", 1, ver);
        set_s(t, "Name", "u");
        set_iarr(t, "Partitions", p01, 1);
        msg_encode(&rq);
        res = deny_all(&rq, CLUSTER_AUTH);
        r = arr(res, "Results");
        assert_int_equal(r->count, 2);
        assert_int_equal(arr(find(r, "TopicName", "t", false), "Partitions")->count, 2);
        assert_int_equal(arr(find(r, "TopicName", "u", false), "Partitions")->count, 1);
        assert_int_equal(all_errors(res, ver, CLUSTER_AUTH, false), 3);
    }
    /* AlterPartitionReassignments v0. */
    o = msg_new(&rq, 45, 0, false);
    e = set_arr(o, "Topics", 1, 0);
    set_s(e, "Name", "t");
    struct st_kobj *pp = set_arr(e, "Partitions", 2, 0);
    set_i(&pp[1], "PartitionIndex", 5);
    set_null(&pp[0], "Replicas");
    set_null(&pp[1], "Replicas");
    msg_encode(&rq);
    res = deny_all(&rq, CLUSTER_AUTH);
    assert_int_equal(geti(res, "ErrorCode"), CLUSTER_AUTH);
    const struct st_kval *r = arr(res, "Responses");
    assert_int_equal(r->count, 1);
    find_i(arr(r->objs, "Partitions"), "PartitionIndex", 5);
    assert_int_equal(all_errors(res, 0, CLUSTER_AUTH, false), 3);
    for (int16_t ver = 0; ver <= 1; ver++) { /* AlterClientQuotas: entities copied */
        o = msg_new(&rq, 49, ver, false);
        e = set_arr(o, "Entries", 1, ver);
        struct st_kobj *en = set_arr(e, "Entity", 2, ver);
        set_s(&en[0], "EntityType", "user");
        set_s(&en[0], "EntityName", "alice");
        set_s(&en[1], "EntityType", "client-id");
        set_null(&en[1], "EntityName");
        set_arr(e, "Ops", 1, ver);
        msg_encode(&rq);
        res = deny_all(&rq, CLUSTER_AUTH);
        r = arr(res, "Entries");
        assert_int_equal(r->count, 1);
        const struct st_kval *ent = arr(r->objs, "Entity");
        assert_int_equal(ent->count, 2);
        assert_true(str_is(fv(&ent->objs[0], "EntityName"), "alice"));
        assert_true(str_is(fv(&ent->objs[1], "EntityType"), "client-id"));
        assert_true(fv(&ent->objs[1], "EntityName")->is_null);
        assert_int_equal(all_errors(res, ver, CLUSTER_AUTH, false), 1);
    }
    /* AlterUserScramCredentials: deletions and upsertions. */
    o = msg_new(&rq, 51, 0, false);
    set_s(set_arr(o, "Deletions", 1, 0), "Name", "alice");
    set_s(set_arr(o, "Upsertions", 1, 0), "Name", "bob");
    msg_encode(&rq);
    res = deny_all(&rq, CLUSTER_AUTH);
    r = arr(res, "Results");
    assert_int_equal(r->count, 2);
    find(r, "User", "alice", false);
    find(r, "User", "bob", false);
    assert_int_equal(all_errors(res, 0, CLUSTER_AUTH, false), 2);
    for (int16_t ver = 0; ver <= 2; ver++) { /* UpdateFeatures */
        o = msg_new(&rq, 57, ver, false);
        set_s(set_arr(o, "FeatureUpdates", 1, ver), "Feature", "f");
        msg_encode(&rq);
        res = deny_all(&rq, CLUSTER_AUTH);
        assert_int_equal(geti(res, "ErrorCode"), CLUSTER_AUTH);
        if (ver <= 1)
            find(arr(res, "Results"), "Feature", "f", false);
        assert_int_equal(all_errors(res, ver, CLUSTER_AUTH, false), ver <= 1 ? 2 : 1);
    }
    for (int16_t ver = 0; ver <= 1; ver++) { /* WriteTxnMarkers */
        o = msg_new(&rq, 27, ver, false);
        e = set_arr(o, "Markers", 1, ver);
        set_i(e, "ProducerId", 5);
        struct st_kobj *t = set_arr(e, "Topics", 1, ver);
        set_s(t, "Name", "t");
        set_iarr(t, "PartitionIndexes", p01, 2);
        msg_encode(&rq);
        res = deny_all(&rq, CLUSTER_AUTH);
        r = arr(res, "Markers");
        assert_int_equal(r->count, 1);
        assert_int_equal(geti(r->objs, "ProducerId"), 5);
        assert_int_equal(arr(find(arr(r->objs, "Topics"), "Name", "t", false), "Partitions")->count,
                         2);
        assert_int_equal(all_errors(res, ver, CLUSTER_AUTH, false), 2);
    }
}

/* ---- every supported (key, version), synthesized requests ---- */

static const int16_t handled[] = {0,  1,  2,  3,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                  19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31,
                                  32, 33, 34, 35, 37, 42, 43, 44, 45, 46, 47, 48, 49,
                                  50, 51, 57, 60, 61, 65, 66, 68, 69, 75};

static bool
is_handled(int16_t key)
{
    for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
        if (handled[i] == key)
            return true;
    return false;
}

struct every {
    struct st_kdenial d[256]; /* every entry denied */
    size_t n;                 /* count */
    int16_t e;                /* their error */
};

static int
every_cb(void *arg, const struct st_kres *r)
{
    struct every *ev = arg;
    if (ev->n < 256) {
        ev->d[ev->n].res = *r;
        ev->d[ev->n++].error = ev->e;
    }
    return 0;
}

static void
test_every_version(void **state)
{
    (void)state;
    int pairs = 0, merged = 0;
    for (int16_t k = 0; k <= ST_KSCHEMA_MAX_KEY; k++) {
        const struct st_kmsg *mq = st_kschema_msg(k, false), *ms = st_kschema_msg(k, true);
        for (int16_t ver = -1; mq && ver <= mq->v_max + 1; ver++) {
            bool sup = st_kafka_request_supported(k, ver) && is_handled(k) && (k != 24 || ver <= 3);
            assert_int_equal(st_kafka_deny_supported(k, ver), sup);
            if (!sup)
                continue;
            pairs++;
            for (uint32_t seed = 1; seed <= 6; seed++) {
                struct st_karena a;
                st_karena_init(&a, 1 << 22);
                struct st_kdoc d;
                assert_int_equal(st_kdoc_synth(&a, mq, ver, seed, &d), 0);
                struct st_buf rq = ST_BUF_INIT, out = ST_BUF_INIT;
                const char *err = NULL;
                assert_int_equal(st_kdoc_encode(&d, &rq, &err), 0);
                const uint8_t *body = st_buf_head(&rq);
                size_t len = st_buf_used(&rq);
                /* Whole-request error: every error field carries it. */
                if (st_kafka_deny_error(k, ver, body, len, CLUSTER_AUTH, &out, &err) != 0)
                    fail_msg("%s v%d seed %u: %s", mq->name, ver, seed, err);
                struct st_kobj *res = decode_resp(k, ver, &out);
                all_errors(res, ver, CLUSTER_AUTH, false);
                /* Every entry denied, nothing forwarded. */
                struct every *ev = st_karena_alloc(&arena, sizeof(*ev));
                ev->e = TOPIC_AUTH;
                assert_int_equal(
                    st_kafka_request_resources(k, ver, body, len, NULL, every_cb, ev, &err), 0);
                out = (struct st_buf)ST_BUF_INIT;
                if (ev->n) {
                    if (st_kafka_deny_response(k, ver, body, len, ev->d, ev->n, NULL, 0, &out,
                                               &err) != 0)
                        fail_msg("whole %s v%d seed %u: %s", mq->name, ver, seed, err);
                    res = decode_resp(k, ver, &out);
                    all_errors(res, ver, TOPIC_AUTH, true);
                }
                /* Array entries denied, merged into a synthesized broker response. */
                struct st_kdenial arrd[256];
                size_t na = 0;
                for (size_t i = 0; i < ev->n; i++)
                    if (ev->d[i].res.array)
                        arrd[na++] = ev->d[i];
                struct st_kdoc up;
                struct st_buf ub = ST_BUF_INIT;
                assert_int_equal(st_kdoc_synth(&a, ms, ver, seed, &up), 0);
                assert_int_equal(st_kdoc_encode(&up, &ub, &err), 0);
                out = (struct st_buf)ST_BUF_INIT;
                int rc = st_kafka_deny_response(k, ver, body, len, arrd, na, st_buf_head(&ub),
                                                st_buf_used(&ub), &out, &err);
                if (rc == 0) {
                    merged++;
                    decode_resp(k, ver, &out);
                } else {
                    assert_true(strcmp(err, "denial does not name an entry of the request") == 0);
                    assert_int_equal(st_buf_used(&out), 0);
                    st_buf_free(&out);
                }
                /* Truncations: -1 with a reason, never a crash. */
                for (size_t cut = 0; cut < len; cut += 1 + len / 7) {
                    out = (struct st_buf)ST_BUF_INIT;
                    err = NULL;
                    if (st_kafka_deny_error(k, ver, body, cut, CLUSTER_AUTH, &out, &err) != 0)
                        assert_non_null(err);
                    st_buf_free(&out);
                    out = (struct st_buf)ST_BUF_INIT;
                    if (st_kafka_deny_response(k, ver, body, len, arrd, na, st_buf_head(&ub),
                                               st_buf_used(&ub) * cut / (len ? len : 1), &out,
                                               &err) != 0)
                        assert_non_null(err);
                    st_buf_free(&out);
                }
                st_buf_free(&ub);
                st_buf_free(&rq);
                st_karena_free(&a);
            }
        }
    }
    assert_true(pairs > 150);
    assert_true(merged > 100);
}

/* ---- scale: many entries, many denials (linear-ish, no quadratic blow-up) ---- */

struct big {
    struct st_kdenial *d; /* denials */
    size_t n, cap;        /* count, room */
    int every;            /* deny entries whose index % every == 0 */
    int seen;             /* entries seen */
};

static int
big_cb(void *arg, const struct st_kres *r)
{
    struct big *b = arg;
    if (r->array && b->seen++ % b->every == 0 && b->n < b->cap) {
        b->d[b->n].res = *r;
        b->d[b->n++].error = TOPIC_AUTH;
    }
    return 0;
}

static void
test_large(void **state)
{
    (void)state;
    enum { N = 20000 };
    static char names[N][8];
    struct msg rq, up;
    struct st_kobj *o = msg_new(&rq, 0, 9, false);
    set_null(o, "TransactionalId");
    struct st_kobj *t = set_arr(o, "TopicData", N, 9);
    for (int i = 0; i < N; i++) {
        snprintf(names[i], sizeof(names[i]), "t%05d", i);
        set_s(&t[i], "Name", names[i]);
        set_null(set_arr(&t[i], "PartitionData", 1, 9), "Records");
    }
    msg_encode(&rq);
    struct big b = {st_karena_alloc(&arena, N * sizeof(*b.d)), 0, N, 2, 0};
    const char *err = NULL;
    assert_int_equal(st_kafka_request_resources(0, 9, rq.body, rq.len, NULL, big_cb, &b, &err), 0);
    assert_int_equal(b.n, N / 2);
    /* Broker: the odd topics. */
    o = msg_new(&up, 0, 9, true);
    t = set_arr(o, "Responses", N / 2, 9);
    for (int i = 0; i < N / 2; i++) {
        set_s(&t[i], "Name", names[2 * i + 1]);
        set_i(set_arr(&t[i], "PartitionResponses", 1, 9), "BaseOffset", 42);
    }
    msg_encode(&up);
    struct st_buf out = ST_BUF_INIT;
    assert_int_equal(
        st_kafka_deny_response(0, 9, rq.body, rq.len, b.d, b.n, up.body, up.len, &out, &err), 0);
    struct st_kobj *res = decode_resp(0, 9, &out);
    const struct st_kval *r = arr(res, "Responses");
    assert_int_equal(r->count, N);
    for (int i = 0; i < N; i++) {
        const struct st_kobj *pr = arr(&r->objs[i], "PartitionResponses")->objs;
        assert_int_equal(geti(pr, "ErrorCode"), i < N / 2 ? 0 : TOPIC_AUTH);
        assert_int_equal(geti(pr, "BaseOffset"), i < N / 2 ? 42 : -1);
    }
    assert_true(str_is(fv(&r->objs[N / 2], "Name"), "t00000"));
    assert_int_equal(geti(&arr(&r->objs[N / 2], "PartitionResponses")->objs[0], "ErrorCode"),
                     TOPIC_AUTH);
    /* Nothing forwarded, every topic denied. */
    b = (struct big){st_karena_alloc(&arena, N * sizeof(*b.d)), 0, N, 1, 0};
    assert_int_equal(st_kafka_request_resources(0, 9, rq.body, rq.len, NULL, big_cb, &b, &err), 0);
    out = (struct st_buf)ST_BUF_INIT;
    assert_int_equal(st_kafka_deny_response(0, 9, rq.body, rq.len, b.d, b.n, NULL, 0, &out, &err),
                     0);
    res = decode_resp(0, 9, &out);
    assert_int_equal(arr(res, "Responses")->count, N);
    assert_int_equal(all_errors(res, 9, TOPIC_AUTH, false), N);

    /* OffsetFetch v8: many allowed groups, each with one denied topic of two. */
    enum { G = 5000 };
    o = msg_new(&rq, 9, 8, false);
    struct st_kobj *g = set_arr(o, "Groups", G, 8);
    static const int32_t p0[] = {0};
    for (int i = 0; i < G; i++) {
        set_s(&g[i], "GroupId", names[i]);
        t = set_arr(&g[i], "Topics", 2, 8);
        set_s(&t[0], "Name", "allowed");
        set_iarr(&t[0], "PartitionIndexes", p0, 1);
        set_s(&t[1], "Name", "denied");
        set_iarr(&t[1], "PartitionIndexes", p0, 1);
    }
    msg_encode(&rq);
    struct st_kdenial *d = st_karena_alloc(&arena, G * sizeof(*d));
    size_t nd = 0;
    b = (struct big){st_karena_alloc(&arena, 3 * G * sizeof(*b.d)), 0, 3 * G, 1, 0};
    assert_int_equal(st_kafka_request_resources(9, 8, rq.body, rq.len, NULL, big_cb, &b, &err), 0);
    for (size_t i = 0; i < b.n; i++)
        if (b.d[i].res.name_len == 6 && memcmp(b.d[i].res.name, "denied", 6) == 0)
            d[nd++] = b.d[i];
    assert_int_equal(nd, G);
    o = msg_new(&up, 9, 8, true);
    g = set_arr(o, "Groups", G, 8);
    for (int i = 0; i < G; i++) {
        set_s(&g[G - 1 - i], "GroupId", names[i]); /* another order */
        t = set_arr(&g[G - 1 - i], "Topics", 1, 8);
        set_s(t, "Name", "allowed");
        set_arr(t, "Partitions", 1, 8);
    }
    msg_encode(&up);
    out = (struct st_buf)ST_BUF_INIT;
    assert_int_equal(
        st_kafka_deny_response(9, 8, rq.body, rq.len, d, nd, up.body, up.len, &out, &err), 0);
    res = decode_resp(9, 8, &out);
    r = arr(res, "Groups");
    assert_int_equal(r->count, G);
    for (int i = 0; i < G; i += 997) {
        const struct st_kval *ts = arr(&r->objs[G - 1 - i], "Topics");
        assert_int_equal(ts->count, 2);
        assert_int_equal(
            geti(&arr(find(ts, "Name", "denied", false), "Partitions")->objs[0], "ErrorCode"),
            TOPIC_AUTH);
    }
}

/* ---- malformed input ---- */

static void
test_malformed(void **state)
{
    (void)state;
    struct msg rq;
    struct st_kobj *o = msg_new(&rq, 15, 5, false);
    set_sarr(o, "Groups", xyz, 3);
    msg_encode(&rq);
    static const char *const n[] = {"y"};
    static const int16_t e[] = {GROUP_AUTH};
    struct picks p = {.names = n, .errs = e, .n = 1};
    pick(&rq, &p);
    struct st_buf out = ST_BUF_INIT;
    assert_int_equal(st_buf_append(&out, "keep", 4), 0);
    const char *err = NULL;
    /* Unsupported keys and versions. */
    assert_int_equal(st_kafka_deny_error(4, 0, rq.body, rq.len, 31, &out, &err), -1);
    assert_int_equal(st_kafka_deny_error(24, 4, rq.body, rq.len, 31, &out, &err), -1);
    assert_int_equal(st_kafka_deny_error(1, 18, rq.body, rq.len, 31, &out, &err), -1);
    assert_false(st_kafka_deny_supported(24, 4));
    assert_false(st_kafka_deny_supported(1, 18));
    assert_false(st_kafka_deny_supported(76, 0));
    assert_false(st_kafka_deny_supported(18, 0));
    assert_false(st_kafka_deny_supported(-1, 0));
    /* No error, nothing denied. */
    assert_int_equal(st_kafka_deny_error(15, 5, rq.body, rq.len, 0, &out, &err), -1);
    assert_int_equal(st_kafka_deny_response(15, 5, rq.body, rq.len, NULL, 0, NULL, 0, &out, &err),
                     -1);
    /* Truncated request, garbage upstream. */
    assert_int_equal(st_kafka_deny_error(15, 5, rq.body, rq.len - 1, 30, &out, &err), -1);
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0x7f, 1, 2};
    assert_int_equal(
        st_kafka_deny_response(15, 5, rq.body, rq.len, p.d, p.nd, junk, sizeof(junk), &out, &err),
        -1);
    assert_non_null(err);
    /* A denial of another request, of another key, outside the body, without an error. */
    struct st_kdenial bad = p.d[0];
    bad.res.elem_off += 1;
    bad.res.name += 1;
    assert_int_equal(st_kafka_deny_response(15, 5, rq.body, rq.len, &bad, 1, junk, 0, &out, &err),
                     -1);
    assert_string_equal(err, "denial does not name an entry of the request");
    bad = p.d[0];
    bad.res.api_key = 42;
    assert_int_equal(st_kafka_deny_response(15, 5, rq.body, rq.len, &bad, 1, NULL, 0, &out, &err),
                     -1);
    bad = p.d[0];
    bad.res.array = NULL;
    bad.res.value_off = rq.len;
    assert_int_equal(st_kafka_deny_response(15, 5, rq.body, rq.len, &bad, 1, NULL, 0, &out, &err),
                     -1);
    bad = p.d[0];
    bad.error = 0;
    assert_int_equal(st_kafka_deny_response(15, 5, rq.body, rq.len, &bad, 1, NULL, 0, &out, &err),
                     -1);
    /* The output buffer is left as it was. */
    assert_int_equal(st_buf_used(&out), 4);
    assert_memory_equal(st_buf_head(&out), "keep", 4);
    /* And appended to on success. */
    assert_int_equal(st_kafka_deny_error(15, 5, rq.body, rq.len, 30, &out, &err), 0);
    assert_true(st_buf_used(&out) > 4);
    assert_memory_equal(st_buf_head(&out), "keep", 4);
    st_buf_free(&out);
}

static int
setup(void **state)
{
    (void)state;
    st_karena_init(&arena, (size_t)1 << 30);
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    st_karena_free(&arena);
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_topic_partition_apis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_named_apis, setup, teardown),
        cmocka_unit_test_setup_teardown(test_topic_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_find_coordinator_v0_3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_offset_fetch_groups, setup, teardown),
        cmocka_unit_test_setup_teardown(test_request_level, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cluster_entries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

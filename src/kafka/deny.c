/*
 * Kafka codec: denial responses (deny.h). A per-API table maps the request arrays that hold
 * authorization entries (topics, groups, transactional ids, config resources, ACL creations, ...)
 * to the response arrays that answer them, level by level (topic -> partitions). Responses are
 * built as DOMs (schema.h): synthesized entries start from the schema with Kafka's error defaults,
 * get their keys copied from the original request element and carry the denial's error code;
 * for a partial denial they are appended to the decoded broker response, which is re-encoded.
 */
#include "kafka/deny.h"

#include <stdlib.h>
#include <string.h>

#include "kafka/proto.h"
#include "kafka/schema.h"

/* A key copied from a request element to its response element. */
struct kpair {
    const char *rq; /* request field; "" = the element itself (primitive array) */
    const char *rs; /* response field */
};

/* One mirrored array level. */
struct lvl {
    const char *rq_outer;  /* request array whose elements hold `rq` (flattened), NULL */
    const char *rq;        /* request array in the parent request struct */
    const char *rs;        /* response array in the parent response struct */
    struct kpair keys[2];  /* keys copied into each response element */
    const char *err;       /* error field of the response element, NULL when none */
    uint8_t resource;      /* elements are authorization entries (else partitions, members) */
    const struct lvl *sub; /* nested level inside each element, NULL */
};

/* One API: its mirrored top-level arrays (those present in a version apply). */
struct api {
    int16_t key;             /* API key */
    int16_t vmax;            /* highest version handled (also capped by the supported range) */
    const struct lvl *lv[2]; /* top-level levels */
    const char *ignore;      /* request array whose denials need no response entry */
    const char *root_key;    /* top-level field copied from request to response, NULL */
};

#define K1(a, b)                                                                                   \
    {                                                                                              \
        {a, b},                                                                                    \
        {                                                                                          \
            NULL, NULL                                                                             \
        }                                                                                          \
    }
#define K2(a, b, c, d)                                                                             \
    {                                                                                              \
        {a, b},                                                                                    \
        {                                                                                          \
            c, d                                                                                   \
        }                                                                                          \
    }
#define K0                                                                                         \
    {                                                                                              \
        {NULL, NULL},                                                                              \
        {                                                                                          \
            NULL, NULL                                                                             \
        }                                                                                          \
    }

/* Partition levels (not resources: they inherit the topic's error). */
static const struct lvl p_index = {
    NULL, "PartitionData", "PartitionResponses", K1("Index", "Index"), "ErrorCode", 0, NULL};
static const struct lvl p_fetch = {
    NULL, "Partitions", "Partitions", K1("Partition", "PartitionIndex"), "ErrorCode", 0, NULL};
static const struct lvl p_pi = {
    NULL, "Partitions", "Partitions", K1("PartitionIndex", "PartitionIndex"), "ErrorCode", 0, NULL};
static const struct lvl p_ole = {
    NULL, "Partitions", "Partitions", K1("Partition", "Partition"), "ErrorCode", 0, NULL};
static const struct lvl p_indexes = {
    NULL, "PartitionIndexes", "Partitions", K1("", "PartitionIndex"), "ErrorCode", 0, NULL};
static const struct lvl p_txn = {
    NULL, "Partitions", "ResultsByPartition", K1("", "PartitionIndex"), "PartitionErrorCode",
    0,    NULL};
static const struct lvl p_ints = {
    NULL, "Partitions", "Partitions", K1("", "PartitionIndex"), "ErrorCode", 0, NULL};
static const struct lvl p_elect = {
    NULL, "Partitions", "PartitionResult", K1("", "PartitionId"), "ErrorCode", 0, NULL};

/* Topic levels. */
static const struct lvl t_produce = {
    NULL, "TopicData", "Responses", K2("Name", "Name", "TopicId", "TopicId"), NULL, 1, &p_index};
static const struct lvl t_fetch = {
    NULL, "Topics", "Responses", K2("Topic", "Topic", "TopicId", "TopicId"), NULL, 1, &p_fetch};
static const struct lvl t_pi = {NULL, "Topics", "Topics", K1("Name", "Name"), NULL, 1, &p_pi};
static const struct lvl t_metadata = {
    NULL, "Topics", "Topics", K2("Name", "Name", "TopicId", "TopicId"), "ErrorCode", 1, NULL};
static const struct lvl t_offsetfetch = {NULL, "Topics", "Topics",  K1("Name", "Name"),
                                         NULL, 1,        &p_indexes};
static const struct lvl g_offsetfetch = {
    NULL, "Groups", "Groups", K1("GroupId", "GroupId"), "ErrorCode", 1, &t_offsetfetch};
static const struct lvl t_ole = {NULL, "Topics", "Topics", K1("Topic", "Topic"), NULL, 1, &p_ole};
static const struct lvl t_txn = {
    NULL, "V3AndBelowTopics", "ResultsByTopicV3AndBelow", K1("Name", "Name"), NULL, 1, &p_txn};
static const struct lvl t_create = {NULL,        "Topics", "Topics", K1("Name", "Name"),
                                    "ErrorCode", 1,        NULL};
static const struct lvl t_delete_names = {
    NULL, "TopicNames", "Responses", K1("", "Name"), "ErrorCode", 1, NULL};
static const struct lvl t_delete = {
    NULL, "Topics", "Responses", K2("Name", "Name", "TopicId", "TopicId"), "ErrorCode", 1, NULL};
static const struct lvl t_partitions = {NULL,        "Topics", "Results", K1("Name", "Name"),
                                        "ErrorCode", 1,        NULL};
static const struct lvl t_producers = {NULL, "Topics", "Topics",  K1("Name", "Name"),
                                       NULL, 1,        &p_indexes};
static const struct lvl t_dtp = {NULL,        "Topics", "Topics", K1("Name", "Name"),
                                 "ErrorCode", 1,        NULL};
static const struct lvl t_markers = {NULL, "Topics", "Topics",  K1("Name", "Name"),
                                     NULL, 1,        &p_indexes};
static const struct lvl m_markers = {NULL, "Markers", "Markers", K1("ProducerId", "ProducerId"),
                                     NULL, 0,         &t_markers};
static const struct lvl t_logdirs = {"Dirs", "Topics", "Results", K1("Name", "TopicName"),
                                     NULL,   1,        &p_ints};
static const struct lvl t_elect = {
    NULL, "TopicPartitions", "ReplicaElectionResults", K1("Topic", "Topic"), NULL, 1, &p_elect};
static const struct lvl t_reassign = {NULL, "Topics", "Responses", K1("Name", "Name"),
                                      NULL, 1,        &p_pi};

/* Group, transactional id, coordinator key levels. */
static const struct lvl c_keys = {
    NULL, "CoordinatorKeys", "Coordinators", K1("", "Key"), "ErrorCode", 1, NULL};
static const struct lvl g_describe = {NULL,        "Groups", "Groups", K1("", "GroupId"),
                                      "ErrorCode", 1,        NULL};
static const struct lvl g_delete = {NULL, "GroupsNames", "Results", K1("", "GroupId"), "ErrorCode",
                                    1,    NULL};
static const struct lvl g_cgdescribe = {NULL,        "GroupIds", "Groups", K1("", "GroupId"),
                                        "ErrorCode", 1,          NULL};
static const struct lvl x_describe = {
    NULL, "TransactionalIds", "TransactionStates", K1("", "TransactionalId"), "ErrorCode", 1, NULL};
static const struct lvl m_leave = {
    NULL,        "Members",
    "Members",   K2("MemberId", "MemberId", "GroupInstanceId", "GroupInstanceId"),
    "ErrorCode", 0,
    NULL};

/* Config resources, ACLs, quotas, SCRAM credentials, features. */
static const struct lvl r_describe = {
    NULL,        "Resources",
    "Results",   K2("ResourceType", "ResourceType", "ResourceName", "ResourceName"),
    "ErrorCode", 1,
    NULL};
static const struct lvl r_alter = {
    NULL,        "Resources",
    "Responses", K2("ResourceType", "ResourceType", "ResourceName", "ResourceName"),
    "ErrorCode", 1,
    NULL};
static const struct lvl a_create = {NULL, "Creations", "Results", K0, "ErrorCode", 0, NULL};
static const struct lvl a_delete = {NULL, "Filters", "FilterResults", K0, "ErrorCode", 0, NULL};
static const struct lvl q_alter = {NULL,        "Entries", "Entries", K1("Entity", "Entity"),
                                   "ErrorCode", 0,         NULL};
static const struct lvl s_del = {NULL,        "Deletions", "Results", K1("Name", "User"),
                                 "ErrorCode", 0,           NULL};
static const struct lvl s_ups = {NULL, "Upsertions", "Results", K1("Name", "User"), "ErrorCode",
                                 0,    NULL};
static const struct lvl f_update = {
    NULL, "FeatureUpdates", "Results", K1("Feature", "Feature"), "ErrorCode", 0, NULL};

#define ALLV INT16_MAX
static const struct api apis[] = {
    {0, ALLV, {&t_produce, NULL}, NULL, NULL},                /* Produce */
    {1, ALLV, {&t_fetch, NULL}, "ForgottenTopicsData", NULL}, /* Fetch */
    {2, ALLV, {&t_pi, NULL}, NULL, NULL},                     /* ListOffsets */
    {3, ALLV, {&t_metadata, NULL}, NULL, NULL},               /* Metadata */
    {8, ALLV, {&t_pi, NULL}, NULL, NULL},                     /* OffsetCommit */
    {9, ALLV, {&t_offsetfetch, &g_offsetfetch}, NULL, NULL},  /* OffsetFetch */
    {10, ALLV, {&c_keys, NULL}, NULL, NULL},                  /* FindCoordinator */
    {11, ALLV, {NULL, NULL}, NULL, NULL},                     /* JoinGroup */
    {12, ALLV, {NULL, NULL}, NULL, NULL},                     /* Heartbeat */
    {13, ALLV, {&m_leave, NULL}, NULL, NULL},                 /* LeaveGroup */
    {14, ALLV, {NULL, NULL}, NULL, NULL},                     /* SyncGroup */
    {15, ALLV, {&g_describe, NULL}, NULL, NULL},              /* DescribeGroups */
    {16, ALLV, {NULL, NULL}, NULL, NULL},                     /* ListGroups */
    {19, ALLV, {&t_create, NULL}, NULL, NULL},                /* CreateTopics */
    {20, ALLV, {&t_delete_names, &t_delete}, NULL, NULL},     /* DeleteTopics */
    {21, ALLV, {&t_pi, NULL}, NULL, NULL},                    /* DeleteRecords */
    {22, ALLV, {NULL, NULL}, NULL, NULL},                     /* InitProducerId */
    {23, ALLV, {&t_ole, NULL}, NULL, NULL},                   /* OffsetForLeaderEpoch */
    {24, 3, {&t_txn, NULL}, NULL, NULL},                      /* AddPartitionsToTxn */
    {25, ALLV, {NULL, NULL}, NULL, NULL},                     /* AddOffsetsToTxn */
    {26, ALLV, {NULL, NULL}, NULL, NULL},                     /* EndTxn */
    {27, ALLV, {&m_markers, NULL}, NULL, NULL},               /* WriteTxnMarkers */
    {28, ALLV, {&t_pi, NULL}, NULL, NULL},                    /* TxnOffsetCommit */
    {29, ALLV, {NULL, NULL}, NULL, NULL},                     /* DescribeAcls */
    {30, ALLV, {&a_create, NULL}, NULL, NULL},                /* CreateAcls */
    {31, ALLV, {&a_delete, NULL}, NULL, NULL},                /* DeleteAcls */
    {32, ALLV, {&r_describe, NULL}, NULL, NULL},              /* DescribeConfigs */
    {33, ALLV, {&r_alter, NULL}, NULL, NULL},                 /* AlterConfigs */
    {34, ALLV, {&t_logdirs, NULL}, NULL, NULL},               /* AlterReplicaLogDirs */
    {35, ALLV, {NULL, NULL}, NULL, NULL},                     /* DescribeLogDirs */
    {37, ALLV, {&t_partitions, NULL}, NULL, NULL},            /* CreatePartitions */
    {42, ALLV, {&g_delete, NULL}, NULL, NULL},                /* DeleteGroups */
    {43, ALLV, {&t_elect, NULL}, NULL, NULL},                 /* ElectLeaders */
    {44, ALLV, {&r_alter, NULL}, NULL, NULL},                 /* IncrementalAlterConfigs */
    {45, ALLV, {&t_reassign, NULL}, NULL, NULL},              /* AlterPartitionReassignments */
    {46, ALLV, {NULL, NULL}, NULL, NULL},                     /* ListPartitionReassignments */
    {47, ALLV, {&t_pi, NULL}, NULL, NULL},                    /* OffsetDelete */
    {48, ALLV, {NULL, NULL}, NULL, NULL},                     /* DescribeClientQuotas */
    {49, ALLV, {&q_alter, NULL}, NULL, NULL},                 /* AlterClientQuotas */
    {50, ALLV, {NULL, NULL}, NULL, NULL},                     /* DescribeUserScramCredentials */
    {51, ALLV, {&s_del, &s_ups}, NULL, NULL},                 /* AlterUserScramCredentials */
    {57, ALLV, {&f_update, NULL}, NULL, NULL},                /* UpdateFeatures */
    {60, ALLV, {NULL, NULL}, NULL, "EndpointType"},           /* DescribeCluster */
    {61, ALLV, {&t_producers, NULL}, NULL, NULL},             /* DescribeProducers */
    {65, ALLV, {&x_describe, NULL}, NULL, NULL},              /* DescribeTransactions */
    {66, ALLV, {NULL, NULL}, NULL, NULL},                     /* ListTransactions */
    {68, ALLV, {NULL, NULL}, NULL, NULL},                     /* ConsumerGroupHeartbeat */
    {69, ALLV, {&g_cgdescribe, NULL}, NULL, NULL},            /* ConsumerGroupDescribe */
    {75, ALLV, {&t_dtp, NULL}, NULL, NULL},                   /* DescribeTopicPartitions */
};

static const struct api *
find_api(int16_t key, int16_t ver)
{
    for (size_t i = 0; i < sizeof(apis) / sizeof(apis[0]); i++)
        if (apis[i].key == key)
            return ver <= apis[i].vmax && st_kafka_request_supported(key, ver) ? &apis[i] : NULL;
    return NULL;
}

bool
st_kafka_deny_supported(int16_t api_key, int16_t api_version)
{
    return find_api(api_key, api_version) != NULL;
}

/* ---- defaults ---- */

/* Integer fields Kafka sets to -1 in error entries (the JSON "default": "-1" fields and kin). */
static const char *const minus_one[] = {
    "AssignmentEpoch",
    "BaseOffset",
    "BrokerEpoch",
    "CommittedLeaderEpoch",
    "CommittedOffset",
    "ConfigSource",
    "ControllerId",
    "CoordinatorEpoch",
    "CurrentTxnStartOffset",
    "EndOffset",
    "Epoch",
    "GenerationId",
    "GroupEpoch",
    "HighWatermark",
    "LastSequence",
    "LastStableOffset",
    "LastTimestamp",
    "LeaderEpoch",
    "LeaderId",
    "LogAppendTimeMs",
    "LogStartOffset",
    "LowWatermark",
    "MemberEpoch",
    "NodeId",
    "NumPartitions",
    "Offset",
    "Port",
    "PreferredReadReplica",
    "ProducerEpoch",
    "ProducerId",
    "ReplicationFactor",
    "Timestamp",
    "TotalBytes",
    "TransactionStartTimeMs",
    "UsableBytes",
};

/* Nullable arrays Kafka leaves null in error entries (the others default to empty). */
static const char *const null_arrays[] = {"AbortedTransactions", "EligibleLeaderReplicas",
                                          "LastKnownElr"};

static bool
in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

static bool
ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool
nullable_in(const struct st_kfield *f, int16_t ver)
{
    return f->null_min >= 0 && ver >= f->null_min && ver <= f->null_max;
}

/* A denied request element and its error (`order`: position of the denial, first wins). */
struct mark {
    const void *el; /* st_kobj (struct element) or st_kval (primitive element) */
    size_t order;   /* index in the caller's denials */
    int16_t error;  /* error code */
};

/* A request element of a mirrored level, keyed by its offset in the body. */
struct ent {
    size_t key;        /* struct: element offset; string: offset of its bytes */
    size_t len;        /* struct: element length; string: bytes */
    const char *array; /* request array field name */
    const void *el;    /* st_kobj or st_kval */
    uint8_t prim;      /* element of a primitive array */
};

struct ctx {
    struct st_karena a; /* everything below */
    int16_t ver;        /* version */
    bool flex;          /* flexible response version */
    bool nothing;       /* whole response synthesized */
    int16_t dflt;       /* error of entries without a denial of their own */
    const uint8_t *req; /* request body (element keys are offsets into it) */
    struct mark *marks; /* denied request elements, sorted by element */
    size_t nmarks;      /* entries */
    struct ent *ents;   /* request elements of the mirrored levels, sorted by offset */
    size_t nents;       /* entries */
    size_t cap_ents;    /* allocated */
    const char **err;   /* error out */
};

static int
fail(struct ctx *c, const char *msg)
{
    *c->err = msg;
    return -1;
}

/* A response struct instance with every field of the version at its error default. */
static struct st_kobj *
dflt_obj(struct ctx *c, const struct st_kstruct *st)
{
    struct st_kobj *o = st_karena_alloc(&c->a, sizeof(*o));
    if (!o)
        return NULL;
    o->st = st;
    o->vals = st_karena_alloc(&c->a, (st->nfields + 1u) * sizeof(*o->vals));
    if (!o->vals)
        return NULL;
    for (int i = 0; i < st->nfields; i++) {
        const struct st_kfield *f = &st->fields[i];
        struct st_kval *v = &o->vals[i];
        if (!st_kfield_in(f, c->ver) || st_kfield_tagged(f, c->ver))
            continue; /* absent, or a tagged field not sent */
        v->present = 1;
        bool nul = nullable_in(f, c->ver);
        if (f->is_array) {
            v->is_null =
                nul && in_list(f->name, null_arrays, sizeof(null_arrays) / sizeof(null_arrays[0]));
            continue;
        }
        switch (f->type) {
        case ST_KT_STRUCT:
            if (nul)
                v->is_null = 1;
            else if (!(v->objs = dflt_obj(c, f->sub)))
                return NULL;
            break;
        case ST_KT_STRING:
            v->is_null = nul && strcmp(f->name, "Metadata") != 0;
            break;
        case ST_KT_BYTES:
            v->is_null = nul;
            break;
        case ST_KT_RECORDS:
        case ST_KT_UUID:
        case ST_KT_BOOL:
            break; /* empty records, zero uuid, false */
        default:
            if (in_list(f->name, minus_one, sizeof(minus_one) / sizeof(minus_one[0])))
                v->i = -1;
            else if (ends_with(f->name, "AuthorizedOperations"))
                v->i = INT32_MIN;
            break;
        }
    }
    return o;
}

/* Value of a field present in the version, or NULL. */
static struct st_kval *
get(const struct st_kobj *o, const char *name, int16_t ver)
{
    if (!o || !name)
        return NULL;
    int i = st_kstruct_find(o->st, name);
    if (i < 0 || !st_kfield_in(&o->st->fields[i], ver))
        return NULL;
    return &o->vals[i];
}

static const struct st_kfield *
field_of(const struct st_kobj *o, const char *name)
{
    int i = st_kstruct_find(o->st, name);
    return i < 0 ? NULL : &o->st->fields[i];
}

/* Copies a request value into a response field of the same kind (scalars, struct arrays). */
static int
copy_val(struct ctx *c, const struct st_kfield *df, struct st_kval *dst, const struct st_kfield *sf,
         const struct st_kval *src)
{
    if (df->is_array != sf->is_array)
        return 0;
    if (df->is_array) {
        if (df->type != ST_KT_STRUCT || sf->type != ST_KT_STRUCT)
            return 0;
        if (src->is_null) {
            dst->is_null = nullable_in(df, c->ver);
            dst->count = 0;
            return 0;
        }
        dst->is_null = 0;
        dst->count = src->count;
        dst->objs = src->count ? st_karena_alloc(&c->a, src->count * sizeof(*dst->objs)) : NULL;
        if (src->count && !dst->objs)
            return fail(c, "arena limit");
        for (uint32_t k = 0; k < src->count; k++) {
            struct st_kobj *o = dflt_obj(c, df->sub);
            if (!o)
                return fail(c, "arena limit");
            dst->objs[k] = *o;
            for (int i = 0; i < df->sub->nfields; i++) {
                const struct st_kfield *f = &df->sub->fields[i];
                if (!dst->objs[k].vals[i].present)
                    continue;
                struct st_kval *sv = get(&src->objs[k], f->name, c->ver);
                const struct st_kfield *sff = field_of(&src->objs[k], f->name);
                if (sv && sff && copy_val(c, f, &dst->objs[k].vals[i], sff, sv) < 0)
                    return -1;
            }
        }
        return 0;
    }
    if (df->type == ST_KT_STRUCT || sf->type == ST_KT_STRUCT)
        return 0;
    bool dstr = df->type == ST_KT_STRING || df->type == ST_KT_BYTES;
    bool sstr = sf->type == ST_KT_STRING || sf->type == ST_KT_BYTES;
    if (dstr != sstr || (df->type == ST_KT_UUID) != (sf->type == ST_KT_UUID))
        return 0;
    dst->i = src->i;
    dst->p = src->p;
    dst->n = src->n;
    dst->is_null = src->is_null && nullable_in(df, c->ver);
    return 0;
}

/* ---- request elements ---- */

static int
mark_cmp(const void *a, const void *b)
{
    const struct mark *x = a, *y = b;
    uintptr_t p = (uintptr_t)x->el, q = (uintptr_t)y->el;
    if (p != q)
        return p < q ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Denial error recorded for a request element, 0 when none (binary search). */
static int16_t
own_err(const struct ctx *c, const void *el)
{
    size_t lo = 0, hi = c->nmarks;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((uintptr_t)c->marks[mid].el < (uintptr_t)el)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->nmarks && c->marks[lo].el == el ? c->marks[lo].error : 0;
}

/* Request array value of a level in one parent, NULL when absent in the version. */
static const struct st_kval *
rq_arr(const struct ctx *c, const struct st_kobj *parent, const char *name,
       const struct st_kfield **f)
{
    const struct st_kval *v = get(parent, name, c->ver);
    if (!v || !(*f = field_of(parent, name)) || !(*f)->is_array)
        return NULL;
    return v;
}

typedef int (*elem_fn)(struct ctx *c, const struct lvl *l, const struct st_kfield *f,
                       const void *el, void *arg);

static int
each_in(struct ctx *c, const struct lvl *l, const struct st_kobj *parent, elem_fn fn, void *arg)
{
    const struct st_kfield *f;
    const struct st_kval *v = rq_arr(c, parent, l->rq, &f);
    if (!v || v->is_null)
        return 0;
    for (uint32_t i = 0; i < v->count; i++)
        if (fn(c, l, f,
               f->type == ST_KT_STRUCT ? (const void *)&v->objs[i] : (const void *)&v->elems[i],
               arg) < 0)
            return -1;
    return 0;
}

/* Calls fn for each request element of level l under `parent` (flattening rq_outer). */
static int
each_elem(struct ctx *c, const struct lvl *l, const struct st_kobj *parent, elem_fn fn, void *arg)
{
    if (!l->rq_outer)
        return each_in(c, l, parent, fn, arg);
    const struct st_kfield *of;
    const struct st_kval *ov = rq_arr(c, parent, l->rq_outer, &of);
    if (!ov || ov->is_null || of->type != ST_KT_STRUCT)
        return 0;
    for (uint32_t k = 0; k < ov->count; k++)
        if (each_in(c, l, &ov->objs[k], fn, arg) < 0)
            return -1;
    return 0;
}

static int
count_cb(struct ctx *c, const struct lvl *l, const struct st_kfield *f, const void *el, void *arg)
{
    (void)c, (void)l, (void)f, (void)el;
    (*(size_t *)arg)++;
    return 0;
}

/* Index of every element of the mirrored levels (a denial names one by its byte span). */
static int
index_cb(struct ctx *c, const struct lvl *l, const struct st_kfield *f, const void *el, void *arg)
{
    (void)arg;
    if (c->nents == c->cap_ents) {
        size_t cap = c->cap_ents ? 2 * c->cap_ents : 16;
        struct ent *n = st_karena_alloc(&c->a, cap * sizeof(*n));
        if (!n)
            return fail(c, "arena limit");
        if (c->nents)
            memcpy(n, c->ents, c->nents * sizeof(*n));
        c->ents = n;
        c->cap_ents = cap;
    }
    struct ent *e = &c->ents[c->nents];
    e->array = l->rq;
    e->el = el;
    if (f->type == ST_KT_STRUCT) {
        const struct st_kobj *o = el;
        e->key = o->off;
        e->len = o->len;
        e->prim = 0;
        c->nents++;
        return l->sub && l->sub->resource ? each_elem(c, l->sub, o, index_cb, NULL) : 0;
    }
    const struct st_kval *v = el;
    if (f->type != ST_KT_STRING || !v->p)
        return 0; /* partition indexes: never a denial of their own */
    e->key = (size_t)(v->p - c->req);
    e->len = v->n;
    e->prim = 1;
    c->nents++;
    return 0;
}

static int
ent_cmp(const void *a, const void *b)
{
    const struct ent *x = a, *y = b;
    return x->key < y->key ? -1 : x->key > y->key;
}

/* The element a denial names: a struct element with its span, or a string element. */
static const void *
find_elem(const struct ctx *c, const struct st_kres *r, size_t req_len)
{
    size_t keys[2] = {r->elem_off, SIZE_MAX};
    if (r->name && (uintptr_t)r->name >= (uintptr_t)c->req &&
        (uintptr_t)r->name - (uintptr_t)c->req <= req_len)
        keys[1] = (size_t)((uintptr_t)r->name - (uintptr_t)c->req);
    for (int k = 0; k < 2; k++) {
        size_t lo = 0, hi = c->nents;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (c->ents[mid].key < keys[k])
                lo = mid + 1;
            else
                hi = mid;
        }
        for (; lo < c->nents && c->ents[lo].key == keys[k]; lo++) {
            const struct ent *e = &c->ents[lo];
            if (strcmp(e->array, r->array) != 0 || (k == 0) == (e->prim != 0))
                continue;
            if (k == 0 ? e->len == r->elem_len : e->len == r->name_len)
                return e->el;
        }
    }
    return NULL;
}

/* ---- building response entries ---- */

/* Makes room for `extra` more elements in a struct array value (one allocation). */
static int
grow(struct ctx *c, struct st_kval *arr, size_t extra)
{
    if (extra == 0)
        return 0;
    if (extra > UINT32_MAX - 1 - arr->count)
        return fail(c, "array too long");
    struct st_kobj *n = st_karena_alloc(&c->a, (arr->count + extra) * sizeof(*n));
    if (!n)
        return fail(c, "arena limit");
    if (arr->count)
        memcpy(n, arr->objs, arr->count * sizeof(*n));
    arr->objs = n;
    arr->is_null = 0;
    arr->present = 1;
    return 0;
}

/* Appends within room made by grow(). */
static void
push(struct st_kval *arr, const struct st_kobj *o)
{
    arr->objs[arr->count++] = *o;
}

/* Response element for request element `el` of level l; `inh` is the enclosing error. */
static struct st_kobj *
mk_elem(struct ctx *c, const struct lvl *l, const struct st_kfield *rsf,
        const struct st_kfield *rqf, const void *el, int16_t inh)
{
    struct st_kobj *o = dflt_obj(c, rsf->sub);
    if (!o) {
        fail(c, "arena limit");
        return NULL;
    }
    for (int k = 0; k < 2 && l->keys[k].rq; k++) {
        struct st_kval *dv = get(o, l->keys[k].rs, c->ver);
        const struct st_kfield *df = field_of(o, l->keys[k].rs);
        if (!dv || !df)
            continue;
        if (l->keys[k].rq[0] == 0 || rqf->type != ST_KT_STRUCT) { /* the element itself */
            if (l->keys[k].rq[0] != 0 || rqf->type == ST_KT_STRUCT)
                continue;
            const struct st_kfield prim = {.type = rqf->type, .null_min = -1, .null_max = -1};
            if (copy_val(c, df, dv, &prim, el) < 0)
                return NULL;
            continue;
        }
        const struct st_kobj *ro = el;
        const struct st_kval *sv = get(ro, l->keys[k].rq, c->ver);
        const struct st_kfield *sf = field_of(ro, l->keys[k].rq);
        if (sv && sf && copy_val(c, df, dv, sf, sv) < 0)
            return NULL;
    }
    int16_t e = inh ? inh : own_err(c, el);
    if (!e && c->nothing && !(l->sub && l->sub->resource))
        e = c->dflt;
    struct st_kval *ev = get(o, l->err, c->ver);
    if (ev)
        ev->i = e;
    if (l->sub && rqf->type == ST_KT_STRUCT) {
        const struct st_kobj *ro = el;
        struct st_kval *sub = get(o, l->sub->rs, c->ver);
        const struct st_kfield *subf = field_of(o, l->sub->rs);
        const struct st_kfield *rsubf;
        const struct st_kval *rsub = rq_arr(c, ro, l->sub->rq, &rsubf);
        if (sub && subf && subf->is_array && subf->type == ST_KT_STRUCT && rsub && !rsub->is_null) {
            if (grow(c, sub, rsub->count) < 0)
                return NULL;
            for (uint32_t i = 0; i < rsub->count; i++) {
                const void *cel = rsubf->type == ST_KT_STRUCT ? (const void *)&rsub->objs[i]
                                                              : (const void *)&rsub->elems[i];
                struct st_kobj *co = mk_elem(c, l->sub, subf, rsubf, cel, e);
                if (!co)
                    return NULL;
                push(sub, co);
            }
        }
    }
    return o;
}

/* Response array answering level l in a response struct, NULL when the version has none. */
static struct st_kval *
rs_arr(struct ctx *c, struct st_kobj *parent, const struct lvl *l, const struct st_kfield **f)
{
    struct st_kval *arr = get(parent, l->rs, c->ver);
    *f = field_of(parent, l->rs);
    if (!arr || !*f || !(*f)->is_array || (*f)->type != ST_KT_STRUCT)
        return NULL;
    return arr;
}

/* Nothing forwarded: one response element per request element of a top-level level. */
struct fill {
    struct st_kobj *rs_parent; /* response struct holding l->rs */
    int16_t inh;               /* enclosing error */
};

static int
fill_cb(struct ctx *c, const struct lvl *l, const struct st_kfield *f, const void *el, void *arg)
{
    struct fill *fl = arg;
    const struct st_kfield *rsf;
    struct st_kval *arr = rs_arr(c, fl->rs_parent, l, &rsf);
    struct st_kobj *o = mk_elem(c, l, rsf, f, el, fl->inh);
    if (!o)
        return -1;
    push(arr, o);
    return 0;
}

/* True when a descendant of element `el` (of level l) is denied. */
static bool any_denied(struct ctx *c, const struct lvl *l, const struct st_kobj *el);

static int
any_cb(struct ctx *c, const struct lvl *l, const struct st_kfield *f, const void *el, void *arg)
{
    bool *hit = arg;
    if (!*hit && (own_err(c, el) || (l->sub && f->type == ST_KT_STRUCT && any_denied(c, l, el))))
        *hit = true;
    return 0;
}

static bool
any_denied(struct ctx *c, const struct lvl *l, const struct st_kobj *el)
{
    bool hit = false;
    if (l->sub && l->sub->resource)
        (void)each_elem(c, l->sub, el, any_cb, &hit);
    return hit;
}

/* Key bytes of an element (first key pair) for matching a broker entry to a request element. */
static int
key_cmp(const struct st_kval *a, const struct st_kval *b)
{
    if (a->is_null != b->is_null)
        return a->is_null ? -1 : 1;
    if (a->i != b->i)
        return a->i < b->i ? -1 : 1;
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    return a->n ? memcmp(a->p, b->p, a->n) : 0;
}

/* A broker entry and its key, for finding the entry of an allowed parent. */
struct keyed {
    const struct st_kval *key; /* key value (a static null when the entry has none) */
    struct st_kobj *o;         /* the entry */
};

static int
keyed_cmp(const void *a, const void *b)
{
    const struct keyed *x = a, *y = b;
    return key_cmp(x->key, y->key);
}

/* Partial denial: adds the denied elements of level l (under rq_parent) to rs_parent. */
struct merge {
    struct st_kobj *rs_parent;   /* response struct holding l->rs */
    struct st_kval *arr;         /* that array (room made) */
    const struct st_kfield *rsf; /* its field */
    struct keyed *idx;           /* broker entries sorted by key, when parents are matched */
    size_t nidx;                 /* entries in idx */
};

static int merge_level(struct ctx *c, const struct lvl *l, const struct st_kobj *rq_parent,
                       struct st_kobj *rs_parent);

static int
need_cb(struct ctx *c, const struct lvl *l, const struct st_kfield *f, const void *el, void *arg)
{
    if (own_err(c, el) || (f->type == ST_KT_STRUCT && any_denied(c, l, el)))
        (*(size_t *)arg)++;
    return 0;
}

static int
merge_cb(struct ctx *c, const struct lvl *l, const struct st_kfield *f, const void *el, void *arg)
{
    struct merge *mg = arg;
    int16_t e = own_err(c, el);
    if (e) {
        struct st_kobj *o = mk_elem(c, l, mg->rsf, f, el, e);
        if (!o)
            return -1;
        push(mg->arr, o);
        return 0;
    }
    if (f->type != ST_KT_STRUCT || !any_denied(c, l, el))
        return 0;
    /* An allowed parent with denied children: add them to the broker's entry for it. */
    const struct st_kval *k = get(el, l->keys[0].rq, c->ver);
    struct st_kobj *po = NULL;
    size_t lo = 0, hi = mg->nidx;
    while (k && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = key_cmp(mg->idx[mid].key, k);
        if (cmp == 0) {
            po = mg->idx[mid].o;
            break;
        }
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!po) {
        /* The broker did not answer the parent: an entry of our own without error. */
        const struct lvl shell = {NULL, l->rq, l->rs, {l->keys[0], l->keys[1]}, NULL, 0, NULL};
        struct st_kobj *o = mk_elem(c, &shell, mg->rsf, f, el, 0);
        if (!o)
            return -1;
        push(mg->arr, o);
        po = &mg->arr->objs[mg->arr->count - 1];
    }
    return merge_level(c, l->sub, el, po);
}

static int
merge_level(struct ctx *c, const struct lvl *l, const struct st_kobj *rq_parent,
            struct st_kobj *rs_parent)
{
    size_t need = 0;
    if (each_elem(c, l, rq_parent, need_cb, &need) < 0)
        return -1;
    if (need == 0)
        return 0;
    struct merge mg = {rs_parent, NULL, NULL, NULL, 0};
    mg.arr = rs_arr(c, rs_parent, l, &mg.rsf);
    if (!mg.arr)
        return fail(c, "the response has no entries for a denied element");
    if (mg.arr->is_null)
        mg.arr->count = 0;
    size_t n0 = mg.arr->count;
    if (grow(c, mg.arr, need) < 0)
        return -1;
    if (l->sub && l->sub->resource && l->keys[0].rq && l->keys[0].rq[0] && n0) {
        static const struct st_kval none = {.is_null = 1};
        mg.idx = st_karena_alloc(&c->a, n0 * sizeof(*mg.idx));
        if (!mg.idx)
            return fail(c, "arena limit");
        for (size_t i = 0; i < n0; i++) {
            const struct st_kval *kv = get(&mg.arr->objs[i], l->keys[0].rs, c->ver);
            mg.idx[i] = (struct keyed){kv ? kv : &none, &mg.arr->objs[i]};
        }
        mg.nidx = n0;
        qsort(mg.idx, n0, sizeof(*mg.idx), keyed_cmp);
    }
    return each_elem(c, l, rq_parent, merge_cb, &mg);
}

/* ---- entry points ---- */

static int
run(int16_t key, int16_t ver, const uint8_t *req, size_t req_len, const struct st_kdenial *denied,
    size_t n_denied, int16_t req_error, const uint8_t *upstream, size_t upstream_len,
    struct st_buf *out, const char **err)
{
    const struct api *api = find_api(key, ver);
    if (!api) {
        *err = "denial responses not supported for this API version";
        return -1;
    }
    const struct st_kmsg *mq = st_kschema_msg(key, false), *ms = st_kschema_msg(key, true);
    if (!mq || !ms || (!req && req_len)) {
        *err = "bad arguments";
        return -1;
    }
    if (n_denied > req_len + 8) {
        *err = "more denials than request bytes";
        return -1;
    }
    static const uint8_t empty[1];
    struct ctx c;
    memset(&c, 0, sizeof(c));
    st_karena_init(&c.a, 0);
    c.ver = ver;
    c.flex = st_kschema_flexible(ms, ver);
    c.nothing = upstream == NULL;
    c.req = req ? req : empty;
    c.err = err;
    size_t start = st_buf_used(out);
    int rc = -1;
    struct st_kdoc rq;
    if (st_kdoc_decode(&c.a, mq, ver, c.req, req_len, &rq, err) < 0)
        goto done;
    for (int k = 0; k < 2 && api->lv[k]; k++)
        if (each_elem(&c, api->lv[k], &rq.root, index_cb, NULL) < 0)
            goto done;
    if (c.nents)
        qsort(c.ents, c.nents, sizeof(*c.ents), ent_cmp);
    c.marks = st_karena_alloc(&c.a, (n_denied + 1) * sizeof(*c.marks));
    if (!c.marks) {
        fail(&c, "arena limit");
        goto done;
    }
    /* Place each denial: request level, or one element of a mirrored array. */
    for (size_t i = 0; i < n_denied; i++) {
        const struct st_kres *r = &denied[i].res;
        if (r->api_key != key || r->api_version != ver) {
            fail(&c, "denial of another API key or version");
            goto done;
        }
        if (denied[i].error == 0) {
            fail(&c, "denial without an error code");
            goto done;
        }
        if (!c.dflt)
            c.dflt = denied[i].error;
        if (!r->array) {
            if (r->value_len > req_len || r->value_off > req_len - r->value_len ||
                (r->name && (r->name_len > req_len || (uintptr_t)r->name < (uintptr_t)c.req ||
                             (uintptr_t)r->name - (uintptr_t)c.req > req_len - r->name_len))) {
                fail(&c, "denial outside the request");
                goto done;
            }
            if (!req_error)
                req_error = denied[i].error;
            continue;
        }
        if (api->ignore && strcmp(r->array, api->ignore) == 0)
            continue;
        const void *hit = find_elem(&c, r, req_len);
        if (!hit) {
            /* An entry no response array answers (a subscription of ConsumerGroupHeartbeat, a
             * DescribeLogDirs topic): only a whole-request error can carry it. */
            if (!c.nothing || r->elem_len > req_len || r->elem_off > req_len - r->elem_len) {
                fail(&c, "denial does not name an entry of the request");
                goto done;
            }
            if (!req_error)
                req_error = denied[i].error;
            continue;
        }
        c.marks[c.nmarks++] = (struct mark){hit, i, denied[i].error};
    }
    if (c.nmarks)
        qsort(c.marks, c.nmarks, sizeof(*c.marks), mark_cmp);
    if (req_error)
        c.dflt = req_error;
    struct st_kdoc rs;
    if (c.nothing) {
        if (!c.dflt) {
            fail(&c, "nothing denied");
            goto done;
        }
        memset(&rs, 0, sizeof(rs));
        rs.msg = ms;
        rs.ver = ver;
        rs.flex = c.flex;
        struct st_kobj *root = dflt_obj(&c, ms->root);
        if (!root) {
            fail(&c, "arena limit");
            goto done;
        }
        rs.root = *root;
        struct st_kval *top = get(&rs.root, "ErrorCode", ver);
        if (top)
            top->i = req_error;
        if (api->root_key) {
            struct st_kval *dv = get(&rs.root, api->root_key, ver);
            const struct st_kval *sv = get(&rq.root, api->root_key, ver);
            if (dv && sv)
                dv->i = sv->i;
        }
        for (int k = 0; k < 2 && api->lv[k]; k++) {
            const struct st_kfield *rsf;
            struct st_kval *arr = rs_arr(&c, &rs.root, api->lv[k], &rsf);
            if (!arr)
                continue; /* the version has no such results */
            size_t n = 0;
            struct fill fl = {&rs.root, req_error};
            if (each_elem(&c, api->lv[k], &rq.root, count_cb, &n) < 0 || grow(&c, arr, n) < 0 ||
                each_elem(&c, api->lv[k], &rq.root, fill_cb, &fl) < 0)
                goto done;
        }
    } else {
        if (req_error) {
            fail(&c, "a request-level denial cannot be merged into a broker response");
            goto done;
        }
        if (st_kdoc_decode(&c.a, ms, ver, upstream, upstream_len, &rs, err) < 0)
            goto done;
        for (int k = 0; k < 2 && api->lv[k]; k++)
            if (merge_level(&c, api->lv[k], &rq.root, &rs.root) < 0)
                goto done;
    }
    if (st_kdoc_encode(&rs, out, err) < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0 && st_buf_used(out) > start)
        out->len = out->rpos + start;
    st_karena_free(&c.a);
    return rc;
}

int
st_kafka_deny_response(int16_t api_key, int16_t api_version, const uint8_t *req, size_t req_len,
                       const struct st_kdenial *denied, size_t n_denied, const uint8_t *upstream,
                       size_t upstream_len, struct st_buf *out, const char **err)
{
    if (!denied && n_denied) {
        *err = "bad arguments";
        return -1;
    }
    if (upstream == NULL && n_denied == 0) {
        *err = "nothing denied";
        return -1;
    }
    return run(api_key, api_version, req, req_len, denied, n_denied, 0, upstream, upstream_len, out,
               err);
}

int
st_kafka_deny_error(int16_t api_key, int16_t api_version, const uint8_t *req, size_t req_len,
                    int16_t error, struct st_buf *out, const char **err)
{
    if (error == 0) {
        *err = "no error code";
        return -1;
    }
    return run(api_key, api_version, req, req_len, NULL, 0, error, NULL, 0, out, err);
}

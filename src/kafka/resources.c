/*
 * Kafka protocol: request resource extraction (resources.h). Two allocation-free walks over the
 * body with the schema interpreter: the first gathers request facts, the second maps each entity
 * field (topicName/TopicId/groupId/transactionalId and a few marked facts) to a resource entry
 * with the ACL operation from the per-key table below (msk-iam-access.md §8.2).
 */
#include "kafka/resources.h"

#include <stdlib.h>
#include <string.h>

#include "kafka/proto.h"
#include "kafka/schema.h"

/* Operations a key needs per resource type; cluster_op is reported once after the body. */
struct keyops {
    int16_t key;        /* API key */
    uint8_t topic_op;   /* enum st_kop for topic names/ids */
    uint8_t group_op;   /* for group ids */
    uint8_t txn_op;     /* for transactional ids */
    uint8_t cluster_op; /* cluster-level operation, NONE when none */
    uint8_t flags;      /* ST_KRES_F_FILTER_RESPONSE for list APIs */
};

static const struct keyops keyops[] = {
    {0, ST_KOP_WRITE, ST_KOP_NONE, ST_KOP_WRITE, ST_KOP_NONE, 0},        /* Produce */
    {1, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},          /* Fetch */
    {2, ST_KOP_DESCRIBE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},      /* ListOffsets */
    {3, ST_KOP_DESCRIBE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},      /* Metadata */
    {8, ST_KOP_READ, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},          /* OffsetCommit */
    {9, ST_KOP_DESCRIBE, ST_KOP_DESCRIBE, ST_KOP_NONE, ST_KOP_NONE, 0},  /* OffsetFetch */
    {10, ST_KOP_NONE, ST_KOP_DESCRIBE, ST_KOP_DESCRIBE, ST_KOP_NONE, 0}, /* FindCoordinator */
    {11, ST_KOP_NONE, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},         /* JoinGroup */
    {12, ST_KOP_NONE, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},         /* Heartbeat */
    {13, ST_KOP_NONE, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},         /* LeaveGroup */
    {14, ST_KOP_NONE, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},         /* SyncGroup */
    {15, ST_KOP_NONE, ST_KOP_DESCRIBE, ST_KOP_NONE, ST_KOP_NONE, 0},     /* DescribeGroups */
    {16, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_DESCRIBE, ST_KRES_F_FILTER_RESPONSE},
    {19, ST_KOP_CREATE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},   /* CreateTopics */
    {20, ST_KOP_DELETE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},   /* DeleteTopics */
    {21, ST_KOP_DELETE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},   /* DeleteRecords */
    {22, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_WRITE, ST_KOP_NONE, 0},    /* InitProducerId */
    {23, ST_KOP_DESCRIBE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0}, /* OffsetForLeaderEpoch */
    {24, ST_KOP_WRITE, ST_KOP_NONE, ST_KOP_WRITE, ST_KOP_NONE, 0},   /* AddPartitionsToTxn */
    {25, ST_KOP_NONE, ST_KOP_READ, ST_KOP_WRITE, ST_KOP_NONE, 0},    /* AddOffsetsToTxn */
    {26, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_WRITE, ST_KOP_NONE, 0},    /* EndTxn */
    {27, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0},    /* WriteTxnMarkers */
    {28, ST_KOP_READ, ST_KOP_READ, ST_KOP_WRITE, ST_KOP_NONE, 0},    /* TxnOffsetCommit */
    {29, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_DESCRIBE, 0}, /* DescribeAcls */
    {30, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0},    /* CreateAcls */
    {31, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0},    /* DeleteAcls */
    {32, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},     /* DescribeConfigs */
    {33, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},     /* AlterConfigs */
    {34, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0},    /* AlterReplicaLogDirs */
    {35, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_DESCRIBE, 0}, /* DescribeLogDirs */
    {37, ST_KOP_ALTER, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},    /* CreatePartitions */
    {42, ST_KOP_NONE, ST_KOP_DELETE, ST_KOP_NONE, ST_KOP_NONE, 0},   /* DeleteGroups */
    {43, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0},    /* ElectLeaders */
    {44, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},     /* IncrementalAlterConfigs */
    {45, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0}, /* AlterPartitionReassignments */
    {46, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_DESCRIBE,
     0},                                                           /* ListPartitionReassignments */
    {47, ST_KOP_READ, ST_KOP_DELETE, ST_KOP_NONE, ST_KOP_NONE, 0}, /* OffsetDelete */
    {48, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_DESCRIBE_CONFIGS,
     0},                                                                  /* DescribeClientQuotas */
    {49, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER_CONFIGS, 0}, /* AlterClientQuotas */
    {50, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_DESCRIBE,
     0},                                                          /* DescribeUserScramCredentials */
    {51, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0}, /* AlterUserScramCredentials */
    {57, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0}, /* UpdateFeatures */
    {60, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_DESCRIBE, 0}, /* DescribeCluster */
    {61, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},     /* DescribeProducers */
    {64, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_ALTER, 0},    /* UnregisterBroker */
    {65, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_DESCRIBE, ST_KOP_NONE, 0}, /* DescribeTransactions */
    {66, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KRES_F_FILTER_RESPONSE},
    {68, ST_KOP_NONE, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},     /* ConsumerGroupHeartbeat */
    {69, ST_KOP_NONE, ST_KOP_DESCRIBE, ST_KOP_NONE, ST_KOP_NONE, 0}, /* ConsumerGroupDescribe */
    {75, ST_KOP_DESCRIBE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0}, /* DescribeTopicPartitions */
    {76, ST_KOP_NONE, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},     /* ShareGroupHeartbeat */
    {77, ST_KOP_NONE, ST_KOP_DESCRIBE, ST_KOP_NONE, ST_KOP_NONE, 0}, /* ShareGroupDescribe */
    {78, ST_KOP_READ, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},     /* ShareFetch */
    {79, ST_KOP_READ, ST_KOP_READ, ST_KOP_NONE, ST_KOP_NONE, 0},     /* ShareAcknowledge */
    /* SaslHandshake, ApiVersions, SaslAuthenticate, telemetry: no resources. */
    {17, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},
    {18, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},
    {36, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},
    {71, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},
    {72, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, ST_KOP_NONE, 0},
};

static const struct keyops *
find_keyops(int16_t key)
{
    for (size_t i = 0; i < sizeof(keyops) / sizeof(keyops[0]); i++)
        if (keyops[i].key == key)
            return &keyops[i];
    return NULL;
}

const char *
st_kres_type_name(enum st_kres_type t)
{
    static const char *const n[] = {"TOPIC",   "GROUP",  "TRANSACTIONAL_ID",
                                    "CLUSTER", "CONFIG", "COORDINATOR_KEY"};
    return (unsigned)t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}

const char *
st_kop_name(enum st_kop op)
{
    static const char *const n[] = {"NONE",          "READ",
                                    "WRITE",         "CREATE",
                                    "DELETE",        "ALTER",
                                    "DESCRIBE",      "DESCRIBE_CONFIGS",
                                    "ALTER_CONFIGS", "IDEMPOTENT_WRITE"};
    return (unsigned)op < sizeof(n) / sizeof(n[0]) ? n[op] : "?";
}

/* True when a records payload holds a v2 batch with a producer id (idempotent/transactional). */
static bool
records_idempotent(const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (n - off >= 61) { /* v2 batch header */
        int32_t blen = st_rd_i32(p + off + 8);
        int8_t magic = (int8_t)p[off + 16];
        if (blen < 49 || magic != 2)
            return false;
        if (st_rd_i64(p + off + 43) >= 0)
            return true;
        if ((size_t)blen + 12 > n - off)
            return false;
        off += (size_t)blen + 12;
    }
    return false;
}

static bool
field_is(const struct st_kvisit *v, const char *name)
{
    return strcmp(v->field->name, name) == 0;
}

/* ---- pass 1: facts ---- */

static int
facts_visit(void *arg, const struct st_kvisit *v)
{
    struct st_kreq_facts *f = arg;
    switch (v->field->entity) {
    case ST_KENT_TXN_ID:
        if (v->depth == 0 && !v->is_null && !v->is_array) {
            f->flags |= ST_KRES_F_TRANSACTIONAL;
            f->txn_id = v->p;
            f->txn_id_len = v->n;
        }
        break;
    case ST_KENT_RECORDS:
        if (!v->is_null && records_idempotent(v->p, v->n))
            f->flags |= ST_KRES_F_IDEMPOTENT;
        break;
    case ST_KENT_FACT:
        if (v->depth != 0)
            break;
        if (field_is(v, "Acks"))
            f->acks = (int16_t)v->i;
        else if (field_is(v, "AllowAutoTopicCreation") && v->i)
            f->flags |= ST_KRES_F_AUTO_CREATE;
        else if (field_is(v, "KeyType"))
            f->key_type = (int8_t)v->i;
        else if (field_is(v, "EndpointType"))
            f->endpoint_type = (int8_t)v->i;
        else if (field_is(v, "Topics") && v->is_array) {
            f->topic_count = v->is_null ? 0 : (uint32_t)v->i;
            if (v->is_null)
                f->flags |= ST_KRES_F_ALL_TOPICS | ST_KRES_F_FILTER_RESPONSE;
        }
        break;
    default:
        break;
    }
    return 0;
}

int
st_kafka_request_facts(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                       struct st_kreq_facts *facts, const char **err)
{
    memset(facts, 0, sizeof(*facts));
    facts->key_type = -1;
    facts->endpoint_type = -1;
    const struct st_kmsg *m = st_kschema_msg(api_key, false);
    if (!m || !find_keyops(api_key)) {
        *err = "no resource extraction for this API key";
        return -1;
    }
    if (api_key == ST_KAFKA_FIND_COORDINATOR)
        facts->key_type = 0; /* v0 has no KeyType: group */
    if (api_key == ST_KAFKA_DESCRIBE_CLUSTER)
        facts->endpoint_type = 1;
    size_t used;
    if (st_kschema_walk(m, api_version, body, len, facts_visit, facts, &used, err) < 0)
        return -1;
    if (api_key == ST_KAFKA_METADATA) {
        /* v0: an empty array means all topics (v1+: null, seen by the walk). */
        if (api_version == 0 && facts->topic_count == 0)
            facts->flags |= ST_KRES_F_ALL_TOPICS | ST_KRES_F_FILTER_RESPONSE;
        if (api_version < 4)
            facts->flags |= ST_KRES_F_AUTO_CREATE; /* implied before AllowAutoTopicCreation */
    }
    return 0;
}

/* ---- pass 2: resources ---- */

struct rctx {
    const struct keyops *ko;       /* per-key operations */
    const struct st_kreq_facts *f; /* facts */
    int16_t key, ver;              /* request */
    int8_t resource_type;          /* last config ResourceType seen */
    st_kres_fn fn;                 /* caller visitor */
    void *arg;                     /* caller argument */
};

static void
fill_common(struct rctx *c, const struct st_kvisit *v, struct st_kres *r)
{
    memset(r, 0, sizeof(*r));
    r->api_key = c->key;
    r->api_version = c->ver;
    r->flags = c->f->flags | c->ko->flags;
    r->key_type = -1;
    r->resource_type = -1;
    if (v) {
        r->field = v->field->name;
        r->depth = v->depth;
        r->value_off = v->off;
        r->value_len = v->len;
        if (v->elem) {
            r->array = v->elem->array->name;
            r->index = v->elem->index;
            r->elem_off = v->elem->off;
            r->elem_len = v->elem->len;
            r->array_off = v->elem->array_off;
        }
    }
}

static int
emit_coordinator_key(struct rctx *c, const struct st_kvisit *v)
{
    struct st_kres r;
    fill_common(c, v, &r);
    r.key_type = c->f->key_type;
    r.name = v->p;
    r.name_len = v->n;
    if (c->f->key_type == 0) {
        r.type = ST_KRES_GROUP;
        r.op = c->ko->group_op;
    } else if (c->f->key_type == 1) {
        r.type = ST_KRES_TXN_ID;
        r.op = c->ko->txn_op;
    } else {
        r.type = ST_KRES_COORDINATOR_KEY;
        r.op = ST_KOP_DESCRIBE;
    }
    return c->fn(c->arg, &r);
}

static int
emit_config(struct rctx *c, const struct st_kvisit *v)
{
    struct st_kres r;
    fill_common(c, v, &r);
    bool alter = c->key != 32;
    r.resource_type = c->resource_type;
    r.op = alter ? ST_KOP_ALTER_CONFIGS : ST_KOP_DESCRIBE_CONFIGS;
    r.name = v->p;
    r.name_len = v->n;
    if (c->resource_type == 2)
        r.type = ST_KRES_TOPIC;
    else if (c->resource_type == 4 || c->resource_type == 8)
        r.type = ST_KRES_CLUSTER;
    else
        r.type = ST_KRES_CONFIG;
    return c->fn(c->arg, &r);
}

static int
res_visit(void *arg, const struct st_kvisit *v)
{
    struct rctx *c = arg;
    struct st_kres r;
    if (v->is_array && v->field->type != ST_KT_STRUCT)
        return 0; /* primitive arrays: their elements are visited next */
    if (v->is_array)
        return 0;
    switch (v->field->entity) {
    case ST_KENT_TOPIC_NAME:
    case ST_KENT_GROUP_ID:
    case ST_KENT_TXN_ID:
        if (v->is_null)
            return 0;
        fill_common(c, v, &r);
        r.name = v->p;
        r.name_len = v->n;
        if (v->field->entity == ST_KENT_TOPIC_NAME) {
            r.type = ST_KRES_TOPIC;
            r.op = c->ko->topic_op;
        } else if (v->field->entity == ST_KENT_GROUP_ID) {
            r.type = ST_KRES_GROUP;
            r.op = c->ko->group_op;
        } else {
            r.type = ST_KRES_TXN_ID;
            r.op = c->ko->txn_op;
        }
        return c->fn(c->arg, &r);
    case ST_KENT_TOPIC_ID: {
        static const uint8_t zero[16];
        if (v->n != 16 || memcmp(v->p, zero, 16) == 0)
            return 0;
        fill_common(c, v, &r);
        r.type = ST_KRES_TOPIC;
        r.op = c->ko->topic_op;
        r.topic_id = v->p;
        return c->fn(c->arg, &r);
    }
    case ST_KENT_FACT:
        if (field_is(v, "ResourceType")) {
            c->resource_type = (int8_t)v->i;
            return 0;
        }
        if (field_is(v, "ResourceName"))
            return emit_config(c, v);
        if ((field_is(v, "Key") || field_is(v, "CoordinatorKeys")) && !v->is_null)
            return emit_coordinator_key(c, v);
        return 0;
    default:
        return 0;
    }
}

int
st_kafka_request_resources(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                           const struct st_kreq_facts *facts, st_kres_fn fn, void *arg,
                           const char **err)
{
    struct st_kreq_facts local;
    if (!facts) {
        if (st_kafka_request_facts(api_key, api_version, body, len, &local, err) < 0)
            return -1;
        facts = &local;
    }
    const struct st_kmsg *m = st_kschema_msg(api_key, false);
    const struct keyops *ko = find_keyops(api_key);
    if (!m || !ko) {
        *err = "no resource extraction for this API key";
        return -1;
    }
    struct rctx c = {ko, facts, api_key, api_version, -1, fn, arg};
    size_t used;
    if (st_kschema_walk(m, api_version, body, len, res_visit, &c, &used, err) < 0)
        return -1;
    struct st_kres r;
    /* Metadata for all topics: one entry without a name; the response is filtered. */
    if (api_key == ST_KAFKA_METADATA && (facts->flags & ST_KRES_F_ALL_TOPICS)) {
        fill_common(&c, NULL, &r);
        r.type = ST_KRES_TOPIC;
        r.op = ST_KOP_DESCRIBE;
        if (fn(arg, &r) < 0)
            goto stopped;
    }
    /* ListTransactions: transactional ids filtered from the response. */
    if (api_key == 66) {
        fill_common(&c, NULL, &r);
        r.type = ST_KRES_TXN_ID;
        r.op = ST_KOP_DESCRIBE;
        if (fn(arg, &r) < 0)
            goto stopped;
    }
    /* Idempotent producers without a transaction: IdempotentWrite on the cluster. */
    if ((api_key == ST_KAFKA_PRODUCE && (facts->flags & ST_KRES_F_IDEMPOTENT) &&
         !(facts->flags & ST_KRES_F_TRANSACTIONAL)) ||
        (api_key == 22 && !(facts->flags & ST_KRES_F_TRANSACTIONAL))) {
        fill_common(&c, NULL, &r);
        r.type = ST_KRES_CLUSTER;
        r.op = ST_KOP_IDEMPOTENT_WRITE;
        if (fn(arg, &r) < 0)
            goto stopped;
    }
    if (ko->cluster_op != ST_KOP_NONE) {
        fill_common(&c, NULL, &r);
        r.type = ST_KRES_CLUSTER;
        r.op = ko->cluster_op;
        if (fn(arg, &r) < 0)
            goto stopped;
    }
    return 0;
stopped:
    *err = "stopped by visitor";
    return -1;
}

/* ---- partial denial ---- */

/* One edit of the body: bytes [off, off + len) replaced by `rep` (rep_len bytes, may be 0). */
struct edit {
    size_t off;       /* start in the body */
    size_t len;       /* bytes replaced */
    uint8_t rep[5];   /* replacement (an array count) */
    size_t rep_len;   /* bytes in rep */
    size_t array_off; /* array of a dropped element; for counting */
};

static int
edit_cmp(const void *a, const void *b)
{
    const struct edit *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int
strip_message(const struct st_kmsg *m, int16_t api_version, const uint8_t *body, size_t len,
              const struct st_kres *drop, size_t ndrop, struct st_buf *out, const char **err)
{
    if (!st_kschema_valid(m, api_version)) {
        *err = "unsupported message version";
        return -1;
    }
    bool flex = st_kschema_flexible(m, api_version);
    if (ndrop == 0 || ndrop > len) {
        *err = ndrop ? "more drops than bytes" : "nothing to drop";
        return -1;
    }
    /* Up to one edit per drop plus one per distinct array. */
    struct edit *ed = calloc(2 * ndrop, sizeof(*ed));
    if (!ed) {
        *err = "out of memory";
        return -1;
    }
    size_t ne = 0, start = st_buf_used(out); /* relative to rpos: appends may compact */
    int rc = -1;
    for (size_t i = 0; i < ndrop; i++) {
        const struct st_kres *r = &drop[i];
        if (!r->array || r->elem_len == 0 || r->elem_off > len || r->elem_len > len - r->elem_off ||
            r->array_off >= r->elem_off) {
            *err = "drop entry without a valid array element";
            goto done;
        }
        bool dup = false;
        for (size_t k = 0; k < ne && !dup; k++)
            dup = ed[k].off == r->elem_off && ed[k].len == r->elem_len;
        if (!dup)
            ed[ne++] = (struct edit){r->elem_off, r->elem_len, {0}, 0, r->array_off};
    }
    /* Count prefixes: one edit per distinct array. */
    size_t nelem = ne;
    for (size_t i = 0; i < nelem; i++) {
        bool seen = false;
        for (size_t k = nelem; k < ne && !seen; k++)
            seen = ed[k].off == ed[i].array_off;
        if (seen)
            continue;
        size_t dropped = 0;
        for (size_t k = 0; k < nelem; k++)
            dropped += ed[k].array_off == ed[i].array_off;
        struct st_krd rd = {body, len, ed[i].array_off};
        uint64_t count;
        if (flex) {
            uint32_t v;
            if (st_krd_uvarint(&rd, &v) < 0 || v == 0) {
                *err = "bad array count at the drop's array offset";
                goto done;
            }
            count = v - 1;
        } else {
            if (len - rd.pos < 4 || st_rd_i32(body + rd.pos) < 0) {
                *err = "bad array count at the drop's array offset";
                goto done;
            }
            count = (uint32_t)st_rd_i32(body + rd.pos);
            rd.pos += 4;
        }
        if (dropped > count) {
            *err = "more drops than array elements";
            goto done;
        }
        struct edit *e = &ed[ne++];
        e->off = ed[i].array_off;
        e->len = rd.pos - ed[i].array_off;
        uint64_t n = count - dropped;
        if (flex) {
            uint64_t v = n + 1;
            e->rep_len = 0;
            do {
                e->rep[e->rep_len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
                v >>= 7;
            } while (v);
        } else {
            st_wr_i32(e->rep, (int32_t)n);
            e->rep_len = 4;
        }
    }
    qsort(ed, ne, sizeof(*ed), edit_cmp);
    size_t pos = 0;
    for (size_t i = 0; i < ne; i++) {
        if (ed[i].off < pos) {
            if (ed[i].off + ed[i].len <= pos)
                continue; /* inside an element already dropped */
            *err = "overlapping drop entries";
            goto done;
        }
        if (st_buf_append(out, body + pos, ed[i].off - pos) < 0 ||
            (ed[i].rep_len && st_buf_append(out, ed[i].rep, ed[i].rep_len) < 0)) {
            *err = "output buffer limit";
            goto done;
        }
        pos = ed[i].off + ed[i].len;
    }
    if (pos < len && st_buf_append(out, body + pos, len - pos) < 0) {
        *err = "output buffer limit";
        goto done;
    }
    size_t used;
    static const uint8_t empty[1];
    const uint8_t *res = st_buf_used(out) > start ? st_buf_head(out) + start : empty;
    if (st_kschema_skip(m, api_version, res, st_buf_used(out) - start, &used, err) < 0)
        goto done;
    rc = 0;
done:
    if (rc < 0)
        out->len = out->rpos + start;
    free(ed);
    return rc;
}

int
st_kafka_request_strip(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                       const struct st_kres *drop, size_t ndrop, struct st_buf *out,
                       const char **err)
{
    return strip_message(st_kschema_msg(api_key, false), api_version, body, len, drop, ndrop, out,
                         err);
}

int
st_kafka_response_strip(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                        const struct st_kres *drop, size_t ndrop, struct st_buf *out,
                        const char **err)
{
    return strip_message(st_kschema_msg(api_key, true), api_version, body, len, drop, ndrop, out,
                         err);
}

/* ---- response entities ---- */

struct ectx {
    int16_t key, ver; /* response */
    st_kres_fn fn;    /* caller visitor */
    void *arg;        /* caller argument */
};

static int
ent_visit(void *arg, const struct st_kvisit *v)
{
    struct ectx *c = arg;
    if (v->is_array || v->is_null)
        return 0;
    struct st_kres r;
    memset(&r, 0, sizeof(r));
    switch (v->field->entity) {
    case ST_KENT_TOPIC_NAME:
        r.type = ST_KRES_TOPIC;
        r.name = v->p;
        r.name_len = v->n;
        break;
    case ST_KENT_GROUP_ID:
        r.type = ST_KRES_GROUP;
        r.name = v->p;
        r.name_len = v->n;
        break;
    case ST_KENT_TXN_ID:
        r.type = ST_KRES_TXN_ID;
        r.name = v->p;
        r.name_len = v->n;
        break;
    case ST_KENT_TOPIC_ID: {
        static const uint8_t zero[16];
        if (v->n != 16 || memcmp(v->p, zero, 16) == 0)
            return 0;
        r.type = ST_KRES_TOPIC;
        r.topic_id = v->p;
        break;
    }
    default:
        return 0;
    }
    r.api_key = c->key;
    r.api_version = c->ver;
    r.op = ST_KOP_NONE;
    r.key_type = -1;
    r.resource_type = -1;
    r.field = v->field->name;
    r.depth = v->depth;
    r.value_off = v->off;
    r.value_len = v->len;
    if (v->elem) {
        r.array = v->elem->array->name;
        r.index = v->elem->index;
        r.elem_off = v->elem->off;
        r.elem_len = v->elem->len;
        r.array_off = v->elem->array_off;
    }
    return c->fn(c->arg, &r);
}

int
st_kafka_response_entities(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                           st_kres_fn fn, void *arg, const char **err)
{
    const struct st_kmsg *m = st_kschema_msg(api_key, true);
    if (!m) {
        *err = "unknown API key";
        return -1;
    }
    struct ectx c = {api_key, api_version, fn, arg};
    size_t used;
    return st_kschema_walk(m, api_version, body, len, ent_visit, &c, &used, err);
}

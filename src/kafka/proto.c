/*
 * Kafka protocol: the gateway-facing functions of proto.h and frame.h: header parsing, the
 * supported (key, version) table, acks peeking, broker-address rewriting of responses and the
 * ApiVersions filter, plus the two frames strait builds itself.
 *
 * Rewrites decode into a DOM (schema.h) and re-encode; the Produce/Fetch NodeEndpoints path walks
 * to the trailing tagged fields without allocating and returns UNCHANGED when tag 0 is absent.
 */
#include "kafka/proto.h"

#include <string.h>

#include "kafka/frame.h"
#include "kafka/schema.h"

/* ---- names and the supported table ---- */

const char *
st_kafka_api_name(int16_t api_key)
{
    if (api_key < 0 || api_key > ST_KSCHEMA_MAX_KEY)
        return NULL;
    return st_kschema_api_names[api_key];
}

/*
 * Client-facing keys strait can parse, rewrite and authorize (msk-iam-access.md §8.2), indexed by
 * key: 0 = not supported, ALL = every version both schemas define, CAP(n) = at most version n.
 * Never listed: inter-broker/controller keys, DescribeQuorum (controller endpoints), the
 * delegation-token keys, ListClientMetricsResources (no MSK action).
 */
#define ALL INT16_MAX
#define CAP(n) ((n) + 1)
static const int16_t supported_cap[ST_KSCHEMA_MAX_KEY + 1] = {
    [0] = ALL,     /* Produce */
    [1] = CAP(17), /* Fetch: v18 layout only inferred (tagged additions); not advertised */
    [2] = ALL,     /* ListOffsets */
    [3] = ALL,     /* Metadata */
    [8] = ALL,     /* OffsetCommit */
    [9] = ALL,     /* OffsetFetch */
    [10] = ALL,    /* FindCoordinator */
    [11] = ALL,    /* JoinGroup */
    [12] = ALL,    /* Heartbeat */
    [13] = ALL,    /* LeaveGroup */
    [14] = ALL,    /* SyncGroup */
    [15] = ALL,    /* DescribeGroups */
    [16] = ALL,    /* ListGroups */
    [17] = ALL,    /* SaslHandshake */
    [18] = ALL,    /* ApiVersions */
    [19] = ALL,    /* CreateTopics */
    [20] = ALL,    /* DeleteTopics */
    [21] = ALL,    /* DeleteRecords */
    [22] = ALL,    /* InitProducerId */
    [23] = ALL,    /* OffsetForLeaderEpoch */
    [24] = CAP(3), /* AddPartitionsToTxn: v4+ is broker-to-broker only */
    [25] = ALL,    /* AddOffsetsToTxn */
    [26] = ALL,    /* EndTxn */
    [27] = ALL,    /* WriteTxnMarkers (Admin abortTransaction) */
    [28] = ALL,    /* TxnOffsetCommit */
    [29] = ALL,    /* DescribeAcls */
    [30] = ALL,    /* CreateAcls */
    [31] = ALL,    /* DeleteAcls */
    [32] = ALL,    /* DescribeConfigs */
    [33] = ALL,    /* AlterConfigs */
    [34] = ALL,    /* AlterReplicaLogDirs */
    [35] = ALL,    /* DescribeLogDirs */
    [36] = ALL,    /* SaslAuthenticate */
    [37] = ALL,    /* CreatePartitions */
    [42] = ALL,    /* DeleteGroups */
    [43] = ALL,    /* ElectLeaders */
    [44] = ALL,    /* IncrementalAlterConfigs */
    [45] = ALL,    /* AlterPartitionReassignments */
    [46] = ALL,    /* ListPartitionReassignments */
    [47] = ALL,    /* OffsetDelete */
    [48] = ALL,    /* DescribeClientQuotas */
    [49] = ALL,    /* AlterClientQuotas */
    [50] = ALL,    /* DescribeUserScramCredentials */
    [51] = ALL,    /* AlterUserScramCredentials */
    [57] = ALL,    /* UpdateFeatures */
    [60] = ALL,    /* DescribeCluster (EndpointType=2 refused by st_kafka_describe_cluster_check) */
    [61] = ALL,    /* DescribeProducers */
    [64] = ALL,    /* UnregisterBroker */
    [65] = ALL,    /* DescribeTransactions */
    [66] = ALL,    /* ListTransactions */
    [68] = ALL,    /* ConsumerGroupHeartbeat */
    [69] = ALL,    /* ConsumerGroupDescribe */
    [71] = ALL,    /* GetTelemetrySubscriptions */
    [72] = ALL,    /* PushTelemetry */
    [75] = ALL,    /* DescribeTopicPartitions */
    [76] = ALL,    /* ShareGroupHeartbeat */
    [77] = ALL,    /* ShareGroupDescribe */
    [78] = ALL,    /* ShareFetch */
    [79] = ALL,    /* ShareAcknowledge */
};
#undef CAP

bool
st_kafka_supported_range(int16_t api_key, int16_t *min, int16_t *max)
{
    if (api_key < 0 || api_key > ST_KSCHEMA_MAX_KEY || supported_cap[api_key] == 0)
        return false;
    const struct st_kmsg *rq = st_kschema_msg(api_key, false);
    const struct st_kmsg *rs = st_kschema_msg(api_key, true);
    if (!rq || !rs)
        return false;
    int16_t lo = rq->v_min > rs->v_min ? rq->v_min : rs->v_min;
    int16_t hi = rq->v_max < rs->v_max ? rq->v_max : rs->v_max;
    if (supported_cap[api_key] != ALL && supported_cap[api_key] - 1 < hi)
        hi = (int16_t)(supported_cap[api_key] - 1);
    if (lo > hi)
        return false;
    if (min)
        *min = lo;
    if (max)
        *max = hi;
    return true;
}
#undef ALL

bool
st_kafka_request_supported(int16_t api_key, int16_t api_version)
{
    int16_t lo, hi;
    return st_kafka_supported_range(api_key, &lo, &hi) && api_version >= lo && api_version <= hi;
}

/* ---- headers ---- */

static bool
req_flexible(int16_t api_key, int16_t api_version)
{
    const struct st_kmsg *m = st_kschema_msg(api_key, false);
    return m && m->flex_min >= 0 && api_version >= m->flex_min;
}

/* Skips a tagged-field section at r. */
static int
skip_tags(struct st_krd *r, const char **err)
{
    uint32_t n;
    if (st_krd_uvarint(r, &n) < 0) {
        *err = "truncated tagged fields";
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t tag, size;
        if (st_krd_uvarint(r, &tag) < 0 || st_krd_uvarint(r, &size) < 0) {
            *err = "truncated tagged field header";
            return -1;
        }
        if (size > r->len - r->pos) {
            *err = "tagged field exceeds the frame";
            return -1;
        }
        r->pos += size;
    }
    return 0;
}

int
st_kafka_req_hdr_parse(const uint8_t *frame, size_t len, struct st_kreq_hdr *out, const char **err)
{
    if (len < ST_KAFKA_MIN_REQUEST_FRAME) {
        *err = "request frame shorter than its header";
        return -1;
    }
    out->api_key = st_rd_i16(frame);
    out->api_version = st_rd_i16(frame + 2);
    out->correlation_id = st_rd_i32(frame + 4);
    int16_t cl = st_rd_i16(frame + 8);
    size_t pos = 10;
    if (cl == -1) {
        out->client_id = NULL;
        out->client_id_len = 0;
    } else if (cl < 0) {
        *err = "negative client id length";
        return -1;
    } else {
        if ((size_t)cl > len - pos) {
            *err = "truncated client id";
            return -1;
        }
        out->client_id = frame + pos;
        out->client_id_len = cl;
        pos += (size_t)cl;
    }
    out->hdr_version = 1;
    if (req_flexible(out->api_key, out->api_version)) {
        out->hdr_version = 2;
        struct st_krd r = {frame, len, pos};
        if (skip_tags(&r, err) < 0)
            return -1;
        pos = r.pos;
    }
    out->hdr_len = pos;
    return 0;
}

int
st_kafka_resp_hdr_version(int16_t api_key, int16_t api_version)
{
    if (api_key == ST_KAFKA_API_VERSIONS)
        return 0;
    const struct st_kmsg *m = st_kschema_msg(api_key, true);
    return m && m->flex_min >= 0 && api_version >= m->flex_min ? 1 : 0;
}

int
st_kafka_resp_hdr_len(int16_t api_key, int16_t api_version, const uint8_t *frame, size_t len,
                      size_t *hdr_len, const char **err)
{
    if (len < 4) {
        *err = "response frame shorter than its header";
        return -1;
    }
    if (st_kafka_resp_hdr_version(api_key, api_version) == 0) {
        *hdr_len = 4;
        return 0;
    }
    struct st_krd r = {frame, len, 4};
    if (skip_tags(&r, err) < 0)
        return -1;
    *hdr_len = r.pos;
    return 0;
}

/* ---- frame checks ---- */

int
st_kafka_frame_check(const uint8_t prefix[4], bool authenticated,
                     const struct st_kframe_limits *lim, uint32_t *size, const char **err)
{
    if (prefix[0] == 0x16 && prefix[1] == 0x03) {
        *err = "TLS handshake received on a plaintext Kafka port";
        return -1;
    }
    if (memcmp(prefix, "GET ", 4) == 0 || memcmp(prefix, "POST", 4) == 0 ||
        memcmp(prefix, "PUT ", 4) == 0 || memcmp(prefix, "HEAD", 4) == 0) {
        *err = "HTTP request received on a Kafka port";
        return -1;
    }
    int32_t n = st_rd_i32(prefix);
    if (n < ST_KAFKA_MIN_REQUEST_FRAME) {
        *err = "frame size too small or negative";
        return -1;
    }
    uint32_t max;
    if (authenticated)
        max = lim && lim->max_postauth ? lim->max_postauth : ST_KAFKA_MAX_FRAME_POSTAUTH;
    else
        max = lim && lim->max_preauth ? lim->max_preauth : ST_KAFKA_MAX_FRAME_PREAUTH;
    if ((uint32_t)n > max) {
        *err = authenticated ? "frame exceeds the maximum frame size"
                             : "frame exceeds the maximum frame size before authentication";
        return -1;
    }
    *size = (uint32_t)n;
    return 0;
}

int
st_kafka_resp_frame_begin(struct st_buf *out, int16_t api_key, int16_t api_version,
                          int32_t correlation_id, size_t *mark)
{
    size_t start = st_buf_used(out);
    if (st_buf_append_i32(out, 0) < 0 || st_buf_append_i32(out, correlation_id) < 0 ||
        (st_kafka_resp_hdr_version(api_key, api_version) == 1 && st_buf_append_u8(out, 0) < 0)) {
        out->len = out->rpos + start;
        return -1;
    }
    *mark = start;
    return 0;
}

void
st_kafka_frame_finish(struct st_buf *out, size_t mark)
{
    st_buf_put_i32_at(out, mark, (int32_t)(st_buf_used(out) - mark - 4));
}

int
st_kafka_describe_cluster_check(int16_t api_version, const uint8_t *body, size_t len,
                                const char **err)
{
    /* IncludeClusterAuthorizedOperations bool, then EndpointType int8 (v1+). */
    if (!st_kafka_request_supported(ST_KAFKA_DESCRIBE_CLUSTER, api_version)) {
        *err = "unsupported DescribeCluster version";
        return -1;
    }
    size_t used;
    if (st_kschema_skip(st_kschema_msg(ST_KAFKA_DESCRIBE_CLUSTER, false), api_version, body, len,
                        &used, err) < 0)
        return -1;
    if (api_version >= 1 && len >= 2 && body[1] == 2) {
        *err = "DescribeCluster for controller endpoints (EndpointType=2) is not allowed";
        return -1;
    }
    return 0;
}

/* ---- acks ---- */

int
st_kafka_produce_acks(int16_t api_version, const uint8_t *body, size_t len, int16_t *acks,
                      const char **err)
{
    struct st_krd r = {body, len, 0};
    if (api_version >= 3) {
        /* TransactionalId: nullable string, compact from v9. */
        if (api_version >= 9) {
            uint32_t n;
            if (st_krd_uvarint(&r, &n) < 0) {
                *err = "truncated transactional id";
                return -1;
            }
            if (n > 0 && (size_t)(n - 1) > len - r.pos) {
                *err = "truncated transactional id";
                return -1;
            }
            r.pos += n > 0 ? n - 1 : 0;
        } else {
            if (len < 2) {
                *err = "truncated transactional id";
                return -1;
            }
            int16_t n = st_rd_i16(body);
            r.pos = 2;
            if (n < -1 || (n > 0 && (size_t)n > len - r.pos)) {
                *err = "bad transactional id length";
                return -1;
            }
            r.pos += n > 0 ? (size_t)n : 0;
        }
    }
    if (len - r.pos < 2) {
        *err = "truncated acks";
        return -1;
    }
    *acks = st_rd_i16(body + r.pos);
    return 0;
}

/* ---- response rewriting ---- */

bool
st_kafka_response_needs_rewrite(int16_t api_key, int16_t api_version)
{
    switch (api_key) {
    case ST_KAFKA_METADATA:
    case ST_KAFKA_FIND_COORDINATOR:
    case ST_KAFKA_DESCRIBE_CLUSTER:
    case ST_KAFKA_API_VERSIONS:
    case ST_KAFKA_SHARE_FETCH:
    case ST_KAFKA_SHARE_ACKNOWLEDGE:
        return true;
    case ST_KAFKA_PRODUCE:
        return api_version >= 10;
    case ST_KAFKA_FETCH:
        return api_version >= 16;
    default:
        return false;
    }
}

/* Field indexes of a broker-like struct. */
struct bfields {
    int id, host, port, rack, err; /* -1 when absent */
};

static void
broker_fields(const struct st_kstruct *st, struct bfields *bf)
{
    bf->id = st_kstruct_find(st, "NodeId");
    if (bf->id < 0)
        bf->id = st_kstruct_find(st, "BrokerId");
    bf->host = st_kstruct_find(st, "Host");
    bf->port = st_kstruct_find(st, "Port");
    bf->rack = st_kstruct_find(st, "Rack");
    bf->err = st_kstruct_find(st, "ErrorCode");
}

struct rw {
    const struct st_krewrite_ops *ops; /* caller callbacks */
    struct st_karena *arena;           /* copies of mapped hosts */
    bool changed;                      /* anything rewritten */
    const char **err;                  /* error out */
};

static void
to_broker(const struct st_kobj *o, const struct bfields *bf, struct st_kbroker *b)
{
    const struct st_kval *rack = bf->rack >= 0 ? &o->vals[bf->rack] : NULL;
    b->node_id = (int32_t)o->vals[bf->id].i;
    b->host = (const char *)o->vals[bf->host].p;
    b->host_len = o->vals[bf->host].n;
    b->port = (int32_t)o->vals[bf->port].i;
    b->rack = rack && rack->present && !rack->is_null ? (const char *)rack->p : NULL;
    b->rack_len = b->rack ? rack->n : 0;
}

/* Maps one entry; returns 1 when mapped, 0 when the node has no endpoint, -1 on error. */
static int
map_one(struct rw *w, struct st_kobj *o, const struct bfields *bf)
{
    const char *host;
    size_t host_len;
    int32_t port;
    if (w->ops->map(w->ops->arg, (int32_t)o->vals[bf->id].i, &host, &host_len, &port) < 0)
        return 0;
    uint8_t *copy = st_karena_alloc(w->arena, host_len ? host_len : 1);
    if (!copy) {
        *w->err = "rewrite arena limit";
        return -1;
    }
    if (host_len)
        memcpy(copy, host, host_len);
    struct st_kval *h = &o->vals[bf->host];
    if (h->n != host_len || memcmp(h->p, copy, host_len) != 0 || o->vals[bf->port].i != port)
        w->changed = true;
    h->p = copy;
    h->n = host_len;
    h->is_null = 0;
    o->vals[bf->port].i = port;
    return 1;
}

/* A list of brokers (Metadata, DescribeCluster, NodeEndpoints): observe all, map, drop unmapped. */
static int
rewrite_list(struct rw *w, const struct st_kfield *f, struct st_kval *arr, bool authoritative)
{
    if (!arr->present || arr->is_null || arr->count == 0)
        return 0;
    struct bfields bf;
    broker_fields(f->sub, &bf);
    if (bf.id < 0 || bf.host < 0 || bf.port < 0) {
        *w->err = "broker struct without NodeId/Host/Port";
        return -1;
    }
    for (uint32_t i = 0; i < arr->count; i++) {
        struct st_kbroker b;
        to_broker(&arr->objs[i], &bf, &b);
        if (w->ops->observe && w->ops->observe(w->ops->arg, &b, authoritative) < 0) {
            *w->err = "broker observer failed";
            return -1;
        }
    }
    uint32_t keep = 0;
    for (uint32_t i = 0; i < arr->count; i++) {
        int rc = map_one(w, &arr->objs[i], &bf);
        if (rc < 0)
            return -1;
        if (rc == 0) {
            w->changed = true;
            continue;
        }
        if (keep != i)
            arr->objs[keep] = arr->objs[i];
        keep++;
    }
    arr->count = keep;
    return 0;
}

static const uint8_t empty_host[1];

/* A single coordinator (FindCoordinator v0-3 root, or one v4+ Coordinators entry). */
static int
rewrite_coordinator(struct rw *w, struct st_kobj *o, const struct bfields *bf, bool observe_phase)
{
    struct st_kval *id = &o->vals[bf->id], *host = &o->vals[bf->host];
    if (id->i < 0 || host->is_null || host->n == 0)
        return 0;
    if (observe_phase) {
        struct st_kbroker b;
        to_broker(o, bf, &b);
        if (w->ops->observe && w->ops->observe(w->ops->arg, &b, false) < 0) {
            *w->err = "broker observer failed";
            return -1;
        }
        return 0;
    }
    int rc = map_one(w, o, bf);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    /* No endpoint for this node: never leak the upstream address; make the client retry. */
    w->changed = true;
    host->p = empty_host;
    host->n = 0;
    o->vals[bf->port].i = -1;
    id->i = -1;
    if (bf->err >= 0 && o->vals[bf->err].i == 0)
        o->vals[bf->err].i = ST_KERR_COORDINATOR_NOT_AVAILABLE;
    return 0;
}

static int
rewrite_find_coordinator(struct rw *w, struct st_kdoc *doc)
{
    struct bfields bf;
    if (doc->ver < 4) {
        broker_fields(doc->root.st, &bf);
        if (rewrite_coordinator(w, &doc->root, &bf, true) < 0)
            return -1;
        return rewrite_coordinator(w, &doc->root, &bf, false);
    }
    int ci = st_kstruct_find(doc->root.st, "Coordinators");
    if (ci < 0) {
        *w->err = "FindCoordinator schema without Coordinators";
        return -1;
    }
    struct st_kval *arr = &doc->root.vals[ci];
    broker_fields(doc->root.st->fields[ci].sub, &bf);
    for (int phase = 1; phase >= 0; phase--)
        for (uint32_t i = 0; !arr->is_null && i < arr->count; i++)
            if (rewrite_coordinator(w, &arr->objs[i], &bf, phase == 1) < 0)
                return -1;
    return 0;
}

/* Filters ApiVersions ApiKeys[] to the supported table (fail closed). */
static int
rewrite_api_versions(struct rw *w, struct st_kdoc *doc)
{
    int ki = st_kstruct_find(doc->root.st, "ApiKeys");
    if (ki < 0) {
        *w->err = "ApiVersions schema without ApiKeys";
        return -1;
    }
    struct st_kval *arr = &doc->root.vals[ki];
    if (arr->is_null)
        return 0;
    const struct st_kstruct *st = doc->root.st->fields[ki].sub;
    int fk = st_kstruct_find(st, "ApiKey"), fmin = st_kstruct_find(st, "MinVersion"),
        fmax = st_kstruct_find(st, "MaxVersion");
    if (fk < 0 || fmin < 0 || fmax < 0) {
        *w->err = "ApiVersions schema without ApiKey/MinVersion/MaxVersion";
        return -1;
    }
    uint32_t keep = 0;
    for (uint32_t i = 0; i < arr->count; i++) {
        struct st_kobj *o = &arr->objs[i];
        int16_t smin, smax;
        int64_t bmin = o->vals[fmin].i, bmax = o->vals[fmax].i;
        if (!st_kafka_supported_range((int16_t)o->vals[fk].i, &smin, &smax) || bmax < smin ||
            bmin > smax) {
            w->changed = true;
            continue;
        }
        if (bmin < smin) {
            o->vals[fmin].i = smin;
            w->changed = true;
        }
        if (bmax > smax) {
            o->vals[fmax].i = smax;
            w->changed = true;
        }
        if (keep != i)
            arr->objs[keep] = arr->objs[i];
        keep++;
    }
    arr->count = keep;
    return 0;
}

/*
 * Metadata, DescribeCluster, ShareFetch, ShareAcknowledge: the body is validated with an
 * allocation-free skip, only the top-level broker array is decoded and rewritten, and the bytes
 * around it are copied verbatim (splice, not rebuild).
 */
static enum st_krw_result
rewrite_list_splice(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                    const char *name, bool authoritative, const struct st_krewrite_ops *ops,
                    struct st_buf *out, const char **err)
{
    size_t used, off, end;
    int fi = st_kstruct_find(m->root, name);
    if (fi < 0) {
        *err = "schema without a broker list";
        return ST_KRW_ERROR;
    }
    if (st_kschema_skip(m, ver, body, len, &used, err) < 0 ||
        st_kschema_field_span(m, ver, body, len, fi, &off, &end, err) < 0)
        return ST_KRW_ERROR;
    const struct st_kfield *f = &m->root->fields[fi];
    bool flex = st_kschema_flexible(m, ver);
    struct st_karena arena;
    st_karena_init(&arena, 64 * (end - off) + 65536);
    struct rw w = {ops, &arena, false, err};
    struct st_kval v;
    struct st_krd r = {body, end, off};
    enum st_krw_result res = ST_KRW_ERROR;
    if (st_kval_decode(&arena, f, ver, flex, &r, &v, err) < 0)
        goto done;
    if (rewrite_list(&w, f, &v, authoritative) < 0)
        goto done;
    /* ControllerId (Metadata v1+, DescribeCluster) must name a broker the client can reach:
     * admin clients send controller-bound requests there. A controller that is not among the
     * listed brokers (a KRaft controller, or the mock's) becomes the first listed broker, as
     * KRaft brokers themselves answer. */
    size_t c_off = 0, c_end = 0;
    int32_t new_ctrl = 0;
    bool fix_ctrl = false;
    int ci = st_kstruct_find(m->root, "ControllerId");
    if (ci >= 0 && st_kfield_in(&m->root->fields[ci], ver) &&
        !st_kfield_tagged(&m->root->fields[ci], ver) && v.present && !v.is_null && v.count > 0 &&
        st_kschema_field_span(m, ver, body, len, ci, &c_off, &c_end, err) == 0 &&
        c_end - c_off == 4 && (c_off >= end || c_end <= off)) {
        struct bfields bf;
        broker_fields(f->sub, &bf);
        int32_t ctrl = st_rd_i32(body + c_off);
        bool listed = false;
        for (uint32_t i = 0; i < v.count && !listed; i++)
            listed = (int32_t)v.objs[i].vals[bf.id].i == ctrl;
        if (!listed && bf.id >= 0) {
            fix_ctrl = true;
            new_ctrl = (int32_t)v.objs[0].vals[bf.id].i;
        }
    }
    if (!w.changed && !fix_ctrl) {
        res = ST_KRW_UNCHANGED;
        goto done;
    }
    size_t head_at = st_buf_used(out);
    if (st_buf_append(out, body, off) < 0) {
        *err = "output buffer limit";
        goto done;
    }
    if (st_kval_encode(f, &v, ver, flex, out, err) < 0)
        goto done;
    size_t tail_at = st_buf_used(out);
    if (len > end && st_buf_append(out, body + end, len - end) < 0) {
        *err = "output buffer limit";
        goto done;
    }
    if (fix_ctrl)
        st_buf_put_i32_at(out, c_off >= end ? tail_at + (c_off - end) : head_at + c_off,
                          new_ctrl);
    res = ST_KRW_REWRITTEN;
done:
    st_karena_free(&arena);
    return res;
}

/* Produce v10+ / Fetch v16+: NodeEndpoints is top-level tag 0; everything else is copied. */
static enum st_krw_result
rewrite_node_endpoints_tag(const struct st_kmsg *m, int16_t ver, const uint8_t *body, size_t len,
                           const struct st_krewrite_ops *ops, struct st_buf *out, const char **err)
{
    size_t tags_off;
    if (st_kschema_skip_to_tags(m, ver, body, len, &tags_off, err) < 0)
        return ST_KRW_ERROR;
    struct st_krd r = {body, len, tags_off};
    uint32_t ntags;
    if (st_krd_uvarint(&r, &ntags) < 0) {
        *err = "truncated tagged fields";
        return ST_KRW_ERROR;
    }
    if (ntags == 0)
        return ST_KRW_UNCHANGED; /* fast path: no NodeEndpoints */
    int fi = st_kstruct_find(m->root, "NodeEndpoints");
    if (fi < 0 || m->root->fields[fi].tag < 0) {
        *err = "schema without NodeEndpoints";
        return ST_KRW_ERROR;
    }
    const struct st_kfield *f = &m->root->fields[fi];
    /* Locate tag 0 (and validate the section). */
    size_t first = r.pos, ne_off = 0, ne_len = 0;
    bool found = false;
    for (uint32_t t = 0; t < ntags; t++) {
        uint32_t tag, size;
        if (st_krd_uvarint(&r, &tag) < 0 || st_krd_uvarint(&r, &size) < 0) {
            *err = "truncated tagged field header";
            return ST_KRW_ERROR;
        }
        if (size > r.len - r.pos) {
            *err = "tagged field exceeds the frame";
            return ST_KRW_ERROR;
        }
        if (tag == (uint32_t)f->tag && !found) {
            found = true;
            ne_off = r.pos;
            ne_len = size;
        }
        r.pos += size;
    }
    size_t tags_end = r.pos;
    if (!found)
        return ST_KRW_UNCHANGED;

    struct st_karena arena;
    st_karena_init(&arena, 16 * ne_len + 65536);
    struct st_kval v;
    struct st_krd sub = {body, ne_off + ne_len, ne_off};
    enum st_krw_result res = ST_KRW_ERROR;
    struct rw w = {ops, &arena, false, err};
    /* The tag holds the compact array of NodeEndpoint structs. */
    if (st_kval_decode(&arena, f, ver, true, &sub, &v, err) < 0)
        goto done;
    if (sub.pos != sub.len) {
        *err = "tagged field size mismatch";
        goto done;
    }
    if (rewrite_list(&w, f, &v, false) < 0)
        goto done;
    if (!w.changed) {
        res = ST_KRW_UNCHANGED;
        goto done;
    }
    struct st_buf val = ST_BUF_INIT;
    val.max = out->max;
    if (st_kval_encode(f, &v, ver, true, &val, err) < 0) {
        st_buf_free(&val);
        goto done;
    }
    /* body[0, tags_off) + count + tags with tag 0 replaced + rest after the section. */
    if (st_buf_append(out, body, tags_off) < 0 || st_buf_append_uvarint(out, ntags) < 0) {
        *err = "output buffer limit";
        st_buf_free(&val);
        goto done;
    }
    struct st_krd t2 = {body, len, first};
    bool replaced = false;
    for (uint32_t t = 0; t < ntags; t++) {
        size_t start = t2.pos;
        uint32_t tag, size;
        if (st_krd_uvarint(&t2, &tag) < 0 || st_krd_uvarint(&t2, &size) < 0) {
            *err = "truncated tagged field header";
            st_buf_free(&val);
            goto done;
        }
        int rc;
        if (tag == (uint32_t)f->tag && !replaced) {
            replaced = true;
            rc = st_buf_append_uvarint(out, tag);
            if (rc == 0)
                rc = st_buf_append_uvarint(out, st_buf_used(&val));
            if (rc == 0)
                rc = st_buf_append(out, st_buf_head(&val), st_buf_used(&val));
        } else {
            rc = st_buf_append(out, body + start, t2.pos - start + size);
        }
        t2.pos += size;
        if (rc < 0) {
            *err = "output buffer limit";
            st_buf_free(&val);
            goto done;
        }
    }
    st_buf_free(&val);
    if (tags_end < len && st_buf_append(out, body + tags_end, len - tags_end) < 0) {
        *err = "output buffer limit";
        goto done;
    }
    res = ST_KRW_REWRITTEN;
done:
    st_karena_free(&arena);
    return res;
}

/* v0-format UNSUPPORTED_VERSION body advertising ApiVersions [0, requested - 1] only. */
static enum st_krw_result
apiversions_fallback(int16_t api_version, struct st_buf *out, const char **err)
{
    int16_t hi = api_version > 0 ? (int16_t)(api_version - 1) : 0;
    int16_t smin, smax;
    if (st_kafka_supported_range(ST_KAFKA_API_VERSIONS, &smin, &smax) && hi > smax)
        hi = smax;
    if (st_buf_append_i16(out, ST_KERR_UNSUPPORTED_VERSION) < 0 || st_buf_append_i32(out, 1) < 0 ||
        st_buf_append_i16(out, ST_KAFKA_API_VERSIONS) < 0 || st_buf_append_i16(out, 0) < 0 ||
        st_buf_append_i16(out, hi) < 0) {
        *err = "output buffer limit";
        return ST_KRW_ERROR;
    }
    return ST_KRW_REWRITTEN;
}

enum st_krw_result
st_kafka_response_rewrite(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                          const struct st_krewrite_ops *ops, struct st_buf *out, const char **err)
{
    const struct st_kmsg *m = st_kschema_msg(api_key, true);
    if (!m || !st_kafka_response_needs_rewrite(api_key, api_version)) {
        *err = "response type needs no rewrite";
        return ST_KRW_UNCHANGED;
    }
    if (api_key == ST_KAFKA_PRODUCE || api_key == ST_KAFKA_FETCH)
        return rewrite_node_endpoints_tag(m, api_version, body, len, ops, out, err);
    if (api_key == ST_KAFKA_METADATA || api_key == ST_KAFKA_DESCRIBE_CLUSTER)
        return rewrite_list_splice(m, api_version, body, len, "Brokers", true, ops, out, err);
    if (api_key == ST_KAFKA_SHARE_FETCH || api_key == ST_KAFKA_SHARE_ACKNOWLEDGE)
        return rewrite_list_splice(m, api_version, body, len, "NodeEndpoints", false, ops, out,
                                   err);

    int16_t ver = api_version;
    bool av_error = api_key == ST_KAFKA_API_VERSIONS && len >= 2 &&
                    st_rd_i16(body) == ST_KERR_UNSUPPORTED_VERSION;
    if (av_error)
        ver = 0; /* the broker answers a too-new request in the v0 format */

    struct st_karena arena;
    st_karena_init(&arena, 64 * len + 65536);
    struct st_kdoc doc;
    enum st_krw_result res = ST_KRW_ERROR;
    struct rw w = {ops, &arena, false, err};
    if (st_kdoc_decode(&arena, m, ver, body, len, &doc, err) < 0) {
        if (!av_error)
            goto done;
        /* Neither Kafka's v0 error format nor the requested version (the librdkafka mock sends
         * a hybrid): answer with a v0 error body that only lets the client retry lower. */
        st_karena_free(&arena);
        return apiversions_fallback(api_version, out, err);
    }
    int rc;
    switch (api_key) {
    case ST_KAFKA_FIND_COORDINATOR:
        rc = rewrite_find_coordinator(&w, &doc);
        break;
    case ST_KAFKA_API_VERSIONS:
        rc = rewrite_api_versions(&w, &doc);
        break;
    default:
        rc = -1;
        *err = "no rewriter for this response";
        break;
    }
    if (rc < 0)
        goto done;
    if (!w.changed) {
        res = ST_KRW_UNCHANGED;
        goto done;
    }
    if (st_kdoc_encode(&doc, out, err) < 0)
        goto done;
    res = ST_KRW_REWRITTEN;
done:
    st_karena_free(&arena);
    return res;
}

/* ---- frames strait builds ---- */

int
st_kafka_build_metadata_request(struct st_buf *out, int16_t api_version, int32_t correlation_id,
                                const char *client_id, bool no_topics)
{
    const struct st_kmsg *m = st_kschema_msg(ST_KAFKA_METADATA, false);
    if (!st_kschema_valid(m, api_version) || (api_version == 0 && no_topics))
        return -1; /* v0 has no way to ask for no topics */
    struct st_karena arena;
    st_karena_init(&arena, 65536);
    struct st_kdoc doc = {
        .msg = m, .ver = api_version, .flex = st_kschema_flexible(m, api_version)};
    doc.root.st = m->root;
    doc.root.vals = st_karena_alloc(&arena, m->root->nfields * sizeof(*doc.root.vals));
    int rc = -1;
    const char *err;
    size_t start = st_buf_used(out); /* relative to rpos: appends may compact */
    size_t cl = client_id ? strlen(client_id) : 0;
    if (!doc.root.vals || cl > INT16_MAX)
        goto done;
    int ti = st_kstruct_find(m->root, "Topics");
    if (ti < 0)
        goto done;
    /* v0: an empty array means all topics; v1+: null = all, empty = none. */
    doc.root.vals[ti].is_null = !no_topics && api_version >= 1;
    if (st_buf_append_i32(out, 0) < 0 || st_buf_append_i16(out, ST_KAFKA_METADATA) < 0 ||
        st_buf_append_i16(out, api_version) < 0 || st_buf_append_i32(out, correlation_id) < 0 ||
        st_buf_append_i16(out, client_id ? (int16_t)cl : -1) < 0 ||
        (cl && st_buf_append(out, client_id, cl) < 0) || (doc.flex && st_buf_append_u8(out, 0) < 0))
        goto done;
    if (st_kdoc_encode(&doc, out, &err) < 0)
        goto done;
    st_buf_put_i32_at(out, start, (int32_t)(st_buf_used(out) - start - 4));
    rc = 0;
done:
    if (rc < 0 && st_buf_used(out) > start)
        out->len = out->rpos + start;
    st_karena_free(&arena);
    return rc;
}

int
st_kafka_build_apiversions_error(struct st_buf *out, int32_t correlation_id, int16_t error_code)
{
    size_t start = st_buf_used(out); /* relative to rpos: appends may compact */
    int32_t n = 0;
    for (int16_t k = 0; k <= ST_KSCHEMA_MAX_KEY; k++)
        if (st_kafka_supported_range(k, NULL, NULL))
            n++;
    if (st_buf_append_i32(out, 0) < 0 || st_buf_append_i32(out, correlation_id) < 0 ||
        st_buf_append_i16(out, error_code) < 0 || st_buf_append_i32(out, n) < 0)
        goto fail;
    for (int16_t k = 0; k <= ST_KSCHEMA_MAX_KEY; k++) {
        int16_t lo, hi;
        if (!st_kafka_supported_range(k, &lo, &hi))
            continue;
        if (st_buf_append_i16(out, k) < 0 || st_buf_append_i16(out, lo) < 0 ||
            st_buf_append_i16(out, hi) < 0)
            goto fail;
    }
    st_buf_put_i32_at(out, start, (int32_t)(st_buf_used(out) - start - 4));
    return 0;
fail:
    if (st_buf_used(out) > start)
        out->len = out->rpos + start;
    return -1;
}

/*
 * Kafka request -> MSK IAM action mapping (msk.h), from the translation table of
 * msk-iam-access.md §8: Kafka ACL operation on a resource type -> kafka-cluster action.
 */
#include "authz/msk.h"

#include "kafka/proto.h"
#include "policy/arn.h"

const char *
st_authz_msk_action(enum st_kres_type type, enum st_kop op)
{
    switch (type) {
    case ST_KRES_CLUSTER:
        switch (op) {
        case ST_KOP_DESCRIBE:
            return "kafka-cluster:DescribeCluster";
        case ST_KOP_ALTER:
            return "kafka-cluster:AlterCluster";
        case ST_KOP_DESCRIBE_CONFIGS:
            return "kafka-cluster:DescribeClusterDynamicConfiguration";
        case ST_KOP_ALTER_CONFIGS:
            return "kafka-cluster:AlterClusterDynamicConfiguration";
        case ST_KOP_IDEMPOTENT_WRITE:
            return "kafka-cluster:WriteDataIdempotently";
        default:
            return NULL;
        }
    case ST_KRES_TOPIC:
        switch (op) {
        case ST_KOP_CREATE:
            return "kafka-cluster:CreateTopic";
        case ST_KOP_DESCRIBE:
            return "kafka-cluster:DescribeTopic";
        case ST_KOP_ALTER:
            return "kafka-cluster:AlterTopic";
        case ST_KOP_DELETE:
            return "kafka-cluster:DeleteTopic";
        case ST_KOP_DESCRIBE_CONFIGS:
            return "kafka-cluster:DescribeTopicDynamicConfiguration";
        case ST_KOP_ALTER_CONFIGS:
            return "kafka-cluster:AlterTopicDynamicConfiguration";
        case ST_KOP_READ:
            return "kafka-cluster:ReadData";
        case ST_KOP_WRITE:
            return "kafka-cluster:WriteData";
        default:
            return NULL;
        }
    case ST_KRES_GROUP:
        switch (op) {
        case ST_KOP_DESCRIBE:
            return "kafka-cluster:DescribeGroup";
        case ST_KOP_READ:
            return "kafka-cluster:AlterGroup";
        case ST_KOP_DELETE:
            return "kafka-cluster:DeleteGroup";
        default:
            return NULL;
        }
    case ST_KRES_TXN_ID:
        switch (op) {
        case ST_KOP_DESCRIBE:
            return "kafka-cluster:DescribeTransactionalId";
        case ST_KOP_WRITE:
            return "kafka-cluster:AlterTransactionalId";
        default:
            return NULL;
        }
    default:
        return NULL;
    }
}

long
st_authz_msk_resource(char *buf, size_t cap, const char *cluster_arn, enum st_kres_type type,
                      const unsigned char *name, size_t name_len)
{
    const char *t;
    switch (type) {
    case ST_KRES_CLUSTER: {
        size_t n = 0;
        while (cluster_arn[n])
            n++;
        if (n + 1 > cap)
            return -1;
        for (size_t i = 0; i <= n; i++)
            buf[i] = cluster_arn[i];
        return (long)n;
    }
    case ST_KRES_TOPIC:
        t = "topic";
        break;
    case ST_KRES_GROUP:
        t = "group";
        break;
    case ST_KRES_TXN_ID:
        t = "transactional-id";
        break;
    default:
        return -1;
    }
    return st_arn_msk_child(buf, cap, cluster_arn, t, (const char *)name, name_len);
}

enum st_acl_op
st_authz_acl_op(enum st_kop op)
{
    switch (op) {
    case ST_KOP_READ:
        return ST_ACL_OP_READ;
    case ST_KOP_WRITE:
        return ST_ACL_OP_WRITE;
    case ST_KOP_CREATE:
        return ST_ACL_OP_CREATE;
    case ST_KOP_DELETE:
        return ST_ACL_OP_DELETE;
    case ST_KOP_ALTER:
        return ST_ACL_OP_ALTER;
    case ST_KOP_DESCRIBE:
        return ST_ACL_OP_DESCRIBE;
    case ST_KOP_DESCRIBE_CONFIGS:
        return ST_ACL_OP_DESCRIBE_CONFIGS;
    case ST_KOP_ALTER_CONFIGS:
        return ST_ACL_OP_ALTER_CONFIGS;
    case ST_KOP_IDEMPOTENT_WRITE:
        return ST_ACL_OP_IDEMPOTENT_WRITE;
    default:
        return ST_ACL_OP_UNKNOWN;
    }
}

enum st_acl_rtype
st_authz_acl_rtype(enum st_kres_type type)
{
    switch (type) {
    case ST_KRES_TOPIC:
        return ST_ACL_RT_TOPIC;
    case ST_KRES_GROUP:
        return ST_ACL_RT_GROUP;
    case ST_KRES_TXN_ID:
        return ST_ACL_RT_TRANSACTIONAL_ID;
    case ST_KRES_CLUSTER:
        return ST_ACL_RT_CLUSTER;
    default:
        return ST_ACL_RT_UNKNOWN;
    }
}

int16_t
st_authz_error_for(enum st_kres_type type)
{
    switch (type) {
    case ST_KRES_TOPIC:
        return ST_KERR_TOPIC_AUTHORIZATION_FAILED;
    case ST_KRES_GROUP:
        return ST_KERR_GROUP_AUTHORIZATION_FAILED;
    case ST_KRES_TXN_ID:
        return ST_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
    case ST_KRES_COORDINATOR_KEY:
        return ST_KERR_GROUP_AUTHORIZATION_FAILED;
    default:
        return ST_KERR_CLUSTER_AUTHORIZATION_FAILED;
    }
}

/*
 * Constant action tables for `kafka-cluster` (msk-iam-access.md §2) and `kafka` (§7 plus the rest
 * of the MSK API in the Service Authorization Reference), and the MSK resource types (§4).
 */
#include "policy/catalog.h"

#include <string.h>
#include <strings.h>

#include "policy/glob.h"

static const struct st_policy_action_info kafka_cluster[] = {
    {"Connect", "Write", "cluster"},
    {"DescribeCluster", "List", "cluster"},
    {"AlterCluster", "Write", "cluster"},
    {"DescribeClusterDynamicConfiguration", "List", "cluster"},
    {"AlterClusterDynamicConfiguration", "Write", "cluster"},
    {"WriteDataIdempotently", "Write", "cluster"},
    {"CreateTopic", "Write", "topic"},
    {"DescribeTopic", "List", "topic"},
    {"AlterTopic", "Write", "topic"},
    {"DeleteTopic", "Write", "topic"},
    {"DescribeTopicDynamicConfiguration", "List", "topic"},
    {"AlterTopicDynamicConfiguration", "Write", "topic"},
    {"ReadData", "Read", "topic"},
    {"WriteData", "Write", "topic"},
    {"DescribeGroup", "List", "group"},
    {"AlterGroup", "Write", "group"},
    {"DeleteGroup", "Write", "group"},
    {"DescribeTransactionalId", "List", "transactional-id"},
    {"AlterTransactionalId", "Write", "transactional-id"},
};

/*
 * The `kafka:` list: the actions of msk-iam-access.md §7 plus the rest of the MSK API as listed
 * in the Service Authorization Reference when this was written. It only feeds the UNKNOWN_ACTION
 * and ACTION_RESOURCE_MISMATCH warnings, never a decision; add new MSK actions here.
 */
static const struct st_policy_action_info kafka[] = {
    {"BatchAssociateScramSecret", "Write", "cluster"},
    {"BatchDisassociateScramSecret", "Write", "cluster"},
    {"CreateCluster", "Write", ""},
    {"CreateClusterV2", "Write", ""},
    {"CreateConfiguration", "Write", ""},
    {"CreateReplicator", "Write", "replicator"},
    {"CreateVpcConnection", "Write", "cluster"},
    {"DeleteCluster", "Write", "cluster"},
    {"DeleteClusterPolicy", "Write", "cluster"},
    {"DeleteConfiguration", "Write", "configuration"},
    {"DeleteReplicator", "Write", "replicator"},
    {"DeleteVpcConnection", "Write", "vpc-connection"},
    {"DescribeCluster", "Read", "cluster"},
    {"DescribeClusterOperation", "Read", ""},
    {"DescribeClusterOperationV2", "Read", ""},
    {"DescribeClusterV2", "Read", "cluster"},
    {"DescribeConfiguration", "Read", "configuration"},
    {"DescribeConfigurationRevision", "Read", "configuration"},
    {"DescribeReplicator", "Read", "replicator"},
    {"DescribeTopic", "Read", "topic"},
    {"DescribeTopicPartitions", "Read", "topic"},
    {"DescribeVpcConnection", "Read", "vpc-connection"},
    {"GetBootstrapBrokers", "Read", ""},
    {"GetClusterPolicy", "Read", "cluster"},
    {"GetCompatibleKafkaVersions", "List", ""},
    {"ListClientVpcConnections", "List", "cluster"},
    {"ListClusterOperations", "List", "cluster"},
    {"ListClusterOperationsV2", "List", "cluster"},
    {"ListClusters", "List", ""},
    {"ListClustersV2", "List", ""},
    {"ListConfigurationRevisions", "List", "configuration"},
    {"ListConfigurations", "List", ""},
    {"ListKafkaVersions", "List", ""},
    {"ListNodes", "List", "cluster"},
    {"ListReplicators", "List", ""},
    {"ListScramSecrets", "List", "cluster"},
    {"ListTagsForResource", "Read", "cluster"},
    {"ListTopics", "List", "cluster"},
    {"ListVpcConnections", "List", ""},
    {"PutClusterPolicy", "Write", "cluster"},
    {"RebootBroker", "Write", "cluster"},
    {"RejectClientVpcConnection", "Write", "cluster"},
    {"TagResource", "Tagging", "cluster"},
    {"UntagResource", "Tagging", "cluster"},
    {"UpdateBrokerCount", "Write", "cluster"},
    {"UpdateBrokerStorage", "Write", "cluster"},
    {"UpdateBrokerType", "Write", "cluster"},
    {"UpdateClusterConfiguration", "Write", "cluster"},
    {"UpdateClusterKafkaVersion", "Write", "cluster"},
    {"UpdateConfiguration", "Write", "configuration"},
    {"UpdateConnectivity", "Write", "cluster"},
    {"UpdateMonitoring", "Write", "cluster"},
    {"UpdateRebalancing", "Write", "cluster"},
    {"UpdateReplicationInfo", "Write", "replicator"},
    {"UpdateSecurity", "Write", "cluster"},
    {"UpdateStorage", "Write", "cluster"},
};

const struct st_policy_action_info *
st_policy_catalog(const char *service, size_t len, size_t *n)
{
    if (len == 5 && strncasecmp(service, "kafka", 5) == 0) {
        *n = sizeof(kafka) / sizeof(kafka[0]);
        return kafka;
    }
    if (len == 13 && strncasecmp(service, "kafka-cluster", 13) == 0) {
        *n = sizeof(kafka_cluster) / sizeof(kafka_cluster[0]);
        return kafka_cluster;
    }
    *n = 0;
    return NULL;
}

const struct st_policy_action_info *
st_policy_catalog_find(const char *action)
{
    const char *colon = strchr(action, ':');
    if (!colon)
        return NULL;
    size_t n;
    const struct st_policy_action_info *cat =
        st_policy_catalog(action, (size_t)(colon - action), &n);
    for (size_t i = 0; cat && i < n; i++)
        if (strcasecmp(cat[i].name, colon + 1) == 0)
            return &cat[i];
    return NULL;
}

int
st_policy_catalog_count_matches(const char *service, size_t slen, const char *pat, size_t plen)
{
    size_t n;
    const struct st_policy_action_info *cat = st_policy_catalog(service, slen, &n);
    if (!cat)
        return -1;
    int count = 0;
    for (size_t i = 0; i < n; i++)
        if (st_glob_match(pat, plen, cat[i].name, strlen(cat[i].name), ST_GLOB_NOCASE))
            count++;
    return count;
}

bool
st_policy_kafka_resource_type(const char *type, size_t len)
{
    static const char *const types[] = {"cluster",          "topic",          "group",
                                        "transactional-id", "vpc-connection", "configuration",
                                        "replicator",       "channel"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strlen(types[i]) == len && memcmp(types[i], type, len) == 0)
            return true;
    return false;
}

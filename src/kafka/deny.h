/*
 * Kafka codec: responses for requests the gateway refuses in whole or in part (authorization).
 *
 * When some entries of a request are denied, the gateway strips them from the request
 * (st_kafka_request_strip()), forwards the rest and, when the broker answers, merges one
 * synthesized entry per denied resource into the response, in the position a client expects,
 * carrying the denial's error code. When nothing of a request may go upstream, the whole
 * response is synthesized here. Only the body is handled; the caller writes the header.
 *
 * Context: pure; allocates only from an internal arena freed before returning.
 */
#ifndef ST_KAFKA_DENY_H
#define ST_KAFKA_DENY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/resources.h"
#include "util/buf.h"

/* One denied request entry and the error code its response entry carries. */
struct st_kdenial {
    struct st_kres res; /* entry as reported by st_kafka_request_resources() on the ORIGINAL body */
    int16_t error;      /* Kafka error code (29, 30, 31, 53, 100, ...) */
};

/*
 * True when strait can answer or merge denials for requests of (api_key, api_version) precisely:
 * the gateway removes any other (key, version) from ApiVersions on authorizing endpoints.
 * Handled: Produce, Fetch (v0-17), ListOffsets, Metadata, OffsetCommit, OffsetFetch,
 * FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, DescribeGroups, ListGroups,
 * CreateTopics, DeleteTopics, DeleteRecords, InitProducerId, OffsetForLeaderEpoch,
 * AddPartitionsToTxn (v0-3), AddOffsetsToTxn, EndTxn, WriteTxnMarkers, TxnOffsetCommit, the ACL
 * and config APIs (29-33, 44), AlterReplicaLogDirs, DescribeLogDirs, CreatePartitions,
 * DeleteGroups, ElectLeaders, Alter/ListPartitionReassignments, OffsetDelete, the quota and SCRAM
 * APIs (48-51), UpdateFeatures, DescribeCluster, DescribeProducers, DescribeTransactions,
 * ListTransactions, ConsumerGroupHeartbeat, ConsumerGroupDescribe, DescribeTopicPartitions; every
 * version st_kafka_request_supported() accepts. Not handled: the share-group APIs (76-79),
 * UnregisterBroker (64), the keys without resources (17, 18, 36, 71, 72).
 */
bool st_kafka_deny_supported(int16_t api_key, int16_t api_version);

/*
 * Builds the response body for a request whose `denied` entries were refused.
 *
 *   upstream == NULL: nothing was forwarded; the whole response is synthesized from the original
 *     request `req`: one response entry per entry of each answered request array (topics with
 *     one partition result per requested partition, groups, keys, config resources, ACL
 *     creations, ...), each with its own denial's error.
 *     A denial without an enclosing array (depth 0: a request-level GroupId, TransactionalId,
 *     FindCoordinator v0-3 Key, the cluster) sets the response's top-level ErrorCode when the
 *     response has one, and the error of every per-entry result (the first such denial wins:
 *     TxnOffsetCommit with a denied transactional id and group answers 53 everywhere, as Kafka
 *     does). A denial of an element no response array answers (a ConsumerGroupHeartbeat
 *     subscription, a DescribeLogDirs topic) counts as request-level too.
 *     Entries of the request not in `denied` should not exist in this mode; if they do, they carry
 *     the first denial's error (never success), except an element whose nested entries are
 *     resources themselves (an OffsetFetch v8+ group whose topics are all denied): its own error
 *     stays 0 and its nested entries carry theirs.
 *   upstream != NULL: `upstream` is the broker's response (same version) to the request with the
 *     denied array elements stripped; the result is that response with one entry per denied
 *     element appended to the array answering it (Metadata: after the broker's topics; brokers,
 *     cluster id, throttle time, top-level ErrorCode, Fetch SessionId kept). The entry mirrors the
 *     original request element (per topic, with one partition result per requested partition; the
 *     partition indexes come from the original request). A denied element nested in an allowed
 *     one (an OffsetFetch v8+ topic of an allowed group) is added to the broker's entry for the
 *     parent (matched by its key; created with error 0 if the broker left it out).
 *     Request-level denials cannot be merged (the request cannot have been forwarded): -1.
 *     Denials of Fetch ForgottenTopicsData elements need no response entry and add none.
 *
 * Synthesized entries carry the request's keys (topic name and/or TopicId, partition index, group
 * id, coordinator key, ResourceType/ResourceName, LeaveGroup member ids, AlterClientQuotas
 * entities, ...), the error code, and otherwise the values Kafka uses for errors: -1 for offsets,
 * timestamps, epochs, leader/node/producer ids, ports, NumPartitions/ReplicationFactor;
 * INT32_MIN for *AuthorizedOperations; null for nullable strings (ErrorMessage) except OffsetFetch
 * Metadata (""); "" for other strings; empty arrays (null Fetch AbortedTransactions); empty
 * non-null records; false, 0 and zero uuids otherwise; no tagged fields.
 * Caller's note: Produce with Acks 0 expects no response at all.
 * Appends the body to `out` (left as it was on failure). Returns 0, or -1 with *err (unsupported
 * key/version, malformed input, or a denial that does not name an entry of `req`).
 */
int st_kafka_deny_response(int16_t api_key, int16_t api_version, const uint8_t *req, size_t req_len,
                           const struct st_kdenial *denied, size_t n_denied,
                           const uint8_t *upstream, size_t upstream_len, struct st_buf *out,
                           const char **err) __attribute__((warn_unused_result));

/*
 * A whole-request error response body: every result of the request carries `error` (top-level
 * ErrorCode where the response has one, and each per-entry ErrorCode). Used when a request-level
 * resource is denied (JoinGroup on a denied group, InitProducerId on a denied transactional id,
 * a cluster-level operation): st_kafka_deny_response() with only a request-level denial. Appends
 * the body to `out` (left as it was on failure). Returns 0, or -1 with *err (also for error 0).
 */
int st_kafka_deny_error(int16_t api_key, int16_t api_version, const uint8_t *req, size_t req_len,
                        int16_t error, struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

#endif

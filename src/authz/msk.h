/*
 * The Kafka request -> MSK IAM action mapping (msk-iam-access.md §8): which kafka-cluster:*
 * action a (resource type, Kafka ACL operation) pair of a request needs, and the ARN of the
 * resource inside the cluster it is checked on; plus the Kafka ACL operation and resource type
 * the same pair means for Kafka ACLs (SCRAM and mTLS principals).
 *
 * Context: pure, constant tables only.
 */
#ifndef ST_AUTHZ_MSK_H
#define ST_AUTHZ_MSK_H

#include <stddef.h>

#include "authz/acl.h"
#include "kafka/resources.h"

/*
 * The MSK action ("kafka-cluster:WriteData") for `op` on a resource of `type`, or NULL when MSK
 * has no action for it (a config resource other than topic/broker, a share-group coordinator
 * key, ClusterAction...): such requests are denied.
 */
const char *st_authz_msk_action(enum st_kres_type type, enum st_kop op);

/*
 * The ARN the action is checked on: the cluster ARN for cluster-level operations, else
 * topic/group/transactional-id ARNs of the cluster (st_arn_msk_child()). Writes a NUL-terminated
 * string into buf. Returns its length, or -1 when it does not fit or the cluster ARN is malformed.
 */
long st_authz_msk_resource(char *buf, size_t cap, const char *cluster_arn, enum st_kres_type type,
                           const unsigned char *name, size_t name_len);

/* Kafka ACL operation and resource type for a request entry; ST_ACL_OP_UNKNOWN / _RT_UNKNOWN
 * when the entry cannot be authorized by ACLs (denied). */
enum st_acl_op st_authz_acl_op(enum st_kop op);
enum st_acl_rtype st_authz_acl_rtype(enum st_kres_type type);

/* The Kafka error code a denial of an entry of `type` answers with (29, 30, 31, 53). */
int16_t st_authz_error_for(enum st_kres_type type);

#endif

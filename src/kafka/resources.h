/*
 * Kafka protocol: request-side resource extraction for authorization.
 *
 * For every version of every client-facing API key (msk-iam-access.md §8.2), reports the
 * resources a request touches: topic names or topic ids, group ids, transactional ids, config
 * resources and cluster-level operations, each with the Kafka ACL operation the request needs
 * and the facts authorization depends on (transactional/idempotent Produce, Metadata "all topics"
 * and auto-creation, FindCoordinator key type, config ResourceType, ...).
 *
 * The extraction walks the body with the schema interpreter and never allocates. Every entry
 * carries the byte span of its value and of the enclosing array element (plus the offset of that
 * array's count prefix), so a later partial denial can strip one topic from a request.
 */
#ifndef ST_KAFKA_RESOURCES_H
#define ST_KAFKA_RESOURCES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* What a resource entry names. */
enum st_kres_type {
    ST_KRES_TOPIC,           /* topic by name (name) or by id (topic_id) */
    ST_KRES_GROUP,           /* consumer/share group id */
    ST_KRES_TXN_ID,          /* transactional id */
    ST_KRES_CLUSTER,         /* the cluster itself (name NULL) */
    ST_KRES_CONFIG,          /* config resource of a type other than topic/broker (resource_type) */
    ST_KRES_COORDINATOR_KEY, /* FindCoordinator key of a type other than group/transaction */
};

/* Kafka ACL operation the request needs on the resource (AclOperation names). */
enum st_kop {
    ST_KOP_NONE, /* touched, but the request checks nothing on it */
    ST_KOP_READ,
    ST_KOP_WRITE,
    ST_KOP_CREATE,
    ST_KOP_DELETE,
    ST_KOP_ALTER,
    ST_KOP_DESCRIBE,
    ST_KOP_DESCRIBE_CONFIGS,
    ST_KOP_ALTER_CONFIGS,
    ST_KOP_IDEMPOTENT_WRITE,
};

/* Request-wide facts (also passed with every entry). */
#define ST_KRES_F_ALL_TOPICS 0x01    /* Metadata: all topics (null Topics; v0 empty array) */
#define ST_KRES_F_AUTO_CREATE 0x02   /* Metadata: AllowAutoTopicCreation (true, or v0-3) */
#define ST_KRES_F_TRANSACTIONAL 0x04 /* Produce/InitProducerId/...: non-null TransactionalId */
#define ST_KRES_F_IDEMPOTENT 0x08    /* Produce: a record batch carries a producer id */
#define ST_KRES_F_FILTER_RESPONSE                                                                  \
    0x10 /* ListGroups/ListTransactions/Metadata-all: authorize by                                 \
          * filtering the response entries */

struct st_kres {
    int16_t api_key;             /* request key */
    int16_t api_version;         /* request version */
    enum st_kres_type type;      /* what the entry names */
    enum st_kop op;              /* ACL operation needed */
    const uint8_t *name;         /* name bytes in the body (not NUL-terminated), NULL if none */
    size_t name_len;             /* bytes at name */
    const uint8_t *topic_id;     /* 16-byte topic uuid in the body when named by id, else NULL */
    int8_t key_type;             /* FindCoordinator KeyType (0 group, 1 txn, 2 share), else -1 */
    int8_t resource_type;        /* config ResourceType (2 topic, 4 broker, 8 logger), else -1 */
    uint32_t flags;              /* ST_KRES_F_* request facts */
    const char *field;           /* Kafka field name of the value ("Name", "GroupId", ...) */
    const char *array;           /* enclosing array field ("TopicData"; "GroupsNames" for an element
                                  * of a string array), NULL at top level */
    uint32_t index;              /* element index within `array` */
    int depth;                   /* enclosing arrays (a string-array element counts its own) */
    size_t elem_off, elem_len;   /* byte span of the enclosing element (or the string element) */
    size_t array_off;            /* offset of that array's count prefix in the body */
    size_t value_off, value_len; /* byte span of the value's encoding in the body */
};

/* Facts about a request, gathered before any entry is reported. */
struct st_kreq_facts {
    uint32_t flags;        /* ST_KRES_F_* */
    int16_t acks;          /* Produce acks, else 0 */
    int8_t key_type;       /* FindCoordinator KeyType (v0: 0), else -1 */
    int8_t endpoint_type;  /* DescribeCluster EndpointType (v0: 1), else -1 */
    const uint8_t *txn_id; /* TransactionalId bytes, NULL when null/absent */
    size_t txn_id_len;     /* bytes at txn_id */
    uint32_t topic_count;  /* Metadata: entries in Topics (0 when null) */
};

/* Visitor: return 0 to continue, -1 to stop (the extraction then fails with "stopped"). */
typedef int (*st_kres_fn)(void *arg, const struct st_kres *r);

/*
 * Gathers the facts of a request body (bytes after the request header). No allocation.
 * Returns 0, or -1 with *err for an unknown key/version or a malformed body.
 */
int st_kafka_request_facts(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                           struct st_kreq_facts *facts, const char **err)
    __attribute__((warn_unused_result));

/*
 * Reports every resource a request body touches, in wire order, followed by cluster-level
 * entries. `facts` may be NULL (computed internally) or the result of st_kafka_request_facts().
 * Null names and all-zero topic ids are not reported. No allocation.
 * Returns 0, or -1 with *err for an unknown key/version, a malformed body or a stop.
 */
int st_kafka_request_resources(int16_t api_key, int16_t api_version, const uint8_t *body,
                               size_t len, const struct st_kreq_facts *facts, st_kres_fn fn,
                               void *arg, const char **err) __attribute__((warn_unused_result));

/*
 * Partial denial: writes to `out` a copy of a request body without the array elements named by
 * `drop` (entries reported by st_kafka_request_resources() for this same body; an element listed
 * several times is dropped once; entries without an enclosing array are rejected). Each affected
 * array's count prefix is rewritten; Kafka structs carry no per-element size, so nothing else
 * changes. The result is validated against the schema (an element inside a size-prefixed tagged
 * field, for example, fails). Returns 0, or -1 with *err (out is then left as it was).
 */
int st_kafka_request_strip(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                           const struct st_kres *drop, size_t ndrop, struct st_buf *out,
                           const char **err) __attribute__((warn_unused_result));

/*
 * Response side, for authorization that filters results (Metadata for all topics, ListGroups,
 * ListTransactions, ...): reports every topic name/id, group id and transactional id of a response
 * body with the same spans as request entries (op ST_KOP_NONE). No allocation.
 * Returns 0, or -1 with *err.
 */
int st_kafka_response_entities(int16_t api_key, int16_t api_version, const uint8_t *body,
                               size_t len, st_kres_fn fn, void *arg, const char **err)
    __attribute__((warn_unused_result));

/* st_kafka_request_strip() for a response body (entries from st_kafka_response_entities()). */
int st_kafka_response_strip(int16_t api_key, int16_t api_version, const uint8_t *body, size_t len,
                            const struct st_kres *drop, size_t ndrop, struct st_buf *out,
                            const char **err) __attribute__((warn_unused_result));

/* "TOPIC", "GROUP", ... and "READ", "WRITE", ... for logs. */
const char *st_kres_type_name(enum st_kres_type t);
const char *st_kop_name(enum st_kop op);

#endif

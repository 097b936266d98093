/*
 * Kafka protocol: the gateway-facing API of the codec (src/kafka/).
 *
 * The gateway never decodes messages itself. For each frame it asks this module:
 *   - requests:  parse the header, check (key, version) against the supported table, peek `acks`
 *   - responses: does this (key, version) need inspection? If yes, st_kafka_response_rewrite()
 *                reports every broker entry (observe) and rewrites broker host/port (map), or
 *                filters the ApiVersions key list to what strait can parse (fail closed).
 *
 * A frame here is the bytes after the 4-byte size prefix. All functions are pure (no I/O, no
 * globals besides constant tables) and thread-safe. Bad input returns an error with a reason
 * string (static storage) suitable for a log line; nothing is ever read past `len`.
 */
#ifndef ST_KAFKA_PROTO_H
#define ST_KAFKA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* API keys the gateway refers to by name. */
enum {
    ST_KAFKA_PRODUCE = 0,
    ST_KAFKA_FETCH = 1,
    ST_KAFKA_METADATA = 3,
    ST_KAFKA_OFFSET_FETCH = 9,
    ST_KAFKA_FIND_COORDINATOR = 10,
    ST_KAFKA_LIST_GROUPS = 16,
    ST_KAFKA_SASL_HANDSHAKE = 17,
    ST_KAFKA_API_VERSIONS = 18,
    ST_KAFKA_INIT_PRODUCER_ID = 22,
    ST_KAFKA_DESCRIBE_ACLS = 29,
    ST_KAFKA_CREATE_ACLS = 30,
    ST_KAFKA_DELETE_ACLS = 31,
    ST_KAFKA_SASL_AUTHENTICATE = 36,
    ST_KAFKA_DESCRIBE_CLUSTER = 60,
    ST_KAFKA_LIST_TRANSACTIONS = 66,
    ST_KAFKA_SHARE_FETCH = 78,
    ST_KAFKA_SHARE_ACKNOWLEDGE = 79,
};

/* Kafka error codes strait produces itself. */
enum {
    ST_KERR_NONE = 0,
    ST_KERR_UNKNOWN_SERVER_ERROR = -1,
    ST_KERR_NETWORK_EXCEPTION = 13,
    ST_KERR_COORDINATOR_NOT_AVAILABLE = 15,
    ST_KERR_NOT_COORDINATOR = 16,
    ST_KERR_TOPIC_AUTHORIZATION_FAILED = 29,
    ST_KERR_GROUP_AUTHORIZATION_FAILED = 30,
    ST_KERR_CLUSTER_AUTHORIZATION_FAILED = 31,
    ST_KERR_UNSUPPORTED_SASL_MECHANISM = 33,
    ST_KERR_ILLEGAL_SASL_STATE = 34,
    ST_KERR_UNSUPPORTED_VERSION = 35,
    ST_KERR_INVALID_REQUEST = 42,
    ST_KERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
    ST_KERR_SASL_AUTHENTICATION_FAILED = 58,
    ST_KERR_UNKNOWN_TOPIC_ID = 100,
};

/* Parsed request header (v1 or v2; v0 has no client id and is not accepted). */
struct st_kreq_hdr {
    int16_t api_key;        /* request type */
    int16_t api_version;    /* request version */
    int32_t correlation_id; /* echoed in the response header */
    const uint8_t *client_id; /* points into the frame; NULL when null */
    int16_t client_id_len;    /* bytes at client_id */
    uint8_t hdr_version;      /* 1 or 2 */
    size_t hdr_len;           /* bytes of header, including v2 tagged fields; body starts here */
};

/*
 * Parses the request header of a frame. The header version follows from (key, version): v2 for
 * flexible versions of a key strait knows, v1 otherwise (an unknown key is parsed as v1 so the
 * caller can log it, and is refused by st_kafka_request_supported()).
 * Returns 0, or -1 with *err set when the frame is shorter than its header or malformed.
 */
int st_kafka_req_hdr_parse(const uint8_t *frame, size_t len, struct st_kreq_hdr *out,
                           const char **err);

/* Response header version (0 or 1) for a (key, version); ApiVersions is always 0 (KIP-511). */
int st_kafka_resp_hdr_version(int16_t api_key, int16_t api_version);

/*
 * Length of the response header at `frame` (4, or 4 + tagged fields for header v1).
 * Returns 0 and sets *hdr_len, or -1 with *err.
 */
int st_kafka_resp_hdr_len(int16_t api_key, int16_t api_version, const uint8_t *frame, size_t len,
                          size_t *hdr_len, const char **err);

/*
 * The supported table: true when strait can parse, rewrite and (later) authorize this
 * (key, version), i.e. when it may appear in the ApiVersions response strait relays.
 * Inter-broker, controller and delegation-token keys are never supported.
 */
bool st_kafka_request_supported(int16_t api_key, int16_t api_version);
/* Range strait supports for a key; returns false when the key is not supported at all. */
bool st_kafka_supported_range(int16_t api_key, int16_t *min, int16_t *max);
/* "Produce", "Metadata", ... or NULL for an unknown key. */
const char *st_kafka_api_name(int16_t api_key);

/*
 * Produce requests with acks=0 get no response: the gateway must not wait for one.
 * Reads `acks` from a Produce request body (after the header). Returns 0 or -1 with *err.
 */
int st_kafka_produce_acks(int16_t api_version, const uint8_t *body, size_t len, int16_t *acks,
                          const char **err);

/* One broker entry of a response (Metadata, DescribeCluster, FindCoordinator, NodeEndpoints). */
struct st_kbroker {
    int32_t node_id;      /* broker id */
    const char *host;     /* upstream host, NOT NUL-terminated, points into the frame */
    size_t host_len;      /* bytes at host */
    int32_t port;         /* upstream port */
    const char *rack;     /* NULL when null/absent */
    size_t rack_len;      /* bytes at rack */
};

/* Callbacks of a response rewrite; both are called synchronously, in response order. */
struct st_krewrite_ops {
    void *arg; /* passed to both callbacks */
    /*
     * Sees every broker entry before any is rewritten, so the caller can bind a port for a new
     * node before the response leaves. `authoritative` is true for a full broker list (Metadata,
     * DescribeCluster), false for a single coordinator or a NodeEndpoints hint.
     * Return 0 to continue or -1 to fail the rewrite.
     */
    int (*observe)(void *arg, const struct st_kbroker *b, bool authoritative);
    /*
     * Endpoint address for a node id. Return 0 with *host (NOT NUL-terminated), *host_len, *port
     * set, or -1 when the node has no endpoint port; the entry is then removed from broker lists
     * (and its host emptied with port -1 for single-coordinator responses) so no upstream
     * address ever leaks.
     */
    int (*map)(void *arg, int32_t node_id, const char **host, size_t *host_len, int32_t *port);
};

/* True when a response of this (key, version) carries broker addresses or is ApiVersions. */
bool st_kafka_response_needs_rewrite(int16_t api_key, int16_t api_version);

enum st_krw_result {
    ST_KRW_ERROR = -1,     /* malformed response: *err says why */
    ST_KRW_UNCHANGED = 0,  /* forward the original bytes */
    ST_KRW_REWRITTEN = 1,  /* `out` holds the new response body */
};

/*
 * Rewrites a response body (bytes after the response header) of (key, version):
 *   - Metadata, DescribeCluster: every broker's host/port through ops->map
 *   - FindCoordinator v0-3 (top level) and v4+ (Coordinators[]), skipping NodeId -1 / empty host
 *   - Produce v10+, Fetch v16+ NodeEndpoints tagged field; ShareFetch/ShareAcknowledge NodeEndpoints
 *   - ApiVersions: ApiKeys[] filtered to the supported table, each range clamped (fail closed);
 *     a v0-format error body (UNSUPPORTED_VERSION) is recognised and filtered the same way; an
 *     UNSUPPORTED_VERSION body that parses in no known format (the librdkafka mock's hybrid) is
 *     replaced by a v0 error body advertising only ApiVersions [0, api_version - 1]
 *   - FindCoordinator entries whose node has no endpoint also get NodeId -1 and, when their
 *     ErrorCode was 0, COORDINATOR_NOT_AVAILABLE so the client looks the coordinator up again
 * Unknown tagged fields are preserved byte-exact. `out` is appended to (not reset).
 */
enum st_krw_result st_kafka_response_rewrite(int16_t api_key, int16_t api_version,
                                             const uint8_t *body, size_t len,
                                             const struct st_krewrite_ops *ops, struct st_buf *out,
                                             const char **err);

/*
 * Builds a complete request frame (size prefix included) for a Metadata request of the given
 * version asking for all topics (or none when `no_topics`), with header v1/v2 as the version needs.
 * Used by the eager metadata learner. Returns 0 or -1.
 */
int st_kafka_build_metadata_request(struct st_buf *out, int16_t api_version, int32_t correlation_id,
                                    const char *client_id, bool no_topics);

/*
 * Builds a complete ApiVersions response frame (size prefix included) answered by strait itself:
 * v0 body format with `error_code` and strait's supported table (used for UNSUPPORTED_VERSION).
 */
int st_kafka_build_apiversions_error(struct st_buf *out, int32_t correlation_id, int16_t error_code);

#endif

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
 */
bool st_kafka_deny_supported(int16_t api_key, int16_t api_version);

/*
 * Builds the response body for a request whose `denied` entries were refused.
 *
 *   upstream == NULL: nothing was forwarded; the whole response is synthesized from the original
 *     request `req` (every resource entry of the request answered with its denial's error;
 *     entries of the request not in `denied` cannot exist in this mode: pass all of them).
 *     A denial without an enclosing array (depth 0: a request-level GroupId, TransactionalId,
 *     the cluster) sets the response's top-level ErrorCode when the response has one, else the
 *     error of every per-entry result (OffsetCommit with a denied group: every partition
 *     GROUP_AUTHORIZATION_FAILED, as Kafka answers).
 *   upstream != NULL: `upstream` is the broker's response (same version) to the request with the
 *     denied array elements stripped; the result is that response with one entry per denied
 *     element added (per topic, with one partition result per requested partition where the
 *     response has partitions; the partition indexes come from the original request).
 *
 * Every field the synthesized entries carry besides the key, the partition index and the error
 * code has its schema default (or the value Kafka uses for errors: -1 for offsets, leader ids,
 * high watermarks; null for nullable strings).
 * Appends the body to `out`. Returns 0, or -1 with *err (unsupported key/version, malformed
 * input, or a denial that does not name an entry of `req`).
 */
int st_kafka_deny_response(int16_t api_key, int16_t api_version, const uint8_t *req,
                            size_t req_len, const struct st_kdenial *denied, size_t n_denied,
                            const uint8_t *upstream, size_t upstream_len, struct st_buf *out,
                            const char **err) __attribute__((warn_unused_result));

/*
 * A whole-request error response body: every result of the request carries `error` (top-level
 * ErrorCode where the response has one, and each per-entry ErrorCode). Used when a request-level
 * resource is denied (JoinGroup on a denied group, InitProducerId on a denied transactional id,
 * a cluster-level operation). Appends the body to `out`. Returns 0, or -1 with *err.
 */
int st_kafka_deny_error(int16_t api_key, int16_t api_version, const uint8_t *req, size_t req_len,
                         int16_t error, struct st_buf *out, const char **err)
    __attribute__((warn_unused_result));

#endif

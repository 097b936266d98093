/*
 * Kafka protocol: frame-level checks the gateway runs before it buffers a frame: the size prefix
 * against limits that are tighter before authentication, recognisable non-Kafka traffic (a TLS
 * ClientHello or HTTP on a plaintext port) and request-time refusals that depend on the body
 * (DescribeCluster asking for controller endpoints).
 */
#ifndef ST_KAFKA_FRAME_H
#define ST_KAFKA_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/*
 * Default frame limits (bytes after the 4-byte size prefix).
 * Before authentication a client may only send ApiVersions and SASL frames; the largest of those
 * are OAUTHBEARER tokens and AWS_MSK_IAM payloads of a few KiB, so 64 KiB leaves ample room while
 * bounding what an unauthenticated peer can make strait buffer (Kafka's own
 * sasl.server.max.receive.size is 512 KiB). After authentication the limit matches Kafka's
 * socket.request.max.bytes default (100 MiB).
 */
#define ST_KAFKA_MAX_FRAME_PREAUTH (64 * 1024)
#define ST_KAFKA_MAX_FRAME_POSTAUTH (100 * 1024 * 1024)
/* Smallest valid request frame: api_key, api_version, correlation_id, client_id length. */
#define ST_KAFKA_MIN_REQUEST_FRAME 10

/* Configurable limits; a zero member means "use the default". */
struct st_kframe_limits {
    uint32_t max_preauth;  /* frame limit until authentication completes */
    uint32_t max_postauth; /* frame limit afterwards */
};

/*
 * Checks the 4-byte size prefix at `prefix` of a client frame. Sets *size to the frame size (bytes
 * that follow the prefix). `lim` may be NULL (defaults).
 * Returns 0, or -1 with *err: negative or too small sizes, sizes above the applicable limit, and a
 * clear message for a TLS ClientHello or an HTTP request arriving on a plaintext Kafka port.
 */
int st_kafka_frame_check(const uint8_t prefix[4], bool authenticated,
                         const struct st_kframe_limits *lim, uint32_t *size, const char **err)
    __attribute__((warn_unused_result));

/*
 * DescribeCluster request check (body after the header): v1+ requests with EndpointType = 2 ask
 * for controller endpoints, which strait never exposes. Returns 0 when the request may be
 * forwarded, -1 with *err when it must be refused (also when the body is malformed).
 */
int st_kafka_describe_cluster_check(int16_t api_version, const uint8_t *body, size_t len,
                                    const char **err) __attribute__((warn_unused_result));

/*
 * Frames strait answers itself (denials, errors): appends a size placeholder and the response
 * header of (key, version) with `correlation_id` (v0, or v1 with an empty tag section; ApiVersions
 * always v0) and sets *mark. Append the body (e.g. st_kdoc_encode()), then call
 * st_kafka_frame_finish() to patch the size. The mark is relative to out's unconsumed bytes, so
 * it survives the buffer compacting. Returns 0, or -1 (buffer limit; out unchanged).
 */
int st_kafka_resp_frame_begin(struct st_buf *out, int16_t api_key, int16_t api_version,
                              int32_t correlation_id, size_t *mark)
    __attribute__((warn_unused_result));
/* Writes the size prefix of the frame started at `mark` (everything appended since). */
void st_kafka_frame_finish(struct st_buf *out, size_t mark);

#endif

/*
 * Fuzz target: request frame headers. Input = a request frame (bytes after the size prefix).
 * Exercises st_kafka_req_hdr_parse, the supported table, acks peeking, the size-prefix check
 * and response-header lengths; none of them may read past the input or crash.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "kafka/frame.h"
#include "kafka/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *err = NULL;
    struct st_kreq_hdr h;
    if (st_kafka_req_hdr_parse(data, size, &h, &err) == 0) {
        if (h.hdr_len > size || (h.client_id && h.client_id + h.client_id_len > data + size))
            __builtin_trap();
        const uint8_t *body = data + h.hdr_len;
        size_t blen = size - h.hdr_len;
        if (st_kafka_request_supported(h.api_key, h.api_version)) {
            int16_t acks;
            if (h.api_key == ST_KAFKA_PRODUCE) {
                int rc = st_kafka_produce_acks(h.api_version, body, blen, &acks, &err);
                (void)rc;
            }
            if (h.api_key == ST_KAFKA_DESCRIBE_CLUSTER)
                if (st_kafka_describe_cluster_check(h.api_version, body, blen, &err) != 0 && !err)
                    __builtin_trap();
        }
        (void)st_kafka_api_name(h.api_key);
        (void)st_kafka_response_needs_rewrite(h.api_key, h.api_version);
        size_t hl;
        if (st_kafka_resp_hdr_len(h.api_key, h.api_version, data, size, &hl, &err) == 0 &&
            hl > size)
            __builtin_trap();
    }
    if (size >= 4) {
        uint32_t n;
        if (st_kafka_frame_check(data, size & 1, NULL, &n, &err) == 0 &&
            n > ST_KAFKA_MAX_FRAME_POSTAUTH)
            __builtin_trap();
    }
    return 0;
}

/*
 * Kafka codec: message synthesizer for tests and fuzzing. Builds a well-formed DOM of any
 * (message, version) from the schema with deterministic pseudo-random content.
 */
#ifndef ST_KAFKA_SYNTH_H
#define ST_KAFKA_SYNTH_H

#include <stdint.h>

#include "kafka/schema.h"

/*
 * Fills `doc` with a synthesized message of (m, ver) derived from `seed`: every field of the
 * version, nulls where nullable, arrays of 0-2 elements, known tagged fields sometimes present and
 * an unknown tag (90-99) sometimes added, in ascending tag order. Memory comes from `a`.
 * Returns 0, or -1 for an invalid version or when the arena limit is hit.
 */
int st_kdoc_synth(struct st_karena *a, const struct st_kmsg *m, int16_t ver, uint32_t seed,
                  struct st_kdoc *doc) __attribute__((warn_unused_result));

#endif

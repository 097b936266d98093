/*
 * The embedded upstream: librdkafka's in-process mock cluster (rdkafka_mock.h), used by
 * `straitd --embedded-kafka N` for the demo, tests and development. Its brokers listen on
 * 127.0.0.1 with ports chosen by the kernel; they are a real Kafka protocol peer for strait.
 *
 * Context: the mock runs its own threads; these calls are thread-safe per librdkafka.
 */
#ifndef ST_APP_EMBEDDED_H
#define ST_APP_EMBEDDED_H

struct st_embedded;

/* Starts a mock cluster of `brokers` brokers (ids 1..N). Returns NULL with *err on failure. */
struct st_embedded *st_embedded_start(int brokers, const char **err);
/* "127.0.0.1:port,..." of every broker (owned by the cluster). */
const char *st_embedded_bootstraps(const struct st_embedded *e);
int st_embedded_broker_count(const struct st_embedded *e);
/* Takes broker `id` down (connections closed, new ones refused) or brings it back. */
int st_embedded_broker_set_up(struct st_embedded *e, int id, int up, const char **err);
/* Creates a topic. Returns 0 or -1 with *err (e.g. it already exists). */
int st_embedded_create_topic(struct st_embedded *e, const char *name, int partitions,
                             int replication_factor, const char **err);
void st_embedded_stop(struct st_embedded *e);

#endif

/*
 * Embedded mock cluster (see embedded.h): a thin owner of an rd_kafka_t handle (required by the
 * mock for bookkeeping; it connects nowhere) and the mock cluster itself.
 */
#include "app/embedded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct st_embedded {
    rd_kafka_t *rk;               /* bookkeeping handle for the mock */
    rd_kafka_mock_cluster_t *mc;  /* the cluster */
    int brokers;                  /* broker count, ids 1..brokers */
    char err[256];                /* last error text */
};

struct st_embedded *
st_embedded_start(int brokers, const char **err)
{
    if (brokers < 1 || brokers > 100) {
        *err = "--embedded-kafka takes a broker count from 1 to 100";
        return NULL;
    }
    struct st_embedded *e = calloc(1, sizeof(*e));
    if (!e) {
        *err = "out of memory";
        return NULL;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[256];
    /* Keep the bookkeeping handle quiet: it has no brokers to talk to. */
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    e->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!e->rk) {
        snprintf(e->err, sizeof(e->err), "%s", errstr);
        *err = "cannot create the librdkafka handle for the embedded cluster";
        free(e);
        return NULL;
    }
    e->mc = rd_kafka_mock_cluster_new(e->rk, brokers);
    if (!e->mc) {
        rd_kafka_destroy(e->rk);
        free(e);
        *err = "cannot start the embedded mock cluster";
        return NULL;
    }
    e->brokers = brokers;
    return e;
}

const char *
st_embedded_bootstraps(const struct st_embedded *e)
{
    return rd_kafka_mock_cluster_bootstraps(e->mc);
}

int
st_embedded_broker_count(const struct st_embedded *e)
{
    return e->brokers;
}

int
st_embedded_broker_set_up(struct st_embedded *e, int id, int up, const char **err)
{
    if (id < 1 || id > e->brokers) {
        *err = "no such broker in the embedded cluster";
        return -1;
    }
    rd_kafka_resp_err_t r = up ? rd_kafka_mock_broker_set_up(e->mc, id)
                               : rd_kafka_mock_broker_set_down(e->mc, id);
    if (r) {
        *err = rd_kafka_err2str(r);
        return -1;
    }
    return 0;
}

int
st_embedded_create_topic(struct st_embedded *e, const char *name, int partitions,
                         int replication_factor, const char **err)
{
    if (!name[0] || strlen(name) > 249) {
        *err = "topic names are 1 to 249 characters";
        return -1;
    }
    for (const char *p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-')) {
            *err = "topic names may contain only ASCII letters, digits, '.', '_' and '-'";
            return -1;
        }
    }
    if (partitions < 1 || partitions > 10000) {
        *err = "partitions must be between 1 and 10000";
        return -1;
    }
    if (replication_factor < 1 || replication_factor > e->brokers) {
        *err = "replication factor must be between 1 and the number of brokers";
        return -1;
    }
    rd_kafka_resp_err_t r =
        rd_kafka_mock_topic_create(e->mc, name, partitions, replication_factor);
    if (r) {
        *err = rd_kafka_err2str(r);
        return -1;
    }
    return 0;
}

void
st_embedded_stop(struct st_embedded *e)
{
    if (!e)
        return;
    rd_kafka_mock_cluster_destroy(e->mc);
    rd_kafka_destroy(e->rk);
    free(e);
}

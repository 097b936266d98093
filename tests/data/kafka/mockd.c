/*
 * mockd: a librdkafka mock cluster for capturing golden vectors (tests/data/kafka/README.md).
 * Not part of the build. Prints the mock's bootstrap list, then reads commands from stdin:
 *   leader <topic> <partition> <broker>   move a partition leader (triggers NodeEndpoints)
 *   quit
 * With librdkafka >= 2.4 (-DHAVE_SET_HOST_PORT) and a relay base port, broker N advertises
 * 127.0.0.1:<base + N> so every client connection goes through capture.py.
 *
 *   cc -o mockd mockd.c -lrdkafka                                    (Debian librdkafka 2.0.2)
 *   cc -DHAVE_SET_HOST_PORT -I$LRK/src -o mockd212 mockd.c -L$LRK/src -lrdkafka   (2.12)
 *   ./mockd <brokers> [relay_base]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_SET_HOST_PORT
#include "rdkafka.h"
#include "rdkafka_mock.h"
#else
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#endif

int
main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 3;
    int base = argc > 2 ? atoi(argv[2]) : 0;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "rd_kafka_new: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, n);
    if (!mc) {
        fprintf(stderr, "mock cluster failed\n");
        return 1;
    }
    rd_kafka_mock_topic_create(mc, "golden", 3, n < 3 ? n : 3);
#ifdef HAVE_SET_HOST_PORT
    if (base)
        for (int i = 1; i <= n; i++)
            rd_kafka_mock_broker_set_host_port(mc, i, "127.0.0.1", (uint16_t)(base + i));
#else
    (void)base;
#endif
    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    char line[256];
    while (fgets(line, sizeof(line), stdin)) {
        char topic[128];
        int part, broker;
        if (sscanf(line, "leader %127s %d %d", topic, &part, &broker) == 3) {
            rd_kafka_mock_partition_set_leader(mc, topic, part, broker);
            printf("ok\n");
            fflush(stdout);
        } else if (strncmp(line, "quit", 4) == 0) {
            break;
        }
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

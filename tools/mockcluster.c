/*
 * mockcluster: a standalone librdkafka mock Kafka cluster for benchmarks and tests.
 *
 * Starts rd_kafka_mock_cluster_new() with N brokers (ids 1..N, each on 127.0.0.1:<ephemeral> of
 * the current network namespace), creates the requested topics, writes the bootstrap list to
 * stdout and, atomically, to --bootstrap-file, then serves until SIGTERM or SIGINT.
 *
 * Mock limits (librdkafka 2.0.2): each partition keeps at most ~5 MiB / 100000 messages (older
 * message sets are dropped), a Fetch returns one message set per partition, no CreateTopics.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MC_MAX_TOPICS 64
#define MC_MAX_CAPS 32

struct mc_topic {
    char name[256]; /* topic name */
    int partitions; /* partition count */
};

struct mc_cap {
    int api_key;     /* Kafka ApiKey */
    int min_version; /* lowest version advertised, -1 disables the key */
    int max_version; /* highest version advertised */
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: mockcluster [options]\n"
                 "  -b, --brokers N            number of brokers (default 3)\n"
                 "  -t, --topic NAME[:P]       create topic NAME with P partitions (repeatable)\n"
                 "  -p, --partitions P         default partition count for --topic (default 6)\n"
                 "  -r, --replication R        replication factor (default min(3, brokers))\n"
                 "  -f, --bootstrap-file FILE  write the bootstrap list to FILE once ready\n"
                 "  -a, --api KEY:MIN:MAX      cap advertised versions of ApiKey KEY (e.g. 2:0:3)\n"
                 "  -q, --quiet                do not print the bootstrap list on stdout\n"
                 "Serves until SIGTERM/SIGINT.\n");
}

static int
parse_int(const char *s, int lo, int hi, int *out)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Writes text + newline to path atomically (temporary file, then rename). */
static int
write_file_atomic(const char *path, const char *text)
{
    char tmp[PATH_MAX];
    FILE *f;
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());

    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    f = fopen(tmp, "w");
    if (f == NULL)
        return -1;
    if (fprintf(f, "%s\n", text) < 0) {
        fclose(f);
        unlink(tmp);
        return -1;
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"partitions", required_argument, NULL, 'p'},
        {"replication", required_argument, NULL, 'r'},
        {"bootstrap-file", required_argument, NULL, 'f'},
        {"api", required_argument, NULL, 'a'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct mc_topic topics[MC_MAX_TOPICS];
    struct mc_cap caps[MC_MAX_CAPS];
    int ntopics = 0, ncaps = 0, brokers = 3, def_partitions = 6, replication = -1, quiet = 0;
    const char *bootstrap_file = NULL;
    char errstr[512];
    rd_kafka_conf_t *conf;
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mcluster;
    const char *bootstraps;
    sigset_t sigs;
    int c, sig = 0;

    while ((c = getopt_long(argc, argv, "b:t:p:r:f:a:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_int(optarg, 1, 1000, &brokers) != 0) {
                fprintf(stderr, "mockcluster: bad --brokers '%s'\n", optarg);
                return 2;
            }
            break;
        case 'p':
            if (parse_int(optarg, 1, 100000, &def_partitions) != 0) {
                fprintf(stderr, "mockcluster: bad --partitions '%s'\n", optarg);
                return 2;
            }
            break;
        case 'r':
            if (parse_int(optarg, 1, 1000, &replication) != 0) {
                fprintf(stderr, "mockcluster: bad --replication '%s'\n", optarg);
                return 2;
            }
            break;
        case 't': {
            const char *colon = strchr(optarg, ':');
            size_t len = colon != NULL ? (size_t)(colon - optarg) : strlen(optarg);

            if (ntopics == MC_MAX_TOPICS || len == 0 || len >= sizeof(topics[0].name)) {
                fprintf(stderr, "mockcluster: bad or too many --topic '%s'\n", optarg);
                return 2;
            }
            memcpy(topics[ntopics].name, optarg, len);
            topics[ntopics].name[len] = '\0';
            topics[ntopics].partitions = 0; /* resolved after option parsing */
            if (colon != NULL &&
                parse_int(colon + 1, 1, 100000, &topics[ntopics].partitions) != 0) {
                fprintf(stderr, "mockcluster: bad partition count in '%s'\n", optarg);
                return 2;
            }
            ntopics++;
            break;
        }
        case 'f':
            bootstrap_file = optarg;
            break;
        case 'a':
            if (ncaps == MC_MAX_CAPS ||
                sscanf(optarg, "%d:%d:%d", &caps[ncaps].api_key, &caps[ncaps].min_version,
                       &caps[ncaps].max_version) != 3 ||
                caps[ncaps].api_key < 0 || caps[ncaps].api_key > 32767) {
                fprintf(stderr, "mockcluster: bad --api '%s' (want KEY:MIN:MAX)\n", optarg);
                return 2;
            }
            ncaps++;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    if (replication < 0)
        replication = brokers < 3 ? brokers : 3;
    if (replication > brokers) {
        fprintf(stderr, "mockcluster: --replication %d > --brokers %d\n", replication, brokers);
        return 2;
    }

    /* Block the stop signals before librdkafka starts threads so that only sigwait() sees them. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);

    conf = rd_kafka_conf_new();
    /* log_level 4 hides the "no bootstrap.servers" notice of the otherwise idle handle. */
    if (rd_kafka_conf_set(conf, "client.id", "mockcluster", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "mockcluster: %s\n", errstr);
        return 1;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        fprintf(stderr, "mockcluster: rd_kafka_new: %s\n", errstr);
        return 1;
    }
    mcluster = rd_kafka_mock_cluster_new(rk, brokers);
    if (mcluster == NULL) {
        fprintf(stderr, "mockcluster: rd_kafka_mock_cluster_new failed\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    for (int i = 0; i < ncaps; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_set_apiversion(mcluster, (int16_t)caps[i].api_key,
                                                               (int16_t)caps[i].min_version,
                                                               (int16_t)caps[i].max_version);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "mockcluster: set_apiversion %d: %s\n", caps[i].api_key,
                    rd_kafka_err2str(err));
            goto fail;
        }
    }
    for (int i = 0; i < ntopics; i++) {
        int parts = topics[i].partitions > 0 ? topics[i].partitions : def_partitions;
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mcluster, topics[i].name, parts, replication);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            fprintf(stderr, "mockcluster: topic %s: %s\n", topics[i].name, rd_kafka_err2str(err));
            goto fail;
        }
    }

    bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
    if (bootstrap_file != NULL && write_file_atomic(bootstrap_file, bootstraps) != 0) {
        fprintf(stderr, "mockcluster: cannot write %s: %s\n", bootstrap_file, strerror(errno));
        goto fail;
    }
    if (!quiet) {
        printf("%s\n", bootstraps);
        fflush(stdout);
    }

    while (sigwait(&sigs, &sig) != 0)
        ;
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
    return 0;

fail:
    rd_kafka_mock_cluster_destroy(mcluster);
    rd_kafka_destroy(rk);
    return 1;
}

/*
 * modernmock: the "modern upstream" and "modern client" of the integration tests, linked against
 * librdkafka 2.12.0 (built by scripts/build-modern-librdkafka; Debian's 2.0.2 mock speaks only old
 * protocol versions and cannot add brokers).
 *
 *   modernmock mock --brokers N --bootstrap-file F
 *       runs librdkafka's mock cluster (Metadata v12, Produce v10, Fetch v16, flexible versions),
 *       writes its bootstrap list to F (atomically) and prints "ready <bootstraps>", then executes
 *       one command per stdin line, answering each with one line "ok <command> ..." or
 *       "error <command>: <reason>". EOF on stdin (or "quit") stops it.
 *   modernmock client --bootstrap B --topic T --count N [...]
 *       a librdkafka 2.12 client: produces N messages (acks=all), reads the topic back from the
 *       beginning and prints one JSON object saying what it did (see usage()).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#if RD_KAFKA_VERSION < 0x020c0000
#error "modernmock needs librdkafka >= 2.12 (scripts/build-modern-librdkafka), not the system's"
#endif

static void
usage(void)
{
    fprintf(
        stderr,
        "usage: modernmock mock --brokers N --bootstrap-file FILE\n"
        "         stdin commands (one per line, each answered on stdout):\n"
        "           add-broker ID | decommission ID | broker-down ID | broker-up ID\n"
        "           create-topic NAME PARTITIONS RF | set-leader TOPIC PARTITION ID\n"
        "           set-coordinator group|transaction KEY ID | telemetry PUSH_INTERVAL_MS\n"
        "           set-host-port ID HOST PORT (the address Metadata advertises for ID)\n"
        "           set-follower TOPIC PARTITION ID (preferred read replica) | set-rack ID RACK\n"
        "           bootstraps | quit\n"
        "       modernmock client --bootstrap LIST --topic T --count N [--partition P]\n"
        "                         [--max-len BYTES] [--tag TAG] [--timeout-s S]\n"
        "                         [--forbid SUBSTR]... [--no-consume] [--pause-after K]\n"
        "                         [--count-log SUBSTR]... [--pause-in-consume]\n"
        "                         [--group-protocol classic|consumer] [--idempotent]\n"
        "                         [--transactional-id ID] [--group-id ID] [--client-rack RACK]\n"
        "                         [--acks all|1|0] [-X name=value]...\n"
        "         produces N messages (acks=all), consumes the topic back from the beginning\n"
        "         and prints JSON: produced, delivered, deliveryErrors, consumed, matched,\n"
        "         duplicates, missing, corrupt, outOfOrder, foreign, brokers, leaders,\n"
        "         requestVersions (highest version sent per request), forbiddenSeen, ok\n"
        "         --pause-after K: once K messages are delivered print \"paused K ...\" and\n"
        "         wait for a line on stdin (the cluster can change under cached metadata);\n"
        "         (--pause-in-consume: once K messages are consumed instead);\n"
        "         --group-protocol: consume by subscribing in a new consumer group (KIP-848 with\n"
        "         \"consumer\"), then commit and check the committed offsets;\n"
        "         --transactional-id: produce all N in one transaction (committed; the consumer\n"
        "         reads read_committed);\n"
        "         --count-log SUBSTR: report how many \"FACILITY: line\" log lines contain it;\n"
        "         -X name=value: a librdkafka property for the producer and the consumer, set\n"
        "         after the defaults (e.g. -X security.protocol=SASL_SSL -X ssl.ca.location=F)\n");
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "modernmock: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

static void
conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char err[512];
    if (rd_kafka_conf_set(conf, name, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        die("config %s=%s: %s", name, value, err);
}

/* ---- mock mode ------------------------------------------------------------------------------ */

static int
write_file_atomic(const char *path, const char *text)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int bad = fprintf(f, "%s\n", text) < 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static void
mock_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    fprintf(stderr, "modernmock[mock] %d %s: %s\n", level, fac, buf);
}

/* Parses a base-10 int32 (the whole token); -1 on failure. */
static int
parse_i32(const char *s, int32_t *out)
{
    char *end;
    if (!s)
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || end == s || v < INT32_MIN || v > INT32_MAX)
        return -1;
    *out = (int32_t)v;
    return 0;
}

static void
reply(const char *cmd, rd_kafka_resp_err_t err, const char *fmt, ...)
{
    if (err) {
        printf("error %s: %s\n", cmd, rd_kafka_err2str(err));
    } else {
        printf("ok %s", cmd);
        if (fmt) {
            va_list ap;
            va_start(ap, fmt);
            putchar(' ');
            vprintf(fmt, ap);
            va_end(ap);
        }
        putchar('\n');
    }
    fflush(stdout);
}

static int
run_mock(int argc, char **argv)
{
    int brokers = 0;
    const char *bootstrap_file = NULL;
    static const struct option opts[] = {{"brokers", required_argument, NULL, 'n'},
                                         {"bootstrap-file", required_argument, NULL, 'f'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            brokers = atoi(optarg);
            break;
        case 'f':
            bootstrap_file = optarg;
            break;
        default:
            usage();
            return 2;
        }
    }
    if (brokers < 1 || brokers > 100 || !bootstrap_file) {
        usage();
        return 2;
    }

    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "client.id", "modernmock");
    rd_kafka_conf_set_log_cb(conf, mock_log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk)
        die("rd_kafka_new: %s", err);
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc)
        die("rd_kafka_mock_cluster_new(%d) failed", brokers);
    const char *bs = rd_kafka_mock_cluster_bootstraps(mc);
    if (write_file_atomic(bootstrap_file, bs) != 0)
        die("cannot write %s: %s", bootstrap_file, strerror(errno));
    fprintf(stderr, "modernmock[mock] librdkafka %s, %d brokers at %s\n", rd_kafka_version_str(),
            brokers, bs);
    printf("ready %s\n", bs);
    fflush(stdout);

    char line[1024];
    while (fgets(line, sizeof(line), stdin)) {
        char *save = NULL;
        char *cmd = strtok_r(line, " \t\r\n", &save);
        if (!cmd)
            continue;
        char *a1 = strtok_r(NULL, " \t\r\n", &save);
        char *a2 = strtok_r(NULL, " \t\r\n", &save);
        char *a3 = strtok_r(NULL, " \t\r\n", &save);
        int32_t id, n1, n2;
        if (!strcmp(cmd, "quit")) {
            reply(cmd, 0, NULL);
            break;
        } else if (!strcmp(cmd, "bootstraps")) {
            reply(cmd, 0, "%s", rd_kafka_mock_cluster_bootstraps(mc));
        } else if (!strcmp(cmd, "add-broker") && parse_i32(a1, &id) == 0) {
            reply(cmd, rd_kafka_mock_broker_add(mc, id), "%" PRId32, id);
        } else if (!strcmp(cmd, "decommission") && parse_i32(a1, &id) == 0) {
            reply(cmd, rd_kafka_mock_broker_decommission(mc, id), "%" PRId32, id);
        } else if (!strcmp(cmd, "broker-down") && parse_i32(a1, &id) == 0) {
            reply(cmd, rd_kafka_mock_broker_set_down(mc, id), "%" PRId32, id);
        } else if (!strcmp(cmd, "broker-up") && parse_i32(a1, &id) == 0) {
            reply(cmd, rd_kafka_mock_broker_set_up(mc, id), "%" PRId32, id);
        } else if (!strcmp(cmd, "create-topic") && a1 && parse_i32(a2, &n1) == 0 &&
                   parse_i32(a3, &n2) == 0 && n1 > 0 && n2 > 0) {
            reply(cmd, rd_kafka_mock_topic_create(mc, a1, n1, n2), "%s %" PRId32 " %" PRId32, a1,
                  n1, n2);
        } else if (!strcmp(cmd, "set-leader") && a1 && parse_i32(a2, &n1) == 0 &&
                   parse_i32(a3, &id) == 0) {
            reply(cmd, rd_kafka_mock_partition_set_leader(mc, a1, n1, id),
                  "%s %" PRId32 " %" PRId32, a1, n1, id);
        } else if (!strcmp(cmd, "set-follower") && a1 && parse_i32(a2, &n1) == 0 &&
                   parse_i32(a3, &id) == 0) {
            reply(cmd, rd_kafka_mock_partition_set_follower(mc, a1, n1, id),
                  "%s %" PRId32 " %" PRId32, a1, n1, id);
        } else if (!strcmp(cmd, "set-rack") && parse_i32(a1, &id) == 0 && a2) {
            reply(cmd, rd_kafka_mock_broker_set_rack(mc, id, a2), "%" PRId32 " %s", id, a2);
        } else if (!strcmp(cmd, "telemetry") && parse_i32(a1, &n1) == 0 && n1 > 0) {
            /* Ask clients for all metrics, pushed every n1 ms. */
            char *all[] = {(char *)""};
            rd_kafka_mock_telemetry_set_requested_metrics(mc, all, 1);
            reply(cmd, rd_kafka_mock_telemetry_set_push_interval(mc, n1), "%" PRId32, n1);
        } else if (!strcmp(cmd, "set-host-port") && parse_i32(a1, &id) == 0 && a2 &&
                   parse_i32(a3, &n1) == 0 && n1 > 0 && n1 < 65536) {
            /* What Metadata advertises for broker id (e.g. a proxy in front of it). */
            rd_kafka_mock_broker_set_host_port(mc, id, a2, n1);
            reply(cmd, 0, "%" PRId32 " %s %" PRId32, id, a2, n1);
        } else if (!strcmp(cmd, "set-coordinator") && a1 && a2 && parse_i32(a3, &id) == 0) {
            reply(cmd, rd_kafka_mock_coordinator_set(mc, a1, a2, id), "%s %s %" PRId32, a1, a2, id);
        } else {
            printf("error %s: unknown command or bad arguments\n", cmd);
            fflush(stdout);
        }
    }
    fprintf(stderr, "modernmock[mock] stopping\n");
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}

/* ---- client mode ---------------------------------------------------------------------------- */

#define MAX_FORBID 32
#define MAX_CONF 64
#define N_APIS 100

struct client {
    const char *bootstrap;      /* --bootstrap */
    const char *topic;          /* --topic */
    const char *tag;            /* --tag: message content prefix (default: the topic) */
    int count;                  /* --count */
    int32_t partition;          /* --partition, RD_KAFKA_PARTITION_UA = by key */
    int max_len;                /* --max-len: longest value */
    double timeout_s;           /* --timeout-s: bound of each phase */
    bool consume;               /* false with --no-consume */
    int pause_after;            /* --pause-after K: after K messages are delivered, print
                                   "paused K" and wait for a line on stdin; -1 = never */
    bool pause_in_consume;      /* --pause-in-consume: pause after K messages consumed instead */
    bool idempotent;            /* --idempotent: enable.idempotence=true */
    const char *group_id;       /* --group-id (default modernmock-<pid>) */
    const char *client_rack;    /* --client-rack: the consumer's client.rack (KIP-392) */
    const char *acks;           /* --acks: producer acks (default all) */
    const char *txn_id;         /* --transactional-id: produce everything in one transaction */
    const char *group_protocol; /* --group-protocol classic|consumer: subscribe in a consumer
                                   group (KIP-848 with "consumer") instead of assign(); NULL = no */
    const char *forbid[MAX_FORBID];    /* --forbid: substrings no client log line may contain */
    int n_forbid;                      /* entries in forbid */
    const char *count_log[MAX_FORBID]; /* --count-log: substrings of "FAC: line" to count */
    long count_log_n[MAX_FORBID];      /* log lines that contained count_log[i] */
    int n_count_log;                   /* entries in count_log */
    const char *conf_name[MAX_CONF];   /* -X name=value: librdkafka properties set on the */
    const char *conf_value[MAX_CONF];  /* producer and the consumer, after the defaults */
    int n_conf;                        /* entries in conf_name/conf_value */

    pthread_mutex_t lock;      /* guards everything below (log callbacks run on any thread) */
    int req_version[N_APIS];   /* highest version sent per ApiKey, -1 = never */
    char req_name[N_APIS][40]; /* request name as librdkafka logs it */
    char forbid_seen[2048];    /* first log line that contained a forbidden substring */
    long log_lines;            /* log lines seen */

    int delivered;         /* successful delivery reports */
    int delivery_errors;   /* failed delivery reports */
    char first_error[256]; /* first delivery error */
    int32_t *dr_partition; /* per message: partition it was delivered to, -1 = none */
};

static struct client *g_client;

/* librdkafka protocol debug: "Sent MetadataRequest (v12, 63 bytes @ 0, CorrId 2)". The ApiKey
 * is not logged, so requests are tracked by name (index = first free slot per name). */
static void
note_request(struct client *cl, const char *buf)
{
    const char *p = strstr(buf, "Sent ");
    if (!p)
        return;
    p += 5;
    const char *q = strstr(p, "Request (v");
    if (!q || q - p <= 0 || q - p >= 40)
        return;
    int v = atoi(q + 10);
    size_t nlen = (size_t)(q - p);
    for (int i = 0; i < N_APIS; i++) {
        if (cl->req_version[i] == -1 && cl->req_name[i][0] == 0) {
            memcpy(cl->req_name[i], p, nlen);
            cl->req_name[i][nlen] = 0;
            cl->req_version[i] = v;
            return;
        }
        if (strlen(cl->req_name[i]) == nlen && !memcmp(cl->req_name[i], p, nlen)) {
            if (v > cl->req_version[i])
                cl->req_version[i] = v;
            return;
        }
    }
}

static void
client_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    struct client *cl = g_client;
    pthread_mutex_lock(&cl->lock);
    cl->log_lines++;
    note_request(cl, buf);
    for (int i = 0; i < cl->n_forbid; i++) {
        if (strstr(buf, cl->forbid[i]) && !cl->forbid_seen[0])
            snprintf(cl->forbid_seen, sizeof(cl->forbid_seen), "%s: %s", fac, buf);
    }
    if (cl->n_count_log) {
        char line[2048];
        snprintf(line, sizeof(line), "%s: %s", fac, buf);
        for (int i = 0; i < cl->n_count_log; i++)
            if (strstr(line, cl->count_log[i]))
                cl->count_log_n[i]++;
    }
    pthread_mutex_unlock(&cl->lock);
    if (level <= 4) /* warnings and worse go to stderr for the test log */
        fprintf(stderr, "modernmock[client] %d %s: %s\n", level, fac, buf);
}

/* Message i: key "<tag>-k%06d", value "<tag>-v%06d-" + filler, 20..max_len bytes. */
static void
make_message(const struct client *cl, int i, char *key, size_t klen, char *val, size_t vlen,
             size_t *vlen_out)
{
    snprintf(key, klen, "%s-k%06d", cl->tag, i);
    int n = snprintf(val, vlen, "%s-v%06d-", cl->tag, i);
    uint32_t h = (uint32_t)i * 2654435761u;
    size_t want = 20 + (size_t)(h % (uint32_t)(cl->max_len > 20 ? cl->max_len - 20 : 1));
    if (want >= vlen)
        want = vlen - 1;
    size_t len = (size_t)n < want ? want : (size_t)n;
    for (size_t j = (size_t)n; j < len; j++)
        val[j] = (char)('a' + (h >> (j % 24)) % 26);
    val[len] = 0;
    *vlen_out = len;
}

static void
dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct client *cl = g_client;
    int idx = (int)(intptr_t)m->_private;
    pthread_mutex_lock(&cl->lock);
    if (m->err) {
        cl->delivery_errors++;
        if (!cl->first_error[0])
            snprintf(cl->first_error, sizeof(cl->first_error), "%s", rd_kafka_err2str(m->err));
    } else {
        cl->delivered++;
        if (idx >= 0 && idx < cl->count)
            cl->dr_partition[idx] = m->partition;
    }
    pthread_mutex_unlock(&cl->lock);
}

static rd_kafka_conf_t *
client_conf(const struct client *cl)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    conf_set(conf, "bootstrap.servers", cl->bootstrap);
    conf_set(conf, "client.id", "modernmock-client");
    conf_set(conf, "debug", "broker,protocol,metadata,topic");
    conf_set(conf, "log_level", "7");
    conf_set(conf, "reconnect.backoff.max.ms", "1000");
    rd_kafka_conf_set_log_cb(conf, client_log_cb);
    for (int i = 0; i < cl->n_conf; i++) /* -X: after the defaults, so they can override them */
        conf_set(conf, cl->conf_name[i], cl->conf_value[i]);
    return conf;
}

static void
json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static int
run_client(int argc, char **argv)
{
    static struct client cl;
    g_client = &cl;
    cl.partition = RD_KAFKA_PARTITION_UA;
    cl.max_len = 300;
    cl.timeout_s = 120;
    cl.consume = true;
    cl.pause_after = -1;
    pthread_mutex_init(&cl.lock, NULL);
    for (int i = 0; i < N_APIS; i++)
        cl.req_version[i] = -1;

    static const struct option opts[] = {{"bootstrap", required_argument, NULL, 'b'},
                                         {"topic", required_argument, NULL, 't'},
                                         {"count", required_argument, NULL, 'c'},
                                         {"partition", required_argument, NULL, 'p'},
                                         {"max-len", required_argument, NULL, 'm'},
                                         {"tag", required_argument, NULL, 'g'},
                                         {"timeout-s", required_argument, NULL, 'T'},
                                         {"forbid", required_argument, NULL, 'F'},
                                         {"no-consume", no_argument, NULL, 'N'},
                                         {"pause-after", required_argument, NULL, 'P'},
                                         {"count-log", required_argument, NULL, 'L'},
                                         {"pause-in-consume", no_argument, NULL, 'C'},
                                         {"group-protocol", required_argument, NULL, 'G'},
                                         {"idempotent", no_argument, NULL, 'I'},
                                         {"transactional-id", required_argument, NULL, 'x'},
                                         {"group-id", required_argument, NULL, 'D'},
                                         {"client-rack", required_argument, NULL, 'R'},
                                         {"acks", required_argument, NULL, 'A'},
                                         {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "X:", opts, NULL)) != -1) {
        switch (c) {
        case 'b':
            cl.bootstrap = optarg;
            break;
        case 't':
            cl.topic = optarg;
            break;
        case 'c':
            cl.count = atoi(optarg);
            break;
        case 'p':
            cl.partition = atoi(optarg);
            break;
        case 'm':
            cl.max_len = atoi(optarg);
            break;
        case 'g':
            cl.tag = optarg;
            break;
        case 'T':
            cl.timeout_s = atof(optarg);
            break;
        case 'F':
            if (cl.n_forbid < MAX_FORBID)
                cl.forbid[cl.n_forbid++] = optarg;
            break;
        case 'N':
            cl.consume = false;
            break;
        case 'P':
            cl.pause_after = atoi(optarg);
            break;
        case 'C':
            cl.pause_in_consume = true;
            break;
        case 'G':
            cl.group_protocol = optarg;
            break;
        case 'I':
            cl.idempotent = true;
            break;
        case 'x':
            cl.txn_id = optarg;
            break;
        case 'D':
            cl.group_id = optarg;
            break;
        case 'R':
            cl.client_rack = optarg;
            break;
        case 'A':
            cl.acks = optarg;
            break;
        case 'L':
            if (cl.n_count_log < MAX_FORBID)
                cl.count_log[cl.n_count_log++] = optarg;
            break;
        case 'X': {
            /* -X name=value (as kcat/rdkafka_example): split at the first '=' */
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                fprintf(stderr, "modernmock: -X %s: want -X name=value\n", optarg);
                usage();
                return 2;
            }
            if (cl.n_conf == MAX_CONF)
                die("more than %d -X properties", MAX_CONF);
            *eq = 0;
            cl.conf_name[cl.n_conf] = optarg;
            cl.conf_value[cl.n_conf++] = eq + 1;
            break;
        }
        default:
            usage();
            return 2;
        }
    }
    if (!cl.bootstrap || !cl.topic || cl.count < 0 || cl.max_len < 20 || cl.max_len > 1000000 ||
        cl.timeout_s <= 0) {
        usage();
        return 2;
    }
    if (!cl.tag)
        cl.tag = cl.topic;
    cl.dr_partition = calloc((size_t)cl.count + 1, sizeof(*cl.dr_partition));
    if (!cl.dr_partition)
        die("out of memory");
    for (int i = 0; i < cl.count; i++)
        cl.dr_partition[i] = -1;

    char err[512];
    const char *fail = NULL; /* first reason the run is not ok */

    /* -- produce -- */
    rd_kafka_conf_t *pconf = client_conf(&cl);
    conf_set(pconf, "acks", cl.acks ? cl.acks : "all");
    conf_set(pconf, "linger.ms", "5");
    conf_set(pconf, "message.timeout.ms", "60000");
    rd_kafka_conf_set_dr_msg_cb(pconf, dr_msg_cb);
    if (cl.pause_in_consume) /* small batches: a small fetch cannot hold the whole topic */
        conf_set(pconf, "batch.num.messages", "20");
    if (cl.idempotent)
        conf_set(pconf, "enable.idempotence", "true");
    if (cl.txn_id)
        conf_set(pconf, "transactional.id", cl.txn_id);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, err, sizeof(err));
    if (!p)
        die("producer: %s", err);
    char txn_error[512] = ""; /* first transaction API failure */
    if (cl.txn_id) {
        rd_kafka_error_t *te = rd_kafka_init_transactions(p, (int)(cl.timeout_s * 1000));
        if (!te)
            te = rd_kafka_begin_transaction(p);
        if (te) {
            snprintf(txn_error, sizeof(txn_error), "init/begin: %s", rd_kafka_error_string(te));
            rd_kafka_error_destroy(te);
        }
    }
    size_t vcap = (size_t)cl.max_len + 64;
    char *val = malloc(vcap);
    if (!val)
        die("out of memory");
    char key[128];
    double t0 = now_s();
    for (int i = 0; i < cl.count; i++) {
        size_t vlen;
        if (i == cl.pause_after && !cl.pause_in_consume) {
            /* Let the test change the cluster while this producer keeps its cached metadata. */
            int left0 = (int)(cl.timeout_s * 1000 - (now_s() - t0) * 1000);
            rd_kafka_flush(p, left0 > 1000 ? left0 : 1000);
            pthread_mutex_lock(&cl.lock);
            int d = cl.delivered;
            pthread_mutex_unlock(&cl.lock);
            printf("paused %d delivered %d\n", i, d);
            fflush(stdout);
            char go[64];
            if (!fgets(go, sizeof(go), stdin))
                fprintf(stderr, "modernmock[client] stdin closed while paused; continuing\n");
        }
        make_message(&cl, i, key, sizeof(key), val, vcap, &vlen);
        for (;;) {
            rd_kafka_resp_err_t e =
                rd_kafka_producev(p, RD_KAFKA_V_TOPIC(cl.topic), RD_KAFKA_V_PARTITION(cl.partition),
                                  RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(val, vlen),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_OPAQUE((void *)(intptr_t)i), RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && now_s() - t0 < cl.timeout_s) {
                rd_kafka_poll(p, 50);
                continue;
            }
            if (e) {
                pthread_mutex_lock(&cl.lock);
                cl.delivery_errors++;
                if (!cl.first_error[0])
                    snprintf(cl.first_error, sizeof(cl.first_error), "produce: %s",
                             rd_kafka_err2str(e));
                pthread_mutex_unlock(&cl.lock);
            }
            break;
        }
        rd_kafka_poll(p, 0);
    }
    int left = (int)(cl.timeout_s * 1000 - (now_s() - t0) * 1000);
    rd_kafka_flush(p, left > 1000 ? left : 1000);
    if (cl.txn_id && !txn_error[0]) {
        rd_kafka_error_t *te = rd_kafka_commit_transaction(p, (int)(cl.timeout_s * 1000));
        if (te) {
            snprintf(txn_error, sizeof(txn_error), "commit: %s", rd_kafka_error_string(te));
            rd_kafka_error_destroy(te);
        }
    }
    int undelivered = rd_kafka_outq_len(p);

    /* Metadata as this client sees it (through the endpoint). */
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(p, cl.topic, NULL);
    rd_kafka_resp_err_t me = rd_kafka_metadata(p, 0, rkt, &md, 30000);
    int n_parts = 0;
    if (me) {
        fail = "metadata request failed";
    } else if (md->topic_cnt != 1 || md->topics[0].err) {
        fail = "topic missing from metadata";
    } else {
        n_parts = md->topics[0].partition_cnt;
    }

    /* -- consume back from the beginning, no group (assign) -- */
    int consumed = 0, matched = 0, dups = 0, missing = 0, corrupt = 0, out_of_order = 0;
    int foreign = 0, eof_parts = 0;
    char group_error[256] = "";    /* first group-mode problem */
    bool committed_at_end = false; /* group mode: every partition's committed offset = its end */
    int64_t committed_total = 0;   /* group mode: sum of committed offsets */
    int group_assigned = -1;       /* group mode: partitions assigned to this member at the end */
    bool timed_out = false;
    if (cl.consume && n_parts > 0) {
        char *seen = calloc((size_t)cl.count + 1, 1);
        int *last_idx = malloc(sizeof(int) * (size_t)n_parts);
        bool *at_eof = calloc((size_t)n_parts, sizeof(bool));
        if (!seen || !last_idx || !at_eof)
            die("out of memory");
        for (int i = 0; i < n_parts; i++)
            last_idx[i] = -1;
        rd_kafka_conf_t *cconf = client_conf(&cl);
        char group[256];
        if (cl.group_id)
            snprintf(group, sizeof(group), "%s", cl.group_id);
        else
            snprintf(group, sizeof(group), "modernmock-%d", (int)getpid());
        conf_set(cconf, "group.id", group);
        if (cl.group_protocol) {
            conf_set(cconf, "group.protocol", cl.group_protocol);
            if (strcmp(cl.group_protocol, "consumer") != 0)
                conf_set(cconf, "session.timeout.ms", "6000");
        }
        conf_set(cconf, "enable.auto.commit", "false");
        conf_set(cconf, "enable.partition.eof", "true");
        conf_set(cconf, "auto.offset.reset", "earliest");
        if (cl.client_rack)
            conf_set(cconf, "client.rack", cl.client_rack);
        if (cl.pause_in_consume) {
            /* Small fetches and a short local queue, so most of the topic is still to be fetched
             * (from the leaders cached before the pause) when the consumer resumes. */
            conf_set(cconf, "max.partition.fetch.bytes", "4096");
            conf_set(cconf, "queued.min.messages", "20");
            conf_set(cconf, "queued.max.messages.kbytes", "64");
            conf_set(cconf, "fetch.queue.backoff.ms", "10");
        }
        rd_kafka_t *co = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, err, sizeof(err));
        if (!co)
            die("consumer: %s", err);
        /* Every partition, or only the one produced to (--partition). */
        rd_kafka_topic_partition_list_t *tl = rd_kafka_topic_partition_list_new(n_parts);
        int assigned = 0;
        for (int i = 0; i < n_parts; i++) {
            int32_t pid = md->topics[0].partitions[i].id;
            if (cl.partition != RD_KAFKA_PARTITION_UA && pid != cl.partition) {
                at_eof[i] = true; /* not read */
                continue;
            }
            rd_kafka_topic_partition_list_add(tl, cl.topic, pid)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
            assigned++;
        }
        eof_parts = n_parts - assigned;
        rd_kafka_resp_err_t ae;
        if (cl.group_protocol) {
            /* Group mode: the group assigns partitions; read until every message is back. */
            rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(sub, cl.topic, RD_KAFKA_PARTITION_UA);
            ae = rd_kafka_subscribe(co, sub);
            rd_kafka_topic_partition_list_destroy(sub);
            eof_parts = 0;
        } else {
            ae = rd_kafka_assign(co, tl);
        }
        rd_kafka_topic_partition_list_destroy(tl);
        if (ae)
            die("assign/subscribe: %s", rd_kafka_err2str(ae));
        double c0 = now_s();
        char ebuf[128];
        while (cl.group_protocol ? matched < cl.count : eof_parts < n_parts) {
            if (now_s() - c0 > cl.timeout_s) {
                timed_out = true;
                break;
            }
            if (cl.pause_in_consume && consumed == cl.pause_after) {
                /* Let the test move leaders while this consumer keeps its cached metadata. */
                printf("paused %d consumed\n", consumed);
                fflush(stdout);
                char go[64];
                if (!fgets(go, sizeof(go), stdin))
                    fprintf(stderr, "modernmock[client] stdin closed while paused; continuing\n");
                cl.pause_after = -1;
                c0 = now_s();
            }
            rd_kafka_message_t *m = rd_kafka_consumer_poll(co, 200);
            if (!m)
                continue;
            if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                for (int i = 0; i < n_parts; i++) {
                    if (md->topics[0].partitions[i].id == m->partition && !at_eof[i]) {
                        at_eof[i] = true;
                        eof_parts++;
                    }
                }
            } else if (m->err) {
                snprintf(ebuf, sizeof(ebuf), "%s", rd_kafka_message_errstr(m));
                fprintf(stderr, "modernmock[client] consume error: %s\n", ebuf);
                if (!cl.first_error[0])
                    snprintf(cl.first_error, sizeof(cl.first_error), "consume: %s", ebuf);
            } else {
                consumed++;
                int idx = -1;
                char want_key[128];
                if (m->key && m->key_len > 0 && m->key_len < 127) {
                    char k[128];
                    memcpy(k, m->key, m->key_len);
                    k[m->key_len] = 0;
                    char *dash = strrchr(k, 'k');
                    if (dash && dash > k && dash[-1] == '-')
                        idx = atoi(dash + 1);
                    snprintf(want_key, sizeof(want_key), "%s-k%06d", cl.tag, idx);
                    if (idx < 0 || idx >= cl.count || strcmp(k, want_key) != 0)
                        idx = -1;
                }
                if (idx < 0) {
                    foreign++;
                } else {
                    size_t vlen;
                    make_message(&cl, idx, key, sizeof(key), val, vcap, &vlen);
                    int pi = -1;
                    for (int i = 0; i < n_parts; i++)
                        if (md->topics[0].partitions[i].id == m->partition)
                            pi = i;
                    if (m->len != vlen || memcmp(m->payload, val, vlen) != 0) {
                        corrupt++;
                    } else if (seen[idx]) {
                        dups++;
                    } else {
                        seen[idx] = 1;
                        matched++;
                        if (pi >= 0) {
                            if (idx < last_idx[pi])
                                out_of_order++;
                            last_idx[pi] = idx;
                        }
                    }
                }
            }
            rd_kafka_message_destroy(m);
        }
        for (int i = 0; i < cl.count; i++)
            if (!seen[i])
                missing++;
        if (cl.group_protocol && !timed_out) {
            /* Commit what was read, then read the committed offsets back from the coordinator
             * and compare them with the partitions' ends. */
            rd_kafka_resp_err_t ce = rd_kafka_commit(co, NULL, 0);
            if (ce && ce != RD_KAFKA_RESP_ERR__NO_OFFSET)
                snprintf(group_error, sizeof(group_error), "commit: %s", rd_kafka_err2str(ce));
            rd_kafka_topic_partition_list_t *cp = rd_kafka_topic_partition_list_new(n_parts);
            for (int i = 0; i < n_parts; i++)
                rd_kafka_topic_partition_list_add(cp, cl.topic, md->topics[0].partitions[i].id);
            ce = rd_kafka_committed(co, cp, (int)(cl.timeout_s * 1000));
            if (ce && !group_error[0])
                snprintf(group_error, sizeof(group_error), "committed: %s", rd_kafka_err2str(ce));
            committed_at_end = !ce;
            for (int i = 0; !ce && i < cp->cnt; i++) {
                int64_t lo = -1, hi = -1;
                rd_kafka_resp_err_t we = rd_kafka_query_watermark_offsets(
                    co, cl.topic, cp->elems[i].partition, &lo, &hi, (int)(cl.timeout_s * 1000));
                int64_t coff = cp->elems[i].offset;
                bool at_end = !we && (coff == hi || (hi == 0 && coff < 0));
                if (!at_end) {
                    committed_at_end = false;
                    if (!group_error[0])
                        snprintf(group_error, sizeof(group_error),
                                 "partition %d committed %" PRId64 ", end %" PRId64 " (%s)",
                                 (int)cp->elems[i].partition, coff, hi, rd_kafka_err2str(we));
                }
                if (coff >= 0)
                    committed_total += coff;
            }
            rd_kafka_topic_partition_list_t *asg = NULL;
            if (!rd_kafka_assignment(co, &asg) && asg) {
                group_assigned = asg->cnt;
                rd_kafka_topic_partition_list_destroy(asg);
            }
            rd_kafka_topic_partition_list_destroy(cp);
        }
        rd_kafka_consumer_close(co);
        rd_kafka_destroy(co);
        free(seen);
        free(last_idx);
        free(at_eof);
    }

    /* -- report -- */
    pthread_mutex_lock(&cl.lock);
    if (!fail && txn_error[0])
        fail = "a transaction call failed";
    if (!fail && (cl.delivered != cl.count || cl.delivery_errors || undelivered))
        fail = "not every message was delivered";
    if (!fail && cl.consume && timed_out)
        fail = "consume timed out before every partition reached its end";
    if (!fail && cl.consume && (matched != cl.count || dups || corrupt || out_of_order))
        fail = "consumed messages differ from the produced ones";
    if (!fail && cl.consume && cl.group_protocol && (group_error[0] || !committed_at_end))
        fail = "consumer group commit/committed check failed";
    if (!fail && cl.forbid_seen[0])
        fail = "a forbidden address appeared in the client's log";

    FILE *o = stdout;
    fprintf(o, "{\"librdkafka\":");
    json_str(o, rd_kafka_version_str());
    fprintf(o, ",\"topic\":");
    json_str(o, cl.topic);
    fprintf(o,
            ",\"produced\":%d,\"delivered\":%d,\"deliveryErrors\":%d,\"undelivered\":%d,"
            "\"consumed\":%d,\"matched\":%d,\"duplicates\":%d,\"missing\":%d,\"corrupt\":%d,"
            "\"outOfOrder\":%d,\"foreign\":%d,\"consumeTimedOut\":%s,\"partitions\":%d,"
            "\"logLines\":%ld,\"firstError\":",
            cl.count, cl.delivered, cl.delivery_errors, undelivered, consumed, matched, dups,
            missing, corrupt, out_of_order, foreign, timed_out ? "true" : "false", n_parts,
            cl.log_lines);
    json_str(o, cl.first_error);
    fprintf(o, ",\"deliveredPartitions\":{");
    {
        /* messages delivered per partition */
        int counts[1024] = {0};
        for (int i = 0; i < cl.count; i++)
            if (cl.dr_partition[i] >= 0 && cl.dr_partition[i] < 1024)
                counts[cl.dr_partition[i]]++;
        bool first = true;
        for (int i = 0; i < 1024; i++) {
            if (counts[i]) {
                fprintf(o, "%s\"%d\":%d", first ? "" : ",", i, counts[i]);
                first = false;
            }
        }
    }
    fprintf(o, "},\"brokers\":[");
    if (md) {
        for (int i = 0; i < md->broker_cnt; i++) {
            fprintf(o, "%s{\"id\":%" PRId32 ",\"host\":", i ? "," : "", md->brokers[i].id);
            json_str(o, md->brokers[i].host);
            fprintf(o, ",\"port\":%d}", md->brokers[i].port);
        }
    }
    fprintf(o, "],\"leaders\":{");
    if (md && md->topic_cnt == 1) {
        for (int i = 0; i < md->topics[0].partition_cnt; i++)
            fprintf(o, "%s\"%" PRId32 "\":%" PRId32, i ? "," : "", md->topics[0].partitions[i].id,
                    md->topics[0].partitions[i].leader);
    }
    fprintf(o, "},\"requestVersions\":{");
    for (int i = 0; i < N_APIS && cl.req_name[i][0]; i++) {
        fprintf(o, "%s", i ? "," : "");
        json_str(o, cl.req_name[i]);
        fprintf(o, ":%d", cl.req_version[i]);
    }
    fprintf(o, "},\"logCounts\":{");
    for (int i = 0; i < cl.n_count_log; i++) {
        fprintf(o, "%s", i ? "," : "");
        json_str(o, cl.count_log[i]);
        fprintf(o, ":%ld", cl.count_log_n[i]);
    }
    fprintf(o, "},\"group\":{\"protocol\":");
    json_str(o, cl.group_protocol ? cl.group_protocol : "");
    fprintf(o, ",\"assigned\":%d,\"committedAtEnd\":%s,\"committedTotal\":%" PRId64 ",\"error\":",
            group_assigned, committed_at_end ? "true" : "false", committed_total);
    json_str(o, group_error);
    fprintf(o, "},\"transactionError\":");
    json_str(o, txn_error);
    fprintf(o, ",\"forbiddenSeen\":");
    json_str(o, cl.forbid_seen);
    fprintf(o, ",\"failure\":");
    json_str(o, fail ? fail : "");
    fprintf(o, ",\"ok\":%s}\n", fail ? "false" : "true");
    fflush(o);
    pthread_mutex_unlock(&cl.lock);

    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(p);
    free(val);
    free(cl.dr_partition);
    return fail ? 1 : 0;
}

int
main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage();
        return 2;
    }
    if (!strcmp(argv[1], "mock"))
        return run_mock(argc - 1, argv + 1);
    if (!strcmp(argv[1], "client"))
        return run_client(argc - 1, argv + 1);
    if (!strcmp(argv[1], "version")) {
        printf("%s\n", rd_kafka_version_str());
        return 0;
    }
    usage();
    return 2;
}

/*
 * loadgen: the librdkafka load generator used by bench/run for every leg (direct, HAProxy, strait).
 *
 * Modes (one JSON line on stdout per run):
 *   produce  acks=all, batching tuned for throughput; after --warmup, counts the bytes acknowledged
 *            during --duration (steady-state MB/s and msgs/s).
 *   fill     writes --fill-bytes into every partition of a topic (for fetch runs); the mock keeps
 *            at most ~5 MiB per partition, so stay below that.
 *   fetch    consumes a pre-filled topic from its low watermark, seeking each partition back to the
 *            start when its last message is read, and counts the bytes consumed during --duration.
 *   latency  produces at a fixed --rate on an open-loop schedule (no coordinated omission) with
 *            linger.ms=0, TCP_NODELAY and one request in flight, and reports p50/p90/p99/p99.9 of
 * (delivery report time - scheduled time).
 * --watch NAME=PID samples /proc/PID/stat utime+stime at the window edges, so bench/run gets the
 * CPU seconds each process spent during exactly the bytes that were counted.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#define LG_MAX_WATCH 8
#define LG_MAX_X 64
#define LG_MAX_PARTS 4096

enum lg_mode { LG_PRODUCE, LG_FILL, LG_FETCH, LG_LATENCY };

/* Which part of the run a delivery report or consumed message belongs to. */
enum lg_phase { LG_WARMUP, LG_WINDOW, LG_AFTER };

struct lg_watch {
    char name[32];    /* label in the JSON output */
    long pid;         /* process to sample */
    double cpu_start; /* utime+stime at window start, seconds */
    double cpu_end;   /* utime+stime at window end, seconds */
};

struct lg_opts {
    enum lg_mode mode;                   /* what to run */
    const char *bootstrap;               /* bootstrap.servers */
    const char *topic;                   /* topic to use */
    const char *label;                   /* free text copied into the JSON output */
    size_t size;                         /* message payload size in bytes */
    double duration;                     /* measurement window, seconds */
    double warmup;                       /* time before the window, seconds */
    long long count;                     /* produce: stop after this many messages (0: duration) */
    double rate;                         /* latency: messages per second */
    long long fill_bytes;                /* fill: bytes per partition */
    int timeout;                         /* hard deadline for the whole run, seconds */
    const char *xkeys[LG_MAX_X];         /* -X overrides: keys */
    const char *xvals[LG_MAX_X];         /* -X overrides: values */
    int nx;                              /* number of -X overrides */
    struct lg_watch watch[LG_MAX_WATCH]; /* processes whose CPU time is sampled */
    int nwatch;                          /* number of --watch entries */
};

/* Counters updated from delivery reports (produce/fill: main thread polls). */
struct lg_counts {
    long long msgs[3];     /* acknowledged messages per phase */
    long long bytes[3];    /* acknowledged payload bytes per phase */
    long long errors;      /* failed deliveries */
    char first_error[256]; /* text of the first delivery error */
};

static struct lg_opts opt;
static struct lg_counts cnt;
static volatile enum lg_phase cur_phase = LG_WARMUP;
static char *payload;

/* Latency mode state: per message scheduled send time and measured latency (ns). */
static int64_t lat_t0;
static double lat_period_ns;
static int64_t *lat_ns;
static long long lat_n;
static atomic_int lat_stop;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Prints the error on stderr and as {"error": ...} on stdout, then exits 1. */
static void
die(const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "loadgen: %s\n", msg);
    printf("{\"error\":\"");
    for (const char *p = msg; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            putchar('\\');
        putchar((unsigned char)*p >= 0x20 ? *p : ' ');
    }
    printf("\"}\n");
    fflush(stdout);
    exit(1);
}

static void
on_alarm(int sig)
{
    static const char msg[] = "{\"error\":\"loadgen: hard timeout\"}\n";
    ssize_t r = write(STDOUT_FILENO, msg, sizeof(msg) - 1);

    (void)sig;
    (void)r;
    _exit(3);
}

static int64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* utime+stime of a process in seconds, or -1 if it cannot be read. */
static double
proc_cpu(long pid)
{
    char path[64], buf[1024];
    FILE *f;
    size_t n;
    const char *p;
    unsigned long long ut = 0, st = 0;

    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (f == NULL)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* comm may contain spaces: fields are counted after the last ')'. */
    p = strrchr(buf, ')');
    if (p == NULL ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double self_cpu_start, self_cpu_end;

static void
sample_cpu(int end)
{
    for (int i = 0; i < opt.nwatch; i++) {
        double v = proc_cpu(opt.watch[i].pid);
        if (end)
            opt.watch[i].cpu_end = v;
        else
            opt.watch[i].cpu_start = v;
    }
    if (end)
        self_cpu_end = self_cpu();
    else
        self_cpu_start = self_cpu();
}

static void
set_conf(rd_kafka_conf_t *conf, const char *key, const char *val)
{
    char errstr[512];

    if (rd_kafka_conf_set(conf, key, val, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
        die("config: %s", errstr);
}

static rd_kafka_conf_t *
base_conf(void)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();

    set_conf(conf, "bootstrap.servers", opt.bootstrap);
    set_conf(conf, "client.id", "strait-loadgen");
    set_conf(conf, "log_level", "4");
    return conf;
}

static void
apply_overrides(rd_kafka_conf_t *conf)
{
    for (int i = 0; i < opt.nx; i++)
        set_conf(conf, opt.xkeys[i], opt.xvals[i]);
}

static rd_kafka_t *
new_client(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));

    if (rk == NULL)
        die("rd_kafka_new: %s", errstr);
    return rk;
}

/* Partition count of opt.topic; also primes the connections before any clock starts. */
static int
topic_partitions(rd_kafka_t *rk)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, opt.topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;
    int parts = -1;

    for (int attempt = 0; attempt < 6; attempt++) {
        err = rd_kafka_metadata(rk, 0, rkt, &md, 2500);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 && md->topics[0].err == 0 &&
            md->topics[0].partition_cnt > 0) {
            parts = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
            break;
        }
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            rd_kafka_metadata_destroy(md);
        usleep(100000);
    }
    rd_kafka_topic_destroy(rkt);
    if (parts < 0)
        die("no metadata for topic %s", opt.topic);
    if (parts > LG_MAX_PARTS)
        parts = LG_MAX_PARTS;
    return parts;
}

/* Prints ,"brokers":[...] with the broker addresses the client was told about. */
static void
print_brokers(rd_kafka_t *rk)
{
    const struct rd_kafka_metadata *md = NULL;

    printf(",\"brokers\":[");
    if (rd_kafka_metadata(rk, 0, NULL, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < md->broker_cnt; i++)
            printf("%s\"%d@%s:%d\"", i ? "," : "", (int)md->brokers[i].id, md->brokers[i].host,
                   md->brokers[i].port);
        rd_kafka_metadata_destroy(md);
    }
    printf("]");
}

static void
print_head(const char *mode)
{
    printf("{\"mode\":\"%s\",\"label\":\"", mode);
    for (const char *p = opt.label; *p != '\0'; p++)
        if ((unsigned char)*p >= 0x20 && *p != '"' && *p != '\\')
            putchar(*p);
    printf("\",\"topic\":\"%s\",\"size\":%zu", opt.topic, opt.size);
}

static void
print_cpu(void)
{
    printf(",\"cpu\":{\"loadgen\":%.3f", self_cpu_end - self_cpu_start);
    for (int i = 0; i < opt.nwatch; i++) {
        struct lg_watch *w = &opt.watch[i];
        if (w->cpu_start < 0 || w->cpu_end < 0)
            printf(",\"%s\":null", w->name);
        else
            printf(",\"%s\":%.3f", w->name, w->cpu_end - w->cpu_start);
    }
    printf("}");
}

static void
dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (cnt.errors++ == 0)
            snprintf(cnt.first_error, sizeof(cnt.first_error), "%s", rd_kafka_err2str(m->err));
        return;
    }
    cnt.msgs[cur_phase]++;
    cnt.bytes[cur_phase] += (long long)m->len;
}

static void lat_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);

static rd_kafka_t *
new_producer(int latency)
{
    rd_kafka_conf_t *conf = base_conf();

    set_conf(conf, "acks", "all");
    set_conf(conf, "enable.idempotence", "false");
    set_conf(conf, "compression.codec", "none");
    if (latency) {
        /* Send each message at once; TCP_NODELAY as Kafka's Java client does (librdkafka 2.0.2
         * leaves Nagle on, which adds delayed-ACK stalls of ~40 ms to the tail). One request in
         * flight per broker: at this rate pipelining is not needed, and with it librdkafka 2.0.2
         * adds ~1 ms to the median here (p50 1.1 ms vs 0.16 ms direct at 2000 msg/s), which would
         * hide what a proxy adds. The open-loop schedule still counts any queueing. */
        set_conf(conf, "linger.ms", "0");
        set_conf(conf, "socket.nagle.disable", "true");
        set_conf(conf, "max.in.flight", "1");
    } else {
        /* Throughput: large batches, a bounded queue (so that the flush after the window is
         * short), many messages per batch for small payloads. */
        set_conf(conf, "linger.ms", opt.mode == LG_FILL ? "50" : "5");
        set_conf(conf, "batch.size", "1000000");
        set_conf(conf, "batch.num.messages", "100000");
        set_conf(conf, "queue.buffering.max.kbytes", "65536");
        set_conf(conf, "queue.buffering.max.messages", "1000000");
    }
    rd_kafka_conf_set_dr_msg_cb(conf, latency ? lat_dr_cb : dr_cb);
    apply_overrides(conf);
    return new_client(RD_KAFKA_PRODUCER, conf);
}

/* produce and fill modes. */
static int
run_produce(void)
{
    rd_kafka_t *rk = new_producer(0);
    rd_kafka_topic_t *rkt;
    int parts = topic_partitions(rk);
    long long sent = 0, total_target = 0, per_part = 0;
    int64_t t0, tw, te, t_end, now;
    int fill = opt.mode == LG_FILL;

    rkt = rd_kafka_topic_new(rk, opt.topic, NULL);
    if (fill) {
        per_part = (opt.fill_bytes + (long long)opt.size - 1) / (long long)opt.size;
        total_target = per_part * parts;
    } else if (opt.count > 0) {
        total_target = opt.count;
    }
    /* Count-limited runs measure everything; duration runs measure the window only. */
    cur_phase = total_target > 0 ? LG_WINDOW : LG_WARMUP;
    t0 = now_ns();
    tw = t0 + (int64_t)(opt.warmup * 1e9);
    te = tw + (int64_t)(opt.duration * 1e9);
    if (cur_phase == LG_WINDOW)
        sample_cpu(0);

    for (;;) {
        int32_t part;

        if ((sent & 255) == 0) {
            now = now_ns();
            if (total_target == 0) {
                if (cur_phase == LG_WARMUP && now >= tw) {
                    rd_kafka_poll(rk, 0); /* attribute earlier reports to the warmup */
                    cur_phase = LG_WINDOW;
                    sample_cpu(0);
                }
                if (now >= te)
                    break;
            }
            rd_kafka_poll(rk, 0);
        }
        if (total_target > 0 && sent >= total_target)
            break;
        /* fill: partition by partition; produce: round-robin, even load over all brokers. */
        part = fill ? (int32_t)(sent / per_part) : (int32_t)(sent % parts);
        if (rd_kafka_produce(rkt, part, 0, payload, opt.size, NULL, 0, NULL) == -1) {
            rd_kafka_resp_err_t err = rd_kafka_last_error();
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(rk, 1);
                if (total_target == 0 && now_ns() >= te)
                    break;
                continue;
            }
            die("produce: %s", rd_kafka_err2str(err));
        }
        sent++;
    }
    if (total_target == 0) {
        rd_kafka_poll(rk, 0); /* reports that arrived inside the window */
        sample_cpu(1);
        cur_phase = LG_AFTER;
        t_end = te;
    }
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("flush timed out (60 s)");
    if (total_target > 0) {
        t_end = now_ns();
        sample_cpu(1);
        tw = t0;
    }

    {
        double secs = (double)(t_end - tw) / 1e9;
        long long wb = cnt.bytes[LG_WINDOW], wm = cnt.msgs[LG_WINDOW];
        print_head(fill ? "fill" : "produce");
        printf(",\"partitions\":%d,\"seconds\":%.3f,\"msgs\":%lld,\"bytes\":%lld", parts, secs, wm,
               wb);
        printf(",\"mb_s\":%.2f,\"msgs_s\":%.0f", (double)wb / secs / 1e6, (double)wm / secs);
        printf(",\"total_msgs\":%lld,\"errors\":%lld", cnt.msgs[0] + cnt.msgs[1] + cnt.msgs[2],
               cnt.errors);
        if (cnt.errors > 0)
            printf(",\"first_error\":\"%s\"", cnt.first_error);
        print_cpu();
        print_brokers(rk);
        printf("}\n");
        fflush(stdout);
    }
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return cnt.errors > 0 ? 1 : 0;
}

/* fetch mode. */
static int
run_fetch(void)
{
    rd_kafka_conf_t *conf = base_conf();
    char group[64];
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *assign;
    rd_kafka_queue_t *q;
    int parts, nassigned = 0;
    static int64_t low[LG_MAX_PARTS], high[LG_MAX_PARTS];
    rd_kafka_message_t *msgs[4096];
    long long bytes[3] = {0, 0, 0}, nmsgs[3] = {0, 0, 0}, errors = 0, wraps = 0;
    int64_t t0, tw, te, now;
    char first_error[256] = "";

    snprintf(group, sizeof(group), "strait-loadgen-%ld", (long)getpid());
    set_conf(conf, "group.id", group);
    set_conf(conf, "enable.auto.commit", "false");
    set_conf(conf, "enable.auto.offset.store", "false");
    set_conf(conf, "auto.offset.reset", "earliest");
    set_conf(conf, "enable.partition.eof", "false");
    set_conf(conf, "fetch.wait.max.ms", "100");
    /* librdkafka 2.0.2 stalls ~1 s whenever the local queue fills: keep it large. */
    set_conf(conf, "queued.min.messages", "1000000");
    set_conf(conf, "queued.max.messages.kbytes", "262144");
    apply_overrides(conf);
    rk = new_client(RD_KAFKA_CONSUMER, conf);
    parts = topic_partitions(rk);

    assign = rd_kafka_topic_partition_list_new(parts);
    for (int p = 0; p < parts; p++) {
        if (rd_kafka_query_watermark_offsets(rk, opt.topic, p, &low[p], &high[p], 5000) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
            die("watermarks of %s failed", opt.topic);
        if (high[p] > low[p]) {
            rd_kafka_topic_partition_list_add(assign, opt.topic, p)->offset = low[p];
            nassigned++;
        }
    }
    if (nassigned == 0)
        die("topic %s is empty: run the fill mode first", opt.topic);
    if (rd_kafka_assign(rk, assign) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("assign failed");
    rd_kafka_topic_partition_list_destroy(assign);
    q = rd_kafka_queue_get_consumer(rk);

    t0 = now_ns();
    tw = t0 + (int64_t)(opt.warmup * 1e9);
    te = tw + (int64_t)(opt.duration * 1e9);
    cur_phase = LG_WARMUP;
    for (;;) {
        ssize_t n;

        now = now_ns();
        if (cur_phase == LG_WARMUP && now >= tw) {
            cur_phase = LG_WINDOW;
            sample_cpu(0);
        }
        if (now >= te)
            break;
        n = rd_kafka_consume_batch_queue(q, 100, msgs, sizeof(msgs) / sizeof(msgs[0]));
        for (ssize_t i = 0; i < n; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF && errors++ == 0)
                    snprintf(first_error, sizeof(first_error), "%s", rd_kafka_message_errstr(m));
            } else {
                int32_t p = m->partition;
                nmsgs[cur_phase]++;
                bytes[cur_phase] += (long long)m->len + (long long)m->key_len;
                if (p >= 0 && p < parts && m->offset >= high[p] - 1) {
                    /* Last message of the partition: start it over (the mock caps a partition
                     * at ~5 MiB, so a few-second run must read the data several times). */
                    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
                    rd_kafka_error_t *e;
                    rd_kafka_topic_partition_list_add(l, opt.topic, p)->offset = low[p];
                    e = rd_kafka_seek_partitions(rk, l, 0);
                    if (e != NULL)
                        rd_kafka_error_destroy(e);
                    rd_kafka_topic_partition_list_destroy(l);
                    wraps++;
                }
            }
            rd_kafka_message_destroy(m);
        }
    }
    sample_cpu(1);

    {
        double secs = (double)(te - tw) / 1e9;
        print_head("fetch");
        printf(",\"partitions\":%d,\"seconds\":%.3f,\"msgs\":%lld,\"bytes\":%lld", nassigned, secs,
               nmsgs[LG_WINDOW], bytes[LG_WINDOW]);
        printf(",\"mb_s\":%.2f,\"msgs_s\":%.0f", (double)bytes[LG_WINDOW] / secs / 1e6,
               (double)nmsgs[LG_WINDOW] / secs);
        printf(",\"wraps\":%lld,\"errors\":%lld", wraps, errors);
        if (errors > 0)
            printf(",\"first_error\":\"%s\"", first_error);
        print_cpu();
        print_brokers(rk);
        printf("}\n");
        fflush(stdout);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return errors > 0 ? 1 : 0;
}

static void
lat_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    long long idx = (long long)(intptr_t)m->_private;
    int64_t sched;

    (void)rk;
    (void)opaque;
    if (idx < 0 || idx >= lat_n)
        return;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (cnt.errors++ == 0)
            snprintf(cnt.first_error, sizeof(cnt.first_error), "%s", rd_kafka_err2str(m->err));
        lat_ns[idx] = -1;
        return;
    }
    sched = lat_t0 + (int64_t)((double)idx * lat_period_ns);
    lat_ns[idx] = now_ns() - sched;
}

static void *
lat_poller(void *arg)
{
    rd_kafka_t *rk = arg;

    while (!atomic_load(&lat_stop))
        rd_kafka_poll(rk, 20);
    return NULL;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static double
pct_ms(const int64_t *sorted, long long n, double q)
{
    long long i = (long long)ceil(q * (double)n) - 1;

    if (i < 0)
        i = 0;
    if (i >= n)
        i = n - 1;
    return (double)sorted[i] / 1e6;
}

/* latency mode. */
static int
run_latency(void)
{
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    pthread_t poller;
    int parts;
    long long warm_n, nvalid = 0, dropped = 0;
    int64_t *sorted;
    double sum = 0;

    if (opt.rate <= 0)
        die("--rate must be > 0");
    lat_n = (long long)(opt.rate * (opt.warmup + opt.duration));
    warm_n = (long long)(opt.rate * opt.warmup);
    if (lat_n <= warm_n || lat_n > 100000000)
        die("bad --rate/--duration combination");
    lat_ns = calloc((size_t)lat_n, sizeof(*lat_ns));
    sorted = calloc((size_t)lat_n, sizeof(*sorted));
    if (lat_ns == NULL || sorted == NULL)
        die("out of memory");
    for (long long i = 0; i < lat_n; i++)
        lat_ns[i] = INT64_MIN;

    rk = new_producer(1);
    rkt = rd_kafka_topic_new(rk, opt.topic, NULL);
    parts = topic_partitions(rk);
    if (pthread_create(&poller, NULL, lat_poller, rk) != 0)
        die("pthread_create failed");

    lat_period_ns = 1e9 / opt.rate;
    lat_t0 = now_ns() + 1000000;
    for (long long i = 0; i < lat_n; i++) {
        int64_t sched = lat_t0 + (int64_t)((double)i * lat_period_ns);
        struct timespec ts = {.tv_sec = sched / 1000000000, .tv_nsec = sched % 1000000000};

        if (i == warm_n)
            sample_cpu(0);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
        if (rd_kafka_produce(rkt, (int32_t)(i % parts), 0, payload, opt.size, NULL, 0,
                             (void *)(intptr_t)i) == -1) {
            lat_ns[i] = -1;
            dropped++;
        }
    }
    sample_cpu(1);
    if (rd_kafka_flush(rk, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
        die("flush timed out");
    atomic_store(&lat_stop, 1);
    pthread_join(poller, NULL);

    for (long long i = warm_n; i < lat_n; i++) {
        if (lat_ns[i] >= 0) {
            sorted[nvalid++] = lat_ns[i];
            sum += (double)lat_ns[i];
        }
    }
    if (nvalid == 0)
        die("no successful deliveries");
    qsort(sorted, (size_t)nvalid, sizeof(*sorted), cmp_i64);

    print_head("latency");
    printf(",\"partitions\":%d,\"rate\":%.0f,\"seconds\":%.3f,\"samples\":%lld", parts, opt.rate,
           opt.duration, nvalid);
    printf(",\"p50_ms\":%.4f,\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"p999_ms\":%.4f,\"max_ms\":%.4f",
           pct_ms(sorted, nvalid, 0.50), pct_ms(sorted, nvalid, 0.90), pct_ms(sorted, nvalid, 0.99),
           pct_ms(sorted, nvalid, 0.999), (double)sorted[nvalid - 1] / 1e6);
    printf(",\"mean_ms\":%.4f,\"errors\":%lld,\"dropped\":%lld", sum / (double)nvalid / 1e6,
           cnt.errors, dropped);
    if (cnt.errors > 0)
        printf(",\"first_error\":\"%s\"", cnt.first_error);
    print_cpu();
    print_brokers(rk);
    printf("}\n");
    fflush(stdout);

    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(lat_ns);
    free(sorted);
    return cnt.errors > 0 || dropped > 0 ? 1 : 0;
}

static void
usage(FILE *out)
{
    fprintf(
        out,
        "usage: loadgen --mode produce|fill|fetch|latency --bootstrap HOST:PORT[,...] [options]\n"
        "  -t, --topic T            topic (default bench)\n"
        "  -s, --size N             message size in bytes (default 1024)\n"
        "  -d, --duration S         measurement window in seconds (default 5)\n"
        "  -w, --warmup S           seconds before the window (default 1)\n"
        "  -n, --count N            produce: N messages, measured start to flush\n"
        "  -r, --rate R             latency: messages per second (default 2000)\n"
        "      --fill-bytes B       fill: bytes per partition (default 4194304)\n"
        "  -W, --watch NAME=PID     report CPU seconds of PID during the window\n"
        "  -l, --label TEXT         copied into the JSON output\n"
        "  -X key=value             librdkafka property override (repeatable)\n"
        "      --timeout S          hard deadline for the run (default duration+warmup+60)\n");
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"mode", required_argument, NULL, 'm'},
        {"bootstrap", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"size", required_argument, NULL, 's'},
        {"duration", required_argument, NULL, 'd'},
        {"warmup", required_argument, NULL, 'w'},
        {"count", required_argument, NULL, 'n'},
        {"rate", required_argument, NULL, 'r'},
        {"fill-bytes", required_argument, NULL, 'F'},
        {"watch", required_argument, NULL, 'W'},
        {"label", required_argument, NULL, 'l'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *mode = NULL;
    int c, rc;

    opt.topic = "bench";
    opt.label = "";
    opt.size = 1024;
    opt.duration = 5;
    opt.warmup = 1;
    opt.rate = 2000;
    opt.fill_bytes = 4 * 1024 * 1024;
    while ((c = getopt_long(argc, argv, "m:b:t:s:d:w:n:r:W:l:X:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            mode = optarg;
            break;
        case 'b':
            opt.bootstrap = optarg;
            break;
        case 't':
            opt.topic = optarg;
            break;
        case 's':
            opt.size = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 'd':
            opt.duration = strtod(optarg, NULL);
            break;
        case 'w':
            opt.warmup = strtod(optarg, NULL);
            break;
        case 'n':
            opt.count = strtoll(optarg, NULL, 10);
            break;
        case 'r':
            opt.rate = strtod(optarg, NULL);
            break;
        case 'F':
            opt.fill_bytes = strtoll(optarg, NULL, 10);
            break;
        case 'T':
            opt.timeout = atoi(optarg);
            break;
        case 'l':
            opt.label = optarg;
            break;
        case 'W': {
            const char *eq = strchr(optarg, '=');
            struct lg_watch *w;
            if (eq == NULL || opt.nwatch == LG_MAX_WATCH ||
                (size_t)(eq - optarg) >= sizeof(opt.watch[0].name) || eq == optarg)
                die("bad --watch '%s' (want NAME=PID)", optarg);
            w = &opt.watch[opt.nwatch++];
            memcpy(w->name, optarg, (size_t)(eq - optarg));
            w->name[eq - optarg] = '\0';
            w->pid = strtol(eq + 1, NULL, 10);
            break;
        }
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (eq == NULL || opt.nx == LG_MAX_X)
                die("bad -X '%s' (want key=value)", optarg);
            *eq = '\0';
            opt.xkeys[opt.nx] = optarg;
            opt.xvals[opt.nx++] = eq + 1;
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (mode == NULL || opt.bootstrap == NULL || optind != argc) {
        usage(stderr);
        return 2;
    }
    if (strcmp(mode, "produce") == 0)
        opt.mode = LG_PRODUCE;
    else if (strcmp(mode, "fill") == 0)
        opt.mode = LG_FILL;
    else if (strcmp(mode, "fetch") == 0)
        opt.mode = LG_FETCH;
    else if (strcmp(mode, "latency") == 0)
        opt.mode = LG_LATENCY;
    else
        die("unknown --mode %s", mode);
    if (opt.size == 0 || opt.size > 900000 || opt.duration <= 0 || opt.warmup < 0 ||
        opt.fill_bytes <= 0)
        die("bad --size/--duration/--warmup/--fill-bytes");

    payload = malloc(opt.size);
    if (payload == NULL)
        die("out of memory");
    for (size_t i = 0; i < opt.size; i++)
        payload[i] = (char)('a' + (i * 7) % 26);

    signal(SIGALRM, on_alarm);
    alarm(opt.timeout > 0 ? (unsigned)opt.timeout : (unsigned)(opt.duration + opt.warmup + 90));

    switch (opt.mode) {
    case LG_PRODUCE:
    case LG_FILL:
        rc = run_produce();
        break;
    case LG_FETCH:
        rc = run_fetch();
        break;
    default:
        rc = run_latency();
        break;
    }
    free(payload);
    return rc;
}

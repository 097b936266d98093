/*
 * straitd: the strait daemon. Parses flags, starts the embedded cluster or points at an upstream,
 * binds endpoints, serves the admin socket, and runs the event loop until SIGTERM/SIGINT.
 *
 * Start-up order matters: endpoints bind the ports already in the persisted map at once, but
 * accept nothing until broker discovery has run; the ready file is written (and READY=1 sent to
 * systemd's $NOTIFY_SOCKET) only then. SIGHUP re-reads --config and applies what can change at
 * runtime, and reloads the API's TLS certificate; SIGTERM drains (stop accepting, wait up to
 * --shutdown-grace for open connections).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <jansson.h>

#include "app/admin.h"
#include "app/embedded.h"
#include "authz/audit.h"
#include "ctl/ctl.h"
#include "gateway/gateway.h"
#include "net/handshake.h"
#include "util/log.h"

#define STRAITD_VERSION "0.1.0"

/* getopt value of --kafka-super-users (outside the single-character range). */
#define OPT_SUPER_USERS 0x100
/* getopt value of --insecure-skip-authorization. */
#define OPT_SKIP_AUTHZ 0x101
/* getopt value of --no-splice. */
#define OPT_NO_SPLICE 0x102
/* getopt value of --tls-handshake-threads. */
#define OPT_HS_THREADS 0x103
/* getopt value of --auth-timeout-ms. */
#define OPT_AUTH_TIMEOUT 0x104
/* getopt values of the endpoint TLS file flags (0x110 + index into straitd_opts.ep_tls). */
#define OPT_EP_TLS 0x110
/* getopt values of the --upstream-* security flags. */
#define OPT_UP_PROTOCOL 0x180
#define OPT_UP_MECH 0x181
#define OPT_UP_USER 0x182
#define OPT_UP_PASSWORD_FILE 0x183
#define OPT_UP_CA 0x184
#define OPT_UP_CERT 0x185
#define OPT_UP_KEY 0x186
#define OPT_UP_VERIFY_HOST 0x187

struct straitd_opts {
    const char *data_dir;           /* --data-dir */
    int embedded_brokers;           /* --embedded-kafka N, 0 = none */
    const char *upstream;           /* --upstream host:port,... */
    const char *insecure_endpoint;  /* --insecure-endpoint ADDR */
    int port_min, port_max;         /* --port-range */
    const char *ready_file;         /* --ready-file */
    uint32_t refresh_ms;            /* --metadata-refresh-ms */
    const char *api_listen;         /* --api-listen ADDR:PORT (MSK API), NULL = none */
    const char *api_tls_cert;       /* --api-tls-cert PEM (HTTPS API) */
    const char *api_tls_key;        /* --api-tls-key PEM */
    int create_timeout;             /* --cluster-create-timeout SECONDS (0 = default) */
    const char *config;             /* --config FILE (re-read on SIGHUP) */
    const char *metrics_listen;     /* --metrics-listen ADDR:PORT, NULL = none */
    int shutdown_grace;             /* --shutdown-grace SECONDS */
    double price_gb;                /* --price-per-gb USD (-1 = default) */
    double price_conn_hour;         /* --price-per-connection-hour USD (-1 = default) */
    int usage_flush;                /* --usage-flush-seconds */
    const char *audit_log;          /* --audit-log FILE (NULL = DATA_DIR/audit.log, "none" = off) */
    bool audit_all;                 /* --audit-all-decisions */
    uint64_t audit_max_bytes;       /* --audit-max-bytes N (0 = default 64 MiB) */
    unsigned audit_keep;            /* --audit-keep N (0 = default 5) */
    const char *kafka_super_users;  /* --kafka-super-users "User:a;User:b" */
    bool skip_authorization;        /* --insecure-skip-authorization (benchmarks only) */
    bool no_splice;                 /* --no-splice */
    uint32_t auth_timeout_ms;       /* --auth-timeout-ms (0 = default 30000) */
    const char *up_protocol;        /* --upstream-security-protocol, NULL = PLAINTEXT */
    const char *up_mech;            /* --upstream-sasl-mechanism, NULL = SCRAM-SHA-512 */
    const char *up_user;            /* --upstream-sasl-username */
    const char *up_password_file;   /* --upstream-sasl-password-file */
    const char *up_ca;              /* --upstream-ca PEM, NULL = system trust store */
    const char *up_cert;            /* --upstream-cert PEM (mTLS to the brokers) */
    const char *up_key;             /* --upstream-key PEM */
    const char *up_verify_host;     /* --upstream-ssl-verify-hostname true|false */
    struct st_ctl_tls_files ep_tls; /* --endpoint-ca-cert ... --endpoint-principal-mapping-rules */
    int hs_threads;                 /* --tls-handshake-threads N (0 = on the loop, -1 = default) */
};

struct straitd {
    struct straitd_opts o;         /* parsed flags */
    struct event_base *base;       /* the loop */
    struct evdns_base *dns;        /* resolver */
    struct st_embedded *embedded;  /* embedded cluster or NULL */
    struct st_gw_cluster *cluster; /* the gateway */
    struct st_admin *admin;        /* admin socket */
    struct st_ctl *ctl;            /* control plane (store, MSK API, VPC connections) */
    struct st_audit *audit;        /* authorization audit log or NULL (--audit-log none) */
    struct st_hs_pool *hs_pool;    /* TLS handshake threads, NULL = handshakes on the loop */
    char admin_path[4096];         /* its path */
    struct evhttp *metrics;        /* --metrics-listen server or NULL */
    char metrics_addr[128];        /* its bound address */
    struct event *drain_timer;     /* polls open connections while draining */
    int64_t drain_deadline;        /* monotonic seconds when draining gives up */
    bool draining;                 /* SIGTERM received */
    bool ready;                    /* READY=1 sent */
};

static void
usage(FILE *f)
{
    fprintf(
        f,
        "usage: straitd --data-dir DIR (--embedded-kafka N | --upstream HOST:PORT[,...])\n"
        "               --insecure-endpoint ADDR [options]\n"
        "       straitd --data-dir DIR --api-listen ADDR:PORT [options]   (control plane only)\n"
        "\n"
        "  --data-dir DIR            state directory (port map, admin socket); created if missing\n"
        "  --embedded-kafka N        run librdkafka's mock cluster with N brokers in-process\n"
        "  --upstream LIST           bootstrap servers of an existing Kafka cluster\n"
        "  --insecure-endpoint ADDR  serve a PLAINTEXT, UNAUTHENTICATED endpoint on ADDR\n"
        "                            (development and benchmarks only)\n"
        "  --port-range A-B          endpoint ports, one per broker (default 14001-14100)\n"
        "  --ready-file FILE         write JSON with every bound address once serving\n"
        "  --metadata-refresh-ms MS  broker discovery interval (default 10000)\n"
        "  --api-listen ADDR:PORT    serve the MSK-compatible control-plane API (SigV4) there\n"
        "  --api-tls-cert FILE       serve the API over HTTPS with this PEM chain...\n"
        "  --api-tls-key FILE        ...and this PEM private key\n"
        "  --cluster-create-timeout S  a new cluster whose external upstream never answers\n"
        "                            is FAILED after S seconds (default 120)\n"
        "  --log-level LEVEL         error|warn|info|debug|trace (default info)\n"
        "  --log-format FORMAT       logfmt|json (default logfmt)\n"
        "  --log-categories LIST     debug categories printed at any level: proto,http,api,\n"
        "                            meter,gateway,store,auth or all\n"
        "  --metrics-listen ADDR:PORT  serve Prometheus metrics on GET /metrics there\n"
        "  --shutdown-grace S        on SIGTERM stop accepting and let open connections\n"
        "                            finish for up to S seconds (default 0)\n"
        "  --price-per-gb USD        usage price per GB (2^30 bytes) processed (default 0.006)\n"
        "  --price-per-connection-hour USD  per VPC-connection hour (default 0.0225)\n"
        "  --usage-flush-seconds S   write metered usage every S seconds (default 60)\n"
        "  --audit-log FILE          authorization audit log, JSON lines (default\n"
        "                            DATA_DIR/audit.log; \"none\" turns it off)\n"
        "  --audit-all-decisions     record allowed decisions too (default: denials only)\n"
        "  --audit-max-bytes N       rotate the audit log at N bytes (K, M, G suffixes;\n"
        "                            default 64M)\n"
        "  --audit-keep N            rotated audit logs kept: FILE.1 ... FILE.N (default 5)\n"
        "  --insecure-skip-authorization  development and benchmarks only: authenticated\n"
        "                            clients of VPC-connection endpoints are not authorized\n"
        "  --auth-timeout-ms MS      close endpoint clients not authenticated (TLS + SASL)\n"
        "                            MS after connecting (default 30000)\n"
        "  --no-splice               copy passthrough bytes through user space instead of\n"
        "                            splice(2) on plaintext connections (troubleshooting)\n"
        "  --kafka-super-users LIST  Kafka super users of every cluster (SASL/SCRAM, mTLS),\n"
        "                            e.g. \"User:admin;User:ops\"\n"
        "  --endpoint-ca-cert FILE   issuing CA of the endpoint certificates (PEM; default\n"
        "                            DATA_DIR/tls/ca.pem, created on first use)...\n"
        "  --endpoint-ca-key FILE    ...and its private key (default DATA_DIR/tls/ca.key)\n"
        "  --endpoint-cert FILE      one certificate chain for every endpoint (PEM; its SANs\n"
        "                            must name the endpoint addresses) instead of issued ones...\n"
        "  --endpoint-key FILE       ...and its private key\n"
        "  --endpoint-client-ca FILE CA bundle mutual-TLS client certificates must chain to\n"
        "                            (default DATA_DIR/tls/client-ca.pem, else the issuing CA)\n"
        "  --endpoint-principal-mapping-rules RULES  Kafka ssl.principal.mapping.rules for\n"
        "                            mutual-TLS principals (default DATA_DIR/tls/\n"
        "                            principal-mapping-rules, else DEFAULT); the files are\n"
        "                            watched and reloaded without a restart\n"
        "  --tls-handshake-threads N  threads running the TLS handshakes of endpoint\n"
        "                            connections (default: online CPUs - 1, at most 8;\n"
        "                            0 = on the event loop)\n"
        "  --upstream-security-protocol P  how strait connects to --upstream brokers:\n"
        "                            PLAINTEXT (default), SSL, SASL_PLAINTEXT, SASL_SSL\n"
        "  --upstream-sasl-mechanism M  PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (default)\n"
        "  --upstream-sasl-username U  strait's SASL user on the brokers\n"
        "  --upstream-sasl-password-file F  file holding its password (never a flag)\n"
        "  --upstream-ca FILE        PEM CA bundle for broker certificates (default: system)\n"
        "  --upstream-cert FILE      client certificate for mutual TLS to the brokers...\n"
        "  --upstream-key FILE       ...and its private key\n"
        "  --upstream-ssl-verify-hostname B  check the broker certificate names the host it\n"
        "                            advertises (default true)\n"
        "  --config FILE             `flag = value` lines (flag names without --), read\n"
        "                            first and again on SIGHUP (reloadable settings)\n"
        "  --version                 print the version\n");
}

static int
parse_range(const char *s, int *a, int *b)
{
    char *end;
    long x = strtol(s, &end, 10);
    if (*end != '-')
        return -1;
    long y = strtol(end + 1, &end, 10);
    if (*end || x < 1 || y > 65535 || x > y)
        return -1;
    *a = (int)x;
    *b = (int)y;
    return 0;
}

/* "true|yes|on|1" -> 1, "false|no|off|0" -> 0, anything else -1. */
static int
parse_bool(const char *s)
{
    if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on") || !strcmp(s, "1"))
        return 1;
    if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off") || !strcmp(s, "0"))
        return 0;
    return -1;
}

/* "N", "NK", "NM", "NG", "NT" (powers of 1024) from 4096 bytes to 1 TiB. Returns 0 or -1. */
static int
parse_size(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || errno || *s == '-')
        return -1;
    unsigned shift = 0;
    if (*end) {
        const char *units = "KMGT";
        const char *u = strchr(units, *end >= 'a' ? *end - 32 : *end);
        if (!u || !*u)
            return -1;
        shift = 10u * (unsigned)(u - units + 1);
        end++;
        if (*end == 'i' || *end == 'I')
            end++;
        if (*end == 'B' || *end == 'b')
            end++;
        if (*end)
            return -1;
    }
    if (v > (1ull << 40) >> shift)
        return -1;
    v <<= shift;
    if (v < 4096)
        return -1;
    *out = v;
    return 0;
}

/* Settings that SIGHUP can change as well (from --config). Returns 0 or -1 (message logged). */
static int
apply_reloadable(struct straitd_opts *o, int ch, const char *v)
{
    char *end;
    switch (ch) {
    case 'l': {
        int lv = st_log_level_parse(v);
        if (lv < 0) {
            st_error("log-level must be error, warn, info, debug or trace");
            return -1;
        }
        st_log_set_level((enum st_log_level)lv);
        return 0;
    }
    case 'F': {
        int f = st_log_format_parse(v);
        if (f < 0) {
            st_error("log-format must be logfmt or json");
            return -1;
        }
        st_log_set_format((enum st_log_format)f);
        return 0;
    }
    case 'L': {
        unsigned m;
        if (st_log_categories_parse(v, &m) != 0) {
            st_error("log-categories: unknown category in '%s' (proto, http, api, meter, gateway, "
                     "store, auth, all)",
                     v);
            return -1;
        }
        st_log_set_categories(m);
        return 0;
    }
    case 'G': {
        long g = strtol(v, &end, 10);
        if (*end || g < 0 || g > 86400) {
            st_error("shutdown-grace takes 0 to 86400 seconds");
            return -1;
        }
        o->shutdown_grace = (int)g;
        return 0;
    }
    case 'P':
    case 'H': {
        double p = strtod(v, &end);
        if (*end || !(p >= 0) || p > 1e6) {
            st_error("prices are non-negative numbers of USD");
            return -1;
        }
        if (ch == 'P')
            o->price_gb = p;
        else
            o->price_conn_hour = p;
        return 0;
    }
    case 'U': {
        long u = strtol(v, &end, 10);
        if (*end || u < 1 || u > 3600) {
            st_error("usage-flush-seconds takes 1 to 3600 seconds");
            return -1;
        }
        o->usage_flush = (int)u;
        return 0;
    }
    }
    return -1;
}

static void
free_argv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/*
 * Reads a config file of `name = value` lines ('#' comments, blank lines) into an argv of
 * "--name" "value" pairs. Returns a new NULL-terminated vector (free_argv()) or NULL.
 */
static char **
read_config(const char *path, int *argc_out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        st_error("cannot read the config file %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 16, n = 1;
    char **v = calloc(cap, sizeof(*v));
    char line[4096];
    bool ok = v != NULL && (v[0] = strdup("straitd")) != NULL;
    while (ok && fgets(line, sizeof(line), f)) {
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        size_t l = strlen(p);
        while (l && (p[l - 1] == '\n' || p[l - 1] == '\r' || p[l - 1] == ' ' || p[l - 1] == '\t'))
            p[--l] = '\0';
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        char *name = p, *val = NULL;
        if (eq) {
            *eq = '\0';
            val = eq + 1;
            while (*val == ' ' || *val == '\t')
                val++;
            size_t nl = strlen(name);
            while (nl && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
                name[--nl] = '\0';
        }
        if (n + 3 > cap) {
            char **nv = realloc(v, cap * 2 * sizeof(*nv));
            if (!nv) {
                ok = false;
                break;
            }
            v = nv;
            cap *= 2;
        }
        size_t fl = strlen(name) + 3;
        if (!(v[n] = malloc(fl))) {
            ok = false;
            break;
        }
        snprintf(v[n++], fl, "--%s", name);
        v[n] = NULL;
        if (val && !(v[n++] = strdup(val)))
            ok = false;
        v[n] = NULL;
    }
    fclose(f);
    if (!ok) {
        free_argv(v);
        st_error("out of memory reading %s", path);
        return NULL;
    }
    v[n] = NULL;
    *argc_out = (int)n;
    return v;
}

static int parse_args(int argc, char **argv, struct straitd_opts *o);
static int check_opts(struct straitd_opts *o);
static char **g_config_argv; /* strings of --config's file (optarg points into them) */

/* Flags: defaults, then --config's file, then the command line (which wins). */
static int
parse_opts(int argc, char **argv, struct straitd_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->port_min = 14001;
    o->port_max = 14100;
    o->refresh_ms = 10000;
    o->price_gb = -1;
    o->price_conn_hour = -1;
    o->hs_threads = -1;
    for (int i = 1; i < argc; i++) {
        const char *cfg = NULL;
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            cfg = argv[i + 1];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            cfg = argv[i] + 9;
        if (!cfg)
            continue;
        int cargc = 0;
        char **cargv = read_config(cfg, &cargc);
        if (!cargv)
            return -1;
        g_config_argv = cargv; /* optarg strings point into it: freed at exit */
        optind = 1;
        if (parse_args(cargc, cargv, o) != 0) {
            fprintf(stderr, "straitd: in %s\n", cfg);
            return -1;
        }
        break;
    }
    optind = 1;
    if (parse_args(argc, argv, o) != 0)
        return -1;
    return check_opts(o);
}

/* SIGHUP: re-reads --config and applies its reloadable settings. */
static void
reload_config(struct straitd_opts *o)
{
    static const struct {
        const char *name;
        int ch;
    } keys[] = {{"--log-level", 'l'},      {"--log-format", 'F'},
                {"--log-categories", 'L'}, {"--shutdown-grace", 'G'},
                {"--price-per-gb", 'P'},   {"--price-per-connection-hour", 'H'}};
    if (!o->config) {
        st_info("SIGHUP: no --config file; nothing to reload");
        return;
    }
    int argc = 0;
    char **v = read_config(o->config, &argc);
    if (!v)
        return;
    int applied = 0;
    for (int i = 1; i + 1 < argc; i++)
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
            if (strcmp(v[i], keys[k].name) == 0) {
                if (apply_reloadable(o, keys[k].ch, v[i + 1]) == 0)
                    applied++;
                else
                    st_warn("SIGHUP: %s = %s not applied", v[i] + 2, v[i + 1]);
            }
    free_argv(v);
    st_info("SIGHUP: reloaded %s (%d settings; log level %s, format %s)", o->config, applied,
            st_log_level_name(st_log_get_level()), st_log_format_name(st_log_get_format()));
}

static int
parse_args(int argc, char **argv, struct straitd_opts *o)
{

    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"embedded-kafka", required_argument, NULL, 'e'},
        {"upstream", required_argument, NULL, 'u'},
        {"insecure-endpoint", required_argument, NULL, 'i'},
        {"port-range", required_argument, NULL, 'p'},
        {"ready-file", required_argument, NULL, 'r'},
        {"metadata-refresh-ms", required_argument, NULL, 'm'},
        {"log-level", required_argument, NULL, 'l'},
        {"api-listen", required_argument, NULL, 'a'},
        {"api-tls-cert", required_argument, NULL, 'C'},
        {"api-tls-key", required_argument, NULL, 'K'},
        {"cluster-create-timeout", required_argument, NULL, 'T'},
        {"config", required_argument, NULL, 'c'},
        {"metrics-listen", required_argument, NULL, 'M'},
        {"shutdown-grace", required_argument, NULL, 'G'},
        {"log-format", required_argument, NULL, 'F'},
        {"log-categories", required_argument, NULL, 'L'},
        {"price-per-gb", required_argument, NULL, 'P'},
        {"price-per-connection-hour", required_argument, NULL, 'H'},
        {"usage-flush-seconds", required_argument, NULL, 'U'},
        {"audit-log", required_argument, NULL, 'A'},
        {"audit-all-decisions", optional_argument, NULL, 'D'},
        {"audit-max-bytes", required_argument, NULL, 'B'},
        {"audit-keep", required_argument, NULL, 'k'},
        {"kafka-super-users", required_argument, NULL, OPT_SUPER_USERS},
        {"insecure-skip-authorization", no_argument, NULL, OPT_SKIP_AUTHZ},
        {"no-splice", no_argument, NULL, OPT_NO_SPLICE},
        {"tls-handshake-threads", required_argument, NULL, OPT_HS_THREADS},
        {"auth-timeout-ms", required_argument, NULL, OPT_AUTH_TIMEOUT},
        {"endpoint-ca-cert", required_argument, NULL, OPT_EP_TLS + 0},
        {"endpoint-ca-key", required_argument, NULL, OPT_EP_TLS + 1},
        {"endpoint-cert", required_argument, NULL, OPT_EP_TLS + 2},
        {"endpoint-key", required_argument, NULL, OPT_EP_TLS + 3},
        {"endpoint-client-ca", required_argument, NULL, OPT_EP_TLS + 4},
        {"endpoint-principal-mapping-rules", required_argument, NULL, OPT_EP_TLS + 5},
        {"upstream-security-protocol", required_argument, NULL, OPT_UP_PROTOCOL},
        {"upstream-sasl-mechanism", required_argument, NULL, OPT_UP_MECH},
        {"upstream-sasl-username", required_argument, NULL, OPT_UP_USER},
        {"upstream-sasl-password-file", required_argument, NULL, OPT_UP_PASSWORD_FILE},
        {"upstream-ca", required_argument, NULL, OPT_UP_CA},
        {"upstream-cert", required_argument, NULL, OPT_UP_CERT},
        {"upstream-key", required_argument, NULL, OPT_UP_KEY},
        {"upstream-ssl-verify-hostname", required_argument, NULL, OPT_UP_VERIFY_HOST},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'd':
            o->data_dir = optarg;
            break;
        case 'e':
            o->embedded_brokers = (int)strtol(optarg, &end, 10);
            if (*end || o->embedded_brokers < 1 || o->embedded_brokers > 100) {
                fprintf(stderr, "straitd: --embedded-kafka takes a broker count from 1 to 100\n");
                return -1;
            }
            break;
        case 'u':
            o->upstream = optarg;
            break;
        case 'i':
            o->insecure_endpoint = optarg;
            break;
        case 'p':
            if (parse_range(optarg, &o->port_min, &o->port_max) != 0) {
                fprintf(stderr, "straitd: --port-range must look like 14001-14100\n");
                return -1;
            }
            break;
        case 'r':
            o->ready_file = optarg;
            break;
        case 'a':
            o->api_listen = optarg;
            break;
        case 'C':
            o->api_tls_cert = optarg;
            break;
        case 'K':
            o->api_tls_key = optarg;
            break;
        case 'T':
            o->create_timeout = (int)strtol(optarg, &end, 10);
            if (*end || o->create_timeout < 1 || o->create_timeout > 86400) {
                fprintf(stderr, "straitd: --cluster-create-timeout takes 1 to 86400 seconds\n");
                return -1;
            }
            break;
        case 'm':
            o->refresh_ms = (uint32_t)strtoul(optarg, &end, 10);
            if (*end || o->refresh_ms < 100) {
                fprintf(stderr, "straitd: --metadata-refresh-ms must be at least 100\n");
                return -1;
            }
            break;
        case 'l':
            if (apply_reloadable(o, ch, optarg) != 0)
                return -1;
            break;
        case 'c':
            o->config = optarg;
            break;
        case 'M':
            o->metrics_listen = optarg;
            break;
        case OPT_SUPER_USERS:
            o->kafka_super_users = optarg;
            break;
        case OPT_SKIP_AUTHZ:
            o->skip_authorization = true;
            break;
        case OPT_NO_SPLICE:
            o->no_splice = true;
            break;
        case OPT_AUTH_TIMEOUT: {
            unsigned long t = strtoul(optarg, &end, 10);
            if (!*optarg || *end || t < 100 || t > 3600000) {
                fprintf(stderr, "straitd: --auth-timeout-ms takes 100 to 3600000\n");
                return -1;
            }
            o->auth_timeout_ms = (uint32_t)t;
            break;
        }
        case OPT_HS_THREADS: {
            long t = strtol(optarg, &end, 10);
            if (!*optarg || *end || t < 0 || t > ST_HS_MAX_THREADS) {
                fprintf(stderr, "straitd: --tls-handshake-threads takes 0 to %d\n",
                        ST_HS_MAX_THREADS);
                return -1;
            }
            o->hs_threads = (int)t;
            break;
        }
        case OPT_EP_TLS + 0:
            o->ep_tls.ca_cert = optarg;
            break;
        case OPT_EP_TLS + 1:
            o->ep_tls.ca_key = optarg;
            break;
        case OPT_EP_TLS + 2:
            o->ep_tls.cert = optarg;
            break;
        case OPT_EP_TLS + 3:
            o->ep_tls.key = optarg;
            break;
        case OPT_EP_TLS + 4:
            o->ep_tls.client_ca = optarg;
            break;
        case OPT_EP_TLS + 5:
            o->ep_tls.principal_rules = optarg;
            break;
        case OPT_UP_PROTOCOL:
            o->up_protocol = optarg;
            break;
        case OPT_UP_MECH:
            o->up_mech = optarg;
            break;
        case OPT_UP_USER:
            o->up_user = optarg;
            break;
        case OPT_UP_PASSWORD_FILE:
            o->up_password_file = optarg;
            break;
        case OPT_UP_CA:
            o->up_ca = optarg;
            break;
        case OPT_UP_CERT:
            o->up_cert = optarg;
            break;
        case OPT_UP_KEY:
            o->up_key = optarg;
            break;
        case OPT_UP_VERIFY_HOST:
            o->up_verify_host = optarg;
            break;
        case 'G':
        case 'F':
        case 'L':
        case 'P':
        case 'H':
        case 'U':
            if (apply_reloadable(o, ch, optarg) != 0)
                return -1;
            break;
        case 'A':
            o->audit_log = optarg;
            break;
        case 'D': {
            /* `--audit-all-decisions`, `--audit-all-decisions=false`, and in --config
             * `audit-all-decisions` or `audit-all-decisions = true|false`. */
            const char *v = optarg;
            if (!v && optind < argc && parse_bool(argv[optind]) >= 0)
                v = argv[optind++];
            int b = v ? parse_bool(v) : 1;
            if (b < 0) {
                fprintf(stderr, "straitd: --audit-all-decisions takes true or false\n");
                return -1;
            }
            o->audit_all = b == 1;
            break;
        }
        case 'B':
            if (parse_size(optarg, &o->audit_max_bytes) != 0) {
                fprintf(stderr, "straitd: --audit-max-bytes takes a size from 4096 bytes to 1T "
                                "(suffixes K, M, G, T: powers of 1024)\n");
                return -1;
            }
            break;
        case 'k': {
            long k = strtol(optarg, &end, 10);
            if (*end || k < 1 || k > 1000) {
                fprintf(stderr, "straitd: --audit-keep takes 1 to 1000 files\n");
                return -1;
            }
            o->audit_keep = (unsigned)k;
            break;
        }
        case 'V':
            printf("straitd %s\n", STRAITD_VERSION);
            exit(0);
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "straitd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

static int
check_opts(struct straitd_opts *o)
{
    if (!o->data_dir) {
        fprintf(stderr, "straitd: --data-dir is required\n");
        return -1;
    }
    if (o->embedded_brokers && o->upstream) {
        fprintf(stderr, "straitd: give exactly one of --embedded-kafka N or --upstream LIST\n");
        return -1;
    }
    if (!o->embedded_brokers && !o->upstream) {
        /* Control plane only: clusters come from CreateClusterV2. */
        if (o->api_listen && !o->insecure_endpoint)
            return 0;
        fprintf(stderr, "straitd: give exactly one of --embedded-kafka N or --upstream LIST (or "
                        "only --api-listen to serve clusters created through the API)\n");
        return -1;
    }
    if (!o->insecure_endpoint) {
        fprintf(stderr, "straitd: no endpoint to serve. Authenticated endpoints come from VPC "
                        "connections; for development use --insecure-endpoint ADDR\n");
        return -1;
    }
    return 0;
}

/*
 * Applies the --upstream-* security flags to the --upstream cluster. Returns 0, or -1 (logged).
 * The password is read from its file here and wiped once the cluster holds its copy.
 */
static int
apply_upstream_security(struct straitd *d)
{
    const struct straitd_opts *o = &d->o;
    bool any = o->up_protocol || o->up_mech || o->up_user || o->up_password_file || o->up_ca ||
               o->up_cert || o->up_key || o->up_verify_host;
    if (!any)
        return 0;
    if (!o->upstream) {
        st_error("--upstream-* security flags apply to --upstream only (the embedded cluster is "
                 "plaintext; clusters of the API take straitUpstreamSecurity)");
        return -1;
    }
    struct st_gw_upstream_security sec = {.protocol = ST_GW_UP_PLAINTEXT,
                                          .mechanism = ST_GW_UP_SCRAM_SHA_512,
                                          .username = o->up_user,
                                          .ca_file = o->up_ca,
                                          .cert_file = o->up_cert,
                                          .key_file = o->up_key,
                                          .verify_hostname = true};
    if (o->up_protocol && st_gw_up_protocol_parse(o->up_protocol, &sec.protocol) != 0) {
        st_error("--upstream-security-protocol takes PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL");
        return -1;
    }
    if (o->up_mech && st_gw_up_mech_parse(o->up_mech, &sec.mechanism) != 0) {
        st_error("--upstream-sasl-mechanism takes PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512");
        return -1;
    }
    if (o->up_verify_host) {
        int v = parse_bool(o->up_verify_host);
        if (v < 0) {
            st_error("--upstream-ssl-verify-hostname takes true or false");
            return -1;
        }
        sec.verify_hostname = v == 1;
    }
    bool sasl = sec.protocol == ST_GW_UP_SASL_PLAINTEXT || sec.protocol == ST_GW_UP_SASL_SSL;
    bool tls = sec.protocol == ST_GW_UP_SSL || sec.protocol == ST_GW_UP_SASL_SSL;
    if (!sasl && (o->up_mech || o->up_user || o->up_password_file)) {
        st_error("--upstream-sasl-* flags need --upstream-security-protocol SASL_SSL or "
                 "SASL_PLAINTEXT");
        return -1;
    }
    if (!tls && (o->up_ca || o->up_cert || o->up_key || o->up_verify_host)) {
        st_error("--upstream-ca/-cert/-key/-ssl-verify-hostname need "
                 "--upstream-security-protocol SSL or SASL_SSL");
        return -1;
    }
    if (sasl && (!o->up_user || !o->up_password_file)) {
        st_error("upstream SASL needs --upstream-sasl-username and --upstream-sasl-password-file");
        return -1;
    }
    const char *err = NULL;
    char *pw = NULL;
    if (sasl && !(pw = st_gw_password_file_read(o->up_password_file, &err))) {
        st_error("%s: %s", o->up_password_file, err);
        return -1;
    }
    sec.password = pw;
    int rc = st_gw_cluster_set_upstream_security(d->cluster, &sec, &err);
    st_gw_secret_free(pw);
    if (rc != 0) {
        st_error("upstream security: %s", err);
        return -1;
    }
    st_info("upstream security: %s%s%s%s%s", st_gw_up_protocol_name(sec.protocol), sasl ? " " : "",
            sasl ? st_gw_up_mech_name(sec.mechanism) : "", sasl ? " as user " : "",
            sasl ? o->up_user : "");
    return 0;
}

static int
write_ready_file(struct straitd *d)
{
    json_t *eps = json_array();
    const struct st_portmap *pm = d->cluster ? st_gw_cluster_portmap(d->cluster) : NULL;
    for (size_t i = 0; d->cluster && i < st_gw_cluster_endpoint_count(d->cluster); i++) {
        struct st_gw_endpoint *e = st_gw_cluster_endpoint(d->cluster, i);
        json_t *brokers = json_array();
        char boot[4096] = "";
        size_t bl = 0;
        for (size_t j = 0; j < pm->n; j++) {
            /* Only ports actually listening: a port held by another process is not ours. */
            if (st_gw_endpoint_port(e, pm->entries[j].node_id) < 0)
                continue;
            json_array_append_new(brokers, json_pack("{s:i, s:i}", "nodeId", pm->entries[j].node_id,
                                                     "port", pm->entries[j].port));
            /* IPv6 literals are bracketed so clients can split host and port. */
            const char *addr = st_gw_endpoint_address(e);
            bool v6 = strchr(addr, ':') != NULL;
            int w = snprintf(boot + bl, sizeof(boot) - bl, "%s%s%s%s:%d", bl ? "," : "",
                             v6 ? "[" : "", addr, v6 ? "]" : "", pm->entries[j].port);
            if (w > 0 && (size_t)w < sizeof(boot) - bl)
                bl += (size_t)w;
        }
        json_array_append_new(eps, json_pack("{s:s, s:s, s:s, s:o}", "name", st_gw_endpoint_name(e),
                                             "address", st_gw_endpoint_address(e), "bootstrap",
                                             boot, "brokers", brokers));
    }
    json_t *root = json_pack(
        "{s:i, s:s, s:s, s:{s:b, s:s}, s:o}", "pid", (int)getpid(), "dataDir", d->o.data_dir,
        "adminSocket", d->admin_path, "upstream", "embedded", d->embedded != NULL, "bootstrap",
        d->cluster ? st_gw_cluster_bootstrap(d->cluster) : "", "endpoints", eps);
    if (d->metrics_addr[0])
        json_object_set_new(root, "metricsEndpoint", json_string(d->metrics_addr));
    if (d->ctl && st_ctl_api_address(d->ctl)[0]) {
        json_object_set_new(root, "apiEndpoint", json_string(st_ctl_api_address(d->ctl)));
        char url[200];
        snprintf(url, sizeof(url), "%s://%s", d->o.api_tls_cert ? "https" : "http",
                 st_ctl_api_address(d->ctl));
        json_object_set_new(root, "apiUrl", json_string(url));
    }
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", d->o.ready_file);
    int rc = json_dump_file(root, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0 || rename(tmp, d->o.ready_file) != 0) {
        st_error("cannot write the ready file %s: %s", d->o.ready_file, strerror(errno));
        return -1;
    }
    return 0;
}

/* Sends `msg` to systemd's $NOTIFY_SOCKET (the sd_notify protocol) when set; no-op otherwise. */
static void
sd_notify_msg(const char *msg)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    if (!path || (path[0] != '/' && path[0] != '@') || strlen(path) >= sizeof(sa.sun_path))
        return;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    size_t len = strlen(path);
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract namespace */
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, sl) < 0)
        st_warn("sd_notify: %s", strerror(errno));
    close(fd);
}

static void
now_ready(struct straitd *d)
{
    if (d->ready)
        return;
    d->ready = true;
    char msg[128];
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=serving\nMAINPID=%d", (int)getpid());
    sd_notify_msg(msg);
}

static void
on_learned(struct st_gw_cluster *c, void *arg)
{
    struct straitd *d = arg;
    if (d->o.ready_file && write_ready_file(d) != 0)
        event_base_loopexit(d->base, NULL);
    st_info("straitd ready");
    now_ready(d);
}

static int64_t
mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static size_t
drain_all(struct straitd *d)
{
    return st_gw_cluster_drain(d->cluster) + st_ctl_drain(d->ctl);
}

static void
on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    struct straitd *d = arg;
    size_t open = drain_all(d);
    if (open == 0) {
        st_info("drained: no client connection left");
        event_base_loopexit(d->base, NULL);
    } else if (mono_s() >= d->drain_deadline) {
        st_info("shutdown grace of %d s over: closing %zu client connections", d->o.shutdown_grace,
                open);
        event_base_loopexit(d->base, NULL);
    }
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct straitd *d = arg;
    if (sig == SIGHUP) {
        reload_config(&d->o);
        st_ctl_set_prices(d->ctl, d->o.price_gb, d->o.price_conn_hour);
        const char *err = NULL;
        if (st_ctl_reload_tls(d->ctl, &err) != 0)
            st_error("SIGHUP: API TLS certificate not reloaded (the previous one stays): %s", err);
        if (st_ctl_flush_usage(d->ctl) != 0)
            st_warn("SIGHUP: usage flush failed");
        return;
    }
    const char *name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    if (d->draining) {
        st_info("received %s while draining: stopping now", name);
        event_base_loopexit(d->base, NULL);
        return;
    }
    d->draining = true;
    sd_notify_msg("STOPPING=1\nSTATUS=draining");
    size_t open = drain_all(d);
    st_info("received %s: stopped accepting; %zu client connections open, grace %d s", name, open,
            d->o.shutdown_grace);
    if (open == 0 || d->o.shutdown_grace <= 0) {
        event_base_loopexit(d->base, NULL);
        return;
    }
    d->drain_deadline = mono_s() + d->o.shutdown_grace;
    d->drain_timer = event_new(d->base, -1, EV_PERSIST, on_drain_tick, d);
    struct timeval tv = {0, 200000};
    if (!d->drain_timer || event_add(d->drain_timer, &tv) != 0)
        event_base_loopexit(d->base, NULL);
}

/* GET /metrics on --metrics-listen. */
static void
on_metrics(struct evhttp_request *req, void *arg)
{
    struct straitd *d = arg;
    const char *uri = evhttp_request_get_uri(req);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET ||
        (strcmp(uri, "/metrics") != 0 && strncmp(uri, "/metrics?", 9) != 0)) {
        evhttp_send_error(req, 404, "strait serves GET /metrics");
        return;
    }
    struct evbuffer *out = evbuffer_new();
    if (!out) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    st_ctl_metrics(d->ctl, d->cluster, out);
    evbuffer_add_printf(out,
                        "# HELP strait_build_info straitd version.\n"
                        "# TYPE strait_build_info gauge\n"
                        "strait_build_info{version=\"%s\"} 1\n"
                        "# HELP strait_draining 1 while straitd drains for a graceful stop.\n"
                        "# TYPE strait_draining gauge\n"
                        "strait_draining %d\n",
                        STRAITD_VERSION, d->draining ? 1 : 0);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, 200, "OK", out);
    evbuffer_free(out);
    st_debugc(ST_LOGC_HTTP, "metrics scraped");
}

static int
metrics_start(struct straitd *d, const char **err)
{
    char host[128];
    const char *colon = strrchr(d->o.metrics_listen, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || *end || port < 0 || port > 65535 ||
        (size_t)(colon - d->o.metrics_listen) >= sizeof(host)) {
        *err = "--metrics-listen takes ADDR:PORT";
        return -1;
    }
    snprintf(host, sizeof(host), "%.*s", (int)(colon - d->o.metrics_listen), d->o.metrics_listen);
    d->metrics = evhttp_new(d->base);
    struct evhttp_bound_socket *bs =
        d->metrics ? evhttp_bind_socket_with_handle(d->metrics, host, (uint16_t)port) : NULL;
    if (!bs) {
        *err = "cannot listen there";
        return -1;
    }
    evhttp_set_allowed_methods(d->metrics, EVHTTP_REQ_GET);
    evhttp_set_timeout(d->metrics, 30);
    evhttp_set_gencb(d->metrics, on_metrics, d);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 && ss.ss_family == AF_INET) {
        char ip[64];
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        evutil_inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
        snprintf(d->metrics_addr, sizeof(d->metrics_addr), "%s:%d", ip, ntohs(sin->sin_port));
    } else {
        snprintf(d->metrics_addr, sizeof(d->metrics_addr), "%s", d->o.metrics_listen);
    }
    st_info("metrics on http://%s/metrics", d->metrics_addr);
    return 0;
}

int
main(int argc, char **argv)
{
    struct straitd d;
    memset(&d, 0, sizeof(d));
    if (parse_opts(argc, argv, &d.o) != 0)
        return 2;
    signal(SIGPIPE, SIG_IGN);
    if (mkdir(d.o.data_dir, 0700) != 0 && errno != EEXIST) {
        st_error("cannot create data dir %s: %s", d.o.data_dir, strerror(errno));
        return 1;
    }
    const char *err = NULL;
    d.base = event_base_new();
    d.dns = d.base ? evdns_base_new(d.base, 0) : NULL;
    if (!d.base || !d.dns) {
        st_error("cannot create the event loop");
        return 1;
    }
    /* TLS handshakes of endpoint connections run on their own threads (net/handshake.h); the
     * loop gets each connection back once its handshake is done. */
    unsigned hs_threads = d.o.hs_threads < 0 ? st_hs_default_threads() : (unsigned)d.o.hs_threads;
    if (hs_threads > 0) {
        d.hs_pool = st_hs_pool_new(d.base, hs_threads, &err);
        if (!d.hs_pool) {
            st_error("TLS handshake threads: %s", err);
            return 1;
        }
        st_info("TLS handshakes on %u thread%s (--tls-handshake-threads)", hs_threads,
                hs_threads == 1 ? "" : "s");
    } else {
        st_info("TLS handshakes on the event loop (--tls-handshake-threads 0)");
    }
    /* Numeric upstream hosts need no nameserver; names use the system's. */
    if (evdns_base_resolv_conf_parse(d.dns, DNS_OPTIONS_ALL, "/etc/resolv.conf") != 0)
        st_debug("no usable /etc/resolv.conf; only numeric upstream hosts will resolve");

    const char *bootstrap = d.o.upstream;
    if (d.o.embedded_brokers) {
        d.embedded = st_embedded_start(d.o.embedded_brokers, &err);
        if (!d.embedded) {
            st_error("embedded cluster: %s", err);
            return 1;
        }
        bootstrap = st_embedded_bootstraps(d.embedded);
        st_info("embedded cluster: %d brokers at %s", d.o.embedded_brokers, bootstrap);
    }

    /* Data-plane limits from the flags, for every cluster (the development cluster's discovery
     * interval comes from --metadata-refresh-ms as well). */
    struct st_gw_limits limits;
    st_gw_limits_default(&limits);
    limits.no_splice = d.o.no_splice;
    if (d.o.auth_timeout_ms)
        limits.auth_timeout_ms = d.o.auth_timeout_ms;
    char portmap[4096];
    snprintf(portmap, sizeof(portmap), "%s/portmap.json", d.o.data_dir);
    if (bootstrap) {
        struct st_gw_limits dev_limits = limits;
        dev_limits.metadata_refresh_ms = d.o.refresh_ms;
        d.cluster =
            st_gw_cluster_new(d.base, d.dns, d.embedded ? "embedded" : "upstream", bootstrap,
                              portmap, d.o.port_min, d.o.port_max, &dev_limits, &err);
        if (!d.cluster) {
            st_error("cluster: %s", err);
            return 1;
        }
        if (st_gw_cluster_set_handshake_pool(d.cluster, d.hs_pool) != 0) {
            st_error("cluster: the TLS handshake threads deliver to another loop");
            return 1;
        }
        if (apply_upstream_security(&d) != 0)
            return 1;
        st_warn("serving an UNAUTHENTICATED plaintext endpoint on %s (--insecure-endpoint): "
                "development and benchmarks only",
                d.o.insecure_endpoint);
        if (!st_gw_endpoint_add(d.cluster, "insecure", d.o.insecure_endpoint, true, &err)) {
            st_error("endpoint %s: %s", d.o.insecure_endpoint, err);
            return 1;
        }
    }

    struct st_ctl_config ccfg = {.base = d.base,
                                 .dns = d.dns,
                                 .data_dir = d.o.data_dir,
                                 .api_listen = d.o.api_listen,
                                 .port_min = d.o.port_min,
                                 .port_max = d.o.port_max,
                                 .tls_cert = d.o.api_tls_cert,
                                 .tls_key = d.o.api_tls_key,
                                 .create_timeout = d.o.create_timeout,
                                 .price_gb = d.o.price_gb,
                                 .price_conn_hour = d.o.price_conn_hour,
                                 .usage_flush_seconds = d.o.usage_flush,
                                 .kafka_super_users = d.o.kafka_super_users,
                                 .skip_authorization = d.o.skip_authorization,
                                 .limits = &limits,
                                 .tls_files = d.o.ep_tls,
                                 .hs_pool = d.hs_pool};
    d.ctl = st_ctl_new(&ccfg, &err);
    if (!d.ctl) {
        st_error("control plane: %s", err);
        return 1;
    }

    char audit_path[4096];
    snprintf(audit_path, sizeof(audit_path), "%s/audit.log", d.o.data_dir);
    if (!d.o.audit_log || strcmp(d.o.audit_log, "none") != 0) {
        struct st_audit_opts aopts = {.path = d.o.audit_log ? d.o.audit_log : audit_path,
                                      .max_bytes = d.o.audit_max_bytes,
                                      .keep = d.o.audit_keep,
                                      .all_decisions = d.o.audit_all};
        d.audit = st_audit_open(&aopts, &err);
        if (!d.audit) {
            st_error("audit log %s: %s", aopts.path, err);
            return 1;
        }
        st_info("audit log %s (%s, rotated at %llu bytes, %u kept)", aopts.path,
                st_audit_all(d.audit) ? "every decision" : "denials",
                (unsigned long long)st_audit_max_bytes(d.audit), st_audit_keep(d.audit));
    } else {
        st_warn("audit log disabled (--audit-log none): authorization denials are not recorded");
    }
    st_ctl_set_audit(d.ctl, d.audit);

    snprintf(d.admin_path, sizeof(d.admin_path), "%s/admin.sock", d.o.data_dir);
    struct st_admin_ctx actx = {d.cluster, d.embedded, d.o.data_dir, d.ctl, d.audit};
    d.admin = st_admin_start(d.base, d.admin_path, &actx, &err);
    if (!d.admin) {
        st_error("admin socket %s: %s", d.admin_path, err);
        return 1;
    }

    if (d.o.metrics_listen && metrics_start(&d, &err) != 0) {
        st_error("metrics: %s (%s)", err, d.o.metrics_listen);
        return 1;
    }

    struct event *sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
    struct event *sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
    struct event *sighup = evsignal_new(d.base, SIGHUP, on_signal, &d);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    event_add(sighup, NULL);

    if (d.cluster) {
        st_gw_cluster_start(d.cluster, on_learned, &d);
    } else {
        st_info("straitd ready (control plane only: clusters come from CreateClusterV2)");
        if (d.o.ready_file && write_ready_file(&d) != 0)
            return 1;
        now_ready(&d);
    }
    event_base_dispatch(d.base);

    if (d.o.ready_file)
        unlink(d.o.ready_file);
    if (d.metrics)
        evhttp_free(d.metrics);
    if (d.drain_timer)
        event_free(d.drain_timer);
    st_admin_free(d.admin);
    st_ctl_free(d.ctl);
    st_gw_cluster_free(d.cluster);
    /* After every gateway: their connections have taken their handshakes back. */
    st_hs_pool_free(d.hs_pool);
    st_audit_close(d.audit);
    free_argv(g_config_argv);
    event_free(sigterm);
    event_free(sigint);
    event_free(sighup);
    evdns_base_free(d.dns, 0);
    event_base_free(d.base);
    st_embedded_stop(d.embedded);
    st_info("straitd stopped");
    return 0;
}

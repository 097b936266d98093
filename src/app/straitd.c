/*
 * straitd: the strait daemon. Parses flags, starts the embedded cluster or points at an upstream,
 * binds endpoints, serves the admin socket, and runs the event loop until SIGTERM/SIGINT.
 *
 * Start-up order matters: endpoints bind the ports already in the persisted map at once, but
 * accept nothing until broker discovery has run; the ready file is written only then.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <jansson.h>

#include "app/admin.h"
#include "app/embedded.h"
#include "ctl/ctl.h"
#include "gateway/gateway.h"
#include "util/log.h"

#define STRAITD_VERSION "0.1.0"

struct straitd_opts {
    const char *data_dir;          /* --data-dir */
    int embedded_brokers;          /* --embedded-kafka N, 0 = none */
    const char *upstream;          /* --upstream host:port,... */
    const char *insecure_endpoint; /* --insecure-endpoint ADDR */
    int port_min, port_max;        /* --port-range */
    const char *ready_file;        /* --ready-file */
    uint32_t refresh_ms;           /* --metadata-refresh-ms */
    const char *api_listen;        /* --api-listen ADDR:PORT (MSK API), NULL = none */
    const char *api_tls_cert;      /* --api-tls-cert PEM (HTTPS API) */
    const char *api_tls_key;       /* --api-tls-key PEM */
    int create_timeout;            /* --cluster-create-timeout SECONDS (0 = default) */
};

struct straitd {
    struct straitd_opts o;          /* parsed flags */
    struct event_base *base;        /* the loop */
    struct evdns_base *dns;         /* resolver */
    struct st_embedded *embedded;   /* embedded cluster or NULL */
    struct st_gw_cluster *cluster;  /* the gateway */
    struct st_admin *admin;         /* admin socket */
    struct st_ctl *ctl;             /* control plane (store, MSK API, VPC connections) */
    char admin_path[4096];          /* its path */
};

static void
usage(FILE *f)
{
    fprintf(f,
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

static int
parse_opts(int argc, char **argv, struct straitd_opts *o)
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
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->port_min = 14001;
    o->port_max = 14100;
    o->refresh_ms = 10000;
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
        case 'l': {
            int lv = st_log_level_parse(optarg);
            if (lv < 0) {
                fprintf(stderr, "straitd: --log-level must be error, warn, info, debug or trace\n");
                return -1;
            }
            st_log_set_level((enum st_log_level)lv);
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
            json_array_append_new(brokers, json_pack("{s:i, s:i}", "nodeId", pm->entries[j].node_id,
                                                     "port", pm->entries[j].port));
            int w = snprintf(boot + bl, sizeof(boot) - bl, "%s%s:%d", bl ? "," : "",
                             st_gw_endpoint_address(e), pm->entries[j].port);
            if (w > 0 && (size_t)w < sizeof(boot) - bl)
                bl += (size_t)w;
        }
        json_array_append_new(eps, json_pack("{s:s, s:s, s:s, s:o}", "name",
                                             st_gw_endpoint_name(e), "address",
                                             st_gw_endpoint_address(e), "bootstrap", boot,
                                             "brokers", brokers));
    }
    json_t *root = json_pack("{s:i, s:s, s:s, s:{s:b, s:s}, s:o}", "pid", (int)getpid(),
                             "dataDir", d->o.data_dir, "adminSocket", d->admin_path, "upstream",
                             "embedded", d->embedded != NULL, "bootstrap",
                             d->cluster ? st_gw_cluster_bootstrap(d->cluster) : "", "endpoints",
                             eps);
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

static void
on_learned(struct st_gw_cluster *c, void *arg)
{
    struct straitd *d = arg;
    if (d->o.ready_file && write_ready_file(d) != 0)
        event_base_loopexit(d->base, NULL);
    st_info("straitd ready");
}

static void
on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct straitd *d = arg;
    st_info("received %s, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    event_base_loopexit(d->base, NULL);
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

    char portmap[4096];
    snprintf(portmap, sizeof(portmap), "%s/portmap.json", d.o.data_dir);
    if (bootstrap) {
        struct st_gw_limits limits;
        st_gw_limits_default(&limits);
        limits.metadata_refresh_ms = d.o.refresh_ms;
        d.cluster = st_gw_cluster_new(d.base, d.dns, d.embedded ? "embedded" : "upstream",
                                      bootstrap, portmap, d.o.port_min, d.o.port_max, &limits,
                                      &err);
        if (!d.cluster) {
            st_error("cluster: %s", err);
            return 1;
        }
        st_warn("serving an UNAUTHENTICATED plaintext endpoint on %s (--insecure-endpoint): "
                "development and benchmarks only",
                d.o.insecure_endpoint);
        if (!st_gw_endpoint_add(d.cluster, "insecure", d.o.insecure_endpoint, true, &err)) {
            st_error("endpoint %s: %s", d.o.insecure_endpoint, err);
            return 1;
        }
    }

    struct st_ctl_config ccfg = {d.base,          d.dns,           d.o.data_dir,
                                 d.o.api_listen,  d.o.port_min,    d.o.port_max,
                                 0,               d.o.api_tls_cert, d.o.api_tls_key,
                                 d.o.create_timeout};
    d.ctl = st_ctl_new(&ccfg, &err);
    if (!d.ctl) {
        st_error("control plane: %s", err);
        return 1;
    }

    snprintf(d.admin_path, sizeof(d.admin_path), "%s/admin.sock", d.o.data_dir);
    struct st_admin_ctx actx = {d.cluster, d.embedded, d.o.data_dir, d.ctl};
    d.admin = st_admin_start(d.base, d.admin_path, &actx, &err);
    if (!d.admin) {
        st_error("admin socket %s: %s", d.admin_path, err);
        return 1;
    }

    struct event *sigterm = evsignal_new(d.base, SIGTERM, on_signal, &d);
    struct event *sigint = evsignal_new(d.base, SIGINT, on_signal, &d);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);

    if (d.cluster) {
        st_gw_cluster_start(d.cluster, on_learned, &d);
    } else {
        st_info("straitd ready (control plane only: clusters come from CreateClusterV2)");
        if (d.o.ready_file && write_ready_file(&d) != 0)
            return 1;
    }
    event_base_dispatch(d.base);

    if (d.o.ready_file)
        unlink(d.o.ready_file);
    st_admin_free(d.admin);
    st_ctl_free(d.ctl);
    st_gw_cluster_free(d.cluster);
    event_free(sigterm);
    event_free(sigint);
    evdns_base_free(d.dns, 0);
    event_base_free(d.base);
    st_embedded_stop(d.embedded);
    st_info("straitd stopped");
    return 0;
}

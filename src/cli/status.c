/*
 * `strait status`: what straitd serves and how it is doing, from its admin socket (GET
 * /v1/status): clusters with their health, brokers with their endpoint ports, endpoints with
 * their connections and bytes, and VPC connections. `strait log`: reads or changes the daemon's
 * log level, format and debug categories at runtime (GET/POST /v1/log).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

static long long
ji(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

static const char *
js(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static void
print_endpoint(const char *addr, const char *kind, const char *conn, const json_t *k)
{
    printf("    endpoint %-15s %-14s conns %lld open / %lld accepted / %lld refused, requests "
           "%lld, bytes in %lld out %lld%s%s\n",
           addr, kind, ji(k, "connectionsCurrent"), ji(k, "connectionsAccepted"),
           ji(k, "connectionsRefused"), ji(k, "requests"), ji(k, "bytesFromClients"),
           ji(k, "bytesToClients"), conn && *conn ? "\n      vpc connection " : "",
           conn ? conn : "");
}

static void
print_status(const json_t *j)
{
    printf("straitd pid %lld, data dir %s\n", ji(j, "pid"), js(j, "dataDir"));
    size_t i, k;
    const json_t *c, *x;
    json_array_foreach(json_object_get(j, "clusters"), i, c)
    {
        size_t n = json_array_size(json_object_get(c, "brokers")), listed = 0;
        json_array_foreach(json_object_get(c, "brokers"), k, x) listed +=
            json_is_true(json_object_get(x, "listed"));
        printf("\ncluster %s (%s upstream %s) health %s\n", js(c, "name"),
               json_is_true(json_object_get(c, "embedded")) ? "embedded" : "external",
               js(c, "upstreamBootstrap"),
               n == 0       ? "discovering"
               : listed < n ? "degraded"
                            : "ok");
        json_array_foreach(json_object_get(c, "brokers"), k, x)
            printf("    broker %-4lld port %-6lld upstream %s:%lld%s\n", ji(x, "nodeId"),
                   ji(x, "endpointPort"), js(x, "upstreamHost"), ji(x, "upstreamPort"),
                   json_is_true(json_object_get(x, "listed")) ? "" : " (not listed)");
        json_array_foreach(json_object_get(c, "endpoints"), k, x)
            print_endpoint(js(x, "address"), js(x, "name"), NULL, json_object_get(x, "counters"));
    }
    json_array_foreach(json_object_get(j, "managedClusters"), i, c)
    {
        printf("\ncluster %s %s (%s) health %s upstream %s\n", js(c, "name"), js(c, "clusterArn"),
               js(c, "state"), js(c, "health"), js(c, "upstream"));
        json_array_foreach(json_object_get(c, "brokers"), k, x) printf(
            "    broker %-4lld port %-6lld upstream %s%s\n", ji(x, "nodeId"), ji(x, "port"),
            js(x, "upstream"), json_is_true(json_object_get(x, "listed")) ? "" : " (not listed)");
        json_array_foreach(json_object_get(c, "endpoints"), k, x)
            print_endpoint(js(x, "address"), js(x, "kind"), js(x, "vpcConnectionArn"),
                           json_object_get(x, "counters"));
        json_array_foreach(json_object_get(c, "connections"), k, x)
        {
            printf("    connection %s %s %s owner %s on", js(x, "vpcConnectionArn"),
                   js(x, "authentication"), js(x, "state"), js(x, "owner"));
            size_t m;
            const json_t *a;
            json_array_foreach(json_object_get(x, "endpointAddresses"), m, a)
                printf(" %s", json_string_value(a));
            printf("\n");
        }
    }
}

int
st_cli_status(int argc, char **argv)
{
    static const struct option longopts[] = {
        ST_CLI_ADMIN_LONGOPTS,
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct st_cli_admin_opts ao = {0};
    const char *output = "table";
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (st_cli_admin_opt(&ao, ch, optarg))
            continue;
        switch (ch) {
        case 'o':
            output = optarg;
            break;
        case 'h':
            printf("usage: strait status [--data-dir DIR | --socket PATH] [--output table|json]\n");
            return 0;
        default:
            return 2;
        }
    }
    if (strcmp(output, "table") != 0 && strcmp(output, "json") != 0) {
        fprintf(stderr, "strait status: --output is table or json\n");
        return 2;
    }
    json_t *j = NULL;
    long st = st_cli_admin_request(st_cli_admin_socket(&ao), "GET", "/v1/status", NULL, 30, &j);
    if (st != 200 || !j) {
        if (st)
            fprintf(stderr, "strait status: HTTP %ld\n", st);
        json_decref(j);
        return 1;
    }
    if (strcmp(output, "json") == 0) {
        char *t = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", t ? t : "{}");
        free(t);
    } else {
        print_status(j);
    }
    json_decref(j);
    return 0;
}

int
st_cli_log(int argc, char **argv)
{
    static const struct option longopts[] = {
        ST_CLI_ADMIN_LONGOPTS,
        {"level", required_argument, NULL, 'l'},
        {"format", required_argument, NULL, 'f'},
        {"categories", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct st_cli_admin_opts ao = {0};
    json_t *body = json_object();
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (st_cli_admin_opt(&ao, ch, optarg))
            continue;
        switch (ch) {
        case 'l':
            json_object_set_new(body, "level", json_string(optarg));
            break;
        case 'f':
            json_object_set_new(body, "format", json_string(optarg));
            break;
        case 'c':
            json_object_set_new(body, "categories", json_string(optarg));
            break;
        case 'h':
            printf("usage: strait log [--data-dir DIR | --socket PATH] [--level LEVEL] "
                   "[--format logfmt|json]\n                  [--categories proto,http,api,meter,"
                   "gateway,store,auth|all|\"\"]\nWithout a setting, prints the current ones.\n");
            json_decref(body);
            return 0;
        default:
            json_decref(body);
            return 2;
        }
    }
    char *text = json_object_size(body) ? json_dumps(body, 0) : NULL;
    json_decref(body);
    json_t *j = NULL;
    long st = st_cli_admin_request(st_cli_admin_socket(&ao), text ? "POST" : "GET", "/v1/log", text,
                                   30, &j);
    free(text);
    if (st != 200) {
        const char *msg = json_string_value(json_object_get(j, "message"));
        if (st)
            fprintf(stderr, "strait log: %s (HTTP %ld)\n", msg ? msg : "failed", st);
        json_decref(j);
        return 1;
    }
    printf("level=%s format=%s categories=%s\n", js(j, "level"), js(j, "format"),
           js(j, "categories"));
    json_decref(j);
    return 0;
}

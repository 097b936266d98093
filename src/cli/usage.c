/*
 * `strait usage`: metered usage and cost of VPC connections from straitd's control-plane API
 * (GET /strait/v1/usage, SigV4-signed like `strait kafka`), as JSON, a table or CSV. The caller
 * sees the connections it owns (connection owner) and the connections to its clusters (cluster
 * owner), each separately. Credentials and endpoint are found as `strait kafka` finds them:
 * AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN] or a profile, --endpoint-url or
 * STRAIT_ENDPOINT_URL, --region or AWS_REGION/AWS_DEFAULT_REGION (default us-east-1).
 * Requests by Kafka API: the top APIs in the table, all of them in CSV and JSON, one row per
 * API with --by api.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"
#include "util/buf.h"

static void
usage_help(FILE *f)
{
    fprintf(
        f, "usage: strait usage [--endpoint-url URL] [--region R] [--profile P] [--ca-bundle PEM]\n"
           "                    [--cluster-arn A] [--vpc-connection-arn C] [--from T] [--to T]\n"
           "                    [--now T] [--granularity hour|day|month]\n"
           "                    [--view cluster-owner|connection-owner] [--output json|table|csv]\n"
           "                    [--by api]\n"
           "\n"
           "Times are ISO-8601 UTC (2026-11-27 or 2026-11-27T10:00:00Z) or epoch seconds; --from\n"
           "defaults to the start of the current month, --to to now. --now is the as-of time for\n"
           "connection-hours still accruing (default: the server's clock).\n"
           "Prices: straitd's --price-per-gb and --price-per-connection-hour (MSK's by default).\n"
           "Requests by Kafka API: the table shows the top 3 of each row, CSV all of them\n"
           "(API=n;API=n, most first), JSON a requestsByApi object; --by api prints one row per\n"
           "connection, period and API instead (table or CSV).\n");
}

static const char *
jstr(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static double
jnum(const json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static long long
jint(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

/* One API's requests, for sorting. */
struct api_n {
    const char *api; /* Kafka API name (owned by the JSON) */
    long long n;     /* requests */
};

static int
cmp_api_n(const void *a, const void *b)
{
    const struct api_n *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return strcmp(x->api, y->api);
}

/* The APIs of a requestsByApi object, most requests first. Returns a new array of *n entries
 * (NULL when none or out of memory); caller frees with free(). */
static struct api_n *
apis_sorted(const json_t *by, size_t *n)
{
    *n = 0;
    size_t cap = json_object_size(by);
    struct api_n *v = cap ? calloc(cap, sizeof(*v)) : NULL;
    const char *api;
    const json_t *c;
    if (!v)
        return NULL;
    json_object_foreach((json_t *)by, api, c) v[(*n)++] =
        (struct api_n){api, json_integer_value(c)};
    qsort(v, *n, sizeof(*v), cmp_api_n);
    return v;
}

/* Writes "API<sep1>n<sep2>API<sep1>n..." of the first `max` APIs (0 = all) into out. */
static void
apis_text(const json_t *by, size_t max, char sep1, char sep2, char *out, size_t len)
{
    size_t n, used = 0;
    struct api_n *v = apis_sorted(by, &n);
    out[0] = '\0';
    for (size_t i = 0; v && i < n && (!max || i < max) && used < len; i++) {
        int w = snprintf(out + used, len - used, "%s%s%c%lld", i ? (char[2]){sep2, 0} : "",
                         v[i].api, sep1, v[i].n);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    free(v);
}

/* --by api: one row per item and API, then the side's totals per API. */
static void
print_api_rows(const char *view, const json_t *side, bool csv)
{
    const json_t *items = json_object_get(side, "items");
    size_t i, n;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        struct api_n *v = apis_sorted(json_object_get(it, "requestsByApi"), &n);
        for (size_t j = 0; v && j < n; j++) {
            if (csv)
                printf("%s,%s,%s,%s,%s,%s,%s,%s,%s,%lld\n", view, jstr(it, "periodStart"),
                       jstr(it, "periodEnd"), jstr(it, "vpcConnectionArn"), jstr(it, "clusterArn"),
                       jstr(it, "authentication"), jstr(it, "clientAccount"),
                       jstr(it, "clusterAccount"), v[j].api, v[j].n);
            else
                printf("%-17s %-20s %-10s %-40.40s %-28s %12lld\n", view, jstr(it, "periodStart"),
                       jstr(it, "authentication"), jstr(it, "vpcConnectionArn"), v[j].api, v[j].n);
        }
        free(v);
    }
    if (csv)
        return;
    struct api_n *v =
        apis_sorted(json_object_get(json_object_get(side, "total"), "requestsByApi"), &n);
    for (size_t j = 0; v && j < n; j++)
        printf("%-17s %-20s %-10s %-40s %-28s %12lld\n", view, "TOTAL", "", "", v[j].api, v[j].n);
    free(v);
}

static void
print_rows(const char *view, const json_t *side, bool csv)
{
    const json_t *items = json_object_get(side, "items");
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        const json_t *cost = json_object_get(it, "cost");
        char top[1024];
        apis_text(json_object_get(it, "requestsByApi"), csv ? 0 : 3, csv ? '=' : ':',
                  csv ? ';' : ' ', top, sizeof(top));
        if (csv)
            printf("%s,%s,%s,%s,%s,%s,%s,%s,%lld,%lld,%lld,%.6f,%.6f,%.6f,%.6f,%.6f,%s\n", view,
                   jstr(it, "periodStart"), jstr(it, "periodEnd"), jstr(it, "vpcConnectionArn"),
                   jstr(it, "clusterArn"), jstr(it, "authentication"), jstr(it, "clientAccount"),
                   jstr(it, "clusterAccount"), jint(it, "bytesIn"), jint(it, "bytesOut"),
                   jint(it, "requests"), jnum(it, "connectionHours"), jnum(it, "dataProcessedGB"),
                   jnum(cost, "dataProcessing"), jnum(cost, "connectionHours"), jnum(cost, "total"),
                   top);
        else
            printf("%-17s %-20s %-10s %-40.40s %12lld %12lld %9lld %9.4f %10.6f  %s\n", view,
                   jstr(it, "periodStart"), jstr(it, "authentication"),
                   jstr(it, "vpcConnectionArn"), jint(it, "bytesIn"), jint(it, "bytesOut"),
                   jint(it, "requests"), jnum(it, "connectionHours"), jnum(cost, "total"), top);
    }
    if (!csv) {
        const char *scheme;
        const json_t *b;
        char top[1024];
        json_object_foreach((json_t *)json_object_get(side, "byAuthentication"), scheme, b)
        {
            apis_text(json_object_get(b, "requestsByApi"), 3, ':', ' ', top, sizeof(top));
            printf("%-17s %-20s %-10s %-40s %12lld %12lld %9lld %9.4f %10.6f  %s\n", view, "TOTAL",
                   scheme, "(all connections of the scheme)", jint(b, "bytesIn"),
                   jint(b, "bytesOut"), jint(b, "requests"), jnum(b, "connectionHours"),
                   jnum(json_object_get(b, "cost"), "total"), top);
        }
        const json_t *t = json_object_get(side, "total");
        apis_text(json_object_get(t, "requestsByApi"), 3, ':', ' ', top, sizeof(top));
        printf("%-17s %-20s %-10s %-40s %12lld %12lld %9lld %9.4f %10.6f  %s\n", view, "TOTAL", "",
               "", jint(t, "bytesIn"), jint(t, "bytesOut"), jint(t, "requests"),
               jnum(t, "connectionHours"), jnum(json_object_get(t, "cost"), "total"), top);
    }
}

int
st_cli_usage(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"endpoint-url", required_argument, NULL, 'e'},
        {"region", required_argument, NULL, 'r'},
        {"profile", required_argument, NULL, 'p'},
        {"ca-bundle", required_argument, NULL, 'b'},
        {"cluster-arn", required_argument, NULL, 'c'},
        {"vpc-connection-arn", required_argument, NULL, 'v'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"now", required_argument, NULL, 'n'},
        {"granularity", required_argument, NULL, 'g'},
        {"view", required_argument, NULL, 'w'},
        {"output", required_argument, NULL, 'o'},
        {"by", required_argument, NULL, 'y'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *endpoint = getenv("STRAIT_ENDPOINT_URL"), *region = getenv("AWS_REGION"),
               *profile = NULL, *ca = getenv("AWS_CA_BUNDLE"), *cluster = NULL, *conn = NULL,
               *from = NULL, *to = NULL, *now = NULL, *gran = NULL, *view = NULL, *output = "table",
               *by = NULL;
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'e':
            endpoint = optarg;
            break;
        case 'r':
            region = optarg;
            break;
        case 'p':
            profile = optarg;
            break;
        case 'b':
            ca = optarg;
            break;
        case 'c':
            cluster = optarg;
            break;
        case 'v':
            conn = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'n':
            now = optarg;
            break;
        case 'g':
            gran = optarg;
            break;
        case 'w':
            view = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case 'y':
            by = optarg;
            break;
        case 'h':
            usage_help(stdout);
            return 0;
        default:
            usage_help(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "strait usage: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (strcmp(output, "json") != 0 && strcmp(output, "table") != 0 && strcmp(output, "csv") != 0) {
        fprintf(stderr, "strait usage: --output is json, table or csv\n");
        return 2;
    }
    if (by && strcmp(by, "api") != 0) {
        fprintf(stderr, "strait usage: --by is api\n");
        return 2;
    }
    bool by_api = by != NULL;
    const char *wire_view = NULL;
    if (view && strcmp(view, "cluster-owner") == 0)
        wire_view = "clusterOwner";
    else if (view && strcmp(view, "connection-owner") == 0)
        wire_view = "connectionOwner";
    else if (view) {
        fprintf(stderr, "strait usage: --view is cluster-owner or connection-owner\n");
        return 2;
    }
    if (!endpoint || !*endpoint) {
        fprintf(stderr, "strait usage: give --endpoint-url http(s)://HOST:PORT (or set "
                        "STRAIT_ENDPOINT_URL)\n");
        return 2;
    }
    struct st_cli_api cl;
    memset(&cl, 0, sizeof(cl));
    snprintf(cl.endpoint, sizeof(cl.endpoint), "%s", endpoint);
    size_t el = strlen(cl.endpoint);
    while (el && cl.endpoint[el - 1] == '/')
        cl.endpoint[--el] = '\0';
    const char *hs = strstr(cl.endpoint, "://");
    if (!hs || strchr(hs + 3, '/')) {
        fprintf(stderr, "strait usage: --endpoint-url must look like http(s)://HOST:PORT\n");
        return 2;
    }
    snprintf(cl.host, sizeof(cl.host), "%s", hs + 3);
    snprintf(cl.region, sizeof(cl.region), "%s", region && *region ? region : "us-east-1");
    snprintf(cl.ca_bundle, sizeof(cl.ca_bundle), "%s", ca ? ca : "");
    if (st_cli_load_credentials(&cl.creds, profile) != 0)
        return 1;
    char q[4096] = "";
    st_cli_query_add(q, sizeof(q), "clusterArn", cluster);
    st_cli_query_add(q, sizeof(q), "from", from);
    st_cli_query_add(q, sizeof(q), "granularity", gran);
    st_cli_query_add(q, sizeof(q), "now", now);
    st_cli_query_add(q, sizeof(q), "to", to);
    st_cli_query_add(q, sizeof(q), "view", wire_view);
    st_cli_query_add(q, sizeof(q), "vpcConnectionArn", conn);
    json_t *j = NULL;
    char etype[256];
    curl_global_init(CURL_GLOBAL_DEFAULT);
    long status =
        st_cli_api_call(&cl, "GET", "/strait/v1/usage", q, NULL, &j, etype, sizeof(etype));
    int rc = 0;
    if (status == 0) {
        rc = 1;
    } else if (status != 200) {
        const char *msg = json_string_value(json_object_get(j, "message"));
        fprintf(stderr, "strait: usage: %s (%s, HTTP %ld)\n", msg ? msg : "request failed",
                etype[0] ? etype : "error", status);
        rc = 1;
    } else if (strcmp(output, "json") == 0) {
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
        printf("%s\n", text ? text : "{}");
        free(text);
    } else {
        bool csv = strcmp(output, "csv") == 0;
        const json_t *pr = json_object_get(j, "prices");
        if (by_api && csv)
            printf("view,periodStart,periodEnd,vpcConnectionArn,clusterArn,authentication,"
                   "clientAccount,clusterAccount,api,requests\n");
        else if (by_api)
            printf("account %s, %s .. %s, %s; requests by Kafka API\n%-17s %-20s %-10s %-40s "
                   "%-28s %12s\n",
                   jstr(j, "account"), jstr(j, "from"), jstr(j, "to"), jstr(j, "granularity"),
                   "VIEW", "PERIOD", "SCHEME", "VPC CONNECTION", "API", "REQUESTS");
        else if (csv)
            printf(
                "view,periodStart,periodEnd,vpcConnectionArn,clusterArn,authentication,"
                "clientAccount,clusterAccount,bytesIn,bytesOut,requests,connectionHours,"
                "dataProcessedGB,costDataProcessing,costConnectionHours,costTotal,requestsByApi\n");
        else
            printf("account %s, %s .. %s (as of %s), %s; USD %.4f/GB processed, %.4f/connection-"
                   "hour\n%-17s %-20s %-10s %-40s %12s %12s %9s %9s %10s  %s\n",
                   jstr(j, "account"), jstr(j, "from"), jstr(j, "to"), jstr(j, "asOf"),
                   jstr(j, "granularity"), jnum(pr, "perGBProcessed"),
                   jnum(pr, "perConnectionHour"), "VIEW", "PERIOD", "SCHEME", "VPC CONNECTION",
                   "BYTES IN", "BYTES OUT", "REQUESTS", "CONN-H", "COST USD", "TOP APIS");
        void (*print)(const char *, const json_t *, bool) = by_api ? print_api_rows : print_rows;
        if (json_object_get(j, "asClusterOwner"))
            print("cluster-owner", json_object_get(j, "asClusterOwner"), csv);
        if (json_object_get(j, "asConnectionOwner"))
            print("connection-owner", json_object_get(j, "asConnectionOwner"), csv);
    }
    json_decref(j);
    curl_global_cleanup();
    return rc;
}

/*
 * `strait kafka ...`: the MSK control-plane API from the command line, mirroring `aws kafka`
 * (same operation names in kebab-case, same --option names, PascalCase JSON output), SigV4-signed
 * with src/auth. Extras: `put-cluster-policy --basic ACCOUNT_ID...` writes MSK's Basic multi-VPC
 * policy, `create-vpc-connection --wait` shows progress until AVAILABLE, and
 * `connection-info ARN` prints the connection string and a ready client configuration, and
 * `get-ca-certificate` the CA that issues the endpoint certificates (GET
 * /strait/v1/ca-certificate).
 *
 * Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
 * AWS_PROFILE (or --profile, default "default") section of ~/.aws/credentials
 * (AWS_SHARED_CREDENTIALS_FILE). Endpoint: --endpoint-url or STRAIT_ENDPOINT_URL. Region:
 * --region, AWS_REGION, AWS_DEFAULT_REGION, else us-east-1. https endpoints are verified against
 * --ca-bundle / AWS_CA_BUNDLE (else the system store). Service errors exit with 254, like the AWS
 * CLI.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "auth/encoding.h"
#include "auth/sigv4.h"
#include "cli/cli.h"
#include "util/buf.h"

enum opt_type { T_STR, T_INT, T_LIST, T_JSON, T_MAP, T_BOOL };
enum opt_loc { L_BODY, L_QUERY, L_PATH };

struct opt {
    const char *flag;   /* --flag */
    const char *wire;   /* wire member / query / label name */
    enum opt_type type; /* how the value is parsed */
    enum opt_loc loc;   /* where it goes */
    bool required;      /* must be given */
};

struct command {
    const char *name;    /* kebab-case, as in `aws kafka` */
    const char *op;      /* operation name, for messages */
    const char *method;  /* HTTP method */
    const char *path;    /* template with {label} */
    struct opt opts[10]; /* options, terminated by flag NULL */
};

#define CLUSTER_ARN_PATH                                                                           \
    {                                                                                              \
        "--cluster-arn", "clusterArn", T_STR, L_PATH, true                                         \
    }
#define PAGING                                                                                     \
    {"--max-results", "maxResults", T_INT, L_QUERY, false},                                        \
    {                                                                                              \
        "--next-token", "nextToken", T_STR, L_QUERY, false                                         \
    }

static const struct command commands[] = {
    {"create-cluster-v2",
     "CreateClusterV2",
     "POST",
     "/api/v2/clusters",
     {{"--cluster-name", "clusterName", T_STR, L_BODY, true},
      {"--provisioned", "provisioned", T_JSON, L_BODY, false},
      {"--serverless", "serverless", T_JSON, L_BODY, false},
      {"--tags", "tags", T_MAP, L_BODY, false},
      {"--upstream", "straitUpstream", T_STR, L_BODY, false},
      {"--upstream-security", "straitUpstreamSecurity", T_JSON, L_BODY, false}}},
    {"describe-cluster", "DescribeCluster", "GET", "/v1/clusters/{clusterArn}", {CLUSTER_ARN_PATH}},
    {"describe-cluster-v2",
     "DescribeClusterV2",
     "GET",
     "/api/v2/clusters/{clusterArn}",
     {CLUSTER_ARN_PATH}},
    {"list-clusters-v2",
     "ListClustersV2",
     "GET",
     "/api/v2/clusters",
     {{"--cluster-name-filter", "clusterNameFilter", T_STR, L_QUERY, false},
      {"--cluster-type-filter", "clusterTypeFilter", T_STR, L_QUERY, false},
      PAGING}},
    {"delete-cluster",
     "DeleteCluster",
     "DELETE",
     "/v1/clusters/{clusterArn}",
     {CLUSTER_ARN_PATH, {"--current-version", "currentVersion", T_STR, L_QUERY, false}}},
    {"get-bootstrap-brokers",
     "GetBootstrapBrokers",
     "GET",
     "/v1/clusters/{clusterArn}/bootstrap-brokers",
     {CLUSTER_ARN_PATH}},
    {"update-connectivity",
     "UpdateConnectivity",
     "PUT",
     "/v1/clusters/{clusterArn}/connectivity",
     {CLUSTER_ARN_PATH,
      {"--current-version", "currentVersion", T_STR, L_BODY, true},
      {"--connectivity-info", "connectivityInfo", T_JSON, L_BODY, true}}},
    {"update-security",
     "UpdateSecurity",
     "PATCH",
     "/v1/clusters/{clusterArn}/security",
     {CLUSTER_ARN_PATH,
      {"--current-version", "currentVersion", T_STR, L_BODY, true},
      {"--client-authentication", "clientAuthentication", T_JSON, L_BODY, false},
      {"--encryption-info", "encryptionInfo", T_JSON, L_BODY, false}}},
    {"put-cluster-policy",
     "PutClusterPolicy",
     "PUT",
     "/v1/clusters/{clusterArn}/policy",
     {CLUSTER_ARN_PATH,
      {"--policy", "policy", T_STR, L_BODY, false},
      {"--current-version", "currentVersion", T_STR, L_BODY, false},
      {"--basic", "", T_LIST, L_BODY, false}}},
    {"get-cluster-policy",
     "GetClusterPolicy",
     "GET",
     "/v1/clusters/{clusterArn}/policy",
     {CLUSTER_ARN_PATH}},
    {"delete-cluster-policy",
     "DeleteClusterPolicy",
     "DELETE",
     "/v1/clusters/{clusterArn}/policy",
     {CLUSTER_ARN_PATH}},
    {"create-vpc-connection",
     "CreateVpcConnection",
     "POST",
     "/v1/vpc-connection",
     {{"--target-cluster-arn", "targetClusterArn", T_STR, L_BODY, true},
      {"--authentication", "authentication", T_STR, L_BODY, true},
      {"--vpc-id", "vpcId", T_STR, L_BODY, true},
      {"--client-subnets", "clientSubnets", T_LIST, L_BODY, true},
      {"--security-groups", "securityGroups", T_LIST, L_BODY, true},
      {"--tags", "tags", T_MAP, L_BODY, false},
      {"--wait", "", T_BOOL, L_BODY, false}}},
    {"describe-vpc-connection",
     "DescribeVpcConnection",
     "GET",
     "/v1/vpc-connection/{arn}",
     {{"--arn", "arn", T_STR, L_PATH, true}}},
    {"list-vpc-connections", "ListVpcConnections", "GET", "/v1/vpc-connections", {PAGING}},
    {"list-client-vpc-connections",
     "ListClientVpcConnections",
     "GET",
     "/v1/clusters/{clusterArn}/client-vpc-connections",
     {CLUSTER_ARN_PATH, PAGING}},
    {"reject-client-vpc-connection",
     "RejectClientVpcConnection",
     "PUT",
     "/v1/clusters/{clusterArn}/client-vpc-connection",
     {CLUSTER_ARN_PATH, {"--vpc-connection-arn", "vpcConnectionArn", T_STR, L_BODY, true}}},
    {"delete-vpc-connection",
     "DeleteVpcConnection",
     "DELETE",
     "/v1/vpc-connection/{arn}",
     {{"--arn", "arn", T_STR, L_PATH, true}}},
    {"batch-associate-scram-secret",
     "BatchAssociateScramSecret",
     "POST",
     "/v1/clusters/{clusterArn}/scram-secrets",
     {CLUSTER_ARN_PATH, {"--secret-arn-list", "secretArnList", T_LIST, L_BODY, true}}},
    {"batch-disassociate-scram-secret",
     "BatchDisassociateScramSecret",
     "PATCH",
     "/v1/clusters/{clusterArn}/scram-secrets",
     {CLUSTER_ARN_PATH, {"--secret-arn-list", "secretArnList", T_LIST, L_BODY, true}}},
    {"list-scram-secrets",
     "ListScramSecrets",
     "GET",
     "/v1/clusters/{clusterArn}/scram-secrets",
     {CLUSTER_ARN_PATH, PAGING}},
    {"tag-resource",
     "TagResource",
     "POST",
     "/v1/tags/{resourceArn}",
     {{"--resource-arn", "resourceArn", T_STR, L_PATH, true},
      {"--tags", "tags", T_MAP, L_BODY, true}}},
    {"untag-resource",
     "UntagResource",
     "DELETE",
     "/v1/tags/{resourceArn}",
     {{"--resource-arn", "resourceArn", T_STR, L_PATH, true},
      {"--tag-keys", "tagKeys", T_LIST, L_QUERY, true}}},
    {"list-tags-for-resource",
     "ListTagsForResource",
     "GET",
     "/v1/tags/{resourceArn}",
     {{"--resource-arn", "resourceArn", T_STR, L_PATH, true}}},
    {NULL, NULL, NULL, NULL, {{NULL, NULL, T_STR, L_BODY, false}}},
};

struct client {
    struct st_cli_api api; /* endpoint, region, credentials, CA bundle */
    bool json_out;         /* --output json (default) */
    bool output_given;     /* --output was given (connection-info defaults to text) */
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: strait kafka [--endpoint-url URL] [--region R] [--profile P] "
               "[--ca-bundle PEM] [--output json|text] <command> [options]\n\ncommands:\n");
    for (const struct command *c = commands; c->name; c++) {
        fprintf(f, "  %s", c->name);
        for (const struct opt *o = c->opts; o->flag; o++)
            fprintf(f, " %s%s%s%s", o->required ? "" : "[", o->flag,
                    o->type == T_BOOL   ? ""
                    : o->type == T_LIST ? " V..."
                                        : " V",
                    o->required ? "" : "]");
        fprintf(f, "\n");
    }
    fprintf(f, "  connection-info --arn VPC_CONNECTION_ARN   (or connection-info ARN)\n"
               "  get-ca-certificate   the CA of the endpoint certificates (PEM; --output json:\n"
               "                       {\"CaCertificate\": ...})\n"
               "\nJSON values accept literal JSON or file://PATH; maps accept k=v,k2=v2 or JSON.\n"
               "put-cluster-policy --basic ACCOUNT_ID... writes MSK's Basic multi-VPC policy for "
               "those accounts\n(reading the current version itself when --current-version is "
               "not given).\n");
}

/* ---- credentials */

/* Loads the CLI's credentials (env or profile) into the client. */
static int
load_credentials(struct client *cl, const char *profile)
{
    return st_cli_load_credentials(&cl->api.creds, profile);
}

/* ---- HTTP */

/* Sends a signed request (st_cli_api_call()). */
static long
call(struct client *cl, const char *method, const char *path, const char *query, const char *body,
     json_t **out, char *etype, size_t etype_len)
{
    return st_cli_api_call(&cl->api, method, path, query, body, out, etype, etype_len);
}

/* Like `aws`: "An error occurred (Type) when calling the Op operation: message". */
static int
report_error(const char *op, long status, const char *etype, json_t *j)
{
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (!msg)
        msg = json_string_value(json_object_get(j, "Message"));
    char type[128];
    snprintf(type, sizeof(type), "%s", etype[0] ? etype : "HTTP error");
    char *colon = strchr(type, ':');
    if (colon)
        *colon = '\0';
    fprintf(stderr, "An error occurred (%s) when calling the %s operation: %s\n", type, op,
            msg ? msg : "(no message)");
    (void)status;
    return 254;
}

/* camelCase wire names -> PascalCase, as the AWS CLI prints them (map keys under "tags" kept). */
static json_t *
pascal(const json_t *v, bool keep_keys)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            char name[256];
            snprintf(name, sizeof(name), "%s", k);
            if (!keep_keys)
                name[0] = (char)toupper((unsigned char)name[0]);
            json_object_set_new(o, name, pascal(x, !keep_keys && strcmp(k, "tags") == 0));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, pascal(x, false));
        return a;
    }
    return json_deep_copy(v);
}

/*
 * PascalCase input members -> camelCase wire names, as the AWS CLI accepts them
 * ("VpcConnectivity" -> "vpcConnectivity"); map keys under "tags" are user data and kept.
 * Returns a new value.
 */
static json_t *
camel(const json_t *v, bool keep_keys)
{
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            char name[256];
            snprintf(name, sizeof(name), "%s", k);
            if (!keep_keys)
                name[0] = (char)tolower((unsigned char)name[0]);
            json_object_set_new(o, name, camel(x, !keep_keys && strcmp(name, "tags") == 0));
        }
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) json_array_append_new(a, camel(x, false));
        return a;
    }
    return json_deep_copy(v);
}

static void
print_json(const json_t *j)
{
    json_t *p = pascal(j, false);
    char *text = json_dumps(p, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    json_decref(p);
    if (text)
        printf("%s\n", text);
    free(text);
}

static int
append_encoded(struct st_buf *b, const char *s)
{
    return st_uri_encode(b, s, strlen(s), false);
}

/* Reads a value given as literal text or file://PATH. Returns a new string or NULL. */
static char *
value_text(const char *v)
{
    if (strncmp(v, "file://", 7) != 0)
        return strdup(v);
    FILE *f = fopen(v + 7, "rb");
    if (!f) {
        fprintf(stderr, "strait: cannot open %s\n", v + 7);
        return NULL;
    }
    struct st_buf b = ST_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (st_buf_append(&b, chunk, n) != 0)
            break;
    fclose(f);
    if (st_buf_append_u8(&b, 0) != 0) {
        st_buf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

/* Parsed options of one invocation. */
struct args {
    const struct command *cmd; /* the command */
    const char *values[10];    /* T_STR/T_INT/T_JSON/T_MAP value per option */
    json_t *lists[10];         /* T_LIST values */
    bool flags[10];            /* T_BOOL */
};

static int
parse_args(const struct command *cmd, int argc, char **argv, struct args *a)
{
    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    for (int i = 0; i < argc; i++) {
        const struct opt *o = NULL;
        size_t k = 0;
        for (; cmd->opts[k].flag; k++) {
            if (strcmp(argv[i], cmd->opts[k].flag) == 0) {
                o = &cmd->opts[k];
                break;
            }
        }
        if (!o) {
            fprintf(stderr, "strait: %s: unknown option '%s'\n", cmd->name, argv[i]);
            return -1;
        }
        if (o->type == T_BOOL) {
            a->flags[k] = true;
            continue;
        }
        if (o->type == T_LIST) {
            if (!a->lists[k])
                a->lists[k] = json_array();
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                json_array_append_new(a->lists[k], json_string(argv[++i]));
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "strait: %s: %s needs a value\n", cmd->name, argv[i]);
            return -1;
        }
        a->values[k] = argv[++i];
    }
    for (size_t k = 0; cmd->opts[k].flag; k++) {
        if (cmd->opts[k].required && !a->values[k] && !a->lists[k] && !a->flags[k]) {
            fprintf(stderr, "strait: %s: %s is required\n", cmd->name, cmd->opts[k].flag);
            return -1;
        }
    }
    return 0;
}

static void
args_clear(struct args *a)
{
    for (size_t k = 0; k < 10; k++)
        json_decref(a->lists[k]);
}

static const char *
arg_value(const struct args *a, const char *flag)
{
    for (size_t k = 0; a->cmd->opts[k].flag; k++)
        if (strcmp(a->cmd->opts[k].flag, flag) == 0)
            return a->values[k];
    return NULL;
}

static json_t *
arg_list(const struct args *a, const char *flag)
{
    for (size_t k = 0; a->cmd->opts[k].flag; k++)
        if (strcmp(a->cmd->opts[k].flag, flag) == 0)
            return a->lists[k];
    return NULL;
}

static bool
arg_flag(const struct args *a, const char *flag)
{
    for (size_t k = 0; a->cmd->opts[k].flag; k++)
        if (strcmp(a->cmd->opts[k].flag, flag) == 0)
            return a->flags[k];
    return false;
}

/* Builds path, query and body from the arguments and performs the call. */
static long
invoke(struct client *cl, const struct args *a, json_t **out, char *etype, size_t etype_len)
{
    const struct command *cmd = a->cmd;
    struct st_buf path = ST_BUF_INIT, query = ST_BUF_INIT;
    json_t *body = json_object();
    long status = -1;
    for (const char *p = cmd->path; *p;) {
        if (*p == '{') {
            const char *end = strchr(p, '}');
            const char *val = NULL;
            for (size_t k = 0; cmd->opts[k].flag; k++)
                if (cmd->opts[k].loc == L_PATH &&
                    strlen(cmd->opts[k].wire) == (size_t)(end - p - 1) &&
                    memcmp(cmd->opts[k].wire, p + 1, (size_t)(end - p - 1)) == 0)
                    val = a->values[k];
            if (!val || append_encoded(&path, val) != 0)
                goto out;
            p = end + 1;
        } else {
            if (st_buf_append_u8(&path, (uint8_t)*p++) != 0)
                goto out;
        }
    }
    for (size_t k = 0; cmd->opts[k].flag; k++) {
        const struct opt *o = &cmd->opts[k];
        if (!o->wire[0] || o->loc == L_PATH)
            continue;
        if (o->loc == L_QUERY) {
            json_t *vals = a->lists[k];
            size_t n = vals ? json_array_size(vals) : (a->values[k] ? 1 : 0);
            for (size_t i = 0; i < n; i++) {
                const char *v = vals ? json_string_value(json_array_get(vals, i)) : a->values[k];
                if ((query.len && st_buf_append_u8(&query, '&') != 0) ||
                    append_encoded(&query, o->wire) != 0 || st_buf_append_u8(&query, '=') != 0 ||
                    append_encoded(&query, v) != 0)
                    goto out;
            }
            continue;
        }
        json_t *v = NULL;
        if (o->type == T_LIST && a->lists[k]) {
            v = json_incref(a->lists[k]);
        } else if (a->values[k] && o->type == T_INT) {
            v = json_integer(strtoll(a->values[k], NULL, 10));
        } else if (a->values[k] && o->type == T_STR) {
            char *t = value_text(a->values[k]);
            if (!t)
                goto out;
            v = json_string(t);
            free(t);
        } else if (a->values[k] && (o->type == T_JSON || o->type == T_MAP)) {
            char *t = value_text(a->values[k]);
            if (!t)
                goto out;
            json_error_t jerr;
            v = json_loads(t, 0, &jerr);
            if (!v && o->type == T_MAP) {
                v = json_object();
                char *save = NULL;
                for (char *kv = strtok_r(t, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
                    char *eq = strchr(kv, '=');
                    if (!eq) {
                        fprintf(stderr, "strait: %s: expected KEY=VALUE, got '%s'\n", o->flag, kv);
                        free(t);
                        json_decref(v);
                        goto out;
                    }
                    *eq = '\0';
                    json_object_set_new(v, kv, json_string(eq + 1));
                }
            }
            free(t);
            if (!v) {
                fprintf(stderr, "strait: %s: not valid JSON: %s\n", o->flag, jerr.text);
                goto out;
            }
            if (o->type == T_JSON) {
                json_t *c = camel(v, false);
                json_decref(v);
                v = c;
            }
        }
        if (v)
            json_object_set_new(body, o->wire, v);
    }
    if (st_buf_append_u8(&path, 0) != 0 || st_buf_append_u8(&query, 0) != 0)
        goto out;
    char *text = strcmp(cmd->method, "GET") == 0 || strcmp(cmd->method, "DELETE") == 0
                     ? NULL
                     : json_dumps(body, JSON_COMPACT);
    status = call(cl, cmd->method, (const char *)path.data, (const char *)query.data, text, out,
                  etype, etype_len);
    free(text);
out:
    json_decref(body);
    st_buf_free(&path);
    st_buf_free(&query);
    return status;
}

static const struct command *
find_command(const char *name)
{
    for (const struct command *c = commands; c->name; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

/* Runs `name` with a ready-made argv; returns the JSON answer or NULL (error printed). */
static json_t *
run_simple(struct client *cl, const char *name, int argc, char **argv)
{
    struct args a;
    const struct command *c = find_command(name);
    if (parse_args(c, argc, argv, &a) != 0)
        return NULL;
    json_t *out = NULL;
    char etype[128];
    long st = invoke(cl, &a, &out, etype, sizeof(etype));
    args_clear(&a);
    if (st < 200 || st >= 300) {
        if (st > 0)
            report_error(c->op, st, etype, out);
        json_decref(out);
        return NULL;
    }
    return out;
}

static int
wait_connection(struct client *cl, const char *arn)
{
    char *argv[] = {"--arn", (char *)arn};
    char last[32] = "";
    for (int i = 0; i < 600; i++) {
        json_t *d = run_simple(cl, "describe-vpc-connection", 2, argv);
        if (!d)
            return 254;
        const char *state = json_string_value(json_object_get(d, "state"));
        if (state && strcmp(state, last) != 0) {
            fprintf(stderr, "%s: %s\n", arn, state);
            snprintf(last, sizeof(last), "%s", state);
        }
        bool done = state && strcmp(state, "CREATING") != 0;
        bool ok = state && strcmp(state, "AVAILABLE") == 0;
        const char *why = json_string_value(json_object_get(d, "straitStateReason"));
        if (done && !ok && why)
            fprintf(stderr, "reason: %s\n", why);
        json_decref(d);
        if (done)
            return ok ? 0 : 1;
        usleep(500000);
    }
    fprintf(stderr, "strait: gave up waiting for %s to become AVAILABLE\n", arn);
    return 1;
}

/* GET /strait/v1/ca-certificate: the CA that issues the endpoint certificates ("" on error). */
static char *
fetch_ca(struct client *cl, const char **why)
{
    json_t *out = NULL;
    char etype[128];
    long st = call(cl, "GET", "/strait/v1/ca-certificate", "", NULL, &out, etype, sizeof(etype));
    const char *pem = json_string_value(json_object_get(out, "caCertificate"));
    char *r = st == 200 && pem ? strdup(pem) : NULL;
    if (!r && st > 0)
        report_error("GetCaCertificate", st, etype, out);
    *why = st <= 0 ? "cannot reach the API" : "request failed";
    json_decref(out);
    return r;
}

/* `strait kafka get-ca-certificate`: PEM on stdout, or {"CaCertificate": ...} with --output
 * json. */
static int
get_ca_certificate(struct client *cl)
{
    const char *why = NULL;
    char *pem = fetch_ca(cl, &why);
    if (!pem)
        return 254;
    if (cl->json_out) {
        json_t *o = json_pack("{s:s}", "caCertificate", pem);
        print_json(o);
        json_decref(o);
    } else {
        fputs(pem, stdout);
    }
    free(pem);
    return 0;
}

static int
connection_info(struct client *cl, const char *arn)
{
    char *argv[] = {"--arn", (char *)arn};
    json_t *d = run_simple(cl, "describe-vpc-connection", 2, argv);
    if (!d)
        return 254;
    const char *cluster = json_string_value(json_object_get(d, "targetClusterArn"));
    const char *authn = json_string_value(json_object_get(d, "authentication"));
    const char *state = json_string_value(json_object_get(d, "state"));
    char *bargv[] = {"--cluster-arn", (char *)(cluster ? cluster : "")};
    json_t *bb = run_simple(cl, "get-bootstrap-brokers", 2, bargv);
    if (!bb) {
        json_decref(d);
        return 254;
    }
    const char *field = strcmp(authn, "SASL_SCRAM") == 0
                            ? "bootstrapBrokerStringVpcConnectivitySaslScram"
                        : strcmp(authn, "TLS") == 0 ? "bootstrapBrokerStringVpcConnectivityTls"
                                                    : "bootstrapBrokerStringVpcConnectivitySaslIam";
    const char *boot = json_string_value(json_object_get(bb, field));
    char props[2048];
    if (strcmp(authn, "SASL_SCRAM") == 0)
        snprintf(props, sizeof(props),
                 "bootstrap.servers=%s\nsecurity.protocol=SASL_SSL\nsasl.mechanism=SCRAM-SHA-512\n"
                 "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule "
                 "required username=\"<user>\" password=\"<password>\";\n",
                 boot ? boot : "");
    else if (strcmp(authn, "TLS") == 0)
        snprintf(props, sizeof(props),
                 "bootstrap.servers=%s\nsecurity.protocol=SSL\n"
                 "ssl.keystore.location=<client keystore>\nssl.keystore.password=<password>\n",
                 boot ? boot : "");
    else
        snprintf(props, sizeof(props),
                 "bootstrap.servers=%s\nsecurity.protocol=SASL_SSL\nsasl.mechanism=AWS_MSK_IAM\n"
                 "sasl.jaas.config=software.amazon.msk.auth.iam.IAMLoginModule required;\n"
                 "sasl.client.callback.handler.class=software.amazon.msk.auth.iam."
                 "IAMClientCallbackHandler\n",
                 boot ? boot : "");
    int rc = 0;
    const char *why = NULL;
    char *ca = fetch_ca(cl, &why);
    if (cl->json_out) {
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:s?}", "vpcConnectionArn", arn,
                              "state", state ? state : "", "authentication", authn ? authn : "",
                              "targetClusterArn", cluster ? cluster : "", "bootstrapBrokers", boot,
                              "clientProperties", props, "caCertificate", ca);
        print_json(o);
        json_decref(o);
    } else {
        printf("VPC connection:    %s (%s)\nCluster:           %s\nAuthentication:    %s\n"
               "Bootstrap servers: %s\n\nclient.properties:\n%s"
               "ssl.truststore.type=PEM\nssl.truststore.location=strait-ca.pem\n"
               "\nCA certificate (save as strait-ca.pem; `strait kafka get-ca-certificate` "
               "prints it again):\n%s",
               arn, state ? state : "?", cluster ? cluster : "?", authn ? authn : "?",
               boot ? boot : "(none: the connection is not AVAILABLE or the scheme is off)", props,
               ca ? ca : "(not available: run `strait kafka get-ca-certificate`)\n");
    }
    free(ca);
    if (!boot)
        rc = 1;
    json_decref(d);
    json_decref(bb);
    return rc;
}

/* put-cluster-policy --basic ACCOUNT...: MSK's Basic multi-VPC policy for those accounts. */
static int
put_basic_policy(struct client *cl, const struct args *a)
{
    const char *arn = arg_value(a, "--cluster-arn");
    json_t *accounts = arg_list(a, "--basic");
    if (!json_array_size(accounts)) {
        fprintf(stderr, "strait: --basic needs at least one 12-digit account id\n");
        return 2;
    }
    json_t *principals = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(accounts, i, v)
    {
        const char *acct = json_string_value(v);
        size_t n = strlen(acct);
        bool digits = n == 12;
        for (size_t k = 0; k < n; k++)
            digits = digits && isdigit((unsigned char)acct[k]);
        if (!digits) {
            fprintf(stderr, "strait: --basic: '%s' is not a 12-digit account id\n", acct);
            json_decref(principals);
            return 2;
        }
        char p[64];
        snprintf(p, sizeof(p), "arn:aws:iam::%s:root", acct);
        json_array_append_new(principals, json_string(p));
    }
    json_t *doc = json_pack("{s:s, s:[{s:s, s:{s:o}, s:[s,s,s,s], s:s}]}", "Version", "2012-10-17",
                            "Statement", "Effect", "Allow", "Principal", "AWS", principals,
                            "Action", "kafka:CreateVpcConnection", "kafka:GetBootstrapBrokers",
                            "kafka:DescribeCluster", "kafka:DescribeClusterV2", "Resource", arn);
    char *policy = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    const char *cv = arg_value(a, "--current-version");
    json_t *cur = NULL;
    if (!cv) {
        /* Replace an existing policy: read its version (NotFound means create). */
        char *gargv[] = {"--cluster-arn", (char *)arn};
        struct args ga;
        if (parse_args(find_command("get-cluster-policy"), 2, gargv, &ga) != 0) {
            free(policy);
            return 2;
        }
        char etype[128];
        long st = invoke(cl, &ga, &cur, etype, sizeof(etype));
        args_clear(&ga);
        if (st == 200)
            cv = json_string_value(json_object_get(cur, "currentVersion"));
        else if (st != 404) {
            int rc = st > 0 ? report_error("GetClusterPolicy", st, etype, cur) : 1;
            json_decref(cur);
            free(policy);
            return rc;
        }
    }
    char *pargv[6] = {"--cluster-arn", (char *)arn, "--policy", policy, NULL, NULL};
    int pargc = 4;
    if (cv) {
        pargv[4] = "--current-version";
        pargv[5] = (char *)cv;
        pargc = 6;
    }
    json_t *out = run_simple(cl, "put-cluster-policy", pargc, pargv);
    json_decref(cur);
    free(policy);
    if (!out)
        return 254;
    print_json(out);
    json_decref(out);
    return 0;
}

int
st_cli_kafka(int argc, char **argv)
{
    struct client cl;
    memset(&cl, 0, sizeof(cl));
    cl.json_out = true;
    const char *endpoint = getenv("STRAIT_ENDPOINT_URL");
    const char *region = getenv("AWS_REGION");
    if (!region || !*region)
        region = getenv("AWS_DEFAULT_REGION");
    const char *profile = NULL;
    const char *ca = getenv("AWS_CA_BUNDLE");
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            usage(stderr);
            return 2;
        }
        if (strcmp(argv[i], "--endpoint-url") == 0)
            endpoint = argv[++i];
        else if (strcmp(argv[i], "--region") == 0)
            region = argv[++i];
        else if (strcmp(argv[i], "--profile") == 0)
            profile = argv[++i];
        else if (strcmp(argv[i], "--ca-bundle") == 0)
            ca = argv[++i];
        else if (strcmp(argv[i], "--output") == 0)
            cl.json_out = strcmp(argv[++i], "json") == 0, cl.output_given = true;
        else {
            fprintf(stderr, "strait kafka: unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[i++];
    /* Global options may also follow the command, as with `aws`. */
    char *rest[64];
    int nrest = 0;
    for (; i < argc && nrest < 64; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--endpoint-url") == 0)
            endpoint = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--region") == 0)
            region = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--profile") == 0)
            profile = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--ca-bundle") == 0)
            ca = argv[++i];
        else if (i + 1 < argc && strcmp(argv[i], "--output") == 0)
            cl.json_out = strcmp(argv[++i], "json") == 0, cl.output_given = true;
        else
            rest[nrest++] = argv[i];
    }
    size_t skip = endpoint && strncmp(endpoint, "http://", 7) == 0    ? 7
                  : endpoint && strncmp(endpoint, "https://", 8) == 0 ? 8
                                                                      : 0;
    if (!skip) {
        fprintf(stderr, "strait kafka: give --endpoint-url http(s)://HOST:PORT (or set "
                        "STRAIT_ENDPOINT_URL) pointing at straitd --api-listen\n");
        return 2;
    }
    snprintf(cl.api.endpoint, sizeof(cl.api.endpoint), "%s", endpoint);
    snprintf(cl.api.ca_bundle, sizeof(cl.api.ca_bundle), "%s", ca ? ca : "");
    size_t el = strlen(cl.api.endpoint);
    while (el > skip && cl.api.endpoint[el - 1] == '/')
        cl.api.endpoint[--el] = '\0';
    snprintf(cl.api.host, sizeof(cl.api.host), "%s", cl.api.endpoint + skip);
    char *slash = strchr(cl.api.host, '/');
    if (slash) {
        fprintf(stderr, "strait kafka: --endpoint-url must not carry a path\n");
        return 2;
    }
    snprintf(cl.api.region, sizeof(cl.api.region), "%s", region && *region ? region : "us-east-1");
    if (load_credentials(&cl, profile) != 0)
        return 2;
    if (strcmp(name, "get-ca-certificate") == 0) {
        if (!cl.output_given)
            cl.json_out = false;
        if (nrest != 0) {
            fprintf(stderr, "usage: strait kafka get-ca-certificate [--output json]\n");
            return 2;
        }
        return get_ca_certificate(&cl);
    }
    if (strcmp(name, "connection-info") == 0) {
        if (!cl.output_given)
            cl.json_out = false;
        const char *arn = nrest == 1                                    ? rest[0]
                          : nrest == 2 && strcmp(rest[0], "--arn") == 0 ? rest[1]
                                                                        : NULL;
        if (!arn) {
            fprintf(stderr, "usage: strait kafka connection-info VPC_CONNECTION_ARN\n");
            return 2;
        }
        return connection_info(&cl, arn);
    }
    const struct command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "strait kafka: unknown command '%s'\n\n", name);
        usage(stderr);
        return 2;
    }
    struct args a;
    if (parse_args(cmd, nrest, rest, &a) != 0)
        return 2;
    int rc;
    if (strcmp(name, "put-cluster-policy") == 0 && arg_list(&a, "--basic")) {
        rc = put_basic_policy(&cl, &a);
        args_clear(&a);
        return rc;
    }
    if (strcmp(name, "put-cluster-policy") == 0 && !arg_value(&a, "--policy")) {
        fprintf(stderr, "strait kafka: put-cluster-policy needs --policy (JSON or file://PATH) or "
                        "--basic ACCOUNT_ID...\n");
        args_clear(&a);
        return 2;
    }
    json_t *out = NULL;
    char etype[128];
    long st = invoke(&cl, &a, &out, etype, sizeof(etype));
    if (st <= 0) {
        rc = 1;
    } else if (st >= 300) {
        rc = report_error(cmd->op, st, etype, out);
    } else {
        if (st != 204)
            print_json(out);
        rc = 0;
        if (strcmp(name, "create-vpc-connection") == 0 && arg_flag(&a, "--wait")) {
            const char *carn = json_string_value(json_object_get(out, "vpcConnectionArn"));
            rc = carn ? wait_connection(&cl, carn) : 1;
        }
    }
    json_decref(out);
    args_clear(&a);
    return rc;
}

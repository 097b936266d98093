/*
 * `strait acl ...`: the Kafka ACLs of a managed cluster (for SASL/SCRAM and mTLS principals)
 * over straitd's admin socket (POST /v1/ctl/acls/{create,list,delete}, see src/ctl/acl.c). The
 * daemon validates bindings and filters as Kafka's CreateAcls/DescribeAcls/DeleteAcls do, so its
 * messages say what to fix; bindings use the JSON form of src/authz/acl.h.
 *
 *   strait acl create --cluster-arn ARN --resource-type TOPIC --resource-name orders
 *                     [--pattern-type LITERAL|PREFIXED] --principal User:alice [--host '*']
 *                     --operation READ [--permission ALLOW|DENY]
 *   strait acl list   --cluster-arn ARN [filter flags] [--json]
 *   strait acl delete --cluster-arn ARN (filter flags | --all) [--json]
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"

#define MAX_MULTI 32 /* --principal / --operation given several times (create) */

static void
acl_usage(FILE *f)
{
    fprintf(
        f, "usage: strait acl [--data-dir DIR | --socket PATH] <command> --cluster-arn ARN "
           "[options]\n"
           "\n"
           "commands:\n"
           "  create   add bindings: --resource-type TYPE --resource-name NAME\n"
           "           [--pattern-type LITERAL|PREFIXED] --principal User:NAME [--host '*']\n"
           "           --operation OP [--permission ALLOW|DENY]; --principal and --operation may\n"
           "           be repeated (one binding per combination); existing bindings are kept once\n"
           "  list     the bindings matching the filter flags (none: all) and the super users\n"
           "  delete   delete the bindings matching the filter flags (or --all) and print them\n"
           "\n"
           "filter flags (list, delete; an absent flag matches anything):\n"
           "  --resource-type ANY|TOPIC|GROUP|CLUSTER|TRANSACTIONAL_ID|DELEGATION_TOKEN|USER\n"
           "  --resource-name NAME\n"
           "  --pattern-type ANY|MATCH|LITERAL|PREFIXED   (default ANY: names compared exactly;\n"
           "                 MATCH: every binding that applies to resource NAME, wildcard and\n"
           "                 prefixes included)\n"
           "  --principal User:NAME  --host HOST  --operation OP  --permission ALLOW|DENY\n"
           "\n"
           "operations: ALL READ WRITE CREATE DELETE ALTER DESCRIBE CLUSTER_ACTION "
           "DESCRIBE_CONFIGS\n"
           "            ALTER_CONFIGS IDEMPOTENT_WRITE CREATE_TOKENS DESCRIBE_TOKENS\n"
           "output: a table, or --json (--output table|json)\n"
           "The socket defaults to $STRAIT_ADMIN_SOCKET, else /var/lib/strait/admin.sock.\n");
}

static const char *
js(const json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}

static const char *const cols[] = {"principal",    "host",        "operation",   "permissionType",
                                   "resourceType", "patternType", "resourceName"};
static const char *const heads[] = {"PRINCIPAL",     "HOST",         "OPERATION",    "PERMISSION",
                                    "RESOURCE_TYPE", "PATTERN_TYPE", "RESOURCE_NAME"};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

static void
print_row(const int *w, const char *const *v)
{
    for (size_t c = 0; c + 1 < NCOLS; c++)
        printf("%-*s  ", w[c], v[c]);
    printf("%s\n", v[NCOLS - 1]);
}

static void
print_table(const json_t *bindings)
{
    int w[NCOLS];
    const char *v[NCOLS];
    for (size_t c = 0; c < NCOLS; c++)
        w[c] = (int)strlen(heads[c]);
    size_t i;
    const json_t *b;
    json_array_foreach(bindings, i, b)
    {
        for (size_t c = 0; c < NCOLS; c++) {
            int l = (int)strlen(js(b, cols[c]));
            if (l > w[c])
                w[c] = l;
        }
    }
    print_row(w, heads);
    json_array_foreach(bindings, i, b)
    {
        for (size_t c = 0; c < NCOLS; c++)
            v[c] = js(b, cols[c]);
        print_row(w, v);
    }
}

/* Sends one request; prints the daemon's message on failure. Returns the answer or NULL. */
static json_t *
call(const char *sock, const char *path, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text) {
        fprintf(stderr, "strait acl: out of memory\n");
        return NULL;
    }
    json_t *j = NULL;
    long st = st_cli_admin_request(sock, "POST", path, text, 30, &j);
    free(text);
    if (st == 200 && j)
        return j;
    if (st == 404 && !json_object_get(j, "message"))
        fprintf(stderr, "strait acl: this straitd has no ACL support (HTTP 404)\n");
    else if (st)
        fprintf(stderr, "strait acl: %s (HTTP %ld)\n",
                j && json_object_get(j, "message") ? js(j, "message") : "request failed", st);
    json_decref(j);
    return NULL;
}

int
st_cli_acl(int argc, char **argv)
{
    static const struct option longopts[] = {
        ST_CLI_ADMIN_LONGOPTS,
        {"cluster-arn", required_argument, NULL, 'c'},
        {"resource-type", required_argument, NULL, 't'},
        {"resource-name", required_argument, NULL, 'n'},
        {"pattern-type", required_argument, NULL, 'y'},
        {"principal", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, 'H'},
        {"operation", required_argument, NULL, 'o'},
        {"permission", required_argument, NULL, 'P'},
        {"all", no_argument, NULL, 'a'},
        {"json", no_argument, NULL, 'j'},
        {"output", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct st_cli_admin_opts ao = {0};
    const char *arn = NULL, *rtype = NULL, *name = NULL, *ptype = NULL, *host = NULL, *perm = NULL;
    const char *principals[MAX_MULTI], *ops[MAX_MULTI];
    size_t np = 0, nop = 0;
    bool all = false, json_out = false;
    int ch;
    optind = 0;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (st_cli_admin_opt(&ao, ch, optarg))
            continue;
        switch (ch) {
        case 'c':
            arn = optarg;
            break;
        case 't':
            rtype = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'y':
            ptype = optarg;
            break;
        case 'p':
        case 'o':
            if ((ch == 'p' ? np : nop) >= MAX_MULTI) {
                fprintf(stderr, "strait acl: at most %d --%s\n", MAX_MULTI,
                        ch == 'p' ? "principal" : "operation");
                return 2;
            }
            if (ch == 'p')
                principals[np++] = optarg;
            else
                ops[nop++] = optarg;
            break;
        case 'H':
            host = optarg;
            break;
        case 'P':
            perm = optarg;
            break;
        case 'a':
            all = true;
            break;
        case 'j':
            json_out = true;
            break;
        case 'O':
            if (strcmp(optarg, "json") != 0 && strcmp(optarg, "table") != 0) {
                fprintf(stderr, "strait acl: --output is table or json\n");
                return 2;
            }
            json_out = strcmp(optarg, "json") == 0;
            break;
        case 'h':
            acl_usage(stdout);
            return 0;
        default:
            acl_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        acl_usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind], *sock = st_cli_admin_socket(&ao);
    bool create = strcmp(cmd, "create") == 0, list = strcmp(cmd, "list") == 0,
         del = strcmp(cmd, "delete") == 0;
    if (!create && !list && !del) {
        fprintf(stderr, "strait acl: unknown command '%s' (create, list, delete)\n", cmd);
        return 2;
    }
    if (!arn) {
        fprintf(stderr, "strait acl %s: --cluster-arn is required\n", cmd);
        return 2;
    }
    if (!create && (np > 1 || nop > 1)) {
        fprintf(stderr, "strait acl %s: give --principal and --operation at most once\n", cmd);
        return 2;
    }
    if (create) {
        if (!rtype || !name || np == 0 || nop == 0) {
            fprintf(stderr, "strait acl create: --resource-type, --resource-name, --principal and "
                            "--operation are required\n");
            return 2;
        }
        json_t *acls = json_array();
        for (size_t i = 0; i < np; i++)
            for (size_t k = 0; k < nop; k++)
                json_array_append_new(
                    acls, json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "resourceType", rtype,
                                    "resourceName", name, "patternType", ptype ? ptype : "LITERAL",
                                    "principal", principals[i], "host", host ? host : "*",
                                    "operation", ops[k], "permissionType", perm ? perm : "ALLOW"));
        json_t *j = call(sock, "/v1/ctl/acls/create",
                         json_pack("{s:s, s:o}", "clusterArn", arn, "acls", acls));
        if (!j)
            return 1;
        if (json_out) {
            st_cli_print_json(j);
        } else {
            print_table(json_object_get(j, "acls"));
            long long n = (long long)json_integer_value(json_object_get(j, "created"));
            printf("%lld created, %lld already present\n", n,
                   (long long)json_array_size(json_object_get(j, "acls")) - n);
        }
        json_decref(j);
        return 0;
    }
    if (all && (rtype || name || ptype || np || nop || host || perm)) {
        fprintf(stderr, "strait acl %s: --all takes no filter flags\n", cmd);
        return 2;
    }
    if (del && !all && !(rtype || name || ptype || np || nop || host || perm)) {
        fprintf(stderr, "strait acl delete: give filter flags, or --all to delete every binding "
                        "of the cluster\n");
        return 2;
    }
    json_t *filter = json_object();
    const char *keys[] = {"resourceType", "resourceName", "patternType",   "principal",
                          "host",         "operation",    "permissionType"};
    const char *vals[] = {rtype, name, ptype, np ? principals[0] : NULL, host, nop ? ops[0] : NULL,
                          perm};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (vals[i])
            json_object_set_new(filter, keys[i], json_string(vals[i]));
    json_t *j = call(sock, list ? "/v1/ctl/acls/list" : "/v1/ctl/acls/delete",
                     json_pack("{s:s, s:o}", "clusterArn", arn, "filter", filter));
    if (!j)
        return 1;
    if (json_out) {
        st_cli_print_json(j);
    } else if (list) {
        const json_t *su = json_object_get(j, "superUsers");
        if (json_array_size(su)) {
            printf("super users:");
            size_t i;
            const json_t *u;
            json_array_foreach(su, i, u) printf(" %s", json_string_value(u));
            printf("\n");
        }
        print_table(json_object_get(j, "acls"));
    } else {
        print_table(json_object_get(j, "deleted"));
        printf("%zu deleted\n", json_array_size(json_object_get(j, "deleted")));
    }
    json_decref(j);
    return 0;
}

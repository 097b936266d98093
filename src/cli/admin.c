/*
 * `strait admin ...`: local administration over straitd's admin Unix socket (HTTP + JSON, see
 * src/app/admin.h). File permissions on the socket are the trust boundary, so no credentials.
 *
 *   strait admin [--socket PATH | --data-dir DIR] status
 *   strait admin ... embedded broker-down ID | broker-up ID
 *   strait admin ... embedded create-topic NAME [--partitions N] [--replication-factor R]
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"
#include "net/tls.h"

static void
admin_usage(FILE *f)
{
    fprintf(f, "usage: strait admin [--socket PATH | --data-dir DIR] <command>\n"
               "\n"
               "commands:\n"
               "  status                                   clusters, brokers and their endpoint "
               "ports, counters (JSON)\n"
               "  embedded broker-down ID                  take an embedded broker down\n"
               "  embedded broker-up ID                    bring it back\n"
               "  embedded create-topic NAME [--partitions N] [--replication-factor R]\n"
               "  apply FILE|- [--output json]             create accounts, users, keys, policies,\n"
               "                                           VPCs, subnets, security groups (idempotent)\n"
               "  ctl-status                               control-plane snapshot and API address\n"
               "  state                                    accounts, users, roles, key ids, VPCs,\n"
               "                                           clusters, connections (no secrets)\n"
               "  ca-certificate                           the CA that issues the TLS certificates\n"
               "                                           of the endpoints (--endpoint-ca-cert)\n"
               "                                           (PEM; clients trust it: ssl.ca.location)\n"
               "  issue-client-certificate CN OUT [--org O]  a mutual-TLS client key (OUT.key) and\n"
               "                                           certificate (OUT.pem) from that CA\n"
               "\n"
               "The socket defaults to $STRAIT_ADMIN_SOCKET, else /var/lib/strait/admin.sock.\n");
}

/* Performs one request; prints the JSON answer (or the error message). Returns an exit status. */
static int
admin_call(const char *socket_path, const char *method, const char *path, const char *body)
{
    json_t *j = NULL;
    long status = st_cli_admin_request(socket_path, method, path, body, 30, &j);
    int exit_code = status >= 200 && status < 300 && j ? 0 : 1;
    if (exit_code != 0 && status != 0) {
        const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
        fprintf(stderr, "strait: %s (HTTP %ld)\n", msg ? msg : "admin request failed", status);
    } else if (exit_code == 0) {
        st_cli_print_json(j);
    }
    json_decref(j);
    return exit_code;
}

static int
parse_int(const char *s, const char *what, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < -2147483647L || v > 2147483647L) {
        fprintf(stderr, "strait: %s must be an integer, got '%s'\n", what, s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int
embedded_cmd(const char *sock, int argc, char **argv)
{
    if (argc < 1) {
        admin_usage(stderr);
        return 2;
    }
    char path[256];
    if ((strcmp(argv[0], "broker-down") == 0 || strcmp(argv[0], "broker-up") == 0)) {
        int id;
        if (argc != 2 || parse_int(argv[1], "broker id", &id) != 0) {
            fprintf(stderr, "usage: strait admin embedded %s ID\n", argv[0]);
            return 2;
        }
        snprintf(path, sizeof(path), "/v1/embedded/brokers/%d/%s", id,
                 strcmp(argv[0], "broker-up") == 0 ? "up" : "down");
        return admin_call(sock, "POST", path, "{}");
    }
    if (strcmp(argv[0], "create-topic") == 0) {
        static const struct option longopts[] = {
            {"partitions", required_argument, NULL, 'p'},
            {"replication-factor", required_argument, NULL, 'r'},
            {NULL, 0, NULL, 0},
        };
        int partitions = 1, rf = 1, ch;
        optind = 0; /* 0, not 1: fully reinitialise GNU getopt after the "+" scan above */
        while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
            if (ch == 'p' && parse_int(optarg, "--partitions", &partitions) == 0)
                continue;
            if (ch == 'r' && parse_int(optarg, "--replication-factor", &rf) == 0)
                continue;
            return 2;
        }
        if (optind != argc - 1) {
            fprintf(stderr, "usage: strait admin embedded create-topic NAME [--partitions N] "
                            "[--replication-factor R]\n");
            return 2;
        }
        json_t *body = json_pack("{s:s, s:i, s:i}", "name", argv[optind], "partitions",
                                 partitions, "replicationFactor", rf);
        char *text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        int rc = admin_call(sock, "POST", "/v1/embedded/topics", text);
        free(text);
        return rc;
    }
    fprintf(stderr, "strait: unknown embedded command '%s'\n", argv[0]);
    admin_usage(stderr);
    return 2;
}

/* Prints the installation CA certificate, kept next to the admin socket (DATA/tls/ca.pem). */
static int
print_ca(const char *sock)
{
    /* Ask straitd (it knows --endpoint-ca-cert); read DATA/tls/ca.pem when it is not running. */
    json_t *j = NULL;
    long status = st_cli_admin_request(sock, "GET", "/v1/ctl/ca-certificate", NULL, 30, &j);
    const char *pem = json_string_value(json_object_get(j, "caCertificate"));
    if (status == 200 && pem) {
        fputs(pem, stdout);
        json_decref(j);
        return 0;
    }
    json_decref(j);
    char path[4200];
    snprintf(path, sizeof(path), "%s", sock);
    char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash - path) : 1;
    if (!slash)
        path[0] = '.';
    snprintf(path + dir_len, sizeof(path) - dir_len, "/tls/ca.pem");
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr,
                "strait: no installation CA at %s (straitd creates it when the first VPC "
                "connection endpoint opens)\n",
                path);
        return 1;
    }
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stdout);
    fclose(f);
    return 0;
}

/* Issues a mutual-TLS client certificate from the installation CA (DATA/tls, next to the socket). */
static int
issue_client(const char *sock, int argc, char **argv)
{
    if (argc != 3 && !(argc == 5 && strcmp(argv[3], "--org") == 0)) {
        fprintf(stderr, "usage: strait admin issue-client-certificate CN OUT [--org O]\n");
        return 2;
    }
    char dir[4200], key[4300], cert[4300];
    snprintf(dir, sizeof(dir), "%s", sock);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    size_t used = strlen(dir);
    snprintf(dir + used, sizeof(dir) - used, "/tls");
    char ca_path[4300];
    snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
    if (access(ca_path, R_OK) != 0) {
        fprintf(stderr,
                "strait: no installation CA at %s (straitd creates it when the first VPC "
                "connection endpoint opens)\n",
                ca_path);
        return 1;
    }
    const char *err = NULL;
    struct st_tls_ca *ca = st_tls_ca_open(dir, &err);
    if (!ca) {
        fprintf(stderr, "strait: %s\n", err);
        return 1;
    }
    snprintf(key, sizeof(key), "%s.key", argv[2]);
    snprintf(cert, sizeof(cert), "%s.pem", argv[2]);
    int rc = st_tls_issue_client(ca, argv[1], argc == 5 ? argv[4] : NULL, key, cert, &err);
    st_tls_ca_free(ca);
    if (rc != 0) {
        fprintf(stderr, "strait: %s\n", err);
        return 1;
    }
    printf("%s\n%s\n", key, cert);
    return 0;
}

int
st_cli_admin(int argc, char **argv)
{
    static const struct option longopts[] = {
        ST_CLI_ADMIN_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct st_cli_admin_opts ao = {0};
    int ch;
    optind = 0;
    /* "+" stops at the first command word so subcommand options are left alone. */
    while ((ch = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (st_cli_admin_opt(&ao, ch, optarg))
            continue;
        switch (ch) {
        case 'h':
            admin_usage(stdout);
            return 0;
        default:
            admin_usage(stderr);
            return 2;
        }
    }
    argc -= optind;
    argv += optind;
    if (argc < 1) {
        admin_usage(stderr);
        return 2;
    }
    const char *sock = st_cli_admin_socket(&ao);
    if (strcmp(argv[0], "status") == 0)
        return admin_call(sock, "GET", "/v1/status", NULL);
    if (strcmp(argv[0], "embedded") == 0)
        return embedded_cmd(sock, argc - 1, argv + 1);
    if (strcmp(argv[0], "apply") == 0)
        return st_cli_admin_apply(sock, argc, argv);
    if (strcmp(argv[0], "ctl-status") == 0)
        return admin_call(sock, "GET", "/v1/ctl/status", NULL);
    if (strcmp(argv[0], "state") == 0)
        return admin_call(sock, "GET", "/v1/ctl/state", NULL);
    if (strcmp(argv[0], "ca-certificate") == 0)
        return print_ca(sock);
    if (strcmp(argv[0], "issue-client-certificate") == 0)
        return issue_client(sock, argc, argv);
    fprintf(stderr, "strait: unknown admin command '%s'\n", argv[0]);
    admin_usage(stderr);
    return 2;
}

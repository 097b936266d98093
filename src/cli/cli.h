/*
 * strait CLI: shared declarations. main.c dispatches the first argument to a command group; each
 * group lives in its own file (policy.c, admin.c, kafka.c, ...) and parses its own arguments.
 */
#ifndef ST_CLI_CLI_H
#define ST_CLI_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Command groups: return the process exit status. argv[0] is the group name. */
int st_cli_admin(int argc, char **argv);
int st_cli_policy(int argc, char **argv);
int st_cli_kafka(int argc, char **argv);
int st_cli_usage(int argc, char **argv);  /* usage.c */
int st_cli_status(int argc, char **argv); /* status.c */
int st_cli_log(int argc, char **argv);    /* status.c */
int st_cli_audit(int argc, char **argv);  /* audit.c */
int st_cli_acl(int argc, char **argv);    /* acl.c */
/*
 * One request over straitd's admin socket (adminsock.c). Returns the HTTP status, or 0 when the
 * socket cannot be reached (the reason is printed). *out receives the parsed JSON body, or NULL.
 * Ownership: the caller releases *out with json_decref().
 */
long st_cli_admin_request(const char *sock, const char *method, const char *path, const char *body,
                          long timeout_s, json_t **out);
/*
 * The --socket PATH / --data-dir DIR options of every command that talks to the admin socket
 * (admin, status, log, acl, audit). A command lists ST_CLI_ADMIN_LONGOPTS in its getopt_long
 * table (it needs <getopt.h>), offers each option to st_cli_admin_opt() before its own switch,
 * and resolves the socket with st_cli_admin_socket() once the options are parsed.
 */
enum {
    ST_CLI_OPT_SOCKET = 0x100, /* getopt_long value of --socket (outside the short options) */
    ST_CLI_OPT_DATA_DIR,       /* getopt_long value of --data-dir */
};
#define ST_CLI_ADMIN_LONGOPTS                                                                      \
    {"socket", required_argument, NULL, ST_CLI_OPT_SOCKET},                                        \
    {                                                                                              \
        "data-dir", required_argument, NULL, ST_CLI_OPT_DATA_DIR                                   \
    }
struct st_cli_admin_opts {
    const char *socket;   /* --socket PATH; NULL when absent or overridden by a later --data-dir */
    const char *data_dir; /* the last --data-dir DIR, NULL = none */
    char path[4096];      /* the socket path, filled by st_cli_admin_socket() */
};
/*
 * Takes getopt_long's answer ch (optarg in arg): returns true when it was --socket or --data-dir
 * (recorded in o; the later of the two wins), false for the command's own options.
 */
bool st_cli_admin_opt(struct st_cli_admin_opts *o, int ch, const char *arg);
/*
 * The admin socket the options name: --socket PATH, DIR/admin.sock for --data-dir DIR, else
 * $STRAIT_ADMIN_SOCKET, else /var/lib/strait/admin.sock. Returns o->path.
 */
const char *st_cli_admin_socket(struct st_cli_admin_opts *o);
/* Prints JSON indented by two, keys in order, as the admin API formats it. */
void st_cli_print_json(const json_t *j);

/* AWS credentials for SigV4-signed commands (awscreds.c). */
struct st_cli_creds {
    char akid[256];   /* access key id */
    char secret[256]; /* secret access key */
    char token[4096]; /* session token or "" */
};
/*
 * Fills c from the environment (unless a profile is named) or the named / AWS_PROFILE /
 * "default" profile of the shared credentials file. Returns 0, or -1 after printing what to set.
 */
int st_cli_load_credentials(struct st_cli_creds *c, const char *profile);

/* A client of strait's MSK-compatible REST API (awsapi.c). */
struct st_cli_api {
    char endpoint[1024];      /* http(s)://host:port, no trailing slash */
    char host[1024];          /* host[:port] as signed */
    char region[64];          /* signing region */
    struct st_cli_creds creds; /* credentials */
    char ca_bundle[1024];     /* PEM bundle for https endpoints, "" = system store */
};
/*
 * Sends one SigV4-signed request (`body` JSON or NULL). Returns the HTTP status, 0 on transport
 * failure (printed); *out holds the parsed JSON answer ({} for an empty one, NULL if it is not
 * JSON), *etype the x-amzn-ErrorType header ("" when none).
 */
long st_cli_api_call(const struct st_cli_api *a, const char *method, const char *path,
                     const char *query, const char *body, json_t **out, char *etype,
                     size_t etype_len);
/* Appends name=value, both percent-encoded (SigV4 style), to query string q (n bytes); an
 * empty or NULL value adds nothing. */
void st_cli_query_add(char *q, size_t n, const char *name, const char *value);

/* `strait admin apply FILE` (apply.c); argv[0] is "apply". */
int st_cli_admin_apply(const char *socket_path, int argc, char **argv);

#endif

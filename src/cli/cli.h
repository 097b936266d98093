/*
 * strait CLI: shared declarations. main.c dispatches the first argument to a command group; each
 * group lives in its own file (policy.c, admin.c, kafka.c, ...) and parses its own arguments.
 */
#ifndef ST_CLI_CLI_H
#define ST_CLI_CLI_H

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
/* $STRAIT_ADMIN_SOCKET, else /var/lib/strait/admin.sock. */
void st_cli_admin_default_socket(char *sock, size_t n);
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

/* `strait admin apply FILE` (apply.c); argv[0] is "apply". */
int st_cli_admin_apply(const char *socket_path, int argc, char **argv);

#endif

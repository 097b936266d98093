/*
 * strait CLI: shared declarations. main.c dispatches the first argument to a command group; each
 * group lives in its own file (policy.c, admin.c, kafka.c, ...) and parses its own arguments.
 */
#ifndef ST_CLI_CLI_H
#define ST_CLI_CLI_H

/* Command groups: return the process exit status. argv[0] is the group name. */
int st_cli_admin(int argc, char **argv);
int st_cli_policy(int argc, char **argv);
int st_cli_kafka(int argc, char **argv);
int st_cli_usage(int argc, char **argv);  /* usage.c */
int st_cli_status(int argc, char **argv); /* status.c */
int st_cli_log(int argc, char **argv);    /* status.c */
/* `strait admin apply FILE` (apply.c); argv[0] is "apply". */
int st_cli_admin_apply(const char *socket_path, int argc, char **argv);

#endif

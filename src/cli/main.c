/*
 * strait: the command-line client. Dispatches `strait <group> <command> ...` to the command group
 * files (admin.c, policy.c, kafka.c, ...). Each group prints its own usage.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

struct st_cli_group {
    const char *name;                    /* first argument */
    int (*run)(int argc, char **argv);   /* argv[0] is the group name */
    const char *summary;                 /* one line for `strait help` */
};

static const struct st_cli_group groups[] = {
    {"admin", st_cli_admin, "local administration over straitd's admin socket (status, embedded cluster)"},
    {"policy", st_cli_policy, "validate IAM policies and simulate authorization decisions offline"},
    {"kafka", st_cli_kafka, "the MSK control-plane API (SigV4), mirroring `aws kafka`"},
    {"usage", st_cli_usage, "metered usage and cost of VPC connections (SigV4, per account)"},
    {"status", st_cli_status, "clusters, brokers and ports, endpoints, connections and health"},
    {"log", st_cli_log, "show or change straitd's log level, format and debug categories"},
    {"audit", st_cli_audit, "show and follow the authorization audit log (denied requests)"},
    {"acl", st_cli_acl, "Kafka ACLs of a managed cluster (SASL/SCRAM, mTLS principals)"},
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: strait <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        fprintf(f, "  %-10s %s\n", groups[i].name, groups[i].summary);
    fprintf(f, "\nRun 'strait <command> --help' for the options of a command.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("strait 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        if (strcmp(argv[1], groups[i].name) == 0)
            return groups[i].run(argc - 1, argv + 1);
    fprintf(stderr, "strait: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

/*
 * `strait admin apply FILE [--output json]`: sends an idempotent declarative file of accounts,
 * users, roles, access keys, policies, VPCs, subnets, security groups and SCRAM secrets to
 * straitd's admin socket (POST /v1/apply) and prints what it created, one line each ("created
 * account 111122223333 (provider)"), or "nothing to create" when everything already existed.
 * Generated access-key secrets are printed once, here. `-` reads the file from stdin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "util/buf.h"

static int
read_file(const char *path, struct st_buf *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "strait: cannot open %s\n", path);
        return -1;
    }
    char chunk[8192];
    size_t n;
    int rc = 0;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        if (st_buf_append(out, chunk, n) != 0)
            rc = -1;
    if (ferror(f))
        rc = -1;
    if (f != stdin)
        fclose(f);
    if (rc == 0 && st_buf_append_u8(out, 0) != 0)
        rc = -1;
    if (rc != 0)
        fprintf(stderr, "strait: cannot read %s\n", path);
    return rc;
}

int
st_cli_admin_apply(const char *sock, int argc, char **argv)
{
    const char *file = NULL;
    int json_out = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            json_out = strcmp(argv[++i], "json") == 0;
        } else if (!file) {
            file = argv[i];
        } else {
            file = NULL;
            break;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: strait admin apply FILE|- [--output json]\n");
        return 2;
    }
    struct st_buf body = ST_BUF_INIT;
    if (read_file(file, &body) != 0) {
        st_buf_free(&body);
        return 1;
    }
    json_t *j = NULL;
    /* Applying a large file is one transaction in the store: allow it a minute. */
    long status = st_cli_admin_request(sock, "POST", "/v1/apply", (const char *)body.data, 60, &j);
    st_buf_free(&body);
    if (status == 0)
        return 1;
    int exit_code = 0;
    if (status != 200 || !j) {
        const char *msg = j ? json_string_value(json_object_get(j, "message")) : NULL;
        fprintf(stderr, "strait: apply failed: %s\n", msg ? msg : "unexpected answer");
        exit_code = 1;
    } else if (json_out) {
        st_cli_print_json(j);
    } else {
        size_t i;
        json_t *v;
        json_t *created = json_object_get(j, "created");
        json_array_foreach(created, i, v) printf("created %s\n", json_string_value(v));
        if (!json_array_size(created))
            printf("nothing to create: everything in %s already exists\n", file);
        json_array_foreach(json_object_get(j, "generatedAccessKeys"), i, v)
            printf("access key for %s: %s secret %s (shown once; store it now)\n",
                   json_string_value(json_object_get(v, "user")),
                   json_string_value(json_object_get(v, "accessKeyId")),
                   json_string_value(json_object_get(v, "secretAccessKey")));
    }
    json_decref(j);
    return exit_code;
}

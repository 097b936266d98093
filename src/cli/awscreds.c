/*
 * AWS credentials for the CLI's SigV4-signed commands (`strait kafka`, `strait usage`), found
 * where the AWS CLI finds them: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN,
 * else the profile (--profile, AWS_PROFILE, "default") of AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials. Secrets are never printed.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void
trim(char *s)
{
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t i = 0;
    while (s[i] && isspace((unsigned char)s[i]))
        i++;
    memmove(s, s + i, strlen(s + i) + 1);
}

/* Reads [profile] of the shared credentials file into c. Returns 0 when it has a key pair. */
static int
load_profile(struct st_cli_creds *c, const char *profile)
{
    char path[1024];
    const char *f = getenv("AWS_SHARED_CREDENTIALS_FILE");
    if (f && *f)
        snprintf(path, sizeof(path), "%s", f);
    else
        snprintf(path, sizeof(path), "%s/.aws/credentials", getenv("HOME") ? getenv("HOME") : ".");
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[4096];
    bool in = false;
    while (fgets(line, sizeof(line), fp)) {
        trim(line);
        if (line[0] == '[') {
            char *end = strchr(line, ']');
            if (end)
                *end = '\0';
            trim(line + 1);
            in = strcmp(line + 1, profile) == 0;
            continue;
        }
        char *eq = strchr(line, '=');
        if (!in || !eq)
            continue;
        *eq = '\0';
        char *k = line, *v = eq + 1;
        trim(k);
        trim(v);
        if (strcmp(k, "aws_access_key_id") == 0)
            snprintf(c->akid, sizeof(c->akid), "%s", v);
        else if (strcmp(k, "aws_secret_access_key") == 0)
            snprintf(c->secret, sizeof(c->secret), "%s", v);
        else if (strcmp(k, "aws_session_token") == 0)
            snprintf(c->token, sizeof(c->token), "%s", v);
    }
    fclose(fp);
    return c->akid[0] && c->secret[0] ? 0 : -1;
}

int
st_cli_load_credentials(struct st_cli_creds *c, const char *profile)
{
    memset(c, 0, sizeof(*c));
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!profile && ak && *ak && sk && *sk) {
        snprintf(c->akid, sizeof(c->akid), "%s", ak);
        snprintf(c->secret, sizeof(c->secret), "%s", sk);
        const char *t = getenv("AWS_SESSION_TOKEN");
        snprintf(c->token, sizeof(c->token), "%s", t ? t : "");
        return 0;
    }
    if (!profile)
        profile =
            getenv("AWS_PROFILE") && *getenv("AWS_PROFILE") ? getenv("AWS_PROFILE") : "default";
    if (load_profile(c, profile) == 0)
        return 0;
    fprintf(stderr,
            "strait: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or "
            "a profile [%s] in ~/.aws/credentials\n",
            profile);
    return -1;
}

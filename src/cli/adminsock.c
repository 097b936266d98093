/*
 * The CLI's one client of straitd's admin Unix socket (HTTP + JSON, see src/app/admin.h), shared
 * by `strait admin`, `strait admin apply`, `strait status`, `strait log`, `strait acl` and
 * `strait audit`, and their common --socket / --data-dir options.
 */
#include <stdio.h>
#include <stdlib.h>

#include <curl/curl.h>

#include "cli/cli.h"
#include "util/buf.h"

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    return st_buf_append(arg, p, size * n) == 0 ? size * n : 0;
}

long
st_cli_admin_request(const char *sock, const char *method, const char *path, const char *body,
                     long timeout_s, json_t **out)
{
    *out = NULL;
    CURL *curl = curl_easy_init();
    if (!curl) {
        fprintf(stderr, "strait: cannot initialise libcurl\n");
        return 0;
    }
    char url[512];
    snprintf(url, sizeof(url), "http://localhost%s", path);
    struct st_buf buf = ST_BUF_INIT;
    struct curl_slist *hdrs = NULL;
    curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, sock);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, timeout_s);
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(curl, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    }
    CURLcode rc = curl_easy_perform(curl);
    long status = 0;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        json_error_t jerr;
        *out = json_loadb((const char *)st_buf_head(&buf), st_buf_used(&buf), 0, &jerr);
    } else {
        fprintf(stderr, "strait: cannot reach straitd's admin socket %s: %s\n", sock,
                curl_easy_strerror(rc));
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(curl);
    st_buf_free(&buf);
    return status;
}

bool
st_cli_admin_opt(struct st_cli_admin_opts *o, int ch, const char *arg)
{
    switch (ch) {
    case ST_CLI_OPT_SOCKET:
        o->socket = arg;
        return true;
    case ST_CLI_OPT_DATA_DIR:
        o->data_dir = arg;
        o->socket = NULL; /* a later --data-dir overrides an earlier --socket */
        return true;
    default:
        return false;
    }
}

const char *
st_cli_admin_socket(struct st_cli_admin_opts *o)
{
    const char *env = getenv("STRAIT_ADMIN_SOCKET");
    if (o->socket)
        snprintf(o->path, sizeof(o->path), "%s", o->socket);
    else if (o->data_dir)
        snprintf(o->path, sizeof(o->path), "%s/admin.sock", o->data_dir);
    else
        snprintf(o->path, sizeof(o->path), "%s", env && *env ? env : "/var/lib/strait/admin.sock");
    return o->path;
}

void
st_cli_print_json(const json_t *j)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text)
        printf("%s\n", text);
    free(text);
}

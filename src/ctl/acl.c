/*
 * Kafka ACLs of the managed clusters (see ctl.h): create and delete bindings in one store
 * transaction each and publish a new snapshot at once, the current set from the latest snapshot,
 * the --kafka-super-users list, and the admin socket's ACL paths used by `strait acl`:
 *
 *   POST /v1/ctl/acls/create  {"clusterArn", "acls": [binding...]}
 *                             -> {"clusterArn", "acls": [binding...], "created": N}
 *   POST /v1/ctl/acls/list    {"clusterArn", "filter": {filter}?}
 *                             -> {"clusterArn", "superUsers": [...], "acls": [binding...]}
 *   POST /v1/ctl/acls/delete  {"clusterArn", "filter": {filter}}
 *                             -> {"clusterArn", "deleted": [binding...]}
 *
 * Bindings and filters use the JSON form of authz/acl.h (st_acl_binding_to_json()).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "authz/acl.h"
#include "ctl/internal.h"
#include "store/store.h"
#include "util/log.h"

/* ---- super users */

void
st_ctl_super_users_free(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

int
st_ctl_super_users_parse(const char *spec, char ***out, size_t *n_out, const char **err)
{
    *out = NULL;
    *n_out = 0;
    if (!spec || !*spec)
        return 0;
    size_t cap = 1;
    for (const char *p = spec; *p; p++)
        cap += *p == ';';
    char **v = calloc(cap + 1, sizeof(*v));
    if (!v) {
        *err = "out of memory";
        return -1;
    }
    size_t n = 0;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ';');
        if (!end)
            end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (a < b) {
            const char *colon = memchr(a, ':', (size_t)(b - a));
            if (!colon || colon == a || colon + 1 == b) {
                *err = "--kafka-super-users takes Kafka principals \"Type:name\" separated by "
                       "';', e.g. \"User:admin;User:ops\"";
                st_ctl_super_users_free(v);
                return -1;
            }
            if (!(v[n] = strndup(a, (size_t)(b - a)))) {
                *err = "out of memory";
                st_ctl_super_users_free(v);
                return -1;
            }
            n++;
        }
        p = *end ? end + 1 : end;
    }
    if (n == 0) {
        free(v);
        return 0;
    }
    *out = v;
    *n_out = n;
    return 0;
}

/* ---- bindings */

const struct st_acl_set *
st_ctl_acl_current(struct st_ctl *ctl, const char *cluster_arn)
{
    const struct st_snap_cluster *c =
        ctl->snap && cluster_arn ? st_snapshot_cluster(ctl->snap, cluster_arn) : NULL;
    return c ? c->acls : NULL;
}

/* Adds or removes `n` bindings in one transaction, then publishes a new snapshot. */
static int
acl_change(struct st_ctl *ctl, const char *cluster_arn, const struct st_acl_binding *b, size_t n,
           bool add, const char **err)
{
    if (!cluster_arn || !st_snapshot_cluster(ctl->snap, cluster_arn)) {
        *err = "no such cluster";
        return -1;
    }
    if (n == 0)
        return 0;
    for (size_t i = 0; add && i < n; i++) {
        int16_t kerr = 0;
        if (st_acl_binding_validate(&b[i], err, &kerr) != 0)
            return -1;
    }
    if (st_store_begin(ctl->store, err) != 0)
        return -1;
    size_t changed = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *j = st_acl_binding_to_json(&b[i]);
        bool yes = false;
        int rc = !j    ? (*err = "out of memory", ST_STORE_ERR)
                 : add ? st_store_acl_add(ctl->store, cluster_arn, j, &yes, err)
                       : st_store_acl_remove(ctl->store, cluster_arn, j, &yes, err);
        json_decref(j);
        if (rc != ST_STORE_OK) {
            st_store_rollback(ctl->store);
            return -1;
        }
        changed += yes;
    }
    if (st_store_commit(ctl->store, err) != 0)
        return -1;
    if (changed) {
        st_info("cluster %s: %zu Kafka ACL bindings %s", cluster_arn, changed,
                add ? "created" : "deleted");
        st_ctl_changed(ctl);
    }
    return 0;
}

int
st_ctl_acl_create(struct st_ctl *ctl, const char *cluster_arn, const struct st_acl_binding *b,
                  size_t n, const char **err)
{
    return acl_change(ctl, cluster_arn, b, n, true, err);
}

int
st_ctl_acl_delete(struct st_ctl *ctl, const char *cluster_arn, const struct st_acl_binding *b,
                  size_t n, const char **err)
{
    return acl_change(ctl, cluster_arn, b, n, false, err);
}

/* ---- admin socket */

static bool
binding_equal(const struct st_acl_binding *a, const struct st_acl_binding *b)
{
    return a->rtype == b->rtype && a->ptype == b->ptype && a->op == b->op && a->perm == b->perm &&
           strcmp(a->name, b->name) == 0 && strcmp(a->principal, b->principal) == 0 &&
           strcmp(a->host, b->host) == 0;
}

static bool
set_contains(const struct st_acl_set *s, const struct st_acl_binding *b)
{
    for (size_t i = 0; s && i < st_acl_set_count(s); i++)
        if (binding_equal(st_acl_set_get(s, i), b))
            return true;
    return false;
}

static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
    char msg[1024];
    va_list va;
    va_start(va, fmt);
    vsnprintf(msg, sizeof(msg), fmt, va);
    va_end(va);
    st_ctl_admin_reply(req, code,
                       json_pack("{s:s, s:s}", "error",
                                 code == 404   ? "NotFound"
                                 : code == 405 ? "MethodNotAllowed"
                                 : code >= 500 ? "InternalError"
                                               : "BadRequest",
                                 "message", msg));
}

/* Parses and validates the request's "filter" (absent = match everything unless `required`). */
static int
parse_filter(struct evhttp_request *req, const json_t *body, bool required, struct st_acl_filter *f)
{
    const json_t *j = json_object_get(body, "filter");
    const char *err = NULL;
    if (!j && required) {
        reply_error(req, 400, "filter: give the bindings to delete (an empty filter {} means all)");
        return -1;
    }
    json_t *empty = j ? NULL : json_object();
    int rc = st_acl_filter_from_json(j ? j : empty, f, &err);
    json_decref(empty); /* an empty filter has no strings pointing into it */
    if (rc != 0 || st_acl_filter_validate(f, &err) != 0) {
        reply_error(req, 400, "filter: %s", err ? err : "invalid filter");
        return -1;
    }
    return 0;
}

static void
acls_create(struct st_ctl *ctl, struct evhttp_request *req, const char *arn, const json_t *body)
{
    const json_t *list = json_object_get(body, "acls");
    if (!json_is_array(list) || json_array_size(list) == 0) {
        reply_error(req, 400, "acls: a non-empty list of bindings is required");
        return;
    }
    size_t n = json_array_size(list);
    struct st_acl_binding *b = calloc(n, sizeof(*b));
    if (!b) {
        reply_error(req, 500, "out of memory");
        return;
    }
    size_t parsed = 0;
    const struct st_acl_set *cur = st_ctl_acl_current(ctl, arn);
    json_t *out = json_array();
    int created = 0;
    for (; parsed < n; parsed++) {
        const char *err = NULL;
        int16_t kerr = 0;
        if (st_acl_binding_from_json(json_array_get(list, parsed), &b[parsed], &err) != 0 ||
            st_acl_binding_validate(&b[parsed], &err, &kerr) != 0) {
            reply_error(req, 400, "acls[%zu]: %s", parsed, err ? err : "invalid binding");
            parsed++;
            goto done;
        }
        json_array_append_new(out, st_acl_binding_to_json(&b[parsed]));
        bool dup = set_contains(cur, &b[parsed]);
        for (size_t k = 0; k < parsed && !dup; k++)
            dup = binding_equal(&b[k], &b[parsed]);
        created += !dup;
    }
    const char *err = NULL;
    if (st_ctl_acl_create(ctl, arn, b, n, &err) != 0) {
        reply_error(req, 500, "%s", err);
        goto done;
    }
    st_ctl_admin_reply(
        req, 200, json_pack("{s:s, s:O, s:i}", "clusterArn", arn, "acls", out, "created", created));
done:
    for (size_t i = 0; i < parsed; i++)
        st_acl_binding_clear(&b[i]);
    free(b);
    json_decref(out);
}

static void
acls_list(struct st_ctl *ctl, struct evhttp_request *req, const char *arn, const json_t *body)
{
    struct st_acl_filter f;
    if (parse_filter(req, body, false, &f) != 0)
        return;
    const struct st_snap_cluster *c = st_snapshot_cluster(ctl->snap, arn);
    json_t *out = json_array();
    for (size_t i = 0; c->acls && i < st_acl_set_count(c->acls); i++) {
        const struct st_acl_binding *b = st_acl_set_get(c->acls, i);
        if (st_acl_filter_matches(&f, b))
            json_array_append_new(out, st_acl_binding_to_json(b));
    }
    json_t *su = json_array();
    for (size_t i = 0; i < c->n_super_users; i++)
        json_array_append_new(su, json_string(c->super_users[i]));
    st_ctl_admin_reply(
        req, 200, json_pack("{s:s, s:o, s:o}", "clusterArn", arn, "superUsers", su, "acls", out));
}

static void
acls_delete(struct st_ctl *ctl, struct evhttp_request *req, const char *arn, const json_t *body)
{
    struct st_acl_filter f;
    if (parse_filter(req, body, true, &f) != 0)
        return;
    const struct st_acl_set *cur = st_ctl_acl_current(ctl, arn);
    size_t total = cur ? st_acl_set_count(cur) : 0, n = 0;
    struct st_acl_binding *b = calloc(total ? total : 1, sizeof(*b));
    json_t *out = json_array();
    if (!b) {
        reply_error(req, 500, "out of memory");
        json_decref(out);
        return;
    }
    /* Shallow copies into the current set: used before the new snapshot replaces it. */
    for (size_t i = 0; i < total; i++) {
        const struct st_acl_binding *x = st_acl_set_get(cur, i);
        if (!st_acl_filter_matches(&f, x))
            continue;
        b[n++] = *x;
        json_array_append_new(out, st_acl_binding_to_json(x));
    }
    const char *err = NULL;
    int rc = st_ctl_acl_delete(ctl, arn, b, n, &err);
    free(b);
    if (rc != 0) {
        reply_error(req, 500, "%s", err);
        json_decref(out);
        return;
    }
    st_ctl_admin_reply(req, 200, json_pack("{s:s, s:o}", "clusterArn", arn, "deleted", out));
}

bool
st_acl_admin(struct st_ctl *ctl, struct evhttp_request *req, const char *path)
{
    static const char prefix[] = "/v1/ctl/acls/";
    if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
        return false;
    const char *what = path + sizeof(prefix) - 1;
    bool create = strcmp(what, "create") == 0, list = strcmp(what, "list") == 0,
         del = strcmp(what, "delete") == 0;
    if (!create && !list && !del) {
        reply_error(req, 404, "unknown ACL command (create, list, delete)");
        return true;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        reply_error(req, 405, "use POST");
        return true;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    json_error_t jerr;
    json_t *body = json_loadb(len ? (const char *)evbuffer_pullup(in, -1) : "{}", len ? len : 2,
                              JSON_REJECT_DUPLICATES, &jerr);
    if (!json_is_object(body)) {
        json_decref(body);
        reply_error(req, 400, "the request body must be a JSON object");
        return true;
    }
    const char *arn = json_string_value(json_object_get(body, "clusterArn"));
    if (!arn || !*arn) {
        reply_error(req, 400, "clusterArn is required");
    } else if (!st_snapshot_cluster(ctl->snap, arn)) {
        reply_error(req, 404, "no cluster %s (strait admin state lists the clusters)", arn);
    } else if (create) {
        acls_create(ctl, req, arn, body);
    } else if (list) {
        acls_list(ctl, req, arn, body);
    } else {
        acls_delete(ctl, req, arn, body);
    }
    json_decref(body);
    return true;
}

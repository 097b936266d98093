/*
 * Admin API server (see admin.h) on libevent's evhttp, bound to a Unix socket.
 */
#include "app/admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "app/embedded.h"
#include "authz/audit.h"
#include "ctl/ctl.h"
#include "gateway/gateway.h"
#include "net/sock.h"
#include "util/log.h"

#define ADMIN_MAX_BODY (1u << 20)

struct st_admin {
    struct evhttp *http;      /* server */
    char *path;               /* socket path, unlinked on free */
    struct st_admin_ctx ctx;  /* what we report on */
};

static void
reply_json(struct evhttp_request *req, int code, json_t *body)
{
    char *text = json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(body);
    struct evbuffer *out = evbuffer_new();
    if (text) {
        evbuffer_add(out, text, strlen(text));
        evbuffer_add(out, "\n", 1);
    }
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, code, code < 300 ? "OK" : "Error", out);
    evbuffer_free(out);
}

static void
reply_error(struct evhttp_request *req, int code, const char *error, const char *message)
{
    reply_json(req, code, json_pack("{s:s, s:s}", "error", error, "message", message));
}

static json_t *
counters_json(const struct st_gw_counters *k)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "bytesFromClients",
                     (json_int_t)k->bytes_from_clients, "bytesToClients",
                     (json_int_t)k->bytes_to_clients, "bytesToUpstream",
                     (json_int_t)k->bytes_to_upstream, "bytesFromUpstream",
                     (json_int_t)k->bytes_from_upstream, "bytesSpliced",
                     (json_int_t)k->bytes_spliced, "connectionsAccepted",
                     (json_int_t)k->conns_accepted, "connectionsClosed",
                     (json_int_t)k->conns_closed, "connectionsCurrent",
                     (json_int_t)k->conns_current, "requests", (json_int_t)k->requests,
                     "protocolErrors", (json_int_t)k->protocol_errors, "responsesRewritten",
                     (json_int_t)k->responses_rewritten);
}

static void
handle_status(struct st_admin *a, struct evhttp_request *req)
{
    struct st_gw_cluster *c = a->ctx.cluster;
    json_t *managed = a->ctx.ctl ? st_ctl_status(a->ctx.ctl) : json_array();
    if (!c) { /* control plane only: managed clusters are in "managedClusters" */
        reply_json(req, 200,
                   json_pack("{s:i, s:s, s:[], s:o}", "pid", (int)getpid(), "dataDir",
                             a->ctx.data_dir, "clusters", "managedClusters", managed));
        return;
    }
    json_t *brokers = json_array();
    const struct st_portmap *pm = st_gw_cluster_portmap(c);
    for (size_t i = 0; i < st_gw_cluster_node_count(c); i++) {
        const struct st_gw_node *n = st_gw_cluster_node(c, i);
        /* endpointPort is the port given to the broker; "listening" says whether every
         * endpoint actually has it bound (another process may hold it). */
        bool listening = st_gw_cluster_endpoint_count(c) > 0;
        for (size_t k = 0; k < st_gw_cluster_endpoint_count(c); k++)
            listening &= st_gw_endpoint_port(st_gw_cluster_endpoint(c, k), n->id) >= 0;
        json_t *b = json_pack("{s:i, s:s, s:i, s:b, s:i, s:b}", "nodeId", n->id, "upstreamHost",
                              n->host, "upstreamPort", n->port, "listed", n->listed,
                              "endpointPort", st_portmap_port_of(pm, n->id), "listening",
                              listening);
        if (n->rack[0])
            json_object_set_new(b, "rack", json_string(n->rack));
        json_array_append_new(brokers, b);
    }
    json_t *eps = json_array();
    for (size_t i = 0; i < st_gw_cluster_endpoint_count(c); i++) {
        struct st_gw_endpoint *e = st_gw_cluster_endpoint(c, i);
        json_array_append_new(eps, json_pack("{s:s, s:s, s:o}", "name", st_gw_endpoint_name(e),
                                             "address", st_gw_endpoint_address(e), "counters",
                                             counters_json(st_gw_endpoint_counters(e))));
    }
    json_t *cl = json_pack("{s:s, s:s, s:b, s:o, s:o, s:o}", "name", st_gw_cluster_name(c),
                           "upstreamBootstrap", st_gw_cluster_bootstrap(c), "embedded",
                           a->ctx.embedded != NULL, "brokers", brokers, "endpoints", eps,
                           "counters", counters_json(st_gw_cluster_counters(c)));
    reply_json(req, 200,
               json_pack("{s:i, s:s, s:[o], s:o}", "pid", (int)getpid(), "dataDir", a->ctx.data_dir,
                         "clusters", cl, "managedClusters", managed));
}

static json_t *
read_body(struct evhttp_request *req, const char **err)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > ADMIN_MAX_BODY) {
        *err = "request body too large";
        return NULL;
    }
    unsigned char *p = evbuffer_pullup(in, (ssize_t)len);
    json_error_t jerr;
    json_t *j = json_loadb((const char *)p, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        *err = "request body must be a JSON object";
        return NULL;
    }
    return j;
}

static void
handle_embedded(struct st_admin *a, struct evhttp_request *req, const char *rest)
{
    if (!a->ctx.embedded) {
        reply_error(req, 409, "NotEmbedded",
                    "this straitd serves an external upstream; embedded-cluster commands need "
                    "--embedded-kafka");
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        reply_error(req, 405, "MethodNotAllowed", "use POST");
        return;
    }
    const char *err = NULL;
    int id;
    char action[8];
    if (sscanf(rest, "brokers/%d/%7s", &id, action) == 2) {
        int up = strcmp(action, "up") == 0;
        if (!up && strcmp(action, "down") != 0) {
            reply_error(req, 404, "NotFound", "expected brokers/{id}/up or brokers/{id}/down");
            return;
        }
        if (st_embedded_broker_set_up(a->ctx.embedded, id, up, &err) != 0) {
            reply_error(req, 400, "BadRequest", err);
            return;
        }
        st_info("admin: embedded broker %d %s", id, up ? "up" : "down");
        reply_json(req, 200, json_pack("{s:i, s:s}", "nodeId", id, "state", up ? "up" : "down"));
        return;
    }
    if (strcmp(rest, "topics") == 0) {
        json_t *body = read_body(req, &err);
        if (!body) {
            reply_error(req, 400, "BadRequest", err);
            return;
        }
        const char *name = NULL;
        int partitions = 1, rf = 1;
        json_error_t jerr;
        if (json_unpack_ex(body, &jerr, JSON_STRICT, "{s:s, s?i, s?i}", "name", &name,
                           "partitions", &partitions, "replicationFactor", &rf) != 0) {
            json_decref(body);
            reply_error(req, 400, "BadRequest",
                        "expected {\"name\": string, \"partitions\": int, "
                        "\"replicationFactor\": int}");
            return;
        }
        if (st_embedded_create_topic(a->ctx.embedded, name, partitions, rf, &err) != 0) {
            reply_error(req, 400, "BadRequest", err);
            json_decref(body);
            return;
        }
        st_info("admin: embedded topic %s created (%d partitions, replication %d)", name,
                partitions, rf);
        reply_json(req, 200,
                   json_pack("{s:s, s:i, s:i}", "name", name, "partitions", partitions,
                             "replicationFactor", rf));
        json_decref(body);
        return;
    }
    reply_error(req, 404, "NotFound", "unknown embedded-cluster command");
}

static json_t *
log_state(void)
{
    char cats[128];
    st_log_categories_format(st_log_get_categories(), cats, sizeof(cats));
    return json_pack("{s:s, s:s, s:s}", "level", st_log_level_name(st_log_get_level()), "format",
                     st_log_format_name(st_log_get_format()), "categories", cats);
}

/* GET /v1/log: the logging settings; POST /v1/log {"level", "format", "categories"} (each
 * optional; categories is a comma-separated list, "" = none, "all") changes them at once. */
static void
handle_log(struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) == EVHTTP_REQ_GET) {
        reply_json(req, 200, log_state());
        return;
    }
    if (evhttp_request_get_command(req) != EVHTTP_REQ_POST) {
        reply_error(req, 405, "MethodNotAllowed", "GET or POST /v1/log");
        return;
    }
    const char *err = NULL;
    json_t *body = read_body(req, &err);
    if (!body) {
        reply_error(req, 400, "BadRequest", err);
        return;
    }
    const char *lv = json_string_value(json_object_get(body, "level"));
    const char *fm = json_string_value(json_object_get(body, "format"));
    const char *ca = json_string_value(json_object_get(body, "categories"));
    int level = lv ? st_log_level_parse(lv) : (int)st_log_get_level();
    int format = fm ? st_log_format_parse(fm) : (int)st_log_get_format();
    unsigned cats = st_log_get_categories();
    if (level < 0 || format < 0 || (ca && st_log_categories_parse(ca, &cats) != 0)) {
        json_decref(body);
        reply_error(req, 400, "BadRequest",
                    "level is error|warn|info|debug|trace, format logfmt|json, categories a "
                    "comma-separated list of proto, http, api, meter, gateway, store, auth, all");
        return;
    }
    json_decref(body);
    st_log_set_level((enum st_log_level)level);
    st_log_set_format((enum st_log_format)format);
    st_log_set_categories(cats);
    json_t *st = log_state();
    st_info("logging changed through the admin socket: level %s, format %s, categories %s",
            json_string_value(json_object_get(st, "level")),
            json_string_value(json_object_get(st, "format")),
            json_string_value(json_object_get(st, "categories")));
    reply_json(req, 200, st);
}

/* GET /v1/audit: where the authorization audit log is (`strait audit tail` reads it). */
static void
handle_audit(struct st_admin *a, struct evhttp_request *req)
{
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        reply_error(req, 405, "MethodNotAllowed", "GET /v1/audit");
        return;
    }
    if (!a->ctx.audit) {
        reply_json(req, 200, json_pack("{s:b}", "enabled", 0));
        return;
    }
    reply_json(req, 200,
               json_pack("{s:b, s:s, s:b, s:I, s:i}", "enabled", 1, "path",
                         st_audit_path(a->ctx.audit), "allDecisions", st_audit_all(a->ctx.audit),
                         "maxBytes", (json_int_t)st_audit_max_bytes(a->ctx.audit), "keep",
                         (int)st_audit_keep(a->ctx.audit)));
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct st_admin *a = arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *q = strchr(uri, '?');
    size_t plen = q ? (size_t)(q - uri) : strlen(uri);
    char path[256];
    if (plen >= sizeof(path)) {
        reply_error(req, 414, "UriTooLong", "path too long");
        return;
    }
    memcpy(path, uri, plen);
    path[plen] = '\0';
    if (strcmp(path, "/v1/status") == 0) {
        handle_status(a, req);
        return;
    }
    if (strcmp(path, "/v1/log") == 0) {
        handle_log(req);
        return;
    }
    if (strcmp(path, "/v1/audit") == 0) {
        handle_audit(a, req);
        return;
    }
    if (strncmp(path, "/v1/embedded/", 13) == 0) {
        handle_embedded(a, req, path + 13);
        return;
    }
    if (a->ctx.ctl && st_ctl_admin_handle(a->ctx.ctl, req, path))
        return;
    reply_error(req, 404, "NotFound", "unknown admin path");
}

struct st_admin *
st_admin_start(struct event_base *base, const char *path, const struct st_admin_ctx *ctx,
               const char **err)
{
    struct st_admin *a = calloc(1, sizeof(*a));
    if (!a) {
        *err = "out of memory";
        return NULL;
    }
    a->ctx = *ctx;
    a->path = strdup(path);
    a->http = evhttp_new(base);
    int fd = a->path && a->http ? st_sock_listen_unix(path, 0600, 64, err) : -1;
    if (fd < 0 || evhttp_accept_socket(a->http, fd) != 0) {
        if (!*err)
            *err = "cannot serve the admin socket";
        if (a->http)
            evhttp_free(a->http);
        free(a->path);
        free(a);
        return NULL;
    }
    evhttp_set_max_body_size(a->http, ADMIN_MAX_BODY);
    evhttp_set_max_headers_size(a->http, 16384);
    evhttp_set_timeout(a->http, 30);
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
    evhttp_set_gencb(a->http, on_request, a);
    return a;
}

void
st_admin_free(struct st_admin *a)
{
    if (!a)
        return;
    evhttp_free(a->http);
    unlink(a->path);
    free(a->path);
    free(a);
}

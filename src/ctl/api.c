/*
 * The MSK REST API server (evhttp): request ids, routing on raw path segments, SigV4
 * verification against the current snapshot, query/body parsing, authorization through the
 * policy engine, MSK error shapes (x-amzn-ErrorType + {message, invalidParameter}), and STS
 * (AssumeRole, GetCallerIdentity) in the AWS Query protocol on POST /.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <event2/keyvalq_struct.h>

#include "ctl/gwauth.h"
#include "ctl/internal.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/log.h"

#define API_MAX_BODY (256u * 1024u)
#define API_MAX_HEADERS 64

static int
status_of(const char *type)
{
    static const struct {
        const char *type;
        int status;
    } map[] = {
        {"BadRequestException", 400},
        {"UnauthorizedException", 401},
        {"ForbiddenException", 403},
        {"NotFoundException", 404},
        {"ConflictException", 409},
        {"TooManyRequestsException", 429},
        {"InternalServerErrorException", 500},
        {"ServiceUnavailableException", 503},
        {"UnrecognizedClientException", 403},
        {"InvalidSignatureException", 403},
        {"MissingAuthenticationTokenException", 403},
        {"IncompleteSignatureException", 400},
        {"UnknownOperationException", 404},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(map[i].type, type) == 0)
            return map[i].status;
    return 400;
}

static void
send_text(struct st_api *a, int status, const char *ctype, const char *text, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(a->req);
    evhttp_add_header(h, "Content-Type", ctype);
    evhttp_add_header(h, "x-amzn-RequestId", a->request_id);
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, text, len);
    evhttp_send_reply(a->req, status, status == 200 ? "OK" : "Error", out);
    evbuffer_free(out);
    a->answered = true;
}

void
st_api_ok(struct st_api *a, json_t *body)
{
    /* Reals (usage costs and hours) print as 0.006, not 0.0060000000000000001. */
    char *text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
    json_decref(body);
    if (!text) {
        st_api_error(a, "InternalServerErrorException", NULL, "out of memory");
        return;
    }
    send_text(a, 200, "application/json", text, strlen(text));
    free(text);
}

void
st_api_status(struct st_api *a, int status)
{
    evhttp_add_header(evhttp_request_get_output_headers(a->req), "x-amzn-RequestId", a->request_id);
    evhttp_send_reply(a->req, status, "No Content", NULL);
    a->answered = true;
}

static void api_verror(struct st_api *a, const char *type, const char *param, const char *fmt,
                       va_list ap) __attribute__((format(printf, 4, 0)));

static void
api_verror(struct st_api *a, const char *type, const char *param, const char *fmt, va_list ap)
{
    char msg[2048];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    json_t *body = json_pack("{s:s, s:s}", "__type", type, "message", msg);
    if (param)
        json_object_set_new(body, "invalidParameter", json_string(param));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    evhttp_add_header(evhttp_request_get_output_headers(a->req), "x-amzn-ErrorType", type);
    send_text(a, status_of(type), "application/json", text ? text : "{}", text ? strlen(text) : 2);
    free(text);
    st_debug("api %s: %s %s", a->request_id, type, msg);
}

void
st_api_error(struct st_api *a, const char *type, const char *param, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    api_verror(a, type, param, fmt, ap);
    va_end(ap);
}

int
st_api_authorize(struct st_api *a, const char *action, const char *resource,
                 const struct st_policy *resource_policy)
{
    const struct st_snap_principal *p = a->caller;
    const char *acct_vals[] = {p->account};
    const char *arn_vals[] = {p->role_arn ? p->role_arn : p->arn};
    struct st_policy_ctx_value ctx[] = {
        {"aws:PrincipalAccount", acct_vals, 1, false},
        {"aws:PrincipalArn", arn_vals, 1, false},
    };
    struct st_policy_request r = {
        .principal = p->arn, .action = action, .resource = resource, .ctx = ctx, .n_ctx = 2};
    struct st_policy_decision d;
    memset(&d, 0, sizeof(d));
    if (st_policy_evaluate(&r, (const struct st_policy *const *)p->policies, p->n_policies,
                           resource_policy, &d) != 0) {
        st_api_error(a, "InternalServerErrorException", NULL, "policy evaluation failed");
        return -1;
    }
    if (d.result == ST_POLICY_ALLOWED) {
        a->ctl->stats.authz_allowed++;
        return 0;
    }
    a->ctl->stats.authz_denied++;
    const char *why;
    if (d.result == ST_POLICY_EXPLICIT_DENY)
        why = "with an explicit deny in a policy";
    else if (!d.identity_allow &&
             (d.same_account || resource_policy == NULL || d.resource_allow != ST_PM_NO))
        why = "because no identity-based policy allows the action (attach a policy that allows "
              "it to the caller)";
    else if (!d.same_account)
        why = "because no resource-based policy allows the action: the cluster owner must allow "
              "your account in the cluster policy (PutClusterPolicy)";
    else
        why = "because no identity-based policy allows the action";
    st_api_error(a, "ForbiddenException", NULL,
                 "User: %s is not authorized to perform: %s on resource: %s %s", p->arn, action,
                 resource, why);
    return -1;
}

/* ---- SigV4 */

struct lookup_ctx {
    const struct st_snapshot *snap; /* credentials */
    bool expired;                   /* the key exists but its STS session has expired */
};

static int
lookup(void *arg, const char *akid, const char *token, size_t token_len,
       struct st_sigv4_secret *out)
{
    struct lookup_ctx *lc = arg;
    const struct st_snapshot *snap = lc->snap;
    const struct st_snap_cred *c = st_snapshot_cred(snap, akid);
    if (c && c->expires && c->expires <= (int64_t)time(NULL))
        lc->expired = true;
    if (!c || lc->expired)
        return -1;
    out->secret = c->secret;
    out->secret_len = strlen(c->secret);
    out->session_token = c->session_token;
    out->session_token_len = c->session_token ? strlen(c->session_token) : 0;
    out->principal = &snap->principals[c->principal];
    return 0;
}

static const char *
method_name(enum evhttp_cmd_type t)
{
    switch (t) {
    case EVHTTP_REQ_GET:
        return "GET";
    case EVHTTP_REQ_POST:
        return "POST";
    case EVHTTP_REQ_PUT:
        return "PUT";
    case EVHTTP_REQ_DELETE:
        return "DELETE";
    case EVHTTP_REQ_PATCH:
        return "PATCH";
    default:
        return "OTHER";
    }
}

/* Verifies the request's signature for `service`; on failure answers (JSON or STS XML). */
static int authenticate(struct st_api *a, struct st_snapshot *snap, const char *service,
                        const char *path, size_t plen, const char *query, size_t qlen,
                        const uint8_t *body, size_t blen, bool xml);

static void sts_error(struct st_api *a, int status, const char *code, const char *msg);

/* ---- STS (AWS Query protocol) */

static void
xml_escaped(struct evbuffer *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            evbuffer_add(b, "&lt;", 4);
            break;
        case '>':
            evbuffer_add(b, "&gt;", 4);
            break;
        case '&':
            evbuffer_add(b, "&amp;", 5);
            break;
        case '"':
            evbuffer_add(b, "&quot;", 6);
            break;
        case '\'':
            evbuffer_add(b, "&apos;", 6);
            break;
        default:
            evbuffer_add(b, s, 1);
        }
    }
}

static void
sts_error(struct st_api *a, int status, const char *code, const char *msg)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b,
                        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                        "<Error><Type>Sender</Type><Code>%s</Code><Message>",
                        code);
    xml_escaped(b, msg);
    evbuffer_add_printf(b, "</Message></Error><RequestId>%s</RequestId></ErrorResponse>",
                        a->request_id);
    size_t n = evbuffer_get_length(b);
    send_text(a, status, "text/xml", (const char *)evbuffer_pullup(b, -1), n);
    evbuffer_free(b);
}

static bool
valid_session_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_+=,.@-", *s)))
            return false;
    return true;
}

static void
sts_assume_role(struct st_api *a, const struct st_query *form)
{
    struct st_ctl *ctl = a->ctl;
    const char *role_arn = st_query_get(form, "RoleArn");
    const char *session = st_query_get(form, "RoleSessionName");
    const char *dur = st_query_get(form, "DurationSeconds");
    if (!role_arn || !session) {
        sts_error(a, 400, "ValidationError", "RoleArn and RoleSessionName are required");
        return;
    }
    if (!valid_session_name(session)) {
        sts_error(a, 400, "ValidationError",
                  "RoleSessionName must be 2-64 characters of letters, digits and _+=,.@-");
        return;
    }
    long duration = 3600;
    if (dur) {
        char *end;
        duration = strtol(dur, &end, 10);
        if (*end || duration < 900 || duration > 43200) {
            sts_error(a, 400, "ValidationError",
                      "DurationSeconds must be between 900 and 43200 seconds");
            return;
        }
    }
    json_t *role = st_store_principal_get(ctl->store, role_arn);
    char msg[1024];
    snprintf(msg, sizeof(msg),
             "User: %s is not authorized to perform: sts:AssumeRole on resource: %s",
             a->caller->arn, role_arn);
    if (!role || strcmp(json_string_value(json_object_get(role, "kind")), "role") != 0) {
        json_decref(role);
        sts_error(a, 403, "AccessDenied", msg);
        return;
    }
    const char *trust = json_string_value(json_object_get(role, "trustPolicy"));
    struct st_policy_parse_opts o = {ST_POLICY_TRUST, 0, false};
    const char *perr = NULL;
    struct st_policy *tp = trust ? st_policy_parse(trust, strlen(trust), &o, NULL, &perr) : NULL;
    struct st_policy_request r = {
        .principal = a->caller->arn, .action = "sts:AssumeRole", .resource = role_arn};
    struct st_policy_decision d;
    memset(&d, 0, sizeof(d));
    int rc = tp ? st_policy_evaluate(&r, (const struct st_policy *const *)a->caller->policies,
                                     a->caller->n_policies, tp, &d)
                : -1;
    st_policy_unref(tp);
    /* A trust policy must name the caller (or its account): identity policies alone never let
     * anyone assume a role. */
    if (rc != 0 || d.result != ST_POLICY_ALLOWED || d.resource_allow == ST_PM_NO) {
        json_decref(role);
        sts_error(a, 403, "AccessDenied", msg);
        return;
    }
    const char *account = json_string_value(json_object_get(role, "account"));
    const char *rname = json_string_value(json_object_get(role, "name"));
    char akid[21] = "ASIA", secret[41], token[129], assumed[512], exp_iso[32];
    st_ctl_random(akid + 4, 16, ST_ALNUM_UPPER);
    st_ctl_random(secret, 40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    st_ctl_random(token, 128, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
    snprintf(assumed, sizeof(assumed), "arn:aws:sts::%s:assumed-role/%s/%s", account, rname,
             session);
    int64_t expires = (int64_t)time(NULL) + duration;
    st_ctl_iso_time(expires, exp_iso);
    const char *err = NULL;
    if (st_store_session_put(ctl->store, akid, secret, token, assumed, role_arn, expires, &err) !=
        0) {
        json_decref(role);
        sts_error(a, 500, "InternalFailure", err);
        return;
    }
    st_info("sts: %s assumed %s as %s (key %s)", a->caller->arn, role_arn, assumed, akid);
    st_ctl_changed(ctl);
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b,
                        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                        "<AssumeRoleResult><AssumedRoleUser><AssumedRoleId>AROA%.16s:",
                        akid + 4);
    xml_escaped(b, session);
    evbuffer_add_printf(b, "</AssumedRoleId><Arn>");
    xml_escaped(b, assumed);
    evbuffer_add_printf(b,
                        "</Arn></AssumedRoleUser><Credentials><AccessKeyId>%s</AccessKeyId>"
                        "<SecretAccessKey>",
                        akid);
    xml_escaped(b, secret);
    evbuffer_add_printf(b, "</SecretAccessKey><SessionToken>");
    xml_escaped(b, token);
    evbuffer_add_printf(b,
                        "</SessionToken><Expiration>%s</Expiration></Credentials>"
                        "</AssumeRoleResult><ResponseMetadata><RequestId>%s</RequestId>"
                        "</ResponseMetadata></AssumeRoleResponse>",
                        exp_iso, a->request_id);
    size_t n = evbuffer_get_length(b);
    send_text(a, 200, "text/xml", (const char *)evbuffer_pullup(b, -1), n);
    evbuffer_free(b);
    json_decref(role);
}

static void
sts_caller_identity(struct st_api *a)
{
    struct evbuffer *b = evbuffer_new();
    evbuffer_add_printf(b, "<GetCallerIdentityResponse "
                           "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                           "<GetCallerIdentityResult><Arn>");
    xml_escaped(b, a->caller->arn);
    evbuffer_add_printf(b, "</Arn><UserId>");
    const char *slash = strrchr(a->caller->arn, '/');
    xml_escaped(b, slash ? slash + 1 : a->caller->arn);
    evbuffer_add_printf(b,
                        "</UserId><Account>%s</Account></GetCallerIdentityResult>"
                        "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>"
                        "</GetCallerIdentityResponse>",
                        a->caller->account, a->request_id);
    size_t n = evbuffer_get_length(b);
    send_text(a, 200, "text/xml", (const char *)evbuffer_pullup(b, -1), n);
    evbuffer_free(b);
}

static void
serve_sts(struct st_api *a, const uint8_t *body, size_t blen)
{
    struct st_query form;
    const char *err = NULL;
    if (st_query_parse((const char *)body, blen, &form, &err) != 0) {
        sts_error(a, 400, "MalformedInput", err);
        return;
    }
    const char *action = st_query_get(&form, "Action");
    if (action && strcmp(action, "AssumeRole") == 0)
        sts_assume_role(a, &form);
    else if (action && strcmp(action, "GetCallerIdentity") == 0)
        sts_caller_identity(a);
    else
        sts_error(a, 400, "InvalidAction",
                  "strait's STS serves AssumeRole and GetCallerIdentity only");
    st_query_clear(&form);
}

static int
authenticate(struct st_api *a, struct st_snapshot *snap, const char *service, const char *path,
             size_t plen, const char *query, size_t qlen, const uint8_t *body, size_t blen,
             bool xml)
{
    struct st_sigv4_header hdrs[API_MAX_HEADERS];
    size_t nh = 0;
    bool has_auth = false;
    struct evkeyvalq *in = evhttp_request_get_input_headers(a->req);
    struct evkeyval *kv;
    TAILQ_FOREACH(kv, in, next)
    {
        if (nh == API_MAX_HEADERS)
            break;
        hdrs[nh].name = kv->key;
        hdrs[nh].name_len = strlen(kv->key);
        hdrs[nh].value = kv->value;
        hdrs[nh].value_len = strlen(kv->value);
        if (strcasecmp(kv->key, "authorization") == 0)
            has_auth = true;
        nh++;
    }
    if (!has_auth) {
        a->ctl->stats.authn_failed++;
        if (xml)
            sts_error(a, 403, "MissingAuthenticationToken",
                      "Request is missing Authentication Token: sign it with SigV4");
        else
            st_api_error(a, "MissingAuthenticationTokenException", NULL,
                         "Request is missing Authentication Token: sign it with SigV4 "
                         "(Authorization header) using an access key from `strait admin apply`");
        return -1;
    }
    struct lookup_ctx lc = {snap, false};
    struct st_sigv4_verifier v = {a->ctl->region, service, a->ctl->max_skew, 0, lookup, &lc};
    struct st_sigv4_http h = {method_name(evhttp_request_get_command(a->req)),
                              path,
                              plen,
                              query,
                              qlen,
                              hdrs,
                              nh,
                              body,
                              blen};
    struct st_sigv4_identity id;
    memset(&id, 0, sizeof(id));
    const char *err = NULL;
    if (st_sigv4_verify_http(&v, &h, time(NULL), &id, &err) == 0) {
        a->ctl->stats.authn_ok++;
        a->caller = id.principal;
        st_sigv4_identity_clear(&id);
        return 0;
    }
    const char *type, *code, *msg;
    char buf[512];
    switch (id.status) {
    case ST_SIGV4_UNKNOWN_KEY:
        if (lc.expired) {
            type = "UnauthorizedException";
            code = "ExpiredToken";
            msg = "The security token included in the request is expired: get new temporary "
                  "credentials with sts:AssumeRole";
            break;
        }
        type = "UnrecognizedClientException";
        code = "InvalidClientTokenId";
        msg = "The security token included in the request is invalid.";
        break;
    case ST_SIGV4_BAD_TOKEN:
        type = "UnrecognizedClientException";
        code = "InvalidClientTokenId";
        msg = "The security token included in the request is invalid (session token missing, "
              "unexpected or expired).";
        break;
    case ST_SIGV4_EXPIRED:
        type = "InvalidSignatureException";
        code = "SignatureDoesNotMatch";
        snprintf(buf, sizeof(buf),
                 "Signature expired: %s is not within %d seconds of the server time; check the "
                 "client's clock",
                 id.amz_date[0] ? id.amz_date : "the request date", a->ctl->max_skew);
        msg = buf;
        break;
    case ST_SIGV4_MALFORMED:
        type = "IncompleteSignatureException";
        code = "IncompleteSignature";
        snprintf(buf, sizeof(buf), "The request signature is incomplete or malformed: %s", err);
        msg = buf;
        break;
    case ST_SIGV4_SCOPE:
        type = "InvalidSignatureException";
        code = "SignatureDoesNotMatch";
        snprintf(buf, sizeof(buf),
                 "Credential should be scoped to a valid region and service: %s (strait serves "
                 "region %s, service %s)",
                 err, a->ctl->region, service);
        msg = buf;
        break;
    default:
        type = "InvalidSignatureException";
        code = "SignatureDoesNotMatch";
        msg = "The request signature we calculated does not match the signature you provided. "
              "Check your AWS Secret Access Key and signing method.";
    }
    a->ctl->stats.authn_failed++;
    st_info("api %s: authentication failed for key %s: %s", a->request_id,
            id.access_key_id[0] ? id.access_key_id : "(none)", err ? err : "?");
    st_sigv4_identity_clear(&id);
    if (xml)
        sts_error(a, status_of(type), code, msg);
    else
        st_api_error(a, type, NULL, "%s", msg);
    return -1;
}

/* GET /strait/v1/ca-certificate: the CA that issues the endpoint certificates. It is public
 * material (clients need it to trust the endpoints), so any authenticated principal may read it;
 * no IAM action is evaluated. */
static void
serve_ca(struct st_api *a)
{
    const char *err = NULL;
    char *pem = st_gwauth_ca_pem(a->ctl, &err);
    if (!pem) {
        st_api_error(a, "InternalServerErrorException", NULL, "%s", err);
        return;
    }
    st_api_ok(a, json_pack("{s:s}", "caCertificate", pem));
    free(pem);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
    struct st_ctl *ctl = arg;
    struct st_api a;
    memset(&a, 0, sizeof(a));
    a.ctl = ctl;
    a.req = req;
    st_ctl_uuid(a.request_id);
    struct st_snapshot *snap = st_snapshot_ref(ctl->snap);
    const char *uri = evhttp_request_get_uri(req);
    const char *qm = strchr(uri, '?');
    size_t plen = qm ? (size_t)(qm - uri) : strlen(uri);
    const char *query = qm ? qm + 1 : "";
    size_t qlen = strlen(query);
    const char *method = method_name(evhttp_request_get_command(req));
    struct evbuffer *inb = evhttp_request_get_input_buffer(req);
    size_t blen = evbuffer_get_length(inb);
    const uint8_t *body = blen ? evbuffer_pullup(inb, -1) : NULL;
    const char *err = NULL;

    if (plen == 1 && uri[0] == '/' && strcmp(method, "POST") == 0) {
        if (authenticate(&a, snap, "sts", uri, plen, query, qlen, body, blen, true) == 0)
            serve_sts(&a, body, blen);
        goto done;
    }
    if (plen >= 11 && strncmp(uri, "/strait/v1/", 11) == 0) {
        /* strait's own extensions (not in the MSK model): SigV4 like the MSK operations. */
        bool usage = plen == 16 && strncmp(uri, "/strait/v1/usage", 16) == 0;
        bool ca = plen == 25 && strncmp(uri, "/strait/v1/ca-certificate", 25) == 0;
        if (!(usage || ca) || strcmp(method, "GET") != 0) {
            st_api_error(&a, "UnknownOperationException", NULL,
                         "%s %.*s: strait serves GET /strait/v1/usage and GET "
                         "/strait/v1/ca-certificate",
                         method, (int)plen, uri);
            goto done;
        }
        if (authenticate(&a, snap, "kafka", uri, plen, query, qlen, body, blen, false) != 0)
            goto done;
        if (st_query_parse(query, qlen, &a.q, &err) != 0) {
            st_api_error(&a, "BadRequestException", NULL, "invalid query string: %s", err);
            goto done;
        }
        if (usage)
            st_usage_serve(&a);
        else
            serve_ca(&a);
        goto done;
    }
    int rc = st_route_find(method, uri, plen, &a.m, &err);
    if (rc != ST_ROUTE_OK) {
        if (rc == ST_ROUTE_BAD_LABEL)
            st_api_error(&a, "BadRequestException", NULL, "%s", err);
        else
            st_api_error(&a, "UnknownOperationException", NULL, "%s %.*s: %s", method, (int)plen,
                         uri, err);
        goto done;
    }
    if (authenticate(&a, snap, "kafka", uri, plen, query, qlen, body, blen, false) != 0)
        goto done;
    if (st_query_parse(query, qlen, &a.q, &err) != 0) {
        st_api_error(&a, "BadRequestException", NULL, "invalid query string: %s", err);
        goto done;
    }
    if (blen) {
        json_error_t jerr;
        a.body = json_loadb((const char *)body, blen, JSON_REJECT_DUPLICATES, &jerr);
        if (!a.body || !json_is_object(a.body)) {
            st_api_error(&a, "BadRequestException", NULL,
                         "the request body must be a JSON object (%s at line %d column %d)",
                         a.body ? "not an object" : jerr.text, jerr.line, jerr.column);
            goto done;
        }
    }
    st_debug("api %s: %s by %s", a.request_id, a.m.route->name, a.caller->arn);
    st_ops_dispatch(&a);
    if (!a.answered)
        st_api_error(&a, "InternalServerErrorException", NULL, "the operation sent no answer");
done:
    json_decref(a.body);
    st_query_clear(&a.q);
    st_route_match_clear(&a.m);
    st_snapshot_unref(snap);
}

/* evhttp asks for each accepted connection's bufferevent: a TLS server session. */
static struct bufferevent *
tls_bevcb(struct event_base *base, void *arg)
{
    SSL *ssl = SSL_new(arg);
    if (!ssl)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

static SSL_CTX *
tls_context(const char *cert, const char *key, const char **err)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        *err = "cannot create a TLS context";
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        *err = "cannot load the --api-tls-cert certificate chain (PEM)";
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        *err = "cannot load the --api-tls-key private key (PEM)";
    } else if (SSL_CTX_check_private_key(ctx) != 1) {
        *err = "--api-tls-key does not match --api-tls-cert";
    } else {
        return ctx;
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

void
st_api_stop(struct st_ctl *ctl)
{
    if (ctl->http)
        evhttp_free(ctl->http);
    ctl->http = NULL;
    SSL_CTX_free(ctl->ssl_ctx);
    ctl->ssl_ctx = NULL;
    free(ctl->tls_cert);
    free(ctl->tls_key);
    ctl->tls_cert = ctl->tls_key = NULL;
}

int
st_ctl_reload_tls(struct st_ctl *ctl, const char **err)
{
    if (!ctl->http || !ctl->ssl_ctx)
        return 0; /* plain HTTP: nothing to reload */
    SSL_CTX *fresh = tls_context(ctl->tls_cert, ctl->tls_key, err);
    if (!fresh)
        return -1; /* the previous certificate stays */
    /* Sessions already established keep a reference to the old context. */
    evhttp_set_bevcb(ctl->http, tls_bevcb, fresh);
    SSL_CTX_free(ctl->ssl_ctx);
    ctl->ssl_ctx = fresh;
    st_info("MSK API: TLS certificate reloaded from %s", ctl->tls_cert);
    return 0;
}

int
st_api_start(struct st_ctl *ctl, const char *listen, const char *tls_cert, const char *tls_key,
             const char **err)
{
    if (!!tls_cert != !!tls_key) {
        *err = "HTTPS needs both --api-tls-cert and --api-tls-key";
        return -1;
    }
    if (tls_cert && !(ctl->ssl_ctx = tls_context(tls_cert, tls_key, err)))
        return -1;
    if (tls_cert && (!(ctl->tls_cert = strdup(tls_cert)) || !(ctl->tls_key = strdup(tls_key)))) {
        *err = "out of memory";
        return -1;
    }
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof(host) || colon == listen) {
        *err = "--api-listen must look like ADDR:PORT";
        return -1;
    }
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535) {
        *err = "--api-listen port must be 0-65535";
        return -1;
    }
    ctl->http = evhttp_new(ctl->base);
    if (!ctl->http) {
        *err = "cannot create the API server";
        return -1;
    }
    struct evhttp_bound_socket *bs =
        evhttp_bind_socket_with_handle(ctl->http, host, (ev_uint16_t)port);
    if (!bs) {
        *err = "cannot listen on the --api-listen address (in use or not local?)";
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int bound = (int)port;
    if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    snprintf(ctl->api_addr, sizeof(ctl->api_addr), "%s:%d", host, bound);
    evhttp_set_max_body_size(ctl->http, API_MAX_BODY);
    evhttp_set_max_headers_size(ctl->http, 32768);
    evhttp_set_timeout(ctl->http, 60);
    evhttp_set_allowed_methods(ctl->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                                              EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(ctl->http, on_request, ctl);
    if (ctl->ssl_ctx)
        evhttp_set_bevcb(ctl->http, tls_bevcb, ctl->ssl_ctx);
    st_info("MSK API listening on %s://%s (region %s)", ctl->ssl_ctx ? "https" : "http",
            ctl->api_addr, ctl->region);
    return 0;
}

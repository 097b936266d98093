/*
 * The admin socket's control-plane paths (file permissions on the socket are the trust boundary):
 *
 *   POST /v1/apply         idempotent declarative file of accounts, users, roles, access keys,
 *                          policies, VPCs, subnets, security groups, SCRAM secrets and the
 *                          Kafka ACLs of existing clusters (added, never removed); answers
 *                          {"created": ["account 111122223333 (provider)", ...],
 *                           "generatedAccessKeys": [{"user", "accessKeyId", "secretAccessKey"}]}
 *                          (a generated secret is shown once, here)
 *   GET  /v1/ctl/status    snapshot generation and counts, API address, region
 *   GET  /v1/ctl/state     accounts, principals (policy names, access key ids; never secrets),
 *                          VPCs with subnets and security groups, clusters, VPC connections
 *
 * The whole file is one store transaction: any error rolls everything back and the answer names
 * the offending element by its JSON path.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "auth/scram.h"
#include "authz/acl.h"
#include "ctl/internal.h"
#include "policy/arn.h"
#include "policy/policy.h"
#include "store/store.h"
#include "util/log.h"

struct apply {
    struct st_ctl *ctl; /* control plane */
    json_t *created;    /* lines */
    json_t *keys;       /* generated keys */
    char *msg;          /* error (malloc'd) */
};

static int fail(struct apply *ap, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void created(struct apply *ap, bool yes, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct apply *ap, const char *fmt, ...)
{
    va_list va;
    va_start(va, fmt);
    char buf[2048];
    vsnprintf(buf, sizeof(buf), fmt, va);
    va_end(va);
    free(ap->msg);
    ap->msg = strdup(buf);
    return -1;
}

static void
created(struct apply *ap, bool yes, const char *fmt, ...)
{
    if (!yes)
        return;
    va_list va;
    va_start(va, fmt);
    char buf[1024];
    vsnprintf(buf, sizeof(buf), fmt, va);
    va_end(va);
    json_array_append_new(ap->created, json_string(buf));
}

static bool
valid_name(const char *s, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > max)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              strchr("_+=,.@-", *s)))
            return false;
    return true;
}

/* Serializes a policy member (object or string) and validates it as `kind`. Returns a new
 * string or NULL (error set). */
static char *
policy_text(struct apply *ap, const json_t *v, enum st_policy_kind kind, const char *where)
{
    char *text = json_is_string(v) ? strdup(json_string_value(v))
                                   : json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text || (!json_is_string(v) && !json_is_object(v))) {
        free(text);
        fail(ap, "%s: a policy must be a JSON object (or a string holding one)", where);
        return NULL;
    }
    /* "Statement": [] grants nothing; accepted (the documented apply format uses it) and
     * skipped when snapshots compile policies. */
    const json_t *stmts = json_is_object(v) ? json_object_get(v, "Statement") : NULL;
    if (json_is_array(stmts) && json_array_size(stmts) == 0)
        return text;
    struct st_policy_parse_opts o = {kind, 0, false};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    const char *err = NULL;
    struct st_policy *p = st_policy_parse(text, strlen(text), &o, &f, &err);
    if (!p) {
        const struct st_policy_finding *e = st_policy_findings_first_error(&f);
        fail(ap, "%s%s%s: %s", where, e && e->path[0] ? " at " : "", e ? e->path : "",
             e ? e->message : (err ? err : "invalid policy"));
        st_policy_findings_free(&f);
        free(text);
        return NULL;
    }
    st_policy_unref(p);
    st_policy_findings_free(&f);
    return text;
}

static int
apply_policies(struct apply *ap, const json_t *p, const char *arn, const char *where)
{
    struct st_store *s = ap->ctl->store;
    const char *err = NULL;
    bool yes;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, "managedPolicies"), i, v)
    {
        if (!json_is_string(v))
            return fail(ap, "%s.managedPolicies[%zu]: expected a policy name", where, i);
        int rc = st_store_attach(s, arn, json_string_value(v), &yes, &err);
        if (rc != 0)
            return fail(ap, "%s.managedPolicies[%zu] (%s): %s", where, i, json_string_value(v),
                        err);
        created(ap, yes, "attachment %s -> %s", json_string_value(v), arn);
    }
    const char *name;
    json_object_foreach((json_t *)json_object_get(p, "inlinePolicies"), name, v)
    {
        char w[512];
        snprintf(w, sizeof(w), "%s.inlinePolicies.%s", where, name);
        if (!valid_name(name, 128))
            return fail(ap, "%s: policy names are 1-128 characters of letters, digits and _+=,.@-",
                        w);
        char *text = policy_text(ap, v, ST_POLICY_IDENTITY, w);
        if (!text)
            return -1;
        int rc = st_store_inline_put(s, arn, name, text, &yes, &err);
        free(text);
        if (rc != 0)
            return fail(ap, "%s: %s", w, err);
        created(ap, yes, "inline policy %s of %s", name, arn);
    }
    return 0;
}

static int
apply_account(struct apply *ap, const json_t *acc, size_t ai)
{
    struct st_ctl *ctl = ap->ctl;
    struct st_store *s = ctl->store;
    const char *id = json_string_value(json_object_get(acc, "id"));
    const char *aname = json_string_value(json_object_get(acc, "name"));
    const char *err = NULL;
    bool yes;
    if (!id || !st_arn_is_account_id(id, strlen(id)))
        return fail(ap, "accounts[%zu].id: an account id is 12 digits", ai);
    if (st_store_account_put(s, id, aname ? aname : id, &yes, &err) != 0)
        return fail(ap, "accounts[%zu]: %s", ai, err);
    created(ap, yes, "account %s (%s)", id, aname ? aname : id);
    size_t i, j;
    json_t *u, *k;
    json_array_foreach(json_object_get(acc, "users"), i, u)
    {
        char where[128], arn[300];
        snprintf(where, sizeof(where), "accounts[%zu].users[%zu]", ai, i);
        const char *name = json_string_value(json_object_get(u, "name"));
        if (!valid_name(name, 64))
            return fail(ap,
                        "%s.name: user names are 1-64 characters of letters, digits and "
                        "_+=,.@-",
                        where);
        snprintf(arn, sizeof(arn), "arn:aws:iam::%s:user/%s", id, name);
        if (st_store_principal_put(s, arn, id, "user", name, NULL, &yes, &err) != 0)
            return fail(ap, "%s: %s", where, err);
        created(ap, yes, "user %s", arn);
        /* Entries without an id are generated keys; idempotent: the n-th such entry is
         * satisfied when the user already has n keys the file does not name. */
        size_t unnamed_existing = 0, unnamed_seen = 0;
        json_t *all = st_store_key_list(s);
        size_t x;
        json_t *row;
        json_array_foreach(all, x, row)
        {
            if (strcmp(json_string_value(json_object_get(row, "principal")), arn) != 0)
                continue;
            bool named = false;
            json_array_foreach(json_object_get(u, "accessKeys"), j, k)
            {
                const char *kid = json_string_value(json_object_get(k, "id"));
                if (kid && strcmp(kid, json_string_value(json_object_get(row, "accessKeyId"))) == 0)
                    named = true;
            }
            if (!named)
                unnamed_existing++;
        }
        json_decref(all);
        json_array_foreach(json_object_get(u, "accessKeys"), j, k)
        {
            const char *akid = json_string_value(json_object_get(k, "id"));
            if (!akid && ++unnamed_seen <= unnamed_existing)
                continue;
            const char *secret = json_string_value(json_object_get(k, "secret"));
            char gen_id[21], gen_secret[41];
            if (!akid) {
                memcpy(gen_id, "AKIA", 4);
                st_ctl_random(gen_id + 4, 16, ST_ALNUM_UPPER);
                akid = gen_id;
            }
            bool generated = false;
            if (!secret) {
                st_ctl_random(gen_secret, 40,
                              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
                secret = gen_secret;
                generated = true;
            }
            if (strlen(akid) < 16 || strlen(akid) > 128 || strncmp(akid, "ASIA", 4) == 0 ||
                strlen(secret) < 16)
                return fail(ap,
                            "%s.accessKeys[%zu]: access key ids are 16-128 characters (not "
                            "starting ASIA, which marks STS keys) and secrets at least 16",
                            where, j);
            if (generated && json_object_get(k, "id")) {
                /* A fixed id without a secret: only valid if the key already exists. */
                return fail(ap, "%s.accessKeys[%zu]: give a secret with a fixed id, or neither",
                            where, j);
            }
            if (st_store_key_put(s, akid, arn, secret, &yes, &err) != 0)
                return fail(ap, "%s.accessKeys[%zu] (%s): %s", where, j, akid, err);
            created(ap, yes, "access key %s for %s", akid, arn);
            if (yes && generated)
                json_array_append_new(ap->keys,
                                      json_pack("{s:s, s:s, s:s}", "user", arn, "accessKeyId", akid,
                                                "secretAccessKey", secret));
        }
        if (apply_policies(ap, u, arn, where) != 0)
            return -1;
    }
    json_array_foreach(json_object_get(acc, "roles"), i, u)
    {
        char where[128], arn[300];
        snprintf(where, sizeof(where), "accounts[%zu].roles[%zu]", ai, i);
        const char *name = json_string_value(json_object_get(u, "name"));
        if (!valid_name(name, 64))
            return fail(ap,
                        "%s.name: role names are 1-64 characters of letters, digits and "
                        "_+=,.@-",
                        where);
        snprintf(arn, sizeof(arn), "arn:aws:iam::%s:role/%s", id, name);
        const json_t *tp = json_object_get(u, "trustPolicy");
        char *trust = NULL;
        if (tp && !(json_is_object(tp) && json_object_size(tp) == 0)) {
            char w[160];
            snprintf(w, sizeof(w), "%s.trustPolicy", where);
            trust = policy_text(ap, tp, ST_POLICY_TRUST, w);
            if (!trust)
                return -1;
        }
        int rc = st_store_principal_put(s, arn, id, "role", name, trust, &yes, &err);
        free(trust);
        if (rc != 0)
            return fail(ap, "%s: %s", where, err);
        created(ap, yes, "role %s", arn);
        if (apply_policies(ap, u, arn, where) != 0)
            return -1;
    }
    json_array_foreach(json_object_get(acc, "vpcs"), i, u)
    {
        char where[128];
        snprintf(where, sizeof(where), "accounts[%zu].vpcs[%zu]", ai, i);
        const char *vid = json_string_value(json_object_get(u, "id"));
        const char *cidr = json_string_value(json_object_get(u, "cidr"));
        if (!vid || !*vid)
            return fail(ap, "%s.id is required", where);
        if (st_store_vpc_put(s, vid, id, cidr ? cidr : "10.0.0.0/16", &yes, &err) != 0)
            return fail(ap, "%s (%s): %s", where, vid, err);
        created(ap, yes, "vpc %s in account %s", vid, id);
        json_array_foreach(json_object_get(u, "subnets"), j, k)
        {
            const char *sid = json_string_value(json_object_get(k, "id"));
            const char *az = json_string_value(json_object_get(k, "azId"));
            const char *addr = json_string_value(json_object_get(k, "endpointAddress"));
            if (!sid || !az || !addr)
                return fail(ap,
                            "%s.subnets[%zu]: id, azId and endpointAddress (a local IP "
                            "strait listens on for this subnet) are required",
                            where, j);
            /* More addresses let the subnet hold endpoints of several clusters (each cluster
             * uses the same 14001+ ports, so one address per cluster). */
            const json_t *more = json_object_get(k, "endpointAddresses");
            size_t m;
            json_t *ma;
            json_array_foreach(more, m, ma) if (!json_is_string(ma)) return fail(
                ap, "%s.subnets[%zu].endpointAddresses: a list of IP strings", where, j);
            char *extra = json_is_array(more) ? json_dumps(more, JSON_COMPACT) : NULL;
            int rc = st_store_subnet_put(s, sid, vid, az, addr, extra, &yes, &err);
            free(extra);
            if (rc != 0)
                return fail(ap, "%s.subnets[%zu] (%s): %s", where, j, sid, err);
            created(ap, yes, "subnet %s (%s, endpoint %s) in %s", sid, az, addr, vid);
        }
        json_array_foreach(json_object_get(u, "securityGroups"), j, k)
        {
            const char *gid = json_string_value(json_object_get(k, "id"));
            if (!gid)
                return fail(ap, "%s.securityGroups[%zu].id is required", where, j);
            json_t *rules = json_pack("{s:O?, s:O?}", "ingress", json_object_get(k, "ingress"),
                                      "egress", json_object_get(k, "egress"));
            if (!json_object_get(rules, "ingress"))
                json_object_set_new(rules, "ingress", json_array());
            if (!json_object_get(rules, "egress"))
                json_object_set_new(rules, "egress", json_array());
            char *text = json_dumps(rules, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(rules);
            int rc = text ? st_store_sg_put(s, gid, vid, text, &yes, &err) : -1;
            free(text);
            if (rc != 0)
                return fail(ap, "%s.securityGroups[%zu] (%s): %s", where, j, gid,
                            err ? err : "out of memory");
            created(ap, yes, "security group %s in %s", gid, vid);
        }
    }
    json_array_foreach(json_object_get(acc, "scramSecrets"), i, u)
    {
        char where[128], arn[400];
        snprintf(where, sizeof(where), "accounts[%zu].scramSecrets[%zu]", ai, i);
        const char *name = json_string_value(json_object_get(u, "name"));
        const char *user = json_string_value(json_object_get(u, "username"));
        const char *pw = json_string_value(json_object_get(u, "password"));
        if (!name || strncmp(name, "AmazonMSK_", 10) != 0 || !valid_name(name, 256) || !user ||
            !*user || !pw || !*pw)
            return fail(ap, "%s: name (starting AmazonMSK_), username and password are required",
                        where);
        snprintf(arn, sizeof(arn), "arn:aws:secretsmanager:%s:%s:secret:%s", ctl->region, id, name);
        json_t *old = st_store_scram_get(s, arn);
        bool same = false;
        if (old && strcmp(json_string_value(json_object_get(old, "username")), user) == 0) {
            struct st_scram_cred oc, nc;
            const char *c = json_string_value(json_object_get(old, "credential"));
            same = st_scram_cred_parse(c, strlen(c), &oc, &err) == 0 &&
                   st_scram_cred_make(oc.mech, pw, strlen(pw), oc.salt, oc.salt_len, oc.iterations,
                                      &nc, &err) == 0 &&
                   CRYPTO_memcmp(oc.stored_key, nc.stored_key, sizeof(oc.stored_key)) == 0;
        }
        json_decref(old);
        if (same)
            continue;
        struct st_scram_cred cred;
        struct st_buf text = ST_BUF_INIT;
        if (st_scram_cred_make(ST_SCRAM_SHA512, pw, strlen(pw), NULL, 0,
                               ST_SCRAM_DEFAULT_ITERATIONS, &cred, &err) != 0 ||
            st_scram_cred_format(&cred, &text) != 0) {
            st_buf_free(&text);
            return fail(ap, "%s: cannot derive the SCRAM credential: %s", where,
                        err ? err : "out of memory");
        }
        int rc = st_store_scram_put(s, arn, id, user, (const char *)text.data, &yes, &err);
        st_buf_free(&text);
        if (rc != 0)
            return fail(ap, "%s: %s", where, err);
        created(ap, true, "scram secret %s (user %s)", arn, user);
    }
    return 0;
}

/* clusters[i]: {"clusterArn", "acls": [binding in the JSON form of authz/acl.h]}: adds the
 * bindings to an existing cluster (bindings already there are kept; nothing is removed). */
static int
apply_cluster(struct apply *ap, const json_t *c, size_t ci)
{
    struct st_store *s = ap->ctl->store;
    const char *arn = json_string_value(json_object_get(c, "clusterArn"));
    const json_t *acls = json_object_get(c, "acls");
    if (!json_is_object(c) || !arn)
        return fail(ap, "clusters[%zu].clusterArn: the ARN of an existing cluster is required", ci);
    if (acls && !json_is_array(acls))
        return fail(ap, "clusters[%zu].acls: a list of ACL bindings", ci);
    json_t *rec = st_store_cluster_get(s, arn);
    json_decref(rec);
    if (!rec)
        return fail(ap, "clusters[%zu].clusterArn: no cluster %s (create it first)", ci, arn);
    size_t i;
    json_t *v;
    json_array_foreach(acls, i, v)
    {
        struct st_acl_binding b = {0};
        const char *err = NULL;
        int16_t kerr = 0;
        if (st_acl_binding_from_json(v, &b, &err) != 0 ||
            st_acl_binding_validate(&b, &err, &kerr) != 0) {
            st_acl_binding_clear(&b);
            return fail(ap, "clusters[%zu].acls[%zu]: %s", ci, i, err ? err : "invalid binding");
        }
        json_t *canon = st_acl_binding_to_json(&b);
        bool yes = false;
        int rc = canon ? st_store_acl_add(s, arn, canon, &yes, &err) : ST_STORE_ERR;
        created(ap, yes, "kafka acl %s %s %s %s %s %s:%s on %s", b.principal, b.host,
                st_acl_perm_name(b.perm), st_acl_op_name(b.op), st_acl_rtype_name(b.rtype),
                st_acl_ptype_name(b.ptype), b.name, arn);
        json_decref(canon);
        st_acl_binding_clear(&b);
        if (rc != 0)
            return fail(ap, "clusters[%zu].acls[%zu]: %s", ci, i, canon ? err : "out of memory");
    }
    return 0;
}

json_t *
st_ctl_apply(struct st_ctl *ctl, const json_t *doc, char **msg)
{
    struct apply ap = {ctl, json_array(), json_array(), NULL};
    const char *err = NULL;
    const char *region = json_string_value(json_object_get(doc, "region"));
    const json_t *accounts = json_object_get(doc, "accounts");
    const json_t *clusters = json_object_get(doc, "clusters");
    if (!json_is_object(doc) || (accounts && !json_is_array(accounts)) ||
        (clusters && !json_is_array(clusters))) {
        *msg = strdup("the file must be a JSON object with an \"accounts\" array (and optionally "
                      "a \"clusters\" array)");
        goto fail;
    }
    if (st_store_begin(ctl->store, &err) != 0) {
        *msg = strdup(err);
        goto fail;
    }
    if (region) {
        if (!valid_name(region, 40)) {
            fail(&ap, "region: not a region name");
            goto rollback;
        }
        char *old = st_store_meta_get(ctl->store, "region");
        bool changed = !old || strcmp(old, region) != 0;
        free(old);
        if (st_store_meta_set(ctl->store, "region", region, &err) != 0) {
            fail(&ap, "region: %s", err);
            goto rollback;
        }
        created(&ap, changed, "region %s", region);
        snprintf(ctl->region, sizeof(ctl->region), "%s", region);
    }
    size_t i;
    json_t *acc;
    json_array_foreach(accounts, i, acc)
    {
        if (apply_account(&ap, acc, i) != 0)
            goto rollback;
    }
    json_array_foreach(clusters, i, acc)
    {
        if (apply_cluster(&ap, acc, i) != 0)
            goto rollback;
    }
    if (st_store_commit(ctl->store, &err) != 0) {
        *msg = strdup(err);
        goto fail;
    }
    st_info("admin apply: %zu changes", json_array_size(ap.created));
    st_ctl_changed(ctl);
    json_t *out = json_pack("{s:o, s:o}", "created", ap.created, "generatedAccessKeys", ap.keys);
    return out;
rollback:
    st_store_rollback(ctl->store);
    *msg = ap.msg ? ap.msg : strdup("apply failed");
    ap.msg = NULL;
    {
        char *region_now = st_store_meta_get(ctl->store, "region");
        snprintf(ctl->region, sizeof(ctl->region), "%s", region_now ? region_now : "us-east-1");
        free(region_now);
    }
fail:
    free(ap.msg);
    json_decref(ap.created);
    json_decref(ap.keys);
    return NULL;
}

static void
reply(struct evhttp_request *req, int code, json_t *body)
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

void
st_ctl_admin_reply(struct evhttp_request *req, int code, json_t *body)
{
    reply(req, code, body);
}

bool
st_apply_admin(struct st_ctl *ctl, struct evhttp_request *req, const char *path)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (strcmp(path, "/v1/apply") == 0) {
        if (m != EVHTTP_REQ_POST) {
            reply(req, 405,
                  json_pack("{s:s, s:s}", "error", "MethodNotAllowed", "message", "use POST"));
            return true;
        }
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t len = evbuffer_get_length(in);
        json_error_t jerr;
        json_t *doc =
            json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
            char buf[300];
            snprintf(buf, sizeof(buf), "the file is not valid JSON: %s (line %d, column %d)",
                     jerr.text, jerr.line, jerr.column);
            reply(req, 400, json_pack("{s:s, s:s}", "error", "BadRequest", "message", buf));
            return true;
        }
        char *msg = NULL;
        json_t *out = st_ctl_apply(ctl, doc, &msg);
        json_decref(doc);
        if (!out) {
            reply(req, 400,
                  json_pack("{s:s, s:s}", "error", "BadRequest", "message",
                            msg ? msg : "apply failed"));
            free(msg);
            return true;
        }
        reply(req, 200, out);
        return true;
    }
    if (strcmp(path, "/v1/ctl/state") == 0) {
        struct st_store *s = ctl->store;
        json_t *principals = st_store_principal_list(s);
        json_t *keys = st_store_key_list(s);
        size_t i, j;
        json_t *p, *k;
        json_array_foreach(principals, i, p)
        {
            const char *arn = json_string_value(json_object_get(p, "arn"));
            json_object_set_new(p, "policies", st_store_principal_policy_names(s, arn));
            json_t *ids = json_array();
            json_array_foreach(
                keys, j, k) if (strcmp(json_string_value(json_object_get(k, "principal")), arn) ==
                                0) json_array_append(ids, json_object_get(k, "accessKeyId"));
            json_object_set_new(p, "accessKeyIds", ids);
        }
        json_decref(keys);
        json_t *clusters = st_store_cluster_list(s, NULL, NULL, NULL, 0);
        json_t *cl = json_array();
        json_t *c;
        json_array_foreach(clusters, i, c) json_array_append_new(
            cl, json_pack("{s:O, s:O, s:O, s:O?}", "clusterArn", json_object_get(c, "clusterArn"),
                          "state", json_object_get(c, "state"), "account",
                          json_object_get(c, "account"), "endpointAddresses",
                          json_object_get(c, "endpointAddresses")));
        json_decref(clusters);
        json_t *conns = st_store_conn_list(s, NULL, NULL, NULL, 0);
        json_t *cn = json_array();
        json_array_foreach(conns, i, c)
            json_array_append_new(cn, json_pack("{s:O, s:O, s:O, s:O, s:O?}", "vpcConnectionArn",
                                                json_object_get(c, "vpcConnectionArn"), "state",
                                                json_object_get(c, "state"), "authentication",
                                                json_object_get(c, "authentication"), "owner",
                                                json_object_get(c, "owner"), "endpointAddresses",
                                                json_object_get(c, "endpointAddresses")));
        json_decref(conns);
        reply(req, 200,
              json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "region", ctl->region, "accounts",
                        st_store_account_list(s), "principals", principals, "vpcs",
                        st_store_vpc_list(s), "clusters", cl, "vpcConnections", cn));
        return true;
    }
    if (strcmp(path, "/v1/ctl/status") == 0) {
        struct st_snapshot *s = ctl->snap;
        reply(req, 200,
              json_pack("{s:s, s:s, s:I, s:i, s:i, s:i, s:i, s:i}", "region", ctl->region,
                        "apiAddress", ctl->api_addr, "generation", (json_int_t)s->generation,
                        "principals", (int)s->n_principals, "credentials", (int)s->n_creds,
                        "clusters", (int)s->n_clusters, "vpcConnections", (int)s->n_conns,
                        "scramCredentials", (int)s->n_scram));
        return true;
    }
    return false;
}

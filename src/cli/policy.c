/*
 * `strait policy`: offline tools over the IAM policy engine (src/policy).
 *   strait policy validate FILE [--type T] [--output json|text]   findings, exit 0 when no error
 *   strait policy simulate --input FILE [--output json|text]      decisions for requests
 *   strait policy actions [PATTERN...]                              catalogue actions matched
 * Both read "-" as stdin. Nothing here talks to straitd.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "policy/catalog.h"
#include "policy/glob.h"
#include "policy/policy.h"

/* Largest input file accepted (a request file may hold many policies). */
#define MAX_INPUT (16u << 20)

static void
usage(FILE *f)
{
    fprintf(
        f, "usage: strait policy validate FILE [--type identity|resource|cluster|trust]\n"
           "                              [--allow-2008] [--output json|text]\n"
           "       strait policy simulate --input FILE [--output json|text]\n"
           "       strait policy actions [PATTERN...]\n"
           "\n"
           "validate  checks a policy document like IAM Access Analyzer: errors (the document\n"
           "          is rejected) and warnings, each with a JSON pointer. Exit 0 when there is\n"
           "          no error, 1 when there is one. --type defaults to resource when a statement\n"
           "          has Principal/NotPrincipal, identity otherwise.\n"
           "simulate  reads one request or a JSON array of requests:\n"
           "          {\"identityPolicies\": [...], \"resourcePolicy\": {...}|null,\n"
           "           \"principal\": ARN, \"action\": \"svc:Action\", \"resource\": ARN,\n"
           "           \"context\": {\"key\": \"v\" | [\"v\", ...]},\n"
           "           \"resourcePolicyType\": \"resource\"|\"cluster\"|\"trust\" (optional)}\n"
           "          and prints {\"decision\", \"matchedStatements\", \"explanation\"} for each.\n"
           "actions   lists the kafka-cluster:/kafka: actions a pattern such as\n"
           "          'kafka-cluster:*Topic*' matches (access level, resource type); exit 1\n"
           "          when a pattern matches none.\n"
           "FILE may be '-' for stdin. --output defaults to text on a terminal, json otherwise.\n");
}

/* Reads a whole file (or stdin for "-"). Returns a new NUL-terminated buffer or NULL. */
static char *
read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "strait policy: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 8192, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap >= MAX_INPUT) {
                fprintf(stderr, "strait policy: %s: larger than %u bytes\n", path, MAX_INPUT);
                free(buf);
                buf = NULL;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) {
                fprintf(stderr, "strait policy: %s: read error\n", path);
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    if (buf) {
        buf[n] = '\0';
        *len = n;
    }
    return buf;
}

static int
parse_output(const char *v, int *json_out)
{
    if (strcmp(v, "json") == 0)
        *json_out = 1;
    else if (strcmp(v, "text") == 0)
        *json_out = 0;
    else
        return -1;
    return 0;
}

static json_t *
findings_json(const struct st_policy_findings *f)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < f->n; i++) {
        const struct st_policy_finding *it = &f->items[i];
        json_t *o =
            json_pack("{s:s, s:s, s:s, s:s}", "findingType",
                      it->severity == ST_POLICY_SEV_ERROR ? "ERROR" : "WARNING", "issueCode",
                      it->code, "path", it->path, "findingDetails", it->message);
        if (o && it->aws_message[0])
            json_object_set_new(o, "awsMessage", json_string(it->aws_message));
        json_array_append_new(arr, o);
    }
    return arr;
}

static void
print_findings_text(FILE *out, const char *name, const struct st_policy_findings *f)
{
    for (size_t i = 0; i < f->n; i++) {
        const struct st_policy_finding *it = &f->items[i];
        fprintf(out, "%s: %s %s at %s: %s", name,
                it->severity == ST_POLICY_SEV_ERROR ? "ERROR" : "WARNING", it->code,
                it->path[0] ? it->path : "/", it->message);
        if (it->aws_message[0])
            fprintf(out, " [AWS: %s]", it->aws_message);
        fputc('\n', out);
    }
    if (f->dropped)
        fprintf(out, "%s: %zu more findings not shown\n", name, f->dropped);
}

/* Guesses identity vs resource policy from the presence of Principal/NotPrincipal. */
static enum st_policy_kind
guess_kind(const char *buf, size_t len)
{
    json_t *root = json_loadb(buf, len, 0, NULL);
    enum st_policy_kind k = ST_POLICY_IDENTITY;
    json_t *st = root ? json_object_get(root, "Statement") : NULL;
    size_t n = json_is_array(st) ? json_array_size(st) : (st ? 1 : 0);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_is_array(st) ? json_array_get(st, i) : st;
        if (json_is_object(s) &&
            (json_object_get(s, "Principal") || json_object_get(s, "NotPrincipal")))
            k = ST_POLICY_RESOURCE;
    }
    json_decref(root);
    return k;
}

static int
cmd_validate(int argc, char **argv)
{
    const char *file = NULL;
    int json_out = isatty(STDOUT_FILENO) ? 0 : 1;
    int kind = -1;
    bool allow_2008 = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            if (parse_output(argv[++i], &json_out) != 0) {
                fprintf(stderr, "strait policy: --output takes json or text\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "identity") == 0)
                kind = ST_POLICY_IDENTITY;
            else if (strcmp(t, "resource") == 0)
                kind = ST_POLICY_RESOURCE;
            else if (strcmp(t, "cluster") == 0)
                kind = ST_POLICY_CLUSTER;
            else if (strcmp(t, "trust") == 0)
                kind = ST_POLICY_TRUST;
            else {
                fprintf(stderr, "strait policy: unknown --type %s\n", t);
                return 2;
            }
        } else if (strcmp(argv[i], "--allow-2008") == 0) {
            allow_2008 = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (!file && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0)) {
            file = argv[i];
        } else {
            fprintf(stderr, "strait policy validate: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    size_t len;
    char *buf = read_all(file, &len);
    if (!buf)
        return 2;
    struct st_policy_parse_opts opts = {
        kind >= 0 ? (enum st_policy_kind)kind : guess_kind(buf, len), 0, !allow_2008};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    const char *err = NULL;
    struct st_policy *p = st_policy_parse(buf, len, &opts, &f, &err);
    static const char *const kinds[] = {"identity", "resource", "cluster", "trust"};
    if (json_out) {
        json_t *o =
            json_pack("{s:s, s:b, s:I, s:I, s:o}", "policyType", kinds[opts.kind], "valid",
                      p != NULL, "errors", (json_int_t)f.n_errors, "warnings",
                      (json_int_t)(f.n + f.dropped - f.n_errors), "findings", findings_json(&f));
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        print_findings_text(stdout, file, &f);
        printf("%s: %s policy %s (%zu errors, %zu warnings)\n", file, kinds[opts.kind],
               p ? "valid" : "invalid", f.n_errors, f.n + f.dropped - f.n_errors);
    }
    int rc = p ? 0 : 1;
    st_policy_unref(p);
    st_policy_findings_free(&f);
    free(buf);
    return rc;
}

/* ---- simulate -----------------------------------------------------------------------------------
 */

/* Compiles a policy given as an object or a JSON string. Returns NULL and sets *err_json. */
static struct st_policy *
load_policy(const json_t *v, enum st_policy_kind kind, const char *name, json_t **err_json)
{
    char *owned = NULL;
    const char *text;
    size_t len;
    if (json_is_string(v)) {
        text = json_string_value(v);
        len = json_string_length(v);
    } else if (json_is_object(v)) {
        owned = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!owned) {
            *err_json = json_pack("{s:s}", "error", "out of memory");
            return NULL;
        }
        text = owned;
        len = strlen(owned);
    } else {
        *err_json = json_pack("{s:s, s:s}", "error", "a policy must be an object or a JSON string",
                              "policy", name);
        return NULL;
    }
    struct st_policy_parse_opts opts = {kind, 0, false};
    struct st_policy_findings f = ST_POLICY_FINDINGS_INIT;
    const char *err = NULL;
    struct st_policy *p = st_policy_parse(text, len, &opts, &f, &err);
    if (!p)
        *err_json = json_pack("{s:s, s:s, s:o}", "error", err ? err : "invalid policy", "policy",
                              name, "findings", findings_json(&f));
    st_policy_findings_free(&f);
    free(owned);
    return p;
}

/* Context values converted to strings, owned by the simulation of one request. */
struct ctx_store {
    struct st_policy_ctx_value *kv; /* entries */
    size_t n;                       /* entries used */
    char **strs;                    /* all owned strings */
    size_t n_strs;                  /* owned strings */
    const char ***vals;             /* value arrays, one per entry */
};

static void
ctx_free(struct ctx_store *c)
{
    for (size_t i = 0; i < c->n_strs; i++)
        free(c->strs[i]);
    for (size_t i = 0; i < c->n; i++)
        free(c->vals[i]);
    free(c->strs);
    free(c->vals);
    free(c->kv);
    memset(c, 0, sizeof(*c));
}

static const char *
ctx_str(struct ctx_store *c, const json_t *v)
{
    char tmp[64];
    const char *s;
    if (json_is_string(v))
        s = json_string_value(v);
    else if (json_is_integer(v))
        s = (snprintf(tmp, sizeof(tmp), "%lld", (long long)json_integer_value(v)), tmp);
    else if (json_is_real(v)) {
        /* Shortest form that reads back the same (0.1 -> "0.1"). */
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(tmp, sizeof(tmp), "%.*g", prec, json_real_value(v));
            if (strtod(tmp, NULL) == json_real_value(v))
                break;
        }
        s = tmp;
    } else if (json_is_boolean(v))
        s = json_is_true(v) ? "true" : "false";
    else
        return NULL;
    char *d = strdup(s);
    char **ns = realloc(c->strs, (c->n_strs + 1) * sizeof(char *));
    if (!d || !ns) {
        free(d);
        if (ns)
            c->strs = ns;
        return NULL;
    }
    c->strs = ns;
    c->strs[c->n_strs++] = d;
    return d;
}

static int
ctx_load(struct ctx_store *c, const json_t *ctx, const char **err)
{
    if (!ctx || json_is_null(ctx))
        return 0;
    if (!json_is_object(ctx)) {
        *err = "context must be an object";
        return -1;
    }
    size_t n = json_object_size(ctx);
    c->kv = calloc(n ? n : 1, sizeof(*c->kv));
    c->vals = calloc(n ? n : 1, sizeof(*c->vals));
    if (!c->kv || !c->vals) {
        *err = "out of memory";
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)ctx, k, v)
    {
        size_t nv = json_is_array(v) ? json_array_size(v) : 1;
        const char **vals = calloc(nv ? nv : 1, sizeof(char *));
        if (!vals) {
            *err = "out of memory";
            return -1;
        }
        struct st_policy_ctx_value *e = &c->kv[c->n];
        c->vals[c->n++] = vals;
        e->key = k; /* borrowed from the request object, which outlives the evaluation */
        e->is_set = json_is_array(v);
        e->n_values = nv;
        e->values = vals;
        for (size_t i = 0; i < nv; i++) {
            const json_t *x = json_is_array(v) ? json_array_get(v, i) : v;
            vals[i] = ctx_str(c, x);
            if (!vals[i]) {
                *err = "context values must be strings, numbers or booleans";
                return -1;
            }
        }
    }
    return 0;
}

static const char *
str_field(const json_t *req, const char *name)
{
    const json_t *v = json_object_get(req, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Simulates one request object; returns the result object (never NULL unless OOM). */
static json_t *
simulate_one(const json_t *rq, bool *failed)
{
    json_t *err_json = NULL;
    struct st_policy **ids = NULL;
    size_t n_ids = 0;
    struct st_policy *rp = NULL;
    struct ctx_store cs;
    memset(&cs, 0, sizeof(cs));
    json_t *result = NULL;
    const char *err = NULL;

    if (!json_is_object(rq)) {
        err = "each request must be an object";
        goto fail;
    }
    const char *principal = str_field(rq, "principal");
    const char *action = str_field(rq, "action");
    const char *resource = str_field(rq, "resource");
    if (!principal || !action || !resource) {
        err = "principal, action and resource are required strings";
        goto fail;
    }
    const json_t *idp = json_object_get(rq, "identityPolicies");
    if (idp && !json_is_array(idp) && !json_is_null(idp)) {
        err = "identityPolicies must be an array";
        goto fail;
    }
    n_ids = json_is_array(idp) ? json_array_size(idp) : 0;
    ids = calloc(n_ids ? n_ids : 1, sizeof(*ids));
    if (!ids) {
        err = "out of memory";
        goto fail;
    }
    for (size_t i = 0; i < n_ids; i++) {
        char name[48];
        snprintf(name, sizeof(name), "identityPolicies[%zu]", i);
        ids[i] = load_policy(json_array_get(idp, i), ST_POLICY_IDENTITY, name, &err_json);
        if (!ids[i])
            goto fail;
    }
    const json_t *rpv = json_object_get(rq, "resourcePolicy");
    if (rpv && !json_is_null(rpv)) {
        /* A role trust policy (sts:AssumeRole*) has no Resource element. */
        const char *type = str_field(rq, "resourcePolicyType");
        enum st_policy_kind kind =
            strncasecmp(action, "sts:", 4) == 0 ? ST_POLICY_TRUST : ST_POLICY_RESOURCE;
        if (type && strcmp(type, "trust") == 0)
            kind = ST_POLICY_TRUST;
        else if (type && strcmp(type, "cluster") == 0)
            kind = ST_POLICY_CLUSTER;
        else if (type && strcmp(type, "resource") == 0)
            kind = ST_POLICY_RESOURCE;
        else if (type) {
            err = "resourcePolicyType must be resource, cluster or trust";
            goto fail;
        }
        rp = load_policy(rpv, kind, "resourcePolicy", &err_json);
        if (!rp)
            goto fail;
    }
    if (ctx_load(&cs, json_object_get(rq, "context"), &err) != 0)
        goto fail;

    struct st_policy_request req = {
        .principal = principal, .action = action, .resource = resource, .ctx = cs.kv, .n_ctx = cs.n};
    struct st_policy_explain x;
    st_policy_explain_init(&x);
    struct st_policy_decision d;
    memset(&d, 0, sizeof(d));
    d.explain = &x;
    if (st_policy_evaluate(&req, (const struct st_policy *const *)ids, n_ids, rp, &d) != 0) {
        st_policy_explain_free(&x);
        err = "out of memory";
        goto fail;
    }
    json_t *matched = json_array();
    for (size_t i = 0; matched && i < x.n_matched; i++) {
        const struct st_policy_matched *m = &x.matched[i];
        char pname[48];
        if (m->policy >= 0)
            snprintf(pname, sizeof(pname), "identityPolicies[%d]", m->policy);
        else
            snprintf(pname, sizeof(pname), "resourcePolicy");
        json_array_append_new(matched, json_pack("{s:s, s:I, s:o, s:s}", "policy", pname,
                                                 "statementIndex", (json_int_t)m->stmt, "sid",
                                                 m->sid ? json_string(m->sid) : json_null(),
                                                 "effect", m->deny ? "Deny" : "Allow"));
    }
    result = json_pack("{s:s, s:o, s:s}", "decision", st_policy_result_name(d.result),
                       "matchedStatements", matched, "explanation",
                       x.text.data ? (const char *)x.text.data : "");
    st_policy_explain_free(&x);
    goto out;

fail:
    *failed = true;
    result = err_json ? err_json : json_pack("{s:s}", "error", err ? err : "invalid request");
    err_json = NULL;
out:
    json_decref(err_json);
    for (size_t i = 0; ids && i < n_ids; i++)
        st_policy_unref(ids[i]);
    free(ids);
    st_policy_unref(rp);
    ctx_free(&cs);
    return result;
}

static void
print_result_text(FILE *out, size_t idx, const json_t *r)
{
    const char *dec = json_string_value(json_object_get(r, "decision"));
    if (!dec) {
        fprintf(out, "request %zu: ERROR %s\n", idx,
                json_string_value(json_object_get(r, "error")));
        const json_t *f = json_object_get(r, "findings");
        size_t i;
        json_t *it;
        json_array_foreach(f, i, it)
        {
            fprintf(out, "  %s %s at %s: %s\n",
                    json_string_value(json_object_get(it, "findingType")),
                    json_string_value(json_object_get(it, "issueCode")),
                    json_string_value(json_object_get(it, "path")),
                    json_string_value(json_object_get(it, "findingDetails")));
        }
        return;
    }
    fprintf(out, "request %zu: %s\n", idx, dec);
    const char *ex = json_string_value(json_object_get(r, "explanation"));
    const char *line = ex;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        int n = nl ? (int)(nl - line) : (int)strlen(line);
        fprintf(out, "  %.*s\n", n, line);
        line = nl ? nl + 1 : NULL;
    }
}

static int
cmd_simulate(int argc, char **argv)
{
    const char *file = NULL;
    int json_out = isatty(STDOUT_FILENO) ? 0 : 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            if (parse_output(argv[++i], &json_out) != 0) {
                fprintf(stderr, "strait policy: --output takes json or text\n");
                return 2;
            }
        } else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
            file = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "strait policy simulate: unexpected argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    size_t len;
    char *buf = read_all(file, &len);
    if (!buf)
        return 2;
    json_error_t jerr;
    json_t *in = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
    free(buf);
    if (!in) {
        fprintf(stderr, "strait policy simulate: %s: line %d: %s\n", file, jerr.line, jerr.text);
        return 2;
    }
    bool failed = false;
    json_t *out;
    if (json_is_array(in)) {
        out = json_array();
        size_t i;
        json_t *rq;
        json_array_foreach(in, i, rq) json_array_append_new(out, simulate_one(rq, &failed));
    } else {
        out = simulate_one(in, &failed);
    }
    if (json_out) {
        char *s = out ? json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (s)
            printf("%s\n", s);
        free(s);
    } else if (json_is_array(out)) {
        size_t i;
        json_t *r;
        json_array_foreach(out, i, r) print_result_text(stdout, i, r);
    } else if (out) {
        print_result_text(stdout, 0, out);
    }
    json_decref(out);
    json_decref(in);
    return failed ? 1 : 0;
}

/* `strait policy actions [PATTERN...]`: the kafka/kafka-cluster actions each pattern matches. */
static int
cmd_actions(int argc, char **argv)
{
    static const char *const services[] = {"kafka-cluster", "kafka"};
    static const char *const all[] = {"kafka-cluster:*", "kafka:*"};
    int n = argc > 1 ? argc - 1 : 2;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        const char *pat = argc > 1 ? argv[i + 1] : all[i];
        const char *colon = strchr(pat, ':');
        int found = 0;
        for (size_t sv = 0; sv < 2; sv++) {
            size_t cn;
            const struct st_policy_action_info *cat =
                st_policy_catalog(services[sv], strlen(services[sv]), &cn);
            for (size_t k = 0; k < cn; k++) {
                char full[128];
                snprintf(full, sizeof(full), "%s:%s", services[sv], cat[k].name);
                bool m =
                    strcmp(pat, "*") == 0 ||
                    (colon && st_glob_match(pat, strlen(pat), full, strlen(full), ST_GLOB_NOCASE));
                if (m) {
                    printf("%-55s %-8s %s\n", full, cat[k].access_level,
                           cat[k].resource[0] ? cat[k].resource : "-");
                    found++;
                }
            }
        }
        if (!found) {
            fprintf(stderr, "strait policy actions: %s matches no kafka or kafka-cluster action\n",
                    pat);
            rc = 1;
        }
    }
    return rc;
}

int
st_cli_policy(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "validate") == 0)
        return cmd_validate(argc - 1, argv + 1);
    if (strcmp(argv[1], "simulate") == 0)
        return cmd_simulate(argc - 1, argv + 1);
    if (strcmp(argv[1], "actions") == 0)
        return cmd_actions(argc - 1, argv + 1);
    fprintf(stderr, "strait policy: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}

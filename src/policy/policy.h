/*
 * The IAM policy engine: parses AWS IAM JSON policy documents (identity policies, resource
 * policies such as the MSK cluster policy, role trust policies) into an immutable compiled form,
 * validates them in the style of IAM Access Analyzer (findings with a JSON pointer), and
 * evaluates requests with AWS's logic (docs/internals/policy-semantics.md,
 * /work/shared/spec/iam-policy-semantics.md).
 *
 * Context: pure library. A compiled struct st_policy is immutable and reference-counted; it may be
 * evaluated from any number of threads at once. Evaluation without an explanation never allocates.
 */
#ifndef ST_POLICY_POLICY_H
#define ST_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* What a document is used as; decides which elements are required or forbidden. */
enum st_policy_kind {
    ST_POLICY_IDENTITY = 0, /* identity-based: Principal/NotPrincipal forbidden */
    ST_POLICY_RESOURCE = 1, /* generic resource-based: Principal or NotPrincipal required */
    ST_POLICY_CLUSTER = 2,  /* MSK cluster policy: resource-based, 20 KB, AWS/Service principals */
    ST_POLICY_TRUST = 3,    /* role trust policy: resource-based, NotPrincipal forbidden */
};

/* Default size limits (bytes). The identity limit counts non-whitespace bytes, like IAM. */
#define ST_POLICY_CLUSTER_MAX_SIZE 20480
#define ST_POLICY_IDENTITY_MAX_SIZE 10240
#define ST_POLICY_RESOURCE_MAX_SIZE 20480
/* Maximum JSON nesting depth of any policy document. */
#define ST_POLICY_MAX_DEPTH 8

struct st_policy_parse_opts {
    enum st_policy_kind kind; /* what the document is used as */
    size_t max_size;          /* size limit in bytes; 0 = the kind's default */
    bool require_2012;        /* a missing or 2008-10-17 Version is an error (else a warning) */
};

enum st_policy_severity {
    ST_POLICY_SEV_ERROR = 0,   /* the document is rejected */
    ST_POLICY_SEV_WARNING = 1, /* accepted, but probably not what the author meant */
};

/* One validation finding. */
struct st_policy_finding {
    enum st_policy_severity severity; /* error or warning */
    const char *code;                 /* static identifier, e.g. "UNKNOWN_ELEMENT" */
    char path[160];                   /* JSON pointer of the offending element ("" = document) */
    char message[640];                /* what is wrong and what to change */
    char aws_message[320];            /* IAM's MalformedPolicyDocument text ("" for warnings) */
    unsigned rank; /* IAM's reporting order of the error class (lower is reported first) */
};

/* A growable list of findings. Initialize with ST_POLICY_FINDINGS_INIT. */
struct st_policy_findings {
    struct st_policy_finding *items; /* owned array */
    size_t n;                        /* findings stored */
    size_t cap;                      /* allocated entries */
    size_t n_errors;                 /* findings with severity ERROR */
    size_t dropped;                  /* findings not stored because of the cap (256) */
};
#define ST_POLICY_FINDINGS_INIT                                                                    \
    {                                                                                              \
        NULL, 0, 0, 0, 0                                                                           \
    }

/* Releases the findings' storage and empties the list. */
void st_policy_findings_free(struct st_policy_findings *f);
/*
 * Returns the error IAM would report for the document: the error of the lowest rank (syntax,
 * then Version, legacy parsing, Sid, missing actions, resource format, action format, missing
 * resources), the first one in document order among equals; NULL when there is no error.
 */
const struct st_policy_finding *st_policy_findings_first_error(const struct st_policy_findings *f);

struct st_policy;

/*
 * Parses, validates and compiles a policy document (`len` bytes of JSON, need not be
 * NUL-terminated). Findings (errors and warnings) are appended to `findings` when it is not NULL.
 * Returns a new policy with one reference, or NULL when the document has an error; then *err
 * (if err is not NULL) points to IAM's message for the error IAM would report
 * (st_policy_findings_first_error()), which stays valid as long as
 * `findings` is not freed, or to static text when findings is NULL.
 * Ownership: the caller releases the policy with st_policy_unref().
 */
struct st_policy *st_policy_parse(const char *json, size_t len,
                                  const struct st_policy_parse_opts *opts,
                                  struct st_policy_findings *findings, const char **err)
    __attribute__((warn_unused_result));

/* Takes one more reference (thread-safe). Returns `p`. */
struct st_policy *st_policy_ref(struct st_policy *p);
/* Drops one reference (thread-safe); frees the policy with the last one. NULL is ignored. */
void st_policy_unref(struct st_policy *p);

/* Version of the document: 20121017 or 20081017 (also for a missing Version). */
int st_policy_version(const struct st_policy *p);
/* Number of statements. */
size_t st_policy_statement_count(const struct st_policy *p);
/* Sid of statement `i`, or NULL when it has none. */
const char *st_policy_statement_sid(const struct st_policy *p, size_t i);

/* One context key with its values. A key given as a JSON array is a set (multi-valued key). */
struct st_policy_ctx_value {
    const char *key;           /* condition key, matched case-insensitively */
    const char *const *values; /* NUL-terminated values */
    size_t n_values;           /* number of values */
    bool is_set; /* multi-valued key (array in the request), even with 0 or 1 values */
};

/* An authorization request. All strings are NUL-terminated and borrowed. */
struct st_policy_request {
    const char *principal;                 /* principal ARN, service principal, or "" (anonymous) */
    const char *action;                    /* "service:ActionName" */
    const char *resource;                  /* resource ARN ("*" for actions without resources) */
    const struct st_policy_ctx_value *ctx; /* context keys */
    size_t n_ctx;                          /* number of context keys */
};

/* How a policy's principal entry covers a request principal (spec §4.2), weakest first. */
enum st_principal_match {
    ST_PM_NO = 0,           /* not covered */
    ST_PM_ACCOUNT = 1,      /* account id or :root entry, principal of that account (delegates) */
    ST_PM_SESSION_USER = 2, /* user entry, federated-user session of that user */
    ST_PM_SESSION_ROLE = 3, /* role entry, assumed-role session of that role */
    ST_PM_MATCH = 4,        /* exact ARN, service principal, or `*` */
};

enum st_policy_result {
    ST_POLICY_IMPLICIT_DENY = 0, /* no applicable Allow (or cross-account without both sides) */
    ST_POLICY_ALLOWED = 1,       /* allowed */
    ST_POLICY_EXPLICIT_DENY = 2, /* an applicable Deny statement */
};

/* A statement that applied to a request. */
struct st_policy_matched {
    int policy;      /* index into the identity policies, or -1 for the resource policy */
    size_t stmt;     /* statement index within its policy */
    const char *sid; /* Sid or NULL (borrowed from the policy) */
    bool deny;       /* Effect is Deny */
    enum st_principal_match pm; /* principal match (resource policy only; MATCH otherwise) */
};

/* Explanation of one decision; filled only when the caller asks for it. */
struct st_policy_explain {
    struct st_policy_matched *matched; /* statements that applied, in evaluation order */
    size_t n_matched;                  /* entries in matched */
    size_t cap;                        /* allocated entries */
    struct st_buf text;                /* human-readable explanation (NUL-terminated when set) */
};

/* Initializes an explanation (empty). Release with st_policy_explain_free(). */
void st_policy_explain_init(struct st_policy_explain *e);
void st_policy_explain_free(struct st_policy_explain *e);

struct st_policy_decision {
    enum st_policy_result result; /* the decision */
    bool identity_allow;          /* an identity policy allowed (and none denied) */
    enum st_principal_match
        resource_allow;                /* best principal match of an applicable resource Allow */
    bool same_account;                 /* principal account equals the resource account */
    struct st_policy_explain *explain; /* in: NULL, or an initialized explanation to fill */
};

/*
 * Decides `req` against the identity policies (`n_identity` entries, NULL entries are skipped)
 * and the resource policy (NULL when the resource has none), with AWS's logic: an applicable
 * Deny anywhere denies; same-account access needs an Allow in either the identity policies or
 * (for a principal named directly) the resource policy; cross-account access needs both; an
 * account principal in the resource policy delegates to the identity policies; a service
 * principal or an anonymous caller ("" or "*") needs a resource-policy Allow. The resource
 * account is taken from the resource ARN, the principal's from its ARN (for a principal that is
 * not an ARN, such as a synthetic identity, from the context key aws:PrincipalAccount if given).
 * Set out->explain to an initialized explanation to have it filled (allocates); with NULL the
 * call never allocates. Returns 0, or -1 when the explanation could not be allocated (the
 * decision is still set).
 */
int st_policy_evaluate(const struct st_policy_request *req, const struct st_policy *const *identity,
                       size_t n_identity, const struct st_policy *resource,
                       struct st_policy_decision *out) __attribute__((warn_unused_result));

/* Returns "allowed", "explicitDeny" or "implicitDeny". */
const char *st_policy_result_name(enum st_policy_result r);

/*
 * Returns the strongest match between `principal` (an ARN, a 12-digit account id, or a service
 * principal) and the Principal element of the Allow statements of resource policy `p` whose
 * Action covers `action` (NULL = any action). Conditions and resources are not considered.
 * For the control plane: "does this cluster policy grant account X / role Y anything?".
 */
enum st_principal_match st_policy_principal_covers(const struct st_policy *p, const char *principal,
                                                   const char *action);

/*
 * Matches one principal entry as written in a policy (`entry`: "*", account id, ARN, or a
 * service principal when `service` is true) against a request principal.
 */
enum st_principal_match st_principal_match_entry(const char *entry, bool service,
                                                 const char *principal);

#endif

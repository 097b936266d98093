/*
 * Internal representation of a compiled policy, shared by parse.c (builds it), cond.c (condition
 * operators) and eval.c (evaluates it). Not part of the public API; see policy.h.
 */
#ifndef ST_POLICY_INTERNAL_H
#define ST_POLICY_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/arn.h"
#include "policy/policy.h"

/* Size of the stack buffers used to substitute variables during evaluation. */
#define ST_POLICY_EXPAND_MAX 4096

/* Kinds of part of a string value with variables. */
enum st_part_kind {
    ST_PART_LIT = 0,  /* literal text (wildcards keep their meaning in Like operators) */
    ST_PART_CHAR = 1, /* `${*}`, `${?}`, `${$}`: one character that is never a wildcard */
    ST_PART_VAR = 2,  /* `${key}` or `${key, 'default'}` */
};

struct st_part {
    enum st_part_kind kind; /* what this part is */
    char *text;             /* literal text, the character, or the variable key */
    size_t len;             /* bytes of text */
    char *def;              /* default value (VAR with a default), else NULL */
    size_t def_len;         /* bytes of def */
};

/* A string from the policy that may contain policy variables. */
struct st_pat {
    char *raw;             /* literal text (no variables): exact form */
    size_t raw_len;        /* bytes of raw */
    char *glob;            /* literal text in the escaped glob encoding (ST_GLOB_ESC) */
    size_t glob_len;       /* bytes of glob */
    struct st_part *parts; /* parts when has_vars */
    size_t n_parts;        /* number of parts */
    bool has_vars;         /* value contains variables; raw/glob are NULL then */
};

/* One Resource/NotResource entry. */
struct st_pres {
    bool star;         /* the entry is "*" */
    bool never;        /* the entry can match no resource (short ARN in a resource policy, ...) */
    struct st_pat pat; /* the ARN pattern */
    struct st_arn arn; /* split of pat.glob (when !pat.has_vars) */
};

enum st_prin_type {
    ST_PRIN_STAR = 0,      /* "*" or {"AWS": "*"} */
    ST_PRIN_ACCOUNT = 1,   /* account id or arn:...:iam::A:root */
    ST_PRIN_ARN = 2,       /* user, role, session or other IAM/STS ARN */
    ST_PRIN_SERVICE = 3,   /* {"Service": ...} */
    ST_PRIN_FEDERATED = 4, /* {"Federated": ...} */
    ST_PRIN_CANONICAL = 5, /* {"CanonicalUser": ...} */
};

/* One principal entry. */
struct st_pprin {
    enum st_prin_type type; /* kind of entry */
    char *value;            /* the entry as written */
    char account[13];       /* ACCOUNT: the account id */
};

enum st_cond_family {
    ST_CF_STRING = 0,
    ST_CF_NUMERIC,
    ST_CF_DATE,
    ST_CF_BOOL,
    ST_CF_BINARY,
    ST_CF_IP,
    ST_CF_ARN,
    ST_CF_NULL,
};

enum st_cond_cmp {
    ST_CMP_EQ = 0, /* equals / like */
    ST_CMP_LT,     /* less than */
    ST_CMP_LE,     /* less than or equals */
    ST_CMP_GT,     /* greater than */
    ST_CMP_GE,     /* greater than or equals */
};

enum st_cond_set {
    ST_SET_NONE = 0, /* plain operator */
    ST_SET_ALL = 1,  /* ForAllValues: */
    ST_SET_ANY = 2,  /* ForAnyValue: */
};

/* One pre-parsed condition value. */
struct st_cval {
    struct st_pat pat; /* String/Arn/Bool (with variables) and the text of every value */
    bool ok;           /* the value parsed for its family (else it never matches) */
    double num;        /* Numeric */
    int64_t sec;       /* Date: seconds since the epoch */
    int32_t nsec;      /* Date: nanoseconds */
    bool b;            /* Bool / Null */
    uint8_t ip[16];    /* IP: network address */
    int ip_v6;         /* IP: 1 for IPv6 */
    int prefix;        /* IP: prefix length */
    uint8_t *bin;      /* Binary: decoded bytes (owned) */
    size_t bin_len;    /* Binary: length */
};

/* One (operator, key) condition with its values. */
struct st_pcond {
    char *op_name;              /* operator as written, e.g. "ForAnyValue:StringLikeIfExists" */
    enum st_cond_family family; /* operator family */
    enum st_cond_cmp cmp;       /* comparison */
    bool like;                  /* String: *Like (glob) */
    bool nocase;                /* String: *IgnoreCase */
    bool negated;               /* a Not operator */
    bool if_exists;             /* ...IfExists */
    enum st_cond_set set;       /* set operator */
    char *key;                  /* condition key as written */
    struct st_cval *vals;       /* values (OR) */
    size_t n_vals;              /* number of values */
};

enum st_prin_mode { ST_PMODE_NONE = 0, ST_PMODE_PRINCIPAL = 1, ST_PMODE_NOTPRINCIPAL = 2 };

/* One compiled statement. */
struct st_pstmt {
    char *sid;              /* Sid or NULL */
    bool deny;              /* Effect: Deny */
    int prin_mode;          /* enum st_prin_mode */
    struct st_pprin *prins; /* principal entries */
    size_t n_prins;         /* number of principal entries */
    bool not_action;        /* NotAction instead of Action */
    char **actions;         /* action patterns (case-insensitive globs) */
    size_t *action_lens;    /* strlen of each action pattern */
    size_t n_actions;       /* number of action patterns */
    bool not_resource;      /* NotResource instead of Resource */
    struct st_pres *res;    /* resource patterns */
    size_t n_res;           /* number of resource patterns */
    struct st_pcond *conds; /* conditions (AND) */
    size_t n_conds;         /* number of conditions */
};

struct st_policy {
    atomic_uint refs;         /* reference count */
    int version;              /* 20121017 or 20081017 */
    enum st_policy_kind kind; /* what it was parsed as */
    char *id;                 /* Id or NULL */
    struct st_pstmt *stmts;   /* statements */
    size_t n_stmts;           /* number of statements */
};

/* Context lookup shared by conditions and variables (case-insensitive key). NULL if absent. */
const struct st_policy_ctx_value *st_policy_ctx_find(const struct st_policy_request *req,
                                                     const char *key, size_t key_len);

/*
 * Expands `p` into buf (cap bytes): the glob encoding when `glob`, the exact text otherwise.
 * Returns the length, or -1 when a variable is missing without default, is multi-valued, or the
 * result does not fit. `vars` says whether `${` is a variable (2012-10-17).
 */
long st_pat_expand(const struct st_pat *p, const struct st_policy_request *req, bool glob,
                   char *buf, size_t cap);

/* Evaluates one condition; when `why` is not NULL it gets a short static reason. */
bool st_cond_eval(const struct st_pcond *c, const struct st_policy_request *req, const char **why);

/* Frees a condition's owned memory. */
void st_cond_free(struct st_pcond *c);
void st_pat_free(struct st_pat *p);

/* Parses an ISO-8601 (W3C profile) date or epoch seconds. Returns 0 or -1. */
int st_policy_parse_date(const char *s, size_t len, int64_t *sec, int32_t *nsec)
    __attribute__((warn_unused_result));
/* Parses an IPv4/IPv6 address or CIDR. Returns 0 or -1. */
int st_policy_parse_cidr(const char *s, size_t len, bool allow_prefix, uint8_t ip[16], int *v6,
                         int *prefix) __attribute__((warn_unused_result));
/* Parses a decimal number (optional sign, digits, optional fraction). Returns 0 or -1. */
int st_policy_parse_number(const char *s, size_t len, double *out)
    __attribute__((warn_unused_result));

#endif

/*
 * ARN parsing and matching: splitting `arn:partition:service:region:account:resource` at its first
 * five colons, the per-segment wildcard rule used for Resource/NotResource and ArnLike, the
 * resource-type rule, and the validation of policy Resource values with AWS's messages.
 * Pure functions over borrowed memory; nothing here allocates.
 */
#ifndef ST_POLICY_ARN_H
#define ST_POLICY_ARN_H

#include <stdbool.h>
#include <stddef.h>

/* Segment indexes of an ARN. */
enum st_arn_seg {
    ST_ARN_PREFIX = 0,    /* the literal "arn" */
    ST_ARN_PARTITION = 1, /* aws, aws-cn, aws-us-gov, ... */
    ST_ARN_SERVICE = 2,   /* kafka, iam, sts, ... */
    ST_ARN_REGION = 3,    /* empty for global services */
    ST_ARN_ACCOUNT = 4,   /* 12-digit account id or empty */
    ST_ARN_RESOURCE = 5,  /* everything after the fifth colon (may contain ':' and '/') */
};

/* A view of an ARN's six segments (pointers into the caller's string). */
struct st_arn {
    const char *seg[6]; /* segment starts; segments past `n` point at the end of input */
    size_t len[6];      /* segment lengths */
    int n;              /* segments found: 6 for a complete ARN, fewer for a short one */
};

/*
 * Splits `s` (len bytes) at its first five colons. Returns the number of segments found (1-6)
 * and fills `out`; the first segment is not checked to be "arn". Never fails.
 */
int st_arn_split(const char *s, size_t len, struct st_arn *out);

/*
 * Parses a complete request ARN: "arn" prefix and six segments. Returns 0, or -1 with *err set
 * to static text.
 */
int st_arn_parse(const char *s, size_t len, struct st_arn *out, const char **err)
    __attribute__((warn_unused_result));

/*
 * Matches a Resource/NotResource pattern (already split; a short pattern counts its missing
 * segments as `*`) against a request ARN. Partition, service, region and account are glob-matched
 * separately and case-sensitively; in the resource part of a `kafka` pattern that contains '/' or
 * ':', the resource type before the first of them is compared literally and the rest is
 * glob-matched against the remainder; otherwise the whole resource part is one glob (`*` crosses
 * '/' and ':'). `glob_flags` is passed to st_glob_match
 * (ST_GLOB_ESCAPED for patterns produced by variable substitution).
 */
bool st_arn_match_resource(const struct st_arn *pat, const struct st_arn *val, unsigned glob_flags);

/*
 * ArnLike/ArnEquals: both values are split into six parts; each part is glob-matched on its own,
 * case-sensitively. A value with fewer than six parts never matches.
 */
bool st_arn_like(const char *pat, size_t plen, const char *val, size_t vlen, unsigned glob_flags);

/* Returns whether `p` (len bytes) names a known AWS partition. */
bool st_arn_partition_valid(const char *p, size_t len);

/*
 * Validates the format of a policy Resource/NotResource value (not "*") like IAM: a value
 * without ':' is not an ARN; the first segment is not checked; the partition must be known, the
 * service present and literal; IAM and S3 ARNs have no region; IAM resource paths start with a
 * known type. Returns 0, or -1 and writes IAM's MalformedPolicyDocument message into `msg`
 * (msg_size bytes). `vars_allowed` says whether `${` sequences are variables (2012-10-17);
 * variables may appear only in the resource part. See also st_arn_legacy_check().
 */
int st_arn_validate_resource(const char *s, size_t len, bool vars_allowed, char *msg,
                             size_t msg_size) __attribute__((warn_unused_result));

/*
 * IAM's "legacy parsing" of a Resource value (not "*"): a value with fewer than five colons may
 * not contain "::", and the service segment may not be empty. Returns 0, or -1 when IAM rejects
 * it with "The policy failed legacy parsing".
 */
int st_arn_legacy_check(const char *s, size_t len) __attribute__((warn_unused_result));

/*
 * Builds the ARN of a resource inside an MSK cluster (msk-iam-access.md §4): from the cluster ARN
 * `arn:P:kafka:R:A:cluster/NAME/UUID` and `type` ("topic", "group" or "transactional-id") makes
 * `arn:P:kafka:R:A:<type>/NAME/UUID/<name>`, with `name` (name_len bytes) inserted verbatim (a
 * group id may contain '/', ':' or '*'; they are not escaped). Writes a NUL-terminated string into
 * buf (cap bytes). Returns its length, or -1 when the cluster ARN is not a cluster ARN, the type
 * is unknown, or buf is too small.
 */
long st_arn_msk_child(char *buf, size_t cap, const char *cluster_arn, const char *type,
                      const char *name, size_t name_len) __attribute__((warn_unused_result));

/* Returns whether `s` is exactly 12 ASCII digits (an account id). */
bool st_arn_is_account_id(const char *s, size_t len);

#endif

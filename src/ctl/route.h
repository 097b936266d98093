/*
 * The MSK REST API's static route table and the pure request-parsing pieces of the control
 * plane: routing on raw path segments with labels decoded afterwards (msk-control-api.md §1.2),
 * query-string parsing, and pagination tokens. No I/O; used by the HTTP server, the unit tests
 * and the fuzz target.
 */
#ifndef ST_CTL_ROUTE_H
#define ST_CTL_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

/* Every operation the API serves. */
enum st_op {
    ST_OP_CREATE_CLUSTER_V2,
    ST_OP_DESCRIBE_CLUSTER,
    ST_OP_DESCRIBE_CLUSTER_V2,
    ST_OP_LIST_CLUSTERS_V2,
    ST_OP_DELETE_CLUSTER,
    ST_OP_GET_BOOTSTRAP_BROKERS,
    ST_OP_UPDATE_CONNECTIVITY,
    ST_OP_UPDATE_SECURITY,
    ST_OP_PUT_CLUSTER_POLICY,
    ST_OP_GET_CLUSTER_POLICY,
    ST_OP_DELETE_CLUSTER_POLICY,
    ST_OP_CREATE_VPC_CONNECTION,
    ST_OP_DESCRIBE_VPC_CONNECTION,
    ST_OP_LIST_VPC_CONNECTIONS,
    ST_OP_LIST_CLIENT_VPC_CONNECTIONS,
    ST_OP_REJECT_CLIENT_VPC_CONNECTION,
    ST_OP_DELETE_VPC_CONNECTION,
    ST_OP_BATCH_ASSOCIATE_SCRAM_SECRET,
    ST_OP_BATCH_DISASSOCIATE_SCRAM_SECRET,
    ST_OP_LIST_SCRAM_SECRETS,
    ST_OP_TAG_RESOURCE,
    ST_OP_UNTAG_RESOURCE,
    ST_OP_LIST_TAGS_FOR_RESOURCE,
    ST_OP__COUNT,
};

/* One row of the static route table. */
struct st_route {
    const char *method; /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *tmpl;   /* path template, labels as {name} filling a whole segment */
    enum st_op op;      /* operation */
    const char *name;   /* operation name, e.g. "DescribeClusterV2" */
    const char *action; /* IAM action, "kafka:<name>" */
};

#define ST_ROUTE_MAX_LABELS 2
#define ST_ROUTE_MAX_SEGMENTS 8

/* A matched request. Labels are decoded, NUL-terminated and owned. */
struct st_route_match {
    const struct st_route *route;                 /* the route */
    const char *label_names[ST_ROUTE_MAX_LABELS]; /* names from the template (static) */
    char *labels[ST_ROUTE_MAX_LABELS];            /* decoded values (owned) */
    size_t n_labels;                              /* labels filled */
};

enum st_route_rc {
    ST_ROUTE_OK = 0,         /* matched */
    ST_ROUTE_NO_PATH = -1,   /* no template matches the path */
    ST_ROUTE_NO_METHOD = -2, /* the path exists for other methods */
    ST_ROUTE_BAD_LABEL = -3, /* a label is empty, badly percent-encoded or contains NUL */
};

/* The table (NULL-terminated by a row with method NULL). */
extern const struct st_route st_routes[];

/*
 * Matches `method` and the raw path (`len` bytes, no query, still percent-encoded) against the
 * table: the path is split on '/', literal segments compare exactly, label segments match any
 * non-empty segment and are percent-decoded only after the match. Returns ST_ROUTE_OK with `*m`
 * filled (st_route_match_clear()), or a negative st_route_rc with *err.
 */
int st_route_find(const char *method, const char *path, size_t len, struct st_route_match *m,
                  const char **err) __attribute__((warn_unused_result));
/* The decoded value of label `name`, or NULL. */
const char *st_route_label(const struct st_route_match *m, const char *name);
void st_route_match_clear(struct st_route_match *m);

#define ST_QUERY_MAX_PARAMS 32

/* Decoded query parameters (names and values owned, NUL-terminated). */
struct st_query {
    char *names[ST_QUERY_MAX_PARAMS];  /* decoded names */
    char *values[ST_QUERY_MAX_PARAMS]; /* decoded values ("" for a bare name) */
    size_t n;                          /* parameters */
};

/*
 * Parses a raw query string (or an application/x-www-form-urlencoded body): '&'-separated
 * name[=value] pairs, percent-decoded, '+' as space. Rejects bad escapes, embedded NULs and more
 * than ST_QUERY_MAX_PARAMS parameters. A repeated name is a list (rest-json list parameters such
 * as tagKeys); st_query_get() returns its first value. Returns 0 (st_query_clear()) or -1.
 */
int st_query_parse(const char *q, size_t len, struct st_query *out, const char **err)
    __attribute__((warn_unused_result));
const char *st_query_get(const struct st_query *q, const char *name);
void st_query_clear(struct st_query *q);

/*
 * maxResults: "" / absent gives `dflt`; otherwise a decimal 1..100. Returns 0 with *out or -1.
 */
int st_parse_max_results(const char *s, int dflt, int *out) __attribute__((warn_unused_result));

/* Pagination tokens: opaque base64url of the last key returned. Encode returns a new string
 * (free()); decode returns a new string or NULL when the token was not issued by strait. */
char *st_page_token_encode(const char *key);
char *st_page_token_decode(const char *token);

#endif

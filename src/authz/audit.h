/*
 * The authorization audit log: one JSON object per line for every denial (and, when enabled,
 * every decision) of the data plane, with size-based rotation (FILE, FILE.1 ... FILE.N).
 * Records never carry secrets: principals, addresses, resource names and statement ids only.
 *
 * Context: one writer per process, used from the event loop thread; writes are line-buffered
 * and flushed per record so `strait audit tail` sees them at once.
 */
#ifndef ST_AUTHZ_AUDIT_H
#define ST_AUTHZ_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One decision. Strings are borrowed; NULL members are left out of the record. */
struct st_audit_record {
    int64_t time_ms;            /* wall clock, epoch milliseconds */
    uint64_t conn_id;           /* gateway connection id (the "C-<id>" of the logs) */
    const char *principal;      /* IAM ARN or "User:alice" */
    const char *auth;           /* "SASL_IAM", "SASL_SCRAM" or "TLS" */
    const char *source;         /* client "ip:port" */
    const char *endpoint;       /* endpoint "ip:port" the client dialled */
    const char *vpc_connection; /* VPC connection ARN, NULL when unknown */
    const char *cluster;        /* cluster ARN */
    const char *api;            /* Kafka API name, e.g. "Produce" */
    int api_version;            /* request version */
    const char *action;         /* "kafka-cluster:WriteData" (IAM) or "WRITE" (Kafka ACL) */
    const char *resource;       /* resource ARN (IAM) or "TOPIC:payments" (ACL) */
    bool allowed;               /* decision */
    const char *reason;         /* deciding statement / binding, or why nothing allowed */
};

/* Options of the writer. */
struct st_audit_opts {
    const char *path;   /* log file (created 0600; directories must exist) */
    uint64_t max_bytes; /* rotate when the file would exceed this (0 = 64 MiB) */
    unsigned keep;      /* rotated files kept (0 = 5) */
    bool all_decisions; /* also record allowed decisions */
};

struct st_audit;

/* Opens (appends to) the log. Returns a new writer (st_audit_close()) or NULL with *err. */
struct st_audit *st_audit_open(const struct st_audit_opts *o, const char **err);
void st_audit_close(struct st_audit *a);

/* True when allowed decisions are recorded too. */
bool st_audit_all(const struct st_audit *a);

/* The log file's path (borrowed, valid until st_audit_close()), its rotation threshold in bytes
 * and the number of rotated files kept (defaults applied). NULL / 0 for a NULL writer. */
const char *st_audit_path(const struct st_audit *a);
uint64_t st_audit_max_bytes(const struct st_audit *a);
unsigned st_audit_keep(const struct st_audit *a);

/*
 * Appends one record (JSON line) and rotates when needed. Allowed decisions are skipped unless
 * all_decisions was set; a NULL writer records nothing. time_ms 0 means now. Keys, in this order:
 * time (RFC 3339 UTC, milliseconds), conn ("C-<id>"), principal, auth, source, endpoint,
 * vpcConnection, cluster, api, apiVersion (with api), action, resource, decision ("ALLOW" or
 * "DENY"), reason. Control characters are escaped and invalid UTF-8 becomes U+FFFD, so every
 * line is valid JSON whatever a client named its topic.
 *
 * Before each write the path is stat(2)ed: a file removed or renamed by someone else (logrotate)
 * is replaced by a new one at the path. When the record would take the file past max_bytes, the
 * file is rotated first (FILE.keep dropped, FILE.i -> FILE.i+1, FILE -> FILE.1).
 *
 * Failures are logged (rate-limited) and otherwise ignored: the data plane never stops because the
 * audit log cannot be written.
 */
void st_audit_write(struct st_audit *a, const struct st_audit_record *r);

#endif

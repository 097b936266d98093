/*
 * Action catalogues of the two services strait authorizes: `kafka-cluster:*` (the 19 data-plane
 * actions, msk-iam-access.md §2) and `kafka:*` (the MSK control-plane API), plus the MSK resource
 * types. Used by validation (unknown-action warnings) and by tools that expand wildcards.
 */
#ifndef ST_POLICY_CATALOG_H
#define ST_POLICY_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

/* One action of a catalogue. */
struct st_policy_action_info {
    const char *name;         /* ActionName, AWS spelling (CamelCase) */
    const char *access_level; /* "Read", "Write", "List", "Tagging", "Permissions management" */
    const char *resource;     /* required resource type ("cluster", "topic", ...), "" for none */
};

/*
 * Returns the catalogue of `service` ("kafka" or "kafka-cluster", case-insensitive; `len` bytes)
 * and stores its size in *n, or NULL when strait has no catalogue for that service.
 */
const struct st_policy_action_info *st_policy_catalog(const char *service, size_t len, size_t *n);

/*
 * Looks up `action` ("service:Name", case-insensitive, no wildcards). Returns the entry or NULL
 * (unknown action or service without a catalogue).
 */
const struct st_policy_action_info *st_policy_catalog_find(const char *action);

/*
 * Counts the actions of `service`'s catalogue matched by the name pattern `pat` (plen bytes,
 * case-insensitive glob). Returns -1 when the service has no catalogue.
 */
int st_policy_catalog_count_matches(const char *service, size_t slen, const char *pat, size_t plen);

/* Returns whether `type` (len bytes) is an MSK resource type (cluster, topic, group, ...). */
bool st_policy_kafka_resource_type(const char *type, size_t len);

#endif

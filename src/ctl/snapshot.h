/*
 * Immutable snapshots of the control plane's state for the data plane (and for the API's own
 * request authentication): credentials, principals with their compiled identity policies,
 * clusters with their compiled cluster policies and multi-VPC schemes, VPC connections with their
 * endpoint addresses, SCRAM credentials, and the Kafka ACLs and super users of every cluster (for
 * SASL/SCRAM and mTLS principals). The data plane never reads the store: the control
 * plane builds a new snapshot after every committed change and publishes it (ctl.h,
 * st_ctl_set_publisher()); consumers keep a reference for as long as they use it.
 *
 * Context: a snapshot is never modified after st_snapshot_build() returns, so any thread may read
 * it; references are atomic. Secrets in it are never logged.
 */
#ifndef ST_CTL_SNAPSHOT_H
#define ST_CTL_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/scram.h"

struct st_store;
struct st_policy;
struct st_acl_set;

/* An IAM principal able to sign requests (user, or assumed-role session). */
struct st_snap_principal {
    char *arn;                   /* arn:aws:iam::A:user/N or arn:aws:sts::A:assumed-role/R/S */
    char account[13];            /* 12-digit account id */
    char *role_arn;              /* the role of an assumed-role session, NULL for users */
    struct st_policy **policies; /* compiled identity policies (inline then managed), owned refs */
    size_t n_policies;           /* number of policies */
};

/* An access key (long-term or STS). */
struct st_snap_cred {
    char *access_key_id; /* AKIA... / ASIA... */
    char *secret;        /* secret access key */
    char *session_token; /* STS session token, NULL for long-term keys */
    int64_t expires;     /* epoch seconds, 0 = never; expired sessions stay for a day so
                          * consumers can tell "expired" from "unknown" */
    size_t principal;    /* index into principals */
};

/* One ingress rule of a connection's security groups: TCP from `cidr` to ports [lo, hi]. */
struct st_snap_ingress {
    char cidr[64];        /* IPv4 CIDR, e.g. "10.1.0.0/16" ("0.0.0.0/0" = anywhere) */
    int port_lo, port_hi; /* destination port range (0-65535 for "all") */
};

/* A cluster as the data plane needs it. */
struct st_snap_cluster {
    char *arn;                /* cluster ARN */
    char account[13];         /* owner account */
    char *name;               /* cluster name */
    struct st_policy *policy; /* compiled cluster policy or NULL (owned ref) */
    bool vpc_iam;             /* multi-VPC on for SASL/IAM */
    bool vpc_scram;           /* multi-VPC on for SASL/SCRAM */
    bool vpc_tls;             /* multi-VPC on for mTLS */
    bool unauthenticated;     /* unauthenticated access enabled */
    struct st_acl_set *acls;  /* Kafka ACL bindings (owned; empty set when none, never NULL) */
    char **super_users;       /* Kafka super users ("User:admin"), NULL-terminated so it can be
                               * passed to st_acl_authorize(); owned; NULL when there are none */
    size_t n_super_users;     /* entries of super_users before the NULL */
    char **tag_keys;          /* the cluster's tags as condition keys, "aws:ResourceTag/<key>"
                               * (owned) */
    char **tag_values;        /* their values (owned) */
    size_t n_tags;            /* count (MSK allows 50) */
    bool sg_enforced;         /* the cluster names security groups: its in-VPC endpoints admit
                               * only what their ingress rules allow */
    struct st_snap_ingress *ingress; /* those rules (owned) */
    size_t n_ingress;                /* count (0 with sg_enforced = nothing may connect) */
};


/* A VPC connection and the addresses its endpoints listen on. */
struct st_snap_conn {
    char *arn;                       /* vpc-connection ARN */
    char *cluster_arn;               /* target cluster */
    char owner[13];                  /* client account */
    char authentication[16];         /* SASL_IAM, SASL_SCRAM or TLS */
    char state[16];                  /* VpcConnectionState */
    char vpc_id[64];                 /* the client VPC (aws:SourceVpc) */
    char **addresses;                /* endpoint addresses (one per client subnet), owned */
    size_t n_addresses;              /* number of addresses */
    struct st_snap_ingress *ingress; /* security-group ingress the data plane enforces on accept */
    size_t n_ingress;                /* number of rules (0 = nothing may connect) */
};

/* A SCRAM credential associated with a cluster (salted; never the password). */
struct st_snap_scram {
    char *cluster_arn;         /* cluster it is associated with */
    char *username;            /* SCRAM username */
    struct st_scram_cred cred; /* salt, iterations, StoredKey, ServerKey */
};

struct st_snapshot {
    int refs;                             /* atomic reference count */
    uint64_t generation;                  /* increases with every published snapshot */
    struct st_snap_principal *principals; /* sorted by arn */
    size_t n_principals;                  /* count */
    struct st_snap_cred *creds;           /* sorted by access_key_id */
    size_t n_creds;                       /* count */
    struct st_snap_cluster *clusters;     /* sorted by arn */
    size_t n_clusters;                    /* count */
    struct st_snap_conn *conns;           /* sorted by arn */
    size_t n_conns;                       /* count */
    struct st_snap_scram *scram;          /* in cluster, username order */
    size_t n_scram;                       /* count */
};

/*
 * Builds a snapshot from the store at time `now` (STS sessions expired for over a day are left
 * out; consumers compare creds[].expires with their clock).
 * Documents that no longer compile are skipped with a warning. Returns a new snapshot with one
 * reference, or NULL with *err. Ownership: release with st_snapshot_unref().
 */
struct st_snapshot *st_snapshot_build(struct st_store *s, uint64_t generation, int64_t now,
                                      const char **err) __attribute__((warn_unused_result));
/*
 * Gives every cluster of `snap` its own copy of the `n` super users (Kafka principals such as
 * "User:admin"), replacing earlier ones; n == 0 clears them. Only for a snapshot nobody else
 * holds yet (the control plane calls it between st_snapshot_build() and publishing).
 * Returns 0, or -1 when out of memory (the clusters then have no super users).
 */
int st_snapshot_set_super_users(struct st_snapshot *snap, const char *const *users, size_t n)
    __attribute__((warn_unused_result));
struct st_snapshot *st_snapshot_ref(struct st_snapshot *snap);
void st_snapshot_unref(struct st_snapshot *snap);

/* Lookups (binary search); NULL when absent. */
const struct st_snap_cred *st_snapshot_cred(const struct st_snapshot *snap, const char *akid);
const struct st_snap_principal *st_snapshot_principal(const struct st_snapshot *snap,
                                                      const char *arn);
const struct st_snap_cluster *st_snapshot_cluster(const struct st_snapshot *snap, const char *arn);
const struct st_snap_conn *st_snapshot_conn(const struct st_snapshot *snap, const char *arn);

#endif

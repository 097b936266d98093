/*
 * The node -> port map of a cluster: stable across restarts (persisted as JSON in the data dir)
 * and independent of how node ids are numbered. Broker N prefers port port_min-1+N (MSK's
 * 14000+N convention with the default range); an id outside the range, or whose preferred port
 * is taken, gets the highest free port (keeping low ports for ids that may still join). A port,
 * once given to a node, stays with it.
 */
#ifndef ST_GATEWAY_PORTMAP_H
#define ST_GATEWAY_PORTMAP_H

#include <stddef.h>
#include <stdint.h>

struct st_portmap_entry {
    int32_t node_id; /* Kafka node id */
    int port;        /* endpoint port given to it */
};

struct st_portmap {
    char *path;                       /* owned; JSON file, NULL = not persisted */
    int port_min, port_max;           /* inclusive range */
    struct st_portmap_entry *entries; /* owned array, sorted by node id */
    size_t n, cap;                    /* entries used / allocated */
};

/*
 * Initialises and loads `path` if it exists (a missing file is an empty map). Entries outside
 * [port_min, port_max] or duplicated are dropped with a warning. Returns 0 or -1 with *err.
 */
int st_portmap_load(struct st_portmap *m, const char *path, int port_min, int port_max,
                    const char **err);
void st_portmap_free(struct st_portmap *m);

/* The port of a node, or -1. */
int st_portmap_port_of(const struct st_portmap *m, int32_t node_id);
/* The node of a port, or INT32_MIN when no node has it. */
int32_t st_portmap_node_of(const struct st_portmap *m, int port);

/*
 * Returns the node's port, assigning one (and persisting the map atomically) if it has none.
 * Returns -1 with *err when the range is exhausted or the map cannot be written.
 */
int st_portmap_assign(struct st_portmap *m, int32_t node_id, const char **err);

#endif

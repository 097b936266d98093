/*
 * Persistent node -> port map (see portmap.h). The file is rewritten atomically (temp file, fsync,
 * rename) every time a node gets a port, so a crash never loses or corrupts a mapping clients may
 * already have been told about.
 */
#include "gateway/portmap.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

static int
entry_cmp(const void *a, const void *b)
{
    const struct st_portmap_entry *x = a, *y = b;
    return x->node_id < y->node_id ? -1 : x->node_id > y->node_id;
}

static int
add_entry(struct st_portmap *m, int32_t node_id, int port)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        struct st_portmap_entry *e = realloc(m->entries, cap * sizeof(*e));
        if (!e)
            return -1;
        m->entries = e;
        m->cap = cap;
    }
    m->entries[m->n].node_id = node_id;
    m->entries[m->n].port = port;
    m->n++;
    qsort(m->entries, m->n, sizeof(*m->entries), entry_cmp);
    return 0;
}

int
st_portmap_port_of(const struct st_portmap *m, int32_t node_id)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->entries[mid].node_id == node_id)
            return m->entries[mid].port;
        if (m->entries[mid].node_id < node_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int32_t
st_portmap_node_of(const struct st_portmap *m, int port)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->entries[i].port == port)
            return m->entries[i].node_id;
    return INT32_MIN;
}

static int
save(const struct st_portmap *m, const char **err)
{
    if (!m->path)
        return 0;
    json_t *root = json_object();
    json_t *nodes = json_object();
    json_object_set_new(root, "version", json_integer(1));
    json_object_set_new(root, "portMin", json_integer(m->port_min));
    json_object_set_new(root, "portMax", json_integer(m->port_max));
    for (size_t i = 0; i < m->n; i++) {
        char key[16];
        snprintf(key, sizeof(key), "%d", m->entries[i].node_id);
        json_object_set_new(nodes, key, json_integer(m->entries[i].port));
    }
    json_object_set_new(root, "nodes", nodes);
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    if (!text) {
        *err = "out of memory";
        return -1;
    }
    size_t plen = strlen(m->path);
    char *tmp = malloc(plen + 8);
    if (!tmp) {
        free(text);
        *err = "out of memory";
        return -1;
    }
    memcpy(tmp, m->path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t len = strlen(text);
        if (write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 && fsync(fd) == 0)
            rc = 0;
        close(fd);
        if (rc == 0 && rename(tmp, m->path) != 0)
            rc = -1;
    }
    if (rc != 0) {
        *err = "cannot write the port map file";
        unlink(tmp);
    }
    free(tmp);
    free(text);
    return rc;
}

int
st_portmap_load(struct st_portmap *m, const char *path, int port_min, int port_max,
                const char **err)
{
    memset(m, 0, sizeof(*m));
    m->port_min = port_min;
    m->port_max = port_max;
    if (port_min < 1 || port_max > 65535 || port_min > port_max) {
        *err = "invalid port range";
        return -1;
    }
    if (!path)
        return 0;
    m->path = strdup(path);
    if (!m->path) {
        *err = "out of memory";
        return -1;
    }
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (access(path, F_OK) != 0)
            return 0; /* first start */
        st_portmap_free(m);
        *err = "port map file is not valid JSON";
        return -1;
    }
    json_t *nodes = json_object_get(root, "nodes");
    const char *key;
    json_t *val;
    json_object_foreach(nodes, key, val)
    {
        char *end;
        errno = 0;
        long id = strtol(key, &end, 10);
        json_int_t port = json_is_integer(val) ? json_integer_value(val) : -1;
        if (*end || errno || id < INT32_MIN || id > INT32_MAX) {
            st_warn("port map %s: ignoring bad node id '%s'", path, key);
            continue;
        }
        if (port < port_min || port > port_max) {
            st_warn("port map %s: node %ld port %lld is outside %d-%d; it will be reassigned",
                    path, id, (long long)port, port_min, port_max);
            continue;
        }
        if (st_portmap_node_of(m, (int)port) != INT32_MIN) {
            st_warn("port map %s: port %lld given twice; node %ld will be reassigned", path,
                    (long long)port, id);
            continue;
        }
        if (add_entry(m, (int32_t)id, (int)port) != 0) {
            json_decref(root);
            st_portmap_free(m);
            *err = "out of memory";
            return -1;
        }
    }
    json_decref(root);
    return 0;
}

void
st_portmap_free(struct st_portmap *m)
{
    free(m->path);
    free(m->entries);
    memset(m, 0, sizeof(*m));
}

int
st_portmap_assign(struct st_portmap *m, int32_t node_id, const char **err)
{
    int port = st_portmap_port_of(m, node_id);
    if (port >= 0)
        return port;
    long pref = (long)m->port_min - 1 + node_id;
    if (node_id >= 1 && pref <= m->port_max && st_portmap_node_of(m, (int)pref) == INT32_MIN) {
        port = (int)pref;
    } else {
        /* Ids without a preferred port (outside the range, or whose port is taken) get the highest
         * free port, so the ports of ids 1..N that have not joined yet stay free for them. */
        for (int p = m->port_max; p >= m->port_min; p--) {
            if (st_portmap_node_of(m, p) == INT32_MIN) {
                port = p;
                break;
            }
        }
    }
    if (port < 0) {
        *err = "no free port left in the endpoint port range";
        return -1;
    }
    if (add_entry(m, node_id, port) != 0) {
        *err = "out of memory";
        return -1;
    }
    if (save(m, err) != 0)
        return -1;
    return port;
}

/*
 * Moving bytes from one socket to another without copying them through user space: splice(2)
 * from the source socket into a pipe, then from the pipe into the destination socket. On Linux a
 * TCP socket hands the pages of its receive queue to the pipe and the pipe hands them to the
 * sending socket, so a proxied byte is copied once by its sender and once by its receiver
 * instead of four times.
 *
 * Pipes come from a pool (one per event loop, not thread-safe): a connection holds one only while
 * bytes sit in it, so the number of open pipes follows the transfers in progress, not the
 * connections. If the kernel refuses splice on these fds (EINVAL: not a socket that supports it)
 * the pool turns itself off and callers fall back to read/write.
 */
#ifndef ST_NET_SPLICE_H
#define ST_NET_SPLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct st_pipe {
    int rfd, wfd;         /* read and write ends, O_NONBLOCK | O_CLOEXEC */
    struct st_pipe *next; /* pool free list */
};

struct st_pipe_pool {
    struct st_pipe *idle; /* empty pipes ready for reuse */
    size_t n_idle;        /* count */
    size_t max_idle;      /* idle pipes kept; more are closed */
    size_t pipe_size;     /* F_SETPIPE_SZ asked for each new pipe (best effort) */
    size_t n_open;        /* pipes open (idle or held) */
    bool disabled;        /* splice unavailable here: every st_pipe_get() returns NULL */
};

/* An empty pool; pipes ask for `pipe_size` bytes of capacity, `max_idle` are kept for reuse. */
void st_pipe_pool_init(struct st_pipe_pool *pp, size_t pipe_size, size_t max_idle);

/* Closes the idle pipes (held pipes must have been put back or released before). */
void st_pipe_pool_free(struct st_pipe_pool *pp);

/* An empty pipe (idle or new), or NULL when none can be had (fd limit, splice disabled). */
struct st_pipe *st_pipe_get(struct st_pipe_pool *pp);

/*
 * Gives a pipe back. An `empty` pipe is kept for reuse (up to max_idle); one that still holds
 * bytes (its connection closed mid-transfer) is closed, dropping them.
 */
void st_pipe_put(struct st_pipe_pool *pp, struct st_pipe *p, bool empty);

/*
 * Moves up to n bytes from socket `fd` into the pipe. Returns the bytes moved, 0 on end of
 * stream, -1 on error (errno set), -2 when nothing can move now (the socket has no bytes, or the
 * pipe is full), -3 when the kernel cannot splice from this socket: the pool is disabled and the
 * caller reads instead. The caller ignores SIGPIPE (splice to a socket has no MSG_NOSIGNAL).
 */
ssize_t st_splice_in(struct st_pipe_pool *pp, int fd, struct st_pipe *p, size_t n);

/* Moves up to n bytes from the pipe into socket `fd`: bytes moved, -1 on error, -2 would block. */
ssize_t st_splice_out(struct st_pipe *p, int fd, size_t n);

#endif

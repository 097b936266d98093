/*
 * splice(2) between sockets through pooled pipes (see splice.h).
 */
#include "net/splice.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

void
st_pipe_pool_init(struct st_pipe_pool *pp, size_t pipe_size, size_t max_idle)
{
    pp->idle = NULL;
    pp->n_idle = 0;
    pp->max_idle = max_idle;
    pp->pipe_size = pipe_size;
    pp->n_open = 0;
    pp->disabled = false;
}

static void
pipe_close(struct st_pipe_pool *pp, struct st_pipe *p)
{
    close(p->rfd);
    close(p->wfd);
    free(p);
    pp->n_open--;
}

void
st_pipe_pool_free(struct st_pipe_pool *pp)
{
    while (pp->idle) {
        struct st_pipe *p = pp->idle;
        pp->idle = p->next;
        pipe_close(pp, p);
    }
    pp->n_idle = 0;
}

struct st_pipe *
st_pipe_get(struct st_pipe_pool *pp)
{
    if (pp->disabled)
        return NULL;
    struct st_pipe *p = pp->idle;
    if (p) {
        pp->idle = p->next;
        pp->n_idle--;
        p->next = NULL;
        return p;
    }
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        free(p);
        return NULL;
    }
    p->rfd = fds[0];
    p->wfd = fds[1];
    /* Bigger than the 64 KiB default: fewer splice calls per large frame. Unprivileged users past
     * their pipe-page quota get a smaller pipe, which still works. */
    if (pp->pipe_size)
        (void)fcntl(p->wfd, F_SETPIPE_SZ, (int)pp->pipe_size);
    pp->n_open++;
    return p;
}

void
st_pipe_put(struct st_pipe_pool *pp, struct st_pipe *p, bool empty)
{
    if (!p)
        return;
    if (!empty || pp->n_idle >= pp->max_idle || pp->disabled) {
        pipe_close(pp, p);
        return;
    }
    p->next = pp->idle;
    pp->idle = p;
    pp->n_idle++;
}

ssize_t
st_splice_in(struct st_pipe_pool *pp, int fd, struct st_pipe *p, size_t n)
{
    for (;;) {
        ssize_t r = splice(fd, NULL, p->wfd, NULL, n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -2;
        if (errno == EINVAL || errno == ENOSYS) {
            pp->disabled = true;
            return -3;
        }
        return -1;
    }
}

ssize_t
st_splice_out(struct st_pipe *p, int fd, size_t n)
{
    for (;;) {
        ssize_t r = splice(p->rfd, NULL, fd, NULL, n, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (r > 0)
            return r;
        if (r == 0)
            return -1; /* the pipe had bytes: none moved is no progress */
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return -2;
        return -1;
    }
}

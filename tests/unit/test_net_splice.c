/*
 * splice(2) between loopback TCP sockets through pooled pipes (src/net/splice.c): bytes arrive
 * intact and in order, a full pipe and an empty socket both say "would block" (-2), end of stream
 * is 0, a source the kernel cannot splice from turns the pool off (-3), and the pool reuses empty
 * pipes, closes ones that still hold bytes and keeps no more than max_idle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/splice.h"

/* A connected loopback TCP pair: fds[0] connects, fds[1] is accepted; both non-blocking. */
static void
tcp_pair(int fds[2])
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(l, 1), 0);
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    fds[0] = socket(AF_INET, SOCK_STREAM, 0);
    assert_int_equal(connect(fds[0], (struct sockaddr *)&a, sizeof(a)), 0);
    fds[1] = accept(l, NULL, NULL);
    assert_true(fds[1] >= 0);
    close(l);
    for (int i = 0; i < 2; i++)
        assert_int_equal(fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK), 0);
}

/* Reads exactly n bytes from a non-blocking socket (waits for them). */
static void
read_exact(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EAGAIN) {
            usleep(1000);
            continue;
        }
        assert_true(r > 0);
        p += r;
        n -= (size_t)r;
    }
}

/* client -> [a1 | splice | b0] -> b1: 3 MB in and out in order, through a 64 KiB pipe. */
static void
test_bytes_move_in_order(void **state)
{
    (void)state;
    int a[2], b[2];
    tcp_pair(a);
    tcp_pair(b);
    struct st_pipe_pool pp;
    st_pipe_pool_init(&pp, 64u << 10, 4);
    struct st_pipe *p = st_pipe_get(&pp);
    assert_non_null(p);
    assert_int_equal(pp.n_open, 1);

    enum { TOTAL = 3 << 20 };
    uint8_t *src = malloc(TOTAL), *dst = malloc(TOTAL);
    for (size_t i = 0; i < TOTAL; i++)
        src[i] = (uint8_t)(i * 2654435761u >> 13);
    size_t sent = 0, moved_in = 0, moved_out = 0, got = 0, piped = 0;
    while (got < TOTAL) {
        if (sent < TOTAL) {
            ssize_t w = write(a[0], src + sent, TOTAL - sent > 65536 ? 65536 : TOTAL - sent);
            if (w > 0)
                sent += (size_t)w;
        }
        ssize_t n = st_splice_in(&pp, a[1], p, 1u << 20);
        assert_true(n > 0 || n == -2);
        if (n > 0) {
            moved_in += (size_t)n;
            piped += (size_t)n;
        }
        if (piped) {
            ssize_t o = st_splice_out(p, b[0], piped);
            assert_true(o > 0 || o == -2);
            if (o > 0) {
                moved_out += (size_t)o;
                piped -= (size_t)o;
            }
        }
        ssize_t r = read(b[1], dst + got, TOTAL - got);
        if (r > 0)
            got += (size_t)r;
    }
    assert_int_equal(moved_in, TOTAL);
    assert_int_equal(moved_out, TOTAL);
    assert_memory_equal(src, dst, TOTAL);

    /* Nothing more on the socket: would block. */
    assert_int_equal(st_splice_in(&pp, a[1], p, 4096), -2);
    /* End of stream once the sender closes. */
    close(a[0]);
    ssize_t n;
    while ((n = st_splice_in(&pp, a[1], p, 4096)) == -2)
        usleep(1000);
    assert_int_equal(n, 0);

    st_pipe_put(&pp, p, true);
    assert_int_equal(pp.n_idle, 1);
    assert_ptr_equal(st_pipe_get(&pp), p); /* reused */
    st_pipe_put(&pp, p, true);
    st_pipe_pool_free(&pp);
    assert_int_equal(pp.n_open, 0);
    free(src);
    free(dst);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* A pipe nobody drains fills up: "would block" while the socket still has bytes. */
static void
test_full_pipe_blocks(void **state)
{
    (void)state;
    int a[2];
    tcp_pair(a);
    struct st_pipe_pool pp;
    st_pipe_pool_init(&pp, 64u << 10, 4);
    struct st_pipe *p = st_pipe_get(&pp);
    assert_non_null(p);
    static uint8_t chunk[512 << 10];
    memset(chunk, 'x', sizeof(chunk));
    ssize_t w = write(a[0], chunk, sizeof(chunk));
    assert_true(w > (ssize_t)(128u << 10));
    usleep(20000);
    size_t in = 0;
    ssize_t n;
    while ((n = st_splice_in(&pp, a[1], p, 1u << 20)) > 0)
        in += (size_t)n;
    assert_int_equal(n, -2);
    assert_true(in > 0 && in < (size_t)w);
    /* Drained into a socket, the bytes are the ones written. */
    int b[2];
    tcp_pair(b);
    size_t out = 0;
    while (out < in) {
        ssize_t o = st_splice_out(p, b[0], in - out);
        assert_true(o > 0);
        out += (size_t)o;
    }
    uint8_t *got = malloc(in);
    read_exact(b[1], got, in);
    assert_memory_equal(got, chunk, in);
    free(got);
    /* A pipe that still holds bytes is closed, not pooled. */
    assert_true(st_splice_in(&pp, a[1], p, 4096) > 0);
    st_pipe_put(&pp, p, false);
    assert_int_equal(pp.n_idle, 0);
    assert_int_equal(pp.n_open, 0);
    st_pipe_pool_free(&pp);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

/* An fd the kernel cannot splice from: -3, and the pool hands out no more pipes. */
static void
test_unsupported_source_disables(void **state)
{
    (void)state;
    struct st_pipe_pool pp;
    st_pipe_pool_init(&pp, 0, 4);
    struct st_pipe *p = st_pipe_get(&pp);
    assert_non_null(p);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    assert_true(ep >= 0);
    assert_int_equal(st_splice_in(&pp, ep, p, 4096), -3);
    assert_true(pp.disabled);
    assert_null(st_pipe_get(&pp));
    st_pipe_put(&pp, p, true); /* closed: the pool is off */
    assert_int_equal(pp.n_open, 0);
    st_pipe_pool_free(&pp);
    close(ep);
}

/* At most max_idle empty pipes are kept. */
static void
test_pool_bounds_idle(void **state)
{
    (void)state;
    struct st_pipe_pool pp;
    st_pipe_pool_init(&pp, 0, 2);
    struct st_pipe *ps[5];
    for (int i = 0; i < 5; i++)
        assert_non_null(ps[i] = st_pipe_get(&pp));
    assert_int_equal(pp.n_open, 5);
    for (int i = 0; i < 5; i++)
        st_pipe_put(&pp, ps[i], true);
    assert_int_equal(pp.n_idle, 2);
    assert_int_equal(pp.n_open, 2);
    st_pipe_pool_free(&pp);
    assert_int_equal(pp.n_open, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_move_in_order),
        cmocka_unit_test(test_full_pipe_blocks),
        cmocka_unit_test(test_unsupported_source_disables),
        cmocka_unit_test(test_pool_bounds_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/*
 * Server-side TLS handshakes on worker threads. A pool of N threads, each running its own
 * libevent loop, takes accepted sockets with their server SSL (accept state) from the loop that
 * owns them (the "home" loop), checks that the client speaks TLS at all (first byte 0x16), drives
 * SSL_do_handshake() until it is done, fails or passes its deadline, and hands the connection
 * back: the result is queued for the home loop and an eventfd watched there wakes it, so the
 * completion callback runs on the home loop's thread. Nothing else of the owner's is touched.
 *
 *   home loop                          worker k (own event_base)
 *   st_hs_submit(fd, ssl) --queue k--> peek 1 byte, SSL_do_handshake ... (EV_READ/EV_WRITE,
 *                          +eventfd k   deadline as the event's timeout)
 *   done(arg, result)     <--done q--- finished / failed / timed out
 *                          +eventfd home
 *
 * Why: on a 2-core machine the TLS 1.3 server handshake is ~75 % of strait's CPU per new
 * connection (OpenSSL 3.0); on one loop it caps new connections near 2,500/s.
 *
 * Ownership: the fd and the SSL stay the caller's. Between st_hs_submit() and the callback (or
 * st_hs_cancel()) a worker may use them and the caller must not touch either; afterwards the
 * worker never touches them again. The result text comes from the worker's thread-local OpenSSL
 * error queue.
 *
 * Context: st_hs_pool_new(), st_hs_submit(), st_hs_cancel() and st_hs_pool_free() are called on
 * the home loop's thread only; callbacks run there. The home loop needs no evthread locking
 * (cross-thread wake-ups are eventfd writes, queues are under the pool's mutex). Every SSL_CTX
 * whose SSL objects are submitted must be safe to share between threads: no mutable state in
 * callbacks (net/tls.c's contexts set none).
 */
#ifndef ST_NET_HANDSHAKE_H
#define ST_NET_HANDSHAKE_H

#include <stdint.h>

#include <event2/event.h>
#include <openssl/ssl.h>

struct st_hs_pool;
struct st_hs_job;

/* How a handshake ended. */
enum st_hs_status {
    ST_HS_OK = 0,    /* handshake complete: the SSL is ready for SSL_read / SSL_write */
    ST_HS_FAILED,    /* TLS failed or the client went away: `why` says so */
    ST_HS_PLAINTEXT, /* the first byte is not a TLS handshake record (0x16): `first_byte` */
    ST_HS_TIMEOUT,   /* not finished within the job's timeout */
    ST_HS_CANCELLED, /* the pool was freed with the job inside (st_hs_pool_free()) */
};

/* What the callback gets (valid during the call only). */
struct st_hs_result {
    enum st_hs_status status; /* outcome */
    uint8_t first_byte;       /* ST_HS_PLAINTEXT: the byte the client sent first */
    char why[160];            /* ST_HS_FAILED: "TLS handshake failed: <OpenSSL's reason>", or
                               * "TLS handshake failed: the client closed the connection (does it
                               * trust strait's CA?)" when OpenSSL gave none; "" otherwise */
};

/* Completion callback, on the home loop's thread. The job is gone by then. */
typedef void (*st_hs_done_fn)(void *arg, const struct st_hs_result *r);

/*
 * Starts `threads` worker threads (1..ST_HS_MAX_THREADS), each with its own event_base, whose
 * completions are delivered on `home`. Worker threads block all signals. Returns a new pool
 * (st_hs_pool_free()) or NULL with *err.
 */
#define ST_HS_MAX_THREADS 64
struct st_hs_pool *st_hs_pool_new(struct event_base *home, unsigned threads, const char **err)
    __attribute__((warn_unused_result));

/*
 * Stops and joins the workers. Jobs still in the pool (queued, in a handshake, or finished but
 * not yet delivered) are handed back: their callbacks run with ST_HS_CANCELLED before this
 * returns (they must not use the pool). NULL is fine.
 */
void st_hs_pool_free(struct st_hs_pool *p);

/* Worker threads of the pool. */
unsigned st_hs_pool_threads(const struct st_hs_pool *p);

/* The loop completions are delivered on. */
struct event_base *st_hs_pool_home(const struct st_hs_pool *p);

/*
 * The default worker count: online CPUs minus one (the home loop's), at most 8 (one home loop
 * feeds them); 0 on one CPU, where threads only add switching. Measured on 2 cores shared with a
 * load generator: 2 threads cost more CPU per connection than they save (docs/performance.md).
 */
unsigned st_hs_default_threads(void);

/*
 * Hands non-blocking socket `fd` and `ssl` (SSL_set_fd(ssl, fd) and SSL_set_accept_state()
 * already done) to the least busy worker. The job fails with ST_HS_TIMEOUT when the handshake is
 * not done `timeout_ms` after this call. `done(arg, result)` runs once on the home loop, unless
 * the job is cancelled first. Returns the job (a handle for st_hs_cancel(), valid until the
 * callback starts) or NULL when out of memory (nothing was handed over).
 */
struct st_hs_job *st_hs_submit(struct st_hs_pool *p, int fd, SSL *ssl, uint32_t timeout_ms,
                               st_hs_done_fn done, void *arg) __attribute__((warn_unused_result));

/*
 * Takes a job back before its callback ran: when it returns, no worker touches the fd or the SSL
 * any more and the callback never runs. A job that is queued or finished is taken back at once;
 * one a worker holds is released by that worker at its next wake-up (the caller blocks until
 * then: at most the rest of the worker's current loop iteration, a few handshake steps).
 */
void st_hs_cancel(struct st_hs_job *j);

#endif

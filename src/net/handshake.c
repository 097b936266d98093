/*
 * TLS handshakes on worker threads (see handshake.h).
 *
 * Locking: one mutex per pool (`mu`) guards every list and every job's `state`, `cancel` and
 * list links. A job is on exactly one list, named by its state:
 *
 *   J_QUEUED   its worker's `queue`   submitted; the home thread may still take it back
 *   J_ACTIVE   its worker's `active`  the worker owns the fd, the SSL and the job's event
 *   J_DONE     the pool's `done`      result written; waiting for the home loop
 *
 * Handshake work runs without the mutex. st_hs_cancel() on an ACTIVE job sets `cancel`, wakes the
 * worker and waits on `released` until the worker lets go (state J_RELEASED, or J_DONE when the
 * step in progress finished it). The worker checks `cancel` before every step and on every wake.
 * Wake-ups are eventfd writes: a worker's when its queue goes from empty to not empty (it drains
 * the queue completely on each wake) or a cancellation is asked; the home loop's when `done` goes
 * from empty to not empty (it drains `done` completely too).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "net/handshake.h"
#include "net/tls.h"
#include "util/clock.h"

/* What a client closing during the handshake most often means (same text as the loop's path). */

enum job_state {
    J_QUEUED,   /* in the worker's queue */
    J_ACTIVE,   /* the worker holds it */
    J_DONE,     /* in the pool's done list */
    J_RELEASED, /* out of the pool: delivered, or let go after a cancellation */
};

struct hs_worker;

struct st_hs_job {
    struct st_hs_pool *pool;       /* owner */
    struct hs_worker *w;           /* worker it was given to */
    int fd;                        /* client socket (borrowed) */
    SSL *ssl;                      /* server session (borrowed) */
    int64_t deadline_ms;           /* CLOCK_MONOTONIC ms after which it times out */
    st_hs_done_fn done;            /* completion callback */
    void *arg;                     /* its argument */
    struct event *ev;              /* worker only: readiness + deadline, NULL until it waits */
    bool checked;                  /* worker only: first byte inspected */
    enum job_state state;          /* under mu */
    bool cancel;                   /* under mu: the home thread wants it back */
    struct st_hs_job *prev, *next; /* under mu: links in the list `state` names */
    struct st_hs_result res;       /* written by the worker before J_DONE */
};

struct job_list {
    struct st_hs_job *head, *tail; /* FIFO */
};

struct hs_worker {
    struct st_hs_pool *pool; /* owner */
    pthread_t tid;           /* the thread */
    bool started;            /* thread created: join it */
    struct event_base *base; /* the worker's loop: only the worker uses it once started */
    struct event *wake;      /* `efd` readable */
    int efd;                 /* eventfd: submissions, cancellations, stop */
    struct job_list queue;   /* under mu: J_QUEUED jobs */
    struct job_list active;  /* under mu: J_ACTIVE jobs */
    unsigned load;           /* under mu: jobs queued or active, for placement */
};

struct st_hs_pool {
    pthread_mutex_t mu;        /* guards the lists, job states, `stop` */
    pthread_cond_t released;   /* a cancelled job left J_ACTIVE */
    bool stop;                 /* under mu: workers leave their loops */
    struct event_base *home;   /* where completions run */
    struct event *home_ev;     /* `home_efd` readable, on the home loop */
    int home_efd;              /* eventfd: `done` became non-empty */
    struct job_list done;      /* under mu: J_DONE jobs */
    struct hs_worker *workers; /* n workers */
    unsigned n;                /* their count */
    unsigned rr;               /* home thread: where placement ties start */
};

static void
list_push(struct job_list *l, struct st_hs_job *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
}

static void
list_remove(struct job_list *l, struct st_hs_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
}

static struct st_hs_job *
list_pop(struct job_list *l)
{
    struct st_hs_job *j = l->head;
    if (j)
        list_remove(l, j);
    return j;
}

static void
efd_signal(int efd)
{
    uint64_t one = 1;
    ssize_t r;
    do
        r = write(efd, &one, sizeof(one));
    while (r < 0 && errno == EINTR);
}

static void
efd_drain(int efd)
{
    uint64_t v;
    ssize_t r = read(efd, &v, sizeof(v));
    (void)r;
}

/* ---- worker thread ---- */

static void job_step(struct st_hs_job *j);

static void
on_job_event(evutil_socket_t fd, short what, void *arg)
{
    job_step(arg);
}

/* Under mu, worker thread: gives a cancelled job back to the waiting home thread. */
static void
job_release_locked(struct st_hs_job *j)
{
    struct hs_worker *w = j->w;
    if (j->ev) {
        event_free(j->ev);
        j->ev = NULL;
    }
    list_remove(&w->active, j);
    w->load--;
    j->state = J_RELEASED;
    pthread_cond_broadcast(&w->pool->released);
}

/* Worker thread: the job leaves J_ACTIVE with status `st` (res.why / first_byte already set). */
static void
job_finish(struct st_hs_job *j, enum st_hs_status st)
{
    struct hs_worker *w = j->w;
    struct st_hs_pool *p = w->pool;
    if (j->ev) {
        event_free(j->ev);
        j->ev = NULL;
    }
    j->res.status = st;
    pthread_mutex_lock(&p->mu);
    list_remove(&w->active, j);
    w->load--;
    bool wake_home = p->done.head == NULL;
    j->state = J_DONE;
    list_push(&p->done, j);
    if (j->cancel)
        pthread_cond_broadcast(&p->released);
    pthread_mutex_unlock(&p->mu);
    /* `j` may be freed by the home thread from here on. */
    if (wake_home)
        efd_signal(p->home_efd);
}

/* Worker thread: waits for the socket to be readable or writable, or for the deadline. */
static void
job_wait(struct st_hs_job *j, short what)
{
    int64_t left = j->deadline_ms - st_mono_ms();
    if (left <= 0) {
        job_finish(j, ST_HS_TIMEOUT);
        return;
    }
    struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
    /* A fired non-persistent event is neither pending nor active: it may be re-assigned. */
    if (j->ev)
        event_assign(j->ev, j->w->base, j->fd, what, on_job_event, j);
    else
        j->ev = event_new(j->w->base, j->fd, what, on_job_event, j);
    if (!j->ev || event_add(j->ev, &tv) != 0) {
        snprintf(j->res.why, sizeof(j->res.why), "TLS handshake failed: out of memory");
        job_finish(j, ST_HS_FAILED);
    }
}

/* Worker thread: drives one job as far as it goes without blocking. */
static void
job_step(struct st_hs_job *j)
{
    struct st_hs_pool *p = j->pool;
    pthread_mutex_lock(&p->mu);
    bool cancel = j->cancel;
    if (cancel)
        job_release_locked(j);
    pthread_mutex_unlock(&p->mu);
    if (cancel)
        return;
    if (st_mono_ms() >= j->deadline_ms) {
        job_finish(j, ST_HS_TIMEOUT);
        return;
    }
    if (!j->checked) {
        /* EOF or an error is left to the handshake to report. */
        uint8_t b;
        int tls = st_tls_peek_client_hello(j->fd, &b);
        if (tls == -2) {
            job_wait(j, EV_READ);
            return;
        }
        if (tls == 0) {
            j->res.first_byte = b;
            job_finish(j, ST_HS_PLAINTEXT);
            return;
        }
        j->checked = true;
    }
    ERR_clear_error();
    int r = SSL_do_handshake(j->ssl);
    if (r == 1) {
        job_finish(j, ST_HS_OK);
        return;
    }
    /* The reason comes from this thread's OpenSSL error queue (cleared by st_tls_io_result). */
    bool want_write = false;
    char why[120];
    if (st_tls_io_result(j->ssl, r, true, &want_write, why, sizeof(why)) == -2) {
        job_wait(j, want_write ? EV_WRITE : EV_READ);
        return;
    }
    if (why[0])
        snprintf(j->res.why, sizeof(j->res.why), "TLS handshake failed: %s", why);
    else
        snprintf(j->res.why, sizeof(j->res.why), "%s", ST_TLS_CLIENT_CLOSED);
    job_finish(j, ST_HS_FAILED);
}

/* Worker thread: new jobs, cancellations, stop. */
static void
on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct hs_worker *w = arg;
    struct st_hs_pool *p = w->pool;
    efd_drain(w->efd);
    pthread_mutex_lock(&p->mu);
    if (p->stop) {
        pthread_mutex_unlock(&p->mu);
        event_base_loopbreak(w->base);
        return;
    }
    for (struct st_hs_job *j = w->active.head, *next; j; j = next) {
        next = j->next;
        if (j->cancel)
            job_release_locked(j);
    }
    pthread_mutex_unlock(&p->mu);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        struct st_hs_job *j = list_pop(&w->queue);
        if (j) {
            j->state = J_ACTIVE;
            list_push(&w->active, j);
        }
        pthread_mutex_unlock(&p->mu);
        if (!j)
            return;
        /* The ClientHello is usually there already: start at once. */
        job_step(j);
    }
}

static void *
worker_main(void *arg)
{
    struct hs_worker *w = arg;
    struct st_hs_pool *p = w->pool;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        bool stop = p->stop;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        if (event_base_loop(w->base, 0) != 0)
            break; /* the backend failed (the wake event is always there): nothing to do */
    }
    /* This thread's OpenSSL state (error queue, caches) goes with it. */
    OPENSSL_thread_stop();
    return NULL;
}

/* ---- home thread ---- */

static void
on_home(evutil_socket_t fd, short what, void *arg)
{
    struct st_hs_pool *p = arg;
    efd_drain(p->home_efd);
    /* One at a time, so that a callback cancelling another job finds it still in `done`. */
    for (;;) {
        pthread_mutex_lock(&p->mu);
        struct st_hs_job *j = list_pop(&p->done);
        if (j)
            j->state = J_RELEASED;
        pthread_mutex_unlock(&p->mu);
        if (!j)
            return;
        struct st_hs_result r = j->res;
        st_hs_done_fn done = j->done;
        void *done_arg = j->arg;
        free(j);
        done(done_arg, &r);
    }
}

unsigned
st_hs_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN) - 1;
    if (n < 1)
        return 0;
    return n > 8 ? 8 : (unsigned)n;
}

struct st_hs_pool *
st_hs_pool_new(struct event_base *home, unsigned threads, const char **err)
{
    if (!home || threads < 1 || threads > ST_HS_MAX_THREADS) {
        *err = "TLS handshake threads must be 1 to 64";
        return NULL;
    }
    struct st_hs_pool *p = calloc(1, sizeof(*p));
    if (!p) {
        *err = "out of memory";
        return NULL;
    }
    p->home = home;
    p->home_efd = -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->released, NULL);
    p->workers = calloc(threads, sizeof(*p->workers));
    if (!p->workers) {
        st_hs_pool_free(p);
        *err = "out of memory";
        return NULL;
    }
    p->n = threads;
    for (unsigned i = 0; i < threads; i++) {
        p->workers[i].pool = p;
        p->workers[i].efd = -1;
    }
    *err = "cannot set up the TLS handshake threads' event loops";
    p->home_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->home_efd < 0 ||
        !(p->home_ev = event_new(home, p->home_efd, EV_READ | EV_PERSIST, on_home, p)) ||
        event_add(p->home_ev, NULL) != 0) {
        st_hs_pool_free(p);
        return NULL;
    }
    for (unsigned i = 0; i < threads; i++) {
        struct hs_worker *w = &p->workers[i];
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->efd < 0 || !(w->base = event_base_new()) ||
            !(w->wake = event_new(w->base, w->efd, EV_READ | EV_PERSIST, on_wake, w)) ||
            event_add(w->wake, NULL) != 0) {
            st_hs_pool_free(p);
            return NULL;
        }
    }
    /* Signals are the home thread's business: workers start with every signal blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    bool ok = true;
    for (unsigned i = 0; i < threads && ok; i++) {
        struct hs_worker *w = &p->workers[i];
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            ok = false;
            break;
        }
        w->started = true;
        char name[16];
        snprintf(name, sizeof(name), "straitd-hs%u", i);
        (void)pthread_setname_np(w->tid, name);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!ok) {
        *err = "cannot start the TLS handshake threads";
        st_hs_pool_free(p);
        return NULL;
    }
    *err = NULL;
    return p;
}

void
st_hs_pool_free(struct st_hs_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->n; i++)
        if (p->workers[i].started)
            efd_signal(p->workers[i].efd);
    for (unsigned i = 0; i < p->n; i++)
        if (p->workers[i].started)
            pthread_join(p->workers[i].tid, NULL);
    /* Single-threaded from here: every job still inside goes back to its owner. */
    struct job_list back = {NULL, NULL};
    struct st_hs_job *j;
    for (unsigned i = 0; i < p->n; i++) {
        struct hs_worker *w = &p->workers[i];
        while ((j = list_pop(&w->active))) {
            if (j->ev)
                event_free(j->ev);
            list_push(&back, j);
        }
        while ((j = list_pop(&w->queue)))
            list_push(&back, j);
        if (w->wake)
            event_free(w->wake);
        if (w->base)
            event_base_free(w->base);
        if (w->efd >= 0)
            close(w->efd);
    }
    while ((j = list_pop(&p->done)))
        list_push(&back, j);
    if (p->home_ev)
        event_free(p->home_ev);
    if (p->home_efd >= 0)
        close(p->home_efd);
    free(p->workers);
    pthread_cond_destroy(&p->released);
    pthread_mutex_destroy(&p->mu);
    free(p);
    while ((j = list_pop(&back))) {
        struct st_hs_result r = {.status = ST_HS_CANCELLED};
        st_hs_done_fn done = j->done;
        void *done_arg = j->arg;
        free(j);
        done(done_arg, &r);
    }
}

unsigned
st_hs_pool_threads(const struct st_hs_pool *p)
{
    return p->n;
}

struct event_base *
st_hs_pool_home(const struct st_hs_pool *p)
{
    return p->home;
}

struct st_hs_job *
st_hs_submit(struct st_hs_pool *p, int fd, SSL *ssl, uint32_t timeout_ms, st_hs_done_fn done,
             void *arg)
{
    struct st_hs_job *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->pool = p;
    j->fd = fd;
    j->ssl = ssl;
    j->deadline_ms = st_mono_ms() + timeout_ms;
    j->done = done;
    j->arg = arg;
    pthread_mutex_lock(&p->mu);
    /* The least busy worker; ties go round robin. */
    unsigned best = p->rr % p->n;
    for (unsigned k = 1; k < p->n; k++) {
        unsigned i = (p->rr + k) % p->n;
        if (p->workers[i].load < p->workers[best].load)
            best = i;
    }
    p->rr = best + 1;
    struct hs_worker *w = &p->workers[best];
    j->w = w;
    j->state = J_QUEUED;
    bool wake = w->queue.head == NULL;
    list_push(&w->queue, j);
    w->load++;
    pthread_mutex_unlock(&p->mu);
    if (wake)
        efd_signal(w->efd);
    return j;
}

void
st_hs_cancel(struct st_hs_job *j)
{
    struct st_hs_pool *p = j->pool;
    struct hs_worker *w = j->w;
    pthread_mutex_lock(&p->mu);
    if (j->state == J_QUEUED) {
        list_remove(&w->queue, j);
        w->load--;
    } else if (j->state == J_ACTIVE) {
        j->cancel = true;
        efd_signal(w->efd);
        while (j->state == J_ACTIVE)
            pthread_cond_wait(&p->released, &p->mu);
    }
    if (j->state == J_DONE)
        list_remove(&p->done, j);
    pthread_mutex_unlock(&p->mu);
    free(j);
}

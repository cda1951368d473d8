/* workers.c - the crypto worker pool (see workers.h).
 *
 * Batches wait in one FIFO; an idle worker takes the next job of the oldest
 * batch (under the pool's lock, for a moment), routes it with its own
 * handles outside the lock, and the last job done wakes the batch's caller.
 * The lock is never held during crypto. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "workers.h"

typedef struct route_batch {
    const route_table *table;
    bridge_side side;
    route_job *jobs;
    size_t n, claimed, done;
    pthread_cond_t finished;
    struct route_batch *later; /* next batch in the queue */
} route_batch;

typedef struct worker {
    workers *pool;
    action_ctx *ax;
    pthread_t thread;
    int started;
} worker;

struct workers {
    pthread_mutex_t lock;
    pthread_cond_t work;  /* a job is queued, or stop */
    route_batch *first, *last; /* batches with unclaimed jobs */
    int stop;
    bridge_metrics *mt;
    worker *w;
    size_t n;
};

static void *worker_thread(void *arg)
{
    worker *self = arg;
    workers *p = self->pool;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (!p->first && !p->stop)
            pthread_cond_wait(&p->work, &p->lock);
        route_batch *b = p->first;
        if (!b)
            break;
        route_job *job = &b->jobs[b->claimed++];
        if (b->claimed == b->n && !(p->first = b->later))
            p->last = NULL;
        pthread_mutex_unlock(&p->lock);
        job->matched = routes_apply(b->table, self->ax, p->mt, b->side, job->source, job->in,
                                    &job->outs, &job->n_outs);
        pthread_mutex_lock(&p->lock);
        /* b lives until its caller sees done == n, under this lock */
        if (++b->done == b->n)
            pthread_cond_signal(&b->finished);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

void workers_route(workers *p, const route_table *t, bridge_side side, route_job *jobs, size_t n)
{
    if (n == 0)
        return;
    route_batch b = {.table = t, .side = side, .jobs = jobs, .n = n};
    for (size_t i = 0; i < n; i++) {
        jobs[i].outs = NULL;
        jobs[i].n_outs = 0;
        jobs[i].matched = 0;
    }
    pthread_cond_init(&b.finished, NULL);
    pthread_mutex_lock(&p->lock);
    /* b is queued only until its last job is claimed, which is before done
       reaches n: the queue never points at it once this function returns */
    if (p->last)
        p->last->later = &b;
    else
        p->first = &b; /* cppcheck-suppress autoVariables */
    p->last = &b; /* cppcheck-suppress autoVariables */
    if (n == 1)
        pthread_cond_signal(&p->work);
    else
        pthread_cond_broadcast(&p->work);
    while (b.done < b.n)
        pthread_cond_wait(&b.finished, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&b.finished);
}

void workers_route_append(workers *p, const route_table *t, bridge_side side, route_job *jobs,
                          size_t n, bmsg ***outs, size_t *n_outs, size_t *cap)
{
    workers_route(p, t, side, jobs, n);
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += jobs[i].n_outs;
    int room = array_reserve(outs, cap, *n_outs + total, sizeof **outs) == 0;
    for (size_t i = 0; i < n; i++) {
        route_job *job = &jobs[i];
        job->first = *n_outs;
        if (room && job->matched >= 0) {
            memcpy(*outs + *n_outs, job->outs, job->n_outs * sizeof *job->outs);
            *n_outs += job->n_outs;
        } else {
            for (size_t j = 0; j < job->n_outs; j++)
                bmsg_free(job->outs[j]);
            job->n_outs = 0;
            job->matched = -1;
        }
        free(job->outs);
        job->outs = NULL;
    }
}

void workers_stop(workers *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->n; i++) {
        if (p->w[i].started)
            pthread_join(p->w[i].thread, NULL);
        action_ctx_free(p->w[i].ax);
    }
    free(p->w);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

msgsec_err workers_start(size_t n, bridge_metrics *mt, workers **out, msgsec_error *err)
{
    *out = NULL;
    workers *p = calloc(1, sizeof *p);
    if (!p || !(p->w = calloc(n, sizeof *p->w))) {
        free(p);
        return bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, NULL);
    p->mt = mt;
    p->n = n;
    msgsec_err rc = MSGSEC_OK;
    for (size_t i = 0; i < n && !rc; i++) {
        p->w[i].pool = p;
        if (!(p->w[i].ax = action_ctx_new()))
            rc = bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
        else if (pthread_create(&p->w[i].thread, NULL, worker_thread, &p->w[i]))
            rc = bridge_err(err, MSGSEC_E_INTERNAL, "cannot start crypto worker %zu", i + 1);
        else
            p->w[i].started = 1;
    }
    if (rc) {
        workers_stop(p);
        return rc;
    }
    *out = p;
    return MSGSEC_OK;
}

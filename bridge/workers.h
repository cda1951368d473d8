/* workers.h - the crypto workers (workers.c): a fixed pool of threads, each
 * with its own msgsec handles (action_ctx), that apply the routes to the
 * messages of one received batch in parallel.
 *
 * A side reads a batch, hands all of it to workers_route, and gets every
 * message's results back in the batch's order; it then spools them in one
 * transaction and only then acknowledges (the durability model does not
 * change: the workers only compute). Both sides may submit at once; a batch
 * is shared out job by job in arrival order, so one side's batch does not
 * wait for the other's to finish. */
#ifndef MSGSEC_BRIDGE_WORKERS_H
#define MSGSEC_BRIDGE_WORKERS_H

#include <stddef.h>

#include "bmsg.h"
#include "counters.h"
#include "msgsec.h"
#include "routes.h"

typedef struct workers workers;

/* One message to route. */
typedef struct route_job {
    const bmsg *in;     /* borrowed */
    const char *source; /* borrowed: MQTT topic or AMQP address it came from */
    bmsg **outs;        /* results, in route order (caller frees each with bmsg_free, the
                           array with free) */
    size_t n_outs;
    int matched;        /* routes that matched; -1: out of memory (outs may hold some) */
    size_t first;       /* workers_route_append: where its results start in the array */
} route_job;

/* Starts n (>= 1) worker threads counting into mt (borrowed, outlives them). */
msgsec_err workers_start(size_t n, bridge_metrics *mt, workers **out, msgsec_error *err);
/* Routes jobs[0..n) with table t (borrowed: the caller holds a reference)
 * from side; returns when every job is done. Thread-safe. */
void workers_route(workers *w, const route_table *t, bridge_side side, route_job *jobs, size_t n);
/* workers_route, then every job's results moved, in job order, to the end
 * of the growable array *outs (*n_outs used, *cap allocated): job i's are
 * (*outs)[jobs[i].first .. + jobs[i].n_outs) and jobs[i].outs is freed. A
 * job whose routing ran out of memory (or every job, when the array cannot
 * grow) keeps matched -1 and no results. */
void workers_route_append(workers *w, const route_table *t, bridge_side side, route_job *jobs,
                          size_t n, bmsg ***outs, size_t *n_outs, size_t *cap);
/* Joins the threads (no batch may be in progress) and frees. NULL-safe. */
void workers_stop(workers *w);

#endif

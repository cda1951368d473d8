/* routes.h - the routing table and route application (routes.c): which
 * routes a message matches, where their results go, and dead letters for
 * what an action rejected. */
#ifndef MSGSEC_BRIDGE_ROUTES_H
#define MSGSEC_BRIDGE_ROUTES_H

#include <stdatomic.h>
#include <stddef.h>

#include "actions.h"
#include "bmsg.h"
#include "counters.h"
#include "msgsec_config.h"

/* One configuration generation. Reference counted so a SIGHUP reload can
 * swap it while the sides and workers still use the old one. */
typedef struct route_table {
    atomic_int refs;
    msgsec_config *cfg;
    unsigned generation;
    action_shared *actions; /* the replay caches of this generation's workers */
} route_table;

/* A table holding one reference. cfg: takes ownership (also on failure).
 * NULL: out of memory. */
route_table *routes_table_new(msgsec_config *cfg, unsigned generation);
/* Drops a reference; the last one frees the table. NULL-safe. */
void routes_release(route_table *t);

/* Runs every route of t whose `from` matches (side, source) on m (borrowed),
 * with a worker's handles ax, and appends the results (forwarded, verified,
 * protected, unprotected, or dead letters) to *out (caller frees each with
 * bmsg_free and the array with free). Counts into mt. Returns the number of
 * routes that matched, or -1 with nothing appended when the message cannot be
 * handled now: out of memory, or a transient refusal (msgsec_error.transient:
 * the replay store is full). The caller must then not acknowledge it, and try
 * it again no sooner than RETRY_LATER_MS: it stays at its source (nothing is
 * lost, nothing is dead-lettered). */
int routes_apply(const route_table *t, action_ctx *ax, bridge_metrics *mt, bridge_side side,
                 const char *source, const bmsg *m, bmsg ***out, size_t *n_out);
#define RETRY_LATER_MS 10000
/* Splits "mqtt:X" / "amqp:X" into side and X (borrowed from spec). -1 if neither. */
int route_endpoint(const char *spec, bridge_side *side, const char **name);

#endif

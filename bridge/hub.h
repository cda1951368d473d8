/* hub.h - what the parts of msgsec-bridge share (hub.c): the current routing
 * table, the spool, the crypto workers, the counters, and the hand-off of
 * freshly spooled messages to the side that delivers them.
 *
 * The hub knows no side: each side registers a wake callback for the
 * messages bound to it when it starts and removes it when it stops, and
 * bridge_notify calls what is registered. The sides depend on the hub, never
 * the reverse (the model: qpid-proton's examples, where other threads hand
 * work to a connection's thread through pn_connection_wake). */
#ifndef MSGSEC_BRIDGE_HUB_H
#define MSGSEC_BRIDGE_HUB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "bmsg.h"
#include "counters.h"
#include "routes.h"
#include "spool.h"
#include "workers.h"

/* Called from any thread, with the hub's lock held: must only signal its
 * own thread (no call back into the hub). */
typedef void (*bridge_wake_fn)(void *ctx);

typedef struct bridge bridge;
struct bridge {
    pthread_mutex_t lock; /* guards table and wake */
    route_table *table;
    spool *spool;
    workers *workers;
    bridge_metrics metrics;
    atomic_int stopping;
    struct {
        bridge_wake_fn fn;
        void *ctx;
    } wake[2];            /* per destination side */
};

/* b: zeroed. table: takes ownership. */
void bridge_init(bridge *b, route_table *table);
/* Releases the table (the caller has stopped everything else). */
void bridge_destroy(bridge *b);

/* The current routing table, one reference (release with routes_release). */
route_table *bridge_routes(bridge *b);
/* Makes t (takes ownership) the current table and releases the old one. */
void bridge_swap_routes(bridge *b, route_table *t);

/* Registers (fn non-NULL) or removes (fn NULL) the wake callback of side.
 * Once removal returns, fn is not running and will not be called again. */
void bridge_set_wake(bridge *b, bridge_side side, bridge_wake_fn fn, void *ctx);
/* Wakes the side(s) that deliver msgs[0..n) (borrowed, just spooled). */
void bridge_notify(bridge *b, bmsg **msgs, size_t n);

#endif

/* hub.c - the routing table, wake-ups of the sides (see hub.h). */
#include "hub.h"

void bridge_init(bridge *b, route_table *table)
{
    pthread_mutex_init(&b->lock, NULL);
    b->table = table;
}

void bridge_destroy(bridge *b)
{
    routes_release(b->table);
    b->table = NULL;
    pthread_mutex_destroy(&b->lock);
}

route_table *bridge_routes(bridge *b)
{
    pthread_mutex_lock(&b->lock);
    route_table *t = b->table;
    atomic_fetch_add(&t->refs, 1);
    pthread_mutex_unlock(&b->lock);
    return t;
}

void bridge_swap_routes(bridge *b, route_table *t)
{
    pthread_mutex_lock(&b->lock);
    route_table *old = b->table;
    b->table = t;
    pthread_mutex_unlock(&b->lock);
    routes_release(old);
}

void bridge_set_wake(bridge *b, bridge_side side, bridge_wake_fn fn, void *ctx)
{
    pthread_mutex_lock(&b->lock);
    b->wake[side].fn = fn;
    b->wake[side].ctx = fn ? ctx : NULL;
    pthread_mutex_unlock(&b->lock);
}

void bridge_notify(bridge *b, bmsg **msgs, size_t n)
{
    int to[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        to[msgs[i]->dest_side] = 1;
    /* under the lock: a side removes its callback before it is freed */
    pthread_mutex_lock(&b->lock);
    for (int side = 0; side < 2; side++)
        if (to[side] && b->wake[side].fn)
            b->wake[side].fn(b->wake[side].ctx);
    pthread_mutex_unlock(&b->lock);
}

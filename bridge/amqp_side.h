/* amqp_side.h - the AMQP 1.0 side (amqp_side.c): one qpid-proton proactor
 * thread that consumes the `from: amqp:` routes and delivers the spooled
 * AMQP-bound messages. */
#ifndef MSGSEC_BRIDGE_AMQP_SIDE_H
#define MSGSEC_BRIDGE_AMQP_SIDE_H

#include "hub.h"
#include "msgsec.h"

typedef struct amqp_side amqp_side;

/* Connects (in the background, with retries) and registers its wake with
 * the hub. b: borrowed, outlives the side. */
msgsec_err amqp_side_start(bridge *b, amqp_side **out, msgsec_error *err);
/* The routes changed: re-attach the links. Thread-safe. */
void amqp_side_relink(amqp_side *a);
/* Stops consuming, waits up to timeout_ms for outstanding outcomes,
 * disconnects and frees. NULL-safe. */
void amqp_side_stop(amqp_side *a, int timeout_ms);

#endif

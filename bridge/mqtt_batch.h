/* mqtt_batch.h - the group commit of the MQTT receiving connection
 * (mqtt_batch.c): the PUBLISHes read in one go are routed by the crypto
 * workers, every result is spooled in ONE transaction with one fsync, and
 * only then are the acknowledgements written, in arrival order. No I/O: the
 * caller sends the acknowledgements this produces. */
#ifndef MSGSEC_BRIDGE_MQTT_BATCH_H
#define MSGSEC_BRIDGE_MQTT_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "hub.h"
#include "mqtt_packet.h"

/* A received PUBLISH waiting for the commit. */
typedef struct mqtt_batch_msg {
    bmsg *in;               /* the message as received (its topic names it in logs) */
    uint16_t packet_id;
    int qos;
    int matched;            /* routes matched; -1: routing ran out of memory */
    size_t first_out, n_out; /* its results in outs */
} mqtt_batch_msg;

typedef struct mqtt_batch {
    mqtt_batch_msg *msgs;
    size_t n_msgs, cap_msgs;
    bmsg **outs;
    size_t n_outs, cap_outs;
    route_job *jobs;
    size_t cap_jobs;
    size_t bytes;           /* payload bytes received */
    int held;               /* the last commit stopped at a message that could not be handled
                               now (routes_apply): retry no sooner than RETRY_LATER_MS */
} mqtt_batch;

/* Adds a decoded PUBLISH; takes ownership of pub->msg (freed on failure).
 * 0, or -1 when out of memory. */
int mqtt_batch_add(mqtt_batch *bt, const mqtt_publish *pub);

/* Waits a moment for room in the spool (when_full: block). Returns 0 to try
 * again, -1 to give up (stopping). */
typedef int (*mqtt_wait_room_fn)(void *ctx);

/* Routes and spools the batch, appends to acks the PUBACK (PUBREC for QoS
 * 2) of every message acknowledged, in arrival order, and empties the batch.
 * A message the spool refuses (or that is still waiting for room when
 * wait_room gives up), or whose routing failed, is not acknowledged, nor
 * anything after it: returns -1 then (the caller drops the connection and
 * the broker redelivers; bt->held says when it was a routing failure), else 0. when_full: reject drops what does not fit
 * (counted and logged: MQTT has no negative acknowledgement). */
int mqtt_batch_commit(mqtt_batch *bt, bridge *b, mqtt_obuf *acks, mqtt_wait_room_fn wait_room,
                      void *ctx);

/* Empties the batch (nothing acknowledged). */
void mqtt_batch_clear(mqtt_batch *bt);
void mqtt_batch_free(mqtt_batch *bt);

#endif

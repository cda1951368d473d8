/* counters.h - the bridge's counters, updated by every thread (atomics),
 * and the reject reasons they count. Exposed by metrics.c. */
#ifndef MSGSEC_BRIDGE_COUNTERS_H
#define MSGSEC_BRIDGE_COUNTERS_H

#include <stdatomic.h>

#define METRIC_MAX_ROUTES 64

/* Reject reasons (index into bridge_metrics.rejects). */
typedef enum {
    REJECT_VERIFY = 0, REJECT_UNPROTECT, REJECT_SENDER, REJECT_PROTECT, REJECT_SPOOL_FULL,
    REJECT_UNDELIVERABLE, REJECT_NO_ROUTE, REJECT_COUNT
} reject_reason;

/* "verify_failed", ...: the label of the metric and the start of a dead
 * letter's msgsec-reject-reason. */
static inline const char *reject_reason_name(reject_reason why)
{
    static const char *const names[REJECT_COUNT] = {
        "verify_failed", "unprotect_failed", "sender_not_allowed", "protect_failed",
        "spool_full", "undeliverable", "no_topic"};
    return names[why];
}

typedef struct bridge_metrics {
    atomic_ulong messages[METRIC_MAX_ROUTES];     /* per route index */
    atomic_ulong rejects[REJECT_COUNT];           /* per reject reason */
    atomic_ulong reconnects[2];                   /* per side (bridge_side) */
    atomic_ulong delivered[2];                    /* settled at the destination, per side */
    atomic_ulong held;                            /* left at the source for now (transient) */
    atomic_int connected[2];                      /* AMQP: 0/1; MQTT: MQTT_LINK_* bits */
} bridge_metrics;

/* The MQTT side has two connections: it is up when both are. */
#define MQTT_LINK_PUBLISH 1
#define MQTT_LINK_RECEIVE 2

#endif

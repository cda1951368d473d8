/* mqtt_ingress.h - the bridge's MQTT receiving connection (mqtt_ingress.c),
 * owned by the MQTT side: its own thread, its own MQTT 5 / 3.1.1 session,
 * group commit before PUBACK. */
#ifndef MSGSEC_BRIDGE_MQTT_INGRESS_H
#define MSGSEC_BRIDGE_MQTT_INGRESS_H

#include "hub.h"
#include "msgsec.h"
#include "msgsec_config.h"

typedef struct mqtt_ingress mqtt_ingress;

/* Starts the receive thread (connects in the background, with retries).
 * b: borrowed, outlives it; cfg and password: borrowed (copied). */
msgsec_err mqtt_ingress_start(bridge *b, const msgsec_config *cfg, const char *password,
                              mqtt_ingress **out, msgsec_error *err);
/* Subscriptions follow the current routing table. Thread-safe. */
void mqtt_ingress_resubscribe(mqtt_ingress *in);
/* Stops reading (what is not acknowledged is redelivered by the broker),
 * disconnects and frees. NULL-safe. */
void mqtt_ingress_stop(mqtt_ingress *in);

#endif

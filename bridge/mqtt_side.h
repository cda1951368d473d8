/* mqtt_side.h - the MQTT side (mqtt_side.c): the receiving connection
 * (mqtt_ingress.c) and the Paho publisher of the spooled MQTT-bound
 * messages. */
#ifndef MSGSEC_BRIDGE_MQTT_SIDE_H
#define MSGSEC_BRIDGE_MQTT_SIDE_H

#include "hub.h"
#include "msgsec.h"

typedef struct mqtt_side mqtt_side;

/* Connects both connections (in the background, with retries) and
 * registers its wake with the hub. b: borrowed, outlives the side. */
msgsec_err mqtt_side_start(bridge *b, mqtt_side **out, msgsec_error *err);
/* The routes changed: subscribe the new filters. Thread-safe. */
void mqtt_side_resubscribe(mqtt_side *m);
/* Stops consuming, waits up to timeout_ms for in-flight publishes,
 * disconnects and frees. NULL-safe. */
void mqtt_side_stop(mqtt_side *m, int timeout_ms);

#endif

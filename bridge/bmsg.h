/* bmsg.h - the protocol-neutral message passed between the two sides
 * (bmsg.c). Every message that crosses the bridge is a bmsg between its
 * decoding at the source side and its encoding at the destination side. */
#ifndef MSGSEC_BRIDGE_BMSG_H
#define MSGSEC_BRIDGE_BMSG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { SIDE_MQTT = 0, SIDE_AMQP = 1 } bridge_side;

typedef struct bmsg_prop {
    char *key, *value;
} bmsg_prop;

/* One message in flight through the bridge. All strings and buffers are
 * owned; free with bmsg_free. */
typedef struct bmsg {
    uint64_t id;           /* spool key; 0 until spooled */
    bridge_side dest_side; /* where it goes */
    char *dest;            /* MQTT topic or AMQP address */
    int qos;
    int route;             /* index of the route that produced it (metrics), -1 = none */
    char *subject;         /* original MQTT topic (AMQP subject) */
    char *content_type;
    uint8_t *correlation; size_t correlation_len;
    char *reply_to;
    char *bridge_id;       /* msgsec-bridge-id: stable id of this bridged message */
    int64_t ttl_ms;        /* 0 = none */
    bmsg_prop *props; size_t n_props;
    uint8_t *payload; size_t payload_len;
} bmsg;

/* The property name under which the bridge id travels (AMQP application
 * property, MQTT user property). */
#define BMSG_BRIDGE_ID_PROP "msgsec-bridge-id"

/* Wipes the payload (it may be plaintext) and frees. NULL-safe. */
void bmsg_free(bmsg *m);
/* Adds (copies) a key/value property. 0 ok, -1 out of memory. */
int bmsg_add_prop(bmsg *m, const char *key, const char *value);
const char *bmsg_get_prop(const bmsg *m, const char *key);
/* Copy of everything but the payload (NULL). Caller frees with bmsg_free. */
bmsg *bmsg_clone_meta(const bmsg *m);
/* Replaces the payload with a copy of data. 0 ok, -1 out of memory. */
int bmsg_set_payload(bmsg *m, const uint8_t *data, size_t len);

#endif

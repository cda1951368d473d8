/* mqtt_packet.h - MQTT 5 / 3.1.1 packet encoding and decoding for the
 * bridge's receiving connection (mqtt_ingress.c). No I/O and no state: the
 * decoders take one packet's bytes (from the broker: untrusted) and either
 * succeed or report it malformed; fuzzed by tests/fuzz/fuzz_mqtt_packet.c. */
#ifndef MSGSEC_BRIDGE_MQTT_PACKET_H
#define MSGSEC_BRIDGE_MQTT_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "bmsg.h"

enum { MQTT_CONNECT = 1, MQTT_CONNACK, MQTT_PUBLISH, MQTT_PUBACK, MQTT_PUBREC, MQTT_PUBREL,
       MQTT_PUBCOMP, MQTT_SUBSCRIBE, MQTT_SUBACK, MQTT_UNSUBSCRIBE, MQTT_UNSUBACK, MQTT_PINGREQ,
       MQTT_PINGRESP, MQTT_DISCONNECT };

/* ------------------------------------------------------------ encoding */

/* A growable output buffer; a failed allocation sets failed and stops it. */
typedef struct mqtt_obuf {
    uint8_t *p;
    size_t len, cap;
    int failed;
} mqtt_obuf;

void mqtt_put(mqtt_obuf *o, const void *data, size_t n);
void mqtt_put_u8(mqtt_obuf *o, unsigned v);
void mqtt_put_u16(mqtt_obuf *o, unsigned v);
void mqtt_put_u32(mqtt_obuf *o, uint32_t v);
void mqtt_put_varint(mqtt_obuf *o, size_t v);
/* A UTF-8 string with its 16-bit length (longer ones fail the buffer). */
void mqtt_put_str(mqtt_obuf *o, const char *s);
/* Appends body (borrowed) framed as one packet: fixed header, length, body. */
void mqtt_put_packet(mqtt_obuf *out, unsigned type_flags, const mqtt_obuf *body);
void mqtt_obuf_free(mqtt_obuf *o);

/* CONNECT with clean start off; version 4 (3.1.1) or 5 (session expiry and
 * receive maximum as properties). Strings borrowed; username/password NULL
 * when absent. */
void mqtt_put_connect(mqtt_obuf *out, int version, const char *client_id, const char *username,
                      const char *password, unsigned keepalive, uint32_t session_expiry,
                      unsigned receive_maximum);

/* ------------------------------------------------------------ decoding */

/* The first packet of buf[0..len): 1 with its header (fixed header and
 * length) and body sizes, 0 if more bytes are needed, -1 if malformed. */
int mqtt_frame(const uint8_t *buf, size_t len, size_t *header_len, size_t *body_len);

typedef struct mqtt_publish {
    bmsg *msg;          /* subject = topic; properties mapped (msgsec-bridge-id as bridge_id) */
    int qos;
    uint16_t packet_id; /* 0 for QoS 0 */
} mqtt_publish;

/* A PUBLISH body (flags: the low 4 bits of its first byte). 0: out->msg
 * (caller frees with bmsg_free); -1: malformed (empty topic, i.e. a topic
 * alias, QoS 3, NUL in a string, unknown property, truncation); -2: out of
 * memory. */
int mqtt_decode_publish(int version, unsigned flags, const uint8_t *body, size_t len,
                        mqtt_publish *out);

/* A CONNACK body. 0 with its fields (*server_keepalive untouched unless the
 * broker sets one), -1 if malformed. */
int mqtt_decode_connack(int version, const uint8_t *body, size_t len, int *session_present,
                        int *reason, int *server_keepalive);

/* A SUBACK / UNSUBACK body: how many results and how many refusals (reason
 * >= 0x80; a 3.1.1 UNSUBACK has none). 0, or -1 if malformed. */
int mqtt_decode_suback(int version, const uint8_t *body, size_t len, size_t *n, size_t *refused);

#endif

/* amqp_codec.h - AMQP 1.0 message <-> bmsg (amqp_codec.c), the AMQP twin of
 * mqtt_packet.h: no I/O and no state beyond the pn_message_t it is given;
 * the decoder takes a delivery's bytes from the broker (untrusted). Unit
 * tested by tests/unit/bridge/test_amqp_codec.c.
 *
 * Mapping (bridge/README.md): subject = the original MQTT topic;
 * content-type; reply-to; correlation-id (binary, string, ulong, long, uuid
 * read as bytes / text); ttl (ms); application properties <-> properties
 * (scalar values as text; msgsec-bridge-id becomes the bridge id); body:
 * data/binary or string in, one data section out; durable out. */
#ifndef MSGSEC_BRIDGE_AMQP_CODEC_H
#define MSGSEC_BRIDGE_AMQP_CODEC_H

#include <proton/message.h>
#include <stddef.h>

#include "bmsg.h"

/* Decodes an encoded AMQP message data[0..len) into a new bmsg (caller frees
 * with bmsg_free; qos and destination unset). scratch: borrowed, reused
 * between calls, holds the message afterwards. NULL: undecodable, a body
 * that is neither binary nor a string, or out of memory. */
bmsg *amqp_decode(pn_message_t *scratch, const char *data, size_t len);

/* The same from an already decoded message pm (borrowed). */
bmsg *amqp_from_message(pn_message_t *pm);

/* Clears pm and fills it with m (borrowed; pm borrows nothing from m
 * afterwards: proton copies). */
void amqp_encode(const bmsg *m, pn_message_t *pm);

#endif

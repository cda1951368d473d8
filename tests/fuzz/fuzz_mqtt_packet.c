/* fuzz_mqtt_packet.c - fuzzing of the bridge's MQTT decoders
 * (bridge/mqtt_packet.c): the bytes a broker, or anyone on an unencrypted
 * connection, sends to the bridge's receiving connection.
 *
 * Input: the first byte picks the protocol version (odd = MQTT 5, even =
 * 3.1.1), the rest is a stream of packets, framed and decoded like
 * mqtt_ingress.c does.
 *  - with -DMSGSEC_LIBFUZZER (cmake -DMSGSEC_FUZZ=ON, clang): a libFuzzer
 *    target, `fuzz_mqtt_packet [CORPUS_DIR]`;
 *  - otherwise: `fuzz_mqtt_packet_smoke` for ctest: well-formed packets,
 *    then 200,000 seeded random mutations of them, each decoded (run under
 *    ASan+UBSan in CI). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt_packet.h"

/* Decodes every packet of the stream; returns how many PUBLISH decoded. */
static int decode_stream(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int version = data[0] & 1 ? 5 : 4, published = 0;
    data++;
    size--;
    size_t header_len, body_len;
    while (size > 0 && mqtt_frame(data, size, &header_len, &body_len) == 1) {
        const uint8_t *body = data + header_len;
        int sp, reason, keepalive = 0;
        size_t n, refused;
        mqtt_publish p;
        switch (data[0] >> 4) {
        case MQTT_PUBLISH:
            if (mqtt_decode_publish(version, data[0] & 0xf, body, body_len, &p) == 0) {
                published++;
                bmsg_free(p.msg);
            }
            break;
        case MQTT_CONNACK:
            mqtt_decode_connack(version, body, body_len, &sp, &reason, &keepalive);
            break;
        case MQTT_SUBACK:
        case MQTT_UNSUBACK:
            mqtt_decode_suback(version, body, body_len, &n, &refused);
            break;
        default:
            break;
        }
        data += header_len + body_len;
        size -= header_len + body_len;
    }
    return published;
}

#ifdef MSGSEC_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    decode_stream(data, size);
    return 0;
}
#else
/* An MQTT 5 stream: CONNACK with properties, a PUBLISH with every mapped
 * property, a 3-result SUBACK. */
static mqtt_obuf seed_stream(void)
{
    mqtt_obuf s = {0}, body = {0}, props = {0};
    mqtt_put_u8(&s, 5);
    const uint8_t connack[] = {0x01, 0x00, 3, 0x13, 0x00, 0x3c};
    mqtt_put(&body, connack, sizeof connack);
    mqtt_put_packet(&s, MQTT_CONNACK << 4, &body);
    mqtt_obuf_free(&body);
    mqtt_put_u8(&props, 0x03);
    mqtt_put_str(&props, "text/plain");
    mqtt_put_u8(&props, 0x09);
    mqtt_put_str(&props, "corr");
    mqtt_put_u8(&props, 0x08);
    mqtt_put_str(&props, "reply/to");
    mqtt_put_u8(&props, 0x02);
    mqtt_put_u32(&props, 30);
    mqtt_put_u8(&props, 0x26);
    mqtt_put_str(&props, "k");
    mqtt_put_str(&props, "v");
    mqtt_put_str(&body, "orders/1");
    mqtt_put_u16(&body, 9);
    mqtt_put_varint(&body, props.len);
    mqtt_put(&body, props.p, props.len);
    mqtt_put(&body, "payload", 7);
    mqtt_put_packet(&s, MQTT_PUBLISH << 4 | 0x2, &body);
    mqtt_obuf_free(&body);
    mqtt_obuf_free(&props);
    const uint8_t suback[] = {0x00, 0x01, 0, 0x01, 0x80, 0x00};
    mqtt_put(&body, suback, sizeof suback);
    mqtt_put_packet(&s, MQTT_SUBACK << 4, &body);
    mqtt_obuf_free(&body);
    return s;
}

int main(void)
{
    mqtt_obuf seed = seed_stream();
    if (seed.failed || decode_stream(seed.p, seed.len) != 1) {
        fprintf(stderr, "fuzz_mqtt_packet: the seed stream does not decode\n");
        return 1;
    }
    uint8_t *buf = malloc(seed.len + 64);
    srand(20261126);
    for (int i = 0; i < 200000; i++) {
        size_t len = seed.len;
        memcpy(buf, seed.p, len);
        for (int k = rand() % 8 + 1; k > 0; k--) {
            size_t at = (size_t)rand() % len;
            switch (rand() % 4) {
            case 0: buf[at] ^= (uint8_t)(1u << (rand() % 8)); break;
            case 1: buf[at] = (uint8_t)rand(); break;
            case 2: len = at + 1; break; /* truncate */
            default: /* duplicate a byte (shifts what follows) */
                if (len < seed.len + 64) {
                    memmove(buf + at + 1, buf + at, len - at);
                    len++;
                }
                break;
            }
        }
        decode_stream(buf, len);
    }
    free(buf);
    mqtt_obuf_free(&seed);
    printf("fuzz_mqtt_packet: 200000 mutated streams decoded\n");
    return 0;
}
#endif

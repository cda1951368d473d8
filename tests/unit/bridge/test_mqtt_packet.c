/* Unit tests of the bridge's MQTT codec (bridge/mqtt_packet.c): framing,
 * PUBLISH decoding for MQTT 5 (every mapped property) and 3.1.1, CONNECT
 * encoding, CONNACK / SUBACK decoding, and each malformed case refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mqtt_packet.h"

/* The body of a PUBLISH to topic with packet id 7 (QoS > 0), properties
 * props (MQTT 5; NULL = none) and payload "hello". */
static mqtt_obuf publish_body(int version, int qos, const char *topic, const mqtt_obuf *props)
{
    mqtt_obuf b = {0};
    mqtt_put_str(&b, topic);
    if (qos)
        mqtt_put_u16(&b, 7);
    if (version == 5) {
        mqtt_put_varint(&b, props ? props->len : 0);
        if (props)
            mqtt_put(&b, props->p, props->len);
    }
    mqtt_put(&b, "hello", 5);
    return b;
}

static void put_user(mqtt_obuf *o, const char *k, const char *v)
{
    mqtt_put_u8(o, 0x26);
    mqtt_put_str(o, k);
    mqtt_put_str(o, v);
}

static int decode(int version, unsigned flags, const mqtt_obuf *body, mqtt_publish *out)
{
    return mqtt_decode_publish(version, flags, body->p, body->len, out);
}

static void test_publish_v5_properties(void **state)
{
    (void)state;
    mqtt_obuf props = {0};
    mqtt_put_u8(&props, 0x03);
    mqtt_put_str(&props, "application/soap+xml");
    mqtt_put_u8(&props, 0x09);
    mqtt_put_u16(&props, 3);
    mqtt_put(&props, "\x00\x01\x02", 3); /* binary: NUL allowed */
    mqtt_put_u8(&props, 0x08);
    mqtt_put_str(&props, "replies/1");
    mqtt_put_u8(&props, 0x02);
    mqtt_put_u32(&props, 60);
    mqtt_put_u8(&props, 0x0B); /* subscription identifier: skipped */
    mqtt_put_varint(&props, 300);
    mqtt_put_u8(&props, 0x01); /* payload format: skipped */
    mqtt_put_u8(&props, 1);
    put_user(&props, "tenant", "a");
    put_user(&props, "msgsec-bridge-id", "b-42");
    mqtt_obuf body = publish_body(5, 1, "orders/1", &props);
    mqtt_publish p;
    assert_int_equal(decode(5, 0x2, &body, &p), 0);
    assert_int_equal(p.qos, 1);
    assert_int_equal(p.packet_id, 7);
    assert_string_equal(p.msg->subject, "orders/1");
    assert_string_equal(p.msg->content_type, "application/soap+xml");
    assert_int_equal(p.msg->correlation_len, 3);
    assert_memory_equal(p.msg->correlation, "\x00\x01\x02", 3);
    assert_string_equal(p.msg->reply_to, "replies/1");
    assert_int_equal(p.msg->ttl_ms, 60000);
    assert_string_equal(p.msg->bridge_id, "b-42");
    assert_int_equal(p.msg->n_props, 1);
    assert_string_equal(bmsg_get_prop(p.msg, "tenant"), "a");
    assert_int_equal(p.msg->payload_len, 5);
    assert_memory_equal(p.msg->payload, "hello", 5);
    bmsg_free(p.msg);
    mqtt_obuf_free(&body);
    mqtt_obuf_free(&props);
}

static void test_publish_v311(void **state)
{
    (void)state;
    mqtt_obuf body = publish_body(4, 0, "a/b", NULL);
    mqtt_publish p;
    assert_int_equal(decode(4, 0x0, &body, &p), 0);
    assert_int_equal(p.qos, 0);
    assert_int_equal(p.packet_id, 0);
    assert_string_equal(p.msg->subject, "a/b");
    assert_int_equal(p.msg->payload_len, 5);
    bmsg_free(p.msg);
    mqtt_obuf_free(&body);
}

static void expect_malformed(int version, unsigned flags, const mqtt_obuf *body)
{
    mqtt_publish p;
    assert_int_equal(decode(version, flags, body, &p), -1);
    assert_null(p.msg);
}

static void test_publish_malformed(void **state)
{
    (void)state;
    mqtt_obuf ok = publish_body(5, 1, "t", NULL), b;
    expect_malformed(5, 0x6, &ok); /* QoS 3 */
    for (size_t cut = 0; cut < 4; cut++) { /* truncated topic / packet id / properties */
        mqtt_obuf t = {ok.p, cut, ok.cap, 0};
        expect_malformed(5, 0x2, &t);
    }
    b = publish_body(5, 1, "", NULL); /* empty topic = topic alias */
    expect_malformed(5, 0x2, &b);
    mqtt_obuf_free(&b);
    b = publish_body(5, 0, "x", NULL);
    b.p[2] = 0; /* NUL inside the topic */
    expect_malformed(5, 0x0, &b);
    mqtt_obuf_free(&b);
    mqtt_obuf zero_id = {0};
    mqtt_put_str(&zero_id, "t");
    mqtt_put_u16(&zero_id, 0);
    mqtt_put_u8(&zero_id, 0);
    expect_malformed(5, 0x2, &zero_id); /* QoS 1 with packet id 0 */
    mqtt_obuf_free(&zero_id);
    mqtt_obuf props = {0};
    mqtt_put_u8(&props, 0x7f); /* unknown property */
    b = publish_body(5, 0, "t", &props);
    expect_malformed(5, 0x0, &b);
    mqtt_obuf_free(&b);
    mqtt_obuf_free(&props);
    mqtt_put_u8(&props, 0x03); /* content type longer than the property block */
    mqtt_put_u16(&props, 40);
    mqtt_put(&props, "ab", 2);
    b = publish_body(5, 0, "t", &props);
    expect_malformed(5, 0x0, &b);
    mqtt_obuf_free(&b);
    mqtt_obuf_free(&props);
    mqtt_obuf big = {0}; /* property length beyond the packet */
    mqtt_put_str(&big, "t");
    mqtt_put_varint(&big, 1000);
    expect_malformed(5, 0x0, &big);
    mqtt_obuf_free(&big);
    mqtt_obuf_free(&ok);
}

static void test_frame(void **state)
{
    (void)state;
    size_t h = 0, b = 0;
    const uint8_t need_more[] = {0x30};
    assert_int_equal(mqtt_frame(need_more, sizeof need_more, &h, &b), 0);
    const uint8_t partial_len[] = {0x30, 0x80, 0x80};
    assert_int_equal(mqtt_frame(partial_len, sizeof partial_len, &h, &b), 0);
    const uint8_t five[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(mqtt_frame(five, sizeof five, &h, &b), -1);
    const uint8_t body_short[] = {0x30, 0x82, 0x01, 0, 0}; /* 130-byte body, 2 present */
    assert_int_equal(mqtt_frame(body_short, sizeof body_short, &h, &b), 0);
    assert_int_equal(h, 3);
    assert_int_equal(b, 130);
    const uint8_t two[] = {0xd0, 0x00, 0x40, 0x02, 0x00, 0x07};
    assert_int_equal(mqtt_frame(two, sizeof two, &h, &b), 1);
    assert_int_equal(h, 2);
    assert_int_equal(b, 0);
}

static void test_connect(void **state)
{
    (void)state;
    mqtt_obuf o = {0};
    mqtt_put_connect(&o, 5, "cid", "user", "pw", 20, 86400, 1000);
    const uint8_t want[] = {0x10, 34, 0, 4, 'M', 'Q', 'T', 'T', 5, 0xc0, 0, 20,
                            8, 0x11, 0, 1, 0x51, 0x80, 0x21, 0x03, 0xe8,
                            0, 3, 'c', 'i', 'd', 0, 4, 'u', 's', 'e', 'r', 0, 2, 'p', 'w'};
    assert_int_equal(o.len, sizeof want);
    assert_memory_equal(o.p, want, sizeof want);
    mqtt_obuf_free(&o);
    mqtt_put_connect(&o, 4, "cid", NULL, NULL, 20, 86400, 1000);
    const uint8_t want4[] = {0x10, 15, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 20, 0, 3, 'c', 'i', 'd'};
    assert_int_equal(o.len, sizeof want4);
    assert_memory_equal(o.p, want4, sizeof want4);
    mqtt_obuf_free(&o);
}

static void test_connack_suback(void **state)
{
    (void)state;
    int sp = -1, reason = -1, keepalive = 20;
    const uint8_t v5[] = {0x01, 0x00, 6, 0x13, 0x00, 0x3c, 0x21, 0x00, 0x14};
    assert_int_equal(mqtt_decode_connack(5, v5, sizeof v5, &sp, &reason, &keepalive), 0);
    assert_int_equal(sp, 1);
    assert_int_equal(reason, 0);
    assert_int_equal(keepalive, 60);
    const uint8_t refused[] = {0x00, 0x87, 0};
    assert_int_equal(mqtt_decode_connack(5, refused, sizeof refused, &sp, &reason, &keepalive), 0);
    assert_int_equal(reason, 0x87);
    const uint8_t bad_prop[] = {0x00, 0x00, 2, 0x7f, 0x00};
    assert_int_equal(mqtt_decode_connack(5, bad_prop, sizeof bad_prop, &sp, &reason, &keepalive), -1);
    assert_int_equal(mqtt_decode_connack(4, refused, 1, &sp, &reason, &keepalive), -1);
    size_t n = 0, nref = 0;
    const uint8_t suback[] = {0x00, 0x01, 0, 0x01, 0x80, 0x00};
    assert_int_equal(mqtt_decode_suback(5, suback, sizeof suback, &n, &nref), 0);
    assert_int_equal(n, 3);
    assert_int_equal(nref, 1);
    const uint8_t suback4[] = {0x00, 0x01, 0x01};
    assert_int_equal(mqtt_decode_suback(4, suback4, sizeof suback4, &n, &nref), 0);
    assert_int_equal(n, 1);
    assert_int_equal(mqtt_decode_suback(5, suback, 1, &n, &nref), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_v5_properties),
        cmocka_unit_test(test_publish_v311),
        cmocka_unit_test(test_publish_malformed),
        cmocka_unit_test(test_frame),
        cmocka_unit_test(test_connect),
        cmocka_unit_test(test_connack_suback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Unit tests of the bridge's AMQP message codec (bridge/amqp_codec.c): the
 * bmsg -> AMQP -> bmsg round trip of every mapped field, the body kinds and
 * property value types accepted from the broker, and each refused input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <proton/codec.h>
#include <proton/message.h>

#include "amqp_codec.h"

/* The wire bytes of pm (what a broker would deliver); caller frees. */
static char *encode_wire(pn_message_t *pm, size_t *len)
{
    size_t cap = 1 << 16;
    char *buf = malloc(cap);
    assert_non_null(buf);
    *len = cap;
    assert_int_equal(pn_message_encode(pm, buf, len), 0);
    return buf;
}

/* Decodes pm's wire bytes with the codec. */
static bmsg *through_wire(pn_message_t *pm)
{
    size_t len;
    char *wire = encode_wire(pm, &len);
    pn_message_t *scratch = pn_message();
    bmsg *m = amqp_decode(scratch, wire, len);
    pn_message_free(scratch);
    free(wire);
    return m;
}

static pn_message_t *with_binary_body(const char *body, size_t len)
{
    pn_message_t *pm = pn_message();
    pn_data_put_binary(pn_message_body(pm), pn_bytes(len, body));
    return pm;
}

static void test_round_trip(void **state)
{
    (void)state;
    bmsg *m = calloc(1, sizeof *m);
    assert_non_null(m);
    assert_int_equal(bmsg_set_payload(m, (const uint8_t *)"bin\0ary", 7), 0);
    m->subject = strdup("orders/new");
    m->content_type = strdup("application/soap+xml");
    m->reply_to = strdup("replies/1");
    m->correlation = malloc(3);
    memcpy(m->correlation, "c\0d", 3);
    m->correlation_len = 3;
    m->bridge_id = strdup("urn:uuid:00000000-0000-4000-8000-000000000001");
    m->ttl_ms = 42000;
    assert_int_equal(bmsg_add_prop(m, "k1", "v1"), 0);
    assert_int_equal(bmsg_add_prop(m, "msgsec-identity", "CN=shop1"), 0);

    pn_message_t *pm = pn_message();
    amqp_encode(m, pm);
    /* what goes to the broker: durable, message-id = bridge id, data section */
    assert_true(pn_message_is_durable(pm));
    pn_msgid_t id = pn_message_get_id(pm);
    assert_int_equal(id.type, PN_STRING);
    assert_int_equal(id.u.as_bytes.size, strlen(m->bridge_id));
    assert_memory_equal(id.u.as_bytes.start, m->bridge_id, id.u.as_bytes.size);
    assert_int_equal(pn_message_get_ttl(pm), 42000);

    bmsg *back = through_wire(pm);
    assert_non_null(back);
    assert_int_equal(back->payload_len, 7);
    assert_memory_equal(back->payload, "bin\0ary", 7);
    assert_string_equal(back->subject, "orders/new");
    assert_string_equal(back->content_type, "application/soap+xml");
    assert_string_equal(back->reply_to, "replies/1");
    assert_int_equal(back->correlation_len, 3);
    assert_memory_equal(back->correlation, "c\0d", 3);
    assert_string_equal(back->bridge_id, m->bridge_id);
    assert_int_equal(back->ttl_ms, 42000);
    /* the bridge id travels as a property too, but comes back as the id only */
    assert_int_equal(back->n_props, 2);
    assert_string_equal(bmsg_get_prop(back, "k1"), "v1");
    assert_string_equal(bmsg_get_prop(back, "msgsec-identity"), "CN=shop1");
    assert_null(bmsg_get_prop(back, BMSG_BRIDGE_ID_PROP));
    bmsg_free(back);

    /* encoding clears what a previous message left in pm */
    bmsg *bare = calloc(1, sizeof *bare);
    assert_int_equal(bmsg_set_payload(bare, (const uint8_t *)"x", 1), 0);
    amqp_encode(bare, pm);
    assert_null(pn_message_get_subject(pm));
    assert_int_equal(pn_message_get_ttl(pm), 0);
    assert_int_equal(pn_message_get_id(pm).type, PN_NULL);
    back = through_wire(pm);
    assert_non_null(back);
    assert_null(back->subject);
    assert_null(back->content_type);
    assert_null(back->correlation);
    assert_null(back->bridge_id);
    assert_int_equal(back->n_props, 0);
    assert_int_equal(back->ttl_ms, 0);
    bmsg_free(back);
    bmsg_free(bare);
    pn_message_free(pm);
    bmsg_free(m);
}

/* An AMQP string body (amqp-value) is taken as the payload bytes. */
static void test_string_body(void **state)
{
    (void)state;
    pn_message_t *pm = pn_message();
    pn_data_put_string(pn_message_body(pm), pn_bytes(5, "hello"));
    bmsg *m = through_wire(pm);
    assert_non_null(m);
    assert_int_equal(m->payload_len, 5);
    assert_memory_equal(m->payload, "hello", 5);
    bmsg_free(m);
    pn_message_free(pm);
}

/* Bodies that are neither binary nor a string are refused. */
static void test_refused_bodies(void **state)
{
    (void)state;
    pn_message_t *pm = pn_message();
    pn_data_put_int(pn_message_body(pm), 7);
    assert_null(through_wire(pm));
    pn_message_clear(pm);
    pn_data_t *body = pn_message_body(pm);
    pn_data_put_list(body);
    pn_data_enter(body);
    pn_data_put_binary(body, pn_bytes(1, "x"));
    pn_data_exit(body);
    assert_null(through_wire(pm));
    pn_message_clear(pm); /* no body at all */
    pn_message_set_subject(pm, "t");
    assert_null(through_wire(pm));
    pn_message_free(pm);
}

/* Application property values of scalar types arrive as text; non-scalar
 * values and non-text keys are skipped. */
static void test_property_types(void **state)
{
    (void)state;
    pn_message_t *pm = with_binary_body("p", 1);
    pn_data_t *props = pn_message_properties(pm);
    pn_data_put_map(props);
    pn_data_enter(props);
    pn_data_put_string(props, pn_bytes(1, "b"));
    pn_data_put_bool(props, true);
    pn_data_put_string(props, pn_bytes(1, "i"));
    pn_data_put_int(props, -5);
    pn_data_put_string(props, pn_bytes(1, "u"));
    pn_data_put_uint(props, 5);
    pn_data_put_string(props, pn_bytes(1, "l"));
    pn_data_put_long(props, -1234567890123LL);
    pn_data_put_string(props, pn_bytes(2, "ul"));
    pn_data_put_ulong(props, 18446744073709551615ULL);
    pn_data_put_string(props, pn_bytes(1, "d"));
    pn_data_put_double(props, 1.5);
    pn_data_put_string(props, pn_bytes(3, "sym"));
    pn_data_put_symbol(props, pn_bytes(3, "abc"));
    pn_data_put_string(props, pn_bytes(4, "list"));
    pn_data_put_list(props);
    pn_data_enter(props);
    pn_data_put_int(props, 1);
    pn_data_exit(props);
    pn_data_put_string(props, pn_bytes(5, "after"));
    pn_data_put_string(props, pn_bytes(2, "ok"));
    pn_data_exit(props);
    bmsg *m = through_wire(pm);
    assert_non_null(m);
    assert_string_equal(bmsg_get_prop(m, "b"), "true");
    assert_string_equal(bmsg_get_prop(m, "i"), "-5");
    assert_string_equal(bmsg_get_prop(m, "u"), "5");
    assert_string_equal(bmsg_get_prop(m, "l"), "-1234567890123");
    assert_string_equal(bmsg_get_prop(m, "ul"), "18446744073709551615");
    assert_string_equal(bmsg_get_prop(m, "d"), "1.5");
    assert_string_equal(bmsg_get_prop(m, "sym"), "abc");
    assert_null(bmsg_get_prop(m, "list"));
    assert_string_equal(bmsg_get_prop(m, "after"), "ok"); /* the list did not shift the pairs */
    assert_int_equal(m->n_props, 8);
    bmsg_free(m);
    pn_message_free(pm);
}

/* Correlation ids of every AMQP id type become bytes (numbers and UUIDs as text). */
static void test_correlation_types(void **state)
{
    (void)state;
    pn_message_t *pm = with_binary_body("p", 1);
    pn_atom_t ul = {.type = PN_ULONG, .u.as_ulong = 123};
    pn_message_set_correlation_id(pm, ul);
    bmsg *m = through_wire(pm);
    assert_non_null(m);
    assert_int_equal(m->correlation_len, 3);
    assert_memory_equal(m->correlation, "123", 3);
    bmsg_free(m);

    pn_atom_t uuid = {.type = PN_UUID};
    for (int i = 0; i < 16; i++)
        uuid.u.as_uuid.bytes[i] = (char)(0xf0 + i % 16);
    pn_message_set_correlation_id(pm, uuid);
    m = through_wire(pm);
    assert_non_null(m);
    assert_int_equal(m->correlation_len, 36);
    assert_memory_equal(m->correlation, "f0f1f2f3-f4f5-f6f7-f8f9-fafbfcfdfeff", 36);
    bmsg_free(m);

    pn_atom_t s = {.type = PN_STRING};
    s.u.as_bytes = pn_bytes(4, "corr");
    pn_message_set_correlation_id(pm, s);
    m = through_wire(pm);
    assert_non_null(m);
    assert_int_equal(m->correlation_len, 4);
    assert_memory_equal(m->correlation, "corr", 4);
    bmsg_free(m);
    pn_message_free(pm);
}

/* Bytes that are not an AMQP message, or are cut short, are refused. */
static void test_garbage(void **state)
{
    (void)state;
    pn_message_t *scratch = pn_message();
    assert_null(amqp_decode(scratch, "\x00\x53\x75\xa0", 4)); /* data section cut short */
    assert_null(amqp_decode(scratch, "not amqp at all", 15));
    assert_null(amqp_decode(scratch, "", 0));
    pn_message_t *pm = with_binary_body("payload", 7);
    size_t len;
    char *wire = encode_wire(pm, &len);
    for (size_t cut = 1; cut < len; cut++) {
        bmsg *m = amqp_decode(scratch, wire, cut);
        /* a prefix may happen to be a complete message: then a correct one */
        if (m)
            assert_true(m->payload_len <= 7);
        bmsg_free(m);
    }
    free(wire);
    pn_message_free(pm);
    pn_message_free(scratch);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_string_body),
        cmocka_unit_test(test_refused_bodies),
        cmocka_unit_test(test_property_types),
        cmocka_unit_test(test_correlation_types),
        cmocka_unit_test(test_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

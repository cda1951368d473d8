/* Unit tests of the bridge spool (bridge/spool.c): durable order per side,
 * full round trip of every field, bounds (full / too big / reject mode),
 * deletion, and persistence across a reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "spool.h"

static char dir[256];

static int make_dir(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/msgsec-spool-test.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static bmsg *make(bridge_side side, const char *dest, const char *payload)
{
    bmsg *m = calloc(1, sizeof *m);
    m->dest_side = side;
    m->dest = strdup(dest);
    m->qos = 1;
    m->route = 3;
    assert_int_equal(bmsg_set_payload(m, (const uint8_t *)payload, strlen(payload)), 0);
    return m;
}

static void test_round_trip(void **state)
{
    (void)state;
    spool *s;
    msgsec_error err;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/round-trip", dir);
    assert_int_equal(spool_open(sub, 10, 1 << 20, 0, &s, &err), MSGSEC_OK);
    bmsg *m = make(SIDE_AMQP, "/amq/queue/q", "");
    assert_int_equal(bmsg_set_payload(m, (const uint8_t *)"bin\0ary", 7), 0); /* NUL kept */
    m->subject = strdup("a/b");
    m->content_type = strdup("application/soap+xml");
    m->correlation = (uint8_t *)strdup("\x01\x02");
    m->correlation_len = 2;
    m->reply_to = strdup("replies");
    m->bridge_id = strdup("urn:uuid:x");
    m->ttl_ms = 5000000000LL;
    assert_int_equal(bmsg_add_prop(m, "k", "v"), 0);
    assert_int_equal(spool_put(s, &m, 1, 0, &err), MSGSEC_OK);
    assert_true(m->id > 0);
    bmsg *out[4];
    assert_int_equal(spool_next(s, SIDE_MQTT, 0, out, 4), 0); /* other side: nothing */
    assert_int_equal(spool_next(s, SIDE_AMQP, 0, out, 4), 1);
    assert_int_equal(out[0]->id, m->id);
    assert_string_equal(out[0]->dest, "/amq/queue/q");
    assert_int_equal(out[0]->payload_len, 7);
    assert_memory_equal(out[0]->payload, "bin\0ary", 7);
    assert_string_equal(out[0]->subject, "a/b");
    assert_string_equal(out[0]->content_type, "application/soap+xml");
    assert_int_equal(out[0]->correlation_len, 2);
    assert_memory_equal(out[0]->correlation, "\x01\x02", 2);
    assert_string_equal(out[0]->reply_to, "replies");
    assert_string_equal(out[0]->bridge_id, "urn:uuid:x");
    assert_true(out[0]->ttl_ms == 5000000000LL);
    assert_int_equal(out[0]->route, 3);
    assert_string_equal(bmsg_get_prop(out[0], "k"), "v");
    bmsg_free(out[0]);
    spool_del(s, SIDE_AMQP, &m->id, 1);
    assert_int_equal(spool_depth(s), 0);
    assert_int_equal(spool_next(s, SIDE_AMQP, 0, out, 4), 0);
    bmsg_free(m);
    spool_close(s);
}

static void test_order_bounds_and_reopen(void **state)
{
    (void)state;
    spool *s;
    msgsec_error err;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/bounds", dir);
    assert_int_equal(spool_open(sub, 3, 1 << 20, 0, &s, &err), MSGSEC_OK);
    bmsg *a[3] = {make(SIDE_MQTT, "t/1", "one"), make(SIDE_AMQP, "q", "two"),
                  make(SIDE_MQTT, "t/3", "three")};
    assert_int_equal(spool_put(s, a, 3, 0, &err), MSGSEC_OK);
    assert_true(a[0]->id < a[1]->id && a[1]->id < a[2]->id);
    assert_false(spool_has_room(s));
    /* full: one more does not fit now; a batch beyond the bound is "full",
       a single message beyond it can never fit */
    bmsg *more = make(SIDE_MQTT, "t/4", "four");
    assert_int_equal(spool_put(s, &more, 1, 0, &err), SPOOL_FULL);
    assert_non_null(strstr(err.detail, "full"));
    bmsg *big = make(SIDE_MQTT, "t/5", "five");
    big->payload_len = 2 << 20;
    big->payload = realloc(big->payload, big->payload_len);
    memset(big->payload, 'x', big->payload_len);
    assert_int_equal(spool_put(s, &big, 1, 0, &err), SPOOL_TOO_BIG);
    bmsg_free(big);
    spool_close(s);

    /* everything survives a reopen, in order; ids keep growing */
    assert_int_equal(spool_open(sub, 3, 1 << 20, 0, &s, &err), MSGSEC_OK);
    assert_int_equal(spool_depth(s), 3);
    bmsg *out[4];
    assert_int_equal(spool_next(s, SIDE_MQTT, 0, out, 4), 2);
    assert_string_equal(out[0]->dest, "t/1");
    assert_string_equal(out[1]->dest, "t/3");
    assert_int_equal(spool_next(s, SIDE_MQTT, out[0]->id, out + 2, 2), 1); /* cursor */
    assert_int_equal(out[2]->id, out[1]->id);
    for (int i = 0; i < 3; i++)
        bmsg_free(out[i]);
    uint64_t twice[2] = {a[0]->id, a[0]->id}; /* the second: no effect */
    spool_del(s, SIDE_MQTT, twice, 2);
    assert_int_equal(spool_depth(s), 2);
    assert_int_equal(spool_put(s, &more, 1, 0, &err), MSGSEC_OK);
    assert_true(more->id > a[2]->id);
    spool_close(s);
    for (int i = 0; i < 3; i++)
        bmsg_free(a[i]);
    bmsg_free(more);
}

static void test_reject_mode(void **state)
{
    (void)state;
    spool *s;
    msgsec_error err;
    char sub[300];
    snprintf(sub, sizeof sub, "%s/reject", dir);
    assert_int_equal(spool_open(sub, 1, 1 << 20, 1, &s, &err), MSGSEC_OK);
    assert_true(spool_rejects_when_full(s));
    bmsg *m1 = make(SIDE_MQTT, "t", "1"), *m2 = make(SIDE_MQTT, "t", "2");
    assert_int_equal(spool_put(s, &m1, 1, 1, &err), MSGSEC_OK);
    /* may_wait is ignored in reject mode: no blocking */
    assert_int_equal(spool_put(s, &m2, 1, 1, &err), SPOOL_FULL);
    spool_shutdown(s);
    spool_close(s);
    bmsg_free(m1);
    bmsg_free(m2);
}

static void test_bad_path(void **state)
{
    (void)state;
    spool *s;
    msgsec_error err;
    assert_int_equal(spool_open("/proc/no-such/spool", 1, 1, 0, &s, &err), MSGSEC_E_USAGE);
    assert_null(s);
    assert_non_null(strstr(err.detail, "cannot create"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_order_bounds_and_reopen),
        cmocka_unit_test(test_reject_mode),
        cmocka_unit_test(test_bad_path),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}

/* test_kerberos.c - the pure parts of the windows credential: the
 * ticket-lifetime rule and the key derivation (the KDC round trip is
 * tests/integration/credentials/kerberos_test.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "kerberos.h"

#define T0 1700000000 /* Created */

static void expect_rule(time_t created, time_t end, time_t now, long grace, msgsec_err want,
                        const char *detail)
{
    msgsec_error e = {0};
    assert_int_equal(krb_ticket_rule(created, end, now, grace, &e), want);
    if (detail)
        assert_string_equal(e.detail, detail);
}

static void rule_ticket_valid_when_consumed(void **state)
{
    (void)state;
    expect_rule(T0, T0 + 600, T0 + 599, 0, MSGSEC_OK, NULL);
    expect_rule(T0, T0 + 600, T0 + 600, 0, MSGSEC_OK, NULL); /* end time itself */
}

static void rule_expired_in_queue_without_grace(void **state)
{
    (void)state;
    expect_rule(T0, T0 + 600, T0 + 601, 0, MSGSEC_E_EXPIRED,
                "Kerberos ticket expired before the message was consumed");
    expect_rule(T0, T0 + 600, T0 + 86400, -5, MSGSEC_E_EXPIRED,
                "Kerberos ticket expired before the message was consumed");
}

static void rule_grace(void **state)
{
    (void)state;
    /* sent while valid, consumed within the grace after expiry */
    expect_rule(T0, T0 + 600, T0 + 600 + 3600, 3600, MSGSEC_OK, NULL);
    /* one second past the grace */
    expect_rule(T0, T0 + 600, T0 + 600 + 3601, 3600, MSGSEC_E_EXPIRED,
                "Kerberos ticket expired before the message was consumed");
    /* sent exactly at the end time still counts as sent while valid */
    expect_rule(T0 + 600, T0 + 600, T0 + 700, 3600, MSGSEC_OK, NULL);
}

static void rule_sent_after_expiry(void **state)
{
    (void)state;
    /* a grace never covers a message created after the ticket ended */
    expect_rule(T0 + 601, T0 + 600, T0 + 602, 3600, MSGSEC_E_EXPIRED,
                "Kerberos ticket had expired when the message was sent");
}

static void derive_keys(void **state)
{
    (void)state;
    msgsec_error e = {0};
    uint8_t k1[32], k2[16], s1[32], e1[32], s2[32], e2[32], s3[32], e3[32];
    memset(k1, 0x11, sizeof k1);
    memset(k2, 0x11, sizeof k2);
    assert_int_equal(krb_derive_keys(k1, sizeof k1, s1, e1, &e), MSGSEC_OK);
    assert_int_equal(krb_derive_keys(k1, sizeof k1, s2, e2, &e), MSGSEC_OK);
    assert_int_equal(krb_derive_keys(k2, sizeof k2, s3, e3, &e), MSGSEC_OK);
    assert_memory_equal(s1, s2, 32);             /* deterministic */
    assert_memory_equal(e1, e2, 32);
    assert_memory_not_equal(s1, e1, 32);         /* distinct labels */
    assert_memory_not_equal(s1, s3, 32);         /* depends on the whole key */
    assert_memory_not_equal(e1, e3, 32);
    assert_int_equal(krb_derive_keys(k1, 0, s1, e1, &e), MSGSEC_E_INTERNAL);
}

static void accept_rejects_bad_framing(void **state)
{
    (void)state;
    msgsec_error e = {0};
    krb_accepted acc;
    static const uint8_t junk[] = {0x30, 0x03, 0x02, 0x01, 0x05};
    /* a GSS header for another mechanism (SPNEGO 1.3.6.1.5.5.2) */
    static const uint8_t spnego[] = {0x60, 0x0c, 0x06, 0x06, 0x2b, 0x06, 0x01,
                                     0x05, 0x05, 0x02, 0x01, 0x00, 0x6e, 0x00};
    assert_int_equal(krb_accept("/nonexistent.kt", junk, sizeof junk, 0, &acc, &e),
                     MSGSEC_E_MALFORMED);
    assert_int_equal(krb_accept("/nonexistent.kt", spnego, sizeof spnego, 0, &acc, &e),
                     MSGSEC_E_MALFORMED);
    assert_string_equal(e.detail, "GSS-API token is not for the krb5 mechanism");
    assert_null(acc.client);
    assert_int_equal(krb_token_check(spnego, sizeof spnego, &e), MSGSEC_E_MALFORMED);
}

static void token_check(void **state)
{
    (void)state;
    msgsec_error e = {0};
    /* krb5 mech header, TOK_ID 01 00, then the start of an AP-REQ (0x6e) */
    uint8_t token[] = {0x60, 0x0f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
                       0x12, 0x01, 0x02, 0x02, 0x01, 0x00, 0x6e, 0x00};
    assert_int_equal(krb_token_check(token, sizeof token, &e), MSGSEC_OK);
    token[15] = 0x30; /* not an AP-REQ */
    assert_int_equal(krb_token_check(token, sizeof token, &e), MSGSEC_E_MALFORMED);
    assert_string_equal(e.detail, "Kerberos token does not hold an AP-REQ");
    token[15] = 0x6e;
    token[13] = 0x02; /* TOK_ID of an AP-REP */
    assert_int_equal(krb_token_check(token, sizeof token, &e), MSGSEC_E_MALFORMED);
    assert_int_equal(krb_token_check(token, sizeof token - 1, &e), MSGSEC_E_MALFORMED);
    assert_int_equal(krb_token_check(token, 1, &e), MSGSEC_E_MALFORMED);
    assert_int_equal(krb_token_check(token, KRB_MAX_TOKEN + 1, &e), MSGSEC_E_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rule_ticket_valid_when_consumed),
        cmocka_unit_test(rule_expired_in_queue_without_grace),
        cmocka_unit_test(rule_grace),
        cmocka_unit_test(rule_sent_after_expiry),
        cmocka_unit_test(derive_keys),
        cmocka_unit_test(accept_rejects_bad_framing),
        cmocka_unit_test(token_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_must_understand.c - SOAP header blocks with mustUnderstand (SOAP 1.2
 * Part 1 5.2.3, SOAP 1.1 4.2.3), through msgsec_unwrap and msgsec_verify:
 *   8 policy: a block msgsec does not process, for this node (no role, role
 *     next or ultimateReceiver; SOAP 1.1: no actor or actor next), with
 *     mustUnderstand true/1, the detail naming {namespace}local;
 *   accepted: the same block with mustUnderstand false/0/absent, or for
 *     another role (none, a URI of our own); Security, To, Action and
 *     MessageID marked mustUnderstand (msgsec processes them);
 *   3 malformed: a mustUnderstand value that is not an xs:boolean.
 * Headers are added unsigned: they change no signed node, so the signature
 * still verifies and the refusal is the header's alone. */
#include "recv_test_util.h"

#define AUDIT_QNAME "{urn:example:audit}Audit"

static char *soap12_env;   /* certificate credential, SOAP 1.2 as msgsec wraps it */
static char *soap11_env;   /* the same moved to SOAP 1.1 and re-signed by the sender */
static char *none_env;     /* none credential (HMAC), SOAP 1.2 */

/* Copy of env with every occurrence of old replaced (old must occur). */
static char *replace_all(const char *env, const char *old, const char *new_text)
{
    char *out = replace_first(env, old, new_text);
    while (strstr(out, old)) {
        char *next = replace_first(out, old, new_text);
        free(out);
        out = next;
    }
    return out;
}

static int setup(void **state)
{
    if (test_global_setup(state) != 0)
        return -1;
    soap12_env = wrap_as("client-rsa", "order for the service");
    none_env = wrap_as(NULL, "order for the service");
    char *moved = replace_all(soap12_env, NS_SOAP12, NS_SOAP11);
    char *mu = replace_first(moved, "s:mustUnderstand=\"true\"", "s:mustUnderstand=\"1\"");
    soap11_env = resign(mu, pki("client-rsa.key"), NULL);
    free(moved);
    free(mu);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(soap12_env);
    free(soap11_env);
    free(none_env);
    return 0;
}

/* env with `block` as the first header block. */
static char *with_header(const char *env, const char *block)
{
    char *header = malloc(strlen(block) + 16);
    assert_non_null(header);
    sprintf(header, "<s:Header>%s", block);
    char *out = replace_first(env, "<s:Header>", header);
    free(header);
    return out;
}

/* unwrap (service key) and verify (broker) of env both give `want`; the
 * detail contains `needle` when given. */
static void expect_both(const char *env, msgsec_err want, const char *needle)
{
    recv_setup broker = {.verify_only = 1};
    msgsec_receiver *service = receiver_with(NULL), *verifier = receiver_with(&broker);
    msgsec_error e;
    msgsec_err rc = unwrap_rc(service, env, &e);
    if (rc != want)
        fail_msg("unwrap class %d (want %d): %s", rc, want, e.detail);
    if (needle && !strstr(e.detail, needle))
        fail_msg("unwrap detail '%s' lacks '%s'", e.detail, needle);
    if (rc)
        print_message("    unwrap %d: %s\n", rc, e.detail);
    rc = verify_rc(verifier, env, &e);
    if (rc != want)
        fail_msg("verify class %d (want %d): %s", rc, want, e.detail);
    if (needle && !strstr(e.detail, needle))
        fail_msg("verify detail '%s' lacks '%s'", e.detail, needle);
    msgsec_receiver_free(service);
    msgsec_receiver_free(verifier);
}

static void expect_header(const char *env, const char *block, msgsec_err want)
{
    char *edited = with_header(env, block);
    expect_both(edited, want, want == MSGSEC_E_POLICY ? AUDIT_QNAME : NULL);
    free(edited);
}

#define AUDIT(attrs) "<a:Audit xmlns:a=\"urn:example:audit\" " attrs ">shop 7</a:Audit>"

/* Each block in the SOAP 1.2 certificate and none envelopes gives `want`. */
static void expect_soap12(const char *const *blocks, size_t n, msgsec_err want)
{
    for (size_t i = 0; i < n; i++) {
        expect_header(soap12_env, blocks[i], want);
        expect_header(none_env, blocks[i], want);
    }
}

static void test_soap12_refused(void **state)
{
    (void)state;
    const char *blocks[] = {
        AUDIT("s:mustUnderstand=\"true\""),
        AUDIT("s:mustUnderstand=\"1\""),
        AUDIT("s:mustUnderstand=\" true \""),
        AUDIT("s:mustUnderstand=\"true\" s:role=\"" SOAP12_ROLE_ULTIMATE "\""),
        AUDIT("s:mustUnderstand=\"true\" s:role=\"" SOAP12_ROLE_NEXT "\""),
        AUDIT("s:mustUnderstand=\"true\" s:role=\"\""),
        /* SOAP 1.1's actor means nothing in SOAP 1.2: still no role */
        AUDIT("s:mustUnderstand=\"true\" s:actor=\"urn:example:elsewhere\""),
    };
    expect_soap12(blocks, sizeof blocks / sizeof blocks[0], MSGSEC_E_POLICY);
    /* WS-Addressing headers msgsec does nothing with are not understood */
    char *env = with_header(soap12_env, "<wsa:ReplyTo s:mustUnderstand=\"true\"><wsa:Address>"
                                        "urn:example:replies</wsa:Address></wsa:ReplyTo>");
    expect_both(env, MSGSEC_E_POLICY, "{" NS_WSA "}ReplyTo");
    free(env);
}

static void test_soap12_accepted(void **state)
{
    (void)state;
    const char *blocks[] = {
        AUDIT("s:mustUnderstand=\"false\""),
        AUDIT("s:mustUnderstand=\"0\""),
        AUDIT(""),
        AUDIT("s:mustUnderstand=\"true\" s:role=\"" NS_SOAP12 "/role/none\""),
        AUDIT("s:mustUnderstand=\"true\" s:role=\"urn:example:auditor\""),
        /* an attribute without the SOAP namespace is not SOAP's */
        AUDIT("mustUnderstand=\"true\""),
    };
    expect_soap12(blocks, sizeof blocks / sizeof blocks[0], MSGSEC_OK);
}

/* wsa:To, Action and MessageID marked mustUnderstand (as WCF sends them) and
 * signed: msgsec processes them. */
static void test_understood_headers(void **state)
{
    (void)state;
    char *a = replace_first(soap12_env, "<wsa:To ", "<wsa:To s:mustUnderstand=\"true\" ");
    char *b = replace_first(a, "<wsa:Action ", "<wsa:Action s:mustUnderstand=\"1\" ");
    char *c = replace_first(b, "<wsa:MessageID ", "<wsa:MessageID s:mustUnderstand=\"true\" ");
    char *env = resign(c, pki("client-rsa.key"), NULL);
    expect_both(env, MSGSEC_OK, NULL);
    free(a);
    free(b);
    free(c);
    free(env);
}

static void test_invalid_value(void **state)
{
    (void)state;
    expect_header(soap12_env, AUDIT("s:mustUnderstand=\"yes\""), MSGSEC_E_MALFORMED);
    expect_header(soap12_env, AUDIT("s:mustUnderstand=\"\""), MSGSEC_E_MALFORMED);
    /* on a block msgsec processes, and for another role, too */
    char *env = replace_first(soap12_env, "<wsse:Security s:mustUnderstand=\"true\">",
                              "<wsse:Security s:mustUnderstand=\"maybe\">");
    expect_both(env, MSGSEC_E_MALFORMED, "mustUnderstand");
    free(env);
    expect_header(soap12_env, AUDIT("s:mustUnderstand=\"2\" s:role=\"" NS_SOAP12 "/role/none\""),
                  MSGSEC_E_MALFORMED);
}

static void test_soap11(void **state)
{
    (void)state;
    expect_both(soap11_env, MSGSEC_OK, NULL); /* the re-signed SOAP 1.1 envelope is valid */
    expect_header(soap11_env, AUDIT("s:mustUnderstand=\"1\""), MSGSEC_E_POLICY);
    expect_header(soap11_env, AUDIT("s:mustUnderstand=\"true\""), MSGSEC_E_POLICY);
    expect_header(soap11_env, AUDIT("s:mustUnderstand=\"1\" s:actor=\"" SOAP11_ACTOR_NEXT "\""),
                  MSGSEC_E_POLICY);
    /* SOAP 1.2's role means nothing in SOAP 1.1: still no actor */
    expect_header(soap11_env, AUDIT("s:mustUnderstand=\"1\" s:role=\"urn:example:auditor\""),
                  MSGSEC_E_POLICY);
    expect_header(soap11_env, AUDIT("s:mustUnderstand=\"0\""), MSGSEC_OK);
    expect_header(soap11_env, AUDIT(""), MSGSEC_OK);
    expect_header(soap11_env, AUDIT("s:mustUnderstand=\"1\" s:actor=\"urn:example:auditor\""),
                  MSGSEC_OK);
    expect_header(soap11_env, AUDIT("s:mustUnderstand=\"on\""), MSGSEC_E_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_soap12_refused),     cmocka_unit_test(test_soap12_accepted),
        cmocka_unit_test(test_understood_headers), cmocka_unit_test(test_invalid_value),
        cmocka_unit_test(test_soap11),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

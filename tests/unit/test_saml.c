/* test_saml.c - the issued credential: assertions from saml_issue() checked
 * by saml_verify(), inside a SOAP envelope, and every refusal with its class.
 * (Interop with pysaml2 and the xmlsec1 CLI: tests/integration/credentials.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "saml.h"
#include "xml.h"

#define NOW 1800000000L
#define LIFETIME 600L
#define SKEW 300L
#define AUDIENCE "urn:example:orders"

static char pki[512];
static EVP_PKEY *sts_key, *rogue_key;
static X509 *sts_cert, *rogue_cert, *client_cert, *ca_cert;

static const char *pki_path(const char *name)
{
    static char path[600];
    snprintf(path, sizeof path, "%s/%s", pki, name);
    return path;
}

static int setup(void **state)
{
    (void)state;
    const char *dir = getenv("MSGSEC_PKI");
    msgsec_error e = {0};
    if (!dir)
        return -1;
    snprintf(pki, sizeof pki, "%s", dir);
    if (load_private_key(pki_path("sts.key"), &sts_key, &e) || load_cert(pki_path("sts.pem"), &sts_cert, &e) ||
        load_private_key(pki_path("selfsigned.key"), &rogue_key, &e) ||
        load_cert(pki_path("selfsigned.pem"), &rogue_cert, &e) ||
        load_cert(pki_path("client-rsa.pem"), &client_cert, &e) ||
        load_cert(pki_path("ca.pem"), &ca_cert, &e)) {
        fprintf(stderr, "setup: %s\n", e.detail);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(sts_key);
    EVP_PKEY_free(rogue_key);
    X509_free(sts_cert);
    X509_free(rogue_cert);
    X509_free(client_cert);
    X509_free(ca_cert);
    return 0;
}

static const saml_attr attrs[] = {{"role", "buyer"}, {"dept", "R&D <\"east\">"}, {"role", "auditor"}};

/* A signed assertion; holder = NULL makes a bearer one. Caller frees. */
static char *issue_with(EVP_PKEY *key, X509 *cert, X509 *holder)
{
    saml_issue_params p = {
        .sts_key = key, .sts_cert = cert, .subject = "alice", .audience = AUDIENCE,
        .subject_cert = holder, .lifetime = LIFETIME, .attrs = attrs, .n_attrs = 3, .now = NOW};
    msgsec_error e = {0};
    char *xml = NULL;
    size_t len = 0;
    assert_int_equal(saml_issue(&p, &xml, &len, &e), MSGSEC_OK);
    assert_int_equal(strlen(xml), len);
    return xml;
}

static char *issue_default(void) { return issue_with(sts_key, sts_cert, client_cert); }

/* Replaces the first occurrence of from by to (must occur). Caller frees. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    size_t head = (size_t)(at - s), n = strlen(s) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    assert_non_null(out);
    memcpy(out, s, head);
    strcpy(out + head, to);
    strcat(out, at + strlen(from));
    return out;
}

/* The assertion travels in a WS-Security header, as on the wire. */
static char *in_envelope(const char *inner)
{
    static const char pre[] =
        "<s:Envelope xmlns:s=\"" NS_SOAP12 "\" xmlns:wsse=\"" NS_WSSE "\"><s:Header>"
        "<wsse:Security s:mustUnderstand=\"true\">";
    static const char post[] = "</wsse:Security></s:Header><s:Body></s:Body></s:Envelope>";
    char *out = malloc(sizeof pre + strlen(inner) + sizeof post);
    assert_non_null(out);
    strcpy(out, pre);
    strcat(out, inner);
    strcat(out, post);
    return out;
}

typedef struct verify_case {
    time_t now;
    const char *audience;
    X509 *issuer; /* trusted issuer; NULL = sts_cert */
    int index;    /* which Assertion of the Security header */
} verify_case;

/* Verifies the index-th Assertion of the envelope around inner. */
static msgsec_err verify_in(const char *inner, const verify_case *vc, saml_assertion **out,
                            msgsec_error *e)
{
    char *env = in_envelope(inner);
    xmlDocPtr doc = NULL;
    msgsec_err rc = xml_parse((const uint8_t *)env, strlen(env), 1 << 20, &doc, e);
    free(env);
    if (rc != MSGSEC_OK)
        return rc;
    xmlNodePtr security = xml_first_elem(xml_first_elem(xmlDocGetRootElement(doc)));
    xmlNodePtr assertion = xml_first_elem(security);
    for (int i = 0; i < vc->index; i++)
        assertion = xml_next_elem(assertion);
    STACK_OF(X509) *issuers = sk_X509_new_null();
    sk_X509_push(issuers, vc->issuer ? vc->issuer : sts_cert);
    saml_trust t = {issuers, vc->audience ? vc->audience : AUDIENCE, vc->now ? vc->now : NOW + 60,
                    SKEW};
    saml_assertion *a = NULL;
    rc = saml_verify(assertion, &t, &a, e);
    sk_X509_free(issuers);
    xmlFreeDoc(doc);
    if (out)
        *out = a;
    else
        saml_assertion_free(a);
    return rc;
}

static void expect(const char *inner, const verify_case *vc, msgsec_err want, const char *detail)
{
    msgsec_error e = {0};
    static const verify_case defaults = {0};
    msgsec_err rc = verify_in(inner, vc ? vc : &defaults, NULL, &e);
    if (rc != want || (detail && !strstr(e.detail, detail)))
        fail_msg("got %d \"%s\", want %d \"%s\"", rc, e.detail, want, detail ? detail : "");
}

static void valid_assertion(void **state)
{
    (void)state;
    char *xml = issue_default();
    saml_assertion *a = NULL;
    msgsec_error e = {0};
    verify_case vc = {0};
    assert_int_equal(verify_in(xml, &vc, &a, &e), MSGSEC_OK);
    assert_string_equal(a->subject, "alice");
    assert_string_equal(a->issuer, "CN=msgsec-sts,O=Example");
    assert_int_equal(X509_cmp(a->holder_cert, client_cert), 0);
    assert_int_equal(X509_cmp(a->issuer_cert, sts_cert), 0);
    assert_int_equal(a->not_before, NOW);
    assert_int_equal(a->not_on_or_after, NOW + LIFETIME);
    assert_int_equal(a->n_claims, 3);
    assert_string_equal(a->claims[0].name, "role");
    assert_string_equal(a->claims[0].value, "buyer");
    assert_string_equal(a->claims[1].name, "dept");
    assert_string_equal(a->claims[1].value, "R&D <\"east\">");
    assert_string_equal(a->claims[2].value, "auditor");
    saml_assertion_free(a);
    /* the same assertion verifies on its own (no envelope around it) */
    xmlDocPtr doc = NULL;
    assert_int_equal(xml_parse((const uint8_t *)xml, strlen(xml), 1 << 20, &doc, &e), MSGSEC_OK);
    STACK_OF(X509) *issuers = sk_X509_new_null();
    sk_X509_push(issuers, ca_cert); /* an untrusted one first: skipped */
    sk_X509_push(issuers, sts_cert);
    saml_trust t = {issuers, AUDIENCE, NOW, 0};
    assert_int_equal(saml_verify(xmlDocGetRootElement(doc), &t, &a, &e), MSGSEC_OK);
    saml_assertion_free(a);
    sk_X509_free(issuers);
    xmlFreeDoc(doc);
    free(xml);
}

static void tampered(void **state)
{
    (void)state;
    char *xml = issue_default();
    char *t1 = replace(xml, ">buyer<", ">admin<");
    char *t2 = replace(xml, "NotOnOrAfter=\"", "NotOnOrAfter=\"2");     /* year 22026 */
    char *t3 = replace(xml, "<ds:SignatureValue>", "<ds:SignatureValue>AAAA");
    expect(t1, NULL, MSGSEC_E_AUTH, "digest does not match");
    expect(t2, NULL, MSGSEC_E_AUTH, "digest does not match");
    expect(t3, NULL, MSGSEC_E_AUTH, "does not verify");
    free(t1);
    free(t2);
    free(t3);
    free(xml);
}

static void expired_and_not_yet_valid(void **state)
{
    (void)state;
    char *xml = issue_default();
    verify_case late = {.now = NOW + LIFETIME + SKEW};
    verify_case just_in_time = {.now = NOW + LIFETIME + SKEW - 1};
    verify_case early = {.now = NOW - SKEW - 1};
    expect(xml, &late, MSGSEC_E_EXPIRED, "has expired");
    expect(xml, &just_in_time, MSGSEC_OK, NULL);
    expect(xml, &early, MSGSEC_E_EXPIRED, "issued in the future");
    free(xml);
}

static void wrong_issuer(void **state)
{
    (void)state;
    char *xml = issue_default();
    char *rogue = issue_with(rogue_key, rogue_cert, client_cert);
    char *no_key_info = NULL;
    verify_case trust_ca_only = {.issuer = ca_cert};
    /* signed by the STS, but only the CA is trusted as an issuer */
    expect(xml, &trust_ca_only, MSGSEC_E_AUTH, "is not trusted");
    /* signed by an attacker's self-signed certificate */
    expect(rogue, NULL, MSGSEC_E_AUTH, "CN=shop1,O=Example is not trusted");
    /* the attacker drops KeyInfo: every trusted issuer is tried, none verifies */
    const char *ki = strstr(rogue, "</ds:SignatureValue>") + strlen("</ds:SignatureValue>");
    const char *ki_end = strstr(ki, "</ds:KeyInfo>") + strlen("</ds:KeyInfo>");
    no_key_info = malloc(strlen(rogue) + 1);
    assert_non_null(no_key_info);
    memcpy(no_key_info, rogue, (size_t)(ki - rogue));
    strcpy(no_key_info + (ki - rogue), ki_end);
    expect(no_key_info, NULL, MSGSEC_E_AUTH, "not signed by a trusted issuer");
    free(no_key_info);
    free(rogue);
    free(xml);
}

static void wrong_audience(void **state)
{
    (void)state;
    char *xml = issue_default();
    verify_case other = {.audience = "urn:example:billing"};
    expect(xml, &other, MSGSEC_E_POLICY, "not for audience urn:example:billing");
    free(xml);
}

static void malformed(void **state)
{
    (void)state;
    char *xml = issue_default();
    char *v1 = replace(xml, "Version=\"2.0\"", "Version=\"1.1\"");
    char *no_id = replace(xml, " ID=\"", " XD=\"");
    char *half = replace(xml, "<saml2:Assertion ", "<saml2:Statement ");
    char *not_assertion = replace(half, "</saml2:Assertion>", "</saml2:Statement>");
    char *broken = replace(xml, "</saml2:Subject>", "</saml2:Subjekt>");
    char *bad_time = replace(xml, "IssueInstant=\"", "IssueInstant=\"x");
    expect(v1, NULL, MSGSEC_E_MALFORMED, "Version");
    expect(no_id, NULL, MSGSEC_E_MALFORMED, "ID");
    expect(not_assertion, NULL, MSGSEC_E_MALFORMED, "not a SAML 2.0 Assertion");
    expect(broken, NULL, MSGSEC_E_MALFORMED, "not well-formed");
    expect(bad_time, NULL, MSGSEC_E_MALFORMED, "IssueInstant");
    free(v1);
    free(no_id);
    free(not_assertion);
    free(half);
    free(broken);
    free(bad_time);
    free(xml);
}

/* A comment is invisible to exclusive c14n, so the signature still verifies:
 * the NameID must be refused rather than read as "admin" or "alice". */
static void comment_injection(void **state)
{
    (void)state;
    char *xml = issue_default();
    char *commented = replace(xml, ">alice<", ">ali<!---->ce<");
    char *cdata = replace(xml, ">alice<", "><![CDATA[alice]]><");
    expect(commented, NULL, MSGSEC_E_MALFORMED, "NameID must be plain text");
    expect(cdata, NULL, MSGSEC_E_MALFORMED, "NameID must be plain text");
    free(commented);
    free(cdata);
    free(xml);
}

static void signature_wrapping(void **state)
{
    (void)state;
    char *xml = issue_default();
    char *id_start = strstr(xml, "ID=\"") + 4;
    char id[64];
    snprintf(id, sizeof id, "%.*s", (int)(strchr(id_start, '"') - id_start), id_start);
    verify_case second = {.index = 1};

    /* 1. a second, unsigned Assertion next to the signed one */
    char *evil = replace(xml, id, "_evil");
    char *evil2 = replace(evil, ">alice<", ">admin<");
    char *evil_unsigned;
    {
        const char *sig = strstr(evil2, "<ds:Signature");
        const char *sig_end = strstr(sig, "</ds:Signature>") + strlen("</ds:Signature>");
        evil_unsigned = malloc(strlen(evil2) + 1);
        assert_non_null(evil_unsigned);
        memcpy(evil_unsigned, evil2, (size_t)(sig - evil2));
        strcpy(evil_unsigned + (sig - evil2), sig_end);
    }
    size_t n = 2 * strlen(xml) + 1; /* room for any two of these assertions */
    char *pair = malloc(n);
    assert_non_null(pair);
    snprintf(pair, n, "%s%s", xml, evil_unsigned);
    expect(pair, NULL, MSGSEC_OK, NULL);                              /* the signed one */
    expect(pair, &second, MSGSEC_E_AUTH, "not signed");               /* the unsigned one */

    /* 2. the unsigned copy reuses the signed one's ID */
    char *same_id = replace(evil_unsigned, "_evil", id);
    snprintf(pair, n, "%s%s", same_id, xml);
    expect(pair, NULL, MSGSEC_E_MALFORMED, "duplicate");

    /* 3. the signature moved into an altered assertion with the original ID */
    char *altered = replace(xml, ">alice<", ">admin<");
    expect(altered, NULL, MSGSEC_E_AUTH, "digest does not match");

    /* 4. the altered assertion gets its own ID; its signature still points
     *    at the original, which hides in Advice */
    char *outer = replace(altered, id, "_outer");
    char *wrapped;
    {
        const char *close = strstr(outer, "</saml2:Assertion>");
        n = strlen(outer) + strlen(xml) + 64;
        wrapped = malloc(n);
        assert_non_null(wrapped);
        snprintf(wrapped, n, "%.*s<saml2:Advice>%s</saml2:Advice></saml2:Assertion>",
                 (int)(close - outer), outer, xml);
    }
    expect(wrapped, NULL, MSGSEC_E_POLICY, "does not reference the assertion it is in");

    free(wrapped);
    free(outer);
    free(altered);
    free(same_id);
    free(pair);
    free(evil_unsigned);
    free(evil2);
    free(evil);
    free(xml);
}

static void bearer_refused(void **state)
{
    (void)state;
    char *xml = issue_with(sts_key, sts_cert, NULL);
    expect(xml, NULL, MSGSEC_E_POLICY, "not holder-of-key");
    free(xml);
}

static void algorithms_refused(void **state)
{
    (void)state;
    char *xml = issue_default();
    char *sha1 = replace(xml, ALG_RSA_SHA256, ALG_RSA_SHA1);
    char *inclusive = replace(xml, "<ds:Transform Algorithm=\"" ALG_EXC_C14N,
                              "<ds:Transform Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315");
    expect(sha1, NULL, MSGSEC_E_POLICY, "not allowed");
    expect(inclusive, NULL, MSGSEC_E_POLICY, "not allowed");
    free(sha1);
    free(inclusive);
    free(xml);
}

/* expect() on xml with the first occurrence of from replaced by to. */
static void expect_edited(const char *xml, const char *from, const char *to, msgsec_err want,
                          const char *detail)
{
    char *edited = replace(xml, from, to);
    expect(edited, NULL, want, detail);
    free(edited);
}

/* The assertion's signature goes through the verifier of the message
 * signature (dsig.c), with its rules: no key from the Signature itself
 * (ds:KeyValue, ds:RetrievalMethod: test_defenses.c has the message's
 * case), and no HMACOutputLength or other child in SignatureMethod. */
static void shared_signature_rules(void **state)
{
    (void)state;
    char *xml = issue_default();
    static const char key_info[] = "<ds:KeyInfo xmlns:ds=\"" NS_DS "\">";
    /* the first KeyInfo is the Signature's (the holder's is in the Subject, after it) */
    expect_edited(xml, key_info,
                  "<ds:KeyInfo xmlns:ds=\"" NS_DS "\"><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>AQAB"
                  "</ds:Modulus><ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>",
                  MSGSEC_E_POLICY, "ds:KeyValue");
    expect_edited(xml, key_info,
                  "<ds:KeyInfo xmlns:ds=\"" NS_DS "\"><ds:RetrievalMethod "
                  "URI=\"http://127.0.0.1:9/k\"></ds:RetrievalMethod>",
                  MSGSEC_E_POLICY, "ds:RetrievalMethod");
    expect_edited(xml, ALG_RSA_SHA256 "\"></ds:SignatureMethod>",
                  ALG_RSA_SHA256 "\"><ds:HMACOutputLength>128</ds:HMACOutputLength>"
                  "</ds:SignatureMethod>",
                  MSGSEC_E_POLICY, "in SignatureMethod refused");
    free(xml);
}

static void issue_refuses_bad_input(void **state)
{
    (void)state;
    msgsec_error e = {0};
    char *xml = NULL;
    size_t len = 0;
    saml_issue_params p = {.sts_key = sts_key, .sts_cert = rogue_cert, .subject = "alice",
                           .audience = AUDIENCE};
    assert_int_equal(saml_issue(&p, &xml, &len, &e), MSGSEC_E_USAGE); /* key/cert mismatch */
    assert_string_equal(e.detail, "the STS key does not match its certificate");
    p.sts_cert = sts_cert;
    p.audience = "";
    assert_int_equal(saml_issue(&p, &xml, &len, &e), MSGSEC_E_USAGE);
    assert_null(xml);
    p.audience = AUDIENCE;
    p.subject = "ali\001ce"; /* U+0001 is not an XML character */
    assert_int_equal(saml_issue(&p, &xml, &len, &e), MSGSEC_E_USAGE);
    assert_non_null(strstr(e.detail, "characters XML cannot carry"));
    assert_null(xml);
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/test_saml_XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void token_load(void **state)
{
    (void)state;
    msgsec_error e = {0};
    saml_token tok;
    char *xml = issue_default();
    char *with_decl = malloc(strlen(xml) + 64);
    assert_non_null(with_decl);
    sprintf(with_decl, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n%s", xml);
    char *path = write_temp(with_decl);
    assert_int_equal(saml_token_load(path, client_cert, &tok, &e), MSGSEC_OK);
    assert_int_equal(X509_cmp(tok.holder_cert, client_cert), 0);
    assert_non_null(strstr(xml, tok.id));
    assert_int_equal(strncmp(tok.xml, "<saml2:Assertion ", 17), 0);
    assert_int_equal(strlen(tok.xml), tok.len);
    expect(tok.xml, NULL, MSGSEC_OK, NULL); /* still verifies once embedded */
    saml_token_clear(&tok);
    assert_int_equal(saml_token_load(path, NULL, &tok, &e), MSGSEC_OK);
    saml_token_clear(&tok);
    assert_int_equal(saml_token_load(path, rogue_cert, &tok, &e), MSGSEC_E_USAGE);
    assert_non_null(strstr(e.detail, "bound to another key"));
    assert_null(tok.xml);
    unlink(path);
    free(path);

    char *bearer = issue_with(sts_key, sts_cert, NULL);
    path = write_temp(bearer);
    assert_int_equal(saml_token_load(path, NULL, &tok, &e), MSGSEC_E_USAGE);
    assert_non_null(strstr(e.detail, "not holder-of-key"));
    unlink(path);
    free(path);

    path = write_temp("<a/>");
    assert_int_equal(saml_token_load(path, NULL, &tok, &e), MSGSEC_E_USAGE);
    assert_non_null(strstr(e.detail, "is not a SAML 2.0 Assertion"));
    unlink(path);
    free(path);
    path = write_temp("<a>");
    assert_int_equal(saml_token_load(path, NULL, &tok, &e), MSGSEC_E_USAGE);
    assert_non_null(strstr(e.detail, "not well-formed"));
    unlink(path);
    free(path);
    assert_int_equal(saml_token_load("/nonexistent/token.xml", NULL, &tok, &e), MSGSEC_E_USAGE);
    free(bearer);
    free(with_decl);
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_assertion),
        cmocka_unit_test(tampered),
        cmocka_unit_test(expired_and_not_yet_valid),
        cmocka_unit_test(wrong_issuer),
        cmocka_unit_test(wrong_audience),
        cmocka_unit_test(malformed),
        cmocka_unit_test(comment_injection),
        cmocka_unit_test(signature_wrapping),
        cmocka_unit_test(bearer_refused),
        cmocka_unit_test(algorithms_refused),
        cmocka_unit_test(shared_signature_rules),
        cmocka_unit_test(issue_refuses_bad_input),
        cmocka_unit_test(token_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

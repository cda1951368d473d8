/* test_defenses.c - the receiver's defenses (issue 2), each asserting its
 * exact class:
 *   3 malformed: DOCTYPE, internal/external/parameter entities, billion
 *     laughs, oversize, deep nesting, duplicate Id, second Security header,
 *     second Signature/Timestamp;
 *   8 policy: signature wrapping (signed Body moved under a header while a
 *     forged Body takes its place; signed Body moved into ds:Object), external
 *     and XPointer references, refused algorithms (rsa-1_5, SHA-1 and MD5
 *     digests, rsa-sha1, HMACOutputLength, HMAC instead of a certificate
 *     signature), ds:KeyValue, unsigned Timestamp, unencrypted Body;
 *   4 authentication: tampered SignatureValue, DigestValue, Body
 *     CipherValue and the certificate credential's EncryptedKey (both signed,
 *     so the digest fails before decryption);
 *   7 decryption: the none credential's tampered EncryptedKey CipherValue
 *     (RSA-OAEP fails). */
#include "recv_test_util.h"

static char *cert_env;  /* certificate credential (RSA), fresh per test */
static char *none_env;  /* none credential (HMAC) */

static int setup(void **state)
{
    (void)state;
    cert_env = wrap_as("client-rsa", "secret payload");
    none_env = wrap_as(NULL, "secret payload");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(cert_env);
    free(none_env);
    return 0;
}

/* Both envelopes edited the same way must fail with the same class. */
static void edit_both(const char *old, const char *new_text, msgsec_err want)
{
    char *a = replace_first(cert_env, old, new_text), *b = replace_first(none_env, old, new_text);
    assert_unwrap_class(a, want);
    assert_unwrap_class(b, want);
    free(a);
    free(b);
}

static void prefixed(const char *prefix, msgsec_err want)
{
    size_t n = strlen(prefix) + strlen(cert_env) + 1;
    char *env = malloc(n);
    assert_non_null(env);
    snprintf(env, n, "%s%s", prefix, cert_env);
    assert_unwrap_class(env, want);
    free(env);
}

static void test_doctype(void **state)
{
    (void)state;
    prefixed("<!DOCTYPE s:Envelope>", MSGSEC_E_MALFORMED);
}

static void test_internal_entity(void **state)
{
    (void)state;
    char *env = replace_first(cert_env, "urn:msgsec:message", "&e;");
    size_t n = strlen(env) + 64;
    char *doc = malloc(n);
    snprintf(doc, n, "<!DOCTYPE s:Envelope [<!ENTITY e \"x\">]>%s", env);
    assert_unwrap_class(doc, MSGSEC_E_MALFORMED);
    /* the same reference without a declaration is not well-formed */
    assert_unwrap_class(env, MSGSEC_E_MALFORMED);
    free(doc);
    free(env);
}

static void test_external_entity(void **state)
{
    (void)state;
    prefixed("<!DOCTYPE s:Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
             MSGSEC_E_MALFORMED);
    prefixed("<!DOCTYPE s:Envelope SYSTEM \"http://127.0.0.1:9/evil.dtd\">", MSGSEC_E_MALFORMED);
    prefixed("<!DOCTYPE s:Envelope [<!ENTITY % p SYSTEM \"http://127.0.0.1:9/p\"> %p;]>",
             MSGSEC_E_MALFORMED);
}

static void test_billion_laughs(void **state)
{
    (void)state;
    prefixed("<!DOCTYPE s:Envelope [<!ENTITY a \"lol\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">"
             "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\"><!ENTITY d \"&c;&c;&c;&c;&c;&c;&c;&c;\">]>",
             MSGSEC_E_MALFORMED);
}

static void test_oversize(void **state)
{
    (void)state;
    recv_setup rs = {.max_bytes = 2048};
    msgsec_receiver *r = receiver_with(&rs);
    msgsec_error e;
    assert_int_equal(unwrap_rc(r, cert_env, &e), MSGSEC_E_MALFORMED);
    assert_non_null(strstr(e.detail, "exceeds"));
    assert_int_equal(verify_rc(r, cert_env, &e), MSGSEC_E_MALFORMED);
    msgsec_receiver_free(r);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    strbuf sb;
    sb_init(&sb, 0, 0);
    for (int i = 0; i < 100; i++)
        sb_puts(&sb, "<a>");
    char *env = replace_first(cert_env, "<s:Header>", sb.data);
    assert_unwrap_class(env, MSGSEC_E_MALFORMED);
    msgsec_receiver *r = receiver_with(NULL);
    msgsec_error e;
    assert_int_equal(unwrap_rc(r, env, &e), MSGSEC_E_MALFORMED);
    assert_non_null(strstr(e.detail, "nesting"));
    msgsec_receiver_free(r);
    free(env);
    sb_free(&sb, 0);
}

static void test_duplicate_id(void **state)
{
    (void)state;
    char extra[160];
    snprintf(extra, sizeof extra, "<s:Header><x:Decoy xmlns:x=\"urn:x\" wsu:Id=\"body-%s\"/>",
             id_suffix(cert_env));
    char *env = replace_first(cert_env, "<s:Header>", extra);
    assert_unwrap_class(env, MSGSEC_E_MALFORMED);
    free(env);
}

static void test_second_security_header(void **state)
{
    (void)state;
    edit_both("<s:Header>", "<s:Header><wsse:Security></wsse:Security>", MSGSEC_E_MALFORMED);
    /* a second Timestamp or Signature inside the one Security header */
    char *env = replace_first(cert_env, "<wsse:Security s:mustUnderstand=\"true\">",
                              "<wsse:Security s:mustUnderstand=\"true\"><wsu:Timestamp>"
                              "<wsu:Created>2020-01-01T00:00:00Z</wsu:Created></wsu:Timestamp>");
    assert_unwrap_class(env, MSGSEC_E_MALFORMED);
    free(env);
}

/* Signed Body moved under a header, forged Body in its place (new Id). */
static void test_wrapping_body_moved_to_header(void **state)
{
    (void)state;
    xmlDocPtr doc = dom(cert_env);
    xmlNodePtr body = dom_get(doc, NS_SOAP12, "Body");
    xmlNodePtr header = dom_get(doc, NS_SOAP12, "Header");
    xmlNodePtr wrapper = xmlNewChild(header, NULL, BAD_CAST "Wrapper", NULL);
    xmlNodePtr forged = xmlNewDocNode(doc, body->ns, BAD_CAST "Body", NULL);
    xmlNewChild(forged, NULL, BAD_CAST "forged", BAD_CAST "transfer all funds");
    xmlAddNextSibling(body, forged);
    xmlUnlinkNode(body);
    xmlAddChild(wrapper, body);
    char *env = dom_string(doc);
    assert_unwrap_class(env, MSGSEC_E_POLICY);
    /* same with the forged Body reusing the signed Body's Id: duplicate */
    char id[128];
    snprintf(id, sizeof id, "<s:Body wsu:Id=\"body-%s\">", id_suffix(cert_env));
    char *dup = replace_first(env, "<s:Body>", id);
    assert_unwrap_class(dup, MSGSEC_E_MALFORMED);
    free(dup);
    free(env);
}

/* Signed Body moved into a ds:Object of the Signature, forged Body in place. */
static void test_wrapping_body_in_object(void **state)
{
    (void)state;
    xmlDocPtr doc = dom(cert_env);
    xmlNodePtr body = dom_get(doc, NS_SOAP12, "Body");
    xmlNodePtr sig = dom_get(doc, NS_DS, "Signature");
    xmlNodePtr object = xmlNewChild(sig, sig->ns, BAD_CAST "Object", NULL);
    xmlNodePtr forged = xmlNewDocNode(doc, body->ns, BAD_CAST "Body", NULL);
    xmlAddNextSibling(body, forged);
    xmlUnlinkNode(body);
    xmlAddChild(object, body);
    char *env = dom_string(doc);
    assert_unwrap_class(env, MSGSEC_E_POLICY);
    free(env);
}

/* The signed Timestamp moved out of Security, a fresh unsigned one in place. */
static void test_wrapping_timestamp(void **state)
{
    (void)state;
    xmlDocPtr doc = dom(cert_env);
    xmlNodePtr ts = dom_get(doc, NS_WSU, "Timestamp");
    xmlNodePtr header = dom_get(doc, NS_SOAP12, "Header");
    xmlNodePtr fresh = xmlNewDocNode(doc, ts->ns, BAD_CAST "Timestamp", NULL);
    xmlNewChild(fresh, ts->ns, BAD_CAST "Created", BAD_CAST "2020-01-01T00:00:00Z");
    xmlAddNextSibling(ts, fresh);
    xmlUnlinkNode(ts);
    xmlAddChild(xmlNewChild(header, NULL, BAD_CAST "Wrapper", NULL), ts);
    char *env = dom_string(doc);
    assert_unwrap_class(env, MSGSEC_E_POLICY);
    free(env);
}

static void test_reference_uris(void **state)
{
    (void)state;
    edit_both("URI=\"#to-", "URI=\"http://127.0.0.1:9/#to-", MSGSEC_E_POLICY);
    char xp[160];
    snprintf(xp, sizeof xp, "URI=\"#xpointer(id('to-%s'))\"", id_suffix(cert_env));
    char to[128];
    snprintf(to, sizeof to, "URI=\"#to-%s\"", id_suffix(cert_env));
    char *env = replace_first(cert_env, to, xp);
    assert_unwrap_class(env, MSGSEC_E_POLICY);
    free(env);
    env = replace_first(cert_env, to, "URI=\"\"");
    assert_unwrap_class(env, MSGSEC_E_POLICY);
    free(env);
}

static void test_refused_algorithms(void **state)
{
    (void)state;
    /* key transport rsa-1_5: the certificate credential signs its EncryptedKey,
     * so only a re-signed copy reaches the algorithm check */
    char *rsa15 = replace_first(cert_env, ALG_RSA_OAEP_MGF1P, ALG_RSA_1_5);
    char *rsa15_signed = resign(rsa15, pki("client-rsa.key"), NULL);
    char *none_rsa15 = replace_first(none_env, ALG_RSA_OAEP_MGF1P, ALG_RSA_1_5);
    assert_unwrap_class(rsa15, MSGSEC_E_AUTH);
    assert_unwrap_class(rsa15_signed, MSGSEC_E_POLICY);
    assert_unwrap_class(none_rsa15, MSGSEC_E_POLICY);
    free(rsa15);
    free(rsa15_signed);
    free(none_rsa15);
    /* SHA-1 and MD5 reference digests */
    edit_both("<ds:DigestMethod Algorithm=\"" ALG_SHA256 "\"",
              "<ds:DigestMethod Algorithm=\"" ALG_SHA1 "\"", MSGSEC_E_POLICY);
    edit_both("<ds:DigestMethod Algorithm=\"" ALG_SHA256 "\"",
              "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#md5\"",
              MSGSEC_E_POLICY);
    /* rsa-sha1 signature */
    char *sha1 = replace_first(cert_env, ALG_RSA_SHA256, ALG_RSA_SHA1);
    assert_unwrap_class(sha1, MSGSEC_E_POLICY);
    free(sha1);
    /* HMAC truncation */
    char *trunc = replace_first(none_env, ALG_HMAC_SHA256 "\"></ds:SignatureMethod>",
                                ALG_HMAC_SHA256 "\"><ds:HMACOutputLength>128</ds:HMACOutputLength>"
                                "</ds:SignatureMethod>");
    assert_unwrap_class(trunc, MSGSEC_E_POLICY);
    free(trunc);
    /* HMAC where the certificate signature is expected */
    char *hmac = replace_first(cert_env, ALG_RSA_SHA256, ALG_HMAC_SHA256);
    assert_unwrap_class(hmac, MSGSEC_E_POLICY);
    free(hmac);
    /* non-exc-c14n canonicalization and content encryption other than GCM */
    edit_both("<ds:CanonicalizationMethod Algorithm=\"" ALG_EXC_C14N "\"",
              "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/TR/2001/REC-xml-c14n-20010315\"",
              MSGSEC_E_POLICY);
    /* the data algorithm sits in the signed Body: re-signed so only the algorithm is wrong */
    char *cbc = replace_first(cert_env, ALG_AES256_GCM, "http://www.w3.org/2001/04/xmlenc#aes256-cbc");
    char *cbc_signed = resign(cbc, pki("client-rsa.key"), NULL);
    assert_unwrap_class(cbc, MSGSEC_E_AUTH);
    assert_unwrap_class(cbc_signed, MSGSEC_E_POLICY);
    free(cbc);
    free(cbc_signed);
}

static void test_key_value_and_retrieval_method(void **state)
{
    (void)state;
    edit_both("<ds:KeyInfo>", "<ds:KeyInfo><ds:KeyValue><ds:RSAKeyValue><ds:Modulus>AQAB"
              "</ds:Modulus><ds:Exponent>AQAB</ds:Exponent></ds:RSAKeyValue></ds:KeyValue>",
              MSGSEC_E_POLICY);
    edit_both("<ds:KeyInfo>", "<ds:KeyInfo><ds:RetrievalMethod URI=\"http://127.0.0.1:9/k\"/>",
              MSGSEC_E_POLICY);
}

static void test_tampered_values(void **state)
{
    (void)state;
    char *sv = tamper_b64(cert_env, "<ds:Signature", "ds:SignatureValue");
    assert_unwrap_class(sv, MSGSEC_E_AUTH);
    char *dv = tamper_b64(cert_env, "<ds:SignedInfo", "ds:DigestValue");
    assert_unwrap_class(dv, MSGSEC_E_AUTH);
    char *cv = tamper_b64(cert_env, "<s:Body", "xenc:CipherValue");
    assert_unwrap_class(cv, MSGSEC_E_AUTH);
    char *ek = tamper_b64(cert_env, "<xenc:EncryptedKey", "xenc:CipherValue");
    assert_unwrap_class(ek, MSGSEC_E_AUTH);
    char *hmac = tamper_b64(none_env, "<ds:Signature", "ds:SignatureValue");
    assert_unwrap_class(hmac, MSGSEC_E_AUTH);
    char *none_ek = tamper_b64(none_env, "<xenc:EncryptedKey", "xenc:CipherValue");
    assert_unwrap_class(none_ek, MSGSEC_E_DECRYPT);
    free(sv);
    free(dv);
    free(cv);
    free(ek);
    free(hmac);
    free(none_ek);
}

static void test_unsigned_parts(void **state)
{
    (void)state;
    /* Signature removed entirely */
    xmlDocPtr doc = dom(cert_env);
    xmlNodePtr sig = dom_get(doc, NS_DS, "Signature");
    xmlUnlinkNode(sig);
    xmlFreeNode(sig);
    char *env = dom_string(doc);
    assert_unwrap_class(env, MSGSEC_E_POLICY);
    free(env);
    /* a Reference dropped: the Timestamp is no longer covered */
    doc = dom(cert_env);
    xmlNodePtr si = dom_get(doc, NS_DS, "SignedInfo");
    char ts[128];
    snprintf(ts, sizeof ts, "#ts-%s", id_suffix(cert_env));
    for (xmlNodePtr r = si->children; r; r = r->next) {
        const char *uri = xml_is(r, NS_DS, "Reference") ? xml_attr(r, NULL, "URI") : NULL;
        if (uri && strcmp(uri, ts) == 0) {
            xmlUnlinkNode(r);
            xmlFreeNode(r);
            break;
        }
    }
    char *unsigned_ts = dom_string(doc);
    env = resign(unsigned_ts, pki("client-rsa.key"), NULL);
    assert_unwrap_class(env, MSGSEC_E_POLICY);
    free(unsigned_ts);
    free(env);
}

/* The Security header is mustUnderstand: an element the receiver does not
 * process (a plaintext UsernameToken, anything unknown) is refused. */
static void test_unprocessed_security_children(void **state)
{
    (void)state;
    edit_both("<wsu:Timestamp", "<wsse:UsernameToken><wsse:Username>admin</wsse:Username>"
              "</wsse:UsernameToken><wsu:Timestamp", MSGSEC_E_POLICY);
    edit_both("<wsu:Timestamp", "<x:Unknown xmlns:x=\"urn:x\"/><wsu:Timestamp", MSGSEC_E_POLICY);
}

static void test_not_soap(void **state)
{
    (void)state;
    assert_unwrap_class("<a/>", MSGSEC_E_MALFORMED);
    assert_unwrap_class("", MSGSEC_E_MALFORMED);
    assert_unwrap_class("<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Body/></s:Envelope>",
                        MSGSEC_E_MALFORMED);
    assert_unwrap_class("<s:Envelope xmlns:s=\"" NS_SOAP12 "\"><s:Header/><s:Body/></s:Envelope>",
                        MSGSEC_E_MALFORMED);
    assert_unwrap_class("not xml at all", MSGSEC_E_MALFORMED);
}

/* b64_decode_small (DigestValue, SignatureValue) accepts, refuses and
 * decodes exactly as b64_decode whenever it answers, odd inputs included. */
static void test_base64_without_allocation(void **state)
{
    (void)state;
    char spaced[1400], digest[] = "yCf9DNTJk2Zv1LHi4ltQf9j+OVbbKCFpssZQg/jYeSY=";
    const char *inputs[] = {"", "AAAA", "AA==", "AAA=", "A===", "====", "AA==AAAA", "AA AA",
                            " AAAA\n", "AAAA-", "AAA-", "AAAA----", "AB*D", "\x80" "AAA",
                            "QUJD\r\nREVG\tR0g=", "QUI=", "QQ==", "AB==", "AAB=", "A=AA", "A=A=",
                            "AAAA====", "AAAA\xff" "AAA", digest, spaced};
    const size_t caps[] = {0, 3, 32, 33, 48, 516, 2000};
    spaced[0] = '\0'; /* 1120 characters in lines of 76: more than the stack takes */
    for (int i = 1; i <= 280; i++)
        strcat(spaced, i % 19 ? "QUJD" : "QUJD\r\n");
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        uint8_t *heap = NULL;
        size_t heap_len = 0, len = 0;
        int want = b64_decode(inputs[i], strlen(inputs[i]), &heap, &heap_len);
        for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
            uint8_t buf[2000];
            int got = b64_decode_small(inputs[i], strlen(inputs[i]), buf, caps[c], &len);
            if (got == 1)
                continue; /* does not fit: the caller asks b64_decode */
            assert_int_equal(got, want);
            if (got == 0) {
                assert_int_equal(len, heap_len);
                assert_memory_equal(buf, heap, len);
            }
        }
        free(heap);
    }
    uint8_t buf[48];
    size_t len = 0;
    assert_int_equal(b64_decode_small(digest, strlen(digest), buf, sizeof buf, &len), 0);
    assert_int_equal(len, 32);
    assert_int_equal(b64_decode_small(spaced, strlen(spaced), buf, sizeof buf, &len), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_doctype, setup, teardown),
        cmocka_unit_test_setup_teardown(test_internal_entity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_external_entity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_billion_laughs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_nesting, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_security_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrapping_body_moved_to_header, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrapping_body_in_object, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrapping_timestamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reference_uris, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_algorithms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_value_and_retrieval_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tampered_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsigned_parts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unprocessed_security_children, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_soap, setup, teardown),
        cmocka_unit_test(test_base64_without_allocation),
    };
    return cmocka_run_group_tests(tests, test_global_setup, NULL);
}

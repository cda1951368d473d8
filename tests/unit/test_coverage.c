/* test_coverage.c - what the signature must cover (DESIGN.md receiver rule
 * 6) and what a broker checks of the EncryptedKey without the service key
 * (issue 11, items 5 and 6). Every case runs through msgsec_verify (a
 * verify-only receiver, as the plugin and the bridge use) and msgsec_unwrap
 * and asserts both classes.
 *   - A certificate sender that does not sign its BST (WSS4J's and WCF's
 *     defaults) is accepted with the certificate's identity; protect_tokens
 *     refuses it (8). A BST swapped for another key's certificate fails the
 *     signature (4); one for another certificate of the same key is what
 *     protect_tokens is for. Every WS-Addressing header must be signed.
 *   - msgsec wrap signs its EncryptedKey: a bit-flipped or truncated
 *     CipherValue and rsa-1_5 are caught by the digest (4), a removed key by
 *     the dangling Reference (3). A peer that signs no EncryptedKey is
 *     accepted; its key is still checked for algorithm (8), structure (3)
 *     and presence (3); protect_tokens requires it signed (8). */
#include <openssl/x509v3.h>

#include "recv_test_util.h"
#include "saml.h"

typedef enum ek_variant { EK_BITFLIP, EK_TRUNCATED, EK_RSA15, EK_REMOVED } ek_variant;
static const char *const ek_variant_names[] = {"bit-flipped", "truncated", "rsa-1_5", "removed"};

/* verify and unwrap of env, each by a fresh receiver, must give these classes. */
static void expect_classes(const char *what, const char *env, int protect_tokens,
                           msgsec_err want_verify, msgsec_err want_unwrap)
{
    recv_setup vs = {.verify_only = 1, .protect_tokens = protect_tokens};
    recv_setup us = {.protect_tokens = protect_tokens};
    msgsec_receiver *v = receiver_with(&vs), *u = receiver_with(&us);
    msgsec_error ev, eu;
    msgsec_err rv = verify_rc(v, env, &ev), ru = unwrap_rc(u, env, &eu);
    print_message("    %s: verify %d (%s), unwrap %d (%s)\n", what, rv, ev.detail, ru, eu.detail);
    if (rv != want_verify || ru != want_unwrap)
        fail_msg("%s: verify %d (want %d): %s; unwrap %d (want %d): %s", what, rv, want_verify,
                 ev.detail, ru, want_unwrap, eu.detail);
    msgsec_receiver_free(v);
    msgsec_receiver_free(u);
}

/* The identity both receivers name for an accepted env. */
static void expect_identity(const char *env, const char *identity)
{
    recv_setup vs = {.verify_only = 1};
    msgsec_receiver *v = receiver_with(&vs), *u = receiver_with(NULL);
    msgsec_context *ctx = NULL;
    msgsec_error e;
    if (msgsec_verify(v, (const uint8_t *)env, strlen(env), &ctx, &e) != MSGSEC_OK)
        fail_msg("verify: %s", e.detail);
    assert_string_equal(msgsec_context_identity(ctx), identity);
    msgsec_context_free(ctx);
    ctx = unwrap_ok(u, env, "payload");
    assert_string_equal(msgsec_context_identity(ctx), identity);
    msgsec_context_free(ctx);
    msgsec_receiver_free(v);
    msgsec_receiver_free(u);
}

/* The References to "#PREFIX-N" of env removed (none must remain unremoved:
 * the test fails when there is none), every digest and the signature
 * recomputed with key: what a sender that does not sign that element sends. */
static char *unsign_uri(const char *env, const char *uri, const char *key)
{
    int removed = 0;
    xmlDocPtr doc = dom(env);
    xmlNodePtr si = dom_find(dom_message_signature(doc)->children, NS_DS, "SignedInfo");
    for (xmlNodePtr r = si->children, next; r; r = next) {
        const char *u = xml_is(r, NS_DS, "Reference") ? xml_attr(r, NULL, "URI") : NULL;
        next = r->next;
        if (u && strcmp(u, uri) == 0) {
            xmlUnlinkNode(r);
            xmlFreeNode(r);
            removed++;
        }
    }
    if (removed != 1)
        fail_msg("no Reference to %s", uri);
    char *edited = dom_string(doc);
    char *out = resign(edited, pki(key), NULL);
    free(edited);
    return out;
}

static char *unsign(const char *env, const char *prefix, const char *key)
{
    char uri[128];
    snprintf(uri, sizeof uri, "#%s-%s", prefix, id_suffix(env));
    return unsign_uri(env, uri, key);
}

static char *without(const char *env, const char *ns, const char *name)
{
    xmlDocPtr doc = dom(env);
    xmlNodePtr n = dom_get(doc, ns, name);
    xmlUnlinkNode(n);
    xmlFreeNode(n);
    return dom_string(doc);
}

/* What an attacker without any key can do to the envelope's EncryptedKey. */
static char *ek_variant_of(const char *env, ek_variant v)
{
    if (v == EK_BITFLIP)
        return tamper_b64(env, "<xenc:EncryptedKey", "xenc:CipherValue");
    if (v == EK_RSA15)
        return replace_first(env, ALG_RSA_OAEP_MGF1P, ALG_RSA_1_5);
    if (v == EK_REMOVED)
        return without(env, NS_XENC, "EncryptedKey");
    /* truncated to half its length, still well-formed base64 */
    xmlDocPtr doc = dom(env);
    xmlNodePtr cv = dom_find(dom_get(doc, NS_XENC, "EncryptedKey")->children, NS_XENC,
                             "CipherValue");
    assert_non_null(cv);
    xmlChar *text = xmlNodeGetContent(cv);
    size_t half = strlen((char *)text) / 8 * 4;
    text[half] = '\0';
    xmlNodeSetContent(cv, text);
    xmlFree(text);
    return dom_string(doc);
}

/* The envelope of client with "payload"; *key: its key's PKI file name. */
static char *envelope_of(const char *client)
{
    msgsec_sender *s = sender_for(client);
    char *env = wrap_with(s, "payload", NULL, 0);
    msgsec_sender_free(s);
    return env;
}

static const char *key_of(const char *client)
{
    return strcmp(client, "client-rsa") == 0 ? "client-rsa.key" : "client-ec.key";
}

/* base64 DER of the certificate in pem; with ca_key, a copy re-issued by the
 * test CA as CN=shop1-admin,O=Example for the same key (a CA that certifies
 * one key twice). Caller frees with free(). */
static char *cert_b64_of(const char *pem, const char *ca_key_pem)
{
    X509 *cert = NULL, *ca = NULL;
    EVP_PKEY *ca_key = NULL;
    msgsec_error e;
    assert_int_equal(load_cert(pem, &cert, &e), 0);
    if (ca_key_pem) {
        X509 *alias = X509_new();
        X509_NAME *name = X509_NAME_new();
        assert_int_equal(load_cert(pki("ca.pem"), &ca, &e), 0);
        assert_int_equal(load_private_key(ca_key_pem, &ca_key, &e), 0);
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Example", -1,
                                   -1, 0);
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"shop1-admin",
                                   -1, -1, 0);
        X509_set_version(alias, 2);
        ASN1_INTEGER_set(X509_get_serialNumber(alias), 777001);
        X509_set_subject_name(alias, name);
        X509_set_issuer_name(alias, X509_get_subject_name(ca));
        X509_gmtime_adj(X509_getm_notBefore(alias), -3600);
        X509_gmtime_adj(X509_getm_notAfter(alias), 86400);
        X509_set_pubkey(alias, X509_get0_pubkey(cert));
        X509_EXTENSION *ku = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage,
                                                 "critical,digitalSignature");
        X509_add_ext(alias, ku, -1);
        X509_EXTENSION_free(ku);
        assert_true(X509_sign(alias, ca_key, EVP_sha256()) > 0);
        X509_NAME_free(name);
        X509_free(cert);
        cert = alias;
    }
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    strbuf sb;
    sb_init(&sb, 0, 0);
    sb_put_base64(&sb, der, (size_t)len);
    OPENSSL_free(der);
    X509_free(cert);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return sb_steal(&sb, NULL);
}

/* env with its BST's content replaced by b64 (nothing re-signed). */
static char *with_bst(const char *env, const char *b64)
{
    xmlDocPtr doc = dom(env);
    xmlNodeSetContent(dom_get(doc, NS_WSSE, "BinarySecurityToken"), BAD_CAST b64);
    return dom_string(doc);
}

/* ------------------------------------------------------------- item 5 */

static void test_unsigned_bst_accepted(void **state)
{
    (void)state;
    const char *clients[] = {"client-rsa", "client-ec"};
    const char *identities[] = {"CN=shop1,O=Example", "CN=shop2,O=Example"};
    for (int i = 0; i < 2; i++) {
        char *env = envelope_of(clients[i]);
        char *bst_unsigned = unsign(env, "x509", key_of(clients[i]));
        /* msgsec's own envelope signs BST and EncryptedKey: strict receivers take it */
        expect_classes("msgsec envelope, protect_tokens", env, 1, MSGSEC_OK, MSGSEC_OK);
        expect_identity(bst_unsigned, identities[i]);
        expect_classes("unsigned BST, protect_tokens", bst_unsigned, 1, MSGSEC_E_POLICY,
                       MSGSEC_E_POLICY);
        /* another key's certificate (client3, RSA) in the unsigned BST: the
         * signature fails (4), or an ECDSA signature does not fit its key (8) */
        char *client3 = cert_b64_of(pki("client3.pem"), NULL);
        char *swapped = with_bst(bst_unsigned, client3);
        msgsec_err want = i == 0 ? MSGSEC_E_AUTH : MSGSEC_E_POLICY;
        expect_classes("BST swapped for another key's certificate", swapped, 0, want, want);
        free(swapped);
        free(client3);
        free(bst_unsigned);
        free(env);
    }
}

/* The one thing an unsigned BST allows: another trusted certificate of the
 * same key in its place (the key holder's other identity). protect_tokens
 * refuses it. */
static void test_same_key_certificate(void **state)
{
    (void)state;
    char *env = envelope_of("client-rsa");
    char *bst_unsigned = unsign(env, "x509", "client-rsa.key");
    char *alias = cert_b64_of(pki("client-rsa.pem"), pki("ca.key"));
    char *swapped = with_bst(bst_unsigned, alias);
    expect_identity(swapped, "CN=shop1-admin,O=Example");
    expect_classes("same-key certificate, protect_tokens", swapped, 1, MSGSEC_E_POLICY,
                   MSGSEC_E_POLICY);
    /* msgsec's envelope signs its BST: the swap breaks the digest */
    char *signed_swap = with_bst(env, alias);
    expect_classes("same-key certificate in a signed BST", signed_swap, 0, MSGSEC_E_AUTH,
                   MSGSEC_E_AUTH);
    free(signed_swap);
    free(swapped);
    free(alias);
    free(bst_unsigned);
    free(env);
}

static void test_addressing_headers_signed(void **state)
{
    (void)state;
    char *env = envelope_of("client-rsa");
    const char *prefixes[] = {"to", "act", "mid"};
    for (int i = 0; i < 3; i++) {
        char *bst_unsigned = unsign(env, "x509", "client-rsa.key");
        char *edited = unsign(bst_unsigned, prefixes[i], "client-rsa.key");
        expect_classes(prefixes[i], edited, 0, MSGSEC_E_POLICY, MSGSEC_E_POLICY);
        free(edited);
        free(bst_unsigned);
    }
    /* any WS-Addressing header, not only those msgsec reads */
    char *reply_to = replace_first(env, "<wsse:Security", "<wsa:ReplyTo><wsa:Address>"
                                   "urn:attacker</wsa:Address></wsa:ReplyTo><wsse:Security");
    expect_classes("unsigned wsa:ReplyTo", reply_to, 0, MSGSEC_E_POLICY, MSGSEC_E_POLICY);
    free(reply_to);
    free(env);
}

/* Without wsa:To a message passes a receiver that expects none, and is
 * refused (8) by one that expects an address; an unsigned one in either. */
static void test_expected_to(void **state)
{
    (void)state;
    char *env = envelope_of("client-rsa");
    char *bst_unsigned = unsign(env, "x509", "client-rsa.key");
    char *no_ref = unsign(bst_unsigned, "to", "client-rsa.key");
    char *no_to = without(no_ref, NS_WSA, "To");
    recv_setup anywhere = {.expected_to = ""}, anywhere_v = {.expected_to = "", .verify_only = 1};
    msgsec_receiver *u = receiver_with(&anywhere), *v = receiver_with(&anywhere_v);
    msgsec_error e;
    assert_int_equal(verify_rc(v, no_to, &e), MSGSEC_OK);
    assert_int_equal(unwrap_rc(u, no_to, &e), MSGSEC_OK);
    msgsec_receiver_free(u);
    msgsec_receiver_free(v);
    expect_classes("no wsa:To, --to set", no_to, 0, MSGSEC_E_POLICY, MSGSEC_E_POLICY);
    expect_classes("unsigned wsa:To, --to set", no_ref, 0, MSGSEC_E_POLICY, MSGSEC_E_POLICY);
    free(no_to);
    free(no_ref);
    free(bst_unsigned);
    free(env);
}

/* issued: the Assertion carries the identity and the claims, so it stays
 * signed whatever protect_tokens says; its EncryptedKey is signed as the
 * certificate credential's. */
static void test_issued_token_signed(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_coverage.XXXXXX", token[600], *xml = NULL;
    size_t xml_len = 0;
    EVP_PKEY *sts_key = NULL;
    X509 *sts = NULL, *holder = NULL;
    msgsec_error e;
    saml_attr attrs[] = {{"role", "buyer"}};
    assert_non_null(mkdtemp(dir));
    snprintf(token, sizeof token, "%s/token.xml", dir);
    assert_int_equal(load_private_key(pki("sts.key"), &sts_key, &e), 0);
    assert_int_equal(load_cert(pki("sts.pem"), &sts, &e), 0);
    assert_int_equal(load_cert(pki("client-rsa.pem"), &holder, &e), 0);
    saml_issue_params p = {.sts_key = sts_key, .sts_cert = sts, .subject = "shop1",
                           .audience = TEST_TO, .subject_cert = holder, .attrs = attrs,
                           .n_attrs = 1};
    assert_int_equal(saml_issue(&p, &xml, &xml_len, &e), 0);
    FILE *f = fopen(token, "w");
    assert_non_null(f);
    fwrite(xml, 1, xml_len, f);
    fclose(f);
    msgsec_sender_opts so = {.credential = MSGSEC_CRED_ISSUED, .cert_file = pki("client-rsa.pem"),
                             .key_file = pki("client-rsa.key"), .token_file = token,
                             .service_cert_file = pki("service.pem")};
    msgsec_sender *s = NULL;
    assert_int_equal(msgsec_sender_new(&so, &s, &e), 0);
    char *env = wrap_with(s, "payload", NULL, 0);
    msgsec_sender_free(s);

    xmlDocPtr doc = dom(env);
    char uri[256];
    snprintf(uri, sizeof uri, "#%s", xml_attr(dom_get(doc, NS_SAML2, "Assertion"), NULL, "ID"));
    xmlFreeDoc(doc);
    char *unsigned_token = unsign_uri(env, uri, "client-rsa.key");
    char *bitflip = ek_variant_of(env, EK_BITFLIP);
    char ca_path[512], sts_path[512], cert_path[512], key_path[512]; /* pki() reuses its buffers */
    snprintf(ca_path, sizeof ca_path, "%s", pki("ca.pem"));
    snprintf(sts_path, sizeof sts_path, "%s", pki("sts.pem"));
    snprintf(cert_path, sizeof cert_path, "%s", pki("service.pem"));
    snprintf(key_path, sizeof key_path, "%s", pki("service.key"));
    const char *cas[] = {ca_path}, *issuers[] = {sts_path};
    const struct { const char *env; msgsec_err want; } cases[] = {
        {env, MSGSEC_OK}, {unsigned_token, MSGSEC_E_POLICY}, {bitflip, MSGSEC_E_AUTH}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int full = 0; full < 2; full++) {
            msgsec_receiver_opts o = {.cert_file = cert_path,
                                      .key_file = full ? key_path : NULL,
                                      .ca_files = cas, .n_ca_files = 1,
                                      .issuer_files = issuers, .n_issuer_files = 1,
                                      .expected_to = TEST_TO};
            msgsec_receiver *r = NULL;
            assert_int_equal(msgsec_receiver_new(&o, &r, &e), 0);
            msgsec_err rc = full ? unwrap_rc(r, cases[i].env, &e) : verify_rc(r, cases[i].env, &e);
            print_message("    issued case %zu, %s: %d (%s)\n", i, full ? "unwrap" : "verify", rc,
                          e.detail);
            if (rc != cases[i].want)
                fail_msg("issued case %zu: class %d, want %d: %s", i, rc, cases[i].want, e.detail);
            msgsec_receiver_free(r);
        }
    }
    free(bitflip);
    free(unsigned_token);
    free(env);
    free(xml);
    X509_free(holder);
    X509_free(sts);
    EVP_PKEY_free(sts_key);
    remove(token);
    remove(dir);
}

/* ------------------------------------------------------------- item 6 */

/* msgsec wrap signs its EncryptedKey: every variant fails at the broker. */
static void test_signed_key_variants(void **state)
{
    (void)state;
    const char *clients[] = {"client-rsa", "client-ec"};
    const msgsec_err want[] = {MSGSEC_E_AUTH, MSGSEC_E_AUTH, MSGSEC_E_AUTH, MSGSEC_E_MALFORMED};
    for (int c = 0; c < 2; c++) {
        char *env = envelope_of(clients[c]);
        for (int v = EK_BITFLIP; v <= EK_REMOVED; v++) {
            char *bad = ek_variant_of(env, (ek_variant)v);
            expect_classes(ek_variant_names[v], bad, 0, want[v], want[v]);
            free(bad);
        }
        free(env);
    }
}

/* A peer that does not sign its EncryptedKey is accepted; the broker still
 * refuses what it can see without the key. */
static void test_unsigned_key_peer(void **state)
{
    (void)state;
    char *env = envelope_of("client-rsa");
    char *peer = unsign(env, "ek", "client-rsa.key");
    expect_identity(peer, "CN=shop1,O=Example");
    expect_classes("unsigned EncryptedKey, protect_tokens", peer, 1, MSGSEC_E_POLICY,
                   MSGSEC_E_POLICY);
    /* the bit flip only the service sees; a half-length value does not fit the
     * service key this receiver names (both hold the service certificate) */
    const msgsec_err want_verify[] = {MSGSEC_OK, MSGSEC_E_MALFORMED, MSGSEC_E_POLICY,
                                      MSGSEC_E_MALFORMED};
    const msgsec_err want_unwrap[] = {MSGSEC_E_DECRYPT, MSGSEC_E_MALFORMED, MSGSEC_E_POLICY,
                                      MSGSEC_E_MALFORMED};
    for (int v = EK_BITFLIP; v <= EK_REMOVED; v++) {
        char *bad = ek_variant_of(peer, (ek_variant)v);
        expect_classes(ek_variant_names[v], bad, 0, want_verify[v], want_unwrap[v]);
        free(bad);
    }
    /* not base64 any more */
    char *cut = replace_first(peer, "</xenc:CipherValue></xenc:CipherData><xenc:ReferenceList>",
                              "A</xenc:CipherValue></xenc:CipherData><xenc:ReferenceList>");
    expect_classes("CipherValue not base64", cut, 0, MSGSEC_E_MALFORMED, MSGSEC_E_MALFORMED);
    free(cut);
    free(peer);
    free(env);
}

/* The key reference to the service certificate must be one we read and well
 * formed; exactly one EncryptedKey may serve the Body. */
static void test_key_reference(void **state)
{
    (void)state;
    char *env = envelope_of("client-rsa");
    char *peer = unsign(env, "ek", "client-rsa.key");
    xmlDocPtr doc = dom(peer);
    xmlNodePtr key_id = dom_find(dom_get(doc, NS_XENC, "EncryptedKey")->children, NS_WSSE,
                                 "KeyIdentifier");
    assert_non_null(key_id);
    xmlNodeSetContent(key_id, BAD_CAST "AAAAAAAAAAAAAAAAAAAAAAAAAA=="); /* 19 bytes */
    char *short_thumb = dom_string(doc);
    expect_classes("19-byte thumbprint", short_thumb, 0, MSGSEC_E_MALFORMED, MSGSEC_E_MALFORMED);
    doc = dom(peer);
    key_id = dom_find(dom_get(doc, NS_XENC, "EncryptedKey")->children, NS_WSSE, "KeyIdentifier");
    xmlNodeSetContent(key_id, BAD_CAST "AAAAAAAAAAAAAAAAAAAAAAAAAAA="); /* 20 bytes, not ours */
    char *other_thumb = dom_string(doc);
    expect_classes("another certificate's thumbprint", other_thumb, 0, MSGSEC_OK,
                   MSGSEC_E_DECRYPT);
    char *serial = replace_first(peer, "<wsse:KeyIdentifier",
                                 "<ds:X509Data><ds:X509IssuerSerial><ds:X509IssuerName>CN=x"
                                 "</ds:X509IssuerName><ds:X509SerialNumber>12a</ds:X509SerialNumber>"
                                 "</ds:X509IssuerSerial></ds:X509Data><wsse:KeyIdentifier");
    expect_classes("non-numeric serial", serial, 0, MSGSEC_E_MALFORMED, MSGSEC_E_MALFORMED);
    doc = dom(peer);
    xmlNodePtr str = dom_find(dom_get(doc, NS_XENC, "EncryptedKey")->children, NS_WSSE,
                              "SecurityTokenReference");
    xmlNodePtr key_name = xmlNewDocNode(doc, str->parent->ns, BAD_CAST "KeyName", BAD_CAST "svc");
    xmlReplaceNode(str, key_name);
    xmlFreeNode(str);
    char *by_name = dom_string(doc);
    expect_classes("KeyName only", by_name, 0, MSGSEC_E_POLICY, MSGSEC_E_POLICY);
    doc = dom(peer);
    xmlNodePtr ki = dom_find(dom_get(doc, NS_XENC, "EncryptedKey")->children, NS_DS, "KeyInfo");
    xmlUnlinkNode(ki);
    xmlFreeNode(ki);
    char *no_ki = dom_string(doc);
    expect_classes("no KeyInfo", no_ki, 0, MSGSEC_E_MALFORMED, MSGSEC_E_MALFORMED);

    /* a second EncryptedKey listing the Body's EncryptedData: in msgsec's
     * envelope (the signed one stays) and in the peer's */
    const char *envs[] = {env, peer};
    for (int i = 0; i < 2; i++) {
        doc = dom(envs[i]);
        xmlNodePtr ek = dom_get(doc, NS_XENC, "EncryptedKey");
        xmlNodePtr copy = xmlCopyNode(ek, 1);
        xmlSetProp(copy, BAD_CAST "Id", BAD_CAST "ek-second");
        xmlAddPrevSibling(ek, copy);
        char *two = dom_string(doc);
        expect_classes("second EncryptedKey", two, 0, MSGSEC_E_MALFORMED, MSGSEC_E_MALFORMED);
        free(two);
    }
    free(no_ki);
    free(by_name);
    free(serial);
    free(other_thumb);
    free(short_thumb);
    free(peer);
    free(env);
}

/* none credential: the EncryptedKey is the signing token; a broker checks its
 * structure too (it used to accept any). */
static void test_none_key_at_broker(void **state)
{
    (void)state;
    char *env = envelope_of(NULL);
    char *rsa15 = ek_variant_of(env, EK_RSA15);
    expect_classes("none: rsa-1_5", rsa15, 0, MSGSEC_E_POLICY, MSGSEC_E_POLICY);
    char *removed = ek_variant_of(env, EK_REMOVED);
    expect_classes("none: removed", removed, 0, MSGSEC_E_MALFORMED, MSGSEC_E_MALFORMED);
    char *bitflip = ek_variant_of(env, EK_BITFLIP);
    expect_classes("none: bit-flipped (the HMAC key changes)", bitflip, 0, MSGSEC_OK,
                   MSGSEC_E_DECRYPT);
    /* strict receivers take msgsec's none envelopes: the key is the HMAC key */
    expect_classes("none, protect_tokens", env, 1, MSGSEC_OK, MSGSEC_OK);
    free(bitflip);
    free(removed);
    free(rsa15);
    free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unsigned_bst_accepted),
        cmocka_unit_test(test_same_key_certificate),
        cmocka_unit_test(test_addressing_headers_signed),
        cmocka_unit_test(test_expected_to),
        cmocka_unit_test(test_issued_token_signed),
        cmocka_unit_test(test_signed_key_variants),
        cmocka_unit_test(test_unsigned_key_peer),
        cmocka_unit_test(test_key_reference),
        cmocka_unit_test(test_none_key_at_broker),
    };
    return cmocka_run_group_tests(tests, test_global_setup, NULL);
}

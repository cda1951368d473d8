/* recv_test_util.h - helpers shared by the receiver unit tests (cmocka):
 * test PKI paths ($MSGSEC_PKI, tests/lib/pki.sh), senders and receivers,
 * envelope editing (string and DOM) and an attacker's re-signer.
 * Included by one test program each; everything is static. */
#ifndef RECV_TEST_UTIL_H
#define RECV_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "context.h"
#include "internal.h"
#include "replay.h"
#include "xml.h"

#define TEST_TO "urn:example:orders"

static inline const char *test_pki_dir(void)
{
    const char *dir = getenv("MSGSEC_PKI");
    return dir ? dir : "build/test-pki";
}

/* PKI file path; up to 8 results stay valid at once. */
static inline const char *pki(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", test_pki_dir(), name);
    return p;
}

/* Sender with PKI client NAME (NULL for the none credential). */
static inline msgsec_sender *sender_for(const char *name)
{
    char cert[64], key[64];
    msgsec_sender_opts o;
    msgsec_error e;
    msgsec_sender *s = NULL;
    memset(&o, 0, sizeof o);
    o.credential = name ? MSGSEC_CRED_CERTIFICATE : MSGSEC_CRED_NONE;
    if (name) {
        snprintf(cert, sizeof cert, "%s.pem", name);
        snprintf(key, sizeof key, "%s.key", name);
        char cert_path[512], key_path[512];
        snprintf(cert_path, sizeof cert_path, "%s", pki(cert));
        snprintf(key_path, sizeof key_path, "%s", pki(key));
        o.cert_file = cert_path;
        o.key_file = key_path;
        o.service_cert_file = pki("service.pem");
        if (msgsec_sender_new(&o, &s, &e) != MSGSEC_OK)
            fail_msg("sender %s: %s", name, e.detail);
        return s;
    }
    o.service_cert_file = pki("service.pem");
    if (msgsec_sender_new(&o, &s, &e) != MSGSEC_OK)
        fail_msg("sender none: %s", e.detail);
    return s;
}

/* Removes a temporary directory of a test (mkdtemp under /tmp). */
static inline void remove_tree(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* NUL-terminated envelope; caller frees with free(). */
static inline char *wrap_with(msgsec_sender *s, const char *payload, const char *content_type,
                       time_t now)
{
    msgsec_wrap_params p;
    msgsec_error e;
    uint8_t *out = NULL;
    size_t len = 0;
    memset(&p, 0, sizeof p);
    p.to = TEST_TO;
    p.content_type = content_type;
    p.now = now;
    if (msgsec_wrap(s, &p, (const uint8_t *)payload, strlen(payload), &out, &len, &e) != MSGSEC_OK)
        fail_msg("wrap: %s", e.detail);
    char *env = malloc(len + 1);
    assert_non_null(env);
    memcpy(env, out, len);
    env[len] = '\0';
    msgsec_free(out);
    return env;
}

static inline char *wrap_as(const char *client, const char *payload)
{
    msgsec_sender *s = sender_for(client);
    char *env = wrap_with(s, payload, NULL, 0);
    msgsec_sender_free(s);
    return env;
}

typedef struct recv_setup {
    int verify_only;          /* no service key */
    int with_crl;
    const char *expected_to;  /* NULL = TEST_TO, "" = not checked */
    const char *replay_path;
    size_t replay_max_bytes;
    size_t max_bytes;
    unsigned accepted;
    const char *service;      /* PKI name of the service identity; NULL = "service" */
    int protect_tokens;       /* msgsec_receiver_opts.protect_tokens */
    const msgsec_receiver *replay_shared_with; /* share this receiver's replay cache */
} recv_setup;

static inline msgsec_receiver *receiver_with(const recv_setup *rs)
{
    static const char *cas[1], *crls[1];
    char cert[512], key[512];
    msgsec_receiver_opts o;
    msgsec_error e;
    msgsec_receiver *r = NULL;
    const char *service = rs && rs->service ? rs->service : "service";
    snprintf(cert, sizeof cert, "%s/%s.pem", test_pki_dir(), service);
    snprintf(key, sizeof key, "%s/%s.key", test_pki_dir(), service);
    cas[0] = pki("ca.pem");
    crls[0] = pki("crl.pem");
    memset(&o, 0, sizeof o);
    o.cert_file = cert;
    o.key_file = rs && rs->verify_only ? NULL : key;
    o.ca_files = cas;
    o.n_ca_files = 1;
    o.crl_files = crls;
    o.n_crl_files = rs && rs->with_crl ? 1 : 0;
    o.expected_to = !rs || !rs->expected_to ? TEST_TO : *rs->expected_to ? rs->expected_to : NULL;
    o.replay_path = rs ? rs->replay_path : NULL;
    o.replay_max_bytes = rs ? rs->replay_max_bytes : 0;
    o.replay_shared_with = rs ? rs->replay_shared_with : NULL;
    o.max_message_bytes = rs ? rs->max_bytes : 0;
    o.accepted_credentials = rs ? rs->accepted : 0;
    o.protect_tokens = rs ? rs->protect_tokens : 0;
    if (msgsec_receiver_new(&o, &r, &e) != MSGSEC_OK)
        fail_msg("receiver: %s", e.detail);
    return r;
}

/* Unwraps (or verifies) env and returns the class; the detail lands in *e. */
static inline msgsec_err unwrap_rc(msgsec_receiver *r, const char *env, msgsec_error *e)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    memset(e, 0, sizeof *e);
    msgsec_err rc = msgsec_unwrap(r, (const uint8_t *)env, strlen(env), &payload, &len, NULL, e);
    if (rc != MSGSEC_OK)
        assert_null(payload);
    msgsec_free_secret(payload, len);
    return rc;
}

/* Unwraps env, which must succeed with exactly payload; returns the context
 * (caller frees with msgsec_context_free). */
static inline msgsec_context *unwrap_ok(msgsec_receiver *r, const char *env, const char *payload)
{
    msgsec_context *ctx = NULL;
    msgsec_error e;
    uint8_t *out = NULL;
    size_t len = 0;
    if (msgsec_unwrap(r, (const uint8_t *)env, strlen(env), &out, &len, &ctx, &e) != MSGSEC_OK)
        fail_msg("unwrap: %s", e.detail);
    assert_int_equal(len, strlen(payload));
    assert_memory_equal(out, payload, len);
    msgsec_free_secret(out, len);
    return ctx;
}

static inline msgsec_err verify_rc(msgsec_receiver *r, const char *env, msgsec_error *e)
{
    memset(e, 0, sizeof *e);
    return msgsec_verify(r, (const uint8_t *)env, strlen(env), NULL, e);
}

/* Asserts the class of a fresh default receiver's unwrap, printing the detail. */
#define assert_unwrap_class(env, want)                                                     \
    do {                                                                                   \
        msgsec_receiver *r_ = receiver_with(NULL);                                         \
        msgsec_error e_;                                                                   \
        msgsec_err rc_ = unwrap_rc(r_, (env), &e_);                                        \
        if (rc_ != (want))                                                                 \
            fail_msg("unwrap class %d (want %d): %s", rc_, (want), e_.detail);             \
        print_message("    class %d: %s\n", rc_, e_.detail);                               \
        msgsec_receiver_free(r_);                                                          \
    } while (0)

/* Copy of s with the first occurrence of old replaced; fails the test when
 * old is absent (so that a test cannot pass by not changing anything). */
static inline char *replace_first(const char *s, const char *old, const char *new_text)
{
    const char *at = strstr(s, old);
    if (!at)
        fail_msg("test edit: \"%s\" not found", old);
    size_t before = (size_t)(at - s), ol = strlen(old), nl = strlen(new_text);
    char *out = malloc(strlen(s) - ol + nl + 1);
    assert_non_null(out);
    memcpy(out, s, before);
    memcpy(out + before, new_text, nl);
    strcpy(out + before + nl, at + ol);
    return out;
}

/* The per-message id suffix N of "body-N" (static buffer). */
static inline const char *id_suffix(const char *env)
{
    static char suffix[64];
    const char *p = strstr(env, "wsu:Id=\"body-");
    assert_non_null(p);
    p += strlen("wsu:Id=\"body-");
    size_t n = strcspn(p, "\"");
    assert_true(n < sizeof suffix);
    memcpy(suffix, p, n);
    suffix[n] = '\0';
    return suffix;
}

/* Flips one base64 character inside the first <tag>...</tag> after `after`. */
static inline char *tamper_b64(const char *env, const char *after, const char *tag)
{
    char *out = strdup(env);
    char open[64];
    assert_non_null(out);
    snprintf(open, sizeof open, "<%s", tag);
    char *p = strstr(out, after);
    assert_non_null(p);
    p = strstr(p, open);
    assert_non_null(p);
    p = strchr(p, '>') + 1;
    p += 4; /* inside the value, away from any padding */
    *p = *p == 'A' ? 'B' : 'A';
    return out;
}

/* ------------------------------------------------------------ DOM editing */

static inline xmlDocPtr dom(const char *env)
{
    xmlDocPtr doc = NULL;
    assert_int_equal(xml_parse((const uint8_t *)env, strlen(env), 1u << 24, &doc, NULL), 0);
    return doc;
}

static inline char *dom_string(xmlDocPtr doc)
{
    xmlChar *mem = NULL;
    int len = 0;
    xmlDocDumpMemory(doc, &mem, &len);
    assert_non_null(mem);
    char *s = strdup((const char *)mem);
    xmlFree(mem);
    xmlFreeDoc(doc);
    return s;
}

static inline xmlNodePtr dom_find(xmlNodePtr node, const char *ns, const char *name)
{
    for (; node; node = node->next) {
        if (xml_is(node, ns, name))
            return node;
        xmlNodePtr found = node->type == XML_ELEMENT_NODE ? dom_find(node->children, ns, name) : NULL;
        if (found)
            return found;
    }
    return NULL;
}

static inline xmlNodePtr dom_get(xmlDocPtr doc, const char *ns, const char *name)
{
    xmlNodePtr n = dom_find(doc->children, ns, name);
    if (!n)
        fail_msg("no <%s> in the test envelope", name);
    return n;
}

static inline int sink_sb(void *ctx, const char *buf, int len)
{
    sb_append(ctx, buf, (size_t)len);
    return len;
}

static inline void set_b64_text(xmlNodePtr node, const uint8_t *data, size_t len)
{
    strbuf sb;
    sb_init(&sb, 0, 0);
    sb_put_base64(&sb, data, len);
    xmlNodeSetContent(node, BAD_CAST sb.data);
    sb_free(&sb, 0);
}

/* The message's ds:Signature (the Security header's child, not a SAML
 * assertion's). */
static inline xmlNodePtr dom_message_signature(xmlDocPtr doc)
{
    for (xmlNodePtr c = dom_get(doc, NS_WSSE, "Security")->children; c; c = c->next)
        if (xml_is(c, NS_DS, "Signature"))
            return c;
    fail_msg("no Signature in the Security header");
    return NULL;
}

/* What an attacker holding KEY can do: recompute every digest and the
 * signature (RSA/ECDSA) of the envelope's Signature; with cert_pem, the BST
 * first gets that certificate. */
static inline char *resign(const char *env, const char *key_pem, const char *cert_pem)
{
    xmlDocPtr doc = dom(env);
    xml_ids ids = {0};
    EVP_PKEY *key = NULL;
    msgsec_error e;
    assert_int_equal(load_private_key(key_pem, &key, &e), 0);
    if (cert_pem) {
        X509 *cert = NULL;
        unsigned char *der = NULL;
        assert_int_equal(load_cert(cert_pem, &cert, &e), 0);
        int n = i2d_X509(cert, &der);
        set_b64_text(dom_get(doc, NS_WSSE, "BinarySecurityToken"), der, (size_t)n);
        OPENSSL_free(der);
        X509_free(cert);
    }
    assert_int_equal(xml_ids_build(&ids, doc, &e), 0);
    xmlNodePtr sig_elem = dom_message_signature(doc);
    xmlNodePtr si = dom_find(sig_elem->children, NS_DS, "SignedInfo");
    for (xmlNodePtr ref = si->children; ref; ref = ref->next) {
        xmlNodePtr target = NULL;
        strbuf sb;
        uint8_t md[32];
        if (!xml_is(ref, NS_DS, "Reference"))
            continue;
        assert_int_equal(xml_ids_resolve(&ids, xml_attr(ref, NULL, "URI"), &target, &e), 0);
        sb_init(&sb, 0, 0);
        assert_int_equal(xml_c14n_subtree(target, NULL, sink_sb, &sb), 0);
        SHA256((const uint8_t *)sb.data, sb.len, md);
        sb_free(&sb, 0);
        set_b64_text(dom_find(ref->children, NS_DS, "DigestValue"), md, sizeof md);
    }
    strbuf sb;
    sb_init(&sb, 0, 0);
    assert_int_equal(xml_c14n_subtree(si, NULL, sink_sb, &sb), 0);
    uint8_t sig[512];
    size_t sig_len = sizeof sig;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestSign(md, sig, &sig_len, (const uint8_t *)sb.data, sb.len), 1);
    EVP_MD_CTX_free(md);
    sb_free(&sb, 0);
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) { /* DER -> r||s */
        const uint8_t *p = sig;
        ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
        assert_non_null(es);
        BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
        BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
        sig_len = 64;
        ECDSA_SIG_free(es);
    }
    set_b64_text(dom_find(sig_elem->children, NS_DS, "SignatureValue"), sig, sig_len);
    EVP_PKEY_free(key);
    xml_ids_free(&ids);
    return dom_string(doc);
}

static inline int test_global_setup(void **state)
{
    (void)state;
    return msgsec_global_init(NULL) == MSGSEC_OK ? 0 : -1;
}

#endif

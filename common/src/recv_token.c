/* recv_token.c - token resolution of recv_token.h: the signing token of
 * the Signature, the key token of an EncryptedData, and the references
 * that name a certificate. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "dsig.h"
#include "recv_envelope.h"
#include "recv_token.h"
#include "recv_trust.h"

#define WSS_SKI "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"

/* ---------------------------------------------------------- signing token */

/* An X.509 BinarySecurityToken: its certificate, through the signer cache. */
static msgsec_err x509_token(recv_msg *m, xmlNodePtr bst, X509 **cert, msgsec_error *err)
{
    const char *vt = xml_attr(bst, NULL, "ValueType");
    const char *enc = xml_attr(bst, NULL, "EncodingType");
    char *copy = NULL;
    if (!vt || strcmp(vt, WSS_X509V3) != 0)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "signing token type %.80s not supported",
                             vt ? vt : "(none)");
    if (enc && strcmp(enc, WSS_BASE64) != 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "BinarySecurityToken encoding %.80s", enc);
    const char *text = xml_text_ref(bst, &copy);
    if (!text)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    msgsec_err rc = trust_cert_from_b64(&m->r->trust, text, cert, err);
    xmlFree(copy);
    return rc;
}

/* The SAML assertion a KeyIdentifier of ValueType SAMLID names. */
static msgsec_err assertion_token(recv_msg *m, xmlNodePtr key_id, xmlNodePtr *out, msgsec_error *err)
{
    char *id = recv_text(key_id), uri[256];
    if (!id)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    snprintf(uri, sizeof uri, "#%s", id);
    free(id);
    msgsec_err rc = xml_ids_resolve(&m->ids, uri, out, err);
    if (rc == MSGSEC_OK && !xml_is(*out, NS_SAML2, "Assertion"))
        rc = msgsec_seterr(err, MSGSEC_E_POLICY, "SAMLID reference is not a saml2:Assertion");
    return rc;
}

msgsec_err recv_token_signing(recv_msg *m, xmlNodePtr key_info, recv_token *out,
                              msgsec_error *err)
{
    msgsec_err rc;
    memset(out, 0, sizeof *out);
    if (!key_info)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "Signature without KeyInfo");
    if ((rc = dsig_check_key_info(key_info, "KeyInfo", err)))
        return rc;
    xmlNodePtr str = xml_first_elem(key_info);
    if (!xml_is(str, NS_WSSE, "SecurityTokenReference") || xml_next_elem(str))
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "KeyInfo must hold one wsse:SecurityTokenReference");
    xmlNodePtr ref = xml_first_elem(str);
    const char *vt = ref ? xml_attr(ref, NULL, "ValueType") : NULL;
    if (xml_is(ref, NS_WSSE, "KeyIdentifier") && vt && strcmp(vt, WSS_SAML2_ID) == 0 &&
        !xml_next_elem(ref)) {
        out->kind = RECV_TOKEN_SAML;
        return assertion_token(m, ref, &out->node, err);
    }
    if (!xml_is(ref, NS_WSSE, "Reference") || xml_next_elem(ref))
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "signing token must be referenced by wsse:Reference or SAMLID");
    if ((rc = xml_ids_resolve(&m->ids, xml_attr(ref, NULL, "URI"), &out->node, err)))
        return rc;
    vt = xml_attr(out->node, NULL, "ValueType");
    if (xml_is(out->node, NS_WSSE, "BinarySecurityToken") && vt &&
        strcmp(vt, WSS_KERBEROS_APREQ) == 0) {
        out->kind = RECV_TOKEN_KERBEROS;
        return MSGSEC_OK;
    }
    if (xml_is(out->node, NS_WSSE, "BinarySecurityToken")) {
        out->kind = RECV_TOKEN_X509;
        return x509_token(m, out->node, &out->cert, err);
    }
    if (xml_is(out->node, NS_XENC, "EncryptedKey")) {
        out->kind = RECV_TOKEN_ENCRYPTED_KEY;
        return MSGSEC_OK;
    }
    return msgsec_seterr(err, MSGSEC_E_POLICY, "unsupported signing token <%s>",
                         (const char *)out->node->name);
}

void recv_token_clear(recv_token *t)
{
    X509_free(t->cert);
    t->cert = NULL;
}

/* ------------------------------------------------------ key of EncryptedData */

/* 1 when an EncryptedKey's ReferenceList names ed. */
static int ek_lists(const recv_msg *m, xmlNodePtr ek, xmlNodePtr ed)
{
    xmlNodePtr list = xml_child(ek, NS_XENC, "ReferenceList", NULL);
    for (xmlNodePtr r = xml_first_elem(list); r; r = xml_next_elem(r)) {
        xmlNodePtr target = NULL;
        if (xml_is(r, NS_XENC, "DataReference") &&
            xml_ids_resolve(&m->ids, xml_attr(r, NULL, "URI"), &target, NULL) == MSGSEC_OK &&
            target == ed)
            return 1;
    }
    return 0;
}

msgsec_err recv_token_of_data(const recv_msg *m, xmlNodePtr ed, xmlNodePtr *token,
                              msgsec_error *err)
{
    xmlNodePtr key_info = xml_child(ed, NS_DS, "KeyInfo", NULL);
    xmlNodePtr inline_ek = key_info ? xml_child(key_info, NS_XENC, "EncryptedKey", NULL) : NULL;
    xmlNodePtr str = key_info ? xml_child(key_info, NS_WSSE, "SecurityTokenReference", NULL) : NULL;
    xmlNodePtr ref = str ? xml_child(str, NS_WSSE, "Reference", NULL) : NULL, listed = NULL;
    *token = NULL;
    for (xmlNodePtr c = xml_first_elem(m->env.security); c; c = xml_next_elem(c)) {
        if (!xml_is(c, NS_XENC, "EncryptedKey") || !ek_lists(m, c, ed))
            continue;
        if (listed)
            return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                                 "two EncryptedKeys list the same EncryptedData");
        listed = c;
    }
    if (inline_ek) {
        *token = inline_ek;
    } else if (ref) {
        msgsec_err rc = xml_ids_resolve(&m->ids, xml_attr(ref, NULL, "URI"), token, err);
        if (rc)
            return rc;
    } else {
        *token = listed;
    }
    if (!*token)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "no EncryptedKey for the EncryptedData");
    if (listed && listed != *token)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                             "an EncryptedData's KeyInfo and a ReferenceList name different keys");
    return MSGSEC_OK;
}

/* ---------------------------------------------------- certificate references */

/* DN text without the spaces some writers put around ',' '+' '=', lower-cased. */
static void dn_normalize(const char *in, char *out, size_t size)
{
    size_t n = 0;
    char prev = ',';
    for (const char *p = in; *p && n + 1 < size; p++) {
        if (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r') {
            const char *q = p + strspn(p, " \n\t\r");
            if (prev == ',' || prev == '+' || prev == '=' || !*q || *q == ',' || *q == '+' ||
                *q == '=')
                continue;
        }
        prev = *p;
        out[n++] = (char)tolower((unsigned char)*p);
    }
    out[n] = '\0';
}

static int dn_equal(const char *a, const char *b)
{
    char na[512], nb[512];
    dn_normalize(a, na, sizeof na);
    dn_normalize(b, nb, sizeof nb);
    return strcmp(na, nb) == 0;
}

/* Base64 text of node naming a certificate by a value of want_len bytes (0:
 * any non-empty value); *names when ours (our_len bytes, NULL: not compared). */
static recv_cert_ref b64_ref(xmlNodePtr node, size_t want_len, const uint8_t *ours,
                             size_t our_len, int *names)
{
    uint8_t *got = NULL;
    size_t len = 0;
    if (recv_b64_child(node, "identifier", &got, &len, NULL) != MSGSEC_OK || len == 0 ||
        (want_len && len != want_len)) {
        free(got);
        return RECV_REF_BAD;
    }
    *names |= ours && len == our_len && memcmp(got, ours, len) == 0;
    free(got);
    return RECV_REF_OK;
}

static recv_cert_ref der_ref(X509 *cert, xmlNodePtr node, int *names)
{
    unsigned char *der = NULL;
    int len = cert ? i2d_X509(cert, &der) : 0;
    recv_cert_ref ref = b64_ref(node, 0, len > 0 ? der : NULL, len > 0 ? (size_t)len : 0, names);
    OPENSSL_free(der);
    return ref;
}

static recv_cert_ref ski_ref(X509 *cert, xmlNodePtr node, int *names)
{
    const ASN1_OCTET_STRING *ski = cert ? X509_get0_subject_key_id(cert) : NULL;
    return b64_ref(node, 0, ski ? ASN1_STRING_get0_data(ski) : NULL,
                   ski ? (size_t)ASN1_STRING_length(ski) : 0, names);
}

/* ds:X509IssuerSerial: an issuer DN and a decimal serial number. */
static recv_cert_ref issuer_serial_ref(X509 *cert, xmlNodePtr is, int *names)
{
    xmlNodePtr name = xml_child(is, NS_DS, "X509IssuerName", NULL);
    xmlNodePtr serial = xml_child(is, NS_DS, "X509SerialNumber", NULL);
    char *name_text = name ? recv_text(name) : NULL, *serial_text = serial ? recv_text(serial) : NULL;
    recv_cert_ref ref = name_text && serial_text && *name_text && *serial_text &&
                                strlen(serial_text) <= 80 &&
                                strspn(serial_text, "0123456789") == strlen(serial_text)
                            ? RECV_REF_OK
                            : RECV_REF_BAD;
    if (ref == RECV_REF_OK && cert) {
        char *ours = cert_issuer_dn(cert);
        BIGNUM *want = NULL, *have = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        *names |= ours && have && BN_dec2bn(&want, serial_text) > 0 && BN_cmp(want, have) == 0 &&
                  dn_equal(name_text, ours);
        BN_free(want);
        BN_free(have);
        free(ours);
    }
    free(name_text);
    free(serial_text);
    return ref;
}

static recv_cert_ref x509data_ref(X509 *cert, xmlNodePtr data, int *names)
{
    recv_cert_ref found = RECV_REF_NONE;
    for (xmlNodePtr c = xml_first_elem(data); c; c = xml_next_elem(c)) {
        recv_cert_ref one = xml_is(c, NS_DS, "X509IssuerSerial") ? issuer_serial_ref(cert, c, names)
                            : xml_is(c, NS_DS, "X509Certificate") ? der_ref(cert, c, names)
                            : xml_is(c, NS_DS, "X509SKI")         ? ski_ref(cert, c, names)
                                                                  : RECV_REF_NONE;
        if (one == RECV_REF_BAD)
            return RECV_REF_BAD;
        if (one == RECV_REF_OK)
            found = RECV_REF_OK;
    }
    return found;
}

/* One child of a wsse:SecurityTokenReference: a thumbprint or SKI
 * KeyIdentifier, ds:X509Data, or a Reference to the certificate's BST. */
static recv_cert_ref str_ref(const xml_ids *ids, X509 *cert, const uint8_t thumbprint[20],
                             xmlNodePtr r, int *names)
{
    const char *vt = xml_attr(r, NULL, "ValueType");
    xmlNodePtr bst = NULL;
    if (xml_is(r, NS_WSSE, "KeyIdentifier") && vt && strcmp(vt, WSS_THUMBPRINT) == 0)
        return b64_ref(r, 20, cert ? thumbprint : NULL, 20, names);
    if (xml_is(r, NS_WSSE, "KeyIdentifier") && vt && strcmp(vt, WSS_SKI) == 0)
        return ski_ref(cert, r, names);
    if (xml_is(r, NS_DS, "X509Data"))
        return x509data_ref(cert, r, names);
    if (!xml_is(r, NS_WSSE, "Reference"))
        return RECV_REF_NONE;
    if (xml_ids_resolve(ids, xml_attr(r, NULL, "URI"), &bst, NULL) != MSGSEC_OK ||
        !xml_is(bst, NS_WSSE, "BinarySecurityToken"))
        return RECV_REF_BAD;
    vt = xml_attr(bst, NULL, "ValueType");
    return vt && strcmp(vt, WSS_X509V3) == 0 ? der_ref(cert, bst, names) : RECV_REF_BAD;
}

recv_cert_ref recv_token_cert_ref(const xml_ids *ids, xmlNodePtr key_info, X509 *cert,
                                  const uint8_t thumbprint[20], int *names)
{
    recv_cert_ref found = RECV_REF_NONE;
    *names = 0;
    for (xmlNodePtr k = xml_first_elem(key_info); k && found != RECV_REF_BAD; k = xml_next_elem(k)) {
        recv_cert_ref one = RECV_REF_NONE;
        if (xml_is(k, NS_DS, "X509Data"))
            one = x509data_ref(cert, k, names);
        for (xmlNodePtr r = xml_is(k, NS_WSSE, "SecurityTokenReference") ? xml_first_elem(k) : NULL;
             r && one != RECV_REF_BAD; r = xml_next_elem(r)) {
            recv_cert_ref ref = str_ref(ids, cert, thumbprint, r, names);
            one = ref == RECV_REF_NONE ? one : ref;
        }
        found = one == RECV_REF_NONE ? found : one;
    }
    return found;
}

/* recv_dec.c - XML Encryption on the receiving side: RSA-OAEP key transport
 * to the service certificate and AES-GCM content (gcm.h).
 * Every key and plaintext buffer is wiped on every path. */
#include <ctype.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "gcm.h"
#include "recv_internal.h"

#define WSS_SKI "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
#define ALG_MGF1_SHA1 "http://www.w3.org/2009/xmlenc11#mgf1sha1"
#define EK_CIPHER_MAX 1024 /* an RSA-8192 key transport */

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

/* How an EncryptedKey's KeyInfo may name the service certificate: each form
 * is checked for structure (REF_BAD when malformed) and, given cert (the
 * receiver's own, may be NULL), compared with it: *names_us |= match. */
typedef enum key_ref { REF_BAD = -1, REF_UNKNOWN = 0, REF_OK = 1 } key_ref;

/* Base64 text of node naming a certificate by a value of want_len bytes (0:
 * any non-empty value); *names_us when ours (our_len bytes, NULL: not compared). */
static key_ref b64_ref(xmlNodePtr node, size_t want_len, const uint8_t *ours, size_t our_len,
                       int *names_us)
{
    uint8_t *got = NULL;
    size_t len = 0;
    if (recv_b64_child(node, "identifier", &got, &len, NULL) != MSGSEC_OK || len == 0 ||
        (want_len && len != want_len)) {
        free(got);
        return REF_BAD;
    }
    *names_us |= ours && len == our_len && memcmp(got, ours, len) == 0;
    free(got);
    return REF_OK;
}

static key_ref der_ref(X509 *cert, xmlNodePtr node, int *names_us)
{
    unsigned char *der = NULL;
    int len = cert ? i2d_X509(cert, &der) : 0;
    key_ref ref = b64_ref(node, 0, len > 0 ? der : NULL, len > 0 ? (size_t)len : 0, names_us);
    OPENSSL_free(der);
    return ref;
}

static key_ref ski_ref(X509 *cert, xmlNodePtr node, int *names_us)
{
    const ASN1_OCTET_STRING *ski = cert ? X509_get0_subject_key_id(cert) : NULL;
    return b64_ref(node, 0, ski ? ASN1_STRING_get0_data(ski) : NULL,
                   ski ? (size_t)ASN1_STRING_length(ski) : 0, names_us);
}

/* ds:X509IssuerSerial: an issuer DN and a decimal serial number. */
static key_ref issuer_serial_ref(X509 *cert, xmlNodePtr is, int *names_us)
{
    xmlNodePtr name = xml_child(is, NS_DS, "X509IssuerName", NULL);
    xmlNodePtr serial = xml_child(is, NS_DS, "X509SerialNumber", NULL);
    char *name_text = name ? recv_text(name) : NULL, *serial_text = serial ? recv_text(serial) : NULL;
    key_ref ref = name_text && serial_text && *name_text && *serial_text &&
                          strlen(serial_text) <= 80 &&
                          strspn(serial_text, "0123456789") == strlen(serial_text)
                      ? REF_OK
                      : REF_BAD;
    if (ref == REF_OK && cert) {
        char *ours = cert_issuer_dn(cert);
        BIGNUM *want = NULL, *have = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
        *names_us |= ours && have && BN_dec2bn(&want, serial_text) > 0 && BN_cmp(want, have) == 0 &&
                     dn_equal(name_text, ours);
        BN_free(want);
        BN_free(have);
        free(ours);
    }
    free(name_text);
    free(serial_text);
    return ref;
}

static key_ref x509data_ref(X509 *cert, xmlNodePtr data, int *names_us)
{
    key_ref found = REF_UNKNOWN;
    for (xmlNodePtr c = xml_first_elem(data); c; c = xml_next_elem(c)) {
        key_ref one = xml_is(c, NS_DS, "X509IssuerSerial") ? issuer_serial_ref(cert, c, names_us)
                      : xml_is(c, NS_DS, "X509Certificate") ? der_ref(cert, c, names_us)
                      : xml_is(c, NS_DS, "X509SKI")         ? ski_ref(cert, c, names_us)
                                                            : REF_UNKNOWN;
        if (one == REF_BAD)
            return REF_BAD;
        if (one == REF_OK)
            found = REF_OK;
    }
    return found;
}

/* One child of a wsse:SecurityTokenReference: a thumbprint or SKI
 * KeyIdentifier, ds:X509Data, or a Reference to the certificate's BST. */
static key_ref str_ref(recv_msg *m, X509 *cert, xmlNodePtr r, int *names_us)
{
    const char *vt = xml_attr(r, NULL, "ValueType");
    xmlNodePtr bst = NULL;
    if (xml_is(r, NS_WSSE, "KeyIdentifier") && vt && strcmp(vt, WSS_THUMBPRINT) == 0)
        return b64_ref(r, 20, cert ? m->r->cert_thumbprint : NULL, 20, names_us);
    if (xml_is(r, NS_WSSE, "KeyIdentifier") && vt && strcmp(vt, WSS_SKI) == 0)
        return ski_ref(cert, r, names_us);
    if (xml_is(r, NS_DS, "X509Data"))
        return x509data_ref(cert, r, names_us);
    if (!xml_is(r, NS_WSSE, "Reference"))
        return REF_UNKNOWN;
    if (xml_ids_resolve(&m->ids, xml_attr(r, NULL, "URI"), &bst, NULL) != MSGSEC_OK ||
        !xml_is(bst, NS_WSSE, "BinarySecurityToken"))
        return REF_BAD;
    vt = xml_attr(bst, NULL, "ValueType");
    return vt && strcmp(vt, WSS_X509V3) == 0 ? der_ref(cert, bst, names_us) : REF_BAD;
}

/* The EncryptedKey's KeyInfo names a certificate in forms we read, each well
 * formed (else 3; 8 when it uses none we read). *names_us: one names the
 * certificate this receiver holds (the service's; 0 without one). */
static msgsec_err ek_key_info(recv_msg *m, xmlNodePtr key_info, int *names_us, msgsec_error *err)
{
    X509 *cert = m->r->cert;
    key_ref found = REF_UNKNOWN;
    *names_us = 0;
    if (!key_info)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "EncryptedKey without KeyInfo");
    for (xmlNodePtr k = xml_first_elem(key_info); k && found != REF_BAD; k = xml_next_elem(k)) {
        key_ref one = REF_UNKNOWN;
        if (xml_is(k, NS_DS, "X509Data"))
            one = x509data_ref(cert, k, names_us);
        for (xmlNodePtr r = xml_is(k, NS_WSSE, "SecurityTokenReference") ? xml_first_elem(k) : NULL;
             r && one != REF_BAD; r = xml_next_elem(r)) {
            key_ref ref = str_ref(m, cert, r, names_us);
            one = ref == REF_UNKNOWN ? one : ref;
        }
        found = one == REF_UNKNOWN ? found : one;
    }
    if (found == REF_BAD)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                             "EncryptedKey names the service certificate with a malformed reference");
    if (found == REF_UNKNOWN)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "EncryptedKey does not name the service "
                             "certificate by thumbprint, issuer and serial, SKI or certificate");
    return MSGSEC_OK;
}

static const EVP_MD *oaep_digest(xmlNodePtr method, const char *name, const char *ns,
                                 const char *sha1_uri, const char *sha256_uri)
{
    xmlNodePtr dm = xml_child(method, ns, name, NULL);
    const char *alg = dm ? xml_attr(dm, NULL, "Algorithm") : NULL;
    if (!dm)
        return EVP_sha1(); /* the default of both xmlenc and xmlenc11 */
    if (alg && strcmp(alg, sha1_uri) == 0)
        return EVP_sha1();
    if (alg && strcmp(alg, sha256_uri) == 0)
        return EVP_sha256();
    return NULL;
}

/* RSA-OAEP parameters of an EncryptedKey's EncryptionMethod. */
static msgsec_err oaep_params(xmlNodePtr method, const EVP_MD **md, const EVP_MD **mgf,
                              msgsec_error *err)
{
    const char *alg = method ? xml_attr(method, NULL, "Algorithm") : NULL;
    if (!alg)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "EncryptedKey without EncryptionMethod");
    if (xml_child(method, NS_XENC, "OAEPparams", NULL))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "OAEPparams are not supported");
    *md = oaep_digest(method, "DigestMethod", NS_DS, ALG_SHA1, ALG_SHA256);
    if (strcmp(alg, ALG_RSA_OAEP_MGF1P) == 0) {
        *mgf = EVP_sha1();
    } else if (strcmp(alg, ALG_RSA_OAEP11) == 0) {
        *mgf = oaep_digest(method, "MGF", NS_XENC11, ALG_MGF1_SHA1, ALG_MGF1_SHA256);
        if (!*mgf)
            return msgsec_seterr(err, MSGSEC_E_POLICY, "OAEP mask generation function refused");
    } else {
        return msgsec_seterr(err, MSGSEC_E_POLICY, "key transport algorithm %.80s refused", alg);
    }
    if (!*md)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "OAEP digest refused (sha1 or sha256 only)");
    return MSGSEC_OK;
}

static msgsec_err rsa_oaep_decrypt(EVP_PKEY *key, const EVP_MD *md, const EVP_MD *mgf,
                                   const uint8_t *in, size_t in_len, recv_key *out,
                                   msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    uint8_t buf[1024];
    size_t len = sizeof buf;
    EVP_PKEY_CTX *pctx = EVP_PKEY_CTX_new(key, NULL);
    if (!pctx || EVP_PKEY_decrypt_init(pctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md(pctx, md) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf) != 1) {
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up RSA-OAEP");
        goto cleanup;
    }
    if ((size_t)EVP_PKEY_get_size(key) > sizeof buf ||
        EVP_PKEY_decrypt(pctx, buf, &len, in, in_len) != 1) {
        ERR_clear_error();
        rc = msgsec_seterr(err, MSGSEC_E_DECRYPT, "cannot decrypt the EncryptedKey (RSA-OAEP failed)");
        goto cleanup;
    }
    if (len != 16 && len != 32) {
        rc = msgsec_seterr(err, MSGSEC_E_DECRYPT, "content key of %zu bytes", len);
        goto cleanup;
    }
    memcpy(out->key, buf, len);
    out->len = len;
cleanup:
    OPENSSL_cleanse(buf, sizeof buf);
    EVP_PKEY_CTX_free(pctx);
    return rc;
}

/* The parts of an EncryptedKey the receiver uses. */
typedef struct ek_parsed {
    const EVP_MD *md, *mgf;     /* RSA-OAEP digest and mask generation */
    uint8_t cipher[EK_CIPHER_MAX];
    size_t cipher_len;
} ek_parsed;

/* An EncryptedKey's structure, everything a receiver can check without the
 * service key: allowed key transport (8), a KeyInfo naming the service
 * certificate (ek_key_info), a base64 CipherValue of 1 to EK_CIPHER_MAX
 * bytes, as long as the key when it names the certificate this receiver
 * holds (3). *names_us: as for ek_key_info. */
static msgsec_err ek_parse(recv_msg *m, xmlNodePtr ek, int *names_us, ek_parsed *p,
                           msgsec_error *err)
{
    uint8_t *cipher = NULL;
    msgsec_err rc =
        oaep_params(xml_child(ek, NS_XENC, "EncryptionMethod", NULL), &p->md, &p->mgf, err);
    if (rc || (rc = ek_key_info(m, xml_child(ek, NS_DS, "KeyInfo", NULL), names_us, err)))
        return rc;
    xmlNodePtr cd = xml_child(ek, NS_XENC, "CipherData", NULL);
    if (cd && xml_child(cd, NS_XENC, "CipherReference", NULL))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "CipherReference refused");
    if ((rc = recv_b64_child_buf(cd ? xml_child(cd, NS_XENC, "CipherValue", NULL) : NULL,
                                 "EncryptedKey CipherValue", p->cipher, sizeof p->cipher, &cipher,
                                 &p->cipher_len, err)))
        return rc;
    if (cipher != p->cipher) {
        free(cipher);
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "EncryptedKey CipherValue is longer than "
                             "%d bytes", EK_CIPHER_MAX);
    }
    if (p->cipher_len == 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "EncryptedKey CipherValue is empty");
    EVP_PKEY *ours = *names_us ? X509_get0_pubkey(m->r->cert) : NULL;
    int key_len = ours && EVP_PKEY_get_base_id(ours) == EVP_PKEY_RSA ? EVP_PKEY_get_size(ours) : 0;
    if (key_len > 0 && p->cipher_len != (size_t)key_len)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "EncryptedKey CipherValue of %zu bytes "
                             "does not fit the service key (%d bytes)", p->cipher_len, key_len);
    return MSGSEC_OK;
}

msgsec_err dec_check_encrypted_key(recv_msg *m, xmlNodePtr ek, msgsec_error *err)
{
    ek_parsed p;
    int names_us;
    return ek_parse(m, ek, &names_us, &p, err);
}

msgsec_err dec_encrypted_key(recv_msg *m, xmlNodePtr ek, const recv_key **out, msgsec_error *err)
{
    ek_parsed p;
    int names_us = 0;
    *out = NULL;
    for (size_t i = 0; i < m->n_keys; i++) {
        if (m->keys[i].source == ek) {
            *out = &m->keys[i];
            return MSGSEC_OK;
        }
    }
    msgsec_err rc = ek_parse(m, ek, &names_us, &p, err);
    if (rc)
        return rc;
    if (!m->r->key || !m->r->cert)
        return msgsec_seterr(err, MSGSEC_E_DECRYPT, "this receiver holds no service key");
    if (!names_us)
        return msgsec_seterr(err, MSGSEC_E_DECRYPT,
                             "EncryptedKey is not addressed to this service's certificate");
    if (m->n_keys == RECV_MAX_KEYS)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "too many EncryptedKeys");
    recv_key *slot = &m->keys[m->n_keys];
    if ((rc = rsa_oaep_decrypt(m->r->key, p.md, p.mgf, p.cipher, p.cipher_len, slot, err)))
        return rc;
    slot->source = ek;
    memcpy(slot->sign_key, slot->key, slot->len); /* the none credential's HMAC key */
    slot->sign_len = slot->len;
    m->n_keys++;
    *out = slot;
    return MSGSEC_OK;
}

/* 1 when an EncryptedKey's ReferenceList names ed. */
static int ek_lists(recv_msg *m, xmlNodePtr ek, xmlNodePtr ed)
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

/* The token that carries ed's key: an EncryptedKey inline in its KeyInfo,
 * the token an STR there references (an EncryptedKey, or the Kerberos token
 * whose keys the signature check derived), or the one EncryptedKey of the
 * Security header whose ReferenceList lists ed. No such token, two
 * EncryptedKeys listing ed, or a ReferenceList and a KeyInfo naming
 * different keys are malformed (3): exactly one key may decrypt ed. */
static msgsec_err key_token(recv_msg *m, xmlNodePtr ed, xmlNodePtr *token, msgsec_error *err)
{
    xmlNodePtr key_info = xml_child(ed, NS_DS, "KeyInfo", NULL);
    xmlNodePtr inline_ek = key_info ? xml_child(key_info, NS_XENC, "EncryptedKey", NULL) : NULL;
    xmlNodePtr str = key_info ? xml_child(key_info, NS_WSSE, "SecurityTokenReference", NULL) : NULL;
    xmlNodePtr ref = str ? xml_child(str, NS_WSSE, "Reference", NULL) : NULL, listed = NULL;
    *token = NULL;
    for (xmlNodePtr c = xml_first_elem(m->security); c; c = xml_next_elem(c)) {
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

int dec_is_xml(xmlNodePtr ed)
{
    const char *type = xml_attr(ed, NULL, "Type");
    return type && (strcmp(type, XENC_TYPE_CONTENT) == 0 || strcmp(type, XENC_TYPE_ELEMENT) == 0);
}

/* ed's algorithm (AES-GCM), Type (Content or Element) and CipherData (no
 * CipherReference), all policy (8); *key_len: the key size of the algorithm. */
static msgsec_err ed_method(xmlNodePtr ed, size_t *key_len, msgsec_error *err)
{
    xmlNodePtr method = xml_child(ed, NS_XENC, "EncryptionMethod", NULL);
    const char *alg = method ? xml_attr(method, NULL, "Algorithm") : NULL;
    const char *type = xml_attr(ed, NULL, "Type");
    xmlNodePtr cd = xml_child(ed, NS_XENC, "CipherData", NULL);
    if (alg && strcmp(alg, ALG_AES256_GCM) == 0)
        *key_len = 32;
    else if (alg && strcmp(alg, ALG_AES128_GCM) == 0)
        *key_len = 16;
    else
        return msgsec_seterr(err, MSGSEC_E_POLICY, "data encryption algorithm %.80s refused",
                             alg ? alg : "(none)");
    if (type && !dec_is_xml(ed))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "EncryptedData Type %.80s not supported", type);
    if (cd && xml_child(cd, NS_XENC, "CipherReference", NULL))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "CipherReference refused");
    return MSGSEC_OK;
}

msgsec_err dec_check_encrypted_data(recv_msg *m, xmlNodePtr ed, xmlNodePtr *token,
                                    msgsec_error *err)
{
    size_t key_len;
    msgsec_err rc = ed_method(ed, &key_len, err);
    if (rc || (rc = key_token(m, ed, token, err)))
        return rc;
    if (xml_is(*token, NS_XENC, "EncryptedKey"))
        return dec_check_encrypted_key(m, *token, err);
    if (!xml_is(*token, NS_WSSE, "BinarySecurityToken"))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "the key of an EncryptedData cannot come "
                             "from <%s>", (const char *)(*token)->name);
    return MSGSEC_OK;
}

msgsec_err dec_encrypted_data(recv_msg *m, xmlNodePtr ed, uint8_t **out, size_t *out_len,
                              msgsec_error *err)
{
    msgsec_err rc;
    const recv_key *key = NULL;
    xmlNodePtr token = NULL;
    uint8_t *cipher = NULL;
    size_t cipher_len, want_len = 0;
    *out = NULL;
    *out_len = 0;
    if ((rc = ed_method(ed, &want_len, err)) || (rc = key_token(m, ed, &token, err)))
        return rc;
    if (xml_is(token, NS_XENC, "EncryptedKey") && (rc = dec_encrypted_key(m, token, &key, err)))
        return rc;
    for (size_t i = 0; !key && i < m->n_keys; i++) /* keys derived from a Kerberos token */
        if (m->keys[i].source == token)
            key = &m->keys[i];
    if (!key)
        return msgsec_seterr(err, MSGSEC_E_DECRYPT, "no key for EncryptedData from <%s>",
                             (const char *)token->name);
    if (key->len != want_len)
        return msgsec_seterr(err, MSGSEC_E_DECRYPT, "content key size does not fit the "
                             "EncryptedData's algorithm");
    xmlNodePtr cd = xml_child(ed, NS_XENC, "CipherData", NULL);
    if ((rc = recv_b64_child(cd ? xml_child(cd, NS_XENC, "CipherValue", NULL) : NULL,
                             "EncryptedData CipherValue", &cipher, &cipher_len, err)))
        return rc;
    rc = gcm_decrypt(key->key, key->len, cipher, cipher_len, out, out_len, err);
    free(cipher);
    return rc;
}

/* recv_dec.c - XML Encryption on the receiving side: RSA-OAEP key transport
 * to the service certificate and AES-GCM content (IV 12 || ct || tag 16).
 * Every key and plaintext buffer is wiped on every path. */
#include <ctype.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "recv_internal.h"

#define WSS_SKI "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509SubjectKeyIdentifier"
#define ALG_MGF1_SHA1 "http://www.w3.org/2009/xmlenc11#mgf1sha1"
#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16

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

static int issuer_serial_matches(X509 *cert, xmlNodePtr is)
{
    xmlNodePtr name = xml_child(is, NS_DS, "X509IssuerName", NULL);
    xmlNodePtr serial = xml_child(is, NS_DS, "X509SerialNumber", NULL);
    char *name_text = name ? xml_text(name) : NULL, *serial_text = serial ? xml_text(serial) : NULL;
    char *ours = cert_issuer_dn(cert);
    BIGNUM *want = NULL, *have = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    int match = name_text && serial_text && ours && have &&
                BN_dec2bn(&want, serial_text) > 0 && BN_cmp(want, have) == 0 &&
                dn_equal(name_text, ours);
    BN_free(want);
    BN_free(have);
    free(ours);
    xmlFree(name_text);
    xmlFree(serial_text);
    return match;
}

static int b64_child_equals(xmlNodePtr node, const uint8_t *want, size_t want_len)
{
    uint8_t *got = NULL;
    size_t len = 0;
    int eq = recv_b64_child(node, "identifier", &got, &len, NULL) == MSGSEC_OK &&
             len == want_len && memcmp(got, want, len) == 0;
    free(got);
    return eq;
}

static int der_matches(X509 *cert, xmlNodePtr node)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    int eq = len > 0 && b64_child_equals(node, der, (size_t)len);
    OPENSSL_free(der);
    return eq;
}

static int ski_matches(X509 *cert, xmlNodePtr node)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(cert);
    return ski && b64_child_equals(node, ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski));
}

static int x509data_matches(X509 *cert, xmlNodePtr data)
{
    for (xmlNodePtr c = xml_first_elem(data); c; c = xml_next_elem(c)) {
        if ((xml_is(c, NS_DS, "X509IssuerSerial") && issuer_serial_matches(cert, c)) ||
            (xml_is(c, NS_DS, "X509Certificate") && der_matches(cert, c)) ||
            (xml_is(c, NS_DS, "X509SKI") && ski_matches(cert, c)))
            return 1;
    }
    return 0;
}

/* 1 when the EncryptedKey's KeyInfo names our certificate (thumbprint,
 * issuer+serial, SKI, or the certificate itself). */
static int addressed_to_us(recv_msg *m, xmlNodePtr key_info)
{
    X509 *cert = m->r->cert;
    for (xmlNodePtr k = xml_first_elem(key_info); k; k = xml_next_elem(k)) {
        if (xml_is(k, NS_DS, "X509Data") && x509data_matches(cert, k))
            return 1;
        if (!xml_is(k, NS_WSSE, "SecurityTokenReference"))
            continue;
        for (xmlNodePtr r = xml_first_elem(k); r; r = xml_next_elem(r)) {
            const char *vt = xml_attr(r, NULL, "ValueType");
            xmlNodePtr bst = NULL;
            if (xml_is(r, NS_WSSE, "KeyIdentifier") && vt && strcmp(vt, WSS_THUMBPRINT) == 0 &&
                b64_child_equals(r, m->r->cert_thumbprint, 20))
                return 1;
            if (xml_is(r, NS_WSSE, "KeyIdentifier") && vt && strcmp(vt, WSS_SKI) == 0 &&
                ski_matches(cert, r))
                return 1;
            if (xml_is(r, NS_DS, "X509Data") && x509data_matches(cert, r))
                return 1;
            if (xml_is(r, NS_WSSE, "Reference") &&
                xml_ids_resolve(&m->ids, xml_attr(r, NULL, "URI"), &bst, NULL) == MSGSEC_OK &&
                xml_is(bst, NS_WSSE, "BinarySecurityToken") && der_matches(cert, bst))
                return 1;
        }
    }
    return 0;
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

msgsec_err dec_encrypted_key(recv_msg *m, xmlNodePtr ek, const recv_key **out, msgsec_error *err)
{
    const EVP_MD *md = NULL, *mgf = NULL;
    uint8_t *cipher = NULL;
    size_t cipher_len;
    *out = NULL;
    for (size_t i = 0; i < m->n_keys; i++) {
        if (m->keys[i].source == ek) {
            *out = &m->keys[i];
            return MSGSEC_OK;
        }
    }
    msgsec_err rc = oaep_params(xml_child(ek, NS_XENC, "EncryptionMethod", NULL), &md, &mgf, err);
    if (rc)
        return rc;
    if (!m->r->key || !m->r->cert)
        return msgsec_seterr(err, MSGSEC_E_DECRYPT, "this receiver holds no service key");
    xmlNodePtr key_info = xml_child(ek, NS_DS, "KeyInfo", NULL);
    if (!key_info || !addressed_to_us(m, key_info))
        return msgsec_seterr(err, MSGSEC_E_DECRYPT,
                             "EncryptedKey is not addressed to this service's certificate");
    if (m->n_keys == RECV_MAX_KEYS)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "too many EncryptedKeys");
    xmlNodePtr cd = xml_child(ek, NS_XENC, "CipherData", NULL);
    if ((rc = recv_b64_child(cd ? xml_child(cd, NS_XENC, "CipherValue", NULL) : NULL,
                             "EncryptedKey CipherValue", &cipher, &cipher_len, err)))
        return rc;
    recv_key *slot = &m->keys[m->n_keys];
    rc = rsa_oaep_decrypt(m->r->key, md, mgf, cipher, cipher_len, slot, err);
    free(cipher);
    if (rc)
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

/* The key of ed: from an EncryptedKey inline in its KeyInfo, from the token
 * an STR in its KeyInfo references (EncryptedKey, or a Kerberos token whose
 * keys were derived already), or from an EncryptedKey whose ReferenceList
 * lists it. */
static msgsec_err find_key(recv_msg *m, xmlNodePtr ed, const recv_key **key, msgsec_error *err)
{
    xmlNodePtr key_info = xml_child(ed, NS_DS, "KeyInfo", NULL);
    xmlNodePtr inline_ek = key_info ? xml_child(key_info, NS_XENC, "EncryptedKey", NULL) : NULL;
    xmlNodePtr str = key_info ? xml_child(key_info, NS_WSSE, "SecurityTokenReference", NULL) : NULL;
    xmlNodePtr ref = str ? xml_child(str, NS_WSSE, "Reference", NULL) : NULL, token = NULL;
    if (inline_ek)
        return dec_encrypted_key(m, inline_ek, key, err);
    if (ref) {
        msgsec_err rc = xml_ids_resolve(&m->ids, xml_attr(ref, NULL, "URI"), &token, err);
        if (rc)
            return rc;
        if (xml_is(token, NS_XENC, "EncryptedKey"))
            return dec_encrypted_key(m, token, key, err);
        for (size_t i = 0; i < m->n_keys; i++) {
            if (m->keys[i].source == token) {
                *key = &m->keys[i];
                return MSGSEC_OK;
            }
        }
        return msgsec_seterr(err, MSGSEC_E_DECRYPT, "no key for EncryptedData from <%s>",
                             (const char *)token->name);
    }
    for (xmlNodePtr c = xml_first_elem(m->security); c; c = xml_next_elem(c))
        if (xml_is(c, NS_XENC, "EncryptedKey") && ek_lists(m, c, ed))
            return dec_encrypted_key(m, c, key, err);
    return msgsec_seterr(err, MSGSEC_E_DECRYPT, "no EncryptedKey for EncryptedData");
}

int dec_is_xml(xmlNodePtr ed)
{
    const char *type = xml_attr(ed, NULL, "Type");
    return type && (strcmp(type, XENC_TYPE_CONTENT) == 0 || strcmp(type, XENC_TYPE_ELEMENT) == 0);
}

static msgsec_err aes_gcm_decrypt(const recv_key *key, const uint8_t *in, size_t len,
                                  uint8_t **out, size_t *out_len, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    const EVP_CIPHER *cipher = key->len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
    EVP_CIPHER_CTX *cctx = NULL;
    uint8_t *plain = NULL;
    int n = 0, fin = 0;
    *out = NULL;
    *out_len = 0;
    if (len < GCM_IV_LEN + GCM_TAG_LEN || len - GCM_IV_LEN - GCM_TAG_LEN > INT32_MAX)
        return msgsec_seterr(err, MSGSEC_E_DECRYPT, "AES-GCM ciphertext too short");
    size_t ct_len = len - GCM_IV_LEN - GCM_TAG_LEN;
    if (!(plain = malloc(ct_len + 1)) || !(cctx = EVP_CIPHER_CTX_new()) ||
        EVP_DecryptInit_ex(cctx, cipher, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_IVLEN, GCM_IV_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(cctx, NULL, NULL, key->key, in) != 1 ||
        EVP_DecryptUpdate(cctx, plain, &n, in + GCM_IV_LEN, (int)ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
                            (void *)(in + len - GCM_TAG_LEN)) != 1) {
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up AES-GCM");
        goto cleanup;
    }
    if (EVP_DecryptFinal_ex(cctx, plain + n, &fin) != 1) {
        ERR_clear_error();
        rc = msgsec_seterr(err, MSGSEC_E_DECRYPT, "content does not decrypt (AES-GCM tag mismatch)");
        goto cleanup;
    }
    plain[n + fin] = '\0';
    *out = plain;
    *out_len = (size_t)(n + fin);
    plain = NULL;
cleanup:
    if (plain)
        OPENSSL_cleanse(plain, ct_len + 1);
    free(plain);
    EVP_CIPHER_CTX_free(cctx);
    return rc;
}

msgsec_err dec_encrypted_data(recv_msg *m, xmlNodePtr ed, uint8_t **out, size_t *out_len,
                              msgsec_error *err)
{
    msgsec_err rc;
    const recv_key *key = NULL;
    uint8_t *cipher = NULL;
    size_t cipher_len, want_len = 0;
    *out = NULL;
    *out_len = 0;
    xmlNodePtr method = xml_child(ed, NS_XENC, "EncryptionMethod", NULL);
    const char *alg = method ? xml_attr(method, NULL, "Algorithm") : NULL;
    const char *type = xml_attr(ed, NULL, "Type");
    if (alg && strcmp(alg, ALG_AES256_GCM) == 0)
        want_len = 32;
    else if (alg && strcmp(alg, ALG_AES128_GCM) == 0)
        want_len = 16;
    else
        return msgsec_seterr(err, MSGSEC_E_POLICY, "data encryption algorithm %.80s refused",
                             alg ? alg : "(none)");
    if (type && !dec_is_xml(ed))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "EncryptedData Type %.80s not supported", type);
    xmlNodePtr cd = xml_child(ed, NS_XENC, "CipherData", NULL);
    if (cd && xml_child(cd, NS_XENC, "CipherReference", NULL))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "CipherReference refused");
    if ((rc = find_key(m, ed, &key, err)))
        return rc;
    if (key->len != want_len)
        return msgsec_seterr(err, MSGSEC_E_DECRYPT, "content key size does not fit %s", alg);
    if ((rc = recv_b64_child(cd ? xml_child(cd, NS_XENC, "CipherValue", NULL) : NULL,
                             "EncryptedData CipherValue", &cipher, &cipher_len, err)))
        return rc;
    rc = aes_gcm_decrypt(key, cipher, cipher_len, out, out_len, err);
    free(cipher);
    return rc;
}

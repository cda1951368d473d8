/* recv_dec.c - XML Encryption on the receiving side: RSA-OAEP key transport
 * to the service certificate and AES-GCM content (gcm.h). Every key and
 * plaintext buffer is wiped on every path. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "gcm.h"
#include "recv_dec.h"
#include "recv_envelope.h"
#include "recv_token.h"

#define ALG_MGF1_SHA1 "http://www.w3.org/2009/xmlenc11#mgf1sha1"
#define EK_CIPHER_MAX 1024 /* an RSA-8192 key transport */

/* The EncryptedKey's KeyInfo names a certificate in forms we read, each well
 * formed (else 3; 8 when it uses none we read). *names_us: one names the
 * certificate this receiver holds (the service's; 0 without one). */
static msgsec_err ek_key_info(recv_msg *m, xmlNodePtr key_info, int *names_us, msgsec_error *err)
{
    *names_us = 0;
    if (!key_info)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "EncryptedKey without KeyInfo");
    recv_cert_ref found =
        recv_token_cert_ref(&m->ids, key_info, m->r->cert, m->r->cert_thumbprint, names_us);
    if (found == RECV_REF_BAD)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "EncryptedKey names the service "
                             "certificate with a malformed reference");
    if (found == RECV_REF_NONE)
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
    if (rc || (rc = recv_token_of_data(m, ed, token, err)))
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
    if ((rc = ed_method(ed, &want_len, err)) || (rc = recv_token_of_data(m, ed, &token, err)))
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

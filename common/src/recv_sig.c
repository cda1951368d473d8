/* recv_sig.c - verification of the WS-Security ds:Signature with libxml2's
 * exclusive c14n and OpenSSL (no xmlsec engine: see docs/DESIGN.md); the
 * signing token comes from recv_token.c.
 *
 * Allow-lists (DESIGN.md receiver rule 4, everything else MSGSEC_E_POLICY):
 * SignedInfo and every Reference use exc-c14n (optionally with an
 * InclusiveNamespaces PrefixList), digests are SHA-256, the signature is
 * rsa-sha256 / ecdsa-sha256 for a certificate and hmac-sha256 (never
 * truncated) for the key of an EncryptedKey. ds:Object, ds:KeyValue and
 * ds:RetrievalMethod are refused (recv_token.c): keys only come from tokens we check. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "recv_cred.h"
#include "recv_dec.h"
#include "recv_envelope.h"
#include "recv_sig.h"
#include "recv_token.h"
#include "recv_trust.h"

typedef struct sig_ref {
    const char *uri;
    xmlNodePtr node;
    xmlChar **prefixes;
    uint8_t digest[32];
} sig_ref;

typedef struct sig_parts {
    xmlNodePtr signed_info, signature_value, key_info;
    xmlChar **si_prefixes;
    const char *algorithm;
    sig_ref refs[RECV_MAX_REFS];
    size_t n_refs;
} sig_parts;

static msgsec_err parse_reference(recv_msg *m, xmlNodePtr ref, sig_ref *out, msgsec_error *err)
{
    msgsec_err rc;
    uint8_t buf[48], *digest; /* room for any base64 a SHA-256 value may be written as */
    size_t dlen;
    out->uri = xml_attr(ref, NULL, "URI");
    if ((rc = xml_ids_resolve(&m->ids, out->uri, &out->node, err)) != MSGSEC_OK)
        return rc;
    xmlNodePtr transforms = xml_first_elem(ref);
    if (!xml_is(transforms, NS_DS, "Transforms"))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "Reference %.64s: Transforms [exc-c14n] required",
                             out->uri);
    xmlNodePtr t = xml_first_elem(transforms);
    if (!xml_is(t, NS_DS, "Transform") || xml_next_elem(t))
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "Reference %.64s: exactly one exc-c14n Transform allowed", out->uri);
    if ((rc = xml_exc_c14n_method(t, "Reference transform", &out->prefixes, err)) != MSGSEC_OK)
        return rc;
    xmlNodePtr dm = xml_next_elem(transforms), dv = xml_next_elem(dm);
    if (!xml_is(dm, NS_DS, "DigestMethod") || !xml_is(dv, NS_DS, "DigestValue") ||
        xml_next_elem(dv))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "Reference %.64s: malformed", out->uri);
    const char *alg = xml_attr(dm, NULL, "Algorithm");
    if (!alg || strcmp(alg, ALG_SHA256) != 0)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "digest algorithm %.80s refused (sha256 only)",
                             alg ? alg : "(none)");
    if ((rc = recv_b64_child_buf(dv, "DigestValue", buf, sizeof buf, &digest, &dlen, err)))
        return rc;
    if (dlen == 32)
        memcpy(out->digest, digest, 32);
    if (digest != buf)
        free(digest);
    if (dlen != 32)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "Reference %.64s: DigestValue is not SHA-256",
                             out->uri);
    return MSGSEC_OK;
}

/* Splits the Signature into its parts and applies every allow-list. */
static msgsec_err parse_signature(recv_msg *m, sig_parts *p, msgsec_error *err)
{
    msgsec_err rc;
    xmlNodePtr sig = m->signature;
    p->signed_info = xml_first_elem(sig);
    p->signature_value = xml_next_elem(p->signed_info);
    p->key_info = xml_next_elem(p->signature_value);
    if (!xml_is(p->signed_info, NS_DS, "SignedInfo") ||
        !xml_is(p->signature_value, NS_DS, "SignatureValue"))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "Signature without SignedInfo/SignatureValue");
    for (xmlNodePtr extra = p->key_info; extra; extra = xml_next_elem(extra)) {
        if (xml_is(extra, NS_DS, "Object"))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "ds:Object in a Signature is refused");
        if (extra != p->key_info || !xml_is(extra, NS_DS, "KeyInfo"))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "unexpected <%s> in Signature",
                                 (const char *)extra->name);
    }
    xmlNodePtr cm = xml_first_elem(p->signed_info), sm = xml_next_elem(cm);
    if (!xml_is(cm, NS_DS, "CanonicalizationMethod") || !xml_is(sm, NS_DS, "SignatureMethod"))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "malformed SignedInfo");
    if ((rc = xml_exc_c14n_method(cm, "SignedInfo canonicalization", &p->si_prefixes, err)))
        return rc;
    p->algorithm = xml_attr(sm, NULL, "Algorithm");
    if (!p->algorithm || (strcmp(p->algorithm, ALG_RSA_SHA256) != 0 &&
                          strcmp(p->algorithm, ALG_ECDSA_SHA256) != 0 &&
                          strcmp(p->algorithm, ALG_HMAC_SHA256) != 0))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "signature algorithm %.80s refused",
                             p->algorithm ? p->algorithm : "(none)");
    if (xml_first_elem(sm)) /* HMACOutputLength (truncation) or anything else */
        return msgsec_seterr(err, MSGSEC_E_POLICY, "<%s> in SignatureMethod refused",
                             (const char *)xml_first_elem(sm)->name);
    for (xmlNodePtr ref = xml_next_elem(sm); ref; ref = xml_next_elem(ref)) {
        if (!xml_is(ref, NS_DS, "Reference"))
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "unexpected <%s> in SignedInfo",
                                 (const char *)ref->name);
        if (p->n_refs == RECV_MAX_REFS)
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "more than %d References",
                                 RECV_MAX_REFS);
        if ((rc = parse_reference(m, ref, &p->refs[p->n_refs++], err)) != MSGSEC_OK)
            return rc;
    }
    if (p->n_refs == 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "Signature without References");
    return MSGSEC_OK;
}

/* The key of the signing token: the certificate (certificate credential),
 * the holder's certificate (issued), or a symmetric key *sym (windows: from
 * the Kerberos token, none: the EncryptedKey's; NULL for a broker, which
 * holds no key to find them). */
static msgsec_err token_key(recv_msg *m, recv_token *tok, const recv_key **sym,
                            msgsec_error *err)
{
    m->token = tok->node;
    switch (tok->kind) {
    case RECV_TOKEN_X509:
        m->credential = MSGSEC_CRED_CERTIFICATE;
        m->signer = tok->cert;
        tok->cert = NULL;
        return MSGSEC_OK;
    case RECV_TOKEN_SAML:
        m->credential = MSGSEC_CRED_ISSUED;
        return cred_issued(m, tok->node, err);
    case RECV_TOKEN_KERBEROS:
        m->credential = MSGSEC_CRED_WINDOWS;
        return cred_windows(m, tok->node, sym, err);
    case RECV_TOKEN_ENCRYPTED_KEY:
        m->credential = MSGSEC_CRED_NONE;
        return m->full ? dec_encrypted_key(m, tok->node, sym, err)
                       : dec_check_encrypted_key(m, tok->node, err);
    }
    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "unknown signing token");
}

/* The algorithm must fit the key: RSA/EC certificate or symmetric key. */
static msgsec_err check_algorithm_fits_key(recv_msg *m, const char *alg, msgsec_error *err)
{
    const char *want = NULL;
    if (m->signer) {
        EVP_PKEY *pub = X509_get0_pubkey(m->signer);
        if (pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA)
            want = ALG_RSA_SHA256;
        else if (pub && EVP_PKEY_get_base_id(pub) == EVP_PKEY_EC)
            want = ALG_ECDSA_SHA256;
        else
            return msgsec_seterr(err, MSGSEC_E_POLICY, "signer key type not supported");
    } else {
        want = ALG_HMAC_SHA256;
    }
    if (strcmp(alg, want) != 0)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "signature algorithm %.80s does not fit a %s "
                             "credential", alg, msgsec_credential_name(m->credential));
    return MSGSEC_OK;
}

/* ECDSA SignatureValue is r||s (XML-DSig); OpenSSL wants DER. */
static int ecdsa_raw_to_der(const uint8_t *raw, size_t len, uint8_t **der, size_t *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL), *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
    int ok = 0;
    *der = NULL;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s)) {
        r = s = NULL; /* owned by sig now */
        unsigned char *p = NULL;
        int n = i2d_ECDSA_SIG(sig, &p);
        if (n > 0) {
            *der = p;
            *der_len = (size_t)n;
            ok = 1;
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return ok;
}

/* HMAC-SHA256 of SignedInfo under the symmetric key, compared in constant time. */
static msgsec_err verify_hmac(const sig_parts *p, const recv_key *sym, const uint8_t *value,
                              size_t value_len, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    strbuf si;
    sb_init(&si, 2048, 1u << 20);
    if (xml_c14n_subtree(p->signed_info, p->si_prefixes, xml_sink_strbuf, &si) != 0 || si.failed)
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot canonicalize SignedInfo");
    else if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, sym->sign_key, sym->sign_len,
                        (const unsigned char *)si.data, si.len, mac, sizeof mac, &mac_len))
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "HMAC failed");
    else if (value_len != mac_len || !ct_equal(mac, value, mac_len))
        rc = msgsec_seterr(err, MSGSEC_E_AUTH, "signature value does not verify");
    OPENSSL_cleanse(mac, sizeof mac);
    sb_free(&si, 0);
    return rc;
}

static msgsec_err verify_value(recv_msg *m, const sig_parts *p, const recv_key *sym,
                               msgsec_error *err)
{
    msgsec_err rc;
    /* value_buf: up to RSA-4096 (684 base64 characters, 513 bytes with the padding) */
    uint8_t value_buf[516], *value = NULL, *der = NULL, hash[32];
    size_t value_len, der_len = 0;
    EVP_PKEY_CTX *pctx = NULL; /* RSA/ECDSA check of the SignedInfo digest */
    int owned = 0;
    if ((rc = recv_b64_child_buf(p->signature_value, "SignatureValue", value_buf,
                                 sizeof value_buf, &value, &value_len, err)))
        return rc;
    if (sym) {
        rc = verify_hmac(p, sym, value, value_len, err);
        goto cleanup;
    }
    const uint8_t *sigbytes = value;
    size_t siglen = value_len;
    /* the algorithm fits the key (check_algorithm_fits_key): ECDSA iff an EC key */
    if (strcmp(p->algorithm, ALG_ECDSA_SHA256) == 0) {
        if (value_len == 0 || value_len % 2 || value_len > 2 * 66 ||
            !ecdsa_raw_to_der(value, value_len, &der, &der_len)) {
            rc = msgsec_seterr(err, MSGSEC_E_AUTH, "ECDSA signature value has a wrong size");
            goto cleanup;
        }
        sigbytes = der;
        siglen = der_len;
    }
    if ((rc = trust_verify_ctx(&m->r->trust, m->signer, &pctx, &owned, err)))
        goto cleanup;
    if (xml_c14n_sha256(p->signed_info, p->si_prefixes, m->r->md, m->r->sha256, hash)) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot canonicalize SignedInfo");
        goto cleanup;
    }
    if (EVP_PKEY_verify(pctx, sigbytes, siglen, hash, sizeof hash) != 1) {
        ERR_clear_error();
        rc = msgsec_seterr(err, MSGSEC_E_AUTH, "signature value does not verify");
    }
cleanup:
    if (owned)
        EVP_PKEY_CTX_free(pctx);
    OPENSSL_free(der);
    if (value != value_buf)
        free(value);
    return rc;
}

static msgsec_err verify_digests(const recv_msg *m, sig_parts *p, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    for (size_t i = 0; i < p->n_refs && rc == MSGSEC_OK; i++) {
        uint8_t digest[32];
        if (xml_c14n_sha256(p->refs[i].node, p->refs[i].prefixes, m->r->md, m->r->sha256, digest) != 0)
            rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot digest %.64s", p->refs[i].uri);
        else if (!ct_equal(digest, p->refs[i].digest, 32))
            rc = msgsec_seterr(err, MSGSEC_E_AUTH, "digest of %.64s does not match (content "
                               "altered)", p->refs[i].uri);
    }
    return rc;
}

msgsec_err sig_process(recv_msg *m, msgsec_error *err)
{
    sig_parts p;
    recv_token tok;
    const recv_key *sym = NULL;
    memset(&p, 0, sizeof p);
    memset(&tok, 0, sizeof tok);
    msgsec_err rc = parse_signature(m, &p, err);
    if (rc == MSGSEC_OK)
        rc = recv_token_signing(m, p.key_info, &tok, err);
    if (rc == MSGSEC_OK)
        rc = token_key(m, &tok, &sym, err);
    if (rc == MSGSEC_OK)
        rc = check_algorithm_fits_key(m, p.algorithm, err);
    if (rc == MSGSEC_OK) {
        m->signature_algorithm = p.algorithm;
        for (size_t i = 0; i < p.n_refs; i++)
            m->signed_nodes[m->n_signed++] = p.refs[i].node;
        /* a broker holds no key for a symmetric signature: structure only */
        if (m->signer || sym) {
            rc = verify_value(m, &p, sym, err);
            if (rc == MSGSEC_OK)
                rc = verify_digests(m, &p, err);
            m->signature_checked = rc == MSGSEC_OK;
        }
    }
    recv_token_clear(&tok);
    xml_free_prefixes(p.si_prefixes);
    for (size_t i = 0; i < p.n_refs; i++)
        xml_free_prefixes(p.refs[i].prefixes);
    return rc;
}

/* dsig.c - the XML-DSig verifier of dsig.h: parsing with the allow-lists,
 * the KeyInfo rule, SignatureValue (RSA/ECDSA over the SHA-256 of the
 * canonical SignedInfo, HMAC-SHA256 compared in constant time) and the
 * Reference digests. */
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "dsig.h"
#include "recv_envelope.h"

static dsig_alg alg_of_uri(const char *uri)
{
    if (!uri)
        return 0;
    if (strcmp(uri, ALG_RSA_SHA256) == 0)
        return DSIG_RSA_SHA256;
    if (strcmp(uri, ALG_ECDSA_SHA256) == 0)
        return DSIG_ECDSA_SHA256;
    if (strcmp(uri, ALG_HMAC_SHA256) == 0)
        return DSIG_HMAC_SHA256;
    return 0;
}

/* Transforms [exc-c14n] of a detached Reference, or [enveloped-signature,
 * exc-c14n] of an enveloped one. */
static msgsec_err parse_transforms(const dsig_signature *s, xmlNodePtr transforms,
                                   const char *uri, dsig_ref *out, msgsec_error *err)
{
    const int listed = xml_is(transforms, NS_DS, "Transforms");
    xmlNodePtr t = listed ? xml_first_elem(transforms) : NULL;
    if (s->enveloped) {
        const char *alg = t ? xml_attr(t, NULL, "Algorithm") : NULL;
        if (!xml_is(t, NS_DS, "Transform") || !alg || strcmp(alg, ALG_ENVELOPED_SIGNATURE) != 0 ||
            xml_first_elem(t) || !xml_is(t = xml_next_elem(t), NS_DS, "Transform") ||
            xml_next_elem(t))
            return msgsec_seterr(err, MSGSEC_E_POLICY,
                                 "%s transforms must be [enveloped-signature, exc-c14n]", s->what);
    } else if (!listed) {
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "Reference %.64s: Transforms [exc-c14n] required", uri);
    } else if (!xml_is(t, NS_DS, "Transform") || xml_next_elem(t)) {
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "Reference %.64s: exactly one exc-c14n Transform allowed", uri);
    }
    return xml_exc_c14n_method(t, "Reference transform", &out->prefixes, err);
}

static msgsec_err parse_reference(const dsig_signature *s, xmlNodePtr ref, const xml_ids *ids,
                                  const dsig_rules *rules, dsig_ref *out, msgsec_error *err)
{
    msgsec_err rc;
    uint8_t buf[48], *digest; /* room for any base64 a SHA-256 value may be written as */
    size_t dlen;
    out->uri = xml_attr(ref, NULL, "URI");
    if (s->enveloped) {
        if (!out->uri || out->uri[0] != '#' || strcmp(out->uri + 1, rules->enveloped_id) != 0)
            return msgsec_seterr(err, MSGSEC_E_POLICY, "%s does not reference %s it is in",
                                 s->what, rules->enveloped_what);
        out->node = s->signature->parent;
    } else if ((rc = xml_ids_resolve(ids, out->uri, &out->node, err)) != MSGSEC_OK) {
        return rc;
    }
    xmlNodePtr transforms = xml_first_elem(ref);
    if ((rc = parse_transforms(s, transforms, out->uri, out, err)) != MSGSEC_OK)
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

msgsec_err dsig_parse(xmlNodePtr signature, const xml_ids *ids, const dsig_rules *rules,
                      dsig_signature *s, msgsec_error *err)
{
    msgsec_err rc;
    memset(s, 0, sizeof *s);
    s->what = rules->what;
    s->enveloped = rules->enveloped_id != NULL;
    s->signature = signature;
    s->signed_info = xml_first_elem(signature);
    s->signature_value = xml_next_elem(s->signed_info);
    s->key_info = xml_next_elem(s->signature_value);
    if (!xml_is(s->signed_info, NS_DS, "SignedInfo") ||
        !xml_is(s->signature_value, NS_DS, "SignatureValue"))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s without SignedInfo/SignatureValue",
                             s->what);
    for (xmlNodePtr extra = s->key_info; extra; extra = xml_next_elem(extra)) {
        if (xml_is(extra, NS_DS, "Object"))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "ds:Object in a %s is refused", s->what);
        if (extra != s->key_info || !xml_is(extra, NS_DS, "KeyInfo"))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "unexpected <%s> in %s",
                                 (const char *)extra->name, s->what);
    }
    xmlNodePtr cm = xml_first_elem(s->signed_info), sm = xml_next_elem(cm);
    if (!xml_is(cm, NS_DS, "CanonicalizationMethod") || !xml_is(sm, NS_DS, "SignatureMethod"))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "malformed SignedInfo");
    if ((rc = xml_exc_c14n_method(cm, "SignedInfo canonicalization", &s->si_prefixes, err)))
        return rc;
    s->algorithm = xml_attr(sm, NULL, "Algorithm");
    s->alg = alg_of_uri(s->algorithm);
    if (!(s->alg & rules->algorithms))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "%s algorithm %.80s is not allowed", s->what,
                             s->algorithm ? s->algorithm : "(none)");
    if (xml_first_elem(sm)) /* HMACOutputLength (truncation) or anything else */
        return msgsec_seterr(err, MSGSEC_E_POLICY, "<%s> in SignatureMethod refused",
                             (const char *)xml_first_elem(sm)->name);
    for (xmlNodePtr ref = xml_next_elem(sm); ref; ref = xml_next_elem(ref)) {
        if (!xml_is(ref, NS_DS, "Reference"))
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "unexpected <%s> in SignedInfo",
                                 (const char *)ref->name);
        if (s->enveloped && s->n_refs == 1)
            return msgsec_seterr(err, MSGSEC_E_POLICY, "%s must reference only %s", s->what,
                                 rules->enveloped_what);
        if (s->n_refs == DSIG_MAX_REFS)
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "more than %d References",
                                 DSIG_MAX_REFS);
        if ((rc = parse_reference(s, ref, ids, rules, &s->refs[s->n_refs++], err)) != MSGSEC_OK)
            return rc;
    }
    if (s->n_refs == 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s without References", s->what);
    return MSGSEC_OK;
}

void dsig_clear(dsig_signature *s)
{
    xml_free_prefixes(s->si_prefixes);
    for (size_t i = 0; i < s->n_refs; i++)
        xml_free_prefixes(s->refs[i].prefixes);
    s->si_prefixes = NULL;
    s->n_refs = 0;
}

msgsec_err dsig_check_key_info(const xmlNode *key_info, const char *what, msgsec_error *err)
{
    for (xmlNodePtr n = xml_first_elem(key_info); n; n = xml_next_elem(n))
        if (xml_is(n, NS_DS, "KeyValue") || xml_is(n, NS_DS, "RetrievalMethod"))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "ds:%s in %s refused: the key must come "
                                 "from a security token or a trusted certificate",
                                 (const char *)n->name, what);
    return MSGSEC_OK;
}

dsig_alg dsig_alg_for_key(const EVP_PKEY *pub)
{
    int type = pub ? EVP_PKEY_get_base_id(pub) : EVP_PKEY_NONE;
    return type == EVP_PKEY_RSA ? DSIG_RSA_SHA256 : type == EVP_PKEY_EC ? DSIG_ECDSA_SHA256 : 0;
}

EVP_PKEY_CTX *dsig_verify_ctx(EVP_PKEY *pub, const EVP_MD *sha256)
{
    EVP_PKEY_CTX *ctx = pub ? EVP_PKEY_CTX_new(pub, NULL) : NULL;
    if (!ctx || EVP_PKEY_verify_init(ctx) != 1 ||
        (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA &&
         EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) ||
        EVP_PKEY_CTX_set_signature_md(ctx, sha256) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
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

/* HMAC-SHA256 of SignedInfo under the key, compared in constant time. */
static msgsec_err verify_hmac(const dsig_signature *s, const dsig_key *key, const uint8_t *value,
                              size_t value_len, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    uint8_t mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    strbuf si;
    sb_init(&si, 2048, 1u << 20);
    if (xml_c14n_subtree(s->signed_info, s->si_prefixes, xml_sink_strbuf, &si) != 0 || si.failed)
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot canonicalize SignedInfo");
    else if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key->hmac, key->hmac_len,
                        (const unsigned char *)si.data, si.len, mac, sizeof mac, &mac_len))
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "HMAC failed");
    else if (value_len != mac_len || !ct_equal(mac, value, mac_len))
        rc = msgsec_seterr(err, MSGSEC_E_AUTH, "%s value does not verify", s->what);
    OPENSSL_cleanse(mac, sizeof mac);
    sb_free(&si, 0);
    return rc;
}

msgsec_err dsig_check_value(const dsig_signature *s, const dsig_key *key, EVP_MD_CTX *md,
                            const EVP_MD *sha256, msgsec_error *err)
{
    msgsec_err rc;
    /* value_buf: up to RSA-4096 (684 base64 characters, 513 bytes with the padding) */
    uint8_t value_buf[516], *value = NULL, *der = NULL, hash[32];
    size_t value_len, der_len = 0;
    if ((rc = recv_b64_child_buf(s->signature_value, "SignatureValue", value_buf,
                                 sizeof value_buf, &value, &value_len, err)))
        return rc;
    if ((s->alg == DSIG_HMAC_SHA256) != (key->verify == NULL)) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "no key of the kind the signature needs");
        goto cleanup;
    }
    if (s->alg == DSIG_HMAC_SHA256) {
        rc = verify_hmac(s, key, value, value_len, err);
        goto cleanup;
    }
    const uint8_t *sigbytes = value;
    size_t siglen = value_len;
    if (s->alg == DSIG_ECDSA_SHA256) {
        if (value_len == 0 || value_len % 2 || value_len > 2 * 66 ||
            !ecdsa_raw_to_der(value, value_len, &der, &der_len)) {
            rc = msgsec_seterr(err, MSGSEC_E_AUTH, "ECDSA signature value has a wrong size");
            goto cleanup;
        }
        sigbytes = der;
        siglen = der_len;
    }
    if (xml_c14n_sha256(s->signed_info, s->si_prefixes, md, sha256, hash)) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot canonicalize SignedInfo");
        goto cleanup;
    }
    if (EVP_PKEY_verify(key->verify, sigbytes, siglen, hash, sizeof hash) != 1) {
        ERR_clear_error();
        rc = msgsec_seterr(err, MSGSEC_E_AUTH, "%s value does not verify", s->what);
    }
cleanup:
    OPENSSL_free(der);
    if (value != value_buf)
        free(value);
    return rc;
}

/* SHA-256 of what ref signs: its exclusive c14n, without the Signature
 * when it is enveloped. */
static int reference_sha256(const dsig_signature *s, const dsig_ref *ref, EVP_MD_CTX *md,
                            const EVP_MD *sha256, uint8_t out[32])
{
    unsigned int len = 0;
    if (!s->enveloped)
        return xml_c14n_sha256(ref->node, ref->prefixes, md, sha256, out);
    return EVP_DigestInit_ex(md, sha256, NULL) == 1 &&
                   xml_c14n_enveloped(ref->node, s->signature, ref->prefixes, xml_sink_digest,
                                      md) == 0 &&
                   EVP_DigestFinal_ex(md, out, &len) == 1 && len == 32
               ? 0
               : -1;
}

msgsec_err dsig_check_digests(const dsig_signature *s, EVP_MD_CTX *md, const EVP_MD *sha256,
                              msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    for (size_t i = 0; i < s->n_refs && rc == MSGSEC_OK; i++) {
        uint8_t digest[32];
        if (reference_sha256(s, &s->refs[i], md, sha256, digest) != 0)
            rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot digest %.64s", s->refs[i].uri);
        else if (!ct_equal(digest, s->refs[i].digest, 32))
            rc = msgsec_seterr(err, MSGSEC_E_AUTH, "Reference %.64s: digest does not match "
                               "(content altered)", s->refs[i].uri);
    }
    return rc;
}

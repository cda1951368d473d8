/* recv_trust.c - chain verification of a signer certificate against the
 * receiver's X509_STORE (built once), with a small cache of recently seen
 * signer certificates keyed by their token's text or exact DER: parsed
 * once, with the chain result, subject/issuer DNs and a signature
 * verification context kept (per message they would cost more than the RSA
 * verification). A cached chain result holds only inside the window where
 * every certificate of the verified chain (and every configured CRL) is
 * valid, so time-based failures are never masked; CAs and CRLs never change
 * during a receiver's life.
 *
 * Classes: untrusted, revoked, wrong key usage -> MSGSEC_E_AUTH;
 * expired or not yet valid -> MSGSEC_E_EXPIRED. */
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "recv_internal.h"

static int asn1_time(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = timegm(&tm);
    return 0;
}

/* [latest notBefore, earliest notAfter / CRL nextUpdate) of a verified chain. */
static int validity_window(msgsec_receiver *r, STACK_OF(X509) *chain, time_t *from,
                           time_t *until)
{
    *from = 0;
    *until = (time_t)INT64_MAX;
    for (int i = 0; i < sk_X509_num(chain); i++) {
        X509 *c = sk_X509_value(chain, i);
        time_t nb, na;
        if (asn1_time(X509_get0_notBefore(c), &nb) || asn1_time(X509_get0_notAfter(c), &na))
            return -1;
        if (nb > *from)
            *from = nb;
        if (na < *until)
            *until = na;
    }
    for (int i = 0; i < sk_X509_CRL_num(r->crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(r->crls, i);
        time_t lu, nu;
        if (asn1_time(X509_CRL_get0_lastUpdate(crl), &lu))
            return -1;
        if (lu > *from)
            *from = lu;
        if (X509_CRL_get0_nextUpdate(crl) && !asn1_time(X509_CRL_get0_nextUpdate(crl), &nu) &&
            nu < *until)
            *until = nu;
    }
    return 0;
}

static void entry_clear(signer_cache_entry *e)
{
    X509_free(e->cert);
    free(e->b64);
    free(e->der);
    free(e->subject);
    free(e->issuer);
    EVP_PKEY_CTX_free(e->verify_ctx);
    memset(e, 0, sizeof *e);
}

void trust_cache_free(msgsec_receiver *r)
{
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++)
        entry_clear(&r->signers[i]);
}

static signer_cache_entry *cached(msgsec_receiver *r, const X509 *cert)
{
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++)
        if (r->signers[i].cert && r->signers[i].cert == cert)
            return &r->signers[i];
    return NULL;
}

static X509 *cache_hit(signer_cache_entry *e)
{
    X509_up_ref(e->cert);
    return e->cert;
}

msgsec_err trust_cert_from_b64(msgsec_receiver *r, const char *b64, X509 **out,
                               msgsec_error *err)
{
    size_t b64_len = strlen(b64), len = 0;
    uint8_t *der = NULL;
    *out = NULL;
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++) {
        signer_cache_entry *e = &r->signers[i];
        if (e->cert && e->b64_len == b64_len && memcmp(e->b64, b64, b64_len) == 0) {
            *out = cache_hit(e);
            return MSGSEC_OK;
        }
    }
    if (b64_decode(b64, b64_len, &der, &len) != 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "BinarySecurityToken is not valid base64");
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++) {
        signer_cache_entry *e = &r->signers[i];
        if (e->cert && e->der_len == len && memcmp(e->der, der, len) == 0) {
            *out = cache_hit(e);
            free(der);
            return MSGSEC_OK;
        }
    }
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    if (!cert || p != der + len) {
        X509_free(cert);
        free(der);
        return msgsec_seterr_ssl(err, MSGSEC_E_MALFORMED, "BinarySecurityToken is not a certificate");
    }
    signer_cache_entry fresh = {.b64 = strndup(b64, b64_len), .b64_len = b64_len, .der = der,
                                .der_len = len, .cert = cert, .subject = cert_subject_dn(cert),
                                .issuer = cert_issuer_dn(cert)};
    if (fresh.b64 && fresh.subject && fresh.issuer) {
        X509_up_ref(cert);
        entry_clear(&r->signers[r->signers_next]);
        r->signers[r->signers_next] = fresh;
        r->signers_next = (r->signers_next + 1) % SIGNER_CACHE_SIZE;
    } else { /* without memory the certificate is just not cached */
        free(fresh.b64);
        free(fresh.der);
        free(fresh.subject);
        free(fresh.issuer);
    }
    *out = cert;
    return MSGSEC_OK;
}

msgsec_err trust_cert_identity(msgsec_receiver *r, X509 *cert, char **subject, char **issuer,
                               uint8_t **der, size_t *der_len, msgsec_error *err)
{
    const signer_cache_entry *e = cached(r, cert);
    int ok = 1;
    if (subject)
        ok &= (*subject = e ? strdup(e->subject) : cert_subject_dn(cert)) != NULL;
    if (issuer)
        ok &= (*issuer = e ? strdup(e->issuer) : cert_issuer_dn(cert)) != NULL;
    if (der) {
        unsigned char *encoded = NULL;
        int n = e ? (int)e->der_len : i2d_X509(cert, &encoded);
        *der = n > 0 ? malloc((size_t)n) : NULL;
        if (*der) {
            memcpy(*der, e ? e->der : encoded, (size_t)n);
            *der_len = (size_t)n;
        }
        OPENSSL_free(encoded);
        ok &= *der != NULL;
    }
    return ok ? MSGSEC_OK : msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
}

msgsec_err trust_verify_ctx(msgsec_receiver *r, X509 *cert, EVP_PKEY_CTX **out, int *owned,
                            msgsec_error *err)
{
    signer_cache_entry *e = cached(r, cert);
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    *out = NULL;
    *owned = 0;
    if (e && e->verify_ctx) {
        *out = e->verify_ctx;
        return MSGSEC_OK;
    }
    EVP_PKEY_CTX *ctx = pub ? EVP_PKEY_CTX_new(pub, NULL) : NULL;
    if (!ctx || EVP_PKEY_verify_init(ctx) != 1 ||
        (EVP_PKEY_get_base_id(pub) == EVP_PKEY_RSA &&
         EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1) ||
        EVP_PKEY_CTX_set_signature_md(ctx, r->sha256) != 1) {
        EVP_PKEY_CTX_free(ctx);
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up signature check");
    }
    if (e)
        e->verify_ctx = ctx;
    *owned = e == NULL;
    *out = ctx;
    return MSGSEC_OK;
}

msgsec_err trust_verify_cert(msgsec_receiver *r, X509 *cert, time_t now, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    if (!(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE))
        return msgsec_seterr(err, MSGSEC_E_AUTH, "signer certificate is not for digital signatures");
    signer_cache_entry *entry = cached(r, cert);
    if (entry && entry->valid_until && entry->valid_from <= now && now < entry->valid_until)
        return MSGSEC_OK;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!ctx || X509_STORE_CTX_init(ctx, r->store, cert, NULL) != 1) {
        X509_STORE_CTX_free(ctx);
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up chain verification");
    }
    X509_STORE_CTX_set_time(ctx, 0, now);
    if (X509_verify_cert(ctx) != 1) {
        int e = X509_STORE_CTX_get_error(ctx);
        ERR_clear_error();
        if (e == X509_V_ERR_CERT_HAS_EXPIRED)
            rc = msgsec_seterr(err, MSGSEC_E_EXPIRED, "signer certificate has expired");
        else if (e == X509_V_ERR_CERT_NOT_YET_VALID)
            rc = msgsec_seterr(err, MSGSEC_E_EXPIRED, "signer certificate is not yet valid");
        else if (e == X509_V_ERR_CERT_REVOKED)
            rc = msgsec_seterr(err, MSGSEC_E_AUTH, "signer certificate is revoked");
        else
            rc = msgsec_seterr(err, MSGSEC_E_AUTH, "signer certificate not trusted: %s",
                               X509_verify_cert_error_string(e));
    } else if (entry && validity_window(r, X509_STORE_CTX_get0_chain(ctx), &entry->valid_from,
                                        &entry->valid_until) != 0) {
        entry->valid_until = 0;
    }
    X509_STORE_CTX_free(ctx);
    return rc;
}

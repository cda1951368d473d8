/* recv_trust.c - chain verification of a signer certificate against the
 * receiver's X509_STORE (built once), with a small cache of recently seen
 * signer certificates keyed by their exact DER (parsed once; chain result
 * kept). A cached chain result
 * holds only inside the window where every certificate of the verified
 * chain (and every configured CRL) is valid, so time-based failures are
 * never masked; CAs and CRLs never change during a receiver's life.
 *
 * Classes: untrusted, revoked, wrong key usage -> MSGSEC_E_AUTH;
 * expired or not yet valid -> MSGSEC_E_EXPIRED. */
#include <string.h>

#include <openssl/err.h>
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

void trust_cache_free(msgsec_receiver *r)
{
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++) {
        X509_free(r->signers[i].cert);
        free(r->signers[i].der);
        memset(&r->signers[i], 0, sizeof r->signers[i]);
    }
}

msgsec_err trust_cert_from_der(msgsec_receiver *r, const uint8_t *der, size_t len, X509 **out,
                               msgsec_error *err)
{
    *out = NULL;
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++) {
        signer_cache_entry *e = &r->signers[i];
        if (e->cert && e->der_len == len && memcmp(e->der, der, len) == 0) {
            X509_up_ref(e->cert);
            *out = e->cert;
            return MSGSEC_OK;
        }
    }
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    if (!cert || p != der + len) {
        X509_free(cert);
        return msgsec_seterr_ssl(err, MSGSEC_E_MALFORMED, "BinarySecurityToken is not a certificate");
    }
    signer_cache_entry *slot = &r->signers[r->signers_next];
    uint8_t *copy = malloc(len);
    if (copy) { /* without memory the certificate is just not cached */
        X509_free(slot->cert);
        free(slot->der);
        memcpy(copy, der, len);
        X509_up_ref(cert);
        *slot = (signer_cache_entry){.der = copy, .der_len = len, .cert = cert};
        r->signers_next = (r->signers_next + 1) % SIGNER_CACHE_SIZE;
    }
    *out = cert;
    return MSGSEC_OK;
}

msgsec_err trust_verify_cert(msgsec_receiver *r, X509 *cert, time_t now, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    signer_cache_entry *entry = NULL;
    if (!(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE))
        return msgsec_seterr(err, MSGSEC_E_AUTH, "signer certificate is not for digital signatures");
    for (size_t i = 0; i < SIGNER_CACHE_SIZE && !entry; i++)
        if (r->signers[i].cert == cert)
            entry = &r->signers[i];
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

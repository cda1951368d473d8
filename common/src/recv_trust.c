/* recv_trust.c - the trust of recv_trust.h: CAs, CRLs and SAML issuers
 * loaded once; chain verification of a signer certificate against the
 * X509_STORE, with a small cache of recently seen signer certificates keyed
 * by their token's text or exact DER: parsed once, with the chain result,
 * subject/issuer DNs and a signature verification context kept (per
 * message they would cost more than the RSA verification). A cached chain
 * result holds only inside the window where every certificate of the
 * verified chain (and every configured CRL) is valid, so time-based
 * failures are never masked; CAs and CRLs never change during a receiver's
 * life.
 *
 * Classes: untrusted, revoked, wrong key usage -> MSGSEC_E_AUTH;
 * expired or not yet valid -> MSGSEC_E_EXPIRED. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "dsig.h"
#include "recv_trust.h"

static msgsec_err load_crls(recv_trust *t, const char *path, msgsec_error *err)
{
    FILE *f = fopen(path, "r");
    X509_CRL *crl;
    int count = 0;
    if (!f)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot open CRL %s", path);
    while ((crl = PEM_read_X509_CRL(f, NULL, NULL, NULL)) != NULL) {
        if (X509_STORE_add_crl(t->store, crl) != 1 || !sk_X509_CRL_push(t->crls, crl)) {
            X509_CRL_free(crl);
            fclose(f);
            return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot add CRL");
        }
        count++;
    }
    fclose(f);
    ERR_clear_error();
    if (count == 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "no PEM CRL in %s", path);
    return MSGSEC_OK;
}

msgsec_err trust_load(recv_trust *t, const msgsec_receiver_opts *opts, const EVP_MD *sha256,
                      msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    t->sha256 = sha256;
    if (!(t->store = X509_STORE_new()) || !(t->crls = sk_X509_CRL_new_null()))
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    for (size_t i = 0; i < opts->n_ca_files && rc == MSGSEC_OK; i++) {
        STACK_OF(X509) *cas = NULL;
        rc = load_certs(opts->ca_files[i], &cas, err);
        for (int j = 0; rc == MSGSEC_OK && j < sk_X509_num(cas); j++)
            if (X509_STORE_add_cert(t->store, sk_X509_value(cas, j)) != 1)
                rc = msgsec_seterr_ssl(err, MSGSEC_E_USAGE, "cannot add CA certificate");
        sk_X509_pop_free(cas, X509_free);
    }
    for (size_t i = 0; i < opts->n_crl_files && rc == MSGSEC_OK; i++)
        rc = load_crls(t, opts->crl_files[i], err);
    for (size_t i = 0; i < opts->n_issuer_files && rc == MSGSEC_OK; i++)
        rc = load_certs(opts->issuer_files[i], &t->issuers, err);
    if (rc == MSGSEC_OK && opts->n_crl_files)
        X509_STORE_set_flags(t->store, X509_V_FLAG_CRL_CHECK);
    return rc;
}

static int asn1_time(const ASN1_TIME *t, time_t *out)
{
    struct tm tm;
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return -1;
    *out = timegm(&tm);
    return 0;
}

/* [latest notBefore, earliest notAfter / CRL nextUpdate) of a verified chain. */
static int validity_window(const recv_trust *t, STACK_OF(X509) *chain, time_t *from,
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
    for (int i = 0; i < sk_X509_CRL_num(t->crls); i++) {
        X509_CRL *crl = sk_X509_CRL_value(t->crls, i);
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

void trust_free(recv_trust *t)
{
    X509_STORE_free(t->store);
    sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
    sk_X509_pop_free(t->issuers, X509_free);
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++)
        entry_clear(&t->signers[i]);
}

static signer_cache_entry *cached(recv_trust *t, const X509 *cert)
{
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++)
        if (t->signers[i].cert && t->signers[i].cert == cert)
            return &t->signers[i];
    return NULL;
}

static X509 *cache_hit(signer_cache_entry *e)
{
    X509_up_ref(e->cert);
    return e->cert;
}

msgsec_err trust_cert_from_b64(recv_trust *t, const char *b64, X509 **out, msgsec_error *err)
{
    size_t b64_len = strlen(b64), len = 0;
    uint8_t *der = NULL;
    *out = NULL;
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++) {
        signer_cache_entry *e = &t->signers[i];
        if (e->cert && e->b64_len == b64_len && memcmp(e->b64, b64, b64_len) == 0) {
            *out = cache_hit(e);
            return MSGSEC_OK;
        }
    }
    if (b64_decode(b64, b64_len, &der, &len) != 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "BinarySecurityToken is not valid base64");
    for (size_t i = 0; i < SIGNER_CACHE_SIZE; i++) {
        signer_cache_entry *e = &t->signers[i];
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
        entry_clear(&t->signers[t->signers_next]);
        t->signers[t->signers_next] = fresh;
        t->signers_next = (t->signers_next + 1) % SIGNER_CACHE_SIZE;
    } else { /* without memory the certificate is just not cached */
        free(fresh.b64);
        free(fresh.der);
        free(fresh.subject);
        free(fresh.issuer);
    }
    *out = cert;
    return MSGSEC_OK;
}

msgsec_err trust_cert_identity(recv_trust *t, X509 *cert, char **subject, char **issuer,
                               uint8_t **der, size_t *der_len, msgsec_error *err)
{
    const signer_cache_entry *e = cached(t, cert);
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

msgsec_err trust_verify_ctx(recv_trust *t, X509 *cert, EVP_PKEY_CTX **out, int *owned,
                            msgsec_error *err)
{
    signer_cache_entry *e = cached(t, cert);
    *out = NULL;
    *owned = 0;
    if (e && e->verify_ctx) {
        *out = e->verify_ctx;
        return MSGSEC_OK;
    }
    EVP_PKEY_CTX *ctx = dsig_verify_ctx(X509_get0_pubkey(cert), t->sha256);
    if (!ctx)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up signature check");
    if (e)
        e->verify_ctx = ctx;
    *owned = e == NULL;
    *out = ctx;
    return MSGSEC_OK;
}

msgsec_err trust_verify_cert(recv_trust *t, X509 *cert, time_t now, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    if (!(X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE))
        return msgsec_seterr(err, MSGSEC_E_AUTH, "signer certificate is not for digital signatures");
    signer_cache_entry *entry = cached(t, cert);
    if (entry && entry->valid_until && entry->valid_from <= now && now < entry->valid_until)
        return MSGSEC_OK;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!ctx || X509_STORE_CTX_init(ctx, t->store, cert, NULL) != 1) {
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
    } else if (entry && validity_window(t, X509_STORE_CTX_get0_chain(ctx), &entry->valid_from,
                                        &entry->valid_until) != 0) {
        entry->valid_until = 0;
    }
    X509_STORE_CTX_free(ctx);
    return rc;
}

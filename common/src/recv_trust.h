/* recv_trust.h - what the receiver trusts (internal): the CAs and CRLs
 * that signer certificates chain to, the SAML token issuers, and a cache of
 * recently seen signer certificates. A leaf of the receiver: it knows
 * certificates, not messages. */
#ifndef MSGSEC_RECV_TRUST_H
#define MSGSEC_RECV_TRUST_H

#include "internal.h"

/* A recently seen signer certificate: parsing one costs more than an RSA
 * verification in OpenSSL 3, and chain verification more still. */
typedef struct signer_cache_entry {
    char *b64;                      /* the BinarySecurityToken's text when first seen */
    size_t b64_len;
    uint8_t *der;                   /* its exact DER */
    size_t der_len;
    X509 *cert;                     /* parsed once; callers take a reference */
    char *subject, *issuer;         /* RFC 2253 DNs, formatted once */
    EVP_PKEY_CTX *verify_ctx;       /* set up once for SHA-256 signatures; NULL until used */
    time_t valid_from, valid_until; /* window where the verified chain stays valid;
                                       valid_until 0 = chain not verified */
} signer_cache_entry;
#define SIGNER_CACHE_SIZE 16

typedef struct recv_trust {
    X509_STORE *store;           /* CAs and CRLs, built once */
    STACK_OF(X509_CRL) *crls;    /* the same CRLs, for validity windows */
    STACK_OF(X509) *issuers;     /* trusted SAML token issuers; NULL when none */
    const EVP_MD *sha256;        /* borrowed (the receiver's, fetched once) */
    signer_cache_entry signers[SIGNER_CACHE_SIZE];
    size_t signers_next;
} recv_trust;

/* Builds t (zeroed by the caller) from the CA, CRL and issuer files of opts
 * (borrowed); sha256: borrowed for t's life. Unreadable files
 * MSGSEC_E_USAGE. Release with trust_free, also after a failure. */
msgsec_err trust_load(recv_trust *t, const msgsec_receiver_opts *opts, const EVP_MD *sha256,
                      msgsec_error *err);
void trust_free(recv_trust *t);

/* The certificate of a BinarySecurityToken's base64 text b64 (borrowed): from
 * the cache (same text, or same DER after decoding) or parsed and cached.
 * *out: a new reference, caller frees with X509_free. */
msgsec_err trust_cert_from_b64(recv_trust *t, const char *b64, X509 **out, msgsec_error *err);

/* Subject and issuer DN (RFC 2253) and DER of cert, from the cache when it
 * holds cert. Each out-parameter may be NULL; caller frees with free(). */
msgsec_err trust_cert_identity(recv_trust *t, X509 *cert, char **subject, char **issuer,
                               uint8_t **der, size_t *der_len, msgsec_error *err);

/* An EVP_PKEY_CTX ready for EVP_PKEY_verify of a SHA-256 digest with cert's
 * key (RSA PKCS#1 v1.5 or ECDSA): the cached one (*owned = 0) or a new one
 * the caller frees with EVP_PKEY_CTX_free (*owned = 1). */
msgsec_err trust_verify_ctx(recv_trust *t, X509 *cert, EVP_PKEY_CTX **out, int *owned,
                            msgsec_error *err);

/* Chain of cert to the configured CAs (and CRLs) at now, key usage.
 * Untrusted/revoked -> MSGSEC_E_AUTH, expired/not yet valid -> MSGSEC_E_EXPIRED. */
msgsec_err trust_verify_cert(recv_trust *t, X509 *cert, time_t now, msgsec_error *err);

#endif

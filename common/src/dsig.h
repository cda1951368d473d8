/* dsig.h - the one XML-DSig verifier of libmsgsec (internal): the
 * WS-Security message signature (recv_sig.c) and the SAML assertion
 * signature (saml.c) both go through it. No xmlsec engine: the rules are
 * ours, the canonicalization is xml.c's, the cryptography OpenSSL's.
 *
 * The caller parses (dsig_parse: shape and allow-lists, DESIGN.md receiver
 * rules 3 and 4), finds the key from a token or a trusted certificate it
 * checks itself (dsig_check_key_info refuses keys the Signature would bring
 * along), makes sure the algorithm fits that key (dsig_alg_for_key) and then
 * checks the value (dsig_check_value) and the digests (dsig_check_digests)
 * in the order it wants. Nothing here trusts a key. */
#ifndef MSGSEC_DSIG_H
#define MSGSEC_DSIG_H

#include "internal.h"
#include "xml.h"

#define DSIG_MAX_REFS 32

typedef enum dsig_alg {
    DSIG_RSA_SHA256 = 1,
    DSIG_ECDSA_SHA256 = 2,
    DSIG_HMAC_SHA256 = 4,
} dsig_alg;

/* What a caller accepts; everything else is refused. */
typedef struct dsig_rules {
    const char *what;           /* the signature in details: "signature", "SAML signature" */
    unsigned algorithms;        /* dsig_alg bits */
    /* NULL: detached References, each "#id" of the document's ID registry,
     * Transforms exactly [exc-c14n]. Else enveloped: exactly one Reference,
     * "#" + enveloped_id (the ID of the Signature's parent), Transforms
     * exactly [enveloped-signature, exc-c14n]. */
    const char *enveloped_id;
    const char *enveloped_what; /* that parent in details: "the assertion" */
} dsig_rules;

typedef struct dsig_ref {
    const char *uri;            /* borrowed from the tree */
    xmlNodePtr node;            /* the element it signs */
    xmlChar **prefixes;         /* exc-c14n InclusiveNamespaces PrefixList; NULL when absent */
    uint8_t digest[32];         /* its DigestValue */
} dsig_ref;

typedef struct dsig_signature {
    const char *what;           /* rules->what */
    int enveloped;
    xmlNodePtr signature, signed_info, signature_value;
    xmlNodePtr key_info;        /* NULL when absent */
    xmlChar **si_prefixes;      /* SignedInfo's PrefixList; NULL when absent */
    const char *algorithm;      /* SignatureMethod URI, borrowed */
    dsig_alg alg;
    dsig_ref refs[DSIG_MAX_REFS];
    size_t n_refs;
} dsig_signature;

/* Splits signature (a ds:Signature) into *out: SignedInfo, SignatureValue,
 * at most one KeyInfo and nothing else (ds:Object refused); SignedInfo with
 * exc-c14n (an optional PrefixList), a SignatureMethod of rules->algorithms
 * without children (no HMACOutputLength), 1 to DSIG_MAX_REFS References as
 * rules says, each with DigestMethod sha256 and a 32-byte DigestValue.
 * Missing or misplaced parts MSGSEC_E_MALFORMED, anything not allowed
 * MSGSEC_E_POLICY; detached References resolve as xml_ids_resolve does.
 * signature, ids, rules: borrowed (ids unused for enveloped signatures).
 * *out: release with dsig_clear, also after a failure. */
msgsec_err dsig_parse(xmlNodePtr signature, const xml_ids *ids, const dsig_rules *rules,
                      dsig_signature *out, msgsec_error *err);
void dsig_clear(dsig_signature *s);

/* The KeyInfo rule, for every KeyInfo a key is read from: a ds:KeyValue or
 * ds:RetrievalMethod child is MSGSEC_E_POLICY (keys come only from tokens
 * and certificates the caller checks). what names key_info in the detail. */
msgsec_err dsig_check_key_info(const xmlNode *key_info, const char *what, msgsec_error *err);

/* The asymmetric algorithm a public key signs with: DSIG_RSA_SHA256 for
 * RSA, DSIG_ECDSA_SHA256 for EC, 0 for any other key. */
dsig_alg dsig_alg_for_key(const EVP_PKEY *pub);

/* An EVP_PKEY_CTX ready for EVP_PKEY_verify of a SHA-256 digest with pub
 * (RSA PKCS#1 v1.5 or ECDSA); NULL on failure (OpenSSL error queued).
 * Caller frees with EVP_PKEY_CTX_free. */
EVP_PKEY_CTX *dsig_verify_ctx(EVP_PKEY *pub, const EVP_MD *sha256);

/* The key that checks a SignatureValue, found by the caller (borrowed). */
typedef struct dsig_key {
    EVP_PKEY_CTX *verify;       /* RSA, ECDSA: from dsig_verify_ctx */
    const uint8_t *hmac;        /* HMAC-SHA256: the key, hmac_len bytes */
    size_t hmac_len;
} dsig_key;

/* The SignatureValue of s under key, which the caller made sure fits
 * s->alg: MSGSEC_E_AUTH when it does not verify. md, sha256: the caller's
 * digest context (reused) and SHA-256 (fetched once), borrowed. */
msgsec_err dsig_check_value(const dsig_signature *s, const dsig_key *key, EVP_MD_CTX *md,
                            const EVP_MD *sha256, msgsec_error *err);

/* The digest of every Reference: MSGSEC_E_AUTH when one does not match. */
msgsec_err dsig_check_digests(const dsig_signature *s, EVP_MD_CTX *md, const EVP_MD *sha256,
                              msgsec_error *err);

#endif

/* saml.h - the `issued` credential: SAML 2.0 holder-of-key assertions
 * (WSS SAML Token Profile 1.1, ValueType WSS_SAML2_TOKEN) (internal).
 *
 * saml_issue() is the small development STS behind `msgsec sts issue`;
 * saml_verify() checks an assertion from any SAML 2.0 issuer whose signing
 * certificate is trusted. Signatures: enveloped, Reference URI="#<ID>" to the
 * Assertion itself, Transforms exactly [enveloped-signature, exc-c14n],
 * exc-c14n SignedInfo, rsa-sha256, sha256 digest; checked by the XML-DSig
 * verifier of the message signature (dsig.h). */
#ifndef MSGSEC_SAML_H
#define MSGSEC_SAML_H

#include <libxml/tree.h>

#include "internal.h"

#define SAML_CM_HOLDER_OF_KEY "urn:oasis:names:tc:SAML:2.0:cm:holder-of-key"
#define SAML_CM_BEARER "urn:oasis:names:tc:SAML:2.0:cm:bearer"

typedef struct saml_attr {
    const char *name;
    const char *value;
} saml_attr;

typedef struct saml_issue_params {
    EVP_PKEY *sts_key;         /* signs (RSA); borrowed */
    X509 *sts_cert;            /* its certificate: Issuer = its subject DN, and KeyInfo */
    const char *subject;       /* NameID */
    const char *audience;      /* AudienceRestriction/Audience (the service's wsa:To) */
    X509 *subject_cert;        /* holder-of-key certificate; NULL = bearer confirmation
                                  (which msgsec receivers refuse) */
    long lifetime;             /* seconds from now to NotOnOrAfter; <= 0 = 3600 */
    const saml_attr *attrs;    /* AttributeStatement, one Attribute per entry */
    size_t n_attrs;
    time_t now;                /* IssueInstant and NotBefore; 0 = current time */
} saml_issue_params;

/* Builds and signs an Assertion (written directly in exclusive-c14n form).
 * params: borrowed. *xml (NUL-terminated, *len bytes): caller frees with free(). */
msgsec_err saml_issue(const saml_issue_params *params, char **xml, size_t *len,
                      msgsec_error *err);

typedef struct saml_trust {
    STACK_OF(X509) *issuers;   /* trusted signing certificates (exact DER match); borrowed */
    const char *audience;      /* required audience, e.g. the message's wsa:To; borrowed */
    time_t now;                /* 0 = current time */
    long clock_skew;           /* seconds, applied to every time comparison */
} saml_trust;

typedef struct saml_assertion {
    char *id;                  /* Assertion ID */
    char *issuer;              /* Issuer element text */
    char *subject;             /* NameID text */
    X509 *issuer_cert;         /* the trusted certificate that verified the signature */
    X509 *holder_cert;         /* the SubjectConfirmation key: the message must be signed by it */
    time_t not_before, not_on_or_after; /* not_before 0 when absent */
    saml_attr *claims;         /* name/value per AttributeValue, in document order */
    size_t n_claims;
} saml_assertion;

/* Verifies a saml2:Assertion element of a document parsed with xml_parse().
 * Rules: the document's IDs are unique and "#ID" resolves to this very
 * element; exactly one ds:Signature, the child right after Issuer, signing
 * only this element; the signing certificate (KeyInfo X509Certificate, or
 * each trusted issuer when KeyInfo is absent) is one of trust->issuers;
 * NameID, Issuer, Audience and attribute values are single text nodes (a
 * comment or CDATA inside them is refused, so "admin<!---->@evil" can never
 * read as "admin@evil"); Conditions with NotOnOrAfter and at least one
 * AudienceRestriction are required, every AudienceRestriction must list
 * trust->audience, and no other condition type is accepted; a
 * holder-of-key SubjectConfirmation with one X509Certificate is required.
 * Errors: untrusted issuer or bad signature MSGSEC_E_AUTH; outside
 * NotBefore/NotOnOrAfter (or IssueInstant in the future) MSGSEC_E_EXPIRED;
 * wrong audience, unsupported algorithm, condition or confirmation method
 * MSGSEC_E_POLICY; anything structurally wrong MSGSEC_E_MALFORMED.
 * assertion, trust: borrowed. *out: caller frees with saml_assertion_free. */
msgsec_err saml_verify(xmlNodePtr assertion, const saml_trust *trust, saml_assertion **out,
                       msgsec_error *err);
void saml_assertion_free(saml_assertion *a);

/* Sender side of the issued credential (msgsec wrap --token FILE): reads the
 * Assertion the STS issued, checks that it is holder-of-key and, when
 * own_cert is given, bound to that certificate (the one that will sign the
 * message). The issuer signature is not checked here (the sender does not
 * need to trust the STS; the service does). Any problem: MSGSEC_E_USAGE.
 * *out: release with saml_token_clear. */
typedef struct saml_token {
    char *xml;         /* the Assertion element, serialized without XML declaration */
    size_t len;
    char *id;          /* its ID, for the STR KeyIdentifier (ValueType WSS_SAML2_ID) */
    X509 *holder_cert; /* the holder-of-key certificate */
} saml_token;

msgsec_err saml_token_load(const char *path, X509 *own_cert, saml_token *out, msgsec_error *err);
void saml_token_clear(saml_token *token);

#endif

/* recv_token.h - token resolution (internal): which token or certificate a
 * reference of the message names. Resolving finds and reads; what a token's
 * key is worth is decided by the step that uses it (recv_sig.c for the
 * signature, recv_dec.c for EncryptedKeys, recv_cred.c for assertions and
 * Kerberos tokens).
 *
 *   recv_token_signing   a Signature's KeyInfo -> the signing token
 *   recv_token_of_data   an EncryptedData -> the token that carries its key
 *   recv_token_cert_ref  the forms that name a certificate (thumbprint, SKI,
 *                        issuer and serial, the certificate, a BST Reference),
 *                        compared with one the receiver holds */
#ifndef MSGSEC_RECV_TOKEN_H
#define MSGSEC_RECV_TOKEN_H

#include "recv_msg.h"

typedef enum recv_token_kind {
    RECV_TOKEN_X509 = 1,      /* certificate credential: an X.509 BinarySecurityToken */
    RECV_TOKEN_KERBEROS,      /* windows: a Kerberos AP-REQ BinarySecurityToken */
    RECV_TOKEN_ENCRYPTED_KEY, /* none, username: the key of an EncryptedKey signs */
    RECV_TOKEN_SAML,          /* issued: a saml2:Assertion */
} recv_token_kind;

typedef struct recv_token {
    recv_token_kind kind;
    xmlNodePtr node;          /* the token element (borrowed from the tree) */
    X509 *cert;               /* RECV_TOKEN_X509: its certificate (owned) */
} recv_token;

/* The signing token of a Signature whose KeyInfo (may be NULL) is key_info:
 * the KeyInfo rule (dsig_check_key_info), then one
 * wsse:SecurityTokenReference holding a wsse:Reference to a
 * BinarySecurityToken (X.509 v3, parsed through the signer cache, or
 * Kerberos AP-REQ) or an EncryptedKey, or a KeyIdentifier of ValueType
 * SAMLID naming a saml2:Assertion. Anything else MSGSEC_E_POLICY; a bad
 * reference as xml_ids_resolve; an X.509 token that is not a certificate
 * MSGSEC_E_MALFORMED. *out: release with recv_token_clear (also after a
 * failure). */
msgsec_err recv_token_signing(recv_msg *m, xmlNodePtr key_info, recv_token *out,
                              msgsec_error *err);
void recv_token_clear(recv_token *t);

/* The token that carries ed's key: an EncryptedKey inline in its KeyInfo,
 * the token an STR there references, or the one EncryptedKey of the
 * Security header whose ReferenceList lists ed. None, two EncryptedKeys
 * listing ed, or a ReferenceList and a KeyInfo naming different tokens:
 * MSGSEC_E_MALFORMED (exactly one key may decrypt ed). *token: borrowed
 * from the tree. */
msgsec_err recv_token_of_data(const recv_msg *m, xmlNodePtr ed, xmlNodePtr *token,
                              msgsec_error *err);

typedef enum recv_cert_ref {
    RECV_REF_BAD = -1, /* a form we read, malformed */
    RECV_REF_NONE = 0, /* no form we read */
    RECV_REF_OK = 1,   /* at least one form we read, all well formed */
} recv_cert_ref;

/* How the children of key_info (ds:X509Data, or a
 * wsse:SecurityTokenReference holding a KeyIdentifier ThumbprintSHA1 of 20
 * bytes or SKI, ds:X509Data with X509IssuerSerial (decimal serial), X509SKI
 * or X509Certificate, or a Reference to an X.509 BinarySecurityToken)
 * name a certificate. Each form is compared with cert (may be NULL), whose
 * SHA-1 thumbprint is thumbprint: *names is set to 1 when one names it. */
recv_cert_ref recv_token_cert_ref(const xml_ids *ids, xmlNodePtr key_info, X509 *cert,
                                  const uint8_t thumbprint[20], int *names);

#endif

/* sender.h - the sender handle (internal): what msgsec_sender_new
 * (sender.c) sets up once per sender, keys, certificates, tokens and every
 * OpenSSL context, and msgsec_wrap (wrap.c) uses per message. */
#ifndef MSGSEC_SENDER_H
#define MSGSEC_SENDER_H

#include "internal.h"

#define CONTENT_KEY_LEN 32

typedef enum sign_kind { SIGN_HMAC, SIGN_RSA, SIGN_ECDSA } sign_kind;

struct msgsec_sender {
    msgsec_credential credential;
    long ttl;
    size_t max_xml_bytes;        /* XML payloads: parsed, so bounded */
    sign_kind sign_kind;
    EVP_PKEY *client_key;        /* certificate credential */
    EVP_PKEY_CTX *sign_ctx;      /* sign-initialised, SHA-256 (+ PKCS#1 v1.5 for RSA) */
    char *client_cert_b64;       /* base64 DER of the client certificate (the BST) */
    char *saml_xml;              /* issued: the Assertion, written verbatim */
    char *saml_id;               /* its ID (signature Reference and STR KeyIdentifier) */
    char saml_digest[48];        /* base64 SHA-256 of its exclusive c14n */
    char *service_principal;     /* windows: a fresh AP-REQ per message for it */
    char *username, *password;   /* username: the UsernameToken, encrypted per message */
    EVP_PKEY *service_key;       /* public key of the service certificate */
    EVP_PKEY_CTX *oaep_ctx;      /* encrypt-initialised, OAEP SHA-1 / MGF1 SHA-1 */
    char service_thumbprint[32]; /* base64 SHA-1 of the service certificate DER */
    EVP_MD *sha256;
    EVP_MD_CTX *md_ctx;
    EVP_CIPHER *aes256gcm;
    EVP_CIPHER_CTX *cipher_ctx;
    EVP_MAC *hmac; /* none and windows credentials */
    EVP_MAC_CTX *mac_ctx;
    /* per-message work buffers, reused (handles are single-threaded); they
     * only ever hold ciphertext and public header text */
    strbuf body, scratch, signed_info;
};

/* The strings we put in the envelope must be XML characters: valid UTF-8
 * without control characters other than tab, newline and carriage return,
 * 1 to 4096 bytes. Otherwise MSGSEC_E_USAGE naming what. */
msgsec_err sender_check_string(const char *what, const char *s, msgsec_error *err);
/* A message TTL (0 = the default) within 0..10 years; else MSGSEC_E_USAGE. */
msgsec_err sender_check_ttl(long ttl, msgsec_error *err);

#endif

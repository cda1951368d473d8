/* internal.h - shared internals of libmsgsec (not installed). */
#ifndef MSGSEC_INTERNAL_H
#define MSGSEC_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "msgsec.h"

#if defined(__GNUC__)
#define MSGSEC_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define MSGSEC_PRINTF(f, a)
#endif

/* ---- namespaces and algorithm URIs (one place for every literal) ---- */
#define NS_SOAP12 "http://www.w3.org/2003/05/soap-envelope"
#define NS_SOAP11 "http://schemas.xmlsoap.org/soap/envelope/"
#define SOAP12_ROLE_NEXT NS_SOAP12 "/role/next"
#define SOAP12_ROLE_ULTIMATE NS_SOAP12 "/role/ultimateReceiver"
#define SOAP11_ACTOR_NEXT "http://schemas.xmlsoap.org/soap/actor/next"
#define NS_WSA "http://www.w3.org/2005/08/addressing"
#define NS_WSSE "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
#define NS_WSSE11 "http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd"
#define NS_WSU "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
#define NS_DS "http://www.w3.org/2000/09/xmldsig#"
#define NS_XENC "http://www.w3.org/2001/04/xmlenc#"
#define NS_XENC11 "http://www.w3.org/2009/xmlenc11#"
#define NS_SAML2 "urn:oasis:names:tc:SAML:2.0:assertion"

#define WSS_BASE64 "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
#define WSS_X509V3 "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
#define WSS_THUMBPRINT "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#ThumbprintSHA1"
#define WSS_ENCRYPTEDKEY "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKey"
#define WSS_ENCKEYSHA1 "http://docs.oasis-open.org/wss/oasis-wss-soap-message-security-1.1#EncryptedKeySHA1"
#define WSS_PASSWORD_TEXT "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
#define WSS_KERBEROS_APREQ "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#GSS_Kerberosv5_AP_REQ"
#define WSS_SAML2_TOKEN "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0"
#define WSS_SAML2_ID "http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID"

#define ALG_EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define ALG_SHA256 "http://www.w3.org/2001/04/xmlenc#sha256"
#define ALG_SHA1 "http://www.w3.org/2000/09/xmldsig#sha1"
#define ALG_RSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
#define ALG_ECDSA_SHA256 "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
#define ALG_HMAC_SHA256 "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
#define ALG_RSA_SHA1 "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
#define ALG_RSA_OAEP_MGF1P "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
#define ALG_RSA_OAEP11 "http://www.w3.org/2009/xmlenc11#rsa-oaep"
#define ALG_MGF1_SHA256 "http://www.w3.org/2009/xmlenc11#mgf1sha256"
#define ALG_RSA_1_5 "http://www.w3.org/2001/04/xmlenc#rsa-1_5"
#define ALG_AES256_GCM "http://www.w3.org/2009/xmlenc11#aes256-gcm"
#define ALG_AES128_GCM "http://www.w3.org/2009/xmlenc11#aes128-gcm"
#define ALG_ENVELOPED_SIGNATURE "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
#define XENC_TYPE_CONTENT "http://www.w3.org/2001/04/xmlenc#Content"
#define XENC_TYPE_ELEMENT "http://www.w3.org/2001/04/xmlenc#Element"

#define MSGSEC_DEFAULT_SUITE "basic256sha256"
#define MSGSEC_DEFAULT_TTL 86400L
#define MSGSEC_DEFAULT_MAX_AGE 86400L
#define MSGSEC_DEFAULT_SKEW 300L
#define MSGSEC_DEFAULT_MAX_BYTES 1048576u
#define MSGSEC_DEFAULT_REPLAY_BYTES ((size_t)64 << 20) /* persistent replay store */
#define MSGSEC_REPLAY_MIN_BYTES ((size_t)1 << 20)
#define MSGSEC_REPLAY_MAX_BYTES ((size_t)1 << 40)
#define MSGSEC_DEFAULT_TO "urn:msgsec:service"
#define MSGSEC_DEFAULT_ACTION "urn:msgsec:message"
#define MSGSEC_DEFAULT_MIME "application/octet-stream"

/* ---- errors ---- */
/* Sets err (may be NULL) and returns code. fmt: one line, no secrets. */
msgsec_err msgsec_seterr(msgsec_error *err, msgsec_err code, const char *fmt, ...)
    MSGSEC_PRINTF(3, 4);
/* Appends the first queued OpenSSL error reason (if any) and clears the queue. */
msgsec_err msgsec_seterr_ssl(msgsec_error *err, msgsec_err code, const char *what);

/* ---- growable byte buffer with a hard bound ---- */
typedef struct strbuf {
    char *data;   /* always NUL-terminated when non-NULL */
    size_t len, cap;
    size_t limit; /* 0 = SIZE_MAX/2 */
    int failed;   /* sticky: allocation failed or limit exceeded */
} strbuf;
/* Grows the array *items (elements of elem bytes, capacity *cap) to hold at
 * least need elements, doubling from first_cap. 0 ok; -1 out of memory
 * (*items and *cap unchanged). items: a pointer to the array pointer. */
int grow_array(void *items, size_t *cap, size_t need, size_t elem, size_t first_cap);

void sb_init(strbuf *sb, size_t initial, size_t limit);
void sb_append(strbuf *sb, const void *data, size_t len);
void sb_puts(strbuf *sb, const char *s);
void sb_printf(strbuf *sb, const char *fmt, ...) MSGSEC_PRINTF(2, 3);
/* XML-escapes text content / attribute values (& < > " \r). */
void sb_put_xml_escaped(strbuf *sb, const char *s, size_t len);
void sb_put_base64(strbuf *sb, const uint8_t *data, size_t len);
/* Releases the buffer; wipe = 1 cleanses it first. */
void sb_free(strbuf *sb, int wipe);
/* Hands the data to the caller (caller frees with free()). */
char *sb_steal(strbuf *sb, size_t *len);

/* ---- base64 (RFC 4648, whitespace in input ignored) ---- */
/* *out: caller frees with free(). Returns 0 on success, -1 on bad input. */
int b64_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len);
/* The same into out (cap bytes) without allocating, for short values: 0 on
 * success, -1 on bad input, 1 when the value may not fit (nothing decoded;
 * b64_decode gives the answer). */
int b64_decode_small(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len);

/* ---- time ---- */
/* Formats t as xsd:dateTime UTC with millisecond precision ("...T..:..:..Z"). buf >= 32. */
void xsd_time_format(time_t t, char *buf, size_t size);
/* Parses xsd:dateTime (fraction and Z / +hh:mm allowed). 0 ok, -1 bad. */
int xsd_time_parse(const char *s, time_t *out);

/* ---- misc ---- */
/* "urn:uuid:" + random v4 UUID; buf >= 46. */
int uuid_urn(char *buf, size_t size);
/* Reads a whole file up to limit bytes. *out NUL-terminated; caller frees. */
msgsec_err read_file_bounded(const char *path, size_t limit, uint8_t **out, size_t *len,
                             msgsec_error *err);
/* Constant-time equality of two equal-length byte strings. */
int ct_equal(const void *a, const void *b, size_t len);

/* ---- keys and certificates ---- */
/* Refuses (MSGSEC_E_USAGE) an open key file that is not a regular file or that
 * group/others can access, as ssh does. fd: borrowed; path: for the message. */
msgsec_err check_private_key_mode(int fd, const char *path, msgsec_error *err);
/* Loads a PEM private key; refuses files group/other can read (MSGSEC_E_USAGE). */
msgsec_err load_private_key(const char *path, EVP_PKEY **out, msgsec_error *err);
/* Loads the first PEM certificate of a file. */
msgsec_err load_cert(const char *path, X509 **out, msgsec_error *err);
/* Loads all PEM certificates of a file into *stack (created if NULL). */
msgsec_err load_certs(const char *path, STACK_OF(X509) **stack, msgsec_error *err);
/* SHA-1 thumbprint of the DER certificate (20 bytes). */
int cert_thumbprint_sha1(X509 *cert, uint8_t out[20]);
/* RFC 2253-style subject DN ("CN=shop1,O=Example"), caller frees with free(). */
char *cert_subject_dn(X509 *cert);
char *cert_issuer_dn(X509 *cert);

#endif

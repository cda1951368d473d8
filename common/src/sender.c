/* sender.c - msgsec_sender_new / msgsec_sender_free: the sender handle
 * (sender.h) and the set-up of each credential: the signing key and
 * certificate (certificate, issued), the SAML assertion, its canonical
 * digest (issued), a first Kerberos AP-REQ (windows), the username and
 * password, the service certificate and every OpenSSL context, once per
 * sender. Envelope writing is wrap.c's. */
#include <stdlib.h>
#include <string.h>

#include <libxml/xmlstring.h>
#include <openssl/err.h>
#include <openssl/rsa.h>

#include "kerberos.h"
#include "saml.h"
#include "sender.h"
#include "xml.h"

#define MAX_PARAM_LEN 4096 /* wsa:To, wsa:Action, MessageID, content type, username, password */
#define MAX_TTL (10L * 366 * 86400)

msgsec_err sender_check_string(const char *what, const char *s, msgsec_error *err)
{
    size_t len = strlen(s);
    if (len == 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s is empty", what);
    if (len > MAX_PARAM_LEN)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s is longer than %d bytes", what,
                             MAX_PARAM_LEN);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')
            return msgsec_seterr(err, MSGSEC_E_USAGE, "%s contains a control character", what);
    if (!xmlCheckUTF8((const xmlChar *)s))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s is not valid UTF-8", what);
    return MSGSEC_OK;
}

/* Loads the signing key and its certificate (certificate and issued
 * credentials) and sets up signing. *cert: caller frees with X509_free. */
static msgsec_err load_signer(msgsec_sender *s, const msgsec_sender_opts *opts, X509 **cert,
                              msgsec_error *err)
{
    msgsec_err rc;
    if (!opts->cert_file || !opts->key_file)
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "credential %s needs a client certificate and key",
                             msgsec_credential_name(opts->credential));
    if ((rc = load_private_key(opts->key_file, &s->client_key, err)) != MSGSEC_OK ||
        (rc = load_cert(opts->cert_file, cert, err)) != MSGSEC_OK)
        return rc;
    if (X509_check_private_key(*cert, s->client_key) != 1) {
        ERR_clear_error();
        return msgsec_seterr(err, MSGSEC_E_USAGE, "key %s does not match certificate %s",
                             opts->key_file, opts->cert_file);
    }
    if (EVP_PKEY_is_a(s->client_key, "RSA")) {
        if (EVP_PKEY_get_bits(s->client_key) < 2048)
            return msgsec_seterr(err, MSGSEC_E_USAGE,
                                 "client RSA key has %d bits; 2048 or more needed",
                                 EVP_PKEY_get_bits(s->client_key));
        s->sign_kind = SIGN_RSA;
    } else if (EVP_PKEY_is_a(s->client_key, "EC")) {
        char group[64] = "";
        if (!EVP_PKEY_get_group_name(s->client_key, group, sizeof group, NULL) ||
            strcmp(group, "prime256v1") != 0)
            return msgsec_seterr(err, MSGSEC_E_USAGE, "client EC key is on curve %s; P-256 needed",
                                 group[0] ? group : "(unknown)");
        s->sign_kind = SIGN_ECDSA;
    } else {
        return msgsec_seterr(err, MSGSEC_E_USAGE, "client key must be RSA or ECDSA P-256");
    }
    s->sign_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->client_key, NULL);
    if (!s->sign_ctx || EVP_PKEY_sign_init(s->sign_ctx) != 1 ||
        (s->sign_kind == SIGN_RSA &&
         EVP_PKEY_CTX_set_rsa_padding(s->sign_ctx, RSA_PKCS1_PADDING) != 1) ||
        EVP_PKEY_CTX_set_signature_md(s->sign_ctx, s->sha256) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up signing");
    return MSGSEC_OK;
}

/* certificate credential: the BST content, base64 DER of the client certificate. */
static msgsec_err encode_bst(msgsec_sender *s, X509 *cert, msgsec_error *err)
{
    uint8_t *der = NULL;
    int der_len = i2d_X509(cert, &der);
    if (der_len <= 0)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot encode client certificate");
    strbuf b64;
    sb_init(&b64, 4 * ((size_t)der_len + 2) / 3 + 1, 0);
    sb_put_base64(&b64, der, (size_t)der_len);
    OPENSSL_free(der);
    if (b64.failed) {
        sb_free(&b64, 0);
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    s->client_cert_b64 = sb_steal(&b64, NULL);
    return MSGSEC_OK;
}

/* issued credential: loads the Assertion (holder-of-key, bound to cert) and
 * digests its exclusive c14n once; the message signature covers it by ID. */
static msgsec_err load_assertion(msgsec_sender *s, const char *token_file, X509 *cert,
                                 msgsec_error *err)
{
    saml_token tok;
    xmlDocPtr doc = NULL;
    uint8_t md[32];
    msgsec_err rc;
    if (!token_file)
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "credential issued needs a token (SAML assertion)");
    if ((rc = saml_token_load(token_file, cert, &tok, err)) != MSGSEC_OK)
        return rc;
    if ((rc = xml_parse((const uint8_t *)tok.xml, tok.len, tok.len, &doc, err)) == MSGSEC_OK &&
        xml_c14n_sha256(xmlDocGetRootElement(doc), NULL, s->md_ctx, s->sha256, md) != 0)
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot canonicalize the SAML assertion");
    if (rc == MSGSEC_OK) {
        EVP_EncodeBlock((unsigned char *)s->saml_digest, md, (int)sizeof md);
        s->saml_xml = tok.xml;
        s->saml_id = tok.id;
        tok.xml = tok.id = NULL;
    }
    xmlFreeDoc(doc);
    saml_token_clear(&tok);
    return rc;
}

static msgsec_err load_service(msgsec_sender *s, const char *path, msgsec_error *err)
{
    X509 *cert = NULL;
    uint8_t thumb[20];
    msgsec_err rc;
    if (!path)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "the service certificate is required");
    if ((rc = load_cert(path, &cert, err)) != MSGSEC_OK)
        return rc;
    s->service_key = X509_get_pubkey(cert);
    if (!s->service_key || !EVP_PKEY_is_a(s->service_key, "RSA") ||
        EVP_PKEY_get_bits(s->service_key) < 2048) {
        rc =
            msgsec_seterr(err, MSGSEC_E_USAGE,
                          "service certificate %s must hold an RSA key of 2048 bits or more", path);
        goto cleanup;
    }
    if (cert_thumbprint_sha1(cert, thumb) != 0) {
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot hash the service certificate");
        goto cleanup;
    }
    EVP_EncodeBlock((unsigned char *)s->service_thumbprint, thumb, sizeof thumb);
    s->oaep_ctx = EVP_PKEY_CTX_new_from_pkey(NULL, s->service_key, NULL);
    if (!s->oaep_ctx || EVP_PKEY_encrypt_init(s->oaep_ctx) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(s->oaep_ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(s->oaep_ctx, "SHA1", NULL) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(s->oaep_ctx, "SHA1", NULL) != 1)
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up RSA-OAEP");
cleanup:
    X509_free(cert);
    return rc;
}

/* none and windows: the message is signed with HMAC-SHA256. */
static msgsec_err setup_hmac(msgsec_sender *s, msgsec_error *err)
{
    s->sign_kind = SIGN_HMAC;
    s->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!s->hmac || !(s->mac_ctx = EVP_MAC_CTX_new(s->hmac)))
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up HMAC");
    return MSGSEC_OK;
}

/* windows: one AP-REQ now, so that missing credentials or an unknown service
 * fail here rather than at the first message (the ticket is cached after). */
static msgsec_err setup_kerberos(msgsec_sender *s, const char *service_principal, msgsec_error *err)
{
    krb_initiated probe = {0};
    if (!service_principal || !*service_principal)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "credential windows needs the service principal");
    msgsec_err rc = krb_init(service_principal, &probe, err);
    krb_initiated_clear(&probe);
    if (rc == MSGSEC_OK && !(s->service_principal = strdup(service_principal)))
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    return rc;
}

/* username: keeps a copy of the password (wiped in msgsec_sender_free). */
static msgsec_err setup_username(msgsec_sender *s, const char *username, const char *password,
                                 msgsec_error *err)
{
    msgsec_err rc;
    if (!username || !password)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "credential username needs a username and a password");
    if ((rc = sender_check_string("username", username, err)) != MSGSEC_OK ||
        (rc = sender_check_string("password", password, err)) != MSGSEC_OK)
        return rc;
    if (!(s->username = strdup(username)) || !(s->password = strdup(password)))
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    return MSGSEC_OK;
}

msgsec_err sender_check_ttl(long ttl, msgsec_error *err)
{
    if (ttl < 0 || ttl > MAX_TTL)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "ttl %ld out of range 1..%ld", ttl, MAX_TTL);
    return MSGSEC_OK;
}

msgsec_err msgsec_sender_new(const msgsec_sender_opts *opts, msgsec_sender **out, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    msgsec_sender *s;
    X509 *cert = NULL;
    if (!opts || !out)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "msgsec_sender_new: missing argument");
    *out = NULL;
    if (opts->suite && strcmp(opts->suite, MSGSEC_DEFAULT_SUITE) != 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "unknown algorithm suite %s (known: %s)",
                             opts->suite, MSGSEC_DEFAULT_SUITE);
    if ((rc = sender_check_ttl(opts->ttl_seconds, err)) != MSGSEC_OK)
        return rc;
    if (!(s = calloc(1, sizeof *s)))
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    sb_init(&s->body, 4096, 0);
    sb_init(&s->scratch, 4096, 0);
    sb_init(&s->signed_info, 2560, 0);
    s->credential = opts->credential;
    s->ttl = opts->ttl_seconds ? opts->ttl_seconds : MSGSEC_DEFAULT_TTL;
    s->max_xml_bytes = opts->max_xml_bytes ? opts->max_xml_bytes : MSGSEC_DEFAULT_MAX_BYTES;
    s->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->md_ctx = EVP_MD_CTX_new();
    s->aes256gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    s->cipher_ctx = EVP_CIPHER_CTX_new();
    if (!s->sha256 || !s->md_ctx || !s->aes256gcm || !s->cipher_ctx) {
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up SHA-256/AES-GCM");
        goto cleanup;
    }
    switch (opts->credential) {
    case MSGSEC_CRED_CERTIFICATE:
        if ((rc = load_signer(s, opts, &cert, err)) == MSGSEC_OK)
            rc = encode_bst(s, cert, err);
        break;
    case MSGSEC_CRED_ISSUED:
        if ((rc = load_signer(s, opts, &cert, err)) == MSGSEC_OK)
            rc = load_assertion(s, opts->token_file, cert, err);
        break;
    case MSGSEC_CRED_WINDOWS:
        if ((rc = setup_hmac(s, err)) == MSGSEC_OK)
            rc = setup_kerberos(s, opts->service_principal, err);
        break;
    case MSGSEC_CRED_NONE: rc = setup_hmac(s, err); break;
    case MSGSEC_CRED_USERNAME:
        if ((rc = setup_hmac(s, err)) == MSGSEC_OK)
            rc = setup_username(s, opts->username, opts->password, err);
        break;
    default:
        rc =
            msgsec_seterr(err, MSGSEC_E_USAGE, "unknown credential type %d", (int)opts->credential);
        break;
    }
    if (rc == MSGSEC_OK)
        rc = load_service(s, opts->service_cert_file, err);
cleanup:
    X509_free(cert);
    if (rc != MSGSEC_OK) {
        msgsec_sender_free(s);
        return rc;
    }
    *out = s;
    return MSGSEC_OK;
}

void msgsec_sender_free(msgsec_sender *s)
{
    if (!s)
        return;
    EVP_PKEY_CTX_free(s->sign_ctx);
    EVP_PKEY_free(s->client_key);
    free(s->client_cert_b64);
    free(s->saml_xml);
    free(s->saml_id);
    free(s->service_principal);
    free(s->username);
    if (s->password)
        msgsec_free_secret(s->password, strlen(s->password));
    EVP_PKEY_CTX_free(s->oaep_ctx);
    EVP_PKEY_free(s->service_key);
    EVP_MD_CTX_free(s->md_ctx);
    EVP_MD_free(s->sha256);
    EVP_CIPHER_CTX_free(s->cipher_ctx);
    EVP_CIPHER_free(s->aes256gcm);
    EVP_MAC_CTX_free(s->mac_ctx);
    EVP_MAC_free(s->hmac);
    sb_free(&s->body, 0);
    sb_free(&s->scratch, 0);
    sb_free(&s->signed_info, 0);
    free(s);
}


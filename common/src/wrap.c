/* wrap.c - msgsec_wrap: the envelope of docs/DESIGN.md.
 *
 * Every signed element (wsa:To, wsa:Action, wsa:MessageID, wsu:Timestamp,
 * s:Body, the token, the EncryptedKey) and the SignedInfo are written directly in
 * their exclusive-c14n form: each declares the namespaces it visibly uses (in
 * prefix order), attributes come in c14n order (unqualified ones first, then
 * by namespace URI), there are no empty-element tags and text/attribute values
 * are escaped as c14n does. So the bytes we write are the bytes the receiver's
 * canonicalizer produces, and we digest them without parsing anything back.
 * tests/unit/test_wrap.c proves that against libxml2's exc-c14n.
 *
 * Keys, certificates and every OpenSSL context are set up once per sender
 * (sender.c); per message we only draw randomness, encrypt, sign and write
 * strings.
 */
#include <limits.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "gcm.h"
#include "kerberos.h"
#include "sender.h"
#include "xml.h"

#define ID_RAND_LEN 8      /* per-message id suffix: 16 hex digits */
#define MAX_PAYLOAD ((size_t)INT_MAX / 2)
#define BODY_KEEP_MAX ((size_t)1 << 20) /* work buffer kept between messages */

/* ------------------------------------------------------------ c14n writing */

/* Appends s escaped as exclusive c14n writes text (attr = 0) or attribute
 * values (attr = 1). */
static void put_c14n_escaped(strbuf *sb, const char *s, int attr)
{
    const char *start = s;
    for (; *s; s++) {
        const char *rep = NULL;
        switch (*s) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = attr ? NULL : "&gt;"; break;
        case '"': rep = attr ? "&quot;" : NULL; break;
        case '\t': rep = attr ? "&#x9;" : NULL; break;
        case '\n': rep = attr ? "&#xA;" : NULL; break;
        case '\r': rep = "&#xD;"; break;
        default: break;
        }
        if (rep) {
            sb_append(sb, start, (size_t)(s - start));
            sb_puts(sb, rep);
            start = s + 1;
        }
    }
    sb_puts(sb, start);
}

/* One signed element whose canonical bytes are scratch[off, off+len). */
typedef struct signed_part {
    const char *id_prefix; /* "to" -> wsu:Id "to-N" */
    size_t off, len;
    char digest_b64[48];
} signed_part;

/* PART_TOKEN: the BST (certificate, windows), the SAML Assertion (issued) or
 * the encrypted UsernameToken; empty for none. PART_KEY: the EncryptedKey
 * (signed with the certificate and issued credentials); empty for windows. */
enum { PART_TO, PART_ACTION, PART_MID, PART_TS, PART_TOKEN, PART_KEY, PART_COUNT };

static void put_wsa_header(strbuf *sb, const char *name, const char *id_prefix, const char *n,
                           const char *value)
{
    sb_puts(sb, "<wsa:");
    sb_puts(sb, name);
    sb_puts(sb, " xmlns:wsa=\"" NS_WSA "\" xmlns:wsu=\"" NS_WSU "\" wsu:Id=\"");
    sb_puts(sb, id_prefix);
    sb_puts(sb, "-");
    sb_puts(sb, n);
    sb_puts(sb, "\">");
    put_c14n_escaped(sb, value, 0);
    sb_puts(sb, "</wsa:");
    sb_puts(sb, name);
    sb_puts(sb, ">");
}

static msgsec_err digest_b64(msgsec_sender *s, const void *data, size_t len, char out[48],
                             msgsec_error *err)
{
    uint8_t md[32];
    unsigned int md_len = 0;
    if (EVP_DigestInit_ex2(s->md_ctx, s->sha256, NULL) != 1 ||
        EVP_DigestUpdate(s->md_ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(s->md_ctx, md, &md_len) != 1 || md_len != sizeof md)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "SHA-256 failed");
    EVP_EncodeBlock((unsigned char *)out, md, (int)sizeof md);
    return MSGSEC_OK;
}

/* Reference to "#id_prefix-n", or to "#id_prefix" when n is NULL. */
static void put_reference(strbuf *sb, const char *id_prefix, const char *n, const char *digest_b64)
{
    sb_puts(sb, "<ds:Reference URI=\"#");
    put_c14n_escaped(sb, id_prefix, 1);
    if (n) {
        sb_puts(sb, "-");
        sb_puts(sb, n);
    }
    sb_puts(sb, "\"><ds:Transforms><ds:Transform Algorithm=\"" ALG_EXC_C14N
                "\"></ds:Transform></ds:Transforms><ds:DigestMethod Algorithm=\"" ALG_SHA256
                "\"></ds:DigestMethod><ds:DigestValue>");
    sb_puts(sb, digest_b64);
    sb_puts(sb, "</ds:DigestValue></ds:Reference>");
}

/* ------------------------------------------------------------ XML payloads */

static int content_type_is_xml(const char *type)
{
    size_t n = strcspn(type, ";");
    while (n > 0 && (type[n - 1] == ' ' || type[n - 1] == '\t'))
        n--;
    if ((n == 15 && strncasecmp(type, "application/xml", 15) == 0) ||
        (n == 8 && strncasecmp(type, "text/xml", 8) == 0))
        return 1;
    return n > 4 && memchr(type, '/', n) && strncasecmp(type + n - 4, "+xml", 4) == 0;
}

static int is_xml_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* The plaintext of an XML payload: the serialized element. It arrives from
 * publishers, so it is parsed as untrusted input (xml.h: no DTD or entities,
 * bounded size and depth). Well-formed input that is one UTF-8 element
 * (optionally after an XML declaration and whitespace) is kept byte for byte;
 * anything else well-formed (comments or PIs beside the root, another
 * encoding) is re-serialized from the tree.
 * *owned (may stay NULL): caller frees with xmlBufferFree after wiping. */
static msgsec_err xml_plaintext(const msgsec_sender *s, const uint8_t *payload, size_t len,
                                const uint8_t **plain, size_t *plain_len, xmlBufferPtr *owned,
                                msgsec_error *err)
{
    xmlDocPtr doc = NULL;
    *owned = NULL;
    msgsec_err rc = xml_parse_payload(payload, len, s->max_xml_bytes, &doc, err);
    if (rc != MSGSEC_OK)
        return rc;
    xmlNodePtr root = xmlDocGetRootElement(doc); /* xml_parse_payload: there is one */
    size_t start = 0, end = len;
    if (len >= 6 && memcmp(payload, "<?xml", 5) == 0 && is_xml_space(payload[5])) {
        const uint8_t *close = NULL;
        for (size_t i = 5; i + 1 < len && !close; i++)
            if (payload[i] == '?' && payload[i + 1] == '>')
                close = payload + i;
        start = close ? (size_t)(close - payload) + 2 : len;
    }
    while (start < end && is_xml_space(payload[start]))
        start++;
    while (end > start && is_xml_space(payload[end - 1]))
        end--;
    int utf8 = !doc->encoding || strcasecmp((const char *)doc->encoding, "UTF-8") == 0;
    if (root == doc->children && root == doc->last && utf8 && start < end &&
        payload[start] == '<' && !memchr(payload + start, 0, end - start)) {
        *plain = payload + start;
        *plain_len = end - start;
        goto cleanup;
    }
    *owned = xmlBufferCreate();
    if (!*owned || xmlNodeDump(*owned, doc, root, 0, 0) < 0) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot serialize the XML payload");
        goto cleanup;
    }
    *plain = xmlBufferContent(*owned);
    *plain_len = (size_t)xmlBufferLength(*owned);
cleanup:
    xml_wipe_subtree((xmlNodePtr)doc);
    xmlFreeDoc(doc);
    return rc;
}

/* --------------------------------------------------------------- crypto */

static msgsec_err ecdsa_der_to_raw(const uint8_t *der, size_t der_len, uint8_t raw[64],
                                   msgsec_error *err)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    const BIGNUM *r = NULL, *s = NULL;
    if (!sig)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "bad ECDSA signature encoding");
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok ? MSGSEC_OK : msgsec_seterr(err, MSGSEC_E_INTERNAL, "bad ECDSA signature size");
}

/* Appends base64(signature over si) to sb. */
static msgsec_err sign_signed_info(msgsec_sender *s, const uint8_t key[CONTENT_KEY_LEN],
                                   const char *si, size_t si_len, strbuf *sb, msgsec_error *err)
{
    uint8_t md[32], sig[512];
    unsigned int md_len = 0;
    size_t sig_len = sizeof sig;
    if (s->sign_kind == SIGN_HMAC) {
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                               OSSL_PARAM_construct_end()};
        if (EVP_MAC_init(s->mac_ctx, key, CONTENT_KEY_LEN, params) != 1 ||
            EVP_MAC_update(s->mac_ctx, (const unsigned char *)si, si_len) != 1 ||
            EVP_MAC_final(s->mac_ctx, sig, &sig_len, sizeof sig) != 1)
            return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "HMAC-SHA256 failed");
        sb_put_base64(sb, sig, sig_len);
        OPENSSL_cleanse(sig, sizeof sig);
        return MSGSEC_OK;
    }
    if (EVP_DigestInit_ex2(s->md_ctx, s->sha256, NULL) != 1 ||
        EVP_DigestUpdate(s->md_ctx, si, si_len) != 1 ||
        EVP_DigestFinal_ex(s->md_ctx, md, &md_len) != 1 ||
        EVP_PKEY_sign(s->sign_ctx, sig, &sig_len, md, md_len) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "signing failed");
    if (s->sign_kind == SIGN_ECDSA) {
        uint8_t raw[64];
        msgsec_err rc = ecdsa_der_to_raw(sig, sig_len, raw, err);
        if (rc != MSGSEC_OK)
            return rc;
        sb_put_base64(sb, raw, sizeof raw);
        return MSGSEC_OK;
    }
    sb_put_base64(sb, sig, sig_len);
    return MSGSEC_OK;
}

/* ------------------------------------------------------------------ wrap */

/* Empties a reused work buffer (keeps its allocation; clears a past failure). */
static strbuf *sb_rewind(strbuf *sb)
{
    sb->len = 0;
    sb->failed = 0;
    if (sb->data)
        sb->data[0] = '\0';
    return sb;
}

/* The SecurityTokenReference naming the EncryptedKey as the key of the HMAC
 * signature and of the EncryptedData (canonical form: it declares the
 * namespaces it uses). WS-Security 1.1 wants wsse11:TokenType on it; WSS4J
 * refuses the reference without. */
static void put_encrypted_key_str(strbuf *sb, const char *n)
{
    sb_puts(sb, "<wsse:SecurityTokenReference xmlns:wsse=\"" NS_WSSE "\" xmlns:wsse11=\"" NS_WSSE11
                "\" wsse11:TokenType=\"" WSS_ENCRYPTEDKEY "\"><wsse:Reference URI=\"#ek-");
    sb_puts(sb, n);
    sb_puts(sb, "\" ValueType=\"" WSS_ENCRYPTEDKEY
                "\"></wsse:Reference></wsse:SecurityTokenReference>");
}

/* windows: the STR naming the Kerberos BST (canonical form). */
static void put_kerberos_str(strbuf *sb, const char *n)
{
    sb_puts(sb,
            "<wsse:SecurityTokenReference xmlns:wsse=\"" NS_WSSE "\"><wsse:Reference URI=\"#krb-");
    sb_puts(sb, n);
    sb_puts(sb, "\" ValueType=\"" WSS_KERBEROS_APREQ
                "\"></wsse:Reference></wsse:SecurityTokenReference>");
}

/* The STR naming the key of an HMAC-signed envelope, in the Signature's and
 * the EncryptedData's KeyInfo: the Kerberos token (windows) or the EncryptedKey. */
static void put_hmac_key_str(const msgsec_sender *s, strbuf *sb, const char *n)
{
    if (s->service_principal)
        put_kerberos_str(sb, n);
    else
        put_encrypted_key_str(sb, n);
}

/* standalone = 1: a direct child of the Security header (declares xenc);
 * with_token = 1: also lists the encrypted UsernameToken. */
static void put_reference_list(strbuf *sb, const char *n, int standalone, int with_token)
{
    sb_puts(sb, standalone ? "<xenc:ReferenceList xmlns:xenc=\"" NS_XENC "\">"
                           : "<xenc:ReferenceList>");
    if (with_token) {
        sb_puts(sb, "<xenc:DataReference URI=\"#utd-");
        sb_puts(sb, n);
        sb_puts(sb, "\"></xenc:DataReference>");
    }
    sb_puts(sb, "<xenc:DataReference URI=\"#ed-");
    sb_puts(sb, n);
    sb_puts(sb, "\"></xenc:DataReference></xenc:ReferenceList>");
}

/* Writes the Body (canonical form) holding the EncryptedData of plain.
 * key_info = 1: the EncryptedData names its key (HMAC-signed envelopes: the
 * EncryptedKey, which then carries no ReferenceList, or the Kerberos token). */
static msgsec_err write_body(msgsec_sender *s, strbuf *body, const char *n,
                             const char *content_type, int is_xml, int key_info,
                             const uint8_t key[CONTENT_KEY_LEN], const uint8_t *plain,
                             size_t plain_len, msgsec_error *err)
{
    sb_puts(body, "<s:Body xmlns:s=\"" NS_SOAP12 "\" xmlns:wsu=\"" NS_WSU "\" wsu:Id=\"body-");
    sb_puts(body, n);
    sb_puts(body, "\"><xenc:EncryptedData xmlns:xenc=\"" NS_XENC "\" Id=\"ed-");
    sb_puts(body, n);
    sb_puts(body, "\" MimeType=\"");
    put_c14n_escaped(body, content_type, 1);
    sb_puts(body, is_xml ? "\" Type=\"" XENC_TYPE_CONTENT "\">" : "\">");
    sb_puts(body,
            "<xenc:EncryptionMethod Algorithm=\"" ALG_AES256_GCM "\"></xenc:EncryptionMethod>");
    if (key_info) {
        sb_puts(body, "<ds:KeyInfo xmlns:ds=\"" NS_DS "\">");
        put_hmac_key_str(s, body, n);
        sb_puts(body, "</ds:KeyInfo>");
    }
    sb_puts(body, "<xenc:CipherData><xenc:CipherValue>");
    msgsec_err rc = gcm_encrypt_base64(s->cipher_ctx, s->aes256gcm, key, plain, plain_len, body, err);
    sb_puts(body, "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData></s:Body>");
    return rc;
}

/* Writes the EncryptedKey (canonical form: the signature covers it): key
 * wrapped with RSA-OAEP for the service; with its ReferenceList to the
 * Body's EncryptedData when reference_list = 1. */
static msgsec_err write_encrypted_key(msgsec_sender *s, strbuf *sb, const char *n,
                                      int reference_list, const uint8_t key[CONTENT_KEY_LEN],
                                      msgsec_error *err)
{
    uint8_t wrapped[1024];
    size_t wrapped_len = sizeof wrapped;
    if (EVP_PKEY_encrypt(s->oaep_ctx, wrapped, &wrapped_len, key, CONTENT_KEY_LEN) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "RSA-OAEP key transport failed");
    sb_puts(sb, "<xenc:EncryptedKey xmlns:xenc=\"" NS_XENC "\" Id=\"ek-");
    sb_puts(sb, n);
    sb_puts(sb, "\"><xenc:EncryptionMethod Algorithm=\"" ALG_RSA_OAEP_MGF1P
                "\"><ds:DigestMethod xmlns:ds=\"" NS_DS "\" Algorithm=\"" ALG_SHA1
                "\"></ds:DigestMethod></xenc:EncryptionMethod><ds:KeyInfo xmlns:ds=\"" NS_DS
                "\"><wsse:SecurityTokenReference xmlns:wsse=\"" NS_WSSE
                "\"><wsse:KeyIdentifier EncodingType=\"" WSS_BASE64
                "\" ValueType=\"" WSS_THUMBPRINT "\">");
    sb_puts(sb, s->service_thumbprint);
    sb_puts(sb, "</wsse:KeyIdentifier></wsse:SecurityTokenReference></ds:KeyInfo>"
                "<xenc:CipherData><xenc:CipherValue>");
    sb_put_base64(sb, wrapped, wrapped_len);
    sb_puts(sb, "</xenc:CipherValue></xenc:CipherData>");
    if (reference_list)
        put_reference_list(sb, n, 0, 0);
    sb_puts(sb, "</xenc:EncryptedKey>");
    return MSGSEC_OK;
}

/* username: the UsernameToken (PasswordText, Nonce, Created), encrypted in
 * place for the service (EncryptedData Type Element under the content key,
 * KeyInfo naming the EncryptedKey), as WSS4J produces and consumes it. The
 * EncryptedData is written in canonical form: the signature covers it. */
static msgsec_err put_encrypted_username_token(msgsec_sender *s, strbuf *sb, const char *n,
                                               const char *created,
                                               const uint8_t key[CONTENT_KEY_LEN],
                                               msgsec_error *err)
{
    uint8_t nonce[16];
    strbuf token;
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "no randomness");
    /* the token declares its namespaces: it is parsed on its own once decrypted */
    sb_init(&token, 1024, 0);
    sb_puts(&token, "<wsse:UsernameToken xmlns:wsse=\"" NS_WSSE "\" xmlns:wsu=\"" NS_WSU
                    "\" wsu:Id=\"ut-");
    sb_puts(&token, n);
    sb_puts(&token, "\"><wsse:Username>");
    put_c14n_escaped(&token, s->username, 0);
    sb_puts(&token, "</wsse:Username><wsse:Password Type=\"" WSS_PASSWORD_TEXT "\">");
    put_c14n_escaped(&token, s->password, 0);
    sb_puts(&token, "</wsse:Password><wsse:Nonce EncodingType=\"" WSS_BASE64 "\">");
    sb_put_base64(&token, nonce, sizeof nonce);
    sb_puts(&token, "</wsse:Nonce><wsu:Created>");
    sb_puts(&token, created);
    sb_puts(&token, "</wsu:Created></wsse:UsernameToken>");

    sb_puts(sb, "<xenc:EncryptedData xmlns:xenc=\"" NS_XENC "\" Id=\"utd-");
    sb_puts(sb, n);
    sb_puts(sb, "\" Type=\"" XENC_TYPE_ELEMENT "\"><xenc:EncryptionMethod Algorithm=\"" ALG_AES256_GCM
                "\"></xenc:EncryptionMethod><ds:KeyInfo xmlns:ds=\"" NS_DS "\">");
    put_encrypted_key_str(sb, n);
    sb_puts(sb, "</ds:KeyInfo><xenc:CipherData><xenc:CipherValue>");
    msgsec_err rc = token.failed ? msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory")
                                 : gcm_encrypt_base64(s->cipher_ctx, s->aes256gcm, key,
                                                      (const uint8_t *)token.data, token.len, sb,
                                                      err);
    sb_puts(sb, "</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>");
    sb_free(&token, 1);
    return rc;
}

/* Writes the canonical To/Action/MessageID, Timestamp (Created now, Expires
 * now + ttl), the token (BST, encrypted UsernameToken, or the Assertion as
 * issued, whose digest was taken once) and the EncryptedKey into scratch. */
static msgsec_err write_signed_parts(msgsec_sender *s, strbuf *scratch,
                                     signed_part parts[PART_COUNT], const char *n, const char *to,
                                     const char *action, const char *message_id, time_t now,
                                     long ttl, const krb_initiated *krb,
                                     const uint8_t content_key[CONTENT_KEY_LEN], msgsec_error *err)
{
    static const char *const prefixes[PART_COUNT] = {"to", "act", "mid", "ts", "x509", "ek"};
    char created[32], expires[32];
    msgsec_err rc = MSGSEC_OK;
    for (int i = 0; i < PART_COUNT; i++)
        parts[i].id_prefix = prefixes[i];
    if (krb->token)
        parts[PART_TOKEN].id_prefix = "krb";
    else if (s->username)
        parts[PART_TOKEN].id_prefix = "utd";

    parts[PART_TO].off = scratch->len;
    put_wsa_header(scratch, "To", "to", n, to);
    parts[PART_ACTION].off = scratch->len;
    put_wsa_header(scratch, "Action", "act", n, action);
    parts[PART_MID].off = scratch->len;
    put_wsa_header(scratch, "MessageID", "mid", n, message_id);

    xsd_time_format(now, created, sizeof created);
    xsd_time_format(now + ttl, expires, sizeof expires);
    parts[PART_TS].off = scratch->len;
    sb_puts(scratch, "<wsu:Timestamp xmlns:wsu=\"" NS_WSU "\" wsu:Id=\"ts-");
    sb_puts(scratch, n);
    sb_puts(scratch, "\"><wsu:Created>");
    sb_puts(scratch, created);
    sb_puts(scratch, "</wsu:Created><wsu:Expires>");
    sb_puts(scratch, expires);
    sb_puts(scratch, "</wsu:Expires></wsu:Timestamp>");

    parts[PART_TOKEN].off = scratch->len;
    if (s->client_cert_b64 || krb->token) {
        sb_puts(scratch, "<wsse:BinarySecurityToken xmlns:wsse=\"" NS_WSSE "\" xmlns:wsu=\"" NS_WSU
                         "\" EncodingType=\"" WSS_BASE64 "\" ValueType=\"");
        sb_puts(scratch, krb->token ? WSS_KERBEROS_APREQ : WSS_X509V3);
        sb_puts(scratch, "\" wsu:Id=\"");
        sb_puts(scratch, parts[PART_TOKEN].id_prefix);
        sb_puts(scratch, "-");
        sb_puts(scratch, n);
        sb_puts(scratch, "\">");
        if (krb->token)
            sb_put_base64(scratch, krb->token, krb->token_len);
        else
            sb_puts(scratch, s->client_cert_b64);
        sb_puts(scratch, "</wsse:BinarySecurityToken>");
    } else if (s->saml_xml) {
        sb_puts(scratch, s->saml_xml);
    } else if (s->username) {
        rc = put_encrypted_username_token(s, scratch, n, created, content_key, err);
    }
    /* windows: the content key comes from the Kerberos token, no EncryptedKey */
    parts[PART_KEY].off = scratch->len;
    if (rc == MSGSEC_OK && !s->service_principal)
        rc = write_encrypted_key(s, scratch, n, s->sign_kind != SIGN_HMAC, content_key, err);
    size_t end = scratch->len;
    for (int i = PART_COUNT - 1; i >= 0; i--) {
        parts[i].len = end - parts[i].off;
        end = parts[i].off;
    }
    return rc;
}

/* The namespace declarations of the Envelope start tag. Signed parts are
 * digested in canonical form, which re-declares on the part's apex every
 * namespace it uses; in the document those copies are redundant, so they are
 * left out (the receiver's exc-c14n renders them again: digests are the same). */
static const char *const root_ns_decls[] = {
    " xmlns:s=\"" NS_SOAP12 "\"", " xmlns:wsa=\"" NS_WSA "\"", " xmlns:wsse=\"" NS_WSSE "\"",
    " xmlns:wsu=\"" NS_WSU "\"", NULL};
/* Inside ds:Signature, which declares ds. */
static const char *const signature_ns_decls[] = {" xmlns:ds=\"" NS_DS "\"", NULL};

/* Appends the canonical element elem[0, len) without those of the namespace
 * declarations on its apex start tag that are listed in inherited (exc-c14n
 * writes declarations first, right after the element name). */
static void append_part(strbuf *sb, const char *elem, size_t len, const char *const *inherited)
{
    const char *end = elem + len, *p = elem;
    while (p < end && *p != ' ' && *p != '>')
        p++;
    sb_append(sb, elem, (size_t)(p - elem));
    while (p < end && strncmp(p, " xmlns:", 7) == 0) {
        const char *q = memchr(p + 7, '"', (size_t)(end - p - 7));
        q = q ? memchr(q + 1, '"', (size_t)(end - q - 1)) : NULL;
        if (!q)
            break;
        size_t decl_len = (size_t)(q + 1 - p);
        int drop = 0;
        for (const char *const *d = inherited; *d && !drop; d++)
            drop = strlen(*d) == decl_len && memcmp(*d, p, decl_len) == 0;
        if (!drop)
            sb_append(sb, p, decl_len);
        p = q + 1;
    }
    sb_append(sb, p, (size_t)(end - p));
}

/* One message being wrapped: its id suffix, keys and signed parts. */
typedef struct wrap_msg {
    char n[2 * ID_RAND_LEN + 1];          /* per-message id suffix (hex) */
    uint8_t content_key[CONTENT_KEY_LEN];
    uint8_t mac_key[CONTENT_KEY_LEN];     /* HMAC key (none, username, windows) */
    krb_initiated krb;                    /* windows: this message's AP-REQ */
    signed_part parts[PART_COUNT];        /* in the sender's scratch buffer */
    char body_digest[48];
} wrap_msg;

/* The message's content key and id suffix; the HMAC key is the content key
 * (none, username), or both keys come from a fresh Kerberos session key
 * (windows: a new AP-REQ, with a new subkey, per message). */
static msgsec_err message_keys(msgsec_sender *s, wrap_msg *w, msgsec_error *err)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t id_rand[ID_RAND_LEN];
    msgsec_err rc;
    if (RAND_bytes(w->content_key, sizeof w->content_key) != 1 ||
        RAND_bytes(id_rand, sizeof id_rand) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "no randomness");
    memcpy(w->mac_key, w->content_key, sizeof w->mac_key);
    if (s->service_principal &&
        ((rc = krb_init(s->service_principal, &w->krb, err)) != MSGSEC_OK ||
         (rc = krb_derive_keys(w->krb.key, w->krb.key_len, w->mac_key, w->content_key, err)) !=
             MSGSEC_OK))
        return rc;
    for (size_t i = 0; i < sizeof id_rand; i++) {
        w->n[2 * i] = hex[id_rand[i] >> 4];
        w->n[2 * i + 1] = hex[id_rand[i] & 15];
    }
    w->n[sizeof w->n - 1] = '\0';
    return MSGSEC_OK;
}

/* Digests the signed parts of scratch and writes the SignedInfo (canonical
 * form) into si: To, Action, MessageID, Timestamp, Body, the token and,
 * where the signature key is not the content key (certificate, issued), the
 * EncryptedKey, so that a broker sees a tampered key (DESIGN.md rule 6). */
static msgsec_err write_signed_info(msgsec_sender *s, wrap_msg *w, const strbuf *scratch,
                                    strbuf *si, msgsec_error *err)
{
    signed_part *parts = w->parts;
    int sign_key = s->sign_kind != SIGN_HMAC && parts[PART_KEY].len;
    msgsec_err rc = MSGSEC_OK;
    for (int i = 0; i < PART_COUNT && rc == MSGSEC_OK; i++)
        if (parts[i].len && !(i == PART_TOKEN && s->saml_xml) && (i != PART_KEY || sign_key))
            rc =
                digest_b64(s, scratch->data + parts[i].off, parts[i].len, parts[i].digest_b64, err);
    if (rc != MSGSEC_OK)
        return rc;
    sb_puts(si, "<ds:SignedInfo xmlns:ds=\"" NS_DS
                "\"><ds:CanonicalizationMethod Algorithm=\"" ALG_EXC_C14N
                "\"></ds:CanonicalizationMethod><ds:SignatureMethod Algorithm=\"");
    sb_puts(si, s->sign_kind == SIGN_RSA     ? ALG_RSA_SHA256
                : s->sign_kind == SIGN_ECDSA ? ALG_ECDSA_SHA256
                                             : ALG_HMAC_SHA256);
    sb_puts(si, "\"></ds:SignatureMethod>");
    for (int i = PART_TO; i <= PART_TS; i++)
        put_reference(si, parts[i].id_prefix, w->n, parts[i].digest_b64);
    put_reference(si, "body", w->n, w->body_digest);
    if (s->saml_xml)
        put_reference(si, s->saml_id, NULL, s->saml_digest);
    else if (parts[PART_TOKEN].len)
        put_reference(si, parts[PART_TOKEN].id_prefix, w->n, parts[PART_TOKEN].digest_b64);
    if (sign_key)
        put_reference(si, parts[PART_KEY].id_prefix, w->n, parts[PART_KEY].digest_b64);
    sb_puts(si, "</ds:SignedInfo>");
    return MSGSEC_OK;
}

/* The Signature's KeyInfo: the STR naming the signing token. */
static void put_signature_key_info(const msgsec_sender *s, strbuf *env, const char *n)
{
    sb_puts(env, "<ds:KeyInfo>");
    if (s->sign_kind == SIGN_HMAC) {
        put_hmac_key_str(s, env, n);
    } else if (s->saml_xml) {
        sb_puts(env, "<wsse:SecurityTokenReference xmlns:wsse11=\"" NS_WSSE11
                     "\" wsse11:TokenType=\"" WSS_SAML2_TOKEN
                     "\"><wsse:KeyIdentifier ValueType=\"" WSS_SAML2_ID "\">");
        put_c14n_escaped(env, s->saml_id, 0);
        sb_puts(env, "</wsse:KeyIdentifier></wsse:SecurityTokenReference>");
    } else {
        sb_puts(env, "<wsse:SecurityTokenReference><wsse:Reference URI=\"#x509-");
        sb_puts(env, n);
        sb_puts(env,
                "\" ValueType=\"" WSS_X509V3 "\"></wsse:Reference></wsse:SecurityTokenReference>");
    }
    sb_puts(env, "</ds:KeyInfo>");
}

/* Assembles the envelope from the parts in scratch, the SignedInfo si
 * (signed here) and the Body. */
static msgsec_err write_envelope(msgsec_sender *s, wrap_msg *w, const strbuf *scratch,
                                 const strbuf *si, const strbuf *body, strbuf *env,
                                 msgsec_error *err)
{
    const signed_part *parts = w->parts;
    int hmac = s->sign_kind == SIGN_HMAC;
    msgsec_err rc;
    sb_puts(env, "<s:Envelope xmlns:s=\"" NS_SOAP12 "\" xmlns:wsa=\"" NS_WSA
                 "\" xmlns:wsse=\"" NS_WSSE "\" xmlns:wsu=\"" NS_WSU "\"><s:Header>");
    for (int i = PART_TO; i <= PART_MID; i++)
        append_part(env, scratch->data + parts[i].off, parts[i].len, root_ns_decls);
    sb_puts(env, "<wsse:Security s:mustUnderstand=\"true\">");
    /* a token goes first (prepend order: it is what the signature uses), except the
     * encrypted UsernameToken, which follows the ReferenceList that decrypts it */
    if (!s->username)
        append_part(env, scratch->data + parts[PART_TOKEN].off, parts[PART_TOKEN].len,
                    root_ns_decls);
    sb_puts(env, "<ds:Signature xmlns:ds=\"" NS_DS "\" Id=\"sig-");
    sb_puts(env, w->n);
    sb_puts(env, "\">");
    append_part(env, si->data, si->len, signature_ns_decls);
    sb_puts(env, "<ds:SignatureValue>");
    if ((rc = sign_signed_info(s, w->mac_key, si->data, si->len, env, err)) != MSGSEC_OK)
        return rc;
    sb_puts(env, "</ds:SignatureValue>");
    put_signature_key_info(s, env, w->n);
    sb_puts(env, "</ds:Signature>");
    append_part(env, scratch->data + parts[PART_KEY].off, parts[PART_KEY].len, root_ns_decls);
    if (hmac && !s->service_principal)
        put_reference_list(env, w->n, 1, s->username != NULL);
    if (s->username)
        append_part(env, scratch->data + parts[PART_TOKEN].off, parts[PART_TOKEN].len,
                    root_ns_decls);
    append_part(env, scratch->data + parts[PART_TS].off, parts[PART_TS].len, root_ns_decls);
    sb_puts(env, "</wsse:Security></s:Header>");
    append_part(env, body->data, body->len, root_ns_decls);
    sb_puts(env, "</s:Envelope>");
    return env->failed ? msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory") : MSGSEC_OK;
}

msgsec_err msgsec_wrap(msgsec_sender *s, const msgsec_wrap_params *params, const uint8_t *payload,
                       size_t len, uint8_t **out, size_t *out_len, msgsec_error *err)
{
    msgsec_err rc;
    strbuf env = {0};
    xmlBufferPtr xml_owned = NULL;
    wrap_msg w;
    char uuid[64];

    if (!s || !out || !out_len || (!payload && len))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "msgsec_wrap: missing argument");
    *out = NULL;
    *out_len = 0;
    const char *to = params && params->to ? params->to : MSGSEC_DEFAULT_TO;
    const char *action = params && params->action ? params->action : MSGSEC_DEFAULT_ACTION;
    const char *type = params && params->content_type ? params->content_type : MSGSEC_DEFAULT_MIME;
    const char *message_id = params ? params->message_id : NULL;
    time_t now = params && params->now ? params->now : time(NULL);
    long ttl = params && params->ttl_seconds ? params->ttl_seconds : s->ttl;
    if ((rc = sender_check_ttl(ttl, err)) != MSGSEC_OK ||
        (rc = sender_check_string("wsa:To", to, err)) != MSGSEC_OK ||
        (rc = sender_check_string("wsa:Action", action, err)) != MSGSEC_OK ||
        (rc = sender_check_string("content type", type, err)) != MSGSEC_OK ||
        (message_id && (rc = sender_check_string("message id", message_id, err)) != MSGSEC_OK))
        return rc;
    if (len > MAX_PAYLOAD)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "payload exceeds %zu bytes", MAX_PAYLOAD);
    if (!message_id) {
        if (uuid_urn(uuid, sizeof uuid) != 0)
            return msgsec_seterr(err, MSGSEC_E_INTERNAL, "no randomness");
        message_id = uuid;
    }

    const uint8_t *plain = payload;
    size_t plain_len = len;
    int is_xml = content_type_is_xml(type);
    if (is_xml &&
        (rc = xml_plaintext(s, payload, len, &plain, &plain_len, &xml_owned, err)) != MSGSEC_OK)
        return rc;
    memset(&w, 0, sizeof w);
    if ((rc = message_keys(s, &w, err)) != MSGSEC_OK)
        goto cleanup;
    strbuf *body = sb_rewind(&s->body), *scratch = sb_rewind(&s->scratch);
    strbuf *si = sb_rewind(&s->signed_info);
    /* An HMAC-signed envelope (key = the content key) follows the layout WSS4J
     * writes and needs: it resolves the signing key by processing the
     * EncryptedKey, so that must not decrypt the Body before the signature
     * is checked: a standalone ReferenceList, and the EncryptedData names its key. */
    if ((rc = write_body(s, body, w.n, type, is_xml, s->sign_kind == SIGN_HMAC, w.content_key,
                         plain, plain_len, err)) != MSGSEC_OK ||
        (rc = digest_b64(s, body->data, body->len, w.body_digest, err)) != MSGSEC_OK ||
        (rc = write_signed_parts(s, scratch, w.parts, w.n, to, action, message_id, now, ttl,
                                 &w.krb, w.content_key, err)) != MSGSEC_OK ||
        (rc = write_signed_info(s, &w, scratch, si, err)) != MSGSEC_OK)
        goto cleanup;
    if (scratch->failed || body->failed || si->failed) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    sb_init(&env, scratch->len + si->len + body->len + 2048, 0);
    if ((rc = write_envelope(s, &w, scratch, si, body, &env, err)) != MSGSEC_OK)
        goto cleanup;
    *out = (uint8_t *)sb_steal(&env, out_len);
cleanup:
    OPENSSL_cleanse(w.content_key, sizeof w.content_key);
    OPENSSL_cleanse(w.mac_key, sizeof w.mac_key);
    krb_initiated_clear(&w.krb);
    if (xml_owned) {
        xmlChar *serialized = (xmlChar *)xmlBufferContent(xml_owned);
        if (serialized)
            OPENSSL_cleanse(serialized, (size_t)xmlBufferLength(xml_owned));
        xmlBufferFree(xml_owned);
    }
    sb_free(&env, 0);
    if (s->body.cap > BODY_KEEP_MAX) { /* do not pin the memory of one huge message */
        sb_free(&s->body, 0);
        sb_init(&s->body, 4096, 0);
    }
    return rc;
}

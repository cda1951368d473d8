/* test_wrap.c - msgsec_wrap checked independently of our receiver.
 *
 * The envelope is parsed with libxml2; every DigestValue must equal SHA-256 of
 * libxml2's exclusive c14n of the referenced element, the SignatureValue must
 * verify over libxml2's c14n of SignedInfo (client key from the BST, or HMAC
 * under the content key for the none credential), and the content key and
 * Body must decrypt (service key, RSA-OAEP SHA-1 + AES-256-GCM) to the
 * payload. Negative cases assert the exact error class.
 * Needs $MSGSEC_PKI (tests/lib/pki.sh output).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libxml/c14n.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "internal.h"
#include "kerberos.h"
#include "saml.h"
#include "xml.h"

static int failures;
static const char *pki;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static char *pki_path(const char *name)
{
    static char paths[8][512];
    static int next;
    char *p = paths[next++ % 8];
    snprintf(p, 512, "%s/%s", pki, name);
    return p;
}

/* ---------------------------------------------------------- xml helpers */

static xmlNodePtr find_by_id(xmlNodePtr node, const char *id)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE)
            continue;
        xmlChar *v = xmlGetNsProp(node, BAD_CAST "Id", BAD_CAST NS_WSU);
        if (!v)
            v = xmlGetNoNsProp(node, BAD_CAST "Id");
        if (!v)
            v = xmlGetNoNsProp(node, BAD_CAST "ID"); /* saml2:Assertion */
        int match = v && strcmp((char *)v, id) == 0;
        xmlFree(v);
        if (match)
            return node;
        xmlNodePtr found = find_by_id(node->children, id);
        if (found)
            return found;
    }
    return NULL;
}

static xmlNodePtr child(xmlNodePtr parent, const char *ns, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && c->ns && strcmp((char *)c->ns->href, ns) == 0 &&
            strcmp((char *)c->name, name) == 0)
            return c;
    return NULL;
}

static int in_subtree(void *root, xmlNodePtr node, xmlNodePtr parent)
{
    xmlNodePtr n = (!node || node->type == XML_NAMESPACE_DECL) ? parent : node;
    for (; n; n = n->parent)
        if (n == root)
            return 1;
    return 0;
}

/* libxml2's exclusive c14n of the subtree at elem. Caller frees. */
static uint8_t *c14n(xmlDocPtr doc, xmlNodePtr elem, size_t *len)
{
    xmlOutputBufferPtr buf = xmlAllocOutputBuffer(NULL);
    uint8_t *out = NULL;
    if (xmlC14NExecute(doc, in_subtree, elem, XML_C14N_EXCLUSIVE_1_0, NULL, 0, buf) >= 0) {
        *len = xmlOutputBufferGetSize(buf);
        out = malloc(*len + 1);
        memcpy(out, xmlOutputBufferGetContent(buf), *len);
    }
    xmlOutputBufferClose(buf);
    return out;
}

static uint8_t *b64(xmlNodePtr node, size_t *len)
{
    xmlChar *text = xmlNodeGetContent(node);
    uint8_t *out = NULL;
    if (!text || b64_decode((char *)text, strlen((char *)text), &out, len) != 0)
        out = NULL;
    xmlFree(text);
    return out;
}

static char *attr(xmlNodePtr node, const char *name)
{
    return node ? (char *)xmlGetNoNsProp(node, BAD_CAST name) : NULL;
}

/* ----------------------------------------------------------- crypto helpers */

static EVP_PKEY *service_key(void)
{
    FILE *f = fopen(pki_path("service.key"), "r");
    EVP_PKEY *k = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return k;
}

static int unwrap_key(xmlNodePtr ek, uint8_t key[32])
{
    uint8_t plain[512];
    size_t wrapped_len = 0, key_len = sizeof plain;
    uint8_t *wrapped =
        b64(child(child(ek, NS_XENC, "CipherData"), NS_XENC, "CipherValue"), &wrapped_len);
    EVP_PKEY *sk = service_key();
    EVP_PKEY_CTX *ctx = sk ? EVP_PKEY_CTX_new(sk, NULL) : NULL;
    int ok = wrapped && ctx && EVP_PKEY_decrypt_init(ctx) == 1 &&
             EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA1", NULL) == 1 &&
             EVP_PKEY_decrypt(ctx, plain, &key_len, wrapped, wrapped_len) == 1 && key_len == 32;
    if (ok)
        memcpy(key, plain, 32);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(sk);
    free(wrapped);
    return ok;
}

static uint8_t *gcm_decrypt(const uint8_t key[32], const uint8_t *in, size_t in_len,
                            size_t *out_len)
{
    if (in_len < 28)
        return NULL;
    size_t ct_len = in_len - 28;
    uint8_t *out = malloc(ct_len + 1);
    int n = 0, fin = 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int ok = EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, in) == 1 &&
             EVP_DecryptUpdate(c, out, &n, in + 12, (int)ct_len) == 1 &&
             EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 12 + ct_len)) == 1 &&
             EVP_DecryptFinal_ex(c, out + n, &fin) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        free(out);
        return NULL;
    }
    *out_len = (size_t)n + (size_t)fin;
    return out;
}

/* signer: the certificate whose key signed (asymmetric methods). */
static int verify_signature(const char *method, X509 *signer, const uint8_t hmac_key[32],
                            const uint8_t *si, size_t si_len, const uint8_t *sig, size_t sig_len)
{
    if (strcmp(method, ALG_HMAC_SHA256) == 0) {
        uint8_t mac[32];
        unsigned int mac_len = 0;
        return HMAC(EVP_sha256(), hmac_key, 32, si, si_len, mac, &mac_len) && mac_len == 32 &&
               sig_len == 32 && memcmp(mac, sig, 32) == 0;
    }
    EVP_PKEY *pub = signer ? X509_get0_pubkey(signer) : NULL;
    uint8_t *dsig = NULL;
    int dsig_len = 0, ok = 0;
    if (pub && strcmp(method, ALG_ECDSA_SHA256) == 0 && sig_len == 64) {
        ECDSA_SIG *es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL));
        dsig_len = i2d_ECDSA_SIG(es, &dsig);
        ECDSA_SIG_free(es);
    } else if (pub && strcmp(method, ALG_RSA_SHA256) == 0) {
        dsig = OPENSSL_memdup(sig, sig_len);
        dsig_len = (int)sig_len;
    }
    if (dsig && dsig_len > 0) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        ok = EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
             EVP_DigestVerify(md, dsig, (size_t)dsig_len, si, si_len) == 1;
        EVP_MD_CTX_free(md);
    }
    OPENSSL_free(dsig);
    return ok;
}

/* ------------------------------------------------------------ the checks */

typedef struct expect {
    const char *to, *action, *content_type;
    const uint8_t *plain; /* what the Body must decrypt to */
    size_t plain_len;
    int xml;
} expect;

/* The credential's token in the Security header. */
typedef enum token_kind {
    TOKEN_BST,
    TOKEN_NONE,
    TOKEN_SAML,
    TOKEN_KERBEROS,
    TOKEN_USERNAME
} token_kind;

static const char *keytab; /* windows mode: the service keytab */

/* windows: accepts the AP-REQ of the BST with the keytab and derives the
 * message keys as the receiver will. */
static int kerberos_keys(xmlNodePtr bst, uint8_t sign_key[32], uint8_t enc_key[32])
{
    size_t token_len = 0;
    uint8_t *token = b64(bst, &token_len);
    krb_accepted acc = {0};
    msgsec_error e = {0};
    char *value_type = attr(bst, "ValueType");
    int ok = token && value_type && strcmp(value_type, WSS_KERBEROS_APREQ) == 0 &&
             krb_accept(keytab, token, token_len, 0, &acc, &e) == MSGSEC_OK &&
             krb_derive_keys(acc.key, acc.key_len, sign_key, enc_key, &e) == MSGSEC_OK;
    CHECK(ok, "kerberos: %s", e.detail);
    CHECK(!ok || (acc.client && strcmp(acc.client, "alice@EXAMPLE.COM") == 0), "kerberos client %s",
          acc.client ? acc.client : "(none)");
    krb_accepted_clear(&acc);
    xmlFree(value_type);
    free(token);
    return ok;
}

/* username: the token decrypts (content key) to a UsernameToken with the
 * username, the password as PasswordText, a 16-byte Nonce and Created; the
 * standalone ReferenceList lists it and the Body. */
static void check_username_token(const char *label, xmlNodePtr sec, const uint8_t key[32])
{
    xmlNodePtr ed = child(sec, NS_XENC, "EncryptedData");
    xmlNodePtr list = child(sec, NS_XENC, "ReferenceList");
    char *type = attr(ed, "Type"), *id = attr(ed, "Id");
    CHECK(type && strcmp(type, XENC_TYPE_ELEMENT) == 0, "%s: token EncryptedData Type", label);
    int listed = 0;
    for (xmlNodePtr r = list ? list->children : NULL; r; r = r->next) {
        char *uri = attr(r, "URI");
        listed += uri && id && uri[0] == '#' && strcmp(uri + 1, id) == 0;
        xmlFree(uri);
    }
    CHECK(listed == 1, "%s: ReferenceList does not list the token", label);
    size_t ct_len = 0, pt_len = 0;
    uint8_t *ct = b64(child(child(ed, NS_XENC, "CipherData"), NS_XENC, "CipherValue"), &ct_len);
    uint8_t *pt = ct ? gcm_decrypt(key, ct, ct_len, &pt_len) : NULL;
    xmlDocPtr doc = pt ? xmlReadMemory((char *)pt, (int)pt_len, NULL, NULL, XML_PARSE_NONET) : NULL;
    xmlNodePtr ut = doc ? xmlDocGetRootElement(doc) : NULL;
    CHECK(ut && ut->ns && strcmp((char *)ut->name, "UsernameToken") == 0 &&
              strcmp((char *)ut->ns->href, NS_WSSE) == 0,
          "%s: token does not decrypt to a UsernameToken", label);
    xmlChar *user = xmlNodeGetContent(child(ut, NS_WSSE, "Username"));
    xmlNodePtr pw = child(ut, NS_WSSE, "Password");
    xmlChar *password = xmlNodeGetContent(pw);
    char *pw_type = attr(pw, "Type");
    size_t nonce_len = 0;
    uint8_t *nonce = b64(child(ut, NS_WSSE, "Nonce"), &nonce_len);
    xmlChar *created = xmlNodeGetContent(child(ut, NS_WSU, "Created"));
    time_t t;
    CHECK(user && strcmp((char *)user, "alice & <bob>") == 0, "%s: Username", label);
    CHECK(password && strcmp((char *)password, "s3cr\"et<&>") == 0 && pw_type &&
              strcmp(pw_type, WSS_PASSWORD_TEXT) == 0,
          "%s: Password", label);
    CHECK(nonce && nonce_len == 16, "%s: Nonce", label);
    CHECK(created && xsd_time_parse((char *)created, &t) == 0, "%s: Created", label);
    xmlFree(user);
    xmlFree(password);
    xmlFree(pw_type);
    xmlFree(created);
    free(nonce);
    xmlFreeDoc(doc);
    free(pt);
    free(ct);
    xmlFree(type);
    xmlFree(id);
}

/* Checks a wrapped envelope completely. saml_signer: the holder-of-key
 * certificate (TOKEN_SAML); a BST carries its own. */
static void check_envelope(const char *label, const uint8_t *env, size_t env_len, token_kind token,
                           X509 *saml_signer, const expect *want)
{
    X509 *bst_cert = NULL;
    xmlDocPtr doc = xmlReadMemory((const char *)env, (int)env_len, NULL, NULL, XML_PARSE_NONET);
    CHECK(doc, "%s: envelope does not parse", label);
    if (!doc)
        return;
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xmlNodePtr header = child(root, NS_SOAP12, "Header"), body = child(root, NS_SOAP12, "Body");
    xmlNodePtr sec = child(header, NS_WSSE, "Security");
    CHECK(header && body && sec, "%s: no Header/Body/Security", label);
    if (!sec)
        goto done;

    /* header order: certificate: BST, Signature, EncryptedKey (with ReferenceList),
     * Timestamp; HMAC (none): Signature, EncryptedKey, ReferenceList, Timestamp;
     * issued: the Assertion in place of the BST; windows: BST (Kerberos), Signature,
     * Timestamp; username: as HMAC, the encrypted token after the ReferenceList */
    const char *order[6];
    int count = 0;
    for (xmlNodePtr c = sec->children; c && count < 6; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            order[count++] = (const char *)c->name;
    static const char *const cert_order[] = {"BinarySecurityToken", "Signature", "EncryptedKey",
                                             "Timestamp"};
    static const char *const hmac_order[] = {"Signature", "EncryptedKey", "ReferenceList",
                                             "Timestamp"};
    static const char *const saml_order[] = {"Assertion", "Signature", "EncryptedKey", "Timestamp"};
    static const char *const krb_order[] = {"BinarySecurityToken", "Signature", "Timestamp"};
    static const char *const ut_order[] = {"Signature", "EncryptedKey", "ReferenceList",
                                           "EncryptedData", "Timestamp"};
    const char *const *want_order = token == TOKEN_BST        ? cert_order
                                    : token == TOKEN_SAML     ? saml_order
                                    : token == TOKEN_KERBEROS ? krb_order
                                    : token == TOKEN_USERNAME ? ut_order
                                                              : hmac_order;
    int want_count = token == TOKEN_KERBEROS ? 3 : token == TOKEN_USERNAME ? 5 : 4;
    /* the KeyInfos name the EncryptedKey (HMAC under the content key) */
    int ek_str = token == TOKEN_NONE || token == TOKEN_USERNAME;
    int signed_token = token != TOKEN_NONE;
    CHECK(count == want_count, "%s: %d security children", label, count);
    for (int i = 0; i < count && i < want_count; i++)
        CHECK(strcmp(order[i], want_order[i]) == 0, "%s: child %d is %s", label, i, order[i]);

    xmlNodePtr sig = child(sec, NS_DS, "Signature"), ek = child(sec, NS_XENC, "EncryptedKey");
    xmlNodePtr si = child(sig, NS_DS, "SignedInfo");
    xmlNodePtr bst = child(sec, NS_WSSE, "BinarySecurityToken");
    size_t der_len = 0;
    uint8_t *der = token == TOKEN_BST ? b64(bst, &der_len) : NULL;
    const unsigned char *der_p = der;
    bst_cert = der ? d2i_X509(NULL, &der_p, (long)der_len) : NULL;
    free(der);
    CHECK((bst_cert != NULL) == (token == TOKEN_BST), "%s: X.509 BST presence", label);
    CHECK(si && (ek != NULL) == (token != TOKEN_KERBEROS), "%s: SignedInfo/EncryptedKey", label);
    if (!si || (!ek && token != TOKEN_KERBEROS))
        goto done;

    /* every reference digest equals SHA-256(libxml2 exc-c14n(element)); the
     * asymmetric credentials also sign the EncryptedKey */
    const char *covered[] = {"To", "Action", "MessageID", "Timestamp", "Body",
                             token == TOKEN_SAML       ? "Assertion"
                             : token == TOKEN_USERNAME ? "EncryptedData"
                                                       : "BinarySecurityToken",
                             "EncryptedKey"};
    int signed_key = token == TOKEN_BST || token == TOKEN_SAML;
    int n_covered = 5 + signed_token + signed_key;
    int seen[7] = {0}, refs = 0;
    for (xmlNodePtr ref = si->children; ref; ref = ref->next) {
        if (ref->type != XML_ELEMENT_NODE || strcmp((char *)ref->name, "Reference") != 0)
            continue;
        refs++;
        char *uri = attr(ref, "URI");
        xmlNodePtr target = uri && uri[0] == '#' ? find_by_id(root, uri + 1) : NULL;
        CHECK(target, "%s: reference %s unresolved", label, uri ? uri : "(none)");
        if (target) {
            size_t clen = 0, dlen = 0;
            uint8_t *canon = c14n(doc, target, &clen);
            uint8_t *digest = b64(child(ref, NS_DS, "DigestValue"), &dlen);
            uint8_t md[32];
            SHA256(canon, clen, md);
            CHECK(digest && dlen == 32 && memcmp(md, digest, 32) == 0,
                  "%s: digest of %s differs from libxml2 exc-c14n", label, uri);
            for (int i = 0; i < 7; i++)
                if (strcmp((char *)target->name, covered[i]) == 0)
                    seen[i] = 1;
            free(canon);
            free(digest);
        }
        xmlFree(uri);
    }
    CHECK(refs == n_covered, "%s: %d references", label, refs);
    for (int i = 0; i < 5 + signed_token; i++)
        CHECK(seen[i], "%s: %s not signed", label, covered[i]);
    CHECK(seen[6] == signed_key, "%s: EncryptedKey signed: %d", label, seen[6]);

    /* the content key decrypts and the Body holds the payload */
    uint8_t key[32] = {0}, mac_key[32] = {0};
    if (token == TOKEN_KERBEROS) {
        CHECK(kerberos_keys(bst, mac_key, key), "%s: no keys from the Kerberos token", label);
    } else {
        CHECK(unwrap_key(ek, key), "%s: EncryptedKey does not decrypt with the service key", label);
        memcpy(mac_key, key, sizeof key);
    }
    xmlNodePtr ed = child(body, NS_XENC, "EncryptedData");
    /* who names the EncryptedData: the EncryptedKey's ReferenceList (certificate) or,
     * for HMAC, a standalone ReferenceList plus a KeyInfo in the EncryptedData */
    CHECK(!ek || (child(ek, NS_XENC, "ReferenceList") != NULL) == !ek_str,
          "%s: EncryptedKey ReferenceList presence", label);
    xmlNodePtr ed_str = child(child(ed, NS_DS, "KeyInfo"), NS_WSSE, "SecurityTokenReference");
    xmlNodePtr sig_str = child(child(sig, NS_DS, "KeyInfo"), NS_WSSE, "SecurityTokenReference");
    if (token == TOKEN_SAML) {
        xmlChar *token_type =
            sig_str ? xmlGetNsProp(sig_str, BAD_CAST "TokenType", BAD_CAST NS_WSSE11) : NULL;
        xmlNodePtr key_id = child(sig_str, NS_WSSE, "KeyIdentifier");
        char *value_type = attr(key_id, "ValueType");
        xmlChar *id = key_id ? xmlNodeGetContent(key_id) : NULL;
        xmlNodePtr assertion = id ? find_by_id(root, (char *)id) : NULL;
        CHECK(token_type && strcmp((char *)token_type, WSS_SAML2_TOKEN) == 0 && value_type &&
                  strcmp(value_type, WSS_SAML2_ID) == 0 && assertion &&
                  strcmp((char *)assertion->name, "Assertion") == 0,
              "%s: Signature KeyInfo does not name the Assertion", label);
        xmlFree(token_type);
        xmlFree(value_type);
        xmlFree(id);
    }
    if (token == TOKEN_KERBEROS) {
        for (int i = 0; i < 2; i++) {
            xmlNodePtr ref = child(i ? sig_str : ed_str, NS_WSSE, "Reference");
            char *uri = attr(ref, "URI"), *value_type = attr(ref, "ValueType");
            xmlChar *bst_id = bst ? xmlGetNsProp(bst, BAD_CAST "Id", BAD_CAST NS_WSU) : NULL;
            CHECK(uri && value_type && bst_id && strcmp(value_type, WSS_KERBEROS_APREQ) == 0 &&
                      uri[0] == '#' && strcmp(uri + 1, (char *)bst_id) == 0,
                  "%s: %s KeyInfo does not name the Kerberos token", label,
                  i ? "Signature" : "EncryptedData");
            xmlFree(uri);
            xmlFree(value_type);
            xmlFree(bst_id);
        }
    } else if (!ek_str) {
        CHECK(!ed_str, "%s: EncryptedData has a KeyInfo", label);
    } else {
        for (int i = 0; i < 2; i++) {
            xmlNodePtr str = i ? sig_str : ed_str;
            xmlChar *token_type =
                str ? xmlGetNsProp(str, BAD_CAST "TokenType", BAD_CAST NS_WSSE11) : NULL;
            char *uri = attr(child(str, NS_WSSE, "Reference"), "URI");
            xmlChar *ek_id = xmlGetNoNsProp(ek, BAD_CAST "Id");
            CHECK(token_type && strcmp((char *)token_type, WSS_ENCRYPTEDKEY) == 0 && uri && ek_id &&
                      uri[0] == '#' && strcmp(uri + 1, (char *)ek_id) == 0,
                  "%s: %s KeyInfo does not name the EncryptedKey", label,
                  i ? "Signature" : "EncryptedData");
            xmlFree(token_type);
            xmlFree(uri);
            xmlFree(ek_id);
        }
    }
    char *type = attr(ed, "Type"), *mime = attr(ed, "MimeType");
    CHECK(want->xml ? type && strcmp(type, XENC_TYPE_CONTENT) == 0 : type == NULL,
          "%s: EncryptedData Type %s", label, type ? type : "(none)");
    CHECK(mime && strcmp(mime, want->content_type) == 0, "%s: MimeType %s", label,
          mime ? mime : "(none)");
    xmlFree(type);
    xmlFree(mime);
    size_t ct_len = 0, pt_len = 0;
    uint8_t *ct = b64(child(child(ed, NS_XENC, "CipherData"), NS_XENC, "CipherValue"), &ct_len);
    uint8_t *pt = ct ? gcm_decrypt(key, ct, ct_len, &pt_len) : NULL;
    CHECK(pt && pt_len == want->plain_len && memcmp(pt, want->plain, pt_len) == 0,
          "%s: Body does not decrypt to the payload (%zu vs %zu bytes)", label, pt_len,
          want->plain_len);
    free(ct);
    free(pt);
    if (token == TOKEN_USERNAME)
        check_username_token(label, sec, key);

    /* the signature verifies over libxml2's c14n of SignedInfo */
    char *method = attr(child(si, NS_DS, "SignatureMethod"), "Algorithm");
    size_t si_len = 0, sv_len = 0;
    uint8_t *si_c14n = c14n(doc, si, &si_len);
    uint8_t *sv = b64(child(sig, NS_DS, "SignatureValue"), &sv_len);
    CHECK(method && si_c14n && sv &&
              verify_signature(method, token == TOKEN_SAML ? saml_signer : bst_cert, mac_key,
                               si_c14n, si_len, sv, sv_len),
          "%s: signature (%s) does not verify", label, method ? method : "?");
    xmlFree(method);
    free(si_c14n);
    free(sv);

    /* addressing headers carry the values given */
    xmlChar *to = xmlNodeGetContent(child(header, NS_WSA, "To"));
    xmlChar *action = xmlNodeGetContent(child(header, NS_WSA, "Action"));
    CHECK(to && strcmp((char *)to, want->to) == 0, "%s: wsa:To '%s'", label, to);
    CHECK(action && strcmp((char *)action, want->action) == 0, "%s: wsa:Action", label);
    xmlFree(to);
    xmlFree(action);
done:
    X509_free(bst_cert);
    xmlFreeDoc(doc);
}

static msgsec_sender *new_sender(msgsec_credential cred, const char *cert, const char *key)
{
    msgsec_sender_opts o = {.credential = cred,
                            .cert_file = cert ? pki_path(cert) : NULL,
                            .key_file = key ? pki_path(key) : NULL,
                            .service_cert_file = pki_path("service.pem")};
    msgsec_sender *s = NULL;
    msgsec_error e = {0};
    msgsec_err rc = msgsec_sender_new(&o, &s, &e);
    CHECK(rc == MSGSEC_OK, "sender_new(%s): %s", cert ? cert : "none", e.detail);
    return s;
}

static void roundtrip(const char *label, msgsec_sender *s, token_kind token,
                      const msgsec_wrap_params *params, const uint8_t *payload, size_t len,
                      const expect *want)
{
    uint8_t *env = NULL;
    size_t env_len = 0;
    msgsec_error e = {0};
    msgsec_err rc = msgsec_wrap(s, params, payload, len, &env, &env_len, &e);
    CHECK(rc == MSGSEC_OK, "%s: wrap: %s", label, e.detail);
    if (rc == MSGSEC_OK)
        check_envelope(label, env, env_len, token, NULL, want);
    msgsec_free(env);
}

static void test_credentials(void)
{
    static const uint8_t binary[] = {0, 1, 2, 0xff, 0, '<', '&', 0x80, 'x', 0};
    const char *xml = "<order xmlns=\"urn:x\" id=\"7\"><item>a &amp; b</item><e/></order>";
    struct {
        msgsec_credential cred;
        const char *cert, *key;
    } creds[] = {{MSGSEC_CRED_CERTIFICATE, "client-rsa.pem", "client-rsa.key"},
                 {MSGSEC_CRED_CERTIFICATE, "client-ec.pem", "client-ec.key"},
                 {MSGSEC_CRED_NONE, NULL, NULL}};
    for (size_t i = 0; i < sizeof creds / sizeof creds[0]; i++) {
        msgsec_sender *s = new_sender(creds[i].cred, creds[i].cert, creds[i].key);
        if (!s)
            continue;
        token_kind bst = creds[i].cred == MSGSEC_CRED_CERTIFICATE ? TOKEN_BST : TOKEN_NONE;
        char label[64];
        /* binary payload with NULs; defaults for every parameter */
        expect want = {MSGSEC_DEFAULT_TO,   MSGSEC_DEFAULT_ACTION,
                       MSGSEC_DEFAULT_MIME, binary,
                       sizeof binary,       0};
        snprintf(label, sizeof label, "%s/binary", creds[i].cert ? creds[i].cert : "none");
        roundtrip(label, s, bst, NULL, binary, sizeof binary, &want);

        /* characters c14n must escape, in text and in attributes */
        msgsec_wrap_params p = {.to = "urn:a&b<c>d\"e\rf\tg\nh",
                                .action = "mqtt:orders/new?x=1&y=<2>",
                                .content_type = "application/x-test; name=\"a&b<c>\"\t\r\n"};
        expect tricky = {p.to, p.action, p.content_type, binary, 3, 0};
        snprintf(label, sizeof label, "%s/escaping", creds[i].cert ? creds[i].cert : "none");
        roundtrip(label, s, bst, &p, binary, 3, &tricky);

        /* empty binary payload */
        expect empty = {MSGSEC_DEFAULT_TO,
                        MSGSEC_DEFAULT_ACTION,
                        MSGSEC_DEFAULT_MIME,
                        (const uint8_t *)"",
                        0,
                        0};
        snprintf(label, sizeof label, "%s/empty", creds[i].cert ? creds[i].cert : "none");
        roundtrip(label, s, bst, NULL, NULL, 0, &empty);

        /* XML payload: Type=Content, plaintext is the element as given */
        msgsec_wrap_params px = {.content_type = "application/soap+xml"};
        expect wx = {MSGSEC_DEFAULT_TO,    MSGSEC_DEFAULT_ACTION, px.content_type,
                     (const uint8_t *)xml, strlen(xml),           1};
        snprintf(label, sizeof label, "%s/xml", creds[i].cert ? creds[i].cert : "none");
        roundtrip(label, s, bst, &px, (const uint8_t *)xml, strlen(xml), &wx);
        msgsec_sender_free(s);
    }
}

static void test_xml_payloads(void)
{
    msgsec_sender *s = new_sender(MSGSEC_CRED_CERTIFICATE, "client-rsa.pem", "client-rsa.key");
    if (!s)
        return;
    struct {
        const char *in, *plain; /* plain NULL: wrap must fail with code */
        msgsec_err code;
    } cases[] = {
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>\xc3\xa9</a>\n", "<a>\xc3\xa9</a>", 0},
        {"  <a b='1'>x</a>  ", "<a b='1'>x</a>", 0},
        {"<!-- c --><a/>", "<a/>", 0},
        {"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><a>\xe9</a>", "<a>\xc3\xa9</a>", 0},
        {"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>", NULL, MSGSEC_E_MALFORMED},
        {"<!DOCTYPE a SYSTEM \"http://example.invalid/a.dtd\"><a/>", NULL, MSGSEC_E_MALFORMED},
        {"<a><b></a>", NULL, MSGSEC_E_MALFORMED},
        {"<a/><b/>", NULL, MSGSEC_E_MALFORMED},
        {"just text", NULL, MSGSEC_E_MALFORMED},
        {"", NULL, MSGSEC_E_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgsec_wrap_params p = {.content_type = i % 2 ? "text/xml" : "application/xml"};
        uint8_t *env = NULL;
        size_t env_len = 0;
        msgsec_error e = {0};
        msgsec_err rc = msgsec_wrap(s, &p, (const uint8_t *)cases[i].in, strlen(cases[i].in), &env,
                                    &env_len, &e);
        if (!cases[i].plain) {
            CHECK(rc == cases[i].code && !env, "xml case %zu: rc %d (%s), want %d", i, rc, e.detail,
                  cases[i].code);
        } else {
            CHECK(rc == MSGSEC_OK, "xml case %zu: %s", i, e.detail);
            expect want = {MSGSEC_DEFAULT_TO,      MSGSEC_DEFAULT_ACTION,
                           p.content_type,         (const uint8_t *)cases[i].plain,
                           strlen(cases[i].plain), 1};
            char label[32];
            snprintf(label, sizeof label, "xml case %zu", i);
            if (rc == MSGSEC_OK)
                check_envelope(label, env, env_len, TOKEN_BST, NULL, &want);
        }
        msgsec_free(env);
    }
    msgsec_sender_free(s);
}

/* n nested elements <d>, the innermost holding text. Caller frees. */
static char *nested(int n, const char *text)
{
    strbuf sb;
    sb_init(&sb, (size_t)n * 7 + 64, 0);
    for (int i = 0; i < n; i++)
        sb_puts(&sb, "<d>");
    sb_puts(&sb, text);
    for (int i = 0; i < n; i++)
        sb_puts(&sb, "</d>");
    return sb_steal(&sb, NULL);
}

/* XML payloads are untrusted input (a protect rule wraps what publishers
 * send): they go through the receiver's hardened parser. Each hostile one is
 * refused with class 3 and its reason, without a trace of its content in the
 * detail; the limits are the receiver's (size, depth within the Body). */
#define MARKER "PLAINTEXT-MARKER-7f3a"
static void test_xml_payload_hardening(void)
{
    msgsec_sender *s = new_sender(MSGSEC_CRED_CERTIFICATE, "client-rsa.pem", "client-rsa.key");
    if (!s)
        return;
    strbuf laughs;
    sb_init(&laughs, 4096, 0);
    sb_puts(&laughs, "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"" MARKER "\">");
    for (int i = 1; i < 10; i++) {
        sb_printf(&laughs, "<!ENTITY lol%d \"", i);
        for (int j = 0; j < 10; j++)
            sb_printf(&laughs, i == 1 ? "&lol;" : "&lol%d;", i - 1);
        sb_puts(&laughs, "\">");
    }
    sb_puts(&laughs, "]><lolz>&lol9;</lolz>");
    char *deep = nested(XML_MAX_DEPTH - XML_BODY_DEPTH + 1, MARKER),
         *very_deep = nested(100000, MARKER),
         *deepest_ok = nested(XML_MAX_DEPTH - XML_BODY_DEPTH, MARKER);
    size_t big_len = MSGSEC_DEFAULT_MAX_BYTES + 1;
    char *big = malloc(big_len + 1);
    CHECK(big && laughs.data, "out of memory");
    if (!big || !laughs.data)
        goto done;
    memset(big, 'x', big_len);
    memcpy(big, "<big>" MARKER, strlen("<big>" MARKER));
    memcpy(big + big_len - 6, "</big>", 6);
    big[big_len] = '\0';
    struct {
        const char *name, *in, *reason;
    } hostile[] = {
        {"billion laughs", laughs.data, "DOCTYPE declarations are not allowed"},
        {"external entity",
         "<!DOCTYPE a [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><a>" MARKER "&xxe;</a>",
         "DOCTYPE declarations are not allowed"},
        {"external DTD", "<!DOCTYPE a SYSTEM \"http://127.0.0.1:9/a.dtd\"><a>" MARKER "</a>",
         "DOCTYPE declarations are not allowed"},
        {"parameter entity",
         "<!DOCTYPE a [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]><a>" MARKER "</a>",
         "DOCTYPE declarations are not allowed"},
        {"undeclared entity", "<a>" MARKER "&xxe;</a>", "not well-formed"},
        {"one level too deep", deep, "nesting deeper than the limit"},
        {"deep nesting", very_deep, "nesting deeper than the limit"},
        {"oversized", big, "exceeds the limit of 1048576"},
        {"malformed", "<" MARKER "></a>", "not well-formed"},
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        msgsec_wrap_params p = {.content_type = i % 2 ? "application/xml" : "text/xml"};
        uint8_t *env = NULL;
        size_t env_len = 0;
        msgsec_error e = {0};
        msgsec_err rc = msgsec_wrap(s, &p, (const uint8_t *)hostile[i].in, strlen(hostile[i].in),
                                    &env, &env_len, &e);
        CHECK(rc == MSGSEC_E_MALFORMED && e.code == MSGSEC_E_MALFORMED && !env,
              "%s: rc %d (%s), want 3", hostile[i].name, rc, e.detail);
        CHECK(strstr(e.detail, "XML payload") && strstr(e.detail, hostile[i].reason),
              "%s: detail '%s' does not say '%s'", hostile[i].name, e.detail, hostile[i].reason);
        CHECK(!strstr(e.detail, MARKER) && !strstr(e.detail, "lol"),
              "%s: detail quotes the plaintext: %s", hostile[i].name, e.detail);
        msgsec_free(env);
    }
    /* the deepest payload the receiver takes in its Body is wrapped */
    msgsec_wrap_params px = {.content_type = "application/xml"};
    expect want = {MSGSEC_DEFAULT_TO, MSGSEC_DEFAULT_ACTION, px.content_type,
                   (const uint8_t *)deepest_ok, strlen(deepest_ok), 1};
    roundtrip("deepest XML payload", s, TOKEN_BST, &px, (const uint8_t *)deepest_ok,
              strlen(deepest_ok), &want);
    msgsec_sender_free(s);
    s = NULL;
    /* max_xml_bytes sets the size limit; other payloads are not parsed, not bound by it */
    msgsec_sender_opts o = {.credential = MSGSEC_CRED_CERTIFICATE,
                            .cert_file = pki_path("client-rsa.pem"),
                            .key_file = pki_path("client-rsa.key"),
                            .service_cert_file = pki_path("service.pem"),
                            .max_xml_bytes = 4096};
    msgsec_error e = {0};
    CHECK(msgsec_sender_new(&o, &s, &e) == MSGSEC_OK, "sender: %s", e.detail);
    if (!s)
        goto done;
    char *small = nested(600, "x"), *fits = nested(50, "x"); /* 4201 and 351 bytes */
    uint8_t *env = NULL;
    size_t env_len = 0;
    CHECK(msgsec_wrap(s, &px, (const uint8_t *)small, strlen(small), &env, &env_len, &e) ==
                  MSGSEC_E_MALFORMED &&
              strstr(e.detail, "XML payload of 4201 bytes exceeds the limit of 4096"),
          "max_xml_bytes 4096: %s", e.detail);
    msgsec_free(env);
    env = NULL;
    want.plain = (const uint8_t *)fits;
    want.plain_len = strlen(fits);
    roundtrip("XML payload under max_xml_bytes", s, TOKEN_BST, &px, (const uint8_t *)fits,
              strlen(fits), &want);
    msgsec_wrap_params pb = {.content_type = "application/octet-stream"};
    CHECK(msgsec_wrap(s, &pb, (const uint8_t *)small, strlen(small), &env, &env_len, &e) ==
              MSGSEC_OK,
          "a binary payload over max_xml_bytes: %s", e.detail);
    msgsec_free(env);
    free(small);
    free(fits);
done:
    msgsec_sender_free(s);
    sb_free(&laughs, 0);
    free(deep);
    free(very_deep);
    free(deepest_ok);
    free(big);
}

static msgsec_err try_sender(msgsec_credential cred, const char *cert, const char *key,
                             const char *service, const char *suite, long ttl, msgsec_error *e)
{
    msgsec_sender_opts o = {.credential = cred,
                            .cert_file = cert,
                            .key_file = key,
                            .service_cert_file = service,
                            .suite = suite,
                            .ttl_seconds = ttl};
    msgsec_sender *s = NULL;
    msgsec_err rc = msgsec_sender_new(&o, &s, e);
    CHECK((rc == MSGSEC_OK) == (s != NULL), "handle/return mismatch");
    msgsec_sender_free(s);
    return rc;
}

static void write_key_copy(const char *from, const char *to, mode_t mode)
{
    uint8_t *data = NULL;
    size_t len = 0;
    read_file_bounded(from, 1 << 20, &data, &len, NULL);
    FILE *f = fopen(to, "w");
    fwrite(data, 1, len, f);
    fclose(f);
    chmod(to, mode);
    free(data);
}

static void test_sender_errors(void)
{
    msgsec_error e = {0};
    char *rsa = pki_path("client-rsa.pem"), *rsa_key = pki_path("client-rsa.key");
    char *svc = pki_path("service.pem");
    char tmpdir[] = "/tmp/test_wrap.XXXXXX";
    CHECK(mkdtemp(tmpdir), "mkdtemp");
    char open_key[600], weak_key[600], weak_cert[600];
    snprintf(open_key, sizeof open_key, "%s/open.key", tmpdir);
    snprintf(weak_key, sizeof weak_key, "%s/weak.key", tmpdir);
    snprintf(weak_cert, sizeof weak_cert, "%s/weak.pem", tmpdir);

    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, rsa_key, NULL, NULL, 0, &e) == MSGSEC_E_USAGE,
          "no service cert: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, NULL, svc, NULL, 0, &e) == MSGSEC_E_USAGE,
          "no key: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, pki_path("client-ec.key"), svc, NULL, 0, &e) ==
                  MSGSEC_E_USAGE &&
              strstr(e.detail, "does not match"),
          "mismatched key: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, rsa_key, pki_path("client-ec.pem"), NULL, 0,
                     &e) == MSGSEC_E_USAGE,
          "EC service cert: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, rsa_key, svc, "basic128", 0, &e) ==
              MSGSEC_E_USAGE,
          "bad suite: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, rsa_key, svc, NULL, -1, &e) == MSGSEC_E_USAGE,
          "negative ttl: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, rsa_key, "/nonexistent.pem", NULL, 0, &e) ==
              MSGSEC_E_USAGE,
          "missing service file: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_USERNAME, NULL, NULL, svc, NULL, 0, &e) == MSGSEC_E_USAGE,
          "username without a username: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_WINDOWS, NULL, NULL, svc, NULL, 0, &e) == MSGSEC_E_USAGE,
          "windows: %s", e.detail);
    CHECK(try_sender((msgsec_credential)42, NULL, NULL, svc, NULL, 0, &e) == MSGSEC_E_USAGE,
          "unknown credential: %s", e.detail);

    /* a key readable by others is refused */
    write_key_copy(rsa_key, open_key, 0644);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, open_key, svc, NULL, 0, &e) == MSGSEC_E_USAGE &&
              strstr(e.detail, "group or others"),
          "0644 key: %s", e.detail);
    chmod(open_key, 0600);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, rsa, open_key, svc, NULL, 0, &e) == MSGSEC_OK,
          "0600 key: %s", e.detail);

    /* RSA-1024 is too weak */
    EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    X509 *x = X509_new();
    X509_set_pubkey(x, weak);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"weak", -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_sign(x, weak, EVP_sha256());
    FILE *f = fopen(weak_cert, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(weak_key, "w");
    PEM_write_PrivateKey(f, weak, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(weak_key, 0600);
    CHECK(try_sender(MSGSEC_CRED_CERTIFICATE, weak_cert, weak_key, svc, NULL, 0, &e) ==
                  MSGSEC_E_USAGE &&
              strstr(e.detail, "2048"),
          "RSA-1024 client: %s", e.detail);
    CHECK(try_sender(MSGSEC_CRED_NONE, NULL, NULL, weak_cert, NULL, 0, &e) == MSGSEC_E_USAGE,
          "RSA-1024 service: %s", e.detail);
    X509_free(x);
    EVP_PKEY_free(weak);
    remove(open_key);
    remove(weak_key);
    remove(weak_cert);
    remove(tmpdir);

    /* bad wrap parameters */
    msgsec_sender *s = new_sender(MSGSEC_CRED_NONE, NULL, NULL);
    const char *bad_to[] = {"urn:a\x01", "", "urn:\xff\xfe"};
    for (size_t i = 0; s && i < 3; i++) {
        msgsec_wrap_params p = {.to = bad_to[i]};
        uint8_t *env = NULL;
        size_t env_len = 0;
        CHECK(msgsec_wrap(s, &p, (const uint8_t *)"x", 1, &env, &env_len, &e) == MSGSEC_E_USAGE &&
                  !env,
              "bad to %zu: %s", i, e.detail);
    }
    msgsec_sender_free(s);
}

static X509 *read_cert(const char *name)
{
    X509 *cert = NULL;
    load_cert(pki_path(name), &cert, NULL);
    return cert;
}

/* Issues a holder-of-key assertion for the client certificate `holder` into path. */
static void issue_token(const char *path, const char *holder)
{
    EVP_PKEY *sts_key = NULL;
    X509 *sts = read_cert("sts.pem"), *subject = read_cert(holder);
    char *xml = NULL;
    size_t len = 0;
    msgsec_error e = {0};
    saml_attr attrs[] = {{"role", "buyer"}};
    load_private_key(pki_path("sts.key"), &sts_key, NULL);
    saml_issue_params p = {.sts_key = sts_key,
                           .sts_cert = sts,
                           .subject = "shop1",
                           .audience = "urn:example:orders",
                           .subject_cert = subject,
                           .attrs = attrs,
                           .n_attrs = 1};
    CHECK(saml_issue(&p, &xml, &len, &e) == MSGSEC_OK, "saml_issue: %s", e.detail);
    FILE *f = fopen(path, "w");
    if (f && xml)
        fwrite(xml, 1, len, f);
    if (f)
        fclose(f);
    free(xml);
    X509_free(sts);
    X509_free(subject);
    EVP_PKEY_free(sts_key);
}

/* issued: the Assertion goes verbatim into the header, is covered by the
 * message signature (Reference to its ID) and names the signing key. */
static void test_issued(void)
{
    char dir[] = "/tmp/test_wrap_saml.XXXXXX", rsa_token[600], ec_token[600], bad[600];
    CHECK(mkdtemp(dir), "mkdtemp");
    snprintf(rsa_token, sizeof rsa_token, "%s/rsa.xml", dir);
    snprintf(ec_token, sizeof ec_token, "%s/ec.xml", dir);
    snprintf(bad, sizeof bad, "%s/bad.xml", dir);
    issue_token(rsa_token, "client-rsa.pem");
    issue_token(ec_token, "client-ec.pem");
    FILE *f = fopen(bad, "w");
    fputs("<notSaml/>", f);
    fclose(f);

    const struct {
        const char *cert, *key, *token;
    } ok[] = {{"client-rsa.pem", "client-rsa.key", rsa_token},
              {"client-ec.pem", "client-ec.key", ec_token}};
    for (size_t i = 0; i < 2; i++) {
        msgsec_sender_opts o = {.credential = MSGSEC_CRED_ISSUED,
                                .cert_file = pki_path(ok[i].cert),
                                .key_file = pki_path(ok[i].key),
                                .token_file = ok[i].token,
                                .service_cert_file = pki_path("service.pem")};
        msgsec_sender *s = NULL;
        msgsec_error e = {0};
        CHECK(msgsec_sender_new(&o, &s, &e) == MSGSEC_OK, "issued sender %s: %s", ok[i].cert,
              e.detail);
        X509 *holder = read_cert(ok[i].cert);
        static const uint8_t payload[] = {'h', 0, 'i'};
        msgsec_wrap_params p = {.to = "urn:example:orders"};
        expect want = {p.to, MSGSEC_DEFAULT_ACTION, MSGSEC_DEFAULT_MIME, payload, 3, 0};
        for (int k = 0; s && k < 2; k++) { /* the cached digest serves every message */
            uint8_t *env = NULL;
            size_t env_len = 0;
            CHECK(msgsec_wrap(s, &p, payload, 3, &env, &env_len, &e) == MSGSEC_OK, "wrap: %s",
                  e.detail);
            if (env)
                check_envelope(ok[i].cert, env, env_len, TOKEN_SAML, holder, &want);
            msgsec_free(env);
        }
        X509_free(holder);
        msgsec_sender_free(s);
    }

    msgsec_error e = {0};
    char *rsa = pki_path("client-rsa.pem"), *rsa_key = pki_path("client-rsa.key");
    char *svc = pki_path("service.pem");
    msgsec_sender_opts cases[] = {
        {.credential = MSGSEC_CRED_ISSUED,
         .cert_file = rsa,
         .key_file = rsa_key,
         .service_cert_file = svc}, /* no token */
        {.credential = MSGSEC_CRED_ISSUED,
         .cert_file = rsa,
         .key_file = rsa_key,
         .token_file = ec_token,
         .service_cert_file = svc}, /* bound to another key */
        {.credential = MSGSEC_CRED_ISSUED,
         .cert_file = rsa,
         .key_file = rsa_key,
         .token_file = bad,
         .service_cert_file = svc}, /* not an assertion */
        {.credential = MSGSEC_CRED_ISSUED,
         .token_file = rsa_token,
         .service_cert_file = svc}, /* no signing key */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        msgsec_sender *s = NULL;
        CHECK(msgsec_sender_new(&cases[i], &s, &e) == MSGSEC_E_USAGE && !s,
              "issued negative case %zu: %s", i, e.detail);
        msgsec_sender_free(s);
    }
    remove(rsa_token);
    remove(ec_token);
    remove(bad);
    remove(dir);
}

static int contains(const uint8_t *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

/* username: the UsernameToken travels encrypted for the service; the HMAC
 * signature (content key) covers it; no plaintext password in the envelope. */
static void test_username(void)
{
    msgsec_sender_opts o = {.credential = MSGSEC_CRED_USERNAME, .username = "alice & <bob>",
                            .password = "s3cr\"et<&>", .service_cert_file = pki_path("service.pem")};
    msgsec_sender *s = NULL;
    msgsec_error e = {0};
    CHECK(msgsec_sender_new(&o, &s, &e) == MSGSEC_OK, "username sender: %s", e.detail);
    static const uint8_t payload[] = {'u', 0, 't'};
    const char *xml = "<order xmlns=\"urn:x\"><n>1</n></order>";
    expect want = {MSGSEC_DEFAULT_TO, MSGSEC_DEFAULT_ACTION, MSGSEC_DEFAULT_MIME, payload, 3, 0};
    msgsec_wrap_params px = {.content_type = "application/xml"};
    expect want_xml = {MSGSEC_DEFAULT_TO, MSGSEC_DEFAULT_ACTION, px.content_type,
                       (const uint8_t *)xml, strlen(xml), 1};
    if (s) {
        roundtrip("username", s, TOKEN_USERNAME, NULL, payload, sizeof payload, &want);
        roundtrip("username/xml", s, TOKEN_USERNAME, &px, (const uint8_t *)xml, strlen(xml),
                  &want_xml);
        uint8_t *env = NULL;
        size_t env_len = 0;
        CHECK(msgsec_wrap(s, NULL, payload, 3, &env, &env_len, &e) == MSGSEC_OK, "%s", e.detail);
        CHECK(env && !contains(env, env_len, "s3cr") && !contains(env, env_len, "alice"),
              "username: the token is readable in the envelope");
        msgsec_free(env);
    }
    msgsec_sender_free(s);

    const char *bad[][2] = {{NULL, "pw"}, {"alice", NULL}, {"", "pw"}, {"alice", "p\x01w"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.username = bad[i][0];
        o.password = bad[i][1];
        s = NULL;
        CHECK(msgsec_sender_new(&o, &s, &e) == MSGSEC_E_USAGE && !s, "username case %zu: %s", i,
              e.detail);
        CHECK(!strstr(e.detail, "p\x01w"), "the password appears in the error");
        msgsec_sender_free(s);
    }
}

/* Two envelopes never share ids, content keys or message ids. */
static void test_freshness(void)
{
    msgsec_sender *s = new_sender(MSGSEC_CRED_NONE, NULL, NULL);
    uint8_t *a = NULL, *b = NULL;
    size_t al = 0, bl = 0;
    msgsec_error e = {0};
    msgsec_wrap_params p = {.now = 1700000000};
    CHECK(s && msgsec_wrap(s, &p, (const uint8_t *)"x", 1, &a, &al, &e) == MSGSEC_OK &&
              msgsec_wrap(s, &p, (const uint8_t *)"x", 1, &b, &bl, &e) == MSGSEC_OK,
          "wrap: %s", e.detail);
    if (a && b) {
        const char *ida = strstr((char *)a, "wsu:Id=\"to-"),
                   *idb = strstr((char *)b, "wsu:Id=\"to-");
        CHECK(ida && idb && memcmp(ida, idb, 27) != 0, "ids repeat");
        const char *mida = strstr((char *)a, "urn:uuid:"), *midb = strstr((char *)b, "urn:uuid:");
        CHECK(mida && midb && memcmp(mida, midb, 45) != 0, "message ids repeat");
        CHECK(strstr((char *)a, "<wsu:Created>2023-11-14T22:13:20.000Z</wsu:Created>"
                                "<wsu:Expires>2023-11-15T22:13:20.000Z</wsu:Expires>"),
              "timestamp with default ttl");
    }
    msgsec_free(a);
    msgsec_free(b);
    /* a per-message ttl overrides the sender's; out of range is a usage error */
    a = NULL;
    p.ttl_seconds = 60;
    CHECK(msgsec_wrap(s, &p, (const uint8_t *)"x", 1, &a, &al, &e) == MSGSEC_OK &&
              strstr((char *)a, "<wsu:Expires>2023-11-14T22:14:20.000Z</wsu:Expires>"),
          "per-message ttl 60: %s", e.detail);
    msgsec_free(a);
    a = NULL;
    p.ttl_seconds = -1;
    CHECK(msgsec_wrap(s, &p, (const uint8_t *)"x", 1, &a, &al, &e) == MSGSEC_E_USAGE && !a,
          "negative per-message ttl accepted");
    msgsec_sender_free(s);
}

/* windows mode (tests/integration/sender/windows_test.sh runs it against a real
 * KDC): wraps with the credential cache of $KRB5CCNAME for spn and checks the
 * envelope with the keytab; or checks envelope_file (made by `msgsec wrap`). */
static void test_windows(const char *spn, const char *envelope_file)
{
    static const uint8_t payload[] = {'k', 0, 'r', 'b'};
    expect want = {"urn:example:orders", MSGSEC_DEFAULT_ACTION,
                   MSGSEC_DEFAULT_MIME,  payload,
                   sizeof payload,       0};
    if (envelope_file) {
        uint8_t *env = NULL;
        size_t env_len = 0;
        msgsec_error e = {0};
        CHECK(read_file_bounded(envelope_file, 1 << 20, &env, &env_len, &e) == MSGSEC_OK, "%s",
              e.detail);
        if (env)
            check_envelope("cli windows", env, env_len, TOKEN_KERBEROS, NULL, &want);
        free(env);
        return;
    }
    msgsec_sender_opts o = {.credential = MSGSEC_CRED_WINDOWS,
                            .service_principal = spn,
                            .service_cert_file = pki_path("service.pem")};
    msgsec_sender *s = NULL;
    msgsec_error e = {0};
    CHECK(msgsec_sender_new(&o, &s, &e) == MSGSEC_OK, "windows sender: %s", e.detail);
    msgsec_wrap_params p = {.to = want.to};
    for (int i = 0; s && i < 2; i++)
        roundtrip("windows", s, TOKEN_KERBEROS, &p, payload, sizeof payload, &want);
    msgsec_sender_free(s);
    o.service_principal = "msgsec/nosuch@EXAMPLE.COM";
    CHECK(msgsec_sender_new(&o, &s, &e) == MSGSEC_E_USAGE && !s, "unknown service: %s", e.detail);
}

int main(int argc, char **argv)
{
    pki = getenv("MSGSEC_PKI");
    if (!pki) {
        fprintf(stderr, "MSGSEC_PKI is not set\n");
        return 1;
    }
    msgsec_global_init(NULL);
    if (argc >= 4 && strcmp(argv[1], "windows") == 0) {
        keytab = argv[2];
        test_windows(argv[3], argc > 4 ? argv[4] : NULL);
        msgsec_global_cleanup();
        fprintf(stderr, "test_wrap windows: %d check(s) failed\n", failures);
        return failures ? 1 : 0;
    }
    test_credentials();
    test_xml_payloads();
    test_xml_payload_hardening();
    test_sender_errors();
    test_issued();
    test_username();
    test_freshness();
    msgsec_global_cleanup();
    if (failures)
        fprintf(stderr, "test_wrap: %d check(s) failed\n", failures);
    else
        printf("test_wrap: all checks passed\n");
    return failures ? 1 : 0;
}

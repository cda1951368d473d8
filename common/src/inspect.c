/* inspect.c - unverified JSON summary of an envelope: what it claims to be,
 * never decrypting and never trusting it ("verified": false). Parsed with
 * the same hardened parser as unwrap. */
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "context.h"
#include "recv_envelope.h"
#include "xml.h"

#define WSS_KERBEROS_PREFIX "http://docs.oasis-open.org/wss/oasis-wss-kerberos-token-profile-1.1#"

static xmlNodePtr first_descendant(xmlNodePtr root, const char *ns, const char *name)
{
    for (xmlNodePtr c = xml_first_elem(root); c; c = xml_next_elem(c)) {
        if (xml_is(c, ns, name))
            return c;
        xmlNodePtr d = first_descendant(c, ns, name);
        if (d)
            return d;
    }
    return NULL;
}

static const char *algorithm_of(xmlNodePtr parent, const char *ns, const char *name)
{
    xmlNodePtr n = parent ? first_descendant(parent, ns, name) : NULL;
    return n ? xml_attr(n, NULL, "Algorithm") : NULL;
}

static void put_text_field(strbuf *sb, const char *name, xmlNodePtr node)
{
    char *t = node ? xml_text(node) : NULL;
    json_put_field(sb, name, t);
    xmlFree(t);
}

/* The signing token the Signature's STR points to, and the credential it implies. */
static const char *guess_credential(xmlNodePtr security, xmlNodePtr sig, const xml_ids *ids,
                                    X509 **signer)
{
    xmlNodePtr ref = sig ? first_descendant(xml_child(sig, NS_DS, "KeyInfo", NULL), NS_WSSE,
                                            "Reference")
                         : NULL;
    xmlNodePtr token = NULL;
    *signer = NULL;
    if (ref)
        xml_ids_resolve(ids, xml_attr(ref, NULL, "URI"), &token, NULL);
    if (xml_child(security, NS_SAML2, "Assertion", NULL))
        return "issued";
    if (xml_child(security, NS_WSSE, "UsernameToken", NULL))
        return "username";
    for (xmlNodePtr b = xml_first_elem(security); b; b = xml_next_elem(b)) {
        const char *vt = xml_is(b, NS_WSSE, "BinarySecurityToken") ? xml_attr(b, NULL, "ValueType")
                                                                    : NULL;
        if (vt && strncmp(vt, WSS_KERBEROS_PREFIX, strlen(WSS_KERBEROS_PREFIX)) == 0)
            return "windows";
    }
    if (xml_is(token, NS_WSSE, "BinarySecurityToken")) {
        uint8_t *der = NULL;
        size_t len = 0;
        if (recv_b64_child(token, "token", &der, &len, NULL) == MSGSEC_OK) {
            const unsigned char *p = der;
            *signer = d2i_X509(NULL, &p, (long)len);
        }
        free(der);
        return "certificate";
    }
    if (xml_is(token, NS_XENC, "EncryptedKey"))
        return "none";
    return NULL;
}

static void put_references(strbuf *sb, xmlNodePtr sig)
{
    xmlNodePtr si = sig ? xml_child(sig, NS_DS, "SignedInfo", NULL) : NULL;
    int first = 1;
    sb_puts(sb, ",\"signed_references\":[");
    for (xmlNodePtr r = xml_first_elem(si); r; r = xml_next_elem(r)) {
        if (!xml_is(r, NS_DS, "Reference"))
            continue;
        sb_puts(sb, first ? "{\"uri\":" : ",{\"uri\":");
        json_put_string(sb, xml_attr(r, NULL, "URI"));
        json_put_field(sb, "digest_algorithm", algorithm_of(r, NS_DS, "DigestMethod"));
        sb_puts(sb, "}");
        first = 0;
    }
    sb_puts(sb, "]");
}

static void put_security_children(strbuf *sb, xmlNodePtr security)
{
    int first = 1;
    sb_puts(sb, ",\"security_header\":[");
    for (xmlNodePtr c = xml_first_elem(security); c; c = xml_next_elem(c)) {
        if (!first)
            sb_puts(sb, ",");
        json_put_string(sb, (const char *)c->name);
        first = 0;
    }
    sb_puts(sb, "]");
}

static size_t cipher_bytes(xmlNodePtr ed)
{
    xmlNodePtr cv = ed ? first_descendant(ed, NS_XENC, "CipherValue") : NULL;
    uint8_t *data = NULL;
    size_t len = 0;
    if (cv && recv_b64_child(cv, "CipherValue", &data, &len, NULL) != MSGSEC_OK)
        len = 0;
    free(data);
    return len;
}

static void summarize(strbuf *sb, const recv_envelope *env, const xml_ids *ids, size_t len)
{
    xmlNodePtr ts = env->security ? xml_child(env->security, NS_WSU, "Timestamp", NULL) : NULL;
    xmlNodePtr sig = env->security ? xml_child(env->security, NS_DS, "Signature", NULL) : NULL;
    xmlNodePtr ek = env->security ? first_descendant(env->envelope, NS_XENC, "EncryptedKey") : NULL;
    xmlNodePtr ed = env->body ? xml_first_elem(env->body) : NULL;
    X509 *signer = NULL;
    const char *cred = env->security ? guess_credential(env->security, sig, ids, &signer) : NULL;
    char *signer_dn = signer ? cert_subject_dn(signer) : NULL;
    char *issuer_dn = signer ? cert_issuer_dn(signer) : NULL;
    if (!xml_is(ed, NS_XENC, "EncryptedData"))
        ed = NULL;
    sb_puts(sb, "{\"verified\":false");
    json_put_field(sb, "soap_version", xml_is(env->envelope, NS_SOAP12, "Envelope") ? "1.2" : "1.1");
    json_put_field(sb, "credential_type", cred);
    json_put_field(sb, "signer", signer_dn);
    json_put_field(sb, "signer_issuer", issuer_dn);
    put_text_field(sb, "to", env->to);
    put_text_field(sb, "action", env->action);
    put_text_field(sb, "message_id", env->message_id);
    put_text_field(sb, "created", ts ? xml_child(ts, NS_WSU, "Created", NULL) : NULL);
    put_text_field(sb, "expires", ts ? xml_child(ts, NS_WSU, "Expires", NULL) : NULL);
    json_put_field(sb, "signature_algorithm", algorithm_of(sig, NS_DS, "SignatureMethod"));
    json_put_field(sb, "canonicalization", algorithm_of(sig, NS_DS, "CanonicalizationMethod"));
    put_references(sb, sig);
    json_put_field(sb, "key_transport", ek ? algorithm_of(ek, NS_XENC, "EncryptionMethod") : NULL);
    json_put_field(sb, "content_encryption", algorithm_of(ed, NS_XENC, "EncryptionMethod"));
    json_put_field(sb, "content_type", ed ? xml_attr(ed, NULL, "MimeType") : NULL);
    json_put_field(sb, "encrypted_type", ed ? xml_attr(ed, NULL, "Type") : NULL);
    put_security_children(sb, env->security);
    sb_printf(sb, ",\"body_encrypted\":%s,\"envelope_bytes\":%zu,\"ciphertext_bytes\":%zu}\n",
              ed ? "true" : "false", len, cipher_bytes(ed));
    free(signer_dn);
    free(issuer_dn);
    X509_free(signer);
}

msgsec_err msgsec_inspect(const uint8_t *envelope, size_t len, size_t max_bytes, char **json,
                          msgsec_error *err)
{
    recv_envelope env;
    xml_ids ids = {0};
    xmlDocPtr doc = NULL;
    strbuf sb;
    memset(&env, 0, sizeof env);
    *json = NULL;
    msgsec_err rc = xml_parse(envelope, len, max_bytes ? max_bytes : MSGSEC_DEFAULT_MAX_BYTES,
                              &doc, err);
    if (rc == MSGSEC_OK)
        rc = recv_check_envelope(doc, &env, err);
    if (rc == MSGSEC_OK)
        rc = xml_ids_build(&ids, doc, err);
    if (rc == MSGSEC_OK) {
        sb_init(&sb, 2048, 0);
        summarize(&sb, &env, &ids, len);
        if (sb.failed) {
            sb_free(&sb, 0);
            rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        } else {
            *json = sb_steal(&sb, NULL);
        }
    }
    xml_ids_free(&ids);
    xmlFreeDoc(doc);
    return rc;
}

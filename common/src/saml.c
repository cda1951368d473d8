/* saml.c - SAML 2.0 holder-of-key assertions: the development STS (issue)
 * and the verifier for assertions of any trusted issuer.
 *
 * The issuer digests the exclusive c14n of the parsed Assertion before its
 * Signature is added; the verifier checks the enveloped signature with the
 * XML-DSig verifier of the message signature (dsig.c), which digests the
 * very element it was given with the ds:Signature subtree left out (never
 * one found by ID), so a second, unsigned Assertion or a wrapped copy
 * cannot borrow the signature. */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rand.h>

#include "dsig.h"
#include "saml.h"
#include "xml.h"

#define NS_XSI "http://www.w3.org/2001/XMLSchema-instance"
#define SAML_NAMEID_X509 "urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName"
#define SAML_DEFAULT_LIFETIME 3600L

/* ------------------------------------------------------------------ issue */

static void put_time_attr(strbuf *sb, const char *name, time_t t)
{
    char buf[32];
    xsd_time_format(t, buf, sizeof buf);
    sb_printf(sb, " %s=\"%s\"", name, buf);
}

static void put_cert_key_info(strbuf *sb, X509 *cert)
{
    unsigned char *der = NULL;
    int n = i2d_X509(cert, &der);
    if (n <= 0) {
        sb->failed = 1;
        return;
    }
    sb_puts(sb, "<ds:KeyInfo xmlns:ds=\"" NS_DS "\"><ds:X509Data><ds:X509Certificate>");
    sb_put_base64(sb, der, (size_t)n);
    sb_puts(sb, "</ds:X509Certificate></ds:X509Data></ds:KeyInfo>");
    OPENSSL_free(der);
}

static void put_element(strbuf *sb, const char *tag, const char *text)
{
    sb_printf(sb, "<%s>", tag);
    sb_put_xml_escaped(sb, text, strlen(text));
    sb_printf(sb, "</%s>", tag);
}

/* Everything after the Signature: Subject, Conditions, AttributeStatement. */
static void put_assertion_body(strbuf *sb, const saml_issue_params *p, time_t now, long lifetime)
{
    sb_puts(sb, "<saml2:Subject>");
    put_element(sb, "saml2:NameID", p->subject);
    sb_printf(sb, "<saml2:SubjectConfirmation Method=\"%s\">",
              p->subject_cert ? SAML_CM_HOLDER_OF_KEY : SAML_CM_BEARER);
    if (p->subject_cert) {
        sb_puts(sb, "<saml2:SubjectConfirmationData xmlns:xsi=\"" NS_XSI
                    "\" xsi:type=\"saml2:KeyInfoConfirmationDataType\">");
        put_cert_key_info(sb, p->subject_cert);
        sb_puts(sb, "</saml2:SubjectConfirmationData>");
    }
    sb_puts(sb, "</saml2:SubjectConfirmation></saml2:Subject><saml2:Conditions");
    put_time_attr(sb, "NotBefore", now);
    put_time_attr(sb, "NotOnOrAfter", now + lifetime);
    sb_puts(sb, "><saml2:AudienceRestriction>");
    put_element(sb, "saml2:Audience", p->audience);
    sb_puts(sb, "</saml2:AudienceRestriction></saml2:Conditions>");
    if (p->n_attrs > 0) {
        sb_puts(sb, "<saml2:AttributeStatement>");
        for (size_t i = 0; i < p->n_attrs; i++) {
            sb_puts(sb, "<saml2:Attribute Name=\"");
            sb_put_xml_escaped(sb, p->attrs[i].name, strlen(p->attrs[i].name));
            sb_puts(sb, "\">");
            put_element(sb, "saml2:AttributeValue", p->attrs[i].value);
            sb_puts(sb, "</saml2:Attribute>");
        }
        sb_puts(sb, "</saml2:AttributeStatement>");
    }
    sb_puts(sb, "</saml2:Assertion>");
}

/* Writes the ds:Signature for an Assertion whose digest is given. SignedInfo
 * is written in canonical form (it holds only URIs, an NCName and base64), so
 * the bytes signed are the bytes written. */
static msgsec_err put_signature(strbuf *sb, const saml_issue_params *p, const char *id,
                                const uint8_t digest[32], msgsec_error *err)
{
    strbuf si;
    EVP_MD_CTX *md = NULL;
    uint8_t *sig = NULL;
    size_t sig_len = 0;
    msgsec_err rc = MSGSEC_OK;

    sb_init(&si, 1024, 0);
    sb_puts(&si, "<ds:SignedInfo xmlns:ds=\"" NS_DS "\">"
                 "<ds:CanonicalizationMethod Algorithm=\"" ALG_EXC_C14N "\"></ds:CanonicalizationMethod>"
                 "<ds:SignatureMethod Algorithm=\"" ALG_RSA_SHA256 "\"></ds:SignatureMethod>");
    sb_printf(&si, "<ds:Reference URI=\"#%s\"><ds:Transforms>", id);
    sb_puts(&si, "<ds:Transform Algorithm=\"" ALG_ENVELOPED_SIGNATURE "\"></ds:Transform>"
                 "<ds:Transform Algorithm=\"" ALG_EXC_C14N "\"></ds:Transform></ds:Transforms>"
                 "<ds:DigestMethod Algorithm=\"" ALG_SHA256 "\"></ds:DigestMethod><ds:DigestValue>");
    sb_put_base64(&si, digest, 32);
    sb_puts(&si, "</ds:DigestValue></ds:Reference></ds:SignedInfo>");
    if (si.failed) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    if (!(md = EVP_MD_CTX_new()) ||
        EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, p->sts_key) != 1 ||
        EVP_DigestSign(md, NULL, &sig_len, (const unsigned char *)si.data, si.len) != 1 ||
        !(sig = malloc(sig_len)) ||
        EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)si.data, si.len) != 1) {
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot sign the assertion");
        goto cleanup;
    }
    /* SignedInfo keeps its own (redundant) xmlns:ds so that the bytes signed
     * are exactly the bytes in the document */
    sb_puts(sb, "<ds:Signature xmlns:ds=\"" NS_DS "\">");
    sb_append(sb, si.data, si.len);
    sb_puts(sb, "<ds:SignatureValue>");
    sb_put_base64(sb, sig, sig_len);
    sb_puts(sb, "</ds:SignatureValue>");
    put_cert_key_info(sb, p->sts_cert);
    sb_puts(sb, "</ds:Signature>");
cleanup:
    EVP_MD_CTX_free(md);
    free(sig);
    sb_free(&si, 0);
    return rc;
}

msgsec_err saml_issue(const saml_issue_params *p, char **xml, size_t *len, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    strbuf head, body, out;
    xmlDocPtr doc = NULL;
    EVP_MD_CTX *md = NULL;
    char *issuer = NULL;
    uint8_t rnd[16], digest[32];
    char id[2 * sizeof rnd + 2];
    time_t now = p->now ? p->now : time(NULL);
    long lifetime = p->lifetime > 0 ? p->lifetime : SAML_DEFAULT_LIFETIME;

    *xml = NULL;
    *len = 0;
    if (!p->sts_key || !p->sts_cert || !p->subject || !*p->subject || !p->audience ||
        !*p->audience)
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "an assertion needs the STS key and certificate, a subject and an audience");
    if (EVP_PKEY_get_base_id(p->sts_key) != EVP_PKEY_RSA)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "the STS key must be an RSA key");
    if (X509_check_private_key(p->sts_cert, p->sts_key) != 1) {
        ERR_clear_error();
        return msgsec_seterr(err, MSGSEC_E_USAGE, "the STS key does not match its certificate");
    }
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "no randomness");
    id[0] = '_'; /* an xsd:ID is an NCName: it must not start with a digit */
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(id + 1 + 2 * i, 3, "%02x", rnd[i]);
    if (!(issuer = cert_subject_dn(p->sts_cert)))
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");

    sb_init(&head, 1024, 0);
    sb_init(&body, 4096, 0);
    sb_init(&out, 8192, 0);
    sb_printf(&head, "<saml2:Assertion xmlns:saml2=\"" NS_SAML2 "\" ID=\"%s\"", id);
    put_time_attr(&head, "IssueInstant", now);
    sb_puts(&head, " Version=\"2.0\"><saml2:Issuer Format=\"" SAML_NAMEID_X509 "\">");
    sb_put_xml_escaped(&head, issuer, strlen(issuer));
    sb_puts(&head, "</saml2:Issuer>");
    put_assertion_body(&body, p, now, lifetime);
    /* digest = exc-c14n of the assertion as it will be without its Signature */
    sb_append(&out, head.data, head.len);
    sb_append(&out, body.data, body.len);
    if (head.failed || body.failed || out.failed) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    if (xml_parse((const uint8_t *)out.data, out.len, out.len, &doc, NULL) != MSGSEC_OK) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE,
                           "subject, audience or an attribute holds characters XML cannot carry");
        goto cleanup;
    }
    if (!(md = EVP_MD_CTX_new()) ||
        xml_c14n_sha256(xmlDocGetRootElement(doc), NULL, md, EVP_sha256(), digest) != 0) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot canonicalize the assertion");
        goto cleanup;
    }
    sb_free(&out, 0);
    sb_init(&out, head.len + body.len + 4096, 0);
    sb_append(&out, head.data, head.len);
    if ((rc = put_signature(&out, p, id, digest, err)) != MSGSEC_OK)
        goto cleanup;
    sb_append(&out, body.data, body.len);
    sb_puts(&out, "\n");
    if (out.failed) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    *xml = sb_steal(&out, len);
cleanup:
    EVP_MD_CTX_free(md);
    xmlFreeDoc(doc);
    free(issuer);
    sb_free(&head, 0);
    sb_free(&body, 0);
    sb_free(&out, 0);
    return rc;
}

/* ----------------------------------------------------------------- verify */

/* The text of an element that must hold plain text only: no comments, CDATA,
 * child elements or several text nodes (a comment inside a NameID would be
 * invisible to the signature but split what a naive reader returns).
 * Returns a borrowed string ("" when empty) or NULL after setting err. */
static const char *plain_text(const xmlNode *node, const char *what, msgsec_error *err)
{
    const xmlNode *child = node->children;
    if (!child)
        return "";
    if (child->next || child->type != XML_TEXT_NODE || !child->content) {
        msgsec_seterr(err, MSGSEC_E_MALFORMED,
                      "SAML %s must be plain text (comments, CDATA and elements are refused)",
                      what);
        return NULL;
    }
    return (const char *)child->content;
}

/* Non-empty plain text. */
static const char *required_text(const xmlNode *node, const char *what, msgsec_error *err)
{
    const char *s = plain_text(node, what, err);
    if (s && !*s) {
        msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML %s is empty", what);
        return NULL;
    }
    return s;
}

static msgsec_err parse_time_attr(const xmlNode *node, const char *name, int required,
                                  time_t *out, msgsec_error *err)
{
    const char *v = xml_attr(node, NULL, name);
    *out = 0;
    if (!v)
        return required ? msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML %s is missing", name)
                        : MSGSEC_OK;
    if (xsd_time_parse(v, out) != 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML %s is not an xsd:dateTime", name);
    return MSGSEC_OK;
}

/* NotBefore / NotOnOrAfter of node (Conditions or SubjectConfirmationData). */
static msgsec_err check_window(const xmlNode *node, const saml_trust *t, time_t now,
                               int need_end, time_t *nb, time_t *noa, msgsec_error *err)
{
    msgsec_err rc;
    if ((rc = parse_time_attr(node, "NotBefore", 0, nb, err)) != MSGSEC_OK ||
        (rc = parse_time_attr(node, "NotOnOrAfter", 0, noa, err)) != MSGSEC_OK)
        return rc;
    if (need_end && !*noa)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "SAML assertion has no NotOnOrAfter");
    if (*nb && now + t->clock_skew < *nb)
        return msgsec_seterr(err, MSGSEC_E_EXPIRED, "SAML assertion is not yet valid");
    if (*noa && now - t->clock_skew >= *noa)
        return msgsec_seterr(err, MSGSEC_E_EXPIRED, "SAML assertion has expired");
    return MSGSEC_OK;
}

static msgsec_err decode_b64_text(const xmlNode *node, const char *what, uint8_t **out,
                                  size_t *len, msgsec_error *err)
{
    const char *text = required_text(node, what, err);
    if (!text)
        return err ? err->code : MSGSEC_E_MALFORMED;
    if (b64_decode(text, strlen(text), out, len) != 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML %s is not base64", what);
    return MSGSEC_OK;
}

/* The one X509Certificate of a ds:KeyInfo (X509Data holding it). */
static msgsec_err key_info_cert(const xmlNode *key_info, const char *what, X509 **out,
                                msgsec_error *err)
{
    int dup = 0;
    xmlNodePtr x509_data = xml_child(key_info, NS_DS, "X509Data", &dup);
    xmlNodePtr cert_node = x509_data && !dup ? xml_child(x509_data, NS_DS, "X509Certificate", &dup)
                                             : NULL;
    uint8_t *der = NULL;
    size_t der_len = 0;
    *out = NULL;
    msgsec_err rc = dsig_check_key_info(key_info, what, err);
    if (rc != MSGSEC_OK)
        return rc;
    if (!cert_node || dup)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                             "%s needs exactly one ds:X509Data/ds:X509Certificate", what);
    if ((rc = decode_b64_text(cert_node, "X509Certificate", &der, &der_len, err)) != MSGSEC_OK)
        return rc;
    const unsigned char *p = der;
    *out = d2i_X509(NULL, &p, (long)der_len);
    if (!*out || p != der + der_len) {
        X509_free(*out);
        *out = NULL;
        ERR_clear_error();
        rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s: X509Certificate is not a certificate",
                           what);
    }
    free(der);
    return rc;
}

static const dsig_rules assertion_signature = {
    .what = "SAML signature",
    .algorithms = DSIG_RSA_SHA256,
    .enveloped_what = "the assertion",
};

/* The SignatureValue of s under cert's key. */
static msgsec_err check_issuer_key(const dsig_signature *s, X509 *cert, EVP_MD_CTX *md,
                                   msgsec_error *err)
{
    EVP_PKEY *pub = X509_get0_pubkey(cert);
    dsig_key key = {0};
    if (dsig_alg_for_key(pub) != s->alg)
        return msgsec_seterr(err, MSGSEC_E_AUTH, "SAML issuer key does not fit the signature "
                             "algorithm");
    if (!(key.verify = dsig_verify_ctx(pub, EVP_sha256())))
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up signature check");
    msgsec_err rc = dsig_check_value(s, &key, md, EVP_sha256(), err);
    EVP_PKEY_CTX_free(key.verify);
    return rc;
}

/* The trusted issuer certificate that signed: the KeyInfo certificate must
 * be one of them (exact DER); without KeyInfo, each one is tried. */
static msgsec_err verify_issuer(const dsig_signature *s, const saml_trust *t, time_t now,
                                EVP_MD_CTX *md, X509 **signer, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    X509 *presented = NULL;
    int n_issuers = t->issuers ? sk_X509_num(t->issuers) : 0;

    *signer = NULL;
    if (s->key_info && (rc = key_info_cert(s->key_info, "SAML signature KeyInfo", &presented,
                                           err)) != MSGSEC_OK)
        return rc;
    for (int i = 0; i < n_issuers && !*signer; i++) {
        X509 *cand = sk_X509_value(t->issuers, i);
        if (presented ? X509_cmp(presented, cand) == 0
                      : check_issuer_key(s, cand, md, NULL) == MSGSEC_OK)
            *signer = cand;
    }
    if (!*signer && presented) {
        char *dn = cert_subject_dn(presented);
        rc = msgsec_seterr(err, MSGSEC_E_AUTH, "SAML assertion issuer %.120s is not trusted",
                           dn ? dn : "(unreadable)");
        free(dn);
    } else if (!*signer) {
        rc = msgsec_seterr(err, MSGSEC_E_AUTH, "SAML assertion is not signed by a trusted issuer");
    } else if (presented) {
        rc = check_issuer_key(s, *signer, md, err);
    }
    if (rc == MSGSEC_OK && (X509_cmp_time(X509_get0_notAfter(*signer), &now) < 0 ||
                            X509_cmp_time(X509_get0_notBefore(*signer), &now) > 0))
        rc = msgsec_seterr(err, MSGSEC_E_EXPIRED, "SAML issuer certificate is not valid now");
    if (rc != MSGSEC_OK)
        *signer = NULL;
    X509_free(presented);
    ERR_clear_error();
    return rc;
}

void saml_assertion_free(saml_assertion *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n_claims; i++) {
        free((char *)a->claims[i].name);
        free((char *)a->claims[i].value);
    }
    free(a->claims);
    free(a->id);
    free(a->issuer);
    free(a->subject);
    X509_free(a->issuer_cert);
    X509_free(a->holder_cert);
    free(a);
}

static int add_claim(saml_assertion *a, const char *name, const char *value)
{
    saml_attr *grown = realloc(a->claims, (a->n_claims + 1) * sizeof *grown);
    if (!grown)
        return -1;
    a->claims = grown;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -1;
    }
    a->claims[a->n_claims].name = n;
    a->claims[a->n_claims].value = v;
    a->n_claims++;
    return 0;
}

/* The SubjectConfirmationData of the one holder-of-key confirmation of
 * subject, and the certificate its ds:KeyInfo names. Bearer or other
 * confirmations are skipped; none at all is MSGSEC_E_POLICY. */
static msgsec_err holder_confirmation(xmlNodePtr subject, xmlNodePtr *data_out, X509 **cert,
                                      msgsec_error *err)
{
    xmlNodePtr found = NULL;
    *cert = NULL;
    for (xmlNodePtr n = xml_next_elem(xml_first_elem(subject)); n; n = xml_next_elem(n)) {
        const char *method = xml_attr(n, NULL, "Method");
        if (!xml_is(n, NS_SAML2, "SubjectConfirmation"))
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "unexpected element in SAML Subject");
        if (!method || strcmp(method, SAML_CM_HOLDER_OF_KEY) != 0)
            continue;
        if (found)
            return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                                 "SAML Subject has more than one holder-of-key confirmation");
        found = n;
    }
    if (!found)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "SAML assertion is not holder-of-key");
    int dup = 0;
    xmlNodePtr data = xml_child(found, NS_SAML2, "SubjectConfirmationData", &dup);
    xmlNodePtr key_info = data && !dup ? xml_child(data, NS_DS, "KeyInfo", &dup) : NULL;
    if (!key_info || dup)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED,
                             "SAML holder-of-key confirmation needs one ds:KeyInfo");
    *data_out = data;
    return key_info_cert(key_info, "SAML holder-of-key KeyInfo", cert, err);
}

/* Subject: NameID and the holder-of-key confirmation. */
static msgsec_err read_subject(xmlNodePtr subject, const saml_trust *t, time_t now,
                               saml_assertion *a, msgsec_error *err)
{
    msgsec_err rc;
    xmlNodePtr name_id = xml_first_elem(subject), data = NULL;
    const char *name;
    time_t nb, noa;
    if (!xml_is(name_id, NS_SAML2, "NameID"))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "SAML Subject needs a plain NameID");
    if (!(name = required_text(name_id, "NameID", err)))
        return err ? err->code : MSGSEC_E_MALFORMED;
    if (!(a->subject = strdup(name)))
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    if ((rc = holder_confirmation(subject, &data, &a->holder_cert, err)) != MSGSEC_OK)
        return rc;
    return check_window(data, t, now, 0, &nb, &noa, err);
}

/* Conditions: the validity window and the audience. */
static msgsec_err read_conditions(xmlNodePtr cond, const saml_trust *t, time_t now,
                                  saml_assertion *a, msgsec_error *err)
{
    msgsec_err rc = check_window(cond, t, now, 1, &a->not_before, &a->not_on_or_after, err);
    int restrictions = 0;
    if (rc != MSGSEC_OK)
        return rc;
    for (xmlNodePtr n = xml_first_elem(cond); n; n = xml_next_elem(n)) {
        int listed = 0;
        if (!xml_is(n, NS_SAML2, "AudienceRestriction"))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "SAML condition %.40s is not supported",
                                 (const char *)n->name);
        restrictions++;
        for (xmlNodePtr aud = xml_first_elem(n); aud; aud = xml_next_elem(aud)) {
            const char *uri;
            if (!xml_is(aud, NS_SAML2, "Audience"))
                return msgsec_seterr(err, MSGSEC_E_MALFORMED, "bad SAML AudienceRestriction");
            if (!(uri = required_text(aud, "Audience", err)))
                return err ? err->code : MSGSEC_E_MALFORMED;
            listed |= strcmp(uri, t->audience) == 0;
        }
        if (!listed)
            return msgsec_seterr(err, MSGSEC_E_POLICY, "SAML assertion is not for audience %.120s",
                                 t->audience);
    }
    if (!restrictions)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "SAML assertion has no AudienceRestriction");
    return MSGSEC_OK;
}

static msgsec_err read_attributes(xmlNodePtr stmt, saml_assertion *a, msgsec_error *err)
{
    for (xmlNodePtr attr = xml_first_elem(stmt); attr; attr = xml_next_elem(attr)) {
        const char *name = xml_attr(attr, NULL, "Name");
        if (!xml_is(attr, NS_SAML2, "Attribute"))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "SAML %.40s is not supported",
                                 (const char *)attr->name);
        if (!name || !*name)
            return msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML Attribute without a Name");
        for (xmlNodePtr v = xml_first_elem(attr); v; v = xml_next_elem(v)) {
            const char *value;
            if (!xml_is(v, NS_SAML2, "AttributeValue"))
                return msgsec_seterr(err, MSGSEC_E_MALFORMED, "bad SAML Attribute");
            if (!(value = plain_text(v, "AttributeValue", err)))
                return err ? err->code : MSGSEC_E_MALFORMED;
            if (add_claim(a, name, value) != 0)
                return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        }
    }
    return MSGSEC_OK;
}

msgsec_err saml_verify(xmlNodePtr assertion, const saml_trust *t, saml_assertion **out,
                       msgsec_error *err)
{
    msgsec_err rc;
    dsig_signature sig;
    dsig_rules rules = assertion_signature;
    EVP_MD_CTX *md = NULL;
    saml_assertion *a = NULL;
    xml_ids ids = {0};
    xmlNodePtr resolved = NULL, issuer, signature, n, subject = NULL, conditions = NULL;
    time_t now = t->now ? t->now : time(NULL), issue_instant;
    const char *id, *version, *issuer_text;
    char uri[256];

    *out = NULL;
    memset(&sig, 0, sizeof sig);
    if (!t->audience)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "SAML verification needs the expected audience");
    if (!xml_is(assertion, NS_SAML2, "Assertion"))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "token is not a SAML 2.0 Assertion");
    version = xml_attr(assertion, NULL, "Version");
    id = xml_attr(assertion, NULL, "ID");
    if (!version || strcmp(version, "2.0") != 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML Assertion Version is not 2.0");
    if (!id || !*id || strlen(id) >= sizeof uri - 1)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML Assertion has no usable ID");
    if ((rc = parse_time_attr(assertion, "IssueInstant", 1, &issue_instant, err)) != MSGSEC_OK)
        return rc;
    /* wrapping defence: the ID is unique in the document and names this element */
    snprintf(uri, sizeof uri, "#%s", id);
    if ((rc = xml_ids_build(&ids, assertion->doc, err)) != MSGSEC_OK ||
        (rc = xml_ids_resolve(&ids, uri, &resolved, err)) != MSGSEC_OK)
        goto cleanup;
    if (resolved != assertion) {
        rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML Assertion ID names another element");
        goto cleanup;
    }
    issuer = xml_first_elem(assertion);
    signature = xml_next_elem(issuer);
    if (!xml_is(issuer, NS_SAML2, "Issuer")) {
        rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML Assertion must start with its Issuer");
        goto cleanup;
    }
    if (!xml_is(signature, NS_DS, "Signature")) {
        rc = msgsec_seterr(err, MSGSEC_E_AUTH, "SAML assertion is not signed");
        goto cleanup;
    }
    if (!(a = calloc(1, sizeof *a))) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }

    /* 1. signature over this very element, by a trusted issuer */
    rules.enveloped_id = id;
    if ((rc = dsig_parse(signature, &ids, &rules, &sig, err)) != MSGSEC_OK)
        goto cleanup;
    if (!(md = EVP_MD_CTX_new())) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    X509 *signer;
    if ((rc = dsig_check_digests(&sig, md, EVP_sha256(), err)) != MSGSEC_OK ||
        (rc = verify_issuer(&sig, t, now, md, &signer, err)) != MSGSEC_OK)
        goto cleanup;
    X509_up_ref(signer);
    a->issuer_cert = signer;

    /* 2. content, now that it is authentic */
    if (!(issuer_text = required_text(issuer, "Issuer", err))) {
        rc = err ? err->code : MSGSEC_E_MALFORMED;
        goto cleanup;
    }
    if (!(a->issuer = strdup(issuer_text)) || !(a->id = strdup(id))) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    if (issue_instant > now + t->clock_skew) {
        rc = msgsec_seterr(err, MSGSEC_E_EXPIRED, "SAML assertion is issued in the future");
        goto cleanup;
    }
    for (n = xml_next_elem(signature); n; n = xml_next_elem(n)) {
        if (xml_is(n, NS_SAML2, "Subject") || xml_is(n, NS_SAML2, "Conditions")) {
            xmlNodePtr *slot = xml_is(n, NS_SAML2, "Subject") ? &subject : &conditions;
            if (*slot) {
                rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML Assertion has two %s",
                                   (const char *)n->name);
                goto cleanup;
            }
            *slot = n;
        } else if (xml_is(n, NS_SAML2, "AttributeStatement")) {
            if ((rc = read_attributes(n, a, err)) != MSGSEC_OK)
                goto cleanup;
        } else if (xml_is(n, NS_DS, "Signature")) {
            rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "SAML Assertion has two signatures");
            goto cleanup;
        } /* AuthnStatement, Advice, ...: not used by msgsec */
    }
    if (!subject || !conditions) {
        rc = msgsec_seterr(err, MSGSEC_E_POLICY, "SAML assertion needs a Subject and Conditions");
        goto cleanup;
    }
    if ((rc = read_conditions(conditions, t, now, a, err)) != MSGSEC_OK ||
        (rc = read_subject(subject, t, now, a, err)) != MSGSEC_OK)
        goto cleanup;
    *out = a;
    a = NULL;
cleanup:
    saml_assertion_free(a);
    dsig_clear(&sig);
    EVP_MD_CTX_free(md);
    xml_ids_free(&ids);
    return rc;
}

/* ------------------------------------------------------------ sender side */

msgsec_err saml_token_load(const char *path, X509 *own_cert, saml_token *out, msgsec_error *err)
{
    msgsec_err rc;
    uint8_t *text = NULL;
    size_t len = 0;
    xmlDocPtr doc = NULL;
    xmlBufferPtr buf = NULL;
    xmlNodePtr root, subject;
    const char *id;
    msgsec_error inner = {0}; /* detail of a nested failure, reported with the path */

    memset(out, 0, sizeof *out);
    if ((rc = read_file_bounded(path, MSGSEC_DEFAULT_MAX_BYTES, &text, &len, err)) != MSGSEC_OK)
        return rc;
    if (xml_parse(text, len, MSGSEC_DEFAULT_MAX_BYTES, &doc, &inner) != MSGSEC_OK) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "token %s: %s", path, inner.detail);
        goto cleanup;
    }
    root = xmlDocGetRootElement(doc);
    if (!xml_is(root, NS_SAML2, "Assertion") || !(id = xml_attr(root, NULL, "ID")) || !*id) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "token %s is not a SAML 2.0 Assertion with an ID",
                           path);
        goto cleanup;
    }
    subject = xml_child(root, NS_SAML2, "Subject", NULL);
    xmlNodePtr data;
    if (!subject)
        msgsec_seterr(&inner, MSGSEC_E_USAGE, "SAML assertion has no Subject");
    if (!subject || holder_confirmation(subject, &data, &out->holder_cert, &inner) != MSGSEC_OK) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "token %s: %s", path, inner.detail);
        goto cleanup;
    }
    if (own_cert && X509_cmp(own_cert, out->holder_cert) != 0) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE,
                           "token %s is bound to another key than the signing certificate", path);
        goto cleanup;
    }
    /* the root element alone (no XML declaration); namespaces it uses are
     * declared on it or below, as in any document whose root it is */
    if (!(buf = xmlBufferCreate()) || xmlNodeDump(buf, doc, root, 0, 0) < 0 ||
        !(out->xml = strdup((const char *)xmlBufferContent(buf))) || !(out->id = strdup(id))) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    out->len = strlen(out->xml);
cleanup:
    if (rc != MSGSEC_OK)
        saml_token_clear(out);
    xmlBufferFree(buf);
    xmlFreeDoc(doc);
    free(text);
    return rc;
}

void saml_token_clear(saml_token *token)
{
    free(token->xml);
    free(token->id);
    X509_free(token->holder_cert);
    memset(token, 0, sizeof *token);
}

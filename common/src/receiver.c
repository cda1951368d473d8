/* receiver.c - msgsec_unwrap and msgsec_verify: the receiver rules of
 * docs/DESIGN.md, in this order (each failure has one class):
 *   size, parse, DOCTYPE/entities, depth (3) -> SOAP structure, one Header,
 *   one Body, one wsse:Security (3) -> header blocks for us that must be
 *   understood and that we do not process (8; a bad mustUnderstand: 3) ->
 *   ID registry, duplicates (3) ->
 *   Security children in document order; anything we do not process is
 *   refused (8); an EncryptedKey/ReferenceList before the Signature means
 *   sign-then-encrypt, so its data is decrypted first (unwrap only; a broker
 *   cannot check it: 8) -> Signature: allow-lists (8), references (8), key
 *   from its token (certificate BST, EncryptedKey, SAML assertion, Kerberos
 *   AP-REQ; 8/7/4/5), value and digests (4) -> coverage by node identity
 *   (8) -> the Body's EncryptedData and its one key token, the EncryptedKey
 *   checked for structure without the key (3/8), signed where it must be
 *   (8) -> accepted credential (8) -> signer chain (4/5) -> Timestamp
 *   freshness (5) -> Kerberos ticket rule (5) -> wsa:To (8) -> password of
 *   the username credential (4) -> Body decryption (7) -> replay (6),
 *   recorded only when everything else passed (msgsec_unwrap_deferred: only
 *   looked up, and recorded by msgsec_replay_commit).
 * A verify-only receiver (broker) checks the symmetric credentials (none,
 * username, windows) for structure and algorithms only: it holds no key to
 * check anything else. The context says which: verified = structure (no
 * identity), signer (a broker checked an asymmetric signature) or full.
 *
 * This is the controller: it calls its steps (recv_envelope.c, recv_sig.c,
 * recv_dec.c, recv_cred.c, recv_trust.c, replay.c) in that order and none
 * of them calls back into it (docs/DESIGN.md, "Inside libmsgsec"). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "context.h"
#include "kerberos.h"
#include "msgsec_config.h"
#include "recv_cred.h"
#include "recv_dec.h"
#include "recv_envelope.h"
#include "recv_msg.h"
#include "recv_sig.h"
#include "recv_trust.h"
#include "replay.h"

/* ---------------------------------------------------------------- set-up */

static msgsec_err load_identity(msgsec_receiver *r, const msgsec_receiver_opts *opts,
                                msgsec_error *err)
{
    msgsec_err rc;
    if (opts->key_file && !opts->cert_file)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "a service key needs its certificate");
    if (opts->cert_file) {
        if ((rc = load_cert(opts->cert_file, &r->cert, err)))
            return rc;
        if (cert_thumbprint_sha1(r->cert, r->cert_thumbprint) != 0)
            return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot hash certificate");
    }
    if (opts->key_file) {
        if ((rc = load_private_key(opts->key_file, &r->key, err)))
            return rc;
        if (X509_check_private_key(r->cert, r->key) != 1) {
            ERR_clear_error();
            return msgsec_seterr(err, MSGSEC_E_USAGE, "key %s does not match certificate %s",
                                 opts->key_file, opts->cert_file);
        }
    }
    return MSGSEC_OK;
}

msgsec_err msgsec_receiver_new(const msgsec_receiver_opts *opts, msgsec_receiver **out,
                               msgsec_error *err)
{
    msgsec_err rc;
    *out = NULL;
    if (!opts)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "no receiver options");
    if (opts->suite && strcmp(opts->suite, MSGSEC_DEFAULT_SUITE) != 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "unknown algorithm suite %s", opts->suite);
    if (opts->max_age < 0 || (opts->accepted_credentials & ~MSGSEC_CRED_ALL))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "invalid receiver limits");
    msgsec_receiver *r = calloc(1, sizeof *r);
    if (!r)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    r->max_age = opts->max_age ? opts->max_age : MSGSEC_DEFAULT_MAX_AGE;
    r->skew = opts->clock_skew == 0 ? MSGSEC_DEFAULT_SKEW : opts->clock_skew < 0 ? 0 : opts->clock_skew;
    r->max_bytes = opts->max_message_bytes ? opts->max_message_bytes : MSGSEC_DEFAULT_MAX_BYTES;
    r->accepted = opts->accepted_credentials ? opts->accepted_credentials : MSGSEC_CRED_ALL;
    r->protect_tokens = opts->protect_tokens != 0;
    if (!(r->parser = xml_parser_new()) || !(r->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL)) ||
        !(r->md = EVP_MD_CTX_new())) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto fail;
    }
    if (opts->replay_shared_with && opts->replay_path) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "replay_path and replay_shared_with exclude each other");
        goto fail;
    }
    if (opts->replay_shared_with)
        r->replay = replay_share(opts->replay_shared_with->replay);
    if ((rc = load_identity(r, opts, err)) ||
        (rc = trust_load(&r->trust, opts, r->sha256, err)) ||
        (!r->replay &&
         (rc = replay_open(opts->replay_path, opts->replay_max_bytes, &r->replay, err))))
        goto fail;
    r->ticket_grace = opts->ticket_grace;
    if (opts->users_file && (rc = passwd_store_load(opts->users_file, &r->users, err)))
        goto fail;
    if ((opts->expected_to && !(r->expected_to = strdup(opts->expected_to))) ||
        (opts->keytab_file && !(r->keytab = strdup(opts->keytab_file)))) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto fail;
    }
    *out = r;
    return MSGSEC_OK;
fail:
    msgsec_receiver_free(r);
    return rc;
}

void msgsec_receiver_free(msgsec_receiver *r)
{
    if (!r)
        return;
    X509_free(r->cert);
    EVP_PKEY_free(r->key); /* OpenSSL cleanses private key material on free */
    trust_free(&r->trust);
    free(r->keytab);
    passwd_store_free(r->users);
    replay_close(r->replay);
    xml_parser_free(r->parser);
    EVP_MD_CTX_free(r->md);
    EVP_MD_free(r->sha256);
    free(r->expected_to);
    free(r);
}

void msgsec_receiver_set_time(msgsec_receiver *receiver, time_t now) { receiver->fixed_now = now; }

/* ------------------------------------------------------------- structure */

/* Timestamp and Signature (one each); the lists that precede the Signature
 * (sign-then-encrypt: their data was encrypted after signing). */
static msgsec_err scan_security(recv_msg *m, xmlNodePtr *early, size_t *n_early,
                                msgsec_error *err)
{
    *n_early = 0;
    for (xmlNodePtr c = xml_first_elem(m->env.security); c; c = xml_next_elem(c)) {
        if (xml_is(c, NS_WSU, "Timestamp") || xml_is(c, NS_DS, "Signature")) {
            xmlNodePtr *slot = xml_is(c, NS_DS, "Signature") ? &m->signature : &m->timestamp;
            if (*slot)
                return msgsec_seterr(err, MSGSEC_E_MALFORMED, "more than one %s in Security",
                                     (const char *)c->name);
            *slot = c;
        } else if (!m->signature && (xml_is(c, NS_XENC, "ReferenceList") ||
                                     (xml_is(c, NS_XENC, "EncryptedKey") &&
                                      xml_child(c, NS_XENC, "ReferenceList", NULL)))) {
            if (*n_early == RECV_MAX_KEYS)
                return msgsec_seterr(err, MSGSEC_E_MALFORMED, "too many encryption lists");
            early[(*n_early)++] = c;
        } else if (xml_is(c, NS_XENC, "EncryptedData")) {
            if (m->user_token) /* the username credential's token is the only one */
                return msgsec_seterr(err, MSGSEC_E_MALFORMED, "more than one encrypted block in "
                                     "Security");
            m->user_token = c;
        } else if (!xml_is(c, NS_WSSE, "BinarySecurityToken") &&
                   !xml_is(c, NS_XENC, "EncryptedKey") && !xml_is(c, NS_XENC, "ReferenceList") &&
                   !xml_is(c, NS_SAML2, "Assertion")) {
            /* the header is mustUnderstand: what we do not process, we refuse */
            return msgsec_seterr(err, MSGSEC_E_POLICY, "%s in the Security header is not supported",
                                 xml_is(c, NS_WSSE, "UsernameToken") ? "an unencrypted UsernameToken"
                                                                      : (const char *)c->name);
        }
    }
    if (!m->signature)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "message is not signed");
    return MSGSEC_OK;
}

static int is_inside(xmlNodePtr node, xmlNodePtr ancestor)
{
    for (; node; node = node->parent)
        if (node == ancestor)
            return 1;
    return 0;
}

static void take_payload(recv_msg *m, uint8_t *plain, size_t len)
{
    msgsec_free_secret(m->payload, m->payload_len);
    m->payload = plain;
    m->payload_len = len;
}

/* Sign-then-encrypt: decrypts the Body content listed before the Signature
 * and puts the plaintext XML back, so that the Signature can be checked. */
static msgsec_err decrypt_early(recv_msg *m, xmlNodePtr *early, size_t n_early,
                                msgsec_error *err)
{
    msgsec_err rc;
    if (n_early && !m->full)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "sign-then-encrypt message: its signature "
                             "covers the plaintext and only the service can check it");
    for (size_t i = 0; i < n_early; i++) {
        xmlNodePtr list = xml_is(early[i], NS_XENC, "ReferenceList")
                              ? early[i] : xml_child(early[i], NS_XENC, "ReferenceList", NULL);
        for (xmlNodePtr r = xml_first_elem(list); r; r = xml_next_elem(r)) {
            xmlNodePtr ed;
            uint8_t *plain;
            size_t len;
            if (!xml_is(r, NS_XENC, "DataReference"))
                continue;
            if ((rc = xml_ids_resolve(&m->ids, xml_attr(r, NULL, "URI"), &ed, err)))
                return rc;
            if (!xml_is(ed, NS_XENC, "EncryptedData") || !is_inside(ed, m->env.body) ||
                !dec_is_xml(ed))
                return msgsec_seterr(err, MSGSEC_E_POLICY, "sign-then-encrypt is supported for "
                                     "XML Body content only");
            if ((rc = dec_encrypted_data(m, ed, &plain, &len, err)))
                return rc;
            take_payload(m, plain, len);
            m->sign_then_encrypt = 1;
            if ((rc = xml_replace_with_content(ed, plain, len, err)) ||
                (rc = xml_ids_build(&m->ids, m->doc, err)))
                return rc;
        }
    }
    return MSGSEC_OK;
}

static int is_signed(const recv_msg *m, xmlNodePtr node)
{
    for (size_t i = 0; i < m->n_signed; i++)
        if (m->signed_nodes[i] == node)
            return 1;
    return 0;
}

/* The certificate and issued credentials' EncryptedKey must be signed under
 * protect_tokens, and whenever the signature covers an EncryptedKey at all:
 * a sender that signs its key (msgsec wrap) signs the one the Body uses, and
 * since the References are signed nobody can drop that one or make the Body
 * use another (check_encryption admits one key per EncryptedData). A peer
 * that signs no EncryptedKey (WSS4J, WCF) is accepted: a replaced key only
 * fails to decrypt at the service (7). DESIGN.md rule 6; check_encryption
 * applies it. */
static int key_must_be_signed(const recv_msg *m)
{
    if ((m->credential != MSGSEC_CRED_CERTIFICATE && m->credential != MSGSEC_CRED_ISSUED) ||
        !xml_is(m->body_key, NS_XENC, "EncryptedKey"))
        return 0;
    if (m->r->protect_tokens)
        return 1;
    for (size_t i = 0; i < m->n_signed; i++)
        if (xml_is(m->signed_nodes[i], NS_XENC, "EncryptedKey"))
            return 1;
    return 0;
}

/* DESIGN.md rule 6: each of these must be the very node a Reference resolved to. */
static msgsec_err check_coverage(recv_msg *m, msgsec_error *err)
{
    /* the signing token: the issued and windows tokens always (they carry the
     * identity, claims and keys); the certificate credential's BST under
     * protect_tokens only, as WS-SecurityPolicy's sp:ProtectTokens: the
     * signature verifies with its key and its chain is checked, so another
     * certificate in its place must hold the same key; none and username
     * sign with the key of the EncryptedKey itself */
    int token_signed = m->credential == MSGSEC_CRED_ISSUED || m->credential == MSGSEC_CRED_WINDOWS ||
                       (m->credential == MSGSEC_CRED_CERTIFICATE && m->r->protect_tokens);
    const struct { xmlNodePtr node; const char *what; } required[] = {
        {m->env.body, "the SOAP Body"},
        {m->timestamp, "the Timestamp"},
        {token_signed ? m->token : NULL, "the signing token"},
        {m->user_token, "the UsernameToken"},
    };
    if (!m->timestamp)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "no wsu:Timestamp in the Security header");
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (required[i].node && !is_signed(m, required[i].node))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "signature does not cover %s",
                                 required[i].what);
    /* every WS-Addressing header: they say where the message goes and what it is */
    for (xmlNodePtr h = xml_first_elem(m->env.header); h; h = xml_next_elem(h))
        if (h->ns && h->ns->href && strcmp((const char *)h->ns->href, NS_WSA) == 0 &&
            !is_signed(m, h))
            return msgsec_seterr(err, MSGSEC_E_POLICY, "signature does not cover wsa:%.64s",
                                 (const char *)h->name);
    return MSGSEC_OK;
}

/* The Body's EncryptedData and the token of its key, and the encrypted
 * UsernameToken's: what a receiver can check without the service key, so
 * verify and unwrap check them alike, here (sign-then-encrypt content was
 * decrypted already, through the same checks). */
static msgsec_err check_encryption(recv_msg *m, msgsec_error *err)
{
    xmlNodePtr ed = xml_first_elem(m->env.body), token;
    msgsec_err rc;
    if (m->user_token && (rc = dec_check_encrypted_data(m, m->user_token, &token, err)))
        return rc;
    if (m->sign_then_encrypt)
        return MSGSEC_OK;
    if (!xml_is(ed, NS_XENC, "EncryptedData") || xml_next_elem(ed) || xml_has_text(m->env.body))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "the SOAP Body is not encrypted");
    if ((rc = dec_check_encrypted_data(m, ed, &m->body_key, err)))
        return rc;
    /* windows: the key comes from the Kerberos token; every other credential
     * transports it in an EncryptedKey */
    if (m->credential == MSGSEC_CRED_WINDOWS ? m->body_key != m->token
                                             : !xml_is(m->body_key, NS_XENC, "EncryptedKey"))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "the Body's key does not come from the "
                             "token of the %s credential", msgsec_credential_name(m->credential));
    if (key_must_be_signed(m) && !is_signed(m, m->body_key))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "signature does not cover the EncryptedKey");
    return MSGSEC_OK;
}

/* DESIGN.md rule 7; fills ctx->created / ctx->expires. */
static msgsec_err check_freshness(recv_msg *m, msgsec_context *ctx, time_t *until,
                                  msgsec_error *err)
{
    time_t created, expires = 0, now = m->now;
    long skew = m->r->skew;
    xmlNodePtr e = xml_child(m->timestamp, NS_WSU, "Expires", NULL);
    msgsec_err rc = recv_created(m->timestamp, &created, err);
    if (rc)
        return rc;
    ctx->created = recv_text(xml_child(m->timestamp, NS_WSU, "Created", NULL));
    ctx->expires = recv_text(e);
    if (!ctx->created)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    if (e && (!ctx->expires || xsd_time_parse(ctx->expires, &expires) != 0))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "Timestamp with an invalid Expires");
    if (created > now + skew)
        return msgsec_seterr(err, MSGSEC_E_EXPIRED, "message created in the future (%s)",
                             ctx->created);
    if (now - created > m->r->max_age + skew)
        return msgsec_seterr(err, MSGSEC_E_EXPIRED, "message older than the maximum age of %lds",
                             m->r->max_age);
    if (e && now - skew >= expires)
        return msgsec_seterr(err, MSGSEC_E_EXPIRED, "message expired at %s", ctx->expires);
    *until = (e && expires > created + m->r->max_age ? expires : created + m->r->max_age) + skew;
    return MSGSEC_OK;
}

static msgsec_err check_replay(recv_msg *m, msgsec_context *ctx, time_t until, msgsec_error *err)
{
    uint8_t key[REPLAY_KEY_LEN];
    unsigned int klen = sizeof key;
    /* without a MessageID the (unique, signed-over) SignatureValue names the message */
    xmlNodePtr sv = xml_child(m->signature, NS_DS, "SignatureValue", NULL);
    char *sig_text = ctx->message_id ? NULL : recv_text(sv);
    const char *id = ctx->message_id ? ctx->message_id : sig_text;
    const char *who = ctx->identity ? ctx->identity : "";
    EVP_MD_CTX *md = m->r->md;
    int ok = id && EVP_DigestInit_ex(md, m->r->sha256, NULL) == 1 &&
             EVP_DigestUpdate(md, who, strlen(who) + 1) == 1 &&
             EVP_DigestUpdate(md, id, strlen(id)) == 1 && EVP_DigestFinal_ex(md, key, &klen) == 1;
    free(sig_text);
    if (!ok)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot compute the replay key");
    if (!m->defer_replay)
        return replay_check_and_insert(m->r->replay, key, until, m->now, err);
    msgsec_err rc = replay_check(m->r->replay, key, m->now, err);
    if (rc == MSGSEC_OK) {
        memcpy(ctx->replay_key, key, sizeof key);
        ctx->replay_until = until;
        ctx->replay_pending = 1;
    }
    return rc;
}

static msgsec_err fill_identity(recv_msg *m, msgsec_context *ctx, msgsec_error *err)
{
    ctx->credential = m->credential;
    if (m->signature_algorithm && !(ctx->signature_algorithm = strdup(m->signature_algorithm)))
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    ctx->to = recv_text(m->env.to);
    ctx->action = recv_text(m->env.action);
    ctx->message_id = recv_text(m->env.message_id);
    if (m->credential == MSGSEC_CRED_WINDOWS && m->krb_client) {
        const char *realm = strrchr(m->krb_client, '@');
        ctx->identity = strdup(m->krb_client);
        ctx->issuer = strdup(realm ? realm + 1 : "");
        if (!ctx->identity || !ctx->issuer)
            return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    if (!m->signer)
        return MSGSEC_OK;
    if (!m->assertion)
        return trust_cert_identity(&m->r->trust, m->signer, &ctx->identity, &ctx->issuer,
                                   &ctx->signer_der, &ctx->signer_der_len, err);
    ctx->identity = strdup(m->assertion->subject);
    ctx->issuer = strdup(m->assertion->issuer);
    int ok = ctx->identity && ctx->issuer;
    for (size_t i = 0; i < m->assertion->n_claims; i++)
        ok &= context_add_claim(ctx, m->assertion->claims[i].name,
                                m->assertion->claims[i].value) == 0;
    if (!ok)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    return trust_cert_identity(&m->r->trust, m->signer, NULL, NULL, &ctx->signer_der,
                               &ctx->signer_der_len, err);
}

static msgsec_err decrypt_body(recv_msg *m, msgsec_context *ctx, int already, msgsec_error *err)
{
    msgsec_err rc;
    xmlNodePtr ed = xml_first_elem(m->env.body);
    uint8_t *plain;
    size_t len;
    if (already) {
        ctx->content_type = strdup("application/xml");
        return ctx->content_type ? MSGSEC_OK : msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    /* check_encryption made sure the Body holds one EncryptedData */
    const char *mime = xml_attr(ed, NULL, "MimeType");
    ctx->content_type = strdup(mime ? mime : dec_is_xml(ed) ? "application/xml"
                                                             : MSGSEC_DEFAULT_MIME);
    if (!ctx->content_type)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    if (!m->full)
        return MSGSEC_OK;
    if ((rc = dec_encrypted_data(m, ed, &plain, &len, err)))
        return rc;
    take_payload(m, plain, len);
    return MSGSEC_OK;
}

/* The caller's policy, once the sender is authenticated: before decryption
 * and before the message uses up its replay entry, so a copy refused here
 * stays acceptable once where it is allowed. */
static msgsec_err check_policy(const recv_msg *m, const msgsec_context *ctx, msgsec_error *err)
{
    const msgsec_policy *p = m->policy;
    if (!p)
        return MSGSEC_OK;
    if (p->n_senders > 0 &&
        (!ctx->identity || !msgsec_senders_allow(p->senders, p->n_senders, ctx->identity)))
        return msgsec_seterr(err, MSGSEC_E_POLICY, MSGSEC_SENDER_REFUSED "'%.200s' is not allowed here",
                             ctx->identity ? ctx->identity : "(no verifiable identity)");
    if (p->signer_der && (!ctx->signer_der || ctx->signer_der_len != p->signer_der_len ||
                          memcmp(ctx->signer_der, p->signer_der, p->signer_der_len) != 0))
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "the message is not signed with the required certificate");
    return MSGSEC_OK;
}

static msgsec_err process(recv_msg *m, const uint8_t *envelope, size_t len, msgsec_context *ctx,
                          msgsec_error *err)
{
    msgsec_err rc;
    xmlNodePtr early[RECV_MAX_KEYS];
    size_t n_early;
    time_t until = 0;
    if ((rc = xml_parser_parse(m->r->parser, envelope, len, m->r->max_bytes, &m->doc, err)) ||
        (rc = recv_check_envelope(m->doc, &m->env, err)) ||
        (rc = recv_check_must_understand(&m->env, err)) ||
        (rc = xml_ids_build(&m->ids, m->doc, err)) ||
        (rc = scan_security(m, early, &n_early, err)) ||
        (rc = decrypt_early(m, early, n_early, err)) || (rc = sig_process(m, err)))
        return rc;
    if (m->user_token && m->credential != MSGSEC_CRED_NONE)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "an encrypted UsernameToken needs a signature "
                             "under its EncryptedKey");
    if (m->user_token)
        m->credential = MSGSEC_CRED_USERNAME;
    if ((rc = check_coverage(m, err)) || (rc = check_encryption(m, err)))
        return rc;
    if (!(m->r->accepted & MSGSEC_CRED_BIT(m->credential)))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "credential type %s is not accepted",
                             msgsec_credential_name(m->credential));
    if ((rc = fill_identity(m, ctx, err)))
        return rc;
    if (m->credential == MSGSEC_CRED_CERTIFICATE &&
        (rc = trust_verify_cert(&m->r->trust, m->signer, m->now, err)))
        return rc;
    if (!m->signature_checked) { /* broker, symmetric credential: structure only */
        /* unwrap always verifies the signature; without that, nothing
           authenticated a sender: no identity to mistake for one */
        if (m->full || ctx->identity || ctx->issuer)
            return msgsec_seterr(err, MSGSEC_E_INTERNAL, "the signature was not verified");
        ctx->verified = MSGSEC_VERIFIED_STRUCTURE;
        return (rc = check_policy(m, ctx, err)) ? rc : decrypt_body(m, ctx, 0, err);
    }
    if ((rc = check_freshness(m, ctx, &until, err)))
        return rc;
    if (m->credential == MSGSEC_CRED_WINDOWS) {
        time_t created;
        if ((rc = recv_created(m->timestamp, &created, err)) ||
            (rc = krb_ticket_rule(created, m->krb_ticket_end, m->now, m->r->ticket_grace, err)))
            return rc;
    }
    if (m->r->expected_to && (!ctx->to || strcmp(ctx->to, m->r->expected_to) != 0))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "wsa:To %.80s is not this service (%.80s)",
                             ctx->to ? ctx->to : "(absent)", m->r->expected_to);
    if (m->credential == MSGSEC_CRED_USERNAME && ((rc = cred_username(m, err)) ||
                                                  !(ctx->identity = strdup(m->username))))
        return rc ? rc : msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    if ((rc = check_policy(m, ctx, err)) || (rc = decrypt_body(m, ctx, m->sign_then_encrypt, err)) ||
        (rc = check_replay(m, ctx, until, err)))
        return rc;
    ctx->verified = m->full ? MSGSEC_VERIFIED_FULL : MSGSEC_VERIFIED_SIGNER;
    return MSGSEC_OK;
}

/* What receive() does: check what a broker can (verify), unwrap, or unwrap
 * and leave the replay entry to msgsec_replay_commit. */
enum { RECV_VERIFY, RECV_UNWRAP, RECV_UNWRAP_DEFERRED };

static time_t receiver_now(const msgsec_receiver *r) { return r->fixed_now ? r->fixed_now : time(NULL); }

static msgsec_err receive(msgsec_receiver *r, int mode, const msgsec_policy *policy,
                          const uint8_t *envelope, size_t len, uint8_t **payload,
                          size_t *payload_len, msgsec_context **ctx_out, msgsec_error *err)
{
    recv_msg m;
    memset(&m, 0, sizeof m);
    m.r = r;
    m.full = mode != RECV_VERIFY;
    m.defer_replay = mode == RECV_UNWRAP_DEFERRED;
    m.policy = policy;
    m.now = receiver_now(r);
    msgsec_context *ctx = context_new();
    msgsec_err rc = ctx ? process(&m, envelope, len, ctx, err)
                        : msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    if (rc == MSGSEC_OK && payload) {
        *payload = m.payload;
        *payload_len = m.payload_len;
        m.payload = NULL;
    }
    if (rc == MSGSEC_OK && ctx_out) {
        *ctx_out = ctx;
        ctx = NULL;
    }
    msgsec_context_free(ctx);
    msgsec_free_secret(m.payload, m.payload_len);
    OPENSSL_cleanse(m.keys, sizeof m.keys);
    X509_free(m.signer);
    saml_assertion_free(m.assertion);
    free(m.krb_client);
    free(m.username);
    xml_ids_free(&m.ids);
    if (m.sign_then_encrypt)
        xml_wipe_subtree(m.env.body);
    xmlFreeDoc(m.doc);
    /* decrypted XML was parsed with the document's dictionary: do not keep it */
    if (m.sign_then_encrypt || m.user_token)
        xml_parser_drop(r->parser);
    ERR_clear_error();
    return rc;
}

static msgsec_err unwrap_mode(msgsec_receiver *receiver, int mode, const msgsec_policy *policy,
                              const uint8_t *envelope, size_t len, uint8_t **payload,
                              size_t *payload_len, msgsec_context **ctx, msgsec_error *err)
{
    *payload = NULL;
    *payload_len = 0;
    if (ctx)
        *ctx = NULL;
    if (!receiver->key)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "unwrap needs the service key");
    return receive(receiver, mode, policy, envelope, len, payload, payload_len, ctx, err);
}

msgsec_err msgsec_unwrap_with(msgsec_receiver *receiver, const msgsec_policy *policy,
                              const uint8_t *envelope, size_t len, uint8_t **payload,
                              size_t *payload_len, msgsec_context **ctx, msgsec_error *err)
{
    return unwrap_mode(receiver, RECV_UNWRAP, policy, envelope, len, payload, payload_len, ctx,
                       err);
}

msgsec_err msgsec_unwrap_deferred(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                                  uint8_t **payload, size_t *payload_len, msgsec_context **ctx,
                                  msgsec_error *err)
{
    if (!ctx) {
        *payload = NULL;
        *payload_len = 0;
        return msgsec_seterr(err, MSGSEC_E_USAGE, "a deferred unwrap needs its context");
    }
    return unwrap_mode(receiver, RECV_UNWRAP_DEFERRED, NULL, envelope, len, payload, payload_len,
                       ctx, err);
}

msgsec_err msgsec_replay_commit(msgsec_receiver *receiver, msgsec_context *ctx, msgsec_error *err)
{
    if (!ctx || !ctx->replay_pending)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "no replay entry waiting to be committed");
    msgsec_err rc = replay_check_and_insert(receiver->replay, ctx->replay_key, ctx->replay_until,
                                            receiver_now(receiver), err);
    if (rc == MSGSEC_OK)
        ctx->replay_pending = 0;
    return rc;
}

msgsec_err msgsec_unwrap(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                         uint8_t **payload, size_t *payload_len, msgsec_context **ctx,
                         msgsec_error *err)
{
    return msgsec_unwrap_with(receiver, NULL, envelope, len, payload, payload_len, ctx, err);
}

msgsec_err msgsec_verify_with(msgsec_receiver *receiver, const msgsec_policy *policy,
                              const uint8_t *envelope, size_t len, msgsec_context **ctx,
                              msgsec_error *err)
{
    if (ctx)
        *ctx = NULL;
    return receive(receiver, RECV_VERIFY, policy, envelope, len, NULL, NULL, ctx, err);
}

msgsec_err msgsec_verify(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                         msgsec_context **ctx, msgsec_error *err)
{
    return msgsec_verify_with(receiver, NULL, envelope, len, ctx, err);
}

/* recv_cred.c - the issued, windows and username credentials on the
 * receiving side (docs/credentials.md, DESIGN.md): a SAML 2.0 holder-of-key
 * assertion from a trusted issuer (saml.c); a Kerberos AP-REQ accepted with
 * the service keytab at the message's Created time (kerberos.c); an
 * encrypted UsernameToken whose PasswordText is checked against the
 * salted-scrypt store (passwd.c). */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "kerberos.h"
#include "recv_cred.h"
#include "recv_dec.h"
#include "recv_envelope.h"

msgsec_err cred_issued(recv_msg *m, xmlNodePtr assertion, msgsec_error *err)
{
    if (sk_X509_num(m->r->trust.issuers) <= 0)
        return msgsec_seterr(err, MSGSEC_E_AUTH, "no trusted token issuer is configured");
    /* the audience is the message's wsa:To; the signature must cover it (coverage) */
    char *audience = recv_text(m->env.to);
    saml_trust trust = {m->r->trust.issuers, audience, m->now, m->r->skew};
    msgsec_err rc = m->env.to && !audience ? msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory")
                                       : saml_verify(assertion, &trust, &m->assertion, err);
    free(audience);
    if (rc)
        return rc;
    if (!m->assertion->holder_cert || X509_up_ref(m->assertion->holder_cert) != 1)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "assertion names no holder-of-key certificate");
    m->signer = m->assertion->holder_cert;
    return MSGSEC_OK;
}

msgsec_err cred_windows(recv_msg *m, xmlNodePtr bst, const recv_key **sym, msgsec_error *err)
{
    uint8_t *token = NULL;
    size_t len = 0;
    time_t created;
    krb_accepted acc;
    msgsec_err rc;
    memset(&acc, 0, sizeof acc);
    *sym = NULL;
    if ((rc = recv_b64_child(bst, "Kerberos token", &token, &len, err)))
        return rc;
    if (!m->full) { /* a broker holds no keytab: structure only */
        rc = krb_token_check(token, len, err);
        goto cleanup;
    }
    if (!m->r->keytab) {
        rc = msgsec_seterr(err, MSGSEC_E_POLICY, "windows credential: no keytab configured");
        goto cleanup;
    }
    if (m->n_keys == RECV_MAX_KEYS) {
        rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "too many keys");
        goto cleanup;
    }
    /* the ticket is judged at the message's Created, authenticated afterwards
     * by the signature, which covers the Timestamp */
    if ((rc = recv_created(m->timestamp, &created, err)) ||
        (rc = krb_accept(m->r->keytab, token, len, created, &acc, err)))
        goto cleanup;
    recv_key *slot = &m->keys[m->n_keys];
    if ((rc = krb_derive_keys(acc.key, acc.key_len, slot->sign_key, slot->key, err)))
        goto cleanup;
    slot->source = bst;
    slot->len = slot->sign_len = KRB_DERIVED_KEY_LEN;
    m->n_keys++;
    *sym = slot;
    m->krb_ticket_end = acc.ticket_end;
    if (!(m->krb_client = strdup(acc.client)))
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
cleanup:
    krb_accepted_clear(&acc);
    free(token);
    return rc;
}

static msgsec_err check_password(recv_msg *m, xmlNodePtr token, msgsec_error *err)
{
    xmlNodePtr user = xml_child(token, NS_WSSE, "Username", NULL);
    xmlNodePtr pass = xml_child(token, NS_WSSE, "Password", NULL);
    const char *type = pass ? xml_attr(pass, NULL, "Type") : NULL;
    if (!user || !pass)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "UsernameToken without Username/Password");
    if (type && strcmp(type, WSS_PASSWORD_TEXT) != 0)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "only PasswordText is supported");
    m->username = recv_text(user);
    char *password = xml_text(pass);
    msgsec_err rc = !m->username || !password
                        ? msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory")
                        : passwd_check(m->r->users, m->username, password, err);
    if (password)
        OPENSSL_cleanse(password, strlen(password));
    xmlFree(password);
    return rc;
}

msgsec_err cred_username(recv_msg *m, msgsec_error *err)
{
    uint8_t *plain = NULL;
    size_t len = 0;
    xmlNodePtr ed = m->user_token, before = ed->prev, token;
    msgsec_err rc;
    if (!m->r->users)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "username credential: no password store");
    if (!dec_is_xml(ed))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "encrypted UsernameToken is not XML");
    if ((rc = dec_encrypted_data(m, ed, &plain, &len, err)))
        return rc;
    m->user_token = NULL;
    rc = xml_replace_with_content(ed, plain, len, err);
    msgsec_free_secret(plain, len);
    if (rc || (rc = xml_ids_build(&m->ids, m->doc, err)))
        return rc;
    token = before ? xml_next_elem(before) : xml_first_elem(m->env.security);
    if (!xml_is(token, NS_WSSE, "UsernameToken"))
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "encrypted block is not a UsernameToken");
    rc = check_password(m, token, err);
    xml_wipe_subtree(token);
    return rc;
}

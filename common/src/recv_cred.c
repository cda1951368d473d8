/* recv_cred.c - the signing tokens of the issued and windows credentials
 * on the receiving side (docs/credentials.md): a SAML 2.0 holder-of-key
 * assertion from a trusted issuer (saml.c), or a Kerberos AP-REQ accepted
 * with the service keytab at the message's Created time (kerberos.c). */
#include <string.h>

#include "kerberos.h"
#include "recv_internal.h"

msgsec_err cred_issued(recv_msg *m, xmlNodePtr assertion, msgsec_error *err)
{
    m->credential = MSGSEC_CRED_ISSUED;
    if (sk_X509_num(m->r->issuers) <= 0)
        return msgsec_seterr(err, MSGSEC_E_AUTH, "no trusted token issuer is configured");
    /* the audience is the message's wsa:To; the signature must cover it (coverage) */
    char *audience = recv_text(m->to);
    saml_trust trust = {m->r->issuers, audience, m->now, m->r->skew};
    msgsec_err rc = m->to && !audience ? msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory")
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
    m->credential = MSGSEC_CRED_WINDOWS;
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
    if ((rc = recv_created(m, &created, err)) ||
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

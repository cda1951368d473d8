/* recv_sig.c - the WS-Security message signature: the XML-DSig verifier
 * (dsig.c) with the message's rules (DESIGN.md receiver rule 4: exc-c14n,
 * sha256; rsa-sha256 / ecdsa-sha256 for a certificate, hmac-sha256, never
 * truncated, for the key of an EncryptedKey or a Kerberos token), and the
 * key of the signing token that recv_token.c resolves. */
#include <string.h>

#include "dsig.h"
#include "recv_cred.h"
#include "recv_dec.h"
#include "recv_sig.h"
#include "recv_token.h"
#include "recv_trust.h"

static const dsig_rules message_signature = {
    .what = "signature",
    .algorithms = DSIG_RSA_SHA256 | DSIG_ECDSA_SHA256 | DSIG_HMAC_SHA256,
};

/* The key of the signing token: the certificate (certificate credential),
 * the holder's certificate (issued), or a symmetric key *sym (windows: from
 * the Kerberos token, none: the EncryptedKey's; NULL for a broker, which
 * holds no key to find them). */
static msgsec_err token_key(recv_msg *m, recv_token *tok, const recv_key **sym,
                            msgsec_error *err)
{
    m->token = tok->node;
    switch (tok->kind) {
    case RECV_TOKEN_X509:
        m->credential = MSGSEC_CRED_CERTIFICATE;
        m->signer = tok->cert;
        tok->cert = NULL;
        return MSGSEC_OK;
    case RECV_TOKEN_SAML:
        m->credential = MSGSEC_CRED_ISSUED;
        return cred_issued(m, tok->node, err);
    case RECV_TOKEN_KERBEROS:
        m->credential = MSGSEC_CRED_WINDOWS;
        return cred_windows(m, tok->node, sym, err);
    case RECV_TOKEN_ENCRYPTED_KEY:
        m->credential = MSGSEC_CRED_NONE;
        return m->full ? dec_encrypted_key(m, tok->node, sym, err)
                       : dec_check_encrypted_key(m, tok->node, err);
    }
    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "unknown signing token");
}

/* The algorithm must fit the key: RSA/EC certificate or symmetric key. */
static msgsec_err check_algorithm_fits_key(const recv_msg *m, const dsig_signature *s,
                                           msgsec_error *err)
{
    dsig_alg want = DSIG_HMAC_SHA256;
    if (m->signer && !(want = dsig_alg_for_key(X509_get0_pubkey(m->signer))))
        return msgsec_seterr(err, MSGSEC_E_POLICY, "signer key type not supported");
    if (s->alg != want)
        return msgsec_seterr(err, MSGSEC_E_POLICY, "signature algorithm %.80s does not fit a %s "
                             "credential", s->algorithm, msgsec_credential_name(m->credential));
    return MSGSEC_OK;
}

/* Value, then digests, under the certificate's key or the symmetric one. */
static msgsec_err verify(recv_msg *m, const dsig_signature *s, const recv_key *sym,
                         msgsec_error *err)
{
    dsig_key key = {0};
    int owned = 0;
    msgsec_err rc = MSGSEC_OK;
    if (sym) {
        key.hmac = sym->sign_key;
        key.hmac_len = sym->sign_len;
    } else {
        rc = trust_verify_ctx(&m->r->trust, m->signer, &key.verify, &owned, err);
    }
    if (rc == MSGSEC_OK)
        rc = dsig_check_value(s, &key, m->r->md, m->r->sha256, err);
    if (rc == MSGSEC_OK)
        rc = dsig_check_digests(s, m->r->md, m->r->sha256, err);
    if (owned)
        EVP_PKEY_CTX_free(key.verify);
    return rc;
}

msgsec_err sig_process(recv_msg *m, msgsec_error *err)
{
    dsig_signature s;
    recv_token tok;
    const recv_key *sym = NULL;
    msgsec_err rc = dsig_parse(m->signature, &m->ids, &message_signature, &s, err);
    memset(&tok, 0, sizeof tok);
    if (rc == MSGSEC_OK)
        rc = recv_token_signing(m, s.key_info, &tok, err);
    if (rc == MSGSEC_OK)
        rc = token_key(m, &tok, &sym, err);
    if (rc == MSGSEC_OK)
        rc = check_algorithm_fits_key(m, &s, err);
    if (rc == MSGSEC_OK) {
        m->signature_algorithm = s.algorithm;
        for (size_t i = 0; i < s.n_refs; i++)
            m->signed_nodes[m->n_signed++] = s.refs[i].node;
        /* a broker holds no key for a symmetric signature: structure only */
        if (m->signer || sym) {
            rc = verify(m, &s, sym, err);
            m->signature_checked = rc == MSGSEC_OK;
        }
    }
    recv_token_clear(&tok);
    dsig_clear(&s);
    return rc;
}

/* enforce.c - an enforce rule: the publish must be an envelope that passes
 * msgsec_verify (limits, structure, freshness, signature and chain, accepted
 * credential type, replay through the one shared receiver), from an allowed
 * sender, and with bind_transport over the same certificate as the TLS
 * connection. The broker holds no decryption key. */
#include "internal.h"
#include "plugin.h"

msgsec_err enforce_message(const ruleset *rules, const msgsec_rule *rule,
                           const struct mosquitto_evt_message *msg, msgsec_error *err)
{
    msgsec_context *ctx = NULL;
    X509 *peer = NULL;
    const char *identity;
    msgsec_err rc;

    if (!rules->receiver)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL,
                             "no receiver (the replay store could not be reopened on reload)");
    if (msg->payloadlen == 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "empty payload is not an envelope");
    /* Before verifying: a connection without a certificate costs no
     * signature check and cannot use up the replay entry of a message it
     * captured. */
    if (rule->bind_transport && (rc = transport_peer_cert(msg->client, &peer, err)) != MSGSEC_OK)
        return rc;
    rc = msgsec_verify(rules->receiver, msg->payload, msg->payloadlen, &ctx, err);
    if (rc != MSGSEC_OK)
        goto cleanup;
    identity = msgsec_context_identity(ctx);
    if (rule->n_senders > 0 &&
        (!identity || !msgsec_senders_allow(rule->senders, rule->n_senders, identity))) {
        rc = msgsec_seterr(err, MSGSEC_E_POLICY, "sender '%s' is not allowed to publish here",
                           identity ? identity : "(no verifiable identity)");
        goto cleanup;
    }
    if (peer)
        rc = transport_check_binding(peer, ctx, err);

cleanup:
    X509_free(peer);
    msgsec_context_free(ctx);
    return rc;
}

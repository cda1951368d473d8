/* enforce.c - an enforce rule: the publish must be an envelope that passes
 * msgsec_verify_with (limits, structure, freshness, signature and chain, accepted
 * credential type, replay through the one shared receiver), from an allowed
 * sender, and with bind_transport over the same certificate as the TLS
 * connection. The broker holds no decryption key. */
#include "internal.h"
#include "plugin.h"

msgsec_err enforce_message(const ruleset *rules, const msgsec_rule *rule,
                           const struct mosquitto_evt_message *msg, msgsec_error *err)
{
    unsigned char *peer_der = NULL;
    msgsec_policy policy = {.senders = rule->senders, .n_senders = rule->n_senders};
    msgsec_err rc;

    if (!rules->receiver)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL,
                             "no receiver (the replay store could not be reopened on reload)");
    if (msg->payloadlen == 0)
        return msgsec_seterr(err, MSGSEC_E_MALFORMED, "empty payload is not an envelope");
    /* Before verifying: a connection without a certificate costs no
     * signature check. */
    if (rule->bind_transport &&
        (rc = transport_peer_cert_der(msg->client, &peer_der, &policy.signer_der_len, err)))
        return rc;
    policy.signer_der = peer_der;
    /* senders and the TLS binding are checked inside, before the message
       uses up its replay entry: a copy refused here stays acceptable where
       it is allowed */
    rc = msgsec_verify_with(rules->receiver, &policy, msg->payload, msg->payloadlen, NULL, err);
    OPENSSL_free(peer_der);
    return rc;
}

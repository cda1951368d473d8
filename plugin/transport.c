/* transport.c - bind_transport ("both" security mode): the certificate the
 * client authenticated with at TLS level must be, byte for byte (DER), the
 * certificate that signed the message. Needs a listener with
 * `require_certificate true`; otherwise Mosquitto reports no certificate and
 * the publish is refused. */
#include <string.h>

#include "internal.h"
#include "plugin.h"

msgsec_err transport_peer_cert(const struct mosquitto *client, X509 **peer, msgsec_error *err)
{
    *peer = mosquitto_client_certificate(client); /* a new reference */
    if (!*peer)
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "bind_transport: the client presented no TLS certificate");
    return MSGSEC_OK;
}

msgsec_err transport_check_binding(X509 *peer, const msgsec_context *ctx, msgsec_error *err)
{
    unsigned char *der = NULL;
    size_t signer_len = 0;
    const uint8_t *signer = msgsec_context_signer_cert_der(ctx, &signer_len);
    int der_len;
    msgsec_err rc;

    if (!signer)
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "bind_transport: the message is not signed with a certificate");
    der_len = i2d_X509(peer, &der);
    if (der_len < 0)
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot encode the TLS client certificate");
    else if ((size_t)der_len != signer_len || memcmp(der, signer, signer_len) != 0)
        rc = msgsec_seterr(err, MSGSEC_E_POLICY,
                           "bind_transport: the TLS client certificate is not the message signer");
    else
        rc = MSGSEC_OK;
    OPENSSL_free(der);
    return rc;
}

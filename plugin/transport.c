/* transport.c - bind_transport ("both" security mode): the certificate the
 * client authenticated with at TLS level must be, byte for byte (DER), the
 * certificate that signed the message; enforce.c hands it to the receiver as
 * msgsec_policy.signer_der. Needs a listener with `require_certificate
 * true`; otherwise Mosquitto reports no certificate and the publish is
 * refused. */
#include "internal.h"
#include "plugin.h"

msgsec_err transport_peer_cert_der(const struct mosquitto *client, unsigned char **der,
                                   size_t *der_len, msgsec_error *err)
{
    X509 *peer = mosquitto_client_certificate(client); /* a new reference */
    msgsec_err rc = MSGSEC_OK;
    *der = NULL;
    *der_len = 0;
    if (!peer)
        return msgsec_seterr(err, MSGSEC_E_POLICY,
                             "bind_transport: the client presented no TLS certificate");
    int n = i2d_X509(peer, der);
    if (n < 0)
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot encode the TLS client certificate");
    else
        *der_len = (size_t)n;
    X509_free(peer);
    return rc;
}

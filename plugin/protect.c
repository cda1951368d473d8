/* protect.c - a protect rule: plaintext published by a local client is
 * wrapped for the rule's service (signed by this node's identity, encrypted
 * for service_cert, wsa:To = rule `to` or "mqtt:" + publish_to) and
 * published to publish_to with the same QoS and retain flag. The topic of the
 * original message is never changed (2.0.11 leaks a replaced topic); the
 * caller drops the original. */
#include <limits.h>
#include <stdlib.h>

#include "internal.h"
#include "plugin.h"

#define SOAP_CONTENT_TYPE "application/soap+xml"

msgsec_err protect_message(msgsec_sender *sender, const msgsec_rule *rule,
                           const struct mosquitto_evt_message *msg, msgsec_error *err)
{
    strbuf to;
    char *content_type = NULL; /* MQTT 5 property of the original, if any */
    uint8_t *envelope = NULL;
    size_t envelope_len = 0;
    mosquitto_property *props = NULL;
    msgsec_err rc;

    sb_init(&to, 64, 0);
    if (rule->to)
        sb_puts(&to, rule->to);
    else
        sb_printf(&to, "mqtt:%s", rule->publish_to);
    if (to.failed) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    mosquitto_property_read_string(msg->properties, MQTT_PROP_CONTENT_TYPE, &content_type, false);
    msgsec_wrap_params params = {.to = to.data, .content_type = content_type};
    rc = msgsec_wrap(sender, &params, msg->payload, msg->payloadlen, &envelope, &envelope_len,
                     err);
    if (rc != MSGSEC_OK)
        goto cleanup;
    if (envelope_len > INT_MAX) {
        rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "envelope too large for MQTT");
        goto cleanup;
    }
    if (mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, SOAP_CONTENT_TYPE) !=
        MOSQ_ERR_SUCCESS) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    /* On success the broker owns props. */
    if (mosquitto_broker_publish_copy(NULL, rule->publish_to, (int)envelope_len, envelope,
                                      msg->qos, msg->retain, props) != MOSQ_ERR_SUCCESS) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot publish the envelope to '%s'",
                           rule->publish_to);
        goto cleanup;
    }
    props = NULL;

cleanup:
    mosquitto_property_free_all(&props);
    msgsec_free(envelope);
    mosquitto_free(content_type);
    sb_free(&to, 0);
    return rc;
}

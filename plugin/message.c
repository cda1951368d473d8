/* message.c - MOSQ_EVT_MESSAGE: the first rule whose topic filter matches the
 * publish decides (first match wins; no match = untouched).
 *
 * Mosquitto 2.0.11 calls this for every PUBLISH received from a client, after
 * its own ACL check and before the message is stored or forwarded. Returning
 * MOSQ_ERR_ACL_DENIED drops the message: an MQTT 5 publisher gets PUBACK /
 * PUBREC reason 0x87 (not authorized), an MQTT 3.1.1 one a plain PUBACK.
 * Any other error would disconnect the client, so we never return one.
 * Messages a plugin publishes with mosquitto_broker_publish* do not come
 * through here (no loop); ruleset.c also refuses protect-to-protect chains.
 */
#include "plugin.h"

static void log_denied(const struct mosquitto_evt_message *msg, const msgsec_config *cfg,
                       const msgsec_rule *rule, const msgsec_error *err)
{
    const char *client_id = mosquitto_client_id(msg->client);
    char detail[sizeof(err->detail)];

    /* The detail may quote bytes of a hostile payload (e.g. a parser error):
     * keep the broker log printable ASCII. */
    for (size_t i = 0; i < sizeof(detail); i++) {
        unsigned char c = (unsigned char)err->detail[i];
        detail[i] = (c == 0 || (c >= 0x20 && c < 0x7f)) ? (char)c : '?';
        if (c == 0)
            break;
    }
    detail[sizeof(detail) - 1] = '\0';

    mosquitto_log_printf(MOSQ_LOG_WARNING,
                         "msgsec: denied PUBLISH from '%s' on '%s' (%s rule at %s:%d): %s "
                         "[error %d: %s]",
                         client_id ? client_id : "?", msg->topic,
                         rule->action == MSGSEC_RULE_ENFORCE ? "enforce" : "protect", cfg->path,
                         rule->line, detail, (int)err->code, msgsec_strerror(err->code));
}

int plugin_on_message(int event, void *event_data, void *userdata)
{
    msgsec_plugin *plugin = userdata;
    struct mosquitto_evt_message *msg = event_data;
    msgsec_error err = {0};
    size_t index;
    const msgsec_rule *rule;

    (void)event;
    rule = ruleset_match(plugin->rules, msg->topic, &index);
    if (!rule || rule->action == MSGSEC_RULE_PASS)
        return MOSQ_ERR_SUCCESS;
    if (rule->action == MSGSEC_RULE_ENFORCE) {
        if (enforce_message(plugin->rules, rule, msg, &err) == MSGSEC_OK)
            return MOSQ_ERR_SUCCESS;
        log_denied(msg, plugin->rules->cfg, rule, &err);
        return MOSQ_ERR_ACL_DENIED;
    }
    /* protect: the envelope goes out on publish_to; the plaintext is always
     * dropped, so even a protected message is reported as 0x87 to an MQTT 5
     * publisher (2.0.11 has no other way to consume a message). */
    if (protect_message(plugin->rules->protectors[index], rule, msg, &err) == MSGSEC_OK) {
        const char *client_id = mosquitto_client_id(msg->client);
        mosquitto_log_printf(MOSQ_LOG_DEBUG, "msgsec: protected PUBLISH from '%s' on '%s' -> '%s'",
                             client_id ? client_id : "?", msg->topic, rule->publish_to);
    } else {
        log_denied(msg, plugin->rules->cfg, rule, &err);
    }
    return MOSQ_ERR_ACL_DENIED;
}

/* plugin.c - mosquitto_msgsec.so entry points (Mosquitto plugin API v5).
 *
 *   plugin /usr/lib/.../mosquitto_msgsec.so
 *   plugin_opt_config /etc/mosquitto/msgsec.yaml
 *
 * Everything else lives in one file per concern: ruleset.c (configuration and
 * the objects built from it), message.c (rule dispatch), enforce.c,
 * transport.c (bind_transport), protect.c, reload.c.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "plugin.h"

int mosquitto_plugin_version(int supported_version_count, const int *supported_versions)
{
    for (int i = 0; i < supported_version_count; i++)
        if (supported_versions[i] == 5)
            return 5;
    return -1;
}

static const char *find_option(const struct mosquitto_opt *options, int count, const char *key)
{
    for (int i = 0; i < count; i++)
        if (options[i].key && strcmp(options[i].key, key) == 0)
            return options[i].value;
    return NULL;
}

static void plugin_free(msgsec_plugin *plugin)
{
    if (!plugin)
        return;
    ruleset_free(plugin->rules);
    free(plugin->config_path);
    free(plugin);
}

int mosquitto_plugin_init(mosquitto_plugin_id_t *identifier, void **userdata,
                          struct mosquitto_opt *options, int option_count)
{
    msgsec_error err = {0};
    msgsec_plugin *plugin = NULL;
    int reopen_store;
    const char *path = find_option(options, option_count, "config");

    if (!path || !*path) {
        msgsec_seterr(&err, MSGSEC_E_USAGE,
                      "missing 'plugin_opt_config PATH' (the msgsec YAML configuration)");
        goto fail;
    }
    if (msgsec_global_init(&err) != MSGSEC_OK)
        goto fail;
    plugin = calloc(1, sizeof(*plugin));
    if (!plugin || !(plugin->config_path = strdup(path))) {
        msgsec_seterr(&err, MSGSEC_E_INTERNAL, "out of memory");
        goto fail;
    }
    plugin->id = identifier;
    if (ruleset_load(path, NULL, &plugin->rules, &reopen_store, &err) != MSGSEC_OK)
        goto fail;
    if (mosquitto_callback_register(identifier, MOSQ_EVT_MESSAGE, plugin_on_message, NULL,
                                    plugin) != MOSQ_ERR_SUCCESS ||
        mosquitto_callback_register(identifier, MOSQ_EVT_RELOAD, plugin_on_reload, NULL,
                                    plugin) != MOSQ_ERR_SUCCESS) {
        mosquitto_callback_unregister(identifier, MOSQ_EVT_MESSAGE, plugin_on_message, NULL);
        msgsec_seterr(&err, MSGSEC_E_INTERNAL, "cannot register the broker callbacks");
        goto fail;
    }
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "msgsec: loaded %s: %zu rule(s)", path,
                         plugin->rules->cfg->n_rules);
    *userdata = plugin;
    return MOSQ_ERR_SUCCESS;

fail:
    mosquitto_log_printf(MOSQ_LOG_ERR, "msgsec: refusing to start: %s", err.detail);
    plugin_free(plugin);
    return MOSQ_ERR_INVAL;
}

int mosquitto_plugin_cleanup(void *userdata, struct mosquitto_opt *options, int option_count)
{
    msgsec_plugin *plugin = userdata;

    (void)options, (void)option_count;
    if (plugin) {
        mosquitto_callback_unregister(plugin->id, MOSQ_EVT_MESSAGE, plugin_on_message, NULL);
        mosquitto_callback_unregister(plugin->id, MOSQ_EVT_RELOAD, plugin_on_reload, NULL);
        plugin_free(plugin);
        msgsec_global_cleanup(); /* the broker itself does not use libxml2 */
    }
    return MOSQ_ERR_SUCCESS;
}

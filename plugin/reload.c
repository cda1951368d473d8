/* reload.c - MOSQ_EVT_RELOAD (SIGHUP): re-read the YAML, validate it and
 * build everything from it, then swap. A configuration that fails any step
 * leaves the running one in service and logs why. */
#include "plugin.h"

int plugin_on_reload(int event, void *event_data, void *userdata)
{
    msgsec_plugin *plugin = userdata;
    msgsec_error err = {0};
    ruleset *next = NULL;
    int reopen_store = 0, had_receiver = plugin->rules->receiver != NULL;

    (void)event, (void)event_data;
    if (ruleset_load(plugin->config_path, plugin->rules, &next, &reopen_store, &err) != MSGSEC_OK ||
        ruleset_swap(plugin, next, reopen_store, &err) != MSGSEC_OK) {
        mosquitto_log_printf(MOSQ_LOG_ERR, "msgsec: reload refused, keeping the running "
                                           "configuration: %s", err.detail);
        return MOSQ_ERR_SUCCESS;
    }
    mosquitto_log_printf(MOSQ_LOG_NOTICE, "msgsec: reloaded %s: %zu rule(s)", plugin->config_path,
                         plugin->rules->cfg->n_rules);
    if (had_receiver && plugin->rules->receiver && !plugin->rules->cfg->replay.path)
        mosquitto_log_printf(MOSQ_LOG_WARNING, "msgsec: the in-memory replay cache restarted "
                                               "empty; set replay.path to keep it across reloads");
    return MOSQ_ERR_SUCCESS;
}

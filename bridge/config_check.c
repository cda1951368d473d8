/* config_check.c - the bridge-specific configuration checks (the shared
 * loader checks syntax, endpoints and per-action requirements). */
#include "config_check.h"
#include "counters.h"
#include "routes.h"
#include "util.h"

msgsec_err bridge_check_config(const msgsec_config *cfg, msgsec_error *err)
{
    if (cfg->n_routes == 0)
        return bridge_err(err, MSGSEC_E_USAGE, "%s: no routes: the bridge needs at least one", cfg->path);
    if (cfg->n_routes > METRIC_MAX_ROUTES)
        return bridge_err(err, MSGSEC_E_USAGE, "%s: at most %d routes", cfg->path, METRIC_MAX_ROUTES);
    if (!cfg->spool.path)
        return bridge_err(err, MSGSEC_E_USAGE,
                          "%s: spool.path is required (messages are acknowledged only once spooled)",
                          cfg->path);
    /* The bridge publishes and subscribes on separate MQTT connections, so
       MQTT's No Local cannot stop it from consuming its own output. */
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const char *dests[2] = {cfg->routes[i].to, cfg->routes[i].dead_letter};
        for (size_t d = 0; d < 2; d++) {
            bridge_side side;
            const char *topic;
            if (!dests[d] || route_endpoint(dests[d], &side, &topic) || side != SIDE_MQTT)
                continue;
            for (size_t j = 0; j < cfg->n_routes; j++) {
                const char *filter;
                if (!route_endpoint(cfg->routes[j].from, &side, &filter) && side == SIDE_MQTT &&
                    msgsec_topic_match(filter, topic))
                    return bridge_err(err, MSGSEC_E_USAGE,
                                      "%s:%d: the bridge would consume its own output: mqtt:%s "
                                      "matches the source filter of the route at line %d",
                                      cfg->path, cfg->routes[i].line, topic, cfg->routes[j].line);
            }
        }
    }
    return MSGSEC_OK;
}

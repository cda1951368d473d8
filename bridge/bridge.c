/* bridge.c - glue shared by the sides: hand-off of spooled messages,
 * secrets, and the bridge-specific configuration checks (the shared loader
 * checks syntax, endpoints and per-action requirements). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "internal.h"

void bridge_notify(bridge *b, bmsg **msgs, size_t n)
{
    int to[2] = {0, 0};
    for (size_t i = 0; i < n; i++)
        to[msgs[i]->dest_side] = 1;
    /* under the lock: main clears a side's pointer before stopping it */
    pthread_mutex_lock(&b->lock);
    if (to[SIDE_MQTT] && b->mqtt)
        mqtt_side_notify(b->mqtt);
    if (to[SIDE_AMQP] && b->amqp)
        amqp_side_notify(b->amqp);
    pthread_mutex_unlock(&b->lock);
}

int backoff_next(int *backoff_ms)
{
    int delay = *backoff_ms / 2 + (int)(random() % (*backoff_ms / 2 + 1));
    *backoff_ms = *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
    return delay;
}

msgsec_err bridge_read_secret(const char *path, char **out, msgsec_error *err)
{
    uint8_t *data;
    size_t len;
    *out = NULL;
    msgsec_err rc = read_file_bounded(path, 4096, &data, &len, err);
    if (rc)
        return rc;
    while (len > 0 && (data[len - 1] == '\n' || data[len - 1] == '\r'))
        data[--len] = 0;
    *out = (char *)data;
    return MSGSEC_OK;
}

msgsec_err bridge_check_config(const msgsec_config *cfg, msgsec_error *err)
{
    if (cfg->n_routes == 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s: no routes: the bridge needs at least one", cfg->path);
    if (cfg->n_routes > METRIC_MAX_ROUTES)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s: at most %d routes", cfg->path, METRIC_MAX_ROUTES);
    if (!cfg->spool.path)
        return msgsec_seterr(err, MSGSEC_E_USAGE,
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
                    return msgsec_seterr(err, MSGSEC_E_USAGE,
                                         "%s:%d: the bridge would consume its own output: mqtt:%s "
                                         "matches the source filter of the route at line %d",
                                         cfg->path, cfg->routes[i].line, topic, cfg->routes[j].line);
            }
        }
    }
    return MSGSEC_OK;
}

/* bridge.c - glue shared by the sides: hand-off of spooled messages,
 * secrets, and the bridge-specific configuration checks. */
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

static msgsec_err check_endpoint(const msgsec_config *cfg, const msgsec_route *r, const char *what,
                                 const char *spec, int allow_empty_topic, msgsec_error *err)
{
    bridge_side side;
    const char *name;
    if (!spec || route_endpoint(spec, &side, &name))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s:%d: route %s must start with mqtt: or amqp:",
                             cfg->path, r->line, what);
    if (!*name && !(allow_empty_topic && side == SIDE_MQTT))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s:%d: route %s has an empty %s", cfg->path,
                             r->line, what, side == SIDE_MQTT ? "topic" : "address");
    if (side == SIDE_MQTT && !allow_empty_topic && strcmp(what, "from") != 0 &&
        (strchr(name, '+') || strchr(name, '#')))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s:%d: route %s: wildcards are only allowed in from",
                             cfg->path, r->line, what);
    return MSGSEC_OK;
}

msgsec_err bridge_check_config(const msgsec_config *cfg, msgsec_error *err)
{
    msgsec_err rc;
    if (cfg->n_routes == 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s: no routes: the bridge needs at least one", cfg->path);
    if (cfg->n_routes > METRIC_MAX_ROUTES)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s: at most %d routes", cfg->path, METRIC_MAX_ROUTES);
    if (!cfg->spool.path)
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "%s: spool.path is required (messages are acknowledged only once spooled)",
                             cfg->path);
    if (cfg->spool.when_full && strcmp(cfg->spool.when_full, "block") != 0 &&
        strcmp(cfg->spool.when_full, "reject") != 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s: spool.when_full must be block or reject", cfg->path);
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const msgsec_route *r = &cfg->routes[i];
        if ((rc = check_endpoint(cfg, r, "from", r->from, 0, err)) ||
            (rc = check_endpoint(cfg, r, "to", r->to, 1, err)) ||
            (r->dead_letter && (rc = check_endpoint(cfg, r, "dead_letter", r->dead_letter, 0, err))))
            return rc;
        if (r->qos < 0 || r->qos > 2)
            return msgsec_seterr(err, MSGSEC_E_USAGE, "%s:%d: qos must be 0, 1 or 2", cfg->path, r->line);
        if (r->action == MSGSEC_ROUTE_PROTECT && !r->service_cert)
            return msgsec_seterr(err, MSGSEC_E_USAGE, "%s:%d: protect needs service_cert", cfg->path, r->line);
        if ((r->action == MSGSEC_ROUTE_PROTECT || r->action == MSGSEC_ROUTE_UNPROTECT) &&
            (!cfg->identity.cert || !cfg->identity.key))
            return msgsec_seterr(err, MSGSEC_E_USAGE, "%s:%d: %s needs identity.cert and identity.key",
                                 cfg->path, r->line,
                                 r->action == MSGSEC_ROUTE_PROTECT ? "protect" : "unprotect");
        if ((r->action == MSGSEC_ROUTE_VERIFY || r->action == MSGSEC_ROUTE_UNPROTECT) && cfg->trust.n_ca == 0 &&
            cfg->trust.n_issuers == 0 && !cfg->trust.users && !cfg->trust.keytab)
            return msgsec_seterr(err, MSGSEC_E_USAGE, "%s:%d: verify/unprotect needs trust (ca, issuers, users or keytab)",
                                 cfg->path, r->line);
    }
    return MSGSEC_OK;
}

/* routes.c - route matching, destinations, dead-lettering of rejected
 * messages, and the reference-counted routing table that SIGHUP swaps. The
 * crypto actions themselves are actions.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "routes.h"
#include "util.h"

route_table *routes_table_new(msgsec_config *cfg, unsigned generation)
{
    route_table *t = calloc(1, sizeof *t);
    if (t && !(t->actions = action_shared_new(cfg, generation))) {
        free(t);
        t = NULL;
    }
    if (!t) {
        msgsec_config_free(cfg);
        return NULL;
    }
    atomic_init(&t->refs, 1);
    t->cfg = cfg;
    t->generation = generation;
    return t;
}

void routes_release(route_table *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
        action_shared_free(t->actions);
        msgsec_config_free(t->cfg);
        free(t);
    }
}

int route_endpoint(const char *spec, bridge_side *side, const char **name)
{
    if (strncmp(spec, "mqtt:", 5) == 0)
        *side = SIDE_MQTT;
    else if (strncmp(spec, "amqp:", 5) == 0)
        *side = SIDE_AMQP;
    else
        return -1;
    *name = spec + 5;
    return 0;
}

static int route_matches(const msgsec_route *r, bridge_side side, const char *source)
{
    bridge_side from_side;
    const char *name;
    if (route_endpoint(r->from, &from_side, &name) || from_side != side)
        return 0;
    return side == SIDE_MQTT ? msgsec_topic_match(name, source) : strcmp(name, source) == 0;
}

/* ---- dispatch ---- */

static int append(bmsg ***out, size_t *n, bmsg *m)
{
    bmsg **a = realloc(*out, (*n + 1) * sizeof *a);
    if (!a)
        return -1;
    a[(*n)++] = m;
    *out = a;
    return 0;
}

/* Points res at the route's destination. On an MQTT destination the token
 * {subject} is replaced by the AMQP subject, i.e. the original MQTT topic a
 * forward route stored there: `to: "mqtt:{subject}"` restores it. */
#define SUBJECT_TOKEN "{subject}"
#define MQTT_TOPIC_MAX 65535
static int set_destination(bmsg *res, const char *spec, const bmsg *in)
{
    const char *name, *tok;
    if (route_endpoint(spec, &res->dest_side, &name))
        return -1;
    free(res->dest);
    res->dest = NULL;
    if (res->dest_side == SIDE_MQTT && (tok = strstr(name, SUBJECT_TOKEN))) {
        if (!in->subject || !*in->subject)
            return -1;
        size_t before = (size_t)(tok - name), subject = strlen(in->subject);
        const char *after = tok + strlen(SUBJECT_TOKEN);
        size_t len = before + subject + strlen(after);
        if (len > MQTT_TOPIC_MAX || !(res->dest = malloc(len + 1)))
            return -1;
        memcpy(res->dest, name, before);
        memcpy(res->dest + before, in->subject, subject);
        memcpy(res->dest + before + subject, after, strlen(after) + 1);
        if (strpbrk(res->dest, "+#"))
            return -1; /* res->dest is freed with res */
    } else {
        res->dest = strdup(name);
    }
    return res->dest && *res->dest ? 0 : -1;
}

/* The original message (never a decrypted one) with the reason attached:
 * msgsec-reject-reason = "<reason>: <detail>", msgsec-reject-class = the
 * msgsec error class (exit code of the msgsec command). The input of a
 * protect route is plaintext: its dead letter has the reason, not the body
 * (a dead letter never puts plaintext on a broker). */
static int dead_letter(bridge_metrics *mt, const msgsec_route *r, const bmsg *in,
                       reject_reason why, const msgsec_error *e, bmsg ***out, size_t *n)
{
    atomic_fetch_add(&mt->rejects[why], 1);
    blog(LOG_WARN, "reject", "route_line=%d reason=%s class=%d detail=\"%s\" dead_letter=%s",
         r->line, reject_reason_name(why), (int)e->code, e->detail,
         r->dead_letter ? r->dead_letter : "none");
    if (!r->dead_letter)
        return 0;
    bmsg *d = bmsg_clone_meta(in);
    char reason[MSGSEC_DETAIL_MAX + 64], klass[8];
    snprintf(reason, sizeof reason, "%s: %s", reject_reason_name(why), e->detail);
    snprintf(klass, sizeof klass, "%d", (int)e->code);
    size_t keep = r->action == MSGSEC_ROUTE_PROTECT ? 0 : in->payload_len;
    if (!d || bmsg_set_payload(d, in->payload, keep) ||
        bmsg_add_prop(d, "msgsec-reject-reason", reason) ||
        bmsg_add_prop(d, "msgsec-reject-class", klass) ||
        set_destination(d, r->dead_letter, in) || append(out, n, d)) {
        bmsg_free(d);
        return -1;
    }
    return 0;
}

/* Drops what this message's routes appended to *out: it is to be handled later. */
static int hold(bmsg **out, size_t *n_out, size_t first)
{
    while (*n_out > first)
        bmsg_free(out[--*n_out]);
    return -1;
}

int routes_apply(const route_table *t, action_ctx *ax, bridge_metrics *mt, bridge_side side,
                 const char *source, const bmsg *in, bmsg ***out, size_t *n_out)
{
    const msgsec_config *cfg = t->cfg;
    const size_t first = *n_out;
    int matched = 0;
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const msgsec_route *r = &cfg->routes[i];
        if (!route_matches(r, side, source))
            continue;
        matched++;
        msgsec_error e = {0};
        reject_reason why = REJECT_NO_ROUTE;
        bmsg *res = bmsg_clone_meta(in);
        if (!res)
            return hold(*out, n_out, first);
        res->route = (int)i;
        res->qos = r->qos;
        char id[BRIDGE_ID_LEN];
        if (!res->bridge_id && (bridge_new_id(id, sizeof id) || !(res->bridge_id = strdup(id)))) {
            bmsg_free(res);
            return hold(*out, n_out, first);
        }
        msgsec_err rc = MSGSEC_OK;
        if (set_destination(res, r->to, in))
            rc = bridge_err(&e, MSGSEC_E_MALFORMED, "no destination topic: message has no usable subject");
        else if (r->action == MSGSEC_ROUTE_FORWARD) {
            if (bmsg_set_payload(res, in->payload, in->payload_len))
                rc = bridge_err(&e, MSGSEC_E_INTERNAL, "out of memory");
        } else {
            rc = action_run(ax, t->actions, i, in, res, &why, &e);
        }
        if (rc && e.transient) {
            /* the service's state, not the message: it stays at its source */
            bmsg_free(res);
            atomic_fetch_add(&mt->held, 1);
            blog(LOG_WARN, "held", "route_line=%d reason=%s class=%d detail=\"%s\" retry_ms=%d",
                 r->line, reject_reason_name(why), (int)e.code, e.detail, RETRY_LATER_MS);
            return hold(*out, n_out, first);
        }
        if (rc) {
            bmsg_free(res);
            if (dead_letter(mt, r, in, why, &e, out, n_out))
                return hold(*out, n_out, first);
            continue;
        }
        if (i < METRIC_MAX_ROUTES)
            atomic_fetch_add(&mt->messages[i], 1);
        if (append(out, n_out, res)) {
            bmsg_free(res);
            return hold(*out, n_out, first);
        }
    }
    return matched;
}

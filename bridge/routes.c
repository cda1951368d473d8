/* routes.c - route matching and the four actions (forward, verify, protect,
 * unprotect), dead-lettering of rejected messages, and the reference-counted
 * routing table that SIGHUP swaps. */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "internal.h"

#define SOAP_CONTENT_TYPE "application/soap+xml"

const char *const reject_reason_names[REJECT_COUNT] = {
    "verify_failed", "unprotect_failed", "sender_not_allowed", "protect_failed",
    "spool_full", "undeliverable", "no_topic"};

struct action_ctx {
    pthread_mutex_t lock;
    unsigned generation;         /* table generation the handles below belong to */
    int have_generation;
    msgsec_receiver *verifier;   /* verify-only; NULL until first needed */
    msgsec_receiver *unwrapper;  /* full receiver with the node identity */
    msgsec_sender **senders;     /* per route index (protect) */
    size_t n_senders;
};

action_ctx *action_ctx_new(void)
{
    action_ctx *ax = calloc(1, sizeof *ax);
    if (ax)
        pthread_mutex_init(&ax->lock, NULL);
    return ax;
}

static void drop_handles(action_ctx *ax)
{
    msgsec_receiver_free(ax->verifier);
    msgsec_receiver_free(ax->unwrapper);
    for (size_t i = 0; i < ax->n_senders; i++)
        msgsec_sender_free(ax->senders[i]);
    free(ax->senders);
    ax->verifier = ax->unwrapper = NULL;
    ax->senders = NULL;
    ax->n_senders = 0;
}

void action_ctx_free(action_ctx *ax)
{
    if (!ax)
        return;
    drop_handles(ax);
    pthread_mutex_destroy(&ax->lock);
    free(ax);
}

route_table *routes_acquire(bridge *b)
{
    pthread_mutex_lock(&b->lock);
    route_table *t = b->table;
    atomic_fetch_add(&t->refs, 1);
    pthread_mutex_unlock(&b->lock);
    return t;
}

void routes_release(route_table *t)
{
    if (t && atomic_fetch_sub(&t->refs, 1) == 1) {
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

/* ---- crypto handles (called with ax->lock held) ---- */

static void sync_generation(action_ctx *ax, const route_table *t)
{
    if (ax->have_generation && ax->generation == t->generation)
        return;
    drop_handles(ax);
    ax->generation = t->generation;
    ax->have_generation = 1;
}

static msgsec_err get_receiver(action_ctx *ax, const msgsec_config *cfg, int with_key,
                               msgsec_receiver **out, msgsec_error *err)
{
    msgsec_receiver **slot = with_key ? &ax->unwrapper : &ax->verifier;
    if (!*slot) {
        msgsec_receiver_opts opts;
        msgsec_config_receiver_opts(cfg, with_key, &opts);
        /* the verify action is a broker-style gate: its replay memory stays in
           process so the persistent cache is opened once, by the unwrapper */
        if (!with_key)
            opts.replay_path = NULL;
        msgsec_err rc = msgsec_receiver_new(&opts, slot, err);
        if (rc)
            return rc;
    }
    *out = *slot;
    return MSGSEC_OK;
}

static msgsec_err get_sender(action_ctx *ax, const msgsec_config *cfg, size_t route,
                             msgsec_sender **out, msgsec_error *err)
{
    if (ax->n_senders < cfg->n_routes) {
        msgsec_sender **s = realloc(ax->senders, cfg->n_routes * sizeof *s);
        if (!s)
            return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        memset(s + ax->n_senders, 0, (cfg->n_routes - ax->n_senders) * sizeof *s);
        ax->senders = s;
        ax->n_senders = cfg->n_routes;
    }
    if (!ax->senders[route]) {
        msgsec_sender_opts opts = {
            .credential = MSGSEC_CRED_CERTIFICATE,
            .cert_file = cfg->identity.cert,
            .key_file = cfg->identity.key,
            .service_cert_file = cfg->routes[route].service_cert,
            .suite = cfg->security.suite,
            .max_xml_bytes = cfg->security.max_message_bytes, /* XML plaintext is parsed */
        };
        msgsec_err rc = msgsec_sender_new(&opts, &ax->senders[route], err);
        if (rc)
            return rc;
    }
    *out = ax->senders[route];
    return MSGSEC_OK;
}

/* ---- actions: each fills *res (payload and metadata set) or returns an error
 * whose detail becomes the dead-letter reason ---- */

/* The receiver checks the route's senders itself (before decrypting and
 * before the replay entry is used): only the reject reason is told apart. */
static msgsec_err sender_reason(msgsec_err rc, const msgsec_error *err, reject_reason *why)
{
    if (rc == MSGSEC_E_POLICY &&
        strncmp(err->detail, MSGSEC_SENDER_REFUSED, strlen(MSGSEC_SENDER_REFUSED)) == 0)
        *why = REJECT_SENDER;
    return rc;
}

static msgsec_err act_verify(action_ctx *ax, const msgsec_config *cfg, const msgsec_route *r,
                             const bmsg *in, bmsg *res, reject_reason *why, msgsec_error *err)
{
    msgsec_receiver *rx = NULL;
    const msgsec_policy policy = {.senders = r->senders, .n_senders = r->n_senders};
    *why = REJECT_VERIFY;
    msgsec_err rc = get_receiver(ax, cfg, 0, &rx, err);
    if (!rc)
        rc = sender_reason(msgsec_verify_with(rx, &policy, in->payload, in->payload_len, NULL, err),
                           err, why);
    if (!rc && bmsg_set_payload(res, in->payload, in->payload_len))
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    return rc;
}

static msgsec_err act_protect(action_ctx *ax, const msgsec_config *cfg, size_t route,
                              const bmsg *in, bmsg *res, reject_reason *why, msgsec_error *err)
{
    const msgsec_route *r = &cfg->routes[route];
    msgsec_sender *tx = NULL;
    uint8_t *env = NULL;
    size_t env_len = 0;
    *why = REJECT_PROTECT;
    msgsec_err rc = get_sender(ax, cfg, route, &tx, err);
    if (rc)
        return rc;
    msgsec_wrap_params params = {
        .to = r->wsa_to ? r->wsa_to : r->to,
        .content_type = in->content_type,
    };
    if ((rc = msgsec_wrap(tx, &params, in->payload, in->payload_len, &env, &env_len, err)))
        return rc;
    free(res->payload);
    res->payload = env;
    res->payload_len = env_len;
    free(res->content_type);
    res->content_type = strdup(SOAP_CONTENT_TYPE);
    return res->content_type ? MSGSEC_OK : msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
}

/* Security context of an unprotected message, for a trusted local consumer. */
static int add_context_props(bmsg *res, const msgsec_context *ctx)
{
    const char *cred = msgsec_credential_name(msgsec_context_credential(ctx));
    const struct { const char *key, *value; } kv[] = {
        {"msgsec-identity", msgsec_context_identity(ctx)},
        {"msgsec-credential-type", cred},
        {"msgsec-message-id", msgsec_context_message_id(ctx)},
        {"msgsec-issuer", msgsec_context_issuer(ctx)},
        {"msgsec-to", msgsec_context_to(ctx)},
        {"msgsec-action", msgsec_context_action(ctx)},
        {"msgsec-created", msgsec_context_created(ctx)},
        {"msgsec-expires", msgsec_context_expires(ctx)},
    };
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (kv[i].value && bmsg_add_prop(res, kv[i].key, kv[i].value))
            return -1;
    for (size_t i = 0; i < msgsec_context_claim_count(ctx); i++) {
        const char *k, *v;
        msgsec_context_claim(ctx, i, &k, &v);
        char key[128];
        snprintf(key, sizeof key, "msgsec-claim-%s", k);
        if (bmsg_add_prop(res, key, v))
            return -1;
    }
    return 0;
}

static msgsec_err act_unprotect(action_ctx *ax, const msgsec_config *cfg, const msgsec_route *r,
                                const bmsg *in, bmsg *res, reject_reason *why, msgsec_error *err)
{
    msgsec_receiver *rx = NULL;
    msgsec_context *ctx = NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    const msgsec_policy policy = {.senders = r->senders, .n_senders = r->n_senders};
    *why = REJECT_UNPROTECT;
    msgsec_err rc = get_receiver(ax, cfg, 1, &rx, err);
    if (!rc)
        rc = sender_reason(msgsec_unwrap_with(rx, &policy, in->payload, in->payload_len, &plain,
                                              &plain_len, &ctx, err),
                           err, why);
    if (!rc) {
        /* every check passed: hand over the plaintext (ownership moves) */
        free(res->payload);
        res->payload = plain;
        res->payload_len = plain_len;
        plain = NULL;
        const char *ct = msgsec_context_content_type(ctx);
        free(res->content_type);
        res->content_type = ct ? strdup(ct) : NULL;
        if (add_context_props(res, ctx))
            rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    msgsec_free_secret(plain, plain_len);
    msgsec_context_free(ctx);
    return rc;
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
        strbuf sb;
        sb_init(&sb, strlen(name) + strlen(in->subject), 65535);
        sb_append(&sb, name, (size_t)(tok - name));
        sb_puts(&sb, in->subject);
        sb_puts(&sb, tok + strlen(SUBJECT_TOKEN));
        if (sb.failed || strpbrk(sb.data, "+#")) {
            sb_free(&sb, 0);
            return -1;
        }
        res->dest = sb_steal(&sb, NULL);
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
static int dead_letter(bridge *b, const msgsec_route *r, const bmsg *in, reject_reason why,
                       const msgsec_error *e, bmsg ***out, size_t *n)
{
    atomic_fetch_add(&b->metrics.rejects[why], 1);
    blog(LOG_WARN, "reject", "route_line=%d reason=%s class=%d detail=\"%s\" dead_letter=%s",
         r->line, reject_reason_names[why], (int)e->code, e->detail,
         r->dead_letter ? r->dead_letter : "none");
    if (!r->dead_letter)
        return 0;
    bmsg *d = bmsg_clone_meta(in);
    char reason[MSGSEC_DETAIL_MAX + 64], klass[8];
    snprintf(reason, sizeof reason, "%s: %s", reject_reason_names[why], e->detail);
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

int routes_apply(bridge *b, route_table *t, bridge_side side, const char *source, const bmsg *in,
                 bmsg ***out, size_t *n_out)
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
        if (!res->bridge_id) {
            char id[64];
            uuid_urn(id, sizeof id);
            res->bridge_id = strdup(id);
        }
        msgsec_err rc = MSGSEC_OK;
        if (set_destination(res, r->to, in))
            rc = msgsec_seterr(&e, MSGSEC_E_MALFORMED, "no destination topic: message has no usable subject");
        else if (r->action == MSGSEC_ROUTE_FORWARD) {
            if (bmsg_set_payload(res, in->payload, in->payload_len))
                rc = msgsec_seterr(&e, MSGSEC_E_INTERNAL, "out of memory");
        } else {
            pthread_mutex_lock(&b->actions->lock);
            sync_generation(b->actions, t);
            if (r->action == MSGSEC_ROUTE_VERIFY)
                rc = act_verify(b->actions, cfg, r, in, res, &why, &e);
            else if (r->action == MSGSEC_ROUTE_PROTECT)
                rc = act_protect(b->actions, cfg, i, in, res, &why, &e);
            else
                rc = act_unprotect(b->actions, cfg, r, in, res, &why, &e);
            pthread_mutex_unlock(&b->actions->lock);
        }
        if (rc && e.transient) {
            /* the service's state, not the message: it stays at its source */
            bmsg_free(res);
            atomic_fetch_add(&b->metrics.held, 1);
            blog(LOG_WARN, "held", "route_line=%d reason=%s class=%d detail=\"%s\" retry_ms=%d",
                 r->line, reject_reason_names[why], (int)e.code, e.detail, RETRY_LATER_MS);
            return hold(*out, n_out, first);
        }
        if (rc) {
            bmsg_free(res);
            if (dead_letter(b, r, in, why, &e, out, n_out))
                return hold(*out, n_out, first);
            continue;
        }
        if (i < METRIC_MAX_ROUTES)
            atomic_fetch_add(&b->metrics.messages[i], 1);
        if (append(out, n_out, res)) {
            bmsg_free(res);
            return hold(*out, n_out, first);
        }
    }
    return matched;
}

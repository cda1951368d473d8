/* actions.c - verify, protect and unprotect with one worker's msgsec
 * handles (see actions.h). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "util.h"

#define SOAP_CONTENT_TYPE "application/soap+xml"

/* Kinds of receiver: verify-only (no key) and the full one with the node
 * identity (unprotect). */
enum { RX_VERIFY = 0, RX_UNWRAP = 1 };

struct action_shared {
    const msgsec_config *cfg;
    unsigned generation;
    pthread_mutex_t lock;           /* guards replay[] */
    /* Holders of the generation's replay caches: receivers with no keys and
       no trust, never used for a message; every worker's receiver of the
       kind shares its cache (msgsec_receiver_opts.replay_shared_with). */
    msgsec_receiver *replay[2];
};

struct action_ctx {
    unsigned generation;            /* generation the handles below belong to */
    int have_generation;
    msgsec_receiver *receivers[2];  /* RX_VERIFY, RX_UNWRAP; NULL until first needed */
    msgsec_sender **senders;        /* per route index (protect) */
    size_t n_senders;
};

action_shared *action_shared_new(const msgsec_config *cfg, unsigned generation)
{
    action_shared *sh = calloc(1, sizeof *sh);
    if (!sh)
        return NULL;
    sh->cfg = cfg;
    sh->generation = generation;
    pthread_mutex_init(&sh->lock, NULL);
    return sh;
}

void action_shared_free(action_shared *sh)
{
    if (!sh)
        return;
    msgsec_receiver_free(sh->replay[RX_VERIFY]);
    msgsec_receiver_free(sh->replay[RX_UNWRAP]);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

action_ctx *action_ctx_new(void) { return calloc(1, sizeof(action_ctx)); }

static void drop_handles(action_ctx *ax)
{
    msgsec_receiver_free(ax->receivers[RX_VERIFY]);
    msgsec_receiver_free(ax->receivers[RX_UNWRAP]);
    for (size_t i = 0; i < ax->n_senders; i++)
        msgsec_sender_free(ax->senders[i]);
    free(ax->senders);
    memset(ax, 0, sizeof *ax);
}

void action_ctx_free(action_ctx *ax)
{
    if (!ax)
        return;
    drop_handles(ax);
    free(ax);
}

/* Handles are built for one generation; a reload's table starts afresh. */
static void sync_generation(action_ctx *ax, const action_shared *sh)
{
    if (ax->have_generation && ax->generation == sh->generation)
        return;
    drop_handles(ax);
    ax->generation = sh->generation;
    ax->have_generation = 1;
}

/* The generation's holder of the replay cache of a kind: the verify action is
 * a broker-style gate whose replay memory stays in process (the persistent
 * cache belongs to the consumer, and unprotect opens it). */
static msgsec_err replay_holder(action_shared *sh, int kind, const msgsec_receiver **out,
                                msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    pthread_mutex_lock(&sh->lock);
    if (!sh->replay[kind]) {
        msgsec_receiver_opts opts = {0};
        if (kind == RX_UNWRAP) { /* the replay options of the configuration, and nothing else */
            opts.replay_path = sh->cfg->replay.path;
            opts.replay_max_bytes = sh->cfg->replay.max_bytes;
        }
        rc = msgsec_receiver_new(&opts, &sh->replay[kind], err);
    }
    *out = sh->replay[kind];
    pthread_mutex_unlock(&sh->lock);
    return rc;
}

static msgsec_err get_receiver(action_ctx *ax, action_shared *sh, int kind, msgsec_receiver **out,
                               msgsec_error *err)
{
    msgsec_receiver **slot = &ax->receivers[kind];
    if (!*slot) {
        msgsec_receiver_opts opts;
        msgsec_config_receiver_opts(sh->cfg, kind == RX_UNWRAP, &opts);
        opts.replay_path = NULL;
        msgsec_err rc = replay_holder(sh, kind, &opts.replay_shared_with, err);
        if (!rc)
            rc = msgsec_receiver_new(&opts, slot, err);
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
            return bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
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

static msgsec_err act_verify(action_ctx *ax, action_shared *sh, const msgsec_route *r,
                             const bmsg *in, bmsg *res, reject_reason *why, msgsec_error *err)
{
    msgsec_receiver *rx = NULL;
    const msgsec_policy policy = {.senders = r->senders, .n_senders = r->n_senders};
    *why = REJECT_VERIFY;
    msgsec_err rc = get_receiver(ax, sh, RX_VERIFY, &rx, err);
    if (!rc)
        rc = sender_reason(msgsec_verify_with(rx, &policy, in->payload, in->payload_len, NULL, err),
                           err, why);
    if (!rc && bmsg_set_payload(res, in->payload, in->payload_len))
        rc = bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
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
    return res->content_type ? MSGSEC_OK : bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
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

static msgsec_err act_unprotect(action_ctx *ax, action_shared *sh, const msgsec_route *r,
                                const bmsg *in, bmsg *res, reject_reason *why, msgsec_error *err)
{
    msgsec_receiver *rx = NULL;
    msgsec_context *ctx = NULL;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    const msgsec_policy policy = {.senders = r->senders, .n_senders = r->n_senders};
    *why = REJECT_UNPROTECT;
    msgsec_err rc = get_receiver(ax, sh, RX_UNWRAP, &rx, err);
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
            rc = bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    msgsec_free_secret(plain, plain_len);
    msgsec_context_free(ctx);
    return rc;
}

msgsec_err action_run(action_ctx *ax, action_shared *sh, size_t route, const bmsg *in, bmsg *res,
                      reject_reason *why, msgsec_error *err)
{
    const msgsec_route *r = &sh->cfg->routes[route];
    sync_generation(ax, sh);
    switch (r->action) {
    case MSGSEC_ROUTE_VERIFY: return act_verify(ax, sh, r, in, res, why, err);
    case MSGSEC_ROUTE_PROTECT: return act_protect(ax, sh->cfg, route, in, res, why, err);
    case MSGSEC_ROUTE_UNPROTECT: return act_unprotect(ax, sh, r, in, res, why, err);
    default:
        *why = REJECT_NO_ROUTE;
        return bridge_err(err, MSGSEC_E_INTERNAL, "route at line %d has no crypto action", r->line);
    }
}

/* ruleset.c - one loaded configuration and the objects built from it:
 * plugin-specific validation of the rules, the verify-only receiver shared by
 * every enforce rule (one replay cache for all clients), one sender per
 * protect rule, and the swap used by reload. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "plugin.h"

void ruleset_free(ruleset *rules)
{
    if (!rules)
        return;
    if (rules->protectors)
        for (size_t i = 0; i < rules->cfg->n_rules; i++)
            msgsec_sender_free(rules->protectors[i]);
    free(rules->protectors);
    msgsec_receiver_free(rules->receiver);
    msgsec_config_free(rules->cfg);
    free(rules);
}

const msgsec_rule *ruleset_match(const ruleset *rules, const char *topic, size_t *index)
{
    for (size_t i = 0; i < rules->cfg->n_rules; i++) {
        if (msgsec_topic_match(rules->cfg->rules[i].topic, topic)) {
            *index = i;
            return &rules->cfg->rules[i];
        }
    }
    return NULL;
}

/* What only the plugin knows about rules (msgsec_config_load checks their
 * syntax): no protect loop, i.e. an envelope published to a topic that is
 * itself protected would be wrapped again. */
static msgsec_err validate_rules(const msgsec_config *cfg, msgsec_error *err)
{
    for (size_t i = 0; i < cfg->n_rules; i++) {
        const msgsec_rule *rule = &cfg->rules[i];

        if (rule->action != MSGSEC_RULE_PROTECT)
            continue;
        for (size_t j = 0; j < cfg->n_rules; j++) {
            if (!msgsec_topic_match(cfg->rules[j].topic, rule->publish_to))
                continue;
            if (cfg->rules[j].action == MSGSEC_RULE_PROTECT)
                return msgsec_seterr(err, MSGSEC_E_USAGE,
                                     "%s:%d: publish_to '%s' is itself protected by the rule "
                                     "at line %d (loop)",
                                     cfg->path, rule->line, rule->publish_to, cfg->rules[j].line);
            break; /* first match wins */
        }
    }
    return MSGSEC_OK;
}

static int has_enforce_rule(const msgsec_config *cfg)
{
    for (size_t i = 0; i < cfg->n_rules; i++)
        if (cfg->rules[i].action == MSGSEC_RULE_ENFORCE)
            return 1;
    return 0;
}

/* 1 when both configurations name the same existing replay directory. */
static int same_replay_store(const msgsec_config *a, const msgsec_config *b)
{
    char ra[PATH_MAX], rb[PATH_MAX];

    if (!a->replay.path || !b->replay.path)
        return 0;
    if (!realpath(a->replay.path, ra) || !realpath(b->replay.path, rb))
        return 0;
    return strcmp(ra, rb) == 0;
}

static msgsec_err build_receiver(const msgsec_config *cfg, int in_memory, msgsec_receiver **out,
                                 msgsec_error *err)
{
    msgsec_receiver_opts opts;

    msgsec_config_receiver_opts(cfg, 0, &opts);
    if (in_memory)
        opts.replay_path = NULL;
    return msgsec_receiver_new(&opts, out, err);
}

static msgsec_err build_protector(const msgsec_config *cfg, const msgsec_rule *rule,
                                  msgsec_sender **out, msgsec_error *err)
{
    msgsec_sender_opts opts = {
        .credential = MSGSEC_CRED_CERTIFICATE,
        .cert_file = cfg->identity.cert,
        .key_file = cfg->identity.key,
        .service_cert_file = rule->service_cert,
        .suite = cfg->security.suite,
        .ttl_seconds = cfg->security.max_age, /* as long as the receivers let it wait */
        .max_xml_bytes = cfg->security.max_message_bytes, /* XML plaintext is parsed */
    };
    msgsec_error cause = {0};
    msgsec_err rc = msgsec_sender_new(&opts, out, &cause);

    if (rc != MSGSEC_OK)
        return msgsec_seterr(err, rc, "%s:%d: protect rule: %s", cfg->path, rule->line,
                             cause.detail);
    return MSGSEC_OK;
}

msgsec_err ruleset_load(const char *path, const ruleset *running, ruleset **out,
                        int *reopen_store, msgsec_error *err)
{
    ruleset *rules = calloc(1, sizeof(*rules));
    msgsec_err rc;

    *out = NULL;
    *reopen_store = 0;
    if (!rules)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    rc = msgsec_config_load(path, &rules->cfg, err);
    if (rc != MSGSEC_OK)
        goto cleanup;
    rc = validate_rules(rules->cfg, err);
    if (rc != MSGSEC_OK)
        goto cleanup;
    if (has_enforce_rule(rules->cfg)) {
        *reopen_store = running && running->receiver && same_replay_store(running->cfg, rules->cfg);
        rc = build_receiver(rules->cfg, *reopen_store, &rules->receiver, err);
        if (rc != MSGSEC_OK)
            goto cleanup;
    }
    rules->protectors = calloc(rules->cfg->n_rules ? rules->cfg->n_rules : 1,
                               sizeof(*rules->protectors));
    if (!rules->protectors) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < rules->cfg->n_rules; i++) {
        if (rules->cfg->rules[i].action != MSGSEC_RULE_PROTECT)
            continue;
        rc = build_protector(rules->cfg, &rules->cfg->rules[i], &rules->protectors[i], err);
        if (rc != MSGSEC_OK)
            goto cleanup;
    }
    *out = rules;
    return MSGSEC_OK;

cleanup:
    ruleset_free(rules);
    *reopen_store = 0;
    return rc;
}

msgsec_err ruleset_swap(msgsec_plugin *plugin, ruleset *next, int reopen_store,
                        msgsec_error *err)
{
    ruleset *old = plugin->rules;

    if (reopen_store) {
        msgsec_receiver *validated = next->receiver;
        msgsec_receiver *reopened = NULL;
        msgsec_error cause = {0}, again = {0};
        msgsec_err rc;

        /* LMDB allows one environment per process and path: close ours first. */
        msgsec_receiver_free(old->receiver);
        old->receiver = NULL;
        rc = build_receiver(next->cfg, 0, &reopened, &cause);
        if (rc != MSGSEC_OK) {
            ruleset_free(next);
            if (build_receiver(old->cfg, 0, &old->receiver, &again) != MSGSEC_OK)
                return msgsec_seterr(err, rc, "%s; reopening the old replay store also failed "
                                     "(%s): enforce rules now deny everything",
                                     cause.detail, again.detail);
            return msgsec_seterr(err, rc, "%s", cause.detail);
        }
        msgsec_receiver_free(validated);
        next->receiver = reopened;
    }
    plugin->rules = next;
    ruleset_free(old);
    return MSGSEC_OK;
}

/* plugin.h - internals of mosquitto_msgsec.so (not installed).
 *
 * All state lives in one struct msgsec_plugin passed to every callback as
 * userdata. A `ruleset` is one loaded configuration with everything built
 * from it (verify-only receiver, one sender per protect rule); a reload builds
 * a new ruleset and swaps it in only when it is complete.
 *
 * Mosquitto runs plugins on its single network thread: no locking.
 */
#ifndef MSGSEC_PLUGIN_H
#define MSGSEC_PLUGIN_H

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <mosquitto_broker.h>
#include <mosquitto_plugin.h>
#include <openssl/x509.h>

#include "msgsec.h"
#include "msgsec_config.h"

typedef struct ruleset {
    msgsec_config *cfg;
    msgsec_receiver *receiver;  /* verify-only; NULL when no rule enforces */
    msgsec_sender **protectors; /* [cfg->n_rules]; non-NULL for protect rules only */
} ruleset;

typedef struct msgsec_plugin {
    mosquitto_plugin_id_t *id;
    char *config_path;
    ruleset *rules; /* never NULL once initialised */
} msgsec_plugin;

/* ---- ruleset.c ---- */
/* Loads and validates the YAML file at path and builds its receiver and
 * senders. `running` (may be NULL) is the ruleset in service: when it holds
 * the same persistent replay store, the new receiver is built with an
 * in-memory cache only to validate trust, and *reopen_store is set (see
 * ruleset_swap). *out: caller frees with ruleset_free. */
msgsec_err ruleset_load(const char *path, const ruleset *running, ruleset **out,
                        int *reopen_store, msgsec_error *err);
/* Replaces plugin->rules by next (takes ownership). With reopen_store the old
 * receiver is closed before next's is opened on the shared replay store
 * (LMDB allows one handle per process); if that fails the old ruleset stays
 * in service and next is freed. */
msgsec_err ruleset_swap(msgsec_plugin *plugin, ruleset *next, int reopen_store,
                        msgsec_error *err);
void ruleset_free(ruleset *rules);
/* The first rule whose filter matches topic (first match wins), or NULL. */
const msgsec_rule *ruleset_match(const ruleset *rules, const char *topic, size_t *index);

/* ---- enforce.c ---- */
/* Checks a publish on an enforce rule. MSGSEC_OK = deliver unchanged. */
msgsec_err enforce_message(const ruleset *rules, const msgsec_rule *rule,
                           const struct mosquitto_evt_message *msg, msgsec_error *err);

/* ---- transport.c ---- */
/* The client's TLS certificate in DER (bind_transport: the message must be
 * signed with exactly it); MSGSEC_E_POLICY when it presented none. *der:
 * caller frees with OPENSSL_free. */
msgsec_err transport_peer_cert_der(const struct mosquitto *client, unsigned char **der,
                                   size_t *der_len, msgsec_error *err);

/* ---- protect.c ---- */
/* Wraps the plaintext for the rule's service and publishes the envelope to
 * publish_to (same QoS and retain). The caller drops the original. */
msgsec_err protect_message(msgsec_sender *sender, const msgsec_rule *rule,
                           const struct mosquitto_evt_message *msg, msgsec_error *err);

/* ---- message.c ---- */
/* MOSQ_EVT_MESSAGE: dispatches on the first matching rule. */
int plugin_on_message(int event, void *event_data, void *userdata);

/* ---- reload.c ---- */
/* MOSQ_EVT_RELOAD: re-reads the YAML; keeps the old ruleset on error. */
int plugin_on_reload(int event, void *event_data, void *userdata);

#endif

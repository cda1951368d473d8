/* msgsec_config.h - the YAML configuration shared by the Mosquitto plugin and
 * msgsec-bridge (README "Configuration"), plus the matching helpers both need.
 *
 * The loaded configuration is plain data: read its fields directly. All
 * strings and arrays are owned by the msgsec_config and freed by
 * msgsec_config_free. Unknown keys, duplicate keys, wrong types, out-of-range
 * numbers, unknown names, missing required values, YAML syntax errors, and
 * private keys readable by group/others are refused with "FILE:LINE: reason"
 * in the error detail (class MSGSEC_E_USAGE).
 *
 * Paths are absolute in the loaded configuration: relative ones are resolved
 * against the directory of the configuration file. Files it names (certs, CAs,
 * CRLs, users, keytab, password files, keys) must be readable regular files at
 * load time; replay.path and spool.path may not exist yet. Beyond single keys
 * the loader refuses: keys that do not belong to a rule's/route's action
 * (publish_to on an enforce rule, senders on a forward route, ...); a protect
 * rule without service_cert and publish_to; a protect route without
 * service_cert; route endpoints without a mqtt:/amqp: scheme or joining the
 * same protocol (MQTT destinations must be topic names without wildcards);
 * protect and unprotect without identity.cert/key; an enforce rule or a
 * verify/unprotect route accepting `certificate` without trust.ca (and an
 * unprotect route accepting `username` without trust.users, `windows`
 * without trust.keytab); clock_skew or ticket_grace above max_age; an empty
 * credentials or senders list; a null value (`key:` or `~`) means "default".
 */
#ifndef MSGSEC_CONFIG_H
#define MSGSEC_CONFIG_H

#include <sys/socket.h>

#include "msgsec.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum msgsec_rule_action {
    MSGSEC_RULE_ENFORCE = 0,
    MSGSEC_RULE_PROTECT = 1,
    MSGSEC_RULE_PASS = 2
} msgsec_rule_action;

typedef struct msgsec_rule {
    char *topic;           /* MQTT topic filter */
    msgsec_rule_action action;
    char **senders;        /* enforce: identity globs; n_senders == 0 = any trusted sender */
    size_t n_senders;
    int bind_transport;    /* enforce: TLS client cert must equal the message signer */
    char *service_cert;    /* protect */
    char *publish_to;      /* protect: topic the envelope is published to */
    char *to;              /* protect: wsa:To; NULL = "mqtt:" + publish_to */
    int line;              /* line of the rule in the file, for log messages */
} msgsec_rule;

typedef enum msgsec_route_action {
    MSGSEC_ROUTE_FORWARD = 0,
    MSGSEC_ROUTE_VERIFY = 1,
    MSGSEC_ROUTE_PROTECT = 2,
    MSGSEC_ROUTE_UNPROTECT = 3
} msgsec_route_action;

typedef struct msgsec_route {
    char *from;            /* "mqtt:FILTER" or "amqp:ADDRESS" */
    char *to;              /* "amqp:ADDRESS" or "mqtt:TOPIC" */
    msgsec_route_action action;
    int qos;               /* 0, 1 or 2; default 1 */
    char **senders;        /* verify/unprotect: identity globs */
    size_t n_senders;
    char *service_cert;    /* protect */
    char *wsa_to;          /* protect: wsa:To; NULL = the route's `to` */
    char *dead_letter;     /* "mqtt:TOPIC" or "amqp:ADDRESS"; NULL = none */
    int line;
} msgsec_route;

typedef struct msgsec_tls_config {
    char *ca, *cert, *key; /* NULL when absent; tls is enabled when ca or cert is set */
} msgsec_tls_config;

typedef struct msgsec_config {
    char *path;
    struct { char *cert, *key; } identity;
    struct {
        char **ca; size_t n_ca;
        char **crl; size_t n_crl;
        char **issuers; size_t n_issuers;
        char *users;
        char *keytab;
    } trust;
    struct {
        unsigned credentials;      /* MSGSEC_CRED_BIT mask; default certificate, plus issued
                                      when trust.issuers is set */
        char *suite;               /* default "basic256sha256" */
        long max_age;              /* default 86400 */
        long clock_skew;           /* default 300 */
        size_t max_message_bytes;  /* default 1048576 */
        long ticket_grace;         /* default 0 */
        int protect_tokens;        /* default 0; msgsec_receiver_opts.protect_tokens */
    } security;
    struct {
        char *path;                /* NULL = in memory */
        size_t max_bytes;          /* size of the LMDB store; default 64 MiB (131072
                                      messages within max_age), 1 MiB..1 TiB */
    } replay;
    msgsec_rule *rules; size_t n_rules;
    struct {
        char *host; int port; char *client_id; int version;   /* defaults 127.0.0.1, 1883, "msgsec-bridge", 5;
                                                                 version 4 = MQTT 3.1.1, 5 = MQTT 5 */
        msgsec_tls_config tls;
        char *username; char *password_file;
    } mqtt;
    struct {
        char *url;                                           /* default amqp://127.0.0.1:5672 */
        struct { char *mechanism, *username, *password_file; } sasl; /* mechanism default ANONYMOUS */
        msgsec_tls_config tls;
    } amqp;
    msgsec_route *routes; size_t n_routes;
    struct {
        char *path;                /* NULL when absent: msgsec-bridge then refuses the file (start
                                      and --check-config), whatever the routes' QoS: it
                                      acknowledges a message only once spooled */
        size_t max_messages;       /* default 100000 */
        size_t max_bytes;          /* default 1 GiB */
        char *when_full;           /* "block" (default: stop consuming) | "reject" */
    } spool;
    struct {
        char *listen;                    /* "IPV4:PORT" or "[IPV6]:PORT"; NULL = no HTTP endpoint */
        struct sockaddr_storage address; /* listen, parsed: AF_INET or AF_INET6, port set */
        socklen_t address_len;
    } metrics;
    struct { int workers; } bridge;            /* crypto worker threads (1..256);
                                                  0 (default) = one per online CPU */
} msgsec_config;

/* path: borrowed. *out: caller frees with msgsec_config_free. */
msgsec_err msgsec_config_load(const char *path, msgsec_config **out, msgsec_error *err);
void msgsec_config_free(msgsec_config *cfg);

/* Fills *opts with the receiver options of the configuration (identity,
 * trust, security, replay). Pointers in *opts borrow from cfg. with_key = 0
 * leaves key_file NULL (verify-only receiver, as a broker plugin). */
void msgsec_config_receiver_opts(const msgsec_config *cfg, int with_key,
                                 msgsec_receiver_opts *opts);

/* MQTT topic filter match with + and # (MQTT 3.1.1 section 4.7). */
int msgsec_topic_match(const char *filter, const char *topic);
/* Shell-style glob (* and ?) match, used for `senders`. */
int msgsec_glob_match(const char *pattern, const char *text);
/* 1 if identity matches one of globs (or n == 0). */
int msgsec_senders_allow(char *const *globs, size_t n, const char *identity);

#ifdef __cplusplus
}
#endif
#endif /* MSGSEC_CONFIG_H */

/* kerberos.h - the `windows` credential: Kerberos v5 (WSS Kerberos Token
 * Profile 1.1, ValueType WSS_KERBEROS_APREQ), MIT krb5 (internal).
 *
 * Sender:   krb_init() -> GSS-API initial context token (the AP-REQ in GSS
 *           framing, RFC 4121 section 4.1) for the service principal, from the
 *           credential cache ($KRB5CCNAME), plus the session key.
 * Receiver: krb_accept() -> client principal, session key and ticket times,
 *           from the service keytab; then krb_ticket_rule() once the message
 *           Created time is authenticated.
 * Both:     krb_derive_keys() -> the HMAC-SHA256 signing key and the
 *           AES-256-GCM content key of one message.
 *
 * The session key is the key GSS-API reports as GSS_C_INQ_SSPI_SESSION_KEY:
 * the authenticator subkey the initiator chose (each token carries a fresh
 * one), else the ticket session key. Each message carries its own AP-REQ, so
 * every message has its own keys. */
#ifndef MSGSEC_KERBEROS_H
#define MSGSEC_KERBEROS_H

#include "internal.h"

#define KRB_MAX_TOKEN 65536  /* a larger token is MSGSEC_E_MALFORMED */
#define KRB_MAX_KEY 64       /* bytes of the largest session key we accept */
#define KRB_DERIVED_KEY_LEN 32

/* Result of krb_init. Caller releases it with krb_initiated_clear. */
typedef struct krb_initiated {
    uint8_t *token;            /* GSS initial context token (malloc) */
    size_t token_len;
    uint8_t key[KRB_MAX_KEY];  /* session key */
    size_t key_len;
    time_t ticket_end;         /* end time of the service ticket */
} krb_initiated;

/* Obtains (from the KDC when not cached) a service ticket for
 * service_principal ("msgsec/orders@EXAMPLE.COM"; no realm = default realm)
 * with the default credential cache and builds the AP-REQ token. Flags: no
 * mutual authentication (there is no reply on a queue), confidentiality and
 * integrity. service_principal: borrowed. No credentials, an unknown service
 * or an unreachable KDC: MSGSEC_E_USAGE. */
msgsec_err krb_init(const char *service_principal, krb_initiated *out, msgsec_error *err);
/* Wipes the key and frees the token. */
void krb_initiated_clear(krb_initiated *in);

/* Structure check a broker can do without the keytab (README
 * "Credentials": structure only): the token is a GSS-API initial context token of the
 * krb5 mechanism carrying an AP-REQ, within KRB_MAX_TOKEN. token: borrowed.
 * MSGSEC_E_MALFORMED otherwise. */
msgsec_err krb_token_check(const uint8_t *token, size_t token_len, msgsec_error *err);

/* Result of krb_accept. Caller releases it with krb_accepted_clear. */
typedef struct krb_accepted {
    char *client;              /* "alice@EXAMPLE.COM" (malloc) */
    char *service;             /* the ticket's server principal (malloc) */
    uint8_t key[KRB_MAX_KEY];  /* session key */
    size_t key_len;
    time_t ticket_start, ticket_end;
    time_t authenticator_time; /* when the initiator built the token */
} krb_accepted;

/* Decrypts and checks the AP-REQ of a GSS initial context token with the
 * keys of keytab (any principal in it) as if the current time were at_time
 * (0 = now). The receiver passes the message's wsu:Created, so a ticket that
 * was valid when the message was sent is accepted here even if it has expired
 * since; krb_ticket_rule then decides whether the queue delay is acceptable.
 * The authenticator time must be within the krb5 clock skew of at_time.
 * MIT's replay cache is not used (msgsec keeps its own, by MessageID).
 * keytab, token: borrowed.
 * Errors: bad framing MSGSEC_E_MALFORMED; ticket for a principal not in the
 * keytab MSGSEC_E_DECRYPT; integrity failure, wrong key version, skewed
 * authenticator MSGSEC_E_AUTH; ticket not yet valid or expired at at_time
 * MSGSEC_E_EXPIRED; unreadable keytab MSGSEC_E_USAGE. */
msgsec_err krb_accept(const char *keytab, const uint8_t *token, size_t token_len,
                      time_t at_time, krb_accepted *out, msgsec_error *err);
void krb_accepted_clear(krb_accepted *acc);

/* The ticket-lifetime rule for queued messages (pure).
 *  - ticket_end >= now: ok (the ticket is still valid when consumed);
 *  - created > ticket_end: MSGSEC_E_EXPIRED, "Kerberos ticket had expired
 *    when the message was sent";
 *  - now - ticket_end <= grace (grace > 0): ok, the message was sent while
 *    the ticket was valid and waited in a queue no longer than the grace;
 *  - otherwise MSGSEC_E_EXPIRED, "Kerberos ticket expired before the message
 *    was consumed".
 * grace <= 0 means no grace (the default). The caller bounds grace by max_age. */
msgsec_err krb_ticket_rule(time_t created, time_t ticket_end, time_t now, long grace,
                           msgsec_error *err);

/* HKDF-SHA256 (RFC 5869, no salt) of the session key with the info labels
 * "msgsec kerberos signing key" and "msgsec kerberos encryption key".
 * sign_key: HMAC-SHA256 key; enc_key: AES-256-GCM key. Caller wipes both. */
msgsec_err krb_derive_keys(const uint8_t *session_key, size_t key_len,
                           uint8_t sign_key[KRB_DERIVED_KEY_LEN],
                           uint8_t enc_key[KRB_DERIVED_KEY_LEN], msgsec_error *err);

#endif

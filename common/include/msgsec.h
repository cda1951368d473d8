/* msgsec.h - public API of libmsgsec, the message-security core.
 *
 * A sender wraps payload bytes into a SOAP 1.2 envelope secured with
 * WS-Security 1.1 for one receiving service; a receiver unwraps (full check
 * and decryption, needs the service key) or verifies (what a broker can check
 * without the service key). See SPEC.md section 2 for the wire format.
 *
 * Conventions:
 *  - every function that can fail returns a msgsec_err (0 = ok) and, when the
 *    caller passes a non-NULL msgsec_error, fills it with the code and a one-line
 *    detail message that never contains secrets or plaintext;
 *  - the library never prints;
 *  - "borrowed" parameters are only read during the call; "takes ownership"
 *    ones are freed by the callee; out-parameters documented as "caller frees"
 *    are released with the named function.
 *  - handles are not thread-safe; use one per thread (they are cheap to share
 *    read-only configuration from, but wrap/unwrap mutate per-handle caches).
 */
#ifndef MSGSEC_H
#define MSGSEC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Error classes; the numeric values are the `msgsec` command's exit codes. */
typedef enum msgsec_err {
    MSGSEC_OK = 0,
    MSGSEC_E_INTERNAL = 1,  /* internal error (out of memory, library failure) */
    MSGSEC_E_USAGE = 2,     /* usage or configuration error */
    MSGSEC_E_MALFORMED = 3, /* malformed or over limits */
    MSGSEC_E_AUTH = 4,      /* authentication failed */
    MSGSEC_E_EXPIRED = 5,   /* expired or not yet valid */
    MSGSEC_E_REPLAY = 6,    /* message already accepted */
    MSGSEC_E_DECRYPT = 7,   /* cannot decrypt (not addressed to this service) */
    MSGSEC_E_POLICY = 8     /* policy violation */
} msgsec_err;

/* Short static description of an error class ("authentication failed"). */
const char *msgsec_strerror(msgsec_err code);

#define MSGSEC_DETAIL_MAX 256
typedef struct msgsec_error {
    msgsec_err code;
    char detail[MSGSEC_DETAIL_MAX]; /* one line, NUL-terminated */
} msgsec_error;

/* Process-wide set-up (libxml2 parser, silent error handlers). Idempotent;
 * call once before any other function from the main thread. */
msgsec_err msgsec_global_init(msgsec_error *err);
void msgsec_global_cleanup(void);

/* Credential types of SPEC section 3. */
typedef enum msgsec_credential {
    MSGSEC_CRED_NONE = 0,
    MSGSEC_CRED_CERTIFICATE = 1,
    MSGSEC_CRED_USERNAME = 2,
    MSGSEC_CRED_WINDOWS = 3,
    MSGSEC_CRED_ISSUED = 4
} msgsec_credential;
#define MSGSEC_CRED_BIT(c) (1u << (unsigned)(c))
#define MSGSEC_CRED_ALL 0x1fu

/* "none", "certificate", ...; NULL for an unknown value. */
const char *msgsec_credential_name(msgsec_credential cred);
/* name: borrowed. Returns MSGSEC_E_USAGE for an unknown name. */
msgsec_err msgsec_credential_parse(const char *name, msgsec_credential *out);

/* Frees a buffer or string returned by the library. */
void msgsec_free(void *ptr);
/* Wipes then frees a buffer that held plaintext or secrets. */
void msgsec_free_secret(void *ptr, size_t len);

/* ------------------------------------------------------------------ sender */

typedef struct msgsec_sender msgsec_sender;

typedef struct msgsec_sender_opts {
    msgsec_credential credential;  /* default certificate is the caller's job */
    const char *cert_file;         /* PEM client certificate (certificate, issued) */
    const char *key_file;          /* PEM private key; refused if group/other readable */
    const char *username;          /* username credential */
    const char *password;          /* username credential; copied, caller wipes its copy */
    const char *service_principal; /* windows credential, e.g. "msgsec/orders@EXAMPLE.COM" */
    const char *token_file;        /* issued credential: SAML 2.0 assertion */
    const char *service_cert_file; /* required: PEM certificate of the receiving service */
    const char *suite;             /* NULL = "basic256sha256" */
    long ttl_seconds;              /* Expires - Created; 0 = 86400 */
} msgsec_sender_opts;

/* Loads every key and certificate once. opts and its strings: borrowed.
 * *out: caller frees with msgsec_sender_free. */
msgsec_err msgsec_sender_new(const msgsec_sender_opts *opts, msgsec_sender **out,
                             msgsec_error *err);
/* Wipes keys and frees. NULL is a no-op. */
void msgsec_sender_free(msgsec_sender *sender);

typedef struct msgsec_wrap_params {
    const char *to;           /* wsa:To; NULL = "urn:msgsec:service" */
    const char *action;       /* wsa:Action; NULL = "urn:msgsec:message" */
    const char *content_type; /* payload media type; NULL = application/octet-stream.
                                 application/xml, text/xml, *+xml: payload goes into the
                                 Body as XML and must be a well-formed element */
    const char *message_id;   /* wsa:MessageID; NULL = fresh urn:uuid */
    time_t now;               /* Created; 0 = current time */
} msgsec_wrap_params;

/* Secures payload[0..len) for the service. params: borrowed, may be NULL.
 * *out (not NUL-terminated, *out_len bytes): caller frees with msgsec_free. */
msgsec_err msgsec_wrap(msgsec_sender *sender, const msgsec_wrap_params *params,
                       const uint8_t *payload, size_t len, uint8_t **out, size_t *out_len,
                       msgsec_error *err);

/* ---------------------------------------------------------------- receiver */

typedef struct msgsec_receiver msgsec_receiver;

typedef struct msgsec_receiver_opts {
    const char *cert_file;               /* the service's certificate */
    const char *key_file;                /* the service's key; NULL = verify-only receiver */
    const char *const *ca_files;         /* trusted CA certificates (PEM) */
    size_t n_ca_files;
    const char *const *crl_files;        /* CRLs (PEM); when given, CRL checks are on */
    size_t n_crl_files;
    const char *const *issuer_files;     /* trusted token-issuer certificates (SAML) */
    size_t n_issuer_files;
    const char *users_file;              /* password store (username credential) */
    const char *keytab_file;             /* Kerberos keytab (windows credential) */
    const char *expected_to;             /* wsa:To must equal this; NULL = not checked */
    long max_age;                        /* seconds since Created; 0 = 86400 */
    long clock_skew;                     /* seconds; 0 = 300; < 0 means 0 */
    long ticket_grace;                   /* windows: accept a ticket expired while queued
                                            for this long after expiry (<= max_age); 0 = refuse */
    size_t max_message_bytes;            /* 0 = 1048576 */
    unsigned accepted_credentials;       /* MSGSEC_CRED_BIT mask; 0 = all */
    const char *suite;                   /* NULL = "basic256sha256" */
    const char *replay_path;             /* LMDB directory for a persistent replay cache;
                                            NULL = in-memory cache */
    const msgsec_receiver *replay_shared_with; /* NULL, or a receiver whose replay cache this
                                            one uses too (borrowed, only during the call):
                                            one cache, checked and updated atomically for
                                            receivers used by different threads, that lives
                                            until the last of them is freed. replay_path must
                                            then be NULL (MSGSEC_E_USAGE otherwise) */
} msgsec_receiver_opts;

/* Loads keys, trust and the replay cache. opts and its strings: borrowed.
 * *out: caller frees with msgsec_receiver_free. */
msgsec_err msgsec_receiver_new(const msgsec_receiver_opts *opts, msgsec_receiver **out,
                               msgsec_error *err);
void msgsec_receiver_free(msgsec_receiver *receiver);

/* Security context of an accepted message (WCF's ServiceSecurityContext). */
typedef struct msgsec_context msgsec_context;

/* Full check and decryption. Writes the payload only after every check
 * passed. envelope: borrowed. *payload (binary, *payload_len bytes): caller
 * frees with msgsec_free_secret. *ctx (may pass NULL): caller frees with
 * msgsec_context_free. */
msgsec_err msgsec_unwrap(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                         uint8_t **payload, size_t *payload_len, msgsec_context **ctx,
                         msgsec_error *err);

/* What a broker can check without the service key (SPEC section 3, last
 * column): structure, limits, freshness, replay and, for asymmetric
 * credentials, signature, chain and sender identity. Works with a
 * verify-only receiver. envelope: borrowed. *ctx: as for msgsec_unwrap. */
msgsec_err msgsec_verify(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                         msgsec_context **ctx, msgsec_error *err);

/* What a route or topic requires of a message's sender, on top of the
 * receiver's checks. Checked once the sender is authenticated, before the
 * body is decrypted and before the message uses up its replay entry, so a
 * copy refused here stays acceptable once where it is allowed. All fields
 * borrowed. */
typedef struct msgsec_policy {
    char *const *senders;      /* identity globs (SPEC section 5 `senders`); n_senders 0 = anyone */
    size_t n_senders;
    const uint8_t *signer_der; /* NULL, or the certificate (DER) that must have signed the
                                  message (a broker's bind_transport) */
    size_t signer_der_len;
} msgsec_policy;
/* A refusal by policy is MSGSEC_E_POLICY; its detail starts with
 * MSGSEC_SENDER_REFUSED when the sender is outside the globs or has no
 * verifiable identity (a symmetric credential at a broker). */
#define MSGSEC_SENDER_REFUSED "sender "
/* msgsec_unwrap / msgsec_verify with a policy (NULL = none). */
msgsec_err msgsec_unwrap_with(msgsec_receiver *receiver, const msgsec_policy *policy,
                              const uint8_t *envelope, size_t len, uint8_t **payload,
                              size_t *payload_len, msgsec_context **ctx, msgsec_error *err);
msgsec_err msgsec_verify_with(msgsec_receiver *receiver, const msgsec_policy *policy,
                              const uint8_t *envelope, size_t len, msgsec_context **ctx,
                              msgsec_error *err);

/* Override the receiver's clock (tests and benchmarks); 0 = real time. */
void msgsec_receiver_set_time(msgsec_receiver *receiver, time_t now);

void msgsec_context_free(msgsec_context *ctx);
/* Accessors return borrowed strings valid until msgsec_context_free; NULL if absent. */
msgsec_credential msgsec_context_credential(const msgsec_context *ctx);
const char *msgsec_context_identity(const msgsec_context *ctx);
const char *msgsec_context_issuer(const msgsec_context *ctx);
const char *msgsec_context_message_id(const msgsec_context *ctx);
const char *msgsec_context_to(const msgsec_context *ctx);
const char *msgsec_context_action(const msgsec_context *ctx);
const char *msgsec_context_content_type(const msgsec_context *ctx);
const char *msgsec_context_created(const msgsec_context *ctx);  /* xsd:dateTime */
const char *msgsec_context_expires(const msgsec_context *ctx);  /* xsd:dateTime */
const char *msgsec_context_signature_algorithm(const msgsec_context *ctx); /* URI */
/* DER of the signing certificate (certificate/issued), for TLS binding; NULL otherwise. */
const uint8_t *msgsec_context_signer_cert_der(const msgsec_context *ctx, size_t *len);
size_t msgsec_context_claim_count(const msgsec_context *ctx);
/* index < claim_count; *key and *value borrowed. */
void msgsec_context_claim(const msgsec_context *ctx, size_t index, const char **key,
                          const char **value);
/* The JSON object of SPEC section 4. *json: caller frees with msgsec_free. */
msgsec_err msgsec_context_json(const msgsec_context *ctx, char **json, msgsec_error *err);

/* ------------------------------------------------------------------ others */

/* Unverified summary of an envelope as JSON (never decrypts).
 * envelope: borrowed. *json: caller frees with msgsec_free. */
msgsec_err msgsec_inspect(const uint8_t *envelope, size_t len, size_t max_bytes, char **json,
                          msgsec_error *err);

#ifdef __cplusplus
}
#endif
#endif /* MSGSEC_H */

/* msgsec.h - public API of libmsgsec, the message-security core.
 *
 * A sender wraps payload bytes into a SOAP 1.2 envelope secured with
 * WS-Security 1.1 for one receiving service; a receiver unwraps (full check
 * and decryption, needs the service key) or verifies (what a broker can check
 * without the service key). The wire format and the receiver's rules are in
 * docs/DESIGN.md; the commands, exit codes and configuration in README.md.
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
    int transient; /* 1: the failure lies in the service's own state, not in the message
                      (the persistent replay store is full: MSGSEC_E_INTERNAL). The same
                      message may be accepted later, so a queue consumer should leave it
                      unacknowledged (to be delivered again) rather than drop or
                      dead-letter it. */
} msgsec_error;

/* Process-wide set-up (libxml2 parser, silent error handlers). Idempotent;
 * call once before any other function from the main thread. */
msgsec_err msgsec_global_init(msgsec_error *err);
void msgsec_global_cleanup(void);

/* Credential types (README "Credentials"). */
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
    size_t max_xml_bytes;          /* an XML payload (see content_type) is parsed: one larger
                                      than this is refused before parsing; 0 = 1048576 (the
                                      receivers' default max_message_bytes) */
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
                                 Body as XML and must be one well-formed element, parsed
                                 as untrusted input: no DOCTYPE (so no entities), at most
                                 max_xml_bytes, nested at most 62 deep; else
                                 MSGSEC_E_MALFORMED */
    const char *message_id;   /* wsa:MessageID; NULL = fresh urn:uuid */
    time_t now;               /* Created; 0 = current time */
    long ttl_seconds;         /* Expires - Created for this message; 0 = the sender's */
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
    size_t replay_max_bytes;             /* its size: the address space LMDB maps at open
                                            and the most the file grows to; one entry per
                                            512 bytes (a message accepted within max_age).
                                            0 = 64 MiB (131072 entries); 1 MiB..1 TiB, the
                                            same for every receiver of a process that opens
                                            this directory (else MSGSEC_E_USAGE). When it is
                                            full once expired entries are purged, a message
                                            is refused: MSGSEC_E_INTERNAL, err->transient */
    int protect_tokens;                  /* 1 = the signature must cover the signing token
                                            (WS-SecurityPolicy sp:ProtectTokens) and, for the
                                            certificate and issued credentials, the
                                            EncryptedKey; 0 = a certificate message whose BST
                                            or EncryptedKey is unsigned is accepted (the
                                            defaults of WSS4J and WCF senders; docs/DESIGN.md
                                            receiver rule 6) */
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

/* What a broker can check without the service key (README "Credentials",
 * last column): structure, limits and algorithms always; for the asymmetric
 * credentials (certificate, issued) also the signature, the signer's chain
 * (and the issuer's assertion), freshness, replay and the sender identity.
 * Works with a verify-only receiver. envelope: borrowed. *ctx: as for
 * msgsec_unwrap.
 *
 * Success does not mean the same for every credential: read
 * msgsec_context_verified. For none, username and windows a broker holds no
 * key that could check the signature (an HMAC under a key only the service
 * can recover), so success is MSGSEC_VERIFIED_STRUCTURE: nothing
 * authenticated the sender, and the context then has no identity and no
 * issuer (NULL) rather than an unauthenticated claim; a policy with senders
 * refuses such a message. */
msgsec_err msgsec_verify(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                         msgsec_context **ctx, msgsec_error *err);

/* What the receiver checked before it accepted a message, weakest first. */
typedef enum msgsec_verified {
    MSGSEC_VERIFIED_STRUCTURE = 0, /* "structure": msgsec_verify of none, username or
                                      windows: well-formed, allowed algorithms and credential
                                      type; no identity, nothing authenticated */
    MSGSEC_VERIFIED_SIGNER = 1,    /* "signer": msgsec_verify of certificate or issued: the
                                      signer is authenticated (signature, chain, assertion),
                                      fresh, not a replay; the body was not decrypted */
    MSGSEC_VERIFIED_FULL = 2       /* "full": msgsec_unwrap: every check, body decrypted */
} msgsec_verified;
/* "structure", "signer", "full"; NULL for an unknown value. */
const char *msgsec_verified_name(msgsec_verified verified);

/* What a route or topic requires of a message's sender, on top of the
 * receiver's checks. Checked once the sender is authenticated, before the
 * body is decrypted and before the message uses up its replay entry, so a
 * copy refused here stays acceptable once where it is allowed. All fields
 * borrowed. */
typedef struct msgsec_policy {
    char *const *senders;      /* identity globs (configuration `senders`); n_senders 0 = anyone */
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

/* Two-phase acceptance, for a queue consumer that acknowledges a message only
 * once its handler has processed it (at-least-once delivery, exactly-once
 * effect). msgsec_unwrap_deferred is msgsec_unwrap except that the replay
 * entry is only looked up (MSGSEC_E_REPLAY if it is recorded already), not
 * recorded: ctx is required and carries it. Once the message is processed,
 * msgsec_replay_commit records it, before the message is acknowledged to its
 * queue. A process that dies in between has recorded nothing, so the copy the
 * broker redelivers is accepted and processed again; a copy that arrives
 * after the commit is a replay. Two copies unwrapped at once (by two
 * consumers sharing one store) are both accepted: the second commit returns
 * MSGSEC_E_REPLAY. */
msgsec_err msgsec_unwrap_deferred(msgsec_receiver *receiver, const uint8_t *envelope, size_t len,
                                  uint8_t **payload, size_t *payload_len, msgsec_context **ctx,
                                  msgsec_error *err);
/* Records the replay entry of ctx (from msgsec_unwrap_deferred on receiver, or
 * on a receiver sharing its replay store). MSGSEC_E_REPLAY if another copy was
 * recorded meanwhile; MSGSEC_E_USAGE if ctx has no entry waiting (from
 * msgsec_unwrap or msgsec_verify, or committed already). ctx: borrowed. */
msgsec_err msgsec_replay_commit(msgsec_receiver *receiver, msgsec_context *ctx,
                                msgsec_error *err);

/* Override the receiver's clock (tests and benchmarks); 0 = real time. */
void msgsec_receiver_set_time(msgsec_receiver *receiver, time_t now);

void msgsec_context_free(msgsec_context *ctx);
/* Accessors return borrowed strings valid until msgsec_context_free; NULL if absent. */
msgsec_credential msgsec_context_credential(const msgsec_context *ctx);
/* What was checked (see msgsec_verify); authorize on identity only when it is
 * at least MSGSEC_VERIFIED_SIGNER. */
msgsec_verified msgsec_context_verified(const msgsec_context *ctx);
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
/* The JSON object of `msgsec unwrap --context` (README): credential_type,
 * verified, identity, issuer, claims, message_id, to, action, content_type,
 * created, expires, signature_algorithm; absent values are null.
 * *json: caller frees with msgsec_free. */
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

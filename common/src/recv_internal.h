/* recv_internal.h - receiver internals shared by receiver.c, recv_*.c,
 * replay.c, context.c and inspect.c (not installed). */
#ifndef MSGSEC_RECV_INTERNAL_H
#define MSGSEC_RECV_INTERNAL_H

#include "internal.h"
#include "passwd.h"
#include "saml.h"
#include "xml.h"

/* Security context of an accepted message; every string owned (free()). */
struct msgsec_context {
    msgsec_credential credential;
    msgsec_verified verified;   /* MSGSEC_VERIFIED_STRUCTURE until the receiver says more */
    char *identity, *issuer;
    char *message_id, *to, *action, *content_type;
    char *created, *expires;
    char *signature_algorithm;
    uint8_t *signer_der;
    size_t signer_der_len;
    char **claim_keys, **claim_values;
    size_t n_claims;
    /* msgsec_unwrap_deferred: the replay entry msgsec_replay_commit records */
    int replay_pending;
    uint8_t replay_key[32]; /* REPLAY_KEY_LEN */
    time_t replay_until;
};

/* Allocates an empty context; NULL when out of memory. */
msgsec_context *context_new(void);
/* Copies key/value (borrowed) into the claims; -1 when out of memory. */
int context_add_claim(msgsec_context *ctx, const char *key, const char *value);
/* JSON string literal of s (null when s is NULL), RFC 8259 escaping. */
void json_put_string(strbuf *sb, const char *s);
/* ,"name":"value" */
void json_put_field(strbuf *sb, const char *name, const char *value);

/* ---- replay cache (replay.c): LMDB directory or in-memory hash table ---- */
typedef struct replay_store replay_store;
#define REPLAY_KEY_LEN 32
/* A persistent store of max_bytes (0 = MSGSEC_DEFAULT_REPLAY_BYTES) holds
 * max_bytes / REPLAY_BYTES_PER_ENTRY entries (see replay.c). */
#define REPLAY_BYTES_PER_ENTRY 512
/* path NULL = in memory (max_bytes unused). A directory already open in
 * this process with another max_bytes is MSGSEC_E_USAGE. *out: free with
 * replay_close. */
msgsec_err replay_open(const char *path, size_t max_bytes, replay_store **out, msgsec_error *err);
/* One more reference to store (for another receiver); returns store. */
replay_store *replay_share(replay_store *store);
/* Drops a reference; the last one closes the store. */
void replay_close(replay_store *store);
/* Atomically (also across threads sharing the store): MSGSEC_E_REPLAY if key is recorded and not expired at now;
 * otherwise records it until `until` and returns MSGSEC_OK. A full store
 * (after purging what expired) records nothing: MSGSEC_E_INTERNAL with
 * err->transient set. */
msgsec_err replay_check_and_insert(replay_store *store, const uint8_t key[REPLAY_KEY_LEN],
                                   time_t until, time_t now, msgsec_error *err);
/* MSGSEC_E_REPLAY if key is recorded and not expired at now; records nothing. */
msgsec_err replay_check(replay_store *store, const uint8_t key[REPLAY_KEY_LEN], time_t now,
                        msgsec_error *err);

/* ---- certificate trust (recv_trust.c) ---- */
/* A recently seen signer certificate: parsing one costs more than an RSA
 * verification in OpenSSL 3, and chain verification more still. */
typedef struct signer_cache_entry {
    char *b64;                      /* the BinarySecurityToken's text when first seen */
    size_t b64_len;
    uint8_t *der;                   /* its exact DER */
    size_t der_len;
    X509 *cert;                     /* parsed once; callers take a reference */
    char *subject, *issuer;         /* RFC 2253 DNs, formatted once */
    EVP_PKEY_CTX *verify_ctx;       /* set up once for SHA-256 signatures; NULL until used */
    time_t valid_from, valid_until; /* window where the verified chain stays valid;
                                       valid_until 0 = chain not verified */
} signer_cache_entry;
#define SIGNER_CACHE_SIZE 16

struct msgsec_receiver {
    X509 *cert;                  /* service certificate (NULL: verify-only without one) */
    EVP_PKEY *key;               /* service key (NULL: verify-only) */
    uint8_t cert_thumbprint[20];
    X509_STORE *store;           /* CAs and CRLs, built once */
    STACK_OF(X509) *issuers;     /* trusted SAML token issuers */
    char *keytab;                /* windows credential */
    passwd_store *users;         /* username credential */
    long ticket_grace;
    STACK_OF(X509_CRL) *crls;    /* borrowed view for validity windows */
    char *expected_to;
    long max_age, skew;
    size_t max_bytes;
    unsigned accepted;           /* MSGSEC_CRED_BIT mask */
    int protect_tokens;          /* the signature must cover the tokens (DESIGN.md rule 6) */
    time_t fixed_now;            /* 0 = real time */
    replay_store *replay;
    xml_parser *parser;          /* reused for every envelope */
    EVP_MD *sha256;              /* fetched once */
    EVP_MD_CTX *md;              /* SHA-256 of references, SignedInfo and the replay key:
                                    one context reused saves its set-up per digest */
    signer_cache_entry signers[SIGNER_CACHE_SIZE];
    size_t signers_next;
};

/* The certificate of a BinarySecurityToken's base64 text b64 (borrowed): from
 * the cache (same text, or same DER after decoding) or parsed and cached.
 * *out: a new reference, caller frees with X509_free. */
msgsec_err trust_cert_from_b64(msgsec_receiver *r, const char *b64, X509 **out,
                               msgsec_error *err);
void trust_cache_free(msgsec_receiver *r);

/* Subject and issuer DN (RFC 2253) and DER of cert, from the cache when it
 * holds cert. Each out-parameter may be NULL; caller frees with free(). */
msgsec_err trust_cert_identity(msgsec_receiver *r, X509 *cert, char **subject, char **issuer,
                               uint8_t **der, size_t *der_len, msgsec_error *err);

/* An EVP_PKEY_CTX ready for EVP_PKEY_verify of a SHA-256 digest with cert's
 * key (RSA PKCS#1 v1.5 or ECDSA): the cached one (*owned = 0) or a new one
 * the caller frees with EVP_PKEY_CTX_free (*owned = 1). */
msgsec_err trust_verify_ctx(msgsec_receiver *r, X509 *cert, EVP_PKEY_CTX **out, int *owned,
                            msgsec_error *err);

/* Chain of cert to the configured CAs (and CRLs) at now, key usage.
 * Untrusted/revoked -> MSGSEC_E_AUTH, expired/not yet valid -> MSGSEC_E_EXPIRED. */
msgsec_err trust_verify_cert(msgsec_receiver *r, X509 *cert, time_t now, msgsec_error *err);

/* ---- one message being processed ---- */
#define RECV_MAX_KEYS 4
#define RECV_MAX_REFS 32

/* Keys a token gave us: an EncryptedKey's content key (which is also the
 * HMAC key of the none credential) or the keys derived from a Kerberos
 * AP-REQ (signing and content keys differ). */
typedef struct recv_key {
    xmlNodePtr source;        /* the xenc:EncryptedKey or BinarySecurityToken */
    uint8_t key[32];          /* content key */
    size_t len;
    uint8_t sign_key[32];     /* HMAC key of the message signature */
    size_t sign_len;
} recv_key;

typedef struct recv_msg {
    msgsec_receiver *r;
    int full;                /* 1 = unwrap (decrypts), 0 = verify (broker) */
    int defer_replay;        /* msgsec_unwrap_deferred: look up, leave the entry in ctx */
    const msgsec_policy *policy; /* the caller's; NULL = none */
    time_t now;
    xmlDocPtr doc;
    xml_ids ids;
    xmlNodePtr envelope, header, body, security;
    xmlNodePtr to, action, message_id, timestamp, signature;
    xmlNodePtr user_token;   /* username: the Security header's encrypted UsernameToken */
    char *username;
    /* signature results */
    msgsec_credential credential;
    int signature_checked;   /* the signature value was verified cryptographically */
    const char *signature_algorithm; /* borrowed from the tree */
    X509 *signer;            /* certificate: the BST's certificate; issued: the holder's */
    saml_assertion *assertion; /* issued credential */
    char *krb_client;        /* windows credential: client principal */
    time_t krb_ticket_end;
    xmlNodePtr token;        /* the signing token (BST, EncryptedKey or Assertion) */
    xmlNodePtr body_key;     /* the token the Body's EncryptedData takes its key from */
    xmlNodePtr signed_nodes[RECV_MAX_REFS];
    size_t n_signed;
    /* decryption */
    recv_key keys[RECV_MAX_KEYS];
    size_t n_keys;
    int sign_then_encrypt;   /* plaintext XML was put back into the Body */
    uint8_t *payload;        /* decrypted payload (wiped on free) */
    size_t payload_len;
    char *content_type;
} recv_msg;

/* receiver.c: SOAP Envelope with one Header and one Body, one wsse:Security
 * header, at most one wsa:To/Action/MessageID; fills envelope, header, body,
 * security, to, action, message_id. */
msgsec_err recv_check_envelope(recv_msg *m, msgsec_error *err);

/* recv_sig.c: checks the Signature (algorithms, references, key, value) and
 * fills credential, signer, token, signed_nodes. In verify mode a symmetric
 * signature is checked for structure and algorithms only. */
msgsec_err sig_process(recv_msg *m, msgsec_error *err);

/* recv_cred.c: signing tokens of the issued and windows credentials. */
/* Verifies the SAML holder-of-key assertion; m->signer = the holder's certificate. */
msgsec_err cred_issued(recv_msg *m, xmlNodePtr assertion, msgsec_error *err);
/* Accepts the Kerberos AP-REQ in bst (structure only without m->full) and
 * derives the message keys (*sym). */
msgsec_err cred_windows(recv_msg *m, xmlNodePtr bst, const recv_key **sym, msgsec_error *err);
/* username: decrypts the UsernameToken in place and checks its password
 * against the store (after every other check, it costs one scrypt). */
msgsec_err cred_username(recv_msg *m, msgsec_error *err);
/* Text of node without surrounding whitespace; caller frees with free(). */
char *recv_text(xmlNodePtr node);
/* The (not yet authenticated) wsu:Created of the Timestamp. */
msgsec_err recv_created(recv_msg *m, time_t *created, msgsec_error *err);

/* recv_dec.c. The dec_check_* functions are what verify checks without the
 * service key; unwrap's dec_encrypted_* run the same checks first. */
/* An EncryptedKey's structure: allowed key transport (rsa-oaep-mgf1p with a
 * SHA-1 or SHA-256 digest, xmlenc11 rsa-oaep; else 8), a KeyInfo naming the
 * service certificate by thumbprint, issuer and serial, SKI or certificate
 * (malformed 3, none of these 8), a base64 CipherValue (3). */
msgsec_err dec_check_encrypted_key(recv_msg *m, xmlNodePtr ek, msgsec_error *err);
/* Content key carried by an EncryptedKey addressed to our certificate. */
msgsec_err dec_encrypted_key(recv_msg *m, xmlNodePtr ek, const recv_key **out, msgsec_error *err);
/* An EncryptedData's algorithm and Type (8) and the one token that carries
 * its key (3 when none or ambiguous): an EncryptedKey, checked with
 * dec_check_encrypted_key, or a BinarySecurityToken (Kerberos).
 * *token: borrowed from the tree. */
msgsec_err dec_check_encrypted_data(recv_msg *m, xmlNodePtr ed, xmlNodePtr *token,
                                    msgsec_error *err);
/* Decrypts an EncryptedData (its key found as dec_check_encrypted_data
 * finds it). *out: free with msgsec_free_secret. */
msgsec_err dec_encrypted_data(recv_msg *m, xmlNodePtr ed, uint8_t **out, size_t *out_len,
                              msgsec_error *err);
/* 1 when the element's type says it holds XML (Type=#Content or #Element). */
int dec_is_xml(xmlNodePtr ed);

/* Decodes base64 text of node into *out (caller frees with free()). */
msgsec_err recv_b64_child(xmlNodePtr node, const char *what, uint8_t **out, size_t *len,
                          msgsec_error *err);
/* The same into buf (cap bytes) when the value fits, without allocating:
 * *out is then buf, else a copy the caller frees with free(). */
msgsec_err recv_b64_child_buf(xmlNodePtr node, const char *what, uint8_t *buf, size_t cap,
                              uint8_t **out, size_t *len, msgsec_error *err);

#endif

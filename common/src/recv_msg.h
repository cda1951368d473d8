/* recv_msg.h - the receiver's state (internal): the handle (struct
 * msgsec_receiver, what msgsec_receiver_new set up) and the one message
 * being processed (recv_msg), which the controller (receiver.c) owns and
 * its steps (recv_token.c, recv_sig.c, recv_dec.c, recv_cred.c) fill in.
 * Data only: no function is declared here. */
#ifndef MSGSEC_RECV_MSG_H
#define MSGSEC_RECV_MSG_H

#include "dsig.h"
#include "internal.h"
#include "passwd.h"
#include "recv_envelope.h"
#include "recv_trust.h"
#include "replay.h"
#include "saml.h"
#include "xml.h"

struct msgsec_receiver {
    X509 *cert;                  /* service certificate (NULL: verify-only without one) */
    EVP_PKEY *key;               /* service key (NULL: verify-only) */
    uint8_t cert_thumbprint[20];
    recv_trust trust;            /* CAs, CRLs, token issuers, signer cache */
    char *keytab;                /* windows credential */
    passwd_store *users;         /* username credential */
    long ticket_grace;
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
};

#define RECV_MAX_KEYS 4
#define RECV_MAX_REFS DSIG_MAX_REFS

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
    recv_envelope env;       /* Envelope, Header, Body, Security, wsa:To/Action/MessageID */
    xmlNodePtr timestamp, signature;
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
} recv_msg;

#endif

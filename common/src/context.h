/* context.h - the security context of an accepted message (internal,
 * context.c): filled by the receiver, read through msgsec.h's accessors;
 * and the JSON writing that the context and msgsec_inspect share. */
#ifndef MSGSEC_CONTEXT_H
#define MSGSEC_CONTEXT_H

#include "internal.h"

/* Every string owned (free()). */
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

#endif

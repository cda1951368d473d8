/* recv_envelope.h - the receiver's leaf (internal): the shape of a SOAP
 * envelope, mustUnderstand, and the readers of element content that every
 * step uses (trimmed text, base64, wsu:Created). It calls nothing of the
 * receiver: the controller (receiver.c), the steps (recv_*.c), the XML-DSig
 * verifier (dsig.c) and msgsec_inspect build on it. */
#ifndef MSGSEC_RECV_ENVELOPE_H
#define MSGSEC_RECV_ENVELOPE_H

#include "internal.h"
#include "xml.h"

/* The parts of a SOAP 1.2 or 1.1 envelope the receiver reads (borrowed
 * from the tree; to, action, message_id NULL when absent). */
typedef struct recv_envelope {
    xmlNodePtr envelope, header, body, security;
    xmlNodePtr to, action, message_id;
} recv_envelope;

/* DESIGN.md rule 2: a SOAP Envelope with exactly one Header and one Body,
 * one wsse:Security header, at most one wsa:To/Action/MessageID; fills *out
 * (MSGSEC_E_MALFORMED otherwise). */
msgsec_err recv_check_envelope(xmlDocPtr doc, recv_envelope *out, msgsec_error *err);

/* DESIGN.md rule 2: a header block for this node with mustUnderstand true
 * that msgsec does not process is MSGSEC_E_POLICY; a mustUnderstand value
 * that is not an xs:boolean, on any block, is MSGSEC_E_MALFORMED. */
msgsec_err recv_check_must_understand(const recv_envelope *env, msgsec_error *err);

/* Text of node (may be NULL) without surrounding whitespace; NULL when node
 * is NULL or out of memory. Caller frees with free(). */
char *recv_text(xmlNodePtr node);

/* The (not yet authenticated) wsu:Created of timestamp (the Security
 * header's wsu:Timestamp; NULL: MSGSEC_E_POLICY, no Timestamp). */
msgsec_err recv_created(xmlNodePtr timestamp, time_t *created, msgsec_error *err);

/* Decodes the base64 text of node (NULL: MSGSEC_E_MALFORMED "missing
 * <what>") into *out (caller frees with free()). */
msgsec_err recv_b64_child(xmlNodePtr node, const char *what, uint8_t **out, size_t *len,
                          msgsec_error *err);
/* The same into buf (cap bytes) when the value fits, without allocating:
 * *out is then buf, else a copy the caller frees with free(). */
msgsec_err recv_b64_child_buf(xmlNodePtr node, const char *what, uint8_t *buf, size_t cap,
                              uint8_t **out, size_t *len, msgsec_error *err);

#endif

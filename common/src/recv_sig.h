/* recv_sig.h - the message signature step (internal, recv_sig.c). */
#ifndef MSGSEC_RECV_SIG_H
#define MSGSEC_RECV_SIG_H

#include "recv_msg.h"

/* Checks m->signature (DESIGN.md receiver rules 3, 4): the XML-DSig
 * allow-lists (dsig.c), the signing token (recv_token.c) and the key it
 * gives (the certificate, an issued assertion's holder, a Kerberos or
 * EncryptedKey key), the algorithm for that key, the value and the digests.
 * Fills credential, signer, assertion, token, signed_nodes,
 * signature_algorithm, signature_checked. In verify mode a symmetric
 * signature is checked for structure and algorithms only. */
msgsec_err sig_process(recv_msg *m, msgsec_error *err);

#endif

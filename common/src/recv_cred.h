/* recv_cred.h - the issued, windows and username credentials on the
 * receiving side (internal, recv_cred.c). */
#ifndef MSGSEC_RECV_CRED_H
#define MSGSEC_RECV_CRED_H

#include "recv_msg.h"

/* Verifies the SAML holder-of-key assertion (saml_verify; audience: the
 * message's wsa:To); m->assertion, m->signer = the holder's certificate. */
msgsec_err cred_issued(recv_msg *m, xmlNodePtr assertion, msgsec_error *err);
/* Accepts the Kerberos AP-REQ in bst (structure only without m->full) and
 * derives the message keys (*sym: one of m->keys; NULL for a broker). */
msgsec_err cred_windows(recv_msg *m, xmlNodePtr bst, const recv_key **sym, msgsec_error *err);
/* username: decrypts the UsernameToken in place and checks its password
 * against the store (after every other check, it costs one scrypt);
 * m->username. */
msgsec_err cred_username(recv_msg *m, msgsec_error *err);

#endif

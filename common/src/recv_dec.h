/* recv_dec.h - XML Encryption on the receiving side (internal, recv_dec.c):
 * EncryptedKey (RSA-OAEP to the service certificate) and EncryptedData
 * (AES-GCM, gcm.h). The dec_check_* functions are what verify checks
 * without the service key; unwrap's dec_encrypted_* run the same checks
 * first. */
#ifndef MSGSEC_RECV_DEC_H
#define MSGSEC_RECV_DEC_H

#include "recv_msg.h"

/* An EncryptedKey's structure: allowed key transport (rsa-oaep-mgf1p with a
 * SHA-1 or SHA-256 digest, xmlenc11 rsa-oaep; else 8), a KeyInfo naming the
 * service certificate by thumbprint, issuer and serial, SKI or certificate
 * (malformed 3, none of these 8), a base64 CipherValue (3). */
msgsec_err dec_check_encrypted_key(recv_msg *m, xmlNodePtr ek, msgsec_error *err);
/* Content key carried by an EncryptedKey addressed to our certificate;
 * *out: one of m->keys. */
msgsec_err dec_encrypted_key(recv_msg *m, xmlNodePtr ek, const recv_key **out, msgsec_error *err);
/* An EncryptedData's algorithm and Type (8) and the one token that carries
 * its key (recv_token_of_data): an EncryptedKey, checked with
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

#endif

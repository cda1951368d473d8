/* gcm.h - AES-GCM as XML Encryption 1.1 frames it (internal): a CipherValue
 * is base64(IV || ciphertext || tag), a 12-byte random IV, a 16-byte tag and
 * no additional data (what WSS4J writes and reads). The sender (wrap.c)
 * encrypts with it, the receiver (recv_dec.c) decrypts. */
#ifndef MSGSEC_GCM_H
#define MSGSEC_GCM_H

#include "internal.h"

#define GCM_IV_LEN 12
#define GCM_TAG_LEN 16

/* Appends base64(IV || AES-GCM ciphertext || tag) of plain[0, len) under
 * key (as long as cipher wants) to sb, a chunk at a time: the ciphertext is
 * never held whole. ctx, cipher: the caller's, reused (borrowed); key, plain:
 * borrowed. Errors: MSGSEC_E_INTERNAL. */
msgsec_err gcm_encrypt_base64(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, const uint8_t *key,
                              const uint8_t *plain, size_t len, strbuf *sb, msgsec_error *err);

/* Decrypts in[0, len) = IV || ciphertext || tag under key (16 bytes:
 * AES-128-GCM, 32: AES-256-GCM; borrowed). *out (NUL-terminated after
 * *out_len bytes): free with msgsec_free_secret. Too short or a tag
 * mismatch: MSGSEC_E_DECRYPT. */
msgsec_err gcm_decrypt(const uint8_t *key, size_t key_len, const uint8_t *in, size_t len,
                       uint8_t **out, size_t *out_len, msgsec_error *err);

#endif

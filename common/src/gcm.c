/* gcm.c - AES-GCM in the framing of gcm.h. Every plaintext buffer is wiped
 * on every path. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "gcm.h"

#define GCM_CHUNK 3072 /* plaintext encrypted per step; a multiple of 3 */

msgsec_err gcm_encrypt_base64(EVP_CIPHER_CTX *ctx, const EVP_CIPHER *cipher, const uint8_t *key,
                              const uint8_t *plain, size_t len, strbuf *sb, msgsec_error *err)
{
    uint8_t buf[GCM_CHUNK + GCM_TAG_LEN];
    size_t have = GCM_IV_LEN;
    int n = 0;
    if (RAND_bytes(buf, GCM_IV_LEN) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "no randomness");
    if (EVP_EncryptInit_ex2(ctx, cipher, key, buf, NULL) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "AES-256-GCM set-up failed");
    for (size_t off = 0; off < len;) {
        size_t chunk = len - off < GCM_CHUNK - have ? len - off : GCM_CHUNK - have;
        if (EVP_EncryptUpdate(ctx, buf + have, &n, plain + off, (int)chunk) != 1 ||
            (size_t)n != chunk)
            return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "AES-256-GCM encryption failed");
        off += chunk;
        have += chunk;
        size_t whole = have / 3 * 3; /* base64 only whole 3-byte groups until the end */
        sb_put_base64(sb, buf, whole);
        memmove(buf, buf + whole, have - whole);
        have -= whole;
    }
    if (EVP_EncryptFinal_ex(ctx, buf + have, &n) != 1 || n != 0 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, buf + have) != 1)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "AES-256-GCM encryption failed");
    sb_put_base64(sb, buf, have + GCM_TAG_LEN);
    return MSGSEC_OK;
}

msgsec_err gcm_decrypt(const uint8_t *key, size_t key_len, const uint8_t *in, size_t len,
                       uint8_t **out, size_t *out_len, msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    const EVP_CIPHER *cipher = key_len == 32 ? EVP_aes_256_gcm() : EVP_aes_128_gcm();
    EVP_CIPHER_CTX *cctx = NULL;
    uint8_t *plain = NULL;
    int n = 0, fin = 0;
    *out = NULL;
    *out_len = 0;
    if (len < GCM_IV_LEN + GCM_TAG_LEN || len - GCM_IV_LEN - GCM_TAG_LEN > INT32_MAX)
        return msgsec_seterr(err, MSGSEC_E_DECRYPT, "AES-GCM ciphertext too short");
    size_t ct_len = len - GCM_IV_LEN - GCM_TAG_LEN;
    if (!(plain = malloc(ct_len + 1)) || !(cctx = EVP_CIPHER_CTX_new()) ||
        EVP_DecryptInit_ex(cctx, cipher, NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_IVLEN, GCM_IV_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(cctx, NULL, NULL, key, in) != 1 ||
        EVP_DecryptUpdate(cctx, plain, &n, in + GCM_IV_LEN, (int)ct_len) != 1 ||
        EVP_CIPHER_CTX_ctrl(cctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN,
                            (void *)(in + len - GCM_TAG_LEN)) != 1) {
        rc = msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "cannot set up AES-GCM");
        goto cleanup;
    }
    if (EVP_DecryptFinal_ex(cctx, plain + n, &fin) != 1) {
        ERR_clear_error();
        rc = msgsec_seterr(err, MSGSEC_E_DECRYPT, "content does not decrypt (AES-GCM tag mismatch)");
        goto cleanup;
    }
    plain[n + fin] = '\0';
    *out = plain;
    *out_len = (size_t)(n + fin);
    plain = NULL;
cleanup:
    if (plain)
        OPENSSL_cleanse(plain, ct_len + 1);
    free(plain);
    EVP_CIPHER_CTX_free(cctx);
    return rc;
}

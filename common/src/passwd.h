/* passwd.h - the password store of the `username` credential (README "Credentials").
 *
 * A text file, one user per line (blank lines and lines starting with '#'
 * are kept but ignored):
 *
 *     NAME:scrypt:N:r:p:SALT_B64:HASH_B64
 *
 * HASH = scrypt(password, SALT, N, r, p) as in RFC 7914, through OpenSSL 3's
 * EVP_KDF "SCRYPT". New entries use N = 32768, r = 8, p = 1 (32 MiB, the
 * interactive-login strength of RFC 7914 / OWASP), a 16-byte random salt and
 * a 32-byte hash. Entries with other parameters are accepted on load within
 * bounds (N a power of two in 2^14..2^20, r 1..32, p 1..16, memory <= 256 MiB,
 * salt 8..64 bytes, hash 32..64 bytes), so that a tampered store cannot make
 * the receiver allocate without limit. NAME: 1..255 bytes, no ':' and no
 * control characters.
 */
#ifndef MSGSEC_PASSWD_H
#define MSGSEC_PASSWD_H

#include "msgsec.h"

#define PASSWD_SCRYPT_N 32768u
#define PASSWD_SCRYPT_R 8u
#define PASSWD_SCRYPT_P 1u
#define PASSWD_MAX_BYTES ((size_t)16 << 20) /* largest store file */
#define PASSWD_MAX_PASSWORD 1024            /* bytes; longer passwords are refused */
#define PASSWD_CACHE_SLOTS 256              /* verified-password cache (passwd_check) */
#define PASSWD_CACHE_TTL 300                /* seconds */

typedef struct passwd_store passwd_store;

/* Loads and validates a store. A malformed line is MSGSEC_E_USAGE with
 * "FILE:LINE: reason"; so is a store group or others can write.
 * path: borrowed. *out: caller frees with passwd_store_free. */
msgsec_err passwd_store_load(const char *path, passwd_store **out, msgsec_error *err);
/* Wipes the hashes and frees. NULL is a no-op. */
void passwd_store_free(passwd_store *store);
size_t passwd_store_count(const passwd_store *store);

/* Replaces the store's verified-password cache by one of `slots` entries kept
 * ttl_seconds each (0 for either: no cache). A store is loaded with
 * PASSWD_CACHE_SLOTS / PASSWD_CACHE_TTL. Why: a queue consumer unwraps many
 * messages from the same user, and scrypt (N = 32768, ~100 ms of one core)
 * would cap it at ~10 username messages per second. Only a pair that passed
 * scrypt is cached, as HMAC-SHA256(per-store random key, user 0 password),
 * so a wrong password or an unknown user always costs the full scrypt and
 * nothing reversible is kept; the oldest entry is replaced when full. */
msgsec_err passwd_store_cache(passwd_store *store, size_t slots, long ttl_seconds,
                              msgsec_error *err);

/* Checks user's password (NUL-terminated, borrowed; the caller wipes it).
 * MSGSEC_OK, or MSGSEC_E_AUTH with the same detail and the same work (one
 * scrypt, a constant-time compare) for an unknown user and a wrong password,
 * so neither the answer nor its timing tells which users exist. A pair
 * verified within the cache TTL is accepted without scrypt (see
 * passwd_store_cache). Thread-safe on a shared store. */
msgsec_err passwd_check(const passwd_store *store, const char *user, const char *password,
                        msgsec_error *err);

/* Adds user or replaces its password in the store at path (created if absent),
 * keeping every other line. The new file is written to a temporary file in the
 * same directory with mode 0600, synced and renamed over path, under an
 * exclusive lock of the directory, so a crash or a concurrent run never leaves
 * a partial or lost entry. A malformed existing store is refused and left as
 * it is. *updated (may be NULL): 1 if the user existed. */
msgsec_err passwd_set(const char *path, const char *user, const char *password, int *updated,
                      msgsec_error *err);

#endif

/* util.h - the bridge's leaf helpers: errors, growable arrays, reconnect
 * backoff, secret files and message ids. Depends on nothing else of the
 * bridge (only msgsec.h, libc and OpenSSL). */
#ifndef MSGSEC_BRIDGE_UTIL_H
#define MSGSEC_BRIDGE_UTIL_H

#include <stddef.h>

#include "msgsec.h"

/* Fills err (may be NULL) with code and a one-line detail; returns code.
 * fmt: no secrets, no payloads. */
msgsec_err bridge_err(msgsec_error *err, msgsec_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* bridge_err with ": <reason>" of the first queued OpenSSL error appended
 * (what: borrowed); clears OpenSSL's error queue. */
msgsec_err bridge_err_ssl(msgsec_error *err, msgsec_err code, const char *what);

/* Makes room for need elements of elem bytes in *items (capacity *cap,
 * doubling from 16). items: the address of the array pointer. 0 ok, -1 out
 * of memory (*items and *cap unchanged). */
int array_reserve(void *items, size_t *cap, size_t need, size_t elem);

/* Reconnect backoff of every broker connection: from BACKOFF_MIN_MS,
 * doubling up to BACKOFF_MAX_MS. Returns the delay before the next attempt
 * (half of it random: jitter) and doubles *backoff_ms. */
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 10000
int backoff_next(int *backoff_ms);

/* Reads a secret file (password_file, at most 4 KiB), trailing newlines
 * stripped. path: borrowed. *out: caller wipes and frees with
 * msgsec_free_secret(p, strlen(p)). */
msgsec_err bridge_read_secret(const char *path, char **out, msgsec_error *err);

/* A fresh "urn:uuid:<random v4 UUID>" into buf (at least BRIDGE_ID_LEN
 * bytes). 0 ok, -1 when the random generator fails. */
#define BRIDGE_ID_LEN 46
int bridge_new_id(char *buf, size_t size);

#endif

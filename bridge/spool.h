/* spool.h - the durable, bounded store-and-forward spool (spool.c, LMDB).
 * Every message that crosses the bridge is first written here and only then
 * acknowledged to its source; it leaves the spool when its destination has
 * settled it. Thread-safe. */
#ifndef MSGSEC_BRIDGE_SPOOL_H
#define MSGSEC_BRIDGE_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "bmsg.h"
#include "msgsec.h"

typedef struct spool spool;

/* Opens (creating) the LMDB spool in directory path (borrowed). */
msgsec_err spool_open(const char *path, size_t max_messages, size_t max_bytes, int reject_when_full,
                      spool **out, msgsec_error *err);
void spool_close(spool *s);
/* spool_put results besides MSGSEC_OK (MSGSEC_E_INTERNAL: LMDB failure) */
#define SPOOL_FULL MSGSEC_E_POLICY      /* no room now (or closing); may fit later */
#define SPOOL_TOO_BIG MSGSEC_E_MALFORMED /* can never fit the configured bounds */
/* Durably stores msgs[0..n) (borrowed) in one transaction (fsync'd) and sets
 * their ids. When full: with when_full "block" and may_wait set, waits until
 * there is room (or spool_shutdown); otherwise returns SPOOL_FULL and stores
 * nothing. */
msgsec_err spool_put(spool *s, bmsg **msgs, size_t n, int may_wait, msgsec_error *err);
/* 1 if when_full is "reject". */
int spool_rejects_when_full(const spool *s);
/* 1 if one more message would fit (used to withhold AMQP credit). */
int spool_has_room(spool *s);
/* Removes messages delivered to their destination (one transaction, not
 * synced: a lost deletion only means a duplicate after a crash). Unknown ids
 * are ignored. */
void spool_del(spool *s, bridge_side side, const uint64_t *ids, size_t n);
/* Loads up to max messages for side with id > after, in id order.
 * Returns the count; *out[i] caller frees with bmsg_free. */
size_t spool_next(spool *s, bridge_side side, uint64_t after, bmsg **out, size_t max);
size_t spool_depth(spool *s);
size_t spool_bytes(spool *s);
/* Wakes any spool_put waiting for room (shutdown). */
void spool_shutdown(spool *s);

#endif

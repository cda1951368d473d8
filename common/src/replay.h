/* replay.h - the replay cache (internal, replay.c): an LMDB directory
 * shared by the receivers of a process, or an in-memory hash table. */
#ifndef MSGSEC_REPLAY_H
#define MSGSEC_REPLAY_H

#include "internal.h"

typedef struct replay_store replay_store;
#define REPLAY_KEY_LEN 32
/* A persistent store of max_bytes (0 = MSGSEC_DEFAULT_REPLAY_BYTES) holds
 * max_bytes / REPLAY_BYTES_PER_ENTRY entries (see replay.c). */
#define REPLAY_BYTES_PER_ENTRY 512
/* path NULL = in memory (max_bytes unused). A directory already open in
 * this process with another max_bytes is MSGSEC_E_USAGE. *out: free with
 * replay_close. */
msgsec_err replay_open(const char *path, size_t max_bytes, replay_store **out, msgsec_error *err);
/* One more reference to store (for another receiver); returns store. */
replay_store *replay_share(replay_store *store);
/* Drops a reference; the last one closes the store. */
void replay_close(replay_store *store);
/* Atomically (also across threads sharing the store): MSGSEC_E_REPLAY if key
 * is recorded and not expired at now; otherwise records it until `until` and
 * returns MSGSEC_OK. A full store (after purging what expired) records
 * nothing: MSGSEC_E_INTERNAL with err->transient set. */
msgsec_err replay_check_and_insert(replay_store *store, const uint8_t key[REPLAY_KEY_LEN],
                                   time_t until, time_t now, msgsec_error *err);
/* MSGSEC_E_REPLAY if key is recorded and not expired at now; records nothing. */
msgsec_err replay_check(replay_store *store, const uint8_t key[REPLAY_KEY_LEN], time_t now,
                        msgsec_error *err);

#endif

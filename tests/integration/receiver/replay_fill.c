/* replay_fill - records COUNT random message keys in the persistent replay
 * store DIR (of MAX_BYTES), each kept until the Unix time UNTIL: a store
 * filled to its limit without sending thousands of envelopes.
 *
 * usage: replay_fill DIR MAX_BYTES COUNT UNTIL
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/rand.h>

#include "replay.h"

int main(int argc, char **argv)
{
    replay_store *store = NULL;
    msgsec_error err = {0};
    if (argc != 5) {
        fprintf(stderr, "usage: replay_fill DIR MAX_BYTES COUNT UNTIL\n");
        return 2;
    }
    size_t max_bytes = strtoull(argv[2], NULL, 10), count = strtoull(argv[3], NULL, 10);
    time_t until = (time_t)strtoll(argv[4], NULL, 10), now = time(NULL);
    if (replay_open(argv[1], max_bytes, &store, &err) != MSGSEC_OK) {
        fprintf(stderr, "replay_fill: %s\n", err.detail);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        uint8_t key[REPLAY_KEY_LEN];
        if (RAND_bytes(key, sizeof key) != 1 ||
            replay_check_and_insert(store, key, until, now, &err) != MSGSEC_OK) {
            fprintf(stderr, "replay_fill: entry %zu: %s\n", i, err.detail);
            replay_close(store);
            return 1;
        }
    }
    replay_close(store);
    return 0;
}

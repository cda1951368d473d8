/* test_replay.c - the replay cache on its own (replay.c): memory and LMDB
 * stores, expiry, re-acceptance after expiry, persistence across reopen,
 * bounded purge of expired LMDB entries, a full LMDB store (refused until
 * entries expire; its entry budget keeps LMDB's map from filling), one size
 * per directory, a memory store shared by threads, and a bad store path
 * (class 2). */
#include <lmdb.h>
#include <pthread.h>
#include <time.h>

#include "recv_test_util.h"

static void key_of(int i, uint8_t key[REPLAY_KEY_LEN])
{
    char text[32];
    snprintf(text, sizeof text, "message-%d", i);
    SHA256((const uint8_t *)text, strlen(text), key);
}

static void expiry_rules(replay_store *s, time_t now)
{
    uint8_t k[REPLAY_KEY_LEN];
    key_of(-1, k);
    assert_int_equal(replay_check_and_insert(s, k, now + 10, now, NULL), MSGSEC_OK);
    assert_int_equal(replay_check_and_insert(s, k, now + 10, now + 9, NULL), MSGSEC_E_REPLAY);
    /* kept until `until` only: afterwards the same key is a new message */
    assert_int_equal(replay_check_and_insert(s, k, now + 20, now + 10, NULL), MSGSEC_OK);
    assert_int_equal(replay_check_and_insert(s, k, now + 20, now + 11, NULL), MSGSEC_E_REPLAY);
}

static void many_keys(replay_store *s, time_t now, int n)
{
    uint8_t k[REPLAY_KEY_LEN];
    for (int i = 0; i < n; i++) {
        key_of(i, k);
        assert_int_equal(replay_check_and_insert(s, k, now + 100, now, NULL), MSGSEC_OK);
    }
    for (int i = 0; i < n; i++) {
        key_of(i, k);
        assert_int_equal(replay_check_and_insert(s, k, now + 100, now + 1, NULL), MSGSEC_E_REPLAY);
    }
}

static void test_memory_store(void **state)
{
    (void)state;
    replay_store *s = NULL;
    time_t now = time(NULL);
    assert_int_equal(replay_open(NULL, 0, &s, NULL), MSGSEC_OK);
    expiry_rules(s, now);
    many_keys(s, now, 5000); /* grows through several rebuilds */
    /* after expiry the table rebuilds without the old entries and accepts again */
    uint8_t k[REPLAY_KEY_LEN];
    for (int i = 0; i < 5000; i++) {
        key_of(i, k);
        assert_int_equal(replay_check_and_insert(s, k, now + 300, now + 200, NULL), MSGSEC_OK);
    }
    replay_close(s);
}

static size_t lmdb_entries(const char *dir, const char *db)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    MDB_stat st;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 2), 0);
    assert_int_equal(mdb_env_open(env, dir, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, db, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    mdb_txn_abort(txn);
    mdb_env_close(env);
    return st.ms_entries;
}

static void test_lmdb_store(void **state)
{
    (void)state;
    char dir[] = "/tmp/msgsec-replay-XXXXXX";
    replay_store *s = NULL;
    time_t now = time(NULL);
    uint8_t k[REPLAY_KEY_LEN];
    assert_non_null(mkdtemp(dir));
    assert_int_equal(replay_open(dir, 0, &s, NULL), MSGSEC_OK);
    expiry_rules(s, now);
    many_keys(s, now, 200);
    replay_close(s);
    assert_int_equal(lmdb_entries(dir, "ids"), 201);
    /* reopened: still recorded */
    assert_int_equal(replay_open(dir, 0, &s, NULL), MSGSEC_OK);
    key_of(7, k);
    assert_int_equal(replay_check_and_insert(s, k, now + 100, now + 50, NULL), MSGSEC_E_REPLAY);
    /* once expired, each insert purges a bounded number of old entries */
    for (int i = 0; i < 10; i++) {
        key_of(100000 + i, k);
        assert_int_equal(replay_check_and_insert(s, k, now + 1000, now + 500, NULL), MSGSEC_OK);
    }
    replay_close(s);
    size_t left = lmdb_entries(dir, "ids");
    assert_true(left < 211 && left >= 211 - 10 * 16);
    assert_int_equal(lmdb_entries(dir, "exp") >= left, 1);
    remove_tree(dir);
}

static char *temp_dir(void)
{
    char *dir = strdup("/tmp/msgsec-replay-XXXXXX");
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void remove_dir(char *dir)
{
    remove_tree(dir);
    free(dir);
}

#define SMALL_STORE MSGSEC_REPLAY_MIN_BYTES
#define SMALL_ENTRIES (SMALL_STORE / REPLAY_BYTES_PER_ENTRY)

/* A full store refuses new keys (class 1, transient, naming the setting),
 * still answers replays, never records the refused key, and takes keys
 * again as soon as entries have expired. */
static void test_lmdb_full(void **state)
{
    (void)state;
    char *dir = temp_dir();
    replay_store *s = NULL;
    msgsec_error e = {0};
    time_t now = time(NULL);
    uint8_t k[REPLAY_KEY_LEN];
    assert_int_equal(replay_open(dir, SMALL_STORE, &s, NULL), MSGSEC_OK);
    for (int i = 0; i < (int)SMALL_ENTRIES; i++) {
        key_of(i, k);
        assert_int_equal(replay_check_and_insert(s, k, now + 100, now, &e), MSGSEC_OK);
    }
    key_of(-7, k);
    assert_int_equal(replay_check_and_insert(s, k, now + 100, now + 1, &e), MSGSEC_E_INTERNAL);
    assert_int_equal(e.transient, 1);
    assert_non_null(strstr(e.detail, "is full"));
    assert_non_null(strstr(e.detail, "raise replay.max_bytes / --replay-max-bytes"));
    /* still a replay cache, and the refused key was not recorded */
    uint8_t seen[REPLAY_KEY_LEN];
    key_of(3, seen);
    assert_int_equal(replay_check_and_insert(s, seen, now + 100, now + 1, &e), MSGSEC_E_REPLAY);
    assert_int_equal(e.transient, 0);
    assert_int_equal(lmdb_entries(dir, "ids"), SMALL_ENTRIES);
    /* once entries expired (purged 16 at a time), the refused key is accepted once */
    assert_int_equal(replay_check_and_insert(s, k, now + 300, now + 100, &e), MSGSEC_OK);
    assert_int_equal(replay_check_and_insert(s, k, now + 300, now + 101, &e), MSGSEC_E_REPLAY);
    for (int i = 0; i < 100; i++) {
        key_of(100000 + i, k);
        assert_int_equal(replay_check_and_insert(s, k, now + 300, now + 100, &e), MSGSEC_OK);
    }
    replay_close(s);
    assert_int_equal(lmdb_entries(dir, "ids"), SMALL_ENTRIES - 101 * 16 + 101);
    remove_dir(dir);
}

/* The entry budget keeps LMDB's own map from filling (a map LMDB filled
 * could not even be purged): a store that stays just under its entry limit
 * through many insertions, expiries and purges (in order, and out of order)
 * never refuses. */
static void test_lmdb_budget_holds(void **state)
{
    (void)state;
    for (int shuffled = 0; shuffled < 2; shuffled++) {
        char *dir = temp_dir();
        replay_store *s = NULL;
        msgsec_error e = {0};
        uint8_t k[REPLAY_KEY_LEN];
        const int live = (int)SMALL_ENTRIES - 20;
        assert_int_equal(replay_open(dir, SMALL_STORE, &s, NULL), MSGSEC_OK);
        for (int i = 0; i < 20 * live; i++) {
            key_of(i, k);
            /* one message per second, kept `live` seconds (out of order: 1..live) */
            time_t until = 1000000 + i + (shuffled ? 1 + (k[0] << 8 | k[1]) % live : live);
            msgsec_err rc = replay_check_and_insert(s, k, until, 1000000 + i, &e);
            if (rc != MSGSEC_OK)
                fail_msg("insert %d of a store kept under its limit: %s", i, e.detail);
        }
        replay_close(s);
        remove_dir(dir);
    }
}

/* One map per directory and process: a second receiver asking for another
 * size is refused; sizes out of range too. */
static void test_lmdb_sizes(void **state)
{
    (void)state;
    char *dir = temp_dir();
    replay_store *a = NULL, *b = NULL;
    msgsec_error e = {0};
    assert_int_equal(replay_open(dir, 0, &a, &e), MSGSEC_OK);
    assert_int_equal(replay_open(dir, MSGSEC_DEFAULT_REPLAY_BYTES, &b, &e), MSGSEC_OK);
    replay_close(b);
    b = NULL;
    assert_int_equal(replay_open(dir, SMALL_STORE, &b, &e), MSGSEC_E_USAGE);
    assert_null(b);
    assert_non_null(strstr(e.detail, "already open in this process with max_bytes 67108864"));
    replay_close(a);
    /* closed: the directory may now be opened with another size */
    assert_int_equal(replay_open(dir, SMALL_STORE, &a, &e), MSGSEC_OK);
    replay_close(a);
    assert_int_equal(replay_open(dir, SMALL_STORE - 1, &a, &e), MSGSEC_E_USAGE);
    assert_non_null(strstr(e.detail, "out of range"));
    assert_int_equal(replay_open(NULL, 1, &a, &e), MSGSEC_OK); /* in memory: no size */
    replay_close(a);
    remove_dir(dir);
}

#define SHARED_KEYS 3000
typedef struct inserter {
    replay_store *store;
    time_t now;
    int accepted;
} inserter;

static void *insert_all(void *arg)
{
    inserter *in = arg;
    uint8_t k[REPLAY_KEY_LEN];
    for (int i = 0; i < SHARED_KEYS; i++) {
        key_of(i, k);
        in->accepted += replay_check_and_insert(in->store, k, in->now + 100, in->now, NULL) == MSGSEC_OK;
    }
    return NULL;
}

/* Two threads record the same keys through two references to one memory
 * store: each key is accepted exactly once; the store outlives the first
 * reference closed. */
static void test_shared_memory_store(void **state)
{
    (void)state;
    replay_store *s = NULL;
    time_t now = time(NULL);
    assert_int_equal(replay_open(NULL, 0, &s, NULL), MSGSEC_OK);
    inserter a = {s, now, 0}, b = {replay_share(s), now, 0};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, insert_all, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, insert_all, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.accepted + b.accepted, SHARED_KEYS);
    replay_close(a.store);
    uint8_t k[REPLAY_KEY_LEN];
    key_of(1, k);
    assert_int_equal(replay_check_and_insert(b.store, k, now + 100, now + 1, NULL), MSGSEC_E_REPLAY);
    replay_close(b.store);
}

static void test_bad_path(void **state)
{
    (void)state;
    replay_store *s = NULL;
    msgsec_error e;
    assert_int_equal(replay_open("/proc/msgsec-no-such-dir/replay", 0, &s, &e), MSGSEC_E_USAGE);
    assert_null(s);
    assert_non_null(strstr(e.detail, "replay store"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_lmdb_store),
        cmocka_unit_test(test_lmdb_full),
        cmocka_unit_test(test_lmdb_budget_holds),
        cmocka_unit_test(test_lmdb_sizes),
        cmocka_unit_test(test_shared_memory_store),
        cmocka_unit_test(test_bad_path),
    };
    return cmocka_run_group_tests(tests, test_global_setup, NULL);
}

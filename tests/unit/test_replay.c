/* test_replay.c - the replay cache on its own (replay.c): memory and LMDB
 * stores, expiry, re-acceptance after expiry, persistence across reopen,
 * bounded purge of expired LMDB entries, a memory store shared by threads,
 * and a bad store path (class 2). */
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
    assert_int_equal(replay_open(NULL, &s, NULL), MSGSEC_OK);
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
    assert_int_equal(replay_open(dir, &s, NULL), MSGSEC_OK);
    expiry_rules(s, now);
    many_keys(s, now, 200);
    replay_close(s);
    assert_int_equal(lmdb_entries(dir, "ids"), 201);
    /* reopened: still recorded */
    assert_int_equal(replay_open(dir, &s, NULL), MSGSEC_OK);
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
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
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
    assert_int_equal(replay_open(NULL, &s, NULL), MSGSEC_OK);
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
    assert_int_equal(replay_open("/proc/msgsec-no-such-dir/replay", &s, &e), MSGSEC_E_USAGE);
    assert_null(s);
    assert_non_null(strstr(e.detail, "replay store"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_memory_store),
        cmocka_unit_test(test_lmdb_store),
        cmocka_unit_test(test_shared_memory_store),
        cmocka_unit_test(test_bad_path),
    };
    return cmocka_run_group_tests(tests, test_global_setup, NULL);
}

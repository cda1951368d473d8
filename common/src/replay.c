/* replay.c - the replay cache (DESIGN.md receiver rule 10).
 *
 * Persistent: an LMDB environment in a directory. Database "ids" maps the
 * 32-byte message key to its expiry (8 bytes big-endian); database "exp"
 * holds expiry||key so that expired entries are found in order and purged a
 * few at a time (bounded work per message). Check and insert happen in one
 * write transaction, which LMDB serializes across threads and processes.
 * Durability: MDB_NOSYNC | MDB_NOMETASYNC - a commit reaches the OS page
 * cache (write(2)), so it survives a crash or restart of the process, but not
 * a power loss or kernel crash; an fsync per message would cost milliseconds.
 * LMDB forbids opening one environment twice in a process, so environments
 * are shared per directory with a reference count, and one directory has
 * one size per process.
 *
 * Size: the map is max_bytes (LMDB reserves it as address space at open and
 * the file never grows past it). The store is full at max_bytes /
 * REPLAY_BYTES_PER_ENTRY entries, before LMDB's own limit: LMDB needs free
 * pages even to delete (copy-on-write), so a map that LMDB filled might never
 * be purged again. An entry costs about 150-260 bytes of map in steady state
 * (insertions, expiries, purges; tests/unit/test_replay.c keeps a store at
 * its limit through them). Each insertion first purges up to 16 expired
 * entries, so a store at its limit after that holds no expired entry: the
 * message is refused (transient: not recorded, acceptable once entries
 * expire or the store is made larger); it is never accepted unchecked.
 *
 * In memory (path NULL): an open-addressing hash table; expired entries are
 * dropped whenever the table is rebuilt to grow.
 *
 * A store may be shared by several receivers (msgsec_receiver_opts
 * replay_shared_with), each used by its own thread: it is reference counted,
 * and the in-memory table is checked and updated under the store's lock. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lmdb.h>

#include "replay.h"

#define REPLAY_PURGE_PER_CALL 16
#define REPLAY_PURGE_BATCH 1024 /* entries deleted per transaction when full */
#define REPLAY_REFUSED "message was already accepted (replay)"

typedef struct shared_env {
    char *path; /* realpath of the directory */
    MDB_env *env;
    MDB_dbi ids, exp;
    size_t max_bytes, max_entries;
    pthread_mutex_t lock; /* this process's transactions, and map resizes */
    int refs;
    struct shared_env *next;
} shared_env;

static pthread_mutex_t envs_lock = PTHREAD_MUTEX_INITIALIZER;
static shared_env *envs;

typedef struct mem_entry {
    uint8_t key[REPLAY_KEY_LEN];
    time_t until; /* 0 = empty slot */
} mem_entry;

struct replay_store {
    shared_env *lmdb; /* NULL = in memory */
    pthread_mutex_t lock; /* guards refs and the in-memory table */
    int refs;
    mem_entry *slots;
    size_t cap, used;
};

/* ----------------------------------------------------------------- LMDB */

static msgsec_err lmdb_error(msgsec_error *err, const char *what, int rc)
{
    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "replay store: %s: %s", what, mdb_strerror(rc));
}

static void env_free(shared_env *se)
{
    if (se->env)
        mdb_env_close(se->env);
    pthread_mutex_destroy(&se->lock);
    free(se->path);
    free(se);
}

static msgsec_err env_open(const char *real, size_t max_bytes, shared_env **out, msgsec_error *err)
{
    shared_env *se = calloc(1, sizeof *se);
    MDB_txn *txn = NULL;
    int rc;
    if (!se || !(se->path = strdup(real))) {
        free(se);
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    pthread_mutex_init(&se->lock, NULL);
    se->max_bytes = max_bytes;
    se->max_entries = max_bytes / REPLAY_BYTES_PER_ENTRY;
    if ((rc = mdb_env_create(&se->env)) || (rc = mdb_env_set_maxdbs(se->env, 2)) ||
        (rc = mdb_env_set_mapsize(se->env, max_bytes)) ||
        (rc = mdb_env_open(se->env, real, MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS, 0600)) ||
        (rc = mdb_txn_begin(se->env, NULL, 0, &txn)) ||
        (rc = mdb_dbi_open(txn, "ids", MDB_CREATE, &se->ids)) ||
        (rc = mdb_dbi_open(txn, "exp", MDB_CREATE, &se->exp)) || (rc = mdb_txn_commit(txn))) {
        if (txn && rc != 0)
            mdb_txn_abort(txn);
        env_free(se);
        if (rc == ENOMEM)
            return msgsec_seterr(err, MSGSEC_E_USAGE,
                                 "cannot open replay store %.100s: %s (its map of %zu bytes does "
                                 "not fit the address space: lower replay.max_bytes / "
                                 "--replay-max-bytes)",
                                 real, mdb_strerror(rc), max_bytes);
        return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot open replay store %s: %s", real,
                             mdb_strerror(rc));
    }
    se->refs = 1;
    *out = se;
    return MSGSEC_OK;
}

static msgsec_err lmdb_attach(const char *path, size_t max_bytes, shared_env **out,
                              msgsec_error *err)
{
    char real[PATH_MAX];
    msgsec_err rc = MSGSEC_OK;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot create replay store %s: %s", path,
                             strerror(errno));
    if (!realpath(path, real))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "replay store %s: %s", path, strerror(errno));
    pthread_mutex_lock(&envs_lock);
    shared_env *se = envs;
    while (se && strcmp(se->path, real) != 0)
        se = se->next;
    if (se && se->max_bytes != max_bytes) {
        /* one map per directory and process: which size would be meant? */
        rc = msgsec_seterr(err, MSGSEC_E_USAGE,
                           "replay store %s is already open in this process with max_bytes %zu "
                           "(asked for %zu): give every receiver of a directory the same size",
                           real, se->max_bytes, max_bytes);
        se = NULL;
    } else if (se) {
        se->refs++;
    } else if ((rc = env_open(real, max_bytes, &se, err)) == MSGSEC_OK) {
        se->next = envs;
        envs = se;
    }
    pthread_mutex_unlock(&envs_lock);
    *out = se;
    return rc;
}

static void lmdb_detach(shared_env *se)
{
    pthread_mutex_lock(&envs_lock);
    if (--se->refs == 0) {
        for (shared_env **p = &envs; *p; p = &(*p)->next) {
            if (*p == se) {
                *p = se->next;
                break;
            }
        }
        env_free(se);
    }
    pthread_mutex_unlock(&envs_lock);
}

static void be64(uint8_t out[8], time_t t)
{
    uint64_t v = (uint64_t)t;
    for (int i = 7; i >= 0; i--, v >>= 8)
        out[i] = (uint8_t)v;
}

static time_t from_be64(const uint8_t in[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | in[i];
    return (time_t)v;
}

/* A write transaction (with se->lock held). Another process may have grown
 * the map: then this one adopts the size from the file and begins again. */
static int write_txn(shared_env *se, MDB_txn **txn)
{
    int rc = mdb_txn_begin(se->env, NULL, 0, txn);
    if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(se->env, 0)) == 0)
        rc = mdb_txn_begin(se->env, NULL, 0, txn);
    return rc;
}

/* Deletes up to max entries that expired before now; *purged counts them. */
static int lmdb_purge(shared_env *se, MDB_txn *txn, time_t now, int max, int *purged)
{
    MDB_cursor *cur;
    MDB_val k, v;
    int rc = mdb_cursor_open(txn, se->exp, &cur);
    *purged = 0;
    if (rc)
        return rc;
    for (; *purged < max; ++*purged) {
        if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) != 0)
            break;
        if (k.mv_size != 8 + REPLAY_KEY_LEN || from_be64(k.mv_data) > now)
            break;
        uint8_t entry[8 + REPLAY_KEY_LEN];
        memcpy(entry, k.mv_data, sizeof entry);
        if ((rc = mdb_cursor_del(cur, 0)) != 0)
            break;
        /* the id may have been recorded again with a later expiry: keep that */
        MDB_val id = {REPLAY_KEY_LEN, entry + 8}, stored;
        if (mdb_get(txn, se->ids, &id, &stored) == 0 && stored.mv_size == 8 &&
            memcmp(stored.mv_data, entry, 8) == 0 && (rc = mdb_del(txn, se->ids, &id, NULL)) != 0)
            break;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Purges every expired entry, a batch per transaction; the number purged. */
static size_t lmdb_purge_all(shared_env *se, time_t now)
{
    size_t total = 0;
    int purged;
    do {
        MDB_txn *txn;
        if (write_txn(se, &txn) != 0)
            break;
        if (lmdb_purge(se, txn, now, REPLAY_PURGE_BATCH, &purged) != 0) {
            mdb_txn_abort(txn);
            break;
        }
        if (mdb_txn_commit(txn) != 0)
            break;
        total += (size_t)purged;
    } while (purged == REPLAY_PURGE_BATCH);
    return total;
}

enum { NOT_FULL, FULL_ENTRIES, FULL_MAP };

/* One check-and-insert transaction, which first purges a few expired
 * entries. *full: the store holds max_entries once they are purged, i.e. none
 * has expired (FULL_ENTRIES), or LMDB's map is full (FULL_MAP): nothing was
 * written. */
static msgsec_err lmdb_try_insert(shared_env *se, const uint8_t key[REPLAY_KEY_LEN], time_t until,
                                  time_t now, int *full, size_t *entries, msgsec_error *err)
{
    MDB_txn *txn;
    MDB_val k = {REPLAY_KEY_LEN, (void *)key}, v;
    MDB_stat st;
    uint8_t exp_key[8 + REPLAY_KEY_LEN], until_be[8];
    int purged, rc = write_txn(se, &txn);
    *full = NOT_FULL;
    if (rc)
        return lmdb_error(err, "begin", rc);
    int known = (rc = mdb_get(txn, se->ids, &k, &v)) == 0;
    if (known && v.mv_size == 8 && from_be64(v.mv_data) > now) {
        mdb_txn_abort(txn);
        return msgsec_seterr(err, MSGSEC_E_REPLAY, REPLAY_REFUSED);
    }
    if (!known && rc != MDB_NOTFOUND) {
        mdb_txn_abort(txn);
        return lmdb_error(err, "get", rc);
    }
    if ((rc = lmdb_purge(se, txn, now, REPLAY_PURGE_PER_CALL, &purged)) ||
        (rc = mdb_stat(txn, se->ids, &st))) {
        mdb_txn_abort(txn);
        return lmdb_error(err, "purge", rc);
    }
    *entries = st.ms_entries;
    if (!known && st.ms_entries >= se->max_entries) {
        mdb_txn_abort(txn);
        *full = FULL_ENTRIES;
        return MSGSEC_OK;
    }
    be64(until_be, until);
    memcpy(exp_key, until_be, 8);
    memcpy(exp_key + 8, key, REPLAY_KEY_LEN);
    MDB_val ev = {8, until_be}, ek = {sizeof exp_key, exp_key}, empty = {0, ""};
    if ((rc = mdb_put(txn, se->ids, &k, &ev, 0)) || (rc = mdb_put(txn, se->exp, &ek, &empty, 0))) {
        mdb_txn_abort(txn);
        *full = rc == MDB_MAP_FULL ? FULL_MAP : NOT_FULL;
        return *full ? MSGSEC_OK : lmdb_error(err, "write", rc);
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        *full = rc == MDB_MAP_FULL ? FULL_MAP : NOT_FULL;
        return *full ? MSGSEC_OK : lmdb_error(err, "commit", rc);
    }
    return MSGSEC_OK;
}

static msgsec_err lmdb_check_and_insert(shared_env *se, const uint8_t key[REPLAY_KEY_LEN],
                                        time_t until, time_t now, msgsec_error *err)
{
    int full = NOT_FULL;
    size_t entries = 0;
    pthread_mutex_lock(&se->lock);
    msgsec_err rc = lmdb_try_insert(se, key, until, now, &full, &entries, err);
    /* LMDB's map full (the entry budget is there to prevent it) undid that
       transaction's purge: purge on its own first, then try again */
    if (rc == MSGSEC_OK && full == FULL_MAP && lmdb_purge_all(se, now) > 0)
        rc = lmdb_try_insert(se, key, until, now, &full, &entries, err);
    pthread_mutex_unlock(&se->lock);
    if (rc == MSGSEC_OK && full) {
        /* the service's limit, not the message's fault: refused for now */
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL,
                           "replay store %.100s is full (%zu messages within max_age): message "
                           "refused; raise replay.max_bytes / --replay-max-bytes (now %zu)",
                           se->path, entries, se->max_bytes);
        if (err)
            err->transient = 1;
    }
    return rc;
}

static msgsec_err lmdb_check(shared_env *se, const uint8_t key[REPLAY_KEY_LEN], time_t now,
                             msgsec_error *err)
{
    MDB_txn *txn;
    MDB_val k = {REPLAY_KEY_LEN, (void *)key}, v;
    int rc = mdb_txn_begin(se->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return lmdb_error(err, "begin", rc);
    rc = mdb_get(txn, se->ids, &k, &v);
    int recorded = rc == 0 && v.mv_size == 8 && from_be64(v.mv_data) > now;
    mdb_txn_abort(txn);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return lmdb_error(err, "get", rc);
    return recorded ? msgsec_seterr(err, MSGSEC_E_REPLAY, REPLAY_REFUSED) : MSGSEC_OK;
}

/* ---------------------------------------------------------------- memory */

static mem_entry *mem_find(mem_entry *slots, size_t cap, const uint8_t key[REPLAY_KEY_LEN])
{
    uint64_t h;
    memcpy(&h, key, sizeof h); /* keys are SHA-256 outputs: already uniform */
    for (size_t i = (size_t)h & (cap - 1);; i = (i + 1) & (cap - 1))
        if (!slots[i].until || memcmp(slots[i].key, key, REPLAY_KEY_LEN) == 0)
            return &slots[i];
}

/* Rebuilds the table without expired entries, at least twice as large as needed. */
static int mem_rebuild(replay_store *s, time_t now)
{
    size_t live = 0;
    for (size_t i = 0; i < s->cap; i++)
        live += s->slots[i].until > now;
    size_t cap = 64;
    while (cap < 4 * (live + 1))
        cap *= 2;
    mem_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < s->cap; i++)
        if (s->slots[i].until > now)
            *mem_find(slots, cap, s->slots[i].key) = s->slots[i];
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
    s->used = live;
    return 0;
}

static msgsec_err mem_check_and_insert(replay_store *s, const uint8_t key[REPLAY_KEY_LEN],
                                       time_t until, time_t now, msgsec_error *err)
{
    if (2 * (s->used + 1) > s->cap && mem_rebuild(s, now) != 0)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    mem_entry *e = mem_find(s->slots, s->cap, key);
    if (e->until > now)
        return msgsec_seterr(err, MSGSEC_E_REPLAY, REPLAY_REFUSED);
    if (!e->until)
        s->used++;
    memcpy(e->key, key, REPLAY_KEY_LEN);
    e->until = until > 0 ? until : 1;
    return MSGSEC_OK;
}

/* ------------------------------------------------------------------- API */

msgsec_err replay_open(const char *path, size_t max_bytes, replay_store **out, msgsec_error *err)
{
    *out = NULL;
    if (!max_bytes)
        max_bytes = MSGSEC_DEFAULT_REPLAY_BYTES;
    if (path && (max_bytes < MSGSEC_REPLAY_MIN_BYTES || max_bytes > MSGSEC_REPLAY_MAX_BYTES))
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "replay store size %zu out of range %zu..%zu bytes", max_bytes,
                             MSGSEC_REPLAY_MIN_BYTES, MSGSEC_REPLAY_MAX_BYTES);
    replay_store *s = calloc(1, sizeof *s);
    if (!s)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    s->refs = 1;
    msgsec_err rc = path ? lmdb_attach(path, max_bytes, &s->lmdb, err) : MSGSEC_OK;
    if (rc == MSGSEC_OK && !path && mem_rebuild(s, 0) != 0)
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    if (rc) {
        replay_close(s);
        return rc;
    }
    *out = s;
    return MSGSEC_OK;
}

replay_store *replay_share(replay_store *store)
{
    pthread_mutex_lock(&store->lock);
    store->refs++;
    pthread_mutex_unlock(&store->lock);
    return store;
}

void replay_close(replay_store *store)
{
    if (!store)
        return;
    pthread_mutex_lock(&store->lock);
    int last = --store->refs == 0;
    pthread_mutex_unlock(&store->lock);
    if (!last)
        return;
    pthread_mutex_destroy(&store->lock);
    if (store->lmdb)
        lmdb_detach(store->lmdb);
    free(store->slots);
    free(store);
}

msgsec_err replay_check_and_insert(replay_store *store, const uint8_t key[REPLAY_KEY_LEN],
                                   time_t until, time_t now, msgsec_error *err)
{
    if (store->lmdb)
        return lmdb_check_and_insert(store->lmdb, key, until, now, err);
    pthread_mutex_lock(&store->lock);
    msgsec_err rc = mem_check_and_insert(store, key, until, now, err);
    pthread_mutex_unlock(&store->lock);
    return rc;
}

msgsec_err replay_check(replay_store *store, const uint8_t key[REPLAY_KEY_LEN], time_t now,
                        msgsec_error *err)
{
    if (store->lmdb)
        return lmdb_check(store->lmdb, key, now, err);
    pthread_mutex_lock(&store->lock);
    const int recorded = mem_find(store->slots, store->cap, key)->until > now;
    pthread_mutex_unlock(&store->lock);
    return recorded ? msgsec_seterr(err, MSGSEC_E_REPLAY, REPLAY_REFUSED) : MSGSEC_OK;
}

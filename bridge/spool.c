/* spool.c - the durable, bounded store-and-forward spool (LMDB).
 *
 * Two sub-databases, one per destination side, keyed by a big-endian 64-bit
 * sequence number so cursors return messages in arrival order. The
 * environment runs with MDB_NOSYNC and spool_put forces mdb_env_sync after
 * its commit: a message is on disk before the bridge acknowledges it to its
 * source. Deletions are not synced (losing one after a crash only causes a
 * duplicate delivery, which at-least-once allows) so the fast path costs one
 * fsync per batch of incoming messages.
 */
#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "spool.h"
#include "util.h"

struct spool {
    MDB_env *env;
    MDB_dbi dbi[2];
    pthread_mutex_t lock; /* guards the counters below */
    pthread_cond_t room;
    uint64_t next_id;
    size_t count, bytes;
    size_t max_messages, max_bytes;
    int reject_when_full;
    int shutdown;
};

static const char *const db_names[2] = {"mqtt", "amqp"};

/* ---- record encoding: u32 length-prefixed fields, UINT32_MAX = NULL ---- */

/* Writes into a buffer sized beforehand (record_size); with w->p NULL it
 * only counts, so one set of put calls serves both passes. */
typedef struct writer {
    uint8_t *p;
    size_t len;
    int too_long; /* a field longer than a u32 length */
} writer;

static void put_u32(writer *w, uint32_t v)
{
    if (w->p) {
        uint8_t *b = w->p + w->len;
        b[0] = (uint8_t)(v >> 24);
        b[1] = (uint8_t)(v >> 16);
        b[2] = (uint8_t)(v >> 8);
        b[3] = (uint8_t)v;
    }
    w->len += 4;
}

static void put_bytes(writer *w, const void *p, size_t len, int present)
{
    if (len >= UINT32_MAX)
        w->too_long = 1;
    put_u32(w, present ? (uint32_t)len : UINT32_MAX);
    if (present && len && w->p)
        memcpy(w->p + w->len, p, len);
    w->len += present ? len : 0;
}

static void put_str(writer *w, const char *s) { put_bytes(w, s, s ? strlen(s) : 0, s != NULL); }

static void put_record(writer *w, const bmsg *m)
{
    put_str(w, m->dest);
    put_u32(w, (uint32_t)m->qos);
    put_u32(w, (uint32_t)m->route);
    put_str(w, m->subject);
    put_str(w, m->content_type);
    put_bytes(w, m->correlation, m->correlation_len, m->correlation != NULL);
    put_str(w, m->reply_to);
    put_str(w, m->bridge_id);
    put_u32(w, (uint32_t)((uint64_t)m->ttl_ms >> 32));
    put_u32(w, (uint32_t)m->ttl_ms);
    put_u32(w, (uint32_t)m->n_props);
    for (size_t i = 0; i < m->n_props; i++) {
        put_str(w, m->props[i].key);
        put_str(w, m->props[i].value);
    }
    put_bytes(w, m->payload, m->payload_len, 1);
}

/* The record of m; caller wipes and frees. NULL: out of memory. */
static char *encode(const bmsg *m, size_t *len)
{
    writer size = {0};
    put_record(&size, m);
    writer w = {.p = size.too_long ? NULL : malloc(size.len ? size.len : 1)};
    if (!w.p)
        return NULL;
    put_record(&w, m);
    *len = w.len;
    return (char *)w.p;
}

typedef struct reader {
    const uint8_t *p, *end;
    int bad;
} reader;

static uint32_t get_u32(reader *r)
{
    if (r->end - r->p < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
    r->p += 4;
    return v;
}

/* Returns a NUL-terminated copy (NULL for an absent field); *len = bytes. */
static uint8_t *get_bytes(reader *r, size_t *len)
{
    uint32_t n = get_u32(r);
    if (r->bad || n == UINT32_MAX)
        return NULL;
    if ((size_t)(r->end - r->p) < n) {
        r->bad = 1;
        return NULL;
    }
    uint8_t *out = malloc((size_t)n + 1);
    if (!out) {
        r->bad = 1;
        return NULL;
    }
    memcpy(out, r->p, n);
    out[n] = 0;
    r->p += n;
    if (len)
        *len = n;
    return out;
}

static char *get_str(reader *r) { return (char *)get_bytes(r, NULL); }

static bmsg *decode(const void *data, size_t len)
{
    reader r = {data, (const uint8_t *)data + len, 0};
    bmsg *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->dest = get_str(&r);
    m->qos = (int)get_u32(&r);
    m->route = (int)get_u32(&r);
    m->subject = get_str(&r);
    m->content_type = get_str(&r);
    m->correlation = get_bytes(&r, &m->correlation_len);
    m->reply_to = get_str(&r);
    m->bridge_id = get_str(&r);
    uint64_t hi = get_u32(&r);
    m->ttl_ms = (int64_t)(hi << 32 | get_u32(&r));
    size_t n = get_u32(&r);
    if (!r.bad && n <= (size_t)(r.end - r.p) / 8) {
        m->props = calloc(n ? n : 1, sizeof *m->props);
        for (size_t i = 0; m->props && i < n && !r.bad; i++, m->n_props++) {
            m->props[i].key = get_str(&r);
            m->props[i].value = get_str(&r);
        }
    } else {
        r.bad = 1;
    }
    m->payload = get_bytes(&r, &m->payload_len);
    if (r.bad || !m->dest || !m->payload) {
        bmsg_free(m);
        return NULL;
    }
    return m;
}

/* ---- keys ---- */

static void key_of(uint64_t id, uint8_t k[8])
{
    for (int i = 7; i >= 0; i--, id >>= 8)
        k[i] = (uint8_t)id;
}

static uint64_t id_of(const MDB_val *k)
{
    uint64_t id = 0;
    const uint8_t *p = k->mv_data;
    for (size_t i = 0; i < 8 && i < k->mv_size; i++)
        id = id << 8 | p[i];
    return id;
}

static msgsec_err lmdb_err(msgsec_error *err, const char *what, int rc)
{
    return bridge_err(err, MSGSEC_E_INTERNAL, "spool: %s: %s", what, mdb_strerror(rc));
}

/* Counts the stored messages and bytes and finds the last id. */
static int scan(spool *s)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    for (int side = 0; side < 2 && !rc; side++) {
        MDB_cursor *c;
        MDB_val k, v;
        if ((rc = mdb_cursor_open(txn, s->dbi[side], &c)))
            break;
        for (int op = MDB_FIRST; mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
            s->count++;
            s->bytes += v.mv_size;
            uint64_t id = id_of(&k);
            if (id >= s->next_id)
                s->next_id = id + 1;
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return rc;
}

msgsec_err spool_open(const char *path, size_t max_messages, size_t max_bytes, int reject_when_full,
                      spool **out, msgsec_error *err)
{
    *out = NULL;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return bridge_err(err, MSGSEC_E_USAGE, "spool: cannot create %s: %s", path,
                             strerror(errno));
    spool *s = calloc(1, sizeof *s);
    if (!s)
        return bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->room, NULL);
    s->next_id = 1;
    s->max_messages = max_messages ? max_messages : 100000;
    s->max_bytes = max_bytes ? max_bytes : (size_t)1 << 30;
    s->reject_when_full = reject_when_full;
    /* room for max_bytes of records plus B-tree overhead; the file is sparse */
    size_t map = s->max_bytes * 2 + ((size_t)64 << 20);
    int rc;
    MDB_txn *txn = NULL;
    if ((rc = mdb_env_create(&s->env)) || (rc = mdb_env_set_maxdbs(s->env, 2)) ||
        (rc = mdb_env_set_mapsize(s->env, map)) ||
        (rc = mdb_env_open(s->env, path, MDB_NOSYNC | MDB_NOTLS, 0600))) {
        lmdb_err(err, path, rc);
        goto fail;
    }
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)))
        goto fail_rc;
    for (int side = 0; side < 2; side++)
        if ((rc = mdb_dbi_open(txn, db_names[side], MDB_CREATE, &s->dbi[side])))
            goto fail_rc;
    if ((rc = mdb_txn_commit(txn)))
        goto fail_rc;
    txn = NULL;
    if ((rc = scan(s)))
        goto fail_rc;
    *out = s;
    return MSGSEC_OK;
fail_rc:
    lmdb_err(err, path, rc);
    if (txn)
        mdb_txn_abort(txn);
fail:
    spool_close(s);
    return err ? err->code : MSGSEC_E_INTERNAL;
}

void spool_close(spool *s)
{
    if (!s)
        return;
    if (s->env) {
        mdb_env_sync(s->env, 1);
        mdb_env_close(s->env);
    }
    pthread_cond_destroy(&s->room);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

static int full(const spool *s, size_t n, size_t bytes)
{
    return s->count + n > s->max_messages || s->bytes + bytes > s->max_bytes;
}

msgsec_err spool_put(spool *s, bmsg **msgs, size_t n, int may_wait, msgsec_error *err)
{
    msgsec_err ret = MSGSEC_OK;
    char **enc = calloc(n ? n : 1, sizeof *enc);
    size_t *lens = calloc(n ? n : 1, sizeof *lens);
    size_t total = 0;
    MDB_txn *txn = NULL;
    if (!enc || !lens) {
        ret = bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if (!(enc[i] = encode(msgs[i], &lens[i]))) {
            ret = bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
            goto cleanup;
        }
        total += lens[i];
    }
    pthread_mutex_lock(&s->lock);
    if (total > s->max_bytes || n > s->max_messages) {
        pthread_mutex_unlock(&s->lock);
        /* a batch may fit piecewise; a single message never will */
        ret = n == 1 ? bridge_err(err, SPOOL_TOO_BIG, "message larger than the spool bounds")
                     : bridge_err(err, SPOOL_FULL, "batch larger than the spool bounds");
        goto cleanup;
    }
    while (full(s, n, total) && may_wait && !s->reject_when_full && !s->shutdown)
        pthread_cond_wait(&s->room, &s->lock);
    if (full(s, n, total) || s->shutdown) {
        pthread_mutex_unlock(&s->lock);
        ret = bridge_err(err, SPOOL_FULL, s->shutdown ? "spool closing" : "spool full");
        goto cleanup;
    }
    /* ids are assigned and written under the lock so a side's cursor never
       sees a higher id committed before a lower one */
    uint64_t first = s->next_id;
    int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
    for (size_t i = 0; i < n && !rc; i++) {
        uint8_t kb[8];
        key_of(first + i, kb);
        MDB_val k = {8, kb}, v = {lens[i], enc[i]};
        rc = mdb_put(txn, s->dbi[msgs[i]->dest_side], &k, &v, MDB_APPEND);
    }
    if (!rc) {
        rc = mdb_txn_commit(txn);
        txn = NULL;
    }
    if (!rc)
        rc = mdb_env_sync(s->env, 1);
    if (rc) {
        pthread_mutex_unlock(&s->lock);
        ret = lmdb_err(err, "write", rc);
        goto cleanup;
    }
    s->next_id += n;
    s->count += n;
    s->bytes += total;
    pthread_mutex_unlock(&s->lock);
    for (size_t i = 0; i < n; i++)
        msgs[i]->id = first + i;
cleanup:
    if (txn)
        mdb_txn_abort(txn);
    for (size_t i = 0; enc && i < n; i++)
        if (enc[i])
            msgsec_free_secret(enc[i], lens[i]);
    free(enc);
    free(lens);
    return ret;
}

void spool_del(spool *s, bridge_side side, const uint64_t *ids, size_t n)
{
    MDB_txn *txn;
    if (n == 0 || mdb_txn_begin(s->env, NULL, 0, &txn))
        return;
    size_t removed = 0, size = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t kb[8];
        key_of(ids[i], kb);
        MDB_val k = {8, kb}, v;
        if (mdb_get(txn, s->dbi[side], &k, &v) == 0) {
            size_t len = v.mv_size;
            if (mdb_del(txn, s->dbi[side], &k, NULL) == 0) {
                removed++;
                size += len;
            }
        }
    }
    if (removed == 0) {
        mdb_txn_abort(txn);
        return;
    }
    if (mdb_txn_commit(txn))
        return;
    pthread_mutex_lock(&s->lock);
    s->count -= removed;
    s->bytes -= size;
    pthread_cond_broadcast(&s->room);
    pthread_mutex_unlock(&s->lock);
}

size_t spool_next(spool *s, bridge_side side, uint64_t after, bmsg **out, size_t max)
{
    MDB_txn *txn;
    MDB_cursor *c;
    size_t n = 0;
    if (mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn))
        return 0;
    if (mdb_cursor_open(txn, s->dbi[side], &c) == 0) {
        uint8_t kb[8];
        key_of(after + 1, kb);
        MDB_val k = {8, kb}, v;
        for (int op = MDB_SET_RANGE; n < max && mdb_cursor_get(c, &k, &v, op) == 0; op = MDB_NEXT) {
            bmsg *m = decode(v.mv_data, v.mv_size);
            if (!m) {
                blog(LOG_ERROR, "spool_corrupt", "id=%llu", (unsigned long long)id_of(&k));
                continue;
            }
            m->id = id_of(&k);
            m->dest_side = side;
            out[n++] = m;
        }
        mdb_cursor_close(c);
    }
    mdb_txn_abort(txn);
    return n;
}

int spool_rejects_when_full(const spool *s) { return s->reject_when_full; }

int spool_has_room(spool *s)
{
    pthread_mutex_lock(&s->lock);
    int room = !full(s, 1, 0);
    pthread_mutex_unlock(&s->lock);
    return room;
}

size_t spool_depth(spool *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->count;
    pthread_mutex_unlock(&s->lock);
    return n;
}

size_t spool_bytes(spool *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->bytes;
    pthread_mutex_unlock(&s->lock);
    return n;
}

void spool_shutdown(spool *s)
{
    pthread_mutex_lock(&s->lock);
    s->shutdown = 1;
    pthread_cond_broadcast(&s->room);
    pthread_mutex_unlock(&s->lock);
}

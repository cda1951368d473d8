/* passwd.c - the password store of the `username` credential (passwd.h). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "internal.h"
#include "passwd.h"

#define SALT_LEN 16 /* new entries */
#define HASH_LEN 32
#define SALT_MIN 8 /* accepted on load (RFC 2898 minimum; RFC 7914 vectors use 14) */
#define SALT_MAX 64
#define HASH_MIN 32
#define HASH_MAX 64
#define NAME_MAX_LEN 255
#define N_MIN (1u << 14)
#define N_MAX (1u << 20)
#define SCRYPT_MAX_MEM ((uint64_t)256 << 20) /* 128 * r * N */

typedef struct passwd_entry {
    char *name;
    uint64_t n;
    uint32_t r, p;
    uint8_t salt[SALT_MAX], hash[HASH_MAX];
    size_t salt_len, hash_len;
    int line;                  /* for "duplicate user" */
    size_t line_off, line_len; /* the entry's text in the file (passwd_set rewrites it) */
} passwd_entry;

/* Recently verified (user, password) pairs, as HMAC-SHA256(key, user 0 password)
 * under a per-store random key: the tags say nothing about the passwords once the
 * store is freed, and a wrong password or an unknown user never gets in. A
 * separate allocation, so that passwd_check keeps taking a const store. */
typedef struct verified_tag {
    uint8_t tag[32];
    struct timespec until; /* CLOCK_MONOTONIC */
} verified_tag;

typedef struct verified_cache {
    pthread_mutex_t lock;
    uint8_t key[32];
    verified_tag *slots;
    size_t n_slots, next; /* oldest insertion is replaced first */
    long ttl;             /* seconds; 0 = off */
} verified_cache;

struct passwd_store {
    passwd_entry *entries;
    size_t n, cap;
    passwd_entry dummy; /* what an unknown user's password is hashed against */
    verified_cache *cache;
};

static msgsec_err derive(const char *password, const passwd_entry *e, uint8_t *out,
                         msgsec_error *err)
{
    uint64_t n = e->n, maxmem = 2 * SCRYPT_MAX_MEM; /* our bound is checked on load */
    uint32_t r = e->r, p = e->p;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (char *)password,
                                          strlen(password)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (uint8_t *)e->salt, e->salt_len),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    int ok = ctx && EVP_KDF_derive(ctx, out, e->hash_len, params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    if (!ok)
        return msgsec_seterr_ssl(err, MSGSEC_E_INTERNAL, "scrypt failed");
    return MSGSEC_OK;
}

/* A fresh entry with the default parameters and a random salt. */
static int new_entry_params(passwd_entry *e)
{
    e->n = PASSWD_SCRYPT_N;
    e->r = PASSWD_SCRYPT_R;
    e->p = PASSWD_SCRYPT_P;
    e->salt_len = SALT_LEN;
    e->hash_len = HASH_LEN;
    return RAND_bytes(e->salt, SALT_LEN) == 1 ? 0 : -1;
}

static int valid_name(const char *name, size_t len)
{
    if (len == 0 || len > NAME_MAX_LEN)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c == ':' || c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > max / 10)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    if (v > max)
        return -1;
    *out = v;
    return 0;
}

static int decode_into(const char *b64, uint8_t *dst, size_t min, size_t max, size_t *len)
{
    uint8_t *raw;
    size_t raw_len;
    if (b64_decode(b64, strlen(b64), &raw, &raw_len) != 0)
        return -1;
    int ok = raw_len >= min && raw_len <= max;
    if (ok) {
        memcpy(dst, raw, raw_len);
        *len = raw_len;
    }
    free(raw);
    return ok ? 0 : -1;
}

/* NAME:scrypt:N:r:p:SALT_B64:HASH_B64 (line: NUL-terminated copy). */
static const char *parse_entry(char *line, passwd_entry *e)
{
    char *field[7];
    size_t nf = 0;
    uint64_t n, r, p;
    for (char *s = line;; nf++) { /* exactly six ':' between seven fields */
        field[nf] = s;
        if (!(s = strchr(s, ':')))
            break;
        if (nf == 6)
            return "expected NAME:scrypt:N:r:p:SALT:HASH";
        *s++ = '\0';
    }
    if (nf != 6)
        return "expected NAME:scrypt:N:r:p:SALT:HASH";
    if (!valid_name(field[0], strlen(field[0])))
        return "invalid user name";
    if (strcmp(field[1], "scrypt") != 0)
        return "unknown hash scheme (expected scrypt)";
    if (parse_uint(field[2], N_MAX, &n) != 0 || n < N_MIN || (n & (n - 1)) != 0)
        return "scrypt N must be a power of two in 16384..1048576";
    if (parse_uint(field[3], 32, &r) != 0 || r < 1)
        return "scrypt r must be in 1..32";
    if (parse_uint(field[4], 16, &p) != 0 || p < 1)
        return "scrypt p must be in 1..16";
    if (128 * r * n > SCRYPT_MAX_MEM)
        return "scrypt parameters need more than 256 MiB";
    if (decode_into(field[5], e->salt, SALT_MIN, SALT_MAX, &e->salt_len) != 0)
        return "salt must be base64 of 8..64 bytes";
    if (decode_into(field[6], e->hash, HASH_MIN, HASH_MAX, &e->hash_len) != 0)
        return "hash must be base64 of 32..64 bytes";
    if (!(e->name = strdup(field[0])))
        return "out of memory";
    e->n = n;
    e->r = (uint32_t)r;
    e->p = (uint32_t)p;
    return NULL;
}

static void cache_free(verified_cache *cache)
{
    if (!cache)
        return;
    pthread_mutex_destroy(&cache->lock);
    if (cache->slots)
        OPENSSL_cleanse(cache->slots, cache->n_slots * sizeof *cache->slots);
    free(cache->slots);
    OPENSSL_cleanse(cache, sizeof *cache);
    free(cache);
}

static void store_clear(passwd_store *store)
{
    cache_free(store->cache);
    for (size_t i = 0; i < store->n; i++)
        free(store->entries[i].name);
    if (store->entries)
        OPENSSL_cleanse(store->entries, store->cap * sizeof *store->entries);
    free(store->entries);
    OPENSSL_cleanse(store, sizeof *store);
}

static int by_name_then_line(const void *a, const void *b)
{
    const passwd_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

static msgsec_err parse_store(const char *path, const char *text, size_t len, passwd_store *store,
                              msgsec_error *err)
{
    int lineno = 0;
    memset(store, 0, sizeof *store);
    if (memchr(text, '\0', len))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "%s: contains a NUL byte", path);
    for (size_t off = 0; off < len; lineno++) {
        const char *nl = memchr(text + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - text) : len, line_len = end - off;
        if (line_len && text[off + line_len - 1] == '\r')
            line_len--;
        if (line_len && text[off] != '#') {
            if (store->n == store->cap) {
                size_t cap = store->cap ? store->cap * 2 : 16;
                passwd_entry *grown = calloc(cap, sizeof *grown);
                if (!grown)
                    return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
                if (store->n)
                    memcpy(grown, store->entries, store->n * sizeof *grown);
                if (store->entries)
                    OPENSSL_cleanse(store->entries, store->cap * sizeof *grown);
                free(store->entries);
                store->entries = grown;
                store->cap = cap;
            }
            passwd_entry *e = &store->entries[store->n];
            char *copy = strndup(text + off, line_len);
            const char *problem = copy ? parse_entry(copy, e) : "out of memory";
            free(copy);
            if (problem)
                return msgsec_seterr(err, MSGSEC_E_USAGE, "%s:%d: %s", path, lineno + 1, problem);
            store->n++;
            e->line = lineno + 1;
            e->line_off = off;
            e->line_len = line_len;
        }
        off = end + 1;
    }
    /* duplicates: sorted, they are neighbours (n log n for a large store) */
    if (store->n > 1)
        qsort(store->entries, store->n, sizeof *store->entries, by_name_then_line);
    for (size_t i = 1; i < store->n; i++) {
        const passwd_entry *first = &store->entries[i - 1], *dup = &store->entries[i];
        if (strcmp(first->name, dup->name) == 0)
            return msgsec_seterr(err, MSGSEC_E_USAGE,
                                 "%s:%d: duplicate user '%s' (first at line %d)", path, dup->line,
                                 dup->name, first->line);
    }
    return MSGSEC_OK;
}

/* Reads the store file; every failure is a configuration error. A store that
 * group or others can write would let them add users: refused (as sshd's
 * StrictModes refuses such authorized_keys). */
static msgsec_err read_store(const char *path, uint8_t **text, size_t *len, msgsec_error *err)
{
    msgsec_error read_err;
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & (S_IWGRP | S_IWOTH)))
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "password store %s is writable by group or others (mode %03o); "
                             "chmod 600 it",
                             path, (unsigned)(st.st_mode & 0777));
    if (read_file_bounded(path, PASSWD_MAX_BYTES, text, len, &read_err) != MSGSEC_OK)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "password store: %s", read_err.detail);
    return MSGSEC_OK;
}

msgsec_err passwd_store_load(const char *path, passwd_store **out, msgsec_error *err)
{
    uint8_t *text = NULL;
    size_t len = 0;
    msgsec_err rc;
    passwd_store *store = calloc(1, sizeof *store);
    *out = NULL;
    if (!store)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    if ((rc = read_store(path, &text, &len, err)) != MSGSEC_OK) {
        free(store);
        return rc;
    }
    rc = parse_store(path, (const char *)text, len, store, err);
    if (rc == MSGSEC_OK &&
        (new_entry_params(&store->dummy) != 0 || RAND_bytes(store->dummy.hash, HASH_LEN) != 1))
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "no random numbers");
    if (rc == MSGSEC_OK)
        rc = passwd_store_cache(store, PASSWD_CACHE_SLOTS, PASSWD_CACHE_TTL, err);
    free(text);
    if (rc != MSGSEC_OK) {
        passwd_store_free(store);
        return rc;
    }
    *out = store;
    return MSGSEC_OK;
}

void passwd_store_free(passwd_store *store)
{
    if (!store)
        return;
    store_clear(store);
    free(store);
}

size_t passwd_store_count(const passwd_store *store) { return store->n; }

msgsec_err passwd_store_cache(passwd_store *store, size_t slots, long ttl_seconds,
                              msgsec_error *err)
{
    verified_cache *cache = NULL;
    if (slots > 0 && ttl_seconds > 0) {
        if (!(cache = calloc(1, sizeof *cache)) ||
            !(cache->slots = calloc(slots, sizeof *cache->slots))) {
            free(cache);
            return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        }
        cache->n_slots = slots;
        cache->ttl = ttl_seconds;
        if (pthread_mutex_init(&cache->lock, NULL) != 0 ||
            RAND_bytes(cache->key, sizeof cache->key) != 1) {
            free(cache->slots);
            free(cache);
            return msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot set up the password cache");
        }
    }
    cache_free(store->cache);
    store->cache = cache;
    return MSGSEC_OK;
}

/* tag = HMAC-SHA256(cache key, user 0 password); 0 on success. */
static int cache_tag(const verified_cache *cache, const char *user, const char *password,
                     uint8_t tag[32])
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    size_t len = 0;
    int ok = ctx && EVP_MAC_init(ctx, cache->key, sizeof cache->key, params) == 1 &&
             EVP_MAC_update(ctx, (const uint8_t *)user, strlen(user) + 1) == 1 &&
             EVP_MAC_update(ctx, (const uint8_t *)password, strlen(password)) == 1 &&
             EVP_MAC_final(ctx, tag, &len, 32) == 1 && len == 32;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    return ok ? 0 : -1;
}

static int later(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

/* 1 when tag was verified less than ttl seconds ago. */
static int cache_hit(verified_cache *cache, const uint8_t tag[32])
{
    struct timespec now;
    int hit = 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&cache->lock);
    for (size_t i = 0; i < cache->n_slots; i++)
        if (later(&cache->slots[i].until, &now) && ct_equal(cache->slots[i].tag, tag, 32))
            hit = 1;
    pthread_mutex_unlock(&cache->lock);
    return hit;
}

static void cache_insert(verified_cache *cache, const uint8_t tag[32])
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&cache->lock);
    verified_tag *slot = &cache->slots[cache->next];
    cache->next = (cache->next + 1) % cache->n_slots;
    memcpy(slot->tag, tag, 32);
    slot->until = now;
    slot->until.tv_sec += cache->ttl;
    pthread_mutex_unlock(&cache->lock);
}

msgsec_err passwd_check(const passwd_store *store, const char *user, const char *password,
                        msgsec_error *err)
{
    const passwd_entry *found = NULL;
    uint8_t got[HASH_MAX], tag[32];
    int tagged = store->cache && user && password &&
                 cache_tag(store->cache, user, password, tag) == 0;
    if (tagged && cache_hit(store->cache, tag)) {
        OPENSSL_cleanse(tag, sizeof tag);
        return MSGSEC_OK;
    }
    /* no early exit: the scan costs the same wherever (and whether) the user is */
    for (size_t i = 0; user && i < store->n; i++)
        if (strcmp(store->entries[i].name, user) == 0)
            found = &store->entries[i];
    const passwd_entry *against = found ? found : &store->dummy;
    msgsec_err rc = derive(password ? password : "", against, got, err);
    if (rc != MSGSEC_OK)
        return rc;
    int match = ct_equal(got, against->hash, against->hash_len);
    OPENSSL_cleanse(got, sizeof got);
    if (match && found && tagged)
        cache_insert(store->cache, tag);
    OPENSSL_cleanse(tag, sizeof tag);
    if (!match || !found)
        return msgsec_seterr(err, MSGSEC_E_AUTH, "unknown user or wrong password");
    return MSGSEC_OK;
}

/* Writes data to a temporary file next to path (mode 0600), syncs it and
 * renames it over path; dir_fd (the directory, for its own sync). */
static msgsec_err replace_file(const char *path, int dir_fd, const char *data, size_t len,
                               msgsec_error *err)
{
    size_t tmp_len = strlen(path) + sizeof ".tmpXXXXXX";
    char *tmp = malloc(tmp_len);
    msgsec_err rc = MSGSEC_OK;
    FILE *f = NULL;
    int fd;
    if (!tmp)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    snprintf(tmp, tmp_len, "%s.tmpXXXXXX", path);
    if ((fd = mkstemp(tmp)) < 0) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot create %s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    if (fchmod(fd, 0600) != 0 || !(f = fdopen(fd, "w")) || fwrite(data, 1, len, f) != len ||
        fflush(f) != 0 || fsync(fd) != 0)
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot write %s: %s", tmp, strerror(errno));
    if (f ? fclose(f) != 0 : close(fd) != 0)
        rc = rc ? rc : msgsec_seterr(err, MSGSEC_E_USAGE, "cannot write %s", tmp);
    if (rc == MSGSEC_OK && rename(tmp, path) != 0)
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot replace %s: %s", path, strerror(errno));
    if (rc != MSGSEC_OK)
        unlink(tmp);
    else
        fsync(dir_fd); /* make the rename durable; best effort */
    free(tmp);
    return rc;
}

/* Opens and exclusively locks the directory of path (*fd; closing it unlocks). */
static msgsec_err lock_directory(const char *path, int *fd, msgsec_error *err)
{
    char *copy = strdup(path);
    char *slash = copy ? strrchr(copy, '/') : NULL;
    msgsec_err rc = MSGSEC_OK;
    if (!copy)
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    if (slash)
        slash[slash == copy] = '\0'; /* "/file" keeps "/" */
    *fd = open(slash ? copy : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0)
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot open the directory of %s: %s", path,
                           strerror(errno));
    else if (flock(*fd, LOCK_EX) != 0)
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot lock the directory of %s: %s", path,
                           strerror(errno));
    free(copy);
    return rc;
}

msgsec_err passwd_set(const char *path, const char *user, const char *password, int *updated,
                      msgsec_error *err)
{
    passwd_store store = {0};
    passwd_entry fresh = {0};
    uint8_t *text = NULL;
    size_t len = 0, plen = password ? strlen(password) : 0;
    strbuf out = {0};
    msgsec_err rc = MSGSEC_OK;
    int dir_fd = -1;
    struct stat st;

    if (updated)
        *updated = 0;
    if (!user || !valid_name(user, strlen(user)))
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "invalid user name: 1..%d bytes without ':' or control characters",
                             NAME_MAX_LEN);
    if (plen == 0 || plen > PASSWD_MAX_PASSWORD)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "the password must be 1..%d bytes",
                             PASSWD_MAX_PASSWORD);
    if ((rc = lock_directory(path, &dir_fd, err)) != MSGSEC_OK)
        goto cleanup;
    if (stat(path, &st) == 0 || errno != ENOENT) {
        if ((rc = read_store(path, &text, &len, err)) != MSGSEC_OK ||
            (rc = parse_store(path, (const char *)text, len, &store, err)) != MSGSEC_OK)
            goto cleanup;
    }
    if (new_entry_params(&fresh) != 0) {
        rc = msgsec_seterr(err, MSGSEC_E_INTERNAL, "no random numbers");
        goto cleanup;
    }
    if ((rc = derive(password, &fresh, fresh.hash, err)) != MSGSEC_OK)
        goto cleanup;

    const passwd_entry *old = NULL;
    for (size_t i = 0; i < store.n; i++)
        if (strcmp(store.entries[i].name, user) == 0)
            old = &store.entries[i];
    size_t keep = old ? old->line_off : len;
    sb_init(&out, len + 256, PASSWD_MAX_BYTES);
    sb_append(&out, text ? (const char *)text : "", keep);
    if (!old && len && text[len - 1] != '\n')
        sb_puts(&out, "\n");
    sb_printf(&out, "%s:scrypt:%u:%u:%u:", user, (unsigned)fresh.n, (unsigned)fresh.r,
              (unsigned)fresh.p);
    sb_put_base64(&out, fresh.salt, fresh.salt_len);
    sb_puts(&out, ":");
    sb_put_base64(&out, fresh.hash, fresh.hash_len);
    if (old)
        sb_append(&out, text + old->line_off + old->line_len, len - old->line_off - old->line_len);
    else
        sb_puts(&out, "\n");
    if (out.failed) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "%s: the store would exceed %zu bytes", path,
                           PASSWD_MAX_BYTES);
        goto cleanup;
    }
    if ((rc = replace_file(path, dir_fd, out.data, out.len, err)) == MSGSEC_OK && updated)
        *updated = old != NULL;
cleanup:
    OPENSSL_cleanse(&fresh, sizeof fresh);
    sb_free(&out, 1);
    store_clear(&store);
    free(text);
    if (dir_fd >= 0)
        close(dir_fd); /* releases the lock */
    return rc;
}

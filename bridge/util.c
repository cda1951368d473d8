/* util.c - the bridge's leaf helpers (see util.h). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define SECRET_MAX 4096

msgsec_err bridge_err(msgsec_error *err, msgsec_err code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->detail, sizeof err->detail, fmt, ap);
        va_end(ap);
    }
    return code;
}

msgsec_err bridge_err_ssl(msgsec_error *err, msgsec_err code, const char *what)
{
    /* the reason text only ("certificate verify failed"), as msgsec reports it */
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    bridge_err(err, code, "%s%s%s", what, reason ? ": " : "", reason ? reason : "");
    ERR_clear_error();
    return code;
}

int array_reserve(void *items, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        if (n > SIZE_MAX / 2)
            return -1;
        n *= 2;
    }
    if (n > SIZE_MAX / elem)
        return -1;
    void **array = items;
    void *p = realloc(*array, n * elem);
    if (!p)
        return -1;
    *array = p;
    *cap = n;
    return 0;
}

int backoff_next(int *backoff_ms)
{
    int delay = *backoff_ms / 2 + (int)(random() % (*backoff_ms / 2 + 1));
    *backoff_ms = *backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *backoff_ms * 2;
    return delay;
}

msgsec_err bridge_read_secret(const char *path, char **out, msgsec_error *err)
{
    char *buf = NULL;
    size_t len = 0;
    msgsec_err rc = MSGSEC_OK;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return bridge_err(err, MSGSEC_E_USAGE, "cannot open %s: %s", path, strerror(errno));
    /* one byte more than allowed tells an over-long file */
    if (!(buf = malloc(SECRET_MAX + 2))) {
        rc = bridge_err(err, MSGSEC_E_INTERNAL, "out of memory");
        goto cleanup;
    }
    for (;;) {
        ssize_t k = read(fd, buf + len, SECRET_MAX + 1 - len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = bridge_err(err, MSGSEC_E_USAGE, "cannot read %s", path);
            goto cleanup;
        }
        len += (size_t)k;
        if (k == 0 || len > SECRET_MAX)
            break;
    }
    if (len > SECRET_MAX) {
        rc = bridge_err(err, MSGSEC_E_MALFORMED, "%s exceeds %d bytes", path, SECRET_MAX);
        goto cleanup;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = 0;
    *out = buf;
    buf = NULL;
cleanup:
    close(fd);
    if (buf)
        msgsec_free_secret(buf, SECRET_MAX + 2);
    return rc;
}

int bridge_new_id(char *buf, size_t size)
{
    uint8_t u[16];
    if (size < BRIDGE_ID_LEN || RAND_bytes(u, sizeof u) != 1)
        return -1;
    u[6] = (uint8_t)(0x40 | (u[6] & 0x0f)); /* version 4: random */
    u[8] = (uint8_t)(0x80 | (u[8] & 0x3f)); /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    char *p = buf + sizeof "urn:uuid:" - 1;
    memcpy(buf, "urn:uuid:", sizeof "urn:uuid:" - 1);
    for (size_t i = 0; i < sizeof u; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[u[i] >> 4];
        *p++ = hex[u[i] & 0xf];
    }
    *p = 0;
    return 0;
}

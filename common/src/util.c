/* util.c - errors, bounded buffers, base64, time, files, keys. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "internal.h"

/* ------------------------------------------------------------------ errors */

static const char *const error_texts[] = {
    [MSGSEC_OK] = "ok",
    [MSGSEC_E_INTERNAL] = "internal error",
    [MSGSEC_E_USAGE] = "usage or configuration error",
    [MSGSEC_E_MALFORMED] = "malformed or over limits",
    [MSGSEC_E_AUTH] = "authentication failed",
    [MSGSEC_E_EXPIRED] = "expired or not yet valid",
    [MSGSEC_E_REPLAY] = "replayed message",
    [MSGSEC_E_DECRYPT] = "cannot decrypt (not addressed to this service)",
    [MSGSEC_E_POLICY] = "policy violation",
};

const char *msgsec_strerror(msgsec_err code)
{
    if ((unsigned)code < sizeof error_texts / sizeof error_texts[0])
        return error_texts[code];
    return "unknown error";
}

msgsec_err msgsec_seterr(msgsec_error *err, msgsec_err code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->transient = 0;
        va_start(ap, fmt);
        vsnprintf(err->detail, sizeof err->detail, fmt, ap);
        va_end(ap);
        /* one line, always */
        for (char *p = err->detail; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    }
    return code;
}

msgsec_err msgsec_seterr_ssl(msgsec_error *err, msgsec_err code, const char *what)
{
    unsigned long e = ERR_get_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    if (reason)
        return msgsec_seterr(err, code, "%s: %s", what, reason);
    return msgsec_seterr(err, code, "%s", what);
}

static const char *const credential_names[] = {
    [MSGSEC_CRED_NONE] = "none",
    [MSGSEC_CRED_CERTIFICATE] = "certificate",
    [MSGSEC_CRED_USERNAME] = "username",
    [MSGSEC_CRED_WINDOWS] = "windows",
    [MSGSEC_CRED_ISSUED] = "issued",
};

const char *msgsec_credential_name(msgsec_credential cred)
{
    if ((unsigned)cred < sizeof credential_names / sizeof credential_names[0])
        return credential_names[cred];
    return NULL;
}

msgsec_err msgsec_credential_parse(const char *name, msgsec_credential *out)
{
    for (unsigned i = 0; i < sizeof credential_names / sizeof credential_names[0]; i++) {
        if (name && strcmp(name, credential_names[i]) == 0) {
            *out = (msgsec_credential)i;
            return MSGSEC_OK;
        }
    }
    return MSGSEC_E_USAGE;
}

void msgsec_free(void *ptr) { free(ptr); }

void msgsec_free_secret(void *ptr, size_t len)
{
    if (ptr)
        OPENSSL_cleanse(ptr, len);
    free(ptr);
}

/* ------------------------------------------------------------------ strbuf */

int grow_array(void *items, size_t *cap, size_t need, size_t elem, size_t first_cap)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : first_cap;
    while (n < need) {
        if (n > SIZE_MAX / 2 / elem)
            return -1;
        n *= 2;
    }
    void *p = realloc(*(void **)items, n * elem);
    if (!p)
        return -1;
    *(void **)items = p;
    *cap = n;
    return 0;
}

void sb_init(strbuf *sb, size_t initial, size_t limit)
{
    memset(sb, 0, sizeof *sb);
    sb->limit = limit ? limit : SIZE_MAX / 2;
    if (initial == 0)
        initial = 256;
    sb->data = malloc(initial);
    if (!sb->data) {
        sb->failed = 1;
        return;
    }
    sb->cap = initial;
    sb->data[0] = '\0';
}

static int sb_reserve(strbuf *sb, size_t extra)
{
    if (sb->failed)
        return -1;
    if (extra > sb->limit - sb->len) {
        sb->failed = 1;
        return -1;
    }
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return 0;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    /* grow by copy so that a secret held in the old block can be wiped */
    char *p = malloc(cap);
    if (!p) {
        sb->failed = 1;
        return -1;
    }
    if (sb->data) {
        memcpy(p, sb->data, sb->len + 1);
        OPENSSL_cleanse(sb->data, sb->cap);
        free(sb->data);
    }
    sb->data = p;
    sb->cap = cap;
    return 0;
}

void sb_append(strbuf *sb, const void *data, size_t len)
{
    if (sb_reserve(sb, len) != 0)
        return;
    memcpy(sb->data + sb->len, data, len);
    sb->len += len;
    sb->data[sb->len] = '\0';
}

void sb_puts(strbuf *sb, const char *s) { sb_append(sb, s, strlen(s)); }

void sb_printf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sb_reserve(sb, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void sb_put_xml_escaped(strbuf *sb, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        const char *rep = NULL;
        switch (s[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\r': rep = "&#xD;"; break;
        default: break;
        }
        if (rep) {
            sb_append(sb, s + start, i - start);
            sb_puts(sb, rep);
            start = i + 1;
        }
    }
    sb_append(sb, s + start, len - start);
}

void sb_put_base64(strbuf *sb, const uint8_t *data, size_t len)
{
    size_t enc = 4 * ((len + 2) / 3);
    if (sb_reserve(sb, enc) != 0)
        return;
    EVP_EncodeBlock((unsigned char *)sb->data + sb->len, data, (int)len);
    sb->len += enc;
    sb->data[sb->len] = '\0';
}

void sb_free(strbuf *sb, int wipe)
{
    if (sb->data && wipe)
        OPENSSL_cleanse(sb->data, sb->cap);
    free(sb->data);
    memset(sb, 0, sizeof *sb);
}

char *sb_steal(strbuf *sb, size_t *len)
{
    char *p = sb->data;
    if (len)
        *len = sb->len;
    memset(sb, 0, sizeof *sb);
    return p;
}

/* ------------------------------------------------------------------ base64 */

static int is_b64_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Decodes clean[0..n) (no whitespace, n % 4 == 0) into buf (n / 4 * 3 bytes). */
static int decode_clean(const char *clean, size_t n, uint8_t *buf, size_t *out_len)
{
    int dec = n ? EVP_DecodeBlock(buf, (const unsigned char *)clean, (int)n) : 0;
    if (dec < 0)
        return -1;
    /* EVP_DecodeBlock counts padding as zero bytes */
    size_t pad = 0;
    if (n >= 1 && clean[n - 1] == '=')
        pad++;
    if (n >= 2 && clean[n - 2] == '=')
        pad++;
    *out_len = (size_t)dec - pad;
    return 0;
}

int b64_decode(const char *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    char *clean = malloc(in_len + 1);
    if (!clean)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < in_len; i++)
        if (!is_b64_space(in[i]))
            clean[n++] = in[i];
    if (n % 4 != 0 || n > INT32_MAX) {
        free(clean);
        return -1;
    }
    uint8_t *buf = malloc(n / 4 * 3 + 1);
    if (!buf || decode_clean(clean, n, buf, out_len) != 0) {
        free(clean);
        free(buf);
        *out_len = 0;
        return -1;
    }
    free(clean);
    *out = buf;
    return 0;
}

/* Value of each base64 character (RFC 4648 alphabet), 255 for the others. */
static const uint8_t b64_value[256] = {
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 62, 255, 255, 255, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 255, 255, 255, 255, 255, 255,
    255, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 255, 255, 255, 255, 255,
    255, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
    255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255,
};

/* Decodes one group of 4 characters into 3 bytes; -1 when one is outside the alphabet. */
static int decode_group(const unsigned char *in, uint8_t *out)
{
    unsigned a = b64_value[in[0]], b = b64_value[in[1]], c = b64_value[in[2]],
             d = b64_value[in[3]];
    if ((a | b | c | d) > 63)
        return -1;
    unsigned long l = (unsigned long)a << 18 | b << 12 | c << 6 | d;
    out[0] = (uint8_t)(l >> 16);
    out[1] = (uint8_t)(l >> 8);
    out[2] = (uint8_t)l;
    return 0;
}

/* Canonical base64 (alphabet only, '=' only as the last one or two
 * characters), decoded into out (n / 4 * 3 bytes) exactly as
 * EVP_DecodeBlock and decode_clean would: -1 for anything else, which they
 * then judge. */
static int decode_canonical(const char *in, size_t n, uint8_t *out, size_t *out_len)
{
    const unsigned char *s = (const unsigned char *)in;
    if (n == 0 || n % 4 != 0)
        return -1;
    for (size_t i = 0; i + 4 < n; i += 4, out += 3)
        if (decode_group(s + i, out) != 0)
            return -1;
    /* the last group: padding decodes as zero bits ('A'), as in EVP_DecodeBlock */
    unsigned char last[4] = {s[n - 4], s[n - 3], s[n - 2], s[n - 1]};
    size_t pad = last[3] != '=' ? 0 : last[2] != '=' ? 1 : 2;
    for (size_t k = 4 - pad; k < 4; k++)
        last[k] = 'A';
    if (decode_group(last, out) != 0)
        return -1;
    *out_len = n / 4 * 3 - pad;
    return 0;
}

/* Values up to this many base64 characters are cleaned of whitespace on
 * the stack (a 4096-bit RSA SignatureValue, with line breaks, fits). */
#define B64_STACK_CHARS 1024

int b64_decode_small(const char *in, size_t in_len, uint8_t *out, size_t cap, size_t *out_len)
{
    char clean[B64_STACK_CHARS];
    size_t n = 0;
    *out_len = 0;
    if (in_len / 4 * 3 <= cap && decode_canonical(in, in_len, out, out_len) == 0)
        return 0; /* the usual value, in one pass */
    for (size_t i = 0; i < in_len; i++)
        n += !is_b64_space(in[i]);
    if (n % 4 != 0)
        return -1; /* as b64_decode */
    if (n / 4 * 3 > cap || n > INT32_MAX || (n != in_len && n > sizeof clean))
        return 1;
    if (n != in_len) {
        n = 0;
        for (size_t i = 0; i < in_len; i++)
            if (!is_b64_space(in[i]))
                clean[n++] = in[i];
    }
    return decode_clean(n != in_len ? clean : in, n, out, out_len);
}

/* -------------------------------------------------------------------- time */

void xsd_time_format(time_t t, char *buf, size_t size)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int xsd_time_parse(const char *s, time_t *out)
{
    struct tm tm;
    int year, mon, day, hour, min, sec;
    const char *p = s;
    memset(&tm, 0, sizeof tm);
    if (parse_digits(&p, 4, &year) || *p++ != '-' || parse_digits(&p, 2, &mon) ||
        *p++ != '-' || parse_digits(&p, 2, &day) || *p++ != 'T' ||
        parse_digits(&p, 2, &hour) || *p++ != ':' || parse_digits(&p, 2, &min) ||
        *p++ != ':' || parse_digits(&p, 2, &sec))
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
        return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    long offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om) || oh > 14 ||
            om > 59)
            return -1;
        offset = sign * (oh * 3600L + om * 60L);
    } else {
        return -1; /* a timestamp without zone is ambiguous: refuse */
    }
    if (*p != '\0')
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = t - offset;
    return 0;
}

/* -------------------------------------------------------------------- misc */

int uuid_urn(char *buf, size_t size)
{
    uint8_t u[16];
    if (size < 46 || RAND_bytes(u, sizeof u) != 1)
        return -1;
    u[6] = (uint8_t)((u[6] & 0x0f) | 0x40);
    u[8] = (uint8_t)((u[8] & 0x3f) | 0x80);
    snprintf(buf, size,
             "urn:uuid:%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
             u[13], u[14], u[15]);
    return 0;
}

msgsec_err read_file_bounded(const char *path, size_t limit, uint8_t **out, size_t *len,
                             msgsec_error *err)
{
    msgsec_err rc = MSGSEC_OK;
    strbuf sb;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    *out = NULL;
    *len = 0;
    if (!f)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot open %s: %s", path, strerror(errno));
    sb_init(&sb, 4096, limit);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        sb_append(&sb, chunk, n);
        if (sb.failed)
            break;
    }
    if (ferror(f)) {
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot read %s", path);
        goto cleanup;
    }
    if (sb.failed) {
        rc = msgsec_seterr(err, MSGSEC_E_MALFORMED, "%s exceeds %zu bytes", path, limit);
        goto cleanup;
    }
    *out = (uint8_t *)sb_steal(&sb, len);
cleanup:
    if (f != stdin)
        fclose(f);
    sb_free(&sb, 1);
    return rc;
}

int ct_equal(const void *a, const void *b, size_t len) { return CRYPTO_memcmp(a, b, len) == 0; }

/* -------------------------------------------------------------------- keys */

msgsec_err check_private_key_mode(int fd, const char *path, msgsec_error *err)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        return msgsec_seterr(err, MSGSEC_E_USAGE, "key %s is not a regular file", path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return msgsec_seterr(err, MSGSEC_E_USAGE,
                             "key %s is accessible by group or others (mode %03o); chmod 600 it",
                             path, (unsigned)(st.st_mode & 0777));
    return MSGSEC_OK;
}

msgsec_err load_private_key(const char *path, EVP_PKEY **out, msgsec_error *err)
{
    FILE *f = NULL;
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot open key %s: %s", path, strerror(errno));
    msgsec_err rc = check_private_key_mode(fd, path, err);
    if (rc != MSGSEC_OK) {
        close(fd);
        return rc;
    }
    f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "cannot read key %s", path);
    }
    *out = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!*out)
        return msgsec_seterr_ssl(err, MSGSEC_E_USAGE, "cannot parse private key");
    return MSGSEC_OK;
}

msgsec_err load_certs(const char *path, STACK_OF(X509) **stack, msgsec_error *err)
{
    FILE *f = fopen(path, "r");
    X509 *c;
    int count = 0;
    if (!f)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot open certificate %s: %s", path,
                             strerror(errno));
    if (!*stack && !(*stack = sk_X509_new_null())) {
        fclose(f);
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    }
    while ((c = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        if (!sk_X509_push(*stack, c)) {
            X509_free(c);
            fclose(f);
            return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
        }
        count++;
    }
    fclose(f);
    ERR_clear_error(); /* the loop ends on a "no start line" error */
    if (count == 0)
        return msgsec_seterr(err, MSGSEC_E_USAGE, "no PEM certificate in %s", path);
    return MSGSEC_OK;
}

msgsec_err load_cert(const char *path, X509 **out, msgsec_error *err)
{
    STACK_OF(X509) *stack = NULL;
    msgsec_err rc = load_certs(path, &stack, err);
    *out = NULL;
    if (rc == MSGSEC_OK)
        *out = sk_X509_shift(stack);
    sk_X509_pop_free(stack, X509_free);
    return rc;
}

int cert_thumbprint_sha1(X509 *cert, uint8_t out[20])
{
    unsigned int n = 20;
    return X509_digest(cert, EVP_sha1(), out, &n) == 1 && n == 20 ? 0 : -1;
}

static char *name_to_string(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *s = NULL;
    if (!bio)
        return NULL;
    if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char *data;
        long n = BIO_get_mem_data(bio, &data);
        if (n >= 0 && (s = malloc((size_t)n + 1)) != NULL) {
            memcpy(s, data, (size_t)n);
            s[n] = '\0';
        }
    }
    BIO_free(bio);
    return s;
}

char *cert_subject_dn(X509 *cert) { return name_to_string(X509_get_subject_name(cert)); }
char *cert_issuer_dn(X509 *cert) { return name_to_string(X509_get_issuer_name(cert)); }

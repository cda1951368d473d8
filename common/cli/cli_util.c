/* cli_util.c - option parsing, error lines and safe file output for the subcommands. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "commands.h"
#include "internal.h"

int cli_fail(msgsec_err code, const char *fmt, ...)
{
    va_list ap;
    fputs("msgsec: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int cli_fail_err(const msgsec_error *err)
{
    msgsec_err code = err->code ? err->code : MSGSEC_E_INTERNAL;
    return cli_fail(code, "%s", err->detail[0] ? err->detail : msgsec_strerror(code));
}

int cli_next_option(int argc, char **argv, const char *cmd, const struct option *longopts)
{
    opterr = 0;
    int c = getopt_long(argc, argv, ":h", longopts, NULL);
    if (c == '?') {
        if (optopt && optopt < 256)
            cli_fail(MSGSEC_E_USAGE, "%s: unknown option -%c (see msgsec %s --help)", cmd,
                     optopt, cmd);
        else
            cli_fail(MSGSEC_E_USAGE, "%s: unknown option %s (see msgsec %s --help)", cmd,
                     argv[optind - 1], cmd);
    } else if (c == ':') {
        cli_fail(MSGSEC_E_USAGE, "%s: option %s needs a value", cmd, argv[optind - 1]);
        c = '?';
    }
    return c;
}

int cli_no_operands(int argc, char **argv, const char *cmd)
{
    if (optind < argc)
        return cli_fail(MSGSEC_E_USAGE, "%s: unexpected argument '%s' (see msgsec %s --help)",
                        cmd, argv[optind], cmd);
    return 0;
}

int cli_parse_long(const char *cmd, const char *opt, const char *unit, const char *value, long min,
                   long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < min || v > max) {
        if (max == LONG_MAX)
            return cli_fail(MSGSEC_E_USAGE, "%s: %s wants whole %s >= %ld, not '%s'", cmd, opt,
                            unit, min, value);
        return cli_fail(MSGSEC_E_USAGE, "%s: %s wants whole %s in %ld..%ld, not '%s'", cmd, opt,
                        unit, min, max, value);
    }
    *out = v;
    return 0;
}

static msgsec_err write_all(int fd, const void *data, size_t len, const char *path,
                            msgsec_error *err)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot write %s: %s", path,
                                 strerror(errno));
        p += n;
        len -= (size_t)n;
    }
    return MSGSEC_OK;
}

msgsec_err cli_output_open(cli_output *out, const char *path, msgsec_error *err)
{
    memset(out, 0, sizeof *out);
    out->fd = -1;
    out->path = path;
    if (!path || strcmp(path, "-") == 0) {
        out->fd = STDOUT_FILENO;
        out->path = "standard output";
        return MSGSEC_OK;
    }
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* a pipe, a terminal, a symbolic link such as /dev/stdout: renaming a
         * temporary file onto it would replace the node, so write through it */
        if ((out->fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
            return msgsec_seterr(err, MSGSEC_E_USAGE, "cannot open %s: %s", path,
                                 strerror(errno));
        out->direct = 1;
        return MSGSEC_OK;
    }
    size_t tmp_len = strlen(path) + sizeof ".tmpXXXXXX";
    if (!(out->tmp = malloc(tmp_len)))
        return msgsec_seterr(err, MSGSEC_E_INTERNAL, "out of memory");
    snprintf(out->tmp, tmp_len, "%s.tmpXXXXXX", path);
    if ((out->fd = mkstemp(out->tmp)) < 0) {
        msgsec_err rc =
            msgsec_seterr(err, MSGSEC_E_USAGE, "cannot create %s: %s", path, strerror(errno));
        free(out->tmp);
        out->tmp = NULL;
        return rc;
    }
    mode_t mask = umask(0);
    umask(mask);
    if (fchmod(out->fd, 0666 & ~mask) != 0) {
        msgsec_err rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot set the mode of %s: %s", path,
                                      strerror(errno));
        cli_output_abort(out);
        return rc;
    }
    return MSGSEC_OK;
}

msgsec_err cli_output_commit(cli_output *out, const void *data, size_t len, msgsec_error *err)
{
    msgsec_err rc = write_all(out->fd, data, len, out->path, err);
    if (out->direct) {
        if (close(out->fd) != 0 && rc == MSGSEC_OK)
            rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot write %s: %s", out->path,
                               strerror(errno));
        out->fd = -1;
        out->direct = 0;
        return rc;
    }
    if (!out->tmp) /* standard output */
        return rc;
    if (close(out->fd) != 0 && rc == MSGSEC_OK)
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot write %s: %s", out->path,
                           strerror(errno));
    out->fd = -1;
    if (rc == MSGSEC_OK && rename(out->tmp, out->path) != 0)
        rc = msgsec_seterr(err, MSGSEC_E_USAGE, "cannot write %s: %s", out->path,
                           strerror(errno));
    if (rc == MSGSEC_OK) {
        free(out->tmp);
        out->tmp = NULL;
    }
    cli_output_abort(out);
    return rc;
}

void cli_output_abort(cli_output *out)
{
    if (out->direct) {
        close(out->fd);
        out->fd = -1;
        out->direct = 0;
        return;
    }
    if (!out->tmp)
        return;
    if (out->fd >= 0)
        close(out->fd);
    unlink(out->tmp);
    free(out->tmp);
    out->tmp = NULL;
    out->fd = -1;
}

msgsec_err cli_write_output(const char *path, const void *data, size_t len, msgsec_error *err)
{
    cli_output out;
    msgsec_err rc = cli_output_open(&out, path, err);
    return rc == MSGSEC_OK ? cli_output_commit(&out, data, len, err) : rc;
}

msgsec_err cli_read_password(const char *path, char **password, msgsec_error *err)
{
    uint8_t *data = NULL;
    size_t len = 0;
    *password = NULL;
    msgsec_err rc = read_file_bounded(path, 4096, &data, &len, err);
    if (rc != MSGSEC_OK)
        return rc;
    size_t line = strcspn((char *)data, "\r\n");
    if (line == 0) {
        msgsec_free_secret(data, len);
        return msgsec_seterr(err, MSGSEC_E_USAGE, "password file %s: first line is empty", path);
    }
    OPENSSL_cleanse(data + line, len - line);
    *password = (char *)data; /* NUL-terminated at the end of the first line */
    return MSGSEC_OK;
}

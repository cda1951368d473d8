/* commands.h - the subcommands of the msgsec command and the helpers they share.
 *
 * Every subcommand is `int cmd_NAME(int argc, char **argv)` with argv[0] the
 * subcommand name; it returns the process exit code (= msgsec_err class) and,
 * on failure, has printed exactly one line "msgsec: <detail>" on stderr.
 */
#ifndef MSGSEC_CLI_COMMANDS_H
#define MSGSEC_CLI_COMMANDS_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "msgsec.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

/* The dispatch table (main.c). */
extern const cli_command cli_commands[];
extern const size_t cli_command_count;

int cmd_wrap(int argc, char **argv);
int cmd_unwrap(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_passwd(int argc, char **argv);
int cmd_sts(int argc, char **argv);

/* ---- cli_util.c ---- */

/* Largest input a subcommand reads. */
#define CLI_MAX_INPUT ((size_t)256 << 20)

/* Prints "msgsec: <fmt...>" on stderr and returns code. */
int cli_fail(msgsec_err code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "msgsec: <err->detail>" and returns err->code (1 if it is 0). */
int cli_fail_err(const msgsec_error *err);

/* getopt_long without getopt's own messages: returns the next option, -1 at
 * the end, or '?' after printing one usage line (unknown option, missing
 * value). cmd names the subcommand in the message. Only long options and -h. */
int cli_next_option(int argc, char **argv, const char *cmd, const struct option *longopts);
/* Refuses leftover positional arguments; returns 0 or MSGSEC_E_USAGE (printed). */
int cli_no_operands(int argc, char **argv, const char *cmd);
/* Parses a decimal integer in [min, max] for option opt, a number of unit
 * ("seconds", "bytes"); 0 or MSGSEC_E_USAGE (printed). */
int cli_parse_long(const char *cmd, const char *opt, const char *unit, const char *value, long min,
                   long max, long *out);

/* An output file ("-" or NULL = stdout), written to a temporary file in the
 * same directory and renamed over the path on commit, so a failure leaves no
 * partial file. Opening first lets a command find an unwritable path before it
 * consumes anything (unwrap records the message in the replay cache). */
typedef struct cli_output {
    const char *path; /* borrowed */
    char *tmp;        /* temporary file; NULL for stdout and after commit/abort */
    int fd;
    int direct;       /* fd opened on a non-regular file (a pipe, /dev/stdout): no rename */
} cli_output;
msgsec_err cli_output_open(cli_output *out, const char *path, msgsec_error *err);
/* Writes data, then renames the temporary file onto the path. */
msgsec_err cli_output_commit(cli_output *out, const void *data, size_t len, msgsec_error *err);
/* Removes the temporary file; a no-op after commit and for stdout. */
void cli_output_abort(cli_output *out);
/* open + commit. */
msgsec_err cli_write_output(const char *path, const void *data, size_t len, msgsec_error *err);
/* Reads the first line of a password file (trailing CR/LF removed).
 * *password: caller wipes and frees with msgsec_free_secret(p, strlen(p)). */
msgsec_err cli_read_password(const char *path, char **password, msgsec_error *err);

#endif

/* cmd_inspect.c - `msgsec inspect`: unverified JSON summary of an envelope. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "internal.h"

static const char usage[] =
    "usage: msgsec inspect [--in FILE|-]\n"
    "\n"
    "Prints an UNVERIFIED summary of the envelope (--in, default stdin) as JSON:\n"
    "addressing headers, timestamps, token and algorithms. Never decrypts.\n";

enum { OPT_IN = 256 };

static const struct option options[] = {
    {"in", required_argument, NULL, OPT_IN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_inspect(int argc, char **argv)
{
    const char *in = "-";
    uint8_t *envelope = NULL;
    size_t envelope_len = 0;
    char *json = NULL;
    msgsec_error err = {0};
    int c, rc = MSGSEC_OK;

    while ((c = cli_next_option(argc, argv, "inspect", options)) != -1) {
        switch (c) {
        case 'h': fputs(usage, stdout); return MSGSEC_OK;
        case OPT_IN: in = optarg; break;
        default: return MSGSEC_E_USAGE;
        }
    }
    if (cli_no_operands(argc, argv, "inspect"))
        return MSGSEC_E_USAGE;
    if (read_file_bounded(in, MSGSEC_DEFAULT_MAX_BYTES, &envelope, &envelope_len, &err) !=
            MSGSEC_OK ||
        msgsec_inspect(envelope, envelope_len, MSGSEC_DEFAULT_MAX_BYTES, &json, &err) !=
            MSGSEC_OK)
        rc = cli_fail_err(&err);
    else if (printf("%s\n", json) < 0 || fflush(stdout) != 0)
        rc = cli_fail(MSGSEC_E_USAGE, "cannot write standard output");
    msgsec_free(json);
    msgsec_free(envelope);
    return rc;
}

/* cmd_passwd.c - `msgsec passwd FILE USER`: add or change a user of a password store. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "passwd.h"

static const char usage[] =
    "usage: msgsec passwd FILE USER   (the password is the first line of standard input)\n"
    "\n"
    "Adds USER to the password store FILE (created if absent) or replaces its password.\n"
    "Entries are salted scrypt hashes (N=32768, r=8, p=1), never the password; the file\n"
    "is rewritten atomically with mode 0600. The password is never printed.\n";

static const struct option options[] = {
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_passwd(int argc, char **argv)
{
    char *password = NULL;
    msgsec_error err = {0};
    int c, updated = 0;

    while ((c = cli_next_option(argc, argv, "passwd", options)) != -1) {
        if (c != 'h')
            return MSGSEC_E_USAGE;
        fputs(usage, stdout);
        return MSGSEC_OK;
    }
    if (argc - optind != 2)
        return cli_fail(MSGSEC_E_USAGE,
                        "passwd: expected FILE and USER (see msgsec passwd --help)");
    const char *file = argv[optind], *user = argv[optind + 1];
    if (cli_read_password("-", &password, &err) != MSGSEC_OK)
        return cli_fail(err.code, "passwd: password on standard input: %s", err.detail);
    msgsec_err rc = passwd_set(file, user, password, &updated, &err);
    msgsec_free_secret(password, strlen(password));
    if (rc != MSGSEC_OK)
        return cli_fail(rc, "passwd: %s", err.detail);
    fprintf(stderr, "msgsec: passwd: %s user '%s' in %s\n", updated ? "updated" : "added", user,
            file);
    return MSGSEC_OK;
}

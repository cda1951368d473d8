/* main.c - `msgsec`: dispatches to one subcommand per file (commands.h). */
#include <stdio.h>
#include <string.h>

#include "commands.h"

const cli_command cli_commands[] = {
    {"wrap", "secure a payload for a service (SOAP envelope, WS-Security)", cmd_wrap},
    {"unwrap", "check and decrypt an envelope with the service key", cmd_unwrap},
    {"verify", "check what a broker can check without the service key", cmd_verify},
    {"inspect", "print an unverified JSON summary of an envelope", cmd_inspect},
    {"passwd", "add or change a user in a password store", cmd_passwd},
    {"sts", "development security token service (SAML 2.0)", cmd_sts},
};
const size_t cli_command_count = sizeof cli_commands / sizeof cli_commands[0];

static void usage(void)
{
    fputs("usage: msgsec COMMAND [OPTIONS]   (msgsec COMMAND --help for its options)\n\n"
          "End-to-end message-level security (WS-Security) for MQTT and AMQP 1.0.\n\n"
          "commands:\n",
          stdout);
    for (size_t i = 0; i < cli_command_count; i++)
        printf("  %-8s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fputs("\nexit codes: 0 ok, 1 internal, 2 usage/configuration, 3 malformed, 4 authentication,\n"
          "            5 expired, 6 replay, 7 cannot decrypt, 8 policy\n",
          stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return cli_fail(MSGSEC_E_USAGE, "no command given (see msgsec --help)");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage();
        return MSGSEC_OK;
    }
    for (size_t i = 0; i < cli_command_count; i++) {
        if (strcmp(argv[1], cli_commands[i].name) != 0)
            continue;
        msgsec_error err = {0};
        if (msgsec_global_init(&err) != MSGSEC_OK)
            return cli_fail_err(&err);
        int rc = cli_commands[i].run(argc - 1, argv + 1);
        msgsec_global_cleanup();
        return rc;
    }
    return cli_fail(MSGSEC_E_USAGE, "unknown command '%s' (see msgsec --help)", argv[1]);
}

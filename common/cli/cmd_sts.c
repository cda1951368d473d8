/* cmd_sts.c - placeholder until the credentials work lands (it replaces this file). */
#include "commands.h"

int cmd_sts(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail(MSGSEC_E_USAGE, "sts: not available in this build");
}

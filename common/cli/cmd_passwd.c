/* cmd_passwd.c - placeholder until the credentials work lands (it replaces this file). */
#include "commands.h"

int cmd_passwd(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_fail(MSGSEC_E_USAGE, "passwd: not available in this build");
}

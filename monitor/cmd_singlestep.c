/* monitor/cmd_singlestep.c - `bt86 test singlestep` (not implemented yet). */
#include "monitor/commands.h"
int cmd_test_singlestep(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("'test singlestep' is not implemented yet");
}

/* monitor/cmd_diff.c - `bt86 test diff` (not implemented yet). */
#include "monitor/commands.h"
int cmd_test_diff(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("'test diff' is not implemented yet");
}

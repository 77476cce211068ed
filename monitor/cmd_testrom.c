/* monitor/cmd_testrom.c - `bt86 test rom` and `bt86 test kernel` (not implemented yet). */
#include "monitor/commands.h"
int cmd_test_rom(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("'test rom' is not implemented yet");
}
int cmd_test_kernel(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("'test kernel' is not implemented yet");
}

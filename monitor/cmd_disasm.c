/* monitor/cmd_disasm.c - `bt86 disasm` (filled in with the decoder). */
#include "monitor/commands.h"
int cmd_disasm(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error("disasm is not implemented yet");
}

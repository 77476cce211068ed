/* monitor/main.c - the bt86 command line.
 *
 * Owns: option parsing in QEMU's style and dispatch to subcommands
 * (`bt86 disasm`, `bt86 test ...`). Every option is either implemented or
 * rejected with a message naming it: nothing is silently ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <getopt.h>
#include "monitor/commands.h"

#define BT86_VERSION "0.1"

int cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("bt86: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static void usage(FILE *f)
{
    fputs(
"usage: bt86 [options]                 run a PC\n"
"       bt86 disasm [--16|--32] [--base ADDR] FILE [OFFSET [LENGTH]]\n"
"       bt86 test singlestep PATH [--engine E] [--opcode XX] [--json]\n"
"       bt86 test rom FILE | bt86 test kernel FILE | bt86 test diff ...\n"
"\n"
"Machine options (QEMU style):\n"
"  -m SIZE              guest RAM, e.g. 128 or 128M or 1G (default 128M)\n"
"  --kernel FILE        boot a Linux bzImage or multiboot kernel directly\n"
"  --initrd FILE        initial ramdisk for --kernel\n"
"  --append STRING      kernel command line for --kernel\n"
"  --hda FILE, --hdb FILE   IDE disk images (raw)\n"
"  --cdrom FILE         ATAPI CD-ROM image (ISO)\n"
"  -snapshot            write disk changes to a temporary overlay\n"
"  --bios FILE          use FILE as the system BIOS instead of ours\n"
"  --engine E           interp | bt | trap | kvm\n"
"  --serial DEV         stdio | file:PATH | pty | none (COM1)\n"
"  --display D          sdl | none\n"
"  --screenshot FILE    save the screen as PNG when bt86 exits\n"
"  --no-reboot          exit instead of resetting the machine\n"
"  --stats              print engine statistics at exit\n"
"  --check              (bt) lockstep against the interpreter\n"
"  -h, --help           this text\n"
"  --version            print the version\n", f);
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "disasm"))
        return cmd_disasm(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "test")) {
        if (argc < 3) return cli_error("test: which test? singlestep, rom, kernel or diff");
        if (!strcmp(argv[2], "singlestep")) return cmd_test_singlestep(argc - 2, argv + 2);
        if (!strcmp(argv[2], "rom"))        return cmd_test_rom(argc - 2, argv + 2);
        if (!strcmp(argv[2], "kernel"))     return cmd_test_kernel(argc - 2, argv + 2);
        if (!strcmp(argv[2], "diff"))       return cmd_test_diff(argc - 2, argv + 2);
        return cli_error("test: unknown test kind '%s' (singlestep, rom, kernel, diff)", argv[2]);
    }
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},      {"version", no_argument, 0, 'V'},
        {"kernel", required_argument, 0, 1}, {"initrd", required_argument, 0, 2},
        {"append", required_argument, 0, 3}, {"hda", required_argument, 0, 4},
        {"hdb", required_argument, 0, 5},    {"cdrom", required_argument, 0, 6},
        {"bios", required_argument, 0, 7},   {"engine", required_argument, 0, 8},
        {"serial", required_argument, 0, 9}, {"display", required_argument, 0, 10},
        {"screenshot", required_argument, 0, 11}, {"no-reboot", no_argument, 0, 12},
        {"snapshot", no_argument, 0, 13},    {"stats", no_argument, 0, 14},
        {"check", no_argument, 0, 15},
        {0, 0, 0, 0}
    };
    int c;
    opterr = 0;
    while ((c = getopt_long_only(argc, argv, "hm:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'V': printf("bt86 %s\n", BT86_VERSION); return 0;
        case '?':
            if (optopt) return cli_error("option -%c needs an argument or is unknown (see --help)", optopt);
            return cli_error("unknown option '%s' (see --help)", argv[optind - 1]);
        default:
            break;
        }
    }
    if (optind < argc)
        return cli_error("unexpected argument '%s' (see --help)", argv[optind]);
    return cli_error("running a machine is not implemented yet (devices, BIOS and boot are open issues)");
}

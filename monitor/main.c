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
#include "monitor/machine.h"
#include "monitor/engine.h"
#include "monitor/bios_image.h"
#include "cpu/cpu.h"
#include <errno.h>
#include <time.h>

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
"       bt86 test singlestep PATH [--engine E | --all-engines | --engines L] [--opcode XX] [--json] [--junit F]\n"
"       bt86 test rom|kernel FILE [--engine E | --all-engines | --engines L] [--json] [--junit F]\n"
"       bt86 test diff --engines A,B [--seed S] [--count N | --seconds N] [--level user|system] [--code 32|16]\n"
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
"  --engine E           interp | bt | trap | kvm (default: bt on x86-64 hosts)\n"
"  --serial DEV         stdio | file:PATH | pty | none (COM1)\n"
"  --display D          sdl | none\n"
"  --screenshot FILE    save the screen as PNG when bt86 exits\n"
"  --text-dump FILE     save the VGA text screen as ASCII when bt86 exits\n"
"  --no-reboot          exit instead of resetting the machine\n"
"  --stats              print engine statistics at exit\n"
"  --time-limit SECONDS stop the machine after this much host time\n"
"  --debugcon           show what the guest writes to port 0xE9 on stderr\n"
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
        {"check", no_argument, 0, 15},      {"debugcon", no_argument, 0, 16},
        {"text-dump", required_argument, 0, 17}, {"time-limit", required_argument, 0, 18},
        {0, 0, 0, 0}
    };
    struct machine_config cfg;
    machine_config_defaults(&cfg);
    bool check = false;
    int c;
    opterr = 0;
    while ((c = getopt_long_only(argc, argv, "hm:", opts, NULL)) != -1) {
        switch (c) {
        case 'h': usage(stdout); return 0;
        case 'V': printf("bt86 %s\n", BT86_VERSION); return 0;
        case 'm': {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            unsigned long long mul = 1ull << 20;
            if (*end == 'M' || *end == 'm') end++;
            else if (*end == 'G' || *end == 'g') { mul = 1ull << 30; end++; }
            if (errno || end == optarg || *end || v == 0)
                return cli_error("-m: '%s' is not a size (e.g. 128, 128M, 1G)", optarg);
            cfg.ram_bytes = v * mul;
            break;
        }
        case 1: cfg.kernel = optarg; break;
        case 2: cfg.initrd = optarg; break;
        case 3: cfg.append = optarg; break;
        case 4: cfg.hda = optarg; break;
        case 5: cfg.hdb = optarg; break;
        case 6: cfg.cdrom = optarg; break;
        case 7: cfg.bios = optarg; break;
        case 8: cfg.engine = optarg; break;
        case 9: cfg.serial = optarg; break;
        case 10: cfg.display = optarg; break;
        case 11: cfg.screenshot = optarg; break;
        case 12: cfg.no_reboot = true; break;
        case 13: cfg.snapshot = true; break;
        case 14: cfg.stats = true; break;
        case 15: check = true; break;
        case 16: cfg.debugcon = true; break;
        case 17: cfg.text_dump = optarg; break;
        case 18: {
            char *end;
            cfg.max_seconds = strtod(optarg, &end);
            if (end == optarg || *end || cfg.max_seconds <= 0)
                return cli_error("--time-limit: '%s' is not a number of seconds", optarg);
            break;
        }
        case '?':
            if (optopt) return cli_error("option -%c needs an argument or is unknown (see --help)", optopt);
            return cli_error("unknown option '%s' (see --help)", argv[optind - 1]);
        default:
            break;
        }
    }
    if (optind < argc)
        return cli_error("unexpected argument '%s' (see --help)", argv[optind]);
    {
        char why[256];
        const char *r = engine_unavailable_reason(cfg.engine, why, sizeof why);
        if (r) return cli_error("--engine %s: %s", cfg.engine, r);
    }
    if (check && engine_kind_from_name(cfg.engine) != ENGINE_BT && engine_kind_from_name(cfg.engine) != ENGINE_TRAP)
        return cli_error("--check compares the bt or trap engine with the interpreter (use --engine bt --check)");
    cfg.check = check;
    if (cfg.initrd && !cfg.kernel) return cli_error("--initrd needs --kernel");
    if (cfg.append && !cfg.kernel) return cli_error("--append needs --kernel");

    char err[512];
    struct machine *m = machine_new(&cfg, err, sizeof err);
    if (!m) return cli_error("%s", err);
    if (cfg.bios) {
        FILE *f = fopen(cfg.bios, "rb");
        if (!f) { machine_free(m); return cli_error("--bios: %s: %s", cfg.bios, strerror(errno)); }
        static uint8_t img[128 * 1024 + 1];
        size_t n = fread(img, 1, sizeof img, f);
        fclose(f);
        if (machine_load_bios(m, img, n, cfg.bios, err, sizeof err)) { machine_free(m); return cli_error("%s", err); }
    } else if (machine_load_bios(m, bt86_bios_image, bt86_bios_size(), "built-in BIOS", err, sizeof err)) {
        machine_free(m);
        return cli_error("%s", err);
    }
    if (cfg.kernel) {
        /* a Linux bzImage has "HdrS" at offset 0x202; otherwise multiboot */
        char magic[4] = { 0 };
        FILE *kf = fopen(cfg.kernel, "rb");
        if (!kf) { machine_free(m); return cli_error("--kernel: %s: %s", cfg.kernel, strerror(errno)); }
        bool linux_image = fseek(kf, 0x202, SEEK_SET) == 0 && fread(magic, 1, 4, kf) == 4 && !memcmp(magic, "HdrS", 4);
        fclose(kf);
        int r = linux_image ? machine_boot_linux(m, cfg.kernel, cfg.initrd, cfg.append, err, sizeof err)
                            : (cfg.initrd ? (snprintf(err, sizeof err, "--initrd: %s is a multiboot kernel; modules are not supported", cfg.kernel), -1)
                                          : machine_boot_multiboot(m, cfg.kernel, cfg.append, err, sizeof err));
        if (r) { machine_free(m); return cli_error("%s", err); }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    enum machine_stop st = machine_run(m);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int status;
    switch (st) {
    case STOP_EXIT_PORT: status = machine_exit_status(m); break;
    case STOP_POWEROFF: case STOP_QUIT: status = 0; break;
    case STOP_HALTED: status = 0; break;
    case STOP_RESET: status = 0; break;
    default: status = 1; break;
    }
    if (cfg.stats) {
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        uint64_t n = machine_cpu(m)->icount;
        fprintf(stderr, "bt86: engine %s: %llu instructions in %.2f s (%.1f MIPS); stopped: %s\n",
                cfg.engine, (unsigned long long)n, s, s > 0 ? (double)n / s / 1e6 : 0.0, machine_stop_name(st));
        engine_print_stats(machine_engine(m), stderr);
    }
    machine_free(m);
    return status;
}

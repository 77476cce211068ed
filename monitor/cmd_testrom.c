/* monitor/cmd_testrom.c - `bt86 test rom FILE` and `bt86 test kernel FILE`.
 *
 * test rom: FILE (64 or 128 KiB) is the BIOS ROM; the machine runs from
 * reset until the CPU halts with interrupts off (or the exit port, or the
 * time limit). Prints the POST codes (ports 0x80 and 0x190) and the text
 * written to port 0xE9; exit status 0 only when the ROM reported success:
 * POST code 0xFF, or a line starting "PASS" and no line starting "FAIL".
 * test kernel: FILE is a Multiboot v1 kernel; what it writes to COM1 and
 * port 0xE9 goes to stdout, and bt86 exits with the status it writes to
 * port 0xF4 ((v << 1) | 1, QEMU's isa-debug-exit), 1 when it stops
 * without one, 2 on usage errors.
 * PASS/FAIL lines are passed through, so tests/run.sh counts them.
 */
#include "monitor/commands.h"
#include "monitor/machine.h"
#include "cpu/cpu.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

struct test_opts {
    const char *file;
    const char *engine;
    const char *append;
    double timeout;
    uint64_t ram;
};

static int parse(int argc, char **argv, const char *what, struct test_opts *o)
{
    o->file = NULL; o->engine = "interp"; o->append = ""; o->timeout = 60; o->ram = 64ull << 20;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--engine") && i + 1 < argc) o->engine = argv[++i];
        else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) o->timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "--append") && i + 1 < argc) o->append = argv[++i];
        else if (!strcmp(argv[i], "-m") && i + 1 < argc) o->ram = strtoull(argv[++i], NULL, 0) << 20;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: bt86 test %s FILE [--engine interp] [--timeout SECONDS] [-m MiB]%s\n", what,
                   strcmp(what, "kernel") ? "" : " [--append CMDLINE]");
            return 1;
        } else if (argv[i][0] == '-') return cli_error("test %s: unknown option '%s'", what, argv[i]) ? -1 : -1;
        else if (!o->file) o->file = argv[i];
        else { cli_error("test %s: one FILE only", what); return -1; }
    }
    if (!o->file) { cli_error("test %s: which FILE?", what); return -1; }
    if (strcmp(o->engine, "interp")) { cli_error("test %s: engine '%s' is not available yet (interp only)", what, o->engine); return -1; }
    return 0;
}

static struct machine *make_machine(const struct test_opts *o, char *err, size_t n)
{
    struct machine_config cfg;
    machine_config_defaults(&cfg);
    cfg.ram_bytes = o->ram;
    cfg.serial = "file:/dev/stdout";
    cfg.engine = o->engine;
    cfg.no_reboot = true;
    cfg.debug_ports_to_stdout = true;
    cfg.max_seconds = o->timeout;
    return machine_new(&cfg, err, n);
}

static bool has_line(const char *text, const char *prefix)
{
    size_t k = strlen(prefix);
    for (const char *p = text; p && *p; ) {
        if (!strncmp(p, prefix, k)) return true;
        p = strchr(p, '\n');
        if (p) p++;
    }
    return false;
}

int cmd_test_rom(int argc, char **argv)
{
    struct test_opts o;
    int pr = parse(argc, argv, "rom", &o);
    if (pr) return pr > 0 ? 0 : 2;
    FILE *f = fopen(o.file, "rb");
    if (!f) return cli_error("test rom: %s: %s", o.file, strerror(errno));
    static uint8_t img[128 * 1024 + 1];
    size_t n = fread(img, 1, sizeof img, f);
    fclose(f);
    char err[512];
    struct machine *m = make_machine(&o, err, sizeof err);
    if (!m) return cli_error("test rom: %s", err);
    if (machine_load_bios(m, img, n, o.file, err, sizeof err)) { machine_free(m); return cli_error("test rom: %s", err); }
    enum machine_stop s = machine_run(m);
    fflush(stdout);
    size_t np;
    const uint8_t *post = machine_post_codes(m, &np);
    printf("\nPOST codes:");
    for (size_t i = 0; i < np; i++) printf(" %02x", post[i]);
    printf("\nstopped: %s\n", machine_stop_name(s));
    const char *text = machine_debug_text(m);
    bool ok = (np && post[np - 1] == 0xFF) || (has_line(text, "PASS") && !has_line(text, "FAIL"));
    if (s == STOP_UNIMPL || s == STOP_LIMIT || s == STOP_RESET) ok = false;
    machine_free(m);
    return ok ? 0 : 1;
}

int cmd_test_kernel(int argc, char **argv)
{
    struct test_opts o;
    int pr = parse(argc, argv, "kernel", &o);
    if (pr) return pr > 0 ? 0 : 2;
    char err[512];
    struct machine *m = make_machine(&o, err, sizeof err);
    if (!m) return cli_error("test kernel: %s", err);
    if (machine_boot_multiboot(m, o.file, o.append, err, sizeof err)) {
        machine_free(m);
        return cli_error("test kernel: %s", err);
    }
    enum machine_stop s = machine_run(m);
    fflush(stdout);
    int status = 1;
    if (s == STOP_EXIT_PORT) status = machine_exit_status(m);
    else fprintf(stderr, "bt86: test kernel: %s stopped (%s) without writing the exit port 0xF4\n", o.file, machine_stop_name(s));
    machine_free(m);
    return status;
}

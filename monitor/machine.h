/* monitor/machine.h - the PC: configuration, wiring and the run loop.
 *
 * Owns: the board. machine_new() builds RAM, ROM, the bus and every device
 * from a machine_config and wires their irq lines, A20 and reset outputs;
 * machine_run() is the run loop (engine slices, timers, character input,
 * halt, reset and exit requests). Devices never see each other: everything
 * that crosses between them goes through here.
 */
#ifndef BT86_MACHINE_H
#define BT86_MACHINE_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

struct machine_config {
    uint64_t ram_bytes;          /* guest RAM (default 128 MiB)              */
    const char *bios;            /* ROM image; NULL = our BIOS               */
    const char *kernel, *initrd, *append;  /* direct kernel boot            */
    const char *hda, *hdb, *cdrom;
    bool snapshot;               /* disks: writes to a temporary overlay     */
    const char *serial;          /* COM1 back-end spec (default "stdio")     */
    const char *display;         /* "sdl", "none" or NULL (auto)             */
    const char *screenshot;      /* PNG written at exit                      */
    const char *text_dump;       /* VGA text screen written at exit (ASCII)  */
    bool no_reboot;              /* exit instead of resetting                */
    const char *engine;          /* interp | bt | trap | kvm (engine.h)      */
    bool check;                  /* bt: lockstep against the interpreter     */
    bool stats;                  /* print statistics at exit                 */
    bool debug_ports_to_stdout;  /* 0xE9 text to stdout (tests)              */
    bool debugcon;               /* 0xE9 text to stderr (--debugcon)         */
    uint64_t max_insns;          /* stop after this many (0 = no limit)      */
    double max_seconds;          /* stop after this much wall time (0: none) */
};

/* Why machine_run returned. */
enum machine_stop {
    STOP_EXIT_PORT,      /* the guest wrote the exit port (status set)     */
    STOP_POWEROFF,       /* ACPI power-off                                 */
    STOP_HALTED,         /* HLT with interrupts disabled: nothing can wake */
    STOP_RESET,          /* reset with --no-reboot                         */
    STOP_QUIT,           /* the user asked (Ctrl-A x, window closed)       */
    STOP_UNIMPL,         /* the engine met something it cannot run         */
    STOP_LIMIT,          /* max_insns or max_seconds reached               */
    STOP_CHECK_FAILED,   /* --check found bt and the interpreter diverging  */
};

struct machine;
struct cpu;

void machine_config_defaults(struct machine_config *cfg);
/* NULL with a message in err naming the file and the problem. */
struct machine *machine_new(const struct machine_config *cfg, char *err, size_t errlen);
void machine_free(struct machine *m);
/* Map `image` (64 or 128 KiB) as the system BIOS at the top of the first MiB
 * and below 4 GiB. 0, or -1 with a message. */
int machine_load_bios(struct machine *m, const uint8_t *image, size_t len, const char *name,
                      char *err, size_t errlen);
enum machine_stop machine_run(struct machine *m);
int machine_exit_status(const struct machine *m);   /* exit-port status    */
struct cpu *machine_cpu(struct machine *m);
struct engine;
struct engine *machine_engine(struct machine *m);   /* monitor/engine.h */
struct mem *machine_mem(struct machine *m);
/* POST codes seen on ports 0x80/0x190 (for `bt86 test rom`). */
const uint8_t *machine_post_codes(const struct machine *m, size_t *n);
const char *machine_stop_name(enum machine_stop s);
/* Everything the guest wrote to port 0xE9 (NUL-terminated, first 1 MiB). */
const char *machine_debug_text(const struct machine *m);
/* Accessors for board extensions (monitor/board_fw.c: ACPI, firmware
 * configuration, Linux loader) that live outside this file. */
struct bus;
struct vclock;
struct irq_line;
struct rtc;
struct pci;
struct ide;
struct bus *machine_bus(struct machine *m);
struct vclock *machine_clock(struct machine *m);
const struct irq_line *machine_isa_irq(struct machine *m, int n);   /* PIC input n */
struct rtc *machine_rtc(struct machine *m);
struct pci *machine_pci(struct machine *m);
struct ide *machine_ide(struct machine *m);
const struct machine_config *machine_config(const struct machine *m);
void machine_request_poweroff(struct machine *m);    /* ACPI S5: ends machine_run */
void *machine_fw_state(struct machine *m);           /* board_fw_init's state */
/* Implemented in monitor/board_fw.c: called once at the end of machine_new
 * and on every machine reset (reset = true). 0, or -1 with a message. */
int board_fw_init(struct machine *m, void **state, char *err, size_t errlen);
void board_fw_reset(struct machine *m, void *state);
void board_fw_free(struct machine *m, void *state);
/* Linux boot protocol 2.x loader (monitor/board_fw.c / boot_linux.c):
 * load a bzImage (+ initrd, command line) so that our BIOS starts it. */
int machine_boot_linux(struct machine *m, const char *kernel, const char *initrd, const char *cmdline,
                       char *err, size_t errlen);

/* Load a multiboot (v1) kernel and set the CPU up to enter it (monitor/boot_multiboot.c). */
int machine_boot_multiboot(struct machine *m, const char *path, const char *cmdline, char *err, size_t errlen);

#endif

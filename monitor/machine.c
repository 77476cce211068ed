/* monitor/machine.c - the PC board: memory map, wiring, run loop.
 *
 * Memory map (physical):
 *   0 .. 640 KiB             RAM
 *   A0000 .. BFFFF           VGA window (MMIO)
 *   C0000 .. DFFFF           option ROMs (open bus when none)
 *   E0000 .. FFFFF           system BIOS (64 KiB images at F0000)
 *                            (C0000-FFFFF: shadow RAM per the PAM registers)
 *   1 MiB .. ram_bytes       RAM (at most 3.5 GiB)
 *   E0000000 ..              VGA linear framebuffer (PCI BAR0)
 *   FFFE0000 .. FFFFFFFF     BIOS alias at the top of 4 GiB
 * Interrupts: PIT->IRQ0, keyboard IRQ1, COM1 IRQ4, RTC IRQ8, mouse IRQ12,
 * IDE IRQ14/15, PCI INTx through the PIIX3 PIRQ routing. The A20 gate is
 * the OR of the 8042 output port and port 92h. Reset requests from the
 * 8042, port 92h, port CF9h and triple faults end the current slice and
 * reset the machine (or exit with --no-reboot).
 */
#include "monitor/machine.h"
#include "cpu/cpu.h"
#include "cpu/fpu_state.h"
#include "mem/mem.h"
#include "devices/bus.h"
#include "devices/vclock.h"
#include "devices/irq.h"
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/sysport.h"
#include "devices/uart.h"
#include "devices/chardev.h"
#include "devices/i8042.h"
#include "devices/pci.h"
#include "devices/piix.h"
#include "devices/ide.h"
#include "devices/disk.h"
#include "devices/vga.h"
#include "monitor/display_sdl.h"
#include "monitor/engine.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <time.h>

#define MAX_POST 256
#define SLICE_INSNS 20000
/* bt and trap: their 1 ms timer ends a slice anyway; short slices cost a
 * clock read and the device poll each (5% of a CPU-bound guest's time) */
#define SLICE_INSNS_TRANSLATED 2000000

struct machine {
    struct machine_config cfg;
    struct mem *mem;
    struct bus *bus;
    struct vclock *clk;
    struct cpu cpu;
    struct engine *eng;            /* runs the cpu (monitor/engine.h)      */
    struct pic *pic;
    struct pit *pit;
    struct rtc *rtc;
    struct sysport *sysport;
    struct chardev *serial;
    struct uart *com1;
    struct i8042 *kbd;
    struct pci *pci;
    struct ide *ide;
    struct piix *piix;
    struct vga *vga;
    struct display_sdl *display;   /* NULL when headless                    */
    double last_ui;                /* host time of the last display poll    */
    uint64_t last_ui_icount;       /* for the MIPS figure in the title      */
    struct disk *disk[3];          /* hda, hdb, cdrom                       */
    struct irq_line isa_irq[16];   /* PIC inputs                            */
    bool a20_kbd, a20_port92;      /* the two A20 sources                   */
    bool reset_req, quit_req, exit_req;
    int exit_status;
    uint8_t post[MAX_POST];        /* POST codes seen (ports 0x80, 0x190)   */
    size_t npost;
    void *fw;                      /* monitor/board_fw.c state               */
    bool poweroff_req;             /* ACPI power-off requested               */
    char *dbg;                     /* text written to port 0xE9 (capped)    */
    size_t ndbg, dbg_cap;
};

void machine_config_defaults(struct machine_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->ram_bytes = 128ull << 20;
    cfg->serial = "stdio";
    cfg->engine = engine_default_name();
}

const char *machine_stop_name(enum machine_stop s)
{
    static const char *const n[] = { "exit port", "power-off", "halted", "reset", "quit",
                                     "unimplemented", "limit", "check failed" };
    return (unsigned)s < sizeof n / sizeof *n ? n[s] : "?";
}

/* ---- glue between devices ---- */
static void a20_update(struct machine *m)
{
    bool on = m->a20_kbd || m->a20_port92;
    if (on != m->cpu.a20_enabled) {
        m->cpu.a20_enabled = on;
        cpu_tlb_flush(&m->cpu);
    }
}
static void kbd_a20(void *opaque, bool enabled) { struct machine *m = opaque; m->a20_kbd = enabled; a20_update(m); }
/* a request that ends the slice: the engine leaves at its next instruction
 * boundary it checks (bt: the next block entry), as the hardware would */
static void stop_soon(struct machine *m) { if (m->eng) engine_request_stop(m->eng); }
static void kbd_reset(void *opaque) { struct machine *m = opaque; m->reset_req = true; stop_soon(m); }
static bool cpu_intr_pending(void *opaque) { struct machine *m = opaque; return pic_has_intr(m->pic); }
static int cpu_intr_ack(void *opaque) { struct machine *m = opaque; return pic_ack(m->pic); }
static void serial_quit(void *opaque) { struct machine *m = opaque; m->quit_req = true; }

static int dma_read(void *opaque, uint64_t pa, void *buf, size_t len)
{
    struct machine *m = opaque;
    return mem_read_bytes(m->mem, pa, buf, len);
}
static int dma_write(void *opaque, uint64_t pa, const void *buf, size_t len)
{
    struct machine *m = opaque;
    return mem_write_bytes(m->mem, pa, buf, len);   /* (mem's code watch tells the translator) */
}
static uint64_t clk_now(void *opaque) { return vclock_now_ns(opaque); }
/* the VGA's PCI function: the LFB BAR moves with the guest's programming */
static void vga_bar_map(void *opaque, int bar, uint32_t addr, bool mapped)
{
    struct machine *m = opaque;
    if (bar == 0 && mapped) vga_set_lfb_base(m->vga, addr);
}
static const struct pci_dev_ops vga_pci_ops = { NULL, NULL, vga_bar_map, NULL };

static void ui_key(void *opaque, uint32_t keycode, bool pressed)
{
    struct machine *m = opaque;
    i8042_key_event(m->kbd, keycode, pressed);
}
static void ui_mouse(void *opaque, int dx, int dy, int dz, unsigned buttons)
{
    struct machine *m = opaque;
    i8042_mouse_input(m->kbd, dx, dy, dz, buttons);
}

/* sysport callbacks: POST codes (0x80, and 0x190 mapped here), debug text
 * (0xE9), isa-debug-exit (0xF4), port 92h A20 and fast reset */
#define DBG_CAP (1u << 20)
static void sp_post(void *opaque, uint8_t v)
{
    struct machine *m = opaque;
    if (m->npost < MAX_POST) m->post[m->npost++] = v;
}
static void sp_debug(void *opaque, uint8_t ch)
{
    struct machine *m = opaque;
    if (m->cfg.debug_ports_to_stdout) {
        putchar(ch);
        if (ch == '\n') fflush(stdout);
    } else if (m->cfg.debugcon) {
        fputc(ch, stderr);
    }
    if (m->ndbg + 1 < DBG_CAP) {
        if (m->ndbg + 1 >= m->dbg_cap) {
            size_t cap = m->dbg_cap ? m->dbg_cap * 2 : 4096;
            char *p = realloc(m->dbg, cap);
            if (!p) return;
            m->dbg = p; m->dbg_cap = cap;
        }
        m->dbg[m->ndbg++] = (char)ch;
        m->dbg[m->ndbg] = 0;
    }
}
static void sp_exit(void *opaque, int status)
{
    struct machine *m = opaque;
    m->exit_status = status;
    m->exit_req = true;
    stop_soon(m);
}
static void sp_a20(void *opaque, bool on) { struct machine *m = opaque; m->a20_port92 = on; a20_update(m); }
static void sp_reset(void *opaque) { ((struct machine *)opaque)->reset_req = true; stop_soon(opaque); }
static const struct sysport_ops sysport_cbs = { sp_post, sp_debug, sp_exit, sp_a20, sp_reset };

/* port 0x190: a second POST port some test ROMs use */
static uint32_t post190_read(void *opaque, uint32_t off, unsigned size)
{
    struct machine *m = opaque;
    (void)off; (void)size;
    return m->npost ? m->post[m->npost - 1] : 0;
}
static void post190_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    (void)off; (void)size;
    sp_post(opaque, (uint8_t)val);
}
static const struct bus_ops post190_ops = { "post-190", post190_read, post190_write, true };

/* i440FX PAM: the host bridge's shadow segments route C0000-FFFFF between
 * the ROM and the RAM behind it; cached host pointers and translations of
 * those addresses are stale after a change */
static void pam_map(void *opaque, uint32_t base, uint32_t len, unsigned mode)
{
    struct machine *m = opaque;
    if (mem_set_pam(m->mem, base, len, mode) != 0)
        fprintf(stderr, "bt86: internal error: PAM segment 0x%x+0x%x\n", base, len);
    cpu_tlb_flush(&m->cpu);
    if (m->eng) engine_ram_written(m->eng, base, len);
}

/* reset control register 0xCF9 lives in the PCI host bridge's port block */
static void cf9_reset(void *opaque, uint8_t val) { (void)val; ((struct machine *)opaque)->reset_req = true; stop_soon(opaque); }

static int map_io(struct machine *m, uint16_t base, uint32_t len, const struct bus_ops *ops, void *opaque,
                  char *err, size_t errlen)
{
    if (bus_map_io(m->bus, base, len, ops, opaque) == 0) return 0;
    snprintf(err, errlen, "internal error: I/O ports 0x%x-0x%x of %s overlap another device",
             base, base + len - 1, ops->name);
    return -1;
}

static int open_disk(struct machine *m, int slot, const char *path, bool cdrom, char *err, size_t errlen)
{
    enum disk_mode mode = cdrom ? DISK_RO : (m->cfg.snapshot ? DISK_SNAPSHOT : DISK_RW);
    m->disk[slot] = disk_open(path, mode, cdrom ? DISK_CDROM : 0, err, errlen);
    if (!m->disk[slot]) return -1;
    static const int ch[3] = { 0, 0, 1 }, unit[3] = { 0, 1, 0 };
    if (ide_attach(m->ide, ch[slot], unit[slot], cdrom ? IDE_CDROM : IDE_HD, m->disk[slot]) != 0) {
        snprintf(err, errlen, "%s: cannot attach to the IDE controller", path);
        return -1;
    }
    return 0;
}

struct machine *machine_new(const struct machine_config *cfg, char *err, size_t errlen)
{
    struct machine *m = calloc(1, sizeof *m);
    if (!m) { snprintf(err, errlen, "out of memory"); return NULL; }
    m->cfg = *cfg;
    if (cfg->ram_bytes < (1u << 20) || cfg->ram_bytes > (3584ull << 20) || (cfg->ram_bytes & 0xFFFFF)) {
        snprintf(err, errlen, "-m: RAM must be a whole number of MiB between 1 MiB and 3584 MiB");
        goto fail;
    }
    m->mem = mem_new(cfg->ram_bytes);
    if (!m->mem) { snprintf(err, errlen, "cannot allocate %llu MiB of guest RAM: %s",
                            (unsigned long long)(cfg->ram_bytes >> 20), strerror(errno)); goto fail; }
    mem_add_hole(m->mem, 0xA0000, 0x60000);
    m->bus = bus_new();
    m->clk = vclock_new(false);
    if (!m->bus || !m->clk) { snprintf(err, errlen, "out of memory"); goto fail; }
    mem_set_bus(m->mem, m->bus);

    m->pic = pic_new(m->bus);
    if (!m->pic) { snprintf(err, errlen, "cannot create the PIC"); goto fail; }
    for (int i = 0; i < 16; i++) m->isa_irq[i] = pic_irq_line(m->pic, i);
    m->pit = pit_new(m->bus, m->clk, &m->isa_irq[0]);
    if (!m->pit) { snprintf(err, errlen, "cannot create the PIT"); goto fail; }

    m->serial = chardev_open(cfg->serial ? cfg->serial : "none", err, errlen);
    if (!m->serial) goto fail;
    chardev_set_quit_handler(m->serial, serial_quit, m);
    m->com1 = uart_new(m->clk, &m->isa_irq[4], m->serial);
    if (!m->com1 || map_io(m, 0x3F8, 8, &uart_bus_ops, m->com1, err, errlen)) goto fail;

    m->kbd = i8042_new(&m->isa_irq[1], &m->isa_irq[12]);
    if (!m->kbd) { snprintf(err, errlen, "cannot create the keyboard controller"); goto fail; }
    i8042_set_a20_handler(m->kbd, kbd_a20, m);
    i8042_set_reset_handler(m->kbd, kbd_reset, m);
    if (map_io(m, 0x60, 1, &i8042_data_ops, m->kbd, err, errlen) ||
        map_io(m, 0x64, 1, &i8042_cmd_ops, m->kbd, err, errlen)) goto fail;
    m->a20_kbd = i8042_a20_enabled(m->kbd);

    m->sysport = sysport_new(m->bus, &sysport_cbs, m, 0);   /* 0xCF9 belongs to the PCI host bridge */
    if (!m->sysport) { snprintf(err, errlen, "cannot create the system ports"); goto fail; }
    if (map_io(m, 0x190, 1, &post190_ops, m, err, errlen)) goto fail;
    m->rtc = rtc_new(m->bus, m->clk, &m->isa_irq[8], RTC_HOST_TIME);
    if (!m->rtc) { snprintf(err, errlen, "cannot create the RTC"); goto fail; }
    rtc_cmos_set_memory(m->rtc, cfg->ram_bytes, 0);
    rtc_nvram_set(m->rtc, 0x10, 0x00);          /* no floppy drives */
    rtc_nvram_set(m->rtc, 0x14, 0x06);          /* equipment: FPU, VGA/EGA, no floppy */
    rtc_update_checksum(m->rtc);

    m->vga = vga_new(0);
    if (!m->vga) { snprintf(err, errlen, "cannot create the VGA"); goto fail; }
    vga_set_clock(m->vga, clk_now, m->clk);
    if (vga_attach(m->vga, m->bus) != 0) { snprintf(err, errlen, "cannot map the VGA"); goto fail; }

    m->pci = pci_new(m->bus);
    m->ide = ide_new(m->bus, &m->isa_irq[14], &m->isa_irq[15]);
    if (!m->pci || !m->ide) { snprintf(err, errlen, "cannot create PCI/IDE"); goto fail; }
    pci_set_reset_handler(m->pci, cf9_reset, m);
    pci_set_pam_handler(m->pci, pam_map, m);
    static const struct dma_ops dma = { dma_read, dma_write, NULL };
    struct dma_ops d = dma;
    d.opaque = m;
    m->piix = piix_new(m->pci, 1, m->isa_irq, m->ide, &d);
    if (!m->piix) { snprintf(err, errlen, "cannot create the PIIX3 southbridge"); goto fail; }
    /* standard VGA with the Bochs DISPI interface as QEMU's "std" VGA, 00:02.0:
     * BAR0 = linear framebuffer (prefetchable), BAR2 = 4 KiB of registers */
    static const struct pci_ids vga_ids = { 0x1234, 0x1111, 0x02, 0x030000, 0x1AF4, 0x1100, 0 };
    struct pci_dev *vd = pci_register(m->pci, 2, 0, &vga_ids, &vga_pci_ops, m);
    if (!vd || pci_register_bar(vd, 0, PCI_BAR_MEM | PCI_BAR_PREFETCH, (uint32_t)vga_vram_size(m->vga), vga_lfb_ops(), m->vga) ||
        pci_register_bar(vd, 2, PCI_BAR_MEM, 4096, vga_mmio_ops(), m->vga)) {
        snprintf(err, errlen, "cannot register the VGA on the PCI bus");
        goto fail;
    }
    if (cfg->hda && open_disk(m, 0, cfg->hda, false, err, errlen)) goto fail;
    if (cfg->hdb && open_disk(m, 1, cfg->hdb, false, err, errlen)) goto fail;
    if (cfg->cdrom && open_disk(m, 2, cfg->cdrom, true, err, errlen)) goto fail;

    bool want_sdl = cfg->display && !strcmp(cfg->display, "sdl");
    if (cfg->display && strcmp(cfg->display, "sdl") && strcmp(cfg->display, "none")) {
        snprintf(err, errlen, "--display: '%s' is not a display (sdl or none)", cfg->display);
        goto fail;
    }
    if (want_sdl || (!cfg->display && display_sdl_available())) {
        m->display = display_sdl_new(m->vga, ".", err, errlen);
        if (!m->display && want_sdl) goto fail;
        if (m->display) {
            display_sdl_set_key_handler(m->display, ui_key, m);
            display_sdl_set_mouse_handler(m->display, ui_mouse, m);
            display_sdl_set_status(m->display, cfg->engine, 0);
        }
    }

    cpu_init(&m->cpu, m->mem, m->bus);
    m->cpu.machine = m;
    m->cpu.intr_pending = cpu_intr_pending;
    m->cpu.intr_ack = cpu_intr_ack;
    m->cpu.intr_opaque = m;
    m->cpu.tsc_clock = clk_now;       /* a 1 GHz TSC on virtual time */
    m->cpu.tsc_opaque = m->clk;
    m->a20_port92 = false;
    a20_update(m);
    if (board_fw_init(m, &m->fw, err, errlen) != 0) goto fail;
    m->eng = engine_new(cfg->engine, &m->cpu, err, errlen);
    if (!m->eng) goto fail;
    if (cfg->check) engine_set_check(m->eng, true);
    return m;
fail:
    machine_free(m);
    return NULL;
}

void machine_free(struct machine *m)
{
    if (!m) return;
    engine_free(m->eng);
    m->eng = NULL;
    if (m->cfg.text_dump && m->vga) {
        static char text[132 * 60 + 128];
        FILE *f = fopen(m->cfg.text_dump, "w");
        if (!f) fprintf(stderr, "bt86: --text-dump: %s: %s\n", m->cfg.text_dump, strerror(errno));
        else {
            if (vga_text_dump(m->vga, text, sizeof text) < 0) fputs("(the VGA is not in a text mode)\n", f);
            else fputs(text, f);
            fclose(f);
        }
    }
    if (m->cfg.screenshot && m->vga) {
        char e[256];
        if (vga_screenshot(m->vga, m->cfg.screenshot, e, sizeof e) != 0) fprintf(stderr, "bt86: %s\n", e);
    }
    if (m->fw) board_fw_free(m, m->fw);
    if (m->display) display_sdl_free(m->display);
    cpu_free(&m->cpu);
    if (m->piix) piix_free(m->piix);
    if (m->ide) ide_free(m->ide);
    for (int i = 0; i < 3; i++) if (m->disk[i]) disk_close(m->disk[i]);
    if (m->pci) pci_free(m->pci);
    if (m->vga) vga_free(m->vga);
    if (m->kbd) i8042_free(m->kbd);
    if (m->com1) uart_free(m->com1);
    if (m->serial) chardev_free(m->serial);
    if (m->pit) pit_free(m->pit);
    if (m->rtc) rtc_free(m->rtc);
    if (m->sysport) sysport_free(m->sysport);
    if (m->pic) pic_free(m->pic);
    if (m->clk) vclock_free(m->clk);
    if (m->bus) bus_free(m->bus);
    if (m->mem) mem_free(m->mem);
    free(m->dbg);
    free(m);
}

int machine_load_bios(struct machine *m, const uint8_t *image, size_t len, const char *name,
                      char *err, size_t errlen)
{
    if (len != 64 * 1024 && len != 128 * 1024) {
        snprintf(err, errlen, "%s: a BIOS image must be 64 KiB or 128 KiB, this one is %zu bytes", name, len);
        return -1;
    }
    if (mem_map_rom(m->mem, 0x100000 - len, image, len) != 0 ||
        mem_map_rom(m->mem, 0x100000000ull - len, image, len) != 0) {
        snprintf(err, errlen, "%s: cannot map the BIOS", name);
        return -1;
    }
    cpu_tlb_flush(&m->cpu);
    return 0;
}

static void machine_reset(struct machine *m)
{
    i8042_reset(m->kbd);
    m->a20_kbd = i8042_a20_enabled(m->kbd);
    m->a20_port92 = false;
    sysport_reset(m->sysport);
    cpu_reset(&m->cpu);
    a20_update(m);
    ide_reset(m->ide);
    pci_reset(m->pci);
    vga_reset(m->vga);
    board_fw_reset(m, m->fw);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Sleep until the next timer deadline or character input, at most 10 ms. */
static void wait_for_event(struct machine *m)
{
    uint64_t now = vclock_now_ns(m->clk), dl = vclock_next_deadline(m->clk);
    int ms = 10;
    if (dl != VCLOCK_NEVER) {
        uint64_t d = dl > now ? dl - now : 0;
        if (d < 10000000ull) ms = (int)(d / 1000000ull);
    }
    struct pollfd p = { chardev_input_fd(m->serial), POLLIN, 0 };
    if (p.fd >= 0) (void)poll(&p, 1, ms);
    else if (ms > 0) { struct timespec ts = { 0, (long)ms * 1000000L }; nanosleep(&ts, NULL); }
}

enum machine_stop machine_run(struct machine *m)
{
    struct cpu *c = &m->cpu;
    double start = now_s();
    uint64_t polls = 0;
    for (;;) {
        vclock_run_due(m->clk);
        if ((++polls & 15) == 0) chardev_poll(m->serial);
        if (m->exit_req) return STOP_EXIT_PORT;
        if (m->poweroff_req) return STOP_POWEROFF;
        if (m->quit_req || chardev_quit_requested(m->serial)) return STOP_QUIT;
        if (m->reset_req) {
            m->reset_req = false;
            if (m->cfg.no_reboot) return STOP_RESET;
            machine_reset(m);
        }
        if (m->cfg.max_insns && c->icount >= m->cfg.max_insns) return STOP_LIMIT;
        if (m->display && (polls & 3) == 0) {
            double t = now_s();
            if (t - m->last_ui > 0.015) {
                double mips = (double)(c->icount - m->last_ui_icount) / (t - m->last_ui) / 1e6;
                if (m->last_ui > 0) display_sdl_set_status(m->display, m->cfg.engine, mips);
                m->last_ui = t;
                m->last_ui_icount = c->icount;
                if (!display_sdl_poll(m->display)) return STOP_QUIT;
            }
        }
        if (m->cfg.max_seconds > 0 && (polls & 255) == 0 && now_s() - start > m->cfg.max_seconds) return STOP_LIMIT;
        if (c->halted) {
            if (!(c->eflags & FL_IF)) {
                fprintf(stderr, "bt86: the CPU halted with interrupts disabled at %04x:%08x; nothing can wake it\n",
                        c->seg[SEG_CS].sel, c->eip);
                return STOP_HALTED;
            }
            if (pic_has_intr(m->pic)) c->halted = false;
            else { chardev_poll(m->serial); wait_for_event(m); continue; }
        }
        uint64_t slice = engine_translates(m->eng) ? SLICE_INSNS_TRANSLATED : SLICE_INSNS;
        if (m->cfg.max_insns && m->cfg.max_insns - c->icount < slice) slice = m->cfg.max_insns - c->icount;
        int rc = engine_run(m->eng, slice);
        /* legacy x87 error reporting: FERR# drives IRQ13 while CR0.NE = 0 */
        irq_set(&m->isa_irq[13], fpu_ferr(c));
        if (rc == EXIT_RESET) {
            if (m->cfg.no_reboot) {
                fprintf(stderr, "bt86: triple fault at %04x:%08x (--no-reboot)\n", c->seg[SEG_CS].sel, c->eip);
                return STOP_RESET;
            }
            machine_reset(m);
        } else if (rc == EXIT_CHECK_FAILED) {
            return STOP_CHECK_FAILED;              /* the engine printed the report */
        } else if (rc == EXIT_UNIMPL) {
            fprintf(stderr, "bt86: the %s engine cannot execute the instruction at %04x:%08x yet\n",
                    m->cfg.engine, c->seg[SEG_CS].sel, c->eip);
            return STOP_UNIMPL;
        }
    }
}

int machine_exit_status(const struct machine *m) { return m->exit_status; }
struct cpu *machine_cpu(struct machine *m) { return &m->cpu; }
struct engine *machine_engine(struct machine *m) { return m->eng; }
struct mem *machine_mem(struct machine *m) { return m->mem; }
const uint8_t *machine_post_codes(const struct machine *m, size_t *n) { *n = m->npost; return m->post; }
const char *machine_debug_text(const struct machine *m) { return m->dbg ? m->dbg : ""; }
struct bus *machine_bus(struct machine *m) { return m->bus; }
struct vclock *machine_clock(struct machine *m) { return m->clk; }
const struct irq_line *machine_isa_irq(struct machine *m, int n) { return &m->isa_irq[n & 15]; }
struct rtc *machine_rtc(struct machine *m) { return m->rtc; }
struct pci *machine_pci(struct machine *m) { return m->pci; }
struct ide *machine_ide(struct machine *m) { return m->ide; }
const struct machine_config *machine_config(const struct machine *m) { return &m->cfg; }
void machine_request_poweroff(struct machine *m) { m->poweroff_req = true; stop_soon(m); }
void *machine_fw_state(struct machine *m) { return m->fw; }

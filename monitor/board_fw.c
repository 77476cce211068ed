/* monitor/board_fw.c - firmware-facing board extensions: the ACPI PM
 * registers (devices/acpi.c, ports 0x600-0x60B, SCI on IRQ 9), the firmware
 * configuration ports our BIOS reads (devices/fwcfg.c, 0x520-0x521) and the
 * Linux direct-boot loader (layout in monitor/boot_linux.c).
 *
 * machine_boot_linux() finds this file's state with machine_fw_state(); it
 * refuses when --bios replaced our BIOS, which alone does the handover.
 * After a reset the kernel, initrd and command line are loaded again,
 * because the previous run overwrote them.
 */
#include "monitor/machine.h"
#include "monitor/boot_linux.h"
#include "monitor/display_sdl.h"
#include "devices/acpi.h"
#include "devices/fwcfg.h"
#include "mem/mem.h"
#include "devices/bus.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

struct board_fw {
    struct machine *m;          /* owner                                   */
    struct acpi *acpi;          /* PM1a + PM timer                         */
    struct fwcfg *fwcfg;        /* firmware configuration ports            */
    bool dbg402;                /* port 0x402 mapped by us                 */
    char *kernel, *initrd, *cmdline;   /* Linux direct boot (NULL: none)   */
};

static struct board_fw *fw_of(struct machine *m) { return machine_fw_state(m); }

static void fw_poweroff(void *opaque) { machine_request_poweroff(opaque); }

/* Port 0x402: SeaBIOS's debug console (QEMU -debugcon's default for it), so
 * --bios with Debian's SeaBIOS can be diagnosed: text goes to stderr with
 * --debugcon, else it is dropped; reads return 0xE9 like QEMU's. */
static uint32_t dbg402_read(void *o, uint32_t off, unsigned size) { (void)o; (void)off; (void)size; return 0xE9; }
static void dbg402_write(void *o, uint32_t off, uint32_t val, unsigned size)
{
    (void)off; (void)size;
    struct machine *m = o;
    if (machine_config(m)->debugcon) fputc((int)(val & 0xFF), stderr);
}
static const struct bus_ops dbg402_ops = { "seabios-debug", dbg402_read, dbg402_write, true };

static void set_ram(struct board_fw *fw)
{
    uint64_t ram = machine_config(fw->m)->ram_bytes;
    (void)fwcfg_set(fw->fwcfg, FWCFG_RAM_SIZE, &ram, 8);
    const char *disp = machine_config(fw->m)->display;
    /* the same choice machine_new makes: a window exists for "sdl", or for
     * the default when SDL has a real video driver */
    uint16_t interactive = disp ? !strcmp(disp, "sdl") : display_sdl_available();
    (void)fwcfg_set(fw->fwcfg, FWCFG_INTERACTIVE, &interactive, 2);
}

int board_fw_init(struct machine *m, void **state, char *err, size_t errlen)
{
    *state = NULL;
    struct board_fw *fw = calloc(1, sizeof *fw);
    if (!fw) { snprintf(err, errlen, "out of memory"); return -1; }
    fw->m = m;
    fw->acpi = acpi_new(machine_bus(m), ACPI_PM_BASE, machine_clock(m), machine_isa_irq(m, ACPI_SCI_IRQ),
                        fw_poweroff, m);
    fw->fwcfg = fwcfg_new(machine_bus(m));
    if (!fw->acpi || !fw->fwcfg) {
        snprintf(err, errlen, "cannot create the ACPI/firmware-configuration ports (0x%x, 0x%x taken?)",
                 ACPI_PM_BASE, FWCFG_PORT_SEL);
        board_fw_free(m, fw);
        return -1;
    }
    set_ram(fw);
    if (bus_map_io(machine_bus(m), 0x402, 1, &dbg402_ops, m) == 0) fw->dbg402 = true;
    *state = fw;
    return 0;
}

static int load_linux(struct board_fw *fw, char *err, size_t errlen);

void board_fw_reset(struct machine *m, void *state)
{
    struct board_fw *fw = state;
    if (!fw) return;
    acpi_reset(fw->acpi);
    if (fw->kernel) {
        char err[512];
        if (load_linux(fw, err, sizeof err) != 0) {
            fprintf(stderr, "bt86: reset: %s\n", err);
            uint16_t off[3] = { 0, 0, 0 };
            (void)fwcfg_set(fw->fwcfg, FWCFG_LINUX, off, sizeof off);
        }
    }
    (void)m;
}

void board_fw_free(struct machine *m, void *state)
{
    (void)m;
    struct board_fw *fw = state;
    if (!fw) return;
    if (fw->dbg402) bus_unmap_io(machine_bus(fw->m), 0x402, 1);
    acpi_free(fw->acpi);
    fwcfg_free(fw->fwcfg);
    free(fw->kernel); free(fw->initrd); free(fw->cmdline);
    free(fw);
}

/* Read a whole file; NULL with a message. */
static uint8_t *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return NULL; }
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : (1u << 20);
            if (cap > (2048ull << 20)) { snprintf(err, errlen, "%s: larger than 2 GiB", path); goto fail; }
            uint8_t *p = realloc(buf, cap);
            if (!p) { snprintf(err, errlen, "%s: out of memory", path); goto fail; }
            buf = p;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    if (ferror(f)) { snprintf(err, errlen, "%s: read error", path); goto fail; }
    fclose(f);
    *len = n;
    return buf;
fail:
    fclose(f);
    free(buf);
    return NULL;
}

static int load_linux(struct board_fw *fw, char *err, size_t errlen)
{
    struct mem *mem = machine_mem(fw->m);
    uint64_t ram = machine_config(fw->m)->ram_bytes;
    size_t klen = 0, ilen = 0;
    uint8_t *k = slurp(fw->kernel, &klen, err, errlen), *ird = NULL;
    if (!k) return -1;
    if (fw->initrd && !(ird = slurp(fw->initrd, &ilen, err, errlen))) { free(k); return -1; }
    if (fw->initrd && ilen == 0) {
        snprintf(err, errlen, "%s: the initrd is empty", fw->initrd);
        free(k); free(ird);
        return -1;
    }
    const char *cmd = fw->cmdline ? fw->cmdline : "";
    struct linux_layout lay;
    int rc = linux_prepare(k, klen, fw->kernel, ram, ilen, strlen(cmd), &lay, err, errlen);
    if (rc == 0) {
        uint32_t base = LINUX_SETUP_SEG * 16;
        if (mem_write_bytes(mem, base, k, lay.setup_len) ||
            mem_write_bytes(mem, base + LINUX_CMDLINE_OFF, cmd, strlen(cmd) + 1) ||
            mem_write_bytes(mem, LINUX_KERNEL_ADDR, k + lay.kernel_off, lay.kernel_len) ||
            (ird && mem_write_bytes(mem, lay.initrd_addr, ird, ilen))) {
            snprintf(err, errlen, "%s: cannot write the kernel into guest RAM", fw->kernel);
            rc = -1;
        } else {
            uint16_t item[3] = { 1, LINUX_SETUP_SEG, LINUX_STACK_TOP };
            rc = fwcfg_set(fw->fwcfg, FWCFG_LINUX, item, sizeof item);
            if (rc) snprintf(err, errlen, "out of memory");
        }
    }
    free(k); free(ird);
    return rc;
}

int machine_boot_linux(struct machine *m, const char *kernel, const char *initrd, const char *cmdline,
                       char *err, size_t errlen)
{
    struct board_fw *fw = fw_of(m);
    if (!fw) { snprintf(err, errlen, "internal error: the machine has no firmware state"); return -1; }
    /* the handover after POST is our BIOS's (fwcfg item FWCFG_LINUX); another
     * ROM would boot from its disks and leave the kernel unused */
    if (machine_config(m)->bios) {
        snprintf(err, errlen, "--kernel %s: Linux direct boot needs our BIOS, not --bios %s "
                 "(boot the kernel from a disk with that firmware)", kernel, machine_config(m)->bios);
        return -1;
    }
    free(fw->kernel); free(fw->initrd); free(fw->cmdline);
    fw->kernel = strdup(kernel);
    fw->initrd = initrd ? strdup(initrd) : NULL;
    fw->cmdline = cmdline ? strdup(cmdline) : NULL;
    if (!fw->kernel || (initrd && !fw->initrd) || (cmdline && !fw->cmdline)) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (load_linux(fw, err, errlen) != 0) {
        free(fw->kernel); free(fw->initrd); free(fw->cmdline);
        fw->kernel = fw->initrd = fw->cmdline = NULL;
        return -1;
    }
    return 0;
}

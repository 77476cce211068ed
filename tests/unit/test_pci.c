/* tests/unit/test_pci.c - PCI configuration mechanism #1 as Linux drives it
 * (pci_check_type1, bus scan, BAR sizing), BAR mapping following the
 * command register and BAR moves, the PIIX3 functions and PIRQ routing,
 * the i440FX PAM registers as SeaBIOS programs them and the shadow RAM they
 * give mem/ (reads and writes routed per 16 KiB, the code watch). */
#include "tests/unit/test.h"
#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/piix.h"
#include "mem/mem.h"

#include <stdlib.h>
#include <string.h>

/* ---- a recording interrupt sink and a test device ----------------------- */

struct sink { int level[16]; int edges[16]; };
static void sink_set(void *opaque, int n, int level)
{
    struct sink *s = opaque;
    if (level && !s->level[n]) s->edges[n]++;
    s->level[n] = level;
}

struct tdev { uint32_t last_off; unsigned reads, writes; uint32_t last_val; int maps, unmaps; uint32_t map_addr; };
static uint32_t tdev_read(void *opaque, uint32_t off, unsigned size)
{
    struct tdev *t = opaque;
    (void)size;
    t->reads++;
    t->last_off = off;
    return 0xA500 + off;
}
static void tdev_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    struct tdev *t = opaque;
    (void)size;
    t->writes++;
    t->last_off = off;
    t->last_val = val;
}
static const struct bus_ops tdev_ops = { .name = "tdev", .read = tdev_read, .write = tdev_write };
static void tdev_bar_map(void *opaque, int bar, uint32_t addr, bool mapped)
{
    struct tdev *t = opaque;
    (void)bar;
    if (mapped) { t->maps++; t->map_addr = addr; } else t->unmaps++;
}
static const struct pci_dev_ops tdev_pci_ops = { .bar_map = tdev_bar_map };

/* Config cycles through the ports, as the kernel's pci_conf1_read does. */
static uint32_t cfg_read(struct bus *b, unsigned dev, unsigned fn, unsigned reg, unsigned size)
{
    bus_io_write(b, 0xCF8, 0x80000000u | dev << 11 | fn << 8 | (reg & 0xFC), 4);
    return bus_io_read(b, (uint16_t)(0xCFC + (reg & 3)), size);
}
static void cfg_write(struct bus *b, unsigned dev, unsigned fn, unsigned reg, uint32_t v, unsigned size)
{
    bus_io_write(b, 0xCF8, 0x80000000u | dev << 11 | fn << 8 | (reg & 0xFC), 4);
    bus_io_write(b, (uint16_t)(0xCFC + (reg & 3)), v, size);
}

static void test_type1_probe(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    /* pci_check_type1: outb(0x01, 0xCFB); save; outl(0x80000000); inl == 0x80000000 */
    bus_io_write(b, 0xCFB, 0x01, 1);
    uint32_t saved = bus_io_read(b, 0xCF8, 4);
    bus_io_write(b, 0xCF8, 0x80000000u, 4);
    EXPECT_EQ(bus_io_read(b, 0xCF8, 4), 0x80000000u);
    bus_io_write(b, 0xCF8, saved, 4);
    /* Reserved bits read back as 0. */
    bus_io_write(b, 0xCF8, 0xFF000003u, 4);
    EXPECT_EQ(bus_io_read(b, 0xCF8, 4), 0x80000000u);
    /* The host bridge (i440FX). */
    EXPECT_EQ(cfg_read(b, 0, 0, 0x00, 4), 0x12378086u);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x0A, 2), 0x0600);       /* host bridge class */
    EXPECT_EQ(cfg_read(b, 0, 0, 0x02, 2), 0x1237);       /* word at CFE      */
    EXPECT_EQ(cfg_read(b, 0, 0, 0x01, 1), 0x80);         /* byte at CFD      */
    /* Empty slot, other bus, disabled address: all ones. */
    EXPECT_EQ(cfg_read(b, 7, 0, 0x00, 4), 0xFFFFFFFFu);
    EXPECT_EQ(cfg_read(b, 7, 0, 0x00, 2), 0xFFFF);
    bus_io_write(b, 0xCF8, 0x80010000u, 4);
    EXPECT_EQ(bus_io_read(b, 0xCFC, 4), 0xFFFFFFFFu);
    bus_io_write(b, 0xCF8, 0x00000000u, 4);
    EXPECT_EQ(bus_io_read(b, 0xCFC, 4), 0xFFFFFFFFu);
    /* Read-only IDs; writable interrupt line. */
    cfg_write(b, 0, 0, 0x00, 0xDEADBEEF, 4);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x00, 4), 0x12378086u);
    cfg_write(b, 0, 0, 0x3C, 0x0B, 1);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x3C, 1), 0x0B);
    pci_free(pci);
    bus_free(b);
}

static void test_bars(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    struct tdev t;
    memset(&t, 0, sizeof t);
    struct pci_ids ids = { .vendor = 0x1234, .device = 0x1111, .revision = 2, .class_code = 0x030000, .irq_pin = 1 };
    struct pci_dev *d = pci_register(pci, 2, 0, &ids, &tdev_pci_ops, &t);
    EXPECT(d != NULL);
    EXPECT(pci_register(pci, 2, 0, &ids, NULL, NULL) == NULL);    /* slot taken */
    EXPECT_EQ(pci_register_bar(d, 0, PCI_BAR_MEM | PCI_BAR_PREFETCH, 0x1000000, &tdev_ops, &t), 0);
    EXPECT_EQ(pci_register_bar(d, 1, PCI_BAR_IO, 32, &tdev_ops, &t), 0);
    EXPECT_EQ(pci_register_bar(d, 2, PCI_BAR_IO, 24, &tdev_ops, &t), -1);  /* not a power of 2 */
    EXPECT_EQ(cfg_read(b, 2, 0, 0x00, 4), 0x11111234u);
    EXPECT_EQ(cfg_read(b, 2, 0, 0x08, 4), 0x03000002u);
    EXPECT_EQ(cfg_read(b, 2, 0, 0x3D, 1), 1);                   /* INTA */
    /* Linux's __pci_read_base: decode off, write ~0, read, restore. */
    cfg_write(b, 2, 0, 0x04, 0, 2);
    EXPECT_EQ(cfg_read(b, 2, 0, 0x10, 4), 0x00000008u);
    cfg_write(b, 2, 0, 0x10, 0xFFFFFFFF, 4);
    EXPECT_EQ(cfg_read(b, 2, 0, 0x10, 4), 0xFF000008u);          /* 16 MiB, prefetchable */
    cfg_write(b, 2, 0, 0x14, 0xFFFFFFFF, 4);
    EXPECT_EQ(cfg_read(b, 2, 0, 0x14, 4), 0xFFFFFFE1u);          /* 32 ports */
    cfg_write(b, 2, 0, 0x18, 0xFFFFFFFF, 4);
    EXPECT_EQ(cfg_read(b, 2, 0, 0x18, 4), 0);                     /* no BAR2 */
    EXPECT_EQ(t.maps, 0);
    /* Assign and enable. */
    cfg_write(b, 2, 0, 0x10, 0xE0000000u, 4);
    cfg_write(b, 2, 0, 0x14, 0xC100, 4);
    EXPECT(!pci_bar_mapped(d, 0));
    cfg_write(b, 2, 0, 0x04, PCI_CMD_IO | PCI_CMD_MEMORY, 2);
    EXPECT(pci_bar_mapped(d, 0));
    EXPECT(pci_bar_mapped(d, 1));
    EXPECT_EQ(pci_bar_address(d, 1), 0xC100);
    EXPECT_EQ(t.maps, 2);
    EXPECT_EQ(bus_io_read(b, 0xC104, 1), (0xA500 + 4) & 0xFF);
    EXPECT_EQ(t.last_off, 4);
    uint32_t v = 0;
    EXPECT(bus_mmio_read(b, 0xE0000010u, 4, &v));
    EXPECT_EQ(v, 0xA510);
    bus_mmio_write(b, 0xE0FFFFF0u, 0x77, 4);
    EXPECT_EQ(t.last_off, 0xFFFFF0);
    EXPECT_EQ(t.last_val, 0x77);
    /* Move the I/O BAR: old ports go away, new ones answer. */
    unsigned reads = t.reads;
    cfg_write(b, 2, 0, 0x14, 0xD000, 4);
    EXPECT_EQ(bus_io_read(b, 0xC104, 1), 0xFF);
    EXPECT_EQ(t.reads, reads);
    EXPECT_EQ(bus_io_read(b, 0xD002, 2), 0xA502);
    EXPECT_EQ(t.map_addr, 0xD000);
    EXPECT_EQ(t.unmaps, 1);
    /* Memory decode off: the framebuffer leaves the bus; the I/O BAR stays. */
    cfg_write(b, 2, 0, 0x04, PCI_CMD_IO, 2);
    EXPECT(!bus_mmio_read(b, 0xE0000010u, 4, &v));
    EXPECT(!pci_bar_mapped(d, 0));
    EXPECT(pci_bar_mapped(d, 1));
    /* Sizing with decode on (host-bridge style) must not map at the probe address. */
    cfg_write(b, 2, 0, 0x04, PCI_CMD_IO | PCI_CMD_MEMORY, 2);
    EXPECT(pci_bar_mapped(d, 0));
    cfg_write(b, 2, 0, 0x10, 0xFFFFFFFF, 4);
    EXPECT(!pci_bar_mapped(d, 0));
    cfg_write(b, 2, 0, 0x10, 0xE1000000u, 4);
    EXPECT_EQ(pci_bar_address(d, 0), 0xE1000000u);
    /* Byte-wide write into the BAR's top byte (as a bootloader might). */
    cfg_write(b, 2, 0, 0x13, 0xE2, 1);
    EXPECT_EQ(pci_bar_address(d, 0), 0xE2000000u);
    pci_free(pci);
    /* pci_free unmapped everything. */
    EXPECT_EQ(bus_io_read(b, 0xD002, 2), 0xFFFF);
    EXPECT(!bus_mmio_read(b, 0xE2000000u, 4, &v));
    bus_free(b);
}

static void test_piix_functions(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    struct sink s;
    memset(&s, 0, sizeof s);
    struct irq_line lines[16];
    for (int i = 0; i < 16; i++) lines[i] = (struct irq_line){ .set = sink_set, .opaque = &s, .n = i };
    struct piix *p = piix_new(pci, 1, lines, NULL, NULL);
    EXPECT(p != NULL);
    if (!p) return;
    /* What lspci shows: 00:01.0 ISA bridge 8086:7000, 00:01.1 IDE 8086:7010. */
    EXPECT_EQ(cfg_read(b, 1, 0, 0x00, 4), 0x70008086u);
    EXPECT_EQ(cfg_read(b, 1, 0, 0x08, 4) >> 8, 0x060100);
    EXPECT_EQ(cfg_read(b, 1, 0, 0x0E, 1), 0x80);                  /* multi-function */
    EXPECT_EQ(cfg_read(b, 1, 1, 0x00, 4), 0x70108086u);
    EXPECT_EQ(cfg_read(b, 1, 1, 0x08, 4) >> 8, 0x010180);         /* IDE, legacy, bus master */
    EXPECT_EQ(cfg_read(b, 1, 1, 0x0E, 1), 0x00);
    EXPECT_EQ(cfg_read(b, 1, 2, 0x00, 4), 0xFFFFFFFFu);
    EXPECT_EQ(cfg_read(b, 1, 1, 0x41, 1) & 0x80, 0x80);          /* IDE decode enabled */
    /* BAR4 (BMIBA) sizing: 16 ports. BARs 0-3 are absent in legacy mode. */
    cfg_write(b, 1, 1, 0x20, 0xFFFFFFFF, 4);
    EXPECT_EQ(cfg_read(b, 1, 1, 0x20, 4), 0xFFFFFFF1u);
    cfg_write(b, 1, 1, 0x10, 0xFFFFFFFF, 4);
    EXPECT_EQ(cfg_read(b, 1, 1, 0x10, 4), 0);
    cfg_write(b, 1, 1, 0x20, 0xC000, 4);
    cfg_write(b, 1, 1, 0x04, PCI_CMD_IO | PCI_CMD_MASTER, 2);
    EXPECT(pci_bar_mapped(piix_ide_dev(p), 4));
    bus_io_write(b, 0xC004, 0x12345677, 4);                       /* PRD pointer */
    EXPECT_EQ(bus_io_read(b, 0xC004, 4), 0x12345674u);            /* dword aligned */
    EXPECT_EQ(bus_io_read(b, 0xC002, 1), 0x00);
    piix_free(p);
    pci_free(pci);
    bus_free(b);
}

static void test_pirq_routing(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    struct sink s;
    memset(&s, 0, sizeof s);
    struct irq_line lines[16];
    for (int i = 0; i < 16; i++) lines[i] = (struct irq_line){ .set = sink_set, .opaque = &s, .n = i };
    struct piix *p = piix_new(pci, 1, lines, NULL, NULL);
    struct pci_ids ids = { .vendor = 0x1234, .device = 0x2222, .class_code = 0x020000, .irq_pin = 1 };
    struct pci_dev *nic = pci_register(pci, 3, 0, &ids, NULL, NULL);   /* INTA of slot 3 -> PIRQD */
    ids.irq_pin = 2;
    struct pci_dev *other = pci_register(pci, 2, 0, &ids, NULL, NULL); /* INTB of slot 2 -> PIRQD */
    /* Reset: all routes disabled (bit 7). */
    EXPECT_EQ(cfg_read(b, 1, 0, 0x60, 4), 0x80808080u);
    pci_set_intx(nic, 1);
    for (int i = 0; i < 16; i++) EXPECT_EQ(s.level[i], 0);
    EXPECT_EQ(cfg_read(b, 3, 0, 0x06, 2) & PCI_STATUS_INTERRUPT, PCI_STATUS_INTERRUPT);
    /* Route PIRQD to IRQ 11 (as the BIOS/Linux's pirq_piix_set does). */
    cfg_write(b, 1, 0, 0x63, 11, 1);
    EXPECT_EQ(s.level[11], 1);
    /* Wired-OR: a second source on PIRQD keeps the line up. */
    pci_set_intx(other, 1);
    pci_set_intx(nic, 0);
    EXPECT_EQ(s.level[11], 1);
    pci_set_intx(other, 0);
    EXPECT_EQ(s.level[11], 0);
    EXPECT_EQ(cfg_read(b, 3, 0, 0x06, 2) & PCI_STATUS_INTERRUPT, 0);
    /* Re-route while asserted: 11 drops, 10 rises. */
    pci_set_intx(nic, 1);
    EXPECT_EQ(s.level[11], 1);
    cfg_write(b, 1, 0, 0x60, 0x0A800B80u, 4);    /* PIRQA off, B->11 off.., D->10 */
    EXPECT_EQ(cfg_read(b, 1, 0, 0x63, 1), 0x0A);
    EXPECT_EQ(s.level[11], 0);
    EXPECT_EQ(s.level[10], 1);
    /* INTx disable in the command register masks the pin. */
    cfg_write(b, 3, 0, 0x04, PCI_CMD_INTX_DISABLE, 2);
    EXPECT_EQ(s.level[10], 0);
    cfg_write(b, 3, 0, 0x04, 0, 2);
    EXPECT_EQ(s.level[10], 1);
    /* Disabling the route drops the line; reserved IRQs (0-2, 8, 13) never route. */
    cfg_write(b, 1, 0, 0x63, 0x80 | 10, 1);
    EXPECT_EQ(s.level[10], 0);
    cfg_write(b, 1, 0, 0x63, 2, 1);
    EXPECT_EQ(s.level[2], 0);
    pci_set_intx(nic, 0);
    piix_free(p);
    pci_free(pci);
    bus_free(b);
}

static int resets;
static uint8_t reset_val;
static void on_reset(void *opaque, uint8_t v) { (void)opaque; resets++; reset_val = v; }

static void test_reset_control(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    pci_set_reset_handler(pci, on_reset, NULL);
    bus_io_write(b, 0xCF9, 0x02, 1);               /* select hard reset */
    EXPECT_EQ(resets, 0);
    EXPECT_EQ(bus_io_read(b, 0xCF9, 1), 0x02);
    bus_io_write(b, 0xCF9, 0x06, 1);               /* RST_CPU 0->1 */
    EXPECT_EQ(resets, 1);
    EXPECT_EQ(reset_val, 0x06);
    /* A dword config-address write does not trigger it. */
    bus_io_write(b, 0xCF8, 0x80000400u, 4);
    EXPECT_EQ(resets, 1);
    pci_free(pci);
    bus_free(b);
}

/* ---- i440FX PAM: shadow RAM for C0000-FFFFF ------------------------------- */

/* What the board's PAM handler was told, per 16 KiB segment of C0000-FFFFF. */
struct pamrec { int calls; unsigned mode[16]; uint32_t last_base, last_len; };
static void pam_rec(void *opaque, uint32_t base, uint32_t len, unsigned mode)
{
    struct pamrec *p = opaque;
    p->calls++;
    p->last_base = base;
    p->last_len = len;
    for (uint32_t a = base; a < base + len; a += 0x4000) p->mode[(a - 0xC0000) >> 14] = mode;
}

/* PAM0-PAM6 as SeaBIOS's make_bios_writable / make_bios_readonly program
 * them: dword read-modify-writes at 0x58 and 0x5C. */
static void pam_set(struct bus *b, const uint8_t pam[7])
{
    uint32_t lo = cfg_read(b, 0, 0, 0x58, 4), hi = cfg_read(b, 0, 0, 0x5C, 4);
    lo = (lo & 0xFF) | (uint32_t)pam[0] << 8 | (uint32_t)pam[1] << 16 | (uint32_t)pam[2] << 24;
    hi = (uint32_t)pam[3] | (uint32_t)pam[4] << 8 | (uint32_t)pam[5] << 16 | (uint32_t)pam[6] << 24;
    cfg_write(b, 0, 0, 0x58, lo, 4);
    cfg_write(b, 0, 0, 0x5C, hi, 4);
}

static void test_pam_decode(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    struct pamrec r;
    memset(&r, 0xEE, sizeof r);
    r.calls = 0;
    pci_set_pam_handler(pci, pam_rec, &r);
    EXPECT_EQ(r.calls, 13);                          /* every segment once: F0000 + 12 x 16 KiB */
    for (int i = 0; i < 16; i++) EXPECT_EQ(r.mode[i], 0);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x58, 4) >> 8, 0);     /* reset: all PAM fields 0 */
    EXPECT_EQ(cfg_read(b, 0, 0, 0x5C, 4), 0);
    uint8_t v58 = (uint8_t)cfg_read(b, 0, 0, 0x58, 1);

    /* make_bios_writable: F0000 RE|WE (0x30), C0000-EFFFF RE|WE (0x33) */
    r.calls = 0;
    static const uint8_t rw[7] = { 0x30, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33 };
    pam_set(b, rw);
    EXPECT_EQ(r.calls, 13);
    for (int i = 0; i < 16; i++) EXPECT_EQ(r.mode[i], PCI_PAM_RE | PCI_PAM_WE);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x59, 1), 0x30);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x5C, 4), 0x33333333u);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x58, 1), v58);        /* DRAMT untouched */

    /* make_bios_readonly with ROMs up to CC000: C0000-CBFFF read-only
     * (0x11, low nibble of 0x31), CC000 stays RW, F0000 read-only (0x10) */
    r.calls = 0;
    static const uint8_t ro[7] = { 0x10, 0x11, 0x31, 0x33, 0x33, 0x33, 0x33 };
    pam_set(b, ro);
    EXPECT_EQ(r.calls, 4);                           /* only the changed segments */
    EXPECT_EQ(r.mode[0], PCI_PAM_RE);                /* C0000 */
    EXPECT_EQ(r.mode[1], PCI_PAM_RE);                /* C4000 */
    EXPECT_EQ(r.mode[2], PCI_PAM_RE);                /* C8000 */
    EXPECT_EQ(r.mode[3], PCI_PAM_RE | PCI_PAM_WE);   /* CC000 */
    EXPECT_EQ(r.mode[11], PCI_PAM_RE | PCI_PAM_WE);  /* EC000 */
    for (int i = 12; i < 16; i++) EXPECT_EQ(r.mode[i], PCI_PAM_RE);   /* F0000-FFFFF */

    /* single nibble: PAM6 high nibble is EC000-EFFFF; WE alone */
    r.calls = 0;
    cfg_write(b, 0, 0, 0x5F, 0x23, 1);
    EXPECT_EQ(r.calls, 1);
    EXPECT_EQ(r.last_base, 0xEC000);
    EXPECT_EQ(r.last_len, 0x4000);
    EXPECT_EQ(r.mode[11], PCI_PAM_WE);
    EXPECT_EQ(r.mode[10], PCI_PAM_RE | PCI_PAM_WE);  /* E8000 */

    /* reserved bits read 0: PAM0 bits 3:0, bits 7 and 3 elsewhere; CE is kept */
    cfg_write(b, 0, 0, 0x59, 0xFF, 1);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x59, 1), 0x70);
    cfg_write(b, 0, 0, 0x5A, 0xFF, 1);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x5A, 1), 0x77);
    EXPECT_EQ(r.mode[0], PCI_PAM_RE | PCI_PAM_WE);
    EXPECT_EQ(r.mode[15], PCI_PAM_RE | PCI_PAM_WE);

    /* the host bridge's command register is fixed */
    cfg_write(b, 0, 0, 0x04, 0, 2);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x04, 2), 0x0006);

    /* RESET#: PAM back to 0, and the handler hears it */
    pci_reset(pci);
    for (int i = 0; i < 16; i++) EXPECT_EQ(r.mode[i], 0);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x5C, 4), 0);
    pci_free(pci);
    bus_free(b);
}

/* The board's wiring (monitor/machine.c) on a small memory map: a 128 KiB
 * ROM at E0000 over a hole, PAM routed into mem_set_pam. */
static void pam_to_mem(void *opaque, uint32_t base, uint32_t len, unsigned mode)
{
    EXPECT_EQ(mem_set_pam(opaque, base, len, mode), 0);
}

static uint64_t watch_pa, watch_len;
static int watch_calls;
static void watch_written(void *opaque, uint64_t pa, uint64_t len)
{
    (void)opaque;
    watch_calls++;
    watch_pa = pa;
    watch_len = len;
}

static void test_pam_memory(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    struct mem *m = mem_new(2u << 20);
    static uint8_t rom[128 * 1024];
    for (size_t i = 0; i < sizeof rom; i++) rom[i] = (uint8_t)(i * 7 + 1);
    mem_add_hole(m, 0xA0000, 0x60000);
    EXPECT_EQ(mem_map_rom(m, 0xE0000, rom, sizeof rom), 0);
    pci_set_pam_handler(pci, pam_to_mem, m);
    uint8_t *ram = mem_ram(m);
    const uint32_t f = 0xF0000, rf = 0x10000;        /* F0000 is rom[0x10000] */

    /* reset state: reads see the ROM, writes go nowhere */
    EXPECT_EQ(mem_read_phys(m, f, 1), rom[rf]);
    mem_write_phys(m, f, 0x55, 1);
    EXPECT_EQ(mem_read_phys(m, f, 1), rom[rf]);
    EXPECT_EQ(ram[f], 0);
    EXPECT_EQ(mem_write_bytes(m, f, "x", 1), -1);
    const uint8_t *hp = mem_host_page(m, f, false);   /* mem's private ROM copy */
    EXPECT(hp && hp != ram + f && hp[0] == rom[rf]);
    EXPECT(mem_host_page(m, f, true) == NULL);

    /* write-only (WE): reads still ROM, writes land in the RAM behind it */
    cfg_write(b, 0, 0, 0x59, 0x20, 1);
    mem_write_phys(m, f, 0x12345678u, 4);
    EXPECT_EQ(mem_read_phys(m, f, 1), rom[rf]);
    EXPECT_EQ(ram[f], 0x78);
    EXPECT_EQ(ram[f + 3], 0x12);
    EXPECT(mem_host_page(m, f, true) == ram + f);

    /* RE|WE (make_bios_writable), a copy like SeaBIOS's memcpy from the top alias */
    cfg_write(b, 0, 0, 0x59, 0x30, 1);
    EXPECT_EQ(mem_read_phys(m, f, 4), 0x12345678u);
    EXPECT_EQ(mem_write_bytes(m, f, rom + rf, 0x10000), 0);
    EXPECT_EQ(mem_read_phys(m, 0xFFFF0, 1), rom[0x1FFF0]);
    mem_write_phys(m, 0xF1000, 0xC3, 1);
    EXPECT_EQ(mem_read_phys(m, 0xF1000, 1), 0xC3);
    EXPECT(mem_host_page(m, f, false) == ram + f);

    /* read-only (make_bios_readonly): RAM is read, writes are dropped */
    cfg_write(b, 0, 0, 0x59, 0x10, 1);
    mem_write_phys(m, 0xF1000, 0x90, 1);
    EXPECT_EQ(mem_read_phys(m, 0xF1000, 1), 0xC3);
    EXPECT_EQ(mem_write_bytes(m, 0xF1000, "x", 1), -1);
    EXPECT(mem_host_page(m, 0xF1000, true) == NULL);
    EXPECT_EQ(rom[rf + 0x1000], (uint8_t)((rf + 0x1000) * 7 + 1));   /* the ROM itself never changes */

    /* 16 KiB granularity: PAM5 low nibble RE|WE covers E0000-E3FFF only */
    cfg_write(b, 0, 0, 0x5E, 0x03, 1);
    mem_write_phys(m, 0xE3FFF, 0xAB, 1);
    mem_write_phys(m, 0xE4000, 0xAB, 1);
    EXPECT_EQ(mem_read_phys(m, 0xE3FFF, 1), 0xAB);
    EXPECT_EQ(mem_read_phys(m, 0xE4000, 1), rom[0x4000]);
    EXPECT_EQ(ram[0xE4000], 0);
    /* a dword straddling E3FFE-E4001: RAM half, ROM half */
    EXPECT_EQ(mem_read_phys(m, 0xE3FFE, 4) & 0xFFFF0000u, (uint32_t)rom[0x4000] << 16 | (uint32_t)rom[0x4001] << 24);
    /* C0000 (no ROM there): open bus until shadowed */
    EXPECT_EQ(mem_read_phys(m, 0xC0000, 1), 0xFF);
    cfg_write(b, 0, 0, 0x5A, 0x33, 1);
    mem_write_phys(m, 0xC0000, 0x42, 1);
    EXPECT_EQ(mem_read_phys(m, 0xC0000, 1), 0x42);

    /* the code watch sees shadow RAM writes like any RAM write */
    static uint8_t bits[(2u << 20) / 4096 / 8];
    bits[0xF0 >> 3] |= 1u << (0xF0 & 7);
    mem_set_code_watch(m, bits, watch_written, NULL);
    cfg_write(b, 0, 0, 0x59, 0x30, 1);
    EXPECT(mem_host_page(m, f, true) == NULL);       /* code page: no cached write pointer */
    EXPECT(mem_host_page(m, f, false) == ram + f);
    watch_calls = 0;
    mem_write_phys(m, 0xF0010, 0x5A, 1);
    EXPECT_EQ(watch_calls, 1);
    EXPECT_EQ(watch_pa, 0xF0010);
    EXPECT_EQ(watch_len, 1);
    EXPECT_EQ(ram[0xF0010], 0x5A);
    EXPECT_EQ(mem_write_bytes(m, 0xF0100, "ab", 2), 0);
    EXPECT_EQ(watch_calls, 2);
    EXPECT_EQ(watch_pa, 0xF0100);
    cfg_write(b, 0, 0, 0x59, 0x10, 1);               /* a dropped write is not a write */
    mem_write_phys(m, 0xF0010, 0x00, 1);
    EXPECT_EQ(watch_calls, 2);
    mem_set_code_watch(m, NULL, NULL, NULL);

    /* reset: the ROM is back at F0000, the RAM behind it keeps its bytes */
    pci_reset(pci);
    EXPECT_EQ(mem_read_phys(m, 0xF1000, 1), rom[rf + 0x1000]);
    EXPECT_EQ(ram[0xF1000], 0xC3);
    EXPECT_EQ(mem_pam_mode(m, 0xC0000), 0);

    /* bad ranges are refused */
    EXPECT_EQ(mem_set_pam(m, 0xB0000, 0x4000, 3), -1);
    EXPECT_EQ(mem_set_pam(m, 0xC2000, 0x4000, 3), -1);
    EXPECT_EQ(mem_set_pam(m, 0xFC000, 0x8000, 3), -1);
    EXPECT_EQ(mem_set_pam(m, 0xC0000, 0x4000, 4), -1);
    mem_free(m);
    pci_free(pci);
    bus_free(b);
}

static void test_reset(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    struct sink s;
    memset(&s, 0, sizeof s);
    struct irq_line lines[16];
    for (int i = 0; i < 16; i++) lines[i] = (struct irq_line){ .set = sink_set, .opaque = &s, .n = i };
    struct piix *p = piix_new(pci, 1, lines, NULL, NULL);
    struct pci_ids ids = { .vendor = 0x1234, .device = 0x3333, .class_code = 0x020000, .irq_pin = 1 };
    struct pci_dev *nic = pci_register(pci, 3, 0, &ids, NULL, NULL);
    /* Guest setup: BMIBA, decode, PIRQD -> 11, IDETIM changed, BM status bits. */
    cfg_write(b, 1, 1, 0x20, 0xC000, 4);
    cfg_write(b, 1, 1, 0x04, PCI_CMD_IO | PCI_CMD_MASTER, 2);
    cfg_write(b, 1, 1, 0x40, 0x0000, 2);
    cfg_write(b, 1, 0, 0x63, 11, 1);
    bus_io_write(b, 0xC002, 0x60, 1);
    EXPECT_EQ(bus_io_read(b, 0xC002, 1), 0x60);
    pci_set_intx(nic, 1);
    EXPECT_EQ(s.level[11], 1);
    pci_reset(pci);
    EXPECT_EQ(s.level[11], 0);                                   /* route disabled */
    EXPECT_EQ(cfg_read(b, 1, 0, 0x63, 1), 0x80);
    EXPECT_EQ(cfg_read(b, 1, 1, 0x04, 2), 0);
    EXPECT_EQ(cfg_read(b, 1, 1, 0x20, 4), 0x00000001u);
    EXPECT_EQ(cfg_read(b, 1, 1, 0x40, 2), 0x8000);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x00, 4), 0x12378086u);
    EXPECT(!pci_bar_mapped(piix_ide_dev(p), 4));
    EXPECT_EQ(bus_io_read(b, 0xC002, 1), 0xFF);                   /* BAR4 gone */
    cfg_write(b, 1, 1, 0x20, 0xC000, 4);
    cfg_write(b, 1, 1, 0x04, PCI_CMD_IO, 2);
    EXPECT_EQ(bus_io_read(b, 0xC002, 1), 0x00);                   /* BM registers reset */
    piix_free(p);
    pci_free(pci);
    bus_free(b);
}

int main(void)
{
    RUN(test_type1_probe);
    RUN(test_bars);
    RUN(test_piix_functions);
    RUN(test_pirq_routing);
    RUN(test_reset_control);
    RUN(test_pam_decode);
    RUN(test_pam_memory);
    RUN(test_reset);
    return test_summary();
}

/* tests/unit/test_pci.c - PCI configuration mechanism #1 as Linux drives it
 * (pci_check_type1, bus scan, BAR sizing), BAR mapping following the
 * command register and BAR moves, the PIIX3 functions and PIRQ routing. */
#include "tests/unit/test.h"
#include "devices/bus.h"
#include "devices/pci.h"
#include "devices/piix.h"

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

struct pam { int calls; unsigned off; uint32_t val; unsigned size; };
static void pam_write(void *opaque, unsigned off, uint32_t val, unsigned size)
{
    struct pam *p = opaque;
    p->calls++; p->off = off; p->val = val; p->size = size;
}

static void test_host_bridge_hook(void)
{
    struct bus *b = bus_new();
    struct pci *pci = pci_new(b);
    struct pam pam;
    memset(&pam, 0, sizeof pam);
    static const struct pci_dev_ops ops = { .config_write = pam_write };
    pci_set_dev_ops(pci_find(pci, 0, 0), &ops, &pam);
    /* SeaBIOS-style: dword read-modify-write of PAM0-PAM3 at 0x58. */
    uint32_t v = cfg_read(b, 0, 0, 0x58, 4);
    cfg_write(b, 0, 0, 0x58, (v & 0xFF) | 0x33333000u, 4);
    EXPECT_EQ(pam.calls, 1);
    EXPECT_EQ(pam.off, 0x58);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x59, 1), 0x30);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x5A, 2), 0x3333);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x58, 1), v & 0xFF);   /* 0x58 itself is read-only here */
    /* The host bridge's command register is fixed. */
    cfg_write(b, 0, 0, 0x04, 0, 2);
    EXPECT_EQ(cfg_read(b, 0, 0, 0x04, 2), 0x0006);
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
    RUN(test_host_bridge_hook);
    RUN(test_reset);
    return test_summary();
}

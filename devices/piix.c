/* devices/piix.c - PIIX3-style southbridge functions: ISA bridge with PIRQ
 * routing, IDE function with SFF-8038i bus-master DMA.
 *
 * Owns: see piix.h. References: Intel 82371SB (PIIX3) datasheet, sections
 * 2.2 (function 0 config: PIRQRC[A:D] at 60h-63h), 2.4 (function 1 config:
 * BMIBA at 20h, IDETIM at 40h), 2.7 (bus master IDE I/O registers), and
 * SFF-8038i rev 1.0 (PRD format: dword physical address, word byte count
 * with 0 meaning 64 KiB, bit 31 of the second dword = end of table).
 * Invariants: the PRD walker restarts from the table pointer whenever the
 * start bit goes 0 -> 1; "active" (status bit 0) clears when the start bit
 * is cleared or the last PRD entry has been used up.
 */
#include "devices/piix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BM_CMD_START  0x01
#define BM_CMD_READ   0x08    /* 1: bus master writes memory (device read) */
#define BM_ST_ACTIVE  0x01
#define BM_ST_ERROR   0x02
#define BM_ST_INTR    0x04

struct piix_bm {
    uint8_t cmd;            /* command register                             */
    uint8_t status;         /* status register                              */
    uint32_t prd_table;     /* PRD table pointer (dword aligned)            */
    uint32_t prd_next;      /* walker: address of the next PRD entry        */
    uint32_t cur_addr;      /* walker: memory address in current entry      */
    uint32_t cur_left;      /* walker: bytes left in current entry          */
    bool cur_eot;           /* walker: current entry is the last one        */
    bool eot_used;          /* walker: the last entry is used up            */
};

struct piix {
    struct pci *pci;            /* the bus we registered on                 */
    struct pci_dev *isa;        /* function 0                               */
    struct pci_dev *idef;       /* function 1                               */
    struct irq_line isa_irq[16];/* lines to the PIC inputs                  */
    int isa_level[16];          /* level last driven by PIRQ routing        */
    struct ide *ide;            /* controller served by the DMA engine      */
    struct dma_ops mem;         /* guest RAM                                */
    struct piix_bm bm[2];       /* primary, secondary bus-master channels   */
};

/* ---- PIRQ routing --------------------------------------------------------------- */

static void piix_update_pirq(struct piix *p)
{
    int level[16] = {0};
    for (int i = 0; i < 4; i++) {
        uint8_t r = (uint8_t)pci_config_get(p->isa, 0x60 + (unsigned)i, 1);
        unsigned irq = r & 0x0F;
        /* Bit 7 = routing disabled; IRQ 0-2, 8 and 13 are reserved. */
        if ((r & 0x80) || irq < 3 || irq == 8 || irq == 13) continue;
        if (pci_pirq_level(p->pci, i)) level[irq] = 1;
    }
    for (int i = 0; i < 16; i++) {
        if (level[i] != p->isa_level[i]) {
            p->isa_level[i] = level[i];
            irq_set(&p->isa_irq[i], level[i]);
        }
    }
}

static void piix_route(void *opaque, int pirq, int level)
{
    (void)pirq; (void)level;
    piix_update_pirq(opaque);
}

static void piix_isa_config_write(void *opaque, unsigned off, uint32_t val, unsigned size)
{
    (void)val;
    if (off < 0x64 && off + size > 0x60) piix_update_pirq(opaque);
}

/* ---- bus-master DMA ----------------------------------------------------------------- */

static bool piix_bus_master(struct piix *p)
{
    return pci_config_get(p->idef, PCI_COMMAND, 2) & PCI_CMD_MASTER;
}

static uint32_t piix_dma_rw(void *opaque, int ch, uint8_t *buf, uint32_t len, bool to_mem)
{
    struct piix *p = opaque;
    struct piix_bm *b = &p->bm[ch];
    uint32_t moved = 0;
    if (!(b->cmd & BM_CMD_START) || !piix_bus_master(p) || !p->mem.read || !p->mem.write) return 0;
    while (moved < len) {
        if (b->cur_left == 0) {
            uint8_t e[8];
            if (b->eot_used) break;                 /* PRD table ended */
            if (p->mem.read(p->mem.opaque, b->prd_next, e, 8) != 0) {
                b->status |= BM_ST_ERROR;
                break;
            }
            b->prd_next += 8;
            b->cur_addr = ((uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 |
                           (uint32_t)e[3] << 24) & ~1u;
            b->cur_left = ((uint32_t)e[4] | (uint32_t)e[5] << 8) & ~1u;
            if (b->cur_left == 0) b->cur_left = 0x10000;
            b->cur_eot = e[7] & 0x80;
        }
        uint32_t n = len - moved < b->cur_left ? len - moved : b->cur_left;
        int rc = to_mem ? p->mem.write(p->mem.opaque, b->cur_addr, buf + moved, n)
                        : p->mem.read(p->mem.opaque, b->cur_addr, buf + moved, n);
        if (rc != 0) {                              /* target is not RAM */
            b->status |= BM_ST_ERROR;
            break;
        }
        b->cur_addr += n;
        b->cur_left -= n;
        moved += n;
        if (b->cur_left == 0 && b->cur_eot) b->eot_used = true;
    }
    return moved;
}

static void piix_dma_ready(void *opaque, int ch)
{
    struct piix *p = opaque;
    if (p->bm[ch].cmd & BM_CMD_START) ide_dma_start(p->ide, ch);
}

static void piix_dma_irq(void *opaque, int ch)
{
    struct piix *p = opaque;
    p->bm[ch].status |= BM_ST_INTR;
}

static void piix_dma_done(void *opaque, int ch, bool error)
{
    struct piix *p = opaque;
    struct piix_bm *b = &p->bm[ch];
    /* SFF-8038i: active stays set if the device finished before the PRD
     * table did (the host then sees interrupt=1, active=1). */
    if (error || b->eot_used) b->status &= (uint8_t)~BM_ST_ACTIVE;
}

static void piix_isa_reset(void *opaque)
{
    piix_update_pirq(opaque);   /* routes are back to "disabled" */
}

static void piix_ide_reset(void *opaque)
{
    struct piix *p = opaque;
    memset(p->bm, 0, sizeof p->bm);
}

static const struct ide_dma_ops piix_ide_dma_ops = {
    .rw = piix_dma_rw, .ready = piix_dma_ready, .irq = piix_dma_irq, .done = piix_dma_done,
};

static uint8_t bm_read_byte(struct piix *p, unsigned off)
{
    struct piix_bm *b = &p->bm[(off >> 3) & 1];
    switch (off & 7) {
    case 0: return b->cmd;
    case 2: return b->status;
    case 4: case 5: case 6: case 7: return (uint8_t)(b->prd_table >> (8 * ((off & 7) - 4)));
    default: return 0;
    }
}

static void bm_write_byte(struct piix *p, unsigned off, uint8_t v)
{
    int ch = (off >> 3) & 1;
    struct piix_bm *b = &p->bm[ch];
    switch (off & 7) {
    case 0: {
        uint8_t old = b->cmd;
        /* The direction bit may not change while the engine runs. */
        uint8_t dir = (old & BM_CMD_START) ? (old & BM_CMD_READ) : (v & BM_CMD_READ);
        b->cmd = (uint8_t)((v & BM_CMD_START) | dir);
        if ((v & BM_CMD_START) && !(old & BM_CMD_START)) {
            b->status |= BM_ST_ACTIVE;
            b->prd_next = b->prd_table;
            b->cur_left = 0;
            b->cur_eot = b->eot_used = false;
            if (p->ide && ide_dma_pending(p->ide, ch)) ide_dma_start(p->ide, ch);
        } else if (!(v & BM_CMD_START)) {
            b->status &= (uint8_t)~BM_ST_ACTIVE;    /* stop: abort the engine */
        }
        break;
    }
    case 2:
        /* Bits 5-6 (drive DMA capable) read/write; 1-2 write-1-to-clear. */
        b->status = (uint8_t)((b->status & ~0x60 & ~(v & (BM_ST_ERROR | BM_ST_INTR))) | (v & 0x60));
        break;
    case 4: case 5: case 6: case 7: {
        unsigned sh = 8 * ((off & 7) - 4);
        b->prd_table = (b->prd_table & ~(0xFFu << sh)) | ((uint32_t)v << sh);
        b->prd_table &= ~3u;
        break;
    }
    default:
        break;
    }
}

static uint32_t piix_bm_read(void *opaque, uint32_t off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint32_t)bm_read_byte(opaque, (off + i) & 15) << (8 * i);
    return v;
}

static void piix_bm_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    for (unsigned i = 0; i < size; i++) bm_write_byte(opaque, (off + i) & 15, (uint8_t)(val >> (8 * i)));
}

static const struct bus_ops piix_bm_ops = {
    .name = "piix-bmdma", .read = piix_bm_read, .write = piix_bm_write, .byte_only = false,
};

/* ---- construction ------------------------------------------------------------------- */

struct piix *piix_new(struct pci *pci, unsigned slot, const struct irq_line isa_irq[16],
                      struct ide *ide, const struct dma_ops *mem)
{
    struct piix *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->pci = pci;
    p->ide = ide;
    if (mem) p->mem = *mem;
    if (isa_irq) memcpy(p->isa_irq, isa_irq, sizeof p->isa_irq);

    static const struct pci_ids isa_ids = {   /* 82371SB PIIX3 ISA bridge */
        .vendor = 0x8086, .device = 0x7000, .revision = 0x00, .class_code = 0x060100,
    };
    static const struct pci_dev_ops isa_ops = {
        .config_write = piix_isa_config_write, .reset = piix_isa_reset,
    };
    p->isa = pci_register(pci, slot, 0, &isa_ids, &isa_ops, p);
    static const struct pci_ids ide_ids = {   /* 82371SB PIIX3 IDE, legacy + bus master */
        .vendor = 0x8086, .device = 0x7010, .revision = 0x00, .class_code = 0x010180,
    };
    static const struct pci_dev_ops ide_ops = { .reset = piix_ide_reset };
    p->idef = pci_register(pci, slot, 1, &ide_ids, &ide_ops, p);
    if (!p->isa || !p->idef) {
        fprintf(stderr, "piix: PCI slot %u is already taken\n", slot);
        free(p);
        return NULL;
    }
    /* Function 0 reset values (PIIX3 datasheet 2.2). */
    struct pci_dev *d = p->isa;
    pci_config_set(d, PCI_COMMAND, 0x0007, 2);
    pci_set_wmask(d, PCI_COMMAND, 0x0008, 2);   /* only special cycles are writable */
    pci_config_set(d, 0x4C, 0x4D, 1);           /* IORT: ISA I/O recovery timer */
    pci_config_set(d, 0x4E, 0x03, 1);           /* XBCS: RTC, keyboard decode   */
    pci_config_set(d, 0x69, 0x02, 1);           /* TOM                          */
    pci_config_set(d, 0x70, 0x80, 1);           /* MBIRQ0 disabled              */
    pci_config_set(d, 0x76, 0x0C0C, 2);         /* MBDMA0/1 disabled            */
    pci_config_set(d, 0xA0, 0x08, 1);           /* SMICNTL                      */
    static const struct { uint8_t off, len; } rw[] = {
        { 0x4C, 4 }, { 0x60, 4 }, { 0x69, 3 }, { 0x70, 2 }, { 0x76, 2 }, { 0x78, 2 },
        { 0x80, 3 }, { 0xA0, 16 },
    };
    for (size_t i = 0; i < sizeof rw / sizeof rw[0]; i++)
        for (unsigned o = rw[i].off; o < (unsigned)rw[i].off + rw[i].len; o++) pci_set_wmask(d, o, 0xFF, 1);
    for (unsigned i = 0; i < 4; i++) pci_config_set(d, 0x60 + i, 0x80, 1); /* PIRQ routes disabled */

    /* Function 1: IDE. BAR4 = 16 bytes of bus-master registers (BMIBA). */
    d = p->idef;
    pci_config_set(d, PCI_STATUS, 0x0280, 2);
    if (pci_register_bar(d, 4, PCI_BAR_IO, 16, &piix_bm_ops, p) != 0) {
        free(p);
        return NULL;
    }
    pci_config_set(d, 0x0D, 0x00, 1);
    /* IDETIM primary/secondary: IDE decode enable (bit 15) set, as the
     * firmware leaves it (Linux's ata_piix checks bit 7 of 41h/43h). */
    pci_config_set(d, 0x40, 0x8000, 2);
    pci_config_set(d, 0x42, 0x8000, 2);
    pci_set_wmask(d, 0x40, 0xFFFFFFFF, 4);
    pci_set_wmask(d, 0x44, 0xFF, 1);            /* SIDETIM */
    pci_set_wmask(d, 0x48, 0xFF, 1);            /* UDMACTL (PIIX4; harmless) */
    pci_set_wmask(d, 0x4A, 0xFFFF, 2);          /* UDMATIM */

    pci_set_irq_router(pci, piix_route, p);
    if (ide) ide_set_dma(ide, &piix_ide_dma_ops, p);
    return p;
}

void piix_free(struct piix *p)
{
    if (!p) return;
    if (p->ide) ide_set_dma(p->ide, NULL, NULL);
    pci_set_irq_router(p->pci, NULL, NULL);
    free(p);
}

struct pci_dev *piix_isa_dev(struct piix *p) { return p->isa; }
struct pci_dev *piix_ide_dev(struct piix *p) { return p->idef; }

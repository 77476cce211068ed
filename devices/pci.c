/* devices/pci.c - PCI bus 0 with configuration mechanism #1 and the
 * i440FX host bridge.
 *
 * Owns: the CONFIG_ADDRESS register (0xCF8, dword only: PCI 3.0 section
 * 3.2.2.3.2), the CONFIG_DATA window (0xCFC-0xCFF), the PIIX3 reset control
 * register (0xCF9, byte), the function table (32 slots x 8 functions), each
 * function's config space with write / write-1-to-clear masks, BAR decoding
 * and bus mapping, the INTx -> PIRQ wired-OR, and the host bridge's PAM
 * decode (shadow RAM segments for the board's memory map).
 * Invariants: see pci.h. A BAR is remapped only from pci_update_bars(),
 * which is called after every config write that can change a BAR or the
 * command register, so the bus always matches config space.
 */
#include "devices/pci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCI_NBARS 6
#define PAM_NSEG 13             /* F0000 (64 KiB) + 12 x 16 KiB of C0000-EFFFF */
#define PAM_FIRST 0x59          /* PAM0                                        */
#define PAM_LAST  0x5F          /* PAM6                                        */

struct pci_bar {
    uint32_t size;              /* bytes (power of two), 0 = BAR not present */
    unsigned kind;              /* PCI_BAR_IO / PCI_BAR_MEM (| PREFETCH)     */
    const struct bus_ops *ops;  /* handlers while mapped (may be NULL)       */
    void *opaque;               /* handlers' opaque                          */
    bool mapped;                /* currently mapped on the bus               */
    uint32_t addr;              /* base while mapped                         */
};

struct pci_dev {
    struct pci *pci;            /* owning bus                                */
    unsigned dev, fn;           /* slot and function                         */
    uint8_t cfg[256];           /* configuration space                       */
    uint8_t wmask[256];         /* bits the guest may write                  */
    uint8_t w1cmask[256];       /* bits a guest 1 clears (status)            */
    uint8_t reset_cfg[256];     /* power-on image (see pci_capture_reset)    */
    struct pci_bar bar[PCI_NBARS]; /* BAR 0..5                               */
    struct pci_dev_ops ops;     /* callbacks                                 */
    void *opaque;               /* callbacks' opaque                         */
    int intx;                   /* level the function drives on its pin      */
    int intx_out;               /* level forwarded to the PIRQ (after mask)  */
};

struct pci {
    struct bus *bus;            /* where BARs and config ports are mapped    */
    uint32_t config_addr;       /* CONFIG_ADDRESS (0xCF8)                    */
    uint8_t rcr;                /* reset control register (0xCF9)            */
    struct pci_dev *devs[32][8];/* registered functions                      */
    int pirq_count[4];          /* asserted functions per PIRQ               */
    void (*route)(void *, int, int); /* PIRQ router (PIIX)                   */
    void *route_opaque;         /* router's opaque                           */
    void (*reset)(void *, uint8_t);  /* reset handler for 0xCF9              */
    void *reset_opaque;         /* its opaque                                */
    bool io_mapped;             /* 0xCF8-0xCFF mapped on the bus             */
    bool reset_captured;        /* power-on images taken (first guest cycle) */
    void (*pam)(void *, uint32_t, uint32_t, unsigned); /* shadow handler    */
    void *pam_opaque;           /* its opaque                                */
    uint8_t pam_mode[PAM_NSEG]; /* mode last given to the handler            */
};

/* Config space before the guest's first configuration write is the
 * power-on state the board and devices set up; keep it for pci_reset. */
static void pci_capture_reset(struct pci *pci)
{
    if (pci->reset_captured) return;
    pci->reset_captured = true;
    for (unsigned dv = 0; dv < 32; dv++)
        for (unsigned f = 0; f < 8; f++)
            if (pci->devs[dv][f]) memcpy(pci->devs[dv][f]->reset_cfg, pci->devs[dv][f]->cfg, 256);
}

/* ---- config space helpers ---------------------------------------------- */

uint32_t pci_config_get(const struct pci_dev *d, unsigned off, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size && off + i < 256; i++) v |= (uint32_t)d->cfg[off + i] << (8 * i);
    return v;
}

void pci_config_set(struct pci_dev *d, unsigned off, uint32_t val, unsigned size)
{
    for (unsigned i = 0; i < size && off + i < 256; i++) d->cfg[off + i] = (uint8_t)(val >> (8 * i));
}

void pci_set_wmask(struct pci_dev *d, unsigned off, uint32_t mask, unsigned size)
{
    for (unsigned i = 0; i < size && off + i < 256; i++) d->wmask[off + i] = (uint8_t)(mask >> (8 * i));
}

void pci_set_w1cmask(struct pci_dev *d, unsigned off, uint32_t mask, unsigned size)
{
    for (unsigned i = 0; i < size && off + i < 256; i++) d->w1cmask[off + i] = (uint8_t)(mask >> (8 * i));
}

unsigned pci_dev_slot(const struct pci_dev *d) { return d->dev; }

struct pci_dev *pci_find(struct pci *pci, unsigned dev, unsigned fn)
{
    return dev < 32 && fn < 8 ? pci->devs[dev][fn] : NULL;
}

/* ---- BARs ----------------------------------------------------------------- */

/* Where BAR i should be mapped now; false if it should not be. */
static bool pci_bar_target(const struct pci_dev *d, int i, uint32_t *addr)
{
    const struct pci_bar *b = &d->bar[i];
    uint16_t cmd = (uint16_t)pci_config_get(d, PCI_COMMAND, 2);
    uint32_t reg = pci_config_get(d, PCI_BAR0 + 4 * (unsigned)i, 4);
    if (!b->size) return false;
    if (b->kind & PCI_BAR_IO) {
        uint32_t a = reg & ~3u;
        if (!(cmd & PCI_CMD_IO) || a == 0 || (uint64_t)a + b->size > 0x10000) return false;
        *addr = a;
    } else {
        uint32_t a = reg & ~15u;
        /* A BAR still holding the all-ones sizing pattern is not an address. */
        if (!(cmd & PCI_CMD_MEMORY) || a == 0 || a == (~(b->size - 1) & ~15u)) return false;
        if ((uint64_t)a + b->size > 0x100000000ull) return false;
        *addr = a;
    }
    return true;
}

static void pci_update_bars(struct pci_dev *d)
{
    for (int i = 0; i < PCI_NBARS; i++) {
        struct pci_bar *b = &d->bar[i];
        uint32_t addr = 0;
        bool want = pci_bar_target(d, i, &addr);
        if (want == b->mapped && (!want || addr == b->addr)) continue;
        if (b->mapped) {
            if (b->ops && d->pci->bus) {
                if (b->kind & PCI_BAR_IO) bus_unmap_io(d->pci->bus, (uint16_t)b->addr, b->size);
                else bus_unmap_mmio(d->pci->bus, b->addr, b->size);
            }
            b->mapped = false;
            if (d->ops.bar_map) d->ops.bar_map(d->opaque, i, b->addr, false);
        }
        if (want) {
            int rc = 0;
            if (b->ops && d->pci->bus) {
                if (b->kind & PCI_BAR_IO) rc = bus_map_io(d->pci->bus, (uint16_t)addr, b->size, b->ops, b->opaque);
                else rc = bus_map_mmio(d->pci->bus, addr, b->size, b->ops, b->opaque);
            }
            if (rc != 0) {
                fprintf(stderr, "pci: %02x:%02x.%x BAR%d at 0x%x (size 0x%x) overlaps another "
                        "mapping; left unmapped\n", 0, d->dev, d->fn, i, addr, b->size);
                continue;
            }
            b->mapped = true;
            b->addr = addr;
            if (d->ops.bar_map) d->ops.bar_map(d->opaque, i, addr, true);
        }
    }
}

int pci_register_bar(struct pci_dev *d, int bar, unsigned kind, uint32_t size,
                     const struct bus_ops *ops, void *opaque)
{
    if (!d || bar < 0 || bar >= PCI_NBARS || size == 0 || (size & (size - 1))) return -1;
    bool io = kind & PCI_BAR_IO;
    if (io ? size < 4 || size > 256 : size < 16) return -1;
    struct pci_bar *b = &d->bar[bar];
    b->size = size;
    b->kind = kind;
    b->ops = ops;
    b->opaque = opaque;
    unsigned off = PCI_BAR0 + 4 * (unsigned)bar;
    /* Low bits are read-only type flags; the address bits below the size read 0. */
    uint32_t flags = io ? 1u : (kind & PCI_BAR_PREFETCH);
    pci_config_set(d, off, flags, 4);
    pci_set_wmask(d, off, ~(size - 1) & (io ? ~3u : ~15u), 4);
    return 0;
}

uint32_t pci_bar_address(const struct pci_dev *d, int bar)
{
    return bar >= 0 && bar < PCI_NBARS && d->bar[bar].mapped ? d->bar[bar].addr : 0;
}

bool pci_bar_mapped(const struct pci_dev *d, int bar)
{
    return bar >= 0 && bar < PCI_NBARS && d->bar[bar].mapped;
}

/* ---- INTx ------------------------------------------------------------------ */

static void pci_intx_update(struct pci_dev *d)
{
    unsigned pin = d->cfg[PCI_INTERRUPT_PIN];
    if (d->intx) d->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
    else d->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
    int out = d->intx && !(pci_config_get(d, PCI_COMMAND, 2) & PCI_CMD_INTX_DISABLE);
    if (pin < 1 || pin > 4 || out == d->intx_out) return;
    d->intx_out = out;
    struct pci *pci = d->pci;
    int pirq = (int)((pin - 1 + d->dev) & 3);
    int before = pci->pirq_count[pirq] > 0;
    pci->pirq_count[pirq] += out ? 1 : -1;
    int after = pci->pirq_count[pirq] > 0;
    if (before != after && pci->route) pci->route(pci->route_opaque, pirq, after);
}

void pci_set_intx(struct pci_dev *d, int level)
{
    d->intx = level != 0;
    pci_intx_update(d);
}

void pci_set_irq_router(struct pci *pci, void (*route)(void *, int, int), void *opaque)
{
    pci->route = route;
    pci->route_opaque = opaque;
}

int pci_pirq_level(const struct pci *pci, int pirq)
{
    return pirq >= 0 && pirq < 4 && pci->pirq_count[pirq] > 0;
}

void pci_set_reset_handler(struct pci *pci, void (*reset)(void *, uint8_t), void *opaque)
{
    pci->reset = reset;
    pci->reset_opaque = opaque;
}

/* ---- configuration cycles ---------------------------------------------------- */

uint32_t pci_config_read(struct pci *pci, unsigned bus, unsigned dev, unsigned fn,
                         unsigned off, unsigned size)
{
    uint32_t ones = size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    struct pci_dev *d = bus == 0 ? pci_find(pci, dev, fn) : NULL;
    if (!d || off >= 256 || off + size > 256) return ones;
    uint32_t v = pci_config_get(d, off, size);
    if (d->ops.config_read) v = d->ops.config_read(d->opaque, off, size, v) & ones;
    return v;
}

void pci_config_write(struct pci *pci, unsigned bus, unsigned dev, unsigned fn,
                      unsigned off, uint32_t val, unsigned size)
{
    struct pci_dev *d = bus == 0 ? pci_find(pci, dev, fn) : NULL;
    if (!d || off >= 256 || off + size > 256) return;
    pci_capture_reset(pci);
    for (unsigned i = 0; i < size; i++) {
        unsigned o = off + i;
        uint8_t b = (uint8_t)(val >> (8 * i));
        d->cfg[o] = (uint8_t)((d->cfg[o] & ~d->wmask[o]) | (b & d->wmask[o]));
        d->cfg[o] &= (uint8_t)~(b & d->w1cmask[o]);
    }
    /* Command register or BAR area touched: decode may have changed. */
    if (off < PCI_BAR0 + 4 * PCI_NBARS && off + size > PCI_COMMAND) {
        pci_update_bars(d);
        if (off <= PCI_COMMAND + 1 && off + size > PCI_COMMAND + 1) pci_intx_update(d);
    }
    if (d->ops.config_write) d->ops.config_write(d->opaque, off, val, size);
}

/* Ports 0xCF8-0xCFF. off 0..3: CONFIG_ADDRESS (dword) / RCR (byte at 1);
 * off 4..7: CONFIG_DATA, offset within the dword from the port. */
static uint32_t pci_io_read(void *opaque, uint32_t off, unsigned size)
{
    struct pci *pci = opaque;
    if (off < 4) {
        if (off == 0 && size == 4) return pci->config_addr;
        if (off == 1 && size == 1) return pci->rcr;
        return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    }
    uint32_t a = pci->config_addr;
    if (!(a & 0x80000000u)) return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
    unsigned reg = (a & 0xFC) + (off - 4);
    return pci_config_read(pci, (a >> 16) & 0xFF, (a >> 11) & 0x1F, (a >> 8) & 7, reg, size);
}

static void pci_io_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    struct pci *pci = opaque;
    if (off < 4) {
        if (off == 0 && size == 4) {
            /* Bits 30:24 reserved and 1:0 read as 0. */
            pci->config_addr = val & 0x80FFFFFCu;
        } else if (off == 1 && size == 1) {
            /* PIIX3 RCR: bit 1 SYS_RST, bit 2 RST_CPU (a 0->1 transition resets). */
            uint8_t old = pci->rcr;
            pci->rcr = (uint8_t)(val & 0x02);
            if ((val & 0x04) && !(old & 0x04) && pci->reset) pci->reset(pci->reset_opaque, (uint8_t)val);
        }
        /* Other byte/word writes to 0xCF8-0xCFB do not touch CONFIG_ADDRESS
         * (Linux's pci_check_type1 writes 0x01 to 0xCFB first). */
        return;
    }
    uint32_t a = pci->config_addr;
    if (!(a & 0x80000000u)) return;
    unsigned reg = (a & 0xFC) + (off - 4);
    pci_config_write(pci, (a >> 16) & 0xFF, (a >> 11) & 0x1F, (a >> 8) & 7, reg, val, size);
}

static const struct bus_ops pci_io_ops = {
    .name = "pci-config", .read = pci_io_read, .write = pci_io_write, .byte_only = false,
};

/* ---- registry ------------------------------------------------------------------ */

struct pci_dev *pci_register(struct pci *pci, unsigned dev, unsigned fn,
                             const struct pci_ids *ids,
                             const struct pci_dev_ops *ops, void *opaque)
{
    if (!pci || dev >= 32 || fn >= 8 || pci->devs[dev][fn] || !ids) return NULL;
    struct pci_dev *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->pci = pci;
    d->dev = dev;
    d->fn = fn;
    if (ops) d->ops = *ops;
    d->opaque = opaque;
    pci_config_set(d, PCI_VENDOR_ID, ids->vendor, 2);
    pci_config_set(d, PCI_DEVICE_ID, ids->device, 2);
    pci_config_set(d, PCI_REVISION, ids->revision, 1);
    pci_config_set(d, PCI_CLASS_PROG, ids->class_code, 3);
    pci_config_set(d, PCI_SUBSYS_VENDOR, ids->subsys_vendor, 2);
    pci_config_set(d, PCI_SUBSYS_ID, ids->subsys_id, 2);
    pci_config_set(d, PCI_INTERRUPT_PIN, ids->irq_pin, 1);
    /* Status: capabilities none; DEVSEL medium timing (bits 10:9 = 01). */
    pci_config_set(d, PCI_STATUS, 0x0200, 2);
    /* Command: I/O, memory, bus master, parity, SERR, INTx disable. */
    pci_set_wmask(d, PCI_COMMAND, 0x0547, 2);
    /* Status error bits are write-1-to-clear (PCI 3.0 section 6.2.3). */
    pci_set_w1cmask(d, PCI_STATUS, 0xF900, 2);
    pci_set_wmask(d, 0x0C, 0xFF, 1);                 /* cache line size  */
    pci_set_wmask(d, 0x0D, 0xFF, 1);                 /* latency timer    */
    pci_set_wmask(d, PCI_INTERRUPT_LINE, 0xFF, 1);   /* interrupt line   */
    pci->devs[dev][fn] = d;
    if (fn > 0 && pci->devs[dev][0]) pci->devs[dev][0]->cfg[PCI_HEADER_TYPE] |= 0x80;
    if (fn == 0) {
        for (unsigned f = 1; f < 8; f++)
            if (pci->devs[dev][f]) d->cfg[PCI_HEADER_TYPE] |= 0x80;
    }
    return d;
}

void pci_reset(struct pci *pci)
{
    pci_capture_reset(pci);
    pci->config_addr = 0;
    pci->rcr = 0;
    for (unsigned dv = 0; dv < 32; dv++)
        for (unsigned f = 0; f < 8; f++) {
            struct pci_dev *d = pci->devs[dv][f];
            if (!d) continue;
            memcpy(d->cfg, d->reset_cfg, 256);
            pci_update_bars(d);
            d->intx = 0;
            pci_intx_update(d);
        }
    for (unsigned dv = 0; dv < 32; dv++)
        for (unsigned f = 0; f < 8; f++) {
            struct pci_dev *d = pci->devs[dv][f];
            if (d && d->ops.reset) d->ops.reset(d->opaque);
        }
}

/* ---- i440FX host bridge: PAM ------------------------------------------------------ */

/* Segment i: 0 is F0000-FFFFF (PAM0 bits 7:4; bits 3:0 are reserved);
 * 1..12 are C0000 + (i-1)*16 KiB, in PAM1..PAM6, low nibble first. In a
 * nibble bit 0 is RE, bit 1 WE, bit 2 CE (caching: nothing to do here). */
static void pam_segment(unsigned i, uint32_t *base, uint32_t *len, unsigned *reg, unsigned *shift)
{
    if (i == 0) { *base = 0xF0000; *len = 0x10000; *reg = PAM_FIRST; *shift = 4; return; }
    *base = 0xC0000 + (i - 1) * 0x4000;
    *len = 0x4000;
    *reg = PAM_FIRST + 1 + (i - 1) / 2;
    *shift = ((i - 1) & 1) * 4;
}

static void pci_pam_apply(struct pci *pci, bool force)
{
    struct pci_dev *h = pci->devs[0][0];
    if (!h || !pci->pam) return;
    for (unsigned i = 0; i < PAM_NSEG; i++) {
        uint32_t base, len;
        unsigned reg, shift;
        pam_segment(i, &base, &len, &reg, &shift);
        unsigned mode = (h->cfg[reg] >> shift) & (PCI_PAM_RE | PCI_PAM_WE);
        if (!force && mode == pci->pam_mode[i]) continue;
        pci->pam_mode[i] = (uint8_t)mode;
        pci->pam(pci->pam_opaque, base, len, mode);
    }
}

static void host_config_write(void *opaque, unsigned off, uint32_t val, unsigned size)
{
    (void)val;
    if (off <= PAM_LAST && off + size > PAM_FIRST) pci_pam_apply(opaque, false);
}

static void host_reset(void *opaque) { pci_pam_apply(opaque, false); }

void pci_set_pam_handler(struct pci *pci, void (*pam)(void *, uint32_t, uint32_t, unsigned), void *opaque)
{
    pci->pam = pam;
    pci->pam_opaque = opaque;
    pci_pam_apply(pci, true);
}

void pci_set_dev_ops(struct pci_dev *d, const struct pci_dev_ops *ops, void *opaque)
{
    if (!d) return;
    if (ops) d->ops = *ops;
    else memset(&d->ops, 0, sizeof d->ops);
    d->opaque = opaque;
}

struct pci *pci_new(struct bus *bus)
{
    struct pci *pci = calloc(1, sizeof *pci);
    if (!pci) return NULL;
    pci->bus = bus;
    if (bus) {
        if (bus_map_io(bus, 0xCF8, 8, &pci_io_ops, pci) != 0)
            fprintf(stderr, "pci: ports 0xCF8-0xCFF overlap another mapping (0xCF9, the reset "
                    "control register, belongs to pci.c: use pci_set_reset_handler); "
                    "PCI configuration disabled\n");
        else
            pci->io_mapped = true;
    }
    /* 00:00.0 host bridge: Intel 82441FX (i440FX) PMC, rev 02, class 06 00 00. */
    static const struct pci_ids host = {
        .vendor = 0x8086, .device = 0x1237, .revision = 0x02, .class_code = 0x060000,
    };
    static const struct pci_dev_ops host_ops = { host_config_write, NULL, NULL, host_reset };
    struct pci_dev *h = pci_register(pci, 0, 0, &host, &host_ops, pci);
    if (h) {
        pci_config_set(h, PCI_COMMAND, 0x0006, 2);  /* memory + master, as at reset */
        pci_set_wmask(h, PCI_COMMAND, 0, 2);
        pci_config_set(h, PCI_STATUS, 0x0280, 2);   /* fast back-to-back, medium */
        /* PAM0-6 (0x59-0x5F, BIOS shadowing; reset 0: reads and writes go to
         * ROM): PAM0 bits 3:0, and bits 7 and 3 of every PAM, are reserved.
         * SMRAM (0x72) only holds what the firmware writes. */
        pci_set_wmask(h, PAM_FIRST, 0x70, 1);
        for (unsigned o = PAM_FIRST + 1; o <= PAM_LAST; o++) pci_set_wmask(h, o, 0x77, 1);
        pci_config_set(h, 0x72, 0x02, 1);
        pci_set_wmask(h, 0x72, 0x78, 1);
    }
    return pci;
}

void pci_free(struct pci *pci)
{
    if (!pci) return;
    for (unsigned dv = 0; dv < 32; dv++)
        for (unsigned f = 0; f < 8; f++) {
            struct pci_dev *d = pci->devs[dv][f];
            if (!d) continue;
            for (int i = 0; i < PCI_NBARS; i++) {
                struct pci_bar *b = &d->bar[i];
                if (b->mapped && b->ops && pci->bus) {
                    if (b->kind & PCI_BAR_IO) bus_unmap_io(pci->bus, (uint16_t)b->addr, b->size);
                    else bus_unmap_mmio(pci->bus, b->addr, b->size);
                }
            }
            free(d);
        }
    if (pci->io_mapped) bus_unmap_io(pci->bus, 0xCF8, 8);
    free(pci);
}

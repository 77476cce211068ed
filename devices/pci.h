/* devices/pci.h - PCI bus 0: host bridge, configuration mechanism #1,
 * function registry, BARs and INTx.
 *
 * Owns: the configuration address register (port 0xCF8, dword accesses
 * only), the data window 0xCFC-0xCFF (byte/word/dword), the reset control
 * register at 0xCF9 (byte accesses; PIIX3 RCR), and a 256-byte
 * configuration space per registered function with a write mask and a
 * write-1-to-clear mask. The host bridge 00:00.0 (i440FX, 8086:1237) is
 * registered by pci_new().
 * Invariants: the guest changes only bits in the write mask; the
 * vendor/device/class/header/pin registers are read-only. Each BAR's bus
 * mapping always equals what its register and the command register say:
 * mapped iff the matching decode enable (I/O bit 0, memory bit 1) is set and
 * the BAR holds an address that fits (I/O below 0x10000, memory below
 * 4 GiB, non-zero). Moving a BAR or toggling decode remaps on the bus and
 * then calls the function's bar_map callback.
 * The host bridge's PAM0-PAM6 (0x59-0x5F) are decoded here into 13
 * shadow segments of C0000-FFFFF; the board's PAM handler (which owns the
 * memory map) always holds the mode the registers say, after every write
 * and after pci_reset() (all zero: no shadowing).
 */
#ifndef BT86_PCI_H
#define BT86_PCI_H
#include <stdint.h>
#include <stdbool.h>
#include "devices/bus.h"

/* Standard header offsets (PCI Local Bus Spec 3.0, section 6.1). */
#define PCI_VENDOR_ID      0x00
#define PCI_DEVICE_ID      0x02
#define PCI_COMMAND        0x04
#define PCI_STATUS         0x06
#define PCI_REVISION       0x08
#define PCI_CLASS_PROG     0x09
#define PCI_HEADER_TYPE    0x0E
#define PCI_BAR0           0x10
#define PCI_SUBSYS_VENDOR  0x2C
#define PCI_SUBSYS_ID      0x2E
#define PCI_ROM_ADDRESS    0x30
#define PCI_INTERRUPT_LINE 0x3C
#define PCI_INTERRUPT_PIN  0x3D

#define PCI_CMD_IO         0x0001
#define PCI_CMD_MEMORY     0x0002
#define PCI_CMD_MASTER     0x0004
#define PCI_CMD_INTX_DISABLE 0x0400
#define PCI_STATUS_INTERRUPT 0x0008

/* BAR kinds for pci_register_bar. */
#define PCI_BAR_MEM        0x0u   /* 32-bit memory BAR            */
#define PCI_BAR_IO         0x1u   /* I/O BAR                      */
#define PCI_BAR_PREFETCH   0x8u   /* memory BAR, prefetchable     */

struct pci;
struct pci_dev;

/* Identity of a function (written into its read-only header). */
struct pci_ids {
    uint16_t vendor, device;         /* e.g. 0x8086, 0x7010                  */
    uint8_t revision;                /* revision ID                          */
    uint32_t class_code;             /* 24 bits: class<<16 | sub<<8 | prog-if */
    uint16_t subsys_vendor, subsys_id; /* 0 = none                           */
    uint8_t irq_pin;                 /* 0 none, 1..4 = INTA#..INTD#          */
};

/* Callbacks of a function; every pointer may be NULL. */
struct pci_dev_ops {
    /* After a guest config write was applied (through the masks). */
    void (*config_write)(void *opaque, unsigned off, uint32_t val, unsigned size);
    /* Return the value a guest config read sees; `val` is what the config
     * space holds (for registers with side effects or live values). */
    uint32_t (*config_read)(void *opaque, unsigned off, unsigned size, uint32_t val);
    /* After BAR `bar` was (un)mapped: addr is its new base when mapped. */
    void (*bar_map)(void *opaque, int bar, uint32_t addr, bool mapped);
    /* After pci_reset() restored this function's power-on config space. */
    void (*reset)(void *opaque);
};

/* New PCI bus 0 on `bus`: maps 0xCF8-0xCFF and registers the host bridge. */
struct pci *pci_new(struct bus *bus);
void pci_free(struct pci *pci);

/* Machine reset (RESET#): every function's config space returns to its
 * power-on image (the contents before the first guest configuration
 * cycle), BARs are unmapped accordingly, then each function's reset op runs. */
void pci_reset(struct pci *pci);

/* Register function dev:fn (dev 0..31, fn 0..7) on bus 0. Registering
 * fn > 0 sets the multi-function bit of fn 0's header type. Returns NULL if
 * the slot is taken or out of range. */
struct pci_dev *pci_register(struct pci *pci, unsigned dev, unsigned fn,
                             const struct pci_ids *ids,
                             const struct pci_dev_ops *ops, void *opaque);

/* Replace the callbacks of a registered function. (Not for the host bridge:
 * its own callbacks decode PAM; use pci_set_pam_handler.) */
void pci_set_dev_ops(struct pci_dev *d, const struct pci_dev_ops *ops, void *opaque);

/* Declare BAR `bar` (0..5) of `size` bytes (a power of two; I/O >= 4,
 * memory >= 16). When mapped, accesses go to ops/opaque with offsets from
 * the BAR base (ops may be NULL: the function maps it itself in bar_map).
 * Returns 0 or -1 on bad arguments. */
int pci_register_bar(struct pci_dev *d, int bar, unsigned kind, uint32_t size,
                     const struct bus_ops *ops, void *opaque);

/* Direct access to a function's config space (device setup, reset values). */
uint32_t pci_config_get(const struct pci_dev *d, unsigned off, unsigned size);
void pci_config_set(struct pci_dev *d, unsigned off, uint32_t val, unsigned size);
/* Make bits of a register guest-writable (mask bits set) / write-1-to-clear. */
void pci_set_wmask(struct pci_dev *d, unsigned off, uint32_t mask, unsigned size);
void pci_set_w1cmask(struct pci_dev *d, unsigned off, uint32_t mask, unsigned size);

/* BAR state: the decoded base address if mapped, else 0. */
uint32_t pci_bar_address(const struct pci_dev *d, int bar);
bool pci_bar_mapped(const struct pci_dev *d, int bar);
unsigned pci_dev_slot(const struct pci_dev *d);
struct pci_dev *pci_find(struct pci *pci, unsigned dev, unsigned fn);

/* A configuration cycle as the guest issues it (also used by tests and a
 * firmware-less boot). bus != 0 or an empty slot reads all ones. */
uint32_t pci_config_read(struct pci *pci, unsigned bus, unsigned dev, unsigned fn,
                         unsigned off, unsigned size);
void pci_config_write(struct pci *pci, unsigned bus, unsigned dev, unsigned fn,
                      unsigned off, uint32_t val, unsigned size);

/* INTx: a function asserts (1) or deasserts (0) its interrupt pin. The
 * swizzled PIRQ (INTA..D of slot d -> PIRQ (pin-1+d)&3) goes to the router
 * set below (the PIIX ISA bridge), which sees each PIRQ's wired-OR level. */
void pci_set_intx(struct pci_dev *d, int level);
void pci_set_irq_router(struct pci *pci,
                        void (*route)(void *opaque, int pirq, int level), void *opaque);
/* Current wired-OR level of PIRQ 0..3 (for a router being attached late). */
int pci_pirq_level(const struct pci *pci, int pirq);

/* i440FX PAM (Intel 82441FX PMC datasheet, PAM[6:0] at 59h-5Fh): the host
 * bridge calls pam(opaque, base, len, mode) for each segment whose mode
 * changed: F0000-FFFFF (64 KiB, PAM0 bits 7:4) and C0000-EFFFF in 16 KiB
 * pieces (PAM1-PAM6, low nibble first). mode = PCI_PAM_RE | PCI_PAM_WE
 * bits: reads / writes go to DRAM (else to the PCI bus: ROM). Setting the
 * handler calls it once for every segment. */
#define PCI_PAM_RE 1u
#define PCI_PAM_WE 2u
void pci_set_pam_handler(struct pci *pci,
                         void (*pam)(void *opaque, uint32_t base, uint32_t len, unsigned mode),
                         void *opaque);

/* Port 0xCF9 (reset control register): a byte write with bit 2 (RST_CPU)
 * set calls `reset(opaque, val)`; bit 1 (SYS_RST) asks for a hard reset. */
void pci_set_reset_handler(struct pci *pci, void (*reset)(void *opaque, uint8_t val),
                           void *opaque);

#endif

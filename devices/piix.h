/* devices/piix.h - PIIX3-style southbridge: PCI-to-ISA bridge (function 0,
 * 8086:7000) with PIRQ routing, and the IDE function (function 1,
 * 8086:7010) in compatibility mode with bus-master DMA (BAR4).
 *
 * Owns: the PIRQ route control registers (config 0x60-0x63: bit 7 disables
 * the route, bits 3:0 pick the ISA IRQ), the wired-OR of routed PIRQs onto
 * ISA IRQ lines, the IDE function's config space (IDETIM 0x40-0x43 etc.)
 * and the SFF-8038i bus-master registers (per channel: command, status, PRD
 * table pointer) with the PRD walker that moves IDE data to guest memory.
 * The legacy IDE ports themselves belong to devices/ide.c.
 * Invariants: an ISA IRQ line driven from here is high iff some asserted
 * PIRQ routes to it; DMA only happens while the channel's start bit and the
 * function's bus-master enable are set; guest memory is touched only
 * through struct dma_ops and only within PRD entries.
 */
#ifndef BT86_PIIX_H
#define BT86_PIIX_H
#include <stdint.h>
#include <stddef.h>
#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/pci.h"
#include "devices/ide.h"

/* Guest physical memory for bus-master DMA, wired by the board to RAM.
 * read/write return 0, or -1 if [pa, pa+len) is not all RAM. */
struct dma_ops {
    int (*read)(void *opaque, uint64_t pa, void *buf, size_t len);
    int (*write)(void *opaque, uint64_t pa, const void *buf, size_t len);
    void *opaque;
};

struct piix;

/* Register functions slot:0 (ISA bridge) and slot:1 (IDE) on `pci`.
 * isa_irq[0..15]: the board's lines to the PIC inputs (PIRQ routing drives
 * them); ide: the controller whose DMA engine this is (may be NULL);
 * mem: guest RAM for DMA (copied). Installs itself as the PCI IRQ router. */
struct piix *piix_new(struct pci *pci, unsigned slot, const struct irq_line isa_irq[16],
                      struct ide *ide, const struct dma_ops *mem);
void piix_free(struct piix *p);

struct pci_dev *piix_isa_dev(struct piix *p);   /* function 0 */
struct pci_dev *piix_ide_dev(struct piix *p);   /* function 1 */

#endif

/* devices/ide.h - IDE/ATA controller: two legacy channels, ATA disks and
 * ATAPI CD-ROMs.
 *
 * Owns: the command/control block registers of the primary (0x1F0-0x1F7,
 * 0x3F6, IRQ14) and secondary (0x170-0x177, 0x376, IRQ15) channels, up to
 * two drives per channel, their task files (with the LBA48 "previous
 * content" FIFO), PIO data buffers and command state machines. Bus-master
 * DMA registers belong to the PCI function (devices/piix.c); a channel only
 * moves bytes through struct ide_dma_ops once the engine is started.
 * Invariants: a channel's INTRQ is asserted iff an interrupt is pending and
 * nIEN is clear; reading the status register clears the pending interrupt,
 * reading alternate status does not. Every sector access is bounds-checked
 * (past the end -> ERR + IDNF). Port 0x3F7/0x377 (floppy DIR) is not ours.
 */
#ifndef BT86_IDE_H
#define BT86_IDE_H
#include <stdint.h>
#include <stdbool.h>
#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/disk.h"

enum ide_kind {
    IDE_HD,        /* ATA hard disk (disk required)                 */
    IDE_CDROM,     /* ATAPI CD-ROM, 2048-byte blocks (disk optional) */
};

/* The bus-master DMA engine, as a channel sees it (PIIX BMDMA). */
struct ide_dma_ops {
    /* Move up to len bytes between buf and guest memory along the PRD
     * table; to_mem: device -> memory. Returns the bytes moved; fewer than
     * len means the PRD table ended (or the engine is stopped/not master). */
    uint32_t (*rw)(void *opaque, int ch, uint8_t *buf, uint32_t len, bool to_mem);
    /* A DMA command is waiting for the engine's start bit. */
    void (*ready)(void *opaque, int ch);
    /* The channel asserted INTRQ (sets BMDMA status bit 2). */
    void (*irq)(void *opaque, int ch);
    /* The transfer finished (error: it did not complete). */
    void (*done)(void *opaque, int ch, bool error);
};

struct ide;

/* New controller; maps the legacy ports of both channels on `bus` (bus may
 * be NULL: then use ide_ops()). irq[0] is IRQ14, irq[1] IRQ15. */
struct ide *ide_new(struct bus *bus, const struct irq_line *irq14,
                    const struct irq_line *irq15);
void ide_free(struct ide *ide);   /* does not close attached disks */

/* Attach a drive: ch 0/1, unit 0 (master) / 1 (slave). A CD-ROM may have
 * disk == NULL (no medium). Returns 0, or -1 (taken, bad args, no disk). */
int ide_attach(struct ide *ide, int ch, int unit, enum ide_kind kind, struct disk *disk)
    __attribute__((warn_unused_result));

/* Default CHS geometry of a hard disk, as IDENTIFY words 1/3/6 report it
 * (for the board's CMOS disk bytes / BIOS tables). -1 if no hard disk. */
int ide_geometry(const struct ide *ide, int ch, int unit, unsigned *cyls, unsigned *heads,
                 unsigned *spt);

void ide_set_dma(struct ide *ide, const struct ide_dma_ops *ops, void *opaque);
/* The engine of channel ch was started: run the pending DMA command. */
void ide_dma_start(struct ide *ide, int ch);
bool ide_dma_pending(const struct ide *ide, int ch);

/* Hardware reset (RESET#): both channels, signatures, defaults. */
void ide_reset(struct ide *ide);

/* Register access without a bus (tests, other wiring): port is the legacy
 * port number (0x1F0-0x1F7, 0x3F6, 0x170-0x177, 0x376). */
uint32_t ide_port_read(struct ide *ide, uint16_t port, unsigned size);
void ide_port_write(struct ide *ide, uint16_t port, uint32_t val, unsigned size);

#endif

/* devices/pic.h - the 8259A PIC pair of a PC (master 0x20-0x21, slave
 * 0xA0-0xA1 cascaded on master IR2) and the ELCR (0x4D0-0x4D1).
 *
 * Owns: both chips' IRR/ISR/IMR, initialization state (ICW1-4), OCW2/OCW3
 * modes (rotation, special mask, poll, register select), the input line
 * levels and the edge/level control register. Devices reach it only through
 * struct irq_line (pic_irq_line); the CPU side is pic_has_intr + pic_ack.
 *
 * Wiring (the board): pic = pic_new(bus);   maps 0x20, 0xA0, 0x4D0
 *                     struct irq_line l0 = pic_irq_line(pic, 0);  ... 15
 *                     pic_set_intr_cb(pic, cb, opaque);  (optional: INTR changes)
 * The run loop: if (IF && pic_has_intr(pic)) vector = pic_ack(pic);
 * IRQ 2 is the cascade input: pic_set_irq(pic, 2, ..) is ignored (ISA IRQ2
 * is routed to IRQ9 on an AT, so the board wires such a device to 9).
 */
#ifndef BT86_PIC_H
#define BT86_PIC_H
#include <stdint.h>
#include <stdbool.h>
#include "devices/bus.h"
#include "devices/irq.h"

struct pic;

/* New PIC pair mapped on `bus` (may be NULL for tests that call the port
 * functions directly). NULL if the ports are already taken. */
struct pic *pic_new(struct bus *bus);
void pic_free(struct pic *pic);

/* Input line `irq` (0-15) changes level. Edge inputs latch IRR on 0->1 (the
 * request stays latched until acknowledged even if the line drops again, so
 * irq_pulse works); level inputs (ELCR bit or ICW1.LTIM) follow the line. */
void pic_set_irq(struct pic *pic, int irq, int level);
/* A struct irq_line that drives input `irq` of this PIC. */
struct irq_line pic_irq_line(struct pic *pic, int irq);
/* The callback form used by irq lines (opaque = struct pic *). */
void pic_irq_set_cb(void *opaque, int irq, int level);

/* INTR output to the CPU. */
bool pic_has_intr(struct pic *pic);
/* INTA cycle: the vector to deliver. Sets ISR (unless auto-EOI), clears an
 * edge request, follows the cascade to the slave. With nothing to deliver
 * it returns the spurious vector (IRQ7 of the master, or IRQ15 of the slave
 * if the cascade itself vanished), setting no ISR bit. */
int pic_ack(struct pic *pic);
/* Called with the new INTR level whenever it changes (NULL to remove). */
void pic_set_intr_cb(struct pic *pic, void (*cb)(void *opaque, bool level), void *opaque);

/* Direct port access (what the bus ops call): port is the full port number
 * 0x20, 0x21, 0xA0, 0xA1, 0x4D0 or 0x4D1. */
uint8_t pic_port_read(struct pic *pic, uint16_t port);
void pic_port_write(struct pic *pic, uint16_t port, uint8_t val);

/* Debug/monitor view of the registers (chip 0 master, 1 slave). */
uint8_t pic_get_irr(struct pic *pic, int chip);
uint8_t pic_get_isr(struct pic *pic, int chip);
uint8_t pic_get_imr(struct pic *pic, int chip);

#endif

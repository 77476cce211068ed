/* devices/pit.h - 8254 programmable interval timer (ports 0x40-0x43) and
 * system control port B (port 0x61).
 *
 * Owns: the three counters (modes 0-5, binary/BCD, LSB/MSB access, counter
 * latch and read-back), the channel 2 gate, and port 0x61 (bit 0 gate 2,
 * bit 1 speaker data, bits 2-3 stored, bit 4 refresh toggle, bit 5 OUT2).
 * Counters run at PIT_HZ derived from the vclock; nothing is polled: OUT0
 * edges are timer events that drive IRQ0 through an irq_line.
 *
 * Wiring (the board): struct irq_line l0 = pic_irq_line(pic, 0);
 *                     pit = pit_new(bus, clk, &l0);   maps 0x40-0x43 and 0x61
 */
#ifndef BT86_PIT_H
#define BT86_PIT_H
#include <stdint.h>
#include <stdbool.h>
#include "devices/bus.h"
#include "devices/irq.h"

#define PIT_HZ 1193182u       /* 14.31818 MHz / 12 */

struct pit;
struct vclock;

/* New PIT on `bus` (NULL: not mapped; use pit_port_read/write) clocked by
 * `clk`; irq0 (copied, may be NULL) receives OUT0. NULL if the ports are
 * taken or clk is NULL. */
struct pit *pit_new(struct bus *bus, struct vclock *clk, const struct irq_line *irq0);
void pit_free(struct pit *pit);

/* Ports 0x40-0x43 and 0x61 (full port numbers). */
uint8_t pit_port_read(struct pit *pit, uint16_t port);
void pit_port_write(struct pit *pit, uint16_t port, uint8_t val);

/* GATE input of channel ch (0-2). Channels 0 and 1 are tied high on a PC;
 * channel 2's gate is port 0x61 bit 0. */
void pit_set_gate(struct pit *pit, int ch, int level);
/* OUT of channel ch now (0 or 1). */
int pit_get_out(struct pit *pit, int ch);
/* Speaker: true when port 0x61 bits 0 and 1 are both set (OUT2 reaches it). */
bool pit_speaker_enabled(struct pit *pit);

#endif

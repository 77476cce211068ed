/* devices/uart.h - 16550A UART (PC serial port: COM1 0x3F8 IRQ4, COM2 0x2F8 IRQ3).
 *
 * Owns: the eight UART registers of one port, its 16-byte receive FIFO, its
 * interrupt logic and its modem lines. Guest output goes to a chardev; host
 * input arrives from the chardev (chardev_poll, called by the run loop) into
 * the receive FIFO. Transmission is instantaneous (THR empties at once), but
 * the THRE interrupt follows the datasheet as Linux's 8250 driver expects.
 *
 * Wiring (the board): u = uart_new(clk, &irq_line, cd);
 *                     bus_map_io(bus, 0x3F8, 8, &uart_bus_ops, u);
 * and the run loop calls chardev_poll(cd) regularly.
 */
#ifndef BT86_UART_H
#define BT86_UART_H
#include <stdint.h>
#include "devices/bus.h"
#include "devices/irq.h"

struct uart;
struct vclock;
struct chardev;

#define UART_COM1_BASE 0x3F8
#define UART_COM1_IRQ  4
#define UART_COM2_BASE 0x2F8
#define UART_COM2_IRQ  3

/* clk: for the receive character-timeout (NULL: the timeout indication is
 * raised at once whenever the FIFO holds data below its trigger level).
 * irq: copied. cd: the back-end (NULL: output dropped, no input); the UART
 * registers itself as cd's receiver. */
struct uart *uart_new(struct vclock *clk, const struct irq_line *irq, struct chardev *cd);
void uart_free(struct uart *u);

/* Port access, off = 0..7 from the base port (byte accesses). */
uint8_t uart_read(struct uart *u, unsigned off);
void uart_write(struct uart *u, unsigned off, uint8_t val);
extern const struct bus_ops uart_bus_ops;     /* opaque = struct uart * */

/* Host side of the modem inputs (MSR bits 4-7: CTS 0x10, DSR 0x20, RI 0x40,
 * DCD 0x80). Default CTS|DSR|DCD. Changes set the MSR delta bits. */
void uart_set_modem_inputs(struct uart *u, uint8_t msr_hi);
/* Receive a break condition from the host side (LSR BI). */
void uart_receive_break(struct uart *u);

#endif

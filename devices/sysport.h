/* devices/sysport.h - small board ports: POST code (0x80), debug console
 * (0xE9), isa-debug-exit (0xF4), system control port A (0x92) and,
 * optionally, the reset control register (0xCF9).
 *
 * Owns: the last POST code, port 0x92's bits (A20 and fast reset), the
 * 0xCF9 value, and the latest exit/reset requests. It reports everything
 * through callbacks; it does not touch the CPU or memory itself.
 *
 * Wiring (the board):
 *   static const struct sysport_ops ops = { .a20 = board_set_a20, .reset = board_reset,
 *                                           .exit_request = board_exit, ... };
 *   sp = sysport_new(bus, &ops, board, 0);
 * devices/pci.c already owns 0xCF9 (pci_set_reset_handler); pass SYSPORT_CF9
 * only on a board without that PCI host.
 */
#ifndef BT86_SYSPORT_H
#define BT86_SYSPORT_H
#include <stdint.h>
#include <stdbool.h>
#include "devices/bus.h"

struct sysport;

struct sysport_ops {
    void (*post)(void *opaque, uint8_t code);          /* 0x80 write; NULL: recorded only */
    void (*debug_out)(void *opaque, uint8_t ch);       /* 0xE9 write; NULL: to stdout     */
    void (*exit_request)(void *opaque, int status);    /* 0xF4 write v: status (v<<1)|1   */
    void (*a20)(void *opaque, bool enabled);           /* 0x92 bit 1 changed              */
    void (*reset)(void *opaque);                       /* 0x92 bit 0 rising, 0xCF9 reset  */
};

#define SYSPORT_CF9 0x1u     /* also map 0xCF9 (no PCI host owns it) */

/* Maps the ports on `bus`. ops may be NULL (everything recorded only),
 * and is copied. NULL if a port is already taken (reported on stderr). */
struct sysport *sysport_new(struct bus *bus, const struct sysport_ops *ops, void *opaque,
                            unsigned flags);
void sysport_free(struct sysport *sp);

/* Direct port access (what the bus ops call). */
uint8_t sysport_port_read(struct sysport *sp, uint16_t port);
void sysport_port_write(struct sysport *sp, uint16_t port, uint8_t val);

uint8_t sysport_last_post(struct sysport *sp);
/* True (and *status set) once the guest wrote to 0xF4. */
bool sysport_exit_requested(struct sysport *sp, int *status);
/* Number of reset requests so far (the board may poll instead of a callback). */
unsigned sysport_reset_count(struct sysport *sp);
/* Port 0x92 bit 1 as the guest reads it. */
bool sysport_a20(struct sysport *sp);
/* Sync bit 1 of port 0x92 when A20 changed elsewhere (no callback). */
void sysport_set_a20_bit(struct sysport *sp, bool enabled);
/* Power-on state of port 0x92 and 0xCF9 (keeps the POST code and counters). */
void sysport_reset(struct sysport *sp);

#endif

/* devices/fwcfg.h - bt86 firmware configuration ports: how our BIOS learns
 * what the emulator set up (RAM size, Linux direct boot, ...).
 *
 * Protocol (I/O ports, little endian):
 *   0x520  write 16 bits: select item KEY; the read offset goes back to 0.
 *   0x521  read 8/16/32 bits: the next bytes of the selected item (an
 *          unknown item or reads past its end give zeros).
 * The ports are deliberately not QEMU's fw_cfg ports (0x510/0x511): a
 * firmware written for QEMU (SeaBIOS with --bios) probes those for "QEMU",
 * finds nothing and sizes RAM from CMOS, so it never meets keys that mean
 * something else here (docs/seabios.md).
 * Items (FWCFG_*): see below. The board fills them; the guest only reads.
 * Invariants: items are owned copies; reads never run past an item.
 */
#ifndef BT86_FWCFG_H
#define BT86_FWCFG_H
#include <stdint.h>
#include <stddef.h>
#include "devices/bus.h"

#define FWCFG_PORT_SEL   0x520
#define FWCFG_PORT_DATA  0x521
#define FWCFG_PORT_LEN   8       /* 0x520-0x527 claimed so wide reads at 0x521 fit */

#define FWCFG_SIGNATURE  0x00   /* "BT86"                                      */
#define FWCFG_VERSION    0x01   /* u32: 1                                       */
#define FWCFG_RAM_SIZE   0x02   /* u64: guest RAM in bytes                      */
#define FWCFG_INTERACTIVE 0x04 /* u16: 1 = a display is attached (wait for a key) */
#define FWCFG_LINUX      0x10   /* u16 enable, u16 setup segment, u16 SP        */
#define FWCFG_NKEYS      0x20

struct fwcfg;

/* Maps ports 0x510-0x511 on `bus`; NULL if they are taken. */
struct fwcfg *fwcfg_new(struct bus *bus);
void fwcfg_free(struct fwcfg *fw);
/* Set item `key` to a copy of data[0..len). 0, or -1 (bad key / no memory). */
int fwcfg_set(struct fwcfg *fw, unsigned key, const void *data, size_t len);
/* Port access (what the bus calls); exposed for tests. */
uint32_t fwcfg_port_read(struct fwcfg *fw, uint16_t port, unsigned size);
void fwcfg_port_write(struct fwcfg *fw, uint16_t port, uint32_t val, unsigned size);
#endif

/* devices/bus.h - the one bus for I/O ports and MMIO.
 *
 * Owns: the port map (0..0xFFFF) and the MMIO region list, access-size rules
 * and the "unmapped" policy. A device registers a range with named ops and an
 * opaque pointer; the bus calls back with the offset into that range.
 * Invariants: ranges never overlap (bus_map_* fails if they would); unmapped
 * ports read as all ones (for the access size) and are logged once per port.
 * Sizes are 1, 2 or 4 bytes. A device whose ops lack a size-2/4 handler gets
 * the access split into bytes (little endian) by the bus.
 */
#ifndef BT86_BUS_H
#define BT86_BUS_H
#include <stdint.h>
#include <stdbool.h>

struct bus_ops {
    const char *name;                                            /* for logs   */
    uint32_t (*read)(void *opaque, uint32_t off, unsigned size);  /* size 1/2/4 */
    void (*write)(void *opaque, uint32_t off, uint32_t val, unsigned size);
    bool byte_only;          /* true: bus splits 16/32-bit accesses into bytes */
};

struct bus;

struct bus *bus_new(void);
void bus_free(struct bus *bus);

/* Map ports [base, base+len). Returns 0, or -1 if the range overlaps. */
int bus_map_io(struct bus *bus, uint16_t base, uint32_t len,
               const struct bus_ops *ops, void *opaque)
    __attribute__((warn_unused_result));
void bus_unmap_io(struct bus *bus, uint16_t base, uint32_t len);
/* Map physical MMIO [base, base+len). Returns 0, or -1 on overlap. */
int bus_map_mmio(struct bus *bus, uint64_t base, uint64_t len,
                 const struct bus_ops *ops, void *opaque)
    __attribute__((warn_unused_result));
void bus_unmap_mmio(struct bus *bus, uint64_t base, uint64_t len);

uint32_t bus_io_read(struct bus *bus, uint16_t port, unsigned size);
void bus_io_write(struct bus *bus, uint16_t port, uint32_t val, unsigned size);
/* MMIO: returns true if an MMIO region claimed the address. */
bool bus_mmio_read(struct bus *bus, uint64_t addr, unsigned size, uint32_t *val);
bool bus_mmio_write(struct bus *bus, uint64_t addr, uint32_t val, unsigned size);
bool bus_is_mmio(struct bus *bus, uint64_t addr);

#endif

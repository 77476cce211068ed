/* devices/bus.c - the port I/O and MMIO bus (implements devices/bus.h).
 *
 * Owns: the table of mapped regions, the 64K-entry port map and the sorted
 * MMIO list, the access-splitting rules and the once-per-port log of reads
 * from unmapped ports.
 * Invariants:
 * - io_map[port] is 0 for an unmapped port, else 1 + the index of the region
 *   in io[] that owns it; a region's ports are contiguous, so two ports with
 *   the same io_map value belong to one region at consecutive offsets.
 * - io[i].ports counts the ports that still point at region i; a region
 *   whose count drops to 0 is free (ops == NULL) and its slot is reused.
 * - mmio[] is sorted by base and its ranges never overlap.
 * - An access is passed whole to a device only if every byte falls in one
 *   region and the device is not byte_only; otherwise it is split into byte
 *   accesses (little endian), each routed on its own: a byte that hits no
 *   region reads 0xFF and its write is dropped. Port numbers wrap at 0xFFFF
 *   (as the address bus of an x86 I/O cycle does).
 */
#include "devices/bus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct io_region {
    const struct bus_ops *ops;   /* NULL: free slot                     */
    void *opaque;                /* passed to ops                       */
    uint16_t base;               /* first port                          */
    uint32_t ports;              /* ports still mapped to this region   */
};

struct mmio_region {
    uint64_t base;               /* first byte                          */
    uint64_t len;                /* length in bytes (> 0)               */
    const struct bus_ops *ops;   /* handlers                            */
    void *opaque;                /* passed to ops                       */
};

struct bus {
    uint16_t io_map[0x10000];    /* port -> 1 + region index, 0 = none  */
    uint8_t io_logged[0x10000 / 8]; /* unmapped ports already reported  */
    struct io_region *io;        /* port regions (slots)                */
    unsigned n_io, cap_io;       /* slots used, allocated               */
    struct mmio_region *mmio;    /* MMIO regions sorted by base         */
    unsigned n_mmio, cap_mmio;   /* used, allocated                     */
};

static uint32_t size_mask(unsigned size)
{
    return size >= 4 ? 0xFFFFFFFFu : ((1u << (8 * size)) - 1);
}

struct bus *bus_new(void)
{
    return calloc(1, sizeof(struct bus));
}

void bus_free(struct bus *bus)
{
    if (!bus) return;
    free(bus->io);
    free(bus->mmio);
    free(bus);
}

/* ---- port I/O ----------------------------------------------------------------- */

int bus_map_io(struct bus *bus, uint16_t base, uint32_t len,
               const struct bus_ops *ops, void *opaque)
{
    if (!bus || !ops || len == 0 || (uint32_t)base + len > 0x10000) return -1;
    for (uint32_t p = base; p < (uint32_t)base + len; p++)
        if (bus->io_map[p]) return -1;
    unsigned slot = 0;
    while (slot < bus->n_io && bus->io[slot].ops) slot++;
    if (slot == bus->n_io) {
        if (bus->n_io >= 0xFFFF) return -1;             /* index must fit io_map */
        if (bus->n_io == bus->cap_io) {
            unsigned cap = bus->cap_io ? bus->cap_io * 2 : 32;
            struct io_region *n = realloc(bus->io, cap * sizeof *n);
            if (!n) return -1;
            bus->io = n;
            bus->cap_io = cap;
        }
        bus->n_io++;
    }
    bus->io[slot] = (struct io_region){ .ops = ops, .opaque = opaque, .base = base, .ports = len };
    for (uint32_t p = base; p < (uint32_t)base + len; p++) bus->io_map[p] = (uint16_t)(slot + 1);
    return 0;
}

void bus_unmap_io(struct bus *bus, uint16_t base, uint32_t len)
{
    if (!bus) return;
    for (uint32_t p = base; p < (uint32_t)base + len && p < 0x10000; p++) {
        unsigned r = bus->io_map[p];
        if (!r) continue;
        bus->io_map[p] = 0;
        if (--bus->io[r - 1].ports == 0) bus->io[r - 1].ops = NULL;
    }
}

static void io_log_unmapped(struct bus *bus, uint16_t port)
{
    if (bus->io_logged[port >> 3] & (1u << (port & 7))) return;
    bus->io_logged[port >> 3] |= (uint8_t)(1u << (port & 7));
    fprintf(stderr, "bt86: unmapped I/O port 0x%04x read\n", port);
}

static uint8_t io_read_byte(struct bus *bus, uint16_t port)
{
    unsigned r = bus->io_map[port];
    if (!r) {
        io_log_unmapped(bus, port);
        return 0xFF;
    }
    const struct io_region *reg = &bus->io[r - 1];
    if (!reg->ops->read) return 0xFF;
    return (uint8_t)reg->ops->read(reg->opaque, (uint16_t)(port - reg->base), 1);
}

static void io_write_byte(struct bus *bus, uint16_t port, uint8_t val)
{
    unsigned r = bus->io_map[port];
    if (!r) return;
    const struct io_region *reg = &bus->io[r - 1];
    if (reg->ops->write) reg->ops->write(reg->opaque, (uint16_t)(port - reg->base), val, 1);
}

/* The region that can take the whole access natively, or NULL. */
static const struct io_region *io_whole(struct bus *bus, uint16_t port, unsigned size)
{
    unsigned r = bus->io_map[port];
    if (!r) return NULL;
    const struct io_region *reg = &bus->io[r - 1];
    if (size == 1) return reg;
    if (reg->ops->byte_only || (size != 2 && size != 4)) return NULL;
    if ((uint32_t)port + size - 1 > 0xFFFF) return NULL;
    if (bus->io_map[port + size - 1] != r) return NULL;   /* straddles */
    return reg;
}

uint32_t bus_io_read(struct bus *bus, uint16_t port, unsigned size)
{
    if (!bus || size == 0 || size > 4) return 0xFFFFFFFFu;
    const struct io_region *reg = io_whole(bus, port, size);
    if (reg) {
        if (!reg->ops->read) return size_mask(size);
        return reg->ops->read(reg->opaque, (uint16_t)(port - reg->base), size) & size_mask(size);
    }
    /* A wide read of ports that are all unmapped is logged once, by its port. */
    bool any = false;
    for (unsigned i = 0; i < size; i++) any |= bus->io_map[(uint16_t)(port + i)] != 0;
    if (!any) {
        io_log_unmapped(bus, port);
        return size_mask(size);
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)io_read_byte(bus, (uint16_t)(port + i)) << (8 * i);
    return v;
}

void bus_io_write(struct bus *bus, uint16_t port, uint32_t val, unsigned size)
{
    if (!bus || size == 0 || size > 4) return;
    const struct io_region *reg = io_whole(bus, port, size);
    if (reg) {
        if (reg->ops->write) reg->ops->write(reg->opaque, (uint16_t)(port - reg->base), val & size_mask(size), size);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        io_write_byte(bus, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)));
}

/* ---- MMIO --------------------------------------------------------------------- */

/* Index of the first region with base > addr. */
static unsigned mmio_upper(const struct bus *bus, uint64_t addr)
{
    unsigned lo = 0, hi = bus->n_mmio;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (bus->mmio[mid].base <= addr) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static const struct mmio_region *mmio_find(const struct bus *bus, uint64_t addr)
{
    unsigned i = mmio_upper(bus, addr);
    if (i == 0) return NULL;
    const struct mmio_region *r = &bus->mmio[i - 1];
    return addr - r->base < r->len ? r : NULL;
}

int bus_map_mmio(struct bus *bus, uint64_t base, uint64_t len,
                 const struct bus_ops *ops, void *opaque)
{
    if (!bus || !ops || len == 0 || base + len - 1 < base) return -1;
    unsigned i = mmio_upper(bus, base);
    if (i > 0) {
        const struct mmio_region *p = &bus->mmio[i - 1];
        if (base - p->base < p->len) return -1;
    }
    if (i < bus->n_mmio && bus->mmio[i].base <= base + len - 1) return -1;
    if (bus->n_mmio == bus->cap_mmio) {
        unsigned cap = bus->cap_mmio ? bus->cap_mmio * 2 : 16;
        struct mmio_region *n = realloc(bus->mmio, cap * sizeof *n);
        if (!n) return -1;
        bus->mmio = n;
        bus->cap_mmio = cap;
    }
    memmove(&bus->mmio[i + 1], &bus->mmio[i], (bus->n_mmio - i) * sizeof *bus->mmio);
    bus->mmio[i] = (struct mmio_region){ .base = base, .len = len, .ops = ops, .opaque = opaque };
    bus->n_mmio++;
    return 0;
}

void bus_unmap_mmio(struct bus *bus, uint64_t base, uint64_t len)
{
    if (!bus) return;
    for (unsigned i = 0; i < bus->n_mmio; i++) {
        if (bus->mmio[i].base == base && bus->mmio[i].len == len) {
            memmove(&bus->mmio[i], &bus->mmio[i + 1], (bus->n_mmio - i - 1) * sizeof *bus->mmio);
            bus->n_mmio--;
            return;
        }
    }
}

bool bus_is_mmio(struct bus *bus, uint64_t addr)
{
    return bus && mmio_find(bus, addr) != NULL;
}

static bool mmio_whole(const struct mmio_region *r, uint64_t addr, unsigned size)
{
    if (size == 1) return true;
    if (r->ops->byte_only || (size != 2 && size != 4)) return false;
    return addr - r->base + size <= r->len;
}

bool bus_mmio_read(struct bus *bus, uint64_t addr, unsigned size, uint32_t *val)
{
    if (!bus || size == 0 || size > 4) return false;
    const struct mmio_region *r = mmio_find(bus, addr);
    if (!r) return false;
    if (mmio_whole(r, addr, size)) {
        uint32_t v = r->ops->read ? r->ops->read(r->opaque, (uint32_t)(addr - r->base), size) : 0xFFFFFFFFu;
        if (val) *val = v & size_mask(size);
        return true;
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) {
        const struct mmio_region *b = mmio_find(bus, addr + i);
        uint32_t byte = 0xFF;
        if (b && b->ops->read) byte = b->ops->read(b->opaque, (uint32_t)(addr + i - b->base), 1) & 0xFF;
        v |= byte << (8 * i);
    }
    if (val) *val = v;
    return true;
}

bool bus_mmio_write(struct bus *bus, uint64_t addr, uint32_t val, unsigned size)
{
    if (!bus || size == 0 || size > 4) return false;
    const struct mmio_region *r = mmio_find(bus, addr);
    if (!r) return false;
    if (mmio_whole(r, addr, size)) {
        if (r->ops->write) r->ops->write(r->opaque, (uint32_t)(addr - r->base), val & size_mask(size), size);
        return true;
    }
    for (unsigned i = 0; i < size; i++) {
        const struct mmio_region *b = mmio_find(bus, addr + i);
        if (b && b->ops->write) b->ops->write(b->opaque, (uint32_t)(addr + i - b->base), (val >> (8 * i)) & 0xFF, 1);
    }
    return true;
}

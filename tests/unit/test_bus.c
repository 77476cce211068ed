/* tests/unit/test_bus.c - the port/MMIO bus: mapping and overlap rules,
 * unmapped reads (all ones, logged once), byte_only splitting, straddling
 * accesses, unmapping, MMIO lookup in the sorted list. */
#include "devices/bus.h"
#include "tests/unit/test.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A recording device: 256 bytes of registers plus a log of accesses. */
struct rec {
    uint8_t regs[256];       /* register file                */
    unsigned n;              /* accesses recorded            */
    uint32_t off[64];        /* offset of each access        */
    unsigned size[64];       /* size of each access          */
    char kind[64];           /* 'r' or 'w'                   */
};

static void rec_log(struct rec *r, char k, uint32_t off, unsigned size)
{
    if (r->n < 64) { r->kind[r->n] = k; r->off[r->n] = off; r->size[r->n] = size; }
    r->n++;
}
static uint32_t rec_read(void *o, uint32_t off, unsigned size)
{
    struct rec *r = o;
    rec_log(r, 'r', off, size);
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint32_t)r->regs[(off + i) & 0xFF] << (8 * i);
    return v;
}
static void rec_write(void *o, uint32_t off, uint32_t val, unsigned size)
{
    struct rec *r = o;
    rec_log(r, 'w', off, size);
    for (unsigned i = 0; i < size; i++) r->regs[(off + i) & 0xFF] = (uint8_t)(val >> (8 * i));
}
static const struct bus_ops rec_ops = { .name = "rec", .read = rec_read, .write = rec_write };
static const struct bus_ops rec_byte_ops = { .name = "recb", .read = rec_read, .write = rec_write, .byte_only = true };

static void test_map_overlap(void)
{
    struct bus *b = bus_new();
    struct rec a = {0}, c = {0};
    EXPECT_EQ(bus_map_io(b, 0x3F8, 8, &rec_ops, &a), 0);
    EXPECT_EQ(bus_map_io(b, 0x3FF, 1, &rec_ops, &c), -1);   /* last port overlaps */
    EXPECT_EQ(bus_map_io(b, 0x3F0, 9, &rec_ops, &c), -1);   /* first port overlaps */
    EXPECT_EQ(bus_map_io(b, 0x3F0, 8, &rec_ops, &c), 0);    /* adjacent is fine */
    EXPECT_EQ(bus_map_io(b, 0xFFFF, 2, &rec_ops, &c), -1);  /* past the port space */
    EXPECT_EQ(bus_map_io(b, 0x100, 0, &rec_ops, &c), -1);   /* empty */
    EXPECT_EQ(bus_map_io(b, 0xFFFF, 1, &rec_ops, &c), 0);
    bus_free(b);
}

static void test_io_offsets_and_sizes(void)
{
    struct bus *b = bus_new();
    struct rec a = {0};
    EXPECT_EQ(bus_map_io(b, 0xCF8, 8, &rec_ops, &a), 0);
    bus_io_write(b, 0xCF8, 0x80001234, 4);
    EXPECT_EQ(a.n, 1);
    EXPECT_EQ(a.off[0], 0);
    EXPECT_EQ(a.size[0], 4);
    EXPECT_EQ(bus_io_read(b, 0xCF8, 4), 0x80001234);
    EXPECT_EQ(bus_io_read(b, 0xCFA, 2), 0x8000);
    EXPECT_EQ(a.off[2], 2);
    EXPECT_EQ(a.size[2], 2);
    EXPECT_EQ(bus_io_read(b, 0xCF9, 1), 0x12);
    bus_free(b);
}

static void test_unmapped_all_ones_logged_once(void)
{
    struct bus *b = bus_new();
    /* Capture stderr in a temporary file. */
    char path[] = "/tmp/bt86-bus-XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    EXPECT_EQ(bus_io_read(b, 0x2E8, 1), 0xFF);
    EXPECT_EQ(bus_io_read(b, 0x2E8, 2), 0xFFFF);
    EXPECT_EQ(bus_io_read(b, 0x2E8, 4), 0xFFFFFFFF);
    EXPECT_EQ(bus_io_read(b, 0x3E8, 1), 0xFF);
    bus_io_write(b, 0x2E8, 0x12, 1);              /* ignored, no crash */
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char buf[512] = "";
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    unlink(path);
    EXPECT(n > 0);
    const char *first = strstr(buf, "bt86: unmapped I/O port 0x02e8 read");
    EXPECT(first != NULL);
    if (first) EXPECT(strstr(first + 30, "0x02e8") == NULL);  /* once only */
    EXPECT(strstr(buf, "bt86: unmapped I/O port 0x03e8 read") != NULL);
    bus_free(b);
}

static void test_byte_only_split(void)
{
    struct bus *b = bus_new();
    struct rec a = {0};
    EXPECT_EQ(bus_map_io(b, 0x1F0, 8, &rec_byte_ops, &a), 0);
    bus_io_write(b, 0x1F2, 0xAABBCCDD, 4);
    EXPECT_EQ(a.n, 4);
    for (unsigned i = 0; i < 4; i++) {
        EXPECT_EQ(a.off[i], 2 + i);
        EXPECT_EQ(a.size[i], 1);
        EXPECT_EQ(a.kind[i], 'w');
    }
    EXPECT_EQ(a.regs[2], 0xDD);     /* little endian */
    EXPECT_EQ(a.regs[5], 0xAA);
    EXPECT_EQ(bus_io_read(b, 0x1F3, 2), 0xBBCC);
    EXPECT_EQ(a.n, 6);
    EXPECT_EQ(a.size[5], 1);
    bus_free(b);
}

static void test_straddle_split(void)
{
    struct bus *b = bus_new();
    struct rec lo = {0}, hi = {0};
    EXPECT_EQ(bus_map_io(b, 0x60, 2, &rec_ops, &lo), 0);
    EXPECT_EQ(bus_map_io(b, 0x62, 2, &rec_ops, &hi), 0);
    lo.regs[1] = 0x11;
    hi.regs[0] = 0x22;
    /* word at 0x61: byte 0x61 from lo (offset 1), byte 0x62 from hi (offset 0) */
    EXPECT_EQ(bus_io_read(b, 0x61, 2), 0x2211);
    EXPECT_EQ(lo.n, 1);
    EXPECT_EQ(lo.size[0], 1);
    EXPECT_EQ(hi.off[0], 0);
    /* dword at 0x62 reaches two unmapped ports: they read 0xFF */
    EXPECT_EQ(bus_io_read(b, 0x62, 4), 0xFFFF0022);
    /* a write straddling into nothing only reaches the mapped byte */
    bus_io_write(b, 0x63, 0x5566, 2);
    EXPECT_EQ(hi.regs[1], 0x66);
    /* wrap at the top of the port space reads port 0 */
    struct rec z = {0};
    z.regs[0] = 0x77;
    EXPECT_EQ(bus_map_io(b, 0x0, 1, &rec_ops, &z), 0);
    EXPECT_EQ(bus_io_read(b, 0xFFFF, 2), 0x77FF);
    bus_free(b);
}

static void test_unmap_and_remap(void)
{
    struct bus *b = bus_new();
    struct rec a = {0}, c = {0};
    a.regs[0] = 1;
    c.regs[0] = 2;
    EXPECT_EQ(bus_map_io(b, 0x70, 2, &rec_ops, &a), 0);
    EXPECT_EQ(bus_io_read(b, 0x70, 1), 1);
    bus_unmap_io(b, 0x70, 2);
    EXPECT_EQ(bus_io_read(b, 0x70, 1), 0xFF);
    EXPECT_EQ(bus_map_io(b, 0x70, 2, &rec_ops, &c), 0);
    EXPECT_EQ(bus_io_read(b, 0x70, 1), 2);
    /* Many map/unmap cycles reuse slots (no growth without bound). */
    for (int i = 0; i < 100000; i++) {
        EXPECT_EQ(bus_map_io(b, 0x300, 4, &rec_ops, &a), 0);
        bus_unmap_io(b, 0x300, 4);
    }
    EXPECT_EQ(bus_io_read(b, 0x300, 1), 0xFF);
    bus_free(b);
}

static void test_null_handlers(void)
{
    struct bus *b = bus_new();
    static const struct bus_ops wo = { .name = "write-only" };
    EXPECT_EQ(bus_map_io(b, 0x80, 1, &wo, NULL), 0);
    EXPECT_EQ(bus_io_read(b, 0x80, 1), 0xFF);
    bus_io_write(b, 0x80, 0x55, 1);    /* no handler: dropped, no crash */
    EXPECT_EQ(bus_io_read(b, 0x80, 7), 0xFFFFFFFF);   /* bad size */
    bus_free(b);
}

static void test_mmio_sorted_lookup(void)
{
    struct bus *b = bus_new();
    struct rec r[5];
    memset(r, 0, sizeof r);
    /* map out of order */
    EXPECT_EQ(bus_map_mmio(b, 0xFEE00000, 0x1000, &rec_ops, &r[0]), 0);
    EXPECT_EQ(bus_map_mmio(b, 0xA0000, 0x20000, &rec_ops, &r[1]), 0);
    EXPECT_EQ(bus_map_mmio(b, 0xFEC00000, 0x100, &rec_ops, &r[2]), 0);
    EXPECT_EQ(bus_map_mmio(b, 0xE0000000, 0x1000000, &rec_ops, &r[3]), 0);
    EXPECT_EQ(bus_map_mmio(b, 0xFEC000FF, 2, &rec_ops, &r[4]), -1);  /* overlaps */
    EXPECT_EQ(bus_map_mmio(b, 0x9FFFF, 2, &rec_ops, &r[4]), -1);
    EXPECT_EQ(bus_map_mmio(b, 0xFFFFFFFFFFFFFFF0ull, 0x100, &rec_ops, &r[4]), -1); /* wraps */
    EXPECT(bus_is_mmio(b, 0xA0000));
    EXPECT(bus_is_mmio(b, 0xBFFFF));
    EXPECT(!bus_is_mmio(b, 0xC0000));
    EXPECT(!bus_is_mmio(b, 0x9FFFF));
    EXPECT(bus_is_mmio(b, 0xFEE00FFF));
    EXPECT(!bus_is_mmio(b, 0xFEC00100));
    EXPECT(bus_mmio_write(b, 0xFEE000B0, 0xDEADBEEF, 4));
    EXPECT_EQ(r[0].off[0], 0xB0);
    EXPECT_EQ(r[0].size[0], 4);
    uint32_t v = 0;
    EXPECT(bus_mmio_read(b, 0xFEE000B0, 2, &v));
    EXPECT_EQ(v, 0xBEEF);
    EXPECT(!bus_mmio_read(b, 0x100000, 4, &v));
    EXPECT(!bus_mmio_write(b, 0x100000, 1, 4));
    bus_unmap_mmio(b, 0xA0000, 0x20000);
    EXPECT(!bus_is_mmio(b, 0xA0000));
    EXPECT(bus_is_mmio(b, 0xE0000000));
    bus_free(b);
}

static void test_mmio_straddle_and_byte_only(void)
{
    struct bus *b = bus_new();
    struct rec a = {0}, c = {0};
    EXPECT_EQ(bus_map_mmio(b, 0x1000, 0x10, &rec_ops, &a), 0);
    EXPECT_EQ(bus_map_mmio(b, 0x1010, 0x10, &rec_byte_ops, &c), 0);
    EXPECT(bus_mmio_write(b, 0x100E, 0x44332211, 4));
    EXPECT_EQ(a.regs[0xE], 0x11);
    EXPECT_EQ(a.regs[0xF], 0x22);
    EXPECT_EQ(c.regs[0], 0x33);
    EXPECT_EQ(c.regs[1], 0x44);
    EXPECT_EQ(a.n, 2);
    EXPECT_EQ(a.size[0], 1);
    uint32_t v = 0;
    EXPECT(bus_mmio_read(b, 0x1010, 4, &v));       /* byte_only: 4 byte reads */
    EXPECT_EQ(v & 0xFFFF, 0x4433);
    EXPECT_EQ(c.n, 2 + 4);
    EXPECT(bus_mmio_read(b, 0x101E, 4, &v));       /* runs off the end: 0xFF */
    EXPECT_EQ(v >> 16, 0xFFFF);
    bus_free(b);
}

int main(void)
{
    RUN(test_map_overlap);
    RUN(test_io_offsets_and_sizes);
    RUN(test_unmapped_all_ones_logged_once);
    RUN(test_byte_only_split);
    RUN(test_straddle_split);
    RUN(test_unmap_and_remap);
    RUN(test_null_handlers);
    RUN(test_mmio_sorted_lookup);
    RUN(test_mmio_straddle_and_byte_only);
    return test_summary();
}

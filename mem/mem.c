/* mem/mem.c - guest physical memory: RAM in one memfd, ROM copies, MMIO.
 *
 * Invariants: RAM is [0, ram_size) minus holes; a hole or any address past
 * RAM is ROM (if a ROM region covers it), else MMIO through the bus, else
 * open bus (reads all ones, writes dropped). ROM is never writable by the
 * guest. Page lookups are O(regions); there are only a handful.
 * Shadow RAM (PAM): inside a hole in C0000-FFFFF, a 16 KiB segment whose
 * mode has MEM_PAM_READ reads the RAM bytes at that address, and one with
 * MEM_PAM_WRITE writes them (Intel 82441FX PMC datasheet, PAM[6:0] at 59h-5Fh:
 * RE and WE per segment); is_ram() is the one place that decides, so the
 * host-pointer path, the byte path and DMA agree, and every RAM write,
 * shadow RAM included, goes through note_write() (the code watch).
 */
#include "mem/mem.h"
#include "devices/bus.h"
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>

#define MAX_ROMS  8
#define MAX_HOLES 8
#define PAM_SHIFT 14                     /* 16 KiB shadow RAM segments */
#define PAM_NSEG ((MEM_PAM_END - MEM_PAM_BASE) >> PAM_SHIFT)

struct rom_region { uint64_t base, len; uint8_t *data; };
struct hole { uint64_t base, len; };

struct mem {
    uint8_t *ram;                 /* host mapping of the memfd           */
    uint64_t ram_size;            /* bytes                               */
    int fd;                       /* the memfd                           */
    struct bus *bus;              /* MMIO dispatch, may be NULL          */
    struct rom_region rom[MAX_ROMS];
    int nrom;
    struct hole hole[MAX_HOLES];
    int nhole;
    uint8_t pam[PAM_NSEG];        /* MEM_PAM_* per 16 KiB of C0000-FFFFF */
    /* pages holding translated code (translator/): writes by anyone but
     * translated code are reported so stale translations are dropped */
    const uint8_t *code_bits;     /* 1 bit per 4 KiB RAM page, or NULL   */
    void (*code_written)(void *opaque, uint64_t pa, uint64_t len);
    void *code_opaque;
};

struct mem *mem_new(uint64_t ram_bytes)
{
    if (ram_bytes == 0 || (ram_bytes & 0xFFF)) { errno = EINVAL; return NULL; }
    struct mem *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->fd = memfd_create("bt86-ram", MFD_CLOEXEC);
    if (m->fd < 0 || ftruncate(m->fd, (off_t)ram_bytes) < 0) goto fail;
    m->ram = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
    if (m->ram == MAP_FAILED) goto fail;
    m->ram_size = ram_bytes;
    return m;
fail:
    if (m->fd >= 0) close(m->fd);
    free(m);
    return NULL;
}

void mem_free(struct mem *m)
{
    if (!m) return;
    for (int i = 0; i < m->nrom; i++) free(m->rom[i].data);
    munmap(m->ram, m->ram_size);
    close(m->fd);
    free(m);
}

void mem_set_bus(struct mem *m, struct bus *bus) { m->bus = bus; }
uint8_t *mem_ram(struct mem *m) { return m->ram; }
uint64_t mem_ram_size(struct mem *m) { return m->ram_size; }
int mem_ram_fd(struct mem *m) { return m->fd; }

int mem_map_rom(struct mem *m, uint64_t base, const void *data, uint64_t len)
{
    if (m->nrom == MAX_ROMS || len == 0) return -1;
    uint8_t *copy = malloc(len);
    if (!copy) return -1;
    memcpy(copy, data, len);
    m->rom[m->nrom++] = (struct rom_region){ base, len, copy };
    if (base < m->ram_size) mem_add_hole(m, base, len);
    return 0;
}

void mem_add_hole(struct mem *m, uint64_t base, uint64_t len)
{
    if (m->nhole < MAX_HOLES) m->hole[m->nhole++] = (struct hole){ base, len };
}

static bool in_hole(const struct mem *m, uint64_t pa)
{
    for (int i = 0; i < m->nhole; i++)
        if (pa - m->hole[i].base < m->hole[i].len) return true;
    return false;
}

unsigned mem_pam_mode(const struct mem *m, uint64_t pa)
{
    return pa - MEM_PAM_BASE < MEM_PAM_END - MEM_PAM_BASE ?
        m->pam[(pa - MEM_PAM_BASE) >> PAM_SHIFT] : 0;
}

int mem_set_pam(struct mem *m, uint64_t base, uint64_t len, unsigned mode)
{
    const uint64_t seg = 1u << PAM_SHIFT;
    if (m->ram_size < MEM_PAM_END || base < MEM_PAM_BASE || len == 0 || len > MEM_PAM_END - base ||
        (base | len) & (seg - 1) || mode > (MEM_PAM_READ | MEM_PAM_WRITE))
        return -1;
    for (uint64_t a = base; a < base + len; a += seg) m->pam[(a - MEM_PAM_BASE) >> PAM_SHIFT] = (uint8_t)mode;
    return 0;
}

/* Does RAM back `pa` for a read (write = false) or a write? */
static inline bool is_ram(const struct mem *m, uint64_t pa, bool write)
{
    if (pa >= m->ram_size) return false;
    if (!in_hole(m, pa)) return true;
    return mem_pam_mode(m, pa) & (write ? MEM_PAM_WRITE : MEM_PAM_READ);
}

static const struct rom_region *find_rom(const struct mem *m, uint64_t pa)
{
    for (int i = 0; i < m->nrom; i++)
        if (pa - m->rom[i].base < m->rom[i].len) return &m->rom[i];
    return NULL;
}

void mem_set_code_watch(struct mem *m, const uint8_t *bits,
                        void (*written)(void *opaque, uint64_t pa, uint64_t len), void *opaque)
{
    m->code_bits = bits;
    m->code_written = written;
    m->code_opaque = opaque;
}

static inline bool is_code_page(const struct mem *m, uint64_t pa)
{
    uint64_t pfn = pa >> 12;
    return m->code_bits && pa < m->ram_size && (m->code_bits[pfn >> 3] >> (pfn & 7)) & 1;
}

static void note_write(struct mem *m, uint64_t pa, uint64_t len)
{
    if (is_code_page(m, pa) || (len > 1 && is_code_page(m, pa + len - 1)) ||
        (m->code_bits && len > 4096))
        m->code_written(m->code_opaque, pa, len);
}

uint8_t *mem_host_page(struct mem *m, uint64_t pa, bool write)
{
    uint64_t page = pa & ~0xFFFull;
    if (is_ram(m, page, write)) return write && is_code_page(m, page) ? NULL : m->ram + page;
    if (!write) {
        const struct rom_region *r = find_rom(m, page);
        if (r && page >= r->base && page + 4096 <= r->base + r->len)
            return r->data + (page - r->base);
    }
    return NULL;
}

static uint8_t read_byte_slow(struct mem *m, uint64_t pa)
{
    if (is_ram(m, pa, false)) return m->ram[pa];
    const struct rom_region *r = find_rom(m, pa);
    if (r) return r->data[pa - r->base];
    uint32_t v;
    if (m->bus && bus_mmio_read(m->bus, pa, 1, &v)) return (uint8_t)v;
    return 0xFF;
}

static void write_byte_slow(struct mem *m, uint64_t pa, uint8_t v)
{
    if (is_ram(m, pa, true)) { m->ram[pa] = v; note_write(m, pa, 1); return; }
    if (find_rom(m, pa)) return;
    if (m->bus) (void)bus_mmio_write(m->bus, pa, v, 1);
}

uint64_t mem_read_phys(struct mem *m, uint64_t pa, unsigned size)
{
    /* fast path: RAM, within one page */
    if ((pa & 0xFFF) + size <= 4096) {
        uint8_t *p = mem_host_page(m, pa, false);
        if (p) {
            uint64_t v = 0;
            memcpy(&v, p + (pa & 0xFFF), size);
            return v;
        }
        uint32_t v32;
        if (m->bus && size <= 4 && bus_is_mmio(m->bus, pa) && bus_mmio_read(m->bus, pa, size, &v32))
            return v32;
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint64_t)read_byte_slow(m, pa + i) << (8 * i);
    return v;
}

void mem_write_phys(struct mem *m, uint64_t pa, uint64_t val, unsigned size)
{
    if ((pa & 0xFFF) + size <= 4096) {
        uint8_t *p = mem_host_page(m, pa, true);
        if (p) { memcpy(p + (pa & 0xFFF), &val, size); return; }
        if (m->bus && size <= 4 && bus_is_mmio(m->bus, pa) && bus_mmio_write(m->bus, pa, (uint32_t)val, size))
            return;
    }
    for (unsigned i = 0; i < size; i++) write_byte_slow(m, pa + i, (uint8_t)(val >> (8 * i)));
}

int mem_read_bytes(struct mem *m, uint64_t pa, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len) {
        size_t chunk = 4096 - (pa & 0xFFF);
        if (chunk > len) chunk = len;
        uint8_t *p = mem_host_page(m, pa, false);
        if (!p) return -1;
        memcpy(out, p + (pa & 0xFFF), chunk);
        out += chunk; pa += chunk; len -= chunk;
    }
    return 0;
}

int mem_write_bytes(struct mem *m, uint64_t pa, const void *buf, size_t len)
{
    const uint8_t *in = buf;
    while (len) {
        size_t chunk = 4096 - (pa & 0xFFF);
        if (chunk > len) chunk = len;
        if (!is_ram(m, pa, true)) return -1;   /* not RAM (ROM is not writable) */
        memcpy(m->ram + pa, in, chunk);
        note_write(m, pa, chunk);
        in += chunk; pa += chunk; len -= chunk;
    }
    return 0;
}

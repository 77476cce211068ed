/* monitor/boot_multiboot.c - loading a Multiboot (version 1) kernel.
 *
 * Owns: parsing the Multiboot header (in the first 8 KiB, 4-byte aligned,
 * magic 0x1BADB002, checksum), loading an ELF32 image by its PT_LOAD
 * program headers or an a.out-kludge image by the header's address fields,
 * building the Multiboot information structure (memory sizes, command line,
 * memory map, boot loader name), and the machine state the specification
 * requires (Multiboot 0.6.96 sec. 3.2): EAX = 0x2BADB002, EBX = info,
 * flat 32-bit CS and data segments, PE=1, PG=0, IF=0, A20 on.
 * Every offset and size read from the file is bounds-checked: a malformed
 * kernel gets an error naming the file and the problem, never a crash.
 */
#include "monitor/machine.h"
#include "cpu/cpu.h"
#include "mem/mem.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>

#define MB_MAGIC      0x1BADB002u
#define MB_BOOT_MAGIC 0x2BADB002u
#define MB_INFO_ADDR  0x9000u     /* the info block, command line and map */
#define MB_GDT_ADDR   0x8F00u     /* a flat GDT for kernels that keep ours */

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static void wr32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24); }

static int read_file(const char *path, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, errlen, "%s: %s", path, strerror(errno)); return -1; }
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); snprintf(err, errlen, "%s: cannot seek", path); return -1; }
    long n = ftell(f);
    if (n <= 0 || n > (1l << 30)) { fclose(f); snprintf(err, errlen, "%s: empty or larger than 1 GiB", path); return -1; }
    rewind(f);
    *data = malloc((size_t)n);
    if (!*data || fread(*data, 1, (size_t)n, f) != (size_t)n) {
        free(*data); fclose(f);
        snprintf(err, errlen, "%s: read error", path);
        return -1;
    }
    fclose(f);
    *len = (size_t)n;
    return 0;
}

/* copy into guest RAM, checking that [pa, pa+len) is RAM */
static int put(struct mem *mem, uint64_t pa, const void *src, size_t len, const char *path, char *err, size_t errlen)
{
    if (pa + len > mem_ram_size(mem) || (pa < 0x100000 && pa + len > 0xA0000) || mem_write_bytes(mem, pa, src, len)) {
        snprintf(err, errlen, "%s: a segment at 0x%llx (+0x%zx bytes) does not fit in guest RAM (use -m)",
                 path, (unsigned long long)pa, len);
        return -1;
    }
    return 0;
}

static int zero(struct mem *mem, uint64_t pa, size_t len, const char *path, char *err, size_t errlen)
{
    if (!len) return 0;
    uint8_t *z = calloc(1, len);
    if (!z) { snprintf(err, errlen, "out of memory"); return -1; }
    int r = put(mem, pa, z, len, path, err, errlen);
    free(z);
    return r;
}

static int load_elf(struct mem *mem, const uint8_t *d, size_t n, const char *path, uint32_t *entry,
                    uint32_t *hi, char *err, size_t errlen)
{
    if (n < 52 || d[4] != 1 || d[5] != 1 || rd16(d + 18) != 3) {
        snprintf(err, errlen, "%s: not a 32-bit little-endian i386 ELF file (and no a.out kludge in the Multiboot header)", path);
        return -1;
    }
    uint32_t phoff = rd32(d + 28);
    uint16_t phentsize = rd16(d + 42), phnum = rd16(d + 44);
    if (phentsize < 32 || (uint64_t)phoff + (uint64_t)phnum * phentsize > n) {
        snprintf(err, errlen, "%s: program headers lie outside the file", path);
        return -1;
    }
    int loaded = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = d + phoff + (size_t)i * phentsize;
        if (rd32(ph) != 1) continue;                       /* PT_LOAD */
        uint32_t off = rd32(ph + 4), pa = rd32(ph + 12), fsz = rd32(ph + 16), msz = rd32(ph + 20);
        if ((uint64_t)off + fsz > n || fsz > msz) {
            snprintf(err, errlen, "%s: program header %u points outside the file", path, i);
            return -1;
        }
        if (put(mem, pa, d + off, fsz, path, err, errlen) || zero(mem, (uint64_t)pa + fsz, msz - fsz, path, err, errlen))
            return -1;
        if ((uint64_t)pa + msz > *hi) *hi = pa + msz;
        loaded++;
    }
    if (!loaded) { snprintf(err, errlen, "%s: no loadable segment", path); return -1; }
    *entry = rd32(d + 24);
    return 0;
}

int machine_boot_multiboot(struct machine *m, const char *path, const char *cmdline, char *err, size_t errlen)
{
    uint8_t *d;
    size_t n;
    if (read_file(path, &d, &n, err, errlen)) return -1;
    struct mem *mem = machine_mem(m);
    size_t hdr = (size_t)-1;
    for (size_t o = 0; o + 12 <= n && o < 8192; o += 4)
        if (rd32(d + o) == MB_MAGIC && rd32(d + o) + rd32(d + o + 4) + rd32(d + o + 8) == 0) { hdr = o; break; }
    if (hdr == (size_t)-1) {
        free(d);
        snprintf(err, errlen, "%s: no Multiboot header (magic 0x1BADB002 with a valid checksum) in the first 8 KiB", path);
        return -1;
    }
    uint32_t flags = rd32(d + hdr + 4), entry = 0, hi = 0;
    if (flags & 0xFFF8u & 0xFFFF) {
        free(d);
        snprintf(err, errlen, "%s: the Multiboot header requires features bt86 does not provide (flags 0x%x)", path, flags);
        return -1;
    }
    int rc;
    if (flags & 0x10000) {
        if (hdr + 32 > n) { free(d); snprintf(err, errlen, "%s: truncated Multiboot header", path); return -1; }
        uint32_t header_addr = rd32(d + hdr + 12), load_addr = rd32(d + hdr + 16);
        uint32_t load_end = rd32(d + hdr + 20), bss_end = rd32(d + hdr + 24);
        entry = rd32(d + hdr + 28);
        if (header_addr < load_addr || header_addr - load_addr > hdr) {
            free(d); snprintf(err, errlen, "%s: inconsistent a.out-kludge addresses", path); return -1;
        }
        size_t foff = hdr - (header_addr - load_addr);
        size_t len = load_end ? (size_t)(load_end - load_addr) : n - foff;
        if (load_end && load_end < load_addr) { free(d); snprintf(err, errlen, "%s: load_end_addr below load_addr", path); return -1; }
        if (foff + len > n) { free(d); snprintf(err, errlen, "%s: the image is shorter than its header says", path); return -1; }
        rc = put(mem, load_addr, d + foff, len, path, err, errlen);
        hi = load_addr + (uint32_t)len;
        if (!rc && bss_end > hi) { rc = zero(mem, hi, bss_end - hi, path, err, errlen); hi = bss_end; }
    } else {
        rc = load_elf(mem, d, n, path, &entry, &hi, err, errlen);
    }
    free(d);
    if (rc) return -1;

    /* the information structure, then the command line, name and memory map */
    uint8_t info[0x400];
    memset(info, 0, sizeof info);
    uint64_t ram = mem_ram_size(mem);
    uint32_t p = 0x80;
    const char *name = "bt86";
    const char *cl = cmdline ? cmdline : "";
    size_t cl_len = strlen(cl) + 1;
    if (cl_len > 0x200) { snprintf(err, errlen, "kernel command line longer than 511 bytes"); return -1; }
    memcpy(info + p, cl, cl_len);
    wr32(info + 16, MB_INFO_ADDR + p);
    p += (uint32_t)((cl_len + 3) & ~3u);
    memcpy(info + p, name, strlen(name) + 1);
    wr32(info + 64, MB_INFO_ADDR + p);
    p += 8;
    uint32_t map = p;
    struct { uint64_t base, len; uint32_t type; } ent[3] = {
        { 0, 0x9F000, 1 }, { 0xF0000, 0x10000, 2 }, { 0x100000, ram - 0x100000, 1 } };
    for (int i = 0; i < 3; i++) {
        wr32(info + p, 20);
        wr32(info + p + 4, (uint32_t)ent[i].base); wr32(info + p + 8, (uint32_t)(ent[i].base >> 32));
        wr32(info + p + 12, (uint32_t)ent[i].len); wr32(info + p + 16, (uint32_t)(ent[i].len >> 32));
        wr32(info + p + 20, ent[i].type);
        p += 24;
    }
    wr32(info + 0, 0x1 | 0x4 | 0x8 | 0x40 | 0x200);   /* mem, cmdline, mods, mmap, loader name */
    wr32(info + 4, 639);
    wr32(info + 8, (uint32_t)((ram - 0x100000) >> 10));
    wr32(info + 20, 0);
    wr32(info + 24, MB_INFO_ADDR + p);
    wr32(info + 44, 3 * 24);
    wr32(info + 48, MB_INFO_ADDR + map);
    (void)hi;
    if (put(mem, MB_INFO_ADDR, info, sizeof info, path, err, errlen)) return -1;
    /* flat GDT: null, code 0x08, data 0x10 */
    static const uint8_t gdt[24] = { 0, 0, 0, 0, 0, 0, 0, 0,
                                     0xFF, 0xFF, 0, 0, 0, 0x9B, 0xCF, 0,
                                     0xFF, 0xFF, 0, 0, 0, 0x93, 0xCF, 0 };
    if (put(mem, MB_GDT_ADDR, gdt, sizeof gdt, path, err, errlen)) return -1;

    struct cpu *c = machine_cpu(m);
    c->cr[0] = (c->cr[0] | 1) & ~0x80000000u;
    c->gdtr.base = MB_GDT_ADDR;
    c->gdtr.limit = 23;
    for (int s = 0; s < 6; s++) c->seg[s] = (struct seg){ 0x10, 0, 0xFFFFFFFFu, 0xC93 };
    c->seg[SEG_CS] = (struct seg){ 0x08, 0, 0xFFFFFFFFu, 0xC9B };
    c->cpl = 0;
    c->eflags = 0x2;
    c->eip = entry;
    c->r[R_EAX] = MB_BOOT_MAGIC;
    c->r[R_EBX] = MB_INFO_ADDR;
    cpu_tlb_flush(c);
    return 0;
}

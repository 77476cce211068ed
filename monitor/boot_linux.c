/* monitor/boot_linux.c - Linux boot protocol 2.x: setup header checks and
 * the memory layout (boot.rst "THE REAL-MODE KERNEL HEADER" and "LOADING
 * THE REST OF THE KERNEL"). Layout: real-mode code at 0x90000, heap to
 * 0x9DE00, stack top 0x9E000, command line at 0x9E000 (the EBDA starts at
 * 0x9F000), protected-mode kernel at 0x100000, initrd page-aligned as high
 * as initrd_addr_max and RAM allow. Nothing here touches guest memory.
 */
#include "monitor/boot_linux.h"
#include <stdio.h>
#include <string.h>

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }

int linux_prepare(uint8_t *img, size_t len, const char *name, uint64_t ram_bytes,
                  size_t initrd_len, size_t cmdline_len, struct linux_layout *out,
                  char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len < 0x250 || memcmp(img + 0x202, "HdrS", 4) != 0) {
        snprintf(err, errlen, "%s: not a Linux bzImage (no \"HdrS\" setup header at offset 0x202)", name);
        return -1;
    }
    uint16_t proto = rd16(img + 0x206);
    out->protocol = proto;
    if (proto < 0x202) {
        snprintf(err, errlen, "%s: Linux boot protocol %u.%02u is too old (2.02 or later needed)",
                 name, proto >> 8, proto & 0xFF);
        return -1;
    }
    if (!(img[0x211] & 0x01)) {
        snprintf(err, errlen, "%s: a zImage (loaded low) is not supported; use a bzImage", name);
        return -1;
    }
    unsigned setup_sects = img[0x1F1] ? img[0x1F1] : 4;
    size_t setup_len = (size_t)(setup_sects + 1) * 512;
    if (setup_len > LINUX_HEAP_END - 0x200) {
        snprintf(err, errlen, "%s: setup code of %zu bytes is too large", name, setup_len);
        return -1;
    }
    if (len <= setup_len) {
        snprintf(err, errlen, "%s: truncated: %zu bytes, but the setup code alone is %zu bytes", name, len, setup_len);
        return -1;
    }
    uint32_t syssize = proto >= 0x204 ? rd32(img + 0x1F4) : 0;
    size_t kernel_len = len - setup_len;
    if (syssize && (uint64_t)syssize * 16 > kernel_len) {
        snprintf(err, errlen, "%s: truncated: the header says %llu bytes of kernel, the file has %zu",
                 name, (unsigned long long)syssize * 16, kernel_len);
        return -1;
    }
    uint64_t kernel_need = kernel_len;
    if (proto >= 0x20A && rd32(img + 0x260) > kernel_need) kernel_need = rd32(img + 0x260);   /* init_size */
    if (LINUX_KERNEL_ADDR + kernel_need > ram_bytes) {
        snprintf(err, errlen, "%s: the kernel needs %llu KiB above 1 MiB but the machine has %llu MiB of RAM",
                 name, (unsigned long long)(kernel_need >> 10), (unsigned long long)(ram_bytes >> 20));
        return -1;
    }
    size_t cmd_max = proto >= 0x206 ? rd32(img + 0x238) : 255;
    if (cmd_max > LINUX_CMDLINE_MAX - 1) cmd_max = LINUX_CMDLINE_MAX - 1;
    if (cmdline_len > cmd_max) {
        snprintf(err, errlen, "%s: the command line is %zu bytes; this kernel accepts at most %zu",
                 name, cmdline_len, cmd_max);
        return -1;
    }
    if (initrd_len) {
        uint64_t max = proto >= 0x203 ? rd32(img + 0x22C) : 0x37FFFFFF;
        if (max > ram_bytes - 1) max = ram_bytes - 1;
        uint64_t lo = (LINUX_KERNEL_ADDR + kernel_need + 0xFFF) & ~0xFFFull;
        if (initrd_len > max + 1 || ((max + 1 - initrd_len) & ~0xFFFull) < lo) {
            snprintf(err, errlen, "initrd of %zu KiB does not fit between the kernel (ends at 0x%llx) and "
                     "0x%llx (initrd_addr_max or RAM): use more RAM (-m) or a smaller initrd",
                     initrd_len >> 10, (unsigned long long)lo, (unsigned long long)max + 1);
            return -1;
        }
        out->initrd_addr = (uint32_t)((max + 1 - initrd_len) & ~0xFFFull);
    }
    /* fill the header (boot.rst: fields marked "write") */
    img[0x210] = 0xFF;                                   /* type_of_loader: undefined */
    img[0x211] = (uint8_t)((img[0x211] | 0x80) & ~0x20); /* CAN_USE_HEAP; keep QUIET off */
    wr16(img + 0x1FA, 0xFFFF);                           /* vid_mode: normal */
    wr16(img + 0x224, LINUX_HEAP_END);                   /* heap_end_ptr: stack top - 0x200 */
    if (proto >= 0x202) wr32(img + 0x228, LINUX_SETUP_SEG * 16 + LINUX_CMDLINE_OFF);
    wr32(img + 0x218, out->initrd_addr);
    wr32(img + 0x21C, (uint32_t)initrd_len);
    out->setup_len = setup_len;
    out->kernel_off = setup_len;
    out->kernel_len = kernel_len;
    return 0;
}

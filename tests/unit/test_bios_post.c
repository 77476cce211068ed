/* tests/unit/test_bios_post.c - our BIOS (the embedded image) run on a
 * machine without disks: POST codes in order, the "nothing bootable"
 * message in VGA text memory (what the screen shows) and on port E9h, BDA
 * and EBDA contents, shadow RAM, and the ACPI tables checked from C (RSDP
 * in the EBDA, checksums, FADT fields, \_S5 in the DSDT). */
#include "tests/unit/test.h"
#include "monitor/machine.h"
#include "monitor/bios_image.h"
#include "mem/mem.h"
#include "devices/bus.h"
#include <string.h>
#include <stdlib.h>

static struct machine *boot_empty(uint64_t ram_mb, enum machine_stop *st)
{
    struct machine_config cfg;
    machine_config_defaults(&cfg);
    cfg.ram_bytes = ram_mb << 20;
    cfg.serial = "none";
    cfg.display = "none";
    cfg.max_seconds = 20;
    char err[512];
    struct machine *m = machine_new(&cfg, err, sizeof err);
    if (!m) { printf("  machine_new: %s\n", err); return NULL; }
    if (machine_load_bios(m, bt86_bios_image, bt86_bios_size(), "built-in", err, sizeof err)) {
        printf("  %s\n", err);
        machine_free(m);
        return NULL;
    }
    *st = machine_run(m);
    return m;
}

static uint8_t rd8(struct machine *m, uint32_t pa)
{
    uint8_t v = 0;
    (void)mem_read_bytes(machine_mem(m), pa, &v, 1);
    return v;
}
static uint16_t rd16(struct machine *m, uint32_t pa) { return (uint16_t)(rd8(m, pa) | rd8(m, pa + 1) << 8); }
static uint32_t rd32(struct machine *m, uint32_t pa) { return rd16(m, pa) | (uint32_t)rd16(m, pa + 2) << 16; }
static uint8_t sum(struct machine *m, uint32_t pa, uint32_t len)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < len; i++) s = (uint8_t)(s + rd8(m, pa + i));
    return s;
}

static void test_post_and_no_boot_message(void)
{
    enum machine_stop st;
    struct machine *m = boot_empty(32, &st);
    EXPECT(m != NULL);
    if (!m) return;
    EXPECT_EQ(st, STOP_HALTED);
    size_t n;
    const uint8_t *post = machine_post_codes(m, &n);
    static const uint8_t want[] = { 0x01, 0x02, 0x03, 0x04, 0x06, 0x07, 0x08, 0x09, 0x05, 0x0A,
                                    0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x12, 0xEE };
    EXPECT_EQ(n, sizeof want);
    for (size_t i = 0; i < n && i < sizeof want; i++) EXPECT_EQ(post[i], want[i]);
    EXPECT(strstr(machine_debug_text(m), "No bootable device found") != NULL);
    /* shadow RAM: C0000-FFFFF read from RAM, write-protected; F0000 holds
     * this BIOS (its reset vector), C0000-EFFFF what reads saw before
     * (open bus: all ones), and a write does not change it */
    struct mem *mm = machine_mem(m);
    EXPECT_EQ(mem_pam_mode(mm, 0xF0000), MEM_PAM_READ);
    EXPECT_EQ(mem_pam_mode(mm, 0xC0000), MEM_PAM_READ);
    EXPECT_EQ(mem_pam_mode(mm, 0xEC000), MEM_PAM_READ);
    size_t bsz = bt86_bios_size();
    EXPECT(memcmp(mem_ram(mm) + 0x100000 - bsz, bt86_bios_image, bsz) == 0);
    EXPECT(mem_host_page(mm, 0xFF000, false) == mem_ram(mm) + 0xFF000);
    EXPECT(mem_host_page(mm, 0xFF000, true) == NULL);
    EXPECT_EQ(rd32(m, 0xD0000), 0xFFFFFFFFu);
    mem_write_phys(mm, 0xFFFF0, 0x12, 1);
    EXPECT_EQ(rd8(m, 0xFFFF0), bt86_bios_image[bsz - 16]);
    /* the screen: VGA text memory at B8000 (character bytes at even offsets) */
    char screen[80 * 25 + 1];
    for (int i = 0; i < 80 * 25; i++) {
        uint32_t v = 0;
        EXPECT(bus_mmio_read(machine_bus(m), 0xB8000 + 2 * (uint32_t)i, 1, &v));
        screen[i] = (char)(v ? v : ' ');
    }
    screen[80 * 25] = 0;
    EXPECT(strstr(screen, "No bootable device found") != NULL);
    EXPECT(strstr(screen, "bt86 BIOS") != NULL);
    EXPECT(strstr(screen, "Memory: 32 MiB") != NULL);
    /* BDA */
    EXPECT_EQ(rd16(m, 0x400), 0x3F8);                 /* COM1 */
    EXPECT_EQ(rd16(m, 0x413), 636);                   /* base memory KiB */
    EXPECT_EQ(rd16(m, 0x40E), 0x9F00);                /* EBDA segment */
    EXPECT_EQ(rd8(m, 0x9F000), 4);                    /* EBDA size KiB */
    EXPECT_EQ(rd8(m, 0x449), 3);                      /* video mode */
    EXPECT_EQ(rd16(m, 0x44A), 80);
    EXPECT(rd32(m, 0x46C) != 0);                      /* tick count (time of day) */
    EXPECT(rd32(m, 0x46C) < 0x1800B0);
    EXPECT_EQ(rd8(m, 0x475), 0);                      /* no hard disks */
    /* IVT: int 10h, 13h, 19h point into the F segment */
    EXPECT_EQ(rd16(m, 0x10 * 4 + 2), 0xF000);
    EXPECT_EQ(rd16(m, 0x13 * 4 + 2), 0xF000);
    EXPECT_EQ(rd16(m, 0x19 * 4 + 2), 0xF000);
    machine_free(m);
}

static void test_acpi_tables(void)
{
    enum machine_stop st;
    struct machine *m = boot_empty(48, &st);
    EXPECT(m != NULL);
    if (!m) return;
    uint32_t rsdp = 0;
    for (uint32_t a = 0x9F000; a < 0x9F400 && !rsdp; a += 16)
        if (rd32(m, a) == 0x20445352 && rd32(m, a + 4) == 0x20525450) rsdp = a;   /* "RSD PTR " */
    EXPECT(rsdp != 0);
    if (!rsdp) { machine_free(m); return; }
    EXPECT_EQ(sum(m, rsdp, 20), 0);
    uint32_t rsdt = rd32(m, rsdp + 16);
    EXPECT_EQ(rd32(m, rsdt), 0x54445352);            /* "RSDT" */
    EXPECT_EQ(sum(m, rsdt, rd32(m, rsdt + 4)), 0);
    EXPECT_EQ(rd32(m, rsdt + 4), 40);
    uint32_t fadt = rd32(m, rsdt + 36);
    EXPECT_EQ(rd32(m, fadt), 0x50434146);            /* "FACP" */
    EXPECT_EQ(sum(m, fadt, rd32(m, fadt + 4)), 0);
    EXPECT_EQ(rd8(m, fadt + 8), 1);                   /* revision 1: legacy devices assumed */
    EXPECT_EQ(rd16(m, fadt + 46), 9);                 /* SCI_INT */
    EXPECT_EQ(rd32(m, fadt + 48), 0);                 /* no SMI_CMD: always ACPI mode */
    EXPECT_EQ(rd32(m, fadt + 56), 0x600);             /* PM1a_EVT_BLK */
    EXPECT_EQ(rd32(m, fadt + 64), 0x604);             /* PM1a_CNT_BLK */
    EXPECT_EQ(rd32(m, fadt + 76), 0x608);             /* PM_TMR_BLK */
    EXPECT_EQ(rd8(m, fadt + 88), 4);
    EXPECT_EQ(rd8(m, fadt + 89), 2);
    EXPECT_EQ(rd8(m, fadt + 91), 4);
    uint32_t facs = rd32(m, fadt + 36);
    EXPECT_EQ(rd32(m, facs), 0x53434146);            /* "FACS" */
    EXPECT_EQ(facs & 63, 0);
    uint32_t dsdt = rd32(m, fadt + 40);
    EXPECT_EQ(rd32(m, dsdt), 0x54445344);            /* "DSDT" */
    uint32_t dlen = rd32(m, dsdt + 4);
    EXPECT_EQ(sum(m, dsdt, dlen), 0);
    /* Name (_S5_, Package (4) { 0x0A 5, ... }) */
    bool s5 = false;
    for (uint32_t i = 36; i + 10 < dlen; i++)
        if (rd8(m, dsdt + i) == 0x08 && rd32(m, dsdt + i + 1) == 0x5F35535F && rd8(m, dsdt + i + 5) == 0x12 &&
            rd8(m, dsdt + i + 8) == 0x0A && rd8(m, dsdt + i + 9) == 5) s5 = true;
    EXPECT(s5);
    /* the tables are inside the E820 reserved EBDA region (9F000-9FFFF) */
    EXPECT(rsdp >= 0x9F000 && dsdt + dlen <= 0xA0000);
    machine_free(m);
}

int main(void)
{
    RUN(test_post_and_no_boot_message);
    RUN(test_acpi_tables);
    return test_summary();
}

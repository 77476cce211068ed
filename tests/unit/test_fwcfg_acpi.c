/* tests/unit/test_fwcfg_acpi.c - the firmware-config ports (and that they
 * stay off QEMU's fw_cfg ports, which SeaBIOS probes), the ACPI PM
 * registers (S5 power-off, SCI, PM timer) and the Linux boot-protocol
 * checks (monitor/boot_linux.c) on images built here. */
#include "tests/unit/test.h"
#include "devices/fwcfg.h"
#include "devices/acpi.h"
#include "devices/bus.h"
#include "devices/vclock.h"
#include "monitor/boot_linux.h"
#include "monitor/machine.h"
#include <stdlib.h>
#include <string.h>

static void test_fwcfg_items(void)
{
    struct bus *bus = bus_new();
    struct fwcfg *fw = fwcfg_new(bus);
    EXPECT(fw != NULL);
    bus_io_write(bus, FWCFG_PORT_SEL, FWCFG_SIGNATURE, 2);
    char sig[5] = { 0 };
    for (int i = 0; i < 4; i++) sig[i] = (char)bus_io_read(bus, FWCFG_PORT_DATA, 1);
    EXPECT(!strcmp(sig, "BT86"));
    uint16_t item[3] = { 1, 0x9000, 0xE000 };
    EXPECT_EQ(fwcfg_set(fw, FWCFG_LINUX, item, sizeof item), 0);
    bus_io_write(bus, FWCFG_PORT_SEL, FWCFG_LINUX, 2);
    EXPECT_EQ(bus_io_read(bus, FWCFG_PORT_DATA, 2), 1);
    EXPECT_EQ(bus_io_read(bus, FWCFG_PORT_DATA, 4), 0xE0009000u);
    EXPECT_EQ(bus_io_read(bus, FWCFG_PORT_DATA, 2), 0);          /* past the end: zeros */
    bus_io_write(bus, FWCFG_PORT_SEL, FWCFG_LINUX, 2);           /* reselect: offset 0 */
    EXPECT_EQ(bus_io_read(bus, FWCFG_PORT_DATA, 1), 1);
    bus_io_write(bus, FWCFG_PORT_SEL, 0x1F, 2);                  /* empty item */
    EXPECT_EQ(bus_io_read(bus, FWCFG_PORT_DATA, 4), 0);
    bus_io_write(bus, FWCFG_PORT_SEL, 0x7777, 2);                /* no such key */
    EXPECT_EQ(bus_io_read(bus, FWCFG_PORT_DATA, 4), 0);
    EXPECT_EQ(fwcfg_set(fw, FWCFG_NKEYS, item, 2), -1);
    fwcfg_free(fw);
    bus_free(bus);
}

/* SeaBIOS's fw_cfg probe (src/fw/paravirt.c qemu_cfg_detect: a 16-bit
 * select of key 0 at 0x510, then four byte reads at 0x511 compared with
 * "QEMU") must find nothing, so it takes its no-fw_cfg path (RAM size from
 * CMOS) instead of reading our items as QEMU keys; our BIOS's ports answer. */
static void test_fwcfg_not_on_qemu_ports(void)
{
    struct bus *bus = bus_new();
    struct fwcfg *fw = fwcfg_new(bus);
    EXPECT(fw != NULL);
    EXPECT(FWCFG_PORT_SEL + FWCFG_PORT_LEN <= 0x510 || FWCFG_PORT_SEL >= 0x51C);  /* QEMU's 0x510-0x51B */
    bus_io_write(bus, 0x510, 0x0000, 2);
    char sig[5] = { 0 };
    for (int i = 0; i < 4; i++) sig[i] = (char)bus_io_read(bus, 0x511, 1);
    EXPECT(strcmp(sig, "QEMU") != 0);
    EXPECT_EQ((uint8_t)sig[0], 0xFF);                            /* open bus */
    /* nor does a select through QEMU's port move ours */
    bus_io_write(bus, FWCFG_PORT_SEL, FWCFG_SIGNATURE, 2);
    EXPECT_EQ(bus_io_read(bus, FWCFG_PORT_DATA, 1), 'B');
    bus_io_write(bus, 0x510, FWCFG_VERSION, 2);
    EXPECT_EQ(bus_io_read(bus, FWCFG_PORT_DATA, 1), 'T');
    EXPECT_EQ(fwcfg_port_read(fw, FWCFG_PORT_DATA, 2), 0x3638);   /* "86" */
    fwcfg_free(fw);
    bus_free(bus);
}

/* --kernel with --bios: the foreign ROM would never hand over to the
 * kernel, so machine_boot_linux refuses with a message naming both files
 * (bt86 never ignores an option silently). */
static void test_linux_boot_refused_with_foreign_bios(void)
{
    struct machine_config cfg;
    machine_config_defaults(&cfg);
    cfg.serial = "none";
    cfg.display = "none";
    cfg.bios = "seabios.bin";
    char err[512] = "";
    struct machine *m = machine_new(&cfg, err, sizeof err);
    EXPECT(m != NULL);
    if (!m) { printf("  machine_new: %s\n", err); return; }
    EXPECT_EQ(machine_boot_linux(m, "vmlinuz", NULL, NULL, err, sizeof err), -1);
    EXPECT(strstr(err, "vmlinuz") && strstr(err, "seabios.bin") && strstr(err, "needs our BIOS"));
    machine_free(m);
}

struct sink { int level, poweroffs; };
static void sink_set(void *o, int n, int level) { (void)n; ((struct sink *)o)->level = level; }
static void sink_off(void *o) { ((struct sink *)o)->poweroffs++; }

static void test_acpi_s5_and_sci(void)
{
    struct bus *bus = bus_new();
    struct vclock *clk = vclock_new(true);
    struct sink s = { 0, 0 };
    struct irq_line sci = { sink_set, &s, 9 };
    struct acpi *a = acpi_new(bus, ACPI_PM_BASE, clk, &sci, sink_off, &s);
    EXPECT(a != NULL);
    EXPECT_EQ(bus_io_read(bus, ACPI_PM_BASE + 4, 2) & 1, 1);      /* SCI_EN: always ACPI mode */
    /* S1 request (type 1): no power-off, WAK_STS set */
    bus_io_write(bus, ACPI_PM_BASE + 4, (1u << 10) | (1u << 13), 2);
    EXPECT_EQ(s.poweroffs, 0);
    EXPECT(bus_io_read(bus, ACPI_PM_BASE, 2) & 0x8000);
    bus_io_write(bus, ACPI_PM_BASE, 0x8000, 2);                  /* write 1 to clear */
    EXPECT_EQ(bus_io_read(bus, ACPI_PM_BASE, 2) & 0x8000, 0);
    /* SLP_TYP 5 without SLP_EN: nothing; with SLP_EN: power-off */
    bus_io_write(bus, ACPI_PM_BASE + 4, ACPI_SLP_TYP_S5 << 10, 2);
    EXPECT_EQ(s.poweroffs, 0);
    bus_io_write(bus, ACPI_PM_BASE + 4, (ACPI_SLP_TYP_S5 << 10) | (1u << 13), 2);
    EXPECT_EQ(s.poweroffs, 1);
    EXPECT_EQ(bus_io_read(bus, ACPI_PM_BASE + 4, 2) & (1u << 13), 0);   /* SLP_EN reads 0 */
    /* power button: SCI only when enabled */
    acpi_power_button(a);
    EXPECT_EQ(s.level, 0);
    bus_io_write(bus, ACPI_PM_BASE + 2, 0x0100, 2);
    EXPECT_EQ(s.level, 1);
    bus_io_write(bus, ACPI_PM_BASE, 0x0100, 2);
    EXPECT_EQ(s.level, 0);
    /* PM timer: 3.579545 MHz, 24 bits */
    uint32_t t0 = bus_io_read(bus, ACPI_PM_BASE + 8, 4);
    vclock_advance(clk, 1000000000ull);                          /* 1 s */
    uint32_t t1 = bus_io_read(bus, ACPI_PM_BASE + 8, 4);
    EXPECT_EQ((t1 - t0) & 0xFFFFFF, ACPI_PM_TIMER_HZ & 0xFFFFFF);
    EXPECT_EQ(t1 >> 24, 0);
    acpi_free(a);
    vclock_free(clk);
    bus_free(bus);
}

/* a minimal bzImage: setup_sects, "HdrS", version, loadflags, payload */
static uint8_t *make_bzimage(size_t *len, uint16_t version, unsigned setup_sects, size_t kernel)
{
    *len = (setup_sects + 1) * 512 + kernel;
    uint8_t *p = calloc(1, *len);
    p[0x1F1] = (uint8_t)setup_sects;
    memcpy(p + 0x202, "HdrS", 4);
    p[0x206] = (uint8_t)version; p[0x207] = (uint8_t)(version >> 8);
    p[0x211] = 0x01;                                     /* LOADED_HIGH */
    uint32_t sys = (uint32_t)(kernel / 16);
    memcpy(p + 0x1F4, &sys, 4);
    uint32_t max = 0x37FFFFFF;
    memcpy(p + 0x22C, &max, 4);
    uint32_t cmax = 2047;
    memcpy(p + 0x238, &cmax, 4);
    return p;
}

static void test_linux_header_checks(void)
{
    char err[256];
    struct linux_layout lay;
    size_t len;
    uint8_t *img = make_bzimage(&len, 0x20F, 4, 1 << 20);
    EXPECT_EQ(linux_prepare(img, len, "k", 64 << 20, 1 << 20, 10, &lay, err, sizeof err), 0);
    EXPECT_EQ(lay.setup_len, 5 * 512);
    EXPECT_EQ(lay.kernel_len, 1 << 20);
    EXPECT_EQ(img[0x210], 0xFF);                          /* type_of_loader */
    EXPECT(img[0x211] & 0x80);                            /* CAN_USE_HEAP */
    EXPECT_EQ(img[0x224] | img[0x225] << 8, LINUX_HEAP_END);
    uint32_t v;
    memcpy(&v, img + 0x228, 4); EXPECT_EQ(v, 0x9E000);   /* cmd_line_ptr */
    memcpy(&v, img + 0x218, 4); EXPECT_EQ(v, lay.initrd_addr);
    EXPECT_EQ(lay.initrd_addr, (64u << 20) - (1u << 20)); /* top of RAM, page aligned */
    EXPECT_EQ(lay.initrd_addr & 0xFFF, 0);
    memcpy(&v, img + 0x21C, 4); EXPECT_EQ(v, 1u << 20);
    EXPECT_EQ(img[0x1FA] | img[0x1FB] << 8, 0xFFFF);       /* vid_mode normal */
    /* initrd_addr_max below RAM wins */
    uint32_t max = 0x00FFFFFF;
    memcpy(img + 0x22C, &max, 4);
    EXPECT_EQ(linux_prepare(img, len, "k", 64 << 20, 4096, 0, &lay, err, sizeof err), 0);
    EXPECT_EQ(lay.initrd_addr, 0x00FFF000u);
    /* initrd too large for the space */
    EXPECT_EQ(linux_prepare(img, len, "k", 64 << 20, 15 << 20, 0, &lay, err, sizeof err), -1);
    EXPECT(strstr(err, "initrd") != NULL);
    /* command line too long */
    EXPECT_EQ(linux_prepare(img, len, "k", 64 << 20, 0, 5000, &lay, err, sizeof err), -1);
    EXPECT(strstr(err, "command line") != NULL);
    /* truncated: header promises more than the file has */
    EXPECT_EQ(linux_prepare(img, len - 4096, "k", 64 << 20, 0, 0, &lay, err, sizeof err), -1);
    EXPECT(strstr(err, "truncated") != NULL);
    /* not enough RAM for the kernel */
    EXPECT_EQ(linux_prepare(img, len, "k", 1 << 20, 0, 0, &lay, err, sizeof err), -1);
    free(img);
    /* too old */
    img = make_bzimage(&len, 0x201, 4, 4096);
    EXPECT_EQ(linux_prepare(img, len, "old", 64 << 20, 0, 0, &lay, err, sizeof err), -1);
    EXPECT(strstr(err, "2.02") != NULL);
    /* zImage */
    img[0x206] = 0x0F; img[0x207] = 0x02; img[0x211] = 0;
    EXPECT_EQ(linux_prepare(img, len, "z", 64 << 20, 0, 0, &lay, err, sizeof err), -1);
    EXPECT(strstr(err, "zImage") != NULL);
    /* not Linux at all */
    memset(img + 0x202, 0, 4);
    EXPECT_EQ(linux_prepare(img, len, "x", 64 << 20, 0, 0, &lay, err, sizeof err), -1);
    EXPECT(strstr(err, "not a Linux bzImage") != NULL);
    EXPECT_EQ(linux_prepare(img, 100, "tiny", 64 << 20, 0, 0, &lay, err, sizeof err), -1);
    free(img);
}

int main(void)
{
    RUN(test_fwcfg_items);
    RUN(test_fwcfg_not_on_qemu_ports);
    RUN(test_linux_boot_refused_with_foreign_bios);
    RUN(test_acpi_s5_and_sci);
    RUN(test_linux_header_checks);
    return test_summary();
}

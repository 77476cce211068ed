/* tests/unit/test_ide.c - the IDE controller through its registers, the way
 * Linux's libata (ata_piix) and a BIOS drive it: IDENTIFY, PIO reads and
 * writes (single and multiple, LBA28/LBA48/CHS) checked against the image
 * FILE on the host, bus-master DMA with a PRD table in test RAM, error bits,
 * soft reset signatures, nIEN, and an ATAPI CD-ROM reading an ISO image the
 * test writes itself (ISO 9660 primary volume descriptor at block 16). */
#include "tests/unit/test.h"
#include "devices/bus.h"
#include "devices/disk.h"
#include "devices/ide.h"
#include "devices/pci.h"
#include "devices/piix.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ST_BSY 0x80
#define ST_DRDY 0x40
#define ST_DRQ 0x08
#define ST_ERR 0x01

#define P 0x1F0       /* primary command block   */
#define PCTL 0x3F6
#define S 0x170       /* secondary command block */
#define SCTL 0x376
#define BM 0xC000     /* BMDMA base (BAR4)       */

static char tdir[256];

/* ---- the machine under test ------------------------------------------------ */

struct sink { int level[16]; int edges[16]; };
static void sink_set(void *opaque, int n, int level)
{
    struct sink *s = opaque;
    if (level && !s->level[n]) s->edges[n]++;
    s->level[n] = level;
}

#define RAM_SIZE (1u << 20)
static uint8_t ram[RAM_SIZE];
static int ram_read(void *o, uint64_t pa, void *buf, size_t len)
{
    (void)o;
    if (pa > RAM_SIZE || len > RAM_SIZE - pa) return -1;
    memcpy(buf, ram + pa, len);
    return 0;
}
static int ram_write(void *o, uint64_t pa, const void *buf, size_t len)
{
    (void)o;
    if (pa > RAM_SIZE || len > RAM_SIZE - pa) return -1;
    memcpy(ram + pa, buf, len);
    return 0;
}

struct m {
    struct bus *bus;
    struct pci *pci;
    struct ide *ide;
    struct piix *piix;
    struct sink irq;
    struct disk *hd, *cd;
};

static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int i;
    i = (i + 1) & 3;
    snprintf(buf[i], sizeof buf[i], "%s/%s", tdir, name);
    return buf[i];
}

static void make_image(const char *path, size_t sectors)
{
    FILE *f = fopen(path, "wb");
    for (size_t s = 0; s < sectors; s++)
        for (int i = 0; i < 512; i++) fputc((int)((s * 3 + (size_t)i) & 0xFF), f);
    fclose(f);
}

static int file_read(const char *path, long off, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = pread(fd, buf, len, off);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

static void m_init(struct m *m, const char *hd_path, enum disk_mode mode, const char *cd_path)
{
    char err[256];
    memset(m, 0, sizeof *m);
    m->bus = bus_new();
    m->pci = pci_new(m->bus);
    struct irq_line l14 = { sink_set, &m->irq, 14 }, l15 = { sink_set, &m->irq, 15 };
    m->ide = ide_new(m->bus, &l14, &l15);
    struct irq_line lines[16];
    for (int i = 0; i < 16; i++) lines[i] = (struct irq_line){ sink_set, &m->irq, i };
    struct dma_ops mem = { ram_read, ram_write, NULL };
    m->piix = piix_new(m->pci, 1, lines, m->ide, &mem);
    if (hd_path) {
        m->hd = disk_open(hd_path, mode, 0, err, sizeof err);
        if (!m->hd) printf("  %s\n", err);
        else EXPECT_EQ(ide_attach(m->ide, 0, 0, IDE_HD, m->hd), 0);
    }
    if (cd_path) {
        m->cd = disk_open(cd_path, DISK_RO, DISK_CDROM, err, sizeof err);
        if (!m->cd) printf("  %s\n", err);
        else EXPECT_EQ(ide_attach(m->ide, 1, 0, IDE_CDROM, m->cd), 0);
    }
    /* Firmware-style PCI setup of the IDE function: BAR4, I/O + bus master. */
    pci_config_write(m->pci, 0, 1, 1, 0x20, BM, 4);
    pci_config_write(m->pci, 0, 1, 1, 0x04, PCI_CMD_IO | PCI_CMD_MASTER, 2);
}

static void m_free(struct m *m)
{
    piix_free(m->piix);
    ide_free(m->ide);
    pci_free(m->pci);
    bus_free(m->bus);
    disk_close(m->hd);
    disk_close(m->cd);
}

static uint8_t inb(struct m *m, uint16_t port) { return (uint8_t)bus_io_read(m->bus, port, 1); }
static uint16_t inw(struct m *m, uint16_t port) { return (uint16_t)bus_io_read(m->bus, port, 2); }
static void outb(struct m *m, uint16_t port, uint8_t v) { bus_io_write(m->bus, port, v, 1); }
static void outw(struct m *m, uint16_t port, uint16_t v) { bus_io_write(m->bus, port, v, 2); }
static void outl(struct m *m, uint16_t port, uint32_t v) { bus_io_write(m->bus, port, v, 4); }

/* LBA28 task file + command, as ata_tf_load/ata_exec_command do. */
static void ata_cmd28(struct m *m, uint16_t base, int dev, uint32_t lba, uint8_t count, uint8_t cmd)
{
    outb(m, base + 6, (uint8_t)(0xE0 | dev << 4 | ((lba >> 24) & 0x0F)));
    outb(m, base + 2, count);
    outb(m, base + 3, (uint8_t)lba);
    outb(m, base + 4, (uint8_t)(lba >> 8));
    outb(m, base + 5, (uint8_t)(lba >> 16));
    outb(m, base + 7, cmd);
}

/* LBA48: HOB bytes first, then the low bytes (ATA-7 vol. 1, 6.1.2). */
static void ata_cmd48(struct m *m, uint16_t base, uint64_t lba, uint16_t count, uint8_t cmd)
{
    outb(m, base + 6, 0x40);
    outb(m, base + 2, (uint8_t)(count >> 8));
    outb(m, base + 3, (uint8_t)(lba >> 24));
    outb(m, base + 4, (uint8_t)(lba >> 32));
    outb(m, base + 5, (uint8_t)(lba >> 40));
    outb(m, base + 2, (uint8_t)count);
    outb(m, base + 3, (uint8_t)lba);
    outb(m, base + 4, (uint8_t)(lba >> 8));
    outb(m, base + 5, (uint8_t)(lba >> 16));
    outb(m, base + 7, cmd);
}

static void read_words(struct m *m, uint16_t base, uint8_t *buf, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 2) {
        uint16_t w = inw(m, base);
        buf[i] = (uint8_t)w;
        buf[i + 1] = (uint8_t)(w >> 8);
    }
}

static void write_words(struct m *m, uint16_t base, const uint8_t *buf, size_t bytes)
{
    for (size_t i = 0; i < bytes; i += 2) outw(m, base, (uint16_t)(buf[i] | buf[i + 1] << 8));
}

static uint16_t idw(const uint8_t *id, int w) { return (uint16_t)(id[2 * w] | id[2 * w + 1] << 8); }

/* ---- ATA ------------------------------------------------------------------------- */

static void test_identify(void)
{
    const char *img = tpath("id.img");
    make_image(img, 20000);
    struct m m;
    m_init(&m, img, DISK_RW, NULL);
    /* Power-on signature of an ATA device. */
    EXPECT_EQ(inb(&m, P + 2), 1);
    EXPECT_EQ(inb(&m, P + 3), 1);
    EXPECT_EQ(inb(&m, P + 4), 0);
    EXPECT_EQ(inb(&m, P + 5), 0);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    outb(&m, P + 6, 0xA0);
    outb(&m, P + 7, 0xEC);
    EXPECT_EQ(m.irq.level[14], 1);
    EXPECT_EQ(inb(&m, PCTL) & (ST_BSY | ST_DRQ | ST_ERR), ST_DRQ);
    EXPECT_EQ(m.irq.level[14], 1);                 /* alt status keeps INTRQ */
    EXPECT_EQ(inb(&m, P + 7) & (ST_BSY | ST_DRQ | ST_ERR), ST_DRQ);
    EXPECT_EQ(m.irq.level[14], 0);                 /* status read acks it */
    uint8_t id[512];
    read_words(&m, P, id, 512);
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, 0);
    EXPECT_EQ(idw(id, 0), 0x0040);
    /* Geometry consistent with capacity: 20000 sectors, 16 heads, 63 spt. */
    EXPECT_EQ(idw(id, 3), 16);
    EXPECT_EQ(idw(id, 6), 63);
    EXPECT_EQ(idw(id, 1), 20000 / (16 * 63));
    unsigned gc, gh, gs;
    EXPECT_EQ(ide_geometry(m.ide, 0, 0, &gc, &gh, &gs), 0);
    EXPECT_EQ(gc, idw(id, 1));
    EXPECT_EQ(gh, 16);
    EXPECT_EQ(gs, 63);
    EXPECT_EQ(ide_geometry(m.ide, 0, 1, &gc, &gh, &gs), -1);
    EXPECT((uint32_t)idw(id, 1) * idw(id, 3) * idw(id, 6) <= 20000);
    EXPECT_EQ(idw(id, 57) | (uint32_t)idw(id, 58) << 16, (uint32_t)idw(id, 54) * idw(id, 55) * idw(id, 56));
    EXPECT_EQ(idw(id, 60) | (uint32_t)idw(id, 61) << 16, 20000);
    EXPECT_EQ(idw(id, 100) | (uint32_t)idw(id, 101) << 16, 20000);
    EXPECT_EQ(idw(id, 49) & 0x0300, 0x0300);       /* LBA + DMA */
    EXPECT_EQ(idw(id, 83) & 0xC400, 0x4400);       /* valid, LBA48 */
    EXPECT_EQ(idw(id, 86) & 0x0400, 0x0400);
    EXPECT_EQ(idw(id, 63) & 7, 7);                 /* MWDMA 0-2 */
    EXPECT_EQ(idw(id, 53) & 6, 6);
    EXPECT_EQ(idw(id, 47) & 0xFF, 16);
    /* Strings are byte-swapped per word: "BT86 HARDDISK". */
    char model[41];
    for (int i = 0; i < 20; i++) { model[2 * i] = (char)id[54 + 2 * i + 1]; model[2 * i + 1] = (char)id[54 + 2 * i]; }
    model[40] = 0;
    EXPECT(strncmp(model, "BT86 HARDDISK ", 14) == 0);
    /* Integrity word: the 512 bytes sum to 0. */
    uint8_t sum = 0;
    for (int i = 0; i < 512; i++) sum = (uint8_t)(sum + id[i]);
    EXPECT_EQ(id[510], 0xA5);
    EXPECT_EQ(sum, 0);
    /* No slave: selecting it reads status 0 (libata's device-presence check). */
    outb(&m, P + 6, 0xB0);
    EXPECT_EQ(inb(&m, P + 7), 0);
    outb(&m, P + 2, 0x55);
    outb(&m, P + 3, 0xAA);
    EXPECT(inb(&m, P + 2) != 0x55 || inb(&m, P + 3) != 0xAA);
    outb(&m, P + 7, 0xEC);                         /* absent device: no interrupt */
    EXPECT_EQ(m.irq.level[14], 0);
    /* Empty channel floats high. */
    EXPECT_EQ(inb(&m, S + 7), 0xFF);
    m_free(&m);
}

static void test_pio_rw(void)
{
    const char *img = tpath("pio.img");
    make_image(img, 200);
    struct m m;
    m_init(&m, img, DISK_RW, NULL);
    uint8_t wbuf[1024], rbuf[1024], fbuf[1024];
    for (int i = 0; i < 1024; i++) wbuf[i] = (uint8_t)(i * 13 + 7);
    /* WRITE SECTORS: 2 sectors at LBA 5. No interrupt before the first block. */
    ata_cmd28(&m, P, 0, 5, 2, 0x30);
    EXPECT_EQ(m.irq.level[14], 0);
    EXPECT_EQ(inb(&m, PCTL) & (ST_BSY | ST_DRQ), ST_DRQ);
    write_words(&m, P, wbuf, 512);
    EXPECT_EQ(m.irq.level[14], 1);                 /* next block requested */
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, ST_DRQ);
    write_words(&m, P, wbuf + 512, 512);
    EXPECT_EQ(m.irq.level[14], 1);                 /* command complete */
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    EXPECT_EQ(file_read(img, 5 * 512, fbuf, 1024), 0);
    EXPECT(memcmp(fbuf, wbuf, 1024) == 0);
    EXPECT_EQ(file_read(img, 4 * 512, fbuf, 512), 0);  /* neighbour untouched */
    EXPECT_EQ(fbuf[0], (4 * 3) & 0xFF);
    /* READ SECTORS back; interrupt before each block. */
    int e0 = m.irq.edges[14];
    ata_cmd28(&m, P, 0, 5, 2, 0x20);
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, ST_DRQ);
    read_words(&m, P, rbuf, 512);
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, ST_DRQ);
    read_words(&m, P, rbuf + 512, 512);
    EXPECT_EQ(m.irq.edges[14] - e0, 2);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    EXPECT(memcmp(rbuf, wbuf, 1024) == 0);
    /* 32-bit PIO reads work too. */
    ata_cmd28(&m, P, 0, 6, 1, 0x20);
    inb(&m, P + 7);
    for (int i = 0; i < 128; i++) {
        uint32_t v = bus_io_read(m.bus, P, 4);
        memcpy(rbuf + 4 * i, &v, 4);
    }
    EXPECT(memcmp(rbuf, wbuf + 512, 512) == 0);
    /* CHS: C/H/S = 0/0/1 is LBA 0; C0 H1 S1 with the default geometry
     * (200 sectors: 3 heads x 63) is LBA 63. */
    outb(&m, P + 6, 0xA1);
    outb(&m, P + 2, 1);
    outb(&m, P + 3, 1);
    outb(&m, P + 4, 0);
    outb(&m, P + 5, 0);
    outb(&m, P + 7, 0x20);
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, ST_DRQ);
    read_words(&m, P, rbuf, 512);
    EXPECT_EQ(rbuf[0], (63 * 3) & 0xFF);
    /* INITIALIZE DEVICE PARAMETERS: 4 heads, 17 spt; then C1 H0 S1 = LBA 68. */
    outb(&m, P + 6, 0xA3);
    outb(&m, P + 2, 17);
    outb(&m, P + 7, 0x91);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, 0);
    outb(&m, P + 6, 0xA0);
    outb(&m, P + 2, 1);
    outb(&m, P + 3, 1);
    outb(&m, P + 4, 1);
    outb(&m, P + 5, 0);
    outb(&m, P + 7, 0x20);
    read_words(&m, P, rbuf, 512);
    EXPECT_EQ(rbuf[0], (68 * 3) & 0xFF);
    /* FLUSH CACHE. */
    outb(&m, P + 6, 0xE0);
    outb(&m, P + 7, 0xE7);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    m_free(&m);
}

static void test_multiple(void)
{
    const char *img = tpath("mult.img");
    make_image(img, 100);
    struct m m;
    m_init(&m, img, DISK_RW, NULL);
    uint8_t buf[8 * 512];
    /* READ MULTIPLE before SET MULTIPLE MODE: aborted. */
    ata_cmd28(&m, P, 0, 0, 8, 0xC4);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    EXPECT_EQ(inb(&m, P + 1), 0x04);
    /* SET MULTIPLE MODE 3: not a power of two -> abort; 4 -> ok. */
    outb(&m, P + 2, 3);
    outb(&m, P + 7, 0xC6);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    outb(&m, P + 2, 4);
    outb(&m, P + 7, 0xC6);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, 0);
    /* WRITE MULTIPLE 8 sectors at 40: two blocks of 4. */
    for (int i = 0; i < 8 * 512; i++) buf[i] = (uint8_t)(i ^ 0x5C);
    ata_cmd28(&m, P, 0, 40, 8, 0xC5);
    write_words(&m, P, buf, 4 * 512);
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, ST_DRQ);
    write_words(&m, P, buf + 4 * 512, 4 * 512);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    uint8_t f[8 * 512];
    EXPECT_EQ(file_read(img, 40 * 512, f, sizeof f), 0);
    EXPECT(memcmp(f, buf, sizeof f) == 0);
    /* READ MULTIPLE 6 sectors at 41: blocks of 4 then 2, one IRQ each. */
    int e0 = m.irq.edges[14];
    ata_cmd28(&m, P, 0, 41, 6, 0xC4);
    inb(&m, P + 7);
    uint8_t r[6 * 512];
    read_words(&m, P, r, 4 * 512);
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, ST_DRQ);
    read_words(&m, P, r + 4 * 512, 2 * 512);
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, 0);
    EXPECT_EQ(m.irq.edges[14] - e0, 2);
    EXPECT(memcmp(r, buf + 512, sizeof r) == 0);
    m_free(&m);
}

static void test_errors_reset(void)
{
    const char *img = tpath("err.img");
    make_image(img, 100);
    struct m m;
    m_init(&m, img, DISK_RW, NULL);
    /* Unknown command: ERR + ABRT, interrupt. */
    outb(&m, P + 6, 0xE0);
    outb(&m, P + 7, 0xFF);
    EXPECT_EQ(m.irq.level[14], 1);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10 | ST_ERR);
    EXPECT_EQ(inb(&m, P + 1), 0x04);
    /* Past the end: IDNF, nothing transferred, registers point at the end. */
    ata_cmd28(&m, P, 0, 98, 3, 0x20);
    EXPECT_EQ(inb(&m, P + 7) & (ST_ERR | ST_DRQ), ST_ERR);
    EXPECT_EQ(inb(&m, P + 1), 0x10);
    ata_cmd28(&m, P, 0, 1000, 1, 0x30);
    EXPECT_EQ(inb(&m, P + 7) & (ST_ERR | ST_DRQ), ST_ERR);
    EXPECT_EQ(inb(&m, P + 1), 0x10);
    /* READ VERIFY in range succeeds, out of range fails. */
    ata_cmd28(&m, P, 0, 90, 10, 0x40);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, 0);
    ata_cmd28(&m, P, 0, 91, 10, 0x40);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    /* SET FEATURES: MWDMA2 ok and shows in IDENTIFY word 63; bad mode aborts. */
    outb(&m, P + 1, 0x03);
    outb(&m, P + 2, 0x22);
    outb(&m, P + 7, 0xEF);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, 0);
    outb(&m, P + 1, 0x03);
    outb(&m, P + 2, 0x50);
    outb(&m, P + 7, 0xEF);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    outb(&m, P + 7, 0xEC);
    uint8_t id[512];
    inb(&m, P + 7);
    read_words(&m, P, id, 512);
    EXPECT_EQ(idw(id, 63), 0x0407);
    /* CHECK POWER MODE after STANDBY IMMEDIATE: 00h; after IDLE IMMEDIATE: FFh. */
    outb(&m, P + 7, 0xE0);
    outb(&m, P + 7, 0xE5);
    EXPECT_EQ(inb(&m, P + 2), 0x00);
    outb(&m, P + 7, 0xE1);
    outb(&m, P + 7, 0xE5);
    EXPECT_EQ(inb(&m, P + 2), 0xFF);
    /* nIEN: the command completes but INTRQ stays low. */
    inb(&m, P + 7);
    outb(&m, PCTL, 0x02);
    outb(&m, P + 7, 0xE7);
    EXPECT_EQ(m.irq.level[14], 0);
    EXPECT_EQ(inb(&m, PCTL), ST_DRDY | 0x10);
    outb(&m, PCTL, 0x00);
    inb(&m, P + 7);
    /* SRST: busy while asserted, signature after release, master selected. */
    ata_cmd28(&m, P, 0, 3, 2, 0x20);               /* abandon a PIO read */
    outb(&m, PCTL, 0x04);
    EXPECT_EQ(inb(&m, PCTL) & ST_BSY, ST_BSY);
    outb(&m, PCTL, 0x00);
    EXPECT_EQ(inb(&m, PCTL), ST_DRDY | 0x10);
    EXPECT_EQ(inb(&m, P + 1), 0x01);
    EXPECT_EQ(inb(&m, P + 2), 1);
    EXPECT_EQ(inb(&m, P + 3), 1);
    EXPECT_EQ(inb(&m, P + 4), 0);
    EXPECT_EQ(inb(&m, P + 5), 0);
    EXPECT_EQ(inb(&m, P + 6) & 0x10, 0);
    /* EXECUTE DEVICE DIAGNOSTIC: error 01h, interrupt. */
    inb(&m, P + 7);
    outb(&m, P + 7, 0x90);
    EXPECT_EQ(m.irq.level[14], 1);
    EXPECT_EQ(inb(&m, P + 1), 0x01);
    m_free(&m);
}

static void test_lba48(void)
{
    /* A sparse image just past the 28-bit limit (128 GiB + 64 KiB). */
    const char *img = tpath("big.img");
    const uint64_t sectors = 0x10000080ull;
    int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)(sectors * 512)) != 0) {
        if (fd >= 0) { close(fd); unlink(img); }
        printf("  (sparse 128 GiB file not possible here: LBA48 part skipped)\n");
        return;
    }
    close(fd);
    struct m m;
    m_init(&m, img, DISK_RW, NULL);
    outb(&m, P + 6, 0xA0);
    outb(&m, P + 7, 0xEC);
    inb(&m, P + 7);
    uint8_t id[512];
    read_words(&m, P, id, 512);
    EXPECT_EQ(idw(id, 60) | (uint32_t)idw(id, 61) << 16, 0x0FFFFFFFu);
    EXPECT_EQ(idw(id, 100) | (uint64_t)idw(id, 101) << 16 | (uint64_t)idw(id, 102) << 32, sectors);
    EXPECT_EQ(idw(id, 1), 16383);
    /* WRITE SECTORS EXT at LBA 0x10000010 (beyond LBA28), 2 sectors. */
    uint8_t w[1024], r[1024], f[1024];
    for (int i = 0; i < 1024; i++) w[i] = (uint8_t)(i * 5 + 1);
    ata_cmd48(&m, P, 0x10000010ull, 2, 0x34);
    EXPECT_EQ(inb(&m, P + 7) & ST_DRQ, ST_DRQ);
    write_words(&m, P, w, 1024);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    EXPECT_EQ(file_read(img, (long)(0x10000010ll * 512), f, 1024), 0);
    EXPECT(memcmp(f, w, 1024) == 0);
    /* HOB read-back of the previous register contents. */
    outb(&m, PCTL, 0x80);
    EXPECT_EQ(inb(&m, P + 3), 0x10);               /* LBA bits 31:24 */
    outb(&m, PCTL, 0x00);
    /* READ SECTORS EXT back, and READ MULTIPLE EXT. */
    ata_cmd48(&m, P, 0x10000010ull, 2, 0x24);
    inb(&m, P + 7);
    read_words(&m, P, r, 1024);
    EXPECT(memcmp(r, w, 1024) == 0);
    outb(&m, P + 2, 2);
    outb(&m, P + 7, 0xC6);
    ata_cmd48(&m, P, 0x10000011ull, 1, 0x29);
    inb(&m, P + 7);
    read_words(&m, P, r, 512);
    EXPECT(memcmp(r, w + 512, 512) == 0);
    /* Count 0 means 65536 sectors: past the end -> IDNF. */
    ata_cmd48(&m, P, 0x10000000ull, 0, 0x24);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    EXPECT_EQ(inb(&m, P + 1), 0x10);
    /* LBA28 READ SECTORS cannot reach it: LBA 0x0000010 with top nibble 0 is sector 16. */
    m_free(&m);
    unlink(img);
}

/* ---- bus-master DMA ------------------------------------------------------------------ */

static void prd(uint32_t at, uint32_t addr, uint32_t count, bool eot)
{
    uint32_t e[2] = { addr, (count & 0xFFFF) | (eot ? 0x80000000u : 0) };
    memcpy(ram + at, e, 8);
}

/* The Linux ata_bmdma_setup + exec_command + bmdma_start sequence. */
static void dma_cmd(struct m *m, uint32_t table, bool to_mem, uint32_t lba, uint8_t count, uint8_t cmd)
{
    outl(m, BM + 4, table);
    outb(m, BM + 0, to_mem ? 0x08 : 0x00);
    outb(m, BM + 2, 0x06);                          /* clear INTR and ERR */
    ata_cmd28(m, P, 0, lba, count, cmd);
    outb(m, BM + 0, (uint8_t)((to_mem ? 0x08 : 0x00) | 0x01));
}

static void test_dma(void)
{
    const char *img = tpath("dma.img");
    make_image(img, 100);
    struct m m;
    m_init(&m, img, DISK_RW, NULL);
    memset(ram, 0, RAM_SIZE);
    for (int i = 0; i < 1536; i++) ram[(i < 512 ? 0x2000 + i : 0x3000 + i - 512)] = (uint8_t)(i * 7 + 3);
    /* WRITE DMA: 3 sectors from two PRD entries (512 B at 0x2000, 1 KiB at 0x3000). */
    prd(0x1000, 0x2000, 512, false);
    prd(0x1008, 0x3000, 1024, true);
    dma_cmd(&m, 0x1000, false, 20, 3, 0xCA);
    EXPECT_EQ(m.irq.level[14], 1);
    EXPECT_EQ(inb(&m, BM + 2) & 0x07, 0x04);        /* INTR, not active, no error */
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    outb(&m, BM + 0, 0x00);                          /* ata_bmdma_stop */
    uint8_t f[1536];
    EXPECT_EQ(file_read(img, 20 * 512, f, sizeof f), 0);
    EXPECT(memcmp(f, ram + 0x2000, 512) == 0);
    EXPECT(memcmp(f + 512, ram + 0x3000, 1024) == 0);
    /* READ DMA into one 1536-byte entry at 0x8000. */
    prd(0x1100, 0x8000, 1536, true);
    dma_cmd(&m, 0x1100, true, 20, 3, 0xC8);
    EXPECT_EQ(inb(&m, BM + 2) & 0x07, 0x04);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    outb(&m, BM + 0, 0x00);
    EXPECT(memcmp(ram + 0x8000, f, sizeof f) == 0);
    /* READ DMA EXT (LBA48) of sector 2 into a larger buffer: active stays set
     * because the PRD table was not used up (SFF-8038i). */
    prd(0x1200, 0x9000, 4096, true);
    outl(&m, BM + 4, 0x1200);
    outb(&m, BM + 0, 0x08);
    outb(&m, BM + 2, 0x06);
    ata_cmd48(&m, P, 2, 1, 0x25);
    outb(&m, BM + 0, 0x09);
    EXPECT_EQ(inb(&m, BM + 2) & 0x07, 0x05);
    EXPECT_EQ(ram[0x9000], (2 * 3) & 0xFF);
    EXPECT_EQ(ram[0x9000 + 511], (2 * 3 + 511) & 0xFF);
    EXPECT_EQ(ram[0x9000 + 512], 0);
    outb(&m, BM + 0, 0x00);
    EXPECT_EQ(inb(&m, BM + 2) & 0x01, 0);
    /* Start bit set before the command (the other legal order). */
    prd(0x1300, 0xA000, 512, true);
    outl(&m, BM + 4, 0x1300);
    outb(&m, BM + 2, 0x06);
    outb(&m, BM + 0, 0x09);
    ata_cmd28(&m, P, 0, 7, 1, 0xC8);
    EXPECT_EQ(inb(&m, BM + 2) & 0x07, 0x04);
    EXPECT_EQ(ram[0xA000], (7 * 3) & 0xFF);
    outb(&m, BM + 0, 0x00);
    /* PRD table too short for the command: error, no hang, no overrun. */
    memset(ram + 0xB000, 0xEE, 1024);
    prd(0x1400, 0xB000, 512, true);
    dma_cmd(&m, 0x1400, true, 0, 2, 0xC8);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    EXPECT_EQ(inb(&m, BM + 2) & 0x01, 0);
    EXPECT_EQ(ram[0xB000 + 512], 0xEE);
    outb(&m, BM + 0, 0x00);
    /* PRD pointing outside RAM: BMDMA error bit. */
    prd(0x1500, 0xFFFFF000u, 512, true);
    dma_cmd(&m, 0x1500, true, 0, 1, 0xC8);
    EXPECT_EQ(inb(&m, BM + 2) & 0x02, 0x02);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    outb(&m, BM + 0, 0x00);
    /* Bus mastering disabled in PCI command: the engine moves nothing. */
    pci_config_write(m.pci, 0, 1, 1, 0x04, PCI_CMD_IO, 2);
    memset(ram + 0xC000, 0xEE, 512);
    prd(0x1600, 0xC000, 512, true);
    dma_cmd(&m, 0x1600, true, 1, 1, 0xC8);
    EXPECT_EQ(ram[0xC000], 0xEE);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    m_free(&m);
}

static void test_readonly_snapshot(void)
{
    const char *img = tpath("snap.img");
    make_image(img, 50);
    uint8_t w[512], r[512], f[512];
    memset(w, 0x42, sizeof w);
    /* Snapshot: the guest sees its write, the host file does not change. */
    struct m m;
    m_init(&m, img, DISK_SNAPSHOT, NULL);
    ata_cmd28(&m, P, 0, 9, 1, 0x30);
    write_words(&m, P, w, 512);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    ata_cmd28(&m, P, 0, 9, 1, 0x20);
    inb(&m, P + 7);
    read_words(&m, P, r, 512);
    EXPECT(memcmp(r, w, 512) == 0);
    EXPECT_EQ(file_read(img, 9 * 512, f, 512), 0);
    EXPECT_EQ(f[0], (9 * 3) & 0xFF);
    m_free(&m);
    EXPECT_EQ(file_read(img, 9 * 512, f, 512), 0);
    EXPECT_EQ(f[0], (9 * 3) & 0xFF);
    /* Read-only: the write is refused with ERR/ABRT. */
    m_init(&m, img, DISK_RO, NULL);
    ata_cmd28(&m, P, 0, 9, 1, 0x30);
    write_words(&m, P, w, 512);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    EXPECT_EQ(inb(&m, P + 1), 0x04);
    EXPECT_EQ(file_read(img, 9 * 512, f, 512), 0);
    EXPECT_EQ(f[0], (9 * 3) & 0xFF);
    m_free(&m);
}

/* ---- ATAPI ------------------------------------------------------------------------- */

#define ISO_BLOCKS 40

/* An ISO 9660 image: system area, primary volume descriptor at block 16,
 * terminator at 17, then blocks whose bytes encode their block number. */
static void make_iso(const char *path)
{
    static uint8_t img[ISO_BLOCKS * 2048];
    memset(img, 0, sizeof img);
    for (int b = 18; b < ISO_BLOCKS; b++)
        for (int i = 0; i < 2048; i++) img[b * 2048 + i] = (uint8_t)(b + i * 3);
    uint8_t *pvd = img + 16 * 2048;
    pvd[0] = 1;
    memcpy(pvd + 1, "CD001", 5);
    pvd[6] = 1;
    memset(pvd + 8, ' ', 32);
    memset(pvd + 40, ' ', 32);
    memcpy(pvd + 40, "BT86_TEST", 9);            /* volume identifier */
    uint32_t n = ISO_BLOCKS;                       /* volume space size, both-endian */
    pvd[80] = (uint8_t)n; pvd[81] = (uint8_t)(n >> 8); pvd[82] = (uint8_t)(n >> 16); pvd[83] = (uint8_t)(n >> 24);
    pvd[84] = (uint8_t)(n >> 24); pvd[85] = (uint8_t)(n >> 16); pvd[86] = (uint8_t)(n >> 8); pvd[87] = (uint8_t)n;
    pvd[120] = 1; pvd[123] = 1;                    /* volume set size 1     */
    pvd[124] = 1; pvd[127] = 1;                    /* volume sequence 1     */
    pvd[128] = 0x00; pvd[129] = 0x08; pvd[130] = 0x08; pvd[131] = 0x00; /* block size 2048 */
    pvd[881] = 1;                                  /* file structure version */
    uint8_t *term = img + 17 * 2048;
    term[0] = 255;
    memcpy(term + 1, "CD001", 5);
    term[6] = 1;
    FILE *f = fopen(path, "wb");
    fwrite(img, 1, sizeof img, f);
    fclose(f);
}

/* Issue PACKET with `cdb`; returns the final status. Reads up to `max`
 * bytes of data-in into buf (PIO), checking every chunk <= bcl. */
static uint8_t atapi_cmd(struct m *m, const uint8_t cdb[12], uint16_t bcl, uint8_t *buf,
                         size_t max, size_t *got, int *chunks)
{
    size_t n = 0;
    int c = 0;
    outb(m, S + 6, 0xA0);
    outb(m, S + 1, 0x00);                          /* PIO */
    outb(m, S + 4, (uint8_t)bcl);
    outb(m, S + 5, (uint8_t)(bcl >> 8));
    outb(m, S + 7, 0xA0);
    uint8_t st = inb(m, SCTL);
    EXPECT_EQ(st & (ST_BSY | ST_DRQ), ST_DRQ);
    EXPECT_EQ(inb(m, S + 2) & 3, 1);                /* CoD=1, IO=0: send the packet */
    for (int i = 0; i < 12; i += 2) outw(m, S, (uint16_t)(cdb[i] | cdb[i + 1] << 8));
    for (;;) {
        st = inb(m, S + 7);
        if (!(st & ST_DRQ)) break;
        EXPECT_EQ(inb(m, S + 2) & 3, 2);            /* IO=1, CoD=0: data to host */
        unsigned len = inb(m, S + 4) | inb(m, S + 5) << 8;
        EXPECT(len <= bcl);
        EXPECT(len > 0);
        c++;
        for (unsigned i = 0; i < len; i += 2) {
            uint16_t w = inw(m, S);
            if (n < max) buf[n] = (uint8_t)w;
            if (n + 1 < max && i + 1 < len) buf[n + 1] = (uint8_t)(w >> 8);
            n += i + 1 < len ? 2 : 1;
        }
        if (c > 1000) break;
    }
    EXPECT_EQ(inb(m, S + 2) & 3, 3);                /* completion: IO=1, CoD=1 */
    if (got) *got = n;
    if (chunks) *chunks = c;
    return st;
}

static void test_atapi(void)
{
    const char *iso = tpath("test.iso");
    make_iso(iso);
    struct m m;
    m_init(&m, NULL, DISK_RW, iso);
    uint8_t buf[16384];
    size_t got;
    int chunks;
    /* ATAPI signature on the secondary master. */
    EXPECT_EQ(inb(&m, S + 4), 0x14);
    EXPECT_EQ(inb(&m, S + 5), 0xEB);
    /* IDENTIFY DEVICE is aborted, signature kept (how libata classifies). */
    outb(&m, S + 6, 0xA0);
    outb(&m, S + 7, 0xEC);
    EXPECT_EQ(inb(&m, S + 7) & ST_ERR, ST_ERR);
    EXPECT_EQ(inb(&m, S + 1) & 0x04, 0x04);
    EXPECT_EQ(inb(&m, S + 4), 0x14);
    EXPECT_EQ(inb(&m, S + 5), 0xEB);
    /* IDENTIFY PACKET DEVICE. */
    outb(&m, S + 7, 0xA1);
    EXPECT_EQ(m.irq.level[15], 1);
    EXPECT_EQ(inb(&m, S + 7) & ST_DRQ, ST_DRQ);
    read_words(&m, S, buf, 512);
    EXPECT_EQ(idw(buf, 0), 0x85C0);
    EXPECT_EQ(idw(buf, 49) & 0x0300, 0x0300);
    /* TEST UNIT READY. */
    uint8_t tur[12] = { 0x00 };
    EXPECT_EQ(atapi_cmd(&m, tur, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT_EQ(got, 0);
    /* INQUIRY: peripheral type 5, removable, vendor string. */
    uint8_t inq[12] = { 0x12, 0, 0, 0, 36, 0 };
    EXPECT_EQ(atapi_cmd(&m, inq, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT_EQ(got, 36);
    EXPECT_EQ(buf[0], 0x05);
    EXPECT_EQ(buf[1], 0x80);
    EXPECT(memcmp(buf + 8, "BT86", 4) == 0);
    /* READ CAPACITY: last LBA 39, 2048-byte blocks. */
    uint8_t cap[12] = { 0x25 };
    atapi_cmd(&m, cap, 2048, buf, sizeof buf, &got, NULL);
    EXPECT_EQ(got, 8);
    EXPECT_EQ(buf[3], ISO_BLOCKS - 1);
    EXPECT_EQ(buf[6] << 8 | buf[7], 2048);
    /* READ(10) of the volume descriptors (blocks 16-17), bcl 2048: two chunks. */
    uint8_t rd[12] = { 0x28, 0, 0, 0, 0, 16, 0, 0, 2, 0 };
    EXPECT_EQ(atapi_cmd(&m, rd, 2048, buf, sizeof buf, &got, &chunks) & ST_ERR, 0);
    EXPECT_EQ(got, 4096);
    EXPECT_EQ(chunks, 2);
    EXPECT_EQ(buf[0], 1);
    EXPECT(memcmp(buf + 1, "CD001", 5) == 0);
    EXPECT(memcmp(buf + 40, "BT86_TEST", 9) == 0);
    EXPECT_EQ(buf[2048], 255);
    /* Odd byte-count limit 1001 -> chunks of 1000 bytes. */
    uint8_t rd1[12] = { 0x28, 0, 0, 0, 0, 20, 0, 0, 1, 0 };
    EXPECT_EQ(atapi_cmd(&m, rd1, 1001, buf, sizeof buf, &got, &chunks) & ST_ERR, 0);
    EXPECT_EQ(got, 2048);
    EXPECT_EQ(chunks, 3);
    EXPECT_EQ(buf[0], 20);
    EXPECT_EQ(buf[2047], (uint8_t)(20 + 2047 * 3));
    /* READ(12) of 3 blocks from 37 (to the end). */
    uint8_t rd12[12] = { 0xA8, 0, 0, 0, 0, 37, 0, 0, 0, 3 };
    EXPECT_EQ(atapi_cmd(&m, rd12, 0xFFFE, buf, sizeof buf, &got, &chunks) & ST_ERR, 0);
    EXPECT_EQ(got, 3 * 2048);
    EXPECT_EQ(chunks, 1);
    EXPECT_EQ(buf[2 * 2048], 39);
    /* READ(10) past the end: CHECK CONDITION, then REQUEST SENSE says
     * ILLEGAL REQUEST / LBA out of range. */
    uint8_t bad[12] = { 0x28, 0, 0, 0, 0, 39, 0, 0, 2, 0 };
    uint8_t st = atapi_cmd(&m, bad, 2048, buf, sizeof buf, &got, NULL);
    EXPECT_EQ(st & ST_ERR, ST_ERR);
    EXPECT_EQ(inb(&m, S + 1) >> 4, 0x05);
    uint8_t rs[12] = { 0x03, 0, 0, 0, 18, 0 };
    EXPECT_EQ(atapi_cmd(&m, rs, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT_EQ(got, 18);
    EXPECT_EQ(buf[0], 0x70);
    EXPECT_EQ(buf[2], 0x05);
    EXPECT_EQ(buf[12], 0x21);
    /* Unknown opcode -> ASC 20h. */
    uint8_t unk[12] = { 0xFE };
    EXPECT_EQ(atapi_cmd(&m, unk, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, ST_ERR);
    atapi_cmd(&m, rs, 2048, buf, sizeof buf, &got, NULL);
    EXPECT_EQ(buf[12], 0x20);
    /* READ TOC format 0 (LBA): track 1 at 0, lead-out at 40. */
    uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 100, 0 };
    EXPECT_EQ(atapi_cmd(&m, toc, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT_EQ(got, 20);
    EXPECT_EQ(buf[1], 18);
    EXPECT_EQ(buf[2], 1);
    EXPECT_EQ(buf[3], 1);
    EXPECT_EQ(buf[5], 0x14);
    EXPECT_EQ(buf[6], 1);
    EXPECT_EQ(buf[14], 0xAA);
    EXPECT_EQ(buf[19], ISO_BLOCKS);
    /* MSF: lead-out at 40 + 150 frames = 00:02:40. */
    toc[1] = 0x02;
    atapi_cmd(&m, toc, 2048, buf, sizeof buf, &got, NULL);
    EXPECT_EQ(buf[17], 0);
    EXPECT_EQ(buf[18], 2);
    EXPECT_EQ(buf[19], 40);
    /* Format 1 (sessions). */
    uint8_t toc1[12] = { 0x43, 0, 1, 0, 0, 0, 0, 0, 12, 0 };
    atapi_cmd(&m, toc1, 2048, buf, sizeof buf, &got, NULL);
    EXPECT_EQ(got, 12);
    EXPECT_EQ(buf[1], 10);
    EXPECT_EQ(buf[6], 1);
    /* Allocation length truncates: TOC with alloc 4 returns only the header. */
    uint8_t toc4[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 4, 0 };
    atapi_cmd(&m, toc4, 2048, buf, sizeof buf, &got, NULL);
    EXPECT_EQ(got, 4);
    /* MODE SENSE(10) capabilities page 2Ah. */
    uint8_t ms[12] = { 0x5A, 0, 0x2A, 0, 0, 0, 0, 0, 128, 0 };
    EXPECT_EQ(atapi_cmd(&m, ms, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT_EQ(got, 28);
    EXPECT_EQ(buf[1], 26);
    EXPECT_EQ(buf[8], 0x2A);
    EXPECT_EQ(buf[9], 0x12);
    uint8_t ms_bad[12] = { 0x5A, 0, 0x05, 0, 0, 0, 0, 0, 128, 0 };
    EXPECT_EQ(atapi_cmd(&m, ms_bad, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, ST_ERR);
    /* GET CONFIGURATION: current profile CD-ROM (0008h). */
    uint8_t gc[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 64, 0 };
    EXPECT_EQ(atapi_cmd(&m, gc, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT(got >= 8);
    EXPECT_EQ(buf[6] << 8 | buf[7], 0x0008);
    EXPECT_EQ(buf[8] << 8 | buf[9], 0x0000);        /* profile list first */
    /* READ DISC INFORMATION: one complete session with one track. */
    uint8_t rdi[12] = { 0x51, 0, 0, 0, 0, 0, 0, 0, 34, 0 };
    EXPECT_EQ(atapi_cmd(&m, rdi, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT_EQ(got, 34);
    EXPECT_EQ(buf[2] & 3, 2);
    EXPECT_EQ(buf[6], 1);
    /* GET EVENT STATUS NOTIFICATION (polled, media class): medium present. */
    uint8_t gesn[12] = { 0x4A, 0x01, 0, 0, 0x10, 0, 0, 0, 8, 0 };
    EXPECT_EQ(atapi_cmd(&m, gesn, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT_EQ(got, 8);
    EXPECT_EQ(buf[2], 0x04);
    EXPECT_EQ(buf[5] & 0x02, 0x02);
    gesn[1] = 0;                                    /* asynchronous: not supported */
    EXPECT_EQ(atapi_cmd(&m, gesn, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, ST_ERR);
    /* PREVENT MEDIUM REMOVAL then eject: refused; ALLOW then eject: ok. */
    uint8_t lock[12] = { 0x1E, 0, 0, 0, 1 }, unlock[12] = { 0x1E }, eject[12] = { 0x1B, 0, 0, 0, 0x02 };
    EXPECT_EQ(atapi_cmd(&m, lock, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    EXPECT_EQ(atapi_cmd(&m, eject, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, ST_ERR);
    EXPECT_EQ(atapi_cmd(&m, unlock, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    uint8_t start[12] = { 0x1B, 0, 0, 0, 0x01 };
    EXPECT_EQ(atapi_cmd(&m, start, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, 0);
    /* READ(10) by DMA: PACKET with features bit 0, PRD in RAM. */
    memset(ram, 0, RAM_SIZE);
    prd(0x1000, 0x20000, 0x2000, true);            /* 8 KiB for 4 blocks */
    outl(&m, BM + 8 + 4, 0x1000);
    outb(&m, BM + 8, 0x08);
    outb(&m, BM + 8 + 2, 0x06);
    outb(&m, S + 6, 0xA0);
    outb(&m, S + 1, 0x01);                          /* DMA */
    outb(&m, S + 4, 0x00);
    outb(&m, S + 5, 0x08);
    outb(&m, S + 7, 0xA0);
    uint8_t rdd[12] = { 0x28, 0, 0, 0, 0, 18, 0, 0, 4, 0 };
    for (int i = 0; i < 12; i += 2) outw(&m, S, (uint16_t)(rdd[i] | rdd[i + 1] << 8));
    outb(&m, BM + 8, 0x09);                          /* start */
    EXPECT_EQ(inb(&m, BM + 8 + 2) & 0x07, 0x04);
    EXPECT_EQ(inb(&m, S + 7) & (ST_ERR | ST_DRQ), 0);
    EXPECT_EQ(inb(&m, S + 2) & 3, 3);
    EXPECT_EQ(ram[0x20000], 18);
    EXPECT_EQ(ram[0x20000 + 3 * 2048 + 1], (uint8_t)(21 + 3));
    outb(&m, BM + 8, 0x00);
    /* SRST on the secondary: ATAPI signature again, status without DRDY. */
    outb(&m, SCTL, 0x04);
    outb(&m, SCTL, 0x00);
    EXPECT_EQ(inb(&m, S + 4), 0x14);
    EXPECT_EQ(inb(&m, S + 5), 0xEB);
    EXPECT_EQ(inb(&m, S + 7) & (ST_BSY | ST_DRQ), 0);
    m_free(&m);
}

static void test_atapi_no_medium(void)
{
    const char *empty = tpath("empty.iso");
    FILE *f = fopen(empty, "wb");
    fclose(f);
    struct m m;
    m_init(&m, NULL, DISK_RW, empty);
    uint8_t buf[64];
    size_t got;
    uint8_t tur[12] = { 0x00 }, rs[12] = { 0x03, 0, 0, 0, 18 };
    EXPECT_EQ(atapi_cmd(&m, tur, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, ST_ERR);
    atapi_cmd(&m, rs, 2048, buf, sizeof buf, &got, NULL);
    EXPECT_EQ(buf[2], 0x02);                        /* NOT READY */
    EXPECT_EQ(buf[12], 0x3A);                       /* MEDIUM NOT PRESENT */
    uint8_t rd[12] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
    EXPECT_EQ(atapi_cmd(&m, rd, 2048, buf, sizeof buf, &got, NULL) & ST_ERR, ST_ERR);
    EXPECT_EQ(got, 0);
    m_free(&m);
}

/* Master and slave on one channel: each answers only when selected, both
 * latch the task file, ide_reset restores power-on state. */
static void test_master_slave(void)
{
    char err[256];
    const char *a = tpath("ms-a.img"), *bimg = tpath("ms-b.img");
    make_image(a, 30);
    make_image(bimg, 60);
    struct m m;
    m_init(&m, a, DISK_RW, NULL);
    struct disk *slave = disk_open(bimg, DISK_RW, 0, err, sizeof err);
    EXPECT(slave != NULL);
    if (!slave) { m_free(&m); return; }
    EXPECT_EQ(ide_attach(m.ide, 0, 1, IDE_HD, slave), 0);
    EXPECT_EQ(ide_attach(m.ide, 0, 1, IDE_HD, slave), -1);          /* taken */
    uint8_t w[512], f[512], id[512];
    memset(w, 0x99, sizeof w);
    ata_cmd28(&m, P, 1, 40, 1, 0x30);                               /* slave, LBA 40 */
    write_words(&m, P, w, 512);
    EXPECT_EQ(inb(&m, P + 7), ST_DRDY | 0x10);
    EXPECT_EQ(file_read(bimg, 40 * 512, f, 512), 0);
    EXPECT(memcmp(f, w, 512) == 0);
    ata_cmd28(&m, P, 0, 40, 1, 0x30);                               /* master has 30 sectors */
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);
    EXPECT_EQ(inb(&m, P + 1), 0x10);
    outb(&m, P + 6, 0xB0);                                          /* slave's status is clean */
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, 0);
    outb(&m, P + 7, 0xEC);
    inb(&m, P + 7);
    read_words(&m, P, id, 512);
    EXPECT_EQ(idw(id, 60), 60);
    EXPECT_EQ(idw(id, 93) & 0x0100, 0x0100);                        /* device 1 */
    /* SET MULTIPLE on the slave, then a hardware reset forgets it. */
    outb(&m, P + 2, 8);
    outb(&m, P + 7, 0xC6);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, 0);
    ide_reset(m.ide);
    EXPECT_EQ(m.irq.level[14], 0);
    EXPECT_EQ(inb(&m, P + 6) & 0x10, 0);                            /* master selected */
    outb(&m, P + 6, 0xB0);
    ata_cmd28(&m, P, 1, 0, 8, 0xC4);
    EXPECT_EQ(inb(&m, P + 7) & ST_ERR, ST_ERR);                     /* multiple mode off */
    m_free(&m);
    disk_close(slave);
}

/* Random register traffic (fixed seed) on both channels and the BMDMA block,
 * with random PRD tables: must neither crash nor touch memory outside the
 * PRD entries' RAM nor change the image's size. Catches state-machine holes. */
static void test_register_fuzz(void)
{
    const char *img = tpath("fuzz.img");
    make_image(img, 64);
    const char *iso = tpath("fuzz.iso");
    make_iso(iso);
    struct m m;
    m_init(&m, img, DISK_SNAPSHOT, iso);
    static const uint16_t ports[] = { P, P + 1, P + 2, P + 3, P + 4, P + 5, P + 6, P + 7, PCTL,
                                      S, S + 1, S + 2, S + 3, S + 4, S + 5, S + 6, S + 7, SCTL,
                                      BM, BM + 2, BM + 4, BM + 8, BM + 10, BM + 12 };
    static const uint8_t cmds[] = { 0xEC, 0xA1, 0xA0, 0x20, 0x24, 0x30, 0x34, 0xC4, 0xC5, 0x29,
                                    0x39, 0xC6, 0xC8, 0xCA, 0x25, 0x35, 0xE7, 0xEA, 0xEF, 0x91,
                                    0x40, 0x42, 0xE0, 0xE1, 0xE5, 0x90, 0x08, 0x00, 0x10, 0x70 };
    uint32_t x = 12345;
    for (int i = 0; i < 200000; i++) {
        x = x * 1103515245u + 12345u;
        uint32_t r = x >> 8;
        /* Keep a few PRD entries in RAM below 64 KiB. */
        if ((r & 63) == 0) prd((r >> 6) & 0xFFF8, (r >> 3) & 0xFFFE, (r >> 17) & 0xFFFF, r & 0x100);
        uint16_t port = ports[(r >> 4) % (sizeof ports / sizeof ports[0])];
        unsigned size = (port == P || port == S) ? 2 : (port == BM + 4 || port == BM + 12) ? 4 : 1;
        if (r & 1) {
            uint32_t v = x;
            if (port == P + 7 || port == S + 7) v = cmds[(x >> 3) % sizeof cmds];
            if (port == BM + 4 || port == BM + 12) v &= 0xFFF8;
            if ((port == S + 6 || port == P + 6) && (x & 0x40)) v = 0xA0 | (x & 0x10);
            bus_io_write(m.bus, port, v, size);
            if (port == S + 7 && v == 0xA0)        /* feed a plausible packet */
                for (int k = 0; k < 6; k++) outw(&m, S, (uint16_t)(x >> (k & 7)));
        } else {
            bus_io_read(m.bus, port, size);
        }
    }
    for (uint32_t a = 0x10000; a < RAM_SIZE; a++)
        if (ram[a]) { EXPECT_EQ(a, 0); break; }
    m_free(&m);
    struct stat st;
    EXPECT(stat(img, &st) == 0 && st.st_size == 64 * 512);
}

int main(void)
{
    snprintf(tdir, sizeof tdir, "%s/bt86-ide-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tdir)) { printf("FAIL mkdtemp\n"); return 1; }
    RUN(test_identify);
    RUN(test_pio_rw);
    RUN(test_multiple);
    RUN(test_errors_reset);
    RUN(test_lba48);
    RUN(test_dma);
    RUN(test_readonly_snapshot);
    RUN(test_atapi);
    RUN(test_atapi_no_medium);
    RUN(test_master_slave);
    memset(ram, 0, RAM_SIZE);
    RUN(test_register_fuzz);
    const char *names[] = { "id.img", "pio.img", "mult.img", "err.img", "big.img", "dma.img",
                            "snap.img", "test.iso", "empty.iso", "fuzz.img", "fuzz.iso", "ms-a.img", "ms-b.img" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tpath(names[i]));
    rmdir(tdir);
    return test_summary();
}

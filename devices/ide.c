/* devices/ide.c - IDE/ATA controller with ATA disks and ATAPI CD-ROMs.
 *
 * Owns: two channels x two drives, the shadow task files (both drives latch
 * every command-block write, as on a real cable; the device register's DEV
 * bit selects which one answers), PIO transfers, the DMA hand-off to the
 * bus-master engine, ATAPI packet commands with sense data.
 * References: ATA/ATAPI-7 (T13/1532D) vol. 1 (commands, IDENTIFY words) and
 * vol. 2 (protocols: PIO data-in/out, DMA, PACKET, SRST), ATA8-ACS,
 * MMC-5 (CD/DVD commands), SPC-3 (INQUIRY, REQUEST SENSE).
 * Invariants: all work is instantaneous (BSY is never observed after a
 * command write returns); data buffers are bounded (IDE_BUF_SIZE) and every
 * disk access is range-checked before it happens; an interrupt is raised
 * exactly where the protocol says (PIO data-in: before each DRQ block;
 * data-out: after each block except before the first; ATAPI: before each
 * data chunk and at completion; DMA: at completion).
 */
#include "devices/ide.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IDE_BUF_SIZE   (128u * 1024u)  /* PIO/DMA staging buffer per drive     */
#define IDE_MAX_MULT   16u             /* READ/WRITE MULTIPLE block limit       */
#define CD_BLOCK       2048u

/* Status register (ATA-7 vol. 1, 6.64) */
#define ST_BSY  0x80
#define ST_DRDY 0x40
#define ST_DF   0x20
#define ST_DSC  0x10
#define ST_DRQ  0x08
#define ST_ERR  0x01
/* Error register */
#define ER_UNC  0x40
#define ER_IDNF 0x10
#define ER_ABRT 0x04
/* Device control register */
#define DC_NIEN 0x02
#define DC_SRST 0x04
#define DC_HOB  0x80
/* ATAPI interrupt reason (sector count register) */
#define IR_COD  0x01
#define IR_IO   0x02

/* SCSI sense keys and ASCs (SPC-3 4.5.6) */
#define SK_NOT_READY       0x02
#define SK_MEDIUM_ERROR    0x03
#define SK_ILLEGAL_REQUEST 0x05
#define ASC_INV_OPCODE     0x20
#define ASC_LBA_RANGE      0x21
#define ASC_INV_FIELD      0x24
#define ASC_NO_MEDIUM      0x3A
#define ASC_READ_ERROR     0x11
#define ASC_SAVE_NOT_SUPP  0x39
#define ASC_REMOVAL_PREVENTED 0x53

enum ide_xfer {
    XF_NONE,        /* no PIO transfer                                  */
    XF_IDENT,       /* IDENTIFY data-in                                 */
    XF_ATA_READ,    /* READ SECTOR(S)/MULTIPLE data-in                  */
    XF_ATA_WRITE,   /* WRITE SECTOR(S)/MULTIPLE data-out                */
    XF_PACKET,      /* receiving the 12-byte ATAPI command packet       */
    XF_ATAPI_IN,    /* ATAPI data-in chunk                              */
};

enum ide_dma_kind { DMA_NONE, DMA_ATA_READ, DMA_ATA_WRITE, DMA_ATAPI_IN };

struct ide_channel;

struct ide_drive {
    bool present;               /* a drive is attached                       */
    enum ide_kind kind;         /* IDE_HD / IDE_CDROM                        */
    struct disk *disk;          /* back-end (CD: may be NULL = no medium)    */
    struct ide_channel *chan;   /* owning channel                            */
    int unit;                   /* 0 master, 1 slave                         */
    /* task file; hob_* hold the previous write (LBA48 FIFO) */
    uint8_t feature, hob_feature;
    uint8_t nsect, hob_nsect;
    uint8_t lbal, hob_lbal;
    uint8_t lbam, hob_lbam;
    uint8_t lbah, hob_lbah;
    uint8_t select;             /* device/head register                      */
    uint8_t status;             /* status register                           */
    uint8_t error;              /* error register                            */
    /* geometry (HD) */
    uint64_t sectors;           /* 512-byte sectors                          */
    unsigned cyls, heads, spt;  /* default CHS translation                   */
    unsigned cur_cyls, cur_heads, cur_spt; /* after INITIALIZE DEVICE PARAMS  */
    unsigned mult;              /* SET MULTIPLE count, 0 = disabled          */
    uint8_t xfer_mode;          /* SET FEATURES 03h value, 0 = PIO default   */
    bool wcache;                /* write cache enabled (reported only)       */
    bool standby;               /* power mode (CHECK POWER MODE)             */
    /* PIO */
    uint8_t *buf;               /* IDE_BUF_SIZE bytes                        */
    uint32_t pos, len;          /* data pointer and end of the DRQ block     */
    enum ide_xfer xfer;         /* what the data port is doing               */
    /* ATA command in progress */
    uint64_t lba;               /* next sector                               */
    uint32_t remaining;         /* sectors still to transfer                 */
    uint32_t blk;               /* sectors per DRQ block                     */
    uint32_t chunk;             /* ATAPI: bytes in the current DRQ chunk     */
    enum ide_dma_kind dma;      /* DMA command waiting for/using the engine  */
    /* ATAPI */
    uint8_t cdb[12];            /* the command packet                        */
    bool packet_dma;            /* PACKET with features bit 0 (DMA)          */
    uint32_t bcl;               /* byte count limit for PIO chunks           */
    uint32_t fill;              /* valid reply bytes in buf                  */
    uint32_t left;              /* reply bytes not yet transferred           */
    uint64_t cd_lba;            /* READ: next block to load                  */
    uint32_t cd_blocks;         /* READ: blocks not yet loaded into buf      */
    uint8_t sense_key, asc, ascq; /* sense data for REQUEST SENSE            */
    bool locked;                /* PREVENT MEDIUM REMOVAL                    */
};

struct ide_channel {
    struct ide *ide;            /* owning controller                         */
    int idx;                    /* 0 primary, 1 secondary                    */
    struct ide_drive drv[2];    /* master, slave                             */
    int cur;                    /* selected drive (DEV bit)                  */
    uint8_t devctl;             /* device control register                   */
    bool irq_pending;           /* INTRQ condition (cleared by status read)  */
    int irq_level;              /* level last driven on the line             */
    struct irq_line irq;        /* IRQ14 / IRQ15                             */
    struct ide_drive *dma_drv;  /* drive owning the pending DMA command      */
};

struct ide {
    struct bus *bus;            /* where the legacy ports are mapped         */
    struct ide_channel ch[2];   /* primary, secondary                        */
    const struct ide_dma_ops *dma; /* bus-master engine (PIIX) or NULL       */
    void *dma_opaque;           /* its opaque                                */
    bool mapped;                /* ports mapped on bus                       */
};

static const uint16_t ide_cmd_base[2] = { 0x1F0, 0x170 };
static const uint16_t ide_ctl_port[2] = { 0x3F6, 0x376 };

/* ---- interrupts ------------------------------------------------------------ */

static void chan_update_irq(struct ide_channel *c)
{
    int level = c->irq_pending && !(c->devctl & DC_NIEN);
    if (level != c->irq_level) {
        c->irq_level = level;
        irq_set(&c->irq, level);
    }
}

static void drv_raise_irq(struct ide_drive *d)
{
    struct ide_channel *c = d->chan;
    c->irq_pending = true;
    chan_update_irq(c);
    if (c->ide->dma && c->ide->dma->irq) c->ide->dma->irq(c->ide->dma_opaque, c->idx);
}

/* ---- helpers ---------------------------------------------------------------- */

static bool drv_is_cd(const struct ide_drive *d) { return d->kind == IDE_CDROM; }

static uint64_t cd_blocks_total(const struct ide_drive *d)
{
    return d->disk ? disk_sectors(d->disk) / (CD_BLOCK / DISK_SECTOR) : 0;
}

static void drv_set_signature(struct ide_drive *d)
{
    d->nsect = d->hob_nsect = 1;
    d->lbal = d->hob_lbal = 1;
    if (drv_is_cd(d)) { d->lbam = 0x14; d->lbah = 0xEB; }
    else { d->lbam = 0; d->lbah = 0; }
    d->hob_lbam = d->lbam; d->hob_lbah = d->lbah;
    d->select = (uint8_t)(d->select & 0x10);
}

static void drv_cancel(struct ide_drive *d)
{
    d->xfer = XF_NONE;
    d->pos = d->len = 0;
    d->dma = DMA_NONE;
    d->left = d->fill = d->cd_blocks = 0;
    if (d->chan->dma_drv == d) d->chan->dma_drv = NULL;
}

/* Power-on / SRST / EXECUTE DEVICE DIAGNOSTIC state of one drive. */
static void drv_reset(struct ide_drive *d, bool hard)
{
    drv_cancel(d);
    drv_set_signature(d);
    d->select = 0;
    d->error = 0x01;                 /* diagnostic: no error */
    d->feature = d->hob_feature = 0;
    d->status = drv_is_cd(d) ? 0 : ST_DRDY | ST_DSC;
    d->standby = false;
    if (hard) {
        d->mult = 0;
        d->xfer_mode = 0;
        d->wcache = true;
        d->cur_cyls = d->cyls; d->cur_heads = d->heads; d->cur_spt = d->spt;
        d->sense_key = d->asc = d->ascq = 0;
        d->locked = false;
    }
}

static void ata_finish(struct ide_drive *d)
{
    d->xfer = XF_NONE;
    d->status = ST_DRDY | ST_DSC;
    drv_raise_irq(d);
}

static void ata_error(struct ide_drive *d, uint8_t err)
{
    drv_cancel(d);
    d->error = err;
    d->status = ST_DRDY | ST_DSC | ST_ERR;
    drv_raise_irq(d);
}

static void ata_abort(struct ide_drive *d) { ata_error(d, ER_ABRT); }

/* Put LBA in the task file (error reporting: ATA-7 vol. 1, 6.x "Error outputs"). */
static void ata_set_lba(struct ide_drive *d, uint64_t lba, bool lba48)
{
    d->lbal = (uint8_t)lba; d->lbam = (uint8_t)(lba >> 8); d->lbah = (uint8_t)(lba >> 16);
    if (lba48) {
        d->hob_lbal = (uint8_t)(lba >> 24); d->hob_lbam = (uint8_t)(lba >> 32);
        d->hob_lbah = (uint8_t)(lba >> 40);
    } else {
        d->select = (uint8_t)((d->select & 0xF0) | ((lba >> 24) & 0x0F));
    }
}

/* ---- IDENTIFY ------------------------------------------------------------------ */

static void id_str(uint16_t *w, int first, int nwords, const char *s)
{
    size_t n = strlen(s);
    for (int i = 0; i < nwords; i++) {
        size_t a = (size_t)2 * (size_t)i, b = a + 1;
        uint8_t hi = a < n ? (uint8_t)s[a] : ' ', lo = b < n ? (uint8_t)s[b] : ' ';
        w[first + i] = (uint16_t)(hi << 8 | lo);
    }
}

/* Word 255: signature A5h and a checksum making all 512 bytes sum to 0. */
static void id_checksum(uint16_t *w)
{
    w[255] = 0x00A5;
    uint8_t sum = 0;
    for (int i = 0; i < 255; i++) sum = (uint8_t)(sum + (w[i] & 0xFF) + (w[i] >> 8));
    sum = (uint8_t)(sum + 0xA5);
    w[255] = (uint16_t)(((uint8_t)-sum) << 8 | 0xA5);
}

static void id_to_buf(struct ide_drive *d, const uint16_t *w)
{
    for (int i = 0; i < 256; i++) {
        d->buf[2 * i] = (uint8_t)w[i];
        d->buf[2 * i + 1] = (uint8_t)(w[i] >> 8);
    }
}

static void ide_serial(const struct ide_drive *d, char *s, size_t n)
{
    snprintf(s, n, "BT86-%d%d%08X", d->chan->idx, d->unit, 0x1DE0u + (unsigned)(d->chan->idx * 2 + d->unit));
}

/* Transfer mode words 63 (MWDMA) and 88 (UDMA): supported | selected<<8. */
static void id_modes(const struct ide_drive *d, uint16_t *w)
{
    w[63] = 0x0007;
    w[88] = 0x003F;
    if ((d->xfer_mode & 0xF8) == 0x20) w[63] |= (uint16_t)(0x100 << (d->xfer_mode & 7));
    if ((d->xfer_mode & 0xF8) == 0x40) w[88] |= (uint16_t)(0x100 << (d->xfer_mode & 7));
}

static void ata_identify(struct ide_drive *d)
{
    uint16_t w[256];
    char serial[21];
    memset(w, 0, sizeof w);
    w[0] = 0x0040;                          /* fixed device            */
    w[1] = (uint16_t)d->cyls;
    w[3] = (uint16_t)d->heads;
    w[4] = (uint16_t)(512 * d->spt);        /* obsolete, as old drives  */
    w[5] = 512;
    w[6] = (uint16_t)d->spt;
    ide_serial(d, serial, sizeof serial);
    id_str(w, 10, 10, serial);
    w[20] = 3; w[21] = 512;                 /* obsolete buffer type/size */
    w[22] = 4;                              /* obsolete ECC bytes       */
    id_str(w, 23, 4, "1.0");
    id_str(w, 27, 20, "BT86 HARDDISK");
    w[47] = 0x8000 | IDE_MAX_MULT;
    w[49] = (1 << 11) | (1 << 9) | (1 << 8);   /* IORDY, LBA, DMA        */
    w[50] = 0x4000;
    w[51] = 0x0200; w[52] = 0x0200;         /* PIO/DMA timing (obsolete) */
    w[53] = 0x0007;                         /* words 54-58, 64-70, 88 valid */
    uint32_t chs = d->cur_cyls * d->cur_heads * d->cur_spt;
    w[54] = (uint16_t)d->cur_cyls;
    w[55] = (uint16_t)d->cur_heads;
    w[56] = (uint16_t)d->cur_spt;
    w[57] = (uint16_t)chs;
    w[58] = (uint16_t)(chs >> 16);
    w[59] = (uint16_t)(d->mult ? 0x100 | d->mult : 0);
    uint64_t l28 = d->sectors > 0x0FFFFFFF ? 0x0FFFFFFF : d->sectors;
    w[60] = (uint16_t)l28;
    w[61] = (uint16_t)(l28 >> 16);
    id_modes(d, w);
    w[64] = 0x0003;                         /* PIO 3 and 4             */
    w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120;
    w[80] = 0x00F0;                         /* ATA/ATAPI-4..7          */
    w[81] = 0x0016;                         /* minor: ATA/ATAPI-6 T13 1410D rev 3a */
    /* Supported: NOP? no; 82: power management (3), write cache (5),
     * look-ahead (6). 83: LBA48 (10), FLUSH CACHE (12), FLUSH CACHE EXT (13). */
    w[82] = (1 << 3) | (1 << 5) | (1 << 6);
    w[83] = 0x4000 | (1 << 10) | (1 << 12) | (1 << 13);
    w[84] = 0x4000;
    w[85] = (uint16_t)((1 << 3) | (d->wcache ? 1 << 5 : 0) | (1 << 6));
    w[86] = (1 << 10) | (1 << 12) | (1 << 13);
    w[87] = 0x4000;
    w[93] = 0x4000 | 0x2000 | (d->unit ? 0x0100 : 0x0001); /* reset result, CBLID */
    w[100] = (uint16_t)d->sectors;
    w[101] = (uint16_t)(d->sectors >> 16);
    w[102] = (uint16_t)(d->sectors >> 32);
    w[103] = (uint16_t)(d->sectors >> 48);
    id_checksum(w);
    id_to_buf(d, w);
}

static void atapi_identify(struct ide_drive *d)
{
    uint16_t w[256];
    char serial[21];
    memset(w, 0, sizeof w);
    /* ATAPI (15:14 = 10b), CD-ROM (12:8 = 05h), removable (7),
     * DRQ within 50 us (6:5 = 10b), 12-byte packets (1:0 = 00b). */
    w[0] = 0x85C0;
    ide_serial(d, serial, sizeof serial);
    id_str(w, 10, 10, serial);
    id_str(w, 23, 4, "1.0");
    id_str(w, 27, 20, "BT86 CD-ROM");
    w[49] = (1 << 11) | (1 << 9) | (1 << 8);   /* IORDY, LBA, DMA */
    w[53] = 0x0006;                         /* words 64-70, 88 valid */
    id_modes(d, w);
    w[64] = 0x0003;
    w[65] = 120; w[66] = 120; w[67] = 120; w[68] = 120;
    w[71] = 30; w[72] = 30;                 /* PACKET/SERVICE release times */
    w[80] = 0x00F0;
    w[82] = (1 << 4) | (1 << 3);            /* PACKET, power management */
    w[83] = 0x4000;
    w[84] = 0x4000;
    w[85] = (1 << 4) | (1 << 3);
    w[87] = 0x4000;
    w[93] = 0x4000 | 0x2000 | (d->unit ? 0x0100 : 0x0001);
    id_checksum(w);
    id_to_buf(d, w);
}

static void pio_in_start(struct ide_drive *d, uint32_t len, enum ide_xfer x)
{
    d->pos = 0;
    d->len = len;
    d->xfer = x;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    drv_raise_irq(d);
}

/* ---- ATA read/write ---------------------------------------------------------- */

/* Decode the address of a read/write command; false (and IDNF) if invalid. */
static bool ata_get_range(struct ide_drive *d, bool lba48, uint64_t *lba, uint32_t *count)
{
    if (lba48) {
        *count = (uint32_t)(d->hob_nsect << 8 | d->nsect);
        if (*count == 0) *count = 65536;
        *lba = (uint64_t)d->hob_lbah << 40 | (uint64_t)d->hob_lbam << 32 |
               (uint64_t)d->hob_lbal << 24 | (uint64_t)d->lbah << 16 |
               (uint64_t)d->lbam << 8 | d->lbal;
    } else {
        *count = d->nsect ? d->nsect : 256;
        if (d->select & 0x40) {
            *lba = (uint64_t)(d->select & 0x0F) << 24 | (uint64_t)d->lbah << 16 |
                   (uint64_t)d->lbam << 8 | d->lbal;
        } else {
            /* CHS (ATA-7 vol. 1, 3.1.4): LBA = (C * heads + H) * spt + S - 1 */
            unsigned cyl = (unsigned)(d->lbah << 8 | d->lbam), head = d->select & 0x0F;
            unsigned sec = d->lbal;
            if (sec == 0 || sec > d->cur_spt || head >= d->cur_heads || d->cur_spt == 0) {
                ata_error(d, ER_IDNF);
                return false;
            }
            *lba = ((uint64_t)cyl * d->cur_heads + head) * d->cur_spt + sec - 1;
        }
    }
    if (*lba > d->sectors || *count > d->sectors - *lba) {
        ata_set_lba(d, *lba > d->sectors ? d->sectors : *lba, lba48);
        ata_error(d, ER_IDNF);
        return false;
    }
    return true;
}

static void ata_read_block(struct ide_drive *d)
{
    uint32_t n = d->remaining < d->blk ? d->remaining : d->blk;
    if (disk_read(d->disk, d->lba, d->buf, n) != 0) {
        ata_set_lba(d, d->lba, true);
        ata_error(d, ER_UNC);
        return;
    }
    d->lba += n;
    d->remaining -= n;
    pio_in_start(d, n * DISK_SECTOR, XF_ATA_READ);
}

static void ata_write_expect(struct ide_drive *d)
{
    uint32_t n = d->remaining < d->blk ? d->remaining : d->blk;
    d->pos = 0;
    d->len = n * DISK_SECTOR;
    d->xfer = XF_ATA_WRITE;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
}

static void ata_write_block_done(struct ide_drive *d)
{
    uint32_t n = d->len / DISK_SECTOR;
    if (disk_write(d->disk, d->lba, d->buf, n) != 0) {
        ata_set_lba(d, d->lba, true);
        ata_error(d, ER_ABRT);   /* read-only drive or host write error */
        return;
    }
    d->lba += n;
    d->remaining -= n;
    if (d->remaining) {
        ata_write_expect(d);
        drv_raise_irq(d);
    } else {
        ata_finish(d);
    }
}

static void ata_rw(struct ide_drive *d, bool lba48, bool write, bool multiple, bool dma)
{
    uint64_t lba;
    uint32_t count;
    if (multiple && !d->mult) { ata_abort(d); return; }
    if (!ata_get_range(d, lba48, &lba, &count)) return;
    d->lba = lba;
    d->remaining = count;
    d->blk = multiple ? d->mult : 1;
    if (dma) {
        struct ide *ide = d->chan->ide;
        if (!ide->dma) { ata_abort(d); return; }
        d->dma = write ? DMA_ATA_WRITE : DMA_ATA_READ;
        d->chan->dma_drv = d;
        d->status = ST_DRDY | ST_DSC | ST_DRQ;
        if (ide->dma->ready) ide->dma->ready(ide->dma_opaque, d->chan->idx);
        return;
    }
    if (write) ata_write_expect(d);
    else ata_read_block(d);
}

/* ---- ATAPI --------------------------------------------------------------------- */

static void atapi_set_sense(struct ide_drive *d, uint8_t key, uint8_t asc)
{
    d->sense_key = key; d->asc = asc; d->ascq = 0;
}

static void atapi_ok(struct ide_drive *d)
{
    drv_cancel(d);
    atapi_set_sense(d, 0, 0);
    d->error = 0;
    d->nsect = IR_IO | IR_COD;
    d->status = ST_DRDY | ST_DSC;
    drv_raise_irq(d);
}

static void atapi_error(struct ide_drive *d, uint8_t key, uint8_t asc)
{
    drv_cancel(d);
    atapi_set_sense(d, key, asc);
    d->error = (uint8_t)(key << 4 | (key == SK_ILLEGAL_REQUEST ? ER_ABRT : 0));
    d->nsect = IR_IO | IR_COD;
    d->status = ST_DRDY | ST_DSC | ST_ERR;
    drv_raise_irq(d);
}

/* Load the next READ blocks into the buffer; false on a host read error. */
static bool atapi_refill(struct ide_drive *d)
{
    uint32_t n = d->cd_blocks < IDE_BUF_SIZE / CD_BLOCK ? d->cd_blocks : IDE_BUF_SIZE / CD_BLOCK;
    if (disk_read(d->disk, d->cd_lba * (CD_BLOCK / DISK_SECTOR), d->buf, n * (CD_BLOCK / DISK_SECTOR))) {
        atapi_error(d, SK_MEDIUM_ERROR, ASC_READ_ERROR);
        return false;
    }
    d->cd_lba += n;
    d->cd_blocks -= n;
    d->pos = 0;
    d->fill = n * CD_BLOCK;
    return true;
}

/* PIO data-in: offer the next chunk (<= byte count limit) or complete. */
static void atapi_pio_next(struct ide_drive *d)
{
    if (d->left == 0 || (d->pos >= d->fill && d->cd_blocks == 0)) { atapi_ok(d); return; }
    if (d->pos >= d->fill && !atapi_refill(d)) return;
    uint32_t chunk = d->fill - d->pos;
    if (chunk > d->left) chunk = d->left;
    if (chunk > d->bcl) chunk = d->bcl;
    d->lbam = (uint8_t)chunk;
    d->lbah = (uint8_t)(chunk >> 8);
    d->nsect = IR_IO;
    d->chunk = chunk;
    d->len = d->pos + chunk;
    d->xfer = XF_ATAPI_IN;
    d->status = ST_DRDY | ST_DSC | ST_DRQ;
    drv_raise_irq(d);
}

/* Start the data-in phase of a reply: `fill` bytes in buf, or (cd_blocks >
 * 0) blocks still to be read from the medium; `total` bytes in all. */
static void atapi_data_in(struct ide_drive *d, uint32_t fill, uint32_t total)
{
    d->pos = 0;
    d->fill = fill;
    d->left = total;
    if (total == 0) { atapi_ok(d); return; }
    if (d->packet_dma) {
        struct ide *ide = d->chan->ide;
        if (!ide->dma) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD); return; }
        d->dma = DMA_ATAPI_IN;
        d->chan->dma_drv = d;
        d->status = ST_DRDY | ST_DSC | ST_DRQ;
        d->nsect = IR_IO;
        if (ide->dma->ready) ide->dma->ready(ide->dma_opaque, d->chan->idx);
        return;
    }
    atapi_pio_next(d);
}

static void atapi_reply(struct ide_drive *d, uint32_t len, uint32_t alloc)
{
    if (len > alloc) len = alloc;
    d->cd_blocks = 0;
    atapi_data_in(d, len, len);
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put_be16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

/* LBA -> MSF address field (MMC-5 Table 621: MSF = LBA + 150 frames). */
static void put_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (!msf) { put_be32(p, lba); return; }
    uint32_t f = lba + 150;
    p[0] = 0;
    p[1] = (uint8_t)(f / (75 * 60));
    p[2] = (uint8_t)((f / 75) % 60);
    p[3] = (uint8_t)(f % 75);
}

static bool atapi_need_medium(struct ide_drive *d)
{
    if (cd_blocks_total(d) == 0) { atapi_error(d, SK_NOT_READY, ASC_NO_MEDIUM); return false; }
    return true;
}

static void atapi_read(struct ide_drive *d, uint32_t lba, uint32_t n)
{
    if (!atapi_need_medium(d)) return;
    uint64_t total = cd_blocks_total(d);
    if ((uint64_t)lba + n > total) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_LBA_RANGE); return; }
    if (n == 0) { atapi_ok(d); return; }
    if ((uint64_t)n * CD_BLOCK > 0xFFFFFFFFull) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD); return; }
    d->cd_lba = lba;
    d->cd_blocks = n;
    atapi_data_in(d, 0, n * CD_BLOCK);
}

static void atapi_read_toc(struct ide_drive *d)
{
    const uint8_t *c = d->cdb;
    bool msf = c[1] & 2;
    unsigned format = c[2] & 0x0F;
    if (!format) format = c[9] >> 6;          /* SFF-8020 placement */
    unsigned start = c[6];
    uint32_t alloc = be16(c + 7);
    uint32_t blocks = (uint32_t)cd_blocks_total(d);
    uint8_t *b = d->buf;
    if (!atapi_need_medium(d)) return;
    memset(b, 0, 64);
    uint32_t len;
    switch (format) {
    case 0:                                   /* TOC */
        if (start > 1 && start != 0xAA) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD); return; }
        b[2] = 1; b[3] = 1;
        len = 4;
        if (start <= 1) {
            b[len + 1] = 0x14;                /* ADR 1, data track      */
            b[len + 2] = 1;
            put_addr(b + len + 4, 0, msf);
            len += 8;
        }
        b[len + 1] = 0x14;
        b[len + 2] = 0xAA;                    /* lead-out               */
        put_addr(b + len + 4, blocks, msf);
        len += 8;
        put_be16(b, len - 2);
        break;
    case 1:                                   /* session information   */
        put_be16(b, 10);
        b[2] = 1; b[3] = 1;
        b[5] = 0x14;
        b[6] = 1;
        put_addr(b + 8, 0, msf);
        len = 12;
        break;
    default:
        atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD);
        return;
    }
    atapi_reply(d, len, alloc);
}

static void atapi_mode_sense(struct ide_drive *d)
{
    const uint8_t *c = d->cdb;
    unsigned pc = c[2] >> 6, page = c[2] & 0x3F;
    uint32_t alloc = be16(c + 7);
    uint8_t *b = d->buf;
    if (pc == 3) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_SAVE_NOT_SUPP); return; }
    if (page != 0x01 && page != 0x2A && page != 0x3F) {
        atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD);
        return;
    }
    memset(b, 0, 64);
    b[2] = cd_blocks_total(d) ? 0x01 : 0x70;  /* medium type: 120 mm data CD / no disc */
    uint32_t len = 8;
    if (page == 0x01 || page == 0x3F) {       /* read error recovery (MMC-5 7.3) */
        b[len] = 0x01; b[len + 1] = 0x0A;
        if (pc != 1) b[len + 3] = 5;          /* read retry count */
        len += 12;
    }
    if (page == 0x2A || page == 0x3F) {       /* capabilities (MMC-3 5.5.10) */
        uint8_t *p = b + len;
        p[0] = 0x2A; p[1] = 0x12;
        if (pc != 1) {
            p[2] = 0x03;                      /* reads CD-R, CD-RW       */
            p[4] = 0x41;                      /* audio play, multi-session */
            p[5] = 0x00;
            /* lock supported, lock state, eject supported, tray loader */
            p[6] = (uint8_t)(0x01 | (d->locked ? 0x02 : 0) | 0x08 | 0x20);
            put_be16(p + 8, 1408);            /* max read speed 8x (kB/s) */
            put_be16(p + 10, 256);            /* volume levels           */
            put_be16(p + 12, 64);             /* buffer size (KiB)       */
            put_be16(p + 14, 1408);           /* current read speed      */
        }
        len += 20;
    }
    put_be16(b, len - 2);
    atapi_reply(d, len, alloc);
}

static void atapi_get_configuration(struct ide_drive *d)
{
    const uint8_t *c = d->cdb;
    unsigned rt = c[1] & 3, sfn = be16(c + 2);
    uint32_t alloc = be16(c + 7);
    uint8_t *b = d->buf;
    bool medium = cd_blocks_total(d) != 0;
    if (rt == 3) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD); return; }
    memset(b, 0, 128);
    uint32_t len = 8;
    put_be16(b + 6, medium ? 0x0008 : 0);     /* current profile: CD-ROM */
    /* Feature descriptors (MMC-5 5.3): 0000 profile list, 0001 core,
     * 0003 removable medium, 0010 random readable. */
    static const uint16_t feats[] = { 0x0000, 0x0001, 0x0003, 0x0010 };
    for (unsigned i = 0; i < sizeof feats / sizeof feats[0]; i++) {
        unsigned f = feats[i];
        bool current = f != 0x0010 || medium;
        if (f < sfn) continue;
        if (rt == 2 && f != sfn) continue;
        if (rt == 1 && !current) continue;
        uint8_t *p = b + len;
        put_be16(p, f);
        p[2] = (uint8_t)((f == 0x0001 || f == 0x0000 ? 0x03 : 0x00) | (current ? 1 : 0));
        switch (f) {
        case 0x0000:
            p[3] = 4;
            put_be16(p + 4, 0x0008);
            p[6] = medium ? 1 : 0;           /* current profile */
            break;
        case 0x0001:
            p[3] = 8;
            put_be32(p + 4, 2);              /* physical interface: ATAPI */
            break;
        case 0x0003:
            p[2] |= 0x04;                    /* version 1 */
            p[3] = 4;
            p[4] = (uint8_t)(0x29 | (d->locked ? 0x04 : 0)); /* tray, eject, lock */
            break;
        case 0x0010:
            p[3] = 8;
            put_be32(p + 4, CD_BLOCK);
            put_be16(p + 8, 1);              /* blocking */
            break;
        }
        len += 4u + p[3];
    }
    put_be32(b, len - 4);
    atapi_reply(d, len, alloc);
}

static void atapi_exec(struct ide_drive *d)
{
    const uint8_t *c = d->cdb;
    uint8_t *b = d->buf;
    d->xfer = XF_NONE;
    switch (c[0]) {
    case 0x00:                                /* TEST UNIT READY */
        if (atapi_need_medium(d)) atapi_ok(d);
        break;
    case 0x03: {                              /* REQUEST SENSE (SPC-3 6.27) */
        memset(b, 0, 18);
        b[0] = 0x70;
        b[2] = d->sense_key;
        b[7] = 10;
        b[12] = d->asc;
        b[13] = d->ascq;
        atapi_set_sense(d, 0, 0);
        atapi_reply(d, 18, c[4]);
        break;
    }
    case 0x12:                                /* INQUIRY (SPC-3 6.4) */
        if (c[1] & 1) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD); break; }
        memset(b, 0, 36);
        b[0] = 0x05;                          /* CD/DVD device */
        b[1] = 0x80;                          /* removable     */
        b[2] = 0x00;
        b[3] = 0x21;                          /* ATAPI version 2, format 1 */
        b[4] = 31;
        memcpy(b + 8, "BT86    ", 8);
        memcpy(b + 16, "CD-ROM          ", 16);
        memcpy(b + 32, "1.0 ", 4);
        atapi_reply(d, 36, be16(c + 3));
        break;
    case 0x1B:                                /* START STOP UNIT */
        if ((c[4] & 3) == 2 && d->locked) {   /* eject while locked */
            atapi_error(d, SK_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED);
            break;
        }
        atapi_ok(d);
        break;
    case 0x1E:                                /* PREVENT ALLOW MEDIUM REMOVAL */
        d->locked = c[4] & 1;
        atapi_ok(d);
        break;
    case 0x25: {                              /* READ CAPACITY */
        if (!atapi_need_medium(d)) break;
        put_be32(b, (uint32_t)cd_blocks_total(d) - 1);
        put_be32(b + 4, CD_BLOCK);
        atapi_reply(d, 8, 8);
        break;
    }
    case 0x28:                                /* READ(10) */
        atapi_read(d, be32(c + 2), be16(c + 7));
        break;
    case 0xA8:                                /* READ(12) */
        atapi_read(d, be32(c + 2), be32(c + 6));
        break;
    case 0x2B:                                /* SEEK(10) */
    case 0xBB:                                /* SET CD SPEED */
        atapi_ok(d);
        break;
    case 0x43:
        atapi_read_toc(d);
        break;
    case 0x46:
        atapi_get_configuration(d);
        break;
    case 0x5A:
        atapi_mode_sense(d);
        break;
    case 0x51: {                              /* READ DISC INFORMATION (MMC-5 6.22) */
        if (c[1] & 7) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD); break; }
        if (!atapi_need_medium(d)) break;
        memset(b, 0, 34);
        put_be16(b, 32);
        b[2] = 0x0E;                          /* last session complete, disc complete */
        b[3] = 1;                             /* first track on disc */
        b[4] = 1;                             /* sessions */
        b[5] = 1;                             /* first track in last session */
        b[6] = 1;                             /* last track in last session */
        b[8] = 0x00;                          /* CD-DA or CD-ROM disc */
        put_be32(b + 16, 0xFFFFFFFFu);        /* no next session lead-in */
        put_be32(b + 20, 0xFFFFFFFFu);
        atapi_reply(d, 34, be16(c + 7));
        break;
    }
    case 0x4A: {                              /* GET EVENT STATUS NOTIFICATION */
        /* MMC-5 6.6: polled only; report the media class, "no change". */
        if (!(c[1] & 1)) { atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD); break; }
        memset(b, 0, 8);
        b[3] = 0x10;                          /* supported: media class */
        uint32_t len = 4;
        if (c[4] & 0x10) {
            put_be16(b, 6);
            b[2] = 0x04;                      /* media class, events follow */
            b[5] = cd_blocks_total(d) ? 0x02 : 0x00;  /* media present */
            len = 8;
        } else {
            put_be16(b, 2);
            b[2] = 0x80;                      /* NEA: no requested class supported */
        }
        atapi_reply(d, len, be16(c + 7));
        break;
    }
    default:
        atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_OPCODE);
        break;
    }
}

static void atapi_packet(struct ide_drive *d)
{
    d->packet_dma = d->feature & 1;
    uint32_t bcl = (uint32_t)(d->lbah << 8 | d->lbam);
    /* Byte count limit: 0 means "as large as possible"; an odd limit is
     * rounded down so chunks stay word-sized (ATA-7 vol. 2, 11.8). */
    if (bcl == 0 || bcl == 0xFFFF) bcl = 0xFFFE;
    bcl &= ~1u;
    d->bcl = bcl;
    d->pos = 0;
    d->len = 12;
    d->xfer = XF_PACKET;
    d->nsect = IR_COD;
    d->status = ST_DRDY | ST_DRQ;   /* DRQ within 50 us: no interrupt here */
}

/* ---- command dispatch -------------------------------------------------------------- */

static void ide_exec_diagnostic(struct ide_channel *c)
{
    for (int u = 0; u < 2; u++) {
        struct ide_drive *d = &c->drv[u];
        if (!d->present) continue;
        drv_reset(d, false);
    }
    /* Device 0 reports for both; bit 7 would flag a failed device 1. */
    c->cur = 0;
    struct ide_drive *m = &c->drv[0];
    if (m->present) drv_raise_irq(m);
    else if (c->drv[1].present) drv_raise_irq(&c->drv[1]);
}

static void ide_set_features(struct ide_drive *d)
{
    switch (d->feature) {
    case 0x03: {                              /* set transfer mode */
        uint8_t m = d->nsect;
        bool ok = m <= 1 || (m >= 0x08 && m <= 0x0C) || (m >= 0x20 && m <= 0x22) ||
                  (m >= 0x40 && m <= 0x45);
        if (!ok) { ata_abort(d); return; }
        if ((m & 0xF8) == 0x20 || (m & 0xF8) == 0x40) d->xfer_mode = m;
        else d->xfer_mode = 0;
        break;
    }
    case 0x02: d->wcache = true; break;       /* enable write cache  */
    case 0x82: d->wcache = false; break;      /* disable write cache */
    case 0x55: case 0xAA:                     /* read look-ahead     */
    case 0x66: case 0xCC:                     /* reverting to defaults */
        break;
    default:
        ata_abort(d);
        return;
    }
    if (drv_is_cd(d)) atapi_ok(d);
    else ata_finish(d);
}

static void ide_exec(struct ide_channel *c, uint8_t cmd)
{
    struct ide_drive *d = &c->drv[c->cur];
    if (cmd == 0x90) { ide_exec_diagnostic(c); return; }
    if (!d->present) return;                  /* nobody answers */
    drv_cancel(d);
    c->irq_pending = false;
    chan_update_irq(c);
    d->error = 0;
    if (drv_is_cd(d)) {
        switch (cmd) {
        case 0xA0: atapi_packet(d); return;
        case 0xA1: atapi_identify(d); pio_in_start(d, 512, XF_IDENT); return;
        case 0x08:                            /* DEVICE RESET: no interrupt */
            drv_reset(d, false);
            return;
        case 0xEF: ide_set_features(d); return;
        case 0xE5: case 0x98: atapi_ok(d); d->nsect = d->standby ? 0x00 : 0xFF; return;
        case 0xE0: case 0xE1: case 0xE6: case 0x94: case 0x95:
            atapi_ok(d); return;
        case 0xEC:                            /* IDENTIFY DEVICE, READ SECTOR(S): */
        case 0x20: case 0x21:                 /* abort with the PACKET signature  */
            drv_set_signature(d);
            d->select = (uint8_t)(c->cur << 4);
            d->error = ER_ABRT;
            d->status = ST_DRDY | ST_DSC | ST_ERR;
            drv_raise_irq(d);
            return;
        default:
            ata_abort(d);
            return;
        }
    }
    switch (cmd) {
    case 0xEC:                                /* IDENTIFY DEVICE */
        ata_identify(d);
        pio_in_start(d, 512, XF_IDENT);
        break;
    case 0x20: case 0x21: ata_rw(d, false, false, false, false); break;  /* READ SECTOR(S)   */
    case 0x24:            ata_rw(d, true, false, false, false); break;   /* READ SECTOR(S) EXT */
    case 0x30: case 0x31: ata_rw(d, false, true, false, false); break;   /* WRITE SECTOR(S)  */
    case 0x34:            ata_rw(d, true, true, false, false); break;    /* WRITE SECTOR(S) EXT */
    case 0xC4:            ata_rw(d, false, false, true, false); break;   /* READ MULTIPLE    */
    case 0x29:            ata_rw(d, true, false, true, false); break;    /* READ MULTIPLE EXT */
    case 0xC5:            ata_rw(d, false, true, true, false); break;    /* WRITE MULTIPLE   */
    case 0x39:            ata_rw(d, true, true, true, false); break;     /* WRITE MULTIPLE EXT */
    case 0xC8: case 0xC9: ata_rw(d, false, false, false, true); break;   /* READ DMA         */
    case 0x25:            ata_rw(d, true, false, false, true); break;    /* READ DMA EXT     */
    case 0xCA: case 0xCB: ata_rw(d, false, true, false, true); break;    /* WRITE DMA        */
    case 0x35:            ata_rw(d, true, true, false, true); break;     /* WRITE DMA EXT    */
    case 0x40: case 0x41: case 0x42: {        /* READ VERIFY SECTOR(S) (+EXT) */
        uint64_t lba;
        uint32_t n;
        if (ata_get_range(d, cmd == 0x42, &lba, &n)) ata_finish(d);
        break;
    }
    case 0xC6: {                              /* SET MULTIPLE MODE */
        unsigned n = d->nsect;
        if (n > IDE_MAX_MULT || (n & (n - 1))) { ata_abort(d); break; }
        d->mult = n;
        ata_finish(d);
        break;
    }
    case 0xE7: case 0xEA:                     /* FLUSH CACHE (+EXT) */
        if (disk_flush(d->disk) != 0) ata_abort(d);
        else ata_finish(d);
        break;
    case 0xEF: ide_set_features(d); break;
    case 0x91:                                /* INITIALIZE DEVICE PARAMETERS */
        if (d->nsect == 0) { ata_abort(d); break; }
        d->cur_heads = (d->select & 0x0F) + 1u;
        d->cur_spt = d->nsect;
        {
            uint64_t cyl = d->sectors / ((uint64_t)d->cur_heads * d->cur_spt);
            d->cur_cyls = cyl > 65535 ? 65535 : (unsigned)cyl;
        }
        ata_finish(d);
        break;
    case 0xE0: case 0x94: case 0xE2: case 0x96:   /* STANDBY (IMMEDIATE) */
    case 0xE6: case 0x99:                          /* SLEEP */
        d->standby = true;
        ata_finish(d);
        break;
    case 0xE1: case 0x95: case 0xE3: case 0x97:   /* IDLE (IMMEDIATE) */
        d->standby = false;
        ata_finish(d);
        break;
    case 0xE5: case 0x98:                     /* CHECK POWER MODE */
        ata_finish(d);
        d->nsect = d->standby ? 0x00 : 0xFF;
        break;
    default:
        if ((cmd & 0xF0) == 0x10 || (cmd & 0xF0) == 0x70) { /* RECALIBRATE, SEEK */
            ata_finish(d);
            break;
        }
        ata_abort(d);                         /* includes NOP, DEVICE RESET, PACKET */
        break;
    }
}

/* ---- DMA ------------------------------------------------------------------------------ */

bool ide_dma_pending(const struct ide *ide, int ch)
{
    return ch >= 0 && ch < 2 && ide->ch[ch].dma_drv && ide->ch[ch].dma_drv->dma != DMA_NONE;
}

void ide_dma_start(struct ide *ide, int ch)
{
    if (!ide_dma_pending(ide, ch) || !ide->dma || !ide->dma->rw) return;
    struct ide_channel *c = &ide->ch[ch];
    struct ide_drive *d = c->dma_drv;
    const struct ide_dma_ops *ops = ide->dma;
    void *op = ide->dma_opaque;
    enum ide_dma_kind kind = d->dma;
    bool short_prd = false, io_err = false;
    if (kind == DMA_ATA_READ || kind == DMA_ATA_WRITE) {
        while (d->remaining) {
            uint32_t n = d->remaining < IDE_BUF_SIZE / DISK_SECTOR ? d->remaining : IDE_BUF_SIZE / DISK_SECTOR;
            uint32_t bytes = n * DISK_SECTOR;
            if (kind == DMA_ATA_READ) {
                if (disk_read(d->disk, d->lba, d->buf, n)) { io_err = true; break; }
                if (ops->rw(op, ch, d->buf, bytes, true) < bytes) { short_prd = true; break; }
            } else {
                if (ops->rw(op, ch, d->buf, bytes, false) < bytes) { short_prd = true; break; }
                if (disk_write(d->disk, d->lba, d->buf, n)) { io_err = true; break; }
            }
            d->lba += n;
            d->remaining -= n;
        }
        c->dma_drv = NULL;
        d->dma = DMA_NONE;
        if (ops->done) ops->done(op, ch, short_prd || io_err);
        if (io_err) { ata_set_lba(d, d->lba, true); ata_error(d, kind == DMA_ATA_READ ? ER_UNC : ER_ABRT); }
        else if (short_prd) ata_abort(d);
        else ata_finish(d);
        return;
    }
    /* ATAPI data-in */
    while (d->left) {
        if (d->pos >= d->fill) {
            if (d->cd_blocks == 0) break;
            if (!atapi_refill(d)) {           /* already reported the error */
                if (ops->done) ops->done(op, ch, true);
                return;
            }
        }
        uint32_t n = d->fill - d->pos;
        if (n > d->left) n = d->left;
        if (ops->rw(op, ch, d->buf + d->pos, n, true) < n) { short_prd = true; break; }
        d->pos += n;
        d->left -= n;
    }
    c->dma_drv = NULL;
    d->dma = DMA_NONE;
    if (ops->done) ops->done(op, ch, short_prd);
    if (short_prd) atapi_error(d, SK_ILLEGAL_REQUEST, ASC_INV_FIELD);
    else atapi_ok(d);
}

void ide_set_dma(struct ide *ide, const struct ide_dma_ops *ops, void *opaque)
{
    ide->dma = ops;
    ide->dma_opaque = opaque;
}

/* ---- data port ---------------------------------------------------------------------------- */

static void data_block_done(struct ide_drive *d)
{
    switch (d->xfer) {
    case XF_IDENT:
        d->xfer = XF_NONE;
        d->status = ST_DRDY | ST_DSC;
        break;
    case XF_ATA_READ:
        if (d->remaining) ata_read_block(d);
        else { d->xfer = XF_NONE; d->status = ST_DRDY | ST_DSC; }
        break;
    case XF_ATA_WRITE:
        ata_write_block_done(d);
        break;
    case XF_PACKET:
        memcpy(d->cdb, d->buf, 12);
        d->status = ST_DRDY | ST_BSY;
        atapi_exec(d);
        break;
    case XF_ATAPI_IN:
        d->left -= d->chunk;
        d->pos = d->len;          /* an odd chunk's pad byte is not data */
        atapi_pio_next(d);
        break;
    case XF_NONE:
        break;
    }
}

static bool xfer_is_in(enum ide_xfer x) { return x == XF_IDENT || x == XF_ATA_READ || x == XF_ATAPI_IN; }

/* Read `n` (1 or 2) bytes from the data port. */
static uint32_t data_read(struct ide_drive *d, unsigned n)
{
    if (!xfer_is_in(d->xfer) || !(d->status & ST_DRQ)) return n == 1 ? 0xFF : 0xFFFF;
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        if (d->pos < d->len) v |= (uint32_t)d->buf[d->pos] << (8 * i);
        d->pos++;
    }
    if (d->pos >= d->len) data_block_done(d);
    return v;
}

static void data_write(struct ide_drive *d, uint32_t v, unsigned n)
{
    if ((d->xfer != XF_ATA_WRITE && d->xfer != XF_PACKET) || !(d->status & ST_DRQ)) return;
    for (unsigned i = 0; i < n; i++) {
        if (d->pos < d->len) d->buf[d->pos] = (uint8_t)(v >> (8 * i));
        d->pos++;
    }
    if (d->pos >= d->len) data_block_done(d);
}

/* ---- register access ---------------------------------------------------------------------- */

static bool chan_empty(const struct ide_channel *c) { return !c->drv[0].present && !c->drv[1].present; }

static uint32_t cmd_read(struct ide_channel *c, unsigned reg, unsigned size)
{
    struct ide_drive *d = &c->drv[c->cur];
    if (reg == 0) {
        if (chan_empty(c) || !d->present) return size == 4 ? 0xFFFFFFFFu : size == 2 ? 0xFFFF : 0xFF;
        if (size == 4) { uint32_t lo = data_read(d, 2); return lo | data_read(d, 2) << 16; }
        return data_read(d, size);
    }
    if (chan_empty(c)) return 0xFF;          /* floating bus: no device */
    if (!d->present) return reg == 6 ? d->select : 0;
    bool hob = c->devctl & DC_HOB;
    switch (reg) {
    case 1: return hob ? d->hob_feature : d->error;
    case 2: return hob ? d->hob_nsect : d->nsect;
    case 3: return hob ? d->hob_lbal : d->lbal;
    case 4: return hob ? d->hob_lbam : d->lbam;
    case 5: return hob ? d->hob_lbah : d->lbah;
    case 6: return d->select;
    default:                                 /* 7: status, acknowledges INTRQ */
        c->irq_pending = false;
        chan_update_irq(c);
        return d->status;
    }
}

static void cmd_write(struct ide_channel *c, unsigned reg, uint32_t val, unsigned size)
{
    if (reg == 0) {
        struct ide_drive *d = &c->drv[c->cur];
        if (!d->present) return;
        if (size == 4) { data_write(d, val & 0xFFFF, 2); data_write(d, val >> 16, 2); }
        else data_write(d, val, size);
        return;
    }
    uint8_t v = (uint8_t)val;
    if (reg == 7) {
        struct ide_drive *d = &c->drv[c->cur];
        if (d->present && (d->status & ST_BSY) && v != 0x08) return;
        ide_exec(c, v);
        return;
    }
    c->devctl &= (uint8_t)~DC_HOB;          /* any task-file write clears HOB */
    for (int u = 0; u < 2; u++) {
        struct ide_drive *d = &c->drv[u];
        switch (reg) {
        case 1: d->hob_feature = d->feature; d->feature = v; break;
        case 2: d->hob_nsect = d->nsect; d->nsect = v; break;
        case 3: d->hob_lbal = d->lbal; d->lbal = v; break;
        case 4: d->hob_lbam = d->lbam; d->lbam = v; break;
        case 5: d->hob_lbah = d->lbah; d->lbah = v; break;
        case 6: d->select = v; break;
        }
    }
    if (reg == 6) {
        c->cur = (v >> 4) & 1;
        chan_update_irq(c);
    }
}

static uint32_t ctl_read(struct ide_channel *c)
{
    if (chan_empty(c)) return 0xFF;
    struct ide_drive *d = &c->drv[c->cur];
    return d->present ? d->status : 0;
}

static void ctl_write(struct ide_channel *c, uint8_t v)
{
    uint8_t old = c->devctl;
    c->devctl = v;
    if ((v & DC_SRST) && !(old & DC_SRST)) {
        /* SRST asserted: both devices go busy (ATA-7 vol. 2, 9.2). */
        for (int u = 0; u < 2; u++) {
            struct ide_drive *d = &c->drv[u];
            if (!d->present) continue;
            drv_cancel(d);
            d->status = ST_BSY;
        }
        c->irq_pending = false;
    } else if (!(v & DC_SRST) && (old & DC_SRST)) {
        for (int u = 0; u < 2; u++)
            if (c->drv[u].present) drv_reset(&c->drv[u], false);
        c->cur = 0;
    }
    chan_update_irq(c);
}

static uint32_t ide_cmd_io_read(void *opaque, uint32_t off, unsigned size)
{
    return cmd_read(opaque, off & 7, size);
}
static void ide_cmd_io_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    cmd_write(opaque, off & 7, val, size);
}
static uint32_t ide_ctl_io_read(void *opaque, uint32_t off, unsigned size)
{
    (void)off; (void)size;
    return ctl_read(opaque);
}
static void ide_ctl_io_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    (void)off; (void)size;
    ctl_write(opaque, (uint8_t)val);
}

static const struct bus_ops ide_cmd_ops = {
    .name = "ide", .read = ide_cmd_io_read, .write = ide_cmd_io_write, .byte_only = false,
};
static const struct bus_ops ide_ctl_ops = {
    .name = "ide-ctl", .read = ide_ctl_io_read, .write = ide_ctl_io_write, .byte_only = true,
};

uint32_t ide_port_read(struct ide *ide, uint16_t port, unsigned size)
{
    for (int i = 0; i < 2; i++) {
        if (port >= ide_cmd_base[i] && port < ide_cmd_base[i] + 8)
            return cmd_read(&ide->ch[i], port - ide_cmd_base[i], size);
        if (port == ide_ctl_port[i]) return ctl_read(&ide->ch[i]);
    }
    return 0xFFFFFFFFu >> (32 - 8 * size);
}

void ide_port_write(struct ide *ide, uint16_t port, uint32_t val, unsigned size)
{
    for (int i = 0; i < 2; i++) {
        if (port >= ide_cmd_base[i] && port < ide_cmd_base[i] + 8) {
            cmd_write(&ide->ch[i], port - ide_cmd_base[i], val, size);
            return;
        }
        if (port == ide_ctl_port[i]) { ctl_write(&ide->ch[i], (uint8_t)val); return; }
    }
}

/* ---- lifetime ------------------------------------------------------------------------------- */

static void geometry_default(struct ide_drive *d)
{
    uint64_t s = d->sectors;
    if (s >= 16ull * 63 * 16383) {
        d->cyls = 16383; d->heads = 16; d->spt = 63;
    } else {
        d->spt = s >= 63 ? 63 : (unsigned)s;
        if (d->spt == 0) d->spt = 1;
        uint64_t h = s / d->spt;
        d->heads = h >= 16 ? 16 : h ? (unsigned)h : 1;
        uint64_t cy = s / ((uint64_t)d->heads * d->spt);
        d->cyls = cy ? (unsigned)cy : 1;
    }
}

int ide_geometry(const struct ide *ide, int ch, int unit, unsigned *cyls, unsigned *heads,
                 unsigned *spt)
{
    if (!ide || ch < 0 || ch > 1 || unit < 0 || unit > 1) return -1;
    const struct ide_drive *d = &ide->ch[ch].drv[unit];
    if (!d->present || d->kind != IDE_HD) return -1;
    *cyls = d->cyls; *heads = d->heads; *spt = d->spt;
    return 0;
}

int ide_attach(struct ide *ide, int ch, int unit, enum ide_kind kind, struct disk *disk)
{
    if (!ide || ch < 0 || ch > 1 || unit < 0 || unit > 1) return -1;
    struct ide_drive *d = &ide->ch[ch].drv[unit];
    if (d->present || (kind == IDE_HD && !disk)) return -1;
    if (!d->buf) d->buf = calloc(1, IDE_BUF_SIZE);
    if (!d->buf) return -1;
    d->present = true;
    d->kind = kind;
    d->disk = disk;
    d->sectors = kind == IDE_HD ? disk_sectors(disk) : 0;
    geometry_default(d);
    drv_reset(d, true);
    return 0;
}

void ide_reset(struct ide *ide)
{
    for (int i = 0; i < 2; i++) {
        struct ide_channel *c = &ide->ch[i];
        c->devctl = 0;
        c->cur = 0;
        c->irq_pending = false;
        for (int u = 0; u < 2; u++)
            if (c->drv[u].present) drv_reset(&c->drv[u], true);
        chan_update_irq(c);
    }
}

struct ide *ide_new(struct bus *bus, const struct irq_line *irq14, const struct irq_line *irq15)
{
    struct ide *ide = calloc(1, sizeof *ide);
    if (!ide) return NULL;
    ide->bus = bus;
    for (int i = 0; i < 2; i++) {
        struct ide_channel *c = &ide->ch[i];
        c->ide = ide;
        c->idx = i;
        const struct irq_line *l = i ? irq15 : irq14;
        if (l) c->irq = *l;
        for (int u = 0; u < 2; u++) { c->drv[u].chan = c; c->drv[u].unit = u; }
    }
    if (bus) {
        bool ok = true;
        for (int i = 0; i < 2 && ok; i++) {
            if (bus_map_io(bus, ide_cmd_base[i], 8, &ide_cmd_ops, &ide->ch[i]) != 0) ok = false;
            else if (bus_map_io(bus, ide_ctl_port[i], 1, &ide_ctl_ops, &ide->ch[i]) != 0) {
                bus_unmap_io(bus, ide_cmd_base[i], 8);
                ok = false;
            }
            if (!ok) {
                for (int j = 0; j < i; j++) {
                    bus_unmap_io(bus, ide_cmd_base[j], 8);
                    bus_unmap_io(bus, ide_ctl_port[j], 1);
                }
                fprintf(stderr, "ide: legacy ports of channel %d already in use\n", i);
                free(ide);
                return NULL;
            }
        }
        ide->mapped = true;
    }
    return ide;
}

void ide_free(struct ide *ide)
{
    if (!ide) return;
    if (ide->mapped) {
        for (int i = 0; i < 2; i++) {
            bus_unmap_io(ide->bus, ide_cmd_base[i], 8);
            bus_unmap_io(ide->bus, ide_ctl_port[i], 1);
        }
    }
    for (int i = 0; i < 2; i++)
        for (int u = 0; u < 2; u++) free(ide->ch[i].drv[u].buf);
    free(ide);
}

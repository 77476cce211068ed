/* devices/disk.c - raw disk image back-ends (read-write, read-only, snapshot).
 *
 * Owns: the host file descriptor of one image and, in snapshot mode, the
 * overlay (an unlinked sparse temp file the size of the image and a
 * two-level bitmap with one bit per 512-byte sector, set once that sector
 * has been written; leaves of 32768 sectors are allocated on first write).
 * An advisory lock (flock) keeps two bt86 processes from writing one image:
 * exclusive for read-write, shared for read-only and snapshot.
 * Invariants: the image is opened without O_TRUNC/O_CREAT and never resized;
 * `sectors` is fixed at open; every request is checked against it before any
 * host I/O; snapshot mode never writes the image fd (opened O_RDONLY).
 */
#include "devices/disk.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#define OVL_LEAF_SECTORS 32768u   /* sectors per bitmap leaf (4 KiB of bits) */

struct disk {
    char *path;             /* image path, for messages                     */
    int fd;                 /* image fd (O_RDONLY unless DISK_RW)           */
    enum disk_mode mode;    /* RW / RO / SNAPSHOT                           */
    uint64_t sectors;       /* size in 512-byte sectors, fixed at open      */
    int ovl_fd;             /* snapshot overlay (unlinked temp file) or -1  */
    uint8_t **ovl_map;      /* snapshot: leaves of OVL_LEAF_SECTORS bits,
                               1 = sector is in the overlay; NULL leaf = none */
    size_t ovl_leaves;      /* number of leaf pointers                      */
};

static void disk_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void disk_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Make a sparse, already-unlinked temp file for the snapshot overlay. */
static int disk_overlay_create(void)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/bt86-snapshot-XXXXXX", dir);
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd >= 0) unlink(tmpl);
    return fd;
}

struct disk *disk_open(const char *path, enum disk_mode mode, unsigned flags,
                       char *err, size_t errlen)
{
    if (!path || !*path) {
        disk_err(err, errlen, "disk image: no file name given");
        return NULL;
    }
    int oflags = (mode == DISK_RW ? O_RDWR : O_RDONLY) | O_CLOEXEC;
    int fd = open(path, oflags);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            disk_err(err, errlen, "%s: disk image not found (no such file)", path);
        else if ((e == EACCES || e == EROFS || e == EPERM) && mode == DISK_RW)
            disk_err(err, errlen, "%s: cannot open disk image for writing: %s "
                     "(use -snapshot or a read-only drive)", path, strerror(e));
        else if (e == EISDIR)
            disk_err(err, errlen, "%s: is a directory, not a disk image", path);
        else
            disk_err(err, errlen, "%s: cannot open disk image: %s", path, strerror(e));
        return NULL;
    }
    struct stat st;
    uint64_t bytes;
    if (fstat(fd, &st) != 0) {
        disk_err(err, errlen, "%s: cannot stat disk image: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (S_ISREG(st.st_mode)) {
        bytes = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) {
            disk_err(err, errlen, "%s: cannot get block device size: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
    } else {
        disk_err(err, errlen, "%s: not a regular file or block device", path);
        close(fd);
        return NULL;
    }
    /* Probe readability now so an unreadable image fails at open, not at boot. */
    if (bytes > 0) {
        uint8_t probe[DISK_SECTOR];
        ssize_t n = pread(fd, probe, bytes < sizeof probe ? (size_t)bytes : sizeof probe, 0);
        if (n < 0) {
            disk_err(err, errlen, "%s: disk image is unreadable: %s", path, strerror(errno));
            close(fd);
            return NULL;
        }
    }
    if (bytes == 0 && !(flags & DISK_CDROM)) {
        disk_err(err, errlen, "%s: disk image is empty (0 bytes)", path);
        close(fd);
        return NULL;
    }
    if (bytes % DISK_SECTOR) {
        disk_err(err, errlen, "%s: disk image size %llu bytes is not a multiple of "
                 "512 bytes (the sector size)", path, (unsigned long long)bytes);
        close(fd);
        return NULL;
    }
    if (flock(fd, (mode == DISK_RW ? LOCK_EX : LOCK_SH) | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        disk_err(err, errlen, "%s: disk image is in use by another process (locked)", path);
        close(fd);
        return NULL;
    }
    struct disk *d = calloc(1, sizeof *d);
    if (!d) { close(fd); disk_err(err, errlen, "%s: out of memory", path); return NULL; }
    d->path = strdup(path);
    d->fd = fd;
    d->mode = mode;
    d->sectors = bytes / DISK_SECTOR;
    d->ovl_fd = -1;
    if (mode == DISK_SNAPSHOT) {
        d->ovl_fd = disk_overlay_create();
        d->ovl_leaves = (size_t)(d->sectors / OVL_LEAF_SECTORS + 1);
        d->ovl_map = calloc(d->ovl_leaves, sizeof *d->ovl_map);
        if (d->ovl_fd < 0 || !d->ovl_map) {
            disk_err(err, errlen, "%s: cannot create the -snapshot overlay file: %s",
                     path, strerror(errno));
            disk_close(d);
            return NULL;
        }
    }
    if (!d->path) { disk_close(d); disk_err(err, errlen, "out of memory"); return NULL; }
    return d;
}

void disk_close(struct disk *d)
{
    if (!d) return;
    if (d->fd >= 0) close(d->fd);
    if (d->ovl_fd >= 0) close(d->ovl_fd);   /* unlinked: its blocks go away */
    if (d->ovl_map)
        for (size_t i = 0; i < d->ovl_leaves; i++) free(d->ovl_map[i]);
    free(d->ovl_map);
    free(d->path);
    free(d);
}

uint64_t disk_sectors(const struct disk *d) { return d->sectors; }
uint64_t disk_size_bytes(const struct disk *d) { return d->sectors * DISK_SECTOR; }
bool disk_is_writable(const struct disk *d) { return d->mode != DISK_RO; }
const char *disk_path(const struct disk *d) { return d->path; }

static bool disk_in_range(const struct disk *d, uint64_t lba, uint32_t count)
{
    return lba <= d->sectors && count <= d->sectors - lba;
}

/* Full pread/pwrite (retries short transfers and EINTR). */
static int disk_pio(int fd, void *buf, size_t len, uint64_t off, bool wr)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = wr ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (n == 0) {
            if (wr) return -1;
            memset(p, 0, len);   /* sparse overlay end: zeros (cannot happen for image) */
            return 0;
        }
        p += n; len -= (size_t)n; off += (uint64_t)n;
    }
    return 0;
}

static bool ovl_test(const struct disk *d, uint64_t s)
{
    const uint8_t *leaf = d->ovl_map[s / OVL_LEAF_SECTORS];
    uint32_t i = (uint32_t)(s % OVL_LEAF_SECTORS);
    return leaf && (leaf[i >> 3] & (1u << (i & 7)));
}

int disk_read(struct disk *d, uint64_t lba, void *buf, uint32_t count)
{
    if (!disk_in_range(d, lba, count)) return -1;
    uint8_t *p = buf;
    if (d->mode != DISK_SNAPSHOT)
        return disk_pio(d->fd, p, (size_t)count * DISK_SECTOR, lba * DISK_SECTOR, false);
    /* Snapshot: runs of sectors from the same source. */
    uint32_t i = 0;
    while (i < count) {
        bool in_ovl = ovl_test(d, lba + i);
        uint32_t j = i + 1;
        while (j < count && ovl_test(d, lba + j) == in_ovl) j++;
        if (disk_pio(in_ovl ? d->ovl_fd : d->fd, p + (size_t)i * DISK_SECTOR,
                     (size_t)(j - i) * DISK_SECTOR, (lba + i) * DISK_SECTOR, false))
            return -1;
        i = j;
    }
    return 0;
}

int disk_write(struct disk *d, uint64_t lba, const void *buf, uint32_t count)
{
    if (!disk_in_range(d, lba, count) || d->mode == DISK_RO) return -1;
    size_t len = (size_t)count * DISK_SECTOR;
    if (d->mode == DISK_RW)
        return disk_pio(d->fd, (void *)buf, len, lba * DISK_SECTOR, true);
    /* Allocate the bitmap leaves first so a failure leaves no half state. */
    for (uint64_t s = lba; s < lba + count; s = (s / OVL_LEAF_SECTORS + 1) * OVL_LEAF_SECTORS) {
        uint8_t **leaf = &d->ovl_map[s / OVL_LEAF_SECTORS];
        if (!*leaf && !(*leaf = calloc(OVL_LEAF_SECTORS / 8, 1))) return -1;
    }
    if (disk_pio(d->ovl_fd, (void *)buf, len, lba * DISK_SECTOR, true)) return -1;
    for (uint64_t s = lba; s < lba + count; s++) {
        uint32_t i = (uint32_t)(s % OVL_LEAF_SECTORS);
        d->ovl_map[s / OVL_LEAF_SECTORS][i >> 3] |= (uint8_t)(1u << (i & 7));
    }
    return 0;
}

int disk_flush(struct disk *d)
{
    if (d->mode != DISK_RW) return 0;
    return fsync(d->fd) == 0 || errno == EINVAL ? 0 : -1;
}

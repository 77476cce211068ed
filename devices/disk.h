/* devices/disk.h - disk image back-ends for the IDE/ATAPI devices.
 *
 * Owns: one host image file (raw, 512-byte sectors) opened read-write,
 * read-only, or with -snapshot semantics (the image is opened read-only and
 * every write goes to a private overlay: an unlinked sparse temp file plus a
 * bitmap of overwritten sectors, dropped when the disk is closed or bt86
 * exits). Invariants: the image is never opened with O_TRUNC and never
 * ftruncate'd; every access is bounds-checked against the sector count fixed
 * at open time; a short host read/write is an error, never silent garbage.
 */
#ifndef BT86_DISK_H
#define BT86_DISK_H
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>

#define DISK_SECTOR 512u

enum disk_mode {
    DISK_RW,        /* writes go to the image; flush = fsync            */
    DISK_RO,        /* writes fail (the drive reports an error)         */
    DISK_SNAPSHOT,  /* writes go to a temporary overlay, image untouched */
};

/* Open flags beyond the mode. */
#define DISK_CDROM 1u   /* ISO image: size need only be a multiple of 512;
                           an empty file is accepted (no medium)         */

struct disk;

/* Open `path`. On failure returns NULL and writes a message that names the
 * file and the problem (missing, unreadable, empty, size not a multiple of
 * 512 bytes, not a regular file or block device) into err[errlen]. */
struct disk *disk_open(const char *path, enum disk_mode mode, unsigned flags,
                       char *err, size_t errlen) __attribute__((warn_unused_result));
void disk_close(struct disk *d);

uint64_t disk_sectors(const struct disk *d);     /* 512-byte sectors */
uint64_t disk_size_bytes(const struct disk *d);
bool disk_is_writable(const struct disk *d);     /* false only for DISK_RO */
const char *disk_path(const struct disk *d);

/* Sector I/O. Return 0, or -1 if [lba, lba+count) is past the end, the
 * disk is read-only (writes), or the host I/O failed. */
int disk_read(struct disk *d, uint64_t lba, void *buf, uint32_t count)
    __attribute__((warn_unused_result));
int disk_write(struct disk *d, uint64_t lba, const void *buf, uint32_t count)
    __attribute__((warn_unused_result));
/* Make written data durable: fsync the image (no-op for snapshot/RO). */
int disk_flush(struct disk *d) __attribute__((warn_unused_result));

#endif

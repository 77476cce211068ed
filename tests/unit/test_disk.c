/* tests/unit/test_disk.c - disk image back-ends: read-write round trips that
 * reach the host file, read-only refusal, -snapshot overlay leaving the image
 * untouched, bounds checks, and clear errors for malformed images. */
#include "tests/unit/test.h"
#include "devices/disk.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tdir[256];

static const char *tpath(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tdir, name);
    return buf;
}

/* Write a file of `len` bytes, byte i = (i * 7 + seed). */
static void make_file(const char *path, size_t len, unsigned seed)
{
    FILE *f = fopen(path, "wb");
    for (size_t i = 0; i < len; i++) fputc((int)((i * 7 + seed) & 0xFF), f);
    fclose(f);
}

static int file_byte(const char *path, long off)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, off, SEEK_SET);
    int c = fgetc(f);
    fclose(f);
    return c;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_rw_roundtrip(void)
{
    char err[256];
    const char *p = tpath("rw.img");
    make_file(p, 64 * 512, 1);
    struct disk *d = disk_open(p, DISK_RW, 0, err, sizeof err);
    EXPECT(d != NULL);
    if (!d) return;
    EXPECT_EQ(disk_sectors(d), 64);
    EXPECT(disk_is_writable(d));
    uint8_t buf[1024], back[1024];
    EXPECT_EQ(disk_read(d, 3, back, 1), 0);
    EXPECT_EQ(back[0], (3 * 512 * 7 + 1) & 0xFF);
    memset(buf, 0xA5, sizeof buf);
    buf[0] = 0x11; buf[1023] = 0x22;
    EXPECT_EQ(disk_write(d, 10, buf, 2), 0);
    EXPECT_EQ(disk_read(d, 10, back, 2), 0);
    EXPECT(memcmp(buf, back, sizeof buf) == 0);
    EXPECT_EQ(disk_flush(d), 0);
    /* The host file holds the data right away. */
    EXPECT_EQ(file_byte(p, 10 * 512), 0x11);
    EXPECT_EQ(file_byte(p, 12 * 512 - 1), 0x22);
    /* Bounds: the last sector works, one past fails, wrap-around fails. */
    EXPECT_EQ(disk_read(d, 63, back, 1), 0);
    EXPECT_EQ(disk_read(d, 63, back, 2), -1);
    EXPECT_EQ(disk_write(d, 64, buf, 1), -1);
    EXPECT_EQ(disk_read(d, UINT64_MAX, back, 2), -1);
    disk_close(d);
    EXPECT_EQ(file_size(p), 64 * 512);   /* never resized */
}

static void test_readonly(void)
{
    char err[256];
    const char *p = tpath("ro.img");
    make_file(p, 8 * 512, 2);
    struct disk *d = disk_open(p, DISK_RO, 0, err, sizeof err);
    EXPECT(d != NULL);
    if (!d) return;
    EXPECT(!disk_is_writable(d));
    uint8_t buf[512] = {0};
    EXPECT_EQ(disk_write(d, 0, buf, 1), -1);
    EXPECT_EQ(file_byte(p, 0), 2);
    disk_close(d);
}

static void test_snapshot(void)
{
    char err[256];
    const char *p = tpath("snap.img");
    make_file(p, 32 * 512, 3);
    struct disk *d = disk_open(p, DISK_SNAPSHOT, 0, err, sizeof err);
    EXPECT(d != NULL);
    if (!d) return;
    EXPECT(disk_is_writable(d));
    uint8_t buf[512 * 3], back[512 * 4];
    memset(buf, 0x5A, sizeof buf);
    EXPECT_EQ(disk_write(d, 5, buf, 3), 0);
    /* Read across overlay/image boundaries: sector 4 from image, 5-7 overlay. */
    EXPECT_EQ(disk_read(d, 4, back, 4), 0);
    EXPECT_EQ(back[0], (4 * 512 * 7 + 3) & 0xFF);
    EXPECT(memcmp(back + 512, buf, sizeof buf) == 0);
    EXPECT_EQ(disk_flush(d), 0);
    /* The image file itself is unchanged. */
    EXPECT_EQ(file_byte(p, 5 * 512), (5 * 512 * 7 + 3) & 0xFF);
    EXPECT_EQ(file_byte(p, 7 * 512 + 9), ((7 * 512 + 9) * 7 + 3) & 0xFF);
    disk_close(d);
    EXPECT_EQ(file_byte(p, 5 * 512), (5 * 512 * 7 + 3) & 0xFF);
    EXPECT_EQ(file_size(p), 32 * 512);
    /* A new open sees the original data: the overlay is gone. */
    d = disk_open(p, DISK_SNAPSHOT, 0, err, sizeof err);
    EXPECT(d != NULL);
    if (!d) return;
    EXPECT_EQ(disk_read(d, 5, back, 1), 0);
    EXPECT_EQ(back[0], (5 * 512 * 7 + 3) & 0xFF);
    disk_close(d);
}

static void test_bad_images(void)
{
    char err[256];
    err[0] = 0;
    EXPECT(disk_open(tpath("missing.img"), DISK_RW, 0, err, sizeof err) == NULL);
    EXPECT(strstr(err, "missing.img") != NULL);
    EXPECT(strstr(err, "not found") != NULL);

    const char *odd = tpath("odd.img");
    make_file(odd, 1000, 0);
    err[0] = 0;
    EXPECT(disk_open(odd, DISK_RW, 0, err, sizeof err) == NULL);
    EXPECT(strstr(err, "odd.img") != NULL);
    EXPECT(strstr(err, "multiple of 512") != NULL);
    EXPECT_EQ(file_size(odd), 1000);     /* not "fixed" by truncation */

    const char *empty = tpath("empty.img");
    make_file(empty, 0, 0);
    err[0] = 0;
    EXPECT(disk_open(empty, DISK_SNAPSHOT, 0, err, sizeof err) == NULL);
    EXPECT(strstr(err, "empty") != NULL);
    /* ...but an empty CD image means "no medium" and is accepted. */
    struct disk *d = disk_open(empty, DISK_RO, DISK_CDROM, err, sizeof err);
    EXPECT(d != NULL);
    if (d) { EXPECT_EQ(disk_sectors(d), 0); disk_close(d); }

    err[0] = 0;
    EXPECT(disk_open(tdir, DISK_RO, 0, err, sizeof err) == NULL);
    EXPECT(strstr(err, tdir) != NULL);

    if (geteuid() != 0) {   /* root can read anything */
        const char *nr = tpath("noread.img");
        make_file(nr, 512, 0);
        chmod(nr, 0);
        err[0] = 0;
        EXPECT(disk_open(nr, DISK_RO, 0, err, sizeof err) == NULL);
        EXPECT(strstr(err, "noread.img") != NULL);
        chmod(nr, 0600);
    }
}

static void test_lock_and_leaves(void)
{
    char err[256];
    const char *p = tpath("lock.img");
    make_file(p, 70000 * 512, 4);
    struct disk *a = disk_open(p, DISK_RW, 0, err, sizeof err);
    EXPECT(a != NULL);
    err[0] = 0;
    /* A second writer (or reader) is refused while the image is open read-write. */
    EXPECT(disk_open(p, DISK_RW, 0, err, sizeof err) == NULL);
    EXPECT(strstr(err, "in use") != NULL);
    EXPECT(disk_open(p, DISK_SNAPSHOT, 0, err, sizeof err) == NULL);
    disk_close(a);
    /* Two snapshot users share the image. */
    struct disk *s1 = disk_open(p, DISK_SNAPSHOT, 0, err, sizeof err);
    struct disk *s2 = disk_open(p, DISK_SNAPSHOT, 0, err, sizeof err);
    EXPECT(s1 != NULL && s2 != NULL);
    if (s1 && s2) {
        /* A write spanning two bitmap leaves (sectors 32767-32768). */
        uint8_t w[1024], r[2048];
        memset(w, 0xC3, sizeof w);
        EXPECT_EQ(disk_write(s1, 32767, w, 2), 0);
        EXPECT_EQ(disk_read(s1, 32766, r, 4), 0);
        EXPECT_EQ(r[0], (32766ull * 512 * 7 + 4) & 0xFF);
        EXPECT(memcmp(r + 512, w, 1024) == 0);
        EXPECT_EQ(r[1536], (32769ull * 512 * 7 + 4) & 0xFF);
        /* The other snapshot user does not see it. */
        EXPECT_EQ(disk_read(s2, 32767, r, 1), 0);
        EXPECT_EQ(r[0], (32767ull * 512 * 7 + 4) & 0xFF);
    }
    disk_close(s1);
    disk_close(s2);
    EXPECT_EQ(file_byte(p, 32767L * 512), (32767L * 512 * 7 + 4) & 0xFF);
}

int main(void)
{
    snprintf(tdir, sizeof tdir, "%s/bt86-disk-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tdir)) { printf("FAIL mkdtemp\n"); return 1; }
    RUN(test_rw_roundtrip);
    RUN(test_readonly);
    RUN(test_snapshot);
    RUN(test_bad_images);
    RUN(test_lock_and_leaves);
    const char *names[] = { "rw.img", "ro.img", "snap.img", "odd.img", "empty.img", "noread.img", "lock.img" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) unlink(tpath(names[i]));
    rmdir(tdir);
    return test_summary();
}

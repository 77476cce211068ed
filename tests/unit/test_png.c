/* tests/unit/test_png.c - PNG writer/reader round trip, CRCs, bad input. */
#include "tests/unit/test.h"
#include "devices/png.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void make_image(uint32_t *px, int w, int h)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            px[y * w + x] = ((x * 7) & 0xFF) << 16 | ((y * 13) & 0xFF) << 8 | ((x ^ y) & 0xFF);
}

/* The writer's chunks are well formed: signature, IHDR fields, and every
 * chunk's CRC matches zlib's crc32 over type + data. */
static void test_png_chunks_and_crc(void)
{
    enum { W = 37, H = 11 };
    uint32_t px[W * H];
    make_image(px, W, H);
    uint8_t *buf; size_t len;
    EXPECT_EQ(png_encode_xrgb(px, W, H, W, &buf, &len), 0);
    EXPECT(len > 8 + 25 + 12 + 12);
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', 13, 10, 26, 10 };
    EXPECT(memcmp(buf, sig, 8) == 0);
    size_t pos = 8;
    int n = 0;
    const char *want[3] = { "IHDR", "IDAT", "IEND" };
    while (pos + 12 <= len && n < 3) {
        uint32_t clen = be32(buf + pos);
        EXPECT(memcmp(buf + pos + 4, want[n], 4) == 0);
        uLong crc = crc32(crc32(0, Z_NULL, 0), buf + pos + 4, 4 + clen);
        EXPECT_EQ(be32(buf + pos + 8 + clen), (uint32_t)crc);
        if (n == 0) {
            EXPECT_EQ(clen, 13);
            EXPECT_EQ(be32(buf + pos + 8), W);
            EXPECT_EQ(be32(buf + pos + 12), H);
            EXPECT_EQ(buf[pos + 16], 8);   /* depth */
            EXPECT_EQ(buf[pos + 17], 2);   /* RGB */
        }
        pos += 12 + clen;
        n++;
    }
    EXPECT_EQ(n, 3);
    EXPECT_EQ(pos, len);
    free(buf);
}

/* Write a file, read it back: identical pixels; stride is honoured. */
static void test_png_roundtrip_file(void)
{
    enum { W = 64, H = 40, S = 80 };
    uint32_t *px = calloc(S * H, 4);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < S; x++)
            px[y * S + x] = x < W ? (uint32_t)(x * 4) << 16 | (uint32_t)(y * 6) << 8 | (uint32_t)((x + y) & 0xFF)
                                  : 0xDEADBEEF;
    char path[] = "/tmp/bt86-test-png-XXXXXX";
    int fd = mkstemp(path);
    EXPECT(fd >= 0);
    close(fd);
    char err[256];
    EXPECT_EQ(png_write_xrgb(path, px, W, H, S, err, sizeof err), 0);
    uint32_t *rd = NULL; int w = 0, h = 0;
    EXPECT_EQ(png_read_xrgb(path, &rd, &w, &h, err, sizeof err), 0);
    EXPECT_EQ(w, W);
    EXPECT_EQ(h, H);
    int bad = 0;
    for (int y = 0; rd && y < H; y++)
        for (int x = 0; x < W; x++)
            if (rd[y * W + x] != (px[y * S + x] & 0xFFFFFF)) bad++;
    EXPECT_EQ(bad, 0);
    free(rd);
    free(px);
    unlink(path);
}

/* The reader undoes all five filter types: a hand-built RGBA image whose rows
 * use filters 0..4 decodes to the expected pixels. */
static void test_png_reader_filters(void)
{
    enum { W = 3, H = 5, BPP = 4 };
    uint8_t want[H][W * BPP];
    for (int y = 0; y < H; y++)
        for (int i = 0; i < W * BPP; i++) want[y][i] = (uint8_t)(y * 31 + i * 17 + (i % 4) * 5);
    uint8_t raw[H * (1 + W * BPP)];
    for (int y = 0; y < H; y++) {
        uint8_t *r = raw + y * (1 + W * BPP);
        r[0] = (uint8_t)y;
        for (int i = 0; i < W * BPP; i++) {
            int a = i >= BPP ? want[y][i - BPP] : 0, b = y ? want[y - 1][i] : 0;
            int c = (y && i >= BPP) ? want[y - 1][i - BPP] : 0, pred = 0;
            if (y == 1) pred = a;
            else if (y == 2) pred = b;
            else if (y == 3) pred = (a + b) / 2;
            else if (y == 4) {
                int p = a + b - c, pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
                pred = (pa <= pb && pa <= pc) ? a : pb <= pc ? b : c;
            }
            r[1 + i] = (uint8_t)(want[y][i] - pred);
        }
    }
    uint8_t z[512]; uLongf zl = sizeof z;
    EXPECT_EQ(compress(z, &zl, raw, sizeof raw), Z_OK);
    uint8_t file[1024]; size_t pos = 0;
    static const uint8_t sig[8] = { 0x89, 'P', 'N', 'G', 13, 10, 26, 10 };
    memcpy(file, sig, 8); pos = 8;
    uint8_t ihdr[13] = { 0, 0, 0, W, 0, 0, 0, H, 8, 6, 0, 0, 0 };
    const struct { const char *t; const uint8_t *d; uint32_t l; } ch[3] = {
        { "IHDR", ihdr, 13 }, { "IDAT", z, (uint32_t)zl }, { "IEND", NULL, 0 } };
    for (int k = 0; k < 3; k++) {
        uint8_t *p = file + pos;
        p[0] = ch[k].l >> 24; p[1] = ch[k].l >> 16; p[2] = ch[k].l >> 8; p[3] = ch[k].l;
        memcpy(p + 4, ch[k].t, 4);
        if (ch[k].l) memcpy(p + 8, ch[k].d, ch[k].l);
        uint32_t crc = (uint32_t)crc32(crc32(0, Z_NULL, 0), p + 4, 4 + ch[k].l);
        p[8 + ch[k].l] = crc >> 24; p[9 + ch[k].l] = crc >> 16; p[10 + ch[k].l] = crc >> 8; p[11 + ch[k].l] = crc;
        pos += 12 + ch[k].l;
    }
    uint32_t *px = NULL; int w, h;
    char err[200];
    EXPECT_EQ(png_decode_xrgb(file, pos, &px, &w, &h, err, sizeof err), 0);
    EXPECT_EQ(w, W);
    EXPECT_EQ(h, H);
    int bad = 0;
    for (int y = 0; px && y < H; y++)
        for (int x = 0; x < W; x++) {
            const uint8_t *q = &want[y][x * BPP];
            if (px[y * W + x] != ((uint32_t)q[0] << 16 | (uint32_t)q[1] << 8 | q[2])) bad++;
        }
    EXPECT_EQ(bad, 0);
    free(px);
}

/* Corrupt input gives an error, never a crash: bad signature, flipped CRC,
 * truncated file, missing file. */
static void test_png_bad_input(void)
{
    uint32_t px[4 * 4];
    make_image(px, 4, 4);
    uint8_t *buf; size_t len;
    EXPECT_EQ(png_encode_xrgb(px, 4, 4, 4, &buf, &len), 0);
    uint32_t *out = NULL; int w, h;
    char err[256] = "";
    uint8_t *copy = malloc(len);
    memcpy(copy, buf, len);
    copy[0] = 0;
    EXPECT_EQ(png_decode_xrgb(copy, len, &out, &w, &h, err, sizeof err), -1);
    EXPECT(strstr(err, "signature") != NULL);
    memcpy(copy, buf, len);
    copy[8 + 8 + 2] ^= 1;                        /* IHDR data byte: CRC now wrong */
    EXPECT_EQ(png_decode_xrgb(copy, len, &out, &w, &h, err, sizeof err), -1);
    EXPECT(strstr(err, "CRC") != NULL);
    for (size_t cut = 0; cut < len; cut += 3)
        EXPECT_EQ(png_decode_xrgb(buf, cut, &out, &w, &h, err, sizeof err), -1);
    EXPECT_EQ(png_read_xrgb("/nonexistent/dir/x.png", &out, &w, &h, err, sizeof err), -1);
    EXPECT(strstr(err, "/nonexistent/dir/x.png") != NULL);
    EXPECT_EQ(png_encode_xrgb(px, 0, 4, 4, &buf, &len), -1);
    free(copy);
    free(buf);
}

int main(void)
{
    RUN(test_png_chunks_and_crc);
    RUN(test_png_roundtrip_file);
    RUN(test_png_reader_filters);
    RUN(test_png_bad_input);
    return test_summary();
}

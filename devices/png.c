/* devices/png.c - PNG writer and a small reader (see png.h).
 *
 * PNG facts used (PNG spec, 2nd ed., ISO/IEC 15948): signature 89 50 4E 47
 * 0D 0A 1A 0A; chunks are length (big endian), type, data, CRC-32 over type
 * and data; IHDR = width, height, bit depth, colour type (2 = RGB, 6 = RGBA),
 * compression 0, filter 0, interlace 0; IDAT is one zlib stream of filtered
 * scanlines, each prefixed with a filter byte (0 None, 1 Sub, 2 Up,
 * 3 Average, 4 Paeth, spec section 9). The writer uses filter 0 on every row
 * (simple and deterministic; zlib does the compression).
 */
#include "devices/png.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const uint8_t png_sig[8] = { 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A };

static void png_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24; p[1] = v >> 16; p[2] = v >> 8; p[3] = v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Append one chunk at *pos in buf (caller sized it). */
static void png_put_chunk(uint8_t *buf, size_t *pos, const char *type,
                          const uint8_t *data, uint32_t len)
{
    uint8_t *p = buf + *pos;
    put_be32(p, len);
    memcpy(p + 4, type, 4);
    if (len) memcpy(p + 8, data, len);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, p + 4, 4 + len);
    put_be32(p + 8 + len, (uint32_t)crc);
    *pos += 12 + len;
}

int png_encode_xrgb(const uint32_t *pixels, int width, int height, int stride,
                    uint8_t **out, size_t *out_len)
{
    if (!pixels || width <= 0 || height <= 0 || stride < width ||
        width > 32768 || height > 32768)
        return -1;
    size_t rowlen = 1 + (size_t)width * 3;
    size_t rawlen = rowlen * (size_t)height;
    uint8_t *raw = malloc(rawlen);
    if (!raw) return -1;
    for (int y = 0; y < height; y++) {
        uint8_t *r = raw + rowlen * y;
        const uint32_t *s = pixels + (size_t)stride * y;
        *r++ = 0;                                  /* filter type None */
        for (int x = 0; x < width; x++) {
            *r++ = s[x] >> 16; *r++ = s[x] >> 8; *r++ = s[x];
        }
    }
    uLongf zlen = compressBound(rawlen);
    uint8_t *z = malloc(zlen);
    if (!z) { free(raw); return -1; }
    if (compress2(z, &zlen, raw, rawlen, 6) != Z_OK) { free(raw); free(z); return -1; }
    free(raw);
    size_t total = 8 + (12 + 13) + (12 + zlen) + 12;
    uint8_t *buf = malloc(total);
    if (!buf) { free(z); return -1; }
    size_t pos = 0;
    memcpy(buf, png_sig, 8);
    pos = 8;
    uint8_t ihdr[13];
    put_be32(ihdr, width);
    put_be32(ihdr + 4, height);
    ihdr[8] = 8;      /* bit depth */
    ihdr[9] = 2;      /* colour type: truecolour RGB */
    ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
    png_put_chunk(buf, &pos, "IHDR", ihdr, 13);
    png_put_chunk(buf, &pos, "IDAT", z, (uint32_t)zlen);
    png_put_chunk(buf, &pos, "IEND", NULL, 0);
    free(z);
    *out = buf;
    *out_len = pos;
    return 0;
}

int png_write_xrgb(const char *path, const uint32_t *pixels, int width,
                   int height, int stride, char *err, size_t errlen)
{
    uint8_t *buf;
    size_t len;
    if (png_encode_xrgb(pixels, width, height, stride, &buf, &len) != 0) {
        png_err(err, errlen, "%s: cannot encode a %dx%d image", path, width, height);
        return -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        png_err(err, errlen, "%s: %s", path, strerror(errno));
        free(buf);
        return -1;
    }
    size_t n = fwrite(buf, 1, len, f);
    free(buf);
    if (n != len || fclose(f) != 0) {
        png_err(err, errlen, "%s: write failed: %s", path, strerror(errno));
        if (n != len) fclose(f);
        return -1;
    }
    return 0;
}

static int paeth(int a, int b, int c)
{
    int p = a + b - c;
    int pa = abs(p - a), pb = abs(p - b), pc = abs(p - c);
    if (pa <= pb && pa <= pc) return a;
    return pb <= pc ? b : c;
}

int png_decode_xrgb(const uint8_t *data, size_t len, uint32_t **pixels,
                    int *width, int *height, char *err, size_t errlen)
{
    if (len < 8 || memcmp(data, png_sig, 8) != 0) {
        png_err(err, errlen, "not a PNG file (bad signature)");
        return -1;
    }
    size_t pos = 8;
    uint32_t w = 0, h = 0;
    int ctype = -1, have_ihdr = 0, have_iend = 0;
    uint8_t *idat = NULL;
    size_t idat_len = 0;
    while (pos + 12 <= len) {
        uint32_t clen = get_be32(data + pos);
        const uint8_t *type = data + pos + 4;
        if (clen > len - pos - 12) {
            png_err(err, errlen, "chunk %.4s at offset %zu is truncated", type, pos);
            goto fail;
        }
        const uint8_t *cdata = data + pos + 8;
        uint32_t crc = get_be32(cdata + clen);
        if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), type, 4 + clen) != crc) {
            png_err(err, errlen, "chunk %.4s at offset %zu has a bad CRC", type, pos);
            goto fail;
        }
        if (!memcmp(type, "IHDR", 4)) {
            if (clen != 13) { png_err(err, errlen, "IHDR has length %u", clen); goto fail; }
            w = get_be32(cdata); h = get_be32(cdata + 4);
            ctype = cdata[9];
            if (cdata[8] != 8 || (ctype != 2 && ctype != 6) || cdata[10] || cdata[11] || cdata[12]) {
                png_err(err, errlen, "unsupported PNG format (depth %u, colour type %u, interlace %u): "
                        "only 8-bit RGB/RGBA non-interlaced", cdata[8], cdata[9], cdata[12]);
                goto fail;
            }
            if (w == 0 || h == 0 || w > 32768 || h > 32768) {
                png_err(err, errlen, "bad image size %ux%u", w, h);
                goto fail;
            }
            have_ihdr = 1;
        } else if (!memcmp(type, "IDAT", 4)) {
            uint8_t *n = realloc(idat, idat_len + clen + 1);
            if (!n) { png_err(err, errlen, "out of memory"); goto fail; }
            idat = n;
            memcpy(idat + idat_len, cdata, clen);
            idat_len += clen;
        } else if (!memcmp(type, "IEND", 4)) {
            have_iend = 1;
            break;
        } else if (!(type[0] & 0x20)) {
            png_err(err, errlen, "unknown critical chunk %.4s", type);
            goto fail;
        }
        pos += 12 + clen;
    }
    if (!have_ihdr || !idat || !have_iend) {
        png_err(err, errlen, "missing %s chunk", !have_ihdr ? "IHDR" : !idat ? "IDAT" : "IEND");
        goto fail;
    }
    {
        unsigned bpp = ctype == 6 ? 4 : 3;
        size_t rowlen = (size_t)w * bpp;
        uLongf rawlen = (rowlen + 1) * h;
        uint8_t *raw = malloc(rawlen);
        uint32_t *px = malloc((size_t)w * h * 4);
        if (!raw || !px) {
            free(raw); free(px);
            png_err(err, errlen, "out of memory");
            goto fail;
        }
        uLongf got = rawlen;
        if (uncompress(raw, &got, idat, idat_len) != Z_OK || got != rawlen) {
            free(raw); free(px);
            png_err(err, errlen, "IDAT data does not decompress to %ux%u pixels", w, h);
            goto fail;
        }
        uint8_t *prev = NULL;
        for (uint32_t y = 0; y < h; y++) {
            uint8_t *row = raw + y * (rowlen + 1);
            uint8_t f = row[0];
            uint8_t *cur = row + 1;
            for (size_t i = 0; i < rowlen; i++) {
                int a = i >= bpp ? cur[i - bpp] : 0;
                int b = prev ? prev[i] : 0;
                int c = (prev && i >= bpp) ? prev[i - bpp] : 0;
                switch (f) {
                case 0: break;
                case 1: cur[i] += a; break;
                case 2: cur[i] += b; break;
                case 3: cur[i] += (a + b) / 2; break;
                case 4: cur[i] += paeth(a, b, c); break;
                default:
                    free(raw); free(px);
                    png_err(err, errlen, "row %u has bad filter type %u", y, f);
                    goto fail;
                }
            }
            for (uint32_t x = 0; x < w; x++) {
                const uint8_t *p = cur + x * bpp;
                px[(size_t)y * w + x] = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
            }
            prev = cur;
        }
        free(raw);
        free(idat);
        *pixels = px;
        *width = (int)w;
        *height = (int)h;
        return 0;
    }
fail:
    free(idat);
    return -1;
}

int png_read_xrgb(const char *path, uint32_t **pixels, int *width,
                  int *height, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        png_err(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > ((size_t)1 << 30)) { fclose(f); free(buf); png_err(err, errlen, "%s: file too large", path); return -1; }
            uint8_t *n = realloc(buf, cap);
            if (!n) { fclose(f); free(buf); png_err(err, errlen, "%s: out of memory", path); return -1; }
            buf = n;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr) { free(buf); png_err(err, errlen, "%s: read error", path); return -1; }
    char e2[200] = "";
    int r = png_decode_xrgb(buf, len, pixels, width, height, e2, sizeof e2);
    free(buf);
    if (r) png_err(err, errlen, "%s: %s", path, e2);
    return r;
}

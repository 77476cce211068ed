/* devices/png.h - a small PNG writer and reader (zlib).
 *
 * Owns: encoding 32-bit XRGB frames (0x00RRGGBB, as devices/vga.c renders)
 * into 8-bit RGB PNG files (IHDR, one IDAT, IEND, CRC-32 per chunk), and
 * decoding the simple PNGs tests compare against (8-bit RGB or RGBA,
 * non-interlaced, all five filter types). The reader returns XRGB pixels
 * (alpha dropped). Errors never crash: functions return -1 and, when
 * `err` is non-NULL, write a message naming the file and the problem.
 */
#ifndef BT86_PNG_H
#define BT86_PNG_H
#include <stdint.h>
#include <stddef.h>

/* Encode width x height XRGB pixels (row stride `stride` pixels) into a
 * malloc'ed PNG byte buffer. Returns 0 and sets *out and *out_len, or -1. */
int png_encode_xrgb(const uint32_t *pixels, int width, int height, int stride,
                    uint8_t **out, size_t *out_len)
    __attribute__((warn_unused_result));

/* Write a PNG file. Returns 0, or -1 with a message in err (may be NULL). */
int png_write_xrgb(const char *path, const uint32_t *pixels, int width,
                   int height, int stride, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Decode an in-memory PNG (8-bit RGB/RGBA, non-interlaced) into malloc'ed
 * XRGB pixels (stride == width). Returns 0, or -1 with a message in err. */
int png_decode_xrgb(const uint8_t *data, size_t len, uint32_t **pixels,
                    int *width, int *height, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Read a PNG file; like png_decode_xrgb. */
int png_read_xrgb(const char *path, uint32_t **pixels, int *width,
                  int *height, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

/* tests/unit/test_vga.c - VGA register-level tests.
 *
 * Modes are set the way a BIOS does it: write the misc output register,
 * reset and program the sequencer, unlock and program the CRTC, program the
 * graphics controller, then the attribute controller after resetting its
 * flip-flop through input status 1, and load the DAC. The register tables
 * below are the documented values of the standard modes 03h, 12h and 13h.
 * The font is generated here from each glyph's code (we ship no font).
 * The text screen is compared with tests/unit/golden/vga_text_mode3.png;
 * set BT86_REGEN_GOLDEN=1 to rewrite it (then look at it before committing).
 */
#include "tests/unit/test.h"
#include "devices/vga.h"
#include "devices/png.h"
#include "devices/bus.h"
#include "monitor/display_sdl.h"
#include <SDL.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------ */

struct test_clock { uint64_t ns; };
static uint64_t test_clock_now(void *opaque) { return ((struct test_clock *)opaque)->ns; }

static struct vga *g_vga;     /* the device under test for the helpers below */
static void outb(uint16_t port, uint8_t v) { vga_ioport_write(g_vga, port, v, 1); }
static void outw(uint16_t port, uint16_t v) { vga_ioport_write(g_vga, port, v, 2); }
static uint8_t inb(uint16_t port) { return (uint8_t)vga_ioport_read(g_vga, port, 1); }
static uint16_t inw(uint16_t port) { return (uint16_t)vga_ioport_read(g_vga, port, 2); }
static void memb(uint32_t a, uint8_t v) { vga_mem_write(g_vga, a, v, 1); }
static uint8_t rdmemb(uint32_t a) { return (uint8_t)vga_mem_read(g_vga, a, 1); }

struct vga_mode_regs {
    uint8_t misc;
    uint8_t seq[5];
    uint8_t crtc[25];
    uint8_t gr[9];
    uint8_t ar[21];
};

/* Mode 03h: 80x25 text, 9x16 cells, 720x400. */
static const struct vga_mode_regs mode03 = {
    0x67,
    { 0x03, 0x00, 0x03, 0x00, 0x02 },
    { 0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E, 0x00,
      0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3, 0xFF },
    { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF },
    { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C,
      0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08, 0x00 },
};
/* Mode 12h: 640x480, 16 colours, planar. */
static const struct vga_mode_regs mode12 = {
    0xE3,
    { 0x03, 0x01, 0x0F, 0x00, 0x06 },
    { 0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0x0B, 0x3E, 0x00, 0x40, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0xEA, 0x8C, 0xDF, 0x28, 0x00, 0xE7, 0x04, 0xE3, 0xFF },
    { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0F, 0xFF },
    { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B, 0x3C,
      0x3D, 0x3E, 0x3F, 0x01, 0x00, 0x0F, 0x00, 0x00 },
};
/* Mode 04h: 320x200, 4 colours, CGA layout (odd lines at +0x2000). */
static const struct vga_mode_regs mode04 = {
    0x63,
    { 0x03, 0x09, 0x03, 0x00, 0x02 },
    { 0x2D, 0x27, 0x28, 0x90, 0x2B, 0x80, 0xBF, 0x1F, 0x00, 0xC1, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x14, 0x00, 0x96, 0xB9, 0xA2, 0xFF },
    { 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x0F, 0x00, 0xFF },
    { 0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14,
      0x15, 0x16, 0x17, 0x01, 0x00, 0x03, 0x00, 0x00 },
};
/* Mode 13h: 320x200, 256 colours, chain-4. */
static const struct vga_mode_regs mode13 = {
    0x63,
    { 0x03, 0x01, 0x0F, 0x00, 0x0E },
    { 0x5F, 0x4F, 0x50, 0x82, 0x54, 0x80, 0xBF, 0x1F, 0x00, 0x41, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x40, 0x96, 0xB9, 0xA3, 0xFF },
    { 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0F, 0xFF },
    { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A, 0x0B, 0x0C,
      0x0D, 0x0E, 0x0F, 0x41, 0x00, 0x0F, 0x00, 0x00 },
};

/* The EGA-compatible 64-colour DAC palette (each of R, G, B is 2 bits:
 * primary 0x2A + secondary 0x15). */
static void dac_ega(uint8_t rgb[3], unsigned i)
{
    rgb[0] = ((i >> 2) & 1) * 0x2A + ((i >> 5) & 1) * 0x15;
    rgb[1] = ((i >> 1) & 1) * 0x2A + ((i >> 4) & 1) * 0x15;
    rgb[2] = (i & 1) * 0x2A + ((i >> 3) & 1) * 0x15;
}

static uint32_t c6to8(uint8_t r, uint8_t g, uint8_t b)
{
    return (uint32_t)(r << 2 | r >> 4) << 16 | (uint32_t)(g << 2 | g >> 4) << 8 | (uint32_t)(b << 2 | b >> 4);
}

static void set_mode(const struct vga_mode_regs *m)
{
    outb(0x3C2, m->misc);
    outw(0x3C4, 0x0100);                             /* synchronous reset */
    for (unsigned i = 1; i < 5; i++) outw(0x3C4, (uint16_t)(m->seq[i] << 8 | i));
    outw(0x3C4, 0x0300);
    uint16_t crtc = (m->misc & 1) ? 0x3D4 : 0x3B4;
    outb(crtc, 0x11);
    outb(crtc + 1, inb(crtc + 1) & 0x7F);           /* unlock CR00-CR07 */
    for (unsigned i = 0; i < 25; i++) {
        uint8_t v = m->crtc[i];
        if (i == 0x11) v &= 0x7F;                    /* keep unlocked until done */
        outw(crtc, (uint16_t)(v << 8 | i));
    }
    for (unsigned i = 0; i < 9; i++) outw(0x3CE, (uint16_t)(m->gr[i] << 8 | i));
    (void)inb((m->misc & 1) ? 0x3DA : 0x3BA);        /* flip-flop -> index */
    for (unsigned i = 0; i < 21; i++) { outb(0x3C0, (uint8_t)i); outb(0x3C0, m->ar[i]); }
    outb(0x3C0, 0x20);                               /* palette to the display */
    outb(0x3C8, 0);
    for (unsigned i = 0; i < 256; i++) {
        uint8_t rgb[3];
        if (m == &mode13) { rgb[0] = (uint8_t)(i & 0x3F); rgb[1] = (uint8_t)((i * 3) & 0x3F); rgb[2] = (uint8_t)(63 - (i & 0x3F)); }
        else dac_ega(rgb, i & 63);
        outb(0x3C9, rgb[0]); outb(0x3C9, rgb[1]); outb(0x3C9, rgb[2]);
    }
    outb(crtc, 0x11);
    outb(crtc + 1, m->crtc[0x11]);                   /* relock as the table says */
}

/* Our deterministic 8x16 font: a frame around each cell's centre whose
 * inside shows the high nibble (rows 3-6) and low nibble (rows 8-11) as
 * 2-pixel bars; space is empty, 0xDB a full block, 0xC4 a horizontal line. */
static uint8_t font_row(unsigned c, unsigned line)
{
    if (c == 0x20 || c == 0) return 0;
    if (c == 0xDB) return 0xFF;
    if (c == 0xC4) return line == 8 ? 0xFF : 0;
    if (line == 1 || line == 13) return 0x7E;
    if (line == 0 || line >= 14) return 0;
    unsigned nib = line <= 6 ? c >> 4 : c & 15;
    if (line == 2 || line == 7 || line == 12) return 0x42;
    uint8_t r = 0x42;
    for (unsigned b = 0; b < 4; b++)
        if (nib & (8u >> b)) r |= (uint8_t)(0x20 >> b);
    return r;
}

/* Load a font into plane 2 at character map `map` (0..7) as a BIOS does
 * (int 10h AX=1100h): sequential planar access to plane 2, A0000 64K. */
static void load_font(unsigned map, uint8_t (*glyph)(unsigned, unsigned))
{
    outw(0x3C4, 0x0402);   /* map mask: plane 2 */
    outw(0x3C4, 0x0704);   /* memory mode: sequential, extended */
    outw(0x3CE, 0x0204);   /* read map 2 */
    outw(0x3CE, 0x0005);   /* write mode 0, no odd/even */
    outw(0x3CE, 0x0406);   /* A0000 64K, graphics addressing */
    uint32_t base = 0xA0000 + ((map & 3) * 2 + (map >> 2)) * 8192;
    for (unsigned c = 0; c < 256; c++)
        for (unsigned l = 0; l < 32; l++) memb(base + c * 32 + l, l < 16 ? glyph(c, l) : 0);
    outw(0x3C4, 0x0302);
    outw(0x3C4, 0x0204);
    outw(0x3CE, 0x0004);
    outw(0x3CE, 0x1005);
    outw(0x3CE, 0x0E06);   /* B8000 32K, odd/even */
}

static void put_text(unsigned row, unsigned col, const char *s, uint8_t attr)
{
    for (unsigned i = 0; s[i]; i++) {
        uint32_t a = 0xB8000 + (row * 80 + col + i) * 2;
        memb(a, (uint8_t)s[i]);
        memb(a + 1, attr);
    }
}

static struct vga *new_vga(struct test_clock *clk)
{
    struct vga *v = vga_new(0);
    EXPECT(v != NULL);
    if (v) vga_set_clock(v, test_clock_now, clk);
    g_vga = v;
    return v;
}

static const char *golden_path(char *buf, size_t n)
{
    const char *root = getenv("BT86_ROOT");
    snprintf(buf, n, "%s/tests/unit/golden/vga_text_mode3.png", root ? root : ".");
    return buf;
}

static void setup_text_screen(void)
{
    set_mode(&mode03);
    load_font(0, font_row);
    for (unsigned i = 0; i < 80 * 25; i++) { memb(0xB8000 + i * 2, ' '); memb(0xB8001 + i * 2, 0x07); }
    put_text(0, 0, "bt86 VGA text mode 3", 0x1F);
    put_text(1, 0, "Hello, world!", 0x07);
    for (unsigned i = 0; i < 16; i++) {
        char s[2] = { (char)('0' + i), 0 };
        put_text(3, i * 4, s, (uint8_t)(i << 4 | (15 - i)));   /* all fg/bg pairs */
    }
    put_text(5, 0, "\xDB\xDB\xC4\xC4\xC4\xDB", 0x0E);           /* 9th column repeats C4 */
    put_text(6, 0, "blink", 0x8C);                            /* blink bit set, visible at t=0 */
    for (unsigned c = 0; c < 256; c++) {                       /* the whole character set */
        uint32_t a = 0xB8000 + ((8 + c / 64) * 80 + (c % 64)) * 2;
        memb(a, (uint8_t)c); memb(a + 1, 0x0A);
    }
    outw(0x3D4, 0x000E);                                       /* cursor at row 1, col 13 */
    outw(0x3D4, (uint16_t)((80 + 13) << 8 | 0x0F));
}

/* ---- tests -------------------------------------------------------------- */

/* Mode 3 text screen rendered exactly like the committed golden image. */
static void test_vga_text_mode3_golden(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    setup_text_screen();
    struct vga_frame f;
    vga_render(v, &f);
    EXPECT(strcmp(f.mode, "text") == 0);
    EXPECT_EQ(f.width, 720);
    EXPECT_EQ(f.height, 400);
    /* Spot checks independent of the golden image: row 0 is white on blue. */
    uint32_t blue = c6to8(0, 0, 0x2A), white = c6to8(0x3F, 0x3F, 0x3F);
    EXPECT_EQ(f.pixels[0], blue);                       /* 'b' cell line 0: background */
    EXPECT_EQ(f.pixels[1 * f.stride + 1], white);       /* line 1 = 0x7E, pixel 1 set */
    EXPECT_EQ(f.pixels[1 * f.stride + 8], blue);        /* 9th column of a letter: bg */
    /* Row 5: 0xC4 line graphics char repeats its 8th pixel into column 9. */
    uint32_t yellow = c6to8(0x3F, 0x3F, 0x15);
    EXPECT_EQ(f.pixels[(5 * 16 + 8) * f.stride + 2 * 9 + 8], yellow);
    /* Cursor (CR0A=0x0D, CR0B=0x0E) at row 1 col 13: lines 13-14 in light grey. */
    uint32_t grey = c6to8(0x2A, 0x2A, 0x2A);
    EXPECT_EQ(f.pixels[(16 + 13) * f.stride + 13 * 9 + 4], grey);
    EXPECT_EQ(f.pixels[(16 + 12) * f.stride + 13 * 9 + 4], 0);

    char path[512], err[512];
    golden_path(path, sizeof path);
    if (getenv("BT86_REGEN_GOLDEN")) {
        EXPECT_EQ(png_write_xrgb(path, f.pixels, f.width, f.height, f.stride, err, sizeof err), 0);
        printf("  wrote %s\n", path);
    }
    uint32_t *gold = NULL; int gw = 0, gh = 0;
    int r = png_read_xrgb(path, &gold, &gw, &gh, err, sizeof err);
    if (r) printf("  %s\n", err);
    EXPECT_EQ(r, 0);
    if (!r) {
        EXPECT_EQ(gw, f.width);
        EXPECT_EQ(gh, f.height);
        int diff = 0, first = -1;
        for (int y = 0; gw == f.width && gh == f.height && y < gh; y++)
            for (int x = 0; x < gw; x++)
                if (gold[y * gw + x] != f.pixels[y * f.stride + x]) { if (first < 0) first = y * gw + x; diff++; }
        if (diff) printf("  %d pixels differ from the golden image (first at x=%d y=%d)\n", diff, first % gw, first / gw);
        EXPECT_EQ(diff, 0);
    }
    free(gold);
    vga_free(v);
}

/* Cursor and blinking text follow the clock; the generation counter moves
 * with the blink phase only in text mode. */
static void test_vga_cursor_and_blink(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    setup_text_screen();
    struct vga_frame f;
    uint32_t grey = c6to8(0x2A, 0x2A, 0x2A), red = c6to8(0x3F, 0x15, 0x15);
    vga_render(v, &f);
    size_t cur = (size_t)(16 + 13) * f.stride + 13 * 9 + 4;
    size_t blk = (size_t)(6 * 16 + 1) * f.stride + 1;       /* 'b' of "blink", line 1 */
    EXPECT_EQ(f.pixels[cur], grey);
    EXPECT_EQ(f.pixels[blk], red);
    uint64_t g0 = vga_generation(v);
    EXPECT_EQ(vga_generation(v), g0);                          /* nothing happened */
    clk.ns = 8 * 16683333ull + 1000;                             /* 8 frames: cursor off */
    EXPECT(vga_generation(v) != g0);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[cur], 0);
    EXPECT_EQ(f.pixels[blk], red);
    clk.ns = 16 * 16683333ull + 1000;                            /* 16 frames: text blinks off */
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[cur], grey);
    EXPECT_EQ(f.pixels[blk], 0);                               /* fg shown as bg (black) */
    /* AR10 bit 3 clear: bit 7 is background intensity, no blinking. */
    (void)inb(0x3DA);
    outb(0x3C0, 0x10); outb(0x3C0, 0x04); outb(0x3C0, 0x20);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[blk], red);
    EXPECT_EQ(f.pixels[(size_t)(6 * 16) * f.stride], c6to8(0x15, 0x15, 0x15)); /* bg 8: dark grey */
    /* Cursor disabled by CR0A bit 5. */
    clk.ns = 0;
    outw(0x3D4, 0x2D0A);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[cur], 0);
    vga_free(v);
}

/* SR03 character map select: attribute bit 3 picks map A, else map B. */
static void test_vga_char_map_select(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    set_mode(&mode03);
    load_font(0, font_row);
    load_font(5, font_row);
    /* Overwrite glyph 'A' in map 5 (offset 24K) with a full block. */
    outw(0x3C4, 0x0402); outw(0x3C4, 0x0704); outw(0x3CE, 0x0005); outw(0x3CE, 0x0406);
    for (unsigned l = 0; l < 16; l++) memb(0xA0000 + 24 * 1024 + 'A' * 32 + l, 0xFF);
    outw(0x3C4, 0x0302); outw(0x3C4, 0x0204); outw(0x3CE, 0x1005); outw(0x3CE, 0x0E06);
    put_text(0, 0, "A", 0x07);    /* bit 3 clear: map B */
    put_text(0, 1, "A", 0x0F);    /* bit 3 set: map A */
    /* Map A = 5 (bits 5,3,2 = 1,0,1), map B = 0. */
    outw(0x3C4, 0x2403);
    struct vga_frame f;
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[0 * f.stride + 0], 0);                              /* map 0 'A' row 0 empty */
    EXPECT_EQ(f.pixels[0 * f.stride + 9], c6to8(0x3F, 0x3F, 0x3F));        /* map 5 'A' is a block */
    EXPECT_EQ(inb(0x3C5), 0x24);
    vga_free(v);
}

/* Mode 13h: chain-4 bytes at A0000 + y*320 + x are pixels through the DAC. */
static void test_vga_mode13h(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    set_mode(&mode13);
    for (unsigned y = 0; y < 200; y++)
        for (unsigned x = 0; x < 320; x++) memb(0xA0000 + y * 320 + x, (uint8_t)(x + y * 7));
    outb(0x3C8, 200);                                   /* a distinct colour */
    outb(0x3C9, 0x3F); outb(0x3C9, 0x00); outb(0x3C9, 0x20);
    memb(0xA0000 + 199 * 320 + 319, 200);
    struct vga_frame f;
    vga_render(v, &f);
    EXPECT(strcmp(f.mode, "256") == 0);
    EXPECT_EQ(f.width, 320);
    EXPECT_EQ(f.height, 200);
    int bad = 0;
    for (unsigned y = 0; y < 199; y++)
        for (unsigned x = 0; x < 320; x++) {
            uint8_t i = (uint8_t)(x + y * 7);
            uint32_t want = i == 200 ? c6to8(0x3F, 0, 0x20) : c6to8(i & 0x3F, (i * 3) & 0x3F, 63 - (i & 0x3F));
            if (f.pixels[y * f.stride + x] != want) bad++;
        }
    EXPECT_EQ(bad, 0);
    EXPECT_EQ(f.pixels[199 * f.stride + 319], c6to8(0x3F, 0, 0x20));
    EXPECT_EQ(rdmemb(0xA0000 + 5 * 320 + 17), (uint8_t)(17 + 35));   /* chain-4 read back */
    /* Chain-4 plane mapping: byte 6 is plane 2, planar offset 4. */
    EXPECT_EQ(vga_vram(v)[4 * 4 + 2], 6);
    /* PEL mask 0x0F folds indexes. */
    outb(0x3C6, 0x0F);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[0 * f.stride + 0x13], c6to8(3, 9, 60));
    vga_free(v);
}

/* Mode 12h planar writes: write mode 2 with a bit mask, write mode 0 with
 * set/reset, write mode 1 latch copies, read modes 0 and 1. */
static void test_vga_planar_write_modes(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    set_mode(&mode12);
    /* Write mode 2: colour 0x0C (light red) into pixels 2-5 of byte 0 of line 10. */
    uint32_t a = 0xA0000 + 10 * 80;
    outw(0x3CE, 0x0205);                 /* write mode 2 */
    outw(0x3CE, 0x3C08);                 /* bit mask 00111100 */
    (void)rdmemb(a);                     /* load latches (all zero) */
    memb(a, 0x0C);
    outw(0x3CE, 0xFF08);
    outw(0x3CE, 0x0005);
    for (unsigned p = 0; p < 4; p++) {   /* read mode 0, each plane */
        outw(0x3CE, (uint16_t)(p << 8 | 0x04));
        EXPECT_EQ(rdmemb(a), (0x0C >> p) & 1 ? 0x3C : 0x00);
    }
    struct vga_frame f;
    vga_render(v, &f);
    EXPECT(strcmp(f.mode, "planar") == 0);
    EXPECT_EQ(f.width, 640);
    EXPECT_EQ(f.height, 480);
    uint32_t lred = c6to8(0x3F, 0x15, 0x15);
    for (unsigned x = 0; x < 8; x++)
        EXPECT_EQ(f.pixels[10 * f.stride + x], (x >= 2 && x <= 5) ? lred : 0);
    /* Write mode 2 with ALU XOR against the latches: pixels 2-3 become 0x0C^0x03. */
    outw(0x3CE, 0x0205); outw(0x3CE, 0x1803); outw(0x3CE, 0x3008);
    (void)rdmemb(a);
    memb(a, 0x03);
    outw(0x3CE, 0x0003); outw(0x3CE, 0xFF08); outw(0x3CE, 0x0005);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[10 * f.stride + 2], c6to8(0x3F, 0x3F, 0x3F));   /* 0x0F white */
    EXPECT_EQ(f.pixels[10 * f.stride + 4], lred);
    /* Write mode 0 with set/reset: colour 1 (blue) in all of byte 1 regardless of data. */
    outw(0x3CE, 0x0100); outw(0x3CE, 0x0F01);
    memb(a + 1, 0xA5);
    outw(0x3CE, 0x0001);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[10 * f.stride + 8], c6to8(0, 0, 0x2A));
    EXPECT_EQ(f.pixels[10 * f.stride + 15], c6to8(0, 0, 0x2A));
    /* Write mode 0 plain data with map mask = plane 1 only: 0xA5 pattern in green. */
    outw(0x3C4, 0x0202);
    memb(a + 2, 0xA5);
    outw(0x3C4, 0x0F02);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[10 * f.stride + 16], c6to8(0, 0x2A, 0));
    EXPECT_EQ(f.pixels[10 * f.stride + 17], 0);
    /* Write mode 1: copy byte 0's four planes to line 20 through the latches. */
    (void)rdmemb(a);
    outw(0x3CE, 0x0105);
    memb(0xA0000 + 20 * 80, 0x00);
    outw(0x3CE, 0x0005);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[20 * f.stride + 2], c6to8(0x3F, 0x3F, 0x3F));
    EXPECT_EQ(f.pixels[20 * f.stride + 5], lred);
    /* Read mode 1: colour compare for 0x0C: pixels 4,5 match -> bits 3,2 set. */
    outw(0x3CE, 0x0805); outw(0x3CE, 0x0C02); outw(0x3CE, 0x0F07);
    EXPECT_EQ(rdmemb(a), 0x0C);
    outw(0x3CE, 0x0007);                 /* don't care about any plane: all match */
    EXPECT_EQ(rdmemb(a), 0xFF);
    outw(0x3CE, 0x0005); outw(0x3CE, 0x0F07);
    /* Rotate: data 0x81 rotated right by 1 = 0xC0, plane 0 only. */
    outw(0x3C4, 0x0102); outw(0x3CE, 0x0103);
    memb(a + 3, 0x81);
    outw(0x3CE, 0x0003); outw(0x3C4, 0x0F02);
    outw(0x3CE, 0x0004);
    EXPECT_EQ(rdmemb(a + 3), 0xC0);
    /* Write mode 3: set/reset colour through (rotated data & bit mask). */
    outw(0x3CE, 0x0E00); outw(0x3CE, 0x0305);
    memb(0xA0000 + 30 * 80, 0xF0);
    outw(0x3CE, 0x0005);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[30 * f.stride + 0], c6to8(0x3F, 0x3F, 0x15));   /* 0x0E yellow */
    EXPECT_EQ(f.pixels[30 * f.stride + 4], 0);
    /* ALU OR (pixels 4-5: 0x0C | 0x01 = 0x0D) and AND (pixels 2-3: 0x0F & 0x06). */
    outw(0x3CE, 0x0205); outw(0x3CE, 0x1003); outw(0x3CE, 0x0C08);
    (void)rdmemb(a);
    memb(a, 0x01);
    outw(0x3CE, 0x0803); outw(0x3CE, 0x3008);
    (void)rdmemb(a);
    memb(a, 0x06);
    outw(0x3CE, 0x0003); outw(0x3CE, 0xFF08); outw(0x3CE, 0x0005);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[10 * f.stride + 4], c6to8(0x3F, 0x15, 0x3F));
    EXPECT_EQ(f.pixels[10 * f.stride + 2], c6to8(0x2A, 0x15, 0));
    EXPECT_EQ(f.pixels[10 * f.stride + 6], 0);
    vga_free(v);
}

/* DAC: write index, R/G/B auto-increment, read index, state and masking. */
static void test_vga_dac(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    outb(0x3C8, 0x10);
    EXPECT_EQ(inb(0x3C7), 0);             /* write mode */
    for (unsigned i = 0; i < 6; i++) outb(0x3C9, (uint8_t)(0x40 | (i * 7)));  /* bit 6 dropped */
    EXPECT_EQ(inb(0x3C8), 0x12);          /* two entries written */
    outb(0x3C7, 0x10);
    EXPECT_EQ(inb(0x3C7), 3);             /* read mode */
    for (unsigned i = 0; i < 6; i++) EXPECT_EQ(inb(0x3C9), i * 7);
    EXPECT_EQ(inb(0x3C9), 0);             /* entry 0x12 is still black */
    /* A partial triple is not committed until the third write. */
    outb(0x3C8, 0x20);
    outb(0x3C9, 1); outb(0x3C9, 2);
    outb(0x3C7, 0x20);
    EXPECT_EQ(inb(0x3C9), 0);
    outb(0x3C8, 0x20);
    outb(0x3C9, 1); outb(0x3C9, 2); outb(0x3C9, 3);
    outb(0x3C7, 0x20);
    EXPECT_EQ(inb(0x3C9), 1); EXPECT_EQ(inb(0x3C9), 2); EXPECT_EQ(inb(0x3C9), 3);
    /* Index wraps at 255. */
    outb(0x3C8, 0xFF);
    for (unsigned i = 0; i < 3; i++) outb(0x3C9, 0x11);
    EXPECT_EQ(inb(0x3C8), 0x00);
    outb(0x3C6, 0x5A);
    EXPECT_EQ(inb(0x3C6), 0x5A);
    vga_free(v);
}

/* Attribute controller: 3C0 alternates index/data; reading 3DA resets it. */
static void test_vga_attr_flipflop(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    outb(0x3C2, 0x67);
    (void)inb(0x3DA);
    outb(0x3C0, 0x05); outb(0x3C0, 0x2A);      /* AR05 = 0x2A */
    outb(0x3C0, 0x06); outb(0x3C0, 0x15);      /* AR06 = 0x15 */
    outb(0x3C0, 0x05);
    EXPECT_EQ(inb(0x3C0), 0x05);
    EXPECT_EQ(inb(0x3C1), 0x2A);
    (void)inb(0x3DA);                          /* flip-flop now expects an index */
    outb(0x3C0, 0x06);
    EXPECT_EQ(inb(0x3C1), 0x15);
    outb(0x3C0, 0x3F);                         /* data: AR06 = 0x3F */
    outb(0x3C0, 0x26);                         /* index 6 with PAS */
    EXPECT_EQ(inb(0x3C0), 0x26);
    EXPECT_EQ(inb(0x3C1), 0x3F);
    /* Without a 3DA read the next write would be data: */
    outb(0x3C0, 0x01);                         /* data for AR06 */
    outb(0x3C0, 0x26);
    EXPECT_EQ(inb(0x3C1), 0x01);
    /* The mono status port does nothing while in colour mode... */
    EXPECT_EQ(inb(0x3BA), 0xFF);
    outb(0x3C0, 0x3F);                         /* data */
    outb(0x3C0, 0x26);                         /* index */
    EXPECT_EQ(inb(0x3C1), 0x3F);
    /* ...and resets the flip-flop in mono mode. */
    outb(0x3C2, 0x66);
    outb(0x3C0, 0x07);                         /* index? no: data (flip-flop was data) */
    (void)inb(0x3BA);
    outb(0x3C0, 0x26);
    EXPECT_EQ(inb(0x3C0), 0x26);
    EXPECT_EQ(inb(0x3C1), 0x07);
    /* AR index without PAS blanks the screen. */
    (void)inb(0x3BA);
    outb(0x3C0, 0x00);
    struct vga_frame f;
    vga_render(v, &f);
    EXPECT(strcmp(f.mode, "blank") == 0);
    vga_free(v);
}

/* CRTC ports follow misc bit 0; CR11 bit 7 write-protects CR00-CR07. */
static void test_vga_crtc_select_and_protect(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    outb(0x3C2, 0x67);                          /* colour: 3Dx */
    outw(0x3D4, 0x550C);
    outb(0x3D4, 0x0C);
    EXPECT_EQ(inb(0x3D5), 0x55);
    EXPECT_EQ(inb(0x3B5), 0xFF);
    outw(0x3B4, 0x660C);                        /* ignored */
    outb(0x3D4, 0x0C);
    EXPECT_EQ(inb(0x3D5), 0x55);
    EXPECT_EQ(inb(0x3CC), 0x67);
    outb(0x3C2, 0x66);                          /* mono: 3Bx */
    outb(0x3B4, 0x0C);
    EXPECT_EQ(inb(0x3B5), 0x55);
    EXPECT_EQ(inb(0x3D5), 0xFF);
    outb(0x3C2, 0x67);
    outw(0x3D4, 0x0111); outw(0x3D4, 0x8111);   /* protect */
    outw(0x3D4, 0x1201);
    outw(0x3D4, 0x1F07);
    outb(0x3D4, 0x01);
    EXPECT_EQ(inb(0x3D5), 0x00);
    outb(0x3D4, 0x07);
    EXPECT_EQ(inb(0x3D5), 0x10);                /* only bit 4 got through */
    outw(0x3D4, 0x0111);
    outw(0x3D4, 0x1201);
    outb(0x3D4, 0x01);
    EXPECT_EQ(inb(0x3D5), 0x12);
    /* Sequencer and graphics indexes/masks. */
    outw(0x3C4, 0xFF04);
    EXPECT_EQ(inb(0x3C5), 0x0E);
    outw(0x3CE, 0xFF05);
    EXPECT_EQ(inb(0x3CF), 0x7B);
    EXPECT_EQ(inb(0x3CE), 0x05);
    /* Feature control: written at 3DA, read at 3CA. */
    outb(0x3DA, 0x03);
    EXPECT_EQ(inb(0x3CA), 0x03);
    vga_free(v);
}

/* Input status 1: a retrace polling loop ends even with a frozen clock. */
static void test_vga_retrace_polling(void)
{
    struct test_clock clk = { 5000000 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    outb(0x3C2, 0x67);
    int n = 0;
    while ((inb(0x3DA) & 8) && n < 1000000) n++;      /* wait for the end of retrace */
    while (!(inb(0x3DA) & 8) && n < 1000000) n++;     /* wait for retrace */
    EXPECT(n < 1000000);
    int m = 0;
    while ((inb(0x3DA) & 8) && m < 1000000) m++;
    EXPECT(m > 10 && m < 1000000);                     /* retrace lasts a while */
    int de = 0;                                        /* display-enable bit toggles */
    uint8_t last = inb(0x3DA) & 1;
    for (int i = 0; i < 200; i++) { uint8_t b = inb(0x3DA) & 1; if (b != last) de++; last = b; }
    EXPECT(de >= 2);
    vga_free(v);
}

static void dispi_w(uint16_t idx, uint16_t val) { outw(0x1CE, idx); outw(0x1CF, val); }
static uint16_t dispi_r(uint16_t idx) { outw(0x1CE, idx); return inw(0x1CF); }

/* Bochs VBE: ID handshake, caps, 32 bpp mode with LFB writes, offsets,
 * banked window, 16 and 8 bpp, disable back to VGA. */
static void test_vga_dispi(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    const struct bus_ops *lfb = vga_lfb_ops();
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_ID), VBE_DISPI_ID5);
    dispi_w(VBE_DISPI_INDEX_ID, 0xB0C2);
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_ID), 0xB0C2);
    dispi_w(VBE_DISPI_INDEX_ID, 0x1234);               /* bad IDs are ignored */
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_ID), 0xB0C2);
    dispi_w(VBE_DISPI_INDEX_ID, 0xB0C5);
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_VIDEO_MEMORY_64K), 256);
    dispi_w(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_GETCAPS);
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_XRES), VBE_DISPI_MAX_XRES);
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_BPP), 32);
    dispi_w(VBE_DISPI_INDEX_ENABLE, 0);
    /* The sequence Linux's bochs DRM driver uses. */
    memset(vga_vram(v), 0x77, 4096);
    dispi_w(VBE_DISPI_INDEX_BPP, 32);
    dispi_w(VBE_DISPI_INDEX_XRES, 800);
    dispi_w(VBE_DISPI_INDEX_YRES, 600);
    dispi_w(VBE_DISPI_INDEX_BANK, 0);
    dispi_w(VBE_DISPI_INDEX_VIRT_WIDTH, 800);
    dispi_w(VBE_DISPI_INDEX_VIRT_HEIGHT, 600);
    dispi_w(VBE_DISPI_INDEX_X_OFFSET, 0);
    dispi_w(VBE_DISPI_INDEX_Y_OFFSET, 0);
    dispi_w(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_XRES), 800);
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_VIRT_HEIGHT), (16u << 20) / (800 * 4));
    EXPECT_EQ(vga_vram(v)[0], 0);                        /* memory cleared */
    uint64_t g0 = vga_generation(v);
    for (unsigned y = 0; y < 600; y++)
        for (unsigned x = 0; x < 800; x++)
            lfb->write(v, (y * 800 + x) * 4, (x & 0xFF) << 16 | (y & 0xFF) << 8 | ((x + y) & 0xFF), 4);
    EXPECT(vga_generation(v) != g0);
    EXPECT_EQ(lfb->read(v, (3 * 800 + 2) * 4, 4), 2u << 16 | 3u << 8 | 5);
    struct vga_frame f;
    vga_render(v, &f);
    EXPECT(strcmp(f.mode, "dispi") == 0);
    EXPECT_EQ(f.width, 800);
    EXPECT_EQ(f.height, 600);
    int bad = 0;
    for (unsigned y = 0; y < 600; y++)
        for (unsigned x = 0; x < 800; x++)
            if (f.pixels[y * f.stride + x] != ((x & 0xFF) << 16 | (y & 0xFF) << 8 | ((x + y) & 0xFF))) bad++;
    EXPECT_EQ(bad, 0);
    /* Panning: Y offset 10 shows line 10 at the top. */
    dispi_w(VBE_DISPI_INDEX_Y_OFFSET, 10);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[0], 10u << 8 | 10);
    dispi_w(VBE_DISPI_INDEX_Y_OFFSET, 0);
    /* Banked window: bank 1 at A0000 is VRAM offset 64K. */
    dispi_w(VBE_DISPI_INDEX_BANK, 1);
    vga_mem_write(v, 0xA0000, 0x00FFFFFF, 4);
    EXPECT_EQ(lfb->read(v, 65536, 4), 0x00FFFFFF);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[16384], 0x00FFFFFF);             /* 64K / 4 bytes per pixel */
    EXPECT_EQ(vga_mem_read(v, 0xA0000, 4), 0x00FFFFFF);
    /* 16 bpp: a 5-6-5 pixel. */
    dispi_w(VBE_DISPI_INDEX_ENABLE, 0);
    dispi_w(VBE_DISPI_INDEX_BPP, 16);
    dispi_w(VBE_DISPI_INDEX_XRES, 640);
    dispi_w(VBE_DISPI_INDEX_YRES, 480);
    dispi_w(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED | VBE_DISPI_NOCLEARMEM);
    lfb->write(v, 0, 0xF800, 2);                      /* pure red */
    lfb->write(v, 2, 0x07E0, 2);                      /* pure green */
    vga_render(v, &f);
    EXPECT_EQ(f.width, 640);
    EXPECT_EQ(f.pixels[0], 0xFF0000);
    EXPECT_EQ(f.pixels[1], 0x00FF00);
    /* 8 bpp through the DAC (6-bit), then the 8-bit DAC. */
    dispi_w(VBE_DISPI_INDEX_ENABLE, 0);
    dispi_w(VBE_DISPI_INDEX_BPP, 8);
    dispi_w(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED);
    outb(0x3C8, 9); outb(0x3C9, 0x3F); outb(0x3C9, 0x20); outb(0x3C9, 0x00);
    lfb->write(v, 5, 9, 1);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[5], c6to8(0x3F, 0x20, 0));
    dispi_w(VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_LFB_ENABLED | VBE_DISPI_8BIT_DAC);
    outb(0x3C8, 9); outb(0x3C9, 0xC8); outb(0x3C9, 0x10); outb(0x3C9, 0x80);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[5], 0xC81080);
    /* Out-of-range LFB accesses are ignored / read as ones. */
    lfb->write(v, (uint32_t)vga_vram_size(v), 0x12345678, 4);
    EXPECT_EQ(lfb->read(v, (uint32_t)vga_vram_size(v), 4), 0xFFFFFFFF);
    /* Disable: back to the VGA. */
    dispi_w(VBE_DISPI_INDEX_ENABLE, 0);
    vga_render(v, &f);
    EXPECT(strcmp(f.mode, "dispi") != 0);
    /* The PCI BAR2 register window reaches the same registers. */
    const struct bus_ops *mm = vga_mmio_ops();
    mm->write(v, 0x500 + 2 * VBE_DISPI_INDEX_XRES, 1024, 2);
    EXPECT_EQ(dispi_r(VBE_DISPI_INDEX_XRES), 1024);
    EXPECT_EQ(mm->read(v, 0x500 + 2 * VBE_DISPI_INDEX_ID, 2), VBE_DISPI_ID5);
    mm->write(v, 0x408, 0x33, 1);                      /* 0x3C8 */
    EXPECT_EQ(inb(0x3C8), 0x33);
    vga_set_lfb_base(v, 0xFD000000);
    EXPECT_EQ(vga_lfb_base(v), 0xFD000000);
    vga_free(v);
}

/* Garbage in every register never makes rendering read out of bounds (run
 * under ASan by `make asan`) and always yields a frame. */
static void test_vga_register_fuzz(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    uint32_t s = 12345;
    int frames = 0;
    for (int round = 0; round < 300; round++) {
        for (int k = 0; k < 40; k++) {
            s = s * 1103515245 + 12345;
            uint16_t port = (uint16_t)(0x3B0 + ((s >> 16) % 0x30));
            s = s * 1103515245 + 12345;
            if (port == 0x3C2) continue;
            outb(port, (uint8_t)(s >> 16));
        }
        outb(0x3C2, (round & 1) ? 0x67 : 0x66);
        (void)inb(0x3DA); (void)inb(0x3BA);
        outb(0x3C0, 0x20);
        outb(0x3C4, 1); outb(0x3C5, inb(0x3C5) & ~0x20);
        struct vga_frame f;
        vga_render(v, &f);
        if (f.pixels && f.width > 0 && f.height > 0 && f.width <= 4096 && f.height <= 4096) frames++;
        if (round % 3 == 0) {
            s = s * 1103515245 + 12345;
            dispi_w(VBE_DISPI_INDEX_XRES, (uint16_t)(s >> 16));
            dispi_w(VBE_DISPI_INDEX_VIRT_WIDTH, (uint16_t)(s >> 8));
            dispi_w(VBE_DISPI_INDEX_Y_OFFSET, (uint16_t)s);
            dispi_w(VBE_DISPI_INDEX_ENABLE, (round & 2) ? 0x41 : 0);
            vga_render(v, &f);
            if (f.pixels && f.width > 0) frames++;
        }
    }
    EXPECT_EQ(frames, 400);
    vga_free(v);
}

/* vga_screenshot writes a PNG that reads back as the rendered frame. */
static void test_vga_screenshot(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    set_mode(&mode13);
    memb(0xA0000 + 321, 7);
    char path[] = "/tmp/bt86-vga-shot-XXXXXX.png";
    int fd = mkstemps(path, 4);
    EXPECT(fd >= 0);
    if (fd >= 0) close(fd);
    char err[300];
    EXPECT_EQ(vga_screenshot(v, path, err, sizeof err), 0);
    uint32_t *px = NULL; int w = 0, h = 0;
    EXPECT_EQ(png_read_xrgb(path, &px, &w, &h, err, sizeof err), 0);
    EXPECT_EQ(w, 320);
    EXPECT_EQ(h, 200);
    if (px) EXPECT_EQ(px[321], c6to8(7, 21, 56));
    free(px);
    unlink(path);
    EXPECT_EQ(vga_screenshot(v, "/nonexistent-dir/x.png", err, sizeof err), -1);
    EXPECT(strstr(err, "/nonexistent-dir/x.png") != NULL);
    vga_free(v);
}


/* Through the bus: 16-bit index/data writes split into bytes, DISPI word
 * ports, the text window at B8000, and a second attach fails (overlap). */
static void test_vga_on_bus(void)
{
    struct bus *bus = bus_new();
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!bus || !v) return;
    EXPECT_EQ(vga_attach(v, bus), 0);
    bus_io_write(bus, 0x3C2, 0x67, 1);
    bus_io_write(bus, 0x3D4, 0x340E, 2);            /* CR0E = 0x34 */
    bus_io_write(bus, 0x3D4, 0x0E, 1);
    EXPECT_EQ(bus_io_read(bus, 0x3D5, 1), 0x34);
    EXPECT_EQ(bus_io_read(bus, 0x3D4, 2), 0x340E);
    bus_io_write(bus, 0x1CE, VBE_DISPI_INDEX_ID, 2);
    EXPECT_EQ(bus_io_read(bus, 0x1CF, 2), VBE_DISPI_ID5);
    bus_io_write(bus, 0x1CE, VBE_DISPI_INDEX_VIDEO_MEMORY_64K, 2);
    EXPECT_EQ(bus_io_read(bus, 0x1CF, 2), 256);
    /* Text memory through MMIO in odd/even mode. */
    bus_io_write(bus, 0x3C4, 0x0302, 2);
    bus_io_write(bus, 0x3C4, 0x0204, 2);
    bus_io_write(bus, 0x3CE, 0x1005, 2);
    bus_io_write(bus, 0x3CE, 0x0E06, 2);
    bus_io_write(bus, 0x3CE, 0xFF08, 2);            /* bit mask: all from the CPU */
    EXPECT(bus_mmio_write(bus, 0xB8000, 0x1F41, 2));
    uint32_t val = 0;
    EXPECT(bus_mmio_read(bus, 0xB8000, 2, &val));
    EXPECT_EQ(val, 0x1F41);
    EXPECT_EQ(vga_vram(v)[0], 0x41);                  /* plane 0: character */
    EXPECT_EQ(vga_vram(v)[1], 0x1F);                  /* plane 1: attribute */
    EXPECT(bus_mmio_read(bus, 0xA0000, 1, &val));     /* outside the B8000 map */
    EXPECT_EQ(val, 0xFF);
    struct vga *v2 = vga_new(256 << 10);
    EXPECT(v2 != NULL);
    if (v2) { EXPECT_EQ(vga_attach(v2, bus), -1); vga_free(v2); }
    EXPECT(vga_new(1000) == NULL);                     /* bad VRAM size */
    bus_free(bus);
    vga_free(v);
}


/* Text: CR08 preset row scan scrolls by scanlines; monochrome attributes
 * underline on the CR14 line. Graphics: AR13 pixel panning and the CR18
 * line-compare split screen. */
static void test_vga_scroll_pan_split(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    set_mode(&mode03);
    load_font(0, font_row);
    for (unsigned i = 0; i < 80 * 25; i++) { memb(0xB8000 + i * 2, ' '); memb(0xB8001 + i * 2, 0x07); }
    put_text(1, 0, "\xDB", 0x07);
    put_text(0, 2, " ", 0x01);                            /* underline candidate */
    outw(0x3D4, 0x200A);                                  /* cursor off */
    struct vga_frame f;
    uint32_t grey = c6to8(0x2A, 0x2A, 0x2A);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[13 * f.stride + 0], 0);
    EXPECT_EQ(f.pixels[16 * f.stride + 0], grey);
    outw(0x3D4, 0x0308);                                  /* preset row scan 3 */
    vga_render(v, &f);
    EXPECT_EQ(f.height, 400);
    EXPECT_EQ(f.pixels[13 * f.stride + 0], grey);
    EXPECT_EQ(f.pixels[12 * f.stride + 0], 0);
    outw(0x3D4, 0x0008);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[15 * f.stride + 18], 0);           /* colour: no underline */
    (void)inb(0x3DA); outb(0x3C0, 0x30); outb(0x3C0, 0x0E);   /* AR10: mono attributes */
    outw(0x3D4, 0x0F14);                                  /* underline on line 15 */
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[15 * f.stride + 18], c6to8(0, 0, 0x2A));
    EXPECT_EQ(f.pixels[14 * f.stride + 18], 0);

    set_mode(&mode12);
    outw(0x3C4, 0x0102);                                  /* plane 0 only */
    memb(0xA0000, 0x40);                                  /* pixel 1 blue */
    outw(0x3C4, 0x0F02);
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[0], 0);
    EXPECT_EQ(f.pixels[1], c6to8(0, 0, 0x2A));
    (void)inb(0x3DA); outb(0x3C0, 0x33); outb(0x3C0, 0x01);   /* pan by 1 pixel */
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[0], c6to8(0, 0, 0x2A));
    EXPECT_EQ(f.pixels[1], 0);
    (void)inb(0x3DA); outb(0x3C0, 0x33); outb(0x3C0, 0x00);
    /* Split at scanline 99: line 100 shows memory from address 0 again. */
    outw(0x3D4, 0x0C11);                                  /* unlock */
    outw(0x3D4, 0x6318);                                  /* CR18 = 99 */
    outw(0x3D4, 0x2E07);                                  /* CR07 = 0x3E & ~0x10 */
    outw(0x3D4, 0x0009);                                  /* CR09 bit 6 clear */
    outw(0x3D4, 0x100C);                                  /* start address 0x1000 */
    vga_render(v, &f);
    EXPECT_EQ(f.pixels[100 * f.stride + 1], c6to8(0, 0, 0x2A));
    EXPECT_EQ(f.pixels[99 * f.stride + 1], 0);
    EXPECT_EQ(f.pixels[0 * f.stride + 1], 0);             /* top half starts at 0x1000 */
    vga_free(v);
}

/* Mode 04h: 2 bits per pixel packed, even/odd bytes in planes 0/1, odd
 * scanlines from B8000+0x2000 (row scan drives MA13). */
static void test_vga_cga_mode4(void)
{
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    if (!v) return;
    set_mode(&mode04);
    memb(0xB8000, 0xE4);              /* pixels 0..3 = 3, 2, 1, 0 */
    memb(0xB8001, 0x40);              /* pixel 4 = 1 */
    memb(0xBA000, 0xC0);              /* line 1, pixel 0 = 3 */
    memb(0xB8050, 0x80);              /* line 2, pixel 0 = 2 */
    struct vga_frame f;
    vga_render(v, &f);
    EXPECT_EQ(f.width, 320);
    EXPECT_EQ(f.height, 200);
    uint8_t rgb[3];
    uint32_t col[4];
    for (unsigned i = 0; i < 4; i++) { dac_ega(rgb, mode04.ar[i]); col[i] = c6to8(rgb[0], rgb[1], rgb[2]); }
    EXPECT_EQ(f.pixels[0], col[3]);
    EXPECT_EQ(f.pixels[1], col[2]);
    EXPECT_EQ(f.pixels[2], col[1]);
    EXPECT_EQ(f.pixels[3], col[0]);
    EXPECT_EQ(f.pixels[4], col[1]);
    EXPECT_EQ(f.pixels[1 * f.stride + 0], col[3]);
    EXPECT_EQ(f.pixels[2 * f.stride + 0], col[2]);
    EXPECT_EQ(f.pixels[3 * f.stride + 0], col[0]);
    vga_free(v);
}

/* ---- the SDL front-end (no real display here) ---------------------------- */

/* With no $DISPLAY/$WAYLAND_DISPLAY the machine must fall back to
 * --display none (SDL itself would happily pick its offscreen driver). */
static void test_display_sdl_fallback(void)
{
    char *disp = getenv("DISPLAY") ? strdup(getenv("DISPLAY")) : NULL;
    char *way = getenv("WAYLAND_DISPLAY") ? strdup(getenv("WAYLAND_DISPLAY")) : NULL;
    char *drv = getenv("SDL_VIDEODRIVER") ? strdup(getenv("SDL_VIDEODRIVER")) : NULL;
    unsetenv("DISPLAY"); unsetenv("WAYLAND_DISPLAY"); unsetenv("SDL_VIDEODRIVER");
    EXPECT(!display_sdl_available());
    setenv("DISPLAY", "", 1);                           /* empty counts as unset */
    EXPECT(!display_sdl_available());
    unsetenv("DISPLAY");
    if (disp) { setenv("DISPLAY", disp, 1); free(disp); }
    if (way) { setenv("WAYLAND_DISPLAY", way, 1); free(way); }
    if (drv) { setenv("SDL_VIDEODRIVER", drv, 1); free(drv); }
}

/* SDL scancode -> set 2 make codes (IBM/Microsoft tables). */
static void test_display_sdl_keycodes(void)
{
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_A), 0x1C);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_Z), 0x1A);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_1), 0x16);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_0), 0x45);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_RETURN), 0x5A);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_ESCAPE), 0x76);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_F1), 0x05);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_F7), 0x83);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_F10), 0x09);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_UP), 0xE075);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_RCTRL), 0xE014);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_RALT), 0xE011);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_KP_ENTER), 0xE05A);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_KP_DIVIDE), 0xE04A);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_LSHIFT), 0x12);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_RSHIFT), 0x59);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_PRINTSCREEN), 0xE07C);
    EXPECT_EQ(display_sdl_keycode(SDL_SCANCODE_PAUSE), 0xE11477);
    EXPECT_EQ(display_sdl_keycode(0), 0);
    EXPECT_EQ(display_sdl_keycode(100000), 0);
    /* No two keys of a standard 104-key board share a code. */
    static uint8_t seen[0x10000];
    memset(seen, 0, sizeof seen);
    int dup = 0, n = 0;
    for (unsigned sc = SDL_SCANCODE_A; sc <= SDL_SCANCODE_RGUI; sc++) {
        if (sc == SDL_SCANCODE_NONUSHASH || (sc > SDL_SCANCODE_KP_PERIOD && sc < SDL_SCANCODE_LCTRL)) continue;
        uint32_t c = display_sdl_keycode(sc);
        if (!c || c > 0xFFFF) continue;
        if (seen[c]) dup++;
        seen[c] = 1;
        n++;
    }
    EXPECT_EQ(dup, 0);
    EXPECT(n >= 100);
}

struct key_log { uint32_t code[16]; bool down[16]; int n; int mouse_dx, mouse_dy, mouse_dz; unsigned buttons; int mouse_n; };
static void log_key(void *o, uint32_t code, bool down)
{
    struct key_log *l = o;
    if (l->n < 16) { l->code[l->n] = code; l->down[l->n] = down; }
    l->n++;
}
static void log_mouse(void *o, int dx, int dy, int dz, unsigned b)
{
    struct key_log *l = o;
    l->mouse_dx += dx; l->mouse_dy += dy; l->mouse_dz += dz; l->buttons = b; l->mouse_n++;
}
static void push_key(unsigned sc, bool down)
{
    SDL_Event e;
    memset(&e, 0, sizeof e);
    e.type = down ? SDL_KEYDOWN : SDL_KEYUP;
    e.key.state = down ? SDL_PRESSED : SDL_RELEASED;
    e.key.keysym.scancode = (SDL_Scancode)sc;
    SDL_PushEvent(&e);
}

/* The window itself, on SDL's dummy video driver (no display, no GL):
 * events reach the callbacks as set-2 codes, F12 saves a PNG, the title carries engine and MIPS. */
static void test_display_sdl_offscreen(void)
{
    char *drv = getenv("SDL_VIDEODRIVER") ? strdup(getenv("SDL_VIDEODRIVER")) : NULL;
    setenv("SDL_VIDEODRIVER", "dummy", 1);
    struct test_clock clk = { 0 };
    struct vga *v = new_vga(&clk);
    char err[300] = "";
    char dir[] = "/tmp/bt86-test-shots-XXXXXX";
    bool have_dir = mkdtemp(dir) != NULL;
    EXPECT(have_dir);
    struct display_sdl *d = (v && have_dir && display_sdl_available()) ? display_sdl_new(v, dir, err, sizeof err) : NULL;
    if (!d) {
        printf("  cannot open a window on SDL's dummy driver: %s\n", err);
        EXPECT(d != NULL);
    } else {
        set_mode(&mode13);
        memb(0xA0000, 5);
        struct key_log log;
        memset(&log, 0, sizeof log);
        display_sdl_set_key_handler(d, log_key, &log);
        display_sdl_set_mouse_handler(d, log_mouse, &log);
        display_sdl_set_status(d, "bt", 12.5);
        EXPECT(strcmp(display_sdl_title(d), "bt86 - bt - 12.5 MIPS") == 0);
        EXPECT(display_sdl_poll(d));
        push_key(SDL_SCANCODE_A, true);
        push_key(SDL_SCANCODE_A, false);
        push_key(SDL_SCANCODE_UP, true);
        push_key(SDL_SCANCODE_B, false);               /* break without make: dropped */
        push_key(SDL_SCANCODE_F12, true);              /* screenshot, not sent */
        push_key(SDL_SCANCODE_F12, false);
        EXPECT(display_sdl_poll(d));
        EXPECT_EQ(log.n, 3);
        EXPECT_EQ(log.code[0], 0x1C); EXPECT(log.down[0]);
        EXPECT_EQ(log.code[1], 0x1C); EXPECT(!log.down[1]);
        EXPECT_EQ(log.code[2], 0xE075); EXPECT(log.down[2]);
        /* Losing focus releases the held cursor key. */
        SDL_Event e;
        memset(&e, 0, sizeof e);
        e.type = SDL_WINDOWEVENT;
        e.window.event = SDL_WINDOWEVENT_FOCUS_LOST;
        SDL_PushEvent(&e);
        EXPECT(display_sdl_poll(d));
        EXPECT_EQ(log.n, 4);
        EXPECT_EQ(log.code[3], 0xE075); EXPECT(!log.down[3]);
        const char *shot = display_sdl_last_screenshot(d);
        EXPECT(shot[0] != 0);
        uint32_t *px = NULL; int w = 0, h = 0;
        if (shot[0]) {
            EXPECT_EQ(png_read_xrgb(shot, &px, &w, &h, err, sizeof err), 0);
            EXPECT_EQ(w, 320);
            EXPECT_EQ(h, 200);
            if (px) EXPECT_EQ(px[0], c6to8(5, 15, 58));
            free(px);
            unlink(shot);
        }
        /* Mouse: ignored until a click grabs it; the grabbing click is not sent. */
        memset(&e, 0, sizeof e);
        e.type = SDL_MOUSEMOTION; e.motion.xrel = 5; e.motion.yrel = 3;
        SDL_PushEvent(&e);
        EXPECT(display_sdl_poll(d));
        EXPECT_EQ(log.mouse_n, 0);
        memset(&e, 0, sizeof e);
        e.type = SDL_MOUSEBUTTONDOWN; e.button.button = SDL_BUTTON_LEFT;
        SDL_PushEvent(&e);
        EXPECT(display_sdl_poll(d));
        EXPECT_EQ(log.mouse_n, 0);
        memset(&e, 0, sizeof e);
        e.type = SDL_MOUSEMOTION; e.motion.xrel = 5; e.motion.yrel = 3;
        SDL_PushEvent(&e);
        memset(&e, 0, sizeof e);
        e.type = SDL_MOUSEBUTTONDOWN; e.button.button = SDL_BUTTON_RIGHT;
        SDL_PushEvent(&e);
        memset(&e, 0, sizeof e);
        e.type = SDL_MOUSEWHEEL; e.wheel.y = 1;
        SDL_PushEvent(&e);
        EXPECT(display_sdl_poll(d));
        EXPECT_EQ(log.mouse_dx, 5);
        EXPECT_EQ(log.mouse_dy, 3);
        EXPECT_EQ(log.mouse_dz, 1);
        EXPECT_EQ(log.buttons, 2);
        memset(&e, 0, sizeof e);
        e.type = SDL_QUIT;
        SDL_PushEvent(&e);
        EXPECT(!display_sdl_poll(d));
        display_sdl_free(d);
    }
    if (drv) { setenv("SDL_VIDEODRIVER", drv, 1); free(drv); } else unsetenv("SDL_VIDEODRIVER");
    if (have_dir) rmdir(dir);
    vga_free(v);
}

int main(void)
{
    RUN(test_vga_text_mode3_golden);
    RUN(test_vga_cursor_and_blink);
    RUN(test_vga_char_map_select);
    RUN(test_vga_mode13h);
    RUN(test_vga_planar_write_modes);
    RUN(test_vga_dac);
    RUN(test_vga_attr_flipflop);
    RUN(test_vga_crtc_select_and_protect);
    RUN(test_vga_retrace_polling);
    RUN(test_vga_dispi);
    RUN(test_vga_register_fuzz);
    RUN(test_vga_screenshot);
    RUN(test_vga_on_bus);
    RUN(test_vga_scroll_pan_split);
    RUN(test_vga_cga_mode4);
    RUN(test_display_sdl_fallback);
    RUN(test_display_sdl_keycodes);
    RUN(test_display_sdl_offscreen);
    return test_summary();
}

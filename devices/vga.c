/* devices/vga.c - VGA registers, planar memory, Bochs VBE and rendering.
 *
 * Owns: everything declared in vga.h. Facts come from the IBM VGA technical
 * reference as retold by FreeVGA (osdever.net/FreeVGA) and the Bochs VBE
 * interface description (vbe_display_api.txt).
 *
 * VRAM layout: planar offset o (0..0xFFFF) of plane p lives at vram[o*4+p],
 * so one 32-bit load at o*4 gives the four latches. Host accesses map to
 * planar offsets as the hardware does: chain-4 uses A0-A1 to pick the plane
 * and keeps the address (offset a & ~3), odd/even picks the plane with A0
 * and keeps a & ~1, otherwise offset a goes to every plane the map mask
 * enables. The CRTC fetches planar offsets from its memory address counter
 * in byte, word (counter << 1, MA13/MA15 into bit 0) or doubleword (counter
 * << 2) mode (FreeVGA: CRTC registers 14h and 17h). With DISPI enabled the
 * whole VRAM is linear: the A0000 window shows 64 KiB bank BANK and the LFB
 * shows all of it.
 * Invariants: every VRAM index is bounds-checked or masked (planar offsets
 * to 16 bits, i.e. the first 256 KiB); register arrays are indexed only with
 * masked indexes; `gen` is bumped by every write that can change the picture.
 */
#include "devices/vga.h"
#include "devices/png.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define VGA_FRAME_NS    16683333u   /* ~60 Hz frame                                */
#define VGA_VRETRACE_NS 700000u     /* vertical retrace length                     */
#define VGA_LINE_NS     31778u      /* one scanline at 31.47 kHz                   */
#define VGA_HDISP_NS    25422u      /* display-enabled part of a scanline          */
#define VGA_READ_NS     1000u       /* each status read moves the retrace clock on */
#define VGA_MAX_DIM     4096        /* rendering never exceeds this per axis       */

struct vga {
    uint8_t *vram;              /* VRAM (memfd mapping), vram_size bytes            */
    size_t vram_size;           /* bytes, multiple of 64 KiB, >= 256 KiB            */
    int vram_fd;                /* memfd behind vram, or -1 (anonymous)             */

    uint8_t misc;               /* misc output (3C2 write / 3CC read)               */
    uint8_t feature;            /* feature control (3BA/3DA write, 3CA read)        */
    uint8_t seq_index;          /* sequencer index (3C4)                            */
    uint8_t seq[8];             /* SR00-SR04 (others read as 0)                     */
    uint8_t crtc_index;         /* CRTC index (3B4/3D4)                             */
    uint8_t crtc[0x19];         /* CR00-CR18                                        */
    uint8_t gr_index;           /* graphics controller index (3CE)                  */
    uint8_t gr[9];              /* GR00-GR08                                        */
    uint8_t ar_index;           /* attribute index incl. bit 5 (palette source)     */
    uint8_t ar[0x15];           /* AR00-AR14                                        */
    bool ar_flip;               /* false: next 3C0 write is an index, true: data    */
    uint8_t dac[256][3];        /* DAC entries (6-bit, or 8-bit with DISPI 8BIT_DAC) */
    uint8_t dac_wr;             /* DAC write index (3C8)                            */
    uint8_t dac_rd;             /* DAC read index (3C7 write)                       */
    uint8_t dac_sub;            /* 0..2: which of R, G, B comes next on 3C9          */
    uint8_t dac_state;          /* 3C7 read: 0 = write mode, 3 = read mode          */
    uint8_t dac_in[3];          /* R, G, B collected by 3C9 writes                  */
    uint8_t pel_mask;           /* PEL mask (3C6)                                   */
    uint32_t latch;             /* the four plane latches (plane p in byte p)        */

    uint16_t dispi_index;       /* DISPI index (1CE)                                */
    uint16_t dispi_id;          /* ID register                                      */
    uint16_t xres, yres, bpp;   /* DISPI mode                                       */
    uint16_t dispi_enable;      /* ENABLE register as written                       */
    uint16_t bank;              /* 64 KiB bank shown at A0000                       */
    uint16_t virt_width;        /* pixels per line in VRAM                          */
    uint16_t virt_height;       /* lines that fit in VRAM                           */
    uint16_t x_off, y_off;      /* display start                                    */
    uint64_t lfb_base;          /* where the LFB is mapped (informational)          */

    uint64_t (*now_ns)(void *); /* time source                                      */
    void *clk_opaque;           /* its argument                                     */
    uint64_t t0;                /* CLOCK_MONOTONIC at creation (default clock)      */
    uint64_t status_skew;       /* ns added by status reads (see VGA_READ_NS)        */
    uint64_t gen;               /* picture generation                               */
    uint64_t blink_phase;       /* last blink phase seen by vga_generation          */

    uint32_t *fb;               /* render buffer                                    */
    size_t fb_cap;              /* its capacity in pixels                           */
    int last_w, last_h;         /* size of the last real frame (for blank frames)   */
};

/* ---- helpers ------------------------------------------------------------ */

static uint64_t vga_default_clock(void *opaque)
{
    struct vga *vga = opaque;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - vga->t0;
}

static uint64_t vga_now(struct vga *vga)
{
    return vga->now_ns(vga->clk_opaque);
}

/* 4-bit plane mask -> 0xFF in each selected byte lane. */
static uint32_t expand4(unsigned m)
{
    return ((m & 1) ? 0x000000FFu : 0) | ((m & 2) ? 0x0000FF00u : 0) |
           ((m & 4) ? 0x00FF0000u : 0) | ((m & 8) ? 0xFF000000u : 0);
}

static uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void st32(uint8_t *p, uint32_t v)
{
    p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

static bool dispi_on(const struct vga *vga)
{
    return vga->dispi_enable & VBE_DISPI_ENABLED;
}

static unsigned dispi_bytes_pp(unsigned bpp)
{
    return bpp == 15 ? 2 : (bpp + 7) / 8;
}

/* Recompute virt_height from the line length (Bochs: VRAM / line bytes). */
static void dispi_update_virt(struct vga *vga)
{
    if (vga->virt_width < vga->xres) vga->virt_width = vga->xres;
    unsigned bpl = vga->bpp == 4 ? vga->virt_width / 2 : vga->virt_width * dispi_bytes_pp(vga->bpp);
    size_t h = bpl ? vga->vram_size / bpl : 0;
    vga->virt_height = h > 0xFFFF ? 0xFFFF : (uint16_t)h;
}

/* ---- lifetime ----------------------------------------------------------- */

struct vga *vga_new(size_t vram_bytes)
{
    if (vram_bytes == 0) vram_bytes = VGA_VRAM_DEFAULT;
    if (vram_bytes < (256u << 10) || (vram_bytes & 0xFFFF) || vram_bytes > (256u << 20)) {
        errno = EINVAL;
        return NULL;
    }
    struct vga *vga = calloc(1, sizeof *vga);
    if (!vga) return NULL;
    vga->vram_size = vram_bytes;
    vga->vram_fd = memfd_create("bt86-vram", MFD_CLOEXEC);
    void *p = MAP_FAILED;
    if (vga->vram_fd >= 0 && ftruncate(vga->vram_fd, (off_t)vram_bytes) == 0)
        p = mmap(NULL, vram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, vga->vram_fd, 0);
    if (p == MAP_FAILED) {
        if (vga->vram_fd >= 0) close(vga->vram_fd);
        vga->vram_fd = -1;
        p = mmap(NULL, vram_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            free(vga);
            return NULL;
        }
    }
    vga->vram = p;
    vga->now_ns = vga_default_clock;
    vga->clk_opaque = vga;
    vga->t0 = 0;
    vga->t0 = vga_default_clock(vga);
    vga->lfb_base = VGA_LFB_DEFAULT;
    vga_reset(vga);
    return vga;
}

void vga_free(struct vga *vga)
{
    if (!vga) return;
    munmap(vga->vram, vga->vram_size);
    if (vga->vram_fd >= 0) close(vga->vram_fd);
    free(vga->fb);
    free(vga);
}

void vga_reset(struct vga *vga)
{
    vga->misc = 0;
    vga->feature = 0;
    vga->seq_index = 0;
    memset(vga->seq, 0, sizeof vga->seq);
    vga->crtc_index = 0;
    memset(vga->crtc, 0, sizeof vga->crtc);
    vga->gr_index = 0;
    memset(vga->gr, 0, sizeof vga->gr);
    vga->ar_index = 0;
    memset(vga->ar, 0, sizeof vga->ar);
    vga->ar_flip = false;
    memset(vga->dac, 0, sizeof vga->dac);
    vga->dac_wr = vga->dac_rd = vga->dac_sub = vga->dac_state = 0;
    vga->pel_mask = 0xFF;
    vga->latch = 0;
    vga->dispi_index = 0;
    vga->dispi_id = VBE_DISPI_ID5;
    vga->xres = 640;
    vga->yres = 480;
    vga->bpp = 8;
    vga->dispi_enable = 0;
    vga->bank = 0;
    vga->virt_width = 640;
    vga->x_off = vga->y_off = 0;
    dispi_update_virt(vga);
    vga->gen++;
}

void vga_set_clock(struct vga *vga, uint64_t (*now_ns)(void *), void *opaque)
{
    if (now_ns) {
        vga->now_ns = now_ns;
        vga->clk_opaque = opaque;
    } else {
        vga->now_ns = vga_default_clock;
        vga->clk_opaque = vga;
    }
    vga->gen++;
}

uint8_t *vga_vram(struct vga *vga) { return vga->vram; }
size_t vga_vram_size(const struct vga *vga) { return vga->vram_size; }
int vga_vram_fd(const struct vga *vga) { return vga->vram_fd; }
void vga_invalidate(struct vga *vga) { vga->gen++; }
void vga_set_lfb_base(struct vga *vga, uint64_t addr) { vga->lfb_base = addr; }
uint64_t vga_lfb_base(const struct vga *vga) { return vga->lfb_base; }

/* ---- status and timing -------------------------------------------------- */

/* Input status 1 (FreeVGA: 3BA/3DA): bit 3 vertical retrace, bit 0 display
 * disabled (horizontal or vertical blanking). Time comes from the clock plus
 * a skew that every read advances, so polling loops end even when guest time
 * stands still while the loop runs. */
static uint8_t vga_status1(struct vga *vga)
{
    vga->status_skew += VGA_READ_NS;
    uint64_t t = vga_now(vga) + vga->status_skew;
    bool vr = (t % VGA_FRAME_NS) < VGA_VRETRACE_NS;
    bool blank = vr || (t % VGA_LINE_NS) >= VGA_HDISP_NS;
    return (vr ? 0x08 : 0) | (blank ? 0x01 : 0);
}

/* Blink phase: the cursor toggles every 8 frames, blinking text every 16. */
static uint64_t vga_frame_count(struct vga *vga)
{
    return vga_now(vga) / VGA_FRAME_NS;
}

/* ---- register ports ----------------------------------------------------- */

static const uint8_t seq_wmask[5] = { 0x03, 0x3D, 0x0F, 0x3F, 0x0E };
static const uint8_t gr_wmask[9] = { 0x0F, 0x0F, 0x0F, 0x1F, 0x03, 0x7B, 0x0F, 0x0F, 0xFF };

static bool crtc_port_active(const struct vga *vga, uint16_t port)
{
    bool color = vga->misc & 1;          /* misc bit 0: I/O address select */
    return (port & 0xFFF0) == (color ? 0x3D0 : 0x3B0);
}

static uint8_t vga_port_readb(struct vga *vga, uint16_t port)
{
    switch (port) {
    case 0x3C0:
        return vga->ar_index;
    case 0x3C1:
        return (vga->ar_index & 0x1F) < 0x15 ? vga->ar[vga->ar_index & 0x1F] : 0;
    case 0x3C2:
        return 0x00;                      /* input status 0: no CRT interrupt */
    case 0x3C4:
        return vga->seq_index;
    case 0x3C5:
        return vga->seq_index < 5 ? vga->seq[vga->seq_index] : 0;
    case 0x3C6:
        return vga->pel_mask;
    case 0x3C7:
        return vga->dac_state;
    case 0x3C8:
        return vga->dac_wr;
    case 0x3C9: {
        uint8_t v = vga->dac[vga->dac_rd][vga->dac_sub];
        if (++vga->dac_sub == 3) {
            vga->dac_sub = 0;
            vga->dac_rd++;
        }
        return v;
    }
    case 0x3CA:
        return vga->feature;
    case 0x3CC:
        return vga->misc;
    case 0x3CE:
        return vga->gr_index;
    case 0x3CF:
        return vga->gr_index < 9 ? vga->gr[vga->gr_index] : 0;
    case 0x3B4: case 0x3D4:
        return crtc_port_active(vga, port) ? vga->crtc_index : 0xFF;
    case 0x3B5: case 0x3D5:
        if (!crtc_port_active(vga, port)) return 0xFF;
        return vga->crtc_index < 0x19 ? vga->crtc[vga->crtc_index] : 0;
    case 0x3BA: case 0x3DA:
        if (!crtc_port_active(vga, port)) return 0xFF;
        vga->ar_flip = false;             /* reading status 1 resets the flip-flop */
        return vga_status1(vga);
    default:
        return 0xFF;
    }
}

static void vga_port_writeb(struct vga *vga, uint16_t port, uint8_t v)
{
    switch (port) {
    case 0x3C0:
        if (!vga->ar_flip) {
            vga->ar_index = v & 0x3F;
        } else {
            unsigned i = vga->ar_index & 0x1F;
            if (i < 0x10) vga->ar[i] = v & 0x3F;
            else if (i == 0x10) vga->ar[i] = v & 0xEF;
            else if (i == 0x12) vga->ar[i] = v & 0x3F;
            else if (i == 0x13) vga->ar[i] = v & 0x0F;
            else if (i == 0x14) vga->ar[i] = v & 0x0F;
            else if (i < 0x15) vga->ar[i] = v;
        }
        vga->ar_flip = !vga->ar_flip;
        break;
    case 0x3C2:
        vga->misc = v;
        break;
    case 0x3C4:
        vga->seq_index = v & 0x07;
        break;
    case 0x3C5:
        if (vga->seq_index < 5) vga->seq[vga->seq_index] = v & seq_wmask[vga->seq_index];
        break;
    case 0x3C6:
        vga->pel_mask = v;
        break;
    case 0x3C7:
        vga->dac_rd = v;
        vga->dac_sub = 0;
        vga->dac_state = 3;
        break;
    case 0x3C8:
        vga->dac_wr = v;
        vga->dac_sub = 0;
        vga->dac_state = 0;
        break;
    case 0x3C9:
        vga->dac_in[vga->dac_sub] = (vga->dispi_enable & VBE_DISPI_8BIT_DAC) ? v : (v & 0x3F);
        if (++vga->dac_sub == 3) {
            memcpy(vga->dac[vga->dac_wr], vga->dac_in, 3);
            vga->dac_sub = 0;
            vga->dac_wr++;
        }
        break;
    case 0x3CE:
        vga->gr_index = v & 0x0F;
        break;
    case 0x3CF:
        if (vga->gr_index < 9) vga->gr[vga->gr_index] = v & gr_wmask[vga->gr_index];
        break;
    case 0x3B4: case 0x3D4:
        if (crtc_port_active(vga, port)) vga->crtc_index = v & 0x3F;
        break;
    case 0x3B5: case 0x3D5: {
        if (!crtc_port_active(vga, port)) break;
        unsigned i = vga->crtc_index;
        if (i >= 0x19) break;
        /* CR11 bit 7 protects CR00-CR07, except CR07 bit 4 (line compare bit 8). */
        if ((vga->crtc[0x11] & 0x80) && i <= 7) {
            if (i == 7) vga->crtc[7] = (vga->crtc[7] & ~0x10) | (v & 0x10);
            break;
        }
        vga->crtc[i] = v;
        break;
    }
    case 0x3BA: case 0x3DA:
        if (crtc_port_active(vga, port)) vga->feature = v;
        break;
    default:
        break;
    }
    vga->gen++;
}

/* ---- DISPI -------------------------------------------------------------- */

static uint16_t dispi_read(struct vga *vga, unsigned idx)
{
    bool caps = vga->dispi_enable & VBE_DISPI_GETCAPS;
    switch (idx) {
    case VBE_DISPI_INDEX_ID:          return vga->dispi_id;
    case VBE_DISPI_INDEX_XRES:        return caps ? VBE_DISPI_MAX_XRES : vga->xres;
    case VBE_DISPI_INDEX_YRES:        return caps ? VBE_DISPI_MAX_YRES : vga->yres;
    case VBE_DISPI_INDEX_BPP:         return caps ? 32 : vga->bpp;
    case VBE_DISPI_INDEX_ENABLE:      return vga->dispi_enable;
    case VBE_DISPI_INDEX_BANK:        return vga->bank;
    case VBE_DISPI_INDEX_VIRT_WIDTH:  return vga->virt_width;
    case VBE_DISPI_INDEX_VIRT_HEIGHT: return vga->virt_height;
    case VBE_DISPI_INDEX_X_OFFSET:    return vga->x_off;
    case VBE_DISPI_INDEX_Y_OFFSET:    return vga->y_off;
    case VBE_DISPI_INDEX_VIDEO_MEMORY_64K: return (uint16_t)(vga->vram_size >> 16);
    default:                          return 0;
    }
}

static void dispi_write(struct vga *vga, unsigned idx, uint16_t v)
{
    switch (idx) {
    case VBE_DISPI_INDEX_ID:
        if (v >= VBE_DISPI_ID0 && v <= VBE_DISPI_ID5) vga->dispi_id = v;
        break;
    case VBE_DISPI_INDEX_XRES:
        if (v && v <= VBE_DISPI_MAX_XRES && !(v & 7)) vga->xres = v;
        dispi_update_virt(vga);
        break;
    case VBE_DISPI_INDEX_YRES:
        if (v && v <= VBE_DISPI_MAX_YRES) vga->yres = v;
        break;
    case VBE_DISPI_INDEX_BPP:
        if (v == 0) v = 8;
        if (v == 4 || v == 8 || v == 15 || v == 16 || v == 24 || v == 32) vga->bpp = v;
        dispi_update_virt(vga);
        break;
    case VBE_DISPI_INDEX_ENABLE: {
        bool was = dispi_on(vga);
        vga->dispi_enable = v & (VBE_DISPI_ENABLED | VBE_DISPI_GETCAPS | VBE_DISPI_8BIT_DAC |
                                 VBE_DISPI_LFB_ENABLED | VBE_DISPI_NOCLEARMEM);
        if ((v & VBE_DISPI_ENABLED) && !was) {
            /* A mode set: line length and offsets start afresh (Bochs). */
            vga->virt_width = vga->xres;
            vga->x_off = vga->y_off = 0;
            vga->bank = 0;
            dispi_update_virt(vga);
            if (!(v & VBE_DISPI_NOCLEARMEM)) {
                size_t need = (size_t)vga->virt_width * dispi_bytes_pp(vga->bpp) * vga->yres;
                memset(vga->vram, 0, need < vga->vram_size ? need : vga->vram_size);
            }
        }
        break;
    }
    case VBE_DISPI_INDEX_BANK:
        if (((size_t)v << 16) < vga->vram_size) vga->bank = v;
        break;
    case VBE_DISPI_INDEX_VIRT_WIDTH:
        vga->virt_width = v;
        dispi_update_virt(vga);
        break;
    case VBE_DISPI_INDEX_X_OFFSET:
        vga->x_off = v;
        break;
    case VBE_DISPI_INDEX_Y_OFFSET:
        vga->y_off = v;
        break;
    default:                      /* VIRT_HEIGHT, VIDEO_MEMORY_64K: read-only */
        break;
    }
    vga->gen++;
}

/* ---- the port entry points ---------------------------------------------- */

uint32_t vga_ioport_read(struct vga *vga, uint16_t port, unsigned size)
{
    if (size != 1 && size != 2 && size != 4) size = 1;
    if (port >= 0x1CE && port <= 0x1D0) {
        uint32_t v = port == 0x1CE ? vga->dispi_index : dispi_read(vga, vga->dispi_index);
        return size == 1 ? (v & 0xFF) : v;
    }
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)vga_port_readb(vga, (uint16_t)(port + i)) << (8 * i);
    return v;
}

void vga_ioport_write(struct vga *vga, uint16_t port, uint32_t val, unsigned size)
{
    if (size != 1 && size != 2 && size != 4) size = 1;
    if (port >= 0x1CE && port <= 0x1D0) {
        if (port == 0x1CE) vga->dispi_index = (uint16_t)val;
        else dispi_write(vga, vga->dispi_index, (uint16_t)val);
        return;
    }
    for (unsigned i = 0; i < size; i++)
        vga_port_writeb(vga, (uint16_t)(port + i), (uint8_t)(val >> (8 * i)));
}

/* ---- the A0000-BFFFF window ---------------------------------------------- */

/* Window offset of `addr` per GR06 bits 3-2 (memory map select), or -1 if
 * the current map does not decode it. */
static long vga_window_offset(const struct vga *vga, uint32_t addr)
{
    static const uint32_t base[4] = { 0xA0000, 0xA0000, 0xB0000, 0xB8000 };
    static const uint32_t size[4] = { 0x20000, 0x10000, 0x8000, 0x8000 };
    unsigned m = (vga->gr[6] >> 2) & 3;
    if (addr < base[m] || addr >= base[m] + size[m]) return -1;
    return (long)(addr - base[m]);
}

static uint8_t vga_mem_readb(struct vga *vga, uint32_t addr)
{
    if (dispi_on(vga)) {
        if (addr < 0xA0000 || addr >= 0xB0000) return 0xFF;
        size_t off = ((size_t)vga->bank << 16) + (addr - 0xA0000);
        return off < vga->vram_size ? vga->vram[off] : 0xFF;
    }
    long a = vga_window_offset(vga, addr);
    if (a < 0) return 0xFF;
    unsigned plane, off;
    if (vga->seq[4] & 0x08) {                     /* chain-4 */
        plane = a & 3;
        off = a & ~3u;
    } else if (vga->gr[5] & 0x10) {               /* host odd/even read */
        plane = (vga->gr[4] & 2) | (a & 1);
        off = a & ~1u;
    } else {
        plane = vga->gr[4] & 3;
        off = (unsigned)a;
    }
    off &= 0xFFFF;
    vga->latch = ld32(vga->vram + off * 4);
    if (!(vga->gr[5] & 0x08))                     /* read mode 0 */
        return (uint8_t)(vga->latch >> (8 * plane));
    /* Read mode 1 (colour compare, FreeVGA GR02/GR07): a bit is 1 where
     * every plane enabled in Color Don't Care matches Color Compare. */
    uint8_t r = 0xFF;
    for (unsigned p = 0; p < 4; p++) {
        if (!(vga->gr[7] & (1u << p))) continue;
        uint8_t b = (uint8_t)(vga->latch >> (8 * p));
        uint8_t want = (vga->gr[2] & (1u << p)) ? 0xFF : 0x00;
        r &= (uint8_t)~(b ^ want);
    }
    return r;
}

static void vga_mem_writeb(struct vga *vga, uint32_t addr, uint8_t val)
{
    if (dispi_on(vga)) {
        if (addr < 0xA0000 || addr >= 0xB0000) return;
        size_t off = ((size_t)vga->bank << 16) + (addr - 0xA0000);
        if (off < vga->vram_size) vga->vram[off] = val;
        vga->gen++;
        return;
    }
    long a = vga_window_offset(vga, addr);
    if (a < 0) return;
    unsigned planes, off;
    if (vga->seq[4] & 0x08) {                     /* chain-4: A0-A1 pick the plane */
        planes = 1u << (a & 3);
        off = a & ~3u;
    } else if (!(vga->seq[4] & 0x04)) {           /* odd/even: even -> 0,2; odd -> 1,3 */
        planes = (a & 1) ? 0xA : 0x5;
        off = a & ~1u;
    } else {
        planes = 0xF;
        off = (unsigned)a;
    }
    planes &= vga->seq[2];                        /* map mask */
    off &= 0xFFFF;
    if (!planes) return;

    /* The write data path (FreeVGA "Graphics Controller": write modes,
     * rotate, set/reset, logical function, bit mask). */
    uint32_t latch = vga->latch, d;
    unsigned rot = vga->gr[3] & 7;
    uint8_t rv = (uint8_t)((val >> rot) | (val << ((8 - rot) & 7)));
    uint8_t mask = vga->gr[8];
    switch (vga->gr[5] & 3) {
    case 0: {
        uint32_t sre = expand4(vga->gr[1]);
        d = ((rv * 0x01010101u) & ~sre) | (expand4(vga->gr[0]) & sre);
        break;
    }
    case 1:
        d = latch;
        mask = 0xFF;
        goto store;
    case 2:
        d = expand4(val);
        break;
    default:                                      /* mode 3 */
        mask &= rv;
        d = expand4(vga->gr[0]);
        break;
    }
    switch ((vga->gr[3] >> 3) & 3) {
    case 1: d &= latch; break;
    case 2: d |= latch; break;
    case 3: d ^= latch; break;
    default: break;
    }
    {
        uint32_t bm = mask * 0x01010101u;
        d = (d & bm) | (latch & ~bm);
    }
store: {
        uint32_t pm = expand4(planes);
        uint8_t *p = vga->vram + off * 4;
        st32(p, (ld32(p) & ~pm) | (d & pm));
    }
    vga->gen++;
}

uint32_t vga_mem_read(struct vga *vga, uint32_t addr, unsigned size)
{
    if (size != 1 && size != 2 && size != 4) size = 1;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint32_t)vga_mem_readb(vga, addr + i) << (8 * i);
    return v;
}

void vga_mem_write(struct vga *vga, uint32_t addr, uint32_t val, unsigned size)
{
    if (size != 1 && size != 2 && size != 4) size = 1;
    for (unsigned i = 0; i < size; i++) vga_mem_writeb(vga, addr + i, (uint8_t)(val >> (8 * i)));
}

/* ---- bus glue ----------------------------------------------------------- */

static uint32_t vga_bus_port_read(void *opaque, uint32_t off, unsigned size)
{
    return vga_ioport_read(opaque, (uint16_t)(0x3B0 + off), size);
}

static void vga_bus_port_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    vga_ioport_write(opaque, (uint16_t)(0x3B0 + off), val, size);
}

static uint32_t vga_bus_dispi_read(void *opaque, uint32_t off, unsigned size)
{
    return vga_ioport_read(opaque, (uint16_t)(0x1CE + off), size);
}

static void vga_bus_dispi_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    vga_ioport_write(opaque, (uint16_t)(0x1CE + off), val, size);
}

static uint32_t vga_bus_mem_read(void *opaque, uint32_t off, unsigned size)
{
    return vga_mem_read(opaque, 0xA0000 + off, size);
}

static void vga_bus_mem_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    vga_mem_write(opaque, 0xA0000 + off, val, size);
}

static uint32_t vga_bus_lfb_read(void *opaque, uint32_t off, unsigned size)
{
    struct vga *vga = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size && i < 4; i++) {
        size_t o = (size_t)off + i;
        v |= (uint32_t)(o < vga->vram_size ? vga->vram[o] : 0xFF) << (8 * i);
    }
    return v;
}

static void vga_bus_lfb_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    struct vga *vga = opaque;
    for (unsigned i = 0; i < size && i < 4; i++) {
        size_t o = (size_t)off + i;
        if (o < vga->vram_size) vga->vram[o] = (uint8_t)(val >> (8 * i));
    }
    vga->gen++;
}

/* PCI BAR2 register window in QEMU's std-VGA layout: 0x400-0x41F are ports
 * 0x3C0-0x3DF, 0x500-0x517 the DISPI registers as 16-bit words, 0x600 the
 * "QEMU extended" block (size 8, little-endian framebuffer). */
static uint32_t vga_bus_regs_read(void *opaque, uint32_t off, unsigned size)
{
    struct vga *vga = opaque;
    if (off >= 0x400 && off < 0x420)
        return vga_ioport_read(vga, (uint16_t)(0x3C0 + off - 0x400), size);
    if (off >= 0x500 && off < 0x518) {
        uint32_t v = dispi_read(vga, (off - 0x500) >> 1);
        if (size == 4 && off + 2 < 0x518) v |= (uint32_t)dispi_read(vga, (off + 2 - 0x500) >> 1) << 16;
        return (off & 1) ? (v >> 8) : v;
    }
    if (off == 0x600) return 8;
    if (off == 0x604) return 0x1E1E1E1E;
    return 0;
}

static void vga_bus_regs_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    struct vga *vga = opaque;
    if (off >= 0x400 && off < 0x420)
        vga_ioport_write(vga, (uint16_t)(0x3C0 + off - 0x400), val, size);
    else if (off >= 0x500 && off < 0x518 && !(off & 1) && size >= 2)
        dispi_write(vga, (off - 0x500) >> 1, (uint16_t)val);
}

static const struct bus_ops vga_port_ops = {
    .name = "vga", .read = vga_bus_port_read, .write = vga_bus_port_write, .byte_only = true,
};
static const struct bus_ops vga_dispi_ops = {
    .name = "vga-dispi", .read = vga_bus_dispi_read, .write = vga_bus_dispi_write, .byte_only = false,
};
static const struct bus_ops vga_memwin_ops = {
    .name = "vga-window", .read = vga_bus_mem_read, .write = vga_bus_mem_write, .byte_only = false,
};
static const struct bus_ops vga_lfb_bus_ops = {
    .name = "vga-lfb", .read = vga_bus_lfb_read, .write = vga_bus_lfb_write, .byte_only = false,
};
static const struct bus_ops vga_regs_bus_ops = {
    .name = "vga-mmio", .read = vga_bus_regs_read, .write = vga_bus_regs_write, .byte_only = false,
};

const struct bus_ops *vga_lfb_ops(void) { return &vga_lfb_bus_ops; }
const struct bus_ops *vga_mmio_ops(void) { return &vga_regs_bus_ops; }

int vga_attach(struct vga *vga, struct bus *bus)
{
    if (bus_map_io(bus, 0x3B0, 0x30, &vga_port_ops, vga) != 0) {
        fprintf(stderr, "vga: ports 0x3B0-0x3DF are already taken\n");
        return -1;
    }
    if (bus_map_io(bus, 0x1CE, 3, &vga_dispi_ops, vga) != 0) {
        fprintf(stderr, "vga: ports 0x1CE-0x1D0 are already taken\n");
        bus_unmap_io(bus, 0x3B0, 0x30);
        return -1;
    }
    if (bus_map_mmio(bus, 0xA0000, 0x20000, &vga_memwin_ops, vga) != 0) {
        fprintf(stderr, "vga: MMIO 0xA0000-0xBFFFF is already taken\n");
        bus_unmap_io(bus, 0x3B0, 0x30);
        bus_unmap_io(bus, 0x1CE, 3);
        return -1;
    }
    return 0;
}

/* ---- rendering ---------------------------------------------------------- */

static uint32_t dac_xrgb(const struct vga *vga, uint8_t idx)
{
    const uint8_t *e = vga->dac[idx & vga->pel_mask];
    if (vga->dispi_enable & VBE_DISPI_8BIT_DAC)
        return (uint32_t)e[0] << 16 | (uint32_t)e[1] << 8 | e[2];
    uint32_t r = e[0] & 0x3F, g = e[1] & 0x3F, b = e[2] & 0x3F;
    r = r << 2 | r >> 4; g = g << 2 | g >> 4; b = b << 2 | b >> 4;
    return r << 16 | g << 8 | b;
}

/* The 16 attribute-palette colours (FreeVGA AR10 bit 7, AR14): 4-bit pixel
 * -> palette register -> DAC index -> XRGB. */
static void vga_palette16(const struct vga *vga, uint32_t pal[16])
{
    for (unsigned i = 0; i < 16; i++) {
        uint8_t p = vga->ar[i];
        uint8_t idx;
        if (vga->ar[0x10] & 0x80) idx = (p & 0x0F) | ((vga->ar[0x14] & 3) << 4);
        else idx = p & 0x3F;
        idx |= (vga->ar[0x14] & 0x0C) << 4;
        pal[i] = dac_xrgb(vga, idx);
    }
}

/* Planar offset the CRTC fetches for memory address counter `ma`. */
static unsigned crtc_address(const struct vga *vga, unsigned ma, unsigned row_scan)
{
    unsigned a;
    if (vga->crtc[0x14] & 0x40) a = ma << 2;                 /* doubleword mode */
    else if (!(vga->crtc[0x17] & 0x40))                      /* word mode */
        a = (ma << 1) | ((ma >> ((vga->crtc[0x17] & 0x20) ? 15 : 13)) & 1);
    else a = ma;                                             /* byte mode */
    /* CR17 bits 0/1: CGA/Hercules compatibility puts row scan bits 0/1 on MA13/MA14. */
    if (!(vga->crtc[0x17] & 1)) a = (a & ~0x2000u) | ((row_scan & 1) << 13);
    if (!(vga->crtc[0x17] & 2)) a = (a & ~0x4000u) | ((row_scan & 2) << 13);
    return a & 0xFFFF;
}

static unsigned crtc_scanlines(const struct vga *vga)
{
    const uint8_t *c = vga->crtc;
    return (c[0x12] | ((c[7] & 0x02) << 7) | ((c[7] & 0x40) << 3)) + 1;
}

static unsigned crtc_line_compare(const struct vga *vga)
{
    const uint8_t *c = vga->crtc;
    return c[0x18] | ((c[7] & 0x10) << 4) | ((c[9] & 0x40) << 3);
}

static uint32_t *vga_fb(struct vga *vga, int w, int h)
{
    size_t n = (size_t)w * h;
    if (n > vga->fb_cap) {
        uint32_t *p = realloc(vga->fb, n * 4);
        if (!p) return NULL;
        vga->fb = p;
        vga->fb_cap = n;
    }
    return vga->fb;
}

static void vga_render_blank(struct vga *vga, struct vga_frame *out)
{
    int w = vga->last_w ? vga->last_w : 640, h = vga->last_h ? vga->last_h : 480;
    uint32_t *fb = vga_fb(vga, w, h);
    if (!fb) { w = h = 0; }
    else memset(fb, 0, (size_t)w * h * 4);
    out->width = w; out->height = h; out->stride = w;
    out->pixels = fb;
    out->mode = "blank";
}

static void vga_render_text(struct vga *vga, struct vga_frame *out)
{
    const uint8_t *c = vga->crtc;
    unsigned cols = c[1] + 1u;
    unsigned cw = (vga->seq[1] & 1) ? 8 : 9;
    unsigned ch = (c[9] & 0x1F) + 1u;
    unsigned lines = crtc_scanlines(vga);
    if (c[9] & 0x80) lines /= 2;
    unsigned rows = lines / ch;
    unsigned xdbl = (vga->seq[1] & 0x08) ? 2 : 1;     /* dot clock / 2: 40 columns */
    if (rows == 0 || cols * cw * xdbl > VGA_MAX_DIM || rows * ch > VGA_MAX_DIM) {
        vga_render_blank(vga, out);
        return;
    }
    int w = (int)(cols * cw * xdbl), h = (int)(rows * ch);
    uint32_t *fb = vga_fb(vga, w, h);
    if (!fb) { vga_render_blank(vga, out); return; }
    uint32_t pal[16];
    vga_palette16(vga, pal);
    uint64_t frame = vga_frame_count(vga);
    bool cursor_on = !((frame >> 3) & 1), blink_on = !((frame >> 4) & 1);
    unsigned start = (unsigned)c[0x0C] << 8 | c[0x0D];
    unsigned offset = c[0x13] * 2u;
    unsigned cursor = (unsigned)c[0x0E] << 8 | c[0x0F];
    unsigned cs = c[0x0A] & 0x1F, ce = c[0x0B] & 0x1F;
    bool cursor_en = !(c[0x0A] & 0x20) && cursor_on;
    uint8_t sr3 = vga->seq[3];
    unsigned map_a = ((sr3 >> 5) & 1) << 2 | ((sr3 >> 2) & 3);
    unsigned map_b = ((sr3 >> 4) & 1) << 2 | (sr3 & 3);
    unsigned font_a = ((map_a & 3) * 2 + (map_a >> 2)) * 8192;
    unsigned font_b = ((map_b & 3) * 2 + (map_b >> 2)) * 8192;
    bool blink_en = vga->ar[0x10] & 0x08, lge = vga->ar[0x10] & 0x04;

    /* CR08 bits 4-0: preset row scan (smooth scrolling) starts the first
     * character row at that scanline; AR10 bit 1 (monochrome attributes)
     * underlines attributes x000x001 on the CR14 scanline (FreeVGA). */
    unsigned preset = c[0x08] & 0x1F;
    unsigned ul_line = c[0x14] & 0x1F;
    bool mono = vga->ar[0x10] & 0x02;
    unsigned nrows = rows + (preset ? 1 : 0);
    for (unsigned r = 0; r < nrows; r++) {
        for (unsigned col = 0; col < cols; col++) {
            unsigned ma = (start + r * offset + col) & 0xFFFF;
            unsigned a = crtc_address(vga, ma, 0);
            uint8_t chr = vga->vram[a * 4 + 0], attr = vga->vram[a * 4 + 1];
            unsigned fg = attr & 0x0F, bg = attr >> 4;
            if (blink_en) {
                bool blinking = bg & 8;
                bg &= 7;
                if (blinking && !blink_on) fg = bg;
            }
            unsigned font = (attr & 0x08) ? font_a : font_b;
            bool is_cursor = cursor_en && ma == cursor;
            bool underline = mono && (attr & 0x77) == 0x01;
            for (unsigned line = 0; line < ch; line++) {
                long oy = (long)(r * ch + line) - (long)preset;
                if (oy < 0 || oy >= h) continue;
                unsigned fo = (font + chr * 32u + line) & 0xFFFF;
                uint8_t bits = line < 32 ? vga->vram[fo * 4 + 2] : 0;
                if (underline && line == ul_line) bits = 0xFF;
                if (is_cursor && cs <= ce && line >= cs && line <= ce) bits = 0xFF;
                uint32_t *px = fb + (size_t)oy * w + (size_t)col * cw * xdbl;
                uint32_t fgc = pal[fg], bgc = pal[bg];
                for (unsigned x = 0; x < cw; x++) {
                    bool on;
                    if (x < 8) on = bits & (0x80 >> x);
                    else on = (is_cursor && cs <= ce && line >= cs && line <= ce) ||
                              (lge && chr >= 0xC0 && chr <= 0xDF && (bits & 1));
                    uint32_t col32 = on ? fgc : bgc;
                    for (unsigned k = 0; k < xdbl; k++) *px++ = col32;
                }
            }
        }
    }
    out->width = w; out->height = h; out->stride = w;
    out->pixels = fb;
    out->mode = "text";
}

/* Planar (16-colour, incl. CGA-compatible layouts) and 256-colour graphics. */
static void vga_render_graphics(struct vga *vga, struct vga_frame *out)
{
    const uint8_t *c = vga->crtc;
    bool mode256 = vga->gr[5] & 0x40;
    bool interleave = vga->gr[5] & 0x20;               /* CGA 4-colour shift */
    unsigned counters = c[1] + 1u;
    unsigned w = counters * (mode256 ? 4 : 8);
    unsigned scan = crtc_scanlines(vga);
    bool dbl = c[9] & 0x80;
    unsigned msl = (c[9] & 0x1F) + 1u;
    bool subst = (c[0x17] & 3) != 3;                   /* row scan drives MA13/14 */
    unsigned per_row = subst ? 1 : msl;
    unsigned h = scan / (dbl ? 2 : 1) / per_row;
    if (w == 0 || h == 0 || w > VGA_MAX_DIM || h > VGA_MAX_DIM) {
        vga_render_blank(vga, out);
        return;
    }
    uint32_t *fb = vga_fb(vga, (int)w, (int)h + 2);   /* + 2 scratch rows */
    if (!fb) { vga_render_blank(vga, out); return; }
    uint32_t *scratch = fb + (size_t)w * h;
    unsigned pan = mode256 ? (vga->ar[0x13] >> 1) & 3 : (vga->ar[0x13] & 7);
    uint32_t pal[16], pal256[256];
    vga_palette16(vga, pal);
    if (mode256)
        for (unsigned i = 0; i < 256; i++) pal256[i] = dac_xrgb(vga, (uint8_t)i);
    unsigned start = (unsigned)c[0x0C] << 8 | c[0x0D];
    unsigned offset = c[0x13] * 2u;
    unsigned lc = crtc_line_compare(vga);
    unsigned scan_per_y = (dbl ? 2 : 1) * per_row;
    uint8_t cpe = vga->ar[0x12] & 0x0F;
    unsigned base_y = 0, base_ma = start;
    bool split = false;
    for (unsigned y = 0; y < h; y++) {
        if (!split && y * scan_per_y > lc) {         /* line compare: restart at 0 */
            split = true;
            base_y = y;
            base_ma = 0;
        }
        unsigned ly = y - base_y;
        unsigned rs = subst ? ly % msl : 0, arow = subst ? ly / msl : ly;
        unsigned ma0 = base_ma + arow * offset;
        /* Fetch one counter more than shown into the scratch rows below the
         * frame, then copy from the pixel-panning offset (AR13). */
        uint32_t *px = scratch;
        for (unsigned k = 0; k < counters + 1; k++) {
            unsigned a = crtc_address(vga, (ma0 + k) & 0xFFFF, rs);
            const uint8_t *p = vga->vram + a * 4;
            if (mode256) {
                for (unsigned i = 0; i < 4; i++) *px++ = pal256[p[i]];
            } else if (interleave) {
                for (unsigned i = 0; i < 8; i++) {
                    unsigned sh = 6 - 2 * (i & 3);
                    unsigned v = i < 4 ? ((p[0] >> sh) & 3) | (((p[2] >> sh) & 3) << 2)
                                       : ((p[1] >> sh) & 3) | (((p[3] >> sh) & 3) << 2);
                    *px++ = pal[v & cpe];
                }
            } else {
                for (unsigned i = 0; i < 8; i++) {
                    unsigned b = 7 - i;
                    unsigned v = ((p[0] >> b) & 1) | ((p[1] >> b) & 1) << 1 |
                                 ((p[2] >> b) & 1) << 2 | ((p[3] >> b) & 1) << 3;
                    *px++ = pal[v & cpe];
                }
            }
        }
        /* AR10 bit 5: lines below a line-compare split are not panned. */
        unsigned p = (split && (vga->ar[0x10] & 0x20)) ? 0 : pan;
        memcpy(fb + (size_t)y * w, scratch + p, (size_t)w * 4);
    }
    out->width = (int)w; out->height = (int)h; out->stride = (int)w;
    out->pixels = fb;
    out->mode = mode256 ? "256" : "planar";
}

static void vga_render_dispi(struct vga *vga, struct vga_frame *out)
{
    unsigned w = vga->xres, h = vga->yres, bpp = vga->bpp;
    if (bpp == 4 || w == 0 || h == 0 || w > VGA_MAX_DIM || h > VGA_MAX_DIM) {
        vga_render_blank(vga, out);
        return;
    }
    uint32_t *fb = vga_fb(vga, (int)w, (int)h);
    if (!fb) { vga_render_blank(vga, out); return; }
    unsigned bypp = dispi_bytes_pp(bpp);
    size_t line = (size_t)vga->virt_width * bypp;
    size_t start = (size_t)vga->y_off * line + (size_t)vga->x_off * bypp;
    uint32_t pal256[256];
    if (bpp == 8)
        for (unsigned i = 0; i < 256; i++) pal256[i] = dac_xrgb(vga, (uint8_t)i);
    for (unsigned y = 0; y < h; y++) {
        uint32_t *px = fb + (size_t)y * w;
        size_t o = start + (size_t)y * line;
        if (bpp == 32 && o + (size_t)w * 4 <= vga->vram_size) {    /* fast path */
            const uint8_t *s = vga->vram + o;
            for (unsigned x = 0; x < w; x++, s += 4)
                px[x] = (uint32_t)s[2] << 16 | (uint32_t)s[1] << 8 | s[0];
            continue;
        }
        for (unsigned x = 0; x < w; x++, o += bypp) {
            if (o + bypp > vga->vram_size) { px[x] = 0; continue; }
            const uint8_t *s = vga->vram + o;
            uint32_t v;
            switch (bpp) {
            case 8: v = pal256[s[0]]; break;
            case 15: {
                unsigned p = s[0] | s[1] << 8;
                unsigned r = (p >> 10) & 31, g = (p >> 5) & 31, b = p & 31;
                v = (r << 3 | r >> 2) << 16 | (g << 3 | g >> 2) << 8 | (b << 3 | b >> 2);
                break;
            }
            case 16: {
                unsigned p = s[0] | s[1] << 8;
                unsigned r = (p >> 11) & 31, g = (p >> 5) & 63, b = p & 31;
                v = (r << 3 | r >> 2) << 16 | (g << 2 | g >> 4) << 8 | (b << 3 | b >> 2);
                break;
            }
            case 24: v = (uint32_t)s[2] << 16 | (uint32_t)s[1] << 8 | s[0]; break;
            default: v = (uint32_t)s[2] << 16 | (uint32_t)s[1] << 8 | s[0]; break;
            }
            px[x] = v;
        }
    }
    out->width = (int)w; out->height = (int)h; out->stride = (int)w;
    out->pixels = fb;
    out->mode = "dispi";
}

uint64_t vga_generation(struct vga *vga)
{
    /* In text mode the cursor and blinking text change with time alone. */
    if (!dispi_on(vga) && !(vga->ar[0x10] & 1)) {
        uint64_t phase = vga_frame_count(vga) >> 3;
        if (phase != vga->blink_phase) {
            vga->blink_phase = phase;
            vga->gen++;
        }
    }
    return vga->gen;
}

void vga_render(struct vga *vga, struct vga_frame *out)
{
    memset(out, 0, sizeof *out);
    out->generation = vga_generation(vga);
    if (dispi_on(vga))
        vga_render_dispi(vga, out);
    else if (!(vga->ar_index & 0x20) || (vga->seq[1] & 0x20))
        vga_render_blank(vga, out);      /* palette being programmed, or screen off */
    else if (vga->ar[0x10] & 1)
        vga_render_graphics(vga, out);
    else
        vga_render_text(vga, out);
    if (out->mode && strcmp(out->mode, "blank") != 0) {
        vga->last_w = out->width;
        vga->last_h = out->height;
    }
}

int vga_screenshot(struct vga *vga, const char *path, char *err, size_t errlen)
{
    struct vga_frame f;
    vga_render(vga, &f);
    if (!f.pixels || f.width <= 0) {
        if (err && errlen) snprintf(err, errlen, "%s: no picture to save (out of memory)", path);
        return -1;
    }
    return png_write_xrgb(path, f.pixels, f.width, f.height, f.stride, err, errlen);
}

/* The characters of the text screen as lines of ASCII (non-printable bytes
 * as '.'), for tests that check what a guest printed on the VGA console
 * without OCR. Returns the number of bytes written (NUL-terminated), or -1
 * when the VGA is not in a text mode. */
int vga_text_dump(struct vga *vga, char *buf, size_t n)
{
    if (!n) return -1;
    buf[0] = 0;
    if (dispi_on(vga) || (vga->ar[0x10] & 1)) return -1;
    const uint8_t *c = vga->crtc;
    unsigned cols = c[1] + 1u, ch = (c[9] & 0x1F) + 1u;
    unsigned lines = crtc_scanlines(vga);
    if (c[9] & 0x80) lines /= 2;
    unsigned rows = lines / ch;
    unsigned start = (unsigned)c[0x0C] << 8 | c[0x0D], offset = c[0x13] * 2u;
    size_t k = 0;
    for (unsigned r = 0; r < rows && k + cols + 2 < n; r++) {
        size_t end = k;
        for (unsigned col = 0; col < cols; col++) {
            unsigned a = crtc_address(vga, (start + r * offset + col) & 0xFFFF, 0);
            uint8_t chr = vga->vram[a * 4 + 0];
            buf[k++] = (chr >= 0x20 && chr < 0x7F) ? (char)chr : (chr ? '.' : ' ');
            if (buf[k - 1] != ' ') end = k;
        }
        k = end;                        /* trim trailing blanks */
        buf[k++] = '\n';
    }
    buf[k] = 0;
    return (int)k;
}

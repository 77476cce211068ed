/* devices/vga.h - the VGA adapter with the Bochs VBE ("DISPI") extension.
 *
 * Owns: every standard VGA register (misc output, sequencer, CRTC, graphics
 * controller, attribute controller, DAC, feature control, input status),
 * the video memory (four 64 KiB planes in the first 256 KiB of VRAM, the
 * whole VRAM - 16 MiB by default - linear when DISPI is enabled), the legacy
 * window at A0000-BFFFF, the DISPI registers (ports 0x1CE/0x1CF), the
 * linear framebuffer (LFB) and the rendering of the current mode into a
 * 32-bit XRGB (0x00RRGGBB) buffer.
 * Invariants: host-side state only changes through the port/memory handlers
 * (or vga_reset); `vga_generation` increases whenever what vga_render would
 * produce may have changed; rendering never reads outside VRAM whatever the
 * guest programmed.
 *
 * PCI: the board (or PCI code) registers a display function (QEMU's std VGA
 * is 1234:1111, class 0x030000) with BAR0 = prefetchable memory of
 * vga_vram_size() bytes using vga_lfb_ops() + the vga as opaque, and
 * optionally BAR2 = 4 KiB memory with vga_mmio_ops() (QEMU's layout: VGA
 * ports 0x3C0-0x3DF at 0x400, DISPI registers at 0x500 as 16-bit words),
 * and calls vga_set_lfb_base() from its bar_map callback so the VBE BIOS
 * and vga_lfb_base() know where the LFB is.
 */
#ifndef BT86_VGA_H
#define BT86_VGA_H
#include <stdint.h>
#include <stddef.h>
#include <stdbool.h>
#include "devices/bus.h"

#define VGA_VRAM_DEFAULT   (16u << 20)   /* 16 MiB: DISPI's VIDEO_MEMORY_64K = 256 */
#define VGA_LFB_DEFAULT    0xE0000000u   /* Bochs VBE's fixed LFB address w/o PCI  */

/* Bochs VBE DISPI register indexes (written to port 0x1CE). */
#define VBE_DISPI_INDEX_ID          0x0
#define VBE_DISPI_INDEX_XRES        0x1
#define VBE_DISPI_INDEX_YRES        0x2
#define VBE_DISPI_INDEX_BPP         0x3
#define VBE_DISPI_INDEX_ENABLE      0x4
#define VBE_DISPI_INDEX_BANK        0x5
#define VBE_DISPI_INDEX_VIRT_WIDTH  0x6
#define VBE_DISPI_INDEX_VIRT_HEIGHT 0x7
#define VBE_DISPI_INDEX_X_OFFSET    0x8
#define VBE_DISPI_INDEX_Y_OFFSET    0x9
#define VBE_DISPI_INDEX_VIDEO_MEMORY_64K 0xA
#define VBE_DISPI_ID0               0xB0C0
#define VBE_DISPI_ID5               0xB0C5
#define VBE_DISPI_ENABLED           0x01
#define VBE_DISPI_GETCAPS           0x02
#define VBE_DISPI_8BIT_DAC          0x20
#define VBE_DISPI_LFB_ENABLED       0x40
#define VBE_DISPI_NOCLEARMEM        0x80
#define VBE_DISPI_MAX_XRES          2560
#define VBE_DISPI_MAX_YRES          1600

struct vga;

/* One rendered frame. Pixels are owned by the vga and stay valid until the
 * next vga_render/vga_free. */
struct vga_frame {
    int width, height;          /* pixels; a blanked screen keeps the mode's size */
    int stride;                 /* pixels per row in `pixels`                     */
    const uint32_t *pixels;     /* 0x00RRGGBB                                     */
    uint64_t generation;        /* vga_generation() at render time                */
    const char *mode;           /* "text", "planar", "256", "dispi", "blank"      */
};

/* vram_bytes: 0 means VGA_VRAM_DEFAULT; at least 256 KiB, a multiple of
 * 64 KiB. VRAM is a memfd (vga_vram_fd) so it can be mapped into guest
 * address space directly. Returns NULL (errno set) on failure. */
struct vga *vga_new(size_t vram_bytes);
void vga_free(struct vga *vga);
/* Power-on state (all registers 0, DISPI disabled, VRAM kept). */
void vga_reset(struct vga *vga);

/* Time source for the retrace bit, cursor and text blink (ns). Default:
 * CLOCK_MONOTONIC. The board passes vclock_now_ns. */
void vga_set_clock(struct vga *vga, uint64_t (*now_ns)(void *), void *opaque);

/* Map ports 0x3B0-0x3DF (byte ops), 0x1CE-0x1D0 (DISPI: index, data, data
 * alias) and MMIO 0xA0000-0xBFFFF on `bus`. 0 or -1 (overlap). */
int vga_attach(struct vga *vga, struct bus *bus) __attribute__((warn_unused_result));

/* LFB: bus ops whose offsets are offsets into VRAM (for a PCI BAR or for
 * bus_map_mmio at a fixed base), the base the LFB lives at (informational,
 * default VGA_LFB_DEFAULT) and the register-window ops for a PCI BAR2. */
const struct bus_ops *vga_lfb_ops(void);
const struct bus_ops *vga_mmio_ops(void);
void vga_set_lfb_base(struct vga *vga, uint64_t addr);
uint64_t vga_lfb_base(const struct vga *vga);
/* VRAM accessors (e.g. to map the LFB straight into guest memory). A front
 * end that lets the guest write VRAM behind the vga's back must call
 * vga_invalidate() before rendering. */
uint8_t *vga_vram(struct vga *vga);
size_t vga_vram_size(const struct vga *vga);
int vga_vram_fd(const struct vga *vga);
void vga_invalidate(struct vga *vga);

/* Direct register and memory access (what the bus handlers call; tests and
 * the BIOS loader may use them). port: absolute I/O port; addr: physical
 * address in 0xA0000-0xBFFFF. Sizes 1, 2 or 4 (little endian). */
uint32_t vga_ioport_read(struct vga *vga, uint16_t port, unsigned size);
void vga_ioport_write(struct vga *vga, uint16_t port, uint32_t val, unsigned size);
uint32_t vga_mem_read(struct vga *vga, uint32_t addr, unsigned size);
void vga_mem_write(struct vga *vga, uint32_t addr, uint32_t val, unsigned size);

/* Increases whenever the picture may have changed (writes, mode changes,
 * cursor/text blink phase). Front-ends redraw when it differs. */
uint64_t vga_generation(struct vga *vga);
/* Render the current mode. Always fills *out (a blank screen is black). */
void vga_render(struct vga *vga, struct vga_frame *out);
/* The text screen as ASCII lines (for tests); -1 if not in a text mode. */
int vga_text_dump(struct vga *vga, char *buf, size_t n);
/* Render and save as PNG. 0, or -1 with a message in err naming the file. */
int vga_screenshot(struct vga *vga, const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

#endif

/* devices/sysport.c - POST (0x80), debug console (0xE9), isa-debug-exit
 * (0xF4), system control port A (0x92), reset control (0xCF9).
 *
 * Owns: the state of those ports; everything else is the board's business,
 * reached through struct sysport_ops callbacks.
 * References: IBM PS/2 technical reference (port 92h: bit 0 fast reset on a
 * 0->1 write, bit 1 A20 gate); Intel PIIX3 datasheet 2.2.8 (RCR 0xCF9: bit 1
 * SYS_RST, bit 2 RST_CPU); Bochs port E9 hack (reads return 0xE9); QEMU
 * isa-debug-exit (status (v << 1) | 1).
 * Invariants: the a20 callback runs only when bit 1 of port 0x92 changes; a
 * reset is requested on a 0->1 write of 0x92 bit 0, and on any 0xCF9 write
 * with bit 2 set (0x06 soft, 0x0E hard: both reset the machine here).
 */
#include "devices/sysport.h"

#include <stdio.h>
#include <stdlib.h>

struct sysport {
    struct sysport_ops ops;      /* callbacks (NULL members allowed)       */
    void *opaque;                /* passed to the callbacks                */
    uint8_t post;                /* last value written to 0x80             */
    uint8_t port92;              /* port 0x92 as written                   */
    uint8_t cf9;                 /* 0xCF9 bits 1 and 3 (bit 2 self-clears) */
    bool exit_req;               /* 0xF4 was written                       */
    int exit_status;             /* (v << 1) | 1                           */
    unsigned resets;             /* reset requests so far                  */
    struct bus *bus;             /* where mapped (or NULL)                 */
    unsigned mapped;             /* bit per mapped port, see port_table    */
};

static const uint16_t port_table[] = { 0x80, 0xE9, 0xF4, 0x92, 0xCF9 };
#define NPORTS (sizeof port_table / sizeof port_table[0])

static void request_reset(struct sysport *sp)
{
    sp->resets++;
    if (sp->ops.reset) sp->ops.reset(sp->opaque);
}

uint8_t sysport_port_read(struct sysport *sp, uint16_t port)
{
    switch (port) {
    case 0x80: return sp->post;
    case 0xE9: return 0xE9;                  /* Bochs/QEMU: presence check */
    case 0x92: return sp->port92;
    case 0xCF9: return sp->cf9;
    default: return 0xFF;
    }
}

void sysport_port_write(struct sysport *sp, uint16_t port, uint8_t val)
{
    switch (port) {
    case 0x80:
        sp->post = val;
        if (sp->ops.post) sp->ops.post(sp->opaque, val);
        break;
    case 0xE9:
        if (sp->ops.debug_out) {
            sp->ops.debug_out(sp->opaque, val);
        } else {
            fputc(val, stdout);
            if (val == '\n') fflush(stdout);
        }
        break;
    case 0xF4:
        sp->exit_req = true;
        sp->exit_status = (val << 1) | 1;
        if (sp->ops.exit_request) sp->ops.exit_request(sp->opaque, sp->exit_status);
        break;
    case 0x92: {
        uint8_t old = sp->port92;
        sp->port92 = val;
        if ((old ^ val) & 0x02 && sp->ops.a20) sp->ops.a20(sp->opaque, (val & 0x02) != 0);
        if ((val & 0x01) && !(old & 0x01)) request_reset(sp);
        break;
    }
    case 0xCF9:
        sp->cf9 = val & 0x0A;
        if (val & 0x04) request_reset(sp);
        break;
    default:
        break;
    }
}

uint8_t sysport_last_post(struct sysport *sp) { return sp->post; }

bool sysport_exit_requested(struct sysport *sp, int *status)
{
    if (sp->exit_req && status) *status = sp->exit_status;
    return sp->exit_req;
}

unsigned sysport_reset_count(struct sysport *sp) { return sp->resets; }
bool sysport_a20(struct sysport *sp) { return (sp->port92 & 0x02) != 0; }

void sysport_set_a20_bit(struct sysport *sp, bool enabled)
{
    sp->port92 = (uint8_t)((sp->port92 & ~0x02) | (enabled ? 0x02 : 0));
}

void sysport_reset(struct sysport *sp)
{
    sp->port92 = 0;
    sp->cf9 = 0;
}

/* ---- bus ------------------------------------------------------------------------ */

/* One ops table per port so the handler knows which port it serves. */
#define SP_OPS(name_, port_)                                                              \
    static uint32_t name_##_read(void *o, uint32_t off, unsigned size)                    \
    { (void)off; (void)size; return sysport_port_read(o, port_); }                        \
    static void name_##_write(void *o, uint32_t off, uint32_t v, unsigned size)           \
    { (void)off; (void)size; sysport_port_write(o, port_, (uint8_t)v); }                  \
    static const struct bus_ops name_##_ops = { .name = #name_, .read = name_##_read,     \
                                                .write = name_##_write, .byte_only = true };
SP_OPS(post80, 0x80)
SP_OPS(debugcon, 0xE9)
SP_OPS(debug_exit, 0xF4)
SP_OPS(port92, 0x92)
SP_OPS(rcr_cf9, 0xCF9)

static const struct bus_ops *const ops_table[NPORTS] = {
    &post80_ops, &debugcon_ops, &debug_exit_ops, &port92_ops, &rcr_cf9_ops,
};

struct sysport *sysport_new(struct bus *bus, const struct sysport_ops *ops, void *opaque,
                            unsigned flags)
{
    struct sysport *sp = calloc(1, sizeof *sp);
    if (!sp) return NULL;
    if (ops) sp->ops = *ops;
    sp->opaque = opaque;
    sp->bus = bus;
    if (bus) {
        for (unsigned i = 0; i < NPORTS; i++) {
            if (port_table[i] == 0xCF9 && !(flags & SYSPORT_CF9)) continue;
            if (bus_map_io(bus, port_table[i], 1, ops_table[i], sp) != 0) {
                fprintf(stderr, "bt86: sysport: I/O port 0x%04x is already mapped\n", port_table[i]);
                sysport_free(sp);
                return NULL;
            }
            sp->mapped |= 1u << i;
        }
    }
    return sp;
}

void sysport_free(struct sysport *sp)
{
    if (!sp) return;
    for (unsigned i = 0; i < NPORTS; i++)
        if (sp->mapped & (1u << i)) bus_unmap_io(sp->bus, port_table[i], 1);
    free(sp);
}

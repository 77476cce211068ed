/* devices/pic.c - 8259A programmable interrupt controller pair + ELCR.
 *
 * Owns: two chips (master: IRQ 0-7, slave: IRQ 8-15 on master IR2), each
 * with IRR/ISR/IMR, its initialization sequence and operation modes, and the
 * PIIX edge/level control registers at 0x4D0/0x4D1.
 * References: Intel 8259A datasheet (231468): ICW1-4 (figure 7), OCW1-3
 * (figure 8), "Interrupt Sequence", "Special Mask Mode", "Poll Command",
 * "Rotation", "Edge and Level Triggered Modes"; Intel PIIX3 datasheet 2.3
 * (ELCR1/ELCR2: IRQ 0, 1, 2, 8 and 13 must stay edge triggered).
 *
 * Invariants:
 * - chip.lines holds the current level of each input; for a level-triggered
 *   input (ELCR bit or ICW1.LTIM) IRR follows lines; for an edge input IRR is
 *   set on a 0->1 change of lines and cleared by the INTA that acknowledges
 *   it (or by ICW1). Deviation from the datasheet, on purpose: a request that
 *   drops before INTA is not withdrawn, so irq_pulse() delivers.
 * - Master IR2 (in cascade mode) is driven by the slave's INT output, as a
 *   level: master.irr bit 2 == (slave has a deliverable request), recomputed
 *   by pic_update() after every change to either chip.
 * - Priority: level p (0 = highest) is input (p + prio_add) & 7; rotation
 *   commands only change prio_add. A request is deliverable if it is
 *   unmasked and of higher priority than every in-service level (in special
 *   mask mode, in-service levels that are masked do not count).
 * - intr caches the master's INT output; the callback sees every change.
 */
#include "devices/pic.h"

#include <stdlib.h>

struct pic_chip {
    uint8_t irr;                 /* interrupt request register             */
    uint8_t isr;                 /* in-service register                    */
    uint8_t imr;                 /* interrupt mask register (OCW1)         */
    uint8_t lines;               /* input levels                           */
    uint8_t elcr;                /* level-triggered inputs (ELCR)          */
    uint8_t elcr_mask;           /* ELCR bits that may be set              */
    uint8_t vbase;               /* ICW2: vector of IR0 (low 3 bits zero)  */
    uint8_t icw3;                /* ICW3 as written (cascade wiring)       */
    uint8_t prio_add;            /* input with the highest priority        */
    uint8_t init_state;          /* 0 ready, 1 want ICW2, 2 ICW3, 3 ICW4   */
    bool icw4_needed;            /* ICW1.IC4                               */
    bool single;                 /* ICW1.SNGL: no cascade                  */
    bool ltim;                   /* ICW1.LTIM: all inputs level triggered  */
    bool aeoi;                   /* ICW4.AEOI                              */
    bool sfnm;                   /* ICW4.SFNM (stored, not modelled)       */
    bool rotate_aeoi;            /* OCW2 rotate in automatic EOI mode      */
    bool special_mask;           /* OCW3 special mask mode                 */
    bool poll;                   /* OCW3 poll: next read is a poll         */
    bool read_isr;               /* OCW3 RR/RIS: A0=0 reads ISR, else IRR  */
};

struct pic {
    struct pic_chip chip[2];     /* 0 master, 1 slave                      */
    bool intr;                   /* master INT output                      */
    void (*intr_cb)(void *, bool); /* INTR change notification (or NULL)   */
    void *intr_opaque;           /* its opaque                             */
    struct bus *bus;             /* where the ports are mapped (or NULL)   */
    unsigned mapped;             /* bit 0 master, 1 slave, 2 ELCR mapped   */
};

static uint8_t chip_level_mask(const struct pic_chip *c)
{
    return c->ltim ? 0xFF : c->elcr;
}

/* Priority level (0 highest) of the highest-priority bit in m, 8 if none. */
static int chip_prio(const struct pic_chip *c, uint8_t m)
{
    if (!m) return 8;
    for (int p = 0; p < 8; p++)
        if (m & (1u << ((p + c->prio_add) & 7))) return p;
    return 8;
}

/* The input this chip would deliver now, or -1. */
static int chip_pending(const struct pic_chip *c)
{
    uint8_t req = c->irr & ~c->imr;
    int p = chip_prio(c, req);
    if (p == 8) return -1;
    uint8_t in_service = c->isr;
    if (c->special_mask) in_service &= ~c->imr;   /* 8259A: special mask mode */
    if (p < chip_prio(c, in_service)) return (p + c->prio_add) & 7;
    return -1;
}

/* INTA (or poll) of input irq on chip c. */
static void chip_ack(struct pic_chip *c, int irq)
{
    uint8_t bit = (uint8_t)(1u << irq);
    if (c->aeoi) {
        if (c->rotate_aeoi) c->prio_add = (uint8_t)((irq + 1) & 7);
    } else {
        c->isr |= bit;
    }
    if (!(chip_level_mask(c) & bit)) c->irr &= (uint8_t)~bit;
}

static void pic_update(struct pic *pic)
{
    struct pic_chip *m = &pic->chip[0], *s = &pic->chip[1];
    if (!m->single) {
        if (chip_pending(s) >= 0) m->irr |= 0x04;
        else m->irr &= (uint8_t)~0x04;
    }
    bool intr = chip_pending(m) >= 0;
    if (intr != pic->intr) {
        pic->intr = intr;
        if (pic->intr_cb) pic->intr_cb(pic->intr_opaque, intr);
    }
}

void pic_set_irq(struct pic *pic, int irq, int level)
{
    if (!pic || irq < 0 || irq > 15 || irq == 2) return;
    struct pic_chip *c = &pic->chip[irq >> 3];
    uint8_t bit = (uint8_t)(1u << (irq & 7));
    if (chip_level_mask(c) & bit) {
        if (level) c->irr |= bit;
        else c->irr &= (uint8_t)~bit;
    } else if (level && !(c->lines & bit)) {
        c->irr |= bit;                          /* rising edge */
    }
    if (level) c->lines |= bit;
    else c->lines &= (uint8_t)~bit;
    pic_update(pic);
}

void pic_irq_set_cb(void *opaque, int irq, int level)
{
    pic_set_irq(opaque, irq, level);
}

struct irq_line pic_irq_line(struct pic *pic, int irq)
{
    return (struct irq_line){ .set = pic_irq_set_cb, .opaque = pic, .n = irq };
}

bool pic_has_intr(struct pic *pic)
{
    return pic && pic->intr;
}

int pic_ack(struct pic *pic)
{
    struct pic_chip *m = &pic->chip[0], *s = &pic->chip[1];
    int vector;
    int irq = chip_pending(m);
    if (irq < 0) {
        vector = m->vbase + 7;                  /* spurious IRQ7, no ISR bit */
    } else if (irq == 2 && !m->single) {
        chip_ack(m, 2);
        int sirq = chip_pending(s);
        if (sirq < 0) {
            vector = s->vbase + 7;              /* spurious IRQ15 */
        } else {
            chip_ack(s, sirq);
            vector = s->vbase + sirq;
        }
    } else {
        chip_ack(m, irq);
        vector = m->vbase + irq;
    }
    pic_update(pic);
    return vector;
}

void pic_set_intr_cb(struct pic *pic, void (*cb)(void *opaque, bool level), void *opaque)
{
    pic->intr_cb = cb;
    pic->intr_opaque = opaque;
}

/* ---- registers ------------------------------------------------------------------ */

static uint8_t chip_read(struct pic *pic, struct pic_chip *c, unsigned a0)
{
    if (c->poll) {
        /* 8259A "Poll Command": the read acts as INTA and returns
         * 1000 0www (w = highest request) or 0 if none. */
        c->poll = false;
        int irq = chip_pending(c);
        uint8_t v = 0;
        if (irq >= 0) {
            chip_ack(c, irq);
            v = (uint8_t)(0x80 | irq);
        }
        pic_update(pic);
        return v;
    }
    if (a0) return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

static void chip_write_ocw2(struct pic_chip *c, uint8_t val)
{
    unsigned level = val & 7;
    switch ((val >> 5) & 7) {
    case 0: c->rotate_aeoi = false; break;                    /* clear rotate in AEOI */
    case 4: c->rotate_aeoi = true; break;                     /* set rotate in AEOI */
    case 1: case 5: {                                         /* non-specific EOI */
        int p = chip_prio(c, c->isr);
        if (p == 8) break;
        unsigned irq = (p + c->prio_add) & 7;
        c->isr &= (uint8_t)~(1u << irq);
        if (val & 0x80) c->prio_add = (uint8_t)((irq + 1) & 7); /* rotate on EOI */
        break;
    }
    case 3: c->isr &= (uint8_t)~(1u << level); break;         /* specific EOI */
    case 7:                                                   /* rotate on specific EOI */
        c->isr &= (uint8_t)~(1u << level);
        c->prio_add = (uint8_t)((level + 1) & 7);
        break;
    case 6: c->prio_add = (uint8_t)((level + 1) & 7); break;  /* set priority: level lowest */
    default: break;                                           /* 2: no operation */
    }
}

static void chip_write(struct pic *pic, struct pic_chip *c, unsigned a0, uint8_t val)
{
    if (!a0) {
        if (val & 0x10) {
            /* ICW1 (8259A "Initialization Command Words"): edge sense reset,
             * IMR cleared, IR7 lowest priority, special mask off, read IRR. */
            c->ltim = (val & 0x08) != 0;
            c->single = (val & 0x02) != 0;
            c->icw4_needed = (val & 0x01) != 0;
            c->imr = 0;
            c->isr = 0;
            c->irr = c->lines & chip_level_mask(c);
            c->prio_add = 0;
            c->special_mask = false;
            c->read_isr = false;
            c->poll = false;
            c->aeoi = false;
            c->sfnm = false;
            c->rotate_aeoi = false;
            c->init_state = 1;
        } else if (val & 0x08) {
            /* OCW3 */
            if (val & 0x04) c->poll = true;
            if (val & 0x02) c->read_isr = (val & 0x01) != 0;
            if (val & 0x40) c->special_mask = (val & 0x20) != 0;
        } else {
            chip_write_ocw2(c, val);
        }
    } else {
        switch (c->init_state) {
        case 1:                                           /* ICW2 */
            c->vbase = val & 0xF8;
            c->init_state = c->single ? (c->icw4_needed ? 3 : 0) : 2;
            break;
        case 2:                                           /* ICW3 */
            c->icw3 = val;
            c->init_state = c->icw4_needed ? 3 : 0;
            break;
        case 3:                                           /* ICW4 */
            c->aeoi = (val & 0x02) != 0;
            c->sfnm = (val & 0x10) != 0;
            c->init_state = 0;
            break;
        default:                                          /* OCW1 */
            c->imr = val;
            break;
        }
    }
    pic_update(pic);
}

static void pic_write_elcr(struct pic *pic, int chip, uint8_t val)
{
    struct pic_chip *c = &pic->chip[chip];
    uint8_t old = chip_level_mask(c);
    c->elcr = val & c->elcr_mask;
    uint8_t now_level = chip_level_mask(c) & ~old;
    c->irr = (uint8_t)((c->irr & ~now_level) | (c->lines & now_level));
    pic_update(pic);
}

uint8_t pic_port_read(struct pic *pic, uint16_t port)
{
    switch (port) {
    case 0x20: case 0x21: return chip_read(pic, &pic->chip[0], port & 1);
    case 0xA0: case 0xA1: return chip_read(pic, &pic->chip[1], port & 1);
    case 0x4D0: return pic->chip[0].elcr;
    case 0x4D1: return pic->chip[1].elcr;
    default: return 0xFF;
    }
}

void pic_port_write(struct pic *pic, uint16_t port, uint8_t val)
{
    switch (port) {
    case 0x20: case 0x21: chip_write(pic, &pic->chip[0], port & 1, val); break;
    case 0xA0: case 0xA1: chip_write(pic, &pic->chip[1], port & 1, val); break;
    case 0x4D0: pic_write_elcr(pic, 0, val); break;
    case 0x4D1: pic_write_elcr(pic, 1, val); break;
    default: break;
    }
}

uint8_t pic_get_irr(struct pic *pic, int chip) { return pic->chip[chip & 1].irr; }
uint8_t pic_get_isr(struct pic *pic, int chip) { return pic->chip[chip & 1].isr; }
uint8_t pic_get_imr(struct pic *pic, int chip) { return pic->chip[chip & 1].imr; }

/* ---- bus ------------------------------------------------------------------------ */

static uint32_t master_read(void *o, uint32_t off, unsigned size) { (void)size; return pic_port_read(o, (uint16_t)(0x20 + off)); }
static uint32_t slave_read(void *o, uint32_t off, unsigned size)  { (void)size; return pic_port_read(o, (uint16_t)(0xA0 + off)); }
static uint32_t elcr_read(void *o, uint32_t off, unsigned size)   { (void)size; return pic_port_read(o, (uint16_t)(0x4D0 + off)); }
static void master_write(void *o, uint32_t off, uint32_t v, unsigned size) { (void)size; pic_port_write(o, (uint16_t)(0x20 + off), (uint8_t)v); }
static void slave_write(void *o, uint32_t off, uint32_t v, unsigned size)  { (void)size; pic_port_write(o, (uint16_t)(0xA0 + off), (uint8_t)v); }
static void elcr_write(void *o, uint32_t off, uint32_t v, unsigned size)   { (void)size; pic_port_write(o, (uint16_t)(0x4D0 + off), (uint8_t)v); }

static const struct bus_ops pic_master_ops = { .name = "pic-master", .read = master_read, .write = master_write, .byte_only = true };
static const struct bus_ops pic_slave_ops = { .name = "pic-slave", .read = slave_read, .write = slave_write, .byte_only = true };
static const struct bus_ops pic_elcr_ops = { .name = "elcr", .read = elcr_read, .write = elcr_write, .byte_only = true };

struct pic *pic_new(struct bus *bus)
{
    struct pic *pic = calloc(1, sizeof *pic);
    if (!pic) return NULL;
    pic->chip[0].elcr_mask = 0xF8;    /* IRQ 0, 1, 2 always edge (PIIX3 ELCR1) */
    pic->chip[1].elcr_mask = 0xDE;    /* IRQ 8, 13 always edge (PIIX3 ELCR2)   */
    pic->bus = bus;
    if (bus) {
        if (bus_map_io(bus, 0x20, 2, &pic_master_ops, pic) == 0) pic->mapped |= 1;
        if (bus_map_io(bus, 0xA0, 2, &pic_slave_ops, pic) == 0) pic->mapped |= 2;
        if (bus_map_io(bus, 0x4D0, 2, &pic_elcr_ops, pic) == 0) pic->mapped |= 4;
        if (pic->mapped != 7) {
            pic_free(pic);
            return NULL;
        }
    }
    return pic;
}

void pic_free(struct pic *pic)
{
    if (!pic) return;
    if (pic->bus) {
        if (pic->mapped & 1) bus_unmap_io(pic->bus, 0x20, 2);
        if (pic->mapped & 2) bus_unmap_io(pic->bus, 0xA0, 2);
        if (pic->mapped & 4) bus_unmap_io(pic->bus, 0x4D0, 2);
    }
    free(pic);
}

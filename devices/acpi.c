/* devices/acpi.c - ACPI PM1a registers, PM timer, SCI and S5 (see acpi.h).
 * Invariant: the SCI line level always equals (sts & en) != 0 after any
 * register access. TMR_STS is derived lazily from the timer's bit 23. */
#include "devices/acpi.h"
#include <stdlib.h>
#include <stdio.h>

#define STS_TMR     0x0001
#define STS_PWRBTN  0x0100
#define STS_WAK     0x8000
#define CNT_SCI_EN  0x0001
#define CNT_SLP_EN  0x2000

struct acpi {
    struct bus *bus;                   /* where the ports are mapped          */
    uint16_t base;                     /* first port                          */
    struct vclock *clk;                /* PM timer time base                  */
    const struct irq_line *sci;        /* SCI (IRQ 9, level)                  */
    void (*poweroff)(void *);          /* S5 callback                         */
    void *opaque;                      /* its argument                        */
    uint16_t sts, en, cnt;             /* PM1a status, enable, control        */
    uint32_t tmr_seen;                 /* timer value when TMR_STS last checked */
};

static uint32_t pm_timer(struct acpi *a)
{
    uint64_t ns = a->clk ? vclock_now_ns(a->clk) : 0;
    /* ns * f / 1e9 without overflow for ~150 years of guest time */
    uint64_t t = (ns / 1000000000ull) * ACPI_PM_TIMER_HZ + (ns % 1000000000ull) * ACPI_PM_TIMER_HZ / 1000000000ull;
    return (uint32_t)(t & 0xFFFFFF);
}

static void update(struct acpi *a)
{
    uint32_t t = pm_timer(a);
    if ((t ^ a->tmr_seen) & 0x800000) a->sts |= STS_TMR;   /* bit 23 toggled */
    a->tmr_seen = t;
    irq_set(a->sci, (a->sts & a->en & (STS_TMR | STS_PWRBTN)) != 0);
}

uint32_t acpi_port_read(struct acpi *a, uint32_t off, unsigned size)
{
    update(a);
    uint8_t b[12] = { (uint8_t)a->sts, (uint8_t)(a->sts >> 8), (uint8_t)a->en, (uint8_t)(a->en >> 8),
                      (uint8_t)a->cnt, (uint8_t)(a->cnt >> 8), 0, 0, 0, 0, 0, 0 };
    uint32_t t = pm_timer(a);
    b[8] = (uint8_t)t; b[9] = (uint8_t)(t >> 8); b[10] = (uint8_t)(t >> 16);
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++) v |= (uint32_t)(off + i < 12 ? b[off + i] : 0xFF) << (8 * i);
    return v;
}

static void write_byte(struct acpi *a, uint32_t off, uint8_t v)
{
    switch (off) {
    case 0: a->sts &= (uint16_t)~v; break;
    case 1: a->sts &= (uint16_t)~((unsigned)v << 8); break;
    case 2: a->en = (uint16_t)((a->en & 0xFF00) | v); break;
    case 3: a->en = (uint16_t)((a->en & 0x00FF) | (v << 8)); break;
    case 4: a->cnt = (uint16_t)((a->cnt & 0xFF00) | v | CNT_SCI_EN); break;
    case 5: {
        a->cnt = (uint16_t)((a->cnt & 0x00FF) | (v << 8));
        if (a->cnt & CNT_SLP_EN) {
            unsigned typ = (a->cnt >> 10) & 7;
            a->cnt &= (uint16_t)~CNT_SLP_EN;         /* SLP_EN reads as 0 */
            if (typ == ACPI_SLP_TYP_S5 && a->poweroff) a->poweroff(a->opaque);
            else a->sts |= STS_WAK;                  /* other states: wake at once */
        }
        break;
    }
    default: break;                                   /* PM timer is read-only */
    }
}

void acpi_port_write(struct acpi *a, uint32_t off, uint32_t val, unsigned size)
{
    /* a 16-bit write to PM1a_CNT carries SLP_TYP and SLP_EN together: the
     * high byte is written last so SLP_EN sees the new type */
    for (unsigned i = 0; i < size; i++) write_byte(a, off + i, (uint8_t)(val >> (8 * i)));
    update(a);
}

static uint32_t bus_rd(void *o, uint32_t off, unsigned size) { return acpi_port_read(o, off, size); }
static void bus_wr(void *o, uint32_t off, uint32_t val, unsigned size) { acpi_port_write(o, off, val, size); }
static const struct bus_ops acpi_ops = { "acpi-pm", bus_rd, bus_wr, false };

struct acpi *acpi_new(struct bus *bus, uint16_t base, struct vclock *clk, const struct irq_line *sci,
                      void (*poweroff)(void *opaque), void *opaque)
{
    struct acpi *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->base = base; a->clk = clk; a->sci = sci; a->poweroff = poweroff; a->opaque = opaque;
    if (bus && bus_map_io(bus, base, ACPI_PM_LEN, &acpi_ops, a) != 0) {
        fprintf(stderr, "acpi: ports 0x%x-0x%x are taken\n", base, base + ACPI_PM_LEN - 1);
        free(a);
        return NULL;
    }
    a->bus = bus;
    acpi_reset(a);
    return a;
}

void acpi_reset(struct acpi *a)
{
    a->sts = 0; a->en = 0; a->cnt = CNT_SCI_EN;
    a->tmr_seen = pm_timer(a);
    irq_set(a->sci, 0);
}

void acpi_power_button(struct acpi *a)
{
    a->sts |= STS_PWRBTN;
    update(a);
}

void acpi_free(struct acpi *a)
{
    if (!a) return;
    if (a->bus) bus_unmap_io(a->bus, a->base, ACPI_PM_LEN);
    free(a);
}

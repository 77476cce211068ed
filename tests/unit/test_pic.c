/* tests/unit/test_pic.c - the 8259A pair through the bus, with the register
 * sequences Linux uses (arch/x86/kernel/i8259.c: probe_8259A, init_8259A,
 * mask_and_ack_8259A, i8259A_irq_real) and the modes a BIOS may use. */
#include "devices/pic.h"
#include "devices/pit.h"
#include "devices/rtc.h"
#include "devices/vclock.h"
#include "tests/unit/test.h"

struct env { struct bus *bus; struct pic *pic; };

static uint8_t in8(struct env *e, uint16_t p) { return (uint8_t)bus_io_read(e->bus, p, 1); }
static void out8(struct env *e, uint16_t p, uint8_t v) { bus_io_write(e->bus, p, v, 1); }

/* Linux init_8259A(auto_eoi): vectors 0x30/0x38, cascade on IR2. */
static void linux_init(struct env *e, int auto_eoi)
{
    out8(e, 0x21, 0xFF);
    out8(e, 0xA1, 0xFF);
    out8(e, 0x20, 0x11);                  /* ICW1: edge, cascade, ICW4 */
    out8(e, 0x21, 0x30);                  /* ICW2 */
    out8(e, 0x21, 0x04);                  /* ICW3: slave on IR2 */
    out8(e, 0x21, auto_eoi ? 0x03 : 0x01);/* ICW4: 8086 mode (+AEOI) */
    out8(e, 0xA0, 0x11);
    out8(e, 0xA1, 0x38);
    out8(e, 0xA1, 0x02);                  /* slave ID 2 */
    out8(e, 0xA1, 0x01);
    out8(e, 0x21, 0x00);                  /* unmask everything */
    out8(e, 0xA1, 0x00);
}

static struct env env_new(int auto_eoi)
{
    struct env e;
    e.bus = bus_new();
    e.pic = pic_new(e.bus);
    linux_init(&e, auto_eoi);
    return e;
}
static void env_free(struct env *e) { pic_free(e->pic); bus_free(e->bus); }

static uint8_t read_isr(struct env *e, uint16_t cmd)
{
    out8(e, cmd, 0x0B);                   /* OCW3: read ISR */
    uint8_t v = in8(e, cmd);
    out8(e, cmd, 0x0A);                   /* back to IRR */
    return v;
}

static void test_probe_and_init(void)
{
    struct env e;
    e.bus = bus_new();
    e.pic = pic_new(e.bus);
    EXPECT(e.pic != NULL);
    EXPECT(pic_new(e.bus) == NULL);       /* ports taken: refused */
    /* probe_8259A: the IMR reads back what was written */
    out8(&e, 0xA1, 0xFF);
    out8(&e, 0x21, 0xA5);
    EXPECT_EQ(in8(&e, 0x21), 0xA5);
    linux_init(&e, 0);
    EXPECT_EQ(in8(&e, 0x21), 0x00);
    EXPECT_EQ(in8(&e, 0xA1), 0x00);
    EXPECT(!pic_has_intr(e.pic));
    /* nothing pending: an INTA yields the master's spurious vector */
    EXPECT_EQ(pic_ack(e.pic), 0x37);
    EXPECT_EQ(read_isr(&e, 0x20), 0);
    env_free(&e);
}

static void test_irq0_deliver_and_specific_eoi(void)
{
    struct env e = env_new(0);
    struct irq_line l0 = pic_irq_line(e.pic, 0);
    irq_pulse(&l0);                       /* edge: the pulse is latched */
    EXPECT(pic_has_intr(e.pic));
    EXPECT_EQ(in8(&e, 0x20), 0x01);       /* IRR */
    EXPECT_EQ(pic_ack(e.pic), 0x30);
    EXPECT(!pic_has_intr(e.pic));
    EXPECT_EQ(in8(&e, 0x20), 0x00);       /* IRR cleared by INTA */
    EXPECT_EQ(read_isr(&e, 0x20), 0x01);
    /* while in service, another IRQ0 waits */
    irq_pulse(&l0);
    EXPECT(!pic_has_intr(e.pic));
    /* mask_and_ack_8259A: dummy read, mask write, specific EOI 0x60+irq */
    (void)in8(&e, 0x21);
    out8(&e, 0x21, 0x00);
    out8(&e, 0x20, 0x60);
    EXPECT_EQ(read_isr(&e, 0x20), 0x00);
    EXPECT(pic_has_intr(e.pic));
    EXPECT_EQ(pic_ack(e.pic), 0x30);
    env_free(&e);
}

static void test_priority_nesting(void)
{
    struct env e = env_new(0);
    pic_set_irq(e.pic, 4, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x34);
    pic_set_irq(e.pic, 6, 1);             /* lower priority: blocked */
    EXPECT(!pic_has_intr(e.pic));
    pic_set_irq(e.pic, 1, 1);             /* higher priority: nests */
    EXPECT(pic_has_intr(e.pic));
    EXPECT_EQ(pic_ack(e.pic), 0x31);
    EXPECT_EQ(read_isr(&e, 0x20), 0x12);
    out8(&e, 0x20, 0x20);                 /* non-specific EOI: clears IRQ1 */
    EXPECT_EQ(read_isr(&e, 0x20), 0x10);
    EXPECT(!pic_has_intr(e.pic));         /* IRQ6 still below IRQ4 */
    out8(&e, 0x20, 0x20);
    EXPECT_EQ(read_isr(&e, 0x20), 0x00);
    EXPECT_EQ(pic_ack(e.pic), 0x36);
    env_free(&e);
}

static void test_cascade_slave(void)
{
    struct env e = env_new(0);
    pic_set_irq(e.pic, 8, 1);             /* RTC */
    EXPECT(pic_has_intr(e.pic));
    EXPECT_EQ(in8(&e, 0x20) & 0x04, 0x04);/* master sees IR2 */
    EXPECT_EQ(pic_ack(e.pic), 0x38);
    EXPECT_EQ(read_isr(&e, 0x20), 0x04);
    EXPECT_EQ(read_isr(&e, 0xA0), 0x01);
    /* a slave IRQ14 while 8 is in service: master IR2 in service blocks it */
    pic_set_irq(e.pic, 14, 1);
    EXPECT(!pic_has_intr(e.pic));
    out8(&e, 0xA0, 0x60);                 /* Linux: specific EOI to slave */
    out8(&e, 0x20, 0x62);                 /* and to master IR2 */
    EXPECT(pic_has_intr(e.pic));
    EXPECT_EQ(pic_ack(e.pic), 0x3E);
    out8(&e, 0xA0, 0x66);
    out8(&e, 0x20, 0x62);
    /* the master IMR bit 2 masks the whole slave */
    out8(&e, 0x21, 0x04);
    pic_set_irq(e.pic, 12, 0);
    pic_set_irq(e.pic, 12, 1);
    EXPECT(!pic_has_intr(e.pic));
    out8(&e, 0x21, 0x00);
    EXPECT_EQ(pic_ack(e.pic), 0x3C);
    /* IRQ 2 is the cascade itself: driving it does nothing */
    out8(&e, 0xA0, 0x64);
    out8(&e, 0x20, 0x62);
    pic_set_irq(e.pic, 2, 1);
    EXPECT(!pic_has_intr(e.pic));
    env_free(&e);
}

static void test_imr_masking(void)
{
    struct env e = env_new(0);
    out8(&e, 0x21, 0x08);                 /* mask IRQ3 */
    pic_set_irq(e.pic, 3, 1);
    EXPECT(!pic_has_intr(e.pic));
    EXPECT_EQ(in8(&e, 0x20), 0x08);       /* but it is requested */
    out8(&e, 0x21, 0x00);
    EXPECT(pic_has_intr(e.pic));
    EXPECT_EQ(pic_ack(e.pic), 0x33);
    env_free(&e);
}

static void test_level_triggered_elcr(void)
{
    struct env e = env_new(0);
    out8(&e, 0x4D0, 0xFF);
    EXPECT_EQ(in8(&e, 0x4D0), 0xF8);      /* IRQ0-2 must stay edge */
    out8(&e, 0x4D1, 0xFF);
    EXPECT_EQ(in8(&e, 0x4D1), 0xDE);      /* IRQ8 and 13 must stay edge */
    out8(&e, 0x4D0, 0x00);
    out8(&e, 0x4D1, 0x08);                /* IRQ11 level (a PCI INTx) */
    pic_set_irq(e.pic, 11, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x3B);
    out8(&e, 0xA0, 0x63);
    out8(&e, 0x20, 0x62);
    /* still asserted: delivered again after EOI */
    EXPECT(pic_has_intr(e.pic));
    EXPECT_EQ(pic_ack(e.pic), 0x3B);
    out8(&e, 0xA0, 0x63);
    out8(&e, 0x20, 0x62);
    pic_set_irq(e.pic, 11, 0);            /* device deasserts */
    EXPECT(!pic_has_intr(e.pic));
    EXPECT_EQ(in8(&e, 0xA0), 0x00);
    /* edge input: held high after the ack it is not delivered again */
    pic_set_irq(e.pic, 10, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x3A);
    out8(&e, 0xA0, 0x62);
    out8(&e, 0x20, 0x62);
    EXPECT(!pic_has_intr(e.pic));
    /* switching IRQ10 to level while the line is high makes it request */
    out8(&e, 0x4D1, 0x0C);
    EXPECT(pic_has_intr(e.pic));
    env_free(&e);
}

static void test_ltim_all_level(void)
{
    struct env e = env_new(0);
    out8(&e, 0x20, 0x19);                 /* ICW1 with LTIM */
    out8(&e, 0x21, 0x30);
    out8(&e, 0x21, 0x04);
    out8(&e, 0x21, 0x01);
    pic_set_irq(e.pic, 5, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x35);
    out8(&e, 0x20, 0x65);
    EXPECT(pic_has_intr(e.pic));
    pic_set_irq(e.pic, 5, 0);
    EXPECT(!pic_has_intr(e.pic));
    env_free(&e);
}

static void test_auto_eoi(void)
{
    struct env e = env_new(1);
    pic_set_irq(e.pic, 0, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x30);
    EXPECT_EQ(read_isr(&e, 0x20), 0x00);  /* AEOI: no in-service bit */
    pic_set_irq(e.pic, 0, 0);
    pic_set_irq(e.pic, 1, 1);             /* a lower priority one gets through */
    EXPECT_EQ(pic_ack(e.pic), 0x31);
    /* rotate in AEOI mode: after serving IRQ1, IRQ2 becomes highest,
     * so IRQ3 beats IRQ0 */
    out8(&e, 0x20, 0x80);
    pic_set_irq(e.pic, 4, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x34);      /* prio_add now 5 */
    pic_set_irq(e.pic, 0, 1);
    pic_set_irq(e.pic, 6, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x36);      /* 6 before 0 after rotation */
    EXPECT_EQ(pic_ack(e.pic), 0x30);
    out8(&e, 0x20, 0x00);                 /* clear rotate in AEOI */
    env_free(&e);
}

static void test_spurious_irq7(void)
{
    struct env e = env_new(0);
    out8(&e, 0x4D1, 0x08);                /* IRQ11 level */
    pic_set_irq(e.pic, 11, 1);
    EXPECT(pic_has_intr(e.pic));
    pic_set_irq(e.pic, 11, 0);            /* withdrawn before INTA */
    EXPECT_EQ(pic_ack(e.pic), 0x37);
    /* Linux's i8259A_irq_real: ISR bit 7 clear means spurious */
    EXPECT_EQ(read_isr(&e, 0x20), 0x00);
    EXPECT_EQ(read_isr(&e, 0xA0), 0x00);
    /* a real IRQ7 sets ISR bit 7 */
    pic_set_irq(e.pic, 7, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x37);
    EXPECT_EQ(read_isr(&e, 0x20), 0x80);
    env_free(&e);
}

static void test_poll_mode(void)
{
    struct env e = env_new(0);
    out8(&e, 0x21, 0xFF);                 /* polled: all masked from INTR ... */
    out8(&e, 0x21, 0x00);
    out8(&e, 0x20, 0x0C);                 /* OCW3: poll */
    EXPECT_EQ(in8(&e, 0x20), 0x00);       /* nothing pending */
    pic_set_irq(e.pic, 5, 1);
    pic_set_irq(e.pic, 3, 1);
    out8(&e, 0x20, 0x0C);
    EXPECT_EQ(in8(&e, 0x20), 0x83);       /* highest first, acknowledged */
    EXPECT_EQ(read_isr(&e, 0x20), 0x08);
    EXPECT_EQ(in8(&e, 0x20), 0x20);       /* poll is one-shot: IRR again */
    out8(&e, 0x20, 0x20);
    out8(&e, 0x20, 0x0C);
    EXPECT_EQ(in8(&e, 0x20), 0x85);
    env_free(&e);
}

static void test_rotation_commands(void)
{
    struct env e = env_new(0);
    out8(&e, 0x20, 0xC3);                 /* set priority: IRQ3 lowest, IRQ4 highest */
    pic_set_irq(e.pic, 1, 1);
    pic_set_irq(e.pic, 5, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x35);
    out8(&e, 0x20, 0xA0);                 /* rotate on non-specific EOI: 5 lowest */
    EXPECT_EQ(read_isr(&e, 0x20), 0x00);
    pic_set_irq(e.pic, 6, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x36);      /* 6 is now highest */
    out8(&e, 0x20, 0xE6);                 /* rotate on specific EOI 6 */
    EXPECT_EQ(pic_ack(e.pic), 0x31);
    out8(&e, 0x20, 0x61);
    env_free(&e);
}

static void test_special_mask_mode(void)
{
    struct env e = env_new(0);
    pic_set_irq(e.pic, 3, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x33);
    pic_set_irq(e.pic, 5, 1);
    EXPECT(!pic_has_intr(e.pic));         /* blocked by IRQ3 in service */
    out8(&e, 0x21, 0x08);                 /* mask IRQ3 ... */
    EXPECT(!pic_has_intr(e.pic));
    out8(&e, 0x20, 0x68);                 /* ... and enter special mask mode */
    EXPECT(pic_has_intr(e.pic));
    EXPECT_EQ(pic_ack(e.pic), 0x35);
    out8(&e, 0x20, 0x48);                 /* leave special mask mode */
    out8(&e, 0x20, 0x65);
    out8(&e, 0x21, 0x00);
    out8(&e, 0x20, 0x63);
    EXPECT_EQ(read_isr(&e, 0x20), 0x00);
    env_free(&e);
}

static void test_icw1_resets_edge_and_state(void)
{
    struct env e = env_new(0);
    pic_set_irq(e.pic, 4, 1);
    out8(&e, 0x21, 0x10);
    out8(&e, 0x20, 0x0B);                 /* select ISR */
    linux_init(&e, 0);                    /* ICW1 again */
    EXPECT_EQ(in8(&e, 0x21), 0x00);
    EXPECT_EQ(in8(&e, 0x20), 0x00);       /* IRR selected, and empty */
    EXPECT(!pic_has_intr(e.pic));         /* a high line needs a new edge */
    pic_set_irq(e.pic, 4, 1);
    EXPECT(!pic_has_intr(e.pic));
    pic_set_irq(e.pic, 4, 0);
    pic_set_irq(e.pic, 4, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x34);
    /* BIOS-style vectors 0x08/0x70 */
    out8(&e, 0x20, 0x11); out8(&e, 0x21, 0x08); out8(&e, 0x21, 0x04); out8(&e, 0x21, 0x01);
    out8(&e, 0xA0, 0x11); out8(&e, 0xA1, 0x70); out8(&e, 0xA1, 0x02); out8(&e, 0xA1, 0x01);
    pic_set_irq(e.pic, 0, 1);
    pic_set_irq(e.pic, 15, 1);
    EXPECT_EQ(pic_ack(e.pic), 0x08);
    out8(&e, 0x20, 0x20);
    EXPECT_EQ(pic_ack(e.pic), 0x77);
    env_free(&e);
}

static int g_intr_changes;
static bool g_intr_level;
static void on_intr(void *o, bool level) { (void)o; g_intr_changes++; g_intr_level = level; }

static void test_intr_callback(void)
{
    struct env e = env_new(0);
    g_intr_changes = 0;
    pic_set_intr_cb(e.pic, on_intr, NULL);
    pic_set_irq(e.pic, 1, 1);
    EXPECT_EQ(g_intr_changes, 1);
    EXPECT(g_intr_level);
    pic_set_irq(e.pic, 3, 1);             /* no change of INTR */
    EXPECT_EQ(g_intr_changes, 1);
    pic_ack(e.pic);                       /* IRQ1 in service: 3 blocked */
    EXPECT_EQ(g_intr_changes, 2);
    EXPECT(!g_intr_level);
    out8(&e, 0x20, 0x20);
    EXPECT_EQ(g_intr_changes, 3);
    EXPECT(g_intr_level);
    env_free(&e);
}

/* The board's wiring in miniature: PIT OUT0 -> IRQ0, RTC -> IRQ8 (cascade),
 * both through irq lines; a run loop that services timers, then takes
 * interrupts the way the CPU does (INTA, handler, EOI). */
static void test_pit_rtc_through_pic(void)
{
    struct env e = env_new(0);
    struct vclock *clk = vclock_new(true);
    struct irq_line l0 = pic_irq_line(e.pic, 0), l8 = pic_irq_line(e.pic, 8);
    struct pit *pit = pit_new(e.bus, clk, &l0);
    struct rtc *rtc = rtc_new(e.bus, clk, &l8, 1709214330ll);
    EXPECT(pit && rtc);
    out8(&e, 0x43, 0x34);                 /* 1000 Hz */
    out8(&e, 0x40, 1193 & 0xFF);
    out8(&e, 0x40, 1193 >> 8);
    out8(&e, 0x70, 0x0A); out8(&e, 0x71, 0x2A);   /* RTC 64 Hz */
    out8(&e, 0x70, 0x0C); (void)in8(&e, 0x71);
    out8(&e, 0x70, 0x0B); out8(&e, 0x71, 0x42);   /* PIE */
    int timer_irqs = 0, rtc_irqs = 0, other = 0;
    for (int step = 0; step < 100000; step++) {     /* 1 s in 10 us steps */
        vclock_advance(clk, 10000);
        vclock_run_due(clk);
        while (pic_has_intr(e.pic)) {
            int v = pic_ack(e.pic);
            if (v == 0x30) {
                timer_irqs++;
                out8(&e, 0x20, 0x60);
            } else if (v == 0x38) {
                rtc_irqs++;
                out8(&e, 0x70, 0x0C);
                EXPECT_EQ(in8(&e, 0x71) & 0xC0, 0xC0);
                out8(&e, 0xA0, 0x60);
                out8(&e, 0x20, 0x62);
            } else {
                other++;
            }
        }
    }
    EXPECT(timer_irqs >= 1000 && timer_irqs <= 1002);   /* +1: OUT0 rose when programmed */
    EXPECT(rtc_irqs >= 63 && rtc_irqs <= 65);
    EXPECT_EQ(other, 0);
    rtc_free(rtc);
    pit_free(pit);
    vclock_free(clk);
    env_free(&e);
}

int main(void)
{
    RUN(test_probe_and_init);
    RUN(test_irq0_deliver_and_specific_eoi);
    RUN(test_priority_nesting);
    RUN(test_cascade_slave);
    RUN(test_imr_masking);
    RUN(test_level_triggered_elcr);
    RUN(test_ltim_all_level);
    RUN(test_auto_eoi);
    RUN(test_spurious_irq7);
    RUN(test_poll_mode);
    RUN(test_rotation_commands);
    RUN(test_special_mask_mode);
    RUN(test_icw1_resets_edge_and_state);
    RUN(test_intr_callback);
    RUN(test_pit_rtc_through_pic);
    return test_summary();
}

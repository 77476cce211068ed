/* tests/unit/test_pit.c - the 8254 PIT and port 0x61 through the bus, on a
 * manual vclock, with the sequences of Linux (clockevent periodic/oneshot,
 * the i8253 clocksource latch read, pit_calibrate_tsc, quick_pit_calibrate)
 * and of a BIOS (mode 3, 18.2 Hz). */
#include "devices/pit.h"
#include "devices/vclock.h"
#include "tests/unit/test.h"

/* IRQ0 sink: counts rising edges. */
struct sink { int level; int rises; uint64_t last_rise_ns; struct vclock *clk; };
static void sink_set(void *o, int n, int level)
{
    struct sink *s = o;
    (void)n;
    if (level && !s->level) { s->rises++; s->last_rise_ns = vclock_now_ns(s->clk); }
    s->level = level;
}

struct env { struct bus *bus; struct vclock *clk; struct pit *pit; struct sink sink; };

static void env_init(struct env *e)
{
    e->bus = bus_new();
    e->clk = vclock_new(true);
    e->sink = (struct sink){ .clk = e->clk };
    struct irq_line l = { .set = sink_set, .opaque = &e->sink, .n = 0 };
    e->pit = pit_new(e->bus, e->clk, &l);
}
static void env_free(struct env *e) { pit_free(e->pit); vclock_free(e->clk); bus_free(e->bus); }

static uint8_t in8(struct env *e, uint16_t p) { return (uint8_t)bus_io_read(e->bus, p, 1); }
static void out8(struct env *e, uint16_t p, uint8_t v) { bus_io_write(e->bus, p, v, 1); }

/* Advance time in steps no larger than the next deadline, as the run loop does. */
static void run_for(struct env *e, uint64_t ns)
{
    uint64_t end = vclock_now_ns(e->clk) + ns;
    for (;;) {
        uint64_t now = vclock_now_ns(e->clk);
        uint64_t next = vclock_next_deadline(e->clk);
        uint64_t to = next < end ? next : end;
        if (to > now) vclock_advance(e->clk, to - now);
        vclock_run_due(e->clk);
        if (to >= end) break;
    }
}

static uint64_t ticks_ns(uint64_t ticks) { return (ticks * 1000000000ull + PIT_HZ - 1) / PIT_HZ; }

static void test_linux_periodic_mode2(void)
{
    struct env e;
    env_init(&e);
    EXPECT(e.pit != NULL);
    /* clockevent set_state_periodic, HZ=250: LATCH = (1193182 + 125) / 250 */
    out8(&e, 0x43, 0x34);
    out8(&e, 0x40, 4773 & 0xFF);
    out8(&e, 0x40, 4773 >> 8);
    int r0 = e.sink.rises;                /* OUT0 went high when programmed */
    /* the next edge is a timer event, not polling */
    EXPECT_EQ(vclock_next_deadline(e.clk), ticks_ns(4773 + 1));
    run_for(&e, 1000000000ull);          /* one second */
    int ticks = e.sink.rises - r0;
    EXPECT(ticks >= 249 && ticks <= 250);
    EXPECT(e.sink.level == 1);
    env_free(&e);
}

static void test_bios_mode3_18hz(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0x36);                 /* ch0, LSB/MSB, mode 3, binary */
    out8(&e, 0x40, 0x00);
    out8(&e, 0x40, 0x00);                 /* 65536 */
    int r0 = e.sink.rises;
    run_for(&e, 10ull * 1000000000ull);
    int n = e.sink.rises - r0;
    EXPECT(n >= 181 && n <= 183);         /* 18.2065 Hz */
    /* mode 3 counts down by two */
    out8(&e, 0x43, 0x00);
    uint16_t a = in8(&e, 0x40); a |= (uint16_t)(in8(&e, 0x40) << 8);
    vclock_advance(e.clk, ticks_ns(10));
    out8(&e, 0x43, 0x00);
    uint16_t b = in8(&e, 0x40); b |= (uint16_t)(in8(&e, 0x40) << 8);
    EXPECT_EQ(a & 1, 0);
    EXPECT(((a - b) & 0xFFFF) >= 18 && ((a - b) & 0xFFFF) <= 22);
    env_free(&e);
}

static void test_mode0_terminal_count_once(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0x30);                 /* mode 0: OUT low */
    EXPECT_EQ(e.sink.level, 0);
    out8(&e, 0x40, 100);
    out8(&e, 0x40, 0);
    int r0 = e.sink.rises;
    run_for(&e, ticks_ns(100));           /* loaded at tick 1: TC at tick 101 */
    EXPECT_EQ(e.sink.rises, r0);
    run_for(&e, ticks_ns(2));
    EXPECT_EQ(e.sink.rises, r0 + 1);
    EXPECT_EQ(e.sink.level, 1);           /* OUT stays high */
    run_for(&e, 200000000ull);            /* counter wraps: no more edges */
    EXPECT_EQ(e.sink.rises, r0 + 1);
    EXPECT_EQ(vclock_next_deadline(e.clk), VCLOCK_NEVER);
    env_free(&e);
}

static void test_linux_oneshot_mode4(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0x38);                 /* set_state_oneshot: mode 4 */
    int r0 = e.sink.rises;
    out8(&e, 0x40, 0xE8);                 /* next_event: 1000 ticks */
    out8(&e, 0x40, 0x03);
    run_for(&e, ticks_ns(1000));
    EXPECT_EQ(e.sink.rises, r0);
    run_for(&e, ticks_ns(3));
    EXPECT_EQ(e.sink.rises, r0 + 1);      /* one strobe */
    run_for(&e, 500000000ull);
    EXPECT_EQ(e.sink.rises, r0 + 1);
    /* re-arming by writing a new count gives another strobe */
    out8(&e, 0x40, 10);
    out8(&e, 0x40, 0);
    run_for(&e, ticks_ns(20));
    EXPECT_EQ(e.sink.rises, r0 + 2);
    /* shutdown: mode 0, count 0 */
    out8(&e, 0x43, 0x30);
    out8(&e, 0x40, 0);
    out8(&e, 0x40, 0);
    EXPECT_EQ(e.sink.level, 0);
    env_free(&e);
}

static void test_counter_latch(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0x34);
    out8(&e, 0x40, 0x00);
    out8(&e, 0x40, 0x10);                 /* N = 0x1000 */
    vclock_advance(e.clk, ticks_ns(1 + 0x100));
    out8(&e, 0x43, 0x00);                 /* i8253 pit_read: latch ch0 */
    vclock_advance(e.clk, ticks_ns(0x200));    /* time passes: latch holds */
    out8(&e, 0x43, 0x00);                 /* a second latch is ignored */
    uint16_t v = in8(&e, 0x40);
    v |= (uint16_t)(in8(&e, 0x40) << 8);
    EXPECT(v >= 0x0EFF && v <= 0x0F00);
    /* after the latch is read the next latch sees the new value */
    out8(&e, 0x43, 0x00);
    uint16_t w = in8(&e, 0x40);
    w |= (uint16_t)(in8(&e, 0x40) << 8);
    EXPECT(w >= 0x0CFF && w <= 0x0D00);
    env_free(&e);
}

static void test_readback_status_and_null_count(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0xB4);                 /* ch2, LSB/MSB, mode 2, binary */
    out8(&e, 0x43, 0xE8);                 /* read-back: status only, ch2 */
    uint8_t st = in8(&e, 0x42);
    EXPECT_EQ(st & 0x3F, 0x34);           /* rw 3, mode 2, binary */
    EXPECT(st & 0x40);                    /* null count: no count yet */
    EXPECT(st & 0x80);                    /* OUT high in mode 2 */
    out8(&e, 0x61, 0x01);                 /* gate 2 on */
    out8(&e, 0x42, 0x34);
    out8(&e, 0x42, 0x12);
    vclock_advance(e.clk, ticks_ns(3));
    /* read-back count + status for ch2: status first, then LSB, MSB */
    out8(&e, 0x43, 0xC8);
    st = in8(&e, 0x42);
    EXPECT_EQ(st & 0x7F, 0x34);           /* count loaded: NULL COUNT clear */
    uint16_t v = in8(&e, 0x42);
    v |= (uint16_t)(in8(&e, 0x42) << 8);
    EXPECT(v <= 0x1234 && v >= 0x1230);
    /* status of mode 0 after the control word shows OUT low */
    out8(&e, 0x43, 0x30);
    out8(&e, 0x43, 0xE2);
    EXPECT_EQ(in8(&e, 0x40), 0x70);       /* OUT 0, null 1, rw 3, mode 0 */
    /* mode 6 reads back as written (x10 = mode 2) */
    out8(&e, 0x43, 0x7C);                 /* ch1 rw3 mode 6 */
    out8(&e, 0x43, 0xE4);
    EXPECT_EQ(in8(&e, 0x41) & 0x3F, 0x3C);
    env_free(&e);
}

static void test_lsb_only_msb_only(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0x54);                 /* ch1, LSB only, mode 2 */
    out8(&e, 0x41, 0x12);                 /* DRAM refresh style: N = 18 */
    vclock_advance(e.clk, ticks_ns(1 + 5));
    EXPECT_EQ(in8(&e, 0x41), 13);
    EXPECT_EQ(in8(&e, 0x41), 13);         /* no toggle in LSB mode */
    out8(&e, 0x43, 0x64);                 /* ch1, MSB only, mode 2 */
    out8(&e, 0x41, 0x02);                 /* N = 0x200 */
    vclock_advance(e.clk, ticks_ns(1 + 0x101));
    EXPECT_EQ(in8(&e, 0x41), 0x00);       /* 0x0FF -> MSB 0 */
    vclock_advance(e.clk, ticks_ns(0x100));
    EXPECT_EQ(in8(&e, 0x41), 0x01);       /* wrapped: 0x1FF */
    env_free(&e);
}

static void test_bcd_counting(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0x31);                 /* ch0 mode 0 BCD */
    out8(&e, 0x40, 0x00);
    out8(&e, 0x40, 0x10);                 /* BCD 1000 */
    vclock_advance(e.clk, ticks_ns(1 + 1));
    out8(&e, 0x43, 0x00);
    EXPECT_EQ(in8(&e, 0x40), 0x99);
    EXPECT_EQ(in8(&e, 0x40), 0x09);       /* 0999 */
    int r0 = e.sink.rises;
    run_for(&e, ticks_ns(1000));
    EXPECT_EQ(e.sink.rises, r0 + 1);      /* TC after 1000 (decimal) ticks */
    /* BCD count 0 means 10000 */
    out8(&e, 0x43, 0x35);                 /* mode 2 BCD */
    out8(&e, 0x40, 0);
    out8(&e, 0x40, 0);
    vclock_advance(e.clk, ticks_ns(1 + 1));
    out8(&e, 0x43, 0x00);
    EXPECT_EQ(in8(&e, 0x40), 0x99);
    EXPECT_EQ(in8(&e, 0x40), 0x99);       /* 9999 */
    env_free(&e);
}

static void test_linux_pit_calibrate_tsc(void)
{
    struct env e;
    env_init(&e);
    vclock_advance(e.clk, 123456789);     /* arbitrary phase */
    /* outb((inb(0x61) & ~0x02) | 0x01, 0x61) */
    out8(&e, 0x61, (uint8_t)((in8(&e, 0x61) & ~0x02) | 0x01));
    out8(&e, 0x43, 0xB0);                 /* ch2 mode 0 binary */
    uint16_t latch = PIT_HZ / (1000 / 50);  /* 50 ms */
    out8(&e, 0x42, latch & 0xFF);
    out8(&e, 0x42, latch >> 8);
    EXPECT_EQ(in8(&e, 0x61) & 0x20, 0);
    vclock_advance(e.clk, 49900000);
    EXPECT_EQ(in8(&e, 0x61) & 0x20, 0);
    vclock_advance(e.clk, 200000);
    EXPECT_EQ(in8(&e, 0x61) & 0x20, 0x20);
    EXPECT_EQ(in8(&e, 0x61) & 0x03, 0x01);
    /* gate low suspends mode 0 counting */
    out8(&e, 0x43, 0xB0);
    out8(&e, 0x42, 0x00);
    out8(&e, 0x42, 0x10);
    vclock_advance(e.clk, ticks_ns(0x101));
    out8(&e, 0x61, 0x00);
    vclock_advance(e.clk, 10000000);      /* 10 ms with the gate low */
    out8(&e, 0x43, 0x80);
    uint16_t v = in8(&e, 0x42); v |= (uint16_t)(in8(&e, 0x42) << 8);
    EXPECT(v >= 0x0EFE && v <= 0x0F00);
    EXPECT_EQ(in8(&e, 0x61) & 0x20, 0);
    out8(&e, 0x61, 0x01);                 /* resumes */
    vclock_advance(e.clk, ticks_ns(0x0F02));
    EXPECT_EQ(in8(&e, 0x61) & 0x20, 0x20);
    env_free(&e);
}

static void test_quick_pit_calibrate_msb(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x61, (uint8_t)((in8(&e, 0x61) & ~0x02) | 0x01));
    out8(&e, 0x43, 0xB0);
    out8(&e, 0x42, 0xFF);
    out8(&e, 0x42, 0xFF);
    /* pit_expect_msb: inb(0x42) (LSB), then inb(0x42) (MSB) of the live count */
    vclock_advance(e.clk, ticks_ns(2));
    (void)in8(&e, 0x42);
    EXPECT_EQ(in8(&e, 0x42), 0xFF);
    for (int k = 1; k <= 20; k++) {
        vclock_advance(e.clk, ticks_ns(256));
        (void)in8(&e, 0x42);
        uint8_t msb = in8(&e, 0x42);
        EXPECT(msb == 0xFF - k || msb == 0xFF - k + 1);
    }
    env_free(&e);
}

static void test_port61_refresh_and_speaker(void)
{
    struct env e;
    env_init(&e);
    uint8_t a = in8(&e, 0x61) & 0x10;
    int flips = 0;
    for (int i = 0; i < 100; i++) {       /* 100 x 15.085 us */
        vclock_advance(e.clk, 15085);
        uint8_t b = in8(&e, 0x61) & 0x10;
        if (b != a) flips++;
        a = b;
    }
    EXPECT(flips >= 99);
    /* speaker: ch2 mode 3 at ~1 kHz; OUT2 toggles at half the period */
    out8(&e, 0x61, 0x03);
    EXPECT(pit_speaker_enabled(e.pit));
    out8(&e, 0x43, 0xB6);
    out8(&e, 0x42, 1193 & 0xFF);
    out8(&e, 0x42, 1193 >> 8);
    int highs = 0;
    for (int i = 0; i < 1000; i++) {
        vclock_advance(e.clk, 1000);      /* 1 ms sampled per us */
        if (in8(&e, 0x61) & 0x20) highs++;
    }
    EXPECT(highs >= 480 && highs <= 520);
    EXPECT_EQ(in8(&e, 0x61) & 0x0F, 0x03);
    out8(&e, 0x61, 0x00);                 /* gate low: mode 3 forces OUT high */
    EXPECT_EQ(in8(&e, 0x61) & 0x20, 0x20);
    EXPECT(!pit_speaker_enabled(e.pit));
    env_free(&e);
}

static void test_mode1_gate_trigger(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0xB2);                 /* ch2 mode 1 */
    out8(&e, 0x42, 50);
    out8(&e, 0x42, 0);
    EXPECT_EQ(pit_get_out(e.pit, 2), 1);  /* waits for a trigger */
    vclock_advance(e.clk, ticks_ns(100));
    EXPECT_EQ(pit_get_out(e.pit, 2), 1);
    out8(&e, 0x61, 0x01);                 /* gate rising edge triggers */
    vclock_advance(e.clk, ticks_ns(10));
    EXPECT_EQ(pit_get_out(e.pit, 2), 0);
    vclock_advance(e.clk, ticks_ns(45));
    EXPECT_EQ(pit_get_out(e.pit, 2), 1);
    out8(&e, 0x61, 0x00);                 /* retrigger */
    out8(&e, 0x61, 0x01);
    EXPECT_EQ(pit_get_out(e.pit, 2), 0);
    env_free(&e);
}

static void test_late_run_loop_no_double_irq(void)
{
    struct env e;
    env_init(&e);
    out8(&e, 0x43, 0x34);
    out8(&e, 0x40, 100);
    out8(&e, 0x40, 0);
    int r0 = e.sink.rises;
    /* time passes beyond the deadline, then the guest touches the PIT before
     * the run loop got to run the timer: one edge, not two */
    vclock_advance(e.clk, ticks_ns(150));
    out8(&e, 0x43, 0x00);
    (void)in8(&e, 0x40);
    (void)in8(&e, 0x40);
    vclock_run_due(e.clk);
    EXPECT_EQ(e.sink.rises, r0 + 1);
    /* a run loop that is very late coalesces edges into one */
    vclock_advance(e.clk, ticks_ns(1000));
    vclock_run_due(e.clk);
    EXPECT_EQ(e.sink.rises, r0 + 2);
    EXPECT(vclock_next_deadline(e.clk) > vclock_now_ns(e.clk));
    env_free(&e);
}

int main(void)
{
    RUN(test_linux_periodic_mode2);
    RUN(test_bios_mode3_18hz);
    RUN(test_mode0_terminal_count_once);
    RUN(test_linux_oneshot_mode4);
    RUN(test_counter_latch);
    RUN(test_readback_status_and_null_count);
    RUN(test_lsb_only_msb_only);
    RUN(test_bcd_counting);
    RUN(test_linux_pit_calibrate_tsc);
    RUN(test_quick_pit_calibrate_msb);
    RUN(test_port61_refresh_and_speaker);
    RUN(test_mode1_gate_trigger);
    RUN(test_late_run_loop_no_double_irq);
    return test_summary();
}

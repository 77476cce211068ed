/* tests/unit/test_rtc.c - MC146818 RTC/CMOS through ports 0x70/0x71 on a
 * manual vclock with a fixed start time: time formats, UIP timing, Linux's
 * mc146818_get_time/set_time sequences, periodic/alarm/update interrupts,
 * register C semantics, NVRAM, NMI bit, memory-size bytes and checksum. */
#include "devices/rtc.h"
#include "devices/vclock.h"
#include "tests/unit/test.h"

#include <time.h>

/* 2024-02-29 13:45:30 UTC, a Thursday */
#define T0 1709214330ll

struct sink { int level; int rises; };
static void sink_set(void *o, int n, int level)
{
    struct sink *s = o;
    (void)n;
    if (level && !s->level) s->rises++;
    s->level = level;
}

struct env { struct bus *bus; struct vclock *clk; struct rtc *rtc; struct sink sink; };

static void env_init(struct env *e, int64_t start)
{
    e->bus = bus_new();
    e->clk = vclock_new(true);
    e->sink = (struct sink){0};
    struct irq_line l = { .set = sink_set, .opaque = &e->sink, .n = 8 };
    e->rtc = rtc_new(e->bus, e->clk, &l, start);
}
static void env_free(struct env *e) { rtc_free(e->rtc); vclock_free(e->clk); bus_free(e->bus); }

static uint8_t cmos_read(struct env *e, uint8_t idx)
{
    bus_io_write(e->bus, 0x70, idx, 1);
    return (uint8_t)bus_io_read(e->bus, 0x71, 1);
}
static void cmos_write(struct env *e, uint8_t idx, uint8_t v)
{
    bus_io_write(e->bus, 0x70, idx, 1);
    bus_io_write(e->bus, 0x71, v, 1);
}

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

static void test_time_bcd_24h(void)
{
    struct env e;
    env_init(&e, T0);
    EXPECT(e.rtc != NULL);
    vclock_advance(e.clk, 300000000);    /* 0.3 s: outside the UIP window */
    EXPECT_EQ(cmos_read(&e, 0x0A), 0x26);
    EXPECT_EQ(cmos_read(&e, 0x0B), 0x02);
    EXPECT_EQ(cmos_read(&e, 0x0D), 0x80);
    EXPECT_EQ(cmos_read(&e, 0x00), 0x30);
    EXPECT_EQ(cmos_read(&e, 0x02), 0x45);
    EXPECT_EQ(cmos_read(&e, 0x04), 0x13);
    EXPECT_EQ(cmos_read(&e, 0x06), 0x05);   /* Thursday: Sunday = 1 */
    EXPECT_EQ(cmos_read(&e, 0x07), 0x29);
    EXPECT_EQ(cmos_read(&e, 0x08), 0x02);
    EXPECT_EQ(cmos_read(&e, 0x09), 0x24);
    EXPECT_EQ(cmos_read(&e, 0x32), 0x20);
    env_free(&e);
}

static void test_binary_and_12h(void)
{
    struct env e;
    env_init(&e, T0);
    vclock_advance(e.clk, 300000000);
    cmos_write(&e, 0x0B, 0x04);            /* binary, 12 hour */
    EXPECT_EQ(cmos_read(&e, 0x00), 30);
    EXPECT_EQ(cmos_read(&e, 0x04), 0x81);  /* 1 PM */
    EXPECT_EQ(cmos_read(&e, 0x09), 24);
    cmos_write(&e, 0x0B, 0x00);            /* BCD, 12 hour */
    EXPECT_EQ(cmos_read(&e, 0x04), 0x81);
    env_free(&e);
    /* midnight and noon in 12 hour BCD */
    env_init(&e, 1709164800ll + 1);        /* 2024-02-29 00:00:01 */
    vclock_advance(e.clk, 300000000);
    cmos_write(&e, 0x0B, 0x00);
    EXPECT_EQ(cmos_read(&e, 0x04), 0x12);  /* 12 AM */
    vclock_advance(e.clk, 12ull * 3600 * 1000000000ull);
    EXPECT_EQ(cmos_read(&e, 0x04), 0x92);  /* 12 PM */
    EXPECT_EQ(rtc_guest_time(e.rtc), 1709164800ll + 1 + 12 * 3600);
    env_free(&e);
}

static void test_uip_window_and_linux_read(void)
{
    struct env e;
    env_init(&e, T0);                      /* second boundary at vclock 0 */
    EXPECT(cmos_read(&e, 0x0A) & 0x80);    /* in the update cycle (0..1984 us) */
    vclock_advance(e.clk, 2000000);
    EXPECT(!(cmos_read(&e, 0x0A) & 0x80));
    vclock_advance(e.clk, 1000000000 - 2000000 - 300000);   /* 300 us before */
    EXPECT(!(cmos_read(&e, 0x0A) & 0x80));
    vclock_advance(e.clk, 100000);         /* 200 us before: UIP */
    EXPECT(cmos_read(&e, 0x0A) & 0x80);
    EXPECT_EQ(cmos_read(&e, 0x00), 0x30);  /* not yet updated */
    /* Linux mc146818_get_time: wait while UIP (mdelay(1) steps), then read */
    int polls = 0;
    while (cmos_read(&e, 0x0A) & 0x80) { vclock_advance(e.clk, 100000); polls++; }
    EXPECT(polls >= 20 && polls <= 23);    /* 200 us + 1984 us */
    EXPECT_EQ(cmos_read(&e, 0x00), 0x31);
    EXPECT_EQ(cmos_read(&e, 0x02), 0x45);
    env_free(&e);
}

static void test_time_rollover(void)
{
    struct env e;
    env_init(&e, 1704067199ll);            /* 2023-12-31 23:59:59 */
    vclock_advance(e.clk, 500000000);
    EXPECT_EQ(cmos_read(&e, 0x09), 0x23);
    vclock_advance(e.clk, 1000000000);
    EXPECT_EQ(cmos_read(&e, 0x00), 0x00);
    EXPECT_EQ(cmos_read(&e, 0x04), 0x00);
    EXPECT_EQ(cmos_read(&e, 0x07), 0x01);
    EXPECT_EQ(cmos_read(&e, 0x08), 0x01);
    EXPECT_EQ(cmos_read(&e, 0x09), 0x24);
    EXPECT_EQ(cmos_read(&e, 0x06), 0x02);  /* Monday */
    env_free(&e);
}

static void test_linux_set_time(void)
{
    struct env e;
    env_init(&e, T0);
    vclock_advance(e.clk, 250000000);
    /* mc146818_set_time: SET, divider reset, write fields, restore */
    uint8_t save_control = cmos_read(&e, 0x0B);
    cmos_write(&e, 0x0B, save_control | 0x80);
    uint8_t save_freq = cmos_read(&e, 0x0A);
    cmos_write(&e, 0x0A, save_freq | 0x70);
    cmos_write(&e, 0x09, 0x99);            /* 1999-12-31 23:59:58 */
    cmos_write(&e, 0x08, 0x12);
    cmos_write(&e, 0x07, 0x31);
    cmos_write(&e, 0x04, 0x23);
    cmos_write(&e, 0x02, 0x59);
    cmos_write(&e, 0x00, 0x58);
    cmos_write(&e, 0x32, 0x19);
    EXPECT(!(cmos_read(&e, 0x0A) & 0x80)); /* stopped: no UIP */
    vclock_advance(e.clk, 3000000000ull);  /* stopped: time does not move */
    EXPECT_EQ(cmos_read(&e, 0x00), 0x58);
    cmos_write(&e, 0x0B, save_control);
    cmos_write(&e, 0x0A, save_freq);
    EXPECT_EQ(rtc_guest_time(e.rtc), 946684798ll);
    vclock_advance(e.clk, 400000000);      /* first update 0.5 s after release */
    EXPECT_EQ(cmos_read(&e, 0x00), 0x58);
    vclock_advance(e.clk, 200000000);
    EXPECT_EQ(cmos_read(&e, 0x00), 0x59);
    vclock_advance(e.clk, 1000000000);
    EXPECT_EQ(cmos_read(&e, 0x09), 0x00);
    EXPECT_EQ(cmos_read(&e, 0x32), 0x20);  /* century rolled over */
    /* writing one field while running keeps the others */
    cmos_write(&e, 0x02, 0x30);
    EXPECT_EQ(cmos_read(&e, 0x02), 0x30);
    EXPECT_EQ(cmos_read(&e, 0x04), 0x00);
    EXPECT_EQ(rtc_guest_time(e.rtc), 946684800ll + 30 * 60);
    env_free(&e);
}

static void test_periodic_interrupt(void)
{
    struct env e;
    env_init(&e, T0);
    /* Linux rtc-cmos: rate 1024 Hz (A = 0x26), PIE on */
    (void)cmos_read(&e, 0x0C);
    cmos_write(&e, 0x0B, cmos_read(&e, 0x0B) | 0x40);
    EXPECT_EQ(e.sink.level, 0);
    run_for(&e, 1000000);                  /* 1 ms: one period (976.5 us) */
    EXPECT_EQ(e.sink.rises, 1);
    /* without a C read the line stays high: no further edges */
    run_for(&e, 10000000);
    EXPECT_EQ(e.sink.rises, 1);
    EXPECT_EQ(cmos_read(&e, 0x0C) & 0xE0, 0xC0);  /* IRQF | PF (UF too), then cleared */
    EXPECT_EQ(e.sink.level, 0);
    EXPECT_EQ(cmos_read(&e, 0x0C), 0x00);
    /* an interrupt handler that reads C each time: 1024 per second */
    int r0 = e.sink.rises;
    for (int i = 0; i < 2000; i++) {       /* handler latency < one period */
        run_for(&e, 500000);
        if (e.sink.level) (void)cmos_read(&e, 0x0C);
    }
    int n = e.sink.rises - r0;
    EXPECT(n >= 1022 && n <= 1025);
    /* rate 2 Hz (RS = 15) */
    cmos_write(&e, 0x0A, 0x2F);
    (void)cmos_read(&e, 0x0C);
    r0 = e.sink.rises;
    for (int i = 0; i < 20; i++) { run_for(&e, 100000000); if (e.sink.level) (void)cmos_read(&e, 0x0C); }
    EXPECT_EQ(e.sink.rises - r0, 4);
    /* PIE off: no timer, no IRQ */
    cmos_write(&e, 0x0B, 0x02);
    (void)cmos_read(&e, 0x0C);
    r0 = e.sink.rises;
    run_for(&e, 2000000000ull);
    EXPECT_EQ(e.sink.rises - r0, 0);
    env_free(&e);
}

static void test_pf_polled_without_pie(void)
{
    struct env e;
    env_init(&e, T0);
    vclock_advance(e.clk, 500000);
    (void)cmos_read(&e, 0x0C);
    EXPECT_EQ(cmos_read(&e, 0x0C) & 0x40, 0);
    vclock_advance(e.clk, 1000000);        /* a 1024 Hz boundary passes */
    EXPECT_EQ(cmos_read(&e, 0x0C), 0x40);  /* PF without IRQF */
    EXPECT_EQ(cmos_read(&e, 0x0C), 0x00);  /* cleared by the read */
    EXPECT_EQ(e.sink.rises, 0);
    cmos_write(&e, 0x0A, 0x20);            /* rate 0: no PF */
    vclock_advance(e.clk, 10000000);
    EXPECT_EQ(cmos_read(&e, 0x0C) & 0x40, 0);
    env_free(&e);
}

static void test_update_ended_interrupt(void)
{
    struct env e;
    env_init(&e, T0);
    run_for(&e, 500000000);
    cmos_write(&e, 0x0A, 0x20);            /* no periodic rate: PF stays clear */
    EXPECT_EQ(cmos_read(&e, 0x0C), 0x10);  /* UF is set each second even without UIE */
    cmos_write(&e, 0x0B, 0x12);            /* UIE */
    int seen = 0;
    for (int i = 0; i < 50; i++) {
        run_for(&e, 100000000);
        if (e.sink.level) {
            EXPECT_EQ(cmos_read(&e, 0x0C), 0x90);
            seen++;
        }
    }
    EXPECT_EQ(seen, 5);
    /* SET stops updates and clears UIE */
    cmos_write(&e, 0x0B, 0x92);
    EXPECT_EQ(cmos_read(&e, 0x0B), 0x82);
    (void)cmos_read(&e, 0x0C);
    run_for(&e, 3000000000ull);
    EXPECT_EQ(cmos_read(&e, 0x0C), 0x00);
    env_free(&e);
}

static void test_alarm_interrupt(void)
{
    struct env e;
    env_init(&e, T0);                      /* 13:45:30 */
    vclock_advance(e.clk, 300000000);
    cmos_write(&e, 0x01, 0x33);            /* alarm 13:45:33 */
    cmos_write(&e, 0x03, 0x45);
    cmos_write(&e, 0x05, 0x13);
    cmos_write(&e, 0x0B, 0x22);            /* AIE */
    (void)cmos_read(&e, 0x0C);
    run_for(&e, 2500000000ull);            /* 13:45:32.8 */
    EXPECT_EQ(e.sink.rises, 0);
    run_for(&e, 300000000);                /* 13:45:33.1: update ended */
    EXPECT_EQ(e.sink.rises, 1);
    uint8_t c = cmos_read(&e, 0x0C);
    EXPECT_EQ(c & 0xA0, 0xA0);             /* IRQF | AF (UF also set, not enabled) */
    EXPECT_EQ(c & 0x10, 0x10);
    run_for(&e, 5000000000ull);
    EXPECT_EQ(e.sink.rises, 1);            /* once */
    /* "don't care" in all three: every second */
    cmos_write(&e, 0x01, 0xC0);
    cmos_write(&e, 0x03, 0xFF);
    cmos_write(&e, 0x05, 0xC0);
    (void)cmos_read(&e, 0x0C);
    int r0 = e.sink.rises;
    for (int i = 0; i < 30; i++) { run_for(&e, 100000000); if (e.sink.level) (void)cmos_read(&e, 0x0C); }
    EXPECT_EQ(e.sink.rises - r0, 3);
    env_free(&e);
}

static void test_nvram_index_nmi(void)
{
    struct env e;
    env_init(&e, T0);
    EXPECT(!rtc_nmi_disabled(e.rtc));
    bus_io_write(e.bus, 0x70, 0x80 | 0x3F, 1);   /* NMI off, index 0x3F */
    EXPECT(rtc_nmi_disabled(e.rtc));
    bus_io_write(e.bus, 0x71, 0xA5, 1);
    EXPECT_EQ(rtc_nvram_get(e.rtc, 0x3F), 0xA5);
    bus_io_write(e.bus, 0x70, 0x3F, 1);
    EXPECT(!rtc_nmi_disabled(e.rtc));
    EXPECT_EQ(bus_io_read(e.bus, 0x71, 1), 0xA5);
    for (unsigned i = 0x0E; i < 0x80; i++) if (i != 0x32) cmos_write(&e, (uint8_t)i, (uint8_t)(i * 7));
    for (unsigned i = 0x0E; i < 0x80; i++) if (i != 0x32) EXPECT_EQ(cmos_read(&e, (uint8_t)i), (uint8_t)(i * 7));
    cmos_write(&e, 0x0D, 0x00);            /* D is read-only */
    EXPECT_EQ(cmos_read(&e, 0x0D), 0x80);
    cmos_write(&e, 0x0A, 0xA6);            /* UIP is read-only */
    EXPECT_EQ(rtc_nvram_get(e.rtc, 0x0A), 0x26);
    EXPECT_EQ(bus_io_read(e.bus, 0x70, 1), 0xFF);
    rtc_nvram_set(e.rtc, 200, 1);          /* out of range: ignored */
    EXPECT_EQ(rtc_nvram_get(e.rtc, 200), 0xFF);
    env_free(&e);
}

static void test_memory_size_and_checksum(void)
{
    struct env e;
    env_init(&e, T0);
    rtc_nvram_set(e.rtc, CMOS_FLOPPY, 0x40);       /* A: 1.44 MB */
    rtc_nvram_set(e.rtc, CMOS_EQUIPMENT, 0x07);
    rtc_cmos_set_memory(e.rtc, 128ull << 20, 1ull << 30);
    EXPECT_EQ(cmos_read(&e, 0x15), 0x80);
    EXPECT_EQ(cmos_read(&e, 0x16), 0x02);          /* 640 KiB */
    EXPECT_EQ(cmos_read(&e, 0x17), 0xFF);          /* 127 MiB capped at 0xFFFF KiB */
    EXPECT_EQ(cmos_read(&e, 0x18), 0xFF);
    EXPECT_EQ(cmos_read(&e, 0x30), 0xFF);
    EXPECT_EQ(cmos_read(&e, 0x34), 0x00);
    EXPECT_EQ(cmos_read(&e, 0x35), 0x07);          /* 112 MiB / 64 KiB = 0x700 */
    EXPECT_EQ(cmos_read(&e, 0x5B), 0x00);
    EXPECT_EQ(cmos_read(&e, 0x5C), 0x40);          /* 1 GiB / 64 KiB = 0x4000 */
    EXPECT_EQ(cmos_read(&e, 0x5D), 0x00);
    unsigned sum = 0;
    for (unsigned i = 0x10; i <= 0x2D; i++) sum += cmos_read(&e, (uint8_t)i);
    EXPECT_EQ((unsigned)cmos_read(&e, 0x2E) << 8 | cmos_read(&e, 0x2F), sum);
    rtc_cmos_set_memory(e.rtc, 8ull << 20, 0);
    EXPECT_EQ(cmos_read(&e, 0x17) | cmos_read(&e, 0x18) << 8, 7 * 1024);
    EXPECT_EQ(cmos_read(&e, 0x34) | cmos_read(&e, 0x35) << 8, 0);
    env_free(&e);
}

static void test_host_time(void)
{
    struct env e;
    env_init(&e, RTC_HOST_TIME);
    int64_t now = (int64_t)time(NULL);
    int64_t g = rtc_guest_time(e.rtc);
    EXPECT(g >= now - 2 && g <= now + 2);
    time_t tt = (time_t)g;
    struct tm tm;
    gmtime_r(&tt, &tm);
    uint8_t y = cmos_read(&e, 0x09);
    EXPECT_EQ((y >> 4) * 10 + (y & 15), tm.tm_year % 100);
    env_free(&e);
}

static void test_two_rtcs_independent(void)
{
    struct env a, b;
    env_init(&a, T0);
    env_init(&b, T0 + 3600);
    vclock_advance(a.clk, 300000000);
    vclock_advance(b.clk, 300000000);
    cmos_write(&a, 0x40, 1);
    cmos_write(&b, 0x40, 2);
    EXPECT_EQ(cmos_read(&a, 0x40), 1);
    EXPECT_EQ(cmos_read(&b, 0x40), 2);
    EXPECT_EQ(cmos_read(&a, 0x04), 0x13);
    EXPECT_EQ(cmos_read(&b, 0x04), 0x14);
    env_free(&a);
    env_free(&b);
}

int main(void)
{
    RUN(test_time_bcd_24h);
    RUN(test_binary_and_12h);
    RUN(test_uip_window_and_linux_read);
    RUN(test_time_rollover);
    RUN(test_linux_set_time);
    RUN(test_periodic_interrupt);
    RUN(test_pf_polled_without_pie);
    RUN(test_update_ended_interrupt);
    RUN(test_alarm_interrupt);
    RUN(test_nvram_index_nmi);
    RUN(test_memory_size_and_checksum);
    RUN(test_host_time);
    RUN(test_two_rtcs_independent);
    return test_summary();
}

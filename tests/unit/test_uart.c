/* tests/unit/test_uart.c - 16550A UART: the register sequences Linux's 8250
 * driver runs (autoconfig probe, FIFO detection, THRE tests in startup,
 * loopback), FIFOs and trigger levels, interrupt priorities, OUT2 gating,
 * the character timeout on the virtual clock, and output to a chardev. */
#include "devices/uart.h"
#include "devices/chardev.h"
#include "devices/vclock.h"
#include "devices/bus.h"
#include "tests/unit/test.h"

#include <string.h>

/* UART registers (offsets) */
enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

struct sink {
    int level;     /* current IRQ level      */
    int rises;     /* 0->1 transitions seen  */
};
static void sink_set(void *o, int n, int level)
{
    struct sink *s = o;
    (void)n;
    if (level && !s->level) s->rises++;
    s->level = level;
}

struct rig {
    struct sink sink;      /* IRQ4 at the "PIC"  */
    struct irq_line line;  /* wired to sink      */
    struct chardev *cd;    /* memory back-end    */
    struct uart *u;        /* device under test  */
};

static void rig_init(struct rig *r, struct vclock *clk)
{
    memset(r, 0, sizeof *r);
    r->line = (struct irq_line){ sink_set, &r->sink, 4 };
    r->cd = chardev_new_memory(false);
    r->u = uart_new(clk, &r->line, r->cd);
}
static void rig_free(struct rig *r) { uart_free(r->u); chardev_free(r->cd); }
static uint8_t in(struct rig *r, unsigned off) { return uart_read(r->u, off); }
static void out(struct rig *r, unsigned off, uint8_t v) { uart_write(r->u, off, v); }
static void inject(struct rig *r, const char *s)
{
    chardev_mem_inject(r->cd, (const uint8_t *)s, strlen(s));
    chardev_poll(r->cd);
}

static void test_reset_state(void)
{
    struct rig r;
    rig_init(&r, NULL);
    EXPECT_EQ(in(&r, LSR), 0x60);          /* THRE|TEMT, no data */
    EXPECT_EQ(in(&r, IIR), 0x01);          /* no interrupt, FIFOs off */
    EXPECT_EQ(in(&r, IER), 0x00);
    EXPECT_EQ(in(&r, MCR), 0x00);
    EXPECT_EQ(in(&r, LCR), 0x00);
    EXPECT_EQ(r.sink.level, 0);
    rig_free(&r);
}

/* Linux autoconfig(): IER probe, scratch, the loopback "is a UART there"
 * test, then FIFO detection through IIR bits 6-7 and the EFR probes that
 * must NOT detect a 16650/16850. */
static void test_linux_autoconfig(void)
{
    struct rig r;
    rig_init(&r, NULL);
    uint8_t save_ier = in(&r, IER);
    out(&r, IER, 0);
    EXPECT_EQ(in(&r, IER) & 0x0F, 0);
    out(&r, IER, 0x0F);
    EXPECT_EQ(in(&r, IER) & 0x0F, 0x0F);
    out(&r, IER, 0xFF);
    EXPECT_EQ(in(&r, IER), 0x0F);          /* bits 4-7 always read 0 (no UUE/sleep) */
    out(&r, IER, save_ier);
    out(&r, SCR, 0xA5);
    EXPECT_EQ(in(&r, SCR), 0xA5);
    out(&r, SCR, 0x5A);
    EXPECT_EQ(in(&r, SCR), 0x5A);

    uint8_t save_mcr = in(&r, MCR), save_lcr = in(&r, LCR);
    out(&r, MCR, 0x10 | 0x0A);              /* LOOP | OUT2 | RTS */
    EXPECT_EQ(in(&r, MSR) & 0xF0, 0x90);    /* DCD | CTS */
    out(&r, MCR, save_mcr);

    out(&r, LCR, 0xBF);                     /* CONF_MODE_B */
    out(&r, IIR, 0);                        /* EFR write = FCR 0 on a 16550A */
    out(&r, LCR, 0);
    out(&r, FCR, 0x01);
    EXPECT_EQ(in(&r, IIR) >> 6, 3);         /* 16550A: FIFOs usable */
    out(&r, LCR, 0xBF);
    EXPECT(in(&r, IIR) != 0);               /* no EFR: not a 16650 */
    out(&r, LCR, 0x80);
    EXPECT(in(&r, IIR) != 0);               /* not a ST16C650V1 */
    /* NS SuperIO probe: EXCR1 (offset 2 with LCR 0xE0) must not track MCR.LOOP */
    out(&r, LCR, 0);
    uint8_t st1 = in(&r, MCR);
    out(&r, MCR, st1 ^ 0x10);
    out(&r, LCR, 0xE0);
    uint8_t st2 = in(&r, IIR);
    out(&r, LCR, 0);
    out(&r, MCR, st1);
    EXPECT_EQ((st2 ^ st1) & 0x10, 0);
    /* TI16750 probe: IIR bit 5 must not follow FCR bit 5 (64-byte FIFO) */
    out(&r, LCR, 0);
    out(&r, FCR, 0x21);
    uint8_t s1 = in(&r, IIR) >> 5;
    out(&r, FCR, 0x01);
    out(&r, LCR, 0x80);
    out(&r, FCR, 0x21);
    uint8_t s2 = in(&r, IIR) >> 5;
    out(&r, FCR, 0x01);
    out(&r, LCR, 0);
    EXPECT_EQ(s1, 6);
    EXPECT_EQ(s2, 6);                       /* 7 would mean a 16750 */
    out(&r, LCR, save_lcr);
    out(&r, FCR, 0);
    EXPECT_EQ(in(&r, IIR) >> 6, 0);         /* FIFOs off again */
    rig_free(&r);
}

static void test_divisor_latch(void)
{
    struct rig r;
    rig_init(&r, NULL);
    out(&r, IER, 0x05);
    out(&r, LCR, 0x83);                     /* DLAB | 8N1 */
    out(&r, DLL, 0x01);
    out(&r, DLM, 0x00);                     /* 115200 baud */
    EXPECT_EQ(in(&r, DLL), 0x01);
    EXPECT_EQ(in(&r, DLM), 0x00);
    out(&r, DLM, 0x12);
    EXPECT_EQ(in(&r, DLM), 0x12);
    size_t n;
    chardev_mem_output(r.cd, &n);
    EXPECT_EQ(n, 0);                        /* DLL write is not a transmit */
    out(&r, LCR, 0x03);
    EXPECT_EQ(in(&r, IER), 0x05);           /* IER untouched by DLM writes */
    EXPECT_EQ(in(&r, LCR), 0x03);
    rig_free(&r);
}

/* serial8250_do_startup(): the UART_BUG_THRE and UART_BUG_TXEN tests. */
static void test_linux_thre_tests(void)
{
    struct rig r;
    rig_init(&r, NULL);
    out(&r, FCR, 0x07);                     /* clear FIFOs */
    out(&r, FCR, 0);
    (void)in(&r, LSR); (void)in(&r, RBR); (void)in(&r, IIR); (void)in(&r, MSR);
    EXPECT(in(&r, LSR) != 0xFF);

    EXPECT(in(&r, LSR) & 0x20);             /* wait_for_xmitr(THRE) */
    out(&r, IER, 0x02);
    uint8_t iir1 = in(&r, IIR);
    out(&r, IER, 0);
    out(&r, IER, 0x02);
    uint8_t iir = in(&r, IIR);
    out(&r, IER, 0);
    EXPECT_EQ(iir1 & 0x0F, 0x02);           /* THRE pending ... */
    EXPECT_EQ(iir & 0x0F, 0x02);            /* ... and re-asserted: no BUG_THRE */
    EXPECT_EQ(in(&r, IIR) & 0x0F, 0x01);

    out(&r, LCR, 0x03);
    out(&r, MCR, 0x0B);                     /* DTR RTS OUT2 */
    out(&r, IER, 0x02);                     /* TXEN quick test */
    uint8_t lsr = in(&r, LSR);
    iir = in(&r, IIR);
    out(&r, IER, 0);
    EXPECT(lsr & 0x40);
    EXPECT(!(iir & 0x01));                  /* interrupt seen: no BUG_TXEN */
    /* the IIR read cleared THRE: enabling RX interrupts leaves nothing */
    out(&r, IER, 0x05);
    EXPECT_EQ(in(&r, IIR), 0x01);
    EXPECT_EQ(r.sink.level, 0);
    rig_free(&r);
}

/* Transmit: bytes reach the chardev; each THR write re-arms THRE and the
 * IRQ reaches the PIC only with OUT2 set. */
static void test_transmit_and_out2(void)
{
    struct rig r;
    rig_init(&r, NULL);
    out(&r, LCR, 0x03);
    out(&r, FCR, 0xC7);
    out(&r, IER, 0x02);
    EXPECT_EQ(r.sink.level, 0);             /* OUT2 clear: no IRQ */
    out(&r, MCR, 0x08);
    EXPECT_EQ(r.sink.level, 1);
    out(&r, MCR, 0x00);
    EXPECT_EQ(r.sink.level, 0);
    out(&r, MCR, 0x0B);
    EXPECT_EQ(r.sink.level, 1);
    EXPECT_EQ(in(&r, IIR), 0xC2);           /* THRE, FIFO bits */
    EXPECT_EQ(r.sink.level, 0);
    int rises = r.sink.rises;
    const char *msg = "Linux version 6.1\r\n";
    for (const char *p = msg; *p; p++) {
        out(&r, THR, (uint8_t)*p);
        EXPECT_EQ(in(&r, LSR) & 0x60, 0x60);
    }
    size_t n;
    const uint8_t *o = chardev_mem_output(r.cd, &n);
    EXPECT_EQ(n, strlen(msg));
    EXPECT(n == strlen(msg) && !memcmp(o, msg, n));
    EXPECT_EQ(r.sink.level, 1);             /* THRE pending after the last byte */
    EXPECT_EQ(in(&r, IIR), 0xC2);
    EXPECT_EQ(r.sink.level, 0);             /* IIR read acknowledged it */
    EXPECT(r.sink.rises > rises);
    out(&r, IER, 0);
    rig_free(&r);
}

/* Receive FIFO: trigger level 8 (what Linux programs for a 16550A), the
 * character timeout below it (no clock: immediate), RDA at the trigger. */
static void test_rx_fifo_trigger(void)
{
    struct rig r;
    rig_init(&r, NULL);
    out(&r, LCR, 0x03);
    out(&r, FCR, 0x81);                     /* enable, trigger 8 */
    out(&r, MCR, 0x08);
    out(&r, IER, 0x05);                     /* RDA + RLS */
    inject(&r, "abc");
    EXPECT_EQ(in(&r, LSR) & 0x01, 1);
    EXPECT_EQ(in(&r, IIR), 0xCC);           /* timeout: data below trigger */
    EXPECT_EQ(r.sink.level, 1);
    inject(&r, "defgh");
    EXPECT_EQ(in(&r, IIR), 0xC4);           /* 8 bytes: RDA */
    char got[16] = "";
    int k = 0;
    while ((in(&r, LSR) & 1) && k < 15) got[k++] = (char)in(&r, RBR);
    EXPECT_EQ(k, 8);
    EXPECT(!strcmp(got, "abcdefgh"));
    EXPECT_EQ(in(&r, IIR), 0xC1);
    EXPECT_EQ(r.sink.level, 0);
    rig_free(&r);
}

/* More input than the FIFO holds stays queued in the chardev (no loss), and
 * is pulled in as the guest drains the FIFO. */
static void test_rx_backpressure(void)
{
    struct rig r;
    rig_init(&r, NULL);
    out(&r, FCR, 0xC1);
    char big[41];
    for (int i = 0; i < 40; i++) big[i] = (char)('A' + i % 26);
    big[40] = 0;
    inject(&r, big);
    EXPECT_EQ(chardev_pending_input(r.cd), 24);
    int k = 0;
    char got[41] = "";
    while ((in(&r, LSR) & 1) && k < 40) got[k++] = (char)in(&r, RBR);
    EXPECT_EQ(k, 40);
    EXPECT(!memcmp(got, big, 40));
    EXPECT_EQ(in(&r, LSR) & 0x02, 0);       /* no overrun */
    rig_free(&r);
}

/* Loopback (MCR bit 4): transmitted bytes come back to the receiver and do
 * not reach the back-end; host input is disconnected; the IRQ pin is off. */
static void test_loopback_data(void)
{
    struct rig r;
    rig_init(&r, NULL);
    out(&r, LCR, 0x03);
    out(&r, FCR, 0x01);
    out(&r, IER, 0x01);
    out(&r, MCR, 0x1F);
    out(&r, THR, 0x55);
    out(&r, THR, 0xAA);
    EXPECT_EQ(in(&r, LSR) & 0x01, 1);
    EXPECT_EQ(in(&r, IIR), 0xC4);           /* interrupt logic works ... */
    EXPECT_EQ(r.sink.level, 0);             /* ... but the PC's IRQ is off */
    EXPECT_EQ(in(&r, RBR), 0x55);
    EXPECT_EQ(in(&r, RBR), 0xAA);
    size_t n;
    chardev_mem_output(r.cd, &n);
    EXPECT_EQ(n, 0);
    inject(&r, "x");                         /* held back while looped */
    EXPECT_EQ(in(&r, LSR) & 0x01, 0);
    out(&r, MCR, 0x0B);
    chardev_poll(r.cd);
    EXPECT_EQ(in(&r, RBR), 'x');
    rig_free(&r);
}

/* Loopback modem lines and delta bits; modem status interrupt. */
static void test_modem_status(void)
{
    struct rig r;
    rig_init(&r, NULL);
    (void)in(&r, MSR);
    out(&r, MCR, 0x10);                      /* loop, all outputs off */
    EXPECT_EQ(in(&r, MSR), 0x0B);            /* CTS, DSR, DCD dropped: deltas */
    EXPECT_EQ(in(&r, MSR), 0x00);            /* deltas clear on read */
    out(&r, MCR, 0x1F);
    EXPECT_EQ(in(&r, MSR), 0xFB);            /* all lines up; TERI not set on rise */
    out(&r, MCR, 0x1B);                      /* OUT1 (RI) falls */
    EXPECT_EQ(in(&r, MSR), 0xB4);            /* trailing-edge RI */
    out(&r, MCR, 0x0B);                      /* leave loopback, OUT2 */
    (void)in(&r, MSR);
    out(&r, IER, 0x08);
    EXPECT_EQ(in(&r, IIR), 0x01);
    uart_set_modem_inputs(r.u, 0x20);        /* carrier and CTS drop */
    EXPECT_EQ(in(&r, IIR), 0x00);            /* modem status interrupt */
    EXPECT_EQ(r.sink.level, 1);
    EXPECT_EQ(in(&r, MSR), 0x29);
    EXPECT_EQ(in(&r, IIR), 0x01);
    EXPECT_EQ(r.sink.level, 0);
    rig_free(&r);
}

/* Overrun -> line status interrupt with top priority, cleared by LSR read;
 * priorities LSR > RDA > THRE > MSR (datasheet table 4). */
static void test_priorities_and_overrun(void)
{
    struct rig r;
    rig_init(&r, NULL);
    out(&r, LCR, 0x03);
    out(&r, FCR, 0x01);                      /* trigger 1 */
    out(&r, MCR, 0x18);                      /* loop + OUT2 */
    for (int i = 0; i < 17; i++) out(&r, THR, (uint8_t)i);
    out(&r, MCR, 0x0B);                      /* out of loop; modem deltas latched */
    out(&r, IER, 0x0F);
    EXPECT_EQ(in(&r, IIR), 0xC6);            /* LSR first */
    EXPECT_EQ(r.sink.level, 1);
    uint8_t lsr = in(&r, LSR);
    EXPECT_EQ(lsr & 0x03, 0x03);             /* OE | DR */
    EXPECT_EQ(in(&r, LSR) & 0x02, 0);        /* OE cleared by the read */
    EXPECT_EQ(in(&r, IIR), 0xC4);            /* then RDA */
    for (int i = 0; i < 16; i++) EXPECT_EQ(in(&r, RBR), i);  /* 17th lost */
    EXPECT_EQ(in(&r, IIR), 0xC2);            /* then THRE */
    EXPECT_EQ(in(&r, IIR), 0xC0);            /* then modem status */
    (void)in(&r, MSR);
    EXPECT_EQ(in(&r, IIR), 0xC1);
    EXPECT_EQ(r.sink.level, 0);
    rig_free(&r);
}

/* 16450 mode (FIFOs off): one holding register, overrun on the 2nd byte. */
static void test_non_fifo_mode(void)
{
    struct rig r;
    rig_init(&r, NULL);
    out(&r, MCR, 0x10);
    out(&r, THR, 'a');
    out(&r, THR, 'b');
    EXPECT_EQ(in(&r, LSR) & 0x03, 0x03);
    out(&r, IER, 0x01);
    EXPECT_EQ(in(&r, IIR), 0x04);            /* RDA, no FIFO bits */
    EXPECT_EQ(in(&r, RBR), 'b');             /* overwritten */
    EXPECT_EQ(in(&r, LSR) & 0x01, 0);
    EXPECT_EQ(in(&r, IIR), 0x01);
    rig_free(&r);
}

/* Character timeout on the virtual clock: 4 character times after the
 * last byte (115200 8N1: 10 bits = 86.8 us per char). */
static void test_timeout_on_clock(void)
{
    struct vclock *clk = vclock_new(true);
    struct rig r;
    rig_init(&r, clk);
    out(&r, LCR, 0x83); out(&r, DLL, 1); out(&r, DLM, 0); out(&r, LCR, 0x03);
    out(&r, FCR, 0xC1);                      /* trigger 14 */
    out(&r, MCR, 0x08);
    out(&r, IER, 0x01);
    inject(&r, "hi");
    EXPECT_EQ(in(&r, IIR), 0xC1);            /* nothing yet */
    vclock_advance(clk, 300000);             /* 300 us < 347 us */
    vclock_run_due(clk);
    EXPECT_EQ(in(&r, IIR), 0xC1);
    EXPECT_EQ(r.sink.level, 0);
    vclock_advance(clk, 60000);
    vclock_run_due(clk);
    EXPECT_EQ(in(&r, IIR), 0xCC);
    EXPECT_EQ(r.sink.level, 1);
    EXPECT_EQ(in(&r, RBR), 'h');             /* reading clears the indication */
    EXPECT_EQ(in(&r, IIR), 0xC1);
    EXPECT_EQ(r.sink.level, 0);
    vclock_advance(clk, 400000);
    vclock_run_due(clk);
    EXPECT_EQ(in(&r, IIR), 0xCC);            /* again for the remaining byte */
    EXPECT_EQ(in(&r, RBR), 'i');
    EXPECT_EQ(in(&r, IIR), 0xC1);
    vclock_advance(clk, 400000);
    vclock_run_due(clk);
    EXPECT_EQ(in(&r, IIR), 0xC1);            /* empty FIFO: no timeout */
    rig_free(&r);
    vclock_free(clk);
}

/* A break from the host (Ctrl-A b): a zero byte with LSR.BI (and the FIFO error bit),
 * reported as a line status interrupt until LSR is read. */
static void test_break(void)
{
    struct rig r;
    rig_init(&r, NULL);
    uart_free(r.u);
    chardev_free(r.cd);
    r.cd = chardev_new_memory(true);       /* with the Ctrl-A keys */
    r.u = uart_new(NULL, &r.line, r.cd);
    out(&r, FCR, 0x01);
    out(&r, MCR, 0x08);
    out(&r, IER, 0x05);
    inject(&r, "\x01" "b");                /* Ctrl-A b */
    EXPECT_EQ(in(&r, IIR), 0xC6);
    EXPECT_EQ(r.sink.level, 1);
    EXPECT_EQ(in(&r, LSR), 0xF1);            /* RXFE TEMT THRE BI DR */
    EXPECT_EQ(in(&r, LSR), 0x61);
    EXPECT_EQ(in(&r, IIR), 0xC4);
    EXPECT_EQ(in(&r, RBR), 0x00);
    EXPECT_EQ(in(&r, IIR), 0xC1);
    EXPECT_EQ(r.sink.level, 0);
    rig_free(&r);
}

/* Two ports on the bus (COM1 and COM2): independent state and outputs. */
static void test_two_ports_on_bus(void)
{
    struct rig a, b;
    rig_init(&a, NULL);
    rig_init(&b, NULL);
    struct bus *bus = bus_new();
    EXPECT(bus_map_io(bus, UART_COM1_BASE, 8, &uart_bus_ops, a.u) == 0);
    EXPECT(bus_map_io(bus, UART_COM2_BASE, 8, &uart_bus_ops, b.u) == 0);
    bus_io_write(bus, 0x3FB, 0x83, 1);      /* BIOS-style init of COM1 */
    bus_io_write(bus, 0x3F8, 0x01, 1);
    bus_io_write(bus, 0x3F9, 0x00, 1);
    bus_io_write(bus, 0x3FB, 0x03, 1);
    bus_io_write(bus, 0x3FF, 0x11, 1);
    bus_io_write(bus, 0x2FF, 0x22, 1);
    EXPECT_EQ(bus_io_read(bus, 0x3FF, 1), 0x11);
    EXPECT_EQ(bus_io_read(bus, 0x2FF, 1), 0x22);
    EXPECT_EQ(bus_io_read(bus, 0x3FD, 1), 0x60);
    bus_io_write(bus, 0x3F8, 'A', 1);
    bus_io_write(bus, 0x2F8, 'B', 1);
    bus_io_write(bus, 0x2FC, 0x08, 1);      /* OUT2 on COM2 */
    bus_io_write(bus, 0x2F9, 0x02, 1);
    EXPECT_EQ(b.sink.level, 1);
    EXPECT_EQ(a.sink.level, 0);
    size_t n;
    const uint8_t *o = chardev_mem_output(a.cd, &n);
    EXPECT(n == 1 && o[0] == 'A');
    o = chardev_mem_output(b.cd, &n);
    EXPECT(n == 1 && o[0] == 'B');
    bus_free(bus);
    rig_free(&a);
    rig_free(&b);
}

int main(void)
{
    RUN(test_reset_state);
    RUN(test_linux_autoconfig);
    RUN(test_divisor_latch);
    RUN(test_linux_thre_tests);
    RUN(test_transmit_and_out2);
    RUN(test_rx_fifo_trigger);
    RUN(test_rx_backpressure);
    RUN(test_loopback_data);
    RUN(test_modem_status);
    RUN(test_priorities_and_overrun);
    RUN(test_non_fifo_mode);
    RUN(test_timeout_on_clock);
    RUN(test_break);
    RUN(test_two_ports_on_bus);
    return test_summary();
}

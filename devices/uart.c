/* devices/uart.c - 16550A UART.
 *
 * Owns: one serial port's registers (RBR/THR, IER, IIR/FCR, LCR, MCR, LSR,
 * MSR, SCR, divisor latch), the 16-byte receive FIFO and the interrupt logic.
 * References: National Semiconductor PC16550D datasheet (registers, FIFO
 * trigger levels, interrupt priorities table 4, loopback "diagnostic mode");
 * Linux drivers/tty/serial/8250/8250_port.c (autoconfig and startup tests).
 *
 * Invariants:
 * - Transmission is instantaneous: after a THR write the byte is already on
 *   the back-end, so LSR.THRE and LSR.TEMT are always 1 when the guest looks.
 *   The THRE *interrupt* is modelled by `thr_ipending`: set whenever the THR
 *   becomes empty and when IER.ETBEI goes 0->1 with the THR empty (Linux's
 *   UART_BUG_THRE test toggles IER and expects the interrupt again); cleared
 *   by a THR write or by an IIR read that reports it (datasheet table 4).
 * - The transmit FIFO is therefore always empty; only the receive FIFO is
 *   stored. Non-FIFO (16450) mode uses the same storage with depth 1.
 * - The IRQ output to the PIC is INTR AND MCR.OUT2, and is off in loopback
 *   mode: on a PC the OUT2 pin enables the IRQ driver, and in loopback the
 *   16550 forces its modem outputs inactive (datasheet, MCR bit 4).
 * - irq_set is only called on a level change.
 */
#include "devices/uart.h"
#include "devices/chardev.h"
#include "devices/vclock.h"

#include <stdlib.h>
#include <stdbool.h>

/* register offsets */
enum { R_RBR_THR = 0, R_IER = 1, R_IIR_FCR = 2, R_LCR = 3, R_MCR = 4, R_LSR = 5, R_MSR = 6, R_SCR = 7 };

#define IER_ERBFI 0x01   /* received data available */
#define IER_ETBEI 0x02   /* THR empty */
#define IER_ELSI  0x04   /* receiver line status */
#define IER_EDSSI 0x08   /* modem status */

#define IIR_NONE    0x01
#define IIR_MSR     0x00
#define IIR_THRE    0x02
#define IIR_RDA     0x04
#define IIR_LSR     0x06
#define IIR_TIMEOUT 0x0C
#define IIR_FIFO    0xC0

#define FCR_ENABLE  0x01
#define FCR_CLR_RX  0x02
#define FCR_CLR_TX  0x04

#define LCR_DLAB  0x80
#define LCR_BREAK 0x40

#define MCR_DTR  0x01
#define MCR_RTS  0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10

#define LSR_DR   0x01
#define LSR_OE   0x02
#define LSR_PE   0x04
#define LSR_FE   0x08
#define LSR_BI   0x10
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define LSR_RXFE 0x80    /* error in receive FIFO */
#define LSR_ERRS (LSR_OE | LSR_PE | LSR_FE | LSR_BI)

#define MSR_DCTS 0x01
#define MSR_DDSR 0x02
#define MSR_TERI 0x04
#define MSR_DDCD 0x08
#define MSR_CTS  0x10
#define MSR_DSR  0x20
#define MSR_RI   0x40
#define MSR_DCD  0x80

#define FIFO_SIZE 16
#define UART_CLOCK_HZ 115200u    /* 1.8432 MHz / 16 */

struct uart {
    struct vclock *clk;          /* for the character timeout (may be NULL) */
    struct timer *timeout;       /* receive character-timeout timer         */
    struct irq_line irq;         /* to the PIC (IRQ4 for COM1)              */
    struct chardev *cd;          /* back-end (may be NULL)                  */
    uint8_t ier;                 /* interrupt enable, low 4 bits            */
    uint8_t fcr;                 /* last FCR value (write-only register)    */
    uint8_t lcr;                 /* line control                            */
    uint8_t mcr;                 /* modem control, low 5 bits               */
    uint8_t lsr;                 /* line status (DR/THRE/TEMT recomputed)   */
    uint8_t msr_delta;           /* MSR bits 0-3 (sticky until MSR read)    */
    uint8_t msr_lines;           /* MSR bits 4-7 as last seen by the guest  */
    uint8_t host_lines;          /* modem inputs from the host side         */
    uint8_t scr;                 /* scratch                                 */
    uint16_t divisor;            /* baud divisor latch (DLL/DLM)            */
    uint8_t rx[FIFO_SIZE];       /* receive FIFO ring                       */
    uint8_t rx_head;             /* index of the oldest byte                */
    uint8_t rx_count;            /* bytes in the FIFO                       */
    uint8_t rx_last;             /* last byte read (RBR reads when empty)   */
    bool thr_ipending;           /* THRE interrupt pending (see header)     */
    bool timeout_ipending;       /* character timeout indication           */
    int irq_level;               /* level last driven on `irq`              */
};

static bool fifo_on(const struct uart *u) { return u->fcr & FCR_ENABLE; }

static unsigned rx_depth(const struct uart *u) { return fifo_on(u) ? FIFO_SIZE : 1; }

static unsigned rx_trigger(const struct uart *u)
{
    static const uint8_t levels[4] = { 1, 4, 8, 14 };
    return fifo_on(u) ? levels[u->fcr >> 6] : 1;
}

/* Modem lines as the guest sees them (MSR bits 4-7). In loopback the
 * outputs feed the inputs: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD. */
static uint8_t modem_lines(const struct uart *u)
{
    if (u->mcr & MCR_LOOP) {
        uint8_t m = 0;
        if (u->mcr & MCR_RTS)  m |= MSR_CTS;
        if (u->mcr & MCR_DTR)  m |= MSR_DSR;
        if (u->mcr & MCR_OUT1) m |= MSR_RI;
        if (u->mcr & MCR_OUT2) m |= MSR_DCD;
        return m;
    }
    return u->host_lines;
}

/* Latch delta bits for a change of the modem lines. */
static void modem_update(struct uart *u)
{
    uint8_t now = modem_lines(u), old = u->msr_lines;
    uint8_t ch = now ^ old;
    if (ch & MSR_CTS) u->msr_delta |= MSR_DCTS;
    if (ch & MSR_DSR) u->msr_delta |= MSR_DDSR;
    if (ch & MSR_DCD) u->msr_delta |= MSR_DDCD;
    if ((old & MSR_RI) && !(now & MSR_RI)) u->msr_delta |= MSR_TERI;  /* trailing edge */
    u->msr_lines = now;
}

/* Current interrupt identification (datasheet table 4 priorities). */
static uint8_t uart_iir(const struct uart *u)
{
    uint8_t id = IIR_NONE;
    if ((u->ier & IER_ELSI) && (u->lsr & LSR_ERRS))
        id = IIR_LSR;
    else if ((u->ier & IER_ERBFI) && u->rx_count >= rx_trigger(u))
        id = IIR_RDA;
    else if ((u->ier & IER_ERBFI) && u->timeout_ipending && u->rx_count)
        id = IIR_TIMEOUT;
    else if ((u->ier & IER_ETBEI) && u->thr_ipending)
        id = IIR_THRE;
    else if ((u->ier & IER_EDSSI) && u->msr_delta)
        id = IIR_MSR;
    return id | (fifo_on(u) ? IIR_FIFO : 0);
}

static void uart_update_irq(struct uart *u)
{
    int level = !(uart_iir(u) & IIR_NONE) && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);
    if (level != u->irq_level) {
        u->irq_level = level;
        irq_set(&u->irq, level);
    }
}

/* Nanoseconds for one character frame at the programmed rate and format. */
static uint64_t char_time_ns(const struct uart *u)
{
    unsigned bits = 1 + 5 + (u->lcr & 3) + ((u->lcr & 0x08) ? 1 : 0) + ((u->lcr & 0x04) ? 2 : 1);
    uint64_t div = u->divisor ? u->divisor : 0x10000;
    return (uint64_t)bits * div * 1000000000ull / UART_CLOCK_HZ;
}

/* (Re)start the character-timeout: 4 character times after the last
 * received byte or the last RBR read (datasheet, FIFO interrupt mode). */
static void timeout_restart(struct uart *u)
{
    if (!fifo_on(u) || !u->rx_count) {
        if (u->timeout) timer_del(u->timeout);
        return;
    }
    if (!u->clk) {                         /* no clock: time out at once */
        u->timeout_ipending = true;
        return;
    }
    timer_mod(u->timeout, vclock_now_ns(u->clk) + 4 * char_time_ns(u));
}

static void timeout_fire(void *opaque)
{
    struct uart *u = opaque;
    if (fifo_on(u) && u->rx_count) {
        u->timeout_ipending = true;
        uart_update_irq(u);
    }
}

static void rx_clear(struct uart *u)
{
    u->rx_head = u->rx_count = 0;
    u->timeout_ipending = false;
    u->lsr &= ~(LSR_DR | LSR_RXFE);
    if (u->timeout) timer_del(u->timeout);
}

/* One character arrives at the receiver (from the host or the loopback). */
static void rx_push(struct uart *u, uint8_t c)
{
    if (u->rx_count >= rx_depth(u)) {
        u->lsr |= LSR_OE;                  /* overrun: the new byte is lost */
        if (!fifo_on(u))                   /* 16450: RBR is overwritten     */
            u->rx[u->rx_head] = c;
    } else {
        u->rx[(u->rx_head + u->rx_count) % FIFO_SIZE] = c;
        u->rx_count++;
    }
    u->lsr |= LSR_DR;
    timeout_restart(u);
}

static uint8_t rx_pop(struct uart *u)
{
    if (!u->rx_count) return u->rx_last;
    uint8_t c = u->rx[u->rx_head];
    u->rx_head = (u->rx_head + 1) % FIFO_SIZE;
    u->rx_count--;
    u->rx_last = c;
    if (!u->rx_count) u->lsr &= ~(LSR_DR | LSR_RXFE);
    u->timeout_ipending = false;           /* cleared by reading a byte */
    timeout_restart(u);
    return c;
}

/* ---- chardev receiver ---- */

static size_t uart_can_read(void *opaque)
{
    struct uart *u = opaque;
    if (u->mcr & MCR_LOOP) return 0;       /* serial input disconnected */
    return rx_depth(u) - u->rx_count;
}

static void uart_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct uart *u = opaque;
    for (size_t i = 0; i < len; i++) rx_push(u, buf[i]);
    uart_update_irq(u);
}

/* ---- transmit ---- */

static void uart_transmit(struct uart *u, uint8_t c)
{
    /* The byte goes out whole: the host side has no word length. */
    if (u->mcr & MCR_LOOP)
        rx_push(u, c);                     /* loopback: TSR -> RSR */
    else if (u->cd && !(u->lcr & LCR_BREAK))
        chardev_write(u->cd, &c, 1);
    u->thr_ipending = true;                /* THR (and TSR) empty again */
}

/* ---- register access ---- */

uint8_t uart_read(struct uart *u, unsigned off)
{
    uint8_t v = 0xFF;
    switch (off & 7) {
    case R_RBR_THR:
        if (u->lcr & LCR_DLAB) { v = u->divisor & 0xFF; break; }
        v = rx_pop(u);
        if (!u->rx_count && u->cd && chardev_pending_input(u->cd)) {
            uart_update_irq(u);
            chardev_poll(u->cd);           /* refill from queued host input */
        }
        break;
    case R_IER:
        v = (u->lcr & LCR_DLAB) ? u->divisor >> 8 : u->ier;
        break;
    case R_IIR_FCR:
        v = uart_iir(u);
        if ((v & 0x0F) == IIR_THRE) u->thr_ipending = false;
        break;
    case R_LCR: v = u->lcr; break;
    case R_MCR: v = u->mcr; break;
    case R_LSR:
        v = u->lsr | LSR_THRE | LSR_TEMT;
        if (u->rx_count) v |= LSR_DR;
        u->lsr &= ~(LSR_ERRS | LSR_RXFE);  /* error bits clear on read */
        break;
    case R_MSR:
        modem_update(u);
        v = u->msr_lines | u->msr_delta;
        u->msr_delta = 0;
        break;
    case R_SCR: v = u->scr; break;
    }
    uart_update_irq(u);
    return v;
}

void uart_write(struct uart *u, unsigned off, uint8_t val)
{
    switch (off & 7) {
    case R_RBR_THR:
        if (u->lcr & LCR_DLAB) { u->divisor = (u->divisor & 0xFF00) | val; break; }
        u->thr_ipending = false;
        uart_transmit(u, val);
        break;
    case R_IER:
        if (u->lcr & LCR_DLAB) { u->divisor = (u->divisor & 0x00FF) | (uint16_t)(val << 8); break; }
        {
            uint8_t old = u->ier;
            u->ier = val & 0x0F;
            /* ETBEI 0->1 with the THR empty raises THRE at once (Linux's
             * serial8250_do_startup checks this); 1->0 drops it. */
            if ((u->ier & IER_ETBEI) && !(old & IER_ETBEI)) u->thr_ipending = true;
            if (!(u->ier & IER_ETBEI)) u->thr_ipending = false;
        }
        break;
    case R_IIR_FCR: {
        bool was_on = fifo_on(u);
        if (!(val & FCR_ENABLE)) {          /* other bits need bit 0 set */
            if (was_on) rx_clear(u);
            u->fcr = 0;
            break;
        }
        if (!was_on || (val & FCR_CLR_RX)) rx_clear(u);
        /* FCR_CLR_TX: the transmit FIFO is always empty here. */
        u->fcr = val & 0xC9;
        timeout_restart(u);
        break;
    }
    case R_LCR: u->lcr = val; break;
    case R_MCR:
        u->mcr = val & 0x1F;
        modem_update(u);
        break;
    case R_LSR: break;                      /* read-only (factory test) */
    case R_MSR: break;                      /* read-only */
    case R_SCR: u->scr = val; break;
    }
    uart_update_irq(u);
}

static uint32_t uart_bus_read(void *opaque, uint32_t off, unsigned size)
{
    (void)size;
    return uart_read(opaque, off);
}

static void uart_bus_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    (void)size;
    uart_write(opaque, off, (uint8_t)val);
}

const struct bus_ops uart_bus_ops = {
    .name = "uart16550a",
    .read = uart_bus_read,
    .write = uart_bus_write,
    .byte_only = true,
};

void uart_set_modem_inputs(struct uart *u, uint8_t msr_hi)
{
    u->host_lines = msr_hi & 0xF0;
    modem_update(u);
    uart_update_irq(u);
}

void uart_receive_break(struct uart *u)
{
    if (u->mcr & MCR_LOOP) return;
    rx_push(u, 0);                          /* a break loads a zero byte */
    u->lsr |= LSR_BI;
    if (fifo_on(u)) u->lsr |= LSR_RXFE;
    uart_update_irq(u);
}

static void uart_break_cb(void *opaque) { uart_receive_break(opaque); }

struct uart *uart_new(struct vclock *clk, const struct irq_line *irq, struct chardev *cd)
{
    struct uart *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->clk = clk;
    if (clk) {
        u->timeout = timer_new(clk, timeout_fire, u);
        if (!u->timeout) { free(u); return NULL; }
    }
    if (irq) u->irq = *irq;
    u->cd = cd;
    u->lsr = LSR_THRE | LSR_TEMT;
    u->host_lines = MSR_CTS | MSR_DSR | MSR_DCD;
    u->msr_lines = u->host_lines;
    u->divisor = 12;                        /* 9600 baud until programmed */
    u->lcr = 0;                             /* reset value (datasheet) */
    u->thr_ipending = false;                /* cleared by reset (datasheet) */
    if (cd) {
        chardev_set_receiver(cd, uart_can_read, uart_receive, u);
        chardev_set_break_handler(cd, uart_break_cb, u);
    }
    return u;
}

void uart_free(struct uart *u)
{
    if (!u) return;
    if (u->cd) {
        chardev_set_receiver(u->cd, NULL, NULL, NULL);
        chardev_set_break_handler(u->cd, NULL, NULL);
    }
    if (u->timeout) timer_free(u->timeout);
    free(u);
}

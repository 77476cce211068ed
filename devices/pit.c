/* devices/pit.c - 8254 PIT and system control port B (0x61).
 *
 * Owns: three counters and port 0x61. References: Intel 82C54 datasheet
 * (23124406): "Control Word Format", "Read-Back Command", "Counter Latch
 * Command", "Mode Definitions" 0-5 and figure 21 (gate behaviour); IBM AT
 * technical reference (port 61h: refresh detect bit 4 toggles every 15.085
 * us, OUT2 on bit 5); Linux arch/x86/kernel/tsc.c (pit_calibrate_tsc,
 * quick_pit_calibrate) and drivers/clocksource/i8253.c.
 *
 * Model: time is counted in PIT ticks, tick(t_ns) = floor(t_ns * PIT_HZ / 1e9).
 * While a counter is `armed` its value and OUT are pure functions of
 * d = tick - start_tick (start_value is the counter at d = 0):
 *   modes 0,1: value = start_value - d (mod 2^16 or 10^4), OUT = d >= start_value
 *   modes 4,5: same value, OUT low only at d == start_value
 *   mode 2:    value = N - d mod N, OUT low while value == 1
 *   mode 3:    value decrements by 2, OUT high for the first ceil(N/2) ticks of N
 * A count written is loaded on the next clock (start_tick = tick + 1). When
 * not armed the counter holds `frozen` and OUT is `idle_out`. `tc_passed`
 * records that OUT already reached its final high state in modes 0/1/4/5
 * (before a gate pause), so resuming does not produce a second edge.
 * Simplifications: a new count written in modes 2/3 while counting takes
 * effect at once (not at the end of the current period); in mode 0 the first
 * byte of a two-byte count stops the counter and drops OUT (as specified).
 *
 * IRQ0: the line follows OUT0 after every register change; each rising edge
 * of OUT0 caused by time is a timer event (next_edge_ns) that pulses the line
 * (low then high) so an edge-triggered PIC latches it even when the short
 * low phase of mode 2 is not modelled as an event of its own. Before any
 * register change the PIT first delivers an edge whose time has passed.
 */
#include "devices/pit.h"
#include "devices/vclock.h"

#include <stdlib.h>

#define NEVER UINT64_MAX
#define REFRESH_NS 15085u              /* port 0x61 bit 4 half period */

struct pit_channel {
    uint8_t mode;                /* 0-5 (6, 7 are stored as 2, 3)           */
    uint8_t mode_bits;           /* mode field as written, for read-back    */
    uint8_t rw;                  /* 1 LSB, 2 MSB, 3 LSB then MSB            */
    bool bcd;                    /* counting in BCD (modulus 10000)         */
    uint32_t count;              /* reload value N, 1..65536 / 1..10000     */
    bool gate;                   /* GATE input level                        */
    bool armed;                  /* counting from start_tick                */
    bool paused;                 /* stopped by gate, resumes on gate rise   */
    uint64_t start_tick;         /* tick at which the counter = start_value */
    uint32_t start_value;        /* counter value at start_tick (<= 65536)  */
    bool tc_passed;              /* modes 0,1,4,5: final OUT reached        */
    uint32_t frozen;             /* counter value while not armed           */
    bool idle_out;               /* OUT while not armed                     */
    bool count_pending;          /* control word written, count not yet    */
    uint64_t null_until;         /* read-back NULL COUNT until this tick    */
    bool write_msb;              /* rw 3: next data write is the MSB        */
    uint8_t write_lsb;           /* rw 3: the LSB already written           */
    bool read_msb;               /* rw 3: next data read returns the MSB    */
    bool latched;                /* counter latch holds `latch`             */
    uint16_t latch;              /* latched count (BCD-encoded if bcd)      */
    bool status_latched;         /* read-back status waiting                */
    uint8_t status;              /* latched status byte                     */
};

struct pit {
    struct pit_channel ch[3];    /* counters 0-2                            */
    struct vclock *clk;          /* time source                             */
    struct irq_line irq0;        /* OUT0 -> IRQ0                            */
    int irq_level;               /* level last driven on irq0               */
    struct timer *timer;         /* next OUT0 rising edge                   */
    uint64_t next_edge_ns;       /* its deadline, NEVER if none             */
    uint8_t port61;              /* port 0x61 bits 0-3 as written           */
    struct bus *bus;             /* where the ports are mapped (or NULL)    */
    unsigned mapped;             /* bit 0: 0x40-0x43, bit 1: 0x61           */
};

/* ---- time ----------------------------------------------------------------------- */

static uint64_t ns_to_tick(uint64_t ns)
{
    return (uint64_t)((unsigned __int128)ns * PIT_HZ / 1000000000u);
}

/* First ns at which ns_to_tick() reaches `tick`. */
static uint64_t tick_to_ns(uint64_t tick)
{
    unsigned __int128 n = (unsigned __int128)tick * 1000000000u + PIT_HZ - 1;
    n /= PIT_HZ;
    return n > (unsigned __int128)(NEVER - 1) ? NEVER - 1 : (uint64_t)n;
}

static uint64_t pit_now_tick(struct pit *pit)
{
    return ns_to_tick(vclock_now_ns(pit->clk));
}

static uint32_t ch_modulus(const struct pit_channel *c) { return c->bcd ? 10000u : 65536u; }

static uint16_t bin_to_bcd(uint32_t v)
{
    return (uint16_t)((v % 10) | ((v / 10 % 10) << 4) | ((v / 100 % 10) << 8) | ((v / 1000 % 10) << 12));
}

static uint32_t bcd_to_bin(uint16_t v)
{
    return (v & 0xF) + ((v >> 4) & 0xF) * 10 + ((v >> 8) & 0xF) * 100 + ((v >> 12) & 0xF) * 1000u;
}

/* ---- counter model ------------------------------------------------------------ */

static uint64_t ch_elapsed(const struct pit_channel *c, uint64_t t)
{
    return t > c->start_tick ? t - c->start_tick : 0;
}

/* Counter value (binary, 0..modulus-1) at tick t. */
static uint32_t ch_value(const struct pit_channel *c, uint64_t t)
{
    uint32_t m = ch_modulus(c);
    if (!c->armed) return c->frozen % m;
    uint64_t d = ch_elapsed(c, t);
    uint32_t n = c->count;
    switch (c->mode) {
    case 2:
        return (uint32_t)(n - d % n) % m;
    case 3:
        return (uint32_t)((n - (2 * d) % n) & ~1u) % m;
    default:
        return (uint32_t)(((uint64_t)c->start_value % m + m - d % m) % m);
    }
}

static bool ch_out(const struct pit_channel *c, uint64_t t)
{
    if (!c->armed) return c->idle_out;
    uint64_t d = ch_elapsed(c, t);
    uint32_t n = c->count;
    switch (c->mode) {
    case 0: case 1:
        return c->tc_passed || d >= c->start_value;
    case 2:
        return n < 2 || d % n != n - 1;
    case 3:
        return n < 2 || d % n < (n + 1) / 2;
    default:                                  /* 4, 5 */
        return c->tc_passed || d != c->start_value;
    }
}

/* Tick of the next rising edge of OUT strictly after tick t, or NEVER. */
static uint64_t ch_next_rise(const struct pit_channel *c, uint64_t t)
{
    if (!c->armed) return NEVER;
    uint64_t e;
    switch (c->mode) {
    case 0: case 1:
        if (c->tc_passed) return NEVER;
        e = c->start_tick + c->start_value;
        return e > t ? e : NEVER;
    case 4: case 5:
        if (c->tc_passed) return NEVER;
        e = c->start_tick + c->start_value + 1;
        return e > t ? e : NEVER;
    default: {                                /* 2, 3 */
        uint64_t n = c->count;
        if (n < 2) return NEVER;
        if (t < c->start_tick) return c->start_tick + n;
        return c->start_tick + ((t - c->start_tick) / n + 1) * n;
    }
    }
}

/* (Re)start counting from value v at the next clock. */
static void ch_start(struct pit_channel *c, uint64_t t, uint32_t v)
{
    c->armed = true;
    c->paused = false;
    c->start_tick = t + 1;
    c->start_value = v;
    c->tc_passed = false;
}

/* Stop counting, keeping the current value and OUT. */
static void ch_stop(struct pit_channel *c, uint64_t t)
{
    if (!c->armed) return;
    uint64_t d = ch_elapsed(c, t);
    bool tc = c->tc_passed || ((c->mode == 0 || c->mode == 1) ? d >= c->start_value : d > c->start_value);
    c->frozen = ch_value(c, t);
    c->idle_out = ch_out(c, t);
    c->armed = false;
    c->tc_passed = tc;
}

/* ---- IRQ0 ----------------------------------------------------------------------- */

static void pit_schedule(struct pit *pit)
{
    if (!pit->timer) return;
    uint64_t e = ch_next_rise(&pit->ch[0], pit_now_tick(pit));
    if (e == NEVER) {
        pit->next_edge_ns = NEVER;
        timer_del(pit->timer);
    } else {
        pit->next_edge_ns = tick_to_ns(e);
        timer_mod(pit->timer, pit->next_edge_ns);
    }
}

/* A rising edge of OUT0 happened (at or before now): pulse IRQ0. */
static void pit_edge(void *opaque)
{
    struct pit *pit = opaque;
    bool out = ch_out(&pit->ch[0], pit_now_tick(pit));
    if (pit->irq_level) irq_set(&pit->irq0, 0);
    irq_set(&pit->irq0, 1);
    if (!out) irq_set(&pit->irq0, 0);
    pit->irq_level = out;
    pit_schedule(pit);
}

/* Deliver an edge whose time has come but whose timer has not run yet. */
static void pit_catch_up(struct pit *pit)
{
    if (pit->next_edge_ns != NEVER && vclock_now_ns(pit->clk) >= pit->next_edge_ns) {
        timer_del(pit->timer);
        pit_edge(pit);
    }
}

/* After a register change of channel 0: drive the new OUT0 level, reschedule. */
static void pit_sync(struct pit *pit)
{
    int out = ch_out(&pit->ch[0], pit_now_tick(pit));
    if (out != pit->irq_level) {
        irq_set(&pit->irq0, out);
        pit->irq_level = out;
    }
    pit_schedule(pit);
}

/* ---- registers ------------------------------------------------------------------ */

static void ch_latch_count(struct pit_channel *c, uint64_t t)
{
    if (c->latched) return;                   /* first latch wins until read */
    uint32_t v = ch_value(c, t);
    c->latch = c->bcd ? bin_to_bcd(v) : (uint16_t)v;
    c->latched = true;
}

static void ch_latch_status(struct pit_channel *c, uint64_t t)
{
    if (c->status_latched) return;
    bool null = c->count_pending || t < c->null_until;
    c->status = (uint8_t)((ch_out(c, t) ? 0x80 : 0) | (null ? 0x40 : 0) | (c->rw << 4) |
                          (c->mode_bits << 1) | (c->bcd ? 1 : 0));
    c->status_latched = true;
}

static void pit_control_write(struct pit *pit, uint8_t val, uint64_t t)
{
    unsigned sc = val >> 6;
    if (sc == 3) {
        /* Read-back: bit 5 = 0 latch count, bit 4 = 0 latch status,
         * bits 1-3 select counters 0-2. */
        for (int i = 0; i < 3; i++) {
            if (!(val & (2u << i))) continue;
            if (!(val & 0x10)) ch_latch_status(&pit->ch[i], t);
            if (!(val & 0x20)) ch_latch_count(&pit->ch[i], t);
        }
        return;
    }
    struct pit_channel *c = &pit->ch[sc];
    unsigned rw = (val >> 4) & 3;
    if (rw == 0) {                            /* counter latch command */
        ch_latch_count(c, t);
        return;
    }
    c->frozen = ch_value(c, t);
    c->armed = false;
    c->paused = false;
    c->tc_passed = false;
    c->rw = (uint8_t)rw;
    c->mode_bits = (val >> 1) & 7;
    c->mode = c->mode_bits > 5 ? (uint8_t)(c->mode_bits - 4) : c->mode_bits;
    c->bcd = val & 1;
    c->write_msb = false;
    c->read_msb = false;
    c->count_pending = true;
    c->null_until = NEVER;
    c->idle_out = c->mode != 0;               /* mode 0: OUT low after the control word */
    if (sc == 0) pit_sync(pit);
}

static void ch_load_count(struct pit *pit, int idx, uint16_t raw, uint64_t t)
{
    struct pit_channel *c = &pit->ch[idx];
    uint32_t n = c->bcd ? bcd_to_bin(raw) : raw;
    if (n == 0) n = ch_modulus(c);
    c->count = n;
    c->count_pending = false;
    c->null_until = t + 1;
    switch (c->mode) {
    case 0: case 4:
        c->idle_out = c->mode == 4;
        if (c->gate) {
            ch_start(c, t, n);
        } else {
            c->armed = false;
            c->paused = true;
            c->frozen = n;
            c->tc_passed = false;
        }
        break;
    case 1: case 5:
        break;                                /* loaded on the next gate trigger */
    default:                                  /* 2, 3 */
        if (c->gate) ch_start(c, t, n);
        else c->paused = true;
        break;
    }
}

static void pit_data_write(struct pit *pit, int idx, uint8_t val, uint64_t t)
{
    struct pit_channel *c = &pit->ch[idx];
    switch (c->rw) {
    case 1: ch_load_count(pit, idx, val, t); break;
    case 2: ch_load_count(pit, idx, (uint16_t)(val << 8), t); break;
    default:
        if (!c->write_msb) {
            c->write_lsb = val;
            c->write_msb = true;
            if (c->mode == 0 && c->armed) {   /* first byte stops counting, OUT low */
                ch_stop(c, t);
                c->idle_out = false;
                c->tc_passed = false;
            }
        } else {
            c->write_msb = false;
            ch_load_count(pit, idx, (uint16_t)(c->write_lsb | (val << 8)), t);
        }
        break;
    }
    if (idx == 0) pit_sync(pit);
}

static uint8_t pit_data_read(struct pit *pit, int idx, uint64_t t)
{
    struct pit_channel *c = &pit->ch[idx];
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    uint16_t v;
    if (c->latched) {
        v = c->latch;
        if (c->rw != 3 || c->read_msb) c->latched = false;
    } else {
        uint32_t b = ch_value(c, t);
        v = c->bcd ? bin_to_bcd(b) : (uint16_t)b;
    }
    switch (c->rw) {
    case 1: return (uint8_t)v;
    case 2: return (uint8_t)(v >> 8);
    default:
        c->read_msb = !c->read_msb;
        return c->read_msb ? (uint8_t)v : (uint8_t)(v >> 8);
    }
}

void pit_set_gate(struct pit *pit, int ch, int level)
{
    if (!pit || ch < 0 || ch > 2) return;
    if (ch == 0) pit_catch_up(pit);
    struct pit_channel *c = &pit->ch[ch];
    bool g = level != 0;
    if (g == c->gate) return;
    uint64_t t = pit_now_tick(pit);
    c->gate = g;
    switch (c->mode) {
    case 0: case 4:                           /* gate low suspends counting */
        if (!g) {
            if (c->armed) {
                ch_stop(c, t);
                c->paused = true;
            }
        } else if (c->paused && !c->count_pending) {
            bool tc = c->tc_passed;
            ch_start(c, t, c->frozen);
            c->tc_passed = tc;
        }
        break;
    case 1: case 5:                           /* rising edge triggers */
        if (g && !c->count_pending) ch_start(c, t, c->count);
        break;
    default:                                  /* 2, 3: low forces OUT high, rise reloads */
        if (!g) {
            if (c->armed) ch_stop(c, t);
            c->paused = true;
            c->idle_out = true;
        } else if (!c->count_pending) {
            ch_start(c, t, c->count);
        }
        break;
    }
    if (ch == 0) pit_sync(pit);
}

int pit_get_out(struct pit *pit, int ch)
{
    if (!pit || ch < 0 || ch > 2) return 0;
    return ch_out(&pit->ch[ch], pit_now_tick(pit));
}

bool pit_speaker_enabled(struct pit *pit)
{
    return (pit->port61 & 3) == 3;
}

uint8_t pit_port_read(struct pit *pit, uint16_t port)
{
    if (port == 0x61) {
        uint64_t ns = vclock_now_ns(pit->clk);
        uint8_t v = pit->port61 & 0x0F;
        if ((ns / REFRESH_NS) & 1) v |= 0x10;
        if (ch_out(&pit->ch[2], ns_to_tick(ns))) v |= 0x20;
        return v;
    }
    if (port >= 0x40 && port <= 0x42) {
        if (port == 0x40) pit_catch_up(pit);
        return pit_data_read(pit, port - 0x40, pit_now_tick(pit));
    }
    return 0xFF;                              /* 0x43 is write-only */
}

void pit_port_write(struct pit *pit, uint16_t port, uint8_t val)
{
    pit_catch_up(pit);
    uint64_t t = pit_now_tick(pit);
    if (port == 0x61) {
        pit->port61 = val & 0x0F;
        pit_set_gate(pit, 2, val & 1);
    } else if (port == 0x43) {
        pit_control_write(pit, val, t);
    } else if (port >= 0x40 && port <= 0x42) {
        pit_data_write(pit, port - 0x40, val, t);
    }
}

/* ---- bus ------------------------------------------------------------------------ */

static uint32_t pit_bus_read(void *o, uint32_t off, unsigned size) { (void)size; return pit_port_read(o, (uint16_t)(0x40 + off)); }
static void pit_bus_write(void *o, uint32_t off, uint32_t v, unsigned size) { (void)size; pit_port_write(o, (uint16_t)(0x40 + off), (uint8_t)v); }
static uint32_t p61_bus_read(void *o, uint32_t off, unsigned size) { (void)off; (void)size; return pit_port_read(o, 0x61); }
static void p61_bus_write(void *o, uint32_t off, uint32_t v, unsigned size) { (void)off; (void)size; pit_port_write(o, 0x61, (uint8_t)v); }

static const struct bus_ops pit_ops = { .name = "pit8254", .read = pit_bus_read, .write = pit_bus_write, .byte_only = true };
static const struct bus_ops port61_ops = { .name = "port61", .read = p61_bus_read, .write = p61_bus_write, .byte_only = true };

struct pit *pit_new(struct bus *bus, struct vclock *clk, const struct irq_line *irq0)
{
    if (!clk) return NULL;
    struct pit *pit = calloc(1, sizeof *pit);
    if (!pit) return NULL;
    pit->clk = clk;
    if (irq0) pit->irq0 = *irq0;
    pit->next_edge_ns = NEVER;
    pit->timer = timer_new(clk, pit_edge, pit);
    for (int i = 0; i < 3; i++) {
        struct pit_channel *c = &pit->ch[i];
        c->rw = 3;
        c->count = 65536;
        c->count_pending = true;
        c->null_until = NEVER;
        c->gate = i != 2;                     /* gate 2 comes from port 0x61 */
    }
    pit->bus = bus;
    if (bus) {
        if (bus_map_io(bus, 0x40, 4, &pit_ops, pit) == 0) pit->mapped |= 1;
        if (bus_map_io(bus, 0x61, 1, &port61_ops, pit) == 0) pit->mapped |= 2;
        if (pit->mapped != 3 || !pit->timer) {
            pit_free(pit);
            return NULL;
        }
    }
    return pit;
}

void pit_free(struct pit *pit)
{
    if (!pit) return;
    if (pit->bus) {
        if (pit->mapped & 1) bus_unmap_io(pit->bus, 0x40, 4);
        if (pit->mapped & 2) bus_unmap_io(pit->bus, 0x61, 1);
    }
    timer_free(pit->timer);
    free(pit);
}

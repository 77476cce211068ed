/* devices/rtc.c - MC146818 RTC / CMOS RAM.
 *
 * Owns: cmos[128], the index register, the wall-clock offset and the two
 * timers (update cycle, periodic interrupt). References: Motorola MC146818A
 * datasheet ("Update Cycle": UIP rises 244 us before the update, which
 * lasts 1984 us; register A-D bit definitions; "the first update cycle
 * begins one-half second after the divider reset is released"; UIE is cleared
 * when SET goes high); Linux drivers/rtc/rtc-mc146818-lib.c (mc146818_get_time
 * polls UIP, mc146818_set_time sets SET and the divider reset while writing).
 *
 * Invariants:
 * - While the clock runs (B.SET clear and the divider not in reset, A bits
 *   6-5 != 11), the time registers (0, 2, 4, 6-9 and the century 0x32) are
 *   not stored: they are computed from guest_ns = vclock_now + offset_ns in
 *   the format register B selects. While stopped they live in cmos[] and
 *   the guest may write them; restarting derives offset_ns from them.
 * - Seconds begin where guest_ns is a multiple of 1e9 (boundary B). UIP is 1
 *   in [B - 244 us, B + 1984 us); the registers change at B; UF (and AF on an
 *   alarm match) are set at B + 1984 us by update_timer (1 Hz, runs while the
 *   clock runs).
 * - PF: periodic boundaries are multiples of the rate's period in 32768 Hz
 *   cycles of vclock time. PF is set lazily (on a register C read, if a
 *   boundary passed since pf_index) and by periodic_timer, which is armed
 *   only while PIE is set and the rate is non-zero.
 * - cmos[C] bit 7 (IRQF) == (C & B & 0x70) != 0, and the IRQ8 line level
 *   equals IRQF; reading C clears C and lowers the line.
 */
#include "devices/rtc.h"
#include "devices/vclock.h"

#include <stdlib.h>
#include <time.h>

#define REG_SEC        0x00
#define REG_SEC_ALARM  0x01
#define REG_MIN        0x02
#define REG_MIN_ALARM  0x03
#define REG_HOUR       0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY       0x06
#define REG_MDAY       0x07
#define REG_MON        0x08
#define REG_YEAR       0x09

#define A_UIP   0x80
#define B_SET   0x80
#define B_PIE   0x40
#define B_AIE   0x20
#define B_UIE   0x10
#define B_DM    0x04     /* 1 = binary */
#define B_24H   0x02
#define C_IRQF  0x80
#define C_PF    0x40
#define C_AF    0x20
#define C_UF    0x10
#define D_VRT   0x80

#define NS_PER_S     1000000000ll
#define UIP_LEAD_NS  244000ll
#define UPDATE_NS    1984000ll

struct rtc {
    uint8_t cmos[128];           /* registers + NVRAM (time regs when stopped) */
    uint8_t index;               /* port 0x70 bits 0-6                         */
    bool nmi_disabled;           /* port 0x70 bit 7                            */
    struct vclock *clk;          /* time source                                */
    struct irq_line irq;         /* IRQ8                                       */
    int irq_level;               /* level last driven                          */
    int64_t offset_ns;           /* guest UTC ns = vclock ns + offset_ns       */
    bool stopped;                /* SET or divider reset: time regs in cmos[]  */
    struct timer *update_timer;  /* end of each update cycle                   */
    struct timer *periodic_timer;/* PF events while PIE                        */
    uint64_t pf_index;           /* periodic boundary count at last PF/C read  */
    struct bus *bus;             /* where mapped (or NULL)                     */
    bool mapped;                 /* ports 0x70-0x71 mapped                     */
};

static bool is_time_reg(unsigned idx)
{
    return idx == REG_SEC || idx == REG_MIN || idx == REG_HOUR || (idx >= REG_WDAY && idx <= REG_YEAR) ||
           idx == CMOS_CENTURY;
}

static int64_t floor_div(int64_t a, int64_t b) { int64_t q = a / b; return (a % b < 0) ? q - 1 : q; }
static int64_t floor_mod(int64_t a, int64_t b) { int64_t m = a % b; return m < 0 ? m + b : m; }

static int64_t guest_ns(struct rtc *rtc)
{
    return (int64_t)vclock_now_ns(rtc->clk) + rtc->offset_ns;
}

/* ---- register format ------------------------------------------------------------ */

static uint8_t enc(const struct rtc *rtc, int v)
{
    if (rtc->cmos[RTC_REG_B] & B_DM) return (uint8_t)v;
    return (uint8_t)(((v / 10) % 10) << 4 | (v % 10));
}

static int dec(const struct rtc *rtc, uint8_t v)
{
    if (rtc->cmos[RTC_REG_B] & B_DM) return v;
    return (v >> 4) * 10 + (v & 0xF);
}

static uint8_t enc_hour(const struct rtc *rtc, int h)
{
    if (rtc->cmos[RTC_REG_B] & B_24H) return enc(rtc, h);
    int h12 = h % 12 ? h % 12 : 12;
    return (uint8_t)(enc(rtc, h12) | (h >= 12 ? 0x80 : 0));
}

static int dec_hour(const struct rtc *rtc, uint8_t v)
{
    if (rtc->cmos[RTC_REG_B] & B_24H) return dec(rtc, v);
    return dec(rtc, v & 0x7F) % 12 + ((v & 0x80) ? 12 : 0);
}

/* The value of time register idx for UTC seconds `secs`. */
static uint8_t time_reg(const struct rtc *rtc, unsigned idx, int64_t secs)
{
    time_t tt = (time_t)secs;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) return 0;
    int year = tm.tm_year + 1900;
    switch (idx) {
    case REG_SEC: return enc(rtc, tm.tm_sec);
    case REG_MIN: return enc(rtc, tm.tm_min);
    case REG_HOUR: return enc_hour(rtc, tm.tm_hour);
    case REG_WDAY: return enc(rtc, tm.tm_wday + 1);      /* Sunday = 1 */
    case REG_MDAY: return enc(rtc, tm.tm_mday);
    case REG_MON: return enc(rtc, tm.tm_mon + 1);
    case REG_YEAR: return enc(rtc, year % 100);
    case CMOS_CENTURY: return enc(rtc, year / 100);
    default: return 0;
    }
}

/* Store the running time into cmos[] (entering the stopped state). */
static void snapshot_time(struct rtc *rtc)
{
    int64_t secs = floor_div(guest_ns(rtc), NS_PER_S);
    static const unsigned regs[] = { REG_SEC, REG_MIN, REG_HOUR, REG_WDAY, REG_MDAY, REG_MON, REG_YEAR, CMOS_CENTURY };
    for (unsigned i = 0; i < sizeof regs / sizeof regs[0]; i++) rtc->cmos[regs[i]] = time_reg(rtc, regs[i], secs);
}

/* UTC seconds that the stored time registers describe. */
static int64_t stored_time(const struct rtc *rtc)
{
    struct tm tm = {0};
    int yy = dec(rtc, rtc->cmos[REG_YEAR]) % 100;
    int cent = dec(rtc, rtc->cmos[CMOS_CENTURY]);
    if (cent < 19 || cent > 29) cent = yy < 70 ? 20 : 19;
    tm.tm_year = cent * 100 + yy - 1900;
    tm.tm_mon = dec(rtc, rtc->cmos[REG_MON]) - 1;
    tm.tm_mday = dec(rtc, rtc->cmos[REG_MDAY]);
    tm.tm_hour = dec_hour(rtc, rtc->cmos[REG_HOUR]);
    tm.tm_min = dec(rtc, rtc->cmos[REG_MIN]);
    tm.tm_sec = dec(rtc, rtc->cmos[REG_SEC]);
    return (int64_t)timegm(&tm);
}

/* ---- interrupts ----------------------------------------------------------------- */

static void rtc_irq_update(struct rtc *rtc)
{
    uint8_t *c = &rtc->cmos[RTC_REG_C];
    if (*c & rtc->cmos[RTC_REG_B] & (C_PF | C_AF | C_UF)) *c |= C_IRQF;
    int level = (*c & C_IRQF) != 0;
    if (level != rtc->irq_level) {
        rtc->irq_level = level;
        irq_set(&rtc->irq, level);
    }
}

/* Period of the periodic interrupt in 32768 Hz cycles, 0 = off. */
static uint64_t periodic_cycles(const struct rtc *rtc)
{
    uint8_t a = rtc->cmos[RTC_REG_A];
    unsigned rs = a & 0x0F;
    if (rs == 0 || ((a >> 5) & 3) == 3) return 0;   /* no rate, or divider in reset */
    if (rs <= 2) rs += 7;                           /* 1, 2 = 256 Hz, 128 Hz */
    return 1ull << (rs - 1);
}

static uint64_t cycles_at(uint64_t ns) { return (uint64_t)((unsigned __int128)ns * 32768u / 1000000000u); }
static uint64_t cycle_ns(uint64_t cyc) { return (uint64_t)(((unsigned __int128)cyc * 1000000000u + 32767) / 32768u); }

static uint64_t periodic_index(struct rtc *rtc, uint64_t p)
{
    return cycles_at(vclock_now_ns(rtc->clk)) / p;
}

static void periodic_schedule(struct rtc *rtc)
{
    uint64_t p = periodic_cycles(rtc);
    if (!p || !(rtc->cmos[RTC_REG_B] & B_PIE)) {
        timer_del(rtc->periodic_timer);
        return;
    }
    timer_mod(rtc->periodic_timer, cycle_ns((periodic_index(rtc, p) + 1) * p));
}

static void periodic_fire(void *opaque)
{
    struct rtc *rtc = opaque;
    uint64_t p = periodic_cycles(rtc);
    if (p) rtc->pf_index = periodic_index(rtc, p);
    rtc->cmos[RTC_REG_C] |= C_PF;
    rtc_irq_update(rtc);
    periodic_schedule(rtc);
}

/* The next end of an update cycle strictly after now. */
static void update_schedule(struct rtc *rtc)
{
    if (rtc->stopped) {
        timer_del(rtc->update_timer);
        return;
    }
    int64_t g = guest_ns(rtc);
    int64_t frac = floor_mod(g, NS_PER_S);
    int64_t wait = UPDATE_NS - frac;
    if (wait <= 0) wait += NS_PER_S;
    timer_mod(rtc->update_timer, vclock_now_ns(rtc->clk) + (uint64_t)wait);
}

static bool alarm_match(const struct rtc *rtc, unsigned alarm_reg, uint8_t now)
{
    uint8_t a = rtc->cmos[alarm_reg];
    return (a & 0xC0) == 0xC0 || a == now;           /* 11xxxxxx = don't care */
}

static void update_fire(void *opaque)
{
    struct rtc *rtc = opaque;
    if (rtc->stopped) return;
    int64_t secs = floor_div(guest_ns(rtc), NS_PER_S);
    rtc->cmos[RTC_REG_C] |= C_UF;
    if (alarm_match(rtc, REG_SEC_ALARM, time_reg(rtc, REG_SEC, secs)) &&
        alarm_match(rtc, REG_MIN_ALARM, time_reg(rtc, REG_MIN, secs)) &&
        alarm_match(rtc, REG_HOUR_ALARM, time_reg(rtc, REG_HOUR, secs)))
        rtc->cmos[RTC_REG_C] |= C_AF;
    rtc_irq_update(rtc);
    update_schedule(rtc);
}

/* Enter or leave the stopped state. `half`: leaving a divider reset, the
 * first update comes half a second later. */
static void rtc_set_stopped(struct rtc *rtc, bool stop, bool half)
{
    if (stop == rtc->stopped) return;
    if (stop) {
        snapshot_time(rtc);
        rtc->stopped = true;
    } else {
        int64_t t = stored_time(rtc);
        rtc->offset_ns = t * NS_PER_S + (half ? NS_PER_S / 2 : 0) - (int64_t)vclock_now_ns(rtc->clk);
        rtc->stopped = false;
    }
    update_schedule(rtc);
}

static bool divider_reset(uint8_t a) { return ((a >> 5) & 3) == 3; }

/* ---- registers ------------------------------------------------------------------ */

static uint8_t rtc_read_reg(struct rtc *rtc, unsigned idx)
{
    switch (idx) {
    case RTC_REG_A: {
        uint8_t a = rtc->cmos[RTC_REG_A] & 0x7F;
        if (!rtc->stopped) {
            int64_t frac = floor_mod(guest_ns(rtc), NS_PER_S);
            if (frac >= NS_PER_S - UIP_LEAD_NS || frac < UPDATE_NS) a |= A_UIP;
        }
        return a;
    }
    case RTC_REG_C: {
        uint8_t c = rtc->cmos[RTC_REG_C];
        uint64_t p = periodic_cycles(rtc);
        if (p) {
            uint64_t i = periodic_index(rtc, p);
            if (i != rtc->pf_index) c |= C_PF;         /* a boundary passed */
            rtc->pf_index = i;
        }
        if (c & rtc->cmos[RTC_REG_B] & (C_PF | C_AF | C_UF)) c |= C_IRQF;
        rtc->cmos[RTC_REG_C] = 0;                      /* cleared by the read */
        rtc_irq_update(rtc);
        return c;
    }
    case RTC_REG_D:
        return D_VRT;
    default:
        if (is_time_reg(idx) && !rtc->stopped)
            return time_reg(rtc, idx, floor_div(guest_ns(rtc), NS_PER_S));
        return rtc->cmos[idx];
    }
}

static void rtc_write_reg(struct rtc *rtc, unsigned idx, uint8_t val)
{
    switch (idx) {
    case RTC_REG_A: {
        uint8_t old = rtc->cmos[RTC_REG_A];
        rtc->cmos[RTC_REG_A] = val & 0x7F;
        bool was_reset = divider_reset(old), now_reset = divider_reset(val);
        bool set = rtc->cmos[RTC_REG_B] & B_SET;
        if (now_reset && !was_reset) rtc_set_stopped(rtc, true, false);
        else if (!now_reset && was_reset && !set) rtc_set_stopped(rtc, false, true);
        if ((old ^ val) & 0x6F) {
            uint64_t p = periodic_cycles(rtc);
            if (p) rtc->pf_index = periodic_index(rtc, p);
            periodic_schedule(rtc);
        }
        break;
    }
    case RTC_REG_B: {
        uint8_t old = rtc->cmos[RTC_REG_B];
        if (val & B_SET) val &= (uint8_t)~B_UIE;     /* MC146818A: SET clears UIE */
        if ((val & B_SET) && !(old & B_SET)) {
            rtc_set_stopped(rtc, true, false);         /* snapshot in the old format */
            rtc->cmos[RTC_REG_B] = val;
        } else {
            rtc->cmos[RTC_REG_B] = val;
            if (!(val & B_SET) && (old & B_SET) && !divider_reset(rtc->cmos[RTC_REG_A]))
                rtc_set_stopped(rtc, false, false);
        }
        rtc_irq_update(rtc);
        periodic_schedule(rtc);
        break;
    }
    case RTC_REG_C: case RTC_REG_D:
        break;                                         /* read-only */
    default:
        if (is_time_reg(idx) && !rtc->stopped) {
            /* Setting one field while running: keep the sub-second phase. */
            int64_t frac = floor_mod(guest_ns(rtc), NS_PER_S);
            snapshot_time(rtc);
            rtc->cmos[idx] = val;
            rtc->offset_ns = stored_time(rtc) * NS_PER_S + frac - (int64_t)vclock_now_ns(rtc->clk);
            update_schedule(rtc);
        } else {
            rtc->cmos[idx] = val;
        }
        break;
    }
}

uint8_t rtc_port_read(struct rtc *rtc, uint16_t port)
{
    if ((port & 1) == 0) return 0xFF;                  /* index port is write-only */
    return rtc_read_reg(rtc, rtc->index);
}

void rtc_port_write(struct rtc *rtc, uint16_t port, uint8_t val)
{
    if ((port & 1) == 0) {
        rtc->index = val & 0x7F;
        rtc->nmi_disabled = (val & 0x80) != 0;
    } else {
        rtc_write_reg(rtc, rtc->index, val);
    }
}

/* ---- board API ------------------------------------------------------------------ */

void rtc_nvram_set(struct rtc *rtc, unsigned idx, uint8_t val)
{
    if (idx < 128) rtc->cmos[idx] = val;
}

uint8_t rtc_nvram_get(struct rtc *rtc, unsigned idx)
{
    return idx < 128 ? rtc->cmos[idx] : 0xFF;
}

void rtc_update_checksum(struct rtc *rtc)
{
    unsigned sum = 0;
    for (unsigned i = 0x10; i <= 0x2D; i++) sum += rtc->cmos[i];
    rtc->cmos[CMOS_CHECKSUM_HI] = (uint8_t)(sum >> 8);
    rtc->cmos[CMOS_CHECKSUM_HI + 1] = (uint8_t)sum;
}

void rtc_cmos_set_memory(struct rtc *rtc, uint64_t below_4g, uint64_t above_4g)
{
    rtc->cmos[CMOS_BASE_MEM_LO] = 0x80;                /* 640 KiB */
    rtc->cmos[CMOS_BASE_MEM_LO + 1] = 0x02;
    uint64_t ext = below_4g > 0x100000 ? (below_4g - 0x100000) / 1024 : 0;
    if (ext > 0xFFFF) ext = 0xFFFF;
    rtc->cmos[CMOS_EXT_MEM_LO] = rtc->cmos[CMOS_EXT_MEM2_LO] = (uint8_t)ext;
    rtc->cmos[CMOS_EXT_MEM_LO + 1] = rtc->cmos[CMOS_EXT_MEM2_LO + 1] = (uint8_t)(ext >> 8);
    uint64_t m16 = below_4g > 0x1000000 ? (below_4g - 0x1000000) / 65536 : 0;
    if (m16 > 0xFFFF) m16 = 0xFFFF;
    rtc->cmos[CMOS_MEM16M_LO] = (uint8_t)m16;
    rtc->cmos[CMOS_MEM16M_LO + 1] = (uint8_t)(m16 >> 8);
    uint64_t m4g = above_4g / 65536;
    if (m4g > 0xFFFFFF) m4g = 0xFFFFFF;
    rtc->cmos[CMOS_MEM4G_LO] = (uint8_t)m4g;
    rtc->cmos[CMOS_MEM4G_LO + 1] = (uint8_t)(m4g >> 8);
    rtc->cmos[CMOS_MEM4G_LO + 2] = (uint8_t)(m4g >> 16);
    rtc_update_checksum(rtc);
}

bool rtc_nmi_disabled(struct rtc *rtc)
{
    return rtc->nmi_disabled;
}

int64_t rtc_guest_time(struct rtc *rtc)
{
    if (rtc->stopped) return stored_time(rtc);
    return floor_div(guest_ns(rtc), NS_PER_S);
}

/* ---- bus ------------------------------------------------------------------------ */

static uint32_t rtc_bus_read(void *o, uint32_t off, unsigned size) { (void)size; return rtc_port_read(o, (uint16_t)(0x70 + off)); }
static void rtc_bus_write(void *o, uint32_t off, uint32_t v, unsigned size) { (void)size; rtc_port_write(o, (uint16_t)(0x70 + off), (uint8_t)v); }
static const struct bus_ops rtc_ops = { .name = "mc146818", .read = rtc_bus_read, .write = rtc_bus_write, .byte_only = true };

struct rtc *rtc_new(struct bus *bus, struct vclock *clk, const struct irq_line *irq8, int64_t start_unix)
{
    if (!clk) return NULL;
    struct rtc *rtc = calloc(1, sizeof *rtc);
    if (!rtc) return NULL;
    rtc->clk = clk;
    if (irq8) rtc->irq = *irq8;
    rtc->cmos[RTC_REG_A] = 0x26;                       /* 32.768 kHz, 1024 Hz rate */
    rtc->cmos[RTC_REG_B] = B_24H;                      /* BCD, 24 hour */
    rtc->cmos[RTC_REG_D] = D_VRT;
    int64_t start_ns;
    if (start_unix == RTC_HOST_TIME) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start_ns = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
    } else {
        start_ns = start_unix * NS_PER_S;
    }
    rtc->offset_ns = start_ns - (int64_t)vclock_now_ns(clk);
    rtc->update_timer = timer_new(clk, update_fire, rtc);
    rtc->periodic_timer = timer_new(clk, periodic_fire, rtc);
    if (!rtc->update_timer || !rtc->periodic_timer) {
        rtc_free(rtc);
        return NULL;
    }
    rtc->pf_index = periodic_index(rtc, periodic_cycles(rtc));
    update_schedule(rtc);
    rtc->bus = bus;
    if (bus) {
        if (bus_map_io(bus, 0x70, 2, &rtc_ops, rtc) != 0) {
            rtc_free(rtc);
            return NULL;
        }
        rtc->mapped = true;
    }
    return rtc;
}

void rtc_free(struct rtc *rtc)
{
    if (!rtc) return;
    if (rtc->mapped) bus_unmap_io(rtc->bus, 0x70, 2);
    timer_free(rtc->update_timer);
    timer_free(rtc->periodic_timer);
    free(rtc);
}

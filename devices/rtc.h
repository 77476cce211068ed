/* devices/rtc.h - MC146818 real-time clock and CMOS RAM (ports 0x70/0x71).
 *
 * Owns: the 128-byte CMOS (time, alarm, status registers A-D and NVRAM), the
 * index register with its NMI-disable bit, the guest's wall-clock offset, the
 * periodic, alarm and update-ended interrupts on IRQ8.
 * Guest time = the start time (host CLOCK_REALTIME, or a fixed time for tests)
 * plus vclock time elapsed, plus whatever offset the guest sets by writing
 * the clock. Time is kept in UTC. Byte 0x32 holds the century.
 *
 * Wiring (the board): struct irq_line l8 = pic_irq_line(pic, 8);
 *                     rtc = rtc_new(bus, clk, &l8, RTC_HOST_TIME);
 *                     rtc_cmos_set_memory(rtc, below_4g, above_4g);
 *                     rtc_nvram_set(rtc, 0x14, equipment); rtc_nvram_set(rtc, 0x10, floppy);
 *                     rtc_update_checksum(rtc);
 */
#ifndef BT86_RTC_H
#define BT86_RTC_H
#include <stdint.h>
#include <stdbool.h>
#include "devices/bus.h"
#include "devices/irq.h"

#define RTC_HOST_TIME INT64_MIN   /* start time: follow the host's clock */

/* CMOS offsets the board and BIOS use (IBM AT / SeaBIOS conventions). */
#define RTC_REG_A          0x0A
#define RTC_REG_B          0x0B
#define RTC_REG_C          0x0C
#define RTC_REG_D          0x0D
#define CMOS_FLOPPY        0x10   /* drive types: high nibble A:, low B:   */
#define CMOS_EQUIPMENT     0x14   /* equipment byte                        */
#define CMOS_BASE_MEM_LO   0x15   /* base memory in KiB (640)              */
#define CMOS_EXT_MEM_LO    0x17   /* KiB above 1 MiB (max 0xFFFF)          */
#define CMOS_CHECKSUM_HI   0x2E   /* sum of 0x10..0x2D, big endian         */
#define CMOS_EXT_MEM2_LO   0x30   /* copy of 0x17/0x18                     */
#define CMOS_CENTURY       0x32   /* century (BCD or binary, like the year) */
#define CMOS_MEM16M_LO     0x34   /* 64 KiB units above 16 MiB (max 0xFFFF) */
#define CMOS_MEM4G_LO      0x5B   /* 64 KiB units above 4 GiB, 3 bytes LE  */

struct rtc;
struct vclock;

/* New RTC on `bus` (NULL: not mapped) on clock `clk`; irq8 copied (may be
 * NULL). start_unix: RTC_HOST_TIME, or the guest's UTC time (seconds since
 * 1970) at vclock time "now". NULL if clk is NULL or the ports are taken. */
struct rtc *rtc_new(struct bus *bus, struct vclock *clk, const struct irq_line *irq8,
                    int64_t start_unix);
void rtc_free(struct rtc *rtc);

/* Port access (0x70 index, 0x71 data). */
uint8_t rtc_port_read(struct rtc *rtc, uint16_t port);
void rtc_port_write(struct rtc *rtc, uint16_t port, uint8_t val);

/* Raw NVRAM access for the board (no side effects; idx 0..127). */
void rtc_nvram_set(struct rtc *rtc, unsigned idx, uint8_t val);
uint8_t rtc_nvram_get(struct rtc *rtc, unsigned idx);
/* Store the standard checksum of 0x10..0x2D at 0x2E (high) / 0x2F (low). */
void rtc_update_checksum(struct rtc *rtc);
/* Memory size bytes: base 640 KiB (0x15), extended KiB (0x17, 0x30), 64 KiB
 * units above 16 MiB (0x34) and above 4 GiB (0x5B); then the checksum. */
void rtc_cmos_set_memory(struct rtc *rtc, uint64_t below_4g, uint64_t above_4g);

/* Port 0x70 bit 7 as last written (NMI disabled when set). */
bool rtc_nmi_disabled(struct rtc *rtc);
/* The guest's current wall-clock time (UTC seconds since 1970). */
int64_t rtc_guest_time(struct rtc *rtc);

#endif

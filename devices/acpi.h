/* devices/acpi.h - ACPI fixed hardware: PM1a event/control registers and the
 * PM timer (ACPI 1.0b section 4.7), the SCI, and S5 power-off.
 *
 * Ports (base = ACPI_PM_BASE by default; the BIOS's FADT names them):
 *   base+0  PM1a_STS (16)  TMR_STS bit 0, PWRBTN_STS bit 8, WAK_STS bit 15; write 1 clears
 *   base+2  PM1a_EN  (16)  TMR_EN bit 0, PWRBTN_EN bit 8
 *   base+4  PM1a_CNT (16)  SCI_EN bit 0 (always 1: no SMI_CMD), SLP_TYP bits 12:10, SLP_EN bit 13
 *   base+8  PM_TMR   (32)  24-bit counter at 3.579545 MHz from the virtual clock
 * Writing SLP_EN with SLP_TYP == ACPI_SLP_TYP_S5 calls the power-off callback
 * (the DSDT's \_S5 package carries that value). Other sleep types are ignored.
 * The SCI (level) is asserted while (PM1a_STS & PM1a_EN) has a bit set.
 */
#ifndef BT86_ACPI_H
#define BT86_ACPI_H
#include <stdint.h>
#include "devices/bus.h"
#include "devices/irq.h"
#include "devices/vclock.h"

#define ACPI_PM_BASE      0x600
#define ACPI_PM_LEN       12
#define ACPI_SLP_TYP_S5   5
#define ACPI_SCI_IRQ      9
#define ACPI_PM_TIMER_HZ  3579545ull

struct acpi;

/* sci: the SCI line (ISA IRQ 9); poweroff(opaque) on S5. NULL if the ports are taken. */
struct acpi *acpi_new(struct bus *bus, uint16_t base, struct vclock *clk, const struct irq_line *sci,
                      void (*poweroff)(void *opaque), void *opaque);
void acpi_free(struct acpi *a);
void acpi_reset(struct acpi *a);
/* Press the power button (sets PWRBTN_STS; SCI if enabled). */
void acpi_power_button(struct acpi *a);
uint32_t acpi_port_read(struct acpi *a, uint32_t off, unsigned size);
void acpi_port_write(struct acpi *a, uint32_t off, uint32_t val, unsigned size);
#endif

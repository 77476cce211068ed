/* cpu/pmode.h - protected-mode segmentation, privilege and delivery.
 *
 * Owns (issue 4): descriptor loads with every check, far CALL/JMP/RET/IRET
 * across privilege levels and through gates and TSSs, delivery through the
 * IDT. Until that lands these return EXIT_UNIMPL so a caller sees exactly
 * where the interpreter stops.
 */
#ifndef BT86_PMODE_H
#define BT86_PMODE_H
#include "cpu/cpu.h"
int pm_load_seg(struct cpu *c, int s, uint16_t sel);
int pm_far_jump(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize);
int pm_far_call(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize);
int pm_far_ret(struct cpu *c, unsigned opsize, uint32_t imm);
int pm_iret(struct cpu *c, unsigned opsize);
int pm_deliver(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_sw, uint32_t ret_eip);
#endif

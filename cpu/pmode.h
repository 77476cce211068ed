/* cpu/pmode.h - protected-mode segmentation, privilege and delivery.
 *
 * Owns (issue 4): descriptor loads with every check, far CALL/JMP/RET/IRET
 * across privilege levels and through gates and TSSs, delivery through the
 * IDT with the double/triple-fault rules, hardware task switches
 * (cpu/pmode.c, cpu/pm_task.c; shared internals in cpu/pm_priv.h).
 * Called by the interpreter only when CR0.PE=1 and EFLAGS.VM=0 (pm_deliver:
 * whenever CR0.PE=1, V86 included). Each returns EXC_NONE, or a vector with
 * cpu->exc_err/exc_has_err set and no architectural state changed, or
 * EXIT_RESET (pm_deliver: triple fault). pm_deliver never returns a vector:
 * faults raised while delivering are delivered in turn (SDM vol. 3 sec. 6.15).
 */
#ifndef BT86_PMODE_H
#define BT86_PMODE_H
#include "cpu/cpu.h"
/* MOV/POP/LxS to a segment register (s = SEG_*), SDM vol. 2 MOV. */
int pm_load_seg(struct cpu *c, int s, uint16_t sel);
/* Far JMP/CALL to sel:off (code segment, call gate, TSS or task gate);
 * opsize 2 or 4; the return address is cpu->next_eip. */
int pm_far_jump(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize);
int pm_far_call(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize);
/* Far RET with imm bytes of parameters to release. */
int pm_far_ret(struct cpu *c, unsigned opsize, uint32_t imm);
/* IRET/IRETD outside V86 mode (NT: task return). */
int pm_iret(struct cpu *c, unsigned opsize);
/* Deliver vector vec through the IDT. is_sw: INT n/INT3/INTO (gate DPL
 * checked, no error code); ret_eip: the EIP to save. EXC_NONE or EXIT_RESET. */
int pm_deliver(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_sw, uint32_t ret_eip);
#endif

/* cpu/pmode.c - protected-mode transfers (placeholder until issue 4 lands). */
#include "cpu/pmode.h"
#include "cpu/interp_priv.h"
int pm_load_seg(struct cpu *c, int s, uint16_t sel) { (void)c; (void)s; (void)sel; return EXIT_UNIMPL; }
int pm_far_jump(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize)
{ (void)c; (void)sel; (void)off; (void)opsize; return EXIT_UNIMPL; }
int pm_far_call(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize)
{ (void)c; (void)sel; (void)off; (void)opsize; return EXIT_UNIMPL; }
int pm_far_ret(struct cpu *c, unsigned opsize, uint32_t imm) { (void)c; (void)opsize; (void)imm; return EXIT_UNIMPL; }
int pm_iret(struct cpu *c, unsigned opsize) { (void)c; (void)opsize; return EXIT_UNIMPL; }
int pm_deliver(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_sw, uint32_t ret_eip)
{ (void)c; (void)vec; (void)has_err; (void)err; (void)is_sw; (void)ret_eip; return EXIT_UNIMPL; }

/* ---- protected-mode-only instructions: #UD in real and V86 mode ---- */
#define PM_ONLY(name) \
int op_##name(struct cpu *c, const struct insn *in) \
{ \
    (void)in; \
    if (cpu_real(c) || cpu_v86(c)) return UD(c); \
    return EXIT_UNIMPL; \
}
PM_ONLY(sldt)
PM_ONLY(str)
PM_ONLY(lldt)
PM_ONLY(ltr)
PM_ONLY(verr)
PM_ONLY(verw)
PM_ONLY(lar)
PM_ONLY(lsl)
PM_ONLY(arpl)

/* SYSENTER/SYSEXIT (SDM vol. 2): #GP(0) in real mode */
int op_sysenter(struct cpu *c, const struct insn *in) { (void)in; if (cpu_real(c)) return fault(c, EXC_GP, 0); return EXIT_UNIMPL; }
int op_sysexit(struct cpu *c, const struct insn *in) { (void)in; if (cpu_real(c)) return fault(c, EXC_GP, 0); return EXIT_UNIMPL; }


/* cpu/ops_fpu.c - the x87 FPU (issue 4). Until it lands: CR0.EM/TS give
 * #NM as the architecture requires (SDM vol. 3 sec. 2.5), and otherwise
 * the interpreter stops with EXIT_UNIMPL naming the instruction. */
#include "cpu/interp_priv.h"

static int fpu_entry(struct cpu *c)
{
    if (c->cr[0] & (CR0_EM | CR0_TS)) return fault_noerr(c, EXC_NM);
    return EXIT_UNIMPL;
}
#define FPU_OP(name) int op_##name(struct cpu *c, const struct insn *in) { (void)in; return fpu_entry(c); }
FPU_OP(fpu_arith) FPU_OP(fpu_com) FPU_OP(fpu_ld) FPU_OP(fpu_st) FPU_OP(fpu_ldenv) FPU_OP(fpu_ldcw)
FPU_OP(fpu_stenv) FPU_OP(fpu_stcw) FPU_OP(fpu_xch) FPU_OP(fpu_nop) FPU_OP(fpu_unary) FPU_OP(fpu_xam)
FPU_OP(fpu_ldconst) FPU_OP(fpu_binary) FPU_OP(fpu_stackop) FPU_OP(fpu_cmov) FPU_OP(fpu_clex)
FPU_OP(fpu_init) FPU_OP(fpu_comi) FPU_OP(fpu_rstor) FPU_OP(fpu_save) FPU_OP(fpu_stsw) FPU_OP(fpu_free)

/* WAIT/FWAIT: #NM only when both MP and TS are set */
int op_fwait(struct cpu *c, const struct insn *in)
{
    (void)in;
    if ((c->cr[0] & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) return fault_noerr(c, EXC_NM);
    return EXC_NONE;
}

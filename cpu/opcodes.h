/* cpu/opcodes.h - the consumer side of the one opcode table.
 *
 * cpu/opcodes.def holds one row per opcode form:
 *   X(name, map, pfx, opc, ext, mnem, handler, o1, o2, o3, attrs, fr, fw, fu)
 *     name    unique row name; OP_<name> is its index
 *     map     0 one-byte, 1 0F, 2 0F38, 3 0F3A
 *     pfx     mandatory prefix (SSE): 0, 0x66, 0xF3, 0xF2
 *     opc     opcode byte
 *     ext     ModRM constraint: NOX (none), R_(n) reg field n any mod,
 *             RR(n) reg n with mod=3, RM(n) reg n with mod!=3,
 *             RX(n,m) mod=3 reg n rm m (x87 and 0F 01 register forms)
 *     mnem    Intel mnemonic; "a|b" = 16-bit|32-bit operand size spelling
 *     handler semantic operation: the interpreter calls op_<handler>,
 *             the translator tr_<handler> (many rows share one)
 *     o1..o3  operand types (enum optype, Intel's notation)
 *     attrs   A_* bits below
 *     fr, fw, fu  EFLAGS bits read, written, left undefined
 * Everything here is generated from that table by the preprocessor.
 */
#ifndef BT86_OPCODES_H
#define BT86_OPCODES_H
#include <stdint.h>

/* EFLAGS bits (SDM vol. 1 sec. 3.4.3) */
#define FL_CF   0x00000001u
#define FL_PF   0x00000004u
#define FL_AF   0x00000010u
#define FL_ZF   0x00000040u
#define FL_SF   0x00000080u
#define FL_TF   0x00000100u
#define FL_IF   0x00000200u
#define FL_DF   0x00000400u
#define FL_OF   0x00000800u
#define FL_IOPL 0x00003000u
#define FL_NT   0x00004000u
#define FL_RF   0x00010000u
#define FL_VM   0x00020000u
#define FL_AC   0x00040000u
#define FL_VIF  0x00080000u
#define FL_VIP  0x00100000u
#define FL_ID   0x00200000u
#define FL_ARITH (FL_CF|FL_PF|FL_AF|FL_ZF|FL_SF|FL_OF)

/* table shorthand for flag columns */
#define f_C FL_CF
#define f_P FL_PF
#define f_A FL_AF
#define f_Z FL_ZF
#define f_S FL_SF
#define f_O FL_OF
#define f_D FL_DF
#define f_I FL_IF
#define f_T FL_TF
#define f_ALL 0xFFFFFFFFu
#define f_OSZAPC FL_ARITH
#define f_OSZAP (FL_OF|FL_SF|FL_ZF|FL_AF|FL_PF)
#define f_SZAPC (FL_SF|FL_ZF|FL_AF|FL_PF|FL_CF)
#define f_SZP   (FL_SF|FL_ZF|FL_PF)
#define f_OC    (FL_OF|FL_CF)
#define f_SZAP  (FL_SF|FL_ZF|FL_AF|FL_PF)
#define f_0 0u

/* attributes */
#define A_LOCK    0x00000001u  /* LOCK allowed (with a memory destination) */
#define A_REP     0x00000002u  /* string op: REP prefix meaningful          */
#define A_REPC    0x00000004u  /* string op using REPE/REPNE condition      */
#define A_PRIV    0x00000008u  /* CPL 0 only                                */
#define A_SENS    0x00000010u  /* sensitive: behaves differently deprivileged */
#define A_IO      0x00000020u  /* port I/O (IOPL / bitmap checked)          */
#define A_BRANCH  0x00000040u  /* changes EIP other than by falling through */
#define A_COND    0x00000080u  /* conditional branch                        */
#define A_ENDTB   0x00000100u  /* ends a translation block                  */
#define A_FPU     0x00000200u  /* x87: CR0.EM/TS checks, FPU state          */
#define A_MMX     0x00000400u  /* feature: MMX                              */
#define A_SSE     0x00000800u  /* feature: SSE                              */
#define A_SSE2    0x00001000u  /* feature: SSE2                             */
#define A_FXSR    0x00002000u  /* feature: FXSAVE/FXRSTOR                   */
#define A_UNIMPL  0x00004000u  /* decoded but not in the model: always #UD  */
#define A_NOSIZE  0x00008000u  /* operand size prefix does not matter       */
#define A_SSE3    0x00010000u  /* feature: SSE3 (absent on a P6)            */
#define A_STACK   0x00020000u  /* stack operation: uses SS.B for eSP size    */
#define PFX_ANY   0xFF         /* pfx column: matches any SSE prefix (catch-all rows) */
#define A_FEATURES (A_MMX|A_SSE|A_SSE2|A_SSE3|A_FXSR|A_UNIMPL)

/* ModRM constraints (ext column) */
#define NOX       0xFFFF
#define R_(n)     (0x100 | (n))            /* reg=n, any mod   */
#define RR(n)     (0x200 | (n))            /* reg=n, mod=3     */
#define RM(n)     (0x400 | (n))            /* reg=n, mod!=3    */
#define RX(n, m)  (0x800 | ((n) << 3) | (m)) /* mod=3, reg=n, rm=m */

/* Operand types, in Intel's notation (SDM vol. 2 appendix A.2). */
#define OPTYPES(T) \
    T(__)  /* none */ \
    T(Eb) T(Ew) T(Ed) T(Ev) T(Gb) T(Gw) T(Gd) T(Gv) \
    T(Rd) T(Rw) T(Rv) /* ModRM r/m, register only (mod=3; Rd of MOV CR/DR ignores mod) */ \
    T(Evw) /* r/m: register of operand size, or a 16-bit memory word (MOV Ev,Sw; SLDT; STR; SMSW) */ \
    T(M)  /* memory, unsized (LEA, INVLPG) */ \
    T(Mb) T(Mw) T(Md) T(Mq) T(Mv) T(Mp) T(Ma) T(Ms) T(Mdq) \
    T(Ib) T(Ibs) T(Iw) T(Iz) T(Iv) T(Jb) T(Jz) T(Ap) T(Ob) T(Ov) \
    T(Sw) T(Cd) T(Dd) T(Td) \
    T(AL) T(CL) T(DL) T(BL) T(AH) T(CH) T(DH) T(BH) \
    T(AX) T(rAX) T(eAX) T(DX) T(ONE) \
    T(Zb) T(Zv) /* register in opcode bits 2:0 */ \
    T(ES) T(CS) T(SS) T(DS) T(FS) T(GS) \
    T(Xb) T(Xv) T(Yb) T(Yv) \
    T(ST0) T(STi) T(Mf32) T(Mf64) T(Mf80) T(Mi16) T(Mi32) T(Mi64) T(Mbcd) \
    T(Menv) T(Mfst) T(Mfx) \
    T(Pq) T(Pd) T(Qq) T(Qd) T(Nq) \
    T(Vx) T(Wx) T(Wss) T(Wsd) T(Wq) T(Ux) T(Mx) T(Ey) T(Gy)

enum optype {
#define T(n) OT_##n,
    OPTYPES(T)
#undef T
    OT_COUNT
};

enum op_id {
#define X(name, map, pfx, opc, ext, mnem, handler, o1, o2, o3, attrs, fr, fw, fu) OP_##name,
#include "cpu/opcodes.def"
#undef X
    OP_COUNT
};

struct opinfo {
    const char *name;       /* row name                         */
    const char *mnem;       /* mnemonic ("a|b" by operand size) */
    const char *handler;    /* semantic op name                 */
    uint8_t map, pfx, opc;
    uint16_t ext;
    uint8_t ot[3];          /* enum optype                      */
    uint32_t attrs;
    uint32_t fr, fw, fu;    /* flags read / written / undefined */
};

extern const struct opinfo optab[OP_COUNT];

#endif

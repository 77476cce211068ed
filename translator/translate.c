/* translator/translate.c - guest instructions to host code, one block.
 *
 * Owns: choosing, per decoded guest instruction, a native translation or a
 * callout, and emitting it (conventions in translator/bt_priv.h).
 *  - "ident": most integer instructions are re-encoded almost unchanged:
 *    the same opcode and ModRM with guest ESP renamed to r12, guest memory
 *    operands as gs: + address-size-32 (a non-zero segment base is added
 *    with LEA into r8/r9, flag-free), segment prefixes dropped, and
 *    encodings that mean something else in 64-bit mode rewritten (INC/DEC
 *    40-4F, opcode 82, moffs MOV, [disp32] which would be RIP-relative).
 *  - stack, call/ret, jumps, Jcc, LOOP/JECXZ, LEAVE get short host sequences
 *    that commit guest state only after their last access that can fault.
 *  - everything else calls the interpreter's handler through the callout
 *    stub (sensitive and privileged instructions end the block there; in
 *    trap mode they end the block before themselves and exit instead).
 * A translation that cannot be encoded (e.g. AH with a REX prefix) rewinds
 * and becomes a callout, so every instruction runs from the start.
 */
#include "translator/bt_priv.h"
#include "cpu/interp_priv.h"
#include <stddef.h>
#include <string.h>

enum trk {
    TK_CALLOUT = 0, TK_IDENT, TK_NOP, TK_LEA, TK_INCDEC_Z, TK_PUSH, TK_POP,
    TK_JMP, TK_JCC, TK_CALL, TK_RET, TK_JMP_EV, TK_CALL_EV, TK_LEAVE, TK_LOOP, TK_FPU, TK_RDTSC, TK_RET_LOOP,
    TK_PUSHF, TK_POPF, TK_CLI, TK_STI, TK_CLD, TK_STD, TK_PUSH_SEG, TK_STRING,
};
static uint8_t tk[OP_COUNT];

static bool in_list(const char *s, const char *const *list)
{
    for (; *list; list++) if (!strcmp(s, *list)) return true;
    return false;
}

static bool ident_type(unsigned t)
{
    switch (t) {
    case OT___: case OT_Eb: case OT_Ew: case OT_Ed: case OT_Ev: case OT_Gb: case OT_Gw: case OT_Gd:
    case OT_Gv: case OT_Ib: case OT_Ibs: case OT_Iz: case OT_Iv: case OT_Iw: case OT_AL: case OT_CL:
    case OT_AX: case OT_rAX: case OT_eAX: case OT_ONE: case OT_Zb: case OT_Zv: case OT_Ob: case OT_Ov:
    case OT_Mq:
        return true;
    default:
        return false;
    }
}

void tr_init_tables(void)
{
    static const char *const ident[] = {
        "add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test", "inc", "dec", "neg", "not",
        "mov", "movzx", "movsx", "imul", "mul", "imul1", "div", "idiv", "xchg", "cmpxchg",
        "cmpxchg8b", "xadd", "bswap", "setcc", "cmovcc", "bt", "bts", "btr", "btc", "shld", "shrd",
        "cbw", "cwd", "lahf", "sahf", "clc", "stc", "cmc", "bsf", "bsr",
        "rol", "ror", "rcl", "rcr", "shl", "shr", "sar", NULL };
    /* x87 instructions the host runs as they are (the P6's alias encodings
     * and FNENI/FNDISI/FNSETPM stay with the interpreter) */
    static const char *const x87[] = {
        "fpu_arith", "fpu_com", "fpu_comi", "fpu_ld", "fpu_st", "fpu_xch", "fpu_unary", "fpu_xam",
        "fpu_ldconst", "fpu_binary", "fpu_stackop", "fpu_cmov", "fpu_free", "fpu_nop", "fpu_ldcw",
        "fpu_stcw", "fpu_stsw", "fpu_clex", "fpu_init", "fwait", NULL };
    static const char *const x87_alias[] = {
        "FSTP1_STi", "FCOM2_STi", "FCOMP3_STi", "FCOMP5_STi", "FXCH4_STi", "FXCH7_STi", "FSTP8_STi",
        "FSTP9_STi", "FFREEP", "FNENI", "FNDISI", "FNSETPM", NULL };
    for (int op = 0; op < OP_COUNT; op++) {
        const struct opinfo *oi = &optab[op];
        const char *h = oi->handler;
        uint8_t k = TK_CALLOUT;
        bool types_ok = ident_type(oi->ot[0]) && ident_type(oi->ot[1]) && ident_type(oi->ot[2]);
        if (oi->attrs & A_FEATURES) k = TK_CALLOUT;
        else if (!strcmp(h, "nop")) k = TK_NOP;
        else if (!strcmp(h, "lea")) k = TK_LEA;
        else if (!strcmp(h, "jcc")) k = TK_JCC;
        else if (!strcmp(h, "jmp")) k = (oi->ot[0] == OT_Ev) ? TK_JMP_EV : TK_JMP;
        else if (!strcmp(h, "call")) k = (oi->ot[0] == OT_Ev) ? TK_CALL_EV : TK_CALL;
        else if (!strcmp(h, "ret")) k = TK_RET;
        else if (!strcmp(h, "leave")) k = TK_LEAVE;
        else if (!strcmp(h, "rdtsc")) k = TK_RDTSC;
        else if (!strcmp(h, "movs") || !strcmp(h, "stos")) k = TK_STRING;
        else if (!strcmp(h, "pushf")) k = TK_PUSHF;
        else if (!strcmp(h, "popf")) k = TK_POPF;
        else if (!strcmp(h, "cli")) k = TK_CLI;
        else if (!strcmp(h, "sti")) k = TK_STI;
        else if (!strcmp(h, "cld")) k = TK_CLD;
        else if (!strcmp(h, "std")) k = TK_STD;
        else if (!strcmp(h, "push") && oi->ot[0] >= OT_ES && oi->ot[0] <= OT_GS) k = TK_PUSH_SEG;
        else if (in_list(h, (const char *const[]){ "loop", "loope", "loopne", "jcxz", NULL })) k = TK_LOOP;
        else if (!strcmp(h, "push") && (oi->ot[0] == OT_Zv || oi->ot[0] == OT_Iz || oi->ot[0] == OT_Ibs ||
                                        oi->ot[0] == OT_Ev)) k = TK_PUSH;
        else if (!strcmp(h, "pop") && oi->ot[0] == OT_Zv) k = TK_POP;
        else if ((!strcmp(h, "inc") || !strcmp(h, "dec")) && oi->ot[0] == OT_Zv) k = TK_INCDEC_Z;
        else if (in_list(h, ident) && types_ok && oi->map <= 1) k = TK_IDENT;
        else if (in_list(h, x87) && !in_list(oi->name, x87_alias)) k = TK_FPU;
        tk[op] = k;
    }
}

/* ---- translation state of one block ---- */
struct tr {
    struct bt *bt;
    struct cpu *c;
    struct cbuf *b;
    struct tb *tb;
    uint32_t mode;
    uint32_t page;         /* linear page of the block                       */
    unsigned k;            /* index of the instruction being translated      */
    unsigned sync;         /* instructions before this index are in r15      */
    uint32_t eip, next;    /* guest EIP of this instruction and the next     */
    bool fpu_hooked;       /* the x87 hook was called since the block entry or
                              the last callout (which may have unloaded it) */
    bool fpu_ptr_dirty;    /* fpu_ptr is not stored yet: the guest's FIP/FOP
                              are stored once, where control can leave     */
    uint64_t fpu_ptr;      /* FIP | FOP << 32 of the last x87 insn          */
    bool fdp_valid;        /* FDP holds the offset below, and no instruction
                              since has changed a register (x87 only)      */
    int fdp_base, fdp_index;
    unsigned fdp_scale;
    int32_t fdp_disp;
};

#define OFF_FPU_FIP ((int32_t)offsetof(struct cpu, btrt.fpu_fip))
#define OFF_FPU_FDP ((int32_t)offsetof(struct cpu, btrt.fpu_fdp))
#define OFF_FPU_FOP ((int32_t)offsetof(struct cpu, btrt.fpu_fop))
#define OFF_FPU_HOOK ((int32_t)offsetof(struct cpu, btrt.fpu_hook))

/* store the pending FIP/FOP (one 8-byte store) */
static void fpu_ptr_sync(struct tr *t)
{
    if (!t->fpu_ptr_dirty) return;
    e_mov64_imm(t->b, H_R11, t->fpu_ptr);
    e_store_cpu64(t->b, H_R11, OFF_FPU_FIP);
    t->fpu_ptr_dirty = false;
}

static inline unsigned hreg(unsigned g) { return g == 4 ? H_R12 : g; }
/* host register number of a guest GPR operand (byte registers keep their
 * ModRM encoding: AL..BH are 0..7 when no REX prefix is present) */
static inline unsigned hopnd(const struct insn_opnd *o) { return o->size == 1 ? o->reg : hreg(o->reg); }

#define OFF_R(i)     ((int32_t)(offsetof(struct cpu, r) + 4 * (i)))
#define OFF_EIP      ((int32_t)offsetof(struct cpu, eip))
#define OFF_SEGBASE(s) ((int32_t)(offsetof(struct cpu, seg) + (s) * sizeof(struct seg) + offsetof(struct seg, base)))
#define OFF_EXIT_SITE ((int32_t)offsetof(struct cpu, btrt.exit_site))
#define OFF_EXIT_CODE ((int32_t)offsetof(struct cpu, btrt.exit_code))

/* ---- exits ---- */
static void exit_indirect(struct tr *t, unsigned reg, unsigned retired, const uint8_t *site);

static void exit_direct(struct tr *t, uint32_t target, unsigned retired)
{
    struct cbuf *b = t->b;
    bool chain = ((t->c->seg[SEG_CS].base + target) & ~0xFFFu) == t->page;
    if (!chain && t->c->seg[SEG_CS].base == 0) {
        /* another page, whose mapping may change: the jump cache (which
         * TLB flushes clear of what they make stale) finds the block, and
         * on a miss the run loop may chain the jump, but only into a block
         * on a global translation, and undoes that when INVLPG drops it
         * (bt.c chain_ok) */
        e_count(b, retired);
        uint8_t *site = b->p;
        e_jmp(b, b->p + 5);                       /* patched when chained */
        e8(b, 0x41); e8(b, 0xB8); e32(b, target);           /* mov r8d, target */
        exit_indirect(t, H_R8, 0, site);
        return;
    }
    e_count(b, retired);
    uint8_t *site = b->p;
    e_jmp(b, b->p + 5);                           /* patched when chained */
    e_store_cpu_imm32(b, OFF_EIP, target);
    if (chain) {
        /* lea r11, [rip + site]; mov [r13 + exit_site], r11 */
        e8(b, 0x4C); e8(b, 0x8D); e8(b, 0x1D);
        e32(b, (uint32_t)(site - (b->p + 4)));
        e_store_cpu64(b, H_R11, OFF_EXIT_SITE);
    }
    e_jmp(b, bt_stub_exit_save(t->bt));
}

/* Exit to the guest EIP in host register `reg` (r8 or r9). With a zero CS
 * base, first an inline probe of the indirect-jump cache, flag-free: the
 * entry's negated key plus (eip, mode, generation) is zero on a hit, tested
 * with JRCXZ after swapping rcx (guest ECX) with the sum. */
static void exit_indirect(struct tr *t, unsigned reg, unsigned retired, const uint8_t *site)
{
    struct cbuf *b = t->b;
    e_count(b, retired);
    e_store_cpu32(b, reg, OFF_EIP);
    if (t->c->seg[SEG_CS].base == 0) {
        if (reg != H_R8) e_mov32(b, H_R8, reg);
        /* r10 = jc_index(r8d), flag-free: bswap, lea, movzx */
        e8(b, 0x45); e8(b, 0x89); e8(b, 0xC2);                        /* mov r10d, r8d */
        e8(b, 0x41); e8(b, 0x0F); e8(b, 0xCA);                        /* bswap r10d */
        e8(b, 0x47); e8(b, 0x8D); e8(b, 0x14); e8(b, 0x02);          /* lea r10d, [r10 + r8] */
        e8(b, 0x45); e8(b, 0x0F); e8(b, 0xB7); e8(b, 0xD2);          /* movzx r10d, r10w */
        e_mov64_imm(b, H_R11, (uint64_t)(uintptr_t)bt_jc_key(t->bt));
        e8(b, 0x4F); e8(b, 0x8B); e8(b, 0x0C); e8(b, 0xD3);          /* mov r9, [r11 + r10*8] */
        e8(b, 0x4F); e8(b, 0x8D); e8(b, 0x0C); e8(b, 0x01);          /* lea r9, [r9 + r8] */
        e_mov64_imm(b, H_R11, (uint64_t)t->mode << 32);
        e8(b, 0x4F); e8(b, 0x8D); e8(b, 0x0C); e8(b, 0x19);          /* lea r9, [r9 + r11] */
        e_load_cpu64(b, H_R11, (int32_t)offsetof(struct cpu, btrt.jc_gen));
        e8(b, 0x4F); e8(b, 0x8D); e8(b, 0x0C); e8(b, 0x19);          /* lea r9, [r9 + r11] */
        e8(b, 0x49); e8(b, 0x87); e8(b, 0xC9);                        /* xchg rcx, r9 */
        e8(b, 0xE3); e8(b, 0);                                        /* jrcxz hit */
        uint8_t *jrcxz_end = b->p;
        e8(b, 0x49); e8(b, 0x87); e8(b, 0xC9);                        /* xchg rcx, r9 */
        if (site) {                          /* miss: tell the loop the patchable jump */
            e8(b, 0x4C); e8(b, 0x8D); e8(b, 0x1D);                    /* lea r11, [rip + site] */
            e32(b, (uint32_t)(site - (b->p + 4)));
            e_store_cpu64(b, H_R11, OFF_EXIT_SITE);
        }
        e_jmp(b, bt_stub_exit_save(t->bt));                           /* miss */
        jrcxz_end[-1] = (uint8_t)(b->p - jrcxz_end);
        e8(b, 0x49); e8(b, 0x87); e8(b, 0xC9);                        /* hit: xchg rcx, r9 */
        e_mov64_imm(b, H_R11, (uint64_t)(uintptr_t)bt_jc_host(t->bt));
        e8(b, 0x43); e8(b, 0xFF); e8(b, 0x24); e8(b, 0xD3);          /* jmp [r11 + r10*8] */
        return;
    }
    e_jmp(b, bt_stub_exit_save(t->bt));
}

/* ---- memory operands ---- */
struct memop { int base, index; unsigned scale; int32_t disp; };

/* Prepare guest memory operand addressing; may emit the LEA/load of a
 * based segment. false: not translatable natively. */
static bool prep_mem(struct tr *t, const struct insn *in, struct memop *m, bool no_seg)
{
    if (in->addrsize != 4) return false;
    m->base = in->base == REG_NONE ? -1 : (int)hreg(in->base);
    m->index = in->index == REG_NONE ? -1 : (int)hreg(in->index);
    m->scale = in->scale;
    m->disp = in->disp;
    if (no_seg) return true;
    unsigned cls = MODE_SEGC(t->mode, in->seg);
    if (in->seg == SEG_CS || cls == SEGC_OTHER) return false;
    if (cls == SEGC_BASED) {
        /* lea r8d, [ea]; mov r9d, [r13 + seg base]; operand = [r8 + r9] */
        e8(t->b, 0x67);
        e_rex(t->b, false, H_R8, m->index < 0 ? 0 : (unsigned)m->index, m->base < 0 ? 0 : (unsigned)m->base);
        e8(t->b, 0x8D);
        e_ea(t->b, H_R8, m->base, m->index, m->scale, m->disp);
        e_load_cpu32(t->b, H_R9, OFF_SEGBASE(in->seg));
        m->base = H_R8; m->index = H_R9; m->scale = 0; m->disp = 0;
    }
    return true;
}

static inline unsigned mem_rex_x(const struct memop *m) { return m->index < 0 ? 0 : (unsigned)m->index; }
static inline unsigned mem_rex_b(const struct memop *m) { return m->base < 0 ? 0 : (unsigned)m->base; }

/* [66] 65 67 REX opcode modrm: a host instruction on a guest memory operand
 * with host register `reg` in the ModRM reg field. */
static void e_mem_op(struct cbuf *b, bool o16, unsigned opc0, int opc1, unsigned reg, const struct memop *m)
{
    if (o16) e8(b, 0x66);
    e8(b, 0x65); e8(b, 0x67);
    e_rex(b, false, reg, mem_rex_x(m), mem_rex_b(m));
    e8(b, opc0);
    if (opc1 >= 0) e8(b, (unsigned)opc1);
    e_ea(b, reg, m->base, m->index, m->scale, m->disp);
}

/* ---- ident ---- */
static bool is_g(unsigned ot) { return ot == OT_Gb || ot == OT_Gw || ot == OT_Gd || ot == OT_Gv; }
static bool is_e(unsigned ot) { return ot == OT_Eb || ot == OT_Ew || ot == OT_Ed || ot == OT_Ev; }

/* VEX-encoded BMI2 shift (flag-free): pp 1 SHLX, 2 SARX, 3 SHRX;
 * dst = rm shifted by count (32-bit) */
static void e_bmi2_shift(struct cbuf *b, unsigned pp, unsigned dst, unsigned rm, unsigned count)
{
    e8(b, 0xC4);
    e8(b, (uint8_t)((dst >= 8 ? 0 : 0x80) | 0x40 | (rm >= 8 ? 0 : 0x20) | 0x02));   /* R X B, map 0F38 */
    e8(b, (uint8_t)(((~count & 15) << 3) | pp));                                    /* W0 vvvv L0 pp */
    e8(b, 0xF7);
    e8(b, (uint8_t)(0xC0 | (dst & 7) << 3 | (rm & 7)));
}

/* BT/BTS/BTR/BTC m32, r32 (flat data segment): the bit offset is signed
 * and reaches outside the operand (SDM vol. 2A BT: address + 4 * (offset
 * SAR 5), bit offset MOD 32), so the address is computed here, in 32 bits,
 * with flag-free BMI2 shifts, and the host instruction gets the bit number
 * alone; CF as the guest's, ZF and the rest undefined as for P6 (masked).
 * Linux's clear_bit/test_bit with a variable bit number: 90 callouts per
 * fork+wait before. */
static bool tr_bt_reg_mem(struct tr *t, const struct insn *in)
{
    if (!bt_host_bmi2(t->bt) || in->opsize != 4 || in->addrsize != 4 || in->opnd[0].kind != OPND_MEM ||
        MODE_SEGC(t->mode, in->seg) != SEGC_FLAT || in->seg == SEG_CS)
        return false;
    struct cbuf *b = t->b;
    unsigned off = hreg(in->opnd[1].reg);
    int base = in->base == REG_NONE ? -1 : (int)hreg(in->base);
    int index = in->index == REG_NONE ? -1 : (int)hreg(in->index);
    e8(b, 0x41); e8(b, 0xB9); e32(b, 5);                          /* mov r9d, 5 */
    e_bmi2_shift(b, 2, H_R8, off, H_R9);                          /* sarx r8d, off, r9d */
    e8(b, 0x67);                                                  /* lea r10d, [ea] */
    e_rex(b, false, H_R10, index < 0 ? 0 : (unsigned)index, base < 0 ? 0 : (unsigned)base);
    e8(b, 0x8D);
    e_ea(b, H_R10, base, index, in->scale, in->disp);
    e8(b, 0x47); e8(b, 0x8D); e8(b, 0x04); e8(b, 0x82);          /* lea r8d, [r10 + r8*4] */
    e8(b, 0x41); e8(b, 0xB9); e32(b, 27);                         /* mov r9d, 27 */
    e_bmi2_shift(b, 1, H_R10, off, H_R9);                         /* shlx r10d, off, r9d */
    e_bmi2_shift(b, 3, H_R10, H_R10, H_R9);                       /* shrx r10d, r10d, r9d */
    if (in->lock) e8(b, 0xF0);
    e8(b, 0x65); e8(b, 0x67); e8(b, 0x45); e8(b, 0x0F); e8(b, (uint8_t)in->opc); e8(b, 0x10);   /* btx gs:[r8d], r10d */
    return true;
}

static bool tr_ident(struct tr *t, const struct insn *in, bool lea)
{
    const struct opinfo *oi = &optab[in->op];
    int memk = -1, regk = -1, rmk = -1, zk = -1;
    bool high = false, moffs = false;
    for (int i = 0; i < in->nopnd; i++) {
        const struct insn_opnd *o = &in->opnd[i];
        unsigned ot = oi->ot[i];
        if (o->kind == OPND_MEM) { memk = i; if (ot == OT_Ob || ot == OT_Ov) moffs = true; }
        bool explicit_reg = is_g(ot) || is_e(ot) || ot == OT_Zb || ot == OT_Zv;
        if (o->kind == OPND_GPR && o->size == 1 && o->reg >= 4 && explicit_reg) high = true;
        if (o->kind == OPND_GPR && is_g(ot)) regk = i;
        if (o->kind == OPND_GPR && is_e(ot)) rmk = i;
        if (o->kind == OPND_GPR && (ot == OT_Zb || ot == OT_Zv)) zk = i;
    }
    /* 16-bit SHLD/SHRD with counts above 16 are undefined: leave them to
     * the interpreter's P6 behaviour; BTx with a register bit offset on
     * memory addresses outside the operand */
    const char *h = oi->handler;
    if (!strcmp(h, "shld") || !strcmp(h, "shrd")) { if (in->opsize == 2) return false; }
    if ((h[0] == 'b' && h[1] == 't') && memk >= 0 && in->opnd[1].kind == OPND_GPR) return tr_bt_reg_mem(t, in);
    unsigned reg_host = regk >= 0 ? hopnd(&in->opnd[regk]) : (moffs ? 0 : in->regf);
    if (!strcmp(h, "test") && (in->opc & 0xFE) == 0xF6) reg_host = 0;   /* F6/F7 /1 alias: use /0 */
    bool rex_r = reg_host >= 8;
    bool rex_b = (rmk >= 0 && hopnd(&in->opnd[rmk]) >= 8) || (zk >= 0 && hopnd(&in->opnd[zk]) >= 8);
    struct memop m = { -1, -1, 0, 0 };
    if (memk >= 0) {
        unsigned cls = MODE_SEGC(t->mode, in->seg);
        bool based = !lea && cls == SEGC_BASED;
        bool esp_base = in->base == 4;
        if (high && (based || esp_base || rex_r)) return false;
        if (!prep_mem(t, in, &m, lea)) return false;
    } else if (high && (rex_r || rex_b)) {
        return false;
    }
    struct cbuf *b = t->b;
    if (in->pfx66) e8(b, 0x66);
    if (in->lock) e8(b, 0xF0);
    if (memk >= 0) { if (!lea) e8(b, 0x65); e8(b, 0x67); }
    unsigned rm_host = rmk >= 0 ? hopnd(&in->opnd[rmk]) : 0;
    unsigned z_host = zk >= 0 ? hopnd(&in->opnd[zk]) : 0;
    e_rex(b, false, reg_host, memk >= 0 ? mem_rex_x(&m) : 0,
          memk >= 0 ? mem_rex_b(&m) : (rmk >= 0 ? rm_host : z_host));
    if (oi->map == 1) e8(b, 0x0F);
    unsigned opc = in->opc;
    if (oi->map == 0 && opc == 0x82) opc = 0x80;             /* 82 is #UD in 64-bit mode */
    if (moffs) opc = (opc == 0xA0) ? 0x8A : (opc == 0xA1) ? 0x8B : (opc == 0xA2) ? 0x88 : 0x89;
    if (zk >= 0) opc = (opc & ~7u) | (z_host & 7);
    e8(b, opc);
    if (in->has_modrm || moffs) {
        if (memk >= 0) e_ea(b, reg_host, m.base, m.index, m.scale, m.disp);
        else e8(b, 0xC0 | (reg_host & 7) << 3 | ((rmk >= 0 ? rm_host : in->rm) & 7));
    }
    e_imm(b, in->imm, in->imm_size);
    e_imm(b, in->imm2, in->imm2_size);
    return true;
}

/* ---- stack ---- */
static bool stack_ok(const struct tr *t)
{
    return MODE_SEGC(t->mode, SEG_SS) == SEGC_FLAT && (t->mode & MODE_SS32);
}

/* lea r8d, [r12 - size]; (store emitted by caller); mov r12d, r8d */
static void push_begin(struct cbuf *b, unsigned size) { e_lea32(b, H_R8, H_R12, -(int32_t)size); }
static void push_commit(struct cbuf *b) { e_mov32(b, H_R12, H_R8); }
static const struct memop at_r8 = { H_R8, -1, 0, 0 };
static const struct memop at_r12 = { H_R12, -1, 0, 0 };

static void push_imm32(struct cbuf *b, uint32_t v)
{
    push_begin(b, 4);
    e_mem_op(b, false, 0xC7, -1, 0, &at_r8);
    e32(b, v);
    push_commit(b);
}

static bool tr_push(struct tr *t, const struct insn *in)
{
    if (!stack_ok(t)) return false;
    struct cbuf *b = t->b;
    unsigned size = in->opsize;
    const struct insn_opnd *o = &in->opnd[0];
    bool o16 = size == 2;
    if (o->kind == OPND_IMM) {
        push_begin(b, size);
        e_mem_op(b, o16, 0xC7, -1, 0, &at_r8);
        e_imm(b, in->imm, size);
        push_commit(b);
        return true;
    }
    unsigned src;
    if (o->kind == OPND_GPR) src = hreg(o->reg);
    else if (o->kind == OPND_MEM) {
        struct memop m;
        if (!prep_mem(t, in, &m, false)) return false;
        e_mem_op(b, o16, 0x8B, -1, H_R9, &m);                 /* mov r9, [mem] */
        src = H_R9;
    } else return false;
    push_begin(b, size);
    e_mem_op(b, o16, 0x89, -1, src, &at_r8);
    push_commit(b);
    return true;
}

static bool tr_pop(struct tr *t, const struct insn *in)
{
    if (!stack_ok(t)) return false;
    struct cbuf *b = t->b;
    unsigned size = in->opsize, dst = hreg(in->opnd[0].reg);
    e_mem_op(b, size == 2, 0x8B, -1, H_R8, &at_r12);          /* mov r8, [r12] */
    e_lea32(b, H_R12, H_R12, (int32_t)size);
    if (size == 2) e8(b, 0x66);
    e_mov32(b, dst, H_R8);
    return true;
}

/* ---- control transfer ---- */
static unsigned retired_here(const struct tr *t) { return t->k + 1 - t->sync; }

static bool tr_branch(struct tr *t, const struct insn *in, enum trk kind)
{
    struct cbuf *b = t->b;
    uint32_t target = t->next + in->imm;             /* REL: imm is the signed displacement */
    if (in->opsize != 4) return false;               /* 16-bit IP wrap: interpreter */
    switch (kind) {
    case TK_JMP:
        exit_direct(t, target, retired_here(t));
        return true;
    case TK_JCC: {
        uint8_t *taken = e_jcc_fwd(b, in->opc & 0xF);
        exit_direct(t, t->next, retired_here(t));
        e_patch32(taken, b->p);
        exit_direct(t, target, retired_here(t));
        return true;
    }
    case TK_LOOP: {
        if (in->addrsize != 4) return false;         /* CX-based: interpreter */
        static const uint8_t loop_opc[4] = { 0xE0, 0xE1, 0xE2, 0xE3 };
        e8(b, 0x67); e8(b, loop_opc[in->opc - 0xE0]); e8(b, 0x02);   /* taken: skip the short jmp */
        e8(b, 0xEB); e8(b, 0x05);                                     /* not taken: skip the jmp */
        uint8_t *taken = b->p + 1;
        e_jmp(b, b->p + 5);
        exit_direct(t, t->next, retired_here(t));
        e_patch32(taken, b->p);
        exit_direct(t, target, retired_here(t));
        return true;
    }
    case TK_CALL:
        if (!stack_ok(t)) return false;
        push_imm32(b, t->next);
        exit_direct(t, target, retired_here(t));
        return true;
    case TK_RET: {
        if (!stack_ok(t)) return false;
        uint32_t extra = in->imm_size ? (in->imm & 0xFFFF) : 0;
        e_mem_op(b, false, 0x8B, -1, H_R8, &at_r12);          /* mov r8d, [r12] */
        e_lea32(b, H_R12, H_R12, (int32_t)(4 + extra));
        exit_indirect(t, H_R8, retired_here(t), NULL);
        return true;
    }
    case TK_JMP_EV: case TK_CALL_EV: {
        if (kind == TK_CALL_EV && !stack_ok(t)) return false;
        const struct insn_opnd *o = &in->opnd[0];
        if (o->kind == OPND_GPR) e_mov32(b, H_R9, hreg(o->reg));
        else {
            struct memop m;
            if (!prep_mem(t, in, &m, false)) return false;
            e_mem_op(b, false, 0x8B, -1, H_R9, &m);
        }
        if (kind == TK_CALL_EV) push_imm32(b, t->next);
        exit_indirect(t, H_R9, retired_here(t), NULL);
        return true;
    }
    default:
        return false;
    }
}

/* a Jcc inside a superblock: taken, leave for the target; not taken, go
 * on with the next instruction */
static bool tr_jcc_on(struct tr *t, const struct insn *in)
{
    if (in->opsize != 4) return false;
    if (in->imm == 0) return true;       /* to the next instruction either way (74 00: a NOP) */
    struct cbuf *b = t->b;
    uint8_t *skip = e_jcc_fwd(b, (in->opc & 0xF) ^ 1);          /* not taken: over the exit */
    exit_direct(t, t->next + in->imm, retired_here(t));
    e_patch32(skip, b->p);
    return true;
}

static bool tr_leave(struct tr *t, const struct insn *in)
{
    if (!stack_ok(t) || in->opsize != 4) return false;
    static const struct memop at_rbp = { H_RBP, -1, 0, 0 };
    e_mem_op(t->b, false, 0x8B, -1, H_R8, &at_rbp);   /* mov r8d, [ebp] */
    e_lea32(t->b, H_R12, H_RBP, 4);                   /* esp = ebp + 4 */
    e_mov32(t->b, H_RBP, H_R8);
    return true;
}

static bool tr_incdec_z(struct tr *t, const struct insn *in)
{
    unsigned r = hreg(in->opnd[0].reg);
    if (in->pfx66) e8(t->b, 0x66);
    e_rex(t->b, false, 0, 0, r);
    e8(t->b, 0xFF);
    e8(t->b, 0xC0 | (in->opc >= 0x48 ? 1u : 0u) << 3 | (r & 7));
    return true;
}

/* ---- the interrupt flag and EFLAGS images (VMware-style: the virtual IF
 * lives in cpu->eflags; no exit unless interrupts may become deliverable) ----
 * Everything here runs at CPL 0 (or any CPL for PUSHF, which is not
 * IOPL-sensitive outside V86), with a flat 32-bit stack. The host's own
 * RFLAGS are saved around the read-modify-write of cpu->eflags. */
#define OFF_EFLAGS ((int32_t)offsetof(struct cpu, eflags))
#define OFF_SHADOW ((int32_t)offsetof(struct cpu, intr_shadow))
#define OFF_INTR_WAITING ((int32_t)offsetof(struct cpu, btrt.intr_waiting))

static void e_pushfq_pop(struct cbuf *b, unsigned r) { e8(b, 0x9C); e_rex(b, false, 0, 0, r); e8(b, 0x58 | (r & 7)); }
static void e_push_popfq(struct cbuf *b, unsigned r) { e_rex(b, false, 0, 0, r); e8(b, 0x50 | (r & 7)); e8(b, 0x9D); }
/* and/or r32, imm32 (flags clobbered) */
static void e_alu_imm(struct cbuf *b, unsigned ext, unsigned r, uint32_t imm)
{
    e_rex(b, false, 0, 0, r); e8(b, 0x81); e8(b, 0xC0 | ext << 3 | (r & 7)); e32(b, imm);
}
/* and/or dword [r13 + off], imm32 */
static void e_alu_cpu_imm(struct cbuf *b, unsigned ext, int32_t off, uint32_t imm)
{
    e_rex(b, false, 0, 0, H_R13); e8(b, 0x81); e_ea(b, ext, H_R13, -1, 0, off); e32(b, imm);
}

static bool tr_pushf(struct tr *t, const struct insn *in)
{
    if (in->opsize != 4 || !stack_ok(t)) return false;
    struct cbuf *b = t->b;
    e_pushfq_pop(b, H_R9);                                 /* r9 = host flags */
    e_load_cpu32(b, H_R8, OFF_EFLAGS);
    e_alu_imm(b, 4, H_R8, EFLAGS_PUSHF_MASK & ~0x8D5u);    /* and: VM, RF clear; arith from the host */
    e_alu_imm(b, 4, H_R9, 0x8D5u);
    e_rex(b, false, H_R9, 0, H_R8); e8(b, 0x09); e8(b, 0xC0 | (H_R9 & 7) << 3 | (H_R8 & 7));   /* or r8d, r9d */
    e_push_popfq(b, H_R9);                                 /* guest flags back before the store */
    e_lea32(b, H_R10, H_R12, -4);
    static const struct memop at_r10 = { H_R10, -1, 0, 0 };
    e_mem_op(b, false, 0x89, -1, H_R8, &at_r10);
    e_mov32(b, H_R12, H_R10);
    return true;
}

static bool tr_cli(struct tr *t)
{
    if (MODE_CPL(t->mode) != 0) return false;
    e8(t->b, 0x9C);
    e_alu_cpu_imm(t->b, 4, OFF_EFLAGS, ~FL_IF);
    e8(t->b, 0x9D);
    return true;
}

/* RDTSC in ring 0 (CR4.TSD cannot fault there: SDM vol. 2): a direct call
 * of bt_rdtsc with the guest flags and the caller-saved guest registers
 * around it, no callout (Linux reads the TSC several times per system call) */
static bool tr_rdtsc(struct tr *t)
{
    if (MODE_CPL(t->mode) != 0) return false;
    struct cbuf *b = t->b;
    t->tb->sensitive = true;                      /* time-dependent: --check does not compare it */
    e_count(b, t->k - t->sync);                                   /* the TSC counts what ran before */
    t->sync = t->k;
    e8(b, 0x9C); e8(b, 0x51); e8(b, 0x56); e8(b, 0x57);           /* pushfq; push rcx, rsi, rdi (rsp stays 16-aligned) */
    e8(b, 0x4C); e8(b, 0x89); e8(b, 0xEF);                        /* mov rdi, r13 */
    e8(b, 0x4C); e8(b, 0x89); e8(b, 0xFE);                        /* mov rsi, r15 */
    e_mov64_imm(b, H_RAX, (uint64_t)(uintptr_t)bt_rdtsc);
    e8(b, 0xFF); e8(b, 0xD0);                                     /* call rax */
    e8(b, 0x5F); e8(b, 0x5E); e8(b, 0x59);                        /* pop rdi, rsi, rcx */
    e8(b, 0x45); e8(b, 0x31); e8(b, 0xFF);                        /* xor r15d, r15d */
    e8(b, 0x48); e8(b, 0x89); e8(b, 0xC2);                        /* mov rdx, rax */
    e8(b, 0x48); e8(b, 0xC1); e8(b, 0xEA); e8(b, 0x20);           /* shr rdx, 32 */
    e8(b, 0x89); e8(b, 0xC0);                                     /* mov eax, eax */
    e8(b, 0x9D);                                                  /* popfq */
    return true;
}

#define OFF_WINDOW ((int32_t)offsetof(struct cpu, btrt.window))

/* MOVS/STOS (REP or not) with flat DS/ES and 32-bit addresses: the host's
 * own string instruction on the shadow window, with the guest's DF: RSI/RDI
 * get the window's base added and taken off again. A host fault stops it
 * part way with ECX, RSI and RDI exact (REP is restartable: SDM vol. 2,
 * REP); a fill resumes it, any other exit takes the base off RSI/RDI and
 * the guest flags back from the host stack (flags_pushed: 1 STOS, 2 MOVS),
 * and the interpreter goes on from there. */
static bool tr_string(struct tr *t, const struct insn *in)
{
    if (bt_check_mode(t->bt) || in->addrsize != 4 || in->rep == 0xF2) return false;
    bool movs = !strcmp(optab[in->op].handler, "movs");
    unsigned src = in->seg_override == SEG_NONE ? SEG_DS : in->seg_override;
    if (MODE_SEGC(t->mode, SEG_ES) != SEGC_FLAT || (movs && MODE_SEGC(t->mode, src) != SEGC_FLAT)) return false;
    struct cbuf *b = t->b;
    t->tb->map[t->k].flags_pushed = movs ? 2 : 1;
    e8(b, 0x9C);                                                  /* pushfq */
    if (movs) { e8(b, 0x89); e8(b, 0xF6); }                       /* mov esi, esi */
    e8(b, 0x89); e8(b, 0xFF);                                     /* mov edi, edi */
    if (in->rep) { e8(b, 0x89); e8(b, 0xC9); }                    /* mov ecx, ecx */
    e_load_cpu64(b, H_R8, OFF_WINDOW);
    if (movs) { e8(b, 0x4C); e8(b, 0x01); e8(b, 0xC6); }          /* add rsi, r8 */
    e8(b, 0x4C); e8(b, 0x01); e8(b, 0xC7);                        /* add rdi, r8 */
    e_rex(b, false, 0, 0, H_R13); e8(b, 0xF7); e_ea(b, 0, H_R13, -1, 0, OFF_EFLAGS); e32(b, FL_DF);
    e8(b, 0x74); e8(b, 0x01);                                     /* jz +1 */
    e8(b, 0xFD);                                                  /* std */
    if (in->rep) e8(b, 0xF3);
    if (in->opsize == 2 && (in->opc & 1)) e8(b, 0x66);
    e8(b, in->opc);                                               /* movs/stos b/w/d */
    e8(b, 0xFC);                                                  /* cld */
    if (movs) { e8(b, 0x4C); e8(b, 0x29); e8(b, 0xC6); }          /* sub rsi, r8 */
    e8(b, 0x4C); e8(b, 0x29); e8(b, 0xC7);                        /* sub rdi, r8 */
    e8(b, 0x9D);                                                  /* popfq */
    return true;
}

/* if btrt.intr_waiting: the code emitted up to e_else_intr_waiting, which
 * must leave; else the code after it. Flag-free: JRCXZ on the flag swapped
 * into rcx (r10 is clobbered) */
static uint8_t *e_if_intr_waiting(struct cbuf *b)
{
    e8(b, 0x45); e8(b, 0x0F); e8(b, 0xB6); e_ea(b, H_R10, H_R13, -1, 0, OFF_INTR_WAITING);   /* movzx r10d, byte [..] */
    e8(b, 0x49); e8(b, 0x87); e8(b, 0xCA);                        /* xchg rcx, r10 */
    e8(b, 0xE3); e8(b, 0);                                        /* jrcxz none */
    uint8_t *none = b->p;
    e8(b, 0x49); e8(b, 0x87); e8(b, 0xCA);                        /* xchg rcx, r10 */
    return none;
}

static void e_else_intr_waiting(struct cbuf *b, uint8_t *none)
{
    none[-1] = (uint8_t)(b->p - none);
    e8(b, 0x49); e8(b, 0x87); e8(b, 0xCA);                        /* none: xchg rcx, r10 */
}

/* RET in STI's shadow: the return, then the run loop (which takes the
 * interrupts the shadow held off) if one waits, else on (Linux's syscall
 * path ends a function in STI; RET) */
static bool tr_ret_to_loop(struct tr *t, const struct insn *in)
{
    if (!stack_ok(t) || in->opsize != 4) return false;
    struct cbuf *b = t->b;
    uint32_t extra = in->imm_size ? (in->imm & 0xFFFF) : 0;
    e_mem_op(b, false, 0x8B, -1, H_R8, &at_r12);                  /* mov r8d, [r12] */
    e_lea32(b, H_R12, H_R12, (int32_t)(4 + extra));
    /* to the run loop if an interrupt waits, else on through the jump cache */
    uint8_t *none = e_if_intr_waiting(b);
    e_count(b, retired_here(t));
    e_store_cpu32(b, H_R8, OFF_EIP);
    e_jmp(b, bt_stub_exit_save(t->bt));
    e_else_intr_waiting(b, none);
    exit_indirect(t, H_R8, retired_here(t), NULL);
    return true;
}

/* CLD/STD: DF lives in cpu->eflags (the host's DF stays 0) */
static bool tr_cld_std(struct tr *t, bool set)
{
    e8(t->b, 0x9C);
    if (set) e_alu_cpu_imm(t->b, 1, OFF_EFLAGS, FL_DF);
    else e_alu_cpu_imm(t->b, 4, OFF_EFLAGS, ~FL_DF);
    e8(t->b, 0x9D);
    return true;
}

/* PUSH Sreg, 32-bit (P6): the 4-byte slot is checked for writing, only its
 * low 16 bits are written (as op_push in cpu/ops_ctl.c) */
static bool tr_push_seg(struct tr *t, const struct insn *in)
{
    if (in->opsize != 4 || !stack_ok(t) || in->opnd[0].kind != OPND_SREG) return false;
    struct cbuf *b = t->b;
    int32_t off_sel = (int32_t)(offsetof(struct cpu, seg) + in->opnd[0].reg * sizeof(struct seg) + offsetof(struct seg, sel));
    e_lea32(b, H_R8, H_R12, -4);
    e8(b, 0x9C);                                          /* or dword [r8], 0: the write check */
    e8(b, 0x65); e8(b, 0x67); e8(b, 0x41); e8(b, 0x83); e8(b, 0x08); e8(b, 0x00);
    e8(b, 0x9D);
    e8(b, 0x45); e8(b, 0x0F); e8(b, 0xB7); e_ea(b, H_R9, H_R13, -1, 0, off_sel);   /* movzx r9d, word [r13 + sel] */
    e_mem_op(b, true, 0x89, -1, H_R9, &at_r8);           /* mov word [r8], r9w */
    push_commit(b);
    return true;
}

/* exit to the run loop (never chained): interrupts may be deliverable */
static void exit_to_loop(struct tr *t, uint32_t eip)
{
    e_count(t->b, retired_here(t));
    e_store_cpu_imm32(t->b, OFF_EIP, eip);
    e_jmp(t->b, bt_stub_exit_save(t->bt));
}

/* After STI's shadow: to the run loop if an interrupt waits (bt.c keeps
 * intr_waiting; interrupts are raised only by C code, which updates it),
 * else on to `eip`. */
static void exit_if_intr_waiting(struct tr *t, uint32_t eip)
{
    uint8_t *none = e_if_intr_waiting(t->b);
    exit_to_loop(t, eip);
    e_else_intr_waiting(t->b, none);
    exit_direct(t, eip, retired_here(t));
}

/* STI: the interrupt shadow covers the next instruction. When that one is
 * in this block it runs right here and the block then leaves for the run
 * loop (no interrupt check can come between them); else the shadow is set
 * and the run loop steps the next instruction. */
static bool tr_sti(struct tr *t, bool next_in_block)
{
    if (MODE_CPL(t->mode) != 0) return false;
    struct cbuf *b = t->b;
    if (next_in_block) {
        e8(b, 0x9C);
        e_alu_cpu_imm(b, 1, OFF_EFLAGS, FL_IF);
        e8(b, 0x9D);
        return true;
    }
    e8(b, 0x9C);
    /* test dword [r13 + eflags], IF; jnz +N; mov byte [r13 + shadow], 1 */
    e_rex(b, false, 0, 0, H_R13); e8(b, 0xF7); e_ea(b, 0, H_R13, -1, 0, OFF_EFLAGS); e32(b, FL_IF);
    uint8_t *j = b->p; e8(b, 0x75); e8(b, 0);
    e_rex(b, false, 0, 0, H_R13); e8(b, 0xC6); e_ea(b, 0, H_R13, -1, 0, OFF_SHADOW); e8(b, 1);
    *(j + 1) = (uint8_t)(b->p - (j + 2));
    e_alu_cpu_imm(b, 1, OFF_EFLAGS, FL_IF);
    e8(b, 0x9D);
    exit_to_loop(t, t->next);
    return true;
}

static bool tr_popf(struct tr *t, const struct insn *in)
{
    if (MODE_CPL(t->mode) != 0 || in->opsize != 4 || !stack_ok(t)) return false;
    struct cbuf *b = t->b;
    const uint32_t m = eflags_writable(t->c, 4);    /* CPL 0, protected mode: the interpreter's set */
    e_mem_op(b, false, 0x8B, -1, H_R8, &at_r12);           /* mov r8d, [r12]: the only access */
    e_lea32(b, H_R12, H_R12, 4);
    e_load_cpu32(b, H_R9, OFF_EFLAGS);
    e_mov32(b, H_R10, H_R8);
    e_rex(b, false, H_R9, 0, H_R10); e8(b, 0x31); e8(b, 0xC0 | (H_R9 & 7) << 3 | (H_R10 & 7));  /* xor r10d, r9d */
    e_alu_imm(b, 4, H_R8, m);
    e_alu_imm(b, 4, H_R9, ~(m | FL_RF));
    e_rex(b, false, H_R8, 0, H_R9); e8(b, 0x09); e8(b, 0xC0 | (H_R8 & 7) << 3 | (H_R9 & 7));    /* or r9d, r8d */
    e_store_cpu32(b, H_R9, OFF_EFLAGS);
    /* to the run loop if TF changed, or if IF was set while an interrupt
     * waits (bt.c keeps intr_waiting: only C code raises interrupts); clearing
     * IF, or setting it with nothing pending, goes on */
    e_alu_imm(b, 4, H_R10, FL_IF | FL_TF);                 /* and: what changed */
    uint8_t *same = e_jcc_fwd(b, 0x4);                     /* jz */
    e_rex(b, false, 0, 0, H_R10); e8(b, 0xF7); e8(b, 0xC0 | (H_R10 & 7)); e32(b, FL_TF);   /* test r10d, TF */
    uint8_t *tf = e_jcc_fwd(b, 0x5);                       /* jnz */
    e_rex(b, false, 0, 0, H_R9); e8(b, 0xF7); e8(b, 0xC0 | (H_R9 & 7)); e32(b, FL_IF);     /* test r9d, IF */
    uint8_t *if_off = e_jcc_fwd(b, 0x4);                   /* jz: IF cleared */
    e_rex(b, false, 0, 0, H_R13); e8(b, 0x80); e_ea(b, 7, H_R13, -1, 0, OFF_INTR_WAITING); e8(b, 0);   /* cmp byte [..], 0 */
    uint8_t *irq = e_jcc_fwd(b, 0x5);                      /* jnz */
    e_patch32(same, b->p);
    e_patch32(if_off, b->p);
    e_alu_imm(b, 4, H_R9, 0x8D5u);
    e_push_popfq(b, H_R9);
    exit_direct(t, t->next, retired_here(t));
    e_patch32(tf, b->p);
    e_patch32(irq, b->p);
    e_alu_imm(b, 4, H_R9, 0x8D5u);
    e_push_popfq(b, H_R9);
    exit_to_loop(t, t->next);
    return true;
}

/* ---- x87 ----
 * The host FPU holds the guest's x87 state while translated code runs: the
 * hook (cpu->btrt.fpu_hook) loads it on the first x87 instruction after a
 * return from C and is a bare RET afterwards; bt.c saves it back (FNSAVE)
 * whenever translated code returns to C. The guest's FIP/FOP/FDP are kept
 * by stores beside each instruction (the host's would be host addresses). */
static bool tr_fpu(struct tr *t, const struct insn *in)
{
    if (!(t->mode & MODE_FPU)) return false;             /* #NM: the interpreter */
    if (in->mod != 3 && in->addrsize != 4) return false;
    struct cbuf *b = t->b;
    const char *h = optab[in->op].handler;
    bool control = !strcmp(h, "fpu_ldcw") || !strcmp(h, "fpu_stcw") || !strcmp(h, "fpu_stsw") ||
                   !strcmp(h, "fpu_clex") || !strcmp(h, "fpu_init") || !strcmp(h, "fwait");
    /* first the hook (loading copies cpu->fpu's pointers), then this insn's */
    if (!t->fpu_hooked) {
        e8(b, 0x41); e8(b, 0xFF); e_ea(b, 2, H_R13, -1, 0, OFF_FPU_HOOK);    /* call [r13 + fpu_hook] */
        t->fpu_hooked = true;
    }
    if (control) t->fdp_valid = false;                  /* FNSTSW AX writes a register */
    if (!strcmp(h, "fpu_init")) {                         /* FNINIT clears the pointers */
        t->fpu_ptr_dirty = false;
        e_store_cpu_imm32(b, OFF_FPU_FIP, 0);
        e_store_cpu_imm32(b, OFF_FPU_FOP, 0);
        e_store_cpu_imm32(b, OFF_FPU_FDP, 0);
    } else if (!control) {
        t->fpu_ptr = t->eip | (uint64_t)(((in->opc & 7) << 8) | in->modrm) << 32;
        t->fpu_ptr_dirty = true;
        if (in->mod != 3) {                               /* FDP: the operand's offset */
            int base = in->base == REG_NONE ? -1 : (int)hreg(in->base);
            int index = in->index == REG_NONE ? -1 : (int)hreg(in->index);
            /* (not again for the same address: FLD m; FSTP m and the like) */
            if (!(t->fdp_valid && t->fdp_base == base && t->fdp_index == index && t->fdp_scale == in->scale &&
                  t->fdp_disp == in->disp)) {
                e8(b, 0x67); e_rex(b, false, H_R11, index < 0 ? 0 : (unsigned)index, base < 0 ? 0 : (unsigned)base);
                e8(b, 0x8D); e_ea(b, H_R11, base, index, in->scale, in->disp);
                e_store_cpu32(b, H_R11, OFF_FPU_FDP);
                t->fdp_valid = true;
                t->fdp_base = base; t->fdp_index = index; t->fdp_scale = in->scale; t->fdp_disp = in->disp;
            }
        }
    }
    return tr_ident(t, in, false);
}

/* ---- callouts ---- */
static unsigned callout_kind(const struct insn *in)
{
    uint32_t a = optab[in->op].attrs;
    if (a & A_IO) return CO_IO;
    if (a & (A_PRIV | A_SENS)) return CO_SYSTEM;
    if (a & A_FPU) return CO_FPU;
    if (a & A_REP) return CO_STRING;
    if (a & A_STACK) return CO_STACK;
    return CO_OTHER;
}

static enum co_end callout_ends_block(const struct insn *in)
{
    uint32_t a = optab[in->op].attrs;
    /* loads of DS, ES, FS, GS, and INVLPG (the shadow follows it at once):
     * continue when the mode key stays */
    const char *h = optab[in->op].handler;
    if (!strcmp(h, "mov_to_cr") && in->opnd[0].reg == 3) return CO_ENDS_IF_CODE_MOVES;   /* see bt_helper */
    if ((!strcmp(h, "mov_to_seg") && in->opnd[0].reg != SEG_SS) || !strcmp(h, "invlpg") ||
        (!strcmp(h, "popseg") && in->opnd[0].reg != SEG_SS) ||
        (!strcmp(h, "lseg") && in->opc != 0xB2))
        return CO_ENDS_IF_MODE;
    if (a & (A_BRANCH | A_ENDTB | A_PRIV | A_IO)) return CO_ENDS;
    /* sensitive instructions that only read system state change no mode */
    static const char *const reads[] = { "mov_from_seg", "pushf", "sldt", "str", "sgdt", "sidt", "smsw",
                                         "lar", "lsl", "verr", "verw", "rdtsc", "rdpmc", "cpuid", NULL };
    return (a & A_SENS) && !in_list(optab[in->op].handler, reads) ? CO_ENDS : CO_GOES_ON;
}

/* MOV r16/r32, Sreg: the selector from struct cpu (zero-extended into a
 * 32-bit register, as P6 and later do: cpu/ops_ctl.c op_mov_from_seg) */
static bool tr_mov_from_seg(struct tr *t, const struct insn *in)
{
    if (in->op != OP_MOV_EvSw || in->opnd[0].kind != OPND_GPR || in->opnd[1].kind != OPND_SREG) return false;
    int32_t off = (int32_t)(offsetof(struct cpu, seg) + in->opnd[1].reg * sizeof(struct seg) + offsetof(struct seg, sel));
    unsigned g = hreg(in->opnd[0].reg);
    struct cbuf *b = t->b;
    if (in->opnd[0].size == 4) {                     /* movzx r32, word [r13 + sel] */
        e_rex(b, false, g, 0, H_R13); e8(b, 0x0F); e8(b, 0xB7); e_ea(b, g, H_R13, -1, 0, off);
    } else {                                          /* mov r16, word [r13 + sel] */
        e8(b, 0x66); e_rex(b, false, g, 0, H_R13); e8(b, 0x8B); e_ea(b, g, H_R13, -1, 0, off);
    }
    return true;
}

/* a short jump (its rel8 returned, to patch) taken unless r9 is 0; flag-free:
 * JRCXZ on r9 swapped into rcx */
static uint8_t *e_jmp_short_unless_r9_zero(struct cbuf *b)
{
    e8(b, 0x49); e8(b, 0x87); e8(b, 0xC9);                               /* xchg rcx, r9 */
    e8(b, 0xE3); e8(b, 5);                                               /* jrcxz zero */
    e8(b, 0x49); e8(b, 0x87); e8(b, 0xC9);                               /* xchg rcx, r9 */
    e8(b, 0xEB); uint8_t *rel = b->p; e8(b, 0);                          /* jmp (patched) */
    e8(b, 0x49); e8(b, 0x87); e8(b, 0xC9);                               /* zero: xchg rcx, r9 */
    return rel;
}

/* MOV DS/ES/FS/GS, r16 in ring 0: when the selector is the one the
 * register was last loaded with by a callout and its GDT entry still holds
 * the same 8 bytes (btrt.sreg_*, which bt.c keeps and clears whenever the
 * register or the GDTR changes otherwise), the load would change nothing
 * (the accessed bit is set already): skip it. Else, or on a host fault
 * reading the entry, the callout. Flag-free (JRCXZ). Returns the jump to
 * patch past the callout, or NULL when the instruction does not qualify. */
static uint8_t *sreg_fast_begin(struct tr *t, const struct insn *in, uint8_t **slow2)
{
    bool pop = in->op == OP_POP_ES || in->op == OP_POP_DS || in->op == OP_POP_FS || in->op == OP_POP_GS;
    if (MODE_CPL(t->mode) != 0) return NULL;
    if (pop ? (in->opsize != 4 || !stack_ok(t)) : (in->op != OP_MOV_SwEw || in->opnd[1].kind != OPND_GPR)) return NULL;
    unsigned s = in->opnd[0].reg;
    if (s != SEG_ES && s != SEG_DS && s != SEG_FS && s != SEG_GS) return NULL;
    struct cbuf *b = t->b;
    fpu_ptr_sync(t);
    if (pop) {                                       /* movzx r8d, word gs:[r12d] */
        e8(b, 0x65); e8(b, 0x67); e8(b, 0x45); e8(b, 0x0F); e8(b, 0xB7); e8(b, 0x04); e8(b, 0x24);
    } else {
        unsigned g = hreg(in->opnd[1].reg);
        e_rex(b, false, H_R8, 0, g); e8(b, 0x0F); e8(b, 0xB7); e8(b, 0xC0 | (H_R8 & 7) << 3 | (g & 7));  /* movzx r8d, r16 */
    }
    e_load_cpu32(b, H_R9, (int32_t)(offsetof(struct cpu, btrt.sreg_nsel) + 4 * s));
    e8(b, 0x47); e8(b, 0x8D); e8(b, 0x0C); e8(b, 0x01);                 /* lea r9d, [r9 + r8] */
    uint8_t *slow1 = e_jmp_short_unless_r9_zero(b);
    e_load_cpu32(b, H_R8, (int32_t)(offsetof(struct cpu, btrt.sreg_desc_lin) + 4 * s));
    e8(b, 0x65); e8(b, 0x67); e8(b, 0x4D); e8(b, 0x8B); e8(b, 0x08);     /* mov r9, gs:[r8d] */
    e_load_cpu64(b, H_R10, (int32_t)(offsetof(struct cpu, btrt.sreg_ndesc) + 8 * s));
    e8(b, 0x4F); e8(b, 0x8D); e8(b, 0x0C); e8(b, 0x11);                 /* lea r9, [r9 + r10] */
    *slow2 = e_jmp_short_unless_r9_zero(b);
    if (pop) e_lea32(b, H_R12, H_R12, 4);                                /* the pop's ESP += 4 */
    e_count(b, t->k - t->sync + 1);                                      /* (the callout's count, and this one) */
    e8(b, 0xE9); uint8_t *done = b->p; e32(b, 0);                        /* jmp done */
    *slow1 = (uint8_t)(b->p - (slow1 + 1));
    return done;
}

static bool tr_callout(struct tr *t, const struct insn *in)
{
    struct bt_callout *rec = bt_callout_alloc(t->bt);
    if (!rec) { t->b->full = true; return false; }
    rec->in = *in;
    rec->eip = t->eip;
    rec->next_eip = t->next;
    rec->ends_block = (uint8_t)callout_ends_block(in);
    const char *h = optab[in->op].handler;
    rec->sreg = (uint8_t)(rec->ends_block == CO_ENDS_IF_MODE && (!strcmp(h, "mov_to_seg") || !strcmp(h, "popseg"))
                          ? in->opnd[0].reg : SEG_NONE);
    rec->mode = t->mode;
    rec->code_lin = t->page;
    rec->code_phys = t->tb->phys & ~0xFFFull;
    if (rec->ends_block == CO_ENDS_IF_CODE_MOVES && t->tb->phys2 != TB_NO_PHYS2)
        rec->ends_block = CO_ENDS;                    /* two code pages */
    rec->kind = (uint8_t)callout_kind(in);
    if (rec->ends_block != CO_GOES_ON || rec->kind == CO_IO || rec->kind == CO_SYSTEM) t->tb->sensitive = true;
    fpu_ptr_sync(t);
    e_count(t->b, t->k - t->sync);
    e_mov64_imm(t->b, H_R11, (uint64_t)(uintptr_t)rec);
    e_call(t->b, bt_stub_callout(t->bt));
    t->sync = t->k + 1;
    t->fpu_hooked = false;
    if (rec->ends_block == CO_ENDS) e8(t->b, 0xCC);   /* never reached: the stub exits */
    return rec->ends_block == CO_ENDS;
}

/* exit before instruction k (trap mode: the monitor emulates it) */
static void exit_trap(struct tr *t)
{
    fpu_ptr_sync(t);
    e_count(t->b, t->k - t->sync);
    e_store_cpu_imm32(t->b, OFF_EIP, t->eip);
    e_store_cpu_imm32(t->b, OFF_EXIT_CODE, BT_EXIT_TRAP);
    e_jmp(t->b, bt_stub_exit_save(t->bt));
}

#define MAX_BLOCK_INSNS 48

/* may the instruction write memory (explicit operand, stack, string, or
 * anything the interpreter runs)? */
static bool touches_memory(const struct insn *in)
{
    uint32_t a = optab[in->op].attrs;
    if (a & (A_STACK | A_REP | A_FPU)) return true;
    for (int i = 0; i < in->nopnd; i++)
        if (in->opnd[i].kind == OPND_MEM || in->opnd[i].kind == OPND_STR_DST) return true;
    return tk[in->op] == TK_CALLOUT;
}

/* Self-check prologue: compare the block's guest code bytes (read through
 * the host's RAM mapping) with the bytes it was translated from; on a
 * difference leave with BT_EXIT_STALE. Host flags are saved around it. */
static void self_check_prologue(struct tr *t, const uint8_t *code, unsigned nbytes, const uint8_t *ram_code)
{
    struct cbuf *b = t->b;
    e8(b, 0x9C);                                              /* pushfq */
    e_mov64_imm(b, H_R11, (uint64_t)(uintptr_t)ram_code);
    uint8_t *fails[40];
    unsigned nf = 0;
    if (nbytes >= 8) {
        for (unsigned off = 0; ; off += 8) {
            if (off + 8 > nbytes) off = nbytes - 8;           /* overlapping last word */
            uint64_t v;
            memcpy(&v, code + off, 8);
            e_mov64_imm(b, H_R10, v);
            e8(b, 0x4D); e8(b, 0x3B); e_ea(b, H_R10, H_R11, -1, 0, (int32_t)off);   /* cmp r10, [r11 + off] */
            fails[nf++] = e_jcc_fwd(b, 0x5);                  /* jne fail */
            if (off + 8 >= nbytes) break;
        }
    } else {
        for (unsigned off = 0; off < nbytes; off++) {
            e8(b, 0x41); e8(b, 0x80); e_ea(b, 7, H_R11, -1, 0, (int32_t)off); e8(b, code[off]);  /* cmp byte [r11+off], imm8 */
            fails[nf++] = e_jcc_fwd(b, 0x5);
        }
    }
    e8(b, 0x9D);                                              /* popfq */
    uint8_t *over = b->p;
    e8(b, 0xEB); e8(b, 0);                                    /* jmp over the fail path */
    for (unsigned i = 0; i < nf; i++) e_patch32(fails[i], b->p);
    e8(b, 0x9D);
    e_store_cpu_imm32(b, OFF_EIP, t->c->eip);
    e_store_cpu_imm32(b, OFF_EXIT_CODE, BT_EXIT_STALE);
    e_jmp(b, bt_stub_exit_save(t->bt));
    over[1] = (uint8_t)(b->p - (over + 2));
}

struct tb *tr_block(struct bt *bt, struct cpu *c, uint32_t lin, uint64_t phys, uint64_t phys2, const uint8_t *code,
                    unsigned avail, uint32_t mode, bool self_check, bool *no_space)
{
    const uint8_t *next_page = phys2 != TB_NO_PHYS2 ? mem_ram(c->mem) + phys2 : NULL;
    *no_space = false;
    struct insn insns[MAX_BLOCK_INSNS];
    unsigned n = 0, off = 0;
    unsigned dmode = DECODE_32;
    bool crosses = false;
    /* decode first: the block's extent and instruction count */
    unsigned max = (mode & MODE_SINGLE) ? 1 : MAX_BLOCK_INSNS;
    while (n < max && off < avail) {
        int dr = decode(&insns[n], code + off, avail - off, dmode);
        if (dr == DECODE_MORE && next_page && !self_check) {
            /* an instruction that crosses into the next page: the last
             * of the block, decoded from both pages' bytes */
            uint8_t both[32];
            unsigned head = avail - off;
            memcpy(both, code + off, head);
            memcpy(both + head, next_page, 16);
            dr = decode(&insns[n], both, head + 16, dmode);
            if (dr == DECODE_OK) {
                off += insns[n].len;
                n++;
                crosses = true;
                break;
            }
        }
        if (dr != DECODE_OK) break;
        uint32_t attrs = optab[insns[n].op].attrs;
        off += insns[n].len;
        n++;
        if (!strcmp(optab[insns[n - 1].op].handler, "sti") && MODE_CPL(mode) == 0 && n < max) {
            /* one more: the instruction in STI's shadow runs in this block */
            if (off < avail && decode(&insns[n], code + off, avail - off, dmode) == DECODE_OK) {
                off += insns[n].len;
                n++;
            }
            break;
        }
        /* a Jcc does not end the block: its not-taken path goes on inline
         * (a superblock: one poll and no jump per not-taken branch) */
        bool jcc_on = tk[insns[n - 1].op] == TK_JCC && insns[n - 1].opsize == 4 && !self_check &&
                      !bt_trap_mode(bt) && !crosses;
        if ((attrs & (A_BRANCH | A_ENDTB)) && !jcc_on) break;
        if (self_check && touches_memory(&insns[n - 1])) break;   /* a store may change the code after it */
    }
    if (n == 0) return NULL;
    struct tb *tb = bt_tb_alloc(bt, n);
    struct cbuf cb;
    uint8_t *start = tb ? bt_code_alloc_begin(bt, &cb) : NULL;
    if (!start) { *no_space = true; return NULL; }
    struct tr t = { .bt = bt, .c = c, .b = &cb, .tb = tb, .mode = mode, .page = lin & ~0xFFFu };
    tb->eip = c->eip; tb->lin = lin; tb->phys = phys;
    tb->phys2 = crosses ? phys2 : TB_NO_PHYS2;
    tb->cs_base = c->seg[SEG_CS].base; tb->mode = mode;
    tb->host = start;
    tb->sensitive = false;
    tb->undef_flags = 0;
    /* poll: mov r11d, [r14 + 0] (disp32 form: 7 bytes, room for a jmp patch) */
    e8(&cb, 0x45); e8(&cb, 0x8B); e8(&cb, 0x9E); e32(&cb, 0);
    tb->self_check = self_check;
    if (self_check) self_check_prologue(&t, code, off, code);
    uint32_t eip = c->eip;
    bool ended = false, after_sti = false;
    unsigned k;
    for (k = 0; k < n && !ended; k++) {
        const struct insn *in = &insns[k];
        t.k = k;
        t.eip = eip;
        t.next = eip + in->len;
        tb->map[k] = (struct tb_insn){ .host_off = (uint32_t)(cb.p - start), .eip = eip,
                                       .pending = (uint16_t)(k - t.sync), .fpu_ptr_valid = t.fpu_ptr_dirty,
                                       .fpu_ptr = t.fpu_ptr };
        switch (tk[in->op]) {                        /* where control may leave: FIP/FOP first */
        case TK_JMP: case TK_JCC: case TK_CALL: case TK_RET: case TK_JMP_EV: case TK_CALL_EV: case TK_LOOP:
        case TK_POPF: case TK_STI:
            fpu_ptr_sync(&t);
            break;
        default:
            break;
        }
        const struct opinfo *oi = &optab[in->op];
        uint32_t attrs = oi->attrs;
        tb->undef_flags = (tb->undef_flags & ~oi->fw) | oi->fu;
        if (bt_trap_mode(bt) && (attrs & (A_SENS | A_PRIV | A_IO))) {
            tb->sensitive = true;
            exit_trap(&t);
            ended = true;
            break;
        }
        uint8_t *mark = cb.p;
        bool ok;
        if (tk[in->op] != TK_FPU) t.fdp_valid = false;    /* may change a register or FDP */
        bool shadowed = after_sti;                   /* this one is in STI's shadow */
        after_sti = false;
        unsigned kind = tk[in->op];
        if (shadowed && kind == TK_RET) kind = TK_RET_LOOP;
        else if (shadowed && !(kind == TK_IDENT || kind == TK_NOP || kind == TK_LEA || kind == TK_INCDEC_Z ||
                               kind == TK_PUSH || kind == TK_POP || kind == TK_FPU || kind == TK_PUSHF || kind == TK_CLI))
            kind = TK_CALLOUT;                       /* a jump or a system insn: through the loop */
        switch (kind) {
        case TK_RET_LOOP: ok = tr_ret_to_loop(&t, in); if (ok) ended = true; break;
        case TK_RDTSC: ok = tr_rdtsc(&t); break;
        case TK_STRING: ok = tr_string(&t, in); break;
        case TK_IDENT: ok = tr_ident(&t, in, false); break;
        case TK_LEA: ok = in->opnd[1].kind == OPND_MEM && tr_ident(&t, in, true); break;
        case TK_NOP: ok = true; break;
        case TK_FPU: ok = tr_fpu(&t, in); break;
        case TK_PUSHF: ok = tr_pushf(&t, in); break;
        case TK_CLD: ok = tr_cld_std(&t, false); break;
        case TK_STD: ok = tr_cld_std(&t, true); break;
        case TK_PUSH_SEG: ok = tr_push_seg(&t, in); break;
        case TK_CLI: ok = tr_cli(&t); break;
        case TK_STI:
            ok = tr_sti(&t, k + 1 < n);
            if (ok && k + 1 < n) after_sti = true;
            else if (ok) ended = true;
            break;
        case TK_POPF: ok = tr_popf(&t, in); if (ok) ended = true; break;
        case TK_INCDEC_Z: ok = tr_incdec_z(&t, in); break;
        case TK_PUSH: ok = tr_push(&t, in); break;
        case TK_POP: ok = tr_pop(&t, in); break;
        case TK_LEAVE: ok = tr_leave(&t, in); break;
        case TK_JCC:
            if (k + 1 < n) { ok = tr_jcc_on(&t, in); break; }   /* not the last: the block goes on */
            /* fall through */
        case TK_JMP: case TK_CALL: case TK_RET: case TK_JMP_EV: case TK_CALL_EV: case TK_LOOP:
            ok = tr_branch(&t, in, (enum trk)tk[in->op]);
            if (ok) ended = true;
            break;
        default: ok = tr_mov_from_seg(&t, in); break;
        }
        if (!ok) {
            cb.p = mark;
            tb->map[k].flags_pushed = 0;
            t.fdp_valid = false;                     /* (its store, if any, is undone) */
            uint8_t *slow2 = NULL;
            uint8_t *fast_done = sreg_fast_begin(&t, in, &slow2);
            if (slow2) *slow2 = (uint8_t)(cb.p - (slow2 + 1));
            ended = tr_callout(&t, in);   /* else the block goes on (or exits below) */
            if (fast_done) e_patch32(fast_done, cb.p);
        }
        if (shadowed && !ended) {                    /* the shadow ends: take interrupts */
            fpu_ptr_sync(&t);
            exit_if_intr_waiting(&t, t.next);
            ended = true;
        }
        eip = t.next;
    }
    if (!ended) {                                   /* fell off the end */
        fpu_ptr_sync(&t);
        t.k = k - 1;
        exit_direct(&t, eip, k - t.sync);
    }
    tb->ninsn = (uint16_t)k;
    tb->nbytes = (uint16_t)(eip - c->eip);
    tb->map[k] = (struct tb_insn){ .host_off = (uint32_t)(cb.p - start), .eip = eip };
    /* invalidation stub: the entry is patched to jump here */
    e_store_cpu_imm32(&cb, OFF_EIP, c->eip);
    e_jmp(&cb, bt_stub_exit_save(bt));
    if (cb.full) { *no_space = true; return NULL; }
    tb->host_len = (uint32_t)(cb.p - start);
    return tb;
}

/* cpu/ops_ctl.c - control transfer, stack, segment loads, interrupts.
 *
 * Owns: near and far JMP/CALL/RET, Jcc/LOOP/JCXZ, INT n/INT3/INTO/INT1/IRET,
 * PUSH/POP in every form, PUSHA/POPA, PUSHF/POPF, ENTER/LEAVE, MOV to and
 * from segment registers, LDS/LES/LFS/LGS/LSS, BOUND, CLI/STI, HLT, and
 * the real-mode half of exception delivery. Protected-mode transfers and
 * delivery go through cpu/pmode.c.
 * Near branches check the target against the CS limit before any state is
 * committed (#GP(0)); stack pops are peeked, checked, then committed.
 */
#include "cpu/interp_priv.h"
#include "cpu/pmode.h"

#define TRY(x) do { int r_ = (x); if (r_ != EXC_NONE) return r_; } while (0)

static inline uint32_t iopl(const struct cpu *c) { return (c->eflags >> 12) & 3; }

int branch_near(struct cpu *c, uint32_t target, unsigned opsize)
{
    if (opsize == 2) target &= 0xFFFF;
    if (target > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    c->eip = target;
    return EXC_NONE;
}

int op_jcc(struct cpu *c, const struct insn *in)
{
    if (!cond_true(c, in->opc & 15)) return EXC_NONE;
    return branch_near(c, c->next_eip + in->imm, in->opsize);
}

int op_jmp(struct cpu *c, const struct insn *in)
{
    uint32_t t;
    if (in->opnd[0].kind == OPND_REL) t = c->next_eip + in->imm;
    else TRY(opnd_read(c, in, 0, &t));
    return branch_near(c, t, in->opsize);
}

int op_call(struct cpu *c, const struct insn *in)
{
    uint32_t t;
    if (in->opnd[0].kind == OPND_REL) t = c->next_eip + in->imm;
    else TRY(opnd_read(c, in, 0, &t));
    if (in->opsize == 2) t &= 0xFFFF;
    if (t > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    TRY(stack_push(c, in->opsize, c->next_eip));
    c->eip = t;
    return EXC_NONE;
}

int op_ret(struct cpu *c, const struct insn *in)
{
    uint32_t t;
    TRY(stack_peek(c, 0, in->opsize, &t));
    if (in->opsize == 2) t &= 0xFFFF;
    if (t > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    uint32_t sp = sp_get(c) + in->opsize + (in->nopnd ? (in->imm & 0xFFFF) : 0);
    sp_set(c, sp);
    c->eip = t;
    return EXC_NONE;
}

static inline uint32_t count_reg(const struct cpu *c, const struct insn *in)
{
    return in->addrsize == 2 ? (c->r[R_ECX] & 0xFFFF) : c->r[R_ECX];
}

static int loop_common(struct cpu *c, const struct insn *in, int kind)
{
    uint32_t cnt = count_reg(c, in) - 1;
    if (in->addrsize == 2) cnt &= 0xFFFF;
    bool take = cnt != 0;
    if (kind == 1) take = take && (c->eflags & FL_ZF);
    if (kind == 2) take = take && !(c->eflags & FL_ZF);
    if (take) {
        uint32_t t = c->next_eip + in->imm;
        if (in->opsize == 2) t &= 0xFFFF;
        if (t > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
        c->eip = t;
    }
    reg_set(c, R_ECX, in->addrsize, cnt);
    return EXC_NONE;
}
int op_loop(struct cpu *c, const struct insn *in) { return loop_common(c, in, 0); }
int op_loope(struct cpu *c, const struct insn *in) { return loop_common(c, in, 1); }
int op_loopne(struct cpu *c, const struct insn *in) { return loop_common(c, in, 2); }

int op_jcxz(struct cpu *c, const struct insn *in)
{
    if (count_reg(c, in) != 0) return EXC_NONE;
    return branch_near(c, c->next_eip + in->imm, in->opsize);
}

/* ---- segment registers ---- */
void seg_load_real(struct cpu *c, int s, uint16_t sel)
{
    c->seg[s].sel = sel;
    c->seg[s].base = (uint32_t)sel << 4;
    if (cpu_v86(c)) {
        /* V86: every segment is a 64 KiB, DPL 3 read/write data segment */
        c->seg[s].limit = 0xFFFF;
        c->seg[s].ar = (s == SEG_CS) ? 0xFB : 0xF3;
    }
}

int seg_load(struct cpu *c, int s, uint16_t sel)
{
    if (cpu_real(c) || cpu_v86(c)) { seg_load_real(c, s, sel); return EXC_NONE; }
    return pm_load_seg(c, s, sel);
}

int op_mov_to_seg(struct cpu *c, const struct insn *in)
{
    uint32_t v;
    TRY(opnd_read(c, in, 1, &v));
    int s = in->opnd[0].reg;
    TRY(seg_load(c, s, (uint16_t)v));
    if (s == SEG_SS) c->intr_shadow = 1;
    return EXC_NONE;
}

int op_mov_from_seg(struct cpu *c, const struct insn *in)
{
    uint32_t v = c->seg[in->opnd[1].reg].sel;
    if (in->opnd[0].kind == OPND_MEM) return mem_wr(c, in->seg, insn_ea(c, in), 2, v);
    reg_set(c, in->opnd[0].reg, in->opnd[0].size, v);   /* 32-bit: zero-extended (P6) */
    return EXC_NONE;
}

int op_lseg(struct cpu *c, const struct insn *in)
{
    static const int8_t seg_of[] = { [0xC4] = SEG_ES, [0xC5] = SEG_DS, [0xB2] = SEG_SS,
                                     [0xB4] = SEG_FS, [0xB5] = SEG_GS };
    int s = seg_of[in->opc];
    uint32_t ea = insn_ea(c, in), off, sel;
    TRY(mem_rd(c, in->seg, ea, in->opsize, &off));
    uint32_t ea2 = ea + in->opsize;
    if (in->addrsize == 2) ea2 &= 0xFFFF;
    TRY(mem_rd(c, in->seg, ea2, 2, &sel));
    TRY(seg_load(c, s, (uint16_t)sel));
    reg_set(c, in->opnd[0].reg, in->opsize, off);
    if (s == SEG_SS) c->intr_shadow = 1;
    return EXC_NONE;
}

/* ---- push and pop ---- */
int op_push(struct cpu *c, const struct insn *in)
{
    uint32_t v;
    TRY(opnd_read(c, in, 0, &v));
    if (in->opnd[0].kind == OPND_SREG && in->opsize == 4) {
        /* P6: a 16-bit move into the 4-byte slot; the upper half is untouched */
        uint32_t sp = sp_get(c) - 4;
        if (stack_size(c) == 2) sp &= 0xFFFF;
        TRY(mem_probe_wr(c, SEG_SS, sp, 4));
        TRY(mem_wr(c, SEG_SS, sp, 2, v));
        sp_set(c, sp);
        return EXC_NONE;
    }
    return stack_push(c, in->opsize, v);
}

int op_pop(struct cpu *c, const struct insn *in)
{
    uint32_t v;
    unsigned size = in->opsize;
    TRY(stack_peek(c, 0, size, &v));
    uint32_t old_esp = c->r[R_ESP];
    sp_set(c, sp_get(c) + size);
    if (in->opnd[0].kind == OPND_MEM) {
        /* the address is computed with the incremented ESP (SDM vol. 2 POP) */
        int r = opnd_write(c, in, 0, v);
        if (r != EXC_NONE) { c->r[R_ESP] = old_esp; return r; }
        return EXC_NONE;
    }
    reg_set(c, in->opnd[0].reg, size, v);     /* POP ESP: the popped value wins */
    return EXC_NONE;
}

int op_popseg(struct cpu *c, const struct insn *in)
{
    uint32_t v;
    TRY(stack_peek(c, 0, in->opsize, &v));
    int s = in->opnd[0].reg;
    TRY(seg_load(c, s, (uint16_t)v));
    sp_set(c, sp_get(c) + in->opsize);
    if (s == SEG_SS) c->intr_shadow = 1;
    return EXC_NONE;
}

/* PUSHA/POPA: every slot is checked before anything is written */
int op_pusha(struct cpu *c, const struct insn *in)
{
    unsigned size = in->opsize;
    uint32_t sp = sp_get(c), addr[8];
    bool s16 = stack_size(c) == 2;
    for (int i = 0; i < 8; i++) {
        addr[i] = sp - (uint32_t)(i + 1) * size;
        if (s16) addr[i] &= 0xFFFF;
        TRY(mem_probe_wr(c, SEG_SS, addr[i], size));
    }
    uint32_t old_sp = c->r[R_ESP];
    for (int i = 0; i < 8; i++)
        TRY(mem_wr(c, SEG_SS, addr[i], size, i == R_ESP ? old_sp : c->r[i]));
    sp_set(c, sp - 8 * size);
    return EXC_NONE;
}

int op_popa(struct cpu *c, const struct insn *in)
{
    unsigned size = in->opsize;
    uint32_t v[8];
    for (int i = 0; i < 8; i++) TRY(stack_peek(c, (uint32_t)i * size, size, &v[i]));
    for (int i = 0; i < 8; i++)
        if (7 - i != R_ESP) reg_set(c, 7 - i, size, v[i]);
    sp_set(c, sp_get(c) + 8 * size);
    return EXC_NONE;
}

/* PUSHF: the image has VM and RF clear (SDM vol. 2 PUSHF). V86 needs IOPL 3. */
int op_pushf(struct cpu *c, const struct insn *in)
{
    if (cpu_v86(c) && iopl(c) < 3) return fault(c, EXC_GP, 0);
    return stack_push(c, in->opsize, c->eflags & EFLAGS_PUSHF_MASK);
}

/* The EFLAGS bits POPF/IRET may change in this mode and privilege. */
uint32_t eflags_writable(const struct cpu *c, unsigned opsize)
{
    uint32_t m = FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_TF | FL_DF | FL_OF | FL_NT;
    bool pm = !cpu_real(c);
    if (!pm || c->cpl == 0) m |= FL_IOPL;
    if (!pm || c->cpl <= (int)iopl(c)) m |= FL_IF;
    if (cpu_v86(c)) m = (m & ~FL_IOPL) | FL_IF;     /* IOPL is 3 here */
    if (opsize == 4) m |= FL_AC | FL_ID;
    return m;
}

int op_popf(struct cpu *c, const struct insn *in)
{
    if (cpu_v86(c) && iopl(c) < 3) return fault(c, EXC_GP, 0);
    uint32_t v;
    TRY(stack_pop(c, in->opsize, &v));
    uint32_t m = eflags_writable(c, in->opsize);
    if (in->opsize == 2) m &= 0xFFFF;
    c->eflags = (c->eflags & ~m) | (v & m);
    if (in->opsize == 4) c->eflags &= ~FL_RF;
    c->eflags = (c->eflags & 0x003F7FD7u) | EFLAGS_FIXED1;
    return EXC_NONE;
}

/* ENTER (SDM vol. 2): Push(EBP); for i = 1 .. level-1 { EBP -= size;
 * Push([EBP]) }; Push(FrameTemp); EBP = FrameTemp; ESP -= alloc. The pushes
 * are sequential, so a nested copy may read bytes pushed a moment before.
 * We build the new frame in a local image (img[0] is the byte at the lowest
 * new slot), let each copy read through it, check every slot, then commit. */
int op_enter(struct cpu *c, const struct insn *in)
{
    unsigned size = in->opsize, level = in->imm2 & 31;
    uint32_t alloc = in->imm & 0xFFFF;
    bool s16 = stack_size(c) == 2;
    uint32_t smask = s16 ? 0xFFFF : 0xFFFFFFFFu;
    uint32_t sp = sp_get(c), bp = s16 ? (c->r[R_EBP] & 0xFFFF) : c->r[R_EBP];
    unsigned npush = level ? level + 1 : 1;
    unsigned total = npush * size;                 /* bytes of the new frame */
    uint32_t low = (sp - total) & smask;           /* address of img[0] */
    uint8_t img[33 * 4];
    unsigned written = 0;                          /* bytes pushed so far (from the top) */
#define ENTER_PUSH(v) do { uint32_t v_ = (v); unsigned at_ = total - written - size; \
        for (unsigned b_ = 0; b_ < size; b_++) img[at_ + b_] = (uint8_t)(v_ >> (8 * b_)); \
        written += size; } while (0)
    ENTER_PUSH(reg_get(c, R_EBP, size));
    uint32_t frame = (sp - size) & smask;
    if (level > 0) {
        for (unsigned i = 1; i < level; i++) {
            bp = (bp - size) & smask;
            uint32_t v;
            TRY(mem_rd(c, SEG_SS, bp, size, &v));
            for (unsigned b = 0; b < size; b++) {          /* bytes already pushed win */
                uint32_t off = (bp + b - low) & smask;
                if (off < total && off >= total - written)
                    v = (v & ~(0xFFu << (8 * b))) | ((uint32_t)img[off] << (8 * b));
            }
            ENTER_PUSH(v);
        }
        ENTER_PUSH(frame);
    }
#undef ENTER_PUSH
    for (unsigned i = 0; i < npush; i++) TRY(mem_probe_wr(c, SEG_SS, (sp - (i + 1) * size) & smask, size));
    uint32_t new_sp = (sp - total - alloc) & smask;
    if (alloc) TRY(mem_probe_wr(c, SEG_SS, new_sp, size));    /* an operand-sized probe of the new top */
    for (unsigned i = 0; i < npush; i++) {
        uint32_t at = total - (i + 1) * size, v = 0;
        for (unsigned b = 0; b < size; b++) v |= (uint32_t)img[at + b] << (8 * b);
        TRY(mem_wr(c, SEG_SS, (sp - (i + 1) * size) & smask, size, v));
    }
    reg_set(c, R_EBP, size, frame);
    sp_set(c, new_sp);
    return EXC_NONE;
}

int op_leave(struct cpu *c, const struct insn *in)
{
    uint32_t bp = stack_size(c) == 2 ? (c->r[R_EBP] & 0xFFFF) : c->r[R_EBP], v;
    TRY(mem_rd(c, SEG_SS, bp, in->opsize, &v));
    sp_set(c, bp + in->opsize);
    reg_set(c, R_EBP, in->opsize, v);
    return EXC_NONE;
}

int op_bound(struct cpu *c, const struct insn *in)
{
    unsigned size = in->opsize;
    uint32_t ea = insn_ea(c, in), lo, hi;
    TRY(mem_rd(c, in->seg, ea, size, &lo));
    uint32_t ea2 = ea + size;
    if (in->addrsize == 2) ea2 &= 0xFFFF;
    TRY(mem_rd(c, in->seg, ea2, size, &hi));
    int32_t idx = size == 2 ? (int16_t)reg_get(c, in->opnd[0].reg, 2) : (int32_t)c->r[in->opnd[0].reg];
    int32_t l = size == 2 ? (int16_t)lo : (int32_t)lo, h = size == 2 ? (int16_t)hi : (int32_t)hi;
    if (idx < l || idx > h) return fault_noerr(c, EXC_BR);
    return EXC_NONE;
}

/* ---- far transfers ---- */
int far_jump(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize)
{
    if (!cpu_real(c) && !cpu_v86(c)) return pm_far_jump(c, sel, off, opsize);
    if (opsize == 2) off &= 0xFFFF;
    if (off > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    seg_load_real(c, SEG_CS, sel);
    c->eip = off;
    return EXC_NONE;
}

static int far_target(struct cpu *c, const struct insn *in, uint16_t *sel, uint32_t *off)
{
    if (in->opnd[0].kind == OPND_FAR) { *sel = (uint16_t)in->imm2; *off = in->imm; return EXC_NONE; }
    uint32_t ea = insn_ea(c, in), o, s;
    TRY(mem_rd(c, in->seg, ea, in->opsize, &o));
    uint32_t ea2 = ea + in->opsize;
    if (in->addrsize == 2) ea2 &= 0xFFFF;
    TRY(mem_rd(c, in->seg, ea2, 2, &s));
    *sel = (uint16_t)s; *off = o;
    return EXC_NONE;
}

int op_jmpf(struct cpu *c, const struct insn *in)
{
    uint16_t sel; uint32_t off;
    TRY(far_target(c, in, &sel, &off));
    return far_jump(c, sel, off, in->opsize);
}

int op_callf(struct cpu *c, const struct insn *in)
{
    uint16_t sel; uint32_t off;
    TRY(far_target(c, in, &sel, &off));
    if (!cpu_real(c) && !cpu_v86(c)) return pm_far_call(c, sel, off, in->opsize);
    unsigned size = in->opsize;
    if (size == 2) off &= 0xFFFF;
    if (off > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    uint32_t sp = sp_get(c);
    bool s16 = stack_size(c) == 2;
    uint32_t a1 = (sp - size) & (s16 ? 0xFFFF : ~0u), a2 = (sp - 2 * size) & (s16 ? 0xFFFF : ~0u);
    TRY(mem_probe_wr(c, SEG_SS, a1, size));
    TRY(mem_probe_wr(c, SEG_SS, a2, size));
    TRY(mem_wr(c, SEG_SS, a1, size, c->seg[SEG_CS].sel));
    TRY(mem_wr(c, SEG_SS, a2, size, c->next_eip));
    sp_set(c, a2);
    seg_load_real(c, SEG_CS, sel);
    c->eip = off;
    return EXC_NONE;
}

int op_retf(struct cpu *c, const struct insn *in)
{
    uint32_t imm = in->nopnd ? (in->imm & 0xFFFF) : 0;
    if (!cpu_real(c) && !cpu_v86(c)) return pm_far_ret(c, in->opsize, imm);
    unsigned size = in->opsize;
    uint32_t off, sel;
    TRY(stack_peek(c, 0, size, &off));
    TRY(stack_peek(c, size, size, &sel));
    if (size == 2) off &= 0xFFFF;
    if (off > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    sp_set(c, sp_get(c) + 2 * size + imm);
    seg_load_real(c, SEG_CS, (uint16_t)sel);
    c->eip = off;
    return EXC_NONE;
}

/* ---- interrupts ---- */
int op_int(struct cpu *c, const struct insn *in)
{
    if (cpu_v86(c) && iopl(c) < 3) return fault(c, EXC_GP, 0);
    int r = cpu_deliver(c, in->imm & 0xFF, false, 0, true, c->next_eip);
    return r >= 256 ? r : EXC_NONE;
}

int op_int3(struct cpu *c, const struct insn *in)
{
    (void)in;
    int r = cpu_deliver(c, EXC_BP, false, 0, true, c->next_eip);
    return r >= 256 ? r : EXC_NONE;
}

int op_into(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (!(c->eflags & FL_OF)) return EXC_NONE;
    int r = cpu_deliver(c, EXC_OF, false, 0, true, c->next_eip);
    return r >= 256 ? r : EXC_NONE;
}

int op_int1(struct cpu *c, const struct insn *in)
{
    (void)in;
    int r = cpu_deliver(c, EXC_DB, false, 0, false, c->next_eip);
    return r >= 256 ? r : EXC_NONE;
}

int op_iret(struct cpu *c, const struct insn *in)
{
    unsigned size = in->opsize;
    if (cpu_v86(c) && iopl(c) < 3) return fault(c, EXC_GP, 0);
    if (!cpu_real(c) && !cpu_v86(c)) return pm_iret(c, size);
    uint32_t ip, cs, fl;
    TRY(stack_peek(c, 0, size, &ip));
    TRY(stack_peek(c, size, size, &cs));
    TRY(stack_peek(c, 2 * size, size, &fl));
    if (size == 2) ip &= 0xFFFF;
    if (ip > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    uint32_t m;
    if (cpu_v86(c)) m = eflags_writable(c, size);
    else m = size == 4 ? 0x00257FD5u : 0x7FD5u;       /* SDM vol. 2 IRET, real mode */
    if (size == 2) m &= 0xFFFF;
    sp_set(c, sp_get(c) + 3 * size);
    seg_load_real(c, SEG_CS, (uint16_t)cs);
    c->eip = ip;
    c->eflags = ((c->eflags & ~m) | (fl & m) | EFLAGS_FIXED1) & 0x003F7FD7u;
    return EXC_NONE;
}

/* Deliver an interrupt or exception. Real mode: push FLAGS, CS, IP and
 * load CS:IP from the IVT; IF, TF and AC are cleared (SDM vol. 3 sec. 20.1.4).
 * A failure while delivering shuts the processor down (EXIT_RESET). */
int cpu_deliver(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_sw, uint32_t ret_eip)
{
    if (!cpu_real(c)) return pm_deliver(c, vec, has_err, err, is_sw, ret_eip);
    (void)has_err; (void)err; (void)is_sw;
    c->halted = false;
    if ((uint32_t)vec * 4 + 3 > c->idtr.limit) return EXIT_RESET;
    uint64_t ent;
    if (lin_read(c, c->idtr.base + (uint32_t)vec * 4, 4, &ent, false) != EXC_NONE) return EXIT_RESET;
    uint32_t sp = sp_get(c);
    bool s16 = stack_size(c) == 2;
    uint32_t msk = s16 ? 0xFFFF : ~0u;
    uint32_t a[3] = { (sp - 2) & msk, (sp - 4) & msk, (sp - 6) & msk };
    uint32_t v[3] = { c->eflags & 0xFFFF, c->seg[SEG_CS].sel, ret_eip & 0xFFFF };
    for (int i = 0; i < 3; i++)
        if (mem_probe_wr(c, SEG_SS, a[i], 2) != EXC_NONE) return EXIT_RESET;
    for (int i = 0; i < 3; i++)
        if (mem_wr(c, SEG_SS, a[i], 2, v[i]) != EXC_NONE) return EXIT_RESET;
    sp_set(c, a[2]);
    seg_load_real(c, SEG_CS, (uint16_t)(ent >> 16));
    c->eip = (uint32_t)ent & 0xFFFF;
    c->eflags &= ~(FL_IF | FL_TF | FL_AC | FL_RF);
    return EXC_NONE;
}

int op_cli(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (!cpu_real(c) && (int)iopl(c) < (cpu_v86(c) ? 3 : c->cpl)) return fault(c, EXC_GP, 0);
    c->eflags &= ~FL_IF;
    return EXC_NONE;
}

int op_sti(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (!cpu_real(c) && (int)iopl(c) < (cpu_v86(c) ? 3 : c->cpl)) return fault(c, EXC_GP, 0);
    if (!(c->eflags & FL_IF)) c->intr_shadow = 1;     /* STI shadow (SDM vol. 2 STI) */
    c->eflags |= FL_IF;
    return EXC_NONE;
}

int op_hlt(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (!cpu_real(c) && c->cpl != 0) return fault(c, EXC_GP, 0);
    c->halted = true;
    return EXIT_HLT;
}

/* cpu/pmode.c - protected-mode segmentation, privilege and control transfer.
 *
 * Owns (issue 4): segment-register loads with every check (SDM vol. 3
 * sec. 5.5-5.8, vol. 2 MOV/POP/LDS), far JMP/CALL/RET directly to code
 * segments, through call gates (with the inner stack from the TSS and the
 * parameter copy) and to TSSs/task gates, IRET (same and outer privilege,
 * to V86 mode, task return through the link field), SYSENTER/SYSEXIT and the
 * protected-mode-only instructions (LLDT LTR SLDT STR LAR LSL VERR VERW ARPL).
 * Delivery through the IDT and hardware task switches live in cpu/pm_task.c.
 * Invariants: every check is made and every descriptor read before any
 * register is written; cpu->cpl always equals CS.RPL after a transfer
 * (3 in V86 mode); a failed check returns the vector with cpu->exc_err set
 * to the architectural error code (selector & ~3, or 0).
 */
#include "cpu/pmode.h"
#include "cpu/pm_priv.h"

#define TRY(x) do { int r_ = (x); if (r_ != EXC_NONE) return r_; } while (0)

/* ---- descriptors ---- */
int pm_desc_read(struct cpu *c, uint16_t sel, uint64_t *d, uint32_t *addr, int vec)
{
    uint32_t base, limit;
    if (sel & 4) {
        if (!(c->ldtr.ar & AR_P) || (c->ldtr.sel & 0xFFFC) == 0) return fault(c, vec, sel & 0xFFFC);
        base = c->ldtr.base; limit = c->ldtr.limit;
    } else {
        base = c->gdtr.base; limit = c->gdtr.limit;
    }
    uint32_t idx = sel & 0xFFF8u;
    if (idx + 7 > limit) return fault(c, vec, sel & 0xFFFC);
    TRY(lin_read(c, base + idx, 8, d, false));
    if (addr) *addr = base + idx;
    return EXC_NONE;
}

/* Set the accessed bit (descriptor bit 40) in memory, as the processor does
 * on every segment load (SDM vol. 3 sec. 3.4.5.1). */
int pm_desc_set_accessed(struct cpu *c, uint32_t addr, uint64_t d)
{
    if (d & (1ull << 40)) return EXC_NONE;
    return lin_write(c, addr + 5, 1, (uint8_t)((d >> 40) | 1), false);
}

struct seg pm_desc_seg(uint16_t sel, uint64_t d)
{
    struct seg s;
    s.sel = sel;
    s.base = (uint32_t)((d >> 16) & 0xFFFFFF) | (uint32_t)((d >> 32) & 0xFF000000u);
    uint32_t l = (uint32_t)(d & 0xFFFF) | (uint32_t)((d >> 32) & 0xF0000);
    if (d & (1ull << 55)) l = (l << 12) | 0xFFF;
    s.limit = l;
    s.ar = (uint16_t)(((d >> 40) & 0xFF) | (((d >> 52) & 0xF) << 8));
    if (s.ar & AR_S) s.ar |= 1;          /* code/data: the load sets accessed */
    return s;
}

/* A null selector loaded into DS/ES/FS/GS: the register is unusable (P=0). */
void pm_seg_null(struct seg *s, uint16_t sel)
{
    s->sel = sel; s->base = 0; s->limit = 0; s->ar = 0;
}

bool pm_lim_ok(const struct seg *sg, uint32_t off, unsigned size)
{
    uint32_t last = off + size - 1;
    if (last < off) return false;
    if (sg->ar & 0x10 && (sg->ar & 0x0C) == 0x04) {      /* expand-down data */
        uint32_t upper = (sg->ar & AR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
        return off > sg->limit && last <= upper;
    }
    return last <= sg->limit;
}

/* ---- a stack that is not (yet) SS: pushes on the target of a transfer ---- */
void pm_stk_init(struct pm_stk *st, const struct seg *ss, uint32_t esp, int cpl, uint32_t err)
{
    st->ss = *ss;
    st->esp = esp;
    st->user = cpl == 3;
    st->err = err;
}

static inline uint32_t stk_sp(const struct pm_stk *st)
{
    return (st->ss.ar & AR_DB) ? st->esp : (st->esp & 0xFFFF);
}

/* Check that `bytes` below SP are inside the limit and mapped writable. */
int pm_stk_room(struct cpu *c, const struct pm_stk *st, uint32_t bytes)
{
    uint32_t sp = stk_sp(st) - bytes;
    if (!(st->ss.ar & AR_DB)) sp &= 0xFFFF;
    if (bytes && !pm_lim_ok(&st->ss, sp, bytes)) return fault(c, EXC_SS, st->err);
    /* top down, so a #PF reports the address the first push would touch */
    for (uint32_t top = bytes; top > 0;) {
        unsigned n = top < 4 ? top : 4;
        top -= n;
        uint32_t off = sp + top;
        if (!(st->ss.ar & AR_DB)) off &= 0xFFFF;
        TRY(lin_probe_write(c, st->ss.base + off, n, st->user));
    }
    return EXC_NONE;
}

int pm_stk_push(struct cpu *c, struct pm_stk *st, unsigned size, uint32_t v)
{
    uint32_t sp = stk_sp(st) - size;
    if (!(st->ss.ar & AR_DB)) sp &= 0xFFFF;
    if (!pm_lim_ok(&st->ss, sp, size)) return fault(c, EXC_SS, st->err);
    TRY(lin_write(c, st->ss.base + sp, size, v, st->user));
    if (st->ss.ar & AR_DB) st->esp = sp;
    else st->esp = (st->esp & 0xFFFF0000u) | sp;
    return EXC_NONE;
}

/* Make the stack current: SS cache and ESP. */
void pm_stk_commit(struct cpu *c, const struct pm_stk *st)
{
    c->seg[SEG_SS] = st->ss;
    c->r[R_ESP] = st->esp;
}

/* ---- segment-register loads: MOV/POP/LxS (SDM vol. 2 MOV, vol. 3 sec. 5.6) ---- */
static int load_data_seg(struct cpu *c, int s, uint16_t sel, int vec_gp, int vec_np, int cpl, struct seg *out,
                         uint32_t *addr, uint64_t *dout)
{
    uint64_t d;
    TRY(pm_desc_read(c, sel, &d, addr, vec_gp));
    struct seg n = pm_desc_seg(sel, d);
    unsigned dpl = AR_DPL(n.ar), rpl = sel & 3;
    bool sys = !(n.ar & AR_S), code = n.ar & 0x08;
    if (s == SEG_SS) {
        if (rpl != (unsigned)cpl || sys || code || !(n.ar & 0x02) || dpl != (unsigned)cpl)
            return fault(c, vec_gp, sel & 0xFFFC);
        if (!(n.ar & AR_P)) return fault(c, EXC_SS, sel & 0xFFFC);
    } else {
        if (sys || (code && !(n.ar & 0x02))) return fault(c, vec_gp, sel & 0xFFFC);
        bool conforming = code && (n.ar & 0x04);
        if (!conforming && (rpl > dpl || (unsigned)cpl > dpl)) return fault(c, vec_gp, sel & 0xFFFC);
        if (!(n.ar & AR_P)) return fault(c, vec_np, sel & 0xFFFC);
    }
    *out = n;
    *dout = d;
    return EXC_NONE;
}

int pm_load_seg(struct cpu *c, int s, uint16_t sel)
{
    if ((sel & 0xFFFC) == 0) {
        if (s == SEG_SS || s == SEG_CS) return fault(c, EXC_GP, 0);
        pm_seg_null(&c->seg[s], sel);
        return EXC_NONE;
    }
    struct seg n; uint32_t addr; uint64_t d;
    TRY(load_data_seg(c, s, sel, EXC_GP, EXC_NP, c->cpl, &n, &addr, &d));
    TRY(pm_desc_set_accessed(c, addr, d));
    c->seg[s] = n;
    return EXC_NONE;
}

/* Load a data segment register while switching tasks: #TS instead of #GP. */
int pm_load_seg_ts(struct cpu *c, int s, uint16_t sel)
{
    if ((sel & 0xFFFC) == 0) {
        if (s == SEG_SS) return fault(c, EXC_TS, sel & 0xFFFC);
        pm_seg_null(&c->seg[s], sel);
        return EXC_NONE;
    }
    struct seg n; uint32_t addr; uint64_t d;
    TRY(load_data_seg(c, s, sel, EXC_TS, EXC_NP, c->cpl, &n, &addr, &d));
    TRY(pm_desc_set_accessed(c, addr, d));
    c->seg[s] = n;
    return EXC_NONE;
}

/* Return to an outer level: data registers the new CPL may not use are
 * nulled (SDM vol. 2 RET/IRET "return to outer privilege level"). */
static void null_outer_segs(struct cpu *c)
{
    static const int regs[4] = { SEG_ES, SEG_DS, SEG_FS, SEG_GS };
    for (int i = 0; i < 4; i++) {
        struct seg *s = &c->seg[regs[i]];
        if (!(s->ar & AR_P) && (s->sel & 0xFFFC) == 0) continue;
        bool conf_code = (s->ar & 0x1C) == 0x1C;
        if (!conf_code && (int)AR_DPL(s->ar) < c->cpl) pm_seg_null(s, 0);
    }
}

/* Load CS for a transfer: cache from the descriptor, RPL = cpl. */
void pm_set_cs(struct cpu *c, uint16_t sel, uint64_t d, int cpl, uint32_t eip)
{
    c->seg[SEG_CS] = pm_desc_seg((uint16_t)((sel & 0xFFFC) | cpl), d);
    c->cpl = cpl;
    c->eip = eip;
}

/* Checks shared by JMP and CALL to a code segment (SDM vol. 2 JMP/CALL). */
static int check_code_direct(struct cpu *c, uint16_t sel, uint64_t d)
{
    struct seg n = pm_desc_seg(sel, d);
    unsigned dpl = AR_DPL(n.ar), rpl = sel & 3;
    if (n.ar & 0x04) { if (dpl > (unsigned)c->cpl) return fault(c, EXC_GP, sel & 0xFFFC); }
    else if (rpl > (unsigned)c->cpl || dpl != (unsigned)c->cpl) return fault(c, EXC_GP, sel & 0xFFFC);
    if (!(n.ar & AR_P)) return fault(c, EXC_NP, sel & 0xFFFC);
    return EXC_NONE;
}

/* Task gate or TSS as the target of JMP/CALL: privilege, type, presence;
 * returns the TSS selector and descriptor to switch to. */
static int resolve_task(struct cpu *c, uint16_t sel, uint64_t d, uint16_t *tsel, uint64_t *td, uint32_t *taddr)
{
    unsigned dpl = (unsigned)((d >> 45) & 3), rpl = sel & 3;
    unsigned type = (unsigned)((d >> 40) & 0xF);
    if (dpl < (unsigned)c->cpl || rpl > dpl) return fault(c, EXC_GP, sel & 0xFFFC);
    if (type == 5) {
        if (!(d & (1ull << 47))) return fault(c, EXC_NP, sel & 0xFFFC);
        sel = (uint16_t)(d >> 16);
        if (sel & 4) return fault(c, EXC_GP, sel & 0xFFFC);
        TRY(pm_desc_read(c, sel, &d, taddr, EXC_GP));
        type = (unsigned)((d >> 40) & 0x1F);
        if (type != 0x09 && type != 0x01) return fault(c, EXC_GP, sel & 0xFFFC);
    } else {
        if ((type & 2)) return fault(c, EXC_GP, sel & 0xFFFC);          /* busy */
    }
    if (!(d & (1ull << 47))) return fault(c, EXC_NP, sel & 0xFFFC);
    *tsel = sel; *td = d;
    return EXC_NONE;
}

/* Inner stack for privilege level `dpl` from the current TSS
 * (SDM vol. 3 sec. 5.8.5, 6.12.1): SS checks raise #TS, presence #SS. */
int pm_inner_stack(struct cpu *c, unsigned dpl, struct seg *ss_out, uint32_t *esp_out, uint32_t *ss_addr,
                   uint64_t *ss_desc)
{
    bool t32 = (c->tr.ar & 0x08) != 0;
    uint32_t off = t32 ? 4 + 8 * dpl : 2 + 4 * dpl;
    uint32_t esz = t32 ? 4 : 2;
    if (off + esz + 1 > c->tr.limit) return fault(c, EXC_TS, c->tr.sel & 0xFFFC);
    uint64_t esp, ssv;
    TRY(lin_read(c, c->tr.base + off, esz, &esp, false));
    TRY(lin_read(c, c->tr.base + off + esz, 2, &ssv, false));
    uint16_t sel = (uint16_t)ssv;
    if ((sel & 0xFFFC) == 0) return fault(c, EXC_TS, 0);
    if ((sel & 3) != dpl) return fault(c, EXC_TS, sel & 0xFFFC);
    uint64_t d;
    TRY(pm_desc_read(c, sel, &d, ss_addr, EXC_TS));
    struct seg n = pm_desc_seg(sel, d);
    if (!(n.ar & AR_S) || (n.ar & 0x08) || !(n.ar & 0x02) || AR_DPL(n.ar) != dpl)
        return fault(c, EXC_TS, sel & 0xFFFC);
    if (!(n.ar & AR_P)) return fault(c, EXC_SS, sel & 0xFFFC);
    *ss_out = n;
    *esp_out = (uint32_t)esp;
    *ss_desc = d;
    return EXC_NONE;
}

/* ---- far JMP (SDM vol. 2 JMP, protected mode) ---- */
int pm_far_jump(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize)
{
    if ((sel & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
    uint64_t d; uint32_t addr;
    TRY(pm_desc_read(c, sel, &d, &addr, EXC_GP));
    unsigned ar = (unsigned)(d >> 40) & 0xFF;
    if (ar & 0x10) {
        if (!(ar & 0x08)) return fault(c, EXC_GP, sel & 0xFFFC);   /* data */
        TRY(check_code_direct(c, sel, d));
        if (opsize == 2) off &= 0xFFFF;
        if (off > pm_desc_seg(sel, d).limit) return fault(c, EXC_GP, 0);
        TRY(pm_desc_set_accessed(c, addr, d));
        pm_set_cs(c, sel, d, c->cpl, off);
        return EXC_NONE;
    }
    unsigned type = ar & 0xF, dpl = (ar >> 5) & 3, rpl = sel & 3;
    if (type == 4 || type == 0xC) {                          /* call gate */
        if (dpl < (unsigned)c->cpl || rpl > dpl) return fault(c, EXC_GP, sel & 0xFFFC);
        if (!(ar & 0x80)) return fault(c, EXC_NP, sel & 0xFFFC);
        uint16_t cs = (uint16_t)(d >> 16);
        uint32_t goff = (uint32_t)(d & 0xFFFF) | (type == 0xC ? (uint32_t)(d >> 32) & 0xFFFF0000u : 0);
        if ((cs & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
        uint64_t cd; uint32_t caddr;
        TRY(pm_desc_read(c, cs, &cd, &caddr, EXC_GP));
        struct seg n = pm_desc_seg(cs, cd);
        if ((n.ar & 0x18) != 0x18) return fault(c, EXC_GP, cs & 0xFFFC);
        if (n.ar & 0x04) { if (AR_DPL(n.ar) > (unsigned)c->cpl) return fault(c, EXC_GP, cs & 0xFFFC); }
        else if (AR_DPL(n.ar) != (unsigned)c->cpl) return fault(c, EXC_GP, cs & 0xFFFC);
        if (!(n.ar & AR_P)) return fault(c, EXC_NP, cs & 0xFFFC);
        if (goff > n.limit) return fault(c, EXC_GP, 0);
        TRY(pm_desc_set_accessed(c, caddr, cd));
        pm_set_cs(c, cs, cd, c->cpl, goff);
        return EXC_NONE;
    }
    if (type == 5 || type == 1 || type == 3 || type == 9 || type == 0xB) {
        uint16_t tsel; uint64_t td; uint32_t taddr = addr;
        TRY(resolve_task(c, sel, d, &tsel, &td, &taddr));
        return pm_task_switch_insn(c, tsel, td, taddr, PM_TS_JMP, c->next_eip);
    }
    return fault(c, EXC_GP, sel & 0xFFFC);
}

/* ---- far CALL (SDM vol. 2 CALL; vol. 3 sec. 5.8.5-5.8.6) ---- */
int pm_far_call(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize)
{
    if ((sel & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
    uint64_t d; uint32_t addr;
    TRY(pm_desc_read(c, sel, &d, &addr, EXC_GP));
    unsigned ar = (unsigned)(d >> 40) & 0xFF;
    struct pm_stk st;
    if (ar & 0x10) {
        if (!(ar & 0x08)) return fault(c, EXC_GP, sel & 0xFFFC);
        TRY(check_code_direct(c, sel, d));
        if (opsize == 2) off &= 0xFFFF;
        pm_stk_init(&st, &c->seg[SEG_SS], c->r[R_ESP], c->cpl, 0);
        TRY(pm_stk_room(c, &st, 2 * opsize));
        if (off > pm_desc_seg(sel, d).limit) return fault(c, EXC_GP, 0);
        TRY(pm_desc_set_accessed(c, addr, d));
        TRY(pm_stk_push(c, &st, opsize, c->seg[SEG_CS].sel));
        TRY(pm_stk_push(c, &st, opsize, c->next_eip));
        pm_stk_commit(c, &st);
        pm_set_cs(c, sel, d, c->cpl, off);
        return EXC_NONE;
    }
    unsigned type = ar & 0xF, dpl = (ar >> 5) & 3, rpl = sel & 3;
    if (type == 5 || type == 1 || type == 3 || type == 9 || type == 0xB) {
        uint16_t tsel; uint64_t td; uint32_t taddr = addr;
        TRY(resolve_task(c, sel, d, &tsel, &td, &taddr));
        return pm_task_switch_insn(c, tsel, td, taddr, PM_TS_CALL, c->next_eip);
    }
    if (type != 4 && type != 0xC) return fault(c, EXC_GP, sel & 0xFFFC);
    /* call gate */
    if (dpl < (unsigned)c->cpl || rpl > dpl) return fault(c, EXC_GP, sel & 0xFFFC);
    if (!(ar & 0x80)) return fault(c, EXC_NP, sel & 0xFFFC);
    unsigned gsz = type == 0xC ? 4 : 2;
    unsigned nparam = (unsigned)(d >> 32) & 0x1F;
    uint16_t cs = (uint16_t)(d >> 16);
    uint32_t goff = (uint32_t)(d & 0xFFFF) | (gsz == 4 ? (uint32_t)(d >> 32) & 0xFFFF0000u : 0);
    if ((cs & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
    uint64_t cd; uint32_t caddr;
    TRY(pm_desc_read(c, cs, &cd, &caddr, EXC_GP));
    struct seg n = pm_desc_seg(cs, cd);
    unsigned cdpl = AR_DPL(n.ar);
    if ((n.ar & 0x18) != 0x18 || cdpl > (unsigned)c->cpl) return fault(c, EXC_GP, cs & 0xFFFC);
    if (!(n.ar & AR_P)) return fault(c, EXC_NP, cs & 0xFFFC);
    if (!(n.ar & 0x04) && cdpl < (unsigned)c->cpl) {
        /* more privilege: stack from the TSS, copy parameters */
        struct seg nss; uint32_t nesp, ssaddr; uint64_t ssd;
        TRY(pm_inner_stack(c, cdpl, &nss, &nesp, &ssaddr, &ssd));
        pm_stk_init(&st, &nss, nesp, (int)cdpl, nss.sel & 0xFFFC);
        TRY(pm_stk_room(c, &st, (4 + nparam) * gsz));
        if (goff > n.limit) return fault(c, EXC_GP, 0);
        uint32_t params[32];
        for (unsigned i = 0; i < nparam; i++)
            TRY(stack_peek(c, i * gsz, gsz, &params[i]));
        TRY(pm_desc_set_accessed(c, ssaddr, ssd));
        TRY(pm_desc_set_accessed(c, caddr, cd));
        TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_SS].sel));
        TRY(pm_stk_push(c, &st, gsz, c->r[R_ESP]));
        for (unsigned i = nparam; i-- > 0;) TRY(pm_stk_push(c, &st, gsz, params[i]));
        TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_CS].sel));
        TRY(pm_stk_push(c, &st, gsz, c->next_eip));
        pm_stk_commit(c, &st);
        pm_set_cs(c, cs, cd, (int)cdpl, goff);
        return EXC_NONE;
    }
    /* same privilege through the gate */
    pm_stk_init(&st, &c->seg[SEG_SS], c->r[R_ESP], c->cpl, 0);
    TRY(pm_stk_room(c, &st, 2 * gsz));
    if (goff > n.limit) return fault(c, EXC_GP, 0);
    TRY(pm_desc_set_accessed(c, caddr, cd));
    TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_CS].sel));
    TRY(pm_stk_push(c, &st, gsz, c->next_eip));
    pm_stk_commit(c, &st);
    pm_set_cs(c, cs, cd, c->cpl, goff);
    return EXC_NONE;
}

/* Checks on the CS popped by RET/IRET (SDM vol. 2 RET "protected mode"). */
static int check_ret_cs(struct cpu *c, uint16_t cs, uint64_t *d, uint32_t *addr)
{
    if ((cs & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
    TRY(pm_desc_read(c, cs, d, addr, EXC_GP));
    struct seg n = pm_desc_seg(cs, *d);
    unsigned rpl = cs & 3, dpl = AR_DPL(n.ar);
    if ((n.ar & 0x18) != 0x18 || rpl < (unsigned)c->cpl) return fault(c, EXC_GP, cs & 0xFFFC);
    if ((n.ar & 0x04) ? dpl > rpl : dpl != rpl) return fault(c, EXC_GP, cs & 0xFFFC);
    if (!(n.ar & AR_P)) return fault(c, EXC_NP, cs & 0xFFFC);
    return EXC_NONE;
}

/* Checks on the SS popped on a return to an outer level. */
static int check_ret_ss(struct cpu *c, uint16_t ss, unsigned rpl, struct seg *out, uint64_t *d, uint32_t *addr)
{
    if ((ss & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
    if ((ss & 3) != rpl) return fault(c, EXC_GP, ss & 0xFFFC);
    TRY(pm_desc_read(c, ss, d, addr, EXC_GP));
    struct seg n = pm_desc_seg(ss, *d);
    if (!(n.ar & AR_S) || (n.ar & 0x08) || !(n.ar & 0x02) || AR_DPL(n.ar) != rpl)
        return fault(c, EXC_GP, ss & 0xFFFC);
    if (!(n.ar & AR_P)) return fault(c, EXC_SS, ss & 0xFFFC);
    *out = n;
    return EXC_NONE;
}

/* ---- far RET (SDM vol. 2 RET) ---- */
int pm_far_ret(struct cpu *c, unsigned opsize, uint32_t imm)
{
    uint32_t off, csv;
    TRY(stack_peek(c, 0, opsize, &off));
    TRY(stack_peek(c, opsize, opsize, &csv));
    uint16_t cs = (uint16_t)csv;
    if (opsize == 2) off &= 0xFFFF;
    uint64_t d; uint32_t addr;
    TRY(check_ret_cs(c, cs, &d, &addr));
    unsigned rpl = cs & 3;
    struct seg ncs = pm_desc_seg(cs, d);
    if (rpl == (unsigned)c->cpl) {
        if (off > ncs.limit) return fault(c, EXC_GP, 0);
        TRY(pm_desc_set_accessed(c, addr, d));
        sp_set(c, sp_get(c) + 2 * opsize + imm);
        pm_set_cs(c, cs, d, c->cpl, off);
        return EXC_NONE;
    }
    /* return to an outer level: SS:ESP follow the parameters */
    uint32_t nesp, ssv;
    TRY(stack_peek(c, 2 * opsize + imm, opsize, &nesp));
    TRY(stack_peek(c, 3 * opsize + imm, opsize, &ssv));
    struct seg nss; uint64_t sd; uint32_t saddr;
    TRY(check_ret_ss(c, (uint16_t)ssv, rpl, &nss, &sd, &saddr));
    if (off > ncs.limit) return fault(c, EXC_GP, 0);
    TRY(pm_desc_set_accessed(c, addr, d));
    TRY(pm_desc_set_accessed(c, saddr, sd));
    pm_set_cs(c, cs, d, (int)rpl, off);
    c->seg[SEG_SS] = nss;
    if (opsize == 2) nesp &= 0xFFFF;
    c->r[R_ESP] = nesp;
    sp_set(c, sp_get(c) + imm);
    null_outer_segs(c);
    return EXC_NONE;
}

/* ---- IRET (SDM vol. 2 IRET, protected mode) ---- */
static int iret_to_v86(struct cpu *c, uint32_t eip, uint32_t csv, uint32_t fl)
{
    uint32_t v[6];   /* ESP SS ES DS FS GS */
    for (int i = 0; i < 6; i++) TRY(stack_peek(c, 12 + 4 * (uint32_t)i, 4, &v[i]));
    eip &= 0xFFFF;
    /* V86 CS limit is 0xFFFF: the check is against the new 64 KiB segment */
    c->eflags = ((fl & EFLAGS_MASK) | EFLAGS_FIXED1) | FL_VM;
    c->cpl = 3;
    seg_load_real(c, SEG_CS, (uint16_t)csv);
    seg_load_real(c, SEG_SS, (uint16_t)v[1]);
    seg_load_real(c, SEG_ES, (uint16_t)v[2]);
    seg_load_real(c, SEG_DS, (uint16_t)v[3]);
    seg_load_real(c, SEG_FS, (uint16_t)v[4]);
    seg_load_real(c, SEG_GS, (uint16_t)v[5]);
    c->r[R_ESP] = v[0];
    c->eip = eip;
    return EXC_NONE;
}

int pm_iret(struct cpu *c, unsigned opsize)
{
    if (c->eflags & FL_NT) {
        /* task return through the link field (SDM vol. 3 sec. 7.3, 7.4) */
        uint64_t link;
        TRY(lin_read(c, c->tr.base, 2, &link, false));
        uint16_t sel = (uint16_t)link;
        if (sel & 4) return fault(c, EXC_TS, sel & 0xFFFC);
        uint64_t d; uint32_t addr;
        TRY(pm_desc_read(c, sel, &d, &addr, EXC_TS));
        unsigned type = (unsigned)((d >> 40) & 0x1F);
        if (type != 0x0B && type != 0x03) return fault(c, EXC_TS, sel & 0xFFFC);
        if (!(d & (1ull << 47))) return fault(c, EXC_NP, sel & 0xFFFC);
        return pm_task_switch_insn(c, sel, d, addr, PM_TS_IRET, c->next_eip);
    }
    uint32_t eip, csv, fl;
    TRY(stack_peek(c, 0, opsize, &eip));
    TRY(stack_peek(c, opsize, opsize, &csv));
    TRY(stack_peek(c, 2 * opsize, opsize, &fl));
    if (opsize == 2) { eip &= 0xFFFF; fl = (c->eflags & 0xFFFF0000u) | (fl & 0xFFFF); }
    if ((fl & FL_VM) && c->cpl == 0 && opsize == 4) return iret_to_v86(c, eip, csv, fl);
    uint16_t cs = (uint16_t)csv;
    uint64_t d; uint32_t addr;
    TRY(check_ret_cs(c, cs, &d, &addr));
    unsigned rpl = cs & 3;
    struct seg ncs = pm_desc_seg(cs, d);
    /* EFLAGS bits this IRET may change, decided at the old CPL */
    uint32_t m = eflags_writable(c, opsize);
    if (opsize == 4) { m |= FL_RF; if (c->cpl == 0) m |= FL_VIF | FL_VIP; }
    else m &= 0xFFFF;
    uint32_t nfl = ((c->eflags & ~m) | (fl & m) | EFLAGS_FIXED1) & 0x003F7FD7u;
    if (rpl == (unsigned)c->cpl) {
        if (eip > ncs.limit) return fault(c, EXC_GP, 0);
        TRY(pm_desc_set_accessed(c, addr, d));
        sp_set(c, sp_get(c) + 3 * opsize);
        pm_set_cs(c, cs, d, c->cpl, eip);
        c->eflags = nfl;
        return EXC_NONE;
    }
    uint32_t nesp, ssv;
    TRY(stack_peek(c, 3 * opsize, opsize, &nesp));
    TRY(stack_peek(c, 4 * opsize, opsize, &ssv));
    struct seg nss; uint64_t sd; uint32_t saddr;
    TRY(check_ret_ss(c, (uint16_t)ssv, rpl, &nss, &sd, &saddr));
    if (eip > ncs.limit) return fault(c, EXC_GP, 0);
    TRY(pm_desc_set_accessed(c, addr, d));
    TRY(pm_desc_set_accessed(c, saddr, sd));
    pm_set_cs(c, cs, d, (int)rpl, eip);
    c->seg[SEG_SS] = nss;
    if (opsize == 2) c->r[R_ESP] = (c->r[R_ESP] & 0xFFFF0000u) | (nesp & 0xFFFF);
    else c->r[R_ESP] = nesp;
    c->eflags = nfl;
    null_outer_segs(c);
    return EXC_NONE;
}

/* ---- protected-mode-only instructions (SDM vol. 2) ---- */
static inline bool pm_only_ud(const struct cpu *c) { return cpu_real(c) || cpu_v86(c); }

static int store_sel(struct cpu *c, const struct insn *in, uint16_t sel)
{
    if (in->opnd[0].kind == OPND_MEM) return mem_wr(c, in->seg, insn_ea(c, in), 2, sel);
    reg_set(c, in->opnd[0].reg, in->opnd[0].size, sel);     /* 32-bit: zero-extended (P6) */
    return EXC_NONE;
}

int op_sldt(struct cpu *c, const struct insn *in)
{
    if (pm_only_ud(c)) return UD(c);
    return store_sel(c, in, c->ldtr.sel);
}

int op_str(struct cpu *c, const struct insn *in)
{
    if (pm_only_ud(c)) return UD(c);
    return store_sel(c, in, c->tr.sel);
}

/* LLDT: a GDT descriptor of type 2 (SDM vol. 2 LLDT); null makes LDTR unusable. */
int op_lldt(struct cpu *c, const struct insn *in)
{
    if (pm_only_ud(c)) return UD(c);
    if (c->cpl != 0) return fault(c, EXC_GP, 0);
    uint32_t v;
    TRY(opnd_read(c, in, 0, &v));
    uint16_t sel = (uint16_t)v;
    if ((sel & 0xFFFC) == 0) { pm_seg_null(&c->ldtr, sel); return EXC_NONE; }
    if (sel & 4) return fault(c, EXC_GP, sel & 0xFFFC);
    uint64_t d;
    TRY(pm_desc_read(c, sel, &d, NULL, EXC_GP));
    if (((d >> 40) & 0x1F) != 0x02) return fault(c, EXC_GP, sel & 0xFFFC);
    if (!(d & (1ull << 47))) return fault(c, EXC_NP, sel & 0xFFFC);
    c->ldtr = pm_desc_seg(sel, d);
    return EXC_NONE;
}

/* LTR: an available TSS in the GDT, marked busy in memory (SDM vol. 2 LTR). */
int op_ltr(struct cpu *c, const struct insn *in)
{
    if (pm_only_ud(c)) return UD(c);
    if (c->cpl != 0) return fault(c, EXC_GP, 0);
    uint32_t v;
    TRY(opnd_read(c, in, 0, &v));
    uint16_t sel = (uint16_t)v;
    if ((sel & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
    if (sel & 4) return fault(c, EXC_GP, sel & 0xFFFC);
    uint64_t d; uint32_t addr;
    TRY(pm_desc_read(c, sel, &d, &addr, EXC_GP));
    unsigned type = (unsigned)((d >> 40) & 0x1F);
    if (type != 0x09 && type != 0x01) return fault(c, EXC_GP, sel & 0xFFFC);
    if (!(d & (1ull << 47))) return fault(c, EXC_NP, sel & 0xFFFC);
    TRY(lin_write(c, addr + 5, 1, (uint8_t)((d >> 40) | 2), false));
    c->tr = pm_desc_seg(sel, d);
    c->tr.ar = (uint16_t)((c->tr.ar & ~0xFu) | (type | 2));
    return EXC_NONE;
}

/* The descriptor LAR/LSL/VERR/VERW examine, if the selector reaches one
 * and its DPL allows (conforming code excepted). */
static bool probe_desc(struct cpu *c, uint16_t sel, uint64_t *d, int *rc)
{
    *rc = EXC_NONE;
    if ((sel & 0xFFFC) == 0) return false;
    int r = pm_desc_read(c, sel, d, NULL, EXC_GP);
    if (r == EXC_PF) { *rc = r; return false; }
    if (r != EXC_NONE) return false;
    unsigned ar = (unsigned)(*d >> 40) & 0xFF, dpl = (ar >> 5) & 3;
    bool conf_code = (ar & 0x1C) == 0x1C;
    if (!conf_code && (dpl < (unsigned)c->cpl || dpl < (sel & 3u))) return false;
    return true;
}

static void set_zf(struct cpu *c, bool z) { flags_set(c, FL_ZF, z ? FL_ZF : 0); }

/* LAR and LSL: the same descriptor checks (SDM vol. 2 LAR, LSL); they
 * differ in which system-segment types are valid (a bit mask over the 4-bit
 * type) and in what they load: access rights or the expanded limit. */
static int lar_lsl(struct cpu *c, const struct insn *in, bool lsl)
{
    if (pm_only_ud(c)) return UD(c);
    uint32_t v; uint64_t d; int rc;
    TRY(opnd_read(c, in, 1, &v));
    bool ok = probe_desc(c, (uint16_t)v, &d, &rc);
    if (rc != EXC_NONE) return rc;
    if (ok && !((d >> 40) & 0x10)) {
        /* LAR: TSS16 LDT busy-TSS16 callgate16 taskgate TSS32 busyTSS32 callgate32
         * LSL: TSS16 LDT busy-TSS16 TSS32 busyTSS32 */
        unsigned valid = lsl ? 0x0A0E : 0x1A3E;
        ok = (valid >> ((d >> 40) & 0xF)) & 1;
    }
    if (ok) {
        uint32_t r = lsl ? pm_desc_seg((uint16_t)v, d).limit
                         : (uint32_t)(d >> 32) & (in->opsize == 4 ? 0x00F0FF00u : 0xFF00u);
        reg_set(c, in->opnd[0].reg, in->opsize, r);
    }
    set_zf(c, ok);
    return EXC_NONE;
}

int op_lar(struct cpu *c, const struct insn *in) { return lar_lsl(c, in, false); }
int op_lsl(struct cpu *c, const struct insn *in) { return lar_lsl(c, in, true); }

static int verify(struct cpu *c, const struct insn *in, bool write)
{
    if (pm_only_ud(c)) return UD(c);
    uint32_t v; uint64_t d; int rc;
    TRY(opnd_read(c, in, 0, &v));
    bool ok = probe_desc(c, (uint16_t)v, &d, &rc);
    if (rc != EXC_NONE) return rc;
    if (ok) {
        unsigned ar = (unsigned)(d >> 40) & 0xFF;
        if (!(ar & 0x10)) ok = false;
        else if (write) ok = !(ar & 0x08) && (ar & 0x02);
        else ok = !(ar & 0x08) || (ar & 0x02);
    }
    set_zf(c, ok);
    return EXC_NONE;
}
int op_verr(struct cpu *c, const struct insn *in) { return verify(c, in, false); }
int op_verw(struct cpu *c, const struct insn *in) { return verify(c, in, true); }

int op_arpl(struct cpu *c, const struct insn *in)
{
    if (pm_only_ud(c)) return UD(c);
    uint32_t dst, src;
    TRY(opnd_read(c, in, 0, &dst));
    src = reg_get(c, in->opnd[1].reg, 2);
    if ((dst & 3) < (src & 3)) {
        TRY(opnd_write(c, in, 0, (dst & ~3u) | (src & 3)));
        set_zf(c, true);
    } else {
        set_zf(c, false);
    }
    return EXC_NONE;
}

/* ---- SYSENTER/SYSEXIT (SDM vol. 2): flat segments derived from SYSENTER_CS ---- */
int op_sysenter(struct cpu *c, const struct insn *in)
{
    (void)in;
    uint16_t cs = (uint16_t)c->msr_sysenter_cs;
    if (cpu_real(c) || (cs & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
    c->eflags &= ~(FL_VM | FL_IF | FL_RF);
    c->seg[SEG_CS] = (struct seg){ .sel = cs & 0xFFFC, .base = 0, .limit = 0xFFFFFFFFu, .ar = 0xC9B };
    c->seg[SEG_SS] = (struct seg){ .sel = (uint16_t)((cs & 0xFFFC) + 8), .base = 0, .limit = 0xFFFFFFFFu, .ar = 0xC93 };
    c->cpl = 0;
    c->r[R_ESP] = (uint32_t)c->msr_sysenter_esp;
    c->eip = (uint32_t)c->msr_sysenter_eip;
    return EXC_NONE;
}

int op_sysexit(struct cpu *c, const struct insn *in)
{
    (void)in;
    uint16_t cs = (uint16_t)c->msr_sysenter_cs;
    if (cpu_real(c) || cpu_v86(c) || (cs & 0xFFFC) == 0 || c->cpl != 0) return fault(c, EXC_GP, 0);
    c->seg[SEG_CS] = (struct seg){ .sel = (uint16_t)((cs + 16) | 3), .base = 0, .limit = 0xFFFFFFFFu, .ar = 0xCFB };
    c->seg[SEG_SS] = (struct seg){ .sel = (uint16_t)((cs + 24) | 3), .base = 0, .limit = 0xFFFFFFFFu, .ar = 0xCF3 };
    c->cpl = 3;
    c->r[R_ESP] = c->r[R_ECX];
    c->eip = c->r[R_EDX];
    return EXC_NONE;
}

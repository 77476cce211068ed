/* cpu/pm_task.c - protected-mode event delivery and hardware task switches.
 *
 * Owns: pm_deliver (interrupt, trap and task gates in the IDT, SDM vol. 3
 * sec. 6.10-6.13; from V86 mode sec. 20.3.1.1), the double/triple fault
 * rules (sec. 6.15, "Interrupt 8", table 6-5), and the task switch
 * (sec. 7.3) used by JMP/CALL/IRET/INT with 32- and 16-bit TSSs.
 * Invariants: nothing of the interrupted context changes until every check
 * of a delivery has passed and the new stack is known to be writable; a
 * task switch writes the old TSS and busy bits only after the new TSS has
 * been read completely; faults after it commits belong to the new task.
 */
#include "cpu/pmode.h"
#include "cpu/pm_priv.h"

#define TRY(x) do { int r_ = (x); if (r_ != EXC_NONE) return r_; } while (0)

static int rd(struct cpu *c, uint32_t lin, unsigned size, uint32_t *v)
{
    uint64_t x;
    TRY(lin_read(c, lin, size, &x, false));
    *v = (uint32_t)x;
    return EXC_NONE;
}

static int wr(struct cpu *c, uint32_t lin, unsigned size, uint32_t v)
{
    return lin_write(c, lin, size, v, false);
}

/* CS of a new task (SDM vol. 3 sec. 7.3 step 12, table 7-1): #TS, #NP. */
static int task_load_cs(struct cpu *c, uint16_t sel)
{
    if ((sel & 0xFFFC) == 0) return fault(c, EXC_TS, 0);
    uint64_t d; uint32_t addr;
    TRY(pm_desc_read(c, sel, &d, &addr, EXC_TS));
    struct seg n = pm_desc_seg(sel, d);
    unsigned dpl = AR_DPL(n.ar), rpl = sel & 3;
    if ((n.ar & 0x18) != 0x18) return fault(c, EXC_TS, sel & 0xFFFC);
    if ((n.ar & 0x04) ? dpl > rpl : dpl != rpl) return fault(c, EXC_TS, sel & 0xFFFC);
    if (!(n.ar & AR_P)) return fault(c, EXC_NP, sel & 0xFFFC);
    TRY(pm_desc_set_accessed(c, addr, d));
    c->seg[SEG_CS] = n;
    return EXC_NONE;
}

static int task_load_ldt(struct cpu *c, uint16_t sel)
{
    if ((sel & 0xFFFC) == 0) { pm_seg_null(&c->ldtr, sel); return EXC_NONE; }
    if (sel & 4) return fault(c, EXC_TS, sel & 0xFFFC);
    uint64_t d;
    TRY(pm_desc_read(c, sel, &d, NULL, EXC_TS));
    if (((d >> 40) & 0x1F) != 0x02 || !(d & (1ull << 47))) return fault(c, EXC_TS, sel & 0xFFFC);
    c->ldtr = pm_desc_seg(sel, d);
    return EXC_NONE;
}

int pm_task_switch(struct cpu *c, uint16_t sel, uint64_t d, uint32_t taddr, enum pm_ts_src src,
                   uint32_t ret_eip, bool *committed)
{
    *committed = false;
    struct seg nt = pm_desc_seg(sel, d);
    unsigned ntype = (unsigned)(d >> 40) & 0xF;
    bool n32 = ntype & 8, o32 = c->tr.ar & 8;
    if (nt.limit < (n32 ? 0x67u : 0x2Bu)) return fault(c, EXC_TS, sel & 0xFFFC);
    if (c->tr.limit < (o32 ? 0x67u : 0x2Bu)) return fault(c, EXC_TS, c->tr.sel & 0xFFFC);

    /* 1. read the whole new state */
    uint32_t nb = nt.base, ncr3 = c->cr[3], neip, nfl, nr[8], v;
    uint16_t nsel[6], nldt;
    if (n32) {
        TRY(rd(c, nb + 0x1C, 4, &ncr3));
        TRY(rd(c, nb + 0x20, 4, &neip));
        TRY(rd(c, nb + 0x24, 4, &nfl));
        for (int i = 0; i < 8; i++) TRY(rd(c, nb + 0x28 + 4 * (uint32_t)i, 4, &nr[i]));
        for (int i = 0; i < 6; i++) { TRY(rd(c, nb + 0x48 + 4 * (uint32_t)i, 2, &v)); nsel[i] = (uint16_t)v; }
        TRY(rd(c, nb + 0x60, 2, &v)); nldt = (uint16_t)v;
    } else {
        TRY(rd(c, nb + 0x0E, 2, &neip));
        TRY(rd(c, nb + 0x10, 2, &nfl));
        for (int i = 0; i < 8; i++) {
            TRY(rd(c, nb + 0x12 + 2 * (uint32_t)i, 2, &v));
            nr[i] = (c->r[i] & 0xFFFF0000u) | v;       /* upper halves kept */
        }
        for (int i = 0; i < 4; i++) { TRY(rd(c, nb + 0x22 + 2 * (uint32_t)i, 2, &v)); nsel[i] = (uint16_t)v; }
        nsel[SEG_FS] = nsel[SEG_GS] = 0;
        TRY(rd(c, nb + 0x2A, 2, &v)); nldt = (uint16_t)v;
    }

    /* 2. the old TSS and the descriptors we will write must be writable */
    uint32_t ob = c->tr.base;
    TRY(lin_probe_write(c, ob, o32 ? 0x68 : 0x2C, false));
    if (src == PM_TS_CALL || src == PM_TS_INT) TRY(lin_probe_write(c, nb, 2, false));
    uint64_t od = 0; uint32_t oaddr = 0;
    if (src == PM_TS_JMP || src == PM_TS_IRET) TRY(pm_desc_read(c, c->tr.sel, &od, &oaddr, EXC_TS));

    /* 3. save the outgoing state (SDM vol. 3 sec. 7.3 step 8) */
    uint32_t ofl = c->eflags;
    if (src == PM_TS_IRET) ofl &= ~FL_NT;
    if (o32) {
        TRY(wr(c, ob + 0x20, 4, ret_eip));
        TRY(wr(c, ob + 0x24, 4, ofl));
        for (int i = 0; i < 8; i++) TRY(wr(c, ob + 0x28 + 4 * (uint32_t)i, 4, c->r[i]));
        for (int i = 0; i < 6; i++) TRY(wr(c, ob + 0x48 + 4 * (uint32_t)i, 2, c->seg[i].sel));
    } else {
        TRY(wr(c, ob + 0x0E, 2, ret_eip));
        TRY(wr(c, ob + 0x10, 2, ofl));
        for (int i = 0; i < 8; i++) TRY(wr(c, ob + 0x12 + 2 * (uint32_t)i, 2, c->r[i]));
        for (int i = 0; i < 4; i++) TRY(wr(c, ob + 0x22 + 2 * (uint32_t)i, 2, c->seg[i].sel));
    }
    /* 4. busy bits and the link (steps 6, 9, 10) */
    if (src == PM_TS_JMP || src == PM_TS_IRET)
        TRY(wr(c, oaddr + 5, 1, (uint8_t)((od >> 40) & ~2u)));
    if (src == PM_TS_CALL || src == PM_TS_INT) {
        TRY(wr(c, nb, 2, c->tr.sel));
        nfl |= FL_NT;
    }
    if (src != PM_TS_IRET) TRY(wr(c, taddr + 5, 1, (uint8_t)((d >> 40) | 2)));

    /* 5. commit: TR, CR0.TS, CR3, registers (step 11-12) */
    *committed = true;
    c->tr = nt;
    c->tr.ar = (uint16_t)(c->tr.ar | 2);
    c->cr[0] |= CR0_TS;
    /* CR3 comes from a 32-bit TSS when paging is on (mask as MOV CR3 does,
     * PAE keeps bits 31:5 for the PDPT address) */
    if (n32 && (c->cr[0] & CR0_PG)) c->cr[3] = ncr3 & ((c->cr[4] & 0x20) ? 0xFFFFFFF8u : 0xFFFFF018u);
    cpu_tlb_flush(c);
    memcpy(c->r, nr, sizeof nr);
    c->eip = neip;
    c->eflags = (nfl & EFLAGS_MASK) | EFLAGS_FIXED1;
    for (int i = 0; i < 6; i++) pm_seg_null(&c->seg[i], nsel[i]);
    pm_seg_null(&c->ldtr, nldt);
    if (cpu_v86(c)) {
        c->cpl = 3;
        for (int i = 0; i < 6; i++) seg_load_real(c, i, nsel[i]);
        TRY(task_load_ldt(c, nldt));
        return EXC_NONE;
    }
    c->cpl = nsel[SEG_CS] & 3;
    /* the CS cache keeps a usable shape while the checks run */
    c->seg[SEG_CS].ar = AR_P | AR_S | 0x0B | (n32 ? AR_DB : 0);
    c->seg[SEG_CS].limit = 0xFFFFFFFFu;
    /* order as Bochs: LDTR, SS (CPL from CS.RPL), data, then CS, so that a
     * fault in the new task finds a usable stack where the TSS has one */
    TRY(task_load_ldt(c, nldt));
    TRY(pm_load_seg_ts(c, SEG_SS, nsel[SEG_SS]));
    TRY(pm_load_seg_ts(c, SEG_DS, nsel[SEG_DS]));
    TRY(pm_load_seg_ts(c, SEG_ES, nsel[SEG_ES]));
    TRY(pm_load_seg_ts(c, SEG_FS, nsel[SEG_FS]));
    TRY(pm_load_seg_ts(c, SEG_GS, nsel[SEG_GS]));
    TRY(task_load_cs(c, nsel[SEG_CS]));
    if (c->eip > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    return EXC_NONE;
}

int pm_task_switch_insn(struct cpu *c, uint16_t sel, uint64_t d, uint32_t taddr, enum pm_ts_src src,
                        uint32_t ret_eip)
{
    bool committed;
    int r = pm_task_switch(c, sel, d, taddr, src, ret_eip, &committed);
    if (r == EXC_NONE || !committed) return r;
    int dr = pm_deliver(c, r, c->exc_has_err, c->exc_err, false, c->eip);
    return dr >= 256 ? dr : EXC_NONE;
}

/* Exceptions that push an error code (SDM vol. 3 sec. 6.13, table 6-1). */
static bool vec_has_err(int vec)
{
    return vec == EXC_DF || (vec >= EXC_TS && vec <= EXC_PF) || vec == EXC_AC;
}

/* One attempt to deliver `vec`; a vector is a fault raised while doing it. */
static int deliver_once(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_sw, uint32_t ret_eip,
                        bool *committed)
{
    *committed = false;
    uint32_t gerr = (uint32_t)vec * 8 + 2;                  /* IDT bit set */
    if ((uint32_t)vec * 8 + 7 > c->idtr.limit) return fault(c, EXC_GP, gerr);
    uint64_t g;
    TRY(lin_read(c, c->idtr.base + (uint32_t)vec * 8, 8, &g, false));
    unsigned type = (unsigned)(g >> 40) & 0x1F, gdpl = (unsigned)(g >> 45) & 3;
    if (type != 5 && type != 6 && type != 7 && type != 0xE && type != 0xF) return fault(c, EXC_GP, gerr);
    if (is_sw && gdpl < (unsigned)c->cpl) return fault(c, EXC_GP, gerr);
    if (!(g & (1ull << 47))) return fault(c, EXC_NP, gerr);
    bool push_err = has_err && !is_sw && vec_has_err(vec);

    if (type == 5) {                                         /* task gate */
        uint16_t tsel = (uint16_t)(g >> 16);
        if (tsel & 4) return fault(c, EXC_GP, tsel & 0xFFFC);
        uint64_t d; uint32_t taddr;
        TRY(pm_desc_read(c, tsel, &d, &taddr, EXC_GP));
        unsigned tt = (unsigned)(d >> 40) & 0x1F;
        if (tt != 0x09 && tt != 0x01) return fault(c, EXC_GP, tsel & 0xFFFC);
        if (!(d & (1ull << 47))) return fault(c, EXC_NP, tsel & 0xFFFC);
        TRY(pm_task_switch(c, tsel, d, taddr, PM_TS_INT, ret_eip, committed));
        if (push_err) TRY(stack_push(c, (c->tr.ar & 8) ? 4 : 2, err));
        return EXC_NONE;
    }

    unsigned gsz = (type & 8) ? 4 : 2;
    uint16_t cs = (uint16_t)(g >> 16);
    uint32_t off = (uint32_t)(g & 0xFFFF) | (gsz == 4 ? (uint32_t)(g >> 32) & 0xFFFF0000u : 0);
    if ((cs & 0xFFFC) == 0) return fault(c, EXC_GP, 0);
    uint64_t cd; uint32_t caddr;
    TRY(pm_desc_read(c, cs, &cd, &caddr, EXC_GP));
    struct seg n = pm_desc_seg(cs, cd);
    unsigned dpl = AR_DPL(n.ar);
    if ((n.ar & 0x18) != 0x18 || dpl > (unsigned)c->cpl) return fault(c, EXC_GP, cs & 0xFFFC);
    if (!(n.ar & AR_P)) return fault(c, EXC_NP, cs & 0xFFFC);
    bool v86 = cpu_v86(c);
    bool inner = !(n.ar & 0x04) && dpl < (unsigned)c->cpl;
    /* from V86 mode only a ring-0 non-conforming handler (SDM vol. 3 sec. 20.3.1.1) */
    if (v86 && (!inner || dpl != 0)) return fault(c, EXC_GP, cs & 0xFFFC);
    int ncpl = inner ? (int)dpl : c->cpl;
    struct pm_stk st;
    uint32_t ssaddr = 0; uint64_t ssd = 0;
    unsigned nslots = 3 + push_err;
    if (inner) {
        struct seg nss; uint32_t nesp;
        TRY(pm_inner_stack(c, dpl, &nss, &nesp, &ssaddr, &ssd));
        pm_stk_init(&st, &nss, nesp, ncpl, nss.sel & 0xFFFC);
        nslots += v86 ? 6 : 2;
    } else {
        pm_stk_init(&st, &c->seg[SEG_SS], c->r[R_ESP], ncpl, 0);
    }
    TRY(pm_stk_room(c, &st, nslots * gsz));
    if (off > n.limit) return fault(c, EXC_GP, 0);
    if (inner) TRY(pm_desc_set_accessed(c, ssaddr, ssd));
    TRY(pm_desc_set_accessed(c, caddr, cd));
    if (inner) {
        if (v86) {
            TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_GS].sel));
            TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_FS].sel));
            TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_DS].sel));
            TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_ES].sel));
        }
        TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_SS].sel));
        TRY(pm_stk_push(c, &st, gsz, c->r[R_ESP]));
    }
    TRY(pm_stk_push(c, &st, gsz, c->eflags));
    TRY(pm_stk_push(c, &st, gsz, c->seg[SEG_CS].sel));
    TRY(pm_stk_push(c, &st, gsz, ret_eip));
    if (push_err) TRY(pm_stk_push(c, &st, gsz, err));
    /* commit */
    pm_stk_commit(c, &st);
    if (v86) {
        pm_seg_null(&c->seg[SEG_ES], 0); pm_seg_null(&c->seg[SEG_DS], 0);
        pm_seg_null(&c->seg[SEG_FS], 0); pm_seg_null(&c->seg[SEG_GS], 0);
    }
    c->eflags &= ~(FL_TF | FL_NT | FL_RF | FL_VM);
    if (!(type & 1)) c->eflags &= ~FL_IF;                    /* interrupt gate */
    pm_set_cs(c, cs, cd, ncpl, off);
    return EXC_NONE;
}

static bool contributory(int v)
{
    return v == EXC_DE || (v >= EXC_TS && v <= EXC_GP);
}

/* Deliver, handling faults raised on the way (SDM vol. 3 sec. 6.15,
 * "Interrupt 8", table 6-5): benign + anything -> serial delivery of the
 * second; contributory + contributory, #PF + contributory or #PF -> #DF(0);
 * anything while delivering #DF -> shutdown (EXIT_RESET). */
int pm_deliver(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_sw, uint32_t ret_eip)
{
    c->halted = false;
    c->exc_depth = 0;
    for (;;) {
        bool committed;
        int r = deliver_once(c, vec, has_err, err, is_sw, ret_eip, &committed);
        if (r == EXC_NONE || r >= 256) { c->exc_depth = 0; return r; }
        bool h2 = c->exc_has_err;
        uint32_t e2 = c->exc_err;
        /* EXT: raised while delivering an event the program did not ask for */
        if (h2 && !is_sw && (r == EXC_TS || r == EXC_NP || r == EXC_SS || r == EXC_GP)) e2 |= 1;
        if (committed) {                       /* a fault in the new task */
            vec = r; has_err = h2; err = e2; is_sw = false; ret_eip = c->eip;
            if (++c->exc_depth > 4) { c->exc_depth = 0; return EXIT_RESET; }
            continue;
        }
        if (vec == EXC_DF) { c->exc_depth = 0; return EXIT_RESET; }    /* triple fault */
        bool df = (contributory(vec) && contributory(r)) || (vec == EXC_PF && (contributory(r) || r == EXC_PF));
        if (++c->exc_depth > 4) { c->exc_depth = 0; return EXIT_RESET; }
        if (df) { vec = EXC_DF; has_err = true; err = 0; }
        else { vec = r; has_err = h2; err = e2; }
        if (is_sw) ret_eip = c->insn_eip;      /* the fault belongs to INT n */
        is_sw = false;
    }
}

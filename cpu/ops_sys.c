/* cpu/ops_sys.c - system instructions: CPUID, RDTSC, MSRs, control and
 * debug registers, descriptor-table registers, SMSW/LMSW, CLTS, caches,
 * INVLPG, SYSENTER/SYSEXIT, and the protected-mode-only instructions that
 * are #UD in real and V86 mode (SDM vol. 2, each instruction's "Real-Address
 * Mode Exceptions").
 */
#include "cpu/interp_priv.h"
#include "cpu/pmode.h"
#include <string.h>

#define TRY(x) do { int r_ = (x); if (r_ != EXC_NONE) return r_; } while (0)

static inline bool need_cpl0(const struct cpu *c) { return !cpu_real(c) && c->cpl != 0; }

/* CPUID (SDM vol. 2 CPUID): leaf 0 vendor, leaf 1 signature and features,
 * leaf 2 cache descriptors of a Pentium II; others return zeros. */
int op_cpuid(struct cpu *c, const struct insn *in)
{
    (void)in;
    uint32_t leaf = c->r[R_EAX], a = 0, b = 0, cc = 0, d = 0;
    switch (leaf) {
    case 0:
        a = 2;
        memcpy(&b, "Genu", 4); memcpy(&d, "ineI", 4); memcpy(&cc, "ntel", 4);
        break;
    case 1:
        a = c->cpuid_signature; d = c->cpuid_feat_edx;
        break;
    case 2:
        a = 0x03020101; d = 0x0C040843;   /* TLBs, 16K L1s, 512K L2 (P-II) */
        break;
    default:
        break;
    }
    c->r[R_EAX] = a; c->r[R_EBX] = b; c->r[R_ECX] = cc; c->r[R_EDX] = d;
    return EXC_NONE;
}

int op_rdtsc(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (!cpu_real(c) && (c->cr[4] & 0x4) && c->cpl != 0) return fault(c, EXC_GP, 0);   /* CR4.TSD */
    uint64_t t = cpu_tsc_read(c);
    c->r[R_EAX] = (uint32_t)t;
    c->r[R_EDX] = (uint32_t)(t >> 32);
    return EXC_NONE;
}

int op_rdpmc(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (!cpu_real(c) && !(c->cr[4] & 0x100) && c->cpl != 0) return fault(c, EXC_GP, 0);  /* CR4.PCE */
    if (c->r[R_ECX] > 1) return fault(c, EXC_GP, 0);
    c->r[R_EAX] = 0; c->r[R_EDX] = 0;
    return EXC_NONE;
}

/* MSRs of a P6 (SDM vol. 4): TSC, SYSENTER_*, APIC_BASE, MTRRs. Others #GP. */
static int msr_access(struct cpu *c, uint32_t idx, uint64_t **p)
{
    static const uint64_t zero_msr = 0;   /* read-as-zero MSRs: never written (wrmsr ignores them) */
    *p = NULL;
    switch (idx) {
    case 0x10: *p = &c->tsc; break;
    case 0x174: *p = &c->msr_sysenter_cs; break;
    case 0x175: *p = &c->msr_sysenter_esp; break;
    case 0x176: *p = &c->msr_sysenter_eip; break;
    case 0x1B: *p = &c->msr_apic_base; break;
    case 0xC1: case 0xC2: *p = &c->msr_perfctr[idx - 0xC1]; break;       /* PERFCTR0/1 */
    case 0x186: case 0x187: *p = &c->msr_evntsel[idx - 0x186]; break;   /* EVNTSEL0/1 */
    case 0xFE: *p = &c->mtrr_cap_def[0]; break;       /* MTRRcap (read-only) */
    case 0x2FF: *p = &c->mtrr_cap_def[1]; break;      /* MTRRdefType */
    case 0x250: *p = &c->mtrr_fixed[0]; break;
    case 0x258: case 0x259: *p = &c->mtrr_fixed[1 + idx - 0x258]; break;
    default:
        if (idx >= 0x268 && idx <= 0x26F) { *p = &c->mtrr_fixed[3 + idx - 0x268]; break; }
        if (idx >= 0x200 && idx <= 0x20F) { *p = &c->mtrr_var[idx - 0x200]; break; }
        if (idx == 0x8B || idx == 0x17 || idx == 0x79) { *p = (uint64_t *)&zero_msr; break; }  /* microcode, platform id */
        return fault(c, EXC_GP, 0);
    }
    return EXC_NONE;
}

int op_rdmsr(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (need_cpl0(c)) return fault(c, EXC_GP, 0);
    uint64_t *p;
    TRY(msr_access(c, c->r[R_ECX], &p));
    uint64_t v = *p;
    if (c->r[R_ECX] == 0x10) v = cpu_tsc_read(c);
    if (c->r[R_ECX] == 0xFE) v = 0x508;     /* MTRRcap: 8 variable, fixed, WC */
    c->r[R_EAX] = (uint32_t)v;
    c->r[R_EDX] = (uint32_t)(v >> 32);
    return EXC_NONE;
}

int op_wrmsr(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (need_cpl0(c)) return fault(c, EXC_GP, 0);
    uint32_t idx = c->r[R_ECX];
    uint64_t *p, v = ((uint64_t)c->r[R_EDX] << 32) | c->r[R_EAX];
    TRY(msr_access(c, idx, &p));
    if (idx == 0xFE || idx == 0x8B || idx == 0x17 || idx == 0x79) return EXC_NONE;
    if (idx == 0x10 && c->tsc_clock) { c->tsc_offset = v - c->tsc_clock(c->tsc_opaque); return EXC_NONE; }
    *p = v;
    return EXC_NONE;
}

/* MOV to/from CRn (SDM vol. 2 MOV-Control Registers; vol. 3 sec. 2.5) */
int op_mov_from_cr(struct cpu *c, const struct insn *in)
{
    if (cpu_v86(c) || need_cpl0(c)) return fault(c, EXC_GP, 0);
    c->r[in->opnd[0].reg] = c->cr[in->opnd[1].reg];
    return EXC_NONE;
}

int cpu_set_cr(struct cpu *c, int n, uint32_t v);

int op_mov_to_cr(struct cpu *c, const struct insn *in)
{
    if (cpu_v86(c) || need_cpl0(c)) return fault(c, EXC_GP, 0);
    return cpu_set_cr(c, in->opnd[0].reg, c->r[in->opnd[1].reg]);
}

int cpu_set_cr(struct cpu *c, int n, uint32_t v)
{
    switch (n) {
    case 0:
        if ((v & CR0_PG) && !(v & CR0_PE)) return fault(c, EXC_GP, 0);
        if ((v & CR0_NW) && !(v & CR0_CD)) return fault(c, EXC_GP, 0);
        c->cr[0] = (v & 0xE005003Fu) | CR0_ET;
        break;
    case 2: c->cr[2] = v; break;
    case 3: c->cr[3] = v & ~0x7u; break;   /* PAE uses bits 31:5 as the PDPT base (SDM vol. 3 sec. 4.4.1) */
    case 4:
        /* VME PVI TSD DE PSE PAE MCE PGE PCE are defined on a P6 */
        if (v & ~0x000001FFu) return fault(c, EXC_GP, 0);
        c->cr[4] = v;
        break;
    default: return UD(c);
    }
    if (n == 3 && (c->cr[4] & 0x80)) cpu_tlb_flush_nonglobal(c);   /* CR3 keeps global pages */
    else if (n != 2) cpu_tlb_flush(c);    /* paging mode or tables changed */
    return EXC_NONE;
}

int op_mov_from_dr(struct cpu *c, const struct insn *in)
{
    if (cpu_v86(c) || need_cpl0(c)) return fault(c, EXC_GP, 0);
    unsigned n = in->opnd[1].reg;
    if (n == 4 || n == 5) { if (c->cr[4] & 0x8) return UD(c); n += 2; }
    c->r[in->opnd[0].reg] = c->dr[n];
    return EXC_NONE;
}

int op_mov_to_dr(struct cpu *c, const struct insn *in)
{
    if (cpu_v86(c) || need_cpl0(c)) return fault(c, EXC_GP, 0);
    unsigned n = in->opnd[0].reg;
    uint32_t v = c->r[in->opnd[1].reg];
    if (n == 4 || n == 5) { if (c->cr[4] & 0x8) return UD(c); n += 2; }
    if (n == 6) v = (v & 0x0000E00Fu) | 0xFFFF0FF0u;
    else if (n == 7) v = (v & 0xFFFF23FFu) | 0x400u;
    c->dr[n] = v;
    return EXC_NONE;
}

/* LGDT/LIDT/SGDT/SIDT: 6-byte operand; with 16-bit operand size only 24
 * bits of the base are loaded, and SGDT stores the top byte as 0 on a P6. */
static int load_dtr(struct cpu *c, const struct insn *in, struct dtr *d)
{
    if (need_cpl0(c) || cpu_v86(c)) return fault(c, EXC_GP, 0);
    uint32_t ea = insn_ea(c, in), lim, base;
    TRY(mem_rd(c, in->seg, ea, 2, &lim));
    uint32_t ea2 = ea + 2;
    if (in->addrsize == 2) ea2 &= 0xFFFF;
    TRY(mem_rd(c, in->seg, ea2, 4, &base));
    if (in->opsize == 2) base &= 0x00FFFFFF;
    d->limit = (uint16_t)lim;
    d->base = base;
    return EXC_NONE;
}

static int store_dtr(struct cpu *c, const struct insn *in, const struct dtr *d)
{
    uint32_t ea = insn_ea(c, in);
    uint32_t ea2 = ea + 2;
    if (in->addrsize == 2) ea2 &= 0xFFFF;
    TRY(mem_probe_wr(c, in->seg, ea2, 4));
    TRY(mem_wr(c, in->seg, ea, 2, d->limit));
    return mem_wr(c, in->seg, ea2, 4, in->opsize == 2 ? (d->base & 0x00FFFFFF) : d->base);
}

int op_lgdt(struct cpu *c, const struct insn *in) { return load_dtr(c, in, &c->gdtr); }
int op_lidt(struct cpu *c, const struct insn *in) { return load_dtr(c, in, &c->idtr); }
int op_sgdt(struct cpu *c, const struct insn *in) { return store_dtr(c, in, &c->gdtr); }
int op_sidt(struct cpu *c, const struct insn *in) { return store_dtr(c, in, &c->idtr); }

int op_smsw(struct cpu *c, const struct insn *in)
{
    if (in->opnd[0].kind == OPND_MEM) return mem_wr(c, in->seg, insn_ea(c, in), 2, c->cr[0] & 0xFFFF);
    reg_set(c, in->opnd[0].reg, in->opnd[0].size, c->cr[0]);   /* 32-bit: whole CR0 (P6) */
    return EXC_NONE;
}

/* LMSW loads PE MP EM TS; it can set PE but never clear it. */
int op_lmsw(struct cpu *c, const struct insn *in)
{
    if (need_cpl0(c) || cpu_v86(c)) return fault(c, EXC_GP, 0);
    uint32_t v;
    TRY(opnd_read(c, in, 0, &v));
    uint32_t cr0 = (c->cr[0] & ~0xEu) | (v & 0xE) | (c->cr[0] & CR0_PE) | (v & CR0_PE);
    c->cr[0] = cr0;
    cpu_tlb_flush(c);
    return EXC_NONE;
}

int op_clts(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (need_cpl0(c) || cpu_v86(c)) return fault(c, EXC_GP, 0);
    c->cr[0] &= ~CR0_TS;
    return EXC_NONE;
}

int op_invd(struct cpu *c, const struct insn *in)
{
    (void)in;
    if (need_cpl0(c) || cpu_v86(c)) return fault(c, EXC_GP, 0);
    return EXC_NONE;
}

int op_invlpg(struct cpu *c, const struct insn *in)
{
    if (need_cpl0(c) || cpu_v86(c)) return fault(c, EXC_GP, 0);
    cpu_tlb_flush_page(c, c->seg[in->seg].base + insn_ea(c, in));
    return EXC_NONE;
}

/* MMX/SSE/FXSR: reached only when CPUID advertises them, which it does not yet */
int op_mmx(struct cpu *c, const struct insn *in) { (void)in; return UD(c); }
int op_sse(struct cpu *c, const struct insn *in) { (void)in; return UD(c); }
int op_fxsave(struct cpu *c, const struct insn *in) { (void)in; return UD(c); }
int op_fxrstor(struct cpu *c, const struct insn *in) { (void)in; return UD(c); }

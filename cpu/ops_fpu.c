/* cpu/ops_fpu.c - the x87 FPU of the reference interpreter (SDM vol. 1
 * ch. 8, vol. 2 per instruction).
 *
 * Owns: every x87 instruction of a P6 (ESC D8-DF) and WAIT; the #NM rules
 * (CR0.EM/TS, WAIT only with MP&TS), the pending-exception check of waiting
 * instructions (#MF with CR0.NE=1, FERR#/IRQ13 with NE=0: fpu_ferr()),
 * FIP/FCS/FOP/FDP/FDS bookkeeping, and the control instructions done in
 * software: FNINIT, FNCLEX, FLDCW, FNSTCW, FNSTSW, FNSTENV/FLDENV and
 * FNSAVE/FRSTOR in their four layouts (16/32-bit, real/protected mode,
 * SDM vol. 1 figs. 8-9..8-12), FFREE/FFREEP.
 *
 * The numeric work is done by the host's own x87 unit, which computes
 * exactly what a P6 computes for arithmetic, loads and stores of every
 * format, rounding (RC), precision (PC), stack faults, masked responses and
 * the unmasked ones (destination kept, or exponent re-biased): for one
 * instruction the guest state is loaded into the host FPU with FRSTOR, the
 * same instruction runs with its memory operand in a host buffer, and
 * FNSAVE (non-waiting, so the host never traps) brings the state back.
 * The stubs doing that are generated below, 16 bytes each, one per
 * register-form encoding (D8-DF C0-FF) and one per memory form (D8-DF /0-/7
 * with ModRM [rsi]). Transcendental results are the host's (a modern CPU
 * is at least as accurate as a P6; the last bit may differ).
 *
 * Invariants: the guest status word's exception flags are loaded into the
 * host as zero (so a pending unmasked exception can never fire on the
 * host) and ORed back afterwards; ES and B are recomputed as "an unmasked
 * exception flag is set". An instruction that faults (#NM, #MF, #GP, #PF)
 * leaves the FPU and memory untouched: memory operands are read or probed
 * first, a store is written before the register state is committed.
 */
#include "cpu/interp_priv.h"
#include "cpu/fpu_state.h"

#if !defined(__x86_64__)
#error "cpu/ops_fpu.c: the x87 model runs on the host's x87 unit and needs an x86-64 host"
#endif

/* ---- host stubs: endbr64; push rdx; popfq; frstor (rdi); <insn>; pushfq; pop rax;
 *      fnsave (rdi); ret.  rdi = 108-byte save image, rsi = memory operand,
 *      rdx = EFLAGS for FCMOVcc; returns the host RFLAGS (FCOMI). Each stub
 *      fills exactly 16 bytes (.org: the assembler refuses a longer one). */
__asm__(
    ".pushsection .text\n"
    ".globl bt86_fpu_stub_reg\n.hidden bt86_fpu_stub_reg\n"
    ".globl bt86_fpu_stub_mem\n.hidden bt86_fpu_stub_mem\n"
    ".p2align 4\n"
    "bt86_fpu_stub_reg:\n"
    ".set bt86_fb, 0xD8\n"
    ".rept 8\n"
    ".set bt86_fm, 0xC0\n"
    ".rept 64\n"
    "0: endbr64\n push %rdx\n popfq\n frstor (%rdi)\n .byte bt86_fb, bt86_fm\n"
    "pushfq\n pop %rax\n fnsave (%rdi)\n ret\n .org 0b + 16, 0xCC\n"
    ".set bt86_fm, bt86_fm + 1\n"
    ".endr\n"
    ".set bt86_fb, bt86_fb + 1\n"
    ".endr\n"
    "bt86_fpu_stub_mem:\n"
    ".set bt86_fb, 0xD8\n"
    ".rept 8\n"
    ".set bt86_fm, 0x06\n"
    ".rept 8\n"
    "0: endbr64\n push %rdx\n popfq\n frstor (%rdi)\n .byte bt86_fb, bt86_fm\n"
    "pushfq\n pop %rax\n fnsave (%rdi)\n ret\n .org 0b + 16, 0xCC\n"
    ".set bt86_fm, bt86_fm + 8\n"
    ".endr\n"
    ".set bt86_fb, bt86_fb + 1\n"
    ".endr\n"
    ".popsection\n");

extern const uint8_t bt86_fpu_stub_reg[] __attribute__((visibility("hidden")));
extern const uint8_t bt86_fpu_stub_mem[] __attribute__((visibility("hidden")));
typedef uint64_t (*fpu_stub_fn)(uint8_t *img, uint8_t *mem, uint64_t rflags);

#define FSW_EXC   0x003Fu              /* IE DE ZE OE UE PE           */
#define FSW_STICKY 0x007Fu             /* ... and SF                  */
#define FCW_MASKS 0x003Fu

static inline uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static inline void put16(uint8_t *p, uint32_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void put32(uint8_t *p, uint32_t v) { put16(p, v); put16(p + 2, v >> 16); }

static inline unsigned fpu_top(const struct cpu *c) { return FSW_TOP(c->fpu.sw); }
unsigned fpu_phys(const struct cpu *c, unsigned i) { return (fpu_top(c) + i) & 7; }
void fpu_get_st(const struct cpu *c, unsigned i, uint8_t out[10])
{
    memcpy(out, c->fpu.st[fpu_phys(c, i)], 10);
}

bool fpu_ferr(const struct cpu *c)
{
    return !(c->cr[0] & CR0_NE) && (c->fpu.sw & FSW_ES);
}

/* ES and B follow the unmasked exception flags (SDM vol. 1 sec. 8.1.3.1). */
static void fpu_update_es(struct cpu *c)
{
    c->fpu.sw &= (uint16_t)~(FSW_ES | FSW_B);
    if (c->fpu.sw & ~c->fpu.cw & FSW_EXC) c->fpu.sw |= FSW_ES | FSW_B;
}

/* FLDCW/FLDENV: bits 6 (reads as 1) and 13-15 (read as 0) are fixed. */
static uint16_t fpu_cw_fix(uint32_t v) { return (uint16_t)((v & 0x1F3F) | 0x0040); }

/* Tag of a register by its contents (SDM vol. 1 sec. 8.1.7): 0 valid,
 * 1 zero, 2 special (NaN, infinity, denormal, unsupported). */
static unsigned fpu_classify(const uint8_t r[10])
{
    unsigned e = get16(r + 8) & 0x7FFF;
    uint64_t m;
    memcpy(&m, r, 8);
    if (e == 0x7FFF) return 2;
    if (e == 0) return m ? 2 : 1;
    return (m >> 63) ? 0 : 2;
}

/* The tag word as FNSTENV/FNSAVE store it: empty stays empty, the others
 * are recomputed from the register contents. */
static uint16_t fpu_tw_full(const struct cpu *c)
{
    uint16_t tw = 0;
    for (unsigned p = 0; p < 8; p++) {
        unsigned t = (c->fpu.tw >> (2 * p)) & 3;
        if (t != 3) t = fpu_classify(c->fpu.st[p]);
        tw |= (uint16_t)(t << (2 * p));
    }
    return tw;
}

/* Every x87 instruction: #NM when CR0.EM or CR0.TS (SDM vol. 3 table 2-2);
 * a waiting one first delivers a pending unmasked exception as #MF when
 * CR0.NE=1 (vol. 1 sec. 8.6). With NE=0 FERR# is asserted (fpu_ferr) and
 * the instruction proceeds as with IGNNE#. */
static int fpu_enter(struct cpu *c, bool waiting)
{
    if (c->cr[0] & (CR0_EM | CR0_TS)) return fault_noerr(c, EXC_NM);
    if (waiting && (c->fpu.sw & FSW_ES) && (c->cr[0] & CR0_NE)) return fault_noerr(c, EXC_MF);
    return EXC_NONE;
}

/* Last non-control instruction pointers (SDM vol. 1 sec. 8.1.8-8.1.9). */
static void fpu_note(struct cpu *c, const struct insn *in, uint32_t ea)
{
    c->fpu.fip = c->insn_eip;
    c->fpu.fcs = c->seg[SEG_CS].sel;
    c->fpu.fop = (uint16_t)(((in->opc & 7) << 8) | in->modrm);
    if (in->mod != 3) {
        c->fpu.fdp = ea;
        c->fpu.fds = c->seg[in->seg].sel;
    }
}

/* ---- guest memory in whole operands (all sizes are even) ---- */
static int fmem_read(struct cpu *c, int s, uint32_t off, unsigned n, uint8_t *buf)
{
    for (unsigned k = 0; k < n;) {
        unsigned sz = n - k >= 4 ? 4 : 2;
        uint32_t v;
        int r = mem_rd(c, s, off + k, sz, &v);
        if (r != EXC_NONE) return r;
        if (sz == 4) put32(buf + k, v); else put16(buf + k, v);
        k += sz;
    }
    return EXC_NONE;
}
static int fmem_probe(struct cpu *c, int s, uint32_t off, unsigned n)
{
    for (unsigned k = 0; k < n;) {
        unsigned sz = n - k >= 4 ? 4 : 2;
        int r = mem_probe_wr(c, s, off + k, sz);
        if (r != EXC_NONE) return r;
        k += sz;
    }
    return EXC_NONE;
}
/* probe everything, then write: no partial store on a fault */
static int fmem_write(struct cpu *c, int s, uint32_t off, unsigned n, const uint8_t *buf)
{
    int r = fmem_probe(c, s, off, n);
    if (r != EXC_NONE) return r;
    for (unsigned k = 0; k < n;) {
        unsigned sz = n - k >= 4 ? 4 : 2;
        r = mem_wr(c, s, off + k, sz, sz == 4 ? get32(buf + k) : get16(buf + k));
        if (r != EXC_NONE) return r;
        k += sz;
    }
    return EXC_NONE;
}

static unsigned fpu_opnd_bytes(unsigned type)
{
    switch (type) {
    case OT_Mf32: case OT_Mi32: return 4;
    case OT_Mf64: case OT_Mi64: return 8;
    case OT_Mf80: case OT_Mbcd: return 10;
    default: return 2;    /* Mi16, Mw */
    }
}

/* memory forms that write their operand */
static bool fpu_is_store(unsigned opc, unsigned regf)
{
    switch (opc) {
    case 0xD9: return regf == 2 || regf == 3;
    case 0xDB: return regf == 1 || regf == 2 || regf == 3 || regf == 7;
    case 0xDD: return regf == 1 || regf == 2 || regf == 3;
    case 0xDF: return regf == 1 || regf == 2 || regf == 3 || regf == 6 || regf == 7;
    default: return false;
    }
}

/* ---- guest state <-> host FSAVE image (32-bit protected-mode layout) ---- */
static void fpu_to_host(const struct cpu *c, uint8_t img[108])
{
    memset(img, 0, 108);
    put16(img + 0, c->fpu.cw);
    put16(img + 4, c->fpu.sw & ~(FSW_STICKY | FSW_ES | FSW_B));
    put16(img + 8, c->fpu.tw);
    unsigned top = fpu_top(c);
    for (unsigned i = 0; i < 8; i++) memcpy(img + 28 + 10 * i, c->fpu.st[(top + i) & 7], 10);
}
static void fpu_from_host(struct cpu *c, const uint8_t img[108])
{
    uint16_t sw = get16(img + 4);
    c->fpu.sw = (uint16_t)((sw & ~(FSW_ES | FSW_B)) | (c->fpu.sw & FSW_STICKY));
    c->fpu.tw = get16(img + 8);
    unsigned top = FSW_TOP(sw);
    for (unsigned i = 0; i < 8; i++) memcpy(c->fpu.st[(top + i) & 7], img + 28 + 10 * i, 10);
    fpu_update_es(c);
}

/* Run one numeric instruction on the host x87 (see the file comment). */
static int fpu_exec(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, true);
    if (r != EXC_NONE) return r;
    uint8_t img[108], mem[16] = { 0 };
    const uint8_t *stub;
    unsigned n = 0, opc = in->opc;
    bool store = false;
    uint32_t ea = 0;
    if (in->mod != 3) {
        n = fpu_opnd_bytes(in->opnd[0].type);
        store = fpu_is_store(opc, in->regf);
        ea = insn_ea(c, in);
        r = store ? fmem_probe(c, in->seg, ea, n) : fmem_read(c, in->seg, ea, n, mem);
        if (r != EXC_NONE) return r;
        stub = bt86_fpu_stub_mem + ((opc - 0xD8) * 8 + in->regf) * 16;
    } else {
        /* the P6's alias encodings run as their documented twins */
        unsigned m = in->modrm, i = m & 7;
        if (opc == 0xD9 && in->regf == 3) { opc = 0xDD; m = 0xD8 + i; }              /* FSTP1 */
        else if (opc == 0xDC && in->regf == 2) { opc = 0xD8; m = 0xD0 + i; }         /* FCOM2 */
        else if (opc == 0xDC && in->regf == 3) { opc = 0xD8; m = 0xD8 + i; }         /* FCOMP3 */
        else if (opc == 0xDE && in->regf == 2) { opc = 0xD8; m = 0xD8 + i; }         /* FCOMP5 */
        else if ((opc == 0xDD || opc == 0xDF) && in->regf == 1) { opc = 0xD9; m = 0xC8 + i; } /* FXCH4/7 */
        else if (opc == 0xDF && (in->regf == 2 || in->regf == 3)) { opc = 0xDD; m = 0xD8 + i; } /* FSTP8/9 */
        stub = bt86_fpu_stub_reg + ((opc - 0xD8) * 64 + (m - 0xC0)) * 16;
    }
    fpu_to_host(c, img);
    fpu_stub_fn fn = (fpu_stub_fn)(uintptr_t)stub;
    uint16_t host_cw;                 /* FNSAVE re-inits: keep the host's own RC/PC */
    __asm__ volatile("fnstcw %0" : "=m"(host_cw));
    uint64_t hfl = fn(img, mem, 0x2 | (c->eflags & (FL_CF | FL_PF | FL_ZF)));
    __asm__ volatile("fldcw %0" : : "m"(host_cw));
    uint16_t unmasked = get16(img + 4) & ~c->fpu.cw & FSW_EXC;
    /* an unmasked IE/DE/ZE/OE/UE leaves a memory destination unwritten
     * (SDM vol. 1 sec. 4.9.2, 8.5); an unmasked PE still stores */
    if (store && !(unmasked & (FSW_IE | FSW_DE | FSW_ZE | FSW_OE | FSW_UE))) {
        r = fmem_write(c, in->seg, ea, n, mem);
        if (r != EXC_NONE) return r;
    }
    fpu_from_host(c, img);
    /* FCOMI/FCOMIP/FUCOMI/FUCOMIP: ZF PF CF from the compare, OF SF AF
     * cleared; nothing when the invalid-operation exception is unmasked */
    if (in->mod == 3 && (in->opc == 0xDB || in->opc == 0xDF) && (in->regf == 5 || in->regf == 6)
        && !(unmasked & FSW_IE))
        flags_set(c, FL_ARITH, (uint32_t)hfl & (FL_ZF | FL_PF | FL_CF));
    fpu_note(c, in, ea);
    return EXC_NONE;
}

#define FPU_HOST(name) int op_##name(struct cpu *c, const struct insn *in) { return fpu_exec(c, in); }
FPU_HOST(fpu_arith) FPU_HOST(fpu_com) FPU_HOST(fpu_comi) FPU_HOST(fpu_ld) FPU_HOST(fpu_st)
FPU_HOST(fpu_xch) FPU_HOST(fpu_unary) FPU_HOST(fpu_xam) FPU_HOST(fpu_ldconst) FPU_HOST(fpu_binary)
FPU_HOST(fpu_stackop) FPU_HOST(fpu_cmov)

/* FNOP is a waiting non-control instruction; FNENI, FNDISI and FNSETPM are
 * no-operations on a P6 that wait for nothing (SDM vol. 1 sec. 8.3.13). */
int op_fpu_nop(struct cpu *c, const struct insn *in)
{
    bool is_fnop = in->opc == 0xD9;
    int r = fpu_enter(c, is_fnop);
    if (r != EXC_NONE) return r;
    if (is_fnop) fpu_note(c, in, 0);
    return EXC_NONE;
}

/* FFREE ST(i): tag empty; FFREEP also pops (TOP+1). */
int op_fpu_free(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, true);
    if (r != EXC_NONE) return r;
    unsigned p = fpu_phys(c, in->rm);
    c->fpu.tw |= (uint16_t)(3u << (2 * p));
    if (in->opc == 0xDF) {
        unsigned top = (fpu_top(c) + 1) & 7;
        c->fpu.sw = (uint16_t)((c->fpu.sw & ~0x3800u) | top << 11);
    }
    fpu_note(c, in, 0);
    return EXC_NONE;
}

/* FNINIT (SDM vol. 2 FINIT): registers keep their contents. */
static void fpu_do_init(struct cpu *c)
{
    c->fpu.cw = 0x037F;
    c->fpu.sw = 0;
    c->fpu.tw = 0xFFFF;
    c->fpu.fip = c->fpu.fdp = 0;
    c->fpu.fcs = c->fpu.fds = 0;
    c->fpu.fop = 0;
}
int op_fpu_init(struct cpu *c, const struct insn *in)
{
    (void)in;
    int r = fpu_enter(c, false);
    if (r != EXC_NONE) return r;
    fpu_do_init(c);
    return EXC_NONE;
}

/* FNCLEX: PE UE OE ZE DE IE SF ES B cleared. */
int op_fpu_clex(struct cpu *c, const struct insn *in)
{
    (void)in;
    int r = fpu_enter(c, false);
    if (r != EXC_NONE) return r;
    c->fpu.sw &= (uint16_t)~(FSW_STICKY | FSW_ES | FSW_B);
    return EXC_NONE;
}

/* FLDCW m16: a waiting instruction; unmasking a flagged exception sets ES
 * so the next waiting instruction reports it. */
int op_fpu_ldcw(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, true);
    if (r != EXC_NONE) return r;
    uint32_t v;
    r = mem_rd(c, in->seg, insn_ea(c, in), 2, &v);
    if (r != EXC_NONE) return r;
    c->fpu.cw = fpu_cw_fix(v);
    fpu_update_es(c);
    return EXC_NONE;
}

int op_fpu_stcw(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, false);
    if (r != EXC_NONE) return r;
    return mem_wr(c, in->seg, insn_ea(c, in), 2, c->fpu.cw);
}

/* FNSTSW m16 / FNSTSW AX */
int op_fpu_stsw(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, false);
    if (r != EXC_NONE) return r;
    if (in->mod == 3) { reg_set(c, R_EAX, 2, c->fpu.sw); return EXC_NONE; }
    return mem_wr(c, in->seg, insn_ea(c, in), 2, c->fpu.sw);
}

/* ---- environment images (SDM vol. 1 figs. 8-9..8-12). Real mode and
 * virtual-8086 mode store the 20/32-bit linear instruction and operand
 * addresses (CS*16+IP); the 32-bit protected-mode form keeps FCS:FIP and
 * FDS:FDP. Reserved halves of the 32-bit forms are stored as all ones, as
 * Intel processors do. Returns the image size (14 or 28). ---- */
static bool fpu_pm_layout(const struct cpu *c) { return !cpu_real(c) && !cpu_v86(c); }

static unsigned fpu_env_store(const struct cpu *c, bool o32, uint8_t *e)
{
    bool pm = fpu_pm_layout(c);
    uint16_t tw = fpu_tw_full(c);
    uint32_t lip = c->fpu.fip + ((uint32_t)c->fpu.fcs << 4);
    uint32_t ldp = c->fpu.fdp + ((uint32_t)c->fpu.fds << 4);
    uint16_t fop = c->fpu.fop & 0x7FF;
    if (o32) {
        memset(e, 0xFF, 28);
        put16(e + 0, c->fpu.cw);
        put16(e + 4, c->fpu.sw);
        put16(e + 8, tw);
        if (pm) {
            put32(e + 12, c->fpu.fip);
            put32(e + 16, c->fpu.fcs | (uint32_t)fop << 16);
            put32(e + 20, c->fpu.fdp);
            put16(e + 24, c->fpu.fds);
        } else {
            put16(e + 12, lip);
            put32(e + 16, (lip >> 16) << 12 | fop);
            put16(e + 20, ldp);
            put32(e + 24, (ldp >> 16) << 12);
        }
        return 28;
    }
    put16(e + 0, c->fpu.cw);
    put16(e + 2, c->fpu.sw);
    put16(e + 4, tw);
    if (pm) {
        put16(e + 6, c->fpu.fip);
        put16(e + 8, c->fpu.fcs);
        put16(e + 10, c->fpu.fdp);
        put16(e + 12, c->fpu.fds);
    } else {
        put16(e + 6, lip);
        put16(e + 8, ((lip >> 16) & 0xF) << 12 | fop);
        put16(e + 10, ldp);
        put16(e + 12, ((ldp >> 16) & 0xF) << 12);
    }
    return 14;
}

static void fpu_env_load(struct cpu *c, bool o32, const uint8_t *e)
{
    bool pm = fpu_pm_layout(c);
    if (o32) {
        c->fpu.cw = fpu_cw_fix(get16(e + 0));
        c->fpu.sw = get16(e + 4);
        c->fpu.tw = get16(e + 8);
        if (pm) {
            c->fpu.fip = get32(e + 12);
            c->fpu.fcs = get16(e + 16);
            c->fpu.fop = get16(e + 18) & 0x7FF;
            c->fpu.fdp = get32(e + 20);
            c->fpu.fds = get16(e + 24);
        } else {
            c->fpu.fip = get16(e + 12) | ((get32(e + 16) >> 12) & 0xFFFF) << 16;
            c->fpu.fop = get16(e + 16) & 0x7FF;
            c->fpu.fdp = get16(e + 20) | ((get32(e + 24) >> 12) & 0xFFFF) << 16;
            c->fpu.fcs = c->fpu.fds = 0;
        }
    } else {
        c->fpu.cw = fpu_cw_fix(get16(e + 0));
        c->fpu.sw = get16(e + 2);
        c->fpu.tw = get16(e + 4);
        if (pm) {
            c->fpu.fip = get16(e + 6);
            c->fpu.fcs = get16(e + 8);
            c->fpu.fdp = get16(e + 10);
            c->fpu.fds = get16(e + 12);
        } else {
            c->fpu.fip = get16(e + 6) | (uint32_t)(get16(e + 8) >> 12) << 16;
            c->fpu.fop = get16(e + 8) & 0x7FF;
            c->fpu.fdp = get16(e + 10) | (uint32_t)(get16(e + 12) >> 12) << 16;
            c->fpu.fcs = c->fpu.fds = 0;
        }
    }
    fpu_update_es(c);
}

/* FNSTENV: store the environment, then mask every exception. */
int op_fpu_stenv(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, false);
    if (r != EXC_NONE) return r;
    uint8_t e[28];
    unsigned n = fpu_env_store(c, in->opsize == 4, e);
    r = fmem_write(c, in->seg, insn_ea(c, in), n, e);
    if (r != EXC_NONE) return r;
    c->fpu.cw |= FCW_MASKS;
    fpu_update_es(c);
    return EXC_NONE;
}

int op_fpu_ldenv(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, true);
    if (r != EXC_NONE) return r;
    uint8_t e[28];
    unsigned n = in->opsize == 4 ? 28 : 14;
    r = fmem_read(c, in->seg, insn_ea(c, in), n, e);
    if (r != EXC_NONE) return r;
    fpu_env_load(c, in->opsize == 4, e);
    return EXC_NONE;
}

/* FNSAVE: environment + ST(0)..ST(7) in stack order, then FNINIT. */
int op_fpu_save(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, false);
    if (r != EXC_NONE) return r;
    uint8_t img[108];
    unsigned n = fpu_env_store(c, in->opsize == 4, img);
    for (unsigned i = 0; i < 8; i++) fpu_get_st(c, i, img + n + 10 * i);
    r = fmem_write(c, in->seg, insn_ea(c, in), n + 80, img);
    if (r != EXC_NONE) return r;
    fpu_do_init(c);
    return EXC_NONE;
}

int op_fpu_rstor(struct cpu *c, const struct insn *in)
{
    int r = fpu_enter(c, true);
    if (r != EXC_NONE) return r;
    uint8_t img[108];
    unsigned n = in->opsize == 4 ? 28 : 14;
    r = fmem_read(c, in->seg, insn_ea(c, in), n + 80, img);
    if (r != EXC_NONE) return r;
    fpu_env_load(c, in->opsize == 4, img);
    unsigned top = fpu_top(c);
    for (unsigned i = 0; i < 8; i++) memcpy(c->fpu.st[(top + i) & 7], img + n + 10 * i, 10);
    return EXC_NONE;
}

void fpu_fxsave_x87(const struct cpu *c, uint8_t img[512])
{
    memset(img, 0, 24);
    memset(img + 32, 0, 128);
    put16(img + 0, c->fpu.cw);
    put16(img + 2, c->fpu.sw);
    uint8_t ab = 0;                   /* abridged tag: 1 = not empty */
    for (unsigned p = 0; p < 8; p++)
        if (((c->fpu.tw >> (2 * p)) & 3) != 3) ab |= (uint8_t)(1u << p);
    img[4] = ab;
    put16(img + 6, c->fpu.fop & 0x7FF);
    put32(img + 8, c->fpu.fip);
    put16(img + 12, c->fpu.fcs);
    put32(img + 16, c->fpu.fdp);
    put16(img + 20, c->fpu.fds);
    for (unsigned i = 0; i < 8; i++) fpu_get_st(c, i, img + 32 + 16 * i);
}

void fpu_fxrstor_x87(struct cpu *c, const uint8_t img[512])
{
    c->fpu.cw = fpu_cw_fix(get16(img + 0));
    c->fpu.sw = get16(img + 2);
    c->fpu.fop = get16(img + 6) & 0x7FF;
    c->fpu.fip = get32(img + 8);
    c->fpu.fcs = get16(img + 12);
    c->fpu.fdp = get32(img + 16);
    c->fpu.fds = get16(img + 20);
    unsigned top = fpu_top(c);
    for (unsigned i = 0; i < 8; i++) memcpy(c->fpu.st[(top + i) & 7], img + 32 + 16 * i, 10);
    uint16_t tw = 0;                  /* full tags rebuilt from the contents */
    for (unsigned p = 0; p < 8; p++)
        tw |= (uint16_t)(((img[4] >> p) & 1 ? fpu_classify(c->fpu.st[p]) : 3u) << (2 * p));
    c->fpu.tw = tw;
    fpu_update_es(c);
}

/* WAIT/FWAIT: #NM only when both MP and TS are set; then a pending
 * unmasked exception is delivered as #MF (CR0.NE=1). */
int op_fwait(struct cpu *c, const struct insn *in)
{
    (void)in;
    if ((c->cr[0] & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS)) return fault_noerr(c, EXC_NM);
    if ((c->fpu.sw & FSW_ES) && (c->cr[0] & CR0_NE)) return fault_noerr(c, EXC_MF);
    return EXC_NONE;
}

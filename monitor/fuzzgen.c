/* monitor/fuzzgen.c - the instruction-sequence generator of `bt86 test diff`.
 *
 * Owns: turning a seed into a struct fuzz_case (see monitor/fuzzgen.h for
 * the invariants every case keeps). Main instructions are drawn from the
 * rows of cpu/opcodes.def that are user-level and deterministic; their
 * bytes are built from the row's operand types and decoded back with the
 * project's decoder (cpu/decode.c) to learn the row, its length and its
 * flag columns. Group kinds (per group, by chance): a table row with its
 * setup (~68 %), a forward branch (Jcc/JMP/CALL rel, LOOPcc/JECXZ, JMP/CALL
 * through a register or memory, PUSH+RET), a string instruction (REP counts
 * up to 16, sometimes thousands; overlapping operands), a fault probe (#UD
 * opcodes, LOCK misuse, the 15-byte limit, privileged and I/O instructions:
 * #GP), PUSH+POPF, a store into the next instruction's immediate, a loop
 * that patches its own body each iteration, a counted loop around a table
 * row (ECX never written inside). For engine pairs (not the host), two
 * more kinds of case: cfg.system (CPL 0) adds privileged instructions
 * (gen_system) and keeps only the #UD fault probes; cfg.code16 turns every
 * group into 16-bit code by toggling 0x66/0x67 (to_code16: same meaning).
 * Excluded, with the reason:
 *  - A_PRIV/A_IO/A_FPU and feature rows: privileged and port I/O (kept
 *    only as #GP probes: CPL 3, IOPL 0, no I/O bitmap as Linux runs us),
 *    x87 (not in the interpreter yet), MMX/SSE (absent from the model);
 *  - segment loads (MOV Sreg, POP Sreg, LxS, far transfers, IRET, INT n):
 *    they would need a mirror of Linux's GDT/IDT in the interpreter (and
 *    the task's brief leaves them out);
 *  - PUSH Sreg with a 32-bit operand size (the upper word is model
 *    specific: SDM vol. 2 PUSH); FS/GS overrides (Linux's FS/GS bases);
 *  - LAR/LSL/VERR/VERW/SLDT/STR/SGDT/SIDT/SMSW: read the host's descriptor
 *    tables or are emulated by Linux under UMIP;
 *  - CPUID/RDTSC/RDPMC: values differ by design;
 *  - INT3/INTO/INT1: trap delivery goes through the kernel's gates;
 *  - F2/F3 on non-string opcodes: on this host F3 0F BC is TZCNT etc.;
 *  - 66 on near branches: EIP would be truncated to 16 bits (outside the code);
 *  - SHLD/SHRD 16-bit with a count above 16 and BSWAP with 66 (results
 *    undefined, SDM vol. 2); LES/LDS/BOUND register forms (#UD on a P6, but
 *    VEX/EVEX prefixes on this AVX-512 host: C4/C5/62 with ModRM.mod = 3).
 */
#include "monitor/fuzzgen.h"
#include "cpu/decode.h"
#include "cpu/opcodes.h"
#include <string.h>

/* ---- random numbers (splitmix64) ---- */
struct rng { uint64_t s; };
static uint64_t rnd(struct rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static uint32_t rn(struct rng *r, uint32_t n) { return n ? (uint32_t)(rnd(r) % n) : 0; }
static bool chance(struct rng *r, unsigned pct) { return rn(r, 100) < pct; }

uint64_t fuzzgen_case_seed(uint64_t seed, uint64_t i)
{
    if (i == 0) return seed;
    struct rng r = { seed ^ (i * 0xD1B54A32D192ED03ull) };
    return rnd(&r);
}

/* A register or immediate value biased to edge cases. */
static uint32_t edge_val(struct rng *r)
{
    static const uint32_t edges[] = {
        0, 1, 2, 3, 0xFFFFFFFFu, 0x7FFFFFFFu, 0x80000000u, 0x80000001u, 0xFFFFFFFEu,
        0xFFFF, 0x8000, 0x7FFF, 0xFF, 0x80, 0x7F, 0x10000, 0xFFFF0000u, 0x0000FF00u,
        8, 15, 16, 17, 31, 32, 33, 63, 64, 0x99, 0x0A, 0x09, 0xFFFF8000u, 0xFFFFFF80u,
    };
    switch (rn(r, 10)) {
    case 0: case 1: case 2: return edges[rn(r, sizeof edges / sizeof edges[0])];
    case 3: return rn(r, 256);
    case 4: return (uint32_t)rnd(r) & 0xFFFF;
    case 5: return (uint32_t)-(int32_t)rn(r, 256);
    default: return (uint32_t)rnd(r);
    }
}
static uint32_t count_val(struct rng *r)
{
    static const uint8_t c[] = { 0, 1, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 63, 255 };
    return chance(r, 80) ? c[rn(r, sizeof c)] : rn(r, 256);
}

/* ---- the rows main instructions come from ---- */
static const char *const excluded_handlers[] = {
    "popseg", "mov_to_seg", "lseg", "lar", "lsl", "verr", "verw", "sldt", "str",
    "sgdt", "sidt", "smsw", "cpuid", "rdtsc", "rdpmc", "sysenter", "int", "int3",
    "into", "int1", "iret", "callf", "jmpf", "retf", "hlt", "cli", "sti", "popf",
    "ud", "movs", "cmps", "stos", "lods", "scas", "ins", "outs", "ret", "call", "jmp",
    "jcc", "loop", "loope", "loopne", "jcxz", "bswap_", NULL,
};

static uint16_t rows[1024];
static unsigned nrows;

static void rows_init(void)
{
    if (nrows) return;
    for (unsigned op = 0; op < OP_COUNT; op++) {
        const struct opinfo *o = &optab[op];
        if (o->map > 1 || o->pfx) continue;
        if (o->attrs & (A_PRIV | A_IO | A_FPU | A_FEATURES | A_BRANCH)) continue;
        bool bad = false;
        for (int i = 0; excluded_handlers[i]; i++)
            if (!strcmp(o->handler, excluded_handlers[i])) bad = true;
        /* sensitive rows that behave identically at CPL 3, flat model */
        if ((o->attrs & A_SENS) && strcmp(o->handler, "push") && strcmp(o->handler, "pushf") &&
            strcmp(o->handler, "mov_from_seg") && strcmp(o->handler, "arpl"))
            bad = true;
        if (!bad && nrows < sizeof rows / sizeof rows[0]) rows[nrows++] = (uint16_t)op;
    }
}

unsigned fuzzgen_row_count(void)
{
    rows_init();
    return nrows;
}

/* ---- generation state ---- */
struct gen {
    struct rng r;
    const struct fuzz_cfg *cfg;
    uint32_t poison;            /* flags left undefined so far            */
    uint32_t mid;               /* middle of the data area                */
    bool keep_ecx;              /* generating a LOOP body: never write ECX */
    bool bail;                  /* gen_row could not honour keep_ecx      */
    uint32_t extra_fu;          /* undefined flags of a LOOP body         */
};

/* Registers an instruction must not write at operand size `size`: ESP
 * (the stack stays in the data area) and, in a LOOP body, ECX (CL and CH). */
static uint32_t wforbid(const struct gen *g, unsigned size)
{
    if (size == 1) return g->keep_ecx ? (1u << 1 | 1u << 5) : 0;
    return 1u << 4 | (g->keep_ecx ? 1u << 1 : 0);
}

struct buf { uint8_t b[FUZZ_GROUP_MAX]; unsigned n; };
static void put8(struct buf *b, uint32_t v) { if (b->n < FUZZ_GROUP_MAX) b->b[b->n++] = (uint8_t)v; }
static void put16(struct buf *b, uint32_t v) { put8(b, v); put8(b, v >> 8); }
static void put32(struct buf *b, uint32_t v) { put16(b, v); put16(b, v >> 16); }
static void putn(struct buf *b, uint32_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) put8(b, v >> (8 * i));
}
static void set_reg(struct buf *b, unsigned reg, uint32_t v) { put8(b, 0xB8 + reg); put32(b, v); }

/* A target address for an access of `asz` bytes with `margin` bytes of
 * slack each side, biased to straddle a page boundary. */
static uint32_t pick_addr(struct gen *g, unsigned asz, unsigned margin)
{
    uint32_t lo = g->cfg->data_base + margin;
    uint32_t hi = g->cfg->data_base + g->cfg->data_size - asz - margin;
    uint32_t a;
    if (chance(&g->r, 35)) {
        unsigned pages = g->cfg->data_size / 4096;
        uint32_t p = g->cfg->data_base + 4096 * (1 + rn(&g->r, pages - 1));
        a = p - (asz > 1 ? 1 + rn(&g->r, asz - 1) : rn(&g->r, 2));
    } else {
        a = lo + rn(&g->r, hi - lo + 1);
        if (chance(&g->r, 30)) a &= ~(uint32_t)(asz >= 4 ? 3 : asz - 1);
    }
    if (a < lo) a = lo;
    if (a > hi) a = hi;
    return a;
}

static uint32_t pick_mid(struct gen *g, uint32_t spread)
{
    return g->mid - spread + rn(&g->r, 2 * spread);
}

static unsigned pick_reg(struct gen *g, uint32_t forbid)
{
    for (int t = 0; t < 64; t++) {
        unsigned r = rn(&g->r, 8);
        if (!(forbid & (1u << r))) return r;
    }
    for (unsigned r = 0; r < 8; r++)
        if (!(forbid & (1u << r))) return r;
    return 0;
}

/* Encode a memory ModRM (reg field `regf`) addressing [A, A+asz) into
 * `m` (ModRM, SIB, displacement), with setup instructions into `s`.
 * `forbid`: registers the setup must not change. */
static void mem_operand(struct gen *g, struct buf *s, struct buf *m, unsigned regf, bool a16,
                        unsigned asz, unsigned margin, uint32_t forbid)
{
    uint32_t A = pick_addr(g, asz, margin);
    struct rng *r = &g->r;
    forbid |= 1u << 4;
    if (a16) {
        static const int8_t b16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 }, i16[8] = { 6, 7, 6, 7, -1, -1, -1, -1 };
        for (int t = 0; t < 32; t++) {
            unsigned rm = rn(r, 8), mod = rn(r, 3);
            bool absolute = (mod == 0 && rm == 6);
            if (!absolute && ((forbid >> b16[rm]) & 1)) continue;
            if (!absolute && i16[rm] >= 0 && ((forbid >> i16[rm]) & 1)) continue;
            put8(m, mod << 6 | regf << 3 | rm);
            if (absolute) { put16(m, A); return; }
            uint32_t disp = mod == 1 ? (uint32_t)(int32_t)(int8_t)rnd(r) : mod == 2 ? (uint32_t)rnd(r) & 0xFFFF : 0;
            uint32_t v1 = 0;
            if (i16[rm] >= 0) {
                v1 = (uint32_t)rnd(r) & 0xFFFF;
                set_reg(s, (unsigned)i16[rm], ((uint32_t)rnd(r) & 0xFFFF0000u) | v1);
            }
            set_reg(s, (unsigned)b16[rm], ((uint32_t)rnd(r) & 0xFFFF0000u) | ((A - v1 - disp) & 0xFFFF));
            if (mod == 1) put8(m, disp);
            else if (mod == 2) put16(m, disp);
            return;
        }
        put8(m, 0 << 6 | regf << 3 | 6);
        put16(m, A);
        return;
    }
    unsigned form = rn(r, 10);
    if (form == 0 || (forbid & 0xEF) == 0xEF) {          /* [disp32] */
        put8(m, regf << 3 | 5);
        put32(m, A);
        return;
    }
    if (form == 1) {                                     /* [esp+disp8]: ESP stays mid-area */
        int32_t d = (int32_t)rn(r, 256) - 128;
        put8(m, 1 << 6 | regf << 3 | 4);
        put8(m, 4 << 3 | 4);                             /* SIB: no index, base ESP */
        put8(m, (uint32_t)d);
        return;
    }
    unsigned mod = rn(r, 3);
    uint32_t disp = mod == 1 ? (uint32_t)(int32_t)(int8_t)rnd(r) : mod == 2 ? (chance(r, 50) ? edge_val(r) : (uint32_t)rnd(r)) : 0;
    if (form <= 5) {                                     /* [base + disp] */
        unsigned b = pick_reg(g, forbid | (mod == 0 ? 1u << 5 : 0));
        put8(m, mod << 6 | regf << 3 | b);
        if (mod == 1) put8(m, disp); else if (mod == 2) put32(m, disp);
        set_reg(s, b, A - disp);
        return;
    }
    /* SIB: [base + index*scale + disp] or [index*scale + disp32] */
    unsigned sc = rn(r, 4), idx = pick_reg(g, forbid);
    bool nobase = (mod == 0 && chance(r, 30));
    uint32_t iv = chance(r, 50) ? edge_val(r) : rn(r, 64);
    if (nobase) {
        disp = A - (iv << sc);
        put8(m, 0 << 6 | regf << 3 | 4);
        put8(m, sc << 6 | idx << 3 | 5);
        put32(m, disp);
        set_reg(s, idx, iv);
        return;
    }
    unsigned b = pick_reg(g, forbid | 1u << idx | (mod == 0 ? 1u << 5 : 0));
    put8(m, mod << 6 | regf << 3 | 4);
    put8(m, sc << 6 | idx << 3 | b);
    if (mod == 1) put8(m, disp); else if (mod == 2) put32(m, disp);
    set_reg(s, idx, iv);
    set_reg(s, b, A - disp - (iv << sc));
}

/* ---- operand-type facts ---- */
static bool ot_E(int t) { return t == OT_Eb || t == OT_Ew || t == OT_Ed || t == OT_Ev || t == OT_Evw; }
static bool ot_M(int t)
{
    return t == OT_M || t == OT_Mb || t == OT_Mw || t == OT_Md || t == OT_Mq || t == OT_Mv ||
           t == OT_Mp || t == OT_Ma || t == OT_Ms;
}
static bool ot_R(int t) { return t == OT_Rd || t == OT_Rw || t == OT_Rv; }
static bool ot_G(int t) { return t == OT_Gb || t == OT_Gw || t == OT_Gd || t == OT_Gv; }
static unsigned ot_size(int t, unsigned os, bool mem)
{
    switch (t) {
    case OT_Eb: case OT_Gb: case OT_Mb: case OT_Zb: case OT_Ib: case OT_Ibs: case OT_Ob: return 1;
    case OT_Ew: case OT_Gw: case OT_Mw: case OT_Iw: case OT_Sw: return 2;
    case OT_Ed: case OT_Gd: case OT_Md: case OT_Rd: return 4;
    case OT_Evw: return mem ? 2 : os;
    case OT_Ma: return 2 * os;
    case OT_Mq: return 8;
    case OT_M: return 1;
    default: return os;
    }
}

static bool handler_is(uint16_t op, const char *h) { return !strcmp(optab[op].handler, h); }

/* Does the row write operand k (0 or 1)? (for keeping ESP out of it) */
static bool writes_opnd(uint16_t op, int k)
{
    const char *h = optab[op].handler;
    if (k == 0)
        return strcmp(h, "cmp") && strcmp(h, "test") && strcmp(h, "bt") && strcmp(h, "push") &&
               strcmp(h, "bound") && strcmp(h, "nop");
    return !strcmp(h, "xchg") || !strcmp(h, "xadd");
}

/* Build the main instruction for table row `op` into *s (setup) and *m. */
static void gen_row(struct gen *g, uint16_t op, struct buf *s, struct buf *m)
{
    const struct opinfo *o = &optab[op];
    struct rng *r = &g->r;
    bool o16 = chance(r, 25);
    if (handler_is(op, "bswap")) o16 = false;
    /* PUSH Sreg with a 32-bit operand size writes either a zero-extended
     * dword or only the low word (SDM vol. 2 PUSH: "all recent Core and Atom
     * processors perform a 16-bit move"; this AMD host zero-extends): model
     * specific, so only the 16-bit form is compared. */
    if (handler_is(op, "push") && o->ot[0] >= OT_ES && o->ot[0] <= OT_GS) o16 = true;
    unsigned os = o16 ? 2 : 4;
    bool has_mem = false, has_modrm = o->ext != NOX, force_mem = false, force_reg = false;
    for (int k = 0; k < 3; k++) {
        int t = o->ot[k];
        if (ot_E(t) || ot_G(t) || ot_R(t) || t == OT_Sw) has_modrm = true;
        if (ot_M(t)) { has_modrm = true; force_mem = true; }
        if (ot_R(t)) force_reg = true;
    }
    if ((o->ext & 0xF00) == 0x200 || (o->ext & 0xF00) == 0x800) force_reg = true;
    if ((o->ext & 0xF00) == 0x400) force_mem = true;
    if (has_modrm) has_mem = force_mem || (!force_reg && chance(r, 50));
    bool moffs = (o->ot[0] == OT_Ob || o->ot[0] == OT_Ov || o->ot[1] == OT_Ob || o->ot[1] == OT_Ov);
    bool xlat = handler_is(op, "xlat");
    bool a16 = chance(r, 12) && (g->cfg->mem16 || !(has_mem || moffs || xlat));

    /* prefixes */
    bool lock = has_mem && (o->attrs & A_LOCK) && chance(r, 25);
    /* LOCK on a form that cannot take it (not lockable, or a register
     * destination): #UD (SDM vol. 2 LOCK) */
    if (!lock && chance(r, 3)) lock = true;
    unsigned segpfx = 0;
    if ((has_mem || moffs || xlat) && chance(r, 15)) {
        static const uint8_t sp[] = { 0x26, 0x36, 0x3E, 0x26, 0x36, 0x3E, 0x2E };
        segpfx = sp[rn(r, sizeof sp)];
    }
    /* a write through CS faults (#GP(0)); keep it rare */
    if (segpfx == 0x2E && writes_opnd(op, 0) && !chance(r, 30)) segpfx = 0x3E;
    uint8_t pfx[4]; unsigned np = 0;
    if (lock) pfx[np++] = 0xF0;
    if (o16) pfx[np++] = 0x66;
    if (a16) pfx[np++] = 0x67;
    if (segpfx) pfx[np++] = (uint8_t)segpfx;
    for (unsigned i = np; i > 1; i--) {                 /* any prefix order */
        unsigned j = rn(r, i), t = pfx[i - 1];
        pfx[i - 1] = pfx[j]; pfx[j] = (uint8_t)t;
    }
    for (unsigned i = 0; i < np; i++) put8(m, pfx[i]);
    if (o->map == 1) put8(m, 0x0F);

    uint32_t forbid = 0;
    int gk = -1;                                         /* index of the G operand */
    for (int k = 0; k < 3; k++) if (ot_G(o->ot[k])) gk = k;
    bool bt_mem = has_mem && gk == 1 && (handler_is(op, "bt") || handler_is(op, "bts") ||
                                         handler_is(op, "btr") || handler_is(op, "btc"));
    bool shxd16 = (handler_is(op, "shld") || handler_is(op, "shrd")) && os == 2;
    bool need_cl = shxd16 && o->ot[2] == OT_CL;

    /* opcode byte (register in the low bits for Zb/Zv rows) */
    int zk = -1;
    for (int k = 0; k < 3; k++) if (o->ot[k] == OT_Zb || o->ot[k] == OT_Zv) zk = k;
    if (zk >= 0) {
        unsigned reg;
        uint32_t f = 0;
        if (writes_opnd(op, zk)) {
            f = wforbid(g, ot_size(o->ot[zk], os, false));
            if ((handler_is(op, "inc") || handler_is(op, "dec")) && !g->keep_ecx) f = 0;   /* INC/DEC ESP: tiny drift */
        }
        if (handler_is(op, "xchg")) f |= 1u;                 /* 0x90 is NOP */
        reg = pick_reg(g, f);
        put8(m, (o->opc & 0xF8) | reg);
    } else {
        put8(m, o->opc);
    }

    /* ModRM */
    if (has_modrm) {
        unsigned regf;
        if (o->ext != NOX) {
            regf = (o->ext & 0x800) ? (o->ext >> 3) & 7 : o->ext & 7;
        } else if (gk >= 0) {
            unsigned gsz = ot_size(o->ot[gk], os, false);
            uint32_t f = writes_opnd(op, gk) ? wforbid(g, gsz) : 0;
            if (bt_mem) f |= wforbid(g, 4);
            regf = pick_reg(g, f);
            if (bt_mem) forbid |= 1u << regf;
        } else if (o->ot[1] == OT_Sw) {
            regf = rn(r, 6);
        } else {
            regf = rn(r, 8);
        }
        if (need_cl) forbid |= 1u << 1;
        if (g->keep_ecx) forbid |= 1u << 1;              /* setups keep the LOOP count */
        if (g->keep_ecx && need_cl) g->bail = true;
        if (has_mem) {
            unsigned asz = 1;
            for (int k = 0; k < 3; k++) {
                int t = o->ot[k];
                if (ot_E(t) || ot_M(t)) asz = ot_size(t, os, true);
            }
            struct buf mm = { .n = 0 };
            mem_operand(g, s, &mm, regf, a16, asz, bt_mem ? 40 : 0, forbid);
            for (unsigned i = 0; i < mm.n; i++) put8(m, mm.b[i]);
        } else {
            unsigned rm;
            if ((o->ext & 0xF00) == 0x800) rm = o->ext & 7;
            else {
                int ek = -1;
                for (int k = 0; k < 3; k++) if (ot_E(o->ot[k]) || ot_R(o->ot[k])) ek = k;
                bool w = ek >= 0 && writes_opnd(op, ek);
                if (handler_is(op, "xchg") || handler_is(op, "xadd")) w = true;
                rm = pick_reg(g, w && ek >= 0 ? wforbid(g, ot_size(o->ot[ek], os, false)) : 0);
            }
            put8(m, 3u << 6 | (regf & 7) << 3 | rm);
        }
        if (bt_mem) {                                    /* small signed bit offset */
            int32_t bo = (int32_t)rn(r, 512) - 256;
            set_reg(s, regf, (uint32_t)bo);
        }
    }
    if (moffs) {
        unsigned asz = 1;
        for (int k = 0; k < 2; k++) if (o->ot[k] == OT_Ov) asz = os;
        uint32_t A = pick_addr(g, asz, 0);
        putn(m, A, a16 ? 2 : 4);
    }
    if (xlat) {
        uint32_t A = g->cfg->data_base + rn(r, g->cfg->data_size - 256);
        set_reg(s, 3, a16 ? (((uint32_t)rnd(r) & 0xFFFF0000u) | A) : A);
    }
    if (handler_is(op, "enter") || handler_is(op, "leave"))
        set_reg(s, 5, pick_mid(g, 1024));
    if (need_cl) { put8(s, 0xB1); put8(s, rn(r, 17) | (rn(r, 8) << 5)); }

    /* immediates */
    for (int k = 0; k < 3; k++) {
        int t = o->ot[k];
        if (handler_is(op, "enter")) {
            if (k == 0) put16(m, chance(r, 30) ? 0 : rn(r, 97));
            else if (k == 1) put8(m, rn(r, 9) | (chance(r, 20) ? rn(r, 8) << 5 : 0));
            continue;
        }
        switch (t) {
        case OT_Ib: case OT_Ibs: {
            uint32_t v = edge_val(r);
            if (!strncmp(o->handler, "sh", 2) || !strncmp(o->handler, "ro", 2) ||
                !strncmp(o->handler, "rc", 2) || !strcmp(o->handler, "sar") || !strncmp(o->handler, "bt", 2))
                v = count_val(r);
            if (shxd16) v = rn(r, 17) | (rn(r, 8) << 5);
            if (handler_is(op, "aam") || handler_is(op, "aad")) v = chance(r, 60) ? 10 : chance(r, 20) ? 0 : rn(r, 256);
            put8(m, v);
            break;
        }
        case OT_Iw: put16(m, edge_val(r)); break;
        case OT_Iz: case OT_Iv: putn(m, edge_val(r), os); break;
        default: break;
        }
    }
}

/* String instructions with bounded counts, eSI/eDI in the data area. */
static void gen_string(struct gen *g, struct buf *s, struct buf *m)
{
    static const uint8_t ops[] = { 0xA4, 0xA5, 0xA6, 0xA7, 0xAA, 0xAB, 0xAC, 0xAD, 0xAE, 0xAF };
    struct rng *r = &g->r;
    uint8_t opc = ops[rn(r, sizeof ops)];
    bool repc = (opc & 0xF6) == 0xA6 || (opc & 0xFE) == 0xAE;
    bool uses_si = opc <= 0xA7 || (opc & 0xFE) == 0xAC, uses_di = !((opc & 0xFE) == 0xAC);
    bool a16 = chance(r, 30), o16 = chance(r, 30);
    a16 = a16 && g->cfg->mem16;
    unsigned rep = chance(r, 65) ? (repc && chance(r, 50) ? 0xF2 : 0xF3) : 0;
    uint32_t hi = a16 ? ((uint32_t)rnd(r) & 0xFFFF0000u) : 0;
    unsigned esz = (opc & 1) ? (o16 ? 2 : 4) : 1;
    /* sometimes long runs (past the interpreter's REP chunk, both
     * directions fit around the middle) and overlapping MOVS/CMPS operands
     * (a forward byte copy onto itself replicates a pattern: memmove is wrong) */
    bool big = rep && chance(r, 8), overlap = uses_si && uses_di && chance(r, 25);
    uint32_t count = big ? rn(r, (g->cfg->data_size / 2 - 256) / esz) : (chance(r, 10) ? 0 : rn(r, 17));
    uint32_t si = big ? g->mid : pick_mid(g, g->cfg->data_size / 2 - 128);
    uint32_t di = big ? g->mid : pick_mid(g, g->cfg->data_size / 2 - 128);
    if (overlap) di = si + rn(r, 33) - 16;
    if (uses_si) set_reg(s, 6, hi | si);
    if (uses_di) set_reg(s, 7, hi | di);
    if (rep) set_reg(s, 1, (a16 ? (uint32_t)rnd(r) & 0xFFFF0000u : 0) | count);
    if (rep) put8(m, rep);
    if (o16) put8(m, 0x66);
    if (a16) put8(m, 0x67);
    if (uses_si && chance(r, 20)) { static const uint8_t sp[] = { 0x26, 0x2E, 0x36, 0x3E }; put8(m, sp[rn(r, 4)]); }
    put8(m, opc);
}

/* Near branches forward (the target is patched by fuzzgen_assemble). */
static void gen_branch(struct gen *g, struct buf *s, struct buf *m, struct fuzz_group *grp)
{
    struct rng *r = &g->r;
    unsigned k = rn(r, 13);
    grp->reloc = FUZZ_REL8;
    switch (k) {
    case 0: case 1: case 2: put8(m, 0x70 + rn(r, 16)); put8(m, 0); break;
    case 3: case 4: put8(m, 0x0F); put8(m, 0x80 + rn(r, 16)); put32(m, 0); grp->reloc = FUZZ_REL32; break;
    case 5: put8(m, 0xEB); put8(m, 0); break;
    case 6: put8(m, 0xE9); put32(m, 0); grp->reloc = FUZZ_REL32; break;
    case 7: put8(m, 0xE8); put32(m, 0); grp->reloc = FUZZ_REL32; break;
    case 8: {                                            /* LOOP/LOOPE/LOOPNE/JCXZ */
        bool a16 = chance(r, 30);
        set_reg(s, 1, (chance(r, 50) ? (uint32_t)rnd(r) & 0xFFFF0000u : 0) | rn(r, 3));
        if (a16) put8(m, 0x67);
        put8(m, 0xE0 + rn(r, 4)); put8(m, 0);
        break;
    }
    case 9: case 10: {                                   /* JMP/CALL reg */
        unsigned reg = pick_reg(g, 1u << 4);
        put8(s, 0xB8 + reg);
        grp->reloc = FUZZ_ABS32; grp->reloc_off = (uint8_t)(s->n); put32(s, 0);
        put8(m, 0xFF); put8(m, 0xC0 | (k == 9 ? 4 : 2) << 3 | reg);
        return;
    }
    case 11: {                                           /* JMP/CALL [mem] */
        uint32_t A = pick_addr(g, 4, 0);
        put8(s, 0xC7); put8(s, 0x05); put32(s, A);
        grp->reloc = FUZZ_ABS32; grp->reloc_off = (uint8_t)(s->n); put32(s, 0);
        put8(m, 0xFF); put8(m, (chance(r, 50) ? 4 : 2) << 3 | 5); put32(m, A);
        return;
    }
    default: {                                           /* PUSH target; RET [imm16] */
        put8(s, 0x68);
        grp->reloc = FUZZ_ABS32; grp->reloc_off = (uint8_t)(s->n); put32(s, 0);
        if (chance(r, 50)) put8(m, 0xC3);
        else { put8(m, 0xC2); put16(m, rn(r, 17) * 4 + (chance(r, 10) ? 2 : 0)); }
        return;
    }
    }
    grp->reloc_off = 0;      /* set below from the lengths */
}

/* Instructions that must fault at CPL 3: #UD and #GP probes. */
static void gen_fault(struct gen *g, struct buf *s, struct buf *m)
{
    static const uint8_t probes[][4] = {
        { 2, 0x0F, 0x0B },           /* ud2                    #UD */
        { 3, 0x0F, 0xB9, 0xC1 },     /* ud1 eax,ecx            #UD */
        { 2, 0x0F, 0xAA },           /* rsm outside SMM        #UD */
        { 3, 0xF0, 0x01, 0xC8 },     /* lock add eax,ecx       #UD */
        { 2, 0xF0, 0x90 },           /* lock nop               #UD */
        { 2, 0x8C, 0xF0 },           /* mov eax,sreg6          #UD */
        { 2, 0x8D, 0xC1 },           /* lea eax,ecx            #UD */
        { 3, 0x0F, 0xC7, 0xC9 },     /* cmpxchg8b ecx          #UD */
        { 1, 0xF4 },                 /* hlt                    #GP */
        { 1, 0xFA },                 /* cli (IOPL 0)           #GP */
        { 1, 0xFB },                 /* sti (IOPL 0)           #GP */
        { 3, 0x0F, 0x22, 0xC0 },     /* mov cr0,eax            #GP */
        { 3, 0x0F, 0x20, 0xD8 },     /* mov eax,cr3            #GP */
        { 3, 0x0F, 0x23, 0xF8 },     /* mov dr7,eax            #GP */
        { 3, 0x0F, 0x21, 0xF8 },     /* mov eax,dr7            #GP */
        { 3, 0x0F, 0x01, 0x38 },     /* invlpg [eax]           #GP (no access) */
        { 3, 0x0F, 0xFF, 0xC0 },     /* ud0 (no ModRM on AMD: same EIP) #UD */
        { 2, 0x0F, 0x08 },           /* invd                   #GP */
        { 2, 0x0F, 0x09 },           /* wbinvd                 #GP */
        { 2, 0x0F, 0x06 },           /* clts                   #GP */
        { 2, 0x0F, 0x32 },           /* rdmsr                  #GP */
        { 2, 0x0F, 0x30 },           /* wrmsr                  #GP */
        { 3, 0x0F, 0x01, 0xF0 },     /* lmsw ax                #GP */
        { 3, 0x0F, 0x00, 0xD0 },     /* lldt ax                #GP */
        { 3, 0x0F, 0x00, 0xD8 },     /* ltr ax                 #GP */
        /* port I/O at CPL 3 > IOPL 0: Linux's TSS has its I/O bitmap
         * offset beyond the TSS limit unless ioperm() was called: #GP(0) */
        { 2, 0xE4, 0x60 },           /* in al,0x60             #GP */
        { 2, 0xE5, 0x40 },           /* in eax,0x40            #GP */
        { 2, 0xE6, 0x80 },           /* out 0x80,al            #GP */
        { 2, 0xE7, 0x70 },           /* out 0x70,eax           #GP */
        { 1, 0xEC },                 /* in al,dx               #GP */
        { 1, 0xED },                 /* in eax,dx              #GP */
        { 1, 0xEE },                 /* out dx,al              #GP */
        { 1, 0xEF },                 /* out dx,eax             #GP */
        { 1, 0x6C },                 /* insb                   #GP */
        { 1, 0x6D },                 /* insd                   #GP */
        { 1, 0x6E },                 /* outsb                  #GP */
        { 2, 0xF3, 0x6F },           /* rep outsd              #GP */
    };
    static const uint8_t undefined[][3] = {
        /* undefined on a P6 and on this host (no 3DNow!/SSE5/PadLock) */
        { 2, 0x0F, 0x04 }, { 2, 0x0F, 0x0A }, { 2, 0x0F, 0x0C }, { 2, 0x0F, 0x24 },
        { 2, 0x0F, 0x26 }, { 2, 0x0F, 0x36 }, { 2, 0x0F, 0x39 }, { 2, 0x0F, 0xA6 },
        { 2, 0x0F, 0xA7 }, { 2, 0x0F, 0x7A }, { 2, 0x0F, 0x7B },
    };
    struct rng *r = &g->r;
    if (chance(r, 15)) {
        /* the 15-byte limit: 12-14 redundant prefixes + ADD r32,r/m32 (2
         * bytes) is 14-16 bytes; 16 raises #GP(0) (SDM vol. 2 sec. 2.3.11) */
        static const uint8_t sp[] = { 0x26, 0x2E, 0x36, 0x3E, 0x3E };
        unsigned np = 12 + rn(r, 3);
        for (unsigned i = 0; i < np; i++) put8(m, sp[rn(r, sizeof sp)]);
        put8(m, 0x03); put8(m, 0xC0 | (pick_reg(g, 1u << 4) << 3) | rn(r, 8));
        return;
    }
    if (chance(r, 15)) {
        unsigned u = rn(r, sizeof undefined / sizeof undefined[0]);
        for (unsigned i = 0; i < undefined[u][0]; i++) put8(m, undefined[u][1 + i]);
        put8(m, 0xC0 | rn(r, 64));                       /* a ModRM-looking byte */
        return;
    }
    unsigned n = sizeof probes / sizeof probes[0], k = rn(r, n + 1);
    if (g->cfg->system) k %= 8;                          /* CPL 0: the #UD probes only */
    if (k == n) {                                        /* lgdt/lidt [mem] #GP */
        put8(m, 0x0F); put8(m, 0x01);
        struct buf mm = { .n = 0 };
        mem_operand(g, s, &mm, 2 + rn(r, 2), false, 6, 0, 0);
        for (unsigned i = 0; i < mm.n; i++) put8(m, mm.b[i]);
        return;
    }
    if (chance(r, 20)) put8(m, 0x66);
    for (unsigned i = 0; i < probes[k][0]; i++) put8(m, probes[k][1 + i]);
}

/* Self-modifying code: a store into the immediate of the next instruction
 * (x86 keeps code coherent even for the very next instruction: SDM vol. 3
 * sec. 11.6). The target is a MOV r32,imm32 (or ADD r/m32,imm8) whose
 * immediate is patched by a byte, word or dword store. */
static void gen_smc(struct gen *g, struct buf *m, struct fuzz_group *grp)
{
    struct rng *r = &g->r;
    unsigned sz = rn(r, 3), reg = pick_reg(g, 1u << 4);
    unsigned store_len = sz == 0 ? 7 : sz == 1 ? 9 : 10;   /* C6 05 a32 i8 / 66 C7 05 a32 i16 / C7 05 a32 i32 */
    unsigned imm_at = store_len + 1 + rn(r, 5 - (sz == 0 ? 1 : sz == 1 ? 2 : 4));
    if (sz == 1) put8(m, 0x66);
    put8(m, sz == 0 ? 0xC6 : 0xC7);
    put8(m, 0x05);
    grp->reloc = FUZZ_SELF32;
    grp->reloc_off = (uint8_t)m->n;                      /* patched by fuzzgen_assemble */
    grp->reloc_add = (uint8_t)imm_at;
    put32(m, 0);
    putn(m, (uint32_t)rnd(r), sz == 0 ? 1 : sz == 1 ? 2 : 4);
    put8(m, 0xB8 + reg);                                 /* mov reg, imm32: patched above */
    put32(m, edge_val(r));
}

/* A loop that patches its own code each iteration: the block being run is
 * modified under it (decoded-instruction caches must notice):
 *     mov ecx, k            ; 1..5 iterations          (setup)
 * L:  inc/dec/not/neg byte|word|dword [imm]  \  either order
 *     add|xor|sub eax..edi, imm32 (imm)      /
 *     loop L                                  ; the main instruction  */
static void gen_smc_loop(struct gen *g, struct buf *s, struct buf *m, struct fuzz_group *grp)
{
    struct rng *r = &g->r;
    set_reg(s, 1, 1 + rn(r, 5));
    unsigned w = rn(r, 3), width = w == 0 ? 1 : w == 1 ? 2 : 4;
    unsigned op = rn(r, 4);                              /* inc dec not neg */
    unsigned store_len = (w == 1) + 6;                   /* [66] FE/FF /op 05 a32 */
    unsigned reg = pick_reg(g, 1u << 4 | 1u << 1);
    bool store_first = chance(r, 50);
    unsigned alu_len = 6;                                /* 81 /x modrm imm32 */
    unsigned loop_start = s->n;
    unsigned alu_at = loop_start + (store_first ? store_len : 0);
    unsigned imm_at = alu_at + 2 + rn(r, 5 - width);
    struct buf body = { .n = 0 };
    struct buf st = { .n = 0 }, al = { .n = 0 };
    if (w == 1) put8(&st, 0x66);
    put8(&st, w == 0 ? (op < 2 ? 0xFE : 0xF6) : (op < 2 ? 0xFF : 0xF7));
    put8(&st, op << 3 | 5);                             /* FE/FF /0 inc /1 dec; F6/F7 /2 not /3 neg */
    unsigned st_reloc = st.n;
    put32(&st, 0);
    static const uint8_t alu_ext[] = { 0, 5, 6 };        /* add sub xor */
    put8(&al, 0x81);
    put8(&al, 0xC0 | alu_ext[rn(r, 3)] << 3 | reg);
    put32(&al, edge_val(r));
    (void)alu_len;
    if (store_first) { memcpy(body.b, st.b, st.n); body.n = st.n; }
    memcpy(body.b + body.n, al.b, al.n); body.n += al.n;
    if (!store_first) { memcpy(body.b + body.n, st.b, st.n); body.n += st.n; }
    for (unsigned i = 0; i < body.n; i++) put8(s, body.b[i]);
    grp->reloc = FUZZ_SELF32;
    grp->reloc_off = (uint8_t)(loop_start + (store_first ? 0 : al.n) + st_reloc);
    grp->reloc_add = (uint8_t)imm_at;
    put8(m, 0xE2);                                       /* loop L */
    put8(m, (uint32_t)-(int32_t)(body.n + 2));
}

/* A counted loop around one table instruction (with its setup), so blocks
 * are re-run with changing registers and flags:
 *     mov ecx, k        ; 1..5
 * L:  <setup> <insn>    ; never writes ECX, reads no flag it leaves undefined
 *     loop L                                                               */
static bool gen_loop(struct gen *g, struct buf *s, struct buf *m)
{
    struct rng *r = &g->r;
    uint16_t op;
    const char *h;
    do {
        op = rows[rn(r, nrows)];
        h = optab[op].handler;
    } while (!strcmp(h, "enter") || !strcmp(h, "leave") || !strcmp(h, "pusha") || !strcmp(h, "popa"));
    struct buf bs = { .n = 0 }, bm = { .n = 0 };
    g->keep_ecx = true;
    g->bail = false;
    gen_row(g, op, &bs, &bm);
    g->keep_ecx = false;
    if (g->bail) return false;
    struct insn in;
    if (decode(&in, bm.b, bm.n, DECODE_32) != DECODE_OK || in.len != bm.n) return false;
    if (optab[in.op].fr & (g->poison | optab[in.op].fu)) return false;
    unsigned body = bs.n + bm.n;
    if (body + 2 > 128 || s->n + 5 + body > FUZZ_GROUP_MAX) return false;
    set_reg(s, 1, 1 + rn(r, 5));
    for (unsigned i = 0; i < bs.n; i++) put8(s, bs.b[i]);
    for (unsigned i = 0; i < bm.n; i++) put8(s, bm.b[i]);
    g->extra_fu = optab[in.op].fu;
    put8(m, 0xE2);
    put8(m, (uint32_t)-(int32_t)(body + 2));
    return true;
}

static void gen_popf(struct gen *g, struct buf *m)
{
    struct rng *r = &g->r;
    /* any bit but TF: IF, IOPL, VM, RF, VIF, VIP are ignored or cleared by
     * POPF at CPL 3 (SDM vol. 2 POPF), which the comparison checks */
    uint32_t v = (uint32_t)rnd(r) & (chance(r, 50) ? 0x00244FD5u : 0x003F7FD5u) & ~0x100u;
    bool ac = chance(r, 20);                        /* drawn always: same stream */
    if (!(g->cfg->allow_ac && ac)) v &= ~0x40000u;
    if (chance(r, 30)) { put8(m, 0x66); put8(m, 0x68); put16(m, v); put8(m, 0x66); put8(m, 0x9D); }
    else { put8(m, 0x68); put32(m, v); put8(m, 0x9D); }
}


/* CPL 0 (cfg->system): privileged and sensitive instructions that keep the
 * invariants (paging stays off, PE stays on, no breakpoint is armed, the
 * IDT stays empty so a fault still stops the run, memory operands in the
 * data area). What each may change is compared by the harness: CR0 (the
 * bits toggled here: MP EM TS NE WP AM), CR2, CR3, DR0-3, GDTR, EFLAGS.IF
 * and IOPL, the SYSENTER MSRs (SDM vol. 3 sec. 2.5, 2.8; vol. 2 MOV CR/DR,
 * LGDT, LMSW, WRMSR). Port I/O goes to an open bus (reads all ones). */
static void gen_system(struct gen *g, struct buf *s, struct buf *m)
{
    struct rng *r = &g->r;
    unsigned reg = pick_reg(g, 1u << 4 | (g->keep_ecx ? 1u << 1 : 0));
    switch (rn(r, 16)) {
    case 0: put8(m, chance(r, 50) ? 0xFA : 0xFB); break;             /* cli / sti */
    case 1: {                                                         /* mov reg, cr0/2/3 */
        static const uint8_t crs[] = { 0, 2, 3 };
        put8(m, 0x0F); put8(m, 0x20); put8(m, 0xC0 | crs[rn(r, 3)] << 3 | reg);
        break;
    }
    case 2: {                                                         /* mov cr2/cr3, reg */
        bool cr3 = chance(r, 50);
        uint32_t v = edge_val(r);
        if (cr3) v &= 0xFFFFF018u;               /* page base, PWT, PCD: no reserved bits */
        set_reg(s, reg, v);
        put8(m, 0x0F); put8(m, 0x22); put8(m, 0xC0 | (cr3 ? 3u : 2u) << 3 | reg);
        break;
    }
    case 3: {                                                         /* CR0: toggle safe bits */
        uint32_t mask = (uint32_t)rnd(r) & 0x0005003Eu & ~0x10u;     /* MP EM TS NE WP AM */
        put8(s, 0x0F); put8(s, 0x20); put8(s, 0xC0 | reg);          /* mov reg, cr0 */
        put8(s, 0x81); put8(s, 0xF0 | reg); put32(s, mask);          /* xor reg, mask */
        put8(m, 0x0F); put8(m, 0x22); put8(m, 0xC0 | reg);          /* mov cr0, reg */
        break;
    }
    case 4: {                                                         /* mov dr0-3, reg / reg, dr0-3 */
        unsigned dr = rn(r, 4);
        bool to = chance(r, 50);
        if (to) set_reg(s, reg, edge_val(r));
        put8(m, 0x0F); put8(m, to ? 0x23 : 0x21); put8(m, 0xC0 | dr << 3 | reg);
        break;
    }
    case 5: {                                                         /* clts, wbinvd, invd */
        static const uint8_t op[] = { 0x06, 0x09, 0x08 };
        put8(m, 0x0F); put8(m, op[rn(r, 3)]);
        break;
    }
    case 6: {                                                         /* invlpg [mem] */
        struct buf mm = { .n = 0 };
        put8(m, 0x0F); put8(m, 0x01);
        mem_operand(g, s, &mm, 7, false, 1, 0, 0);
        for (unsigned i = 0; i < mm.n; i++) put8(m, mm.b[i]);
        break;
    }
    case 7:                                                           /* lmsw reg: PE kept */
        set_reg(s, reg, ((uint32_t)rnd(r) & 0xFFFEu) | 1u);
        put8(m, 0x0F); put8(m, 0x01); put8(m, 0xF0 | reg);
        break;
    case 8: {                                                         /* smsw/sgdt/sidt [mem], smsw/str/sldt reg */
        unsigned k = rn(r, 6);
        if (k < 3) {
            struct buf mm = { .n = 0 };
            static const uint8_t ext[] = { 4, 0, 1 };
            put8(m, 0x0F); put8(m, 0x01);
            mem_operand(g, s, &mm, ext[k], false, k ? 6 : 2, 0, 0);
            for (unsigned i = 0; i < mm.n; i++) put8(m, mm.b[i]);
        } else if (k == 3) {
            if (chance(r, 50)) put8(m, 0x66);
            put8(m, 0x0F); put8(m, 0x01); put8(m, 0xE0 | reg);
        } else {
            put8(m, 0x0F); put8(m, 0x00); put8(m, (k == 4 ? 0xC8 : 0xC0) | reg);
        }
        break;
    }
    case 9: {                                                         /* lgdt [mem] */
        struct buf mm = { .n = 0 };
        if (chance(r, 20)) put8(m, 0x66);                             /* 24-bit base */
        put8(m, 0x0F); put8(m, 0x01);
        mem_operand(g, s, &mm, 2, false, 6, 0, 0);
        for (unsigned i = 0; i < mm.n; i++) put8(m, mm.b[i]);
        break;
    }
    case 10: case 11: {                                               /* in/out */
        static const uint8_t io[] = { 0xE4, 0xE5, 0xE6, 0xE7, 0xEC, 0xED, 0xEE, 0xEF };
        uint8_t op = io[rn(r, 8)];
        if (op < 0xE8) { if (chance(r, 30)) put8(m, 0x66); put8(m, op); put8(m, rn(r, 256)); }
        else {
            put8(s, 0x66); put8(s, 0xBA); put16(s, edge_val(r));     /* mov dx, port */
            if (chance(r, 30)) put8(m, 0x66);
            put8(m, op);
        }
        break;
    }
    case 12: {                                                        /* insb/insd/outsb/outsd */
        bool ins = chance(r, 50);
        put8(s, 0x66); put8(s, 0xBA); put16(s, edge_val(r));
        set_reg(s, ins ? 7 : 6, pick_mid(g, 1024));
        put8(m, (ins ? 0x6C : 0x6E) | rn(r, 2));
        break;
    }
    case 13: {                                                        /* wrmsr / rdmsr SYSENTER_* */
        bool wr = chance(r, 50);
        set_reg(s, 1, 0x174 + rn(r, 3));
        if (wr) { set_reg(s, 0, edge_val(r)); set_reg(s, 2, 0); }
        put8(m, 0x0F); put8(m, wr ? 0x30 : 0x32);
        break;
    }
    default: {                                                        /* pushf/popf with IF, IOPL */
        uint32_t v = (uint32_t)rnd(r) & 0x00247FD5u & ~0x100u;
        if (!g->cfg->allow_ac) v &= ~0x40000u;
        put8(s, 0x68); put32(s, v);
        put8(m, 0x9D);
        break;
    }
    }
}

/* ---- 16-bit code (cfg->code16) ----
 * The generator builds 32-bit code; for a 16-bit code segment (CS.D = 0)
 * every instruction gets its 0x66 and 0x67 prefixes toggled (present:
 * removed; absent: added), which keeps its operand and address sizes and so
 * its meaning and its memory accesses (SDM vol. 1 sec. 3.6: the prefixes
 * select the non-default size). Offsets the group records (main_off,
 * reloc_off, reloc_add) move with the bytes; relative branches inside the
 * group (LOOP bodies) are re-aimed. An instruction the decoder rejects (a
 * #UD/#GP probe, always a group's last) is toggled the same way. */
static bool is_legacy_prefix(uint8_t b)
{
    return b == 0xF0 || b == 0xF2 || b == 0xF3 || b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E ||
           b == 0x64 || b == 0x65 || b == 0x66 || b == 0x67;
}

struct c16_insn { unsigned start, pfx_end, len; int nstart, shift; };

static int c16_map(const struct c16_insn *v, unsigned n, unsigned x, unsigned oldlen, int total)
{
    if (x >= oldlen) return (int)x + total;
    for (unsigned i = 0; i < n; i++)
        if (x >= v[i].start && x < v[i].start + v[i].len)
            return x == v[i].start ? v[i].nstart : (int)x + v[i].shift;
    return (int)x;
}

static bool to_code16(struct fuzz_group *grp)
{
    struct c16_insn v[FUZZ_GROUP_MAX];
    unsigned n = 0;
    uint8_t out[FUZZ_GROUP_MAX + 2 * FUZZ_GROUP_MAX];
    unsigned k = 0;
    int delta = 0;
    for (unsigned p = 0; p < grp->len; n++) {
        struct insn in;
        unsigned L = grp->len - p;
        if (decode(&in, grp->bytes + p, grp->len - p, DECODE_32) == DECODE_OK) L = in.len;
        unsigned q = p;
        bool has66 = false, has67 = false;
        while (q < p + L && is_legacy_prefix(grp->bytes[q])) {
            has66 |= grp->bytes[q] == 0x66;
            has67 |= grp->bytes[q] == 0x67;
            q++;
        }
        v[n].start = p;
        v[n].pfx_end = q;
        v[n].len = L;
        v[n].nstart = (int)k;
        if (!has66) out[k++] = 0x66;
        if (!has67) out[k++] = 0x67;
        for (unsigned i = p; i < q; i++)
            if (grp->bytes[i] != 0x66 && grp->bytes[i] != 0x67) out[k++] = grp->bytes[i];
        int d = (int)k - (int)q;                         /* shift of the rest */
        v[n].shift = d;
        for (unsigned i = q; i < p + L; i++) out[k++] = grp->bytes[i];
        delta = d;
        p += L;
    }
    if (k > FUZZ_GROUP_MAX) return false;
    unsigned oldlen = grp->len;
    /* re-aim relative branches that stay inside the group */
    for (unsigned i = 0; i < n; i++) {
        const struct c16_insn *c = &v[i];
        if ((grp->reloc == FUZZ_REL8 || grp->reloc == FUZZ_REL32) && c->start == grp->main_off) continue;
        unsigned o = c->pfx_end;
        uint8_t op = grp->bytes[o];
        unsigned w = 0;
        if ((op >= 0x70 && op <= 0x7F) || (op >= 0xE0 && op <= 0xE3) || op == 0xEB) w = 1;
        else if (op == 0xE8 || op == 0xE9 || (op == 0x0F && o + 1 < c->start + c->len &&
                                               (grp->bytes[o + 1] & 0xF0) == 0x80)) w = 4;
        if (!w || c->len < w + 1) continue;
        unsigned end = c->start + c->len;
        int32_t rel = 0;
        if (w == 1) rel = (int8_t)grp->bytes[end - 1];
        else memcpy(&rel, grp->bytes + end - 4, 4);
        int tgt = (int)end + rel;
        if (tgt < 0 || tgt > (int)oldlen) continue;
        int nt = c16_map(v, n, (unsigned)tgt, oldlen, delta), nend = (int)end + c->shift;
        int32_t nrel = nt - nend;
        if (w == 1) {
            if (nrel < -128 || nrel > 127) return false;
            out[nend - 1] = (uint8_t)nrel;
        } else {
            memcpy(out + nend - 4, &nrel, 4);
        }
    }
    grp->main_off = (uint8_t)c16_map(v, n, grp->main_off, oldlen, delta);
    if (grp->reloc == FUZZ_ABS32 || grp->reloc == FUZZ_SELF32)
        grp->reloc_off = (uint8_t)c16_map(v, n, grp->reloc_off, oldlen, delta);
    if (grp->reloc == FUZZ_SELF32)
        grp->reloc_add = (uint8_t)c16_map(v, n, grp->reloc_add, oldlen, delta);
    memcpy(grp->bytes, out, k);
    grp->len = (uint8_t)k;
    return true;
}

/* Build one group; returns false when it must be retried. */
static bool gen_group(struct gen *g, struct fuzz_case *fc, struct fuzz_group *grp, bool allow_branch)
{
    struct buf s = { .n = 0 }, m = { .n = 0 };
    memset(grp, 0, sizeof *grp);
    /* system level draws one more number (user-level streams unchanged) */
    bool sys = g->cfg->system && chance(&g->r, 14);
    unsigned pick = rn(&g->r, 100);
    unsigned main_extra = 0;               /* bytes of a PUSH before POPF */
    if (sys) gen_system(g, &s, &m);
    else if (pick < 10 && allow_branch) gen_branch(g, &s, &m, grp);
    else if (pick < 18) gen_string(g, &s, &m);
    else if (pick < 21 && g->cfg->allow_faults) gen_fault(g, &s, &m);
    else if (pick < 24) { gen_popf(g, &m); main_extra = m.n - (m.b[0] == 0x66 ? 2 : 1); }
    else if (pick < 26) { gen_smc(g, &m, grp); main_extra = m.n - 5; }
    else if (pick < 28) gen_smc_loop(g, &s, &m, grp);
    else if (pick < 32) { g->extra_fu = 0; if (!gen_loop(g, &s, &m)) return false; }
    else gen_row(g, rows[rn(&g->r, nrows)], &s, &m);
    if (s.n + m.n > FUZZ_GROUP_MAX) return false;
    memcpy(grp->bytes, s.b, s.n);
    memcpy(grp->bytes + s.n, m.b, m.n);
    grp->len = (uint8_t)(s.n + m.n);
    grp->main_off = (uint8_t)(s.n + main_extra);
    struct insn in;
    int d = decode(&in, grp->bytes + grp->main_off, grp->len - grp->main_off, DECODE_32);
    if (d == DECODE_OK) {
        if (in.len != grp->len - grp->main_off) {       /* decoder or generator bug */
            if (!fc->len_mismatch++) {
                fc->mismatch_len = (uint8_t)(grp->len - grp->main_off < 16 ? grp->len - grp->main_off : 16);
                memcpy(fc->mismatch_bytes, grp->bytes + grp->main_off, fc->mismatch_len);
            }
            return false;
        }
        grp->op = in.op;
        if (optab[in.op].fr & g->poison) return false;
        grp->fu = optab[in.op].fu;
        grp->fdef = optab[in.op].fw & ~optab[in.op].fu;
        if (in.op == OP_LOOP && g->extra_fu) { grp->fu |= g->extra_fu; g->extra_fu = 0; }
        const char *h = optab[in.op].handler;
        bool shift = !strcmp(h, "shl") || !strcmp(h, "shr") || !strcmp(h, "sar") ||
                     !strcmp(h, "shld") || !strcmp(h, "shrd");
        bool rot = !strncmp(h, "ro", 2) || !strncmp(h, "rc", 2);
        if (shift || rot) {
            /* a count known at generation: the ONE forms or an imm8. OF is
             * defined for a (masked) count of 1 (SDM vol. 2 SAL/SAR/SHL/SHR,
             * RCL/RCR/ROL/ROR, SHLD/SHRD: "OF ... defined only for 1-bit
             * shifts/rotates"); a nonzero shift count writes the flags. */
            int count = -1;
            for (int k = 0; k < 3; k++) {
                if (optab[in.op].ot[k] == OT_ONE) count = 1;
                if (optab[in.op].ot[k] == OT_Ib) count = (int)(in.imm & 31);
            }
            if (count == 1) grp->fu &= ~FL_OF;
            grp->fdef = (shift && count > 0) ? optab[in.op].fw & ~grp->fu : 0;
        } else if ((optab[in.op].attrs & A_REP) && in.rep) {
            grp->fdef = 0;                               /* count may be 0: flags unchanged */
        }
    } else {
        grp->op = OP_COUNT;
    }
    if (g->cfg->code16 && !to_code16(grp)) return false;
    if (grp->reloc == FUZZ_REL8 || grp->reloc == FUZZ_REL32) {
        grp->reloc_end = grp->len;
        grp->reloc_off = (uint8_t)(grp->len - (grp->reloc == FUZZ_REL8 ? 1 : 4));
    }
    return true;
}

void fuzzgen_default_cfg(struct fuzz_cfg *cfg, uint32_t data_base, uint32_t data_size)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->data_base = data_base;
    cfg->data_size = data_size;
    cfg->max_groups = 8;
    cfg->mem16 = (uint64_t)data_base + data_size <= 0x10000;
    cfg->allow_ac = true;
    cfg->allow_faults = true;
}

void fuzzgen_data(const struct fuzz_cfg *cfg, uint64_t seed, uint8_t *data)
{
    struct rng r = { seed ^ 0x5DEECE66Dull };
    for (uint32_t i = 0; i < cfg->data_size; i += 64) {
        unsigned kind = rn(&r, 8);
        for (uint32_t j = i; j < i + 64 && j < cfg->data_size; j += 8) {
            uint64_t v = kind == 0 ? 0 : kind == 1 ? ~0ull : rnd(&r);
            memcpy(data + j, &v, cfg->data_size - j >= 8 ? 8 : cfg->data_size - j);
        }
    }
}

void fuzzgen_case(const struct fuzz_cfg *cfg, uint64_t seed, struct fuzz_case *fc, uint8_t *data)
{
    rows_init();
    struct gen g = { .r = { seed }, .cfg = cfg };
    g.mid = cfg->data_base + cfg->data_size / 2;
    memset(fc, 0, sizeof *fc);
    fc->seed = seed;
    fc->code16 = cfg->code16;
    for (int i = 0; i < 8; i++) fc->r[i] = edge_val(&g.r);
    fc->r[4] = pick_mid(&g, 1024);
    if (chance(&g.r, 80)) fc->r[4] &= ~3u;
    uint32_t fl = (uint32_t)rnd(&g.r) & 0x00244FD5u & ~0x100u;
    bool ac = chance(&g.r, 8);                      /* drawn always: same stream */
    if (!(cfg->allow_ac && ac)) fl &= ~0x40000u;
    if (cfg->ac_only) fl |= 0x40000u;
    fc->eflags = fl | 2;
    unsigned maxg = cfg->max_groups ? cfg->max_groups : 8;
    if (maxg > FUZZ_MAX_GROUPS) maxg = FUZZ_MAX_GROUPS;
    int n = 1 + (int)rn(&g.r, maxg);
    for (int i = 0; i < n; i++) {
        struct fuzz_group *grp = &fc->g[i];
        int t;
        for (t = 0; t < 50; t++)
            if (gen_group(&g, fc, grp, true)) break;
        if (t == 50) {                                   /* give up: a NOP */
            memset(grp, 0, sizeof *grp);
            grp->bytes[0] = 0x90; grp->len = 1; grp->op = OP_NOP;
        }
        g.poison |= grp->fu;
    }
    fc->ngroups = n;
    /* branch targets: a later group (or the end) within rel8 reach */
    for (int i = 0; i < n; i++) {
        struct fuzz_group *grp = &fc->g[i];
        if (!grp->reloc || grp->reloc == FUZZ_SELF32) continue;
        int best = i + 1;
        for (int t = 0; t < 4; t++) {
            int j = i + 1 + (int)rn(&g.r, (uint32_t)(n - i));
            uint32_t dist = 0;
            for (int k = i + 1; k < j; k++) dist += fc->g[k].len;
            if (grp->reloc != FUZZ_REL8 || dist <= 127) { best = j; break; }
        }
        grp->target = (uint8_t)best;
    }
    if (data) fuzzgen_data(cfg, seed, data);
}

size_t fuzzgen_assemble(const struct fuzz_case *fc, uint32_t code_base, uint8_t *code, size_t cap,
                        uint32_t *group_off)
{
    uint32_t off[FUZZ_MAX_GROUPS + 1];
    uint32_t n = 0;
    for (int i = 0; i < fc->ngroups; i++) { off[i] = n; n += fc->g[i].len; }
    off[fc->ngroups] = n;
    if (n > cap) return 0;
    for (int i = 0; i < fc->ngroups; i++) {
        const struct fuzz_group *grp = &fc->g[i];
        memcpy(code + off[i], grp->bytes, grp->len);
        if (!grp->reloc) continue;
        int t = grp->target > fc->ngroups ? fc->ngroups : grp->target;
        uint8_t *p = code + off[i] + grp->reloc_off;
        if (grp->reloc == FUZZ_SELF32) {
            uint32_t v = code_base + off[i] + grp->reloc_add;
            memcpy(p, &v, 4);
        } else if (grp->reloc == FUZZ_ABS32) {
            /* an EIP: in 16-bit code CS.base is code_base (fuzzgen.h) */
            uint32_t v = (fc->code16 ? 0 : code_base) + off[t];
            memcpy(p, &v, 4);
        } else {
            int32_t d = (int32_t)(off[t] - (off[i] + grp->reloc_end));
            if (grp->reloc == FUZZ_REL8) {
                if (d > 127) return 0;
                *p = (uint8_t)d;
            } else {
                memcpy(p, &d, 4);
            }
        }
    }
    if (group_off) memcpy(group_off, off, sizeof(uint32_t) * (size_t)(fc->ngroups + 1));
    return n;
}

uint32_t fuzzgen_undef_mask(const struct fuzz_case *fc)
{
    uint32_t m = 0;
    for (int i = 0; i < fc->ngroups; i++) m |= fc->g[i].fu;
    return m;
}

uint32_t fuzzgen_undef_at(const struct fuzz_case *fc, int k)
{
    uint32_t in[FUZZ_MAX_GROUPS + 1] = { 0 };
    int n = fc->ngroups;
    if (k > n) k = n;
    for (int i = 0; i < n; i++) {
        const struct fuzz_group *g = &fc->g[i];
        uint32_t out = (in[i] & ~g->fdef) | g->fu;
        in[i + 1] |= out;                                /* fall through (always, conservatively) */
        if (g->reloc && g->reloc != FUZZ_SELF32) in[g->target > n ? n : g->target] |= out;
    }
    return in[k];
}

void fuzzgen_drop_group(struct fuzz_case *fc, int k)
{
    if (k < 0 || k >= fc->ngroups) return;
    for (int i = k; i + 1 < fc->ngroups; i++) fc->g[i] = fc->g[i + 1];
    fc->ngroups--;
    for (int i = 0; i < fc->ngroups; i++)
        if (fc->g[i].reloc != FUZZ_SELF32 && fc->g[i].target > k) fc->g[i].target--;
}

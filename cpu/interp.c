/* cpu/interp.c - the reference engine: fetch, decode, dispatch, deliver.
 *
 * Owns: the instruction cycle (fetch with CS limit and page checks, decode,
 * feature check, dispatch through the table generated from cpu/opcodes.def),
 * exception and interrupt delivery (real mode through the IVT here;
 * protected mode in cpu/pmode.c), the interrupt shadow, the P6 reset state.
 * Invariants: EIP is the faulting instruction's on an exception (faults), the
 * next one's for traps; handlers never leave partial state (see
 * cpu/interp_priv.h).
 */
#include "cpu/interp_priv.h"
#include "cpu/fastpath.h"
#include <string.h>
#include <stdlib.h>

/* Decoded-instruction cache: direct-mapped by linear EIP. An entry is used
 * only if the bytes at EIP still equal the bytes it was decoded from, so
 * self-modifying code and remapped pages need no invalidation. */
#define ICACHE_SIZE 8192
struct icache_entry {
    uint32_t lin;          /* linear address of the instruction          */
    uint8_t  mode;         /* DECODE_16/32 + 1; 0 = empty                */
    uint8_t  bytes[16];    /* the instruction bytes (len of in), padded  */
    struct insn in;        /* its decoding                               */
};
#define BLOCK_INSNS 32
#define BLOCK_BYTES 128
#define BCACHE_SIZE 1024
struct iblock {
    uint32_t lin;                  /* linear address of the first byte        */
    uint8_t  mode;                 /* DECODE_16/32 + 1; 0 = empty             */
    uint8_t  ninsn;                /* decoded instructions                    */
    uint16_t nbytes;               /* bytes they cover                        */
    uint64_t words[BLOCK_BYTES / 8]; /* those bytes, zero-padded              */
    uint64_t tail;                 /* the 8 bytes ending at nbytes (>= 8)     */
    struct insn insn[BLOCK_INSNS];
    op_fn fn[BLOCK_INSNS];         /* handler per instruction (fast path or table) */
};


static const op_fn dispatch[OP_COUNT] = {
#define X(name, map, pfx, opc, ext, mnem, handler, o1, o2, o3, attrs, fr, fw, fu) [OP_##name] = op_##handler,
#include "cpu/opcodes.def"
#undef X
};

/* CPUID.1:EDX of our model (SDM vol. 2 CPUID, table 3-11): exactly what is
 * implemented: FPU(0) DE(2) PSE(3) TSC(4) MSR(5) PAE(6) CX8(8) SEP(11)
 * MTRR(12) PGE(13) CMOV(15). No VME, MCE/MCA (no machine-check
 * architecture), APIC, MMX, FXSR or SSE until they are implemented. */
#define CPUID_FEATURES 0x0000B97Du
#define CPUID_SIG      0x00000652u   /* family 6, model 5, stepping 2: Pentium II */

void cpu_init(struct cpu *cpu, struct mem *mem, struct bus *bus)
{
    memset(cpu, 0, sizeof *cpu);
    cpu->mem = mem;
    cpu->bus = bus;
    cpu->cpuid_feat_edx = CPUID_FEATURES;
    cpu->cpuid_signature = CPUID_SIG;
    cpu->icache = calloc(ICACHE_SIZE, sizeof *cpu->icache);
    cpu->bcache = calloc(BCACHE_SIZE, sizeof *cpu->bcache);
    cpu->exec_page = 1;
    cpu_reset(cpu);
}

void cpu_free(struct cpu *cpu)
{
    free(cpu->icache);
    free(cpu->bcache);
    cpu->icache = NULL;
    cpu->bcache = NULL;
}

/* Power-on / RESET state (SDM vol. 3 sec. 10.1.1, table 10-1). */
void cpu_reset(struct cpu *c)
{
    memset(c->r, 0, sizeof c->r);
    c->r[R_EDX] = c->cpuid_signature;
    c->eip = 0xFFF0;
    c->eflags = EFLAGS_FIXED1;
    for (int s = 0; s < 6; s++)
        c->seg[s] = (struct seg){ .sel = 0, .base = 0, .limit = 0xFFFF, .ar = 0x93 };
    c->seg[SEG_CS] = (struct seg){ .sel = 0xF000, .base = 0xFFFF0000u, .limit = 0xFFFF, .ar = 0x9B };
    c->gdtr = (struct dtr){ 0, 0xFFFF };
    c->idtr = (struct dtr){ 0, 0xFFFF };
    c->ldtr = (struct seg){ .sel = 0, .base = 0, .limit = 0xFFFF, .ar = 0x82 };
    c->tr = (struct seg){ .sel = 0, .base = 0, .limit = 0xFFFF, .ar = 0x8B };
    c->cr[0] = 0x60000010u;          /* CD NW ET */
    c->cr[2] = c->cr[3] = c->cr[4] = 0;
    memset(c->dr, 0, sizeof c->dr);
    c->dr[6] = 0xFFFF0FF0u;
    c->dr[7] = 0x00000400u;
    c->cpl = 0;
    c->tsc = 0;
    c->tsc_offset = c->tsc_clock ? 0 - c->tsc_clock(c->tsc_opaque) : 0;
    c->intr_shadow = 0;
    c->halted = false;
    c->a20_enabled = true;
    c->exc_depth = 0;
    memset(&c->fpu, 0, sizeof c->fpu);
    c->fpu.cw = 0x0040;              /* after RESET; FNINIT gives 0x037F */
    c->fpu.tw = 0x5555;
    c->msr_apic_base = 0;
    memset(c->msr_perfctr, 0, sizeof c->msr_perfctr);    /* the PMU is reset too */
    memset(c->msr_evntsel, 0, sizeof c->msr_evntsel);
    cpu_tlb_flush(c);
}

/* Fetch up to 15 instruction bytes at CS:EIP into buf. Returns the number
 * available before the CS limit or a page fault; *stop_exc is that fault
 * (EXC_NONE if the bytes ran out at the limit). */
static unsigned fetch(struct cpu *c, uint8_t *buf, const uint8_t **p, int *stop_exc)
{
    const struct seg *cs = &c->seg[SEG_CS];
    uint32_t eip = c->eip;
    *stop_exc = EXC_NONE;
    if (eip > cs->limit) { *stop_exc = fault(c, EXC_GP, 0); return 0; }
    uint32_t room = cs->limit - eip;
    unsigned want = room >= 14 ? 15 : room + 1;
    uint32_t lin = cs->base + eip;
    unsigned in_page = 4096 - (lin & 0xFFF);
    bool user = c->cpl == 3;
    if (in_page >= want) {
        uint8_t *h = tlb_hit(c, lin, false, user);
        if (!h) {
            uint64_t pa;
            int r;
            if (!(c->cr[0] & CR0_PG)) { pa = c->a20_enabled ? lin : (lin & ~0x100000u); r = EXC_NONE; }
            else r = lin_to_phys(c, lin, ACC_EXEC, user, &pa);
            if (r != EXC_NONE) { *stop_exc = r; return 0; }
            tlb_fill(c, lin, pa, false, user);
            h = tlb_hit(c, lin, false, user);
        }
        if (h) { *p = h; return want; }
    }
    /* slow path: byte by byte, across pages */
    unsigned n = 0;
    while (n < want) {
        uint64_t v;
        int r = lin_read(c, lin + n, 1, &v, c->cpl == 3);
        if (r != EXC_NONE) { *stop_exc = r; break; }
        buf[n++] = (uint8_t)v;
    }
    *p = buf;
    return n;
}

/* Do the n >= len bytes at p equal e->bytes[0..len)? Two overlapping 8-byte
 * compares when 8 bytes can be read safely, memcmp otherwise. */
static inline bool bytes_match(const struct icache_entry *e, const uint8_t *p, unsigned n)
{
    unsigned len = e->in.len;
    if (len > n) return false;
    if (n >= 8) {
        uint64_t a, b;
        if (len <= 8) {
            memcpy(&a, p, 8); memcpy(&b, e->bytes, 8);
            uint64_t mask = len == 8 ? ~0ull : ((1ull << (8 * len)) - 1);
            return ((a ^ b) & mask) == 0;
        }
        uint64_t a2, b2;
        memcpy(&a, p, 8); memcpy(&b, e->bytes, 8);
        memcpy(&a2, p + len - 8, 8); memcpy(&b2, e->bytes + len - 8, 8);
        return a == b && a2 == b2;
    }
    return memcmp(e->bytes, p, len) == 0;
}

static inline bool feature_ok(const struct cpu *c, uint32_t attrs)
{
    if (!(attrs & A_FEATURES)) return true;
    if (attrs & (A_UNIMPL | A_SSE | A_SSE2 | A_SSE3)) return false;
    if ((attrs & A_MMX) && !(c->cpuid_feat_edx & (1u << 23))) return false;
    if ((attrs & A_FXSR) && !(c->cpuid_feat_edx & (1u << 24))) return false;
    return true;
}

/* Execute one decoded instruction; exceptions are returned, not delivered. */
static inline __attribute__((always_inline)) int execute_fn(struct cpu *c, const struct insn *in, op_fn fn,
                                                           uint32_t ip_mask)
{
    uint32_t next = (c->eip + in->len) & ip_mask;
    c->next_eip = next;
    c->eip = next;
    int rc = fn(c, in);
    if (rc != EXC_NONE && rc != EXIT_HLT) c->eip = c->insn_eip;
    return rc;
}

/* The single-step path: the feature check (the block path does it once at
 * block build) and the table's handler. */
static inline __attribute__((always_inline)) int execute(struct cpu *c, const struct insn *in)
{
    if (!feature_ok(c, optab[in->op].attrs)) return UD(c);
    return execute_fn(c, in, dispatch[in->op], (c->seg[SEG_CS].ar & AR_DB) ? 0xFFFFFFFFu : 0xFFFFu);
}

static bool is_trap_like(int vec)
{
    return vec == EXC_BP || vec == EXC_OF;
}

/* Finish an instruction: count it, or deliver the fault it raised.
 * Returns EXC_NONE, an EXIT_* code, or the vector that was delivered. */
static inline __attribute__((always_inline)) int retire(struct cpu *c, int rc)
{
    if (rc == EXC_NONE) {
        c->icount++;
        c->tsc++;
        return EXC_NONE;
    }
    if (rc >= 256) {
        if (rc == EXIT_HLT) { c->icount++; c->tsc++; }
        return rc;
    }
    /* a fault: EIP is back at the instruction; deliver */
    int dr = cpu_deliver(c, rc, c->exc_has_err, c->exc_err, false,
                         is_trap_like(rc) ? c->next_eip : c->insn_eip);
    if (dr >= 256) return dr;
    return rc;
}

int interp_step(struct cpu *c)
{
    uint8_t buf[16];
    const uint8_t *p = buf;
    int stop_exc, rc;
    struct insn in;
    c->insn_eip = c->eip;
    c->exc_has_err = false;
    c->intr_shadow = 0;
    unsigned n = fetch(c, buf, &p, &stop_exc);
    unsigned mode = (c->seg[SEG_CS].ar & AR_DB) ? DECODE_32 : DECODE_16;
    uint32_t lin = c->seg[SEG_CS].base + c->eip;
    struct icache_entry *e = &c->icache[(lin ^ (lin >> 13)) % ICACHE_SIZE];
    int d;
    if (e->lin == lin && e->mode == mode + 1 && bytes_match(e, p, n)) {
        d = DECODE_OK;
        rc = execute(c, &e->in);
        goto done;
    }
    d = n ? decode(&in, p, n, mode) : DECODE_MORE;
    if (d == DECODE_OK) {
        e->lin = lin; e->mode = (uint8_t)(mode + 1);
        memset(e->bytes, 0, sizeof e->bytes);
        memcpy(e->bytes, p, in.len);
        e->in = in;
        rc = execute(c, &in);
    } else if (d == DECODE_MORE) {
        rc = stop_exc != EXC_NONE ? stop_exc : fault(c, EXC_GP, 0);
    } else if (d == DECODE_GP) {
        rc = fault(c, EXC_GP, 0);
    } else {
        rc = UD(c);
    }
done:
    return retire(c, rc);
}

int interp_exec_decoded(struct cpu *c, const struct insn *in)
{
    c->insn_eip = c->eip;
    c->exc_has_err = false;
    c->intr_shadow = 0;
    return retire(c, execute(c, in));
}

/* ---- the block cache ----
 * A block is a run of instructions decoded once: it starts at a linear
 * address, stays inside one page and the CS limit, and ends after an
 * instruction that branches or ends a translation block (A_BRANCH,
 * A_ENDTB: mode changes, STI/MOV SS shadows, ...). It is used only if the
 * bytes in memory still equal the bytes it was decoded from; a store into
 * the page of the running block (cpu->smc) ends the run, so self-modifying
 * code is exact. interp_step() stays the one-instruction path. */
static inline bool block_matches(const struct iblock *b, const uint8_t *p, unsigned avail)
{
    unsigned n = b->nbytes, full = n / 8;
    uint64_t w;
    if (n < 8) {                              /* short block */
        if (avail < 8) return memcmp(p, b->words, n) == 0;
        memcpy(&w, p, 8);                     /* 8 readable bytes: mask the rest */
        return ((w ^ b->words[0]) & ((1ull << (8 * n)) - 1)) == 0;
    }
    for (unsigned i = 0; i < full; i++) {
        memcpy(&w, p + 8 * i, 8);
        if (w != b->words[i]) return false;
    }
    memcpy(&w, p + n - 8, 8);                 /* overlapping tail word */
    return w == b->tail;
}

/* Decode a block at p (avail bytes usable). Returns the instruction count. */
static unsigned block_build(const struct cpu *c, struct iblock *b, uint32_t lin, unsigned mode, const uint8_t *p, unsigned avail)
{
    unsigned off = 0, k = 0;
    if (avail > BLOCK_BYTES) avail = BLOCK_BYTES;
    while (k < BLOCK_INSNS && off < avail) {
        struct insn *in = &b->insn[k];
        if (decode(in, p + off, avail - off, mode) != DECODE_OK) break;
        /* CPUID features are fixed for a CPU's lifetime: check them once here */
        op_fn f = feature_ok(c, optab[in->op].attrs) ? fastpath_pick(in) : op_ud;
        b->fn[k] = f ? f : dispatch[in->op];
        off += in->len;
        k++;
        if (optab[in->op].attrs & (A_BRANCH | A_ENDTB | A_FEATURES)) break;
    }
    b->lin = lin;
    b->mode = (uint8_t)(mode + 1);
    b->ninsn = (uint8_t)k;
    b->nbytes = (uint16_t)off;
    memset(b->words, 0, sizeof b->words);
    memcpy(b->words, p, off);
    b->tail = 0;
    if (off >= 8) memcpy(&b->tail, p + off - 8, 8);
    return k;
}

#define NO_BLOCK (-2)
/* Run one block at CS:EIP, or return NO_BLOCK if none applies (interp_step).
 * *done counts retired instructions; the return value is EXC_NONE, a
 * delivered vector, or EXIT_*. */
static int block_run(struct cpu *c, uint64_t *done)
{
    const struct seg *cs = &c->seg[SEG_CS];
    uint32_t eip = c->eip;
    if (eip > cs->limit) return NO_BLOCK;
    uint32_t lin = cs->base + eip;
    bool user = c->cpl == 3;
    uint8_t *h = tlb_hit(c, lin, false, user);
    if (!h) return NO_BLOCK;                       /* interp_step fills the TLB */
    unsigned mode = (cs->ar & AR_DB) ? DECODE_32 : DECODE_16;
    unsigned avail = 4096 - (lin & 0xFFF);
    if (cs->limit - eip < avail - 1) avail = cs->limit - eip + 1;
    struct iblock *b = &c->bcache[(lin ^ (lin >> 12)) % BCACHE_SIZE];
    if (!(b->lin == lin && b->mode == mode + 1 && b->nbytes <= avail && block_matches(b, h, avail))) {
        if (!block_build(c, b, lin, mode, h, avail)) { b->mode = 0; return NO_BLOCK; }
    }
    c->exec_page = lin & ~0xFFFu;
    c->smc = false;
    int rc = EXC_NONE;
    unsigned k = 0, n = b->ninsn;
    uint32_t ip_mask = mode == DECODE_32 ? 0xFFFFFFFFu : 0xFFFFu;
    for (; k < n; k++) {
        const struct insn *in = &b->insn[k];
        c->insn_eip = c->eip;
        c->intr_shadow = 0;      /* (exc_has_err is set by fault()/fault_noerr() with every vector) */
        rc = execute_fn(c, in, b->fn[k], ip_mask);
        if (rc != EXC_NONE) { rc = retire(c, rc); if (rc == EXIT_HLT) k++; break; }
        if (c->smc || c->eip != c->next_eip) { k++; break; }   /* SMC, or a branch taken */
    }
    *done += k;
    c->icount += k - (rc == EXIT_HLT);   /* retire() already counted a HLT */
    c->tsc += k - (rc == EXIT_HLT);
    c->exec_page = 1;
    return rc;
}

int interp_run(struct cpu *c, uint64_t n)
{
    uint64_t done = 0;
    while (done < n) {
        if (c->intr_pending && (c->eflags & FL_IF) && !c->intr_shadow && c->intr_pending(c->intr_opaque)) {
            int vec = c->intr_ack(c->intr_opaque);
            c->halted = false;
            int dr = cpu_deliver(c, vec, false, 0, false, c->eip);
            if (dr >= 256) return dr;
        }
        if (c->halted) return EXIT_HLT;
        /* in an interrupt shadow (STI, MOV/POP SS): that one instruction
         * alone, so that an interrupt waiting is taken right after it */
        int rc = c->bcache && !c->intr_shadow ? block_run(c, &done) : NO_BLOCK;
        if (rc == NO_BLOCK) {
            rc = interp_step(c);
            done++;
        }
        if (rc >= 256) return rc;
    }
    return EXC_NONE;
}

int op_unimpl(struct cpu *c, const struct insn *in)
{
    (void)in;
    (void)c;
    return EXIT_UNIMPL;
}

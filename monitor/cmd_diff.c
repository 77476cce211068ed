/* monitor/cmd_diff.c - `bt86 test diff`: differential fuzzing of two engines.
 *
 * Owns: running generated instruction sequences (monitor/fuzzgen.c) on two
 * engines from the same state, comparing the results, shrinking a divergent
 * case to a minimal reproducer, and the reports (text, JSON, JUnit).
 *
 *     bt86 test diff --engines A,B [--seed S] [--count N | --seconds N]
 *                    [--groups N] [--no-ac | --ac-only]
 *                    [--interp-mode block|step|engine] [--json] [--junit FILE] [-v]
 *
 * Long campaign: `bt86 test diff --engines interp,host --count 1000000`
 * (30-50 s here); tests/cpu/run-diff.sh runs short fixed-seed ones on every
 * engine pair this machine can run (docs/harness.md).
 *
 * Engines (A and B): `host` (monitor/hostcpu.c, the real CPU running the
 * bytes in a 32-bit user code segment) and every engine of monitor/engine.h:
 * `interp` (by default through interp_run(), or interp_step() with
 * --interp-mode step, or engine_run() with --interp-mode engine), `bt`,
 * `trap`, `kvm` (through engine_run()). An engine whose
 * engine_test_reason() (or hostcpu_available()) says it cannot run
 * here makes the run one "SKIP diff: ..." line, exit 0. Results of A land in
 * x->a, of B in x->b; B runs first and is the reference for the
 * undefined-flag mask at a fault; messages name both ("eax: host X interp Y").
 *
 * How a case runs. The host engine's data area is mapped at DIFF_DATA_BASE
 * (0x1000, 16 KiB: below 64 KiB so 16-bit addressing reaches it; four pages
 * so accesses straddle page boundaries). The interpreter gets a sparse guest
 * RAM large enough to hold the host's code area at the SAME linear address
 * (hostcpu_code_base(), below 2 GiB), so CALL pushes and indirect jumps see
 * identical EIPs; paging is off, CR0.PE|AM set, CPL 3, the segment
 * registers are what hostcpu_mirror_cpu() says the code sees (flat, DPL 3),
 * TR is a TSS image without an I/O bitmap (as Linux runs a process) and the
 * IDT is empty (limit 0), so a fault's delivery fails at once without side
 * effects. The host runs the bytes and returns through its epilogue; the
 * interpreter runs until EIP reaches the end of the bytes: by default
 * through interp_run() (decoded blocks, the machine's path; a JMP $ placed
 * after the bytes ends the last block there), with --interp-mode step
 * through interp_step(). An engine of engine.h runs freely (engine_run():
 * blocks, chaining) until the HLT placed after the bytes raises #GP at CPL
 * 3, whose delivery fails like any other (EIP == end: done). When an engine
 * stops on a fault (its failed delivery returns EXIT_RESET, or EXIT_UNIMPL
 * from an engine that reports a triple fault that way), EIP is back on the
 * instruction with nothing committed (engine.h invariant) and the harness
 * decodes and dispatches it again through the opcode table's handlers
 * WITHOUT delivery to learn the vector (diff_execute below, which mirrors
 * cpu/interp.c's execute()); nothing is added to cpu/. An EXIT_UNIMPL on an
 * instruction that does not fault when dispatched is "not implemented".
 * The vector an engine of engine.h itself raises is then checked too: the
 * faulting instruction is stepped once more by the engine with real
 * descriptor tables and one handler per vector (engine_vector(): where it
 * lands gives the vector, its stack frame the error code), and that is the
 * engine's result; a fault it delivers to no handler is its own kind of
 * divergence (BT86_DIFF_NO_PROBE=1 turns the probe off).
 *
 * Compared: the exception vector (and EIP offset where it was raised; the
 * error code of #GP/#SS/#AC), the eight GPRs, EFLAGS under
 * HOSTCPU_EFLAGS_USER minus the flags that may be undefined where the run
 * stopped (a data flow over the groups of the fu column, refined for 1-bit
 * shifts: fuzzgen_undef_at(); the generator never lets a later instruction
 * read such a flag), and every data-area byte. The one memory exception:
 * when both engines fault at the same instruction, the DIFF_DEAD_STACK bytes
 * below ESP are not compared (dead stack a host may have partly written
 * before the fault). Nothing else is masked: a difference is a FAIL. Each
 * failure is shrunk (drop groups, simplify registers, flags and data while
 * it still diverges with the same class of first difference, no side
 * stopping on EXIT_UNIMPL or a runaway) and printed as bytes and disassembly
 * with the case seed: re-run one case with `--engines A,B --seed CASESEED
 * --count 1 -v` (plus the generator options it prints). A case an engine
 * cannot run (EXIT_UNIMPL) is counted as skipped and listed by mnemonic.
 * BT86_DIFF_SELFTEST=XX (a hex byte) corrupts side A's EAX in every case
 * whose code holds that byte: run-diff.sh checks that the harness finds,
 * shrinks and reports such a planted divergence.
 * --json / --junit go through monitor/report.c: one case for the campaign,
 * one per divergence kind, one per divergent case (the shrunk reproducer as
 * its output) and one skip per kind of unimplemented instruction.
 * Output: progress on stderr; per divergence a block on stdout; a summary per
 * signature (mnemonic + first differing item); the closing line
 * "N passed, N failed" counts sequences. Exit 0 only without divergences.
 */
#include "monitor/commands.h"
#include "monitor/fuzzgen.h"
#include "monitor/hostcpu.h"
#include "monitor/engine.h"
#include "monitor/report.h"
#include "cpu/interp_priv.h"
#include "cpu/decode.h"
#include "mem/mem.h"
#include "devices/bus.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <time.h>
#include <inttypes.h>

#define DIFF_DATA_BASE 0x1000u
#define DIFF_DATA_SIZE 0x4000u
#define DIFF_CODE_MAX  4096u
#define DIFF_DEAD_STACK 160u       /* ENTER level 31: 32 dwords pushed      */
#define DIFF_TSS_BASE  0x0800u      /* interp: the TSS image (below the data) */
#define DIFF_GDT_BASE  0x0900u      /* vector probe: GDT (9 entries)         */
#define DIFF_IDT_BASE  0x0A00u      /* vector probe: IDT (32 interrupt gates)*/
#define DIFF_HND_BASE  0x0C00u      /* vector probe: handler v at +2v: HLT HLT */
#define DIFF_STK0_TOP  0x1000u      /* vector probe: TSS.ESP0 (ring-0 stack) */
#define DIFF_MAX_STEPS 100000
#define DIFF_NO_END    300          /* interp: ran past the step limit      */
#define DIFF_NO_VECTOR 301          /* an engine's fault reached no handler  */
#define DIFF_SIGS      64
#define DIFF_SHRINK_MAX 1000000     /* failures shrunk (the rest: as found) */

#define DIFF_NSYS 12
static const char *const diff_sys_names[DIFF_NSYS] = {
    "cr0", "cr2", "cr3", "dr0", "dr1", "dr2", "dr3", "gdtr.base", "gdtr.limit",
    "sysenter_cs", "sysenter_esp", "sysenter_eip",
};

/* one engine's result */
struct diff_out {
    uint32_t r[8];                  /* GPRs at the end or the fault          */
    uint32_t eflags;
    int exc;                        /* EXC_NONE, vector, EXIT_*, DIFF_NO_END */
    uint32_t eip_off;               /* fault EIP minus the code base         */
    uint32_t err;                   /* error code of #GP/#AC (0 otherwise)   */
    uint8_t data[DIFF_DATA_SIZE];   /* the data area afterwards              */
    uint32_t sys[DIFF_NSYS];        /* --level system: CR0 CR2 CR3 DR0-3 GDTR
                                       SYSENTER_CS/ESP/EIP (diff_sys_names)  */
};

struct diff_sig { char key[80]; unsigned count; uint64_t first_seed; };

struct diff_fail {                  /* kept for --json / --junit             */
    uint64_t seed;
    char what[160];
    char bytes[200];
    char *text;                     /* the shrunk case: bytes, disassembly,
                                       initial state, every difference (the
                                       first DIFF_FAIL_TEXT failures)      */
};
#define DIFF_FAIL_TEXT 200

/* How a side runs the bytes. */
enum diff_kind {
    SIDE_HOST,                      /* monitor/hostcpu.c: the real CPU       */
    SIDE_INTERP_BLOCK,              /* interp_run(), one block per call      */
    SIDE_INTERP_STEP,               /* interp_step(), one insn per call      */
    SIDE_ENGINE,                    /* engine_run() of monitor/engine.h      */
};

/* One side of the comparison: an engine and the guest it runs in. */
struct diff_side {
    const char *name;               /* "interp", "bt", "trap", "kvm", "host" */
    enum diff_kind kind;
    struct engine *eng;             /* SIDE_ENGINE                           */
    struct mem *mem;                /* sparse guest RAM (not SIDE_HOST)      */
    uint8_t *ram;                   /* its host view                         */
    struct cpu cpu;                 /* the guest CPU (not SIDE_HOST)         */
    bool cpu_ok;                    /* cpu_init done                         */
    struct bus *bus;                /* ports: an open bus (reads all ones)   */
    uint8_t probe_save[DIFF_DATA_SIZE]; /* engine_vector(): the data area     */
};

struct diff_ctx {
    struct hostcpu *hc;             /* when a side is the host               */
    uint32_t code_base;             /* linear address of the code            */
    struct diff_side side[2];       /* --engines A,B: results in a and b     */
    bool system;                    /* --level system: CPL 0                 */
    bool code16;                    /* --code 16: a 16-bit code segment      */
    uint32_t eip_base;              /* EIP at the code: code_base, or 0 (16) */
    bool probe_vectors;             /* engine sides: engine_vector() at faults */
    int cpl;                        /* 3, or 0 with --level system           */
    struct fuzz_cfg cfg;
    uint8_t data0[DIFF_DATA_SIZE];  /* initial data area of the case         */
    struct diff_out a, b;           /* side[0], side[1]                      */
    int verbose;
    struct diff_sig sig[DIFF_SIGS];
    unsigned nsig;
    struct diff_fail *fails;
    size_t nfails, capfails;
    unsigned shrunk;
    struct diff_sig unimpl[DIFF_SIGS]; /* EXIT_UNIMPL by mnemonic         */
    unsigned nunimpl;
    bool no_ac;                     /* --no-ac                            */
    uint64_t runs, run_insns;       /* interp_run calls, insns they retired */
    char opts[96];                  /* generator options to re-run a case */
    int selftest_byte;              /* BT86_DIFF_SELFTEST: -1, or a code byte
                                       whose presence corrupts side A's EAX */
    uint64_t outcome[34];           /* side B results: [0] none, [1+v] vector v, [33] other */
};

/* ---- the interpreter without exception delivery ---- */
static const op_fn diff_dispatch[OP_COUNT] = {
#define X(name, map, pfx, opc, ext, mnem, handler, o1, o2, o3, attrs, fr, fw, fu) [OP_##name] = op_##handler,
#include "cpu/opcodes.def"
#undef X
};

/* Decode and execute one instruction at EIP (paging off, identity mapped,
 * flat CS); returns EXC_NONE, the exception vector (EIP back on the
 * instruction) or EXIT_*. Mirrors cpu/interp.c interp_step minus delivery. */
static int diff_execute(struct diff_side *x)
{
    struct cpu *c = &x->cpu;
    c->insn_eip = c->eip;
    c->exc_has_err = false;
    uint8_t buf[16] = { 0 };
    uint64_t lin = c->seg[SEG_CS].base + c->eip;
    for (unsigned i = 0; i < 15; i++)
        buf[i] = (lin + i < mem_ram_size(x->mem)) ? x->ram[lin + i] : 0xFF;
    struct insn in;
    int d = decode(&in, buf, 15, (c->seg[SEG_CS].ar & AR_DB) ? DECODE_32 : DECODE_16);
    if (d == DECODE_UD) return fault_noerr(c, EXC_UD);
    if (d != DECODE_OK) return fault(c, EXC_GP, 0);
    const struct opinfo *r = &optab[in.op];
    if (r->attrs & (A_UNIMPL | A_SSE | A_SSE2 | A_SSE3)) return fault_noerr(c, EXC_UD);
    if ((r->attrs & A_MMX) && !(c->cpuid_feat_edx & (1u << 23))) return fault_noerr(c, EXC_UD);
    if ((r->attrs & A_FXSR) && !(c->cpuid_feat_edx & (1u << 24))) return fault_noerr(c, EXC_UD);
    c->next_eip = c->eip + in.len;
    c->eip = c->next_eip;
    int rc = diff_dispatch[in.op](c, &in);
    if (rc != EXC_NONE && rc != EXIT_HLT) c->eip = c->insn_eip;
    return rc;
}

static void state_in(const struct fuzz_case *fc, struct host_state *in)
{
    memcpy(in->r, fc->r, sizeof in->r);
    in->eflags = fc->eflags;
}

/* ---- the vector an engine itself raises ----
 * The run's IDT is empty, so an engine stops on a fault with nothing
 * delivered, and diff_execute() learns the vector from the interpreter.
 * To check the engine's own choice (vector and error code), the faulting
 * instruction is then executed once more by the engine (engine_step) with
 * real tables: a GDT (ring-0 code 0x10 and data 0x18, the user selectors
 * 0x23 and 0x2B, the TSS 0x40), a TSS whose ESP0/SS0 give a ring-0 stack
 * below the data area, and 32 interrupt gates (DPL 0, so INT n from CPL 3
 * still raises #GP) to handlers 2 bytes apart. Where the engine lands says
 * which vector it delivered, and the frame on the stack holds the error
 * code (SDM vol. 3 sec. 6.12.1, 6.13). Everything the probe changed (the
 * CPU fields, the data area a CPL 0 frame goes to) is put back. Returns the
 * vector, or -1 when the engine did not reach a handler. */
static void put_desc(uint8_t *p, uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    p[0] = (uint8_t)limit; p[1] = (uint8_t)(limit >> 8);
    p[2] = (uint8_t)base; p[3] = (uint8_t)(base >> 8); p[4] = (uint8_t)(base >> 16);
    p[5] = access;
    p[6] = (uint8_t)(flags | ((limit >> 16) & 0xF));
    p[7] = (uint8_t)(base >> 24);
}

static int engine_vector(struct diff_side *sd, uint32_t *err)
{
    struct cpu *c = &sd->cpu;
    uint8_t *ram = sd->ram;
    uint8_t *data_save = sd->probe_save;
    struct { uint32_t r[8], eip, eflags; struct seg seg[6], tr; struct dtr gdtr, idtr; int cpl;
             bool halted; uint8_t shadow; uint32_t cr2; } sv;
    memcpy(sv.r, c->r, sizeof sv.r);
    sv.eip = c->eip; sv.eflags = c->eflags;
    memcpy(sv.seg, c->seg, sizeof sv.seg);
    sv.tr = c->tr; sv.gdtr = c->gdtr; sv.idtr = c->idtr; sv.cpl = c->cpl;
    sv.halted = c->halted; sv.shadow = c->intr_shadow; sv.cr2 = c->cr[2];
    memcpy(data_save, ram + DIFF_DATA_BASE, DIFF_DATA_SIZE);

    uint8_t *g = ram + DIFF_GDT_BASE;
    memset(g, 0, 9 * 8);
    put_desc(g + 0x10, 0, 0xFFFFF, 0x9B, 0xC0);
    put_desc(g + 0x18, 0, 0xFFFFF, 0x93, 0xC0);
    put_desc(g + 0x20, 0, 0xFFFFF, 0xFB, 0xC0);
    put_desc(g + 0x28, 0, 0xFFFFF, 0xF3, 0xC0);
    put_desc(g + 0x40, DIFF_TSS_BASE, 0x67, 0x8B, 0x00);
    for (int v = 0; v < 32; v++) {
        uint8_t *e = ram + DIFF_IDT_BASE + 8 * v;
        uint32_t off = DIFF_HND_BASE + 2u * (uint32_t)v;
        e[0] = (uint8_t)off; e[1] = (uint8_t)(off >> 8); e[2] = 0x10; e[3] = 0;
        e[4] = 0; e[5] = 0x8E; e[6] = (uint8_t)(off >> 16); e[7] = (uint8_t)(off >> 24);
    }
    memset(ram + DIFF_HND_BASE, 0xF4, 64);
    uint32_t esp0 = DIFF_STK0_TOP, ss0 = 0x18;
    memcpy(ram + DIFF_TSS_BASE + 4, &esp0, 4);
    memcpy(ram + DIFF_TSS_BASE + 8, &ss0, 4);
    c->gdtr = (struct dtr){ DIFF_GDT_BASE, 9 * 8 - 1 };
    c->idtr = (struct dtr){ DIFF_IDT_BASE, 32 * 8 - 1 };
    c->tr = (struct seg){ .sel = 0x40, .base = DIFF_TSS_BASE, .limit = 0x67, .ar = 0x8B };
    engine_ram_written(sd->eng, DIFF_TSS_BASE, DIFF_STK0_TOP - DIFF_TSS_BASE);

    /* an engine may return from a step without retiring anything (a
     * pending exit of its own): step again while nothing moved */
    for (int tries = 0; tries < 16; tries++) {
        uint32_t eip0 = c->eip;
        uint16_t cs0 = c->seg[SEG_CS].sel;
        engine_step(sd->eng);
        if (c->eip != eip0 || c->seg[SEG_CS].sel != cs0) break;
    }
    int vec = -1;
    uint32_t at = c->seg[SEG_CS].base + c->eip;
    if (getenv("BT86_DIFF_DEBUG") && !(at >= DIFF_HND_BASE && at < DIFF_HND_BASE + 64))
        fprintf(stderr, "[vector probe on %s: stopped at %04x:%08x (from %08x), cpl %d]\n", sd->name,
                c->seg[SEG_CS].sel, c->eip, sv.eip, c->cpl);
    if ((c->seg[SEG_CS].sel & ~3u) == 0x10 && at >= DIFF_HND_BASE && at < DIFF_HND_BASE + 64) {
        vec = (int)(at - DIFF_HND_BASE) / 2;
        *err = 0;
        if (vec == 8 || (vec >= 10 && vec <= 14) || vec == 17) {
            uint32_t sp = c->seg[SEG_SS].base + c->r[R_ESP];
            if (sp + 4 <= mem_ram_size(sd->mem)) memcpy(err, ram + sp, 4);
        }
    }

    memcpy(c->r, sv.r, sizeof sv.r);
    c->eip = sv.eip; c->eflags = sv.eflags;
    memcpy(c->seg, sv.seg, sizeof sv.seg);
    c->tr = sv.tr; c->gdtr = sv.gdtr; c->idtr = sv.idtr; c->cpl = sv.cpl;
    c->halted = sv.halted; c->intr_shadow = sv.shadow; c->cr[2] = sv.cr2;
    memcpy(ram + DIFF_DATA_BASE, data_save, DIFF_DATA_SIZE);
    engine_ram_written(sd->eng, DIFF_TSS_BASE, DIFF_DATA_BASE + DIFF_DATA_SIZE - DIFF_TSS_BASE);
    cpu_tlb_flush(c);
    return vec;
}

/* Run the bytes on a side that simulates the CPU (the interpreter in one
 * of its modes, or an engine of monitor/engine.h) and fill *o. */
static void run_cpu_side(struct diff_ctx *x, struct diff_side *sd, const uint8_t *code, size_t len,
                         const struct fuzz_case *fc, struct diff_out *o)
{
    struct cpu *c = &sd->cpu;
    struct host_state in;
    state_in(fc, &in);
    memcpy(sd->ram + DIFF_DATA_BASE, x->data0, DIFF_DATA_SIZE);
    memcpy(sd->ram + x->code_base, code, len);
    memset(sd->ram + x->code_base + len, 0xCC, 16);      /* INT3 past the end */
    if (sd->kind == SIDE_INTERP_BLOCK) {
        /* JMP $ at the end: a block that reaches the end stops there (a
         * taken branch ends a block run), with EIP == end */
        sd->ram[x->code_base + len] = 0xEB;
        sd->ram[x->code_base + len + 1] = 0xFE;
    } else if (sd->kind == SIDE_ENGINE) {
        /* UD2 at the end: #UD at any CPL, whose delivery fails (empty
         * IDT): the engine stops with EIP == end and nothing changed */
        sd->ram[x->code_base + len] = 0x0F;
        sd->ram[x->code_base + len + 1] = 0x0B;
    }
    cpu_reset(c);                        /* cpu_init was done once (it allocates) */
    hostcpu_mirror_cpu(x->hc, &in, c);   /* (hc may be NULL: no host side) */
    c->eip = x->code_base;
    c->cr[0] = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM;   /* as Linux has it */
    c->cpl = x->cpl;
    if (x->system) {
        /* ring 0: flat DPL 0 code and data (a kernel's __KERNEL_CS/DS) */
        static const struct seg code0 = { 0x10, 0, 0xffffffffu, 0x9b | AR_DB | AR_G };
        static const struct seg data0 = { 0x18, 0, 0xffffffffu, 0x93 | AR_DB | AR_G };
        c->seg[SEG_CS] = code0;
        c->seg[SEG_SS] = data0;
        c->seg[SEG_DS] = data0;
        c->seg[SEG_ES] = data0;
    }
    if (x->code16) {
        /* a 16-bit code segment based at the code, EIP from 0 (SS stays
         * 32-bit: the stack is the same either way) */
        c->seg[SEG_CS].base = x->code_base;
        c->seg[SEG_CS].limit = 0xFFFF;
        c->seg[SEG_CS].ar &= (uint16_t)~(AR_DB | AR_G);
    }
    c->eip = x->eip_base;
    /* Linux's TSS as user code sees it: a busy 32-bit TSS whose I/O map
     * base lies beyond its limit (no ioperm), so port I/O at CPL 3 > IOPL
     * faults (SDM vol. 1 sec. 19.5.2); the image sits below the data area. */
    c->tr = (struct seg){ .sel = 0x40, .base = DIFF_TSS_BASE, .limit = 0x67, .ar = 0x8B };
    sd->ram[DIFF_TSS_BASE + 0x66] = 0xFF;
    sd->ram[DIFF_TSS_BASE + 0x67] = 0xFF;
    /* an empty IDT: a fault's delivery fails at once (#GP, #DF, shutdown:
     * EXIT_RESET) without touching memory or registers, and the harness then
     * learns the vector by dispatching the instruction again undelivered */
    c->idtr = (struct dtr){ 0, 0 };
    cpu_tlb_flush(c);
    if (sd->eng) {
        /* guest RAM changed behind the engine's back (translated code) */
        engine_ram_written(sd->eng, DIFF_TSS_BASE, 0x68);
        engine_ram_written(sd->eng, DIFF_DATA_BASE, DIFF_DATA_SIZE);
        engine_ram_written(sd->eng, x->code_base, len + 16);
    }
    uint32_t eb = x->eip_base;          /* EIP of the code's first byte */
    uint32_t end = eb + (uint32_t)len;
    o->exc = DIFF_NO_END;
    o->eip_off = 0;
    o->err = 0;
    for (int steps = 0; sd->kind == SIDE_INTERP_BLOCK && steps < DIFF_MAX_STEPS; steps++) {
        /* the machine's path: interp_run() runs decoded blocks */
        if (c->eip == end) { o->exc = EXC_NONE; break; }
        uint64_t ic0 = c->icount;
        int rc = interp_run(c, 1);
        x->runs++;
        x->run_insns += c->icount - ic0;
        if (rc == EXC_NONE) continue;
        /* a fault whose delivery failed (or EXIT_*): EIP is back on the
         * instruction, nothing committed; learn what it raises */
        c->cpl = x->cpl;
        rc = diff_execute(sd);
        if (rc == EXC_NONE) continue;
        o->exc = rc;
        o->eip_off = c->eip - eb;
        o->err = c->exc_has_err ? c->exc_err : 0;
        break;
    }
    for (int calls = 0; sd->kind == SIDE_ENGINE && calls < 1000; calls++) {
        /* any engine: it runs freely (blocks, chaining) until the fault at
         * the HLT after the code, a fault in the code, or the budget */
        if (c->eip == end) { o->exc = EXC_NONE; break; }
        uint64_t ic0 = c->icount;
        int rc = engine_run(sd->eng, DIFF_MAX_STEPS);
        x->runs++;
        x->run_insns += c->icount - ic0;
        if (rc == EXC_NONE) {
            if (c->icount - ic0 >= DIFF_MAX_STEPS) break;    /* runaway */
            continue;
        }
        if (c->eip == end) { o->exc = EXC_NONE; break; }
        /* the engine stopped on a fault whose delivery failed (EXIT_RESET,
         * or EXIT_UNIMPL from an engine that reports a triple fault so):
         * the state is the one before the faulting instruction (engine.h
         * invariant); the vector is learned by dispatching it undelivered */
        int stop = rc;
        c->cpl = x->cpl;
        rc = diff_execute(sd);
        if (rc == EXC_NONE && stop == EXIT_UNIMPL) {
            /* no fault there: the engine really cannot run the instruction */
            o->exc = EXIT_UNIMPL;
            o->eip_off = c->insn_eip - eb;
            break;
        }
        if (rc == EXC_NONE) continue;
        o->exc = rc;
        o->eip_off = c->eip - eb;
        o->err = c->exc_has_err ? c->exc_err : 0;
        if (rc >= 0 && rc < 32 && x->probe_vectors) {
            /* what the engine itself delivers there */
            uint32_t e = 0;
            int v = engine_vector(sd, &e);
            o->exc = v >= 0 ? v : DIFF_NO_VECTOR;
            o->err = v >= 0 ? e : 0;
        }
        break;
    }
    for (int steps = 0; sd->kind == SIDE_INTERP_STEP && steps < DIFF_MAX_STEPS; steps++) {
        if (c->eip == end) { o->exc = EXC_NONE; break; }
        /* what a faulting user-level instruction may have touched */
        uint32_t sr[8], seip = c->eip, sfl = c->eflags;
        struct seg sseg[6];
        memcpy(sr, c->r, sizeof sr);
        memcpy(sseg, c->seg, sizeof sseg);
        int rc = interp_step(c);
        if (rc == EXC_NONE) continue;
        memcpy(c->r, sr, sizeof sr);
        memcpy(c->seg, sseg, sizeof sseg);
        c->eip = seip;
        c->eflags = sfl;
        c->cpl = x->cpl;
        rc = diff_execute(sd);
        if (rc == EXC_NONE) continue;   /* retired when dispatched directly */
        o->exc = rc;
        o->eip_off = c->eip - eb;
        o->err = c->exc_has_err ? c->exc_err : 0;
        break;
    }
    if (o->exc == DIFF_NO_END) o->eip_off = c->eip - eb;
    memcpy(o->r, c->r, sizeof o->r);
    o->eflags = c->eflags;
    memcpy(o->data, sd->ram + DIFF_DATA_BASE, DIFF_DATA_SIZE);
    const uint32_t sys[DIFF_NSYS] = {
        c->cr[0], c->cr[2], c->cr[3], c->dr[0], c->dr[1], c->dr[2], c->dr[3], c->gdtr.base, c->gdtr.limit,
        (uint32_t)c->msr_sysenter_cs, (uint32_t)c->msr_sysenter_esp, (uint32_t)c->msr_sysenter_eip,
    };
    memcpy(o->sys, sys, sizeof o->sys);
}

static void run_host(struct diff_ctx *x, const uint8_t *code, size_t len, const struct fuzz_case *fc,
                     struct diff_out *o)
{
    struct host_state in;
    struct host_result res;
    state_in(fc, &in);
    memcpy(hostcpu_data(x->hc), x->data0, DIFF_DATA_SIZE);
    if (hostcpu_run(x->hc, code, len, &in, &res) != 0) {
        memset(o, 0, sizeof *o);
        o->exc = DIFF_NO_END;
        return;
    }
    memcpy(o->r, res.out.r, sizeof o->r);
    o->eflags = res.out.eflags;
    o->exc = res.exc == HOSTCPU_EXC_TIMEOUT ? DIFF_NO_END : res.exc;
    o->eip_off = res.exc == HOSTCPU_EXC_NONE ? 0 : res.fault_eip_offset;
    o->err = (res.exc == EXC_GP || res.exc == EXC_AC || res.exc == EXC_SS) ? res.error_code : 0;
    memcpy(o->data, hostcpu_data(x->hc), DIFF_DATA_SIZE);
}

static const char *exc_name(int e, char *buf, size_t n)
{
    static const char *v[] = { "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#09",
                               "#TS", "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM" };
    if (e == EXC_NONE) return "none";
    if (e >= 0 && e < 20) return v[e];
    if (e == EXIT_HLT) return "EXIT_HLT";
    if (e == EXIT_UNIMPL) return "EXIT_UNIMPL (not implemented)";
    if (e == EXIT_RESET) return "EXIT_RESET";
    if (e == DIFF_NO_END) return "did not reach the end (runaway/timeout)";
    if (e == DIFF_NO_VECTOR) return "a fault the engine delivered to no handler (vector probe)";
    snprintf(buf, n, "vector %d", e);
    return buf;
}

/* Flags that may be undefined where the reference (side B, else side A)
 * stopped: the end, or the group holding the faulting instruction. */
static uint32_t undef_mask(const struct diff_ctx *x, const struct fuzz_case *fc)
{
    uint8_t code[DIFF_CODE_MAX];
    uint32_t off[FUZZ_MAX_GROUPS + 1];
    const struct diff_out *ref = x->b.exc != EXC_NONE ? &x->b : &x->a;
    if (ref->exc == EXC_NONE || !fuzzgen_assemble(fc, x->code_base, code, sizeof code, off))
        return fuzzgen_undef_at(fc, fc->ngroups);
    int k = 0;
    while (k + 1 < fc->ngroups && off[k + 1] <= ref->eip_off) k++;
    /* the group's own fu too: a loop group may fault in a later iteration */
    return fuzzgen_undef_at(fc, k) | fc->g[k].fu | fuzzgen_undef_at(fc, fc->ngroups);
}

/* Compare interp (a) with host (b). Returns the number of differences and
 * describes up to `max` of them into lines[] (first one = the headline). */
static int compare(const struct diff_ctx *x, const struct fuzz_case *fc, char lines[][160], int max)
{
    static const char *rn[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    const struct diff_out *a = &x->a, *b = &x->b;
    const char *na = x->side[0].name, *nb = x->side[1].name;
    int n = 0;
    char e1[32], e2[32];
#define ADD(...) do { if (n < max) snprintf(lines[n], 160, __VA_ARGS__); n++; } while (0)
    if (a->exc != b->exc)
        ADD("exception: %s %s at +%u, %s %s at +%u", nb, exc_name(b->exc, e1, sizeof e1), b->eip_off,
            na, exc_name(a->exc, e2, sizeof e2), a->eip_off);
    else if (a->exc != EXC_NONE && a->eip_off != b->eip_off)
        ADD("exception %s: %s at +%u, %s at +%u", exc_name(a->exc, e1, sizeof e1), nb, b->eip_off, na, a->eip_off);
    else if ((a->exc == EXC_GP || a->exc == EXC_AC || a->exc == EXC_SS) && a->err != b->err)
        ADD("exception %s error code: %s %#x, %s %#x", exc_name(a->exc, e1, sizeof e1), nb, b->err, na, a->err);
    for (int i = 0; i < 8; i++)
        if (a->r[i] != b->r[i]) ADD("%s: %s %08x %s %08x", rn[i], nb, b->r[i], na, a->r[i]);
    uint32_t mask = (HOSTCPU_EFLAGS_USER | (x->system ? FL_IF | 0x3000u : 0)) & ~FL_TF & ~undef_mask(x, fc);
    if ((a->eflags ^ b->eflags) & mask) {
        static const struct { uint32_t bit; const char *n; } fl[] = {
            { FL_CF, "CF" }, { FL_PF, "PF" }, { FL_AF, "AF" }, { FL_ZF, "ZF" }, { FL_SF, "SF" },
            { FL_DF, "DF" }, { FL_OF, "OF" }, { FL_NT, "NT" }, { FL_AC, "AC" }, { FL_ID, "ID" } };
        char bits[64] = "";
        for (unsigned i = 0; i < sizeof fl / sizeof fl[0]; i++)
            if ((a->eflags ^ b->eflags) & mask & fl[i].bit) { strcat(bits, " "); strcat(bits, fl[i].n); }
        ADD("eflags: %s %08x %s %08x (compared %08x; differ:%s)", nb, b->eflags, na, a->eflags, mask, bits);
    }
    for (int i = 0; x->system && i < DIFF_NSYS; i++)
        if (a->sys[i] != b->sys[i]) ADD("%s: %s %08x %s %08x", diff_sys_names[i], nb, b->sys[i], na, a->sys[i]);
    /* When both fault at the same instruction, the bytes just below ESP are
     * dead stack: the host may have done some of a multi-push instruction's
     * stores before the fault (ENTER pushes EBP, then #AC on a misaligned
     * [EBP-4]); the interpreter writes nothing (restartable either way, SDM
     * vol. 3 sec. 6.5). Only those bytes are skipped, only then. */
    uint32_t dead_lo = 0, dead_hi = 0;
    if (a->exc == b->exc && a->exc != EXC_NONE && a->eip_off == b->eip_off && a->r[4] == b->r[4]) {
        dead_hi = b->r[4];
        dead_lo = dead_hi - DIFF_DEAD_STACK;
    }
    for (uint32_t i = 0; i < DIFF_DATA_SIZE; i++)
        if (a->data[i] != b->data[i] && !(DIFF_DATA_BASE + i >= dead_lo && DIFF_DATA_BASE + i < dead_hi)) {
            ADD("mem[%08x]: %s %02x %s %02x (initial %02x)", DIFF_DATA_BASE + i, nb, b->data[i], na, a->data[i],
                x->data0[i]);
            if (n > max + 8) break;
        }
#undef ADD
    return n;
}

static int run_case(struct diff_ctx *x, const struct fuzz_case *fc, char lines[][160], int max)
{
    uint8_t code[DIFF_CODE_MAX];
    size_t len = fuzzgen_assemble(fc, x->code_base, code, sizeof code, NULL);
    if (!len && fc->ngroups) return 0;
    for (int k = 1; k >= 0; k--) {          /* B (the reference) first, as before */
        struct diff_out *o = k ? &x->b : &x->a;
        if (x->side[k].kind == SIDE_HOST) run_host(x, code, len, fc, o);
        else run_cpu_side(x, &x->side[k], code, len, fc, o);
    }
    x->outcome[x->b.exc == EXC_NONE ? 0 : x->b.exc >= 0 && x->b.exc < 32 ? 1 + x->b.exc : 33]++;
    /* the harness's own check: a planted divergence must be found, shrunk
     * to the one group holding the byte and reported */
    if (x->selftest_byte >= 0 && memchr(code, x->selftest_byte, len)) x->a.r[0] ^= 1;
    return compare(x, fc, lines, max);
}

/* The class of a first difference: the text before its first ':' or '['
 * ("eax", "eflags", "exception", "mem"). */
static void diff_class(const char *line, char *out, size_t n)
{
    size_t k = strcspn(line, ":[");
    snprintf(out, n, "%.*s", (int)k, line);
}

/* Does candidate t diverge like the case being shrunk (same class of first
 * difference, and no side stopping because it cannot run something)? */
static bool still_diverges(struct diff_ctx *x, const struct fuzz_case *t, const char *cls)
{
    char l[1][160], c2[64];
    if (!run_case(x, t, l, 1)) return false;
    if (x->a.exc == EXIT_UNIMPL || x->b.exc == EXIT_UNIMPL || x->a.exc == DIFF_NO_END || x->b.exc == DIFF_NO_END)
        return false;
    diff_class(l[0], c2, sizeof c2);
    return !strcmp(cls, c2);
}

/* Shrink *fc while it still diverges the same way. */
static void shrink(struct diff_ctx *x, struct fuzz_case *fc)
{
    char l[1][160], cls[64];
    struct fuzz_case t;
    bool progress = true;
    if (!run_case(x, fc, l, 1)) return;
    diff_class(l[0], cls, sizeof cls);
    while (progress) {
        progress = false;
        for (int k = fc->ngroups - 1; k >= 0 && fc->ngroups > 1; k--) {
            t = *fc;
            fuzzgen_drop_group(&t, k);
            if (still_diverges(x, &t, cls)) { *fc = t; progress = true; }
        }
    }
    static const uint32_t simple[] = { 0, 1, 0xFFFFFFFFu };
    for (int i = 0; i < 8; i++) {
        if (i == 4) continue;
        for (unsigned s = 0; s < 3; s++) {
            if (fc->r[i] == simple[s]) break;
            t = *fc;
            t.r[i] = simple[s];
            if (still_diverges(x, &t, cls)) { *fc = t; break; }
        }
    }
    if (fc->eflags != 2) {
        t = *fc; t.eflags = 2;
        if (still_diverges(x, &t, cls)) *fc = t;
        else for (int bit = 0; bit < 22; bit++) {
            if (!(fc->eflags & (1u << bit)) || bit == 1) continue;
            t = *fc; t.eflags &= ~(1u << bit);
            if (still_diverges(x, &t, cls)) *fc = t;
        }
    }
    uint8_t save[DIFF_DATA_SIZE];
    memcpy(save, x->data0, sizeof save);
    memset(x->data0, 0, sizeof x->data0);
    if (!still_diverges(x, fc, cls)) memcpy(x->data0, save, sizeof save);
}

static void hexdump_code(const uint8_t *code, size_t len, char *out, size_t n)
{
    size_t k = 0;
    out[0] = 0;
    for (size_t i = 0; i < len && k + 4 < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%02x", i ? " " : "", code[i]);
}

static void print_case(struct diff_ctx *x, const struct fuzz_case *fc, FILE *f)
{
    uint8_t code[DIFF_CODE_MAX];
    uint32_t off[FUZZ_MAX_GROUPS + 1];
    size_t len = fuzzgen_assemble(fc, x->code_base, code, sizeof code, off);
    char hex[DIFF_CODE_MAX * 3 + 1];
    hexdump_code(code, len, hex, sizeof hex);
    fprintf(f, "  bytes: %s\n", hex);
    for (size_t p = 0; p < len;) {
        struct insn in;
        char txt[128];
        int d = decode(&in, code + p, len - p, x->code16 ? DECODE_16 : DECODE_32);
        if (d != DECODE_OK) {
            fprintf(f, "    +%03zx  %02x                    (invalid: #UD/#GP)\n", p, code[p]);
            p++;
            continue;
        }
        disasm_format(&in, x->eip_base + (uint32_t)p, txt, sizeof txt);
        char hb[64];
        hexdump_code(code + p, in.len, hb, sizeof hb);
        fprintf(f, "    +%03zx  %-30s %s\n", p, hb, txt);
        p += in.len;
    }
    fprintf(f, "  initial: eax=%08x ecx=%08x edx=%08x ebx=%08x esp=%08x ebp=%08x esi=%08x edi=%08x eflags=%08x\n",
            fc->r[0], fc->r[1], fc->r[2], fc->r[3], fc->r[4], fc->r[5], fc->r[6], fc->r[7], fc->eflags);
    fprintf(f, "  mode: CPL %d, %d-bit code segment (base %08x, EIP %08x), paging off, IDT empty\n", x->cpl,
            x->code16 ? 16 : 32, x->code16 ? x->code_base : 0, x->eip_base);
    fprintf(f, "  code at %08x, data area %08x+%x (%s), flags undefined at the end %08x\n", x->code_base,
            DIFF_DATA_BASE, DIFF_DATA_SIZE, x->data0[0] == 0 && !memcmp(x->data0, x->data0 + 1, DIFF_DATA_SIZE - 1)
            ? "all zero" : "random from the case seed", fuzzgen_undef_at(fc, fc->ngroups));
}

/* mnemonic of the last main instruction (the usual suspect after shrinking) */
static void case_mnem(const struct fuzz_case *fc, char *out, size_t n)
{
    snprintf(out, n, "?");
    if (!fc->ngroups) return;
    const struct fuzz_group *g = &fc->g[fc->ngroups - 1];
    if (g->op >= OP_COUNT) { snprintf(out, n, "(invalid opcode)"); return; }
    const char *m = optab[g->op].mnem, *bar = strchr(m, '|');
    snprintf(out, n, "%.*s", bar ? (int)(bar - m) : (int)strlen(m), m);
}

static void sig_add(struct diff_sig *sig, unsigned *nsig, const char *key, uint64_t seed)
{
    for (unsigned i = 0; i < *nsig; i++)
        if (!strcmp(sig[i].key, key)) { sig[i].count++; return; }
    if (*nsig < DIFF_SIGS) {
        snprintf(sig[*nsig].key, sizeof sig[0].key, "%s", key);
        sig[*nsig].count = 1;
        sig[*nsig].first_seed = seed;
        (*nsig)++;
    } else {
        sig[DIFF_SIGS - 1].count++;
    }
}
static void record_sig(struct diff_ctx *x, const char *key, uint64_t seed)
{
    sig_add(x->sig, &x->nsig, key, seed);
}

/* The interpreter stopped with EXIT_UNIMPL: record the instruction. */
static void record_unimpl(struct diff_ctx *x, const struct fuzz_case *fc)
{
    uint8_t code[DIFF_CODE_MAX];
    size_t len = fuzzgen_assemble(fc, x->code_base, code, sizeof code, NULL);
    char key[80] = "?";
    struct insn in;
    const struct diff_out *u = x->a.exc == EXIT_UNIMPL ? &x->a : &x->b;
    snprintf(key, sizeof key, "%s: ?", x->side[u == &x->a ? 0 : 1].name);
    if (u->eip_off < len &&
        decode(&in, code + u->eip_off, len - u->eip_off, x->code16 ? DECODE_16 : DECODE_32) == DECODE_OK) {
        const char *m = optab[in.op].mnem, *bar = strchr(m, '|');
        snprintf(key, sizeof key, "%s: %.*s", x->side[u == &x->a ? 0 : 1].name,
                 bar ? (int)(bar - m) : (int)strlen(m), m);
    }
    sig_add(x->unimpl, &x->nunimpl, key, fc->seed);
}

/* A divergent case: shrink, print, record. */
static void report_failure(struct diff_ctx *x, struct fuzz_case *fc, bool quiet, const char *first)
{
    char lines[16][160];
    uint64_t seed = fc->seed;
    bool do_shrink = x->shrunk < DIFF_SHRINK_MAX;
    if (do_shrink) { x->shrunk++; shrink(x, fc); }
    int n = run_case(x, fc, lines, 16);
    if (!n) {
        /* depends on what ran before (engine state carried between cases?) */
        snprintf(lines[0], 160, "diverged once, not on re-run: %.100s", first);
        n = 1;
    }
    char mn[32], key[80], kind[40];
    case_mnem(fc, mn, sizeof mn);
    snprintf(kind, sizeof kind, "%.23s", lines[0]);
    char *colon = strpbrk(kind, ":[ ");
    if (colon) *colon = 0;
    snprintf(key, sizeof key, "%s: %s", mn, kind);
    if (x->a.exc != x->b.exc) {
        char e1[32], e2[32];
        snprintf(kind, sizeof kind, "%.6s %.6s %.6s %.6s", x->side[1].name, exc_name(x->b.exc, e1, sizeof e1),
                 x->side[0].name, exc_name(x->a.exc, e2, sizeof e2));
    }
    /* missing alignment checks show up under every mnemonic: one kind */
    if (x->b.exc == EXC_AC && x->a.exc != EXC_AC) snprintf(mn, sizeof mn, "(any, EFLAGS.AC=1)");
    /* so do faults an engine delivers nowhere, and differences in system
     * state (the last instruction is rarely the one that set it) */
    if (x->a.exc == DIFF_NO_VECTOR || x->b.exc == DIFF_NO_VECTOR) {
        snprintf(mn, sizeof mn, "(any fault)");
        snprintf(kind, sizeof kind, "%s delivered no vector", x->side[x->a.exc == DIFF_NO_VECTOR ? 0 : 1].name);
    }
    for (int i = 0; i < DIFF_NSYS; i++) {
        size_t l = strlen(diff_sys_names[i]);
        if (!strncmp(lines[0], diff_sys_names[i], l) && lines[0][l] == ':') snprintf(mn, sizeof mn, "(system state)");
    }
    snprintf(key, sizeof key, "%s: %s", mn, kind);
    bool first_of_sig = true;
    for (unsigned i = 0; i < x->nsig; i++) if (!strcmp(x->sig[i].key, key)) first_of_sig = false;
    record_sig(x, key, seed);
    if (!quiet && (first_of_sig || x->verbose)) {
        printf("DIVERGED case seed %" PRIu64 " (re-run: --engines %s,%s --seed %" PRIu64 " --count 1 -v%s)%s: %s\n",
               seed, x->side[0].name, x->side[1].name, seed, x->opts, do_shrink ? ", shrunk" : "", lines[0]);
        print_case(x, fc, stdout);
        for (int i = 0; i < n && i < 16; i++) printf("  diff: %s\n", lines[i]);
        if (n > 16) printf("  ... %d more differences\n", n - 16);
        fflush(stdout);
    }
    if (x->nfails == x->capfails) {
        size_t cap = x->capfails ? x->capfails * 2 : 64;
        struct diff_fail *nf = realloc(x->fails, cap * sizeof *nf);
        if (!nf) return;
        x->fails = nf; x->capfails = cap;
    }
    struct diff_fail *df = &x->fails[x->nfails++];
    df->seed = seed;
    snprintf(df->what, sizeof df->what, "%s", lines[0]);
    uint8_t code[DIFF_CODE_MAX];
    size_t len = fuzzgen_assemble(fc, x->code_base, code, sizeof code, NULL);
    hexdump_code(code, len, df->bytes, sizeof df->bytes);
    df->text = NULL;
    if (x->nfails <= DIFF_FAIL_TEXT) {
        size_t tn = 0;
        FILE *tf = open_memstream(&df->text, &tn);
        if (tf) {
            fprintf(tf, "case seed %" PRIu64 " (re-run: bt86 test diff --engines %s,%s --seed %" PRIu64 " --count 1 -v%s)\n",
                    seed, x->side[0].name, x->side[1].name, seed, x->opts);
            print_case(x, fc, tf);
            for (int i = 0; i < n && i < 16; i++) fprintf(tf, "  diff: %s\n", lines[i]);
            fclose(tf);
        }
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(FILE *f)
{
    fputs("usage: bt86 test diff --engines A,B [--seed S] [--count N | --seconds N] [--groups N]\n"
          "                      [--json] [--junit FILE] [-v] [--no-progress]\n"
          "  --engines A,B  the two engines to compare: interp, bt, trap, kvm (monitor/engine.h)\n"
          "                 or host (the real CPU, user level); an engine that cannot run here\n"
          "                 makes the run a SKIP with the reason (exit 0)\n"
          "  --seed S       campaign seed (default 1); case i uses a seed derived from it, case 0 uses S\n"
          "  --count N      number of sequences (default 10000)\n"
          "  --seconds N    run for N seconds instead\n"
          "  --groups N     at most N instructions (with their setup) per sequence, 1-16 (default 8)\n"
          "  --json         one JSON object (docs/harness.md) on stdout instead of the text report\n"
          "  --junit FILE   also write JUnit XML to FILE\n"
          "  --interp-mode M  how the interp side runs: block (default: interp_run, decoded\n"
          "                 blocks, as the machine runs), step (interp_step, one instruction at\n"
          "                 a time) or engine (engine_run like bt/trap/kvm)\n"
          "  --no-ac        never set EFLAGS.AC (no alignment-check cases)\n"
          "  --ac-only      always start with EFLAGS.AC set (alignment-check cases)\n"
          "  --code 16|32   the code segment's default size (default 32; 16: every instruction\n"
          "                 with 0x66/0x67 toggled, same meaning; not host)\n"
          "  --level L      user (default: CPL 3, as the host runs) or system (CPL 0: also\n"
          "                 privileged instructions, CR/DR/GDTR/MSR/IF/IOPL compared; not host)\n"
          "  -v             print every divergence (default: the first of each kind)\n", f);
    return 2;
}

#define DIFF_CODE_BASE_NOHOST 0x00400000u   /* code address when no side is the host */

/* Ports at --level system: an open bus, as on a PC with nothing there. */
static uint32_t open_read(void *opaque, uint32_t off, unsigned size)
{
    (void)opaque; (void)off;
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}
static void open_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    (void)opaque; (void)off; (void)val; (void)size;
}
static const struct bus_ops diff_open_bus = { "diff-open-bus", open_read, open_write, false };

/* NULL when `name` can run here, else why not (in buf or static). */
static const char *side_unavailable(const char *name, char *buf, size_t n)
{
    if (!strcmp(name, "host")) {
        if (hostcpu_available(buf, n)) return NULL;
        return buf;
    }
    return engine_test_reason(name, buf, n);
}

static int side_setup(struct diff_ctx *x, struct diff_side *sd, uint64_t ram, int interp_mode,
                      char *err, size_t n)
{
    if (!strcmp(sd->name, "host")) { sd->kind = SIDE_HOST; return 0; }
    sd->mem = mem_new(ram);                 /* sparse memfd: only touched pages cost */
    if (!sd->mem) {
        snprintf(err, n, "cannot create %" PRIu64 " MiB of sparse guest RAM to hold the code at %08x",
                 ram >> 20, x->code_base);
        return -1;
    }
    sd->ram = mem_ram(sd->mem);
    sd->bus = bus_new();
    if (!sd->bus || bus_map_io(sd->bus, 0, 0x10000, &diff_open_bus, NULL)) {
        snprintf(err, n, "cannot create the I/O bus");
        return -1;
    }
    cpu_init(&sd->cpu, sd->mem, sd->bus);
    sd->cpu_ok = true;
    if (!strcmp(sd->name, "interp") && interp_mode != 2) {
        sd->kind = interp_mode == 0 ? SIDE_INTERP_STEP : SIDE_INTERP_BLOCK;
        return 0;
    }
    sd->kind = SIDE_ENGINE;
    sd->eng = engine_new(sd->name, &sd->cpu, err, n);
    return sd->eng ? 0 : -1;
}

static void side_free(struct diff_side *sd)
{
    if (sd->eng) engine_free(sd->eng);
    if (sd->cpu_ok) cpu_free(&sd->cpu);
    if (sd->mem) mem_free(sd->mem);
    if (sd->bus) bus_free(sd->bus);
}

int cmd_test_diff(int argc, char **argv)
{
    const char *engines = NULL, *junit = NULL;
    uint64_t seed = 1, count = 0;
    double seconds = 0;
    int json = 0, verbose = 0, progress = 1;
    unsigned groups = 8;
    int ac_mode = 0;                /* 0 mixed, 1 --no-ac, 2 --ac-only */
    int interp_mode = 1;            /* 0 step, 1 block, 2 engine */
    bool system = false;            /* --level system */
    bool code16 = false;            /* --code 16 */
    static const struct option opts[] = {
        { "engines", required_argument, 0, 'e' }, { "seed", required_argument, 0, 's' },
        { "count", required_argument, 0, 'n' },   { "seconds", required_argument, 0, 't' },
        { "json", no_argument, 0, 'j' },          { "junit", required_argument, 0, 'J' },
        { "groups", required_argument, 0, 'g' },  { "no-progress", no_argument, 0, 'P' },
        { "no-ac", no_argument, 0, 'A' },         { "interp-mode", required_argument, 0, 'M' },
        { "ac-only", no_argument, 0, 'O' },       { "level", required_argument, 0, 'L' },
        { "code", required_argument, 0, 'C' },
        { "help", no_argument, 0, 'h' },          { 0, 0, 0, 0 },
    };
    optind = 1;
    int ch;
    char *endp;
    while ((ch = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
        switch (ch) {
        case 'e': engines = optarg; break;
        case 's':
            seed = strtoull(optarg, &endp, 0);
            if (*endp || !*optarg) return cli_error("diff: --seed wants a number, not '%s'", optarg);
            break;
        case 'n':
            count = strtoull(optarg, &endp, 0);
            if (*endp || !*optarg || !count) return cli_error("diff: --count wants a positive number, not '%s'", optarg);
            break;
        case 't':
            seconds = strtod(optarg, &endp);
            if (*endp || seconds <= 0) return cli_error("diff: --seconds wants a positive number, not '%s'", optarg);
            break;
        case 'g':
            groups = (unsigned)strtoul(optarg, &endp, 0);
            if (*endp || groups < 1 || groups > FUZZ_MAX_GROUPS)
                return cli_error("diff: --groups wants 1..%d, not '%s'", FUZZ_MAX_GROUPS, optarg);
            break;
        case 'j': json = 1; break;
        case 'J': junit = optarg; break;
        case 'v': verbose++; break;
        case 'P': progress = 0; break;
        case 'A': ac_mode = 1; break;
        case 'M':
            if (!strcmp(optarg, "block")) interp_mode = 1;
            else if (!strcmp(optarg, "step")) interp_mode = 0;
            else if (!strcmp(optarg, "engine")) interp_mode = 2;
            else return cli_error("diff: --interp-mode wants block, step or engine, not '%s'", optarg);
            break;
        case 'O': ac_mode = 2; break;
        case 'C':
            if (!strcmp(optarg, "32")) code16 = false;
            else if (!strcmp(optarg, "16")) code16 = true;
            else return cli_error("diff: --code wants 16 or 32, not '%s'", optarg);
            break;
        case 'L':
            if (!strcmp(optarg, "user")) system = false;
            else if (!strcmp(optarg, "system")) system = true;
            else return cli_error("diff: --level wants user or system, not '%s'", optarg);
            break;
        case 'h': usage(stdout); return 0;
        default: return usage(stderr);
        }
    }
    if (optind < argc) return cli_error("diff: unexpected argument '%s'", argv[optind]);
    if (!engines) return cli_error("diff: --engines A,B is required (e.g. --engines interp,host)");
    if (count && seconds) return cli_error("diff: give --count or --seconds, not both");
    char e1[32], e2[32];
    const char *comma = strchr(engines, ',');
    if (!comma || strchr(comma + 1, ',') || (size_t)(comma - engines) >= sizeof e1 || strlen(comma + 1) >= sizeof e2)
        return cli_error("diff: --engines wants two engines like interp,host, not '%s'", engines);
    snprintf(e1, sizeof e1, "%.*s", (int)(comma - engines), engines);
    snprintf(e2, sizeof e2, "%s", comma + 1);
    const char *en[2] = { e1, e2 };
    for (int k = 0; k < 2; k++)
        if (strcmp(en[k], "host") && engine_kind_from_name(en[k]) < 0)
            return cli_error("diff: unknown engine '%s' (interp, bt, trap, kvm, host)", en[k]);
    if (!strcmp(e1, e2))
        return cli_error("diff: --engines needs two different engines, not %s twice", e1);
    if (code16 && (!strcmp(e1, "host") || !strcmp(e2, "host")))
        return cli_error("diff: --code 16 needs a 16-bit code segment, which the host engine cannot run");
    if (system && (!strcmp(e1, "host") || !strcmp(e2, "host")))
        return cli_error("diff: --level system runs at CPL 0, which the host engine cannot (user level only)");
    if (!count && !seconds) count = 10000;

    struct report *rep = report_new("diff");
    if (!rep) return cli_error("diff: out of memory");
    char group[80];
    snprintf(group, sizeof group, "%s-vs-%s", e1, e2);
    report_prop(rep, "engines", "%s,%s", e1, e2);
    report_prop_u64(rep, "seed", seed);
    char why[300];
    for (int k = 0; k < 2; k++) {
        const char *r = side_unavailable(en[k], why, sizeof why);
        if (!r) continue;
        if (r != why) snprintf(why, sizeof why, "%s", r);
        if (json) {
            report_case(rep, group, "sequences", REPORT_SKIP, 0, why, NULL);
            report_write_json(rep, stdout);
        } else {
            printf("SKIP diff: engine %s cannot run here: %s\n", en[k], why);
        }
        char err[512];
        int rc = 0;
        if (junit) {
            report_case(rep, group, "sequences", REPORT_SKIP, 0, why, NULL);
            if (report_write_junit(rep, junit, err, sizeof err)) { cli_error("diff: %s", err); rc = 2; }
        }
        report_free(rep);
        return rc;
    }

    struct diff_ctx *x = calloc(1, sizeof *x);
    if (!x) { report_free(rep); return cli_error("diff: out of memory"); }
    x->verbose = verbose;
    x->selftest_byte = -1;
    if (getenv("BT86_DIFF_SELFTEST")) {
        char *se;
        unsigned long v = strtoul(getenv("BT86_DIFF_SELFTEST"), &se, 16);
        if (*se || v > 0xFF) { free(x); report_free(rep); return cli_error("diff: BT86_DIFF_SELFTEST wants one hex byte"); }
        x->selftest_byte = (int)v;
    }
    x->system = system;
    x->cpl = system ? 0 : 3;
    x->side[0].name = e1;
    x->side[1].name = e2;
    int rc = 2;
    if (!strcmp(e1, "host") || !strcmp(e2, "host")) {
        x->hc = hostcpu_new(DIFF_DATA_BASE, DIFF_DATA_SIZE, why, sizeof why);
        if (!x->hc) { cli_error("diff: cannot start the host engine: %s", why); goto out; }
        hostcpu_set_timeout(x->hc, 200000);
        x->code_base = hostcpu_code_base(x->hc);
    } else {
        x->code_base = DIFF_CODE_BASE_NOHOST;
    }
    uint64_t ram = ((uint64_t)x->code_base + DIFF_CODE_MAX + 2 * 4096 + 0xFFFFF) & ~0xFFFFFull;
    for (int k = 0; k < 2; k++) {
        char err[400];
        if (side_setup(x, &x->side[k], ram, interp_mode, err, sizeof err)) {
            cli_error("diff: engine %s: %s", x->side[k].name, err);
            goto out;
        }
    }
    fuzzgen_default_cfg(&x->cfg, DIFF_DATA_BASE, DIFF_DATA_SIZE);
    x->cfg.max_groups = groups;
    x->cfg.allow_ac = ac_mode != 1;
    x->cfg.ac_only = ac_mode == 2;
    x->no_ac = ac_mode == 1;
    x->probe_vectors = !getenv("BT86_DIFF_NO_PROBE");
    x->cfg.system = system;
    x->cfg.code16 = code16;
    x->code16 = code16;
    x->eip_base = code16 ? 0 : x->code_base;
    {
        char gbuf[24] = "";
        if (groups != 8) snprintf(gbuf, sizeof gbuf, " --groups %u", groups);
        snprintf(x->opts, sizeof x->opts, "%s%s%s%s%s", ac_mode == 1 ? " --no-ac" : ac_mode == 2 ? " --ac-only" : "",
                 gbuf, interp_mode == 1 ? "" : interp_mode == 0 ? " --interp-mode step" : " --interp-mode engine",
                 system ? " --level system" : "", code16 ? " --code 16" : "");
    }

    double t0 = now_s(), last = t0;
    uint64_t done = 0, failed = 0, unimpl = 0, len_mismatch = 0;
    struct fuzz_case fc;
    char lines[1][160];
    for (uint64_t i = 0;; i++) {
        if (count && i >= count) break;
        if (seconds && now_s() - t0 >= seconds) break;
        uint64_t cs = fuzzgen_case_seed(seed, i);
        fuzzgen_case(&x->cfg, cs, &fc, x->data0);
        if (verbose >= 2) { printf("case %" PRIu64 ":\n", cs); print_case(x, &fc, stdout); }
        if (fc.len_mismatch) {
            /* the generator built bytes the decoder measures differently */
            if (!len_mismatch && !json) {
                char hb[64];
                hexdump_code(fc.mismatch_bytes, fc.mismatch_len, hb, sizeof hb);
                printf("LENGTH MISMATCH (case seed %" PRIu64 "): the generator built %u bytes [%s], "
                       "cpu/decode.c measures a different length\n", cs, fc.mismatch_len, hb);
            }
            len_mismatch += fc.len_mismatch;
            record_sig(x, "decoder length mismatch", cs);
            failed++;
            done++;
            continue;
        }
        if (run_case(x, &fc, lines, 1)) {
            if (x->a.exc == EXIT_UNIMPL || x->b.exc == EXIT_UNIMPL) {
                unimpl++;
                record_unimpl(x, &fc);
            } else {
                failed++;
                report_failure(x, &fc, json != 0, lines[0]);
            }
        }
        done++;
        if (getenv("BT86_DIFF_DEBUG") && done % 5000 == 0) {
            FILE *sf = fopen("/proc/self/statm", "r");
            unsigned long vsz = 0, rss = 0;
            if (sf) { if (fscanf(sf, "%lu %lu", &vsz, &rss) != 2) rss = 0; fclose(sf); }
            fprintf(stderr, "[%" PRIu64 " rss %lu MiB %.1f s; run calls %" PRIu64 ", insns %" PRIu64 "]\n",
                    done, rss >> 8, now_s() - t0, x->runs, x->run_insns);
        }
        if (progress && (done & 255) == 0) {
            double t = now_s();
            if (t - last >= 1.0) {
                fprintf(stderr, "\rdiff %s,%s: %" PRIu64 " sequences, %" PRIu64 " diverged (%.0f s)  ", e1, e2, done,
                        failed, t - t0);
                last = t;
            }
        }
    }
    double secs = now_s() - t0;
    if (progress && secs >= 1.0) fputc('\n', stderr);

    /* the machine-readable report: one case for the campaign, one per
     * divergence (shrunk reproducer in its output), one skip per kind of
     * unimplemented instruction */
    report_prop_u64(rep, "sequences", done);
    if (count) report_prop_u64(rep, "count", count);
    else report_prop_num(rep, "seconds_limit", seconds);
    report_prop_num(rep, "groups", groups);
    report_prop(rep, "options", "%s", x->opts);
    report_prop_num(rep, "table_rows", fuzzgen_row_count());
    report_prop_num(rep, "length_mismatches", (double)len_mismatch);
    report_set_seconds(rep, secs);
    {
        char msg[200];
        snprintf(msg, sizeof msg, "%" PRIu64 " of %" PRIu64 " sequences identical, %" PRIu64 " diverged, %" PRIu64
                 " not implemented", done - failed - unimpl, done, failed, unimpl);
        int ci = report_case(rep, group, "sequences", failed ? REPORT_FAIL : REPORT_PASS, secs, msg, NULL);
        report_case_count(rep, ci, "sequences", done);
        report_case_count(rep, ci, "passed", done - failed - unimpl);
        report_case_count(rep, ci, "failed", failed);
        report_case_count(rep, ci, "skipped", unimpl);
    }
    for (unsigned i = 0; i < x->nsig; i++) {
        char nm[120], msg[200];
        snprintf(nm, sizeof nm, "kind %s", x->sig[i].key);
        snprintf(msg, sizeof msg, "%u divergences; first: --seed %" PRIu64 " --count 1%s", x->sig[i].count,
                 x->sig[i].first_seed, x->opts);
        int ci = report_case(rep, group, nm, REPORT_FAIL, 0, msg, NULL);
        report_case_count(rep, ci, "count", x->sig[i].count);
        report_case_count(rep, ci, "first_seed", x->sig[i].first_seed);
    }
    for (size_t i = 0; i < x->nfails && i < 1000; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "case %" PRIu64, x->fails[i].seed);
        char *out = NULL;
        if (!x->fails[i].text && asprintf(&out, "bytes: %s", x->fails[i].bytes) < 0) out = NULL;
        report_case(rep, group, nm, REPORT_FAIL, 0, x->fails[i].what, x->fails[i].text ? x->fails[i].text : out);
        free(out);
    }
    for (unsigned i = 0; i < x->nunimpl; i++) {
        char nm[120], msg[200];
        snprintf(nm, sizeof nm, "unimplemented %s", x->unimpl[i].key);
        snprintf(msg, sizeof msg, "%u sequences stopped with EXIT_UNIMPL; first: --seed %" PRIu64 " --count 1%s",
                 x->unimpl[i].count, x->unimpl[i].first_seed, x->opts);
        report_case(rep, group, nm, REPORT_SKIP, 0, msg, NULL);
    }

    if (json) {
        report_write_json(rep, stdout);
    } else {
        if (x->nsig) {
            printf("divergences by kind (mnemonic of the shrunk case's last instruction: first difference):\n");
            for (unsigned i = 0; i < x->nsig; i++)
                printf("  %6u  %s (first: --seed %" PRIu64 " --count 1%s)\n", x->sig[i].count, x->sig[i].key,
                       x->sig[i].first_seed, x->opts);
        }
        printf("diff %s vs %s: seed %" PRIu64 ", %" PRIu64 " sequences, %" PRIu64 " diverged, %" PRIu64
               " not implemented, %.1f s (%.0f/s), %u table rows%s\n",
               e1, e2, seed, done, failed, unimpl, secs, secs > 0 ? done / secs : 0.0, fuzzgen_row_count(),
               x->opts);
        if (len_mismatch)
            printf("%" PRIu64 " generated instructions had a decoder length mismatch (regenerated; see above)\n",
                   len_mismatch);
        printf("%s outcomes (all runs, shrinking included): %" PRIu64 " ran to the end", e2, x->outcome[0]);
        for (int v = 0; v < 32; v++) {
            char eb[32];
            if (x->outcome[1 + v]) printf(", %" PRIu64 " %s", x->outcome[1 + v], exc_name(v, eb, sizeof eb));
        }
        if (x->outcome[33]) printf(", %" PRIu64 " timed out or failed", x->outcome[33]);
        printf("\n");
        if (x->nunimpl) {
            printf("skipped: an engine stopped with EXIT_UNIMPL (not implemented yet) on:\n");
            for (unsigned i = 0; i < x->nunimpl; i++)
                printf("  %6u  %s (first: --seed %" PRIu64 " --count 1%s)\n", x->unimpl[i].count, x->unimpl[i].key,
                       x->unimpl[i].first_seed, x->opts);
        }
        printf("%" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " skipped\n", done - failed - unimpl, failed, unimpl);
    }
    rc = failed ? 1 : 0;
    if (junit) {
        char err[512];
        if (report_write_junit(rep, junit, err, sizeof err)) { cli_error("diff: %s", err); rc = 2; }
    }
out:
    for (size_t i = 0; i < x->nfails; i++) free(x->fails[i].text);
    free(x->fails);
    side_free(&x->side[0]);
    side_free(&x->side[1]);
    if (x->hc) hostcpu_free(x->hc);
    free(x);
    report_free(rep);
    return rc;
}

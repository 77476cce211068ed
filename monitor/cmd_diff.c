/* monitor/cmd_diff.c - `bt86 test diff`: differential fuzzing of two engines.
 *
 * Owns: running generated instruction sequences (monitor/fuzzgen.c) on two
 * engines from the same state, comparing the results, shrinking a divergent
 * case to a minimal reproducer, and the reports (text, JSON, JUnit).
 *
 *     bt86 test diff --engines interp,host [--seed S] [--count N | --seconds N]
 *                    [--groups N] [--no-ac | --ac-only] [--interp-mode block|step]
 *                    [--json] [--junit FILE] [-v]
 *
 * Long campaign: `bt86 test diff --engines interp,host --count 1000000`
 * (30-50 s here); tests/cpu/run-diff.sh runs four short fixed-seed ones.
 *
 * Engines today: `interp` (cpu/interp.c) and `host` (monitor/hostcpu.c, the
 * real CPU running the bytes in a 32-bit user code segment). `bt`, `trap`
 * and `kvm` are rejected as not available yet (exit 2).
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
 * through interp_step(). When the interpreter stops on a fault (its failed
 * delivery returns EXIT_*), EIP is back on the instruction and the harness
 * decodes and dispatches it again through the opcode table's handlers
 * WITHOUT delivery to learn the vector (diff_execute below, which mirrors
 * cpu/interp.c's execute()); nothing is added to cpu/.
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
 * it still diverges) and printed as bytes and disassembly with the case
 * seed: re-run one case with `--seed CASESEED --count 1 -v` (plus the
 * generator options it prints). A case the interpreter cannot run
 * (EXIT_UNIMPL) is counted as skipped and listed by mnemonic.
 * Output: progress on stderr; per divergence a block on stdout; a summary per
 * signature (mnemonic + first differing item); the closing line
 * "N passed, N failed" counts sequences. Exit 0 only without divergences.
 */
#include "monitor/commands.h"
#include "monitor/fuzzgen.h"
#include "monitor/hostcpu.h"
#include "cpu/interp_priv.h"
#include "cpu/decode.h"
#include "mem/mem.h"
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
#define DIFF_MAX_STEPS 100000
#define DIFF_NO_END    300          /* interp: ran past the step limit      */
#define DIFF_SIGS      64
#define DIFF_SHRINK_MAX 1000000     /* failures shrunk (the rest: as found) */

/* one engine's result */
struct diff_out {
    uint32_t r[8];                  /* GPRs at the end or the fault          */
    uint32_t eflags;
    int exc;                        /* EXC_NONE, vector, EXIT_*, DIFF_NO_END */
    uint32_t eip_off;               /* fault EIP minus the code base         */
    uint32_t err;                   /* error code of #GP/#AC (0 otherwise)   */
    uint8_t data[DIFF_DATA_SIZE];   /* the data area afterwards              */
};

struct diff_sig { char key[80]; unsigned count; uint64_t first_seed; };

struct diff_fail {                  /* kept for --json / --junit             */
    uint64_t seed;
    char what[160];
    char bytes[200];
};

struct diff_ctx {
    struct hostcpu *hc;
    uint32_t code_base;
    struct mem *mem;
    uint8_t *ram;
    struct cpu cpu;
    struct fuzz_cfg cfg;
    uint8_t data0[DIFF_DATA_SIZE];  /* initial data area of the case         */
    struct diff_out a, b;           /* interp, host                          */
    int verbose;
    struct diff_sig sig[DIFF_SIGS];
    unsigned nsig;
    struct diff_fail *fails;
    size_t nfails, capfails;
    unsigned shrunk;
    struct diff_sig unimpl[DIFF_SIGS]; /* interp EXIT_UNIMPL by mnemonic  */
    unsigned nunimpl;
    bool no_ac;                     /* --no-ac                            */
    bool block_mode;                /* --interp-mode block: interp_run()  */
    uint64_t runs, run_insns;       /* interp_run calls, insns they retired */
    char opts[64];                  /* generator options to re-run a case */
    uint64_t outcome[34];           /* host results: [0] none, [1+v] vector v, [33] other */
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
static int diff_execute(struct diff_ctx *x)
{
    struct cpu *c = &x->cpu;
    c->insn_eip = c->eip;
    c->exc_has_err = false;
    uint8_t buf[16] = { 0 };
    uint64_t lin = c->seg[SEG_CS].base + c->eip;
    for (unsigned i = 0; i < 15; i++)
        buf[i] = (lin + i < mem_ram_size(x->mem)) ? x->ram[lin + i] : 0xFF;
    struct insn in;
    int d = decode(&in, buf, 15, DECODE_32);
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

static void run_interp(struct diff_ctx *x, const uint8_t *code, size_t len, const struct fuzz_case *fc,
                       struct diff_out *o)
{
    struct cpu *c = &x->cpu;
    struct host_state in;
    state_in(fc, &in);
    memcpy(x->ram + DIFF_DATA_BASE, x->data0, DIFF_DATA_SIZE);
    memcpy(x->ram + x->code_base, code, len);
    memset(x->ram + x->code_base + len, 0xCC, 16);       /* INT3 past the end */
    if (x->block_mode) {
        /* JMP $ at the end: a block that reaches the end stops there (a
         * taken branch ends a block run), with EIP == end */
        x->ram[x->code_base + len] = 0xEB;
        x->ram[x->code_base + len + 1] = 0xFE;
    }
    cpu_reset(c);                        /* cpu_init was done once (it allocates) */
    hostcpu_mirror_cpu(x->hc, &in, c);
    c->cr[0] = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM;   /* as Linux has it */
    c->cpl = 3;
    /* Linux's TSS as user code sees it: a busy 32-bit TSS whose I/O map
     * base lies beyond its limit (no ioperm), so port I/O at CPL 3 > IOPL
     * faults (SDM vol. 1 sec. 19.5.2); the image sits below the data area. */
    c->tr = (struct seg){ .sel = 0x40, .base = DIFF_TSS_BASE, .limit = 0x67, .ar = 0x8B };
    x->ram[DIFF_TSS_BASE + 0x66] = 0xFF;
    x->ram[DIFF_TSS_BASE + 0x67] = 0xFF;
    /* an empty IDT: a fault's delivery fails at once (#GP, #DF, shutdown:
     * EXIT_RESET) without touching memory or registers, and the harness then
     * learns the vector by dispatching the instruction again undelivered */
    c->idtr = (struct dtr){ 0, 0 };
    cpu_tlb_flush(c);
    uint32_t end = x->code_base + (uint32_t)len;
    o->exc = DIFF_NO_END;
    o->eip_off = 0;
    o->err = 0;
    for (int steps = 0; x->block_mode && steps < DIFF_MAX_STEPS; steps++) {
        /* the machine's path: interp_run() runs decoded blocks */
        if (c->eip == end) { o->exc = EXC_NONE; break; }
        uint64_t ic0 = c->icount;
        int rc = interp_run(c, 1);
        x->runs++;
        x->run_insns += c->icount - ic0;
        if (rc == EXC_NONE) continue;
        /* a fault whose delivery failed (or EXIT_*): EIP is back on the
         * instruction, nothing committed; learn what it raises */
        c->cpl = 3;
        rc = diff_execute(x);
        if (rc == EXC_NONE) continue;
        o->exc = rc;
        o->eip_off = c->eip - x->code_base;
        o->err = c->exc_has_err ? c->exc_err : 0;
        break;
    }
    for (int steps = 0; !x->block_mode && steps < DIFF_MAX_STEPS; steps++) {
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
        c->cpl = 3;
        rc = diff_execute(x);
        if (rc == EXC_NONE) continue;   /* retired when dispatched directly */
        o->exc = rc;
        o->eip_off = c->eip - x->code_base;
        o->err = c->exc_has_err ? c->exc_err : 0;
        break;
    }
    if (o->exc == DIFF_NO_END) o->eip_off = c->eip - x->code_base;
    memcpy(o->r, c->r, sizeof o->r);
    o->eflags = c->eflags;
    memcpy(o->data, x->ram + DIFF_DATA_BASE, DIFF_DATA_SIZE);
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
    snprintf(buf, n, "vector %d", e);
    return buf;
}

/* Flags that may be undefined where the host stopped (the end, or the
 * group holding the faulting instruction). */
static uint32_t undef_mask(const struct diff_ctx *x, const struct fuzz_case *fc)
{
    uint8_t code[DIFF_CODE_MAX];
    uint32_t off[FUZZ_MAX_GROUPS + 1];
    if (x->b.exc == EXC_NONE || !fuzzgen_assemble(fc, x->code_base, code, sizeof code, off))
        return fuzzgen_undef_at(fc, fc->ngroups);
    int k = 0;
    while (k + 1 < fc->ngroups && off[k + 1] <= x->b.eip_off) k++;
    /* the group's own fu too: a loop group may fault in a later iteration */
    return fuzzgen_undef_at(fc, k) | fc->g[k].fu | fuzzgen_undef_at(fc, fc->ngroups);
}

/* Compare interp (a) with host (b). Returns the number of differences and
 * describes up to `max` of them into lines[] (first one = the headline). */
static int compare(const struct diff_ctx *x, const struct fuzz_case *fc, char lines[][160], int max)
{
    static const char *rn[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
    const struct diff_out *a = &x->a, *b = &x->b;
    int n = 0;
    char e1[32], e2[32];
#define ADD(...) do { if (n < max) snprintf(lines[n], 160, __VA_ARGS__); n++; } while (0)
    if (a->exc != b->exc)
        ADD("exception: host %s at +%u, interp %s at +%u", exc_name(b->exc, e1, sizeof e1), b->eip_off,
            exc_name(a->exc, e2, sizeof e2), a->eip_off);
    else if (a->exc != EXC_NONE && a->eip_off != b->eip_off)
        ADD("exception %s: host at +%u, interp at +%u", exc_name(a->exc, e1, sizeof e1), b->eip_off, a->eip_off);
    else if ((a->exc == EXC_GP || a->exc == EXC_AC || a->exc == EXC_SS) && a->err != b->err)
        ADD("exception %s error code: host %#x, interp %#x", exc_name(a->exc, e1, sizeof e1), b->err, a->err);
    for (int i = 0; i < 8; i++)
        if (a->r[i] != b->r[i]) ADD("%s: host %08x interp %08x", rn[i], b->r[i], a->r[i]);
    uint32_t mask = HOSTCPU_EFLAGS_USER & ~FL_TF & ~undef_mask(x, fc);
    if ((a->eflags ^ b->eflags) & mask) {
        static const struct { uint32_t bit; const char *n; } fl[] = {
            { FL_CF, "CF" }, { FL_PF, "PF" }, { FL_AF, "AF" }, { FL_ZF, "ZF" }, { FL_SF, "SF" },
            { FL_DF, "DF" }, { FL_OF, "OF" }, { FL_NT, "NT" }, { FL_AC, "AC" }, { FL_ID, "ID" } };
        char bits[64] = "";
        for (unsigned i = 0; i < sizeof fl / sizeof fl[0]; i++)
            if ((a->eflags ^ b->eflags) & mask & fl[i].bit) { strcat(bits, " "); strcat(bits, fl[i].n); }
        ADD("eflags: host %08x interp %08x (compared %08x; differ:%s)", b->eflags, a->eflags, mask, bits);
    }
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
            ADD("mem[%08x]: host %02x interp %02x (initial %02x)", DIFF_DATA_BASE + i, b->data[i], a->data[i],
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
    run_host(x, code, len, fc, &x->b);
    run_interp(x, code, len, fc, &x->a);
    x->outcome[x->b.exc == EXC_NONE ? 0 : x->b.exc >= 0 && x->b.exc < 32 ? 1 + x->b.exc : 33]++;
    return compare(x, fc, lines, max);
}

/* Shrink *fc while it still diverges. */
static void shrink(struct diff_ctx *x, struct fuzz_case *fc)
{
    char l[1][160];
    struct fuzz_case t;
    bool progress = true;
    while (progress) {
        progress = false;
        for (int k = fc->ngroups - 1; k >= 0 && fc->ngroups > 1; k--) {
            t = *fc;
            fuzzgen_drop_group(&t, k);
            if (run_case(x, &t, l, 1)) { *fc = t; progress = true; }
        }
    }
    static const uint32_t simple[] = { 0, 1, 0xFFFFFFFFu };
    for (int i = 0; i < 8; i++) {
        if (i == 4) continue;
        for (unsigned s = 0; s < 3; s++) {
            if (fc->r[i] == simple[s]) break;
            t = *fc;
            t.r[i] = simple[s];
            if (run_case(x, &t, l, 1)) { *fc = t; break; }
        }
    }
    if (fc->eflags != 2) {
        t = *fc; t.eflags = 2;
        if (run_case(x, &t, l, 1)) *fc = t;
        else for (int bit = 0; bit < 22; bit++) {
            if (!(fc->eflags & (1u << bit)) || bit == 1) continue;
            t = *fc; t.eflags &= ~(1u << bit);
            if (run_case(x, &t, l, 1)) *fc = t;
        }
    }
    uint8_t save[DIFF_DATA_SIZE];
    memcpy(save, x->data0, sizeof save);
    memset(x->data0, 0, sizeof x->data0);
    if (!run_case(x, fc, l, 1)) memcpy(x->data0, save, sizeof save);
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
        int d = decode(&in, code + p, len - p, DECODE_32);
        if (d != DECODE_OK) {
            fprintf(f, "    +%03zx  %02x                    (invalid: #UD/#GP)\n", p, code[p]);
            p++;
            continue;
        }
        disasm_format(&in, x->code_base + (uint32_t)p, txt, sizeof txt);
        char hb[64];
        hexdump_code(code + p, in.len, hb, sizeof hb);
        fprintf(f, "    +%03zx  %-30s %s\n", p, hb, txt);
        p += in.len;
    }
    fprintf(f, "  initial: eax=%08x ecx=%08x edx=%08x ebx=%08x esp=%08x ebp=%08x esi=%08x edi=%08x eflags=%08x\n",
            fc->r[0], fc->r[1], fc->r[2], fc->r[3], fc->r[4], fc->r[5], fc->r[6], fc->r[7], fc->eflags);
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
    if (x->a.eip_off < len && decode(&in, code + x->a.eip_off, len - x->a.eip_off, DECODE_32) == DECODE_OK) {
        const char *m = optab[in.op].mnem, *bar = strchr(m, '|');
        snprintf(key, sizeof key, "%.*s", bar ? (int)(bar - m) : (int)strlen(m), m);
    }
    sig_add(x->unimpl, &x->nunimpl, key, fc->seed);
}

/* A divergent case: shrink, print, record. */
static void report_failure(struct diff_ctx *x, struct fuzz_case *fc, bool quiet)
{
    char lines[16][160];
    uint64_t seed = fc->seed;
    bool do_shrink = x->shrunk < DIFF_SHRINK_MAX;
    if (do_shrink) { x->shrunk++; shrink(x, fc); }
    int n = run_case(x, fc, lines, 16);
    if (!n) { snprintf(lines[0], 160, "diverged once, not on re-run (flaky host?)"); n = 1; }
    char mn[32], key[80], kind[40];
    case_mnem(fc, mn, sizeof mn);
    snprintf(kind, sizeof kind, "%.23s", lines[0]);
    char *colon = strpbrk(kind, ":[ ");
    if (colon) *colon = 0;
    snprintf(key, sizeof key, "%s: %s", mn, kind);
    if (x->a.exc != x->b.exc) {
        char e1[32], e2[32];
        snprintf(kind, sizeof kind, "host %.6s interp %.6s", exc_name(x->b.exc, e1, sizeof e1),
                 exc_name(x->a.exc, e2, sizeof e2));
    }
    /* missing alignment checks show up under every mnemonic: one kind */
    if (x->b.exc == EXC_AC && x->a.exc != EXC_AC) snprintf(mn, sizeof mn, "(any, EFLAGS.AC=1)");
    snprintf(key, sizeof key, "%s: %s", mn, kind);
    bool first_of_sig = true;
    for (unsigned i = 0; i < x->nsig; i++) if (!strcmp(x->sig[i].key, key)) first_of_sig = false;
    record_sig(x, key, seed);
    if (!quiet && (first_of_sig || x->verbose)) {
        printf("DIVERGED case seed %" PRIu64 " (re-run: --seed %" PRIu64 " --count 1 -v%s)%s: %s\n", seed, seed,
               x->opts, do_shrink ? ", shrunk" : "", lines[0]);
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
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}
static void xml_str(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: if ((unsigned char)*s >= 0x20) fputc(*s, f);
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
          "  --engines A,B  the two engines to compare: interp and host (bt, trap, kvm: later)\n"
          "  --seed S       campaign seed (default 1); case i uses a seed derived from it, case 0 uses S\n"
          "  --count N      number of sequences (default 10000)\n"
          "  --seconds N    run for N seconds instead\n"
          "  --groups N     at most N instructions (with their setup) per sequence, 1-16 (default 8)\n"
          "  --json         one JSON object on stdout instead of the text report\n"
          "  --junit FILE   also write JUnit XML to FILE\n"
          "  --interp-mode M  block (default: interp_run, decoded blocks, as the machine runs)\n"
          "                 or step (interp_step, one instruction at a time)\n"
          "  --no-ac        never set EFLAGS.AC (no alignment-check cases)\n"
          "  --ac-only      always start with EFLAGS.AC set (alignment-check cases)\n"
          "  -v             print every divergence (default: the first of each kind)\n", f);
    return 2;
}

static int check_engine(const char *e)
{
    if (!strcmp(e, "interp") || !strcmp(e, "host")) return 0;
    if (!strcmp(e, "bt") || !strcmp(e, "trap") || !strcmp(e, "kvm")) {
        cli_error("diff: engine %s is not available yet (engines: interp, host)", e);
        return -1;
    }
    cli_error("diff: unknown engine '%s' (engines: interp, host)", e);
    return -1;
}

int cmd_test_diff(int argc, char **argv)
{
    const char *engines = NULL, *junit = NULL;
    uint64_t seed = 1, count = 0;
    double seconds = 0;
    int json = 0, verbose = 0, progress = 1;
    unsigned groups = 8;
    int ac_mode = 0;                /* 0 mixed, 1 --no-ac, 2 --ac-only */
    int block_mode = 1;             /* interp_run (blocks) or interp_step */
    static const struct option opts[] = {
        { "engines", required_argument, 0, 'e' }, { "seed", required_argument, 0, 's' },
        { "count", required_argument, 0, 'n' },   { "seconds", required_argument, 0, 't' },
        { "json", no_argument, 0, 'j' },          { "junit", required_argument, 0, 'J' },
        { "groups", required_argument, 0, 'g' },  { "no-progress", no_argument, 0, 'P' },
        { "no-ac", no_argument, 0, 'A' },         { "interp-mode", required_argument, 0, 'M' },         { "ac-only", no_argument, 0, 'O' },
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
            if (!strcmp(optarg, "block")) block_mode = 1;
            else if (!strcmp(optarg, "step")) block_mode = 0;
            else return cli_error("diff: --interp-mode wants block or step, not '%s'", optarg);
            break;
        case 'O': ac_mode = 2; break;
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
    if (check_engine(e1) || check_engine(e2)) return 2;
    if (!strcmp(e1, e2))
        return cli_error("diff: --engines needs two different engines, not %s twice", e1);
    if (!count && !seconds) count = 10000;

    char why[200];
    if (!hostcpu_available(why, sizeof why)) {
        printf("SKIP diff: the host engine cannot run here: %s\n", why);
        return 0;
    }
    struct diff_ctx *x = calloc(1, sizeof *x);
    if (!x) return cli_error("diff: out of memory");
    x->verbose = verbose;
    x->hc = hostcpu_new(DIFF_DATA_BASE, DIFF_DATA_SIZE, why, sizeof why);
    if (!x->hc) { free(x); return cli_error("diff: cannot start the host engine: %s", why); }
    hostcpu_set_timeout(x->hc, 200000);
    x->code_base = hostcpu_code_base(x->hc);
    uint64_t ram = ((uint64_t)x->code_base + DIFF_CODE_MAX + 2 * 4096 + 0xFFFFF) & ~0xFFFFFull;
    x->mem = mem_new(ram);                   /* sparse memfd: only touched pages cost */
    if (!x->mem) {
        uint32_t cb = x->code_base;
        hostcpu_free(x->hc); free(x);
        return cli_error("diff: cannot create %" PRIu64 " MiB of sparse guest RAM to mirror the host code at %08x",
                         ram >> 20, cb);
    }
    x->ram = mem_ram(x->mem);
    cpu_init(&x->cpu, x->mem, NULL);
    fuzzgen_default_cfg(&x->cfg, DIFF_DATA_BASE, DIFF_DATA_SIZE);
    x->cfg.max_groups = groups;
    x->cfg.allow_ac = ac_mode != 1;
    x->cfg.ac_only = ac_mode == 2;
    x->no_ac = ac_mode == 1;
    x->block_mode = block_mode != 0;
    {
        char gbuf[24] = "";
        if (groups != 8) snprintf(gbuf, sizeof gbuf, " --groups %u", groups);
        snprintf(x->opts, sizeof x->opts, "%s%s%s", ac_mode == 1 ? " --no-ac" : ac_mode == 2 ? " --ac-only" : "",
                 gbuf, block_mode ? "" : " --interp-mode step");
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
            if (!len_mismatch) {
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
            if (x->a.exc == EXIT_UNIMPL) {
                unimpl++;
                record_unimpl(x, &fc);
            } else {
                failed++;
                report_failure(x, &fc, json != 0);
            }
        }
        done++;
        if (getenv("BT86_DIFF_DEBUG") && done % 5000 == 0) {
            FILE *sf = fopen("/proc/self/statm", "r");
            unsigned long vsz = 0, rss = 0;
            if (sf) { if (fscanf(sf, "%lu %lu", &vsz, &rss) != 2) rss = 0; fclose(sf); }
            fprintf(stderr, "[%" PRIu64 " rss %lu MiB %.1f s; interp_run calls %" PRIu64 ", insns %" PRIu64 "]\n",
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

    if (json) {
        printf("{\"engines\":");
        json_str(stdout, engines);
        printf(",\"seed\":%" PRIu64 ",\"sequences\":%" PRIu64 ",\"passed\":%" PRIu64 ",\"failed\":%" PRIu64
               ",\"skipped_unimplemented\":%" PRIu64 ",\"length_mismatches\":%" PRIu64 ",\"seconds\":%.2f,\"rows\":%u,\"signatures\":[",
               seed, done, done - failed - unimpl, failed, unimpl, len_mismatch, secs, fuzzgen_row_count());
        for (unsigned i = 0; i < x->nsig; i++) {
            printf("%s{\"what\":", i ? "," : "");
            json_str(stdout, x->sig[i].key);
            printf(",\"count\":%u,\"first_seed\":%" PRIu64 "}", x->sig[i].count, x->sig[i].first_seed);
        }
        printf("],\"failures\":[");
        for (size_t i = 0; i < x->nfails && i < 1000; i++) {
            printf("%s{\"seed\":%" PRIu64 ",\"what\":", i ? "," : "", x->fails[i].seed);
            json_str(stdout, x->fails[i].what);
            printf(",\"bytes\":");
            json_str(stdout, x->fails[i].bytes);
            printf("}");
        }
        printf("]}\n");
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
        printf("host outcomes (all runs, shrinking included): %" PRIu64 " ran to the end", x->outcome[0]);
        for (int v = 0; v < 32; v++) {
            char eb[32];
            if (x->outcome[1 + v]) printf(", %" PRIu64 " %s", x->outcome[1 + v], exc_name(v, eb, sizeof eb));
        }
        if (x->outcome[33]) printf(", %" PRIu64 " timed out or failed", x->outcome[33]);
        printf("\n");
        if (x->nunimpl) {
            printf("skipped: the interpreter stopped with EXIT_UNIMPL (not implemented yet) on:\n");
            for (unsigned i = 0; i < x->nunimpl; i++)
                printf("  %6u  %s (first: --seed %" PRIu64 " --count 1%s)\n", x->unimpl[i].count, x->unimpl[i].key,
                       x->unimpl[i].first_seed, x->opts);
        }
        printf("%" PRIu64 " passed, %" PRIu64 " failed, %" PRIu64 " skipped\n", done - failed - unimpl, failed, unimpl);
    }
    int rc = failed ? 1 : 0;
    if (junit) {
        FILE *f = fopen(junit, "w");
        if (!f) { cli_error("diff: cannot write JUnit XML to %s", junit); rc = 2; }
        else {
            fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                       "<testsuite name=\"bt86.diff\" tests=\"%" PRIu64 "\" failures=\"%" PRIu64 "\" time=\"%.2f\">\n",
                    failed + 1, failed, secs);
            fprintf(f, "  <testcase classname=\"diff\" name=\"%s-vs-%s seed %" PRIu64 ": %" PRIu64 " of %" PRIu64
                       " sequences identical\"/>\n", e1, e2, seed, done - failed - unimpl, done);
            for (size_t i = 0; i < x->nfails; i++) {
                fprintf(f, "  <testcase classname=\"diff\" name=\"case %" PRIu64 "\"><failure message=\"", x->fails[i].seed);
                xml_str(f, x->fails[i].what);
                fprintf(f, "\">bytes: ");
                xml_str(f, x->fails[i].bytes);
                fprintf(f, "</failure></testcase>\n");
            }
            fprintf(f, "</testsuite>\n");
            fclose(f);
        }
    }
    free(x->fails);
    cpu_free(&x->cpu);
    mem_free(x->mem);
    hostcpu_free(x->hc);
    free(x);
    return rc;
}

/* monitor/cmd_singlestep.c - `bt86 test singlestep`: the SingleStepTests
 * 80286 real-mode harness.
 *
 * Owns: running MOO test vectors (monitor/moo.c) through an engine one
 * instruction at a time, the comparison of final state, the table of
 * 286-vs-P6 exclusion rules, and the reports (text, JSON, JUnit).
 * Invariants: one 16 MiB guest RAM is reused for every vector and is all
 * zero between vectors (only the bytes a vector lists are written and then
 * cleared; --scan-ram also finds and clears stray writes); every vector
 * starts from a fresh copy of one real-mode CPU template; a bad file is a
 * FAIL line naming the file, never a crash.
 *
 * ## SingleStepTests harness
 *
 * The SingleStepTests 80286 suite (../shared/testdata/singlesteptests-80286,
 * captured from a real Harris 80C286) gives, per opcode, up to 2,000 vectors:
 * initial registers and RAM, one instruction, final registers and RAM.
 *
 * Run it:
 *     bt86 test singlestep ../shared/testdata/singlesteptests-80286/v1_real_mode
 *     bt86 test singlestep DIR --opcode 80.7 -v      # one file, with diffs
 *     bt86 test singlestep DIR/F7.6.MOO.gz           # one file by path
 *     sh tests/cpu/run-singlestep.sh                 # as `make test` runs it
 * Options: --engine interp|bt|trap|kvm (monitor/engine.h; one instruction
 * per engine_step()), --all-engines (each engine in turn, then a table: one
 * row per file led by the overall verdict, one column per engine; an engine
 * that cannot run here is a SKIP line with the reason and a "skip" column,
 * never a failure; engines whose counts differ on a file fail that row),
 * --opcode XX (file stem:
 * 00, 80.7, 0F01), -v (up to 20 failing vectors per file with a diff, and
 * each exclusion rule's reason; -vv: every failing vector), --json (the
 * monitor/report.c JSON object, one case per file and engine, on stdout
 * instead of the text), --junit FILE (JUnit XML through monitor/report.c:
 * one <testsuite> per engine, one testcase per file), --scan-ram (also scan the four 64 KiB
 * segment windows of each vector for stray writes; ~10x slower),
 * --show-excluded (excluded vectors with their rule and diff, to audit the
 * rules), --limit N (first N vectors of each file), --timeout S (per file, default
 * 120 s), --no-fork, --no-progress. Each file runs in a child process, so an
 * engine crash or hang becomes "FAIL ss/<file>: engine crashed (signal 11)
 * at vector #N <name>" and the run goes on (--no-fork for a debugger).
 * The whole suite takes about 1-2 s with the interpreter.
 *
 * Reading results: one line per file, "PASS ss/<file>" when every
 * non-excluded vector passed (with "(N excluded)" when some were), else
 * "FAIL ss/<file>: N of M failed (first: #idx name: what differed)". A file
 * that cannot be read is a FAIL naming the file and the problem. With -v each
 * failing vector prints its bytes and, per difference, "reg: expected X got
 * Y" or "ram[ADDR]: expected X got Y" (FLAGS show the compared-bits mask; the
 * exception the 286 took and what the engine returned are shown). A closing
 * line counts VECTORS: "N passed, N failed, N excluded", preceded by the
 * exclusion counts per rule. Exit status 0 only if no vector failed and
 * every file could be read.
 *
 * How a vector runs: registers AX..DI, CS/DS/ES/SS (base = selector << 4,
 * limit 0xFFFF), IP and FLAGS are loaded (FLAGS bits 12-15 cleared, as the
 * suite README says: they cannot be set in real mode), the initial RAM bytes
 * are written (addresses masked to the 286's 24-bit bus), and the engine runs
 * ONE instruction (a REP string instruction that the engine runs one
 * iteration per step is stepped until it leaves the instruction). Every test
 * in the suite ends by executing a HALT: either the F4 byte after the
 * instruction or one injected at the first fetch after a jump, interrupt or
 * exception (at the handler's address), so the expected IP is one past the
 * place where the instruction left CS:IP; the harness adds that 1 (except
 * for HLT itself, which is the end). Then registers, FLAGS (bits the suite's
 * metadata.json marks undefined for that opcode are not compared) and every
 * RAM byte listed in the initial or final state are compared. When the 286
 * took an exception (EXCP chunk), the undefined-flag mask also applies to
 * the FLAGS image pushed on the stack (at SS:SP+4 of the final state; the
 * EXCP chunk's own address is rounded down for odd SP, so it is not used).
 * Vectors in the suite's revocation_list.txt are excluded.
 *
 * Exclusions: bt86 models a P6, and the 286 differs by design in a few
 * places. Each difference is one row of ss_rules[] below with its reason
 * (and the manual that documents it). A row either removes FLAGS bits from
 * the comparison for some opcodes, or excludes a vector that FAILED and whose
 * 286 behaviour and engine behaviour are exactly the documented difference
 * (e.g. the 286 raised int 13 where the engine raised #SS). A vector that
 * passes always counts as passed; everything else must pass. The rows:
 *   iopl-nt       POPF/IRET: FLAGS bits 12-15 not compared (286 keeps them 0)
 *   ss-overrun    stack overrun: 286 int 13, P6 #SS
 *   insn-len      > 10 bytes: 286 faults, P6 allows 15
 *   lock-ud       LOCK where a P6 raises #UD, the 286 executes: run again
 *                 with the LOCK byte replaced by a segment prefix that
 *                 changes nothing, and that run must match the 286 (so
 *                 these vectors still check the instruction; they count
 *                 as passed, reported as "passed with LOCK replaced")
 *   fs-gs         MOV Sreg 4/5: no FS/GS on the 286
 *   string-fault  286 string insn faults with SI/DI/CX already stepped
 *   pop-mem-fault 286 POP m16 faults with SP already incremented
 *   aam0-flags    286 AAM 0 changes SF/ZF/PF before #DE
 *   pushed-ss     2 vectors where the 286 pushed SS for CS (capture anomaly)
 *   idiv8-quirk   IDIV r/m8: 286 quotient 0x80 with the divisor taken unsigned; P6 #DE
 * plus the suite's revocation_list.txt (empty in v1.0.0). With the
 * interpreter of this writing: 381,634 passed (8,247 of them with LOCK
 * replaced), 2 failed (IDIV quotient -128), 1,364 excluded.
 */
#include "monitor/commands.h"
#include "monitor/moo.h"
#include "monitor/engine.h"
#include "monitor/report.h"
#include "cpu/cpu.h"
#include "mem/mem.h"
#include "devices/bus.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdarg.h>
#include <getopt.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define SS_RAM_SIZE   (16u << 20)           /* the suite assumes 16 MiB       */
#define SS_ADDR_MASK  0xFFFFFFu             /* 80286: 24 address lines        */
#define SS_REP_MAX    (1u << 18)            /* steps allowed for one REP insn */
#define SS_VERBOSE_MAX 20                   /* -v: failing vectors per file   */

/* ---- what the harness knows about one vector, for rules and reports ---- */
#define SS_MAX_RAMDIFF 32
struct ss_vec {
    const struct moo_test *t;
    const char *stem;          /* file stem, e.g. "8E"                       */
    int rc;                    /* engine result (EXC_NONE, vector, EXIT_*)   */
    int exp_exc;               /* exception the 286 took (EXCP), -1 if none  */
    unsigned insn_len;         /* instruction length as the 286 counts it    */
    bool lock, rep;            /* LOCK / REP(NE) prefix present              */
    uint8_t opcode;            /* first byte after the prefixes              */
    int modrm;                 /* byte after the opcode, or -1               */
    int modrm_reg;             /* its reg field, or -1                       */
    uint16_t iv[MOO_NREGS];    /* initial registers                          */
    uint16_t ev[MOO_NREGS];    /* expected final registers                   */
    uint32_t got[MOO_NREGS];   /* engine's final registers                   */
    uint32_t diff_regs;        /* bit i: register i differs (after masks)    */
    bool base_diff;            /* a segment base is not selector << 4        */
    bool engine_exit;          /* EXIT_UNIMPL/RESET etc.: nothing compared   */
    unsigned nram;             /* RAM bytes that differ                      */
    uint32_t ram_addr[SS_MAX_RAMDIFF];   /* the first of them                */
    uint8_t ram_exp[SS_MAX_RAMDIFF], ram_got[SS_MAX_RAMDIFF];
};

#define RB(r) (1u << (r))
/* All differing RAM bytes lie in [lo, lo+len) of the interrupt frame
 * (offsets from the final SS:SP, 16-bit wrapped in SS). */
static bool ram_diffs_in_frame(const struct ss_vec *v, uint32_t lo, uint32_t len)
{
    if (v->nram > SS_MAX_RAMDIFF) return false;
    uint32_t ssb = (uint32_t)v->ev[MOO_SS] << 4;
    for (unsigned i = 0; i < v->nram; i++) {
        bool in = false;
        for (uint32_t k = lo; k < lo + len; k++)
            if (v->ram_addr[i] == ((ssb + ((v->ev[MOO_SP] + k) & 0xFFFF)) & 0xFFFFFFu)) in = true;
        if (!in) return false;
    }
    return true;
}
static uint16_t frame_word_exp(const struct ss_vec *v, unsigned off, bool *found)
{
    uint32_t ssb = (uint32_t)v->ev[MOO_SS] << 4;
    uint32_t a0 = (ssb + ((v->ev[MOO_SP] + off) & 0xFFFF)) & 0xFFFFFFu;
    uint32_t a1 = (ssb + ((v->ev[MOO_SP] + off + 1) & 0xFFFF)) & 0xFFFFFFu;
    uint16_t w = 0;
    int n = 0;
    for (unsigned i = 0; i < v->nram && i < SS_MAX_RAMDIFF; i++) {
        if (v->ram_addr[i] == a0) { w = (uint16_t)((w & 0xFF00) | v->ram_exp[i]); n++; }
        if (v->ram_addr[i] == a1) { w = (uint16_t)((w & 0x00FF) | v->ram_exp[i] << 8); n++; }
    }
    *found = n > 0;
    return w;
}

static bool is_string_op(uint8_t op)
{
    return (op >= 0x6C && op <= 0x6F) || (op >= 0xA4 && op <= 0xA7) || (op >= 0xAA && op <= 0xAF);
}
static bool both_took(const struct ss_vec *v, int vec) { return v->exp_exc == vec && v->rc == vec; }

static bool rule_ss_overrun(const struct ss_vec *v) { return v->exp_exc == EXC_GP && v->rc == EXC_SS; }
static bool rule_insn_len(const struct ss_vec *v)
{
    return v->insn_len > 10 && (v->exp_exc == EXC_GP || v->exp_exc == EXC_UD) && v->rc != v->exp_exc;
}
/* Would a P6 accept LOCK on this instruction? (SDM vol. 2, LOCK: ADD ADC
 * AND BTx CMPXCHG DEC INC NEG NOT OR SBB SUB XOR XADD XCHG, memory
 * destination only; the 286-era subset of those.) */
static bool p6_lockable(const struct ss_vec *v)
{
    uint8_t op = v->opcode;
    int reg = v->modrm_reg;
    if (v->modrm < 0 || (v->modrm >> 6) == 3) return false;      /* register destination */
    if (op < 0x40) return (op & 7) < 2 && (op >> 3) != 7;        /* ALU r/m,r except CMP */
    if (op >= 0x80 && op <= 0x83) return reg != 7;               /* ALU r/m,imm except CMP */
    if (op == 0x86 || op == 0x87) return true;                   /* XCHG */
    if (op == 0xF6 || op == 0xF7) return reg == 2 || reg == 3;   /* NOT, NEG */
    if (op == 0xFE || op == 0xFF) return reg == 0 || reg == 1;   /* INC, DEC */
    return false;
}
static bool rule_lock_ud(const struct ss_vec *v)
{
    /* "lock int 6" is a software int 6 on the 286, a #UD fault on a P6 */
    return v->lock && v->rc == EXC_UD && !p6_lockable(v) &&
           (v->exp_exc != EXC_UD || v->opcode == 0xCD);
}
static bool rule_fs_gs(const struct ss_vec *v)
{
    return (v->opcode == 0x8C || v->opcode == 0x8E) && (v->modrm_reg == 4 || v->modrm_reg == 5) &&
           v->exp_exc == EXC_UD && v->rc != EXC_UD;
}
static bool rule_string_fault(const struct ss_vec *v)
{
    if (!is_string_op(v->opcode) || !both_took(v, EXC_GP) || v->nram || v->base_diff) return false;
    if (!v->diff_regs || (v->diff_regs & ~(RB(MOO_SI) | RB(MOO_DI) | RB(MOO_CX)))) return false;
    for (int r = MOO_SI; r <= MOO_DI; r++) {
        if (!(v->diff_regs & RB(r))) continue;
        if (v->got[r] > 0xFFFF) return false;
        uint16_t d = (uint16_t)(v->ev[r] - v->got[r]);
        if (d != 1 && d != 2 && d != 0xFFFF && d != 0xFFFE) return false;
    }
    uint16_t dcx = (uint16_t)(v->got[MOO_CX] - v->ev[MOO_CX]);
    if ((v->diff_regs & RB(MOO_CX)) && (v->got[MOO_CX] > 0xFFFF || (dcx != 1 && dcx != 2)))
        return false;
    return true;
}
static bool rule_pop_mem_fault(const struct ss_vec *v)
{
    /* SP already incremented: the whole interrupt frame sits 2 bytes higher */
    return v->opcode == 0x8F && both_took(v, EXC_GP) && v->diff_regs == RB(MOO_SP) &&
           v->got[MOO_SP] <= 0xFFFF && (uint16_t)(v->ev[MOO_SP] - v->got[MOO_SP]) == 2 && !v->base_diff;
}
static bool rule_aam0_flags(const struct ss_vec *v)
{
    return v->opcode == 0xD4 && v->modrm == 0 && both_took(v, EXC_DE) &&
           !(v->diff_regs & ~RB(MOO_FLAGS)) && !v->base_diff && ram_diffs_in_frame(v, 4, 2);
}
/* IDIV r/m8 where the 286 returned quotient -128: recover the divisor the
 * 286 used from its own result (AX = q * d + r). If that divisor only works
 * as an unsigned byte (> 127), the true signed quotient does not fit in a
 * byte and a P6 raises #DE. */
static bool rule_idiv8_quirk(const struct ss_vec *v)
{
    if (v->rc != EXC_DE || v->exp_exc >= 0 || (v->ev[MOO_AX] & 0xFF) != 0x80) return false;
    int32_t ax = (int16_t)v->iv[MOO_AX], r = (int8_t)(v->ev[MOO_AX] >> 8);
    if ((ax - r) % -128 != 0) return false;
    int32_t d = (ax - r) / -128;
    return d > 127 && d < 256;
}
static bool rule_pushed_ss(const struct ss_vec *v)
{
    if (v->exp_exc < 0 || v->diff_regs || v->base_diff || !v->nram || !ram_diffs_in_frame(v, 2, 2))
        return false;
    bool found;
    uint16_t w = frame_word_exp(v, 2, &found);
    return found && w == v->iv[MOO_SS] && v->iv[MOO_SS] != v->iv[MOO_CS];
}

/* The 286-vs-P6 table. `opcodes`: file stems the row applies to ("*": all).
 * `flags_ignore`: FLAGS bits never compared for those opcodes. `match`:
 * exclude a failing vector for which it returns true. */
static const struct ss_rule {
    const char *id;
    const char *opcodes;
    uint16_t flags_ignore;
    bool (*match)(const struct ss_vec *);
    const char *reason;
    bool rerun_unlocked;       /* on a match, run again with LOCK replaced  */
} ss_rules[] = {
    { "idiv8-quirk", "F6.7", 0, rule_idiv8_quirk,
      "IDIV r/m8 with a negative divisor whose true quotient does not fit in a byte: the 286 "
      "returns quotient 0x80 as if the divisor were unsigned (its result satisfies AX = -128 * d + r "
      "only for d = the divisor byte read as 128..255); a P6 divides signed and raises #DE "
      "(SDM vol. 2 IDIV: temp > 7FH or temp < 80H -> #DE). Matched only when the engine raised #DE, "
      "the 286 returned AL = 0x80, and the 286's implied divisor is above 127", false },
    { "iopl-nt", "9D CF", 0xF000, NULL,
      "POPF/IRET in real mode: a P6 loads IOPL and NT (bits 12-14) from the popped image "
      "(SDM vol. 2, POPF/IRET operation, real-address mode); the 286 keeps FLAGS bits 12-15 "
      "clear in real mode (suite README, 'Why are some instructions clearing flags')", false },
    { "ss-overrun", "*", 0, rule_ss_overrun,
      "stack-segment access past offset 0xFFFF: the 286 raises int 13 for every real-mode "
      "segment overrun (80286 PRM, real-address-mode exceptions); a P6 raises #SS, int 12, for "
      "SS-relative accesses (SDM vol. 3 sec. 6.15, 'Interrupt 12'); excluded only when the "
      "engine raised #SS where the 286 raised int 13", false },
    { "insn-len", "*", 0, rule_insn_len,
      "instruction longer than 10 bytes (redundant prefixes): the 286 faults (int 13 in this "
      "data; the suite README says int 6); a P6 accepts up to 15 bytes (SDM vol. 2 sec. 2.3.11)", false },
    { "lock-ud", "*", 0, rule_lock_ud,
      "LOCK on a non-lockable instruction or a register destination: a P6 raises #UD "
      "(SDM vol. 2, LOCK); the 286 asserts LOCK# and executes the instruction (suite README, "
      "'LOCK and LOCK Prefixes'); matched only when the engine raised #UD, the 286 did not, and "
      "the instruction is not one a P6 may lock. Such a vector is run again with each LOCK byte "
      "replaced by a segment prefix that changes nothing (the instruction's last segment override, "
      "else its default segment's), so the instruction itself is still checked against the 286; "
      "only if that run fails is the vector a failure", true },
    { "fs-gs", "8C 8E", 0, rule_fs_gs,
      "MOV to/from segment register 4 or 5: the 286 has no FS/GS and raises int 6; a P6 "
      "moves FS/GS (SDM vol. 2, MOV)", false },
    { "string-fault", "6C 6D 6E 6F A4 A5 A6 A7 AA AB AC AD AE AF", 0, rule_string_fault,
      "string instruction faulting (int 13) on a word at offset 0xFFFF: the 286 has already "
      "stepped SI/DI (and CX under REP) when it faults; a P6 fault leaves no partial state "
      "(SDM vol. 3 sec. 6.5, 'Faults'; sec. 6.15 #GP is a fault). Matched only when both took "
      "int 13 and the only differences are SI/DI off by one element and CX (REP) lower by 1 or 2", false },
    { "pop-mem-fault", "8F", 0, rule_pop_mem_fault,
      "POP r/m16 whose memory destination faults (int 13): the 286 has already incremented "
      "SP, so its interrupt frame is 2 bytes higher; a P6 restores SP (SDM vol. 2, POP; vol. 3 "
      "sec. 6.5). Matched only when both took int 13 and SP differs by exactly 2", false },
    { "aam0-flags", "D4", 0, rule_aam0_flags,
      "AAM 0: the 286 updates SF/ZF/PF before it raises the divide error (int 0); a P6 "
      "faults with FLAGS unchanged (SDM vol. 2, AAM: #DE if imm8 = 0; vol. 3 sec. 6.5). "
      "Matched only when both took int 0 and only FLAGS (register and pushed image) differ", false },
    { "pushed-ss", "*", 0, rule_pushed_ss,
      "the 286 pushed the SS selector in the CS slot of the interrupt frame (seen in 2 of "
      "383,000 vectors: CE #1193 INTO, FF.3 #1141 CALL FAR reg); no manual documents this, "
      "a P6 must push CS (SDM vol. 3 sec. 6.12 / real-address-mode interrupt handling); "
      "treated as a capture anomaly to report upstream. Matched only when the frame's CS "
      "word is the only difference and equals SS", false },
};
#define SS_NRULES ((int)(sizeof ss_rules / sizeof *ss_rules))
#define SS_RULE_REVOKED SS_NRULES          /* extra counter: revocation list */

static bool rule_applies(const struct ss_rule *r, const char *stem)
{
    if (!strcmp(r->opcodes, "*")) return true;
    size_t n = strlen(stem);
    for (const char *p = r->opcodes; *p; ) {
        size_t w = strcspn(p, " ");
        if (w == n && !strncasecmp(p, stem, n)) return true;
        p += w;
        while (*p == ' ') p++;
    }
    return false;
}

/* ---- engines: every engine of monitor/engine.h, in this order ---- */
static const char *const ss_engine_names[] = { "interp", "bt", "trap", "kvm" };
#define SS_NENGINES 4

/* ---- per-file results ---- */
struct ss_file {
    char path[1024];           /* the .MOO(.gz) file                         */
    char stem[32];             /* its name without extension: "80.7"       */
    uint32_t vectors;          /* vectors read (up to --limit)               */
    uint32_t passed, failed, excluded;   /* their verdicts                   */
    uint32_t by_rule[SS_NRULES + 1];     /* exclusions per rule (+revoked)   */
    uint32_t unlocked;         /* passed when re-run with LOCK replaced      */
    bool error;                /* could not be read (message in first)       */
    char first[1024];          /* first failure / file error                 */
    double seconds;            /* wall time for the file                   */
};

struct ss_opts {
    const char *path, *engine, *opcode, *junit;   /* PATH and option values */
    bool json, scan_ram, no_progress, no_fork, show_excluded;   /* switches */
    int verbose;               /* -v count                                   */
    long limit;                /* vectors per file, 0 = all                  */
    long timeout;              /* seconds per file (forked runs)            */
};

/* Where the child running a file says which vector it is on (shared). */
struct ss_progress {
    uint32_t index;            /* TEST index of the current vector          */
    char name[64];             /* its NAME                                  */
    bool running;              /* a vector is in progress                   */
};

/* Everything one run needs; one instance, on the heap. */
struct ss_ctx {
    struct engine *eng;        /* the engine under test (monitor/engine.h)  */
    const char *engine_name;   /* its name                                  */
    /* engines other than interp: the interpreter on a RAM of its own runs
     * each vector too, to name the vector an engine delivered when its step
     * reports EXC_NONE after a delivery (see ref_vector) */
    bool use_ref;              /* engine is not the interpreter             */
    struct mem *smem;          /* the reference's RAM (16 MiB, sparse)      */
    uint8_t *sram;             /* its host view                             */
    struct cpu stmpl;          /* a CPU on smem (owns its caches)           */
    struct cpu scpu;           /* the reference CPU of the current vector   */
    bool stmpl_ok;
    const struct ss_opts *o;
    struct mem *mem;
    struct bus *bus;
    uint8_t *ram;              /* host view of guest RAM (16 MiB)           */
    uint8_t *expv;             /* expected byte per address (scratch)       */
    uint8_t *mark;             /* 1 = address listed by the current vector  */
    struct cpu tmpl;           /* real-mode CPU everything starts from      */
    struct cpu cpu;            /* the CPU under test                        */
    struct moo_metadata md;
    bool have_md;
    uint8_t (*revoked)[20];    /* sorted revoked hashes                     */
    size_t nrevoked;
    char diff[8192];           /* -v text of the current vector             */
    size_t difflen;
    char first[400];           /* first difference of the current vector    */
    int ndiff;
    struct ss_progress *prog;  /* shared with the parent, or NULL           */
};

static void diff_add(struct ss_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void diff_add(struct ss_ctx *c, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (c->ndiff++ == 0) snprintf(c->first, sizeof c->first, "%s", line);
    if (c->difflen < sizeof c->diff - 1) {
        int n = snprintf(c->diff + c->difflen, sizeof c->diff - c->difflen, "    %s\n", line);
        if (n > 0) c->difflen += (size_t)n;
        if (c->difflen > sizeof c->diff - 1) c->difflen = sizeof c->diff - 1;
    }
}

/* ---- I/O ports: every read returns all ones (suite README: IN returns
 * 0xFF/0xFFFF), writes are dropped, and nothing is logged. ---- */
static uint32_t ones_read(void *opaque, uint32_t off, unsigned size)
{
    (void)opaque; (void)off;
    return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
}
static void ones_write(void *opaque, uint32_t off, uint32_t val, unsigned size)
{
    (void)opaque; (void)off; (void)val; (void)size;
}
static const struct bus_ops ss_ports = { "singlestep-open-bus", ones_read, ones_write, false };

static void cpu_template_on(struct cpu *t, struct mem *mem, struct bus *bus)
{
    cpu_init(t, mem, bus);
    t->cr[0] &= ~1u;                       /* PE = 0: real mode            */
    t->eflags = 0x2;
    t->cpl = 0;
    t->a20_enabled = true;                 /* the 286 has no A20 gate      */
    t->halted = false;
    t->intr_shadow = 0;
    t->idtr.base = 0;                      /* real-mode IVT at 0           */
    t->idtr.limit = 0x3FF;
    for (int s = 0; s < 6; s++) {
        t->seg[s].sel = 0;
        t->seg[s].base = 0;
        t->seg[s].limit = 0xFFFF;
        t->seg[s].ar = s == SEG_CS ? 0x9B : 0x93;   /* P, S, code RX / data RW, accessed */
    }
}
static void cpu_template(struct ss_ctx *c) { cpu_template_on(&c->tmpl, c->mem, c->bus); }

/* The reference interpreter's run of the vector whose initial state `cpu`
 * holds (RAM: the vector's initial bytes, copied to sram by the caller).
 * Returns what interp_step returned; the reference's final CS, IP and SP
 * are left in c->scpu. */
static int ref_run(struct ss_ctx *c, const struct cpu *cpu, bool rep_string)
{
    struct cpu *s = &c->scpu;
    memcpy(s, cpu, sizeof *s);
    /* its own memory and caches (struct cpu's allocations come from stmpl) */
    s->mem = c->smem;
    s->icache = c->stmpl.icache;
    s->bcache = c->stmpl.bcache;
    s->exec_page = c->stmpl.exec_page;
    s->smc = false;
    cpu_tlb_flush(s);
    uint32_t start_eip = s->eip;
    uint16_t start_cs = s->seg[SEG_CS].sel;
    int rc;
    for (unsigned steps = 1;; steps++) {
        rc = interp_step(s);
        if (rc == EXC_NONE && rep_string && s->eip == start_eip && s->seg[SEG_CS].sel == start_cs &&
            steps < SS_REP_MAX)
            continue;
        break;
    }
    return rc;
}

/* 286 one-byte opcodes: does it take a ModRM byte, and how many immediate
 * bytes follow (80286 PRM, appendix B opcode map). -1 imm: depends on reg. */
static bool op_has_modrm(uint8_t op)
{
    if (op < 0x40) return (op & 7) < 4;
    return op == 0x62 || op == 0x63 || op == 0x69 || op == 0x6B || (op >= 0x80 && op <= 0x8F) ||
           op == 0xC0 || op == 0xC1 || (op >= 0xC4 && op <= 0xC7) || (op >= 0xD0 && op <= 0xD3) ||
           (op >= 0xD8 && op <= 0xDF) || op == 0xF6 || op == 0xF7 || op == 0xFE || op == 0xFF;
}
static int op_imm_len(uint8_t op, int reg)
{
    if (op < 0x40) return (op & 7) == 4 ? 1 : (op & 7) == 5 ? 2 : 0;
    switch (op) {
    case 0x6A: case 0x6B: case 0x80: case 0x82: case 0x83: case 0xA8: case 0xC0: case 0xC1:
    case 0xC6: case 0xCD: case 0xD4: case 0xD5: case 0xEB: return 1;
    case 0x68: case 0x69: case 0x81: case 0xA9: case 0xC2: case 0xC7: case 0xCA: case 0xE8:
    case 0xE9: case 0xA0: case 0xA1: case 0xA2: case 0xA3: return 2;
    case 0xC8: return 3;
    case 0x9A: case 0xEA: return 4;
    case 0xF6: return reg < 2 ? 1 : 0;
    case 0xF7: return reg < 2 ? 2 : 0;
    }
    if ((op >= 0x70 && op <= 0x7F) || (op >= 0xE0 && op <= 0xE7) || (op >= 0xB0 && op <= 0xB7)) return 1;
    if (op >= 0xB8 && op <= 0xBF) return 2;
    return 0;
}

/* Prefixes, opcode, ModRM and the instruction length (286 prefix set). */
static void vec_decode(struct ss_vec *v)
{
    const struct moo_test *t = v->t;
    unsigned n = t->nbytes && t->bytes[t->nbytes - 1] == 0xF4 ? t->nbytes - 1 : t->nbytes;
    v->modrm = v->modrm_reg = -1;
    unsigned i = 0;
    for (; i < n; i++) {
        uint8_t b = t->bytes[i];
        if (b == 0xF0) v->lock = true;
        else if (b == 0xF2 || b == 0xF3) v->rep = true;
        else if (b != 0x26 && b != 0x2E && b != 0x36 && b != 0x3E) break;
    }
    v->opcode = i < n ? t->bytes[i] : 0xF4;
    if (i + 1 < t->nbytes) {
        v->modrm = t->bytes[i + 1];
        v->modrm_reg = (v->modrm >> 3) & 7;
    }
    /* BYTS stops early for some invalid encodings; the 286 still counts the
     * displacement and immediate its decoder expects toward its 10 bytes */
    unsigned len = i + 1;
    if (op_has_modrm(v->opcode) && v->modrm >= 0) {
        unsigned mod = (unsigned)v->modrm >> 6, rm = (unsigned)v->modrm & 7;
        len += 1 + (mod == 1 ? 1 : mod == 2 ? 2 : (mod == 0 && rm == 6) ? 2 : 0);
    }
    len += (unsigned)op_imm_len(v->opcode, v->modrm_reg < 0 ? 0 : v->modrm_reg);
    v->insn_len = len > n ? len : n;
}

static int hash_cmp(const void *a, const void *b) { return memcmp(a, b, 20); }

static bool revoked(const struct ss_ctx *c, const struct moo_test *t)
{
    return t->has_hash && c->nrevoked && bsearch(t->hash, c->revoked, c->nrevoked, 20, hash_cmp);
}

enum verdict { V_PASS, V_FAIL, V_EXCLUDED, V_PASS_UNLOCKED };

/* Bytes to substitute in guest RAM for one run (at the initial CS:IP). */
struct ss_patch {
    unsigned n;
    uint32_t addr[16];         /* linear = physical addresses               */
    uint8_t byte[16];          /* substituted value                         */
    uint8_t orig[16];          /* the vector's own value, put back after    */
};

/* LOCK bytes of the prefix run -> a segment prefix with no effect: the last
 * segment override present (the last one wins), else the default segment
 * of the memory operand (SS for BP-based ModRM forms, else DS; for stack
 * and ES string operands a segment prefix has no effect at all). */
static void unlock_patch(const struct ss_vec *v, struct ss_patch *p)
{
    const struct moo_test *t = v->t;
    uint8_t seg = 0;
    unsigned end = 0;
    while (end < t->nbytes) {
        uint8_t b = t->bytes[end];
        if (b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E) seg = b;
        else if (b != 0xF0 && b != 0xF2 && b != 0xF3) break;
        end++;
    }
    if (!seg) {
        seg = 0x3E;
        if (op_has_modrm(v->opcode) && v->modrm >= 0) {
            unsigned mod = (unsigned)v->modrm >> 6, rm = (unsigned)v->modrm & 7;
            if (mod != 3 && (rm == 2 || rm == 3 || (rm == 6 && mod != 0))) seg = 0x36;
        }
    }
    p->n = 0;
    for (unsigned k = 0; k < end && p->n < 16; k++) {
        if (t->bytes[k] != 0xF0) continue;
        p->addr[p->n] = (((uint32_t)v->iv[MOO_CS] << 4) + ((v->iv[MOO_IP] + k) & 0xFFFF)) & SS_ADDR_MASK;
        p->byte[p->n] = seg;
        p->orig[p->n] = 0xF0;
        p->n++;
    }
}

static const char *rc_name(int rc, char *buf, size_t n)
{
    if (rc == EXC_NONE) snprintf(buf, n, "none");
    else if (rc == EXIT_HLT) snprintf(buf, n, "EXIT_HLT");
    else if (rc == EXIT_RESET) snprintf(buf, n, "EXIT_RESET (triple fault)");
    else if (rc == EXIT_UNIMPL) snprintf(buf, n, "EXIT_UNIMPL (not implemented)");
    else if (rc >= 0 && rc < 256) snprintf(buf, n, "#%d", rc);
    else snprintf(buf, n, "exit %d", rc);
    return buf;
}

/* Run and check one vector (with `patch` applied to its code bytes, or
 * NULL). *rule gets the row for V_EXCLUDED and V_PASS_UNLOCKED. */
static enum verdict run_vector(struct ss_ctx *c, const char *stem, const struct moo_test *t,
                               uint16_t flags_mask, uint16_t flags_ignore, int *rule,
                               const struct ss_patch *patch)
{
    struct cpu *cpu = &c->cpu;
    uint8_t *ram = c->ram;
    c->difflen = 0;
    c->ndiff = 0;
    c->first[0] = 0;
    c->diff[0] = 0;

    const struct moo_state *st[2] = { &t->init, &t->fina };
    struct ss_vec v;
    memset(&v, 0, sizeof v);
    v.t = t;
    v.stem = stem;
    v.exp_exc = t->has_exc ? t->exc_num : -1;
    vec_decode(&v);

    if ((t->init.regs.mask & 0x3FFF) != 0x3FFF) {
        diff_add(c, "INIT lacks registers (mask 0x%04x): not a 16-bit real-mode vector",
                 t->init.regs.mask);
        return V_FAIL;
    }
    const uint16_t *iv = t->init.regs.v;
    memcpy(v.iv, iv, sizeof v.iv);
    for (int i = 0; i < MOO_NREGS; i++)
        v.ev[i] = (t->fina.regs.mask & (1u << i)) ? t->fina.regs.v[i] : iv[i];
    if (!(t->fina.regs.mask & (1u << MOO_FLAGS))) v.ev[MOO_FLAGS] = iv[MOO_FLAGS] & 0x0FFF;

    /* ---- initial state ---- */
    memcpy(cpu, &c->tmpl, sizeof *cpu);
    cpu->r[R_EAX] = iv[MOO_AX]; cpu->r[R_EBX] = iv[MOO_BX];
    cpu->r[R_ECX] = iv[MOO_CX]; cpu->r[R_EDX] = iv[MOO_DX];
    cpu->r[R_ESP] = iv[MOO_SP]; cpu->r[R_EBP] = iv[MOO_BP];
    cpu->r[R_ESI] = iv[MOO_SI]; cpu->r[R_EDI] = iv[MOO_DI];
    static const int segmap[4][2] = { { SEG_CS, MOO_CS }, { SEG_SS, MOO_SS },
                                      { SEG_DS, MOO_DS }, { SEG_ES, MOO_ES } };
    for (int i = 0; i < 4; i++) {
        struct seg *s = &cpu->seg[segmap[i][0]];
        s->sel = iv[segmap[i][1]];
        s->base = (uint32_t)s->sel << 4;
        s->limit = 0xFFFF;
    }
    cpu->eip = iv[MOO_IP];
    /* bits 12-15 cannot be set in real mode (suite README); 1, 3, 5 reserved */
    cpu->eflags = (iv[MOO_FLAGS] & 0x0FD5u) | 0x2u;

    for (uint32_t i = 0; i < t->init.ram_count; i++) {
        uint32_t a; uint8_t b;
        moo_ram_entry(&t->init, i, &a, &b);
        ram[a & SS_ADDR_MASK] = b;
        if (c->use_ref) c->sram[a & SS_ADDR_MASK] = b;
        engine_ram_written(c->eng, a & SS_ADDR_MASK, 1);
    }
    if (patch)
        for (unsigned i = 0; i < patch->n; i++) {
            ram[patch->addr[i]] = patch->byte[i];
            if (c->use_ref) c->sram[patch->addr[i]] = patch->byte[i];
            engine_ram_written(c->eng, patch->addr[i], 1);
        }

    /* ---- one instruction ---- */
    uint32_t start_eip = cpu->eip;
    uint16_t start_cs = cpu->seg[SEG_CS].sel;
    bool rep_string = v.rep && is_string_op(v.opcode);
    unsigned steps = 0;
    int rc, ref_rc = EXC_NONE;
    if (c->use_ref) ref_rc = ref_run(c, cpu, rep_string);
    for (;;) {
        rc = engine_step(c->eng);
        steps++;
        if (rc == EXC_NONE && rep_string && cpu->eip == start_eip &&
            cpu->seg[SEG_CS].sel == start_cs && steps < SS_REP_MAX)
            continue;                      /* engine runs REP one iteration per step */
        break;
    }
    /* An engine whose step returns EXC_NONE after delivering an exception
     * (interp_run semantics, unlike interp_step's): when the reference
     * delivered vector V and the engine ended exactly where the reference
     * did (CS, IP and SP: IVT[V], a 6-byte frame), the engine delivered V
     * too; the rules that need "the engine raised V" then see it. The
     * state itself is compared as for any engine. */
    if (c->use_ref && rc == EXC_NONE && ref_rc >= 0 && ref_rc < 256 &&
        cpu->seg[SEG_CS].sel == c->scpu.seg[SEG_CS].sel && cpu->eip == c->scpu.eip &&
        cpu->r[R_ESP] == c->scpu.r[R_ESP])
        rc = ref_rc;
    v.rc = rc;
    if (c->use_ref) {
        /* the reference's frame (6 bytes below the initial SP) */
        uint32_t ssb = (uint32_t)iv[MOO_SS] << 4;
        for (uint32_t k = 1; k <= 6; k++) c->sram[(ssb + ((iv[MOO_SP] - k) & 0xFFFF)) & SS_ADDR_MASK] = 0;
        if (patch)
            for (unsigned i = 0; i < patch->n; i++) c->sram[patch->addr[i]] = patch->orig[i];
    }
    if (patch)
        for (unsigned i = 0; i < patch->n; i++) {
            ram[patch->addr[i]] = patch->orig[i];
            engine_ram_written(c->eng, patch->addr[i], 1);
        }
    char rcb[64], exb[64];
    enum verdict verdict = V_PASS;

    if (rc == EXIT_UNIMPL || rc == EXIT_RESET || (rc > 255 && rc != EXIT_HLT)) {
        diff_add(c, "engine returned %s", rc_name(rc, rcb, sizeof rcb));
        v.engine_exit = true;
        verdict = V_FAIL;
        goto cleanup;
    }
    if (rc == EXC_NONE && rep_string && steps >= SS_REP_MAX) {
        diff_add(c, "REP instruction still running after %u steps", steps);
        v.engine_exit = true;
        verdict = V_FAIL;
        goto cleanup;
    }
    /* The HALT that ends every test (README "Test Methodology") executes
     * at the CS:IP the instruction left; IP ends one past it. HLT under
     * test is its own end. */
    if (rc != EXIT_HLT)
        cpu->eip = cpu->eip <= 0xFFFF ? ((cpu->eip + 1) & 0xFFFF) : cpu->eip + 1;

    /* ---- registers ---- */
    uint32_t got[MOO_NREGS] = {
        cpu->r[R_EAX], cpu->r[R_EBX], cpu->r[R_ECX], cpu->r[R_EDX],
        cpu->seg[SEG_CS].sel, cpu->seg[SEG_SS].sel, cpu->seg[SEG_DS].sel, cpu->seg[SEG_ES].sel,
        cpu->r[R_ESP], cpu->r[R_EBP], cpu->r[R_ESI], cpu->r[R_EDI], cpu->eip, cpu->eflags,
    };
    memcpy(v.got, got, sizeof v.got);
    uint32_t fcmp = 0xFFFF0000u | (uint32_t)(flags_mask & ~flags_ignore);
    /* RMSK chunks (per test) narrow the comparison further; the 286 suite
     * has none, its masks are in metadata.json */
    if (t->fina.rmask.mask & (1u << MOO_FLAGS)) fcmp &= 0xFFFF0000u | t->fina.rmask.v[MOO_FLAGS];
    for (int i = 0; i < MOO_NREGS; i++) {
        uint32_t m = i == MOO_FLAGS ? fcmp : 0xFFFFFFFFu;
        if (i != MOO_FLAGS && (t->fina.rmask.mask & (1u << i))) m = t->fina.rmask.v[i] | 0xFFFF0000u;
        if ((got[i] & m) == ((uint32_t)v.ev[i] & m)) continue;
        v.diff_regs |= 1u << i;
        if (i == MOO_FLAGS)
            diff_add(c, "flags: expected 0x%04x got 0x%04x (compared bits 0x%04x, differ 0x%04x)",
                     v.ev[i], got[i], fcmp & 0xFFFF, (got[i] ^ v.ev[i]) & fcmp);
        else
            diff_add(c, "%s: expected 0x%04x got 0x%04x", moo_reg_names[i], v.ev[i], got[i]);
    }
    for (int i = 0; i < 4; i++) {
        const struct seg *s = &cpu->seg[segmap[i][0]];
        if (s->base == (uint32_t)s->sel << 4) continue;
        v.base_diff = true;
        diff_add(c, "%s.base: expected 0x%05x (selector << 4) got 0x%05x",
                 moo_reg_names[segmap[i][1]], (uint32_t)s->sel << 4, s->base);
    }

    /* ---- RAM: every listed byte; final values override initial ones ---- */
    uint32_t fa0 = 0xFFFFFFFFu, fa1 = 0xFFFFFFFFu;   /* pushed FLAGS image */
    uint8_t fm0 = 0xFF, fm1 = 0xFF;
    if (t->has_exc && flags_mask != 0xFFFF) {
        uint32_t ssb = (uint32_t)v.ev[MOO_SS] << 4;
        fa0 = (ssb + ((v.ev[MOO_SP] + 4u) & 0xFFFF)) & SS_ADDR_MASK;
        fa1 = (ssb + ((v.ev[MOO_SP] + 5u) & 0xFFFF)) & SS_ADDR_MASK;
        fm0 = (uint8_t)flags_mask;
        fm1 = (uint8_t)(flags_mask >> 8);
    }
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < st[k]->ram_count; i++) {
            uint32_t a; uint8_t b;
            moo_ram_entry(st[k], i, &a, &b);
            a &= SS_ADDR_MASK;
            c->expv[a] = b;
            c->mark[a] = 1;
        }
    for (int k = 1; k >= 0; k--)
        for (uint32_t i = 0; i < st[k]->ram_count; i++) {
            uint32_t a; uint8_t b;
            moo_ram_entry(st[k], i, &a, &b);
            a &= SS_ADDR_MASK;
            if (!c->mark[a]) continue;          /* already compared */
            c->mark[a] = 0;
            uint8_t m = a == fa0 ? fm0 : a == fa1 ? fm1 : 0xFF;
            if ((ram[a] & m) == (c->expv[a] & m)) continue;
            if (v.nram < SS_MAX_RAMDIFF) {
                v.ram_addr[v.nram] = a;
                v.ram_exp[v.nram] = c->expv[a];
                v.ram_got[v.nram] = ram[a];
            }
            v.nram++;
            diff_add(c, "ram[0x%06x]: expected 0x%02x got 0x%02x%s", a, c->expv[a], ram[a],
                     m != 0xFF ? " (pushed FLAGS, undefined bits masked)" : "");
        }

    if (c->ndiff) verdict = V_FAIL;

cleanup:
    for (int k = 0; k < 2; k++)
        for (uint32_t i = 0; i < st[k]->ram_count; i++) {
            uint32_t a; uint8_t b;
            moo_ram_entry(st[k], i, &a, &b);
            ram[a & SS_ADDR_MASK] = 0;
            if (c->use_ref) c->sram[a & SS_ADDR_MASK] = 0;
            c->mark[a & SS_ADDR_MASK] = 0;
            engine_ram_written(c->eng, a & SS_ADDR_MASK, 1);
        }
    if (c->o->scan_ram) {
        /* anything non-zero now in the segment windows is a stray write */
        for (int i = 0; i < 4; i++) {
            uint32_t base = (uint32_t)iv[segmap[i][1]] << 4;
            for (uint32_t off = 0; off < 0x10000; off += 8) {
                uint64_t w;
                memcpy(&w, ram + base + off, 8);
                if (!w) continue;
                for (uint32_t j = 0; j < 8; j++)
                    if (ram[base + off + j]) {
                        diff_add(c, "ram[0x%06x]: stray write 0x%02x (not in the expected state)",
                                 base + off + j, ram[base + off + j]);
                        ram[base + off + j] = 0;
                        engine_ram_written(c->eng, base + off + j, 1);
                        v.nram = SS_MAX_RAMDIFF + 1;   /* no rule explains a stray write */
                        verdict = V_FAIL;
                    }
            }
        }
    }
    if (verdict == V_FAIL) {
        if (v.exp_exc >= 0 || (rc >= 0 && rc < 256)) {
            if (v.exp_exc >= 0) snprintf(exb, sizeof exb, "#%d", v.exp_exc);
            else snprintf(exb, sizeof exb, "none");
            char line[160];
            snprintf(line, sizeof line, "exception/interrupt: 286 took %s, engine returned %s",
                     exb, rc_name(rc, rcb, sizeof rcb));
            if (c->difflen < sizeof c->diff - 200)
                c->difflen += (size_t)snprintf(c->diff + c->difflen, sizeof c->diff - c->difflen,
                                               "    (%s)\n", line);
        }
        if (!v.engine_exit)
            for (int r = 0; r < SS_NRULES; r++) {
                if (!ss_rules[r].match || !rule_applies(&ss_rules[r], stem) || !ss_rules[r].match(&v))
                    continue;
                *rule = r;
                if (!ss_rules[r].rerun_unlocked) return V_EXCLUDED;
                if (patch) return V_FAIL;          /* still faulting without LOCK */
                struct ss_patch p;
                unlock_patch(&v, &p);
                if (!p.n) return V_EXCLUDED;
                int r2 = -1;
                enum verdict vd = run_vector(c, stem, t, flags_mask, flags_ignore, &r2, &p);
                if (vd == V_PASS) return V_PASS_UNLOCKED;
                if (vd == V_EXCLUDED) { *rule = r2; return V_EXCLUDED; }
                char tmp[sizeof c->first];
                snprintf(tmp, sizeof tmp, "%s", c->first);
                snprintf(c->first, sizeof c->first, "with LOCK replaced: %.370s", tmp);
                return V_FAIL;
            }
    }
    return verdict;
}

static bool has_suffix_ci(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n > m && !strcasecmp(s + n - m, suf);
}
static void stem_of(const char *path, char *stem, size_t n)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(stem, n, "%s", b);
    size_t l = strlen(stem);
    if (has_suffix_ci(stem, ".MOO.gz")) stem[l - 7] = 0;
    else if (has_suffix_ci(stem, ".MOO")) stem[l - 4] = 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ss_file *)a)->stem, ((const struct ss_file *)b)->stem);
}

/* Collect the files under PATH (or PATH itself). -1 with a message printed. */
static int collect(const struct ss_opts *o, struct ss_file **out, size_t *nout, char *dir, size_t dirlen)
{
    struct stat sb;
    if (stat(o->path, &sb) != 0) { cli_error("singlestep: %s: no such file or directory", o->path); return -1; }
    struct ss_file *v = NULL;
    size_t n = 0, cap = 0;
    if (S_ISDIR(sb.st_mode)) {
        snprintf(dir, dirlen, "%s", o->path);
        DIR *d = opendir(o->path);
        if (!d) { cli_error("singlestep: %s: cannot open directory", o->path); return -1; }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!has_suffix_ci(e->d_name, ".MOO.gz") && !has_suffix_ci(e->d_name, ".MOO")) continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                struct ss_file *nv = realloc(v, cap * sizeof *nv);
                if (!nv) { closedir(d); free(v); cli_error("singlestep: out of memory"); return -1; }
                v = nv;
            }
            memset(&v[n], 0, sizeof v[n]);
            snprintf(v[n].path, sizeof v[n].path, "%s/%s", o->path, e->d_name);
            stem_of(e->d_name, v[n].stem, sizeof v[n].stem);
            n++;
        }
        closedir(d);
        if (!n) { free(v); cli_error("singlestep: no .MOO or .MOO.gz files in %s", o->path); return -1; }
        qsort(v, n, sizeof *v, name_cmp);
    } else {
        const char *slash = strrchr(o->path, '/');
        if (slash) snprintf(dir, dirlen, "%.*s", (int)(slash - o->path), o->path);
        else snprintf(dir, dirlen, ".");
        v = calloc(1, sizeof *v);
        if (!v) { cli_error("singlestep: out of memory"); return -1; }
        snprintf(v->path, sizeof v->path, "%s", o->path);
        stem_of(o->path, v->stem, sizeof v->stem);
        n = 1;
    }
    if (o->opcode) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (!strcasecmp(v[i].stem, o->opcode)) v[k++] = v[i];
        if (!k) {
            free(v);
            cli_error("singlestep: no test file for opcode '%s' in %s (file names look like 00, 80.7, F6.6)",
                      o->opcode, o->path);
            return -1;
        }
        n = k;
    }
    *out = v;
    *nout = n;
    return 0;
}

static void load_revocations(struct ss_ctx *c, const char *dir)
{
    char path[1200];
    FILE *f = NULL;
    const char *cand[2] = { "%s/revocation_list.txt", "%s/../revocation_list.txt" };
    for (int i = 0; i < 2 && !f; i++) {
        snprintf(path, sizeof path, cand[i], dir);
        f = fopen(path, "r");
    }
    if (!f) return;
    char line[256];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        uint8_t h[20];
        int k = 0;
        for (const char *p = line; *p && k < 40; p++) {
            int d = (*p >= '0' && *p <= '9') ? *p - '0' : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 :
                    (*p >= 'A' && *p <= 'F') ? *p - 'A' + 10 : -1;
            if (d < 0) { if (k) break; continue; }
            if (k & 1) h[k / 2] = (uint8_t)(h[k / 2] | d); else h[k / 2] = (uint8_t)(d << 4);
            k++;
        }
        if (k != 40) continue;
        if (c->nrevoked == cap) {
            cap = cap ? cap * 2 : 16;
            void *nr = realloc(c->revoked, cap * 20);
            if (!nr) break;
            c->revoked = nr;
        }
        memcpy(c->revoked[c->nrevoked++], h, 20);
    }
    fclose(f);
    if (c->nrevoked) qsort(c->revoked, c->nrevoked, 20, hash_cmp);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_file(struct ss_ctx *c, struct ss_file *fr)
{
    double t0 = now_s();
    struct moo_file f;
    if (moo_open_file(&f, fr->path)) {
        fr->error = true;
        snprintf(fr->first, sizeof fr->first, "cannot read: %s", f.err);
        return;
    }
    uint16_t fmask = 0xFFFF, fignore = 0;
    const struct moo_opinfo *oi = c->have_md ? moo_metadata_find(&c->md, fr->stem) : NULL;
    if (oi) fmask = oi->flags_mask;
    for (int r = 0; r < SS_NRULES; r++)
        if (rule_applies(&ss_rules[r], fr->stem)) fignore |= ss_rules[r].flags_ignore;
    struct moo_test t;
    int k, shown = 0, shown_ex = 0;
    while ((k = moo_next(&f, &t)) == 1) {
        if (c->o->limit > 0 && fr->vectors >= (uint32_t)c->o->limit) break;
        fr->vectors++;
        if (revoked(c, &t)) { fr->excluded++; fr->by_rule[SS_RULE_REVOKED]++; continue; }
        if (c->prog) {
            c->prog->index = t.index;
            snprintf(c->prog->name, sizeof c->prog->name, "%.*s", (int)t.name_len, t.name);
            c->prog->running = true;
        }
        int rule = -1;
        enum verdict vd = run_vector(c, fr->stem, &t, fmask, fignore, &rule, NULL);
        if (c->prog) c->prog->running = false;
        if (vd == V_PASS) { fr->passed++; continue; }
        if (vd == V_PASS_UNLOCKED) { fr->passed++; fr->unlocked++; continue; }
        if (vd == V_EXCLUDED) {
            fr->excluded++;
            fr->by_rule[rule]++;
            if (c->o->show_excluded && !c->o->json && (c->o->verbose > 1 || shown_ex < SS_VERBOSE_MAX)) {
                shown_ex++;
                printf("  ss/%s #%u %.*s  excluded by rule %s; bytes", fr->stem, t.index,
                       (int)t.name_len, t.name, ss_rules[rule].id);
                for (uint32_t i = 0; i < t.nbytes; i++) printf(" %02x", t.bytes[i]);
                printf("\n%s", c->diff);
            }
            continue;
        }
        fr->failed++;
        if (fr->failed == 1)
            snprintf(fr->first, sizeof fr->first, "#%u %.*s: %s%s", t.index, (int)t.name_len, t.name,
                     c->first, c->ndiff > 1 ? " ..." : "");
        if (c->o->verbose && !c->o->json && (c->o->verbose > 1 || shown < SS_VERBOSE_MAX)) {
            shown++;
            printf("  ss/%s #%u %.*s  bytes", fr->stem, t.index, (int)t.name_len, t.name);
            for (uint32_t i = 0; i < t.nbytes; i++) printf(" %02x", t.bytes[i]);
            printf("\n%s", c->diff);
        }
    }
    if (k < 0) {
        fr->error = true;
        snprintf(fr->first, sizeof fr->first, "%s", f.err);
    }
    if (c->o->verbose == 1 && !c->o->json && fr->failed > (uint32_t)shown && shown)
        printf("  ss/%s: %u more failing vectors not shown (-vv shows all)\n", fr->stem,
               fr->failed - (uint32_t)shown);
    moo_close(&f);
    fr->seconds = now_s() - t0;
}

/* Run one file in a child process so that an engine crash or hang in one
 * opcode is a FAIL line for that file, not the end of the run. */
static void run_file_isolated(struct ss_ctx *c, struct ss_file *fr)
{
    if (c->o->no_fork) { run_file(c, fr); return; }
    struct ss_shared { struct ss_file fr; struct ss_progress prog; } *sh =
        mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) { run_file(c, fr); return; }
    memcpy(&sh->fr, fr, sizeof *fr);
    memset(&sh->prog, 0, sizeof sh->prog);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) { munmap(sh, sizeof *sh); run_file(c, fr); return; }
    if (pid == 0) {
        signal(SIGALRM, SIG_DFL);
        alarm((unsigned)c->o->timeout);
        c->prog = &sh->prog;
        run_file(c, &sh->fr);
        fflush(stdout);
        _exit(0);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0) {}
    memcpy(fr, &sh->fr, sizeof *fr);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        char why[96];
        if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
            snprintf(why, sizeof why, "timed out after %ld s", c->o->timeout);
        else if (WIFSIGNALED(st))
            snprintf(why, sizeof why, "engine crashed (signal %d, %s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
        else
            snprintf(why, sizeof why, "runner exited with status %d", WEXITSTATUS(st));
        fr->error = true;
        if (sh->prog.running) {
            fr->failed++;
            snprintf(fr->first, sizeof fr->first, "%s at vector #%u %s (%u vectors done)", why,
                     sh->prog.index, sh->prog.name, fr->vectors - 1);
        } else {
            snprintf(fr->first, sizeof fr->first, "%s (%u vectors done)", why, fr->vectors);
        }
        memset(c->ram, 0, SS_RAM_SIZE);    /* the child died mid-vector */
        memset(c->mark, 0, SS_RAM_SIZE);
        if (c->sram) memset(c->sram, 0, SS_RAM_SIZE);
        engine_ram_written(c->eng, 0, SS_RAM_SIZE);
    }
    munmap(sh, sizeof *sh);
}

static void print_file_line(const struct ss_file *fr)
{
    if (fr->error)
        printf("FAIL ss/%s: %s\n", fr->stem, fr->first);
    else if (fr->failed)
        printf("FAIL ss/%s: %u of %u failed (first: %s)\n", fr->stem, fr->failed,
               fr->vectors - fr->excluded, fr->first);
    else if (fr->excluded && fr->unlocked)
        printf("PASS ss/%s (%u excluded, %u passed with LOCK replaced)\n", fr->stem, fr->excluded,
               fr->unlocked);
    else if (fr->excluded)
        printf("PASS ss/%s (%u excluded)\n", fr->stem, fr->excluded);
    else if (fr->unlocked)
        printf("PASS ss/%s (%u passed with LOCK replaced)\n", fr->stem, fr->unlocked);
    else
        printf("PASS ss/%s\n", fr->stem);
    fflush(stdout);
}

static const char *rule_id(int r) { return r == SS_RULE_REVOKED ? "revoked" : ss_rules[r].id; }


/* ---- one engine over every file ---- */
struct ss_total {
    uint32_t vectors, passed, failed, excluded, unlocked;   /* vector counts */
    uint32_t by_rule[SS_NRULES + 1];   /* exclusions per rule (+revoked)   */
    unsigned file_errors;              /* files unreadable or crashed       */
    double seconds;                    /* wall time of the engine's run     */
};

static void run_all_files(struct ss_ctx *c, struct ss_file *files, size_t nfiles, struct ss_total *t,
                          bool print_lines)
{
    const struct ss_opts *o = c->o;
    bool tty = isatty(2) && !o->no_progress;
    double t0 = now_s(), last = t0;
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < nfiles; i++) {
        if (tty) fprintf(stderr, "\r[%s %zu/%zu] %-8s", c->engine_name, i + 1, nfiles, files[i].stem);
        else if (!o->no_progress && now_s() - last > 10) {
            fprintf(stderr, "bt86: singlestep: %s: file %zu of %zu (%s), %u vectors so far\n",
                    c->engine_name, i + 1, nfiles, files[i].stem, t->vectors);
            last = now_s();
        }
        run_file_isolated(c, &files[i]);
        if (tty) fprintf(stderr, "\r%32s\r", "");
        struct ss_file *f = &files[i];
        t->vectors += f->vectors; t->passed += f->passed; t->failed += f->failed;
        t->excluded += f->excluded; t->unlocked += f->unlocked;
        for (int r = 0; r <= SS_NRULES; r++) t->by_rule[r] += f->by_rule[r];
        if (f->error) t->file_errors++;
        if (print_lines) print_file_line(f);
    }
    t->seconds = now_s() - t0;
}

static enum report_status file_status(const struct ss_file *f)
{
    if (f->error) return REPORT_ERROR;
    if (f->failed) return REPORT_FAIL;
    return f->passed ? REPORT_PASS : REPORT_SKIP;     /* nothing ran or all excluded */
}

static void add_file_case(struct report *rep, const char *engine, const struct ss_file *f)
{
    char msg[1200], name[48];
    const char *m = NULL;
    snprintf(name, sizeof name, "ss/%s", f->stem);
    if (f->error) m = f->first;
    else if (f->failed) {
        snprintf(msg, sizeof msg, "%u of %u vectors failed (first: %.1000s)", f->failed, f->vectors - f->excluded, f->first);
        m = msg;
    } else if (!f->passed) {
        snprintf(msg, sizeof msg, "no vector passed (%u read, %u excluded)", f->vectors, f->excluded);
        m = msg;
    } else if (f->excluded || f->unlocked) {
        snprintf(msg, sizeof msg, "%u excluded, %u passed with LOCK replaced", f->excluded, f->unlocked);
        m = msg;
    }
    int i = report_case(rep, engine, name, file_status(f), f->seconds, m, NULL);
    report_case_count(rep, i, "vectors", f->vectors);
    report_case_count(rep, i, "passed", f->passed);
    report_case_count(rep, i, "failed", f->failed);
    report_case_count(rep, i, "excluded", f->excluded);
    report_case_count(rep, i, "passed_lock_replaced", f->unlocked);
}

/* The table cell of one file under one engine. */
static void file_cell(const struct ss_file *f, char *out, size_t n)
{
    if (f->error) snprintf(out, n, "ERROR");
    else if (f->failed) snprintf(out, n, "FAIL %u/%u", f->failed, f->vectors - f->excluded);
    else if (f->excluded) snprintf(out, n, "pass (%u excl)", f->excluded);
    else snprintf(out, n, "pass");
}

static bool files_agree(const struct ss_file *a, const struct ss_file *b)
{
    return a->error == b->error && a->vectors == b->vectors && a->passed == b->passed &&
           a->failed == b->failed && a->excluded == b->excluded && a->unlocked == b->unlocked;
}

static void usage(FILE *f)
{
    fputs("usage: bt86 test singlestep PATH [--engine E | --all-engines | --engines LIST] [--opcode XX]\n"
          "                              [--junit FILE] [-v|-vv] [--scan-ram] [--limit N]\n"
          "                              [--timeout S] [--show-excluded] [--no-fork] [--no-progress]\n"
          "  PATH        directory of .MOO.gz files (v1_real_mode) or one file\n"
          "  --engine E  engine to test: interp (default), bt, trap, kvm\n"
          "  --all-engines  every engine, side by side; engines that cannot run here are\n"
          "              skipped with the reason; engines that disagree on a file fail it\n"
          "  --engines L like --all-engines, for the engines in L (e.g. interp,bt)\n"
          "  --opcode XX run only the file for XX (00, 80.7, 0F01 ...)\n"
          "  --json      one JSON object (docs/harness.md) on stdout instead of the text\n"
          "  --junit F   also write JUnit XML to F\n"
          "  -v, -vv     show failing vectors with a diff (20 per file, or all)\n"
          "  --scan-ram  also detect stray writes in each vector's segment windows\n"
          "  --show-excluded  show excluded vectors and their diffs (20 per file, -vv: all)\n"
          "  --limit N   run at most N vectors per file\n"
          "  --timeout S give up on a file after S seconds (default 120)\n"
          "  --no-fork   run files in this process (for debuggers; a crash ends the run)\n", f);
}

int cmd_test_singlestep(int argc, char **argv)
{
    struct ss_opts o = { .engine = "interp", .timeout = 120 };
    bool all_engines = false;
    const char *engine_list = NULL;    /* --engines A,B,...               */
    static const struct option lo[] = {
        { "engine", required_argument, 0, 'e' }, { "opcode", required_argument, 0, 'o' },
        { "json", no_argument, 0, 'j' },         { "junit", required_argument, 0, 'J' },
        { "verbose", no_argument, 0, 'v' },      { "scan-ram", no_argument, 0, 'S' },
        { "limit", required_argument, 0, 'l' },  { "no-progress", no_argument, 0, 'P' },
        { "show-excluded", no_argument, 0, 'X' }, { "all-engines", no_argument, 0, 'A' },
        { "engines", required_argument, 0, 'E' },
        { "no-fork", no_argument, 0, 'F' },      { "timeout", required_argument, 0, 'T' },
        { "help", no_argument, 0, 'h' },         { 0, 0, 0, 0 },
    };
    optind = 0;                             /* full re-initialisation (glibc) */
    opterr = 0;
    int ch;
    bool engine_given = false;
    while ((ch = getopt_long(argc, argv, ":vh", lo, NULL)) != -1) {
        switch (ch) {
        case 'e': o.engine = optarg; engine_given = true; break;
        case 'A': all_engines = true; break;
        case 'E': all_engines = true; engine_list = optarg; break;
        case 'o': o.opcode = optarg; break;
        case 'j': o.json = true; break;
        case 'J': o.junit = optarg; break;
        case 'v': o.verbose++; break;
        case 'S': o.scan_ram = true; break;
        case 'P': o.no_progress = true; break;
        case 'F': o.no_fork = true; break;
        case 'X': o.show_excluded = true; break;
        case 'T': {
            char *e;
            o.timeout = strtol(optarg, &e, 10);
            if (*e || o.timeout <= 0) return cli_error("singlestep: --timeout needs a positive number of seconds, not '%s'", optarg);
            break;
        }
        case 'l': {
            char *e;
            o.limit = strtol(optarg, &e, 10);
            if (*e || o.limit <= 0) return cli_error("singlestep: --limit needs a positive number, not '%s'", optarg);
            break;
        }
        case 'h': usage(stdout); return 0;
        case ':': return cli_error("singlestep: option '%s' needs an argument", argv[optind - 1]);
        default: return cli_error("singlestep: unknown option '%s' (see --help)", argv[optind - 1]);
        }
    }
    if (optind >= argc) { usage(stderr); return cli_error("singlestep: which directory or file? (PATH missing)"); }
    if (optind + 1 < argc) return cli_error("singlestep: unexpected argument '%s'", argv[optind + 1]);
    o.path = argv[optind];
    if (all_engines && engine_given) return cli_error("singlestep: give --engine E or --all-engines, not both");
    if (engine_kind_from_name(o.engine) < 0)
        return cli_error("singlestep: unknown engine '%s' (interp, bt, trap, kvm)", o.engine);
    const char *engines[SS_NENGINES];
    int neng = 0;
    if (engine_list) {
        /* a subset, in the canonical order, each name once */
        for (const char *p = engine_list; *p;) {
            size_t w = strcspn(p, ",");
            int k = -1;
            for (int i = 0; i < SS_NENGINES; i++)
                if (strlen(ss_engine_names[i]) == w && !strncmp(p, ss_engine_names[i], w)) k = i;
            if (k < 0) return cli_error("singlestep: --engines: unknown engine '%.*s' (interp, bt, trap, kvm)", (int)w, p);
            p += w;
            if (*p == ',') p++;
        }
        for (int i = 0; i < SS_NENGINES; i++) {
            const char *n = ss_engine_names[i];
            size_t l = strlen(n);
            for (const char *p = engine_list; *p; p += strcspn(p, ","), p += *p == ',') 
                if (strcspn(p, ",") == l && !strncmp(p, n, l)) { engines[neng++] = n; break; }
        }
    } else if (all_engines) {
        for (int i = 0; i < SS_NENGINES; i++) engines[neng++] = ss_engine_names[i];
    } else {
        engines[neng++] = o.engine;
    }

    char dir[1024];
    struct ss_file *files;
    size_t nfiles;
    if (collect(&o, &files, &nfiles, dir, sizeof dir)) return 2;

    struct ss_ctx *c = calloc(1, sizeof *c);
    struct report *rep = report_new("singlestep");
    if (!c || !rep) { free(c); report_free(rep); free(files); return cli_error("singlestep: out of memory"); }
    struct ss_file *per[SS_NENGINES] = { 0 };   /* each engine's file results */
    struct ss_total tot[SS_NENGINES];
    char why[SS_NENGINES][300];                  /* "" or why it was skipped   */
    memset(tot, 0, sizeof tot);
    c->o = &o;
    c->mem = mem_new(SS_RAM_SIZE);
    c->bus = bus_new();
    /* shared mappings: forked file runs neither copy nor dirty the parent's */
    c->expv = mmap(NULL, SS_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    c->mark = mmap(NULL, SS_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c->expv == MAP_FAILED) c->expv = NULL;
    if (c->mark == MAP_FAILED) c->mark = NULL;
    int status = 2;
    bool tmpl_ok = false;
    if (!c->mem || !c->bus || !c->expv || !c->mark) { cli_error("singlestep: cannot allocate 16 MiB guest RAM"); goto out; }
    if (bus_map_io(c->bus, 0, 0x10000, &ss_ports, NULL)) { cli_error("singlestep: cannot map the I/O ports"); goto out; }
    c->ram = mem_ram(c->mem);
    cpu_template(c);
    tmpl_ok = true;

    char mdpath[1200], err[1400];
    snprintf(mdpath, sizeof mdpath, "%s/metadata.json", dir);
    if (access(mdpath, R_OK) == 0) {
        if (moo_metadata_load(&c->md, mdpath, err, sizeof err)) {
            cli_error("singlestep: %s", err);
            goto out;
        }
        c->have_md = true;
    } else {
        fprintf(stderr, "bt86: singlestep: warning: no %s: undefined flags will be compared\n", mdpath);
    }
    load_revocations(c, dir);

    double t0 = now_s();
    int nran = 0;
    bool fail = false;
    for (int e = 0; e < neng; e++) {
        why[e][0] = 0;
        const char *r = engine_test_reason(engines[e], why[e], sizeof why[e]);
        if (r && r != why[e]) snprintf(why[e], sizeof why[e], "%s", r);
        if (!r) {
            memcpy(&c->cpu, &c->tmpl, sizeof c->cpu);
            c->eng = engine_new(engines[e], &c->cpu, err, sizeof err);
            if (!c->eng) snprintf(why[e], sizeof why[e], "%.290s", err);
            c->use_ref = c->eng && engine_kind(c->eng) != ENGINE_INTERP;
            if (c->use_ref && !c->smem) {
                c->smem = mem_new(SS_RAM_SIZE);
                if (!c->smem) { cli_error("singlestep: cannot allocate the reference RAM"); goto out; }
                c->sram = mem_ram(c->smem);
                cpu_template_on(&c->stmpl, c->smem, c->bus);
                c->stmpl_ok = true;
            }
        }
        if (why[e][0]) {
            if (!o.json) printf("SKIP ss/%s: engine %s cannot run here: %s\n", engines[e], engines[e], why[e]);
            report_case(rep, engines[e], "ss", REPORT_SKIP, 0, why[e], NULL);
            continue;
        }
        per[e] = malloc(nfiles * sizeof *files);
        if (!per[e]) { engine_free(c->eng); c->eng = NULL; cli_error("singlestep: out of memory"); goto out; }
        memcpy(per[e], files, nfiles * sizeof *files);
        c->engine_name = engines[e];
        run_all_files(c, per[e], nfiles, &tot[e], !o.json && !all_engines);
        engine_free(c->eng);
        c->eng = NULL;
        nran++;
        for (size_t i = 0; i < nfiles; i++) add_file_case(rep, engines[e], &per[e][i]);
        if (tot[e].failed || tot[e].file_errors || !tot[e].vectors) fail = true;
        fprintf(stderr, "bt86: singlestep: %zu files, %u vectors in %.2f s (engine %s)\n",
                nfiles, tot[e].vectors, tot[e].seconds, engines[e]);
    }
    double secs = now_s() - t0;

    /* side by side: one row per file, led by the overall verdict */
    if (all_engines && !o.json) {
        printf("%-6s %-14s", "", "test");
        for (int e = 0; e < neng; e++) printf(" %-18s", engines[e]);
        printf("\n");
    }
    int ref = -1;
    for (int e = 0; e < neng && ref < 0; e++) if (per[e]) ref = e;
    for (size_t i = 0; all_engines && ref >= 0 && i < nfiles; i++) {
        bool bad = false, agree = true;
        char differ[600] = "";
        size_t dl = 0;
        for (int e = 0; e < neng; e++) {
            if (!per[e]) continue;
            const struct ss_file *f = &per[e][i];
            if (f->error || f->failed) bad = true;
            if (!files_agree(f, &per[ref][i])) agree = false;
            if (dl < sizeof differ - 100)
                dl += (size_t)snprintf(differ + dl, sizeof differ - dl, "%s%s: %u passed, %u failed, %u excluded%s",
                                       dl ? "; " : "", engines[e], f->passed, f->failed, f->excluded,
                                       f->error ? ", error" : "");
        }
        if (nran > 1) {
            char nm[48];
            snprintf(nm, sizeof nm, "ss/%s", files[i].stem);
            report_case(rep, "engines", nm, agree ? REPORT_PASS : REPORT_FAIL, 0,
                        agree ? "every engine that ran gave the same verdicts" : differ, NULL);
        }
        if (!agree) fail = true;
        if (o.json) continue;
        printf("%-6s ss/%-11s", bad || !agree ? "FAIL" : "PASS", files[i].stem);
        for (int e = 0; e < neng; e++) {
            char cell[40];
            if (per[e]) file_cell(&per[e][i], cell, sizeof cell);
            else snprintf(cell, sizeof cell, "skip");
            printf(" %-18s", cell);
        }
        printf("\n");
        if (!agree) printf("       engines differ: %s\n", differ);
    }

    report_prop(rep, "suite", "singlesteptests-80286");
    report_prop(rep, "path", "%s", o.path);
    {
        char el[64] = "";
        for (int e = 0; e < neng; e++) { strcat(el, e ? "," : ""); strcat(el, engines[e]); }
        report_prop(rep, "engines", "%s", el);
    }
    report_set_seconds(rep, secs);
    uint32_t sum[3] = { 0 };
    for (int e = 0; e < neng; e++) {
        if (!per[e]) continue;
        char k[96];
        const struct ss_total *t = &tot[e];
        snprintf(k, sizeof k, "%s.vectors", engines[e]); report_prop_num(rep, k, t->vectors);
        snprintf(k, sizeof k, "%s.passed", engines[e]); report_prop_num(rep, k, t->passed);
        snprintf(k, sizeof k, "%s.failed", engines[e]); report_prop_num(rep, k, t->failed);
        snprintf(k, sizeof k, "%s.excluded", engines[e]); report_prop_num(rep, k, t->excluded);
        snprintf(k, sizeof k, "%s.passed_lock_replaced", engines[e]); report_prop_num(rep, k, t->unlocked);
        snprintf(k, sizeof k, "%s.file_errors", engines[e]); report_prop_num(rep, k, t->file_errors);
        for (int r = 0; r <= SS_NRULES; r++)
            if (t->by_rule[r]) {
                snprintf(k, sizeof k, "%s.excluded_by_rule.%s", engines[e], rule_id(r));
                report_prop_num(rep, k, t->by_rule[r]);
            }
        sum[0] += t->passed; sum[1] += t->failed; sum[2] += t->excluded;
        if (o.json) continue;
        for (int r = 0; r <= SS_NRULES; r++)
            if (t->by_rule[r])
                printf("%s%sexcluded by rule %s: %u vector%s%s%s\n", all_engines ? engines[e] : "",
                       all_engines ? ": " : "", rule_id(r), t->by_rule[r], t->by_rule[r] == 1 ? "" : "s",
                       o.verbose ? " - " : "",
                       o.verbose ? (r == SS_RULE_REVOKED ? "listed in the suite's revocation_list.txt"
                                                        : ss_rules[r].reason) : "");
        if (t->unlocked)
            printf("%s%srule lock-ud: %u vectors passed when run again with LOCK replaced "
                   "(the engine raised #UD on them as a P6 does)\n", all_engines ? engines[e] : "",
                   all_engines ? ": " : "", t->unlocked);
        if (t->file_errors) printf("%s%s%u file(s) could not be read or run to the end\n",
                                   all_engines ? engines[e] : "", all_engines ? ": " : "", t->file_errors);
        if (all_engines)
            printf("engine %s: %u passed, %u failed, %u excluded\n", engines[e], t->passed, t->failed, t->excluded);
    }
    if (o.json) report_write_json(rep, stdout);
    else if (all_engines) printf("%u passed, %u failed, %u excluded (vectors, %d engine%s)\n", sum[0], sum[1], sum[2],
                                 nran, nran == 1 ? "" : "s");
    else if (nran) printf("%u passed, %u failed, %u excluded\n", sum[0], sum[1], sum[2]);
    if (o.junit && report_write_junit(rep, o.junit, err, sizeof err)) {
        cli_error("singlestep: %s", err);
        status = 2;
        goto out;
    }
    status = fail ? 1 : 0;
out:
    if (tmpl_ok) cpu_free(&c->tmpl);      /* c->cpu shares its allocations */
    if (c->stmpl_ok) cpu_free(&c->stmpl);  /* so does c->scpu */
    if (c->smem) mem_free(c->smem);
    if (c->mem) mem_free(c->mem);
    if (c->bus) bus_free(c->bus);
    if (c->expv) munmap(c->expv, SS_RAM_SIZE);
    if (c->mark) munmap(c->mark, SS_RAM_SIZE);
    free(c->revoked);
    if (c->have_md) moo_metadata_free(&c->md);
    free(c);
    for (int e = 0; e < SS_NENGINES; e++) free(per[e]);
    report_free(rep);
    free(files);
    return status;
}

/* tests/unit/test_fuzzgen.c - the instruction-sequence generator of
 * `bt86 test diff` (monitor/fuzzgen.c): determinism, well-formed bytes,
 * memory confined to the data area (checked on the interpreter and, where it
 * can run, on the real CPU), forward branches, the undefined-flag rules.
 */
#include "test.h"
#include "monitor/fuzzgen.h"
#include "monitor/hostcpu.h"
#include "cpu/interp_priv.h"
#include "cpu/decode.h"
#include "mem/mem.h"
#include <stdlib.h>
#include <string.h>

#define DBASE 0x1000u
#define DSIZE 0x4000u
#define CODE  0x80000u               /* interpreter runs: code address */

static struct fuzz_cfg cfg(void)
{
    struct fuzz_cfg c;
    fuzzgen_default_cfg(&c, DBASE, DSIZE);
    return c;
}

static void test_deterministic(void)
{
    struct fuzz_cfg c = cfg();
    static struct fuzz_case a, b;
    static uint8_t da[DSIZE], db[DSIZE];
    for (uint64_t s = 1; s < 300; s++) {
        fuzzgen_case(&c, s * 7919, &a, da);
        fuzzgen_case(&c, s * 7919, &b, db);
        EXPECT(!memcmp(&a, &b, sizeof a));
        EXPECT(!memcmp(da, db, DSIZE));
    }
    /* --no-ac changes flags only, never the instruction stream */
    struct fuzz_cfg n = c;
    n.allow_ac = false;
    int same = 0;
    for (uint64_t s = 1; s < 300; s++) {
        fuzzgen_case(&c, s, &a, NULL);
        fuzzgen_case(&n, s, &b, NULL);
        same += a.ngroups == b.ngroups && !memcmp(a.r, b.r, sizeof a.r);
        EXPECT(!(b.eflags & FL_AC));
    }
    EXPECT_EQ(same, 299);
    EXPECT_EQ(fuzzgen_case_seed(12345, 0), 12345);
    EXPECT(fuzzgen_case_seed(12345, 1) != fuzzgen_case_seed(12345, 2));
    EXPECT(fuzzgen_row_count() > 200);
}

/* Every byte decodes as setup MOVs followed by the main instruction; branch
 * fields point forward inside the code; prefixes cover 66/67/F0. */
static void test_well_formed(void)
{
    struct fuzz_cfg c = cfg();
    static struct fuzz_case fc;
    uint8_t code[4096];
    uint32_t off[FUZZ_MAX_GROUPS + 1];
    unsigned seen66 = 0, seen67mem = 0, seenlock = 0, branches = 0, bad = 0;
    static uint8_t ops[OP_COUNT + 1];
    for (uint64_t s = 0; s < 20000; s++) {
        fuzzgen_case(&c, fuzzgen_case_seed(77, s), &fc, NULL);
        size_t len = fuzzgen_assemble(&fc, CODE, code, sizeof code, off);
        if (!len) { bad++; continue; }
        for (int g = 0; g < fc.ngroups; g++) {
            const struct fuzz_group *gr = &fc.g[g];
            ops[gr->op <= OP_COUNT ? gr->op : OP_COUNT] = 1;
            size_t p = off[g];
            while (p < off[g] + gr->main_off) {        /* setup: MOV/PUSH only */
                struct insn in;
                if (decode(&in, code + p, len - p, DECODE_32) != DECODE_OK) { bad++; break; }
                const char *h = optab[in.op].handler;
                /* self-modifying loops have their body before the LOOP */
                if (strcmp(h, "mov") && strcmp(h, "push") && gr->reloc != FUZZ_SELF32 && gr->op != OP_LOOP) bad++;
                p += in.len;
            }
            if (p != off[g] + gr->main_off) bad++;
            struct insn in;
            int d = decode(&in, code + p, len - p, DECODE_32);
            if (d == DECODE_OK) {
                if (p + in.len != off[g + 1]) bad++;
                if (in.pfx66) seen66++;
                if (in.pfx67 && in.has_modrm && in.mod != 3) seen67mem++;
                if (in.lock) seenlock++;
                if (optab[in.op].attrs & A_BRANCH) {
                    if (in.opnd[0].kind == OPND_REL && gr->reloc != FUZZ_SELF32 && !(in.op == OP_LOOP && (int32_t)in.imm < 0)) {
                        uint32_t t = (uint32_t)(p + in.len) + in.imm;
                        bool ok = false;
                        for (int k = g + 1; k <= fc.ngroups; k++) ok |= (t == off[k]);
                        if (!ok) bad++;
                    }
                    branches++;
                }
            } else if (gr->op != OP_COUNT) {
                bad++;
            }
        }
    }
    EXPECT_EQ(bad, 0);
    EXPECT(seen66 > 1000);
    EXPECT(seen67mem > 100);
    EXPECT(seenlock > 100);
    EXPECT(branches > 1000);
    unsigned distinct = 0;
    for (unsigned i = 0; i < OP_COUNT; i++) distinct += ops[i];
    EXPECT(distinct > 230);
}

/* No main instruction reads a flag an earlier one left undefined. */
static void test_flag_rules(void)
{
    struct fuzz_cfg c = cfg();
    static struct fuzz_case fc;
    unsigned bad = 0, one_bit = 0;
    for (uint64_t s = 0; s < 20000; s++) {
        fuzzgen_case(&c, s, &fc, NULL);
        uint32_t poison = 0;
        for (int g = 0; g < fc.ngroups; g++) {
            if (fc.g[g].op < OP_COUNT && (optab[fc.g[g].op].fr & poison)) bad++;
            poison |= fc.g[g].fu;
        }
        if (fuzzgen_undef_at(&fc, fc.ngroups) & ~fuzzgen_undef_mask(&fc)) bad++;
        for (int g = 0; g < fc.ngroups; g++) {
            /* 1-bit shifts define OF (SDM vol. 2 SAL/SAR/SHL/SHR) */
            if (fc.g[g].op == OP_SHL_Ev1 || fc.g[g].op == OP_SAR_Eb1) {
                one_bit++;
                if ((fc.g[g].fu & FL_OF) || !(fc.g[g].fdef & FL_OF) || !(fc.g[g].fu & FL_AF)) bad++;
            }
            /* shifts by CL may shift by 0: nothing surely defined */
            if (fc.g[g].op == OP_SHL_EvCL && fc.g[g].fdef) bad++;
        }
    }
    EXPECT_EQ(bad, 0);
    EXPECT(one_bit > 20);
    /* the data flow: shl (OF AF undefined, count may be 0) then add */
    memset(&fc, 0, sizeof fc);
    fc.ngroups = 3;
    fc.g[0] = (struct fuzz_group){ .bytes = { 0xC1, 0xE0, 0x03 }, .len = 3, .op = OP_SHL_EvIb,
                                   .fu = FL_OF | FL_AF, .fdef = 0 };
    fc.g[1] = (struct fuzz_group){ .bytes = { 0x01, 0xC8 }, .len = 2, .op = OP_ADD_EvGv,
                                   .fu = 0, .fdef = FL_ARITH };
    fc.g[2] = (struct fuzz_group){ .bytes = { 0x90 }, .len = 1, .op = OP_NOP };
    EXPECT_EQ(fuzzgen_undef_at(&fc, 1), FL_OF | FL_AF);
    EXPECT_EQ(fuzzgen_undef_at(&fc, 3), 0);
    /* a jump over the add keeps them undefined at the end */
    fc.g[0] = (struct fuzz_group){ .bytes = { 0xC1, 0xE0, 0x03, 0xEB, 0x00 }, .len = 5, .op = OP_SHL_EvIb,
                                   .fu = FL_OF | FL_AF, .reloc = FUZZ_REL8, .reloc_off = 4,
                                   .reloc_end = 5, .target = 2 };
    EXPECT_EQ(fuzzgen_undef_at(&fc, 3), FL_OF | FL_AF);
    uint8_t code[64];
    EXPECT_EQ(fuzzgen_assemble(&fc, CODE, code, sizeof code, NULL), 8);
    EXPECT_EQ(code[4], 2);                               /* jmp over the add */
    fuzzgen_drop_group(&fc, 1);                          /* target moves down */
    EXPECT_EQ(fc.g[0].target, 1);
    EXPECT_EQ(fuzzgen_assemble(&fc, CODE, code, sizeof code, NULL), 6);
    EXPECT_EQ(code[4], 0);
}

/* Run cases in the interpreter with RAM outside the data area and the code
 * zero: nothing may be written outside the data area, and every case must
 * reach the end or stop at a fault. */
static void test_confined_interp(void)
{
    struct fuzz_cfg c = cfg();
    c.allow_ac = false;
    struct mem *m = mem_new(1 << 20);
    EXPECT(m != NULL);
    if (!m) return;
    uint8_t *ram = mem_ram(m);
    static struct cpu cpu;
    cpu_init(&cpu, m, NULL);
    static struct fuzz_case fc;
    static uint8_t data[DSIZE];
    uint8_t code[4096];
    unsigned stray = 0, runaway = 0, ended = 0;
    for (uint64_t s = 0; s < 3000; s++) {
        fuzzgen_case(&c, fuzzgen_case_seed(5, s), &fc, data);
        size_t len = fuzzgen_assemble(&fc, CODE, code, sizeof code, NULL);
        memcpy(ram + DBASE, data, DSIZE);
        memcpy(ram + CODE, code, len);
        cpu_reset(&cpu);
        static const struct seg flat_c = { 0x23, 0, 0xffffffffu, 0xfb | AR_DB | AR_G };
        static const struct seg flat_d = { 0x2b, 0, 0xffffffffu, 0xf3 | AR_DB | AR_G };
        for (int i = 0; i < 6; i++) cpu.seg[i] = flat_d;
        cpu.seg[SEG_CS] = flat_c;
        memcpy(cpu.r, fc.r, sizeof cpu.r);
        cpu.eflags = fc.eflags | 0x202;
        cpu.eip = CODE;
        cpu.cr[0] |= CR0_PE;
        cpu.cpl = 3;
        /* Linux's TSS: I/O map base beyond the limit, so port I/O faults */
        cpu.tr = (struct seg){ .sel = 0x40, .base = 0x800, .limit = 0x67, .ar = 0x8B };
        ram[0x866] = ram[0x867] = 0xFF;
        cpu_tlb_flush(&cpu);
        int steps = 0;
        while (cpu.eip != CODE + len && steps++ < 10000)
            if (interp_step(&cpu) != EXC_NONE) break;
        if (cpu.eip == CODE + len) ended++;
        if (steps >= 10000) runaway++;
        for (uint32_t a = 0; a < (1u << 20); a += 8) {
            if (a == 0x860) a = 0x868;
            if (a == DBASE) a = DBASE + DSIZE;
            if (a == CODE) a = CODE + 4096;
            uint64_t v;
            memcpy(&v, ram + a, 8);
            if (v) { stray++; memset(ram + a, 0, 8); }
        }
        memset(ram + CODE, 0, 4096);
    }
    EXPECT_EQ(stray, 0);
    EXPECT_EQ(runaway, 0);
    EXPECT(ended > 2000);
    cpu_free(&cpu);
    mem_free(m);
}

/* The same contract on the real CPU: no #PF (a stray access), no timeout. */
static void test_confined_host(void)
{
    char why[200];
    struct hostcpu *hc = hostcpu_new(DBASE, DSIZE, why, sizeof why);
    EXPECT(hc != NULL);
    if (!hc) return;
    hostcpu_set_timeout(hc, 200000);
    struct fuzz_cfg c = cfg();
    static struct fuzz_case fc;
    uint8_t code[4096];
    unsigned pf = 0, timeout = 0, ran = 0, faults = 0;
    for (uint64_t s = 0; s < 5000; s++) {
        fuzzgen_case(&c, fuzzgen_case_seed(9, s), &fc, hostcpu_data(hc));
        size_t len = fuzzgen_assemble(&fc, hostcpu_code_base(hc), code, sizeof code, NULL);
        struct host_state in;
        struct host_result res;
        memcpy(in.r, fc.r, sizeof in.r);
        in.eflags = fc.eflags;
        if (hostcpu_run(hc, code, len, &in, &res) != 0) { timeout++; continue; }
        if (res.exc == EXC_PF || res.exc == EXC_SS) pf++;
        else if (res.exc == HOSTCPU_EXC_TIMEOUT) timeout++;
        else if (res.exc == HOSTCPU_EXC_NONE) ran++;
        else faults++;
        if (res.exc == EXC_PF) printf("  seed %llu: #PF at +%u addr %08x\n",
                                      (unsigned long long)fc.seed, res.fault_eip_offset, res.fault_addr);
    }
    EXPECT_EQ(pf, 0);
    EXPECT_EQ(timeout, 0);
    EXPECT(ran > 3500);
    EXPECT(faults > 100);                               /* #DE #BR #UD #GP #AC happen */
    hostcpu_free(hc);
}

int main(void)
{
    RUN(test_deterministic);
    RUN(test_well_formed);
    RUN(test_flag_rules);
    RUN(test_confined_interp);
    char why[200];
    if (hostcpu_available(why, sizeof why)) RUN(test_confined_host);
    else SKIP(test_confined_host, why);
    return test_summary();
}

/* tests/unit/test_capstone.c - the decoder cross-checked against capstone 4.
 *
 * (i) a linear sweep through the .text of a real i386 program, Debian's
 *     busybox-static:i386 (fetched and cached by tests/decoder/fetch-busybox.sh
 *     into $BT86_BUILD/cache; SKIP with the reason when it cannot be had);
 * (ii) 1,000,000 random byte strings in 16-bit and in 32-bit mode each
 *     (xorshift64, fixed seed: reproducible); capstone sees 15 bytes, our
 *     decoder 32 (so its fast path runs; the 15-byte limit applies anyway).
 * Compared where both decoders accept the bytes and our row is an instruction
 * the model implements (no feature bit): length and mnemonic. Every remaining
 * difference is either a decoder bug (FAIL) or one of the capstone 4 defects
 * listed in cs_known_defect() with its reason. Counts are printed.
 * CAPSTONE_VERBOSE=1 prints every disagreement.
 */
#include "tests/unit/test.h"
#include "cpu/decode.h"
#include "monitor/elf32.h"
#include <capstone/capstone.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>

struct stats {
    long total;          /* byte strings / positions tried                  */
    long compared;       /* both decoded, our row implemented               */
    long agreed;         /* length and mnemonic agree                       */
    long known;          /* differences explained by cs_known_defect()     */
    long ours_ud_cs_ok;  /* we say #UD, capstone decodes (feature/absent)   */
    long ours_feature;   /* we decode a feature row (MMX/SSE: #UD on our CPU) */
    long cs_bad_ours_ok; /* capstone rejects, we decode an implemented insn */
    long both_bad;       /* neither decodes                                 */
    long bad;            /* unexplained disagreements                       */
};

static int verbose;

/* The mnemonic word of our disassembly, without lock/rep prefixes. */
static void our_mnemonic(const struct insn *in, char *out, size_t n)
{
    char text[128];
    disasm_format(in, 0, text, sizeof text);
    char *p = text;
    for (;;) {
        if (!strncmp(p, "lock ", 5)) p += 5;
        else if (!strncmp(p, "rep ", 4)) p += 4;
        else if (!strncmp(p, "repe ", 5)) p += 5;
        else if (!strncmp(p, "repne ", 6)) p += 6;
        else break;
    }
    size_t k = strcspn(p, " ");
    if (k >= n) k = n - 1;
    memcpy(out, p, k);
    out[k] = 0;
}

/* capstone 4 puts prefixes into the mnemonic ("rep stosd", "lock add") */
static const char *cs_base_mnemonic(const char *m)
{
    static const char *const pf[] = { "lock ", "rep ", "repe ", "repne ", "repz ", "repnz ",
                                      "bnd ", "notrack ", "xacquire ", "xrelease ", "data16 ", "addr16 ", "addr32 ", NULL };
    for (bool again = true; again;) {
        again = false;
        for (int i = 0; pf[i]; i++) {
            size_t l = strlen(pf[i]);
            if (!strncmp(m, pf[i], l)) { m += l; again = true; }
        }
    }
    return m;
}

/* Spellings that differ only by name: ours (SDM vol. 2) = capstone 4's. */
static bool same_name_str(const char *ours, const char *cs)
{
    static const char *const alias[][2] = {
        { "pushad", "pushal" }, { "popad", "popal" },   /* capstone's AT&T-style names */
        { "pushfw", "pushf" }, { "popfw", "popf" },     /* 16-bit forms: capstone omits the w */
        { "sal", "shl" },      /* C0-D3 /6: the SDM's SAL alias of SHL (/4) */
        /* reserved x87 aliases: same operation as the documented form (SDM vol. 2 A.4) */
        { "fxch4", "fxch" }, { "fxch7", "fxch" }, { "fcom2", "fcom" }, { "fcomp3", "fcomp" },
        { "fcomp5", "fcomp" }, { "fstp8", "fstp" }, { "fstp9", "fstp" }, { "fstp1", "fstpnce" },
        /* 8087/287 leftovers that a 387+ runs as FNOP; capstone 4's names */
        { "fnsetpm", "fsetpm" }, { "fneni", "feni8087_nop" }, { "fndisi", "fdisi8087_nop" },
        { NULL, NULL }
    };
    if (!strcmp(ours, cs)) return true;
    for (int i = 0; alias[i][0]; i++)
        if (!strcmp(ours, alias[i][0]) && !strcmp(cs, alias[i][1])) return true;
    return false;
}

static bool same_name(const struct insn *in, const char *ours, const char *cs)
{
    /* far CALL/JMP: capstone 4 spells them lcall/ljmp even in Intel syntax */
    const char *h = optab[in->op].handler;
    if (!strcmp(h, "callf") && !strcmp(cs, "lcall")) return true;
    if (!strcmp(h, "jmpf") && !strcmp(cs, "ljmp")) return true;
    return same_name_str(ours, cs);
}

/* Known capstone 4 defects and P6-vs-modern differences, each with its
 * reason. Returns the reason or NULL. `cs_len`/`cs_mn` are capstone's, the
 * insn ours (decoded OK, implemented row). */
static const char *cs_known_defect(const struct insn *in, const uint8_t *b, unsigned cs_len,
                                   const char *ours, const char *cs)
{
    const struct opinfo *r = &optab[in->op];
    /* 0F 18-1F are hint NOPs with ModRM on a P6 (SDM vol. 2 NOP / table A-3);
     * capstone names the later meanings: prefetch*, nop, endbr, bnd*, ... */
    if (r->map == 1 && r->opc >= 0x18 && r->opc <= 0x1F && cs_len == in->len) return "0F 18-1F hint NOP space";
    /* F3 0F BC/BD: TZCNT/LZCNT on BMI/ABM CPUs, BSF/BSR (F3 ignored) on a P6 */
    if ((!strcmp(cs, "tzcnt") && !strcmp(ours, "bsf")) || (!strcmp(cs, "lzcnt") && !strcmp(ours, "bsr")))
        return cs_len == in->len ? "TZCNT/LZCNT run as BSF/BSR on a P6" : NULL;
    /* UD1 (0F B9) and UD0 (0F FF) take a ModRM byte (SDM vol. 2 UD, Intel;
     * iced agrees); capstone 4 decodes them as 2-byte "ud2b"/"ud0". Both
     * raise #UD, so only the reported length differs. */
    if ((!strcmp(ours, "ud1") && !strcmp(cs, "ud2b")) || (!strcmp(ours, "ud0") && !strcmp(cs, "ud0")))
        return "capstone 4 decodes UD1/UD0 without their ModRM";
    /* F3 90 is PAUSE whatever other prefixes come with it; capstone 4 prints
     * "nop" in 16-bit mode and with a 66 prefix (PAUSE is a NOP hint) */
    if (!strcmp(ours, "pause") && !strcmp(cs, "nop") && cs_len == in->len)
        return "capstone 4 names F3 90 nop in 16-bit mode or with 66";
    /* capstone 4 loses a 66 prefix that is followed by F2/F3, and a 67
     * prefix followed by a segment prefix (e.g. 66 F3 9C is pushfw: SDM vol. 2
     * sec. 2.1.1, prefixes in any order; capstone says pushfd). Known when
     * capstone's name is our row's other operand/address-size spelling and
     * such a prefix pair is present. */
    const char *bar = strchr(r->mnem, '|');
    if (bar && cs_len == in->len && (in->pfx66 || in->pfx67)) {
        char alt[32];
        bool first = !strcmp(ours, bar + 1);   /* ours is the 32-bit spelling */
        if (first) snprintf(alt, sizeof alt, "%.*s", (int)(bar - r->mnem), r->mnem);
        else snprintf(alt, sizeof alt, "%s", bar + 1);
        bool pair = false;
        for (unsigned i = 0; i + 1 < in->npfx; i++)
            if ((b[i] == 0x66 && (b[i + 1] == 0xF2 || b[i + 1] == 0xF3 || b[i + 1] == 0xF0)) ||
                (b[i] == 0x67 && (b[i + 1] == 0x26 || b[i + 1] == 0x2E || b[i + 1] == 0x36 || b[i + 1] == 0x3E ||
                                  b[i + 1] == 0x64 || b[i + 1] == 0x65 || b[i + 1] == 0xF2 || b[i + 1] == 0xF3 || b[i + 1] == 0xF0)))
                pair = true;
        if (pair && same_name_str(alt, cs)) return "capstone 4 loses a 66/67 prefix followed by another prefix";
    }
    /* capstone 4 names 98/99 cwde/cdq in 16-bit mode whatever the operand
     * size (its 16-bit tables reuse the 32-bit names); the length agrees */
    if (cs_len == in->len && ((!strcmp(ours, "cbw") && !strcmp(cs, "cwde")) || (!strcmp(ours, "cwd") && !strcmp(cs, "cdq"))))
        return "capstone 4 names cbw/cwd by the 32-bit spelling in 16-bit mode";
    return NULL;
}

/* Is capstone's mnemonic one our table spells (any row, either size)? */
static bool our_table_has(const char *cs)
{
    for (unsigned op = 0; op < OP_COUNT; op++) {
        if (optab[op].attrs & A_FEATURES) continue;
        const char *m = optab[op].mnem, *bar = strchr(m, '|');
        char a[32], b2[32];
        if (bar) {
            snprintf(a, sizeof a, "%.*s", (int)(bar - m), m);
            snprintf(b2, sizeof b2, "%s", bar + 1);
        } else { snprintf(a, sizeof a, "%s", m); b2[0] = 0; }
        if (same_name_str(a, cs) || (b2[0] && same_name_str(b2, cs))) return true;
    }
    return false;
}

/* We say #UD/#GP where capstone decodes: explained when the CPU faults
 * (LOCK on a form that cannot take it, MOV CS: SDM vol. 2 LOCK, MOV) or the
 * instruction is one our table does not have (a feature absent from our
 * CPUID: SSE3+, VMX, SYSCALL, 3DNow!, AVX ...). */
static const char *ud_explained(const struct insn *in, int rc, const uint8_t *b, const cs_insn *ci)
{
    (void)b;
    if (in->lock) return "LOCK #UD (capstone 4 accepts any LOCK)";
    if (rc == DECODE_GP) return "longer than 15 bytes";
    const char *m = cs_base_mnemonic(ci->mnemonic);
    if (!strcmp(m, "mov") && !strncmp(ci->op_str, "cs,", 3)) return "MOV CS,r/m is #UD";
    if (!strcmp(m, "mov") && (strstr(ci->op_str, "cr1") || strstr(ci->op_str, "cr5") || strstr(ci->op_str, "cr6") ||
                              strstr(ci->op_str, "cr7")))
        return "CR1/CR5-CR7 are reserved: MOV #UD (SDM vol. 2 MOV-Move to/from Control Registers)";
    if (!our_table_has(m)) return "not a P6 instruction";
    return NULL;
}

static void compare(struct stats *s, csh cs, const uint8_t *b, size_t avail, unsigned mode, uint64_t addr,
                    unsigned *advance, cs_insn *ci)
{
    struct insn in;
    int rc = decode(&in, b, avail, mode);
    const uint8_t *code = b;
    size_t size = avail < 15 ? avail : 15;
    uint64_t a = addr;
    bool cs_ok = cs_disasm_iter(cs, &code, &size, &a, ci);
    s->total++;
    *advance = cs_ok ? ci->size : (rc == DECODE_OK ? in.len : 1);
    if (rc != DECODE_OK) {
        if (cs_ok && getenv("CAPSTONE_SHOW_UD") && s->ours_ud_cs_ok < 300)
            printf("  ours rc %d, capstone %u '%s %s' [%02x %02x %02x %02x %02x]\n", rc, ci->size, ci->mnemonic,
                   ci->op_str, b[0], b[1], b[2], b[3], b[4]);
        if (cs_ok) {
            s->ours_ud_cs_ok++;
            const char *why = ud_explained(&in, rc, b, ci);
            if (!why) {
                s->bad++;
                if (verbose || s->bad <= 20)
                    printf("  %s-bit: ours #UD (rc %d), capstone %u '%s %s' [%02x %02x %02x %02x]\n",
                           mode == DECODE_32 ? "32" : "16", rc, ci->size, ci->mnemonic, ci->op_str, b[0], b[1], b[2], b[3]);
            }
        } else s->both_bad++;
        return;
    }
    if (optab[in.op].attrs & A_FEATURES) { s->ours_feature++; return; }
    if (!cs_ok) {
        if (getenv("CAPSTONE_SHOW_UD") && s->cs_bad_ours_ok < 100) {
            char text[128];
            disasm_format(&in, 0, text, sizeof text);
            printf("  capstone rejects; ours %u '%s' [%02x %02x %02x %02x %02x]\n", in.len, text, b[0], b[1], b[2], b[3], b[4]);
        }
        s->cs_bad_ours_ok++;
        return;
    }
    s->compared++;
    char ours[32];
    our_mnemonic(&in, ours, sizeof ours);
    const char *csm = cs_base_mnemonic(ci->mnemonic);
    if (ci->size == in.len && same_name(&in, ours, csm)) { s->agreed++; return; }
    const char *why = cs_known_defect(&in, b, ci->size, ours, csm);
    if (why) { s->known++; return; }
    s->bad++;
    if (verbose || s->bad <= 20) {
        char hex[64] = "";
        size_t n = in.len > ci->size ? in.len : ci->size;
        for (size_t i = 0; i < n && i < 15 && i < avail; i++) snprintf(hex + 3 * i, 4, "%02x ", b[i]);
        char text[128];
        disasm_format(&in, (uint32_t)addr, text, sizeof text);
        printf("  %s-bit @0x%llx: %s| ours %u '%s' (%s), capstone %u '%s %s'\n", mode == DECODE_32 ? "32" : "16",
               (unsigned long long)addr, hex, in.len, text, optab[in.op].name, ci->size, ci->mnemonic, ci->op_str);
    }
}

static void print_stats(const char *what, const struct stats *s)
{
    printf("  %s: %ld tried, %ld compared (both decode, implemented), %ld agree, %ld known capstone/P6 "
           "differences, %ld disagree; not compared: %ld ours #UD but capstone decodes, %ld MMX/SSE "
           "feature rows (#UD on our CPUID), %ld capstone rejects but we decode, %ld neither decodes\n",
           what, s->total, s->compared, s->agreed, s->known, s->bad, s->ours_ud_cs_ok, s->ours_feature,
           s->cs_bad_ours_ok, s->both_bad);
}

/* ---- (ii) random byte strings ---- */

static uint64_t rng_state;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}

static void test_random(unsigned mode, long count)
{
    csh cs;
    if (cs_open(CS_ARCH_X86, mode == DECODE_32 ? CS_MODE_32 : CS_MODE_16, &cs) != CS_ERR_OK) {
        printf("FAIL capstone_random_%s: cs_open failed\n", mode == DECODE_32 ? "32" : "16");
        test_failed_tests_++;
        return;
    }
    cs_insn *ci = cs_malloc(cs);
    struct stats s = { 0 };
    rng_state = 0x9E3779B97F4A7C15ull ^ mode;
    uint8_t b[32];
    for (long i = 0; i < count; i++) {
        for (int k = 0; k < 32; k += 8) {
            uint64_t r = rng();
            memcpy(b + k, &r, 8);
        }
        unsigned adv;
        /* 32 readable bytes: decode() takes its fast path where it can */
        compare(&s, cs, b, 32, mode, 0x1000, &adv, ci);
    }
    cs_free(ci, 1);
    cs_close(&cs);
    char what[64];
    snprintf(what, sizeof what, "random %s-bit", mode == DECODE_32 ? "32" : "16");
    print_stats(what, &s);
    bool ok = s.bad == 0 && s.compared > count / 4;
    printf("%s capstone_random_%s\n", ok ? "PASS" : "FAIL", mode == DECODE_32 ? "32" : "16");
    if (!ok) test_failed_tests_++;
    fflush(stdout);
}

/* ---- (i) busybox .text ---- */


static void test_busybox(void)
{
    const char *build = getenv("BT86_BUILD");
    const char *root = getenv("BT86_ROOT");
    char cmd[2048], path[1024] = "";
    snprintf(cmd, sizeof cmd, "sh '%s/tests/decoder/fetch-busybox.sh' '%s/cache' 2>&1",
             root ? root : ".", build ? build : "build");
    FILE *p = popen(cmd, "r");
    char line[1024];
    char last[1024] = "";
    while (p && fgets(line, sizeof line, p)) { line[strcspn(line, "\n")] = 0; snprintf(last, sizeof last, "%s", line); }
    int st = p ? pclose(p) : -1;
    if (st != 0) { printf("SKIP capstone_busybox: busybox-static:i386 unavailable: %s\n", last); return; }
    snprintf(path, sizeof path, "%s", last);
    char err[1200];
    size_t len;
    uint32_t base;
    uint8_t *text = elf32_section(path, ".text", &len, &base, err, sizeof err);
    if (!text) { printf("FAIL capstone_busybox: %s\n", err); test_failed_tests_++; return; }
    csh cs;
    if (cs_open(CS_ARCH_X86, CS_MODE_32, &cs) != CS_ERR_OK) { printf("FAIL capstone_busybox: cs_open\n"); test_failed_tests_++; free(text); return; }
    cs_insn *ci = cs_malloc(cs);
    struct stats s = { 0 };
    for (size_t off = 0; off < len;) {
        unsigned adv;
        size_t avail = len - off;
        compare(&s, cs, text + off, avail, DECODE_32, base + off, &adv, ci);
        off += adv ? adv : 1;
    }
    cs_free(ci, 1);
    cs_close(&cs);
    char what[1200];
    snprintf(what, sizeof what, "busybox .text (%zu bytes at 0x%x, linear sweep)", len, base);
    print_stats(what, &s);
    bool ok = s.bad == 0 && s.compared > 100000;
    printf("%s capstone_busybox\n", ok ? "PASS" : "FAIL");
    if (!ok) test_failed_tests_++;
    free(text);
}

int main(void)
{
    verbose = getenv("CAPSTONE_VERBOSE") != NULL;
    (void)test_failures_;
    decode_init();
    test_busybox();
    test_random(DECODE_32, 1000000);
    test_random(DECODE_16, 1000000);
    return test_summary();
}

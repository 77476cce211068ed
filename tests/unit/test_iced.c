/* tests/unit/test_iced.c - the decoder against iced's decoder test vectors.
 *
 * Reads ../shared/testdata/iced-decoder/{DecoderTest,DecoderTestMisc,
 * MemoryTest}{16,32}.txt (MIT, see SOURCE.txt there) and checks every row:
 *  - rows whose instruction our P6 model implements: validity, length,
 *    immediate/displacement sizes and every operand (registers, memory
 *    segment/base/index/scale/displacement/size, immediates, branch targets,
 *    far pointers, string operands) must agree;
 *  - rows of features our CPUID says are absent must decode as #UD
 *    (DECODE_UD/GP, or DECODE_OK on a row carrying a feature bit);
 *  - INVALID rows must not decode (err=NoMoreBytes rows give DECODE_MORE).
 * Each iced Code name is put in one class by the lists in classify() below,
 * each with its reason. One PASS/FAIL line per file, with counts.
 * The environment variable BT86_SHARED names the shared/ directory
 * (tests/run.sh sets it); ICED_VERBOSE=1 prints every disagreement.
 */
#include "tests/unit/test.h"
#include "cpu/decode.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <stdbool.h>

enum cls {
    CL_IMPL,      /* the model implements it: everything must agree             */
    CL_HINTNOP,   /* 0F 18-1F: a hint NOP with ModRM on a P6 (length + memory)   */
    CL_P6ALIAS,   /* later meaning of an encoding a P6 runs as something else   */
    CL_ABSENT,    /* feature absent from our CPUID: must be #UD                  */
};

/* ---- classification of iced Code names ---- */

static bool starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* The Code's instruction name: the part before the first '_' ("Add_rm8_r8" -> "Add"). */
static void code_base(const char *code, char *out, size_t n)
{
    size_t i = 0;
    while (code[i] && code[i] != '_' && i + 1 < n) { out[i] = code[i]; i++; }
    out[i] = 0;
}

/* Integer, system and x87 instructions of a Pentium II (SDM vol. 2; P6 family),
 * by iced Code base name. Anything not here and not in the hint-NOP space is a
 * later or other-vendor extension, which our CPUID does not advertise. */
static const char *const p6_impl[] = {
    "Aaa", "Aad", "Aam", "Aas", "Adc", "Add", "And", "Arpl", "Bound", "Bsf", "Bsr", "Bswap",
    "Bt", "Btc", "Btr", "Bts", "Call", "Cbw", "Cdq", "Clc", "Cld", "Cli", "Clts", "Cmc",
    "Cmova", "Cmovae", "Cmovb", "Cmovbe", "Cmove", "Cmovg", "Cmovge", "Cmovl", "Cmovle",
    "Cmovne", "Cmovno", "Cmovnp", "Cmovns", "Cmovo", "Cmovp", "Cmovs", "Cmp", "Cmpsb",
    "Cmpsw", "Cmpxchg", "Cmpxchg8b", "Cpuid", "Cwd", "Cwde", "Daa", "Das", "Dec", "Div",
    "Enterd", "Enterw", "Hlt", "Idiv", "Imul", "In", "Inc", "Insb", "Insd", "Insw", "Int",
    "Int1", "Int3", "Into", "Invd", "Invlpg", "Iretd", "Iretw", "Ja", "Jae", "Jb", "Jbe",
    "Jcxz", "Je", "Jecxz", "Jg", "Jge", "Jl", "Jle", "Jmp", "Jne", "Jno", "Jnp", "Jns", "Jo",
    "Jp", "Js", "Lahf", "Lar", "Lds", "Lea", "Leaved", "Leavew", "Les", "Lfs", "Lgdt", "Lgs",
    "Lidt", "Lldt", "Lmsw", "Lodsb", "Lodsd", "Lodsw", "Loop", "Loope", "Loopne", "Lsl",
    "Lss", "Ltr", "Mov", "Movsb", "Movsw", "Movsx", "Movzx", "Mul", "Neg", "Nopd", "Nopw",
    "Not", "Or", "Out", "Outsb", "Outsd", "Outsw", "Pause", "Pop", "Popad", "Popaw", "Popd",
    "Popfd", "Popfw", "Popw", "Push", "Pushad", "Pushaw", "Pushd", "Pushfd", "Pushfw",
    "Pushw", "Rcl", "Rcr", "Rdmsr", "Rdpmc", "Rdtsc", "Retfd", "Retfw", "Retnd", "Retnw",
    "Rol", "Ror", "Rsm", "Sahf", "Sal", "Salc", "Sar", "Sbb", "Scasb", "Scasd", "Scasw",
    "Seta", "Setae", "Setb", "Setbe", "Sete", "Setg", "Setge", "Setl", "Setle", "Setne",
    "Setno", "Setnp", "Setns", "Seto", "Setp", "Sets", "Sgdt", "Shl", "Shld", "Shr", "Shrd",
    "Sidt", "Sldt", "Smsw", "Stc", "Std", "Sti", "Stosb", "Stosd", "Stosw", "Str", "Sub",
    "Sysenter", "Sysexitd", "Test", "Ud0", "Ud1", "Ud2", "Verr", "Verw", "Wait", "Wbinvd",
    "Wrmsr", "Xadd", "Xchg", "Xlat", "Xor", NULL
};

/* x87 names (F...) that are NOT part of a P6's x87: SSE3's FISTTP, 3DNow!'s FEMMS,
 * FXSR's FXSAVE/FXRSTOR (absent from our CPUID). */
static const char *const x87_absent[] = { "Fisttp", "Femms", "Fxsave", "Fxrstor", NULL };

static bool in_list(const char *const *l, const char *s)
{
    for (; *l; l++) if (!strcmp(*l, s)) return true;
    return false;
}

/* Opcode of an encoding (no VEX): skip legacy prefixes, then 0F xx -> 0x100|xx. */
static unsigned opcode_of(const uint8_t *b, size_t n)
{
    size_t i = 0;
    while (i < n && (b[i] == 0x66 || b[i] == 0x67 || b[i] == 0xF0 || b[i] == 0xF2 || b[i] == 0xF3 ||
                     b[i] == 0x26 || b[i] == 0x2E || b[i] == 0x36 || b[i] == 0x3E || b[i] == 0x64 || b[i] == 0x65))
        i++;
    if (i >= n) return 0xFFFF;
    if (b[i] == 0x0F) return i + 1 < n ? 0x100u | b[i + 1] : 0xFFFF;
    return b[i];
}

static enum cls classify(const char *code, const uint8_t *b, size_t n, const char **why)
{
    char base[64];
    code_base(code, base, sizeof base);
    /* Vector encodings (AVX/AVX-512/XOP) and 3DNow!: not in a P6; in 16/32-bit
     * code their C4/C5/62/8F bytes are LES/LDS/BOUND with mod=3 or POP Ev /r!=0,
     * all #UD on a P6. */
    if (starts(code, "VEX_") || starts(code, "EVEX_") || starts(code, "XOP_") || starts(code, "MVEX_")) {
        *why = "AVX/AVX-512/XOP: no VEX/EVEX/XOP on a P6"; return CL_ABSENT;
    }
    if (starts(code, "D3NOW_") || !strcmp(base, "Femms")) { *why = "3DNow!: AMD only"; return CL_ABSENT; }
    /* 0F 18-1F (prefetch, CET endbr/rdssp, MPX bnd*, cldemote, reserved NOPs):
     * on a P6 the whole block executes as NOP Ev (SDM vol. 2 table A-3 note,
     * "NOP" with ModRM); the decoder must agree on length and memory operand. */
    unsigned opc = opcode_of(b, n);
    if (opc >= 0x118 && opc <= 0x11F) { *why = "0F 18-1F hint NOP space"; return CL_HINTNOP; }
    /* F3 0F BC/BD (TZCNT/LZCNT, BMI1/ABM) run as BSF/BSR on a CPU without them:
     * the F3 prefix is ignored (SDM vol. 2 TZCNT/LZCNT, "compatibility"). */
    if (!strcmp(base, "Tzcnt") || !strcmp(base, "Lzcnt")) { *why = "TZCNT/LZCNT are BSF/BSR on a P6"; return CL_P6ALIAS; }
    /* F3 0F 09 (WBNOINVD) executes as WBINVD where it is not supported
     * (SDM vol. 2 WBNOINVD: the F3 prefix is ignored by older processors). */
    if (!strcmp(base, "Wbnoinvd")) { *why = "WBNOINVD is WBINVD on a P6"; return CL_P6ALIAS; }
    if (base[0] == 'F' && !in_list(x87_absent, base)) { *why = "x87"; return CL_IMPL; }
    if (in_list(x87_absent, base)) { *why = "SSE3/FXSR x87 additions"; return CL_ABSENT; }
    /* the string forms of MOVSD/CMPSD are P6; the SSE2 forms carry xmm operands */
    if ((!strcmp(base, "Movsd") || !strcmp(base, "Cmpsd")) && !strstr(code, "xmm")) { *why = "string op"; return CL_IMPL; }
    if (in_list(p6_impl, base)) {
        /* MOV to/from test registers: 386/486 only (#UD on a P6) */
        if (!strcmp(base, "Mov") && strstr(code, "tr")) { *why = "MOV TRn: 386/486 only"; return CL_ABSENT; }
        *why = "P6 integer/system"; return CL_IMPL;
    }
    /* everything else: MMX (absent from our CPUID for now), SSE..SSE4, AES,
     * SHA, later integer extensions (MOVBE, POPCNT, CRC32, ADX, BMI, RDRAND,
     * RDTSCP, ...), VMX/SVM/SMX/SGX, CET, TSX, XSAVE, SYSCALL (AMD), VIA
     * PadLock, Cyrix/AMD-only opcodes, 286/386-only opcodes. */
    *why = "feature not in our CPUID (MMX/SSE+/later extensions/other vendors)";
    return CL_ABSENT;
}

/* ---- row parsing ---- */

struct counts {
    int rows, checked, agreed, ud_ok, invalid_ok, more_ok, skipped_decopt, skipped_other, bad;
    int hint_ok, alias_ok, ud_len_differs;
};

static int verbose;

static int parse_hex(const char *s, uint8_t *out, int max)
{
    int n = 0, hi = -1;
    for (; *s; s++) {
        if (isspace((unsigned char)*s)) continue;
        if (!isxdigit((unsigned char)*s)) return -1;
        int v = isdigit((unsigned char)*s) ? *s - '0' : (tolower((unsigned char)*s) - 'a' + 10);
        if (hi < 0) hi = v;
        else { if (n >= max) return -1; out[n++] = (uint8_t)(hi << 4 | v); hi = -1; }
    }
    return hi < 0 ? n : -1;
}

/* split "a, b, c" at ", " into at most max fields (in place) */
static int split_comma(char *line, char **f, int max)
{
    int n = 0;
    f[n++] = line;
    for (char *p = line; *p && n < max; p++) {
        if (p[0] == ',' && (p[1] == ' ' || p[1] == 0)) {
            *p = 0;
            f[n++] = p[1] ? p + 2 : p + 1;
        }
    }
    return n;
}

static unsigned long long num(const char *s) { return strtoull(s, NULL, 0); }

static const char *const r8n[8] = { "al", "cl", "dl", "bl", "ah", "ch", "dh", "bh" };
static const char *const r16n[8] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di" };
static const char *const r32n[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
static const char *const segn[8] = { "es", "cs", "ss", "ds", "fs", "gs", "?", "none" };

/* our register operand as iced names it */
static void reg_text(const struct insn_opnd *o, char *buf, size_t n)
{
    switch (o->kind) {
    case OPND_GPR:
        snprintf(buf, n, "%s", o->size == 1 ? r8n[o->reg & 7] : o->size == 2 ? r16n[o->reg & 7] : r32n[o->reg & 7]);
        break;
    case OPND_SREG: snprintf(buf, n, "%s", segn[o->reg & 7]); break;
    case OPND_CR: snprintf(buf, n, "cr%u", o->reg); break;
    case OPND_DR: snprintf(buf, n, "dr%u", o->reg); break;
    case OPND_TR: snprintf(buf, n, "tr%u", o->reg); break;
    case OPND_ST: snprintf(buf, n, "st%u", o->reg); break;
    case OPND_MMX: snprintf(buf, n, "mm%u", o->reg); break;
    case OPND_XMM: snprintf(buf, n, "xmm%u", o->reg); break;
    default: snprintf(buf, n, "<kind%u>", o->kind); break;
    }
}

static const char *mreg(const struct insn *in, unsigned r)
{
    if (r == REG_NONE) return "";
    return in->addrsize == 2 ? r16n[r & 7] : r32n[r & 7];
}

/* iced memory-size name -> bytes; -1 when not a plain size we model */
static int iced_memsize(const char *s)
{
    static const struct { const char *n; int b; } t[] = {
        { "UInt8", 1 }, { "Int8", 1 }, { "UInt16", 2 }, { "Int16", 2 }, { "WordOffset", 2 },
        { "UInt32", 4 }, { "Int32", 4 }, { "Float32", 4 }, { "DwordOffset", 4 }, { "SegPtr16", 4 },
        { "UInt64", 8 }, { "Int64", 8 }, { "Float64", 8 }, { "SegPtr32", 6 }, { "Fword6", 6 },
        { "Float80", 10 }, { "Bcd", 10 }, { "FpuEnv14", 14 }, { "FpuEnv28", 28 },
        { "FpuState94", 94 }, { "FpuState108", 108 }, { "Bound16_WordWord", 4 },
        { "Bound32_DwordDword", 8 }, { "Tword", 10 }, { "Unknown", 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) if (!strcmp(t[i].n, s)) return t[i].b;
    return -1;
}

/* compare a memory operand "seg;base;index;scale;disp;dispsize[;size]" (iced
 * DecoderTest format after "m;"); returns NULL or what differs */
static const char *cmp_mem(const struct insn *in, const struct insn_opnd *o, char *f, bool check_size,
                           char *why, size_t wn)
{
    char *p[8] = { 0 };
    int k = 0;
    p[k++] = f;
    for (char *s = f; *s && k < 8; s++) if (*s == ';') { *s = 0; p[k++] = s + 1; }
    if (k < 6) return "bad memory operand";
    unsigned scale = (unsigned)num(p[3]);
    unsigned long long disp = num(p[4]);
    unsigned dsz = (unsigned)num(p[5]);
    uint32_t our_disp = in->addrsize == 2 ? (uint16_t)in->disp : (uint32_t)in->disp;
    if (o->kind != OPND_MEM) return "not memory";
    if (strcmp(segn[in->seg & 7], p[0])) { snprintf(why, wn, "seg %s, iced %s", segn[in->seg & 7], p[0]); return why; }
    if (strcmp(mreg(in, in->base), p[1])) { snprintf(why, wn, "base '%s', iced '%s'", mreg(in, in->base), p[1]); return why; }
    if (strcmp(mreg(in, in->index), p[2])) { snprintf(why, wn, "index '%s', iced '%s'", mreg(in, in->index), p[2]); return why; }
    if ((1u << in->scale) != scale && in->index != REG_NONE) { snprintf(why, wn, "scale %u, iced %u", 1u << in->scale, scale); return why; }
    if (our_disp != (uint32_t)disp) { snprintf(why, wn, "disp 0x%x, iced 0x%llx", our_disp, disp); return why; }
    /* iced reports a mod=0 [ebp]-free SIB/moffs size; compare when both have one */
    if (dsz != in->disp_size && !(dsz == 0 && in->disp_size == 0)) {
        /* iced gives disp8 as size 1, disp16 2, disp32 4 */
        snprintf(why, wn, "disp size %u, iced %u", in->disp_size, dsz); return why;
    }
    if (check_size && k >= 7) {
        int sz = iced_memsize(p[6]);
        if (sz > 0 && o->size && sz != o->size) { snprintf(why, wn, "mem size %u, iced %s", o->size, p[6]); return why; }
    }
    return NULL;
}

/* compare one iced operand text with ours; NULL when they agree */
static const char *cmp_opnd(const struct insn *in, unsigned k, char *txt, uint32_t ip, bool hint,
                            char *why, size_t wn)
{
    const struct insn_opnd *o = &in->opnd[k];
    char kind[16];
    char *semi = strchr(txt, ';');
    size_t kl = semi ? (size_t)(semi - txt) : strlen(txt);
    if (kl >= sizeof kind) return "bad operand";
    memcpy(kind, txt, kl); kind[kl] = 0;
    char *arg = semi ? semi + 1 : txt + kl;
    char buf[32];
    if (!strcmp(kind, "r")) {
        if (o->kind == OPND_MEM || o->kind == OPND_IMM) return "register expected";
        reg_text(o, buf, sizeof buf);
        if (strcasecmp(buf, arg)) { snprintf(why, wn, "reg %s, iced %s", buf, arg); return why; }
        return NULL;
    }
    if (!strcmp(kind, "m")) return cmp_mem(in, o, arg, !hint, why, wn);
    if (starts(kind, "i8") || !strcmp(kind, "i16") || !strcmp(kind, "i32")) {
        uint32_t v = !strcmp(kind, "i8_2nd") ? in->imm2 : (o->type == OT_ONE ? 1u : in->imm);
        if (o->kind != OPND_IMM) return "immediate expected";
        if (v != (uint32_t)num(arg)) { snprintf(why, wn, "imm 0x%x, iced %s", v, arg); return why; }
        return NULL;
    }
    if (!strcmp(kind, "nb16") || !strcmp(kind, "nb32")) {
        if (o->kind != OPND_REL) return "branch expected";
        uint32_t t = ip + in->len + in->imm;
        if (in->opsize == 2) t &= 0xFFFF;
        if (t != (uint32_t)num(arg) || (kind[2] == '1') != (in->opsize == 2)) {
            snprintf(why, wn, "target 0x%x/%u, iced %s %s", t, in->opsize, kind, arg); return why;
        }
        return NULL;
    }
    if (!strcmp(kind, "fb16") || !strcmp(kind, "fb32")) {
        char *off = strchr(arg, ';');
        if (o->kind != OPND_FAR || !off) return "far pointer expected";
        if (in->imm2 != (uint32_t)num(arg) || in->imm != (uint32_t)num(off + 1) || (kind[2] == '1') != (in->opsize == 2)) {
            snprintf(why, wn, "far %x:%x, iced %s", in->imm2, in->imm, arg); return why;
        }
        return NULL;
    }
    if (!strcmp(kind, "esdi") || !strcmp(kind, "esedi")) {
        unsigned as = kind[2] == 'e' ? 4 : 2;
        if (o->kind != OPND_STR_DST || in->addrsize != as) { snprintf(why, wn, "string dest, iced %s", kind); return why; }
        int sz = iced_memsize(arg);
        if (sz > 0 && sz != o->size) { snprintf(why, wn, "size %u, iced %s", o->size, arg); return why; }
        return NULL;
    }
    if (!strcmp(kind, "segsi") || !strcmp(kind, "segesi")) {
        unsigned as = kind[3] == 'e' ? 4 : 2;
        char *sz = strchr(arg, ';');
        if (o->kind != OPND_STR_SRC || in->addrsize != as || !sz) { snprintf(why, wn, "string src, iced %s", kind); return why; }
        *sz = 0;
        unsigned seg = in->seg_override != SEG_NONE ? in->seg_override : SEG_DS;
        if (strcmp(segn[seg], arg)) { snprintf(why, wn, "string seg %s, iced %s", segn[seg], arg); return why; }
        int s = iced_memsize(sz + 1);
        if (s > 0 && s != o->size) { snprintf(why, wn, "size %u, iced %s", o->size, sz + 1); return why; }
        return NULL;
    }
    snprintf(why, wn, "operand kind %s not compared", kind);
    return why;
}

/* The hand-decided reasons for INVALID+NoMoreBytes rows that are complete
 * encodings on a P6: iced reports NoMoreBytes for these 286/287-only opcodes
 * when their decoder option is off; on a P6 they are #UD. */
static bool nomore_but_ud(const char *code)
{
    return !strcmp(code, "Frstpm") || !strcmp(code, "Fnstdw_AX") || !strcmp(code, "Fnstsg_AX") ||
           !strcmp(code, "Storeall") || !strcmp(code, "Cl1invmb");
}

static void report(struct counts *c, const char *file, int lineno, const char *line, const char *msg)
{
    c->bad++;
    if (verbose || c->bad <= 25) printf("  %s:%d: %s  [%s]\n", file, lineno, msg, line);
}

/* Implicit operands iced spells out that our rows leave implicit (the
 * table's operand lists follow the SDM's opcode column): XLAT's [eBX+AL] and
 * the ST(0) of FCOM/FCOMP/FUCOM/FUCOMP/FXCH ST(i) (D8 D0+i, D9 C8+i, DC D0+i,
 * DC D8+i, DD C8+i, DD E0+i, DD E8+i, DE D0+i, DF C8+i). True when iced's
 * operand k is such an operand. */
static bool iced_implicit(const char *code, unsigned k, const char *optext)
{
    if (starts(code, "Xlat_")) return k == 0;
    if (k == 0 && optext && !strcmp(optext, "r;st0") && strstr(code, "_st0_sti") &&
        (starts(code, "Fcom_") || starts(code, "Fcomp_") || starts(code, "Fucom_") ||
         starts(code, "Fucomp_") || starts(code, "Fxch_")))
        return true;
    return false;
}

/* iced names a 32-bit register for the operand-size-32 forms of ARPL,
 * MOV Sreg,r/m, LLDT, LTR (Code "..._r32m16..."); those instructions read
 * only its low 16 bits (SDM vol. 2: ARPL r/m16,r16; MOV Sreg,r/m16; LLDT
 * r/m16; LTR r/m16), which is what our 16-bit operand says. */
static bool iced_wide_name_ok(const char *code, const struct insn_opnd *o, const char *iced)
{
    if (!strstr(code, "r32m16") || o->kind != OPND_GPR || o->size != 2) return false;
    return iced[0] == 'e' && !strcmp(iced + 1, r16n[o->reg & 7]);
}

static void check_decoder_row(struct counts *c, const char *file, int lineno, char *line, unsigned mode)
{
    char orig[1024];
    snprintf(orig, sizeof orig, "%s", line);
    char *f[6];
    int nf = split_comma(line, f, 5);
    if (nf < 4) { report(c, file, lineno, orig, "unparsable row"); return; }
    uint8_t b[32];
    int n = parse_hex(f[0], b, sizeof b);
    if (n < 0) { report(c, file, lineno, orig, "bad hex"); return; }
    const char *code = f[1];
    char *rest = nf > 4 ? f[4] : (char *)"";
    c->rows++;
    /* tokens after the operand count */
    char *tok[24];
    int nt = 0;
    for (char *s = strtok(rest, " "); s && nt < 24; s = strtok(NULL, " ")) tok[nt++] = s;
    const char *decopt = NULL, *err = NULL, *inv_code = NULL, *co = NULL;
    char *ops[8] = { 0 };
    for (int i = 0; i < nt; i++) {
        if (starts(tok[i], "decopt=")) decopt = tok[i] + 7;
        else if (starts(tok[i], "err=")) err = tok[i] + 4;
        else if (starts(tok[i], "code=")) inv_code = tok[i] + 5;
        else if (starts(tok[i], "co=")) co = tok[i] + 3;
        else if (tok[i][0] == 'o' && tok[i][1] == 'p' && isdigit((unsigned char)tok[i][2]) && tok[i][3] == '=')
            ops[tok[i][2] - '0'] = tok[i] + 4;
    }
    if (decopt) { c->skipped_decopt++; return; }   /* other iced decoder modes */

    struct insn in;
    int rc = decode(&in, b, (size_t)n, mode);
    bool feature_row = rc == DECODE_OK && (optab[in.op].attrs & A_FEATURES);
    char why[160], msg[320];
    /* the same bytes followed by zeros (40 readable: decode's fast path)
     * give the same answer whenever the exact input gave a final one */
    if (rc != DECODE_MORE) {
        uint8_t pad[48] = { 0 };
        memcpy(pad, b, (size_t)n);
        struct insn in2;
        int rc2 = decode(&in2, pad, 40, mode);
        if (rc2 != rc || (rc == DECODE_OK && memcmp(&in, &in2, sizeof in))) {
            snprintf(msg, sizeof msg, "decode differs with padding: rc %d/%d len %u/%u", rc, rc2, in.len, in2.len);
            report(c, file, lineno, orig, msg);
            return;
        }
    }

    if (!strcmp(code, "INVALID")) {
        const char *cw;
        enum cls cl = inv_code && strcmp(inv_code, "INVALID") ? classify(inv_code, b, (size_t)n, &cw) : CL_IMPL;
        if (err && !strcmp(err, "NoMoreBytes") && !(inv_code && nomore_but_ud(inv_code))) {
            if (rc == DECODE_MORE) c->more_ok++;
            else { snprintf(msg, sizeof msg, "want DECODE_MORE, got %d", rc); report(c, file, lineno, orig, msg); }
            return;
        }
        if (rc == DECODE_UD || rc == DECODE_GP) { c->invalid_ok++; return; }
        if (rc == DECODE_OK && feature_row) { c->invalid_ok++; return; }
        if (rc == DECODE_OK && cl == CL_ABSENT && (optab[in.op].attrs & A_FEATURES)) { c->invalid_ok++; return; }
        snprintf(msg, sizeof msg, "iced: invalid; ours: rc %d %s len %u", rc, rc == DECODE_OK ? optab[in.op].name : "", in.len);
        report(c, file, lineno, orig, msg);
        return;
    }

    const char *cw;
    enum cls cl = classify(code, b, (size_t)n, &cw);
    if (cl == CL_ABSENT) {
        if (rc == DECODE_UD || rc == DECODE_GP || feature_row) {
            c->ud_ok++;
            if (feature_row && in.len != n) c->ud_len_differs++;
            return;
        }
        snprintf(msg, sizeof msg, "%s (%s) should be #UD; ours: rc %d %s", code, cw, rc,
                 rc == DECODE_OK ? optab[in.op].name : "");
        report(c, file, lineno, orig, msg);
        return;
    }
    c->checked++;
    if (rc != DECODE_OK || feature_row) {
        snprintf(msg, sizeof msg, "%s: ours rc %d %s", code, rc, rc == DECODE_OK ? optab[in.op].name : "");
        report(c, file, lineno, orig, msg);
        return;
    }
    if (in.len != n) {
        snprintf(msg, sizeof msg, "%s: len %u, iced %d (%s)", code, in.len, n, optab[in.op].name);
        report(c, file, lineno, orig, msg);
        return;
    }
    if (cl == CL_HINTNOP) {
        if (strcmp(optab[in.op].handler, "nop")) {
            snprintf(msg, sizeof msg, "%s: want a hint NOP, ours %s", code, optab[in.op].name);
            report(c, file, lineno, orig, msg);
            return;
        }
        /* the memory operand (if any) must agree; iced's register operands
         * (bnd, r/m pairs) are not ours to compare */
        for (int k = 0; k < 8; k++) {
            if (!ops[k] || !starts(ops[k], "m;")) continue;
            if (in.nopnd < 1) { report(c, file, lineno, orig, "hint NOP without operand"); return; }
            const char *e = cmp_opnd(&in, 0, ops[k], 0, true, why, sizeof why);
            if (e) { snprintf(msg, sizeof msg, "%s: %s", code, e); report(c, file, lineno, orig, msg); return; }
        }
        c->hint_ok++;
        c->agreed++;
        return;
    }
    if (cl == CL_P6ALIAS) {
        char base[64];
        code_base(code, base, sizeof base);
        const char *want = !strcmp(base, "Tzcnt") ? "BSF" : !strcmp(base, "Lzcnt") ? "BSR" : "WBINVD";
        if (strcmp(optab[in.op].name, want)) {
            snprintf(msg, sizeof msg, "%s: a P6 runs it as %s, ours %s", code, want, optab[in.op].name);
            report(c, file, lineno, orig, msg);
            return;
        }
    }
    /* sizes of immediates and displacement: co=immoff;immsize;imm2off;imm2size;dispoff;dispsize */
    if (co) {
        unsigned v[6] = { 0 };
        if (sscanf(co, "%u;%u;%u;%u;%u;%u", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6) {
            if (v[1] != in.imm_size || v[3] != in.imm2_size || v[5] != in.disp_size) {
                snprintf(msg, sizeof msg, "%s: imm/imm2/disp sizes %u/%u/%u, iced %u/%u/%u", code,
                         in.imm_size, in.imm2_size, in.disp_size, v[1], v[3], v[5]);
                report(c, file, lineno, orig, msg);
                return;
            }
        }
    }
    unsigned nops = (unsigned)num(f[3]);
    unsigned skip = 0;
    while (skip < nops && iced_implicit(code, skip, ops[skip])) skip++;
    if (nops - skip != in.nopnd) {
        snprintf(msg, sizeof msg, "%s: %u operands, iced %u (%s)", code, in.nopnd, nops - skip, optab[in.op].name);
        report(c, file, lineno, orig, msg);
        return;
    }
    uint32_t ip = mode == DECODE_32 ? 0x7FFFFFF0u : 0x7FF0u;
    for (unsigned k = skip; k < nops; k++) {
        if (!ops[k]) { report(c, file, lineno, orig, "missing operand text"); return; }
        const char *e = cmp_opnd(&in, k - skip, ops[k], ip, false, why, sizeof why);
        if (e && starts(ops[k], "r;") && iced_wide_name_ok(code, &in.opnd[k - skip], ops[k] + 2)) e = NULL;
        if (e) {
            snprintf(msg, sizeof msg, "%s op%u: %s (%s)", code, k, e, optab[in.op].name);
            report(c, file, lineno, orig, msg);
            return;
        }
    }
    if (cl == CL_P6ALIAS) c->alias_ok++;
    c->agreed++;
}

/* MemoryTest rows: bytes, code, register, prefix seg, effective seg, base,
 * index, scale (shift), displacement, displacement size, co */
static void check_memory_row(struct counts *c, const char *file, int lineno, char *line, unsigned mode)
{
    char orig[1024];
    snprintf(orig, sizeof orig, "%s", line);
    char *f[12];
    int nf = split_comma(line, f, 11);
    if (nf < 10) { report(c, file, lineno, orig, "unparsable row"); return; }
    uint8_t b[32];
    int n = parse_hex(f[0], b, sizeof b);
    if (n < 0) { report(c, file, lineno, orig, "bad hex"); return; }
    c->rows++;
    const char *cw;
    enum cls cl = classify(f[1], b, (size_t)n, &cw);
    struct insn in;
    int rc = decode(&in, b, (size_t)n, mode);
    if (cl == CL_ABSENT) {
        if (rc != DECODE_OK || (optab[in.op].attrs & A_FEATURES)) { c->ud_ok++; return; }
        report(c, file, lineno, orig, "absent feature decoded");
        return;
    }
    c->checked++;
    char msg[256], why[160];
    if (rc != DECODE_OK || in.len != n) {
        snprintf(msg, sizeof msg, "rc %d len %u, iced %d", rc, in.len, n);
        report(c, file, lineno, orig, msg);
        return;
    }
    char reg[16];
    reg_text(&in.opnd[1], reg, sizeof reg);
    if (strcmp(reg, f[2])) { snprintf(msg, sizeof msg, "reg %s, iced %s", reg, f[2]); report(c, file, lineno, orig, msg); return; }
    unsigned pseg = in.seg_override;
    if (strcmp(segn[pseg & 7], f[3])) { snprintf(msg, sizeof msg, "prefix seg %s", segn[pseg & 7]); report(c, file, lineno, orig, msg); return; }
    char mem[160];
    snprintf(mem, sizeof mem, "%s;%s;%s;%u;%s;%s", f[4], strcmp(f[5], "none") ? f[5] : "",
             strcmp(f[6], "none") ? f[6] : "", 1u << (unsigned)num(f[7]), f[8], f[9]);
    const char *e = cmp_mem(&in, &in.opnd[0], mem, false, why, sizeof why);
    if (e) { report(c, file, lineno, orig, e); return; }
    c->agreed++;
}

static int run_file(const char *dir, const char *name, unsigned mode, bool memory)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "r");
    if (!fp) { printf("SKIP iced_%s: cannot open %s\n", name, path); return 0; }
    struct counts c = { 0 };
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof line, fp)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        if (memory) check_memory_row(&c, name, lineno, line, mode);
        else check_decoder_row(&c, name, lineno, line, mode);
    }
    fclose(fp);
    printf("  %s: %d rows: %d checked (implemented), %d agreed (%d hint-NOP, %d TZCNT/LZCNT/WBNOINVD run as BSF/BSR/WBINVD), "
           "%d absent-feature rows #UD ok (%d feature rows whose length differs, not checked), "
           "%d INVALID rows rejected, %d NoMoreBytes rows DECODE_MORE, %d skipped (decopt: other iced "
           "decoder modes), %d disagreements\n",
           name, c.rows, c.checked, c.agreed, c.hint_ok, c.alias_ok, c.ud_ok, c.ud_len_differs,
           c.invalid_ok, c.more_ok, c.skipped_decopt, c.bad);
    char tn[64];
    snprintf(tn, sizeof tn, "iced_%s", name);
    char *dot = strchr(tn, '.');
    if (dot) *dot = 0;
    bool ok = c.bad == 0 && c.checked > 0;
    printf("%s %s\n", ok ? "PASS" : "FAIL", tn);
    fflush(stdout);
    return ok ? 0 : 1;
}

int main(void)
{
    verbose = getenv("ICED_VERBOSE") != NULL;
    const char *sh = getenv("BT86_SHARED");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/testdata/iced-decoder", sh ? sh : "../shared");
    FILE *probe = fopen(dir, "r");
    if (!probe) {
        printf("SKIP iced: %s not found (set BT86_SHARED to the shared/ directory)\n", dir);
        return 0;
    }
    fclose(probe);
    decode_init();
    int bad = 0;
    bad += run_file(dir, "DecoderTest16.txt", DECODE_16, false);
    bad += run_file(dir, "DecoderTest32.txt", DECODE_32, false);
    bad += run_file(dir, "DecoderTestMisc16.txt", DECODE_16, false);
    bad += run_file(dir, "DecoderTestMisc32.txt", DECODE_32, false);
    bad += run_file(dir, "MemoryTest16.txt", DECODE_16, true);
    bad += run_file(dir, "MemoryTest32.txt", DECODE_32, true);
    (void)test_failures_;
    return bad ? 1 : test_summary();
}

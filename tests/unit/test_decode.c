/* tests/unit/test_decode.c - hand-written decoder unit tests.
 *
 * Prefix rules, the 15-byte limit (#GP), partial input (DECODE_MORE and
 * insn->need), LOCK rules (#UD), 16/32-bit ModRM/SIB with default SS for
 * BP/ESP/EBP bases, moffs, far pointers, ENTER, x87 forms, MOV CR ignoring
 * mod, MOV CS,r/m #UD, P6 facts (hint NOPs, PAUSE, F3 0F BC = BSF) and a few
 * disassembly lines. Encodings are from SDM vol. 2 (tables 2-1, 2-2, A-*).
 */
#include "tests/unit/test.h"
#include "cpu/decode.h"
#include <string.h>
#include <stdlib.h>

/* decode hex text ("66 0F 20 C0") with exactly its bytes available */
static int dec(struct insn *in, const char *hex, unsigned mode)
{
    uint8_t b[32];
    size_t n = 0;
    for (const char *p = hex; *p && n < sizeof b;) {
        if (*p == ' ') { p++; continue; }
        char t[3] = { p[0], p[1], 0 };
        b[n++] = (uint8_t)strtoul(t, NULL, 16);
        p += 2;
    }
    return decode(in, b, n, mode);
}

static int opfind(const char *name)
{
    for (unsigned i = 0; i < OP_COUNT; i++) if (!strcmp(optab[i].name, name)) return (int)i;
    return -1;
}
#define EXPECT_OP(in, name) EXPECT_EQ((in).op, opfind(name))

static const char *text(const struct insn *in, uint32_t eip)
{
    static char buf[128];
    disasm_format(in, eip, buf, sizeof buf);
    return buf;
}
#define EXPECT_TEXT(in, eip, s) do { const char *t_ = text(&(in), eip); \
    if (strcmp(t_, s)) { printf("  %s:%d: text '%s', expected '%s'\n", __FILE__, __LINE__, t_, s); test_failures_++; } } while (0)

static void test_prefixes(void)
{
    struct insn in;
    /* 66 in 32-bit mode: 16-bit operand; repeated 66 is still one toggle */
    EXPECT_EQ(dec(&in, "66 66 01 CE", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 4); EXPECT_EQ(in.npfx, 2); EXPECT_EQ(in.opsize, 2); EXPECT_EQ(in.addrsize, 4);
    EXPECT_EQ(in.opnd[0].reg, 6); EXPECT_EQ(in.opnd[0].size, 2);
    /* 66 in 16-bit mode: 32-bit operand; 67: 32-bit addressing */
    EXPECT_EQ(dec(&in, "66 67 01 18", DECODE_16), DECODE_OK);
    EXPECT_EQ(in.opsize, 4); EXPECT_EQ(in.addrsize, 4); EXPECT_EQ(in.base, 0); EXPECT_EQ(in.opnd[0].kind, OPND_MEM);
    /* the last segment prefix wins */
    EXPECT_EQ(dec(&in, "26 64 2E 01 18", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.seg_override, SEG_CS); EXPECT_EQ(in.seg, SEG_CS); EXPECT_EQ(in.npfx, 3);
    /* the last of F2/F3 is the one given */
    EXPECT_EQ(dec(&in, "F2 F3 A4", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.rep, 0xF3); EXPECT_OP(in, "MOVSB");
    EXPECT_EQ(dec(&in, "F3 F2 A6", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.rep, 0xF2); EXPECT_TEXT(in, 0, "repne cmpsb");
    /* prefix order does not matter: F3 66 AB = rep stosw in 32-bit code */
    EXPECT_EQ(dec(&in, "F3 66 AB", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.opsize, 2); EXPECT_EQ(in.rep, 0xF3); EXPECT_TEXT(in, 0, "rep stosw");
    /* no prefix */
    EXPECT_EQ(dec(&in, "90", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.npfx, 0); EXPECT_EQ(in.seg_override, SEG_NONE); EXPECT_EQ(in.rep, 0); EXPECT_EQ(in.lock, 0);
}

static void test_length_limit(void)
{
    struct insn in;
    /* 13 prefixes + 01 CE = 15 bytes: fine; 14 + 2 = 16: #GP(0) (SDM vol. 2 sec. 2.3.11) */
    EXPECT_EQ(dec(&in, "26 26 26 26 26 26 26 26 26 26 26 26 26 01 CE", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 15);
    EXPECT_EQ(dec(&in, "26 26 26 26 26 26 26 26 26 26 26 26 26 26 01 CE", DECODE_32), DECODE_GP);
    /* fifteen prefixes: #GP before any opcode */
    EXPECT_EQ(dec(&in, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", DECODE_32), DECODE_GP);
    /* an immediate that crosses byte 15: 5 prefixes + 81 84 24 disp32 imm32 = 16.
     * With 14 bytes: more needed (the limit is not reached yet); with 15 or
     * more: #GP, whatever follows. */
    EXPECT_EQ(dec(&in, "26 26 26 26 26 81 84 24 00 00 00 00 11 22", DECODE_32), DECODE_MORE);
    EXPECT_EQ(in.need, 2);
    EXPECT_EQ(dec(&in, "26 26 26 26 26 81 84 24 00 00 00 00 11 22 33", DECODE_32), DECODE_GP);
    EXPECT_EQ(dec(&in, "26 26 26 26 26 81 84 24 00 00 00 00 11 22 33 44", DECODE_32), DECODE_GP);
    EXPECT_EQ(dec(&in, "26 26 26 26 81 84 24 00 00 00 00 11 22 33 44", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 15);
    EXPECT_EQ(dec(&in, "26 26 26 81 84 24 00 00 00 00 11 22 33 44", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 14); EXPECT_EQ(in.imm, 0x44332211); EXPECT_EQ(in.disp_size, 4);
}

static void test_more_bytes(void)
{
    struct insn in;
    EXPECT_EQ(dec(&in, "", DECODE_32), DECODE_MORE);
    EXPECT_EQ(in.need, 1);
    EXPECT_EQ(dec(&in, "66", DECODE_32), DECODE_MORE);
    EXPECT_EQ(in.need, 1);
    EXPECT_EQ(dec(&in, "0F", DECODE_32), DECODE_MORE);
    EXPECT_EQ(in.need, 1);
    EXPECT_EQ(dec(&in, "01", DECODE_32), DECODE_MORE);       /* ModRM missing */
    EXPECT_EQ(in.need, 1);
    EXPECT_EQ(dec(&in, "B8 5A", DECODE_32), DECODE_MORE);    /* imm32: 3 more */
    EXPECT_EQ(in.need, 3);
    EXPECT_EQ(dec(&in, "66 B8 5A", DECODE_32), DECODE_MORE); /* imm16: 1 more */
    EXPECT_EQ(in.need, 1);
    EXPECT_EQ(dec(&in, "8B 84", DECODE_32), DECODE_MORE);    /* SIB missing */
    EXPECT_EQ(in.need, 1);
    EXPECT_EQ(dec(&in, "8B 84 24 11", DECODE_32), DECODE_MORE); /* disp32 half there */
    EXPECT_EQ(in.need, 3);
    EXPECT_EQ(dec(&in, "9A 11 22 33 44", DECODE_32), DECODE_MORE); /* selector missing */
    EXPECT_EQ(in.need, 2);
    /* NoMoreBytes wins over #UD: F0 04 (LOCK on ADD AL,imm8) without its imm8 */
    EXPECT_EQ(dec(&in, "F0 04", DECODE_32), DECODE_MORE);
    EXPECT_EQ(dec(&in, "F0 04 01", DECODE_32), DECODE_UD);
    /* a complete instruction with bytes beyond it: only its own length */
    EXPECT_EQ(dec(&in, "B8 01 02 03 04 90 90", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 5); EXPECT_EQ(in.imm, 0x04030201);
}

static void test_lock(void)
{
    struct insn in;
    EXPECT_EQ(dec(&in, "F0 00 CE", DECODE_32), DECODE_UD);    /* register destination */
    EXPECT_EQ(dec(&in, "F0 00 38", DECODE_32), DECODE_OK);    /* lock add [eax], bh */
    EXPECT_EQ(in.lock, 1); EXPECT_TEXT(in, 0, "lock add byte ptr [eax], bh");
    EXPECT_EQ(dec(&in, "F0 88 00", DECODE_32), DECODE_UD);    /* MOV: not lockable */
    EXPECT_EQ(dec(&in, "F0 38 00", DECODE_32), DECODE_UD);    /* CMP: not lockable */
    EXPECT_EQ(dec(&in, "F0 02 00", DECODE_32), DECODE_UD);    /* ADD r, r/m: dest is a register */
    EXPECT_EQ(dec(&in, "F0 87 03", DECODE_32), DECODE_OK);    /* XCHG [ebx], eax */
    EXPECT_EQ(dec(&in, "F0 F7 18", DECODE_32), DECODE_OK);    /* NEG [eax] */
    EXPECT_EQ(dec(&in, "F0 F7 00 01 00 00 00", DECODE_32), DECODE_UD); /* TEST [eax], imm */
    EXPECT_EQ(dec(&in, "F0 0F A3 00", DECODE_32), DECODE_UD); /* BT: reads only */
    EXPECT_EQ(dec(&in, "F0 0F AB 00", DECODE_32), DECODE_OK); /* BTS [eax], eax */
    EXPECT_EQ(dec(&in, "F0 0F C7 08", DECODE_32), DECODE_OK); /* CMPXCHG8B [eax] */
    EXPECT_OP(in, "CMPXCHG8B");
    EXPECT_EQ(dec(&in, "F0 0F C7 C8", DECODE_32), DECODE_UD); /* CMPXCHG8B needs memory */
    EXPECT_EQ(dec(&in, "F0 83 00 01", DECODE_32), DECODE_OK); /* ADD [eax], 1 */
    EXPECT_EQ(dec(&in, "F0 83 38 01", DECODE_32), DECODE_UD); /* CMP [eax], 1 */
    EXPECT_EQ(dec(&in, "F0 90", DECODE_32), DECODE_UD);
    EXPECT_EQ(dec(&in, "F0 FE 00", DECODE_32), DECODE_OK);    /* INC byte [eax] */
    EXPECT_EQ(dec(&in, "F0 0F C1 08", DECODE_32), DECODE_OK); /* XADD [eax], ecx */
}

static void test_modrm16(void)
{
    struct insn in;
    /* mod=0: bx+si, bx+di, bp+si, bp+di, si, di, disp16, bx (SDM vol. 2 table 2-1) */
    static const struct { uint8_t base, index, seg; } f[8] = {
        { 3, 6, SEG_DS }, { 3, 7, SEG_DS }, { 5, 6, SEG_SS }, { 5, 7, SEG_SS },
        { 6, REG_NONE, SEG_DS }, { 7, REG_NONE, SEG_DS }, { REG_NONE, REG_NONE, SEG_DS }, { 3, REG_NONE, SEG_DS },
    };
    for (unsigned rm = 0; rm < 8; rm++) {
        uint8_t b[5] = { 0x8B, (uint8_t)rm, 0x34, 0x12, 0 };
        EXPECT_EQ(decode(&in, b, sizeof b, DECODE_16), DECODE_OK);
        EXPECT_EQ(in.base, f[rm].base); EXPECT_EQ(in.index, f[rm].index); EXPECT_EQ(in.seg, f[rm].seg);
        EXPECT_EQ(in.len, rm == 6 ? 4 : 2);
        if (rm == 6) { EXPECT_EQ(in.disp, 0x1234); EXPECT_EQ(in.disp_size, 2); }
        /* mod=1: disp8 (sign-extended); rm=6 is [bp+disp8] with SS */
        b[1] = (uint8_t)(0x40 | rm); b[2] = 0xF0;
        EXPECT_EQ(decode(&in, b, sizeof b, DECODE_16), DECODE_OK);
        EXPECT_EQ(in.len, 3); EXPECT_EQ(in.disp, -16); EXPECT_EQ(in.disp_size, 1);
        EXPECT_EQ(in.seg, rm == 6 ? SEG_SS : f[rm].seg);
        EXPECT_EQ(in.base, rm == 6 ? 5 : f[rm].base);
        /* mod=2: disp16 */
        b[1] = (uint8_t)(0x80 | rm); b[2] = 0x34;
        EXPECT_EQ(decode(&in, b, sizeof b, DECODE_16), DECODE_OK);
        EXPECT_EQ(in.len, 4); EXPECT_EQ(in.disp, 0x1234); EXPECT_EQ(in.disp_size, 2);
    }
    /* a segment override replaces the SS default */
    EXPECT_EQ(dec(&in, "26 8B 02", DECODE_16), DECODE_OK);
    EXPECT_EQ(in.seg, SEG_ES);
    EXPECT_TEXT(in, 0, "mov ax, word ptr es:[bp + si]");
    /* 16-bit addressing from 32-bit code with 67 */
    EXPECT_EQ(dec(&in, "67 8B 46 FE", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.seg, SEG_SS); EXPECT_EQ(in.base, 5); EXPECT_EQ(in.disp, -2);
    EXPECT_TEXT(in, 0, "mov eax, dword ptr [bp - 0x2]");
}

static void test_modrm32(void)
{
    struct insn in;
    /* [esp]: SIB required, default SS */
    EXPECT_EQ(dec(&in, "8B 04 24", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 3); EXPECT_EQ(in.base, 4); EXPECT_EQ(in.index, REG_NONE); EXPECT_EQ(in.seg, SEG_SS);
    /* [ebp+8]: mod=1 rm=5, SS */
    EXPECT_EQ(dec(&in, "8B 45 08", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.base, 5); EXPECT_EQ(in.disp, 8); EXPECT_EQ(in.seg, SEG_SS);
    /* mod=0 rm=5: disp32, no base, DS */
    EXPECT_EQ(dec(&in, "8B 05 78 56 34 12", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 6); EXPECT_EQ(in.base, REG_NONE); EXPECT_EQ(in.disp, 0x12345678); EXPECT_EQ(in.seg, SEG_DS);
    /* SIB base=5 with mod=0: disp32 + index*scale, no base, DS */
    EXPECT_EQ(dec(&in, "8B 04 8D 00 10 00 00", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 7); EXPECT_EQ(in.base, REG_NONE); EXPECT_EQ(in.index, 1); EXPECT_EQ(in.scale, 2);
    EXPECT_EQ(in.disp, 0x1000); EXPECT_EQ(in.seg, SEG_DS);
    EXPECT_TEXT(in, 0, "mov eax, dword ptr [ecx*4 + 0x1000]");
    /* SIB base=5 with mod=1: [ebp + index*scale + disp8], SS */
    EXPECT_EQ(dec(&in, "8B 44 B5 F8", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.base, 5); EXPECT_EQ(in.index, 6); EXPECT_EQ(in.scale, 2); EXPECT_EQ(in.disp, -8); EXPECT_EQ(in.seg, SEG_SS);
    /* index=4 means none; base=esp: SS */
    EXPECT_EQ(dec(&in, "8B 44 E4 04", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.index, REG_NONE); EXPECT_EQ(in.base, 4); EXPECT_EQ(in.seg, SEG_SS);
    /* index ebp with base eax: DS (only the base picks SS) */
    EXPECT_EQ(dec(&in, "8B 04 28", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.base, 0); EXPECT_EQ(in.index, 5); EXPECT_EQ(in.seg, SEG_DS);
    /* mod=2 disp32 */
    EXPECT_EQ(dec(&in, "89 98 00 00 00 80", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.disp, (int32_t)0x80000000); EXPECT_EQ(in.disp_size, 4);
    /* register form */
    EXPECT_EQ(dec(&in, "89 D8", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.opnd[0].kind, OPND_GPR); EXPECT_EQ(in.opnd[0].reg, 0); EXPECT_EQ(in.opnd[1].reg, 3);
    EXPECT_TEXT(in, 0, "mov eax, ebx");
    /* LEA with a register operand is #UD; LEA is unsized */
    EXPECT_EQ(dec(&in, "8D C0", DECODE_32), DECODE_UD);
    EXPECT_EQ(dec(&in, "8D 04 40", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.opnd[1].size, 0);
}

static void test_moffs_far_enter(void)
{
    struct insn in;
    EXPECT_EQ(dec(&in, "A1 78 56 34 12", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 5); EXPECT_EQ(in.disp, 0x12345678); EXPECT_EQ(in.base, REG_NONE); EXPECT_EQ(in.opnd[1].kind, OPND_MEM);
    EXPECT_EQ(dec(&in, "67 A1 34 12", DECODE_32), DECODE_OK);  /* 16-bit moffs */
    EXPECT_EQ(in.len, 4); EXPECT_EQ(in.disp, 0x1234);
    EXPECT_EQ(dec(&in, "64 A2 34 12", DECODE_16), DECODE_OK);
    EXPECT_EQ(in.seg, SEG_FS); EXPECT_EQ(in.opnd[0].size, 1);
    EXPECT_TEXT(in, 0, "mov byte ptr fs:[0x1234], al");
    /* far pointers: offset then selector */
    EXPECT_EQ(dec(&in, "9A 78 56 34 12 08 00", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 7); EXPECT_EQ(in.imm, 0x12345678); EXPECT_EQ(in.imm2, 8); EXPECT_EQ(in.opnd[0].kind, OPND_FAR);
    EXPECT_EQ(dec(&in, "66 9A 34 12 08 00", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 6); EXPECT_EQ(in.imm, 0x1234); EXPECT_EQ(in.imm2, 8);
    EXPECT_EQ(dec(&in, "EA 00 7C 00 00", DECODE_16), DECODE_OK);
    EXPECT_EQ(in.len, 5); EXPECT_TEXT(in, 0, "jmp 0x0:0x7c00");
    EXPECT_EQ(dec(&in, "FF 2D 00 10 00 00", DECODE_32), DECODE_OK);   /* jmp far [mem] */
    EXPECT_OP(in, "JMPF_Mp"); EXPECT_EQ(in.opnd[0].size, 6);
    EXPECT_EQ(dec(&in, "FF E8", DECODE_32), DECODE_UD);                /* jmp far needs memory */
    /* ENTER Iw, Ib */
    EXPECT_EQ(dec(&in, "C8 10 00 01", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 4); EXPECT_EQ(in.imm, 0x10); EXPECT_EQ(in.imm2, 1);
    EXPECT_EQ(in.imm_size, 2); EXPECT_EQ(in.imm2_size, 1);
    EXPECT_TEXT(in, 0, "enter 0x10, 0x1");
    /* relative branches: targets from the next instruction */
    EXPECT_EQ(dec(&in, "E8 FB FF FF FF", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.imm, 0xFFFFFFFB); EXPECT_TEXT(in, 0x1000, "call 0x1000");
    EXPECT_EQ(dec(&in, "EB FE", DECODE_16), DECODE_OK);
    EXPECT_TEXT(in, 0x100, "jmp 0x100");
    /* sign-extended imm8 (83 /0) at operand size */
    EXPECT_EQ(dec(&in, "66 83 C0 FF", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.imm, 0xFFFF); EXPECT_EQ(in.imm_size, 1);
    EXPECT_EQ(dec(&in, "83 C0 80", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.imm, 0xFFFFFF80);
}

static void test_x87(void)
{
    struct insn in;
    EXPECT_EQ(dec(&in, "D9 E8", DECODE_32), DECODE_OK); EXPECT_OP(in, "FLD1");
    EXPECT_EQ(dec(&in, "D8 C1", DECODE_32), DECODE_OK); EXPECT_OP(in, "FADD_ST0STi");
    EXPECT_EQ(in.opnd[1].kind, OPND_ST); EXPECT_EQ(in.opnd[1].reg, 1);
    EXPECT_TEXT(in, 0, "fadd st(0), st(1)");
    EXPECT_EQ(dec(&in, "DD 45 08", DECODE_32), DECODE_OK);
    EXPECT_OP(in, "FLD_M64"); EXPECT_EQ(in.seg, SEG_SS); EXPECT_EQ(in.opnd[0].size, 8);
    EXPECT_EQ(dec(&in, "DB 2D 00 00 00 00", DECODE_32), DECODE_OK);
    EXPECT_OP(in, "FLD_M80"); EXPECT_EQ(in.opnd[0].size, 10);
    EXPECT_EQ(dec(&in, "DF E0", DECODE_32), DECODE_OK); EXPECT_OP(in, "FNSTSW_AX");
    EXPECT_EQ(dec(&in, "DE D9", DECODE_32), DECODE_OK); EXPECT_OP(in, "FCOMPP");
    EXPECT_EQ(dec(&in, "DE D8", DECODE_32), DECODE_UD);   /* only DE D9 */
    EXPECT_EQ(dec(&in, "DB E5", DECODE_32), DECODE_UD);   /* 287 FRSTPM: #UD on a P6 */
    EXPECT_EQ(dec(&in, "D9 D1", DECODE_32), DECODE_UD);   /* only D9 D0 is FNOP */
    EXPECT_EQ(dec(&in, "DA 06", DECODE_32), DECODE_OK); EXPECT_OP(in, "FIADD_M32");
    EXPECT_TEXT(in, 0, "fiadd dword ptr [esi]");
    EXPECT_EQ(dec(&in, "D9 2C 24", DECODE_32), DECODE_OK); EXPECT_OP(in, "FLDCW");
    EXPECT_EQ(dec(&in, "9B", DECODE_32), DECODE_OK); EXPECT_OP(in, "WAIT");
    EXPECT_EQ(dec(&in, "DD 30", DECODE_16), DECODE_OK); EXPECT_OP(in, "FNSAVE");
    EXPECT_EQ(in.opnd[0].size, 94);                        /* 16-bit operand size layout */
    EXPECT_EQ(dec(&in, "DF E8", DECODE_32), DECODE_OK); EXPECT_OP(in, "FUCOMIP");
    EXPECT_EQ(dec(&in, "DA C9", DECODE_32), DECODE_OK); EXPECT_OP(in, "FCMOVE");
}

static void test_system_forms(void)
{
    struct insn in;
    /* MOV CR/DR: the mod field is ignored, r/m names a register (SDM vol. 2 MOV CR) */
    EXPECT_EQ(dec(&in, "0F 20 00", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 3); EXPECT_OP(in, "MOV_RdCd"); EXPECT_EQ(in.opnd[0].kind, OPND_GPR); EXPECT_EQ(in.opnd[0].reg, 0);
    EXPECT_EQ(in.opnd[1].kind, OPND_CR); EXPECT_EQ(in.opnd[1].reg, 0);
    EXPECT_EQ(dec(&in, "0F 22 5D", DECODE_32), DECODE_OK); /* mod=1 yet no displacement */
    EXPECT_EQ(in.len, 3); EXPECT_EQ(in.opnd[0].reg, 3); EXPECT_EQ(in.opnd[1].reg, 5);
    EXPECT_TEXT(in, 0, "mov cr3, ebp");
    EXPECT_EQ(dec(&in, "0F 20 E0", DECODE_16), DECODE_OK); /* 32-bit registers in 16-bit code too */
    EXPECT_EQ(in.opnd[0].size, 4); EXPECT_EQ(in.opnd[1].reg, 4);
    EXPECT_EQ(dec(&in, "0F 20 C8", DECODE_32), DECODE_UD); /* CR1 */
    EXPECT_EQ(dec(&in, "0F 22 E8", DECODE_32), DECODE_UD); /* CR5 */
    EXPECT_EQ(dec(&in, "0F 23 F8", DECODE_32), DECODE_OK); /* mov dr7, eax */
    EXPECT_EQ(in.opnd[0].kind, OPND_DR); EXPECT_EQ(in.opnd[0].reg, 7);
    /* MOV Sreg: CS as destination is #UD; reg 6/7 are #UD; CS as source is fine */
    EXPECT_EQ(dec(&in, "8E C8", DECODE_32), DECODE_UD);
    EXPECT_EQ(dec(&in, "8E 08", DECODE_32), DECODE_UD);
    EXPECT_EQ(dec(&in, "8E F0", DECODE_32), DECODE_UD);
    EXPECT_EQ(dec(&in, "8E D8", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.opnd[0].kind, OPND_SREG); EXPECT_EQ(in.opnd[0].reg, SEG_DS); EXPECT_EQ(in.opnd[1].size, 2);
    EXPECT_EQ(dec(&in, "8C C8", DECODE_32), DECODE_OK);   /* mov eax, cs */
    EXPECT_EQ(in.opnd[0].size, 4); EXPECT_EQ(in.opnd[1].reg, SEG_CS);
    EXPECT_EQ(dec(&in, "8C 08", DECODE_32), DECODE_OK);   /* mov word [eax], cs */
    EXPECT_EQ(in.opnd[0].size, 2);
    /* 0F 01 groups */
    EXPECT_EQ(dec(&in, "0F 01 15 00 10 00 00", DECODE_32), DECODE_OK); EXPECT_OP(in, "LGDT");
    EXPECT_EQ(dec(&in, "0F 01 D0", DECODE_32), DECODE_UD);  /* XGETBV: not on a P6 */
    EXPECT_EQ(dec(&in, "0F 01 38", DECODE_32), DECODE_OK); EXPECT_OP(in, "INVLPG");
    EXPECT_EQ(dec(&in, "0F 01 F8", DECODE_32), DECODE_UD);  /* SWAPGS: 64-bit only */
    /* instructions a P6 does not have */
    EXPECT_EQ(dec(&in, "0F 05", DECODE_32), DECODE_UD);     /* SYSCALL (AMD) */
    EXPECT_EQ(dec(&in, "0F 01 F9", DECODE_32), DECODE_UD);  /* RDTSCP */
    EXPECT_EQ(dec(&in, "0F 38 F0 00", DECODE_32), DECODE_UD); /* MOVBE */
    EXPECT_EQ(dec(&in, "0F 0D 00", DECODE_32), DECODE_UD);  /* PREFETCHW */
    EXPECT_EQ(dec(&in, "0F 24 C0", DECODE_32), DECODE_UD);  /* MOV r32, TR (386/486) */
    EXPECT_EQ(dec(&in, "0F 0F C0 B4", DECODE_32), DECODE_UD); /* 3DNow! */
    EXPECT_EQ(dec(&in, "C4 E1 79 6E C0", DECODE_32), DECODE_UD); /* VEX: LES with mod=3 */
    EXPECT_EQ(dec(&in, "62 C0", DECODE_32), DECODE_UD);     /* EVEX: BOUND with mod=3 */
    EXPECT_EQ(dec(&in, "8F C8", DECODE_32), DECODE_UD);     /* XOP: POP Ev with reg=1 */
    /* P6 facts: hint NOPs with ModRM, PAUSE, TZCNT = BSF, SYSENTER, CMOV */
    EXPECT_EQ(dec(&in, "0F 1F 44 00 00", DECODE_32), DECODE_OK);
    EXPECT_EQ(in.len, 5); EXPECT_EQ(strcmp(optab[in.op].handler, "nop"), 0);
    EXPECT_EQ(dec(&in, "0F 18 00", DECODE_32), DECODE_OK);  /* PREFETCHNTA: a NOP here */
    EXPECT_EQ(strcmp(optab[in.op].handler, "nop"), 0);
    EXPECT_EQ(dec(&in, "F3 0F 1E FB", DECODE_32), DECODE_OK); /* ENDBR32 */
    EXPECT_EQ(in.len, 4); EXPECT_EQ(strcmp(optab[in.op].handler, "nop"), 0);
    EXPECT_EQ(dec(&in, "F3 90", DECODE_32), DECODE_OK); EXPECT_OP(in, "PAUSE");
    EXPECT_EQ(dec(&in, "F3 0F BC C1", DECODE_32), DECODE_OK); EXPECT_OP(in, "BSF");
    EXPECT_EQ(dec(&in, "F3 0F BD C1", DECODE_32), DECODE_OK); EXPECT_OP(in, "BSR");
    EXPECT_EQ(dec(&in, "0F 34", DECODE_32), DECODE_OK); EXPECT_OP(in, "SYSENTER");
    EXPECT_EQ(dec(&in, "0F 44 C1", DECODE_32), DECODE_OK); EXPECT_OP(in, "CMOVe_GvEv");
    EXPECT_EQ(dec(&in, "0F A2", DECODE_32), DECODE_OK); EXPECT_OP(in, "CPUID");
    EXPECT_EQ(dec(&in, "0F 0B", DECODE_32), DECODE_OK); EXPECT_OP(in, "UD2");
    /* MMX/SSE rows decode with their feature bit: #UD while CPUID lacks it */
    EXPECT_EQ(dec(&in, "0F 6F C1", DECODE_32), DECODE_OK);
    EXPECT((optab[in.op].attrs & A_MMX) != 0);
    EXPECT_EQ(dec(&in, "66 0F 6F C1", DECODE_32), DECODE_OK);
    EXPECT((optab[in.op].attrs & A_FEATURES) != 0);
    EXPECT_EQ(dec(&in, "0F AE 00", DECODE_32), DECODE_OK);  /* FXSAVE */
    EXPECT((optab[in.op].attrs & A_FXSR) != 0);
}

static void test_group_selection(void)
{
    struct insn in;
    /* the reg field picks the row; F6 /1 is TEST's alias */
    EXPECT_EQ(dec(&in, "F6 C8 01", DECODE_32), DECODE_OK); EXPECT_OP(in, "TEST_EbIb_F6_1");
    EXPECT_EQ(in.len, 3);
    EXPECT_EQ(dec(&in, "F7 D8", DECODE_32), DECODE_OK); EXPECT_OP(in, "NEG_Ev");
    EXPECT_EQ(dec(&in, "FE D0", DECODE_32), DECODE_UD);  /* FE /2 */
    EXPECT_EQ(dec(&in, "FF F8", DECODE_32), DECODE_UD);  /* FF /7 */
    EXPECT_EQ(dec(&in, "C6 C8 01", DECODE_32), DECODE_UD); /* C6 /1 */
    EXPECT_EQ(dec(&in, "C1 F8 04", DECODE_32), DECODE_OK); EXPECT_OP(in, "SAR_EvIb");
    EXPECT_EQ(in.imm, 4); EXPECT_TEXT(in, 0, "sar eax, 0x4");
    EXPECT_EQ(dec(&in, "D1 E0", DECODE_32), DECODE_OK); EXPECT_TEXT(in, 0, "shl eax, 1");
    EXPECT_EQ(dec(&in, "0F BA E0 05", DECODE_32), DECODE_OK); EXPECT_OP(in, "BT_EvIb");
    EXPECT_EQ(dec(&in, "0F BA C0 05", DECODE_32), DECODE_UD); /* 0F BA /0 */
    /* Zv opcodes */
    EXPECT_EQ(dec(&in, "5F", DECODE_32), DECODE_OK); EXPECT_OP(in, "POP_Zv"); EXPECT_EQ(in.opnd[0].reg, 7);
    EXPECT_EQ(dec(&in, "0F CB", DECODE_32), DECODE_OK); EXPECT_OP(in, "BSWAP"); EXPECT_EQ(in.opnd[0].reg, 3);
    EXPECT_EQ(dec(&in, "66 B9 34 12", DECODE_32), DECODE_OK); EXPECT_OP(in, "MOV_ZvIv");
    EXPECT_EQ(in.opnd[0].reg, 1); EXPECT_EQ(in.opnd[0].size, 2); EXPECT_EQ(in.imm, 0x1234);
    EXPECT_EQ(dec(&in, "B4 7F", DECODE_16), DECODE_OK); EXPECT_TEXT(in, 0, "mov ah, 0x7f");
    /* string ops: jcxz by address size */
    EXPECT_EQ(dec(&in, "67 E3 00", DECODE_32), DECODE_OK); EXPECT_TEXT(in, 0, "jcxz 0x3");
    EXPECT_EQ(dec(&in, "E3 00", DECODE_32), DECODE_OK); EXPECT_TEXT(in, 0, "jecxz 0x2");
}

/* decode() has a fast path (taken with at least 15 readable bytes) and a
 * general path; both must give the same insn, field for field. With 14
 * bytes only the general path runs, with 40 (and 20: a padded copy) the fast
 * one where it can. Compared unless the 14-byte decode wants more bytes (a
 * 15-byte instruction or #GP). Random bytes, biased to prefixes, 0F and
 * ModRM/SIB forms; xorshift with a fixed seed. */
static void test_fast_path_agrees(void)
{
    uint64_t x = 0x2545F4914F6CDD1Dull;
    long bad = 0, ok = 0;
    static const uint8_t pfx[] = { 0x66, 0x67, 0xF2, 0xF3, 0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65, 0x0F, 0xF0 };
    for (long i = 0; i < 2000000 && bad < 5; i++) {
        uint8_t b[40];
        for (int k = 0; k < 40; k += 8) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            memcpy(b + k, &x, 8);
        }
        unsigned np = (unsigned)(x >> 61);          /* 0-7 leading prefix/escape bytes */
        for (unsigned k = 0; k < np && k < 3; k++) b[k] = pfx[(x >> (8 * k)) % sizeof pfx];
        unsigned mode = (unsigned)(x >> 40) & 1;
        struct insn a, c, d;
        memset(&a, 0xA5, sizeof a);
        memset(&c, 0x5A, sizeof c);
        memset(&d, 0x3C, sizeof d);
        int ra = decode(&a, b, 14, mode), rc = decode(&c, b, 40, mode), rd = decode(&d, b, 20, mode);
        if (rc != rd || (rc == DECODE_OK && memcmp(&c, &d, sizeof c))) {
            printf("  40/20 bytes differ (mode %u): rc %d/%d\n", mode, rc, rd);
            bad++;
            continue;
        }
        if (ra == DECODE_MORE) continue;
        if (ra != rc || (ra == DECODE_OK && memcmp(&a, &c, sizeof a))) {
            printf("  fast/general differ (mode %u): rc %d/%d len %u/%u op %u/%u:", mode, rc, ra, c.len, a.len, c.op, a.op);
            for (int k = 0; k < 15; k++) printf(" %02x", b[k]);
            printf("\n");
            bad++;
        } else if (ra == DECODE_OK) ok++;
    }
    EXPECT_EQ(bad, 0);
    EXPECT(ok > 1000000);
}

int main(void)
{
    decode_init();
    RUN(test_prefixes);
    RUN(test_length_limit);
    RUN(test_more_bytes);
    RUN(test_lock);
    RUN(test_modrm16);
    RUN(test_modrm32);
    RUN(test_moffs_far_enter);
    RUN(test_x87);
    RUN(test_system_forms);
    RUN(test_group_selection);
    RUN(test_fast_path_agrees);
    return test_summary();
}

/* tests/unit/test_fpu.c - the x87 FPU of the interpreter (cpu/ops_fpu.c).
 *
 * Short x87 programs run through interp_step, mostly in a flat 32-bit
 * protected-mode setup (code at 0x1000, data at 0x3000), the exception
 * tests in real mode (delivery through the IVT). Results are compared with
 * hand-checked values (1/3 in each precision, FBSTP digits, FIST rounding,
 * indefinites, FXAM classes, layouts) and with the host computing the same
 * arithmetic in C long double under the same rounding mode.
 */
#include "test.h"
#include "cpu/cpu.h"
#include "cpu/fpu_state.h"
#include "mem/mem.h"
#include <fenv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static struct mem *m;
static uint8_t *ram;

#define CODE 0x1000u
#define DATA 0x3000u

/* ---- a tiny assembler ---- */
struct prog { uint8_t b[512]; unsigned n; };
static void emitn(struct prog *p, const uint8_t *b, unsigned n) { memcpy(p->b + p->n, b, n); p->n += n; }
#define E(p, ...) emitn((p), (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }))
/* op /reg [disp32] (32-bit addressing) */
static void M32(struct prog *p, uint8_t op, unsigned reg, uint32_t a)
{
    E(p, op, (uint8_t)(reg << 3 | 5), (uint8_t)a, (uint8_t)(a >> 8), (uint8_t)(a >> 16), (uint8_t)(a >> 24));
}
/* op /reg [disp16] (16-bit addressing) */
static void M16(struct prog *p, uint8_t op, unsigned reg, uint16_t a)
{
    E(p, op, (uint8_t)(reg << 3 | 6), (uint8_t)a, (uint8_t)(a >> 8));
}

/* common forms by memory address */
#define FLD64(p, a)   M32(p, 0xDD, 0, a)
#define FLD32(p, a)   M32(p, 0xD9, 0, a)
#define FLD80(p, a)   M32(p, 0xDB, 5, a)
#define FSTP64(p, a)  M32(p, 0xDD, 3, a)
#define FSTP32(p, a)  M32(p, 0xD9, 3, a)
#define FSTP80(p, a)  M32(p, 0xDB, 7, a)
#define FLDCW(p, a)   M32(p, 0xD9, 5, a)
#define FNSTSW(p, a)  M32(p, 0xDD, 7, a)
#define FNINIT(p)     E(p, 0xDB, 0xE3)
#define HLT(p)        E(p, 0xF4)

static void setup32(struct cpu *c, const struct prog *p)
{
    memset(ram, 0, 1 << 20);
    memcpy(ram + CODE, p->b, p->n);
    cpu_init(c, m, NULL);
    c->cr[0] |= 1;                                   /* PE */
    for (int s = 0; s < 6; s++)
        c->seg[s] = (struct seg){ .sel = s == SEG_CS ? 0x08 : 0x10, .base = 0, .limit = 0xFFFFFFFFu,
                                  .ar = s == SEG_CS ? 0xC9B : 0xC93 };
    c->eip = CODE;
    c->r[R_ESP] = 0x8000;
}

/* real mode: code at 0000:1000, IVT handlers at 0000:7E00+8*vec (HLT) */
static void setup16(struct cpu *c, const struct prog *p)
{
    memset(ram, 0, 1 << 20);
    memcpy(ram + CODE, p->b, p->n);
    cpu_init(c, m, NULL);
    c->seg[SEG_CS].sel = 0; c->seg[SEG_CS].base = 0;
    c->eip = CODE;
    c->r[R_ESP] = 0x7000;
    for (unsigned v = 0; v < 32; v++) {
        unsigned h = 0x7E00 + 8 * v;
        ram[4 * v] = (uint8_t)h; ram[4 * v + 1] = (uint8_t)(h >> 8); ram[4 * v + 2] = 0; ram[4 * v + 3] = 0;
        ram[h] = 0xF4;
    }
}

static int run(struct cpu *c)
{
    for (int i = 0; i < 10000; i++) {
        int r = interp_step(c);
        if (r == EXIT_HLT || r == EXIT_UNIMPL || r == EXIT_RESET) return r;
    }
    return -2;
}

/* data helpers */
static void put_d(uint32_t a, double v) { memcpy(ram + a, &v, 8); }
static void put_f(uint32_t a, float v) { memcpy(ram + a, &v, 4); }
static void put_ld(uint32_t a, long double v) { memcpy(ram + a, &v, 10); }
static void put_u16(uint32_t a, uint16_t v) { memcpy(ram + a, &v, 2); }
static void put_u32(uint32_t a, uint32_t v) { memcpy(ram + a, &v, 4); }
static void put_u64(uint32_t a, uint64_t v) { memcpy(ram + a, &v, 8); }
static double get_d(uint32_t a) { double v; memcpy(&v, ram + a, 8); return v; }
static uint16_t get_u16(uint32_t a) { uint16_t v; memcpy(&v, ram + a, 2); return v; }
static uint32_t get_u32(uint32_t a) { uint32_t v; memcpy(&v, ram + a, 4); return v; }
static uint64_t get_u64(uint32_t a) { uint64_t v; memcpy(&v, ram + a, 8); return v; }
static long double get_ld(uint32_t a) { long double v = 0; memcpy(&v, ram + a, 10); return v; }
static long double st(const struct cpu *c, unsigned i)
{
    uint8_t b[10];
    long double v = 0;
    fpu_get_st(c, i, b);
    memcpy(&v, b, 10);
    return v;
}
static uint64_t st_mant(const struct cpu *c, unsigned i) { uint8_t b[10]; uint64_t v; fpu_get_st(c, i, b); memcpy(&v, b, 8); return v; }
static uint16_t st_exp(const struct cpu *c, unsigned i) { uint8_t b[10]; fpu_get_st(c, i, b); return (uint16_t)(b[8] | b[9] << 8); }
static bool same_ld(long double a, long double b) { return memcmp(&a, &b, 10) == 0; }
static unsigned tag(const struct cpu *c, unsigned i) { return (c->fpu.tw >> (2 * fpu_phys(c, i))) & 3; }

/* control words: RC in bits 10-11, PC in bits 8-9 */
static uint16_t cw_of(unsigned rc, unsigned pc) { return (uint16_t)(0x007F | pc << 8 | rc << 10); }
#define PC24 0
#define PC53 2
#define PC64 3
#define RC_NEAR 0
#define RC_DOWN 1
#define RC_UP 2
#define RC_CHOP 3

/* ------------------------------------------------------------------ */

static void test_fninit_state(void)
{
    struct prog p = { .n = 0 };
    E(&p, 0xD9, 0xE8);            /* fld1 (before init: reset cw 0x0040) */
    FNINIT(&p);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    EXPECT_EQ(c.fpu.cw, 0x0040);
    EXPECT_EQ(c.fpu.tw, 0x5555);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.fpu.cw, 0x037F);
    EXPECT_EQ(c.fpu.sw, 0);
    EXPECT_EQ(c.fpu.tw, 0xFFFF);
    EXPECT_EQ(c.fpu.fip, 0);
    cpu_free(&c);
}

static void test_load_add_store(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA);
    M32(&p, 0xDC, 0, DATA + 8);   /* fadd qword [b] */
    FSTP64(&p, DATA + 16);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 1.5); put_d(DATA + 8, 2.25);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(get_d(DATA + 16) == 3.75);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 0);
    EXPECT_EQ(c.fpu.tw, 0xFFFF);
    EXPECT_EQ(c.fpu.sw & 0x3F, 0);
    cpu_free(&c);
}

/* every register form of SUB/SUBR/DIV/DIVR with its operand order */
static void test_register_forms_order(void)
{
    static const struct { uint8_t op, modrm; int kind; bool pop; } f[] = {
        /* kind: 0 st0=st0-st1, 1 st0=st1-st0, 2 st1=st1-st0, 3 st1=st0-st1,
         *       4 st0=st0/st1, 5 st0=st1/st0, 6 st1=st1/st0, 7 st1=st0/st1 */
        { 0xD8, 0xE1, 0, false }, { 0xD8, 0xE9, 1, false },
        { 0xDC, 0xE9, 2, false }, { 0xDC, 0xE1, 3, false },
        { 0xDE, 0xE9, 2, true },  { 0xDE, 0xE1, 3, true },
        { 0xD8, 0xF1, 4, false }, { 0xD8, 0xF9, 5, false },
        { 0xDC, 0xF9, 6, false }, { 0xDC, 0xF1, 7, false },
        { 0xDE, 0xF9, 6, true },  { 0xDE, 0xF1, 7, true },
    };
    for (unsigned k = 0; k < sizeof f / sizeof f[0]; k++) {
        struct prog p = { .n = 0 };
        FNINIT(&p);
        FLD64(&p, DATA);          /* st1 = 10 */
        FLD64(&p, DATA + 8);      /* st0 = 4  */
        E(&p, f[k].op, f[k].modrm);
        HLT(&p);
        struct cpu c; setup32(&c, &p);
        put_d(DATA, 10.0); put_d(DATA + 8, 4.0);
        EXPECT_EQ(run(&c), EXIT_HLT);
        long double s0 = 4.0L, s1 = 10.0L, want;
        switch (f[k].kind) {
        case 0: want = s0 - s1; break;
        case 1: want = s1 - s0; break;
        case 2: want = s1 - s0; break;
        case 3: want = s0 - s1; break;
        case 4: want = s0 / s1; break;
        case 5: want = s1 / s0; break;
        case 6: want = s1 / s0; break;
        default: want = s0 / s1; break;
        }
        unsigned dst = (f[k].kind & 3) >= 2 ? 1 : 0;
        if (f[k].pop) {
            EXPECT_EQ(FSW_TOP(c.fpu.sw), 7);
            EXPECT(same_ld(st(&c, 0), want));
        } else {
            EXPECT(same_ld(st(&c, dst), want));
            EXPECT(same_ld(st(&c, 1 - dst), dst ? s0 : s1));
        }
        if (!same_ld(st(&c, f[k].pop ? 0 : dst), want)) printf("  form %02x %02x\n", f[k].op, f[k].modrm);
        cpu_free(&c);
    }
}

static void test_integer_memory_forms(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA);              /* 100.5 */
    M32(&p, 0xDA, 0, DATA + 8);   /* fiadd dword [-7]   -> 93.5  */
    M32(&p, 0xDE, 1, DATA + 12);  /* fimul word [3]     -> 280.5 */
    M32(&p, 0xDA, 5, DATA + 16);  /* fisubr dword [1000]-> 719.5 */
    M32(&p, 0xDE, 7, DATA + 20);  /* fidivr word [1439] -> 2     */
    M32(&p, 0xDA, 4, DATA + 16);  /* fisub dword [1000] -> -998  */
    M32(&p, 0xDE, 6, DATA + 12);  /* fidiv word [3]     -> -332.666.. */
    FSTP80(&p, DATA + 32);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 100.5); put_u32(DATA + 8, (uint32_t)-7); put_u16(DATA + 12, 3);
    put_u32(DATA + 16, 1000); put_u16(DATA + 20, 1439);
    EXPECT_EQ(run(&c), EXIT_HLT);
    volatile long double three = 3;
    long double want = -998.0L / three;
    EXPECT(same_ld(get_ld(DATA + 32), want));
    EXPECT_EQ(c.fpu.sw & FSW_PE, FSW_PE);
    cpu_free(&c);
}

/* 1/3 in each precision control: hand-checked significands (SDM vol. 1
 * sec. 8.1.5.2); round-up sets C1 */
static void test_one_third_precision(void)
{
    static const struct { unsigned pc; uint64_t mant; bool up; } t[] = {
        { PC24, 0xAAAAAB0000000000ull, true },
        { PC53, 0xAAAAAAAAAAAAA800ull, false },
        { PC64, 0xAAAAAAAAAAAAAAABull, true },
    };
    for (unsigned k = 0; k < 3; k++) {
        struct prog p = { .n = 0 };
        FNINIT(&p);
        FLDCW(&p, DATA + 16);
        E(&p, 0xD9, 0xE8);            /* fld1 */
        M32(&p, 0xDE, 6, DATA);       /* fidiv word [3] */
        HLT(&p);
        struct cpu c; setup32(&c, &p);
        put_u16(DATA, 3);
        put_u16(DATA + 16, cw_of(RC_NEAR, t[k].pc));
        EXPECT_EQ(run(&c), EXIT_HLT);
        EXPECT_EQ(st_mant(&c, 0), t[k].mant);
        EXPECT_EQ(st_exp(&c, 0), 0x3FFD);
        EXPECT_EQ(c.fpu.sw & FSW_PE, FSW_PE);
        EXPECT_EQ(!!(c.fpu.sw & FSW_C1), t[k].up);
        cpu_free(&c);
    }
}

/* RC honoured by arithmetic: random operands against the host's long double */
static void test_rounding_vs_host(void)
{
    static const int fe[4] = { FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO };
    srand(1234);
    unsigned bad = 0;
    for (unsigned k = 0; k < 200; k++) {
        unsigned op = k & 3, rc = (k >> 2) & 3;
        double a = ((double)rand() / RAND_MAX - 0.5) * pow(2, rand() % 40 - 20);
        double b = ((double)rand() / RAND_MAX - 0.5) * pow(2, rand() % 40 - 20);
        if (b == 0) b = 1;
        struct prog p = { .n = 0 };
        FNINIT(&p);
        FLDCW(&p, DATA + 24);
        FLD64(&p, DATA);
        static const unsigned regf[4] = { 0, 4, 1, 6 };   /* fadd fsub fmul fdiv qword */
        M32(&p, 0xDC, regf[op], DATA + 8);
        FSTP80(&p, DATA + 32);
        HLT(&p);
        struct cpu c; setup32(&c, &p);
        put_d(DATA, a); put_d(DATA + 8, b);
        put_u16(DATA + 24, cw_of(rc, PC64));
        EXPECT_EQ(run(&c), EXIT_HLT);
        volatile long double x = a, y = b;
        fesetround(fe[rc]);
        volatile long double r = op == 0 ? x + y : op == 1 ? x - y : op == 2 ? x * y : x / y;
        fesetround(FE_TONEAREST);
        if (!same_ld(get_ld(DATA + 32), r)) bad++;
        cpu_free(&c);
    }
    EXPECT_EQ(bad, 0);
}

/* FIST/FISTP honour RC: 2.5 and -2.5 (SDM vol. 1 table 4-8) */
static void test_fist_rounding_modes(void)
{
    static const int32_t want[4][2] = { { 2, -2 }, { 2, -3 }, { 3, -2 }, { 2, -2 } };
    for (unsigned rc = 0; rc < 4; rc++) {
        struct prog p = { .n = 0 };
        FNINIT(&p);
        FLDCW(&p, DATA + 24);
        FLD64(&p, DATA);
        M32(&p, 0xDB, 3, DATA + 32);  /* fistp dword */
        FLD64(&p, DATA + 8);
        M32(&p, 0xDF, 3, DATA + 36);  /* fistp word */
        FLD64(&p, DATA + 8);
        M32(&p, 0xDF, 7, DATA + 40);  /* fistp qword */
        HLT(&p);
        struct cpu c; setup32(&c, &p);
        put_d(DATA, 2.5); put_d(DATA + 8, -2.5);
        put_u16(DATA + 24, cw_of(rc, PC64));
        EXPECT_EQ(run(&c), EXIT_HLT);
        EXPECT_EQ((int32_t)get_u32(DATA + 32), want[rc][0]);
        EXPECT_EQ((int16_t)get_u16(DATA + 36), want[rc][1]);
        EXPECT_EQ((int64_t)get_u64(DATA + 40), want[rc][1]);
        EXPECT_EQ(FSW_TOP(c.fpu.sw), 0);
        EXPECT_EQ(c.fpu.sw & FSW_PE, FSW_PE);
        cpu_free(&c);
    }
}

/* FBSTP 123456789012345678 and FBLD back (SDM vol. 1 fig. 4-9) */
static void test_fbstp_fbld(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    M32(&p, 0xDF, 5, DATA);           /* fild qword */
    M32(&p, 0xDF, 6, DATA + 16);      /* fbstp */
    E(&p, 0xD9, 0xE8);                /* fld1: fbld must push over it */
    M32(&p, 0xDF, 4, DATA + 32);      /* fbld [-98765] */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_u64(DATA, 123456789012345678ull);
    static const uint8_t neg[10] = { 0x65, 0x87, 0x09, 0, 0, 0, 0, 0, 0, 0x80 };
    memcpy(ram + DATA + 32, neg, 10);
    EXPECT_EQ(run(&c), EXIT_HLT);
    static const uint8_t want[10] = { 0x78, 0x56, 0x34, 0x12, 0x90, 0x78, 0x56, 0x34, 0x12, 0x00 };
    EXPECT(!memcmp(ram + DATA + 16, want, 10));
    EXPECT(st(&c, 0) == -98765.0L);
    EXPECT(st(&c, 1) == 1.0L);
    cpu_free(&c);
}

/* an empty ST(1): the masked response is the QNaN indefinite, IE|SF, C1=0 */
static void test_stack_underflow(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    E(&p, 0xD9, 0xE8);                /* fld1 */
    E(&p, 0xD8, 0xC1);                /* fadd st0, st1 (empty) */
    FNSTSW(&p, DATA);
    E(&p, 0xDD, 0xD9);                /* fstp st1 */
    E(&p, 0xDD, 0xD8);                /* fstp st0 */
    M32(&p, 0xDB, 3, DATA + 8);       /* fistp dword from empty -> integer indefinite */
    M32(&p, 0xDF, 3, DATA + 12);      /* fistp word from empty */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    uint16_t sw = get_u16(DATA);
    EXPECT_EQ(sw & (FSW_IE | FSW_SF | FSW_C1), FSW_IE | FSW_SF);
    EXPECT_EQ(get_u32(DATA + 8), 0x80000000u);
    EXPECT_EQ(get_u16(DATA + 12), 0x8000);
    cpu_free(&c);

    /* the indefinite itself */
    struct prog q = { .n = 0 };
    FNINIT(&q);
    E(&q, 0xD9, 0xE8);
    E(&q, 0xD8, 0xC1);
    HLT(&q);
    setup32(&c, &q);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(st_exp(&c, 0), 0xFFFF);
    EXPECT_EQ(st_mant(&c, 0), 0xC000000000000000ull);
    cpu_free(&c);
}

/* a ninth push: IE|SF with C1=1, ST(0) = indefinite */
static void test_stack_overflow(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    for (int i = 0; i < 9; i++) E(&p, 0xD9, 0xE8);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.fpu.sw & (FSW_IE | FSW_SF | FSW_C1), FSW_IE | FSW_SF | FSW_C1);
    EXPECT_EQ(st_exp(&c, 0), 0xFFFF);
    EXPECT_EQ(st_mant(&c, 0), 0xC000000000000000ull);
    EXPECT_EQ(c.fpu.tw, 0x8000);              /* ST0 (R7) special: the NaN */
    cpu_free(&c);
}

/* FXAM classes (SDM vol. 2 FXAM table 3-43) */
static void test_fxam_classes(void)
{
    const uint16_t C = FSW_C3 | FSW_C2 | FSW_C1 | FSW_C0;
    struct { long double v; bool empty; uint16_t want; } t[] = {
        { 0.0L, false, FSW_C3 },
        { -2.0L, false, FSW_C2 | FSW_C1 },
        { INFINITY, false, FSW_C2 | FSW_C0 },
        { NAN, false, FSW_C0 },
        { 0, true, FSW_C3 | FSW_C0 },
        { 0, false, FSW_C3 | FSW_C2 },     /* denormal, built below */
    };
    for (unsigned k = 0; k < 6; k++) {
        struct prog p = { .n = 0 };
        FNINIT(&p);
        if (!t[k].empty) FLD80(&p, DATA);
        E(&p, 0xD9, 0xE5);            /* fxam */
        HLT(&p);
        struct cpu c; setup32(&c, &p);
        put_ld(DATA, t[k].v);
        if (k == 5) { put_u64(DATA, 1); put_u16(DATA + 8, 0); }
        EXPECT_EQ(run(&c), EXIT_HLT);
        uint16_t got = c.fpu.sw & C;
        if (t[k].empty) got &= (uint16_t)~FSW_C1;     /* C1 = sign of whatever */
        EXPECT_EQ(got, t[k].want);
        cpu_free(&c);
    }
}

/* FPREM with a huge exponent difference gives a partial remainder (C2=1);
 * repeating it until C2=0 gives fmod; the quotient bits land in C0 C3 C1 */
static void test_fprem_partial(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA + 8);              /* st1 = 3 */
    FLD64(&p, DATA);                  /* st0 = 1e30 */
    E(&p, 0xD9, 0xF8);                /* fprem */
    FNSTSW(&p, DATA + 16);
    /* loop: fprem; fnstsw ax; test ah,4; jnz loop */
    E(&p, 0xD9, 0xF8, 0xDF, 0xE0, 0xF6, 0xC4, 0x04, 0x75, 0xF7);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 1e30); put_d(DATA + 8, 3.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(get_u16(DATA + 16) & FSW_C2, FSW_C2);
    EXPECT_EQ(c.fpu.sw & FSW_C2, 0);
    EXPECT(same_ld(st(&c, 0), fmodl((long double)1e30, 3.0L)));
    EXPECT(st(&c, 1) == 3.0L);
    cpu_free(&c);

    /* 7 rem 2 = 1, quotient 3: Q0=C1, Q1=C3, Q2=C0 */
    struct prog q = { .n = 0 };
    FNINIT(&q);
    FLD64(&q, DATA + 8);
    FLD64(&q, DATA);
    E(&q, 0xD9, 0xF8);
    HLT(&q);
    setup32(&c, &q);
    put_d(DATA, 7.0); put_d(DATA + 8, 2.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(st(&c, 0) == 1.0L);
    EXPECT_EQ(c.fpu.sw & (FSW_C0 | FSW_C1 | FSW_C2 | FSW_C3), FSW_C1 | FSW_C3);
    cpu_free(&c);
}

/* FPREM1 is IEEE: 7 rem 2 -> -1 (quotient rounded to even 4) */
static void test_fprem1(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA + 8);
    FLD64(&p, DATA);
    E(&p, 0xD9, 0xF5);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 7.0); put_d(DATA + 8, 2.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(st(&c, 0) == -1.0L);
    cpu_free(&c);
}

/* FNSAVE (32-bit protected-mode layout) then FRSTOR restores the state */
static void test_fnsave_frstor_roundtrip(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLDCW(&p, DATA);                  /* cw 0x0B7F */
    E(&p, 0xD9, 0xE8);                /* fld1 */
    E(&p, 0xD9, 0xEB);                /* fldpi */
    uint32_t fld_at = CODE + p.n;
    FLD64(&p, DATA + 8);              /* fld qword [2.5]: last FIP/FDP */
    M32(&p, 0xDD, 6, DATA + 0x100);   /* fnsave */
    FNSTSW(&p, DATA + 16);            /* after: init state */
    M32(&p, 0xD9, 7, DATA + 18);      /* fnstcw */
    M32(&p, 0xDD, 4, DATA + 0x100);   /* frstor */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_u16(DATA, 0x0B7F);
    put_d(DATA + 8, 2.5);
    EXPECT_EQ(run(&c), EXIT_HLT);
    const uint32_t s = DATA + 0x100;
    EXPECT_EQ(get_u16(s), 0x0B7F);
    EXPECT_EQ(get_u16(s + 2), 0xFFFF);
    EXPECT_EQ(get_u16(s + 4), 5u << 11);      /* TOP = 5 */
    EXPECT_EQ(get_u16(s + 8), 0x03FF);        /* R5 R6 R7 valid, rest empty */
    EXPECT_EQ(get_u32(s + 12), fld_at);       /* FIP */
    EXPECT_EQ(get_u16(s + 16), 0x08);         /* FCS */
    EXPECT_EQ(get_u16(s + 18), 0x505);        /* FOP: DD 05 */
    EXPECT_EQ(get_u32(s + 20), DATA + 8);     /* FDP */
    EXPECT_EQ(get_u16(s + 24), 0x10);         /* FDS */
    EXPECT(get_ld(s + 28) == 2.5L);
    EXPECT(get_ld(s + 38) == 3.14159265358979323851L);
    EXPECT(get_ld(s + 48) == 1.0L);
    EXPECT_EQ(get_u16(DATA + 16), 0);
    EXPECT_EQ(get_u16(DATA + 18), 0x037F);
    EXPECT_EQ(c.fpu.cw, 0x0B7F);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 5);
    EXPECT_EQ(tag(&c, 0), 0);
    EXPECT_EQ(tag(&c, 3), 3);
    EXPECT(st(&c, 0) == 2.5L);
    EXPECT(st(&c, 2) == 1.0L);
    EXPECT_EQ(c.fpu.fip, fld_at);
    EXPECT_EQ(c.fpu.fdp, DATA + 8);
    cpu_free(&c);
}

/* real-mode 16-bit FNSAVE layout: 20-bit linear FIP/FDP with FOP */
static void test_fnsave_real16_layout(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    E(&p, 0xD9, 0xEE);                /* fldz */
    M16(&p, 0xDD, 0, DATA + 8);       /* fld qword [DATA+8] */
    M16(&p, 0xDD, 6, DATA + 0x100);   /* fnsave (o16) */
    M16(&p, 0xDD, 4, DATA + 0x100);   /* frstor */
    HLT(&p);
    struct cpu c; setup16(&c, &p);
    c.seg[SEG_CS].sel = 0x0100; c.seg[SEG_CS].base = 0x1000; c.eip = 0;
    memmove(ram + 0x1000, ram + CODE, p.n);
    c.seg[SEG_DS].sel = 0x0200; c.seg[SEG_DS].base = 0x2000;
    put_d(0x2000 + DATA + 8, -1.25);
    EXPECT_EQ(run(&c), EXIT_HLT);
    const uint32_t s = 0x2000 + DATA + 0x100;
    uint32_t fld_lin = 0x1000 + 2 + 2;
    EXPECT_EQ(get_u16(s), 0x037F);
    EXPECT_EQ(get_u16(s + 2), 6u << 11);
    EXPECT_EQ(get_u16(s + 4), 0x4FFF);        /* R6 valid (00), R7 zero (01) */
    EXPECT_EQ(get_u16(s + 6), fld_lin & 0xFFFF);
    EXPECT_EQ(get_u16(s + 8), ((fld_lin >> 16) << 12) | 0x506);
    uint32_t dlin = 0x2000 + DATA + 8;
    EXPECT_EQ(get_u16(s + 10), dlin & 0xFFFF);
    EXPECT_EQ(get_u16(s + 12), (dlin >> 16) << 12);
    EXPECT(get_ld(s + 14) == -1.25L);
    EXPECT(get_ld(s + 24) == 0.0L);
    EXPECT(st(&c, 0) == -1.25L);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 6);
    EXPECT_EQ(c.fpu.fip, fld_lin);            /* linear after FRSTOR in real mode */
    cpu_free(&c);
}

/* FCOMI/FUCOMI/FCOMIP set ZF PF CF, clear OF SF AF (SDM vol. 2 FCOMI) */
static void test_fcomi_flags(void)
{
    static const struct { double a, b; uint32_t fl; } t[] = {
        { 1.0, 2.0, FL_CF }, { 2.0, 2.0, FL_ZF }, { 3.0, 2.0, 0 }, { NAN, 2.0, FL_ZF | FL_PF | FL_CF },
    };
    for (unsigned k = 0; k < 4; k++) {
        struct prog p = { .n = 0 };
        FNINIT(&p);
        FLD64(&p, DATA + 8);          /* st1 = b */
        FLD64(&p, DATA);              /* st0 = a */
        E(&p, 0xDB, 0xE9);            /* fucomi st0, st1 */
        E(&p, 0x9C);                  /* pushfd */
        E(&p, 0xDF, 0xF1);            /* fcomip st0, st1 */
        HLT(&p);
        struct cpu c; setup32(&c, &p);
        put_d(DATA, t[k].a); put_d(DATA + 8, t[k].b);
        c.eflags |= FL_OF | FL_SF | FL_AF;
        EXPECT_EQ(run(&c), EXIT_HLT);
        EXPECT_EQ(get_u32(0x8000 - 4) & FL_ARITH, t[k].fl);
        EXPECT_EQ(c.eflags & FL_ARITH, t[k].fl);
        EXPECT_EQ(FSW_TOP(c.fpu.sw), 7);       /* FCOMIP popped */
        /* FCOMI with a QNaN is invalid (IE), FUCOMI is not */
        EXPECT_EQ(c.fpu.sw & FSW_IE, k == 3 ? FSW_IE : 0);
        cpu_free(&c);
    }
}

/* FCOM/FTST set C3 C2 C0; FNSTSW AX carries them to SAHF-able bits */
static void test_fcom_condition_codes(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA + 8);              /* 5 */
    FLD64(&p, DATA);                  /* 3 */
    E(&p, 0xD8, 0xD1);                /* fcom st1: 3 < 5 -> C0 */
    E(&p, 0xDF, 0xE0, 0x89, 0xC3);    /* fnstsw ax; mov ebx, eax */
    E(&p, 0xD9, 0xE4);                /* ftst: 3 > 0 -> none */
    E(&p, 0xDF, 0xE0, 0x89, 0xC1);    /* fnstsw ax; mov ecx, eax */
    E(&p, 0xDE, 0xD9);                /* fcompp: 3 vs 5 (pops twice) */
    E(&p, 0xDF, 0xE0, 0x9E);          /* fnstsw ax; sahf */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 3.0); put_d(DATA + 8, 5.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.r[R_EBX] & (FSW_C0 | FSW_C2 | FSW_C3), FSW_C0);
    EXPECT_EQ(c.r[R_ECX] & (FSW_C0 | FSW_C2 | FSW_C3), 0);
    EXPECT_EQ(c.eflags & FL_CF, FL_CF);       /* C0 -> CF via SAHF */
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 0);
    EXPECT_EQ(c.fpu.tw, 0xFFFF);
    cpu_free(&c);
}

static void test_fcmov(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA + 8);              /* st1 = 7 */
    FLD64(&p, DATA);                  /* st0 = 1 */
    E(&p, 0xF8);                      /* clc */
    E(&p, 0xDA, 0xC1);                /* fcmovb: not taken */
    FSTP64(&p, DATA + 16);
    FLD64(&p, DATA);
    E(&p, 0xF9);                      /* stc */
    E(&p, 0xDA, 0xC1);                /* fcmovb: taken */
    FSTP64(&p, DATA + 24);
    FLD64(&p, DATA);
    E(&p, 0x31, 0xC0);                /* xor eax,eax: ZF=1 */
    E(&p, 0xDB, 0xC9);                /* fcmovne: not taken */
    E(&p, 0xDA, 0xD9);                /* fcmovu: PF=1 -> taken */
    FSTP64(&p, DATA + 32);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 1.0); put_d(DATA + 8, 7.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(get_d(DATA + 16) == 1.0);
    EXPECT(get_d(DATA + 24) == 7.0);
    EXPECT(get_d(DATA + 32) == 7.0);
    cpu_free(&c);
}

/* constants: FLDPI is rounded per RC (nearest ...C235, chop ...C234) */
static void test_constants_rounding(void)
{
    static const struct { unsigned rc; uint64_t pi; } t[] = {
        { RC_NEAR, 0xC90FDAA22168C235ull }, { RC_CHOP, 0xC90FDAA22168C234ull },
        { RC_DOWN, 0xC90FDAA22168C234ull }, { RC_UP, 0xC90FDAA22168C235ull },
    };
    for (unsigned k = 0; k < 4; k++) {
        struct prog p = { .n = 0 };
        FNINIT(&p);
        FLDCW(&p, DATA);
        E(&p, 0xD9, 0xEB);            /* fldpi */
        E(&p, 0xD9, 0xE8, 0xD9, 0xEE); /* fld1 fldz */
        E(&p, 0xD9, 0xEA, 0xD9, 0xE9); /* fldl2e fldl2t */
        E(&p, 0xD9, 0xEC, 0xD9, 0xED); /* fldlg2 fldln2 */
        HLT(&p);
        struct cpu c; setup32(&c, &p);
        put_u16(DATA, cw_of(t[k].rc, PC64));
        EXPECT_EQ(run(&c), EXIT_HLT);
        EXPECT_EQ(st_mant(&c, 6), t[k].pi);
        EXPECT_EQ(st_exp(&c, 6), 0x4000);
        EXPECT(st(&c, 5) == 1.0L);
        EXPECT(st(&c, 4) == 0.0L && tag(&c, 4) == 1);
        EXPECT(fabsl(st(&c, 0) - 0.693147180559945309417L) < 1e-18L);
        EXPECT(fabsl(st(&c, 1) - 0.301029995663981195214L) < 1e-18L);
        EXPECT(fabsl(st(&c, 2) - 3.32192809488736234787L) < 1e-18L);
        EXPECT(fabsl(st(&c, 3) - 1.44269504088896340736L) < 1e-18L);
        cpu_free(&c);
    }
}

/* transcendental and other unary ops against the host's libm */
static void test_transcendental(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA + 0x200);  E(&p, 0xD9, 0xFE); FSTP80(&p, DATA + 0x10);   /* fsin */
    FLD64(&p, DATA + 0x200);  E(&p, 0xD9, 0xFF); FSTP80(&p, DATA + 0x20);   /* fcos */
    FLD64(&p, DATA + 0x200);  E(&p, 0xD9, 0xFA); FSTP80(&p, DATA + 0x30);   /* fsqrt */
    FLD64(&p, DATA + 0x200);  E(&p, 0xD9, 0xF2); FSTP80(&p, DATA + 0x40);   /* fptan: pushes 1 */
    FSTP80(&p, DATA + 0x50);
    E(&p, 0xD9, 0xE8); FLD64(&p, DATA + 0x200); E(&p, 0xD9, 0xF3); FSTP80(&p, DATA + 0x60);  /* fpatan(1/x)... */
    E(&p, 0xD9, 0xE8); FLD64(&p, DATA + 0x200); E(&p, 0xD9, 0xF1); FSTP80(&p, DATA + 0x70);  /* 1*log2(x) */
    FLD64(&p, DATA + 0x200);  E(&p, 0xD9, 0xFB); FSTP80(&p, DATA + 0x80); FSTP80(&p, DATA + 0x90); /* fsincos */
    FLD64(&p, DATA + 0x208); E(&p, 0xD9, 0xF0); FSTP80(&p, DATA + 0xA0);  /* f2xm1(0.5) */
    FLD64(&p, DATA + 0x200);  FLD64(&p, DATA + 0x208); E(&p, 0xD9, 0xFC); FSTP80(&p, DATA + 0xB0); /* frndint 0.5 -> 0 */
    FNINIT(&p);
    FLD64(&p, DATA + 0x208); FLD64(&p, DATA + 0x200); E(&p, 0xD9, 0xFD); FSTP80(&p, DATA + 0xD0); /* 2 * 2^0 */
    FLD64(&p, DATA + 0x210); E(&p, 0xD9, 0xF4); FSTP80(&p, DATA + 0xE0); FSTP80(&p, DATA + 0xF0); /* fxtract 48 */
    FLD64(&p, DATA + 0x210); E(&p, 0xD9, 0xE0, 0xD9, 0xE1, 0xD9, 0xE0); FSTP80(&p, DATA + 0x100); /* -|-48| */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA + 0x200, 2.0); put_d(DATA + 0x208, 0.5); put_d(DATA + 0x210, 48.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    const long double eps = 1e-18L;
    EXPECT(fabsl(get_ld(DATA + 0x10) - sinl(2.0L)) < eps);
    EXPECT(fabsl(get_ld(DATA + 0x20) - cosl(2.0L)) < eps);
    EXPECT(same_ld(get_ld(DATA + 0x30), sqrtl(2.0L)));
    EXPECT(get_ld(DATA + 0x40) == 1.0L);
    EXPECT(fabsl(get_ld(DATA + 0x50) - tanl(2.0L)) < 1e-17L);
    EXPECT(fabsl(get_ld(DATA + 0x60) - atan2l(1.0L, 2.0L)) < eps);
    EXPECT(get_ld(DATA + 0x70) == 1.0L);
    EXPECT(fabsl(get_ld(DATA + 0x80) - cosl(2.0L)) < eps);
    EXPECT(fabsl(get_ld(DATA + 0x90) - sinl(2.0L)) < eps);
    EXPECT(fabsl(get_ld(DATA + 0xA0) - (sqrtl(2.0L) - 1)) < eps);
    EXPECT(get_ld(DATA + 0xB0) == 0.0L);
    EXPECT(get_ld(DATA + 0xD0) == 2.0L);
    EXPECT(get_ld(DATA + 0xE0) == 1.5L);      /* significand */
    EXPECT(get_ld(DATA + 0xF0) == 5.0L);      /* exponent */
    EXPECT(get_ld(DATA + 0x100) == -48.0L);
    cpu_free(&c);
}

/* loads and stores of every real format, with rounding on the way out */
static void test_real_formats(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD32(&p, DATA);                  /* 0.1f */
    FSTP64(&p, DATA + 0x10);
    FLD80(&p, DATA + 0x20);           /* pseudo-random 80-bit value */
    M32(&p, 0xD9, 2, DATA + 0x30);    /* fst dword (nearest) */
    M32(&p, 0xDD, 2, DATA + 0x38);    /* fst qword */
    FSTP80(&p, DATA + 0x40);
    FLDCW(&p, DATA + 0x60);           /* RC up */
    FLD80(&p, DATA + 0x20);
    FSTP32(&p, DATA + 0x50);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_f(DATA, 0.1f);
    long double v = 1.0L / 3.0L * 7.0L;
    put_ld(DATA + 0x20, v);
    put_u16(DATA + 0x60, cw_of(RC_UP, PC64));
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(get_d(DATA + 0x10) == (double)0.1f);
    float f; memcpy(&f, ram + DATA + 0x30, 4);
    EXPECT(f == (float)v);
    EXPECT(get_d(DATA + 0x38) == (double)v);
    EXPECT(!memcmp(ram + DATA + 0x40, ram + DATA + 0x20, 10));
    memcpy(&f, ram + DATA + 0x50, 4);
    volatile long double vv = v;
    fesetround(FE_UPWARD);
    volatile float fu = (float)vv;
    fesetround(FE_TONEAREST);
    EXPECT(f == fu);
    EXPECT(f > (float)v);
    cpu_free(&c);
}

/* FXCH, FINCSTP/FDECSTP, FFREE/FFREEP, FST ST(i) */
static void test_stack_ops(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    E(&p, 0xD9, 0xE8);                /* fld1  */
    E(&p, 0xD9, 0xEB);                /* fldpi */
    E(&p, 0xD9, 0xC9);                /* fxch st1: st0=1 st1=pi */
    E(&p, 0xDD, 0xD2);                /* fst st2 (empty) <- 1 */
    E(&p, 0xD9, 0xF7);                /* fincstp: top 7 */
    E(&p, 0xD9, 0xF6);                /* fdecstp: top 6 */
    E(&p, 0xDD, 0xC1);                /* ffree st1 */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 6);
    EXPECT(st(&c, 0) == 1.0L);
    EXPECT_EQ(tag(&c, 1), 3);
    EXPECT(st(&c, 2) == 1.0L);
    EXPECT_EQ(tag(&c, 2), 0);
    cpu_free(&c);

    struct prog q = { .n = 0 };
    FNINIT(&q);
    E(&q, 0xD9, 0xE8, 0xD9, 0xEE);    /* fld1 fldz */
    E(&q, 0xDF, 0xC0);                /* ffreep st0 */
    E(&q, 0xDD, 0xCA);                /* fxch4 st2 alias (empty st2: IE, both indefinite) */
    HLT(&q);
    setup32(&c, &q);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 7);
    EXPECT_EQ(c.fpu.sw & (FSW_IE | FSW_SF), FSW_IE | FSW_SF);
    EXPECT_EQ(st_mant(&c, 2), 1ull << 63);     /* 1.0 went to st2 */
    EXPECT_EQ(st_exp(&c, 2), 0x3FFF);
    cpu_free(&c);
}

/* FIP/FCS/FOP/FDP/FDS track the last non-control instruction */
static void test_pointers(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    uint32_t at = CODE + p.n;
    E(&p, 0x2E);                      /* cs: prefix counts in FIP */
    M32(&p, 0xDD, 0, DATA);           /* fld qword cs:[DATA] */
    M32(&p, 0xD9, 7, DATA + 8);       /* fnstcw: control, no update */
    uint32_t at2 = CODE + p.n;
    E(&p, 0xD9, 0xE1);                /* fabs: FIP moves, FDP stays */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, -3.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    (void)at;
    EXPECT_EQ(c.fpu.fip, at2);
    EXPECT_EQ(c.fpu.fcs, 0x08);
    EXPECT_EQ(c.fpu.fop, 0x1E1);
    EXPECT_EQ(c.fpu.fdp, DATA);
    EXPECT_EQ(c.fpu.fds, 0x08);               /* CS override */
    EXPECT(st(&c, 0) == 3.0L);
    cpu_free(&c);
}

/* denormal operand: DE (masked) */
static void test_denormal_operand(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA);                  /* a double denormal: DE on load */
    FNSTSW(&p, DATA + 0x20);
    E(&p, 0xDB, 0xE2);                /* fnclex */
    E(&p, 0xD9, 0xE8, 0xDE, 0xC1);    /* fld1; faddp */
    FNSTSW(&p, DATA + 0x22);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_u64(DATA, 1);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(get_u16(DATA + 0x20) & FSW_DE, FSW_DE);
    EXPECT_EQ(get_u16(DATA + 0x22) & (FSW_DE | FSW_PE), FSW_PE);   /* normalised in 80 bits */
    cpu_free(&c);
}

/* #NM: CR0.TS on an x87 instruction, EM too; WAIT only with MP&TS */
static void test_nm_ts(void)
{
    struct prog p = { .n = 0 };
    E(&p, 0x9B);                      /* wait: no #NM (MP=0) */
    E(&p, 0xD9, 0xE8);                /* fld1: #NM */
    HLT(&p);
    struct cpu c; setup16(&c, &p);
    c.cr[0] |= 0x08;                  /* TS */
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, 0x7E00 + 8 * 7 + 1);
    EXPECT_EQ(get_u16(0x7000 - 6), CODE + 1);     /* pushed IP: the fld1 */
    EXPECT_EQ(c.fpu.tw, 0x5555);                  /* nothing loaded */
    cpu_free(&c);

    setup16(&c, &p);
    c.cr[0] |= 0x0A;                  /* MP|TS: WAIT faults */
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, 0x7E00 + 8 * 7 + 1);
    EXPECT_EQ(get_u16(0x7000 - 6), CODE);
    cpu_free(&c);

    struct prog q = { .n = 0 };
    E(&q, 0x9B);                      /* wait with EM only: fine */
    E(&q, 0xDB, 0xE3);                /* fninit with EM: #NM */
    HLT(&q);
    setup16(&c, &q);
    c.cr[0] |= 0x04;                  /* EM */
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, 0x7E00 + 8 * 7 + 1);
    EXPECT_EQ(get_u16(0x7000 - 6), CODE + 1);
    cpu_free(&c);
}

/* unmasked ZE: no fault at FDIV; #MF at the next waiting instruction */
static void test_mf_next_instruction(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    M16(&p, 0xD9, 5, DATA);           /* fldcw: ZM clear */
    E(&p, 0xD9, 0xE8, 0xD9, 0xEE);    /* fld1; fldz */
    uint16_t fdiv_at = (uint16_t)(CODE + p.n);
    E(&p, 0xDE, 0xF9);                /* fdivp: 1/0 unmasked ZE */
    E(&p, 0xDF, 0xE0);                /* fnstsw ax: non-waiting, fine */
    uint16_t fadd_at = (uint16_t)(CODE + p.n);
    E(&p, 0xD8, 0xC0);                /* fadd st0, st0: #MF here */
    HLT(&p);
    struct cpu c; setup16(&c, &p);
    put_u16(DATA, 0x037B);
    c.cr[0] |= 0x20;                  /* NE */
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, 0x7E00 + 8 * 16 + 1);
    EXPECT_EQ(get_u16(0x7000 - 6), fadd_at);
    EXPECT_EQ(c.r[R_EAX] & (FSW_ZE | FSW_ES | FSW_B), FSW_ZE | FSW_ES | FSW_B);
    EXPECT_EQ(c.fpu.fip, fdiv_at);
    EXPECT_EQ(c.fpu.fop, 0x6F9);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 6);              /* unmasked: no pop, operands kept */
    EXPECT(st(&c, 0) == 0.0L);
    EXPECT(st(&c, 1) == 1.0L);
    EXPECT(!fpu_ferr(&c));
    cpu_free(&c);
}

/* NE=0: no #MF, FERR# asserted until FNCLEX */
static void test_ferr_legacy(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    M16(&p, 0xD9, 5, DATA);
    E(&p, 0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9);    /* fld1 fldz fdivp */
    E(&p, 0x9B);                                  /* wait: no #MF with NE=0 */
    E(&p, 0xF4);                                  /* hlt (check FERR here) */
    E(&p, 0xDB, 0xE2);                            /* fnclex */
    HLT(&p);
    struct cpu c; setup16(&c, &p);
    put_u16(DATA, 0x037B);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, CODE + p.n - 3);
    EXPECT(fpu_ferr(&c));
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(!fpu_ferr(&c));
    EXPECT_EQ(c.fpu.sw & 0x80FF, 0);
    cpu_free(&c);
}

/* FLDCW unmasking an already-flagged exception sets ES: #MF next */
static void test_fldcw_unmask_pending(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    E(&p, 0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9);    /* masked 1/0: ZE flag, no ES */
    M16(&p, 0xDD, 7, DATA + 2);                   /* fnstsw */
    M16(&p, 0xD9, 5, DATA);                       /* fldcw: unmask ZE -> ES */
    uint16_t at = (uint16_t)(CODE + p.n);
    E(&p, 0x9B);                                  /* wait: #MF */
    HLT(&p);
    struct cpu c; setup16(&c, &p);
    put_u16(DATA, 0x037B);
    c.cr[0] |= 0x20;
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(get_u16(DATA + 2) & (FSW_ZE | FSW_ES), FSW_ZE);
    EXPECT(st(&c, 0) == INFINITY);
    EXPECT_EQ(c.eip, 0x7E00 + 8 * 16 + 1);
    EXPECT_EQ(get_u16(0x7000 - 6), at);
    cpu_free(&c);
}

/* FNSTENV (32-bit PM) masks all exceptions; FLDENV brings them back */
static void test_fnstenv_fldenv(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLDCW(&p, DATA);                  /* 0x0372: IM DM ZM OM UM cleared? no: 0x0362 */
    E(&p, 0xD9, 0xE8);
    M32(&p, 0xD9, 6, DATA + 0x40);    /* fnstenv */
    M32(&p, 0xD9, 7, DATA + 8);       /* fnstcw: all masked now */
    E(&p, 0xD9, 0xE8);                /* fld1 */
    M32(&p, 0xD9, 4, DATA + 0x40);    /* fldenv: cw back, TOP back to 7 */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_u16(DATA, 0x0362);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(get_u16(DATA + 0x40), 0x0362);
    EXPECT_EQ(get_u16(DATA + 0x44), 7u << 11);
    EXPECT_EQ(get_u16(DATA + 0x48), 0x3FFF);
    EXPECT_EQ(get_u16(DATA + 8), 0x037F);
    EXPECT_EQ(c.fpu.cw, 0x0362);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 7);
    EXPECT_EQ(tag(&c, 0), 0);
    EXPECT_EQ(tag(&c, 7), 3);
    cpu_free(&c);
}

/* unmasked IE on FISTP overflow: memory and stack untouched */
static void test_unmasked_store_keeps_memory(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLDCW(&p, DATA);                  /* IM clear */
    FLD64(&p, DATA + 8);              /* 1e20 */
    M32(&p, 0xDB, 3, DATA + 16);      /* fistp dword: invalid */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_u16(DATA, 0x037E);
    put_d(DATA + 8, 1e20);
    put_u32(DATA + 16, 0x12345678);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(get_u32(DATA + 16), 0x12345678u);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 7);
    EXPECT(st(&c, 0) == 1e20L);
    EXPECT_EQ(c.fpu.sw & (FSW_IE | FSW_ES | FSW_B), FSW_IE | FSW_ES | FSW_B);
    cpu_free(&c);

    /* masked: the integer indefinite */
    setup32(&c, &p);
    put_u16(DATA, 0x037F);
    put_d(DATA + 8, 1e20);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(get_u32(DATA + 16), 0x80000000u);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 0);
    cpu_free(&c);
}

/* a faulting memory operand (#GP past the DS limit) leaves the FPU alone */
static void test_fault_no_partial_state(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    E(&p, 0xD9, 0xE8);                /* fld1 */
    M16(&p, 0xDD, 0, 0xFFFC);         /* fld qword [0xFFFC]: past the limit */
    HLT(&p);
    struct cpu c; setup16(&c, &p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, 0x7E00 + 8 * 13 + 1);
    EXPECT_EQ(FSW_TOP(c.fpu.sw), 7);
    EXPECT(st(&c, 0) == 1.0L);
    EXPECT_EQ(c.fpu.fop, 0x1E8);              /* still the fld1 */
    cpu_free(&c);
}

/* unmasked overflow re-biases the exponent (SDM vol. 1 sec. 4.9.1.4) */
static void test_unmasked_overflow_bias(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLDCW(&p, DATA);                  /* OM clear */
    FLD80(&p, DATA + 16);             /* 2^16000 */
    E(&p, 0xD8, 0xC8);                /* fmul st0, st0 -> 2^32000: overflow */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_u16(DATA, 0x0377);
    put_u64(DATA + 16, 1ull << 63); put_u16(DATA + 24, 0x3FFF + 16000);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.fpu.sw & (FSW_OE | FSW_ES), FSW_OE | FSW_ES);
    EXPECT_EQ(st_exp(&c, 0), 0x3FFF + 32000 - 0x6000);
    cpu_free(&c);
}

/* FILD of every integer size; FIST m16 overflow gives 0x8000 */
static void test_integer_loads(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    M32(&p, 0xDF, 0, DATA);           /* fild word -5 */
    M32(&p, 0xDB, 0, DATA + 4);       /* fild dword 0x7fffffff */
    M32(&p, 0xDF, 5, DATA + 8);       /* fild qword -2^62 */
    M32(&p, 0xDF, 2, DATA + 16);      /* fist word: -2^62 -> overflow -> 0x8000 */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_u16(DATA, (uint16_t)-5); put_u32(DATA + 4, 0x7FFFFFFF); put_u64(DATA + 8, (uint64_t)-(1ll << 62));
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(st(&c, 2) == -5.0L);
    EXPECT(st(&c, 1) == 2147483647.0L);
    EXPECT(st(&c, 0) == -4611686018427387904.0L);
    EXPECT_EQ(get_u16(DATA + 16), 0x8000);
    EXPECT_EQ(c.fpu.sw & FSW_IE, FSW_IE);
    cpu_free(&c);
}

/* FNSTENV with the other operand size: 16-bit protected-mode layout (66h in
 * 32-bit code) and 32-bit real-mode layout (66h in real mode) */
static void test_fnstenv_other_layouts(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    uint32_t at = CODE + p.n;
    FLD64(&p, DATA);
    E(&p, 0x66); M32(&p, 0xD9, 6, DATA + 0x40);      /* fnstenv m14 */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 1.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(get_u16(DATA + 0x40), 0x037F);
    EXPECT_EQ(get_u16(DATA + 0x42), 7u << 11);
    EXPECT_EQ(get_u16(DATA + 0x44), 0x3FFF);
    EXPECT_EQ(get_u16(DATA + 0x46), at & 0xFFFF);
    EXPECT_EQ(get_u16(DATA + 0x48), 0x08);
    EXPECT_EQ(get_u16(DATA + 0x4A), DATA & 0xFFFF);
    EXPECT_EQ(get_u16(DATA + 0x4C), 0x10);
    EXPECT_EQ(get_u16(DATA + 0x4E), 0);              /* 14 bytes only */
    cpu_free(&c);

    struct prog q = { .n = 0 };
    FNINIT(&q);
    M16(&q, 0xDD, 0, DATA);                          /* fld qword [DATA] */
    E(&q, 0x66); M16(&q, 0xD9, 6, DATA + 0x40);      /* fnstenv m28 (32-bit real) */
    E(&q, 0x66); M16(&q, 0xD9, 4, DATA + 0x40);      /* fldenv m28 */
    HLT(&q);
    setup16(&c, &q);
    c.seg[SEG_CS].sel = 0xF000; c.seg[SEG_CS].base = 0xF0000; c.eip = 0x1000;
    memcpy(ram + 0xF1000, ram + CODE, q.n);
    put_d(DATA, 1.0);
    EXPECT_EQ(run(&c), EXIT_HLT);
    uint32_t lip = 0xF0000 + 0x1000 + 2;
    EXPECT_EQ(get_u32(DATA + 0x40), 0xFFFF037Fu);
    EXPECT_EQ(get_u16(DATA + 0x4C), lip & 0xFFFF);
    EXPECT_EQ(get_u32(DATA + 0x50), (lip >> 16) << 12 | 0x506);
    EXPECT_EQ(get_u16(DATA + 0x54), DATA);
    EXPECT_EQ(get_u32(DATA + 0x58), 0);
    EXPECT_EQ(c.fpu.fip, lip);
    EXPECT_EQ(c.fpu.fop, 0x506);
    EXPECT_EQ(c.fpu.cw, 0x037F);                     /* FLDENV undid FNSTENV's masking */
    cpu_free(&c);
}

/* FCOM raises IE on a QNaN, FUCOM does not; both say unordered */
static void test_fucom_vs_fcom_qnan(void)
{
    for (int u = 0; u < 2; u++) {
        struct prog p = { .n = 0 };
        FNINIT(&p);
        FLD64(&p, DATA);
        FLD64(&p, DATA + 8);
        E(&p, u ? 0xDD : 0xD8, u ? 0xE1 : 0xD1);     /* fucom st1 / fcom st1 */
        HLT(&p);
        struct cpu c; setup32(&c, &p);
        put_d(DATA, 1.0); put_d(DATA + 8, NAN);
        EXPECT_EQ(run(&c), EXIT_HLT);
        EXPECT_EQ(c.fpu.sw & (FSW_C0 | FSW_C2 | FSW_C3), FSW_C0 | FSW_C2 | FSW_C3);
        EXPECT_EQ(c.fpu.sw & FSW_IE, u ? 0 : FSW_IE);
        cpu_free(&c);
    }
}

/* FSCALE, FYL2XP1 against libm */
static void test_fscale_fyl2xp1(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA + 8);              /* -3.7 -> scale by trunc = -3 */
    FLD64(&p, DATA);                  /* 10 */
    E(&p, 0xD9, 0xFD);                /* fscale */
    FSTP80(&p, DATA + 0x20);
    E(&p, 0xDD, 0xD8);                /* fstp st0 */
    FLD64(&p, DATA + 16);             /* y = 3 */
    FLD64(&p, DATA + 24);             /* x = 0.25 */
    E(&p, 0xD9, 0xF9);                /* fyl2xp1: 3*log2(1.25) */
    FSTP80(&p, DATA + 0x30);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 10.0); put_d(DATA + 8, -3.7); put_d(DATA + 16, 3.0); put_d(DATA + 24, 0.25);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(get_ld(DATA + 0x20) == 1.25L);
    EXPECT(fabsl(get_ld(DATA + 0x30) - 3 * log2l(1.25L)) < 1e-18L);
    EXPECT_EQ(c.fpu.tw, 0xFFFF);
    cpu_free(&c);
}

/* the FXSAVE image helpers for op_fxsave/op_fxrstor */
static void test_fxsave_helpers(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    E(&p, 0xD9, 0xE8, 0xD9, 0xEE);    /* fld1 fldz */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    uint8_t img[512];
    memset(img, 0xAA, sizeof img);
    fpu_fxsave_x87(&c, img);
    EXPECT_EQ(img[0] | img[1] << 8, 0x037F);
    EXPECT_EQ(img[2] | img[3] << 8, 6u << 11);
    EXPECT_EQ(img[4], 0xC0);          /* R6 R7 in use */
    EXPECT_EQ(img[24], 0xAA);         /* MXCSR left to the caller */
    long double v; memcpy(&v, img + 48, 10);
    EXPECT(v == 1.0L);
    struct cpu d; setup32(&d, &p);
    fpu_fxrstor_x87(&d, img);
    EXPECT_EQ(d.fpu.tw, 0x1FFF);      /* R7 valid (1.0), R6 zero, rest empty */
    EXPECT(st(&d, 0) == 0.0L && st(&d, 1) == 1.0L);
    EXPECT_EQ(d.fpu.sw, c.fpu.sw);
    cpu_free(&c);
    cpu_free(&d);
}

/* every register-form encoding D8-DF C0-FF with a full stack: the 420 a P6
 * has run to HLT, the other 92 raise #UD; nothing stops the interpreter */
static void test_all_register_encodings(void)
{
    unsigned ud = 0, other = 0;
    for (unsigned b = 0xD8; b <= 0xDF; b++)
        for (unsigned mm = 0xC0; mm <= 0xFF; mm++) {
            struct prog p = { .n = 0 };
            FNINIT(&p);
            for (int i = 0; i < 7; i++) E(&p, 0xD9, 0xE8);    /* 7 x fld1: one slot free */
            E(&p, (uint8_t)b, (uint8_t)mm);
            HLT(&p);
            struct cpu c; setup16(&c, &p);
            int r = run(&c);
            if (r == EXIT_HLT && c.eip == 0x7E00 + 8 * 6 + 1) ud++;
            else if (!(r == EXIT_HLT && c.eip == CODE + p.n)) {
                other++;
                printf("  %02x %02x: rc %d eip %x\n", b, mm, r, c.eip);
            }
            cpu_free(&c);
        }
    EXPECT_EQ(ud, 92);
    EXPECT_EQ(other, 0);
}

/* every memory form D8-DF /0-/7 on a valid operand */
static void test_all_memory_forms(void)
{
    unsigned ud = 0, other = 0;
    for (unsigned b = 0xD8; b <= 0xDF; b++)
        for (unsigned r = 0; r < 8; r++) {
            struct prog p = { .n = 0 };
            FNINIT(&p);
            E(&p, 0xD9, 0xE8, 0xD9, 0xEB);                    /* fld1 fldpi */
            M16(&p, (uint8_t)b, r, DATA);
            HLT(&p);
            struct cpu c; setup16(&c, &p);
            put_u64(DATA, 0x3FF0000000000000ull);                 /* 1.0 as a double */
            int rc = run(&c);
            if (rc == EXIT_HLT && c.eip == 0x7E00 + 8 * 6 + 1) ud++;
            else if (!(rc == EXIT_HLT && c.eip == CODE + p.n)) {
                other++;
                printf("  %02x /%u: rc %d eip %x\n", b, r, rc, c.eip);
            }
            cpu_free(&c);
        }
    EXPECT_EQ(ud, 7);     /* D9 /1, DB /4, DB /6, DD /5 and FISTTP (SSE3, not a P6) x3 */
    EXPECT_EQ(other, 0);
}

/* masked invalid results of the odd formats: FBSTP out of range stores the
 * packed-BCD indefinite; an SNaN from m32 becomes a QNaN with IE */
static void test_bcd_indefinite_and_snan(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLD64(&p, DATA);                  /* 1e19: 20 digits */
    M32(&p, 0xDF, 6, DATA + 16);      /* fbstp */
    FNSTSW(&p, DATA + 32);
    E(&p, 0xDB, 0xE2);                /* fnclex */
    FLD32(&p, DATA + 8);              /* SNaN */
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_d(DATA, 1e19);
    put_u32(DATA + 8, 0x7F800001u);
    EXPECT_EQ(run(&c), EXIT_HLT);
    static const uint8_t ind[10] = { 0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF };
    EXPECT(!memcmp(ram + DATA + 16, ind, 10));
    EXPECT_EQ(get_u16(DATA + 32) & FSW_IE, FSW_IE);
    EXPECT_EQ(c.fpu.sw & (FSW_IE | FSW_SF), FSW_IE);
    EXPECT_EQ(st_exp(&c, 0), 0x7FFF);
    EXPECT_EQ(st_mant(&c, 0), 0xC000010000000000ull);
    cpu_free(&c);
}

/* with an exception pending (NE=1) the non-waiting FNCLEX/FNINIT run and
 * clear it: the next instruction does not fault */
static void test_nowait_clears_pending(void)
{
    for (int init = 0; init < 2; init++) {
        struct prog p = { .n = 0 };
        FNINIT(&p);
        M16(&p, 0xD9, 5, DATA);                       /* ZM clear */
        E(&p, 0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9);    /* 1/0: pending */
        M16(&p, 0xD9, 7, DATA + 2);                   /* fnstcw: no fault */
        if (init) FNINIT(&p); else E(&p, 0xDB, 0xE2);
        E(&p, 0xD9, 0xE8);                            /* fld1: no #MF */
        HLT(&p);
        struct cpu c; setup16(&c, &p);
        put_u16(DATA, 0x037B);
        c.cr[0] |= 0x20;
        EXPECT_EQ(run(&c), EXIT_HLT);
        EXPECT_EQ(c.eip, CODE + p.n);
        EXPECT_EQ(get_u16(DATA + 2), 0x037B);
        EXPECT_EQ(c.fpu.sw & (FSW_ES | FSW_ZE), 0);
        EXPECT(st(&c, 0) == 1.0L);
        cpu_free(&c);
    }
}

/* precision control affects FADD but not loads (PC 24) */
static void test_pc_add_vs_host(void)
{
    struct prog p = { .n = 0 };
    FNINIT(&p);
    FLDCW(&p, DATA);
    FLD64(&p, DATA + 8);
    M32(&p, 0xDC, 0, DATA + 16);      /* fadd qword */
    FSTP80(&p, DATA + 32);
    FLD64(&p, DATA + 8);              /* loaded exactly despite PC */
    FSTP80(&p, DATA + 48);
    HLT(&p);
    struct cpu c; setup32(&c, &p);
    put_u16(DATA, cw_of(RC_NEAR, PC24));
    put_d(DATA + 8, 1.0 + 1.0 / 3);
    put_d(DATA + 16, 1e-3);
    EXPECT_EQ(run(&c), EXIT_HLT);
    long double sum = (long double)(1.0 + 1.0 / 3) + 1e-3L;
    float want = (float)sum;                  /* one rounding to 24 bits */
    EXPECT(get_ld(DATA + 32) == (long double)want);
    EXPECT(get_ld(DATA + 48) == (long double)(1.0 + 1.0 / 3));
    cpu_free(&c);
}

int main(void)
{
    m = mem_new(2 << 20);
    if (!m) { printf("FAIL setup: mem_new\n"); return 1; }
    ram = mem_ram(m);
    RUN(test_fninit_state);
    RUN(test_load_add_store);
    RUN(test_register_forms_order);
    RUN(test_integer_memory_forms);
    RUN(test_one_third_precision);
    RUN(test_rounding_vs_host);
    RUN(test_fist_rounding_modes);
    RUN(test_fbstp_fbld);
    RUN(test_stack_underflow);
    RUN(test_stack_overflow);
    RUN(test_fxam_classes);
    RUN(test_fprem_partial);
    RUN(test_fprem1);
    RUN(test_fnsave_frstor_roundtrip);
    RUN(test_fnsave_real16_layout);
    RUN(test_fcomi_flags);
    RUN(test_fcom_condition_codes);
    RUN(test_fcmov);
    RUN(test_constants_rounding);
    RUN(test_transcendental);
    RUN(test_real_formats);
    RUN(test_stack_ops);
    RUN(test_pointers);
    RUN(test_denormal_operand);
    RUN(test_nm_ts);
    RUN(test_mf_next_instruction);
    RUN(test_ferr_legacy);
    RUN(test_fldcw_unmask_pending);
    RUN(test_fnstenv_fldenv);
    RUN(test_unmasked_store_keeps_memory);
    RUN(test_fault_no_partial_state);
    RUN(test_unmasked_overflow_bias);
    RUN(test_integer_loads);
    RUN(test_pc_add_vs_host);
    RUN(test_fnstenv_other_layouts);
    RUN(test_fucom_vs_fcom_qnan);
    RUN(test_fscale_fyl2xp1);
    RUN(test_fxsave_helpers);
    RUN(test_bcd_indefinite_and_snan);
    RUN(test_nowait_clears_pending);
    RUN(test_all_register_encodings);
    RUN(test_all_memory_forms);
    mem_free(m);
    return test_summary();
}

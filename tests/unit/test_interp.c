/* tests/unit/test_interp.c - the interpreter on small real-mode programs.
 * Each program is placed at 0000:7C00 with a stack at 0000:7000 and run
 * until HLT; results are checked against hand-computed architecture values. */
#include "test.h"
#include "cpu/cpu.h"
#include "mem/mem.h"
#include <string.h>

static struct mem *m;

static void setup(struct cpu *c, const uint8_t *code, size_t n)
{
    memset(mem_ram(m), 0, 1 << 20);
    memcpy(mem_ram(m) + 0x7C00, code, n);
    cpu_init(c, m, NULL);
    c->seg[SEG_CS].sel = 0; c->seg[SEG_CS].base = 0;
    c->eip = 0x7C00;
    c->r[R_ESP] = 0x7000;
}

static int run(struct cpu *c)
{
    for (int i = 0; i < 100000; i++) {
        int r = interp_step(c);
        if (r == EXIT_HLT || r == EXIT_UNIMPL || r == EXIT_RESET) return r;
    }
    return -2;
}

static void test_arith_loop(void)
{
    /* mov cx,10; xor ax,ax; l: add ax,cx; loop l; hlt  -> AX = 55 */
    static const uint8_t p[] = { 0xB9, 10, 0, 0x31, 0xC0, 0x01, 0xC8, 0xE2, 0xFC, 0xF4 };
    struct cpu c; setup(&c, p, sizeof p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.r[R_EAX] & 0xFFFF, 55);
    EXPECT_EQ(c.r[R_ECX] & 0xFFFF, 0);
    EXPECT_EQ(c.eip, 0x7C0A);
}

static void test_flags_add(void)
{
    /* mov eax,0x7fffffff; add eax,1; hlt */
    static const uint8_t p[] = { 0x66, 0xB8, 0xFF, 0xFF, 0xFF, 0x7F, 0x66, 0x83, 0xC0, 0x01, 0xF4 };
    struct cpu c; setup(&c, p, sizeof p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.r[R_EAX], 0x80000000u);
    EXPECT_EQ(c.eflags & FL_ARITH, FL_OF | FL_SF | FL_AF | FL_PF);
}

static void test_div_zero_ivt(void)
{
    /* IVT[0] -> 0000:7D00 (hlt). xor bl,bl; div bl */
    static const uint8_t p[] = { 0x30, 0xDB, 0xF6, 0xF3 };
    struct cpu c; setup(&c, p, sizeof p);
    uint8_t *ram = mem_ram(m);
    ram[0] = 0x00; ram[1] = 0x7D; ram[2] = 0; ram[3] = 0;
    ram[0x7D00] = 0xF4;
    c.eflags |= FL_IF;
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, 0x7D01);
    EXPECT_EQ(c.r[R_ESP] & 0xFFFF, 0x7000 - 6);
    /* pushed IP is the faulting DIV (a fault), CS 0, FLAGS with IF */
    EXPECT_EQ(ram[0x7000 - 6] | ram[0x7000 - 5] << 8, 0x7C02);
    EXPECT_EQ(ram[0x7000 - 2] & 0x02, 0x02);
    EXPECT_EQ(ram[0x7000 - 1] & 0x02, 0x02);   /* IF (bit 9) was set when pushed */
    EXPECT_EQ(c.eflags & FL_IF, 0);
}

static void test_rep_movsb_and_cmps(void)
{
    /* si=0x100 di=0x200 cx=5 rep movsb; si=0x100 di=0x200 cx=5 repe cmpsb; hlt */
    static const uint8_t p[] = { 0xBE, 0x00, 0x01, 0xBF, 0x00, 0x02, 0xB9, 5, 0, 0xF3, 0xA4,
                                 0xBE, 0x00, 0x01, 0xBF, 0x00, 0x02, 0xB9, 5, 0, 0xF3, 0xA6, 0xF4 };
    struct cpu c; setup(&c, p, sizeof p);
    memcpy(mem_ram(m) + 0x100, "hello", 5);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT(!memcmp(mem_ram(m) + 0x200, "hello", 5));
    EXPECT_EQ(c.r[R_ECX] & 0xFFFF, 0);
    EXPECT_EQ(c.r[R_ESI] & 0xFFFF, 0x105);
    EXPECT(c.eflags & FL_ZF);
}

/* REP STOSD/STOSW with 32-bit addresses take the page-at-a-time path
 * (cpu/ops_string.c string_bulk): a non-repeating pattern, an odd count
 * (tail), and nothing written past the end. */
static void test_rep_stos_bulk_pattern(void)
{
    static const uint8_t p[] = {
        0x66, 0xB8, 0x44, 0x33, 0x22, 0x11,       /* mov eax, 0x11223344 */
        0x66, 0xB9, 0x00, 0x03, 0x00, 0x00,       /* mov ecx, 768        */
        0x66, 0xBF, 0x00, 0x90, 0x00, 0x00,       /* mov edi, 0x9000     */
        0xF3, 0x67, 0x66, 0xAB,                   /* rep stosd (a32)     */
        0xB8, 0xCD, 0xAB,                         /* mov ax, 0xABCD      */
        0x66, 0xB9, 0x05, 0x00, 0x00, 0x00,       /* mov ecx, 5          */
        0x66, 0xBF, 0x00, 0xA0, 0x00, 0x00,       /* mov edi, 0xA000     */
        0xF3, 0x67, 0xAB,                         /* rep stosw (a32)     */
        0xF4 };
    struct cpu c; setup(&c, p, sizeof p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    const uint8_t *ram = mem_ram(m);
    bool ok = true;
    for (unsigned i = 0; i < 768; i++) {
        uint32_t v; memcpy(&v, ram + 0x9000 + 4 * i, 4);
        if (v != 0x11223344u) ok = false;
    }
    EXPECT(ok);
    EXPECT_EQ(ram[0x9000 + 3072], 0);
    EXPECT_EQ(c.r[R_EDI], 0xA00Au);
    EXPECT_EQ(c.r[R_ECX], 0);
    for (unsigned i = 0; i < 5; i++) { EXPECT_EQ(ram[0xA000 + 2 * i], 0xCD); EXPECT_EQ(ram[0xA001 + 2 * i], 0xAB); }
    EXPECT_EQ(ram[0xA00A], 0);
}

static void watch_nothing(void *opaque, uint64_t pa, unsigned size) { (void)opaque; (void)pa; (void)size; }

/* One step of a long REP STOSD stops after the same number of elements
 * whether the stores go a page at a time (the bulk path) or one by one (a
 * write watch is set, as under bt --check): bt's callouts and the
 * interpreter must agree on where a REP chunk ends. */
static void test_rep_chunk_same_with_and_without_bulk(void)
{
    static const uint8_t p[] = {
        0x66, 0xB9, 0x10, 0x27, 0x00, 0x00,       /* mov ecx, 10000      */
        0x66, 0xBF, 0x00, 0x10, 0x00, 0x00,       /* mov edi, 0x1000     */
        0xF3, 0x67, 0x66, 0xAB,                   /* rep stosd (a32)     */
        0xF4 };
    uint32_t ecx[2], edi[2];
    for (int watched = 0; watched < 2; watched++) {
        struct cpu c; setup(&c, p, sizeof p);
        if (watched) c.write_watch = watch_nothing;
        EXPECT_EQ(interp_step(&c), EXC_NONE);
        EXPECT_EQ(interp_step(&c), EXC_NONE);
        EXPECT_EQ(interp_step(&c), EXC_NONE);     /* one chunk of the REP */
        EXPECT_EQ(c.eip, 0x7C0Cu);                /* still on it */
        ecx[watched] = c.r[R_ECX];
        edi[watched] = c.r[R_EDI];
    }
    EXPECT_EQ(ecx[0], 10000u - 4096u);
    EXPECT_EQ(ecx[1], ecx[0]);
    EXPECT_EQ(edi[1], edi[0]);
}

static void test_call_ret_push_pop(void)
{
    /* call f; hlt; f: push 0x1234; pop bx; ret */
    static const uint8_t p[] = { 0xE8, 0x01, 0x00, 0xF4, 0x68, 0x34, 0x12, 0x5B, 0xC3 };
    struct cpu c; setup(&c, p, sizeof p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.r[R_EBX] & 0xFFFF, 0x1234);
    EXPECT_EQ(c.r[R_ESP], 0x7000);
    EXPECT_EQ(c.eip, 0x7C04);
}

static void test_word_at_segment_end_faults(void)
{
    /* mov ax,[0xffff] -> #GP(0) on a 386+ in real mode; IVT[13] -> hlt at 7D00 */
    static const uint8_t p[] = { 0xA1, 0xFF, 0xFF };
    struct cpu c; setup(&c, p, sizeof p);
    uint8_t *ram = mem_ram(m);
    ram[13 * 4] = 0x00; ram[13 * 4 + 1] = 0x7D;
    ram[0x7D00] = 0xF4;
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, 0x7D01);
    EXPECT_EQ(ram[0x7000 - 6] | ram[0x7000 - 5] << 8, 0x7C00);
}

static void test_shifts_and_mul(void)
{
    /* mov ax,0x8001; rol ax,1 -> 0x0003 CF=1; mov al,200; mov bl,3; mul bl -> AX=600, CF=OF=1 */
    static const uint8_t p[] = { 0xB8, 0x01, 0x80, 0xD1, 0xC0, 0x89, 0xC2,
                                 0xB0, 200, 0xB3, 3, 0xF6, 0xE3, 0xF4 };
    struct cpu c; setup(&c, p, sizeof p);
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.r[R_EDX] & 0xFFFF, 0x0003);
    EXPECT_EQ(c.r[R_EAX] & 0xFFFF, 600);
    EXPECT_EQ(c.eflags & (FL_CF | FL_OF), FL_CF | FL_OF);
}

static void test_ud_on_bad_opcode(void)
{
    /* 0F 0B (UD2) -> IVT[6] */
    static const uint8_t p[] = { 0x0F, 0x0B };
    struct cpu c; setup(&c, p, sizeof p);
    uint8_t *ram = mem_ram(m);
    ram[6 * 4] = 0x00; ram[6 * 4 + 1] = 0x7D;
    ram[0x7D00] = 0xF4;
    EXPECT_EQ(run(&c), EXIT_HLT);
    EXPECT_EQ(c.eip, 0x7D01);
}

/* Self-modifying code inside one cached block: the store rewrites the
 * immediate of the very next instruction, which must see the new byte. */
static void test_smc_same_block(void)
{
    /* 7C00: mov byte [0x7C06], 0x05 (C6 06 06 7C 05); 7C05: mov al, 0x01 (B0 01); hlt */
    static const uint8_t p[] = { 0xC6, 0x06, 0x06, 0x7C, 0x05, 0xB0, 0x01, 0xF4 };
    struct cpu c; setup(&c, p, sizeof p);
    /* run twice through the block engine: the second run starts from a cached block */
    for (int pass = 0; pass < 2; pass++) {
        memcpy(mem_ram(m) + 0x7C00, p, sizeof p);
        c.eip = 0x7C00; c.halted = false; c.r[R_EAX] = 0;
        EXPECT_EQ(interp_run(&c, 100), EXIT_HLT);
        EXPECT_EQ(c.r[R_EAX] & 0xFF, 0x05);
    }
    cpu_free(&c);
}

/* A block cached from one program is not reused after the code changes. */
static void test_block_revalidated(void)
{
    static const uint8_t p1[] = { 0xB0, 0x11, 0xF4 };   /* mov al,0x11; hlt */
    static const uint8_t p2[] = { 0xB0, 0x22, 0xF4 };   /* mov al,0x22; hlt */
    struct cpu c; setup(&c, p1, sizeof p1);
    EXPECT_EQ(interp_run(&c, 100), EXIT_HLT);
    EXPECT_EQ(c.r[R_EAX] & 0xFF, 0x11);
    memcpy(mem_ram(m) + 0x7C00, p2, sizeof p2);       /* as a DMA would */
    c.eip = 0x7C00; c.halted = false;
    EXPECT_EQ(interp_run(&c, 100), EXIT_HLT);
    EXPECT_EQ(c.r[R_EAX] & 0xFF, 0x22);
    cpu_free(&c);
}

/* The block engine (interp_run: cached blocks, fast paths) and the single-
 * step engine (interp_step) must agree exactly, instruction for
 * instruction: run a 32-bit program mixing fast-path and generic forms
 * (flat protected mode) both ways and compare every register and the data. */
static void flat32(struct cpu *c)
{
    c->cr[0] |= 1;
    for (int s = 0; s < 6; s++) c->seg[s] = (struct seg){ 0x10, 0, 0xFFFFFFFFu, 0xC93 };
    c->seg[SEG_CS] = (struct seg){ 0x08, 0, 0xFFFFFFFFu, 0xC9B };
    c->eip = 0x7C00;
    c->r[R_ESP] = 0x9000;
}

static void lockstep(const uint8_t *p, size_t n)
{
    struct cpu a, b;
    uint8_t mem_a[0x200];
    setup(&a, p, n);
    flat32(&a);
    for (int i = 0; i < 0x100; i++) mem_ram(m)[0x8000 + i] = (uint8_t)(i * 37);
    EXPECT_EQ(interp_run(&a, 1000000), EXIT_HLT);
    memcpy(mem_a, mem_ram(m) + 0x8000, sizeof mem_a);
    setup(&b, p, n);
    flat32(&b);
    for (int i = 0; i < 0x100; i++) mem_ram(m)[0x8000 + i] = (uint8_t)(i * 37);
    int rc = EXC_NONE;
    for (int i = 0; i < 1000000 && rc == EXC_NONE; i++) rc = interp_step(&b);
    EXPECT_EQ(rc, EXIT_HLT);
    for (int r = 0; r < 8; r++) EXPECT_EQ(a.r[r], b.r[r]);
    EXPECT_EQ(a.eflags, b.eflags);
    EXPECT_EQ(a.eip, b.eip);
    EXPECT_EQ(a.icount, b.icount);
    EXPECT(!memcmp(mem_a, mem_ram(m) + 0x8000, sizeof mem_a));
    cpu_free(&a);
    cpu_free(&b);
}

static void test_block_engine_matches_step(void)
{
    /* mov ecx,300; mov esi,0x8000; xor edx,edx; l: mov ebx,[esi+edx*4]; add eax,ebx;
     * adc eax,0 (reads add's CF); rol eax,5; xor eax,ecx; mov [esi+edx*4],eax; inc edx; and edx,63; push eax;
     * sub eax,0x1234567; pop ebx; cmp eax,ebx; adc ebx,eax; lea edi,[ecx+eax+7];
     * test edi,edi; setnz dl... (keeps edx small: and edx,63 again); dec ecx; jnz l; hlt */
    static const uint8_t p[] = {
        0xB9, 0x2C, 0x01, 0x00, 0x00, 0xBE, 0x00, 0x80, 0x00, 0x00, 0x31, 0xD2,
        0x8B, 0x1C, 0x96, 0x01, 0xD8, 0x83, 0xD0, 0x00, 0xC1, 0xC0, 0x05, 0x31, 0xC8, 0x89, 0x04, 0x96,
        0x42, 0x83, 0xE2, 0x3F, 0x50, 0x2D, 0x67, 0x45, 0x23, 0x01, 0x5B, 0x39, 0xD8,
        0x11, 0xC3, 0x8D, 0x7C, 0x01, 0x07, 0x85, 0xFF, 0x0F, 0x95, 0xC2, 0x83, 0xE2, 0x3F,
        0x49, 0x75, 0xD2, 0xF4 };
    lockstep(p, sizeof p);
}

/* the branch, call/return and shift fast paths, in lockstep:
 * mov ecx,200; mov eax,0x12345; l: call f; shl eax,3; jc c1; xor eax,0x5A5A;
 * c1: shr eax,1; adc ebx,eax; shr ebx,7; rcl edx,1; jmp c2; hlt; c2: dec ecx;
 * jnz l; hlt; f: add eax,ecx; rol eax,13; sbb edx,eax; ret */
static void test_block_engine_branches_match_step(void)
{
    static const uint8_t p[] = {
        0xb9, 0xc8, 0x00, 0x00, 0x00, 0xb8, 0x45, 0x23, 0x01, 0x00, 0xe8, 0x1a,
        0x00, 0x00, 0x00, 0xc1, 0xe0, 0x03, 0x72, 0x05, 0x35, 0x5a, 0x5a, 0x00,
        0x00, 0xd1, 0xe8, 0x11, 0xc3, 0xc1, 0xeb, 0x07, 0xd1, 0xd2, 0xeb, 0x01,
        0xf4, 0x49, 0x75, 0xe2, 0xf4, 0x01, 0xc8, 0xc1, 0xc0, 0x0d, 0x19, 0xc2,
        0xc3 };
    lockstep(p, sizeof p);
}

static void test_reset_state(void)
{
    struct cpu c;
    cpu_init(&c, m, NULL);
    EXPECT_EQ(c.eip, 0xFFF0);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0xF000);
    EXPECT_EQ(c.seg[SEG_CS].base, 0xFFFF0000u);
    EXPECT_EQ(c.r[R_EDX] >> 8 & 0xF, 6);      /* family 6 */
    EXPECT_EQ(c.eflags, 2);
    EXPECT_EQ(c.cr[0], 0x60000010u);
}

int main(void)
{
    m = mem_new(2 << 20);
    if (!m) { printf("FAIL setup: mem_new\n"); return 1; }
    RUN(test_reset_state);
    RUN(test_arith_loop);
    RUN(test_flags_add);
    RUN(test_div_zero_ivt);
    RUN(test_rep_movsb_and_cmps);
    RUN(test_call_ret_push_pop);
    RUN(test_rep_stos_bulk_pattern);
    RUN(test_rep_chunk_same_with_and_without_bulk);
    RUN(test_word_at_segment_end_faults);
    RUN(test_shifts_and_mul);
    RUN(test_ud_on_bad_opcode);
    RUN(test_smc_same_block);
    RUN(test_block_revalidated);
    RUN(test_block_engine_matches_step);
    RUN(test_block_engine_branches_match_step);
    mem_free(m);
    return test_summary();
}

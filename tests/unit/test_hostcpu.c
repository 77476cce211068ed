/* tests/unit/test_hostcpu.c - the `host` engine (monitor/hostcpu.c) on the real CPU.
 *
 * Flags of ADD/ADC/SUB against values worked out by hand from the SDM's
 * definitions, memory and stack accesses in the data area, the exceptions
 * (#DE #UD #PF #GP #AC #BP #DB #OF #BR and the timeout) with the state at the
 * fault, a long random ALU sequence, and that the host process (callee-saved
 * registers, x87/SSE control, DF, signal dispositions, mask and alt stack) is
 * untouched afterwards. Everything SKIPs where hostcpu_available() says no.
 */
#include "tests/unit/test.h"
#include "monitor/hostcpu.h"
#include "cpu/cpu.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define DATA_BASE 0x10000000u
#define DATA_SIZE 0x10000u
#define STACK_TOP (DATA_BASE + 0x8000u)

/* Arithmetic flags and DF: what every test compares. */
#define HF_CF 0x001u
#define HF_PF 0x004u
#define HF_AF 0x010u
#define HF_ZF 0x040u
#define HF_SF 0x080u
#define HF_TF 0x100u
#define HF_DF 0x400u
#define HF_OF 0x800u
#define HF_ARITH (HF_CF | HF_PF | HF_AF | HF_ZF | HF_SF | HF_OF)

static struct hostcpu *hc;

static struct host_state state0(void)
{
    struct host_state s = {
        .r = { 0x11111111, 0x22222222, 0x33333333, 0x44444444,
               STACK_TOP, 0x66666666, 0x77777777, 0x88888888 },
        .eflags = 0x2,
    };
    return s;
}

static struct host_result run(const void *code, size_t len, const struct host_state *in)
{
    struct host_result r;
    int rc = hostcpu_run(hc, code, len, in, &r);
    EXPECT_EQ(rc, 0);
    return r;
}
#define RUNC(code, in) run(code, sizeof(code) - 1, in)

static void test_add_overflow_flags(void)
{
    struct host_state in = state0();
    in.r[0] = 0x7fffffff; in.r[3] = 1;
    struct host_result r = RUNC("\x01\xd8", &in);                /* add eax,ebx */
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r.out.r[0], 0x80000000);
    /* 0x80000000: signed overflow, sign set, carry out of bit 3, low byte 0
     * has even parity; no carry out of bit 31, not zero. */
    EXPECT_EQ(r.out.eflags & HF_ARITH, HF_OF | HF_SF | HF_AF | HF_PF);
    for (int i = 1; i < 8; i++)
        EXPECT_EQ(r.out.r[i], in.r[i]);
}

static void test_adc_sub_flags(void)
{
    struct host_state in = state0();
    in.r[0] = 0xffffffff; in.r[3] = 0; in.eflags = 0x2 | HF_CF;
    struct host_result r = RUNC("\x11\xd8", &in);                /* adc eax,ebx */
    EXPECT_EQ(r.out.r[0], 0);
    EXPECT_EQ(r.out.eflags & HF_ARITH, HF_CF | HF_ZF | HF_AF | HF_PF);

    in.eflags = 0x2;                                             /* CF=0: no carry in */
    r = RUNC("\x11\xd8", &in);
    EXPECT_EQ(r.out.r[0], 0xffffffff);
    EXPECT_EQ(r.out.eflags & HF_ARITH, HF_SF | HF_PF);

    in.r[0] = 0; in.r[3] = 1;
    r = RUNC("\x29\xd8", &in);                                   /* sub eax,ebx */
    EXPECT_EQ(r.out.r[0], 0xffffffff);
    EXPECT_EQ(r.out.eflags & HF_ARITH, HF_CF | HF_SF | HF_AF | HF_PF);

    in.r[0] = 0x80000000; in.r[3] = 1;
    r = RUNC("\x29\xd8", &in);
    EXPECT_EQ(r.out.r[0], 0x7fffffff);
    EXPECT_EQ(r.out.eflags & HF_ARITH, HF_OF | HF_AF | HF_PF);

    in.r[0] = 5; in.r[3] = 5;
    r = RUNC("\x39\xd8", &in);                                   /* cmp eax,ebx */
    EXPECT_EQ(r.out.r[0], 5);
    EXPECT_EQ(r.out.eflags & HF_ARITH, HF_ZF | HF_PF);
}

static void test_flags_in_and_df(void)
{
    /* Input flags reach the code: STC-less ADC sees CF; SETcc reads them. */
    struct host_state in = state0();
    in.eflags = 0x2 | HF_CF | HF_ZF | HF_SF | HF_OF | HF_DF;
    /* setc al; setz ah; (bswap-free) mov ebx,0 does not touch flags */
    struct host_result r = RUNC("\x0f\x92\xc0\x0f\x94\xc4", &in);
    EXPECT_EQ(r.out.r[0] & 0xffff, 0x0101);
    EXPECT_EQ(r.out.eflags & (HF_ARITH | HF_DF), in.eflags & (HF_ARITH | HF_DF));
    /* std in the code survives to the output */
    in.eflags = 0x2;
    r = RUNC("\xfd", &in);
    EXPECT(r.out.eflags & HF_DF);
    /* TF in the input is dropped (the engine would trap at once) */
    in.eflags = 0x2 | HF_TF;
    r = RUNC("\x90", &in);
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r.out.eflags & HF_TF, 0);
}

static void test_memory_write(void)
{
    uint8_t *d = hostcpu_data(hc);
    EXPECT(d != NULL);
    if (!d)
        return;
    memset(d + 0x100, 0, 16);
    d[0x108] = 0x5a;
    struct host_state in = state0();
    in.r[0] = 0xdeadbeef; in.r[6] = DATA_BASE + 0x100;
    /* mov [0x10000100],eax; mov byte [esi+4],0xa5; movzx ebx,byte [esi+8] */
    struct host_result r = RUNC("\xa3\x00\x01\x00\x10" "\xc6\x46\x04\xa5" "\x0f\xb6\x5e\x08", &in);
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(d[0x100], 0xef); EXPECT_EQ(d[0x101], 0xbe);
    EXPECT_EQ(d[0x102], 0xad); EXPECT_EQ(d[0x103], 0xde);
    EXPECT_EQ(d[0x104], 0xa5);
    EXPECT_EQ(r.out.r[3], 0x5a);
    /* REP STOSB with ES = the flat data segment */
    memset(d + 0x200, 0, 32);
    in.r[0] = 0x77; in.r[1] = 10; in.r[7] = DATA_BASE + 0x200;
    r = RUNC("\xf3\xaa", &in);
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r.out.r[1], 0);
    EXPECT_EQ(r.out.r[7], DATA_BASE + 0x20a);
    EXPECT_EQ(d[0x209], 0x77);
    EXPECT_EQ(d[0x20a], 0);
}

static void test_push_pop(void)
{
    uint8_t *d = hostcpu_data(hc);
    struct host_state in = state0();
    in.r[0] = 0xcafef00d;
    /* push eax; push 0x12345678; pop ebx; */
    struct host_result r = RUNC("\x50\x68\x78\x56\x34\x12\x5b", &in);
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r.out.r[4], STACK_TOP - 4);
    EXPECT_EQ(r.out.r[3], 0x12345678);
    uint32_t w0, w1;
    memcpy(&w0, d + (STACK_TOP - 4 - DATA_BASE), 4);
    memcpy(&w1, d + (STACK_TOP - 8 - DATA_BASE), 4);
    EXPECT_EQ(w0, 0xcafef00d);
    EXPECT_EQ(w1, 0x12345678);
    /* nothing written above ESP or below the pushes by the engine itself */
    memset(d + (STACK_TOP - 0x40 - DATA_BASE), 0xcc, 0x80);
    r = RUNC("\x90", &in);
    for (uint32_t i = 0; i < 0x80; i++)
        if (d[STACK_TOP - 0x40 - DATA_BASE + i] != 0xcc) {
            EXPECT_EQ(i, 0xffffffffu);                           /* the engine wrote */
            break;
        }
    /* call/ret through the data-area stack: call next; pop eax */
    r = RUNC("\xe8\x00\x00\x00\x00\x58", &in);
    EXPECT_EQ(r.out.r[0], hostcpu_code_base(hc) + 5);
    EXPECT_EQ(r.out.r[4], STACK_TOP);
}

static void test_div_zero(void)
{
    struct host_state in = state0();
    in.r[0] = 1234; in.r[1] = 0; in.r[2] = 0;
    struct host_result r = RUNC("\x90\x43\xf7\xf1\x90", &in);    /* nop; inc ebx; div ecx */
    EXPECT_EQ(r.exc, 0);
    EXPECT_EQ(r.fault_eip_offset, 2);
    EXPECT_EQ(r.out.r[0], 1234);
    EXPECT_EQ(r.out.r[2], 0);
    EXPECT_EQ(r.out.r[3], in.r[3] + 1);                          /* work before it stays */
    for (int i = 4; i < 8; i++)
        EXPECT_EQ(r.out.r[i], in.r[i]);
    EXPECT_EQ(r.signo, SIGFPE);
    /* IDIV 0x80000000:0 / -1 overflows: #DE too */
    in.r[0] = 0x80000000; in.r[2] = 0xffffffff; in.r[1] = 0xffffffff;
    r = RUNC("\xf7\xf9", &in);
    EXPECT_EQ(r.exc, 0);
    EXPECT_EQ(r.fault_eip_offset, 0);
    /* AAM 0 */
    r = RUNC("\xd4\x00", &in);
    EXPECT_EQ(r.exc, 0);
}

static void test_ud2_and_privileged(void)
{
    struct host_state in = state0();
    struct host_result r = RUNC("\x90\x90\x0f\x0b", &in);
    EXPECT_EQ(r.exc, 6);
    EXPECT_EQ(r.fault_eip_offset, 2);
    EXPECT_EQ(r.signo, SIGILL);
    r = RUNC("\x90\xfa", &in);                                   /* cli at IOPL 0 */
    EXPECT_EQ(r.exc, 13);
    EXPECT_EQ(r.fault_eip_offset, 1);
    EXPECT_EQ(r.error_code, 0);
    r = RUNC("\xcd\x40", &in);                                   /* int 0x40: IDT gate DPL 0 */
    EXPECT_EQ(r.exc, 13);
    EXPECT_EQ(r.error_code, 0x40 << 3 | 2);
    r = RUNC("\x0f\x20\xc0", &in);                               /* mov eax,cr0 */
    EXPECT_EQ(r.exc, 13);
}

static void test_page_fault(void)
{
    /* A page below 4 GiB that is certainly unmapped: map it, unmap it. */
    uint8_t *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
    EXPECT(p != MAP_FAILED);
    if (p == MAP_FAILED)
        return;
    munmap(p, 4096);
    uint32_t addr = (uint32_t)(uintptr_t)p + 0x123;
    struct host_state in = state0();
    in.r[0] = 0xabcdef01; in.r[3] = addr;
    struct host_result r = RUNC("\x41\x89\x03", &in);            /* inc ecx; mov [ebx],eax */
    EXPECT_EQ(r.exc, 14);
    EXPECT_EQ(r.fault_addr, addr);
    EXPECT_EQ(r.fault_eip_offset, 1);
    EXPECT_EQ(r.error_code & 6, 6);                              /* write, user */
    EXPECT_EQ(r.out.r[1], in.r[1] + 1);
    EXPECT_EQ(r.signo, SIGSEGV);
    r = RUNC("\x8b\x03", &in);                                   /* mov eax,[ebx] */
    EXPECT_EQ(r.exc, 14);
    EXPECT_EQ(r.fault_addr, addr);
    EXPECT_EQ(r.error_code & 6, 4);                              /* read, user */
    EXPECT_EQ(r.out.r[0], 0xabcdef01);
    /* a PUSH with ESP pointing at the hole faults on the stack write */
    in.r[4] = addr + 4;
    r = RUNC("\x50", &in);
    EXPECT_EQ(r.exc, 14);
    EXPECT_EQ(r.fault_addr, addr);
    EXPECT_EQ(r.out.r[4], addr + 4);                             /* ESP not committed */
}

static void test_traps(void)
{
    struct host_state in = state0();
    struct host_result r = RUNC("\x90\xcc\x90", &in);            /* int3: a trap */
    EXPECT_EQ(r.exc, 3);
    EXPECT_EQ(r.fault_eip_offset, 2);
    in.eflags = 0x2 | HF_OF;
    r = RUNC("\x90\xce", &in);                                   /* into with OF */
    EXPECT_EQ(r.exc, 4);
    EXPECT_EQ(r.fault_eip_offset, 2);
    in.eflags = 0x2;
    r = RUNC("\xce", &in);                                       /* into, OF clear */
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    /* bound eax,[0x10000000] with bounds 0..0 and eax = 5: #BR */
    memset(hostcpu_data(hc), 0, 8);
    in.r[0] = 5;
    r = RUNC("\x62\x05\x00\x00\x00\x10", &in);
    EXPECT_EQ(r.exc, 5);
    /* pushfd; or dword [esp],TF; popfd; nop -> #DB after the nop */
    in.r[0] = 0;
    r = RUNC("\x9c\x81\x0c\x24\x00\x01\x00\x00\x9d\x90\x90", &in);
    EXPECT_EQ(r.exc, 1);
    EXPECT_EQ(r.fault_eip_offset, 10);
    EXPECT(r.out.eflags & HF_TF);
    /* AC=1: a misaligned load raises #AC (Linux runs with CR0.AM=1) */
    in.eflags = 0x2 | 0x40000;
    r = RUNC("\x90\x8b\x05\x01\x00\x00\x10", &in);
    EXPECT_EQ(r.exc, 17);
    EXPECT_EQ(r.fault_eip_offset, 1);
    in.eflags = 0x2;
    r = RUNC("\x8b\x05\x01\x00\x00\x10", &in);                   /* AC=0: fine */
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
}

static void test_segment_loads(void)
{
    /* Loads of DS/ES/FS/GS with the flat selectors or null are user-level
     * instructions the fuzzer may generate; the engine undoes them. */
    struct host_state in = state0();
    in.r[0] = 0x2b; in.r[1] = 0; in.r[2] = 0x23;
    struct host_result r;
    /* null DS: the store through it is #GP(0); the engine survives */
    r = RUNC("\x8e\xd9\xa3\x00\x00\x00\x10", &in);           /* mov ds,ecx; mov [..],eax */
    EXPECT_EQ(r.exc, 13);
    EXPECT_EQ(r.fault_eip_offset, 2);
    r = RUNC("\x8e\xd1", &in);                                  /* mov ss,ecx(0): #GP */
    EXPECT_EQ(r.exc, 13);
    r = RUNC("\x8e\xc1\x8e\xd8\x90", &in);                     /* es=0, ds=0x2b */
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    if (!hostcpu_fsgs_loads_ok(hc)) {
        printf("  (no FSGSBASE: FS/GS loads not tested)\n");
        return;
    }
    /* mov fs,eax; mov gs,eax; mov ebx,fs; mov ebp,[fs:0x10000004] */
    hostcpu_data(hc)[4] = 0x99;
    r = RUNC("\x8e\xe0\x8e\xe8\x8c\xe3\x64\x8b\x2d\x04\x00\x00\x10", &in);
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r.out.r[3], 0x2b);
    EXPECT_EQ(r.out.r[5] & 0xff, 0x99);
    r = RUNC("\x8e\xe0\x0f\x0b", &in);                        /* mov fs,eax; ud2 */
    EXPECT_EQ(r.exc, 6);
    EXPECT_EQ(r.fault_eip_offset, 2);
    r = RUNC("\x8e\xe2\x8e\xea", &in);                          /* fs=gs=0x23 (readable code) */
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    /* TLS (FS-relative in glibc) still works */
    char buf[64];
    snprintf(buf, sizeof buf, "%s", strerror(2));
    EXPECT(buf[0] != 0);
}

static void test_mirror_cpu(void)
{
    /* What hostcpu_mirror_cpu claims is what the code sees on the host:
     * selectors, the code's address and the flags after the engine's POPFD. */
    struct host_state in = state0();
    in.eflags = 0xffffffffu;
    struct cpu *c = calloc(1, sizeof *c);
    EXPECT(c != NULL);
    if (!c)
        return;
    hostcpu_mirror_cpu(hc, &in, c);
    /* mov eax,cs; mov ecx,ss; mov edx,ds; mov ebx,es; mov ebp,fs; mov esi,gs;
     * pushfd; pop edi */
    in.r[7] = 0;
    struct host_result r = RUNC("\x8c\xc8\x8c\xd1\x8c\xda\x8c\xc3\x8c\xe5\x8c\xee\x9c\x5f", &in);
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r.out.r[0], c->seg[SEG_CS].sel);
    EXPECT_EQ(r.out.r[1], c->seg[SEG_SS].sel);
    EXPECT_EQ(r.out.r[2], c->seg[SEG_DS].sel);
    EXPECT_EQ(r.out.r[3], c->seg[SEG_ES].sel);
    EXPECT_EQ(r.out.r[5] & 0xffff, c->seg[SEG_FS].sel);
    EXPECT_EQ(r.out.r[6] & 0xffff, c->seg[SEG_GS].sel);
    EXPECT_EQ(r.out.r[7], c->eflags);
    EXPECT_EQ(c->seg[SEG_CS].ar & (AR_DB | AR_P), AR_DB | AR_P);
    r = RUNC("\xe8\x00\x00\x00\x00\x58", &in);                  /* call $+5; pop eax */
    EXPECT_EQ(r.out.r[0], c->eip + 5);
    free(c);
}

static void test_timeout(void)
{
    struct host_state in = state0();
    EXPECT_EQ(hostcpu_set_timeout(hc, 20000), 0);
    struct host_result r = RUNC("\x90\x41\xeb\xfd", &in);        /* nop; l: inc ecx; jmp l */
    EXPECT_EQ(r.exc, HOSTCPU_EXC_TIMEOUT);
    EXPECT(r.fault_eip_offset == 1 || r.fault_eip_offset == 2);
    EXPECT(r.out.r[1] != in.r[1]);
    r = RUNC("\x41", &in);                                       /* still works after */
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r.out.r[1], in.r[1] + 1);
    EXPECT_EQ(hostcpu_set_timeout(hc, 0), 0);
}

/* xorshift32: reproducible sequences. */
static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 17; *s ^= *s << 5;
    return *s;
}

static size_t gen_alu(uint8_t *buf, int count, uint32_t seed)
{
    size_t n = 0;
    for (int i = 0; i < count; i++) {
        uint32_t x = rnd(&seed);
        unsigned dst = x & 7, src = (x >> 3) & 7;
        if (dst == 4) dst = 0;                                   /* keep ESP for the stack */
        uint8_t modrm = (uint8_t)(0xc0 | src << 3 | dst);
        switch ((x >> 6) % 8) {
        case 0: case 1:                                          /* ADD OR ADC SBB AND SUB XOR CMP r/m32,r32 */
            buf[n++] = (uint8_t)(((x >> 9) & 7) << 3 | 1); buf[n++] = modrm; break;
        case 2:                                                  /* group 1 r/m32,imm8 */
            buf[n++] = 0x83; buf[n++] = (uint8_t)(0xc0 | ((x >> 9) & 7) << 3 | dst);
            buf[n++] = (uint8_t)(x >> 12); break;
        case 3:                                                  /* shift group r/m32,imm8 */
            buf[n++] = 0xc1; buf[n++] = (uint8_t)(0xc0 | ((x >> 9) & 7) << 3 | dst);
            buf[n++] = (uint8_t)(x >> 12); break;
        case 4:                                                  /* INC/DEC */
            buf[n++] = (uint8_t)(0x40 | ((x >> 9) & 8) | dst); break;
        case 5:                                                  /* NOT NEG (group 3 /2 /3) */
            buf[n++] = 0xf7; buf[n++] = (uint8_t)(0xd0 | ((x >> 9) & 1) << 3 | dst); break;
        case 6:                                                  /* IMUL r32,r/m32 */
            buf[n++] = 0x0f; buf[n++] = 0xaf; buf[n++] = (uint8_t)(0xc0 | dst << 3 | src); break;
        default:                                                 /* 8-bit ALU r/m8,r8 */
            buf[n++] = (uint8_t)(((x >> 9) & 7) << 3); buf[n++] = modrm; break;
        }
    }
    return n;
}

static void test_random_alu(void)
{
    static uint8_t code[8000];
    size_t len = gen_alu(code, 1000, 0x1234567);
    EXPECT(len > 1000);
    struct host_state in = state0();
    struct host_result r1 = run(code, len, &in);
    EXPECT_EQ(r1.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r1.out.r[4], STACK_TOP);
    /* the same input gives the same output (it is a function of the state) */
    struct host_result r2 = run(code, len, &in);
    EXPECT_EQ(memcmp(&r1.out, &r2.out, sizeof r1.out), 0);
    /* many short sequences in a row */
    int bad = 0;
    for (uint32_t seed = 1; seed <= 300; seed++) {
        len = gen_alu(code, 1 + seed % 20, seed * 2654435761u);
        for (int i = 0; i < 8; i++)
            in.r[i] = i == 4 ? STACK_TOP : seed * 0x9e3779b9u + (uint32_t)i * 0x01010101u;
        in.eflags = 0x2 | (seed & HF_ARITH);
        struct host_result r;
        if (hostcpu_run(hc, code, len, &in, &r) != 0 || r.exc != HOSTCPU_EXC_NONE)
            bad++;
    }
    EXPECT_EQ(bad, 0);
}

static void test_bad_input(void)
{
    char why[160] = "";
    EXPECT(hostcpu_new(DATA_BASE + 1, 4096, why, sizeof why) == NULL);
    EXPECT(strstr(why, "aligned") != NULL);
    why[0] = 0;
    EXPECT(hostcpu_new(0xfffff000u, 0x2000, why, sizeof why) == NULL);
    EXPECT(strstr(why, "4 GiB") != NULL);
    why[0] = 0;
    EXPECT(hostcpu_new(DATA_BASE, DATA_SIZE, why, sizeof why) == NULL);   /* taken by hc */
    EXPECT(strstr(why, "0x10000000") != NULL);
    struct host_state in = state0();
    struct host_result r;
    size_t big = hostcpu_max_code(hc) + 1;
    uint8_t *code = calloc(1, big);
    EXPECT(code != NULL);
    EXPECT_EQ(hostcpu_run(hc, code, big, &in, &r), -1);
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(r.out.r[0], in.r[0]);
    EXPECT_EQ(hostcpu_run(hc, code, 0, &in, &r), 0);             /* empty code is fine */
    EXPECT_EQ(r.out.r[7], in.r[7]);
    free(code);
    /* a second engine with its own data area coexists */
    struct hostcpu *h2 = hostcpu_new(DATA_BASE + 0x100000, 0x1000, why, sizeof why);
    EXPECT(h2 != NULL);
    if (h2) {
        in.r[0] = 0x42;
        EXPECT_EQ(hostcpu_run(h2, (const uint8_t *)"\xa3\x10\x00\x10\x10", 5, &in, &r), 0);
        EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
        EXPECT_EQ(hostcpu_data(h2)[0x10], 0x42);
        hostcpu_free(h2);
    }
}

/* Two engines on two threads at once: runs are serialised inside, and each
 * thread's faults and results stay its own. */
struct thread_arg { uint32_t base; int bad; };
static void *thread_body(void *p)
{
    struct thread_arg *a = p;
    struct hostcpu *h = hostcpu_new(a->base, 0x1000, NULL, 0);
    if (!h) {
        a->bad = 1000;
        return NULL;
    }
    for (uint32_t i = 0; i < 300; i++) {
        struct host_state in = { .r = { i, 0, 0, a->base, a->base + 0x800, 0, 0, 0 }, .eflags = 2 };
        struct host_result r;
        /* mov [ebx],eax; inc eax; and on odd i: ud2 */
        static const uint8_t code[] = { 0x89, 0x03, 0x40, 0x0f, 0x0b };
        size_t len = (i & 1) ? 5 : 3;
        if (hostcpu_run(h, code, len, &in, &r) != 0)
            a->bad++;
        else if (r.out.r[0] != i + 1 || r.exc != ((i & 1) ? 6 : HOSTCPU_EXC_NONE) ||
                 r.out.r[3] != a->base || hostcpu_data(h)[0] != (uint8_t)i)
            a->bad++;
    }
    hostcpu_free(h);
    return NULL;
}

static void test_threads(void)
{
    struct thread_arg a[2] = { { DATA_BASE + 0x200000, 0 }, { DATA_BASE + 0x300000, 0 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        EXPECT_EQ(pthread_create(&t[i], NULL, thread_body, &a[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    EXPECT_EQ(a[0].bad, 0);
    EXPECT_EQ(a[1].bad, 0);
}

static volatile sig_atomic_t dummy_handler_hits;
static void dummy_handler(int sig) { (void)sig; dummy_handler_hits++; }

static void check_sigs_same(const struct sigaction *a, const struct sigaction *b)
{
    EXPECT(a->sa_handler == b->sa_handler);
    EXPECT_EQ(a->sa_flags & ~0x04000000 /* SA_RESTORER */, b->sa_flags & ~0x04000000);
}

static void test_host_state_intact(void)
{
    static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGALRM };
    struct sigaction before[6], after[6], mine;
    memset(&mine, 0, sizeof mine);
    mine.sa_handler = dummy_handler;
    sigaction(SIGALRM, &mine, NULL);                             /* a caller's own handler */
    for (int i = 0; i < 6; i++)
        sigaction(sigs[i], NULL, &before[i]);
    sigset_t mask_before, mask_after;
    sigemptyset(&mask_before);
    sigaddset(&mask_before, SIGUSR1);
    sigprocmask(SIG_SETMASK, &mask_before, NULL);
    stack_t ss_before, ss_after;
    sigaltstack(NULL, &ss_before);
    uint16_t cw_before, cw_after, ds_before, ds_after;
    uint32_t mx_before, mx_after;
    __asm__ volatile("fnstcw %0; stmxcsr %1; mov %%ds,%2" : "=m"(cw_before), "=m"(mx_before), "=r"(ds_before));

    /* Code that changes the FPU control word and MXCSR, sets DF and AC,
     * trashes every GPR, and (second run) faults. */
    static const char trash[] =
        "\x68\x80\x7f\x00\x00"          /* push 0x7f80                  */
        "\x0f\xae\x14\x24"              /* ldmxcsr [esp]                */
        "\x66\xc7\x04\x24\x7f\x0c"      /* mov word [esp],0x0c7f        */
        "\xd9\x2c\x24"                  /* fldcw [esp]                  */
        "\x58"                          /* pop eax                      */
        "\xfd"                          /* std                          */
        "\x31\xdb\x31\xed\x31\xf6\x31\xff\xb9\x01\x00\x00\x00";  /* xor ebx..edi; mov ecx,1 */
    struct host_state in = state0();
    in.eflags = 0x2 | 0x40000;                                   /* AC */
    register uint64_t r12 __asm__("r12") = 0x1212121212121212ull;
    register uint64_t r15 __asm__("r15") = 0x1515151515151515ull;
    register uint64_t rbx __asm__("rbx") = 0xbbbbbbbbbbbbbbbbull;
    __asm__ volatile("" : "+r"(r12), "+r"(r15), "+r"(rbx));
    struct host_result r = RUNC(trash, &in);
    __asm__ volatile("" : "+r"(r12), "+r"(r15), "+r"(rbx));
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT(r.out.eflags & HF_DF);
    EXPECT_EQ(r12, 0x1212121212121212ull);
    EXPECT_EQ(r15, 0x1515151515151515ull);
    EXPECT_EQ(rbx, 0xbbbbbbbbbbbbbbbbull);
    /* and the fault path: same changes, then ud2 */
    static char trash_ud[sizeof trash + 2];
    memcpy(trash_ud, trash, sizeof trash - 1);
    memcpy(trash_ud + sizeof trash - 1, "\x0f\x0b", 2);
    r = run(trash_ud, sizeof trash + 1, &in);
    __asm__ volatile("" : "+r"(r12), "+r"(r15), "+r"(rbx));
    EXPECT_EQ(r.exc, 6);
    EXPECT_EQ(r.out.r[1], 1);
    EXPECT_EQ(r12, 0x1212121212121212ull);
    EXPECT_EQ(r15, 0x1515151515151515ull);
    EXPECT_EQ(rbx, 0xbbbbbbbbbbbbbbbbull);

    uint64_t rfl;
    __asm__ volatile("pushfq; pop %0; fnstcw %1; stmxcsr %2; mov %%ds,%3"
                     : "=r"(rfl), "=m"(cw_after), "=m"(mx_after), "=r"(ds_after));
    EXPECT_EQ(rfl & (HF_DF | HF_TF | 0x40000), 0);
    EXPECT_EQ(cw_after, cw_before);
    EXPECT_EQ(mx_after, mx_before);
    EXPECT_EQ(ds_after, ds_before);
    for (int i = 0; i < 6; i++) {
        sigaction(sigs[i], NULL, &after[i]);
        check_sigs_same(&before[i], &after[i]);
    }
    sigprocmask(SIG_SETMASK, NULL, &mask_after);
    EXPECT(sigismember(&mask_after, SIGUSR1));
    EXPECT(!sigismember(&mask_after, SIGSEGV));
    EXPECT(!sigismember(&mask_after, SIGALRM));
    sigaltstack(NULL, &ss_after);
    EXPECT_EQ(ss_after.ss_flags, ss_before.ss_flags);
    EXPECT(ss_after.ss_sp == ss_before.ss_sp);
    /* the caller's SIGALRM handler still gets its signal */
    dummy_handler_hits = 0;
    raise(SIGALRM);
    EXPECT_EQ(dummy_handler_hits, 1);
    /* a signal raised while the code runs waits until the run ends: the code
     * raises nothing itself, so check that a pending one is kept */
    sigset_t usr;
    sigemptyset(&usr);
    sigaddset(&usr, SIGALRM);
    sigprocmask(SIG_BLOCK, &usr, NULL);
    raise(SIGALRM);
    r = RUNC("\x90", &in);
    EXPECT_EQ(r.exc, HOSTCPU_EXC_NONE);
    EXPECT_EQ(dummy_handler_hits, 1);
    sigprocmask(SIG_UNBLOCK, &usr, NULL);
    EXPECT_EQ(dummy_handler_hits, 2);
    sigemptyset(&mask_before);
    sigprocmask(SIG_SETMASK, &mask_before, NULL);
    mine.sa_handler = SIG_DFL;
    sigaction(SIGALRM, &mine, NULL);
}

int main(void)
{
    char why[200];
    if (!hostcpu_available(why, sizeof why)) {
        SKIP(test_hostcpu, why);
        return test_summary();
    }
    hc = hostcpu_new(DATA_BASE, DATA_SIZE, why, sizeof why);
    if (!hc) {
        printf("FAIL hostcpu_new: %s\n", why);
        return 1;
    }
    RUN(test_add_overflow_flags);
    RUN(test_adc_sub_flags);
    RUN(test_flags_in_and_df);
    RUN(test_memory_write);
    RUN(test_push_pop);
    RUN(test_div_zero);
    RUN(test_ud2_and_privileged);
    RUN(test_page_fault);
    RUN(test_traps);
    RUN(test_segment_loads);
    RUN(test_mirror_cpu);
    RUN(test_timeout);
    RUN(test_random_alu);
    RUN(test_bad_input);
    RUN(test_threads);
    RUN(test_host_state_intact);
    hostcpu_free(hc);
    return test_summary();
}

/* tests/unit/test_kvm.c - the kvm engine on tiny real-mode programs.
 *
 * Machine-free like test_interp.c: 2 MiB of RAM with a hole at A0000 (an
 * MMIO test device there), a bus with test ports, a struct cpu in real mode
 * at 0000:7C00 with the stack at 0000:7000, and the interrupt hooks wired
 * to a fake PIC. Programs run under kvm (and under the interpreter where
 * the test compares them). One test runs the whole board (our BIOS POST)
 * under kvm and the interpreter. Every test prints SKIP with the reason when
 * /dev/kvm is missing or cannot run real-mode code, and the tests that need
 * a hardware-virtualizing KVM (x87, CPUID, IVT-limit triple fault) skip on
 * an emulating one (kvm_pvm); the "measure" test prints the exit round trips
 * and real-mode speed as "info" lines.
 */
#include "test.h"
#include "cpu/cpu.h"
#include "cpu/opcodes.h"
#include "mem/mem.h"
#include "devices/bus.h"
#include "monitor/engine_kvm.h"
#include "monitor/machine.h"
#include "monitor/bios_image.h"
#include <string.h>
#include <stdlib.h>
#include <time.h>

static char skip_why[400];
static int level = -1;

/* test device: ports 0x80-0x87 (80h log, 81h counter, 83h INTR, 84h dword); writes logged, reads return a counter */
struct tdev {
    uint32_t log[64];      /* values written (port 0x80)               */
    unsigned nlog;
    unsigned reads;        /* reads of port 0x81                       */
    uint32_t mmio[16];     /* MMIO registers at 0xA0000 (dwords)       */
    unsigned mmio_wr, mmio_rd;
    bool pending;          /* fake PIC: INTR line                      */
    int vector;            /* vector to hand out on INTA               */
    unsigned acks;
};

static uint32_t tdev_read(void *o, uint32_t off, unsigned size)
{
    struct tdev *d = o;
    (void)size;
    if (off == 1) return 0x40 + d->reads++;
    if (off == 4) return 0x12345678u;
    return 0;
}
static void tdev_write(void *o, uint32_t off, uint32_t val, unsigned size)
{
    struct tdev *d = o;
    (void)size;
    if (off == 0 && d->nlog < 64) d->log[d->nlog++] = val;
    if (off == 3) d->pending = val != 0;
}
static const struct bus_ops tdev_ops = { "test", tdev_read, tdev_write, false };

static uint32_t tmmio_read(void *o, uint32_t off, unsigned size)
{
    struct tdev *d = o;
    d->mmio_rd++;
    uint32_t v = d->mmio[(off / 4) & 15];
    return size == 4 ? v : (v >> (8 * (off & 3))) & (size == 2 ? 0xFFFF : 0xFF);
}
static void tmmio_write(void *o, uint32_t off, uint32_t val, unsigned size)
{
    struct tdev *d = o;
    d->mmio_wr++;
    if (size == 4) d->mmio[(off / 4) & 15] = val;
    else d->mmio[(off / 4) & 15] = val & (size == 2 ? 0xFFFF : 0xFF);
}
static const struct bus_ops tmmio_ops = { "test-mmio", tmmio_read, tmmio_write, false };

static bool t_pending(void *o) { return ((struct tdev *)o)->pending; }
static int t_ack(void *o) { struct tdev *d = o; d->acks++; d->pending = false; return d->vector; }

struct rig {
    struct mem *mem;
    struct bus *bus;
    struct tdev dev;
    struct cpu cpu;
    struct kvm_engine *k;
};

static bool rig_init(struct rig *g, const uint8_t *code, size_t n)
{
    memset(g, 0, sizeof *g);
    g->mem = mem_new(2u << 20);
    g->bus = bus_new();
    if (!g->mem || !g->bus) return false;
    mem_add_hole(g->mem, 0xA0000, 0x20000);
    mem_set_bus(g->mem, g->bus);
    if (bus_map_io(g->bus, 0x80, 8, &tdev_ops, &g->dev) || bus_map_mmio(g->bus, 0xA0000, 0x1000, &tmmio_ops, &g->dev))
        return false;
    memcpy(mem_ram(g->mem) + 0x7C00, code, n);
    cpu_init(&g->cpu, g->mem, g->bus);
    g->cpu.seg[SEG_CS].sel = 0;
    g->cpu.seg[SEG_CS].base = 0;
    g->cpu.eip = 0x7C00;
    g->cpu.r[R_ESP] = 0x7000;
    g->cpu.intr_pending = t_pending;
    g->cpu.intr_ack = t_ack;
    g->cpu.intr_opaque = &g->dev;
    g->dev.vector = 0x20;
    return true;
}

static bool rig_kvm(struct rig *g)
{
    char err[300];
    g->k = kvm_engine_new(&g->cpu, err, sizeof err);
    if (!g->k) printf("  kvm_engine_new: %s\n", err);
    return g->k != NULL;
}

static void rig_free(struct rig *g)
{
    if (g->k) kvm_engine_free(g->k);
    cpu_free(&g->cpu);
    if (g->bus) bus_free(g->bus);
    if (g->mem) mem_free(g->mem);
}

/* run under kvm until something other than a time slice ends the run */
static int kvm_until(struct rig *g, int max_slices)
{
    for (int i = 0; i < max_slices; i++) {
        int r = kvm_engine_run(g->k, 20000);
        if (r != EXC_NONE) return r;
    }
    return -2;
}

static int interp_until_hlt(struct cpu *c)
{
    for (int i = 0; i < 1000000; i++) {
        int r = interp_step(c);
        if (r == EXIT_HLT || r == EXIT_UNIMPL || r == EXIT_RESET) return r;
    }
    return -2;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void test_kvm_probe(void)
{
    /* the probe answers the same line twice (cached) and a level in range */
    char a[400], b[400];
    int l1 = kvm_engine_probe(a, sizeof a), l2 = kvm_engine_probe(b, sizeof b);
    EXPECT_EQ(l1, l2);
    EXPECT(!strcmp(a, b));
    EXPECT(l1 >= KVM_RUNS_REAL && l1 <= KVM_RUNS_PAGING);
    EXPECT(strchr(a, '\n') == NULL);
    char buf[400];
    EXPECT(kvm_engine_unavailable_reason(buf, sizeof buf) == NULL);
    printf("info kvm: %s\n", a);
}

static void test_kvm_arith(void)
{
    /* mov cx,10; xor ax,ax; l: add ax,cx; loop l; mov eax? no: imul; hlt */
    static const uint8_t p[] = { 0xB9, 10, 0, 0x31, 0xC0, 0x01, 0xC8, 0xE2, 0xFC,
                                 0x66, 0xBB, 0x78, 0x56, 0x34, 0x12,        /* mov ebx,12345678h */
                                 0x66, 0xC1, 0xCB, 0x08,                    /* ror ebx,8 */
                                 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(g.cpu.r[R_EAX] & 0xFFFF, 55);
    EXPECT_EQ(g.cpu.r[R_ECX] & 0xFFFF, 0);
    EXPECT_EQ(g.cpu.r[R_EBX], 0x78123456u);
    EXPECT_EQ(g.cpu.eip, 0x7C00 + sizeof p);
    EXPECT(g.cpu.halted);
    /* halted with nothing pending: the next run returns at once */
    EXPECT_EQ(kvm_engine_run(g.k, 20000), EXIT_HLT);
    EXPECT_EQ(g.cpu.eip, 0x7C00 + sizeof p);
    rig_free(&g);
}

static void test_kvm_io(void)
{
    /* mov al,5; out 80h,al; mov ax,1234h; out 80h,ax; in al,81h; mov bl,al; in al,81h; mov bh,al
     * mov dx,82h; in eax,dx; mov esi? -> rep outsb of 3 bytes at 0:0600 to port 80h; hlt */
    static const uint8_t p[] = { 0xB0, 5, 0xE6, 0x80, 0xB8, 0x34, 0x12, 0xE7, 0x80,
                                 0xE4, 0x81, 0x88, 0xC3, 0xE4, 0x81, 0x88, 0xC7,
                                 0xBA, 0x84, 0x00, 0x66, 0xED, 0x66, 0x89, 0xC5,   /* in eax,dx; mov ebp,eax */
                                 0xBA, 0x80, 0x00, 0xBE, 0x00, 0x06, 0xB9, 3, 0, 0xFC, 0xF3, 0x6E,
                                 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    memcpy(mem_ram(g.mem) + 0x600, "\x11\x22\x33", 3);
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(g.dev.nlog, 5);
    EXPECT_EQ(g.dev.log[0], 5);
    EXPECT_EQ(g.dev.log[1], 0x1234);
    EXPECT_EQ(g.dev.log[2], 0x11);
    EXPECT_EQ(g.dev.log[3], 0x22);
    EXPECT_EQ(g.dev.log[4], 0x33);
    EXPECT_EQ(g.cpu.r[R_EBX] & 0xFFFF, 0x4140);
    EXPECT_EQ(g.cpu.r[R_EBP], 0x12345678u);
    EXPECT_EQ(g.cpu.r[R_ECX] & 0xFFFF, 0);
    EXPECT_EQ(g.cpu.r[R_ESI] & 0xFFFF, 0x603);
    rig_free(&g);
}

static void test_kvm_io_exact_on_return(void)
{
    /* every IN/OUT ends a run early here (a tiny budget): struct cpu must
     * show the I/O instruction completed exactly once each time */
    static const uint8_t p[] = { 0xB0, 1, 0xE6, 0x80, 0xB0, 2, 0xE6, 0x80, 0xE4, 0x81, 0xE4, 0x81, 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    int r = EXC_NONE;
    for (int i = 0; i < 2000 && r == EXC_NONE; i++) {
        r = kvm_engine_run(g.k, 1);          /* single steps: one instruction per run */
    }
    EXPECT_EQ(r, EXIT_HLT);
    EXPECT_EQ(g.dev.nlog, 2);
    EXPECT_EQ(g.dev.log[1], 2);
    EXPECT_EQ(g.dev.reads, 2);
    EXPECT_EQ(g.cpu.r[R_EAX] & 0xFF, 0x41);
    rig_free(&g);
}

static void test_kvm_singlestep(void)
{
    /* n == 1 runs exactly one instruction */
    static const uint8_t p[] = { 0x40, 0x40, 0x43, 0xF4 };   /* inc ax; inc ax; inc bx; hlt */
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    EXPECT_EQ(kvm_engine_run(g.k, 1), EXC_NONE);
    EXPECT_EQ(g.cpu.eip, 0x7C01);
    EXPECT_EQ(g.cpu.r[R_EAX], 1);
    EXPECT_EQ(kvm_engine_run(g.k, 1), EXC_NONE);
    EXPECT_EQ(g.cpu.eip, 0x7C02);
    EXPECT_EQ(g.cpu.r[R_EAX], 2);
    EXPECT_EQ(g.cpu.r[R_EBX], 0);
    if (getenv("KVM_DEBUG")) kvm_engine_print_stats(g.k, stdout);
    rig_free(&g);
}

static void test_kvm_mmio(void)
{
    /* mov ax,0A000h; mov es,ax; mov dword [es:4],0CAFEBABEh; mov eax,[es:4]; mov bl,[es:5]; hlt */
    static const uint8_t p[] = { 0xB8, 0x00, 0xA0, 0x8E, 0xC0,
                                 0x66, 0x26, 0xC7, 0x06, 0x04, 0x00, 0xBE, 0xBA, 0xFE, 0xCA,
                                 0x66, 0x26, 0xA1, 0x04, 0x00,
                                 0x26, 0x8A, 0x1E, 0x05, 0x00, 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(g.dev.mmio[1], 0xCAFEBABEu);
    EXPECT_EQ(g.cpu.r[R_EAX], 0xCAFEBABEu);
    EXPECT_EQ(g.cpu.r[R_EBX] & 0xFF, 0xBA);
    EXPECT(g.dev.mmio_wr >= 1);
    EXPECT(g.dev.mmio_rd >= 2);
    rig_free(&g);
}

static void test_kvm_rom(void)
{
    /* ROM at F0000: readable through its read-only slot, writes dropped.
     * mov ax,0F000h; mov ds,ax; mov al,[10h]; mov byte [10h],55h; mov bl,[10h]; hlt */
    static const uint8_t p[] = { 0xB8, 0x00, 0xF0, 0x8E, 0xD8, 0xA0, 0x10, 0x00,
                                 0xC6, 0x06, 0x10, 0x00, 0x55, 0x8A, 0x1E, 0x10, 0x00, 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p)) { EXPECT(0); rig_free(&g); return; }
    static uint8_t rom[0x10000];
    memset(rom, 0xC3, sizeof rom);
    rom[0x10] = 0xA7;
    EXPECT_EQ(mem_map_rom(g.mem, 0xF0000, rom, sizeof rom), 0);
    if (!rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(g.cpu.r[R_EAX] & 0xFF, 0xA7);
    EXPECT_EQ(g.cpu.r[R_EBX] & 0xFF, 0xA7);
    EXPECT_EQ(mem_read_phys(g.mem, 0xF0010, 1), 0xA7);
    rig_free(&g);
}

static void test_kvm_interrupt(void)
{
    /* IVT[20h] -> 0000:7D00: inc byte [0500h]; iret.
     * main: sti; hlt; mov al,[0500h]; cli; out 83h,al (raise INTR again with IF=0);
     *       mov cx,50; l: loop l; mov dl,[0500h]; sti; nop; mov bl,[0500h]; hlt; hlt */
    static const uint8_t p[] = { 0xFB, 0xF4, 0xA0, 0x00, 0x05, 0xFA, 0xE6, 0x83,
                                 0xB9, 50, 0, 0xE2, 0xFE, 0x8A, 0x16, 0x00, 0x05,
                                 0xFB, 0x90, 0x8A, 0x1E, 0x00, 0x05, 0xF4, 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    uint8_t *ram = mem_ram(g.mem);
    ram[0x80] = 0x00; ram[0x81] = 0x7D; ram[0x82] = 0; ram[0x83] = 0;
    static const uint8_t h[] = { 0xFE, 0x06, 0x00, 0x05, 0xCF };
    memcpy(ram + 0x7D00, h, sizeof h);
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);          /* first HLT, nothing pending */
    EXPECT_EQ(g.cpu.eip, 0x7C02);
    EXPECT_EQ(g.dev.acks, 0);
    EXPECT(g.cpu.halted);
    g.dev.pending = true;                            /* the device raises INTR */
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);          /* handler ran, then a later HLT */
    EXPECT_EQ(g.dev.acks, 2);                         /* once after HLT, once after STI */
    EXPECT_EQ(g.cpu.r[R_EAX] & 0xFF, 1);              /* after the first interrupt */
    EXPECT_EQ(g.cpu.r[R_EDX] & 0xFF, 1);              /* none taken while IF=0 */
    EXPECT_EQ(ram[0x500], 2);
    if (level >= KVM_RUNS_PAGING) {
        /* hardware: the interrupt-window exit right after STI's shadow */
        EXPECT_EQ(g.cpu.r[R_EBX] & 0xFF, 2);
        EXPECT_EQ(g.cpu.eip, 0x7C00 + sizeof p - 1);
    } else {
        /* emulated (kvm_pvm): no window exit; taken at the HLT instead of halting */
        EXPECT(((g.cpu.r[R_EBX] & 0xFF) == 2 && g.cpu.eip == 0x7C00 + sizeof p - 1) ||
               ((g.cpu.r[R_EBX] & 0xFF) == 1 && g.cpu.eip == 0x7C00 + sizeof p));
    }
    EXPECT_EQ(g.cpu.r[R_ESP] & 0xFFFF, 0x7000);
    if (getenv("KVM_DEBUG")) kvm_engine_print_stats(g.k, stdout);
    rig_free(&g);
}

static void test_kvm_interrupt_first_entry(void)
{
    /* INTR already asserted when a fresh vCPU is first loaded (every state
     * group written at that entry): the interrupt is delivered before the
     * first instruction and not lost. Handler: mov al,99h; out 80h,al; iret */
    static const uint8_t p[] = { 0x90, 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    uint8_t *ram = mem_ram(g.mem);
    ram[0x80] = 0x00; ram[0x81] = 0x7D; ram[0x82] = 0; ram[0x83] = 0;
    static const uint8_t h[] = { 0xB0, 0x99, 0xE6, 0x80, 0xCF };
    memcpy(ram + 0x7D00, h, sizeof h);
    g.cpu.eflags |= FL_IF;
    g.dev.pending = true;
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(g.dev.acks, 1);
    EXPECT_EQ(g.dev.nlog, 1);
    EXPECT_EQ(g.dev.log[0], 0x99);
    EXPECT_EQ(g.cpu.eip, 0x7C02);
    EXPECT_EQ(g.cpu.r[R_ESP] & 0xFFFF, 0x7000);
    rig_free(&g);
}

static void test_kvm_spin_returns(void)
{
    /* jmp $ : a spinning guest gives control back within the time slice */
    static const uint8_t p[] = { 0xEB, 0xFE };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    double t0 = now_s();
    int r = kvm_engine_run(g.k, 20000);
    double dt = now_s() - t0;
    EXPECT_EQ(r, EXC_NONE);
    EXPECT_EQ(g.cpu.eip, 0x7C00);
    EXPECT(dt < 0.5);
    /* an interrupt still gets in after a slice */
    uint8_t *ram = mem_ram(g.mem);
    ram[0x80] = 0x00; ram[0x81] = 0x7D; ram[0x82] = 0; ram[0x83] = 0;
    ram[0x7D00] = 0xF4;
    g.cpu.eflags |= FL_IF;
    g.dev.pending = true;
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(g.cpu.eip, 0x7D01);
    rig_free(&g);
}

/* Run `code` under the interpreter and under kvm; compare every register,
 * segment, defined flag, the x87 state and the first 128 KiB of RAM. */
static void compare_with_interp(const uint8_t *code, size_t n)
{
    struct rig a, b;
    if (!rig_init(&a, code, n) || !rig_init(&b, code, n) || !rig_kvm(&b)) { EXPECT(0); rig_free(&a); rig_free(&b); return; }
    EXPECT_EQ(interp_until_hlt(&a.cpu), EXIT_HLT);
    EXPECT_EQ(kvm_until(&b, 100), EXIT_HLT);
    for (int i = 0; i < 8; i++) EXPECT_EQ(b.cpu.r[i], a.cpu.r[i]);
    EXPECT_EQ(b.cpu.eip, a.cpu.eip);
    EXPECT_EQ(b.cpu.eflags, a.cpu.eflags);
    for (int s = 0; s < 6; s++) {
        EXPECT_EQ(b.cpu.seg[s].sel, a.cpu.seg[s].sel);
        EXPECT_EQ(b.cpu.seg[s].base, a.cpu.seg[s].base);
        EXPECT_EQ(b.cpu.seg[s].limit, a.cpu.seg[s].limit);
    }
    EXPECT_EQ(b.cpu.fpu.cw, a.cpu.fpu.cw);
    EXPECT_EQ(b.cpu.fpu.sw, a.cpu.fpu.sw);
    EXPECT_EQ(b.cpu.fpu.tw, a.cpu.fpu.tw);
    EXPECT(!memcmp(b.cpu.fpu.st, a.cpu.fpu.st, sizeof a.cpu.fpu.st));
    EXPECT(!memcmp(mem_ram(b.mem), mem_ram(a.mem), 0x20000));
    EXPECT(a.cpu.halted && b.cpu.halted);
    rig_free(&a);
    rig_free(&b);
}

static void test_kvm_vs_interp(void)
{
    /* integer, flags, stack, segments */
    static const uint8_t q[] = {
        0x66, 0xB8, 0x01, 0x00, 0x00, 0x80,       /* mov eax,80000001h */
        0x66, 0xBB, 0xFF, 0xFF, 0xFF, 0xFF,       /* mov ebx,-1 */
        0x66, 0x01, 0xD8,                         /* add eax,ebx */
        0x9C, 0x5E,                               /* pushf; pop si (flags of the ADD) */
        0x66, 0x99,                               /* cdq */
        0x66, 0xB9, 0x07, 0x00, 0x00, 0x00,       /* mov ecx,7 */
        0x66, 0xF7, 0xF9,                         /* idiv ecx (flags undefined ...) */
        0x66, 0x85, 0xC0,                         /* test eax,eax (... defined again) */
        0xB8, 0x00, 0x10, 0x8E, 0xD8,             /* mov ax,1000h; mov ds,ax */
        0xC7, 0x06, 0x10, 0x00, 0x34, 0x12,       /* mov word [10h],1234h */
        0xFF, 0x06, 0x10, 0x00,                   /* inc word [10h] */
        0x8C, 0xDF,                               /* mov di,ds */
        0x66, 0x89, 0xC5,                         /* mov ebp,eax (after mov ax: 0x....1000) */
        0x66, 0x0F, 0xC8,                         /* bswap eax */
        0x66, 0xD1, 0xD0,                         /* rcl eax,1 */
        0xF4 };
    compare_with_interp(q, sizeof q);
}

static void test_kvm_cpuid(void)
{
    /* our model's CPUID (KVM_SET_CPUID2 from struct cpu): leaf 0 and 1 */
    static const uint8_t q[] = { 0x66, 0x31, 0xC0, 0x0F, 0xA2, 0x66, 0x89, 0xDE, 0x66, 0x89, 0xD7,  /* xor eax,eax; cpuid; mov esi,ebx; mov edi,edx */
                                 0x66, 0xB8, 0x01, 0x00, 0x00, 0x00, 0x0F, 0xA2, 0xF4 };         /* mov eax,1; cpuid; hlt */
    compare_with_interp(q, sizeof q);
}

static void test_kvm_x87_vs_interp(void)
{
    /* fninit; fld1; fldpi; faddp; fstp qword [0020h]; fld1; fnstsw ax; hlt */
    static const uint8_t q[] = { 0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEB, 0xDE, 0xC1, 0xDD, 0x1E, 0x20, 0x00,
                                 0xD9, 0xE8, 0xDF, 0xE0, 0xF4 };
    compare_with_interp(q, sizeof q);
}

/* struct cpu -> vCPU -> struct cpu is the identity (but EIP past the HLT) */
static void test_kvm_state_roundtrip(void)
{
    static const uint8_t p[] = { 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p)) { EXPECT(0); rig_free(&g); return; }
    struct cpu *c = &g.cpu;
    for (int i = 0; i < 8; i++) c->r[i] = 0x11111111u * (uint32_t)(i + 1);
    c->r[R_ESP] = 0x6FF0;
    c->eflags = 0x00000AD7u;                              /* OF DF SF ZF AF PF CF, IF off */
    c->seg[SEG_DS] = (struct seg){ 0x1234, 0x12340, 0xFFFF, 0x93 };
    c->seg[SEG_ES] = (struct seg){ 0x2000, 0x20000, 0xFFFF, 0x93 };
    c->seg[SEG_FS] = (struct seg){ 0x0040, 0x00400, 0xFFFFFFFFu, 0x0893 };   /* unreal-mode limit, G */
    c->seg[SEG_GS] = (struct seg){ 0xB800, 0xB8000, 0xFFFF, 0x93 };
    c->gdtr = (struct dtr){ 0x5000, 0x27 };
    c->idtr = (struct dtr){ 0, 0x3FF };
    c->cr[2] = 0xDEADB000u;
    c->msr_sysenter_cs = 0x10; c->msr_sysenter_esp = 0xC0001000u; c->msr_sysenter_eip = 0xC0100000u;
    c->fpu.cw = 0x037F; c->fpu.sw = 0x3000 | 0x0100; c->fpu.tw = 0x0FFF;   /* TOP=6, ST0/ST1 valid */
    static const uint8_t one[10] = { 0, 0, 0, 0, 0, 0, 0, 0x80, 0xFF, 0x3F };
    static const uint8_t pi[10] = { 0x35, 0xC2, 0x68, 0x21, 0xA2, 0xDA, 0x0F, 0xC9, 0x00, 0x40 };
    memcpy(c->fpu.st[6], one, 10);
    memcpy(c->fpu.st[7], pi, 10);
    c->dr[0] = 0x1000; c->dr[7] = 0x400;
    if (!rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    struct cpu before = *c;
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(c->eip, before.eip + 1);
    for (int i = 0; i < 8; i++) EXPECT_EQ(c->r[i], before.r[i]);
    EXPECT_EQ(c->eflags, before.eflags);
    for (int s = 0; s < 6; s++) {
        EXPECT_EQ(c->seg[s].sel, before.seg[s].sel);
        EXPECT_EQ(c->seg[s].base, before.seg[s].base);
        EXPECT_EQ(c->seg[s].limit, before.seg[s].limit);
        EXPECT_EQ(c->seg[s].ar & 0x0F9E, before.seg[s].ar & 0x0F9E);   /* accessed bit may be set */
    }
    EXPECT_EQ(c->gdtr.base, before.gdtr.base); EXPECT_EQ(c->gdtr.limit, before.gdtr.limit);
    EXPECT_EQ(c->idtr.limit, before.idtr.limit);
    EXPECT_EQ(c->cr[0], before.cr[0]);
    EXPECT_EQ(c->cr[2], before.cr[2]);
    EXPECT_EQ(c->msr_sysenter_cs, before.msr_sysenter_cs);
    EXPECT_EQ(c->msr_sysenter_esp, before.msr_sysenter_esp);
    EXPECT_EQ(c->msr_sysenter_eip, before.msr_sysenter_eip);
    EXPECT_EQ(c->fpu.cw, before.fpu.cw);
    EXPECT_EQ(c->fpu.sw, before.fpu.sw);
    EXPECT_EQ(c->fpu.tw, before.fpu.tw);
    EXPECT(!memcmp(c->fpu.st[6], one, 10));
    EXPECT(!memcmp(c->fpu.st[7], pi, 10));
    EXPECT_EQ(c->dr[0], before.dr[0]);
    EXPECT(c->halted);
    /* changed by "the interpreter" between runs: the next run sees it */
    c->halted = false;
    c->eip = 0x7C00;
    c->r[R_EAX] = 0xABCDEF01u;
    c->seg[SEG_DS] = (struct seg){ 0x3000, 0x30000, 0xFFFF, 0x93 };
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(c->r[R_EAX], 0xABCDEF01u);
    EXPECT_EQ(c->seg[SEG_DS].base, 0x30000);
    rig_free(&g);
}

static void test_kvm_a20(void)
{
    /* A20 off: FFFF:0010 is physical 0 (the wrap); on: 1 MiB */
    static const uint8_t p[] = { 0xB8, 0xFF, 0xFF, 0x8E, 0xC0, 0x26, 0xC6, 0x06, 0x10, 0x00, 0x5A, 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    g.cpu.a20_enabled = false;
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(mem_ram(g.mem)[0], 0x5A);
    EXPECT_EQ(mem_ram(g.mem)[0x100000], 0);
    g.cpu.a20_enabled = true;
    g.cpu.halted = false;
    g.cpu.eip = 0x7C00;
    mem_ram(g.mem)[0] = 0;
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(mem_ram(g.mem)[0], 0);
    EXPECT_EQ(mem_ram(g.mem)[0x100000], 0x5A);
    rig_free(&g);
}

/* lidt with limit 0; int 20h: #GP, #DF, shutdown (SDM vol. 3 sec. 20.1.4) ->
 * EXIT_RESET; after the board's reset the same vCPU runs again. */
static void test_kvm_triple_fault_reset(void)
{
    static const uint8_t p[] = { 0x0F, 0x01, 0x1E, 0x20, 0x7C, 0xCD, 0x20, 0xF4 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    memset(mem_ram(g.mem) + 0x7C20, 0, 6);
    EXPECT_EQ(kvm_until(&g, 100), EXIT_RESET);
    /* the machine's reset: power-on state, then our entry point again */
    cpu_reset(&g.cpu);
    g.cpu.seg[SEG_CS].sel = 0;
    g.cpu.seg[SEG_CS].base = 0;
    g.cpu.eip = 0x7D00;
    g.cpu.r[R_ESP] = 0x7000;
    static const uint8_t q[] = { 0xB0, 0x77, 0xE6, 0x80, 0xF4 };   /* mov al,77h; out 80h,al; hlt */
    memcpy(mem_ram(g.mem) + 0x7D00, q, sizeof q);
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    EXPECT_EQ(g.dev.nlog, 1);
    EXPECT_EQ(g.dev.log[0], 0x77);
    EXPECT_EQ(g.cpu.eip, 0x7D05);
    EXPECT_EQ(g.cpu.idtr.limit, 0xFFFF);                     /* the reset's IDTR reached the vCPU */
    rig_free(&g);
}

/* Real mode -> protected mode -> 32-bit paging (nasm source in the comments).
 * Where the probe found paging (VT-x/AMD-V) the guest reads a word through a
 * 4 KiB mapping; where it did not (kvm_pvm) the run must stop with EXIT_UNIMPL
 * at the CR0 write, never loop on the triple fault. */
static void test_kvm_paging(void)
{
    static const uint8_t p[] = {
        /* cli; lgdt [gdtr]; mov eax,cr0; or al,1; mov cr0,eax; jmp dword 08h:pm */
        0xfa, 0x0f, 0x01, 0x16, 0x60, 0x7c, 0x0f, 0x20, 0xc0, 0x0c, 0x01, 0x0f,
        0x22, 0xc0, 0x66, 0xea, 0x16, 0x7c, 0x00, 0x00, 0x08, 0x00,
        /* pm: mov ax,10h; mov ds/es/ss,ax; mov esp,7000h; mov al,2; out 80h,al */
        0x66, 0xb8, 0x10, 0x00, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x70, 0x00,
        0x00, 0xb0, 0x02, 0xe6, 0x80,
        /* mov eax,2000h; mov cr3,eax; mov eax,cr0; or eax,80000000h; mov cr0,eax */
        0xb8, 0x00, 0x20, 0x00, 0x00, 0x0f, 0x22, 0xd8, 0x0f, 0x20, 0xc0, 0x0d, 0x00, 0x00, 0x00,
        0x80, 0x0f, 0x22, 0xc0,
        /* mov al,3; out 80h,al; mov ebx,[400010h]; hlt; nop */
        0xb0, 0x03, 0xe6, 0x80, 0x8b, 0x1d, 0x10, 0x00, 0x40, 0x00, 0xf4, 0x90,
        /* gdt: null, flat code, flat data; gdtr: dw 23, dd gdt */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x00, 0x00,
        0x00, 0x9a, 0xcf, 0x00, 0xff, 0xff, 0x00, 0x00, 0x00, 0x92, 0xcf, 0x00,
        0x17, 0x00, 0x48, 0x7c, 0x00, 0x00 };
    struct rig g;
    if (!rig_init(&g, p, sizeof p) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    uint8_t *ram = mem_ram(g.mem);
    uint32_t e;
    e = 0x3000 | 3; memcpy(ram + 0x2000, &e, 4);             /* PD[0] -> PT at 3000h: identity 1 MiB */
    e = 0x4000 | 3; memcpy(ram + 0x2004, &e, 4);             /* PD[1] -> PT at 4000h */
    for (uint32_t i = 0; i < 256; i++) { e = i << 12 | 3; memcpy(ram + 0x3000 + 4 * i, &e, 4); }
    e = 0x6000 | 3; memcpy(ram + 0x4000, &e, 4);             /* linear 400000h -> physical 6000h */
    memcpy(ram + 0x6010, "\x78\x56\x34\x12", 4);
    int r = kvm_until(&g, 1000);
    EXPECT(g.dev.nlog >= 1);
    EXPECT_EQ(g.dev.log[0], 2);                              /* protected mode ran (both kinds of host) */
    if (level >= KVM_RUNS_PAGING) {
        EXPECT_EQ(r, EXIT_HLT);
        EXPECT_EQ(g.dev.nlog, 2);
        EXPECT_EQ(g.cpu.r[R_EBX], 0x12345678u);
        EXPECT_EQ(g.cpu.cr[0] & 0x80000001u, 0x80000001u);
        EXPECT_EQ(g.cpu.cpl, 0);
        EXPECT_EQ(g.cpu.seg[SEG_CS].sel, 8);
    } else {
        EXPECT_EQ(r, EXIT_UNIMPL);                          /* one line on stderr, no reset loop */
        EXPECT_EQ(g.dev.nlog, 1);
        EXPECT_EQ(g.cpu.seg[SEG_CS].sel, 8);
        EXPECT_EQ(g.cpu.cr[0] & 1, 1);
        /* the vCPU is usable again after the board resets it (KVM_SET_MP_STATE) */
        cpu_reset(&g.cpu);
        g.cpu.seg[SEG_CS].sel = 0;
        g.cpu.seg[SEG_CS].base = 0;
        g.cpu.eip = 0x7D00;
        g.cpu.r[R_ESP] = 0x7000;
        static const uint8_t q[] = { 0xB0, 0x77, 0xE6, 0x80, 0xF4 };   /* mov al,77h; out 80h,al; hlt */
        memcpy(ram + 0x7D00, q, sizeof q);
        EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
        EXPECT_EQ(g.dev.nlog, 2);
        EXPECT_EQ(g.dev.log[1], 0x77);
        EXPECT_EQ(g.cpu.cr[0], 0x60000010u);
    }
    rig_free(&g);
}

/* The same state and interrupt paths with regs/sregs/events moved by ioctls
 * instead of KVM_CAP_SYNC_REGS (hosts without it; BT86_KVM_NO_SYNC forces it) */
static void test_kvm_no_sync_regs(void)
{
    setenv("BT86_KVM_NO_SYNC", "1", 1);
    int f0 = test_failures_;
    test_kvm_state_roundtrip();
    test_kvm_interrupt();
    test_kvm_interrupt_first_entry();
    test_kvm_io_exact_on_return();
    unsetenv("BT86_KVM_NO_SYNC");
    EXPECT(test_failures_ == f0);
}

/* The whole board (our BIOS from the read-only ROM slot, the PIT's IRQ0
 * through the PIC, VGA text memory as MMIO, CMOS, PCI) under kvm and under
 * the interpreter: the same POST codes, port-E9h text and screen. */
static struct machine *post_machine(const char *engine, enum machine_stop *st)
{
    struct machine_config cfg;
    machine_config_defaults(&cfg);
    cfg.ram_bytes = 32u << 20;
    cfg.serial = "none";
    cfg.display = "none";
    cfg.engine = engine;
    cfg.max_seconds = 20;
    char err[512];
    struct machine *m = machine_new(&cfg, err, sizeof err);
    if (!m) { printf("  machine_new(%s): %s\n", engine, err); return NULL; }
    if (machine_load_bios(m, bt86_bios_image, bt86_bios_size(), "built-in", err, sizeof err)) {
        printf("  %s\n", err);
        machine_free(m);
        return NULL;
    }
    *st = machine_run(m);
    return m;
}

static void screen_text(struct machine *m, char *out)
{
    for (int i = 0; i < 80 * 25; i++) {
        uint32_t v = 0;
        (void)bus_mmio_read(machine_bus(m), 0xB8000 + 2 * (uint32_t)i, 1, &v);
        out[i] = (char)(v ? v : ' ');
    }
    out[80 * 25] = 0;
}

static void test_kvm_machine_post(void)
{
    enum machine_stop sk = STOP_LIMIT, si = STOP_LIMIT;
    struct machine *mk = post_machine("kvm", &sk);
    struct machine *mi = post_machine("interp", &si);
    EXPECT(mk && mi);
    if (mk && mi) {
        EXPECT_EQ(sk, STOP_HALTED);
        EXPECT_EQ(si, STOP_HALTED);
        size_t nk, ni;
        const uint8_t *pk = machine_post_codes(mk, &nk), *pi = machine_post_codes(mi, &ni);
        EXPECT_EQ(nk, ni);
        EXPECT(nk == ni && !memcmp(pk, pi, nk));
        EXPECT(!strcmp(machine_debug_text(mk), machine_debug_text(mi)));
        EXPECT(strstr(machine_debug_text(mk), "No bootable device found") != NULL);
        static char a[80 * 25 + 1], b[80 * 25 + 1];
        screen_text(mk, a);
        screen_text(mi, b);
        EXPECT(!strcmp(a, b));
        /* BIOS data area up to the timer tick count, which depends on time */
        uint8_t bk[0x6C], bi[0x6C];
        EXPECT_EQ(mem_read_bytes(machine_mem(mk), 0x400, bk, sizeof bk), 0);
        EXPECT_EQ(mem_read_bytes(machine_mem(mi), 0x400, bi, sizeof bi), 0);
        EXPECT(!memcmp(bk, bi, sizeof bk));
    }
    if (mk) machine_free(mk);
    if (mi) machine_free(mi);
}

/* Figures for docs/kvm.md: OUT round trip, HLT + interrupt round trip and
 * real-mode instructions per second under kvm on this host. */
static void test_kvm_measure(void)
{
    /* mov cx,N; l: out 80h,al; loop l; hlt */
    enum { NOUT = 20000 };
    static const uint8_t p_out[] = { 0xB9, NOUT & 0xFF, NOUT >> 8, 0xE6, 0x85, 0xE2, 0xFC, 0xF4 };
    struct rig g;
    if (!rig_init(&g, p_out, sizeof p_out) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    double t0 = now_s();
    EXPECT_EQ(kvm_until(&g, 100000), EXIT_HLT);
    double out_us = (now_s() - t0) / NOUT * 1e6;
    rig_free(&g);
    /* the same loop under the interpreter, for scale */
    if (!rig_init(&g, p_out, sizeof p_out)) { EXPECT(0); rig_free(&g); return; }
    t0 = now_s();
    EXPECT_EQ(interp_until_hlt(&g.cpu), EXIT_HLT);
    double out_interp_us = (now_s() - t0) / NOUT * 1e6;
    EXPECT_EQ(g.cpu.r[R_ECX] & 0xFFFF, 0);
    rig_free(&g);

    /* sti; l: hlt; jmp l  with the handler an IRET: one HLT exit + one injection per round */
    enum { NHLT = 2000 };
    static const uint8_t p_hlt[] = { 0xFB, 0xF4, 0xEB, 0xFD };
    if (!rig_init(&g, p_hlt, sizeof p_hlt) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    uint8_t *ram = mem_ram(g.mem);
    ram[0x80] = 0x00; ram[0x81] = 0x7D; ram[0x82] = 0; ram[0x83] = 0;
    ram[0x7D00] = 0xCF;
    EXPECT_EQ(kvm_until(&g, 100), EXIT_HLT);
    t0 = now_s();
    for (int i = 0; i < NHLT; i++) {
        g.dev.pending = true;
        if (kvm_until(&g, 100) != EXIT_HLT) { EXPECT(0); break; }
    }
    double hlt_us = (now_s() - t0) / NHLT * 1e6;
    EXPECT_EQ(g.dev.acks, NHLT);
    rig_free(&g);

    /* mov ecx,N; l: add ax,cx; xor bx,ax; dec ecx; jnz l; hlt: 4 insns per round */
    uint32_t nloop = level >= KVM_RUNS_PAGING ? 50000000u : 200000u;
    uint8_t p_loop[] = { 0x66, 0xB9, (uint8_t)nloop, (uint8_t)(nloop >> 8), (uint8_t)(nloop >> 16), (uint8_t)(nloop >> 24),
                         0x01, 0xC8, 0x31, 0xC3, 0x66, 0x49, 0x75, 0xF8, 0xF4 };
    if (!rig_init(&g, p_loop, sizeof p_loop) || !rig_kvm(&g)) { EXPECT(0); rig_free(&g); return; }
    t0 = now_s();
    int r = EXC_NONE;
    for (int i = 0; i < 100000 && r == EXC_NONE; i++) r = kvm_engine_run(g.k, 400000);   /* 4 ms slices */
    EXPECT_EQ(r, EXIT_HLT);
    double dt = now_s() - t0;
    EXPECT_EQ(g.cpu.r[R_ECX], 0);
    printf("info kvm: OUT exit round trip %.2f us (interpreter: %.3f us), HLT + interrupt round trip %.2f us, "
           "real-mode loop %.1f M instructions/s\n", out_us, out_interp_us, hlt_us, 4.0 * nloop / dt / 1e6);
    kvm_engine_print_stats(g.k, stdout);
    rig_free(&g);
}

int main(void)
{
    level = kvm_engine_probe(skip_why, sizeof skip_why);
    if (level >= 0 && level < KVM_RUNS_REAL) {
        char tmp[400];
        snprintf(tmp, sizeof tmp, "%s", skip_why);
        snprintf(skip_why, sizeof skip_why, "/dev/kvm cannot run real-mode code: %.300s", tmp);
    }
    if (level < KVM_RUNS_REAL) {
        SKIP(test_kvm_probe, skip_why);
    } else {
        RUN(test_kvm_probe);
    }
#define T(fn) do { if (level < KVM_RUNS_REAL) SKIP(fn, skip_why); else RUN(fn); } while (0)
    T(test_kvm_arith);
    T(test_kvm_io);
    T(test_kvm_io_exact_on_return);
    T(test_kvm_singlestep);
    T(test_kvm_mmio);
    T(test_kvm_rom);
    T(test_kvm_interrupt);
    T(test_kvm_interrupt_first_entry);
    T(test_kvm_spin_returns);
    T(test_kvm_vs_interp);
    if (level >= KVM_RUNS_REAL && level < KVM_RUNS_PAGING)
        SKIP(test_kvm_cpuid, "this KVM emulates real mode in software and answers CPUID from the host (kvm_pvm ignores KVM_SET_CPUID2 there)");
    else
        T(test_kvm_cpuid);
    /* kvm_pvm runs real mode in KVM's instruction emulator, which has no x87 */
    if (level >= KVM_RUNS_REAL && level < KVM_RUNS_PAGING)
        SKIP(test_kvm_x87_vs_interp, "this KVM emulates real mode in software (no x87 in KVM's emulator)");
    else
        T(test_kvm_x87_vs_interp);
    T(test_kvm_state_roundtrip);
    T(test_kvm_a20);
    if (level >= KVM_RUNS_REAL && level < KVM_RUNS_PAGING)
        SKIP(test_kvm_triple_fault_reset, "this KVM emulates real mode in software and its emulator ignores the IVT limit (no triple fault)");
    else
        T(test_kvm_triple_fault_reset);
    T(test_kvm_paging);
    T(test_kvm_no_sync_regs);
    T(test_kvm_machine_post);
    T(test_kvm_measure);
    return test_summary();
}

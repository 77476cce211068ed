/* tests/unit/test_pmode.c - protected mode in the reference interpreter.
 *
 * Each test builds a GDT, IDT, LDT and TSSs in guest RAM like a protected-
 * mode kernel would, puts the CPU in the state a bootloader leaves (PE=1,
 * flat ring-0 segments, TR loaded), and single-steps hand-encoded
 * instructions, checking registers, caches, stack frames and descriptor
 * bits against the SDM (vol. 3 ch. 5-7, 20).
 *
 * Guest layout: GDT 0x1000, IDT 0x2000, TSS A 0x3000 (current), TSS B
 * 0x3100, TSS DF 0x3200, TSS C (16-bit) 0x3300, LDT 0x4000, ring-0 stack
 * top 0x9000, ring-3 stack top 0x7000, code 0x10000, exception handlers at
 * 0x11000 + vec*16 (each a HLT), ring-3 code 0x12000, task code 0x13000,
 * gate targets 0x14000, page tables 0x20000.
 */
#include "test.h"
#include "cpu/cpu.h"
#include "mem/mem.h"
#include <string.h>

static struct mem *m;
static uint8_t *ram;

static void w8(uint32_t a, uint8_t v) { ram[a] = v; }
static void w16(uint32_t a, uint16_t v) { memcpy(ram + a, &v, 2); }
static void w32(uint32_t a, uint32_t v) { memcpy(ram + a, &v, 4); }
static uint32_t r32(uint32_t a) { uint32_t v; memcpy(&v, ram + a, 4); return v; }
static uint16_t r16(uint32_t a) { uint16_t v; memcpy(&v, ram + a, 2); return v; }
#define CODE(addr, ...) do { static const uint8_t b_[] = { __VA_ARGS__ }; memcpy(ram + (addr), b_, sizeof b_); } while (0)

#define GDT 0x1000u
#define IDT 0x2000u
#define TSS_A 0x3000u
#define TSS_B 0x3100u
#define TSS_DF 0x3200u
#define TSS_C 0x3300u
#define HANDLER(v) (0x11000u + (uint32_t)(v) * 16)

static void set_desc(uint32_t tbl, unsigned sel, uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
    uint32_t a = tbl + (sel & ~7u);
    w32(a, (limit & 0xFFFF) | (base << 16));
    w32(a + 4, ((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000) | (flags << 20) | (base & 0xFF000000u));
}

static void set_gate(uint32_t a, uint16_t sel, uint32_t off, unsigned type_byte, unsigned params)
{
    w32(a, (off & 0xFFFF) | ((uint32_t)sel << 16));
    w32(a + 4, (off & 0xFFFF0000u) | (type_byte << 8) | params);
}
static void idt_gate(unsigned vec, uint16_t sel, uint32_t off, unsigned type_byte)
{
    set_gate(IDT + vec * 8, sel, off, type_byte, 0);
}
static uint8_t gdt_access(unsigned sel) { return ram[GDT + (sel & ~7u) + 5]; }

static const struct seg CS0 = { 0x08, 0, 0xFFFFFFFFu, 0xC9B };
static const struct seg DS0 = { 0x10, 0, 0xFFFFFFFFu, 0xC93 };
static const struct seg CS3 = { 0x1B, 0, 0xFFFFFFFFu, 0xCFB };
static const struct seg DS3 = { 0x23, 0, 0xFFFFFFFFu, 0xCF3 };

/* A 32-bit protected-mode machine at CPL 0, EIP 0x10000, TR = TSS A. */
static void pm_setup(struct cpu *c)
{
    memset(ram, 0, 2 << 20);
    cpu_init(c, m, NULL);
    set_desc(GDT, 0x08, 0, 0xFFFFF, 0x9A, 0xC);
    set_desc(GDT, 0x10, 0, 0xFFFFF, 0x92, 0xC);
    set_desc(GDT, 0x18, 0, 0xFFFFF, 0xFA, 0xC);
    set_desc(GDT, 0x20, 0, 0xFFFFF, 0xF2, 0xC);
    set_desc(GDT, 0x28, TSS_A, 0x67, 0x8B, 0);        /* busy: current task */
    set_desc(GDT, 0x30, TSS_B, 0x67, 0x89, 0);
    set_desc(GDT, 0x38, 0, 0xFFFFF, 0x12, 0xC);       /* data, not present */
    set_gate(GDT + 0x40, 0x08, 0x14000, 0xEC, 2);      /* 32-bit call gate, DPL 3, 2 params */
    set_gate(GDT + 0x48, 0x30, 0, 0xE5, 0);            /* task gate to TSS B, DPL 3 */
    set_desc(GDT, 0x50, 0, 0xFFFFF, 0x9E, 0xC);       /* conforming code, DPL 0 */
    set_desc(GDT, 0x58, 0, 0xFFFF, 0x9A, 0x0);        /* 16-bit code, DPL 0 */
    set_desc(GDT, 0x60, 0x4000, 0x17, 0x82, 0);       /* LDT */
    set_desc(GDT, 0x68, TSS_DF, 0x67, 0x89, 0);
    set_desc(GDT, 0x70, TSS_C, 0x2B, 0x81, 0);        /* 16-bit TSS */
    set_desc(GDT, 0x78, 0, 0xFFFFF, 0x90, 0xC);       /* read-only data */
    set_desc(GDT, 0x80, 0, 0x0FFF, 0x96, 0x4);        /* expand-down, B=1 */
    set_desc(0x4000, 0x00, 0x5000, 0xFFF, 0x92, 0x4); /* LDT[0]: data at 0x5000 */
    c->gdtr = (struct dtr){ GDT, 0x8F };
    c->idtr = (struct dtr){ IDT, 0x7FF };
    for (unsigned v = 0; v < 256; v++) {
        idt_gate(v, 0x08, HANDLER(v), 0x8E);
        w8(HANDLER(v), 0xF4);
    }
    idt_gate(0x80, 0x08, 0x14000, 0xEE);               /* system call gate, DPL 3 */
    idt_gate(0x03, 0x08, HANDLER(3), 0xEF);            /* INT3: DPL 3 trap gate */
    w32(TSS_A + 4, 0x9000); w32(TSS_A + 8, 0x10);      /* ring-0 stack */
    /* TSS B: a ring-0 task at 0x13000 */
    w32(TSS_B + 0x20, 0x13000); w32(TSS_B + 0x24, 0x2);
    w32(TSS_B + 0x28, 0x1111); w32(TSS_B + 0x38, 0xA000);
    w32(TSS_B + 0x4C, 0x08); w32(TSS_B + 0x50, 0x10); w32(TSS_B + 0x54, 0x10); w32(TSS_B + 0x48, 0x10);
    /* TSS DF: the double-fault task (as Linux does it) */
    w32(TSS_DF + 0x20, 0x13800); w32(TSS_DF + 0x24, 0x2); w32(TSS_DF + 0x38, 0xB000);
    w32(TSS_DF + 0x4C, 0x08); w32(TSS_DF + 0x50, 0x10); w32(TSS_DF + 0x54, 0x10); w32(TSS_DF + 0x48, 0x10);
    w8(0x13800, 0xF4);
    c->cr[0] |= 1;
    c->seg[SEG_CS] = CS0;
    for (int s = 0; s < 6; s++) if (s != SEG_CS) c->seg[s] = DS0;
    c->tr = (struct seg){ 0x28, TSS_A, 0x67, 0x8B };
    c->ldtr = (struct seg){ 0, 0, 0, 0 };
    c->cpl = 0;
    c->eip = 0x10000;
    c->r[R_ESP] = 0x8000;
    c->exit_on_halt = true;
    cpu_tlb_flush(c);
}

/* Drop to ring 3 at 0x12000 (as a kernel's IRET would leave it). */
static void to_ring3(struct cpu *c)
{
    c->seg[SEG_CS] = CS3;
    for (int s = 0; s < 6; s++) if (s != SEG_CS) c->seg[s] = DS3;
    c->cpl = 3;
    c->eip = 0x12000;
    c->r[R_ESP] = 0x7000;
    c->eflags |= FL_IF;
}

static int steps(struct cpu *c, int n)
{
    int r = EXC_NONE;
    for (int i = 0; i < n; i++) {
        r = interp_step(c);
        if (r >= 256) return r;
    }
    return r;
}

/* Expect that exception `vec` was delivered to its ring-0 handler (not yet run). */
#define EXPECT_AT_HANDLER(c, vec) do { EXPECT_EQ((c)->eip, HANDLER(vec)); EXPECT_EQ((c)->seg[SEG_CS].sel, 0x08); \
    EXPECT_EQ((c)->cpl, 0); } while (0)

static void test_far_jmp_16_to_32(void)
{
    struct cpu c; pm_setup(&c);
    c.seg[SEG_CS] = (struct seg){ 0x58, 0, 0xFFFF, 0x9B };
    c.eip = 0x1000;
    CODE(0x1000, 0x66, 0xEA, 0x00, 0x01, 0x01, 0x00, 0x08, 0x00);   /* jmp dword 0x08:0x10100 */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.eip, 0x10100);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0x08);
    EXPECT(c.seg[SEG_CS].ar & AR_DB);
    EXPECT_EQ(c.seg[SEG_CS].limit, 0xFFFFFFFFu);
    EXPECT_EQ(c.cpl, 0);
    EXPECT_EQ(gdt_access(0x08), 0x9B);                  /* accessed bit set in memory */
    cpu_free(&c);
}

static void test_mov_ss_bad_selector_gp(void)
{
    struct cpu c; pm_setup(&c);
    /* mov ax,0x1F8 (beyond the GDT limit); mov ss,ax */
    CODE(0x10000, 0x66, 0xB8, 0xF8, 0x01, 0x8E, 0xD0);
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_AT_HANDLER(&c, EXC_GP);
    EXPECT_EQ(c.r[R_ESP], 0x8000 - 16);
    EXPECT_EQ(r32(0x8000 - 16), 0x1F8);                 /* error code: the selector */
    EXPECT_EQ(r32(0x8000 - 12), 0x10004);               /* EIP of mov ss */
    EXPECT_EQ(r32(0x8000 - 8), 0x08);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x10);                 /* unchanged */
    cpu_free(&c);
}

static void test_mov_ss_checks(void)
{
    struct cpu c; pm_setup(&c);
    /* null SS: #GP(0) */
    CODE(0x10000, 0x31, 0xC0, 0x8E, 0xD0);              /* xor eax,eax; mov ss,ax */
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0);
    cpu_free(&c);
    /* ring-3 data at CPL 0 (RPL 3 != CPL): #GP(0x20) */
    pm_setup(&c);
    CODE(0x10000, 0x66, 0xB8, 0x23, 0x00, 0x8E, 0xD0);
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x20);
    cpu_free(&c);
    /* read-only data for SS: #GP(0x78) */
    pm_setup(&c);
    CODE(0x10000, 0x66, 0xB8, 0x78, 0x00, 0x8E, 0xD0);
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x78);
    cpu_free(&c);
    /* not-present SS: #SS(0x38) */
    pm_setup(&c);
    CODE(0x10000, 0x66, 0xB8, 0x38, 0x00, 0x8E, 0xD0);
    EXPECT_EQ(steps(&c, 2), EXC_SS);
    EXPECT_AT_HANDLER(&c, EXC_SS);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x38);
    cpu_free(&c);
}

static void test_np_data_segment(void)
{
    struct cpu c; pm_setup(&c);
    CODE(0x10000, 0x66, 0xB8, 0x38, 0x00, 0x8E, 0xD8);  /* mov ds,0x38 */
    EXPECT_EQ(steps(&c, 2), EXC_NP);
    EXPECT_AT_HANDLER(&c, EXC_NP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x38);
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x10004);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0x10);
    cpu_free(&c);
}

static void test_null_ds_then_access_gp(void)
{
    struct cpu c; pm_setup(&c);
    /* xor eax,eax; mov ds,ax; mov eax,[0x100] */
    CODE(0x10000, 0x31, 0xC0, 0x8E, 0xD8, 0xA1, 0x00, 0x01, 0x00, 0x00);
    EXPECT_EQ(steps(&c, 2), EXC_NONE);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0);
    EXPECT(!(c.seg[SEG_DS].ar & AR_P));
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0);
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x10004);
    cpu_free(&c);
}

static void test_data_dpl_rules(void)
{
    struct cpu c; pm_setup(&c);
    to_ring3(&c);
    /* ring 3 loads a DPL-0 data segment: #GP(0x10) */
    CODE(0x12000, 0x66, 0xB8, 0x13, 0x00, 0x8E, 0xD8);
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_AT_HANDLER(&c, EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x10);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x10);                 /* stack switched to ring 0 */
    cpu_free(&c);
    /* ring 3 may load a conforming readable code segment of DPL 0 into DS */
    pm_setup(&c); to_ring3(&c);
    CODE(0x12000, 0x66, 0xB8, 0x53, 0x00, 0x8E, 0xD8);
    EXPECT_EQ(steps(&c, 2), EXC_NONE);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0x53);
    /* RPL 3 selector for DPL-0 data at CPL 0 fails too: max(CPL,RPL) > DPL */
    cpu_free(&c);
    pm_setup(&c);
    CODE(0x10000, 0x66, 0xB8, 0x13, 0x00, 0x8E, 0xC0);  /* mov es,0x13 */
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x10);
    cpu_free(&c);
}

static void test_segment_cache_fields(void)
{
    struct cpu c; pm_setup(&c);
    /* expand-down data segment: limit in bytes, B bit, accessed set */
    CODE(0x10000, 0x66, 0xB8, 0x80, 0x00, 0x8E, 0xE0);  /* mov fs,0x80 */
    EXPECT_EQ(steps(&c, 2), EXC_NONE);
    EXPECT_EQ(c.seg[SEG_FS].limit, 0x0FFF);
    EXPECT_EQ(c.seg[SEG_FS].ar, 0x497);
    EXPECT_EQ(gdt_access(0x80), 0x97);
    /* page-granular segment: limit scaled */
    CODE(0x10006, 0x66, 0xB8, 0x20, 0x00, 0x8E, 0xE8);  /* mov gs,0x20 at CPL0 with RPL 0: DPL 3 ok */
    EXPECT_EQ(steps(&c, 2), EXC_NONE);
    EXPECT_EQ(c.seg[SEG_GS].limit, 0xFFFFFFFFu);
    EXPECT_EQ(c.seg[SEG_GS].sel, 0x20);
    cpu_free(&c);
}

static void test_call_gate_ring3_to_ring0(void)
{
    struct cpu c; pm_setup(&c);
    to_ring3(&c);
    /* push 0x11; push 0x22; call far 0x43:0 */
    CODE(0x12000, 0x6A, 0x11, 0x6A, 0x22, 0x9A, 0, 0, 0, 0, 0x43, 0x00);
    /* ring-0 handler: mov ax,0x10; mov ds,ax; retf 8 */
    CODE(0x14000, 0x66, 0xB8, 0x10, 0x00, 0x8E, 0xD8, 0xCA, 0x08, 0x00);
    EXPECT_EQ(steps(&c, 3), EXC_NONE);
    EXPECT_EQ(c.cpl, 0);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0x08);
    EXPECT_EQ(c.eip, 0x14000);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x10);
    EXPECT_EQ(c.r[R_ESP], 0x9000 - 24);
    EXPECT_EQ(r32(0x9000 - 24), 0x1200B);               /* return EIP */
    EXPECT_EQ(r32(0x9000 - 20), 0x1B);
    EXPECT_EQ(r32(0x9000 - 16), 0x22);                  /* parameters copied in order */
    EXPECT_EQ(r32(0x9000 - 12), 0x11);
    EXPECT_EQ(r32(0x9000 - 8), 0x6FF8);                 /* old ESP */
    EXPECT_EQ(r32(0x9000 - 4), 0x23);                   /* old SS */
    EXPECT_EQ(steps(&c, 3), EXC_NONE);                  /* mov ax; mov ds; retf 8 */
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0x1B);
    EXPECT_EQ(c.eip, 0x1200B);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x23);
    EXPECT_EQ(c.r[R_ESP], 0x7000);                      /* parameters released */
    EXPECT_EQ(c.seg[SEG_DS].sel, 0);                    /* DPL-0 DS nulled */
    EXPECT(!(c.seg[SEG_DS].ar & AR_P));
    EXPECT_EQ(c.seg[SEG_ES].sel, 0x23);                 /* DPL-3 ES kept */
    cpu_free(&c);
}

static void test_call_gate_16bit_same_level(void)
{
    struct cpu c; pm_setup(&c);
    set_gate(GDT + 0x40, 0x08, 0x14000, 0x84, 0);        /* 16-bit call gate, DPL 0 */
    CODE(0x10000, 0x9A, 0, 0, 0, 0, 0x40, 0x00);        /* call far 0x40:0 */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.eip, 0x4000);                           /* 16-bit gate: offset 15:0 */
    EXPECT_EQ(c.r[R_ESP], 0x8000 - 4);
    EXPECT_EQ(r16(0x8000 - 4), 0x0007);                 /* IP, 16 bits */
    EXPECT_EQ(r16(0x8000 - 2), 0x08);
    cpu_free(&c);
}

static void test_far_jmp_privilege(void)
{
    struct cpu c; pm_setup(&c);
    to_ring3(&c);
    CODE(0x12000, 0xEA, 0x00, 0x01, 0x01, 0x00, 0x08, 0x00);  /* jmp 0x08:0x10100 */
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x08);
    cpu_free(&c);
    /* conforming DPL-0 code from ring 3: CPL stays 3, CS.RPL = 3 */
    pm_setup(&c); to_ring3(&c);
    CODE(0x12000, 0xEA, 0x00, 0x01, 0x01, 0x00, 0x50, 0x00);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0x53);
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.eip, 0x10100);
    cpu_free(&c);
    /* beyond the code limit: #GP(0) */
    pm_setup(&c);
    set_desc(GDT, 0x58, 0, 0xFFFF, 0x9A, 0x4);
    CODE(0x10000, 0xEA, 0x00, 0x00, 0x02, 0x00, 0x58, 0x00);  /* jmp 0x58:0x20000 */
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0x08);
    cpu_free(&c);
}

static void test_int_from_ring3(void)
{
    struct cpu c; pm_setup(&c);
    to_ring3(&c);
    CODE(0x12000, 0xCD, 0x80);                          /* int 0x80 */
    CODE(0x14000, 0xCF);                                /* iretd */
    uint32_t fl = c.eflags;
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.cpl, 0);
    EXPECT_EQ(c.eip, 0x14000);
    EXPECT_EQ(c.r[R_ESP], 0x9000 - 20);
    EXPECT_EQ(r32(0x9000 - 20), 0x12002);
    EXPECT_EQ(r32(0x9000 - 16), 0x1B);
    EXPECT_EQ(r32(0x9000 - 12), fl);
    EXPECT_EQ(r32(0x9000 - 8), 0x7000);
    EXPECT_EQ(r32(0x9000 - 4), 0x23);
    EXPECT(!(c.eflags & FL_IF));                        /* interrupt gate */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);                  /* iretd to ring 3 */
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.eip, 0x12002);
    EXPECT_EQ(c.r[R_ESP], 0x7000);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x23);
    EXPECT(c.eflags & FL_IF);
    cpu_free(&c);
}

static void test_int_dpl_protected(void)
{
    struct cpu c; pm_setup(&c);
    to_ring3(&c);
    CODE(0x12000, 0xCD, 0x81);                          /* int 0x81: DPL-0 gate */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_AT_HANDLER(&c, EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x81 * 8 + 2);           /* IDT bit, no EXT */
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x12000);            /* the INT instruction */
    EXPECT_EQ(r32(c.r[R_ESP] + 16), 0x7000);
    cpu_free(&c);
}

static void test_trap_gate_keeps_if_same_level(void)
{
    struct cpu c; pm_setup(&c);
    c.eflags |= FL_IF;
    CODE(0x10000, 0xCC);                                /* int3 via DPL-3 trap gate */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_AT_HANDLER(&c, EXC_BP);
    EXPECT(c.eflags & FL_IF);
    EXPECT_EQ(c.r[R_ESP], 0x8000 - 12);                 /* no stack switch */
    EXPECT_EQ(r32(0x8000 - 12), 0x10001);
    cpu_free(&c);
}

static void setup_paging(struct cpu *c)
{
    for (uint32_t i = 0; i < 1024; i++) w32(0x21000 + 4 * i, (i << 12) | 7);
    w32(0x20000, 0x21000 | 7);
    w32(0x21000 + 4 * 0x50, 0);                         /* page 0x50000 not present */
    w32(0x21000 + 4 * 0x51, 0x51000 | 5);               /* 0x51000 read-only */
    c->cr[3] = 0x20000;
    c->cr[0] |= 0x80000000u;
    cpu_tlb_flush(c);
}

static void test_page_fault_error_code(void)
{
    struct cpu c; pm_setup(&c);
    setup_paging(&c);
    CODE(0x10000, 0xA3, 0x10, 0x00, 0x05, 0x00);        /* mov [0x50010],eax */
    EXPECT_EQ(steps(&c, 1), EXC_PF);
    EXPECT_AT_HANDLER(&c, EXC_PF);
    EXPECT_EQ(c.cr[2], 0x50010);
    EXPECT_EQ(r32(c.r[R_ESP]), 2);                      /* W, supervisor, not present */
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x10000);
    cpu_free(&c);
    /* from ring 3, protection violation on a present read-only page */
    pm_setup(&c); setup_paging(&c); to_ring3(&c);
    CODE(0x12000, 0xA3, 0x00, 0x10, 0x05, 0x00);        /* mov [0x51000],eax */
    EXPECT_EQ(steps(&c, 1), EXC_PF);
    EXPECT_AT_HANDLER(&c, EXC_PF);
    EXPECT_EQ(c.r[R_ESP], 0x9000 - 24);
    EXPECT_EQ(r32(0x9000 - 24), 7);                     /* P | W | U */
    EXPECT_EQ(r32(0x9000 - 20), 0x12000);
    cpu_free(&c);
}

static void test_double_fault(void)
{
    struct cpu c; pm_setup(&c);
    w8(IDT + EXC_GP * 8 + 5, 0x0E);                     /* #GP gate not present */
    CODE(0x10000, 0x31, 0xC0, 0x8E, 0xD0);              /* mov ss,0 -> #GP(0) */
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_AT_HANDLER(&c, EXC_DF);
    EXPECT_EQ(r32(c.r[R_ESP]), 0);                      /* #DF error code 0 */
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x10002);
    cpu_free(&c);
}

static void test_benign_then_np_is_serial(void)
{
    struct cpu c; pm_setup(&c);
    w8(IDT + EXC_BP * 8 + 5, 0x6F);                     /* INT3 gate DPL 3, not present */
    CODE(0x10000, 0xCC);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_AT_HANDLER(&c, EXC_NP);                      /* benign + contributory: no #DF */
    EXPECT_EQ(r32(c.r[R_ESP]), 3 * 8 + 2);
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x10000);
    cpu_free(&c);
}

static void test_triple_fault(void)
{
    struct cpu c; pm_setup(&c);
    w8(IDT + EXC_GP * 8 + 5, 0x0E);
    w8(IDT + EXC_DF * 8 + 5, 0x0E);
    CODE(0x10000, 0x31, 0xC0, 0x8E, 0xD0);
    EXPECT_EQ(steps(&c, 2), EXIT_RESET);
    cpu_free(&c);
    /* an IDT too short for #GP and #DF shuts down too */
    pm_setup(&c);
    c.idtr.limit = 0x3F;
    CODE(0x10000, 0x31, 0xC0, 0x8E, 0xD0);
    EXPECT_EQ(steps(&c, 2), EXIT_RESET);
    cpu_free(&c);
}

static void test_pf_during_delivery_double_faults(void)
{
    struct cpu c; pm_setup(&c);
    setup_paging(&c);
    c.r[R_ESP] = 0x51010;                               /* stack on a read-only page */
    c.seg[SEG_SS] = DS0;
    w32(0x21000 + 4 * 0x51, 0);                         /* ... now not present */
    cpu_tlb_flush(&c);
    w32(TSS_A + 4, 0x9000);
    idt_gate(EXC_DF, 0x30, 0, 0x85);                    /* #DF through a task gate */
    w32(TSS_B + 0x1C, 0x20000);                         /* its CR3 */
    CODE(0x10000, 0x31, 0xC0, 0x8E, 0xD0);              /* #GP -> push faults (#PF) -> #DF */
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_EQ(c.tr.sel, 0x30);
    EXPECT_EQ(c.eip, 0x13000);
    EXPECT_EQ(c.r[R_ESP], 0xA000 - 4);
    EXPECT_EQ(r32(0xA000 - 4), 0);
    EXPECT_EQ(c.cr[2], 0x51000 + 0xC);
    cpu_free(&c);
}

static void test_task_gate_call_and_iret(void)
{
    struct cpu c; pm_setup(&c);
    c.r[R_EAX] = 0x5555;
    c.r[R_EBX] = 0x7777;
    CODE(0x10000, 0x9A, 0, 0, 0, 0, 0x48, 0x00, 0x90);  /* call far 0x48:0 (task gate); nop */
    CODE(0x13000, 0x89, 0xC3, 0xCF);                    /* mov ebx,eax; iretd */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.tr.sel, 0x30);
    EXPECT_EQ(c.eip, 0x13000);
    EXPECT_EQ(c.r[R_EAX], 0x1111);
    EXPECT_EQ(c.r[R_ESP], 0xA000);
    EXPECT(c.eflags & FL_NT);
    EXPECT(c.cr[0] & 8);                                /* CR0.TS */
    EXPECT_EQ(r16(TSS_B), 0x28);                        /* link */
    EXPECT_EQ(gdt_access(0x30), 0x8B);                  /* new busy */
    EXPECT_EQ(gdt_access(0x28), 0x8B);                  /* old stays busy (nested) */
    EXPECT_EQ(r32(TSS_A + 0x20), 0x10007);              /* saved EIP */
    EXPECT_EQ(r32(TSS_A + 0x28), 0x5555);
    EXPECT_EQ(steps(&c, 2), EXC_NONE);                  /* mov; iretd */
    EXPECT_EQ(c.tr.sel, 0x28);
    EXPECT_EQ(c.eip, 0x10007);
    EXPECT_EQ(c.r[R_EAX], 0x5555);
    EXPECT_EQ(c.r[R_EBX], 0x7777);
    EXPECT_EQ(c.r[R_ESP], 0x8000);
    EXPECT(!(c.eflags & FL_NT));
    EXPECT_EQ(gdt_access(0x30), 0x89);                  /* B no longer busy */
    EXPECT_EQ(r32(TSS_B + 0x34), 0x1111);               /* B's EBX saved */
    EXPECT_EQ(r32(TSS_B + 0x20), 0x13003);
    EXPECT(!(r32(TSS_B + 0x24) & FL_NT));
    cpu_free(&c);
}

static void test_jmp_tss_and_busy(void)
{
    struct cpu c; pm_setup(&c);
    CODE(0x10000, 0xEA, 0, 0, 0, 0, 0x30, 0x00);        /* jmp far 0x30:0 (TSS) */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.tr.sel, 0x30);
    EXPECT_EQ(gdt_access(0x28), 0x89);                  /* JMP clears the old busy bit */
    EXPECT_EQ(gdt_access(0x30), 0x8B);
    EXPECT(!(c.eflags & FL_NT));
    EXPECT_EQ(r16(TSS_B), 0);                           /* no link */
    cpu_free(&c);
    /* a busy TSS cannot be jumped to: #GP(sel) */
    pm_setup(&c);
    CODE(0x10000, 0xEA, 0, 0, 0, 0, 0x28, 0x00);
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x28);
    cpu_free(&c);
}

static void test_task_switch_bad_cs_ts(void)
{
    struct cpu c; pm_setup(&c);
    w32(TSS_B + 0x4C, 0x10);                            /* CS = a data segment */
    CODE(0x10000, 0xEA, 0, 0, 0, 0, 0x30, 0x00);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);                  /* the fault belongs to task B */
    EXPECT_EQ(c.tr.sel, 0x30);
    EXPECT_AT_HANDLER(&c, EXC_TS);
    EXPECT_EQ(c.r[R_ESP], 0xA000 - 16);
    EXPECT_EQ(r32(0xA000 - 16), 0x10);
    cpu_free(&c);
}

static void test_16bit_tss_switch(void)
{
    struct cpu c; pm_setup(&c);
    w16(TSS_C + 0x0E, 0x3000);                          /* IP */
    w16(TSS_C + 0x10, 0x0002);
    w16(TSS_C + 0x12, 0x4242);                          /* AX */
    w16(TSS_C + 0x1A, 0x6000);                          /* SP */
    w16(TSS_C + 0x22, 0x10); w16(TSS_C + 0x24, 0x58); w16(TSS_C + 0x26, 0x10); w16(TSS_C + 0x28, 0x10);
    c.r[R_EAX] = 0xAAAA0000u;
    CODE(0x10000, 0x9A, 0, 0, 0, 0, 0x70, 0x00);        /* call far 0x70:0 */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.tr.sel, 0x70);
    EXPECT_EQ(c.eip, 0x3000);
    EXPECT_EQ(c.r[R_EAX], 0xAAAA4242u);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0x58);
    EXPECT(!(c.seg[SEG_CS].ar & AR_DB));
    EXPECT_EQ(r16(TSS_C), 0x28);
    EXPECT(c.eflags & FL_NT);
    EXPECT_EQ(gdt_access(0x70), 0x83);
    CODE(0x3000, 0xCF);                                 /* 16-bit iret back */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.tr.sel, 0x28);
    EXPECT_EQ(c.eip, 0x10007);
    EXPECT_EQ(gdt_access(0x70), 0x81);
    cpu_free(&c);
}

static void test_iret_to_v86_and_back(void)
{
    struct cpu c; pm_setup(&c);
    /* push gs,fs,ds,es,ss,esp,eflags(VM),cs,ip; iretd */
    CODE(0x10000, 0x6A, 0x00, 0x6A, 0x00, 0x68, 0x00, 0x01, 0, 0, 0x68, 0x00, 0x02, 0, 0,
         0x68, 0x00, 0x03, 0, 0, 0x68, 0xFE, 0x0F, 0, 0, 0x68, 0x02, 0x02, 0x02, 0x00,
         0x68, 0x00, 0x15, 0, 0, 0x6A, 0x10, 0xCF);
    CODE(0x15010, 0xCD, 0x21);                          /* int 0x21 in V86 (IOPL 0) */
    EXPECT_EQ(steps(&c, 10), EXC_NONE);
    EXPECT(c.eflags & FL_VM);
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.seg[SEG_CS].base, 0x15000);
    EXPECT_EQ(c.seg[SEG_CS].limit, 0xFFFF);
    EXPECT_EQ(c.eip, 0x10);
    EXPECT_EQ(c.seg[SEG_SS].base, 0x3000);
    EXPECT_EQ(c.r[R_ESP], 0xFFE);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0x100);
    EXPECT_EQ(c.seg[SEG_ES].base, 0x2000);
    EXPECT(c.eflags & FL_IF);
    /* INT n with IOPL < 3: #GP(0) to the ring-0 monitor, V86 frame */
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT(!(c.eflags & FL_VM));
    EXPECT_AT_HANDLER(&c, EXC_GP);
    EXPECT(!(c.eflags & FL_IF));
    EXPECT_EQ(c.r[R_ESP], 0x9000 - 40);
    uint32_t sp = 0x9000 - 40;
    EXPECT_EQ(r32(sp), 0);                              /* error code */
    EXPECT_EQ(r32(sp + 4), 0x10);
    EXPECT_EQ(r32(sp + 8), 0x1500);
    EXPECT(r32(sp + 12) & FL_VM);
    EXPECT_EQ(r32(sp + 16), 0xFFE);
    EXPECT_EQ(r32(sp + 20), 0x300);
    EXPECT_EQ(r32(sp + 24), 0x200);                     /* ES */
    EXPECT_EQ(r32(sp + 28), 0x100);                     /* DS */
    EXPECT_EQ(c.seg[SEG_DS].sel, 0);                    /* nulled */
    EXPECT_EQ(c.seg[SEG_GS].sel, 0);
    cpu_free(&c);
}

static void test_v86_int3_and_iret_iopl3(void)
{
    struct cpu c; pm_setup(&c);
    /* enter V86 with IOPL 3 via IRET; INT3 goes to the DPL-3 gate; V86 IRET with IOPL 3 */
    CODE(0x10000, 0x6A, 0x00, 0x6A, 0x00, 0x6A, 0x00, 0x6A, 0x00, 0x6A, 0x00,
         0x68, 0x00, 0x10, 0, 0, 0x68, 0x02, 0x32, 0x02, 0x00, 0x68, 0x00, 0x15, 0, 0, 0x6A, 0x10, 0xCF);
    EXPECT_EQ(steps(&c, 10), EXC_NONE);
    EXPECT(c.eflags & FL_VM);
    EXPECT_EQ((c.eflags >> 12) & 3, 3);
    /* V86: pushf; push cs; push 0x20; iret (16-bit, IOPL 3: allowed) */
    CODE(0x15010, 0x9C, 0x0E, 0x6A, 0x20, 0xCF);
    CODE(0x15020, 0xCC);
    EXPECT_EQ(steps(&c, 4), EXC_NONE);
    EXPECT(c.eflags & FL_VM);
    EXPECT_EQ(c.eip, 0x20);
    EXPECT_EQ(c.r[R_ESP], 0x1000);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);                  /* int3 -> PM handler */
    EXPECT_AT_HANDLER(&c, EXC_BP);
    EXPECT(!(c.eflags & FL_VM));
    EXPECT_EQ(r32(c.r[R_ESP]), 0x21);
    cpu_free(&c);
}

static void test_lar_lsl_verr_verw(void)
{
    struct cpu c; pm_setup(&c);
    /* mov ecx,8; lar eax,ecx; lsl edx,ecx */
    CODE(0x10000, 0xB9, 0x08, 0, 0, 0, 0x0F, 0x02, 0xC1, 0x0F, 0x03, 0xD1);
    EXPECT_EQ(steps(&c, 3), EXC_NONE);
    EXPECT(c.eflags & FL_ZF);
    EXPECT_EQ(c.r[R_EAX], 0x00C09A00u);
    EXPECT_EQ(c.r[R_EDX], 0xFFFFFFFFu);
    /* lsl on a call gate: ZF=0, destination untouched; lar on it: ok */
    c.r[R_ECX] = 0x40; c.r[R_EDX] = 0x1234;
    CODE(0x1000B, 0x0F, 0x03, 0xD1, 0x0F, 0x02, 0xC1);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT(!(c.eflags & FL_ZF));
    EXPECT_EQ(c.r[R_EDX], 0x1234);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT(c.eflags & FL_ZF);
    EXPECT_EQ(c.r[R_EAX], 0x0000EC00u);
    /* lsl on the byte-granular LDT descriptor; beyond the GDT: ZF=0 */
    c.r[R_ECX] = 0x60;
    CODE(0x10011, 0x0F, 0x03, 0xD1);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.r[R_EDX], 0x17);
    c.r[R_ECX] = 0x1F8;
    CODE(0x10014, 0x0F, 0x02, 0xC1);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT(!(c.eflags & FL_ZF));
    /* verr/verw: code readable, not writable; data writable; read-only data */
    static const struct { uint16_t sel; bool w; bool zf; } v[] = {
        { 0x08, false, true }, { 0x08, true, false }, { 0x10, true, true }, { 0x78, true, false },
        { 0x78, false, true }, { 0x00, false, false }, { 0x28, false, false }, { 0x38, true, true },
    };
    for (unsigned i = 0; i < sizeof v / sizeof v[0]; i++) {
        c.eip = 0x10100;
        c.r[R_ECX] = v[i].sel;
        if (v[i].w) CODE(0x10100, 0x0F, 0x00, 0xE9);    /* verw cx */
        else CODE(0x10100, 0x0F, 0x00, 0xE1);           /* verr cx */
        EXPECT_EQ(steps(&c, 1), EXC_NONE);
        if (!!(c.eflags & FL_ZF) != v[i].zf) printf("  verify case %u (sel %#x)\n", i, v[i].sel);
        EXPECT_EQ(!!(c.eflags & FL_ZF), v[i].zf);
    }
    cpu_free(&c);
    /* privilege: ring 3 cannot see DPL-0 data, can see conforming code */
    pm_setup(&c); to_ring3(&c);
    c.r[R_ECX] = 0x10;
    CODE(0x12000, 0x0F, 0x00, 0xE1, 0x0F, 0x02, 0xC1);  /* verr cx; lar eax,ecx */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT(!(c.eflags & FL_ZF));
    c.r[R_ECX] = 0x50;
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT(c.eflags & FL_ZF);
    cpu_free(&c);
}

static void test_ltr_lldt_sldt_str(void)
{
    struct cpu c; pm_setup(&c);
    /* mov ax,0x30; ltr ax; str ecx; mov ax,0x60; lldt ax; sldt edx; mov ax,4; mov ds,ax; mov eax,[0x10] */
    CODE(0x10000, 0x66, 0xB8, 0x30, 0x00, 0x0F, 0x00, 0xD8, 0x0F, 0x00, 0xC9,
         0x66, 0xB8, 0x60, 0x00, 0x0F, 0x00, 0xD0, 0x0F, 0x00, 0xC2,
         0x66, 0xB8, 0x04, 0x00, 0x8E, 0xD8, 0xA1, 0x10, 0, 0, 0);
    w32(0x5010, 0xCAFEBABE);
    c.r[R_ECX] = 0xFFFFFFFFu;
    EXPECT_EQ(steps(&c, 3), EXC_NONE);
    EXPECT_EQ(c.tr.sel, 0x30);
    EXPECT_EQ(c.tr.base, TSS_B);
    EXPECT_EQ(gdt_access(0x30), 0x8B);                  /* marked busy */
    EXPECT_EQ(c.r[R_ECX], 0x30);                        /* zero-extended */
    EXPECT_EQ(steps(&c, 3), EXC_NONE);
    EXPECT_EQ(c.ldtr.sel, 0x60);
    EXPECT_EQ(c.ldtr.base, 0x4000);
    EXPECT_EQ(c.r[R_EDX], 0x60);
    EXPECT_EQ(steps(&c, 3), EXC_NONE);
    EXPECT_EQ(c.seg[SEG_DS].base, 0x5000);
    EXPECT_EQ(c.r[R_EAX], 0xCAFEBABEu);
    /* ltr of a busy TSS: #GP(sel) */
    CODE(0x1001F, 0x66, 0xB8, 0x30, 0x00, 0x0F, 0x00, 0xD8);
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x30);
    cpu_free(&c);
    /* at CPL 3: #GP(0) */
    pm_setup(&c); to_ring3(&c);
    CODE(0x12000, 0x0F, 0x00, 0xD8);
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0);
    cpu_free(&c);
}

static void test_arpl(void)
{
    struct cpu c; pm_setup(&c);
    c.r[R_EAX] = 0x10; c.r[R_ECX] = 0x1B;
    CODE(0x10000, 0x63, 0xC8, 0x63, 0xC8);              /* arpl ax,cx twice */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.r[R_EAX], 0x13);
    EXPECT(c.eflags & FL_ZF);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.r[R_EAX], 0x13);
    EXPECT(!(c.eflags & FL_ZF));
    cpu_free(&c);
}

static void test_sysenter_sysexit(void)
{
    struct cpu c; pm_setup(&c);
    c.msr_sysenter_cs = 0x08; c.msr_sysenter_esp = 0x9000; c.msr_sysenter_eip = 0x14100;
    to_ring3(&c);
    c.eflags |= FL_IF;
    CODE(0x12000, 0x0F, 0x34);
    CODE(0x14100, 0x0F, 0x35);
    c.r[R_ECX] = 0x6000; c.r[R_EDX] = 0x12002;
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.cpl, 0);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0x08);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x10);
    EXPECT_EQ(c.r[R_ESP], 0x9000);
    EXPECT_EQ(c.eip, 0x14100);
    EXPECT(!(c.eflags & FL_IF));
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.seg[SEG_CS].sel, 0x1B);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x23);
    EXPECT_EQ(c.seg[SEG_CS].ar & 0x60, 0x60);
    EXPECT_EQ(c.r[R_ESP], 0x6000);
    EXPECT_EQ(c.eip, 0x12002);
    /* SYSEXIT at CPL 3: #GP(0); SYSENTER with CS MSR 0: #GP(0) */
    CODE(0x12002, 0x0F, 0x35);
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    cpu_free(&c);
    pm_setup(&c);
    CODE(0x10000, 0x0F, 0x34);
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    cpu_free(&c);
}

static void test_iret_outer_nulls_segments(void)
{
    struct cpu c; pm_setup(&c);
    /* build a ring-3 IRET frame on the ring-0 stack; DS is ring-0 data */
    CODE(0x10000, 0x6A, 0x23, 0x68, 0x00, 0x70, 0, 0, 0x68, 0x02, 0x02, 0, 0, 0x6A, 0x1B,
         0x68, 0x00, 0x20, 0x01, 0x00, 0xCF);
    EXPECT_EQ(steps(&c, 6), EXC_NONE);
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.eip, 0x12000);
    EXPECT_EQ(c.r[R_ESP], 0x7000);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0);
    EXPECT_EQ(c.seg[SEG_ES].sel, 0);
    EXPECT(c.eflags & FL_IF);
    /* ring 3 IRET cannot change IOPL or return to ring 0 */
    cpu_free(&c);
    pm_setup(&c); to_ring3(&c);
    CODE(0x12000, 0x68, 0x00, 0x32, 0, 0, 0x6A, 0x1B, 0x68, 0x10, 0x20, 0x01, 0x00, 0xCF);
    EXPECT_EQ(steps(&c, 4), EXC_NONE);
    EXPECT_EQ(c.eip, 0x12010);
    EXPECT_EQ((c.eflags >> 12) & 3, 0);                 /* IOPL kept */
    EXPECT(c.eflags & FL_IF);                           /* IF kept (CPL > IOPL) */
    CODE(0x12010, 0x68, 0x02, 0x00, 0, 0, 0x6A, 0x08, 0x68, 0, 0, 1, 0, 0xCF);
    EXPECT_EQ(steps(&c, 4), EXC_GP);                    /* RPL 0 < CPL 3 */
    EXPECT_EQ(r32(c.r[R_ESP]), 0x08);
    cpu_free(&c);
}

static void test_far_ret_same_level_and_bad_cs(void)
{
    struct cpu c; pm_setup(&c);
    /* push 0x08; push 0x10100; retf */
    CODE(0x10000, 0x6A, 0x08, 0x68, 0x00, 0x01, 0x01, 0x00, 0xCB);
    EXPECT_EQ(steps(&c, 3), EXC_NONE);
    EXPECT_EQ(c.eip, 0x10100);
    EXPECT_EQ(c.r[R_ESP], 0x8000);
    cpu_free(&c);
    pm_setup(&c);
    CODE(0x10000, 0x6A, 0x10, 0x68, 0x00, 0x01, 0x01, 0x00, 0xCB);   /* CS = data: #GP(0x10) */
    EXPECT_EQ(steps(&c, 3), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x10);
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x10007);
    cpu_free(&c);
}

static void test_call_gate_stack_fault(void)
{
    struct cpu c; pm_setup(&c);
    w32(TSS_A + 8, 0x38);                               /* ring-0 SS not present */
    set_desc(GDT, 0x38, 0, 0xFFFFF, 0x12, 0xC);
    to_ring3(&c);
    CODE(0x12000, 0x9A, 0, 0, 0, 0, 0x43, 0x00);
    /* #SS(0x38) while switching; delivering it needs the same stack: #DF
     * would follow, so check the first fault through a task gate for #SS */
    idt_gate(EXC_SS, 0x30, 0, 0x85);
    EXPECT_EQ(steps(&c, 1), EXC_SS);
    EXPECT_EQ(c.tr.sel, 0x30);
    EXPECT_EQ(r32(0xA000 - 4), 0x38);
    EXPECT_EQ(r32(TSS_A + 0x20), 0x12000);              /* the CALL, restartable */
    EXPECT_EQ(r32(TSS_A + 0x38), 0x7000);
    EXPECT_EQ(r32(TSS_A + 0x4C), 0x1B);
    cpu_free(&c);
}

static void test_hw_interrupt_ext_bit(void)
{
    struct cpu c; pm_setup(&c);
    to_ring3(&c);
    w8(IDT + 0x20 * 8 + 5, 0x0E);                       /* vector 0x20 not present */
    EXPECT_EQ(cpu_deliver(&c, 0x20, false, 0, false, c.eip), EXC_NONE);
    EXPECT_AT_HANDLER(&c, EXC_NP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x20 * 8 + 3);           /* IDT | EXT */
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x12000);
    cpu_free(&c);
}

static void test_int_16bit_gate(void)
{
    struct cpu c; pm_setup(&c);
    idt_gate(0x40, 0x08, 0x14000, 0x86);                /* 16-bit interrupt gate */
    c.eflags |= FL_IF;
    CODE(0x10000, 0xCD, 0x40);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.eip, 0x4000);                           /* offset 15:0 only */
    EXPECT_EQ(c.r[R_ESP], 0x8000 - 6);
    EXPECT_EQ(r16(0x8000 - 6), 0x0002);                 /* IP (low 16 of 0x10002) */
    EXPECT_EQ(r16(0x8000 - 4), 0x08);
    EXPECT_EQ(r16(0x8000 - 2), 0x0202);
    EXPECT(!(c.eflags & FL_IF));
    cpu_free(&c);
}

static void test_int_task_gate_from_ring3(void)
{
    struct cpu c; pm_setup(&c);
    idt_gate(0x41, 0x30, 0, 0xE5);                      /* task gate, DPL 3 */
    to_ring3(&c);
    CODE(0x12000, 0xCD, 0x41, 0x90);
    CODE(0x13000, 0xCF);                                /* iretd (NT) */
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.tr.sel, 0x30);
    EXPECT_EQ(c.cpl, 0);
    EXPECT_EQ(c.eip, 0x13000);
    EXPECT(c.eflags & FL_NT);
    EXPECT_EQ(r32(TSS_A + 0x20), 0x12002);
    EXPECT_EQ(r32(TSS_A + 0x4C), 0x1B);
    EXPECT_EQ(r32(TSS_A + 0x50), 0x23);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.tr.sel, 0x28);
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.eip, 0x12002);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x23);
    EXPECT_EQ(c.seg[SEG_SS].ar & 0xFF, 0xF3);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0x23);
    EXPECT_EQ(c.r[R_ESP], 0x7000);
    EXPECT(c.eflags & FL_IF);
    cpu_free(&c);
    /* DPL-0 task gate from ring 3 with INT n: #GP(vec*8+2) */
    pm_setup(&c);
    idt_gate(0x41, 0x30, 0, 0x85);
    to_ring3(&c);
    CODE(0x12000, 0xCD, 0x41);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_AT_HANDLER(&c, EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x41 * 8 + 2);
    EXPECT_EQ(c.tr.sel, 0x28);
    cpu_free(&c);
}

static void test_task_switch_ldt_cr3(void)
{
    struct cpu c; pm_setup(&c);
    setup_paging(&c);
    w32(TSS_B + 0x1C, 0x20000);
    w32(TSS_B + 0x60, 0x60);                            /* LDT */
    w32(TSS_B + 0x54, 0x04);                            /* DS = LDT[0] */
    c.cr[3] = 0x30000;                                  /* a different CR3 (never used) */
    memcpy(ram + 0x30000, ram + 0x20000, 4096);
    cpu_tlb_flush(&c);
    CODE(0x10000, 0xEA, 0, 0, 0, 0, 0x30, 0x00);
    CODE(0x13000, 0xA1, 0x10, 0, 0, 0);                 /* mov eax,[0x10] (DS base 0x5000) */
    w32(0x5010, 0x600DF00D);
    EXPECT_EQ(steps(&c, 2), EXC_NONE);
    EXPECT_EQ(c.cr[3], 0x20000);
    EXPECT_EQ(c.ldtr.sel, 0x60);
    EXPECT_EQ(c.ldtr.base, 0x4000);
    EXPECT_EQ(c.seg[SEG_DS].base, 0x5000);
    EXPECT_EQ(c.r[R_EAX], 0x600DF00D);
    EXPECT_EQ(ram[0x4000 + 5], 0x93);                   /* LDT descriptor accessed */
    cpu_free(&c);
}

static void test_task_switch_ts_checks(void)
{
    struct cpu c; pm_setup(&c);
    set_desc(GDT, 0x30, TSS_B, 0x50, 0x89, 0);          /* 32-bit TSS below 0x67 */
    CODE(0x10000, 0xEA, 0, 0, 0, 0, 0x30, 0x00);
    EXPECT_EQ(steps(&c, 1), EXC_TS);
    EXPECT_AT_HANDLER(&c, EXC_TS);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x30);
    EXPECT_EQ(c.tr.sel, 0x28);
    EXPECT_EQ(gdt_access(0x28), 0x8B);                  /* nothing written */
    cpu_free(&c);
    /* IRET with NT whose link is not a busy TSS: #TS(link) */
    pm_setup(&c);
    w16(TSS_A, 0x30);
    c.eflags |= FL_NT;
    CODE(0x10000, 0xCF);
    EXPECT_EQ(steps(&c, 1), EXC_TS);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x30);
    cpu_free(&c);
    /* new task with a bad LDT selector: #TS(ldt) raised in the new task,
     * whose segments are not loaded yet: a #TS task gate handles it */
    pm_setup(&c);
    w32(TSS_B + 0x60, 0x10);
    idt_gate(EXC_TS, 0x68, 0, 0x85);
    CODE(0x10000, 0xEA, 0, 0, 0, 0, 0x30, 0x00);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.tr.sel, 0x68);
    EXPECT_EQ(c.eip, 0x13800);
    EXPECT_EQ(r16(TSS_DF), 0x30);                       /* link to the faulting task */
    EXPECT_EQ(r32(TSS_B + 0x20), 0x13000);              /* its EIP: the first instruction */
    EXPECT_EQ(r32(0xB000 - 4), 0x10);
    EXPECT_EQ(c.r[R_ESP], 0xB000 - 4);
    cpu_free(&c);
    /* ... and without one, the CPU shuts down (#TS -> #DF -> no stack) */
    pm_setup(&c);
    w32(TSS_B + 0x60, 0x10);
    CODE(0x10000, 0xEA, 0, 0, 0, 0, 0x30, 0x00);
    EXPECT_EQ(steps(&c, 1), EXIT_RESET);
    cpu_free(&c);
}

static void test_lldt_bad_type_and_gate_checks(void)
{
    struct cpu c; pm_setup(&c);
    CODE(0x10000, 0x66, 0xB8, 0x10, 0x00, 0x0F, 0x00, 0xD0);   /* lldt 0x10 */
    EXPECT_EQ(steps(&c, 2), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x10);
    cpu_free(&c);
    /* call gate of DPL 0 from ring 3: #GP(gate) */
    pm_setup(&c);
    set_gate(GDT + 0x40, 0x08, 0x14000, 0x8C, 0);
    to_ring3(&c);
    CODE(0x12000, 0x9A, 0, 0, 0, 0, 0x43, 0x00);
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x40);
    cpu_free(&c);
    /* not-present call gate: #NP(gate) */
    pm_setup(&c);
    set_gate(GDT + 0x40, 0x08, 0x14000, 0x6C, 0);
    to_ring3(&c);
    CODE(0x12000, 0x9A, 0, 0, 0, 0, 0x43, 0x00);
    EXPECT_EQ(steps(&c, 1), EXC_NP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x40);
    cpu_free(&c);
    /* JMP through a call gate to an inner level is not allowed: #GP(code) */
    pm_setup(&c);
    to_ring3(&c);
    CODE(0x12000, 0xEA, 0, 0, 0, 0, 0x43, 0x00);
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x08);
    cpu_free(&c);
}

static void test_ring3_gp_frame(void)
{
    struct cpu c; pm_setup(&c);
    to_ring3(&c);
    CODE(0x12000, 0xFA);                                /* cli with IOPL 0 */
    EXPECT_EQ(steps(&c, 1), EXC_GP);
    EXPECT_AT_HANDLER(&c, EXC_GP);
    EXPECT_EQ(c.r[R_ESP], 0x9000 - 24);
    EXPECT_EQ(r32(0x9000 - 24), 0);
    EXPECT_EQ(r32(0x9000 - 20), 0x12000);
    EXPECT_EQ(r32(0x9000 - 16), 0x1B);
    EXPECT_EQ(r32(0x9000 - 8), 0x7000);
    EXPECT_EQ(r32(0x9000 - 4), 0x23);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0x23);                 /* delivery keeps data registers */
    EXPECT_EQ(gdt_access(0x10), 0x93);                  /* inner SS accessed */
    cpu_free(&c);
}

static void test_retf_outer_ss_checks(void)
{
    struct cpu c; pm_setup(&c);
    /* push ss=0x20 (RPL 0 != CS RPL 3); push esp; push cs=0x1B; push eip; retf */
    CODE(0x10000, 0x6A, 0x20, 0x68, 0, 0x70, 0, 0, 0x6A, 0x1B, 0x68, 0, 0x20, 1, 0, 0xCB);
    EXPECT_EQ(steps(&c, 5), EXC_GP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x20);
    EXPECT_EQ(c.cpl, 0);
    cpu_free(&c);
    pm_setup(&c);
    /* the same with a good SS: ring 3, ESP from the frame */
    CODE(0x10000, 0x6A, 0x23, 0x68, 0, 0x70, 0, 0, 0x6A, 0x1B, 0x68, 0, 0x20, 1, 0, 0xCB);
    EXPECT_EQ(steps(&c, 5), EXC_NONE);
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.seg[SEG_SS].sel, 0x23);
    EXPECT_EQ(c.r[R_ESP], 0x7000);
    EXPECT_EQ(c.eip, 0x12000);
    cpu_free(&c);
}

static void test_call_gate_16bit_inner_params(void)
{
    struct cpu c; pm_setup(&c);
    set_gate(GDT + 0x40, 0x08, 0x4000, 0xE4, 3);         /* 16-bit gate, DPL 3, 3 words */
    to_ring3(&c);
    /* push word 1; push word 2; push word 3; call far 0x43:0 */
    CODE(0x12000, 0x66, 0x6A, 0x01, 0x66, 0x6A, 0x02, 0x66, 0x6A, 0x03, 0x9A, 0, 0, 0, 0, 0x43, 0x00);
    EXPECT_EQ(steps(&c, 4), EXC_NONE);
    EXPECT_EQ(c.cpl, 0);
    EXPECT_EQ(c.eip, 0x4000);
    EXPECT_EQ(c.r[R_ESP], 0x9000 - 14);
    EXPECT_EQ(r16(0x9000 - 14), 0x2010);                /* IP: low 16 bits of 0x12010 */
    EXPECT_EQ(r16(0x9000 - 12), 0x1B);
    EXPECT_EQ(r16(0x9000 - 10), 3);
    EXPECT_EQ(r16(0x9000 - 8), 2);
    EXPECT_EQ(r16(0x9000 - 6), 1);
    EXPECT_EQ(r16(0x9000 - 4), 0x7000 - 6);             /* SP */
    EXPECT_EQ(r16(0x9000 - 2), 0x23);
    cpu_free(&c);
}

static void test_lds_pop_ds_pm(void)
{
    struct cpu c; pm_setup(&c);
    w32(0x500, 0x12345678); w16(0x504, 0x20);
    /* lds eax,[0x500]; push 0; pop ds; push 0x38; pop es (#NP) */
    CODE(0x10000, 0xC5, 0x05, 0x00, 0x05, 0x00, 0x00, 0x6A, 0x00, 0x1F, 0x6A, 0x38, 0x07);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.r[R_EAX], 0x12345678);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0x20);
    EXPECT_EQ(c.seg[SEG_DS].ar & 0xFF, 0xF3);
    EXPECT_EQ(steps(&c, 2), EXC_NONE);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0);
    EXPECT_EQ(c.r[R_ESP], 0x8000);
    EXPECT_EQ(steps(&c, 2), EXC_NP);
    EXPECT_EQ(r32(c.r[R_ESP]), 0x38);
    EXPECT_EQ(r32(c.r[R_ESP] + 4), 0x1000B);
    EXPECT_EQ(r32(c.r[R_ESP] + 16), 0x38);              /* POP ES left its operand */
    cpu_free(&c);
}

static void test_expand_down_stack(void)
{
    struct cpu c; pm_setup(&c);
    /* expand-down, B=1, limit 0xFFF: valid offsets 0x1000..0xFFFFFFFF */
    set_desc(GDT, 0x80, 0, 0x0FFF, 0x96, 0x4);
    CODE(0x10000, 0x66, 0xB8, 0x80, 0x00, 0x8E, 0xD0, 0x6A, 0x01, 0x6A, 0x02);
    c.r[R_ESP] = 0x1004;
    EXPECT_EQ(steps(&c, 3), EXC_NONE);                  /* mov ax; mov ss; push 1 */
    EXPECT_EQ(c.r[R_ESP], 0x1000);
    idt_gate(EXC_SS, 0x30, 0, 0x85);                    /* the stack is unusable: task gate */
    EXPECT_EQ(steps(&c, 1), EXC_SS);                    /* push 2 at 0xFFC: below the limit */
    EXPECT_EQ(c.tr.sel, 0x30);
    EXPECT_EQ(r32(0xA000 - 4), 0);                      /* #SS(0) */
    EXPECT_EQ(r32(TSS_A + 0x38), 0x1000);               /* ESP not committed */
    EXPECT_EQ(r32(TSS_A + 0x20), 0x10008);
    EXPECT_EQ(r32(TSS_A + 0x50), 0x80);
    cpu_free(&c);
}

static void test_iret_same_level_flags(void)
{
    struct cpu c; pm_setup(&c);
    /* CPL 0 IRET may set IOPL and IF; a ring-3 IOPL-3 IRET can set IF but not IOPL */
    CODE(0x10000, 0x68, 0x02, 0x32, 0, 0, 0x6A, 0x08, 0x68, 0x0C, 0, 1, 0, 0xCF);
    EXPECT_EQ(steps(&c, 4), EXC_NONE);
    EXPECT_EQ(c.eip, 0x1000C);
    EXPECT_EQ((c.eflags >> 12) & 3, 3);
    EXPECT(c.eflags & FL_IF);
    cpu_free(&c);
    pm_setup(&c); to_ring3(&c);
    c.eflags = (c.eflags & ~(FL_IF | FL_IOPL)) | 0x3000;
    CODE(0x12000, 0x68, 0x02, 0x02, 0, 0, 0x6A, 0x1B, 0x68, 0x0C, 0x20, 1, 0, 0xCF);
    EXPECT_EQ(steps(&c, 4), EXC_NONE);
    EXPECT(c.eflags & FL_IF);
    EXPECT_EQ((c.eflags >> 12) & 3, 3);                 /* IOPL kept at CPL 3 */
    cpu_free(&c);
}

static void test_retf_imm_same_level(void)
{
    struct cpu c; pm_setup(&c);
    /* push 1; push 2; push cs; push 0x10100; retf 8 */
    CODE(0x10000, 0x6A, 0x01, 0x6A, 0x02, 0x0E, 0x68, 0x00, 0x01, 0x01, 0x00, 0xCA, 0x08, 0x00);
    EXPECT_EQ(steps(&c, 5), EXC_NONE);
    EXPECT_EQ(c.eip, 0x10100);
    EXPECT_EQ(c.r[R_ESP], 0x8000);
    cpu_free(&c);
}

static void test_v86_int_iopl3_to_dpl3_gate(void)
{
    struct cpu c; pm_setup(&c);
    idt_gate(0x21, 0x08, 0x14000, 0xEE);
    c.eflags = 0x00023202;                              /* VM, IOPL 3, IF */
    c.cpl = 3;
    for (int s = 0; s < 6; s++) { c.seg[s].sel = 0x1500; c.seg[s].base = 0x15000; c.seg[s].limit = 0xFFFF; c.seg[s].ar = s == SEG_CS ? 0xFB : 0xF3; }
    c.eip = 0x10; c.r[R_ESP] = 0x100;
    CODE(0x15010, 0xCD, 0x21);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT_EQ(c.eip, 0x14000);
    EXPECT_EQ(c.cpl, 0);
    EXPECT(!(c.eflags & FL_VM));
    EXPECT_EQ(c.r[R_ESP], 0x9000 - 36);
    EXPECT_EQ(r32(0x9000 - 36), 0x12);
    EXPECT_EQ(r32(0x9000 - 4), 0x1500);                 /* GS */
    EXPECT_EQ(c.seg[SEG_FS].sel, 0);
    /* and IRETD back to V86 */
    CODE(0x14000, 0xCF);
    EXPECT_EQ(steps(&c, 1), EXC_NONE);
    EXPECT(c.eflags & FL_VM);
    EXPECT_EQ(c.eip, 0x12);
    EXPECT_EQ(c.seg[SEG_FS].base, 0x15000);
    EXPECT_EQ(c.r[R_ESP], 0x100);
    cpu_free(&c);
}

static void test_hw_interrupt_in_v86(void)
{
    struct cpu c; pm_setup(&c);
    idt_gate(0x20, 0x08, 0x14000, 0x8E);                /* DPL 0: fine for hardware */
    c.eflags = 0x00020202;                              /* VM, IOPL 0, IF */
    c.cpl = 3;
    for (int s = 0; s < 6; s++) { c.seg[s].sel = 0x1500; c.seg[s].base = 0x15000; c.seg[s].limit = 0xFFFF; c.seg[s].ar = s == SEG_CS ? 0xFB : 0xF3; }
    c.eip = 0x10; c.r[R_ESP] = 0x100;
    EXPECT_EQ(cpu_deliver(&c, 0x20, false, 0, false, c.eip), EXC_NONE);
    EXPECT_EQ(c.eip, 0x14000);
    EXPECT_EQ(c.cpl, 0);
    EXPECT(!(c.eflags & (FL_VM | FL_IF)));
    EXPECT_EQ(c.r[R_ESP], 0x9000 - 36);
    EXPECT_EQ(r32(0x9000 - 36), 0x10);
    EXPECT(r32(0x9000 - 28) & FL_VM);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0);
    cpu_free(&c);
}

static void test_retf_outer_keeps_conforming_ds(void)
{
    struct cpu c; pm_setup(&c);
    /* DS = conforming code (DPL 0), ES = ring-0 data; RETF to ring 3 */
    CODE(0x10000, 0x66, 0xB8, 0x50, 0x00, 0x8E, 0xD8,
         0x6A, 0x23, 0x68, 0, 0x70, 0, 0, 0x6A, 0x1B, 0x68, 0, 0x20, 1, 0, 0xCB);
    EXPECT_EQ(steps(&c, 7), EXC_NONE);
    EXPECT_EQ(c.cpl, 3);
    EXPECT_EQ(c.seg[SEG_DS].sel, 0x50);                 /* conforming code kept */
    EXPECT_EQ(c.seg[SEG_ES].sel, 0);                    /* DPL-0 data nulled */
    cpu_free(&c);
}

int main(void)
{
    m = mem_new(2 << 20);
    if (!m) { printf("FAIL setup: mem_new\n"); return 1; }
    ram = mem_ram(m);
    RUN(test_far_jmp_16_to_32);
    RUN(test_mov_ss_bad_selector_gp);
    RUN(test_mov_ss_checks);
    RUN(test_np_data_segment);
    RUN(test_null_ds_then_access_gp);
    RUN(test_data_dpl_rules);
    RUN(test_segment_cache_fields);
    RUN(test_call_gate_ring3_to_ring0);
    RUN(test_call_gate_16bit_same_level);
    RUN(test_far_jmp_privilege);
    RUN(test_int_from_ring3);
    RUN(test_int_dpl_protected);
    RUN(test_trap_gate_keeps_if_same_level);
    RUN(test_page_fault_error_code);
    RUN(test_double_fault);
    RUN(test_benign_then_np_is_serial);
    RUN(test_triple_fault);
    RUN(test_pf_during_delivery_double_faults);
    RUN(test_task_gate_call_and_iret);
    RUN(test_jmp_tss_and_busy);
    RUN(test_task_switch_bad_cs_ts);
    RUN(test_16bit_tss_switch);
    RUN(test_iret_to_v86_and_back);
    RUN(test_v86_int3_and_iret_iopl3);
    RUN(test_lar_lsl_verr_verw);
    RUN(test_ltr_lldt_sldt_str);
    RUN(test_arpl);
    RUN(test_sysenter_sysexit);
    RUN(test_iret_outer_nulls_segments);
    RUN(test_far_ret_same_level_and_bad_cs);
    RUN(test_call_gate_stack_fault);
    RUN(test_hw_interrupt_ext_bit);
    RUN(test_int_16bit_gate);
    RUN(test_int_task_gate_from_ring3);
    RUN(test_task_switch_ldt_cr3);
    RUN(test_task_switch_ts_checks);
    RUN(test_lldt_bad_type_and_gate_checks);
    RUN(test_ring3_gp_frame);
    RUN(test_retf_outer_ss_checks);
    RUN(test_call_gate_16bit_inner_params);
    RUN(test_lds_pop_ds_pm);
    RUN(test_expand_down_stack);
    RUN(test_iret_same_level_flags);
    RUN(test_retf_imm_same_level);
    RUN(test_v86_int_iopl3_to_dpl3_gate);
    RUN(test_hw_interrupt_in_v86);
    RUN(test_retf_outer_keeps_conforming_ds);
    mem_free(m);
    return test_summary();
}

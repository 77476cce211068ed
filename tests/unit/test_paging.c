/* tests/unit/test_paging.c - the page walker and the software TLB:
 * 4 KiB, 4 MiB (PSE) and PAE mappings, #PF error codes and CR2, A/D bits,
 * U/S and R/W with CR0.WP, global pages across MOV CR3, INVLPG, and the
 * PAE reserved-bit fault (SDM vol. 3 ch. 4). Accesses go through the same
 * linear-access functions the interpreter uses. */
#include "test.h"
#include "cpu/interp_priv.h"
#include <string.h>

static struct mem *m;
static uint8_t *ram;

static void wr32(uint32_t pa, uint32_t v) { memcpy(ram + pa, &v, 4); }
static uint32_t rd32(uint32_t pa) { uint32_t v; memcpy(&v, ram + pa, 4); return v; }
static void wr64(uint32_t pa, uint64_t v) { memcpy(ram + pa, &v, 8); }

/* page directory at 0x10000, one page table at 0x11000 for 0x400000-0x7FFFFF */
static void setup(struct cpu *c)
{
    memset(ram, 0, 4 << 20);
    cpu_init(c, m, NULL);
    c->cr[3] = 0x10000;
    wr32(0x10000 + 1 * 4, 0x11000 | 0x7);            /* PDE[1]: P RW US -> PT */
    wr32(0x11000 + 0 * 4, 0x200000 | 0x3);           /* 0x400000 -> 0x200000, supervisor RW */
    wr32(0x11000 + 1 * 4, 0x201000 | 0x5);           /* 0x401000 -> 0x201000, user read-only */
    wr32(0x11000 + 2 * 4, 0x202000 | 0x7 | 0x100);   /* 0x402000 -> 0x202000, user RW, global */
    c->cr[0] |= CR0_PE | CR0_PG;
    cpu_tlb_flush(c);
}

static void test_4k_mapping_and_ad_bits(void)
{
    struct cpu c; setup(&c);
    wr32(0x200010, 0xCAFEBABE);
    uint64_t v = 0;
    EXPECT_EQ(lin_read(&c, 0x400010, 4, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0xCAFEBABE);
    EXPECT(rd32(0x10004) & 0x20);                    /* PDE accessed */
    EXPECT(rd32(0x11000) & 0x20);                    /* PTE accessed */
    EXPECT(!(rd32(0x11000) & 0x40));                 /* not dirty after a read */
    EXPECT_EQ(lin_write(&c, 0x400020, 4, 0x12345678, false), EXC_NONE);
    EXPECT_EQ(rd32(0x200020), 0x12345678);
    EXPECT(rd32(0x11000) & 0x40);                    /* dirty after the write */
    cpu_free(&c);
}

static void test_not_present_fault(void)
{
    struct cpu c; setup(&c);
    uint64_t v;
    EXPECT_EQ(lin_read(&c, 0x405123, 4, &v, false), EXC_PF);
    EXPECT_EQ(c.exc_err, 0);                         /* not present, read, supervisor */
    EXPECT_EQ(c.cr[2], 0x405123);
    EXPECT_EQ(lin_write(&c, 0x800000, 1, 0, true), EXC_PF);   /* no PDE, user write */
    EXPECT_EQ(c.exc_err, 0x6);
    EXPECT_EQ(c.cr[2], 0x800000);
    cpu_free(&c);
}

static void test_protection_faults(void)
{
    struct cpu c; setup(&c);
    uint64_t v;
    EXPECT_EQ(lin_read(&c, 0x400000, 4, &v, true), EXC_PF);   /* user reads a supervisor page */
    EXPECT_EQ(c.exc_err, 0x5);
    EXPECT_EQ(lin_read(&c, 0x401000, 4, &v, true), EXC_NONE); /* user page, read */
    EXPECT_EQ(lin_write(&c, 0x401000, 4, 1, true), EXC_PF);   /* user writes read-only */
    EXPECT_EQ(c.exc_err, 0x7);
    EXPECT_EQ(lin_write(&c, 0x401000, 4, 1, false), EXC_NONE); /* supervisor, WP=0: allowed */
    c.cr[0] |= CR0_WP;
    cpu_tlb_flush(&c);
    EXPECT_EQ(lin_write(&c, 0x401004, 4, 1, false), EXC_PF);   /* supervisor, WP=1: fault */
    EXPECT_EQ(c.exc_err, 0x3);
    cpu_free(&c);
}

static void test_pse_4m_page(void)
{
    struct cpu c; setup(&c);
    c.cr[4] |= 0x10;                                  /* PSE */
    wr32(0x10000 + 2 * 4, 0x00C00000 | 0x83);         /* 0x800000 -> 4 MiB page at 0xC00000 */
    cpu_tlb_flush(&c);
    ram[0x0C00000 - 0x800000 + 0x800000 + 0x1234] = 0x5A;   /* RAM is 16 MiB: pa 0xC01234 */
    uint64_t v = 0;
    EXPECT_EQ(lin_read(&c, 0x801234, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x5A);
    EXPECT(rd32(0x10008) & 0x20);                     /* accessed set in the PDE */
    c.cr[4] &= ~0x10u;                                /* without PSE the PS bit is ignored */
    cpu_tlb_flush(&c);
    EXPECT_EQ(lin_read(&c, 0x801234, 1, &v, false), EXC_PF);   /* walks 0xC00000 as a PT: empty PTE */
    cpu_free(&c);
}

/* INVLPG of one address of a 4 MiB page drops the whole page (SDM vol. 3
 * sec. 4.10.4.1), though the TLB holds it as 4 KiB pieces */
static void test_invlpg_drops_whole_large_page(void)
{
    struct cpu c; setup(&c);
    c.cr[4] |= 0x10;                                  /* PSE */
    wr32(0x10000 + 2 * 4, 0x00800000 | 0x83);         /* 0x800000 -> 4 MiB page at 0x800000 */
    cpu_tlb_flush(&c);
    ram[0x800000 + 0x1000] = 0x11;
    ram[0x800000 + 0x3FF000] = 0x22;
    ram[0xC00000 + 0x1000] = 0x33;
    ram[0xC00000 + 0x3FF000] = 0x44;
    uint64_t v = 0;
    EXPECT_EQ(lin_read(&c, 0x801000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x11);
    EXPECT_EQ(lin_read(&c, 0xBFF000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x22);
    wr32(0x10000 + 2 * 4, 0x00C00000 | 0x83);         /* remap to 0xC00000 */
    cpu_tlb_flush_page(&c, 0x801000);                 /* INVLPG of its first piece only */
    EXPECT_EQ(lin_read(&c, 0xBFF000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x44);                               /* the last piece is gone too */
    EXPECT_EQ(lin_read(&c, 0x801000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x33);
    /* a 4 KiB page elsewhere is dropped alone: the stale large page stays */
    wr32(0x10000 + 2 * 4, 0x00800000 | 0x83);
    cpu_tlb_flush_page(&c, 0x400000);
    EXPECT_EQ(lin_read(&c, 0x801000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x33);
    cpu_free(&c);
}

static void test_pae_mappings(void)
{
    struct cpu c; setup(&c);
    /* PDPT at 0x20000, PD at 0x21000, PT at 0x22000 */
    wr64(0x20000, 0x21000 | 1);
    wr64(0x21000 + 2 * 8, 0x22000 | 7);                        /* 0x400000..: 4 KiB pages */
    wr64(0x22000 + 0 * 8, 0x300000 | 3);                       /* 0x400000 -> 0x300000 */
    wr64(0x21000 + 4 * 8, 0x600000 | 0x83);                    /* 0x800000: 2 MiB page */
    wr64(0x22000 + 1 * 8, 0x301000 | 3 | (1ull << 40));        /* reserved bit 40 */
    c.cr[4] |= 0x20;
    c.cr[3] = 0x20000;
    cpu_tlb_flush(&c);
    ram[0x300004] = 0x77;
    ram[0x612345] = 0x66;
    uint64_t v = 0;
    EXPECT_EQ(lin_read(&c, 0x400004, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x77);
    EXPECT_EQ(lin_read(&c, 0x812345, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x66);
    EXPECT_EQ(lin_read(&c, 0x401000, 1, &v, false), EXC_PF);
    EXPECT_EQ(c.exc_err, 0x9);                                /* P | RSVD */
    cpu_free(&c);
}

static void test_global_pages_and_invlpg(void)
{
    struct cpu c; setup(&c);
    c.cr[4] |= 0x80;                                  /* PGE */
    ram[0x202000] = 0x11;                             /* global page */
    ram[0x200000] = 0x22;                             /* non-global page */
    uint64_t v;
    EXPECT_EQ(lin_read(&c, 0x402000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(lin_read(&c, 0x400000, 1, &v, false), EXC_NONE);
    /* remap both in memory, then reload CR3 as MOV CR3 would */
    wr32(0x11000 + 2 * 4, 0x203000 | 0x7 | 0x100);
    wr32(0x11000 + 0 * 4, 0x204000 | 0x3);
    ram[0x203000] = 0x33;
    ram[0x204000] = 0x44;
    cpu_tlb_flush_nonglobal(&c);
    EXPECT_EQ(lin_read(&c, 0x402000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x11);                               /* global translation survived */
    EXPECT_EQ(lin_read(&c, 0x400000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x44);                               /* non-global one was reloaded */
    cpu_tlb_flush_page(&c, 0x402000);                 /* INVLPG drops global entries too */
    EXPECT_EQ(lin_read(&c, 0x402000, 1, &v, false), EXC_NONE);
    EXPECT_EQ(v, 0x33);
    cpu_free(&c);
}

int main(void)
{
    m = mem_new(16 << 20);
    if (!m) { printf("FAIL setup\n"); return 1; }
    ram = mem_ram(m);
    RUN(test_4k_mapping_and_ad_bits);
    RUN(test_not_present_fault);
    RUN(test_protection_faults);
    RUN(test_pse_4m_page);
    RUN(test_invlpg_drops_whole_large_page);
    RUN(test_pae_mappings);
    RUN(test_global_pages_and_invlpg);
    mem_free(m);
    return test_summary();
}

/* tests/unit/test_shadow.c - the translator's shadow windows (mem/shadow.c):
 * 4 KiB and large-page mappings of guest RAM, what each window page lets
 * the host do (probed with system calls, which fail with EFAULT instead of
 * faulting), carving inside large pages, INVLPG and reverse-map protection,
 * hidden pages.
 */
#include "test.h"
#include "mem/mem.h"
#include "mem/shadow.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>

static struct mem *m;
static struct shadow *sh;
static int pipefd[2];

/* may the host read / write the byte at p? (write(2) reads user memory,
 * read(2) writes it: both say EFAULT instead of raising SIGSEGV) */
static bool can_read(const uint8_t *p)
{
    ssize_t n = write(pipefd[1], p, 1);
    if (n == 1) { uint8_t b; (void)!read(pipefd[0], &b, 1); return true; }
    return false;
}

static bool can_write(uint8_t *p)
{
    if (!can_read(p)) return false;
    uint8_t old = *p;
    if (write(pipefd[1], &old, 1) != 1) return false;
    ssize_t n = read(pipefd[0], p, 1);                /* writes old back */
    if (n != 1) { uint8_t b; (void)!read(pipefd[0], &b, 1); return false; }
    return true;
}

/* pages of the large page at pfn 0x400: 0x401 is not RAM, 0x402 holds code */
static int kind_of(void *opaque, uint64_t pfn)
{
    (void)opaque;
    if (pfn == 0x401) return SHADOW_PAGE_NONE;
    if (pfn == 0x402) return SHADOW_PAGE_RO;
    return SHADOW_PAGE_RW;
}

static void test_map_4k(void)
{
    uint8_t *w = shadow_window(sh, SHADOW_SUP);
    mem_ram(m)[0x5000 + 12] = 0xA5;
    EXPECT(!can_read(w + 0x10000000));
    EXPECT_EQ(shadow_map(sh, SHADOW_SUP, 0x10000000, 0x5000, false, false), 0);
    EXPECT(can_read(w + 0x10000000));
    EXPECT_EQ(w[0x10000000 + 12], 0xA5);              /* the RAM page itself */
    EXPECT(!can_write(w + 0x10000000));               /* mapped read-only */
    EXPECT(!can_read(w + 0x10001000));                /* only that page */
    shadow_zap_page(sh, 0x10000000);
    EXPECT(!can_read(w + 0x10000000));
}

static void test_map_large_with_carving(void)
{
    uint8_t *w = shadow_window(sh, SHADOW_SUP);
    uint8_t *ram = mem_ram(m);
    uint32_t lin = 0xC0400000;                        /* maps pa 0x400000.. (4 MiB) */
    ram[0x400000 + 0x3FF000 + 7] = 0x5C;
    EXPECT_EQ(shadow_map_large(sh, SHADOW_SUP, lin + 0x3FF000, 0x400000, 1024, true, true, kind_of, NULL), 0);
    EXPECT(can_write(w + lin));                       /* every page, by one mmap */
    EXPECT(can_write(w + lin + 0x3FF000));
    EXPECT_EQ(w[lin + 0x3FF000 + 7], 0x5C);
    w[lin + 0x3000] = 0x77;
    EXPECT_EQ(ram[0x403000], 0x77);                   /* the same RAM */
    EXPECT(!can_read(w + lin + 0x1000));              /* not RAM: carved out */
    EXPECT(can_read(w + lin + 0x2000));               /* code: read-only */
    EXPECT(!can_write(w + lin + 0x2000));
    EXPECT(!can_read(w + lin + 0x400000));            /* nothing past it */
    EXPECT(!can_read(w + lin - 0x1000));
    const struct shadow_stats *st = shadow_get_stats(sh);
    EXPECT(st->fills_large >= 1);
    /* the reverse map: a page of it becomes code */
    shadow_protect_pfn(sh, 0x404);
    EXPECT(can_read(w + lin + 0x4000));
    EXPECT(!can_write(w + lin + 0x4000));
    EXPECT(can_write(w + lin + 0x5000));
    /* INVLPG of any address in it drops all of it */
    shadow_zap_page(sh, lin + 0x123000);
    EXPECT(!can_read(w + lin));
    EXPECT(!can_read(w + lin + 0x3FF000));
}

static void test_large_read_only_then_writable(void)
{
    uint8_t *w = shadow_window(sh, SHADOW_SUP);
    uint32_t lin = 0x00800000;
    /* a clean large page is mapped read-only; after D is set, writable */
    EXPECT_EQ(shadow_map_large(sh, SHADOW_SUP, lin, 0x800000, 1024, false, false, kind_of, NULL), 0);
    EXPECT(can_read(w + lin + 0x5000));
    EXPECT(!can_write(w + lin + 0x5000));
    EXPECT_EQ(shadow_map_large(sh, SHADOW_SUP, lin + 0x5000, 0x800000, 1024, true, false, kind_of, NULL), 0);
    EXPECT(can_write(w + lin + 0x5000));
    EXPECT(can_write(w + lin + 0x3FF000));
    /* beyond RAM (16 MiB): refused */
    EXPECT_EQ(shadow_map_large(sh, SHADOW_SUP, 0x01000000, 0x1000000, 1024, true, false, kind_of, NULL), -1);
    /* a 4 KiB mapping inside a large one replaces all of it */
    EXPECT_EQ(shadow_map(sh, SHADOW_SUP, lin + 0x6000, 0x6000, true, false), 0);
    EXPECT(can_write(w + lin + 0x6000));
    EXPECT(!can_read(w + lin + 0x5000));
    shadow_zap_all(sh);
    EXPECT(!can_read(w + lin + 0x6000));
}

/* the re-validation of a parked address space: keep, keep read-only, drop */
static int verdict(void *opaque, uint32_t lin, uint64_t pfn, bool user, bool writable, bool large)
{
    (void)opaque; (void)pfn; (void)user; (void)writable; (void)large;
    if (lin == 0x20000000) return SHADOW_KEEP;
    if (lin == 0x20001000) return SHADOW_KEEP_RO;
    return SHADOW_DROP;
}

static void test_switch_as_revalidates(void)
{
    shadow_zap_all(sh);
    for (uint32_t k = 0; k < 3; k++)
        EXPECT_EQ(shadow_map(sh, SHADOW_USER, 0x20000000 + k * 0x1000, 0x7000 + k * 0x1000, true, false), 0);
    EXPECT_EQ(shadow_map(sh, SHADOW_USER, 0x30000000, 0x9000, true, true), 0);   /* global */
    uint8_t *w = shadow_window(sh, SHADOW_USER);
    shadow_switch_as(sh, 0x1000, 0x2000, verdict, NULL);      /* to a new address space */
    uint8_t *w2 = shadow_window(sh, SHADOW_USER);
    EXPECT(w2 != w);
    EXPECT(!can_read(w2 + 0x20000000));
    EXPECT_EQ(shadow_map(sh, SHADOW_USER, 0x20000000, 0xA000, true, false), 0);
    shadow_switch_as(sh, 0x2000, 0x1000, verdict, NULL);      /* back: re-validated */
    EXPECT(shadow_window(sh, SHADOW_USER) == w);
    EXPECT(can_write(w + 0x20000000));                        /* kept */
    EXPECT(can_read(w + 0x20001000));                         /* kept for reads only */
    EXPECT(!can_write(w + 0x20001000));
    EXPECT(!can_read(w + 0x20002000));                        /* dropped */
    EXPECT(can_write(w + 0x30000000));                        /* global: not asked */
    shadow_switch_as(sh, 0x1000, 0x2000, verdict, NULL);      /* the other one kept its page too */
    EXPECT(shadow_window(sh, SHADOW_USER) == w2);
    EXPECT(can_write(w2 + 0x20000000));
    EXPECT_EQ(w2[0x20000000], mem_ram(m)[0xA000]);
}

static int keep_all(void *opaque, uint32_t lin, uint64_t pfn, bool user, bool writable, bool large)
{
    (void)opaque; (void)lin; (void)pfn; (void)user; (void)writable; (void)large;
    return SHADOW_KEEP;
}

/* unmapped pages are hidden (PROT_NONE in place): the same frame comes back
 * by mprotect, another frame by mmap, and a window zapped whole forgets them */
static void test_hidden_pages(void)
{
    shadow_zap_all(sh);
    uint8_t *ram = mem_ram(m);
    ram[0xB000] = 0x1B;
    ram[0xD000] = 0x1D;
    uint8_t *w = shadow_window(sh, SHADOW_SUP);
    uint32_t lin = 0x40000000;
    EXPECT_EQ(shadow_map(sh, SHADOW_SUP, lin, 0xB000, false, false), 0);
    EXPECT_EQ(shadow_map(sh, SHADOW_SUP, lin, 0xB000, true, false), 0);    /* a write after a read */
    EXPECT(can_write(w + lin));
    shadow_zap_page(sh, lin);
    EXPECT(!can_read(w + lin));
    uint64_t before = shadow_get_stats(sh)->reprotects;
    EXPECT_EQ(shadow_map(sh, SHADOW_SUP, lin, 0xB000, false, false), 0);   /* the same frame again */
    EXPECT_EQ(shadow_get_stats(sh)->reprotects, before + 1);
    EXPECT(can_read(w + lin) && !can_write(w + lin));
    EXPECT_EQ(w[lin], 0x1B);
    shadow_zap_page(sh, lin);
    EXPECT_EQ(shadow_map(sh, SHADOW_SUP, lin, 0xD000, false, false), 0);   /* another frame */
    EXPECT_EQ(w[lin], 0x1D);
    /* hidden, then the slot is reused for other address spaces (zapped
     * whole), then the same frame at the same place: mapped afresh */
    shadow_zap_page(sh, lin);
    EXPECT_EQ(shadow_map(sh, SHADOW_SUP, lin + 0x1000, 0xB000, false, false), 0);   /* (a live page too) */
    for (uint32_t as = 1; as <= 8; as++)   /* the 8th takes slot 0 back */ shadow_switch_as(sh, 0x100000 * (as - 1), 0x100000 * as, keep_all, NULL);
    uint8_t *w2 = shadow_window(sh, SHADOW_SUP);
    EXPECT(w2 == w);
    EXPECT(!can_read(w2 + lin));
    EXPECT_EQ(shadow_map(sh, SHADOW_SUP, lin, 0xD000, false, false), 0);
    EXPECT(can_read(w2 + lin));
    EXPECT_EQ(w2[lin], 0x1D);
}

/* INVLPG in one address space leaves another's non-global pages (they are
 * re-validated when it comes back) but drops a global page everywhere */
static void test_invlpg_scope(void)
{
    shadow_zap_all(sh);
    EXPECT_EQ(shadow_map(sh, SHADOW_USER, 0x50000000, 0xE000, true, false), 0);
    EXPECT_EQ(shadow_map(sh, SHADOW_USER, 0x50001000, 0xF000, true, true), 0);   /* global */
    uint8_t *w = shadow_window(sh, SHADOW_USER);
    shadow_switch_as(sh, 0x1000, 0x2000, keep_all, NULL);
    shadow_zap_page(sh, 0x50000000);
    shadow_zap_page(sh, 0x50001000);
    shadow_switch_as(sh, 0x2000, 0x1000, keep_all, NULL);
    EXPECT(shadow_window(sh, SHADOW_USER) == w);
    EXPECT(can_write(w + 0x50000000));
    EXPECT(!can_read(w + 0x50001000));
    shadow_zap_page(sh, 0x50000000);                          /* here: dropped */
    EXPECT(!can_read(w + 0x50000000));
}

int main(void)
{
    char err[256];
    m = mem_new(16 << 20);
    if (!m || pipe(pipefd) != 0) { printf("FAIL setup\n"); return 1; }
    sh = shadow_new(m, err, sizeof err);
    if (!sh) { printf("SKIP test_shadow: %s\n", err); return 0; }
    RUN(test_map_4k);
    RUN(test_map_large_with_carving);
    RUN(test_large_read_only_then_writable);
    RUN(test_switch_as_revalidates);
    RUN(test_hidden_pages);
    RUN(test_invlpg_scope);
    shadow_free(sh);
    mem_free(m);
    return test_summary();
}

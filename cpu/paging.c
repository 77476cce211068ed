/* cpu/paging.c - the one page walker (interpreter now, shadow MMU later).
 *
 * Owns: linear-to-physical translation for 32-bit paging with 4 KiB and
 * 4 MiB (CR4.PSE) pages and for PAE paging with 4 KiB and 2 MiB pages
 * (SDM vol. 3 ch. 4); U/S and R/W checks with CR0.WP; accessed and dirty
 * bits set as the processor sets them (A on every level walked, D on the
 * leaf of a write); #PF with CR2 and the error code (P, W/R, U/S, RSVD).
 * A P6 has no NX: in PAE entries bits 63:36 are reserved.
 */
#include "cpu/interp_priv.h"

#define PTE_P  0x001u
#define PTE_RW 0x002u
#define PTE_US 0x004u
#define PTE_A  0x020u
#define PTE_D  0x040u
#define PTE_PS 0x080u
#define PF_P    0x01u
#define PF_W    0x02u
#define PF_U    0x04u
#define PF_RSVD 0x08u

static int page_fault(struct cpu *c, uint32_t lin, uint32_t err)
{
    c->cr[2] = lin;
    return fault(c, EXC_PF, err);
}

static inline uint64_t rd_pte(struct cpu *c, uint64_t pa, bool pae)
{
    return mem_read_phys(c->mem, pa, pae ? 8 : 4);
}

static inline void set_bits(struct cpu *c, uint64_t pa, uint64_t old, uint64_t bits, bool pae)
{
    if ((old & bits) != bits) mem_write_phys(c->mem, pa, old | bits, pae ? 8 : 4);
}

int paging_walk(struct cpu *c, uint32_t lin, enum acc a, bool user, uint64_t *pa_out, bool set_ad)
{
    bool write = a == ACC_WRITE;
    uint32_t err = (write ? PF_W : 0) | (user ? PF_U : 0);
    bool pae = c->cr[4] & 0x20;
    uint64_t ent[3], ent_pa[3];
    int levels = 0;
    uint64_t pa;
    bool large = false;
    if (!pae) {
        ent_pa[0] = (c->cr[3] & 0xFFFFF000u) + ((lin >> 22) << 2);
        ent[0] = rd_pte(c, ent_pa[0], false);
        levels = 1;
        if (!(ent[0] & PTE_P)) return page_fault(c, lin, err);
        if ((c->cr[4] & 0x10) && (ent[0] & PTE_PS)) {
            large = true;
            pa = (ent[0] & 0xFFC00000u) | (lin & 0x003FFFFFu);
        } else {
            ent_pa[1] = (ent[0] & 0xFFFFF000u) + (((lin >> 12) & 0x3FF) << 2);
            ent[1] = rd_pte(c, ent_pa[1], false);
            levels = 2;
            if (!(ent[1] & PTE_P)) return page_fault(c, lin, err);
            pa = (ent[1] & 0xFFFFF000u) | (lin & 0xFFF);
        }
    } else {
        const uint64_t rsvd = 0xFFFFFFF000000000ull;
        uint64_t pdpte = mem_read_phys(c->mem, (c->cr[3] & 0xFFFFFFE0u) + ((lin >> 30) << 3), 8);
        if (!(pdpte & PTE_P)) return page_fault(c, lin, err);
        if (pdpte & (rsvd | 0x1E6)) return page_fault(c, lin, err | PF_P | PF_RSVD);
        ent_pa[0] = (pdpte & 0xFFFFFF000ull) + (((lin >> 21) & 0x1FF) << 3);
        ent[0] = rd_pte(c, ent_pa[0], true);
        levels = 1;
        if (!(ent[0] & PTE_P)) return page_fault(c, lin, err);
        if (ent[0] & rsvd) return page_fault(c, lin, err | PF_P | PF_RSVD);
        if (ent[0] & PTE_PS) {
            if (ent[0] & 0x1FE000ull) return page_fault(c, lin, err | PF_P | PF_RSVD);
            large = true;
            pa = (ent[0] & 0xFFFE00000ull) | (lin & 0x1FFFFF);
        } else {
            ent_pa[1] = (ent[0] & 0xFFFFFF000ull) + (((lin >> 12) & 0x1FF) << 3);
            ent[1] = rd_pte(c, ent_pa[1], true);
            levels = 2;
            if (!(ent[1] & PTE_P)) return page_fault(c, lin, err);
            if (ent[1] & rsvd) return page_fault(c, lin, err | PF_P | PF_RSVD);
            pa = (ent[1] & 0xFFFFFF000ull) | (lin & 0xFFF);
        }
    }
    /* permissions: the most restrictive of all levels (SDM vol. 3 sec. 4.6) */
    bool us = true, rw = true;
    for (int i = 0; i < levels; i++) { us = us && (ent[i] & PTE_US); rw = rw && (ent[i] & PTE_RW); }
    if (user && !us) return page_fault(c, lin, err | PF_P);
    if (write && !rw && (user || (c->cr[0] & CR0_WP))) return page_fault(c, lin, err | PF_P);
    if (set_ad) {
        for (int i = 0; i < levels; i++) {
            bool is_leaf = i == levels - 1;
            set_bits(c, ent_pa[i], ent[i], PTE_A | (is_leaf && write ? PTE_D : 0), pae);
        }
    }
    c->last_walk_large = large;
    if (large) {
        /* INVLPG of one address drops the whole large page (SDM vol. 3 sec.
         * 4.10.4.1); the TLB holds it as 4 KiB entries, so one linear region
         * covering every large page walked is kept (grown by widening its
         * mask) and INVLPG inside it flushes everything */
        uint32_t size_mask = pae ? 0xFFE00000u : 0xFFC00000u;
        if (!c->tlb_large) {
            c->tlb_large = true;
            c->tlb_large_base = lin & size_mask;
            c->tlb_large_mask = size_mask;
        } else {
            while ((lin & c->tlb_large_mask) != c->tlb_large_base) {
                c->tlb_large_mask <<= 1;
                c->tlb_large_base &= c->tlb_large_mask;
            }
        }
    }
    /* G (bit 8) of the leaf counts only with CR4.PGE (SDM vol. 3 sec. 4.10.2.4) */
    c->last_walk_global = (c->cr[4] & 0x80) && (ent[levels - 1] & 0x100);
    c->last_walk_dirty = (ent[levels - 1] & PTE_D) || (write && set_ad);
    c->last_walk_accessed = set_ad;
    for (int i = 0; i < levels && !set_ad; i++) c->last_walk_accessed = i ? c->last_walk_accessed && (ent[i] & PTE_A) : (ent[i] & PTE_A);
    c->last_walk_writable = rw || (!user && !(c->cr[0] & CR0_WP));
    *pa_out = pa;
    return EXC_NONE;
}

int lin_to_phys(struct cpu *c, uint32_t lin, enum acc a, bool user, uint64_t *pa)
{
    return paging_walk(c, lin, a, user, pa, true);
}

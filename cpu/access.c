/* cpu/access.c - guest memory as the CPU sees it: segments, then paging.
 *
 * Owns: segment limit and type checks (SDM vol. 3 sec. 5.3-5.4: expand-up
 * and expand-down limits, 16/32-bit upper bound, read/write/execute rights),
 * linear accesses that straddle pages (both pages are translated before
 * either is touched), the A20 mask, operand access by decoded descriptor,
 * and the push/pop helpers. Exceptions come back as vectors (cpu->exc_err
 * holds the error code); nothing here leaves partial state on a fault.
 */
#include "cpu/interp_priv.h"
#include <string.h>

int seg_check(struct cpu *c, int s, uint32_t off, unsigned size, enum acc a, uint32_t *lin)
{
    const struct seg *sg = &c->seg[s];
    /* fast path: present expand-up data segment, or real mode, in range */
    if ((cpu_real(c) || ((sg->ar & 0x9C) == 0x90 && (a == ACC_READ || (sg->ar & 2))))
        && !((sg->ar & 0x1C) == 0x14) && off <= sg->limit && sg->limit - off >= size - 1) {
        *lin = sg->base + off;
        return EXC_NONE;
    }
    int vec = s == SEG_SS ? EXC_SS : EXC_GP;
    if (!cpu_real(c) && !cpu_v86(c)) {
        if (!(sg->ar & AR_P)) return fault(c, vec, 0);      /* null or unusable */
        if (sg->ar & 0x08) {                                /* code segment */
            if (a == ACC_WRITE) return fault(c, vec, 0);
            if (a == ACC_READ && !(sg->ar & 0x02)) return fault(c, vec, 0);
        } else if (a == ACC_WRITE && !(sg->ar & 0x02)) {
            return fault(c, vec, 0);
        }
    }
    uint32_t last = off + size - 1;
    if ((sg->ar & 0x1C) == 0x14) {                          /* expand-down data */
        uint32_t upper = (sg->ar & AR_DB) ? 0xFFFFFFFFu : 0xFFFFu;
        if (off <= sg->limit || last > upper || last < off) return fault(c, vec, 0);
    } else if (last > sg->limit || (last < off && sg->limit != 0xFFFFFFFFu)) {
        return fault(c, vec, 0);
    }
    *lin = sg->base + off;
    return EXC_NONE;
}

void cpu_tlb_flush(struct cpu *c)
{
    for (int u = 0; u < 2; u++)
        for (int w = 0; w < 2; w++)
            for (int i = 0; i < TLB_SIZE; i++) c->tlb.tag[u][w][i] = TLB_INVALID;
    c->tlb_large = false;
    if (c->tlb_flush_hook) c->tlb_flush_hook(c->tlb_hook_opaque, CPU_FLUSH_ALL, 0);
}

void cpu_tlb_drop_writes(struct cpu *c)
{
    for (int u = 0; u < 2; u++)
        for (int i = 0; i < TLB_SIZE; i++) c->tlb.tag[u][1][i] = TLB_INVALID;
}

void cpu_tlb_flush_nonglobal(struct cpu *c)
{
    for (int u = 0; u < 2; u++)
        for (int w = 0; w < 2; w++)
            for (int i = 0; i < TLB_SIZE; i++)
                if (!c->tlb.global[u][w][i]) c->tlb.tag[u][w][i] = TLB_INVALID;
    if (c->tlb_flush_hook) c->tlb_flush_hook(c->tlb_hook_opaque, CPU_FLUSH_NONGLOBAL, 0);
}

void cpu_tlb_flush_page(struct cpu *c, uint32_t lin)
{
    /* in a large page, cached as 4 KiB pieces: drop everything (paging.c) */
    if (c->tlb_large && (lin & c->tlb_large_mask) == c->tlb_large_base) { cpu_tlb_flush(c); return; }
    unsigned i = (lin >> 12) % TLB_SIZE;
    for (int u = 0; u < 2; u++)
        for (int w = 0; w < 2; w++) c->tlb.tag[u][w][i] = TLB_INVALID;
    if (c->tlb_flush_hook) c->tlb_flush_hook(c->tlb_hook_opaque, CPU_FLUSH_PAGE, lin);
}

void tlb_fill(struct cpu *c, uint32_t lin, uint64_t pa, bool write, bool user)
{
    uint8_t *host = mem_host_page(c->mem, pa, write);
    if (!host) return;                      /* MMIO or ROM write: always slow */
    unsigned i = (lin >> 12) % TLB_SIZE;
    c->tlb.tag[user][write][i] = lin & ~0xFFFu;
    c->tlb.global[user][write][i] = (c->cr[0] & CR0_PG) && c->last_walk_global;
    c->tlb.addend[user][write][i] = (uintptr_t)host - (lin & ~0xFFFu);
}


static inline uint64_t a20(const struct cpu *c, uint64_t pa)
{
    return c->a20_enabled ? pa : (pa & ~(uint64_t)0x100000);
}

/* Translate one byte's page; paging lives in cpu/paging.c. */
static inline int xlate(struct cpu *c, uint32_t lin, enum acc a, bool user, uint64_t *pa)
{
    if (!(c->cr[0] & CR0_PG)) { *pa = a20(c, lin); return EXC_NONE; }
    int r = lin_to_phys(c, lin, a, user, pa);
    if (r == EXC_NONE) *pa = a20(c, *pa);
    return r;
}

int lin_read(struct cpu *c, uint32_t lin, unsigned size, uint64_t *v, bool user)
{
    uint64_t pa, pa2;
    unsigned first = 4096 - (lin & 0xFFF);
    if (first >= size) {
        uint8_t *h = tlb_hit(c, lin, false, user);
        if (h) { uint64_t x = 0; memcpy(&x, h, size); *v = x; return EXC_NONE; }
    }
    int r = xlate(c, lin, ACC_READ, user, &pa);
    if (r != EXC_NONE) return r;
    if (first >= size) { tlb_fill(c, lin, pa, false, user); *v = mem_read_phys(c->mem, pa, size); return EXC_NONE; }
    r = xlate(c, lin + first, ACC_READ, user, &pa2);
    if (r != EXC_NONE) return r;
    uint64_t val = 0;
    for (unsigned i = 0; i < size; i++) {
        uint64_t b = i < first ? mem_read_phys(c->mem, pa + i, 1) : mem_read_phys(c->mem, pa2 + (i - first), 1);
        val |= b << (8 * i);
    }
    *v = val;
    return EXC_NONE;
}

int lin_probe_write(struct cpu *c, uint32_t lin, unsigned size, bool user)
{
    uint64_t pa;
    if (4096 - (lin & 0xFFF) >= size && tlb_hit(c, lin, true, user)) return EXC_NONE;
    int r = xlate(c, lin, ACC_WRITE, user, &pa);
    if (r != EXC_NONE) return r;
    unsigned first = 4096 - (lin & 0xFFF);
    if (first < size) return xlate(c, lin + first, ACC_WRITE, user, &pa);
    return EXC_NONE;
}

int lin_write(struct cpu *c, uint32_t lin, unsigned size, uint64_t v, bool user)
{
    uint64_t pa, pa2;
    if (((lin ^ c->exec_page) & ~0xFFFu) == 0 || (((lin + size - 1) ^ c->exec_page) & ~0xFFFu) == 0)
        c->smc = true;
    unsigned first = 4096 - (lin & 0xFFF);
    if (first >= size) {
        uint8_t *h = tlb_hit(c, lin, true, user);
        if (h) { memcpy(h, &v, size); return EXC_NONE; }
    }
    int r = xlate(c, lin, ACC_WRITE, user, &pa);
    if (r != EXC_NONE) return r;
    if (first >= size) {
        if (c->write_watch) c->write_watch(c->write_watch_opaque, pa, size);
        else tlb_fill(c, lin, pa, true, user);
        mem_write_phys(c->mem, pa, v, size);
        return EXC_NONE;
    }
    r = xlate(c, lin + first, ACC_WRITE, user, &pa2);
    if (r != EXC_NONE) return r;
    if (c->write_watch) {
        c->write_watch(c->write_watch_opaque, pa, first);
        c->write_watch(c->write_watch_opaque, pa2, size - first);
    }
    for (unsigned i = 0; i < size; i++) {
        uint8_t b = (uint8_t)(v >> (8 * i));
        if (i < first) mem_write_phys(c->mem, pa + i, b, 1);
        else mem_write_phys(c->mem, pa2 + (i - first), b, 1);
    }
    return EXC_NONE;
}

static inline bool user_mode(const struct cpu *c) { return c->cpl == 3; }

/* Alignment check (SDM vol. 3 sec. 6.15, #AC): CPL 3, CR0.AM and EFLAGS.AC,
 * a data reference not aligned to its size. Error code 0. It ranks after
 * the segment and page checks of the same access. */
static inline bool misaligned(const struct cpu *c, uint32_t lin, unsigned size)
{
    return (c->eflags & FL_AC) && c->cpl == 3 && (c->cr[0] & CR0_AM) && (lin & (size - 1));
}

int mem_rd(struct cpu *c, int s, uint32_t off, unsigned size, uint32_t *v)
{
    uint8_t *h = seg_fast(c, s, off, size, false);
    if (h) { uint32_t x = 0; memcpy(&x, h, size); *v = x; return EXC_NONE; }
    uint32_t lin;
    int r = seg_check(c, s, off, size, ACC_READ, &lin);
    if (r != EXC_NONE) return r;
    uint64_t x;
    r = lin_read(c, lin, size, &x, user_mode(c));
    if (r != EXC_NONE) return r;
    if (misaligned(c, lin, size)) return fault(c, EXC_AC, 0);
    *v = (uint32_t)x;
    return EXC_NONE;
}

int mem_wr(struct cpu *c, int s, uint32_t off, unsigned size, uint32_t v)
{
    uint8_t *h = seg_fast(c, s, off, size, true);
    if (h) { memcpy(h, &v, size); return EXC_NONE; }
    uint32_t lin;
    int r = seg_check(c, s, off, size, ACC_WRITE, &lin);
    if (r != EXC_NONE) return r;
    if (misaligned(c, lin, size)) {
        r = lin_probe_write(c, lin, size, user_mode(c));
        return r != EXC_NONE ? r : fault(c, EXC_AC, 0);
    }
    return lin_write(c, lin, size, v, user_mode(c));
}

int mem_rd64(struct cpu *c, int s, uint32_t off, uint64_t *v)
{
    uint32_t lin;
    int r = seg_check(c, s, off, 8, ACC_READ, &lin);
    if (r != EXC_NONE) return r;
    uint64_t x;
    r = lin_read(c, lin, 8, &x, user_mode(c));
    if (r != EXC_NONE) return r;
    if (misaligned(c, lin, 8)) return fault(c, EXC_AC, 0);
    *v = x;
    return EXC_NONE;
}

int mem_wr64(struct cpu *c, int s, uint32_t off, uint64_t v)
{
    uint32_t lin;
    int r = seg_check(c, s, off, 8, ACC_WRITE, &lin);
    if (r != EXC_NONE) return r;
    if (misaligned(c, lin, 8)) {
        r = lin_probe_write(c, lin, 8, user_mode(c));
        return r != EXC_NONE ? r : fault(c, EXC_AC, 0);
    }
    return lin_write(c, lin, 8, v, user_mode(c));
}

int mem_probe_wr(struct cpu *c, int s, uint32_t off, unsigned size)
{
    uint32_t lin;
    int r = seg_check(c, s, off, size, ACC_WRITE, &lin);
    if (r != EXC_NONE) return r;
    r = lin_probe_write(c, lin, size, user_mode(c));
    if (r == EXC_NONE && misaligned(c, lin, size)) return fault(c, EXC_AC, 0);
    return r;
}

static inline uint32_t imm_of(const struct insn *in, int k)
{
    const struct insn_opnd *o = &in->opnd[k];
    if (o->type == OT_ONE) return 1;
    if (k > 0 && in->imm2_size && (in->opnd[k - 1].kind == OPND_IMM || in->opnd[k - 1].kind == OPND_FAR))
        return in->imm2;
    return in->imm;
}

int opnd_read_slow(struct cpu *c, const struct insn *in, int k, uint32_t *v)
{
    const struct insn_opnd *o = &in->opnd[k];
    switch (o->kind) {
    case OPND_GPR: *v = reg_get(c, o->reg, o->size); return EXC_NONE;
    case OPND_IMM: *v = imm_of(in, k); return EXC_NONE;
    case OPND_MEM: return mem_rd(c, in->seg, insn_ea(c, in), o->size, v);
    case OPND_SREG: *v = c->seg[o->reg].sel; return EXC_NONE;
    default: return UD(c);
    }
}

int opnd_write_slow(struct cpu *c, const struct insn *in, int k, uint32_t v)
{
    const struct insn_opnd *o = &in->opnd[k];
    switch (o->kind) {
    case OPND_GPR: reg_set(c, o->reg, o->size, v); return EXC_NONE;
    case OPND_MEM: return mem_wr(c, in->seg, insn_ea(c, in), o->size, v);
    default: return UD(c);
    }
}

int opnd_probe(struct cpu *c, const struct insn *in, int k)
{
    const struct insn_opnd *o = &in->opnd[k];
    if (o->kind != OPND_MEM) return EXC_NONE;
    return mem_probe_wr(c, in->seg, insn_ea(c, in), o->size);
}

int stack_push(struct cpu *c, unsigned size, uint32_t v)
{
    uint32_t sp = sp_get(c) - size;
    if (stack_size(c) == 2) sp &= 0xFFFF;
    int r = mem_wr(c, SEG_SS, sp, size, v);
    if (r != EXC_NONE) return r;
    sp_set(c, sp);
    return EXC_NONE;
}

int stack_pop(struct cpu *c, unsigned size, uint32_t *v)
{
    uint32_t sp = sp_get(c);
    int r = mem_rd(c, SEG_SS, sp, size, v);
    if (r != EXC_NONE) return r;
    sp_set(c, sp + size);
    return EXC_NONE;
}

int stack_peek(struct cpu *c, uint32_t off, unsigned size, uint32_t *v)
{
    uint32_t sp = sp_get(c) + off;
    if (stack_size(c) == 2) sp &= 0xFFFF;
    return mem_rd(c, SEG_SS, sp, size, v);
}

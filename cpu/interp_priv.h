/* cpu/interp_priv.h - what the interpreter's handler files share.
 *
 * Owns: guest memory access through segments (limit checks, 16/32-bit
 * wrap) and paging, operand read/write by the decoded operand descriptors,
 * the arithmetic-flag helpers, the stack helpers, and the handler
 * prototypes generated from cpu/opcodes.def (op_<handler>).
 * Rule: a handler reads and computes everything first and commits
 * (writes memory, then registers and flags) only after its last access that
 * can fault; every helper that can fault returns EXC_NONE or a vector.
 */
#ifndef BT86_INTERP_PRIV_H
#define BT86_INTERP_PRIV_H
#include "cpu/cpu.h"
#include "mem/mem.h"
#include <string.h>

typedef int (*op_fn)(struct cpu *cpu, const struct insn *in);

/* one prototype per distinct handler name (duplicates are harmless) */
#define X(name, map, pfx, opc, ext, mnem, handler, o1, o2, o3, attrs, fr, fw, fu) \
    int op_##handler(struct cpu *cpu, const struct insn *in);
#include "cpu/opcodes.def"
#undef X

#define CR0_PE 0x00000001u
#define CR0_MP 0x00000002u
#define CR0_EM 0x00000004u
#define CR0_TS 0x00000008u
#define CR0_ET 0x00000010u
#define CR0_NE 0x00000020u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_NW 0x20000000u
#define CR0_CD 0x40000000u
#define CR0_PG 0x80000000u

static inline bool cpu_real(const struct cpu *c) { return !(c->cr[0] & CR0_PE); }
static inline bool cpu_v86(const struct cpu *c) { return (c->eflags & FL_VM) != 0; }

/* raise exception `vec` with error code `err` from the current instruction */
static inline int fault(struct cpu *c, int vec, uint32_t err)
{
    c->exc_has_err = true;
    c->exc_err = err;
    return vec;
}
static inline int fault_noerr(struct cpu *c, int vec)
{
    c->exc_has_err = false;
    return vec;
}
#define UD(c) fault_noerr((c), EXC_UD)

/* ---- registers by size ---- */
static inline uint32_t reg_get(const struct cpu *c, unsigned r, unsigned size)
{
    if (size == 1) return r < 4 ? c->r[r] & 0xFF : (c->r[r - 4] >> 8) & 0xFF;
    if (size == 2) return c->r[r] & 0xFFFF;
    return c->r[r];
}
static inline void reg_set(struct cpu *c, unsigned r, unsigned size, uint32_t v)
{
    if (size == 1) {
        if (r < 4) c->r[r] = (c->r[r] & ~0xFFu) | (v & 0xFF);
        else c->r[r - 4] = (c->r[r - 4] & ~0xFF00u) | ((v & 0xFF) << 8);
    } else if (size == 2) c->r[r] = (c->r[r] & ~0xFFFFu) | (v & 0xFFFF);
    else c->r[r] = v;
}
static inline uint32_t size_mask(unsigned size)
{
    return size == 1 ? 0xFF : size == 2 ? 0xFFFF : 0xFFFFFFFFu;
}
static inline uint32_t sign_bit(unsigned size) { return 1u << (size * 8 - 1); }

/* ---- memory: cpu/access.c ---- */
enum acc { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2 };
/* Check segment `s` for an access of `size` bytes at `off` and form the
 * linear address; #GP(0) or #SS(0) on a limit or type violation. */
int seg_check(struct cpu *c, int s, uint32_t off, unsigned size, enum acc a, uint32_t *lin);
/* Linear accesses (paging applied); size 1, 2, 4 or 8. */
int lin_read(struct cpu *c, uint32_t lin, unsigned size, uint64_t *v, bool user);
int lin_write(struct cpu *c, uint32_t lin, unsigned size, uint64_t v, bool user);
/* Check that a linear range is writable without writing (for RMW/commit order). */
int lin_probe_write(struct cpu *c, uint32_t lin, unsigned size, bool user);
/* Segmented accesses. */
int mem_rd(struct cpu *c, int s, uint32_t off, unsigned size, uint32_t *v);
int mem_wr(struct cpu *c, int s, uint32_t off, unsigned size, uint32_t v);
int mem_rd64(struct cpu *c, int s, uint32_t off, uint64_t *v);
int mem_wr64(struct cpu *c, int s, uint32_t off, uint64_t v);
/* Probe a segmented write (limit + paging) without writing. */
int mem_probe_wr(struct cpu *c, int s, uint32_t off, unsigned size);
/* Physical-address step of paging: cpu/paging.c later; identity for now. */
int lin_to_phys(struct cpu *c, uint32_t lin, enum acc a, bool user, uint64_t *pa);
/* The page walk itself; set_ad=false walks without touching A/D bits. */
int paging_walk(struct cpu *c, uint32_t lin, enum acc a, bool user, uint64_t *pa, bool set_ad);

/* Host pointer for a linear access that stays within one page, or NULL. */
static inline uint8_t *tlb_hit(struct cpu *c, uint32_t lin, bool write, bool user)
{
    unsigned i = (lin >> 12) % TLB_SIZE;
    if (c->tlb.tag[user][write][i] != (lin & ~0xFFFu)) return NULL;
    return (uint8_t *)(c->tlb.addend[user][write][i] + lin);
}

/* Install a translation (only for RAM, or ROM for reads). */
void tlb_fill(struct cpu *c, uint32_t lin, uint64_t pa, bool write, bool user);

/* Fast path of a segmented access within one page: a usable expand-up
 * segment (or real mode) and a TLB hit. NULL means: take the full path. */
static inline uint8_t *seg_fast(struct cpu *c, int s, uint32_t off, unsigned size, bool write)
{
    const struct seg *sg = &c->seg[s];
    uint16_t ar = sg->ar;
    if ((c->cr[0] & 1) && !(c->eflags & FL_VM) && ((ar & 0x9C) != 0x90 || (write && !(ar & 2))))
        return NULL;                                   /* not plain present data */
    if ((ar & 0x1C) == 0x14 || off > sg->limit || sg->limit - off < size - 1) return NULL;
    uint32_t lin = sg->base + off;
    if ((lin & 0xFFF) > 4096 - size) return NULL;
    if ((c->eflags & FL_AC) && (lin & (size - 1))) return NULL;          /* #AC check */
    if (write && (((lin ^ c->exec_page) & ~0xFFFu) == 0)) return NULL;   /* SMC check in lin_write */
    return tlb_hit(c, lin, write, c->cpl == 3);
}

/* ---- operands ---- */
static inline uint32_t insn_ea(const struct cpu *c, const struct insn *in)   /* offset, addrsize-wrapped */
{
    uint32_t ea = (uint32_t)in->disp;
    if (in->base != REG_NONE) ea += c->r[in->base];
    if (in->index != REG_NONE) ea += c->r[in->index] << in->scale;
    return in->addrsize == 2 ? (ea & 0xFFFF) : ea;
}
int opnd_read_slow(struct cpu *c, const struct insn *in, int k, uint32_t *v);
int opnd_write_slow(struct cpu *c, const struct insn *in, int k, uint32_t v);
static inline int opnd_read(struct cpu *c, const struct insn *in, int k, uint32_t *v)
{
    const struct insn_opnd *o = &in->opnd[k];
    if (o->kind == OPND_GPR) { *v = reg_get(c, o->reg, o->size); return EXC_NONE; }
    if (o->kind == OPND_IMM && o->type != OT_ONE && !(k > 0 && in->imm2_size)) { *v = in->imm; return EXC_NONE; }
    return opnd_read_slow(c, in, k, v);
}
static inline int opnd_write(struct cpu *c, const struct insn *in, int k, uint32_t v)
{
    const struct insn_opnd *o = &in->opnd[k];
    if (o->kind == OPND_GPR) { reg_set(c, o->reg, o->size, v); return EXC_NONE; }
    return opnd_write_slow(c, in, k, v);
}
/* probe that operand k can be written (memory: limit + paging) */
int opnd_probe(struct cpu *c, const struct insn *in, int k);
/* Read the destination of a read-modify-write instruction: a memory operand
 * is checked for writing first (segment type, paging, #AC), as the processor
 * does for a locked-style RMW access, then read. */
static inline int opnd_read_rmw(struct cpu *c, const struct insn *in, int k, uint32_t *v)
{
    if (in->opnd[k].kind == OPND_MEM) {
        int r = opnd_probe(c, in, k);
        if (r != EXC_NONE) return r;
    }
    return opnd_read(c, in, k, v);
}

/* ---- stack ---- */
static inline unsigned stack_size(const struct cpu *c) { return (c->seg[SEG_SS].ar & AR_DB) ? 4 : 2; }
static inline uint32_t sp_get(const struct cpu *c)
{
    return stack_size(c) == 4 ? c->r[R_ESP] : (c->r[R_ESP] & 0xFFFF);
}
static inline void sp_set(struct cpu *c, uint32_t v)
{
    if (stack_size(c) == 4) c->r[R_ESP] = v;
    else c->r[R_ESP] = (c->r[R_ESP] & 0xFFFF0000u) | (v & 0xFFFF);
}
/* push/pop computing the new SP without committing: write at *sp first */
int stack_push(struct cpu *c, unsigned size, uint32_t v);   /* commits ESP */
int stack_pop(struct cpu *c, unsigned size, uint32_t *v);   /* commits ESP */
/* read the stack at SP + off (no commit) */
int stack_peek(struct cpu *c, uint32_t off, unsigned size, uint32_t *v);

/* ---- flags: cpu/flags.c ---- */
extern const uint8_t parity_table[256];
static inline uint32_t flags_szp(uint32_t res, unsigned size)
{
    uint32_t f = 0;
    res &= size_mask(size);
    if (!res) f |= FL_ZF;
    if (res & sign_bit(size)) f |= FL_SF;
    if (parity_table[res & 0xFF]) f |= FL_PF;
    return f;
}
static inline void flags_set(struct cpu *c, uint32_t mask, uint32_t val)
{
    c->eflags = (c->eflags & ~mask) | (val & mask);
}
static inline uint32_t flags_add(uint32_t a, uint32_t b, uint32_t cin, unsigned size)
{
    uint32_t m = size_mask(size);
    a &= m; b &= m;
    uint64_t r64 = (uint64_t)a + b + cin;
    uint32_t res = (uint32_t)r64 & m;
    uint32_t f = flags_szp(res, size);
    f |= (r64 > m) ? FL_CF : 0;
    f |= (((a ^ res) & (b ^ res)) >> (size * 8 - 1) & 1) ? FL_OF : 0;
    f |= (a ^ b ^ res) & FL_AF;
    return f;
}
static inline uint32_t flags_sub(uint32_t a, uint32_t b, uint32_t cin, unsigned size)
{
    uint32_t m = size_mask(size);
    a &= m; b &= m;
    uint32_t res = (a - b - cin) & m;
    uint32_t f = flags_szp(res, size);
    f |= ((uint64_t)a < (uint64_t)b + cin) ? FL_CF : 0;
    f |= (((a ^ b) & (a ^ res)) >> (size * 8 - 1) & 1) ? FL_OF : 0;
    f |= (a ^ b ^ res) & FL_AF;
    return f;
}
/* CF = OF = 0; AF is undefined and a P6 clears it */
static inline uint32_t flags_logic(uint32_t res, unsigned size) { return flags_szp(res, size); }
bool cond_true(const struct cpu *c, unsigned cc);

/* ---- control transfer and segments (cpu/ops_ctl.c, cpu/seg.c) ---- */
int seg_load(struct cpu *c, int s, uint16_t sel);       /* MOV/POP/LxS semantics */
void seg_load_real(struct cpu *c, int s, uint16_t sel);   /* real/V86: base = sel<<4 */
int far_jump(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize);
int branch_near(struct cpu *c, uint32_t target, unsigned opsize);
/* I/O port access with permission checks (cpu/ops_io.c) */
int io_check(struct cpu *c, uint16_t port, unsigned size);
uint32_t io_in(struct cpu *c, uint16_t port, unsigned size);
void io_out(struct cpu *c, uint16_t port, uint32_t v, unsigned size);

int op_unimpl(struct cpu *cpu, const struct insn *in);
/* The EFLAGS image PUSHF/INT store: VM and RF read as 0 (SDM vol. 2 PUSHF) */
#define EFLAGS_PUSHF_MASK 0x00FCFFFFu
/* EFLAGS bits POPF/IRET may change in the current mode and CPL */
uint32_t eflags_writable(const struct cpu *c, unsigned opsize);
#endif

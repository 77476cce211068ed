/* cpu/fastpath.c - specialised handlers for the commonest 32-bit forms.
 *
 * The block cache (cpu/interp.c) picks one of these when it decodes an
 * instruction whose operands fit (fastpath_pick); everything else, and
 * every case a fast handler cannot finish (a TLB miss, a segment that is
 * not plain flat data, alignment checking), goes through the generic
 * handler of the opcode table. The semantics are the generic handlers';
 * these only skip the operand-descriptor machinery. The SingleStepTests,
 * tests/cpu and the host differential runs exercise both paths.
 */
#include "cpu/interp_priv.h"
#include "cpu/fastpath.h"

static inline uint32_t ea32(const struct cpu *c, const struct insn *in)
{
    uint32_t ea = (uint32_t)in->disp;
    if (in->base != REG_NONE) ea += c->r[in->base];
    if (in->index != REG_NONE) ea += c->r[in->index] << in->scale;
    return ea;
}

/* MOV r32, r32 / r32, imm32 */
static int f_mov_rr(struct cpu *c, const struct insn *in) { c->r[in->opnd[0].reg] = c->r[in->opnd[1].reg]; return EXC_NONE; }
static int f_mov_ri(struct cpu *c, const struct insn *in) { c->r[in->opnd[0].reg] = in->imm; return EXC_NONE; }

/* MOV r32, [mem] and MOV [mem], r32 (and MOV [mem], imm32) */
static int f_mov_load(struct cpu *c, const struct insn *in)
{
    uint8_t *h = seg_fast(c, in->seg, ea32(c, in), 4, false);
    if (!h) return op_mov(c, in);
    uint32_t v;
    memcpy(&v, h, 4);
    c->r[in->opnd[0].reg] = v;
    return EXC_NONE;
}
static int f_mov_store(struct cpu *c, const struct insn *in)
{
    uint8_t *h = seg_fast(c, in->seg, ea32(c, in), 4, true);
    if (!h) return op_mov(c, in);
    uint32_t v = in->opnd[1].kind == OPND_GPR ? c->r[in->opnd[1].reg] : in->imm;
    memcpy(h, &v, 4);
    return EXC_NONE;
}

static int f_lea(struct cpu *c, const struct insn *in) { c->r[in->opnd[0].reg] = ea32(c, in); return EXC_NONE; }

/* ALU r32, r32|imm: the same flag rules as ops_alu.c's alu() */
#define ALU_FAST(name, expr, flagexpr, writes) \
static int f_##name##_rr(struct cpu *c, const struct insn *in) \
{ \
    uint32_t a = c->r[in->opnd[0].reg], b = c->r[in->opnd[1].reg], res = (expr); \
    if (writes) c->r[in->opnd[0].reg] = res; \
    flags_set(c, FL_ARITH, (flagexpr)); \
    return EXC_NONE; \
} \
static int f_##name##_ri(struct cpu *c, const struct insn *in) \
{ \
    uint32_t a = c->r[in->opnd[0].reg], b = in->imm, res = (expr); \
    if (writes) c->r[in->opnd[0].reg] = res; \
    flags_set(c, FL_ARITH, (flagexpr)); \
    return EXC_NONE; \
}
ALU_FAST(add, a + b, flags_add(a, b, 0, 4), 1)
ALU_FAST(sub, a - b, flags_sub(a, b, 0, 4), 1)
ALU_FAST(cmp, a - b, flags_sub(a, b, 0, 4), 0)
ALU_FAST(and, a & b, flags_logic(res, 4), 1)
ALU_FAST(or,  a | b, flags_logic(res, 4), 1)
ALU_FAST(xor, a ^ b, flags_logic(res, 4), 1)
ALU_FAST(test, a & b, flags_logic(res, 4), 0)
#undef ALU_FAST

static int f_inc_r(struct cpu *c, const struct insn *in)
{
    uint32_t a = c->r[in->opnd[0].reg];
    c->r[in->opnd[0].reg] = a + 1;
    flags_set(c, FL_ARITH & ~FL_CF, flags_add(a, 1, 0, 4));
    return EXC_NONE;
}
static int f_dec_r(struct cpu *c, const struct insn *in)
{
    uint32_t a = c->r[in->opnd[0].reg];
    c->r[in->opnd[0].reg] = a - 1;
    flags_set(c, FL_ARITH & ~FL_CF, flags_sub(a, 1, 0, 4));
    return EXC_NONE;
}

/* PUSH r32 / POP r32 with a 32-bit stack */
static int f_push_r(struct cpu *c, const struct insn *in)
{
    if (stack_size(c) != 4) return op_push(c, in);
    uint32_t sp = c->r[R_ESP] - 4;
    uint8_t *h = seg_fast(c, SEG_SS, sp, 4, true);
    if (!h) return op_push(c, in);
    uint32_t v = c->r[in->opnd[0].reg];
    memcpy(h, &v, 4);
    c->r[R_ESP] = sp;
    return EXC_NONE;
}
static int f_pop_r(struct cpu *c, const struct insn *in)
{
    if (stack_size(c) != 4) return op_pop(c, in);
    uint8_t *h = seg_fast(c, SEG_SS, c->r[R_ESP], 4, false);
    if (!h) return op_pop(c, in);
    uint32_t v;
    memcpy(&v, h, 4);
    c->r[R_ESP] += 4;
    c->r[in->opnd[0].reg] = v;        /* POP ESP: the popped value wins */
    return EXC_NONE;
}

/* near branches with 32-bit operand size (the CS limit is still checked) */
static int f_jcc(struct cpu *c, const struct insn *in)
{
    if (!cond_true(c, in->opc & 15)) return EXC_NONE;
    uint32_t t = c->next_eip + in->imm;
    if (t > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    c->eip = t;
    return EXC_NONE;
}
static int f_jmp_rel(struct cpu *c, const struct insn *in)
{
    uint32_t t = c->next_eip + in->imm;
    if (t > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    c->eip = t;
    return EXC_NONE;
}
static int f_call_rel(struct cpu *c, const struct insn *in)
{
    uint32_t t = c->next_eip + in->imm;
    if (stack_size(c) != 4 || t > c->seg[SEG_CS].limit) return op_call(c, in);
    uint32_t sp = c->r[R_ESP] - 4;
    uint8_t *h = seg_fast(c, SEG_SS, sp, 4, true);
    if (!h) return op_call(c, in);
    uint32_t ret = c->next_eip;
    memcpy(h, &ret, 4);
    c->r[R_ESP] = sp;
    c->eip = t;
    return EXC_NONE;
}
static int f_ret(struct cpu *c, const struct insn *in)
{
    if (stack_size(c) != 4 || in->nopnd) return op_ret(c, in);
    uint8_t *h = seg_fast(c, SEG_SS, c->r[R_ESP], 4, false);
    if (!h) return op_ret(c, in);
    uint32_t t;
    memcpy(&t, h, 4);
    if (t > c->seg[SEG_CS].limit) return fault(c, EXC_GP, 0);
    c->r[R_ESP] += 4;
    c->eip = t;
    return EXC_NONE;
}

/* shifts and rotates of a 32-bit register by an immediate (flags as in
 * ops_alu.c's shift(): OF from the same formula for every count) */
static int f_rol_ri(struct cpu *c, const struct insn *in)
{
    unsigned n = in->imm & 31;
    if (!n) return EXC_NONE;
    uint32_t a = c->r[in->opnd[0].reg], res = (a << n) | (a >> (32 - n));
    uint32_t cf = res & 1;
    c->r[in->opnd[0].reg] = res;
    flags_set(c, FL_CF | FL_OF, (cf ? FL_CF : 0) | (((res >> 31) != cf) ? FL_OF : 0));
    return EXC_NONE;
}
static int f_shl_ri(struct cpu *c, const struct insn *in)
{
    unsigned n = in->imm & 31;
    if (!n) return EXC_NONE;
    uint32_t a = c->r[in->opnd[0].reg], res = a << n, cf = (a >> (32 - n)) & 1;
    c->r[in->opnd[0].reg] = res;
    flags_set(c, FL_ARITH, flags_szp(res, 4) | (cf ? FL_CF : 0) | (((res >> 31) != cf) ? FL_OF : 0));
    return EXC_NONE;
}
static int f_shr_ri(struct cpu *c, const struct insn *in)
{
    unsigned n = in->imm & 31;
    if (!n) return EXC_NONE;
    uint32_t a = c->r[in->opnd[0].reg], res = a >> n, cf = (a >> (n - 1)) & 1;
    c->r[in->opnd[0].reg] = res;
    flags_set(c, FL_ARITH, flags_szp(res, 4) | (cf ? FL_CF : 0) | ((n == 1 && (a >> 31)) ? FL_OF : 0));
    return EXC_NONE;
}

/* IMUL r32, r32 (two-operand): CF = OF = the product does not fit;
 * SF ZF PF from the low half, AF clear (as ops_alu.c's op_imul) */
static int f_imul_rr(struct cpu *c, const struct insn *in)
{
    int64_t p = (int64_t)(int32_t)c->r[in->opnd[0].reg] * (int32_t)c->r[in->opnd[1].reg];
    uint32_t lo = (uint32_t)p;
    c->r[in->opnd[0].reg] = lo;
    flags_set(c, FL_ARITH, flags_szp(lo, 4) | (p != (int32_t)lo ? FL_CF | FL_OF : 0));
    return EXC_NONE;
}

op_fn fastpath_pick(const struct insn *in)
{
    const struct opinfo *r = &optab[in->op];
    const struct insn_opnd *o0 = &in->opnd[0], *o1 = &in->opnd[1];
    if (in->lock || in->rep) return NULL;
    bool r0 = in->nopnd >= 1 && o0->kind == OPND_GPR && o0->size == 4;
    bool r1 = in->nopnd >= 2 && o1->kind == OPND_GPR && o1->size == 4;
    bool i1 = in->nopnd >= 2 && o1->kind == OPND_IMM && o1->size == 4 && o1->type != OT_ONE;
    bool m0 = in->nopnd >= 1 && o0->kind == OPND_MEM && o0->size == 4 && in->addrsize == 4;
    bool m1 = in->nopnd >= 2 && o1->kind == OPND_MEM && o1->size == 4 && in->addrsize == 4;
    const char *h = r->handler;
    if (in->nopnd == 2 && !strcmp(h, "mov")) {
        if (r0 && r1) return f_mov_rr;
        if (r0 && i1) return f_mov_ri;
        if (r0 && m1) return f_mov_load;
        if (m0 && (r1 || i1)) return f_mov_store;
        return NULL;
    }
    if (!strcmp(h, "lea") && r0 && in->addrsize == 4) return f_lea;
    if (!strcmp(h, "imul") && in->nopnd == 2 && r0 && r1) return f_imul_rr;
    if (in->opsize == 4 && in->nopnd == 1 && o0->kind == OPND_REL) {
        if (!strcmp(h, "jcc")) return f_jcc;
        if (!strcmp(h, "jmp")) return f_jmp_rel;
        if (!strcmp(h, "call")) return f_call_rel;
    }
    if (!strcmp(h, "ret") && in->opsize == 4 && in->nopnd == 0) return f_ret;
    if (in->nopnd == 2 && r0 && o1->kind == OPND_IMM && o1->type == OT_Ib) {
        if (!strcmp(h, "rol")) return f_rol_ri;
        if (!strcmp(h, "shl")) return f_shl_ri;
        if (!strcmp(h, "shr")) return f_shr_ri;
    }
    if (in->nopnd == 2 && r0 && (r1 || i1)) {
#define PICK(n) if (!strcmp(h, #n)) return r1 ? f_##n##_rr : f_##n##_ri;
        PICK(add) PICK(sub) PICK(cmp) PICK(and) PICK(or) PICK(xor) PICK(test)
#undef PICK
        return NULL;
    }
    if (in->nopnd == 1 && r0) {
        if (!strcmp(h, "inc")) return f_inc_r;
        if (!strcmp(h, "dec")) return f_dec_r;
        if (!strcmp(h, "push") && in->opsize == 4) return f_push_r;
        if (!strcmp(h, "pop") && in->opsize == 4) return f_pop_r;
    }
    return NULL;
}

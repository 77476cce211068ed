/* cpu/ops_alu.c - integer data instructions: ALU, shifts and rotates,
 * multiply and divide, BCD, bit tests and scans, moves and exchanges,
 * flag instructions.
 *
 * Every handler reads its operands, computes, then writes the destination
 * (the only access that can fault after the reads), and only then updates
 * registers and EFLAGS. Undefined flags follow what a P6 does where known
 * (noted per handler); the opcode table's fu column names them for tests.
 */
#include "cpu/interp_priv.h"

#define TRY(x) do { int r_ = (x); if (r_ != EXC_NONE) return r_; } while (0)

/* dest op= src, flags from fn; cmp/test do not write */
enum aluop { AL_ADD, AL_OR, AL_ADC, AL_SBB, AL_AND, AL_SUB, AL_XOR, AL_CMP, AL_TEST };

static int alu(struct cpu *c, const struct insn *in, enum aluop op)
{
    uint32_t a, b, res, f;
    unsigned size = in->opnd[0].size;
    if (op == AL_CMP || op == AL_TEST) TRY(opnd_read(c, in, 0, &a));
    else TRY(opnd_read_rmw(c, in, 0, &a));
    TRY(opnd_read(c, in, 1, &b));
    uint32_t cf = c->eflags & FL_CF;
    switch (op) {
    case AL_ADD: res = a + b; f = flags_add(a, b, 0, size); break;
    case AL_ADC: res = a + b + cf; f = flags_add(a, b, cf, size); break;
    case AL_SUB: case AL_CMP: res = a - b; f = flags_sub(a, b, 0, size); break;
    case AL_SBB: res = a - b - cf; f = flags_sub(a, b, cf, size); break;
    case AL_OR: res = a | b; f = flags_logic(res, size); break;
    case AL_AND: case AL_TEST: res = a & b; f = flags_logic(res, size); break;
    default: res = a ^ b; f = flags_logic(res, size); break;
    }
    if (op != AL_CMP && op != AL_TEST) TRY(opnd_write(c, in, 0, res));
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}

int op_add(struct cpu *c, const struct insn *in) { return alu(c, in, AL_ADD); }
int op_or(struct cpu *c, const struct insn *in)  { return alu(c, in, AL_OR); }
int op_adc(struct cpu *c, const struct insn *in) { return alu(c, in, AL_ADC); }
int op_sbb(struct cpu *c, const struct insn *in) { return alu(c, in, AL_SBB); }
int op_and(struct cpu *c, const struct insn *in) { return alu(c, in, AL_AND); }
int op_sub(struct cpu *c, const struct insn *in) { return alu(c, in, AL_SUB); }
int op_xor(struct cpu *c, const struct insn *in) { return alu(c, in, AL_XOR); }
int op_cmp(struct cpu *c, const struct insn *in) { return alu(c, in, AL_CMP); }
int op_test(struct cpu *c, const struct insn *in) { return alu(c, in, AL_TEST); }

static int incdec(struct cpu *c, const struct insn *in, bool inc)
{
    uint32_t a;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read_rmw(c, in, 0, &a));
    uint32_t f = inc ? flags_add(a, 1, 0, size) : flags_sub(a, 1, 0, size);
    TRY(opnd_write(c, in, 0, inc ? a + 1 : a - 1));
    flags_set(c, FL_ARITH & ~FL_CF, f);      /* CF unchanged */
    return EXC_NONE;
}
int op_inc(struct cpu *c, const struct insn *in) { return incdec(c, in, true); }
int op_dec(struct cpu *c, const struct insn *in) { return incdec(c, in, false); }

int op_not(struct cpu *c, const struct insn *in)
{
    uint32_t a;
    TRY(opnd_read_rmw(c, in, 0, &a));
    return opnd_write(c, in, 0, ~a);
}

int op_neg(struct cpu *c, const struct insn *in)
{
    uint32_t a;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read_rmw(c, in, 0, &a));
    uint32_t f = flags_sub(0, a, 0, size);
    TRY(opnd_write(c, in, 0, 0 - a));
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}

/* ---- multiply and divide ---- */

/* MUL: AX = AL*src / DX:AX / EDX:EAX. OF=CF=upper half nonzero.
 * SF ZF AF PF undefined: a P6 sets SF/ZF/PF from the low half (we do too),
 * AF is cleared. */
int op_mul(struct cpu *c, const struct insn *in)
{
    uint32_t s;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read(c, in, 0, &s));
    uint64_t a = reg_get(c, R_EAX, size);
    uint64_t p = a * s;
    uint32_t lo, hi;
    if (size == 1) { reg_set(c, R_EAX, 2, (uint32_t)p); lo = (uint32_t)p & 0xFF; hi = (uint32_t)(p >> 8) & 0xFF; }
    else if (size == 2) { reg_set(c, R_EAX, 2, (uint32_t)p); reg_set(c, R_EDX, 2, (uint32_t)(p >> 16)); lo = (uint32_t)p & 0xFFFF; hi = (uint32_t)(p >> 16) & 0xFFFF; }
    else { c->r[R_EAX] = (uint32_t)p; c->r[R_EDX] = (uint32_t)(p >> 32); lo = (uint32_t)p; hi = (uint32_t)(p >> 32); }
    uint32_t f = flags_szp(lo, size);
    if (hi) f |= FL_CF | FL_OF;
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}

static inline int64_t sx(uint32_t v, unsigned size)
{
    return size == 1 ? (int8_t)v : size == 2 ? (int16_t)v : (int32_t)v;
}

/* one-operand IMUL: OF=CF = result does not fit the low half (sign-extended) */
int op_imul1(struct cpu *c, const struct insn *in)
{
    uint32_t s;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read(c, in, 0, &s));
    int64_t p = sx(reg_get(c, R_EAX, size), size) * sx(s, size);
    uint64_t up = (uint64_t)p;
    if (size == 1) reg_set(c, R_EAX, 2, (uint32_t)up);
    else if (size == 2) { reg_set(c, R_EAX, 2, (uint32_t)up); reg_set(c, R_EDX, 2, (uint32_t)(up >> 16)); }
    else { c->r[R_EAX] = (uint32_t)up; c->r[R_EDX] = (uint32_t)(up >> 32); }
    uint32_t lo = (uint32_t)up & size_mask(size);
    uint32_t f = flags_szp(lo, size);
    if (p != sx(lo, size)) f |= FL_CF | FL_OF;
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}

/* two- and three-operand IMUL: Gv = Ev * (Gv | imm) */
int op_imul(struct cpu *c, const struct insn *in)
{
    uint32_t a, b;
    unsigned size = in->opnd[0].size;
    if (in->nopnd == 3) { TRY(opnd_read(c, in, 1, &a)); TRY(opnd_read(c, in, 2, &b)); }
    else { TRY(opnd_read(c, in, 0, &a)); TRY(opnd_read(c, in, 1, &b)); }
    int64_t p = sx(a, size) * sx(b, size);
    uint32_t lo = (uint32_t)p & size_mask(size);
    reg_set(c, in->opnd[0].reg, size, lo);
    uint32_t f = flags_szp(lo, size);
    if (p != sx(lo, size)) f |= FL_CF | FL_OF;
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}

/* DIV/IDIV: #DE on a zero divisor or a quotient that does not fit
 * (SDM vol. 2 DIV/IDIV). Flags undefined; a P6 leaves them unchanged. */
int op_div(struct cpu *c, const struct insn *in)
{
    uint32_t s;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read(c, in, 0, &s));
    if (s == 0) return fault_noerr(c, EXC_DE);
    uint64_t n;
    if (size == 1) n = reg_get(c, R_EAX, 2);
    else if (size == 2) n = ((uint64_t)reg_get(c, R_EDX, 2) << 16) | reg_get(c, R_EAX, 2);
    else n = ((uint64_t)c->r[R_EDX] << 32) | c->r[R_EAX];
    uint64_t q = n / s, r = n % s;
    if (q > size_mask(size)) return fault_noerr(c, EXC_DE);
    if (size == 1) reg_set(c, R_EAX, 2, (uint32_t)((r << 8) | q));
    else { reg_set(c, R_EAX, size, (uint32_t)q); reg_set(c, R_EDX, size, (uint32_t)r); }
    return EXC_NONE;
}

int op_idiv(struct cpu *c, const struct insn *in)
{
    uint32_t s;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read(c, in, 0, &s));
    int64_t d = sx(s, size);
    if (d == 0) return fault_noerr(c, EXC_DE);
    int64_t n;
    if (size == 1) n = (int16_t)reg_get(c, R_EAX, 2);
    else if (size == 2) n = (int32_t)((reg_get(c, R_EDX, 2) << 16) | reg_get(c, R_EAX, 2));
    else n = (int64_t)(((uint64_t)c->r[R_EDX] << 32) | c->r[R_EAX]);
    if (size == 4 && n == INT64_MIN && d == -1) return fault_noerr(c, EXC_DE);
    int64_t q = n / d, r = n % d;
    int64_t qmax = (int64_t)(sign_bit(size) - 1), qmin = -(int64_t)sign_bit(size);
    if (q > qmax || q < qmin) return fault_noerr(c, EXC_DE);
    if (size == 1) reg_set(c, R_EAX, 2, (uint32_t)(((r & 0xFF) << 8) | (q & 0xFF)));
    else { reg_set(c, R_EAX, size, (uint32_t)q); reg_set(c, R_EDX, size, (uint32_t)r); }
    return EXC_NONE;
}

/* ---- BCD (SDM vol. 2 DAA DAS AAA AAS AAM AAD) ---- */
int op_daa(struct cpu *c, const struct insn *in)
{
    (void)in;
    uint32_t al = c->r[R_EAX] & 0xFF, old_al = al, f = c->eflags;
    bool cf = f & FL_CF, af = false;
    if ((al & 0x0F) > 9 || (f & FL_AF)) { al += 6; af = true; }
    if (old_al > 0x99 || cf) { al += 0x60; cf = true; } else cf = false;
    al &= 0xFF;
    uint32_t nf = flags_szp(al, 1) | (cf ? FL_CF : 0) | (af ? FL_AF : 0);
    /* OF undefined: a P6 computes it as for the additions performed */
    if (!(old_al & 0x80) && (al & 0x80)) nf |= FL_OF;
    reg_set(c, R_EAX, 1, al);
    flags_set(c, FL_ARITH, nf);
    return EXC_NONE;
}

int op_das(struct cpu *c, const struct insn *in)
{
    (void)in;
    uint32_t al = c->r[R_EAX] & 0xFF, old_al = al, f = c->eflags;
    bool cf = false, af = false;
    if ((al & 0x0F) > 9 || (f & FL_AF)) { cf = (f & FL_CF) || al < 6; al -= 6; af = true; }
    if (old_al > 0x99 || (f & FL_CF)) { al -= 0x60; cf = true; }
    al &= 0xFF;
    uint32_t nf = flags_szp(al, 1) | (cf ? FL_CF : 0) | (af ? FL_AF : 0);
    if ((old_al & 0x80) && !(al & 0x80)) nf |= FL_OF;
    reg_set(c, R_EAX, 1, al);
    flags_set(c, FL_ARITH, nf);
    return EXC_NONE;
}

/* AAA: AX += 106h; AAS: AX -= 6, AH -= 1 (386 and later, SDM vol. 2). */
static int aaa_aas(struct cpu *c, bool add)
{
    uint32_t ax = c->r[R_EAX] & 0xFFFF;
    uint32_t nf;
    if ((ax & 0x0F) > 9 || (c->eflags & FL_AF)) {
        if (add) ax = ((ax + 0x106) & 0xFFFF);
        else ax = ((ax - 6) - 0x100) & 0xFFFF;   /* AX -= 6 (borrows into AH); AH -= 1 */
        nf = FL_AF | FL_CF;
    } else nf = 0;
    ax &= 0xFF0F;
    nf |= flags_szp(ax & 0xFF, 1);   /* SF ZF PF undefined: from AL as a P6 */
    reg_set(c, R_EAX, 2, ax);
    flags_set(c, FL_ARITH, nf);
    return EXC_NONE;
}
int op_aaa(struct cpu *c, const struct insn *in) { (void)in; return aaa_aas(c, true); }
int op_aas(struct cpu *c, const struct insn *in) { (void)in; return aaa_aas(c, false); }

int op_aam(struct cpu *c, const struct insn *in)
{
    uint32_t base = in->imm & 0xFF;
    if (!base) return fault_noerr(c, EXC_DE);
    uint32_t al = c->r[R_EAX] & 0xFF;
    uint32_t ah = al / base;
    al %= base;
    reg_set(c, R_EAX, 2, (ah << 8) | al);
    flags_set(c, FL_ARITH, flags_szp(al, 1));
    return EXC_NONE;
}

int op_aad(struct cpu *c, const struct insn *in)
{
    uint32_t base = in->imm & 0xFF;
    uint32_t al = c->r[R_EAX] & 0xFF, ah = (c->r[R_EAX] >> 8) & 0xFF;
    uint32_t prod = (ah * base) & 0xFF;
    uint32_t f = flags_add(al, prod, 0, 1);     /* OF AF CF undefined: as the add */
    reg_set(c, R_EAX, 2, (al + prod) & 0xFF);
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}

int op_salc(struct cpu *c, const struct insn *in)
{
    (void)in;
    reg_set(c, R_EAX, 1, (c->eflags & FL_CF) ? 0xFF : 0);
    return EXC_NONE;
}

int op_cbw(struct cpu *c, const struct insn *in)
{
    if (in->opsize == 2) reg_set(c, R_EAX, 2, (uint32_t)(int32_t)(int8_t)c->r[R_EAX]);
    else c->r[R_EAX] = (uint32_t)(int32_t)(int16_t)c->r[R_EAX];
    return EXC_NONE;
}

int op_cwd(struct cpu *c, const struct insn *in)
{
    if (in->opsize == 2) reg_set(c, R_EDX, 2, (c->r[R_EAX] & 0x8000) ? 0xFFFF : 0);
    else c->r[R_EDX] = (c->r[R_EAX] & 0x80000000u) ? 0xFFFFFFFFu : 0;
    return EXC_NONE;
}

/* ---- shifts and rotates (SDM vol. 2 SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR) ----
 * The count is masked to 5 bits. A masked count of 0 changes nothing (not
 * even flags). OF is defined for count 1; for other counts a P6 computes it
 * with the same formula, which is what we do (tests mask it). */
enum shop { SH_ROL, SH_ROR, SH_RCL, SH_RCR, SH_SHL, SH_SHR, SH_SAL, SH_SAR };

static int shift(struct cpu *c, const struct insn *in, enum shop op)
{
    uint32_t a, cnt;
    unsigned size = in->opnd[0].size, bits = size * 8;
    TRY(opnd_read_rmw(c, in, 0, &a));
    TRY(opnd_read(c, in, 1, &cnt));
    cnt &= 0x1F;
    if (!cnt) return opnd_probe(c, in, 0);
    uint32_t m = size_mask(size), sb = sign_bit(size);
    a &= m;
    uint32_t res = 0, f = c->eflags & FL_ARITH, cf = 0;
    switch (op) {
    case SH_ROL: {
        unsigned n = cnt % bits;
        res = n ? ((a << n) | (a >> (bits - n))) & m : a;
        cf = res & 1;
        f = (f & ~(FL_CF | FL_OF)) | (cf ? FL_CF : 0);
        if (((res & sb) != 0) != (cf != 0)) f |= FL_OF;
        break;
    }
    case SH_ROR: {
        unsigned n = cnt % bits;
        res = n ? ((a >> n) | (a << (bits - n))) & m : a;
        cf = (res & sb) != 0;
        f = (f & ~(FL_CF | FL_OF)) | (cf ? FL_CF : 0);
        if (((res >> (bits - 1)) ^ (res >> (bits - 2))) & 1) f |= FL_OF;
        break;
    }
    case SH_RCL: case SH_RCR: {
        unsigned n = cnt % (bits + 1);
        uint64_t v = a | ((uint64_t)((c->eflags & FL_CF) ? 1 : 0) << bits);  /* bits+1 wide */
        uint64_t wm = (2ull << bits) - 1;
        if (n) {
            if (op == SH_RCL) v = ((v << n) | (v >> (bits + 1 - n))) & wm;
            else v = ((v >> n) | (v << (bits + 1 - n))) & wm;
        }
        res = (uint32_t)v & m;
        cf = (uint32_t)(v >> bits) & 1;
        f = (f & ~(FL_CF | FL_OF)) | (cf ? FL_CF : 0);
        if (op == SH_RCL) { if (((res & sb) != 0) != (cf != 0)) f |= FL_OF; }
        else if (((res >> (bits - 1)) ^ (res >> (bits - 2))) & 1) f |= FL_OF;
        break;
    }
    case SH_SHL: case SH_SAL:
        res = cnt < 32 ? (a << cnt) & m : 0;
        cf = cnt <= bits ? (a >> (bits - cnt)) & 1 : 0;
        f = flags_szp(res, size) | (cf ? FL_CF : 0);
        if (((res & sb) != 0) != (cf != 0)) f |= FL_OF;
        break;
    case SH_SHR:
        res = a >> cnt;
        cf = (a >> (cnt - 1)) & 1;
        f = flags_szp(res, size) | (cf ? FL_CF : 0);
        if (cnt == 1 ? (a & sb) : 0) f |= FL_OF;
        break;
    case SH_SAR: {
        int32_t s = (int32_t)(sx(a, size));
        res = (uint32_t)(s >> (cnt > 31 ? 31 : cnt)) & m;
        cf = (uint32_t)(s >> (cnt - 1 > 31 ? 31 : cnt - 1)) & 1;
        f = flags_szp(res, size) | (cf ? FL_CF : 0);
        break;
    }
    }
    TRY(opnd_write(c, in, 0, res));
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}
int op_rol(struct cpu *c, const struct insn *in) { return shift(c, in, SH_ROL); }
int op_ror(struct cpu *c, const struct insn *in) { return shift(c, in, SH_ROR); }
int op_rcl(struct cpu *c, const struct insn *in) { return shift(c, in, SH_RCL); }
int op_rcr(struct cpu *c, const struct insn *in) { return shift(c, in, SH_RCR); }
int op_shl(struct cpu *c, const struct insn *in) { return shift(c, in, SH_SHL); }
int op_shr(struct cpu *c, const struct insn *in) { return shift(c, in, SH_SHR); }
int op_sar(struct cpu *c, const struct insn *in) { return shift(c, in, SH_SAR); }

/* SHLD/SHRD: count masked to 5 bits; a count above the operand size gives
 * undefined results for 16-bit operands (a P6 shifts through a 32-bit
 * pattern dest:src:dest, which we model). */
static int shxd(struct cpu *c, const struct insn *in, bool left)
{
    uint32_t d, s, cnt;
    unsigned size = in->opnd[0].size, bits = size * 8;
    TRY(opnd_read_rmw(c, in, 0, &d));
    TRY(opnd_read(c, in, 1, &s));
    TRY(opnd_read(c, in, 2, &cnt));
    cnt &= 0x1F;
    if (!cnt) return opnd_probe(c, in, 0);
    uint32_t res, cf;
    if (size == 4) {
        uint64_t v = left ? (((uint64_t)d << 32) | s) : (((uint64_t)s << 32) | d);
        if (left) { res = (uint32_t)((v << cnt) >> 32); cf = (uint32_t)(v >> (64 - cnt)) & 1; }
        else { res = (uint32_t)(v >> cnt); cf = (uint32_t)(v >> (cnt - 1)) & 1; }
    } else {
        /* 16-bit: 48-bit pattern d:s:d (left) or d:s:d reversed (right) */
        d &= 0xFFFF; s &= 0xFFFF;
        if (left) {
            uint64_t v = ((uint64_t)d << 32) | ((uint64_t)s << 16) | d;
            res = (uint32_t)(v >> (32 - cnt)) & 0xFFFF;
            cf = (uint32_t)(v >> (48 - cnt)) & 1;
        } else {
            uint64_t v = ((uint64_t)d << 32) | ((uint64_t)s << 16) | d;
            res = (uint32_t)(v >> cnt) & 0xFFFF;
            cf = (uint32_t)(v >> (cnt - 1)) & 1;
        }
    }
    (void)bits;
    uint32_t f = flags_szp(res, size) | (cf ? FL_CF : 0);
    uint32_t sb = sign_bit(size);
    if ((res ^ d) & sb) f |= FL_OF;      /* sign changed */
    TRY(opnd_write(c, in, 0, res));
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}
int op_shld(struct cpu *c, const struct insn *in) { return shxd(c, in, true); }
int op_shrd(struct cpu *c, const struct insn *in) { return shxd(c, in, false); }

/* ---- bit test and scan (SDM vol. 2 BT: a register bit offset addresses
 * memory beyond the operand, signed, in operand-size units) ---- */
enum btop { BT_TEST, BT_SET, BT_RESET, BT_COMPL };

static int bitop(struct cpu *c, const struct insn *in, enum btop op)
{
    unsigned size = in->opnd[0].size, bits = size * 8;
    uint32_t off;
    TRY(opnd_read(c, in, 1, &off));
    uint32_t v, bit;
    bool mem = in->opnd[0].kind == OPND_MEM;
    uint32_t ea = 0;
    if (mem && in->opnd[1].kind == OPND_GPR) {
        int32_t so = (int32_t)sx(off, size);
        int32_t unit = so >> (size == 2 ? 4 : 5);     /* floor division */
        ea = insn_ea(c, in) + (uint32_t)(unit * (int32_t)size);
        if (in->addrsize == 2) ea &= 0xFFFF;
        bit = (uint32_t)so & (bits - 1);
        if (op != BT_TEST) TRY(mem_probe_wr(c, in->seg, ea, size));
        TRY(mem_rd(c, in->seg, ea, size, &v));
    } else {
        bit = off & (bits - 1);
        if (mem) ea = insn_ea(c, in);
        if (op != BT_TEST) TRY(opnd_read_rmw(c, in, 0, &v));
        else TRY(opnd_read(c, in, 0, &v));
    }
    uint32_t cf = (v >> bit) & 1, nv = v;
    if (op == BT_SET) nv |= 1u << bit;
    else if (op == BT_RESET) nv &= ~(1u << bit);
    else if (op == BT_COMPL) nv ^= 1u << bit;
    if (op != BT_TEST) {
        if (mem) TRY(mem_wr(c, in->seg, ea, size, nv));
        else reg_set(c, in->opnd[0].reg, size, nv);
    }
    flags_set(c, FL_CF, cf ? FL_CF : 0);
    return EXC_NONE;
}
int op_bt(struct cpu *c, const struct insn *in)  { return bitop(c, in, BT_TEST); }
int op_bts(struct cpu *c, const struct insn *in) { return bitop(c, in, BT_SET); }
int op_btr(struct cpu *c, const struct insn *in) { return bitop(c, in, BT_RESET); }
int op_btc(struct cpu *c, const struct insn *in) { return bitop(c, in, BT_COMPL); }

/* BSF/BSR: source 0 sets ZF and leaves the destination unchanged (P6). */
static int bitscan(struct cpu *c, const struct insn *in, bool fwd)
{
    uint32_t s;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read(c, in, 1, &s));
    s &= size_mask(size);
    if (!s) { flags_set(c, FL_ZF, FL_ZF); return EXC_NONE; }
    uint32_t idx = fwd ? (uint32_t)__builtin_ctz(s) : 31u - (uint32_t)__builtin_clz(s);
    reg_set(c, in->opnd[0].reg, size, idx);
    flags_set(c, FL_ARITH, flags_szp(idx, size) & ~FL_ZF);
    return EXC_NONE;
}
int op_bsf(struct cpu *c, const struct insn *in) { return bitscan(c, in, true); }
int op_bsr(struct cpu *c, const struct insn *in) { return bitscan(c, in, false); }

int op_setcc(struct cpu *c, const struct insn *in)
{
    return opnd_write(c, in, 0, cond_true(c, in->opc & 15) ? 1 : 0);
}

/* CMOVcc reads the source even when the condition is false (it can fault),
 * and a 32-bit destination is written (zero-extension irrelevant here). */
int op_cmovcc(struct cpu *c, const struct insn *in)
{
    uint32_t v;
    TRY(opnd_read(c, in, 1, &v));
    if (cond_true(c, in->opc & 15)) reg_set(c, in->opnd[0].reg, in->opnd[0].size, v);
    return EXC_NONE;
}

int op_bswap(struct cpu *c, const struct insn *in)
{
    unsigned r = in->opnd[0].reg;
    if (in->opsize == 2) reg_set(c, r, 2, 0);   /* undefined; a P6 gives 0 */
    else c->r[r] = __builtin_bswap32(c->r[r]);
    return EXC_NONE;
}

/* ---- moves and exchanges ---- */
int op_mov(struct cpu *c, const struct insn *in)
{
    uint32_t v;
    TRY(opnd_read(c, in, 1, &v));
    return opnd_write(c, in, 0, v);
}

int op_movzx(struct cpu *c, const struct insn *in)
{
    uint32_t v;
    TRY(opnd_read(c, in, 1, &v));
    reg_set(c, in->opnd[0].reg, in->opnd[0].size, v);
    return EXC_NONE;
}

int op_movsx(struct cpu *c, const struct insn *in)
{
    uint32_t v;
    TRY(opnd_read(c, in, 1, &v));
    reg_set(c, in->opnd[0].reg, in->opnd[0].size, (uint32_t)sx(v, in->opnd[1].size));
    return EXC_NONE;
}

int op_lea(struct cpu *c, const struct insn *in)
{
    reg_set(c, in->opnd[0].reg, in->opnd[0].size, insn_ea(c, in));
    return EXC_NONE;
}

int op_xchg(struct cpu *c, const struct insn *in)
{
    uint32_t a, b;
    TRY(opnd_read_rmw(c, in, 0, &a));
    TRY(opnd_read(c, in, 1, &b));
    if (in->opnd[0].kind == OPND_MEM) {
        TRY(opnd_write(c, in, 0, b));
        return opnd_write(c, in, 1, a);
    }
    reg_set(c, in->opnd[1].reg, in->opnd[1].size, a);   /* order matters for xchg r,r same reg */
    reg_set(c, in->opnd[0].reg, in->opnd[0].size, b);
    return EXC_NONE;
}

int op_xadd(struct cpu *c, const struct insn *in)
{
    uint32_t d, s;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read_rmw(c, in, 0, &d));
    TRY(opnd_read(c, in, 1, &s));
    uint32_t f = flags_add(d, s, 0, size);
    TRY(opnd_write(c, in, 0, d + s));
    if (in->opnd[0].kind == OPND_MEM || in->opnd[0].reg != in->opnd[1].reg || size == 1)
        reg_set(c, in->opnd[1].reg, size, d);
    if (in->opnd[0].kind == OPND_GPR) reg_set(c, in->opnd[0].reg, size, d + s);
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}

/* CMPXCHG: the destination is always written (with itself on failure), as
 * the processor does (SDM vol. 2 CMPXCHG). */
int op_cmpxchg(struct cpu *c, const struct insn *in)
{
    uint32_t d, s;
    unsigned size = in->opnd[0].size;
    TRY(opnd_read_rmw(c, in, 0, &d));
    TRY(opnd_read(c, in, 1, &s));
    uint32_t acc = reg_get(c, R_EAX, size);
    uint32_t f = flags_sub(acc, d, 0, size);
    if ((acc & size_mask(size)) == (d & size_mask(size))) {
        TRY(opnd_write(c, in, 0, s));
    } else {
        TRY(opnd_write(c, in, 0, d));
        reg_set(c, R_EAX, size, d);
    }
    flags_set(c, FL_ARITH, f);
    return EXC_NONE;
}

int op_cmpxchg8b(struct cpu *c, const struct insn *in)
{
    uint64_t m;
    uint32_t ea = insn_ea(c, in);
    TRY(mem_probe_wr(c, in->seg, ea, 8));      /* a locked RMW: the write is checked first */
    TRY(mem_rd64(c, in->seg, ea, &m));
    uint64_t edx_eax = ((uint64_t)c->r[R_EDX] << 32) | c->r[R_EAX];
    if (m == edx_eax) {
        TRY(mem_wr64(c, in->seg, ea, ((uint64_t)c->r[R_ECX] << 32) | c->r[R_EBX]));
        flags_set(c, FL_ZF, FL_ZF);
    } else {
        TRY(mem_wr64(c, in->seg, ea, m));
        c->r[R_EAX] = (uint32_t)m;
        c->r[R_EDX] = (uint32_t)(m >> 32);
        flags_set(c, FL_ZF, 0);
    }
    return EXC_NONE;
}

/* ---- flag instructions ---- */
int op_clc(struct cpu *c, const struct insn *in) { (void)in; c->eflags &= ~FL_CF; return EXC_NONE; }
int op_stc(struct cpu *c, const struct insn *in) { (void)in; c->eflags |= FL_CF; return EXC_NONE; }
int op_cmc(struct cpu *c, const struct insn *in) { (void)in; c->eflags ^= FL_CF; return EXC_NONE; }
int op_cld(struct cpu *c, const struct insn *in) { (void)in; c->eflags &= ~FL_DF; return EXC_NONE; }
int op_std(struct cpu *c, const struct insn *in) { (void)in; c->eflags |= FL_DF; return EXC_NONE; }

int op_lahf(struct cpu *c, const struct insn *in)
{
    (void)in;
    reg_set(c, 4 /* AH */, 1, (c->eflags & (FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF)) | 0x02);
    return EXC_NONE;
}

int op_sahf(struct cpu *c, const struct insn *in)
{
    (void)in;
    uint32_t ah = (c->r[R_EAX] >> 8) & 0xFF;
    flags_set(c, FL_SF | FL_ZF | FL_AF | FL_PF | FL_CF, ah);
    return EXC_NONE;
}

int op_nop(struct cpu *c, const struct insn *in) { (void)c; (void)in; return EXC_NONE; }
int op_ud(struct cpu *c, const struct insn *in) { (void)in; return UD(c); }

/* cpu/decode.c - the table-driven IA-32 decoder.
 *
 * Owns: prefix parsing, opcode-map lookup, ModRM/SIB/displacement and
 * immediate extraction, and operand description, all driven by the rows of
 * cpu/opcodes.def. Pure: the only state is the lookup index built once from
 * the table (decode_init, idempotent and thread-safe via pthread_once).
 *
 * Invariants:
 *  - A byte at index k >= 15 makes the instruction #GP(0) (SDM vol. 2
 *    sec. 2.3.11); running out of input first gives DECODE_MORE, and
 *    DECODE_MORE wins over #UD (so a caller can fetch across a page first).
 *  - Row selection for one opcode: exact mandatory-prefix match, then a
 *    PFX_ANY catch-all, then the prefix-less row (prefixes a P6 ignores,
 *    e.g. F3 0F BC is BSF on a CPU without BMI1).
 */
#include "cpu/decode.h"
#include <string.h>
#include <pthread.h>
#include <stdbool.h>

#define NMAPS 4

/* lookup index: first row for (map, opcode), chained through next_row */
static uint16_t first_row[NMAPS][256];
static uint16_t next_row[OP_COUNT];
static uint8_t  opc_modrm[NMAPS][256];   /* 1 if the opcode has a ModRM byte */
static uint8_t  row_modrm[OP_COUNT];      /* 1 if the row needs ModRM        */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
#define NO_ROW 0xFFFF
#define R_ESP_ 4
#define R_EBP_ 5

static bool ot_uses_modrm(unsigned t)
{
    switch (t) {
    case OT_Eb: case OT_Ew: case OT_Ed: case OT_Ev: case OT_Evw:
    case OT_Gb: case OT_Gw: case OT_Gd: case OT_Gv:
    case OT_Rd: case OT_Rw: case OT_Rv:
    case OT_M: case OT_Mb: case OT_Mw: case OT_Md: case OT_Mq: case OT_Mv:
    case OT_Mp: case OT_Ma: case OT_Ms: case OT_Mdq:
    case OT_Sw: case OT_Cd: case OT_Dd: case OT_Td: case OT_STi:
    case OT_Mf32: case OT_Mf64: case OT_Mf80: case OT_Mi16: case OT_Mi32:
    case OT_Mi64: case OT_Mbcd: case OT_Menv: case OT_Mfst: case OT_Mfx:
    case OT_Pq: case OT_Pd: case OT_Qq: case OT_Qd: case OT_Nq:
    case OT_Vx: case OT_Wx: case OT_Wss: case OT_Wsd: case OT_Wq: case OT_Ux:
    case OT_Mx: case OT_Ey: case OT_Gy:
        return true;
    default:
        return false;
    }
}

static bool ot_mem_only(unsigned t)
{
    switch (t) {
    case OT_M: case OT_Mb: case OT_Mw: case OT_Md: case OT_Mq: case OT_Mv:
    case OT_Mp: case OT_Ma: case OT_Ms: case OT_Mdq:
    case OT_Mf32: case OT_Mf64: case OT_Mf80: case OT_Mi16: case OT_Mi32:
    case OT_Mi64: case OT_Mbcd: case OT_Menv: case OT_Mfst: case OT_Mfx: case OT_Mx:
        return true;
    default:
        return false;
    }
}

static bool ot_reg_only(unsigned t)
{
    return t == OT_Rw || t == OT_Rv || t == OT_Nq || t == OT_Ux;
}

static void build_index(void)
{
    memset(first_row, 0xFF, sizeof first_row);
    /* insert in reverse so chains keep table order */
    for (int op = OP_COUNT - 1; op >= 0; op--) {
        const struct opinfo *r = &optab[op];
        bool z = r->ot[0] == OT_Zv || r->ot[0] == OT_Zb;
        int n = z ? 8 - (r->opc & 7) : 1;
        bool m = r->ext != NOX;
        for (int k = 0; k < 3; k++) m |= ot_uses_modrm(r->ot[k]);
        row_modrm[op] = m;
        if (z) {
            /* one slot per register; these opcodes have no other rows */
            next_row[op] = NO_ROW;
            for (int i = 0; i < n; i++) first_row[r->map][r->opc + i] = (uint16_t)op;
        } else {
            next_row[op] = first_row[r->map][r->opc];
            first_row[r->map][r->opc] = (uint16_t)op;
        }
        for (int i = 0; i < n; i++) if (m) opc_modrm[r->map][r->opc + i] = 1;
    }
}

void decode_init(void) { pthread_once(&init_once, build_index); }

/* does row r match the ModRM byte? (ext column and operand constraints) */
static bool row_matches_modrm(const struct opinfo *r, unsigned mod, unsigned reg, unsigned rm)
{
    unsigned e = r->ext;
    if (e != NOX) {
        if (e & 0x100) { if (reg != (e & 7)) return false; }
        else if (e & 0x200) { if (reg != (e & 7) || mod != 3) return false; }
        else if (e & 0x400) { if (reg != (e & 7) || mod == 3) return false; }
        else if (e & 0x800) { if (mod != 3 || reg != ((e >> 3) & 7) || rm != (e & 7)) return false; }
    }
    for (int k = 0; k < 3; k++) {
        if (mod == 3 && ot_mem_only(r->ot[k])) return false;
        if (mod != 3 && ot_reg_only(r->ot[k])) return false;
    }
    return true;
}

/* Pick the row for this opcode; modrm fields valid when has_modrm. */
static int select_row(unsigned map, unsigned opc, unsigned mpfx, bool has_modrm,
                      unsigned mod, unsigned reg, unsigned rm)
{
    int exact = -1, any = -1, plain = -1;
    for (unsigned op = first_row[map][opc]; op != NO_ROW; op = next_row[op]) {
        const struct opinfo *r = &optab[op];
        if (has_modrm && !row_matches_modrm(r, mod, reg, rm)) continue;
        if (r->pfx == mpfx && exact < 0) exact = (int)op;
        else if (r->pfx == PFX_ANY && any < 0) any = (int)op;
        else if (r->pfx == 0 && plain < 0) plain = (int)op;
    }
    /* A prefix-less SSE opcode matches its PFX_ANY row before the MMX one? No:
     * the plain row is exact when mpfx == 0, so MMX wins without a prefix. */
    if (exact >= 0) return exact;
    if (any >= 0) return any;
    return plain;
}

static const uint8_t seg_of_prefix[8] = { SEG_ES, SEG_CS, SEG_SS, SEG_DS };

#define FETCH(var) do { \
        if (pos >= 15) return DECODE_GP; \
        if (pos >= avail) { insn->need = (uint8_t)(pos + 1 - avail); return DECODE_MORE; } \
        (var) = bytes[pos++]; \
    } while (0)

/* Fetch an n-byte little-endian field at *pos, with the same ordering rule
 * as FETCH: input ending before byte 15 gives DECODE_MORE, a byte at index
 * 15 or beyond gives DECODE_GP. */
static inline int fetch_n(const uint8_t *bytes, size_t avail, unsigned *pos, unsigned n,
                          uint32_t *out, struct insn *insn)
{
    unsigned p = *pos, end = p + n;
    if (end > avail && avail < 15) {
        insn->need = (uint8_t)((end < 16 ? end : 16) - avail);
        return DECODE_MORE;
    }
    if (end > 15) return DECODE_GP;
    uint32_t v = 0;
    for (unsigned i = 0; i < n; i++) v |= (uint32_t)bytes[p + i] << (8 * i);
    *pos = end;
    *out = v;
    return DECODE_OK;
}

static inline uint32_t sext(uint32_t v, unsigned bytes)
{
    if (bytes == 1) return (uint32_t)(int32_t)(int8_t)v;
    if (bytes == 2) return (uint32_t)(int32_t)(int16_t)v;
    return v;
}

static uint8_t mem_size(unsigned t, unsigned opsize)
{
    switch (t) {
    case OT_Eb: case OT_Mb: return 1;
    case OT_Ew: case OT_Mw: case OT_Mi16: case OT_Evw: return 2;
    case OT_Ed: case OT_Md: case OT_Mf32: case OT_Mi32: case OT_Qd: case OT_Ey: return 4;
    case OT_Ev: case OT_Mv: return (uint8_t)opsize;
    case OT_Mq: case OT_Mf64: case OT_Mi64: case OT_Qq: case OT_Wq: case OT_Wsd: return 8;
    case OT_Mp: return (uint8_t)(opsize + 2);
    case OT_Ma: return (uint8_t)(2 * opsize);
    case OT_Ms: return 6;
    case OT_Mf80: case OT_Mbcd: return 10;
    case OT_Menv: return opsize == 2 ? 14 : 28;
    case OT_Mfst: return opsize == 2 ? 94 : 108;
    case OT_Mdq: case OT_Mx: case OT_Wx: return 16;
    case OT_Wss: return 4;
    case OT_Mfx: return 0;   /* 512 does not fit a byte: unsized, see optype */
    default: return 0;
    }
}

int decode(struct insn *insn, const uint8_t *bytes, size_t avail, unsigned mode)
{
    decode_init();
    memset(insn, 0, sizeof *insn);
    insn->seg_override = SEG_NONE;
    insn->base = insn->index = REG_NONE;
    unsigned pos = 0, b;
    unsigned last_simd = 0;   /* last of 66/F2/F3 for mandatory-prefix use */

    for (;;) {
        FETCH(b);
        switch (b) {
        case 0xF0: insn->lock = 1; break;
        case 0xF2: case 0xF3: insn->rep = (uint8_t)b; last_simd = b; break;
        case 0x26: case 0x2E: case 0x36: case 0x3E:
            insn->seg_override = seg_of_prefix[(b >> 3) & 3]; break;
        case 0x64: insn->seg_override = SEG_FS; break;
        case 0x65: insn->seg_override = SEG_GS; break;
        case 0x66: insn->pfx66 = 1; if (!last_simd) last_simd = 0x66; break;
        case 0x67: insn->pfx67 = 1; break;
        default: goto opcode;
        }
        insn->npfx++;
    }
opcode:;
    unsigned map = 0;
    if (b == 0x0F) {
        map = 1;
        FETCH(b);
        if (b == 0x38 || b == 0x3A) { map = b == 0x38 ? 2 : 3; FETCH(b); }
    }
    insn->opc = (uint8_t)b;
    unsigned opsize = (mode & DECODE_32) ? 4 : 2;
    unsigned addrsize = opsize;
    if (insn->pfx66) opsize ^= 6;
    if (insn->pfx67) addrsize ^= 6;
    insn->opsize = (uint8_t)opsize;
    insn->addrsize = (uint8_t)addrsize;
    /* mandatory prefix: F2/F3 take precedence over 66 (SDM vol. 2 sec. 2.1.1) */
    unsigned mpfx = insn->rep ? insn->rep : (insn->pfx66 ? 0x66 : 0);
    (void)last_simd;

    if (first_row[map][b] == NO_ROW) return DECODE_UD;

    unsigned mod = 0, reg = 0, rm = 0;
    bool has_modrm = opc_modrm[map][b];
    if (has_modrm) {
        unsigned m;
        FETCH(m);
        insn->has_modrm = 1;
        insn->modrm = (uint8_t)m;
        mod = m >> 6; reg = (m >> 3) & 7; rm = m & 7;
        insn->mod = (uint8_t)mod; insn->regf = (uint8_t)reg; insn->rm = (uint8_t)rm;
    }
    int op = select_row(map, b, mpfx, has_modrm, mod, reg, rm);
    if (op < 0) return DECODE_UD;
    const struct opinfo *r = &optab[op];
    insn->op = (uint16_t)op;

    /* MOV to/from CRn/DRn ignore mod: the r/m field is always a register */
    bool ignore_mod = r->ot[0] == OT_Rd || r->ot[1] == OT_Rd;
    bool has_mem = has_modrm && row_modrm[op] && mod != 3 && !ignore_mod;
    if (has_modrm && !row_modrm[op]) has_mem = false;

    /* effective address */
    if (has_mem) {
        uint32_t d = 0;
        int rc;
        if (addrsize == 2) {
            static const uint8_t b16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
            static const uint8_t i16[8] = { 6, 7, 6, 7, REG_NONE, REG_NONE, REG_NONE, REG_NONE };
            insn->base = b16[rm];
            insn->index = i16[rm];
            insn->seg = (rm == 2 || rm == 3 || rm == 6) ? SEG_SS : SEG_DS;
            if (mod == 0 && rm == 6) { insn->base = REG_NONE; insn->seg = SEG_DS; insn->disp_size = 2; }
            else if (mod == 1) insn->disp_size = 1;
            else if (mod == 2) insn->disp_size = 2;
        } else {
            insn->seg = SEG_DS;
            unsigned base = rm;
            if (rm == 4) {
                unsigned s;
                FETCH(s);
                insn->has_sib = 1; insn->sib = (uint8_t)s;
                insn->scale = (uint8_t)(s >> 6);
                unsigned idx = (s >> 3) & 7;
                insn->index = idx == 4 ? REG_NONE : (uint8_t)idx;
                base = s & 7;
                if (base == 5 && mod == 0) { insn->base = REG_NONE; insn->disp_size = 4; }
                else insn->base = (uint8_t)base;
            } else if (rm == 5 && mod == 0) {
                insn->base = REG_NONE; insn->disp_size = 4;
            } else insn->base = (uint8_t)rm;
            if (mod == 1) insn->disp_size = 1;
            else if (mod == 2) insn->disp_size = 4;
            if (insn->base == R_ESP_ || insn->base == R_EBP_) insn->seg = SEG_SS;
        }
        if (insn->disp_size) {
            rc = fetch_n(bytes, avail, &pos, insn->disp_size, &d, insn);
            if (rc) return rc;
            insn->disp = (int32_t)sext(d, insn->disp_size);
        }
    } else {
        insn->seg = SEG_DS;
    }

    /* immediates and operands */
    insn->nopnd = 0;
    for (int k = 0; k < 3; k++) {
        unsigned t = r->ot[k];
        if (t == OT___) break;
        struct insn_opnd *o = &insn->opnd[insn->nopnd++];
        o->type = (uint8_t)t;
        uint32_t v = 0;
        int rc;
        switch (t) {
        case OT_Eb: case OT_Ew: case OT_Ed: case OT_Ev: case OT_Evw: case OT_Ey:
            if (has_mem) { o->kind = OPND_MEM; o->size = mem_size(t, opsize); }
            else {
                o->kind = OPND_GPR; o->reg = (uint8_t)rm;
                o->size = t == OT_Eb ? 1 : t == OT_Ew ? 2 : (t == OT_Ed || t == OT_Ey) ? 4 : (uint8_t)opsize;
            }
            break;
        case OT_Gb: o->kind = OPND_GPR; o->reg = (uint8_t)reg; o->size = 1; break;
        case OT_Gw: o->kind = OPND_GPR; o->reg = (uint8_t)reg; o->size = 2; break;
        case OT_Gd: case OT_Gy: o->kind = OPND_GPR; o->reg = (uint8_t)reg; o->size = 4; break;
        case OT_Gv: o->kind = OPND_GPR; o->reg = (uint8_t)reg; o->size = (uint8_t)opsize; break;
        case OT_Rd: o->kind = OPND_GPR; o->reg = (uint8_t)rm; o->size = 4; break;
        case OT_Rw: o->kind = OPND_GPR; o->reg = (uint8_t)rm; o->size = 2; break;
        case OT_Rv: o->kind = OPND_GPR; o->reg = (uint8_t)rm; o->size = (uint8_t)opsize; break;
        case OT_M: case OT_Mb: case OT_Mw: case OT_Md: case OT_Mq: case OT_Mv: case OT_Mp:
        case OT_Ma: case OT_Ms: case OT_Mdq: case OT_Mf32: case OT_Mf64: case OT_Mf80:
        case OT_Mi16: case OT_Mi32: case OT_Mi64: case OT_Mbcd: case OT_Menv: case OT_Mfst:
        case OT_Mfx: case OT_Mx:
            o->kind = OPND_MEM; o->size = mem_size(t, opsize); break;
        case OT_Ib:
            rc = fetch_n(bytes, avail, &pos, 1, &v, insn);
            if (rc) return rc;
            o->kind = OPND_IMM; o->size = 1;
            if (insn->imm_size) { insn->imm2 = v; insn->imm2_size = 1; }
            else { insn->imm = v; insn->imm_size = 1; }
            break;
        case OT_Ibs:
            rc = fetch_n(bytes, avail, &pos, 1, &v, insn);
            if (rc) return rc;
            o->kind = OPND_IMM; o->size = (uint8_t)opsize;
            insn->imm = sext(v, 1) & (opsize == 2 ? 0xFFFF : 0xFFFFFFFF); insn->imm_size = 1;
            break;
        case OT_Iw:
            rc = fetch_n(bytes, avail, &pos, 2, &v, insn);
            if (rc) return rc;
            o->kind = OPND_IMM; o->size = 2; insn->imm = v; insn->imm_size = 2;
            break;
        case OT_Iz: case OT_Iv:
            rc = fetch_n(bytes, avail, &pos, opsize, &v, insn);
            if (rc) return rc;
            o->kind = OPND_IMM; o->size = (uint8_t)opsize; insn->imm = v; insn->imm_size = (uint8_t)opsize;
            break;
        case OT_Jb:
            rc = fetch_n(bytes, avail, &pos, 1, &v, insn);
            if (rc) return rc;
            o->kind = OPND_REL; o->size = (uint8_t)opsize; insn->imm = sext(v, 1); insn->imm_size = 1;
            break;
        case OT_Jz:
            rc = fetch_n(bytes, avail, &pos, opsize, &v, insn);
            if (rc) return rc;
            o->kind = OPND_REL; o->size = (uint8_t)opsize; insn->imm = sext(v, opsize); insn->imm_size = (uint8_t)opsize;
            break;
        case OT_Ap:
            rc = fetch_n(bytes, avail, &pos, opsize, &v, insn);
            if (rc) return rc;
            insn->imm = v; insn->imm_size = (uint8_t)opsize;
            rc = fetch_n(bytes, avail, &pos, 2, &v, insn);
            if (rc) return rc;
            insn->imm2 = v; insn->imm2_size = 2;
            o->kind = OPND_FAR; o->size = (uint8_t)(opsize + 2);
            break;
        case OT_Ob: case OT_Ov:
            rc = fetch_n(bytes, avail, &pos, addrsize, &v, insn);
            if (rc) return rc;
            insn->disp = (int32_t)v; insn->disp_size = (uint8_t)addrsize;
            insn->base = insn->index = REG_NONE; insn->seg = SEG_DS;
            o->kind = OPND_MEM; o->size = t == OT_Ob ? 1 : (uint8_t)opsize;
            break;
        case OT_Sw:
            if (reg > 5) return DECODE_UD;
            if (k == 0 && reg == SEG_CS) return DECODE_UD;   /* MOV CS, r/m: #UD */
            o->kind = OPND_SREG; o->reg = (uint8_t)reg; o->size = 2; break;
        case OT_Cd:
            if (reg == 1 || reg > 4) return DECODE_UD;      /* CR1, CR5-7: #UD */
            o->kind = OPND_CR; o->reg = (uint8_t)reg; o->size = 4; break;
        case OT_Dd: o->kind = OPND_DR; o->reg = (uint8_t)reg; o->size = 4; break;
        case OT_Td: o->kind = OPND_TR; o->reg = (uint8_t)reg; o->size = 4; break;
        case OT_AL: case OT_CL: case OT_DL: case OT_BL:
        case OT_AH: case OT_CH: case OT_DH: case OT_BH:
            o->kind = OPND_GPR; o->reg = (uint8_t)(t - OT_AL); o->size = 1; break;
        case OT_AX: o->kind = OPND_GPR; o->reg = 0; o->size = 2; break;
        case OT_rAX: case OT_eAX: o->kind = OPND_GPR; o->reg = 0; o->size = (uint8_t)opsize; break;
        case OT_DX: o->kind = OPND_GPR; o->reg = 2; o->size = 2; break;
        case OT_ONE: o->kind = OPND_IMM; o->size = 1; insn->imm = 1; break;
        case OT_Zb: o->kind = OPND_GPR; o->reg = (uint8_t)(b & 7); o->size = 1; break;
        case OT_Zv: o->kind = OPND_GPR; o->reg = (uint8_t)(b & 7); o->size = (uint8_t)opsize; break;
        case OT_ES: case OT_CS: case OT_SS: case OT_DS: case OT_FS: case OT_GS:
            o->kind = OPND_SREG; o->reg = (uint8_t)(t - OT_ES); o->size = 2; break;
        case OT_Xb: o->kind = OPND_STR_SRC; o->size = 1; break;
        case OT_Xv: o->kind = OPND_STR_SRC; o->size = (uint8_t)opsize; break;
        case OT_Yb: o->kind = OPND_STR_DST; o->size = 1; break;
        case OT_Yv: o->kind = OPND_STR_DST; o->size = (uint8_t)opsize; break;
        case OT_ST0: o->kind = OPND_ST; o->reg = 0; o->size = 10; break;
        case OT_STi: o->kind = OPND_ST; o->reg = (uint8_t)rm; o->size = 10; break;
        case OT_Pq: case OT_Pd: o->kind = OPND_MMX; o->reg = (uint8_t)reg; o->size = t == OT_Pq ? 8 : 4; break;
        case OT_Qq: case OT_Qd:
            if (has_mem) { o->kind = OPND_MEM; o->size = mem_size(t, opsize); }
            else { o->kind = OPND_MMX; o->reg = (uint8_t)rm; o->size = t == OT_Qq ? 8 : 4; }
            break;
        case OT_Nq: o->kind = OPND_MMX; o->reg = (uint8_t)rm; o->size = 8; break;
        case OT_Vx: o->kind = OPND_XMM; o->reg = (uint8_t)reg; o->size = 16; break;
        case OT_Ux: o->kind = OPND_XMM; o->reg = (uint8_t)rm; o->size = 16; break;
        case OT_Wx: case OT_Wss: case OT_Wsd: case OT_Wq:
            if (has_mem) { o->kind = OPND_MEM; o->size = mem_size(t, opsize); }
            else { o->kind = OPND_XMM; o->reg = (uint8_t)rm; o->size = 16; }
            break;
        default:
            return DECODE_UD;
        }
    }
    if (insn->seg_override != SEG_NONE) insn->seg = insn->seg_override;

    /* LOCK: only on lockable forms with a memory destination (SDM vol. 2 LOCK) */
    if (insn->lock && (!(r->attrs & A_LOCK) || !has_mem)) {
        insn->len = (uint8_t)pos;
        return DECODE_UD;
    }
    insn->len = (uint8_t)pos;
    return DECODE_OK;
}

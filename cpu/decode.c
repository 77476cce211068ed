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
 *  - Two paths, one answer: decode_fast() (taken when at least 32 bytes are
 *    readable, or on a zero-padded copy of 15-31 bytes; table lookups and
 *    masked loads, no per-byte bounds checks)
 *    handles the common forms and gives up (-1) on anything unusual;
 *    decode_slow() handles everything. Whenever the fast path returns
 *    DECODE_OK its insn is identical, byte for byte, to the general path's
 *    (tests/unit/test_decode.c test_fast_path_agrees checks this).
 *  - struct insn is fully written on DECODE_OK (fields not used are 0).
 */
#include "cpu/decode.h"
#include <string.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define NMAPS 4
#define NO_ROW 0xFFFF
#define R_ESP_ 4
#define R_EBP_ 5

/* ---- the index built once from the table (decode_init) ----
 *
 * Fast path: every (map, opcode) gets a dispatch entry. Opcodes whose rows
 * all lack a mandatory prefix (the integer, system and x87 space) resolve
 * their row by one table load: for ModRM opcodes a per-opcode table indexed
 * by (mod==3, reg[, rm]) precomputed with the same selection rule as
 * select_row(); for the others the single row. Opcodes with prefix-selected
 * rows (PAUSE, MMX/SSE) walk the row chain (select_row). Each row also gets
 * an operand plan (where each operand comes from, its kind and sizes by
 * operand size), so decoding an operand is one small switch. */

enum how { H_UD, H_ROW, H_GRP, H_SLOW };
struct opc_ent {
    uint8_t  how;        /* enum how                                       */
    uint8_t  modrm;      /* 1 if the opcode has a ModRM byte               */
    uint8_t  rx;         /* H_GRP: the mod=3 part is indexed by reg and rm */
    uint8_t  pad;
    uint16_t row;        /* H_ROW: the row                                 */
    uint16_t grp;        /* H_GRP: offset of the table in grp_pool         */
};

/* where an operand comes from */
enum src { S_BAD, S_FIXED, S_ONE, S_REG, S_RMREG, S_E, S_MEM, S_Z, S_IMM, S_MOFFS, S_SREG, S_CR };
struct oplan {
    uint8_t src;         /* enum src                                       */
    uint8_t kind;        /* opnd_kind of the register/fixed form           */
    uint8_t reg;         /* S_FIXED: the register                          */
    uint8_t type;        /* enum optype                                    */
    uint8_t size[2];     /* register/fixed size for operand size 2, 4      */
    uint8_t msize[2];    /* memory size for operand size 2, 4              */
};
struct rowinfo {
    struct oplan o[3];
    uint8_t nops;        /* operands                                       */
    uint8_t modrm;       /* the row's operands need the ModRM byte         */
    uint8_t memonly;     /* some operand requires mod != 3                 */
    uint8_t regonly;     /* some operand requires mod == 3                 */
    uint8_t ignore_mod;  /* MOV CR/DR: r/m is a register whatever mod says */
    uint8_t lockable;    /* A_LOCK                                         */
};

static struct opc_ent disp_tab[NMAPS][256];
static uint16_t first_row[NMAPS][256];   /* row chain for the slow path */
static uint16_t next_row[OP_COUNT];
static struct rowinfo rows[OP_COUNT];
static uint16_t grp_pool[NMAPS * 256 * 72];
static unsigned grp_used;
static uint8_t pfx_kind[256];            /* 0: not a prefix, else enum below */
enum { P_LOCK = 1, P_REP, P_SEG, P_66, P_67 };
static uint8_t pfx_seg[256];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_done;

/* ---- the fast path's tables (see decode_fast) ----
 * fast_ent, rowfast and ea_ent describe them at build time; fastq, rowq and
 * the packed EA words are what decode_fast() loads. */
struct fast_ent {
    uint16_t grp;        /* offset of the opcode's row table in grp_pool    */
    uint8_t  ok;         /* the opcode may take the fast path              */
    uint8_t  modrm;      /* 1 if the opcode has a ModRM byte               */
    uint8_t  shift;      /* mod=3 index: (modrm & 0x3F) >> shift (3: reg)  */
    uint8_t  imask;      /* 0 for opcodes without ModRM (one row)          */
    uint8_t  uni;        /* all rows share the immediate sizes below,      */
    uint8_t  isz[2];     /* immediate bytes (imm + imm2) by opsize 4       */
    uint8_t  f3slow;     /* an F3 prefix selects another row (90: PAUSE)   */
};
struct rowfast {
    struct insn_opnd t[2][2][3]; /* operand templates [opsize 4][memory form] */
    uint8_t rsrc[2][3];  /* register from: 0 template, 1 reg, 2 rm, 3 opcode */
    uint8_t s1[2], sh1[2], s2[2]; /* immediate bytes / sign-extension shift, by opsize 4 */
    uint32_t and1[2];    /* mask after sign extension (Ibs at 16 bits)     */
    uint8_t imm_or;      /* the implicit 1 of shift-by-one forms           */
    uint8_t slow;        /* row needs the general path (checks, moffs ...) */
    uint32_t tp[2][2][3];  /* templates as kind | size<<8 | reg<<16 | type<<24 */
};
struct ea_ent { uint8_t base, index, seg, dsz, sib, scale; };
/* packed ea_ent, bytes 1-3 as insn bytes 21-23: base << 8 | index << 16 | scale << 24 |
 * seg << 32 | dsz << 40 | sib << 48 */
static uint64_t ea16p[256], ea32p[256], sibp[4][256];
static uint8_t grp_index[2][256];   /* [rx] by ModRM: index into an opcode's row table */
static uint32_t modrm_split[256];   /* mod | reg << 8 | rm << 16: insn bytes 16-18 */
static uint16_t size_pair[2][2];    /* [osz][asz]: opsize | addrsize << 8 */
static struct fast_ent fast_tab[2][256];
/* fast_tab as the fast path loads it, 8 bytes per opcode */
struct fastq {
    uint16_t grp;        /* row table offset; 0xFFFF: general path          */
    uint8_t  hm;         /* 1 if the opcode has a ModRM byte                */
    uint8_t  m_or;       /* 0xC0 without ModRM (read as mod=3: no memory)   */
    uint8_t  rx;         /* index its mod=3 rows by reg and rm              */
    uint8_t  uni;        /* bit 0: the sizes below hold for every row;      */
                         /* bit 1: F3 selects another row (general path)    */
    uint8_t  isz[2];     /* immediate bytes by opsize 4                     */
};
_Static_assert(sizeof(struct fastq) == 8, "struct fastq is 8 bytes");
static struct fastq fast_q[2][256];
/* the per-row facts in the form the fast path uses, per (row, operand size) */
struct rowq {
    uint64_t t01[2];     /* [memory form] operands 0 and 1 (insn bytes 40-47)   */
    uint32_t t2[2];      /* [memory form] operand 2 (bytes 48-51)                */
    uint32_t w24;        /* s1 << 8 | s2 << 16 | nops << 24 (bytes 24-27 but dsz) */
    uint32_t mask1;      /* immediate: bytes kept                                */
    uint32_t and1;       /* immediate: mask after sign extension                 */
    uint32_t mask2;      /* second immediate: bytes kept                         */
    uint8_t  sh1;        /* immediate: sign-extension shift                      */
    uint8_t  s1, s2;     /* immediate sizes                                      */
    uint8_t  imm_or;     /* the implicit 1 of shift-by-one forms                 */
    uint8_t  slow;       /* the row needs the general path                       */
    uint8_t  pad[19];
};
_Static_assert(sizeof(struct rowq) == 64, "struct rowq is one cache line");
static struct rowq row_q[OP_COUNT][2];      /* [row][opsize 4] */
/* register patch of operands 0 and 1: reg * mul[0] + rm * mul[1] + (opcode & 7) * mul[2] */
static uint64_t row_mul[OP_COUNT][2][4];    /* [row][memory form] */
static struct rowfast rowf[OP_COUNT];
static struct ea_ent ea16[256], ea32[256];  /* by ModRM; mod=3: no memory */
static struct ea_ent sib_tab[3][256];       /* by mod (0-2) and SIB byte  */

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

/* the operand plan of one operand type */
static struct oplan plan_of(unsigned t)
{
    struct oplan p = { S_BAD, OPND_NONE, 0, (uint8_t)t, { 0, 0 }, { mem_size(t, 2), mem_size(t, 4) } };
#define SZ(a, b) (p.size[0] = (a), p.size[1] = (b))
    switch (t) {
    case OT_Eb: p.src = S_E; p.kind = OPND_GPR; SZ(1, 1); break;
    case OT_Ew: case OT_Evw: p.src = S_E; p.kind = OPND_GPR; if (t == OT_Ew) SZ(2, 2); else SZ(2, 4); break;
    case OT_Ed: case OT_Ey: p.src = S_E; p.kind = OPND_GPR; SZ(4, 4); break;
    case OT_Ev: p.src = S_E; p.kind = OPND_GPR; SZ(2, 4); break;
    case OT_Gb: p.src = S_REG; p.kind = OPND_GPR; SZ(1, 1); break;
    case OT_Gw: p.src = S_REG; p.kind = OPND_GPR; SZ(2, 2); break;
    case OT_Gd: case OT_Gy: p.src = S_REG; p.kind = OPND_GPR; SZ(4, 4); break;
    case OT_Gv: p.src = S_REG; p.kind = OPND_GPR; SZ(2, 4); break;
    case OT_Rd: p.src = S_RMREG; p.kind = OPND_GPR; SZ(4, 4); break;
    case OT_Rw: p.src = S_RMREG; p.kind = OPND_GPR; SZ(2, 2); break;
    case OT_Rv: p.src = S_RMREG; p.kind = OPND_GPR; SZ(2, 4); break;
    case OT_M: case OT_Mb: case OT_Mw: case OT_Md: case OT_Mq: case OT_Mv: case OT_Mp:
    case OT_Ma: case OT_Ms: case OT_Mdq: case OT_Mf32: case OT_Mf64: case OT_Mf80:
    case OT_Mi16: case OT_Mi32: case OT_Mi64: case OT_Mbcd: case OT_Menv: case OT_Mfst:
    case OT_Mfx: case OT_Mx:
        p.src = S_MEM; p.kind = OPND_MEM; break;
    case OT_Ib: case OT_Ibs: case OT_Iw: case OT_Iz: case OT_Iv: case OT_Jb: case OT_Jz: case OT_Ap:
        p.src = S_IMM; break;
    case OT_Ob: p.src = S_MOFFS; p.kind = OPND_MEM; p.msize[0] = p.msize[1] = 1; break;
    case OT_Ov: p.src = S_MOFFS; p.kind = OPND_MEM; p.msize[0] = 2; p.msize[1] = 4; break;
    case OT_Sw: p.src = S_SREG; p.kind = OPND_SREG; SZ(2, 2); break;
    case OT_Cd: p.src = S_CR; p.kind = OPND_CR; SZ(4, 4); break;
    case OT_Dd: p.src = S_REG; p.kind = OPND_DR; SZ(4, 4); break;
    case OT_Td: p.src = S_REG; p.kind = OPND_TR; SZ(4, 4); break;
    case OT_AL: case OT_CL: case OT_DL: case OT_BL:
    case OT_AH: case OT_CH: case OT_DH: case OT_BH:
        p.src = S_FIXED; p.kind = OPND_GPR; p.reg = (uint8_t)(t - OT_AL); SZ(1, 1); break;
    case OT_AX: p.src = S_FIXED; p.kind = OPND_GPR; p.reg = 0; SZ(2, 2); break;
    case OT_rAX: case OT_eAX: p.src = S_FIXED; p.kind = OPND_GPR; p.reg = 0; SZ(2, 4); break;
    case OT_DX: p.src = S_FIXED; p.kind = OPND_GPR; p.reg = 2; SZ(2, 2); break;
    case OT_ONE: p.src = S_ONE; p.kind = OPND_IMM; SZ(1, 1); break;
    case OT_Zb: p.src = S_Z; p.kind = OPND_GPR; SZ(1, 1); break;
    case OT_Zv: p.src = S_Z; p.kind = OPND_GPR; SZ(2, 4); break;
    case OT_ES: case OT_CS: case OT_SS: case OT_DS: case OT_FS: case OT_GS:
        p.src = S_FIXED; p.kind = OPND_SREG; p.reg = (uint8_t)(t - OT_ES); SZ(2, 2); break;
    case OT_Xb: p.src = S_FIXED; p.kind = OPND_STR_SRC; SZ(1, 1); break;
    case OT_Xv: p.src = S_FIXED; p.kind = OPND_STR_SRC; SZ(2, 4); break;
    case OT_Yb: p.src = S_FIXED; p.kind = OPND_STR_DST; SZ(1, 1); break;
    case OT_Yv: p.src = S_FIXED; p.kind = OPND_STR_DST; SZ(2, 4); break;
    case OT_ST0: p.src = S_FIXED; p.kind = OPND_ST; p.reg = 0; SZ(10, 10); break;
    case OT_STi: p.src = S_RMREG; p.kind = OPND_ST; SZ(10, 10); break;
    case OT_Pq: p.src = S_REG; p.kind = OPND_MMX; SZ(8, 8); break;
    case OT_Pd: p.src = S_REG; p.kind = OPND_MMX; SZ(4, 4); break;
    case OT_Qq: p.src = S_E; p.kind = OPND_MMX; SZ(8, 8); break;
    case OT_Qd: p.src = S_E; p.kind = OPND_MMX; SZ(4, 4); break;
    case OT_Nq: p.src = S_RMREG; p.kind = OPND_MMX; SZ(8, 8); break;
    case OT_Vx: p.src = S_REG; p.kind = OPND_XMM; SZ(16, 16); break;
    case OT_Ux: p.src = S_RMREG; p.kind = OPND_XMM; SZ(16, 16); break;
    case OT_Wx: case OT_Wss: case OT_Wsd: case OT_Wq: p.src = S_E; p.kind = OPND_XMM; SZ(16, 16); break;
    default: break;
    }
#undef SZ
    return p;
}

/* does row r match the ModRM byte? (ext column and operand constraints) */
static bool row_matches_modrm(unsigned op, unsigned mod, unsigned reg, unsigned rm)
{
    unsigned e = optab[op].ext;
    if (e != NOX) {
        if (e & 0x100) { if (reg != (e & 7)) return false; }
        else if (e & 0x200) { if (reg != (e & 7) || mod != 3) return false; }
        else if (e & 0x400) { if (reg != (e & 7) || mod == 3) return false; }
        else if (e & 0x800) { if (mod != 3 || reg != ((e >> 3) & 7) || rm != (e & 7)) return false; }
    }
    if (mod == 3 && rows[op].memonly) return false;
    if (mod != 3 && rows[op].regonly) return false;
    return true;
}

/* Pick the row for this opcode: exact mandatory-prefix match, then a
 * PFX_ANY catch-all, then the prefix-less row. */
static int select_row(unsigned map, unsigned opc, unsigned mpfx, bool has_modrm,
                      unsigned mod, unsigned reg, unsigned rm)
{
    int exact = -1, any = -1, plain = -1;
    for (unsigned op = first_row[map][opc]; op != NO_ROW; op = next_row[op]) {
        const struct opinfo *r = &optab[op];
        if (has_modrm && !row_matches_modrm(op, mod, reg, rm)) continue;
        if (r->pfx == mpfx && exact < 0) exact = (int)op;
        else if (r->pfx == PFX_ANY && any < 0) any = (int)op;
        else if (r->pfx == 0 && plain < 0) plain = (int)op;
    }
    if (exact >= 0) return exact;
    if (any >= 0) return any;
    return plain;
}

static void build_fast(void);

static void build_index(void)
{
    memset(first_row, 0xFF, sizeof first_row);
    for (unsigned op = 0; op < OP_COUNT; op++) {
        const struct opinfo *r = &optab[op];
        struct rowinfo *ri = &rows[op];
        bool m = r->ext != NOX;
        for (int k = 0; k < 3; k++) {
            unsigned t = r->ot[k];
            m |= ot_uses_modrm(t);
            if (ot_mem_only(t)) ri->memonly = 1;
            if (ot_reg_only(t)) ri->regonly = 1;
            if (t != OT___ && ri->nops == k) ri->o[ri->nops++] = plan_of(t);
        }
        ri->modrm = m;
        ri->ignore_mod = r->ot[0] == OT_Rd || r->ot[1] == OT_Rd;
        ri->lockable = (r->attrs & A_LOCK) != 0;
    }
    /* insert in reverse so chains keep table order */
    for (int op = OP_COUNT - 1; op >= 0; op--) {
        const struct opinfo *r = &optab[op];
        bool z = r->ot[0] == OT_Zv || r->ot[0] == OT_Zb;
        int n = z ? 8 - (r->opc & 7) : 1;
        if (z) {
            /* one slot per register; these opcodes have no other rows */
            next_row[op] = NO_ROW;
            for (int i = 0; i < n; i++) first_row[r->map][r->opc + i] = (uint16_t)op;
        } else {
            next_row[op] = first_row[r->map][r->opc];
            first_row[r->map][r->opc] = (uint16_t)op;
        }
        for (int i = 0; i < n; i++) if (rows[op].modrm) disp_tab[r->map][r->opc + i].modrm = 1;
    }
    /* dispatch entries */
    for (unsigned map = 0; map < NMAPS; map++) {
        for (unsigned opc = 0; opc < 256; opc++) {
            struct opc_ent *d = &disp_tab[map][opc];
            unsigned head = first_row[map][opc];
            if (head == NO_ROW) { d->how = H_UD; continue; }
            bool plain = true, rx = false;
            unsigned count = 0;
            for (unsigned op = head; op != NO_ROW; op = next_row[op]) {
                count++;
                if (optab[op].pfx != 0) plain = false;
                if (optab[op].ext != NOX && (optab[op].ext & 0x800)) rx = true;
            }
            if (!plain) { d->how = H_SLOW; continue; }
            if (!d->modrm) {
                /* select_row without ModRM takes the first prefix-less row */
                d->how = H_ROW;
                d->row = (uint16_t)head;
                continue;
            }
            d->how = H_GRP;
            d->rx = rx;
            d->grp = (uint16_t)grp_used;
            unsigned n = rx ? 72 : 16;
            for (unsigned i = 0; i < n; i++) {
                unsigned mod, reg, rm = 0;
                if (i < 8) { mod = 0; reg = i; }
                else if (rx) { mod = 3; reg = (i - 8) >> 3; rm = (i - 8) & 7; }
                else { mod = 3; reg = i - 8; }
                int sel = select_row(map, opc, 0, true, mod, reg, rm);
                grp_pool[grp_used + i] = sel < 0 ? NO_ROW : (uint16_t)sel;
            }
            grp_used += n;
        }
    }
    pfx_kind[0xF0] = P_LOCK;
    pfx_kind[0xF2] = pfx_kind[0xF3] = P_REP;
    pfx_kind[0x26] = pfx_kind[0x2E] = pfx_kind[0x36] = pfx_kind[0x3E] = P_SEG;
    pfx_kind[0x64] = pfx_kind[0x65] = P_SEG;
    pfx_seg[0x26] = SEG_ES; pfx_seg[0x2E] = SEG_CS; pfx_seg[0x36] = SEG_SS; pfx_seg[0x3E] = SEG_DS;
    pfx_seg[0x64] = SEG_FS; pfx_seg[0x65] = SEG_GS;
    pfx_kind[0x66] = P_66;
    pfx_kind[0x67] = P_67;
    build_fast();
    __atomic_store_n(&init_done, 1, __ATOMIC_RELEASE);
}

void decode_init(void) { pthread_once(&init_once, build_index); }

/* Precompute the fast path: per-opcode row tables (from the H_ROW/H_GRP
 * dispatch), per-row operand templates and immediate layout, and the
 * effective-address tables of SDM vol. 2 tables 2-1..2-3. */
static void build_fast(void)
{
    for (unsigned map = 0; map < 2; map++) {
        for (unsigned opc = 0; opc < 256; opc++) {
            const struct opc_ent *d = &disp_tab[map][opc];
            struct fast_ent *f = &fast_tab[map][opc];
            f->modrm = d->modrm;
            if (d->how == H_GRP) {
                f->ok = 1; f->grp = d->grp; f->shift = d->rx ? 0 : 3; f->imask = 0xFF;
            } else if (d->how == H_SLOW && !d->modrm) {
                /* prefix-selected rows without ModRM: fast for the prefix-less
                 * row when the only other rows need F3 (90: NOP / F3 90: PAUSE) */
                unsigned plain = NO_ROW, other = 0;
                for (unsigned op = first_row[map][opc]; op != NO_ROW; op = next_row[op]) {
                    if (optab[op].pfx == 0 && plain == NO_ROW) plain = op;
                    else if (optab[op].pfx != 0xF3) other = 1;
                }
                if (plain != NO_ROW && !other) {
                    f->ok = 1; f->grp = (uint16_t)grp_used; f->imask = 0; f->shift = 3; f->f3slow = 1;
                    for (unsigned i = 0; i < 16; i++) grp_pool[grp_used++] = (uint16_t)plain;
                }
            } else if (d->how == H_ROW) {
                /* 16 copies: the fast path indexes it like a group (mod=3) */
                f->ok = 1; f->grp = (uint16_t)grp_used; f->imask = 0; f->shift = 3;
                for (unsigned i = 0; i < 16; i++) grp_pool[grp_used++] = d->row;
            }
        }
    }
    for (unsigned op = 0; op < OP_COUNT; op++) {
        const struct rowinfo *ri = &rows[op];
        struct rowfast *rf = &rowf[op];
        const bool opc_modrm = optab[op].map < 2 && disp_tab[optab[op].map][optab[op].opc].modrm;
        if (optab[op].map >= 2 || ri->ignore_mod || ri->modrm != opc_modrm) rf->slow = 1;
        for (unsigned osz = 0; osz < 2; osz++) {
            unsigned opsize = osz ? 4 : 2;
            for (unsigned hm = 0; hm < 2; hm++) {
                for (unsigned k = 0; k < ri->nops; k++) {
                    const struct oplan *p = &ri->o[k];
                    struct insn_opnd *o = &rf->t[osz][hm][k];
                    uint8_t *src = &rf->rsrc[hm][k];
                    o->type = p->type;
                    switch (p->src) {
                    case S_E:
                        if (hm) { o->kind = OPND_MEM; o->size = p->msize[osz]; }
                        else { o->kind = p->kind; o->size = p->size[osz]; *src = 2; }
                        break;
                    case S_REG: o->kind = p->kind; o->size = p->size[osz]; *src = 1; break;
                    case S_RMREG: o->kind = p->kind; o->size = p->size[osz]; *src = 2; break;
                    case S_MEM: o->kind = OPND_MEM; o->size = p->msize[osz]; break;
                    case S_FIXED: o->kind = p->kind; o->reg = p->reg; o->size = p->size[osz]; break;
                    case S_Z: o->kind = OPND_GPR; o->size = p->size[osz]; *src = 3; break;
                    case S_ONE: o->kind = OPND_IMM; o->size = 1; rf->imm_or = 1; break;
                    case S_IMM:
                        switch (p->type) {
                        case OT_Ib: o->kind = OPND_IMM; o->size = 1; break;
                        case OT_Ibs: o->kind = OPND_IMM; o->size = (uint8_t)opsize; break;
                        case OT_Iw: o->kind = OPND_IMM; o->size = 2; break;
                        case OT_Iz: case OT_Iv: o->kind = OPND_IMM; o->size = (uint8_t)opsize; break;
                        case OT_Jb: case OT_Jz: o->kind = OPND_REL; o->size = (uint8_t)opsize; break;
                        default: o->kind = OPND_FAR; o->size = (uint8_t)(opsize + 2); break;
                        }
                        break;
                    default: rf->slow = 1; break;   /* S_MOFFS, S_SREG, S_CR, S_BAD */
                    }
                }
            }
            for (unsigned hm = 0; hm < 2; hm++)
                for (unsigned k = 0; k < 3; k++) {
                    const struct insn_opnd *o = &rf->t[osz][hm][k];
                    rf->tp[osz][hm][k] = (uint32_t)o->kind | (uint32_t)o->size << 8 | (uint32_t)o->reg << 16 |
                                         (uint32_t)o->type << 24;
                }
            /* immediates in operand order: the first goes to imm, a second to imm2 */
            unsigned n = 0;
            rf->and1[osz] = 0xFFFFFFFFu;
            for (unsigned k = 0; k < ri->nops; k++) {
                if (ri->o[k].src != S_IMM) continue;
                unsigned t = ri->o[k].type, sz = 0, sh = 0, sz2 = 0;
                switch (t) {
                case OT_Ib: sz = 1; break;
                case OT_Ibs: sz = 1; sh = 24; if (opsize == 2) rf->and1[osz] = 0xFFFF; break;
                case OT_Iw: sz = 2; break;
                case OT_Iz: case OT_Iv: sz = opsize; break;
                case OT_Jb: sz = 1; sh = 24; break;
                case OT_Jz: sz = opsize; sh = opsize == 2 ? 16 : 0; break;
                default: sz = opsize; sz2 = 2; break;   /* Ap: offset, selector */
                }
                if (n == 0) { rf->s1[osz] = (uint8_t)sz; rf->sh1[osz] = (uint8_t)sh; rf->s2[osz] = (uint8_t)sz2; }
                else if (n == 1 && t == OT_Ib && !sz2) rf->s2[osz] = 1;      /* ENTER Iw, Ib */
                else rf->slow = 1;
                n++;
            }
        }
        for (unsigned osz = 0; osz < 2; osz++) {
            struct rowq *q = &row_q[op][osz];
            for (unsigned hm = 0; hm < 2; hm++) {
                q->t01[hm] = (uint64_t)rf->tp[osz][hm][0] | (uint64_t)rf->tp[osz][hm][1] << 32;
                q->t2[hm] = rf->tp[osz][hm][2];
            }
            q->s1 = rf->s1[osz];
            q->s2 = rf->s2[osz];
            q->sh1 = rf->sh1[osz];
            q->w24 = (uint32_t)q->s1 << 8 | (uint32_t)q->s2 << 16 | (uint32_t)ri->nops << 24;
            static const uint32_t lm[5] = { 0, 0xFF, 0xFFFF, 0, 0xFFFFFFFFu };
            q->mask1 = lm[q->s1 <= 4 ? q->s1 : 0];
            q->mask2 = lm[q->s2 <= 4 ? q->s2 : 0];
            q->and1 = rf->and1[osz];
            q->imm_or = rf->imm_or;
            q->slow = rf->slow;
            /* operand 2 never takes a register from ModRM or the opcode */
            if (rf->rsrc[0][2] || rf->rsrc[1][2]) q->slow = 1;
        }
        for (unsigned hm = 0; hm < 2; hm++)
            for (unsigned k = 0; k < 2; k++) {
                unsigned src = rf->rsrc[hm][k];
                if (src) row_mul[op][hm][src - 1] |= (uint64_t)1 << (16 + 32 * k);
            }
    }
    /* immediate sizes shared by all of an opcode's fast rows (all but F6/F7) */
    for (unsigned map = 0; map < 2; map++) {
        for (unsigned opc = 0; opc < 256; opc++) {
            struct fast_ent *f = &fast_tab[map][opc];
            if (!f->ok) continue;
            unsigned n = f->shift ? 16 : 72;
            int sz[2] = { -1, -1 };
            bool uni = true;
            for (unsigned i = 0; i < n; i++) {
                unsigned op = grp_pool[f->grp + i];
                if (op == NO_ROW || rowf[op].slow) continue;
                for (unsigned osz = 0; osz < 2; osz++) {
                    int t = rowf[op].s1[osz] + rowf[op].s2[osz];
                    if (sz[osz] < 0) sz[osz] = t;
                    else if (sz[osz] != t) uni = false;
                }
            }
            f->uni = uni;
            f->isz[0] = (uint8_t)(sz[0] < 0 ? 0 : sz[0]);
            f->isz[1] = (uint8_t)(sz[1] < 0 ? 0 : sz[1]);
        }
    }
    for (unsigned map = 0; map < 2; map++) {
        for (unsigned opc = 0; opc < 256; opc++) {
            const struct fast_ent *f = &fast_tab[map][opc];
            struct fastq *q = &fast_q[map][opc];
            q->grp = f->ok ? f->grp : 0xFFFF;
            q->hm = f->modrm;
            q->m_or = f->modrm ? 0 : 0xC0;
            q->rx = f->shift == 0;
            q->uni = (uint8_t)(f->uni | f->f3slow << 1);
            q->isz[0] = f->isz[0];
            q->isz[1] = f->isz[1];
        }
    }
    /* effective addresses. mod=3 (and no ModRM): no memory operand. */
    static const uint8_t b16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
    static const uint8_t i16[8] = { 6, 7, 6, 7, REG_NONE, REG_NONE, REG_NONE, REG_NONE };
    for (unsigned m = 0; m < 256; m++) {
        unsigned mod = m >> 6, rm = m & 7;
        struct ea_ent *e = &ea16[m], *f = &ea32[m];
        if (mod == 3) {
            *e = (struct ea_ent){ REG_NONE, REG_NONE, SEG_DS, 0, 0, 0 };
            *f = *e;
            continue;
        }
        e->base = b16[rm]; e->index = i16[rm];
        e->seg = (rm == 2 || rm == 3 || rm == 6) ? SEG_SS : SEG_DS;
        e->dsz = mod == 1 ? 1 : mod == 2 ? 2 : 0;
        if (mod == 0 && rm == 6) { e->base = REG_NONE; e->seg = SEG_DS; e->dsz = 2; }
        f->index = REG_NONE;
        f->base = (uint8_t)rm;
        f->seg = (rm == R_ESP_ || rm == R_EBP_) ? SEG_SS : SEG_DS;
        f->dsz = mod == 1 ? 1 : mod == 2 ? 4 : 0;
        if (mod == 0 && rm == 5) { f->base = REG_NONE; f->seg = SEG_DS; f->dsz = 4; }
        f->sib = rm == 4;
    }
    for (unsigned mod = 0; mod < 3; mod++) {
        for (unsigned sb = 0; sb < 256; sb++) {
            struct ea_ent *e = &sib_tab[mod][sb];
            unsigned base = sb & 7, idx = (sb >> 3) & 7;
            e->scale = (uint8_t)(sb >> 6);
            e->index = idx == 4 ? REG_NONE : (uint8_t)idx;
            e->sib = 1;
            e->dsz = mod == 1 ? 1 : mod == 2 ? 4 : 0;
            if (base == 5 && mod == 0) { e->base = REG_NONE; e->dsz = 4; e->seg = SEG_DS; }
            else { e->base = (uint8_t)base; e->seg = (base == R_ESP_ || base == R_EBP_) ? SEG_SS : SEG_DS; }
        }
    }
#define PACK_EA(e) ((uint64_t)(e).base << 8 | (uint64_t)(e).index << 16 | (uint64_t)(e).scale << 24 | \
                    (uint64_t)(e).seg << 32 | (uint64_t)(e).dsz << 40 | (uint64_t)(e).sib << 48)
    for (unsigned m = 0; m < 256; m++) {
        ea16p[m] = PACK_EA(ea16[m]);
        ea32p[m] = PACK_EA(ea32[m]);
        for (unsigned mod = 0; mod < 3; mod++) sibp[mod][m] = PACK_EA(sib_tab[mod][m]);
        sibp[3][m] = ea32p[0xC0];   /* never used: mod=3 has no SIB */
    }
#undef PACK_EA
    for (unsigned m = 0; m < 256; m++) {
        unsigned mod = m >> 6, reg = (m >> 3) & 7;
        grp_index[0][m] = (uint8_t)(mod == 3 ? 8 + reg : reg);
        grp_index[1][m] = (uint8_t)(mod == 3 ? 8 + (m & 0x3F) : reg);
        modrm_split[m] = mod | reg << 8 | (m & 7) << 16;
    }
    for (unsigned o = 0; o < 2; o++)
        for (unsigned a = 0; a < 2; a++) size_pair[o][a] = (uint16_t)((2 + 2 * o) | (2 + 2 * a) << 8);
}

/* Input ran out, or the instruction reached byte 15, while fetching n bytes
 * at pos: DECODE_MORE while fewer than 15 bytes were available (the caller
 * can fetch more), else #GP(0) (SDM vol. 2 sec. 2.3.11). */
static int __attribute__((noinline)) fetch_fail(struct insn *insn, unsigned pos, unsigned n, size_t avail)
{
    unsigned end = pos + n;
    if (end > avail && avail < 15) {
        insn->need = (uint8_t)((end < 16 ? end : 16) - avail);
        return DECODE_MORE;
    }
    return DECODE_GP;
}

/* all fetches stay below lim = min(avail, 15) */
#define NEED(n) do { if (__builtin_expect(pos + (n) > lim, 0)) return fetch_fail(insn, pos, (n), avail); } while (0)

static inline uint32_t rd16(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static inline uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int __attribute__((noinline, cold)) decode_slow(struct insn *insn, const uint8_t *bytes, size_t avail, unsigned mode)
{
    memset(insn, 0, sizeof *insn);
    insn->seg_override = SEG_NONE;
    insn->base = insn->index = REG_NONE;
    const unsigned lim = avail < 15 ? (unsigned)avail : 15;
    unsigned pos = 0, b;

    /* prefixes: any number, any order; the last segment and F2/F3 win */
    for (;;) {
        NEED(1);
        b = bytes[pos];
        unsigned k = pfx_kind[b];
        if (__builtin_expect(k == 0, 1)) break;
        pos++;
        insn->npfx++;
        switch (k) {
        case P_LOCK: insn->lock = 1; break;
        case P_REP: insn->rep = (uint8_t)b; break;
        case P_SEG: insn->seg_override = pfx_seg[b]; break;
        case P_66: insn->pfx66 = 1; break;
        default: insn->pfx67 = 1; break;
        }
    }
    pos++;
    unsigned map = 0;
    if (b == 0x0F) {
        map = 1;
        NEED(1);
        b = bytes[pos++];
        if (b == 0x38 || b == 0x3A) { map = b == 0x38 ? 2 : 3; NEED(1); b = bytes[pos++]; }
    }
    insn->opc = (uint8_t)b;
    unsigned opsize = (mode & DECODE_32) ? 4 : 2;
    unsigned addrsize = opsize;
    if (insn->pfx66) opsize ^= 6;
    if (insn->pfx67) addrsize ^= 6;
    insn->opsize = (uint8_t)opsize;
    insn->addrsize = (uint8_t)addrsize;

    const struct opc_ent *d = &disp_tab[map][b];
    unsigned mod = 0, reg = 0, rm = 0;
    int op;
    if (d->how == H_UD) return DECODE_UD;
    if (d->modrm) {
        NEED(1);
        unsigned m = bytes[pos++];
        insn->has_modrm = 1;
        insn->modrm = (uint8_t)m;
        mod = m >> 6; reg = (m >> 3) & 7; rm = m & 7;
        insn->mod = (uint8_t)mod; insn->regf = (uint8_t)reg; insn->rm = (uint8_t)rm;
    }
    if (__builtin_expect(d->how == H_GRP, 1)) {
        unsigned i = mod != 3 ? reg : d->rx ? 8 + (reg << 3) + rm : 8 + reg;
        op = grp_pool[d->grp + i];
        if (op == NO_ROW) return DECODE_UD;
    } else if (d->how == H_ROW) {
        op = d->row;
    } else {
        /* mandatory prefix: F2/F3 take precedence over 66 (SDM vol. 2 sec. 2.1.1) */
        unsigned mpfx = insn->rep ? insn->rep : (insn->pfx66 ? 0x66 : 0);
        op = select_row(map, b, mpfx, d->modrm, mod, reg, rm);
        if (op < 0) return DECODE_UD;
    }
    const struct rowinfo *ri = &rows[op];
    insn->op = (uint16_t)op;

    /* MOV to/from CRn/DRn ignore mod: the r/m field is always a register */
    bool has_mem = d->modrm && ri->modrm && mod != 3 && !ri->ignore_mod;

    /* effective address (SDM vol. 2 tables 2-1, 2-2, 2-3) */
    if (has_mem) {
        if (addrsize == 2) {
            static const uint8_t b16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 };
            static const uint8_t i16[8] = { 6, 7, 6, 7, REG_NONE, REG_NONE, REG_NONE, REG_NONE };
            insn->base = b16[rm];
            insn->index = i16[rm];
            insn->seg = (rm == 2 || rm == 3 || rm == 6) ? SEG_SS : SEG_DS;
            if (mod == 0) {
                if (rm == 6) {
                    insn->base = REG_NONE; insn->seg = SEG_DS; insn->disp_size = 2;
                    NEED(2);
                    insn->disp = (int16_t)rd16(bytes + pos); pos += 2;
                }
            } else if (mod == 1) {
                insn->disp_size = 1;
                NEED(1);
                insn->disp = (int8_t)bytes[pos]; pos++;
            } else {
                insn->disp_size = 2;
                NEED(2);
                insn->disp = (int16_t)rd16(bytes + pos); pos += 2;
            }
        } else {
            unsigned base = rm;
            if (rm == 4) {
                NEED(1);
                unsigned s = bytes[pos++];
                insn->has_sib = 1; insn->sib = (uint8_t)s;
                insn->scale = (uint8_t)(s >> 6);
                unsigned idx = (s >> 3) & 7;
                insn->index = idx == 4 ? REG_NONE : (uint8_t)idx;
                base = s & 7;
            }
            if (base == 5 && mod == 0) {
                insn->base = REG_NONE; insn->disp_size = 4; insn->seg = SEG_DS;
            } else {
                insn->base = (uint8_t)base;
                insn->seg = (base == R_ESP_ || base == R_EBP_) ? SEG_SS : SEG_DS;
            }
            if (mod == 1) insn->disp_size = 1;
            else if (mod == 2) insn->disp_size = 4;
            if (insn->disp_size == 1) {
                NEED(1);
                insn->disp = (int8_t)bytes[pos]; pos++;
            } else if (insn->disp_size == 4) {
                NEED(4);
                insn->disp = (int32_t)rd32(bytes + pos); pos += 4;
            }
        }
    } else {
        insn->seg = SEG_DS;
    }

    /* operands, in table order; immediates follow the displacement */
    const unsigned osz = opsize == 4;
    const unsigned nops = ri->nops;
    insn->nopnd = (uint8_t)nops;
    for (unsigned k = 0; k < nops; k++) {
        const struct oplan *p = &ri->o[k];
        struct insn_opnd *o = &insn->opnd[k];
        o->type = p->type;
        uint32_t v;
        switch (p->src) {
        case S_E:
            if (has_mem) { o->kind = OPND_MEM; o->size = p->msize[osz]; }
            else { o->kind = p->kind; o->reg = (uint8_t)rm; o->size = p->size[osz]; }
            break;
        case S_REG: o->kind = p->kind; o->reg = (uint8_t)reg; o->size = p->size[osz]; break;
        case S_RMREG: o->kind = p->kind; o->reg = (uint8_t)rm; o->size = p->size[osz]; break;
        case S_MEM: o->kind = OPND_MEM; o->size = p->msize[osz]; break;
        case S_FIXED: o->kind = p->kind; o->reg = p->reg; o->size = p->size[osz]; break;
        case S_Z: o->kind = OPND_GPR; o->reg = (uint8_t)(b & 7); o->size = p->size[osz]; break;
        case S_ONE: o->kind = OPND_IMM; o->size = 1; insn->imm = 1; break;
        case S_SREG:
            if (reg > 5) return DECODE_UD;
            if (k == 0 && reg == SEG_CS) return DECODE_UD;   /* MOV CS, r/m: #UD */
            o->kind = OPND_SREG; o->reg = (uint8_t)reg; o->size = 2; break;
        case S_CR:
            if (reg == 1 || reg > 4) return DECODE_UD;      /* CR1, CR5-7: #UD */
            o->kind = OPND_CR; o->reg = (uint8_t)reg; o->size = 4; break;
        case S_MOFFS:
            NEED(addrsize);
            insn->disp = (int32_t)(addrsize == 4 ? rd32(bytes + pos) : rd16(bytes + pos));
            pos += addrsize;
            insn->disp_size = (uint8_t)addrsize;
            insn->base = insn->index = REG_NONE; insn->seg = SEG_DS;
            o->kind = OPND_MEM; o->size = p->msize[osz];
            break;
        case S_IMM:
            switch (p->type) {
            case OT_Ib:
                NEED(1);
                v = bytes[pos++];
                o->kind = OPND_IMM; o->size = 1;
                if (insn->imm_size) { insn->imm2 = v; insn->imm2_size = 1; }
                else { insn->imm = v; insn->imm_size = 1; }
                break;
            case OT_Ibs:
                NEED(1);
                v = (uint32_t)(int32_t)(int8_t)bytes[pos++];
                o->kind = OPND_IMM; o->size = (uint8_t)opsize;
                insn->imm = opsize == 2 ? (v & 0xFFFF) : v; insn->imm_size = 1;
                break;
            case OT_Iw:
                NEED(2);
                v = rd16(bytes + pos); pos += 2;
                o->kind = OPND_IMM; o->size = 2; insn->imm = v; insn->imm_size = 2;
                break;
            case OT_Iz: case OT_Iv:
                NEED(opsize);
                v = opsize == 4 ? rd32(bytes + pos) : rd16(bytes + pos); pos += opsize;
                o->kind = OPND_IMM; o->size = (uint8_t)opsize; insn->imm = v; insn->imm_size = (uint8_t)opsize;
                break;
            case OT_Jb:
                NEED(1);
                v = (uint32_t)(int32_t)(int8_t)bytes[pos++];
                o->kind = OPND_REL; o->size = (uint8_t)opsize; insn->imm = v; insn->imm_size = 1;
                break;
            case OT_Jz:
                NEED(opsize);
                v = opsize == 4 ? rd32(bytes + pos) : (uint32_t)(int32_t)(int16_t)rd16(bytes + pos);
                pos += opsize;
                o->kind = OPND_REL; o->size = (uint8_t)opsize; insn->imm = v; insn->imm_size = (uint8_t)opsize;
                break;
            default: /* OT_Ap: offset (operand size), then the 16-bit selector */
                NEED(opsize);
                insn->imm = opsize == 4 ? rd32(bytes + pos) : rd16(bytes + pos);
                pos += opsize;
                insn->imm_size = (uint8_t)opsize;
                NEED(2);
                insn->imm2 = rd16(bytes + pos); pos += 2;
                insn->imm2_size = 2;
                o->kind = OPND_FAR; o->size = (uint8_t)(opsize + 2);
                break;
            }
            break;
        default:
            return DECODE_UD;
        }
    }
    if (insn->seg_override != SEG_NONE) insn->seg = insn->seg_override;

    insn->len = (uint8_t)pos;
    /* LOCK: only on lockable forms with a memory destination (SDM vol. 2 LOCK) */
    if (__builtin_expect(insn->lock, 0) && (!ri->lockable || !has_mem)) return DECODE_UD;
    return DECODE_OK;
}

static const uint32_t len_mask[5] = { 0, 0xFF, 0xFFFF, 0, 0xFFFFFFFFu };
static const uint8_t sext_shift[5] = { 0, 24, 16, 0, 0 };

/* The fast path: at least 32 readable bytes, so every field is fetched
 * without bounds checks and the 15-byte limit is checked once at the end.
 * Branch-light: the row comes from one table load, the effective address
 * from the ModRM/SIB tables, immediates and displacement are masked loads.
 * Anything unusual (LOCK, #UD, #GP, MOV Sreg/CR/moffs rows, prefix-selected
 * rows, 0F 38/3A) returns -1 and the general path decodes it; when this path
 * returns DECODE_OK, the general path would give the same insn (checked by
 * tests that compare both). */
static inline void put32(struct insn *restrict insn, unsigned off, uint32_t v) { memcpy((char *)insn + off, &v, 4); }

/* The fast path's body from the opcode on: `pos` is the opcode's index
 * (= number of prefixes), b its byte, pf/sego the prefixes. Always inlined,
 * so the common no-prefix call sites get pf = 0 and the mode as constants. */
static inline __attribute__((always_inline)) int
fast_body(struct insn *restrict insn, const uint8_t *restrict p, unsigned pos, unsigned b,
          const uint32_t pf, const unsigned sego, const unsigned m32)
{
    /* Each word of the insn is stored as soon as its parts are known (fewer
     * live values); a late bail-out (-1) leaves a partly written insn that
     * the general path then overwrites whole. */
    put32(insn, 8, pf);                                               /* rep, lock, 66, 67 */
    const unsigned npfx = pos;
    pos++;
    unsigned map = 0;
    if (b == 0x0F) {
        b = p[pos++];
        map = 1;
    }
    const struct fastq *fq = &fast_q[map][b];
    const unsigned grp = fq->grp;
    if (grp == 0xFFFF) return -1;
    if ((fq->uni & 2) && (pf & 0xFF) == 0xF3) return -1;   /* PAUSE */
    const unsigned hm = fq->hm;
    /* no ModRM: read as mod=3 (no memory); the opcode's table has 16 copies */
    const unsigned m = p[pos] | fq->m_or;
    pos += hm;
    const unsigned mm = m & (0u - hm);
    put32(insn, 12, npfx | b << 8 | hm << 16 | mm << 24);             /* npfx, opc, ModRM */
    const unsigned op = grp_pool[grp + grp_index[fq->rx][m]];
    if (op == NO_ROW) return -1;

    const unsigned osz = m32 ^ ((pf >> 16) & 1);   /* 1: 32-bit operands */
    const unsigned asz = m32 ^ (pf >> 24);         /* 1: 32-bit addresses */
    const struct rowq *q = &row_q[op][osz];
    if (q->slow) return -1;                  /* row needs the general path */

    /* effective address: ModRM table, then the SIB table when rm=4 (32-bit) */
    uint64_t e;
    const unsigned sb = p[pos];
    if (asz) {
        e = ea32p[m];
        const uint64_t es = sibp[m >> 6][sb];
        e = (e >> 48) ? es : e;
    } else {
        e = ea16p[m];
    }
    const unsigned has_sib = (unsigned)(e >> 48);
    pos += has_sib;
    const unsigned seg = sego != SEG_NONE ? sego : (unsigned)(e >> 32) & 0xFF;
    put32(insn, 4, size_pair[osz][asz] | sego << 16 | seg << 24);     /* sizes, segments */
    put32(insn, 16, modrm_split[mm] | has_sib << 24);                 /* mod, regf, rm, has_sib */
    put32(insn, 20, ((uint32_t)e & 0xFFFFFF00u) | (sb & (0u - has_sib))); /* sib, base, index, scale */
    const unsigned dsz = (unsigned)(e >> 40) & 0xFF;
    put32(insn, 24, dsz | q->w24);                                    /* sizes, nopnd */
    const unsigned dsh = sext_shift[dsz];
    put32(insn, 28, (uint32_t)((int32_t)((rd32(p + pos) & len_mask[dsz]) << dsh) >> dsh));
    pos += dsz;
    const unsigned s1 = q->s1, sh1 = q->sh1;
    put32(insn, 32, ((uint32_t)((int32_t)((rd32(p + pos) & q->mask1) << sh1) >> sh1) & q->and1) | q->imm_or);
    put32(insn, 36, rd32(p + pos + s1) & q->mask2);
    /* the length from the opcode's entry where it can: no wait for the row */
    if (__builtin_expect(fq->uni & 1, 1)) pos += fq->isz[osz];
    else pos += s1 + q->s2;
    if (pos > 15) return -1;
    put32(insn, 0, op | pos << 16);                                   /* op, len, need */

    /* operands: templates plus the registers of ModRM / the opcode */
    const unsigned has_mem = m < 0xC0;
    const uint64_t *mul = row_mul[op][has_mem];
    const uint64_t o01 = q->t01[has_mem] + ((m >> 3) & 7) * mul[0] + (m & 7) * mul[1] + (b & 7) * mul[2];
    memcpy((char *)insn + 40, &o01, 8);
    put32(insn, 48, q->t2[has_mem]);
    return DECODE_OK;
}

static inline int decode_fast(struct insn *restrict insn, const uint8_t *restrict p, unsigned mode)
{
    unsigned b = p[0];
    if (__builtin_expect(pfx_kind[b] == 0, 1)) {
        if (mode & DECODE_32) return fast_body(insn, p, 0, b, 0, SEG_NONE, 1);
        return fast_body(insn, p, 0, b, 0, SEG_NONE, 0);
    }
    unsigned pos = 0, k;
    uint32_t pf = 0;           /* insn bytes 8-11: rep, lock, pfx66, pfx67 */
    unsigned sego = SEG_NONE;
    while ((k = pfx_kind[b]) != 0) {
        if (pos >= 14) return -1;
        switch (k) {
        case P_LOCK: return -1;   /* LOCK: the general path checks it */
        case P_REP: pf = (pf & ~0xFFu) | b; break;
        case P_SEG: sego = pfx_seg[b]; break;
        case P_66: pf |= 1u << 16; break;
        default: pf |= 1u << 24; break;
        }
        b = p[++pos];
    }
    return fast_body(insn, p, pos, b, pf, sego, mode & DECODE_32);
}

/* the layout of the words the fast path stores (little-endian host) */
#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "decode_fast stores little-endian words"
#endif
_Static_assert(offsetof(struct insn, op) == 0 && offsetof(struct insn, len) == 2 && offsetof(struct insn, need) == 3 &&
               offsetof(struct insn, opsize) == 4 && offsetof(struct insn, addrsize) == 5 &&
               offsetof(struct insn, seg_override) == 6 && offsetof(struct insn, seg) == 7, "insn bytes 0-7");
_Static_assert(offsetof(struct insn, rep) == 8 && offsetof(struct insn, lock) == 9 && offsetof(struct insn, pfx66) == 10 &&
               offsetof(struct insn, pfx67) == 11 && offsetof(struct insn, npfx) == 12 && offsetof(struct insn, opc) == 13 &&
               offsetof(struct insn, has_modrm) == 14 && offsetof(struct insn, modrm) == 15, "insn bytes 8-15");
_Static_assert(offsetof(struct insn, mod) == 16 && offsetof(struct insn, regf) == 17 && offsetof(struct insn, rm) == 18 &&
               offsetof(struct insn, has_sib) == 19 && offsetof(struct insn, sib) == 20 && offsetof(struct insn, base) == 21 &&
               offsetof(struct insn, index) == 22 && offsetof(struct insn, scale) == 23, "insn bytes 16-23");
_Static_assert(offsetof(struct insn, disp_size) == 24 && offsetof(struct insn, imm_size) == 25 &&
               offsetof(struct insn, imm2_size) == 26 && offsetof(struct insn, nopnd) == 27 &&
               offsetof(struct insn, disp) == 28 && offsetof(struct insn, imm) == 32 && offsetof(struct insn, imm2) == 36 &&
               offsetof(struct insn, opnd) == 40 && sizeof(struct insn) == 52, "insn bytes 24-51");
_Static_assert(sizeof(struct insn_opnd) == 4 && offsetof(struct insn_opnd, kind) == 0 &&
               offsetof(struct insn_opnd, size) == 1 && offsetof(struct insn_opnd, reg) == 2 &&
               offsetof(struct insn_opnd, type) == 3, "struct insn_opnd layout");

int decode(struct insn *insn, const uint8_t *bytes, size_t avail, unsigned mode)
{
    if (__builtin_expect(!__atomic_load_n(&init_done, __ATOMIC_ACQUIRE), 0)) decode_init();
    if (__builtin_expect(avail >= 32, 1)) {
        int rc = decode_fast(insn, bytes, mode);
        if (__builtin_expect(rc == DECODE_OK, 1)) return rc;
    } else if (avail >= 15) {
        /* 15..31 bytes (an interpreter's fetch buffer): the fast path on a
         * zero-padded copy. Bytes past the 15th only matter to an
         * instruction longer than 15 bytes, which the fast path refuses. */
        uint8_t tmp[32] = { 0 };
        memcpy(tmp, bytes, avail);
        int rc = decode_fast(insn, tmp, mode);
        if (rc == DECODE_OK) return rc;
    }
    return decode_slow(insn, bytes, avail, mode);
}

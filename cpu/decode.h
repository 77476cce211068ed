/* cpu/decode.h - the IA-32 instruction decoder (pure: no CPU state).
 *
 * Owns: turning guest bytes into a `struct insn` using the one opcode table
 * (cpu/opcodes.def). Handles every prefix (repetition, ordering: the last
 * segment override and the last F2/F3 win), 16/32-bit operand and address
 * size, ModRM/SIB/displacement/immediates, the 15-byte limit (#GP(0), SDM
 * vol. 2 sec. 2.3.11), LOCK on a form that cannot take it (#UD, vol. 2 LOCK),
 * and partial input (DECODE_MORE with insn->need = minimum extra bytes).
 * Rows of features the CPU model lacks (MMX/SSE) decode normally; the caller
 * raises #UD when optab[op].attrs has a feature bit (A_FEATURES) its CPUID
 * lacks (see feature_ok() in cpu/interp.c).
 */
#ifndef BT86_DECODE_H
#define BT86_DECODE_H
#include <stdint.h>
#include <stddef.h>
#include "cpu/opcodes.h"

enum { SEG_ES, SEG_CS, SEG_SS, SEG_DS, SEG_FS, SEG_GS, SEG_NONE = 7 };
#define REG_NONE 0xFF
/* GPRs 0..7: eAX eCX eDX eBX eSP eBP eSI eDI; byte registers 0..7 are
 * AL CL DL BL AH CH DH BH (the ModRM encoding). */

enum decode_mode { DECODE_16 = 0, DECODE_32 = 1 };   /* CS.D */

enum decode_status {
    DECODE_OK   = 0,
    DECODE_UD   = -1,   /* invalid opcode or LOCK misuse: #UD            */
    DECODE_GP   = -2,   /* longer than 15 bytes: #GP(0)                  */
    DECODE_MORE = -3,   /* input ended: insn->need more bytes at least  */
};

enum opnd_kind {
    OPND_NONE, OPND_GPR, OPND_MEM, OPND_IMM, OPND_REL, OPND_FAR,
    OPND_SREG, OPND_CR, OPND_DR, OPND_TR, OPND_ST, OPND_MMX, OPND_XMM,
    OPND_STR_SRC,   /* string source  seg:[eSI] (seg overridable)  */
    OPND_STR_DST,   /* string dest    ES:[eDI]                      */
};

struct insn_opnd {
    uint8_t kind;    /* enum opnd_kind                                   */
    uint8_t size;    /* bytes (1,2,4,6,8,10,...); 0 when unsized (LEA M) */
    uint8_t reg;     /* register number for register kinds               */
    uint8_t type;    /* the table's operand type (enum optype)           */
};

struct insn {
    uint16_t op;          /* row of the opcode table (OP_<name>)           */
    uint8_t  len;         /* total length in bytes, prefixes included      */
    uint8_t  need;        /* DECODE_MORE: at least this many more bytes    */
    uint8_t  opsize;      /* operand size in bytes: 2 or 4                 */
    uint8_t  addrsize;    /* address size in bytes: 2 or 4                 */
    uint8_t  seg_override;/* SEG_NONE or the last segment prefix           */
    uint8_t  seg;         /* effective segment of the ModRM/moffs operand  */
    uint8_t  rep;         /* 0, 0xF3 or 0xF2 (the last one given)          */
    uint8_t  lock;        /* 1 if F0 was given                             */
    uint8_t  pfx66, pfx67;/* 1 if given                                    */
    uint8_t  npfx;        /* number of prefix bytes                        */
    uint8_t  opc;         /* the opcode byte (last byte of the opcode)     */
    uint8_t  has_modrm, modrm, mod, regf, rm;
    uint8_t  has_sib, sib;
    uint8_t  base, index; /* memory operand registers or REG_NONE          */
    uint8_t  scale;       /* shift count 0..3                              */
    uint8_t  disp_size;   /* 0, 1, 2 or 4                                  */
    uint8_t  imm_size, imm2_size;
    uint8_t  nopnd;       /* operands in opnd[]                            */
    int32_t  disp;        /* displacement, sign-extended                   */
    uint32_t imm;         /* first immediate, extended as the row says;
                             for REL: the signed displacement;
                             for FAR: the offset                           */
    uint32_t imm2;        /* second immediate (ENTER level, FAR selector) */
    struct insn_opnd opnd[3];
};

/* Decode at most `avail` bytes. Returns DECODE_OK (insn->len set) or a
 * negative decode_status. Thread-safe, no global mutable state after the
 * tables are built (done on first call, or by decode_init()). */
int decode(struct insn *insn, const uint8_t *bytes, size_t avail, unsigned mode)
    __attribute__((warn_unused_result));
void decode_init(void);

/* Intel-syntax text of a decoded insn; `eip` is the address of the insn
 * (for branch targets). Returns the number of chars written (snprintf). */
int disasm_format(const struct insn *insn, uint32_t eip, char *buf, size_t n);
/* "eax", "ax" or "al" style name of GPR `reg` at `size` bytes. */
const char *disasm_reg_name(unsigned reg, unsigned size);

#endif

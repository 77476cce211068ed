/* translator/emit.h - an x86-64 code emitter for the translator.
 *
 * Owns: writing host instructions into a code buffer: raw bytes, REX
 * prefixes, ModRM/SIB/displacement for register-relative and guest-style
 * addressing, and the handful of fixed host instructions translated code
 * is made of (moves to and from struct cpu, flag-free LEA arithmetic,
 * jumps and calls with patchable rel32). Host registers are numbered 0-15
 * (rax rcx rdx rbx rsp rbp rsi rdi r8-r15). Nothing here touches RFLAGS
 * unless its name says so.
 */
#ifndef BT86_EMIT_H
#define BT86_EMIT_H
#include <stdint.h>
#include <stdbool.h>
#include <string.h>

struct cbuf {
    uint8_t *p;        /* next byte                                       */
    uint8_t *end;      /* end of the space                                */
    bool full;         /* ran out of space: the caller discards the code  */
};

enum { H_RAX, H_RCX, H_RDX, H_RBX, H_RSP, H_RBP, H_RSI, H_RDI,
       H_R8, H_R9, H_R10, H_R11, H_R12, H_R13, H_R14, H_R15 };

static inline void e8(struct cbuf *b, unsigned v)
{
    if (b->p < b->end) *b->p++ = (uint8_t)v; else b->full = true;
}
static inline void e32(struct cbuf *b, uint32_t v)
{
    if (b->end - b->p >= 4) { memcpy(b->p, &v, 4); b->p += 4; } else b->full = true;
}
static inline void e64(struct cbuf *b, uint64_t v)
{
    if (b->end - b->p >= 8) { memcpy(b->p, &v, 8); b->p += 8; } else b->full = true;
}
static inline void e_imm(struct cbuf *b, uint32_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++) e8(b, v >> (8 * i));
}
/* REX with W R X B; emitted only when needed (or forced for W). */
static inline void e_rex(struct cbuf *b, bool w, unsigned r, unsigned x, unsigned bb)
{
    unsigned v = 0x40 | (w ? 8 : 0) | ((r >> 3) & 1) << 2 | ((x >> 3) & 1) << 1 | ((bb >> 3) & 1);
    if (v != 0x40) e8(b, v);
}

/* ModRM + SIB + disp for [base + index*2^scale + disp] with host registers
 * (base/index -1 = none), reg field `reg`. Index must not be rsp. */
static inline void e_ea(struct cbuf *b, unsigned reg, int base, int index, unsigned scale, int32_t disp)
{
    reg &= 7;
    if (base < 0 && index < 0) {                 /* [disp32]: SIB, no base, no index */
        e8(b, 0x04 | reg << 3); e8(b, 0x25); e32(b, (uint32_t)disp); return;
    }
    unsigned mod;
    bool d8 = disp >= -128 && disp <= 127;
    if (base < 0) mod = 0;                        /* SIB with no base: disp32 */
    else if (disp == 0 && (base & 7) != 5) mod = 0;
    else mod = d8 ? 1 : 2;
    if (index < 0 && (base & 7) != 4) {
        e8(b, mod << 6 | reg << 3 | (base & 7));
    } else {
        e8(b, mod << 6 | reg << 3 | 4);
        e8(b, scale << 6 | (index < 0 ? 4 : (index & 7)) << 3 | (base < 0 ? 5 : (base & 7)));
    }
    if (base < 0 || mod == 2) e32(b, (uint32_t)disp);
    else if (mod == 1) e8(b, (uint8_t)disp);
}

/* mov r32, [r13 + off] / mov [r13 + off], r32 */
static inline void e_load_cpu32(struct cbuf *b, unsigned r, int32_t off)
{
    e_rex(b, false, r, 0, H_R13); e8(b, 0x8B); e_ea(b, r, H_R13, -1, 0, off);
}
static inline void e_store_cpu32(struct cbuf *b, unsigned r, int32_t off)
{
    e_rex(b, false, r, 0, H_R13); e8(b, 0x89); e_ea(b, r, H_R13, -1, 0, off);
}
static inline void e_load_cpu64(struct cbuf *b, unsigned r, int32_t off)
{
    e_rex(b, true, r, 0, H_R13); e8(b, 0x8B); e_ea(b, r, H_R13, -1, 0, off);
}
static inline void e_store_cpu64(struct cbuf *b, unsigned r, int32_t off)
{
    e_rex(b, true, r, 0, H_R13); e8(b, 0x89); e_ea(b, r, H_R13, -1, 0, off);
}
/* mov dword [r13 + off], imm32 */
static inline void e_store_cpu_imm32(struct cbuf *b, int32_t off, uint32_t v)
{
    e_rex(b, false, 0, 0, H_R13); e8(b, 0xC7); e_ea(b, 0, H_R13, -1, 0, off); e32(b, v);
}
/* lea r32, [base + disp] with 32-bit address arithmetic (67 prefix) */
static inline void e_lea32(struct cbuf *b, unsigned r, int base, int32_t disp)
{
    e8(b, 0x67); e_rex(b, false, r, 0, base < 0 ? 0 : (unsigned)base); e8(b, 0x8D); e_ea(b, r, base, -1, 0, disp);
}
/* lea r15, [r15 + n]: the retired-instruction counter */
static inline void e_count(struct cbuf *b, unsigned n)
{
    if (!n) return;
    e8(b, 0x4D); e8(b, 0x8D); e_ea(b, H_R15, H_R15, -1, 0, (int32_t)n);
}
/* mov r32, r32 */
static inline void e_mov32(struct cbuf *b, unsigned dst, unsigned src)
{
    e_rex(b, false, src, 0, dst); e8(b, 0x89); e8(b, 0xC0 | (src & 7) << 3 | (dst & 7));
}
static inline void e_mov64_imm(struct cbuf *b, unsigned r, uint64_t v)
{
    e8(b, 0x48 | ((r >> 3) & 1)); e8(b, 0xB8 | (r & 7)); e64(b, v);
}
/* jmp/call rel32 to `target`; returns the address of the rel32 field */
static inline uint8_t *e_jmp(struct cbuf *b, const void *target)
{
    e8(b, 0xE9);
    uint8_t *at = b->p;
    e32(b, (uint32_t)((const uint8_t *)target - (at + 4)));
    return at;
}
static inline void e_call(struct cbuf *b, const void *target)
{
    e8(b, 0xE8);
    uint8_t *at = b->p;
    e32(b, (uint32_t)((const uint8_t *)target - (at + 4)));
}
/* jcc rel32 with a field to fill later (e_patch32) */
static inline uint8_t *e_jcc_fwd(struct cbuf *b, unsigned cc)
{
    e8(b, 0x0F); e8(b, 0x80 | cc);
    uint8_t *at = b->p;
    e32(b, 0);
    return at;
}
/* point a rel32 field at `target` */
static inline void e_patch32(uint8_t *field, const void *target)
{
    int32_t rel = (int32_t)((const uint8_t *)target - (field + 4));
    memcpy(field, &rel, 4);
}

#endif

/* cpu/disasm.c - Intel-syntax text for a decoded instruction.
 *
 * Owns: mnemonic spelling (the table's "a|b" variants by operand size,
 * jcxz/jecxz and loop by address size, rep/repe/repne/lock prefixes) and
 * operand text close to capstone's (so traces read the same). Reads only the
 * struct insn and the opcode table.
 */
#include "cpu/decode.h"
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <stdbool.h>

static const char *const reg8[8]  = { "al", "cl", "dl", "bl", "ah", "ch", "dh", "bh" };
static const char *const reg16[8] = { "ax", "cx", "dx", "bx", "sp", "bp", "si", "di" };
static const char *const reg32[8] = { "eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi" };
static const char *const sreg[8]  = { "es", "cs", "ss", "ds", "fs", "gs", "?", "?" };

const char *disasm_reg_name(unsigned reg, unsigned size)
{
    reg &= 7;
    return size == 1 ? reg8[reg] : size == 2 ? reg16[reg] : reg32[reg];
}

struct out { char *buf; size_t n, len; };

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->n ? o->n - o->len : 0;
    int k = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (k > 0) o->len += (size_t)k;
}

static const char *ptr_name(unsigned size)
{
    switch (size) {
    case 1: return "byte ptr ";
    case 2: return "word ptr ";
    case 4: return "dword ptr ";
    case 6: return "fword ptr ";
    case 8: return "qword ptr ";
    case 10: return "tbyte ptr ";
    case 16: return "xmmword ptr ";
    default: return "";
    }
}

static void put_mem(struct out *o, const struct insn *in, unsigned size, bool show_seg)
{
    put(o, "%s", ptr_name(size));
    if (show_seg || in->seg_override != SEG_NONE) put(o, "%s:", sreg[in->seg]);
    put(o, "[");
    const char *const *names = in->addrsize == 2 ? reg16 : reg32;
    bool any = false;
    if (in->base != REG_NONE) { put(o, "%s", names[in->base]); any = true; }
    if (in->index != REG_NONE) {
        put(o, "%s%s", any ? " + " : "", names[in->index]);
        if (in->scale) put(o, "*%d", 1 << in->scale);
        any = true;
    }
    if ((in->disp_size && in->disp) || !any) {   /* a zero disp8/disp32 is not shown (as capstone) */
        int64_t d = in->disp;
        if (!any) {
            uint32_t u = in->addrsize == 2 ? (uint16_t)d : (uint32_t)d;
            put(o, "0x%x", u);
        } else if (d < 0) put(o, " - 0x%llx", (unsigned long long)-d);
        else put(o, " + 0x%llx", (unsigned long long)d);
    }
    put(o, "]");
}

int disasm_format(const struct insn *in, uint32_t eip, char *buf, size_t n)
{
    struct out o = { buf, n, 0 };
    if (n) buf[0] = 0;
    const struct opinfo *r = &optab[in->op];
    char mn[32];
    const char *m = r->mnem, *bar = strchr(m, '|');
    unsigned sel = (r->handler[0] == 'j' && !strcmp(r->handler, "jcxz")) ? in->addrsize : in->opsize;
    if (bar) {
        if (sel == 2) snprintf(mn, sizeof mn, "%.*s", (int)(bar - m), m);
        else snprintf(mn, sizeof mn, "%s", bar + 1);
    } else snprintf(mn, sizeof mn, "%s", m);
    if (in->lock) put(&o, "lock ");
    if ((r->attrs & A_REP) && in->rep) {
        if (r->attrs & A_REPC) put(&o, "%s ", in->rep == 0xF3 ? "repe" : "repne");
        else put(&o, "rep ");
    }
    put(&o, "%s", mn);
    /* string instructions print their implicit operands only as the suffix */
    bool implicit_str = (r->attrs & A_REP) && r->handler[0] != 'i' && r->handler[0] != 'o';
    for (unsigned k = 0; k < in->nopnd; k++) {
        const struct insn_opnd *op = &in->opnd[k];
        if (implicit_str) break;
        if (op->type == OT_ONE && (r->opc >= 0xD0 && r->opc <= 0xD1)) { put(&o, ", 1"); continue; }
        put(&o, k ? ", " : " ");
        switch (op->kind) {
        case OPND_GPR: put(&o, "%s", disasm_reg_name(op->reg, op->size)); break;
        case OPND_MEM: put_mem(&o, in, op->size, false); break;
        case OPND_IMM:
            if (op->type == OT_Ib && k > 0 && in->imm2_size) put(&o, "0x%x", in->imm2);
            else put(&o, "0x%x", op->type == OT_ONE ? 1u : in->imm);
            break;
        case OPND_REL: {
            uint32_t t = eip + in->len + in->imm;
            if (in->opsize == 2) t &= 0xFFFF;
            put(&o, "0x%x", t);
            break;
        }
        case OPND_FAR: put(&o, "0x%x:0x%x", in->imm2, in->imm); break;
        case OPND_SREG: put(&o, "%s", sreg[op->reg]); break;
        case OPND_CR: put(&o, "cr%d", op->reg); break;
        case OPND_DR: put(&o, "dr%d", op->reg); break;
        case OPND_TR: put(&o, "tr%d", op->reg); break;
        case OPND_ST: put(&o, "st(%d)", op->reg); break;
        case OPND_MMX: put(&o, "mm%d", op->reg); break;
        case OPND_XMM: put(&o, "xmm%d", op->reg); break;
        case OPND_STR_SRC: put_mem(&o, in, op->size, true); break;
        case OPND_STR_DST: put(&o, "%ses:[%s]", ptr_name(op->size), in->addrsize == 2 ? "di" : "edi"); break;
        default: put(&o, "?"); break;
        }
    }
    return (int)o.len;
}

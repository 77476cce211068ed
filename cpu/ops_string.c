/* cpu/ops_string.c - string instructions, XLAT, and port I/O.
 *
 * Owns: MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS with REP/REPE/REPNE under 16- and
 * 32-bit address size (eSI/eDI/eCX by address size), segment overrides on
 * the source (never on ES:eDI) and DF; IN/OUT with the I/O permission
 * checks (IOPL, then the TSS I/O bitmap: SDM vol. 1 sec. 19.5).
 * A REP instruction runs at most REP_CHUNK elements per step and then
 * re-executes (EIP stays on it) so interrupts are taken between iterations;
 * each iteration commits, so a fault leaves eSI/eDI/eCX exact.
 */
#include "cpu/interp_priv.h"
#include "devices/bus.h"

#define TRY(x) do { int r_ = (x); if (r_ != EXC_NONE) return r_; } while (0)
#define REP_CHUNK 4096

static inline uint32_t areg(const struct cpu *c, unsigned r, unsigned asz)
{
    return asz == 2 ? (c->r[r] & 0xFFFF) : c->r[r];
}
static inline void areg_add(struct cpu *c, unsigned r, unsigned asz, int32_t d)
{
    reg_set(c, r, asz, c->r[r] + (uint32_t)d);
}
static inline unsigned elem_size(const struct insn *in) { return (in->opc & 1) ? in->opsize : 1; }
static inline int32_t step_of(const struct cpu *c, unsigned size)
{
    return (c->eflags & FL_DF) ? -(int32_t)size : (int32_t)size;
}

/* one iteration of each string op; returns EXC_NONE or a fault */
enum sop { S_MOVS, S_CMPS, S_STOS, S_LODS, S_SCAS, S_INS, S_OUTS };

static int string_once(struct cpu *c, const struct insn *in, enum sop op)
{
    unsigned size = elem_size(in), asz = in->addrsize;
    int32_t d = step_of(c, size);
    uint32_t si = areg(c, R_ESI, asz), di = areg(c, R_EDI, asz), a, b;
    switch (op) {
    case S_MOVS:
        TRY(mem_rd(c, in->seg, si, size, &a));
        TRY(mem_wr(c, SEG_ES, di, size, a));
        areg_add(c, R_ESI, asz, d); areg_add(c, R_EDI, asz, d);
        break;
    case S_CMPS:
        TRY(mem_rd(c, in->seg, si, size, &a));
        TRY(mem_rd(c, SEG_ES, di, size, &b));
        flags_set(c, FL_ARITH, flags_sub(a, b, 0, size));
        areg_add(c, R_ESI, asz, d); areg_add(c, R_EDI, asz, d);
        break;
    case S_STOS:
        TRY(mem_wr(c, SEG_ES, di, size, reg_get(c, R_EAX, size)));
        areg_add(c, R_EDI, asz, d);
        break;
    case S_LODS:
        TRY(mem_rd(c, in->seg, si, size, &a));
        reg_set(c, R_EAX, size, a);
        areg_add(c, R_ESI, asz, d);
        break;
    case S_SCAS:
        TRY(mem_rd(c, SEG_ES, di, size, &b));
        flags_set(c, FL_ARITH, flags_sub(reg_get(c, R_EAX, size), b, 0, size));
        areg_add(c, R_EDI, asz, d);
        break;
    case S_INS: {
        uint16_t port = (uint16_t)c->r[R_EDX];
        TRY(io_check(c, port, size));
        TRY(mem_probe_wr(c, SEG_ES, di, size));
        a = io_in(c, port, size);
        TRY(mem_wr(c, SEG_ES, di, size, a));
        areg_add(c, R_EDI, asz, d);
        break;
    }
    case S_OUTS: {
        uint16_t port = (uint16_t)c->r[R_EDX];
        TRY(io_check(c, port, size));
        TRY(mem_rd(c, in->seg, si, size, &a));
        io_out(c, port, a, size);
        areg_add(c, R_ESI, asz, d);
        break;
    }
    }
    return EXC_NONE;
}

/* REP MOVS/STOS, forward, 32-bit addresses: the elements that stay inside
 * one page of the destination (and of the source) are done at once through
 * host pointers from the TLB (seg_fast: limits, present RAM, no SMC page,
 * no write-watched store). Element order is kept for overlapping MOVS, so
 * the result is exactly string_once()'s, none of these elements can fault,
 * and eSI/eDI/eCX are updated as after that many iterations. At most `max`
 * elements (the rest of the REP chunk). Returns the number of elements
 * done (0: take the element path). */
static uint32_t string_bulk(struct cpu *c, const struct insn *in, enum sop op, uint32_t max)
{
    if (in->addrsize != 4 || (c->eflags & (FL_DF | FL_AC)) || c->write_watch) return 0;
    unsigned size = elem_size(in);
    uint32_t count = c->r[R_ECX], di = c->r[R_EDI], si = c->r[R_ESI];
    uint32_t lin_d = c->seg[SEG_ES].base + di;
    uint32_t n = (4096 - (lin_d & 0xFFF)) / size;
    if (op == S_MOVS) {
        uint32_t lin_s = c->seg[in->seg].base + si;
        uint32_t ns = (4096 - (lin_s & 0xFFF)) / size;
        if (ns < n) n = ns;
    }
    if (n > count) n = count;
    if (n > max) n = max;
    if (n < 2) return 0;
    uint8_t *d = seg_fast(c, SEG_ES, di, n * size, true);
    if (!d) return 0;
    if (op == S_STOS) {
        uint32_t v = c->r[R_EAX];
        if (size == 1 || (size == 2 && (v & 0xFF) == ((v >> 8) & 0xFF)) ||
            (size == 4 && v == (v & 0xFF) * 0x01010101u)) {
            memset(d, (int)(v & 0xFF), n * size);           /* one repeated byte */
        } else {
            uint64_t pat = size == 2 ? (v & 0xFFFFu) * 0x0001000100010001ull : (uint64_t)v * 0x0000000100000001ull;
            uint32_t bytes = n * size, i = 0;
            for (; i + 8 <= bytes; i += 8) memcpy(d + i, &pat, 8);
            if (i < bytes) memcpy(d + i, &pat, bytes - i);   /* a whole number of elements */
        }
    } else {
        const uint8_t *sp = seg_fast(c, in->seg, si, n * size, false);
        if (!sp) return 0;
        if (d > sp && d < sp + n * size) {            /* overlap: element by element, forward */
            for (uint32_t i = 0; i < n * size; i += size) memmove(d + i, sp + i, size);
        } else memmove(d, sp, n * size);
        c->r[R_ESI] = si + n * size;
    }
    c->r[R_EDI] = di + n * size;
    c->r[R_ECX] = count - n;
    return n;
}

static int string_op(struct cpu *c, const struct insn *in, enum sop op)
{
    if (!in->rep) return string_once(c, in, op);
    /* the I/O permission check comes first, even when eCX is 0 */
    if (op == S_INS || op == S_OUTS) TRY(io_check(c, (uint16_t)c->r[R_EDX], elem_size(in)));
    unsigned asz = in->addrsize;
    bool cond = op == S_CMPS || op == S_SCAS;
    bool bulk = op == S_MOVS || op == S_STOS;
    /* (a chunk is REP_CHUNK elements however they are done, so every path
     * through here, with or without the bulk copy, stops at the same
     * element: bt's callouts and --check's interpreter pass agree) */
    for (uint32_t n = 0; n < REP_CHUNK; ) {
        if (areg(c, R_ECX, asz) == 0) return EXC_NONE;
        uint32_t k = bulk ? string_bulk(c, in, op, REP_CHUNK - n) : 0;   /* up to a page at a time */
        if (k) { n += k; continue; }
        TRY(string_once(c, in, op));
        reg_set(c, R_ECX, asz, c->r[R_ECX] - 1);
        n++;
        if (cond) {
            bool zf = c->eflags & FL_ZF;
            if (in->rep == 0xF3 ? !zf : zf) return EXC_NONE;
        }
    }
    if (areg(c, R_ECX, asz) != 0) c->eip = c->insn_eip;   /* continue next step */
    return EXC_NONE;
}

int op_movs(struct cpu *c, const struct insn *in) { return string_op(c, in, S_MOVS); }
int op_cmps(struct cpu *c, const struct insn *in) { return string_op(c, in, S_CMPS); }
int op_stos(struct cpu *c, const struct insn *in) { return string_op(c, in, S_STOS); }
int op_lods(struct cpu *c, const struct insn *in) { return string_op(c, in, S_LODS); }
int op_scas(struct cpu *c, const struct insn *in) { return string_op(c, in, S_SCAS); }
int op_ins(struct cpu *c, const struct insn *in)  { return string_op(c, in, S_INS); }
int op_outs(struct cpu *c, const struct insn *in) { return string_op(c, in, S_OUTS); }

int op_xlat(struct cpu *c, const struct insn *in)
{
    uint32_t off = c->r[R_EBX] + (c->r[R_EAX] & 0xFF), v;
    if (in->addrsize == 2) off &= 0xFFFF;
    TRY(mem_rd(c, in->seg, off, 1, &v));
    reg_set(c, R_EAX, 1, v);
    return EXC_NONE;
}

/* ---- port I/O ---- */
int io_check(struct cpu *c, uint16_t port, unsigned size)
{
    if (cpu_real(c)) return EXC_NONE;
    if (!cpu_v86(c) && c->cpl <= (int)((c->eflags >> 12) & 3)) return EXC_NONE;
    /* I/O permission bitmap in the 32-bit TSS (type 9/11) */
    if ((c->tr.ar & 0x0F) != 0x09 && (c->tr.ar & 0x0F) != 0x0B) return fault(c, EXC_GP, 0);
    if (c->tr.limit < 0x67) return fault(c, EXC_GP, 0);
    uint64_t base;
    if (lin_read(c, c->tr.base + 0x66, 2, &base, false) != EXC_NONE) return fault(c, EXC_GP, 0);
    uint32_t off = (uint32_t)base + port / 8;
    if (off + 1 > c->tr.limit) return fault(c, EXC_GP, 0);
    uint64_t bits;
    if (lin_read(c, c->tr.base + off, 2, &bits, false) != EXC_NONE) return fault(c, EXC_GP, 0);
    uint32_t mask = ((1u << size) - 1) << (port & 7);
    if (bits & mask) return fault(c, EXC_GP, 0);
    return EXC_NONE;
}

uint32_t io_in(struct cpu *c, uint16_t port, unsigned size)
{
    if (!c->bus) return size_mask(size);
    return bus_io_read(c->bus, port, size) & size_mask(size);
}

void io_out(struct cpu *c, uint16_t port, uint32_t v, unsigned size)
{
    if (c->bus) bus_io_write(c->bus, port, v & size_mask(size), size);
}

int op_in(struct cpu *c, const struct insn *in)
{
    unsigned size = in->opnd[0].size;
    uint16_t port = in->opnd[1].kind == OPND_IMM ? (uint16_t)(in->imm & 0xFF) : (uint16_t)c->r[R_EDX];
    TRY(io_check(c, port, size));
    reg_set(c, R_EAX, size, io_in(c, port, size));
    return EXC_NONE;
}

int op_out(struct cpu *c, const struct insn *in)
{
    unsigned size = in->opnd[1].size;
    uint16_t port = in->opnd[0].kind == OPND_IMM ? (uint16_t)(in->imm & 0xFF) : (uint16_t)c->r[R_EDX];
    TRY(io_check(c, port, size));
    io_out(c, port, reg_get(c, R_EAX, size), size);
    return EXC_NONE;
}

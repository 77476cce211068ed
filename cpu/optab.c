/* cpu/optab.c - the opcode table as data: optab[] generated from cpu/opcodes.def. */
#include "cpu/opcodes.h"

const struct opinfo optab[OP_COUNT] = {
#define X(name, map, pfx, opc, ext, mnem, handler, o1, o2, o3, attrs, fr, fw, fu) \
    [OP_##name] = { #name, mnem, #handler, map, pfx, opc, ext, \
                    { OT_##o1, OT_##o2, OT_##o3 }, attrs, fr, fw, fu },
#include "cpu/opcodes.def"
#undef X
};

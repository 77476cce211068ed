/* cpu/fastpath.h - specialised handlers for common 32-bit forms (cpu/fastpath.c). */
#ifndef BT86_FASTPATH_H
#define BT86_FASTPATH_H
#include "cpu/interp_priv.h"
/* The specialised handler for this decoded instruction, or NULL. */
op_fn fastpath_pick(const struct insn *in);
#endif

/* cpu/fpu_state.h - what the rest of the machine sees of the x87 FPU
 * (cpu/ops_fpu.c). The FPU's architectural state lives in struct cpu.fpu;
 * this header gives the board the legacy error line and gives tests and the
 * debugger a view of the register stack.
 *
 * FERR#/IRQ13 (SDM vol. 1 sec. D.2, vol. 3 sec. 2.5 CR0.NE): with CR0.NE=0
 * an unmasked x87 exception does not raise #MF; the CPU asserts FERR#, which
 * a PC routes to IRQ13 (PIC 2 input 5). The board polls fpu_ferr() after
 * each run slice and drives IRQ13 with it (it stays asserted until the
 * handler clears the exception with FNCLEX/FNINIT/FLDENV/FRSTOR). A write
 * to port 0xF0 (IGNNE#) needs no call here: this model lets the next
 * waiting instruction proceed as if IGNNE# were asserted (as QEMU does).
 */
#ifndef BT86_FPU_STATE_H
#define BT86_FPU_STATE_H
#include <stdbool.h>
#include <stdint.h>
#include "cpu/cpu.h"

/* FPU status word bits (SDM vol. 1 fig. 8-4) */
#define FSW_IE  0x0001u
#define FSW_DE  0x0002u
#define FSW_ZE  0x0004u
#define FSW_OE  0x0008u
#define FSW_UE  0x0010u
#define FSW_PE  0x0020u
#define FSW_SF  0x0040u
#define FSW_ES  0x0080u
#define FSW_C0  0x0100u
#define FSW_C1  0x0200u
#define FSW_C2  0x0400u
#define FSW_C3  0x4000u
#define FSW_B   0x8000u
#define FSW_TOP(sw) (((sw) >> 11) & 7)

/* true while the CPU drives FERR# (CR0.NE=0 and an unmasked exception is
 * pending): the board raises IRQ13 while this holds. */
bool fpu_ferr(const struct cpu *c);
/* physical register number of ST(i) */
unsigned fpu_phys(const struct cpu *c, unsigned i);
/* 80-bit image of ST(i) (10 bytes, little-endian as FSTP m80 stores it) */
void fpu_get_st(const struct cpu *c, unsigned i, uint8_t out[10]);

/* The x87 part of an FXSAVE image (SDM vol. 2 FXSAVE, table 3-53, the
 * 32-bit layout): bytes 0-23 (FCW, FSW, abridged FTW, FOP, FIP, FCS, FDP,
 * FDS) and ST0-ST7 at 32 + 16*i; bytes 24-31 (MXCSR) and 160-511 (XMM) are
 * not touched. For op_fxsave/op_fxrstor once CPUID advertises FXSR; the
 * caller does the #NM (EM/TS), alignment (#GP) and memory checks. */
void fpu_fxsave_x87(const struct cpu *c, uint8_t img[512]);
void fpu_fxrstor_x87(struct cpu *c, const uint8_t img[512]);

#endif

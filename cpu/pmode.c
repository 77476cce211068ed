/* cpu/pmode.c - protected-mode transfers (placeholder until issue 4 lands). */
#include "cpu/pmode.h"
int pm_load_seg(struct cpu *c, int s, uint16_t sel) { (void)c; (void)s; (void)sel; return EXIT_UNIMPL; }
int pm_far_jump(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize)
{ (void)c; (void)sel; (void)off; (void)opsize; return EXIT_UNIMPL; }
int pm_far_call(struct cpu *c, uint16_t sel, uint32_t off, unsigned opsize)
{ (void)c; (void)sel; (void)off; (void)opsize; return EXIT_UNIMPL; }
int pm_far_ret(struct cpu *c, unsigned opsize, uint32_t imm) { (void)c; (void)opsize; (void)imm; return EXIT_UNIMPL; }
int pm_iret(struct cpu *c, unsigned opsize) { (void)c; (void)opsize; return EXIT_UNIMPL; }
int pm_deliver(struct cpu *c, int vec, bool has_err, uint32_t err, bool is_sw, uint32_t ret_eip)
{ (void)c; (void)vec; (void)has_err; (void)err; (void)is_sw; (void)ret_eip; return EXIT_UNIMPL; }

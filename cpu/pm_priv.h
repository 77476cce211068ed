/* cpu/pm_priv.h - what cpu/pmode.c and cpu/pm_task.c share.
 *
 * Owns: descriptor access (read by selector with the table-limit check,
 * accessed/busy bits in memory, unpacking into a struct seg cache), pushes
 * onto a stack that is not yet SS (the target of a privilege change), the
 * inner stack from the TSS, and the hardware task switch.
 * Every function returns EXC_NONE or a vector with cpu->exc_err set.
 */
#ifndef BT86_PM_PRIV_H
#define BT86_PM_PRIV_H
#include "cpu/interp_priv.h"

/* Read the 8-byte descriptor for `sel` (GDT or LDT by TI); `vec` (#GP or
 * #TS) with error code sel&~3 if it lies beyond the table limit.
 * *addr receives its linear address (may be NULL). */
int pm_desc_read(struct cpu *c, uint16_t sel, uint64_t *d, uint32_t *addr, int vec);
int pm_desc_set_accessed(struct cpu *c, uint32_t addr, uint64_t d);
struct seg pm_desc_seg(uint16_t sel, uint64_t d);      /* cache image, A set */
void pm_seg_null(struct seg *s, uint16_t sel);         /* unusable register */
bool pm_lim_ok(const struct seg *sg, uint32_t off, unsigned size);
void pm_set_cs(struct cpu *c, uint16_t sel, uint64_t d, int cpl, uint32_t eip);
int pm_load_seg_ts(struct cpu *c, int s, uint16_t sel);  /* #TS flavour */

/* A stack being built before it becomes SS:ESP. */
struct pm_stk {
    struct seg ss;     /* its cache                                        */
    uint32_t esp;      /* its ESP (low 16 bits used when SS.B=0)           */
    bool user;         /* page-level user access (target CPL 3)            */
    uint32_t err;      /* #SS error code on a limit violation              */
};
void pm_stk_init(struct pm_stk *st, const struct seg *ss, uint32_t esp, int cpl, uint32_t err);
int pm_stk_room(struct cpu *c, const struct pm_stk *st, uint32_t bytes);
int pm_stk_push(struct cpu *c, struct pm_stk *st, unsigned size, uint32_t v);
void pm_stk_commit(struct cpu *c, const struct pm_stk *st);
int pm_inner_stack(struct cpu *c, unsigned dpl, struct seg *ss_out, uint32_t *esp_out, uint32_t *ss_addr,
                   uint64_t *ss_desc);

/* Hardware task switch (SDM vol. 3 sec. 7.3). */
enum pm_ts_src { PM_TS_JMP, PM_TS_CALL, PM_TS_IRET, PM_TS_INT };
/* Switch to the TSS `sel` (descriptor d at linear taddr; the caller made
 * the privilege and type checks). Returns EXC_NONE, a vector for a fault
 * detected before the switch commits (*committed=false), or a vector that
 * belongs to the new task's context (*committed=true). */
int pm_task_switch(struct cpu *c, uint16_t sel, uint64_t d, uint32_t taddr, enum pm_ts_src src,
                   uint32_t ret_eip, bool *committed);
/* The same for JMP/CALL/IRET: a fault after the commit is delivered here in
 * the new task (EXC_NONE or EXIT_RESET is returned then). */
int pm_task_switch_insn(struct cpu *c, uint16_t sel, uint64_t d, uint32_t taddr, enum pm_ts_src src,
                        uint32_t ret_eip);
#endif

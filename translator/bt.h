/* translator/bt.h - the dynamic binary translator engine (x86 -> x86-64).
 *
 * Owns: translating guest blocks to host code, the code cache, chaining,
 * callouts to the monitor for sensitive/privileged instructions (or exits,
 * in trap mode), precise guest exceptions from host faults, and the shadow
 * page-table windows through which translated code touches guest memory
 * (mem/shadow.c). struct cpu is exact whenever bt_run() returns.
 */
#ifndef BT86_BT_H
#define BT86_BT_H
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>

struct cpu;
struct bt;

/* NULL if the translator can run on this host, else why not. */
const char *bt_unavailable_reason(void);
struct bt *bt_new(struct cpu *cpu, bool trap_mode, char *err, size_t errlen);
void bt_free(struct bt *bt);
/* interp_run() semantics. */
int bt_run(struct bt *bt, uint64_t n);
/* interp_step() semantics: one instruction, translated on its own when the
 * mode is translatable; returns the vector delivered, if any. */
int bt_step(struct bt *bt);
/* --check: run every block under bt and under the interpreter from the same
 * state; stop with a report (EXIT_CHECK_FAILED) at the first divergence. */
/* Leave translated code at the next block entry (as the 1 ms timer does):
 * bt_run returns. Callable from device callbacks inside a callout. */
void bt_request_stop(struct bt *bt);
void bt_set_check(struct bt *bt, bool on);
void bt_ram_written(struct bt *bt, uint64_t pa, uint64_t len);
void bt_print_stats(struct bt *bt, FILE *f);

#endif

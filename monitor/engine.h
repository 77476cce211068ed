/* monitor/engine.h - the execution engines behind one interface.
 *
 * Owns: choosing and running an engine on a `struct cpu`: "interp" (the
 * reference interpreter), "bt" (the binary translator, translator/),
 * "trap" (the translator with sensitive instructions exiting to the monitor
 * like a hardware VM exit) and "kvm" (/dev/kvm, monitor/engine_kvm.c).
 * Invariant: between engine_run() calls, `struct cpu` is the complete and
 * exact architectural state; an engine keeps nothing the interpreter could
 * not take over from (it may keep caches: translated code, shadow mappings).
 */
#ifndef BT86_ENGINE_H
#define BT86_ENGINE_H
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>
#include <stdbool.h>

struct cpu;
struct engine;

enum engine_kind { ENGINE_INTERP, ENGINE_BT, ENGINE_TRAP, ENGINE_KVM };

/* "interp", "bt", "trap" or "kvm" -> kind; -1 for an unknown name. */
int engine_kind_from_name(const char *name);
const char *engine_kind_name(enum engine_kind k);
/* The default engine on this host (bt on x86-64, interp elsewhere). */
const char *engine_default_name(void);
/* NULL if the engine can run here, else a one-line reason (static text or
 * `buf`) e.g. "/dev/kvm: No such file or directory". */
const char *engine_unavailable_reason(const char *name, char *buf, size_t n);

/* Stricter, for test suites run side by side: NULL if the engine can run
 * everything they run (protected mode with paging), else why not. A KVM
 * without VT-x/AMD-V (kvm_pvm) runs real mode only: usable with --engine
 * for what it can run, skipped by the suites with this reason. */
const char *engine_test_reason(const char *name, char *buf, size_t n);

/* Create an engine for `cpu` (whose mem/bus are wired). NULL with a message
 * in err on failure (unknown engine, /dev/kvm missing, ...). */
struct engine *engine_new(const char *name, struct cpu *cpu, char *err, size_t errlen);
void engine_free(struct engine *e);
enum engine_kind engine_kind(const struct engine *e);
/* Run up to about n instructions (an engine may stop earlier: a timer tick,
 * an I/O exit). Same result codes as interp_run(): EXC_NONE, or EXIT_HLT /
 * EXIT_RESET / EXIT_UNIMPL. Interrupts are taken from cpu->intr_* hooks. */
int engine_run(struct engine *e, uint64_t n);
/* Execute exactly one instruction (interp_step semantics) with this engine,
 * used by single-step test harnesses. */
int engine_step(struct engine *e);
/* --check (bt, trap): lockstep against the interpreter, block by block. */
void engine_set_check(struct engine *e, bool on);
/* The machine tells the engine that guest RAM at [pa, pa+len) was written
 * behind its back (DMA, loaders): translated code there is stale. */
/* Does the engine run translated code (bt, trap)? Its own 1 ms timer then
 * bounds how long engine_run runs, so the machine can give it long slices. */
bool engine_translates(const struct engine *e);
/* Make engine_run return soon (a power-off, reset or exit request from a
 * device): bt at its next block entry; the others end their slice anyway. */
void engine_request_stop(struct engine *e);
void engine_ram_written(struct engine *e, uint64_t pa, uint64_t len);
/* `--stats`: exits / callouts by kind, blocks, fills ... one per line. */
void engine_print_stats(struct engine *e, FILE *f);

#endif

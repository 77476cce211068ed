/* monitor/engine_kvm.h - the kvm engine: the same machine run with /dev/kvm.
 *
 * Owns: a KVM VM whose memory slots are the guest RAM memfd mapping
 * (mem_ram) and read-only copies of the ROMs, one vCPU loaded from and saved
 * back to `struct cpu` around each run, port and MMIO exits sent to the same
 * bus/devices as the other engines, interrupt injection from cpu->intr_*
 * hooks. Detects what the host's KVM can run and says so in one line
 * instead of hanging (docs/kvm.md).
 */
#ifndef BT86_ENGINE_KVM_H
#define BT86_ENGINE_KVM_H
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

struct cpu;
struct kvm_engine;

/* What this host's KVM runs (kvm_engine_probe); each level includes the ones below. */
enum {
    KVM_RUNS_NOTHING = 0,   /* KVM opens, but not even real-mode code runs          */
    KVM_RUNS_REAL = 1,      /* real mode (kvm_pvm: through KVM's emulator)           */
    KVM_RUNS_PMODE = 2,     /* 32-bit protected mode, paging off                     */
    KVM_RUNS_PAGING = 3,    /* 32-bit paging too (VT-x / AMD-V hosts): everything    */
};

/* NULL if /dev/kvm can be used here, else a one-line reason. */
const char *kvm_engine_unavailable_reason(char *buf, size_t n);
/* Probe (once per process, in a scratch VM, at most ~2 s) what this KVM can
 * run: a KVM_RUNS_* level, or -1 when /dev/kvm cannot be used at all. `buf`
 * (may be NULL) gets one line saying what runs and what failed. */
int kvm_engine_probe(char *buf, size_t n);
struct kvm_engine *kvm_engine_new(struct cpu *cpu, char *err, size_t errlen);
void kvm_engine_free(struct kvm_engine *k);
/* interp_run() semantics on the vCPU; struct cpu is exact on return.
 * `n` instructions are taken as a host-time budget (~10 ns each, 0.1-4 ms);
 * n == 1 single-steps (KVM_GUESTDBG_SINGLESTEP). cpu->icount does not
 * advance (KVM cannot count instructions). */
int kvm_engine_run(struct kvm_engine *k, uint64_t n);
/* The probe level this engine was created with (KVM_RUNS_*). */
int kvm_engine_level(const struct kvm_engine *k);
void kvm_engine_print_stats(struct kvm_engine *k, FILE *f);

#endif

/* monitor/engine_kvm.h - the kvm engine: the same machine run with /dev/kvm.
 *
 * Owns: a KVM VM whose memory slot is the guest RAM memfd (mem_ram_fd), one
 * vCPU loaded from and saved back to `struct cpu` around each run, port and
 * MMIO exits sent to the same bus/devices as the other engines, interrupt
 * injection from cpu->intr_* hooks. Detects what the host's KVM can run and
 * says so in one line instead of hanging.
 */
#ifndef BT86_ENGINE_KVM_H
#define BT86_ENGINE_KVM_H
#include <stdint.h>
#include <stdio.h>
#include <stddef.h>

struct cpu;
struct kvm_engine;

/* NULL if /dev/kvm can be used here, else a one-line reason. */
const char *kvm_engine_unavailable_reason(char *buf, size_t n);
struct kvm_engine *kvm_engine_new(struct cpu *cpu, char *err, size_t errlen);
void kvm_engine_free(struct kvm_engine *k);
/* interp_run() semantics on the vCPU; struct cpu is exact on return. */
int kvm_engine_run(struct kvm_engine *k, uint64_t n);
void kvm_engine_print_stats(struct kvm_engine *k, FILE *f);

#endif

/* monitor/engine_kvm.c - placeholder until the kvm engine lands: says so. */
#include "monitor/engine_kvm.h"
const char *kvm_engine_unavailable_reason(char *buf, size_t n)
{
    snprintf(buf, n, "the kvm engine is not implemented yet");
    return buf;
}
struct kvm_engine *kvm_engine_new(struct cpu *cpu, char *err, size_t errlen)
{
    (void)cpu;
    kvm_engine_unavailable_reason(err, errlen);
    return NULL;
}
void kvm_engine_free(struct kvm_engine *k) { (void)k; }
int kvm_engine_run(struct kvm_engine *k, uint64_t n) { (void)k; (void)n; return 0; }
void kvm_engine_print_stats(struct kvm_engine *k, FILE *f) { (void)k; (void)f; }

/* monitor/engine.c - one interface over the execution engines.
 *
 * Owns: engine selection by name and dispatch to interp_run/interp_step,
 * the translator (translator/bt.h) and the kvm engine (monitor/engine_kvm.h).
 * The interpreter is also every engine's fallback and single-step path.
 */
#include "monitor/engine.h"
#include "monitor/engine_kvm.h"
#include "translator/bt.h"
#include "cpu/cpu.h"
#include <stdlib.h>
#include <string.h>

struct engine {
    enum engine_kind kind;
    struct cpu *cpu;
    struct bt *bt;             /* ENGINE_BT, ENGINE_TRAP */
    struct kvm_engine *kvm;    /* ENGINE_KVM */
};

static const char *const names[] = { "interp", "bt", "trap", "kvm" };

int engine_kind_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (name && !strcmp(name, names[i])) return i;
    return -1;
}

const char *engine_kind_name(enum engine_kind k) { return names[k]; }

const char *engine_default_name(void)
{
    return bt_unavailable_reason() ? "interp" : "bt";
}

const char *engine_unavailable_reason(const char *name, char *buf, size_t n)
{
    switch (engine_kind_from_name(name)) {
    case ENGINE_INTERP: return NULL;
    case ENGINE_BT: case ENGINE_TRAP: return bt_unavailable_reason();
    case ENGINE_KVM: return kvm_engine_unavailable_reason(buf, n);
    default:
        snprintf(buf, n, "unknown engine '%s' (interp, bt, trap, kvm)", name ? name : "");
        return buf;
    }
}

const char *engine_test_reason(const char *name, char *buf, size_t n)
{
    const char *r = engine_unavailable_reason(name, buf, n);
    if (r || engine_kind_from_name(name) != ENGINE_KVM) return r;
    char probe[200];
    int level = kvm_engine_probe(probe, sizeof probe);
    if (level >= KVM_RUNS_PAGING) return NULL;
    snprintf(buf, n, "%s; the test suites need 32-bit paging (a KVM with VT-x or AMD-V)", probe);
    return buf;
}

struct engine *engine_new(const char *name, struct cpu *cpu, char *err, size_t errlen)
{
    int k = engine_kind_from_name(name);
    if (k < 0) { snprintf(err, errlen, "unknown engine '%s' (interp, bt, trap, kvm)", name ? name : ""); return NULL; }
    struct engine *e = calloc(1, sizeof *e);
    if (!e) { snprintf(err, errlen, "out of memory"); return NULL; }
    e->kind = (enum engine_kind)k;
    e->cpu = cpu;
    if (k == ENGINE_BT || k == ENGINE_TRAP) {
        e->bt = bt_new(cpu, k == ENGINE_TRAP, err, errlen);
        if (!e->bt) { free(e); return NULL; }
    } else if (k == ENGINE_KVM) {
        e->kvm = kvm_engine_new(cpu, err, errlen);
        if (!e->kvm) { free(e); return NULL; }
    }
    return e;
}

void engine_free(struct engine *e)
{
    if (!e) return;
    if (e->bt) bt_free(e->bt);
    if (e->kvm) kvm_engine_free(e->kvm);
    free(e);
}

enum engine_kind engine_kind(const struct engine *e) { return e->kind; }

int engine_run(struct engine *e, uint64_t n)
{
    if (e->bt) return bt_run(e->bt, n);
    if (e->kvm) return kvm_engine_run(e->kvm, n);
    return interp_run(e->cpu, n);
}

int engine_step(struct engine *e)
{
    if (e->kvm) return kvm_engine_run(e->kvm, 1);
    if (e->bt) return bt_step(e->bt);
    return interp_step(e->cpu);
}

void engine_set_check(struct engine *e, bool on)
{
    if (e->bt) bt_set_check(e->bt, on);
}

bool engine_translates(const struct engine *e) { return e->bt != NULL; }
void engine_request_stop(struct engine *e) { if (e->bt) bt_request_stop(e->bt); }

void engine_ram_written(struct engine *e, uint64_t pa, uint64_t len)
{
    if (e->bt) bt_ram_written(e->bt, pa, len);
}

void engine_print_stats(struct engine *e, FILE *f)
{
    if (e->bt) bt_print_stats(e->bt, f);
    else if (e->kvm) kvm_engine_print_stats(e->kvm, f);
    else fprintf(f, "bt86: interp: no callouts or exits (every instruction is interpreted)\n");
}

/* translator/bt.c - placeholder while the translator is written. */
#include "translator/bt.h"
#include "cpu/cpu.h"
const char *bt_unavailable_reason(void) { return "the bt engine is not implemented yet"; }
struct bt *bt_new(struct cpu *cpu, bool trap_mode, char *err, size_t errlen)
{
    (void)cpu; (void)trap_mode;
    snprintf(err, errlen, "%s", bt_unavailable_reason());
    return NULL;
}
void bt_free(struct bt *bt) { (void)bt; }
int bt_run(struct bt *bt, uint64_t n) { (void)bt; (void)n; return EXIT_UNIMPL; }
void bt_ram_written(struct bt *bt, uint64_t pa, uint64_t len) { (void)bt; (void)pa; (void)len; }
void bt_print_stats(struct bt *bt, FILE *f) { (void)bt; (void)f; }

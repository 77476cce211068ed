/* cpu/interp.c - placeholder until the interpreter lands. */
#include "cpu/cpu.h"
#include <string.h>
void cpu_init(struct cpu *cpu, struct mem *mem, struct bus *bus)
{
    memset(cpu, 0, sizeof *cpu);
    cpu->mem = mem; cpu->bus = bus;
    cpu_reset(cpu);
}
void cpu_reset(struct cpu *cpu) { cpu->eip = 0xFFF0; }
int interp_step(struct cpu *cpu) { (void)cpu; return EXIT_UNIMPL; }

/* cpu/cpu.h - architectural state of one IA-32 (P6-family) CPU.
 *
 * Owns: everything a program can observe: GPRs, EIP, EFLAGS (kept eagerly,
 * never lazy outside an instruction), segment registers with their hidden
 * descriptor caches, control/debug registers, descriptor-table registers,
 * MSRs, x87 state, pending events. No globals: two CPUs coexist (lockstep).
 * Guest exceptions are values (enum exc) returned up the stack; a handler
 * computes before it writes, so a faulting instruction leaves no partial state.
 */
#ifndef BT86_CPU_H
#define BT86_CPU_H
#include <stdint.h>
#include <stdbool.h>
#include "cpu/decode.h"

struct mem;
struct bus;

#define TLB_SIZE 256
#define TLB_INVALID 1u
struct icache_entry;
struct iblock;

enum gpr { R_EAX, R_ECX, R_EDX, R_EBX, R_ESP, R_EBP, R_ESI, R_EDI };

/* Exception vectors (SDM vol. 3 sec. 6.3.1). */
enum exc_vec {
    EXC_DE = 0, EXC_DB = 1, EXC_NMI = 2, EXC_BP = 3, EXC_OF = 4, EXC_BR = 5,
    EXC_UD = 6, EXC_NM = 7, EXC_DF = 8, EXC_TS = 10, EXC_NP = 11, EXC_SS = 12,
    EXC_GP = 13, EXC_PF = 14, EXC_MF = 16, EXC_AC = 17, EXC_MC = 18,
};

/* Result of executing one instruction or one step. EXC_NONE: retired. */
#define EXC_NONE (-1)
/* Non-exception exits from an instruction (>= 256). */
enum {
    EXIT_HLT = 256,      /* HLT executed: wait for an interrupt            */
    EXIT_RESET,          /* triple fault or reset line                     */
    EXIT_UNIMPL,         /* instruction not implemented by this engine     */
    EXIT_CHECK_FAILED,   /* --check: bt and the interpreter diverged       */
};

/* A segment register with its descriptor cache (SDM vol. 3 sec. 3.4.3). */
struct seg {
    uint16_t sel;      /* visible selector                                  */
    uint32_t base;     /* cached base                                       */
    uint32_t limit;    /* cached limit in bytes (granularity applied)       */
    uint16_t ar;       /* access rights: descriptor bits 40-47 in 7:0
                          (type, S, DPL, P) and 52-55 in 11:8 (AVL,L,D/B,G) */
};
#define AR_P     0x0080
#define AR_S     0x0010
#define AR_DB    0x0400
#define AR_G     0x0800
#define AR_DPL(ar) (((ar) >> 5) & 3)

struct dtr { uint32_t base; uint16_t limit; };

struct cpu {
    uint32_t r[8];             /* EAX ECX EDX EBX ESP EBP ESI EDI            */
    uint32_t eip;              /* offset in CS                               */
    uint32_t eflags;           /* always architecturally exact               */
    struct seg seg[6];         /* ES CS SS DS FS GS (SEG_* order)            */
    struct seg ldtr, tr;       /* LDTR and TR with caches                    */
    struct dtr gdtr, idtr;
    uint32_t cr[5];            /* CR0 CR1(unused) CR2 CR3 CR4                */
    uint32_t dr[8];            /* DR0-DR7 (DR4/5 alias 6/7 with CR4.DE=0)     */
    int cpl;                   /* current privilege level                    */
    uint64_t tsc;              /* time-stamp counter when counting insns     */
    /* TSC source: NULL = one tick per retired instruction (deterministic:
     * tests, lockstep); else tsc_clock(tsc_opaque) + tsc_offset (a machine
     * ties it to virtual time so guests' TSC calibration and timing hold
     * whatever the engine's speed) */
    uint64_t (*tsc_clock)(void *opaque);
    void *tsc_opaque;
    uint64_t tsc_offset;
    uint64_t msr_sysenter_cs, msr_sysenter_esp, msr_sysenter_eip;
    uint64_t msr_apic_base;
    uint64_t msr_perfctr[2], msr_evntsel[2];   /* P6 PMU: kept, not counting */
    uint64_t mtrr_cap_def[2], mtrr_fixed[11], mtrr_var[16];
    uint32_t cpuid_feat_edx;   /* CPUID.1:EDX: what the model implements     */
    uint32_t cpuid_signature;  /* CPUID.1:EAX family/model/stepping          */

    /* exception being raised by the current instruction */
    uint32_t exc_err;          /* error code, valid when exc_has_err         */
    bool     exc_has_err;
    uint32_t insn_eip;         /* EIP of the instruction being executed      */
    uint32_t next_eip;         /* EIP after it (handlers set EIP from this)  */
    int      exc_depth;        /* nesting while delivering (double fault)    */
    bool     exit_on_halt;     /* tests: HLT returns EXIT_HLT immediately    */

    /* event state */
    uint8_t  intr_shadow;      /* 1 after STI/MOV SS/POP SS: no intr next    */
    bool     halted;
    bool     a20_enabled;      /* mirror of the board's A20 gate             */
    uint64_t icount;           /* instructions retired                       */

    /* x87 (SDM vol. 1 ch. 8); registers kept as 80-bit images */
    struct {
        uint16_t cw, sw, tw;   /* control, status, tag (full 2-bit tags)     */
        uint16_t fop;
        uint32_t fip, fdp;
        uint16_t fcs, fds;
        uint8_t  st[8][10];    /* physical registers R0..R7 (80-bit)         */
    } fpu;

    /* software TLB: linear page -> host pointer (host = lin + addend),
     * [user][write][slot]; tag is the page address, TLB_INVALID when empty.
     * Flushed on CR0/CR3/CR4 writes, INVLPG, A20 changes, task switches. */
    struct {
        uint32_t tag[2][2][TLB_SIZE];
        uintptr_t addend[2][2][TLB_SIZE];
        uint8_t global[2][2][TLB_SIZE];   /* from a G=1 leaf with CR4.PGE  */
    } tlb;
    bool last_walk_global;     /* the last page walk ended in a global leaf   */
    bool last_walk_large;      /* ... in a 4 MiB (2 MiB with PAE) leaf        */
    bool tlb_large;            /* large pages were walked since the last full
                                  flush, all within the region below         */
    uint32_t tlb_large_base, tlb_large_mask;
    bool last_walk_dirty;      /* ... in a leaf with D set (after the walk)   */
    bool last_walk_writable;   /* ... that allows writes at that privilege    */
    bool last_walk_accessed;   /* ... with A set at every level               */
    /* Called after every architectural TLB flush (kind: CPU_FLUSH_ALL,
     * _NONGLOBAL or _PAGE with `lin`), so an engine that caches
     * translations elsewhere (the translator's shadow page tables) follows
     * the same rules. NULL: none. */
    void (*tlb_flush_hook)(void *opaque, int kind, uint32_t lin);
    void *tlb_hook_opaque;
    /* Called before every guest store the interpreter makes (physical
     * address and size) while set; stores then bypass the write TLB. Used
     * by the translator's --check mode to undo the interpreter's run. */
    void (*write_watch)(void *opaque, uint64_t pa, unsigned size);
    void *write_watch_opaque;
    /* decoded-instruction and block caches, validated by the code bytes */
    struct icache_entry *icache;
    struct iblock *bcache;
    uint32_t exec_page;        /* linear page of the running block (or 1)    */
    bool smc;                  /* a store hit exec_page: leave the block     */

    /* the binary translator's run-time area, addressed by translated code
     * (which keeps a pointer to this struct cpu in a host register) */
    struct {
        uint64_t host_rsp;     /* host stack pointer inside bt's entry stub  */
        uint64_t exit_site;    /* patchable jump of the exit taken, 0: none  */
        uint64_t poll;         /* address polled at every block entry        */
        int32_t  exit_code;    /* why translated code returned (translator/) */
        /* MOV Sreg in ring 0 reloading what a data segment register holds
         * (Linux's entry code, every system call): per register, 0 minus
         * the selector (0 - 0x10000: none), the linear address of its GDT
         * entry and 0 minus the entry's 8 bytes; translated code skips the
         * reload when both match (kept by translator/bt.c) */
        uint32_t sreg_nsel[6], sreg_desc_lin[6];
        uint64_t sreg_ndesc[6];
        uint8_t  intr_waiting; /* an interrupt is pending, IF aside: STI and
                                  POPF leave translated code only then
                                  (kept by translator/bt.c)                 */
        uint64_t jc_gen;       /* jump-cache generation * JC_GEN_ONE (translator/)  */
        uint64_t window;       /* host base of the current shadow window     */
        uint64_t fpu_hook;     /* called before each translated x87 insn:
                                  loads the guest x87 state into the host's */
        uint32_t fpu_fip, fpu_fop;   /* guest FIP and FOP (adjacent: one   */
        uint32_t fpu_fdp;            /* store), FDP of the last translated x87 insn */
        uint8_t  fpu_img[108] __attribute__((aligned(16)));   /* FNSAVE image */
    } btrt;

    /* interrupt controller hooks (the board wires them; NULL: none) */
    bool (*intr_pending)(void *opaque);  /* INTR line asserted?           */
    int  (*intr_ack)(void *opaque);      /* INTA: returns the vector      */
    void *intr_opaque;

    /* the machine around it */
    struct mem *mem;           /* guest physical memory                      */
    struct bus *bus;           /* I/O ports                                  */
    void *machine;             /* opaque back-pointer for callouts           */
};

void cpu_init(struct cpu *cpu, struct mem *mem, struct bus *bus);
void cpu_reset(struct cpu *cpu);        /* P6 power-on/reset state */
void cpu_free(struct cpu *cpu);         /* release what cpu_init allocated */
void cpu_tlb_flush(struct cpu *cpu);    /* drop every cached translation */
void cpu_tlb_flush_page(struct cpu *cpu, uint32_t lin);
/* MOV CR3 with CR4.PGE: drop all but global translations (SDM vol. 3 sec. 4.10.4.1) */
void cpu_tlb_flush_nonglobal(struct cpu *cpu);
enum { CPU_FLUSH_ALL, CPU_FLUSH_NONGLOBAL, CPU_FLUSH_PAGE };
/* Drop cached write translations only (not an architectural event: a page
 * became translated code and writes to it must take the watched path). */
void cpu_tlb_drop_writes(struct cpu *cpu);
/* Execute the already-decoded instruction `in` at CS:EIP (an engine's
 * fallback for what it does not translate): feature check, the handler,
 * exception delivery and counting, as interp_step() does after decoding. */
int interp_exec_decoded(struct cpu *cpu, const struct insn *in);

/* Execute one instruction (interpreter). Returns EXC_NONE when it retired,
 * an exception vector (already delivered to the guest unless the caller
 * asked otherwise), or EXIT_*. */
int interp_step(struct cpu *cpu);
/* Run up to n instructions; stops early on EXIT_* (returned). */
int interp_run(struct cpu *cpu, uint64_t n);
/* Deliver interrupt/exception `vec` to the guest as hardware would
 * (real mode: IVT; protected mode: IDT). `is_sw`: INT n / INT3 / INTO. */
int cpu_deliver(struct cpu *cpu, int vec, bool has_err, uint32_t err, bool is_sw, uint32_t return_eip);
static inline uint64_t cpu_tsc_read(const struct cpu *c)
{
    return c->tsc_clock ? c->tsc_clock(c->tsc_opaque) + c->tsc_offset : c->tsc;
}
/* EFLAGS bits a P6 keeps fixed: bit 1 set; 3, 5, 15 and 22-31 clear. */
#define EFLAGS_FIXED1 0x00000002u
#define EFLAGS_MASK   0x003F7FD5u   /* writable/defined bits on a P6 */

#endif
